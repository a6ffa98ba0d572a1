//! A person's flow in a real headless Chromium: the rocket example with the embedded provider
//! (see `browser::a_person_signs_in_with_their_phone`).

use authentiq_example_common::{browser, smoke};

#[rocket::async_test]
async fn a_person_signs_in_with_their_phone_in_chromium() {
    let running = authentiq_example_rocket::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    let provider = running.provider.as_ref().expect("embedded provider");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots-rocket");
    browser::a_person_signs_in_with_their_phone(&running.public_url, &provider.base_url(), &shots)
        .await;
}
