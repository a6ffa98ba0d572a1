//! `cargo run -p authentiq-example-actix`

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    authentiq_example_common::main(authentiq_example_actix::run).await
}
