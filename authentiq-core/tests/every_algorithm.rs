//! A whole code-flow sign-in through the SDK against the development provider, once per ID
//! Token algorithm the provider signs with: RS256, ES256, EdDSA (whose `at_hash` is the left half
//! of a SHA-512 hash) and HS256 with the client secret.

#![allow(clippy::unwrap_used, missing_docs)]

use authentiq_core::Authentiq;
use authentiq_core::adapter::{self, SessionCache};
use authentiq_dev::{Alg, Approval, ClientRegistration, DevProvider};

fn head(uri: &str, cookie: Option<&str>) -> http::request::Parts {
    let mut b = http::Request::builder()
        .method("GET")
        .uri(uri)
        .header("accept", "application/json");
    if let Some(c) = cookie {
        b = b.header("cookie", c);
    }
    b.body(()).unwrap().into_parts().0
}

fn pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

#[tokio::test]
async fn a_code_flow_signs_in_with_every_algorithm() {
    let provider = DevProvider::start().unwrap();
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA, Alg::HS256] {
        let client = provider.register_client(ClientRegistration {
            redirect_uris: vec!["http://127.0.0.1:8000/auth/callback".into()],
            id_token_alg: alg,
            ..Default::default()
        });
        let auth = Authentiq::builder(provider.issuer(), &client.client_id)
            .client_secret(&client.client_secret)
            .public_url("http://127.0.0.1:8000")
            .build()
            .await
            .unwrap();
        let login =
            adapter::respond(&auth, &head("/auth/login?return_to=/me", None), Some(&[])).await;
        assert_eq!(login.status(), 303, "{alg:?}: login");
        let location = login
            .header_value(http::header::LOCATION)
            .unwrap()
            .to_owned();
        let flow = pair(login.set_cookies().next().unwrap());
        let callback = provider.approve(&location, &Approval::default()).unwrap();
        let path = callback.strip_prefix("http://127.0.0.1:8000").unwrap();
        let done = adapter::respond(&auth, &head(path, Some(&flow)), Some(&[])).await;
        assert_eq!(
            done.status(),
            303,
            "{alg:?}: {}",
            String::from_utf8_lossy(done.body())
        );
        let session = done
            .set_cookies()
            .map(pair)
            .find(|c| c.starts_with("authentiq_session="))
            .unwrap();
        let who = adapter::require::<authentiq_core::Claims>(
            &auth,
            &head("/me", Some(&session)),
            &SessionCache::new(),
        )
        .await
        .unwrap();
        assert_eq!(
            who.claims.email.as_deref(),
            Some("alice@example.com"),
            "{alg:?}"
        );
    }
}
