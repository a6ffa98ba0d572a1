//! The rocket example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::smoke;

#[rocket::async_test]
async fn sign_in_me_sign_out() {
    let app = authentiq_example_rocket::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    smoke::sign_in_me_sign_out(&app.public_url).await;
}
