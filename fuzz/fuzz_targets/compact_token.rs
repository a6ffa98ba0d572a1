//! Compact tokens (JWS, and the five-part JWE form, which the harness app decrypts with its
//! client keys) through the public entry, `Authentiq::validate_id_token`, and through the
//! back-channel logout route.
//!
//! Inputs start from raw text, from a token the provider really issued (then edited), from
//! a header and claims built field by field and either signed with a real key (to reach every
//! claim rule) or given an arbitrary signature, from a five-part JWE with a well-formed
//! protected header and arbitrary encrypted key, IV, ciphertext and tag, or from arbitrary
//! parts. No input is encrypted to the app's fresh client keys, so no five-part token may be
//! accepted.
//! Properties:
//! - nothing panics;
//! - a token is accepted only if its signing input was genuinely signed (no forgery passes);
//! - an accepted token came in on a channel its algorithm is allowed on (never HS256 or
//!   `none` through the browser);
//! - an accepted ID Token satisfies the claim rules as checked here independently (issuer,
//!   audience, subject, expiry, nonce), and its claims and subject are its payload's;
//! - a token of the wrong shape (not 3 or 5 parts, or over 16 KiB) is refused;
//! - a logout token never gets a 5xx, and is accepted (200) only if genuinely signed.

#![no_main]

use authentiq_core::adapter::{self, Reply};
use authentiq_core::{Channel, ValidatedToken};
use authentiq_fuzz::{Harness, Head, b64url, signing_input};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

#[derive(Arbitrary, Debug)]
enum Start {
    Raw(String),
    Minted(u8),
    Built {
        header: Box<Header>,
        claims: Box<Claims>,
        signature: Signature,
    },
    /// The five-part JWE form: a protected header built field by field (key management and
    /// content encryption algorithms included), then four arbitrary parts (encrypted key, IV,
    /// ciphertext, tag), each base64url-encoded.
    Encrypted {
        header: Box<Header>,
        parts: [Vec<u8>; 4],
    },
    /// Arbitrary parts joined with dots.
    Parts(Vec<String>),
}

#[derive(Arbitrary, Debug)]
enum Signature {
    /// Signed with the harness key of this index (HS256 with the client secret, ES256, EdDSA).
    Genuine(u8),
    Raw(String),
    Empty,
}

/// One JSON member, either right for this app, missing, or something else.
#[derive(Arbitrary, Debug)]
enum Field {
    Good,
    Absent,
    Null,
    Str(String),
    Int(i64),
    Float(f64),
    Strs(Vec<String>),
    Object,
    /// The good value twice (a repeated member).
    Repeated,
}

