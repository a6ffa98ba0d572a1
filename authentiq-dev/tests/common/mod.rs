//! Helpers shared by the integration tests: a provider with a client, URL building, token
//! requests and independent JWS verification (straight on aws-lc-rs, not through the crate).
#![allow(clippy::unwrap_used, dead_code, unreachable_pub)]

use std::collections::HashMap;

use authentiq_dev::{Alg, ClientRegistration, DevProvider, RegisteredClient};
use aws_lc_rs::hmac;
use aws_lc_rs::signature::{
    ECDSA_P256_SHA256_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents,
    UnparsedPublicKey,
};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::header::HeaderMap;
use serde_json::Value;
use url::Url;

pub const REDIRECT: &str = "http://127.0.0.1:9/auth/callback";
pub const LOGGED_OUT: &str = "http://127.0.0.1:9/logged-out";

pub struct Fixture {
    pub provider: DevProvider,
    pub client: RegisteredClient,
    pub http: reqwest::Client,
}

impl Fixture {
    pub fn new() -> Fixture {
        Fixture::with(ClientRegistration::default())
    }

    /// A provider with one client registered from `reg` (plus the test redirect URIs).
    pub fn with(mut reg: ClientRegistration) -> Fixture {
        let provider = DevProvider::start().unwrap();
        reg.redirect_uris.push(REDIRECT.into());
        reg.post_logout_redirect_uris.push(LOGGED_OUT.into());
        let client = provider.register_client(reg);
        Fixture {
            provider,
            client,
            http: http_client(),
        }
    }

    /// An authorization URL for the fixture's client with defaults (`code`, `openid email`,
    /// state `st`, nonce `n0`) overridden or extended by `params`.
    pub fn authorize_url(&self, params: &[(&str, &str)]) -> String {
        let mut all: Vec<(&str, &str)> = vec![
            ("client_id", &self.client.client_id),
            ("response_type", "code"),
            ("scope", "openid email"),
            ("redirect_uri", REDIRECT),
            ("state", "st"),
            ("nonce", "n0"),
        ];
        for (key, value) in params {
            all.retain(|(k, _)| k != key);
            all.push((key, value));
        }
        let mut url = Url::parse(&format!("{}/authorize", self.provider.base_url())).unwrap();
        url.query_pairs_mut().extend_pairs(all);
        url.into()
    }

    /// Approves with the default person and returns the code.
    pub fn code(&self, params: &[(&str, &str)]) -> String {
        let redirect = self
            .provider
            .approve(&self.authorize_url(params), &Default::default())
            .unwrap();
        query(&redirect)["code"].clone()
    }

    /// POSTs to /token with client_secret_post.
    pub async fn token_post(&self, form: &[(&str, &str)]) -> (u16, HeaderMap, Value) {
        let mut all = vec![
            ("client_id", self.client.client_id.as_str()),
            ("client_secret", self.client.client_secret.as_str()),
        ];
        all.extend_from_slice(form);
        self.token(&all, None).await
    }

    /// POSTs a form to /token, with HTTP Basic credentials if given (encoded per RFC 6749).
    pub async fn token(
        &self,
        form: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> (u16, HeaderMap, Value) {
        let mut request = self
            .http
            .post(format!("{}/token", self.provider.base_url()))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(encode(form));
        if let Some((id, secret)) = basic {
            let credentials = format!("{}:{}", encode_component(id), encode_component(secret));
            let value = base64::engine::general_purpose::STANDARD.encode(credentials);
            request = request.header("authorization", format!("Basic {value}"));
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = serde_json::from_str(&response.text().await.unwrap()).unwrap();
        (status, headers, body)
    }

    /// Code exchange with the default redirect URI and client_secret_basic.
    pub async fn exchange(&self, code: &str) -> Value {
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
        ];
        let (status, _, body) = self
            .token(
                &form,
                Some((&self.client.client_id, &self.client.client_secret)),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

pub fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

pub fn encode(form: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish()
}

fn encode_component(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The query (or, failing that, fragment) parameters of a URL.
pub fn query(url: &str) -> HashMap<String, String> {
    let url = Url::parse(url).unwrap();
    let part = url.query().or(url.fragment()).unwrap_or("");
    url::form_urlencoded::parse(part.as_bytes())
        .into_owned()
        .collect()
}

pub fn b64(data: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(data)
}

/// Splits a compact JWS into header, payload, signing input and signature.
pub fn parts(token: &str) -> (Value, Value, String, Vec<u8>) {
    let pieces: Vec<&str> = token.split('.').collect();
    assert_eq!(pieces.len(), 3, "compact JWS");
    let json = |s: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(s).unwrap()).unwrap();
    (
        json(pieces[0]),
        json(pieces[1]),
        format!("{}.{}", pieces[0], pieces[1]),
        URL_SAFE_NO_PAD.decode(pieces[2]).unwrap(),
    )
}

/// Verifies an HS256 token with `secret`; returns its claims.
pub fn verify_hs256(token: &str, secret: &[u8]) -> Value {
    let (header, claims, input, signature) = parts(token);
    assert_eq!(header["alg"], "HS256");
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    hmac::verify(&key, input.as_bytes(), &signature).expect("HS256 signature");
    claims
}

/// Verifies an asymmetric token with the key its `kid` names in `jwks`; returns its claims.
pub fn verify_jwks(token: &str, jwks: &Value) -> Value {
    let (header, claims, input, signature) = parts(token);
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid in JWKS");
    assert_eq!(jwk["alg"], header["alg"]);
    let field = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
    let message = input.as_bytes();
    let ok = match Alg::from_name(header["alg"].as_str().unwrap()).unwrap() {
        Alg::RS256 => RsaPublicKeyComponents {
            n: field("n"),
            e: field("e"),
        }
        .verify(&RSA_PKCS1_2048_8192_SHA256, message, &signature)
        .is_ok(),
        Alg::ES256 => {
            let point = [vec![4], field("x"), field("y")].concat();
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, &signature)
                .is_ok()
        }
        Alg::EdDSA => UnparsedPublicKey::new(&ED25519, field("x"))
            .verify(message, &signature)
            .is_ok(),
        Alg::HS256 => panic!("not asymmetric"),
    };
    assert!(ok, "signature verifies with the JWKS key");
    claims
}

/// `at_hash` / `c_hash` of a value.
pub fn half_hash(value: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, value.as_bytes());
    b64(&digest.as_ref()[..16])
}
