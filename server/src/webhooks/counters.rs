//! Delivery counts per subscription, for `/metrics` and `_internal`.
//!
//! Why counters apart from the delivery log: the log keeps the last
//! [`LOG_KEEP`](super::deliveries::LOG_KEEP) records per subscription for
//! people; monitoring needs totals that only go up.

use crate::monitor::metrics::{Counter, CounterFamily};

/// Delivery totals since the server started, by subscription id.
#[derive(Debug)]
pub struct DeliveryCounters {
    /// Events delivered (2xx from the receiver).
    pub delivered: CounterFamily,
    /// Attempts that failed (the event is retried or dead-lettered).
    pub failed_attempts: CounterFamily,
    /// Events given up on and moved to the dead letters.
    pub dead_lettered: CounterFamily,
}

impl Default for DeliveryCounters {
    fn default() -> Self {
        DeliveryCounters {
            delivered: CounterFamily::new(&["subscription"], Counter::default),
            failed_attempts: CounterFamily::new(&["subscription"], Counter::default),
            dead_lettered: CounterFamily::new(&["subscription"], Counter::default),
        }
    }
}
