//! Bad input never panics and never becomes a 5xx: seeded random mutations of tokens, cookies,
//! callback parameters, bodies and headers thrown at the core's entry points.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::adapter::{self, Reply, SessionCache};
use authentiq_core::{Authentiq, Channel, TokenError};
use authentiq_dev::{Alg, ClientRegistration, DevProvider};
use serde_json::json;

/// xorshift64*: deterministic, so a failure reproduces from its iteration number.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const NASTY: &[&str] = &[
    "",
    ".",
    "..",
    "=",
    "%",
    "%00",
    "%ff",
    "\"",
    "'",
    "<script>",
    "\\",
    "//",
    "/\\",
    "~",
    "{",
    "}",
    "[",
    "]",
    "null",
    "true",
    "-1",
    "1e999",
    "9999999999999999999999",
    "é",
    "\u{1F600}",
    "a.b.c",
    "a.b.c.d.e",
    "Bearer",
    "Basic x",
    ";",
    ",",
    " ",
    "\t",
];

fn mutate(rng: &mut Rng, input: &str) -> String {
    let mut s: Vec<char> = input.chars().collect();
    for _ in 0..=rng.below(4) {
        match rng.below(6) {
            0 if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] = char::from(b' ' + (rng.below(94) as u8));
            }
            1 if !s.is_empty() => {
                let i = rng.below(s.len());
                s.truncate(i);
            }
            2 => {
                let i = rng.below(s.len() + 1);
                for (k, c) in rng.pick(NASTY).chars().enumerate() {
                    s.insert(i + k, c);
                }
            }
            3 if s.len() > 1 => {
                let i = rng.below(s.len());
                s.remove(i);
            }
            4 => s = rng.pick(NASTY).chars().collect(),
            _ => s.extend(std::iter::repeat_n('A', rng.below(64))),
        }
    }
    s.into_iter().collect()
}

fn head(method: &str, uri: &str, headers: &[(&str, String)]) -> Option<http::request::Parts> {
    let mut b = http::Request::builder().method(method).uri(uri);
    for (k, v) in headers {
        b = b.header(*k, v.as_str());
    }
    // Inputs that are not even valid HTTP never reach an app.
    b.body(()).ok().map(|r| r.into_parts().0)
}

async fn setup() -> (DevProvider, Authentiq, String, String) {
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
    let token = provider.mint_id_token_with(
        &client.client_id,
        Alg::RS256,
        "user",
        json!({"email": "a@b.c"}),
    );
    (provider, auth, token, client.client_id)
}

fn assert_client_error(reply: &Reply, what: &str) {
    assert!(
        (300..500).contains(&reply.status()) || reply.status() == 503,
        "{what}: status {} body {}",
        reply.status(),
        String::from_utf8_lossy(reply.body())
    );
}

#[tokio::test]
async fn mutated_tokens_never_validate_or_panic() {
    let (_p, auth, token, _) = setup().await;
    let mut rng = Rng(0x5eed_0001);
    for i in 0..3000 {
        let bad = mutate(&mut rng, &token);
        if bad == token {
            continue;
        }
        let r = auth
            .validate_id_token(&bad, Channel::Browser, None, None, None)
            .await;
        // A mutation that only touches base64 padding bits could still verify; anything that
        // validates must carry exactly the original claims.
        if let Ok(v) = r {
            assert_eq!(v.subject(), "user", "iteration {i}: {bad}");
        }
    }
}

