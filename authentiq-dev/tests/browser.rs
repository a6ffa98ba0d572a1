//! What a browser sees: the sign-in page, the simulated phone form, one-click, logout.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use authentiq_dev::ClientRegistration;
use common::{Fixture, LOGGED_OUT, REDIRECT, encode, query, verify_hs256};
use reqwest::Response;
use reqwest::header::HeaderMap;

fn pending_id(page: &str) -> String {
    let start = page.find("name=\"pending\" value=\"").unwrap() + 22;
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

fn location(response: &Response) -> String {
    assert_eq!(response.status(), 303);
    response.headers()["location"].to_str().unwrap().to_owned()
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

    /// Opens the sign-in page and returns its pending id.
    async fn open_sign_in(&self, params: &[(&str, &str)], cookie: &str) -> (String, String) {
        let response = self.get(&self.authorize_url(params), cookie).await;
        assert_eq!(response.status(), 200);
        let page = response.text().await.unwrap();
        (pending_id(&page), page)
    }
}

#[tokio::test]
async fn sign_in_page_shows_qr_and_form_and_escapes_input() {
    let f = Fixture::with(ClientRegistration {
        client_id: Some("<b>evil</b>&\"co\"".into()),
        ..Default::default()
    });
    let hostile_state = "\"><script>alert(1)</script>";
    let (pending, page) = f
        .open_sign_in(
            &[
                ("state", hostile_state),
                ("scope", "openid aq:name email~rs phone aq:push"),
                ("login_hint", "<img src=x>@example.com"),
            ],
            "",
        )
        .await;
    assert!(page.contains("<h1>Sign in with Authentiq</h1>"));
    assert!(page.contains("<svg"), "inline QR code");
    assert!(!page.contains("<?xml"));
    assert!(page.contains("&lt;b&gt;evil&lt;/b&gt;&amp;&quot;co&quot;"));
    assert!(!page.contains("<b>evil"));
    assert!(!page.contains("<script>alert"));
    assert!(!page.contains("<img src=x>"));
    assert!(page.contains("action=\"/authorize/approve\""));
    assert!(page.contains("value=\"approve\"") && page.contains("value=\"deny\""));
    assert!(page.contains("name=\"email_verified\"") && page.contains("name=\"phone_type\""));
    assert!(page.contains("signed/verified") && page.contains("required"));
    assert!(page.contains("<input type=\"checkbox\" checked disabled> Email address"));
    assert!(page.contains("name=\"grant\" value=\"phone\""));
    assert!(!page.contains("name=\"grant\" value=\"email\""));
    assert!(page.contains(&format!(
        "{}/authorize/phone/{pending}",
        f.provider.base_url()
    )));
    assert!(!page.contains("<link") && !page.contains("<script src") && !page.contains("<img"));

    let phone = f
        .get(
            &format!("{}/authorize/phone/{pending}", f.provider.base_url()),
            "",
        )
        .await;
    assert_eq!(phone.status(), 200);
    assert!(phone.text().await.unwrap().contains("value=\"approve\""));
    let missing = f
        .get(
            &format!("{}/authorize/phone/nope", f.provider.base_url()),
            "",
        )
        .await;
    assert_eq!(missing.status(), 404);
}

#[tokio::test]
async fn untrusted_redirect_uri_gets_an_error_page_not_a_redirect() {
    let f = Fixture::new();
    for params in [
        vec![("redirect_uri", "http://127.0.0.1:9/evil")],
        vec![("client_id", "unknown")],
        vec![("redirect_uri", "")],
    ] {
        let response = f.get(&f.authorize_url(&params), "").await;
        assert_eq!(response.status(), 400, "{params:?}");
        assert!(response.headers().get("location").is_none());
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    // Other errors go back to the RP.
    let response = f.get(&f.authorize_url(&[("scope", "email")]), "").await;
    let q = query(&location(&response));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("invalid_scope", "st")
    );
}

#[tokio::test]
async fn posting_the_approval_form_redirects_with_code_and_state() {
    let f = Fixture::new();
    let scope = [("scope", "openid aq:name email~r phone")];
    let (pending, _) = f.open_sign_in(&scope, "").await;
    let form = [
        ("pending", pending.as_str()),
        ("name", "Bob Builder"),
        ("email", "bob@example.com"),
        ("email_verified", "on"),
        ("phone", "+15550100"),
        ("phone_type", "mobile"),
        ("grant", "aq:name"),
        ("decision", "approve"),
    ];
    let response = f.post_form("/authorize/approve", &form, "").await;
    let redirect = location(&response);
    assert!(redirect.starts_with(&format!("{REDIRECT}?code=")));
    let set_cookies = cookies(response.headers());
    assert!(set_cookies.contains("aqdev_sid="));
    let q = query(&redirect);
    assert_eq!(q["state"], "st");
    assert!(q.contains_key("session_state"));

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

    // Pending sign-ins are one-time.
    let again = f.post_form("/authorize/approve", &form, "").await;
    assert_eq!(again.status(), 400);

    // The browser now has a provider session: prompt=none answers at once, same sid.
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
async fn deny_and_form_post() {
    let f = Fixture::new();
    let (pending, _) = f.open_sign_in(&[], "").await;
    let response = f
        .post_form(
            "/authorize/approve",
            &[("pending", &pending), ("decision", "deny")],
            "",
        )
        .await;
    let q = query(&location(&response));
    assert_eq!(
        (q["error"].as_str(), q["state"].as_str()),
        ("access_denied", "st")
    );

    let (pending, _) = f.open_sign_in(&[("response_mode", "form_post")], "").await;
    let form = [
        ("pending", pending.as_str()),
        ("decision", "approve"),
        ("email", "a@b.c"),
    ];
    let response = f.post_form("/authorize/approve", &form, "").await;
    assert_eq!(response.status(), 200);
    let page = response.text().await.unwrap();
    assert!(page.contains(&format!("action=\"{REDIRECT}\"")));
    assert!(page.contains("name=\"code\""));
    assert!(page.contains("name=\"state\" value=\"st\""));
    assert!(page.contains("submit()"));
}

#[tokio::test]
async fn one_click_sign_in_after_aq_push() {
    let f = Fixture::new();
    let scope = [("scope", "openid email aq:push")];
    let (pending, _) = f.open_sign_in(&scope, "").await;
    let form = [
        ("pending", pending.as_str()),
        ("email", "carol@example.com"),
        ("grant", "email"),
        ("grant", "aq:push"),
        ("decision", "approve"),
    ];
    let response = f.post_form("/authorize/approve", &form, "").await;
    let device_cookie = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("aqdev_device="))
        .unwrap()
        .to_owned();
    assert!(device_cookie.contains("HttpOnly") && device_cookie.contains("Max-Age="));
    let browser = device_cookie.split(';').next().unwrap().to_owned();

    let (pending, page) = f.open_sign_in(&scope, &browser).await;
    assert!(page.contains("We sent a push notification to your phone"));
    assert!(page.contains("carol@example.com"));
    assert!(!page.contains("<svg"));
    let tap = [
        ("pending", pending.as_str()),
        ("push", "1"),
        ("decision", "approve"),
    ];
    let response = f.post_form("/authorize/approve", &tap, &browser).await;
    let code = query(&location(&response))["code"].clone();
    let claims = verify_hs256(
        f.exchange(&code).await["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["email"], "carol@example.com");

    let (_, page) = f
        .open_sign_in(&[scope[0], ("prompt", "consent")], &browser)
        .await;
    assert!(page.contains("<svg") && !page.contains("push notification"));
    let (_, page) = f.open_sign_in(&scope, "").await;
    assert!(!page.contains("push notification"), "unknown browser");
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
