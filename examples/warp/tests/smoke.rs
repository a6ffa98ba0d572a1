//! The warp example over real loopback HTTP, with the embedded development provider.

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
    tokio::spawn(authentiq_example_warp::serve(example.auth, listener));
    smoke::sign_in_me_sign_out(&example.public_url).await;
}
