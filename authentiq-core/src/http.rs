//! The framework-neutral view of a request and the plain-data replies the core decides.
//!
//! Adapters implement [`RequestHead`] for their framework's request (usually through a small
//! local newtype, which the orphan rule allows) and turn a [`Reply`] into their response type.

use std::borrow::Cow;

/// What the core needs to see of any framework's request: method, target and headers.
///
/// Implemented here for `http::request::Parts` and `http::Request<B>` (axum, warp, anything on
/// `http` 1.x). Other frameworks implement it on a local wrapper type.
///
/// ```
/// use authentiq_core::RequestHead;
///
/// struct MyHead<'a> { method: &'a str, target: &'a str, headers: &'a [(&'a str, &'a str)] }
///
/// impl RequestHead for MyHead<'_> {
///     fn method(&self) -> &str { self.method }
///     fn path(&self) -> &str { self.target.split('?').next().unwrap_or("/") }
///     fn query(&self) -> Option<&str> { self.target.split_once('?').map(|(_, q)| q) }
///     fn header_values(&self, name: &str) -> Vec<&str> {
///         self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v).collect()
///     }
/// }
///
/// let head = MyHead { method: "GET", target: "/me?x=1", headers: &[("cookie", "a=1"), ("Cookie", "b=2")] };
/// assert_eq!(head.path(), "/me");
/// assert_eq!(head.cookie("b").as_deref(), Some("2"));
/// ```
pub trait RequestHead {
    /// The request method, e.g. `"GET"`.
    fn method(&self) -> &str;
    /// The path, as sent (percent-encoded), e.g. `"/auth/callback"`.
    fn path(&self) -> &str;
    /// The raw query string without `?`, if any.
    fn query(&self) -> Option<&str>;
    /// Every value of the header `name` (case-insensitive), in order. Values that are not valid
    /// UTF-8 are skipped.
    fn header_values(&self, name: &str) -> Vec<&str>;

    /// Path and query, e.g. `"/auth/callback?code=..&state=.."`.
    fn path_and_query(&self) -> Cow<'_, str> {
        match self.query() {
            Some(q) => Cow::Owned(format!("{}?{q}", self.path())),
            None => Cow::Borrowed(self.path()),
        }
    }

    /// The first value of header `name`.
    fn header(&self, name: &str) -> Option<&str> {
        self.header_values(name).into_iter().next()
    }
    /// The value of cookie `name`, searching every `Cookie` header (HTTP/2 splits them).
    /// Malformed pairs are skipped; the first match wins.
    fn cookie(&self, name: &str) -> Option<String> {
        for header in self.header_values("cookie") {
            for pair in header.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=')
                    && k.trim() == name
                {
                    let v = v.trim();
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .unwrap_or(v);
                    return Some(v.to_owned());
                }
            }
        }
        None
    }
    /// Every cookie whose name starts with `prefix`, as (name, value).
    fn cookies_with_prefix(&self, prefix: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for header in self.header_values("cookie") {
            for pair in header.split(';') {
                if let Some((k, v)) = pair.trim().split_once('=')
                    && k.trim().starts_with(prefix)
                {
                    out.push((k.trim().to_owned(), v.trim().to_owned()));
                }
            }
        }
        out
    }
    /// The value of query parameter `name`, percent-decoded.
    fn query_param(&self, name: &str) -> Option<String> {
        let q = self.query()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }
}

fn http_header_values<'a>(headers: &'a http::HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

impl RequestHead for http::request::Parts {
    fn method(&self) -> &str {
        self.method.as_str()
    }
    fn path(&self) -> &str {
        self.uri.path()
    }
    fn query(&self) -> Option<&str> {
        self.uri.query()
    }
    fn header_values(&self, name: &str) -> Vec<&str> {
        http_header_values(&self.headers, name)
    }
}

impl<B> RequestHead for http::Request<B> {
    fn method(&self) -> &str {
        self.method().as_str()
    }
    fn path(&self) -> &str {
        self.uri().path()
    }
    fn query(&self) -> Option<&str> {
        self.uri().query()
    }
    fn header_values(&self, name: &str) -> Vec<&str> {
        http_header_values(self.headers(), name)
    }
}

