//! `Cookie` header parsing: `RequestHead::cookies()` and `RequestHead::cookie()` over one or
//! more arbitrary `Cookie` headers.
//!
//! Properties:
//! - nothing panics;
//! - every name and value is a slice of one of the headers (nothing is invented or decoded),
//!   names are non-empty, neither holds `;`, and neither has surrounding whitespace (inside
//!   the quotes of a quoted value excepted);
//! - a value is returned without its surrounding double quotes;
//! - `cookie(name)` is the first pair of that name, across headers in order;
//! - splitting one header into several (as HTTP/2 does) yields the same pairs.

#![no_main]

use authentiq_core::adapter::RequestHead;
use authentiq_fuzz::Head;
use libfuzzer_sys::fuzz_target;

/// The header `part` is a slice of, and where in it `part` starts.
fn locate<'a>(part: &str, headers: &'a [(String, String)]) -> Option<(&'a str, usize)> {
    let p = part.as_ptr() as usize;
    headers.iter().find_map(|(_, h)| {
        let start = h.as_ptr() as usize;
        (p >= start && p + part.len() <= start + h.len()).then(|| (h.as_str(), p - start))
    })
}

fn head(values: &[&str]) -> Head {
    values
        .iter()
        .fold(Head::new("GET", "/"), |h, v| h.header("cookie", *v))
}

fuzz_target!(|values: Vec<String>| {
    let values: Vec<&str> = values.iter().map(String::as_str).take(8).collect();
    let h = head(&values);
    let pairs: Vec<(&str, &str)> = h.cookies().collect();
    for (name, value) in &pairs {
        assert!(!name.is_empty(), "an empty name from {values:?}");
        assert!(
            locate(name, &h.headers).is_some(),
            "{name:?} is not from a header"
        );
        assert!(!name.contains(';'), "{name:?} holds a separator");
        assert_eq!(name.trim(), *name, "{name:?} keeps whitespace");
        if value.is_empty() {
            continue;
        }
        let (header, at) = locate(value, &h.headers).expect("a value is from a header");
        // Quotes around the value in the header are dropped (one pair).
        let quoted = header[..at].ends_with('"') && header[at + value.len()..].starts_with('"');
        assert!(!value.contains(';'), "{value:?} holds a separator");
        if !quoted {
            assert_eq!(value.trim(), *value, "{value:?} keeps whitespace");
            assert!(
                !(value.len() >= 2 && value.starts_with('"') && value.ends_with('"')),
                "{value:?} kept its quotes in {header:?}"
            );
        }
    }
    for (name, _) in &pairs {
        let first = pairs.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        assert_eq!(h.cookie(name), first, "cookie({name:?})");
    }

    // The same pairs whether the headers come one by one or joined with "; ".
    if values.iter().all(|v| !v.is_empty()) {
        let joined = values.join("; ");
        let one = head(&[joined.as_str()]);
        let joined_pairs: Vec<(&str, &str)> = one.cookies().collect();
        assert_eq!(joined_pairs, pairs, "split {values:?} vs joined {joined:?}");
    }
});
