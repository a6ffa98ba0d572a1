//! Talking to the OpenID Provider: discovery, the cached JWKS with single-flight refetch, the
//! token endpoint and UserInfo.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::config::{ClientAuthMethod, Config, secure_url};
use crate::error::{AuthError, ConfigError, TokenError};
use crate::token::keys::KeySet;
use crate::token::{Algorithm, Jws};

/// The most the SDK reads of any provider response.
const MAX_RESPONSE: usize = 256 * 1024;

/// The provider's endpoints, from discovery plus overrides.
#[derive(Clone, Debug)]
pub struct ProviderMetadata {
    /// The issuer, exactly as the provider states it.
    pub issuer: String,
    /// Authorization endpoint.
    pub authorization_endpoint: String,
    /// Token endpoint.
    pub token_endpoint: String,
    /// UserInfo endpoint, if any.
    pub userinfo_endpoint: Option<String>,
    /// JWKS URI.
    pub jwks_uri: String,
    /// RP-initiated logout endpoint, if any.
    pub end_session_endpoint: Option<String>,
    /// OIDC session management iframe, if any (for the browser side).
    pub check_session_iframe: Option<String>,
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    end_session_endpoint: Option<String>,
    check_session_iframe: Option<String>,
}

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

pub(crate) struct Provider {
    pub(crate) meta: ProviderMetadata,
    /// The authorization endpoint, parsed once at start-up.
    pub(crate) authorize_url: url::Url,
    http: reqwest::Client,
    keys: RwLock<Arc<KeySet>>,
    generation: AtomicU64,
    refetch: tokio::sync::Mutex<Option<Instant>>,
    refetch_interval: Duration,
}

