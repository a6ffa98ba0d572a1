//! Compact JWS parsing, provider keys, and the ID Token rules (OpenID Connect Core 3.1.3.7)
//! with Authentiq's per-channel algorithm policy.
//!
//! Verification is written directly on aws-lc-rs: every JWKS key is parsed once into a
//! `ParsedPublicKey`, so the per-token cost is one signature check plus two small JSON parses.
//! A general JWT crate would add its own header model and a second parse of each part, and
//! could not express the policy (algorithm pinned by channel and key, never by header alone).

use aws_lc_rs::signature::{self, ParsedPublicKey, RsaPublicKeyComponents};
use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::crypto::{b64url, b64url_decode, ct_eq, hmac_sha256_verify};
use crate::error::TokenError;

/// The largest token accepted, in bytes. Authentiq ID Tokens are about 1 KB.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

/// A JWS signature algorithm the SDK can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC SHA-256, keyed with the client secret (Authentiq's token-endpoint default).
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }
    /// Parses a JOSE name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "HS256" => Self::HS256,
            "RS256" => Self::RS256,
            "PS256" => Self::PS256,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }
    /// Whether the algorithm is asymmetric (verifiable with a public key).
    pub fn is_asymmetric(self) -> bool {
        self != Self::HS256
    }
    /// The hash used for `at_hash` / `c_hash` with this algorithm.
    fn half_hash(self, data: &[u8]) -> String {
        use aws_lc_rs::digest;
        let d = match self {
            Self::ES384 => digest::digest(&digest::SHA384, data),
            // OpenID Connect: EdDSA with Ed25519 hashes with SHA-512.
            Self::EdDSA => digest::digest(&digest::SHA512, data),
            _ => digest::digest(&digest::SHA256, data),
        };
        let bytes = d.as_ref();
        b64url(&bytes[..bytes.len() / 2])
    }
}

/// The way a token reached the application; the channel decides which algorithms count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// From the token endpoint over TLS, authenticated with the client secret: HS256 with the
    /// client secret is accepted when configured (Authentiq's default).
    TokenEndpoint,
    /// Through the browser (hybrid, implicit, AuthentiqJS POST, `Authorization: Bearer`): only
    /// asymmetric signatures checked against the provider's JWKS.
    Browser,
}

impl Channel {
    fn name(self) -> &'static str {
        match self {
            Self::TokenEndpoint => "the token endpoint",
            Self::Browser => "the browser",
        }
    }
}

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

    fn verify(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
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
    fn candidates(&self, alg: Algorithm, kid: Option<&str>) -> Vec<&VerifyKey> {
        self.keys
            .iter()
            .filter(|k| k.supports(alg))
            .filter(|k| kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
            .collect()
    }
}

#[derive(Deserialize)]
struct RawHeader {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    crit: Option<Value>,
    jku: Option<Value>,
    x5u: Option<Value>,
    jwk: Option<Value>,
}

/// A parsed compact JWS whose signature is not yet checked.
pub(crate) struct Jws<'a> {
    signing_input: &'a str,
    /// `None` for `alg: none`.
    pub(crate) alg: Option<Algorithm>,
    alg_name: String,
    pub(crate) kid: Option<String>,
    pub(crate) typ: Option<String>,
    payload: Vec<u8>,
    signature: Vec<u8>,
}

