//! End-to-end encrypted ID Tokens, from the outside: tokens encrypted by an independent JOSE
//! implementation (`picky`, pure Rust) and by the development provider decrypt and validate
//! on every channel; each refusal is tested with a token that is valid in every other way;
//! and every refusal of the encryption itself looks the same to the caller.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::{
    Authentiq, Channel, ClientKeys, ConfigError, IdTokenEncryption, TokenError, ValidatedToken,
};
use authentiq_dev::keys::{hs256, unsigned};
use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use picky::jose::jwe::{Jwe, JweAlg, JweEnc};
use picky::jose::jwk::Jwk;
use serde_json::{Value, json};

const NONCE: &str = "n-0S6_WzA2Mj";

struct Setup {
    provider: DevProvider,
    client: RegisteredClient,
    auth: Authentiq,
    keys: ClientKeys,
}

async fn setup(mode: Option<IdTokenEncryption>) -> Setup {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let keys = ClientKeys::generate().unwrap();
    let mut builder = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(vec![7u8; 64])
        .client_keys(&keys.private_jwks());
    if let Some(mode) = mode {
        builder = builder.id_token_encryption(mode);
    }
    let auth = builder.build().await.unwrap();
    Setup {
        provider,
        client,
        auth,
        keys,
    }
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
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
    /// The inner token: signed by the provider's current key for `alg`.
    fn signed(&self, alg: Alg) -> String {
        let key = self.provider.signing_key(alg).unwrap();
        key.sign_jws(
            &json!({"alg": alg.as_str(), "typ": "JWT", "kid": key.kid()}),
            &self.claims(),
        )
    }
    /// The public JWK of the client key of type `kty` (`EC` or `RSA`).
    fn public_jwk(&self, kty: &str) -> Value {
        self.keys.public_jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == kty)
            .unwrap()
            .clone()
    }
    fn picky(&self, inner: &str, alg: JweAlg, enc: JweEnc) -> String {
        let kty = if matches!(
            alg,
            JweAlg::RsaOaep | JweAlg::RsaOaep256 | JweAlg::RsaPkcs1v15
        ) {
            "RSA"
        } else {
            "EC"
        };
        self.picky_with(inner, alg, enc, &self.public_jwk(kty), |_| {})
    }
    fn picky_with(
        &self,
        inner: &str,
        alg: JweAlg,
        enc: JweEnc,
        jwk: &Value,
        edit: impl FnOnce(&mut Jwe),
    ) -> String {
        let key = Jwk::from_json(&jwk.to_string())
            .unwrap()
            .to_public_key()
            .unwrap();
        let mut jwe = Jwe::new(alg, enc, inner.as_bytes().to_vec());
        jwe.header.cty = Some("JWT".into());
        jwe.header.kid = jwk["kid"].as_str().map(str::to_owned);
        edit(&mut jwe);
        jwe.encode(&key).unwrap()
    }
    async fn validate(&self, token: &str, channel: Channel) -> Result<ValidatedToken, TokenError> {
        self.auth
            .validate_id_token(token, channel, Some(NONCE), None, None)
            .await
    }
}

#[tokio::test]
async fn tokens_encrypted_by_an_independent_implementation_validate_on_every_channel() {
    let s = setup(None).await;
    let cases = [
        (JweAlg::RsaOaep256, JweEnc::Aes256Gcm, Alg::RS256),
        (JweAlg::RsaOaep256, JweEnc::Aes128Gcm, Alg::ES256),
        (JweAlg::RsaOaep, JweEnc::Aes256Gcm, Alg::RS256),
        (JweAlg::EcdhEs, JweEnc::Aes256Gcm, Alg::ES256),
        (JweAlg::EcdhEs, JweEnc::Aes128Gcm, Alg::RS256),
        (JweAlg::EcdhEsAesKeyWrap128, JweEnc::Aes128Gcm, Alg::ES256),
        (JweAlg::EcdhEsAesKeyWrap256, JweEnc::Aes256Gcm, Alg::EdDSA),
    ];
    for (alg, enc, sig) in cases {
        let inner = s.signed(sig);
        let token = s.picky(&inner, alg, enc);
        assert_eq!(token.split('.').count(), 5);
        for channel in [Channel::TokenEndpoint, Channel::Browser] {
            let valid = s
                .validate(&token, channel)
                .await
                .unwrap_or_else(|e| panic!("{alg:?}/{enc:?}/{sig:?} on {channel:?}: {e}"));
            assert_eq!(valid.subject(), "3Lz8P-sfhA9bQ2");
            assert_eq!(valid.claims()["email"], "alice@example.com");
            assert!(valid.was_encrypted());
            assert_eq!(valid.signed_token(), Some(inner.as_str()));
        }
    }
}

