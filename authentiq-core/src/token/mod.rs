//! ID Tokens and logout tokens: keys, compact JWS, the per-channel algorithm policy and the
//! claim rules. Whether a logout token's `jti` was used before is the session store's to say.
//!
//! Verification is written directly on aws-lc-rs: every JWKS key is parsed once into a
//! `ParsedPublicKey`, so the per-token cost is one signature check plus two small JSON parses.
//! A general JWT crate would add its own header model and a second parse of each part, and
//! could not express the policy (algorithm pinned by channel and key, never by header alone).
//! `openidconnect` serves as an independent oracle in the tests instead (see
//! `tests/oracle.rs`).

pub(crate) mod client_keys;
pub(crate) mod jwe;
mod jws;
pub(crate) mod keys;
mod logout;
mod policy;
mod rules;

use serde_json::{Map, Value};

use crate::Authentiq;
use crate::clock;
use crate::error::TokenError;

pub use client_keys::ClientKeys;
pub(crate) use jws::Jws;
pub use policy::{AlgPolicy, Algorithm, Channel};

/// A token whose signature and claim rules passed. Its claims deserialize into whatever the
/// caller needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedToken {
    payload: Vec<u8>,
    subject: String,
    /// For an encrypted token, the signed JWT it held.
    nested: Option<String>,
}

impl ValidatedToken {
    pub(crate) fn new(payload: Vec<u8>, subject: String) -> Self {
        Self {
            payload,
            subject,
            nested: None,
        }
    }
    /// Whether the token arrived encrypted to the client's keys (a JWE holding a signed JWT).
    pub fn was_encrypted(&self) -> bool {
        self.nested.is_some()
    }
    /// For an encrypted token, the signed ID Token it held: what OpenID Connect sends back to
    /// the provider as `id_token_hint`.
    pub fn signed_token(&self) -> Option<&str> {
        self.nested.as_deref()
    }
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

impl Authentiq {
    /// Validates an ID Token per OpenID Connect Core 3.1.3.7 and the channel's algorithm
    /// policy. `nonce` (when given) must match; `flow` gives the access token (empty for none)
    /// and the code for `at_hash`/`c_hash`, which a token from the browser must carry for
    /// each one given; `max_token_age` bounds `iat`.
    ///
    /// ```no_run
    /// # async fn run(auth: authentiq_core::Authentiq, token: &str) {
    /// use authentiq_core::Channel;
    /// match auth.validate_id_token(token, Channel::Browser, None, None, None).await {
    ///     Ok(valid) => println!("signed in: {}", valid.subject()),
    ///     Err(why) => println!("refused: {why}"),
    /// }
    /// # }
    /// ```
    pub async fn validate_id_token(
        &self,
        token: &str,
        channel: Channel,
        nonce: Option<&str>,
        flow: Option<(&str, Option<&str>)>,
        max_token_age: Option<u64>,
    ) -> Result<ValidatedToken, TokenError> {
        let cfg = self.config();
        if token.len() > jwe::MAX_JWE_LEN {
            return Err(TokenError::Malformed("token too large"));
        }
        let opened = if jwe::is_compact_jwe(token) {
            let keys = cfg.client_keys.as_ref().ok_or(TokenError::Encrypted)?;
            Some(open_nested(token, keys)?)
        } else {
            if cfg.encryption_required() {
                return Err(TokenError::NotEncrypted);
            }
            None
        };
        let token = opened.as_deref().unwrap_or(token);
        let jws = Jws::parse(token)?;
        if opened.is_some() && jws.alg.is_none() {
            // The provider encrypted a token nobody signed: decryption proves only that it
            // was meant for this client, not who made it.
            return Err(TokenError::Unsigned);
        }
        if let Some(t) = &jws.typ
            && !t.eq_ignore_ascii_case("JWT")
            && !t.eq_ignore_ascii_case("id_token+jwt")
        {
            return Err(TokenError::WrongType(t.clone()));
        }
        let alg = self.verify_signature(&jws, channel).await?;
        let registered = rules::Registered::parse(jws.payload_bytes())?;
        let expect = rules::Expect {
            issuer: &self.provider().issuer,
            client_id: &cfg.client_id,
            trusted_audiences: &cfg.trusted_audiences,
            leeway: cfg.leeway.as_secs(),
            now: clock::now(),
            nonce,
            max_age: if nonce.is_some() { cfg.max_age } else { None },
            max_token_age,
            // An empty access token stands for none (a hybrid response carries only a code).
            access_token: flow.map(|f| f.0).filter(|a| !a.is_empty()),
            code: flow.and_then(|f| f.1),
            hashes_required: channel == Channel::Browser,
        };
        rules::check_id_token_claims(&registered, alg, &expect)?;
        let subject = registered.sub.as_str_owned();
        drop(registered);
        let mut valid = jws.into_validated(subject);
        valid.nested = opened;
        Ok(valid)
    }

    /// Checks the signature under the channel's policy; returns the algorithm used.
    pub(crate) async fn verify_signature(
        &self,
        jws: &Jws<'_>,
        channel: Channel,
    ) -> Result<Option<Algorithm>, TokenError> {
        let cfg = self.config();
        match jws.check_policy(&cfg.alg_policy, channel)? {
            None => Ok(None),
            Some(Algorithm::HS256) => {
                let Some(key) = &self.inner.hs256_key else {
                    return Err(TokenError::AlgorithmNotAllowed {
                        alg: "HS256".into(),
                        channel: "a client without secret",
                    });
                };
                jws.verify_hmac(key).map(|()| Some(Algorithm::HS256))
            }
            Some(alg) => self
                .inner
                .provider
                .verify(jws, alg)
                .await
                .map(|()| Some(alg)),
        }
    }
}

/// Opens an encrypted ID Token: decrypts the compact JWE with the client's keys and returns
/// the signed JWT inside (`cty: JWT`), which the caller validates by its channel's rules.
/// Every refusal of the JWE itself becomes [`TokenError::Undecryptable`], whatever its cause.
pub(crate) fn open_nested(token: &str, keys: &ClientKeys) -> Result<String, TokenError> {
    let jwe = jwe::Jwe::parse(token).map_err(|_| TokenError::Undecryptable)?;
    if !jwe
        .cty
        .as_deref()
        .is_some_and(|c| c.eq_ignore_ascii_case("JWT"))
    {
        return Err(TokenError::Undecryptable);
    }
    if let Some(t) = &jwe.typ
        && !t.eq_ignore_ascii_case("JWT")
    {
        return Err(TokenError::Undecryptable);
    }
    let plain = jwe.decrypt(keys).map_err(|_| TokenError::Undecryptable)?;
    // Authenticated plaintext: saying that it is not a signed JWT reveals nothing.
    let inner = String::from_utf8(plain).map_err(|_| TokenError::Unsigned)?;
    if inner.bytes().filter(|b| *b == b'.').count() != 2 {
        return Err(TokenError::Unsigned);
    }
    Ok(inner)
}
