//! Rate limits on /auth/*: fixed one-minute windows per client address and per openid, in this
//! process's memory (N processes allow N times the rate; a shared limiter would cost a database
//! write per login).

use std::collections::HashMap;
use std::sync::Mutex;

pub struct Limits {
    per_address: Window,
    per_openid: Window,
}

struct Window {
    per_minute: u32,
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

/// Past this many keys the windows of earlier minutes are dropped.
const PRUNE_AT: usize = 50_000;

impl Window {
    /// Seconds until `key` may try again, or None when this attempt is allowed.
    fn hit(&self, key: &str, now: i64) -> Option<u64> {
        if self.per_minute == 0 {
            return None;
        }
        let minute = now.div_euclid(60);
        let mut counts = self.counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if counts.len() >= PRUNE_AT {
            counts.retain(|_, (window, _)| *window == minute);
        }
        let entry = counts.entry(key.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        if entry.1 >= self.per_minute {
            return Some((60 - now.rem_euclid(60)).max(1) as u64);
        }
        entry.1 += 1;
        None
    }
}

impl Limits {
    pub fn new(per_address: u32, per_openid: u32) -> Limits {
        Limits {
            per_address: Window { per_minute: per_address, counts: Mutex::default() },
            per_openid: Window { per_minute: per_openid, counts: Mutex::default() },
        }
    }

    pub fn address(&self, address: &str, now: i64) -> Option<u64> {
        self.per_address.hit(address, now)
    }

    pub fn openid(&self, openid: &str, now: i64) -> Option<u64> {
        self.per_openid.hit(openid, now)
    }
}
