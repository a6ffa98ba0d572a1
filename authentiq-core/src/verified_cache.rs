//! Credentials that passed every check, remembered so that the same credential sent again
//! costs a lookup instead of the cryptography and parsing that verified it. Two caches use it:
//! bearer ID Tokens (a signature check and two JSON parses saved) and, in cookie mode, opened
//! session cookies (a decryption and a JSON parse saved).
//!
//! What makes an entry safe to use:
//! - **Only verified credentials enter**: a bearer token after the signature, every claim
//!   rule and the logout marks passed; a session cookie after it decrypted (which only a
//!   cookie sealed with the app's key does) and passed its checks. Garbage never takes a slot,
//!   so evicting an entry costs an attacker a token the provider signed or a session the app
//!   issued.
//! - **The whole credential is compared.** The map is keyed by a hash of its tail (a token's
//!   signature, a sealed cookie's authentication tag), but a hit also compares the stored
//!   credential with the presented one, byte for byte; two different ones never share an
//!   entry.
//! - **An entry ends** at the instant its checks set (a token's `exp`, and `iat +
//!   max_token_age` when that is set; a session's absolute or idle expiry, whichever is
//!   first), when the key set it was verified with is replaced or goes stale (for bearer
//!   tokens: a refetch after rotation or withdrawal gives a new generation, and an expired set
//!   none), and it never answers for logouts: the logout marks and the session revocations are
//!   asked again whenever the session store recorded a revocation since this credential last
//!   passed them (stores that report a revocation version: the cookie and memory stores), and
//!   on every request, hit or miss, with any other store (Redis, your own).
//! - **Bounded** in entries and in bytes: when full, expired entries go first (a full shard is
//!   swept at most once a second; between sweeps the eviction hand finds them), then the least
//!   that was not used since the eviction hand last passed it (second chance, "CLOCK"), so a
//!   flood of fresh tokens cannot grow memory, and a token in use keeps its place.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

/// Entries at most (over all shards), per cache.
pub(crate) const MAX_ENTRIES: usize = 4096;
/// Bytes of credentials and what they yield at most (over all shards), per cache.
pub(crate) const MAX_BYTES: usize = 8 << 20;
/// Credentials longer than this are never remembered (they are still verified).
const MAX_TOKEN: usize = 16 << 10;
const SHARDS: usize = 16;

/// What an entry weighs beside its credential, for the byte bound.
pub(crate) trait Weigh {
    /// Bytes held, approximately.
    fn weight(&self) -> usize;
}

/// Bytes a JSON value holds, approximately: its text plus a word or so per node.
fn json_weight(v: &serde_json::Value) -> usize {
    32 + match v {
        serde_json::Value::String(s) => s.len(),
        serde_json::Value::Array(a) => a.iter().map(json_weight).sum(),
        serde_json::Value::Object(o) => o.iter().map(|(k, v)| k.len() + json_weight(v)).sum(),
        _ => 0,
    }
}

impl Weigh for crate::session::OpenSession {
    fn weight(&self) -> usize {
        // The identity map is the claims again, with three short strings.
        self.data.weight() * 2
    }
}

impl Weigh for crate::session::SessionData {
    fn weight(&self) -> usize {
        let text = [&self.id, &self.sub, &self.iss, &self.aud]
            .iter()
            .map(|s| s.len())
            .sum::<usize>();
        let optional = [&self.sid, &self.id_token, &self.session_state]
            .iter()
            .map(|s| s.as_ref().map_or(0, String::len))
            .sum::<usize>();
        text + optional
            + self
                .claims
                .iter()
                .map(|(k, v)| k.len() + json_weight(v))
                .sum::<usize>()
    }
}

impl Weigh for Verified {
    fn weight(&self) -> usize {
        json_weight(&self.claims) + self.subject.len()
    }
}

/// What a verified bearer token yields, as the guard needs it on every request.
#[derive(Debug)]
pub(crate) struct Verified {
    /// `sub`.
    pub(crate) subject: String,
    /// `sid`, when present (for the logout marks).
    pub(crate) sid: Option<String>,
    /// `iat` (for the logout marks).
    pub(crate) iat: u64,
    /// The identity claims (protocol claims removed), parsed once: the app's claims type
    /// deserializes from this value on each request without reading JSON text again.
    pub(crate) claims: serde_json::Value,
}

