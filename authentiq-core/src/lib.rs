#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod claims;
mod config;
mod crypto;
mod error;
mod http;
mod jose;
mod provider;
#[cfg(feature = "redis")]
mod redis_store;
mod routes;
mod scope;
mod session;

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

pub use crate::claims::{Address, Claims, Location};
pub use crate::config::{
    ClientAuthMethod, Config, ConfigBuilder, EndpointOverrides, RoutePaths, SessionConfig,
    decode_session_key,
};
pub use crate::error::{AuthError, ConfigError, TokenError};
pub use crate::http::{ClientKind, Reply, RequestHead, html_escape};
pub use crate::jose::{AlgPolicy, Algorithm, Channel, ValidatedToken};
pub use crate::provider::{ProviderMetadata, TokenResponse};
#[cfg(feature = "redis")]
pub use crate::redis_store::RedisStore;
pub use crate::routes::{MAX_BODY, safe_return_to};
pub use crate::scope::{Grant, Scope, Scopes};
pub use crate::session::{
    BoxFuture, CookieSessions, MemoryStore, Revocation, SessionData, SessionStore, StoreError,
};

use crate::crypto::CookieCipher;
use crate::jose::{Expect, Jws};
use crate::provider::Provider;

/// How the request proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A session cookie set at sign-in.
    Session,
    /// An `Authorization: Bearer <ID Token>` header.
    Bearer,
}

/// A signed-in user: their claims (as your type `C`, [`Claims`] by default) and how they
/// authenticated.
#[derive(Clone, Debug)]
pub struct Identity<C = Claims> {
    /// The claims: `iss`, `sub`, and the identity claims that were granted.
    pub claims: C,
    /// The subject, whatever `C` keeps.
    pub subject: String,
    /// Session or bearer token.
    pub source: Source,
    /// The session id, for session identities.
    pub session_id: Option<String>,
}

/// Which credentials a guard accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Credentials {
    /// A bearer ID Token when the request carries one, else the session cookie.
    Any,
    /// Only a bearer ID Token (API routes).
    BearerOnly,
}

/// Reads the session at most once per request and remembers the `Set-Cookie` the response
/// must carry. Adapters create one per request (it is cheap: one `Arc`), put it in the
/// request's context, and append [`SessionCache::set_cookie`] to the response.
#[derive(Clone, Debug, Default)]
pub struct SessionCache(Arc<tokio::sync::OnceCell<SessionCheck>>);

impl SessionCache {
    /// An empty cache for a new request.
    pub fn new() -> Self {
        Self::default()
    }

    /// The session check, performed on first use.
    pub async fn get(&self, auth: &Authentiq, head: &impl RequestHead) -> &SessionCheck {
        self.0.get_or_init(|| auth.check_session(head)).await
    }

    /// The `Set-Cookie` to append to the response (a refreshed idle timer or the removal of an
    /// unusable cookie), if the session was read and needs one.
    pub fn set_cookie(&self) -> Option<&str> {
        self.0.get().and_then(|c| c.set_cookie.as_deref())
    }
}

/// A guard's refusal: the reason, and the reply the core decided (a redirect to sign in for
/// browser navigations, 401 JSON with `WWW-Authenticate` for API clients, or another 4xx).
#[derive(Debug)]
pub struct Rejection {
    /// Why.
    pub error: AuthError,
    /// What to send.
    pub reply: Reply,
}

