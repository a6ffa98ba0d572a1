#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::io::Cursor;
use std::ops::Deref;
use std::sync::OnceLock;

use authentiq_core::adapter::{self, MAX_BODY, Rejection, Reply, RequestHead, SessionCache};
use authentiq_core::{AuthError, Authentiq, Claims, Identity, RememberedDevice};
use rocket::catcher::{self, Catcher};
use rocket::data::{Data, ToByteUnit};
use rocket::fairing::{self, Fairing, Info, Kind};
use rocket::http::{Method, Status};
use rocket::request::{self, FromRequest, Request};
use rocket::response::{self, Responder, Response};
use rocket::route::{self, Handler, Route};
use rocket::{Build, Rocket};
use serde::de::DeserializeOwned;

pub use authentiq_core;

/// The name of the catcher [`catchers`] returns (and of the auth routes), as rocket logs it.
const NAME: &str = "authentiq";

/// What the fairing leaves in each request's local cache for the guards: `None` when the
/// fairing is not attached.
struct Context {
    auth: Authentiq,
    session: SessionCache,
}

/// The refusal of the request's failed guard: the status its outcome carried and the reply
/// the catcher renders.
struct Refusal(OnceLock<(u16, Reply)>);

/// The core's view of a rocket request.
struct Head<'a, 'r> {
    req: &'a Request<'r>,
}

impl<'a, 'r> Head<'a, 'r> {
    fn new(req: &'a Request<'r>) -> Self {
        Self { req }
    }
}

impl RequestHead for Head<'_, '_> {
    fn method(&self) -> &str {
        self.req.method().as_str()
    }
    fn path(&self) -> &str {
        self.req.uri().path().as_str()
    }
    fn query(&self) -> Option<&str> {
        self.req.uri().query().map(|q| q.as_str())
    }
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
        self.req.headers().get(name)
    }
}

fn context<'a>(req: &'a Request<'_>) -> Option<&'a Context> {
    req.local_cache(|| None::<Context>).as_ref()
}

fn refusal<'a>(req: &'a Request<'_>) -> &'a OnceLock<(u16, Reply)> {
    &req.local_cache(|| Refusal(OnceLock::new())).0
}

/// Converts a core [`Reply`] into a rocket response: status, every header (repeated
/// `set-cookie` included) and body, unchanged.
pub fn into_response(reply: Reply) -> Response<'static> {
    let (status, headers, body) = reply.into_parts();
    let mut res = Response::build();
    res.status(Status::new(status));
    for (name, value) in headers {
        res.raw_header_adjoin(name.as_str().to_owned(), value);
    }
    res.sized_body(body.len(), Cursor::new(body));
    res.finalize()
}

/// The fairing that makes [`Authenticated`], [`MaybeAuthenticated`] and [`Bearer`] work. It
/// manages the [`Authentiq`] handle as state (take `&State<Authentiq>` in your handlers), gives
/// each request a context in which the session cookie is read at most once (and only when a
/// guard asks), and adds the session's refreshed or removed cookie to the response.
///
/// Register [`catchers`] too: rocket renders failed guards through catchers, and these render
/// the SDK's answer.
///
/// ```no_run
/// # async fn run(auth: authentiq_core::Authentiq) {
/// use authentiq_rocket::{AuthFairing, Authenticated};
///
/// #[rocket::get("/me")]
/// fn me(user: Authenticated) -> String {
///     format!("hello {}", user.claims.display_name())
/// }
///
/// let app = rocket::build()
///     .mount("/", rocket::routes![me])
///     .mount("/", authentiq_rocket::routes(&auth))
///     .register("/", authentiq_rocket::catchers())
///     .attach(AuthFairing::new(auth));
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct AuthFairing {
    auth: Authentiq,
}

impl AuthFairing {
    /// A fairing for `auth`.
    pub fn new(auth: Authentiq) -> Self {
        Self { auth }
    }
}