struct Entry<T> {
    token: Box<str>,
    verified: Arc<T>,
    /// Unix seconds after which the entry is never used.
    until: u64,
    /// The key-set generation that verified it.
    keys: u64,
    /// Used since the eviction hand last passed it.
    used: AtomicBool,
    /// What it weighs, reckoned once at insertion.
    size: usize,
    /// The session store's revocation version at which the credential was last found not
    /// revoked ([`NEVER`] when unknown).
    revocations: AtomicU64,
}

/// An entry's revocation version before anyone asked.
const NEVER: u64 = u64::MAX;

/// A remembered credential: what it yields, and the session store's revocation version at
/// which it was last found not revoked (see [`crate::SessionStore::revocation_version`]).
pub(crate) struct Hit<T> {
    pub(crate) value: Arc<T>,
    revocations: u64,
}

impl<T> Hit<T> {
    /// Whether the revocation checks must be asked again: always, unless the store reports a
    /// version and it is the one at which this credential last passed them.
    pub(crate) fn needs_revocation_check(&self, version: Option<u64>) -> bool {
        version != Some(self.revocations)
    }
}

impl<T> Entry<T> {
    fn bytes(&self) -> usize {
        self.size
    }
}

struct Shard<T> {
    map: HashMap<u64, Entry<T>, Fixed>,
    /// Slots in insertion order: the eviction hand's round.
    ring: VecDeque<u64>,
    bytes: usize,
    /// When unusable entries were last swept out (unix seconds).
    swept: u64,
}

impl<T> Default for Shard<T> {
    fn default() -> Self {
        Self {
            map: HashMap::default(),
            ring: VecDeque::new(),
            bytes: 0,
            swept: 0,
        }
    }
}

impl<T> Shard<T> {
    fn remove(&mut self, slot: u64) {
        if let Some(gone) = self.map.remove(&slot) {
            self.bytes -= gone.bytes();
        }
    }

    /// Evicts one entry: the first on the hand's round not used since it last passed.
    fn evict_one(&mut self) -> bool {
        for _ in 0..(2 * self.ring.len() + 1) {
            let Some(slot) = self.ring.pop_front() else {
                return false;
            };
            let Some(e) = self.map.get(&slot) else {
                continue; // already gone
            };
            if e.used.swap(false, Ordering::Relaxed) {
                self.ring.push_back(slot);
            } else {
                self.remove(slot);
                return true;
            }
        }
        false
    }
}

/// The map's keys are already hashes of unforgeable signature bytes: no need to hash again.
#[derive(Clone, Copy, Default)]
struct Fixed;

impl BuildHasher for Fixed {
    type Hasher = Passthrough;
    fn build_hasher(&self) -> Passthrough {
        Passthrough(0)
    }
}

struct Passthrough(u64);

impl Hasher for Passthrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// The cache of bearer tokens: one per [`crate::Authentiq`].
pub(crate) type BearerCache = VerifiedCache<Verified>;

/// A cache of verified credentials, each yielding a `T`.
pub(crate) struct VerifiedCache<T> {
    shards: Vec<RwLock<Shard<T>>>,
    /// A random key for the slot hash, so that slots cannot be predicted from tokens.
    seed: u64,
}

impl<T: Weigh> std::fmt::Debug for VerifiedCache<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("entries", &self.len())
            .finish()
    }
}

impl<T> Default for VerifiedCache<T> {
    fn default() -> Self {
        let mut seed = [0u8; 8];
        // A fixed seed would only make slots predictable, not entries shareable.
        let _ = aws_lc_rs::rand::fill(&mut seed);
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            seed: u64::from_le_bytes(seed),
        }
    }
}

impl<T: Weigh> VerifiedCache<T> {
    /// The slot of `token`: a keyed hash of its last 32 bytes (a signature's tail, which
    /// nobody but the provider can choose for a valid token; a sealed cookie's tag, which
    /// nobody without the app's key can).
    fn slot(&self, token: &str) -> u64 {
        let tail = &token.as_bytes()[token.len().saturating_sub(32)..];
        let mut h = self.seed ^ (token.len() as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for chunk in tail.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            h = (h ^ u64::from_le_bytes(word)).wrapping_mul(0xA24B_AED4_963E_E407);
            h ^= h >> 29;
        }
        h
    }

