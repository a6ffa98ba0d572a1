//! One behaviour suite for every authentiq-rs framework adapter.
//!
//! An adapter's `tests/conformance.rs` implements [`Framework`] for its in-process test client
//! and calls [`conformance_tests!`], which generates one test per case in [`CASES`], so a
//! failure never hides the others. Cases compare whole values: statuses, `Location` URLs
//! (every query parameter), every `WWW-Authenticate`, whole JSON error bodies, and every value
//! of a header ([`TestResponse::header`] refuses to read one of several).
//!
//! The cases are listed once, in [`for_each_case!`]: the tests, [`CASES`] and the case names
//! `cargo xtask conformance` shows are all generated from that list.
//!
//! # The app each adapter builds
//! [`Framework::app`] serves, behind the adapter's layer/middleware/fairing/filter:
//!
//! | route | behaviour |
//! |---|---|
//! | `GET /public` | `200`, body `public` |
//! | `GET /me` | `Authenticated<Claims>`: `200` with the claims as JSON |
//! | `OPTIONS /me` | `204`, no guard (a CORS preflight must pass) |
//! | `GET /maybe` | `MaybeAuthenticated<Claims>`: `200` with `{"sub": <sub or null>}` |
//! | `GET /both` | `Authenticated<Claims>` and `MaybeAuthenticated<Claims>` on one route: `200` with `{"sub": <sub>, "maybe": <sub or null>}` |
//! | `GET /device` | `Remembered` and `MaybeAuthenticated<Claims>`: `200` with `{"device": {"sub", "name"} or null, "sub": <session sub or null>}` |
//! | `GET /api/me` | `Bearer<Claims>`: `200` with the claims as JSON |
//! | `GET /custom` | `Result<Authenticated, AuthRejection>`: on refusal `418` with `{"custom": "<error code>"}` |
//! | auth routes | the adapter's `routes()` mount |
//!
//! [`Framework::bare`] serves only `GET /me` with `Authenticated<Claims>`, without the layer.

#![forbid(unsafe_code)]
// A case function that is not in the list is never exported, so it is dead code: this
// makes forgetting to list a case a build error.
#![deny(dead_code)]

mod cases;
mod encrypted;
mod jar;
mod list;
mod store;

use std::future::Future;
use std::sync::OnceLock;

pub use authentiq_core::Authentiq;
pub use authentiq_dev::{Approval, DevProvider, Grant, RegisteredClient};
pub use jar::Jar;
pub use store::CountingStore;

/// Exports the listed cases and their names.
macro_rules! export_cases {
    ([] $($case:ident),* $(,)?) => {
        pub use all_cases::{$($case),*};

        /// The case names, in the order of the list (the rows of the conformance matrix).
        pub const CASES: &[&str] = &[$(stringify!($case)),*];
    };
}

/// Every module of cases, for the exports.
mod all_cases {
    pub use crate::cases::*;
    pub use crate::encrypted::*;
}

for_each_case!([export_cases]);

/// The base URL the in-process apps pretend to be served at.
pub const APP_URL: &str = "http://127.0.0.1:8000";

/// A request as the suite sends it.
#[derive(Clone, Debug, Default)]
pub struct TestRequest {
    /// Method.
    pub method: String,
    /// Path and query.
    pub uri: String,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl TestRequest {
    /// A request with `method` and `uri`.
    pub fn new(method: &str, uri: &str) -> Self {
        Self {
            method: method.into(),
            uri: uri.into(),
            ..Self::default()
        }
    }
    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }
    /// Adds the jar's cookies.
    pub fn cookies(self, jar: &Jar) -> Self {
        match jar.header() {
            Some(h) => self.header("cookie", &h),
            None => self,
        }
    }
    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }
}

/// A response as the framework produced it.
#[derive(Clone, Debug, Default)]
pub struct TestResponse {
    /// Status.
    pub status: u16,
    /// Headers, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body.
    pub body: Vec<u8>,
}

impl TestResponse {
    /// The value of `name`. Panics when the response repeats the header, so that no case
    /// judges only the first of several values: read those with [`Self::header_all`].
    pub fn header(&self, name: &str) -> Option<&str> {
        let all = self.header_all(name);
        assert!(
            all.len() <= 1,
            "header `{name}` is repeated: {all:?}; headers {:?}",
            self.headers
        );
        all.first().copied()
    }
    /// Every value of `name`, in order.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// Every `Set-Cookie`.
    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
            .map(|(_, v)| v.as_str())
            .collect()
    }
    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    /// The body as JSON; panics with the body when it is not JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
}

/// An app under test, called in-process through the framework's own test client.
pub trait TestApp {
    /// Sends one request.
    fn call(&self, req: TestRequest) -> impl Future<Output = TestResponse>;
}

/// What an adapter provides to run the suite.
pub trait Framework {
    /// The full test app (see the crate docs).
    type App: TestApp;
    /// The app without the layer.
    type Bare: TestApp;
    /// Builds the full test app around `auth`.
    fn app(auth: Authentiq) -> impl Future<Output = Self::App>;
    /// Builds `GET /me` without the layer.
    fn bare(auth: Authentiq) -> impl Future<Output = Self::Bare>;
}

