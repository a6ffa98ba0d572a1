//! The axum routes: read the request, call `provider`, turn the answer into a response.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, PRAGMA, SET_COOKIE,
    WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{AppendHeaders, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use url::form_urlencoded;

use crate::provider::{
    Answer, AuthorizeError, Collect, Completion, Decision, PENDING_LIFETIME, Params, PendingStatus,
    Redirect, ResponseMode, Shared, browser_state,
};
use crate::{Approval, DevError, Grant, pages};

type AppState = State<Arc<Shared>>;

/// Provider session cookie (HttpOnly).
const SID_COOKIE: &str = "aqdev_sid";
/// OIDC Session Management browser state, readable by the check-session iframe.
const BROWSER_STATE_COOKIE: &str = "aqdev_bs";
/// One-click device link (HttpOnly, long-lived).
const DEVICE_COOKIE: &str = "aqdev_device";
const DEVICE_COOKIE_MAX_AGE: u64 = 400 * 24 * 3600;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/.well-known/openid-configuration", get(discovery))
        .route("/public-keys", get(jwks))
        .route("/authorize", get(authorize_get).post(authorize_post))
        .route("/authorize/phone/{pending}", get(phone))
        .route("/authorize/approve", post(approve))
        .route("/authorize/wait/{pending}", get(wait))
        .route("/authorize/continue/{pending}", get(continue_sign_in))
        .route("/authentiq.js", get(authentiq_js))
        .route("/authorize/logout", get(logout_get).post(logout_post))
        .route("/authorize/check-session", get(check_session))
        .route("/token", post(token))
        .route("/userinfo", get(userinfo).post(userinfo))
        .fallback(not_found)
        .with_state(shared)
}

fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "text/html; charset=utf-8"),
            (CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

fn json_response(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
            (PRAGMA, "no-cache"),
        ],
        body.to_string(),
    )
        .into_response()
}

fn see_other(location: String) -> Response {
    let headers = [(LOCATION, location), (CACHE_CONTROL, "no-store".to_owned())];
    (StatusCode::SEE_OTHER, headers).into_response()
}

fn with_cookies(cookies: &[String], response: Response) -> Response {
    let set_cookies = cookies.iter().map(|cookie| (SET_COOKIE, cookie.clone()));
    (AppendHeaders(set_cookies), response).into_response()
}

/// Sends the browser on to the RP: a 303, or an auto-submitting form for `form_post`.
fn deliver(redirect: &Redirect, cookies: &[String]) -> Response {
    let response = match redirect.mode {
        ResponseMode::FormPost => html(StatusCode::OK, pages::form_post(redirect)),
        ResponseMode::WebMessage => html(StatusCode::OK, pages::web_message(redirect)),
        ResponseMode::Query | ResponseMode::Fragment => see_other(redirect.url()),
    };
    with_cookies(cookies, response)
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && !value.is_empty())
        .map(|(_, value)| value)
}

fn set_cookie(name: &str, value: &str, http_only: bool, max_age: Option<u64>) -> String {
    let mut cookie = format!("{name}={value}; Path=/; SameSite=Lax");
    if http_only {
        cookie.push_str("; HttpOnly");
    }
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    cookie
}

/// An HttpOnly `SameSite=Lax` cookie scoped to `path`.
fn set_cookie_at(name: &str, value: &str, path: &str, max_age: Option<u64>) -> String {
    let mut cookie = format!("{name}={value}; Path={path}; SameSite=Lax; HttpOnly");
    if let Some(age) = max_age {
        cookie.push_str(&format!("; Max-Age={age}"));
    }
    cookie
}

async fn discovery(State(shared): AppState) -> Response {
    json_response(StatusCode::OK, &shared.discovery())
}

async fn jwks(State(shared): AppState) -> Response {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let body = shared.jwks().to_string();
    match shared.jwks_max_age() {
        Some(age) => (
            StatusCode::OK,
            [
                (CONTENT_TYPE, "application/json".to_owned()),
                (CACHE_CONTROL, format!("public, max-age={age}")),
            ],
            body,
        )
            .into_response(),
        None => (StatusCode::OK, [(CONTENT_TYPE, "application/json")], body).into_response(),
    }
}

async fn authorize_get(
    State(shared): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    authorize(
        &shared,
        &Params::parse(query.as_deref().unwrap_or("")),
        &headers,
    )
}

async fn authorize_post(State(shared): AppState, headers: HeaderMap, body: String) -> Response {
    authorize(&shared, &Params::parse(&body), &headers)
}

