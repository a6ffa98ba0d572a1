//! The provider's JWKS, cached: expiring per the provider's `Cache-Control: max-age`,
//! refetched single-flight and rate-limited when a key is unknown or a signature fails.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::TokenError;
use crate::token::keys::KeySet;
use crate::token::{Algorithm, Jws};

use super::{Provider, get_json_with_headers};

/// How long a JWKS stays fresh when the provider sends no `Cache-Control: max-age`.
pub(crate) const JWKS_DEFAULT_MAX_AGE: Duration = Duration::from_secs(600);

/// The shortest time a JWKS is kept, whatever the provider says (`no-store`, `max-age=0`):
/// keeps a provider from making every verification wait on a fetch.
pub(crate) const JWKS_MIN_MAX_AGE: Duration = Duration::from_secs(5);

/// The provider's endpoints, from discovery plus overrides.
/// The provider's keys and how long they stay fresh.
pub(super) struct CachedKeys {
    pub(super) keys: KeySet,
    fetched: Instant,
    pub(super) max_age: Duration,
    /// Unique per fetched set in this process: what a remembered verification was made with.
    generation: u64,
}

/// The source of [`CachedKeys::generation`].
static GENERATION: AtomicU64 = AtomicU64::new(1);

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
pub(super) struct Stamp {
    base: Instant,
    at: AtomicU64,
}

impl Stamp {
    pub(super) fn new(base: Instant) -> Self {
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
impl Provider {
    fn current_keys(&self) -> Arc<CachedKeys> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The generation of the key set in use, while it is fresh: a verification remembered
    /// under another generation (or while the set is stale) must be done again.
    pub(crate) fn key_generation(&self) -> Option<u64> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        (!keys.expired()).then_some(keys.generation)
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
            if !jws.has_candidate(alg, &fresh.keys)
                && self.last_failure.within(self.refetch_interval)
            {
                // The key may well exist: the provider could not be asked.
                return Err(TokenError::KeysUnavailable);
            }
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
}

pub(super) async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<CachedKeys, String> {
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
        generation: GENERATION.fetch_add(1, Ordering::Relaxed),
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
