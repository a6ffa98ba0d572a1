//! The auth routes: one table, owned here, that configuration checks, dispatch,
//! [`is_auth_route`](crate::adapter::is_auth_route) and every adapter's `routes()` read; and the
//! handlers of the routes that are not part of the sign-in flow (logout, forget, back-channel
//! logout). Every answer is a [`Reply`].

use http::header::{CACHE_CONTROL, SET_COOKIE, WWW_AUTHENTICATE};

use crate::Authentiq;
use crate::adapter::RequestHead;
use crate::clock;
use crate::config::RoutePaths;
use crate::crypto::random_token;
use crate::error::{AuthError, TokenError};
use crate::http::Reply;
use crate::session::{Revocation, SessionState};

/// The largest request body the auth routes read; adapters read at most this much and pass
/// `None` to [`respond`](crate::adapter::respond) beyond it, which answers 413.
pub const MAX_BODY: usize = 64 * 1024;

/// One of the auth routes the core answers. Their paths come from [`RoutePaths`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthRoute {
    /// Starts a sign-in (`GET`, `HEAD`).
    Login,
    /// The redirect URI (`GET` for the query response, `POST` for forms and AuthentiqJS).
    Callback,
    /// Ends the local session (`POST`).
    Logout,
    /// Forgets the remembered device (`POST`).
    Forget,
    /// OpenID Back-Channel Logout (`POST`).
    BackchannelLogout,
    /// The public halves of the client keys as a JWKS (`GET`, `HEAD`): the client's
    /// `jwks_uri`. 404 when no client keys are set.
    Jwks,
    /// A new sign-in's authorization parameters as JSON (`GET`, `HEAD`), with its flow cookie:
    /// how a page that runs AuthentiqJS starts a sign-in whose response it forwards to the
    /// callback.
    Start,
}

impl AuthRoute {
    /// Every auth route, in the order adapters mount them.
    pub const ALL: [AuthRoute; 7] = [
        Self::Login,
        Self::Callback,
        Self::Logout,
        Self::Forget,
        Self::BackchannelLogout,
        Self::Jwks,
        Self::Start,
    ];

    /// The methods the route answers; any other gets 405 with `Allow`.
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Self::Login | Self::Jwks | Self::Start => &["GET", "HEAD"],
            Self::Callback => &["GET", "POST"],
            Self::Logout | Self::Forget | Self::BackchannelLogout => &["POST"],
        }
    }

    /// The `Allow` header value for a 405.
    fn allow(self) -> &'static str {
        match self {
            Self::Login | Self::Jwks | Self::Start => "GET, HEAD",
            Self::Callback => "GET, POST",
            Self::Logout | Self::Forget | Self::BackchannelLogout => "POST",
        }
    }

    /// The setting's name, for configuration errors.
    pub(crate) fn setting(self) -> &'static str {
        match self {
            Self::Login => "login route",
            Self::Callback => "callback route",
            Self::Logout => "logout route",
            Self::Forget => "forget route",
            Self::BackchannelLogout => "back-channel logout route",
            Self::Jwks => "client JWKS route",
            Self::Start => "start route",
        }
    }

    /// The route's path in `paths`.
    pub fn path(self, paths: &RoutePaths) -> &str {
        match self {
            Self::Login => &paths.login,
            Self::Callback => &paths.callback,
            Self::Logout => &paths.logout,
            Self::Forget => &paths.forget,
            Self::BackchannelLogout => &paths.backchannel_logout,
            Self::Jwks => &paths.jwks,
            Self::Start => &paths.start,
        }
    }

    /// The auth route at `path`, if any.
    pub fn at(paths: &RoutePaths, path: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.path(paths) == path)
    }
}

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

/// How a new sign-in is handed to the browser.
#[derive(Clone, Copy)]
enum Begin {
    /// `GET /auth/login`: a 303 to the authorization endpoint.
    Redirect,
    /// `GET /auth/start`: the authorization request as JSON, for a page to send itself.
    Json,
}

