//! Compact JWE (RFC 7516) decryption for end-to-end encrypted ID Tokens, on aws-lc-rs alone.
//!
//! Key management: `RSA-OAEP-256`, `RSA-OAEP`, `ECDH-ES`, `ECDH-ES+A128KW`, `ECDH-ES+A256KW`
//! (Concat KDF of RFC 7518 4.6). Content encryption: `A128GCM`, `A256GCM`, `A128CBC-HS256`,
//! `A256CBC-HS512` (the tag is compared in constant time before anything is decrypted). Every
//! size is checked before any cryptographic work. Callers turn every [`Refusal`] into one and
//! the same error, so a token's sender learns nothing about which step failed.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::agreement::{self, ECDH_P256, UnparsedPublicKey};
use aws_lc_rs::cipher::{self, DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey};
use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::key_wrap::{self, KeyEncryptionKey, KeyWrap as _};
use aws_lc_rs::rsa::{OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepAlgorithm};
use aws_lc_rs::{digest, hmac};
use serde_json::{Map, Value};

use super::client_keys::{ClientKey, ClientKeys, Material};
use super::jws::MAX_TOKEN_LEN;
use crate::crypto::b64url_decode;

/// The largest compact JWE accepted, in bytes: room for a signed ID Token of
/// [`MAX_TOKEN_LEN`] bytes, its base64url expansion and an RSA-8192 encrypted key.
pub(crate) const MAX_JWE_LEN: usize = MAX_TOKEN_LEN * 2;
/// The largest protected header, in base64url characters.
const MAX_HEADER_LEN: usize = 4096;
/// The largest encrypted key, in bytes (RSA 8192).
const MAX_ENCRYPTED_KEY: usize = 1024;
/// The largest `apu` / `apv`, in bytes.
const MAX_PARTY_INFO: usize = 256;

/// Why a JWE was refused. Inside the crate only: callers answer every refusal alike.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Not five base64url parts with a JSON header, or a part of the wrong size.
    Malformed,
    /// A key management algorithm that is not accepted (`RSA1_5`, `dir`, `A128KW`, `PBES2-*`, ...).
    KeyManagement,
    /// A content encryption algorithm that is not accepted.
    ContentEncryption,
    /// A `zip` header: compressed content is refused.
    Compressed,
    /// A `crit` header: no JWE extension is understood.
    Critical,
    /// `jku`, `x5u`, `jwk` or `x5c`: keys come only from the client's own key set.
    ForbiddenHeader,
    /// No client key has the header's `kid` (or, without one, the algorithm's key family).
    UnknownKey,
    /// The key could not unwrap the content key, or the content did not authenticate.
    Decryption,
}

/// A content encryption algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Enc {
    A128Gcm,
    A256Gcm,
    A128CbcHs256,
    A256CbcHs512,
}

impl Enc {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "A128GCM" => Self::A128Gcm,
            "A256GCM" => Self::A256Gcm,
            "A128CBC-HS256" => Self::A128CbcHs256,
            "A256CBC-HS512" => Self::A256CbcHs512,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Self::A128Gcm => "A128GCM",
            Self::A256Gcm => "A256GCM",
            Self::A128CbcHs256 => "A128CBC-HS256",
            Self::A256CbcHs512 => "A256CBC-HS512",
        }
    }
    /// The content encryption key length, in bytes.
    fn key_len(self) -> usize {
        match self {
            Self::A128Gcm => 16,
            Self::A256Gcm | Self::A128CbcHs256 => 32,
            Self::A256CbcHs512 => 64,
        }
    }
    fn iv_len(self) -> usize {
        match self {
            Self::A128Gcm | Self::A256Gcm => 12,
            Self::A128CbcHs256 | Self::A256CbcHs512 => 16,
        }
    }
    fn tag_len(self) -> usize {
        match self {
            Self::A256CbcHs512 => 32,
            _ => 16,
        }
    }
}

/// A key management algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Alg {
    RsaOaep256,
    RsaOaep,
    EcdhEs,
    EcdhEsA128Kw,
    EcdhEsA256Kw,
}

impl Alg {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "RSA-OAEP-256" => Self::RsaOaep256,
            "RSA-OAEP" => Self::RsaOaep,
            "ECDH-ES" => Self::EcdhEs,
            "ECDH-ES+A128KW" => Self::EcdhEsA128Kw,
            "ECDH-ES+A256KW" => Self::EcdhEsA256Kw,
            _ => return None,
        })
    }
    fn name(self) -> &'static str {
        match self {
            Self::RsaOaep256 => "RSA-OAEP-256",
            Self::RsaOaep => "RSA-OAEP",
            Self::EcdhEs => "ECDH-ES",
            Self::EcdhEsA128Kw => "ECDH-ES+A128KW",
            Self::EcdhEsA256Kw => "ECDH-ES+A256KW",
        }
    }
}

