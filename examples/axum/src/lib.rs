//! The example contract (`shared/CONTRACT.md`) on axum: everything but the framework glue is in
//! `authentiq-example-common` and `authentiq-core`.

#![forbid(unsafe_code)]

use authentiq_axum::{AuthLayer, Authenticated, Bearer, MaybeAuthenticated, Remembered};
use authentiq_core::Authentiq;
use authentiq_example_common as common;
pub use authentiq_example_common::Running;
use axum::http::StatusCode;
use axum::response::Html;
use axum::routing::get;
use axum::{Json, Router};

async fn home(user: MaybeAuthenticated, device: Remembered) -> Html<String> {
    Html(common::home_page(
        "axum",
        user.0.as_ref(),
        device.0.as_ref(),
    ))
}

async fn me(user: Authenticated) -> Json<serde_json::Value> {
    Json(common::claims_json(&user))
}

async fn api_me(user: Bearer) -> Json<serde_json::Value> {
    Json(common::claims_json(&user))
}

/// `/me`'s work without its guard, for `cargo xtask load` (404 unless `APP_LOAD_TWIN=1`).
async fn load_me() -> Result<Json<serde_json::Value>, StatusCode> {
    common::unguarded_me()
        .map(Json)
        .ok_or(StatusCode::NOT_FOUND)
}

/// The app's router.
pub fn app(auth: Authentiq) -> Router {
    let authentiqjs = common::authentiqjs_page("axum", &auth);
    Router::new()
        .route("/", get(home))
        .route(
            "/authentiqjs",
            get(move || async move { Html(authentiqjs) }),
        )
        .route("/me", get(me))
        .route("/api/me", get(api_me))
        .route("/load/me", get(load_me))
        .merge(authentiq_axum::routes(&auth))
        .layer(AuthLayer::new(auth))
}

/// Binds the settings' address (port 0 works), configures the SDK, and serves in the
/// background.
pub async fn spawn(settings: common::Settings) -> Result<Running, common::StartError> {
    let listener = tokio::net::TcpListener::bind(settings.listen_addr())
        .await
        .map_err(|e| {
            common::StartError::Io(format!("cannot listen on {}: {e}", settings.listen_addr()))
        })?;
    let bound = listener
        .local_addr()
        .map_err(|e| common::StartError::Io(e.to_string()))?;
    let example = common::prepare(&settings, bound).await?;
    let serve = axum::serve(listener, app(example.auth.clone())).into_future();
    Ok(Running::start(example, bound, async move {
        serve
            .await
            .map_err(|e| common::StartError::Io(e.to_string()))
    }))
}

/// Serves until the process ends; prints the URL once listening.
pub async fn run(settings: common::Settings) -> Result<(), common::StartError> {
    let running = spawn(settings).await?;
    common::announce("axum", &running.public_url);
    running.wait().await
}
