//! The development OpenID Provider (in progress).
