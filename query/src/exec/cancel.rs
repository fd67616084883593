//! Cancellation of a running query: a client that went away, or the
//! configured `[query] timeout`.
//!
//! Why a polled flag: the executor runs on a blocking thread and reads the
//! store in bounded batches, so checking a flag between statements and
//! between batches of series stops the work within one batch, without
//! unwinding or async machinery. The HTTP layer sets the flag when the
//! client disconnects; the deadline is checked at the same points.
//!
//! A token may also carry a *budget* ([`CancelToken::with_budget`]): the
//! HTTP layer runs a small read-only query on its async worker first (no
//! hand-off to a blocking thread and back, which costs more than a
//! one-series query takes) and, should that run outlast the budget, drops
//! it and starts the query again on a blocking thread, where a client
//! disconnect can stop it. [`CancelToken::budget_spent`] tells the two
//! outcomes apart.

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
    /// The run outlasted its budget and is to be started again elsewhere
    /// (never shown to a client: see [`CancelToken::with_budget`]).
    #[error("query ran past its inline budget")]
    OverBudget,
}

/// A cancellation token shared by the HTTP layer and the executor.
/// Cloning shares the flag. The default never cancels.
#[derive(Debug, Clone, Default)]
pub struct CancelToken {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
    budget: Option<Budget>,
}

/// When a budgeted run must stop, and whether it did.
///
/// Why a shared flag and not just the instant: the caller learns from it
/// that the results it got are the stopped run's, whatever the executor
/// made of the error.
#[derive(Debug, Clone)]
struct Budget {
    until: Instant,
    spent: Arc<AtomicBool>,
}

impl CancelToken {
    /// A token that also expires at `deadline`.
    pub fn with_deadline(deadline: Option<Instant>) -> CancelToken {
        CancelToken { flag: Arc::default(), deadline, budget: None }
    }

    /// A token that shares this one's flag and deadline and also stops the
    /// work at `until`, recording that it did ([`CancelToken::budget_spent`]).
    pub fn with_budget(&self, until: Instant) -> CancelToken {
        CancelToken {
            flag: Arc::clone(&self.flag),
            deadline: self.deadline,
            budget: Some(Budget { until, spent: Arc::default() }),
        }
    }

    /// Whether a check of this token stopped the work at its budget.
    pub fn budget_spent(&self) -> bool {
        self.budget.as_ref().is_some_and(|b| b.spent.load(Ordering::Relaxed))
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
        if let Some(budget) = self.budget.as_ref().filter(|b| Instant::now() >= b.until) {
            budget.spent.store(true, Ordering::Relaxed);
            return Err(Cancelled::OverBudget);
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

    #[test]
    fn a_budget_stops_the_run_and_says_so_while_sharing_the_flag() {
        let t = CancelToken::default();
        let roomy = t.with_budget(Instant::now() + std::time::Duration::from_secs(3600));
        assert_eq!(roomy.check(), Ok(()));
        assert!(!roomy.budget_spent());
        let spent = t.with_budget(Instant::now());
        assert!(!spent.budget_spent(), "not spent before a check sees it");
        assert_eq!(spent.check(), Err(Cancelled::OverBudget));
        assert!(spent.budget_spent());
        assert!(spent.clone().budget_spent(), "clones share the record");
        assert_eq!(t.check(), Ok(()), "the original has no budget");
        t.cancel();
        assert_eq!(roomy.check(), Err(Cancelled::Interrupted), "the flag is shared");
        assert!(!roomy.budget_spent());
    }
}
