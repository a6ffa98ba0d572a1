#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::hash::{BuildHasher, RandomState};
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use authentiq_core::adapter::{self, MAX_BODY, Rejection, Reply, RequestHead, SessionCache};
use authentiq_core::{AuthError, Authentiq, Claims, Identity, RememberedDevice};
use http::header::SET_COOKIE;
use http::{HeaderMap, Method};
use serde::de::DeserializeOwned;
use warp::filters::BoxedFilter;
use warp::filters::path::FullPath;
use warp::reply::Response;
use warp::{Buf, Filter, Stream};

pub use authentiq_core;

/// What the core sees of a warp request: method, target and headers.
struct Head {
    method: Method,
    path: String,
    query: Option<String>,
    headers: HeaderMap,
}

impl RequestHead for Head {
    fn method(&self) -> &str {
        self.method.as_str()
    }
    fn path(&self) -> &str {
        &self.path
    }
    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
        self.headers
            .get_all(name)
            .into_iter()
            .filter_map(|v| v.to_str().ok())
    }
}

/// Extracts the request head.
fn head() -> impl Filter<Extract = (Head,), Error = Infallible> + Clone {
    let query = warp::query::raw()
        .map(Some)
        .or(warp::any().map(|| None))
        .unify();
    warp::method()
        .and(warp::path::full())
        .and(query)
        .and(warp::header::headers_cloned())
        .map(
            |method, path: FullPath, query: Option<String>, headers| Head {
                path: path.as_str().to_owned(),
                query,
                method,
                headers,
            },
        )
}

/// Converts a core [`Reply`] into a warp response, keeping repeated headers (`Set-Cookie`).
pub fn into_response(reply: Reply) -> Response {
    reply.into_http().map(Into::into)
}

/// A request in flight, as both [`AuthFilter::wrap`] and the guards see it.
type Key = (Method, String, Option<String>);

/// The requests in flight that share one lock.
type Shard = Mutex<HashMap<Key, (SessionCache, usize)>>;

/// How many locks the table of requests in flight is split into. A request takes one of them,
/// chosen by its key's hash, twice (when it enters the wrap and when it leaves) and a guard
/// once more, each time for one map operation: requests on different keys seldom meet on a
/// lock, so there is no lock that every request of the app waits for.
const SHARDS: usize = 64;

struct Shared {
    auth: Authentiq,
    /// Picks a request's shard; seeded per process, so nobody can aim requests at one shard.
    hasher: RandomState,
    /// The requests inside [`AuthFilter::wrap`] right now, with how many hold each key.
    live: Box<[Shard]>,
}

impl Shared {
    fn new(auth: Authentiq) -> Self {
        Self {
            auth,
            hasher: RandomState::new(),
            live: (0..SHARDS).map(|_| Shard::default()).collect(),
        }
    }

    /// Requests share a key (and so a session check) only when everything the checks read is
    /// the same: method, path and query, and the whole `Cookie` header (the session and the
    /// remembered-device cookies both come from it).
    fn key(&self, head: &Head) -> Key {
        let mut values = head.header_values("cookie").peekable();
        let cookie = values
            .peek()
            .is_some()
            .then(|| values.collect::<Vec<_>>().join("; "));
        (
            head.method.clone(),
            head.path_and_query().into_owned(),
            cookie,
        )
    }

