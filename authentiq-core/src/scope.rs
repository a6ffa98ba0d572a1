//! Authentiq's scope syntax: space separated, `openid` always present, and identity scopes may
//! carry `~` plus flags: `r` (required: the user cannot decline it) and `s` (signed: the claim
//! must carry an Authentiq issuer signature, i.e. a verified email or phone).

use std::fmt;

/// One requested scope with its Authentiq flags.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    name: String,
    required: bool,
    signed: bool,
}

impl Scope {
    /// A scope with no flags.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            required: false,
            signed: false,
        }
    }
    /// Marks the scope required (`~r`): a login without it fails.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
    /// Marks the scope signed (`~s`): only meaningful for `email` and `phone`.
    pub fn signed(mut self) -> Self {
        self.signed = true;
        self
    }
    /// The scope name without flags.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Whether `~r` is set.
    pub fn is_required(&self) -> bool {
        self.required
    }
    /// Whether `~s` is set.
    pub fn is_signed(&self) -> bool {
        self.signed
    }
    /// Parses one token such as `email~rs`. Unknown flags are an error; flags on `openid` are
    /// dropped (it is always required).
    pub fn parse(token: &str) -> Result<Self, String> {
        let (name, flags) = token.split_once('~').unwrap_or((token, ""));
        if name.is_empty()
            || name
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '\\')
        {
            return Err(format!("`{token}` is not a valid scope"));
        }
        let mut s = Scope::new(name);
        for f in flags.chars() {
            match f {
                'r' => s.required = true,
                's' => s.signed = true,
                other => {
                    return Err(format!(
                        "unknown flag `{other}` in scope `{token}` (use r, s)"
                    ));
                }
            }
        }
        if s.signed && name != "email" && name != "phone" {
            return Err(format!("only email and phone can be signed, not `{name}`"));
        }
        if name == "openid" {
            s.required = false;
            s.signed = false;
        }
        Ok(s)
    }
    /// Whether `claims` hold this scope's value as verified: for `email` and `phone`, the value
    /// is present and `email_verified` / `phone_number_verified` is `true`. Other scopes have
    /// nothing to verify.
    pub fn verified_in(&self, claims: &serde_json::Map<String, serde_json::Value>) -> bool {
        let (value, flag) = match self.name.as_str() {
            "email" => ("email", "email_verified"),
            "phone" => ("phone_number", "phone_number_verified"),
            _ => return true,
        };
        claims
            .get(value)
            .and_then(serde_json::Value::as_str)
            .is_some_and(|v| !v.is_empty())
            && claims.get(flag) == Some(&serde_json::Value::Bool(true))
    }

    /// The claims this scope grants, per Authentiq's documentation. Unknown scopes grant no
    /// known claims (they pass through to the provider unchanged).
    pub fn claims(&self) -> &'static [&'static str] {
        match self.name.as_str() {
            "email" => &["email", "email_verified"],
            "phone" => &["phone_number", "phone_number_verified", "phone_type"],
            "address" => &["address"],
            "profile" => &[
                "name",
                "given_name",
                "family_name",
                "middle_name",
                "nickname",
                "preferred_username",
                "profile",
                "picture",
                "website",
                "gender",
                "birthdate",
                "zoneinfo",
                "locale",
                "updated_at",
            ],
            "aq:name" => &[
                "name",
                "given_name",
                "family_name",
                "middle_name",
                "nickname",
            ],
            "aq:location" => &["aq:location"],
            "aq:username" => &["preferred_username"],
            "aq:locale" => &["locale"],
            "aq:zoneinfo" => &["zoneinfo"],
            "aq:social:twitter" => &["aq:social:twitter"],
            "aq:social:facebook" => &["aq:social:facebook"],
            "aq:social:linkedin" => &["aq:social:linkedin"],
            _ => &[],
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if self.required || self.signed {
            f.write_str("~")?;
            if self.required {
                f.write_str("r")?;
            }
            if self.signed {
                f.write_str("s")?;
            }
        }
        Ok(())
    }
}

/// The requested scopes, in order, `openid` first and always present, no duplicates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scopes(Vec<Scope>);

impl Scopes {
    /// Parses a space-separated scope string in Authentiq syntax.
    ///
    /// ```
    /// use authentiq_core::Scopes;
    /// let s = Scopes::parse("aq:name email~rs aq:push").unwrap();
    /// assert_eq!(s.to_string(), "openid aq:name email~rs aq:push");
    /// assert!(s.get("email").unwrap().is_required());
    /// ```
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut out = vec![Scope::new("openid")];
        for token in text.split_whitespace() {
            let s = Scope::parse(token)?;
            if let Some(existing) = out.iter_mut().find(|e| e.name == s.name) {
                existing.required |= s.required;
                existing.signed |= s.signed;
            } else {
                out.push(s);
            }
        }
        Ok(Self(out))
    }
    /// The scopes, in order.
    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.0.iter()
    }
    /// The scope named `name`, if requested.
    pub fn get(&self, name: &str) -> Option<&Scope> {
        self.0.iter().find(|s| s.name == name)
    }
    /// Whether `name` was requested.
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Compares what was requested with what the provider reports as granted.
    ///
    /// `granted` is the `scope` claim or token-response field (space separated, without
    /// flags). When the provider reported nothing, a scope counts as granted when at least one
    /// of its claims is present in `claims` (scopes without known claims count as granted).
    pub fn check_granted(
        &self,
        granted: Option<&str>,
        claims: &serde_json::Map<String, serde_json::Value>,
    ) -> Grant {
        let reported: Option<Vec<&str>> = granted.map(|g| {
            g.split_whitespace()
                .map(|t| t.split_once('~').map_or(t, |(n, _)| n))
                .collect()
        });
        let mut grant = Grant::default();
        for s in &self.0 {
            let ok = match &reported {
                Some(list) => s.name == "openid" || list.contains(&s.name.as_str()),
                None => s.claims().is_empty() || s.claims().iter().any(|c| claims.contains_key(*c)),
            };
            if ok && s.signed && !s.verified_in(claims) {
                // A `~s` scope whose value is not verified: withheld (refused when `~r`).
                grant.unverified.push(s.name.clone());
            } else if ok {
                grant.granted.push(s.name.clone());
            } else if s.required {
                grant.missing_required.push(s.name.clone());
            } else {
                grant.declined.push(s.name.clone());
            }
        }
        grant
    }
}