/// One claim rule broken on purpose, in a token signed with the provider's real key, and the
/// exact refusal it must get.
fn broken_claim(
    rng: &mut Rng,
    claims: &mut serde_json::Value,
    client_id: &str,
    now: u64,
) -> TokenError {
    let c = claims.as_object_mut().unwrap();
    let garbage = || json!(["x", 1]);
    match rng.below(16) {
        0 => {
            c.insert("iss".into(), json!("https://evil.example/"));
            TokenError::Issuer
        }
        1 => {
            c.remove("iss");
            TokenError::MissingClaim("iss")
        }
        2 => {
            c.insert("aud".into(), json!("someone-else"));
            TokenError::Audience
        }
        3 => {
            c.insert("aud".into(), json!([client_id, "someone-else"]));
            TokenError::UntrustedAudience
        }
        4 => {
            c.insert("aud".into(), garbage());
            TokenError::MissingClaim("aud")
        }
        5 => {
            c.insert("azp".into(), json!("someone-else"));
            TokenError::AuthorizedParty
        }
        6 => {
            c.insert("exp".into(), json!(now - 3600 - rng.below(10_000) as u64));
            TokenError::Expired
        }
        7 => {
            c.remove("exp");
            TokenError::MissingClaim("exp")
        }
        8 => {
            c.insert("exp".into(), json!("tomorrow"));
            TokenError::MissingClaim("exp")
        }
        9 => {
            c.insert("iat".into(), json!(now + 3600 + rng.below(10_000) as u64));
            TokenError::IssuedInFuture
        }
        10 => {
            c.remove("iat");
            TokenError::MissingClaim("iat")
        }
        11 => {
            c.insert("nbf".into(), json!(now + 3600));
            TokenError::NotYetValid
        }
        12 => {
            c.insert("sub".into(), json!(""));
            TokenError::MissingClaim("sub")
        }
        13 => {
            c.remove("sub");
            TokenError::MissingClaim("sub")
        }
        14 => {
            c.insert("nonce".into(), json!(format!("n-{}", rng.next())));
            TokenError::Nonce
        }
        _ => {
            c.insert(
                "events".into(),
                json!({"http://schemas.openid.net/event/backchannel-logout": {}}),
            );
            TokenError::NotAnIdToken
        }
    }
}

/// Mutations that reach every claim rule: each token is re-signed with the provider's own key
/// after one claim was broken, and must be refused for exactly that claim. A second copy whose
/// claims are honest but whose signature was altered must be refused as a bad signature: with
/// signature checking disabled, this test fails.
#[tokio::test]
async fn signed_tokens_with_one_broken_claim_get_exactly_that_refusal() {
    let (provider, auth, _, client_id) = setup().await;
    let key = provider.signing_key(Alg::RS256).unwrap();
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()});
    let mut rng = Rng(0x5eed_0006);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    for i in 0..400 {
        let mut claims = json!({
            "iss": provider.issuer(), "sub": format!("user-{i}"), "aud": client_id,
            "exp": now + 600, "iat": now - 5, "nonce": "expected-nonce",
            "name": mutate(&mut rng, "Alice Example"),
        });
        let honest = key.sign_jws(&header, &claims);
        let ok = auth
            .validate_id_token(
                &honest,
                Channel::Browser,
                Some("expected-nonce"),
                None,
                None,
            )
            .await;
        assert!(ok.is_ok(), "iteration {i}: the honest token: {ok:?}");
        // The same honest claims under an altered signature.
        let (signing_input, sig) = honest.rsplit_once('.').unwrap();
        let mut sig: Vec<char> = sig.chars().collect();
        let at = rng.below(sig.len() - 2);
        sig[at] = if sig[at] == 'A' { 'B' } else { 'A' };
        let forged = format!("{signing_input}.{}", sig.into_iter().collect::<String>());
        let refused = auth
            .validate_id_token(
                &forged,
                Channel::Browser,
                Some("expected-nonce"),
                None,
                None,
            )
            .await;
        assert_eq!(refused, Err(TokenError::BadSignature), "iteration {i}");
        // One claim broken, properly signed.
        let expected = broken_claim(&mut rng, &mut claims, &client_id, now);
        let token = key.sign_jws(&header, &claims);
        let refused = auth
            .validate_id_token(&token, Channel::Browser, Some("expected-nonce"), None, None)
            .await;
        assert_eq!(refused, Err(expected), "iteration {i}: {claims}");
    }
}

#[tokio::test]
async fn garbage_bearer_headers_are_401() {
    let (_p, auth, token, _) = setup().await;
    let mut rng = Rng(0x5eed_0002);
    for i in 0..1500 {
        let value = format!(
            "{} {}",
            rng.pick(&["Bearer", "bearer", "BEARER", "Bearer  "]),
            mutate(&mut rng, &token)
        );
        let Some(h) = head("GET", "/me", &[("authorization", value)]) else {
            continue;
        };
        match adapter::require::<authentiq_core::Claims>(&auth, &h, &SessionCache::new()).await {
            Ok(id) => assert_eq!(id.subject, "user", "iteration {i}"),
            Err(e) => assert_eq!(e.reply.status(), 401, "iteration {i}: {e}"),
        }
    }
}

