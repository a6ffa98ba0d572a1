//! Talking to the OpenID Provider: discovery, the cached JWKS (expiring per the provider's
//! `Cache-Control: max-age`, refetched single-flight), the token endpoint and UserInfo.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{ClientAuthMethod, Config, secure_url};
use crate::error::{AuthError, ConfigError, TokenError};
use crate::token::keys::KeySet;
use crate::token::{Algorithm, Jws};

/// The most the SDK reads of any provider response.
const MAX_RESPONSE: usize = 256 * 1024;

/// How long a JWKS stays fresh when the provider sends no `Cache-Control: max-age`.
pub(crate) const JWKS_DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// The shortest time a JWKS is kept, whatever the provider says (`no-store`, `max-age=0`):
/// keeps a provider from making every verification wait on a fetch.
pub(crate) const JWKS_MIN_MAX_AGE: Duration = Duration::from_secs(5);

/// The provider's endpoints, from discovery plus overrides.
#[derive(Clone, Debug)]
pub struct ProviderMetadata {
    /// The issuer, exactly as the provider states it.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// UserInfo endpoint, if any.
    pub userinfo_endpoint: Option<String>,
    /// JWKS URI.
    pub jwks_uri: String,
    /// RP-initiated logout endpoint, if any.
    pub end_session_endpoint: Option<String>,
    /// OIDC session management iframe, if any (for the browser side).
    pub check_session_iframe: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    end_session_endpoint: Option<String>,
    check_session_iframe: Option<String>,
}

/// What the SDK reads of the token endpoint's answer; other members (`expires_in`,
/// `refresh_token`, ...) are ignored: sessions have their own lifetimes, and the SDK never
/// depends on refresh working.
#[derive(Clone, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    /// OIDC session management state.
    #[serde(default)]
    pub(crate) session_state: Option<String>,
    /// Granted scopes, when reported.
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    /// Tokens stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

pub(crate) struct Provider {
    pub(crate) meta: ProviderMetadata,
    /// The authorization endpoint, parsed once at start-up.
    pub(crate) authorize_url: url::Url,
    http: reqwest::Client,
    /// The JWKS as last fetched. Verification clones the `Arc` under the read lock and never
    /// holds the lock longer.
    keys: RwLock<Arc<CachedKeys>>,
    /// Held across a refetch, so that concurrent callers share one fetch.
    refetch: tokio::sync::Mutex<()>,
    /// Last refetch attempt, and last failed one, as [`Stamp`]s.
    last_attempt: Stamp,
    last_failure: Stamp,
    refetch_interval: Duration,
}

/// The provider's keys and how long they stay fresh.
struct CachedKeys {
    keys: KeySet,
    fetched: Instant,
    max_age: Duration,
}

impl CachedKeys {
    fn expired(&self) -> bool {
        self.fetched.elapsed() >= self.max_age
    }
}

/// Why a verification asks for fresh keys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Refetch {
    /// The cached set is older than its max-age.
    Expired,
    /// No cached key matches the token's `kid` and algorithm.
    UnknownKey,
    /// A cached key matched but the signature failed: the provider may have put a new key
    /// under a reused `kid`, or the token has no `kid`.
    BadSignature,
}

/// An instant readable without a lock: milliseconds since `base`, plus one; zero for never.
struct Stamp {
    base: Instant,
    at: AtomicU64,
}

impl Stamp {
    fn new(base: Instant) -> Self {
        Self {
            base,
            at: AtomicU64::new(0),
        }
    }

    fn set_now(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX - 1);
        self.at.store(ms + 1, Ordering::Release);
    }

    /// Whether the stamp was set less than `window` ago.
    fn within(&self, window: Duration) -> bool {
        match self.at.load(Ordering::Acquire) {
            0 => false,
            at => {
                let since = Duration::from_millis(at - 1);
                self.base.elapsed().saturating_sub(since) < window
            }
        }
    }
}