fn client(timeout: Duration) -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .user_agent(concat!("authentiq-rs/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| ConfigError::HttpClient(e.to_string()))
}

/// Reads a response body up to [`MAX_RESPONSE`] bytes.
async fn read_limited(mut res: reqwest::Response) -> Result<Vec<u8>, String> {
    if res
        .content_length()
        .is_some_and(|l| l > MAX_RESPONSE as u64)
    {
        return Err("response too large".into());
    }
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.map_err(|e| e.to_string())? {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err("response too large".into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

async fn get_json(http: &reqwest::Client, url: &str) -> Result<Value, String> {
    let res = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|e| format!("request failed: {e}"))?;
    let status = res.status();
    if !status.is_success() {
        return Err(format!("HTTP status {status}"));
    }
    let body = read_limited(res).await?;
    serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))
}

impl Provider {
    /// Discovery and the first JWKS fetch, at start-up.
    pub(crate) async fn discover(cfg: &Config) -> Result<Self, ConfigError> {
        let http = client(cfg.http_timeout)?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            cfg.issuer.trim_end_matches('/')
        );
        let doc = get_json(&http, &url)
            .await
            .map_err(|reason| ConfigError::Discovery {
                url: url.clone(),
                reason,
            })?;
        let d: Discovery = serde_json::from_value(doc).map_err(|e| ConfigError::Discovery {
            url: url.clone(),
            reason: e.to_string(),
        })?;
        let issuer = if d.issuer == cfg.issuer {
            d.issuer
        } else if d.issuer.trim_end_matches('/') == cfg.issuer.trim_end_matches('/') {
            // Authentiq's issuer ends in a slash and people often leave it out: adopt the
            // provider's exact spelling, since `iss` is compared byte for byte against it.
            tracing::warn!(configured = %cfg.issuer, discovered = %d.issuer, "using the issuer exactly as the provider spells it");
            d.issuer
        } else {
            return Err(ConfigError::IssuerMismatch {
                configured: cfg.issuer.clone(),
                discovered: d.issuer,
            });
        };
        let pick = |what: &'static str,
                    over: &Option<String>,
                    found: Option<String>|
         -> Result<Option<String>, ConfigError> {
            match over.clone().or(found) {
                Some(u) => Ok(Some(secure_url(what, &u)?.to_string())),
                None => Ok(None),
            }
        };
        let e = &cfg.endpoints;
        let meta = ProviderMetadata {
            authorization_endpoint: pick(
                "authorization endpoint",
                &e.authorization,
                d.authorization_endpoint,
            )?
            .ok_or(ConfigError::Missing("authorization_endpoint in discovery"))?,
            token_endpoint: pick("token endpoint", &e.token, d.token_endpoint)?
                .ok_or(ConfigError::Missing("token_endpoint in discovery"))?,
            userinfo_endpoint: pick("userinfo endpoint", &e.userinfo, d.userinfo_endpoint)?,
            jwks_uri: pick("jwks_uri", &e.jwks, d.jwks_uri)?
                .ok_or(ConfigError::Missing("jwks_uri in discovery"))?,
            end_session_endpoint: pick(
                "end-session endpoint",
                &e.end_session,
                d.end_session_endpoint,
            )?,
            check_session_iframe: d.check_session_iframe,
            issuer,
        };
        let authorize_url = secure_url("authorization endpoint", &meta.authorization_endpoint)?;
        let keys = fetch_jwks(&http, &meta.jwks_uri)
            .await
            .map_err(|reason| ConfigError::Jwks {
                url: meta.jwks_uri.clone(),
                reason,
            })?;
        tracing::info!(issuer = %meta.issuer, keys = keys.len(), "OpenID Provider ready");
        Ok(Self {
            meta,
            authorize_url,
            http,
            keys: RwLock::new(Arc::new(keys)),
            generation: AtomicU64::new(0),
            refetch: tokio::sync::Mutex::new(None),
            refetch_interval: cfg.jwks_refetch_interval,
        })
    }

    fn current_keys(&self) -> Arc<KeySet> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Keys that can verify `jws`: the cached set, or, when no cached key matches, the set
    /// after one refetch. Refetches are single-flight (concurrent callers wait for the one in
    /// progress and use its result) and rate-limited; a failed refetch keeps the old keys. The
    /// hot path only clones an `Arc` under a read lock: no lock is held across network I/O
    /// except the refetch mutex, which only callers with an unknown key wait on.
    pub(crate) async fn keys_for(&self, jws: &Jws<'_>, alg: Algorithm) -> Arc<KeySet> {
        let keys = self.current_keys();
        if jws.has_candidate(alg, &keys) {
            return keys;
        }
        let seen = self.generation.load(Ordering::Acquire);
        let mut last = self.refetch.lock().await;
        if self.generation.load(Ordering::Acquire) != seen {
            return self.current_keys();
        }
        if last.is_some_and(|t| t.elapsed() < self.refetch_interval) {
            tracing::debug!(kid = ?jws.kid, "unknown key id; JWKS refetch is rate-limited");
            return keys;
        }
        *last = Some(Instant::now());
        match fetch_jwks(&self.http, &self.meta.jwks_uri).await {
            Ok(fresh) if fresh.len() > 0 => {
                tracing::info!(keys = fresh.len(), "provider keys refreshed");
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(fresh);
                self.generation.fetch_add(1, Ordering::AcqRel);
            }
            Ok(_) => tracing::warn!("JWKS refetch returned no usable key; keeping the old keys"),
            Err(e) => tracing::warn!("JWKS refetch failed, keeping the old keys: {e}"),
        }
        self.current_keys()
    }

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
        let bytes = read_limited(res)
            .await
            .map_err(|e| AuthError::InvalidProviderResponse(format!("token endpoint: {e}")))?;
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
                Err(_) => AuthError::InvalidProviderResponse(format!(
                    "token endpoint answered HTTP {status}"
                )),
            });
        }
        let tr: TokenResponse = serde_json::from_slice(&bytes)
            .map_err(|e| AuthError::InvalidProviderResponse(format!("token response: {e}")))?;
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
        let body = read_limited(res)
            .await
            .map_err(|e| AuthError::InvalidProviderResponse(format!("userinfo: {e}")))?;
        if !status.is_success() {
            return Err(AuthError::InvalidProviderResponse(format!(
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
                .map_err(|_| AuthError::InvalidProviderResponse("userinfo is not JSON".into()))?
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

async fn fetch_jwks(http: &reqwest::Client, url: &str) -> Result<KeySet, String> {
    let doc = get_json(http, url).await?;
    KeySet::from_jwks(&doc)
}

/// A reqwest error without the URL (it may carry a code in the query).
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}
