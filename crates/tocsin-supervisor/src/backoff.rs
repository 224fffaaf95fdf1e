//! Exponential backoff with jitter.

use std::time::Duration;

/// Reconnect pacing for one account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay before the first retry.
    pub base: Duration,
    /// Longest delay.
    pub cap: Duration,
    /// Attempts before giving up; 0 = retry forever.
    pub max_attempts: u32,
    /// A connection that stayed up this long resets the attempt counter.
    pub stable_after: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_secs(1),
            cap: Duration::from_secs(30),
            max_attempts: 0,
            stable_after: Duration::from_secs(60),
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (1-based): `base × 2^(attempt-1)`,
    /// capped, then scaled by a jitter factor in [0.5, 1.0] taken from `unit` ∈ [0, 1).
    pub fn delay(&self, attempt: u32, unit: f64) -> Duration {
        let exp = attempt.saturating_sub(1).min(30);
        let raw = self.base.saturating_mul(1u32 << exp).min(self.cap);
        raw.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_doubles_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.delay(1, 1.0), Duration::from_secs(1));
        assert_eq!(b.delay(2, 1.0), Duration::from_secs(2));
        assert_eq!(b.delay(5, 1.0), Duration::from_secs(16));
        assert_eq!(b.delay(6, 1.0), Duration::from_secs(30));
        assert_eq!(b.delay(1000, 1.0), Duration::from_secs(30));
    }

    #[test]
    fn jitter_stays_within_half_to_full() {
        let b = Backoff::default();
        for i in 0..=10 {
            let u = f64::from(i) / 10.0;
            let d = b.delay(4, u);
            assert!(d >= Duration::from_secs(4) && d <= Duration::from_secs(8), "{d:?}");
        }
        assert_eq!(b.delay(4, 0.0), Duration::from_secs(4));
    }
}
