//! Talking to the OpenID Provider: discovery and the HTTP client here, the cached JWKS in
//! `jwks`, the token endpoint and UserInfo in `endpoints`.

mod endpoints;
mod jwks;

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_json::Value;

use crate::config::{Config, secure_url};
use crate::error::ConfigError;

use jwks::{CachedKeys, Stamp, fetch_jwks};

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

pub(crate) struct Provider {
    pub(crate) meta: ProviderMetadata,
    /// The authorization endpoint, parsed once at start-up.
    pub(crate) authorize_url: url::Url,
    http: reqwest::Client,
    /// The JWKS as last fetched. Verification clones the `Arc` under the read lock and never
    /// holds the lock longer.
    keys: RwLock<Arc<CachedKeys>>,
    /// Held across a refetch, so that concurrent callers share one fetch.
    refetch: tokio::sync::Mutex<()>,
    /// Last refetch attempt, and last failed one, as [`Stamp`]s.
    last_attempt: Stamp,
    last_failure: Stamp,
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
pub(super) async fn read_limited(mut res: reqwest::Response) -> Result<Vec<u8>, String> {
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
    get_json_with_headers(http, url).await.map(|(_, v)| v)
}

pub(super) async fn get_json_with_headers(
    http: &reqwest::Client,
    url: &str,
) -> Result<(reqwest::header::HeaderMap, Value), String> {
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
    let headers = res.headers().clone();
    let body = read_limited(res).await?;
    let value = serde_json::from_slice(&body).map_err(|e| format!("not JSON: {e}"))?;
    Ok((headers, value))
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
        tracing::info!(issuer = %meta.issuer, keys = keys.keys.len(), max_age = ?keys.max_age, "OpenID Provider ready");
        let base = Instant::now();
        Ok(Self {
            meta,
            authorize_url,
            http,
            keys: RwLock::new(Arc::new(keys)),
            refetch: tokio::sync::Mutex::new(()),
            last_attempt: Stamp::new(base),
            last_failure: Stamp::new(base),
            refetch_interval: cfg.jwks_refetch_interval,
        })
    }
}

/// A reqwest error without the URL (it may carry a code in the query).
pub(super) fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "connection failed"
    } else {
        "request failed"
    };
    kind.to_owned()
}
