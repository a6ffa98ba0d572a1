//! RedisStore against a real `redis-server` on loopback: sessions shared by two app instances,
//! every kind of revocation, and what a store outage looks like.

#![allow(clippy::unwrap_used, missing_docs)]

use std::sync::Arc;

use authentiq_core::adapter::{self, SessionCache};
use authentiq_core::{Authentiq, RedisStore, Revocation, SessionData, SessionStore};
use authentiq_dev::redis::RedisServer;
use authentiq_dev::{ClientRegistration, DevProvider};
use redis::AsyncCommands;

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

fn data(id: &str, sub: &str, sid: Option<&str>, iat: u64) -> SessionData {
    SessionData {
        id: id.into(),
        sub: sub.into(),
        iss: "https://issuer.example/".into(),
        aud: "client".into(),
        sid: sid.map(Into::into),
        iat,
        exp: now() + 600,
        seen: now(),
        claims: serde_json::json!({"email": "a@example.com"})
            .as_object()
            .unwrap()
            .clone(),
        id_token: Some("header.payload.sig".into()),
        session_state: None,
    }
}

#[tokio::test]
async fn sessions_round_trip_with_their_lifetime_as_ttl() {
    let server = RedisServer::start().unwrap();
    let store = RedisStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("t1:");
    // What logs and the configuration's `Debug` show of the store: its name and key prefix,
    // never the connection (whose URL may hold a password).
    assert_eq!(store.name(), "redis");
    let shown = format!("{store:?}");
    assert!(
        shown.starts_with("RedisStore") && shown.contains("\"t1:\""),
        "{shown}"
    );
    assert!(!shown.contains(&server.url()), "{shown}");
    let d = data("s1", "alice", Some("sid-1"), now());
    store.save(&d).await.unwrap();
    assert_eq!(store.load("s1").await.unwrap(), Some(d));
    assert_eq!(store.load("never-issued").await.unwrap(), None);
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = raw.ttl("t1:s:s1").await.unwrap();
    assert!((590..=600).contains(&ttl), "ttl {ttl}");
    // A value that is not a session is no session, not an error.
    let _: () = raw.set("t1:s:bad", "{not json").await.unwrap();
    assert_eq!(store.load("bad").await.unwrap(), None);
}

#[tokio::test]
async fn revocations_by_session_sid_and_sub() {
    let server = RedisServer::start().unwrap();
    let store = RedisStore::connect(&server.url()).await.unwrap();
    let t = now();
    for d in [
        data("a", "alice", Some("sid-1"), t - 100),
        data("b", "alice", Some("sid-1"), t - 100),
        data("c", "alice", Some("sid-2"), t - 100),
        data("d", "alice", None, t + 50),
        data("e", "bob", Some("sid-3"), t - 100),
    ] {
        store.save(&d).await.unwrap();
    }
    store
        .revoke(Revocation::Session {
            id: "a".into(),
            until: 0,
        })
        .await
        .unwrap();
    assert!(store.load("a").await.unwrap().is_none());
    assert!(store.load("b").await.unwrap().is_some());
    store
        .revoke(Revocation::Sid {
            sid: "sid-1".into(),
            before: t - 50,
            until: t + 600,
        })
        .await
        .unwrap();
    assert!(store.load("b").await.unwrap().is_none());
    assert!(store.load("c").await.unwrap().is_some());
    // A sign-in after the logout that the provider gives the same sid lives on; an ID Token of
    // that sid issued before the logout is refused, a later one is not.
    store
        .save(&data("b2", "alice", Some("sid-1"), t - 10))
        .await
        .unwrap();
    assert!(store.load("b2").await.unwrap().is_some());
    assert!(
        store
            .is_token_revoked("alice", Some("sid-1"), t - 50)
            .await
            .unwrap()
    );
    assert!(
        !store
            .is_token_revoked("alice", Some("sid-1"), t - 49)
            .await
            .unwrap()
    );
    // Every session of alice created before `t`; the later one and bob's stay.
    store
        .revoke(Revocation::Sub {
            sub: "alice".into(),
            before: t,
            until: t + 600,
        })
        .await
        .unwrap();
    assert!(store.load("c").await.unwrap().is_none());
    assert!(store.load("d").await.unwrap().is_some());
    assert!(store.load("e").await.unwrap().is_some());
    assert!(store.is_token_revoked("alice", None, t).await.unwrap());
    assert!(!store.is_token_revoked("bob", None, t).await.unwrap());
}

