//! The example contract's environment variables, read once, here, for every app.

use std::sync::Arc;

use base64::Engine as _;

use super::builder::ConfigBuilder;
use crate::error::ConfigError;
use crate::scope::Scopes;
use crate::session::SessionStore;
use crate::token::ClientKeys;

/// Where sessions live, as `APP_SESSION_STORE` names it.
///
/// ```
/// use authentiq_core::SessionStoreSetting;
/// assert_eq!("memory".parse(), Ok(SessionStoreSetting::Memory));
/// assert_eq!(
///     "redis://127.0.0.1:6379".parse(),
///     Ok(SessionStoreSetting::Redis("redis://127.0.0.1:6379".into()))
/// );
/// assert!("postgres://db".parse::<SessionStoreSetting>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionStoreSetting {
    /// `cookie`: a stateless encrypted cookie (the default).
    Cookie,
    /// `memory`: this process's memory.
    Memory,
    /// A `redis://` or `rediss://` URL: shared by every app instance (needs the `redis`
    /// feature).
    Redis(String),
}

impl std::str::FromStr for SessionStoreSetting {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "cookie" => Ok(Self::Cookie),
            "memory" => Ok(Self::Memory),
            url if url.starts_with("redis://") || url.starts_with("rediss://") => {
                Ok(Self::Redis(url.to_owned()))
            }
            other => Err(format!(
                "`{other}` is not `cookie`, `memory` or a redis:// URL"
            )),
        }
    }
}

/// Connects the Redis store `APP_SESSION_STORE` names.
pub(super) async fn connect_redis(url: &str) -> Result<Arc<dyn SessionStore>, ConfigError> {
    #[cfg(feature = "redis")]
    {
        let store = crate::session::RedisStore::connect(url)
            .await
            .map_err(|e| ConfigError::Invalid {
                name: "APP_SESSION_STORE",
                reason: e.to_string(),
            })?;
        Ok(Arc::new(store))
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = url;
        Err(ConfigError::Invalid {
            name: "APP_SESSION_STORE",
            reason: "authentiq-core was built without its `redis` feature".into(),
        })
    }
}

/// A variable's value; unset, empty and blank all count as unset.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A variable parsed by `parse`; a failure names the variable.
fn parsed<T>(
    name: &'static str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Result<Option<T>, ConfigError> {
    var(name)
        .map(|v| parse(&v).map_err(|reason| ConfigError::Invalid { name, reason }))
        .transpose()
}

impl ConfigBuilder {
    /// Reads the example contract's variables: `AUTHENTIQ_ISSUER` and `AUTHENTIQ_CLIENT_ID`
    /// (required), then every optional one as [`with_env`](Self::with_env) does. A missing
    /// required variable or a malformed value is an error naming the variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        let issuer = var("AUTHENTIQ_ISSUER").ok_or(ConfigError::Missing("AUTHENTIQ_ISSUER"))?;
        let client_id =
            var("AUTHENTIQ_CLIENT_ID").ok_or(ConfigError::Missing("AUTHENTIQ_CLIENT_ID"))?;
        Self::new(issuer, client_id).with_env()
    }

    /// Applies the optional variables that are set (an empty value counts as unset):
    /// `AUTHENTIQ_CLIENT_SECRET`, `AUTHENTIQ_SCOPE`, `APP_PUBLIC_URL` (or `http://<APP_ADDR>`,
    /// or `http://127.0.0.1:8000`), `APP_SESSION_KEY` (base64, at least 32 bytes),
    /// `AUTHENTIQ_CLIENT_AUTH`, `APP_SESSION_STORE`, `APP_DEVICE_DAYS`, `AUTHENTIQ_CLIENT_KEYS`
    /// (JWKS text or `@<path>`) and `AUTHENTIQ_ID_TOKEN_ENCRYPTION`. Settings made after this
    /// call win.
    pub fn with_env(self) -> Result<Self, ConfigError> {
        let mut b = self;
        if let Some(s) = var("AUTHENTIQ_CLIENT_SECRET") {
            b = b.client_secret(s);
        }
        if let Some(scopes) = parsed("AUTHENTIQ_SCOPE", Scopes::parse)? {
            b = b.scopes(scopes);
        }
        b = b.public_url(match (var("APP_PUBLIC_URL"), var("APP_ADDR")) {
            (Some(u), _) => u,
            (None, Some(a)) => format!("http://{a}"),
            (None, None) => "http://127.0.0.1:8000".to_owned(),
        });
        if let Some(key) = parsed("APP_SESSION_KEY", decode_session_key)? {
            b = b.session_key(key);
        }
        if let Some(m) = parsed("AUTHENTIQ_CLIENT_AUTH", str::parse)? {
            b = b.client_auth(m);
        }
        if let Some(store) = parsed("APP_SESSION_STORE", str::parse)? {
            b = b.session_store_setting(store);
        }
        if let Some(days) = parsed("APP_DEVICE_DAYS", parse_device_days)? {
            b = b.device_days(days);
        }
        if let Some(keys) = parsed("AUTHENTIQ_CLIENT_KEYS", read_client_keys)? {
            b = b.client_key_set(keys);
        }
        if let Some(mode) = parsed("AUTHENTIQ_ID_TOKEN_ENCRYPTION", str::parse)? {
            b = b.id_token_encryption(mode);
        }
        Ok(b)
    }
}

/// Parses `APP_DEVICE_DAYS`: whole days, `0` (off) to 3650.
fn parse_device_days(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(d) if d <= 3650 => Ok(d),
        _ => Err(format!(
            "`{}` is not a number of days from 0 (off) to 3650",
            crate::error::safe_text(text)
        )),
    }
}

/// Reads `AUTHENTIQ_CLIENT_KEYS`: JWKS text, or `@<path>` to a file holding it.
pub(crate) fn read_client_keys(value: &str) -> Result<ClientKeys, String> {
    let value = value.trim();
    match value.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read the key file `{path}`: {e}"))?;
            ClientKeys::from_jwks(&text).map_err(|e| format!("in `{path}`: {e}"))
        }
        None => ClientKeys::from_jwks(value),
    }
}

/// Decodes a session key: base64 (standard or url-safe, padded or not), at least 32 bytes.
pub(crate) fn decode_session_key(text: &str) -> Result<Vec<u8>, String> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn session_key_decoding() {
        let k = base64::engine::general_purpose::STANDARD.encode([3u8; 64]);
        assert_eq!(decode_session_key(&k).unwrap(), vec![3u8; 64]);
        assert!(decode_session_key("short").is_err());
        assert!(decode_session_key("@@@").is_err());
    }
}