impl<'a> Jws<'a> {
    /// Splits and decodes a compact JWS and applies the header rules that hold everywhere:
    /// no `jku`/`x5u`/`jwk`, no unknown `crit`.
    pub(crate) fn parse(token: &'a str) -> Result<Self, TokenError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenError::Malformed("token too large"));
        }
        let dots = token.bytes().filter(|b| *b == b'.').count();
        if dots == 4 {
            return Err(TokenError::Encrypted);
        }
        if dots != 2 {
            return Err(TokenError::Malformed("not a compact JWS"));
        }
        let mut parts = token.splitn(3, '.');
        let (h, p, s) = match (parts.next(), parts.next(), parts.next()) {
            (Some(h), Some(p), Some(s)) => (h, p, s),
            _ => return Err(TokenError::Malformed("not a compact JWS")),
        };
        let signing_input = &token[..h.len() + 1 + p.len()];
        let header_bytes =
            b64url_decode(h).ok_or(TokenError::Malformed("header is not base64url"))?;
        let header: RawHeader = serde_json::from_slice(&header_bytes)
            .map_err(|_| TokenError::Malformed("header is not a JSON object"))?;
        let payload = b64url_decode(p).ok_or(TokenError::Malformed("payload is not base64url"))?;
        let signature =
            b64url_decode(s).ok_or(TokenError::Malformed("signature is not base64url"))?;

        if header.jku.is_some() {
            return Err(TokenError::ForbiddenHeader("jku"));
        }
        if header.x5u.is_some() {
            return Err(TokenError::ForbiddenHeader("x5u"));
        }
        if header.jwk.is_some() {
            return Err(TokenError::ForbiddenHeader("jwk"));
        }
        if header.crit.is_some() {
            // No JWS extension is understood, so any critical one must be refused (RFC 7515 4.1.11).
            return Err(TokenError::UnknownCritical);
        }
        let alg_name = match header.alg {
            Some(Value::String(a)) => a,
            _ => return Err(TokenError::MissingClaim("alg")),
        };
        let alg = if alg_name.eq_ignore_ascii_case("none") {
            None
        } else {
            Some(Algorithm::from_name(&alg_name).ok_or_else(|| {
                TokenError::AlgorithmNotAllowed {
                    alg: alg_name.clone(),
                    channel: "any channel",
                }
            })?)
        };
        let str_of = |v: Option<Value>| match v {
            Some(Value::String(s)) => Ok(Some(s)),
            None | Some(Value::Null) => Ok(None),
            _ => Err(TokenError::Malformed("header field has the wrong type")),
        };
        Ok(Self {
            signing_input,
            alg,
            alg_name,
            kid: str_of(header.kid)?,
            typ: str_of(header.typ)?,
            payload,
            signature,
        })
    }

    /// Applies the channel's algorithm policy; returns the algorithm to verify with, or `None`
    /// for an unsigned token that the policy explicitly allows.
    pub(crate) fn check_policy(
        &self,
        policy: &AlgPolicy,
        channel: Channel,
    ) -> Result<Option<Algorithm>, TokenError> {
        let not_allowed = || TokenError::AlgorithmNotAllowed {
            alg: self.alg_name.clone(),
            channel: channel.name(),
        };
        match self.alg {
            None => {
                if channel == Channel::TokenEndpoint && policy.allow_unsigned_from_token_endpoint {
                    Ok(None)
                } else {
                    Err(TokenError::Unsigned)
                }
            }
            Some(Algorithm::HS256) => {
                if channel == Channel::TokenEndpoint && policy.hs256_from_token_endpoint {
                    Ok(Some(Algorithm::HS256))
                } else {
                    Err(not_allowed())
                }
            }
            Some(a) if policy.asymmetric.contains(&a) => Ok(Some(a)),
            Some(_) => Err(not_allowed()),
        }
    }

    /// Checks an HS256 signature against the client secret.
    pub(crate) fn verify_hmac(&self, secret: &[u8]) -> Result<(), TokenError> {
        if self.signature.is_empty() {
            return Err(TokenError::Unsigned);
        }
        if hmac_sha256_verify(secret, self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// Whether any key in `keys` could verify this token (by kid and family).
    pub(crate) fn has_candidate(&self, alg: Algorithm, keys: &KeySet) -> bool {
        !keys.candidates(alg, self.kid.as_deref()).is_empty()
    }

    /// Checks an asymmetric signature against the matching provider keys.
    pub(crate) fn verify_with(&self, alg: Algorithm, keys: &KeySet) -> Result<(), TokenError> {
        if self.signature.is_empty() {
            return Err(TokenError::Unsigned);
        }
        let candidates = keys.candidates(alg, self.kid.as_deref());
        if candidates.is_empty() {
            return Err(TokenError::NoMatchingKey {
                kid: self.kid.clone(),
            });
        }
        if candidates
            .iter()
            .any(|k| k.verify(alg, self.signing_input.as_bytes(), &self.signature))
        {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// The payload bytes. Read them only after the signature checked out.
    pub(crate) fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// Consumes the token into a [`ValidatedToken`] once every rule passed.
    pub(crate) fn into_validated(self, subject: String) -> ValidatedToken {
        ValidatedToken {
            payload: self.payload,
            subject,
        }
    }

    /// The payload as a JSON object. Call only after the signature checked out.
    pub(crate) fn payload(&self) -> Result<Map<String, Value>, TokenError> {
        match serde_json::from_slice::<Value>(&self.payload) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(TokenError::Malformed("payload is not a JSON object")),
        }
    }
}

/// Which algorithms count, per channel. See [`Channel`].
#[derive(Clone, Debug)]
pub struct AlgPolicy {
    /// Asymmetric algorithms accepted on every channel. Default: RS256, PS256, ES256, ES384, EdDSA.
    pub asymmetric: Vec<Algorithm>,
    /// Accept HS256 keyed with the client secret for token-endpoint ID Tokens. Default `true`:
    /// Authentiq signs them that way unless the client registered another algorithm.
    pub hs256_from_token_endpoint: bool,
    /// Accept an unsigned (`alg: none`) ID Token from the token endpoint, as Authentiq's 2018
    /// documentation allowed. Default `false`; never allowed on the browser channel.
    pub allow_unsigned_from_token_endpoint: bool,
}

impl Default for AlgPolicy {
    fn default() -> Self {
        Self {
            asymmetric: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
            ],
            hs256_from_token_endpoint: true,
            allow_unsigned_from_token_endpoint: false,
        }
    }
}

/// What a validated ID Token must satisfy.
pub(crate) struct Expect<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) client_id: &'a str,
    pub(crate) trusted_audiences: &'a [String],
    pub(crate) leeway: u64,
    pub(crate) now: u64,
    /// The nonce sent with the authorization request; `Some` makes it required.
    pub(crate) nonce: Option<&'a str>,
    /// `max_age` sent with the authorization request; makes `auth_time` required.
    pub(crate) max_age: Option<u64>,
    /// Reject tokens whose `iat` is older than this many seconds.
    pub(crate) max_token_age: Option<u64>,
    pub(crate) access_token: Option<&'a str>,
    pub(crate) code: Option<&'a str>,
}

