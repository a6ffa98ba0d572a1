//! The provider's state and protocol decisions, free of HTTP: the axum handlers in `http.rs`
//! and the in-process test helpers on `DevProvider` both call into this.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::digest;
use base64::Engine;
use serde_json::{Map, Value, json};
use url::Url;
use url::form_urlencoded;

mod authorize;
mod token;

use authorize::Pkce;
pub(crate) use authorize::{
    Answer, AuthRequest, AuthorizeError, Collect, Completion, Decision, PendingStatus, Redirect,
    ResponseMode, Scope,
};

use crate::keys::{self, Alg, SigningKey, b64url, random_token};
use crate::{Approval, ClientRegistration, DevError, RegisteredClient};

/// How long a pending sign-in (a rendered QR page) stays valid.
pub(crate) const PENDING_LIFETIME: Duration = Duration::from_secs(600);
/// Access token lifetime, `expires_in` of the token response.
const ACCESS_TOKEN_LIFETIME: u64 = 3600;
/// Lifetime of Back-Channel Logout tokens.
const LOGOUT_TOKEN_LIFETIME: u64 = 120;
/// The JWKS `Cache-Control: max-age` until a test sets another, in seconds.
pub(crate) const DEFAULT_JWKS_MAX_AGE: u64 = 600;
/// The Back-Channel Logout event type.
pub(crate) const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Form or query parameters, in order, repeated keys kept.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(encoded: &str) -> Params {
        Params(
            form_urlencoded::parse(encoded.as_bytes())
                .into_owned()
                .collect(),
        )
    }

    /// The first value of `key`; empty values count as absent (RFC 6749 section 3.1).
    pub(crate) fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, v)| k == key && !v.is_empty())
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn repeated(&self, key: &str) -> bool {
        self.all(key).count() > 1
    }

    fn first_repeated(&self) -> Option<&str> {
        let mut seen = HashSet::new();
        self.0
            .iter()
            .map(|(k, _)| k.as_str())
            .find(|k| !seen.insert(*k))
    }
}

/// What ending a session did.
pub(crate) struct Logout {
    /// The registered post-logout redirect (with `state`), if any.
    pub(crate) redirect: Option<String>,
    /// Back-Channel Logout notifications to send: `(uri, logout_token)`.
    pub(crate) notices: Vec<(String, String)>,
    /// Why no redirect happened, for the signed-out page.
    pub(crate) note: Option<String>,
}

#[derive(Clone, Debug)]
struct Client {
    id: String,
    secret: String,
    reg: ClientRegistration,
}

/// What the user granted, as carried by codes and access tokens.
#[derive(Clone, Debug)]
struct Authorization {
    client_id: String,
    sub: String,
    sid: String,
    auth_time: u64,
    nonce: Option<String>,
    scope: String,
    claims: Map<String, Value>,
    session_state: String,
}

struct CodeGrant {
    auth: Authorization,
    redirect_uri: String,
    challenge: Option<(String, Pkce)>,
    expires: Instant,
}

struct AccessGrant {
    sub: String,
    claims: Map<String, Value>,
    expires_at: u64,
}

struct Session {
    sub: String,
    approval: Approval,
    auth_time: u64,
    clients: HashSet<String>,
}

/// A sign-in waiting for the phone, then for the desktop browser to collect the answer.
struct Pending {
    req: AuthRequest,
    expires: Instant,
    /// The provider session of the desktop browser that asked, reused on approval.
    desktop_sid: Option<String>,
    /// The secret (a cookie of the desktop browser) that collecting the answer needs, so that
    /// the sign-in continues in the browser that started it and nowhere else.
    desktop_key: String,
    /// One-click: the person this browser is remembered for, whose phone gets the push.
    push: Option<Approval>,
    /// Set once the phone has answered.
    answered: bool,
    /// The phone's answer, once given, until the desktop browser collects it.
    outcome: Option<Completion>,
}

struct State {
    clients: HashMap<String, Client>,
    current_keys: Vec<SigningKey>,
    retired_keys: Vec<SigningKey>,
    pending: HashMap<String, Pending>,
    codes: HashMap<String, CodeGrant>,
    /// Redeemed codes and the access token each produced, to revoke it on replay.
    redeemed: HashMap<String, String>,
    access: HashMap<String, AccessGrant>,
    sessions: HashMap<String, Session>,
    devices: HashMap<String, Approval>,
}

