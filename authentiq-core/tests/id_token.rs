//! Every ID Token rule, tested from the attacker's side: each test sends a token that fails
//! exactly one check (everything else valid) and asserts the specific refusal; the baseline
//! tokens prove the same construction passes when nothing is wrong.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::{AlgPolicy, Authentiq, Channel, ConfigBuilder, TokenError, ValidatedToken};
use authentiq_dev::keys::{hs256, unsigned};
use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient, SigningKey};
use serde_json::{Value, json};

const NONCE: &str = "n-0S6_WzA2Mj";

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

async fn setup() -> Setup {
    setup_with(|b| b).await
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
            "email": "alice@example.com", "email_verified": true
        })
    }
    fn with(&self, changes: Value) -> Value {
        let mut c = self.claims();
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        c
    }
    fn key(&self, alg: Alg) -> SigningKey {
        self.provider.signing_key(alg).unwrap()
    }
    fn header(&self, alg: Alg) -> Value {
        json!({"alg": alg.as_str(), "typ": "JWT", "kid": self.key(alg).kid()})
    }
    /// A browser-channel token: asymmetric, signed by the provider's current key.
    fn signed(&self, alg: Alg, claims: &Value) -> String {
        self.key(alg).sign_jws(&self.header(alg), claims)
    }
    /// A token-endpoint token: HS256 with the client secret.
    fn hs(&self, claims: &Value) -> String {
        hs256(
            self.client.client_secret.as_bytes(),
            &json!({"alg": "HS256", "typ": "JWT"}),
            claims,
        )
    }
    async fn browser(&self, token: &str) -> Result<ValidatedToken, TokenError> {
        self.auth
            .validate_id_token(token, Channel::Browser, Some(NONCE), None, None)
            .await
    }
    async fn endpoint(&self, token: &str) -> Result<ValidatedToken, TokenError> {
        self.auth
            .validate_id_token(token, Channel::TokenEndpoint, Some(NONCE), None, None)
            .await
    }
}

#[tokio::test]
async fn valid_tokens_pass_on_their_channels() {
    let s = setup().await;
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        let t = s.signed(alg, &s.claims());
        let valid = s.browser(&t).await.unwrap();
        assert_eq!(
            valid.subject(),
            "3Lz8P-sfhA9bQ2",
            "{alg:?} on the browser channel"
        );
        assert_eq!(valid.claims()["email"], "alice@example.com");
        assert!(
            s.endpoint(&t).await.is_ok(),
            "{alg:?} from the token endpoint"
        );
    }
    assert!(
        s.endpoint(&s.hs(&s.claims())).await.is_ok(),
        "HS256 from the token endpoint"
    );
    // aud as an array holding only the client id, and float times, are fine.
    let c = s.with(json!({"aud": [s.client.client_id], "exp": (now() + 60) as f64 + 0.5}));
    assert!(s.browser(&s.signed(Alg::RS256, &c)).await.is_ok());
}

#[tokio::test]
async fn bad_signature() {
    let s = setup().await;
    let t = s.signed(Alg::RS256, &s.claims());
    // Same header and signature, different payload.
    let mut parts: Vec<&str> = t.split('.').collect();
    let other = s.signed(Alg::RS256, &s.with(json!({"sub": "mallory"})));
    let other_payload = other.split('.').nth(1).unwrap();
    parts[1] = other_payload;
    assert_eq!(
        s.browser(&parts.join(".")).await,
        Err(TokenError::BadSignature)
    );
    // Signed by a key the provider never published, under a published kid.
    let rogue = SigningKey::generate(Alg::ES256).with_kid(s.key(Alg::ES256).kid());
    let t = rogue.sign_jws(&s.header(Alg::ES256), &s.claims());
    assert_eq!(s.browser(&t).await, Err(TokenError::BadSignature));
    // HS256 with the wrong secret.
    let t = hs256(
        b"not the client secret",
        &json!({"alg": "HS256"}),
        &s.claims(),
    );
    assert_eq!(s.endpoint(&t).await, Err(TokenError::BadSignature));
}

