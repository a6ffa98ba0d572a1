//! The default mode: session data sealed in the cookie, revocations in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Revocation, SessionData, SessionStore, StoreError, lock};
use crate::clock;

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
            let now = clock::now();
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

/// The default: session data in an encrypted cookie, revocations in this process's memory.
///
/// With several app instances, use a shared store (Redis) so that a logout on one instance is
/// seen by all.
#[derive(Default, Debug)]
pub struct CookieSessions {
    marks: Mutex<Marks>,
}

#[async_trait::async_trait]
impl SessionStore for CookieSessions {
    fn name(&self) -> &'static str {
        "cookie"
    }
    fn holds_data(&self) -> bool {
        false
    }
    async fn load(&self, _id: &str) -> Result<Option<SessionData>, StoreError> {
        Ok(None)
    }
    async fn save(&self, _data: &SessionData) -> Result<(), StoreError> {
        Ok(())
    }
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        lock(&self.marks).add(what);
        Ok(())
    }
    async fn is_revoked(&self, data: &SessionData) -> Result<bool, StoreError> {
        Ok(lock(&self.marks).matches(data))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::session::tests::data;

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
}
