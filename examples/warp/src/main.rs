//! `cargo run -p authentiq-example-warp`

#[tokio::main]
async fn main() -> std::process::ExitCode {
    authentiq_example_common::main(authentiq_example_warp::run).await
}
