//! The `openidconnect` crate as an independent oracle for ID Token validation.
//!
//! One corpus of tokens (honest ones per algorithm, and one per attack class) goes through
//! both `openidconnect`'s `IdTokenVerifier` and `Authentiq::validate_id_token`, configured
//! with the same expectations: the provider's issuer, the client id and secret, the nonce,
//! the provider's JWKS and the system clock. Each case also states what the core must decide,
//! so the corpus cannot pass by both validators refusing everything.
//!
//! The two must agree on every case except those in [`DELIBERATE`], each with the reason the
//! core decides differently. The list is exact: the test fails when a listed difference
//! disappears or an unlisted one appears. `cargo test -p authentiq-core --test oracle --
//! --nocapture` prints the agreement table.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::{Authentiq, Channel};
use authentiq_dev::keys::{b64url, hs256, unsigned};
use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient, SigningKey};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{ClaimsVerificationError, ClientId, ClientSecret, IssuerUrl, Nonce};
use serde_json::{Value, json};

const NONCE: &str = "n-0S6_WzA2Mj";

/// What a validator decided about one token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verdict {
    Accept,
    Refuse,
}
use Verdict::{Accept, Refuse};

/// A case on which the two validators differ on purpose: the case name, the core's verdict,
/// openidconnect's verdict, and why the core decides as it does.
struct Deliberate {
    case: &'static str,
    core: Verdict,
    oracle: Verdict,
    reason: &'static str,
}

const DELIBERATE: &[Deliberate] = &[
    Deliberate {
        case: "exp 30 s ago (inside 60 s leeway)",
        core: Accept,
        oracle: Refuse,
        reason: "the core allows clock skew between provider and app (leeway, 60 s by default, \
                 configurable) on exp, iat and nbf; openidconnect compares exp with the clock exactly",
    },
    Deliberate {
        case: "wrong azp",
        core: Refuse,
        oracle: Accept,
        reason: "OpenID Connect Core 3.1.3.7: when azp is present, the client checks that it is \
                 its own client id; openidconnect leaves azp unchecked",
    },
    Deliberate {
        case: "iat 120 s in the future",
        core: Refuse,
        oracle: Accept,
        reason: "a token issued in the future (beyond the leeway) comes from a wrong clock or a \
                 forger; openidconnect accepts any iat unless the app installs its own check",
    },
    Deliberate {
        case: "nbf 120 s in the future",
        core: Refuse,
        oracle: Accept,
        reason: "RFC 7519 4.1.5: a token must not be accepted before nbf; openidconnect's ID Token \
                 claims have no nbf, so it is ignored",
    },
    Deliberate {
        case: "empty sub",
        core: Refuse,
        oracle: Accept,
        reason: "the subject is the user's identity in the session and for the app; an empty \
                 string identifies no one, so the core treats it as missing",
    },
    Deliberate {
        case: "embedded jwk header",
        core: Refuse,
        oracle: Accept,
        reason: "OpenID Connect Core 2 says ID Tokens should not use jwk/jku/x5u; the core refuses \
                 any token that carries key material or a key URL, so no code path can be steered \
                 to an attacker's key; openidconnect ignores the header and checks the JWKS key",
    },
    Deliberate {
        case: "jku header",
        core: Refuse,
        oracle: Accept,
        reason: "as for jwk: a key URL in the token is refused outright; openidconnect ignores it",
    },
    Deliberate {
        case: "x5u header",
        core: Refuse,
        oracle: Accept,
        reason: "as for jwk: a certificate URL in the token is refused outright; openidconnect \
                 ignores it",
    },
    Deliberate {
        case: "HS256 on the browser channel",
        core: Refuse,
        oracle: Accept,
        reason: "Authentiq's policy: a token that travels through the browser must carry the \
                 provider's asymmetric signature; a MAC with the client secret is only trusted \
                 straight from the token endpoint; openidconnect has no notion of channel and \
                 accepts HS256 wherever a client secret is configured",
    },
];

/// One token of the corpus: its name, the channel it arrives on (which only the core
/// distinguishes), the verdict the core must reach, and the token.
struct Case {
    name: &'static str,
    channel: Channel,
    core_must: Verdict,
    token: String,
}

