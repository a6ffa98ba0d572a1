//! The cases. Each builds its own harness and app, so they run independently.

use std::sync::Arc;

use serde_json::{Value, json};

use crate::{
    APP_URL, Approval, Authentiq, CountingStore, DevProvider, Framework, Grant, Harness, Jar,
    TestApp, TestRequest, TestResponse,
};
use authentiq_core::adapter::MAX_BODY;
use authentiq_dev::Alg;

const UNAUTHENTICATED: &str =
    r#"{"error":"unauthenticated","error_description":"authentication is required"}"#;
const NOT_CONFIGURED: &str = r#"{"error":"authentiq_not_configured","error_description":"authentiq is not configured for this route: install the Authentiq layer (axum), middleware (actix-web), fairing (rocket) or filter (warp) around it"}"#;

pub(crate) fn browser(uri: &str) -> TestRequest {
    TestRequest::new("GET", uri).header("accept", "text/html,application/xhtml+xml,*/*;q=0.8")
}

pub(crate) fn api(uri: &str) -> TestRequest {
    TestRequest::new("GET", uri).header("accept", "application/json")
}

/// The path and query of an app URL.
fn local(url: &str) -> String {
    url.strip_prefix(APP_URL).unwrap_or(url).to_owned()
}

fn query(url: &str) -> Vec<(String, String)> {
    let q = url.split_once('?').map_or("", |(_, q)| q);
    url::form_urlencoded::parse(q.as_bytes())
        .into_owned()
        .collect()
}

fn param(url: &str, name: &str) -> Option<String> {
    query(url)
        .into_iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v)
}

fn session_name() -> &'static str {
    "authentiq_session"
}

pub(crate) fn assert_status(res: &TestResponse, status: u16, what: &str) {
    assert_eq!(
        res.status,
        status,
        "{what}: status; body: {}; headers: {:?}",
        res.text(),
        res.headers
    );
}

/// What the core says when it refuses, as a client reads it in `error_description`.
pub(crate) mod says {
    pub(crate) const TAMPERED: &str = "the session is no longer valid: the session cookie is tampered with or was sealed with another key";
    pub(crate) const EXPIRED: &str = "the session is no longer valid: the session has expired";
    pub(crate) const IDLE: &str = "the session is no longer valid: the session was idle too long";
    pub(crate) const FOREIGN: &str =
        "the session is no longer valid: the session belongs to another issuer or client";
    pub(crate) const ENDED: &str = "the session is no longer valid: the session was ended";
    pub(crate) const STATE_MISMATCH: &str =
        "the state parameter does not match the sign-in started in this browser";
    pub(crate) const FLOW_MISSING: &str =
        "no sign-in is in progress in this browser, or it expired";
    pub(crate) const CROSS_ORIGIN: &str = "cross-origin request refused";
    pub(crate) const METHOD: &str = "method not allowed";
    pub(crate) const TOO_LARGE: &str = "the request body is too large";
    /// A bearer or logout token refused by `check` (the token rule's own text).
    pub(crate) fn bad_token(check: &str) -> String {
        format!("the bearer token is invalid: {check}")
    }
    /// A callback's ID Token refused by `check`.
    pub(crate) fn bad_id_token(check: &str) -> String {
        format!("the ID Token is invalid: {check}")
    }
}

/// The RFC 6750 challenge text for a description: quotes and backslashes become `'`, anything
/// outside printable ASCII `?`.
fn challenge_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// Asserts a whole JSON refusal: the status, `Content-Type: application/json`,
/// `Cache-Control: no-store`, the challenge (on a 401 exactly one `WWW-Authenticate`, the bare
/// `Bearer` or RFC 6750's `invalid_token` one with the same description; none otherwise) and
/// the body, byte for byte.
pub(crate) fn refused(res: &TestResponse, status: u16, code: &str, description: &str) {
    assert_status(res, status, code);
    assert_eq!(
        res.header("content-type"),
        Some("application/json"),
        "{code}: content type"
    );
    assert_eq!(
        res.header("cache-control"),
        Some("no-store"),
        "{code}: refusals are never cached"
    );
    let challenge = match (status, code) {
        (401, "invalid_token") => Some(format!(
            "Bearer error=\"invalid_token\", error_description=\"{}\"",
            challenge_text(
                description
                    .strip_prefix("the bearer token is invalid: ")
                    .unwrap_or(description)
            )
        )),
        (401, _) => Some("Bearer".to_owned()),
        _ => None,
    };
    assert_eq!(
        res.header("www-authenticate").map(str::to_owned),
        challenge,
        "{code}: WWW-Authenticate"
    );
    assert_eq!(
        res.text(),
        json!({"error": code, "error_description": description}).to_string(),
        "{code}: the whole body"
    );
}

/// Asserts that a refused callback created no session: no `Set-Cookie` other than removals
/// carries the session cookie, and the browser, once it applied the answer, is not signed in.
pub(crate) async fn no_session_created<A: TestApp>(app: &A, res: &TestResponse, jar: &Jar) {
    assert!(
        !res.set_cookies()
            .iter()
            .any(|c| c.starts_with(&format!("{}=", session_name())) && !c.contains("Max-Age=0")),
        "a refused callback sets no session: {:?}",
        res.set_cookies()
    );
    let mut after = jar.clone();
    after.apply(res);
    let me = app.call(api("/me").cookies(&after)).await;
    assert_eq!(
        me.status,
        401,
        "no session after a refused callback: {}",
        me.text()
    );
}

/// Asserts the whole URL: `base` before the query, and exactly the parameters `expected`
/// (each once; `None` stands for any non-empty value). Returns the parameters.
fn assert_url(url: &str, base: &str, expected: &[(&str, Option<&str>)]) -> Vec<(String, String)> {
    let (head, _) = url.split_once('?').unwrap_or((url, ""));
    assert_eq!(head, base, "URL base of {url}");
    let pairs = query(url);
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    let mut want: Vec<&str> = expected.iter().map(|(k, _)| *k).collect();
    want.sort_unstable();
    assert_eq!(names, want, "the parameters of {url}, each once");
    for (name, value) in expected {
        let got = param(url, name).unwrap_or_default();
        match value {
            Some(v) => assert_eq!(&got, v, "{name} in {url}"),
            None => assert!(!got.is_empty(), "{name} in {url}"),
        }
    }
    pairs
}

/// A forwarded response posted as JSON to the callback, as AuthentiqJS does from the app's page.
fn json_callback(jar: &Jar, body: &Value) -> TestRequest {
    TestRequest::new("POST", "/auth/callback")
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("origin", APP_URL)
        .cookies(jar)
        .body(body.to_string())
}

/// GET /auth/login; returns the response and the jar holding the flow cookie.
async fn start_login<A: TestApp>(app: &A, return_to: &str) -> (TestResponse, Jar) {
    let uri = format!(
        "/auth/login?return_to={}",
        url::form_urlencoded::byte_serialize(return_to.as_bytes()).collect::<String>()
    );
    let res = app.call(browser(&uri)).await;
    assert_status(&res, 303, "login redirect");
    let mut jar = Jar::new();
    jar.apply(&res);
    (res, jar)
}

/// Runs login and the provider's approval; returns the callback path and the jar before it.
async fn approved<A: TestApp>(
    h: &Harness,
    app: &A,
    return_to: &str,
    approval: &Approval,
) -> (String, Jar) {
    let (res, jar) = start_login(app, return_to).await;
    let location = res.header("location").expect("login sets Location");
    let callback = h
        .provider
        .approve(location, approval)
        .expect("the provider approves");
    assert!(
        callback.starts_with(&format!("{APP_URL}/auth/callback?")),
        "callback URL {callback}"
    );
    (local(&callback), jar)
}

/// A complete sign-in; returns the final response and the browser's jar.
async fn sign_in_with<A: TestApp>(
    h: &Harness,
    app: &A,
    return_to: &str,
    approval: &Approval,
) -> (TestResponse, Jar) {
    let (callback, mut jar) = approved(h, app, return_to, approval).await;
    let res = app.call(browser(&callback).cookies(&jar)).await;
    jar.apply(&res);
    (res, jar)
}

async fn sign_in<A: TestApp>(h: &Harness, app: &A) -> Jar {
    let (res, jar) = sign_in_with(h, app, "/me", &Approval::default()).await;
    assert_status(&res, 303, "callback");
    assert_eq!(res.header("location"), Some("/me"));
    assert!(
        jar.get(session_name()).is_some(),
        "a session cookie is set: {:?}",
        res.headers
    );
    jar
}

fn session_data(h: &Harness, sub: &str) -> authentiq_core::SessionData {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    authentiq_core::SessionData {
        id: format!("forged-{now}"),
        sub: sub.into(),
        iss: h.provider.issuer(),
        aud: h.client.client_id.clone(),
        sid: None,
        iat: now,
        exp: now + 3600,
        seen: now,
        claims: serde_json::Map::new(),
        id_token: None,
        session_state: None,
    }
}

fn cookie_value(set_cookie: &str) -> String {
    set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default()
}

/// `/me` from a browser holding only this session cookie (a `Set-Cookie` value from the core).
async fn me_with<A: TestApp>(app: &A, set_cookie: &str) -> TestResponse {
    let mut jar = Jar::new();
    jar.set(session_name(), &cookie_value(set_cookie));
    app.call(api("/me").cookies(&jar)).await
}

