//! The per-request costs, next to what a user would otherwise use, in the same run:
//! - ID Token validation: the raw aws-lc-rs signature check (the floor), authentiq-core's full
//!   validation (signature plus every claim rule), jsonwebtoken 11 on the same backend, and
//!   openidconnect 4's ID Token verifier (the crate a Rust user would otherwise pick for
//!   OpenID Connect; its signatures use the RustCrypto crates).
//! - Session cookie: authentiq-core's `check_session`, and the `cookie` crate's private jar
//!   (AES-GCM via RustCrypto) decrypting the same JSON.
//!
//! Run: `cargo bench -p authentiq-core --bench validate`

#![allow(missing_docs, clippy::unwrap_used)]

use authentiq_core::adapter;
use authentiq_core::{Authentiq, Channel, SessionData};
use authentiq_dev::{Alg, ClientRegistration, DevProvider};
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJwsSigningAlgorithm,
};
use openidconnect::{ClientId, ClientSecret, IssuerUrl, Nonce};
use serde_json::{Value, json};
use std::hint::black_box;

fn b64(v: &Value, k: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(v[k].as_str().unwrap()).unwrap()
}

fn raw_key(jwk: &Value) -> ParsedPublicKey {
    match jwk["kty"].as_str().unwrap() {
        "RSA" => RsaPublicKeyComponents {
            n: b64(jwk, "n"),
            e: b64(jwk, "e"),
        }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .unwrap(),
        "EC" => {
            let mut p = vec![4u8];
            p.extend(b64(jwk, "x"));
            p.extend(b64(jwk, "y"));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p).unwrap()
        }
        _ => ParsedPublicKey::new(&signature::ED25519, b64(jwk, "x")).unwrap(),
    }
}

/// Times `iters` awaits of `call` inside one entry into the runtime, as a handler awaits the
/// SDK inside its server's runtime: the cost of entering a runtime (a `block_on` per call)
/// belongs to no request.
fn awaited<T, Fut: std::future::Future<Output = T>>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    mut call: impl FnMut() -> Fut,
) -> std::time::Duration {
    rt.block_on(async {
        let start = std::time::Instant::now();
        for _ in 0..iters {
            black_box(call().await);
        }
        start.elapsed()
    })
}

