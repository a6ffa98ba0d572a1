//! HTTP load on loopback, run by `cargo xtask load`: every example app's release binary, driven
//! by `wrk`, against one development provider that this process hosts. Hosting the provider
//! here lets the load mint its own tokens: one repeated RS256 and one repeated ES256 bearer ID
//! Token, and 5,000 distinct ones of each (5,000 different people, more than the app's
//! verified-token cache holds, so most requests pay a full validation).
//!
//! Usage: `authentiq-load <framework>=<binary> ...`, or `authentiq-load --hold
//! <framework>=<binary>` to start one app, sign in, print its URL, session cookie and bearer
//! token headers, and keep it running until standard input closes (for profiling the app under
//! a load of your own, e.g. `perf record -p <pid>` beside `wrk`).
//!
//! Every app starts with `APP_LOAD_TWIN=1`, which serves `GET /load/me`: the `/me` handler's
//! work with no guard in front. Each guarded route is compared with that twin sent the same
//! headers, so a ratio is what the guard costs and nothing else. A run that should succeed
//! fails the command when wrk saw any answer other than 2xx or 3xx: a refusal is fast, and a
//! run of 401s would look like a fast guard. Bounded: 16 connections, a few seconds per route.

#![forbid(unsafe_code)]

use std::fmt::Write as _;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};

use authentiq_dev::{Alg, Approval, ClientRegistration, DevProvider};
use serde_json::json;

