//! The session cookie check at its exact edges: expiry and idle expiry to the second, when
//! the idle timer slides (every twentieth of the idle period), issuer and client each checked
//! on their own, and the 3800-character limit past which a cookie session sheds its ID Token
//! and then its optional claims. And the opened-session memory: a cookie checked again is
//! not decrypted again, yet ends exactly when, and as soon as, the session does.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::adapter::{self, SessionCheck};
use authentiq_core::{Authentiq, SessionData};
use authentiq_dev::{ClientRegistration, DevProvider};
use serde_json::{Map, Value, json};

/// The idle period these tests configure; the timer slides after a twentieth of it (300 s).
const IDLE: u64 = 6000;

async fn setup() -> (DevProvider, Authentiq) {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let session = authentiq_core::SessionConfig {
        idle: std::time::Duration::from_secs(IDLE),
        ..Default::default()
    };
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(vec![2u8; 64])
        .session(session)
        .build()
        .await
        .unwrap();
    (provider, auth)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn data(auth: &Authentiq, n: u64) -> SessionData {
    SessionData {
        id: "id-1".into(),
        sub: "alice".into(),
        iss: auth.provider().issuer.clone(),
        aud: auth.config().client_id.clone(),
        sid: Some("sid-1".into()),
        iat: n,
        exp: n + 3600,
        seen: n,
        claims: Map::new(),
        id_token: Some("h.p.s".into()),
        session_state: None,
    }
}

/// The cookie's value in a `Set-Cookie` header.
fn value(set_cookie: &str) -> &str {
    set_cookie
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .unwrap()
        .1
}

/// Seals `d` and checks the cookie as a request would carry it.
async fn seal_and_check(auth: &Authentiq, d: &SessionData) -> (String, SessionCheck) {
    let set_cookie = auth.session_cookie(d).await.unwrap();
    let sealed = value(&set_cookie).to_owned();
    let req = http::Request::get("/me")
        .header("cookie", format!("{}={sealed}", auth.session_cookie_name()))
        .body(())
        .unwrap();
    let check = adapter::check_session(auth, &req).await;
    (sealed, check)
}

/// Runs `f(now)` until it ran within one wall-clock second.
async fn at_one_second<T, Fut: Future<Output = T>>(mut f: impl FnMut(u64) -> Fut) -> T {
    loop {
        let n = now();
        let out = f(n).await;
        if now() == n {
            return out;
        }
    }
}

#[tokio::test]
async fn a_session_ends_at_its_expiry_to_the_second() {
    let (_p, auth) = setup().await;
    let (last, ended) = at_one_second(|n| {
        let auth = &auth;
        async move {
            let mut last = data(auth, n);
            last.exp = n + 1;
            let mut ended = last.clone();
            ended.exp = n;
            (
                seal_and_check(auth, &last).await.1,
                seal_and_check(auth, &ended).await.1,
            )
        }
    })
    .await;
    assert!(last.session().is_some(), "one second before its expiry");
    assert!(ended.session().is_none(), "at its expiry");
    assert!(ended.set_cookie.unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn a_session_ends_after_the_idle_period_to_the_second() {
    let (_p, auth) = setup().await;
    let (last, ended) = at_one_second(|n| {
        let auth = &auth;
        async move {
            let mut last = data(auth, n);
            last.seen = n - IDLE + 1;
            let mut ended = last.clone();
            ended.seen = n - IDLE;
            (
                seal_and_check(auth, &last).await.1,
                seal_and_check(auth, &ended).await.1,
            )
        }
    })
    .await;
    assert!(last.session().is_some(), "one second before the idle end");
    assert!(ended.session().is_none(), "at the idle end");
}

#[tokio::test]
async fn the_idle_timer_slides_after_a_twentieth_of_the_idle_period() {
    let (_p, auth) = setup().await;
    let step = IDLE / 20;
    let (fresh, due, n) = at_one_second(|n| {
        let auth = &auth;
        async move {
            let mut fresh = data(auth, n);
            fresh.seen = n - step + 1;
            let mut due = fresh.clone();
            due.seen = n - step;
            (
                seal_and_check(auth, &fresh).await.1,
                seal_and_check(auth, &due).await.1,
                n,
            )
        }
    })
    .await;
    assert_eq!(fresh.session().unwrap().seen, n - step + 1);
    assert!(fresh.set_cookie.is_none(), "slid too early");
    assert_eq!(due.session().unwrap().seen, n, "the timer moved to now");
    let resealed = due.set_cookie.expect("a slid session is resealed");
    assert!(!resealed.contains("Max-Age=0"));
}

#[tokio::test]
async fn issuer_and_client_are_each_checked() {
    let (_p, auth) = setup().await;
    let n = now();
    let mut other_issuer = data(&auth, n);
    other_issuer.iss = "https://other.example/".into();
    assert!(
        seal_and_check(&auth, &other_issuer)
            .await
            .1
            .session()
            .is_none()
    );
    let mut other_client = data(&auth, n);
    other_client.aud = "another-client".into();
    assert!(
        seal_and_check(&auth, &other_client)
            .await
            .1
            .session()
            .is_none()
    );
    let d = data(&auth, n);
    assert_eq!(seal_and_check(&auth, &d).await.1.session(), Some(&d));
}

/// The JSON of `d` padded (in the `pad` claim) to exactly `len` bytes.
fn padded(mut d: SessionData, len: usize) -> SessionData {
    d.claims.insert("pad".into(), json!(""));
    let base = serde_json::to_vec(&d).unwrap().len();
    d.claims.insert("pad".into(), json!("p".repeat(len - base)));
    assert_eq!(serde_json::to_vec(&d).unwrap().len(), len);
    d
}

// A sealed cookie is base64url of nonce (12) + JSON + tag (16): 2822 bytes of JSON seal to
// exactly 3800 characters, 2823 to 3802.
const FITS: usize = 3800 / 4 * 3 - 28;

#[tokio::test]
async fn a_cookie_of_3800_characters_keeps_everything() {
    let (_p, auth) = setup().await;
    let mut d = padded(data(&auth, now()), FITS);
    d.claims.insert("scope".into(), json!("openid"));
    let d = padded(d, FITS);
    let (sealed, check) = seal_and_check(&auth, &d).await;
    assert_eq!(sealed.len(), 3800);
    assert_eq!(check.session(), Some(&d));
}

#[tokio::test]
async fn one_byte_more_sheds_the_id_token_first() {
    let (_p, auth) = setup().await;
    let d = padded(data(&auth, now()), FITS + 1);
    let (sealed, check) = seal_and_check(&auth, &d).await;
    assert!(sealed.len() < 3800);
    let opened = check.session().unwrap();
    assert_eq!(opened.id_token, None);
    assert_eq!(
        opened.claims, d.claims,
        "the claims fit once the ID Token went"
    );
}

#[tokio::test]
async fn then_the_optional_claims_but_not_the_scope() {
    let (_p, auth) = setup().await;
    let mut d = data(&auth, now());
    d.id_token = None;
    d.claims.insert("scope".into(), json!("openid email"));
    d.claims
        .insert("email".into(), Value::String("alice@example.com".into()));
    // Without the ID Token, exactly the limit: the claims stay.
    let lean = padded(d.clone(), FITS);
    let mut with_token = lean.clone();
    with_token.id_token = Some("t".repeat(100));
    let (_, check) = seal_and_check(&auth, &with_token).await;
    assert_eq!(check.session(), Some(&lean));
    // One byte over without the ID Token: only the scope is kept.
    let over = padded(d, FITS + 1);
    let mut with_token = over.clone();
    with_token.id_token = Some("t".repeat(100));
    let (sealed, check) = seal_and_check(&auth, &with_token).await;
    assert!(sealed.len() < 3800);
    let opened = check.session().unwrap();
    assert_eq!(opened.id_token, None);
    let kept: Vec<&String> = opened.claims.keys().collect();
    assert_eq!(kept, ["scope"]);
    assert_eq!(opened.claims["scope"], "openid email");
}

/// Checks the sealed cookie `sealed` as a request would carry it.
async fn check(auth: &Authentiq, sealed: &str) -> SessionCheck {
    let req = http::Request::get("/me")
        .header("cookie", format!("{}={sealed}", auth.session_cookie_name()))
        .body(())
        .unwrap();
    adapter::check_session(auth, &req).await
}

/// Seals a session made at second `n` and changed by `change`, and checks it, all within that
/// one second, so that an edge one second later is exact; returns `n`, the sealed cookie and
/// the first check.
async fn sealed_in_one_second(
    auth: &Authentiq,
    change: impl Fn(&mut SessionData, u64),
) -> (u64, String, SessionCheck) {
    loop {
        let n = now();
        let mut d = data(auth, n);
        change(&mut d, n);
        let (sealed, first) = seal_and_check(auth, &d).await;
        if now() == n {
            return (n, sealed, first);
        }
    }
}

/// Sleeps until the clock has passed `instant` (whole seconds).
async fn until_past(instant: u64) {
    while now() <= instant {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn an_opened_cookie_is_remembered_and_gives_the_same_session() {
    let (_p, auth) = setup().await;
    assert_eq!(auth.remembered_sessions(), 0);
    let (sealed, first) = seal_and_check(&auth, &data(&auth, now())).await;
    assert_eq!(auth.remembered_sessions(), 1);
    let again = check(&auth, &sealed).await;
    assert_eq!(auth.remembered_sessions(), 1, "the same entry");
    assert_eq!(again.session(), first.session());
    assert!(again.set_cookie.is_none());

    // One character off (the tag's last one): not the remembered cookie, and never remembered.
    let mut forged = sealed.clone();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let refused = check(&auth, &forged).await;
    assert!(refused.session().is_none());
    assert!(refused.set_cookie.unwrap().contains("Max-Age=0"));
    assert_eq!(auth.remembered_sessions(), 1);
}

#[tokio::test]
async fn a_remembered_cookie_ends_at_the_session_expiry() {
    let (_p, auth) = setup().await;
    let (n, sealed, first) = sealed_in_one_second(&auth, |d, n| d.exp = n + 1).await;
    assert!(first.session().is_some());
    assert_eq!(auth.remembered_sessions(), 1);
    until_past(n).await;
    let later = check(&auth, &sealed).await;
    assert!(later.session().is_none(), "expired, remembered or not");
    assert!(later.set_cookie.unwrap().contains("Max-Age=0"));
}

#[tokio::test]
async fn a_remembered_cookie_ends_after_the_idle_period() {
    let (_p, auth) = setup().await;
    let (n, sealed, first) = sealed_in_one_second(&auth, |d, n| d.seen = n + 1 - IDLE).await;
    assert!(first.session().is_some());
    until_past(n).await;
    let later = check(&auth, &sealed).await;
    assert!(
        later.session().is_none(),
        "idle too long, remembered or not"
    );
}

#[tokio::test]
async fn a_remembered_cookie_ends_with_its_revocation() {
    let (_p, auth) = setup().await;
    let d = data(&auth, now());
    let (sealed, first) = seal_and_check(&auth, &d).await;
    assert!(first.session().is_some());
    assert_eq!(auth.remembered_sessions(), 1);
    auth.config()
        .session
        .store
        .revoke(authentiq_core::Revocation::Session {
            id: d.id.clone(),
            until: d.exp,
        })
        .await
        .unwrap();
    let after = check(&auth, &sealed).await;
    assert!(
        after.session().is_none(),
        "a logout ends the remembered session at once"
    );
    assert!(after.set_cookie.unwrap().contains("Max-Age=0"));
}