#[rocket::async_trait]
impl Fairing for AuthFairing {
    fn info(&self) -> Info {
        Info {
            name: "Authentiq",
            kind: Kind::Ignite | Kind::Request | Kind::Response,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        if !rocket.catchers().any(|c| c.name.as_deref() == Some(NAME)) {
            tracing::warn!(
                "authentiq: register `authentiq_rocket::catchers()` so that refused requests get the SDK's answer, not rocket's default error page"
            );
        }
        if rocket.state::<Authentiq>().is_some() {
            return Ok(rocket);
        }
        Ok(rocket.manage(self.auth.clone()))
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        req.local_cache(|| {
            Some(Context {
                auth: self.auth.clone(),
                session: SessionCache::new(),
            })
        });
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        if let Some(ctx) = context(req)
            && ctx.session.set_cookies().next().is_some()
        {
            let current = |name: &str| res.headers().get(name).collect::<Vec<_>>().join(", ");
            let (cache_control, vary) = (current("Cache-Control"), current("Vary"));
            for (name, value) in ctx.session.response_headers(&cache_control, &vary) {
                // `Set-Cookie` is appended; the caching headers replace what was there.
                if name == authentiq_core::adapter::header::SET_COOKIE {
                    res.adjoin_raw_header(name.as_str().to_owned(), value);
                } else {
                    res.set_raw_header(name.as_str().to_owned(), value);
                }
            }
        }
    }
}

/// The catcher that renders a refused guard's answer exactly as the SDK decided it (status,
/// headers, body). Any other error is left to rocket's default catcher. Register it with
/// `.register("/", authentiq_rocket::catchers())`; a catcher of your own for a status
/// (say 401) takes precedence, which is one way to answer refusals your own way.
pub fn catchers() -> Vec<Catcher> {
    let mut catcher = Catcher::new(None, render_refusal);
    catcher.name = Some(NAME.into());
    vec![catcher]
}

fn render_refusal<'r>(status: Status, req: &'r Request<'_>) -> catcher::BoxFuture<'r> {
    Box::pin(async move {
        match refusal(req).get() {
            Some((code, reply)) if *code == status.code => Ok(into_response(reply.clone())),
            _ => {
                let rocket_default = Catcher::default();
                rocket_default.handler.handle(status, req).await
            }
        }
    })
}

/// The auth routes of the example contract (login, callback, logout, forget, back-channel
/// logout), at the paths in the configuration, for every method (the SDK answers 405 where a
/// method does not fit). Mount them at `/`.
///
/// # Panics
/// When a configured path is not a valid rocket route path.
pub fn routes(auth: &Authentiq) -> Vec<Route> {
    let handler = AuthRoutes(auth.clone());
    let methods = [
        Method::Get,
        Method::Head,
        Method::Post,
        Method::Put,
        Method::Patch,
        Method::Delete,
        Method::Options,
    ];
    let mut routes = Vec::new();
    for (path, _) in adapter::auth_routes(auth) {
        for method in methods {
            let mut route = Route::new(method, path, handler.clone());
            route.name = Some(NAME.into());
            routes.push(route);
        }
    }
    routes
}

#[derive(Clone)]
struct AuthRoutes(Authentiq);

#[rocket::async_trait]
impl Handler for AuthRoutes {
    async fn handle<'r>(&self, req: &'r Request<'_>, data: Data<'r>) -> route::Outcome<'r> {
        let body = match data.open(MAX_BODY.bytes()).into_bytes().await {
            Ok(body) if body.is_complete() => Some(body.into_inner()),
            _ => None,
        };
        let reply = adapter::respond(&self.0, &Head::new(req), body.as_deref()).await;
        route::Outcome::Success(into_response(reply))
    }
}

