//! The axum example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::{Settings, smoke};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_me_sign_out() {
    let app = authentiq_example_axum::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    smoke::sign_in_me_sign_out(&app.public_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_me_sign_out_with_sessions_in_redis() {
    let redis = authentiq_dev::redis::RedisServer::start().expect("redis-server on loopback");
    let settings = Settings {
        store: Some(authentiq_example_common::SessionStoreSetting::Redis(
            redis.url(),
        )),
        ..smoke::loopback()
    };
    let app = authentiq_example_axum::spawn(settings)
        .await
        .expect("the example starts");
    smoke::sign_in_me_sign_out(&app.public_url).await;
}
