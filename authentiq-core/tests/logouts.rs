//! Logouts that stick, from the attacker's side: a bearer ID Token obeys the same logout marks
//! as sessions, marks end only what began before them, a logout token is never an ID Token, and
//! a store failure never turns into a false "signed out" or a refused retry.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use authentiq_core::adapter::{self, SessionCache};
use authentiq_core::{
    Authentiq, Claims, MemoryStore, Revocation, SessionData, SessionStore, StoreError,
};
use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient};
use serde_json::{Value, json};

const APP: &str = "http://127.0.0.1:8000";
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A memory store whose writes can be made to fail, as a store that lost its connection.
#[derive(Default)]
struct Flaky {
    inner: MemoryStore,
    down: AtomicBool,
}

impl Flaky {
    fn check(&self) -> Result<(), StoreError> {
        if self.down.load(Ordering::SeqCst) {
            Err(StoreError("connection refused".into()))
        } else {
            Ok(())
        }
    }
}

#[authentiq_core::async_trait]
impl SessionStore for Flaky {
    fn name(&self) -> &'static str {
        "flaky"
    }
    fn holds_data(&self) -> bool {
        true
    }
    async fn load(&self, id: &str) -> Result<Option<SessionData>, StoreError> {
        self.check()?;
        self.inner.load(id).await
    }
    async fn save(&self, data: &SessionData) -> Result<(), StoreError> {
        self.check()?;
        self.inner.save(data).await
    }
    async fn refresh(&self, data: &SessionData) -> Result<bool, StoreError> {
        self.check()?;
        self.inner.refresh(data).await
    }
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        self.check()?;
        self.inner.revoke(what).await
    }
    async fn is_revoked(&self, data: &SessionData) -> Result<bool, StoreError> {
        self.inner.is_revoked(data).await
    }
    async fn is_token_revoked(
        &self,
        sub: &str,
        sid: Option<&str>,
        iat: u64,
    ) -> Result<bool, StoreError> {
        self.inner.is_token_revoked(sub, sid, iat).await
    }
    async fn jti_seen(&self, jti: &str) -> Result<bool, StoreError> {
        self.inner.jti_seen(jti).await
    }
    async fn record_jti(&self, jti: &str, until: u64) -> Result<(), StoreError> {
        self.inner.record_jti(jti, until).await
    }
}

struct Setup {
    provider: DevProvider,
    client: RegisteredClient,
    auth: Authentiq,
}

async fn setup(store: Option<Arc<dyn SessionStore>>) -> Setup {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec![format!("{APP}/auth/callback")],
        ..Default::default()
    });
    let mut b = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url(APP)
        .session_key(vec![3u8; 64]);
    if let Some(store) = store {
        b = b.session_store(store);
    }
    let auth = b.build().await.unwrap();
    Setup {
        provider,
        client,
        auth,
    }
}

impl Setup {
    /// An RS256 ID Token for `sub` in provider session `sid`, issued at `iat`.
    fn id_token(&self, sub: &str, sid: &str, iat: u64) -> String {
        self.provider.mint_id_token_with(
            &self.client.client_id,
            Alg::RS256,
            sub,
            json!({"sid": sid, "iat": iat}),
        )
    }

    /// A logout token signed with the client secret (the token endpoint's policy).
    fn logout_token(&self, claims: Value) -> String {
        let mut base = json!({
            "iss": self.provider.issuer(), "aud": self.client.client_id, "iat": now(),
            "jti": format!("j-{}", now()), "events": {EVENT: {}}
        });
        for (k, v) in claims.as_object().unwrap() {
            base[k] = v.clone();
        }
        authentiq_dev::keys::hs256(
            self.client.client_secret.as_bytes(),
            &json!({"alg": "HS256", "typ": "logout+jwt"}),
            &base,
        )
    }

    async fn backchannel(&self, token: &str) -> (u16, Value) {
        let head = http::Request::post("/auth/backchannel-logout")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let body = format!("logout_token={token}");
        let reply = adapter::respond(&self.auth, &head, Some(body.as_bytes())).await;
        let json = serde_json::from_slice(reply.body()).unwrap_or(Value::Null);
        (reply.status(), json)
    }

    async fn bearer(&self, token: &str) -> Result<String, String> {
        let head = http::Request::get("/api/me")
            .header("authorization", format!("Bearer {token}"))
            .body(())
            .unwrap()
            .into_parts()
            .0;
        adapter::bearer::<Claims>(&self.auth, &head)
            .await
            .map(|id| id.subject)
            .map_err(|r| r.error.to_string())
    }

    fn session(&self, id: &str, sub: &str, sid: Option<&str>, iat: u64) -> SessionData {
        SessionData {
            id: id.into(),
            sub: sub.into(),
            iss: self.provider.issuer(),
            aud: self.client.client_id.clone(),
            sid: sid.map(Into::into),
            iat,
            exp: now() + 3600,
            seen: now(),
            claims: serde_json::Map::new(),
            id_token: None,
            session_state: None,
        }
    }

    async fn signed_in(&self, data: &SessionData) -> bool {
        let cookie = self.auth.session_cookie(data).await.unwrap();
        let head = http::Request::get("/me")
            .header("accept", "application/json")
            .header("cookie", cookie.split(';').next().unwrap())
            .body(())
            .unwrap()
            .into_parts()
            .0;
        adapter::require::<Claims>(&self.auth, &head, &SessionCache::new())
            .await
            .is_ok()
    }
}

