//! Cancellation of a running query: a client that went away, or the
//! configured `[query] timeout`.
//!
//! Why a polled flag: the executor runs on a blocking thread and reads the
//! store in bounded batches, so checking a flag between statements and
//! between batches of series stops the work within one batch, without
//! unwinding or async machinery. The HTTP layer sets the flag when the
//! client disconnects; the deadline is checked at the same points.
//!
//! A token may also carry a *hang-up probe* ([`CancelToken::with_hangup_probe`]):
//! when the HTTP layer runs a query on the request's own thread (no hand-off
//! to a blocking thread and back, which costs more than a small query
//! takes), nothing else can notice the client going away, so the checks
//! ask the probe instead, at most once per [`PROBE_EVERY`].

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Least time between two calls of a token's hang-up probe (a system call):
/// checks come per statement, per group and per batch of series, far more
/// often than a client's disconnect needs noticing.
pub const PROBE_EVERY: Duration = Duration::from_millis(1);

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
    probe: Option<Arc<HangupProbe>>,
}

/// Asks whether the client went away, rate-limited to [`PROBE_EVERY`].
struct HangupProbe {
    /// True once the client is gone.
    gone: Box<dyn Fn() -> bool + Send + Sync>,
    /// When the probe was made (the token's origin).
    origin: Instant,
    /// Nanoseconds after `origin` of the last call (`u64::MAX`: none yet).
    last_ns: AtomicU64,
}

impl std::fmt::Debug for HangupProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HangupProbe").field("last_ns", &self.last_ns).finish_non_exhaustive()
    }
}

impl HangupProbe {
    /// Calls the probe unless it was called less than [`PROBE_EVERY`] ago.
    fn client_gone(&self) -> bool {
        let now = u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
        let last = self.last_ns.load(Ordering::Relaxed);
        let every = u64::try_from(PROBE_EVERY.as_nanos()).unwrap_or(u64::MAX);
        if last != u64::MAX && now.saturating_sub(last) < every {
            return false;
        }
        self.last_ns.store(now, Ordering::Relaxed);
        (self.gone)()
    }
}

impl CancelToken {
    /// A token that also expires at `deadline`.
    pub fn with_deadline(deadline: Option<Instant>) -> CancelToken {
        CancelToken { flag: Arc::default(), deadline, probe: None }
    }

    /// This token (the same flag and deadline) whose checks also call
    /// `gone`, at most once per [`PROBE_EVERY`]; once it says the client
    /// is gone the flag is set, as a disconnect noticed elsewhere would.
    pub fn with_hangup_probe(&self, gone: impl Fn() -> bool + Send + Sync + 'static) -> CancelToken {
        let probe = HangupProbe { gone: Box::new(gone), origin: Instant::now(), last_ns: AtomicU64::new(u64::MAX) };
        CancelToken { probe: Some(Arc::new(probe)), ..self.clone() }
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
        if self.probe.as_ref().is_some_and(|p| p.client_gone()) {
            self.cancel();
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

    #[test]
    fn a_hangup_probe_cancels_the_shared_flag_and_is_rate_limited() {
        use std::sync::atomic::AtomicUsize;
        let t = CancelToken::default();
        let calls = Arc::new(AtomicUsize::new(0));
        let gone = Arc::new(AtomicBool::new(false));
        let probed = {
            let (calls, gone) = (Arc::clone(&calls), Arc::clone(&gone));
            t.with_hangup_probe(move || {
                calls.fetch_add(1, Ordering::Relaxed);
                gone.load(Ordering::Relaxed)
            })
        };
        assert_eq!(probed.check(), Ok(()));
        assert_eq!(calls.load(Ordering::Relaxed), 1, "the first check asks");
        for _ in 0..1000 {
            assert_eq!(probed.check(), Ok(()));
        }
        assert!(calls.load(Ordering::Relaxed) < 1000, "not every check asks");
        gone.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(10);
        while probed.check().is_ok() {
            assert!(Instant::now() < deadline, "the probe was never asked again");
            std::thread::yield_now();
        }
        assert_eq!(probed.check(), Err(Cancelled::Interrupted));
        assert_eq!(t.check(), Err(Cancelled::Interrupted), "the flag is shared with the original");
    }
}
