//! Discovery, keys, the token endpoint, ID Tokens and userinfo over real loopback HTTP.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashSet;

use authentiq_dev::{Alg, Approval, ClientAuth, ClientRegistration, DevError, DevProvider, Grant};
use common::{Fixture, REDIRECT, b64, half_hash, query, verify_hs256, verify_jwks};
use serde_json::{Value, json};

const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn kids(jwks: &Value) -> HashSet<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn discovery_document() {
    let f = Fixture::new();
    let base = f.provider.base_url();
    let url = format!("{}.well-known/openid-configuration", f.provider.issuer());
    let doc: Value = f.http.get(url).send().await.unwrap().json_text().await;
    assert_eq!(doc["issuer"], format!("{base}/"));
    assert_eq!(f.provider.issuer(), format!("{base}/"));
    assert_eq!(doc["authorization_endpoint"], format!("{base}/authorize"));
    assert_eq!(doc["token_endpoint"], format!("{base}/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{base}/userinfo"));
    assert_eq!(doc["jwks_uri"], format!("{base}/public-keys"));
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{base}/authorize/logout")
    );
    assert_eq!(
        doc["check_session_iframe"],
        format!("{base}/authorize/check-session")
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        json!(["HS256", "RS256", "ES256", "EdDSA"])
    );
    assert_eq!(
        doc["response_types_supported"],
        json!(["code", "id_token", "code id_token"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        doc["code_challenge_methods_supported"],
        json!(["S256", "plain"])
    );
    assert_eq!(doc["backchannel_logout_supported"], true);
    assert_eq!(doc["backchannel_logout_session_supported"], true);
    assert!(
        doc["scopes_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("aq:push"))
    );
    assert!(
        !doc.to_string().replace("://", "").contains("//"),
        "no double slashes"
    );
}

#[tokio::test]
async fn jwks_lists_all_key_types_and_follows_rotation() {
    let f = Fixture::new();
    let url = format!("{}/public-keys", f.provider.base_url());
    let jwks: Value = f.http.get(&url).send().await.unwrap().json_text().await;
    assert_eq!(f.provider.jwks_fetch_count(), 1);
    assert_eq!(jwks, f.provider.jwks());
    let types: HashSet<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kty"].as_str().unwrap())
        .collect();
    assert_eq!(types, HashSet::from(["RSA", "EC", "OKP"]));
    let first = kids(&jwks);
    let rsa = f.provider.signing_key(Alg::RS256).unwrap();
    assert!(first.contains(rsa.kid()));
    assert!(f.provider.signing_key(Alg::HS256).is_none());

    f.provider.rotate_keys(true);
    let kept: Value = f.http.get(&url).send().await.unwrap().json_text().await;
    let second = kids(&kept);
    assert_eq!(second.len(), 6);
    assert!(second.is_superset(&first));
    assert_ne!(f.provider.signing_key(Alg::RS256).unwrap().kid(), rsa.kid());

    f.provider.rotate_keys(false);
    let fresh: Value = f.http.get(&url).send().await.unwrap().json_text().await;
    let third = kids(&fresh);
    assert_eq!(third.len(), 3);
    assert!(third.is_disjoint(&second));
    assert_eq!(f.provider.jwks_fetch_count(), 3);
}

#[tokio::test]
async fn code_flow_with_basic_auth_and_hs256() {
    let f = Fixture::new();
    let redirect = f
        .provider
        .approve(
            &f.authorize_url(&[("scope", "openid aq:name email~rs aq:push")]),
            &Approval::default(),
        )
        .unwrap();
    assert!(redirect.starts_with(&format!("{REDIRECT}?")));
    let params = query(&redirect);
    assert_eq!(params["state"], "st");

    let (status, headers, body) = f
        .token(
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", REDIRECT),
            ],
            Some((&f.client.client_id, &f.client.client_secret)),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["pragma"], "no-cache");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 3600);
    assert!(body["expires_at"].as_u64().unwrap() > 1_700_000_000);
    assert_eq!(body["session_state"], params["session_state"].as_str());
    assert_eq!(body["scope"], "openid aq:name email aq:push");
    assert_eq!(f.provider.token_request_count(), 1);

    let access_token = body["access_token"].as_str().unwrap();
    let id_token = body["id_token"].as_str().unwrap();
    let claims = verify_hs256(id_token, f.client.client_secret.as_bytes());
    assert_eq!(common::parts(id_token).0["typ"], "JWT");
    assert_eq!(claims["iss"], f.provider.issuer());
    assert_eq!(claims["aud"], f.client.client_id.as_str());
    assert_eq!(claims["azp"], f.client.client_id.as_str());
    assert_eq!(claims["nonce"], "n0");
    assert_eq!(claims["scope"], "openid aq:name email aq:push");
    assert_eq!(claims["at_hash"], half_hash(access_token));
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["name"], "Alice Example");
    assert_eq!(claims["family_name"], "Example");
    assert_eq!(claims["sub"].as_str().unwrap().len(), 43);
    assert!(claims["sid"].is_string());
    assert!(claims.get("phone_number").is_none());
    let (iat, exp) = (
        claims["iat"].as_u64().unwrap(),
        claims["exp"].as_u64().unwrap(),
    );
    assert_eq!(exp - iat, 600);
    assert!(claims["auth_time"].as_u64().unwrap() <= iat);
}

