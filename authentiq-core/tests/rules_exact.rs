//! The ID Token claim rules at their exact edges: each time bound one second inside and one
//! second outside (leeway included), the length limit of `sub`, and every JSON shape a
//! registered claim can take (escaped strings, negative numbers, floats, booleans, objects,
//! empty arrays, a payload that is not an object).

#![allow(clippy::unwrap_used, missing_docs)]

use std::future::Future;

use authentiq_core::{Authentiq, Channel, ConfigBuilder, TokenError, ValidatedToken};
use authentiq_dev::keys::b64url;
use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient};
use serde_json::{Value, json};

const NONCE: &str = "n-exact";
/// The leeway these tests configure (the default is 60 s; any value works).
const LEEWAY: u64 = 30;

struct Setup {
    provider: DevProvider,
    client: RegisteredClient,
    auth: Authentiq,
}

async fn setup_with(f: impl FnOnce(ConfigBuilder) -> ConfigBuilder) -> Setup {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let auth = f(Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .leeway(std::time::Duration::from_secs(LEEWAY))
        .session_key(vec![7u8; 64]))
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

/// Runs `check(now)` until it ran within one wall-clock second, so that a bound computed from
/// `now` is exactly at its edge when the core reads the clock.
async fn within_one_second<F, Fut>(mut check: F) -> Result<ValidatedToken, TokenError>
where
    F: FnMut(u64) -> Fut,
    Fut: Future<Output = Result<ValidatedToken, TokenError>>,
{
    loop {
        let before = now();
        let result = check(before).await;
        if now() == before {
            return result;
        }
    }
}

impl Setup {
    fn claims(&self, n: u64) -> Value {
        json!({
            "iss": self.provider.issuer(), "sub": "alice", "aud": self.client.client_id,
            "exp": n + 600, "iat": n, "nonce": NONCE,
        })
    }
    fn with(&self, n: u64, changes: Value) -> Value {
        let mut c = self.claims(n);
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    }
    fn sign(&self, claims: &Value) -> String {
        let key = self.provider.signing_key(Alg::RS256).unwrap();
        key.sign_jws(
            &json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()}),
            claims,
        )
    }
    /// Signs a payload given as raw JSON text (escapes and spacing kept as written).
    fn sign_text(&self, payload: &str) -> String {
        let key = self.provider.signing_key(Alg::RS256).unwrap();
        let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()});
        key.sign_raw(&format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(payload.as_bytes())
        ))
    }
    async fn check(
        &self,
        token: &str,
        max_token_age: Option<u64>,
    ) -> Result<ValidatedToken, TokenError> {
        self.auth
            .validate_id_token(token, Channel::Browser, Some(NONCE), None, max_token_age)
            .await
    }
    /// Validates the claims `change(now)` made at a fixed second.
    async fn at_edge(
        &self,
        max_token_age: Option<u64>,
        change: impl Fn(u64) -> Value,
    ) -> Result<ValidatedToken, TokenError> {
        within_one_second(|n| {
            let token = self.sign(&self.with(n, change(n)));
            async move { self.check(&token, max_token_age).await }
        })
        .await
    }
}

#[tokio::test]
async fn exp_ends_validity_at_exp_plus_leeway() {
    let s = setup_with(|b| b).await;
    let r = s.at_edge(None, |n| json!({"exp": n - LEEWAY + 1})).await;
    assert!(r.is_ok(), "one second before exp + leeway: {r:?}");
    let r = s.at_edge(None, |n| json!({"exp": n - LEEWAY})).await;
    assert_eq!(r, Err(TokenError::Expired), "at exp + leeway");
}

#[tokio::test]
async fn iat_may_be_at_most_leeway_in_the_future() {
    let s = setup_with(|b| b).await;
    let r = s.at_edge(None, |n| json!({"iat": n + LEEWAY})).await;
    assert!(r.is_ok(), "iat = now + leeway: {r:?}");
    let r = s.at_edge(None, |n| json!({"iat": n + LEEWAY + 1})).await;
    assert_eq!(r, Err(TokenError::IssuedInFuture));
}

