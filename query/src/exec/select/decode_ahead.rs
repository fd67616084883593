//! Batches decoded on two threads, consumed in order on one.
//!
//! Why: a query's batches of series are read and decoded (RocksDB, block
//! codecs, conversion) and then consumed (folded into aggregate states,
//! evaluated row by row) strictly in series order, because the answer
//! must not depend on timing (float sums are order-sensitive). Decoding is
//! often the larger half: a full-scan `mean(*)` folds a decoded column in
//! a fraction of the time it took to decode it. So both threads decode:
//! a helper takes batches in order, and the consuming thread, whenever the
//! batch it needs next is not ready yet, decodes the next unclaimed one
//! itself instead of waiting. Work balances itself on two cores whichever
//! half dominates.
//!
//! Memory stays bounded: no batch is claimed more than [`AHEAD`] batches
//! past the one being consumed. The helper stops when the consumer stops
//! (an error, the point budget, cancellation) or after its own error, which
//! the consumer reports when it reaches that batch, as a sequential run
//! would.

use std::collections::BTreeMap;

use parking_lot::{Condvar, Mutex};

use crate::exec::ExecError;

/// How many batches past the one being consumed may be claimed for
/// decoding: with the one in the consumer's hands, at most `AHEAD + 1`
/// batches are held at once.
pub(crate) const AHEAD: usize = 2;

/// The shared state of one query's decode-ahead (see the module docs).
pub(crate) struct DecodeAhead<T> {
    state: Mutex<State<T>>,
    changed: Condvar,
    batches: usize,
}

/// What the two threads coordinate on.
struct State<T> {
    /// The next batch nobody has claimed.
    next: usize,
    /// The batch the consumer needs (or holds) now.
    consuming: usize,
    /// Decoded batches not yet taken by the consumer.
    done: BTreeMap<usize, Result<T, ExecError>>,
    /// The consumer has stopped: the helper claims nothing more.
    stopped: bool,
    /// The helper has exited (finished, failed or panicked).
    helper_gone: bool,
}

impl<T> DecodeAhead<T> {
    /// Coordination for `batches` batches, numbered from 0.
    pub(crate) fn new(batches: usize) -> DecodeAhead<T> {
        DecodeAhead {
            state: Mutex::new(State {
                next: 0,
                consuming: 0,
                done: BTreeMap::new(),
                stopped: false,
                helper_gone: false,
            }),
            changed: Condvar::new(),
            batches,
        }
    }

