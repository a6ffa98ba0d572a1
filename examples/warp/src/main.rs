//! `cargo run -p authentiq-example-warp`

use authentiq_example_common as common;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    common::init_tracing();
    let result = match common::Settings::from_env() {
        Ok(settings) => authentiq_example_warp::run(settings).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
