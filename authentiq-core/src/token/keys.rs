//! The provider's verification keys: each JWK parsed once into an aws-lc-rs `ParsedPublicKey`.

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use serde_json::{Map, Value};

use super::policy::Algorithm;
use crate::crypto::b64url_decode;

#[derive(Clone)]
enum KeyMaterial {
    Rsa {
        pkcs1: ParsedPublicKey,
        pss: ParsedPublicKey,
    },
    P256(ParsedPublicKey),
    P384(ParsedPublicKey),
    Ed25519(ParsedPublicKey),
}

/// One verification key from the provider's JWKS, parsed once.
#[derive(Clone)]
pub(crate) struct VerifyKey {
    kid: Option<String>,
    /// The JWK's `alg`, when it pins one.
    alg: Option<String>,
    material: KeyMaterial,
}

impl VerifyKey {
    fn supports(&self, alg: Algorithm) -> bool {
        let family = matches!(
            (&self.material, alg),
            (KeyMaterial::Rsa { .. }, Algorithm::RS256 | Algorithm::PS256)
                | (KeyMaterial::P256(_), Algorithm::ES256)
                | (KeyMaterial::P384(_), Algorithm::ES384)
                | (KeyMaterial::Ed25519(_), Algorithm::EdDSA)
        );
        family && self.alg.as_deref().is_none_or(|a| a == alg.as_str())
    }

    pub(crate) fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        let key = match (&self.material, alg) {
            (KeyMaterial::Rsa { pkcs1, .. }, Algorithm::RS256) => pkcs1,
            (KeyMaterial::Rsa { pss, .. }, Algorithm::PS256) => pss,
            (KeyMaterial::P256(k), Algorithm::ES256)
            | (KeyMaterial::P384(k), Algorithm::ES384)
            | (KeyMaterial::Ed25519(k), Algorithm::EdDSA) => k,
            _ => return false,
        };
        key.verify_sig(message, sig).is_ok()
    }

    /// Parses one JWK. `Ok(None)` for keys that are not for signatures or of a kind the SDK
    /// does not use; `Err` for a signature key that is malformed.
    fn from_jwk(jwk: &Map<String, Value>) -> Result<Option<Self>, String> {
        let s = |k: &str| jwk.get(k).and_then(Value::as_str);
        if s("use").is_some_and(|u| u != "sig") {
            return Ok(None);
        }
        let bytes = |k: &str| -> Result<Vec<u8>, String> {
            s(k).and_then(b64url_decode)
                .ok_or_else(|| format!("`{k}` is missing or not base64url"))
        };
        let material = match (s("kty"), s("crv")) {
            (Some("RSA"), _) => {
                let n = bytes("n")?;
                let e = bytes("e")?;
                let strip = |v: &[u8]| -> Vec<u8> {
                    let i = v.iter().position(|b| *b != 0).unwrap_or(v.len());
                    v[i..].to_vec()
                };
                let (n, e) = (strip(&n), strip(&e));
                if n.len() * 8 < 2048 {
                    return Err("RSA modulus shorter than 2048 bits".into());
                }
                let c = RsaPublicKeyComponents { n: &n, e: &e };
                let pkcs1 = c
                    .to_parsed_public_key(&signature::RSA_PKCS1_2048_8192_SHA256)
                    .map_err(|e| format!("bad RSA key: {e}"))?;
                let pss = c
                    .to_parsed_public_key(&signature::RSA_PSS_2048_8192_SHA256)
                    .map_err(|e| format!("bad RSA key: {e}"))?;
                KeyMaterial::Rsa { pkcs1, pss }
            }
            (Some("EC"), Some(crv @ ("P-256" | "P-384"))) => {
                let (x, y) = (bytes("x")?, bytes("y")?);
                let len = if crv == "P-256" { 32 } else { 48 };
                if x.len() != len || y.len() != len {
                    return Err(format!("{crv} coordinates must be {len} bytes"));
                }
                let mut point = Vec::with_capacity(1 + 2 * len);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                if crv == "P-256" {
                    KeyMaterial::P256(
                        ParsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
                            .map_err(|e| format!("bad P-256 key: {e}"))?,
                    )
                } else {
                    KeyMaterial::P384(
                        ParsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, &point)
                            .map_err(|e| format!("bad P-384 key: {e}"))?,
                    )
                }
            }
            (Some("OKP"), Some("Ed25519")) => {
                let x = bytes("x")?;
                if x.len() != 32 {
                    return Err("Ed25519 key must be 32 bytes".into());
                }
                KeyMaterial::Ed25519(
                    ParsedPublicKey::new(&signature::ED25519, &x)
                        .map_err(|e| format!("bad Ed25519 key: {e}"))?,
                )
            }
            _ => return Ok(None),
        };
        Ok(Some(Self {
            kid: s("kid").map(str::to_owned),
            alg: s("alg").map(str::to_owned),
            material,
        }))
    }
}

/// The provider's signature keys.
#[derive(Clone, Default)]
pub(crate) struct KeySet {
    keys: Vec<VerifyKey>,
}

impl KeySet {
    /// Parses a JWKS document. Keys that are malformed or of unknown kinds are skipped (with a
    /// log line), so one odd key never locks out the others.
    pub(crate) fn from_jwks(doc: &Value) -> Result<Self, String> {
        let keys = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or("the document has no `keys` array")?;
        let mut out = Vec::new();
        for jwk in keys.iter().take(100) {
            let Some(obj) = jwk.as_object() else { continue };
            match VerifyKey::from_jwk(obj) {
                Ok(Some(k)) => out.push(k),
                Ok(None) => {}
                Err(e) => tracing::warn!(kid = ?obj.get("kid"), "skipping a provider key: {e}"),
            }
        }
        Ok(Self { keys: out })
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// Keys that may verify a token with `alg` and `kid`. With a `kid`, only keys with that
    /// kid; without one, every key of the algorithm's family.
    pub(crate) fn candidates<'k>(
        &'k self,
        alg: Algorithm,
        kid: Option<&'k str>,
    ) -> impl Iterator<Item = &'k VerifyKey> {
        self.keys
            .iter()
            .filter(move |k| k.supports(alg))
            .filter(move |k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
    }
}
