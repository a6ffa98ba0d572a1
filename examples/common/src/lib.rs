//! What the four example apps share, so that each framework's app is only framework glue:
//! reading the contract's environment variables, starting the embedded development provider,
//! rendering the home page, and the smoke test that drives an app over real loopback HTTP.

#![forbid(unsafe_code)]

#[cfg(feature = "smoke")]
pub mod browser;
#[cfg(feature = "smoke")]
pub mod smoke;

/// The workspace README, whose snippets compile here as doc tests so they keep up with the
/// crates they show.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
mod readme {}

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

pub use authentiq_core::SessionStoreSetting;
use authentiq_core::{
    Authentiq, Claims, ClientKeys, ConfigBuilder, ConfigError, Identity, RememberedDevice,
};
use authentiq_dev::ClientRegistration;
pub use authentiq_dev::DevProvider;

/// Why the example could not start. The message names the variable at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// A variable is malformed.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The SDK refused the configuration or could not reach the provider.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The embedded provider or the listener could not start.
    #[error("{0}")]
    Io(String),
}

/// The example's settings (see the contract's table of environment variables).
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// `AUTHENTIQ_ISSUER`; `None` starts the embedded development provider.
    pub issuer: Option<String>,
    /// `APP_ADDR`, default `127.0.0.1:8000`.
    pub addr: Option<SocketAddr>,
    /// `APP_PUBLIC_URL`, default `http://<APP_ADDR>`.
    pub public_url: Option<String>,
    /// A session store that overrides `APP_SESSION_STORE` (which the SDK reads itself).
    pub store: Option<SessionStoreSetting>,
    /// `APP_LOAD_TWIN=1`: serve `GET /load/me`, the `/me` handler without its guard (see
    /// [`unguarded_me`]). Off by default; `cargo xtask load` turns it on.
    pub load_twin: bool,
}

impl Settings {
    /// Reads the environment.
    pub fn from_env() -> Result<Self, StartError> {
        let var = |n: &str| std::env::var(n).ok().filter(|v| !v.trim().is_empty());
        let addr = match var("APP_ADDR") {
            Some(a) => Some(a.parse().map_err(|e| StartError::Invalid {
                name: "APP_ADDR",
                reason: format!("`{a}` is not a socket address ({e})"),
            })?),
            None => None,
        };
        Ok(Self {
            issuer: var("AUTHENTIQ_ISSUER"),
            addr,
            public_url: var("APP_PUBLIC_URL"),
            store: None,
            load_twin: var("APP_LOAD_TWIN").is_some_and(|v| v == "1"),
        })
    }

    /// The address to listen on.
    pub fn listen_addr(&self) -> SocketAddr {
        self.addr
            .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8000)))
    }
}

/// A configured example: the SDK, plus the embedded provider when one was started.
pub struct Example {
    /// The SDK.
    pub auth: Authentiq,
    /// The app's public URL.
    pub public_url: String,
    /// The embedded provider, if it was started (kept alive with the app).
    pub provider: Option<DevProvider>,
}

/// A started example app, as every example's `spawn()` returns it: where it listens, its
/// public URL, the embedded provider if one was started, and the server running in the
/// background.
pub struct Running {
    /// The address the server listens on (the real port when the settings asked for port 0).
    pub addr: SocketAddr,
    /// The app's public URL.
    pub public_url: String,
    /// The embedded provider, kept alive while this value lives.
    pub provider: Option<DevProvider>,
    server: tokio::task::JoinHandle<Result<(), StartError>>,
}

impl Running {
    /// Runs `server`, the app configured as `example` and listening on `addr`, as a task of the
    /// current tokio runtime.
    pub fn start(
        example: Example,
        addr: SocketAddr,
        server: impl Future<Output = Result<(), StartError>> + Send + 'static,
    ) -> Self {
        Self {
            addr,
            public_url: example.public_url,
            provider: example.provider,
            server: tokio::spawn(server),
        }
    }

    /// Waits until the server stops, which it does only on a shutdown signal or a failure.
    pub async fn wait(self) -> Result<(), StartError> {
        match self.server.await {
            Ok(result) => result,
            Err(e) => Err(StartError::Io(e.to_string())),
        }
    }
}

/// The examples' `main`: logging, settings from the environment, `run`, and the exit code.
/// Anything that stops the start prints one `error: ...` line naming what is wrong.
pub async fn main<F, Fut>(run: F) -> std::process::ExitCode
where
    F: FnOnce(Settings) -> Fut,
    Fut: std::future::Future<Output = Result<(), StartError>>,
{
    init_tracing();
    let result = match Settings::from_env() {
        Ok(settings) => run(settings).await,
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

/// Sets up logging from `RUST_LOG` (default `info`).
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).try_init();
}