#[tokio::test]
async fn the_sub_index_lives_as_long_as_its_longest_session_and_refresh_never_revives() {
    let server = RedisServer::start().unwrap();
    let store = RedisStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("t3:");
    let long = SessionData {
        exp: now() + 3000,
        ..data("long", "alice", None, now())
    };
    store.save(&long).await.unwrap();
    // A shorter-lived session of the same user, saved later, must not shorten the index.
    store
        .save(&data("short", "alice", None, now()))
        .await
        .unwrap();
    let mut raw = redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = raw.ttl("t3:sub:alice").await.unwrap();
    assert!(ttl > 2900, "the sub index keeps the longest TTL, got {ttl}");
    // The idle slide of a session that a logout removed does not bring it back.
    store
        .revoke(Revocation::Session {
            id: "short".into(),
            until: 0,
        })
        .await
        .unwrap();
    assert!(
        !store
            .refresh(&data("short", "alice", None, now()))
            .await
            .unwrap()
    );
    assert!(store.load("short").await.unwrap().is_none());
    assert!(store.refresh(&long).await.unwrap());
    // A logout token's jti is shared by every instance and survives a restart of the app.
    assert!(!store.jti_seen("j-9").await.unwrap());
    store.record_jti("j-9", now() + 60).await.unwrap();
    let other = RedisStore::connect(&server.url())
        .await
        .unwrap()
        .with_prefix("t3:");
    assert!(other.jti_seen("j-9").await.unwrap());
}

async fn instance(
    provider: &DevProvider,
    client: &authentiq_dev::RegisteredClient,
    redis: &str,
    key: u8,
) -> Authentiq {
    Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .session_key(vec![key; 64])
        .session_store(Arc::new(RedisStore::connect(redis).await.unwrap()))
        .build()
        .await
        .unwrap()
}

fn head(method: &str, uri: &str, cookie: Option<&str>) -> http::request::Parts {
    let mut b = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("accept", "application/json");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(()).unwrap().into_parts().0
}

#[tokio::test]
async fn two_app_instances_share_sessions_and_logouts() {
    let server = RedisServer::start().unwrap();
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    // Two instances behind a load balancer: same key, same Redis.
    let a = instance(&provider, &client, &server.url(), 4).await;
    let b = instance(&provider, &client, &server.url(), 4).await;

    // Sign in through instance A.
    let login = adapter::respond(
        &a,
        &head("GET", "/auth/login?return_to=/me", None),
        Some(b""),
    )
    .await;
    let flow = login
        .set_cookies()
        .next()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let callback = provider
        .approve(
            login.header_value(http::header::LOCATION).unwrap(),
            &authentiq_dev::Approval::default(),
        )
        .unwrap();
    let path = callback.strip_prefix("http://127.0.0.1:8000").unwrap();
    let done = adapter::respond(&a, &head("GET", path, Some(&flow)), Some(b"")).await;
    assert_eq!(done.status(), 303);
    let session = done
        .set_cookies()
        .find(|c| c.starts_with("authentiq_session=") && !c.contains("Max-Age=0"))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    // The cookie carries only a sealed id: the claims live in Redis.
    assert!(session.len() < 120, "{session}");

    // Instance B sees the session.
    let me = head("GET", "/me", Some(&session));
    let id = adapter::require::<authentiq_core::Claims>(&b, &me, &SessionCache::new())
        .await
        .unwrap();
    assert_eq!(id.claims.email.as_deref(), Some("alice@example.com"));
    let sid = id.claims.sid.clone().unwrap();

    // A logout on A ends it on B.
    let mut logout = head("POST", "/auth/logout", Some(&session));
    logout
        .headers
        .insert("origin", "http://127.0.0.1:8000".parse().unwrap());
    assert_eq!(adapter::respond(&a, &logout, Some(b"")).await.status(), 303);
    let err = adapter::require::<authentiq_core::Claims>(&b, &me, &SessionCache::new())
        .await
        .unwrap_err();
    assert_eq!(err.error.code(), "session_invalid");

    // Back-channel logout by sid on B ends a fresh session made on A.
    let mut fresh = data("fresh", &id.subject, Some(&sid), now());
    fresh.iss = provider.issuer();
    fresh.aud = client.client_id.clone();
    let cookie = a.session_cookie(&fresh).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let me = head("GET", "/me", Some(&cookie));
    assert!(
        adapter::require::<authentiq_core::Claims>(&a, &me, &SessionCache::new())
            .await
            .is_ok()
    );
    let token = authentiq_dev::keys::hs256(
        client.client_secret.as_bytes(),
        &serde_json::json!({"alg": "HS256", "typ": "logout+jwt"}),
        &serde_json::json!({"iss": provider.issuer(), "aud": client.client_id, "iat": now(), "jti": "j-1", "sid": sid,
                            "events": {"http://schemas.openid.net/event/backchannel-logout": {}}}),
    );
    let mut bcl = head("POST", "/auth/backchannel-logout", None);
    bcl.headers.insert(
        "content-type",
        "application/x-www-form-urlencoded".parse().unwrap(),
    );
    let reply = adapter::respond(&b, &bcl, Some(format!("logout_token={token}").as_bytes())).await;
    assert_eq!(
        reply.status(),
        200,
        "{}",
        String::from_utf8_lossy(reply.body())
    );
    assert!(
        adapter::require::<authentiq_core::Claims>(&a, &me, &SessionCache::new())
            .await
            .is_err()
    );
}

