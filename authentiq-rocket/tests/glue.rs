//! What the shared suite does not see: rocket-specific glue.

use authentiq_conformance::Harness;
use authentiq_core::SessionData;
use authentiq_core::adapter::Reply;
use authentiq_rocket::{AuthFairing, Authenticated, MaybeAuthenticated, catchers, routes};
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;

#[rocket::get("/both")]
fn both(user: Authenticated, again: MaybeAuthenticated) -> String {
    format!(
        "{} {}",
        user.subject,
        again.0.map(|u| u.subject).unwrap_or_default()
    )
}

async fn client(h: &Harness) -> Client {
    let rocket = rocket::custom(rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    })
    .mount("/", rocket::routes![both])
    .mount("/", routes(&h.auth))
    .register("/", catchers())
    .attach(AuthFairing::new(h.auth.clone()));
    Client::untracked(rocket).await.expect("rocket ignites")
}

fn set_cookies<'a>(res: &'a rocket::local::asynchronous::LocalResponse<'_>) -> Vec<&'a str> {
    res.headers().get("set-cookie").collect()
}

#[test]
fn repeated_headers_survive() {
    let res = authentiq_rocket::into_response(
        Reply::json(201, &serde_json::json!({"ok": true}))
            .header(authentiq_core::adapter::header::SET_COOKIE, "a=1")
            .header(authentiq_core::adapter::header::SET_COOKIE, "b=2"),
    );
    assert_eq!(res.status(), Status::Created);
    let cookies: Vec<_> = res.headers().get("set-cookie").collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert_eq!(res.content_type(), Some(ContentType::JSON));
}

#[rocket::async_test]
async fn other_errors_keep_rockets_default_catcher() {
    let h = Harness::new().await;
    let c = client(&h).await;
    let res = c
        .get("/nowhere")
        .header(Header::new("accept", "application/json"))
        .dispatch()
        .await;
    assert_eq!(res.status(), Status::NotFound);
    let body = res.into_string().await.unwrap_or_default();
    assert!(body.contains("\"code\": 404"), "rocket's default: {body}");
}

#[rocket::async_test]
async fn oversized_body_is_refused() {
    let h = Harness::new().await;
    let c = client(&h).await;
    let res = c
        .post("/auth/callback")
        .header(ContentType::JSON)
        .header(Header::new("accept", "application/json"))
        .body(vec![b' '; 64 * 1024 + 1])
        .dispatch()
        .await;
    assert_eq!(res.status().code, 413);
    let body = res.into_string().await.unwrap_or_default();
    assert!(body.contains("payload_too_large"), "{body}");
}

#[rocket::async_test]
async fn one_session_check_and_one_refreshed_cookie_per_request() {
    let h = Harness::new().await;
    let c = client(&h).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let data = SessionData {
        id: "glue-session".into(),
        sub: "someone".into(),
        iss: h.provider.issuer(),
        aud: h.client.client_id.clone(),
        sid: None,
        iat: now - 600,
        exp: now + 3600,
        // Due for a refresh of the idle timer.
        seen: now - 600,
        claims: serde_json::Map::new(),
        id_token: None,
        session_state: None,
    };
    let cookie = h.auth.session_cookie(&data).await.expect("seal");
    let pair = cookie.split(';').next().unwrap_or_default().to_owned();
    let res = c
        .get("/both")
        .header(Header::new("cookie", pair))
        .dispatch()
        .await;
    assert_eq!(res.status(), Status::Ok);
    let refreshed = set_cookies(&res);
    assert_eq!(refreshed.len(), 1, "{refreshed:?}");
    assert!(refreshed[0].starts_with("authentiq_session=") && !refreshed[0].contains("Max-Age=0"));
    assert_eq!(res.into_string().await.as_deref(), Some("someone someone"));
}
