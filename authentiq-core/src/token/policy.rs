//! Which signature algorithms count, and on which channel (Authentiq's per-channel policy).

use crate::crypto::b64url;
use crate::error::TokenError;

/// A JWS signature algorithm the SDK can verify.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC SHA-256, keyed with the client secret (Authentiq's token-endpoint default).
    HS256,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    RS256,
    /// RSASSA-PSS with SHA-256.
    PS256,
    /// ECDSA P-256 with SHA-256.
    ES256,
    /// ECDSA P-384 with SHA-384.
    ES384,
    /// Ed25519.
    EdDSA,
}

impl Algorithm {
    /// The JOSE name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HS256 => "HS256",
            Self::RS256 => "RS256",
            Self::PS256 => "PS256",
            Self::ES256 => "ES256",
            Self::ES384 => "ES384",
            Self::EdDSA => "EdDSA",
        }
    }
    /// Parses a JOSE name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "HS256" => Self::HS256,
            "RS256" => Self::RS256,
            "PS256" => Self::PS256,
            "ES256" => Self::ES256,
            "ES384" => Self::ES384,
            "EdDSA" => Self::EdDSA,
            _ => return None,
        })
    }
    /// Whether the algorithm is asymmetric (verifiable with a public key).
    pub fn is_asymmetric(self) -> bool {
        self != Self::HS256
    }
    /// The hash used for `at_hash` / `c_hash` with this algorithm.
    pub(crate) fn half_hash(self, data: &[u8]) -> String {
        use aws_lc_rs::digest;
        let d = match self {
            Self::ES384 => digest::digest(&digest::SHA384, data),
            // OpenID Connect: EdDSA with Ed25519 hashes with SHA-512.
            Self::EdDSA => digest::digest(&digest::SHA512, data),
            _ => digest::digest(&digest::SHA256, data),
        };
        let bytes = d.as_ref();
        b64url(&bytes[..bytes.len() / 2])
    }
}

/// The way a token reached the application; the channel decides which algorithms count.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Channel {
    /// From the token endpoint over TLS, authenticated with the client secret: HS256 with the
    /// client secret is accepted when configured (Authentiq's default).
    TokenEndpoint,
    /// Through the browser (hybrid, implicit, AuthentiqJS POST, `Authorization: Bearer`): only
    /// asymmetric signatures checked against the provider's JWKS.
    Browser,
}

impl Channel {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::TokenEndpoint => "the token endpoint",
            Self::Browser => "the browser",
        }
    }
}

/// Which algorithms count, per channel. See [`Channel`].
#[derive(Clone, Debug)]
pub struct AlgPolicy {
    /// Asymmetric algorithms accepted on every channel. Default: RS256, PS256, ES256, ES384, EdDSA.
    pub asymmetric: Vec<Algorithm>,
    /// Accept HS256 keyed with the client secret for token-endpoint ID Tokens. Default `true`:
    /// Authentiq signs them that way unless the client registered another algorithm.
    pub hs256_from_token_endpoint: bool,
    /// Accept an unsigned (`alg: none`) ID Token from the token endpoint, as Authentiq's 2018
    /// documentation allowed. Default `false`; never allowed on the browser channel.
    pub allow_unsigned_from_token_endpoint: bool,
}

impl Default for AlgPolicy {
    fn default() -> Self {
        Self {
            asymmetric: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::ES384,
                Algorithm::EdDSA,
            ],
            hs256_from_token_endpoint: true,
            allow_unsigned_from_token_endpoint: false,
        }
    }
}

impl AlgPolicy {
    /// Decides whether a token signed with `alg` (`None` for `alg: none`; `name` as the header
    /// spells it) may be accepted from `channel`. Returns the algorithm to verify with, or
    /// `None` for an unsigned token that the policy explicitly allows.
    pub(crate) fn decide(
        &self,
        alg: Option<Algorithm>,
        name: &str,
        channel: Channel,
    ) -> Result<Option<Algorithm>, TokenError> {
        let not_allowed = || TokenError::AlgorithmNotAllowed {
            alg: name.to_owned(),
            channel: channel.name(),
        };
        match alg {
            None if channel == Channel::TokenEndpoint
                && self.allow_unsigned_from_token_endpoint =>
            {
                Ok(None)
            }
            None => Err(TokenError::Unsigned),
            Some(Algorithm::HS256)
                if channel == Channel::TokenEndpoint && self.hs256_from_token_endpoint =>
            {
                Ok(Some(Algorithm::HS256))
            }
            Some(Algorithm::HS256) => Err(not_allowed()),
            Some(a) if self.asymmetric.contains(&a) => Ok(Some(a)),
            Some(_) => Err(not_allowed()),
        }
    }
}
