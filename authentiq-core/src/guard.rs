//! The guards: who is asking, decided once per request from a bearer ID Token or the session
//! cookie, and the refusal to send when nobody is.

use std::sync::Arc;

use http::HeaderName;
use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::Authentiq;
use crate::adapter::RequestHead;
use crate::claims::{Claims, PROTOCOL_CLAIMS};
use crate::clock;
use crate::device::{DeviceCheck, RememberedDevice};
use crate::error::{AuthError, TokenError};
use crate::http::Reply;
use crate::session::{SessionCheck, SessionState};
use crate::token::Channel;
use crate::verified_cache::Verified;

/// How the request proved who it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A session cookie set at sign-in.
    Session,
    /// An `Authorization: Bearer <ID Token>` header.
    Bearer,
}

/// A signed-in user: their claims (as your type `C`, [`Claims`] by default) and how they
/// authenticated.
#[derive(Clone, Debug)]
pub struct Identity<C = Claims> {
    /// The claims: `iss`, `sub`, and the identity claims that were granted.
    pub claims: C,
    /// The subject, whatever `C` keeps.
    pub subject: String,
    /// Session or bearer token.
    pub source: Source,
    /// The session id, for session identities.
    pub session_id: Option<String>,
    /// The provider's `session_state` from the sign-in (OpenID Connect Session Management
    /// 1.0), for session identities that have one. A page watches the provider's session by
    /// posting `client_id + " " + session_state` to [`Identity::check_session_iframe`].
    pub session_state: Option<String>,
    /// The provider's check-session iframe URL (from discovery), given with `session_state`.
    pub check_session_iframe: Option<String>,
}

/// Reads the session at most once per request and remembers the `Set-Cookie` the response
/// must carry. Adapters create one per request (it is cheap: one `Arc`), put it in the
/// request's context, and apply [`SessionCache::response_headers`] to the response.
#[derive(Clone, Debug, Default)]
pub struct SessionCache(Arc<Checks>);

#[derive(Debug, Default)]
struct Checks {
    session: tokio::sync::OnceCell<SessionCheck>,
    device: std::sync::OnceLock<DeviceCheck>,
}

impl SessionCache {
    /// An empty cache for a new request.
    pub fn new() -> Self {
        Self::default()
    }

    /// The session check, performed on first use.
    pub async fn get(&self, auth: &Authentiq, head: &impl RequestHead) -> &SessionCheck {
        self.0
            .session
            .get_or_init(|| auth.check_session(head))
            .await
    }

    /// The remembered device (one-click "Continue as"), read on first use. An unusable
    /// device cookie is no device, and the response removes it.
    pub fn device(&self, auth: &Authentiq, head: &impl RequestHead) -> Option<&RememberedDevice> {
        self.0
            .device
            .get_or_init(|| auth.check_device(head))
            .device
            .as_ref()
    }