/// The smallest claims type an app might ask for.
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct SubOnly {
    sub: String,
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let auth: Authentiq = rt
        .block_on(
            Authentiq::builder(provider.issuer(), &client.client_id)
                .client_secret(&client.client_secret)
                .public_url("http://127.0.0.1:8000")
                .session_key(vec![5u8; 64])
                .build(),
        )
        .unwrap();
    // A realistic Authentiq ID Token: about 1 KB of claims.
    let extra = json!({
        "name": "Alice Example", "given_name": "Alice", "family_name": "Example",
        "email": "alice@example.com", "email_verified": true, "phone_number": "+31612345678",
        "phone_number_verified": true, "phone_type": "mobile", "locale": "en_US",
        "scope": "openid aq:name email phone aq:location aq:push",
        "aq:location": {"latitude": 52.3676, "longitude": 4.9041, "accuracy": 20.0,
                        "address": {"locality": "Amsterdam", "country": "NL", "postal_code": "1015 BA"}},
    });

    // openidconnect as a confidential client of the same provider, with its JWKS and the
    // algorithms the core accepts.
    let jwks: CoreJsonWebKeySet = serde_json::from_value(provider.jwks()).unwrap();
    let oidc_verifier = CoreIdTokenVerifier::new_confidential_client(
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

    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA, Alg::HS256] {
        let token =
            provider.mint_id_token_with(&client.client_id, alg, "3Lz8P-sfhA9bQ2xR", extra.clone());
        let channel = if alg == Alg::HS256 {
            Channel::TokenEndpoint
        } else {
            Channel::Browser
        };
        assert!(
            rt.block_on(auth.validate_id_token(&token, channel, None, None, None))
                .is_ok()
        );
        let mut g = c.benchmark_group(format!("id_token/{}", alg.as_str()));
        g.throughput(criterion::Throughput::Bytes(token.len() as u64));

        let (input, sig) = token.rsplit_once('.').unwrap();
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        if alg == Alg::HS256 {
            let key = aws_lc_rs::hmac::Key::new(
                aws_lc_rs::hmac::HMAC_SHA256,
                client.client_secret.as_bytes(),
            );
            g.bench_function("raw aws-lc-rs signature", |b| {
                b.iter(|| aws_lc_rs::hmac::verify(&key, black_box(input.as_bytes()), &sig).unwrap())
            });
        } else {
            let jwk = provider.signing_key(alg).unwrap().public_jwk();
            let key = raw_key(&jwk);
            g.bench_function("raw aws-lc-rs signature", |b| {
                b.iter(|| key.verify_sig(black_box(input.as_bytes()), &sig).unwrap())
            });
        }

        g.bench_function("authentiq-core validate", |b| {
            b.iter_custom(|iters| {
                awaited(&rt, iters, || async {
                    auth.validate_id_token(black_box(&token), channel, None, None, None)
                        .await
                        .unwrap()
                })
            })
        });
        if channel == Channel::Browser {
            // The whole bearer guard: validation, the logout marks and the typed claims a
            // handler receives. Repeated: the same token every time, remembered after the
            // first. Cold: 5,000 distinct valid tokens in turn, more than the cache holds, so
            // nearly every call verifies (and remembers) its token.
            g.bench_function(
                "authentiq-core bearer guard, repeated token -> Claims",
                |b| {
                    b.iter_custom(|iters| {
                        awaited(&rt, iters, || async {
                            auth.verify_bearer::<authentiq_core::Claims>(black_box(&token))
                                .await
                                .unwrap()
                        })
                    })
                },
            );
            g.bench_function(
                "authentiq-core bearer guard, repeated token -> {sub}",
                |b| {
                    b.iter_custom(|iters| {
                        awaited(&rt, iters, || async {
                            auth.verify_bearer::<SubOnly>(black_box(&token))
                                .await
                                .unwrap()
                        })
                    })
                },
            );
            let distinct: Vec<String> = (0..5000)
                .map(|i| {
                    let mut extra = extra.clone();
                    extra["jti"] = json!(format!("distinct-{i}"));
                    provider.mint_id_token_with(&client.client_id, alg, "3Lz8P-sfhA9bQ2xR", extra)
                })
                .collect();
            let mut next = 0;
            g.bench_function(
                "authentiq-core bearer guard, 5000 distinct tokens -> Claims",
                |b| {
                    b.iter_custom(|iters| {
                        awaited(&rt, iters, || {
                            next = (next + 1) % distinct.len();
                            let token = &distinct[next];
                            let auth = &auth;
                            async move {
                                auth.verify_bearer::<authentiq_core::Claims>(black_box(token))
                                    .await
                                    .unwrap()
                            }
                        })
                    })
                },
            );
        }

        let (key, jalg) = match alg {
            Alg::HS256 => (
                jsonwebtoken::DecodingKey::from_secret(client.client_secret.as_bytes()),
                jsonwebtoken::Algorithm::HS256,
            ),
            _ => {
                let jwk: jsonwebtoken::jwk::Jwk =
                    serde_json::from_value(provider.signing_key(alg).unwrap().public_jwk())
                        .unwrap();
                let jalg = match alg {
                    Alg::RS256 => jsonwebtoken::Algorithm::RS256,
                    Alg::ES256 => jsonwebtoken::Algorithm::ES256,
                    _ => jsonwebtoken::Algorithm::EdDSA,
                };
                (jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap(), jalg)
            }
        };
        let mut v = jsonwebtoken::Validation::new(jalg);
        v.set_issuer(&[provider.issuer()]);
        v.set_audience(&[&client.client_id]);
        v.leeway = 60;
        assert!(jsonwebtoken::decode::<Value>(&token, &key, &v).is_ok());
        g.bench_function("jsonwebtoken 11 decode", |b| {
            b.iter(|| jsonwebtoken::decode::<Value>(black_box(&token), &key, &v).unwrap())
        });

        // Parse and verify, as an app does with each token string it receives. No nonce was
        // sent for these tokens, as for the core above.
        let no_nonce = |_: Option<&Nonce>| Ok(());
        let oidc = |token: &str| {
            token
                .parse::<CoreIdToken>()
                .unwrap()
                .into_claims(&oidc_verifier, no_nonce)
                .unwrap()
        };
        oidc(&token);
        g.bench_function("openidconnect 4 verify", |b| {
            b.iter(|| oidc(black_box(&token)))
        });
        g.finish();
    }

    // Session cookie: decrypt, parse and check on every request.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let data = SessionData {
        id: "kq3-8Yq0c6nZl1HkV9J1bA".into(),
        sub: "3Lz8P-sfhA9bQ2xR".into(),
        iss: provider.issuer(),
        aud: client.client_id.clone(),
        sid: Some("sid-1".into()),
        iat: now,
        exp: now + 3600,
        seen: now,
        claims: extra.as_object().unwrap().clone(),
        id_token: None,
        session_state: None,
    };
    let set_cookie = rt.block_on(auth.session_cookie(&data)).unwrap();
    let value = set_cookie
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1
        .to_owned();
    let parts = http::Request::builder()
        .uri("/me")
        .header(
            "cookie",
            format!("other=1; authentiq_session={value}; theme=dark"),
        )
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert!(
        rt.block_on(adapter::check_session(&auth, &parts))
            .session()
            .is_some()
    );
    let mut g = c.benchmark_group("session_cookie");
    g.bench_function("authentiq-core check_session", |b| {
        b.iter_custom(|iters| {
            awaited(&rt, iters, || {
                adapter::check_session(&auth, black_box(&parts))
            })
        })
    });
    let key = cookie::Key::from(&[5u8; 64]);
    let mut jar = cookie::CookieJar::new();
    jar.private_mut(&key).add(cookie::Cookie::new(
        "s",
        serde_json::to_string(&data).unwrap(),
    ));
    let sealed = jar.get("s").unwrap().value().to_owned();
    g.bench_function("cookie 0.18 private jar + serde_json", |b| {
        b.iter(|| {
            let mut jar = cookie::CookieJar::new();
            jar.add_original(cookie::Cookie::new("s", black_box(sealed.clone())));
            let c = jar.private(&key).get("s").unwrap();
            serde_json::from_str::<SessionData>(c.value()).unwrap()
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
