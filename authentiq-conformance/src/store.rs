//! A session store that counts session checks.

use std::sync::atomic::{AtomicUsize, Ordering};

use authentiq_core::{MemoryStore, Revocation, SessionData, SessionStore, StoreError};

/// A [`MemoryStore`] that counts [`load`](SessionStore::load)s, i.e. session checks: with it
/// as the session store, a test can tell how many times a request's session was read.
#[derive(Debug, Default)]
pub struct CountingStore {
    inner: MemoryStore,
    loads: AtomicUsize,
}

impl CountingStore {
    /// How many sessions were loaded so far.
    pub fn loads(&self) -> usize {
        self.loads.load(Ordering::SeqCst)
    }
}

#[authentiq_core::async_trait]
impl SessionStore for CountingStore {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn holds_data(&self) -> bool {
        true
    }
    async fn load(&self, id: &str) -> Result<Option<SessionData>, StoreError> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id).await
    }
    async fn save(&self, data: &SessionData) -> Result<(), StoreError> {
        self.inner.save(data).await
    }
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        self.inner.revoke(what).await
    }
    async fn is_revoked(&self, data: &SessionData) -> Result<bool, StoreError> {
        self.inner.is_revoked(data).await
    }
    async fn refresh(&self, data: &SessionData) -> Result<bool, StoreError> {
        self.inner.refresh(data).await
    }
    async fn is_token_revoked(
        &self,
        sub: &str,
        sid: Option<&str>,
        iat: u64,
    ) -> Result<bool, StoreError> {
        self.inner.is_token_revoked(sub, sid, iat).await
    }
    async fn jti_seen(&self, jti: &str) -> Result<bool, StoreError> {
        self.inner.jti_seen(jti).await
    }
    async fn record_jti(&self, jti: &str, until: u64) -> Result<(), StoreError> {
        self.inner.record_jti(jti, until).await
    }
}
