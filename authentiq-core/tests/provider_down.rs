//! A provider that fails, with real parts over loopback HTTP: the development provider going
//! away and coming back, and a token endpoint answering garbage. The callback that needed the
//! provider answers 503 `provider_unavailable` (never 500), sessions that exist keep working,
//! and sign-in works again once the provider is back, without restarting the app.

#![allow(clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use authentiq_core::adapter::{self, SessionCache};
use authentiq_core::{Authentiq, Claims, EndpointOverrides};
use authentiq_dev::{Alg, Approval, ClientRegistration, DevProvider};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const APP: &str = "http://127.0.0.1:8000";

/// Every test runs under this bound, so a hung provider fails the test instead of the run.
async fn bounded<F: Future<Output = ()>>(test: F) {
    tokio::time::timeout(Duration::from_secs(60), test)
        .await
        .expect("the test finished in time");
}

/// The browser's cookies.
#[derive(Default)]
struct Jar(BTreeMap<String, String>);

impl Jar {
    fn apply(&mut self, reply: &adapter::Reply) {
        for c in reply.set_cookies() {
            let pair = c.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || c.contains("Max-Age=0") {
                self.0.remove(name);
            } else {
                self.0.insert(name.to_owned(), value.to_owned());
            }
        }
    }
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }
}

fn get(target: &str, accept: &str, jar: &Jar) -> http::Request<()> {
    http::Request::get(target)
        .header("accept", accept)
        .header("cookie", jar.header())
        .body(())
        .unwrap()
}

const HTML: &str = "text/html";
const JSON: &str = "application/json";

async fn app(provider: &DevProvider, endpoints: EndpointOverrides) -> Authentiq {
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec![format!("{APP}/auth/callback")],
        // Asymmetric, so the callback needs the provider's keys too.
        id_token_alg: Alg::RS256,
        ..Default::default()
    });
    Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url(APP)
        .session_key(vec![3u8; 64])
        .endpoints(endpoints)
        .http_timeout(Duration::from_secs(5))
        .build()
        .await
        .unwrap()
}

/// Login and approval, up to the callback the browser would follow: returns its local target
/// and the jar holding the flow cookie. Needs no HTTP to the provider.
async fn approved(auth: &Authentiq, provider: &DevProvider) -> (String, Jar) {
    let mut jar = Jar::default();
    let login = adapter::respond(
        auth,
        &get("/auth/login?return_to=/me", HTML, &jar),
        Some(b""),
    )
    .await;
    assert_eq!(login.status(), 303);
    jar.apply(&login);
    let authorize = login.header_value(http::header::LOCATION).unwrap();
    let callback = provider.approve(authorize, &Approval::default()).unwrap();
    (callback.strip_prefix(APP).unwrap().to_owned(), jar)
}

/// A whole sign-in; returns the jar with the session cookie.
async fn sign_in(auth: &Authentiq, provider: &DevProvider) -> Jar {
    let (callback, mut jar) = approved(auth, provider).await;
    let reply = adapter::respond(auth, &get(&callback, HTML, &jar), Some(b"")).await;
    assert_eq!(reply.status(), 303, "signed in: {reply:?}");
    assert_eq!(reply.header_value(http::header::LOCATION), Some("/me"));
    jar.apply(&reply);
    jar
}

/// The subject of the signed-in user, or the refusal's status.
async fn me(auth: &Authentiq, jar: &Jar) -> Result<String, u16> {
    let cache = SessionCache::new();
    adapter::require::<Claims>(auth, &get("/me", JSON, jar), &cache)
        .await
        .map(|id| id.subject)
        .map_err(|r| r.reply.status())
}

fn assert_provider_unavailable(reply: &adapter::Reply, json: bool) {
    assert_eq!(reply.status(), 503, "{reply:?}");
    let body = std::str::from_utf8(reply.body()).unwrap();
    if json {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"], "provider_unavailable", "{body}");
    } else {
        assert!(body.contains("provider_unavailable"), "{body}");
        assert!(body.starts_with("<!doctype html>"), "{body}");
    }
}