fn client(timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .user_agent(concat!("authentiq-rs/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::HttpClient(e.to_string()))
}

/// Reads a response body up to [`MAX_RESPONSE`] bytes.
async fn read_limited(mut res: reqwest::Response) -> Result<Vec<u8>, String> {
    if res
        .content_length()
        .is_some_and(|l| l > MAX_RESPONSE as u64)
    {
        return Err("response too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err("response too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    get_json_with_headers(http, url).await.map(|(_, v)| v)
}

async fn get_json_with_headers(
    http: &reqwest::Client,
    url: &str,
) -> Result<(reqwest::header::HeaderMap, Value), String> {
    let res = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("HTTP status {status}"));
    }
    let headers = res.headers().clone();
    let body = read_limited(res).await?;
    let value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    Ok((headers, value))
}

impl Provider {
    /// Discovery and the first JWKS fetch, at start-up.
    pub(crate) async fn discover(cfg: &Config) -> Result<Self, ConfigError> {
        let http = client(cfg.http_timeout)?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            cfg.issuer.trim_end_matches('/')
        );
        let doc = get_json(&http, &url)
            .await
            .map_err(|reason| ConfigError::Discovery {
                url: url.clone(),
                reason,
            })?;
        let d: Discovery = serde_json::from_value(doc).map_err(|e| ConfigError::Discovery {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let issuer = if d.issuer == cfg.issuer {
            d.issuer
        } else if d.issuer.trim_end_matches('/') == cfg.issuer.trim_end_matches('/') {
            // Authentiq's issuer ends in a slash and people often leave it out: adopt the
            // provider's exact spelling, since `iss` is compared byte for byte against it.
            tracing::warn!(configured = %cfg.issuer, discovered = %d.issuer, "using the issuer exactly as the provider spells it");
            d.issuer
        } else {
            return Err(ConfigError::IssuerMismatch {
                configured: cfg.issuer.clone(),
                discovered: d.issuer,
            });
        };
        let pick = |what: &'static str,
                    over: &Option<String>,
                    found: Option<String>|
         -> Result<Option<String>, ConfigError> {
            match over.clone().or(found) {
                Some(u) => Ok(Some(secure_url(what, &u)?.to_string())),
                None => Ok(None),
            }
        };
        let e = &cfg.endpoints;
        let meta = ProviderMetadata {
            authorization_endpoint: pick(
                "authorization endpoint",
                &e.authorization,
                d.authorization_endpoint,
            )?
            .ok_or(ConfigError::Missing("authorization_endpoint in discovery"))?,
            token_endpoint: pick("token endpoint", &e.token, d.token_endpoint)?
                .ok_or(ConfigError::Missing("token_endpoint in discovery"))?,
            userinfo_endpoint: pick("userinfo endpoint", &e.userinfo, d.userinfo_endpoint)?,
            jwks_uri: pick("jwks_uri", &e.jwks, d.jwks_uri)?
                .ok_or(ConfigError::Missing("jwks_uri in discovery"))?,
            end_session_endpoint: pick(
                "end-session endpoint",
                &e.end_session,
                d.end_session_endpoint,
            )?,
            check_session_iframe: d.check_session_iframe,
            issuer,
        };
        let authorize_url = secure_url("authorization endpoint", &meta.authorization_endpoint)?;
        let keys = fetch_jwks(&http, &meta.jwks_uri)
            .await
            .map_err(|reason| ConfigError::Jwks {
                url: meta.jwks_uri.clone(),
                reason,
            })?;
        tracing::info!(issuer = %meta.issuer, keys = keys.keys.len(), max_age = ?keys.max_age, "OpenID Provider ready");
        let base = Instant::now();
        Ok(Self {
            meta,
            authorize_url,
            http,
            keys: RwLock::new(Arc::new(keys)),
            refetch: tokio::sync::Mutex::new(()),
            last_attempt: Stamp::new(base),
            last_failure: Stamp::new(base),
            refetch_interval: cfg.jwks_refetch_interval,
        })
    }

    fn current_keys(&self) -> Arc<CachedKeys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Verifies the signature of `jws` with the provider's keys.
    ///
    /// The cached set serves while it is younger than its max-age. Past it, this call refetches
    /// first, so a key the provider stopped publishing stops verifying. When no cached key
    /// matches, or one matches but the signature fails while the cached set is older than the
    /// refetch interval (a new key under a reused `kid`, a token without `kid`), it refetches
    /// once and verifies again. Refetches are single-flight: concurrent callers wait for the one
    /// in progress and use its result. They are rate-limited: a refetch for an unknown or
    /// failing key happens at most once per refetch interval, and after a failed refetch the
    /// old keys stay in use (with a log line) for that interval before the next attempt.
    ///
    /// The hot path only clones an `Arc` under a read lock; the refetch mutex is only waited on
    /// by callers that need fresh keys, and the rate limits are checked before waiting on it.
    pub(crate) async fn verify(&self, jws: &Jws<'_>, alg: Algorithm) -> Result<(), TokenError> {
        let mut cached = self.current_keys();
        if cached.expired() {
            cached = self.refetch(Refetch::Expired, cached).await;
        }
        if !jws.has_candidate(alg, &cached.keys) {
            let fresh = self.refetch(Refetch::UnknownKey, cached).await;
            return jws.verify_with(alg, &fresh.keys);
        }
        match jws.verify_with(alg, &cached.keys) {
            Err(TokenError::BadSignature) if self.may_refetch(Refetch::BadSignature, &cached) => {
                let fresh = self.refetch(Refetch::BadSignature, cached.clone()).await;
                if Arc::ptr_eq(&fresh, &cached) {
                    return Err(TokenError::BadSignature);
                }
                jws.verify_with(alg, &fresh.keys)
            }
            other => other,
        }
    }

    /// Whether a refetch for `why` is allowed now, given the set the caller holds.
    fn may_refetch(&self, why: Refetch, held: &CachedKeys) -> bool {
        let interval = self.refetch_interval;
        match why {
            Refetch::Expired => !self.last_failure.within(interval),
            Refetch::UnknownKey => !self.last_attempt.within(interval),
            Refetch::BadSignature => {
                held.fetched.elapsed() >= interval && !self.last_attempt.within(interval)
            }
        }
    }

    /// Replaces the cached set with a fresh fetch, single-flight and rate-limited; returns the
    /// set to verify with (the fresh one, one another caller just fetched, or `held` when the
    /// refetch is not allowed or failed).
    async fn refetch(&self, why: Refetch, held: Arc<CachedKeys>) -> Arc<CachedKeys> {
        if !self.may_refetch(why, &held) {
            tracing::debug!(?why, "JWKS refetch is rate-limited");
            return held;
        }
        let _flight = self.refetch.lock().await;
        let now = self.current_keys();
        if !Arc::ptr_eq(&now, &held) {
            // Another caller refetched while this one waited.
            return now;
        }
        if !self.may_refetch(why, &held) {
            return held;
        }
        self.last_attempt.set_now();
        match fetch_jwks(&self.http, &self.meta.jwks_uri).await {
            Ok(fresh) if fresh.keys.len() > 0 => {
                tracing::info!(?why, keys = fresh.keys.len(), max_age = ?fresh.max_age, "provider keys refreshed");
                let fresh = Arc::new(fresh);
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = fresh.clone();
                fresh
            }
            Ok(_) => {
                self.last_failure.set_now();
                tracing::warn!(
                    ?why,
                    "JWKS refetch returned no usable key; keeping the old keys"
                );
                held
            }
            Err(e) => {
                self.last_failure.set_now();
                tracing::warn!(?why, "JWKS refetch failed, keeping the old keys: {e}");
                held
            }
        }
    }

    /// Exchanges an authorization code at the token endpoint.
    pub(crate) async fn exchange_code(
        &self,
        cfg: &Config,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, AuthError> {
        let redirect_uri = cfg.redirect_uri();
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let mut req = self
            .http
            .post(&self.meta.token_endpoint)
            .header("accept", "application/json");
        match cfg.client_auth {
            ClientAuthMethod::ClientSecretBasic => {
                // RFC 6749 2.3.1: id and secret are form-urlencoded before base64.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(&cfg.client_id),
                    enc(&cfg.client_secret)
                ));
                req = req.header("authorization", format!("Basic {basic}"));
            }
            ClientAuthMethod::ClientSecretPost => {
                form.push(("client_id", &cfg.client_id));
                form.push(("client_secret", &cfg.client_secret));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let res = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                AuthError::ProviderUnavailable(format!("token endpoint: {}", without_url(&e)))
            })?;
        let status = res.status();
        // An answer that cannot be read, or that is neither a token response nor an OAuth
        // error, is a provider failing: 503 `provider_unavailable`, like no answer at all.
        let bytes = read_limited(res)
            .await
            .map_err(|e| AuthError::ProviderUnavailable(format!("token endpoint: {e}")))?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct OAuthError {
                error: String,
                error_description: Option<String>,
            }
            return Err(match serde_json::from_slice::<OAuthError>(&bytes) {
                Ok(e) => AuthError::TokenExchange {
                    error: e.error,
                    description: e.error_description,
                },
                Err(_) => {
                    AuthError::ProviderUnavailable(format!("token endpoint answered HTTP {status}"))
                }
            });
        }
        let tr: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|e| AuthError::ProviderUnavailable(format!("token response: {e}")))?;
        if let Some(t) = &tr.token_type
            && !t.eq_ignore_ascii_case("bearer")
        {
            return Err(AuthError::InvalidProviderResponse(format!(
                "token_type `{t}` is not Bearer"
            )));
        }
        Ok(tr)
    }

    /// Reads UserInfo with the access token. Accepts JSON, and the old `application/jwt`
    /// variant signed by the user's own key: that signature is not checkable with the
    /// provider's keys, so its payload is trusted exactly as much as a JSON answer (it arrived
    /// over TLS from the provider itself), and `sub` must match the ID Token's either way.
    pub(crate) async fn userinfo(
        &self,
        access_token: &str,
        sub: &str,
    ) -> Result<Map<String, Value>, AuthError> {
        let Some(url) = &self.meta.userinfo_endpoint else {
            return Ok(Map::new());
        };
        let res = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| {
                AuthError::ProviderUnavailable(format!("userinfo: {}", without_url(&e)))
            })?;
        let status = res.status();
        let is_jwt = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/jwt"));
        // Unreadable answers, error statuses and non-JSON are the provider failing (503).
        let body = read_limited(res)
            .await
            .map_err(|e| AuthError::ProviderUnavailable(format!("userinfo: {e}")))?;
        if !status.is_success() {
            return Err(AuthError::ProviderUnavailable(format!(
                "userinfo answered HTTP {status}"
            )));
        }
        let value: Value = if is_jwt {
            let text = std::str::from_utf8(&body).map_err(|_| {
                AuthError::InvalidProviderResponse("userinfo JWT is not text".into())
            })?;
            let payload = text
                .trim()
                .split('.')
                .nth(1)
                .and_then(crate::crypto::b64url_decode)
                .ok_or_else(|| {
                    AuthError::InvalidProviderResponse("userinfo JWT is malformed".into())
                })?;
            serde_json::from_slice(&payload).map_err(|_| {
                AuthError::InvalidProviderResponse("userinfo JWT payload is not JSON".into())
            })?
        } else {
            serde_json::from_slice(&body)
                .map_err(|_| AuthError::ProviderUnavailable("userinfo is not JSON".into()))?
        };
        let Value::Object(map) = value else {
            return Err(AuthError::InvalidProviderResponse(
                "userinfo is not a JSON object".into(),
            ));
        };
        if map.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(AuthError::InvalidIdToken(TokenError::SubjectMismatch));
        }
        Ok(map)
    }
}

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<CachedKeys, String> {
    let (headers, doc) = get_json_with_headers(http, url).await?;
    let keys = KeySet::from_jwks(&doc)?;
    let max_age = jwks_max_age(
        headers
            .get_all(reqwest::header::CACHE_CONTROL)
            .iter()
            .filter_map(|v| v.to_str().ok()),
    );
    Ok(CachedKeys {
        keys,
        fetched: Instant::now(),
        max_age,
    })
}