struct Setup {
    provider: DevProvider,
    client: RegisteredClient,
    auth: Authentiq,
    oracle: CoreIdTokenVerifier<'static>,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Setup {
    async fn start() -> Setup {
        let provider = DevProvider::start().unwrap();
        let client = provider.register_client(ClientRegistration {
            redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
            ..Default::default()
        });
        let auth = Authentiq::builder(provider.issuer(), &client.client_id)
            .client_secret(&client.client_secret)
            .public_url("http://127.0.0.1:8000")
            .session_key(vec![7u8; 64])
            .build()
            .await
            .unwrap();
        // The oracle as a confidential client of the same provider, trusting the algorithms
        // the core accepts by default, with the JWKS the provider publishes.
        let jwks: CoreJsonWebKeySet = serde_json::from_value(provider.jwks()).unwrap();
        let oracle = CoreIdTokenVerifier::new_confidential_client(
            ClientId::new(client.client_id.clone()),
            ClientSecret::new(client.client_secret.clone()),
            IssuerUrl::new(provider.issuer()).unwrap(),
            jwks,
        )
        .set_allowed_algs([
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            CoreJwsSigningAlgorithm::EdDsa,
            CoreJwsSigningAlgorithm::HmacSha256,
        ]);
        Setup {
            provider,
            client,
            auth,
            oracle,
        }
    }

    fn claims(&self) -> Value {
        let n = now();
        json!({
            "iss": self.provider.issuer(), "sub": "3Lz8P-sfhA9bQ2", "aud": self.client.client_id,
            "azp": self.client.client_id, "exp": n + 600, "iat": n, "nonce": NONCE,
            "email": "alice@example.com", "email_verified": true
        })
    }

    /// The honest claims with `changes` applied; a `null` value removes the claim.
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

    /// Signed by the provider's current RS256 key with extra header members.
    fn rs256_with_header(&self, extra: Value) -> String {
        let mut h = self.header(Alg::RS256);
        for (k, v) in extra.as_object().unwrap() {
            h[k] = v.clone();
        }
        self.key(Alg::RS256).sign_jws(&h, &self.claims())
    }

    fn signed(&self, alg: Alg, claims: &Value) -> String {
        self.key(alg).sign_jws(&self.header(alg), claims)
    }

    fn rs256(&self, changes: Value) -> String {
        self.signed(Alg::RS256, &self.with(changes))
    }

    fn hs(&self, claims: &Value) -> String {
        hs256(
            self.client.client_secret.as_bytes(),
            &json!({"alg": "HS256", "typ": "JWT"}),
            claims,
        )
    }

    async fn core(&self, case: &Case) -> (Verdict, String) {
        match self
            .auth
            .validate_id_token(&case.token, case.channel, Some(NONCE), None, None)
            .await
        {
            Ok(_) => (Accept, String::new()),
            Err(e) => (Refuse, variant(&e)),
        }
    }

    fn oracle(&self, case: &Case) -> (Verdict, String) {
        let token: CoreIdToken = match case.token.parse() {
            Ok(t) => t,
            Err(_) => return (Refuse, "parse".into()),
        };
        match token.claims(&self.oracle, &Nonce::new(NONCE.into())) {
            Ok(_) => (Accept, String::new()),
            // The variant, and for signature failures the inner variant too.
            Err(ClaimsVerificationError::SignatureVerification(e)) => {
                (Refuse, format!("Signature/{}", variant(&e)))
            }
            Err(e) => (Refuse, variant(&e)),
        }
    }

