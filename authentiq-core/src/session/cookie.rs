//! The default mode: session data sealed in the cookie, revocations in this process's memory.

use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::marks::Marks;
use super::{Revocation, SessionData, SessionStore, StoreError, read, write};

/// The default: session data in an encrypted cookie, revocations in this process's memory.
///
/// The revocation list lives only as long as the process: after a restart, a copy of a
/// logged-out cookie that has not reached its own expiry opens again (with a fixed
/// `APP_SESSION_KEY`; a random per-process key ends every session at restart instead). With
/// several app instances, or to keep logouts across restarts, use a store that holds data
/// (`RedisStore`), so that a logout on one instance is seen by all.
#[derive(Default, Debug)]
pub struct CookieSessions {
    marks: RwLock<Marks>,
    /// Counts the revocations recorded: [`SessionStore::revocation_version`].
    revocations: AtomicU64,
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
    async fn refresh(&self, _data: &SessionData) -> Result<bool, StoreError> {
        Ok(true)
    }
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        write(&self.marks).add(what);
        // After the mark is in: a guard that sees the new number sees the mark.
        self.revocations.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn revocation_version(&self) -> Option<u64> {
        Some(self.revocations.load(Ordering::SeqCst))
    }
    async fn is_revoked(&self, data: &SessionData) -> Result<bool, StoreError> {
        let marks = read(&self.marks);
        Ok(marks.session_ended(&data.id) || marks.ended(&data.sub, data.sid.as_deref(), data.iat))
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
            before: 150,
            until: u64::MAX,
        })
        .await
        .unwrap();
        assert!(s.is_revoked(&b).await.unwrap());
        // A later sign-in that the provider gives the same sid lives on.
        assert!(
            !s.is_revoked(&data("b2", "alice", Some("sid2"), 151))
                .await
                .unwrap()
        );
        // ID Tokens obey the same marks.
        assert!(
            s.is_token_revoked("alice", Some("sid2"), 150)
                .await
                .unwrap()
        );
        assert!(
            !s.is_token_revoked("alice", Some("sid2"), 151)
                .await
                .unwrap()
        );
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
        assert!(s.is_token_revoked("alice", None, 200).await.unwrap());
        assert!(!s.is_token_revoked("alice", None, 201).await.unwrap());
        assert!(!s.is_token_revoked("bob", None, 1).await.unwrap());
    }

    #[tokio::test]
    async fn logout_token_ids_are_remembered_once_recorded() {
        let s = CookieSessions::default();
        assert!(!s.jti_seen("j1").await.unwrap());
        s.record_jti("j1", u64::MAX).await.unwrap();
        assert!(s.jti_seen("j1").await.unwrap());
        assert!(!s.jti_seen("j2").await.unwrap());
    }
}