/// The `error_description` of a JSON error.
fn description(res: &TestResponse) -> String {
    res.json()["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Asserts that `res` sets cookie `name` exactly once, with `value` (`None`: any non-empty
/// value) and exactly the attributes `attrs` (in any order, names compared without case).
/// Returns the value.
fn assert_cookie(
    res: &TestResponse,
    name: &str,
    value: Option<&str>,
    attrs: &[impl AsRef<str>],
) -> String {
    let all: Vec<&str> = res
        .set_cookies()
        .into_iter()
        .filter(|c| {
            c.split(';')
                .next()
                .and_then(|p| p.split_once('='))
                .is_some_and(|(n, _)| n.trim() == name)
        })
        .collect();
    assert_eq!(
        all.len(),
        1,
        "one Set-Cookie for {name}: {:?}",
        res.set_cookies()
    );
    let mut parts = all[0].split(';').map(str::trim);
    let got = parts
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_owned())
        .unwrap_or_default();
    match value {
        Some(v) => assert_eq!(got, v, "the value of {name}"),
        None => assert!(!got.is_empty(), "{name} has a value"),
    }
    let mut have: Vec<String> = parts.map(str::to_ascii_lowercase).collect();
    have.sort();
    let mut want: Vec<String> = attrs
        .iter()
        .map(|a| a.as_ref().to_ascii_lowercase())
        .collect();
    want.sort();
    assert_eq!(have, want, "the attributes of {name}: {}", all[0]);
    got
}

fn removes_session(res: &TestResponse) -> bool {
    res.set_cookies()
        .iter()
        .any(|c| c.starts_with(&format!("{}=;", session_name())) && c.contains("Max-Age=0"))
}

/// `GET /public` answers without any session.
pub async fn public_route<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let res = app.call(browser("/public")).await;
    assert_status(&res, 200, "public");
    assert_eq!(res.text(), "public");
    assert!(res.set_cookies().is_empty(), "no cookie on a public route");
}

/// A browser navigation without a session is redirected to login with `return_to`.
pub async fn browser_without_session_is_redirected_to_login<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let res = app.call(browser("/me")).await;
    assert_status(&res, 303, "browser redirect");
    assert_eq!(res.header("location"), Some("/auth/login?return_to=%2Fme"));
    let res = app.call(browser("/me?tab=a&b=c")).await;
    assert_eq!(
        res.header("location"),
        Some("/auth/login?return_to=%2Fme%3Ftab%3Da%26b%3Dc")
    );
}

/// An API client without a session gets 401, `WWW-Authenticate: Bearer` and a JSON error.
pub async fn api_without_session_gets_401<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    for req in [api("/me"), TestRequest::new("GET", "/me")] {
        let res = app.call(req).await;
        refused(&res, 401, "unauthenticated", "authentication is required");
        assert_eq!(res.text(), UNAUTHENTICATED);
    }
}

/// XHR and fetch requests are API requests even when they accept HTML.
pub async fn xhr_without_session_gets_401<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let res = app
        .call(browser("/me").header("x-requested-with", "XMLHttpRequest"))
        .await;
    assert_status(&res, 401, "xhr");
    let res = app
        .call(browser("/me").header("sec-fetch-mode", "cors"))
        .await;
    assert_status(&res, 401, "fetch");
    assert_eq!(res.text(), UNAUTHENTICATED);
}

/// The optional extractor yields nothing without a session.
pub async fn optional_without_session<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let res = app.call(api("/maybe")).await;
    assert_status(&res, 200, "maybe");
    assert_eq!(res.json(), json!({"sub": null}));
}

/// A full sign-in through the provider ends in a session that `/me` accepts.
pub async fn sign_in_creates_session<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (callback, mut jar) = approved(&h, &app, "/me", &Approval::default()).await;
    let res = app.call(browser(&callback).cookies(&jar)).await;
    assert_status(&res, 303, "callback");
    assert_eq!(res.header("location"), Some("/me"));
    let session_cookie = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with(&format!("{}=", session_name())))
        .expect("a session cookie")
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(
            session_cookie.contains(attr),
            "session cookie has {attr}: {session_cookie}"
        );
    }
    jar.apply(&res);
    assert!(
        jar.names()
            .iter()
            .all(|n| !n.starts_with("authentiq_flow_")),
        "flow cookie cleared: {:?}",
        jar.names()
    );
    let me = app.call(api("/me").cookies(&jar)).await;
    assert_status(&me, 200, "me");
    let claims = me.json();
    let a = Approval::default();
    assert_eq!(claims["iss"], h.provider.issuer());
    assert!(claims["sub"].as_str().is_some_and(|s| !s.is_empty()));
    assert_eq!(claims["email"], a.email);
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], a.name);
    assert!(
        claims.get("nonce").is_none() && claims.get("aud").is_none(),
        "protocol claims are not exposed: {claims}"
    );
    let scope = claims["scope"].as_str().unwrap_or_default();
    assert!(
        scope.split(' ').any(|s| s == "email"),
        "granted scopes listed: {scope}"
    );
}

/// The optional extractor yields the user with a session.
pub async fn optional_with_session<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let me = app.call(api("/me").cookies(&jar)).await.json();
    let res = app.call(api("/maybe").cookies(&jar)).await;
    assert_status(&res, 200, "maybe");
    assert_eq!(res.json(), json!({"sub": me["sub"]}));
}

/// However many guards a request passes, its session is read once and the refreshed cookie
/// is sent once: `/both` has two guards, and the session store is read once per request.
pub async fn one_session_check_per_request<F: Framework>() {
    let store = Arc::new(CountingStore::default());
    let h = Harness::with(|b| b.session_store(store.clone())).await;
    let app = F::app(h.auth.clone()).await;
    let mut data = session_data(&h, "someone");
    // Last seen long enough ago that checking the session slides its idle timer.
    data.seen -= h.auth.config().session.idle.as_secs() / 2;
    let cookie = h.auth.session_cookie(&data).await.expect("seal");
    let mut jar = Jar::new();
    jar.set(session_name(), &cookie_value(&cookie));
    let res = app.call(api("/both").cookies(&jar)).await;
    assert_status(&res, 200, "two guards");
    assert_eq!(res.json(), json!({"sub": "someone", "maybe": "someone"}));
    assert_eq!(store.loads(), 1, "one session check for two guards");
    let cookies = res.set_cookies();
    assert_eq!(cookies.len(), 1, "one refreshed cookie: {cookies:?}");
    assert!(
        cookies[0].starts_with(&format!("{}=", session_name())) && !removes_session(&res),
        "the idle timer is refreshed: {cookies:?}"
    );
    let res = app.call(api("/both").cookies(&jar)).await;
    assert_status(&res, 200, "two guards, again");
    assert_eq!(store.loads(), 2, "the next request is checked again");
}

/// The authorization request carries state, nonce and PKCE S256, and the flow cookie is
/// short-lived, HttpOnly and SameSite=Lax.
pub async fn login_redirect_carries_state_nonce_pkce<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (res, _) = start_login(&app, "/").await;
    let loc = res.header("location").expect("Location").to_owned();
    let redirect_uri = format!("{APP_URL}/auth/callback");
    assert_url(
        &loc,
        &format!("{}/authorize", h.provider.base_url()),
        &[
            ("response_type", Some("code")),
            ("client_id", Some(&h.client.client_id)),
            ("redirect_uri", Some(&redirect_uri)),
            ("scope", Some("openid aq:name email~rs aq:push")),
            ("state", None),
            ("nonce", None),
            ("code_challenge", None),
            ("code_challenge_method", Some("S256")),
        ],
    );
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(param(&loc, "code_challenge").map(|c| c.len()), Some(43));
    let state = param(&loc, "state").expect("state");
    let nonce = param(&loc, "nonce").expect("nonce");
    assert!(state.len() >= 43 && nonce.len() >= 43 && state != nonce);
    let flow_name = res
        .set_cookies()
        .into_iter()
        .find_map(|c| c.split_once('=').map(|(n, _)| n.to_owned()))
        .filter(|n| n.starts_with("authentiq_flow_"))
        .expect("flow cookie");
    assert_eq!(res.set_cookies().len(), 1, "{:?}", res.set_cookies());
    let flow = assert_cookie(
        &res,
        &flow_name,
        None,
        &["HttpOnly", "SameSite=Lax", "Max-Age=600", "Path=/"],
    );
    assert!(!flow.contains(&state), "the flow cookie is encrypted");
    let (again, _) = start_login(&app, "/").await;
    assert_ne!(
        param(again.header("location").unwrap_or(""), "state"),
        Some(state),
        "fresh state per login"
    );
}

/// A tampered session cookie is no session: 401 (or the login redirect), never a 500, and
/// the cookie is removed.
pub async fn tampered_session_cookie<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let mut jar = sign_in(&h, &app).await;
    let v = jar.get(session_name()).unwrap_or_default().to_owned();
    let mut bytes = v.into_bytes();
    let i = bytes.len() / 2;
    bytes[i] = if bytes[i] == b'A' { b'B' } else { b'A' };
    jar.set(
        session_name(),
        &String::from_utf8(bytes).unwrap_or_default(),
    );
    let res = app.call(api("/me").cookies(&jar)).await;
    refused(&res, 401, "session_invalid", says::TAMPERED);
    assert!(
        removes_session(&res),
        "the bad cookie is removed: {:?}",
        res.set_cookies()
    );
    let res = app.call(browser("/me").cookies(&jar)).await;
    assert_status(&res, 303, "browser with tampered cookie");
    assert_eq!(res.header("location"), Some("/auth/login?return_to=%2Fme"));
    for garbage in ["", "%%%", "a.b.c", "\"unbalanced", "===="] {
        jar.set(session_name(), garbage);
        let res = app.call(api("/maybe").cookies(&jar)).await;
        assert_status(&res, 200, "optional route with a garbage cookie");
        assert_eq!(res.json(), json!({"sub": null}));
    }
}