    fn corpus(&self) -> Vec<Case> {
        let n = now();
        let browser = |name, core_must, token| Case {
            name,
            channel: Channel::Browser,
            core_must,
            token,
        };
        let endpoint = |name, core_must, token| Case {
            name,
            channel: Channel::TokenEndpoint,
            core_must,
            token,
        };
        let iss = self.provider.issuer();
        let rsa = self.key(Alg::RS256);
        let ec = self.key(Alg::ES256);

        // Same header and signature as an honest token, payload of another honest token.
        let swapped = {
            let t = self.signed(Alg::RS256, &self.claims());
            let other = self.rs256(json!({"sub": "mallory"}));
            let mut parts: Vec<&str> = t.split('.').collect();
            parts[1] = other.split('.').nth(1).unwrap();
            parts.join(".")
        };
        // `aud` twice in the signed payload bytes.
        let repeated_aud = {
            let header = b64url(self.header(Alg::RS256).to_string().as_bytes());
            let body = format!(
                r#"{{"iss":"{iss}","sub":"x","aud":"{}","aud":"another","exp":{},"iat":{n},"nonce":"{NONCE}"}}"#,
                self.client.client_id,
                n + 600,
            );
            rsa.sign_raw(&format!("{header}.{}", b64url(body.as_bytes())))
        };

        vec![
            // Honest tokens, one per algorithm the oracle supports.
            browser(
                "honest RS256",
                Accept,
                self.signed(Alg::RS256, &self.claims()),
            ),
            browser(
                "honest ES256",
                Accept,
                self.signed(Alg::ES256, &self.claims()),
            ),
            browser(
                "honest EdDSA",
                Accept,
                self.signed(Alg::EdDSA, &self.claims()),
            ),
            endpoint(
                "honest HS256 from the token endpoint",
                Accept,
                self.hs(&self.claims()),
            ),
            browser(
                "honest, aud as a one-element array",
                Accept,
                self.rs256(json!({"aud": [self.client.client_id]})),
            ),
            browser(
                "honest, no kid (one RSA key published)",
                Accept,
                rsa.sign_jws(&json!({"alg": "RS256"}), &self.claims()),
            ),
            browser(
                "exp 30 s ago (inside 60 s leeway)",
                Accept,
                self.rs256(json!({"iat": n - 1000, "exp": n - 30})),
            ),
            // One token per attack class.
            browser("bad signature (payload swapped)", Refuse, swapped),
            browser(
                "foreign key under a published kid",
                Refuse,
                SigningKey::generate(Alg::ES256)
                    .with_kid(ec.kid())
                    .sign_jws(&self.header(Alg::ES256), &self.claims()),
            ),
            endpoint(
                "HS256 with a wrong secret",
                Refuse,
                hs256(
                    b"not the client secret",
                    &json!({"alg": "HS256"}),
                    &self.claims(),
                ),
            ),
            endpoint(
                "alg none",
                Refuse,
                unsigned(&json!({"alg": "none"}), &self.claims()),
            ),
            endpoint(
                "HS256 keyed with the RSA public key",
                Refuse,
                hs256(
                    &rsa.public_key_der(),
                    &json!({"alg": "HS256", "kid": rsa.kid()}),
                    &self.claims(),
                ),
            ),
            browser(
                "ES256 signature labelled RS256",
                Refuse,
                ec.sign_jws(&json!({"alg": "RS256", "kid": ec.kid()}), &self.claims()),
            ),
            browser(
                "RS512 (outside the policy)",
                Refuse,
                rsa.sign_jws(&json!({"alg": "RS512", "kid": rsa.kid()}), &self.claims()),
            ),
            browser(
                "wrong iss",
                Refuse,
                self.rs256(json!({"iss": "https://connect.authentiq.io/"})),
            ),
            browser(
                "iss without the trailing slash",
                Refuse,
                self.rs256(json!({"iss": iss.trim_end_matches('/')})),
            ),
            browser(
                "iss with an extra trailing slash",
                Refuse,
                self.rs256(json!({"iss": format!("{iss}/")})),
            ),
            browser(
                "wrong aud",
                Refuse,
                self.rs256(json!({"aud": "another-client", "azp": null})),
            ),
            browser(
                "untrusted extra aud",
                Refuse,
                self.rs256(json!({"aud": [self.client.client_id, "https://other.example"]})),
            ),
            browser(
                "wrong azp",
                Refuse,
                self.rs256(json!({"azp": "another-client"})),
            ),
            browser(
                "expired (exp 120 s ago)",
                Refuse,
                self.rs256(json!({"iat": n - 1000, "exp": n - 120})),
            ),
            browser(
                "iat 120 s in the future",
                Refuse,
                self.rs256(json!({"iat": n + 120})),
            ),
            browser(
                "nbf 120 s in the future",
                Refuse,
                self.rs256(json!({"nbf": n + 120})),
            ),
            browser("missing nonce", Refuse, self.rs256(json!({"nonce": null}))),
            browser(
                "wrong nonce",
                Refuse,
                self.rs256(json!({"nonce": "another-nonce"})),
            ),
            browser("missing sub", Refuse, self.rs256(json!({"sub": null}))),
            browser("empty sub", Refuse, self.rs256(json!({"sub": ""}))),
            browser("missing exp", Refuse, self.rs256(json!({"exp": null}))),
            browser("missing iat", Refuse, self.rs256(json!({"iat": null}))),
            browser("repeated aud claim", Refuse, repeated_aud),
            browser(
                "embedded jwk header",
                Refuse,
                self.rs256_with_header(
                    json!({"jwk": SigningKey::generate(Alg::RS256).public_jwk()}),
                ),
            ),
            browser(
                "jku header",
                Refuse,
                self.rs256_with_header(json!({"jku": "https://evil.example/jwks"})),
            ),
            browser(
                "x5u header",
                Refuse,
                self.rs256_with_header(json!({"x5u": "https://evil.example/cert.pem"})),
            ),
            browser(
                "unknown crit header",
                Refuse,
                self.rs256_with_header(json!({"crit": ["exp-ext"], "exp-ext": true})),
            ),
            browser(
                "wrong typ (logout+jwt)",
                Refuse,
                self.rs256_with_header(json!({"typ": "logout+jwt"})),
            ),
            browser(
                "HS256 on the browser channel",
                Refuse,
                self.hs(&self.claims()),
            ),
        ]
    }
}

