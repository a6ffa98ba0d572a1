//! Compact JWE encryption (RFC 7516) of ID Tokens to a client's public key, as a provider
//! that supports `id_token_encrypted_response_alg` / `_enc` does: `RSA-OAEP-256`, `RSA-OAEP`,
//! `ECDH-ES`, `ECDH-ES+A128KW` and `ECDH-ES+A256KW`, with `A128GCM`, `A256GCM`,
//! `A128CBC-HS256` or `A256CBC-HS512`.

use aws_lc_rs::aead::{AES_128_GCM, AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, EphemeralPrivateKey, UnparsedPublicKey};
use aws_lc_rs::cipher::{
    AES_128, AES_256, DecryptionContext, PaddedBlockEncryptingKey, UnboundCipherKey,
};
use aws_lc_rs::key_wrap::{self, KeyEncryptionKey, KeyWrap as _};
use aws_lc_rs::rsa::{
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPublicEncryptingKey, PublicEncryptingKey,
};
use aws_lc_rs::{digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

use crate::keys::b64url;

/// Key management algorithms the provider encrypts with.
pub const KEY_MANAGEMENT: [&str; 5] = [
    "RSA-OAEP-256",
    "RSA-OAEP",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A256KW",
];
/// Content encryption algorithms the provider encrypts with.
pub const CONTENT_ENCRYPTION: [&str; 4] = ["A128GCM", "A256GCM", "A128CBC-HS256", "A256CBC-HS512"];

fn key_len(enc: &str) -> Option<usize> {
    Some(match enc {
        "A128GCM" => 16,
        "A256GCM" | "A128CBC-HS256" => 32,
        "A256CBC-HS512" => 64,
        _ => return None,
    })
}

fn random(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    rand::fill(&mut v).expect("system random number generator failed");
    v
}

fn decode(jwk: &Map<String, Value>, member: &str) -> Result<Vec<u8>, String> {
    jwk.get(member)
        .and_then(Value::as_str)
        .and_then(|s| URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok())
        .ok_or_else(|| format!("the key's `{member}` is missing or not base64url"))
}

/// The first key of `jwks` that can receive `alg`: RSA for `RSA-OAEP*`, EC P-256 for
/// `ECDH-ES*`, not marked for another use or pinned to another algorithm.
pub fn pick_key<'a>(jwks: &'a Value, alg: &str) -> Option<&'a Map<String, Value>> {
    let kty = if alg.starts_with("RSA") { "RSA" } else { "EC" };
    jwks.get("keys")?.as_array()?.iter().find_map(|k| {
        let k = k.as_object()?;
        let s = |m: &str| k.get(m).and_then(Value::as_str);
        let fits = s("kty") == Some(kty)
            && (kty == "RSA" || s("crv") == Some("P-256"))
            && s("use").is_none_or(|u| u == "enc")
            && s("alg").is_none_or(|a| a == alg);
        fits.then_some(k)
    })
}

/// Encrypts `plaintext` (a signed JWT: `cty: JWT`) to the public key `jwk` with `alg` and
/// `enc`, in compact serialization.
pub fn encrypt(
    plaintext: &[u8],
    jwk: &Map<String, Value>,
    alg: &str,
    enc: &str,
) -> Result<String, String> {
    let cek_len = key_len(enc).ok_or_else(|| format!("unsupported enc `{enc}`"))?;
    let mut header = json!({ "alg": alg, "enc": enc, "cty": "JWT" });
    if let Some(kid) = jwk.get("kid") {
        header["kid"] = kid.clone();
    }
    let (cek, encrypted_key) = match alg {
        "RSA-OAEP" | "RSA-OAEP-256" => {
            let key = rsa_public_key(jwk)?;
            let cek = random(cek_len);
            let oaep = if alg == "RSA-OAEP" {
                &OAEP_SHA1_MGF1SHA1
            } else {
                &OAEP_SHA256_MGF1SHA256
            };
            let mut out = vec![0u8; key.ciphertext_size()];
            let n = key
                .encrypt(oaep, &cek, &mut out, None)
                .map_err(|_| "RSA-OAEP encryption failed")?
                .len();
            out.truncate(n);
            (cek, out)
        }
        "ECDH-ES" | "ECDH-ES+A128KW" | "ECDH-ES+A256KW" => {
            if jwk.get("crv").and_then(Value::as_str) != Some("P-256") {
                return Err("ECDH-ES needs an EC P-256 key".into());
            }
            let mut point = vec![4u8];
            point.extend_from_slice(&decode(jwk, "x")?);
            point.extend_from_slice(&decode(jwk, "y")?);
            let ephemeral = EphemeralPrivateKey::generate(&ECDH_P256, &rand::SystemRandom::new())
                .map_err(|_| "ephemeral key generation failed")?;
            let public = ephemeral
                .compute_public_key()
                .map_err(|_| "ephemeral key generation failed")?;
            let epk = public.as_ref();
            header["epk"] = json!({
                "kty": "EC", "crv": "P-256",
                "x": b64url(&epk[1..33]), "y": b64url(&epk[33..65]),
            });
            let (id, derived_len) = match alg {
                "ECDH-ES" => (enc, cek_len),
                "ECDH-ES+A128KW" => (alg, 16),
                _ => (alg, 32),
            };
            let derived = agreement::agree_ephemeral(
                ephemeral,
                UnparsedPublicKey::new(&ECDH_P256, &point),
                "the recipient's key is not a P-256 point".to_owned(),
                |z| Ok(concat_kdf(z, id, derived_len)),
            )?;
            if alg == "ECDH-ES" {
                (derived, Vec::new())
            } else {
                let cek = random(cek_len);
                let cipher = if alg == "ECDH-ES+A128KW" {
                    &key_wrap::AES_128
                } else {
                    &key_wrap::AES_256
                };
                let kek = KeyEncryptionKey::new(cipher, &derived).map_err(|_| "bad KEK")?;
                let mut out = vec![0u8; cek_len + 8];
                let n = kek
                    .wrap(&cek, &mut out)
                    .map_err(|_| "AES key wrap failed")?
                    .len();
                out.truncate(n);
                (cek, out)
            }
        }
        other => return Err(format!("unsupported alg `{other}`")),
    };
    let protected = b64url(header.to_string().as_bytes());
    let (iv, ciphertext, tag) = encrypt_content(enc, &cek, protected.as_bytes(), plaintext)?;
    Ok(format!(
        "{protected}.{}.{}.{}.{}",
        b64url(&encrypted_key),
        b64url(&iv),
        b64url(&ciphertext),
        b64url(&tag)
    ))
}

