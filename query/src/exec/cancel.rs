//! Cancellation of a running query: a client that went away, or the
//! configured `[query] timeout`.
//!
//! Why a polled flag: the executor runs on a blocking thread and reads the
//! store in bounded batches, so checking a flag between statements and
//! between batches of series stops the work within one batch, without
//! unwinding or async machinery. The HTTP layer sets the flag when the
//! client disconnects; the deadline is checked at the same points.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Why a query stopped early (the texts are InfluxDB 1.x's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Cancelled {
    /// The client disconnected (or the query was killed).
    #[error("query interrupted")]
    Interrupted,
    /// The query ran past `[query] timeout`.
    #[error("query-timeout limit exceeded")]
    TimedOut,
}

/// A cancellation token shared by the HTTP layer and the executor.
/// Cloning shares the flag. The default never cancels.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl CancelToken {
    /// A token that also expires at `deadline`.
    pub fn with_deadline(deadline: Option<Instant>) -> CancelToken {
        CancelToken { flag: Arc::default(), deadline }
    }

    /// Asks the query to stop.
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// `Err` once the query should stop.
    pub fn check(&self) -> Result<(), Cancelled> {
        if self.flag.load(Ordering::Relaxed) {
            return Err(Cancelled::Interrupted);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(Cancelled::TimedOut);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flag_and_deadline() {
        let t = CancelToken::default();
        assert_eq!(t.check(), Ok(()));
        let shared = t.clone();
        shared.cancel();
        assert_eq!(t.check(), Err(Cancelled::Interrupted));
        let past = CancelToken::with_deadline(Some(Instant::now()));
        assert_eq!(past.check(), Err(Cancelled::TimedOut));
        assert_eq!(Cancelled::TimedOut.to_string(), "query-timeout limit exceeded");
    }
}