#[tokio::test]
async fn asymmetric_id_tokens_verify_with_the_jwks_and_post_auth() {
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        let f = Fixture::with(ClientRegistration {
            id_token_alg: alg,
            token_endpoint_auth: ClientAuth::Post,
            ..Default::default()
        });
        let code = f.code(&[]);
        let (status, _, body) = f
            .token_post(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
            ])
            .await;
        assert_eq!(status, 200, "{alg}: {body}");
        let token = body["id_token"].as_str().unwrap();
        assert_eq!(common::parts(token).0["alg"], alg.as_str());
        let claims = verify_jwks(token, &f.provider.jwks());
        assert_eq!(claims["aud"], f.client.client_id.as_str());

        // A Post-only client may not use Basic.
        let code = f.code(&[]);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
        ];
        let basic = Some((f.client.client_id.as_str(), f.client.client_secret.as_str()));
        let (status, _, body) = f.token(&form, basic).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("invalid_client"))
        );
    }
}

#[tokio::test]
async fn basic_credentials_are_form_urlencoded() {
    let f = Fixture::with(ClientRegistration {
        client_id: Some("my app:1".into()),
        client_secret: Some("s3cr&t +/=".into()),
        ..Default::default()
    });
    let code = f.code(&[]);
    let body = f.exchange(&code).await;
    verify_hs256(body["id_token"].as_str().unwrap(), b"s3cr&t +/=");
}