    /// The helper's loop: claims batches in order and decodes each with
    /// `decode` until none is left, the consumer stops, or a decode fails.
    pub(crate) fn run_helper(&self, decode: &impl Fn(usize) -> Result<T, ExecError>) {
        // Marks the helper gone even if `decode` panics, so the consumer
        // never waits for a batch nobody will deliver.
        struct Gone<'a, T>(&'a DecodeAhead<T>);
        impl<T> Drop for Gone<'_, T> {
            fn drop(&mut self) {
                self.0.state.lock().helper_gone = true;
                self.0.changed.notify_all();
            }
        }
        let _gone = Gone(self);
        loop {
            let claimed = {
                let mut state = self.state.lock();
                loop {
                    if state.stopped || state.next >= self.batches {
                        break None;
                    }
                    if state.next <= state.consuming + AHEAD {
                        state.next += 1;
                        break Some(state.next - 1);
                    }
                    self.changed.wait(&mut state);
                }
            };
            let Some(batch) = claimed else { return };
            let decoded = decode(batch);
            let failed = decoded.is_err();
            self.state.lock().done.insert(batch, decoded);
            self.changed.notify_all();
            if failed {
                return;
            }
        }
    }

    /// The consumer's side: batch `batch` decoded (by either thread), to be
    /// consumed now. Call it for 0, 1, 2, ... in order; while `batch` is
    /// not ready, this thread decodes the next unclaimed batch itself.
    pub(crate) fn take(&self, batch: usize, decode: &impl Fn(usize) -> Result<T, ExecError>) -> Result<T, ExecError> {
        let mut state = self.state.lock();
        state.consuming = batch;
        self.changed.notify_all();
        loop {
            if let Some(decoded) = state.done.remove(&batch) {
                return decoded;
            }
            if state.next < self.batches && state.next <= batch + AHEAD {
                let mine = state.next;
                state.next += 1;
                drop(state);
                let decoded = decode(mine);
                if mine == batch {
                    return decoded;
                }
                state = self.state.lock();
                state.done.insert(mine, decoded);
                continue;
            }
            if state.helper_gone {
                // Claimed by the helper, which exited without delivering it.
                return Err(ExecError::Plain("query reader stopped".to_string()));
            }
            self.changed.wait(&mut state);
        }
    }

    /// The consumer is done (finished or failed): the helper stops claiming.
    pub(crate) fn stop(&self) {
        self.state.lock().stopped = true;
        self.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Runs the helper and the consumer on `batches` batches decoded by
    /// `decode`; the consumer stops at the first error or at `stop_at`.
    fn run(
        batches: usize,
        stop_at: Option<usize>,
        decode: impl Fn(usize) -> Result<usize, ExecError> + Sync,
    ) -> (Vec<usize>, Option<String>) {
        let ahead = DecodeAhead::new(batches);
        std::thread::scope(|scope| {
            scope.spawn(|| ahead.run_helper(&decode));
            let mut seen = Vec::new();
            let mut error = None;
            for i in 0..batches {
                if Some(i) == stop_at {
                    break;
                }
                match ahead.take(i, &decode) {
                    Ok(v) => seen.push(v),
                    Err(e) => {
                        error = Some(e.to_string());
                        break;
                    }
                }
            }
            ahead.stop();
            (seen, error)
        })
    }

    #[test]
    fn every_batch_arrives_once_and_in_order() {
        for batches in [0, 1, 2, 3, 7, 50] {
            let decoded = AtomicUsize::new(0);
            let (seen, error) = run(batches, None, |i| {
                decoded.fetch_add(1, Ordering::Relaxed);
                Ok(i * 10)
            });
            assert_eq!(error, None);
            assert_eq!(seen, (0..batches).map(|i| i * 10).collect::<Vec<_>>());
            assert_eq!(decoded.load(Ordering::Relaxed), batches, "each batch is decoded exactly once");
        }
    }

    #[test]
    fn a_failed_batch_is_reported_in_order_and_nothing_after_it_is_consumed() {
        let (seen, error) = run(20, None, |i| if i == 9 { Err(ExecError::Plain(format!("bad {i}"))) } else { Ok(i) });
        assert_eq!(seen, (0..9).collect::<Vec<_>>());
        assert_eq!(error.as_deref(), Some("bad 9"));
    }

    #[test]
    fn decoding_never_runs_more_than_ahead_batches_past_the_consumer() {
        let consumed = AtomicUsize::new(0);
        let ahead = DecodeAhead::new(40);
        let too_far = std::sync::atomic::AtomicBool::new(false);
        let decode = |i: usize| {
            if i > consumed.load(Ordering::SeqCst) + AHEAD {
                too_far.store(true, Ordering::SeqCst);
            }
            Ok(i)
        };
        std::thread::scope(|scope| {
            scope.spawn(|| ahead.run_helper(&decode));
            for i in 0..40 {
                consumed.store(i, Ordering::SeqCst);
                assert_eq!(ahead.take(i, &decode).ok(), Some(i));
                // A slow consumer lets the helper run as far as it may.
                std::thread::yield_now();
            }
            ahead.stop();
        });
        assert!(!too_far.load(Ordering::SeqCst));
    }

    #[test]
    fn an_early_stop_ends_the_helper() {
        let (seen, error) = run(1000, Some(3), Ok);
        assert_eq!(seen, vec![0, 1, 2]);
        assert_eq!(error, None);
    }

    #[test]
    fn a_helper_that_panics_is_an_error_not_a_hang() {
        let ahead: DecodeAhead<usize> = DecodeAhead::new(10);
        let result = std::thread::scope(|scope| {
            let helper = scope.spawn(|| ahead.run_helper(&|_| panic!("decoder bug")));
            // Let the helper claim (and fail on) batch 0 first.
            while !ahead.state.lock().helper_gone {
                std::thread::yield_now();
            }
            let result = ahead.take(0, &Ok);
            ahead.stop();
            assert!(helper.join().is_err());
            result
        });
        assert_eq!(result.err().map(|e| e.to_string()).as_deref(), Some("query reader stopped"));
    }
}
