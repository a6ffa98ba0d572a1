//! OpenID Connect Session Management from the app's side: the `session_state` a sign-in
//! returned, and the provider's check-session iframe, are on the signed-in identity; a bearer
//! identity has neither.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::adapter::{self, SessionCache};
use authentiq_core::{Authentiq, Claims};
use authentiq_dev::{Alg, Approval, ClientRegistration, DevProvider};

fn head(uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
    let mut b = http::Request::builder().method("GET").uri(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    b.body(()).unwrap().into_parts().0
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn the_identity_carries_session_state_and_the_check_session_iframe() {
    let provider = DevProvider::start().unwrap();
    let client = provider.register_client(ClientRegistration {
        redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
        ..Default::default()
    });
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url("http://127.0.0.1:8000")
        .build()
        .await
        .unwrap();
    let iframe = auth.provider().check_session_iframe.clone();
    assert!(iframe.is_some(), "the development provider advertises one");

    let login = adapter::respond(&auth, &head("/auth/login?return_to=/", &[]), Some(&[])).await;
    assert_eq!(
        login.status(),
        303,
        "{}",
        String::from_utf8_lossy(login.body())
    );
    let location = login
        .header_value(http::header::LOCATION)
        .unwrap()
        .to_owned();
    let flow = pair(login.set_cookies().next().unwrap());
    let callback = provider.approve(&location, &Approval::default()).unwrap();
    let state = url::Url::parse(&callback)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "session_state")
        .map(|(_, v)| v.into_owned())
        .expect("the provider returns session_state");
    let path = callback.strip_prefix("http://127.0.0.1:8000").unwrap();
    let done = adapter::respond(&auth, &head(path, &[("cookie", &flow)]), Some(&[])).await;
    assert_eq!(done.status(), 303);
    let session = done
        .set_cookies()
        .map(pair)
        .find(|c| c.starts_with("authentiq_session="))
        .unwrap();

    let me = head(
        "/me",
        &[("cookie", &session), ("accept", "application/json")],
    );
    let who = adapter::require::<Claims>(&auth, &me, &SessionCache::new())
        .await
        .unwrap();
    assert_eq!(who.session_state.as_deref(), Some(state.as_str()));
    assert_eq!(who.check_session_iframe, iframe);

    let token =
        provider.mint_id_token_with(&client.client_id, Alg::ES256, "u", serde_json::json!({}));
    let bearer = head("/me", &[("authorization", &format!("Bearer {token}"))]);
    let who = adapter::require::<Claims>(&auth, &bearer, &SessionCache::new())
        .await
        .unwrap();
    assert_eq!(who.session_state, None);
    assert_eq!(who.check_session_iframe, None);
}
