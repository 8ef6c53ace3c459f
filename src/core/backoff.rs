//! Retry delays: capped exponential backoff with "equal jitter", so that many clients failing at
//! once do not come back at once. The randomness comes from the driver as a seed; the sequence is
//! then deterministic, which keeps the core testable.

use crate::core::config::RetryPolicy;

/// A tiny xorshift generator: jitter needs spread, not cryptographic quality.
#[derive(Debug, Clone)]
pub struct Jitter(u32);

impl Jitter {
    pub fn new(seed: u32) -> Self {
        Jitter(if seed == 0 { 0x9E37_79B9 } else { seed })
    }

    fn next(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// The pause before attempt `failed_attempts + 1`: half the exponential step, plus a random
    /// part of the other half.
    pub fn delay_ms(&mut self, policy: &RetryPolicy, failed_attempts: u32) -> u64 {
        let exponent = failed_attempts.saturating_sub(1).min(20);
        let step = u64::from(policy.base_delay_ms).saturating_mul(1 << exponent).min(u64::from(policy.max_delay_ms));
        let half = step / 2;
        half + u64::from(self.next()) % (step - half + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_stay_capped_and_vary() {
        let policy = RetryPolicy { max_attempts: 10, base_delay_ms: 500, max_delay_ms: 8_000 };
        let mut jitter = Jitter::new(7);
        for failed in 1..12 {
            let step = (500u64 << (failed - 1).min(20)).min(8_000);
            let d = jitter.delay_ms(&policy, failed);
            assert!(d >= step / 2 && d <= step, "attempt {failed}: {d} not in [{}, {step}]", step / 2);
        }
        let spread: std::collections::BTreeSet<u64> = (0..20).map(|_| jitter.delay_ms(&policy, 3)).collect();
        assert!(spread.len() > 10, "jitter should spread delays: {spread:?}");
    }
}
