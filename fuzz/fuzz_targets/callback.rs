//! The callback route, through `adapter::respond` for `/auth/callback`: arbitrary query
//! strings, form and JSON bodies, content types and cookies, mixed with the genuine pieces of
//! a sign-in the app started (its state, its flow cookie, a code the provider issued, an ID
//! Token carrying the flow's nonce), so that every step of the flow is reached.
//!
//! Properties:
//! - nothing panics, and bad input never gets a 5xx;
//! - a session is set only when the genuine state, the genuine flow cookie and a genuine code
//!   or ID Token all came together;
//! - a successful browser sign-in goes back to the flow's sanitised `return_to`, and every
//!   redirect the callback answers stays on this site (a path, never `//` or `\`);
//! - every answer to a callback with a well-formed state ends that state's flow cookie.

#![no_main]

use authentiq_core::adapter::{self, Reply};
use authentiq_core::safe_return_to;
use authentiq_dev::{Alg, Approval};
use authentiq_fuzz::{Harness, Head, cookie_pair, is_removal};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

#[derive(Arbitrary, Debug, Clone)]
enum Piece {
    Genuine,
    Other(String),
    Absent,
}

#[derive(Arbitrary, Debug)]
enum Body {
    Query,
    Form,
    Json,
    OtherType(String, Vec<u8>),
    TooLarge,
}

#[derive(Arbitrary, Debug)]
enum FlowCookie {
    Genuine,
    Other(String),
    Absent,
    Quoted,
}

#[derive(Arbitrary, Debug)]
struct Input {
    return_to: Option<String>,
    body: Body,
    state: Piece,
    code: Piece,
    id_token: Piece,
    access_token: Option<String>,
    session_state: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
    flow_cookie: FlowCookie,
    other_cookies: Option<String>,
    raw_tail: Option<String>,
    accept_json: bool,
}

struct Started {
    state: String,
    nonce: String,
    authorize_url: String,
    cookie_name: String,
    cookie_value: String,
    return_to: String,
}

fn start(h: &Harness, return_to: Option<&str>) -> Started {
    let (url, set_cookie) = h.cookie_app.start_login(return_to, &[]);
    let parsed = url::Url::parse(&url).expect("the authorization URL parses");
    let param = |k: &str| {
        parsed
            .query_pairs()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.into_owned())
            .expect("the authorization URL carries state and nonce")
    };
    let (name, value) = cookie_pair(&set_cookie);
    Started {
        state: param("state"),
        nonce: param("nonce"),
        authorize_url: url.clone(),
        cookie_name: name.to_owned(),
        cookie_value: value.to_owned(),
        return_to: safe_return_to(return_to),
    }
}

/// A code the provider issues for this sign-in (it goes through the provider's own checks).
fn genuine_code(h: &Harness, s: &Started) -> String {
    let redirect = h
        .provider
        .approve(&s.authorize_url, &Approval::default())
        .expect("the provider approves the app's own request");
    let url = url::Url::parse(&redirect).expect("the provider redirects to a URL");
    url.query_pairs()
        .find(|(k, _)| k == "code")
        .map(|(_, v)| v.into_owned())
        .expect("the approval carries a code")
}

fn check_redirect(reply: &Reply) {
    if let Some(loc) = reply.header_value(http::header::LOCATION) {
        assert!(
            loc.starts_with('/') && !loc.starts_with("//") && !loc.contains('\\'),
            "the callback redirects off site: {loc}"
        );
    }
}

