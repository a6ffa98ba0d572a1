#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::net::{SocketAddr, TcpListener};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

pub mod jwe;
mod keygen;
pub mod keys;
mod pages;
mod provider;
pub mod redis;
mod server;

pub use keygen::client_keys as generate_client_keys;
pub use keys::{Alg, SigningKey};

use provider::{Decision, Params, Shared};

/// Errors from starting or driving the development provider.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// The provider only ever listens on loopback addresses.
    #[error("refusing to bind {0}: the development provider only binds loopback addresses")]
    NotLoopback(SocketAddr),
    /// The listening socket could not be bound.
    #[error("cannot bind {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The provider's runtime or thread could not be started.
    #[error("cannot start the provider runtime: {0}")]
    Runtime(std::io::Error),
    /// The URL given to `approve`/`deny` is not an authorization URL.
    #[error("not an authorization URL: {0}")]
    InvalidUrl(String),
    /// The authorization request would get a 400 error page (unknown client, unregistered
    /// redirect URI): there is nowhere to redirect to.
    #[error("authorization request rejected: {0}")]
    Rejected(String),
    /// No client with this id is registered.
    #[error("unknown client {0:?}")]
    UnknownClient(String),
    /// The client has no `backchannel_logout_uri`.
    #[error("client {0:?} has no backchannel_logout_uri")]
    NoBackchannelUri(String),
    /// A logout token needs at least one of `sub` and `sid`.
    #[error("a logout token needs a sub or a sid")]
    MissingSubject,
    /// Sending the Back-Channel Logout request failed.
    #[error("back-channel logout request failed: {0}")]
    Http(String),
    /// The provider has been shut down.
    #[error("the provider has been shut down")]
    Stopped,
    /// A test server (such as `redis-server`) could not be started.
    #[error("{0}")]
    TestServer(String),
}

/// How a client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret_basic` only.
    Basic,
    /// `client_secret_post` only.
    Post,
    /// Either method.
    #[default]
    Any,
}

/// A client to register with the provider. `Default` gives a confidential client with a
/// random id and secret and Authentiq's defaults; set at least `redirect_uris`.
#[derive(Clone, Debug)]
pub struct ClientRegistration {
    /// The client id; `None` generates a random one.
    pub client_id: Option<String>,
    /// The client secret; `None` generates a random 32-byte base64url secret.
    pub client_secret: Option<String>,
    /// Redirect URIs, matched exactly at `/authorize` and `/token`.
    pub redirect_uris: Vec<String>,
    /// Allowed `post_logout_redirect_uri` values, matched exactly.
    pub post_logout_redirect_uris: Vec<String>,
    /// ID Token signing algorithm; HS256 (keyed with the client secret) is Authentiq's default.
    pub id_token_alg: Alg,
    /// Allowed token endpoint authentication methods.
    pub token_endpoint_auth: ClientAuth,
    /// Where Back-Channel Logout tokens are POSTed.
    pub backchannel_logout_uri: Option<String>,
    /// ID Token lifetime (`exp - iat`).
    pub id_token_lifetime: Duration,
    /// Authorization code lifetime.
    pub code_lifetime: Duration,
    /// Refuse authorization requests without PKCE. PKCE is verified whenever it is sent.
    pub require_pkce: bool,
    /// The client's public keys as a JWKS (its registered `jwks`): what ID Tokens are
    /// encrypted to when [`id_token_encrypted_response_alg`](Self::id_token_encrypted_response_alg)
    /// is set.
    pub jwks: Option<Value>,
    /// Where the client publishes its public keys (its registered `jwks_uri`), fetched at each
    /// encryption when [`jwks`](Self::jwks) is not given.
    pub jwks_uri: Option<String>,
    /// `id_token_encrypted_response_alg`: with it, every ID Token (token endpoint and browser
    /// responses) is a JWE encrypted to the client's key, holding the signed ID Token.
    pub id_token_encrypted_response_alg: Option<String>,
    /// `id_token_encrypted_response_enc`; `A128CBC-HS256` when only the `alg` is set.
    pub id_token_encrypted_response_enc: Option<String>,
}