/// An unusable session cookie is removed by exactly one `Set-Cookie`, which the layer adds to
/// the handler's own answer on an optional route and to the refusal on a guarded one.
pub async fn garbage_session_cookie_removed_once<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let mut jar = Jar::new();
    jar.set(session_name(), "garbage");
    let res = app.call(api("/maybe").cookies(&jar)).await;
    assert_status(&res, 200, "optional route with a garbage cookie");
    assert_eq!(res.json(), json!({"sub": null}));
    assert_eq!(res.set_cookies().len(), 1, "{:?}", res.set_cookies());
    assert!(
        removes_session(&res),
        "the handler's answer removes the cookie: {:?}",
        res.set_cookies()
    );
    let res = app.call(api("/me").cookies(&jar)).await;
    refused(&res, 401, "session_invalid", says::TAMPERED);
    assert_eq!(res.set_cookies().len(), 1, "{:?}", res.set_cookies());
    assert!(
        removes_session(&res),
        "the refusal removes the cookie: {:?}",
        res.set_cookies()
    );
    // Without a session cookie there is nothing to remove.
    let res = app.call(api("/maybe")).await;
    assert_status(&res, 200, "optional route without a cookie");
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
}

/// A session past its absolute lifetime is refused.
pub async fn expired_session_cookie<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let mut data = session_data(&h, "someone");
    data.iat -= 7200;
    data.exp = data.iat + 3600;
    let cookie = h.auth.session_cookie(&data).await.expect("seal");
    let res = me_with(&app, &cookie).await;
    refused(&res, 401, "session_invalid", says::EXPIRED);
    // The same session, still within its lifetime, is accepted: the refusal is the expiry.
    let fresh = h
        .auth
        .session_cookie(&session_data(&h, "someone"))
        .await
        .expect("seal");
    assert_status(&me_with(&app, &fresh).await, 200, "fresh session");
}

/// A session unused for longer than the idle timeout is refused.
pub async fn idle_session_cookie<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let mut data = session_data(&h, "someone");
    data.seen -= h.auth.config().session.idle.as_secs() + 5;
    let cookie = h.auth.session_cookie(&data).await.expect("seal");
    let res = me_with(&app, &cookie).await;
    refused(&res, 401, "session_invalid", says::IDLE);
}

/// Cookies sealed by another app's key, or for another client, are refused.
pub async fn foreign_session_cookie<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let other = h.other(|b| b.session_key(vec![9u8; 64])).await;
    let cookie = other
        .session_cookie(&session_data(&h, "mallory"))
        .await
        .expect("seal");
    let res = me_with(&app, &cookie).await;
    refused(&res, 401, "session_invalid", says::TAMPERED);
    let mut data = session_data(&h, "mallory");
    data.aud = "another-client".into();
    let cookie = h.auth.session_cookie(&data).await.expect("seal");
    let res = me_with(&app, &cookie).await;
    refused(&res, 401, "session_invalid", says::FOREIGN);
}

/// A callback whose state is not the one this browser started is refused, with no session.
pub async fn state_mismatch<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (callback, jar) = approved(&h, &app, "/", &Approval::default()).await;
    let state = param(&callback, "state").expect("state");
    let code = param(&callback, "code").expect("code");
    // Entirely different state, and a state that shares the cookie key but not the rest.
    let forged_tail = format!("{}{}", &state[..12], "x".repeat(state.len() - 12));
    for forged in ["attacker-state".to_owned(), forged_tail] {
        let uri = format!("/auth/callback?code={code}&state={forged}");
        let res = app.call(api(&uri).cookies(&jar)).await;
        refused(&res, 400, "state_mismatch", says::STATE_MISMATCH);
        no_session_created(&app, &res, &jar).await;
    }
    assert_eq!(
        h.provider.token_request_count_for(&h.client.client_id),
        0,
        "the code is never exchanged"
    );
}

/// A callback without the flow cookie (expired, or another browser) is refused.
pub async fn missing_flow_cookie<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (callback, _) = approved(&h, &app, "/", &Approval::default()).await;
    let res = app.call(api(&callback)).await;
    refused(&res, 400, "flow_missing", says::FLOW_MISSING);
    no_session_created(&app, &res, &Jar::new()).await;
    let res = app.call(browser(&callback)).await;
    assert_status(&res, 400, "flow missing, HTML");
    assert_eq!(res.header("content-type"), Some("text/html; charset=utf-8"));
    assert!(
        res.text().contains("<code>flow_missing</code>"),
        "{}",
        res.text()
    );
    no_session_created(&app, &res, &Jar::new()).await;
}

/// A callback consumes its flow: the answer removes the flow cookie, so the same browser
/// replaying the callback has no sign-in in progress; a copy of the old flow cookie replayed
/// with the code is refused too, before the provider is asked again.
pub async fn code_replay<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (callback, copy) = approved(&h, &app, "/me", &Approval::default()).await;
    let flow_name = copy
        .names()
        .into_iter()
        .find(|n| n.starts_with("authentiq_flow_"))
        .expect("a flow cookie")
        .to_owned();
    let first = app.call(browser(&callback).cookies(&copy)).await;
    assert_status(&first, 303, "first callback");
    assert_cookie(
        &first,
        &flow_name,
        Some(""),
        &["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"],
    );
    let mut jar = copy.clone();
    jar.apply(&first);
    assert_eq!(jar.get(&flow_name), None);
    assert_eq!(h.provider.token_request_count_for(&h.client.client_id), 1);

    // The same browser, replaying: no flow in progress, so no session from the replay.
    jar.remove(session_name());
    let replay = app.call(api(&callback).cookies(&jar)).await;
    refused(&replay, 400, "flow_missing", says::FLOW_MISSING);
    no_session_created(&app, &replay, &jar).await;
    // A copy of the flow cookie, replayed with the code: the flow was completed.
    let replay = app.call(api(&callback).cookies(&copy)).await;
    refused(&replay, 400, "flow_missing", says::FLOW_MISSING);
    no_session_created(&app, &replay, &copy).await;
    assert_eq!(
        h.provider.token_request_count_for(&h.client.client_id),
        1,
        "the code is never exchanged twice"
    );
}

/// The provider's `error=access_denied` becomes a 403 with no session.
pub async fn provider_error_callback<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (res, jar) = start_login(&app, "/").await;
    let denied = h
        .provider
        .deny(res.header("location").unwrap_or_default())
        .expect("deny");
    let res = app.call(api(&local(&denied)).cookies(&jar)).await;
    refused(
        &res,
        403,
        "access_denied",
        "the provider refused the sign-in: access_denied",
    );
    no_session_created(&app, &res, &jar).await;
}

/// The provider going away and coming back: the callback that needed it answers 503
/// `provider_unavailable` (JSON for API clients, an HTML page for browsers, never 500), the
/// session that exists keeps working, and sign-in works again once the provider is back,
/// without rebuilding the app. The case runs a provider of its own, since it stops it.
pub async fn provider_down_gets_503<F: Framework>() {
    let run = async {
        let provider = DevProvider::start().expect("a provider of its own starts on loopback");
        let client = provider.register_client(authentiq_dev::ClientRegistration {
            redirect_uris: vec![format!("{APP_URL}/auth/callback")],
            ..Default::default()
        });
        let key = vec![0x5a; 64];
        let auth = Authentiq::builder(provider.issuer(), &client.client_id)
            .client_secret(&client.client_secret)
            .public_url(APP_URL)
            .session_key(key.clone())
            .build()
            .await
            .expect("the SDK configures itself against its provider");
        let h = Harness {
            provider,
            client,
            auth,
            key,
        };
        let app = F::app(h.auth.clone()).await;
        let session = sign_in(&h, &app).await;

        h.provider.shutdown();
        let (callback, flow) = approved(&h, &app, "/me", &Approval::default()).await;
        let res = app.call(api(&callback).cookies(&flow)).await;
        assert_eq!(
            res.json()["error"],
            "provider_unavailable",
            "{}",
            res.text()
        );
        let text = description(&res);
        assert!(text.starts_with("the provider is unavailable: "), "{text}");
        refused(&res, 503, "provider_unavailable", &text);
        no_session_created(&app, &res, &flow).await;
        let (callback, flow) = approved(&h, &app, "/me", &Approval::default()).await;
        let res = app.call(browser(&callback).cookies(&flow)).await;
        assert_status(&res, 503, "browser callback while the provider is away");
        assert!(
            res.header("content-type")
                .is_some_and(|c| c.starts_with("text/html")),
            "an HTML page for the browser"
        );
        assert!(
            res.text().contains("provider_unavailable"),
            "{}",
            res.text()
        );
        let res = app.call(api("/me").cookies(&session)).await;
        assert_status(&res, 200, "the existing session while the provider is away");

        h.provider.resume().expect("the provider comes back");
        let again = sign_in(&h, &app).await;
        let res = app.call(api("/me").cookies(&again)).await;
        assert_status(&res, 200, "a new sign-in after the provider came back");
    };
    tokio::time::timeout(std::time::Duration::from_secs(60), run)
        .await
        .expect("the case finished in time");
}

/// A required (`~r`) scope the user did not grant fails the sign-in.
pub async fn required_scope_declined<F: Framework>() {
    let h = Harness::with(|b| b.scope("aq:name phone~r")).await;
    let app = F::app(h.auth.clone()).await;
    let approval = Approval {
        grant: Grant::Only(vec!["aq:name".into()]),
        ignore_required: true,
        ..Approval::default()
    };
    let (callback, jar) = approved(&h, &app, "/", &approval).await;
    let res = app.call(api(&callback).cookies(&jar)).await;
    refused(
        &res,
        403,
        "required_scope_declined",
        "required scopes were declined: phone",
    );
    no_session_created(&app, &res, &jar).await;
    // With the scope granted, the same flow succeeds: the refusal is the missing scope.
    let (res, _) = sign_in_with(&h, &app, "/", &Approval::default()).await;
    assert_status(&res, 303, "granted");
}

