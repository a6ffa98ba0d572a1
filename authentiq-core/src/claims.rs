//! The identity claims an Authentiq ID Token or UserInfo answer carries, typed and tolerant of
//! the variants seen in the wild (`en_US` locales, `state` for `region`, booleans as strings),
//! with every other claim kept in [`Claims::extra`].

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// Standard and Authentiq claims. Deserialize your own type instead wherever you prefer: every
/// guard is generic over any `serde::de::DeserializeOwned` claims type.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// Issuer.
    pub iss: String,
    /// Subject: opaque (UUIDs, 43-character base64url keys and short ids all appear).
    pub sub: String,
    /// Provider session id, for logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// The scopes the user granted, space separated, without flags.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Full name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Given name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    /// Family name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub family_name: Option<String>,
    /// Middle name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    /// Nickname.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nickname: Option<String>,
    /// Username.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preferred_username: Option<String>,
    /// Email address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Whether the provider verified (signed) the email address.
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub email_verified: Option<bool>,
    /// Phone number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Whether the provider verified (signed) the phone number.
    #[serde(
        default,
        deserialize_with = "lenient_bool",
        skip_serializing_if = "Option::is_none"
    )]
    pub phone_number_verified: Option<bool>,
    /// Authentiq's phone type, e.g. `mobile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_type: Option<String>,
    /// Locale as sent (`en-GB` or `en_US`); see [`Claims::locale_tag`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locale: Option<String>,
    /// Time zone, e.g. `Europe/Amsterdam`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zoneinfo: Option<String>,
    /// Postal address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Authentiq's `aq:location`.
    #[serde(
        rename = "aq:location",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub location: Option<Location>,
    /// Every other claim (`aq:social:*`, `auth_time`, `acr`, `amr`, your own...).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An OpenID Connect address; Authentiq sometimes sends `state` instead of `region`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Address {
    /// Full address, formatted for display.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formatted: Option<String>,
    /// Street address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    /// City.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locality: Option<String>,
    /// Region or state (`state` is accepted on input).
    #[serde(default, alias = "state", skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Postal code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    /// Country.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

/// Authentiq's `aq:location` claim.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Location {
    /// Latitude in degrees.
    pub latitude: f64,
    /// Longitude in degrees.
    pub longitude: f64,
    /// Accuracy in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accuracy: Option<f64>,
    /// Altitude in metres.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altitude: Option<f64>,
    /// Speed in m/s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// The resolved address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}

fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
        Some(Value::Number(n)) => Some(n.as_u64() == Some(1)),
        _ => None,
    })
}

impl Claims {
    fn granted(&self, scope: &str) -> bool {
        // Without a `scope` claim, presence of the value is all we can know.
        self.scope
            .as_deref()
            .is_none_or(|s| s.split_whitespace().any(|g| g == scope))
    }

    /// The email address if the `email` scope was granted, the value is present and the
    /// provider marked it verified; `None` otherwise.
    ///
    /// ```
    /// use authentiq_core::Claims;
    /// let c: Claims = serde_json::from_value(serde_json::json!({
    ///     "iss": "https://connect.authentiq.io/", "sub": "x", "scope": "openid email",
    ///     "email": "a@example.com", "email_verified": "true"
    /// })).unwrap();
    /// assert_eq!(c.verified_email(), Some("a@example.com"));
    /// ```
    pub fn verified_email(&self) -> Option<&str> {
        (self.granted("email") && self.email_verified == Some(true))
            .then_some(self.email.as_deref())
            .flatten()
    }

    /// The phone number if the `phone` scope was granted, the value is present and verified.
    pub fn verified_phone(&self) -> Option<&str> {
        (self.granted("phone") && self.phone_number_verified == Some(true))
            .then_some(self.phone_number.as_deref())
            .flatten()
    }

    /// The locale as a BCP 47 tag (`en_US` becomes `en-US`).
    pub fn locale_tag(&self) -> Option<String> {
        self.locale.as_ref().map(|l| l.replace('_', "-"))
    }

    /// The granted scopes as a list.
    pub fn granted_scopes(&self) -> Vec<&str> {
        self.scope
            .as_deref()
            .map(|s| s.split_whitespace().collect())
            .unwrap_or_default()
    }

    /// A display name: `name`, else given and family name, else the email, else `sub`.
    pub fn display_name(&self) -> String {
        if let Some(n) = self.name.as_deref().filter(|n| !n.is_empty()) {
            return n.to_owned();
        }
        let parts: Vec<&str> = [self.given_name.as_deref(), self.family_name.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        if !parts.is_empty() {
            return parts.join(" ");
        }
        self.email.clone().unwrap_or_else(|| self.sub.clone())
    }
}

/// Claims that describe the token rather than the person: dropped from sessions and from the
/// claims an app sees, except `iss`, `sub`, `sid` and `scope`.
pub(crate) const PROTOCOL_CLAIMS: &[&str] = &[
    "aud",
    "exp",
    "iat",
    "nbf",
    "jti",
    "nonce",
    "azp",
    "at_hash",
    "c_hash",
    "s_hash",
    "auth_time",
    "acr",
    "amr",
    "typ",
    "events",
    "_claim_names",
    "_claim_sources",
    "session_state",
];

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn tolerant_parsing() {
        let c: Claims = serde_json::from_value(json!({
            "iss": "i", "sub": "s", "locale": "en_US", "email_verified": "TRUE",
            "phone_number_verified": 1, "phone_number": "+1", "scope": "openid phone",
            "address": {"state": "NH", "country": "US"},
            "aq:location": {"latitude": 1.5, "longitude": 2, "accuracy": 10,
                            "address": {"locality": "Amsterdam"}},
            "aq:social:twitter": {"handle": "x"}
        }))
        .unwrap();
        assert_eq!(c.locale_tag().as_deref(), Some("en-US"));
        assert_eq!(c.email_verified, Some(true));
        assert_eq!(c.verified_phone(), Some("+1"));
        assert_eq!(c.address.unwrap().region.as_deref(), Some("NH"));
        assert_eq!(
            c.location.unwrap().address.unwrap().locality.as_deref(),
            Some("Amsterdam")
        );
        assert!(c.extra.contains_key("aq:social:twitter"));
    }

    #[test]
    fn verified_email_needs_scope_value_and_flag() {
        let base = json!({"iss": "i", "sub": "s", "email": "a@b.c"});
        let mut v = base.clone();
        v["email_verified"] = json!(false);
        assert_eq!(
            serde_json::from_value::<Claims>(v)
                .unwrap()
                .verified_email(),
            None
        );
        let mut v = base.clone();
        v["email_verified"] = json!(true);
        v["scope"] = json!("openid phone");
        assert_eq!(
            serde_json::from_value::<Claims>(v)
                .unwrap()
                .verified_email(),
            None
        );
        let mut v = base;
        v["email_verified"] = json!(true);
        v["scope"] = json!("openid email");
        assert_eq!(
            serde_json::from_value::<Claims>(v)
                .unwrap()
                .verified_email(),
            Some("a@b.c")
        );
    }
}
