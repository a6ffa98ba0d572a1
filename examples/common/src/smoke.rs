//! The smoke test every example runs: a cookie-aware client signs in over real loopback HTTP
//! through the development provider's own pages, reads `/me`, and signs out.

use std::collections::BTreeMap;
use std::process::Command;

/// A minimal browser: follows nothing by itself, keeps cookies per host.
struct Browser {
    http: reqwest::Client,
    jar: BTreeMap<(String, String), String>,
}

impl Browser {
    fn new() -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("HTTP client");
        Self {
            http,
            jar: BTreeMap::new(),
        }
    }

    fn host(url: &str) -> String {
        url::Url::parse(url)
            .map(|u| {
                format!(
                    "{}:{}",
                    u.host_str().unwrap_or(""),
                    u.port_or_known_default().unwrap_or(0)
                )
            })
            .unwrap_or_default()
    }

    fn cookie_header(&self, url: &str) -> String {
        let host = Self::host(url);
        self.jar
            .iter()
            .filter(|((h, _), _)| *h == host)
            .map(|((_, n), v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, url: &str, res: &reqwest::Response) {
        let host = Self::host(url);
        for v in res.headers().get_all("set-cookie") {
            let v = v.to_str().unwrap_or_default();
            let Some((name, value)) = v.split(';').next().and_then(|p| p.split_once('=')) else {
                continue;
            };
            if value.is_empty() || v.contains("Max-Age=0") {
                self.jar.remove(&(host.clone(), name.to_owned()));
            } else {
                self.jar
                    .insert((host.clone(), name.to_owned()), value.to_owned());
            }
        }
    }

    async fn send(
        &mut self,
        method: reqwest::Method,
        url: &str,
        form: Option<&[(String, String)]>,
        accept: &str,
    ) -> (u16, Option<String>, String) {
        let mut req = self
            .http
            .request(method, url)
            .header("accept", accept)
            .header("cookie", self.cookie_header(url));
        if let Some(form) = form {
            let origin = url::Url::parse(url)
                .map(|u| u.origin().ascii_serialization())
                .unwrap_or_default();
            let body = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(form)
                .finish();
            req = req
                .header("content-type", "application/x-www-form-urlencoded")
                .header("origin", origin)
                .body(body);
        }
        let res = req.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        self.keep(url, &res);
        let status = res.status().as_u16();
        let location = res
            .headers()
            .get("location")
            .and_then(|l| l.to_str().ok())
            .map(|l| absolute(url, l));
        let body = res.text().await.unwrap_or_default();
        (status, location, body)
    }
}

fn absolute(base: &str, location: &str) -> String {
    url::Url::parse(base)
        .and_then(|b| b.join(location))
        .map(String::from)
        .unwrap_or_else(|_| location.to_owned())
}

fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// The optional scopes the approval form offers checked, as a browser would submit them.
/// The link from the provider's desktop page to the simulated phone.
fn phone_link(html: &str) -> Option<String> {
    let start = html.find("class=\"phone-link\" href=\"")? + 25;
    html[start..].split('"').next().map(str::to_owned)
}

/// The desktop browser collects the phone's answer, as the waiting page does once the phone
/// has answered; returns where the provider sends it (the app's callback).
async fn desktop_continues(b: &mut Browser, authorize: &str, pending: &str) -> String {
    let html = "text/html";
    let wait = absolute(authorize, &format!("/authorize/wait/{pending}"));
    let (status, _, body) = b
        .send(reqwest::Method::GET, &wait, None, "application/json")
        .await;
    assert_eq!((status, body.as_str()), (200, "{\"status\":\"answered\"}"));
    let url = absolute(authorize, &format!("/authorize/continue/{pending}"));
    let (status, location, body) = b.send(reqwest::Method::GET, &url, None, html).await;
    assert_eq!(status, 303, "the provider sends the desktop on: {body}");
    location.expect("a Location to the app")
}

fn checked_grants(html: &str) -> Vec<String> {
    let marker = "name=\"grant\" value=\"";
    html.match_indices(marker)
        .filter_map(|(i, _)| {
            let rest = &html[i + marker.len()..];
            let end = rest.find('"')?;
            rest[end..]
                .split('>')
                .next()
                .filter(|attrs| attrs.contains("checked"))
                .map(|_| rest[..end].to_owned())
        })
        .collect()
}

/// Settings for an example on a free loopback port, with the embedded provider.
pub fn loopback() -> crate::Settings {
    crate::Settings {
        addr: Some(([127, 0, 0, 1], 0).into()),
        ..crate::Settings::default()
    }
}

/// Signs in at `app` (base URL without trailing slash) as a person would, checks `/me`,
/// signs out, and checks the session is gone. Panics with what went wrong.
pub async fn sign_in_me_sign_out(app: &str) {
    let mut b = Browser::new();
    let html = "text/html";
    let (status, _, page) = b
        .send(reqwest::Method::GET, &format!("{app}/"), None, html)
        .await;
    assert_eq!(status, 200, "home page");
    assert!(page.contains("Sign in"), "home page offers sign-in");

    let (status, location, _) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/auth/login?return_to=/me"),
            None,
            html,
        )
        .await;
    assert!(
        status == 302 || status == 303,
        "login redirects, got {status}"
    );
    let authorize = location.expect("login Location");
    let (status, _, page) = b.send(reqwest::Method::GET, &authorize, None, html).await;
    assert_eq!(status, 200, "provider sign-in page");
    assert!(page.contains("<svg"), "the sign-in page shows a QR code");
    assert!(
        page.contains("Waiting for your phone"),
        "the desktop page waits for the phone"
    );
    let phone_url = phone_link(&page).expect("the desktop page links the simulated phone");
    // The simulated phone: a second device with no cookies of its own.
    let mut phone = Browser::new();
    let (status, _, phone_page) = phone
        .send(reqwest::Method::GET, &phone_url, None, html)
        .await;
    assert_eq!(status, 200, "the phone page");
    let pending = hidden(&phone_page, "pending").expect("the approval form");
    let approve_url = absolute(&authorize, "/authorize/approve");
    let form: Vec<(String, String)> = [
        ("pending", pending.as_str()),
        ("name", "Smoke Tester"),
        ("email", "smoke@example.com"),
        ("email_verified", "on"),
        ("phone", "+15555550100"),
        ("phone_verified", "on"),
        ("phone_type", "mobile"),
        ("decision", "approve"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .chain(
        checked_grants(&phone_page)
            .into_iter()
            .map(|g| ("grant".to_owned(), g)),
    )
    .collect();
    let (status, _, answered) = phone
        .send(reqwest::Method::POST, &approve_url, Some(&form), html)
        .await;
    assert_eq!(status, 200, "the phone approves: {answered}");
    let callback = desktop_continues(&mut b, &authorize, &pending).await;
    assert!(
        callback.starts_with(&format!("{app}/auth/callback?")),
        "back to the app: {callback}"
    );
    let (status, location, body) = b.send(reqwest::Method::GET, &callback, None, html).await;
    assert_eq!(status, 303, "callback completes: {body}");
    assert_eq!(location.as_deref(), Some(format!("{app}/me").as_str()));

    let (status, _, body) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/me"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(status, 200, "/me with the session");
    let claims: serde_json::Value = serde_json::from_str(&body).expect("claims JSON");
    assert_eq!(claims["name"], "Smoke Tester");
    // The load benchmark's unguarded twin of `/me` is not served unless asked for.
    let (status, _, _) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/load/me"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(status, 404, "/load/me without APP_LOAD_TWIN");
    assert_eq!(claims["email"], "smoke@example.com");
    assert!(
        claims["iss"]
            .as_str()
            .is_some_and(|i| i.starts_with("http://127.0.0.1:"))
    );
    let (_, _, page) = b
        .send(reqwest::Method::GET, &format!("{app}/"), None, html)
        .await;
    assert!(
        page.contains("Signed in as <strong>Smoke Tester</strong>"),
        "home page shows the user"
    );
    // The embedded provider encrypted the ID Token to the app's own key.
    assert!(
        page.contains("This sign-in was end-to-end encrypted"),
        "home page says the sign-in was end-to-end encrypted"
    );
    let (status, _, jwks) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/auth/jwks"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(status, 200, "the app publishes its public keys");
    let jwks: serde_json::Value = serde_json::from_str(&jwks).expect("JWKS JSON");
    let published = jwks["keys"].as_array().expect("a keys array");
    assert!(!published.is_empty());
    assert!(
        published
            .iter()
            .all(|k| k.get("d").is_none() && k["use"] == "enc")
    );

    // The AuthentiqJS page loads the provider's script and starts sign-ins at /auth/start.
    let (status, _, page) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/authentiqjs"),
            None,
            html,
        )
        .await;
    assert_eq!(status, 200, "the AuthentiqJS page");
    let issuer = absolute(&authorize, "/authentiq.js");
    assert!(
        page.contains("class=\"authentiq-button\"")
            && page.contains(&format!("<script src=\"{issuer}\" data-start=\"/auth/start\" data-callback=\"/auth/callback\">")),
        "{page}"
    );
    let (status, _, start) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/auth/start"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(status, 200, "a sign-in for the page");
    let start: serde_json::Value = serde_json::from_str(&start).expect("start JSON");
    assert_eq!(start["state"].as_str().map(str::len), Some(43), "{start}");

    let (status, location, _) = b
        .send(
            reqwest::Method::POST,
            &format!("{app}/auth/logout"),
            Some(&[]),
            html,
        )
        .await;
    assert_eq!(status, 303, "logout redirects");
    let end_session = location.expect("logout Location");
    assert!(
        end_session.contains("/authorize/logout?"),
        "to the provider's end-session endpoint: {end_session}"
    );
    let (status, location, _) = b.send(reqwest::Method::GET, &end_session, None, html).await;
    assert_eq!(status, 303, "the provider sends the browser back");
    let back = location.unwrap_or_default();
    assert!(
        back.starts_with(&format!("{app}/?state=")),
        "back home with the logout state: {back}"
    );
    let (status, _, _) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/me"),
            None,
            "application/json",
        )
        .await;
    assert_eq!(status, 401, "signed out");
    let (status, location, _) = b
        .send(reqwest::Method::GET, &format!("{app}/me"), None, html)
        .await;
    assert_eq!(status, 303, "a browser is sent to sign in");
    assert_eq!(
        location.as_deref(),
        Some(format!("{app}/auth/login?return_to=%2Fme").as_str())
    );

    // Signed out, the browser is remembered: one click to continue, or forget it.
    let (_, _, page) = b
        .send(reqwest::Method::GET, &format!("{app}/"), None, html)
        .await;
    assert!(
        page.contains("Continue as <strong>Smoke Tester</strong>")
            && page.contains("href=\"/auth/login?remembered=1&amp;return_to=%2F\"")
            && page.contains("action=\"/auth/forget\""),
        "the home page offers one-click sign-in: {page}"
    );
    let (status, location, _) = b
        .send(
            reqwest::Method::GET,
            &format!("{app}/auth/login?remembered=1&return_to=%2F"),
            None,
            html,
        )
        .await;
    assert_eq!(status, 303, "continue as");
    let authorize = location.unwrap_or_default();
    assert!(
        authorize.contains("login_hint=") && authorize.contains("aq%3Apush"),
        "a one-click sign-in: {authorize}"
    );
    // The provider remembers the browser too: its phone gets a push, one tap signs in.
    let (status, _, page) = b.send(reqwest::Method::GET, &authorize, None, html).await;
    assert_eq!(status, 200, "the provider's one-click page");
    assert!(
        page.contains("Check your phone"),
        "a push, not a QR code: {page}"
    );
    let phone_url = phone_link(&page).expect("the push is on the simulated phone");
    let (_, _, push) = phone
        .send(reqwest::Method::GET, &phone_url, None, html)
        .await;
    assert!(push.contains("Sign in to"), "the push notification: {push}");
    let pending = hidden(&push, "pending").expect("the notification's form");
    let tap: Vec<(String, String)> = [
        ("pending", pending.as_str()),
        ("push", "1"),
        ("decision", "approve"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let (status, _, _) = phone
        .send(reqwest::Method::POST, &approve_url, Some(&tap), html)
        .await;
    assert_eq!(status, 200, "one tap");
    let callback = desktop_continues(&mut b, &authorize, &pending).await;
    let (status, location, body) = b.send(reqwest::Method::GET, &callback, None, html).await;
    assert_eq!(status, 303, "the one-click callback completes: {body}");
    assert_eq!(location.as_deref(), Some(format!("{app}/").as_str()));
    let (_, _, page) = b
        .send(reqwest::Method::GET, &format!("{app}/"), None, html)
        .await;
    assert!(
        page.contains("Signed in as <strong>Smoke Tester</strong>"),
        "signed in with one click: {page}"
    );
    let (status, location, _) = b
        .send(
            reqwest::Method::POST,
            &format!("{app}/auth/logout"),
            Some(&[]),
            html,
        )
        .await;
    assert_eq!(status, 303, "signs out again");
    let end_session = location.unwrap_or_default();
    b.send(reqwest::Method::GET, &end_session, None, html).await;
    let (status, location, _) = b
        .send(
            reqwest::Method::POST,
            &format!("{app}/auth/forget"),
            Some(&[]),
            html,
        )
        .await;
    assert_eq!(status, 303, "forget");
    assert_eq!(location.as_deref(), Some(format!("{app}/").as_str()));
    let (_, _, page) = b
        .send(reqwest::Method::GET, &format!("{app}/"), None, html)
        .await;
    assert!(
        page.contains("Sign in") && !page.contains("Continue as"),
        "the device is forgotten: {page}"
    );
}

fn start(binary: &str, env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(binary);
    for var in [
        "AUTHENTIQ_ISSUER",
        "AUTHENTIQ_CLIENT_ID",
        "AUTHENTIQ_CLIENT_SECRET",
        "AUTHENTIQ_SCOPE",
        "APP_ADDR",
        "APP_PUBLIC_URL",
        "APP_SESSION_KEY",
        "APP_SESSION_STORE",
        "AUTHENTIQ_CLIENT_KEYS",
        "AUTHENTIQ_ID_TOKEN_ENCRYPTION",
    ] {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().copied())
        .env("RUST_LOG", "off")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("the example binary runs");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let reader = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut stderr, &mut text);
        text
    });
    // A bad setting must stop the app at once; one that is accepted would serve forever.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .expect("the example binary can be waited on")
        {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let text = reader.join().unwrap_or_default();
    match status {
        Some(status) => (status.success(), text),
        None => (
            true,
            format!("the app was still running after 30 s, so it accepted {env:?}: {text}"),
        ),
    }
}

