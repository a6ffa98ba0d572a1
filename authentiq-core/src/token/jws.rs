//! Compact JWS parsing and signature checks. The header rules that hold on every channel (no
//! `jku`/`x5u`/`jwk`, no unknown `crit`) are applied while parsing.

use serde::Deserialize;
use serde_json::{Map, Value};

use super::ValidatedToken;
use super::keys::KeySet;
use super::policy::{AlgPolicy, Algorithm, Channel};
use crate::crypto::{HmacKey, b64url_decode};
use crate::error::TokenError;

/// The largest token accepted, in bytes. Authentiq ID Tokens are about 1 KB.
pub(crate) const MAX_TOKEN_LEN: usize = 16 * 1024;

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
        let dots = crate::crypto::count_dots(token);
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
        policy.decide(self.alg, &self.alg_name, channel)
    }

    /// Checks an HS256 signature against the client secret's key.
    pub(crate) fn verify_hmac(&self, key: &HmacKey) -> Result<(), TokenError> {
        if self.signature.is_empty() {
            return Err(TokenError::Unsigned);
        }
        if key.verify(self.signing_input.as_bytes(), &self.signature) {
            Ok(())
        } else {
            Err(TokenError::BadSignature)
        }
    }

    /// Whether any key in `keys` could verify this token (by kid and family).
    pub(crate) fn has_candidate(&self, alg: Algorithm, keys: &KeySet) -> bool {
        keys.candidates(alg, self.kid.as_deref()).next().is_some()
    }

    /// Checks an asymmetric signature against the matching provider keys.
    pub(crate) fn verify_with(&self, alg: Algorithm, keys: &KeySet) -> Result<(), TokenError> {
        if self.signature.is_empty() {
            return Err(TokenError::Unsigned);
        }
        let mut tried = false;
        for key in keys.candidates(alg, self.kid.as_deref()) {
            if key.verify(alg, self.signing_input.as_bytes(), &self.signature) {
                return Ok(());
            }
            tried = true;
        }
        if tried {
            Err(TokenError::BadSignature)
        } else {
            Err(TokenError::NoMatchingKey {
                kid: self.kid.clone(),
            })
        }
    }

    /// The payload bytes. Read them only after the signature checked out.
    pub(crate) fn payload_bytes(&self) -> &[u8] {
        &self.payload
    }

    /// Consumes the token into a [`ValidatedToken`] once every rule passed.
    pub(crate) fn into_validated(self, subject: String) -> ValidatedToken {
        ValidatedToken::new(self.payload, subject)
    }

    /// The payload as a JSON object. Call only after the signature checked out.
    pub(crate) fn payload(&self) -> Result<Map<String, Value>, TokenError> {
        match serde_json::from_slice::<Value>(&self.payload) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err(TokenError::Malformed("payload is not a JSON object")),
        }
    }
}
