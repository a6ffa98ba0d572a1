//! What a browser sees: the sign-in page, the simulated phone form, one-click, logout.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authentiq_dev::ClientRegistration;
use common::{Fixture, LOGGED_OUT, REDIRECT, encode, query, verify_hs256};
use reqwest::Response;
use reqwest::header::HeaderMap;

/// The pending sign-in's id, from the desktop page's link to the simulated phone.
fn pending_id(page: &str) -> String {
    let start = page.find("/authorize/phone/").unwrap() + 17;
    page[start..].split('"').next().unwrap().to_owned()
}

/// `name=value` pairs of every Set-Cookie, joined for a Cookie header.
fn cookies(headers: &HeaderMap) -> String {
    headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .filter(|c| !c.ends_with('='))
        .collect::<Vec<_>>()
        .join("; ")
}

fn set_cookie<'a>(response: &'a Response, name: &str) -> Option<&'a str> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn location(response: &Response) -> String {
    assert_eq!(response.status(), 303);
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn join(a: &str, b: &str) -> String {
    [a, b]
        .into_iter()
        .filter(|c| !c.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The desktop browser's side of a pending sign-in.
struct Desk {
    pending: String,
    page: String,
    /// The desktop's cookies: what it came with, plus the key that collects the answer.
    cookie: String,
}

impl Fixture {
    async fn get(&self, url: &str, cookie: &str) -> Response {
        let mut request = self.http.get(url);
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    async fn post_form(&self, path: &str, form: &[(&str, &str)], cookie: &str) -> Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.provider.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(form));
        if !cookie.is_empty() {
            request = request.header("cookie", cookie);
        }
        request.send().await.unwrap()
    }

    /// Opens the desktop sign-in page with the browser's `cookie`.
    async fn open_sign_in(&self, params: &[(&str, &str)], cookie: &str) -> Desk {
        let response = self.get(&self.authorize_url(params), cookie).await;
        assert_eq!(response.status(), 200);
        let key = cookies(response.headers());
        let raw = response.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .to_owned();
        let page = response.text().await.unwrap();
        let pending = pending_id(&page);
        assert!(key.starts_with(&format!("aqdev_wait_{pending}=")), "{key}");
        assert!(
            raw.contains("HttpOnly") && raw.contains("Path=/authorize"),
            "{raw}"
        );
        Desk {
            pending,
            page,
            cookie: join(cookie, &key),
        }
    }

    /// The simulated phone's page for a pending sign-in.
    async fn phone(&self, pending: &str) -> Response {
        let url = format!("{}/authorize/phone/{pending}", self.provider.base_url());
        self.get(&url, "").await
    }

    /// The phone answers (from its own browser: no cookies); the answer page says so.
    async fn answer(&self, form: &[(&str, &str)]) -> String {
        let response = self.post_form("/authorize/approve", form, "").await;
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("location").is_none());
        assert!(
            response.headers().get("set-cookie").is_none(),
            "the phone gets no cookie"
        );
        response.text().await.unwrap()
    }

    async fn wait(&self, pending: &str) -> (u16, String) {
        let url = format!("{}/authorize/wait/{pending}", self.provider.base_url());
        let response = self.get(&url, "").await;
        let status = response.status().as_u16();
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: serde_json::Value =
            serde_json::from_str(&response.text().await.unwrap()).unwrap();
        (status, body["status"].as_str().unwrap().to_owned())
    }

    /// The desktop browser collects the answer.
    async fn continue_on(&self, desk: &Desk, cookie: &str) -> Response {
        let url = format!(
            "{}/authorize/continue/{}",
            self.provider.base_url(),
            desk.pending
        );
        self.get(&url, cookie).await
    }
}

