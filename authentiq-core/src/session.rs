//! Sessions: what a signed-in browser carries, and where it lives.
//!
//! By default a session is a stateless encrypted cookie ([`CookieSessions`]) holding the
//! minimum: session id, `sub`, `iss`, the provider's `sid`, lifetimes, the claims the app asked
//! to keep, and the ID Token for `id_token_hint`. Ended sessions stay ended through a
//! revocation list of session ids, `sid`s and `sub`s. A [`SessionStore`] that holds the data
//! server-side ([`MemoryStore`], or your own) keeps only a random id in the cookie.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A boxed future, so stores can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

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

/// Where sessions live and how they are revoked. Implement it for your own backend.
pub trait SessionStore: Send + Sync + 'static {
    /// A short name for logs.
    fn name(&self) -> &'static str;
    /// `true` when the store holds session data (the cookie then carries only the id);
    /// `false` when the data lives in the cookie and the store only tracks revocations.
    fn holds_data(&self) -> bool;
    /// Loads a session by id (only called when [`holds_data`](Self::holds_data)).
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SessionData>, StoreError>>;
    /// Saves a session (only called when [`holds_data`](Self::holds_data)); it may be dropped
    /// after `data.exp`.
    fn save<'a>(&'a self, data: &'a SessionData) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Revokes sessions.
    fn revoke<'a>(&'a self, what: Revocation) -> BoxFuture<'a, Result<(), StoreError>>;
    /// Whether `data` was revoked.
    fn is_revoked<'a>(&'a self, data: &'a SessionData) -> BoxFuture<'a, Result<bool, StoreError>>;
}

/// Revocation marks kept in memory, pruned as they expire.
#[derive(Default, Debug)]
struct Marks {
    sessions: HashMap<String, u64>,
    sids: HashMap<String, u64>,
    /// sub → (revoked-before, keep-until)
    subs: HashMap<String, (u64, u64)>,
    ops: u32,
}

impl Marks {
    fn add(&mut self, what: Revocation) {
        match what {
            Revocation::Session { id, until } => {
                self.sessions.insert(id, until);
            }
            Revocation::Sid { sid, until } => {
                self.sids.insert(sid, until);
            }
            Revocation::Sub { sub, before, until } => {
                let e = self.subs.entry(sub).or_insert((before, until));
                e.0 = e.0.max(before);
                e.1 = e.1.max(until);
            }
        }
        self.ops += 1;
        if self.ops.is_multiple_of(256) {
            let now = crate::jose::now();
            self.sessions.retain(|_, u| *u > now);
            self.sids.retain(|_, u| *u > now);
            self.subs.retain(|_, (_, u)| *u > now);
        }
    }

    fn matches(&self, d: &SessionData) -> bool {
        if self.sessions.is_empty() && self.sids.is_empty() && self.subs.is_empty() {
            return false;
        }
        self.sessions.contains_key(&d.id)
            || d.sid.as_ref().is_some_and(|s| self.sids.contains_key(s))
            || self
                .subs
                .get(&d.sub)
                .is_some_and(|(before, _)| d.iat <= *before)
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The default: session data in an encrypted cookie, revocations in this process's memory.
///
/// With several app instances, use a shared store (Redis) so that a logout on one instance is
/// seen by all.
#[derive(Default, Debug)]
pub struct CookieSessions {
    marks: Mutex<Marks>,
}

impl SessionStore for CookieSessions {
    fn name(&self) -> &'static str {
        "cookie"
    }
    fn holds_data(&self) -> bool {
        false
    }
    fn load<'a>(&'a self, _id: &'a str) -> BoxFuture<'a, Result<Option<SessionData>, StoreError>> {
        Box::pin(async { Ok(None) })
    }
    fn save<'a>(&'a self, _data: &'a SessionData) -> BoxFuture<'a, Result<(), StoreError>> {
        Box::pin(async { Ok(()) })
    }
    fn revoke<'a>(&'a self, what: Revocation) -> BoxFuture<'a, Result<(), StoreError>> {
        lock(&self.marks).add(what);
        Box::pin(async { Ok(()) })
    }
    fn is_revoked<'a>(&'a self, data: &'a SessionData) -> BoxFuture<'a, Result<bool, StoreError>> {
        let r = lock(&self.marks).matches(data);
        Box::pin(async move { Ok(r) })
    }
}