fuzz_target!(|input: Input| {
    let h = Harness::get();
    let started = start(h, input.return_to.as_deref());

    let mut params: Vec<(&str, String)> = Vec::new();
    let mut genuine = (false, false);
    match &input.state {
        Piece::Genuine => params.push(("state", started.state.clone())),
        Piece::Other(s) => params.push(("state", s.clone())),
        Piece::Absent => {}
    }
    match &input.code {
        Piece::Genuine => {
            genuine.0 = true;
            params.push(("code", genuine_code(h, &started)));
        }
        Piece::Other(s) => params.push(("code", s.clone())),
        Piece::Absent => {}
    }
    match &input.id_token {
        Piece::Genuine => {
            genuine.1 = true;
            let token = h.provider.mint_id_token_with(
                &h.client_id,
                Alg::ES256,
                "fuzz-user",
                json!({"nonce": started.nonce}),
            );
            params.push(("id_token", token));
        }
        Piece::Other(s) => params.push(("id_token", s.clone())),
        Piece::Absent => {}
    }
    for (k, v) in [
        ("access_token", &input.access_token),
        ("session_state", &input.session_state),
        ("error", &input.error),
        ("error_description", &input.error_description),
    ] {
        if let Some(v) = v {
            params.push((k, v.clone()));
        }
    }
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        form.append_pair(k, v);
    }
    let mut form = form.finish();
    if let Some(tail) = &input.raw_tail {
        form.push_str(tail);
    }

    let mut head = Head::new("GET", "/auth/callback");
    let mut body: Vec<u8> = Vec::new();
    let mut too_large = false;
    match &input.body {
        Body::Query => head.query = Some(form.clone()),
        Body::Form => {
            head.method = "POST".into();
            head = head.header("content-type", "application/x-www-form-urlencoded");
            body = form.clone().into_bytes();
        }
        Body::Json => {
            head.method = "POST".into();
            head = head.header("content-type", "application/json");
            let map: Map<String, Value> = params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), Value::String(v.clone())))
                .collect();
            body = serde_json::to_vec(&map).expect("a JSON object serialises");
            if let Some(tail) = &input.raw_tail {
                body.extend_from_slice(tail.as_bytes());
            }
        }
        Body::OtherType(ct, b) => {
            head.method = "POST".into();
            head = head.header("content-type", ct.clone());
            body = b.clone();
        }
        Body::TooLarge => {
            head.method = "POST".into();
            too_large = true;
        }
    }
    if input.accept_json {
        head = head.header("accept", "application/json");
    }
    let flow_cookie = match &input.flow_cookie {
        FlowCookie::Genuine => Some(format!("{}={}", started.cookie_name, started.cookie_value)),
        FlowCookie::Quoted => Some(format!(
            "{}=\"{}\"",
            started.cookie_name, started.cookie_value
        )),
        FlowCookie::Other(v) => Some(format!("{}={v}", started.cookie_name)),
        FlowCookie::Absent => None,
    };
    let cookies: Vec<String> = [input.other_cookies.clone(), flow_cookie]
        .into_iter()
        .flatten()
        .collect();
    if !cookies.is_empty() {
        head = head.header("cookie", cookies.join("; "));
    }

    let reply = h.block_on(adapter::respond(
        &h.cookie_app,
        &head,
        (!too_large).then_some(&body[..]),
    ));
    assert!(
        reply.status() < 500,
        "status {} for {head:?}: {}",
        reply.status(),
        String::from_utf8_lossy(reply.body())
    );
    check_redirect(&reply);

    let session_name = h.cookie_app.session_cookie_name();
    let signed_in = reply
        .set_cookies()
        .any(|c| cookie_pair(c).0 == session_name && !is_removal(c));
    if signed_in {
        let genuine_cookie = matches!(input.flow_cookie, FlowCookie::Genuine | FlowCookie::Quoted);
        assert!(
            matches!(input.state, Piece::Genuine) && genuine_cookie && (genuine.0 || genuine.1),
            "signed in without the genuine flow: {input:?}"
        );
        if reply.status() == 303 {
            assert_eq!(
                reply.header_value(http::header::LOCATION),
                Some(started.return_to.as_str())
            );
        } else {
            assert_eq!(reply.status(), 200, "a JSON sign-in answers 200");
        }
    }
    if matches!(input.state, Piece::Genuine) && !too_large && reply.status() != 405 {
        let content_type_ok = match &input.body {
            Body::Query | Body::Form | Body::Json => true,
            Body::OtherType(..) | Body::TooLarge => false,
        };
        if content_type_ok && input.raw_tail.is_none() {
            assert!(
                reply
                    .set_cookies()
                    .any(|c| cookie_pair(c).0 == started.cookie_name && is_removal(c)),
                "the flow cookie outlived its callback: {reply:?}"
            );
        }
    }
});