    /// The shard that holds `key`.
    fn shard(&self, key: &Key) -> usize {
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    fn live(&self, shard: usize) -> MutexGuard<'_, HashMap<Key, (SessionCache, usize)>> {
        self.live[shard]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn register(self: &Arc<Self>, head: &Head) -> Registration {
        let key = self.key(head);
        let shard = self.shard(&key);
        let session = {
            let mut live = self.live(shard);
            let entry = live.entry(key.clone()).or_default();
            entry.1 += 1;
            entry.0.clone()
        };
        Registration {
            shared: self.clone(),
            session,
            shard,
            key,
        }
    }

    /// What a guard needs, or the refusal for a guard outside the wrap.
    fn context(&self, head: Head) -> Result<Context, warp::Rejection> {
        let key = self.key(&head);
        let session = self
            .live(self.shard(&key))
            .get(&key)
            .map(|(s, _)| s.clone());
        match session {
            Some(session) => Ok(Context {
                auth: self.auth.clone(),
                head,
                session,
            }),
            None => Err(warp::reject::custom(AuthRejection(
                Rejection::not_configured(),
            ))),
        }
    }
}

/// A request's place in [`Shared::live`], released when the request is answered or dropped.
struct Registration {
    shared: Arc<Shared>,
    shard: usize,
    key: Key,
    session: SessionCache,
}

impl Drop for Registration {
    fn drop(&mut self) {
        let mut live = self.shared.live(self.shard);
        if let Some(entry) = live.get_mut(&self.key) {
            entry.1 -= 1;
            if entry.1 == 0 {
                live.remove(&self.key);
            }
        }
    }
}

/// A guard's view of its request.
struct Context {
    auth: Authentiq,
    head: Head,
    session: SessionCache,
}

impl Context {
    /// A refusal leaves the wrap before the response exists, so it carries the session's
    /// cookie itself.
    fn refuse(&self, mut r: Rejection) -> warp::Rejection {
        r.reply = self.session.apply_to_reply(r.reply);
        warp::reject::custom(AuthRejection(r))
    }
}

/// The guards and the filter around them, for one [`Authentiq`]. Cheap to clone.
///
/// [`wrap`](Self::wrap) goes around your routes; [`authenticated`](Self::authenticated),
/// [`maybe_authenticated`](Self::maybe_authenticated) and [`bearer`](Self::bearer) guard routes
/// inside it. warp gives filters no per-request storage, so the wrap keeps a table of the
/// requests it is answering (keyed by method, target and cookies, split into 64 shards with a
/// lock each) where the guards find their request's session check: the cookie is read at most once per request, and its
/// refreshed or removed cookie is added to the response. Identical requests in flight at the
/// same moment share one check. A guard outside the wrap finds no entry and answers 500
/// ([`AuthError::NotConfigured`]).
///
/// ```no_run
/// # async fn run(auth: authentiq_core::Authentiq) {
/// use authentiq_warp::{AuthFilter, Authenticated};
/// use warp::Filter;
///
/// let aq = AuthFilter::new(auth.clone());
/// let me = warp::path!("me")
///     .and(aq.authenticated())
///     .map(|user: Authenticated| format!("hello {}", user.claims.display_name()));
/// let app = aq
///     .wrap(me.or(authentiq_warp::routes(&auth)))
///     .recover(authentiq_warp::recover);
/// warp::serve(app).run(([127, 0, 0, 1], 8000)).await;
/// # }
/// ```
#[derive(Clone)]
pub struct AuthFilter {
    shared: Arc<Shared>,
}

impl AuthFilter {
    /// The filters for `auth`.
    pub fn new(auth: Authentiq) -> Self {
        Self {
            shared: Arc::new(Shared::new(auth)),
        }
    }

    /// The SDK.
    pub fn authentiq(&self) -> &Authentiq {
        &self.shared.auth
    }

    /// Wraps `routes` so that this filter's guards work inside them, and adds the session's
    /// refreshed or removed cookie to their responses. Rejections pass through unchanged: render
    /// them with [`recover`] (or your own recover function) after the wrap. As a warp `with`
    /// wrapper: `.with(warp::wrap_fn(move |f| aq.wrap(f)))`.
    pub fn wrap<F, R>(
        &self,
        routes: F,
    ) -> impl Filter<Extract = (Response,), Error = warp::Rejection> + Clone + use<F, R>
    where
        F: Filter<Extract = (R,), Error = warp::Rejection> + Clone + Send + Sync + 'static,
        R: warp::Reply,
    {
        let shared = self.shared.clone();
        head()
            .map(move |head: Head| shared.register(&head))
            .and(routes)
            .map(|registration: Registration, reply: R| {
                let mut res = reply.into_response();
                let session = &registration.session;
                let headers = res.headers_mut();
                // A refusal recovered inside the wrap already carries them.
                let carried = session
                    .set_cookies()
                    .any(|cookie| headers.get_all(SET_COOKIE).iter().any(|h| h == cookie));
                if !carried {
                    session.apply(headers);
                }
                res
            })
    }

    fn context(
        &self,
    ) -> impl Filter<Extract = (Context,), Error = warp::Rejection> + Clone + use<> {
        let shared = self.shared.clone();
        head().and_then(move |head: Head| std::future::ready(shared.context(head)))
    }

