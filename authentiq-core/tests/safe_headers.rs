//! Headers and logs carry only safe text, seen from the attacker's side: a hostile callback
//! `state` never names a cookie, a token header's text never breaks `WWW-Authenticate`, a
//! response that sets the session cookie is never stored by a shared cache, and `Debug` output
//! never shows a secret.

#![allow(clippy::unwrap_used, missing_docs)]

use std::time::{SystemTime, UNIX_EPOCH};

use authentiq_core::adapter::{self, SessionCache};
use authentiq_core::{Authentiq, Claims, SessionData};
use authentiq_dev::{Alg, ClientRegistration, DevProvider};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;

const SECRET: &str = "client-secret-that-must-not-show";

async fn setup() -> (DevProvider, Authentiq, String) {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(vec![3u8; 64])
        .build()
        .await
        .unwrap();
    (provider, auth, client.client_id)
}

fn head(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn enc(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A callback whose `state` is not 43 base64url characters (what the core issues) is refused as
/// `state_mismatch` before any cookie name is made from it: the answer sets no cookie at all.
#[tokio::test]
async fn a_hostile_state_names_no_cookie() {
    let (_p, auth, _) = setup().await;
    let login = adapter::respond(&auth, &head("GET", "/auth/login", &[]), Some(b"")).await;
    let location = login.header_value(http::header::LOCATION).unwrap();
    let issued = url::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    assert_eq!(issued.len(), 43, "the core issues 32 bytes base64url");
    let flow_cookie = login
        .set_cookies()
        .next()
        .unwrap()
        .split(';')
        .next()
        .unwrap();

    for state in [
        "abc\r\nx-injected: 1".to_owned(),
        format!("{}\r\n", &issued[..41]),
        format!("{issued}A"),
        issued[..42].to_owned(),
        format!("{}.", &issued[..42]),
        format!("{}=", &issued[..42]),
        format!("{};", &issued[..42]),
        "x".repeat(600),
    ] {
        let uri = format!("/auth/callback?code=c&state={}", enc(&state));
        let h = head(
            "GET",
            &uri,
            &[("accept", "application/json"), ("cookie", flow_cookie)],
        );
        let reply = adapter::respond(&auth, &h, Some(b"")).await;
        assert_eq!(reply.status(), 400, "state {state:?}");
        let body: serde_json::Value = serde_json::from_slice(reply.body()).unwrap();
        assert_eq!(body["error"], "state_mismatch", "state {state:?}");
        assert_eq!(reply.set_cookies().count(), 0, "state {state:?}: {reply:?}");
        // The form post and the JSON post are held to the same rule.
        for (ct, body) in [
            (
                "application/x-www-form-urlencoded",
                format!("code=c&state={}", enc(&state)),
            ),
            (
                "application/json",
                json!({"code": "c", "state": state}).to_string(),
            ),
        ] {
            let h = head(
                "POST",
                "/auth/callback",
                &[
                    ("content-type", ct),
                    ("accept", "application/json"),
                    ("cookie", flow_cookie),
                ],
            );
            let reply = adapter::respond(&auth, &h, Some(body.as_bytes())).await;
            assert_eq!(reply.status(), 400, "{ct} state {state:?}");
            assert_eq!(reply.set_cookies().count(), 0, "{ct} state {state:?}");
        }
    }
}

/// A bearer token whose header holds a CR/LF (or other control or non-ASCII text) in `alg`,
/// `typ` or `kid` still gets a 401 with an intact `WWW-Authenticate`, and the error text the
/// logs print holds no control character.
#[tokio::test]
async fn token_header_text_cannot_break_www_authenticate() {
    let (provider, auth, client_id) = setup().await;
    let genuine = provider.mint_id_token_with(&client_id, Alg::RS256, "user", json!({}));
    let mut parts = genuine.split('.');
    let original: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    let payload = parts.next().unwrap();
    let signature = parts.next().unwrap();
    let kid = original["kid"].as_str().unwrap_or("k");

    for (case, header) in [
        (
            "CRLF in alg",
            json!({"alg": "RS256\r\nx-injected: 1", "kid": kid}),
        ),
        (
            "ESC, DEL, C1 and non-ASCII in alg",
            json!({"alg": "\u{1b}[31mRS256\u{7f}\u{85}é", "kid": kid}),
        ),
        (
            "CRLF in typ",
            json!({"alg": "RS256", "typ": "JWT\r\n\r\n<html>", "kid": kid}),
        ),
        (
            "CRLF in kid",
            json!({"alg": "RS256", "kid": "no-such-kid\r\nx-injected: 1"}),
        ),
        (
            "5000 LFs in alg",
            json!({"alg": format!("RS256{}", "\n".repeat(5000)), "kid": kid}),
        ),
    ] {
        let token = format!(
            "{}.{payload}.{signature}",
            URL_SAFE_NO_PAD.encode(header.to_string())
        );
        let auth_header = format!("Bearer {token}");
        let h = head(
            "GET",
            "/api/me",
            &[
                ("accept", "application/json"),
                ("authorization", &auth_header),
            ],
        );
        let refusal = adapter::bearer::<Claims>(&auth, &h).await.unwrap_err();
        let text = refusal.error.to_string();
        assert!(
            !text.chars().any(char::is_control),
            "{case}: error text {text:?}"
        );
        assert!(text.len() < 400, "{case}: error text is bounded");
        let res = refusal.reply.into_http();
        assert_eq!(res.status(), 401, "{case}");
        let challenge = res
            .headers()
            .get(http::header::WWW_AUTHENTICATE)
            .unwrap_or_else(|| panic!("{case}: WWW-Authenticate was dropped"))
            .to_str()
            .unwrap();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\", error_description=\""),
            "{case}: {challenge}"
        );
        assert!(challenge.ends_with('"'), "{case}: {challenge}");
        assert!(res.headers().get("x-injected").is_none());
    }
}