#[tokio::test]
async fn sign_in_page_shows_qr_and_waits_and_escapes_input() {
    let f = Fixture::with(ClientRegistration {
        client_id: Some("<b>evil</b>&\"co\"".into()),
        ..Default::default()
    });
    let hostile_state = "\"><script>alert(1)</script>";
    let params = [
        ("state", hostile_state),
        ("scope", "openid aq:name email~rs phone aq:push"),
        ("login_hint", "<img src=x>@example.com"),
    ];
    let desk = f.open_sign_in(&params, "").await;
    let (page, pending) = (&desk.page, &desk.pending);
    assert!(page.contains("<h1>Sign in with Authentiq</h1>"));
    assert!(page.contains("<svg"), "inline QR code");
    assert!(!page.contains("<?xml"));
    assert!(page.contains("&lt;b&gt;evil&lt;/b&gt;&amp;&quot;co&quot;"));
    assert!(!page.contains("<b>evil"));
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<img src=x>"));
    assert!(page.contains("signed/verified") && page.contains("required"));
    assert!(
        !page.contains("action=\"/authorize/approve\""),
        "the desktop does not approve: the phone does"
    );
    assert!(page.contains("Waiting for your phone") && page.contains("/authorize/wait/"));
    assert!(page.contains(&format!(
        "{}/authorize/phone/{pending}",
        f.provider.base_url()
    )));
    assert!(!page.contains("<link") && !page.contains("<script src") && !page.contains("<img"));

    let phone = f.phone(pending).await;
    assert_eq!(phone.status(), 200);
    let phone = phone.text().await.unwrap();
    assert!(phone.contains("action=\"/authorize/approve\""));
    assert!(phone.contains("value=\"approve\"") && phone.contains("value=\"deny\""));
    assert!(phone.contains("name=\"email_verified\"") && phone.contains("name=\"phone_type\""));
    assert!(phone.contains("<input type=\"checkbox\" checked disabled> Email address"));
    assert!(phone.contains("name=\"grant\" value=\"phone\""));
    assert!(!phone.contains("name=\"grant\" value=\"email\""));
    assert!(!phone.contains("<img src=x>") && phone.contains("&lt;img src=x&gt;@example.com"));
    assert_eq!(f.phone("nope").await.status(), 404);
}

