#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::future::{Future, Ready, ready};
use std::ops::Deref;
use std::pin::Pin;

use actix_web::body::BoxBody;
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web::{self, ServiceConfig};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse, ResponseError};
use authentiq_core::adapter::{self, MAX_BODY, Rejection, Reply, RequestHead, SessionCache};
use authentiq_core::{AuthError, Authentiq, Claims, Identity, RememberedDevice};
use serde::de::DeserializeOwned;

pub use authentiq_core;

type LocalFuture<T> = Pin<Box<dyn Future<Output = T>>>;

/// The core's view of an actix-web request (actix-web uses `http` 0.2, so the core's `http`
/// 1.x implementations do not apply).
struct Head<'a>(&'a HttpRequest);

impl RequestHead for Head<'_> {
    fn method(&self) -> &str {
        self.0.method().as_str()
    }
    fn path(&self) -> &str {
        self.0.uri().path()
    }
    fn query(&self) -> Option<&str> {
        self.0.uri().query()
    }
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
        self.0
            .headers()
            .get_all(name)
            .filter_map(|v| v.to_str().ok())
    }
}

/// What the middleware leaves in each request's extensions for the extractors.
#[derive(Clone)]
struct AuthContext {
    auth: Authentiq,
    session: SessionCache,
}

/// Converts a core [`Reply`] into an actix-web response: status, every header in order
/// (repeated `Set-Cookie` included) and the body, unchanged.
pub fn into_response(reply: Reply) -> HttpResponse {
    let (status, headers, body) = reply.into_parts();
    let mut res = HttpResponse::with_body(status_code(status), body);
    for (name, value) in headers {
        match (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value),
        ) {
            (Ok(n), Ok(v)) => res.headers_mut().append(n, v),
            _ => tracing::warn!(header = %name, "dropping a header value that is not valid"),
        }
    }
    res.map_into_boxed_body()
}

/// actix-web's status for the core's, which is always a valid code (so the fallback, which
/// `http` 0.2's fallible constructor needs, is never taken).
fn status_code(status: u16) -> StatusCode {
    StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

/// The middleware that makes [`Authenticated`], [`MaybeAuthenticated`] and [`Bearer`] work on
/// the app or scope it wraps. It reads the session cookie only when a guard asks (at most once
/// per request), and adds the session's refreshed or removed cookie to the response.
///
/// ```no_run
/// # fn run(auth: authentiq_core::Authentiq) {
/// use actix_web::{web, App};
/// use authentiq_actix::{AuthMiddleware, Authenticated};
///
/// async fn me(user: Authenticated) -> String {
///     format!("hello {}", user.claims.display_name())
/// }
///
/// let app = App::new()
///     .route("/me", web::get().to(me))
///     .configure(authentiq_actix::routes(&auth))
///     .wrap(AuthMiddleware::new(auth));
/// # }
/// ```
#[derive(Clone)]
pub struct AuthMiddleware {
    auth: Authentiq,
}

impl AuthMiddleware {
    /// A middleware for `auth`.
    pub fn new(auth: Authentiq) -> Self {
        Self { auth }
    }
}

impl<S, B> Transform<S, ServiceRequest> for AuthMiddleware
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = AuthService<S>;
    type InitError = ();
    type Future = Ready<Result<AuthService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthService {
            service,
            auth: self.auth.clone(),
        }))
    }
}

/// The service [`AuthMiddleware`] produces.
pub struct AuthService<S> {
    service: S,
    auth: Authentiq,
}

impl<S, B> Service<ServiceRequest> for AuthService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error>,
    S::Future: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = LocalFuture<Result<ServiceResponse<B>, actix_web::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let session = SessionCache::new();
        req.extensions_mut().insert(AuthContext {
            auth: self.auth.clone(),
            session: session.clone(),
        });
        let fut = self.service.call(req);
        Box::pin(async move {
            let mut res = fut.await?;
            if session.set_cookies().next().is_some() {
                let headers = res.headers_mut();
                let current = |name: &str| {
                    headers
                        .get_all(name)
                        .filter_map(|v| v.to_str().ok())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let (cache_control, vary) = (current("cache-control"), current("vary"));
                for (name, value) in session.response_headers(&cache_control, &vary) {
                    if let (Ok(n), Ok(v)) = (
                        HeaderName::try_from(name.as_str()),
                        HeaderValue::from_str(&value),
                    ) {
                        // `Set-Cookie` is appended; the caching headers replace what was there.
                        if n == actix_web::http::header::SET_COOKIE {
                            headers.append(n, v);
                        } else {
                            headers.insert(n, v);
                        }
                    }
                }
            }
            Ok(res)
        })
    }
}