/// A parsed compact JWE whose sizes and header rules were checked; nothing is decrypted yet.
pub(crate) struct Jwe<'a> {
    /// The protected header as sent: the additional authenticated data.
    aad: &'a str,
    alg: Alg,
    enc: Enc,
    kid: Option<String>,
    /// The `cty` header, when present.
    pub(crate) cty: Option<String>,
    /// The `typ` header, when present.
    pub(crate) typ: Option<String>,
    /// The ephemeral public key of ECDH-ES, as an uncompressed P-256 point.
    epk: Option<Vec<u8>>,
    apu: Vec<u8>,
    apv: Vec<u8>,
    encrypted_key: Vec<u8>,
    iv: Vec<u8>,
    ciphertext: Vec<u8>,
    tag: Vec<u8>,
}

/// Whether `token` has the shape of a compact JWE (five dot-separated parts).
pub(crate) fn is_compact_jwe(token: &str) -> bool {
    crate::crypto::count_dots(token) == 4
}

/// Decodes a base64url part of at most `max` decoded bytes.
fn part(text: &str, max: usize) -> Result<Vec<u8>, Refusal> {
    if text.len() > max.div_ceil(3) * 4 {
        return Err(Refusal::Malformed);
    }
    let bytes = b64url_decode(text).ok_or(Refusal::Malformed)?;
    if bytes.len() > max {
        return Err(Refusal::Malformed);
    }
    Ok(bytes)
}

impl<'a> Jwe<'a> {
    /// Splits a compact JWE, decodes its parts and checks the header: accepted algorithms
    /// only, no `zip`, no `crit`, no key-bearing header, and every part of the size its
    /// algorithms call for.
    pub(crate) fn parse(token: &'a str) -> Result<Self, Refusal> {
        if token.len() > MAX_JWE_LEN {
            return Err(Refusal::Malformed);
        }
        let mut parts = token.split('.');
        let (Some(h), Some(k), Some(i), Some(c), Some(t), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(Refusal::Malformed);
        };
        if h.len() > MAX_HEADER_LEN {
            return Err(Refusal::Malformed);
        }
        let header: Map<String, Value> =
            serde_json::from_slice(&b64url_decode(h).ok_or(Refusal::Malformed)?)
                .map_err(|_| Refusal::Malformed)?;
        if header.contains_key("zip") {
            return Err(Refusal::Compressed);
        }
        if header.contains_key("crit") {
            return Err(Refusal::Critical);
        }
        if ["jku", "x5u", "jwk", "x5c"]
            .iter()
            .any(|m| header.contains_key(*m))
        {
            return Err(Refusal::ForbiddenHeader);
        }
        let text = |m: &str| -> Result<Option<String>, Refusal> {
            // A `null` member counts as absent, as in the JWS header (some encoders write
            // every optional member).
            match header.get(m) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(Refusal::Malformed),
            }
        };
        let alg = text("alg")?
            .as_deref()
            .and_then(Alg::from_name)
            .ok_or(Refusal::KeyManagement)?;
        let enc = text("enc")?
            .as_deref()
            .and_then(Enc::from_name)
            .ok_or(Refusal::ContentEncryption)?;

