//! Self-contained HTML pages (inline CSS, no external assets). Every interpolated value goes
//! through [`escape`].

use std::fmt::Write;

use qrcode::QrCode;
use qrcode::render::svg;

use crate::Approval;
use crate::provider::{AuthRequest, Redirect, Scope};

/// Escapes text for HTML element content and quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;background:#f4f6f8;color:#1d2733;\
margin:0;padding:2rem}main{max-width:46rem;margin:auto;background:#fff;border-radius:12px;\
padding:2rem;box-shadow:0 2px 12px #0002}h1{margin-top:0;color:#0a7ea4}code{background:#eef;\
padding:0 .3em;border-radius:4px}.badge{font-size:.75em;background:#0a7ea4;color:#fff;\
border-radius:8px;padding:.1em .5em;margin-left:.3em}.badge.signed{background:#2e7d32}\
.qr svg{width:220px;height:220px}.phone{border:2px solid #1d2733;border-radius:24px;\
padding:1.2rem;max-width:22rem;margin-top:1.5rem;background:#fafbfc}.phone label{display:block;\
margin:.5rem 0}.phone input[type=text],.phone input[type=email],.phone select{width:100%;\
box-sizing:border-box;padding:.3rem}fieldset{border:1px solid #ccd;border-radius:8px}\
button{font-size:1rem;padding:.5rem 1.2rem;margin:.8rem .4rem 0 0;border-radius:8px;\
border:0;cursor:pointer}button.approve{background:#0a7ea4;color:#fff}button.deny{background:#ddd}\
.muted{color:#667}";

fn layout(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>{}</title><style>{STYLE}</style></head><body><main>{body}</main></body></html>",
        escape(title)
    )
}

fn describe(scope: &str) -> &str {
    match scope {
        "openid" => "Your Authentiq ID",
        "email" => "Email address",
        "phone" => "Phone number",
        "address" => "Postal address",
        "profile" => "Profile",
        "aq:name" => "Name",
        "aq:location" => "Location",
        "aq:locale" => "Locale",
        "aq:zoneinfo" => "Time zone",
        "aq:username" => "User name",
        "aq:push" => "Remember this browser (one-click sign in)",
        other => other,
    }
}

fn badges(scope: &Scope) -> String {
    let mut out = String::new();
    if scope.required {
        out.push_str("<span class=\"badge\">required</span>");
    }
    if scope.signed {
        out.push_str("<span class=\"badge signed\">signed/verified</span>");
    }
    out
}

fn scope_list(req: &AuthRequest) -> String {
    let mut out = String::from("<ul class=\"scopes\">");
    for scope in &req.scopes {
        let _ = write!(
            out,
            "<li><code>{}</code> {}{}</li>",
            escape(&scope.name),
            escape(describe(&scope.name)),
            badges(scope)
        );
    }
    out.push_str("</ul>");
    out
}

fn qr_svg(data: &str) -> String {
    match QrCode::new(data.as_bytes()) {
        Ok(code) => {
            let svg = code
                .render::<svg::Color<'_>>()
                .min_dimensions(220, 220)
                .build();
            // Drop the XML declaration so the SVG can be inlined.
            svg.find("<svg")
                .map_or(svg.clone(), |start| svg[start..].to_owned())
        }
        Err(error) => format!("<p>QR code unavailable: {}</p>", escape(&error.to_string())),
    }
}

/// The simulated Authentiq ID app: identity fields, scope choices, Approve / Deny.
fn approval_form(req: &AuthRequest, pending: &str) -> String {
    let person = Approval::default();
    let email = req
        .login_hint
        .as_deref()
        .filter(|hint| hint.contains('@'))
        .unwrap_or(&person.email);
    let mut scopes = String::new();
    for scope in req.scopes.iter().filter(|s| s.name != "openid") {
        let input = if scope.required {
            "<input type=\"checkbox\" checked disabled>".to_owned()
        } else {
            format!(
                "<input type=\"checkbox\" name=\"grant\" value=\"{}\" checked>",
                escape(&scope.name)
            )
        };
        let _ = write!(
            scopes,
            "<label>{input} {}{}</label>",
            escape(describe(&scope.name)),
            badges(scope)
        );
    }
    format!(
        "<form class=\"phone\" method=\"post\" action=\"/authorize/approve\">\
<h2>Authentiq ID <span class=\"muted\">(simulated app)</span></h2>\
<p><strong>{client}</strong> asks you to sign in.</p>\
<input type=\"hidden\" name=\"pending\" value=\"{pending}\">\
<label>Name <input type=\"text\" name=\"name\" value=\"{name}\"></label>\
<label>Email <input type=\"email\" name=\"email\" value=\"{email}\"></label>\
<label><input type=\"checkbox\" name=\"email_verified\" checked> Email verified</label>\
<label>Phone <input type=\"text\" name=\"phone\" value=\"{phone}\"></label>\
<label><input type=\"checkbox\" name=\"phone_verified\" checked> Phone verified</label>\
<label>Phone type <select name=\"phone_type\"><option>mobile</option><option>landline</option>\
<option>voip</option></select></label>\
<fieldset><legend>Share</legend>{scopes}</fieldset>\
<button class=\"approve\" name=\"decision\" value=\"approve\">Approve</button>\
<button class=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form>",
        client = escape(req.client_id()),
        pending = escape(pending),
        name = escape(&person.name),
        email = escape(email),
        phone = escape(&person.phone_number),
    )
}

/// The sign-in page: requested scopes, a QR code for the phone page, and the simulated app.
pub(crate) fn sign_in(base: &str, req: &AuthRequest, pending: &str) -> String {
    let phone_url = format!("{base}/authorize/phone/{pending}");
    let body = format!(
        "<h1>Sign in with Authentiq</h1>\
<p><strong>{client}</strong> would like to know:</p>{scopes}\
<p>Scan this code with the Authentiq ID app:</p><div class=\"qr\">{qr}</div>\
<p class=\"muted\">Or open <a href=\"{link}\">{link}</a>, or use the simulated app below.</p>{form}",
        client = escape(req.client_id()),
        scopes = scope_list(req),
        qr = qr_svg(&phone_url),
        link = escape(&phone_url),
        form = approval_form(req, pending),
    );
    layout("Sign in with Authentiq", &body)
}

/// The simulated phone page the QR code points to.
pub(crate) fn phone(req: &AuthRequest, pending: &str) -> String {
    layout("Authentiq ID", &approval_form(req, pending))
}

/// One-click: the browser is linked to a phone, which gets a (simulated) push notification.
pub(crate) fn push(req: &AuthRequest, pending: &str, approval: &Approval) -> String {
    let body = format!(
        "<h1>Sign in with Authentiq</h1>\
<p>We sent a push notification to your phone ({who}).</p>\
<p><strong>{client}</strong> would like to know:</p>{scopes}\
<form class=\"phone\" method=\"post\" action=\"/authorize/approve\">\
<p>🔔 <strong>Authentiq</strong>: sign in to {client}?</p>\
<input type=\"hidden\" name=\"pending\" value=\"{pending}\">\
<input type=\"hidden\" name=\"push\" value=\"1\">\
<button class=\"approve\" name=\"decision\" value=\"approve\">Tap notification</button>\
<button class=\"deny\" name=\"decision\" value=\"deny\">Dismiss</button></form>\
<p class=\"muted\">Not your phone? <a href=\"/authorize/phone/{pending}\">Use the app instead</a>.</p>",
        who = escape(&approval.email),
        client = escape(req.client_id()),
        scopes = scope_list(req),
        pending = escape(pending),
    );
    layout("Sign in with Authentiq", &body)
}

pub(crate) fn error(title: &str, message: &str) -> String {
    layout(
        title,
        &format!("<h1>{}</h1><p>{}</p>", escape(title), escape(message)),
    )
}

pub(crate) fn expired() -> String {
    error(
        "Sign-in request expired",
        "This sign-in request has expired or was already answered. Start again from the app.",
    )
}

pub(crate) fn signed_out(note: Option<&str>) -> String {
    let note = note
        .map(|n| format!("<p class=\"muted\">{}</p>", escape(n)))
        .unwrap_or_default();
    layout(
        "Signed out",
        &format!("<h1>You have been signed out</h1>{note}"),
    )
}

/// `response_mode=form_post`: an auto-submitting form to the RP.
pub(crate) fn form_post(redirect: &Redirect) -> String {
    let mut inputs = String::new();
    for (name, value) in &redirect.params {
        let _ = write!(
            inputs,
            "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
            escape(name),
            escape(value)
        );
    }
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Submitting…</title></head>\
<body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}\
<noscript><button>Continue</button></noscript></form></body></html>",
        escape(redirect.target())
    )
}

/// OIDC Session Management check-session iframe: answers `"client_id session_state"`
/// messages with `unchanged`, `changed` or `error`, from the `aqdev_bs` cookie.
pub(crate) fn check_session() -> String {
    const SCRIPT: &str = r#"
function b64url(buf){let s='';new Uint8Array(buf).forEach(b=>s+=String.fromCharCode(b));
return btoa(s).replace(/\+/g,'-').replace(/\//g,'_').replace(/=+$/,'');}
function cookie(n){const c=document.cookie.split('; ').find(c=>c.startsWith(n+'='));
return c?c.slice(n.length+1):'';}
window.addEventListener('message',async function(e){
const parts=String(e.data).split(' ');const dot=parts.length===2?parts[1].lastIndexOf('.'):-1;
if(dot<0){e.source.postMessage('error',e.origin);return;}
const salt=parts[1].slice(dot+1);
const data=new TextEncoder().encode(parts[0]+' '+e.origin+' '+cookie('aqdev_bs')+' '+salt);
const hash=b64url(await crypto.subtle.digest('SHA-256',data));
e.source.postMessage(hash+'.'+salt===parts[1]?'unchanged':'changed',e.origin);});
"#;
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>check session</title>\
</head><body><script>{SCRIPT}</script></body></html>"
    )
}
