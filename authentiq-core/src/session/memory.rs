//! Sessions held in this process's memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};

use super::marks::Marks;
use super::{Revocation, SessionData, SessionStore, StoreError, lock, read, write};
use crate::clock;

/// Sessions held in this process's memory; the cookie carries only the session id.
#[derive(Default, Debug)]
pub struct MemoryStore {
    sessions: Mutex<HashMap<String, SessionData>>,
    /// `sid`/`sub` marks for bearer ID Tokens, and used logout-token `jti`s.
    marks: RwLock<Marks>,
    /// Counts the revocations recorded: [`SessionStore::revocation_version`].
    revocations: AtomicU64,
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn holds_data(&self) -> bool {
        true
    }
    async fn load(&self, id: &str) -> Result<Option<SessionData>, StoreError> {
        let now = clock::now();
        let found = lock(&self.sessions)
            .get(id)
            .filter(|d| d.exp > now)
            .cloned();
        Ok(found)
    }
    async fn save(&self, data: &SessionData) -> Result<(), StoreError> {
        let mut map = lock(&self.sessions);
        if map.len() % 1024 == 1023 {
            let now = clock::now();
            map.retain(|_, d| d.exp > now);
        }
        map.insert(data.id.clone(), data.clone());
        Ok(())
    }
    async fn refresh(&self, data: &SessionData) -> Result<bool, StoreError> {
        Ok(match lock(&self.sessions).get_mut(&data.id) {
            Some(stored) => {
                stored.clone_from(data);
                true
            }
            None => false,
        })
    }
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        {
            let mut map = lock(&self.sessions);
            match &what {
                Revocation::Session { id, .. } => {
                    map.remove(id);
                }
                Revocation::Sid { sid, before, .. } => {
                    map.retain(|_, d| !(d.sid.as_deref() == Some(sid.as_str()) && d.iat <= *before))
                }
                Revocation::Sub { sub, before, .. } => {
                    map.retain(|_, d| !(d.sub == *sub && d.iat <= *before))
                }
            }
        }
        write(&self.marks).add(what);
        // After the sessions are gone and the mark is in.
        self.revocations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn revocation_version(&self) -> Option<u64> {
        Some(self.revocations.load(Ordering::SeqCst))
    }
    async fn is_revoked(&self, _data: &SessionData) -> Result<bool, StoreError> {
        // Revoked sessions are deleted, so a session that loads is live.
        Ok(false)
    }
    async fn is_token_revoked(
        &self,
        sub: &str,
        sid: Option<&str>,
        iat: u64,
    ) -> Result<bool, StoreError> {
        Ok(read(&self.marks).ended(sub, sid, iat))
    }
    async fn jti_seen(&self, jti: &str) -> Result<bool, StoreError> {
        Ok(read(&self.marks).jti_seen(jti))
    }
    async fn record_jti(&self, jti: &str, until: u64) -> Result<(), StoreError> {
        write(&self.marks).record_jti(jti, until);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::session::tests::data;

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
            before: 5,
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
        // A refresh never brings back a revoked session.
        assert!(!s.refresh(&data("a", "alice", Some("x"), 1)).await.unwrap());
        assert!(s.load("a").await.unwrap().is_none());
        let live = data("live", "carol", None, 1);
        s.save(&live).await.unwrap();
        let mut slid = live.clone();
        slid.seen = 99;
        assert!(s.refresh(&slid).await.unwrap());
        assert_eq!(s.load("live").await.unwrap().unwrap().seen, 99);
        // A later session with a logged-out sid lives on.
        s.save(&data("later", "alice", Some("x"), 9)).await.unwrap();
        assert!(s.load("later").await.unwrap().is_some());
    }