impl State {
    fn key(&self, alg: Alg) -> Option<&SigningKey> {
        self.current_keys.iter().find(|k| k.alg() == alg)
    }

    /// Signs `claims` the way the client's tokens are signed with `alg`.
    fn sign(&self, client: &Client, alg: Alg, typ: &str, claims: &Value) -> String {
        match self.key(alg) {
            Some(key) => key.sign_jws(
                &json!({"alg": alg.as_str(), "typ": typ, "kid": key.kid()}),
                claims,
            ),
            None => keys::hs256(
                client.secret.as_bytes(),
                &json!({"alg": "HS256", "typ": typ}),
                claims,
            ),
        }
    }
}

/// Everything the running provider knows.
pub(crate) struct Shared {
    pub(crate) base: String,
    pub(crate) issuer: String,
    state: Mutex<State>,
    pub(crate) jwks_fetches: AtomicUsize,
    /// The JWKS `Cache-Control: max-age`, in seconds; `u64::MAX` sends no `Cache-Control`.
    jwks_max_age: AtomicU64,
    pub(crate) token_requests: AtomicUsize,
    token_requests_by_client: Mutex<HashMap<String, usize>>,
}

fn generate_keys() -> Vec<SigningKey> {
    Alg::ASYMMETRIC
        .into_iter()
        .map(SigningKey::generate)
        .collect()
}

pub(crate) fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn sha256(data: &[u8]) -> digest::Digest {
    digest::digest(&digest::SHA256, data)
}

/// `at_hash` / `c_hash`: base64url of the left half of SHA-256.
/// `at_hash` / `c_hash`: the left half of the hash that goes with the ID Token's algorithm
/// (SHA-512 for EdDSA with Ed25519, SHA-256 for the others here).
fn half_hash(alg: Alg, value: &str) -> String {
    let hash = match alg {
        Alg::EdDSA => digest::digest(&digest::SHA512, value.as_bytes()),
        Alg::HS256 | Alg::RS256 | Alg::ES256 => sha256(value.as_bytes()),
    };
    let bytes = hash.as_ref();
    b64url(&bytes[..bytes.len() / 2])
}

/// Authentiq-style stable subject: 43 base64url characters derived from the email address.
pub(crate) fn derive_sub(email: &str) -> String {
    let input = format!("authentiq-dev:{}", email.trim().to_lowercase());
    b64url(sha256(input.as_bytes()).as_ref())
}

/// The OIDC Session Management "browser state" the check-session iframe reads from a cookie.
pub(crate) fn browser_state(sid: &str) -> String {
    b64url(sha256(format!("authentiq-dev-bs:{sid}").as_bytes()).as_ref())
}

fn session_state(client_id: &str, target: &Url, sid: &str) -> String {
    let salt = random_token(12);
    let origin = target.origin().ascii_serialization();
    let input = format!("{client_id} {origin} {} {salt}", browser_state(sid));
    format!("{}.{salt}", b64url(sha256(input.as_bytes()).as_ref()))
}

