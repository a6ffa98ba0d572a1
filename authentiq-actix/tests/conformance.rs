//! The shared conformance suite, against actix-web's in-process test service.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::MessageBody;
use actix_web::dev::{Service, ServiceResponse};
use actix_web::http::{Method, StatusCode};
use actix_web::{App as ActixApp, HttpResponse, test, web};
use authentiq_actix::{
    AuthMiddleware, AuthRejection, Authenticated, Bearer, MaybeAuthenticated, Remembered, routes,
};
use authentiq_conformance::{Authentiq, Framework, TestApp, TestRequest, TestResponse};
use authentiq_core::Claims;

struct Actix;

type Call = Box<dyn Fn(TestRequest) -> Pin<Box<dyn Future<Output = TestResponse>>>>;

/// An initialised actix-web service, behind a boxed call (its type cannot be named).
struct App(Call);

impl App {
    /// `to_request` is `test::TestRequest::to_request`, passed so that the request type, which
    /// actix-web does not re-export, is inferred.
    fn new<S, R: 'static, B>(service: S, to_request: fn(test::TestRequest) -> R) -> Self
    where
        S: Service<R, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
        B: MessageBody + 'static,
    {
        let service = Rc::new(service);
        Self(Box::new(move |req: TestRequest| {
            let service = service.clone();
            Box::pin(async move {
                let method = Method::from_bytes(req.method.as_bytes()).expect("method");
                let mut r = test::TestRequest::default()
                    .method(method)
                    .uri(&req.uri)
                    .set_payload(req.body);
                for (k, v) in req.headers {
                    r = r.append_header((k, v));
                }
                let res = test::call_service(&*service, to_request(r)).await;
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
                let body = test::read_body(res).await.to_vec();
                TestResponse {
                    status,
                    headers,
                    body,
                }
            })
        }))
    }
}

impl TestApp for App {
    async fn call(&self, req: TestRequest) -> TestResponse {
        (self.0)(req).await
    }
}

async fn me(user: Authenticated) -> web::Json<Claims> {
    web::Json(user.0.claims)
}

async fn maybe(user: MaybeAuthenticated) -> web::Json<serde_json::Value> {
    web::Json(serde_json::json!({ "sub": user.0.map(|u| u.subject) }))
}

async fn both(user: Authenticated, again: MaybeAuthenticated) -> web::Json<serde_json::Value> {
    web::Json(serde_json::json!({ "sub": user.0.subject, "maybe": again.0.map(|u| u.subject) }))
}

async fn device(device: Remembered, user: MaybeAuthenticated) -> web::Json<serde_json::Value> {
    web::Json(serde_json::json!({
        "device": device.0.map(|d| serde_json::json!({"sub": d.subject, "name": d.name})),
        "sub": user.0.map(|u| u.subject),
    }))
}

async fn api_me(user: Bearer) -> web::Json<Claims> {
    web::Json(user.0.claims)
}

async fn custom(user: Result<Authenticated, AuthRejection>) -> HttpResponse {
    match user {
        Ok(_) => HttpResponse::Ok().body("ok"),
        Err(r) => HttpResponse::build(StatusCode::IM_A_TEAPOT)
            .json(serde_json::json!({ "custom": r.error().code() })),
    }
}

impl Framework for Actix {
    type App = App;
    type Bare = App;

    async fn app(auth: Authentiq) -> App {
        App::new(
            test::init_service(
                ActixApp::new()
                    .route("/public", web::get().to(|| async { "public" }))
                    .service(
                        web::resource("/me")
                            .route(web::get().to(me))
                            .route(web::method(Method::OPTIONS).to(HttpResponse::NoContent)),
                    )
                    .route("/maybe", web::get().to(maybe))
                    .route("/both", web::get().to(both))
                    .route("/device", web::get().to(device))
                    .route("/api/me", web::get().to(api_me))
                    .route("/custom", web::get().to(custom))
                    .configure(routes(&auth))
                    .wrap(AuthMiddleware::new(auth)),
            )
            .await,
            test::TestRequest::to_request,
        )
    }

    async fn bare(_auth: Authentiq) -> App {
        App::new(
            test::init_service(ActixApp::new().route("/me", web::get().to(me))).await,
            test::TestRequest::to_request,
        )
    }
}

authentiq_conformance::conformance_tests!(actix_web::test, Actix);