/// Runs the example `binary` with each bad setting and checks that it stops with one
/// `error: ...` line naming the variable, and never panics.
pub fn bad_settings_name_the_variable(binary: &str) {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("APP_ADDR", "not-an-address")], "APP_ADDR"),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("APP_SESSION_KEY", "dG9vIHNob3J0"),
            ],
            "APP_SESSION_KEY",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("APP_SESSION_STORE", "mongodb://x"),
            ],
            "APP_SESSION_STORE",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("APP_SESSION_STORE", "redis://127.0.0.1:1/"),
            ],
            "APP_SESSION_STORE",
        ),
        (
            &[("APP_ADDR", "127.0.0.1:0"), ("AUTHENTIQ_SCOPE", "email~x")],
            "scope",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_CLIENT_KEYS", "{\"keys\": []}"),
            ],
            "AUTHENTIQ_CLIENT_KEYS",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_CLIENT_KEYS", "@/nonexistent/authentiq-keys.json"),
            ],
            "AUTHENTIQ_CLIENT_KEYS",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_ISSUER", "https://127.0.0.1:9/"),
            ],
            "AUTHENTIQ_CLIENT_ID",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_ISSUER", "http://connect.example.com/"),
                ("AUTHENTIQ_CLIENT_ID", "c"),
            ],
            "must use https",
        ),
        (
            &[
                ("APP_ADDR", "127.0.0.1:0"),
                ("AUTHENTIQ_ISSUER", "http://127.0.0.1:9/"),
                ("AUTHENTIQ_CLIENT_ID", "c"),
            ],
            "discovery",
        ),
    ];
    for (env, expected) in cases {
        let (ok, stderr) = start(binary, env);
        assert!(!ok, "{env:?} must not start");
        let line = stderr
            .lines()
            .find(|l| l.starts_with("error: "))
            .unwrap_or_else(|| panic!("{env:?}: no error line in {stderr}"));
        assert!(
            line.contains(expected),
            "{env:?}: `{line}` should name {expected}"
        );
        assert!(!stderr.contains("panicked"), "{env:?}: {stderr}");
    }
}