fn valid_pkce_value(value: &str) -> bool {
    (43..=128).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Reads the payload of a compact JWS without checking its signature.
fn peek_claims(token: &str) -> Option<Value> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

impl Shared {
    pub(crate) fn new(base: String) -> Shared {
        Shared {
            issuer: format!("{base}/"),
            base,
            state: Mutex::new(State {
                clients: HashMap::new(),
                current_keys: generate_keys(),
                retired_keys: Vec::new(),
                pending: HashMap::new(),
                codes: HashMap::new(),
                redeemed: HashMap::new(),
                access: HashMap::new(),
                sessions: HashMap::new(),
                devices: HashMap::new(),
            }),
            jwks_fetches: AtomicUsize::new(0),
            jwks_max_age: AtomicU64::new(DEFAULT_JWKS_MAX_AGE),
            token_requests: AtomicUsize::new(0),
            token_requests_by_client: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent across a panic in a handler: every update is one insert or
        // remove, so a poisoned lock is safe to keep using.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn discovery(&self) -> Value {
        let base = &self.base;
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "jwks_uri": format!("{base}/public-keys"),
            "end_session_endpoint": format!("{base}/authorize/logout"),
            "check_session_iframe": format!("{base}/authorize/check-session"),
            "scopes_supported": ["openid", "email", "phone", "address", "profile", "aq:name",
                "aq:location", "aq:locale", "aq:zoneinfo", "aq:username", "aq:push"],
            "response_types_supported": ["code", "id_token", "code id_token"],
            "response_modes_supported": ["query", "fragment", "form_post", "web_message"],
            "grant_types_supported": ["authorization_code", "implicit"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": Alg::ALL.map(|a| a.as_str()),
            "id_token_encryption_alg_values_supported": crate::jwe::KEY_MANAGEMENT,
            "id_token_encryption_enc_values_supported": crate::jwe::CONTENT_ENCRYPTION,
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256", "plain"],
            "display_values_supported": ["page", "popup", "modal"],
            "prompt_values_supported": ["none", "login", "consent"],
            "claims_supported": ["iss", "sub", "aud", "azp", "exp", "iat", "auth_time", "nonce",
                "sid", "scope", "at_hash", "c_hash", "name", "given_name", "family_name",
                "preferred_username", "email", "email_verified", "phone_number",
                "phone_number_verified", "phone_type", "address", "locale", "zoneinfo",
                "aq:location"],
            "claims_parameter_supported": false,
            "request_parameter_supported": false,
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
        })
    }

    pub(crate) fn jwks(&self) -> Value {
        let state = self.lock();
        let keys: Vec<Value> = state
            .current_keys
            .iter()
            .chain(&state.retired_keys)
            .map(SigningKey::public_jwk)
            .collect();
        json!({ "keys": keys })
    }

    pub(crate) fn jwks_max_age(&self) -> Option<u64> {
        match self.jwks_max_age.load(Ordering::SeqCst) {
            u64::MAX => None,
            age => Some(age),
        }
    }

    pub(crate) fn set_jwks_max_age(&self, age: Option<u64>) {
        let age = age.map_or(u64::MAX, |a| a.min(u64::MAX - 1));
        self.jwks_max_age.store(age, Ordering::SeqCst);
    }

    pub(crate) fn set_signing_key(&self, key: SigningKey) -> Option<SigningKey> {
        let mut state = self.lock();
        let alg = key.alg();
        let kid = key.kid().to_owned();
        // A reused kid names only the new key from now on.
        state.retired_keys.retain(|k| k.kid() != kid);
        match state.current_keys.iter().position(|k| k.alg() == alg) {
            Some(i) => Some(std::mem::replace(&mut state.current_keys[i], key)),
            None => {
                state.current_keys.push(key);
                None
            }
        }
    }

    pub(crate) fn withdraw_key(&self, kid: &str) -> bool {
        let mut state = self.lock();
        let retired = state.retired_keys.len();
        state.retired_keys.retain(|k| k.kid() != kid);
        let mut found = state.retired_keys.len() != retired;
        let withdrawn: Vec<Alg> = state
            .current_keys
            .iter()
            .filter(|k| k.kid() == kid)
            .map(SigningKey::alg)
            .collect();
        drop(state);
        for alg in withdrawn {
            found = true;
            // Generated outside the lock (RSA is slow), then swapped in if still current.
            let fresh = SigningKey::generate(alg);
            let mut state = self.lock();
            if let Some(slot) = state
                .current_keys
                .iter_mut()
                .find(|k| k.alg() == alg && k.kid() == kid)
            {
                *slot = fresh;
            }
        }
        found
    }

    pub(crate) fn rotate_keys(&self, keep_old: bool) {
        let fresh = generate_keys(); // RSA generation is slow: not under the lock
        let mut state = self.lock();
        let old = std::mem::replace(&mut state.current_keys, fresh);
        if keep_old {
            state.retired_keys.extend(old);
        } else {
            state.retired_keys.clear();
        }
    }

    pub(crate) fn signing_key(&self, alg: Alg) -> Option<SigningKey> {
        self.lock().key(alg).cloned()
    }

    pub(crate) fn register(&self, reg: ClientRegistration) -> RegisteredClient {
        let id = reg.client_id.clone().unwrap_or_else(|| random_token(16));
        let secret = reg
            .client_secret
            .clone()
            .unwrap_or_else(|| random_token(32));
        tracing::debug!(client_id = %id, alg = %reg.id_token_alg, "registered client");
        self.lock().clients.insert(
            id.clone(),
            Client {
                id: id.clone(),
                secret: secret.clone(),
                reg,
            },
        );
        RegisteredClient {
            client_id: id,
            client_secret: secret,
        }
    }

    fn client(&self, client_id: &str) -> Option<Client> {
        self.lock().clients.get(client_id).cloned()
    }

    /// The active provider session of `sub`, if any (the in-process "browser").
    pub(crate) fn session_of(&self, sub: &str) -> Option<String> {
        self.lock()
            .sessions
            .iter()
            .find(|(_, s)| s.sub == sub)
            .map(|(sid, _)| sid.clone())
    }

    /// The identity behind a provider session (for `prompt=none`).
    pub(crate) fn session_approval(&self, sid: &str) -> Option<Approval> {
        self.lock().sessions.get(sid).map(|s| s.approval.clone())
    }

    /// The identity linked to a one-click device cookie.
    pub(crate) fn device(&self, handle: &str) -> Option<Approval> {
        self.lock().devices.get(handle).cloned()
    }

    /// Mints an ID Token as the token endpoint would; `null` in `extra` removes a claim.
    pub(crate) fn mint_id_token(
        &self,
        client_id: &str,
        alg: Option<Alg>,
        sub: &str,
        extra: Value,
    ) -> Result<String, DevError> {
        let state = self.lock();
        let client = state
            .clients
            .get(client_id)
            .ok_or_else(|| DevError::UnknownClient(client_id.to_owned()))?;
        let now = now_secs();
        let mut claims = json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": client.id,
            "azp": client.id,
            "iat": now,
            "exp": now + client.reg.id_token_lifetime.as_secs(),
        });
        if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
            for (name, value) in extra {
                if value.is_null() {
                    claims.remove(&name);
                } else {
                    claims.insert(name, value);
                }
            }
        }
        let alg = alg.unwrap_or(client.reg.id_token_alg);
        Ok(seal_for(client, state.sign(client, alg, "JWT", &claims)))
    }

    /// A Back-Channel Logout token for a client: `(backchannel_logout_uri, token)`.
    pub(crate) fn logout_token(
        &self,
        client_id: &str,
        sub: Option<&str>,
        sid: Option<&str>,
    ) -> Result<(String, String), DevError> {
        if sub.is_none() && sid.is_none() {
            return Err(DevError::MissingSubject);
        }
        let state = self.lock();
        let client = state
            .clients
            .get(client_id)
            .ok_or_else(|| DevError::UnknownClient(client_id.to_owned()))?;
        let uri = client
            .reg
            .backchannel_logout_uri
            .clone()
            .ok_or_else(|| DevError::NoBackchannelUri(client_id.to_owned()))?;
        let now = now_secs();
        let mut claims = json!({
            "iss": self.issuer,
            "aud": client.id,
            "iat": now,
            "exp": now + LOGOUT_TOKEN_LIFETIME,
            "jti": random_token(16),
            "events": { BACKCHANNEL_EVENT: {} },
        });
        if let Some(sub) = sub {
            claims["sub"] = json!(sub);
        }
        if let Some(sid) = sid {
            claims["sid"] = json!(sid);
        }
        let token = state.sign(client, client.reg.id_token_alg, "logout+jwt", &claims);
        Ok((uri, token))
    }

    /// RP-initiated logout: ends the provider session named by the `id_token_hint` (or the
    /// browser's), notifies its clients over the back channel, and picks the next stop.
    pub(crate) fn end_session(&self, p: &Params, browser_sid: Option<&str>) -> Logout {
        let hint = p
            .get("id_token_hint")
            .and_then(peek_claims)
            .filter(|claims| claims["iss"] == self.issuer);
        let claim = |name: &str| hint.as_ref().and_then(|h| h[name].as_str());
        let client = hint
            .as_ref()
            .and_then(|h| h["aud"].as_str().or_else(|| h["aud"][0].as_str()))
            .and_then(|id| self.client(id));

        let sid = claim("sid").or(browser_sid);
        let ended = sid.and_then(|sid| self.lock().sessions.remove(sid));
        let mut notices = Vec::new();
        if let (Some(sid), Some(session)) = (sid, &ended) {
            let mut clients: Vec<&String> = session.clients.iter().collect();
            clients.sort();
            for client in clients {
                // Clients without a back-channel URI are skipped.
                notices.extend(
                    self.logout_token(client, Some(&session.sub), Some(sid))
                        .ok(),
                );
            }
            tracing::info!(sub = %session.sub, "provider session ended");
        }

        let target = p.get("post_logout_redirect_uri");
        let registered = |uri: &&str| {
            client.is_some_and(|c| c.reg.post_logout_redirect_uris.iter().any(|r| r == uri))
        };
        let redirect = target.filter(registered).and_then(|uri| {
            let mut url = Url::parse(uri).ok()?;
            if let Some(state) = p.get("state") {
                url.query_pairs_mut().append_pair("state", state);
            }
            Some(url.into())
        });
        let note = (target.is_some() && redirect.is_none()).then(|| {
            "The post_logout_redirect_uri is not registered for the client of the id_token_hint."
                .to_owned()
        });
        Logout {
            redirect,
            notices,
            note,
        }
    }

    /// Builds and signs an ID Token for an authorization.
    fn id_token(
        &self,
        state: &State,
        client: &Client,
        auth: &Authorization,
        alg: Alg,
        extra: Vec<(&str, Value)>,
    ) -> String {
        let now = now_secs();
        let mut claims = auth.claims.clone();
        let registered = [
            ("iss", json!(self.issuer)),
            ("sub", json!(auth.sub)),
            ("aud", json!(client.id)),
            ("azp", json!(client.id)),
            ("exp", json!(now + client.reg.id_token_lifetime.as_secs())),
            ("iat", json!(now)),
            ("auth_time", json!(auth.auth_time)),
            ("sid", json!(auth.sid)),
            ("scope", json!(auth.scope)),
        ];
        for (name, value) in registered.into_iter().chain(extra) {
            claims.insert(name.to_owned(), value);
        }
        if let Some(nonce) = &auth.nonce {
            claims.insert("nonce".into(), json!(nonce));
        }
        seal_for(
            client,
            state.sign(client, alg, "JWT", &Value::Object(claims)),
        )
    }
}

