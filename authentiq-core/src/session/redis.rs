//! Sessions in Redis: every app instance behind a load balancer sees the same sessions, and a
//! logout or back-channel logout on one instance ends the session on all of them.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Revocation, SessionData, SessionStore, StoreError};
use crate::error::ConfigError;

/// A [`SessionStore`] in Redis. The session cookie carries only a random session id; the
/// session lives under `<prefix>s:<id>` with a TTL of its absolute expiry, and two sets index
/// the ids per provider session (`sid`) and per subject for back-channel logout.
///
/// ```no_run
/// # async fn run() -> Result<(), authentiq_core::ConfigError> {
/// use std::sync::Arc;
/// let store = authentiq_core::RedisStore::connect("redis://127.0.0.1:6379/").await?;
/// let auth = authentiq_core::Authentiq::builder("https://connect.authentiq.io/", "client-id")
///     .public_url("https://app.example.com")
///     .session_store(Arc::new(store))
///     .build()
///     .await?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    prefix: String,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

fn store_error(e: redis::RedisError) -> StoreError {
    StoreError(format!("redis: {e}"))
}

impl RedisStore {
    /// Connects to `url` (`redis://host:port/db`, `rediss://` for TLS) at start-up; an
    /// unreachable server is a start-up error. Commands time out after 2 seconds, and a lost
    /// connection is re-established in the background.
    pub async fn connect(url: &str) -> Result<Self, ConfigError> {
        let invalid = |reason: String| ConfigError::Invalid {
            name: "session store (Redis URL)",
            reason,
        };
        let client = redis::Client::open(url).map_err(|e| invalid(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(2)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| invalid(format!("cannot reach Redis: {e}")))?;
        Ok(Self {
            conn,
            prefix: "authentiq:".to_owned(),
        })
    }

    /// Uses `prefix` before every key (default `authentiq:`), to share one Redis database.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, kind: &str, id: &str) -> String {
        format!("{}{kind}:{id}", self.prefix)
    }

    /// Deletes the sessions in the index set `index` (all of them, or those created at or
    /// before `before`), and the index itself when it empties.
    async fn revoke_indexed(&self, index: String, before: Option<u64>) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.smembers(&index).await.map_err(store_error)?;
        if ids.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key("s", id)).collect();
        let doomed: Vec<String> = match before {
            None => keys,
            Some(before) => {
                let values: Vec<Option<String>> = conn.mget(&keys).await.map_err(store_error)?;
                keys.into_iter()
                    .zip(values)
                    .filter(|(_, v)| {
                        v.as_deref()
                            .and_then(|json| serde_json::from_str::<SessionData>(json).ok())
                            .is_none_or(|d| d.iat <= before)
                    })
                    .map(|(k, _)| k)
                    .collect()
            }
        };
        if !doomed.is_empty() {
            let _: () = conn.del(&doomed).await.map_err(store_error)?;
        }
        if before.is_none() {
            let _: () = conn.del(&index).await.map_err(store_error)?;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    fn name(&self) -> &'static str {
        "redis"
    }

    fn holds_data(&self) -> bool {
        true
    }

    async fn load(&self, id: &str) -> Result<Option<SessionData>, StoreError> {
        let mut conn = self.conn.clone();
        let json: Option<String> = conn.get(self.key("s", id)).await.map_err(store_error)?;
        Ok(json.and_then(|j| match serde_json::from_str(&j) {
            Ok(d) => Some(d),
            Err(_) => {
                tracing::warn!("ignoring a session in Redis that does not parse");
                None
            }
        }))
    }

    async fn save(&self, data: &SessionData) -> Result<(), StoreError> {
        let ttl = data.exp.saturating_sub(crate::clock::now()).max(1);
        let json = serde_json::to_string(data).map_err(|e| StoreError(e.to_string()))?;
        let mut pipe = redis::pipe();
        pipe.atomic()
            .set_ex(self.key("s", &data.id), json, ttl)
            .ignore();
        let sub = self.key("sub", &data.sub);
        pipe.sadd(&sub, &data.id)
            .ignore()
            .expire(&sub, ttl as i64)
            .ignore();
        if let Some(sid) = &data.sid {
            let sid = self.key("sid", sid);
            pipe.sadd(&sid, &data.id)
                .ignore()
                .expire(&sid, ttl as i64)
                .ignore();
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(store_error)
    }

    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        match what {
            Revocation::Session { id, .. } => {
                let mut conn = self.conn.clone();
                conn.del::<_, ()>(self.key("s", &id))
                    .await
                    .map_err(store_error)
            }
            Revocation::Sid { sid, .. } => self.revoke_indexed(self.key("sid", &sid), None).await,
            Revocation::Sub { sub, before, .. } => {
                self.revoke_indexed(self.key("sub", &sub), Some(before))
                    .await
            }
        }
    }

    async fn is_revoked(&self, _data: &SessionData) -> Result<bool, StoreError> {
        // Revoked sessions are deleted, so a session that loads is live.
        Ok(false)
    }
}
