//! The two error types: [`ConfigError`] (start-up; never becomes an HTTP response) and
//! [`AuthError`] (per request; each variant has a stable machine code and one mapping to a
//! status and `WWW-Authenticate`, defined here and nowhere else).

use crate::http::{ClientKind, Reply, RequestHead, html_escape};
use http::header::{ALLOW, CACHE_CONTROL, WWW_AUTHENTICATE};

/// The most bytes of untrusted text (a token's `alg`, `typ` or `kid`, a provider's error code,
/// a parameter name) an error message carries, escapes included.
const MAX_QUOTED: usize = 128;

/// Untrusted text made safe for an error message, which reaches logs, JSON bodies, HTML pages
/// and (for token errors) `WWW-Authenticate`: control characters (CR, LF, ESC, ...) are
/// written as escapes (`\r`, `\n`, `\u{1b}`) and never as themselves, and the result is cut
/// at [`MAX_QUOTED`] bytes (marked with `...`).
pub(crate) fn safe_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_QUOTED + 3));
    for c in s.chars() {
        let before = out.len();
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
        if out.len() > MAX_QUOTED {
            out.truncate(before);
            out.push_str("...");
            break;
        }
    }
    out
}

/// Text for a quoted-string in `error_description` (RFC 6750 3: printable ASCII without `"`
/// and `\`): those two become `'`, anything else outside the range becomes `?`. A header value
/// built from it is always valid, whatever the text.
fn description_text(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

/// A configuration or start-up problem: bad issuer, unreachable discovery, bad key or variable.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An issuer or endpoint that is not https, outside loopback development addresses.
    #[error(
        "{what} `{url}` must use https (plain http is allowed only for loopback development addresses)"
    )]
    Insecure {
        /// Which setting.
        what: &'static str,
        /// The offending URL.
        url: String,
    },
    /// A URL that does not parse or cannot serve its purpose.
    #[error("{what} `{value}` is not a valid URL: {reason}")]
    InvalidUrl {
        /// Which setting.
        what: &'static str,
        /// The offending value.
        value: String,
        /// Why.
        reason: String,
    },
    /// A required setting was not given.
    #[error("missing required setting {0}")]
    Missing(&'static str),
    /// An environment variable or setting with a malformed value.
    #[error("{name} is invalid: {reason}")]
    Invalid {
        /// The variable or setting name.
        name: &'static str,
        /// Why.
        reason: String,
    },
    /// The discovery document could not be fetched or parsed.
    #[error("OpenID Provider discovery at {url} failed: {reason}")]
    Discovery {
        /// The discovery URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The discovery document names another issuer than the one configured.
    #[error(
        "the provider at {configured} says its issuer is {discovered}; set the issuer to exactly that value"
    )]
    IssuerMismatch {
        /// What was configured.
        configured: String,
        /// What discovery returned.
        discovered: String,
    },
    /// The provider's key set could not be fetched or held no usable key.
    #[error("the provider's key set (JWKS) at {url} is unusable: {reason}")]
    Jwks {
        /// The JWKS URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    HttpClient(String),
}