impl Default for ClientRegistration {
    fn default() -> Self {
        ClientRegistration {
            client_id: None,
            client_secret: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            id_token_alg: Alg::HS256,
            token_endpoint_auth: ClientAuth::Any,
            backchannel_logout_uri: None,
            id_token_lifetime: Duration::from_secs(600),
            code_lifetime: Duration::from_secs(60),
            require_pkce: false,
            jwks: None,
            jwks_uri: None,
            id_token_encrypted_response_alg: None,
            id_token_encrypted_response_enc: None,
        }
    }
}

/// The credentials of a registered client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegisteredClient {
    /// The client id.
    pub client_id: String,
    /// The client secret (also the HS256 key of its ID Tokens).
    pub client_secret: String,
}

/// Which of the requested scopes the user grants.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Grant {
    /// Everything requested.
    #[default]
    All,
    /// Only these scope names (without `~` flags); `openid` and required (`~r`) scopes are
    /// granted regardless, as the app cannot decline them.
    Only(Vec<String>),
}

impl Grant {
    fn allows(&self, scope: &str) -> bool {
        match self {
            Grant::All => true,
            Grant::Only(names) => names.iter().any(|n| n == scope),
        }
    }
}

/// What the simulated phone app shares when the user approves. `Default` is a plausible,
/// fully verified person who grants everything.
#[derive(Clone, Debug, PartialEq)]
pub struct Approval {
    /// Subject; `None` derives a stable 43-character base64url id from the email (Authentiq
    /// style).
    pub sub: Option<String>,
    /// Full name.
    pub name: String,
    /// Given name.
    pub given_name: Option<String>,
    /// Family name.
    pub family_name: Option<String>,
    /// Email address.
    pub email: String,
    /// Whether the email address is verified (signed by Authentiq's issuer).
    pub email_verified: bool,
    /// Phone number, E.164.
    pub phone_number: String,
    /// Whether the phone number is verified.
    pub phone_number_verified: bool,
    /// Phone type, e.g. `"mobile"`.
    pub phone_type: String,
    /// Locale, e.g. `"en_US"` (Authentiq sometimes uses an underscore).
    pub locale: Option<String>,
    /// The `aq:location` object.
    pub location: Option<Value>,
    /// Which requested scopes the user grants.
    pub grant: Grant,
    /// Time zone, released for `aq:zoneinfo` and `profile`.
    pub zoneinfo: Option<String>,
    /// OIDC address object, released for `address`.
    pub address: Option<Value>,
    /// User name, released for `aq:username` and `profile`.
    pub preferred_username: Option<String>,
    /// Simulates an app that does not honour `~r`: required scopes are granted only when
    /// [`Approval::grant`] allows them, so relying parties can test their required-scope check.
    pub ignore_required: bool,
    /// Simulates a provider that releases unverified values under signed (`~s`) scopes, which
    /// Authentiq never does, so relying parties can test their own verified-claim check. By
    /// default an email or phone number that is not verified is not shared under `email~s` or
    /// `phone~s`.
    pub release_unverified: bool,
}

impl Default for Approval {
    fn default() -> Self {
        Approval {
            sub: None,
            name: "Alice Example".into(),
            given_name: Some("Alice".into()),
            family_name: Some("Example".into()),
            email: "alice@example.com".into(),
            email_verified: true,
            phone_number: "+31612345678".into(),
            phone_number_verified: true,
            phone_type: "mobile".into(),
            locale: Some("en_US".into()),
            location: Some(serde_json::json!({
                "latitude": 52.3676, "longitude": 4.9041, "accuracy": 20.0,
                "address": {"locality": "Amsterdam", "country": "NL"},
            })),
            grant: Grant::All,
            zoneinfo: Some("Europe/Amsterdam".into()),
            address: Some(serde_json::json!({
                "street_address": "Herengracht 1", "locality": "Amsterdam",
                "postal_code": "1015 BA", "country": "NL",
            })),
            preferred_username: Some("alice".into()),
            ignore_required: false,
            release_unverified: false,
        }
    }
}

