//! The auth routes as one framework-neutral handler: login, callback (GET and POST), logout,
//! forget, back-channel logout. Every answer is a [`Reply`].

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::crypto::{b64url, ct_eq, random_token, sha256};
use crate::error::{AuthError, TokenError};
use crate::http::{Reply, RequestHead};
use crate::jose::{self, Channel, Jws};
use crate::session::{Revocation, SessionData};
use crate::{Authentiq, identity_claims};

/// How long a sign-in may take between the redirect to the provider and the callback.
const FLOW_LIFETIME: u64 = 600;
/// The largest request body the auth routes read; adapters read at most this much and answer
/// [`AuthError::PayloadTooLarge`] beyond it.
pub const MAX_BODY: usize = 64 * 1024;
/// Back-channel logout tokens without `exp` are accepted this long after `iat`.
const LOGOUT_TOKEN_MAX_AGE: u64 = 300;
const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Returns `candidate` if it is a local path (one leading `/`, no backslash, no control
/// character, at most 2 KB), else `/`. Stops open redirects through `return_to`.
///
/// ```
/// use authentiq_core::safe_return_to;
/// assert_eq!(safe_return_to(Some("/me?tab=1")), "/me?tab=1");
/// assert_eq!(safe_return_to(Some("https://evil.example")), "/");
/// assert_eq!(safe_return_to(Some("//evil.example")), "/");
/// assert_eq!(safe_return_to(Some("/\\evil.example")), "/");
/// ```
pub fn safe_return_to(candidate: Option<&str>) -> String {
    match candidate {
        Some(p)
            if p.starts_with('/')
                && !p.starts_with("//")
                && !p.contains('\\')
                && !p.chars().any(char::is_control)
                && p.len() <= 2048 =>
        {
            p.to_owned()
        }
        _ => "/".to_owned(),
    }
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

impl Authentiq {
    /// Answers the auth routes (login, callback, logout, forget, back-channel logout) and
    /// returns `None` for every other path, which the app handles. `body` is the request body
    /// (empty for GET); adapters read at most 64 KiB of it.
    pub async fn handle(&self, head: &impl RequestHead, body: &[u8]) -> Option<Reply> {
        let routes = &self.inner.cfg.routes;
        let path = head.path();
        let method = head.method();
        let reply = if path == routes.login {
            match method {
                "GET" | "HEAD" => self.login(head),
                _ => Err(AuthError::MethodNotAllowed("GET, HEAD")),
            }
        } else if path == routes.callback {
            match method {
                "GET" => self.callback_get(head).await,
                "POST" => self.callback_post(head, body).await,
                _ => Err(AuthError::MethodNotAllowed("GET, POST")),
            }
        } else if path == routes.logout {
            match method {
                "POST" => self.logout(head).await,
                _ => Err(AuthError::MethodNotAllowed("POST")),
            }
        } else if path == routes.forget {
            match method {
                "POST" => self.forget(head),
                _ => Err(AuthError::MethodNotAllowed("POST")),
            }
        } else if path == routes.backchannel_logout {
            return Some(match method {
                "POST" => self.backchannel_logout(body).await,
                _ => AuthError::MethodNotAllowed("POST").api_reply(),
            });
        } else {
            return None;
        };
        Some(reply.unwrap_or_else(|e| {
            log_failure(path, &e);
            e.route_reply(head)
        }))
    }

    /// The whole answer of an auth route for adapters: `body` is the request body, or `None`
    /// when it was over [`MAX_BODY`] or could not be read (413); a path that is not an auth
    /// route gets 404.
    pub async fn respond(&self, head: &impl RequestHead, body: Option<&[u8]>) -> Reply {
        match body {
            None => AuthError::PayloadTooLarge.route_reply(head),
            Some(body) => self
                .handle(head, body)
                .await
                .unwrap_or_else(|| Reply::new(404)),
        }
    }

    /// Whether `path` is one of the auth routes [`handle`](Self::handle) answers.
    pub fn is_auth_route(&self, path: &str) -> bool {
        let r = &self.inner.cfg.routes;
        [
            &r.login,
            &r.callback,
            &r.logout,
            &r.forget,
            &r.backchannel_logout,
        ]
        .iter()
        .any(|p| p.as_str() == path)
    }

    /// The authorization URL and the flow cookie for a new sign-in that returns to
    /// `return_to` (sanitised with [`safe_return_to`]).
    pub fn start_login(&self, return_to: Option<&str>, extra: &[(&str, &str)]) -> (String, String) {
        let cfg = &self.inner.cfg;
        let state = random_token(32);
        let nonce = random_token(32);
        let verifier = cfg.pkce.then(|| random_token(32));
        let mut url = self.inner.provider.authorize_url.clone();
        {
            let mut q = url.query_pairs_mut();
            let redirect_uri = cfg.redirect_uri();
            let scope = cfg.scopes.to_string();
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
                ("prompt", &cfg.prompt),
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
            created: jose::now(),
        };
        let name = self.flow_cookie_name(&state);
        let sealed = self
            .inner
            .flow_cipher
            .seal(&name, &serde_json::to_vec(&flow).unwrap_or_default());
        (url.into(), self.cookie(&name, &sealed, FLOW_LIFETIME))
    }

    /// One flow cookie per sign-in in progress, named after its state, so that sign-ins
    /// started in two tabs do not overwrite each other.
    fn flow_cookie_name(&self, state: &str) -> String {
        let key: String = state.chars().take(12).collect();
        format!("{}{key}", self.inner.names.flow_prefix)
    }

    fn login(&self, head: &impl RequestHead) -> Result<Reply, AuthError> {
        let return_to = head.query_param("return_to");
        let hint = head.query_param("login_hint");
        let extra: Vec<(&str, &str)> = hint
            .as_deref()
            .map(|h| ("login_hint", h))
            .into_iter()
            .collect();
        let (url, cookie) = self.start_login(return_to.as_deref(), &extra);
        Ok(Reply::redirect(303, url)
            .header("set-cookie", cookie)
            .header("cache-control", "no-store"))
    }

    async fn callback_get(&self, head: &impl RequestHead) -> Result<Reply, AuthError> {
        let query = head.query().unwrap_or("");
        let params: CallbackParams = serde_urlencoded_like(query)?;
        self.complete(head, params, Answer::Redirect).await
    }

    async fn callback_post(
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
            match self.complete(head, params, Answer::Json).await {
                Ok(r) => Ok(r),
                // A JSON client always gets JSON, with the flow cookie cleared.
                Err(e) => Err(e),
            }
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
        let reply = match self.complete_inner(head, p, answer, &mut clear).await {
            Ok(reply) => reply,
            Err(e) => {
                log_failure(head.path(), &e);
                e.route_reply(head)
            }
        };
        // Every answer, success or failure, ends this sign-in's flow cookie.
        Ok(clear
            .into_iter()
            .fold(reply, |r, c| r.header("set-cookie", c)))
    }

    async fn complete_inner(
        &self,
        head: &impl RequestHead,
        p: CallbackParams,
        answer: Answer,
        clear: &mut Vec<String>,
    ) -> Result<Reply, AuthError> {
        let cfg = &self.inner.cfg;
        let state = p.state.as_deref().filter(|s| !s.is_empty());
        if let Some(s) = state
            && s.len() <= 512
        {
            clear.push(self.remove_cookie(&self.flow_cookie_name(s)));
        }
        if let Some(error) = p.error {
            return Err(AuthError::Provider {
                error: truncate(&error, 64),
                description: p.error_description.map(|d| truncate(&d, 256)),
            });
        }
        let state =
            state.ok_or_else(|| AuthError::InvalidRequest("the callback has no state".into()))?;
        let flow = self.read_flow(head, state)?;
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
                    .map_err(AuthError::InvalidIdToken)?;
                }
                let tr = self
                    .inner
                    .provider
                    .exchange_code(cfg, code, flow.verifier.as_deref())
                    .await?;
                let id_token = tr.id_token.clone().ok_or_else(|| {
                    AuthError::InvalidProviderResponse("the token response has no id_token".into())
                })?;
                let claims = self
                    .validate_id_token(
                        &id_token,
                        Channel::TokenEndpoint,
                        Some(&flow.nonce),
                        Some((&tr.access_token, None)),
                        None,
                    )
                    .await
                    .map_err(AuthError::InvalidIdToken)?
                    .claims();
                (claims, Some((tr, id_token)))
            }
            (None, Some(t)) => {
                // Implicit (AuthentiqJS forwarding an ID Token): browser channel rules.
                let at = p.access_token.as_deref().map(|a| (a, None));
                let claims = self
                    .validate_id_token(t, Channel::Browser, Some(&flow.nonce), at, None)
                    .await
                    .map_err(AuthError::InvalidIdToken)?
                    .claims();
                (claims, None)
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
        if !grant.declined.is_empty() {
            tracing::info!(declined = %grant.declined.join(" "), "the user declined optional scopes");
        }
        claims.insert("scope".into(), Value::String(grant.granted.join(" ")));

        let now = jose::now();
        let session_state = p
            .session_state
            .or_else(|| tokens.as_ref().and_then(|(tr, _)| tr.session_state.clone()));
        let id_token = tokens.map(|(_, t)| t).or(p.id_token);
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
        Ok(reply
            .header("set-cookie", session_cookie)
            .header("cache-control", "no-store"))
    }

    fn read_flow(&self, head: &impl RequestHead, state: &str) -> Result<Flow, AuthError> {
        let name = self.flow_cookie_name(state);
        let Some(value) = head.cookie(&name) else {
            // Another sign-in's cookie present means the state is wrong; none means the flow
            // expired or was started in another browser.
            return Err(
                if head
                    .cookies_with_prefix(&self.inner.names.flow_prefix)
                    .is_empty()
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
            .open(&name, &value)
            .and_then(|p| serde_json::from_slice(&p).ok())
            .ok_or(AuthError::FlowMissing)?;
        if jose::now() > flow.created + FLOW_LIFETIME {
            return Err(AuthError::FlowMissing);
        }
        if !ct_eq(flow.state.as_bytes(), state.as_bytes()) {
            return Err(AuthError::StateMismatch);
        }
        Ok(flow)
    }

    /// Refuses state-changing requests from other origins (login CSRF, logout CSRF).
    fn same_origin(&self, head: &impl RequestHead) -> Result<(), AuthError> {
        if let Some(origin) = head.header("origin") {
            if origin != self.inner.cfg.origin() {
                return Err(AuthError::CrossOrigin);
            }
        } else if head
            .header("sec-fetch-site")
            .is_some_and(|s| s.eq_ignore_ascii_case("cross-site"))
        {
            return Err(AuthError::CrossOrigin);
        }
        Ok(())
    }

    async fn logout(&self, head: &impl RequestHead) -> Result<Reply, AuthError> {
        self.same_origin(head)?;
        let check = self.check_session(head).await;
        let store = &self.inner.cfg.session.store;
        let mut location = "/".to_owned();
        if let Some(d) = check.session() {
            store
                .revoke(Revocation::Session {
                    id: d.id.clone(),
                    until: d.exp,
                })
                .await
                .map_err(|e| AuthError::Store(e.0))?;
            tracing::info!(sub = %d.sub, "signed out");
            if let (Some(end), Some(hint)) =
                (&self.inner.provider.meta.end_session_endpoint, &d.id_token)
                && let Ok(mut url) = url::Url::parse(end)
            {
                let back = self
                    .inner
                    .cfg
                    .post_logout_redirect_uri
                    .clone()
                    .unwrap_or_else(|| {
                        format!(
                            "{}/",
                            self.inner.cfg.public_url.as_str().trim_end_matches('/')
                        )
                    });
                url.query_pairs_mut()
                    .append_pair("id_token_hint", hint)
                    .append_pair("post_logout_redirect_uri", &back)
                    .append_pair("state", &random_token(16))
                    .append_pair("client_id", &self.inner.cfg.client_id);
                location = url.into();
            }
        }
        Ok(Reply::redirect(303, location)
            .header("set-cookie", self.remove_cookie(&self.inner.names.session))
            .header("cache-control", "no-store"))
    }

    fn forget(&self, head: &impl RequestHead) -> Result<Reply, AuthError> {
        self.same_origin(head)?;
        Ok(Reply::redirect(303, "/")
            .header("set-cookie", self.remove_cookie(&self.device_cookie_name()))
            .header("cache-control", "no-store"))
    }

    pub(crate) fn device_cookie_name(&self) -> String {
        let prefix = if self.inner.cfg.secure_cookies() {
            "__Host-"
        } else {
            ""
        };
        format!("{prefix}authentiq_device")
    }

    /// OpenID Connect Back-Channel Logout 1.0: validates the `logout_token` and revokes the
    /// sessions it names. 200 on success, 400 otherwise, always `Cache-Control: no-store`.
    async fn backchannel_logout(&self, body: &[u8]) -> Reply {
        let result = self.logout_token(body).await;
        let reply = match result {
            Ok(()) => Reply::new(200),
            Err(e) => {
                tracing::warn!(code = e.code(), "back-channel logout refused: {e}");
                let mut r = e.api_reply();
                if e.status() == 401 {
                    r.status = 400;
                    r.headers.retain(|(n, _)| *n != "www-authenticate");
                }
                r
            }
        };
        reply.header("cache-control", "no-store")
    }

    async fn logout_token(&self, body: &[u8]) -> Result<(), AuthError> {
        if body.len() > MAX_BODY {
            return Err(AuthError::PayloadTooLarge);
        }
        let token = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| AuthError::InvalidRequest("the body has no logout_token".into()))?;
        let claims = self
            .validate_logout_token(&token)
            .await
            .map_err(AuthError::InvalidToken)?;
        let now = jose::now();
        let until = now + self.inner.cfg.session.absolute.as_secs();
        let store = &self.inner.cfg.session.store;
        let revoke = match (
            claims.get("sid").and_then(Value::as_str),
            claims.get("sub").and_then(Value::as_str),
        ) {
            (Some(sid), _) => Revocation::Sid {
                sid: sid.to_owned(),
                until,
            },
            (None, Some(sub)) => Revocation::Sub {
                sub: sub.to_owned(),
                before: now,
                until,
            },
            (None, None) => return Err(AuthError::InvalidToken(TokenError::NoSubject)),
        };
        tracing::info!(?revoke, "back-channel logout");
        store
            .revoke(revoke)
            .await
            .map_err(|e| AuthError::Store(e.0))
    }

    /// Validates a back-channel logout token: signature (HS256 with the client secret or the
    /// JWKS), `iss`, `aud`, `iat` (and `exp` when present, else an age bound), `jti` (once),
    /// the logout event, `sub` and/or `sid`, and no `nonce`.
    pub async fn validate_logout_token(
        &self,
        token: &str,
    ) -> Result<Map<String, Value>, TokenError> {
        let cfg = &self.inner.cfg;
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
        let registered = jose::Registered::parse(jws.payload_bytes())?;
        jose::check_issuer(&registered, &self.inner.provider.meta.issuer)?;
        jose::check_audience(&registered, &cfg.client_id, &cfg.trusted_audiences)?;
        let now = jose::now();
        let leeway = cfg.leeway.as_secs();
        let exp = jose::optional_exp(&registered)?;
        let max_age = if exp.is_none() {
            Some(LOGOUT_TOKEN_MAX_AGE)
        } else {
            None
        };
        jose::check_times(&registered, exp, now, leeway, max_age)?;
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
        let keep_until = exp.unwrap_or(now + LOGOUT_TOKEN_MAX_AGE) + leeway;
        let mut seen = self.inner.replay.lock().unwrap_or_else(|p| p.into_inner());
        seen.retain(|_, until| *until > now);
        if seen.insert(jti.to_owned(), keep_until).is_some() {
            return Err(TokenError::Replayed);
        }
        Ok(claims)
    }
}

fn truncate(s: &str, n: usize) -> String {
    s.chars().take(n).filter(|c| !c.is_control()).collect()
}

fn log_failure(path: &str, e: &AuthError) {
    if e.status() >= 500 {
        tracing::error!(path, code = e.code(), "auth route failed: {e}");
    } else {
        tracing::warn!(path, code = e.code(), "auth route refused: {e}");
    }
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
