//! A real headless Chromium, driven over the W3C WebDriver protocol through `chromedriver`,
//! for the flows a person clicks through. Written on reqwest: the protocol is a handful of
//! JSON calls, which does not justify a WebDriver client dependency.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The W3C key under which element references arrive.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

async fn json_of(res: reqwest::Response) -> Result<Value, String> {
    let bytes = res.bytes().await.map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| e.to_string())
}

/// A browser session; the driver process ends when it is dropped.
pub struct Browser {
    http: reqwest::Client,
    base: String,
    session: String,
    driver: Child,
    profile: std::path::PathBuf,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Browser {
    /// Starts `chromedriver` on loopback and a headless Chromium session.
    pub async fn start() -> Browser {
        Self::start_with(&[]).await
    }

    /// [`Browser::start`], with extra Chromium command-line switches.
    pub async fn start_with(switches: &[&str]) -> Browser {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs (Debian: apt-get install chromium chromium-driver; cargo xtask ci installs them)");
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(res) => json_of(res).await.ok(),
                Err(_) => None,
            };
            if ready.is_some_and(|v| v["value"]["ready"] == true) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile =
            std::env::temp_dir().join(format!("authentiq-browser-{}-{port}", std::process::id()));
        let mut caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--no-first-run", "--disable-default-apps", "--window-size=1000,1200",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        if let Some(args) =
            caps["capabilities"]["alwaysMatch"]["goog:chromeOptions"]["args"].as_array_mut()
        {
            args.extend(switches.iter().map(|s| Value::from(*s)));
        }
        let res = http
            .post(format!("{base}/session"))
            .header("content-type", "application/json")
            .body(caps.to_string())
            .send()
            .await
            .expect("new session");
        let res = json_of(res).await.expect("JSON");
        let session = res["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {res}"))
            .to_owned();
        Browser {
            http,
            base,
            session,
            driver,
            profile,
        }
    }

    /// Sends one WebDriver command of this session; the whole answer, or what went wrong.
    async fn command(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.http.request(method, &url);
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let res = req.send().await.map_err(|e| e.to_string())?;
        let res = json_of(res).await?;
        if res["value"]["error"].is_null() {
            Ok(res["value"].clone())
        } else {
            Err(res["value"].to_string())
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        self.command(method, path, body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Like `call`, but a WebDriver error (a page in the middle of navigating) is `None`.
    async fn try_call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Option<Value> {
        self.command(method, path, body).await.ok()
    }

    /// The current window's handle.
    pub async fn window(&self) -> String {
        self.call(reqwest::Method::GET, "/window", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Every open window's handle (tabs and popups).
    pub async fn windows(&self) -> Vec<String> {
        self.call(reqwest::Method::GET, "/window/handles", None)
            .await
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|h| h.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Makes `handle` the window that the next commands act on.
    pub async fn switch_to(&self, handle: &str) {
        self.call(
            reqwest::Method::POST,
            "/window",
            Some(json!({ "handle": handle })),
        )
        .await;
    }

    /// Closes the current window; switch to another before the next command.
    pub async fn close_window(&self) {
        self.call(reqwest::Method::DELETE, "/window", None).await;
    }

    /// Opens a new tab and switches to it; returns its handle.
    pub async fn new_tab(&self) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/window/new",
                Some(json!({ "type": "tab" })),
            )
            .await;
        let handle = v["handle"].as_str().unwrap_or_default().to_owned();
        self.switch_to(&handle).await;
        handle
    }

    /// Waits (up to 20 s) for a window that is not one of `known` to open; returns its handle.
    pub async fn new_window(&self, known: &[&str]) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(h) = self
                .windows()
                .await
                .into_iter()
                .find(|h| !known.contains(&h.as_str()))
            {
                return h;
            }
            assert!(Instant::now() < deadline, "no new window opened");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits (up to 20 s) until the current page's URL and visible text satisfy `ready`;
    /// `what` names the wait in the failure. Pages in the middle of loading are skipped.
    pub async fn wait_for(&self, what: &str, ready: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        let script = "return [location.href, document.readyState, \
                      document.body ? document.body.innerText : '']";
        let mut last = Value::Null;
        loop {
            if let Some(v) = self
                .try_call(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({ "script": script, "args": [] })),
                )
                .await
            {
                let (url, state, text) = (
                    v[0].as_str().unwrap_or_default(),
                    v[1].as_str().unwrap_or_default(),
                    v[2].as_str().unwrap_or_default(),
                );
                if state == "complete" && ready(url, text) {
                    return;
                }
                last = v;
            }
            assert!(
                Instant::now() < deadline,
                "waited in vain for {what}: {last}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the page's visible text contains `needle`.
    pub async fn wait_for_text(&self, needle: &str) {
        self.wait_for(needle, |_, text| text.contains(needle)).await;
    }

    /// The value of attribute `name` of the first element matching `css`.
    pub async fn attribute(&self, css: &str, name: &str) -> String {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::GET,
            &format!("/element/{id}/attribute/{name}"),
            None,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Clicks the first element matching `css` without waiting for a navigation (a button
    /// that runs script, or a click whose effect shows in another window).
    pub async fn press(&self, css: &str) {
        let id = self.find(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await;
    }

    /// Navigates to `url`.
    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({"url": url})))
            .await;
    }

    /// The current URL.
    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The page's visible text.
    pub async fn text(&self) -> String {
        let body = self.find("body").await;
        self.call(reqwest::Method::GET, &format!("/element/{body}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}"))
            .to_owned()
    }

    /// Clicks the first element matching `css`, which navigates, and waits (up to 15 s) for
    /// the next page: ChromeDriver may answer before a form submission's navigation ends.
    pub async fn click(&self, css: &str) {
        let before = self.url().await;
        self.press(css).await;
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let ready = self
                .call(
                    reqwest::Method::POST,
                    "/execute/sync",
                    Some(json!({"script": "return document.readyState", "args": []})),
                )
                .await;
            if self.url().await != before && ready == "complete" {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "clicking {css} on {before} led nowhere"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The browser's cookies for the current page, as WebDriver reports them.
    pub async fn cookies(&self) -> Vec<Value> {
        self.call(reqwest::Method::GET, "/cookie", None)
            .await
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Saves a PNG screenshot to `path`.
    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine as _;
        let data = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().unwrap_or_default())
            .expect("PNG");
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // Ending the WebDriver session has chromedriver quit Chromium; killing chromedriver
        // alone would leave Chromium and its helpers running after the test. A blocking
        // request, as a destructor cannot await, and bounded in time.
        if let Some(addr) = self.base.strip_prefix("http://")
            && let Ok(mut stream) = std::net::TcpStream::connect(addr)
        {
            use std::io::{Read, Write};
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
            let request = format!(
                "DELETE /session/{} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                self.session
            );
            if stream.write_all(request.as_bytes()).is_ok() {
                // The answer comes once Chromium has quit.
                let _ = stream.read_to_end(&mut Vec::new());
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// What a person does with an example app in a real headless Chromium, the same for every
/// framework: sign in by approving on the simulated phone (a second tab), sign out, come back
/// with one click (a push to the phone), say "Not you?", and sign in from the AuthentiqJS
/// page (a popup). `app` is the app's URL and `provider` the embedded provider's; screenshots
/// of each step go to `shots`.
pub async fn a_person_signs_in_with_their_phone(
    app: &str,
    provider: &str,
    shots: &std::path::Path,
) {
    std::fs::create_dir_all(shots).expect("screenshot directory");
    let shot = |name: &str| shots.join(format!("{name}.png"));
    let home = format!("{app}/");
    let b = Browser::start().await;
    let desktop = b.window().await;
    b.goto(&home).await;
    assert!(
        b.text().await.contains("You are not signed in."),
        "{}",
        b.text().await
    );
    b.click("a.button").await;

    // The provider's desktop page shows the QR code and waits for the phone.
    assert!(
        b.url().await.starts_with(&format!("{provider}/authorize?")),
        "on the provider: {}",
        b.url().await
    );
    b.wait_for_text("Waiting for your phone").await;
    assert!(b.text().await.contains("Sign in with Authentiq"));
    b.screenshot(&shot("1-provider-desktop")).await;
    let phone_url = b.attribute("a.phone-link", "href").await;
    assert!(phone_url.starts_with(&format!("{provider}/authorize/phone/")));

    // The phone, in a second tab: the simulated Authentiq ID app.
    let phone = b.new_tab().await;
    b.goto(&phone_url).await;
    b.screenshot(&shot("2-provider-phone")).await;
    b.click("button.approve").await;
    assert!(b.text().await.contains("Approved"), "{}", b.text().await);

    // Back on the desktop, the waiting page has moved on by itself.
    b.switch_to(&desktop).await;
    b.wait_for("the app's home page", |url, _| url == home)
        .await;
    let page = b.text().await;
    assert!(page.contains("Signed in as Alice Example."), "{page}");
    assert!(page.contains("Verified email: alice@example.com"), "{page}");
    b.screenshot(&shot("3-signed-in")).await;
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
    let device = cookies
        .iter()
        .find(|c| c["name"] == "authentiq_device")
        .expect("the browser is remembered (aq:push was granted)");
    assert_eq!(device["httpOnly"], true);

    b.goto(&format!("{app}/me")).await;
    assert!(
        b.text().await.contains("\"email\":\"alice@example.com\""),
        "{}",
        b.text().await
    );

    b.goto(&home).await;
    b.click("form[action='/auth/logout'] button").await;
    b.wait_for("home after the provider's logout", |url, _| {
        url.starts_with(&format!("{app}/?state="))
    })
    .await;
    assert!(
        b.cookies()
            .await
            .iter()
            .all(|c| c["name"] != "authentiq_session"),
        "session cookie removed"
    );

    // Signed out, the browser is remembered: "Continue as" asks the phone with a push.
    assert!(
        b.text().await.contains("Continue as Alice Example"),
        "{}",
        b.text().await
    );
    b.screenshot(&shot("4-continue-as")).await;
    b.click("a.button").await;
    b.wait_for_text("Check your phone").await;
    b.screenshot(&shot("5-provider-push-desktop")).await;
    let push_url = b.attribute("a.phone-link", "href").await;
    b.switch_to(&phone).await;
    b.goto(&push_url).await;
    assert!(b.text().await.contains("Sign in to"), "{}", b.text().await);
    b.screenshot(&shot("6-provider-push-phone")).await;
    b.click("button.approve").await;
    b.switch_to(&desktop).await;
    b.wait_for("home after one click", |url, _| url == home)
        .await;
    assert!(
        b.text().await.contains("Signed in as Alice Example."),
        "{}",
        b.text().await
    );

    // Signed out again, "Not you?" forgets the browser.
    b.click("form[action='/auth/logout'] button").await;
    b.wait_for_text("Continue as Alice Example").await;
    b.click("form[action='/auth/forget'] button").await;
    b.wait_for_text("You are not signed in.").await;
    assert!(
        b.cookies()
            .await
            .iter()
            .all(|c| c["name"] != "authentiq_device"),
        "device cookie removed"
    );

    // The AuthentiqJS page: the sign-in runs in a popup and the page never reloads.
    b.goto(&format!("{app}/authentiqjs")).await;
    assert!(
        b.text().await.contains("Not signed in from this page yet."),
        "{}",
        b.text().await
    );
    b.press("button.authentiq-button").await;
    let popup = b.new_window(&[&desktop, &phone]).await;
    b.switch_to(&popup).await;
    b.wait_for_text("Waiting for your phone").await;
    let phone_url = b.attribute("a.phone-link", "href").await;
    b.switch_to(&phone).await;
    b.goto(&phone_url).await;
    b.click("button.approve").await;
    b.switch_to(&desktop).await;
    b.wait_for_text("Signed in as Alice Example.").await;
    assert_eq!(
        b.url().await,
        format!("{app}/authentiqjs"),
        "the page stayed"
    );
    b.screenshot(&shot("7-authentiqjs-signed-in")).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    while b.windows().await.contains(&popup) {
        assert!(Instant::now() < deadline, "the popup closes itself");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    b.goto(&home).await;
    assert!(
        b.text().await.contains("Signed in as Alice Example."),
        "the page's sign-in is the app's session: {}",
        b.text().await
    );
}