#[tokio::test]
async fn a_provider_that_goes_away_and_comes_back() {
    bounded(async {
        let provider = DevProvider::start().unwrap();
        let auth = app(&provider, EndpointOverrides::default()).await;
        let session = sign_in(&auth, &provider).await;
        let alice = me(&auth, &session).await.unwrap();

        provider.shutdown();
        for accept in [JSON, HTML] {
            let (callback, jar) = approved(&auth, &provider).await;
            let reply = adapter::respond(&auth, &get(&callback, accept, &jar), Some(b"")).await;
            assert_provider_unavailable(&reply, accept == JSON);
            assert!(
                reply
                    .set_cookies()
                    .all(|c| !c.starts_with(auth.session_cookie_name())),
                "no session from a failed sign-in"
            );
        }
        assert_eq!(
            me(&auth, &session).await,
            Ok(alice.clone()),
            "the existing session keeps working while the provider is away"
        );

        provider.resume().unwrap();
        let again = sign_in(&auth, &provider).await;
        assert_eq!(me(&auth, &again).await, Ok(alice.clone()));
        assert_eq!(me(&auth, &session).await, Ok(alice));
    })
    .await;
}

/// A bearer token signed by a key the app has not seen yet, while the provider (and so its
/// JWKS) is away: the app cannot tell a good token from a bad one, so it answers 503
/// `provider_unavailable`, not 401; once the provider is back, the same token is accepted.
#[tokio::test]
async fn a_new_key_while_the_jwks_is_unreachable_gives_503_then_verifies() {
    bounded(async {
        let provider = DevProvider::start().unwrap();
        let client_id = provider
            .register_client(ClientRegistration::default())
            .client_id;
        let auth = Authentiq::builder(provider.issuer(), &client_id)
            .public_url("http://127.0.0.1:8000")
            .session_key(vec![4u8; 64])
            .jwks_refetch_interval(Duration::from_secs(1))
            .build()
            .await
            .unwrap();
        provider.rotate_keys(true);
        let token =
            provider.mint_id_token_with(&client_id, Alg::RS256, "kim", serde_json::json!({}));
        let head = http::Request::get("/api/me")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts()
            .0;
        provider.shutdown();
        let refused = adapter::bearer::<Claims>(&auth, &head).await.unwrap_err();
        assert_eq!(refused.error.code(), "provider_unavailable");
        assert_eq!(refused.reply.status(), 503);
        provider.resume().unwrap();
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let id = adapter::bearer::<Claims>(&auth, &head).await.unwrap();
        assert_eq!(id.subject, "kim");
    })
    .await;
}

/// A token endpoint on loopback that answers every request with `response`, verbatim.
async fn garbage_endpoint(response: &'static str) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/token", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            tokio::spawn(async move {
                // Read the whole request (headers, then Content-Length bytes) before answering.
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                loop {
                    let Ok(n) = conn.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&buf);
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text[..end]
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap())
                            })
                            .unwrap_or(0);
                        if buf.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let _ = conn.write_all(response.as_bytes()).await;
                let _ = conn.shutdown().await;
            });
        }
    });
    url
}

#[tokio::test]
async fn a_token_endpoint_answering_garbage_gives_503() {
    bounded(async {
        let provider = DevProvider::start().unwrap();
        let garbage = [
            // Success status, but HTML.
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 17\r\nconnection: close\r\n\r\n<html>oops</html>",
            // A proxy's error page.
            "HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/html\r\ncontent-length: 11\r\nconnection: close\r\n\r\nBad Gateway",
            // JSON that is not a token response.
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 12\r\nconnection: close\r\n\r\n{\"hello\": 1}",
            // A body cut short.
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 500\r\nconnection: close\r\n\r\n{\"access_token\":",
        ];
        for response in garbage {
            let endpoints = EndpointOverrides {
                token: Some(garbage_endpoint(response).await),
                ..Default::default()
            };
            let auth = app(&provider, endpoints).await;
            let (callback, jar) = approved(&auth, &provider).await;
            let reply = adapter::respond(&auth, &get(&callback, JSON, &jar), Some(b"")).await;
            assert_provider_unavailable(&reply, true);
        }
    })
    .await;
}
