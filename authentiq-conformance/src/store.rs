//! A session store that counts session checks.

use std::sync::atomic::{AtomicUsize, Ordering};

use authentiq_core::{BoxFuture, MemoryStore, Revocation, SessionData, SessionStore, StoreError};

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

impl SessionStore for CountingStore {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn holds_data(&self) -> bool {
        true
    }
    fn load<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<SessionData>, StoreError>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        self.inner.load(id)
    }
    fn save<'a>(&'a self, data: &'a SessionData) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.save(data)
    }
    fn revoke<'a>(&'a self, what: Revocation) -> BoxFuture<'a, Result<(), StoreError>> {
        self.inner.revoke(what)
    }
    fn is_revoked<'a>(&'a self, data: &'a SessionData) -> BoxFuture<'a, Result<bool, StoreError>> {
        self.inner.is_revoked(data)
    }
}
