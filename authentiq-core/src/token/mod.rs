//! ID Tokens and logout tokens: keys, compact JWS, the per-channel algorithm policy and the
//! claim rules. Whether a logout token's `jti` was used before is the session store's to say.
//!
//! Verification is written directly on aws-lc-rs: every JWKS key is parsed once into a
//! `ParsedPublicKey`, so the per-token cost is one signature check plus two small JSON parses.
//! A general JWT crate would add its own header model and a second parse of each part, and
//! could not express the policy (algorithm pinned by channel and key, never by header alone).
//! `openidconnect` serves as an independent oracle in the tests instead (see
//! `tests/oracle.rs`).

mod jws;
pub(crate) mod keys;
mod logout;
mod policy;
mod rules;

use serde_json::{Map, Value};

use crate::Authentiq;
use crate::clock;
use crate::error::TokenError;

pub(crate) use jws::Jws;
pub use policy::{AlgPolicy, Algorithm, Channel};

/// A token whose signature and claim rules passed. Its claims deserialize into whatever the
/// caller needs.
#[derive(Clone, Debug, PartialEq)]
pub struct ValidatedToken {
    payload: Vec<u8>,
    subject: String,
}

impl ValidatedToken {
    pub(crate) fn new(payload: Vec<u8>, subject: String) -> Self {
        Self { payload, subject }
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
    /// policy. `nonce` (when given) must match; `flow` gives the access token and code for
    /// `at_hash`/`c_hash`; `max_token_age` bounds `iat`.
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
        let jws = Jws::parse(token)?;
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
            access_token: flow.map(|f| f.0),
            code: flow.and_then(|f| f.1),
        };
        rules::check_id_token_claims(&registered, alg, &expect)?;
        let subject = registered.sub.as_str_owned();
        drop(registered);
        Ok(jws.into_validated(subject))
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
                let secret = cfg.client_secret.as_bytes();
                if secret.is_empty() {
                    return Err(TokenError::AlgorithmNotAllowed {
                        alg: "HS256".into(),
                        channel: "a client without secret",
                    });
                }
                jws.verify_hmac(secret).map(|()| Some(Algorithm::HS256))
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