/// A guarded response that refreshes the session cookie asks shared caches not to store it:
/// the adapter's one call yields the cookie with `Cache-Control: private` and `Vary: Cookie`.
#[tokio::test]
async fn a_refreshed_session_cookie_comes_with_caching_headers() {
    let (provider, auth, client_id) = setup().await;
    let now = now();
    let data = SessionData {
        id: "session-id".into(),
        sub: "user".into(),
        iss: provider.issuer(),
        aud: client_id,
        sid: None,
        iat: now - 3600,
        exp: now + 3600,
        // Seen an hour ago: the idle timer slides and the cookie is resealed.
        seen: now - 3600,
        claims: serde_json::Map::new(),
        id_token: Some("id.token.secret".into()),
        session_state: None,
    };
    let cookie = auth.session_cookie(&data).await.unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let h = head(
        "GET",
        "/me",
        &[("accept", "application/json"), ("cookie", &pair)],
    );

    let cache = SessionCache::new();
    assert!(
        cache.response_headers("", "").is_empty(),
        "nothing read yet"
    );
    let who = adapter::require::<Claims>(&auth, &h, &cache).await.unwrap();
    assert_eq!(who.subject, "user");
    let headers: Vec<(String, String)> = cache
        .response_headers("", "")
        .into_iter()
        .map(|(n, v)| (n.as_str().to_owned(), v))
        .collect();
    assert_eq!(headers.len(), 3, "{headers:?}");
    assert_eq!(headers[0].0, "set-cookie");
    assert!(headers[0].1.starts_with("authentiq_session="));
    assert!(headers.contains(&("cache-control".into(), "private".into())));
    assert!(headers.contains(&("vary".into(), "Cookie".into())));

    // The cache's Debug (frameworks log request extensions) shows neither the sealed cookie
    // nor what the session holds.
    let shown = format!("{cache:?}");
    let sealed = headers[0]
        .1
        .split(';')
        .next()
        .unwrap()
        .split_once('=')
        .unwrap()
        .1;
    assert!(!shown.contains(sealed), "{shown}");
    assert!(!shown.contains("session-id"), "{shown}");
    assert!(!shown.contains("id.token.secret"), "{shown}");
    assert!(shown.contains("valid"), "{shown}");

    // A fresh session needs no new cookie, and then no header at all.
    let fresh = SessionData { seen: now, ..data };
    let cookie = auth.session_cookie(&fresh).await.unwrap();
    let pair = cookie.split(';').next().unwrap().to_owned();
    let h = head(
        "GET",
        "/me",
        &[("accept", "application/json"), ("cookie", &pair)],
    );
    let cache = SessionCache::new();
    adapter::require::<Claims>(&auth, &h, &cache).await.unwrap();
    assert!(cache.response_headers("", "").is_empty());

    // Removing an unusable cookie is a Set-Cookie too, with the same headers.
    let h = head(
        "GET",
        "/me",
        &[
            ("accept", "application/json"),
            ("cookie", "authentiq_session=junk"),
        ],
    );
    let cache = SessionCache::new();
    adapter::require::<Claims>(&auth, &h, &cache)
        .await
        .unwrap_err();
    let names: Vec<String> = cache
        .response_headers("", "")
        .iter()
        .map(|(n, _)| n.as_str().to_owned())
        .collect();
    assert_eq!(names, ["set-cookie", "cache-control", "vary"]);

    // What the response already says is merged into one value per header: `public` and
    // `s-maxage` go, `private` joins; a response that already keeps shared caches out, or
    // already varies on Cookie, keeps its own value.
    let merged = |cc: &str, vary: &str| -> Vec<(String, String)> {
        cache
            .response_headers(cc, vary)
            .into_iter()
            .skip(1)
            .map(|(n, v)| (n.as_str().to_owned(), v))
            .collect()
    };
    assert_eq!(
        merged("public, max-age=60, s-maxage=600", "Accept-Encoding"),
        [
            ("cache-control".to_owned(), "max-age=60, private".to_owned()),
            ("vary".to_owned(), "Accept-Encoding, Cookie".to_owned())
        ]
    );
    assert!(merged("no-store", "cookie").is_empty());
    assert!(merged("Private, max-age=5", "*").is_empty());

    // On a reply the core decided (a refusal with `no-store`), nothing is repeated.
    let refusal = adapter::Reply::json(401, &serde_json::json!({}))
        .header(http::header::CACHE_CONTROL, "no-store");
    let reply = cache.apply_to_reply(refusal);
    let values = |name: http::HeaderName| -> Vec<&str> {
        reply
            .headers()
            .filter(|(n, _)| **n == name)
            .map(|(_, v)| v)
            .collect()
    };
    assert_eq!(values(http::header::CACHE_CONTROL), ["no-store"]);
    assert_eq!(values(http::header::VARY), ["Cookie"]);
    assert_eq!(values(http::header::SET_COOKIE).len(), 1);

    // On `http` types: one value per header, whatever the handler set.
    let mut headers = http::HeaderMap::new();
    headers.append(http::header::CACHE_CONTROL, "public".parse().unwrap());
    headers.append(http::header::CACHE_CONTROL, "max-age=60".parse().unwrap());
    cache.apply(&mut headers);
    let all = |name| {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(all(http::header::CACHE_CONTROL), ["max-age=60, private"]);
    assert_eq!(all(http::header::VARY), ["Cookie"]);
    assert_eq!(all(http::header::SET_COOKIE).len(), 1);
}

/// `Debug` of the configuration, its builder and a reply shows no secret: not the client
/// secret, not the session key, not a sealed session cookie.
#[tokio::test]
async fn debug_output_shows_no_secret() {
    let key = vec![0xabu8; 64];
    let builder = Authentiq::builder("https://connect.example.com", "client")
        .client_secret(SECRET)
        .public_url("https://app.example.com")
        .session_key(key.clone());
    let shown = format!("{builder:?}");
    assert!(!shown.contains(SECRET), "{shown}");
    assert!(!shown.contains("171, 171"), "session key bytes: {shown}");
    assert!(
        shown.contains("client"),
        "the builder is still described: {shown}"
    );

    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(key)
        .build()
        .await
        .unwrap();
    let shown = format!("{:?} {:?}", auth.config(), auth);
    assert!(!shown.contains(&client.client_secret), "{shown}");
    assert!(!shown.contains("171, 171"), "{shown}");

    let login = adapter::respond(&auth, &head("GET", "/auth/login", &[]), Some(b"")).await;
    let sealed = login.set_cookies().next().unwrap().to_owned();
    let value = sealed.split(';').next().unwrap().split_once('=').unwrap().1;
    let shown = format!("{login:?}");
    assert!(!shown.contains(value), "{shown}");
}
