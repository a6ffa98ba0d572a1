//! The JWKS cache from the attacker's side, against the development provider over loopback
//! HTTP: a withdrawn key stops verifying once the cached copy is past the provider's
//! `Cache-Control: max-age` (never under 5 s), a new key under a reused `kid` verifies after
//! one refetch, a storm of forged signatures refetches at most once per interval, and an
//! unreachable provider leaves the old keys in use until it comes back.

#![allow(clippy::unwrap_used, missing_docs)]

use std::future::Future;
use std::time::{Duration, Instant};

use authentiq_core::{Authentiq, Channel, ConfigBuilder, TokenError, ValidatedToken};
use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient, SigningKey};
use serde_json::{Value, json};

const NONCE: &str = "n-0S6_WzA2Mj";

/// Every test runs under this bound, so a hung provider fails the test instead of the run.
async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finished in time");
}

struct Setup {
    provider: DevProvider,
    client: RegisteredClient,
    auth: Authentiq,
    /// When the SDK fetched the JWKS (just before `build` returned).
    built: Instant,
}

/// A provider whose JWKS says `max_age` (seconds), and an SDK built against it.
async fn setup(max_age: Option<u64>, f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Setup {
    let provider = DevProvider::start().unwrap();
    provider.set_jwks_max_age(max_age);
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let auth = f(Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(vec![7u8; 64]))
    .build()
    .await
    .unwrap();
    Setup {
        provider,
        client,
        auth,
        built: Instant::now(),
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Setup {
    fn claims(&self) -> Value {
        let n = now();
        json!({
            "iss": self.provider.issuer(), "sub": "3Lz8P-sfhA9bQ2", "aud": self.client.client_id,
            "azp": self.client.client_id, "exp": n + 600, "iat": n, "nonce": NONCE,
        })
    }
    fn key(&self, alg: Alg) -> SigningKey {
        self.provider.signing_key(alg).unwrap()
    }
    /// A token signed by `key`, with `key`'s kid in the header.
    fn signed_by(&self, key: &SigningKey) -> String {
        key.sign_jws(
            &json!({"alg": key.alg().as_str(), "typ": "JWT", "kid": key.kid()}),
            &self.claims(),
        )
    }
    async fn browser(&self, token: &str) -> Result<ValidatedToken, TokenError> {
        self.auth
            .validate_id_token(token, Channel::Browser, Some(NONCE), None, None)
            .await
    }
    fn fetches(&self) -> usize {
        self.provider.jwks_fetch_count()
    }
    /// Sleeps until `secs` seconds (plus a margin) after the SDK's first JWKS fetch.
    async fn until(&self, secs: f64) {
        let at = self.built + Duration::from_secs_f64(secs) + Duration::from_millis(300);
        tokio::time::sleep_until(at.into()).await;
    }
}

async fn concurrently(s: &Setup, token: &str, n: usize) -> Vec<Result<ValidatedToken, TokenError>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let auth = s.auth.clone();
        let token = token.to_owned();
        set.spawn(async move {
            auth.validate_id_token(&token, Channel::Browser, Some(NONCE), None, None)
                .await
        });
    }
    set.join_all().await
}

#[tokio::test]
async fn a_fresh_cache_verifies_without_fetching() {
    bounded(async {
        let s = setup(Some(600), |b| b).await;
        let before = s.fetches();
        let token = s.signed_by(&s.key(Alg::ES256));
        for _ in 0..50 {
            assert!(s.browser(&token).await.is_ok());
        }
        assert_eq!(
            s.fetches(),
            before,
            "no fetch while the cached copy is fresh"
        );
    })
    .await;
}

#[tokio::test]
async fn a_withdrawn_key_is_refused_once_the_max_age_passes() {
    bounded(async {
        let s = setup(Some(5), |b| b).await;
        let stolen = s.key(Alg::RS256);
        let forged = s.signed_by(&stolen);
        assert!(s.browser(&forged).await.is_ok(), "before the withdrawal");
        assert!(s.provider.withdraw_key(stolen.kid()));
        let before = s.fetches();
        // Within the max-age the cached copy still holds the key: that is what max-age means.
        assert!(s.browser(&forged).await.is_ok());
        assert_eq!(s.fetches(), before);
        s.until(5.0).await;
        assert!(
            matches!(
                s.browser(&forged).await,
                Err(TokenError::NoMatchingKey { .. })
            ),
            "the withdrawn key no longer verifies"
        );
        assert_eq!(s.fetches(), before + 1, "one refetch on expiry");
        // The provider's replacement key came with that refetch.
        let fresh = s.signed_by(&s.key(Alg::RS256));
        assert_ne!(s.key(Alg::RS256).kid(), stolen.kid());
        assert!(s.browser(&fresh).await.is_ok());
        assert_eq!(s.fetches(), before + 1);
    })
    .await;
}

#[tokio::test]
async fn max_age_zero_or_one_still_keeps_keys_five_seconds() {
    bounded(async {
        for header in [Some(0), Some(1)] {
            let s = setup(header, |b| b).await;
            let stolen = s.key(Alg::EdDSA);
            let forged = s.signed_by(&stolen);
            assert!(s.provider.withdraw_key(stolen.kid()));
            let before = s.fetches();
            s.until(2.0).await;
            assert!(
                s.browser(&forged).await.is_ok(),
                "max-age {header:?} is raised to the 5 s floor"
            );
            assert_eq!(s.fetches(), before, "no fetch before the floor");
            s.until(5.0).await;
            assert!(matches!(
                s.browser(&forged).await,
                Err(TokenError::NoMatchingKey { .. })
            ));
            assert_eq!(s.fetches(), before + 1);
        }
    })
    .await;
}

#[tokio::test]
async fn concurrent_verifications_after_expiry_share_one_fetch() {
    bounded(async {
        let s = setup(Some(5), |b| b).await;
        let token = s.signed_by(&s.key(Alg::ES256));
        let before = s.fetches();
        s.until(5.0).await;
        let results = concurrently(&s, &token, 25).await;
        assert!(results.iter().all(Result::is_ok));
        assert_eq!(s.fetches(), before + 1, "single-flight");
    })
    .await;
}

#[tokio::test]
async fn a_new_key_under_a_reused_kid_verifies_after_one_refetch() {
    bounded(async {
        let s = setup(Some(600), |b| {
            b.jwks_refetch_interval(Duration::from_secs(1))
        })
        .await;
        let old = s.key(Alg::RS256);
        let new = SigningKey::generate(Alg::RS256).with_kid(old.kid());
        s.provider.set_signing_key(new.clone());
        let token = s.signed_by(&new);
        let before = s.fetches();
        // The cached copy is younger than the refetch interval: no refetch yet.
        assert_eq!(s.browser(&token).await, Err(TokenError::BadSignature));
        assert_eq!(s.fetches(), before);
        s.until(1.0).await;
        assert!(s.browser(&token).await.is_ok(), "verifies after a refetch");
        assert_eq!(s.fetches(), before + 1, "exactly one refetch");
        // The replaced key, under the same kid, is refused now and costs no fetch.
        assert_eq!(
            s.browser(&s.signed_by(&old)).await,
            Err(TokenError::BadSignature)
        );
        assert_eq!(s.fetches(), before + 1);
    })
    .await;
}

#[tokio::test]
async fn a_rotated_key_verifies_tokens_without_kid_after_one_refetch() {
    bounded(async {
        let s = setup(Some(600), |b| {
            b.jwks_refetch_interval(Duration::from_secs(1))
        })
        .await;
        let new = SigningKey::generate(Alg::ES256);
        s.provider.set_signing_key(new.clone());
        let token = new.sign_jws(&json!({"alg": "ES256", "typ": "JWT"}), &s.claims());
        let before = s.fetches();
        s.until(1.0).await;
        assert!(s.browser(&token).await.is_ok());
        assert_eq!(s.fetches(), before + 1);
    })
    .await;
}

#[tokio::test]
async fn a_storm_of_bad_signatures_refetches_at_most_once_per_interval() {
    bounded(async {
        let s = setup(Some(600), |b| {
            b.jwks_refetch_interval(Duration::from_secs(1))
        })
        .await;
        let real = s.key(Alg::RS256);
        let rogue = SigningKey::generate(Alg::RS256).with_kid(real.kid());
        let forged = s.signed_by(&rogue);
        let before = s.fetches();
        s.until(1.0).await;
        for round in 1..=2 {
            for _ in 0..3 {
                let results = concurrently(&s, &forged, 30).await;
                assert!(results.iter().all(|r| *r == Err(TokenError::BadSignature)));
            }
            assert_eq!(
                s.fetches(),
                before + round,
                "one refetch for 90 forged tokens in round {round}"
            );
            tokio::time::sleep(Duration::from_millis(1300)).await;
        }
        // The genuine key still verifies throughout.
        assert!(s.browser(&s.signed_by(&real)).await.is_ok());
    })
    .await;
}

#[tokio::test]
async fn an_unreachable_provider_keeps_the_keys_and_retries_per_interval() {
    bounded(async {
        let s = setup(Some(5), |b| b.jwks_refetch_interval(Duration::from_secs(2))).await;
        let key = s.key(Alg::RS256);
        let token = s.signed_by(&key);
        s.provider.shutdown();
        s.until(5.0).await;
        let started = Instant::now();
        assert!(
            s.browser(&token).await.is_ok(),
            "the expired keys stay in use while the provider is away"
        );
        s.provider.resume().unwrap();
        assert!(s.provider.withdraw_key(key.kid()));
        let before = s.fetches();
        // The failed refetch is not retried within the interval.
        assert!(s.browser(&token).await.is_ok());
        assert_eq!(s.fetches(), before);
        tokio::time::sleep_until((started + Duration::from_millis(2300)).into()).await;
        assert!(
            matches!(
                s.browser(&token).await,
                Err(TokenError::NoMatchingKey { .. })
            ),
            "once the provider is back, the withdrawal takes effect without a restart"
        );
        assert_eq!(s.fetches(), before + 1);
    })
    .await;
}