/// The RSA public key of a JWK, as aws-lc-rs takes it (a DER SubjectPublicKeyInfo).
fn rsa_public_key(jwk: &Map<String, Value>) -> Result<OaepPublicEncryptingKey, String> {
    let (n, e) = (decode(jwk, "n")?, decode(jwk, "e")?);
    let rsa_key = der(0x30, &[der_uint(&n), der_uint(&e)].concat());
    // rsaEncryption (1.2.840.113549.1.1.1) with NULL parameters.
    let algorithm = [
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ];
    let mut bits = vec![0u8];
    bits.extend_from_slice(&rsa_key);
    let spki = der(0x30, &[&algorithm[..], &der(0x03, &bits)].concat());
    let key = PublicEncryptingKey::from_der(&spki).map_err(|e| format!("bad RSA key: {e}"))?;
    OaepPublicEncryptingKey::new(key).map_err(|_| "bad RSA key".into())
}

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn der_uint(v: &[u8]) -> Vec<u8> {
    let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    let mut content = Vec::with_capacity(v.len() + 1);
    if v.get(start).is_none_or(|b| *b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&v[start..]);
    der(0x02, &content)
}

/// The Concat KDF of RFC 7518 4.6.2 (SHA-256), without PartyUInfo or PartyVInfo.
fn concat_kdf(z: &[u8], algorithm_id: &str, len: usize) -> Vec<u8> {
    let mut other = Vec::new();
    other.extend_from_slice(&(algorithm_id.len() as u32).to_be_bytes());
    other.extend_from_slice(algorithm_id.as_bytes());
    other.extend_from_slice(&0u32.to_be_bytes());
    other.extend_from_slice(&0u32.to_be_bytes());
    other.extend_from_slice(&((len * 8) as u32).to_be_bytes());
    let mut out = Vec::new();
    let mut counter = 1u32;
    while out.len() < len {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(&counter.to_be_bytes());
        ctx.update(z);
        ctx.update(&other);
        out.extend_from_slice(ctx.finish().as_ref());
        counter += 1;
    }
    out.truncate(len);
    out
}

type Sealed = (Vec<u8>, Vec<u8>, Vec<u8>);

/// Encrypts the content: `(iv, ciphertext, tag)`.
fn encrypt_content(enc: &str, cek: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Sealed, String> {
    match enc {
        "A128GCM" | "A256GCM" => {
            let alg = if enc == "A128GCM" {
                &AES_128_GCM
            } else {
                &AES_256_GCM
            };
            let key = LessSafeKey::new(UnboundKey::new(alg, cek).map_err(|_| "bad CEK")?);
            let iv = random(12);
            let nonce = Nonce::try_assume_unique_for_key(&iv).map_err(|_| "bad IV")?;
            let mut buf = plaintext.to_vec();
            let tag = key
                .seal_in_place_separate_tag(nonce, Aad::from(aad), &mut buf)
                .map_err(|_| "AES-GCM sealing failed")?;
            Ok((iv, buf, tag.as_ref().to_vec()))
        }
        "A128CBC-HS256" | "A256CBC-HS512" => {
            let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
            let (mac, aes) = if enc == "A128CBC-HS256" {
                (hmac::HMAC_SHA256, &AES_128)
            } else {
                (hmac::HMAC_SHA512, &AES_256)
            };
            let key = PaddedBlockEncryptingKey::cbc_pkcs7(
                UnboundCipherKey::new(aes, enc_key).map_err(|_| "bad CEK")?,
            )
            .map_err(|_| "bad CEK")?;
            let mut buf = plaintext.to_vec();
            let context = key.encrypt(&mut buf).map_err(|_| "AES-CBC failed")?;
            let iv = match &context {
                DecryptionContext::Iv128(iv) => iv.as_ref().to_vec(),
                _ => return Err("AES-CBC gave no IV".into()),
            };
            let mut ctx = hmac::Context::with_key(&hmac::Key::new(mac, mac_key));
            ctx.update(aad);
            ctx.update(&iv);
            ctx.update(&buf);
            ctx.update(&((aad.len() as u64) * 8).to_be_bytes());
            let full = ctx.sign();
            let tag = full.as_ref()[..mac_key.len()].to_vec();
            Ok((iv, buf, tag))
        }
        other => Err(format!("unsupported enc `{other}`")),
    }
}
