//! Sessions: what a signed-in browser carries, and where it lives.
//!
//! By default a session is a stateless encrypted cookie ([`CookieSessions`]) holding the
//! minimum: session id, `sub`, `iss`, the provider's `sid`, lifetimes, the claims the app asked
//! to keep, and the ID Token for `id_token_hint`. Ended sessions stay ended through a
//! revocation list of session ids, `sid`s and `sub`s. A [`SessionStore`] that holds the data
//! server-side ([`MemoryStore`], or your own) keeps only a random id in the cookie.

mod check;
mod cookie;
mod marks;
mod memory;
#[cfg(feature = "redis")]
mod redis;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use check::SessionCheck;
pub(crate) use check::{OpenSession, SessionState};
pub use cookie::CookieSessions;
pub use memory::MemoryStore;
#[cfg(feature = "redis")]
pub use redis::RedisStore;

/// A store failure (connection lost, bad data). Requests answer 503 and log it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StoreError(pub String);

/// One signed-in browser session. Its `Debug` output shows who and when, never the session
/// id, the claims' values or the ID Token.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
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

impl std::fmt::Debug for SessionData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionData")
            .field("sub", &self.sub)
            .field("iss", &self.iss)
            .field("aud", &self.aud)
            .field("iat", &self.iat)
            .field("exp", &self.exp)
            .field("seen", &self.seen)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .field("id_token", &self.id_token.as_ref().map(|_| "<redacted>"))
            .finish_non_exhaustive()
    }
}

/// What to revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Revocation {
    /// One session by its id (a local logout).
    Session {
        /// Session id.
        id: String,
        /// Until when the mark must be kept (the session's absolute expiry).
        until: u64,
    },
    /// The sessions and ID Tokens of the provider session `sid` that began at or before
    /// `before` (a logout token's `iat`, or the instant of a local logout). Later sign-ins
    /// with the same `sid` live on.
    Sid {
        /// Provider session id.
        sid: String,
        /// Sessions created, and ID Tokens issued, at or before this instant are ended.
        before: u64,
        /// Until when the mark must be kept.
        until: u64,
    },
    /// The sessions and ID Tokens of `sub` that began at or before `before`.
    Sub {
        /// Subject.
        sub: String,
        /// Sessions created, and ID Tokens issued, at or before this instant are ended.
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
/// /// A store whose backend is down for good.
/// struct Down;
///
/// fn down<T>() -> Result<T, StoreError> {
///     Err(StoreError("the backend is unreachable".into()))
/// }
///
/// #[async_trait]
/// impl SessionStore for Down {
///     fn name(&self) -> &'static str { "down" }
///     fn holds_data(&self) -> bool { true }
///     async fn load(&self, _id: &str) -> Result<Option<SessionData>, StoreError> { down() }
///     async fn save(&self, _data: &SessionData) -> Result<(), StoreError> { down() }
///     async fn refresh(&self, _data: &SessionData) -> Result<bool, StoreError> { down() }
///     async fn revoke(&self, _what: Revocation) -> Result<(), StoreError> { down() }
///     async fn is_revoked(&self, _data: &SessionData) -> Result<bool, StoreError> { down() }
///     async fn is_token_revoked(&self, _sub: &str, _sid: Option<&str>, _iat: u64)
///         -> Result<bool, StoreError> { down() }
///     async fn jti_seen(&self, _jti: &str) -> Result<bool, StoreError> { down() }
///     async fn record_jti(&self, _jti: &str, _until: u64) -> Result<(), StoreError> { down() }
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
    /// Saves a new session (only called when [`holds_data`](Self::holds_data)); it may be
    /// dropped after `data.exp`.
    async fn save(&self, data: &SessionData) -> Result<(), StoreError>;
    /// Saves a session that is already stored (the idle timer slid), and only if it still is:
    /// `false` when it is gone, so that a logout landing between a load and this call is never
    /// undone. Only called when [`holds_data`](Self::holds_data).
    async fn refresh(&self, data: &SessionData) -> Result<bool, StoreError>;
    /// Revokes sessions. It must not return before the revocation is durable: a logout
    /// answers success only after it.
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError>;
    /// Whether the session `data` was revoked.
    async fn is_revoked(&self, data: &SessionData) -> Result<bool, StoreError>;
    /// A number that changes with every revocation this store records, for a store whose
    /// revocations all pass through this process: it must change after the revocation is
    /// visible to [`is_revoked`](Self::is_revoked) and
    /// [`is_token_revoked`](Self::is_token_revoked), and before [`revoke`](Self::revoke)
    /// returns. The guards then ask those again about a remembered session cookie or bearer
    /// token only when the number changed since they last asked about it. `None` (the default)
    /// has them ask on every request, as a store shared with other processes must.
    fn revocation_version(&self) -> Option<u64> {
        None
    }
    /// Whether an ID Token of `sub` (with provider session `sid`) issued at `iat` was ended by
    /// a later [`Revocation::Sid`] or [`Revocation::Sub`]: bearer tokens obey logouts too.
    async fn is_token_revoked(
        &self,
        sub: &str,
        sid: Option<&str>,
        iat: u64,
    ) -> Result<bool, StoreError>;
    /// Whether the one-time value `jti` was already used: a back-channel logout token's `jti`,
    /// or `flow-state:<state>` for a completed sign-in flow.
    async fn jti_seen(&self, jti: &str) -> Result<bool, StoreError>;
    /// Records the one-time value `jti` as used until `until`. The core calls it only once
    /// what the value carried is done (the logout stored, the session created), so that a
    /// retry after a store failure is not refused.
    async fn record_jti(&self, jti: &str, until: u64) -> Result<(), StoreError>;
}

/// Locks a mutex, taking the data of a poisoned one (every critical section here leaves the
/// data consistent).
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Reads the logout marks: requests do, concurrently; only logouts write.
pub(crate) fn read<T>(m: &std::sync::RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}

/// Writes the logout marks (a logout, a used `jti`).
pub(crate) fn write<T>(m: &std::sync::RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::Map;

    #[test]
    fn debug_output_keeps_secrets_out() {
        let mut d = data("the-session-id", "alice", Some("the-sid"), 1);
        d.id_token = Some("header.payload.signature".into());
        d.claims
            .insert("email".into(), serde_json::json!("alice@example.com"));
        let shown = format!("{d:?}");
        for secret in ["the-session-id", "payload", "alice@example.com"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(
            shown.contains("alice") && shown.contains("email"),
            "{shown}"
        );
    }

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
