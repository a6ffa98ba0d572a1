//! The claim rules of ID Tokens (OpenID Connect Core 3.1.3.7) and of logout tokens, read from
//! a borrowed view of the payload: no JSON tree is built to check a token.

use std::borrow::Cow;

use serde::Deserialize;

use super::policy::Algorithm;
use crate::crypto::ct_eq;
use crate::error::TokenError;

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
    /// A token that came through the browser with a code (hybrid) or an access token
    /// (implicit) must carry `c_hash` / `at_hash` (OpenID Connect Core 3.3.2.11 and 3.2.2.10):
    /// they bind the code and the access token to the signed token. From the token endpoint
    /// they are optional (and checked when present).
    pub(crate) hashes_required: bool,
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
    /// Present only in logout tokens (Security Event Tokens).
    #[serde(borrow)]
    events: Loose<'a>,
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
    if !r.events.is_absent() {
        return Err(TokenError::NotAnIdToken);
    }
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
    if e.hashes_required && e.access_token.is_some() && r.at_hash.is_absent() {
        return Err(TokenError::MissingClaim("at_hash"));
    }
    if e.hashes_required && e.code.is_some() && r.c_hash.is_absent() {
        return Err(TokenError::MissingClaim("c_hash"));
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

/// The `iat` of a token (required).
pub(crate) fn issued_at(r: &Registered<'_>) -> Result<u64, TokenError> {
    numeric(&r.iat, "iat")?.ok_or(TokenError::MissingClaim("iat"))
}

/// The `exp` of a token, when present (logout tokens may lack it).
pub(crate) fn optional_exp(r: &Registered<'_>) -> Result<Option<u64>, TokenError> {
    numeric(&r.exp, "exp")
}
