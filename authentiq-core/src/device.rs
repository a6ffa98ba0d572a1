//! The remembered device: after a sign-in with `aq:push` granted, the browser keeps an
//! encrypted cookie saying who signed in here, so the app can offer "Continue as &lt;name&gt;" and
//! start a one-click sign-in (a push to the user's phone instead of a QR code).
//!
//! The cookie is sealed with its own key (derived from the session key for the purpose
//! `device`, so it never opens as a session and a session never opens as it), carries the
//! issuer and client it was made for and its creation time, and grants nothing: it only names
//! whom to offer. It stays across sign-out, and goes with `POST /auth/forget`, with a sign-in
//! that did not grant `aq:push`, or when it cannot be opened.

use serde::{Deserialize, Serialize};

use crate::Authentiq;
use crate::clock;
use crate::http::RequestHead;

const DAY: u64 = 86_400;

/// A browser that signed in before with one-click enabled: whom to offer "Continue as".
/// It is not a session and proves nothing; a sign-in still happens, on the user's phone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RememberedDevice {
    /// The `sub` of the user who signed in on this browser.
    pub subject: String,
    /// A display name (`name`, else `preferred_username`, else `email`), if the sign-in had
    /// one. Escape it for the page you show it in.
    pub name: Option<String>,
}

impl RememberedDevice {
    /// The path that starts a one-click sign-in as this user and returns to `return_to`: the
    /// login route with `remembered=1`. The login reads the remembered device from the cookie
    /// (never from the link) and sends `login_hint=<sub>` with `aq:push`.
    pub fn continue_path(&self, auth: &Authentiq, return_to: &str) -> String {
        let back: String = url::form_urlencoded::byte_serialize(
            crate::routes::safe_return_to(Some(return_to)).as_bytes(),
        )
        .collect();
        format!(
            "{}?remembered=1&return_to={back}",
            auth.config().routes.login
        )
    }
}

/// What the device cookie holds, sealed.
#[derive(Serialize, Deserialize)]
struct Sealed {
    #[serde(rename = "s")]
    sub: String,
    #[serde(rename = "n", default, skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    #[serde(rename = "i")]
    iss: String,
    #[serde(rename = "a")]
    aud: String,
    #[serde(rename = "t")]
    created: u64,
}

/// The remembered device of one request, and the `Set-Cookie` that removes an unusable one.
#[derive(Clone, Default)]
pub(crate) struct DeviceCheck {
    pub(crate) device: Option<RememberedDevice>,
    pub(crate) set_cookie: Option<String>,
}

impl std::fmt::Debug for DeviceCheck {
    /// Says whether a device is remembered, never whom (frameworks log request extensions).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeviceCheck")
            .field("remembered", &self.device.is_some())
            .field("removes_cookie", &self.set_cookie.is_some())
            .finish()
    }
}

impl Authentiq {
    /// Reads the remembered-device cookie. A cookie that does not open, or was made for
    /// another issuer or client, or is older than the configured days, is ignored, and the
    /// answer removes it.
    pub(crate) fn check_device(&self, head: &impl RequestHead) -> DeviceCheck {
        let name = &self.inner.names.device;
        let Some(value) = head.cookie(name) else {
            return DeviceCheck::default();
        };
        let days = self.inner.cfg.device_days;
        let opened = (days > 0)
            .then(|| self.inner.device_cipher.open(name, value))
            .flatten()
            .and_then(|plain| serde_json::from_slice::<Sealed>(&plain).ok())
            .filter(|d| {
                d.iss == self.inner.provider.meta.issuer
                    && d.aud == self.inner.cfg.client_id
                    && clock::now() < d.created.saturating_add(days.saturating_mul(DAY))
            });
        match opened {
            Some(d) => DeviceCheck {
                device: Some(RememberedDevice {
                    subject: d.sub,
                    name: d.name,
                }),
                set_cookie: None,
            },
            None => {
                tracing::info!("ignoring an unusable remembered-device cookie");
                DeviceCheck {
                    device: None,
                    set_cookie: Some(self.remove_cookie(name)),
                }
            }
        }
    }

    /// The `Set-Cookie` that remembers this browser for `sub`, or `None` when remembering is
    /// off (`device_days` 0).
    pub(crate) fn device_cookie(&self, sub: &str, name: Option<&str>) -> Option<String> {
        let days = self.inner.cfg.device_days;
        if days == 0 {
            return None;
        }
        let cookie_name = &self.inner.names.device;
        let sealed = Sealed {
            sub: sub.to_owned(),
            name: name.map(str::to_owned),
            iss: self.inner.provider.meta.issuer.clone(),
            aud: self.inner.cfg.client_id.clone(),
            created: clock::now(),
        };
        let value = self.inner.device_cipher.seal(
            cookie_name,
            &serde_json::to_vec(&sealed).unwrap_or_default(),
        );
        Some(self.cookie(cookie_name, &value, days.saturating_mul(DAY)))
    }
}
