//! The authorization endpoint: request validation, pending sign-ins and the user's decision.

use std::collections::HashSet;
use std::time::Instant;

use serde_json::{Map, Value, json};
use url::Url;
use url::form_urlencoded;

use super::{
    Authorization, Client, CodeGrant, PENDING_LIFETIME, Params, Pending, Session, Shared,
    half_hash, now_secs, session_state, valid_pkce_value,
};
use crate::Approval;
use crate::keys::{Alg, random_token};

const INVALID: &str = "invalid_request";

/// A requested scope in Authentiq syntax: `name~flags`, `r` = required, `s` = signed.
#[derive(Clone, Debug)]
pub(crate) struct Scope {
    pub(crate) name: String,
    pub(crate) required: bool,
    pub(crate) signed: bool,
}

pub(crate) fn parse_scopes(scope: &str) -> Vec<Scope> {
    let mut scopes: Vec<Scope> = Vec::new();
    for item in scope.split_whitespace() {
        let (name, flags) = item.split_once('~').unwrap_or((item, ""));
        let (required, signed) = (flags.contains('r'), flags.contains('s'));
        match scopes.iter_mut().find(|s| s.name == name) {
            Some(existing) => {
                existing.required |= required;
                existing.signed |= signed;
            }
            None => scopes.push(Scope {
                name: name.to_owned(),
                required,
                signed,
            }),
        }
    }
    scopes
}

/// Where the authorization response parameters go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
    /// The parameters go to the window that opened the sign-in (`window.opener`) as a
    /// `postMessage` to the redirect URI's origin: how AuthentiqJS receives a response in a
    /// popup.
    WebMessage,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pkce {
    S256,
    Plain,
}

/// A validated authorization request.
#[derive(Clone, Debug)]
pub(crate) struct AuthRequest {
    client: Client,
    pub(crate) redirect_uri: String,
    target: Url,
    pub(crate) mode: ResponseMode,
    code: bool,
    id_token: bool,
    pub(crate) scopes: Vec<Scope>,
    state: Option<String>,
    nonce: Option<String>,
    challenge: Option<(String, Pkce)>,
    pub(crate) prompt_none: bool,
    pub(crate) prompt_consent: bool,
    pub(crate) login_hint: Option<String>,
}

impl AuthRequest {
    pub(crate) fn client_id(&self) -> &str {
        &self.client.id
    }

    pub(crate) fn wants(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.name == scope)
    }
}

/// Where a pending sign-in stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PendingStatus {
    /// The phone has not answered.
    Waiting,
    /// The phone answered; the desktop browser may collect the outcome.
    Answered,
    /// Unknown, expired or collected.
    Gone,
}

/// How the phone approves.
pub(crate) enum Answer {
    /// Tapping the push notification: as the person the browser is remembered for.
    Push,
    /// With the identity the simulated app filled in.
    As(Box<Approval>),
}

/// What collecting a pending sign-in's answer gives the desktop browser.
pub(crate) enum Collect {
    /// The response to deliver to the RP, and the provider's cookies.
    Done(Box<Completion>),
    /// The phone has not answered yet.
    Waiting,
    /// The sign-in was started in another browser.
    OtherBrowser,
    /// Unknown, expired or already collected.
    Gone,
}

/// The browser's next stop: the RP's redirect URI with response parameters.
#[derive(Clone, Debug)]
pub(crate) struct Redirect {
    target: Url,
    pub(crate) mode: ResponseMode,
    pub(crate) params: Vec<(&'static str, String)>,
}

impl Redirect {
    /// The redirect URI the parameters are delivered to (without them).
    pub(crate) fn target(&self) -> &str {
        self.target.as_str()
    }

    /// The redirect URI's origin: where a `web_message` response may be read.
    pub(crate) fn origin(&self) -> String {
        self.target.origin().ascii_serialization()
    }