/// Why a guard refused the request. It renders the core's negotiated answer (a redirect to
/// sign in for browsers, 401 JSON with `WWW-Authenticate` for APIs) through [`catchers`]. To
/// answer differently, take `Result<Authenticated, AuthRejection>` as the guard and inspect
/// [`error`](Self::error); it is also a [`Responder`] that sends the SDK's reply.
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

impl std::fmt::Debug for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthRejection")
            .field("error", &self.0.error)
            .field("status", &self.0.reply.status())
            .finish()
    }
}

impl<'r> Responder<'r, 'static> for AuthRejection {
    fn respond_to(self, _: &'r Request<'_>) -> response::Result<'static> {
        Ok(into_response(self.0.reply))
    }
}

impl std::fmt::Display for AuthRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for AuthRejection {}

/// Turns a guard's result into rocket's outcome; refusals are kept for the catcher (see
/// [`catchers`]).
fn outcome<T>(
    req: &Request<'_>,
    result: Result<T, Rejection>,
) -> request::Outcome<T, AuthRejection> {
    match result {
        Ok(v) => request::Outcome::Success(v),
        Err(r) => refuse(req, AuthRejection(r)),
    }
}

fn refuse<T>(req: &Request<'_>, rejection: AuthRejection) -> request::Outcome<T, AuthRejection> {
    let status = rejection.0.error.status();
    // The first refusal of the request wins: it is the one that failed the route.
    let _ = refusal(req).set((status, rejection.0.reply.clone()));
    request::Outcome::Error((Status::new(status), rejection))
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

#[rocket::async_trait]
impl<'r, C: DeserializeOwned + Send> FromRequest<'r> for Authenticated<C> {
    type Error = AuthRejection;
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, AuthRejection> {
        let Some(ctx) = context(req) else {
            return outcome(req, Err(Rejection::not_configured()));
        };
        let head = Head::new(req);
        outcome(
            req,
            adapter::require(&ctx.auth, &head, &ctx.session)
                .await
                .map(Self),
        )
    }
}

/// The signed-in user if there is one; `None` for anonymous requests (or an unusable session
/// cookie). A bearer token that was sent but fails validation is still refused. (Rocket's
/// `Option<Authenticated>` would turn every refusal into `None`: use this instead.)
#[derive(Clone, Debug)]
pub struct MaybeAuthenticated<C = Claims>(pub Option<Identity<C>>);

#[rocket::async_trait]
impl<'r, C: DeserializeOwned + Send> FromRequest<'r> for MaybeAuthenticated<C> {
    type Error = AuthRejection;
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, AuthRejection> {
        let Some(ctx) = context(req) else {
            return outcome(req, Err(Rejection::not_configured()));
        };
        let head = Head::new(req);
        outcome(
            req,
            adapter::optional(&ctx.auth, &head, &ctx.session)
                .await
                .map(Self),
        )
    }
}

/// The remembered device: whom to offer "Continue as &lt;name&gt;" (a one-click sign-in), for a
/// browser that signed in before with `aq:push`. Never a session: it grants nothing.
#[derive(Clone, Debug)]
pub struct Remembered(pub Option<RememberedDevice>);

#[rocket::async_trait]
impl<'r> FromRequest<'r> for Remembered {
    type Error = AuthRejection;
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, AuthRejection> {
        let Some(ctx) = context(req) else {
            return outcome(req, Err(Rejection::not_configured()));
        };
        let head = Head::new(req);
        outcome(
            req,
            Ok(Self(adapter::remembered(&ctx.auth, &head, &ctx.session))),
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

#[rocket::async_trait]
impl<'r, C: DeserializeOwned + Send> FromRequest<'r> for Bearer<C> {
    type Error = AuthRejection;
    async fn from_request(req: &'r Request<'_>) -> request::Outcome<Self, AuthRejection> {
        let Some(ctx) = context(req) else {
            return outcome(req, Err(Rejection::not_configured()));
        };
        let head = Head::new(req);
        outcome(req, adapter::bearer(&ctx.auth, &head).await.map(Self))
    }
}