#[tokio::test]
async fn a_store_outage_is_503_and_the_app_reconnects_by_itself() {
    let mut server = RedisServer::start().unwrap();
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let auth = instance(&provider, &client, &server.url(), 5).await;
    let mut d = data("x", "alice", None, now());
    d.iss = provider.issuer();
    d.aud = client.client_id.clone();
    let cookie = auth.session_cookie(&d).await.unwrap();
    let me = head("GET", "/me", Some(cookie.split(';').next().unwrap()));
    assert!(
        adapter::require::<authentiq_core::Claims>(&auth, &me, &SessionCache::new())
            .await
            .is_ok()
    );
    server.stop();
    let err = adapter::require::<authentiq_core::Claims>(&auth, &me, &SessionCache::new())
        .await
        .unwrap_err();
    assert_eq!(err.error.code(), "session_store_unavailable");
    assert_eq!(err.reply.status(), 503);
    // A logout while the store is away is a 503 too, never a false "signed out".
    let logout = http::Request::post("/auth/logout")
        .header("origin", "http://127.0.0.1:8000")
        .header("accept", "application/json")
        .header("cookie", cookie.split(';').next().unwrap())
        .body(())
        .unwrap()
        .into_parts()
        .0;
    assert_eq!(
        adapter::respond(&auth, &logout, Some(b"")).await.status(),
        503
    );

    // The server comes back (empty: it kept nothing). The running app reconnects by itself:
    // a new sign-in works without a restart, and the lost session is simply unknown.
    server.restart().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let fresh = loop {
        match auth.session_cookie(&d).await {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() < deadline => {
                assert_eq!(e.code(), "session_store_unavailable");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => panic!("the store did not come back: {e}"),
        }
    };
    let me = head("GET", "/me", Some(fresh.split(';').next().unwrap()));
    assert!(
        adapter::require::<authentiq_core::Claims>(&auth, &me, &SessionCache::new())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_a_start_up_error() {
    let err = RedisStore::connect("redis://127.0.0.1:1/")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("session store"), "{err}");
    let err = RedisStore::connect("not a url").await.unwrap_err();
    assert!(err.to_string().contains("session store"), "{err}");
}

/// An app restart, in both modes, as the docs describe it: with sessions in Redis a logout
/// stays a logout; in cookie mode (revocations in process memory) a logged-out cookie copy
/// under the same fixed key opens again after the restart.
#[tokio::test]
async fn what_an_app_restart_does_to_logouts() {
    let server = RedisServer::start().unwrap();
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration::default());
    let logout = |cookie: &str| {
        http::Request::post("/auth/logout")
            .header("origin", "http://127.0.0.1:8000")
            .header("cookie", cookie)
            .body(())
            .unwrap()
            .into_parts()
            .0
    };
    let signed_in = |auth: Authentiq, cookie: String| async move {
        let me = head("GET", "/me", Some(&cookie));
        adapter::require::<authentiq_core::Claims>(&auth, &me, &SessionCache::new())
            .await
            .is_ok()
    };
    let mut d = data("restart-r", "alice", None, now());
    d.iss = provider.issuer();
    d.aud = client.client_id.clone();

    // Redis mode.
    let before = instance(&provider, &client, &server.url(), 6).await;
    let cookie = before.session_cookie(&d).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let reply = adapter::respond(&before, &logout(&cookie), Some(b"")).await;
    assert_eq!(reply.status(), 303);
    drop(before);
    let after = instance(&provider, &client, &server.url(), 6).await;
    assert!(!signed_in(after, cookie).await, "Redis keeps the logout");

    // Cookie mode with a fixed key.
    let cookie_mode = || async {
        Authentiq::builder(provider.issuer(), &client.client_id)
            .client_secret(&client.client_secret)
            .public_url("http://127.0.0.1:8000")
            .session_key(vec![6u8; 64])
            .build()
            .await
            .unwrap()
    };
    let before = cookie_mode().await;
    d.id = "restart-c".into();
    let cookie = before.session_cookie(&d).await.unwrap();
    let cookie = cookie.split(';').next().unwrap().to_owned();
    assert_eq!(
        adapter::respond(&before, &logout(&cookie), Some(b""))
            .await
            .status(),
        303
    );
    assert!(!signed_in(before.clone(), cookie.clone()).await);
    drop(before);
    assert!(
        signed_in(cookie_mode().await, cookie).await,
        "the documented limit of cookie mode: the in-memory revocation list is gone"
    );
}
