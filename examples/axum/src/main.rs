//! `cargo run -p authentiq-example-axum`

#[tokio::main]
async fn main() -> std::process::ExitCode {
    authentiq_example_common::main(authentiq_example_axum::run).await
}
