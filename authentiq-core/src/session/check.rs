//! Reading the session cookie once per request, and sealing a session into a cookie.

use super::SessionData;
use crate::Authentiq;
use crate::adapter::RequestHead;
use crate::clock;
use crate::error::AuthError;

/// The outcome of reading the session cookie once for a request, plus a `Set-Cookie` the
/// response should carry (a refreshed idle timer, or the removal of an unusable cookie).
///
/// Its `Debug` output shows the outcome and the subject only: never the session id, the ID
/// Token, the claims or the sealed cookie.
#[derive(Clone)]
pub struct SessionCheck {
    pub(crate) state: SessionState,
    /// A `Set-Cookie` value to add to the response, if any.
    pub set_cookie: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) enum SessionState {
    None,
    Valid(std::sync::Arc<OpenSession>),
    Invalid(&'static str),
    Failed(String),
}

impl std::fmt::Debug for SessionCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("SessionCheck");
        match &self.state {
            SessionState::None => d.field("state", &"none"),
            SessionState::Valid(open) => d.field("state", &"valid").field("sub", &open.data.sub),
            SessionState::Invalid(why) => d.field("state", &"invalid").field("reason", why),
            SessionState::Failed(e) => d.field("state", &"store failed").field("error", e),
        };
        d.field("set_cookie", &self.set_cookie.as_ref().map(|_| "<elided>"))
            .finish()
    }
}

impl SessionCheck {
    /// The live session, if any.
    pub fn session(&self) -> Option<&SessionData> {
        match &self.state {
            SessionState::Valid(d) => Some(&d.data),
            _ => None,
        }
    }
}

/// A session that passed every check, as the guards read it on each request (and as the
/// opened-session cache keeps it).
#[derive(Debug)]
pub(crate) struct OpenSession {
    pub(crate) data: SessionData,
    /// The stored claims with the session's own `iss`, `sub` and `sid` in place of any they
    /// carried, made once when the session opens: the app's claims type deserializes from
    /// this map on every request, through `serde_json`'s own map deserializer.
    pub(crate) identity: serde_json::Map<String, serde_json::Value>,
}

impl OpenSession {
    pub(crate) fn new(data: SessionData) -> Self {
        use serde_json::Value;
        let mut identity = data.claims.clone();
        identity.insert("iss".into(), Value::String(data.iss.clone()));
        identity.insert("sub".into(), Value::String(data.sub.clone()));
        match &data.sid {
            Some(sid) => identity.insert("sid".into(), Value::String(sid.clone())),
            None => identity.remove("sid"),
        };
        Self { data, identity }
    }
}

