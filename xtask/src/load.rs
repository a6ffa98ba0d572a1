//! HTTP load on loopback: every example app, release build, with its embedded development
//! provider, driven by `wrk` for a few seconds per route. Signs in through the provider's real
//! pages with `curl` first, so the session routes are measured with a genuine session cookie.
//!
//! Routes measured per framework: `/` anonymous and signed in (the same handler: the
//! difference is the session cookie's cost), `/me` with the session (the session plus the
//! claims JSON), `/api/me` with the same bearer ID Token on every request (RS256 inside a JWE
//! to the app's key, from the embedded provider's implicit response), and `/api/me` without a
//! token (the 401 refusal). Runs that should succeed fail the command if wrk saw any answer
//! other than 2xx or 3xx. Bounded: one connection set, fixed seconds.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use crate::FRAMEWORKS;

const SECONDS: u32 = 4;
const CONNECTIONS: u32 = 16;

fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn header(headers: &str, name: &str) -> Option<String> {
    headers.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_owned())
    })
}

fn attr(html: &str, marker: &str) -> Option<String> {
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')?;
    Some(html[start..start + end].to_owned())
}

/// curl with the cookie jar `jar` (the desktop browser's cookies).
fn curl(jar: &str, args: &[&str]) -> Result<String, String> {
    let mut c = Command::new("curl");
    c.args(["-s", "-c", jar, "-b", jar]).args(args);
    run(&mut c)
}

/// Opens the provider's desktop page at `authorize` (its key cookie goes to the jar), approves
/// on the simulated phone, and collects the answer; returns where the provider sends the
/// desktop (the app's callback).
fn approve_on_phone(authorize: &str, jar: &str) -> Result<String, String> {
    let page = curl(jar, &[authorize])?;
    let phone = attr(&page, "class=\"phone-link\" href=\"").ok_or("no link to the phone")?;
    let pending = phone.rsplit('/').next().unwrap_or_default().to_owned();
    let provider = authorize
        .split("/authorize")
        .next()
        .unwrap_or_default()
        .to_owned();
    let answered = curl(
        jar,
        &[
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "POST",
            "--data",
            &format!(
                "pending={pending}&name=Load+Tester&email=load%40example.com&email_verified=on&grant=aq:name&grant=email&grant=aq:push&decision=approve"
            ),
            &format!("{provider}/authorize/approve"),
        ],
    )?;
    if answered.trim() != "200" {
        return Err(format!("the phone's approval answered {answered}"));
    }
    let continued = curl(
        jar,
        &[
            "-o",
            "/dev/null",
            "-D",
            "-",
            &format!("{provider}/authorize/continue/{pending}"),
        ],
    )?;
    header(&continued, "location").ok_or_else(|| "the provider sent no Location".to_owned())
}

/// The authorization URL the app's login sends a browser to.
fn authorize_url(base: &str, jar: &str) -> Result<String, String> {
    let login = curl(
        jar,
        &[
            "-o",
            "/dev/null",
            "-D",
            "-",
            &format!("{base}/auth/login?return_to=/me"),
        ],
    )?;
    header(&login, "location").ok_or_else(|| "login sent no Location".to_owned())
}

/// Signs in at `base` with curl; returns the session cookie pair `name=value`.
fn sign_in(base: &str, jar: &str) -> Result<String, String> {
    let authorize = authorize_url(base, jar)?;
    let callback = approve_on_phone(&authorize, jar)?;
    let done = curl(jar, &["-o", "/dev/null", "-D", "-", &callback])?;
    done.lines()
        .filter_map(|l| {
            l.split_once(':')
                .filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie"))
                .map(|(_, v)| v.trim())
        })
        .find(|v| v.contains("authentiq_session=") && !v.contains("Max-Age=0"))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .ok_or_else(|| "no session cookie after the callback".to_owned())
}

/// A browser-delivered ID Token for the app's client, as a page would hold one: the implicit
/// response (`response_type=id_token`, in the fragment) of an approval on the phone. The
/// embedded provider signs it RS256 and encrypts it to the app's key; the app's bearer guard
/// accepts it.
fn bearer_token(base: &str, jar: &str) -> Result<String, String> {
    let login = authorize_url(base, jar)?;
    let (endpoint, query) = login.split_once('?').ok_or("the login URL has no query")?;
    // The login's own parameters (still percent-encoded), minus the code flow's.
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            matches!(
                name,
                "client_id" | "redirect_uri" | "scope" | "nonce" | "state"
            )
        })
        .collect();
    let implicit = format!("{endpoint}?{}&response_type=id_token", kept.join("&"));
    let answer = approve_on_phone(&implicit, jar)?;
    // base64url and dots only: the value needs no decoding.
    answer
        .split_once('#')
        .map(|(_, fragment)| fragment)
        .into_iter()
        .flat_map(|fragment| fragment.split('&'))
        .find_map(|pair| pair.strip_prefix("id_token="))
        .map(str::to_owned)
        .ok_or_else(|| format!("no id_token in the provider's answer: {answer}"))
}