/// The body of `GET /auth/start`: every authorization request parameter (`client_id`,
/// `redirect_uri`, `scope`, `state`, `nonce`, `response_type`, the PKCE challenge, ...) as a
/// string member, plus `authorization_endpoint` (the URL without them) and `authorize_url`
/// (the whole request, ready for a redirect or a popup).
fn start_json(authorize_url: &str) -> serde_json::Value {
    let mut object = serde_json::Map::new();
    if let Ok(url) = url::Url::parse(authorize_url) {
        for (name, value) in url.query_pairs() {
            object.insert(name.into_owned(), value.into_owned().into());
        }
        let mut endpoint = url.clone();
        endpoint.set_query(None);
        object.insert("authorization_endpoint".into(), endpoint.as_str().into());
    }
    object.insert("authorize_url".into(), authorize_url.into());
    serde_json::Value::Object(object)
}

impl Authentiq {
    /// The whole answer of an auth route: `body` is the request body, or `None` when it was
    /// over [`MAX_BODY`] or could not be read (413); a path that is not an auth route gets 404.
    pub(crate) async fn respond(&self, head: &impl RequestHead, body: Option<&[u8]>) -> Reply {
        let path = head.path();
        let Some(route) = AuthRoute::at(&self.config().routes, path) else {
            return Reply::new(404);
        };
        if route == AuthRoute::Jwks && self.config().client_keys.is_none() {
            // Without client keys there is nothing to publish: the route does not exist.
            return Reply::new(404);
        }
        let method = head.method();
        if !route.methods().contains(&method) {
            let e = AuthError::MethodNotAllowed(route.allow());
            log_failure(path, &e);
            return if route == AuthRoute::BackchannelLogout {
                e.api_reply()
            } else {
                e.route_reply(head)
            };
        }
        let Some(body) = body else {
            let e = AuthError::PayloadTooLarge;
            log_failure(path, &e);
            return e.route_reply(head);
        };
        let reply = match route {
            AuthRoute::Login => self.login(head, Begin::Redirect),
            AuthRoute::Start => self.login(head, Begin::Json),
            AuthRoute::Callback if method == "GET" => self.callback_get(head).await,
            AuthRoute::Callback => self.callback_post(head, body).await,
            AuthRoute::Logout => self.logout(head).await,
            AuthRoute::Forget => self.forget(head),
            AuthRoute::BackchannelLogout => return self.backchannel_logout(body).await,
            AuthRoute::Jwks => Ok(self.client_jwks_reply()),
        };
        reply.unwrap_or_else(|e| {
            log_failure(path, &e);
            e.route_reply(head)
        })
    }

    fn login(&self, head: &impl RequestHead, begin: Begin) -> Result<Reply, AuthError> {
        let return_to = head.query_param("return_to");
        // "Continue as": the remembered device names the user (never the link), and the
        // sign-in asks for a push to their phone.
        let device = head
            .query_param("remembered")
            .map(|_| self.check_device(head))
            .unwrap_or_default();
        let remembered = device.device;
        let hint = match &remembered {
            Some(d) => Some(std::borrow::Cow::Borrowed(d.subject.as_str())),
            None => head.query_param("login_hint"),
        };
        let extra: Vec<(&str, &str)> = hint
            .as_deref()
            .map(|h| ("login_hint", h))
            .into_iter()
            .collect();
        let (url, cookie) =
            self.start_login_with(return_to.as_deref(), &extra, remembered.is_some());
        // A few pending sign-ins at most: older flow cookies go, so that the browser's
        // `Cookie` header never outgrows what proxies accept.
        let answer = match begin {
            Begin::Redirect => Reply::redirect(303, url),
            Begin::Json => Reply::json(200, &start_json(&url)),
        };
        let reply = self
            .evict_flow_cookies(head, &cookie)
            .into_iter()
            .fold(answer, |r, gone| r.header(SET_COOKIE, gone));
        let reply = match device.set_cookie {
            Some(gone) => reply.header(SET_COOKIE, gone),
            None => reply,
        };
        Ok(reply
            .header(SET_COOKIE, cookie)
            .header(CACHE_CONTROL, "no-store"))
    }

    /// `GET /auth/jwks`: the public halves of the client keys, cacheable for five minutes so
    /// that a provider sees a new key soon after a rotation.
    fn client_jwks_reply(&self) -> Reply {
        let jwks = self
            .client_jwks()
            .unwrap_or_else(|| serde_json::json!({ "keys": [] }));
        Reply::json(200, &jwks).header(CACHE_CONTROL, "public, max-age=300")
    }

