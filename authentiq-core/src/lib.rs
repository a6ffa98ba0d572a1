#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod adapter;
mod authentiq;
mod claims;
mod clock;
mod config;
mod crypto;
mod device;
mod error;
mod flow;
mod guard;
mod http;
mod provider;
mod routes;
mod scope;
mod session;
mod token;
mod verified_cache;

pub use crate::authentiq::Authentiq;
pub use crate::claims::{Address, Claims, Location};
pub use crate::config::{
    ClientAuthMethod, Config, ConfigBuilder, EndpointOverrides, IdTokenEncryption, RoutePaths,
    SessionConfig, SessionStoreSetting,
};
pub use crate::device::RememberedDevice;
pub use crate::error::{AuthError, ConfigError, TokenError};
pub use crate::guard::{Identity, Source};
pub use crate::provider::ProviderMetadata;
pub use crate::routes::safe_return_to;
pub use crate::scope::{Grant, Scope, Scopes};
#[cfg(feature = "redis")]
pub use crate::session::RedisStore;
pub use crate::session::{
    CookieSessions, MemoryStore, Revocation, SessionData, SessionStore, StoreError,
};
pub use crate::token::{AlgPolicy, Algorithm, Channel, ClientKeys, ValidatedToken};
/// Implement [`SessionStore`] with plain `async fn`s: put `#[authentiq_core::async_trait]` on
/// the `impl`.
pub use async_trait::async_trait;