#[derive(Arbitrary, Debug)]
struct Header {
    alg: Field,
    alg_pick: u8,
    kid: Field,
    typ: Field,
    crit: bool,
    jku: bool,
    enc: Option<String>,
    raw_tail: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Claims {
    iss: Field,
    sub: Field,
    aud: Field,
    azp: Field,
    exp: Field,
    iat: Field,
    nbf: Field,
    nonce: Field,
    auth_time: Field,
    at_hash: Field,
    events: Field,
    jti: Field,
    sid: Field,
    extra: Vec<(String, String)>,
}

#[derive(Arbitrary, Debug)]
enum Edit {
    Insert { at: u16, text: String },
    Remove { at: u16, len: u8 },
    Replace { at: u16, byte: u8 },
    Truncate { at: u16 },
    Duplicate,
}

#[derive(Arbitrary, Debug)]
struct Input {
    start: Start,
    edits: Vec<Edit>,
    browser: bool,
    nonce: Option<Option<String>>,
    max_token_age: Option<u16>,
    access_token: Option<String>,
    as_logout_token: bool,
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Appends `"name":value` for `field`, `good` being the right value.
fn member(out: &mut Vec<String>, name: &str, field: &Field, good: &Value) {
    let value = match field {
        Field::Good => good.clone(),
        Field::Absent => return,
        Field::Null => Value::Null,
        Field::Str(s) => json!(s),
        Field::Int(i) => json!(i),
        Field::Float(f) => json!(f),
        Field::Strs(v) => json!(v),
        Field::Object => json!({"x": [1, {"y": null}]}),
        Field::Repeated => {
            out.push(format!("{}:{good}", json!(name)));
            good.clone()
        }
    };
    out.push(format!("{}:{value}", json!(name)));
}

fn object(members: Vec<String>) -> String {
    format!("{{{}}}", members.join(","))
}

fn build(h: &Harness, header: &Header, claims: &Claims, signature: &Signature) -> String {
    let algs = ["HS256", "ES256", "EdDSA", "RS256", "none", "PS256", "ES384"];
    let alg = match (&header.alg, signature) {
        // The good `alg` is the one of the key that signs.
        (Field::Good, Signature::Genuine(k)) => {
            let k = usize::from(*k) % (h.keys.len() + 1);
            if k == 0 {
                "HS256"
            } else {
                h.keys[k - 1].alg().as_str()
            }
        }
        _ => algs[usize::from(header.alg_pick) % algs.len()],
    };
    let kid = match signature {
        Signature::Genuine(k) if usize::from(*k) % (h.keys.len() + 1) > 0 => {
            json!(h.keys[usize::from(*k) % (h.keys.len() + 1) - 1].kid())
        }
        _ => json!("no-such-kid"),
    };
    let mut hm = Vec::new();
    member(&mut hm, "alg", &header.alg, &json!(alg));
    member(&mut hm, "kid", &header.kid, &kid);
    member(&mut hm, "typ", &header.typ, &json!("JWT"));
    if header.crit {
        hm.push(r#""crit":["exp"]"#.to_owned());
    }
    if header.jku {
        hm.push(r#""jku":"https://evil.example/jwks""#.to_owned());
    }
    if let Some(enc) = &header.enc {
        hm.push(format!(r#""enc":{}"#, json!(enc)));
    }
    let mut header_text = object(hm);
    if let Some(tail) = &header.raw_tail {
        header_text.push_str(tail);
    }

    let t = now();
    let mut cm = Vec::new();
    member(&mut cm, "iss", &claims.iss, &json!(h.provider.issuer()));
    member(&mut cm, "sub", &claims.sub, &json!("fuzz-user"));
    member(&mut cm, "aud", &claims.aud, &json!(h.client_id));
    member(&mut cm, "azp", &claims.azp, &json!(h.client_id));
    member(&mut cm, "exp", &claims.exp, &json!(t + 600));
    member(&mut cm, "iat", &claims.iat, &json!(t - 5));
    member(&mut cm, "nbf", &claims.nbf, &json!(t - 5));
    member(&mut cm, "nonce", &claims.nonce, &json!("fuzz-nonce"));
    member(&mut cm, "auth_time", &claims.auth_time, &json!(t - 5));
    member(&mut cm, "at_hash", &claims.at_hash, &json!("fuzz"));
    member(
        &mut cm,
        "events",
        &claims.events,
        &json!({"http://schemas.openid.net/event/backchannel-logout": {}}),
    );
    member(&mut cm, "jti", &claims.jti, &json!(format!("jti-{t}")));
    member(&mut cm, "sid", &claims.sid, &json!("fuzz-sid"));
    for (k, v) in &claims.extra {
        cm.push(format!("{}:{}", json!(k), json!(v)));
    }
    let input = format!(
        "{}.{}",
        b64url(header_text.as_bytes()),
        b64url(object(cm).as_bytes())
    );
    match signature {
        Signature::Genuine(k) => h.sign(&input, *k),
        Signature::Raw(s) => format!("{input}.{s}"),
        Signature::Empty => format!("{input}."),
    }
}

fn encrypted(header: &Header, parts: &[Vec<u8>; 4]) -> String {
    let algs = [
        "RSA-OAEP",
        "RSA-OAEP-256",
        "ECDH-ES",
        "ECDH-ES+A256KW",
        "A256KW",
        "dir",
        "RSA1_5",
        "none",
    ];
    let encs = ["A256GCM", "A128GCM", "A128CBC-HS256", "A256CBC-HS512"];
    let pick = usize::from(header.alg_pick);
    let mut hm = Vec::new();
    member(&mut hm, "alg", &header.alg, &json!(algs[pick % algs.len()]));
    let enc = header
        .enc
        .clone()
        .unwrap_or_else(|| encs[pick / algs.len() % encs.len()].to_owned());
    hm.push(format!(r#""enc":{}"#, json!(enc)));
    member(&mut hm, "kid", &header.kid, &json!("enc-key"));
    member(&mut hm, "cty", &header.typ, &json!("JWT"));
    if header.crit {
        hm.push(r#""crit":["exp"]"#.to_owned());
    }
    if header.jku {
        hm.push(r#""zip":"DEF""#.to_owned());
    }
    let mut header_text = object(hm);
    if let Some(tail) = &header.raw_tail {
        header_text.push_str(tail);
    }
    let mut token = b64url(header_text.as_bytes());
    for part in parts {
        token.push('.');
        token.push_str(&b64url(part));
    }
    token
}

fn apply(token: String, edits: &[Edit]) -> String {
    let mut b = token.into_bytes();
    for e in edits.iter().take(8) {
        let at = |i: u16| usize::from(i) % (b.len() + 1);
        match e {
            Edit::Insert { at: i, text } => {
                let i = at(*i);
                b.splice(i..i, text.bytes());
            }
            Edit::Remove { at: i, len } => {
                let i = at(*i);
                let end = (i + usize::from(*len)).min(b.len());
                b.drain(i..end);
            }
            Edit::Replace { at: i, byte } => {
                if !b.is_empty() {
                    let i = usize::from(*i) % b.len();
                    b[i] = *byte;
                }
            }
            Edit::Truncate { at: i } => b.truncate(at(*i)),
            Edit::Duplicate => {
                let copy = b.clone();
                b.extend_from_slice(&copy);
            }
        }
    }
    String::from_utf8(b).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The claim rules, checked on the accepted token's payload without the core's code.
fn check_accepted(
    h: &Harness,
    token: &str,
    v: &ValidatedToken,
    nonce: Option<&str>,
    browser: bool,
) {
    assert_eq!(
        token.bytes().filter(|b| *b == b'.').count(),
        2,
        "no input is encrypted to the app's keys, so only a JWS can be accepted: {token}"
    );
    assert!(
        h.was_signed(signing_input(token)),
        "a token that was never signed was accepted: {token}"
    );
    let mut parts = token.split('.');
    let header: Value = parts
        .next()
        .and_then(|p| {
            base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                p.trim_end_matches('='),
            )
            .ok()
        })
        .and_then(|b| serde_json::from_slice(&b).ok())
        .expect("an accepted token has a JSON header");
    let alg = header["alg"]
        .as_str()
        .expect("an accepted token names its alg");
    if browser {
        assert!(
            alg != "HS256" && !alg.eq_ignore_ascii_case("none"),
            "{alg} accepted through the browser"
        );
    }
    let claims = v.claims();
    // `null` is the same as an absent claim.
    let claim = |k: &str| claims.get(k).filter(|v| !v.is_null());
    assert_eq!(claim("iss"), Some(&json!(h.provider.issuer())), "iss");
    let sub = claim("sub")
        .and_then(Value::as_str)
        .expect("sub is a string");
    assert!(!sub.is_empty() && sub.len() <= 255, "sub {sub:?}");
    assert_eq!(v.subject(), sub);
    match claim("aud") {
        Some(Value::String(a)) => assert_eq!(a, &h.client_id),
        Some(Value::Array(list)) => {
            assert!(!list.is_empty());
            assert!(
                list.iter().all(|a| a.as_str() == Some(&h.client_id)),
                "aud {list:?}"
            );
        }
        other => panic!("aud {other:?} accepted"),
    }
    if let Some(azp) = claim("azp") {
        assert_eq!(azp.as_str(), Some(h.client_id.as_str()), "azp");
    }
    let leeway = h.cookie_app.config().leeway.as_secs() as f64;
    let exp = claim("exp")
        .and_then(Value::as_f64)
        .expect("exp is a number");
    assert!(
        exp.floor() + leeway > now() as f64 - 1.0,
        "expired token accepted: exp {exp}"
    );
    let iat = claim("iat")
        .and_then(Value::as_f64)
        .expect("iat is a number");
    assert!(
        iat >= 0.0 && iat.floor() <= now() as f64 + leeway + 1.0,
        "iat {iat}"
    );
    assert!(
        claim("events").is_none(),
        "a logout token accepted as an ID Token"
    );
    if let Some(n) = nonce {
        assert_eq!(claim("nonce").and_then(Value::as_str), Some(n), "nonce");
    }
}

fn assert_no_server_error(reply: &Reply, what: &str) {
    assert!(
        reply.status() < 500,
        "{what}: status {} {}",
        reply.status(),
        String::from_utf8_lossy(reply.body())
    );
}

fuzz_target!(|input: Input| {
    let h = Harness::get();
    let token = match &input.start {
        Start::Raw(s) => s.clone(),
        Start::Minted(i) => h.minted[usize::from(*i) % h.minted.len()].clone(),
        Start::Built {
            header,
            claims,
            signature,
        } => build(h, header, claims, signature),
        Start::Encrypted { header, parts } => encrypted(header, parts),
        Start::Parts(parts) => parts.join("."),
    };
    let token = apply(token, &input.edits);
    let channel = if input.browser {
        Channel::Browser
    } else {
        Channel::TokenEndpoint
    };
    let nonce = match &input.nonce {
        None => None,
        Some(None) => Some("fuzz-nonce".to_owned()),
        Some(Some(n)) => Some(n.clone()),
    };
    let flow = input.access_token.as_deref().map(|a| (a, None));
    let result = h.block_on(h.cookie_app.validate_id_token(
        &token,
        channel,
        nonce.as_deref(),
        flow,
        input.max_token_age.map(u64::from),
    ));
    let dots = token.bytes().filter(|b| *b == b'.').count();
    if (dots != 2 && dots != 4) || token.len() > 16 * 1024 {
        assert!(
            result.is_err(),
            "a token of {dots} dots and {} bytes accepted",
            token.len()
        );
    }
    if let Ok(v) = &result {
        check_accepted(h, &token, v, nonce.as_deref(), input.browser);
    }

    if input.as_logout_token {
        let body = format!(
            "logout_token={}",
            url::form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>()
        );
        let head = Head::new("POST", "/auth/backchannel-logout")
            .header("content-type", "application/x-www-form-urlencoded");
        let reply = h.block_on(adapter::respond(
            &h.cookie_app,
            &head,
            Some(body.as_bytes()),
        ));
        assert_no_server_error(&reply, "back-channel logout");
        if reply.status() == 200 {
            assert!(
                h.was_signed(signing_input(&token)) && dots == 2,
                "an unsigned logout token was accepted: {token}"
            );
        }
    }
});