/// Why an ID Token (or logout token) was refused. Each variant is exactly one check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenError {
    /// Not a compact JWS (three base64url parts with JSON header and payload), or too large.
    #[error("the token is malformed: {0}")]
    Malformed(&'static str),
    /// A five-part JWE: encrypted ID Tokens need a client decryption key.
    #[error("the token is encrypted (JWE) and no decryption key is configured")]
    Encrypted,
    /// An encrypted ID Token (JWE) that was refused: an algorithm outside the accepted ones
    /// (`RSA1_5`, `dir`, symmetric key wrapping, `PBES2-*`, ...), a `zip` or unknown `crit`
    /// header, a `kid` that names no client key, or any failure to decrypt. Every cause gives
    /// this same error, so that the token's sender learns nothing from the answer or the log.
    #[error("the encrypted token cannot be decrypted with this client's keys")]
    Undecryptable,
    /// A plain signed ID Token where encryption is required
    /// (`AUTHENTIQ_ID_TOKEN_ENCRYPTION=required`).
    #[error("the token is not encrypted, and this client requires encrypted ID Tokens")]
    NotEncrypted,
    /// `alg: none` or an empty signature, or an encrypted token whose content is not a signed JWT.
    #[error("the token is unsigned")]
    Unsigned,
    /// An algorithm outside the policy for the channel the token arrived through.
    #[error(
        "algorithm {} is not allowed for tokens from {channel}",
        safe_text(alg)
    )]
    AlgorithmNotAllowed {
        /// The header's `alg`.
        alg: String,
        /// The channel.
        channel: &'static str,
    },
    /// A header the SDK never honours (`jku`, `x5u`, `jwk`): keys come only from the provider's
    /// JWKS or the client secret.
    #[error("the token header carries `{0}`, which is refused")]
    ForbiddenHeader(&'static str),
    /// A `crit` header naming extensions the SDK does not understand.
    #[error("the token header marks unknown extensions as critical")]
    UnknownCritical,
    /// A `typ` header for another kind of token.
    #[error("the token type `{}` is not accepted here", safe_text(.0))]
    WrongType(String),
    /// No key in the provider's JWKS matches (after one refetch).
    #[error("no provider key matches (kid {})", kid.as_deref().map_or("none".into(), |k| format!("`{}`", safe_text(k))))]
    NoMatchingKey {
        /// The header's `kid`.
        kid: Option<String>,
    },
    /// The signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// A required claim is absent or of the wrong type.
    #[error("required claim `{0}` is missing or malformed")]
    MissingClaim(&'static str),
    /// `iss` differs from the configured issuer (compared byte for byte).
    #[error("the issuer does not match")]
    Issuer,
    /// `aud` does not contain the client id.
    #[error("the audience does not include this client")]
    Audience,
    /// `aud` contains an audience that is not trusted.
    #[error("the token is also meant for an untrusted audience")]
    UntrustedAudience,
    /// `azp` is present and is not the client id.
    #[error("the authorized party is not this client")]
    AuthorizedParty,
    /// `exp` has passed (beyond the leeway).
    #[error("the token has expired")]
    Expired,
    /// `iat` lies in the future (beyond the leeway).
    #[error("the token is issued in the future")]
    IssuedInFuture,
    /// `iat` is older than the configured maximum token age.
    #[error("the token was issued too long ago")]
    TooOld,
    /// `nbf` lies in the future (beyond the leeway).
    #[error("the token is not valid yet")]
    NotYetValid,
    /// `nonce` is missing or differs from the one sent.
    #[error("the nonce does not match")]
    Nonce,
    /// A token that must not carry a nonce (logout tokens) has one.
    #[error("the token carries a nonce where none is allowed")]
    UnexpectedNonce,
    /// `auth_time` is missing while `max_age` was requested, or too old.
    #[error("the authentication is too old for max_age")]
    AuthTime,
    /// `at_hash` does not match the access token.
    #[error("at_hash does not match the access token")]
    AccessTokenHash,
    /// `c_hash` does not match the code.
    #[error("c_hash does not match the authorization code")]
    CodeHash,
    /// The UserInfo `sub` differs from the ID Token's.
    #[error("the UserInfo subject differs from the ID Token subject")]
    SubjectMismatch,
    /// A logout token without the back-channel logout event.
    #[error("the logout token lacks the back-channel logout event")]
    MissingLogoutEvent,
    /// A logout token naming neither `sub` nor `sid`.
    #[error("the logout token names neither sub nor sid")]
    NoSubject,
    /// A logout token whose `jti` was seen before.
    #[error("the logout token was already used")]
    Replayed,
    /// An ID Token of a provider session (`sid`) or subject that was logged out after the token
    /// was issued.
    #[error("the token was issued before a logout that ended it")]
    LoggedOut,
    /// No cached key matches and the provider's key set could not be fetched just now: not
    /// the token's fault, so it becomes 503 `provider_unavailable`.
    #[error("the provider's keys could not be fetched")]
    KeysUnavailable,
    /// A token carrying `events` (a logout token) offered as an ID Token.
    #[error("a logout token is not an ID Token")]
    NotAnIdToken,
}

/// Why a request was refused. Each variant has a stable [`code`](AuthError::code), a status and
/// (for authentication failures) a `WWW-Authenticate` challenge; [`AuthError::api_reply`] and
/// [`AuthError::route_reply`] render it.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No session and no bearer token.
    #[error("authentication is required")]
    Unauthenticated,
    /// A session cookie that is expired, revoked, tampered with or otherwise unusable.
    #[error("the session is no longer valid: {0}")]
    SessionInvalid(&'static str),
    /// A bearer token that failed validation.
    #[error("the bearer token is invalid: {0}")]
    InvalidToken(TokenError),
    /// An ID Token from the sign-in flow that failed validation.
    #[error("the ID Token is invalid: {0}")]
    InvalidIdToken(TokenError),
    /// A malformed request: bad header, parameter or body.
    #[error("invalid request: {}", safe_text(.0))]
    InvalidRequest(String),
    /// The callback's `state` matches no sign-in started in this browser.
    #[error("the state parameter does not match the sign-in started in this browser")]
    StateMismatch,
    /// The callback arrived without a (valid, unexpired) flow cookie.
    #[error("no sign-in is in progress in this browser, or it expired")]
    FlowMissing,
    /// The provider answered the authorization request with an error.
    #[error("the provider refused the sign-in: {}", safe_text(error))]
    Provider {
        /// The OAuth error code from the provider.
        error: String,
        /// Its description, if any.
        description: Option<String>,
    },
    /// The token endpoint refused the code exchange.
    #[error("the code exchange failed: {}", safe_text(error))]
    TokenExchange {
        /// The OAuth error code from the token endpoint.
        error: String,
        /// Its description, if any.
        description: Option<String>,
    },
    /// The provider answered with something that is not a valid response.
    #[error("the provider's response is invalid: {}", safe_text(.0))]
    InvalidProviderResponse(String),
    /// The provider could not be reached in time, or answered with something unreadable
    /// (503 `provider_unavailable`).
    #[error("the provider is unavailable: {}", safe_text(.0))]
    ProviderUnavailable(String),
    /// A scope marked required (`~r`) was not granted.
    #[error("required scopes were declined: {}", safe_text(&.0.join(" ")))]
    RequiredScopeDeclined(Vec<String>),
    /// A scope requested as required and signed (`~rs`, e.g. `email~rs`) came without a
    /// verified value (`email_verified` / `phone_number_verified` not `true`).
    #[error("required verified claims came unverified: {}", safe_text(&.0.join(" ")))]
    UnverifiedClaim(Vec<String>),
    /// A state-changing request from another origin.
    #[error("cross-origin request refused")]
    CrossOrigin,
    /// The auth route does not accept this method.
    #[error("method not allowed")]
    MethodNotAllowed(&'static str),
    /// A request body over the limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// The session store failed.
    #[error("the session store is unavailable: {}", safe_text(.0))]
    Store(String),
    /// The app did not install the adapter's layer/middleware/fairing/filter.
    #[error(
        "authentiq is not configured for this route: install the Authentiq layer (axum), middleware (actix-web), fairing (rocket) or filter (warp) around it"
    )]
    NotConfigured,
}

