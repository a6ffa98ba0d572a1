//! Configuration: [`Config`] holds every setting once; [`ConfigBuilder`] wraps it and checks
//! it, and the environment reader fills a builder from the example contract's variables.

mod builder;
mod env;

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use crate::error::ConfigError;
use crate::routes::AuthRoute;
use crate::scope::Scopes;
use crate::session::{CookieSessions, SessionStore};
use crate::token::{AlgPolicy, ClientKeys};

pub use builder::ConfigBuilder;
pub use env::SessionStoreSetting;

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

/// Whether ID Tokens must arrive encrypted to the client's keys (`AUTHENTIQ_ID_TOKEN_ENCRYPTION`).
///
/// ```
/// use authentiq_core::IdTokenEncryption;
/// assert_eq!("required".parse(), Ok(IdTokenEncryption::Required));
/// assert_eq!("optional".parse(), Ok(IdTokenEncryption::Optional));
/// assert!("maybe".parse::<IdTokenEncryption>().is_err());
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IdTokenEncryption {
    /// A plain signed ID Token is refused on every channel (the default once client keys are
    /// set): nobody can downgrade a sign-in to a token the provider could read.
    #[default]
    Required,
    /// Both encrypted and plain signed ID Tokens are accepted.
    Optional,
}

impl std::str::FromStr for IdTokenEncryption {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "required" => Ok(Self::Required),
            "optional" => Ok(Self::Optional),
            other => Err(format!("`{other}` is not `required` or `optional`")),
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
    /// The public halves of the client keys (the client's `jwks_uri`). Default `/auth/jwks`.
    pub jwks: String,
    /// Hands a page (AuthentiqJS) the parameters of a new sign-in as JSON. Default
    /// `/auth/start`.
    pub start: String,
}

impl Default for RoutePaths {
    fn default() -> Self {
        Self {
            login: "/auth/login".into(),
            callback: "/auth/callback".into(),
            logout: "/auth/logout".into(),
            forget: "/auth/forget".into(),
            backchannel_logout: "/auth/backchannel-logout".into(),
            jwks: "/auth/jwks".into(),
            start: "/auth/start".into(),
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
/// [`ConfigBuilder::from_env`].
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
    /// The least time between two JWKS refetches made outside the cache's own expiry (an
    /// unknown key id, a signature that fails with the cached key, a failed refresh being
    /// retried). Default 10 s.
    pub jwks_refetch_interval: Duration,
    /// Where the provider sends the browser after logout. Default `<public_url>/`.
    pub post_logout_redirect_uri: Option<String>,
    /// How many days a browser stays remembered for one-click sign-in (the remembered-device
    /// cookie set after a sign-in with `aq:push` granted). `0` turns it off. Default 90.
    pub device_days: u64,
    /// The client's decryption keys for end-to-end encrypted ID Tokens. Default none.
    pub client_keys: Option<ClientKeys>,
    /// Whether ID Tokens must be encrypted; `None` means required when client keys are set.
    pub id_token_encryption: Option<IdTokenEncryption>,
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
            .field("client_keys", &self.client_keys)
            .field("session", &self.session)
            .field("device_days", &self.device_days)
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

impl Config {
    /// Every setting at its default, for `issuer` and `client_id`. The public URL is
    /// `http://127.0.0.1:8000` until set.
    pub(crate) fn defaults(issuer: String, client_id: String) -> Self {
        Self {
            issuer,
            client_id,
            client_secret: String::new(),
            public_url: Url::parse("http://127.0.0.1:8000").expect("a valid literal URL"),
            scopes: Scopes::default(),
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
            device_days: 90,
            client_keys: None,
            id_token_encryption: None,
            session_keys: Vec::new(),
        }
    }

    /// Checks the route paths: each absolute, without query or fragment, and all distinct.
    pub(crate) fn check_routes(&self) -> Result<(), ConfigError> {
        for (i, route) in AuthRoute::ALL.into_iter().enumerate() {
            let path = route.path(&self.routes);
            if !path.starts_with('/') || path.contains(['?', '#']) {
                return Err(ConfigError::Invalid {
                    name: route.setting(),
                    reason: format!("`{path}` must be an absolute path"),
                });
            }
            if AuthRoute::ALL[..i]
                .iter()
                .any(|other| other.path(&self.routes) == path)
            {
                return Err(ConfigError::Invalid {
                    name: route.setting(),
                    reason: format!("`{path}` is already the path of another auth route"),
                });
            }
        }
        Ok(())
    }

    /// Whether a plain signed ID Token is refused: client keys are set and encryption is not
    /// made optional.
    pub fn encryption_required(&self) -> bool {
        self.client_keys.is_some()
            && self.id_token_encryption.unwrap_or_default() == IdTokenEncryption::Required
    }

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
        let clash = ConfigBuilder::new("https://connect.authentiq.io/", "c")
            .public_url("https://app.example.com")
            .routes(RoutePaths {
                forget: "/auth/logout".into(),
                ..RoutePaths::default()
            })
            .into_config();
        assert!(matches!(
            clash,
            Err(ConfigError::Invalid {
                name: "forget route",
                ..
            })
        ));
        let relative = ConfigBuilder::new("https://connect.authentiq.io/", "c")
            .public_url("https://app.example.com")
            .routes(RoutePaths {
                login: "auth/login".into(),
                ..RoutePaths::default()
            })
            .into_config();
        assert!(matches!(
            relative,
            Err(ConfigError::Invalid {
                name: "login route",
                ..
            })
        ));
        let builder = ConfigBuilder::new("https://connect.authentiq.io/", "c")
            .client_secret("s3cret-value")
            .session_key(vec![9u8; 64]);
        let shown = format!("{builder:?}");
        assert!(!shown.contains("s3cret-value"), "{shown}");
        assert!(!shown.contains("9, 9, 9"), "{shown}");
        let insecure = ConfigBuilder::new("http://connect.authentiq.io/", "c")
            .public_url("https://app.example.com")
            .into_config();
        assert!(matches!(insecure, Err(ConfigError::Insecure { .. })));
    }
}
