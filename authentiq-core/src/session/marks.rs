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

#[cfg(test)]
mod tests {
    use super::*;

    /// Every 256th change prunes the marks whose keep-until has come (at `now` exactly) and
    /// keeps the rest, in all four kinds of mark.
    #[test]
    fn every_256th_change_prunes_what_can_no_longer_matter() {
        loop {
            let now = clock::now();
            let mut m = Marks::default();
            m.add(Revocation::Session {
                id: "done".into(),
                until: now,
            });
            m.add(Revocation::Session {
                id: "kept".into(),
                until: u64::MAX,
            });
            m.add(Revocation::Sid {
                sid: "sid-done".into(),
                before: 10,
                until: now,
            });
            m.add(Revocation::Sid {
                sid: "sid-kept".into(),
                before: 10,
                until: u64::MAX,
            });
            m.add(Revocation::Sub {
                sub: "sub-done".into(),
                before: 10,
                until: now,
            });
            m.add(Revocation::Sub {
                sub: "sub-kept".into(),
                before: 10,
                until: u64::MAX,
            });
            m.record_jti("jti-done", now);
            m.record_jti("jti-kept", u64::MAX);
            // Eight changes so far; nothing is pruned before the 256th.
            for i in 0..247 {
                m.record_jti(&format!("filler-{i}"), u64::MAX);
            }
            assert!(m.session_ended("done") && m.jti_seen("jti-done"));
            assert!(m.ended("x", Some("sid-done"), 5) && m.ended("sub-done", None, 5));
            m.record_jti("the-256th", u64::MAX);
            if clock::now() != now {
                // The second turned while pruning: `now` is no longer the edge.
                continue;
            }
            assert!(!m.session_ended("done"), "a session mark at its end");
            assert!(!m.ended("x", Some("sid-done"), 5), "a sid mark at its end");
            assert!(!m.ended("sub-done", None, 5), "a sub mark at its end");
            assert!(!m.jti_seen("jti-done"), "a jti at its end");
            assert!(m.session_ended("kept"));
            assert!(m.ended("x", Some("sid-kept"), 5));
            assert!(m.ended("sub-kept", None, 5));
            assert!(m.jti_seen("jti-kept") && m.jti_seen("the-256th"));
            return;
        }
    }

    /// A later mark for the same sid or sub widens both bounds; an earlier one narrows neither.
    #[test]
    fn marks_for_one_key_merge_to_the_latest() {
        let mut m = Marks::default();
        m.add(Revocation::Sid {
            sid: "s".into(),
            before: 100,
            until: u64::MAX,
        });
        m.add(Revocation::Sid {
            sid: "s".into(),
            before: 50,
            until: 1,
        });
        assert!(m.ended("any", Some("s"), 100));
        assert!(!m.ended("any", Some("s"), 101));
        m.add(Revocation::Sub {
            sub: "u".into(),
            before: 7,
            until: u64::MAX,
        });
        m.add(Revocation::Sub {
            sub: "u".into(),
            before: 9,
            until: 1,
        });
        assert!(m.ended("u", None, 9));
        assert!(!m.ended("u", None, 10));
        assert!(!m.session_ended("s") && !m.session_ended("u"));
    }
}
