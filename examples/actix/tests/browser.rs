//! A person's flow in a real headless Chromium: the actix-web example with the embedded provider
//! (see `browser::a_person_signs_in_with_their_phone`).

use authentiq_example_common::{browser, smoke};

#[actix_web::test]
async fn a_person_signs_in_with_their_phone_in_chromium() {
    let running = authentiq_example_actix::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    let provider = running.provider.as_ref().expect("embedded provider");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots-actix");
    browser::a_person_signs_in_with_their_phone(&running.public_url, &provider.base_url(), &shots)
        .await;
}
