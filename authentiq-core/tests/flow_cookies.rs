//! Pending sign-ins cannot bloat a browser's `Cookie` header: each login keeps at most 3 flow
//! cookies within 4 KB, evicting unreadable, expired and then the oldest ones.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::Duration;

use authentiq_core::Authentiq;
use authentiq_core::adapter;
use authentiq_dev::{ClientRegistration, DevProvider};

async fn setup() -> (DevProvider, Authentiq) {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(vec![5u8; 64])
        .build()
        .await
        .unwrap();
    (provider, auth)
}

/// A browser's cookies, as (name, value) in the order they were set.
#[derive(Default)]
struct Browser(Vec<(String, String)>);

impl Browser {
    fn apply(&mut self, set_cookie: &str) {
        let pair = set_cookie.split(';').next().unwrap();
        let (name, value) = pair.split_once('=').unwrap();
        self.0.retain(|(n, _)| n != name);
        if !set_cookie.contains("Max-Age=0") {
            self.0.push((name.to_owned(), value.to_owned()));
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
    fn request(&self, return_to: &str) -> http::request::Parts {
        http::Request::builder()
            .uri(format!("/auth/login?return_to={return_to}"))
            .header("cookie", self.header())
            .body(())
            .unwrap()
            .into_parts()
            .0
    }
    fn flows(&self) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(n, _)| n.starts_with("authentiq_flow_"))
            .map(|(n, _)| n.as_str())
            .collect()
    }
    /// One login through the login route: its removals, then the new flow cookie, applied in
    /// the order the reply sets them.
    async fn login(&mut self, auth: &Authentiq, return_to: &str) -> String {
        let reply = adapter::respond(auth, &self.request(return_to), Some(b"")).await;
        assert_eq!(reply.status(), 303);
        let cookies: Vec<String> = reply.set_cookies().map(str::to_owned).collect();
        for c in &cookies {
            self.apply(c);
        }
        let cookie = cookies.last().expect("the new flow cookie comes last");
        cookie
            .split(';')
            .next()
            .unwrap()
            .split_once('=')
            .unwrap()
            .0
            .to_owned()
    }
}

#[tokio::test]
async fn a_fourth_login_evicts_the_oldest_flow() {
    let (_p, auth) = setup().await;
    let mut browser = Browser::default();
    let first = browser.login(&auth, "/a").await;
    // Flow ages are whole seconds.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let second = browser.login(&auth, "/b").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let third = browser.login(&auth, "/c").await;
    assert_eq!(browser.flows(), [&first, &second, &third]);
    let fourth = browser.login(&auth, "/d").await;
    assert_eq!(
        browser.flows(),
        [&second, &third, &fourth],
        "the oldest goes"
    );
    for _ in 0..20 {
        browser.login(&auth, "/again").await;
        assert_eq!(browser.flows().len(), 3);
    }
}

#[tokio::test]
async fn long_return_to_links_cannot_push_the_cookie_header_past_8_kb() {
    let (_p, auth) = setup().await;
    let mut browser = Browser::default();
    browser
        .0
        .push(("authentiq_session".into(), "s".repeat(3800)));
    let long = format!("/{}", "x".repeat(2047));
    for i in 0..10 {
        let (_, cookie) = auth.start_login(Some(&long), &[]);
        let pair = cookie.split(';').next().unwrap();
        assert!(pair.len() < 4096, "one flow cookie is {} bytes", pair.len());
        let name = browser.login(&auth, &long).await;
        let flow_bytes: usize = browser
            .0
            .iter()
            .filter(|(n, _)| n.starts_with("authentiq_flow_"))
            .map(|(n, v)| n.len() + 1 + v.len() + 2)
            .sum();
        assert!(
            flow_bytes <= 4096 + 2,
            "login {i}: {flow_bytes} bytes of flows"
        );
        assert!(
            browser.flows().contains(&name.as_str()),
            "the new flow stays"
        );
        assert!(
            browser.header().len() < 8192,
            "login {i}: Cookie header of {} bytes",
            browser.header().len()
        );
    }
    // The session cookie is never touched.
    assert!(browser.0.iter().any(|(n, _)| n == "authentiq_session"));
}

#[tokio::test]
async fn unreadable_flow_cookies_go_first_and_foreign_names_stay() {
    let (_p, auth) = setup().await;
    let mut browser = Browser::default();
    let good = browser.login(&auth, "/a").await;
    browser
        .0
        .push(("authentiq_flow_AAAAAAAAAAAA".into(), "tampered".into()));
    browser
        .0
        .push(("authentiq_flow_not-ours".into(), "x".into()));
    browser.0.push(("other".into(), "1".into()));
    let new = browser.login(&auth, "/b").await;
    let names: Vec<&str> = browser.0.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [good.as_str(), "authentiq_flow_not-ours", "other", &new]
    );
}