#[tokio::test]
async fn alg_none_is_refused_unless_explicitly_allowed_from_the_token_endpoint() {
    let s = setup().await;
    let t = unsigned(&json!({"alg": "none"}), &s.claims());
    assert_eq!(s.browser(&t).await, Err(TokenError::Unsigned));
    assert_eq!(s.endpoint(&t).await, Err(TokenError::Unsigned));
    let t2 = unsigned(&json!({"alg": "NONE"}), &s.claims());
    assert_eq!(s.endpoint(&t2).await, Err(TokenError::Unsigned));
    let lax = setup_with(|b| {
        b.alg_policy(AlgPolicy {
            allow_unsigned_from_token_endpoint: true,
            ..AlgPolicy::default()
        })
    })
    .await;
    let t = unsigned(&json!({"alg": "none"}), &lax.claims());
    assert!(
        lax.endpoint(&t).await.is_ok(),
        "the explicit opt-in accepts it from the token endpoint"
    );
    assert_eq!(
        lax.browser(&t).await,
        Err(TokenError::Unsigned),
        "never from the browser"
    );
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let s = setup().await;
    let rsa = s.key(Alg::RS256);
    let header = json!({"alg": "HS256", "kid": rsa.kid()});
    // The classic confusion attack: the public key (as published) used as an HMAC secret.
    for secret in [
        rsa.public_key_der(),
        rsa.public_jwk().to_string().into_bytes(),
    ] {
        let t = hs256(&secret, &header, &s.claims());
        assert_eq!(s.endpoint(&t).await, Err(TokenError::BadSignature));
        assert!(matches!(
            s.browser(&t).await,
            Err(TokenError::AlgorithmNotAllowed { .. })
        ));
    }
}

#[tokio::test]
async fn hs256_is_refused_on_the_browser_channel_even_with_the_right_secret() {
    let s = setup().await;
    let t = s.hs(&s.claims());
    assert!(matches!(
        s.browser(&t).await,
        Err(TokenError::AlgorithmNotAllowed { .. })
    ));
    let strict = setup_with(|b| {
        b.alg_policy(AlgPolicy {
            hs256_from_token_endpoint: false,
            ..AlgPolicy::default()
        })
    })
    .await;
    assert!(matches!(
        strict.endpoint(&strict.hs(&strict.claims())).await,
        Err(TokenError::AlgorithmNotAllowed { .. })
    ));
}

#[tokio::test]
async fn algorithm_outside_the_policy_is_refused() {
    let s = setup_with(|b| {
        b.alg_policy(AlgPolicy {
            asymmetric: vec![authentiq_core::Algorithm::RS256],
            ..AlgPolicy::default()
        })
    })
    .await;
    assert!(s.browser(&s.signed(Alg::RS256, &s.claims())).await.is_ok());
    assert!(matches!(
        s.browser(&s.signed(Alg::ES256, &s.claims())).await,
        Err(TokenError::AlgorithmNotAllowed { .. })
    ));
    let t = s.key(Alg::RS256).sign_jws(
        &json!({"alg": "RS512", "kid": s.key(Alg::RS256).kid()}),
        &s.claims(),
    );
    assert!(matches!(
        s.browser(&t).await,
        Err(TokenError::AlgorithmNotAllowed { .. })
    ));
}

#[tokio::test]
async fn the_header_alg_cannot_pick_another_key_family() {
    let s = setup().await;
    // An ES256 signature presented as RS256 under the EC key's kid: no RSA key has that kid.
    let ec = s.key(Alg::ES256);
    let t = ec.sign_jws(&json!({"alg": "RS256", "kid": ec.kid()}), &s.claims());
    assert!(matches!(
        s.browser(&t).await,
        Err(TokenError::NoMatchingKey { .. })
    ));
}

#[tokio::test]
async fn wrong_issuer() {
    let s = setup().await;
    let t = s.signed(
        Alg::RS256,
        &s.with(json!({"iss": "https://connect.authentiq.io/"})),
    );
    assert_eq!(s.browser(&t).await, Err(TokenError::Issuer));
}

