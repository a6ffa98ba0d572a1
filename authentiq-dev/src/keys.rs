//! Signing toolkit: key generation, JWKs and compact JWS, all on `aws-lc-rs`.
//!
//! The provider signs its tokens with these, and test suites use them to forge tokens: a
//! header is always signed *verbatim*, so a test can put any `alg`, `kid`, `jku` or `crit` in it.

use std::fmt;
use std::sync::Arc;

use aws_lc_rs::encoding::{AsDer, PublicKeyX509Der};
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
};
use aws_lc_rs::{hmac, rsa};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

/// A JWS algorithm the provider can sign ID Tokens with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Alg {
    /// HMAC SHA-256 keyed with the client secret (Authentiq's default for ID Tokens).
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256, RSA 2048.
    RS256,
    /// ECDSA P-256 with SHA-256, raw `r || s` signature.
    ES256,
    /// Ed25519.
    EdDSA,
}

impl Alg {
    /// All algorithms, symmetric first.
    pub const ALL: [Alg; 4] = [Alg::HS256, Alg::RS256, Alg::ES256, Alg::EdDSA];
    /// The asymmetric algorithms the provider keeps keys for.
    pub const ASYMMETRIC: [Alg; 3] = [Alg::RS256, Alg::ES256, Alg::EdDSA];

    /// The JOSE name (`"HS256"`, `"RS256"`, `"ES256"`, `"EdDSA"`).
    pub fn as_str(&self) -> &'static str {
        match self {
            Alg::HS256 => "HS256",
            Alg::RS256 => "RS256",
            Alg::ES256 => "ES256",
            Alg::EdDSA => "EdDSA",
        }
    }

    /// Parses a JOSE name; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Alg> {
        Alg::ALL.into_iter().find(|alg| alg.as_str() == name)
    }
}

impl fmt::Display for Alg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

enum Material {
    Rsa(rsa::KeyPair),
    Ec(EcdsaKeyPair),
    Ed(Ed25519KeyPair),
}

/// An asymmetric signing key (RS256, ES256 or EdDSA) with its key id. Cheap to clone.
#[derive(Clone)]
pub struct SigningKey {
    alg: Alg,
    kid: String,
    material: Arc<Material>,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh key with a random `kid`: RSA 2048 for RS256, P-256 for ES256,
    /// Ed25519 for EdDSA.
    ///
    /// # Panics
    /// For [`Alg::HS256`] (use [`hs256`] with a secret instead), or if the crypto library
    /// fails to generate a key.
    pub fn generate(alg: Alg) -> SigningKey {
        let material = match alg {
            Alg::HS256 => panic!("HS256 has no key pair: use keys::hs256 with a secret"),
            Alg::RS256 => Material::Rsa(
                rsa::KeyPair::generate(rsa::KeySize::Rsa2048).expect("RSA key generation failed"),
            ),
            Alg::ES256 => Material::Ec(
                EcdsaKeyPair::generate(&ECDSA_P256_SHA256_FIXED_SIGNING)
                    .expect("P-256 key generation failed"),
            ),
            Alg::EdDSA => {
                Material::Ed(Ed25519KeyPair::generate().expect("Ed25519 key generation failed"))
            }
        };
        SigningKey {
            alg,
            kid: random_token(12),
            material: Arc::new(material),
        }
    }

    /// Replaces the key id.
    pub fn with_kid(mut self, kid: impl Into<String>) -> SigningKey {
        self.kid = kid.into();
        self
    }

    /// The algorithm this key signs with.
    pub fn alg(&self) -> Alg {
        self.alg
    }