    /// The public halves of the client keys as a JWKS (what `GET /auth/jwks` serves and
    /// what to register with the provider), or `None` without client keys.
    pub fn client_jwks(&self) -> Option<serde_json::Value> {
        self.config().client_keys.as_ref().map(|k| k.public_jwks())
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
        if let SessionState::Failed(e) = &check.state {
            // The session could not be read, so it cannot be ended: saying "signed out" now
            // would leave every copy of the cookie valid.
            return Err(AuthError::Store(e.clone()));
        }
        let store = &self.inner.cfg.session.store;
        let mut location = "/".to_owned();
        if let Some(d) = check.session() {
            let store_failed = |e: crate::session::StoreError| AuthError::Store(e.0);
            store
                .revoke(Revocation::Session {
                    id: d.id.clone(),
                    until: d.exp,
                })
                .await
                .map_err(store_failed)?;
            // The ID Token goes to the provider as `id_token_hint`: from now on it opens no
            // route as a bearer token either.
            if let Some(sid) = &d.sid {
                let now = clock::now();
                store
                    .revoke(Revocation::Sid {
                        sid: sid.clone(),
                        before: now,
                        until: now.saturating_add(self.config().session.absolute.as_secs()),
                    })
                    .await
                    .map_err(store_failed)?;
            }
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
            .header(SET_COOKIE, self.remove_cookie(&self.inner.names.session))
            .header(CACHE_CONTROL, "no-store"))
    }

    fn forget(&self, head: &impl RequestHead) -> Result<Reply, AuthError> {
        self.same_origin(head)?;
        Ok(Reply::redirect(303, "/")
            .header(SET_COOKIE, self.remove_cookie(&self.inner.names.device))
            .header(CACHE_CONTROL, "no-store"))
    }

    /// OpenID Connect Back-Channel Logout 1.0: validates the `logout_token` and revokes the
    /// sessions it names. 200 on success, 400 otherwise, always `Cache-Control: no-store`.
    async fn backchannel_logout(&self, body: &[u8]) -> Reply {
        let result = self.logout_token(body).await;
        let reply = match result {
            Ok(()) => Reply::new(200),
            Err(e) => {
                tracing::warn!(code = e.code(), "back-channel logout refused: {e}");
                let r = e.api_reply();
                if e.status() == 401 {
                    r.with_status(400).without(&WWW_AUTHENTICATE)
                } else {
                    r
                }
            }
        };
        // Every answer says `no-store` once (a refusal's own reply already does).
        reply
            .without(&CACHE_CONTROL)
            .header(CACHE_CONTROL, "no-store")
    }

    async fn logout_token(&self, body: &[u8]) -> Result<(), AuthError> {
        if body.len() > MAX_BODY {
            return Err(AuthError::PayloadTooLarge);
        }
        let token = url::form_urlencoded::parse(body)
            .find(|(k, _)| k == "logout_token")
            .map(|(_, v)| v.into_owned())
            .ok_or_else(|| AuthError::InvalidRequest("the body has no logout_token".into()))?;
        let logout = self
            .validate_logout_token(&token)
            .await
            .map_err(|e| AuthError::token(AuthError::InvalidToken, e))?;
        let store = &self.inner.cfg.session.store;
        let store_failed = |e: crate::session::StoreError| AuthError::Store(e.0);
        if store.jti_seen(&logout.jti).await.map_err(store_failed)? {
            return Err(AuthError::InvalidToken(TokenError::Replayed));
        }
        // Marks outlive every session that began before the token: sessions end at most
        // their absolute lifetime after they began.
        let until = logout
            .iat
            .max(clock::now())
            .saturating_add(self.config().session.absolute.as_secs());
        let revoke = match (logout.sid, logout.sub) {
            (Some(sid), _) => Revocation::Sid {
                sid,
                before: logout.iat,
                until,
            },
            (None, Some(sub)) => Revocation::Sub {
                sub,
                before: logout.iat,
                until,
            },
            (None, None) => return Err(AuthError::InvalidToken(TokenError::NoSubject)),
        };
        tracing::info!(?revoke, "back-channel logout");
        store.revoke(revoke).await.map_err(store_failed)?;
        // Recorded only now: when the store failed above, the provider's retry is not refused
        // as a replay.
        store
            .record_jti(&logout.jti, logout.keep_until)
            .await
            .map_err(store_failed)
    }
}

pub(crate) fn log_failure(path: &str, e: &AuthError) {
    if e.status() >= 500 {
        tracing::error!(path, code = e.code(), "auth route failed: {e}");
    } else {
        tracing::warn!(path, code = e.code(), "auth route refused: {e}");
    }
}