    /// The full URL: parameters in the fragment for `fragment`, in the query otherwise
    /// (for `form_post` that is what the auto-submitted form carries).
    pub(crate) fn url(&self) -> String {
        let mut url = self.target.clone();
        if self.mode == ResponseMode::Fragment {
            let fragment = form_urlencoded::Serializer::new(String::new())
                .extend_pairs(&self.params)
                .finish();
            url.set_fragment(Some(&fragment));
        } else {
            url.query_pairs_mut().extend_pairs(&self.params);
        }
        url.into()
    }
}

fn error_redirect(
    target: &Url,
    mode: ResponseMode,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Redirect {
    let mut params = vec![
        ("error", error.to_owned()),
        ("error_description", description.to_owned()),
    ];
    params.extend(state.map(|s| ("state", s.to_owned())));
    Redirect {
        target: target.clone(),
        mode,
        params,
    }
}

use AuthorizeError::Page;

/// Why an authorization request cannot proceed.
#[derive(Debug)]
pub(crate) enum AuthorizeError {
    /// The redirect URI cannot be trusted: show an error page, never redirect.
    Page(String),
    /// Report the error to the RP.
    Redirect(Redirect),
}

/// The user's answer to a pending sign-in.
pub(crate) enum Decision<'a> {
    /// `fresh`: the user authenticated just now (not a silent `prompt=none` reuse).
    Approve {
        approval: &'a Approval,
        fresh: bool,
    },
    Deny,
}

/// The outcome of a decided sign-in.
pub(crate) struct Completion {
    pub(crate) redirect: Redirect,
    /// The provider session the browser is now signed in to.
    pub(crate) sid: Option<String>,
    /// A new one-click device handle (`aq:push` granted).
    pub(crate) device: Option<String>,
}

fn text(value: &str) -> Option<Value> {
    (!value.is_empty()).then(|| json!(value))
}

fn opt_text(value: &Option<String>) -> Option<Value> {
    value.as_deref().and_then(text)
}

/// The identity claims a set of granted scopes releases.
/// Whether the value a scope releases is verified: only email and phone can be unverified.
fn verified(a: &Approval, scope: &str) -> bool {
    match scope {
        "email" => a.email_verified,
        "phone" => a.phone_number_verified,
        _ => true,
    }
}

fn identity_claims(a: &Approval, granted: &[String]) -> Map<String, Value> {
    let mut claims = Map::new();
    let mut put = |name: &str, value: Option<Value>| {
        if let Some(value) = value {
            claims.insert(name.to_owned(), value);
        }
    };
    for scope in granted {
        match scope.as_str() {
            "email" if !a.email.is_empty() => {
                put("email", text(&a.email));
                put("email_verified", Some(json!(a.email_verified)));
            }
            "phone" if !a.phone_number.is_empty() => {
                put("phone_number", text(&a.phone_number));
                put(
                    "phone_number_verified",
                    Some(json!(a.phone_number_verified)),
                );
                put("phone_type", text(&a.phone_type));
            }
            "address" => put("address", a.address.clone()),
            "profile" | "aq:name" => {
                put("name", text(&a.name));
                put("given_name", opt_text(&a.given_name));
                put("family_name", opt_text(&a.family_name));
                if scope == "profile" {
                    put("preferred_username", opt_text(&a.preferred_username));
                    put("locale", opt_text(&a.locale));
                    put("zoneinfo", opt_text(&a.zoneinfo));
                }
            }
            "aq:location" => put("aq:location", a.location.clone()),
            "aq:locale" => put("locale", opt_text(&a.locale)),
            "aq:zoneinfo" => put("zoneinfo", opt_text(&a.zoneinfo)),
            "aq:username" => put("preferred_username", opt_text(&a.preferred_username)),
            _ => {}
        }
    }
    claims
}

impl Shared {
    /// Validates an authorization request exactly as `/authorize` does.
    pub(crate) fn validate(
        &self,
        p: &Params,
        browser_sid: Option<&str>,
    ) -> Result<AuthRequest, AuthorizeError> {
        let single = |name| p.get(name).filter(|_| !p.repeated(name));
        let Some(client_id) = single("client_id") else {
            return Err(Page("Missing or repeated client_id.".into()));
        };
        let Some(client) = self.client(client_id) else {
            return Err(Page(format!("Unknown client {client_id:?}.")));
        };
        let redirect_uri = single("redirect_uri").unwrap_or_default();
        let registered = client.reg.redirect_uris.iter().any(|r| r == redirect_uri);
        let Some(target) = Url::parse(redirect_uri).ok().filter(|_| registered) else {
            return Err(Page(format!(
                "The redirect_uri {redirect_uri:?} is not registered for client {client_id:?}."
            )));
        };

        let mut types: Vec<&str> = p.get("response_type").unwrap_or("").split(' ').collect();
        types.sort_unstable();
        let response_type = match types.as_slice() {
            ["code"] => Some((true, false)),
            ["id_token"] => Some((false, true)),
            ["code", "id_token"] => Some((true, true)),
            _ => None,
        };
        let default_mode = match response_type {
            Some((true, false)) | None => ResponseMode::Query,
            Some(_) => ResponseMode::Fragment,
        };
        let state = p.get("state");
        let fail = |mode, error: &str, description: &str| {
            let redirect = error_redirect(&target, mode, state, error, description);
            Err(AuthorizeError::Redirect(redirect))
        };
        let mode = match p.get("response_mode") {
            None => default_mode,
            Some("query") => ResponseMode::Query,
            Some("fragment") => ResponseMode::Fragment,
            Some("form_post") => ResponseMode::FormPost,
            Some("web_message") => ResponseMode::WebMessage,
            Some(_) => return fail(default_mode, INVALID, "unsupported response_mode"),
        };
        if let Some(key) = p.first_repeated() {
            return fail(mode, INVALID, &format!("repeated parameter {key}"));
        }
        let Some((code, id_token)) = response_type else {
            let description = "response_type must be code, id_token or code id_token";
            return fail(mode, "unsupported_response_type", description);
        };
        if id_token && mode == ResponseMode::Query {
            return fail(default_mode, INVALID, "tokens are never sent in the query");
        }
        let scopes = parse_scopes(p.get("scope").unwrap_or(""));
        if !scopes.iter().any(|s| s.name == "openid") {
            return fail(mode, "invalid_scope", "the openid scope is required");
        }
        let nonce = p.get("nonce");
        if id_token && nonce.is_none() {
            return fail(mode, INVALID, "a nonce is required for ID Tokens");
        }
        let method = p.get("code_challenge_method");
        let challenge = match p.get("code_challenge") {
            None if method.is_some() => return fail(mode, INVALID, "code_challenge is missing"),
            None if client.reg.require_pkce => return fail(mode, INVALID, "PKCE is required"),
            None => None,
            Some(c) if !valid_pkce_value(c) => return fail(mode, INVALID, "bad code_challenge"),
            Some(c) => match method.unwrap_or("plain") {
                "S256" => Some((c.to_owned(), Pkce::S256)),
                "plain" => Some((c.to_owned(), Pkce::Plain)),
                _ => return fail(mode, INVALID, "code_challenge_method must be S256 or plain"),
            },
        };
        let prompts: Vec<&str> = p.get("prompt").unwrap_or("").split_whitespace().collect();
        let prompt_none = prompts.contains(&"none");
        if prompt_none && prompts.len() > 1 {
            return fail(mode, INVALID, "prompt=none cannot be combined");
        }
        let max_age = match p.get("max_age").map(str::parse::<u64>) {
            Some(Err(_)) => return fail(mode, INVALID, "max_age must be an integer"),
            age => age.and_then(Result::ok),
        };
        if prompt_none {
            let now = now_secs();
            let fresh_enough =
                |s: &Session| max_age.is_none_or(|age| now.saturating_sub(s.auth_time) <= age);
            let sessions = &self.lock().sessions;
            if !browser_sid
                .and_then(|sid| sessions.get(sid))
                .is_some_and(fresh_enough)
            {
                return fail(mode, "login_required", "the user is not signed in");
            }
        }
        Ok(AuthRequest {
            client,
            redirect_uri: redirect_uri.to_owned(),
            target,
            mode,
            code,
            id_token,
            scopes,
            state: state.map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            challenge,
            prompt_none,
            prompt_consent: prompts.contains(&"consent"),
            login_hint: p.get("login_hint").map(str::to_owned),
        })
    }

