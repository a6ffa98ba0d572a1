//! The shared conformance suite, against warp's in-process test client.

use authentiq_conformance::{Authentiq, Framework, TestApp, TestRequest, TestResponse};
use authentiq_warp::{
    AuthFilter, AuthRejection, Authenticated, Bearer, MaybeAuthenticated, Remembered, recover,
    routes,
};
use http::StatusCode;
use warp::filters::BoxedFilter;
use warp::reply::Response;
use warp::{Filter, Rejection, Reply};

struct Warp;
struct App(BoxedFilter<(Response,)>);

impl TestApp for App {
    async fn call(&self, req: TestRequest) -> TestResponse {
        let mut b = warp::test::request().method(&req.method).path(&req.uri);
        for (k, v) in &req.headers {
            b = b.header(k.as_str(), v.as_str());
        }
        if !req.body.is_empty() {
            b = b.body(&req.body);
        }
        let res = b.reply(&self.0).await;
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
        TestResponse {
            status: res.status().as_u16(),
            headers,
            body: res.body().to_vec(),
        }
    }
}

/// The app's own recover function for `/custom`: 418 with the refusal's code.
async fn custom(r: Rejection) -> Result<Response, Rejection> {
    match r.find::<AuthRejection>() {
        Some(refusal) => Ok(warp::reply::with_status(
            warp::reply::json(&serde_json::json!({ "custom": refusal.error().code() })),
            StatusCode::IM_A_TEAPOT,
        )
        .into_response()),
        None => Err(r),
    }
}

fn me(aq: &AuthFilter) -> BoxedFilter<(Response,)> {
    warp::path!("me")
        .and(warp::get())
        .and(aq.authenticated())
        .map(|user: Authenticated| warp::reply::json(&user.0.claims).into_response())
        .boxed()
}

impl Framework for Warp {
    type App = App;
    type Bare = App;

    async fn app(auth: Authentiq) -> App {
        let aq = AuthFilter::new(auth.clone());
        let public = warp::path!("public").and(warp::get()).map(|| "public");
        let preflight = warp::path!("me")
            .and(warp::options())
            .map(|| StatusCode::NO_CONTENT);
        let maybe = warp::path!("maybe")
            .and(warp::get())
            .and(aq.maybe_authenticated())
            .map(|user: MaybeAuthenticated| {
                warp::reply::json(&serde_json::json!({ "sub": user.0.map(|u| u.subject) }))
            });
        let both = warp::path!("both")
            .and(warp::get())
            .and(aq.authenticated())
            .and(aq.maybe_authenticated())
            .map(|user: Authenticated, again: MaybeAuthenticated| {
                warp::reply::json(&serde_json::json!({
                    "sub": user.0.subject,
                    "maybe": again.0.map(|u| u.subject),
                }))
            });
        let device = warp::path!("device")
            .and(warp::get())
            .and(aq.remembered())
            .and(aq.maybe_authenticated())
            .map(|device: Remembered, user: MaybeAuthenticated| {
                warp::reply::json(&serde_json::json!({
        "device": device.0.map(|d| serde_json::json!({"sub": d.subject, "name": d.name})),
        "sub": user.0.map(|u| u.subject),
    }))
            });
        let api_me = warp::path!("api" / "me")
            .and(warp::get())
            .and(aq.bearer())
            .map(|user: Bearer| warp::reply::json(&user.0.claims));
        let custom = warp::path!("custom")
            .and(warp::get())
            .and(aq.authenticated())
            .map(|_: Authenticated| "ok")
            .recover(custom);
        let routes = public
            .or(me(&aq))
            .or(preflight)
            .or(maybe)
            .or(both)
            .or(device)
            .or(api_me)
            .or(custom)
            .or(routes(&auth));
        App(aq
            .wrap(routes)
            .recover(recover)
            .map(Reply::into_response)
            .boxed())
    }

    async fn bare(auth: Authentiq) -> App {
        let aq = AuthFilter::new(auth);
        App(me(&aq).recover(recover).map(Reply::into_response).boxed())
    }
}

authentiq_conformance::conformance_tests!(tokio::test, Warp);
