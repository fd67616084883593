//! Per-tenant limits enforced at run time: ingest rate (a token bucket of
//! points per second), queries running at once, and the count of location
//! tags dropped for privacy.
//!
//! Why per tenant and in memory: the point of the limits is that one tenant
//! flooding the server cannot starve the others, so each tenant has its own
//! bucket and its own query slots; they are rates and counts of the running
//! process, so nothing here needs to survive a restart (the limits
//! themselves are stored with the tenant).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A token bucket: `rate` tokens per second, holding at most one second's worth.
#[derive(Debug)]
pub struct TokenBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket for `rate` per second.
    pub fn new(rate: u64) -> TokenBucket {
        let rate = rate as f64;
        TokenBucket { rate, tokens: rate, last: Instant::now() }
    }

    /// Takes `n` tokens if there are that many; a request larger than one
    /// second's worth is admitted when the bucket is full (and empties it),
    /// so a big batch is slowed, not refused forever.
    pub fn try_take(&mut self, n: u64) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate);
        self.last = now;
        let n = n as f64;
        if n <= self.tokens {
            self.tokens -= n;
            true
        } else if n > self.rate && self.tokens >= self.rate {
            self.tokens = 0.0;
            true
        } else {
            false
        }
    }
}

/// The run-time state of every tenant's limits.
#[derive(Default)]
pub struct TenantLimiters {
    /// Tenant → (configured rate, bucket).
    buckets: Mutex<HashMap<String, (u64, TokenBucket)>>,
    /// Tenant → (configured slots, semaphore).
    queries: Mutex<HashMap<String, (u64, Arc<Semaphore>)>>,
    /// Tenant → location tags dropped since start.
    dropped: Mutex<HashMap<String, u64>>,
}

impl TenantLimiters {
    /// Admits `points` more points for `tenant` limited to `rate` per second
    /// (0 = unlimited).
    pub fn admit_points(&self, tenant: &str, rate: u64, points: u64) -> bool {
        if rate == 0 {
            return true;
        }
        let mut buckets = self.buckets.lock();
        let entry = buckets.entry(tenant.to_string()).or_insert_with(|| (rate, TokenBucket::new(rate)));
        if entry.0 != rate {
            *entry = (rate, TokenBucket::new(rate));
        }
        entry.1.try_take(points)
    }

    /// A query slot of `tenant` limited to `slots` at once (0 = unlimited):
    /// `Some(None)` unlimited, `Some(Some(permit))` admitted, `None` full.
    pub fn query_slot(&self, tenant: &str, slots: u64) -> Option<Option<OwnedSemaphorePermit>> {
        if slots == 0 {
            return Some(None);
        }
        let semaphore = {
            let mut queries = self.queries.lock();
            let permits = usize::try_from(slots).unwrap_or(usize::MAX).min(Semaphore::MAX_PERMITS);
            let entry = queries.entry(tenant.to_string()).or_insert_with(|| (slots, Arc::new(Semaphore::new(permits))));
            if entry.0 != slots {
                *entry = (slots, Arc::new(Semaphore::new(permits)));
            }
            Arc::clone(&entry.1)
        };
        semaphore.try_acquire_owned().ok().map(Some)
    }

    /// Counts `n` location tags dropped for `tenant`.
    pub fn count_dropped(&self, tenant: &str, n: u64) {
        if n > 0 {
            *self.dropped.lock().entry(tenant.to_string()).or_insert(0) += n;
        }
    }

    /// Location tags dropped for `tenant` since start.
    pub fn dropped(&self, tenant: &str) -> u64 {
        self.dropped.lock().get(tenant).copied().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_admits_up_to_its_rate_then_refills() {
        let mut bucket = TokenBucket::new(100);
        assert!(bucket.try_take(60));
        assert!(bucket.try_take(40));
        assert!(!bucket.try_take(10), "empty");
        bucket.last -= std::time::Duration::from_millis(200);
        assert!(bucket.try_take(10), "20 tokens refilled");
    }

    #[test]
    fn oversized_batches_pass_only_on_a_full_bucket() {
        let mut bucket = TokenBucket::new(100);
        assert!(bucket.try_take(500), "a full bucket admits one big batch");
        assert!(!bucket.try_take(1), "and is empty afterwards");
    }

    #[test]
    fn tenants_have_separate_buckets_and_slots() {
        let limits = TenantLimiters::default();
        assert!(limits.admit_points("a", 10, 10));
        assert!(!limits.admit_points("a", 10, 1));
        assert!(limits.admit_points("b", 10, 10), "b is unaffected by a");
        assert!(limits.admit_points("a", 0, 1_000_000), "0 = unlimited");
        let first = limits.query_slot("a", 1).expect("a slot");
        assert!(first.is_some());
        assert!(limits.query_slot("a", 1).is_none(), "a's only slot is taken");
        assert!(limits.query_slot("b", 1).is_some());
        drop(first);
        assert!(limits.query_slot("a", 1).is_some());
        limits.count_dropped("a", 3);
        limits.count_dropped("a", 2);
        assert_eq!(limits.dropped("a"), 5);
        assert_eq!(limits.dropped("b"), 0);
    }
}
