//! Encrypted ID Tokens: authentiq-core's decrypt-and-validate next to the raw aws-lc-rs
//! operations it is made of (the key decryption or agreement, AES-GCM, the signature check),
//! in the same run, for RSA-OAEP-256 + A256GCM around RS256 and ECDH-ES + A256GCM around
//! ES256.
//!
//! Run: `cargo bench -p authentiq-core --bench jwe`

#![allow(missing_docs, clippy::unwrap_used)]

use authentiq_core::{Authentiq, Channel, ClientKeys};
use authentiq_dev::{Alg, ClientRegistration, DevProvider};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{
    KeyPair, KeyPairComponents, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    PrivateDecryptingKey, PublicKeyComponents,
};
use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use serde_json::{Value, json};
use std::hint::black_box;

fn b64(v: &Value, k: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(v[k].as_str().unwrap()).unwrap()
}

fn part(token: &str, i: usize) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(token.split('.').nth(i).unwrap())
        .unwrap()
}

/// The raw RSA-OAEP key of a private RSA JWK.
fn rsa_key(jwk: &Value) -> OaepPrivateDecryptingKey {
    let c = KeyPairComponents {
        public_key: PublicKeyComponents {
            n: b64(jwk, "n"),
            e: b64(jwk, "e"),
        },
        d: b64(jwk, "d"),
        p: b64(jwk, "p"),
        q: b64(jwk, "q"),
        dP: b64(jwk, "dp"),
        dQ: b64(jwk, "dq"),
        qInv: b64(jwk, "qi"),
    };
    let der = KeyPair::from_components(&c).unwrap().as_der().unwrap();
    OaepPrivateDecryptingKey::new(PrivateDecryptingKey::from_pkcs8(der.as_ref()).unwrap()).unwrap()
}

/// The signature key the provider signs with, as the raw verifier.
fn verify_key(jwk: &Value) -> ParsedPublicKey {
    match jwk["kty"].as_str().unwrap() {
        "RSA" => RsaPublicKeyComponents {
            n: b64(jwk, "n"),
            e: b64(jwk, "e"),
        }
        .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
        .unwrap(),
        _ => {
            let mut p = vec![4u8];
            p.extend(b64(jwk, "x"));
            p.extend(b64(jwk, "y"));
            ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, p).unwrap()
        }
    }
}

/// AES-256-GCM open of the token's content with `cek`.
fn open(cek: &[u8], aad: &[u8], iv: &[u8], sealed: &mut [u8]) -> usize {
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, cek).unwrap());
    let nonce = Nonce::try_assume_unique_for_key(iv).unwrap();
    key.open_in_place(nonce, Aad::from(aad), sealed)
        .unwrap()
        .len()
}

