//! Sessions held in this process's memory.

use std::collections::HashMap;
use std::sync::Mutex;

use super::{Revocation, SessionData, SessionStore, StoreError, lock};
use crate::clock;

/// Sessions held in this process's memory; the cookie carries only the session id.
#[derive(Default, Debug)]
pub struct MemoryStore {
    sessions: Mutex<HashMap<String, SessionData>>,
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
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
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
        Ok(())
    }
    async fn is_revoked(&self, _data: &SessionData) -> Result<bool, StoreError> {
        // Revoked sessions are deleted, so a session that loads is live.
        Ok(false)
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
