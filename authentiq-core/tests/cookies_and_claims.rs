//! Cookie attributes on https, user-defined claims types, and token-response parsing.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::{Authentiq, Credentials, SessionData, TokenResponse};
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
    let reply = auth.handle(&login, b"").await.unwrap();
    let flow = reply.set_cookies().next().unwrap();
    assert!(
        flow.starts_with("__Host-authentiq_flow_") && flow.contains("Secure"),
        "{flow}"
    );
    assert!(
        reply
            .header_value("location")
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
    let id = auth
        .authenticate::<Member>(&head, None, Credentials::Any)
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
    let err = auth
        .authenticate::<NeedsPhone>(&head, None, Credentials::Any)
        .await
        .unwrap_err();
    assert_eq!(err.code(), "session_invalid");
}

#[test]
fn token_response_expiry_prefers_expires_at() {
    let tr: TokenResponse = serde_json::from_value(serde_json::json!({
        "access_token": "a", "token_type": "Bearer", "id_token": "x.y.z",
        "expires_in": 3600, "expires_at": 1_900_000_000u64, "session_state": "s.salt"
    }))
    .unwrap();
    assert_eq!(tr.expires_at(1_000), Some(1_900_000_000));
    assert_eq!(tr.session_state.as_deref(), Some("s.salt"));
    // Numeric strings appear in the wild and are tolerated; anything else is no expiry.
    let tr: TokenResponse =
        serde_json::from_value(serde_json::json!({"access_token": "a", "expires_in": "60"}))
            .unwrap();
    assert_eq!(tr.expires_at(1_000), Some(1_060));
    let tr: TokenResponse =
        serde_json::from_value(serde_json::json!({"access_token": "a", "expires_in": "soon"}))
            .unwrap();
    assert_eq!(tr.expires_at(1_000), None);
    let tr: TokenResponse =
        serde_json::from_value(serde_json::json!({"access_token": "a", "expires_in": 60})).unwrap();
    assert_eq!(tr.expires_at(1_000), Some(1_060));
    assert!(
        !format!("{tr:?}").contains("\"a\""),
        "Debug never prints tokens"
    );
}