    /// Every `Set-Cookie` the response must carry: the session's and the remembered device's.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.set_cookie()
            .into_iter()
            .chain(self.0.device.get().and_then(|d| d.set_cookie.as_deref()))
    }

    /// The `Set-Cookie` to append to the response (a refreshed idle timer or the removal of an
    /// unusable cookie), if the session was read and needs one. Adapters append
    /// [`SessionCache::response_headers`], which carries it with the caching headers it needs.
    pub fn set_cookie(&self) -> Option<&str> {
        self.0.session.get().and_then(|c| c.set_cookie.as_deref())
    }

    /// What the response must carry for the session cookie, given the values it already has
    /// for `Cache-Control` and `Vary` (repeated values joined with `", "`; `""` when absent).
    /// Empty when the session cookie is unchanged; otherwise the `Set-Cookie` to **append**,
    /// then the whole new `Cache-Control` and `Vary` values, each to **replace** every value
    /// of its header, so that the response says each once. `Cache-Control` gains `private`
    /// (and loses `public`, `s-maxage`): a shared cache must not store a response that sets
    /// someone's session, nor serve it to anyone else. `Vary` gains `Cookie`. Either is left
    /// out when the response already says it (`private` or `no-store`; `Cookie` or `*`).
    ///
    /// Adapters on `http` 1.x types use [`SessionCache::apply`], which does all of this.
    pub fn response_headers(&self, cache_control: &str, vary: &str) -> Vec<(HeaderName, String)> {
        let cookies: Vec<&str> = self.set_cookies().collect();
        if cookies.is_empty() {
            return Vec::new();
        }
        session_cookie_headers(&cookies, cache_control, vary)
    }

    /// Applies [`SessionCache::response_headers`] to a response's headers.
    pub fn apply(&self, headers: &mut http::HeaderMap) {
        if self.set_cookies().next().is_none() {
            return;
        }
        let joined = |name| {
            headers
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (cache_control, vary) = (joined(CACHE_CONTROL), joined(VARY));
        for (name, value) in self.response_headers(&cache_control, &vary) {
            let Ok(value) = http::HeaderValue::from_str(&value) else {
                continue;
            };
            if name == SET_COOKIE {
                headers.append(name, value);
            } else {
                headers.insert(name, value);
            }
        }
    }

    /// Applies [`SessionCache::response_headers`] to a reply the core decided (a refusal, say).
    pub fn apply_to_reply(&self, reply: Reply) -> Reply {
        if self.set_cookies().next().is_none() {
            return reply;
        }
        let joined = |name| {
            reply
                .headers()
                .filter(|(n, _)| **n == name)
                .map(|(_, v)| v)
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (cache_control, vary) = (joined(CACHE_CONTROL), joined(VARY));
        self.response_headers(&cache_control, &vary)
            .into_iter()
            .fold(reply, |r, (name, value)| {
                if name == SET_COOKIE {
                    r.header(name, value)
                } else {
                    r.without(&name).header(name, value)
                }
            })
    }
}

/// The headers that go with a `Set-Cookie` for the session cookie on a response whose
/// `Cache-Control` and `Vary` are `cache_control` and `vary` (see
/// [`SessionCache::response_headers`]).
pub(crate) fn session_cookie_headers(
    cookies: &[&str],
    cache_control: &str,
    vary: &str,
) -> Vec<(HeaderName, String)> {
    let mut out: Vec<(HeaderName, String)> = cookies
        .iter()
        .map(|c| (SET_COOKIE, (*c).to_owned()))
        .collect();
    let directives = || {
        cache_control
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
    };
    let name_of = |d: &str| {
        d.split('=')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    };
    if !directives().any(|d| matches!(name_of(d).as_str(), "private" | "no-store")) {
        let kept = directives()
            .filter(|d| !matches!(name_of(d).as_str(), "public" | "s-maxage"))
            .chain(std::iter::once("private"))
            .collect::<Vec<_>>()
            .join(", ");
        out.push((CACHE_CONTROL, kept));
    }
    let varies = vary
        .split(',')
        .map(str::trim)
        .any(|v| v == "*" || v.eq_ignore_ascii_case("cookie"));
    if !varies {
        let joined = if vary.trim().is_empty() {
            "Cookie".to_owned()
        } else {
            format!("{}, Cookie", vary.trim())
        };
        out.push((VARY, joined));
    }
    out
}

/// A guard's refusal: the reason, and the reply the core decided (a redirect to sign in for
/// browser navigations, 401 JSON with `WWW-Authenticate` for API clients, or another 4xx).
#[derive(Debug)]
pub struct Rejection {
    /// Why.
    pub error: AuthError,
    /// What to send.
    pub reply: Reply,
}

impl Rejection {
    /// The refusal for a guard used where the adapter's layer/middleware/fairing/filter was not
    /// installed: 500 with a JSON body saying what to install. Logged.
    pub fn not_configured() -> Self {
        let error = AuthError::NotConfigured;
        tracing::error!("{error}");
        Self {
            reply: error.api_reply(),
            error,
        }
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl std::error::Error for Rejection {}

impl Authentiq {
    /// The identity a session check yields, or why it yields none.
    pub(crate) fn session_identity<C: DeserializeOwned>(
        &self,
        check: &SessionCheck,
    ) -> Result<Identity<C>, AuthError> {
        match &check.state {
            SessionState::None => Err(AuthError::Unauthenticated),
            SessionState::Invalid(why) => Err(AuthError::SessionInvalid(why)),
            SessionState::Failed(e) => Err(AuthError::Store(e.clone())),
            SessionState::Valid(open) => {
                let d = &open.data;
                let c = C::deserialize(&open.identity).map_err(|e| {
                    tracing::warn!(problem = %claims_problem(&e), "session claims do not fit the requested claims type");
                    AuthError::SessionInvalid(
                        "the session claims do not fit this route's claims type",
                    )
                })?;
                let check_session_iframe = d
                    .session_state
                    .as_ref()
                    .and_then(|_| self.provider().check_session_iframe.clone());
                Ok(Identity {
                    claims: c,
                    subject: d.sub.clone(),
                    source: Source::Session,
                    session_id: Some(d.id.clone()),
                    session_state: d.session_state.clone(),
                    check_session_iframe,
                })
            }
        }
    }

    /// The required guard (`Authenticated`): a bearer ID Token when one is sent, else the
    /// session; otherwise the negotiated refusal.
    pub(crate) async fn require<C: DeserializeOwned>(
        &self,
        head: &impl RequestHead,
        cache: &SessionCache,
    ) -> Result<Identity<C>, Rejection> {
        // A request that sends a bearer token is judged by it alone: its session cookie is
        // not read (with a server-side store that would be a needless round trip).
        let result = match bearer_token(head) {
            Ok(Some(token)) => self.verify_bearer(token).await,
            Ok(None) => self.session_identity(cache.get(self, head).await),
            Err(e) => Err(e),
        };
        result.map_err(|error| Rejection {
            reply: error.guard_reply(head, &self.config().routes.login),
            error,
        })
    }

    /// The optional guard (`MaybeAuthenticated`): `None` for anonymous requests and unusable
    /// session cookies; a bearer token that was sent but fails is still refused.
    pub(crate) async fn optional<C: DeserializeOwned>(
        &self,
        head: &impl RequestHead,
        cache: &SessionCache,
    ) -> Result<Option<Identity<C>>, Rejection> {
        match self.require(head, cache).await {
            Ok(id) => Ok(Some(id)),
            Err(Rejection {
                error: AuthError::Unauthenticated | AuthError::SessionInvalid(_),
                ..
            }) => Ok(None),
            Err(r) => Err(r),
        }
    }

    /// The API guard (`Bearer`): a bearer ID Token only, never a redirect; the session cookie
    /// is ignored.
    pub(crate) async fn bearer<C: DeserializeOwned>(
        &self,
        head: &impl RequestHead,
    ) -> Result<Identity<C>, Rejection> {
        let result = match bearer_token(head) {
            Ok(Some(token)) => self.verify_bearer(token).await,
            Ok(None) => Err(AuthError::Unauthenticated),
            Err(e) => Err(e),
        };
        result.map_err(|error| Rejection {
            reply: error.api_reply(),
            error,
        })
    }

    /// Validates a bearer ID Token (browser channel: asymmetric signature via the JWKS, no
    /// nonce to compare), checks it against the logout marks, and returns its identity.
    ///
    /// A token that passed is remembered (see the crate's bearer cache: whole-token match,
    /// never past its `exp` or the key set that verified it), so the same token sent again
    /// skips the signature check; the logout marks are asked every time.
    pub async fn verify_bearer<C: DeserializeOwned>(
        &self,
        token: &str,
    ) -> Result<Identity<C>, AuthError> {
        let now = clock::now();
        let generation = self.inner.provider.key_generation();
        // Read before asking: a revocation recorded during the check moves it again.
        let revocations = self.config().session.store.revocation_version();
        let cache = &self.inner.bearer_cache;
        let verified = match cache.get(token, now, generation) {
            Some(hit) => {
                if hit.needs_revocation_check(revocations) {
                    self.bearer_not_logged_out(&hit.value).await?;
                    if let Some(v) = revocations {
                        cache.passed_revocation_check(token, v);
                    }
                }
                hit.value
            }
            None => {
                let (verified, until) = self.verify_bearer_token(token).await?;
                self.bearer_not_logged_out(&verified).await?;
                // Remembered only when no refetch replaced the keys during the check, so the
                // generation is the one that verified it.
                if let Some(g) = generation
                    && self.inner.provider.key_generation() == Some(g)
                {
                    cache.insert(token, verified.clone(), until, g, now, revocations);
                }
                verified
            }
        };
        let claims = C::deserialize(&verified.claims).map_err(|e| {
            tracing::info!(problem = %claims_problem(&e), "bearer claims do not fit the requested claims type");
            AuthError::InvalidToken(TokenError::MissingClaim("claims for this route's type"))
        })?;
        Ok(Identity {
            claims,
            subject: verified.subject.clone(),
            source: Source::Bearer,
            session_id: None,
            session_state: None,
            check_session_iframe: None,
        })
    }

    /// The signature and claim checks of a bearer token, and what the guard keeps of it, with
    /// the instant until which that may be remembered.
    async fn verify_bearer_token(&self, token: &str) -> Result<(Arc<Verified>, u64), AuthError> {
        let max_age = self.inner.cfg.max_token_age.map(|d| d.as_secs());
        let valid = self
            .validate_id_token(token, Channel::Browser, None, None, max_age)
            .await
            .map_err(|e| {
                tracing::info!(check = %e, "bearer token refused");
                AuthError::token(AuthError::InvalidToken, e)
            })?;
        let claims = valid.claims();
        let number = |k: &str| claims.get(k).and_then(Value::as_u64);
        let iat = number("iat").unwrap_or(0);
        // `exp` is required by the claim rules; without it nothing is remembered.
        let until = number("exp")
            .unwrap_or(0)
            .min(max_age.map_or(u64::MAX, |m| iat.saturating_add(m)));
        let sid = claims.get("sid").and_then(Value::as_str).map(str::to_owned);
        let identity = Value::Object(identity_claims(claims, None));
        let verified = Verified {
            subject: valid.subject().to_owned(),
            sid,
            iat,
            claims: identity,
        };
        Ok((Arc::new(verified), until))
    }

    /// Refuses a bearer token that a logout (RP-initiated or back-channel) ended.
    async fn bearer_not_logged_out(&self, v: &Verified) -> Result<(), AuthError> {
        let revoked = self
            .config()
            .session
            .store
            .is_token_revoked(&v.subject, v.sid.as_deref(), v.iat)
            .await
            .map_err(|e| AuthError::Store(e.0))?;
        if revoked {
            tracing::info!(sub = %v.subject, "bearer token refused: logged out");
            return Err(AuthError::InvalidToken(TokenError::LoggedOut));
        }
        Ok(())
    }
}

/// The bearer token of the request, if it sent one. Other schemes are left to the app;
/// a `Bearer` scheme without a usable token is refused.
fn bearer_token(head: &impl RequestHead) -> Result<Option<&str>, AuthError> {
    let Some(h) = head.header("authorization") else {
        return Ok(None);
    };
    let h = h.trim();
    let (scheme, rest) = h.split_once(' ').unwrap_or((h, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Ok(None);
    }
    let token = rest.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(AuthError::InvalidToken(TokenError::Malformed(
            "the Authorization header holds no single token",
        )));
    }
    Ok(Some(token))
}

/// Drops protocol claims; with `keep`, only those identity claims survive.
pub(crate) fn identity_claims(
    mut claims: Map<String, Value>,
    keep: Option<&[String]>,
) -> Map<String, Value> {
    claims.retain(|k, _| {
        matches!(k.as_str(), "iss" | "sub" | "sid" | "scope")
            || (!PROTOCOL_CLAIMS.contains(&k.as_str())
                && keep.is_none_or(|list| list.iter().any(|x| x == k)))
    });
    claims
}

/// What a claims type rejected, without the value: serde's "invalid type" messages quote the
/// claim (an email address, say), and claim values stay out of logs.
fn claims_problem(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if msg.starts_with("missing field") || msg.starts_with("unknown field") {
        msg
    } else {
        "a claim has another type or format than the claims type expects".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_problems_never_quote_claim_values() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Typed {
            email: u64,
        }
        let wrong =
            serde_json::from_value::<Typed>(serde_json::json!({"email": "alice@example.com"}));
        let problem = claims_problem(&wrong.expect_err("a string is not a number"));
        assert!(!problem.contains("alice"), "{problem}");
        let missing = serde_json::from_value::<Typed>(serde_json::json!({}));
        assert_eq!(
            claims_problem(&missing.expect_err("missing")),
            "missing field `email`"
        );
    }
}
