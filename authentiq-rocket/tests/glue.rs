//! What the shared suite does not see: rocket-specific glue.

use authentiq_conformance::Harness;
use authentiq_core::adapter::Reply;
use authentiq_rocket::{AuthFairing, catchers, routes};
use rocket::http::{ContentType, Header, Status};
use rocket::local::asynchronous::Client;

async fn client(h: &Harness) -> Client {
    let rocket = rocket::custom(rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    })
    .mount("/", routes(&h.auth))
    .register("/", catchers())
    .attach(AuthFairing::new(h.auth.clone()));
    Client::untracked(rocket).await.expect("rocket ignites")
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