#[tokio::test]
async fn issuer_without_the_trailing_slash() {
    let s = setup().await;
    let iss = s.provider.issuer();
    assert!(iss.ends_with('/'));
    let t = s.signed(
        Alg::RS256,
        &s.with(json!({"iss": iss.trim_end_matches('/')})),
    );
    assert_eq!(s.browser(&t).await, Err(TokenError::Issuer));
    let t = s.signed(Alg::RS256, &s.with(json!({"iss": format!("{iss}/")})));
    assert_eq!(s.browser(&t).await, Err(TokenError::Issuer));
}

#[tokio::test]
async fn configured_issuer_without_slash_adopts_the_providers_spelling() {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let auth = Authentiq::builder(provider.issuer().trim_end_matches('/'), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .build()
        .await
        .unwrap();
    assert_eq!(auth.provider().issuer, provider.issuer());
}

#[tokio::test]
async fn wrong_audience() {
    let s = setup().await;
    let t = s.signed(
        Alg::RS256,
        &s.with(json!({"aud": "another-client", "azp": null})),
    );
    assert_eq!(s.browser(&t).await, Err(TokenError::Audience));
    let t = s.signed(Alg::RS256, &s.with(json!({"aud": [], "azp": null})));
    assert_eq!(s.browser(&t).await, Err(TokenError::MissingClaim("aud")));
}

#[tokio::test]
async fn untrusted_extra_audience() {
    let s = setup().await;
    let c = s.with(json!({"aud": [s.client.client_id, "https://other.example"]}));
    assert_eq!(
        s.browser(&s.signed(Alg::RS256, &c)).await,
        Err(TokenError::UntrustedAudience)
    );
    let trusting = setup_with(|b| b.trusted_audience("https://other.example")).await;
    let c = trusting.with(json!({"aud": [trusting.client.client_id, "https://other.example"]}));
    assert!(
        trusting
            .browser(&trusting.signed(Alg::RS256, &c))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn wrong_azp() {
    let s = setup().await;
    let t = s.signed(Alg::RS256, &s.with(json!({"azp": "another-client"})));
    assert_eq!(s.browser(&t).await, Err(TokenError::AuthorizedParty));
}

#[tokio::test]
async fn expired() {
    let s = setup().await;
    let n = now();
    let t = s.signed(Alg::RS256, &s.with(json!({"iat": n - 1000, "exp": n - 61})));
    assert_eq!(s.browser(&t).await, Err(TokenError::Expired));
    // Within the 60 s leeway it still counts.
    let t = s.signed(Alg::RS256, &s.with(json!({"iat": n - 1000, "exp": n - 30})));
    assert!(s.browser(&t).await.is_ok());
}

#[tokio::test]
async fn issued_in_the_future() {
    let s = setup().await;
    let t = s.signed(Alg::RS256, &s.with(json!({"iat": now() + 120})));
    assert_eq!(s.browser(&t).await, Err(TokenError::IssuedInFuture));
}

#[tokio::test]
async fn not_yet_valid() {
    let s = setup().await;
    let t = s.signed(Alg::RS256, &s.with(json!({"nbf": now() + 120})));
    assert_eq!(s.browser(&t).await, Err(TokenError::NotYetValid));
}

#[tokio::test]
async fn missing_or_wrong_nonce() {
    let s = setup().await;
    let t = s.signed(Alg::RS256, &s.with(json!({"nonce": null})));
    assert_eq!(s.browser(&t).await, Err(TokenError::Nonce));
    let t = s.signed(Alg::RS256, &s.with(json!({"nonce": "another-nonce"})));
    assert_eq!(s.browser(&t).await, Err(TokenError::Nonce));
    assert_eq!(
        s.endpoint(&s.hs(&s.with(json!({"nonce": "x"})))).await,
        Err(TokenError::Nonce)
    );
}

#[tokio::test]
async fn missing_required_claims() {
    let s = setup().await;
    for claim in ["sub", "iat", "exp", "iss", "aud"] {
        let t = s.signed(Alg::RS256, &s.with(json!({ claim: null })));
        assert_eq!(
            s.browser(&t).await,
            Err(TokenError::MissingClaim(claim)),
            "without {claim}"
        );
    }
    let t = s.signed(Alg::RS256, &s.with(json!({"sub": ""})));
    assert_eq!(s.browser(&t).await, Err(TokenError::MissingClaim("sub")));
    let t = s.signed(Alg::RS256, &s.with(json!({"exp": "tomorrow"})));
    assert_eq!(s.browser(&t).await, Err(TokenError::MissingClaim("exp")));
}

#[tokio::test]
async fn key_carrying_headers_are_refused() {
    let s = setup().await;
    let rogue = SigningKey::generate(Alg::RS256);
    for (name, value) in [
        ("jwk", rogue.public_jwk()),
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert.pem")),
    ] {
        let mut h = s.header(Alg::RS256);
        h[name] = value;
        // Signed with the genuine key: the header alone must cause the refusal.
        let t = s.key(Alg::RS256).sign_jws(&h, &s.claims());
        assert_eq!(
            s.browser(&t).await,
            Err(TokenError::ForbiddenHeader(name)),
            "{name}"
        );
    }
}

#[tokio::test]
async fn unknown_critical_header() {
    let s = setup().await;
    let mut h = s.header(Alg::RS256);
    h["crit"] = json!(["exp-ext"]);
    h["exp-ext"] = json!(true);
    let t = s.key(Alg::RS256).sign_jws(&h, &s.claims());
    assert_eq!(s.browser(&t).await, Err(TokenError::UnknownCritical));
}

#[tokio::test]
async fn wrong_token_type() {
    let s = setup().await;
    let mut h = s.header(Alg::RS256);
    h["typ"] = json!("logout+jwt");
    let t = s.key(Alg::RS256).sign_jws(&h, &s.claims());
    assert_eq!(
        s.browser(&t).await,
        Err(TokenError::WrongType("logout+jwt".into()))
    );
}

#[tokio::test]
async fn unknown_kid_after_rotation_succeeds_after_one_refetch() {
    let s = setup().await;
    let before = s.provider.jwks_fetch_count();
    s.provider.rotate_keys(false);
    let t = s.signed(Alg::RS256, &s.claims());
    assert!(s.browser(&t).await.is_ok(), "the new key is fetched");
    assert_eq!(
        s.provider.jwks_fetch_count(),
        before + 1,
        "exactly one refetch"
    );
    assert!(s.browser(&s.signed(Alg::ES256, &s.claims())).await.is_ok());
    assert_eq!(
        s.provider.jwks_fetch_count(),
        before + 1,
        "the refetched set is reused"
    );
}

#[tokio::test]
async fn refetches_are_rate_limited_and_single_flight() {
    let s = setup().await;
    let before = s.provider.jwks_fetch_count();
    let rogue = SigningKey::generate(Alg::RS256).with_kid("never-published");
    let t = rogue.sign_jws(
        &json!({"alg": "RS256", "kid": "never-published"}),
        &s.claims(),
    );
    // Twenty concurrent requests with an unknown kid cause one fetch between them.
    let results = futures_join(&s, &t, 20).await;
    assert!(
        results
            .iter()
            .all(|r| matches!(r, Err(TokenError::NoMatchingKey { .. })))
    );
    assert_eq!(s.provider.jwks_fetch_count(), before + 1);
    // Within the interval, further unknown kids fetch nothing.
    assert!(s.browser(&t).await.is_err());
    assert_eq!(s.provider.jwks_fetch_count(), before + 1);
}

async fn futures_join(s: &Setup, t: &str, n: usize) -> Vec<Result<ValidatedToken, TokenError>> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let auth = s.auth.clone();
        let t = t.to_owned();
        set.spawn(async move {
            auth.validate_id_token(&t, Channel::Browser, Some(NONCE), None, None)
                .await
        });
    }
    set.join_all().await
}

#[tokio::test]
async fn a_failed_refetch_keeps_the_old_keys() {
    let s = setup().await;
    let t = s.signed(Alg::RS256, &s.claims());
    s.provider.shutdown();
    let rogue = SigningKey::generate(Alg::RS256).with_kid("new-kid");
    let unknown = rogue.sign_jws(&json!({"alg": "RS256", "kid": "new-kid"}), &s.claims());
    // The provider could not be asked about the new kid: the app cannot judge the token, which
    // is the provider's failure (503), not a verdict on the token.
    assert_eq!(s.browser(&unknown).await, Err(TokenError::KeysUnavailable));
    assert!(s.browser(&t).await.is_ok(), "the cached keys still verify");
}

#[tokio::test]
async fn missing_kid_with_one_key_of_the_family() {
    let s = setup().await;
    let t = s
        .key(Alg::RS256)
        .sign_jws(&json!({"alg": "RS256"}), &s.claims());
    assert!(s.browser(&t).await.is_ok());
    let t = s
        .key(Alg::EdDSA)
        .sign_jws(&json!({"alg": "EdDSA"}), &s.claims());
    assert!(s.browser(&t).await.is_ok());
}

#[tokio::test]
async fn access_token_and_code_hashes() {
    let s = setup().await;
    let half = |data: &str| {
        let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data.as_bytes());
        authentiq_dev::keys::b64url(&d.as_ref()[..16])
    };
    let ok = s.signed(
        Alg::RS256,
        &s.with(json!({"at_hash": half("access-1"), "c_hash": half("code-1")})),
    );
    assert!(
        s.auth
            .validate_id_token(
                &ok,
                Channel::Browser,
                Some(NONCE),
                Some(("access-1", Some("code-1"))),
                None
            )
            .await
            .is_ok()
    );
    assert_eq!(
        s.auth
            .validate_id_token(
                &ok,
                Channel::Browser,
                Some(NONCE),
                Some(("access-2", Some("code-1"))),
                None
            )
            .await,
        Err(TokenError::AccessTokenHash)
    );
    assert_eq!(
        s.auth
            .validate_id_token(
                &ok,
                Channel::Browser,
                Some(NONCE),
                Some(("access-1", Some("code-2"))),
                None
            )
            .await,
        Err(TokenError::CodeHash)
    );

    // From the browser, each hash is required for what came with the token; from the token
    // endpoint neither is.
    let bare = s.signed(Alg::RS256, &s.with(json!({})));
    let check = |channel, flow| {
        let (auth, bare) = (&s.auth, &bare);
        async move {
            auth.validate_id_token(bare, channel, Some(NONCE), flow, None)
                .await
        }
    };
    assert_eq!(
        check(Channel::Browser, Some(("", Some("code-1")))).await,
        Err(TokenError::MissingClaim("c_hash")),
        "a hybrid response's token without c_hash"
    );
    assert_eq!(
        check(Channel::Browser, Some(("access-1", None))).await,
        Err(TokenError::MissingClaim("at_hash")),
        "an implicit response's token without at_hash"
    );
    assert!(
        check(Channel::Browser, None).await.is_ok(),
        "nothing to bind"
    );
    let only_c = s.signed(Alg::RS256, &s.with(json!({"c_hash": half("code-1")})));
    assert!(
        s.auth
            .validate_id_token(
                &only_c,
                Channel::Browser,
                Some(NONCE),
                Some(("", Some("code-1"))),
                None
            )
            .await
            .is_ok(),
        "an empty access token stands for none"
    );
    let hs = s.hs(&s.with(json!({})));
    assert!(
        s.auth
            .validate_id_token(
                &hs,
                Channel::TokenEndpoint,
                Some(NONCE),
                Some(("access-1", Some("code-1"))),
                None
            )
            .await
            .is_ok(),
        "optional at the token endpoint"
    );
}