    /// Stores a validated request awaiting the phone's answer; returns its id and the
    /// desktop key that collecting the answer takes. `desktop_sid` is the asking browser's
    /// provider session; `push` the person a remembered browser belongs to.
    pub(crate) fn create_pending(
        &self,
        req: AuthRequest,
        desktop_sid: Option<&str>,
        push: Option<Approval>,
    ) -> (String, String) {
        let id = random_token(18);
        let desktop_key = random_token(24);
        let now = Instant::now();
        let mut state = self.lock();
        state.pending.retain(|_, p| p.expires > now);
        let pending = Pending {
            req,
            expires: now + PENDING_LIFETIME,
            desktop_sid: desktop_sid.map(str::to_owned),
            desktop_key: desktop_key.clone(),
            push,
            answered: false,
            outcome: None,
        };
        state.pending.insert(id.clone(), pending);
        (id, desktop_key)
    }

    /// A pending request the phone has not answered yet, and the person a push is for.
    pub(crate) fn peek_pending(&self, id: &str) -> Option<(AuthRequest, Option<Approval>)> {
        let state = self.lock();
        let pending = state.pending.get(id)?;
        (pending.expires > Instant::now() && !pending.answered)
            .then(|| (pending.req.clone(), pending.push.clone()))
    }

    /// Where a pending sign-in stands, for the waiting desktop page.
    pub(crate) fn pending_status(&self, id: &str) -> PendingStatus {
        let state = self.lock();
        match state.pending.get(id) {
            Some(p) if p.expires <= Instant::now() => PendingStatus::Gone,
            Some(p) if p.outcome.is_some() => PendingStatus::Answered,
            Some(_) => PendingStatus::Waiting,
            None => PendingStatus::Gone,
        }
    }

