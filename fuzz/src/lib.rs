//! What every fuzz target shares: one development provider on loopback, the apps that trust it
//! (sessions in the cookie and in memory), a runtime to drive them, tokens they really
//! issued, and a request head built from plain parts.

#![forbid(unsafe_code)]

use std::collections::HashSet;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use authentiq_core::adapter::RequestHead;
use authentiq_core::{Authentiq, MemoryStore};
use authentiq_dev::{Alg, ClientRegistration, DevProvider, SigningKey};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

/// The app's public URL; its callback is registered at the provider.
pub const PUBLIC_URL: &str = "http://127.0.0.1:8000";

/// The shared state of a fuzz process, made once on first use.
pub struct Harness {
    /// Drives the apps' async calls (the provider serves on its own thread).
    pub runtime: tokio::runtime::Runtime,
    /// The development provider every app trusts.
    pub provider: DevProvider,
    /// The registered client's id.
    pub client_id: String,
    /// The registered client's secret (the HS256 key of its ID Tokens).
    pub client_secret: String,
    /// Sessions sealed in the cookie (the default store).
    pub cookie_app: Authentiq,
    /// Sessions held in memory, the cookie carrying only an id.
    pub memory_app: Authentiq,
    /// ID Tokens the provider really issued, one per algorithm, all valid for the run.
    pub minted: Vec<String>,
    /// Keys the harness signs with, as the provider would: ES256 and EdDSA from the JWKS.
    pub keys: Vec<SigningKey>,
    /// The signing inputs (`header.payload`) that carry a genuine signature: the minted
    /// tokens' and every one the targets signed themselves.
    signed: Mutex<HashSet<String>>,
}

impl Harness {
    /// The harness, started on first call.
    pub fn get() -> &'static Harness {
        static HARNESS: OnceLock<Harness> = OnceLock::new();
        HARNESS.get_or_init(Harness::start)
    }

    fn start() -> Harness {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let provider = DevProvider::start().expect("the development provider starts");
        let client = provider.register_client(ClientRegistration {
            redirect_uris: vec![format!("{PUBLIC_URL}/auth/callback")],
            ..Default::default()
        });
        // A key of this process only: a cookie sealed by an earlier run (and kept in the
        // corpus) never opens here, so whatever opens was sealed in this process.
        let mut key = vec![0u8; 64];
        aws_lc_rs::rand::fill(&mut key).expect("random bytes for the session key");
        // Client keys, with encryption optional: a five-part token reaches the JWE parser and
        // decryption (no input can be encrypted to these fresh keys), a plain one the JWS rules.
        let client_keys = authentiq_core::ClientKeys::generate().expect("a client key set");
        let build = |memory: bool| {
            let mut b = Authentiq::builder(provider.issuer(), &client.client_id)
                .client_secret(&client.client_secret)
                .public_url(PUBLIC_URL)
                .session_key(key.clone())
                .client_key_set(client_keys.clone())
                .id_token_encryption(authentiq_core::IdTokenEncryption::Optional);
            if memory {
                b = b.session_store(Arc::new(MemoryStore::default()));
            }
            runtime.block_on(b.build()).expect("the app builds")
        };
        let cookie_app = build(false);
        let memory_app = build(true);
        let minted: Vec<String> = Alg::ALL
            .into_iter()
            .map(|alg| {
                provider.mint_id_token_with(
                    &client.client_id,
                    alg,
                    "fuzz-user",
                    json!({"nonce": "fuzz-nonce", "email": "fuzz@example.com"}),
                )
            })
            .collect();
        let keys = [Alg::ES256, Alg::EdDSA]
            .into_iter()
            .filter_map(|a| provider.signing_key(a))
            .collect();
        let signed = minted.iter().map(|t| signing_input(t).to_owned()).collect();
        Harness {
            runtime,
            provider,
            client_id: client.client_id,
            client_secret: client.client_secret,
            cookie_app,
            memory_app,
            minted,
            keys,
            signed: Mutex::new(signed),
        }
    }

    /// Runs `f` to completion on the harness runtime.
    pub fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }

    /// Signs `input` (`header.payload`) with key `which`: 0 is HS256 with the client secret,
    /// then the provider's ES256 and EdDSA keys. Remembers it as genuinely signed.
    pub fn sign(&self, input: &str, which: u8) -> String {
        let which = usize::from(which) % (self.keys.len() + 1);
        let token = if which == 0 {
            let key = hmac::Key::new(hmac::HMAC_SHA256, self.client_secret.as_bytes());
            let tag = hmac::sign(&key, input.as_bytes());
            format!("{input}.{}", URL_SAFE_NO_PAD.encode(tag.as_ref()))
        } else {
            self.keys[which - 1].sign_raw(input)
        };
        self.signed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(input.to_owned());
        token
    }

    /// Whether `input` was signed by the provider or by [`Harness::sign`].
    pub fn was_signed(&self, input: &str) -> bool {
        self.signed
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(input)
    }
}

/// The `header.payload` part of a compact JWS (everything before the last dot).
pub fn signing_input(token: &str) -> &str {
    token.rsplit_once('.').map_or(token, |(input, _)| input)
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A request as plain parts: any method, path, query and headers, including ones `http`
/// would refuse to build (the core sees whatever an adapter hands it).
#[derive(Clone, Debug, Default)]
pub struct Head {
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The query, without `?`.
    pub query: Option<String>,
    /// Headers as (lower-case name, value), in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// A request for `method` `path` with no query or headers.
    pub fn new(method: &str, path: &str) -> Self {
        Head {
            method: method.to_owned(),
            path: path.to_owned(),
            ..Default::default()
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
}

impl RequestHead for Head {
    fn method(&self) -> &str {
        &self.method
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The `name=value` part of a `Set-Cookie` header value.
pub fn cookie_pair(set_cookie: &str) -> (&str, &str) {
    let pair = set_cookie.split(';').next().unwrap_or("");
    pair.split_once('=').unwrap_or((pair, ""))
}

/// Whether a `Set-Cookie` header value removes its cookie.
pub fn is_removal(set_cookie: &str) -> bool {
    set_cookie.contains("Max-Age=0")
}
