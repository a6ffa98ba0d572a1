//! The shared conformance suite, against axum's in-process service.

use authentiq_axum::{
    AuthLayer, AuthRejection, Authenticated, Bearer, MaybeAuthenticated, Remembered, routes,
};
use authentiq_conformance::{Authentiq, Framework, TestApp, TestRequest, TestResponse};
use authentiq_core::Claims;
use axum::body::Body;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use tower::ServiceExt;

struct Axum;
struct App(Router);

impl TestApp for App {
    async fn call(&self, req: TestRequest) -> TestResponse {
        let mut b = http::Request::builder()
            .method(req.method.as_str())
            .uri(req.uri.as_str());
        for (k, v) in &req.headers {
            b = b.header(k, v);
        }
        let res = self
            .0
            .clone()
            .oneshot(b.body(Body::from(req.body)).expect("request"))
            .await
            .expect("infallible");
        let status = res.status().as_u16();
        let headers = res
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        let body = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body")
            .to_vec();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

async fn me(user: Authenticated) -> Json<Claims> {
    Json(user.0.claims)
}

async fn maybe(user: MaybeAuthenticated) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "sub": user.0.map(|u| u.subject) }))
}

async fn both(user: Authenticated, again: MaybeAuthenticated) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "sub": user.0.subject, "maybe": again.0.map(|u| u.subject) }))
}

async fn device(device: Remembered, user: MaybeAuthenticated) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "device": device.0.map(|d| serde_json::json!({"sub": d.subject, "name": d.name})),
        "sub": user.0.map(|u| u.subject),
    }))
}

async fn api_me(user: Bearer) -> Json<Claims> {
    Json(user.0.claims)
}

async fn custom(user: Result<Authenticated, AuthRejection>) -> axum::response::Response {
    match user {
        Ok(_) => "ok".into_response(),
        Err(r) => (
            StatusCode::IM_A_TEAPOT,
            Json(serde_json::json!({ "custom": r.error().code() })),
        )
            .into_response(),
    }
}

impl Framework for Axum {
    type App = App;
    type Bare = App;

    async fn app(auth: Authentiq) -> App {
        App(Router::new()
            .route("/public", get(|| async { "public" }))
            .route("/me", get(me).options(|| async { StatusCode::NO_CONTENT }))
            .route("/maybe", get(maybe))
            .route("/both", get(both))
            .route("/device", get(device))
            .route("/api/me", get(api_me))
            .route("/custom", get(custom))
            .merge(routes(&auth))
            .layer(AuthLayer::new(auth)))
    }

    async fn bare(_auth: Authentiq) -> App {
        App(Router::new().route("/me", get(me)))
    }
}

authentiq_conformance::conformance_tests!(tokio::test, Axum);
