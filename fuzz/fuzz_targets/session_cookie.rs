//! The session cookie opener: `adapter::check_session` on a request whose `Cookie` header
//! carries the session cookie, with sessions sealed in the cookie and held in memory.
//!
//! The cookie is either arbitrary text or a session the app sealed itself (from arbitrary
//! session data), then possibly edited, among other cookies. Properties:
//! - nothing panics;
//! - arbitrary text never opens unless it is a cookie the app sealed (libFuzzer learns sealed
//!   values from comparisons and replays them), and an unusable cookie is removed in the reply;
//! - a sealed cookie whose value reaches the app changed never opens;
//! - an unchanged one opens exactly when the session is live (right issuer and client, not
//!   expired, not idle too long), and then holds the data that was sealed (the ID Token and
//!   optional claims may have been shed to fit a browser's 4 KB, only for cookie sessions);
//! - an opened session reseals and reopens to the same data;
//! - after a logout, the same cookie never opens again.

#![no_main]

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use authentiq_core::adapter;
use authentiq_core::{Authentiq, SessionData};
use authentiq_fuzz::{Harness, Head, PUBLIC_URL, cookie_pair, is_removal};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

#[derive(Arbitrary, Debug)]
struct Data {
    id: String,
    sub: String,
    other_issuer: Option<String>,
    other_client: Option<String>,
    sid: Option<String>,
    iat: i32,
    exp: i32,
    seen: i32,
    claims: Vec<(String, String)>,
    big_claim: Option<u16>,
    id_token: Option<String>,
    session_state: Option<String>,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Insert { at: u16, text: String },
    Remove { at: u16, len: u8 },
    Replace { at: u16, byte: u8 },
    Truncate { at: u16 },
    Quote,
    Pad,
}

#[derive(Arbitrary, Debug)]
enum CookieValue {
    Raw(String),
    Sealed { data: Box<Data>, edits: Vec<Edit> },
}

