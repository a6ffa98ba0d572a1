//! The contract between the core and a web framework adapter.
//!
//! App authors never need this module: they use their framework's adapter
//! (`authentiq-axum`, `authentiq-actix`, `authentiq-rocket`, `authentiq-warp`). This is the
//! door for whoever writes an adapter, for those four or a fifth framework. An adapter makes
//! no decision of its own: it shows the core the request ([`RequestHead`]), calls one of the
//! functions below, and copies the [`Reply`] it gets back into the framework's response.
//!
//! # Writing an adapter, end to end
//! 1. **See the request.** Implement [`RequestHead`] for the framework's request (on a local
//!    newtype if the orphan rule requires). It is already implemented for
//!    `http::request::Parts` and `http::Request<B>` (`http` 1.x).
//! 2. **Install per request.** The framework's middleware (layer, fairing, filter) creates one
//!    [`SessionCache`] per request and puts it, with the [`Authentiq`], where the guards can
//!    find it. After the handler ran, it applies [`SessionCache::response_headers`] to the
//!    response: when the session cookie changed (a refreshed idle timer, or the removal of an
//!    unusable cookie), its `Set-Cookie`, with `private` merged into `Cache-Control` and
//!    `Cookie` into `Vary` (one value each). On `http` 1.x types, [`SessionCache::apply`].
//! 3. **Guards.** `Authenticated` calls [`require`], `MaybeAuthenticated` calls [`optional`],
//!    `Bearer` calls [`bearer`]. On refusal, send [`Rejection::reply`] as it is. A guard that
//!    finds no [`SessionCache`] (the middleware was not installed) answers
//!    [`Rejection::not_configured`].
//! 4. **The auth routes.** Mount every path of [`auth_routes`] for its methods (or every
//!    method: the core answers 405 itself), read at most [`MAX_BODY`] bytes of the body, and
//!    answer with [`respond`] (passing `None` for a body that was too large or unreadable).
//! 5. **Replies.** Copy [`Reply::status`], every header of [`Reply::headers`] (repeated
//!    `set-cookie` included, in order) and [`Reply::body`]. On `http` 1.x,
//!    [`Reply::into_http`] does it.
//!
//! A whole adapter, for a toy framework whose requests are `(method, target, headers, body)`:
//!
//! ```
//! use authentiq_core::Authentiq;
//! use authentiq_core::adapter::{self, RequestHead, Reply, SessionCache, MAX_BODY};
//!
//! struct ToyRequest { method: String, target: String, headers: Vec<(String, String)>, body: Vec<u8> }
//!
//! impl RequestHead for ToyRequest {
//!     fn method(&self) -> &str { &self.method }
//!     fn path(&self) -> &str { self.target.split('?').next().unwrap_or("/") }
//!     fn query(&self) -> Option<&str> { self.target.split_once('?').map(|(_, q)| q) }
//!     fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
//!         self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
//!     }
//! }
//!
//! /// The toy framework's response.
//! struct ToyResponse { status: u16, headers: Vec<(String, String)>, body: Vec<u8> }
//!
//! fn to_toy(reply: Reply) -> ToyResponse {
//!     let (status, headers, body) = reply.into_parts();
//!     let headers = headers.into_iter().map(|(n, v)| (n.as_str().to_owned(), v)).collect();
//!     ToyResponse { status, headers, body }
//! }
//!
//! /// The middleware plus a guarded handler: `GET /me` needs a signed-in user.
//! async fn serve(auth: &Authentiq, req: ToyRequest) -> ToyResponse {
//!     if adapter::is_auth_route(auth, req.path()) {
//!         let body = (req.body.len() <= MAX_BODY).then_some(&req.body[..]);
//!         return to_toy(adapter::respond(auth, &req, body).await);
//!     }
//!     let cache = SessionCache::new();
//!     let mut res = match adapter::require::<authentiq_core::Claims>(auth, &req, &cache).await {
//!         Ok(user) => ToyResponse { status: 200, headers: vec![], body: user.subject.into_bytes() },
//!         Err(refusal) => to_toy(refusal.reply),
//!     };
//!     let current = |name: &str| -> String {
//!         let values: Vec<&str> = res.headers.iter()
//!             .filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str()).collect();
//!         values.join(", ")
//!     };
//!     let (cache_control, vary) = (current("cache-control"), current("vary"));
//!     for (name, value) in cache.response_headers(&cache_control, &vary) {
//!         // `Set-Cookie` is appended; `Cache-Control` and `Vary` replace what was there.
//!         if name != adapter::header::SET_COOKIE {
//!             res.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name.as_str()));
//!         }
//!         res.headers.push((name.as_str().to_owned(), value));
//!     }
//!     res
//! }
//! ```

