//! The token and userinfo endpoints.

use std::time::Instant;

use aws_lc_rs::constant_time;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::{
    ACCESS_TOKEN_LIFETIME, AccessGrant, Client, Params, Pkce, Shared, half_hash, now_secs, sha256,
    valid_pkce_value,
};
use crate::ClientAuth;
use crate::keys::{b64url, random_token};
use url::form_urlencoded;

/// An OAuth error from the token endpoint.
#[derive(Debug)]
pub(crate) struct TokenError {
    pub(crate) status: u16,
    pub(crate) error: &'static str,
    pub(crate) description: &'static str,
}

const fn invalid_client(description: &'static str) -> TokenError {
    TokenError {
        status: 401,
        error: "invalid_client",
        description,
    }
}

const fn invalid_grant(description: &'static str) -> TokenError {
    TokenError {
        status: 400,
        error: "invalid_grant",
        description,
    }
}

const fn invalid_request(description: &'static str) -> TokenError {
    TokenError {
        status: 400,
        error: "invalid_request",
        description,
    }
}

impl Shared {
    /// Authenticates the client from the `Authorization` header or the form body.
    fn authenticate_client(
        &self,
        authorization: Option<&str>,
        p: &Params,
    ) -> Result<Client, TokenError> {
        let basic = match authorization {
            None => None,
            Some(header) => {
                let (scheme, value) = header.split_once(' ').unwrap_or((header, ""));
                if !scheme.eq_ignore_ascii_case("basic") {
                    return Err(invalid_client("unsupported Authorization scheme"));
                }
                let decoded = STANDARD
                    .decode(value.trim())
                    .ok()
                    .and_then(|bytes| String::from_utf8(bytes).ok())
                    .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
                let (id, secret) = decoded
                    .split_once(':')
                    .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
                Some((form_decode(id), form_decode(secret)))
            }
        };
        let (id, secret, method) = match (basic, p.get("client_secret")) {
            (Some(_), Some(_)) => {
                return Err(invalid_request("use only one client authentication method"));
            }
            (Some((id, secret)), None) => {
                if p.get("client_id").is_some_and(|body_id| body_id != id) {
                    return Err(invalid_client("client_id does not match the credentials"));
                }
                (id, secret, ClientAuth::Basic)
            }
            (None, Some(secret)) => {
                let id = p
                    .get("client_id")
                    .ok_or_else(|| invalid_client("client_id is missing"))?;
                (id.to_owned(), secret.to_owned(), ClientAuth::Post)
            }
            (None, None) => return Err(invalid_client("client authentication is required")),
        };
        let client = self
            .client(&id)
            .ok_or_else(|| invalid_client("unknown client"))?;
        let allowed = match client.reg.token_endpoint_auth {
            ClientAuth::Any => true,
            ClientAuth::Basic => method == ClientAuth::Basic,
            ClientAuth::Post => method == ClientAuth::Post,
        };
        if !allowed {
            return Err(invalid_client(
                "authentication method not allowed for this client",
            ));
        }
        constant_time::verify_slices_are_equal(secret.as_bytes(), client.secret.as_bytes())
            .map_err(|_| invalid_client("wrong client secret"))?;
        Ok(client)
    }

    /// The token endpoint: authorization code exchange.
    pub(crate) fn token(
        &self,
        authorization: Option<&str>,
        p: &Params,
    ) -> Result<Value, TokenError> {
        let client = self.authenticate_client(authorization, p)?;
        self.count_token_request(&client.id);
        if p.first_repeated().is_some() {
            return Err(invalid_request("repeated parameter"));
        }
        match p.get("grant_type") {
            Some("authorization_code") => {}
            Some(_) => {
                return Err(TokenError {
                    status: 400,
                    error: "unsupported_grant_type",
                    description: "only authorization_code is supported",
                });
            }
            None => return Err(invalid_request("grant_type is missing")),
        }
        let code = p
            .get("code")
            .ok_or_else(|| invalid_request("code is missing"))?;
        let mut state = self.lock();
        let Some(grant) = state.codes.remove(code) else {
            if let Some(token) = state.redeemed.remove(code) {
                // RFC 6749 section 4.1.2: a replayed code revokes what it produced.
                state.access.remove(&token);
                tracing::warn!("authorization code replayed; access token revoked");
            }
            return Err(invalid_grant("unknown, expired or already used code"));
        };
        if grant.expires <= Instant::now() {
            return Err(invalid_grant("the code has expired"));
        }
        if grant.auth.client_id != client.id {
            return Err(invalid_grant("the code was issued to another client"));
        }
        match p.get("redirect_uri") {
            Some(uri) if uri == grant.redirect_uri => {}
            Some(_) => return Err(invalid_grant("redirect_uri does not match")),
            None => return Err(invalid_request("redirect_uri is missing")),
        }
        match (&grant.challenge, p.get("code_verifier")) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(invalid_grant(
                    "code_verifier sent but no code_challenge was",
                ));
            }
            (Some(_), None) => return Err(invalid_grant("code_verifier is missing")),
            (Some((challenge, method)), Some(verifier)) => {
                let computed = match method {
                    Pkce::S256 => b64url(sha256(verifier.as_bytes()).as_ref()),
                    Pkce::Plain => verifier.to_owned(),
                };
                if !valid_pkce_value(verifier)
                    || constant_time::verify_slices_are_equal(
                        computed.as_bytes(),
                        challenge.as_bytes(),
                    )
                    .is_err()
                {
                    return Err(invalid_grant("PKCE verification failed"));
                }
            }
        }

        let access_token = random_token(32);
        let now = now_secs();
        state.access.retain(|_, a| a.expires_at > now);
        state.access.insert(
            access_token.clone(),
            AccessGrant {
                sub: grant.auth.sub.clone(),
                claims: grant.auth.claims.clone(),
                expires_at: now + ACCESS_TOKEN_LIFETIME,
            },
        );
        state.redeemed.insert(code.to_owned(), access_token.clone());
        let extra = vec![(
            "at_hash",
            json!(half_hash(client.reg.id_token_alg, &access_token)),
        )];
        let id_token = self.id_token(&state, &client, &grant.auth, client.reg.id_token_alg, extra);
        Ok(json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "id_token": id_token,
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "expires_at": now + ACCESS_TOKEN_LIFETIME,
            "session_state": grant.auth.session_state,
            "scope": grant.auth.scope,
        }))
    }

    /// The userinfo endpoint: `sub` plus the granted identity claims.
    pub(crate) fn userinfo(&self, access_token: &str) -> Option<Value> {
        let state = self.lock();
        let grant = state
            .access
            .get(access_token)
            .filter(|g| g.expires_at > now_secs())?;
        let mut claims = grant.claims.clone();
        claims.insert("sub".into(), json!(grant.sub));
        Some(Value::Object(claims))
    }
}

/// Decodes an `application/x-www-form-urlencoded` component (RFC 6749 section 2.3.1).
fn form_decode(value: &str) -> String {
    form_urlencoded::parse(format!("v={}", value.replace('&', "%26")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}