const SECONDS: u32 = 4;
const CONNECTIONS: u32 = 16;
const DISTINCT: usize = 5_000;
const FIRST_PORT: u16 = 18080;
const CLIENT_ID: &str = "authentiq-load";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("authentiq-load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One wrk run: requests per second, p99 latency.
struct Measured {
    rps: f64,
    p99: String,
}

/// What one run sends besides the URL: fixed headers, or a wrk script that cycles through a
/// file of tokens.
enum Carry<'a> {
    Headers(&'a [String]),
    Script(&'a Path),
}

/// Runs wrk against `url`. With `must_succeed`, any answer other than 2xx/3xx fails the run.
/// Returns the measurement and how many answers were not 2xx/3xx.
fn wrk(url: &str, send: Carry<'_>, must_succeed: bool) -> Result<(Measured, u64), String> {
    let mut c = Command::new("wrk");
    c.args(["-t", "1", "-c", &CONNECTIONS.to_string()])
        .args(["-d", &format!("{SECONDS}s"), "--latency"])
        .args(["-H", "Accept: application/json"]);
    match send {
        Carry::Headers(headers) => {
            for h in headers {
                c.args(["-H", h]);
            }
        }
        Carry::Script(script) => {
            c.arg("-s").arg(script);
        }
    }
    let out = c.arg(url).output().map_err(|e| format!("wrk: {e}"))?;
    let out = String::from_utf8_lossy(&out.stdout);
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
    Ok((Measured { rps, p99 }, refused))
}

/// One fixed header on every request.
fn with(header: &String) -> Carry<'_> {
    Carry::Headers(std::slice::from_ref(header))
}

/// A wrk script that sends each request with the next token of `tokens` (one per line).
fn token_script(dir: &Path, name: &str, tokens: &[String]) -> Result<PathBuf, String> {
    let list = dir.join(format!("{name}.tokens"));
    std::fs::write(&list, tokens.join("\n")).map_err(|e| e.to_string())?;
    let script = dir.join(format!("{name}.lua"));
    let text = format!(
        "local tokens = {{}}\n\
         for line in io.lines({list:?}) do tokens[#tokens + 1] = line end\n\
         local i = 0\n\
         request = function()\n\
         \x20 i = i % #tokens + 1\n\
         \x20 return wrk.format(nil, nil, {{[\"Authorization\"] = \"Bearer \" .. tokens[i]}})\n\
         end\n",
        list = list.to_string_lossy()
    );
    std::fs::write(&script, text).map_err(|e| e.to_string())?;
    Ok(script)
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts an example binary against the provider; returns it with its base URL.
fn start(
    binary: &str,
    port: u16,
    provider: &DevProvider,
    secret: &str,
) -> Result<(Server, String), String> {
    let mut child = Command::new(binary)
        .env("APP_ADDR", format!("127.0.0.1:{port}"))
        .env("APP_LOAD_TWIN", "1")
        .env("AUTHENTIQ_ISSUER", provider.issuer())
        .env("AUTHENTIQ_CLIENT_ID", CLIENT_ID)
        .env("AUTHENTIQ_CLIENT_SECRET", secret)
        .env_remove("AUTHENTIQ_CLIENT_KEYS")
        .env_remove("APP_SESSION_STORE")
        .env("RUST_LOG", "error")
        .stdout(Stdio::piped())
        // The app's own errors (a port in use, a refused configuration) reach the terminal.
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("{binary}: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let server = Server(child);
    let mut lines = BufReader::new(stdout).lines();
    for line in lines.by_ref() {
        let line = line.map_err(|e| e.to_string())?;
        if let Some(url) = line.split("listening on ").nth(1) {
            // The app logs to standard output: pass what it says on to standard error, so that
            // an error under load is seen and its writes never meet a closed pipe.
            std::thread::spawn(move || {
                for line in lines.map_while(Result::ok) {
                    eprintln!("app: {line}");
                }
            });
            return Ok((server, url.trim().trim_end_matches('/').to_owned()));
        }
    }
    Err(format!("{binary} exited before listening"))
}

/// The person every sign-in and token of the load is about.
fn tester() -> Approval {
    Approval {
        sub: Some("load-tester".into()),
        name: "Load Tester".into(),
        email: "load@example.com".into(),
        ..Approval::default()
    }
}

/// The claims of a minted bearer token, beside the ones the provider fills in: the identity
/// claims the session's `/me` shows, so that `/api/me` answers as much JSON as the twin.
fn token_claims() -> serde_json::Value {
    json!({
        "name": "Load Tester",
        "given_name": "Alice",
        "family_name": "Example",
        "email": "load@example.com",
        "email_verified": true,
        "scope": "openid aq:name email aq:push",
        "sid": "load-bearer-session-0000",
    })
}

/// The `name=value` pairs of the `Set-Cookie` headers of `res` that set a value.
fn set_cookies(res: &reqwest::Response) -> Vec<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter(|v| !v.contains("Max-Age=0"))
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// Signs in at `base` through the app's login and callback, the provider approving in-process
/// as the phone would; returns the `Cookie` header with the session.
async fn sign_in(base: &str, provider: &DevProvider) -> Result<String, String> {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| e.to_string())?;
    let login = http
        .get(format!("{base}/auth/login?return_to=/me"))
        .send()
        .await
        .map_err(|e| format!("login: {e}"))?;
    let flow = set_cookies(&login).join("; ");
    let authorize = login
        .headers()
        .get("location")
        .and_then(|l| l.to_str().ok())
        .ok_or("login sent no Location")?
        .to_owned();
    let callback = provider
        .approve(&authorize, &tester())
        .map_err(|e| format!("approval: {e}"))?;
    let done = http
        .get(&callback)
        .header("cookie", flow)
        .send()
        .await
        .map_err(|e| format!("callback: {e}"))?;
    set_cookies(&done)
        .into_iter()
        .find(|c| c.starts_with("authentiq_session="))
        .map(|c| format!("Cookie: {c}"))
        .ok_or_else(|| format!("no session cookie after the callback ({})", done.status()))
}

/// The measured routes, in the order of the table's columns: a name, a path, and which
/// headers (see [`Credential`]).
const ROUTES: [(&str, &str, Credential); 11] = [
    ("/ anon", "/", Credential::None),
    ("twin+ck", "/load/me", Credential::Cookie),
    ("/me sess", "/me", Credential::Cookie),
    ("twin+bt", "/load/me", Credential::Rs256),
    ("/me RS", "/me", Credential::Rs256),
    ("/me ES", "/me", Credential::Es256),
    ("/api RS", "/api/me", Credential::Rs256),
    ("/api ES", "/api/me", Credential::Es256),
    ("RS 5000", "/api/me", Credential::ManyRs256),
    ("ES 5000", "/api/me", Credential::ManyEs256),
    ("401", "/api/me", Credential::None),
];

/// Indexes into [`ROUTES`].
const ANON: usize = 0;
const TWIN_COOKIE: usize = 1;
const ME_SESSION: usize = 2;
const TWIN_BEARER: usize = 3;
const API_RS: usize = 6;
const REFUSED: usize = 10;

/// What a route's requests carry.
#[derive(Clone, Copy, PartialEq)]
enum Credential {
    None,
    Cookie,
    Rs256,
    Es256,
    ManyRs256,
    ManyEs256,
}

/// How many times each route is measured, in turn with the others; the table shows the median,
/// so that one disturbed run moves nothing.
const ROUNDS: usize = 3;

/// One framework's medians, indexed like [`ROUTES`].
struct Row {
    framework: String,
    runs: Vec<Measured>,
}

/// The median run of `runs` (by rate).
fn median(mut runs: Vec<Measured>) -> Measured {
    runs.sort_by(|a, b| a.rps.total_cmp(&b.rps));
    runs.swap_remove(runs.len() / 2)
}

fn run() -> Result<(), String> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let hold = args.first().is_some_and(|a| a == "--hold");
    if hold {
        args.remove(0);
    }
    let apps: Vec<(String, String)> = args
        .into_iter()
        .map(|a| {
            a.split_once('=')
                .map(|(f, b)| (f.to_owned(), b.to_owned()))
                .ok_or_else(|| format!("`{a}` is not <framework>=<binary>"))
        })
        .collect::<Result<_, _>>()?;
    if apps.is_empty() {
        return Err("usage: authentiq-load <framework>=<binary> ...".into());
    }
    Command::new("wrk")
        .arg("--version")
        .output()
        .map_err(|e| format!("wrk is not installed (apt-get install wrk): {e}"))?;
    let provider = DevProvider::start().map_err(|e| format!("the provider: {e}"))?;
    let ports = (0..apps.len()).map(|i| FIRST_PORT + i as u16);
    let client = provider.register_client(ClientRegistration {
        client_id: Some(CLIENT_ID.into()),
        redirect_uris: ports
            .map(|p| format!("http://127.0.0.1:{p}/auth/callback"))
            .collect(),
        // Longer than the whole run, so that no token expires during it.
        id_token_lifetime: std::time::Duration::from_secs(3600),
        ..ClientRegistration::default()
    });
    let mint =
        |alg: Alg, sub: &str| provider.mint_id_token_with(CLIENT_ID, alg, sub, token_claims());
    eprintln!("minting {DISTINCT} RS256 and {DISTINCT} ES256 ID Tokens...");
    let dir = std::env::temp_dir().join(format!("authentiq-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let many = |alg: Alg| -> Vec<String> {
        (0..DISTINCT)
            .map(|i| mint(alg, &format!("load-{i:05}")))
            .collect()
    };
    let rs_many = token_script(&dir, "rs256", &many(Alg::RS256))?;
    let es_many = token_script(&dir, "es256", &many(Alg::ES256))?;
    let rs_one = format!("Authorization: Bearer {}", mint(Alg::RS256, "load-tester"));
    let es_one = format!("Authorization: Bearer {}", mint(Alg::ES256, "load-tester"));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;

    if hold {
        let (framework, binary) = &apps[0];
        let (server, base) = start(binary, FIRST_PORT, &provider, &client.client_secret)?;
        let cookie = runtime.block_on(sign_in(&base, &provider))?;
        println!("{framework} app (pid {}) at {base}", server.0.id());
        println!("{cookie}\n{rs_one}\n{es_one}");
        println!(
            "distinct tokens: {} {}",
            rs_many.display(),
            es_many.display()
        );
        println!("close standard input (Ctrl-D) to stop");
        let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut Vec::new());
        let _ = std::fs::remove_dir_all(&dir);
        return Ok(());
    }
    println!(
        "{CONNECTIONS} connections, {SECONDS} s per run, the median of {ROUNDS} runs per route taken in turn; wrk, the app and the provider share this machine's cores"
    );
    let mut rows = Vec::new();
    for (i, (framework, binary)) in apps.iter().enumerate() {
        eprintln!("{framework}...");
        let (_server, base) = start(
            binary,
            FIRST_PORT + i as u16,
            &provider,
            &client.client_secret,
        )?;
        let mut runs: Vec<Vec<Measured>> = ROUTES.iter().map(|_| Vec::new()).collect();
        for _ in 0..ROUNDS {
            // A new session each round: a browser stores the cookie that slides the idle
            // timer, wrk keeps sending the first one, and a cookie past its refresh point would
            // have every answer write a new one.
            let cookie = runtime.block_on(sign_in(&base, &provider))?;
            for (route, (_, path, credential)) in ROUTES.iter().enumerate() {
                let send = match credential {
                    Credential::None => Carry::Headers(&[]),
                    Credential::Cookie => with(&cookie),
                    Credential::Rs256 => with(&rs_one),
                    Credential::Es256 => with(&es_one),
                    Credential::ManyRs256 => Carry::Script(&rs_many),
                    Credential::ManyEs256 => Carry::Script(&es_many),
                };
                let (measured, refusals) = wrk(&format!("{base}{path}"), send, route != REFUSED)?;
                if route == REFUSED && refusals == 0 {
                    return Err(format!("{base}{path} without a token was never refused"));
                }
                runs[route].push(measured);
            }
        }
        rows.push(Row {
            framework: framework.clone(),
            runs: runs.into_iter().map(median).collect(),
        });
    }
    let _ = std::fs::remove_dir_all(&dir);
    print!("{}", tables(&rows));
    Ok(())
}

/// The tables: requests per second, each guarded route over its unguarded twin, and over the
/// public page.
fn tables(rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = write!(out, "\nrequests/s   ");
    for (name, _, _) in ROUTES {
        let _ = write!(out, " {name:>9}");
    }
    out.push('\n');
    for r in rows {
        let _ = write!(out, "{:<13}", r.framework);
        for m in &r.runs {
            let _ = write!(out, " {:>9.0}", m.rps);
        }
        out.push('\n');
    }
    // Each guarded route over the twin sent the same kind of header.
    let guarded: Vec<(usize, usize)> = (0..ROUTES.len())
        .filter(|&i| ![ANON, TWIN_COOKIE, TWIN_BEARER, REFUSED].contains(&i))
        .map(|i| {
            let twin = if ROUTES[i].2 == Credential::Cookie {
                TWIN_COOKIE
            } else {
                TWIN_BEARER
            };
            (i, twin)
        })
        .collect();
    let _ = write!(out, "\nover the twin");
    for (i, _) in &guarded {
        let _ = write!(out, " {:>9}", ROUTES[*i].0);
    }
    let _ = writeln!(out, "   p99 /me sess, /api RS");
    for r in rows {
        let _ = write!(out, "{:<13}", r.framework);
        for (i, twin) in &guarded {
            let _ = write!(out, " {:>8.2}x", r.runs[*i].rps / r.runs[*twin].rps);
        }
        let _ = writeln!(out, "   {}, {}", r.runs[ME_SESSION].p99, r.runs[API_RS].p99);
    }
    // The ratios the first measurements were given in: over the public page.
    let _ = write!(out, "\nover /       ");
    for (i, _) in &guarded {
        let _ = write!(out, " {:>9}", ROUTES[*i].0);
    }
    out.push('\n');
    for r in rows {
        let _ = write!(out, "{:<13}", r.framework);
        for (i, _) in &guarded {
            let _ = write!(out, " {:>8.2}x", r.runs[*i].rps / r.runs[ANON].rps);
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "\ngoals: /me with a session >= 0.95x its twin; a repeated bearer token >= 0.90x"
    );
    out
}