    fn shard(&self, slot: u64) -> &RwLock<Shard<T>> {
        &self.shards[(slot >> 59) as usize % SHARDS]
    }

    /// The verified result for exactly `token`, if it is remembered, unexpired at `now` and
    /// was verified with key-set generation `keys`.
    pub(crate) fn get(&self, token: &str, now: u64, keys: Option<u64>) -> Option<Hit<T>> {
        let keys = keys?;
        let slot = self.slot(token);
        let shard = self.shard(slot).read().unwrap_or_else(|p| p.into_inner());
        let e = shard.map.get(&slot)?;
        if now >= e.until || e.keys != keys || *e.token != *token {
            return None;
        }
        if !e.used.load(Ordering::Relaxed) {
            e.used.store(true, Ordering::Relaxed);
        }
        Some(Hit {
            value: e.verified.clone(),
            revocations: e.revocations.load(Ordering::Acquire),
        })
    }

    /// Records that exactly `token`, if remembered, passed the revocation checks at the
    /// store's revocation version `version` (read before asking).
    pub(crate) fn passed_revocation_check(&self, token: &str, version: u64) {
        let slot = self.slot(token);
        let shard = self.shard(slot).read().unwrap_or_else(|p| p.into_inner());
        if let Some(e) = shard.map.get(&slot)
            && *e.token == *token
        {
            e.revocations.store(version, Ordering::Release);
        }
    }