/// The development provider's encryptor, for the content encryptions picky lacks (CBC-HMAC),
/// and its GCM output opened by picky too: two implementations agree on the format.
#[tokio::test]
async fn tokens_encrypted_by_the_dev_provider_validate() {
    let s = setup(None).await;
    for (alg, kty) in [
        ("RSA-OAEP-256", "RSA"),
        ("RSA-OAEP", "RSA"),
        ("ECDH-ES", "EC"),
        ("ECDH-ES+A128KW", "EC"),
        ("ECDH-ES+A256KW", "EC"),
    ] {
        for enc in ["A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"] {
            let jwk = s.public_jwk(kty);
            let token = authentiq_dev::jwe::encrypt(
                s.signed(Alg::ES256).as_bytes(),
                jwk.as_object().unwrap(),
                alg,
                enc,
            )
            .unwrap();
            let valid = s.validate(&token, Channel::Browser).await;
            assert!(valid.is_ok(), "{alg}/{enc}: {valid:?}");
        }
    }
}

#[tokio::test]
async fn the_inner_token_follows_its_channel_rules() {
    let s = setup(None).await;
    // HS256 with the client secret: the token endpoint only.
    let hs = hs256(
        s.client.client_secret.as_bytes(),
        &json!({"alg": "HS256", "typ": "JWT"}),
        &s.claims(),
    );
    let token = s.picky(&hs, JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    assert!(s.validate(&token, Channel::TokenEndpoint).await.is_ok());
    assert!(matches!(
        s.validate(&token, Channel::Browser).await,
        Err(TokenError::AlgorithmNotAllowed { .. })
    ));
    // A signed inner token with a wrong claim is refused for that claim.
    let key = s.provider.signing_key(Alg::ES256).unwrap();
    let mut claims = s.claims();
    claims["aud"] = "someone-else".into();
    let wrong_aud = key.sign_jws(&json!({"alg": "ES256", "kid": key.kid()}), &claims);
    let token = s.picky(&wrong_aud, JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    assert_eq!(
        s.validate(&token, Channel::Browser).await,
        Err(TokenError::Audience)
    );
    // A bad inner signature is refused as such.
    let mut forged = s.signed(Alg::ES256);
    forged.truncate(forged.rfind('.').unwrap());
    forged.push_str(".AAAA");
    let token = s.picky(&forged, JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    assert!(matches!(
        s.validate(&token, Channel::Browser).await,
        Err(TokenError::BadSignature | TokenError::Malformed(_))
    ));
}

#[tokio::test]
async fn encrypted_but_unsigned_is_refused_even_where_unsigned_is_allowed() {
    let s = setup(None).await;
    // `alg: none` inside: refused on both channels.
    let none = unsigned(&json!({"alg": "none"}), &s.claims());
    let token = s.picky(&none, JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    for channel in [Channel::TokenEndpoint, Channel::Browser] {
        assert_eq!(s.validate(&token, channel).await, Err(TokenError::Unsigned));
    }
    // Bare claims inside (a JWE holding the JSON itself, declared as a JWT).
    let bare = s.claims().to_string();
    let token = s.picky(&bare, JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    assert_eq!(
        s.validate(&token, Channel::TokenEndpoint).await,
        Err(TokenError::Unsigned)
    );
    // Without `cty: JWT` the content is not a nested token: refused before decryption.
    let jwk = s.public_jwk("EC");
    let token = s.picky_with(
        &s.signed(Alg::ES256),
        JweAlg::EcdhEs,
        JweEnc::Aes256Gcm,
        &jwk,
        |j| {
            j.header.cty = None;
        },
    );
    assert_eq!(
        s.validate(&token, Channel::Browser).await,
        Err(TokenError::Undecryptable)
    );
}

#[tokio::test]
async fn encryption_required_refuses_the_downgrade_and_optional_accepts_both() {
    // Required is the default once keys are set.
    let s = setup(None).await;
    assert!(s.auth.config().encryption_required());
    let plain = s.signed(Alg::ES256);
    for channel in [Channel::TokenEndpoint, Channel::Browser] {
        assert_eq!(
            s.validate(&plain, channel).await,
            Err(TokenError::NotEncrypted)
        );
    }
    // The same token encrypted passes: only the missing encryption was refused.
    let token = s.picky(&plain, JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    assert!(s.validate(&token, Channel::Browser).await.is_ok());
    // The bearer guard refuses the downgrade too.
    let bearer = s.auth.verify_bearer::<Value>(&plain).await;
    assert!(bearer.is_err());

    let s = setup(Some(IdTokenEncryption::Optional)).await;
    let plain = s.signed(Alg::ES256);
    let plain_ok = s.validate(&plain, Channel::Browser).await.unwrap();
    assert!(!plain_ok.was_encrypted());
    assert_eq!(plain_ok.signed_token(), None);
    let token = s.picky(&plain, JweAlg::RsaOaep256, JweEnc::Aes256Gcm);
    assert!(
        s.validate(&token, Channel::Browser)
            .await
            .unwrap()
            .was_encrypted()
    );
}

/// Each refusal the contract lists, with a token that is valid in every other way; all of
/// them give the same error, with the same text.
#[tokio::test]
async fn every_refusal_gives_one_and_the_same_answer() {
    let s = setup(None).await;
    let inner = s.signed(Alg::ES256);
    let ec = s.public_jwk("EC");
    let rsa = s.public_jwk("RSA");
    let mut refused: Vec<(&str, String)> = Vec::new();

    // RSA1_5: a correct RSAES-PKCS1-v1_5 encryption to the client's RSA key.
    refused.push((
        "RSA1_5",
        s.picky(&inner, JweAlg::RsaPkcs1v15, JweEnc::Aes256Gcm),
    ));
    // dir: a content key the attacker chose.
    let mut dir = Jwe::new(JweAlg::Direct, JweEnc::Aes256Gcm, inner.as_bytes().to_vec());
    dir.header.cty = Some("JWT".into());
    refused.push(("dir", dir.encode_direct(&[7u8; 32]).unwrap()));
    // A symmetric key wrap and PBES2, with an otherwise well-formed token.
    let good = s.picky(&inner, JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    let rest = &good[good.find('.').unwrap()..];
    for alg in ["A256KW", "A128GCMKW", "PBES2-HS256+A128KW"] {
        let header = json!({"alg": alg, "enc": "A256GCM", "cty": "JWT", "kid": ec["kid"]});
        refused.push((alg, format!("{}{rest}", b64(header.to_string().as_bytes()))));
    }
    // zip and crit: headers a correct encryption carries.
    refused.push((
        "zip",
        s.picky_with(&inner, JweAlg::EcdhEs, JweEnc::Aes256Gcm, &ec, |j| {
            j.header.additional.insert("zip".into(), "DEF".into());
        }),
    ));
    refused.push((
        "crit",
        s.picky_with(&inner, JweAlg::EcdhEs, JweEnc::Aes256Gcm, &ec, |j| {
            j.header.additional.insert("crit".into(), json!(["exp"]));
            j.header.additional.insert("exp".into(), json!(now()));
        }),
    ));
    // A kid that names no client key.
    refused.push((
        "unknown kid",
        s.picky_with(&inner, JweAlg::EcdhEs, JweEnc::Aes256Gcm, &ec, |j| {
            j.header.kid = Some("nobody".into());
        }),
    ));
    // The wrong key under the right kid: another key set's key, labelled with ours.
    let other = ClientKeys::generate().unwrap().public_jwks();
    for (kty, alg, ours) in [
        ("EC", JweAlg::EcdhEs, &ec),
        ("RSA", JweAlg::RsaOaep256, &rsa),
    ] {
        let mut stranger = other["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["kty"] == kty)
            .unwrap()
            .clone();
        stranger["kid"] = ours["kid"].clone();
        refused.push((
            "wrong key under the right kid",
            s.picky_with(&inner, alg, JweEnc::Aes256Gcm, &stranger, |_| {}),
        ));
    }
    // Tampering: tag, ciphertext, IV, encrypted key, protected header.
    for (alg, key) in [(JweAlg::EcdhEs, &ec), (JweAlg::RsaOaep256, &rsa)] {
        let token = s.picky_with(&inner, alg, JweEnc::Aes256Gcm, key, |_| {});
        let parts: Vec<&str> = token.split('.').collect();
        for (i, name) in [
            (1, "encrypted key"),
            (2, "iv"),
            (3, "ciphertext"),
            (4, "tag"),
        ] {
            if parts[i].is_empty() {
                continue;
            }
            let mut bytes = URL_SAFE_NO_PAD.decode(parts[i]).unwrap();
            bytes[0] ^= 0x01;
            let mut p = parts.clone();
            let changed = b64(&bytes);
            p[i] = &changed;
            refused.push((name, p.join(".")));
        }
        let mut header: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
        header["typ"] = "JWT".into();
        let mut p = parts.clone();
        let changed = b64(header.to_string().as_bytes());
        p[0] = &changed;
        refused.push(("tampered protected header", p.join(".")));
    }

    let mut answers = Vec::new();
    for (why, token) in &refused {
        for channel in [Channel::TokenEndpoint, Channel::Browser] {
            let e = s.validate(token, channel).await.unwrap_err();
            assert_eq!(e, TokenError::Undecryptable, "{why} on {channel:?}");
            answers.push(e.to_string());
        }
    }
    answers.dedup();
    assert_eq!(answers.len(), 1, "{answers:?}");
    // And the token they were all made from passes.
    assert!(s.validate(&good, Channel::Browser).await.is_ok());
}

#[tokio::test]
async fn size_limits_come_before_any_work() {
    let s = setup(None).await;
    let huge = format!("{}.a.b.c.d", "A".repeat(40 * 1024));
    assert_eq!(
        s.validate(&huge, Channel::Browser).await,
        Err(TokenError::Malformed("token too large"))
    );
    // A ciphertext beyond what any ID Token needs is refused before decryption.
    let good = s.picky(&s.signed(Alg::ES256), JweAlg::EcdhEs, JweEnc::Aes256Gcm);
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[3] = b64(&vec![0u8; 20 * 1024]);
    assert_eq!(
        s.validate(&parts.join("."), Channel::Browser).await,
        Err(TokenError::Undecryptable)
    );
}

#[tokio::test]
async fn without_client_keys_an_encrypted_token_says_so() {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .public_url("http://127.0.0.1:8000")
        .build()
        .await
        .unwrap();
    assert!(!auth.config().encryption_required());
    assert!(auth.client_jwks().is_none());
    let keys = ClientKeys::generate().unwrap();
    let jwk = keys.public_jwks()["keys"][0].clone();
    let key = Jwk::from_json(&jwk.to_string())
        .unwrap()
        .to_public_key()
        .unwrap();
    let mut jwe = Jwe::new(JweAlg::EcdhEs, JweEnc::Aes256Gcm, b"a.b.c".to_vec());
    jwe.header.cty = Some("JWT".into());
    let token = jwe.encode(&key).unwrap();
    assert_eq!(
        auth.validate_id_token(&token, Channel::Browser, None, None, None)
            .await,
        Err(TokenError::Encrypted)
    );
}

#[tokio::test]
async fn start_up_errors_for_client_keys() {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let builder = || {
        Authentiq::builder(provider.issuer(), &client.client_id).public_url("http://127.0.0.1:8000")
    };
    let keys = ClientKeys::generate().unwrap();
    // Public keys only: the app could never decrypt.
    let public_only = keys.public_jwks().to_string();
    let e = builder()
        .client_keys(&public_only)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&e, ConfigError::Invalid { name: "AUTHENTIQ_CLIENT_KEYS", reason } if reason.contains("public key only")),
        "{e}"
    );
    assert!(e.to_string().contains("AUTHENTIQ_CLIENT_KEYS"));
    let e = builder().client_keys("not json").build().await.unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Invalid {
            name: "AUTHENTIQ_CLIENT_KEYS",
            ..
        }
    ));
    // Required without keys.
    let e = builder()
        .id_token_encryption(IdTokenEncryption::Required)
        .build()
        .await
        .unwrap_err();
    assert!(matches!(
        e,
        ConfigError::Invalid {
            name: "AUTHENTIQ_ID_TOKEN_ENCRYPTION",
            ..
        }
    ));
    // The published keys never carry a private member, and the configuration never prints one.
    let auth = builder()
        .client_keys(&keys.private_jwks())
        .build()
        .await
        .unwrap();
    let published = auth.client_jwks().unwrap();
    let private: Value = serde_json::from_str(&keys.private_jwks()).unwrap();
    for (public, secret) in published["keys"]
        .as_array()
        .unwrap()
        .iter()
        .zip(private["keys"].as_array().unwrap())
    {
        for m in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(public.get(m).is_none());
            if let Some(v) = secret.get(m) {
                assert!(!format!("{auth:?}").contains(v.as_str().unwrap()));
            }
        }
        assert_eq!(public["use"], "enc");
    }
}