use serde::de::DeserializeOwned;

use crate::Authentiq;
use crate::device::RememberedDevice;
use crate::guard::Identity;

pub use crate::guard::{Rejection, SessionCache};
pub use crate::http::{ClientKind, Reply, RequestHead};
pub use crate::routes::{AuthRoute, MAX_BODY};
pub use crate::session::SessionCheck;
/// The `http` 1.x header names a [`Reply`] is built with (re-exported for adapters on other
/// `http` majors).
pub use ::http::header::{self, HeaderName};

/// The required guard (`Authenticated`): a bearer ID Token when the request sends one, else
/// the session (read at most once per request through `cache`); otherwise the negotiated
/// refusal (a redirect to sign in for browser navigations, 401 JSON with `WWW-Authenticate`
/// for API clients).
pub async fn require<C: DeserializeOwned>(
    auth: &Authentiq,
    head: &impl RequestHead,
    cache: &SessionCache,
) -> Result<Identity<C>, Rejection> {
    auth.require(head, cache).await
}

/// The optional guard (`MaybeAuthenticated`): `None` for anonymous requests and unusable
/// session cookies; a bearer token that was sent but fails is still refused.
pub async fn optional<C: DeserializeOwned>(
    auth: &Authentiq,
    head: &impl RequestHead,
    cache: &SessionCache,
) -> Result<Option<Identity<C>>, Rejection> {
    auth.optional(head, cache).await
}

/// The remembered device (`Remembered`): whom to offer "Continue as", for a browser that
/// signed in before with one-click enabled. Never a session: it grants nothing. An unusable
/// device cookie is `None`, and [`SessionCache::response_headers`] then removes it.
pub fn remembered(
    auth: &Authentiq,
    head: &impl RequestHead,
    cache: &SessionCache,
) -> Option<RememberedDevice> {
    cache.device(auth, head).cloned()
}

/// The API guard (`Bearer`): a bearer ID Token only, never a redirect; the session cookie is
/// not read.
pub async fn bearer<C: DeserializeOwned>(
    auth: &Authentiq,
    head: &impl RequestHead,
) -> Result<Identity<C>, Rejection> {
    auth.bearer(head).await
}

/// The whole answer of an auth route. `body` is the request body, or `None` when it was over
/// [`MAX_BODY`] or could not be read (the answer is then 413); a path that is not an auth route
/// gets 404, a method the route does not take 405.
pub async fn respond(auth: &Authentiq, head: &impl RequestHead, body: Option<&[u8]>) -> Reply {
    auth.respond(head, body).await
}

/// Reads and checks the session cookie of a request, now. Guards read it through a
/// [`SessionCache`], which calls this at most once per request; call it directly only where a
/// framework keeps its own per-request state.
pub async fn check_session(auth: &Authentiq, head: &impl RequestHead) -> SessionCheck {
    auth.check_session(head).await
}

/// Whether `path` is one of the auth routes [`respond`] answers.
pub fn is_auth_route(auth: &Authentiq, path: &str) -> bool {
    AuthRoute::at(&auth.config().routes, path).is_some()
}

/// The auth routes to mount: each with its path (from the configuration) and the methods it
/// answers.
pub fn auth_routes(auth: &Authentiq) -> impl Iterator<Item = (&str, &'static [&'static str])> {
    AuthRoute::ALL
        .into_iter()
        .map(|r| (r.path(&auth.config().routes), r.methods()))
}