/// One claim value as the checks need it, read without building a JSON tree: strings borrow
/// from the payload when they have no escapes, objects are skipped.
#[derive(Default, Debug, PartialEq)]
pub(crate) enum Loose<'a> {
    #[default]
    Absent,
    Str(Cow<'a, str>),
    UInt(u64),
    Float(f64),
    Strs(Vec<Cow<'a, str>>),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Loose<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Loose<'de>, E> {
                Ok(Loose::Str(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Loose<'de>, E> {
                Ok(Loose::Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Loose<'de>, E> {
                Ok(Loose::Str(Cow::Owned(v)))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Loose<'de>, E> {
                Ok(Loose::UInt(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Loose<'de>, E> {
                Ok(u64::try_from(v).map_or(Loose::Other, Loose::UInt))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Loose<'de>, E> {
                Ok(Loose::Float(v))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Loose<'de>, E> {
                Ok(Loose::Other)
            }
            fn visit_unit<E>(self) -> Result<Loose<'de>, E> {
                Ok(Loose::Absent)
            }
            fn visit_none<E>(self) -> Result<Loose<'de>, E> {
                Ok(Loose::Absent)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Loose<'de>, A::Error> {
                let mut out = Vec::new();
                let mut mixed = false;
                while let Some(item) = seq.next_element::<Loose<'de>>()? {
                    match item {
                        Loose::Str(s) => out.push(s),
                        _ => mixed = true,
                    }
                }
                Ok(if mixed {
                    Loose::Other
                } else {
                    Loose::Strs(out)
                })
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Loose<'de>, A::Error> {
                while map
                    .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(V)
    }
}

impl Loose<'_> {
    fn as_str(&self) -> Option<&str> {
        match self {
            Loose::Str(s) => Some(s),
            _ => None,
        }
    }
    fn is_absent(&self) -> bool {
        matches!(self, Loose::Absent)
    }
    /// The string, owned (empty when not a string; callers check first).
    pub(crate) fn as_str_owned(&self) -> String {
        self.as_str().unwrap_or_default().to_owned()
    }
}

/// The registered claims of a token, read straight from the payload bytes; every other claim
/// is skipped. A repeated registered claim makes the payload malformed (no "first one wins"
/// ambiguity between this check and the app's view of the claims).
#[derive(Default, Deserialize)]
#[serde(default)]
pub(crate) struct Registered<'a> {
    #[serde(borrow)]
    pub(crate) iss: Loose<'a>,
    #[serde(borrow)]
    pub(crate) sub: Loose<'a>,
    #[serde(borrow)]
    pub(crate) aud: Loose<'a>,
    #[serde(borrow)]
    azp: Loose<'a>,
    #[serde(borrow)]
    pub(crate) exp: Loose<'a>,
    #[serde(borrow)]
    iat: Loose<'a>,
    #[serde(borrow)]
    nbf: Loose<'a>,
    #[serde(borrow)]
    auth_time: Loose<'a>,
    #[serde(borrow)]
    nonce: Loose<'a>,
    #[serde(borrow)]
    at_hash: Loose<'a>,
    #[serde(borrow)]
    c_hash: Loose<'a>,
}

impl<'a> Registered<'a> {
    pub(crate) fn parse(payload: &'a [u8]) -> Result<Self, TokenError> {
        // serde's derived struct reader would also take a JSON array (fields by position).
        if payload.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return Err(TokenError::Malformed("payload is not a JSON object"));
        }
        serde_json::from_slice(payload)
            .map_err(|_| TokenError::Malformed("payload is not a JSON object"))
    }
}

