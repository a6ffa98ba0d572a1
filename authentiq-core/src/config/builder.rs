//! [`ConfigBuilder`]: a [`Config`] at its defaults, changed setting by setting, checked once at
//! [`into_config`](ConfigBuilder::into_config).

use std::sync::Arc;
use std::time::Duration;

use url::Url;

use super::env::SessionStoreSetting;
use super::{
    ClientAuthMethod, Config, EndpointOverrides, IdTokenEncryption, RoutePaths, SessionConfig,
    secure_url,
};
use crate::error::ConfigError;
use crate::scope::Scopes;
use crate::session::{MemoryStore, SessionStore};
use crate::token::{AlgPolicy, ClientKeys};

/// Builds a [`Config`]. Obtain one from [`crate::Authentiq::builder`] or
/// [`ConfigBuilder::from_env`]. Its `Debug` output redacts the client secret and never shows
/// session keys.
#[derive(Debug)]
pub struct ConfigBuilder {
    pub(super) config: Config,
    /// The public URL as given; checked and normalised by `into_config`.
    pub(super) public_url: Option<String>,
    /// A store named by text (`APP_SESSION_STORE`); a Redis one connects at `build`.
    pub(super) store: Option<SessionStoreSetting>,
    /// The first setting a setter could not accept, reported by `into_config`.
    pub(super) problem: Option<ConfigError>,
}

/// A setter for a field of the wrapped [`Config`].
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident $(. $sub:ident)?: $ty:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.config.$name $(. $sub)? = value;
            self
        }
    )*};
}

impl ConfigBuilder {
    pub(crate) fn new(issuer: impl Into<String>, client_id: impl Into<String>) -> Self {
        Self {
            config: Config::defaults(issuer.into(), client_id.into()),
            public_url: None,
            store: None,
            problem: None,
        }
    }

    fn problem(mut self, e: ConfigError) -> Self {
        self.problem.get_or_insert(e);
        self
    }