impl fmt::Display for Scopes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{s}")?;
        }
        Ok(())
    }
}

impl Default for Scopes {
    /// Authentiq's typical default: `openid aq:name email~rs aq:push`.
    fn default() -> Self {
        Self::parse("aq:name email~rs aq:push").expect("the default scopes parse")
    }
}

impl std::str::FromStr for Scopes {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::parse(s)
    }
}

/// The outcome of comparing requested and granted scopes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// Requested scopes the user granted.
    pub granted: Vec<String>,
    /// Optional scopes the user declined.
    pub declined: Vec<String>,
    /// Required (`~r`) scopes that are missing: the login fails.
    pub missing_required: Vec<String>,
    /// Signed (`~s`) scopes granted without a verified value (`email_verified` or
    /// `phone_number_verified` not `true`): their claims are withheld, and when the scope is
    /// also required (`~rs`) the login fails.
    pub unverified: Vec<String>,
}

impl Grant {
    /// The unverified scopes that are also required: a non-empty list fails the login.
    pub fn unverified_required(&self, requested: &Scopes) -> Vec<String> {
        self.unverified
            .iter()
            .filter(|u| requested.0.iter().any(|s| &s.name == *u && s.required))
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn parse_and_display() {
        let s = Scopes::parse("  email~sr  aq:push phone~s openid~r email ").unwrap();
        assert_eq!(s.to_string(), "openid email~rs aq:push phone~s");
        assert!(Scopes::parse("name~s").is_err());
        assert!(Scopes::parse("email~x").is_err());
        assert!(Scopes::parse("~r").is_err());
        assert_eq!(
            Scopes::default().to_string(),
            "openid aq:name email~rs aq:push"
        );
    }

    #[test]
    fn granted_from_scope_claim() {
        let s = Scopes::parse("aq:name email~r phone aq:push").unwrap();
        let g = s.check_granted(Some("openid email aq:name"), &serde_json::Map::new());
        assert_eq!(g.granted, ["openid", "aq:name", "email"]);
        assert_eq!(g.declined, ["phone", "aq:push"]);
        assert!(g.missing_required.is_empty());
        let g = s.check_granted(Some("openid aq:name"), &serde_json::Map::new());
        assert_eq!(g.missing_required, ["email"]);
    }

    #[test]
    fn granted_inferred_from_claims() {
        let s = Scopes::parse("aq:name email~r phone aq:push").unwrap();
        let claims = json!({"email": "a@b.c", "name": "A"});
        let g = s.check_granted(None, claims.as_object().unwrap());
        assert_eq!(g.granted, ["openid", "aq:name", "email", "aq:push"]);
        assert_eq!(g.declined, ["phone"]);
        let g = s.check_granted(None, json!({"name":"A"}).as_object().unwrap());
        assert_eq!(g.missing_required, ["email"]);
    }

    #[test]
    fn signed_scopes_need_a_verified_value() {
        let scopes = Scopes::parse("email~rs phone~s aq:name").unwrap();
        let claims = |v: serde_json::Value| v.as_object().cloned().unwrap();
        let verified = claims(json!({
            "email": "a@example.com", "email_verified": true,
            "phone_number": "+31600000000", "phone_number_verified": true, "name": "A"
        }));
        let g = scopes.check_granted(Some("email phone aq:name"), &verified);
        assert!(g.unverified.is_empty(), "{g:?}");
        assert!(g.unverified_required(&scopes).is_empty());
        for (claims, unverified, required) in [
            (
                json!({"email": "a@example.com", "email_verified": false, "phone_number": "+316", "phone_number_verified": true}),
                vec!["email"],
                vec!["email"],
            ),
            (
                json!({"email": "a@example.com", "email_verified": "true", "phone_number": "+316"}),
                vec!["email", "phone"],
                vec!["email"],
            ),
            (
                json!({"email": "", "email_verified": true, "phone_number": "+316", "phone_number_verified": true}),
                vec!["email"],
                vec!["email"],
            ),
            (
                json!({"email": "a@example.com", "email_verified": true, "phone_number_verified": true}),
                vec!["phone"],
                vec![],
            ),
        ] {
            let g = scopes.check_granted(
                Some("email phone aq:name"),
                &claims.as_object().cloned().unwrap(),
            );
            assert_eq!(g.unverified, unverified, "{claims}");
            assert_eq!(g.unverified_required(&scopes), required, "{claims}");
            assert!(
                !g.granted.iter().any(|s| unverified.contains(&s.as_str())),
                "{g:?}"
            );
        }
        // Without `~s`, nothing needs verifying.
        let plain = Scopes::parse("email phone").unwrap();
        let g = plain.check_granted(
            Some("email phone"),
            &claims(json!({"email": "a@example.com"})),
        );
        assert!(g.unverified.is_empty());
    }
}
