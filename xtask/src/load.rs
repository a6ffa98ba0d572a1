//! HTTP load on loopback: every example app, release build, with its embedded development
//! provider, driven by `wrk` for a few seconds per route. Signs in through the provider's real
//! pages with `curl` first, so the session routes are measured with a genuine session cookie.
//!
//! Routes measured per framework: `/` anonymous and signed in (the same handler: the
//! difference is the session cookie's cost), `/me` with the session (decrypt plus claims JSON),
//! and `/api/me` without a token (the 401 refusal). Bounded: one connection set, fixed seconds.

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

/// Signs in at `base` with curl; returns the session cookie pair `name=value`.
fn sign_in(base: &str, jar: &str) -> Result<String, String> {
    let curl = |args: &[&str]| {
        let mut c = Command::new("curl");
        c.args(["-s", "-c", jar, "-b", jar]).args(args);
        run(&mut c)
    };
    let login = curl(&[
        "-o",
        "/dev/null",
        "-D",
        "-",
        &format!("{base}/auth/login?return_to=/me"),
    ])?;
    let authorize = header(&login, "location").ok_or("login sent no Location")?;
    // The desktop page (whose key cookie the jar keeps), then the simulated phone's answer,
    // then the desktop collects it.
    let page = curl(&[&authorize])?;
    let phone = attr(&page, "class=\"phone-link\" href=\"").ok_or("no link to the phone")?;
    let pending = phone.rsplit('/').next().unwrap_or_default().to_owned();
    let provider = authorize
        .split("/authorize")
        .next()
        .unwrap_or_default()
        .to_owned();
    let answered = curl(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "-X",
        "POST",
        "--data",
        &format!(
            "pending={pending}&name=Load+Tester&email=load%40example.com&email_verified=on&grant=aq:name&grant=aq:push&decision=approve"
        ),
        &format!("{provider}/authorize/approve"),
    ])?;
    if answered.trim() != "200" {
        return Err(format!("the phone's approval answered {answered}"));
    }
    let continued = curl(&[
        "-o",
        "/dev/null",
        "-D",
        "-",
        &format!("{provider}/authorize/continue/{pending}"),
    ])?;
    let callback = header(&continued, "location").ok_or("the provider sent no Location")?;
    let done = curl(&["-o", "/dev/null", "-D", "-", &callback])?;
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

/// Requests per second and p99 latency for one route.
fn wrk(url: &str, cookie: Option<&str>) -> Result<(f64, String), String> {
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
    if let Some(cookie) = cookie {
        c.args(["-H", &format!("Cookie: {cookie}")]);
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
    Ok((rps, p99))
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
        "{:<10} {:>14} {:>14} {:>14} {:>14} {:>10} {:>10}",
        "framework",
        "/ anonymous",
        "/ signed in",
        "/me session",
        "/api/me 401",
        "session/",
        "p99 /me"
    );
    for (i, (framework, _, example)) in FRAMEWORKS.iter().enumerate() {
        let binary = root.join("target/release").join(example);
        let (_server, base) = start(&binary.to_string_lossy(), 18080 + i as u16)?;
        let _ = std::fs::remove_file(&jar);
        let cookie = sign_in(&base, &jar.to_string_lossy())?;
        let (anon, _) = wrk(&format!("{base}/"), None)?;
        let (signed, _) = wrk(&format!("{base}/"), Some(&cookie))?;
        let (me, p99) = wrk(&format!("{base}/me"), Some(&cookie))?;
        let (api, _) = wrk(&format!("{base}/api/me"), None)?;
        println!(
            "{framework:<10} {anon:>10.0} r/s {signed:>10.0} r/s {me:>10.0} r/s {api:>10.0} r/s {:>9.2}x {p99:>10}",
            signed / anon
        );
    }
    let _ = std::fs::remove_file(&jar);
    Ok(())
}