    /// The key id published in the JWK and put in token headers.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public half as a JWK with `kid`, `alg` and `"use": "sig"`.
    pub fn public_jwk(&self) -> Value {
        let mut jwk = match &*self.material {
            Material::Rsa(key) => {
                let public = key.public_key();
                json!({
                    "kty": "RSA",
                    "n": b64url(public.modulus().big_endian_without_leading_zero()),
                    "e": b64url(public.exponent().big_endian_without_leading_zero()),
                })
            }
            Material::Ec(key) => {
                // Uncompressed SEC1 point: 0x04 || x (32 bytes) || y (32 bytes).
                let point = key.public_key().as_ref();
                json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": b64url(&point[1..33]),
                    "y": b64url(&point[33..65]),
                })
            }
            Material::Ed(key) => json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": b64url(key.public_key().as_ref()),
            }),
        };
        jwk["kid"] = json!(self.kid);
        jwk["alg"] = json!(self.alg.as_str());
        jwk["use"] = json!("sig");
        jwk
    }

    /// The public key as a DER `SubjectPublicKeyInfo`.
    ///
    /// # Panics
    /// If the crypto library fails to encode the key (it does not for generated keys).
    pub fn public_key_der(&self) -> Vec<u8> {
        let der: Result<PublicKeyX509Der<'static>, _> = match &*self.material {
            Material::Rsa(key) => key.public_key().as_der(),
            Material::Ec(key) => key.public_key().as_der(),
            Material::Ed(key) => key.public_key().as_der(),
        };
        der.expect("public key DER encoding failed")
            .as_ref()
            .to_vec()
    }

    /// Signs `payload` as a compact JWS with `header` serialised verbatim; the header's `alg`
    /// is not checked against the key.
    pub fn sign_jws(&self, header: &Value, payload: &Value) -> String {
        let input = signing_input(header, payload);
        let signature = self.sign(input.as_bytes());
        format!("{input}.{}", b64url(&signature))
    }

    /// Signs `signing_input` (`base64url(header).base64url(payload)`) exactly as given, for
    /// tests whose payload bytes serde_json would normalise (repeated keys, odd spacing).
    pub fn sign_raw(&self, signing_input: &str) -> String {
        format!(
            "{signing_input}.{}",
            b64url(&self.sign(signing_input.as_bytes()))
        )
    }

    /// Raw signature over `message` in the JWS format of this key's algorithm.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        let rng = SystemRandom::new();
        match &*self.material {
            Material::Rsa(key) => {
                let mut signature = vec![0; key.public_modulus_len()];
                key.sign(&RSA_PKCS1_SHA256, &rng, message, &mut signature)
                    .expect("RSA signing failed");
                signature
            }
            Material::Ec(key) => key
                .sign(&rng, message)
                .expect("ECDSA signing failed")
                .as_ref()
                .to_vec(),
            Material::Ed(key) => key.sign(message).as_ref().to_vec(),
        }
    }
}

/// HS256 compact JWS keyed with `secret`, header serialised verbatim.
pub fn hs256(secret: &[u8], header: &Value, payload: &Value) -> String {
    let input = signing_input(header, payload);
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let tag = hmac::sign(&key, input.as_bytes());
    format!("{input}.{}", b64url(tag.as_ref()))
}

/// An unsigned token: `base64url(header).base64url(payload).` (empty signature part).
pub fn unsigned(header: &Value, payload: &Value) -> String {
    format!("{}.", signing_input(header, payload))
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn signing_input(header: &Value, payload: &Value) -> String {
    format!(
        "{}.{}",
        b64url(header.to_string().as_bytes()),
        b64url(payload.to_string().as_bytes())
    )
}

/// `len` random bytes from the system CSPRNG, base64url encoded.
pub(crate) fn random_token(len: usize) -> String {
    let mut bytes = vec![0; len];
    aws_lc_rs::rand::fill(&mut bytes).expect("system random generator failed");
    b64url(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{
        ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey,
        VerificationAlgorithm,
    };

    fn verify(key: &SigningKey, algorithm: &'static dyn VerificationAlgorithm) {
        let token = key.sign_jws(&json!({"alg": key.alg().as_str()}), &json!({"sub": "x"}));
        let (input, signature) = token.rsplit_once('.').expect("three parts");
        let signature = URL_SAFE_NO_PAD.decode(signature).expect("base64url");
        let der = key.public_key_der();
        // aws-lc-rs verifies RSA and P-256 keys from SPKI DER too.
        let public: Vec<u8> = match key.alg() {
            Alg::EdDSA => der[der.len() - 32..].to_vec(),
            _ => der,
        };
        UnparsedPublicKey::new(algorithm, &public)
            .verify(input.as_bytes(), &signature)
            .expect("signature verifies");
    }

    #[test]
    fn signatures_verify_with_the_public_key() {
        verify(
            &SigningKey::generate(Alg::RS256),
            &RSA_PKCS1_2048_8192_SHA256,
        );
        verify(&SigningKey::generate(Alg::ES256), &ECDSA_P256_SHA256_FIXED);
        verify(&SigningKey::generate(Alg::EdDSA), &ED25519);
    }

    #[test]
    fn jwks_have_the_expected_shape() {
        let rsa = SigningKey::generate(Alg::RS256).with_kid("r1").public_jwk();
        assert_eq!(rsa["kty"], "RSA");
        assert_eq!(rsa["e"], "AQAB");
        assert_eq!(rsa["kid"], "r1");
        let ec = SigningKey::generate(Alg::ES256).public_jwk();
        assert_eq!(ec["crv"], "P-256");
        assert_eq!(ec["x"].as_str().map(str::len), Some(43));
        let ed = SigningKey::generate(Alg::EdDSA).public_jwk();
        assert_eq!(
            (ed["kty"].as_str(), ed["crv"].as_str()),
            (Some("OKP"), Some("Ed25519"))
        );
    }

    #[test]
    fn unsigned_and_hs256_shapes() {
        assert!(unsigned(&json!({"alg": "none"}), &json!({})).ends_with('.'));
        assert_eq!(hs256(b"k", &json!({}), &json!({})).split('.').count(), 3);
    }
}