/// The auth routes of the example contract (login, callback, logout, forget, back-channel
/// logout), at the paths in the configuration. Pass it to [`App::configure`] (or
/// `Scope::configure`) inside [`AuthMiddleware`].
///
/// [`App::configure`]: actix_web::App::configure
pub fn routes(auth: &Authentiq) -> impl Fn(&mut ServiceConfig) + Clone + Send + Sync + 'static {
    let auth = auth.clone();
    move |cfg: &mut ServiceConfig| {
        for (path, _) in adapter::auth_routes(&auth) {
            let auth = auth.clone();
            cfg.route(
                path,
                web::route().to(move |req: HttpRequest, body: web::Payload| {
                    handle(auth.clone(), req, body)
                }),
            );
        }
    }
}

async fn handle(auth: Authentiq, req: HttpRequest, body: web::Payload) -> HttpResponse {
    let body = body
        .to_bytes_limited(MAX_BODY)
        .await
        .ok()
        .and_then(Result::ok);
    into_response(adapter::respond(&auth, &Head(&req), body.as_deref()).await)
}

/// Why a guard refused the request. As a [`ResponseError`] it renders the core's negotiated
/// answer unchanged (a redirect to sign in for browsers, 401 JSON with `WWW-Authenticate` for
/// APIs). To answer differently, take `Result<Authenticated, AuthRejection>` in your handler
/// and inspect [`error`](Self::error).
#[derive(Debug)]
pub struct AuthRejection(Rejection);

impl AuthRejection {
    /// The reason.
    pub fn error(&self) -> &AuthError {
        &self.0.error
    }
    /// The reply the SDK would send.
    pub fn reply(&self) -> &Reply {
        &self.0.reply
    }
}

impl From<Rejection> for AuthRejection {
    fn from(r: Rejection) -> Self {
        Self(r)
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl ResponseError for AuthRejection {
    fn status_code(&self) -> StatusCode {
        status_code(self.0.reply.status())
    }
    fn error_response(&self) -> HttpResponse<BoxBody> {
        into_response(self.0.reply.clone())
    }
}

/// The per-request context the middleware installed, or the "not configured" refusal.
fn context(req: &HttpRequest) -> Result<AuthContext, AuthRejection> {
    let ctx = req.extensions().get::<AuthContext>().cloned();
    ctx.ok_or_else(|| Rejection::not_configured().into())
}

/// A signed-in user, from the session cookie or a bearer ID Token; refuses the request
/// otherwise. `C` is any claims type (default [`Claims`]).
#[derive(Clone, Debug)]
pub struct Authenticated<C = Claims>(pub Identity<C>);

impl<C> Deref for Authenticated<C> {
    type Target = Identity<C>;
    fn deref(&self) -> &Identity<C> {
        &self.0
    }
}

impl<C: DeserializeOwned + 'static> FromRequest for Authenticated<C> {
    type Error = AuthRejection;
    type Future = LocalFuture<Result<Self, AuthRejection>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = context(&req)?;
            Ok(Self(
                adapter::require(&ctx.auth, &Head(&req), &ctx.session).await?,
            ))
        })
    }
}

/// The signed-in user if there is one; `None` for anonymous requests (or an unusable session
/// cookie). A bearer token that was sent but fails validation is still refused.
///
/// Prefer it to `Option<Authenticated>`: actix-web's blanket `Option` extractor turns every
/// refusal, an invalid bearer token included, into `None`.
#[derive(Clone, Debug)]
pub struct MaybeAuthenticated<C = Claims>(pub Option<Identity<C>>);

impl<C: DeserializeOwned + 'static> FromRequest for MaybeAuthenticated<C> {
    type Error = AuthRejection;
    type Future = LocalFuture<Result<Self, AuthRejection>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = context(&req)?;
            Ok(Self(
                adapter::optional(&ctx.auth, &Head(&req), &ctx.session).await?,
            ))
        })
    }
}

/// The remembered device: whom to offer "Continue as &lt;name&gt;" (a one-click sign-in), for a
/// browser that signed in before with `aq:push`. Never a session: it grants nothing.
#[derive(Clone, Debug)]
pub struct Remembered(pub Option<RememberedDevice>);

impl FromRequest for Remembered {
    type Error = AuthRejection;
    type Future = std::future::Ready<Result<Self, AuthRejection>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            context(req).map(|ctx| Self(adapter::remembered(&ctx.auth, &Head(req), &ctx.session))),
        )
    }
}

/// A bearer ID Token only (API routes): 401 with `WWW-Authenticate: Bearer` otherwise, never a
/// redirect, and the session cookie is ignored.
#[derive(Clone, Debug)]
pub struct Bearer<C = Claims>(pub Identity<C>);

impl<C> Deref for Bearer<C> {
    type Target = Identity<C>;
    fn deref(&self) -> &Identity<C> {
        &self.0
    }
}

impl<C: DeserializeOwned + 'static> FromRequest for Bearer<C> {
    type Error = AuthRejection;
    type Future = LocalFuture<Result<Self, AuthRejection>>;
    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let ctx = context(&req)?;
            Ok(Self(adapter::bearer(&ctx.auth, &Head(&req)).await?))
        })
    }
}
