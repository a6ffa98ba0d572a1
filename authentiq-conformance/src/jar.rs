//! A minimal cookie jar for one browser.

use std::collections::BTreeMap;

use crate::TestResponse;

/// The cookies one browser holds.
#[derive(Clone, Debug, Default)]
pub struct Jar(BTreeMap<String, String>);

impl Jar {
    /// An empty jar.
    pub fn new() -> Self {
        Self::default()
    }
    /// Applies every `Set-Cookie` of `res` (`Max-Age=0` removes).
    pub fn apply(&mut self, res: &TestResponse) {
        for c in res.set_cookies() {
            let first = c.split(';').next().unwrap_or("");
            let Some((name, value)) = first.split_once('=') else {
                continue;
            };
            let removed = c
                .split(';')
                .any(|a| a.trim().eq_ignore_ascii_case("max-age=0"));
            if removed || value.is_empty() {
                self.0.remove(name.trim());
            } else {
                self.0
                    .insert(name.trim().to_owned(), value.trim().to_owned());
            }
        }
    }
    /// Sets a cookie directly.
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.into(), value.into());
    }
    /// Removes a cookie.
    pub fn remove(&mut self, name: &str) {
        self.0.remove(name);
    }
    /// A cookie's value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
    /// Names of the cookies held.
    pub fn names(&self) -> Vec<&str> {
        self.0.keys().map(String::as_str).collect()
    }
    /// The `Cookie` header, if any cookie is held.
    pub fn header(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| {
            self.0
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("; ")
        })
    }
}