impl Approval {
    /// A copy with `sub` filled in.
    fn resolved(&self) -> Approval {
        let mut approval = self.clone();
        if approval.sub.is_none() {
            approval.sub = Some(provider::derive_sub(&self.email));
        }
        approval
    }
}

/// Handle to a running development provider. Cheap to clone.
///
/// The provider serves from its own OS thread with its own multi-threaded tokio runtime, so
/// it can be driven from any async runtime or from sync code. It stops when the last handle is
/// dropped, or on [`DevProvider::shutdown`]; [`DevProvider::resume`] serves again on the same
/// address with the same keys, clients and sessions.
#[derive(Clone)]
pub struct DevProvider {
    inner: Arc<Running>,
}

struct Running {
    shared: Arc<Shared>,
    addr: SocketAddr,
    server: Mutex<Option<Server>>,
}

/// One serving period: the listener's thread and runtime.
struct Server {
    runtime: tokio::runtime::Handle,
    stop: oneshot::Sender<()>,
    thread: JoinHandle<()>,
}

impl Running {
    fn stop(&self) {
        let server = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(server) = server {
            let _ = server.stop.send(());
            if server.thread.thread().id() != std::thread::current().id() {
                let _ = server.thread.join();
            }
        }
    }

    fn runtime(&self) -> Option<tokio::runtime::Handle> {
        self.server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map(|s| s.runtime.clone())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop();
    }
}

impl std::fmt::Debug for DevProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevProvider")
            .field("issuer", &self.inner.shared.issuer)
            .finish_non_exhaustive()
    }
}

fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), DevError> {
    let listener = TcpListener::bind(addr).map_err(|source| DevError::Bind { addr, source })?;
    let bound = listener
        .local_addr()
        .and_then(|a| listener.set_nonblocking(true).map(|()| a))
        .map_err(|source| DevError::Bind { addr, source })?;
    Ok((listener, bound))
}

/// Serves `shared` on `listener` from a new thread and runtime.
fn serve(shared: Arc<Shared>, listener: TcpListener) -> Result<Server, DevError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("authentiq-dev")
        .enable_all()
        .build()
        .map_err(DevError::Runtime)?;
    let handle = runtime.handle().clone();
    let (stop, stopped) = oneshot::channel();
    let app = server::router(shared);
    let thread = std::thread::Builder::new()
        .name("authentiq-dev".into())
        .spawn(move || {
            runtime.block_on(async move {
                let listener = match tokio::net::TcpListener::from_std(listener) {
                    Ok(listener) => listener,
                    Err(error) => {
                        tracing::error!(%error, "cannot use the listening socket");
                        return;
                    }
                };
                tokio::select! {
                    result = axum::serve(listener, app) => {
                        if let Err(error) = result {
                            tracing::error!(%error, "development provider failed");
                        }
                    }
                    _ = stopped => {}
                }
            });
            // Open connections die with the runtime.
            runtime.shutdown_background();
        })
        .map_err(DevError::Runtime)?;
    Ok(Server {
        runtime: handle,
        stop,
        thread,
    })
}