    /// The phone's answer to a pending sign-in: approve as `approval` (or, with `None` and a
    /// push, as the remembered person), or deny. Each sign-in is answered once; `false` when
    /// it is unknown, expired or already answered.
    pub(crate) fn answer_pending(&self, id: &str, approve: Option<Answer>) -> bool {
        let (req, sid, push) = {
            let mut state = self.lock();
            let Some(pending) = state.pending.get_mut(id) else {
                return false;
            };
            if pending.answered || pending.expires <= Instant::now() {
                return false;
            }
            pending.answered = true;
            (
                pending.req.clone(),
                pending.desktop_sid.clone(),
                pending.push.clone(),
            )
        };
        let approval = match approve {
            Some(Answer::Push) => push,
            Some(Answer::As(approval)) => Some(*approval),
            None => None,
        };
        let decision = match &approval {
            Some(approval) => Decision::Approve {
                approval,
                fresh: true,
            },
            None => Decision::Deny,
        };
        let completion = self.complete(&req, decision, sid.as_deref());
        if let Some(pending) = self.lock().pending.get_mut(id) {
            pending.outcome = Some(completion);
        }
        true
    }

    /// The answer, for the desktop browser holding `desktop_key`; the pending sign-in ends.
    pub(crate) fn collect_pending(&self, id: &str, desktop_key: Option<&str>) -> Collect {
        let mut state = self.lock();
        let Some(pending) = state.pending.get(id) else {
            return Collect::Gone;
        };
        if pending.expires <= Instant::now() {
            state.pending.remove(id);
            return Collect::Gone;
        }
        if desktop_key != Some(pending.desktop_key.as_str()) {
            return Collect::OtherBrowser;
        }
        if pending.outcome.is_none() {
            return Collect::Waiting;
        }
        match state.pending.remove(id).and_then(|p| p.outcome) {
            Some(completion) => Collect::Done(Box::new(completion)),
            None => Collect::Gone,
        }
    }

