//! Configuration: a builder, or the environment variables of the example contract.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use url::Url;

use crate::error::ConfigError;
use crate::jose::AlgPolicy;
use crate::scope::Scopes;
use crate::session::{CookieSessions, SessionStore};

/// How the client authenticates at the token endpoint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// HTTP Basic with the form-urlencoded id and secret (the default).
    #[default]
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the form body.
    ClientSecretPost,
}

impl std::str::FromStr for ClientAuthMethod {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "client_secret_basic" => Ok(Self::ClientSecretBasic),
            "client_secret_post" => Ok(Self::ClientSecretPost),
            other => Err(format!(
                "`{other}` is not client_secret_basic or client_secret_post"
            )),
        }
    }
}

/// Where the auth routes live. Defaults follow the example contract.
#[derive(Clone, Debug)]
pub struct RoutePaths {
    /// Starts a sign-in. Default `/auth/login`.
    pub login: String,
    /// The redirect URI path. Default `/auth/callback`.
    pub callback: String,
    /// Ends the session. Default `/auth/logout`.
    pub logout: String,
    /// Forgets the remembered device. Default `/auth/forget`.
    pub forget: String,
    /// OpenID Back-Channel Logout. Default `/auth/backchannel-logout`.
    pub backchannel_logout: String,
}

impl Default for RoutePaths {
    fn default() -> Self {
        Self {
            login: "/auth/login".into(),
            callback: "/auth/callback".into(),
            logout: "/auth/logout".into(),
            forget: "/auth/forget".into(),
            backchannel_logout: "/auth/backchannel-logout".into(),
        }
    }
}

/// Endpoints that override what discovery says.
#[derive(Clone, Debug, Default)]
pub struct EndpointOverrides {
    /// Authorization endpoint.
    pub authorization: Option<String>,
    /// Token endpoint.
    pub token: Option<String>,
    /// UserInfo endpoint.
    pub userinfo: Option<String>,
    /// JWKS URI.
    pub jwks: Option<String>,
    /// End-session endpoint.
    pub end_session: Option<String>,
}

/// Session lifetime and cookie settings.
#[derive(Clone)]
pub struct SessionConfig {
    /// Maximum session lifetime from sign-in. Default 12 hours.
    pub absolute: Duration,
    /// A session unused for this long ends. Default 2 hours.
    pub idle: Duration,
    /// Keep the ID Token in the session so logout can send `id_token_hint`. Default `true`.
    pub keep_id_token: bool,
    /// Claims to keep in the session besides `iss`, `sub`, `sid` and `scope`. `None` (the
    /// default) keeps every identity claim that was granted; `Some(list)` keeps only these.
    pub keep_claims: Option<Vec<String>>,
    /// Where sessions live or are revoked. Default: [`CookieSessions`] (stateless encrypted
    /// cookie, with an in-memory revocation list for logout).
    pub store: Arc<dyn SessionStore>,
}

impl Default for SessionConfig {
    fn default() -> Self {
        Self {
            absolute: Duration::from_secs(12 * 3600),
            idle: Duration::from_secs(2 * 3600),
            keep_id_token: true,
            keep_claims: None,
            store: Arc::new(CookieSessions::default()),
        }
    }
}

impl std::fmt::Debug for SessionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionConfig")
            .field("absolute", &self.absolute)
            .field("idle", &self.idle)
            .field("keep_id_token", &self.keep_id_token)
            .field("keep_claims", &self.keep_claims)
            .field("store", &self.store.name())
            .finish()
    }
}