        let encrypted_key = part(k, MAX_ENCRYPTED_KEY)?;
        let expected_key = match alg {
            Alg::EcdhEs => Some(0),
            Alg::EcdhEsA128Kw | Alg::EcdhEsA256Kw => Some(enc.key_len() + 8),
            Alg::RsaOaep | Alg::RsaOaep256 => None,
        };
        if expected_key.is_some_and(|n| n != encrypted_key.len())
            || (expected_key.is_none() && encrypted_key.len() < 256)
        {
            return Err(Refusal::Malformed);
        }
        let iv = part(i, enc.iv_len())?;
        let ciphertext = part(c, MAX_TOKEN_LEN + 16)?;
        let tag = part(t, enc.tag_len())?;
        if iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
            return Err(Refusal::Malformed);
        }
        if matches!(enc, Enc::A128CbcHs256 | Enc::A256CbcHs512)
            && (ciphertext.is_empty() || ciphertext.len() % 16 != 0)
        {
            return Err(Refusal::Malformed);
        }

        let (epk, apu, apv) = match alg {
            Alg::EcdhEs | Alg::EcdhEsA128Kw | Alg::EcdhEsA256Kw => {
                let epk = header
                    .get("epk")
                    .and_then(Value::as_object)
                    .ok_or(Refusal::Malformed)?;
                let member = |m: &str| epk.get(m).and_then(Value::as_str);
                if member("kty") != Some("EC") || member("crv") != Some("P-256") {
                    return Err(Refusal::Malformed);
                }
                let coordinate = |m: &str| -> Result<Vec<u8>, Refusal> {
                    let v = part(member(m).ok_or(Refusal::Malformed)?, 32)?;
                    if v.len() == 32 {
                        Ok(v)
                    } else {
                        Err(Refusal::Malformed)
                    }
                };
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&coordinate("x")?);
                point.extend_from_slice(&coordinate("y")?);
                let info = |m: &str| -> Result<Vec<u8>, Refusal> {
                    match text(m)? {
                        Some(v) => part(&v, MAX_PARTY_INFO),
                        None => Ok(Vec::new()),
                    }
                };
                (Some(point), info("apu")?, info("apv")?)
            }
            Alg::RsaOaep | Alg::RsaOaep256 => (None, Vec::new(), Vec::new()),
        };
        Ok(Self {
            aad: h,
            alg,
            enc,
            kid: text("kid")?,
            cty: text("cty")?,
            typ: text("typ")?,
            epk,
            apu,
            apv,
            encrypted_key,
            iv,
            ciphertext,
            tag,
        })
    }

    /// Decrypts with the client key the header names (or, without a `kid`, with each key of
    /// the algorithm's family in turn). Returns the plaintext.
    pub(crate) fn decrypt(&self, keys: &ClientKeys) -> Result<Vec<u8>, Refusal> {
        let mut tried = false;
        for key in keys.candidates(self.alg.name(), self.kid.as_deref()) {
            tried = true;
            if let Ok(plain) = self.decrypt_with(key) {
                return Ok(plain);
            }
        }
        Err(if tried {
            Refusal::Decryption
        } else {
            Refusal::UnknownKey
        })
    }

    fn decrypt_with(&self, key: &ClientKey) -> Result<Vec<u8>, Refusal> {
        let cek = self.content_key(key)?;
        decrypt_content(
            self.enc,
            &cek,
            self.aad.as_bytes(),
            &self.iv,
            &self.ciphertext,
            &self.tag,
        )
    }

    /// The content encryption key, unwrapped or agreed with `key`.
    fn content_key(&self, key: &ClientKey) -> Result<Vec<u8>, Refusal> {
        let len = self.enc.key_len();
        match (&key.material, self.alg) {
            (Material::Rsa(rsa), Alg::RsaOaep | Alg::RsaOaep256) => {
                let oaep: &'static OaepAlgorithm = if self.alg == Alg::RsaOaep256 {
                    &OAEP_SHA256_MGF1SHA256
                } else {
                    &OAEP_SHA1_MGF1SHA1
                };
                if self.encrypted_key.len() != rsa.key_size_bytes() {
                    return Err(Refusal::Decryption);
                }
                let mut out = vec![0u8; rsa.min_output_size()];
                let cek = rsa
                    .decrypt(oaep, &self.encrypted_key, &mut out, None)
                    .map_err(|_| Refusal::Decryption)?;
                if cek.len() != len {
                    return Err(Refusal::Decryption);
                }
                Ok(cek.to_vec())
            }
            (Material::P256(private), Alg::EcdhEs | Alg::EcdhEsA128Kw | Alg::EcdhEsA256Kw) => {
                let epk = self.epk.as_deref().ok_or(Refusal::Malformed)?;
                let (algorithm_id, derived_len, kek) = match self.alg {
                    Alg::EcdhEs => (self.enc.name(), len, None),
                    Alg::EcdhEsA128Kw => (self.alg.name(), 16, Some(&key_wrap::AES_128)),
                    _ => (self.alg.name(), 32, Some(&key_wrap::AES_256)),
                };
                let derived = ecdh_derive(
                    private,
                    epk,
                    algorithm_id,
                    &self.apu,
                    &self.apv,
                    derived_len,
                )?;
                match kek {
                    None => Ok(derived),
                    Some(cipher) => {
                        let kek = KeyEncryptionKey::new(cipher, &derived)
                            .map_err(|_| Refusal::Decryption)?;
                        let mut out = vec![0u8; self.encrypted_key.len()];
                        let cek = kek
                            .unwrap(&self.encrypted_key, &mut out)
                            .map_err(|_| Refusal::Decryption)?;
                        if cek.len() != len {
                            return Err(Refusal::Decryption);
                        }
                        Ok(cek.to_vec())
                    }
                }
            }
            _ => Err(Refusal::UnknownKey),
        }
    }
}