/// Why a session cookie did not open.
enum Opened {
    /// Unusable: the cookie is removed.
    Invalid(&'static str),
    /// The store failed: the cookie stays.
    Failed(String),
}

/// The largest sealed session cookie written; browsers drop cookies over 4 KB.
const MAX_SEALED: usize = 3800;

impl Authentiq {
    /// Reads and checks the session cookie. Adapters reach it through
    /// [`SessionCache`](crate::adapter::SessionCache), which calls it at most once per request.
    pub(crate) async fn check_session(&self, head: &impl RequestHead) -> SessionCheck {
        let name = &self.inner.names.session;
        let Some(value) = head.cookie(name) else {
            return SessionCheck {
                state: SessionState::None,
                set_cookie: None,
            };
        };
        let invalid = |why: &'static str| {
            tracing::info!(reason = why, "ignoring the session cookie");
            SessionCheck {
                state: SessionState::Invalid(why),
                set_cookie: Some(self.remove_cookie(name)),
            }
        };
        let store = &self.inner.cfg.session.store;
        let now = clock::now();
        let idle = self.inner.cfg.session.idle.as_secs();
        // Read before asking: a revocation recorded during the check moves it again.
        let revocations = store.revocation_version();
        // Cookie mode: a cookie opened before is remembered until its session would expire
        // (absolute or idle), keyed by the whole sealed value; revocation is still asked below
        // whenever the store's revocations changed since this cookie was last asked about.
        let remembered = if store.holds_data() {
            None
        } else {
            self.inner.session_cache.get(value, now, Some(0))
        };
        let (data, ask, fresh) = match remembered {
            Some(hit) => {
                let ask = hit.needs_revocation_check(revocations);
                (hit.value, ask, false)
            }
            None => {
                let data = match self.open_session(name, value).await {
                    Ok(data) => data,
                    Err(Opened::Invalid(why)) => return invalid(why),
                    Err(Opened::Failed(e)) => {
                        return SessionCheck {
                            state: SessionState::Failed(e),
                            set_cookie: None,
                        };
                    }
                };
                if data.iss != self.inner.provider.meta.issuer
                    || data.aud != self.inner.cfg.client_id
                {
                    return invalid("the session belongs to another issuer or client");
                }
                if now >= data.exp {
                    return invalid("the session has expired");
                }
                if now >= data.seen.saturating_add(idle) {
                    return invalid("the session was idle too long");
                }
                (std::sync::Arc::new(OpenSession::new(data)), true, true)
            }
        };
        if ask {
            match store.is_revoked(&data.data).await {
                Ok(false) => {}
                Ok(true) => return invalid("the session was ended"),
                Err(e) => {
                    tracing::error!(store = store.name(), "session store failed: {e}");
                    return SessionCheck {
                        state: SessionState::Failed(e.0),
                        set_cookie: None,
                    };
                }
            }
        }
        if !store.holds_data() {
            // Only a cookie that passed every check, revocation included, is remembered.
            if fresh {
                let until = data.data.exp.min(data.data.seen.saturating_add(idle));
                self.inner
                    .session_cache
                    .insert(value, data.clone(), until, 0, now, revocations);
            } else if ask && let Some(v) = revocations {
                self.inner.session_cache.passed_revocation_check(value, v);
            }
        }
        // Slide the idle timer at most every twentieth of the idle period.
        let mut set_cookie = None;
        let mut data = data;
        if now.saturating_sub(data.data.seen) >= (idle / 20).max(1) {
            let mut slid = data.data.clone();
            slid.seen = now;
            if store.holds_data() {
                // Only a session that still exists slides: a logout that landed since the
                // load above stays.
                match store.refresh(&slid).await {
                    Ok(true) => set_cookie = Some(self.sealed_cookie(&slid)),
                    Ok(false) => return invalid("the session was ended"),
                    Err(e) => tracing::warn!("could not refresh the session: {e}"),
                }
            } else {
                set_cookie = Some(self.sealed_cookie(&slid));
            }
            data = std::sync::Arc::new(OpenSession::new(slid));
        }
        SessionCheck {
            state: SessionState::Valid(data),
            set_cookie,
        }
    }

    /// Opens a session cookie's sealed `value`: the data itself in cookie mode, or the id the
    /// store loads it by.
    async fn open_session(&self, name: &str, value: &str) -> Result<SessionData, Opened> {
        let Some(plain) = self.inner.session_cipher.open(name, value) else {
            return Err(Opened::Invalid(
                "the session cookie is tampered with or was sealed with another key",
            ));
        };
        let store = &self.inner.cfg.session.store;
        if store.holds_data() {
            let Ok(id) = String::from_utf8(plain) else {
                return Err(Opened::Invalid("the session cookie is malformed"));
            };
            match store.load(&id).await {
                Ok(Some(d)) => Ok(d),
                Ok(None) => Err(Opened::Invalid("the session is unknown or has ended")),
                Err(e) => {
                    tracing::error!(store = store.name(), "session store failed: {e}");
                    Err(Opened::Failed(e.0))
                }
            }
        } else {
            serde_json::from_slice(&plain)
                .map_err(|_| Opened::Invalid("the session cookie is malformed"))
        }
    }

