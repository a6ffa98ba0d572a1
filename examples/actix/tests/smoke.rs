//! The actix-web example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::smoke;

#[actix_web::test]
async fn sign_in_me_sign_out() {
    let app = authentiq_example_actix::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    smoke::sign_in_me_sign_out(&app.public_url).await;
}