/// An error's variant name, for the table.
fn variant(e: &impl std::fmt::Debug) -> String {
    let s = format!("{e:?}");
    s.split(['(', ' ', '{'])
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn word(v: Verdict) -> &'static str {
    match v {
        Accept => "accept",
        Refuse => "refuse",
    }
}

#[tokio::test]
async fn core_and_openidconnect_agree_except_the_deliberate_differences() {
    let s = Setup::start().await;
    let corpus = s.corpus();

    for (i, c) in corpus.iter().enumerate() {
        assert!(
            corpus[..i].iter().all(|d| d.name != c.name),
            "two cases are named {}",
            c.name
        );
    }
    // The list names real cases, once each.
    for (i, d) in DELIBERATE.iter().enumerate() {
        assert!(
            corpus.iter().any(|c| c.name == d.case),
            "DELIBERATE names no case: {}",
            d.case
        );
        assert!(
            DELIBERATE[..i].iter().all(|e| e.case != d.case),
            "DELIBERATE lists {} twice",
            d.case
        );
        assert_ne!(
            d.core, d.oracle,
            "{}: a listed difference must differ",
            d.case
        );
        assert!(!d.reason.is_empty(), "{}: give the reason", d.case);
    }

    let mut failures = Vec::new();
    let (mut agreements, mut deliberate) = (0, 0);
    println!(
        "\n{:<40} {:<28} {:<36} verdict",
        "case", "authentiq-core", "openidconnect"
    );
    for case in &corpus {
        let (core, core_why) = s.core(case).await;
        let (oracle, oracle_why) = s.oracle(case);
        let listed = DELIBERATE.iter().find(|d| d.case == case.name);
        let status = match listed {
            None if core == oracle => {
                agreements += 1;
                "agree"
            }
            Some(d) if d.core == core && d.oracle == oracle => {
                deliberate += 1;
                "deliberate"
            }
            Some(_) => {
                failures.push(format!(
                    "{}: listed as a difference, but core {} and openidconnect {} ({oracle_why})",
                    case.name,
                    word(core),
                    word(oracle)
                ));
                "LISTED DIFFERENCE GONE"
            }
            None => {
                failures.push(format!(
                    "{}: core {} ({core_why}), openidconnect {} ({oracle_why})",
                    case.name,
                    word(core),
                    word(oracle)
                ));
                "UNLISTED DIFFERENCE"
            }
        };
        if core != case.core_must {
            failures.push(format!(
                "{}: the core must {} it, it did {} ({core_why})",
                case.name,
                word(case.core_must),
                word(core)
            ));
        }
        println!(
            "{:<40} {:<28} {:<36} {status}",
            case.name,
            format!("{} {core_why}", word(core)),
            format!("{} {oracle_why}", word(oracle)),
        );
    }
    println!(
        "\n{} cases: {agreements} agree, {deliberate} deliberate differences",
        corpus.len()
    );
    for d in DELIBERATE {
        println!("- {}: {}", d.case, d.reason);
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    assert_eq!(agreements + deliberate, corpus.len());
}