    /// Applies the user's decision and builds the response to the RP.
    pub(crate) fn complete(
        &self,
        req: &AuthRequest,
        decision: Decision<'_>,
        browser_sid: Option<&str>,
    ) -> Completion {
        let (approval, fresh) = match decision {
            Decision::Approve { approval, fresh } => (approval.resolved(), fresh),
            Decision::Deny => {
                let description = "The user declined the sign-in request.";
                let redirect = error_redirect(
                    &req.target,
                    req.mode,
                    req.state.as_deref(),
                    "access_denied",
                    description,
                );
                let (sid, device) = (None, None);
                return Completion {
                    redirect,
                    sid,
                    device,
                };
            }
        };
        let sub = approval.sub.clone().unwrap_or_default();
        let granted: Vec<String> = req
            .scopes
            .iter()
            .filter(|s| {
                s.name == "openid"
                    || (s.required && !approval.ignore_required)
                    || approval.grant.allows(&s.name)
            })
            // A signed scope (`~s`) releases only a verified value: Authentiq signs what it
            // has verified, and an unverified email or phone is not shared under it.
            .filter(|s| !s.signed || approval.release_unverified || verified(&approval, &s.name))
            .map(|s| s.name.clone())
            .collect();
        let claims = identity_claims(&approval, &granted);
        let now = now_secs();

        let client = &req.client;
        let mut state = self.lock();
        let sid = browser_sid
            .filter(|sid| state.sessions.get(*sid).is_some_and(|s| s.sub == sub))
            .map_or_else(|| random_token(18), str::to_owned);
        let session = state
            .sessions
            .entry(sid.clone())
            .or_insert_with(|| Session {
                sub: sub.clone(),
                approval: approval.clone(),
                auth_time: now,
                clients: HashSet::new(),
            });
        if fresh {
            session.auth_time = now;
            session.approval = approval.clone();
        }
        session.clients.insert(client.id.clone());
        let auth = Authorization {
            client_id: client.id.clone(),
            sub,
            sid: sid.clone(),
            auth_time: session.auth_time,
            nonce: req.nonce.clone(),
            scope: granted.join(" "),
            claims,
            session_state: session_state(&client.id, &req.target, &sid),
        };
        let device = granted.iter().any(|s| s == "aq:push").then(|| {
            let handle = random_token(24);
            state.devices.insert(handle.clone(), approval.clone());
            handle
        });

        let mut params = Vec::new();
        let mut extra = Vec::new();
        // Browser-delivered ID Tokens are always asymmetrically signed.
        let browser_alg = match client.reg.id_token_alg {
            Alg::HS256 => Alg::RS256,
            alg => alg,
        };
        if req.code {
            let code = random_token(32);
            let now = Instant::now();
            let expires = now + client.reg.code_lifetime;
            state.codes.retain(|_, c| c.expires > now);
            state.codes.insert(
                code.clone(),
                CodeGrant {
                    auth: auth.clone(),
                    redirect_uri: req.redirect_uri.clone(),
                    challenge: req.challenge.clone(),
                    expires,
                },
            );
            extra.push(("c_hash", json!(half_hash(browser_alg, &code))));
            params.push(("code", code));
        }
        if req.id_token {
            params.push((
                "id_token",
                self.id_token(&state, client, &auth, browser_alg, extra),
            ));
        }
        params.extend(req.state.clone().map(|s| ("state", s)));
        params.push(("session_state", auth.session_state.clone()));
        tracing::info!(client_id = %client.id, scope = %auth.scope, "sign-in approved");
        Completion {
            redirect: Redirect {
                target: req.target.clone(),
                mode: req.mode,
                params,
            },
            sid: Some(sid),
            device,
        }
    }
}