/// How long a JWKS stays fresh, from the response's `Cache-Control` values:
/// [`JWKS_DEFAULT_MAX_AGE`] without a `max-age`, the smallest `max-age` when several are given,
/// never less than [`JWKS_MIN_MAX_AGE`]. `no-store`, `no-cache` and an unreadable `max-age`
/// (RFC 9111 treats it as stale) count as zero, so they give the floor.
pub(crate) fn jwks_max_age<'a>(values: impl Iterator<Item = &'a str>) -> Duration {
    let mut age: Option<u64> = None;
    for directive in values.flat_map(|v| v.split(',')) {
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive.trim(), None),
        };
        let secs = if name.eq_ignore_ascii_case("max-age") {
            value.and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        } else if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            0
        } else {
            continue;
        };
        age = Some(age.map_or(secs, |a| a.min(secs)));
    }
    age.map_or(JWKS_DEFAULT_MAX_AGE, Duration::from_secs)
        .max(JWKS_MIN_MAX_AGE)
}

/// A reqwest error without the URL (it may carry a code in the query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn age(values: &[&str]) -> u64 {
        jwks_max_age(values.iter().copied()).as_secs()
    }

    #[test]
    fn max_age_from_cache_control() {
        assert_eq!(age(&[]), 600, "default without the header");
        assert_eq!(age(&["public"]), 600, "default without max-age");
        assert_eq!(age(&["public, max-age=3600"]), 3600);
        assert_eq!(age(&["Max-Age=\"120\""]), 120, "case and quotes");
        assert_eq!(age(&["max-age=30", "max-age=90"]), 30, "the smallest wins");
        assert_eq!(age(&["max-age=1"]), 5, "never under the floor");
        assert_eq!(age(&["max-age=0"]), 5);
        assert_eq!(age(&["no-store"]), 5);
        assert_eq!(age(&["no-cache, max-age=600"]), 5);
        assert_eq!(age(&["max-age=soon"]), 5, "unreadable counts as stale");
        assert_eq!(
            age(&["s-maxage=60"]),
            600,
            "shared-cache directives are not ours"
        );
    }

    #[test]
    fn stamps_tell_recent_from_old() {
        let s = Stamp::new(Instant::now());
        assert!(!s.within(Duration::from_secs(3600)), "never set");
        s.set_now();
        assert!(s.within(Duration::from_secs(3600)));
        assert!(!s.within(Duration::ZERO));
    }
}
