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

    /// Keeps the logout mark `key` (the latest `before` wins) until `until`, for bearer ID
    /// Tokens.
    async fn mark(&self, key: String, before: u64, until: u64) -> Result<(), StoreError> {
        let ttl = until.saturating_sub(crate::clock::now()).max(1);
        let mut conn = self.conn.clone();
        let current: Option<u64> = conn.get(&key).await.map_err(store_error)?;
        conn.set_ex::<_, _, ()>(&key, current.unwrap_or(0).max(before), ttl)
            .await
            .map_err(store_error)
    }

    /// Deletes the sessions in the index set `index` created at or before `before`.
    async fn revoke_indexed(&self, index: String, before: u64) -> Result<(), StoreError> {
        let mut conn = self.conn.clone();
        let ids: Vec<String> = conn.smembers(&index).await.map_err(store_error)?;
        if ids.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = ids.iter().map(|id| self.key("s", id)).collect();
        let values: Vec<Option<String>> = conn.mget(&keys).await.map_err(store_error)?;
        let doomed: Vec<String> = keys
            .into_iter()
            .zip(values)
            .filter(|(_, v)| {
                v.as_deref()
                    .and_then(|json| serde_json::from_str::<SessionData>(json).ok())
                    .is_none_or(|d| d.iat <= before)
            })
            .map(|(k, _)| k)
            .collect();
        if !doomed.is_empty() {
            let _: () = conn.del(&doomed).await.map_err(store_error)?;
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
        let mut index = |key: String| {
            // The index lives as long as its longest-lived session: NX gives a new set its
            // first expiry, GT only ever extends it.
            pipe.sadd(&key, &data.id).ignore();
            for flag in ["NX", "GT"] {
                pipe.cmd("EXPIRE").arg(&key).arg(ttl).arg(flag).ignore();
            }
        };
        index(self.key("sub", &data.sub));
        if let Some(sid) = &data.sid {
            index(self.key("sid", sid));
        }
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn).await.map_err(store_error)
    }

    async fn refresh(&self, data: &SessionData) -> Result<bool, StoreError> {
        let ttl = data.exp.saturating_sub(crate::clock::now()).max(1);
        let json = serde_json::to_string(data).map_err(|e| StoreError(e.to_string()))?;
        let mut conn = self.conn.clone();
        // XX: only a session that still exists is written; a logout in between stays.
        let done: Option<String> = redis::cmd("SET")
            .arg(self.key("s", &data.id))
            .arg(json)
            .arg("EX")
            .arg(ttl)
            .arg("XX")
            .query_async(&mut conn)
            .await
            .map_err(store_error)?;
        Ok(done.is_some())
    }

    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        match what {
            Revocation::Session { id, .. } => {
                let mut conn = self.conn.clone();
                conn.del::<_, ()>(self.key("s", &id))
                    .await
                    .map_err(store_error)
            }
            Revocation::Sid { sid, before, until } => {
                self.mark(self.key("mark-sid", &sid), before, until).await?;
                self.revoke_indexed(self.key("sid", &sid), before).await
            }
            Revocation::Sub { sub, before, until } => {
                self.mark(self.key("mark-sub", &sub), before, until).await?;
                self.revoke_indexed(self.key("sub", &sub), before).await
            }
        }
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
        let mut keys = vec![self.key("mark-sub", sub)];
        if let Some(sid) = sid {
            keys.push(self.key("mark-sid", sid));
        }
        let mut conn = self.conn.clone();
        let marks: Vec<Option<u64>> = conn.mget(&keys).await.map_err(store_error)?;
        Ok(marks.into_iter().flatten().any(|before| iat <= before))
    }

    async fn jti_seen(&self, jti: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn.clone();
        conn.exists(self.key("jti", jti)).await.map_err(store_error)
    }

    async fn record_jti(&self, jti: &str, until: u64) -> Result<(), StoreError> {
        let ttl = until.saturating_sub(crate::clock::now()).max(1);
        let mut conn = self.conn.clone();
        conn.set_ex::<_, _, ()>(self.key("jti", jti), 1, ttl)
            .await
            .map_err(store_error)
    }
}
