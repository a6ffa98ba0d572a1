//! The token endpoint and UserInfo.

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{ClientAuthMethod, Config};
use crate::error::{AuthError, TokenError};

use super::{Provider, read_limited, without_url};

/// What the SDK reads of the token endpoint's answer; other members (`expires_in`,
/// `refresh_token`, ...) are ignored: sessions have their own lifetimes, and the SDK never
/// depends on refresh working.
#[derive(Clone, Deserialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    #[serde(default)]
    pub(crate) token_type: Option<String>,
    #[serde(default)]
    pub(crate) id_token: Option<String>,
    /// OIDC session management state.
    #[serde(default)]
    pub(crate) session_state: Option<String>,
    /// Granted scopes, when reported.
    #[serde(default)]
    pub(crate) scope: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    /// Tokens stay out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("token_type", &self.token_type)
            .field("scope", &self.scope)
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Exchanges an authorization code at the token endpoint.
    pub(crate) async fn exchange_code(
        &self,
        cfg: &Config,
        code: &str,
        verifier: Option<&str>,
    ) -> Result<TokenResponse, AuthError> {
        let redirect_uri = cfg.redirect_uri();
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
        ];
        if let Some(v) = verifier {
            form.push(("code_verifier", v));
        }
        let mut req = self
            .http
            .post(&self.meta.token_endpoint)
            .header("accept", "application/json");
        match cfg.client_auth {
            ClientAuthMethod::ClientSecretBasic => {
                // RFC 6749 2.3.1: id and secret are form-urlencoded before base64.
                let enc = |s: &str| {
                    url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>()
                };
                let basic = base64::engine::general_purpose::STANDARD.encode(format!(
                    "{}:{}",
                    enc(&cfg.client_id),
                    enc(&cfg.client_secret)
                ));
                req = req.header("authorization", format!("Basic {basic}"));
            }
            ClientAuthMethod::ClientSecretPost => {
                form.push(("client_id", &cfg.client_id));
                form.push(("client_secret", &cfg.client_secret));
            }
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form)
            .finish();
        let res = req
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                AuthError::ProviderUnavailable(format!("token endpoint: {}", without_url(&e)))
            })?;
        let status = res.status();
        // An answer that cannot be read, or that is neither a token response nor an OAuth
        // error, is a provider failing: 503 `provider_unavailable`, like no answer at all.
        let bytes = read_limited(res)
            .await
            .map_err(|e| AuthError::ProviderUnavailable(format!("token endpoint: {e}")))?;
        if !status.is_success() {
            #[derive(Deserialize)]
            struct OAuthError {
                error: String,
                error_description: Option<String>,
            }
            return Err(match serde_json::from_slice::<OAuthError>(&bytes) {
                Ok(e) => AuthError::TokenExchange {
                    error: e.error,
                    description: e.error_description,
                },
                Err(_) => {
                    AuthError::ProviderUnavailable(format!("token endpoint answered HTTP {status}"))
                }
            });
        }
        let tr: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|e| AuthError::ProviderUnavailable(format!("token response: {e}")))?;
        if let Some(t) = &tr.token_type
            && !t.eq_ignore_ascii_case("bearer")
        {
            return Err(AuthError::InvalidProviderResponse(format!(
                "token_type `{t}` is not Bearer"
            )));
        }
        Ok(tr)
    }

    /// Reads UserInfo with the access token. Accepts JSON, and the old `application/jwt`
    /// variant signed by the user's own key: that signature is not checkable with the
    /// provider's keys, so its payload is trusted exactly as much as a JSON answer (it arrived
    /// over TLS from the provider itself), and `sub` must match the ID Token's either way.
    pub(crate) async fn userinfo(
        &self,
        access_token: &str,
        sub: &str,
    ) -> Result<Map<String, Value>, AuthError> {
        let Some(url) = &self.meta.userinfo_endpoint else {
            return Ok(Map::new());
        };
        let res = self
            .http
            .get(url)
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| {
                AuthError::ProviderUnavailable(format!("userinfo: {}", without_url(&e)))
            })?;
        let status = res.status();
        let is_jwt = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/jwt"));
        // Unreadable answers, error statuses and non-JSON are the provider failing (503).
        let body = read_limited(res)
            .await
            .map_err(|e| AuthError::ProviderUnavailable(format!("userinfo: {e}")))?;
        if !status.is_success() {
            return Err(AuthError::ProviderUnavailable(format!(
                "userinfo answered HTTP {status}"
            )));
        }
        let value: Value = if is_jwt {
            let text = std::str::from_utf8(&body).map_err(|_| {
                AuthError::InvalidProviderResponse("userinfo JWT is not text".into())
            })?;
            let payload = text
                .trim()
                .split('.')
                .nth(1)
                .and_then(crate::crypto::b64url_decode)
                .ok_or_else(|| {
                    AuthError::InvalidProviderResponse("userinfo JWT is malformed".into())
                })?;
            serde_json::from_slice(&payload).map_err(|_| {
                AuthError::InvalidProviderResponse("userinfo JWT payload is not JSON".into())
            })?
        } else {
            serde_json::from_slice(&body)
                .map_err(|_| AuthError::ProviderUnavailable("userinfo is not JSON".into()))?
        };
        let Value::Object(map) = value else {
            return Err(AuthError::InvalidProviderResponse(
                "userinfo is not a JSON object".into(),
            ));
        };
        if map.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(AuthError::InvalidIdToken(TokenError::SubjectMismatch));
        }
        Ok(map)
    }
}
