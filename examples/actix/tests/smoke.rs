//! The actix-web example over real loopback HTTP, with the embedded development provider.

use authentiq_example_common::{Settings, smoke};

#[actix_web::test]
async fn sign_in_me_sign_out() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let bound = listener.local_addr().expect("addr");
    let example = authentiq_example_common::prepare(&Settings::default(), bound)
        .await
        .expect("prepare");
    let server = authentiq_example_actix::server(example.auth, listener).expect("serve");
    actix_web::rt::spawn(server);
    smoke::sign_in_me_sign_out(&example.public_url).await;
}