/// Everything the SDK needs to know. Build it with [`crate::Authentiq::builder`] or
/// [`Config::from_env`].
#[derive(Clone)]
pub struct Config {
    /// The issuer URL, compared byte for byte with `iss`.
    pub issuer: String,
    /// The client id.
    pub client_id: String,
    pub(crate) client_secret: String,
    /// The app's external base URL, e.g. `https://app.example.com` (no trailing slash).
    pub public_url: Url,
    /// Requested scopes in Authentiq syntax.
    pub scopes: Scopes,
    /// Token endpoint client authentication.
    pub client_auth: ClientAuthMethod,
    /// Clock leeway for `exp`, `iat`, `nbf`. Default 60 s.
    pub leeway: Duration,
    /// Algorithms accepted per channel.
    pub alg_policy: AlgPolicy,
    /// Audiences besides the client id that may appear in `aud`. Default none.
    pub trusted_audiences: Vec<String>,
    /// Refuse bearer tokens issued longer ago than this. Default none (`exp` decides).
    pub max_token_age: Option<Duration>,
    /// Send PKCE (S256). Default `true`.
    pub pkce: bool,
    /// `prompt` for the authorization request (`login` is Authentiq's default).
    pub prompt: Option<String>,
    /// `display` (`page`, `popup`, `modal`). `page` or `popup` keep one-click working.
    pub display: Option<String>,
    /// `max_age` in seconds; makes `auth_time` required and checked.
    pub max_age: Option<u64>,
    /// `ui_locales`.
    pub ui_locales: Option<String>,
    /// Authentiq's `display_errors` (`client` or `provider`).
    pub display_errors: Option<String>,
    /// Extra authorization parameters passed through (e.g. `login_hint`).
    pub extra_params: Vec<(String, String)>,
    /// Fetch UserInfo after the code exchange and merge its claims. Default `false`: Authentiq
    /// puts the identity claims in the ID Token.
    pub fetch_userinfo: bool,
    /// Route paths.
    pub routes: RoutePaths,
    /// Endpoint overrides.
    pub endpoints: EndpointOverrides,
    /// Session settings.
    pub session: SessionConfig,
    /// Timeout for each request to the provider. Default 10 s.
    pub http_timeout: Duration,
    /// The least time between two JWKS refetches caused by unknown key ids. Default 10 s.
    pub jwks_refetch_interval: Duration,
    /// Where the provider sends the browser after logout. Default `<public_url>/`.
    pub post_logout_redirect_uri: Option<String>,
    pub(crate) session_keys: Vec<Vec<u8>>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("public_url", &self.public_url.as_str())
            .field("scopes", &self.scopes.to_string())
            .field("client_auth", &self.client_auth)
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// Whether a URL may use plain http: only loopback development addresses.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Parses `value` as an http(s) URL; https is required unless it is a loopback address.
pub(crate) fn secure_url(what: &'static str, value: &str) -> Result<Url, ConfigError> {
    let url = Url::parse(value).map_err(|e| ConfigError::InvalidUrl {
        what,
        value: value.to_owned(),
        reason: e.to_string(),
    })?;
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback(&url) => Ok(url),
        "http" => Err(ConfigError::Insecure {
            what,
            url: value.to_owned(),
        }),
        other => Err(ConfigError::InvalidUrl {
            what,
            value: value.to_owned(),
            reason: format!("scheme `{other}` is not http(s)"),
        }),
    }
}

/// Decodes a session key: base64 (standard or url-safe, padded or not), at least 32 bytes.
pub fn decode_session_key(text: &str) -> Result<Vec<u8>, String> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let t = text.trim();
    let bytes = STANDARD
        .decode(t)
        .or_else(|_| STANDARD_NO_PAD.decode(t))
        .or_else(|_| URL_SAFE.decode(t))
        .or_else(|_| URL_SAFE_NO_PAD.decode(t))
        .map_err(|_| "not base64".to_owned())?;
    if bytes.len() < 32 {
        return Err(format!(
            "{} bytes; at least 32 (64 recommended) are needed",
            bytes.len()
        ));
    }
    Ok(bytes)
}

/// Builds a [`Config`]. Obtain one from [`crate::Authentiq::builder`].
#[derive(Clone, Debug)]
pub struct ConfigBuilder {
    issuer: String,
    client_id: String,
    client_secret: String,
    public_url: Option<String>,
    scopes: Option<Result<Scopes, String>>,
    session_keys: Vec<Vec<u8>>,
    bad_key: Option<String>,
    client_auth: ClientAuthMethod,
    leeway: Duration,
    alg_policy: AlgPolicy,
    trusted_audiences: Vec<String>,
    max_token_age: Option<Duration>,
    pkce: bool,
    prompt: Option<String>,
    display: Option<String>,
    max_age: Option<u64>,
    ui_locales: Option<String>,
    display_errors: Option<String>,
    extra_params: Vec<(String, String)>,
    fetch_userinfo: bool,
    routes: RoutePaths,
    endpoints: EndpointOverrides,
    session: SessionConfig,
    http_timeout: Duration,
    jwks_refetch_interval: Duration,
    post_logout_redirect_uri: Option<String>,
}