/// A numeric date: integer or float seconds (floats appear in the wild), never negative.
fn numeric(v: &Loose<'_>, name: &'static str) -> Result<Option<u64>, TokenError> {
    match v {
        Loose::Absent => Ok(None),
        Loose::UInt(u) => Ok(Some(*u)),
        Loose::Float(f) if f.is_finite() && *f >= 0.0 => Ok(Some(*f as u64)),
        _ => Err(TokenError::MissingClaim(name)),
    }
}

/// The ID Token claim rules, after the signature verified.
pub(crate) fn check_id_token_claims(
    r: &Registered<'_>,
    alg: Option<Algorithm>,
    e: &Expect<'_>,
) -> Result<(), TokenError> {
    check_issuer(r, e.issuer)?;
    match r.sub.as_str() {
        Some(s) if !s.is_empty() && s.len() <= 255 => {}
        _ => return Err(TokenError::MissingClaim("sub")),
    }
    check_audience(r, e.client_id, e.trusted_audiences)?;
    if !r.azp.is_absent() && r.azp.as_str() != Some(e.client_id) {
        return Err(TokenError::AuthorizedParty);
    }
    let exp = numeric(&r.exp, "exp")?.ok_or(TokenError::MissingClaim("exp"))?;
    check_times(r, Some(exp), e.now, e.leeway, e.max_token_age)?;
    if let Some(expected) = e.nonce {
        match r.nonce.as_str() {
            Some(n) if ct_eq(n.as_bytes(), expected.as_bytes()) => {}
            _ => return Err(TokenError::Nonce),
        }
    }
    let auth_time = numeric(&r.auth_time, "auth_time")?;
    if let Some(max_age) = e.max_age {
        let auth_time = auth_time.ok_or(TokenError::AuthTime)?;
        if auth_time.saturating_add(max_age).saturating_add(e.leeway) < e.now {
            return Err(TokenError::AuthTime);
        }
    }
    if let (Some(alg), Some(at)) = (alg, e.access_token)
        && !r.at_hash.is_absent()
        && r.at_hash.as_str() != Some(alg.half_hash(at.as_bytes()).as_str())
    {
        return Err(TokenError::AccessTokenHash);
    }
    if let (Some(alg), Some(code)) = (alg, e.code)
        && !r.c_hash.is_absent()
        && r.c_hash.as_str() != Some(alg.half_hash(code.as_bytes()).as_str())
    {
        return Err(TokenError::CodeHash);
    }
    Ok(())
}