#[tokio::test]
async fn the_phone_answers_and_the_desktop_continues() {
    let f = Fixture::new();
    let scope = [("scope", "openid aq:name email~r phone")];
    let desk = f.open_sign_in(&scope, "").await;
    assert_eq!(f.wait(&desk.pending).await, (200, "waiting".into()));
    let early = f.continue_on(&desk, &desk.cookie).await;
    assert_eq!(
        early.status(),
        409,
        "nothing to collect before the phone answers"
    );
    let form = [
        ("pending", desk.pending.as_str()),
        ("name", "Bob Builder"),
        ("email", "bob@example.com"),
        ("email_verified", "on"),
        ("phone", "+15550100"),
        ("phone_type", "mobile"),
        ("grant", "aq:name"),
        ("decision", "approve"),
    ];
    assert!(f.answer(&form).await.contains("Approved"));
    assert_eq!(f.wait(&desk.pending).await, (200, "answered".into()));
    // Answered once: the phone cannot answer again, and its page is gone.
    let again = f.post_form("/authorize/approve", &form, "").await;
    assert_eq!(again.status(), 400);
    assert_eq!(f.phone(&desk.pending).await.status(), 404);
    // Only the browser that asked continues the sign-in.
    let elsewhere = f.continue_on(&desk, "").await;
    assert_eq!(elsewhere.status(), 403);
    let wrong = format!("aqdev_wait_{}=guess", desk.pending);
    assert_eq!(f.continue_on(&desk, &wrong).await.status(), 403);

    let response = f.continue_on(&desk, &desk.cookie).await;
    let redirect = location(&response);
    assert!(redirect.starts_with(&format!("{REDIRECT}?code=")));
    assert_eq!(response.headers()["cache-control"], "no-store");
    let set_cookies = cookies(response.headers());
    assert!(set_cookies.contains("aqdev_sid="));
    let key_gone = set_cookie(&response, &format!("aqdev_wait_{}", desk.pending)).unwrap();
    assert!(key_gone.contains("Max-Age=0"), "{key_gone}");
    let q = query(&redirect);
    assert_eq!(q["state"], "st");
    assert!(q.contains_key("session_state"));
    assert_eq!(
        f.continue_on(&desk, &desk.cookie).await.status(),
        404,
        "collected once"
    );
    assert_eq!(f.wait(&desk.pending).await, (404, "gone".into()));

    let body = f.exchange(&q["code"]).await;
    let claims = verify_hs256(
        body["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["scope"], "openid aq:name email");
    assert_eq!(claims["name"], "Bob Builder");
    assert_eq!(claims["given_name"], "Bob");
    assert_eq!(claims["email"], "bob@example.com");
    assert_eq!(claims["email_verified"], true);
    assert!(claims.get("phone_number").is_none());

    // The desktop browser now has a provider session: prompt=none answers at once, same sid.
    let silent = f
        .get(&f.authorize_url(&[("prompt", "none")]), &set_cookies)
        .await;
    let code = query(&location(&silent))["code"].clone();
    let body = f.exchange(&code).await;
    let silent_claims = verify_hs256(
        body["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(silent_claims["sid"], claims["sid"]);
    assert_eq!(silent_claims["sub"], claims["sub"]);
    let no_session = f.get(&f.authorize_url(&[("prompt", "none")]), "").await;
    assert_eq!(query(&location(&no_session))["error"], "login_required");
}

#[tokio::test]
async fn deny_form_post_and_web_message() {
    let f = Fixture::new();
    let desk = f.open_sign_in(&[], "").await;
    let denied = f
        .answer(&[("pending", &desk.pending), ("decision", "deny")])
        .await;
    assert!(denied.contains("Denied"));
    let q = query(&location(&f.continue_on(&desk, &desk.cookie).await));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "st")
    );

    let approve = |pending: &str| {
        [
            ("pending", pending.to_owned()),
            ("decision", "approve".to_owned()),
            ("email", "a@b.c".to_owned()),
        ]
    };
    let desk = f.open_sign_in(&[("response_mode", "form_post")], "").await;
    let form = approve(&desk.pending);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    f.answer(&form).await;
    let response = f.continue_on(&desk, &desk.cookie).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{REDIRECT}\"")));
    assert!(page.contains("name=\"code\""));
    assert!(page.contains("name=\"state\" value=\"st\""));
    assert!(page.contains("submit()"));

    // web_message: the response goes to the opener, at the redirect URI's origin only, and
    // no value can close the script element.
    let hostile = "</script><script>alert(1)</script>";
    let params = [("response_mode", "web_message"), ("state", hostile)];
    let desk = f.open_sign_in(&params, "").await;
    let form = approve(&desk.pending);
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    f.answer(&form).await;
    let response = f.continue_on(&desk, &desk.cookie).await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains("window.opener.postMessage(message,\"http://127.0.0.1:9\")"));
    assert!(page.contains("type:'authorization_response'") && page.contains("\"code\":\""));
    assert!(page.contains("\\u003c/script>\\u003cscript>alert(1)\\u003c/script>"));
    assert!(!page.contains("alert(1)</script>"));
    let discovery = f
        .get(
            &format!("{}/.well-known/openid-configuration", f.provider.base_url()),
            "",
        )
        .await
        .text()
        .await
        .unwrap();
    let discovery: serde_json::Value = serde_json::from_str(&discovery).unwrap();
    let modes = discovery["response_modes_supported"].as_array().unwrap();
    assert!(modes.iter().any(|m| m == "web_message"));
}