#[tokio::test]
async fn nbf_may_be_at_most_leeway_in_the_future() {
    let s = setup_with(|b| b).await;
    let r = s.at_edge(None, |n| json!({"nbf": n + LEEWAY})).await;
    assert!(r.is_ok(), "nbf = now + leeway: {r:?}");
    let r = s.at_edge(None, |n| json!({"nbf": n + LEEWAY + 1})).await;
    assert_eq!(r, Err(TokenError::NotYetValid));
}

#[tokio::test]
async fn max_token_age_counts_from_iat_with_leeway() {
    let s = setup_with(|b| b).await;
    let max = 1000;
    let r = s
        .at_edge(Some(max), |n| json!({"iat": n - max - LEEWAY}))
        .await;
    assert!(r.is_ok(), "iat + max + leeway = now: {r:?}");
    let r = s
        .at_edge(Some(max), |n| json!({"iat": n - max - LEEWAY - 1}))
        .await;
    assert_eq!(r, Err(TokenError::TooOld));
}

#[tokio::test]
async fn auth_time_counts_from_max_age_with_leeway() {
    let s = setup_with(|b| b.max_age(Some(300))).await;
    let r = s
        .at_edge(None, |n| json!({"auth_time": n - 300 - LEEWAY}))
        .await;
    assert!(r.is_ok(), "auth_time + max_age + leeway = now: {r:?}");
    let r = s
        .at_edge(None, |n| json!({"auth_time": n - 300 - LEEWAY - 1}))
        .await;
    assert_eq!(r, Err(TokenError::AuthTime));
    // A float auth_time counts by its whole seconds; a negative one is no time at all.
    let r = s
        .at_edge(None, |n| json!({"auth_time": (n - 10) as f64 + 0.25}))
        .await;
    assert!(r.is_ok(), "{r:?}");
    let r = s.at_edge(None, |_| json!({"auth_time": -5})).await;
    assert_eq!(r, Err(TokenError::MissingClaim("auth_time")));
}

#[tokio::test]
async fn sub_is_one_to_255_bytes() {
    let s = setup_with(|b| b).await;
    let n = now();
    let ok = s.sign(&s.with(n, json!({"sub": "s".repeat(255)})));
    assert_eq!(s.check(&ok, None).await.unwrap().subject(), "s".repeat(255));
    let ok = s.sign(&s.with(n, json!({"sub": "s"})));
    assert_eq!(s.check(&ok, None).await.unwrap().subject(), "s");
    for bad in [
        json!("s".repeat(256)),
        json!(""),
        json!(7),
        json!(["alice"]),
    ] {
        let t = s.sign(&s.with(n, json!({"sub": bad})));
        assert_eq!(
            s.check(&t, None).await,
            Err(TokenError::MissingClaim("sub")),
            "sub {bad}"
        );
    }
}

#[tokio::test]
async fn escaped_strings_are_read_as_their_text() {
    let s = setup_with(|b| b).await;
    let n = now();
    // The issuer with every `/` escaped, and a subject spelled with a unicode escape: the
    // claims are compared as text, not as bytes of the payload.
    let iss = s.provider.issuer().replace('/', "\\/");
    let payload = format!(
        r#"{{"iss":"{iss}","sub":"al\u0069ce","aud":["{}"],"exp":{},"iat":{n},"nonce":"n-\u0065xact"}}"#,
        s.client.client_id,
        n + 600
    );
    let valid = s.check(&s.sign_text(&payload), None).await.unwrap();
    assert_eq!(valid.subject(), "alice");
    // Leading whitespace before the object is fine.
    let spaced = format!(" \n\t{payload}");
    assert_eq!(
        s.check(&s.sign_text(&spaced), None)
            .await
            .unwrap()
            .subject(),
        "alice"
    );
}