/// `iss` equals the issuer byte for byte (a trailing slash matters).
pub(crate) fn check_issuer(r: &Registered<'_>, issuer: &str) -> Result<(), TokenError> {
    match r.iss.as_str() {
        Some(iss) if iss == issuer => Ok(()),
        Some(_) => Err(TokenError::Issuer),
        None => Err(TokenError::MissingClaim("iss")),
    }
}

/// `aud` is a string or an array that contains the client id; any other audience must be
/// explicitly trusted.
pub(crate) fn check_audience(
    r: &Registered<'_>,
    client_id: &str,
    trusted: &[String],
) -> Result<(), TokenError> {
    let auds: Vec<&str> = match &r.aud {
        Loose::Str(a) => vec![a],
        Loose::Strs(list) if !list.is_empty() => list.iter().map(|a| a.as_ref()).collect(),
        _ => return Err(TokenError::MissingClaim("aud")),
    };
    if !auds.contains(&client_id) {
        return Err(TokenError::Audience);
    }
    if auds
        .iter()
        .any(|a| *a != client_id && !trusted.iter().any(|t| t == a))
    {
        return Err(TokenError::UntrustedAudience);
    }
    Ok(())
}

/// `exp` (when given), `iat` (required), `nbf` (when present), with leeway.
pub(crate) fn check_times(
    r: &Registered<'_>,
    exp: Option<u64>,
    now: u64,
    leeway: u64,
    max_token_age: Option<u64>,
) -> Result<(), TokenError> {
    if let Some(exp) = exp
        && now >= exp.saturating_add(leeway)
    {
        return Err(TokenError::Expired);
    }
    let iat = numeric(&r.iat, "iat")?.ok_or(TokenError::MissingClaim("iat"))?;
    if iat > now.saturating_add(leeway) {
        return Err(TokenError::IssuedInFuture);
    }
    if let Some(max) = max_token_age
        && iat.saturating_add(max).saturating_add(leeway) < now
    {
        return Err(TokenError::TooOld);
    }
    if let Some(nbf) = numeric(&r.nbf, "nbf")?
        && nbf > now.saturating_add(leeway)
    {
        return Err(TokenError::NotYetValid);
    }
    Ok(())
}

/// The `exp` of a token, when present (logout tokens may lack it).
pub(crate) fn optional_exp(r: &Registered<'_>) -> Result<Option<u64>, TokenError> {
    numeric(&r.exp, "exp")
}

/// A token whose signature and claim rules passed. Its claims deserialize into whatever the
/// caller needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedToken {
    payload: Vec<u8>,
    subject: String,
}

impl ValidatedToken {
    /// The `sub` claim.
    pub fn subject(&self) -> &str {
        &self.subject
    }
    /// Every claim, as a JSON map.
    pub fn claims(&self) -> Map<String, Value> {
        serde_json::from_slice(&self.payload).unwrap_or_default()
    }
    /// The claims as your type.
    pub fn deserialize<C: serde::de::DeserializeOwned>(&self) -> Result<C, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