/// One wrk run: requests per second, p99 latency, and the answers that were not 2xx or 3xx.
struct Measured {
    rps: f64,
    p99: String,
    refused: u64,
}

/// Runs wrk against `url` with `headers`. A route measured as a success must answer nothing
/// but 2xx or 3xx: a refusal is fast, and a run full of 401s would look like a fast route.
fn wrk(url: &str, headers: &[String], must_succeed: bool) -> Result<Measured, String> {
    let mut c = Command::new("wrk");
    c.args([
        "-t",
        "1",
        "-c",
        &CONNECTIONS.to_string(),
        "-d",
        &format!("{SECONDS}s"),
        "--latency",
    ]);
    c.args(["-H", "Accept: application/json"]);
    for h in headers {
        c.args(["-H", h]);
    }
    let out = run(c.arg(url))?;
    let rps = out
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| format!("wrk printed no rate: {out}"))?;
    let p99 = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map_or("?".into(), |v| v.trim().to_owned());
    let refused = out
        .lines()
        .find_map(|l| l.trim().strip_prefix("Non-2xx or 3xx responses:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    if must_succeed && refused > 0 {
        return Err(format!(
            "{url}: {refused} answers were not 2xx/3xx, so the run measured refusals"
        ));
    }
    Ok(Measured { rps, p99, refused })
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(binary: &str, port: u16) -> Result<(Server, String), String> {
    let mut child = Command::new(binary)
        .env("APP_ADDR", format!("127.0.0.1:{port}"))
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{binary}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let server = Server(child);
    for line in BufReader::new(stdout).lines() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(url) = line.split("listening on ").nth(1) {
            return Ok((server, url.trim().trim_end_matches('/').to_owned()));
        }
    }
    Err(format!("{binary} exited before listening"))
}

pub(crate) fn load() -> Result<(), String> {
    run(Command::new("wrk").arg("--version")).or_else(|e| {
        if e.contains("No such file") {
            Err("wrk is not installed (apt-get install wrk)".to_owned())
        } else {
            Ok(String::new())
        }
    })?;
    let mut build = Command::new(env!("CARGO"));
    build.args(["build", "--release", "--quiet"]);
    for (_, _, example) in FRAMEWORKS {
        build.args(["-p", example]);
    }
    eprintln!("building the examples (release)...");
    run(&mut build)?;
    let root = crate::tidy::workspace_root();
    let jar = std::env::temp_dir().join(format!("authentiq-load-{}.jar", std::process::id()));
    println!(
        "{CONNECTIONS} connections, {SECONDS} s per route, wrk and the app share this machine's cores"
    );
    println!(
        "{:<10} {:>12} {:>12} {:>12} {:>12} {:>12} {:>9} {:>9} {:>9}",
        "framework",
        "/ anonymous",
        "/ session",
        "/me session",
        "/api/me bear",
        "/api/me 401",
        "session/",
        "bearer/",
        "p99 /me"
    );
    for (i, (framework, _, example)) in FRAMEWORKS.iter().enumerate() {
        let binary = root.join("target/release").join(example);
        let (_server, base) = start(&binary.to_string_lossy(), 18080 + i as u16)?;
        let _ = std::fs::remove_file(&jar);
        let jar = jar.to_string_lossy();
        let cookie = format!("Cookie: {}", sign_in(&base, &jar)?);
        let bearer = format!("Authorization: Bearer {}", bearer_token(&base, &jar)?);
        let anon = wrk(&format!("{base}/"), &[], true)?;
        let signed = wrk(&format!("{base}/"), std::slice::from_ref(&cookie), true)?;
        let me = wrk(&format!("{base}/me"), std::slice::from_ref(&cookie), true)?;
        let api = wrk(
            &format!("{base}/api/me"),
            std::slice::from_ref(&bearer),
            true,
        )?;
        let refused = wrk(&format!("{base}/api/me"), &[], false)?;
        if refused.refused == 0 {
            return Err(format!("{base}/api/me without a token was never refused"));
        }
        println!(
            "{framework:<10} {:>8.0} r/s {:>8.0} r/s {:>8.0} r/s {:>8.0} r/s {:>8.0} r/s {:>8.2}x {:>8.2}x {:>9}",
            anon.rps,
            signed.rps,
            me.rps,
            api.rps,
            refused.rps,
            signed.rps / anon.rps,
            api.rps / anon.rps,
            me.p99
        );
    }
    let _ = std::fs::remove_file(&jar);
    Ok(())
}