/// The Concat KDF for ECDH-ES + A256GCM (one SHA-256 block, no PartyUInfo/PartyVInfo).
fn kdf(z: &[u8]) -> [u8; 32] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(&1u32.to_be_bytes());
    ctx.update(z);
    ctx.update(&7u32.to_be_bytes());
    ctx.update(b"A256GCM");
    ctx.update(&[0u8; 8]);
    ctx.update(&256u32.to_be_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let keys = ClientKeys::generate().unwrap();
    let auth: Authentiq = rt
        .block_on(
            Authentiq::builder(provider.issuer(), &client.client_id)
                .client_secret(&client.client_secret)
                .public_url("http://127.0.0.1:8000")
                .session_key(vec![5u8; 64])
                .client_key_set(keys.clone())
                .build(),
        )
        .unwrap();
    let private: Value = serde_json::from_str(&keys.private_jwks()).unwrap();
    let jwk = |kty: &str| -> Value {
        private["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == kty)
            .unwrap()
            .clone()
    };
    // The same realistic ID Token as the signature benchmark: about 1 KB of claims.
    let extra = json!({
        "name": "Alice Example", "given_name": "Alice", "family_name": "Example",
        "email": "alice@example.com", "email_verified": true, "phone_number": "+31612345678",
        "phone_number_verified": true, "phone_type": "mobile", "locale": "en_US",
        "scope": "openid aq:name email phone aq:location aq:push",
        "aq:location": {"latitude": 52.3676, "longitude": 4.9041, "accuracy": 20.0,
                        "address": {"locality": "Amsterdam", "country": "NL", "postal_code": "1015 BA"}},
    });

    for (alg, kty, sig) in [
        ("RSA-OAEP-256", "RSA", Alg::RS256),
        ("ECDH-ES", "EC", Alg::ES256),
    ] {
        let inner =
            provider.mint_id_token_with(&client.client_id, sig, "3Lz8P-sfhA9bQ2xR", extra.clone());
        let private_jwk = jwk(kty);
        let mut public_jwk = private_jwk.clone();
        for m in ["d", "p", "q", "dp", "dq", "qi"] {
            public_jwk.as_object_mut().unwrap().remove(m);
        }
        let token = authentiq_dev::jwe::encrypt(
            inner.as_bytes(),
            public_jwk.as_object().unwrap(),
            alg,
            "A256GCM",
        )
        .unwrap();
        let valid = rt
            .block_on(auth.validate_id_token(&token, Channel::Browser, None, None, None))
            .unwrap();
        assert!(valid.was_encrypted());

        let mut g = c.benchmark_group(format!("jwe/{alg}+A256GCM/{}", sig.as_str()));
        g.throughput(criterion::Throughput::Bytes(token.len() as u64));

        // The raw operations: the content key (RSA-OAEP decryption, or ECDH with the Concat
        // KDF), AES-256-GCM, and the inner token's signature check.
        let aad = token.split('.').next().unwrap().as_bytes().to_vec();
        let (encrypted_key, iv) = (part(&token, 1), part(&token, 2));
        let mut sealed = part(&token, 3);
        sealed.extend(part(&token, 4));
        let verifier = verify_key(&provider.signing_key(sig).unwrap().public_jwk());
        let (signing_input, signature) = inner.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let header: Value = serde_json::from_slice(&part(&token, 0)).unwrap();
        let mut epk = vec![4u8];
        if kty == "EC" {
            epk.extend(b64(&header["epk"], "x"));
            epk.extend(b64(&header["epk"], "y"));
        }
        let rsa = (kty == "RSA").then(|| rsa_key(&private_jwk));
        let ec = (kty == "EC").then(|| {
            agreement::PrivateKey::from_private_key(&ECDH_P256, &b64(&private_jwk, "d")).unwrap()
        });
        let raw = || {
            let cek: Vec<u8> = match (&rsa, &ec) {
                (Some(rsa), _) => {
                    let mut out = vec![0u8; rsa.min_output_size()];
                    rsa.decrypt(&OAEP_SHA256_MGF1SHA256, &encrypted_key, &mut out, None)
                        .unwrap()
                        .to_vec()
                }
                (_, Some(ec)) => {
                    agreement::agree(ec, UnparsedPublicKey::new(&ECDH_P256, &epk), (), |z| {
                        Ok(kdf(z).to_vec())
                    })
                    .unwrap()
                }
                _ => unreachable!(),
            };
            let mut buf = sealed.clone();
            let n = open(&cek, &aad, &iv, &mut buf);
            assert_eq!(n, inner.len());
            verifier
                .verify_sig(signing_input.as_bytes(), &signature)
                .unwrap();
            n
        };
        raw();
        g.bench_function("raw aws-lc-rs: key + AES-GCM + signature", |b| {
            b.iter(|| black_box(raw()))
        });
        g.bench_function("authentiq-core decrypt + validate", |b| {
            b.iter(|| {
                rt.block_on(auth.validate_id_token(
                    black_box(&token),
                    Channel::Browser,
                    None,
                    None,
                    None,
                ))
                .unwrap()
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(60).measurement_time(std::time::Duration::from_secs(3)).warm_up_time(std::time::Duration::from_secs(1));
    targets = bench
}
criterion_main!(benches);
