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

/// The desktop's part of a pending sign-in: polls `/authorize/wait/{pending}` until the phone
/// has answered, then continues to `/authorize/continue/{pending}`, which delivers the answer
/// to the app. Without script, a link does the same by hand.
fn waiting(pending: &str) -> String {
    let id = script_json(&serde_json::Value::from(pending));
    format!(
        "<p id=\"status\" class=\"muted\">Waiting for your phone…</p>\
<noscript><p><a href=\"/authorize/continue/{link}\">Continue once you have answered on your \
phone</a></p></noscript><script>(function(){{var id={id};\
var status=document.getElementById('status');\
function poll(){{fetch('/authorize/wait/'+id,{{cache:'no-store'}}).then(function(r){{return r.json();}})\
.then(function(s){{if(s.status==='answered'){{location.replace('/authorize/continue/'+id);}}\
else if(s.status==='gone'){{status.textContent='This sign-in request has expired. Start again from the app.';}}\
else{{setTimeout(poll,400);}}}}).catch(function(){{setTimeout(poll,1500);}});}}poll();}})();</script>",
        link = escape(pending),
    )
}

/// JSON for a `<script>` element: `<` escaped, so no value can close the element.
fn script_json(value: &serde_json::Value) -> String {
    value.to_string().replace('<', "\\u003c")
}

/// The desktop sign-in page: requested scopes and the QR code the phone scans; it waits for
/// the phone's answer.
pub(crate) fn sign_in(base: &str, req: &AuthRequest, pending: &str) -> String {
    let phone_url = format!("{base}/authorize/phone/{pending}");
    let body = format!(
        "<h1>Sign in with Authentiq</h1>\
<p><strong>{client}</strong> would like to know:</p>{scopes}\
<p>Scan this code with the Authentiq ID app:</p><div class=\"qr\">{qr}</div>\
<p class=\"muted\">No phone at hand? Open the simulated app: \
<a class=\"phone-link\" href=\"{link}\" target=\"_blank\">{link}</a></p>{waiting}",
        client = escape(req.client_id()),
        scopes = scope_list(req),
        qr = qr_svg(&phone_url),
        link = escape(&phone_url),
        waiting = waiting(pending),
    );
    layout("Sign in with Authentiq", &body)
}

/// The simulated phone page the QR code points to.
pub(crate) fn phone(req: &AuthRequest, pending: &str) -> String {
    layout("Authentiq ID", &approval_form(req, pending))
}

/// One-click, on the desktop: the browser is remembered, so the person's phone gets a push
/// notification; the page waits for it to be answered.
pub(crate) fn push(base: &str, req: &AuthRequest, pending: &str, approval: &Approval) -> String {
    let phone_url = format!("{base}/authorize/phone/{pending}");
    let body = format!(
        "<h1>Check your phone</h1>\
<p>We sent a push notification to the phone of <strong>{who}</strong>.</p>\
<p><strong>{client}</strong> would like to know:</p>{scopes}\
<p class=\"muted\">The simulated phone shows it at \
<a class=\"phone-link\" href=\"{link}\" target=\"_blank\">{link}</a></p>{waiting}",
        who = escape(&approval.email),
        client = escape(req.client_id()),
        scopes = scope_list(req),
        link = escape(&phone_url),
        waiting = waiting(pending),
    );
    layout("Check your phone", &body)
}

/// One-click, on the phone: the push notification, answered with one tap.
pub(crate) fn notification(req: &AuthRequest, pending: &str, approval: &Approval) -> String {
    let body = format!(
        "<form class=\"phone notification\" method=\"post\" action=\"/authorize/approve\">\
<h2>Authentiq ID <span class=\"muted\">(simulated app)</span></h2>\
<p class=\"muted\">Push notification</p><p>Sign in to <strong>{client}</strong> as {who}?</p>{scopes}\
<input type=\"hidden\" name=\"pending\" value=\"{pending}\">\
<input type=\"hidden\" name=\"push\" value=\"1\">\
<button class=\"approve\" name=\"decision\" value=\"approve\">Approve</button>\
<button class=\"deny\" name=\"decision\" value=\"deny\">Deny</button></form>",
        who = escape(&approval.email),
        client = escape(req.client_id()),
        scopes = scope_list(req),
        pending = escape(pending),
    );
    layout("Authentiq ID", &body)
}

/// The phone after answering: the sign-in goes on in the desktop browser.
pub(crate) fn answered(approved: bool) -> String {
    let (title, text) = if approved {
        (
            "Approved",
            "You are signing in on your computer. You can put your phone away.",
        )
    } else {
        ("Denied", "The sign-in request was denied.")
    };
    layout(
        title,
        &format!(
            "<div class=\"phone\"><h2>{}</h2><p>{}</p></div>",
            escape(title),
            escape(text)
        ),
    )
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

/// `response_mode=web_message`: the parameters go to the window that opened the sign-in, as a
/// message to the redirect URI's origin only; then the window closes.
pub(crate) fn web_message(redirect: &Redirect) -> String {
    let response: serde_json::Map<String, serde_json::Value> = redirect
        .params
        .iter()
        .map(|(name, value)| ((*name).to_owned(), value.clone().into()))
        .collect();
    let response = script_json(&serde_json::Value::Object(response));
    let origin = script_json(&redirect.origin().into());
    format!(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Signing in…</title></head>\
<body><p id=\"status\">Returning to the app…</p><script>(function(){{\
var message={{type:'authorization_response',response:{response}}};\
if(window.opener){{window.opener.postMessage(message,{origin});window.close();}}\
else{{document.getElementById('status').textContent=\
'This window was not opened by the app: start the sign-in again from the app.';}}}})();\
</script></body></html>"
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

/// The AuthentiqJS-compatible script served at `/authentiq.js` (see the file for its use).
pub(crate) const AUTHENTIQ_JS: &str = include_str!("authentiq.js");