fn provider() -> &'static DevProvider {
    static P: OnceLock<DevProvider> = OnceLock::new();
    P.get_or_init(|| DevProvider::start().expect("the development provider starts on loopback"))
}

/// A fresh client at the shared development provider, and an [`Authentiq`] for it.
pub struct Harness {
    /// The provider.
    pub provider: DevProvider,
    /// The registered client.
    pub client: RegisteredClient,
    /// The SDK configured for the client.
    pub auth: Authentiq,
    /// The session key in use.
    pub key: Vec<u8>,
}

impl Harness {
    /// A harness with the default configuration.
    pub async fn new() -> Self {
        Self::with(|b| b).await
    }

    /// A harness whose configuration `f` adjusts.
    pub async fn with(
        f: impl FnOnce(authentiq_core::ConfigBuilder) -> authentiq_core::ConfigBuilder,
    ) -> Self {
        Self::at(APP_URL, f).await
    }

    /// A harness for an app served at `public_url` (e.g. an `https://` one), whose
    /// configuration `f` adjusts.
    pub async fn at(
        public_url: &str,
        f: impl FnOnce(authentiq_core::ConfigBuilder) -> authentiq_core::ConfigBuilder,
    ) -> Self {
        let provider = provider().clone();
        let client = provider.register_client(authentiq_dev::ClientRegistration {
            redirect_uris: vec![format!("{public_url}/auth/callback")],
            post_logout_redirect_uris: vec![format!("{public_url}/")],
            ..Default::default()
        });
        let key = random_key();
        let auth = f(Authentiq::builder(provider.issuer(), &client.client_id)
            .client_secret(&client.client_secret)
            .public_url(public_url)
            .session_key(key.clone()))
        .build()
        .await
        .expect("the SDK configures itself against the development provider");
        Self {
            provider,
            client,
            auth,
            key,
        }
    }

    /// Another SDK instance for the same client (same issuer, other key or settings).
    pub async fn other(
        &self,
        f: impl FnOnce(authentiq_core::ConfigBuilder) -> authentiq_core::ConfigBuilder,
    ) -> Authentiq {
        f(
            Authentiq::builder(self.provider.issuer(), &self.client.client_id)
                .client_secret(&self.client.client_secret)
                .public_url(APP_URL),
        )
        .build()
        .await
        .expect("the SDK configures itself")
    }
}

fn random_key() -> Vec<u8> {
    let mut k = vec![0u8; 64];
    aws_lc_rs::rand::fill(&mut k).expect("system random generator");
    k
}

/// Generates one test per listed case for a [`Framework`], with the given test attribute (for
/// example `tokio::test`, `actix_web::test` or `rocket::async_test`):
///
/// ```no_run
/// use authentiq_conformance::{Authentiq, Framework, TestApp, TestRequest, TestResponse};
///
/// struct MyApp;
/// impl TestApp for MyApp {
///     async fn call(&self, _req: TestRequest) -> TestResponse {
///         TestResponse::default() // send `_req` through your framework's test client here
///     }
/// }
///
/// struct MyFramework;
/// impl Framework for MyFramework {
///     type App = MyApp;
///     type Bare = MyApp;
///     async fn app(_auth: Authentiq) -> MyApp { MyApp }
///     async fn bare(_auth: Authentiq) -> MyApp { MyApp }
/// }
///
/// authentiq_conformance::conformance_tests!(tokio::test, MyFramework);
/// ```
#[macro_export]
macro_rules! conformance_tests {
    ($test:meta, $fw:ty) => {
        $crate::for_each_case!([$crate::conformance_tests] @cases $test, $fw);
    };
    ([@cases $test:meta, $fw:ty] $($case:ident),* $(,)?) => {
        $(
            #[$test]
            async fn $case() {
                $crate::$case::<$fw>().await;
            }
        )*
    };
}

#[cfg(test)]
mod tests {
    use super::CASES;

    /// The names of the public functions in `cases.rs` and `encrypted.rs`, i.e. the cases
    /// written.
    fn written() -> Vec<&'static str> {
        include_str!("cases.rs")
            .lines()
            .chain(include_str!("encrypted.rs").lines())
            .map(str::trim_start)
            .filter_map(|l| {
                l.strip_prefix("pub async fn ")
                    .or_else(|| l.strip_prefix("pub fn "))
            })
            .map(|rest| {
                let end = rest
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(rest.len());
                &rest[..end]
            })
            .collect()
    }

    #[test]
    fn every_case_is_listed() {
        let written = written();
        assert!(written.len() > 1, "cases.rs has cases: {written:?}");
        let unlisted: Vec<_> = written.iter().filter(|w| !CASES.contains(w)).collect();
        assert!(unlisted.is_empty(), "written but not listed: {unlisted:?}");
        let unwritten: Vec<_> = CASES.iter().filter(|c| !written.contains(c)).collect();
        // The build refuses a listed name with no case, so this finds a case this scan missed.
        assert!(
            unwritten.is_empty(),
            "listed but not found in cases.rs: {unwritten:?}"
        );
    }
}
