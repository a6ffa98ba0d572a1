//! The verified-bearer-token cache from the outside: a token sent again is answered from
//! memory with the same identity, but never past its `exp`, the key set that verified it, or a
//! logout; a token one character off is never taken for the remembered one, and refused
//! tokens are never remembered.

#![allow(clippy::unwrap_used, missing_docs)]

use std::future::Future;
use std::time::Duration;

use authentiq_core::{AuthError, Authentiq, Claims, Identity, Revocation, TokenError};
use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient};
use serde_json::{Value, json};

async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finished in time");
}

struct Setup {
    provider: DevProvider,
    client: RegisteredClient,
    auth: Authentiq,
}

async fn setup(max_age: Option<u64>) -> Setup {
    let provider = DevProvider::start().unwrap();
    provider.set_jwks_max_age(max_age);
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(vec![7u8; 64])
        .leeway(Duration::ZERO)
        .build()
        .await
        .unwrap();
    Setup {
        provider,
        client,
        auth,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Setup {
    fn token(&self, alg: Alg, extra: Value) -> String {
        self.provider
            .mint_id_token_with(&self.client.client_id, alg, "cached-user", extra)
    }
    async fn bearer(&self, token: &str) -> Result<Identity<Claims>, AuthError> {
        self.auth.verify_bearer::<Claims>(token).await
    }
}

fn refusal(r: Result<Identity<Claims>, AuthError>) -> TokenError {
    match r {
        Err(AuthError::InvalidToken(e)) => e,
        other => panic!("expected an invalid_token refusal, got {other:?}"),
    }
}

#[derive(serde::Deserialize, Debug, PartialEq)]
struct Mine {
    sub: String,
    email: String,
}

#[tokio::test]
async fn a_repeated_token_is_remembered_and_gives_the_same_identity() {
    bounded(async {
        let s = setup(None).await;
        let token = s.token(Alg::ES256, json!({"email": "c@example.com", "sid": "s-1"}));
        assert_eq!(s.auth.remembered_bearer_tokens(), 0);
        let first = s.bearer(&token).await.unwrap();
        assert_eq!(s.auth.remembered_bearer_tokens(), 1);
        let again = s.bearer(&token).await.unwrap();
        assert_eq!(s.auth.remembered_bearer_tokens(), 1, "the same entry");
        assert_eq!(first.claims, again.claims);
        assert_eq!(again.subject, "cached-user");
        assert_eq!(again.claims.sid.as_deref(), Some("s-1"));
        assert!(
            again.claims.extra.get("nonce").is_none() && again.claims.extra.get("aud").is_none(),
            "protocol claims stay out: {:?}",
            again.claims
        );
        // Any claims type reads the remembered claims.
        let mine = s.auth.verify_bearer::<Mine>(&token).await.unwrap();
        assert_eq!(
            mine.claims,
            Mine {
                sub: "cached-user".into(),
                email: "c@example.com".into()
            }
        );
        // A claims type the token cannot fill is refused, hit or miss.
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct NeedsPhone {
            phone_number: String,
        }
        assert!(s.auth.verify_bearer::<NeedsPhone>(&token).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn a_token_one_character_off_is_not_the_remembered_one() {
    bounded(async {
        let s = setup(None).await;
        let token = s.token(Alg::RS256, json!({}));
        s.bearer(&token).await.unwrap();
        // The last signature character changed, and a payload character changed: both keep
        // the token's length and signature tail, and both are judged on their own.
        let mut sig_off = token.clone().into_bytes();
        let last = sig_off.len() - 2;
        sig_off[last] = if sig_off[last] == b'A' { b'B' } else { b'A' };
        let sig_off = String::from_utf8(sig_off).unwrap();
        assert_eq!(refusal(s.bearer(&sig_off).await), TokenError::BadSignature);
        let dot = token.find('.').unwrap() + 5;
        let mut body_off = token.clone().into_bytes();
        body_off[dot] = if body_off[dot] == b'A' { b'B' } else { b'A' };
        let body_off = String::from_utf8(body_off).unwrap();
        assert!(s.bearer(&body_off).await.is_err());
        assert_eq!(
            s.auth.remembered_bearer_tokens(),
            1,
            "refused tokens are never remembered"
        );
        for garbage in ["a.b.c", "x", &"A".repeat(4000)] {
            assert!(s.bearer(garbage).await.is_err());
        }
        assert_eq!(s.auth.remembered_bearer_tokens(), 1);
    })
    .await;
}

#[tokio::test]
async fn a_remembered_token_ends_at_its_exp() {
    bounded(async {
        let s = setup(None).await;
        let exp = now() + 2;
        let token = s.token(Alg::ES256, json!({"exp": exp}));
        s.bearer(&token).await.unwrap();
        s.bearer(&token).await.unwrap();
        let wait = Duration::from_secs(exp + 1 - now()) + Duration::from_millis(100);
        tokio::time::sleep(wait).await;
        assert_eq!(refusal(s.bearer(&token).await), TokenError::Expired);
    })
    .await;
}

#[tokio::test]
async fn a_remembered_token_ends_with_a_logout() {
    bounded(async {
        let s = setup(None).await;
        let token = s.token(
            Alg::EdDSA,
            json!({"sid": "provider-session", "iat": now() - 5}),
        );
        s.bearer(&token).await.unwrap();
        s.bearer(&token).await.unwrap();
        s.auth
            .config()
            .session
            .store
            .revoke(Revocation::Sid {
                sid: "provider-session".into(),
                before: now(),
                until: now() + 3600,
            })
            .await
            .unwrap();
        assert_eq!(refusal(s.bearer(&token).await), TokenError::LoggedOut);
    })
    .await;
}

#[tokio::test]
async fn a_remembered_token_ends_with_the_key_that_verified_it() {
    bounded(async {
        let s = setup(Some(5)).await;
        let built = std::time::Instant::now();
        let key = s.provider.signing_key(Alg::RS256).unwrap();
        let token = s.token(Alg::RS256, json!({}));
        s.bearer(&token).await.unwrap();
        assert!(s.provider.withdraw_key(key.kid()));
        // Within the key set's max-age the remembered token stands, as the key set does.
        s.bearer(&token).await.unwrap();
        tokio::time::sleep_until((built + Duration::from_millis(5300)).into()).await;
        assert!(
            matches!(
                refusal(s.bearer(&token).await),
                TokenError::NoMatchingKey { .. }
            ),
            "once the key set is refetched without the key, the token is refused"
        );
    })
    .await;
}

#[tokio::test]
async fn a_refetch_that_drops_the_key_ends_the_remembered_token_at_once() {
    bounded(async {
        let s = setup(None).await;
        let old = s.provider.signing_key(Alg::ES256).unwrap();
        let token = s.token(Alg::ES256, json!({}));
        s.bearer(&token).await.unwrap();
        // The provider withdraws the key and signs with a new one; the first token under the
        // new `kid` makes the SDK refetch the key set, long before its max-age.
        assert!(s.provider.withdraw_key(old.kid()));
        let fresh = s.token(Alg::ES256, json!({}));
        s.bearer(&fresh).await.unwrap();
        assert!(
            matches!(
                refusal(s.bearer(&token).await),
                TokenError::NoMatchingKey { .. }
            ),
            "the remembered token is judged again by the new key set"
        );
        s.bearer(&fresh).await.unwrap();
    })
    .await;
}