impl DevProvider {
    /// Starts a provider on `127.0.0.1` with a random free port. Returns once the socket
    /// accepts connections.
    pub fn start() -> Result<DevProvider, DevError> {
        DevProvider::start_on(SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// Starts a provider on the given loopback address.
    pub fn start_on(addr: SocketAddr) -> Result<DevProvider, DevError> {
        if !addr.ip().is_loopback() {
            return Err(DevError::NotLoopback(addr));
        }
        let (listener, bound) = bind(addr)?;
        let base = match bound {
            SocketAddr::V4(a) => format!("http://{a}"),
            SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
        };
        let shared = Arc::new(Shared::new(base));
        let server = serve(shared.clone(), listener)?;
        tracing::info!(issuer = %shared.issuer, "development provider started");
        Ok(DevProvider {
            inner: Arc::new(Running {
                shared,
                addr: bound,
                server: Mutex::new(Some(server)),
            }),
        })
    }

    /// Serves again after [`shutdown`](Self::shutdown), on the same address, with the same
    /// keys, clients, codes and sessions: a provider that went away and came back. Does
    /// nothing while the provider is serving. Fails with [`DevError::Bind`] if another process
    /// took the port in between.
    pub fn resume(&self) -> Result<(), DevError> {
        let mut server = self
            .inner
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if server.is_none() {
            let (listener, _) = bind(self.inner.addr)?;
            *server = Some(serve(self.inner.shared.clone(), listener)?);
            tracing::info!(issuer = %self.inner.shared.issuer, "development provider resumed");
        }
        Ok(())
    }

    fn shared(&self) -> &Shared {
        &self.inner.shared
    }

    /// The issuer, with the trailing slash: `http://127.0.0.1:PORT/`.
    pub fn issuer(&self) -> String {
        self.shared().issuer.clone()
    }

    /// The base URL without trailing slash: `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        self.shared().base.clone()
    }

    /// Registers (or re-registers, by id) a client.
    pub fn register_client(&self, reg: ClientRegistration) -> RegisteredClient {
        self.shared().register(reg)
    }

    /// Approves an authorization request in-process, as the simulated phone would.
    ///
    /// `authorize_url` is the full URL an RP sent the browser to. It gets exactly the
    /// validation of the HTTP `/authorize` endpoint; the result is the URL the browser would
    /// be sent to next: the RP's redirect URI with `code`, `state`, `session_state` (and
    /// `id_token` for hybrid/implicit) in the query, or in the fragment for
    /// `response_mode=fragment`. For `form_post` the parameters are in the query. A request
    /// the endpoint answers with an error redirect (e.g. `invalid_scope`) returns that
    /// redirect; one it answers with a 400 page returns [`DevError::Rejected`].
    ///
    /// The simulated browser is signed in to the provider session of the approving `sub`, if
    /// there is one: the `sid` stays the same across approvals until logout, and
    /// `prompt=none` succeeds only while such a session exists.
    pub fn approve(&self, authorize_url: &str, approval: &Approval) -> Result<String, DevError> {
        let approval = approval.resolved();
        let sid = approval
            .sub
            .as_deref()
            .and_then(|sub| self.shared().session_of(sub));
        self.decide(authorize_url, sid.as_deref(), |req| Decision::Approve {
            approval: &approval,
            fresh: !req.prompt_none,
        })
    }

    /// Like [`approve`](Self::approve), but the user declines: returns the redirect URL
    /// carrying `error=access_denied`.
    pub fn deny(&self, authorize_url: &str) -> Result<String, DevError> {
        self.decide(authorize_url, None, |_| Decision::Deny)
    }

    fn decide<'a>(
        &self,
        authorize_url: &str,
        sid: Option<&str>,
        decision: impl FnOnce(&provider::AuthRequest) -> Decision<'a>,
    ) -> Result<String, DevError> {
        let url = url::Url::parse(authorize_url)
            .map_err(|e| DevError::InvalidUrl(format!("{authorize_url}: {e}")))?;
        if url.path() != "/authorize" {
            return Err(DevError::InvalidUrl(format!(
                "{authorize_url}: the path is not /authorize"
            )));
        }
        let params = Params::parse(url.query().unwrap_or(""));
        match self.shared().validate(&params, sid) {
            Err(provider::AuthorizeError::Page(message)) => Err(DevError::Rejected(message)),
            Err(provider::AuthorizeError::Redirect(redirect)) => Ok(redirect.url()),
            Ok(req) => Ok(self
                .shared()
                .complete(&req, decision(&req), sid)
                .redirect
                .url()),
        }
    }

    /// Rotates keys: new RSA, P-256 and Ed25519 keys with new `kid`s become the signing
    /// keys. The JWKS lists the new keys, and the previous ones too if `keep_old`.
    pub fn rotate_keys(&self, keep_old: bool) {
        self.shared().rotate_keys(keep_old);
    }

