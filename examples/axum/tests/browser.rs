//! A person's flow in a real headless Chromium: the axum example with the embedded provider
//! (see `browser::a_person_signs_in_with_their_phone`).

use authentiq_example_common::{browser, smoke};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_with_their_phone_in_chromium() {
    let running = authentiq_example_axum::spawn(smoke::loopback())
        .await
        .expect("the example starts");
    let provider = running.provider.as_ref().expect("embedded provider");
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("screenshots-axum");
    browser::a_person_signs_in_with_their_phone(&running.public_url, &provider.base_url(), &shots)
        .await;
}
