//! Cookie attributes on https, and user-defined claims types.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::adapter::{self, SessionCache};
use authentiq_core::{Authentiq, Revocation, SessionData, SessionStore, StoreError};
use authentiq_dev::{ClientRegistration, DevProvider};
use serde::Deserialize;

async fn auth(public_url: &str) -> (DevProvider, Authentiq) {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec![format!("{public_url}/auth/callback")],
        ..Default::default()
    });
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url(public_url)
        .session_key(vec![1u8; 64])
        .build()
        .await
        .unwrap();
    (provider, auth)
}

fn session(auth: &Authentiq, provider: &DevProvider) -> SessionData {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    SessionData {
        id: "s1".into(),
        sub: "alice".into(),
        iss: provider.issuer(),
        aud: auth.config().client_id.clone(),
        sid: None,
        iat: now,
        exp: now + 600,
        seen: now,
        claims: serde_json::json!({"email": "alice@example.com", "aq:location": {"latitude": 1.0, "longitude": 2.0}, "team": "blue"})
            .as_object()
            .unwrap()
            .clone(),
        id_token: None,
        session_state: None,
    }
}

#[tokio::test]
async fn https_public_url_gives_secure_host_prefixed_cookies() {
    let (provider, auth) = auth("https://app.example.com").await;
    assert_eq!(auth.session_cookie_name(), "__Host-authentiq_session");
    let cookie = auth
        .session_cookie(&session(&auth, &provider))
        .await
        .unwrap();
    assert!(cookie.starts_with("__Host-authentiq_session="), "{cookie}");
    for attr in ["Secure", "HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attr), "{attr} in {cookie}");
    }
    assert!(
        !cookie.contains("Domain="),
        "__Host- cookies carry no Domain"
    );
    let login = http::Request::get("/auth/login")
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let reply = adapter::respond(&auth, &login, Some(b"")).await;
    let flow = reply.set_cookies().next().unwrap();
    assert!(
        flow.starts_with("__Host-authentiq_flow_") && flow.contains("Secure"),
        "{flow}"
    );
    assert!(
        reply
            .header_value(http::header::LOCATION)
            .unwrap()
            .contains("redirect_uri=https%3A%2F%2Fapp.example.com%2Fauth%2Fcallback")
    );
}

#[tokio::test]
async fn http_loopback_public_url_gives_plain_cookies() {
    let (provider, auth) = auth("http://127.0.0.1:8000").await;
    let cookie = auth
        .session_cookie(&session(&auth, &provider))
        .await
        .unwrap();
    assert!(
        cookie.starts_with("authentiq_session=") && !cookie.contains("Secure"),
        "{cookie}"
    );
}

/// An app's own claims type, plugged in through serde.
#[derive(Deserialize)]
struct Member {
    sub: String,
    email: String,
    team: String,
    #[serde(rename = "aq:location")]
    location: Option<serde_json::Value>,
}

#[tokio::test]
async fn user_claims_types_deserialize_from_the_session() {
    let (provider, auth) = auth("http://127.0.0.1:8000").await;
    let cookie = auth
        .session_cookie(&session(&auth, &provider))
        .await
        .unwrap();
    let value = cookie.split(';').next().unwrap();
    let head = http::Request::get("/me")
        .header("cookie", value)
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let id = adapter::require::<Member>(&auth, &head, &SessionCache::new())
        .await
        .unwrap();
    assert_eq!(
        (
            id.claims.sub.as_str(),
            id.claims.email.as_str(),
            id.claims.team.as_str()
        ),
        ("alice", "alice@example.com", "blue")
    );
    assert!(id.claims.location.is_some());
    // A type the session cannot satisfy is a refusal, not a panic.
    #[derive(Deserialize, Debug)]
    struct NeedsPhone {
        #[allow(dead_code)]
        phone_number: String,
    }
    let err = adapter::require::<NeedsPhone>(&auth, &head, &SessionCache::new())
        .await
        .unwrap_err();
    assert_eq!(err.error.code(), "session_invalid");
}

/// Counts loads, to see which requests touch the session store.
#[derive(Default)]
struct Counting {
    inner: authentiq_core::MemoryStore,
    loads: std::sync::atomic::AtomicUsize,
}

#[authentiq_core::async_trait]
impl SessionStore for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }
    fn holds_data(&self) -> bool {
        true
    }
    async fn load(&self, id: &str) -> Result<Option<SessionData>, StoreError> {
        self.loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.inner.load(id).await
    }
    async fn save(&self, data: &SessionData) -> Result<(), StoreError> {
        self.inner.save(data).await
    }
    async fn revoke(&self, what: Revocation) -> Result<(), StoreError> {
        self.inner.revoke(what).await
    }
    async fn is_revoked(&self, data: &SessionData) -> Result<bool, StoreError> {
        self.inner.is_revoked(data).await
    }
    async fn refresh(&self, data: &SessionData) -> Result<bool, StoreError> {
        self.inner.refresh(data).await
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

#[tokio::test]
async fn a_bearer_request_never_reads_the_session_store() {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let store = std::sync::Arc::new(Counting::default());
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_store(store.clone())
        .build()
        .await
        .unwrap();
    let cookie = auth
        .session_cookie(&session(&auth, &provider))
        .await
        .unwrap();
    let token = provider.mint_id_token_with(
        &client.client_id,
        authentiq_dev::Alg::RS256,
        "api-user",
        serde_json::json!({}),
    );
    let head = http::Request::get("/me")
        .header("cookie", cookie.split(';').next().unwrap())
        .header("authorization", format!("Bearer {token}"))
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let cache = SessionCache::new();
    let id = adapter::require::<authentiq_core::Claims>(&auth, &head, &cache)
        .await
        .unwrap();
    assert_eq!(id.subject, "api-user", "the bearer token decides");
    assert_eq!(
        store.loads.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the session is not read"
    );
    // Without the token, the same request is judged by its session, read once.
    let head = http::Request::get("/me")
        .header("cookie", cookie.split(';').next().unwrap())
        .body(())
        .unwrap()
        .into_parts()
        .0;
    let cache = SessionCache::new();
    assert_eq!(
        adapter::require::<authentiq_core::Claims>(&auth, &head, &cache)
            .await
            .unwrap()
            .subject,
        "alice"
    );
    let _ = adapter::optional::<authentiq_core::Claims>(&auth, &head, &cache)
        .await
        .unwrap();
    assert_eq!(store.loads.load(std::sync::atomic::Ordering::SeqCst), 1);
}