#[derive(Arbitrary, Debug)]
struct Input {
    memory: bool,
    value: CookieValue,
    before: Option<String>,
    after: Option<String>,
    logout: bool,
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn offset(base: u64, by: i32) -> u64 {
    base.saturating_add_signed(i64::from(by))
}

fn session_data(app: &Authentiq, d: &Data, n: u64) -> SessionData {
    let t = now();
    let mut claims: Map<String, Value> = d
        .claims
        .iter()
        .map(|(k, v)| (k.clone(), Value::String(v.clone())))
        .collect();
    if let Some(size) = d.big_claim {
        claims.insert(
            "big".into(),
            Value::String("x".repeat(usize::from(size) % 6000)),
        );
    }
    SessionData {
        // Unique per run, so one input's logout never reaches another input's session.
        id: format!("{n}:{}", d.id),
        sub: format!("{n}:{}", d.sub),
        iss: d
            .other_issuer
            .clone()
            .unwrap_or_else(|| app.provider().issuer.clone()),
        aud: d
            .other_client
            .clone()
            .unwrap_or_else(|| app.config().client_id.clone()),
        sid: d.sid.as_ref().map(|s| format!("{n}:{s}")),
        iat: offset(t, d.iat),
        exp: offset(t, d.exp),
        seen: offset(t, d.seen),
        claims,
        id_token: d.id_token.clone(),
        session_state: d.session_state.clone(),
    }
}

fn edit(value: &str, edits: &[Edit]) -> String {
    let mut b = value.as_bytes().to_vec();
    for e in edits.iter().take(6) {
        let at = |i: u16, len: usize| usize::from(i) % (len + 1);
        match e {
            Edit::Insert { at: i, text } => {
                let i = at(*i, b.len());
                b.splice(i..i, text.bytes());
            }
            Edit::Remove { at: i, len } => {
                let i = at(*i, b.len());
                let end = (i + usize::from(*len)).min(b.len());
                b.drain(i..end);
            }
            Edit::Replace { at: i, byte } => {
                if !b.is_empty() {
                    let i = usize::from(*i) % b.len();
                    b[i] = *byte;
                }
            }
            Edit::Truncate { at: i } => b.truncate(at(*i, b.len())),
            Edit::Quote => {
                b.insert(0, b'"');
                b.push(b'"');
            }
            Edit::Pad => b.push(b'='),
        }
    }
    String::from_utf8_lossy(&b).into_owned()
}

/// The data as it may come back: `seen` slides to the time of opening.
fn same_but_seen(a: &SessionData, b: &SessionData) -> bool {
    let mut a = a.clone();
    a.seen = b.seen;
    a == *b
}

/// What a cookie session may have shed to fit a browser: the ID Token, then the optional
/// claims.
fn shed(d: &SessionData) -> [SessionData; 3] {
    let mut lean = d.clone();
    lean.id_token = None;
    let mut leaner = lean.clone();
    leaner.claims.retain(|k, _| k == "scope");
    [d.clone(), lean, leaner]
}

fn request(name: &str, value: &str, before: Option<&str>, after: Option<&str>) -> Head {
    let mut cookie = String::new();
    if let Some(b) = before {
        cookie.push_str(b);
        cookie.push_str("; ");
    }
    cookie.push_str(&format!("{name}={value}"));
    if let Some(a) = after {
        cookie.push_str("; ");
        cookie.push_str(a);
    }
    Head::new("GET", "/me").header("cookie", cookie)
}

/// Every cookie value the apps sealed in this process.
static SEALED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

fn remember(sealed: &str) {
    SEALED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get_or_insert_with(HashSet::new)
        .insert(sealed.to_owned());
}

fn was_sealed(value: &str) -> bool {
    SEALED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .as_ref()
        .is_some_and(|s| s.contains(value.trim_end_matches('=')))
}

fuzz_target!(|input: Input| {
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let n = RUNS.fetch_add(1, Ordering::Relaxed);
    let h = Harness::get();
    let app = if input.memory {
        &h.memory_app
    } else {
        &h.cookie_app
    };
    let name = app.session_cookie_name().to_owned();
    let (value, sealed) = match &input.value {
        CookieValue::Raw(s) => (s.clone(), None),
        CookieValue::Sealed { data, edits } => {
            let data = session_data(app, data, n);
            let set_cookie = h
                .block_on(app.session_cookie(&data))
                .expect("sealing a session never fails with these stores");
            let (cookie_name, sealed) = cookie_pair(&set_cookie);
            assert_eq!(cookie_name, name);
            let sealed = sealed.to_owned();
            remember(&sealed);
            (edit(&sealed, edits), Some((data, sealed)))
        }
    };
    let head = request(
        &name,
        &value,
        input.before.as_deref(),
        input.after.as_deref(),
    );
    let check = h.block_on(adapter::check_session(app, &head));
    if let Some(slid) = check.set_cookie.as_deref().filter(|c| !is_removal(c)) {
        remember(cookie_pair(slid).1);
    }
    let seen_value = authentiq_core::adapter::RequestHead::cookie(&head, &name);

    if check.session().is_none() && seen_value.is_some() {
        // A cookie that did not open is removed, unless the store failed (it cannot here).
        let removal = check
            .set_cookie
            .as_deref()
            .expect("an unusable cookie is removed");
        assert!(
            is_removal(removal) && cookie_pair(removal).0 == name,
            "{removal}"
        );
    }
    let Some((data, sealed)) = sealed else {
        assert!(
            check.session().is_none() || seen_value.is_some_and(was_sealed),
            "arbitrary text opened as a session: {value:?}"
        );
        return;
    };
    let unchanged = seen_value.is_some_and(|v| v.trim_end_matches('=') == sealed);
    if !unchanged {
        assert!(
            check.session().is_none(),
            "an altered cookie opened: {seen_value:?} from {sealed}"
        );
        return;
    }

    let t = now();
    let cfg = app.config();
    let idle = cfg.session.idle.as_secs();
    let near = |x: u64| x.abs_diff(t) <= 2;
    if near(data.exp) || near(data.seen.saturating_add(idle)) {
        // Too close to an expiry to say which side of it the check ran on.
        return;
    }
    let live = data.iss == app.provider().issuer
        && data.aud == cfg.client_id
        && t < data.exp
        && t < data.seen.saturating_add(idle);
    assert_eq!(
        check.session().is_some(),
        live,
        "liveness of {data:?} at {t}, idle {idle}"
    );
    let Some(opened) = check.session() else {
        return;
    };
    if input.memory {
        assert!(
            same_but_seen(&data, opened),
            "{data:?} came back as {opened:?}"
        );
    } else {
        assert!(
            shed(&data).iter().any(|d| same_but_seen(d, opened)),
            "{data:?} came back as {opened:?}"
        );
    }
    assert!(opened.seen == data.seen || opened.seen.abs_diff(t) <= 2);

    // Reseal and reopen: the same data.
    let resealed = h
        .block_on(app.session_cookie(opened))
        .expect("resealing never fails with these stores");
    remember(cookie_pair(&resealed).1);
    let again = h.block_on(adapter::check_session(
        app,
        &request(&name, cookie_pair(&resealed).1, None, None),
    ));
    let reopened = again.session().expect("a resealed live session opens");
    assert!(
        shed(opened).iter().any(|d| same_but_seen(d, reopened)),
        "{opened:?} reopened as {reopened:?}"
    );

    if input.logout {
        let out = Head::new("POST", "/auth/logout")
            .header("origin", PUBLIC_URL)
            .header("cookie", format!("{name}={value}"));
        let reply = h.block_on(adapter::respond(app, &out, Some(b"")));
        assert_eq!(reply.status(), 303, "logout: {reply:?}");
        let after = h.block_on(adapter::check_session(app, &head));
        assert!(
            after.session().is_none(),
            "a logged-out cookie opened again"
        );
    }
});
