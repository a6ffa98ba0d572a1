//! What the conformance suite does not reach: the body limit and the reply conversion.

use actix_web::{App, test, web};
use authentiq_actix::{AuthMiddleware, MaybeAuthenticated, into_response, routes};
use authentiq_conformance::Harness;
use authentiq_core::adapter::Reply;

#[actix_web::test]
async fn oversized_body_gets_the_cores_413() {
    let h = Harness::new().await;
    let app = test::init_service(
        App::new()
            .configure(routes(&h.auth))
            .wrap(AuthMiddleware::new(h.auth.clone())),
    )
    .await;
    let req = test::TestRequest::post()
        .uri("/auth/callback")
        .append_header(("accept", "application/json"))
        .append_header(("content-type", "application/x-www-form-urlencoded"))
        .set_payload(vec![b'a'; 64 * 1024 + 1])
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status().as_u16(), 413);
    let body = test::read_body(res).await;
    let json: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(json["error"], "payload_too_large");
}

#[actix_web::test]
async fn reply_conversion_keeps_every_header() {
    let reply = Reply::redirect(303, "/x")
        .header(authentiq_core::adapter::header::SET_COOKIE, "a=1")
        .header(authentiq_core::adapter::header::SET_COOKIE, "b=2")
        .with_body(b"body".to_vec());
    let res = into_response(reply);
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(res.headers().get_all("set-cookie").count(), 2);
    assert_eq!(
        res.headers().get("location").and_then(|v| v.to_str().ok()),
        Some("/x")
    );
    assert!(res.headers().get("content-type").is_none());
}

#[actix_web::test]
async fn middleware_appends_the_session_check_cookie() {
    let h = Harness::new().await;
    let app = test::init_service(
        App::new()
            .route(
                "/maybe",
                web::get().to(|u: MaybeAuthenticated| async move { format!("{}", u.0.is_some()) }),
            )
            .wrap(AuthMiddleware::new(h.auth.clone())),
    )
    .await;
    let req = test::TestRequest::get()
        .uri("/maybe")
        .append_header(("cookie", "authentiq_session=garbage"))
        .to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status().as_u16(), 200);
    let cookies: Vec<_> = res.headers().get_all("set-cookie").collect();
    assert_eq!(cookies.len(), 1, "{cookies:?}");
    let removal = cookies[0].to_str().unwrap_or_default();
    assert!(removal.starts_with("authentiq_session=;") && removal.contains("Max-Age=0"));
    assert_eq!(test::read_body(res).await, "false");
}
