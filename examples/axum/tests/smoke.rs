//! The axum example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::{Settings, smoke};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_me_sign_out() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let bound = listener.local_addr().expect("addr");
    let example = authentiq_example_common::prepare(&Settings::default(), bound)
        .await
        .expect("prepare");
    let app = authentiq_example_axum::app(example.auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    smoke::sign_in_me_sign_out(&example.public_url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_me_sign_out_with_sessions_in_redis() {
    let redis = authentiq_dev::redis::RedisServer::start().expect("redis-server on loopback");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let bound = listener.local_addr().expect("addr");
    let settings = Settings {
        store: Some(redis.url()),
        ..Settings::default()
    };
    let example = authentiq_example_common::prepare(&settings, bound)
        .await
        .expect("prepare");
    let app = authentiq_example_axum::app(example.auth);
    tokio::spawn(async move { axum::serve(listener, app).await });
    smoke::sign_in_me_sign_out(&example.public_url).await;
}