fn authorize(shared: &Shared, params: &Params, headers: &HeaderMap) -> Response {
    let sid = cookie(headers, SID_COOKIE);
    let req = match shared.validate(params, sid) {
        Ok(req) => req,
        Err(AuthorizeError::Page(message)) => {
            tracing::warn!(%message, "authorization request rejected");
            return html(
                StatusCode::BAD_REQUEST,
                pages::error("Invalid sign-in request", &message),
            );
        }
        Err(AuthorizeError::Redirect(redirect)) => {
            tracing::info!(params = ?redirect.params, "authorization error redirect");
            return deliver(&redirect, &[]);
        }
    };
    if req.prompt_none {
        // `validate` checked that the browser has a session.
        if let Some(approval) = sid.and_then(|sid| shared.session_approval(sid)) {
            let decision = Decision::Approve {
                approval: &approval,
                fresh: false,
            };
            return finish(&shared.complete(&req, decision, sid));
        }
    }
    // One-click needs the app to name the person (`login_hint`, their `sub` or email) and a
    // browser this provider remembers for that same person; anything else is a QR sign-in.
    let device = cookie(headers, DEVICE_COOKIE)
        .and_then(|handle| shared.device(handle))
        .filter(|person| {
            let person = person.resolved();
            req.login_hint
                .as_deref()
                .is_some_and(|hint| Some(hint) == person.sub.as_deref() || hint == person.email)
        })
        .filter(|_| req.wants("aq:push") && !req.prompt_consent);
    // The desktop page waits while the phone answers: the QR code for the app, or with a
    // remembered browser a push to the phone of the person it is remembered for.
    let (pending, desktop_key) = shared.create_pending(req.clone(), sid, device.clone());
    let page = match &device {
        Some(approval) => pages::push(&shared.base, &req, &pending, approval),
        None => pages::sign_in(&shared.base, &req, &pending),
    };
    let key_cookie = set_cookie_at(
        &desktop_cookie(&pending),
        &desktop_key,
        "/authorize",
        Some(PENDING_LIFETIME.as_secs()),
    );
    with_cookies(&[key_cookie], html(StatusCode::OK, page))
}

/// The cookie of the desktop browser that started pending sign-in `pending`.
fn desktop_cookie(pending: &str) -> String {
    format!("aqdev_wait_{pending}")
}

/// The simulated phone: the Authentiq ID app's approval form for a scanned QR code, or the
/// push notification of a one-click sign-in.
async fn phone(State(shared): AppState, Path(pending): Path<String>) -> Response {
    match shared.peek_pending(&pending) {
        Some((req, Some(person))) => {
            html(StatusCode::OK, pages::notification(&req, &pending, &person))
        }
        Some((req, None)) => html(StatusCode::OK, pages::phone(&req, &pending)),
        None => html(StatusCode::NOT_FOUND, pages::expired()),
    }
}

/// The phone's answer. The sign-in continues in the desktop browser, which collects it.
async fn approve(State(shared): AppState, body: String) -> Response {
    let params = Params::parse(&body);
    let approve = match params.get("decision") {
        Some("approve") => true,
        Some("deny") => false,
        _ => {
            return html(
                StatusCode::BAD_REQUEST,
                pages::error("Invalid decision", "decision must be approve or deny."),
            );
        }
    };
    let answer = match (approve, params.get("push").is_some()) {
        (false, _) => None,
        (true, true) => Some(Answer::Push),
        (true, false) => Some(Answer::As(Box::new(approval_from_form(&params)))),
    };
    let answered = params
        .get("pending")
        .is_some_and(|pending| shared.answer_pending(pending, answer));
    if answered {
        html(StatusCode::OK, pages::answered(approve))
    } else {
        html(StatusCode::BAD_REQUEST, pages::expired())
    }
}

/// `GET /authorize/wait/{pending}`: what the waiting desktop page polls.
async fn wait(State(shared): AppState, Path(pending): Path<String>) -> Response {
    let (status, word) = match shared.pending_status(&pending) {
        PendingStatus::Waiting => (StatusCode::OK, "waiting"),
        PendingStatus::Answered => (StatusCode::OK, "answered"),
        PendingStatus::Gone => (StatusCode::NOT_FOUND, "gone"),
    };
    no_store(json_response(status, &json!({ "status": word })))
}

/// `GET /authorize/continue/{pending}`: the desktop browser collects the phone's answer and
/// is sent on to the app.
async fn continue_sign_in(
    State(shared): AppState,
    Path(pending): Path<String>,
    headers: HeaderMap,
) -> Response {
    let name = desktop_cookie(&pending);
    match shared.collect_pending(&pending, cookie(&headers, &name)) {
        Collect::Done(completion) => {
            let gone = set_cookie_at(&name, "", "/authorize", Some(0));
            no_store(with_cookies(&[gone], finish(&completion)))
        }
        Collect::Waiting => html(
            StatusCode::CONFLICT,
            pages::error(
                "Waiting for your phone",
                "Approve the sign-in on your phone first.",
            ),
        ),
        Collect::OtherBrowser => html(
            StatusCode::FORBIDDEN,
            pages::error(
                "Another browser",
                "This sign-in was started in another browser; it continues there.",
            ),
        ),
        Collect::Gone => html(StatusCode::NOT_FOUND, pages::expired()),
    }
}