#[tokio::test]
async fn garbage_session_cookies_are_no_session() {
    let (_p, auth, _, _) = setup().await;
    let mut rng = Rng(0x5eed_0003);
    for i in 0..1500 {
        let cookie = format!(
            "authentiq_session={}",
            mutate(
                &mut rng,
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            )
        );
        let Some(h) = head("GET", "/me", &[("cookie", cookie)]) else {
            continue;
        };
        let cache = SessionCache::new();
        let check = cache.get(&auth, &h).await;
        assert!(check.session().is_none(), "iteration {i}");
    }
}

#[tokio::test]
async fn garbage_callbacks_are_client_errors() {
    let (_p, auth, _, _) = setup().await;
    let mut rng = Rng(0x5eed_0004);
    let params = [
        "code",
        "state",
        "error",
        "error_description",
        "id_token",
        "session_state",
        "return_to",
    ];
    for i in 0..1500 {
        let mut q = String::new();
        for _ in 0..rng.below(5) {
            let k = rng.pick(&params);
            let v = mutate(&mut rng, "abcdefghijklmnopqrstuvwxyz");
            q.push_str(&format!(
                "{k}={}&",
                url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()
            ));
        }
        let cookie = format!(
            "authentiq_flow_{}={}",
            mutate(&mut rng, "abcdefghijkl"),
            mutate(&mut rng, "AAAA")
        );
        let Some(h) = head(
            "GET",
            &format!("/auth/callback?{q}"),
            &[("cookie", cookie.clone())],
        ) else {
            continue;
        };
        let reply = adapter::respond(&auth, &h, Some(b"")).await;
        assert_client_error(&reply, &format!("iteration {i}: GET ?{q}"));
        assert!(
            reply
                .set_cookies()
                .all(|c| !c.starts_with("authentiq_session=") || c.contains("Max-Age=0"))
        );

        let ct = rng.pick(&[
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "",
            "application/json; charset=utf-8",
        ]);
        let body = mutate(&mut rng, &format!("{{\"code\":\"x\",\"state\":\"y\"}}{q}"));
        let Some(h) = head(
            "POST",
            "/auth/callback",
            &[("content-type", ct.to_owned()), ("cookie", cookie)],
        ) else {
            continue;
        };
        let reply = adapter::respond(&auth, &h, Some(body.as_bytes())).await;
        assert_client_error(&reply, &format!("iteration {i}: POST {ct} {body}"));
    }
}

#[tokio::test]
async fn garbage_on_every_auth_route_is_a_client_error() {
    let (_p, auth, token, client_id) = setup().await;
    let mut rng = Rng(0x5eed_0005);
    let paths = [
        "/auth/login",
        "/auth/logout",
        "/auth/forget",
        "/auth/backchannel-logout",
        "/auth/callback",
    ];
    for i in 0..1500 {
        let path = rng.pick(&paths);
        let method = rng.pick(&["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS"]);
        let query =
            url::form_urlencoded::byte_serialize(mutate(&mut rng, "/somewhere?x=1").as_bytes())
                .collect::<String>();
        let headers = vec![
            ("origin", mutate(&mut rng, "http://127.0.0.1:8000")),
            ("accept", mutate(&mut rng, "text/html,application/json")),
            (
                "content-type",
                mutate(&mut rng, "application/x-www-form-urlencoded"),
            ),
        ];
        let Some(h) = head(method, &format!("{path}?return_to={query}"), &headers) else {
            continue;
        };
        let body = format!("logout_token={}", mutate(&mut rng, &token));
        let reply = adapter::respond(&auth, &h, Some(body.as_bytes())).await;
        assert_client_error(&reply, &format!("iteration {i}: {method} {path}"));
        if path == "/auth/login" && reply.status() == 303 {
            let loc = reply.header_value(http::header::LOCATION).unwrap();
            assert!(
                loc.contains(&format!("client_id={client_id}")),
                "login goes to the provider"
            );
        }
    }
}
