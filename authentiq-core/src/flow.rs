//! The authorization-code flow: a sign-in starts with state, nonce and PKCE kept in an
//! encrypted flow cookie, and completes at the callback (query, form or AuthentiqJS JSON):
//! state, code exchange, ID Token rules, granted scopes, a fresh session.

use http::header::{CACHE_CONTROL, SET_COOKIE, VARY};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::Authentiq;
use crate::adapter::RequestHead;
use crate::clock;
use crate::crypto::{b64url, ct_eq, random_token, sha256};
use crate::error::AuthError;
use crate::guard::identity_claims;
use crate::http::Reply;
use crate::routes::{MAX_BODY, log_failure, safe_return_to};
use crate::session::SessionData;
use crate::token::Channel;

/// How long a sign-in may take between the redirect to the provider and the callback.
const FLOW_LIFETIME: u64 = 600;

/// At most this many sign-ins may be pending in one browser: a new login evicts the oldest.
const MAX_PENDING_FLOWS: usize = 3;
/// At most this many bytes of `name=value` pairs of flow cookies per browser, the new one
/// included, so that pending sign-ins never push the `Cookie` header past common 8 KB limits.
const FLOW_COOKIE_BUDGET: usize = 4096;

/// Random bytes in a `state`; [`STATE_LEN`] is its base64url length.
const STATE_BYTES: usize = 32;
/// The length of every `state` the core issues: 32 bytes, base64url without padding.
const STATE_LEN: usize = 43;

