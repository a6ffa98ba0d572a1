//! The shared conformance suite, against rocket's in-process client.

use authentiq_conformance::{Authentiq, Framework, TestApp, TestRequest, TestResponse};
use authentiq_rocket::{
    AuthFairing, AuthRejection, Authenticated, Bearer, MaybeAuthenticated, Remembered, catchers,
    routes,
};
use rocket::http::{ContentType, Header, Method, Status};
use rocket::local::asynchronous::Client;
use rocket::response::status::Custom;
use rocket::{Build, Rocket};

struct RocketFramework;
struct App(Client);

impl TestApp for App {
    async fn call(&self, req: TestRequest) -> TestResponse {
        let method: Method = req.method.parse().expect("method");
        let mut r = self.0.req(method, req.uri.as_str()).body(req.body);
        for (k, v) in req.headers {
            r = r.header(Header::new(k, v));
        }
        let res = r.dispatch().await;
        let status = res.status().code;
        let headers = res
            .headers()
            .iter()
            .map(|h| (h.name().as_str().to_ascii_lowercase(), h.value().to_owned()))
            .collect();
        let body = res.into_bytes().await.unwrap_or_default();
        TestResponse {
            status,
            headers,
            body,
        }
    }
}

fn json(value: &impl serde::Serialize) -> (ContentType, String) {
    (
        ContentType::JSON,
        serde_json::to_string(value).expect("JSON"),
    )
}

#[rocket::get("/public")]
fn public() -> &'static str {
    "public"
}

#[rocket::get("/me")]
fn me(user: Authenticated) -> (ContentType, String) {
    json(&user.0.claims)
}

#[rocket::options("/me")]
fn preflight() -> Status {
    Status::NoContent
}

#[rocket::get("/maybe")]
fn maybe(user: MaybeAuthenticated) -> (ContentType, String) {
    json(&serde_json::json!({ "sub": user.0.map(|u| u.subject) }))
}

#[rocket::get("/both")]
fn both(user: Authenticated, again: MaybeAuthenticated) -> (ContentType, String) {
    json(&serde_json::json!({ "sub": user.0.subject, "maybe": again.0.map(|u| u.subject) }))
}

#[rocket::get("/device")]
fn device(device: Remembered, user: MaybeAuthenticated) -> (ContentType, String) {
    json(&serde_json::json!({
        "device": device.0.map(|d| serde_json::json!({"sub": d.subject, "name": d.name})),
        "sub": user.0.map(|u| u.subject),
    }))
}

#[rocket::get("/api/me")]
fn api_me(user: Bearer) -> (ContentType, String) {
    json(&user.0.claims)
}

#[rocket::get("/custom")]
fn custom(user: Result<Authenticated, AuthRejection>) -> Custom<(ContentType, String)> {
    match user {
        Ok(_) => Custom(Status::Ok, (ContentType::Plain, "ok".into())),
        Err(r) => Custom(
            Status::ImATeapot,
            json(&serde_json::json!({ "custom": r.error().code() })),
        ),
    }
}

/// Logging off, and nothing read from `Rocket.toml` or `ROCKET_*`.
fn base() -> Rocket<Build> {
    rocket::custom(rocket::Config {
        log_level: rocket::config::LogLevel::Off,
        ..rocket::Config::debug_default()
    })
    .register("/", catchers())
}

async fn client(rocket: Rocket<Build>) -> App {
    App(Client::untracked(rocket).await.expect("rocket ignites"))
}

impl Framework for RocketFramework {
    type App = App;
    type Bare = App;

    async fn app(auth: Authentiq) -> App {
        client(
            base()
                .mount(
                    "/",
                    rocket::routes![public, me, preflight, maybe, both, device, api_me, custom],
                )
                .mount("/", routes(&auth))
                .attach(AuthFairing::new(auth)),
        )
        .await
    }

    async fn bare(_auth: Authentiq) -> App {
        client(base().mount("/", rocket::routes![me])).await
    }
}

authentiq_conformance::conformance_tests!(rocket::async_test, RocketFramework);
