//! What the conformance suite does not reach, because it is about warp's filters: one session
//! check per request when a request is tried on several `or` branches, the removal cookie on
//! answers and refusals from a recover inside the wrap, the wrap's table emptying, other paths
//! keeping their body past `routes()`, and the reply conversion.

use std::sync::Arc;

use authentiq_conformance::{CountingStore, Harness};
use authentiq_core::SessionData;
use authentiq_core::adapter::Reply;
use authentiq_warp::{
    AuthFilter, Authenticated, MaybeAuthenticated, into_response, recover, routes,
};
use bytes::Bytes;
use warp::Filter;

/// A `Cookie` header for a session last seen ten minutes ago: checking it refreshes it.
async fn stale_session(h: &Harness) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let data = SessionData {
        id: format!("glue-{now}"),
        sub: "someone".into(),
        iss: h.provider.issuer(),
        aud: h.client.client_id.clone(),
        sid: None,
        iat: now - 600,
        exp: now + 3600,
        seen: now - 600,
        claims: serde_json::Map::new(),
        id_token: None,
        session_state: None,
    };
    let cookie = h.auth.session_cookie(&data).await.expect("seal");
    cookie.split(';').next().unwrap_or_default().to_owned()
}

fn set_cookies(res: &http::Response<Bytes>) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap_or_default().to_owned())
        .collect()
}

fn is_removal(c: &str) -> bool {
    c.starts_with("authentiq_session=;") && c.contains("Max-Age=0")
}

#[tokio::test]
async fn one_check_per_request_across_branches_and_the_refresh_reaches_the_response() {
    let store = Arc::new(CountingStore::default());
    let h = Harness::with(|b| b.session_store(store.clone())).await;
    let aq = AuthFilter::new(h.auth.clone());
    // The first branch passes its guard, then rejects; the second guards again.
    let strict = warp::path!("x")
        .and(aq.authenticated())
        .and(warp::header::exact("x-never", "1"))
        .map(|_: Authenticated| "strict");
    let lenient = warp::path!("x")
        .and(aq.maybe_authenticated())
        .map(|u: MaybeAuthenticated| if u.0.is_some() { "user" } else { "anon" });
    let app = aq.wrap(strict.or(lenient)).recover(recover);
    let cookie = stale_session(&h).await;
    let res = warp::test::request()
        .path("/x")
        .header("cookie", &cookie)
        .reply(&app)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.body(), "user");
    assert_eq!(store.loads(), 1, "one session check");
    let cookies = set_cookies(&res);
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    assert!(cookies[0].starts_with("authentiq_session=") && !is_removal(&cookies[0]));
}

/// The conformance suite's app recovers outside the wrap; a recover inside it is reached too.
#[tokio::test]
async fn the_removal_cookie_reaches_answers_and_refusals_once_with_recover_inside() {
    let h = Harness::new().await;
    let aq = AuthFilter::new(h.auth.clone());
    let maybe = warp::path!("maybe")
        .and(aq.maybe_authenticated())
        .map(|u: MaybeAuthenticated| format!("{}", u.0.is_some()));
    let me = warp::path!("me")
        .and(aq.authenticated())
        .map(|_: Authenticated| "me");
    let inside = aq.wrap(maybe.or(me).recover(recover));
    for (path, status) in [("/maybe", 200), ("/me", 401)] {
        let res = warp::test::request()
            .path(path)
            .header("accept", "application/json")
            .header("cookie", "authentiq_session=garbage")
            .reply(&inside)
            .await;
        assert_eq!(res.status(), status, "{path}");
        let cookies = set_cookies(&res);
        assert_eq!(cookies.len(), 1, "{path}: {cookies:?}");
        assert!(is_removal(&cookies[0]), "{path}: {cookies:?}");
    }
}

#[tokio::test]
async fn the_wrap_forgets_answered_requests() {
    let h = Harness::new().await;
    let aq = AuthFilter::new(h.auth.clone());
    let me = || {
        warp::path!("me")
            .and(aq.authenticated())
            .map(|_: Authenticated| "me")
    };
    let wrapped = aq.wrap(me()).recover(recover);
    let bare = me().recover(recover);
    let res = warp::test::request().path("/me").reply(&wrapped).await;
    assert_eq!(res.status(), 401);
    let res = warp::test::request().path("/me").reply(&bare).await;
    assert_eq!(res.status(), 500, "the same request outside the wrap");
}

#[tokio::test]
async fn other_paths_keep_their_body() {
    let h = Harness::new().await;
    let echo = warp::path!("echo")
        .and(warp::body::json())
        .map(|v: serde_json::Value| v.to_string());
    let app = routes(&h.auth).or(echo);
    let res = warp::test::request()
        .method("POST")
        .path("/echo")
        .header("content-type", "application/json")
        .body(r#"{"a":1}"#)
        .reply(&app)
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.body(), r#"{"a":1}"#);
}

#[tokio::test]
async fn reply_conversion_keeps_every_header() {
    let reply = Reply::redirect(303, "/x")
        .header(http::header::SET_COOKIE, "a=1")
        .header(http::header::SET_COOKIE, "b=2")
        .with_body(b"body".to_vec());
    let res = into_response(reply);
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers().get_all("set-cookie").iter().count(), 2);
    assert_eq!(
        res.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/x")
    );
    assert!(res.headers().get("content-type").is_none());
}