/// Whether `state` has the form of one the core issued: exactly [`STATE_LEN`] base64url
/// characters. Only such a value may become part of a cookie name or reach a header.
fn well_formed_state(state: &str) -> bool {
    state.len() == STATE_LEN
        && state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// What the flow cookie remembers between login and callback.
#[derive(Serialize, Deserialize)]
struct Flow {
    #[serde(rename = "s")]
    state: String,
    #[serde(rename = "n")]
    nonce: String,
    #[serde(rename = "v", default, skip_serializing_if = "Option::is_none")]
    verifier: Option<String>,
    #[serde(rename = "r")]
    return_to: String,
    #[serde(rename = "t")]
    created: u64,
}

/// The parameters a callback can carry, from the query, a form or JSON.
#[derive(Default, Deserialize)]
struct CallbackParams {
    code: Option<String>,
    state: Option<String>,
    id_token: Option<String>,
    access_token: Option<String>,
    session_state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

enum Answer {
    /// 303 to `return_to` (browser redirects and form posts).
    Redirect,
    /// 200 with the claims as JSON (AuthentiqJS JSON posts).
    Json,
}

fn store_failed(e: crate::session::StoreError) -> AuthError {
    AuthError::Store(e.0)
}

impl Authentiq {
    /// The authorization URL and the flow cookie for a new sign-in that returns to
    /// `return_to` (sanitised with [`safe_return_to`]).
    pub fn start_login(&self, return_to: Option<&str>, extra: &[(&str, &str)]) -> (String, String) {
        self.start_login_with(return_to, extra, false)
    }

    /// [`Authentiq::start_login`], for a one-click sign-in when `one_click`: `aq:push` is
    /// requested whatever the configured scopes, and `prompt=consent` (which disables
    /// one-click) is never sent.
    pub(crate) fn start_login_with(
        &self,
        return_to: Option<&str>,
        extra: &[(&str, &str)],
        one_click: bool,
    ) -> (String, String) {
        let cfg = &self.inner.cfg;
        let state = random_token(STATE_BYTES);
        let nonce = random_token(32);
        let verifier = cfg.pkce.then(|| random_token(32));
        let mut url = self.inner.provider.authorize_url.clone();
        {
            let mut q = url.query_pairs_mut();
            let redirect_uri = cfg.redirect_uri();
            let mut scope = cfg.scopes.to_string();
            if one_click && !scope.split(' ').any(|s| s == "aq:push") {
                scope.push_str(" aq:push");
            }
            let prompt = cfg
                .prompt
                .clone()
                .filter(|p| !(one_click && p.split(' ').any(|v| v == "consent")));
            q.append_pair("response_type", "code")
                .append_pair("client_id", &cfg.client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("scope", &scope)
                .append_pair("state", &state)
                .append_pair("nonce", &nonce);
            if let Some(v) = &verifier {
                q.append_pair("code_challenge", &b64url(sha256(v.as_bytes()).as_ref()))
                    .append_pair("code_challenge_method", "S256");
            }
            let max_age = cfg.max_age.map(|m| m.to_string());
            for (k, v) in [
                ("prompt", &prompt),
                ("display", &cfg.display),
                ("max_age", &max_age),
                ("ui_locales", &cfg.ui_locales),
                ("display_errors", &cfg.display_errors),
            ] {
                if let Some(v) = v {
                    q.append_pair(k, v);
                }
            }
            for (k, v) in &cfg.extra_params {
                q.append_pair(k, v);
            }
            for (k, v) in extra {
                q.append_pair(k, v);
            }
        }
        let flow = Flow {
            state: state.clone(),
            nonce,
            verifier,
            return_to: safe_return_to(return_to),
            created: clock::now(),
        };
        let name = self.flow_cookie_name(&state);
        let sealed = self
            .inner
            .flow_cipher
            .seal(&name, &serde_json::to_vec(&flow).unwrap_or_default());
        // On https the flow cookie is `SameSite=None` (with `Secure` and `__Host-`): a provider
        // answering with `response_mode=form_post` makes a cross-site POST to the callback,
        // which a `Lax` cookie would not reach. Sending it cross-site gives nothing away: it is
        // encrypted, and a callback is accepted only with the `state` it holds. Browsers refuse
        // `None` without `Secure`, so plain-http development keeps `Lax`.
        let same_site = if self.inner.cfg.secure_cookies() {
            cookie::SameSite::None
        } else {
            cookie::SameSite::Lax
        };
        (
            url.into(),
            self.cookie_with(&name, &sealed, FLOW_LIFETIME, same_site),
        )
    }

    /// The `Set-Cookie` removals a login must send beside `new_cookie` (the flow cookie from
    /// [`Authentiq::start_login`]), so that the browser keeps at most 3 pending sign-ins whose
    /// flow cookies, the new one included, take at most 4 KB of its `Cookie` header: the
    /// request's flow cookies that are unreadable or expired go first, then the oldest.
    /// Cookies the SDK cannot have named are left alone.
    pub(crate) fn evict_flow_cookies(
        &self,
        head: &impl RequestHead,
        new_cookie: &str,
    ) -> Vec<String> {
        let prefix = &self.inner.names.flow_prefix;
        let now = clock::now();
        let new_len = new_cookie.split(';').next().unwrap_or(new_cookie).len();
        let mut seen = Vec::new();
        let mut live = Vec::new();
        let mut gone = Vec::new();
        for (name, value) in head.cookies() {
            let Some(key) = name.strip_prefix(prefix.as_str()) else {
                continue;
            };
            let ours = key.len() == 12
                && key
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ours || seen.contains(&name) {
                continue;
            }
            seen.push(name);
            let created = self
                .inner
                .flow_cipher
                .open(name, value)
                .and_then(|p| serde_json::from_slice::<Flow>(&p).ok())
                .map(|f| f.created)
                .filter(|c| now <= c.saturating_add(FLOW_LIFETIME));
            match created {
                Some(c) => live.push((c, name, name.len() + 1 + value.len())),
                None => gone.push(self.remove_cookie(name)),
            }
        }
        // Newest first: they are kept while the count and the budget allow.
        live.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
        let (mut kept, mut total) = (1, new_len);
        for (_, name, size) in live {
            if kept < MAX_PENDING_FLOWS && total + 2 + size <= FLOW_COOKIE_BUDGET {
                kept += 1;
                total += 2 + size;
            } else {
                gone.push(self.remove_cookie(name));
            }
        }
        gone
    }

    /// One flow cookie per sign-in in progress, named after its state, so that sign-ins
    /// started in two tabs do not overwrite each other.
    /// `state` must be [`well_formed_state`].
    fn flow_cookie_name(&self, state: &str) -> String {
        let key: String = state.chars().take(12).collect();
        format!("{}{key}", self.inner.names.flow_prefix)
    }

    pub(crate) async fn callback_get(&self, head: &impl RequestHead) -> Result<Reply, AuthError> {
        let query = head.query().unwrap_or("");
        let params: CallbackParams = serde_urlencoded_like(query)?;
        self.complete(head, params, Answer::Redirect).await
    }

    pub(crate) async fn callback_post(
        &self,
        head: &impl RequestHead,
        body: &[u8],
    ) -> Result<Reply, AuthError> {
        if body.len() > MAX_BODY {
            return Err(AuthError::PayloadTooLarge);
        }
        let ct = head
            .header("content-type")
            .unwrap_or("")
            .to_ascii_lowercase();
        if ct.starts_with("application/json") {
            let params: CallbackParams = serde_json::from_slice(body).map_err(|_| {
                AuthError::InvalidRequest("the JSON body is not a callback object".into())
            })?;
            // A JSON client always gets JSON, with the flow cookie cleared.
            self.complete(head, params, Answer::Json).await
        } else if ct.starts_with("application/x-www-form-urlencoded") {
            let text = std::str::from_utf8(body)
                .map_err(|_| AuthError::InvalidRequest("the form body is not UTF-8".into()))?;
            let params = serde_urlencoded_like(text)?;
            self.complete(head, params, Answer::Redirect).await
        } else {
            Err(AuthError::InvalidRequest(
                "the callback body must be application/x-www-form-urlencoded or application/json"
                    .into(),
            ))
        }
    }

    /// Finishes a sign-in: state, code exchange, ID Token, scopes, session.
    async fn complete(
        &self,
        head: &impl RequestHead,
        p: CallbackParams,
        answer: Answer,
    ) -> Result<Reply, AuthError> {
        let mut clear = Vec::new();
        let json = matches!(answer, Answer::Json);
        let reply = match self.complete_inner(head, p, answer, &mut clear).await {
            Ok(reply) => reply,
            Err(e) => {
                log_failure(head.path(), &e);
                if json && (400..500).contains(&e.status()) {
                    // A forwarded JSON response is answered 200 or 400 (AuthentiqJS's
                    // pattern); the error code says which refusal. Failures of the provider
                    // or the store stay 5xx.
                    e.api_reply().with_status(400)
                } else {
                    e.route_reply(head)
                }
            }
        };
        // Every answer, success or failure, ends this sign-in's flow cookie.
        Ok(clear
            .into_iter()
            .fold(reply, |r, c| r.header(SET_COOKIE, c)))
    }

    async fn complete_inner(
        &self,
        head: &impl RequestHead,
        p: CallbackParams,
        answer: Answer,
        clear: &mut Vec<String>,
    ) -> Result<Reply, AuthError> {
        let cfg = &self.inner.cfg;
        // A state the core cannot have issued names no flow cookie: it is refused before any
        // cookie name is derived from it, so no header ever carries its text.
        let state = match p.state.as_deref() {
            Some(s) if well_formed_state(s) => {
                clear.push(self.remove_cookie(&self.flow_cookie_name(s)));
                Some(s)
            }
            Some("") | None => None,
            Some(_) => return Err(AuthError::StateMismatch),
        };
        if let Some(error) = p.error {
            return Err(AuthError::Provider {
                error: truncate(&error, 64),
                description: p.error_description.map(|d| truncate(&d, 256)),
            });
        }
        let state =
            state.ok_or_else(|| AuthError::InvalidRequest("the callback has no state".into()))?;
        let flow = self.read_flow(head, state)?;
        // A flow completes once. The browser's copy of the flow cookie is removed by every
        // answer, and a completed flow's state is remembered in the session store until the
        // cookie would have expired, so a copy of the cookie replayed with its code is refused
        // here, before the provider is asked again. Only completed sign-ins are remembered,
        // so requests cannot grow that memory without the provider's approval.
        let store = &cfg.session.store;
        let completed = format!("flow-state:{state}");
        if store.jti_seen(&completed).await.map_err(store_failed)? {
            return Err(AuthError::FlowMissing);
        }
        let mut signed_hint = None;
        let (claims, tokens) = match (p.code.as_deref(), p.id_token.as_deref()) {
            (Some(code), browser_token) => {
                // Hybrid: a browser-delivered ID Token must hold an asymmetric signature,
                // the nonce, and c_hash for this code, before the code is even exchanged.
                if let Some(t) = browser_token {
                    self.validate_id_token(
                        t,
                        Channel::Browser,
                        Some(&flow.nonce),
                        Some(("", Some(code))),
                        None,
                    )
                    .await
                    .map_err(|e| AuthError::token(AuthError::InvalidIdToken, e))?;
                }
                let tr = self
                    .inner
                    .provider
                    .exchange_code(cfg, code, flow.verifier.as_deref())
                    .await?;
                let id_token = tr.id_token.clone().ok_or_else(|| {
                    AuthError::InvalidProviderResponse("the token response has no id_token".into())
                })?;
                let valid = self
                    .validate_id_token(
                        &id_token,
                        Channel::TokenEndpoint,
                        Some(&flow.nonce),
                        Some((&tr.access_token, None)),
                        None,
                    )
                    .await
                    .map_err(|e| AuthError::token(AuthError::InvalidIdToken, e))?;
                // An encrypted ID Token goes back to the provider (`id_token_hint`) as the
                // signed token it held (OpenID Connect Core 3.1.2.1).
                let id_token = valid.signed_token().map_or(id_token, str::to_owned);
                (valid.claims(), Some((tr, id_token)))
            }
            (None, Some(t)) => {
                // Implicit (AuthentiqJS forwarding an ID Token): browser channel rules.
                let at = p.access_token.as_deref().map(|a| (a, None));
                let valid = self
                    .validate_id_token(t, Channel::Browser, Some(&flow.nonce), at, None)
                    .await
                    .map_err(|e| AuthError::token(AuthError::InvalidIdToken, e))?;
                signed_hint = valid.signed_token().map(str::to_owned);
                (valid.claims(), None)
            }
            (None, None) => {
                return Err(AuthError::InvalidRequest(
                    "the callback has neither code nor id_token".into(),
                ));
            }
        };
        let sub = claims
            .get("sub")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let mut claims = claims;
        if cfg.fetch_userinfo
            && let Some((tr, _)) = &tokens
        {
            let info = self.inner.provider.userinfo(&tr.access_token, &sub).await?;
            for (k, v) in info {
                claims.entry(k).or_insert(v);
            }
        }
        let reported = claims
            .get("scope")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| tokens.as_ref().and_then(|(tr, _)| tr.scope.clone()));
        let grant = cfg.scopes.check_granted(reported.as_deref(), &claims);
        if !grant.missing_required.is_empty() {
            return Err(AuthError::RequiredScopeDeclined(grant.missing_required));
        }
        let unverified_required = grant.unverified_required(&cfg.scopes);
        if !unverified_required.is_empty() {
            return Err(AuthError::UnverifiedClaim(unverified_required));
        }
        if !grant.declined.is_empty() {
            tracing::info!(declined = %grant.declined.join(" "), "the user declined optional scopes");
        }
        // A signed (`~s`) scope's value that is not verified never reaches the app.
        for name in &grant.unverified {
            tracing::warn!(scope = %name, "withholding an unverified value of a signed scope");
            for claim in crate::scope::Scope::new(name.as_str()).claims() {
                claims.remove(*claim);
            }
        }
        let pushed = grant.granted.iter().any(|s| s == "aq:push")
            || reported
                .as_deref()
                .is_some_and(|r| r.split_whitespace().any(|s| s == "aq:push"));
        claims.insert("scope".into(), Value::String(grant.granted.join(" ")));

        let now = clock::now();
        let session_state = p
            .session_state
            .or_else(|| tokens.as_ref().and_then(|(tr, _)| tr.session_state.clone()));
        let id_token = tokens.map(|(_, t)| t).or(signed_hint).or(p.id_token);
        let data = SessionData {
            // A fresh id at every sign-in: a session id is never carried over or accepted
            // from the client.
            id: random_token(16),
            sub: sub.clone(),
            iss: self.inner.provider.meta.issuer.clone(),
            aud: cfg.client_id.clone(),
            sid: claims.get("sid").and_then(Value::as_str).map(str::to_owned),
            iat: now,
            exp: now + cfg.session.absolute.as_secs(),
            seen: now,
            claims: identity_claims(claims, cfg.session.keep_claims.as_deref()),
            id_token: id_token.filter(|_| cfg.session.keep_id_token),
            session_state,
        };
        let session_cookie = self.session_cookie(&data).await?;
        store
            .record_jti(&completed, flow.created.saturating_add(FLOW_LIFETIME))
            .await
            .map_err(store_failed)?;
        tracing::info!(sub = %sub, "signed in");
        let reply = match answer {
            Answer::Redirect => Reply::redirect(303, flow.return_to.clone()),
            Answer::Json => {
                let mut body = data.claims.clone();
                body.insert("iss".into(), Value::String(data.iss.clone()));
                body.insert("sub".into(), Value::String(data.sub.clone()));
                Reply::json(200, &Value::Object(body))
            }
        };
        let reply = reply
            .header(SET_COOKIE, session_cookie)
            .header(CACHE_CONTROL, "no-store")
            .header(VARY, "Cookie");
        // One-click: a sign-in that granted `aq:push` remembers this browser; one that did not
        // forgets it.
        let device = if pushed {
            let text = |k: &str| data.claims.get(k).and_then(Value::as_str);
            let name = text("name")
                .or_else(|| text("preferred_username"))
                .or_else(|| text("email"));
            self.device_cookie(&data.sub, name)
        } else {
            head.cookie(&self.inner.names.device)
                .map(|_| self.remove_cookie(&self.inner.names.device))
        };
        Ok(match device {
            Some(c) => reply.header(SET_COOKIE, c),
            None => reply,
        })
    }

    fn read_flow(&self, head: &impl RequestHead, state: &str) -> Result<Flow, AuthError> {
        let name = self.flow_cookie_name(state);
        let Some(value) = head.cookie(&name) else {
            // Another sign-in's cookie present means the state is wrong; none means the flow
            // expired or was started in another browser.
            return Err(
                if !head
                    .cookies()
                    .any(|(n, _)| n.starts_with(&self.inner.names.flow_prefix))
                {
                    AuthError::FlowMissing
                } else {
                    AuthError::StateMismatch
                },
            );
        };
        let flow: Flow = self
            .inner
            .flow_cipher
            .open(&name, value)
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(AuthError::FlowMissing)?;
        if clock::now() > flow.created + FLOW_LIFETIME {
            return Err(AuthError::FlowMissing);
        }
        if !ct_eq(flow.state.as_bytes(), state.as_bytes()) {
            return Err(AuthError::StateMismatch);
        }
        Ok(flow)
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).filter(|c| !c.is_control()).collect()
}

/// Parses `application/x-www-form-urlencoded` text into the callback parameters; a repeated
/// parameter is an error (RFC 6749 3.1).
fn serde_urlencoded_like(text: &str) -> Result<CallbackParams, AuthError> {
    let mut map = Map::new();
    for (k, v) in url::form_urlencoded::parse(text.as_bytes()) {
        if map
            .insert(k.clone().into_owned(), Value::String(v.into_owned()))
            .is_some()
        {
            return Err(AuthError::InvalidRequest(format!(
                "parameter `{k}` is repeated"
            )));
        }
    }
    serde_json::from_value(Value::Object(map))
        .map_err(|_| AuthError::InvalidRequest("bad callback parameters".into()))
}