    /// Seals `data` into a `Set-Cookie` value for the session cookie (saving it to the store
    /// when the store holds data). Use it to sign a user in by other means, e.g. in tests.
    pub async fn session_cookie(&self, data: &SessionData) -> Result<String, AuthError> {
        let store = &self.inner.cfg.session.store;
        if store.holds_data() {
            store.save(data).await.map_err(|e| AuthError::Store(e.0))?;
        }
        Ok(self.sealed_cookie(data))
    }

    /// The `Set-Cookie` value for `data`: its id when the store holds the data, else the data
    /// itself, sealed.
    fn sealed_cookie(&self, data: &SessionData) -> String {
        let name = &self.inner.names.session;
        let value = if self.inner.cfg.session.store.holds_data() {
            self.inner.session_cipher.seal(name, data.id.as_bytes())
        } else {
            let mut sealed = self.inner.session_cipher.seal(name, &to_json(data));
            if sealed.len() > MAX_SEALED {
                // Browsers drop cookies over 4 KB: shed the ID Token (logout then goes without
                // id_token_hint), then the optional claims.
                let mut lean = data.clone();
                lean.id_token = None;
                sealed = self.inner.session_cipher.seal(name, &to_json(&lean));
                if sealed.len() > MAX_SEALED {
                    lean.claims.retain(|k, _| k == "scope");
                    sealed = self.inner.session_cipher.seal(name, &to_json(&lean));
                }
                tracing::warn!(
                    "the session is too large for a cookie; dropped the ID Token or claims (configure a session store to keep them)"
                );
            }
            sealed
        };
        let max_age = data.exp.saturating_sub(clock::now());
        self.cookie(name, &value, max_age)
    }
}

fn to_json<T: serde::Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("session data always serialises")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::session::tests::data;

    /// `Debug` says what happened and to whom, never the session id, the ID Token or the
    /// sealed cookie.
    #[test]
    fn debug_shows_the_outcome_not_the_secrets() {
        let mut d = data("the-session-id", "alice", None, 1);
        d.id_token = Some("the.id.token".into());
        let valid = SessionCheck {
            state: SessionState::Valid(std::sync::Arc::new(OpenSession::new(d))),
            set_cookie: Some("session=sealed-secret".into()),
        };
        let shown = format!("{valid:?}");
        assert!(
            shown.contains("valid") && shown.contains("alice") && shown.contains("<elided>"),
            "{shown}"
        );
        for secret in ["the-session-id", "the.id.token", "sealed-secret"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        let invalid = SessionCheck {
            state: SessionState::Invalid("the session has expired"),
            set_cookie: None,
        };
        let shown = format!("{invalid:?}");
        assert!(
            shown.contains("invalid") && shown.contains("expired"),
            "{shown}"
        );
        assert!(invalid.session().is_none());
        let failed = format!(
            "{:?}",
            SessionCheck {
                state: SessionState::Failed("redis: down".into()),
                set_cookie: None,
            }
        );
        assert!(failed.contains("store failed") && failed.contains("redis: down"));
        let none = format!(
            "{:?}",
            SessionCheck {
                state: SessionState::None,
                set_cookie: None,
            }
        );
        assert!(none.contains("none"), "{none}");
    }

    /// The identity the app's claims type reads carries the session's own `iss`, `sub` and
    /// `sid`, whatever the stored claims say.
    #[test]
    fn the_identity_claims_are_the_sessions_own() {
        let mut d = data("id", "alice", None, 1);
        for (k, v) in [
            ("sub", "mallory"),
            ("iss", "evil"),
            ("sid", "x"),
            ("name", "A"),
        ] {
            d.claims.insert(k.into(), v.into());
        }
        let open = OpenSession::new(d.clone());
        assert_eq!(open.identity["sub"], "alice");
        assert_eq!(open.identity["iss"], "i");
        assert_eq!(open.identity["name"], "A");
        assert!(!open.identity.contains_key("sid"), "no sid of its own");
        d.sid = Some("s1".into());
        assert_eq!(OpenSession::new(d).identity["sid"], "s1");
    }
}