/// `GET /authentiq.js`: the AuthentiqJS-compatible script for pages of apps signing in here.
async fn authentiq_js() -> Response {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=300"),
        ],
        pages::AUTHENTIQ_JS,
    )
        .into_response()
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn approval_from_form(params: &Params) -> Approval {
    let name = params.get("name").unwrap_or("").trim().to_owned();
    let (given_name, family_name) = match name.split_once(' ') {
        Some((given, family)) => (Some(given.to_owned()), Some(family.trim().to_owned())),
        None => ((!name.is_empty()).then(|| name.clone()), None),
    };
    Approval {
        name,
        given_name,
        family_name,
        email: params.get("email").unwrap_or("").trim().to_owned(),
        email_verified: params.get("email_verified").is_some(),
        phone_number: params.get("phone").unwrap_or("").trim().to_owned(),
        phone_number_verified: params.get("phone_verified").is_some(),
        phone_type: params.get("phone_type").unwrap_or("mobile").to_owned(),
        grant: Grant::Only(params.all("grant").map(String::from).collect()),
        ..Approval::default()
    }
}

fn finish(completion: &Completion) -> Response {
    let mut cookies = Vec::new();
    if let Some(sid) = &completion.sid {
        cookies.push(set_cookie(SID_COOKIE, sid, true, None));
        cookies.push(set_cookie(
            BROWSER_STATE_COOKIE,
            &browser_state(sid),
            false,
            None,
        ));
    }
    if let Some(device) = &completion.device {
        cookies.push(set_cookie(
            DEVICE_COOKIE,
            device,
            true,
            Some(DEVICE_COOKIE_MAX_AGE),
        ));
    }
    deliver(&completion.redirect, &cookies)
}

async fn logout_get(
    State(shared): AppState,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    logout(
        &shared,
        &Params::parse(query.as_deref().unwrap_or("")),
        &headers,
    )
}

async fn logout_post(State(shared): AppState, headers: HeaderMap, body: String) -> Response {
    logout(&shared, &Params::parse(&body), &headers)
}

fn logout(shared: &Shared, params: &Params, headers: &HeaderMap) -> Response {
    let outcome = shared.end_session(params, cookie(headers, SID_COOKIE));
    for (uri, token) in outcome.notices {
        tokio::spawn(async move {
            match send_logout_token(uri.clone(), token).await {
                Ok(status) => tracing::info!(%uri, status, "back-channel logout sent"),
                Err(error) => tracing::warn!(%uri, %error, "back-channel logout failed"),
            }
        });
    }
    let cookies = [
        set_cookie(SID_COOKIE, "", true, Some(0)),
        set_cookie(BROWSER_STATE_COOKIE, "", false, Some(0)),
    ];
    let response = match outcome.redirect {
        Some(location) => see_other(location),
        None => html(StatusCode::OK, pages::signed_out(outcome.note.as_deref())),
    };
    with_cookies(&cookies, response)
}

async fn check_session() -> Response {
    (
        [(CONTENT_TYPE, "text/html; charset=utf-8")],
        pages::check_session(),
    )
        .into_response()
}

async fn token(State(shared): AppState, headers: HeaderMap, body: String) -> Response {
    shared.token_requests.fetch_add(1, Ordering::SeqCst);
    let authorization = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok());
    match shared.token(authorization, &Params::parse(&body)) {
        Ok(response) => json_response(StatusCode::OK, &response),
        Err(error) => {
            tracing::warn!(error = error.error, description = %error.description, "token request refused");
            let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::BAD_REQUEST);
            let body = json!({"error": error.error, "error_description": error.description});
            let mut response = json_response(status, &body);
            if status == StatusCode::UNAUTHORIZED {
                response.headers_mut().insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"authentiq-dev\""),
                );
            }
            response
        }
    }
}

async fn userinfo(State(shared): AppState, headers: HeaderMap) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim());
    let (challenge, description) = match token.map(|t| shared.userinfo(t)) {
        Some(Some(claims)) => return json_response(StatusCode::OK, &claims),
        Some(None) => (
            "Bearer error=\"invalid_token\"",
            "the access token is unknown or expired",
        ),
        None => (
            "Bearer realm=\"authentiq-dev\"",
            "a Bearer access token is required",
        ),
    };
    let mut response = json_response(
        StatusCode::UNAUTHORIZED,
        &json!({"error": "invalid_token", "error_description": description}),
    );
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

async fn not_found() -> Response {
    html(
        StatusCode::NOT_FOUND,
        pages::error("Not found", "There is nothing here."),
    )
}

/// POSTs a Back-Channel Logout token to an RP and returns its status code.
pub(crate) async fn send_logout_token(uri: String, token: String) -> Result<u16, DevError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .pool_max_idle_per_host(0)
        .build()
        .map_err(|e| DevError::Http(e.to_string()))?;
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("logout_token", &token)
        .finish();
    let response = client
        .post(&uri)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(|e| DevError::Http(e.to_string()))?;
    Ok(response.status().as_u16())
}
