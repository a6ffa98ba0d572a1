//! Sessions: what a signed-in browser carries, and where it lives.
//!
//! By default a session is a stateless encrypted cookie ([`CookieSessions`]) holding the
//! minimum: session id, `sub`, `iss`, the provider's `sid`, lifetimes, the claims the app asked
//! to keep, and the ID Token for `id_token_hint`. Ended sessions stay ended through a
//! revocation list of session ids, `sid`s and `sub`s. A [`SessionStore`] that holds the data
//! server-side ([`MemoryStore`], or your own) keeps only a random id in the cookie.

mod check;
mod cookie;
mod memory;
#[cfg(feature = "redis")]
mod redis;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use check::SessionCheck;
pub(crate) use check::SessionState;
pub use cookie::CookieSessions;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// A store failure (connection lost, bad data). Requests answer 503 and log it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// One signed-in browser session.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SessionData {
    /// The session id issued by this app at sign-in (random, 128 bits).
    pub id: String,
    /// The user's subject.
    pub sub: String,
    /// The issuer that authenticated the user.
    pub iss: String,
    /// The client id the session belongs to.
    pub aud: String,
    /// The provider's session id, for back-channel logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// Created, epoch seconds.
    pub iat: u64,
    /// Absolute expiry, epoch seconds.
    pub exp: u64,
    /// Last activity, epoch seconds (idle expiry).
    pub seen: u64,
    /// Identity claims kept for the app.
    #[serde(default)]
    pub claims: Map<String, Value>,
    /// The ID Token, for `id_token_hint` at logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
    /// OIDC session management state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_state: Option<String>,
}

/// What to revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One session by its id.
    Session {
        /// Session id.
        id: String,
        /// Until when the mark must be kept (the session's absolute expiry).
        until: u64,
    },
    /// Every session bound to the provider session `sid`.
    Sid {
        /// Provider session id.
        sid: String,
        /// Until when the mark must be kept.
        until: u64,
    },
    /// Every session of `sub` created before `before`.
    Sub {
        /// Subject.
        sub: String,
        /// Sessions created at or before this instant are revoked.
        before: u64,
        /// Until when the mark must be kept.
        until: u64,
    },
}

/// Where sessions live and how they are revoked. Implement it for your own backend with plain
/// `async fn`s under [`macro@crate::async_trait`]:
///
/// ```
/// use authentiq_core::{Revocation, SessionData, SessionStore, StoreError, async_trait};
///
/// struct Nowhere;
///
/// #[async_trait]
/// impl SessionStore for Nowhere {
///     fn name(&self) -> &'static str { "nowhere" }
///     fn holds_data(&self) -> bool { true }
///     async fn load(&self, _id: &str) -> Result<Option<SessionData>, StoreError> { Ok(None) }
///     async fn save(&self, _data: &SessionData) -> Result<(), StoreError> {
///         Err(StoreError("this store keeps nothing".into()))
///     }
///     async fn revoke(&self, _what: Revocation) -> Result<(), StoreError> { Ok(()) }
///     async fn is_revoked(&self, _data: &SessionData) -> Result<bool, StoreError> { Ok(false) }
/// }
/// ```
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// `true` when the store holds session data (the cookie then carries only the id);
    /// `false` when the data lives in the cookie and the store only tracks revocations.
    fn holds_data(&self) -> bool;
    /// Loads a session by id (only called when [`holds_data`](Self::holds_data)).
    async fn load(&self, id: &str) -> Result<Option<SessionData>, StoreError>;
    /// Saves a session (only called when [`holds_data`](Self::holds_data)); it may be dropped
    /// after `data.exp`.
    async fn save(&self, data: &SessionData) -> Result<(), StoreError>;
    /// Revokes sessions.
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError>;
    /// Whether `data` was revoked.
    async fn is_revoked(&self, data: &SessionData) -> Result<bool, StoreError>;
}

/// Locks a mutex, taking the data of a poisoned one (every critical section here leaves the
/// data consistent).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::Map;

    pub(crate) fn data(id: &str, sub: &str, sid: Option<&str>, iat: u64) -> SessionData {
        SessionData {
            id: id.into(),
            sub: sub.into(),
            iss: "i".into(),
            aud: "c".into(),
            sid: sid.map(Into::into),
            iat,
            exp: u64::MAX,
            seen: iat,
            claims: Map::new(),
            id_token: None,
            session_state: None,
        }
    }
}
