//! Back-channel logout tokens (OpenID Connect Back-Channel Logout 1.0, section 2.6) and the
//! cache that refuses a replayed `jti`.

use serde_json::Value;

use super::{Channel, Jws, rules};
use crate::Authentiq;
use crate::clock;
use crate::error::TokenError;

/// Logout tokens without `exp` are accepted this long after `iat`.
const LOGOUT_TOKEN_MAX_AGE: u64 = 300;
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// What a valid logout token says: who is logged out, from when, and its `jti` with how long
/// it must be remembered.
#[derive(Debug)]
pub(crate) struct LogoutToken {
    pub(crate) sub: Option<String>,
    pub(crate) sid: Option<String>,
    /// The token's `iat`: what began at or before it ends.
    pub(crate) iat: u64,
    pub(crate) jti: String,
    /// Until when a replay of this token must be refused (its `exp` or age bound, plus
    /// leeway).
    pub(crate) keep_until: u64,
}

impl Authentiq {
    /// Validates a back-channel logout token: signature (HS256 with the client secret or the
    /// JWKS), `iss`, `aud`, `iat` (and `exp` when present, else an age bound), `jti` present,
    /// the logout event, `sub` and/or `sid`, and no `nonce`. Whether the `jti` was used before
    /// is the session store's to say (see [`crate::SessionStore::jti_seen`]).
    pub(crate) async fn validate_logout_token(
        &self,
        token: &str,
    ) -> Result<LogoutToken, TokenError> {
        let cfg = self.config();
        let jws = Jws::parse(token)?;
        if let Some(t) = &jws.typ
            && !t.eq_ignore_ascii_case("logout+jwt")
            && !t.eq_ignore_ascii_case("JWT")
        {
            return Err(TokenError::WrongType(t.clone()));
        }
        // The provider posts logout tokens directly: the same policy as the token endpoint.
        if self
            .verify_signature(&jws, Channel::TokenEndpoint)
            .await?
            .is_none()
        {
            return Err(TokenError::Unsigned);
        }
        let registered = rules::Registered::parse(jws.payload_bytes())?;
        rules::check_issuer(&registered, &self.provider().issuer)?;
        rules::check_audience(&registered, &cfg.client_id, &cfg.trusted_audiences)?;
        let now = clock::now();
        let leeway = cfg.leeway.as_secs();
        let exp = rules::optional_exp(&registered)?;
        let max_age = if exp.is_none() {
            Some(LOGOUT_TOKEN_MAX_AGE)
        } else {
            None
        };
        rules::check_times(&registered, exp, now, leeway, max_age)?;
        let iat = rules::issued_at(&registered)?;
        drop(registered);
        let claims = jws.payload()?;
        if claims.contains_key("nonce") {
            return Err(TokenError::UnexpectedNonce);
        }
        match claims.get("events").and_then(Value::as_object) {
            Some(ev) if ev.get(BACKCHANNEL_EVENT).is_some_and(Value::is_object) => {}
            _ => return Err(TokenError::MissingLogoutEvent),
        }
        let has = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .is_some_and(|s| !s.is_empty())
        };
        if !has("sub") && !has("sid") {
            return Err(TokenError::NoSubject);
        }
        let jti = claims
            .get("jti")
            .and_then(Value::as_str)
            .filter(|j| !j.is_empty() && j.len() <= 256)
            .ok_or(TokenError::MissingClaim("jti"))?;
        let keep_until = exp
            .unwrap_or(iat.saturating_add(LOGOUT_TOKEN_MAX_AGE))
            .saturating_add(leeway);
        let text = |k: &str| {
            claims
                .get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        Ok(LogoutToken {
            sub: text("sub"),
            sid: text("sid"),
            iat,
            jti: jti.to_owned(),
            keep_until,
        })
    }
}
