//! The example contract (`shared/CONTRACT.md`) on warp: everything but the framework glue is in
//! `authentiq-example-common` and `authentiq-core`.

#![forbid(unsafe_code)]

use authentiq_core::Authentiq;
use authentiq_example_common as common;
pub use authentiq_example_common::Running;
use authentiq_warp::{AuthFilter, Authenticated, Bearer, MaybeAuthenticated, Remembered};
use warp::{Filter, Rejection, Reply};

/// The app's filter: its routes and the auth routes inside the [`AuthFilter`] wrap.
pub fn app(auth: Authentiq) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone {
    let aq = AuthFilter::new(auth.clone());
    let home = warp::path::end()
        .and(warp::get())
        .and(aq.maybe_authenticated())
        .and(aq.remembered())
        .map(|user: MaybeAuthenticated, device: Remembered| {
            warp::reply::html(common::home_page(
                "warp",
                user.0.as_ref(),
                device.0.as_ref(),
            ))
        });
    let page = common::authentiqjs_page("warp", &auth);
    let authentiqjs = warp::path!("authentiqjs")
        .and(warp::get())
        .map(move || warp::reply::html(page.clone()));
    let me = warp::path!("me")
        .and(warp::get())
        .and(aq.authenticated())
        .map(|user: Authenticated| warp::reply::json(&common::claims_json(&user)));
    let api_me = warp::path!("api" / "me")
        .and(warp::get())
        .and(aq.bearer())
        .map(|user: Bearer| warp::reply::json(&common::claims_json(&user)));
    // `/me`'s work without its guard, for `cargo xtask load` (404 unless `APP_LOAD_TWIN=1`).
    let load_me = warp::path!("load" / "me")
        .and(warp::get())
        .and_then(|| async {
            common::unguarded_me()
                .map(|claims| warp::reply::json(&claims))
                .ok_or_else(warp::reject::not_found)
        });
    aq.wrap(
        home.or(authentiqjs)
            .or(me)
            .or(api_me)
            .or(load_me)
            .or(authentiq_warp::routes(&auth)),
    )
    .recover(authentiq_warp::recover)
}

/// Binds the settings' address (port 0 works), configures the SDK, and serves in the
/// background.
pub async fn spawn(settings: common::Settings) -> Result<Running, common::StartError> {
    let addr = settings.listen_addr();
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| common::StartError::Io(format!("cannot listen on {addr}: {e}")))?;
    let bound = listener
        .local_addr()
        .map_err(|e| common::StartError::Io(e.to_string()))?;
    let example = common::prepare(&settings, bound).await?;
    let serve = warp::serve(app(example.auth.clone()))
        .incoming(listener)
        .run();
    Ok(Running::start(example, bound, async move {
        serve.await;
        Ok(())
    }))
}

/// Serves until the process ends; prints the URL once listening.
pub async fn run(settings: common::Settings) -> Result<(), common::StartError> {
    let running = spawn(settings).await?;
    common::announce("warp", &running.public_url);
    running.wait().await
}