async fn offsite<F: Framework>(target: &str) {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (res, _) = sign_in_with(&h, &app, target, &Approval::default()).await;
    assert_status(&res, 303, "callback");
    assert_eq!(
        res.header("location"),
        Some("/"),
        "return_to {target} falls back to /"
    );
}

/// `return_to=https://evil.example` falls back to `/`.
pub async fn offsite_return_to_absolute<F: Framework>() {
    offsite::<F>("https://evil.example").await;
}

/// `return_to=//evil.example` falls back to `/`.
pub async fn offsite_return_to_protocol_relative<F: Framework>() {
    offsite::<F>("//evil.example").await;
}

/// `return_to=/\evil.example` falls back to `/`.
pub async fn offsite_return_to_backslash<F: Framework>() {
    offsite::<F>("/\\evil.example").await;
}

/// Logout ends the session (a copy of the old cookie is refused too) and sends the browser
/// to the provider's end-session endpoint with `id_token_hint`.
pub async fn logout_ends_session<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let copy = jar.clone();
    let res = app
        .call(
            TestRequest::new("POST", "/auth/logout")
                .header("origin", APP_URL)
                .cookies(&jar),
        )
        .await;
    assert_status(&res, 303, "logout");
    let loc = res.header("location").unwrap_or_default();
    let back = format!("{APP_URL}/");
    assert_url(
        loc,
        &format!("{}/authorize/logout", h.provider.base_url()),
        &[
            ("id_token_hint", None),
            ("post_logout_redirect_uri", Some(&back)),
            ("state", None),
            ("client_id", Some(&h.client.client_id)),
        ],
    );
    assert!(param(loc, "id_token_hint").is_some_and(|t| t.split('.').count() == 3));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_cookie(
        &res,
        session_name(),
        Some(""),
        &["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"],
    );
    let res = app.call(api("/me").cookies(&copy)).await;
    refused(&res, 401, "session_invalid", says::ENDED);
    // Without a session, logout still answers with a redirect home.
    let res = app
        .call(TestRequest::new("POST", "/auth/logout").header("origin", APP_URL))
        .await;
    assert_status(&res, 303, "anonymous logout");
    assert_eq!(res.header("location"), Some("/"));
    let res = app.call(api("/auth/logout")).await;
    refused(&res, 405, "method_not_allowed", says::METHOD);
    assert_eq!(res.header("allow"), Some("POST"));
}

/// A logout posted from another origin is refused and the session stays.
pub async fn logout_from_other_origin_refused<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let res = app
        .call(
            TestRequest::new("POST", "/auth/logout")
                .header("origin", "https://evil.example")
                .header("accept", "application/json")
                .cookies(&jar),
        )
        .await;
    refused(&res, 403, "cross_origin", says::CROSS_ORIGIN);
    assert_status(
        &app.call(api("/me").cookies(&jar)).await,
        200,
        "session kept",
    );
}

/// A valid back-channel logout token ends the session with its `sid`; a replay and a token
/// with a nonce are refused with 400.
pub async fn backchannel_logout_ends_session<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let me = app.call(api("/me").cookies(&jar)).await.json();
    let sid = me["sid"]
        .as_str()
        .expect("the provider sends sid")
        .to_owned();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let claims = |jti: &str, extra: Value| {
        let mut c = json!({
            "iss": h.provider.issuer(), "aud": h.client.client_id, "iat": now, "exp": now + 120,
            "jti": jti, "sid": sid,
            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
        });
        if let (Some(o), Some(e)) = (c.as_object_mut(), extra.as_object()) {
            o.extend(e.clone());
        }
        c
    };
    let header = json!({"alg": "HS256", "typ": "logout+jwt"});
    let post = |token: String| {
        TestRequest::new("POST", "/auth/backchannel-logout")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("logout_token={token}"))
    };
    let with_nonce = authentiq_dev::keys::hs256(
        h.client.client_secret.as_bytes(),
        &header,
        &claims("n1", json!({"nonce": "x"})),
    );
    let res = app.call(post(with_nonce)).await;
    refused(
        &res,
        400,
        "invalid_token",
        &says::bad_token("the token carries a nonce where none is allowed"),
    );
    assert_status(
        &app.call(api("/me").cookies(&jar)).await,
        200,
        "session survives an invalid token",
    );

    let token = authentiq_dev::keys::hs256(
        h.client.client_secret.as_bytes(),
        &header,
        &claims("j1", json!({})),
    );
    let res = app.call(post(token.clone())).await;
    assert_status(&res, 200, "back-channel logout");
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.text(), "");
    let res = app.call(api("/me").cookies(&jar)).await;
    refused(&res, 401, "session_invalid", says::ENDED);
    let res = app.call(post(token)).await;
    refused(
        &res,
        400,
        "invalid_token",
        &says::bad_token("the logout token was already used"),
    );
}

/// A CORS preflight reaches the app's OPTIONS handler; the guard does not answer it.
pub async fn cors_preflight_not_blocked<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let res = app
        .call(
            TestRequest::new("OPTIONS", "/me")
                .header("origin", "https://spa.example")
                .header("access-control-request-method", "GET"),
        )
        .await;
    assert_status(&res, 204, "preflight");
}

/// A guard without the layer answers 500 with a message that says what to install.
pub async fn missing_layer<F: Framework>() {
    let h = Harness::new().await;
    let app = F::bare(h.auth.clone()).await;
    for req in [api("/me"), browser("/me")] {
        let res = app.call(req).await;
        assert_status(&res, 500, "missing layer");
        assert_eq!(res.header("content-type"), Some("application/json"));
        assert_eq!(res.text(), NOT_CONFIGURED);
    }
}

/// A handler that takes the rejection can answer its own way.
pub async fn customized_rejection<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let res = app.call(browser("/custom")).await;
    assert_status(&res, 418, "custom");
    assert_eq!(res.json(), json!({"custom": "unauthenticated"}));
    let jar = sign_in(&h, &app).await;
    let res = app.call(browser("/custom").cookies(&jar)).await;
    assert_status(&res, 200, "custom with session");
}

/// A valid browser-channel ID Token (asymmetric) as `Authorization: Bearer` is accepted.
pub async fn bearer_valid<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        let token = h.provider.mint_id_token_with(
            &h.client.client_id,
            alg,
            "api-user",
            json!({"email": "api@example.com"}),
        );
        for path in ["/api/me", "/me"] {
            let res = app
                .call(api(path).header("authorization", &format!("Bearer {token}")))
                .await;
            assert_status(&res, 200, path);
            let claims = res.json();
            assert_eq!(claims["sub"], "api-user");
            assert_eq!(claims["email"], "api@example.com");
            assert!(
                res.set_cookies().is_empty(),
                "bearer requests get no cookie"
            );
        }
    }
}

/// `/api/me` without a token: 401 with a bare `Bearer` challenge, even for browsers.
pub async fn bearer_missing<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    for req in [
        api("/api/me"),
        browser("/api/me"),
        api("/api/me").cookies(&jar),
    ] {
        let res = app.call(req).await;
        refused(&res, 401, "unauthenticated", "authentication is required");
        assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());
    }
}

/// A bad bearer token: 401 with `error="invalid_token"`.
pub async fn bearer_invalid<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let token =
        h.provider
            .mint_id_token_with(&h.client.client_id, Alg::RS256, "api-user", json!({}));
    let (head, _) = token.rsplit_once('.').unwrap_or_default();
    let forged = format!("{head}.{}", "A".repeat(342));
    let no_single = "the token is malformed: the Authorization header holds no single token";
    for (value, check) in [
        (format!("Bearer {forged}"), "the signature does not verify"),
        (
            "Bearer not-a-token".into(),
            "the token is malformed: not a compact JWS",
        ),
        ("Bearer ".into(), no_single),
        ("Bearer a b".into(), no_single),
    ] {
        let res = app
            .call(api("/api/me").header("authorization", &value))
            .await;
        refused(&res, 401, "invalid_token", &says::bad_token(check));
    }
}

/// An HS256 token (valid only from the token endpoint) is refused as a bearer token.
pub async fn bearer_hs256_refused<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let token =
        h.provider
            .mint_id_token_with(&h.client.client_id, Alg::HS256, "api-user", json!({}));
    let res = app
        .call(api("/api/me").header("authorization", &format!("Bearer {token}")))
        .await;
    refused(
        &res,
        401,
        "invalid_token",
        &says::bad_token("algorithm HS256 is not allowed for tokens from the browser"),
    );
}

/// AuthentiqJS forwards the response as JSON: 200 with the claims and a session cookie.
pub async fn callback_post_json<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (callback, mut jar) = approved(&h, &app, "/", &Approval::default()).await;
    let body = json!({"code": param(&callback, "code"), "state": param(&callback, "state")});
    let res = app.call(json_callback(&jar, &body)).await;
    assert_status(&res, 200, "JSON callback");
    assert_eq!(res.json()["email"], Approval::default().email);
    jar.apply(&res);
    assert_status(
        &app.call(api("/me").cookies(&jar)).await,
        200,
        "session from the JSON callback",
    );
    let res = app
        .call(
            TestRequest::new("POST", "/auth/callback")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    refused(
        &res,
        400,
        "invalid_request",
        "invalid request: the JSON body is not a callback object",
    );
    no_session_created(&app, &res, &Jar::new()).await;
}