    /// Remembers a token that passed every check, until `until`, for key-set generation
    /// `keys`; `revocations` is the store's revocation version at which it passed the
    /// revocation checks (read before asking). A token that does not fit, or whose slot another
    /// live token holds, is not remembered (it is simply verified again next time).
    pub(crate) fn insert(
        &self,
        token: &str,
        verified: Arc<T>,
        until: u64,
        keys: u64,
        now: u64,
        revocations: Option<u64>,
    ) {
        if token.len() > MAX_TOKEN || until <= now {
            return;
        }
        let slot = self.slot(token);
        let size = token.len() + verified.weight() + 128;
        let entry = Entry {
            token: token.into(),
            verified,
            until,
            keys,
            used: AtomicBool::new(false),
            size,
            revocations: AtomicU64::new(revocations.unwrap_or(NEVER)),
        };
        let mut shard = self.shard(slot).write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = shard.map.get(&slot) {
            if now < old.until && old.keys == keys && *old.token != *token {
                // A different live token in the same slot (a 64-bit collision): keep it.
                return;
            }
            shard.remove(slot);
        }
        let (max_entries, max_bytes) = (MAX_ENTRIES / SHARDS, MAX_BYTES / SHARDS);
        if (shard.map.len() >= max_entries || shard.bytes + size > max_bytes) && shard.swept < now {
            // Entries that can no longer be used go first. A sweep reads the whole shard, so
            // it runs at most once a second: a flood of new tokens into a full shard would
            // otherwise pay it on every insert. Between sweeps the eviction hand finds them,
            // as an entry that can no longer be used is never marked used again.
            shard.swept = now;
            shard.map.retain(|_, e| now < e.until && e.keys == keys);
            shard.bytes = shard.map.values().map(Entry::bytes).sum();
            let Shard { map, ring, .. } = &mut *shard;
            ring.retain(|s| map.contains_key(s));
        }
        while shard.map.len() >= max_entries || shard.bytes + size > max_bytes {
            if !shard.evict_one() {
                return;
            }
        }
        shard.bytes += size;
        shard.map.insert(slot, entry);
        shard.ring.push_back(slot);
        if shard.ring.len() > 2 * max_entries {
            // Re-inserted slots left copies on the round: start it afresh from the map.
            let Shard { map, ring, .. } = &mut *shard;
            *ring = map.keys().copied().collect();
        }
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).map.len())
            .sum()
    }

    /// Bytes held.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.read().unwrap_or_else(|p| p.into_inner()).bytes)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verified(sub: &str) -> Arc<Verified> {
        Arc::new(Verified {
            subject: sub.into(),
            sid: None,
            iat: 1,
            claims: serde_json::json!({"sub": "x"}),
        })
    }

    #[test]
    fn a_hit_needs_the_same_token_the_same_keys_and_time_left() {
        let c = BearerCache::default();
        let token = "aaa.bbb.the-signature-of-the-provider-0123456789";
        c.insert(token, verified("u"), 100, 7, 10, None);
        assert_eq!(
            c.get(token, 10, Some(7)).map(|v| v.value.subject.clone()),
            Some("u".into())
        );
        assert!(c.get(token, 100, Some(7)).is_none(), "expired at `until`");
        assert!(c.get(token, 10, Some(8)).is_none(), "another key set");
        assert!(c.get(token, 10, None).is_none(), "stale key set");
        // Same length, same tail (so the same slot), different token: never shared.
        let twin = "aab.bbb.the-signature-of-the-provider-0123456789";
        assert_eq!(c.slot(twin), c.slot(token));
        assert!(c.get(twin, 10, Some(7)).is_none());
        // And inserting it does not displace the live entry.
        c.insert(twin, verified("mallory"), 100, 7, 10, None);
        assert_eq!(
            c.get(token, 10, Some(7)).map(|v| v.value.subject.clone()),
            Some("u".into())
        );
        assert!(c.get(twin, 10, Some(7)).is_none());
    }

    #[test]
    fn revocations_are_asked_again_whenever_the_version_moved() {
        let c = BearerCache::default();
        let token = "aaa.bbb.the-signature-of-the-provider-0123456789";
        let twin = "aab.bbb.the-signature-of-the-provider-0123456789";
        let needs = |version: Option<u64>| {
            c.get(token, 10, Some(7))
                .expect("remembered")
                .needs_revocation_check(version)
        };
        c.insert(token, verified("u"), 100, 7, 10, None);
        assert!(needs(Some(0)), "never asked yet");
        c.insert(token, verified("u"), 100, 7, 10, Some(3));
        assert!(!needs(Some(3)), "asked at this version");
        assert!(needs(Some(4)), "a revocation since");
        assert!(needs(None), "a store without versions is always asked");
        // Another token in the same slot records nothing for this one.
        c.passed_revocation_check(twin, 4);
        assert!(needs(Some(4)));
        c.passed_revocation_check(token, 4);
        assert!(!needs(Some(4)));
        assert!(needs(Some(5)));
    }

    #[test]
    fn bounded_in_entries_and_bytes_and_hot_entries_stay() {
        let c = BearerCache::default();
        let hot = "hot.token.the-hot-signature-0000000000";
        c.insert(hot, verified("hot"), 1000, 1, 0, None);
        for i in 0..(MAX_ENTRIES * 3) {
            let t = format!("t.{i}.distinct-valid-signature-{i:08}");
            c.insert(&t, verified("flood"), 1000, 1, 0, None);
            if i % 64 == 0 {
                assert!(
                    c.get(hot, 0, Some(1)).is_some(),
                    "the hot entry survives at {i}"
                );
            }
        }
        assert!(c.len() <= MAX_ENTRIES, "{}", c.len());
        assert!(c.bytes() <= MAX_BYTES);
        let big = Arc::new(Verified {
            subject: "big".into(),
            sid: None,
            iat: 1,
            claims: serde_json::Value::String(" ".repeat(MAX_BYTES / SHARDS / 2)),
        });
        for i in 0..64 {
            c.insert(
                &format!("big.{i}.sig-{i:040}"),
                big.clone(),
                1000,
                1,
                0,
                None,
            );
        }
        assert!(c.bytes() <= MAX_BYTES, "{}", c.bytes());
        let oversized = "x".repeat(MAX_TOKEN + 1);
        c.insert(&oversized, verified("o"), 1000, 1, 0, None);
        assert!(c.get(&oversized, 0, Some(1)).is_none());
    }

    #[test]
    fn expired_and_stale_entries_go_first() {
        let c = BearerCache::default();
        for i in 0..MAX_ENTRIES {
            c.insert(
                &format!("old.{i}.sig-{i:020}"),
                verified("old"),
                50,
                1,
                0,
                None,
            );
        }
        // At 60 every old entry has expired: new ones replace them, not each other.
        for i in 0..MAX_ENTRIES / 2 {
            c.insert(
                &format!("new.{i}.sig-{i:020}"),
                verified("new"),
                500,
                1,
                60,
                None,
            );
        }
        let live = (0..MAX_ENTRIES / 2)
            .filter(|i| {
                c.get(&format!("new.{i}.sig-{i:020}"), 60, Some(1))
                    .is_some()
            })
            .count();
        assert_eq!(live, MAX_ENTRIES / 2);
    }
}
