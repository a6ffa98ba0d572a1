//! The framework-neutral view of a request and the plain-data replies the core decides.
//!
//! Adapters implement [`RequestHead`] for their framework's request (usually through a small
//! local newtype, which the orphan rule allows) and turn a [`Reply`] into their response type.

use std::borrow::Cow;

use http::HeaderName;
use http::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};

/// What the core needs to see of any framework's request: method, target and headers.
///
/// Implemented here for `http::request::Parts` and `http::Request<B>` (axum, warp, anything on
/// `http` 1.x). Other frameworks implement it on a local wrapper type.
///
/// ```
/// use authentiq_core::adapter::RequestHead;
///
/// struct MyHead<'a> { method: &'a str, target: &'a str, headers: &'a [(&'a str, &'a str)] }
///
/// impl RequestHead for MyHead<'_> {
///     fn method(&self) -> &str { self.method }
///     fn path(&self) -> &str { self.target.split('?').next().unwrap_or("/") }
///     fn query(&self) -> Option<&str> { self.target.split_once('?').map(|(_, q)| q) }
///     fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
///         self.headers.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
///     }
/// }
///
/// let head = MyHead { method: "GET", target: "/me?x=1", headers: &[("cookie", "a=1"), ("Cookie", "b=2")] };
/// assert_eq!(head.path(), "/me");
/// assert_eq!(head.cookie("b"), Some("2"));
/// ```
pub trait RequestHead {
    /// The request method, e.g. `"GET"`.
    fn method(&self) -> &str;
    /// The path, as sent (percent-encoded), e.g. `"/auth/callback"`.
    fn path(&self) -> &str;
    /// The raw query string without `?`, if any.
    fn query(&self) -> Option<&str>;
    /// Every value of the header `name` (a lower-case name; lookups are case-insensitive), in
    /// order, without allocating. Values that are not valid UTF-8 are skipped.
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str>;

    /// Path and query, e.g. `"/auth/callback?code=..&state=.."`.
    fn path_and_query(&self) -> Cow<'_, str> {
        match self.query() {
            Some(q) => Cow::Owned(format!("{}?{q}", self.path())),
            None => Cow::Borrowed(self.path()),
        }
    }

    /// The first value of header `name`.
    fn header(&self, name: &'static str) -> Option<&str> {
        self.header_values(name).next()
    }
    /// Every cookie of the request as (name, value), across all `Cookie` headers (HTTP/2
    /// splits them), in order. Whitespace around names and values is ignored, a value in double
    /// quotes is returned without them, and a pair without `=` or with an empty name is
    /// skipped. Nothing is allocated or validated beyond the split, so looking for one cookie
    /// costs one pass over the header.
    fn cookies(&self) -> impl Iterator<Item = (&str, &str)> {
        self.header_values("cookie")
            .flat_map(|header| header.split(';'))
            .filter_map(cookie_pair)
    }
    /// The value of cookie `name`; the first one wins.
    fn cookie(&self, name: &str) -> Option<&str> {
        self.cookies().find(|(n, _)| *n == name).map(|(_, v)| v)
    }
    /// The value of query parameter `name`, percent-decoded.
    fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        let q = self.query()?;
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v)
    }
}

/// One `name=value` pair of a `Cookie` header (see [`RequestHead::cookies`]).
fn cookie_pair(pair: &str) -> Option<(&str, &str)> {
    let (name, value) = pair.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some((name, value))
}

fn http_header_values<'a>(
    headers: &'a http::HeaderMap,
    name: &'static str,
) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
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
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
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
    fn header_values<'a>(&'a self, name: &'static str) -> impl Iterator<Item = &'a str> {
        http_header_values(self.headers(), name)
    }
}

