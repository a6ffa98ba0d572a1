//! Logout marks kept in this process's memory: ended sessions, ended provider sessions (`sid`)
//! and subjects (`sub`) with the instant before which they ended, and the `jti`s of logout
//! tokens already used. Every mark is pruned once it can no longer matter.

use std::collections::HashMap;

use super::Revocation;
use crate::clock;

#[derive(Default, Debug)]
pub(crate) struct Marks {
    /// session id → keep until
    sessions: HashMap<String, u64>,
    /// sid → (ended before, keep until)
    sids: HashMap<String, (u64, u64)>,
    /// sub → (ended before, keep until)
    subs: HashMap<String, (u64, u64)>,
    /// logout token `jti` → keep until
    jtis: HashMap<String, u64>,
    ops: u32,
}

fn merge(map: &mut HashMap<String, (u64, u64)>, key: String, before: u64, until: u64) {
    let e = map.entry(key).or_insert((before, until));
    e.0 = e.0.max(before);
    e.1 = e.1.max(until);
}

impl Marks {
    pub(crate) fn add(&mut self, what: Revocation) {
        match what {
            Revocation::Session { id, until } => {
                self.sessions.insert(id, until);
            }
            Revocation::Sid { sid, before, until } => merge(&mut self.sids, sid, before, until),
            Revocation::Sub { sub, before, until } => merge(&mut self.subs, sub, before, until),
        }
        self.tick();
    }

    fn tick(&mut self) {
        self.ops = self.ops.wrapping_add(1);
        if self.ops.is_multiple_of(256) {
            let now = clock::now();
            self.sessions.retain(|_, u| *u > now);
            self.sids.retain(|_, (_, u)| *u > now);
            self.subs.retain(|_, (_, u)| *u > now);
            self.jtis.retain(|_, u| *u > now);
        }
    }

    /// Whether session `id` was ended by its id.
    pub(crate) fn session_ended(&self, id: &str) -> bool {
        !self.sessions.is_empty() && self.sessions.contains_key(id)
    }

    /// Whether something of `sub` (and `sid`) that began at `iat` was ended by a logout that
    /// came later.
    pub(crate) fn ended(&self, sub: &str, sid: Option<&str>, iat: u64) -> bool {
        let before = |m: &HashMap<String, (u64, u64)>, k: &str| {
            m.get(k).is_some_and(|(before, _)| iat <= *before)
        };
        sid.is_some_and(|s| before(&self.sids, s)) || before(&self.subs, sub)
    }

    pub(crate) fn jti_seen(&self, jti: &str) -> bool {
        self.jtis.contains_key(jti)
    }

    pub(crate) fn record_jti(&mut self, jti: &str, until: u64) {
        self.jtis.insert(jti.to_owned(), until);
        self.tick();
    }
}