impl AuthError {
    /// A token refusal as `kind` (e.g. [`AuthError::InvalidIdToken`]), except when the
    /// provider's keys could not be fetched: that is the provider's failure, 503.
    pub(crate) fn token(kind: fn(TokenError) -> AuthError, e: TokenError) -> AuthError {
        match e {
            TokenError::KeysUnavailable => {
                AuthError::ProviderUnavailable("the provider's key set could not be fetched".into())
            }
            e => kind(e),
        }
    }

    /// The stable machine code, used as `error` in JSON bodies and logs.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::SessionInvalid(_) => "session_invalid",
            Self::InvalidToken(_) => "invalid_token",
            Self::InvalidIdToken(_) => "invalid_id_token",
            Self::InvalidRequest(_) => "invalid_request",
            Self::StateMismatch => "state_mismatch",
            Self::FlowMissing => "flow_missing",
            Self::Provider { error, .. } if error == "access_denied" => "access_denied",
            Self::Provider { .. } => "provider_error",
            Self::TokenExchange { .. } => "token_exchange_failed",
            Self::InvalidProviderResponse(_) => "invalid_provider_response",
            Self::ProviderUnavailable(_) => "provider_unavailable",
            Self::RequiredScopeDeclined(_) => "required_scope_declined",
            Self::UnverifiedClaim(_) => "unverified_claim",
            Self::CrossOrigin => "cross_origin",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::Store(_) => "session_store_unavailable",
            Self::NotConfigured => "authentiq_not_configured",
        }
    }

    /// The HTTP status for this error.
    pub fn status(&self) -> u16 {
        match self {
            Self::Unauthenticated | Self::SessionInvalid(_) | Self::InvalidToken(_) => 401,
            Self::Provider { error, .. } if error == "access_denied" => 403,
            Self::RequiredScopeDeclined(_) | Self::UnverifiedClaim(_) | Self::CrossOrigin => 403,
            Self::MethodNotAllowed(_) => 405,
            Self::PayloadTooLarge => 413,
            Self::ProviderUnavailable(_) | Self::Store(_) => 503,
            Self::NotConfigured => 500,
            _ => 400,
        }
    }

    /// Whether this error means "who are you?" (a login or a token would fix it), as opposed
    /// to a failed sign-in or a malformed request.
    pub fn is_authentication(&self) -> bool {
        matches!(
            self,
            Self::Unauthenticated | Self::SessionInvalid(_) | Self::InvalidToken(_)
        )
    }

    /// The `WWW-Authenticate` challenge (RFC 6750), for authentication errors.
    pub fn www_authenticate(&self) -> Option<String> {
        match self {
            Self::InvalidToken(e) => Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                description_text(&e.to_string())
            )),
            Self::Unauthenticated | Self::SessionInvalid(_) => Some("Bearer".to_owned()),
            _ => None,
        }
    }

    /// The JSON error body: `{"error": code, "error_description": text}`.
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::json!({ "error": self.code(), "error_description": self.to_string() })
    }

    /// The API form of this error: status, `WWW-Authenticate` when relevant, JSON body,
    /// `Cache-Control: no-store`.
    pub fn api_reply(&self) -> Reply {
        let mut r = Reply::json(self.status(), &self.json_body()).header(CACHE_CONTROL, "no-store");
        if let Some(c) = self.www_authenticate() {
            r = r.header(WWW_AUTHENTICATE, c);
        }
        if let Self::MethodNotAllowed(allow) = self {
            r = r.header(ALLOW, *allow);
        }
        r
    }

    /// The HTML form of this error, for people in a browser.
    pub fn html_reply(&self) -> Reply {
        let title = match self.status() {
            401 => "Sign-in required",
            403 => "Sign-in refused",
            _ => "Sign-in failed",
        };
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body><h1>{title}</h1><p>{}</p><p><code>{}</code></p><p><a href=\"/\">Back to the home page</a></p></body></html>",
            html_escape(&self.to_string()),
            self.code()
        );
        let mut r = Reply::html(self.status(), html).header(CACHE_CONTROL, "no-store");
        if let Self::MethodNotAllowed(allow) = self {
            r = r.header(ALLOW, *allow);
        }
        r
    }

    /// The reply for an error on an auth route (callback, logout, ...): JSON when the client
    /// asked for it, an HTML page otherwise.
    pub fn route_reply(&self, head: &impl RequestHead) -> Reply {
        if crate::http::wants_json(head) {
            self.api_reply()
        } else {
            self.html_reply()
        }
    }

    /// The negotiated reply on a guarded route: a browser navigation that needs to sign in is
    /// redirected to the login route with `return_to`; everything else gets [`Self::api_reply`].
    /// `login_path` is the login route.
    pub fn guard_reply(&self, head: &impl RequestHead, login_path: &str) -> Reply {
        if self.is_authentication()
            && !matches!(self, Self::InvalidToken(_))
            && ClientKind::of(head) == ClientKind::Browser
        {
            let back = head.path_and_query();
            let to = format!(
                "{login_path}?return_to={}",
                url::form_urlencoded::byte_serialize(back.as_bytes()).collect::<String>()
            );
            return Reply::redirect(303, to).header(CACHE_CONTROL, "no-store");
        }
        self.api_reply()
    }
}