#[tokio::test]
async fn code_replay_is_invalid_grant_and_revokes_the_access_token() {
    let f = Fixture::new();
    let code = f.code(&[]);
    let first = f.exchange(&code).await;
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, headers, body) = f.token_post(&form).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert_eq!(headers["cache-control"], "no-store");
    assert!(body["error_description"].is_string());
    let userinfo = f
        .http
        .get(format!("{}/userinfo", f.provider.base_url()))
        .bearer_auth(first["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
}

#[tokio::test]
async fn token_request_errors() {
    let f = Fixture::new();
    let code = f.code(&[]);
    let wrong_redirect = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", "http://127.0.0.1:9/other"),
    ];
    let (status, _, body) = f.token_post(&wrong_redirect).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );

    let code = f.code(&[]);
    let form = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
    ];
    let (status, headers, body) = f
        .token(&form, Some((&f.client.client_id, "wrong-secret")))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert!(
        headers["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    let (status, _, body) = f.token(&form, None).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    let (status, _, body) = f
        .token(
            &[("grant_type", "refresh_token")],
            Some((&f.client.client_id, &f.client.client_secret)),
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    // The failed attempts did not consume the code.
    f.exchange(&code).await;
    assert_eq!(f.provider.token_request_count(), 5);
}

#[tokio::test]
async fn pkce_is_verified_when_sent() {
    let f = Fixture::new();
    let verifier = "dBjftJeZ4CVP-mJ92K9-1mJrXbvpf3kUbbzahwsUdTFb";
    let challenge =
        b64(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref());
    let pkce = [
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let exchange = |code: String, verifier: Option<&'static str>| {
        let f = &f;
        async move {
            let mut form = vec![
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT),
            ];
            form.extend(verifier.map(|v| ("code_verifier", v)));
            f.token_post(&form).await
        }
    };
    let (status, _, _) = exchange(f.code(&pkce), Some(verifier)).await;
    assert_eq!(status, 200);
    let wrong = "wrongwrongwrongwrongwrongwrongwrongwrongwrong";
    let (status, _, body) = exchange(f.code(&pkce), Some(wrong)).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    let (_, _, body) = exchange(f.code(&pkce), None).await;
    assert_eq!(body["error"], "invalid_grant");
    let (_, _, body) = exchange(f.code(&[]), Some(verifier)).await;
    assert_eq!(body["error"], "invalid_grant", "verifier without challenge");
    let plain = [
        ("code_challenge", verifier),
        ("code_challenge_method", "plain"),
    ];
    let (status, _, _) = exchange(f.code(&plain), Some(verifier)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn required_scopes_are_always_granted_and_declined_ones_absent() {
    let f = Fixture::new();
    let url = f.authorize_url(&[("scope", "openid aq:name email~r phone aq:location")]);
    let approval = Approval {
        grant: Grant::Only(vec!["aq:name".into()]),
        ..Approval::default()
    };
    let code = query(&f.provider.approve(&url, &approval).unwrap())["code"].clone();
    let body = f.exchange(&code).await;
    assert_eq!(body["scope"], "openid aq:name email");
    let claims = verify_hs256(
        body["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["scope"], "openid aq:name email");
    assert_eq!(claims["email"], "alice@example.com");
    assert_eq!(claims["given_name"], "Alice");
    for absent in ["phone_number", "phone_number_verified", "aq:location"] {
        assert!(claims.get(absent).is_none(), "{absent} was declined");
    }

    // Granted: all of them, including the aq:location object.
    let code = f.code(&[("scope", "openid phone aq:location aq:locale")]);
    let body = f.exchange(&code).await;
    let claims = verify_hs256(
        body["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    assert_eq!(claims["phone_type"], "mobile");
    assert_eq!(claims["locale"], "en_US");
    assert!(claims["aq:location"]["latitude"].is_number());
}

#[tokio::test]
async fn userinfo_returns_the_granted_claims() {
    let f = Fixture::new();
    let body = f
        .exchange(&f.code(&[("scope", "openid email aq:name")]))
        .await;
    let claims = verify_hs256(
        body["id_token"].as_str().unwrap(),
        f.client.client_secret.as_bytes(),
    );
    let url = format!("{}/userinfo", f.provider.base_url());
    let response = f
        .http
        .get(&url)
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let info: Value = response.json_text().await;
    assert_eq!(info["sub"], claims["sub"]);
    assert_eq!(info["email"], "alice@example.com");
    assert_eq!(info["name"], "Alice Example");
    assert!(info.get("iss").is_none());

    let response = f.http.get(&url).bearer_auth("nope").send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers()["www-authenticate"],
        "Bearer error=\"invalid_token\""
    );
    let response = f.http.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 401);
    assert!(
        response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Bearer")
    );
}

#[tokio::test]
async fn hybrid_flow_returns_an_asymmetric_id_token_in_the_fragment() {
    let f = Fixture::new(); // HS256 client: the browser channel still gets RS256
    let redirect = f
        .provider
        .approve(
            &f.authorize_url(&[("response_type", "code id_token")]),
            &Approval::default(),
        )
        .unwrap();
    assert!(redirect.contains("#code="), "{redirect}");
    let params = query(&redirect);
    let claims = verify_jwks(&params["id_token"], &f.provider.jwks());
    assert_eq!(common::parts(&params["id_token"]).0["alg"], "RS256");
    assert_eq!(claims["c_hash"], half_hash(&params["code"]));
    assert_eq!(claims["nonce"], "n0");
    f.exchange(&params["code"]).await;

    let no_nonce = f.authorize_url(&[("response_type", "id_token"), ("nonce", "")]);
    let redirect = f.provider.approve(&no_nonce, &Approval::default()).unwrap();
    assert_eq!(query(&redirect)["error"], "invalid_request");
}

#[tokio::test]
async fn authorization_errors_redirect_with_state() {
    let f = Fixture::new();
    let cases = [
        (vec![("scope", "email")], "invalid_scope"),
        (
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            vec![
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S512"),
            ],
            "invalid_request",
        ),
        (vec![("prompt", "none")], "login_required"),
    ];
    for (params, error) in cases {
        let redirect = f
            .provider
            .approve(&f.authorize_url(&params), &Approval::default())
            .unwrap();
        let q = query(&redirect);
        assert_eq!(
            (q["error"].as_str(), q["state"].as_str()),
            (error, "st"),
            "{params:?}"
        );
        assert!(q.contains_key("error_description"));
        assert!(!q.contains_key("code"));
    }
    let deny = query(&f.provider.deny(&f.authorize_url(&[])).unwrap());
    assert_eq!(
        (deny["error"].as_str(), deny["state"].as_str()),
        ("access_denied", "st")
    );

    let unknown = f.authorize_url(&[("redirect_uri", "http://127.0.0.1:9/evil")]);
    assert!(matches!(
        f.provider.approve(&unknown, &Approval::default()),
        Err(DevError::Rejected(_))
    ));
}

#[tokio::test]
async fn provider_session_is_stable_and_enables_prompt_none() {
    let f = Fixture::new();
    let sid = |code: &str| {
        let f = &f;
        let code = code.to_owned();
        async move {
            let body = f.exchange(&code).await;
            verify_hs256(
                body["id_token"].as_str().unwrap(),
                f.client.client_secret.as_bytes(),
            )["sid"]
                .clone()
        }
    };
    let first = sid(&f.code(&[])).await;
    let second = sid(&f.code(&[])).await;
    assert_eq!(first, second);
    let silent = sid(&f.code(&[("prompt", "none")])).await;
    assert_eq!(silent, first);
    let other = Approval {
        email: "bob@example.com".into(),
        ..Approval::default()
    };
    let redirect = f
        .provider
        .approve(&f.authorize_url(&[("prompt", "none")]), &other)
        .unwrap();
    assert_eq!(
        query(&redirect)["error"],
        "login_required",
        "bob has no session"
    );
}

#[tokio::test]
async fn minted_tokens() {
    let f = Fixture::with(ClientRegistration {
        id_token_lifetime: std::time::Duration::from_secs(3600),
        ..Default::default()
    });
    let id = f.client.client_id.clone();
    let token = f
        .provider
        .mint_id_token(&id, "user-1", json!({"nonce": "abc", "azp": null}));
    let claims = verify_hs256(&token, f.client.client_secret.as_bytes());
    assert_eq!(claims["sub"], "user-1");
    assert_eq!(claims["iss"], f.provider.issuer());
    assert_eq!(claims["nonce"], "abc");
    assert!(claims.get("azp").is_none());
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    for alg in [Alg::RS256, Alg::ES256, Alg::EdDSA] {
        let token = f
            .provider
            .mint_id_token_with(&id, alg, "user-2", json!({"iss": "x"}));
        let claims = verify_jwks(&token, &f.provider.jwks());
        assert_eq!(
            (claims["sub"].as_str(), claims["iss"].as_str()),
            (Some("user-2"), Some("x"))
        );
    }
}

fn assert_send_sync<T: Send + Sync + 'static>(_: &T) {}
fn assert_send<T: Send>(_: &T) {}

#[test]
fn lifecycle() {
    let addr = "10.1.2.3:8800".parse().unwrap();
    assert!(matches!(
        DevProvider::start_on(addr),
        Err(DevError::NotLoopback(_))
    ));
    let provider = DevProvider::start().unwrap();
    let clone = provider.clone();
    assert_send_sync(&provider);
    assert_send(&provider.backchannel_logout("c", Some("s"), None));
    let port = provider
        .base_url()
        .rsplit(':')
        .next()
        .unwrap()
        .parse::<u16>()
        .unwrap();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_ok());
    drop(provider);
    assert!(
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok(),
        "a clone keeps it up"
    );
    clone.shutdown();
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// `json()` needs reqwest's `json` feature; parse the text instead.
trait JsonText {
    async fn json_text(self) -> Value;
}

impl JsonText for reqwest::Response {
    async fn json_text(self) -> Value {
        serde_json::from_str(&self.text().await.unwrap()).unwrap()
    }
}