#[tokio::test]
async fn a_bearer_token_issued_before_a_backchannel_logout_is_refused_and_a_later_one_lives() {
    let s = setup(None).await;
    let t = now();
    let old = s.id_token("alice", "sid-1", t - 30);
    let later = s.id_token("alice", "sid-1", t - 5);
    assert_eq!(s.bearer(&old).await.unwrap(), "alice");
    let (status, body) = s
        .backchannel(&s.logout_token(json!({"sid": "sid-1", "iat": t - 10})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(s.bearer(&old).await.unwrap_err().contains("logout"));
    assert_eq!(s.bearer(&later).await.unwrap(), "alice");
    // Another provider session of the same user is untouched.
    assert!(
        s.bearer(&s.id_token("alice", "sid-2", t - 30))
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn a_sub_only_logout_ends_what_began_before_its_iat() {
    let s = setup(None).await;
    let t = now();
    let before = s.session("s-old", "bob", None, t - 30);
    let after = s.session("s-new", "bob", None, t - 5);
    let (status, body) = s
        .backchannel(&s.logout_token(json!({"sub": "bob", "iat": t - 10})))
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !s.signed_in(&before).await,
        "a session from before is ended"
    );
    assert!(
        s.signed_in(&after).await,
        "a sign-in after the logout lives"
    );
    assert!(s.bearer(&s.id_token("bob", "x", t - 30)).await.is_err());
    assert!(s.bearer(&s.id_token("bob", "x", t - 5)).await.is_ok());
}

#[tokio::test]
async fn a_new_sign_in_with_a_logged_out_sid_lives() {
    let s = setup(None).await;
    let t = now();
    let (status, _) = s
        .backchannel(&s.logout_token(json!({"sid": "sid-9", "iat": t - 10})))
        .await;
    assert_eq!(status, 200);
    assert!(
        !s.signed_in(&s.session("a", "carol", Some("sid-9"), t - 20))
            .await
    );
    assert!(
        s.signed_in(&s.session("b", "carol", Some("sid-9"), t - 1))
            .await
    );
}

#[tokio::test]
async fn a_logout_token_is_never_a_bearer_id_token() {
    let s = setup(None).await;
    // Signed by the provider's RS256 key, with `exp` and no `typ`: everything an ID Token has,
    // plus `events`.
    let token = s.provider.mint_id_token_with(
        &s.client.client_id,
        Alg::RS256,
        "alice",
        json!({"events": {EVENT: {}}, "jti": "j-x"}),
    );
    let err = s.bearer(&token).await.unwrap_err();
    assert!(err.contains("logout token is not an ID Token"), "{err}");
}

#[tokio::test]
async fn a_local_logout_ends_the_id_token_it_hands_to_the_provider() {
    let s = setup(None).await;
    let t = now();
    let token = s.id_token("dave", "sid-d", t - 5);
    let mut data = s.session("sd", "dave", Some("sid-d"), t - 5);
    data.id_token = Some(token.clone());
    let cookie = s.auth.session_cookie(&data).await.unwrap();
    assert_eq!(s.bearer(&token).await.unwrap(), "dave");
    let head = http::Request::post("/auth/logout")
        .header("origin", APP)
        .header("cookie", cookie.split(';').next().unwrap())
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let reply = adapter::respond(&s.auth, &head, Some(b"")).await;
    assert_eq!(reply.status(), 303);
    assert!(
        reply
            .header_value(http::header::LOCATION)
            .unwrap()
            .contains("id_token_hint=")
    );
    assert!(s.bearer(&token).await.unwrap_err().contains("logout"));
}

#[tokio::test]
async fn a_store_failure_is_503_and_the_providers_retry_is_not_a_replay() {
    let store = Arc::new(Flaky::default());
    let s = setup(Some(store.clone())).await;
    let t = now();
    let data = s.session("f1", "erin", Some("sid-f"), t - 30);
    assert!(s.signed_in(&data).await);
    let token = s.logout_token(json!({"sid": "sid-f", "iat": t - 10, "jti": "retry-me"}));
    store.down.store(true, Ordering::SeqCst);
    let (status, body) = s.backchannel(&token).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"], "session_store_unavailable");
    store.down.store(false, Ordering::SeqCst);
    let (status, body) = s.backchannel(&token).await;
    assert_eq!(status, 200, "the retry ends the session: {body}");
    assert!(store.inner.load("f1").await.unwrap().is_none());
    // Now the same token is a replay.
    let (status, body) = s.backchannel(&token).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_token"))
    );
}

#[tokio::test]
async fn a_logout_whose_store_fails_answers_503_not_signed_out() {
    let store = Arc::new(Flaky::default());
    let s = setup(Some(store.clone())).await;
    let data = s.session("f2", "frank", None, now());
    let cookie = s.auth.session_cookie(&data).await.unwrap();
    store.down.store(true, Ordering::SeqCst);
    let head = http::Request::post("/auth/logout")
        .header("origin", APP)
        .header("accept", "application/json")
        .header("cookie", cookie.split(';').next().unwrap())
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let reply = adapter::respond(&s.auth, &head, Some(b"")).await;
    assert_eq!(reply.status(), 503);
    assert_eq!(reply.set_cookies().count(), 0, "the cookie is not dropped");
    store.down.store(false, Ordering::SeqCst);
    assert!(store.inner.load("f2").await.unwrap().is_some());
}

#[tokio::test]
async fn a_logout_token_with_a_huge_exp_does_not_overflow() {
    let s = setup(None).await;
    let token = s.logout_token(json!({"sid": "sid-h", "exp": u64::MAX, "jti": "huge"}));
    let (status, body) = s.backchannel(&token).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = s.backchannel(&token).await;
    assert_eq!(status, 400, "a replay of it is still refused");
}
