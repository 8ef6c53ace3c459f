//! The pace of automatic logins: a small token bucket, so that no sequence of server replies (401
//! storms, "expired" body codes, short lifetimes, 5xx) can turn into a stream of `wx.login` calls
//! and code exchanges.
//!
//! Every `wx.login` the core decides on by itself spends a token: the first attempt of a login a
//! caller needs, and every retry after a server failure. A login the page forces
//! (`ensureLogin({ force: true })`) is the page's explicit decision: it neither waits nor spends.
//! A login that finds the bucket empty is not refused: it waits on the core's timer (its callers
//! wait with it, within their own deadlines).

use crate::core::protocol::Millis;

/// Automatic logins allowed back to back. Three covers every normal run at once: a cold start,
/// a re-login after the server revokes the session, and one more (a failed `wx.checkSession`, a
/// server retry).
pub const LOGIN_BURST: u64 = 3;

/// Past the burst, one automatic login per this many milliseconds. In any 60 s window there are
/// then at most `LOGIN_BURST + 60_000 / LOGIN_INTERVAL_MS` = 9 automatic logins.
pub const LOGIN_INTERVAL_MS: u64 = 10_000;

/// The bucket, kept as one instant (the generic cell rate algorithm): `full_at` is when the
/// bucket would be full again, so `full_at - now` is the time the spent tokens still need to
/// come back. Starts full.
#[derive(Debug, Clone, Default)]
pub(crate) struct LoginPace {
    full_at: Millis,
}

impl LoginPace {
    /// `full_at` as it can be at `now`: never in the past, and never further ahead than a whole
    /// burst even if the clock was set back since.
    fn full_at(&self, now: Millis) -> Millis {
        self.full_at.max(now).min(now.saturating_add(LOGIN_BURST * LOGIN_INTERVAL_MS))
    }

    /// When the next automatic login may start: `now` when a token is left, else the instant the
    /// next one comes back.
    pub(crate) fn next_at(&self, now: Millis) -> Millis {
        self.full_at(now).saturating_sub((LOGIN_BURST - 1) * LOGIN_INTERVAL_MS).max(now)
    }

    /// Spends a token if one is left at `now`; says whether it did.
    pub(crate) fn try_spend(&mut self, now: Millis) -> bool {
        if self.next_at(now) > now {
            return false;
        }
        self.full_at = self.full_at(now).saturating_add(LOGIN_INTERVAL_MS);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_one_per_interval() {
        let mut pace = LoginPace::default();
        let t0 = 1_800_000_000_000;
        for _ in 0..LOGIN_BURST {
            assert!(pace.try_spend(t0));
        }
        assert!(!pace.try_spend(t0));
        assert_eq!(pace.next_at(t0), t0 + LOGIN_INTERVAL_MS);
        assert!(!pace.try_spend(t0 + LOGIN_INTERVAL_MS - 1));
        assert!(pace.try_spend(t0 + LOGIN_INTERVAL_MS));
        assert_eq!(pace.next_at(t0 + LOGIN_INTERVAL_MS), t0 + 2 * LOGIN_INTERVAL_MS);
        // Quiet for a while: the burst is back, and no more than the burst.
        let later = t0 + 3_600_000;
        assert_eq!((0..10).filter(|_| pace.try_spend(later)).count() as u64, LOGIN_BURST);
    }

    #[test]
    fn a_clock_set_back_delays_by_one_interval_at_most() {
        let mut pace = LoginPace::default();
        let t0 = 1_800_000_000_000;
        while pace.try_spend(t0) {}
        let earlier = t0 - 86_400_000;
        assert_eq!(pace.next_at(earlier), earlier + LOGIN_INTERVAL_MS);
    }
}
