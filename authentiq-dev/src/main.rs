//! `cargo run -p authentiq-dev`: a development OpenID Provider on loopback until Ctrl-C.
//! `cargo run -p authentiq-dev -- keygen [--rsa]`: a new client key set for end-to-end
//! encrypted ID Tokens (the private JWKS to keep, the public one to register).

use std::net::SocketAddr;
use std::process::ExitCode;

use authentiq_dev::{ClientRegistration, DevProvider};
use tracing_subscriber::EnvFilter;

const DEFAULT_ADDR: &str = "127.0.0.1:8800";

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.is_empty())
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("authentiq-dev: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("keygen") => {
            let rsa = args.iter().any(|a| a == "--rsa");
            let (private, public) = authentiq_dev::generate_client_keys(rsa);
            println!("# Keep secret: the app's AUTHENTIQ_CLIENT_KEYS");
            println!("{private}");
            println!("# Register with the provider (the app also serves it at /auth/jwks)");
            println!("{public}");
            return Ok(());
        }
        Some(other) if other != "serve" => {
            return Err(format!(
                "unknown command `{other}`; use `keygen [--rsa]` or no command to serve"
            )
            .into());
        }
        _ => {}
    }
    let addr_text = env("AUTHENTIQ_DEV_ADDR").unwrap_or_else(|| DEFAULT_ADDR.into());
    let addr: SocketAddr = addr_text
        .parse()
        .map_err(|e| format!("AUTHENTIQ_DEV_ADDR={addr_text:?} is not an address: {e}"))?;
    let provider = DevProvider::start_on(addr)?;

    if let Some(client_id) = env("AUTHENTIQ_DEV_CLIENT_ID") {
        let client = provider.register_client(ClientRegistration {
            client_id: Some(client_id),
            client_secret: env("AUTHENTIQ_DEV_CLIENT_SECRET"),
            redirect_uris: env("AUTHENTIQ_DEV_REDIRECT_URI").into_iter().collect(),
            // A client that publishes its keys gets encrypted ID Tokens.
            jwks_uri: env("AUTHENTIQ_DEV_CLIENT_JWKS_URI"),
            id_token_encrypted_response_alg: env("AUTHENTIQ_DEV_CLIENT_JWKS_URI")
                .map(|_| env("AUTHENTIQ_DEV_ID_TOKEN_ALG").unwrap_or_else(|| "ECDH-ES".into())),
            id_token_encrypted_response_enc: Some(
                env("AUTHENTIQ_DEV_ID_TOKEN_ENC").unwrap_or_else(|| "A256GCM".into()),
            ),
            ..ClientRegistration::default()
        });
        println!("client_id:     {}", client.client_id);
        println!("client_secret: {}", client.client_secret);
    }
    println!("issuer: {}", provider.issuer());

    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(tokio::signal::ctrl_c())?;
    provider.shutdown();
    Ok(())
}
