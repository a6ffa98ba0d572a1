//! The example contract (`shared/CONTRACT.md`) on rocket: everything but the framework glue is
//! in `authentiq-example-common` and `authentiq-core`.

#![forbid(unsafe_code)]

use std::net::SocketAddr;

use authentiq_core::Authentiq;
use authentiq_example_common as common;
pub use authentiq_example_common::Running;
use authentiq_rocket::{AuthFairing, Authenticated, Bearer, MaybeAuthenticated, Remembered};
use rocket::config::LogLevel;
use rocket::fairing::AdHoc;
use rocket::http::ContentType;
use rocket::response::content::RawHtml;
use rocket::{Build, Rocket};

#[rocket::get("/")]
fn home(user: MaybeAuthenticated, device: Remembered) -> RawHtml<String> {
    RawHtml(common::home_page(
        "rocket",
        user.0.as_ref(),
        device.0.as_ref(),
    ))
}

/// The AuthentiqJS page, rendered once.
struct AuthentiqJsPage(String);

#[rocket::get("/authentiqjs")]
fn authentiqjs(page: &rocket::State<AuthentiqJsPage>) -> RawHtml<String> {
    RawHtml(page.0.clone())
}

#[rocket::get("/me")]
fn me(user: Authenticated) -> (ContentType, String) {
    (ContentType::JSON, common::claims_json(&user).to_string())
}

#[rocket::get("/api/me")]
fn api_me(user: Bearer) -> (ContentType, String) {
    (ContentType::JSON, common::claims_json(&user).to_string())
}

/// `/me`'s work without its guard, for `cargo xtask load` (404 unless `APP_LOAD_TWIN=1`).
#[rocket::get("/load/me")]
fn load_me() -> Option<(ContentType, String)> {
    common::unguarded_me().map(|claims| (ContentType::JSON, claims.to_string()))
}

/// The app, served on `addr`. Its configuration is set here, not read from `Rocket.toml` or
/// `ROCKET_*` variables. Rocket's own log is off: the SDK logs through `tracing`, and the app
/// prints one line once it listens.
pub fn app(auth: Authentiq, addr: SocketAddr) -> Rocket<Build> {
    let config = rocket::Config {
        address: addr.ip(),
        port: addr.port(),
        log_level: LogLevel::Off,
        ..rocket::Config::default()
    };
    rocket::custom(config)
        .manage(AuthentiqJsPage(common::authentiqjs_page("rocket", &auth)))
        .mount("/", rocket::routes![home, authentiqjs, me, api_me, load_me])
        .mount("/", authentiq_rocket::routes(&auth))
        .register("/", authentiq_rocket::catchers())
        .attach(AuthFairing::new(auth))
}

/// Binds the settings' address (port 0 works), configures the SDK, and serves in the
/// background once rocket has lifted off.
pub async fn spawn(settings: common::Settings) -> Result<Running, common::StartError> {
    // Rocket 0.5 binds its own listener, and the SDK must know the app's URL before that:
    // check that the address can be listened on, and resolve port 0 to a free port.
    let addr = settings.listen_addr();
    let bound = std::net::TcpListener::bind(addr)
        .and_then(|l| l.local_addr())
        .map_err(|e| common::StartError::Io(format!("cannot listen on {addr}: {e}")))?;
    let example = common::prepare(&settings, bound).await?;
    let (ready, listening) = tokio::sync::oneshot::channel();
    let app = app(example.auth.clone(), bound).attach(AdHoc::on_liftoff("ready", move |_| {
        Box::pin(async move {
            let _ = ready.send(());
        })
    }));
    let running = Running::start(example, bound, async move {
        app.launch()
            .await
            .map(drop)
            .map_err(|e| common::StartError::Io(format!("cannot serve on {bound}: {e}")))
    });
    match listening.await {
        Ok(()) => Ok(running),
        // Rocket stopped before it listened: its own error says why.
        Err(_) => Err(running.wait().await.err().unwrap_or_else(|| {
            common::StartError::Io(format!("rocket stopped before serving on {bound}"))
        })),
    }
}

/// Serves until the process ends; prints the URL once listening.
pub async fn run(settings: common::Settings) -> Result<(), common::StartError> {
    let running = spawn(settings).await?;
    common::announce("rocket", &running.public_url);
    running.wait().await
}