#[tokio::test]
async fn auth_time_with_max_age() {
    let s = setup_with(|b| b.max_age(Some(300))).await;
    let t = s.signed(Alg::RS256, &s.claims());
    assert_eq!(
        s.browser(&t).await,
        Err(TokenError::AuthTime),
        "auth_time is required when max_age was sent"
    );
    let t = s.signed(Alg::RS256, &s.with(json!({"auth_time": now() - 1000})));
    assert_eq!(
        s.browser(&t).await,
        Err(TokenError::AuthTime),
        "too old for max_age"
    );
    let t = s.signed(Alg::RS256, &s.with(json!({"auth_time": now() - 100})));
    assert!(s.browser(&t).await.is_ok());
}

#[tokio::test]
async fn too_old_for_max_token_age() {
    let s = setup().await;
    let n = now();
    let t = s.signed(
        Alg::RS256,
        &s.with(json!({"iat": n - 4000, "exp": n + 600})),
    );
    assert!(
        s.auth
            .validate_id_token(&t, Channel::Browser, Some(NONCE), None, None)
            .await
            .is_ok()
    );
    assert_eq!(
        s.auth
            .validate_id_token(&t, Channel::Browser, Some(NONCE), None, Some(3600))
            .await,
        Err(TokenError::TooOld)
    );
}

