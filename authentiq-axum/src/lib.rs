#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::ops::Deref;
use std::task::{Context, Poll};

use authentiq_core::adapter::{self, MAX_BODY, Rejection, Reply, SessionCache};
use authentiq_core::{AuthError, Authentiq, Claims, Identity, RememberedDevice};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http::request::Parts;
use serde::de::DeserializeOwned;

pub use authentiq_core;

/// What the layer leaves in each request's extensions for the extractors.
#[derive(Clone)]
struct AuthContext {
    auth: Authentiq,
    session: SessionCache,
}

/// Converts a core [`Reply`] into an axum response.
pub fn into_response(reply: Reply) -> Response {
    reply.into_http().map(Body::from)
}

/// The tower layer that makes [`Authenticated`], [`MaybeAuthenticated`] and [`Bearer`] work on
/// the routes it wraps. It reads the session cookie only when a guard asks, and adds the
/// session's refreshed or removed cookie to the response.
///
/// ```no_run
/// # async fn run(auth: authentiq_core::Authentiq) {
/// use authentiq_axum::{AuthLayer, Authenticated};
/// use axum::{routing::get, Router};
///
/// async fn me(user: Authenticated) -> String {
///     format!("hello {}", user.claims.display_name())
/// }
///
/// let app: Router = Router::new()
///     .route("/me", get(me))
///     .merge(authentiq_axum::routes(&auth))
///     .layer(AuthLayer::new(auth));
/// # }
/// ```
#[derive(Clone)]
pub struct AuthLayer {
    auth: Authentiq,
}

impl AuthLayer {
    /// A layer for `auth`.
    pub fn new(auth: Authentiq) -> Self {
        Self { auth }
    }
}

impl<S> tower_layer::Layer<S> for AuthLayer {
    type Service = AuthService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        AuthService {
            inner,
            auth: self.auth.clone(),
        }
    }
}

/// The service [`AuthLayer`] produces.
#[derive(Clone)]
pub struct AuthService<S> {
    inner: S,
    auth: Authentiq,
}

impl<S, B> tower_service::Service<http::Request<B>> for AuthService<S>
where
    S: tower_service::Service<http::Request<B>, Response = Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future =
        std::pin::Pin<Box<dyn std::future::Future<Output = Result<Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let session = SessionCache::new();
        req.extensions_mut().insert(AuthContext {
            auth: self.auth.clone(),
            session: session.clone(),
        });
        // Take the service that was driven to readiness, leave a clone in its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let mut res = inner.call(req).await?;
            session.apply(res.headers_mut());
            Ok(res)
        })
    }
}

/// The auth routes of the example contract (login, callback, logout, forget, back-channel
/// logout), at the paths in the configuration. Merge it into your router.
pub fn routes<S: Clone + Send + Sync + 'static>(auth: &Authentiq) -> Router<S> {
    let mut router = Router::new();
    for (path, _) in adapter::auth_routes(auth) {
        let auth = auth.clone();
        router = router.route(
            path,
            any(move |req: http::Request<Body>| handle(auth.clone(), req)),
        );
    }
    router
}

async fn handle(auth: Authentiq, req: http::Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, MAX_BODY).await.ok();
    into_response(adapter::respond(&auth, &parts, body.as_deref()).await)
}

/// Why a guard refused the request. It renders the core's negotiated answer (a redirect to
/// sign in for browsers, 401 JSON with `WWW-Authenticate` for APIs). To answer differently,
/// take `Result<Authenticated, AuthRejection>` in your handler and inspect [`error`](Self::error).
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

impl IntoResponse for AuthRejection {
    fn into_response(self) -> Response {
        into_response(self.0.reply)
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AuthRejection {}

fn context(parts: &Parts) -> Result<AuthContext, AuthRejection> {
    parts
        .extensions
        .get::<AuthContext>()
        .cloned()
        .ok_or_else(|| Rejection::not_configured().into())
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

impl<S: Send + Sync, C: DeserializeOwned + Send> FromRequestParts<S> for Authenticated<C> {
    type Rejection = AuthRejection;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthRejection> {
        let ctx = context(parts)?;
        Ok(Self(
            adapter::require(&ctx.auth, parts, &ctx.session).await?,
        ))
    }
}

impl<S: Send + Sync, C: DeserializeOwned + Send> OptionalFromRequestParts<S> for Authenticated<C> {
    type Rejection = AuthRejection;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &S,
    ) -> Result<Option<Self>, AuthRejection> {
        Ok(
            <MaybeAuthenticated<C> as FromRequestParts<S>>::from_request_parts(parts, state)
                .await?
                .0
                .map(Self),
        )
    }
}

/// The signed-in user if there is one; `None` for anonymous requests (or an unusable session
/// cookie). A bearer token that was sent but fails validation is still refused.
#[derive(Clone, Debug)]
pub struct MaybeAuthenticated<C = Claims>(pub Option<Identity<C>>);

impl<S: Send + Sync, C: DeserializeOwned + Send> FromRequestParts<S> for MaybeAuthenticated<C> {
    type Rejection = AuthRejection;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthRejection> {
        let ctx = context(parts)?;
        Ok(Self(
            adapter::optional(&ctx.auth, parts, &ctx.session).await?,
        ))
    }
}

/// The remembered device: whom to offer "Continue as &lt;name&gt;" (a one-click sign-in), for a
/// browser that signed in before with `aq:push`. Never a session: it grants nothing.
#[derive(Clone, Debug)]
pub struct Remembered(pub Option<RememberedDevice>);

impl<S: Send + Sync> FromRequestParts<S> for Remembered {
    type Rejection = AuthRejection;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthRejection> {
        let ctx = context(parts)?;
        Ok(Self(adapter::remembered(&ctx.auth, parts, &ctx.session)))
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

impl<S: Send + Sync, C: DeserializeOwned + Send> FromRequestParts<S> for Bearer<C> {
    type Rejection = AuthRejection;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AuthRejection> {
        let ctx = context(parts)?;
        Ok(Self(adapter::bearer(&ctx.auth, parts).await?))
    }
}