impl Rejection {
    /// The refusal for a guard used where the adapter's layer/middleware/fairing/filter was not
    /// installed: 500 with a JSON body saying what to install. Logged.
    pub fn not_configured() -> Self {
        let error = AuthError::NotConfigured;
        tracing::error!("{error}");
        Self {
            reply: error.api_reply(),
            error,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Rejection {}

/// The outcome of reading the session cookie once for a request, plus a `Set-Cookie` the
/// response should carry (a refreshed idle timer, or the removal of an unusable cookie).
#[derive(Clone, Debug)]
pub struct SessionCheck {
    state: SessionState,
    /// A `Set-Cookie` value to add to the response, if any.
    pub set_cookie: Option<String>,
}

#[derive(Clone, Debug)]
enum SessionState {
    None,
    Valid(Box<SessionData>),
    Invalid(&'static str),
    Failed(String),
}

impl SessionCheck {
    /// The live session, if any.
    pub fn session(&self) -> Option<&SessionData> {
        match &self.state {
            SessionState::Valid(d) => Some(d),
            _ => None,
        }
    }
}

struct Inner {
    cfg: Config,
    provider: Provider,
    session_cipher: CookieCipher,
    flow_cipher: CookieCipher,
    names: CookieNames,
    replay: std::sync::Mutex<std::collections::HashMap<String, u64>>,
}

pub(crate) struct CookieNames {
    pub(crate) session: String,
    pub(crate) flow_prefix: String,
}

/// The SDK: configuration, provider connection, and every decision. Cheap to clone; create
/// one at start-up and share it with the framework adapter.
///
/// ```no_run
/// # async fn run() -> Result<(), authentiq_core::ConfigError> {
/// let auth = authentiq_core::Authentiq::builder("https://connect.authentiq.io/", "my-client-id")
///     .client_secret("my-client-secret")
///     .public_url("https://app.example.com")
///     .scope("aq:name email~rs aq:push")
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Authentiq {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Authentiq {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authentiq")
            .field("config", &self.inner.cfg)
            .finish()
    }
}

impl Authentiq {
    /// Starts a configuration for `issuer` and `client_id`.
    pub fn builder(issuer: impl Into<String>, client_id: impl Into<String>) -> ConfigBuilder {
        ConfigBuilder::new(issuer, client_id)
    }

    /// Builds from the environment (see [`ConfigBuilder::from_env`]).
    pub async fn from_env() -> Result<Self, ConfigError> {
        ConfigBuilder::from_env()?.build().await
    }

    /// Discovers the provider and returns a ready instance.
    pub async fn from_config(cfg: Config) -> Result<Self, ConfigError> {
        let provider = Provider::discover(&cfg).await?;
        let prefix = if cfg.secure_cookies() { "__Host-" } else { "" };
        let names = CookieNames {
            session: format!("{prefix}authentiq_session"),
            flow_prefix: format!("{prefix}authentiq_flow_"),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                session_cipher: CookieCipher::new(&cfg.session_keys, "session"),
                flow_cipher: CookieCipher::new(&cfg.session_keys, "flow"),
                names,
                provider,
                cfg,
                replay: std::sync::Mutex::new(std::collections::HashMap::new()),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.cfg
    }

    /// The provider's endpoints.
    pub fn provider(&self) -> &ProviderMetadata {
        &self.inner.provider.meta
    }

    /// The session cookie's name (`__Host-` prefixed on https).
    pub fn session_cookie_name(&self) -> &str {
        &self.inner.names.session
    }

    /// Reads and checks the session cookie. Adapters call this once per request (in their
    /// layer, middleware, fairing or filter) and hand the result to the guards.
    pub async fn check_session(&self, head: &impl RequestHead) -> SessionCheck {
        let name = &self.inner.names.session;
        let Some(value) = head.cookie(name) else {
            return SessionCheck {
                state: SessionState::None,
                set_cookie: None,
            };
        };
        let invalid = |why: &'static str| {
            tracing::info!(reason = why, "ignoring the session cookie");
            SessionCheck {
                state: SessionState::Invalid(why),
                set_cookie: Some(self.remove_cookie(name)),
            }
        };
        let Some(plain) = self.inner.session_cipher.open(name, &value) else {
            return invalid("the session cookie is tampered with or was sealed with another key");
        };
        let store = &self.inner.cfg.session.store;
        let data: SessionData = if store.holds_data() {
            let Ok(id) = String::from_utf8(plain) else {
                return invalid("the session cookie is malformed");
            };
            match store.load(&id).await {
                Ok(Some(d)) => d,
                Ok(None) => return invalid("the session is unknown or has ended"),
                Err(e) => {
                    tracing::error!(store = store.name(), "session store failed: {e}");
                    return SessionCheck {
                        state: SessionState::Failed(e.0),
                        set_cookie: None,
                    };
                }
            }
        } else {
            match serde_json::from_slice(&plain) {
                Ok(d) => d,
                Err(_) => return invalid("the session cookie is malformed"),
            }
        };
        let now = jose::now();
        let cfg = &self.inner.cfg;
        if data.iss != self.inner.provider.meta.issuer || data.aud != cfg.client_id {
            return invalid("the session belongs to another issuer or client");
        }
        if now >= data.exp {
            return invalid("the session has expired");
        }
        let idle = cfg.session.idle.as_secs();
        if now >= data.seen.saturating_add(idle) {
            return invalid("the session was idle too long");
        }
        match store.is_revoked(&data).await {
            Ok(false) => {}
            Ok(true) => return invalid("the session was ended"),
            Err(e) => {
                tracing::error!(store = store.name(), "session store failed: {e}");
                return SessionCheck {
                    state: SessionState::Failed(e.0),
                    set_cookie: None,
                };
            }
        }
        // Slide the idle timer at most every twentieth of the idle period.
        let mut set_cookie = None;
        let mut data = data;
        if now.saturating_sub(data.seen) >= (idle / 20).max(1) {
            data.seen = now;
            match self.session_cookie(&data).await {
                Ok(c) => set_cookie = Some(c),
                Err(e) => tracing::warn!("could not refresh the session: {e}"),
            }
        }
        SessionCheck {
            state: SessionState::Valid(Box::new(data)),
            set_cookie,
        }
    }

    /// Authenticates a request: a bearer ID Token when one is sent (and `credentials` allows
    /// it), else the session (from `session`, or read now when `None`).
    pub async fn authenticate<C: DeserializeOwned>(
        &self,
        head: &impl RequestHead,
        session: Option<&SessionCheck>,
        credentials: Credentials,
    ) -> Result<Identity<C>, AuthError> {
        if let Some(token) = bearer_token(head)? {
            return self.verify_bearer(token).await;
        }
        if credentials == Credentials::BearerOnly {
            return Err(AuthError::Unauthenticated);
        }
        match session {
            Some(check) => self.session_identity(check),
            None => self.session_identity(&self.check_session(head).await),
        }
    }

    /// The identity a session check yields, or why it yields none.
    fn session_identity<C: DeserializeOwned>(
        &self,
        check: &SessionCheck,
    ) -> Result<Identity<C>, AuthError> {
        match &check.state {
            SessionState::None => Err(AuthError::Unauthenticated),
            SessionState::Invalid(why) => Err(AuthError::SessionInvalid(why)),
            SessionState::Failed(e) => Err(AuthError::Store(e.clone())),
            SessionState::Valid(d) => {
                let mut claims = d.claims.clone();
                claims.insert("iss".into(), Value::String(d.iss.clone()));
                claims.insert("sub".into(), Value::String(d.sub.clone()));
                if let Some(sid) = &d.sid {
                    claims.insert("sid".into(), Value::String(sid.clone()));
                }
                let c = serde_json::from_value(Value::Object(claims)).map_err(|e| {
                    tracing::warn!(problem = %claims_problem(&e), "session claims do not fit the requested claims type");
                    AuthError::SessionInvalid(
                        "the session claims do not fit this route's claims type",
                    )
                })?;
                Ok(Identity {
                    claims: c,
                    subject: d.sub.clone(),
                    source: Source::Session,
                    session_id: Some(d.id.clone()),
                })
            }
        }
    }

    /// The required guard (`Authenticated`): a bearer ID Token when one is sent, else the
    /// session; otherwise the negotiated refusal.
    pub async fn require<C: DeserializeOwned>(
        &self,
        head: &impl RequestHead,
        cache: &SessionCache,
    ) -> Result<Identity<C>, Rejection> {
        // A request that sends a bearer token is judged by it alone: its session cookie is
        // not read (with a server-side store that would be a needless round trip).
        let result = match bearer_token(head) {
            Ok(Some(token)) => self.verify_bearer(token).await,
            Ok(None) => self.session_identity(cache.get(self, head).await),
            Err(e) => Err(e),
        };
        result.map_err(|error| Rejection {
            reply: self.reject(head, &error),
            error,
        })
    }

    /// The optional guard (`MaybeAuthenticated`): `None` for anonymous requests and unusable
    /// session cookies; a bearer token that was sent but fails is still refused.
    pub async fn optional<C: DeserializeOwned>(
        &self,
        head: &impl RequestHead,
        cache: &SessionCache,
    ) -> Result<Option<Identity<C>>, Rejection> {
        match self.require(head, cache).await {
            Ok(id) => Ok(Some(id)),
            Err(Rejection {
                error: AuthError::Unauthenticated | AuthError::SessionInvalid(_),
                ..
            }) => Ok(None),
            Err(r) => Err(r),
        }
    }

    /// The API guard (`Bearer`): a bearer ID Token only, never a redirect; the session cookie
    /// is ignored.
    pub async fn bearer<C: DeserializeOwned>(
        &self,
        head: &impl RequestHead,
    ) -> Result<Identity<C>, Rejection> {
        self.authenticate(head, None, Credentials::BearerOnly)
            .await
            .map_err(|error| Rejection {
                reply: error.api_reply(),
                error,
            })
    }

    /// Validates a bearer ID Token (browser channel: asymmetric signature via the JWKS, no
    /// nonce to compare) and returns its identity.
    pub async fn verify_bearer<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Identity<C>, AuthError> {
        let max_age = self.inner.cfg.max_token_age.map(|d| d.as_secs());
        let valid = self
            .validate_id_token(token, Channel::Browser, None, None, max_age)
            .await
            .map_err(|e| {
                tracing::info!(check = %e, "bearer token refused");
                AuthError::InvalidToken(e)
            })?;
        let c = serde_json::from_value(Value::Object(identity_claims(valid.claims(), None)))
            .map_err(|_| {
                AuthError::InvalidToken(TokenError::MissingClaim("claims for this route's type"))
            })?;
        Ok(Identity {
            claims: c,
            subject: valid.subject().to_owned(),
            source: Source::Bearer,
            session_id: None,
        })
    }

    /// Validates an ID Token per OpenID Connect Core 3.1.3.7 and the channel's algorithm
    /// policy. `nonce` (when given) must match; `flow` gives the access token and code for
    /// `at_hash`/`c_hash`; `max_token_age` bounds `iat`.
    pub async fn validate_id_token(
        &self,
        token: &str,
        channel: Channel,
        nonce: Option<&str>,
        flow: Option<(&str, Option<&str>)>,
        max_token_age: Option<u64>,
    ) -> Result<ValidatedToken, TokenError> {
        let cfg = &self.inner.cfg;
        let jws = Jws::parse(token)?;
        if let Some(t) = &jws.typ
            && !t.eq_ignore_ascii_case("JWT")
            && !t.eq_ignore_ascii_case("id_token+jwt")
        {
            return Err(TokenError::WrongType(t.clone()));
        }
        let alg = self.verify_signature(&jws, channel).await?;
        let registered = jose::Registered::parse(jws.payload_bytes())?;
        let expect = Expect {
            issuer: &self.inner.provider.meta.issuer,
            client_id: &cfg.client_id,
            trusted_audiences: &cfg.trusted_audiences,
            leeway: cfg.leeway.as_secs(),
            now: jose::now(),
            nonce,
            max_age: if nonce.is_some() { cfg.max_age } else { None },
            max_token_age,
            access_token: flow.map(|f| f.0),
            code: flow.and_then(|f| f.1),
        };
        jose::check_id_token_claims(&registered, alg, &expect)?;
        let subject = registered.sub.as_str_owned();
        drop(registered);
        Ok(jws.into_validated(subject))
    }

    /// Checks the signature under the channel's policy; returns the algorithm used.
    pub(crate) async fn verify_signature(
        &self,
        jws: &Jws<'_>,
        channel: Channel,
    ) -> Result<Option<Algorithm>, TokenError> {
        match jws.check_policy(&self.inner.cfg.alg_policy, channel)? {
            None => Ok(None),
            Some(Algorithm::HS256) => {
                let secret = self.inner.cfg.client_secret.as_bytes();
                if secret.is_empty() {
                    return Err(TokenError::AlgorithmNotAllowed {
                        alg: "HS256".into(),
                        channel: "a client without secret",
                    });
                }
                jws.verify_hmac(secret).map(|()| Some(Algorithm::HS256))
            }
            Some(alg) => {
                let keys = self.inner.provider.keys_for(jws, alg).await;
                jws.verify_with(alg, &keys).map(|()| Some(alg))
            }
        }
    }

    /// The negotiated reply for a guard that refused a request: browser navigations needing a
    /// session go to the login route with `return_to`, everything else gets 401/4xx JSON.
    /// Adapters also append [`SessionCheck::set_cookie`] to every response, which removes an
    /// unusable session cookie.
    pub fn reject(&self, head: &impl RequestHead, err: &AuthError) -> Reply {
        err.guard_reply(head, &self.inner.cfg.routes.login)
    }

    /// Seals `data` into a `Set-Cookie` value for the session cookie (saving it to the store
    /// when the store holds data). Use it to sign a user in by other means, e.g. in tests.
    pub async fn session_cookie(&self, data: &SessionData) -> Result<String, AuthError> {
        let name = &self.inner.names.session;
        let store = &self.inner.cfg.session.store;
        let value = if store.holds_data() {
            store.save(data).await.map_err(|e| AuthError::Store(e.0))?;
            self.inner.session_cipher.seal(name, data.id.as_bytes())
        } else {
            let mut sealed = self.inner.session_cipher.seal(name, &to_json(data));
            if sealed.len() > 3800 {
                // Browsers drop cookies over 4 KB: shed the ID Token (logout then goes without
                // id_token_hint), then the optional claims.
                let mut lean = data.clone();
                lean.id_token = None;
                sealed = self.inner.session_cipher.seal(name, &to_json(&lean));
                if sealed.len() > 3800 {
                    lean.claims.retain(|k, _| k == "scope");
                    sealed = self.inner.session_cipher.seal(name, &to_json(&lean));
                }
                tracing::warn!(
                    "the session is too large for a cookie; dropped the ID Token or claims (configure a session store to keep them)"
                );
            }
            sealed
        };
        let max_age = data.exp.saturating_sub(jose::now());
        Ok(self.cookie(name, &value, max_age))
    }

    pub(crate) fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        let secure = self.inner.cfg.secure_cookies();
        cookie::Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(cookie::SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(
                i64::try_from(max_age).unwrap_or(i64::MAX),
            ))
            .build()
            .to_string()
    }

    pub(crate) fn remove_cookie(&self, name: &str) -> String {
        self.cookie(name, "", 0)
    }
}

/// The bearer token of the request, if it sent one. Other schemes are left to the app;
/// a `Bearer` scheme without a usable token is refused.
fn bearer_token(head: &impl RequestHead) -> Result<Option<&str>, AuthError> {
    let Some(h) = head.header("authorization") else {
        return Ok(None);
    };
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(AuthError::InvalidToken(TokenError::Malformed(
            "the Authorization header holds no single token",
        )));
    }
    Ok(Some(token))
}

/// Drops protocol claims; with `keep`, only those identity claims survive.
pub(crate) fn identity_claims(
    mut claims: Map<String, Value>,
    keep: Option<&[String]>,
) -> Map<String, Value> {
    claims.retain(|k, _| {
        matches!(k.as_str(), "iss" | "sub" | "sid" | "scope")
            || (!claims::PROTOCOL_CLAIMS.contains(&k.as_str())
                && keep.is_none_or(|list| list.iter().any(|x| x == k)))
    });
    claims
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("session data always serialises")
}

/// What a claims type rejected, without the value: serde's "invalid type" messages quote the
/// claim (an email address, say), and claim values stay out of logs.
fn claims_problem(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.starts_with("missing field") || msg.starts_with("unknown field") {
        msg
    } else {
        "a claim has another type or format than the claims type expects".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_problems_never_quote_claim_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Typed {
            email: u64,
        }
        let wrong =
            serde_json::from_value::<Typed>(serde_json::json!({"email": "alice@example.com"}));
        let problem = claims_problem(&wrong.expect_err("a string is not a number"));
        assert!(!problem.contains("alice"), "{problem}");
        let missing = serde_json::from_value::<Typed>(serde_json::json!({}));
        assert_eq!(
            claims_problem(&missing.expect_err("missing")),
            "missing field `email`"
        );
    }
}