/// A complete HTTP answer decided by the core: status, headers (in order, names lowercase,
/// repeated names such as `set-cookie` allowed) and body. Adapters copy it verbatim.
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    /// Status code.
    pub status: u16,
    /// Headers, lowercase names, in order; `set-cookie` may repeat.
    pub headers: Vec<(&'static str, String)>,
    /// The body bytes; its type is in the `content-type` header.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for Reply {
    /// Shows the body as text (frameworks log refusals with `Debug`); `Set-Cookie` values are
    /// elided because they carry sealed sessions.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, &str)> = self
            .headers
            .iter()
            .map(|(n, v)| {
                (
                    *n,
                    if *n == "set-cookie" {
                        "<elided>"
                    } else {
                        v.as_str()
                    },
                )
            })
            .collect();
        f.debug_struct("Reply")
            .field("status", &self.status)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

impl Reply {
    /// An empty reply with `status`.
    pub fn new(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    /// A redirect (`status` 302 or 303) to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self::new(status).header("location", location)
    }
    /// A JSON reply.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status)
            .header("content-type", "application/json")
            .with_body(value.to_string().into_bytes())
    }
    /// An HTML reply.
    pub fn html(status: u16, html: impl Into<String>) -> Self {
        Self::new(status)
            .header("content-type", "text/html; charset=utf-8")
            .with_body(html.into().into_bytes())
    }
    /// Adds a header.
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    /// Replaces the body.
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
    /// The first value of header `name`.
    pub fn header_value(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(n, _)| *n == "set-cookie")
            .map(|(_, v)| v.as_str())
    }
    /// Converts into an `http` 1.x response, for adapters on `http` 1.x.
    pub fn into_http(self) -> http::Response<Vec<u8>> {
        let mut res = http::Response::new(self.body);
        *res.status_mut() =
            http::StatusCode::from_u16(self.status).unwrap_or(http::StatusCode::BAD_REQUEST);
        let headers = res.headers_mut();
        for (name, value) in self.headers {
            if let Ok(v) = http::HeaderValue::from_str(&value) {
                headers.append(http::HeaderName::from_static(name), v);
            } else {
                tracing::warn!(header = name, "dropping a header value that is not valid");
            }
        }
        res
    }
}

/// Who is asking, for content negotiation of unauthenticated and error answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientKind {
    /// A top-level browser navigation: redirect it to sign in, show it HTML.
    Browser,
    /// Anything else (API clients, XHR/fetch): 401 with `WWW-Authenticate` and JSON.
    Api,
}

impl ClientKind {
    /// Decides from the request head. A navigation is a `GET`/`HEAD` whose `Accept` names
    /// `text/html` (or whose `Sec-Fetch-Mode` is `navigate`) and that is not marked as XHR.
    pub fn of(head: &impl RequestHead) -> Self {
        let m = head.method();
        if m != "GET" && m != "HEAD" {
            return Self::Api;
        }
        if head
            .header("x-requested-with")
            .is_some_and(|v| v.eq_ignore_ascii_case("xmlhttprequest"))
        {
            return Self::Api;
        }
        if let Some(mode) = head.header("sec-fetch-mode") {
            return if mode.eq_ignore_ascii_case("navigate") {
                Self::Browser
            } else {
                Self::Api
            };
        }
        if accepts(head, "text/html") {
            Self::Browser
        } else {
            Self::Api
        }
    }
}

/// Whether any `Accept` header lists `media` (no quality weighting: `q=0` excluded).
pub(crate) fn accepts(head: &impl RequestHead, media: &str) -> bool {
    head.header_values("accept").iter().any(|h| {
        h.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let ty = parts.next().unwrap_or("");
            let zero = parts.any(|p| p.replace(' ', "") == "q=0");
            ty.eq_ignore_ascii_case(media) && !zero
        })
    })
}

/// Whether the client prefers JSON for an error page: it asked for JSON and not for HTML.
pub(crate) fn wants_json(head: &impl RequestHead) -> bool {
    accepts(head, "application/json") && !accepts(head, "text/html")
        || head
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(s: &str) -> Cow<'_, str> {
    if !s.contains(['<', '>', '&', '"', '\'']) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn req(method: &str, uri: &str, headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn negotiation() {
        let browser = req(
            "GET",
            "/me",
            &[("accept", "text/html,application/xhtml+xml")],
        );
        assert_eq!(ClientKind::of(&browser), ClientKind::Browser);
        let api = req("GET", "/me", &[("accept", "application/json")]);
        assert_eq!(ClientKind::of(&api), ClientKind::Api);
        let none = req("GET", "/me", &[]);
        assert_eq!(ClientKind::of(&none), ClientKind::Api);
        let xhr = req(
            "GET",
            "/me",
            &[
                ("accept", "text/html"),
                ("x-requested-with", "XMLHttpRequest"),
            ],
        );
        assert_eq!(ClientKind::of(&xhr), ClientKind::Api);
        let fetch = req(
            "GET",
            "/me",
            &[("accept", "*/*"), ("sec-fetch-mode", "cors")],
        );
        assert_eq!(ClientKind::of(&fetch), ClientKind::Api);
        let post = req("POST", "/me", &[("accept", "text/html")]);
        assert_eq!(ClientKind::of(&post), ClientKind::Api);
        let q0 = req(
            "GET",
            "/me",
            &[("accept", "text/html;q=0, application/json")],
        );
        assert_eq!(ClientKind::of(&q0), ClientKind::Api);
    }

    #[test]
    fn cookies_across_headers_and_malformed_pairs() {
        let r = req(
            "GET",
            "/",
            &[("cookie", "junk; a=1; =x; b"), ("cookie", "c=\"3\"")],
        );
        assert_eq!(r.cookie("a").as_deref(), Some("1"));
        assert_eq!(r.cookie("c").as_deref(), Some("3"));
        assert_eq!(r.cookie("b"), None);
    }

    #[test]
    fn reply_into_http_keeps_repeated_headers() {
        let r = Reply::redirect(303, "/x")
            .header("set-cookie", "a=1")
            .header("set-cookie", "b=2")
            .into_http();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn escape() {
        assert_eq!(
            html_escape("<a href='x'>&\""),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;"
        );
        assert!(matches!(html_escape("plain"), Cow::Borrowed(_)));
    }
}