    /// The client secret (also the HS256 key for token-endpoint ID Tokens).
    pub fn client_secret(mut self, secret: impl Into<String>) -> Self {
        self.config.client_secret = secret.into();
        self
    }
    /// The app's external base URL; the redirect URI is `<public_url><callback path>`.
    pub fn public_url(mut self, url: impl Into<String>) -> Self {
        self.public_url = Some(url.into());
        self
    }
    /// Requested scopes.
    pub fn scopes(mut self, scopes: Scopes) -> Self {
        self.config.scopes = scopes;
        self
    }
    /// Requested scopes in Authentiq syntax (e.g. `"aq:name email~rs aq:push"`); a malformed
    /// list is reported by [`build`](Self::build).
    pub fn scope(self, scopes: &str) -> Self {
        match Scopes::parse(scopes) {
            Ok(s) => self.scopes(s),
            Err(reason) => self.problem(ConfigError::Invalid {
                name: "scope",
                reason,
            }),
        }
    }
    /// The key cookies are encrypted with (at least 32 bytes; 64 recommended). Call again to
    /// add older keys that are still accepted for decryption (rotation): the first is current.
    /// Without a key, a random one is made per process and sessions end at restart.
    pub fn session_key(mut self, key: impl Into<Vec<u8>>) -> Self {
        let key = key.into();
        if key.len() < 32 {
            return self.problem(ConfigError::Invalid {
                name: "session key",
                reason: format!("{} bytes; at least 32 are needed", key.len()),
            });
        }
        self.config.session_keys.push(key);
        self
    }
    /// The client's own private keys for end-to-end encrypted ID Tokens, as JWKS text (the
    /// value of `AUTHENTIQ_CLIENT_KEYS`): RSA of at least 2048 bits and/or EC P-256, each with
    /// a `kid`. A malformed set is reported by [`build`](Self::build), naming the key and why.
    /// With keys set, ID Tokens must arrive encrypted unless
    /// [`id_token_encryption`](Self::id_token_encryption) makes it optional.
    pub fn client_keys(mut self, jwks: &str) -> Self {
        match ClientKeys::from_jwks(jwks) {
            Ok(keys) => {
                self.config.client_keys = Some(keys);
                self
            }
            Err(reason) => self.problem(ConfigError::Invalid {
                name: "AUTHENTIQ_CLIENT_KEYS",
                reason,
            }),
        }
    }
    /// A client key set already parsed (see [`ClientKeys`]).
    pub fn client_key_set(mut self, keys: ClientKeys) -> Self {
        self.config.client_keys = Some(keys);
        self
    }
    /// Whether ID Tokens must be encrypted (default: required once client keys are set).
    pub fn id_token_encryption(mut self, mode: IdTokenEncryption) -> Self {
        self.config.id_token_encryption = Some(mode);
        self
    }
    /// Adds an authorization parameter passed through unchanged (e.g. `login_hint`).
    pub fn extra_param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.config.extra_params.push((name.into(), value.into()));
        self
    }
    /// Adds an audience, besides the client id, that may appear in `aud`.
    pub fn trusted_audience(mut self, aud: impl Into<String>) -> Self {
        self.config.trusted_audiences.push(aud.into());
        self
    }
    /// Where sessions live (see [`crate::SessionStore`]).
    pub fn session_store(mut self, store: Arc<dyn SessionStore>) -> Self {
        self.config.session.store = store;
        self.store = None;
        self
    }
    /// Where sessions live, named as `APP_SESSION_STORE` names it: `cookie`, `memory` or a
    /// `redis://` URL (which connects at [`build`](Self::build); needs the `redis` feature).
    pub fn session_store_setting(mut self, setting: SessionStoreSetting) -> Self {
        self.store = Some(setting);
        self
    }

    setters! {
        /// Token endpoint client authentication.
        client_auth: ClientAuthMethod;
        /// Clock leeway (default 60 s).
        leeway: Duration;
        /// Per-channel algorithm policy.
        alg_policy: AlgPolicy;
        /// Refuse bearer tokens issued longer ago than this.
        max_token_age: Option<Duration>;
        /// Send PKCE S256 (default true).
        pkce: bool;
        /// `prompt` parameter.
        prompt: Option<String>;
        /// `display` parameter.
        display: Option<String>;
        /// `max_age` parameter, in seconds.
        max_age: Option<u64>;
        /// `ui_locales` parameter.
        ui_locales: Option<String>;
        /// Authentiq's `display_errors` parameter.
        display_errors: Option<String>;
        /// Fetch UserInfo after the code exchange.
        fetch_userinfo: bool;
        /// Route paths.
        routes: RoutePaths;
        /// Endpoint overrides.
        endpoints: EndpointOverrides;
        /// Session settings (lifetimes, claims kept, store).
        session: SessionConfig;
        /// Timeout per provider request.
        http_timeout: Duration;
        /// Least time between JWKS refetches outside the cache's expiry (unknown key id,
        /// failing signature, retry after a failed refresh).
        jwks_refetch_interval: Duration;
        /// Where the provider sends the browser after logout.
        post_logout_redirect_uri: Option<String>;
        /// Days a browser stays remembered for one-click sign-in; `0` turns it off (default 90).
        device_days: u64;
    }

    /// Checks everything that can be checked without the network. A Redis store named by
    /// [`session_store_setting`](Self::session_store_setting) is not connected here: use
    /// [`build`](Self::build).
    pub fn into_config(self) -> Result<Config, ConfigError> {
        if let Some(e) = self.problem {
            return Err(e);
        }
        let mut cfg = self.config;
        secure_url("issuer", &cfg.issuer)?;
        if cfg.client_id.trim().is_empty() {
            return Err(ConfigError::Missing("client id"));
        }
        let public = self
            .public_url
            .ok_or(ConfigError::Missing("public URL (APP_PUBLIC_URL)"))?;
        cfg.public_url = public_url(&public)?;
        match self.store {
            None | Some(SessionStoreSetting::Cookie) => {}
            Some(SessionStoreSetting::Memory) => {
                cfg.session.store = Arc::new(MemoryStore::default());
            }
            Some(SessionStoreSetting::Redis(_)) => {
                return Err(ConfigError::Invalid {
                    name: "APP_SESSION_STORE",
                    reason: "a Redis store connects at build(), not into_config()".into(),
                });
            }
        }
        if !cfg.session_keys.is_empty() && !cfg.session.store.holds_data() {
            tracing::warn!(
                store = cfg.session.store.name(),
                "sessions live in cookies under a fixed key, and logouts are remembered in this process only: after a restart, a copy of a logged-out cookie opens again until it expires (configure a Redis store to keep logouts)"
            );
        }
        if cfg.session_keys.is_empty() {
            tracing::warn!(
                "no session key configured (APP_SESSION_KEY): using a random key, so sessions end when the process restarts"
            );
            let mut k = vec![0u8; 64];
            aws_lc_rs::rand::fill(&mut k).map_err(|_| ConfigError::Invalid {
                name: "session key",
                reason: "the system random generator failed".into(),
            })?;
            cfg.session_keys.push(k);
        }
        if cfg.client_secret.is_empty() && cfg.alg_policy.hs256_from_token_endpoint {
            tracing::info!(
                "no client secret: HS256 ID Tokens cannot be verified and the token endpoint will be called without a secret"
            );
        }
        if cfg.client_keys.is_none() && cfg.id_token_encryption == Some(IdTokenEncryption::Required)
        {
            return Err(ConfigError::Invalid {
                name: "AUTHENTIQ_ID_TOKEN_ENCRYPTION",
                reason: "`required` needs client keys (AUTHENTIQ_CLIENT_KEYS)".into(),
            });
        }
        cfg.check_routes()?;
        Ok(cfg)
    }

    /// Validates the configuration, connects a Redis store named by text, reads the
    /// provider's discovery document and keys, and returns a ready [`crate::Authentiq`].
    /// Every failure here is a start-up error.
    pub async fn build(mut self) -> Result<crate::Authentiq, ConfigError> {
        if let Some(SessionStoreSetting::Redis(url)) = &self.store {
            let store = super::env::connect_redis(url).await?;
            self = self.session_store(store);
        }
        crate::Authentiq::from_config(self.into_config()?).await
    }
}

/// The public URL: absolute http(s), without trailing slash, query or fragment.
fn public_url(value: &str) -> Result<Url, ConfigError> {
    let invalid = |reason: String| ConfigError::InvalidUrl {
        what: "public URL",
        value: value.to_owned(),
        reason,
    };
    let mut url = Url::parse(value).map_err(|e| invalid(e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err(invalid("must be an absolute http(s) URL".into()));
    }
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}