macro_rules! setter {
    ($(#[$doc:meta])* $name:ident: $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self
        }
    };
}

impl ConfigBuilder {
    pub(crate) fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            client_id: client_id.into(),
            client_secret: String::new(),
            public_url: None,
            scopes: None,
            session_keys: Vec::new(),
            bad_key: None,
            client_auth: ClientAuthMethod::default(),
            leeway: Duration::from_secs(60),
            alg_policy: AlgPolicy::default(),
            trusted_audiences: Vec::new(),
            max_token_age: None,
            pkce: true,
            prompt: None,
            display: None,
            max_age: None,
            ui_locales: None,
            display_errors: None,
            extra_params: Vec::new(),
            fetch_userinfo: false,
            routes: RoutePaths::default(),
            endpoints: EndpointOverrides::default(),
            session: SessionConfig::default(),
            http_timeout: Duration::from_secs(10),
            jwks_refetch_interval: Duration::from_secs(10),
            post_logout_redirect_uri: None,
        }
    }

    /// Reads the example contract's variables: `AUTHENTIQ_ISSUER`, `AUTHENTIQ_CLIENT_ID`,
    /// `AUTHENTIQ_CLIENT_SECRET`, `AUTHENTIQ_SCOPE`, `APP_PUBLIC_URL` (or `http://<APP_ADDR>`),
    /// `APP_SESSION_KEY`, and `AUTHENTIQ_CLIENT_AUTH`. A missing required variable or a
    /// malformed value is an error naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &'static str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let issuer = var("AUTHENTIQ_ISSUER").ok_or(ConfigError::Missing("AUTHENTIQ_ISSUER"))?;
        let client_id =
            var("AUTHENTIQ_CLIENT_ID").ok_or(ConfigError::Missing("AUTHENTIQ_CLIENT_ID"))?;
        let mut b = Self::new(issuer, client_id);
        if let Some(s) = var("AUTHENTIQ_CLIENT_SECRET") {
            b = b.client_secret(s);
        }
        if let Some(s) = var("AUTHENTIQ_SCOPE") {
            let scopes = Scopes::parse(&s).map_err(|reason| ConfigError::Invalid {
                name: "AUTHENTIQ_SCOPE",
                reason,
            })?;
            b = b.scopes(scopes);
        }
        let public = match (var("APP_PUBLIC_URL"), var("APP_ADDR")) {
            (Some(u), _) => u,
            (None, Some(a)) => format!("http://{a}"),
            (None, None) => "http://127.0.0.1:8000".to_owned(),
        };
        b = b.public_url(public);
        if let Some(k) = var("APP_SESSION_KEY") {
            let key = decode_session_key(&k).map_err(|reason| ConfigError::Invalid {
                name: "APP_SESSION_KEY",
                reason,
            })?;
            b = b.session_key(key);
        }
        if let Some(m) = var("AUTHENTIQ_CLIENT_AUTH") {
            let m = m.parse().map_err(|reason| ConfigError::Invalid {
                name: "AUTHENTIQ_CLIENT_AUTH",
                reason,
            })?;
            b = b.client_auth(m);
        }
        Ok(b)
    }

    /// The client secret (also the HS256 key for token-endpoint ID Tokens).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.client_secret = secret.into();
        self
    }
    /// The app's external base URL; the redirect URI is `<public_url><callback path>`.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }
    /// Requested scopes.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.scopes = Some(Ok(scopes));
        self
    }
    /// Requested scopes in Authentiq syntax, parsed at [`build`](Self::build).
    pub fn scope(mut self, scopes: &str) -> Self {
        self.scopes = Some(Scopes::parse(scopes));
        self
    }
    /// The key cookies are encrypted with (at least 32 bytes; 64 recommended). Call again to
    /// add older keys that are still accepted for decryption (rotation): the first is current.
    /// Without a key, a random one is made per process and sessions end at restart.
    pub fn session_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        let key = key.into();
        if key.len() < 32 {
            self.bad_key = Some(format!("{} bytes; at least 32 are needed", key.len()));
        }
        self.session_keys.push(key);
        self
    }
    /// Adds an authorization parameter passed through unchanged (e.g. `login_hint`).
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra_params.push((name.into(), value.into()));
        self
    }
    /// Adds an audience, besides the client id, that may appear in `aud`.
    pub fn trusted_audience(mut self, aud: impl Into<String>) -> Self {
        self.trusted_audiences.push(aud.into());
        self
    }
    /// Where sessions live (see [`crate::SessionStore`]).
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.session.store = store;
        self
    }
    setter!(/// Token endpoint client authentication.
        client_auth: ClientAuthMethod);
    setter!(/// Clock leeway (default 60 s).
        leeway: Duration);
    setter!(/// Per-channel algorithm policy.
        alg_policy: AlgPolicy);
    setter!(/// Refuse bearer tokens issued longer ago than this.
        max_token_age: Option<Duration>);
    setter!(/// Send PKCE S256 (default true).
        pkce: bool);
    setter!(/// `prompt` parameter.
        prompt: Option<String>);
    setter!(/// `display` parameter.
        display: Option<String>);
    setter!(/// `max_age` parameter, in seconds.
        max_age: Option<u64>);
    setter!(/// `ui_locales` parameter.
        ui_locales: Option<String>);
    setter!(/// Authentiq's `display_errors` parameter.
        display_errors: Option<String>);
    setter!(/// Fetch UserInfo after the code exchange.
        fetch_userinfo: bool);
    setter!(/// Route paths.
        routes: RoutePaths);
    setter!(/// Endpoint overrides.
        endpoints: EndpointOverrides);
    setter!(/// Session settings (lifetimes, claims kept, store).
        session: SessionConfig);
    setter!(/// Timeout per provider request.
        http_timeout: Duration);
    setter!(/// Least time between JWKS refetches for unknown key ids.
        jwks_refetch_interval: Duration);
    setter!(/// Where the provider sends the browser after logout.
        post_logout_redirect_uri: Option<String>);

    /// Checks everything that can be checked without the network.
    pub fn into_config(self) -> Result<Config, ConfigError> {
        secure_url("issuer", &self.issuer)?;
        if self.client_id.trim().is_empty() {
            return Err(ConfigError::Missing("client id"));
        }
        let public = self
            .public_url
            .ok_or(ConfigError::Missing("public URL (APP_PUBLIC_URL)"))?;
        let mut public_url = Url::parse(&public).map_err(|e| ConfigError::InvalidUrl {
            what: "public URL",
            value: public.clone(),
            reason: e.to_string(),
        })?;
        if !matches!(public_url.scheme(), "http" | "https") || public_url.host().is_none() {
            return Err(ConfigError::InvalidUrl {
                what: "public URL",
                value: public,
                reason: "must be an absolute http(s) URL".into(),
            });
        }
        let trimmed = public_url.path().trim_end_matches('/').to_owned();
        public_url.set_path(&trimmed);
        public_url.set_query(None);
        public_url.set_fragment(None);
        let scopes = match self.scopes {
            None => Scopes::default(),
            Some(Ok(s)) => s,
            Some(Err(reason)) => {
                return Err(ConfigError::Invalid {
                    name: "scope",
                    reason,
                });
            }
        };
        if let Some(reason) = self.bad_key {
            return Err(ConfigError::Invalid {
                name: "session key",
                reason,
            });
        }
        let mut session_keys = self.session_keys;
        if session_keys.is_empty() {
            tracing::warn!(
                "no session key configured (APP_SESSION_KEY): using a random key, so sessions end when the process restarts"
            );
            let mut k = vec![0u8; 64];
            aws_lc_rs::rand::fill(&mut k).map_err(|_| ConfigError::Invalid {
                name: "session key",
                reason: "the system random generator failed".into(),
            })?;
            session_keys.push(k);
        }
        if self.client_secret.is_empty() && self.alg_policy.hs256_from_token_endpoint {
            tracing::info!(
                "no client secret: HS256 ID Tokens cannot be verified and the token endpoint will be called without a secret"
            );
        }
        for (name, path) in [
            ("login route", &self.routes.login),
            ("callback route", &self.routes.callback),
            ("logout route", &self.routes.logout),
            ("forget route", &self.routes.forget),
            ("back-channel logout route", &self.routes.backchannel_logout),
        ] {
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(ConfigError::Invalid {
                    name,
                    reason: format!("`{path}` must be an absolute path"),
                });
            }
        }
        Ok(Config {
            issuer: self.issuer,
            client_id: self.client_id,
            client_secret: self.client_secret,
            public_url,
            scopes,
            client_auth: self.client_auth,
            leeway: self.leeway,
            alg_policy: self.alg_policy,
            trusted_audiences: self.trusted_audiences,
            max_token_age: self.max_token_age,
            pkce: self.pkce,
            prompt: self.prompt,
            display: self.display,
            max_age: self.max_age,
            ui_locales: self.ui_locales,
            display_errors: self.display_errors,
            extra_params: self.extra_params,
            fetch_userinfo: self.fetch_userinfo,
            routes: self.routes,
            endpoints: self.endpoints,
            session: self.session,
            http_timeout: self.http_timeout,
            jwks_refetch_interval: self.jwks_refetch_interval,
            post_logout_redirect_uri: self.post_logout_redirect_uri,
            session_keys,
        })
    }

    /// Validates the configuration, reads the provider's discovery document and keys, and
    /// returns a ready [`crate::Authentiq`]. Every failure here is a start-up error.
    pub async fn build(self) -> Result<crate::Authentiq, ConfigError> {
        crate::Authentiq::from_config(self.into_config()?).await
    }
}

