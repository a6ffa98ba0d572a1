//! `cargo run -p authentiq-example-rocket`

#[tokio::main]
async fn main() -> std::process::ExitCode {
    authentiq_example_common::main(authentiq_example_rocket::run).await
}
