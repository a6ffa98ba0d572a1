//! [`Authentiq`]: the configured SDK, shared by every request.

use std::sync::Arc;

use crate::config::{Config, ConfigBuilder};
use crate::crypto::CookieCipher;
use crate::error::ConfigError;
use crate::provider::{Provider, ProviderMetadata};
use crate::verified_cache::BearerCache;

pub(crate) struct Inner {
    pub(crate) cfg: Config,
    pub(crate) provider: Provider,
    pub(crate) session_cipher: CookieCipher,
    pub(crate) flow_cipher: CookieCipher,
    pub(crate) device_cipher: CookieCipher,
    pub(crate) names: CookieNames,
    /// The HS256 key made from the client secret once, not on every token; `None` without a
    /// secret.
    pub(crate) hs256_key: Option<crate::crypto::HmacKey>,
    /// Bearer ID Tokens that passed every check.
    pub(crate) bearer_cache: BearerCache,
    /// Opened session cookies (cookie mode), so a hot session is not decrypted and parsed on
    /// every request.
    pub(crate) session_cache: crate::verified_cache::VerifiedCache<crate::session::OpenSession>,
}

pub(crate) struct CookieNames {
    pub(crate) session: String,
    pub(crate) flow_prefix: String,
    pub(crate) device: String,
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
    pub(crate) inner: Arc<Inner>,
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
            device: format!("{prefix}authentiq_device"),
        };
        Ok(Self {
            inner: Arc::new(Inner {
                session_cipher: CookieCipher::new(&cfg.session_keys, "session"),
                flow_cipher: CookieCipher::new(&cfg.session_keys, "flow"),
                device_cipher: CookieCipher::new(&cfg.session_keys, "device"),
                names,
                hs256_key: crate::crypto::HmacKey::new(cfg.client_secret.as_bytes()),
                bearer_cache: BearerCache::default(),
                session_cache: Default::default(),
                provider,
                cfg,
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

    /// How many verified bearer ID Tokens are remembered now (for metrics). A token enters
    /// only after it passed every check, and the number is bounded.
    pub fn remembered_bearer_tokens(&self) -> usize {
        self.inner.bearer_cache.len()
    }

    /// How many opened session cookies are remembered now (cookie mode; for metrics). A
    /// cookie enters only after it decrypted and passed its checks, until its session would
    /// expire, and the number is bounded.
    pub fn remembered_sessions(&self) -> usize {
        self.inner.session_cache.len()
    }

    /// The session cookie's name (`__Host-` prefixed on https).
    pub fn session_cookie_name(&self) -> &str {
        &self.inner.names.session
    }

    pub(crate) fn cookie(&self, name: &str, value: &str, max_age: u64) -> String {
        self.cookie_with(name, value, max_age, cookie::SameSite::Lax)
    }

    /// A cookie as [`Self::cookie`] makes it, with another `SameSite`.
    pub(crate) fn cookie_with(
        &self,
        name: &str,
        value: &str,
        max_age: u64,
        same_site: cookie::SameSite,
    ) -> String {
        let secure = self.inner.cfg.secure_cookies();
        cookie::Cookie::build((name, value))
            .path("/")
            .http_only(true)
            .secure(secure)
            .same_site(same_site)
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