/// A form `POST /auth/callback` (the provider's `response_mode=form_post`, or a page posting
/// the response) completes like the redirect: 303 to `return_to`, a session, no flow cookie.
pub async fn callback_form_post<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (callback, mut jar) = approved(&h, &app, "/me?tab=1", &Approval::default()).await;
    let flow_name = jar
        .names()
        .into_iter()
        .find(|n| n.starts_with("authentiq_flow_"))
        .expect("a flow cookie")
        .to_owned();
    let form = callback.split_once('?').map_or("", |(_, q)| q).to_owned();
    let res = app
        .call(
            TestRequest::new("POST", "/auth/callback")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .cookies(&jar)
                .body(form.clone()),
        )
        .await;
    assert_status(&res, 303, "form callback");
    assert_eq!(res.header("location"), Some("/me?tab=1"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let max_age = format!("Max-Age={}", h.auth.config().session.absolute.as_secs());
    assert_cookie(
        &res,
        session_name(),
        None,
        &["HttpOnly", "SameSite=Lax", "Path=/", &max_age],
    );
    assert_cookie(
        &res,
        &flow_name,
        Some(""),
        &["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"],
    );
    jar.apply(&res);
    assert_status(
        &app.call(api("/me").cookies(&jar)).await,
        200,
        "session from the form callback",
    );

    // The same form with a state of another sign-in is refused, and creates nothing.
    let (other, jar) = approved(&h, &app, "/", &Approval::default()).await;
    let forged = form.replace(
        &param(&callback, "state").unwrap_or_default(),
        &param(&other, "state")
            .map(|s| s.chars().rev().collect::<String>())
            .unwrap_or_default(),
    );
    let res = app
        .call(
            TestRequest::new("POST", "/auth/callback")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .cookies(&jar)
                .body(forged),
        )
        .await;
    refused(&res, 400, "state_mismatch", says::STATE_MISMATCH);
    no_session_created(&app, &res, &jar).await;
}

/// AuthentiqJS forwarding an ID Token (no code) as JSON: the token is judged on the browser
/// channel's rules (asymmetric signature, this flow's nonce): 200 with the claims and a session
/// when it passes; a 400 `invalid_id_token` naming the failed check, and no session, when it
/// is HS256 or carries another nonce.
pub async fn callback_json_with_id_token<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let flow = || async {
        let (res, jar) = start_login(&app, "/").await;
        let loc = res.header("location").unwrap_or_default().to_owned();
        (
            param(&loc, "state").unwrap_or_default(),
            param(&loc, "nonce").unwrap_or_default(),
            jar,
        )
    };
    let mint = |alg: Alg, nonce: &str| {
        h.provider.mint_id_token_with(
            &h.client.client_id,
            alg,
            "forwarded-user",
            json!({"nonce": nonce, "email": "fwd@example.com", "email_verified": true}),
        )
    };

    let (state, nonce, mut jar) = flow().await;
    let res = app
        .call(json_callback(
            &jar,
            &json!({"id_token": mint(Alg::ES256, &nonce), "state": state}),
        ))
        .await;
    assert_status(&res, 200, "forwarded ID Token");
    let claims = res.json();
    assert_eq!(claims["sub"], "forwarded-user");
    assert_eq!(claims["email"], "fwd@example.com");
    assert_eq!(claims["iss"], h.provider.issuer());
    jar.apply(&res);
    let me = app.call(api("/me").cookies(&jar)).await;
    assert_status(&me, 200, "session from the forwarded ID Token");
    assert_eq!(me.json()["sub"], "forwarded-user");

    let refusals = [
        (
            Alg::HS256,
            None,
            "algorithm HS256 is not allowed for tokens from the browser",
        ),
        (
            Alg::RS256,
            Some("another-nonce"),
            "the nonce does not match",
        ),
    ];
    for (alg, other_nonce, check) in refusals {
        let (state, nonce, jar) = flow().await;
        let token = mint(alg, other_nonce.unwrap_or(&nonce));
        let res = app
            .call(json_callback(
                &jar,
                &json!({"id_token": token, "state": state}),
            ))
            .await;
        refused(&res, 400, "invalid_id_token", &says::bad_id_token(check));
        no_session_created(&app, &res, &jar).await;
    }
}

/// An auth route refuses a body over [`MAX_BODY`] (64 KiB) with 413 `payload_too_large`,
/// whatever its type, and reads a body of exactly that size.
pub async fn oversized_body_gets_413<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let post = |content_type: &str, body: Vec<u8>| {
        TestRequest::new("POST", "/auth/callback")
            .header("content-type", content_type)
            .header("accept", "application/json")
            .header("origin", APP_URL)
            .body(body)
    };
    for content_type in ["application/x-www-form-urlencoded", "application/json"] {
        let res = app.call(post(content_type, vec![b'a'; MAX_BODY + 1])).await;
        refused(&res, 413, "payload_too_large", says::TOO_LARGE);
    }
    // A body of exactly the limit is read and judged: a callback (with a state of the form
    // the SDK issues) without its flow cookie.
    let mut body = json!({"code": "c", "state": "s".repeat(43)})
        .to_string()
        .into_bytes();
    body.resize(MAX_BODY, b' ');
    let res = app.call(post("application/json", body)).await;
    refused(&res, 400, "flow_missing", says::FLOW_MISSING);
}

/// The ID Token a logout hands to the provider as `id_token_hint` opens nothing afterwards:
/// before the logout it is a valid bearer token on `/api/me`, after it 401 `invalid_token`.
pub async fn logout_ends_the_id_token_as_bearer<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let me = app.call(api("/me").cookies(&jar)).await.json();
    let sub = me["sub"].as_str().expect("sub").to_owned();
    // The provider signs token-endpoint ID Tokens with HS256 (never valid as a bearer), so the
    // sign-in's ID Token is presented as the RS256 token of the same provider session that a
    // browser-side client would hold.
    let bearer = h.provider.mint_id_token_with(
        &h.client.client_id,
        authentiq_dev::Alg::RS256,
        &sub,
        json!({"sid": me["sid"], "iat": unix_now() - 5}),
    );
    let res = app
        .call(api("/api/me").header("authorization", &format!("Bearer {bearer}")))
        .await;
    assert_status(&res, 200, "the bearer token before the logout");
    let res = app
        .call(
            TestRequest::new("POST", "/auth/logout")
                .header("origin", APP_URL)
                .cookies(&jar),
        )
        .await;
    assert_status(&res, 303, "logout");
    assert!(param(res.header("location").unwrap_or_default(), "id_token_hint").is_some());
    let res = app
        .call(api("/api/me").header("authorization", &format!("Bearer {bearer}")))
        .await;
    refused(
        &res,
        401,
        "invalid_token",
        &says::bad_token("the token was issued before a logout that ended it"),
    );
    // A token of the same user in another provider session is untouched.
    let other = h.provider.mint_id_token_with(
        &h.client.client_id,
        authentiq_dev::Alg::RS256,
        &sub,
        json!({"sid": "another-provider-session"}),
    );
    let res = app
        .call(api("/api/me").header("authorization", &format!("Bearer {other}")))
        .await;
    assert_status(&res, 200, "another provider session");
}

/// Back-channel logout by `sub` alone ends that user's sessions and bearer tokens that began
/// before the token's `iat`; a token issued after it lives.
pub async fn backchannel_logout_by_sub_only<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let sub = app.call(api("/me").cookies(&jar)).await.json()["sub"]
        .as_str()
        .expect("sub")
        .to_owned();
    let now = unix_now();
    let token = logout_token(&h, json!({"sub": sub, "jti": "by-sub", "iat": now + 2}));
    let res = app.call(backchannel(token)).await;
    assert_status(&res, 200, "back-channel logout by sub");
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let res = app.call(api("/me").cookies(&jar)).await;
    refused(&res, 401, "session_invalid", says::ENDED);
    let bearer = |iat: u64| {
        h.provider.mint_id_token_with(
            &h.client.client_id,
            authentiq_dev::Alg::RS256,
            &sub,
            json!({"iat": iat}),
        )
    };
    let res = app
        .call(api("/api/me").header("authorization", &format!("Bearer {}", bearer(now))))
        .await;
    refused(
        &res,
        401,
        "invalid_token",
        &says::bad_token("the token was issued before a logout that ended it"),
    );
    let res = app
        .call(api("/api/me").header("authorization", &format!("Bearer {}", bearer(now + 3))))
        .await;
    assert_status(&res, 200, "a token issued after the logout");
}