/// Configures the SDK for an app listening on `bound` (the listener's real address, so port 0
/// works). Starts and registers with the embedded provider unless `AUTHENTIQ_ISSUER` is set.
pub async fn prepare(settings: &Settings, bound: SocketAddr) -> Result<Example, StartError> {
    let public_url = settings
        .public_url
        .clone()
        .unwrap_or_else(|| format!("http://{bound}"));
    let public_url = public_url.trim_end_matches('/').to_owned();
    let (builder, provider) = match &settings.issuer {
        Some(_) => (ConfigBuilder::from_env()?, None),
        None => {
            let provider = DevProvider::start().map_err(|e| {
                StartError::Io(format!("the development provider did not start: {e}"))
            })?;
            let keys = client_keys()?;
            let client = provider.register_client(ClientRegistration {
                client_id: Some("authentiq-example".into()),
                redirect_uris: vec![format!("{public_url}/auth/callback")],
                post_logout_redirect_uris: vec![format!("{public_url}/")],
                backchannel_logout_uri: Some(format!("{public_url}/auth/backchannel-logout")),
                // The provider encrypts every ID Token to the app's own public key.
                jwks: Some(keys.public_jwks()),
                id_token_encrypted_response_alg: Some("ECDH-ES".into()),
                id_token_encrypted_response_enc: Some("A256GCM".into()),
                ..Default::default()
            });
            tracing::info!(issuer = %provider.issuer(), "started the embedded development provider");
            // The example's client is registered with the embedded provider; the other
            // contract variables are read by the SDK's own reader, and the registered secret
            // wins over any in the environment.
            let b = Authentiq::builder(provider.issuer(), client.client_id)
                .with_env()?
                .client_secret(client.client_secret)
                .client_key_set(keys);
            (b, Some(provider))
        }
    };
    // The listener's real address wins (port 0 works).
    let mut builder = builder.public_url(&public_url);
    if let Some(store) = &settings.store {
        builder = builder.session_store_setting(store.clone());
    }
    let auth = builder.build().await?;
    END_TO_END.store(auth.config().encryption_required(), Ordering::Relaxed);
    if settings.load_twin {
        let _ = LOAD_TWIN.set(load_twin_claims(&auth));
    }
    Ok(Example {
        auth,
        public_url,
        provider,
    })
}

/// Whether the app requires end-to-end encrypted ID Tokens (so every session began with one):
/// set by [`prepare`], read by [`home_page`].
static END_TO_END: AtomicBool = AtomicBool::new(false);

/// The identity `GET /load/me` answers with, when [`Settings::load_twin`] is on.
static LOAD_TWIN: OnceLock<Claims> = OnceLock::new();

/// A fixed identity with the claims `/me` shows for the load driver's signed-in person (the
/// same names, values of the same lengths): what the unguarded twin of `/me` serializes, so
/// that its answer costs what `/me`'s does.
fn load_twin_claims(auth: &Authentiq) -> Claims {
    serde_json::from_value(serde_json::json!({
        "iss": auth.config().issuer,
        "sub": "load-tester",
        "sid": "load-twin-session-000000",
        "scope": "openid aq:name email aq:push",
        "name": "Load Tester",
        "given_name": "Alice",
        "family_name": "Example",
        "email": "load@example.com",
        "email_verified": true,
    }))
    .unwrap_or_default()
}

/// The body of `GET /load/me`: the `/me` handler's work (the claims as the contract's JSON)
/// for a fixed identity, with no guard in front. `cargo xtask load` compares a guarded route
/// with it, so the ratio is what the guard costs and nothing else. `None` (answer 404) unless
/// the app started with `APP_LOAD_TWIN=1`.
pub fn unguarded_me() -> Option<serde_json::Value> {
    LOAD_TWIN
        .get()
        .map(|claims| serde_json::to_value(claims).unwrap_or_default())
}

/// The client keys for the embedded provider: `AUTHENTIQ_CLIENT_KEYS` (JWKS text or
/// `@<path>`), or a new set made for this run.
fn client_keys() -> Result<ClientKeys, StartError> {
    let invalid = |reason: String| StartError::Invalid {
        name: "AUTHENTIQ_CLIENT_KEYS",
        reason,
    };
    match std::env::var("AUTHENTIQ_CLIENT_KEYS")
        .ok()
        .filter(|v| !v.trim().is_empty())
    {
        Some(value) => {
            let text = match value.trim().strip_prefix('@') {
                Some(path) => std::fs::read_to_string(path)
                    .map_err(|e| invalid(format!("cannot read `{path}`: {e}")))?,
                None => value,
            };
            ClientKeys::from_jwks(&text).map_err(invalid)
        }
        None => {
            tracing::info!(
                "no AUTHENTIQ_CLIENT_KEYS: made a client key set for this run (`cargo run -p authentiq-dev -- keygen` makes one to keep)"
            );
            ClientKeys::generate().map_err(invalid)
        }
    }
}