#[tokio::test]
async fn one_click_sign_in_after_aq_push() {
    let f = Fixture::new();
    let scope = [("scope", "openid email aq:push")];
    let desk = f.open_sign_in(&scope, "").await;
    let form = [
        ("pending", desk.pending.as_str()),
        ("email", "carol@example.com"),
        ("grant", "email"),
        ("grant", "aq:push"),
        ("decision", "approve"),
    ];
    f.answer(&form).await;
    let response = f.continue_on(&desk, &desk.cookie).await;
    let device_cookie = set_cookie(&response, "aqdev_device").unwrap();
    assert!(device_cookie.contains("HttpOnly") && device_cookie.contains("Max-Age="));
    let browser = device_cookie.split(';').next().unwrap().to_owned();

    // The remembered browser, and the app names the same person: "Check your phone", and
    // the phone shows the push.
    let hinted = [scope[0], ("login_hint", "carol@example.com")];
    let desk = f.open_sign_in(&hinted, &browser).await;
    assert!(desk.page.contains("<h1>Check your phone</h1>"));
    assert!(desk.page.contains("carol@example.com"));
    assert!(!desk.page.contains("<svg") && desk.page.contains("/authorize/wait/"));
    let push = f.phone(&desk.pending).await.text().await.unwrap();
    assert!(push.contains("Sign in to") && push.contains("carol@example.com"));
    assert!(push.contains("name=\"push\" value=\"1\""));
    assert!(
        !push.contains("name=\"email\""),
        "a push asks nothing but yes or no"
    );
    let tap = [
        ("pending", desk.pending.as_str()),
        ("push", "1"),
        ("decision", "approve"),
    ];
    f.answer(&tap).await;
    let response = f.continue_on(&desk, &desk.cookie).await;
    let code = query(&location(&response))["code"].clone();
    let claims = verify_hs256(
        f.exchange(&code).await["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["email"], "carol@example.com");

    // Without a hint, or with someone else's, the remembered browser gets the QR code.
    for params in [
        &scope[..],
        &[scope[0], ("login_hint", "dave@example.com")][..],
    ] {
        let desk = f.open_sign_in(params, &browser).await;
        assert!(desk.page.contains("<svg") && !desk.page.contains("Check your phone"));
    }
    let sub = claims["sub"].as_str().unwrap();
    let desk = f
        .open_sign_in(&[scope[0], ("login_hint", sub)], &browser)
        .await;
    assert!(
        desk.page.contains("Check your phone"),
        "the hint may be the sub"
    );

    // A push for a sign-in started without the device cookie is no push at all.
    let desk = f.open_sign_in(&hinted, "").await;
    let forged = [
        ("pending", desk.pending.as_str()),
        ("push", "1"),
        ("decision", "approve"),
    ];
    f.answer(&forged).await;
    let q = query(&location(&f.continue_on(&desk, &desk.cookie).await));
    assert_eq!(
        q["error"], "access_denied",
        "no remembered person to approve as"
    );

    let desk = f
        .open_sign_in(&[hinted[0], hinted[1], ("prompt", "consent")], &browser)
        .await;
    assert!(desk.page.contains("<svg") && !desk.page.contains("Check your phone"));
    let desk = f.open_sign_in(&hinted, "").await;
    assert!(!desk.page.contains("Check your phone"), "unknown browser");
}

#[tokio::test]
async fn signed_scopes_release_only_verified_values() {
    let f = Fixture::new();
    let unverified = authentiq_dev::Approval {
        email_verified: false,
        phone_number_verified: false,
        ..Default::default()
    };
    let url = f.authorize_url(&[("scope", "openid email~s phone~s aq:name")]);
    let claims_for = |approval: &authentiq_dev::Approval| {
        let redirect = f.provider.approve(&url, approval).unwrap();
        query(&redirect)["code"].clone()
    };
    let code = claims_for(&unverified);
    let claims = verify_hs256(
        f.exchange(&code).await["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["scope"], "openid aq:name");
    assert!(claims.get("email").is_none() && claims.get("phone_number").is_none());
    assert_eq!(claims["name"], "Alice Example");

    // Without `~s` the same values are shared, marked unverified.
    let plain = f.authorize_url(&[("scope", "openid email phone")]);
    let redirect = f.provider.approve(&plain, &unverified).unwrap();
    let claims = verify_hs256(
        f.exchange(&query(&redirect)["code"]).await["id_token"]
            .as_str()
            .unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["email_verified"], false);
    assert_eq!(claims["phone_number_verified"], false);

    // Verified, `~s` releases them; and a provider told to misbehave releases them anyway.
    let code = claims_for(&authentiq_dev::Approval::default());
    let claims = verify_hs256(
        f.exchange(&code).await["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["email_verified"], true);
    let code = claims_for(&authentiq_dev::Approval {
        release_unverified: true,
        ..unverified
    });
    let claims = verify_hs256(
        f.exchange(&code).await["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["email_verified"], false);
}

#[tokio::test]
async fn serves_the_authentiq_js_script() {
    let f = Fixture::new();
    let response = f
        .get(&format!("{}/authentiq.js", f.provider.base_url()), "")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let script = response.text().await.unwrap();
    for needle in [
        "response_mode', 'web_message'",
        "'authorization_response'",
        "event.origin !== provider",
        "response.state !== expected.state",
        "emit('authorized', response)",
        "emit('profile', body)",
        "emit('concluded', {})",
        "emit('error', body)",
    ] {
        assert!(script.contains(needle), "{needle}");
    }
}

#[tokio::test]
async fn end_session_redirects_to_a_registered_uri_with_state() {
    let f = Fixture::new();
    let body = f.exchange(&f.code(&[])).await;
    let hint = body["id_token"].as_str().unwrap();
    let sid = verify_hs256(hint, f.client.client_secret.as_bytes())["sid"].clone();
    let logout = format!("{}/authorize/logout", f.provider.base_url());
    let url = format!(
        "{logout}?{}",
        encode(&[
            ("id_token_hint", hint),
            ("post_logout_redirect_uri", LOGGED_OUT),
            ("state", "bye"),
        ])
    );
    let response = f.get(&url, "").await;
    assert_eq!(location(&response), format!("{LOGGED_OUT}?state=bye"));

    // The session ended: the next sign-in gets a new sid.
    let body = f.exchange(&f.code(&[])).await;
    let claims = verify_hs256(
        body["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_ne!(claims["sid"], sid);

    let url = format!(
        "{logout}?{}",
        encode(&[
            ("id_token_hint", body["id_token"].as_str().unwrap()),
            ("post_logout_redirect_uri", "http://127.0.0.1:9/elsewhere"),
        ])
    );
    let response = f.get(&url, "").await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("You have been signed out")
    );

    let iframe = f
        .get(
            &format!("{}/authorize/check-session", f.provider.base_url()),
            "",
        )
        .await;
    assert_eq!(iframe.status(), 200);
    assert!(iframe.text().await.unwrap().contains("postMessage"));
}

/// A tiny RP back-channel endpoint, served on the test's own runtime.
async fn logout_receiver() -> (String, Arc<Mutex<Vec<String>>>) {
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    let app = axum::Router::new().route(
        "/backchannel",
        axum::routing::post(move |body: String| {
            let sink = sink.clone();
            async move {
                let token = url::form_urlencoded::parse(body.as_bytes())
                    .find(|(k, _)| k == "logout_token")
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
                sink.lock().unwrap().push(token);
                axum::http::StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let uri = format!("http://{}/backchannel", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (uri, received)
}

#[tokio::test]
async fn back_channel_logout_tokens() {
    let (uri, received) = logout_receiver().await;
    let f = Fixture::with(ClientRegistration {
        backchannel_logout_uri: Some(uri),
        ..Default::default()
    });
    let secret = f.client.client_secret.clone();

    let status = f
        .provider
        .backchannel_logout(&f.client.client_id, Some("user-9"), None)
        .await
        .unwrap();
    assert_eq!(status, 200);
    let token = received.lock().unwrap().pop().unwrap();
    assert_eq!(common::parts(&token).0["typ"], "logout+jwt");
    let claims = verify_hs256(&token, secret.as_bytes());
    assert_eq!(claims["sub"], "user-9");
    assert_eq!(claims["iss"], f.provider.issuer());
    assert_eq!(claims["aud"], f.client.client_id.as_str());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["jti"].is_string() && claims["iat"].is_number());
    assert!(claims.get("nonce").is_none() && claims.get("sid").is_none());

    // RP-initiated logout notifies the client of the ended session.
    let id_token = f.exchange(&f.code(&[])).await["id_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let id_claims = verify_hs256(&id_token, secret.as_bytes());
    let url = format!(
        "{}/authorize/logout?{}",
        f.provider.base_url(),
        encode(&[("id_token_hint", &id_token)])
    );
    assert_eq!(f.get(&url, "").await.status(), 200);
    let mut token = None;
    for _ in 0..100 {
        token = received.lock().unwrap().pop();
        if token.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let claims = verify_hs256(&token.expect("back-channel logout sent"), secret.as_bytes());
    assert_eq!(claims["sid"], id_claims["sid"]);
    assert_eq!(claims["sub"], id_claims["sub"]);

    let bad = f
        .provider
        .backchannel_logout(&f.client.client_id, None, None)
        .await;
    assert!(bad.is_err());
}