    /// The current signing key for an asymmetric algorithm; `None` for HS256 (whose key is
    /// each client's secret).
    pub fn signing_key(&self, alg: Alg) -> Option<SigningKey> {
        self.shared().signing_key(alg)
    }

    /// Mints an ID Token for a registered client, signed as its ID Tokens are (HS256 with the
    /// client secret by default). `iss`, `sub`, `aud`, `azp`, `iat` and `exp` are filled in;
    /// `extra` (an object) is merged over them, and a `null` value removes a claim.
    ///
    /// # Panics
    /// If `client_id` is not registered.
    pub fn mint_id_token(&self, client_id: &str, sub: &str, extra: Value) -> String {
        self.shared()
            .mint_id_token(client_id, None, sub, extra)
            .unwrap_or_else(|e| panic!("mint_id_token: {e}"))
    }

    /// Like [`mint_id_token`](Self::mint_id_token), signed with `alg` regardless of the
    /// client's setting (HS256 uses the client secret).
    ///
    /// # Panics
    /// If `client_id` is not registered.
    pub fn mint_id_token_with(&self, client_id: &str, alg: Alg, sub: &str, extra: Value) -> String {
        self.shared()
            .mint_id_token(client_id, Some(alg), sub, extra)
            .unwrap_or_else(|e| panic!("mint_id_token_with: {e}"))
    }

    /// The JWKS currently served at `/public-keys`.
    pub fn jwks(&self) -> Value {
        self.shared().jwks()
    }

    /// How many JWKS fetches the HTTP endpoint has served.
    pub fn jwks_fetch_count(&self) -> usize {
        self.shared().jwks_fetches.load(Ordering::SeqCst)
    }

    /// How many token requests (successful or not) the HTTP endpoint has served.
    pub fn token_request_count(&self) -> usize {
        self.shared().token_requests.load(Ordering::SeqCst)
    }

    /// Number of token requests that authenticated as `client_id` (lets a test assert that a
    /// relying party never exchanged a code, without counting other tests' clients).
    pub fn token_request_count_for(&self, client_id: &str) -> usize {
        self.shared().token_requests_for(client_id)
    }

    /// Sends one Back-Channel Logout token (signed like the client's ID Tokens) to the
    /// client's `backchannel_logout_uri` and returns the RP's HTTP status. Works from any
    /// async runtime: the request runs on the provider's own.
    pub async fn backchannel_logout(
        &self,
        client_id: &str,
        sub: Option<&str>,
        sid: Option<&str>,
    ) -> Result<u16, DevError> {
        let (uri, token) = self.shared().logout_token(client_id, sub, sid)?;
        let runtime = self.inner.runtime().ok_or(DevError::Stopped)?;
        runtime
            .spawn(server::send_logout_token(uri, token))
            .await
            .map_err(|_| DevError::Stopped)?
    }

    /// Stops the server and closes its open connections. Handles stay usable for in-process
    /// calls; HTTP requests fail until [`resume`](Self::resume).
    pub fn shutdown(&self) {
        self.inner.stop();
    }

    /// Sets the `Cache-Control: max-age` (seconds) sent with the JWKS; `None` sends no
    /// `Cache-Control` at all. The default is `max-age=600`.
    pub fn set_jwks_max_age(&self, seconds: Option<u64>) {
        self.shared().set_jwks_max_age(seconds);
    }

    /// Makes `key` the signing key for its algorithm, and returns the one it replaces. The
    /// replaced key leaves the JWKS, and any published key with the same `kid` does too: with
    /// `key.with_kid(old_kid)` this is a rotation that reuses a `kid`.
    pub fn set_signing_key(&self, key: SigningKey) -> Option<SigningKey> {
        self.shared().set_signing_key(key)
    }

    /// Stops publishing the key with this `kid` (a compromised key, say). A withdrawn signing
    /// key is replaced by a fresh key of the same algorithm with a new `kid`. Returns whether
    /// such a key was published.
    pub fn withdraw_key(&self, kid: &str) -> bool {
        self.shared().withdraw_key(kid)
    }
}