/// Each check of a logout token, failed alone, is a 400 `invalid_token` that names the check
/// and ends nothing: bad signature, `iss`, `aud`, `events`, `jti`, `exp`.
pub async fn backchannel_logout_refuses_each_bad_token<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let sid = app.call(api("/me").cookies(&jar)).await.json()["sid"]
        .as_str()
        .expect("sid")
        .to_owned();
    let now = unix_now();
    let forged = authentiq_dev::keys::hs256(
        b"not-the-client-secret",
        &json!({"alg": "HS256", "typ": "logout+jwt"}),
        &json!({"iss": h.provider.issuer(), "aud": h.client.client_id, "iat": now,
                "jti": "forged", "sid": sid,
                "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
    );
    let cases = [
        (forged, "the signature does not verify"),
        (
            logout_token(
                &h,
                json!({"sid": sid, "jti": "b1", "iss": "https://evil.example/"}),
            ),
            "the issuer does not match",
        ),
        (
            logout_token(&h, json!({"sid": sid, "jti": "b2", "aud": "someone-else"})),
            "the audience does not include this client",
        ),
        (
            logout_token(&h, json!({"sid": sid, "jti": "b3", "events": {}})),
            "the logout token lacks the back-channel logout event",
        ),
        (
            logout_token(&h, json!({"sid": sid, "jti": null})),
            "required claim `jti` is missing or malformed",
        ),
        (
            logout_token(&h, json!({"sid": sid, "jti": "b5", "exp": now - 600})),
            "the token has expired",
        ),
    ];
    for (token, check) in cases {
        let res = app.call(backchannel(token)).await;
        refused(&res, 400, "invalid_token", &says::bad_token(check));
    }
    assert_status(
        &app.call(api("/me").cookies(&jar)).await,
        200,
        "no bad token ended the session",
    );
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A logout token for the harness's client, signed with its secret; `claims` override the
/// defaults (a `null` removes one).
fn logout_token(h: &Harness, claims: Value) -> String {
    let mut c = json!({
        "iss": h.provider.issuer(), "aud": h.client.client_id, "iat": unix_now(),
        "jti": "j", "events": {"http://schemas.openid.net/event/backchannel-logout": {}}
    });
    if let (Some(o), Some(e)) = (c.as_object_mut(), claims.as_object()) {
        for (k, v) in e {
            if v.is_null() {
                o.remove(k);
            } else {
                o.insert(k.clone(), v.clone());
            }
        }
    }
    authentiq_dev::keys::hs256(
        h.client.client_secret.as_bytes(),
        &json!({"alg": "HS256", "typ": "logout+jwt"}),
        &c,
    )
}

fn backchannel(token: String) -> TestRequest {
    TestRequest::new("POST", "/auth/backchannel-logout")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("logout_token={token}"))
}

/// Every value of header `name`, joined as one list.
fn header_list(res: &TestResponse, name: &str) -> String {
    res.headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Asserts that a response setting the session cookie keeps shared caches out: `private` or
/// `no-store`, and `Vary: Cookie`.
fn assert_not_shared_cacheable(res: &TestResponse, what: &str) {
    let cc = header_list(res, "cache-control").to_ascii_lowercase();
    assert!(
        cc.split(',')
            .any(|d| matches!(d.trim(), "private" | "no-store")),
        "{what}: Cache-Control {cc:?}; headers {:?}",
        res.headers
    );
    let vary = header_list(res, "vary").to_ascii_lowercase();
    assert!(
        vary.split(',').any(|v| v.trim() == "cookie"),
        "{what}: Vary {vary:?}; headers {:?}",
        res.headers
    );
}

/// Every response that sets the session cookie (sign-in, a guarded response that slides the
/// idle timer, a refusal that removes an unusable cookie) says `Cache-Control: private` or
/// `no-store`, and `Vary: Cookie`, so that no shared cache hands one user's session to another.
pub async fn session_cookie_responses_are_not_cached<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (res, _) = sign_in_with(&h, &app, "/me", &Approval::default()).await;
    assert_status(&res, 303, "callback");
    assert_not_shared_cacheable(&res, "sign-in");

    let mut data = session_data(&h, "someone");
    data.seen -= h.auth.config().session.idle.as_secs() / 2;
    let cookie = h.auth.session_cookie(&data).await.expect("seal");
    let res = me_with(&app, &cookie).await;
    assert_status(&res, 200, "guarded route with a sliding session");
    assert!(
        res.set_cookies()
            .iter()
            .any(|c| c.starts_with(&format!("{}=", session_name()))),
        "the idle timer is refreshed: {:?}",
        res.headers
    );
    assert_not_shared_cacheable(&res, "refreshed session on a guarded route");

    let mut jar = Jar::new();
    jar.set(session_name(), "garbage");
    let res = app.call(api("/maybe").cookies(&jar)).await;
    assert!(removes_session(&res), "removal: {:?}", res.headers);
    assert_not_shared_cacheable(&res, "removed session on an optional route");
    let res = app.call(api("/me").cookies(&jar)).await;
    assert_status(&res, 401, "refused with a garbage cookie");
    assert_eq!(res.json()["error"], "session_invalid");
    assert!(removes_session(&res), "removal: {:?}", res.headers);
    assert_not_shared_cacheable(&res, "removed session on a refused request");
}

/// A bearer token whose header `alg` (or `typ`, or `kid`) holds CR/LF gets a 401 whose
/// `WWW-Authenticate: Bearer error="invalid_token", ...` is intact, on every framework.
pub async fn bearer_header_text_cannot_break_challenge<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let key = h.provider.signing_key(Alg::RS256).expect("an RS256 key");
    let genuine =
        h.provider
            .mint_id_token_with(&h.client.client_id, Alg::RS256, "api-user", json!({}));
    let payload = genuine.split('.').nth(1).unwrap_or_default();
    let payload: Value = url_b64_json(payload);
    for header in [
        json!({"alg": "RS256\r\nx-injected: 1", "kid": key.kid()}),
        json!({"alg": "RS256", "typ": "JWT\r\n\r\n<h1>hi</h1>", "kid": key.kid()}),
        json!({"alg": "RS256", "kid": "nope\r\nx-injected: 1"}),
    ] {
        let token = key.sign_jws(&header, &payload);
        let res = app
            .call(api("/api/me").header("authorization", &format!("Bearer {token}")))
            .await;
        // Whatever the refusal says, the challenge repeats it in safe text.
        refused(&res, 401, "invalid_token", &description(&res));
        let challenge = res.header("www-authenticate").unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", error_description=\"")
                && challenge.ends_with('"')
                && !challenge.chars().any(char::is_control),
            "{header}: challenge {challenge:?}; headers {:?}",
            res.headers
        );
        assert!(res.header("x-injected").is_none());
        assert!(
            !description(&res).chars().any(char::is_control),
            "{header}: {}",
            description(&res)
        );
    }
}

/// A callback `state` that is not what the SDK issues (43 base64url characters), CR/LF
/// included, is refused as `state_mismatch` with no `Set-Cookie` named after it.
pub async fn hostile_state_names_no_cookie<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (callback, jar) = approved(&h, &app, "/", &Approval::default()).await;
    let state = param(&callback, "state").expect("state");
    assert_eq!(state.len(), 43, "the SDK's state: {state}");
    let code = param(&callback, "code").expect("code");
    for forged in [
        format!("{}\r\nx-injected: 1", &state[..12]),
        format!("{state}x"),
        format!("{}.", &state[..42]),
    ] {
        let enc: String = url::form_urlencoded::byte_serialize(forged.as_bytes()).collect();
        let res = app
            .call(api(&format!("/auth/callback?code={code}&state={enc}")).cookies(&jar))
            .await;
        refused(&res, 400, "state_mismatch", says::STATE_MISMATCH);
        no_session_created(&app, &res, &jar).await;
        assert!(
            res.set_cookies().is_empty(),
            "{forged:?}: {:?}",
            res.set_cookies()
        );
        assert!(res.header("x-injected").is_none());
    }
    assert_eq!(h.provider.token_request_count_for(&h.client.client_id), 0);
}

