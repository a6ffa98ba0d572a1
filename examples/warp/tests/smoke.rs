//! The warp example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::smoke;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_me_sign_out() {
    let app = authentiq_example_warp::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    smoke::sign_in_me_sign_out(&app.public_url).await;
}