/// Sessions held in this process's memory; the cookie carries only the session id.
#[derive(Default, Debug)]
pub struct MemoryStore {
    sessions: Mutex<HashMap<String, SessionData>>,
}

impl SessionStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn holds_data(&self) -> bool {
        true
    }
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SessionData>, StoreError>> {
        let now = crate::jose::now();
        let found = lock(&self.sessions)
            .get(id)
            .filter(|d| d.exp > now)
            .cloned();
        Box::pin(async move { Ok(found) })
    }
    fn save<'a>(&'a self, data: &'a SessionData) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut map = lock(&self.sessions);
        if map.len() % 1024 == 1023 {
            let now = crate::jose::now();
            map.retain(|_, d| d.exp > now);
        }
        map.insert(data.id.clone(), data.clone());
        Box::pin(async { Ok(()) })
    }
    fn revoke<'a>(&'a self, what: Revocation) -> BoxFuture<'a, Result<(), StoreError>> {
        let mut map = lock(&self.sessions);
        match what {
            Revocation::Session { id, .. } => {
                map.remove(&id);
            }
            Revocation::Sid { sid, .. } => {
                map.retain(|_, d| d.sid.as_deref() != Some(sid.as_str()))
            }
            Revocation::Sub { sub, before, .. } => {
                map.retain(|_, d| !(d.sub == sub && d.iat <= before))
            }
        }
        Box::pin(async { Ok(()) })
    }
    fn is_revoked<'a>(&'a self, _data: &'a SessionData) -> BoxFuture<'a, Result<bool, StoreError>> {
        // Revoked sessions are deleted, so a session that loads is live.
        Box::pin(async { Ok(false) })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn data(id: &str, sub: &str, sid: Option<&str>, iat: u64) -> SessionData {
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

    #[tokio::test]
    async fn cookie_revocations() {
        let s = CookieSessions::default();
        let a = data("a", "alice", Some("sid1"), 100);
        let b = data("b", "alice", Some("sid2"), 100);
        let c = data("c", "alice", None, 300);
        assert!(!s.is_revoked(&a).await.unwrap());
        s.revoke(Revocation::Session {
            id: "a".into(),
            until: u64::MAX,
        })
        .await
        .unwrap();
        assert!(s.is_revoked(&a).await.unwrap());
        assert!(!s.is_revoked(&b).await.unwrap());
        s.revoke(Revocation::Sid {
            sid: "sid2".into(),
            until: u64::MAX,
        })
        .await
        .unwrap();
        assert!(s.is_revoked(&b).await.unwrap());
        s.revoke(Revocation::Sub {
            sub: "alice".into(),
            before: 200,
            until: u64::MAX,
        })
        .await
        .unwrap();
        // A session created after the sub-wide revocation stays valid.
        assert!(!s.is_revoked(&c).await.unwrap());
        assert!(s.is_revoked(&data("d", "alice", None, 150)).await.unwrap());
    }

    #[tokio::test]
    async fn memory_store_revocations() {
        let s = MemoryStore::default();
        for d in [
            data("a", "alice", Some("x"), 1),
            data("b", "bob", Some("y"), 1),
            data("c", "bob", None, 1),
        ] {
            s.save(&d).await.unwrap();
        }
        assert!(s.load("a").await.unwrap().is_some());
        s.revoke(Revocation::Sid {
            sid: "x".into(),
            until: 0,
        })
        .await
        .unwrap();
        assert!(s.load("a").await.unwrap().is_none());
        s.revoke(Revocation::Sub {
            sub: "bob".into(),
            before: 5,
            until: 0,
        })
        .await
        .unwrap();
        assert!(s.load("b").await.unwrap().is_none());
        assert!(s.load("c").await.unwrap().is_none());
        assert!(s.load("never-issued").await.unwrap().is_none());
    }
}