/// A complete HTTP answer decided by the core: status, headers (in order, repeated names such
/// as `set-cookie` allowed) and body. Adapters copy it verbatim.
///
/// Header names are typed ([`HeaderName`]), so a reply can never hold a name a framework would
/// refuse, and the status is always a valid HTTP status code: building a reply never panics.
///
/// ```
/// use authentiq_core::adapter::Reply;
/// use http::header::LOCATION;
///
/// let reply = Reply::redirect(303, "/").header(http::header::CACHE_CONTROL, "no-store");
/// assert_eq!(reply.status(), 303);
/// assert_eq!(reply.header_value(LOCATION), Some("/"));
/// assert_eq!(Reply::new(42).status(), 500); // not a status code: the one fallback
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Reply {
    status: u16,
    headers: Vec<(HeaderName, String)>,
    body: Vec<u8>,
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
                    n.as_str(),
                    if *n == SET_COOKIE {
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
    /// An empty reply with `status`. A number that is not an HTTP status code (outside
    /// 100–999) becomes 500, with a log line: the only status fallback, so that adapters never
    /// need one.
    pub fn new(status: u16) -> Self {
        let status = if http::StatusCode::from_u16(status).is_ok() {
            status
        } else {
            tracing::error!(status, "not an HTTP status code; answering 500");
            500
        };
        Self {
            status,
            headers: Vec::new(),
            body: Vec::new(),
        }
    }
    /// A redirect (`status` 302 or 303) to `location`.
    pub fn redirect(status: u16, location: impl Into<String>) -> Self {
        Self::new(status).header(LOCATION, location)
    }
    /// A JSON reply.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status)
            .header(CONTENT_TYPE, "application/json")
            .with_body(value.to_string().into_bytes())
    }
    /// An HTML reply.
    pub fn html(status: u16, html: impl Into<String>) -> Self {
        Self::new(status)
            .header(CONTENT_TYPE, "text/html; charset=utf-8")
            .with_body(html.into().into_bytes())
    }
    /// Adds a header.
    pub fn header(mut self, name: HeaderName, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    /// Replaces the body.
    pub fn with_body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }
    /// The status code (always a valid one).
    pub fn status(&self) -> u16 {
        self.status
    }
    /// The headers, in order; names are lower-case.
    pub fn headers(&self) -> impl Iterator<Item = (&HeaderName, &str)> {
        self.headers.iter().map(|(n, v)| (n, v.as_str()))
    }
    /// The body bytes; their type is in the `content-type` header.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
    /// The first value of header `name`.
    pub fn header_value(&self, name: HeaderName) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every `Set-Cookie` value.
    pub fn set_cookies(&self) -> impl Iterator<Item = &str> {
        self.headers
            .iter()
            .filter(|(n, _)| *n == SET_COOKIE)
            .map(|(_, v)| v.as_str())
    }
    /// Takes the reply apart: status, headers, body (for adapters on other `http` majors).
    pub fn into_parts(self) -> (u16, Vec<(HeaderName, String)>, Vec<u8>) {
        (self.status, self.headers, self.body)
    }
    /// Removes every header named `name`.
    pub(crate) fn without(mut self, name: &HeaderName) -> Self {
        self.headers.retain(|(n, _)| n != name);
        self
    }
    /// Replaces the status.
    pub(crate) fn with_status(mut self, status: u16) -> Self {
        self.status = Self::new(status).status;
        self
    }
    /// Converts into an `http` 1.x response, for adapters on `http` 1.x. A header value that
    /// is not valid in HTTP (a control character) is dropped with a log line.
    pub fn into_http(self) -> http::Response<Vec<u8>> {
        let mut res = http::Response::new(self.body);
        *res.status_mut() = http::StatusCode::from_u16(self.status)
            .unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = res.headers_mut();
        for (name, value) in self.headers {
            match http::HeaderValue::from_str(&value) {
                Ok(v) => {
                    headers.append(name, v);
                }
                Err(_) => {
                    tracing::warn!(header = %name, "dropping a header value that is not valid")
                }
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
    head.header_values("accept").any(|h| {
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
pub(crate) fn html_escape(s: &str) -> Cow<'_, str> {
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
            &[
                ("cookie", "junk; a=1; =x; b;;  d = 4 ;a=2"),
                ("cookie", "c=\"3\"; e=\"; f=g=h"),
            ],
        );
        assert_eq!(r.cookie("a"), Some("1"), "the first one wins");
        assert_eq!(r.cookie("c"), Some("3"), "quotes are not the value");
        assert_eq!(r.cookie("b"), None, "a pair without = is no cookie");
        assert_eq!(r.cookie(""), None, "an empty name is no cookie");
        assert_eq!(r.cookie("d"), Some("4"), "whitespace around name and value");
        assert_eq!(r.cookie("e"), Some("\""), "a lone quote stays");
        assert_eq!(r.cookie("f"), Some("g=h"), "the value runs to the next ;");
        assert_eq!(r.cookie("junk"), None);
        let all: Vec<_> = r.cookies().collect();
        assert_eq!(
            all,
            [
                ("a", "1"),
                ("d", "4"),
                ("a", "2"),
                ("c", "3"),
                ("e", "\""),
                ("f", "g=h")
            ]
        );
    }

    #[test]
    fn reply_into_http_keeps_repeated_headers() {
        let r = Reply::redirect(303, "/x")
            .header(SET_COOKIE, "a=1")
            .header(SET_COOKIE, "b=2")
            .into_http();
        assert_eq!(r.status(), 303);
        assert_eq!(r.headers().get_all("set-cookie").iter().count(), 2);
    }

    #[test]
    fn a_reply_never_holds_an_invalid_status_or_header() {
        assert_eq!(Reply::new(0).status(), 500);
        assert_eq!(Reply::new(1000).status(), 500);
        assert_eq!(Reply::new(404).status(), 404);
        let res = Reply::new(200)
            .header(LOCATION, "/ok")
            .header(SET_COOKIE, "a=1\r\nx-injected: 1")
            .into_http();
        assert_eq!(res.headers().get(LOCATION).unwrap(), "/ok");
        assert!(res.headers().get(SET_COOKIE).is_none());
        assert!(res.headers().get("x-injected").is_none());
    }

    #[test]
    fn header_lookups_see_every_value_in_order() {
        let r = req("GET", "/", &[("accept", "a"), ("Accept", "b")]);
        assert_eq!(r.header_values("accept").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(r.header("accept"), Some("a"));
        assert_eq!(r.header("x-missing"), None);
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