/// The one line printed once the app accepts connections.
pub fn announce(framework: &str, public_url: &str) {
    println!("authentiq example ({framework}) listening on {public_url}/");
}

/// The claims as the contract's JSON: at least `sub` and `iss`, plus granted identity claims.
pub fn claims_json(identity: &Identity<Claims>) -> serde_json::Value {
    serde_json::to_value(&identity.claims).unwrap_or_default()
}

/// The home page: who is signed in with a sign-out button; for a remembered browser, a
/// one-click "Continue as" link and a "Not you?" form; or a sign-in link.
pub fn home_page(
    framework: &str,
    user: Option<&Identity<Claims>>,
    device: Option<&RememberedDevice>,
) -> String {
    let body = match (user, device) {
        (Some(id), _) => {
            let c = &id.claims;
            let email = c
                .verified_email()
                .map(|e| format!("<p>Verified email: <strong>{}</strong></p>", html_escape(e)))
                .unwrap_or_default();
            format!(
                "<p>Signed in as <strong>{}</strong>.</p>{email}\
                 {}<p><a href=\"/me\">Your claims as JSON</a></p>\
                 <form method=\"post\" action=\"/auth/logout\"><button>Sign out</button></form>",
                html_escape(&c.display_name()),
                if END_TO_END.load(Ordering::Relaxed) {
                    "<p class=\"e2e\">This sign-in was end-to-end encrypted: your ID Token \
                     reached this app as a JWE encrypted to the app's own key, and was \
                     decrypted here.</p>"
                } else {
                    ""
                }
            )
        }
        (None, Some(d)) => format!(
            "<p>Welcome back.</p>\
             <p><a class=\"button\" href=\"/auth/login?remembered=1&amp;return_to=%2F\">Continue as <strong>{}</strong></a></p>\
             <p>One click: approve the push notification on your phone.</p>\
             <form method=\"post\" action=\"/auth/forget\"><button class=\"link\">Not you?</button></form>\
             <p><a href=\"/authentiqjs\">The AuthentiqJS page</a></p>",
            html_escape(d.name.as_deref().unwrap_or("your last account"))
        ),
        (None, None) => "<p>You are not signed in.</p><p><a class=\"button\" href=\"/auth/login?return_to=/\">Sign in with Authentiq</a></p>\
             <p>Or sign in without leaving the page: <a href=\"/authentiqjs\">the AuthentiqJS page</a>.</p>".to_owned(),
    };
    page(framework, &body)
}

/// The AuthentiqJS page (`GET /authentiqjs`): a sign-in button that signs in without leaving
/// the page. The script comes from the development provider (`<issuer>/authentiq.js`); it
/// fetches a sign-in from the app's start route, opens it in a popup, and forwards the
/// response to the app's callback, which validates it and answers with the claims. With
/// Authentiq Connect, Authentiq's own AuthentiqJS snippet takes the script's place.
pub fn authentiqjs_page(framework: &str, auth: &Authentiq) -> String {
    let cfg = auth.config();
    let script = format!("{}/authentiq.js", cfg.issuer.trim_end_matches('/'));
    let body = format!(
        "<h2>Sign in without leaving this page</h2>\
         <p>The button opens the sign-in in a popup. The provider's response comes back to this \
         page, which forwards it to <code>{callback}</code>; the app validates it and answers \
         with your claims.</p>\
         <p><button class=\"authentiq-button\">Sign in with Authentiq</button></p>\
         <p id=\"result\" role=\"status\">Not signed in from this page yet.</p>\
         <p><a href=\"/\">Home</a></p>\
         <script src=\"{script}\" data-start=\"{start}\" data-callback=\"{callback}\"></script>\
         <script>(function(){{var result=document.getElementById('result');\
         function say(text){{result.textContent=text;}}\
         document.addEventListener('authentiq:profile',function(e){{\
         say('Signed in as '+(e.detail.name||e.detail.sub)+'.');}});\
         document.addEventListener('authentiq:error',function(e){{\
         say('Sign-in failed: '+(e.detail.error_description||e.detail.error)+'.');}});\
         document.addEventListener('authentiq:concluded',function(){{\
         say('Signed out at the provider.');}});}})();</script>",
        script = html_escape(&script),
        start = html_escape(&cfg.routes.start),
        callback = html_escape(&cfg.routes.callback),
    );
    page(framework, &body)
}

/// The examples' page frame around `body`.
fn page(framework: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>authentiq-rs example</title>\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}\
         .button,button{{background:#0b6efd;color:#fff;border:0;border-radius:.4rem;padding:.6rem 1rem;text-decoration:none;font-size:1rem;cursor:pointer}}</style>\
         </head><body><h1>authentiq-rs example</h1><p class=\"framework\">Served by {}.</p>{body}</body></html>",
        html_escape(framework)
    )
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}