/// The ID Token as the client registered to receive it: encrypted to its key when it set
/// `id_token_encrypted_response_alg`, the signed token itself otherwise. A client whose keys
/// cannot be had gets the signed token and the log says why (the client then refuses it).
fn seal_for(client: &Client, signed: String) -> String {
    let reg = &client.reg;
    let Some(alg) = reg.id_token_encrypted_response_alg.as_deref() else {
        return signed;
    };
    let enc = reg
        .id_token_encrypted_response_enc
        .as_deref()
        .unwrap_or("A128CBC-HS256");
    let jwks = match (&reg.jwks, &reg.jwks_uri) {
        (Some(jwks), _) => Ok(jwks.clone()),
        (None, Some(uri)) => fetch_jwks(uri),
        (None, None) => Err("the client registered neither jwks nor jwks_uri".to_owned()),
    };
    let sealed = jwks.and_then(|jwks| {
        let key = crate::jwe::pick_key(&jwks, alg)
            .ok_or_else(|| format!("the client has no key for {alg}"))?;
        crate::jwe::encrypt(signed.as_bytes(), key, alg, enc)
    });
    match sealed {
        Ok(token) => token,
        Err(why) => {
            tracing::error!(client_id = %client.id, "cannot encrypt the ID Token: {why}");
            signed
        }
    }
}

/// Fetches a client's `jwks_uri`, on a thread of its own so that it can be called from the
/// provider's request handlers.
fn fetch_jwks(uri: &str) -> Result<Value, String> {
    let uri = uri.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let response = reqwest::Client::new()
                .get(&uri)
                .timeout(std::time::Duration::from_secs(5))
                .send()
                .await
                .map_err(|e| format!("fetching {uri}: {e}"))?;
            if !response.status().is_success() {
                return Err(format!("{uri} answered {}", response.status()));
            }
            let text = response.text().await.map_err(|e| e.to_string())?;
            serde_json::from_str(&text).map_err(|e| format!("{uri}: {e}"))
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the JWKS fetch panicked".into()))
}

impl Shared {
    /// Counts a token request by an authenticated client.
    pub(crate) fn count_token_request(&self, client_id: &str) {
        let mut map = self
            .token_requests_by_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        *map.entry(client_id.to_owned()).or_default() += 1;
    }

    pub(crate) fn token_requests_for(&self, client_id: &str) -> usize {
        let map = self
            .token_requests_by_client
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        map.get(client_id).copied().unwrap_or(0)
    }
}