    /// A signed-in user, from the session cookie or a bearer ID Token; otherwise rejects with
    /// an [`AuthRejection`] (a redirect to sign in for browsers, 401 for APIs). `C` is any claims
    /// type (default [`Claims`]).
    pub fn authenticated<C: DeserializeOwned + Send + 'static>(
        &self,
    ) -> impl Filter<Extract = (Authenticated<C>,), Error = warp::Rejection> + Clone + use<C> {
        self.context().and_then(|cx: Context| async move {
            let id = adapter::require(&cx.auth, &cx.head, &cx.session).await;
            id.map(Authenticated).map_err(|r| cx.refuse(r))
        })
    }

    /// The signed-in user if there is one; `None` for anonymous requests (or an unusable
    /// session cookie). A bearer token that was sent but fails validation is still refused.
    pub fn maybe_authenticated<C: DeserializeOwned + Send + 'static>(
        &self,
    ) -> impl Filter<Extract = (MaybeAuthenticated<C>,), Error = warp::Rejection> + Clone + use<C>
    {
        self.context().and_then(|cx: Context| async move {
            let id = adapter::optional(&cx.auth, &cx.head, &cx.session).await;
            id.map(MaybeAuthenticated).map_err(|r| cx.refuse(r))
        })
    }

    /// The remembered device: whom to offer "Continue as &lt;name&gt;" (a one-click sign-in), for a
    /// browser that signed in before with `aq:push`. Never a session: it grants nothing.
    pub fn remembered(
        &self,
    ) -> impl Filter<Extract = (Remembered,), Error = warp::Rejection> + Clone + use<> {
        self.context()
            .map(|cx: Context| Remembered(adapter::remembered(&cx.auth, &cx.head, &cx.session)))
    }

    /// A bearer ID Token only (API routes): 401 with `WWW-Authenticate: Bearer` otherwise,
    /// never a redirect, and the session cookie is ignored.
    pub fn bearer<C: DeserializeOwned + Send + 'static>(
        &self,
    ) -> impl Filter<Extract = (Bearer<C>,), Error = warp::Rejection> + Clone + use<C> {
        self.context().and_then(|cx: Context| async move {
            let id = adapter::bearer(&cx.auth, &cx.head).await;
            id.map(Bearer).map_err(|r| cx.refuse(r))
        })
    }
}

/// The auth routes of the example contract (login, callback, logout, forget, back-channel
/// logout), at the paths in the configuration, for every method. Other paths are rejected
/// as not found, with the body left unread. Combine it with `or`.
pub fn routes(auth: &Authentiq) -> BoxedFilter<(Response,)> {
    let matcher = auth.clone();
    let auth = auth.clone();
    head()
        .and_then(move |head: Head| {
            let found = adapter::is_auth_route(&matcher, head.path());
            async move {
                match found {
                    true => Ok(head),
                    false => Err(warp::reject::not_found()),
                }
            }
        })
        .and(warp::body::stream())
        .then(move |head: Head, body| handle(auth.clone(), head, body))
        .boxed()
}

async fn handle<B: Buf>(
    auth: Authentiq,
    head: Head,
    body: impl Stream<Item = Result<B, warp::Error>>,
) -> Response {
    let body = read_body(body).await;
    into_response(adapter::respond(&auth, &head, body.as_deref()).await)
}

/// The body, or `None` when it is over [`MAX_BODY`] or cannot be read.
async fn read_body<B: Buf>(body: impl Stream<Item = Result<B, warp::Error>>) -> Option<Vec<u8>> {
    let mut body = std::pin::pin!(body);
    let mut out = Vec::new();
    while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
        let mut chunk = chunk.ok()?;
        if out.len() + chunk.remaining() > MAX_BODY {
            return None;
        }
        while chunk.has_remaining() {
            let bytes = chunk.chunk();
            let n = bytes.len();
            out.extend_from_slice(bytes);
            chunk.advance(n);
        }
    }
    Some(out)
}

/// Why a guard refused the request, as a warp rejection. [`recover`] renders the core's
/// negotiated answer unchanged (a redirect to sign in for browsers, 401 JSON with
/// `WWW-Authenticate` for APIs). To answer differently, find it in your own recover function
/// and inspect [`error`](Self::error).
#[derive(Debug)]
pub struct AuthRejection(Rejection);

impl AuthRejection {
    /// The reason.
    pub fn error(&self) -> &AuthError {
        &self.0.error
    }
    /// The reply the SDK would send (with the session's cookie, when it has one).
    pub fn reply(&self) -> &Reply {
        &self.0.reply
    }
}

impl warp::reject::Reject for AuthRejection {}