    /// A revocation by sid or sub ends exactly the sessions of that sid or sub that began at
    /// or before its instant: other sids and subs, and later sessions, stay.
    #[tokio::test]
    async fn revocations_end_exactly_their_sessions() {
        let s = MemoryStore::default();
        for d in [
            data("x-early", "alice", Some("x"), 5),
            data("x-late", "alice", Some("x"), 6),
            data("y-early", "alice", Some("y"), 5),
            data("bob-early", "bob", None, 5),
            data("bob-late", "bob", Some("x"), 6),
            data("carol", "carol", None, 5),
        ] {
            s.save(&d).await.unwrap();
        }
        s.revoke(Revocation::Sid {
            sid: "x".into(),
            before: 5,
            until: u64::MAX,
        })
        .await
        .unwrap();
        let live = |ids: &[&str]| {
            let map = lock(&s.sessions);
            let mut have: Vec<&str> = map.keys().map(String::as_str).collect();
            have.sort_unstable();
            let mut want = ids.to_vec();
            want.sort_unstable();
            assert_eq!(have, want);
        };
        live(&["x-late", "y-early", "bob-early", "bob-late", "carol"]);
        s.revoke(Revocation::Sub {
            sub: "bob".into(),
            before: 5,
            until: u64::MAX,
        })
        .await
        .unwrap();
        live(&["x-late", "y-early", "bob-late", "carol"]);
        s.revoke(Revocation::Session {
            id: "carol".into(),
            until: u64::MAX,
        })
        .await
        .unwrap();
        live(&["x-late", "y-early", "bob-late"]);
        // Bearer ID Tokens obey the same marks.
        assert!(s.is_token_revoked("alice", Some("x"), 5).await.unwrap());
        assert!(!s.is_token_revoked("alice", Some("x"), 6).await.unwrap());
        assert!(s.is_token_revoked("bob", None, 5).await.unwrap());
        assert!(!s.is_token_revoked("carol", None, 1).await.unwrap());
    }

    /// A session loads until its expiry, not at it.
    #[tokio::test]
    async fn a_session_does_not_load_at_its_expiry() {
        let s = MemoryStore::default();
        loop {
            let now = clock::now();
            let mut ending = data("ending", "alice", None, 1);
            ending.exp = now;
            let mut live = data("live", "alice", None, 1);
            live.exp = now + 1;
            s.save(&ending).await.unwrap();
            s.save(&live).await.unwrap();
            let (a, b) = (
                s.load("ending").await.unwrap(),
                s.load("live").await.unwrap(),
            );
            if clock::now() == now {
                assert!(a.is_none(), "loaded at its expiry");
                assert_eq!(b.unwrap(), live);
                return;
            }
        }
    }

    /// Expired sessions are swept when the 1024th is saved, and only then.
    #[tokio::test]
    async fn saving_sweeps_expired_sessions_every_1024() {
        loop {
            let s = MemoryStore::default();
            let now = clock::now();
            let mut ended = data("ended", "alice", None, 1);
            ended.exp = now;
            s.save(&ended).await.unwrap();
            for i in 0..1022 {
                s.save(&data(&format!("s{i}"), "bob", None, 1))
                    .await
                    .unwrap();
                if i == 0 {
                    assert!(lock(&s.sessions).contains_key("ended"), "swept too early");
                }
            }
            assert_eq!(lock(&s.sessions).len(), 1023);
            assert!(lock(&s.sessions).contains_key("ended"));
            s.save(&data("the-1024th", "bob", None, 1)).await.unwrap();
            if clock::now() != now {
                continue;
            }
            let map = lock(&s.sessions);
            assert!(
                !map.contains_key("ended"),
                "an expired session outlived the sweep"
            );
            assert_eq!(map.len(), 1023);
            return;
        }
    }

    #[test]
    fn names_itself_for_logs() {
        let s = MemoryStore::default();
        assert_eq!(s.name(), "memory");
        assert!(s.holds_data());
        let c = crate::session::CookieSessions::default();
        assert_eq!(c.name(), "cookie");
        assert!(!c.holds_data());
    }
}