#[tokio::test]
async fn negative_float_boolean_and_object_claims_are_refused_by_name() {
    let s = setup_with(|b| b).await;
    let n = now();
    let cases = [
        (json!({"exp": -1}), TokenError::MissingClaim("exp")),
        (json!({"exp": -1.5}), TokenError::MissingClaim("exp")),
        (json!({"exp": true}), TokenError::MissingClaim("exp")),
        (json!({"iat": -3}), TokenError::MissingClaim("iat")),
        (json!({"iat": {"at": n}}), TokenError::MissingClaim("iat")),
        (json!({"nbf": -1}), TokenError::MissingClaim("nbf")),
        (json!({"nbf": true}), TokenError::MissingClaim("nbf")),
        (json!({"nbf": {}}), TokenError::MissingClaim("nbf")),
        (json!({"nbf": [1]}), TokenError::MissingClaim("nbf")),
        (
            json!({"nbf": (n + 3600) as f64 + 0.5}),
            TokenError::NotYetValid,
        ),
        (json!({"azp": false}), TokenError::AuthorizedParty),
        (json!({"azp": {"id": "x"}}), TokenError::AuthorizedParty),
        (json!({"aud": []}), TokenError::MissingClaim("aud")),
        (json!({"aud": {"0": "x"}}), TokenError::MissingClaim("aud")),
        (json!({"iss": false}), TokenError::MissingClaim("iss")),
        (
            json!({"events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
            TokenError::NotAnIdToken,
        ),
        (json!({"events": false}), TokenError::NotAnIdToken),
    ];
    for (change, want) in cases {
        let t = s.sign(&s.with(n, change.clone()));
        assert_eq!(s.check(&t, None).await, Err(want), "{change}");
    }
    // `null` is the same as absent for an optional claim.
    for change in [
        json!({"nbf": null}),
        json!({"azp": null}),
        json!({"events": null}),
    ] {
        let t = s.sign(&s.with(n, change.clone()));
        assert!(s.check(&t, None).await.is_ok(), "{change}");
    }
    // Other claims may have any shape.
    let t = s.sign(&s.with(n, json!({"extra": {"deep": [true, null, -1, 1.5]}})));
    assert!(s.check(&t, None).await.is_ok());
}

#[tokio::test]
async fn a_payload_array_is_not_read_by_position() {
    let s = setup_with(|b| b).await;
    let n = now();
    // Field by field in declaration order, as serde's derived reader would take a sequence.
    let fields = json!([
        s.provider.issuer(),
        "alice",
        s.client.client_id,
        null,
        n + 600,
        n
    ]);
    let t = s.sign(&fields);
    assert_eq!(
        s.check(&t, None).await,
        Err(TokenError::Malformed("payload is not a JSON object"))
    );
}

const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

impl Setup {
    /// A logout token signed with the client secret (the token endpoint's policy).
    fn logout_token(&self, claims: Value) -> String {
        let mut base = json!({
            "iss": self.provider.issuer(), "aud": self.client.client_id, "iat": now(),
            "sid": "sid-1", "events": {EVENT: {}}
        });
        for (k, v) in claims.as_object().unwrap() {
            base[k] = v.clone();
        }
        authentiq_dev::keys::hs256(
            self.client.client_secret.as_bytes(),
            &json!({"alg": "HS256", "typ": "logout+jwt"}),
            &base,
        )
    }

    async fn backchannel(&self, token: &str) -> u16 {
        let head = http::Request::post("/auth/backchannel-logout")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap();
        let body = format!("logout_token={token}");
        authentiq_core::adapter::respond(&self.auth, &head, Some(body.as_bytes()))
            .await
            .status()
    }
}

/// A logout token's `exp`, when it has one, bounds it; only one without `exp` is held to an
/// age of 300 seconds from `iat`.
#[tokio::test]
async fn a_logout_token_with_exp_is_bounded_by_its_exp_not_by_age() {
    let s = setup_with(|b| b).await;
    let n = now();
    let old_with_exp = s.logout_token(json!({"iat": n - 1000, "exp": n + 600, "jti": "j-1"}));
    assert_eq!(s.backchannel(&old_with_exp).await, 200);
    let old_without = s.logout_token(json!({"iat": n - 1000, "jti": "j-2"}));
    assert_eq!(s.backchannel(&old_without).await, 400);
    let recent_without = s.logout_token(json!({"iat": n - 200, "jti": "j-3"}));
    assert_eq!(s.backchannel(&recent_without).await, 200);
    let expired = s.logout_token(json!({"iat": n - 100, "exp": n - LEEWAY - 1, "jti": "j-4"}));
    assert_eq!(s.backchannel(&expired).await, 400);
}