/// The JSON of a base64url JWT part.
fn url_b64_json(part: &str) -> Value {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in part.bytes() {
        let Some(v) = ALPHABET.iter().position(|&a| a == c) else {
            break;
        };
        bits = (bits << 6) | v as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    serde_json::from_slice(&out).unwrap_or_default()
}

/// `POST /auth/forget` from the app's own origin removes the remembered-device cookie (and
/// nothing else) and redirects home; from another origin it is refused and removes nothing;
/// any other method is 405.
pub async fn forget_removes_remembered_device<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let jar = sign_in(&h, &app).await;
    let forget = |origin: &str| {
        TestRequest::new("POST", "/auth/forget")
            .header("origin", origin)
            .header("accept", "application/json")
            .cookies(&jar)
    };
    let res = app.call(forget("https://evil.example")).await;
    refused(&res, 403, "cross_origin", says::CROSS_ORIGIN);
    assert!(res.set_cookies().is_empty(), "{:?}", res.set_cookies());

    let res = app.call(forget(APP_URL)).await;
    assert_status(&res, 303, "forget");
    assert_eq!(res.header("location"), Some("/"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    assert_eq!(res.set_cookies().len(), 1, "{:?}", res.set_cookies());
    assert_cookie(
        &res,
        "authentiq_device",
        Some(""),
        &["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"],
    );
    let mut after = jar.clone();
    after.apply(&res);
    assert_status(
        &app.call(api("/me").cookies(&after)).await,
        200,
        "forgetting the device keeps the session",
    );

    let res = app.call(api("/auth/forget")).await;
    refused(&res, 405, "method_not_allowed", says::METHOD);
    assert_eq!(res.header("allow"), Some("POST"));
}

/// On an `https` public URL every cookie the SDK sets is `Secure` with the `__Host-` prefix
/// (no `Domain`, `Path=/`): the flow cookie (`SameSite=None` there, for `form_post`), the session
/// cookie, their removals at callback and logout, and the remembered-device cookie and removal.
/// A cookie without the prefix is not the session.
pub async fn https_cookies_are_secure_host_cookies<F: Framework>() {
    const SITE: &str = "https://app.example";
    let h = Harness::at(SITE, |b| b).await;
    let app = F::app(h.auth.clone()).await;
    let session = "__Host-authentiq_session";
    let secure = |max_age: &str| {
        ["HttpOnly", "SameSite=Lax", "Path=/", "Secure", max_age].map(str::to_owned)
    };
    let max_age = format!("Max-Age={}", h.auth.config().session.absolute.as_secs());

    let res = app.call(browser("/auth/login?return_to=%2Fme")).await;
    assert_status(&res, 303, "login");
    let flow_name = res
        .set_cookies()
        .into_iter()
        .find_map(|c| c.split_once('=').map(|(n, _)| n.to_owned()))
        .expect("a flow cookie");
    assert!(
        flow_name.starts_with("__Host-authentiq_flow_"),
        "{flow_name}"
    );
    // `SameSite=None`, so that a provider's cross-site form_post reaches the callback with it.
    assert_cookie(
        &res,
        &flow_name,
        None,
        &[
            "HttpOnly",
            "SameSite=None",
            "Path=/",
            "Secure",
            "Max-Age=600",
        ],
    );
    let mut jar = Jar::new();
    jar.apply(&res);
    let location = res.header("location").unwrap_or_default();
    let redirect_uri = format!("{SITE}/auth/callback");
    assert_eq!(param(location, "redirect_uri"), Some(redirect_uri.clone()));

    let callback = h
        .provider
        .approve(location, &Approval::default())
        .expect("approval");
    let callback = callback.strip_prefix(SITE).unwrap_or(&callback).to_owned();
    let res = app.call(browser(&callback).cookies(&jar)).await;
    assert_status(&res, 303, "callback");
    assert_eq!(res.header("location"), Some("/me"));
    assert_cookie(&res, session, None, &secure(&max_age));
    assert_cookie(&res, &flow_name, Some(""), &secure("Max-Age=0"));
    assert_cookie(
        &res,
        "__Host-authentiq_device",
        None,
        &secure(&format!("Max-Age={}", 90 * 86_400)),
    );
    jar.apply(&res);
    assert_status(
        &app.call(api("/me").cookies(&jar)).await,
        200,
        "the __Host- session",
    );

    // The same value under the unprefixed name is no session (a sibling domain could set it).
    let mut plain = Jar::new();
    plain.set("authentiq_session", jar.get(session).unwrap_or_default());
    refused(
        &app.call(api("/me").cookies(&plain)).await,
        401,
        "unauthenticated",
        "authentication is required",
    );

    let res = app
        .call(
            TestRequest::new("POST", "/auth/forget")
                .header("origin", SITE)
                .cookies(&jar),
        )
        .await;
    assert_status(&res, 303, "forget");
    assert_cookie(
        &res,
        "__Host-authentiq_device",
        Some(""),
        &secure("Max-Age=0"),
    );

    let res = app
        .call(
            TestRequest::new("POST", "/auth/logout")
                .header("origin", SITE)
                .cookies(&jar),
        )
        .await;
    assert_status(&res, 303, "logout");
    assert_cookie(&res, session, Some(""), &secure("Max-Age=0"));
    jar.apply(&res);
    assert_eq!(jar.get(session), None);
}

/// A signed scope (`~s`) is only as good as its verification: an unverified email is withheld
/// from the app (claims and `scope`) under `email~s`, and fails the sign-in under `email~rs`
/// (403 `unverified_claim` for a redirect, 400 for a forwarded JSON response, no session).
pub async fn signed_scopes_need_verified_values<F: Framework>() {
    // A provider that shares the unverified email regardless: the SDK's own check is what is
    // tested. (The development provider, like Authentiq, withholds it by default.)
    let unverified = Approval {
        email_verified: false,
        release_unverified: true,
        ..Approval::default()
    };
    let h = Harness::with(|b| b.scope("aq:name email~s")).await;
    let app = F::app(h.auth.clone()).await;
    let (res, jar) = sign_in_with(&h, &app, "/me", &unverified).await;
    assert_status(&res, 303, "an optional signed scope, unverified");
    let me = app.call(api("/me").cookies(&jar)).await;
    assert_status(&me, 200, "signed in without the email");
    let claims = me.json();
    assert!(
        claims.get("email").is_none() && claims.get("email_verified").is_none(),
        "the unverified email is withheld: {claims}"
    );
    assert!(
        !claims["scope"]
            .as_str()
            .unwrap_or_default()
            .split(' ')
            .any(|s| s == "email"),
        "email is not reported as granted: {claims}"
    );
    // Verified, the same scope releases the email: the withholding is the verification.
    let (_, jar) = sign_in_with(&h, &app, "/me", &Approval::default()).await;
    let claims = app.call(api("/me").cookies(&jar)).await.json();
    assert_eq!(claims["email"], Approval::default().email);

    let h = Harness::with(|b| b.scope("aq:name email~rs")).await;
    let app = F::app(h.auth.clone()).await;
    let said = "required verified claims came unverified: email";
    let (callback, jar) = approved(&h, &app, "/", &unverified).await;
    let res = app.call(api(&callback).cookies(&jar)).await;
    refused(&res, 403, "unverified_claim", said);
    no_session_created(&app, &res, &jar).await;
    let (callback, jar) = approved(&h, &app, "/", &unverified).await;
    let body = json!({"code": param(&callback, "code"), "state": param(&callback, "state")});
    let res = app.call(json_callback(&jar, &body)).await;
    refused(&res, 400, "unverified_claim", said);
    no_session_created(&app, &res, &jar).await;
}

/// A forwarded JSON response that carries the provider's refusal answers 400 with the
/// provider's code (the 200-or-400 pattern of AuthentiqJS pages), where the redirect answers
/// 403.
pub async fn json_callback_refusals_are_400<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let (res, jar) = start_login(&app, "/").await;
    let state = param(res.header("location").unwrap_or_default(), "state");
    let body =
        json!({"error": "access_denied", "error_description": "the user said no", "state": state});
    let res = app.call(json_callback(&jar, &body)).await;
    refused(
        &res,
        400,
        "access_denied",
        "the provider refused the sign-in: access_denied",
    );
    no_session_created(&app, &res, &jar).await;
}

/// `GET /auth/start` hands a page (AuthentiqJS) a sign-in of its own: the authorization
/// request as JSON, fresh `state` and `nonce` bound to an encrypted flow cookie, never cached;
/// the response the page forwards as JSON completes with 200, the claims and a session.
pub async fn start_hands_a_page_its_sign_in<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let res = app.call(api("/auth/start")).await;
    assert_status(&res, 200, "start");
    assert_eq!(res.header("content-type"), Some("application/json"));
    assert_eq!(res.header("cache-control"), Some("no-store"));
    let start = res.json();
    let text = |name: &str| start[name].as_str().unwrap_or_default().to_owned();
    let authorize_url = text("authorize_url");
    let redirect_uri = format!("{APP_URL}/auth/callback");
    assert_url(
        &authorize_url,
        &format!("{}/authorize", h.provider.base_url()),
        &[
            ("response_type", Some("code")),
            ("client_id", Some(&h.client.client_id)),
            ("redirect_uri", Some(&redirect_uri)),
            ("scope", Some("openid aq:name email~rs aq:push")),
            ("state", Some(&text("state"))),
            ("nonce", Some(&text("nonce"))),
            ("code_challenge", Some(&text("code_challenge"))),
            ("code_challenge_method", Some("S256")),
        ],
    );
    assert_eq!(
        text("authorization_endpoint"),
        format!("{}/authorize", h.provider.base_url())
    );
    for name in ["client_id", "redirect_uri", "scope", "response_type"] {
        assert_eq!(
            Some(text(name).as_str()),
            param(&authorize_url, name).as_deref(),
            "{name}"
        );
    }
    assert_eq!(text("state").len(), 43);
    assert_eq!(text("nonce").len(), 43);
    let flow = res
        .set_cookies()
        .into_iter()
        .find(|c| c.starts_with("authentiq_flow_"))
        .expect("a flow cookie")
        .to_owned();
    assert!(!flow.contains(&text("state")) && !flow.contains(&text("nonce")));
    let again = app.call(api("/auth/start")).await.json();
    assert_ne!(again["state"], start["state"], "fresh state per start");
    assert_ne!(again["nonce"], start["nonce"], "fresh nonce per start");

    let mut jar = Jar::new();
    jar.apply(&res);
    let callback = h
        .provider
        .approve(&authorize_url, &Approval::default())
        .expect("the provider approves");
    let body = json!({"code": param(&callback, "code"), "state": text("state")});
    let res = app.call(json_callback(&jar, &body)).await;
    assert_status(&res, 200, "the forwarded response");
    assert_eq!(res.json()["email"], Approval::default().email);
    jar.apply(&res);
    assert_status(
        &app.call(api("/me").cookies(&jar)).await,
        200,
        "a session from the page's sign-in",
    );
    let res = app.call(TestRequest::new("POST", "/auth/start")).await;
    assert_status(&res, 405, "start is GET");
    assert_eq!(res.header("allow"), Some("GET, HEAD"));
}

