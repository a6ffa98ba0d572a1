//! The example contract (`shared/CONTRACT.md`) on actix-web: everything but the framework glue
//! is in `authentiq-example-common` and `authentiq-core`.

#![forbid(unsafe_code)]

use actix_web::dev::Server;
use actix_web::{App, HttpResponse, HttpServer, web};
use authentiq_actix::{AuthMiddleware, Authenticated, Bearer, MaybeAuthenticated, Remembered};
use authentiq_core::Authentiq;
use authentiq_example_common as common;
pub use authentiq_example_common::Running;

async fn home(user: MaybeAuthenticated, device: Remembered) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(common::home_page(
            "actix-web",
            user.0.as_ref(),
            device.0.as_ref(),
        ))
}

async fn me(user: Authenticated) -> web::Json<serde_json::Value> {
    web::Json(common::claims_json(&user))
}

async fn api_me(user: Bearer) -> web::Json<serde_json::Value> {
    web::Json(common::claims_json(&user))
}

/// `/me`'s work without its guard, for `cargo xtask load` (404 unless `APP_LOAD_TWIN=1`).
async fn load_me() -> HttpResponse {
    match common::unguarded_me() {
        Some(claims) => HttpResponse::Ok().json(claims),
        None => HttpResponse::NotFound().finish(),
    }
}

/// The app's routes and middleware, for `App::configure`.
pub fn app(auth: Authentiq) -> impl Fn(&mut web::ServiceConfig) + Clone + Send + 'static {
    let authentiqjs = common::authentiqjs_page("actix-web", &auth);
    move |cfg: &mut web::ServiceConfig| {
        let authentiqjs = authentiqjs.clone();
        cfg.service(
            web::scope("")
                .route("/", web::get().to(home))
                .route(
                    "/authentiqjs",
                    web::get().to(move || {
                        let page = authentiqjs.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("text/html; charset=utf-8")
                                .body(page)
                        }
                    }),
                )
                .route("/me", web::get().to(me))
                .route("/api/me", web::get().to(api_me))
                .route("/load/me", web::get().to(load_me))
                .configure(authentiq_actix::routes(&auth))
                .wrap(AuthMiddleware::new(auth.clone())),
        );
    }
}

/// The HTTP server for `auth` on an already bound `listener`; it serves once awaited.
fn server(auth: Authentiq, listener: std::net::TcpListener) -> std::io::Result<Server> {
    let app = app(auth);
    Ok(HttpServer::new(move || App::new().configure(app.clone()))
        .listen(listener)?
        .run())
}

/// Binds the settings' address (port 0 works), configures the SDK, and serves in the
/// background.
pub async fn spawn(settings: common::Settings) -> Result<Running, common::StartError> {
    let addr = settings.listen_addr();
    let listener = std::net::TcpListener::bind(addr)
        .map_err(|e| common::StartError::Io(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| common::StartError::Io(e.to_string()))?;
    let example = common::prepare(&settings, bound).await?;
    let server = server(example.auth.clone(), listener)
        .map_err(|e| common::StartError::Io(format!("cannot serve on {bound}: {e}")))?;
    Ok(Running::start(example, bound, async move {
        server
            .await
            .map_err(|e| common::StartError::Io(e.to_string()))
    }))
}

/// Serves until the process ends; prints the URL once listening.
pub async fn run(settings: common::Settings) -> Result<(), common::StartError> {
    let running = spawn(settings).await?;
    common::announce("actix-web", &running.public_url);
    running.wait().await
}