#[tokio::test]
async fn malformed_tokens_are_refused_without_panicking() {
    let s = setup().await;
    let good = s.signed(Alg::RS256, &s.claims());
    let (h, rest) = good.split_once('.').unwrap();
    let cases: Vec<(String, TokenError)> = vec![
        (String::new(), TokenError::Malformed("not a compact JWS")),
        ("a.b".into(), TokenError::Malformed("not a compact JWS")),
        ("a.b.c.d".into(), TokenError::Malformed("not a compact JWS")),
        ("a.b.c.d.e".into(), TokenError::Encrypted),
        (
            "!!.e30.".into(),
            TokenError::Malformed("header is not base64url"),
        ),
        (format!("e30.{rest}"), TokenError::MissingClaim("alg")),
        (
            format!("bm90IGpzb24.{rest}"),
            TokenError::Malformed("header is not a JSON object"),
        ),
        (
            format!("{h}.!!!.sig"),
            TokenError::Malformed("payload is not base64url"),
        ),
        ("x".repeat(20_000), TokenError::Malformed("token too large")),
    ];
    for (t, want) in cases {
        assert_eq!(s.browser(&t).await, Err(want), "token {:.40}", t);
    }
    // A validly signed payload that is not an object.
    let t = s
        .key(Alg::RS256)
        .sign_jws(&s.header(Alg::RS256), &json!([1, 2]));
    assert_eq!(
        s.browser(&t).await,
        Err(TokenError::Malformed("payload is not a JSON object"))
    );
}

#[tokio::test]
async fn a_repeated_registered_claim_is_malformed() {
    let s = setup().await;
    // `aud` twice: the checks and the app must never read different values of one claim.
    let header = authentiq_dev::keys::b64url(s.header(Alg::RS256).to_string().as_bytes());
    let body = format!(
        r#"{{"iss":"{}","sub":"x","aud":"{}","aud":"another","exp":{},"iat":{},"nonce":"{NONCE}"}}"#,
        s.provider.issuer(),
        s.client.client_id,
        now() + 600,
        now()
    );
    let t = s.key(Alg::RS256).sign_raw(&format!(
        "{header}.{}",
        authentiq_dev::keys::b64url(body.as_bytes())
    ));
    assert_eq!(
        s.browser(&t).await,
        Err(TokenError::Malformed("payload is not a JSON object"))
    );
    // The same bytes without the repetition pass: the refusal is the repeated claim.
    let body = body.replace(r#","aud":"another""#, "");
    let t = s.key(Alg::RS256).sign_raw(&format!(
        "{header}.{}",
        authentiq_dev::keys::b64url(body.as_bytes())
    ));
    assert!(s.browser(&t).await.is_ok());
}
