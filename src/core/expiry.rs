//! How long a session is used: the lifetime the server grants, the floor and ceiling on it, and
//! the safety margin that retires a token before the server does.

use crate::core::codec::login_reply::MIN_LIFETIME_S;
use crate::core::protocol::Millis;

/// [`MIN_LIFETIME_S`] in milliseconds.
pub(crate) const MIN_LIFETIME_MS: u64 = MIN_LIFETIME_S as u64 * 1000;

/// The instant from which a session counts as expired: `expires_at` minus the configured margin,
/// where the margin is at most a quarter of `known_life_ms`, the life the session had when the core
/// took it in.
///
/// The margin keeps a token from being sent in its last moments (clock skew, time on the wire);
/// it must never stand in for the server's own lifetime. A margin larger than the session (a 60 s
/// default against a 20 s token, or a 24 h margin against 2 h tokens) would make the session stale
/// the moment it arrives: the caller would get it, the next call would log in again, and so on.
/// Capped at a quarter, every session keeps at least three quarters of its life; with the
/// [`MIN_LIFETIME_S`] floor that is at least 7.5 s for a fresh one.
///
/// For a fresh login `known_life_ms` is the granted lifetime. For a session read from storage it
/// is what is left of it at load, because the stored format keeps only the expiry: a session
/// reloaded near its end is therefore used a little closer to its expiry than the process that
/// obtained it would have (a quarter of what is left, instead of the full margin); if the server
/// disagrees it answers "expired", and the one shared re-login and replay take over.
pub(crate) fn stale_at(expires_at: Millis, known_life_ms: u64, margin_ms: u64) -> Millis {
    expires_at.saturating_sub(margin_ms.min(known_life_ms / 4))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_capped_at_a_quarter_of_the_known_life() {
        assert_eq!(stale_at(100_000, 100_000, 60_000), 75_000);
        assert_eq!(stale_at(7_200_000, 7_200_000, 60_000), 7_140_000);
        assert_eq!(stale_at(10_000, 10_000, 0), 10_000);
        assert_eq!(stale_at(5, u64::MAX, u64::MAX), 0);
    }
}
