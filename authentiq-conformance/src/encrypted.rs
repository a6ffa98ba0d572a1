//! The cases of end-to-end encrypted ID Tokens: a sign-in whose ID Token the provider
//! encrypted to the app's own key, a bearer token that is a JWE, `GET /auth/jwks`, and the
//! downgrade to a plain signed token refused.

use serde_json::json;

use crate::cases::{api, assert_status, browser, no_session_created, refused, says};
use crate::{APP_URL, Approval, Framework, Harness, Jar, TestApp, TestRequest, TestResponse};
use authentiq_core::{Authentiq, ClientKeys};
use authentiq_dev::Alg;

/// A harness whose client registered its public keys and asked for encrypted ID Tokens
/// (`alg`/`enc`), and whose SDK holds the private keys. `encrypt: false` registers the same
/// keys without asking for encryption: the provider then sends plain signed tokens.
async fn encrypted_harness(alg: &str, enc: &str, encrypt: bool) -> Harness {
    let keys = ClientKeys::generate().expect("a client key set");
    let provider = crate::provider().clone();
    let client = provider.register_client(authentiq_dev::ClientRegistration {
        redirect_uris: vec![format!("{APP_URL}/auth/callback")],
        post_logout_redirect_uris: vec![format!("{APP_URL}/")],
        jwks: Some(keys.public_jwks()),
        id_token_encrypted_response_alg: encrypt.then(|| alg.to_owned()),
        id_token_encrypted_response_enc: Some(enc.to_owned()),
        ..Default::default()
    });
    let key = crate::random_key();
    let auth = Authentiq::builder(provider.issuer(), &client.client_id)
        .client_secret(&client.client_secret)
        .public_url(APP_URL)
        .session_key(key.clone())
        .client_key_set(keys)
        .build()
        .await
        .expect("the SDK configures itself with client keys");
    Harness {
        provider,
        client,
        auth,
        key,
    }
}

/// Login, the provider's approval and the callback; returns the callback's answer and jar.
async fn sign_in<A: TestApp>(h: &Harness, app: &A) -> (TestResponse, Jar) {
    let res = app.call(browser("/auth/login?return_to=%2Fme")).await;
    assert_status(&res, 303, "login redirect");
    let mut jar = Jar::new();
    jar.apply(&res);
    let location = res.header("location").expect("login sets Location");
    let callback = h
        .provider
        .approve(location, &Approval::default())
        .expect("the provider approves");
    let path = callback
        .strip_prefix(APP_URL)
        .unwrap_or(&callback)
        .to_owned();
    let res = app.call(browser(&path).cookies(&jar)).await;
    jar.apply(&res);
    (res, jar)
}

/// A sign-in whose ID Token the provider encrypted (RSA-OAEP-256 and ECDH-ES, an HS256 inner
/// token from the token endpoint) creates a session with the identity inside, and the
/// session's `/me` answers as for any sign-in.
pub async fn encrypted_sign_in_creates_session<F: Framework>() {
    for (alg, enc) in [("ECDH-ES", "A256GCM"), ("RSA-OAEP-256", "A128CBC-HS256")] {
        let h = encrypted_harness(alg, enc, true).await;
        // The provider really encrypts for this client.
        let sample = h
            .provider
            .mint_id_token(&h.client.client_id, "probe", json!({}));
        assert_eq!(sample.split('.').count(), 5, "{alg}: a compact JWE");
        let app = F::app(h.auth.clone()).await;
        let (res, jar) = sign_in(&h, &app).await;
        assert_status(&res, 303, alg);
        assert_eq!(res.header("location"), Some("/me"));
        let me = app.call(api("/me").cookies(&jar)).await;
        assert_status(&me, 200, "me");
        let claims = me.json();
        assert_eq!(claims["iss"], h.provider.issuer());
        assert_eq!(claims["email"], Approval::default().email);
    }
}

/// A bearer ID Token encrypted to the app's key opens `/api/me`; the same identity as a
/// plain signed token does not (encryption is required once keys are set).
pub async fn encrypted_bearer_and_downgrade<F: Framework>() {
    let h = encrypted_harness("ECDH-ES+A128KW", "A128GCM", true).await;
    let app = F::app(h.auth.clone()).await;
    let token = h.provider.mint_id_token_with(
        &h.client.client_id,
        Alg::ES256,
        "api-user",
        json!({"email": "api@example.com"}),
    );
    assert_eq!(token.split('.').count(), 5);
    let res = app
        .call(api("/api/me").header("authorization", &format!("Bearer {token}")))
        .await;
    assert_status(&res, 200, "encrypted bearer");
    assert_eq!(res.json()["sub"], "api-user");

    let plain = encrypted_harness("ECDH-ES", "A256GCM", false).await;
    let plain_app = F::app(plain.auth.clone()).await;
    let token = plain.provider.mint_id_token_with(
        &plain.client.client_id,
        Alg::ES256,
        "api-user",
        json!({}),
    );
    assert_eq!(token.split('.').count(), 3);
    let res = plain_app
        .call(api("/api/me").header("authorization", &format!("Bearer {token}")))
        .await;
    refused(
        &res,
        401,
        "invalid_token",
        &says::bad_token(
            "the token is not encrypted, and this client requires encrypted ID Tokens",
        ),
    );
}

/// A sign-in through a provider that sends a plain signed ID Token, to an app that requires
/// encryption, is refused: no session, `invalid_id_token`.
pub async fn encrypted_sign_in_downgrade_refused<F: Framework>() {
    let h = encrypted_harness("ECDH-ES", "A256GCM", false).await;
    let app = F::app(h.auth.clone()).await;
    let (res, jar) = sign_in(&h, &app).await;
    assert_status(&res, 400, "downgraded sign-in");
    assert!(
        res.text().contains("<code>invalid_id_token</code>"),
        "the page names the code: {}",
        res.text()
    );
    assert!(
        jar.get("authentiq_session").is_none(),
        "no session: {:?}",
        jar.names()
    );
    no_session_created(&app, &res, &jar).await;
}

/// `GET /auth/jwks` publishes the public halves of the client keys (`use: enc`, no private
/// member), the same the SDK registers; without client keys the route is 404.
pub async fn client_jwks_published<F: Framework>() {
    let h = encrypted_harness("ECDH-ES", "A256GCM", true).await;
    let app = F::app(h.auth.clone()).await;
    let res = app.call(api("/auth/jwks")).await;
    assert_status(&res, 200, "jwks");
    assert!(
        res.header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        res.headers
    );
    let jwks = res.json();
    assert_eq!(Some(jwks.clone()), h.auth.client_jwks());
    let keys = jwks["keys"].as_array().expect("a keys array");
    assert_eq!(keys.len(), 2);
    for key in keys {
        assert_eq!(key["use"], "enc");
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert_eq!(key.get(private), None, "{private} published");
        }
    }
    let post = app
        .call(TestRequest::new("POST", "/auth/jwks").header("accept", "application/json"))
        .await;
    refused(&post, 405, "method_not_allowed", says::METHOD);
    assert_eq!(post.header("allow"), Some("GET, HEAD"));

    let without = Harness::new().await;
    let app = F::app(without.auth.clone()).await;
    let res = app.call(api("/auth/jwks")).await;
    assert_status(&res, 404, "jwks without client keys");
    assert_eq!(without.auth.client_jwks(), None);
}
