//! A person's flow in a real headless Chromium: the axum example with the embedded provider,
//! sign in by clicking, approve on the simulated phone, see who you are, sign out.

use authentiq_example_common::Settings;
use authentiq_example_common::browser::Browser;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_person_signs_in_and_out_in_chromium() {
    let settings = Settings {
        addr: Some(([127, 0, 0, 1], 0).into()),
        ..Settings::default()
    };
    let running = authentiq_example_axum::spawn(settings)
        .await
        .expect("the example starts");
    let app = running.public_url.clone();
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));

    let b = Browser::start().await;
    b.goto(&format!("{app}/")).await;
    assert!(
        b.text().await.contains("You are not signed in."),
        "{}",
        b.text().await
    );
    b.click("a.button").await;

    let provider = running
        .provider
        .as_ref()
        .expect("embedded provider")
        .base_url();
    assert!(
        b.url().await.starts_with(&format!("{provider}/authorize?")),
        "on the provider: {}",
        b.url().await
    );
    let page = b.text().await;
    assert!(page.contains("Sign in with Authentiq"), "{page}");
    b.screenshot(&shots.join("browser-1-provider.png")).await;
    b.click("button.approve").await;

    assert_eq!(
        b.url().await,
        format!("{app}/"),
        "back on the app after approval"
    );
    let page = b.text().await;
    assert!(page.contains("Signed in as Alice Example."), "{page}");
    assert!(page.contains("Verified email: alice@example.com"), "{page}");
    b.screenshot(&shots.join("browser-2-signed-in.png")).await;
    let cookies = b.cookies().await;
    let session = cookies
        .iter()
        .find(|c| c["name"] == "authentiq_session")
        .expect("the browser keeps the session cookie");
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");
    assert!(
        cookies.iter().all(|c| !c["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("authentiq_flow_")),
        "flow cookie gone"
    );

    b.goto(&format!("{app}/me")).await;
    assert!(
        b.text().await.contains("\"email\":\"alice@example.com\""),
        "{}",
        b.text().await
    );

    b.goto(&format!("{app}/")).await;
    b.click("form[action='/auth/logout'] button").await;
    assert!(
        b.url().await.starts_with(&format!("{app}/?state=")),
        "back home after the provider's logout: {}",
        b.url().await
    );
    assert!(
        b.cookies()
            .await
            .iter()
            .all(|c| c["name"] != "authentiq_session"),
        "session cookie removed"
    );
    // Signed out, the browser is remembered for one click; "Not you?" forgets it.
    assert!(
        b.text().await.contains("Continue as Alice"),
        "{}",
        b.text().await
    );
    b.click("form[action='/auth/forget'] button").await;
    assert!(
        b.text().await.contains("You are not signed in."),
        "{}",
        b.text().await
    );
    assert!(
        b.cookies()
            .await
            .iter()
            .all(|c| c["name"] != "authentiq_device"),
        "device cookie removed"
    );
}