impl Config {
    /// The redirect URI: `<public_url><callback path>`.
    pub fn redirect_uri(&self) -> String {
        format!(
            "{}{}",
            self.public_url.as_str().trim_end_matches('/'),
            self.routes.callback
        )
    }
    /// Whether cookies are `Secure` with the `__Host-` prefix (the public URL is https).
    pub fn secure_cookies(&self) -> bool {
        self.public_url.scheme() == "https"
    }
    /// The public origin, e.g. `https://app.example.com`.
    pub fn origin(&self) -> String {
        self.public_url.origin().ascii_serialization()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn https_required_except_loopback() {
        assert!(secure_url("issuer", "https://connect.authentiq.io/").is_ok());
        assert!(secure_url("issuer", "http://127.0.0.1:8800/").is_ok());
        assert!(secure_url("issuer", "http://[::1]:8800/").is_ok());
        assert!(secure_url("issuer", "http://localhost/").is_ok());
        assert!(matches!(
            secure_url("issuer", "http://connect.authentiq.io/"),
            Err(ConfigError::Insecure { .. })
        ));
        assert!(matches!(
            secure_url("issuer", "http://10.0.0.1/"),
            Err(ConfigError::Insecure { .. })
        ));
        assert!(matches!(
            secure_url("issuer", "ftp://x/"),
            Err(ConfigError::InvalidUrl { .. })
        ));
        assert!(matches!(
            secure_url("issuer", "not a url"),
            Err(ConfigError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn builder_checks() {
        let ok = ConfigBuilder::new("https://connect.authentiq.io/", "c")
            .public_url("https://app.example.com/")
            .session_key(vec![1u8; 64])
            .into_config()
            .unwrap();
        assert_eq!(ok.redirect_uri(), "https://app.example.com/auth/callback");
        assert!(ok.secure_cookies());
        assert!(format!("{ok:?}").contains("<redacted>"));
        let short = ConfigBuilder::new("https://connect.authentiq.io/", "c")
            .public_url("https://app.example.com")
            .session_key(vec![1u8; 8])
            .into_config();
        assert!(matches!(
            short,
            Err(ConfigError::Invalid {
                name: "session key",
                ..
            })
        ));
        let bad_scope = ConfigBuilder::new("https://connect.authentiq.io/", "c")
            .public_url("https://app.example.com")
            .scope("name~s")
            .into_config();
        assert!(matches!(
            bad_scope,
            Err(ConfigError::Invalid { name: "scope", .. })
        ));
        let insecure = ConfigBuilder::new("http://connect.authentiq.io/", "c")
            .public_url("https://app.example.com")
            .into_config();
        assert!(matches!(insecure, Err(ConfigError::Insecure { .. })));
    }

    #[test]
    fn session_key_decoding() {
        let k = base64::engine::general_purpose::STANDARD.encode([3u8; 64]);
        assert_eq!(decode_session_key(&k).unwrap(), vec![3u8; 64]);
        assert!(decode_session_key("short").is_err());
        assert!(decode_session_key("@@@").is_err());
    }
}