/// A browser-delivered ID Token that comes with a code (the hybrid response) must bind it:
/// `c_hash` present and right, checked before the code is exchanged. The genuine hybrid
/// response signs in (JSON: 200), a token without `c_hash` or with another code's is refused
/// (400, no token request, no session), and a form post of a lone `id_token` signs in like the
/// redirect (303).
pub async fn hybrid_callback_binds_the_code<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let fragment = |url: &str| -> Vec<(String, String)> {
        let f = url.split_once('#').map_or("", |(_, f)| f);
        url::form_urlencoded::parse(f.as_bytes())
            .into_owned()
            .collect()
    };
    let get = |pairs: &[(String, String)], name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    // The app's own authorization request, answered as `code id_token`.
    let hybrid = |location: &str| {
        let mut url = url::Url::parse(location).expect("authorize URL");
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .into_owned()
            .map(|(k, v)| match k.as_str() {
                "response_type" => (k, "code id_token".to_owned()),
                _ => (k, v),
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
        let answer = h
            .provider
            .approve(url.as_str(), &Approval::default())
            .expect("the provider approves");
        fragment(&answer)
    };
    let exchanged = || h.provider.token_request_count_for(&h.client.client_id);

    let (res, mut jar) = start_login(&app, "/").await;
    let answer = hybrid(res.header("location").unwrap_or_default());
    let body = json!({
        "code": get(&answer, "code"),
        "id_token": get(&answer, "id_token"),
        "state": get(&answer, "state"),
    });
    assert!(!get(&answer, "id_token").is_empty() && !get(&answer, "code").is_empty());
    let res = app.call(json_callback(&jar, &body)).await;
    assert_status(&res, 200, "the genuine hybrid response");
    assert_eq!(res.json()["email"], Approval::default().email);
    jar.apply(&res);
    assert_status(&app.call(api("/me").cookies(&jar)).await, 200, "a session");

    let mint = |nonce: &str, extra: Value| {
        let mut claims = json!({"nonce": nonce});
        if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        h.provider
            .mint_id_token_with(&h.client.client_id, Alg::ES256, "hybrid-user", claims)
    };
    for (extra, check) in [
        (json!({}), "required claim `c_hash` is missing or malformed"),
        (
            json!({"c_hash": "AAAAAAAAAAAAAAAAAAAAAA"}),
            "c_hash does not match the authorization code",
        ),
    ] {
        let (res, jar) = start_login(&app, "/").await;
        let location = res.header("location").unwrap_or_default().to_owned();
        let nonce = param(&location, "nonce").unwrap_or_default();
        let answer = hybrid(&location);
        let before = exchanged();
        let body = json!({
            "code": get(&answer, "code"),
            "id_token": mint(&nonce, extra),
            "state": get(&answer, "state"),
        });
        let res = app.call(json_callback(&jar, &body)).await;
        refused(&res, 400, "invalid_id_token", &says::bad_id_token(check));
        no_session_created(&app, &res, &jar).await;
        assert_eq!(exchanged(), before, "the code was never exchanged");
    }

    // A form post of a lone ID Token (`response_mode=form_post` with `id_token`).
    let (res, mut jar) = start_login(&app, "/me").await;
    let location = res.header("location").unwrap_or_default().to_owned();
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair(
            "id_token",
            &mint(
                &param(&location, "nonce").unwrap_or_default(),
                json!({"email": "hybrid@example.com", "email_verified": true}),
            ),
        )
        .append_pair("state", &param(&location, "state").unwrap_or_default())
        .finish();
    let res = app
        .call(
            TestRequest::new("POST", "/auth/callback")
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "text/html")
                .cookies(&jar)
                .body(form),
        )
        .await;
    assert_status(&res, 303, "a form-posted ID Token");
    assert_eq!(res.header("location"), Some("/me"));
    jar.apply(&res);
    let me = app.call(api("/me").cookies(&jar)).await;
    assert_status(&me, 200, "a session from the form-posted ID Token");
    assert_eq!(me.json()["sub"], "hybrid-user");
}

/// The `GET /device` answer of the test app: the remembered device and the session's subject.
async fn device_of<A: TestApp>(app: &A, jar: &Jar) -> Value {
    let res = app.call(api("/device").cookies(jar)).await;
    assert_status(&res, 200, "device");
    res.json()
}

/// One-click sign-in: a sign-in that granted `aq:push` remembers the browser in an encrypted
/// cookie (`HttpOnly`, `SameSite=Lax`, `Max-Age` of the configured days) that names the user but
/// grants nothing, survives sign-out, starts a "Continue as" login with `login_hint` and
/// `aq:push`, and is removed when it is tampered with or the next sign-in lacks `aq:push`.
pub async fn remembered_device_offers_one_click<F: Framework>() {
    let h = Harness::new().await;
    let app = F::app(h.auth.clone()).await;
    let device_name = "authentiq_device";
    let (res, mut jar) = sign_in_with(&h, &app, "/me", &Approval::default()).await;
    assert_status(&res, 303, "sign-in");
    let max_age = format!("Max-Age={}", 90 * 86_400);
    let sealed = assert_cookie(
        &res,
        device_name,
        None,
        &["HttpOnly", "SameSite=Lax", "Path=/", &max_age],
    );
    let me = app.call(api("/me").cookies(&jar)).await.json();
    let sub = me["sub"].as_str().expect("sub").to_owned();
    let name = Approval::default().name;
    assert!(
        !sealed.contains(&sub) && !sealed.contains("Alice"),
        "the cookie shows nothing: {sealed}"
    );
    assert_eq!(
        device_of(&app, &jar).await,
        json!({"device": {"sub": sub, "name": name}, "sub": sub})
    );

    // Signed out, the browser is still remembered, and the device alone is no session.
    let res = app
        .call(
            TestRequest::new("POST", "/auth/logout")
                .header("origin", APP_URL)
                .cookies(&jar),
        )
        .await;
    assert_status(&res, 303, "logout");
    assert!(
        !res.set_cookies()
            .iter()
            .any(|c| c.starts_with("authentiq_device=")),
        "sign-out keeps the device: {:?}",
        res.set_cookies()
    );
    jar.apply(&res);
    assert_eq!(jar.get(session_name()), None);
    assert_eq!(
        device_of(&app, &jar).await,
        json!({"device": {"sub": sub, "name": name}, "sub": null})
    );
    refused(
        &app.call(api("/me").cookies(&jar)).await,
        401,
        "unauthenticated",
        "authentication is required",
    );

    // "Continue as": the login names the remembered user and asks for a push.
    let res = app
        .call(browser("/auth/login?remembered=1&return_to=%2Fme").cookies(&jar))
        .await;
    assert_status(&res, 303, "continue as");
    let redirect_uri = format!("{APP_URL}/auth/callback");
    assert_url(
        res.header("location").unwrap_or_default(),
        &format!("{}/authorize", h.provider.base_url()),
        &[
            ("response_type", Some("code")),
            ("client_id", Some(&h.client.client_id)),
            ("redirect_uri", Some(&redirect_uri)),
            ("scope", Some("openid aq:name email~rs aq:push")),
            ("state", None),
            ("nonce", None),
            ("code_challenge", None),
            ("code_challenge_method", Some("S256")),
            ("login_hint", Some(&sub)),
        ],
    );
    // The link cannot name someone else: without the cookie there is no hint.
    let res = app
        .call(browser("/auth/login?remembered=1&return_to=%2F"))
        .await;
    assert_eq!(
        param(res.header("location").unwrap_or_default(), "login_hint"),
        None
    );

    // A tampered device cookie, or one sealed by another app, is no device and is removed.
    let other = h.other(|b| b.session_key(vec![3u8; 64])).await;
    let other_app = F::app(other).await;
    let (foreign_res, _) = sign_in_with(&h, &other_app, "/", &Approval::default()).await;
    let foreign = cookie_value(
        foreign_res
            .set_cookies()
            .into_iter()
            .find(|c| c.starts_with("authentiq_device="))
            .expect("the other app remembers too"),
    );
    let mut tampered = sealed.clone().into_bytes();
    let i = tampered.len() / 2;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    for bad in [
        String::from_utf8(tampered).unwrap_or_default(),
        foreign,
        "junk".into(),
    ] {
        let mut jar = Jar::new();
        jar.set(device_name, &bad);
        let res = app.call(api("/device").cookies(&jar)).await;
        assert_eq!(res.json(), json!({"device": null, "sub": null}));
        assert_cookie(
            &res,
            device_name,
            Some(""),
            &["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"],
        );
    }

    // A sign-in that did not grant `aq:push` forgets the browser.
    let no_push = Approval {
        grant: Grant::Only(vec!["aq:name".into(), "email".into()]),
        ..Approval::default()
    };
    let (callback, mut browser_jar) = approved(&h, &app, "/", &no_push).await;
    browser_jar.set(device_name, &sealed);
    let res = app.call(browser(&callback).cookies(&browser_jar)).await;
    assert_status(&res, 303, "sign-in without aq:push");
    let mut after = browser_jar.clone();
    after.apply(&res);
    assert_cookie(
        &res,
        device_name,
        Some(""),
        &["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=0"],
    );
    assert_eq!(after.get(device_name), None);
}

/// With remembering off (`device_days` 0), no device cookie is set and one sent is ignored;
/// a "Continue as" login never sends `prompt=consent`, which would disable one-click.
pub async fn remembering_off_and_no_consent_prompt<F: Framework>() {
    let h = Harness::with(|b| b.device_days(0)).await;
    let app = F::app(h.auth.clone()).await;
    let (res, _) = sign_in_with(&h, &app, "/", &Approval::default()).await;
    assert_status(&res, 303, "sign-in");
    assert!(
        !res.set_cookies()
            .iter()
            .any(|c| c.starts_with("authentiq_device=")),
        "{:?}",
        res.set_cookies()
    );

    let h = Harness::with(|b| b.prompt(Some("consent".into())).scope("aq:name")).await;
    let app = F::app(h.auth.clone()).await;
    let (res, jar) = sign_in_with(&h, &app, "/", &Approval::default()).await;
    assert_status(&res, 303, "sign-in without aq:push requested");
    assert!(
        !res.set_cookies()
            .iter()
            .any(|c| c.starts_with("authentiq_device=")),
        "no aq:push granted, nothing remembered"
    );
    let (res, _) = start_login(&app, "/").await;
    assert_eq!(
        param(res.header("location").unwrap_or_default(), "prompt").as_deref(),
        Some("consent")
    );
    // A device remembered by the same app (same key) under another setting.
    let remembering = h.other(|b| b.session_key(h.key.clone())).await;
    let other_app = F::app(remembering).await;
    let (res, _) = sign_in_with(&h, &other_app, "/", &Approval::default()).await;
    let mut jar = jar;
    jar.apply(&res);
    assert!(
        jar.get("authentiq_device").is_some(),
        "{:?}",
        res.set_cookies()
    );
    let res = app
        .call(browser("/auth/login?remembered=1").cookies(&jar))
        .await;
    let loc = res.header("location").unwrap_or_default();
    assert_eq!(
        param(loc, "prompt"),
        None,
        "one-click is never sent with prompt=consent"
    );
    assert_eq!(
        param(loc, "scope").as_deref(),
        Some("openid aq:name aq:push")
    );
    assert!(param(loc, "login_hint").is_some());
}