impl warp::Reply for AuthRejection {
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

/// Renders an [`AuthRejection`] as the SDK decided it, and passes every other rejection on:
/// `.recover(authentiq_warp::recover)`.
pub async fn recover(rejection: warp::Rejection) -> Result<Response, warp::Rejection> {
    match rejection.find::<AuthRejection>() {
        Some(r) => Ok(into_response(r.0.reply.clone())),
        None => Err(rejection),
    }
}

/// A signed-in user, from the session cookie or a bearer ID Token
/// ([`AuthFilter::authenticated`]). `C` is any claims type (default [`Claims`]).
#[derive(Clone, Debug)]
pub struct Authenticated<C = Claims>(pub Identity<C>);

impl<C> Deref for Authenticated<C> {
    type Target = Identity<C>;
    fn deref(&self) -> &Identity<C> {
        &self.0
    }
}

/// The signed-in user if there is one ([`AuthFilter::maybe_authenticated`]).
#[derive(Clone, Debug)]
pub struct MaybeAuthenticated<C = Claims>(pub Option<Identity<C>>);

/// The remembered device: whom to offer "Continue as &lt;name&gt;" (a one-click sign-in), for a
/// browser that signed in before with `aq:push`. Never a session: it grants nothing.
#[derive(Clone, Debug)]
pub struct Remembered(pub Option<RememberedDevice>);

/// A user identified by a bearer ID Token only ([`AuthFilter::bearer`]).
#[derive(Clone, Debug)]
pub struct Bearer<C = Claims>(pub Identity<C>);

impl<C> Deref for Bearer<C> {
    type Target = Identity<C>;
    fn deref(&self) -> &Identity<C> {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(cookie: Option<&str>) -> Head {
        let mut headers = HeaderMap::new();
        if let Some(c) = cookie {
            headers.insert("cookie", c.parse().expect("a header value"));
        }
        Head {
            method: Method::GET,
            path: "/".into(),
            query: None,
            headers,
        }
    }

    /// A request table for a client of a new development provider (kept alive with it).
    async fn shared() -> (authentiq_dev::DevProvider, Arc<Shared>) {
        let provider = authentiq_dev::DevProvider::start().expect("provider");
        let client = provider.register_client(authentiq_dev::ClientRegistration::default());
        let auth = Authentiq::builder(provider.issuer(), &client.client_id)
            .client_secret(&client.client_secret)
            .public_url("http://127.0.0.1:8000")
            .build()
            .await
            .expect("auth");
        (provider, Arc::new(Shared::new(auth)))
    }

    /// Two requests in flight at once share a session check only when they carry the same
    /// cookies: two browsers with the same (or no) session but different remembered devices
    /// must never see each other's "Continue as".
    #[tokio::test]
    async fn requests_share_a_check_only_with_the_same_cookies() {
        let (_provider, shared) = shared().await;
        let a = shared.key(&head(Some("authentiq_device=alice")));
        let b = shared.key(&head(Some("authentiq_device=bob")));
        let none = shared.key(&head(None));
        assert_ne!(a, b);
        assert_ne!(a, none);
        assert_eq!(a, shared.key(&head(Some("authentiq_device=alice"))));
    }

    /// The table spreads requests over its shards, a guard finds its own request's entry in
    /// whichever shard that is, and every entry leaves with the last request that holds it.
    #[tokio::test]
    async fn the_table_is_sharded_and_empties_itself() {
        let (_provider, shared) = shared().await;
        let heads: Vec<Head> = (0..256)
            .map(|i| head(Some(&format!("authentiq_device=person-{i}"))))
            .collect();
        let held: Vec<Registration> = heads.iter().map(|h| shared.register(h)).collect();
        // The same request twice holds one entry, counted twice.
        let again = shared.register(&heads[0]);
        let used = (0..SHARDS).filter(|&i| !shared.live(i).is_empty()).count();
        assert!(
            used > SHARDS / 2,
            "256 keys used only {used} of {SHARDS} shards"
        );
        for h in &heads {
            let key = shared.key(h);
            assert!(shared.live(shared.shard(&key)).contains_key(&key));
        }
        drop(held);
        assert!(
            shared
                .context(head(Some("authentiq_device=person-0")))
                .is_ok()
        );
        assert!(
            shared
                .context(head(Some("authentiq_device=person-1")))
                .is_err()
        );
        drop(again);
        assert!(
            shared
                .context(head(Some("authentiq_device=person-0")))
                .is_err()
        );
        assert!((0..SHARDS).all(|i| shared.live(i).is_empty()));
    }
}