/// ECDH on P-256 with the sender's ephemeral public key (which must be a point on the curve:
/// aws-lc-rs refuses any other), then the Concat KDF.
pub(crate) fn ecdh_derive(
    private: &agreement::PrivateKey,
    epk: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    len: usize,
) -> Result<Vec<u8>, Refusal> {
    let peer = UnparsedPublicKey::new(&ECDH_P256, epk);
    agreement::agree(private, peer, Refusal::Decryption, |z| {
        Ok(concat_kdf(z, algorithm_id, apu, apv, len))
    })
}

/// The Concat KDF of NIST SP 800-56A with SHA-256, as RFC 7518 4.6.2 uses it: `len` bytes
/// from the shared secret `z`, bound to the algorithm and both parties.
pub(crate) fn concat_kdf(
    z: &[u8],
    algorithm_id: &str,
    apu: &[u8],
    apv: &[u8],
    len: usize,
) -> Vec<u8> {
    let with_len = |out: &mut Vec<u8>, v: &[u8]| {
        // Every input is bounded far below 2^32 bytes by the size checks.
        out.extend_from_slice(&u32::try_from(v.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(v);
    };
    let mut other = Vec::with_capacity(16 + algorithm_id.len() + apu.len() + apv.len());
    with_len(&mut other, algorithm_id.as_bytes());
    with_len(&mut other, apu);
    with_len(&mut other, apv);
    other.extend_from_slice(&u32::try_from(len * 8).unwrap_or(u32::MAX).to_be_bytes());
    let mut out = Vec::with_capacity(len.div_ceil(32) * 32);
    let mut counter: u32 = 1;
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

/// Authenticates and decrypts the content with the content encryption key `cek`. For the
/// CBC-HMAC algorithms the tag is checked, in constant time, before the cipher runs.
pub(crate) fn decrypt_content(
    enc: Enc,
    cek: &[u8],
    aad: &[u8],
    iv: &[u8],
    ciphertext: &[u8],
    tag: &[u8],
) -> Result<Vec<u8>, Refusal> {
    if cek.len() != enc.key_len() || iv.len() != enc.iv_len() || tag.len() != enc.tag_len() {
        return Err(Refusal::Decryption);
    }
    match enc {
        Enc::A128Gcm | Enc::A256Gcm => {
            let alg = if enc == Enc::A128Gcm {
                &aead::AES_128_GCM
            } else {
                &aead::AES_256_GCM
            };
            let key = LessSafeKey::new(UnboundKey::new(alg, cek).map_err(|_| Refusal::Decryption)?);
            let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| Refusal::Decryption)?;
            let mut in_out = Vec::with_capacity(ciphertext.len() + tag.len());
            in_out.extend_from_slice(ciphertext);
            in_out.extend_from_slice(tag);
            let n = key
                .open_in_place(nonce, Aad::from(aad), &mut in_out)
                .map_err(|_| Refusal::Decryption)?
                .len();
            in_out.truncate(n);
            Ok(in_out)
        }
        Enc::A128CbcHs256 | Enc::A256CbcHs512 => {
            let (mac_key, enc_key) = cek.split_at(cek.len() / 2);
            let (mac, aes) = if enc == Enc::A128CbcHs256 {
                (hmac::HMAC_SHA256, &cipher::AES_128)
            } else {
                (hmac::HMAC_SHA512, &cipher::AES_256)
            };
            let mut ctx = hmac::Context::with_key(&hmac::Key::new(mac, mac_key));
            ctx.update(aad);
            ctx.update(iv);
            ctx.update(ciphertext);
            let aad_bits = u64::try_from(aad.len())
                .unwrap_or(u64::MAX)
                .saturating_mul(8);
            ctx.update(&aad_bits.to_be_bytes());
            let full = ctx.sign();
            verify_slices_are_equal(&full.as_ref()[..tag.len()], tag)
                .map_err(|_| Refusal::Decryption)?;
            let key = PaddedBlockDecryptingKey::cbc_pkcs7(
                UnboundCipherKey::new(aes, enc_key).map_err(|_| Refusal::Decryption)?,
            )
            .map_err(|_| Refusal::Decryption)?;
            let iv: [u8; 16] = iv.try_into().map_err(|_| Refusal::Decryption)?;
            let mut buf = ciphertext.to_vec();
            let n = key
                .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
                .map_err(|_| Refusal::Decryption)?
                .len();
            buf.truncate(n);
            Ok(buf)
        }
    }
}

#[cfg(test)]
#[path = "jwe_tests.rs"]
mod tests;
