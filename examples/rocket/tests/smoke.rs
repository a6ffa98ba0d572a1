//! The rocket example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::{Settings, smoke};
use rocket::fairing::AdHoc;

#[rocket::async_test]
async fn sign_in_me_sign_out() {
    // Rocket 0.5 binds its own listener: take a free port for it on 127.0.0.1.
    let bound = authentiq_example_rocket::reserve(([127, 0, 0, 1], 0).into()).expect("bind");
    let example = authentiq_example_common::prepare(&Settings::default(), bound)
        .await
        .expect("prepare");
    let (ready, listening) = rocket::tokio::sync::oneshot::channel();
    let app = authentiq_example_rocket::app(example.auth, bound).attach(AdHoc::on_liftoff(
        "ready",
        move |_| {
            Box::pin(async move {
                let _ = ready.send(());
            })
        },
    ));
    let server = rocket::tokio::spawn(async move { app.launch().await.map_err(|e| e.to_string()) });
    if listening.await.is_err() {
        panic!("rocket did not lift off: {:?}", server.await);
    }
    smoke::sign_in_me_sign_out(&example.public_url).await;
}
