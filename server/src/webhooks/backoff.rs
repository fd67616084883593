//! How long to wait before the next delivery attempt: exponential backoff
//! with full jitter.
//!
//! After failed attempt `n` (1-based) the ceiling is
//! `min(max_backoff, initial_backoff × 2^(n-1))` and the wait is drawn
//! uniformly from `[0, ceiling]` ("full jitter", as in AWS's architecture
//! note on backoff): many subscriptions failing at once against one
//! recovering consumer spread their retries instead of arriving together.

use std::time::Duration;

use rand::Rng;

/// The backoff policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Ceiling after the first failed attempt.
    pub initial: Duration,
    /// Largest ceiling.
    pub max: Duration,
}

impl Backoff {
    /// The ceiling of the wait after failed attempt `attempt` (1-based).
    pub fn ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.initial.saturating_mul(1u32 << doublings).min(self.max)
    }

    /// The wait after failed attempt `attempt`: uniform in `[0, ceiling]`.
    pub fn delay(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rng.gen_range(0..=ceiling))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn ceilings_double_up_to_the_maximum() {
        let b = Backoff { initial: Duration::from_secs(1), max: Duration::from_secs(60) };
        let ceilings: Vec<u64> = (1..=9).map(|n| b.ceiling(n).as_secs()).collect();
        assert_eq!(ceilings, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(b.ceiling(0), Duration::from_secs(1));
        assert_eq!(b.ceiling(u32::MAX), Duration::from_secs(60), "no overflow");
    }

    #[test]
    fn delays_stay_within_bounds_and_spread() {
        let b = Backoff { initial: Duration::from_millis(100), max: Duration::from_secs(2) };
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for attempt in 1..=20 {
            let mut seen = std::collections::BTreeSet::new();
            for _ in 0..200 {
                let d = b.delay(attempt, &mut rng);
                assert!(d <= b.ceiling(attempt), "attempt {attempt}: {d:?}");
                seen.insert(d);
            }
            assert!(seen.len() > 20, "attempt {attempt}: jitter spreads the waits");
        }
    }
}
