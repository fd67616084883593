//! Brute-force protection: too many failed logins from one client address
//! within a window block further attempts from it until the window ends.
//!
//! Why per address and not per user: per-user lockout lets anyone lock a
//! victim out; per-address limits bound a guesser's rate while leaving
//! other clients alone. A success does not reset the count, so a client
//! holding one valid credential cannot interleave it to keep guessing.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Addresses remembered before stale entries are pruned.
const PRUNE_AT: usize = 10_000;

/// Counts failures per client address.
pub struct FailureLimiter {
    max_failures: u32,
    window: Duration,
    entries: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl FailureLimiter {
    /// At most `max_failures` failures per `window` per address (0 = no limit).
    pub fn new(max_failures: u32, window: Duration) -> FailureLimiter {
        FailureLimiter { max_failures, window, entries: Mutex::new(HashMap::new()) }
    }

    /// `Err(retry_after)` while `ip` is blocked.
    pub fn check(&self, ip: IpAddr) -> Result<(), Duration> {
        if self.max_failures == 0 {
            return Ok(());
        }
        let entries = self.entries.lock();
        match entries.get(&ip) {
            Some((start, count)) if *count >= self.max_failures && start.elapsed() < self.window => {
                Err(self.window.saturating_sub(start.elapsed()))
            }
            _ => Ok(()),
        }
    }

    /// Counts one failure from `ip`.
    pub fn record_failure(&self, ip: IpAddr) {
        let mut entries = self.entries.lock();
        if entries.len() >= PRUNE_AT {
            let window = self.window;
            entries.retain(|_, (start, _)| start.elapsed() < window);
        }
        let entry = entries.entry(ip).or_insert((Instant::now(), 0));
        if entry.0.elapsed() >= self.window {
            *entry = (Instant::now(), 0);
        }
        entry.1 = entry.1.saturating_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_after_max_failures_per_address_only() {
        let limiter = FailureLimiter::new(3, Duration::from_secs(60));
        let a: IpAddr = [10, 0, 0, 1].into();
        let b: IpAddr = [10, 0, 0, 2].into();
        for _ in 0..3 {
            assert!(limiter.check(a).is_ok());
            limiter.record_failure(a);
        }
        let retry = limiter.check(a).expect_err("blocked");
        assert!(retry <= Duration::from_secs(60) && retry > Duration::from_secs(50));
        assert!(limiter.check(b).is_ok(), "other clients are unaffected");
    }

    #[test]
    fn window_expiry_unblocks_and_zero_disables() {
        let limiter = FailureLimiter::new(1, Duration::from_millis(0));
        let a: IpAddr = [10, 0, 0, 1].into();
        limiter.record_failure(a);
        assert!(limiter.check(a).is_ok(), "a zero window expires at once");
        let off = FailureLimiter::new(0, Duration::from_secs(60));
        for _ in 0..10 {
            off.record_failure(a);
        }
        assert!(off.check(a).is_ok());
    }
}
