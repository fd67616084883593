//! Wall-clock time in nanoseconds since the Unix epoch.
//!
//! One function so that every "now" in the server (timestamps of points
//! written without one, retention cut-offs) is read the same way.

use std::time::{SystemTime, UNIX_EPOCH};

/// Now, in nanoseconds since the epoch (0 if the clock is before 1970;
/// saturates in 2262).
pub fn now_ns() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)).unwrap_or(0)
}
