//! The bounded worker pool that runs model fits and forecasts.
//!
//! Why a pool of its own: a fit is CPU-bound and can take from microseconds
//! to seconds. Run on the async runtime it would stall every request the
//! runtime serves; run on tokio's blocking pool (hundreds of threads) a
//! burst of forecasts would take every core from ingest. A fixed number of
//! worker threads (default `max(1, cores / 2)`) bounds the cores forecasting
//! may use, whatever the number of concurrent forecast queries and
//! continuous forecasts; writes and plain queries keep the other cores.
//!
//! Cancellation: [`FitPool::run`] waits for its job while polling the
//! caller's `cancelled` check (a query's cancellation token, the continuous
//! query scheduler's shutdown flag). On cancellation it returns at once; a
//! job still queued is dropped without running, a job already running
//! finishes on its worker and its result is discarded (models have no
//! preemption points). A full queue is not an error: the caller waits (and
//! can still be cancelled), which is the back pressure.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::{Condvar, Mutex};

/// How often a waiting caller checks its cancellation.
const POLL: Duration = Duration::from_millis(20);

/// Jobs waiting per worker before callers wait to enqueue.
const QUEUE_PER_WORKER: usize = 64;

/// Why a job gave no result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The caller's cancellation fired first.
    #[error("forecast cancelled")]
    Cancelled,
    /// The job panicked (a bug in a model), or the pool is shutting down.
    #[error("forecast worker failed")]
    Failed,
}

type Job = Box<dyn FnOnce() + Send + 'static>;

/// A queued job and the flag that skips it when its caller gave up.
struct Queued {
    job: Job,
    abandoned: Arc<AtomicBool>,
}

struct Shared {
    queue: Mutex<VecDeque<Queued>>,
    /// Signalled when a job is queued (workers wait on it) or dequeued
    /// (callers waiting for room wait on it).
    changed: Condvar,
    capacity: usize,
    running: AtomicUsize,
    stop: AtomicBool,
}

/// A fixed set of worker threads running fits; cheap to clone.
#[derive(Clone)]
pub struct FitPool {
    shared: Arc<Shared>,
    /// Stops the workers when the last handle goes.
    _stop: Arc<StopOnDrop>,
    workers: usize,
}

/// Tells the workers to exit once no [`FitPool`] handle is left.
struct StopOnDrop(Arc<Shared>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Relaxed);
        self.0.changed.notify_all();
    }
}

/// What a pool is doing now (for tests and monitoring).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Worker threads.
    pub workers: usize,
    /// Jobs running now.
    pub running: usize,
    /// Jobs waiting for a worker.
    pub queued: usize,
}

/// The default worker count: half the cores, at least one.
pub fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
}

impl FitPool {
    /// Starts a pool of `workers` threads (at least one).
    pub fn new(workers: usize) -> FitPool {
        let workers = workers.max(1);
        let shared = Arc::new(Shared {
            queue: Mutex::new(VecDeque::new()),
            changed: Condvar::new(),
            capacity: workers * QUEUE_PER_WORKER,
            running: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
        });
        for i in 0..workers {
            let shared = Arc::clone(&shared);
            let spawned = std::thread::Builder::new().name(format!("augur-fit-{i}")).spawn(move || worker(&shared));
            if let Err(err) = spawned {
                tracing::error!(error = %err, "cannot start a forecast worker thread");
            }
        }
        FitPool { _stop: Arc::new(StopOnDrop(Arc::clone(&shared))), shared, workers }
    }

    /// The pool's current load.
    pub fn stats(&self) -> PoolStats {
        PoolStats {
            workers: self.workers,
            running: self.shared.running.load(Ordering::Relaxed),
            queued: self.shared.queue.lock().len(),
        }
    }

    /// Runs `job` on a worker and returns its result, or
    /// [`PoolError::Cancelled`] as soon as `cancelled()` is true.
    pub fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
        cancelled: &dyn Fn() -> bool,
    ) -> Result<T, PoolError> {
        let (tx, rx) = mpsc::sync_channel(1);
        let abandoned = Arc::new(AtomicBool::new(false));
        let queued = Queued {
            job: Box::new(move || {
                let _ = tx.send(job());
            }),
            abandoned: Arc::clone(&abandoned),
        };
        {
            let mut queue = self.shared.queue.lock();
            while queue.len() >= self.shared.capacity {
                if cancelled() {
                    return Err(PoolError::Cancelled);
                }
                self.shared.changed.wait_for(&mut queue, POLL);
            }
            queue.push_back(queued);
        }
        self.shared.changed.notify_all();
        loop {
            match rx.recv_timeout(POLL) {
                Ok(value) => return Ok(value),
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if cancelled() {
                        abandoned.store(true, Ordering::Relaxed);
                        return Err(PoolError::Cancelled);
                    }
                }
                // The job panicked (its sender dropped) or the pool stopped.
                Err(mpsc::RecvTimeoutError::Disconnected) => return Err(PoolError::Failed),
            }
        }
    }
}

fn worker(shared: &Shared) {
    loop {
        let next = {
            let mut queue = shared.queue.lock();
            loop {
                if shared.stop.load(Ordering::Relaxed) {
                    return;
                }
                if let Some(job) = queue.pop_front() {
                    break job;
                }
                shared.changed.wait_for(&mut queue, Duration::from_secs(1));
            }
        };
        shared.changed.notify_all();
        if next.abandoned.load(Ordering::Relaxed) {
            continue;
        }
        shared.running.fetch_add(1, Ordering::Relaxed);
        // A panicking model must not take the worker down: the caller sees
        // its channel closed and reports `Failed`.
        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(next.job));
        shared.running.fetch_sub(1, Ordering::Relaxed);
    }
}

static GLOBAL: OnceLock<FitPool> = OnceLock::new();

/// Sizes the process-wide pool; only the first call (before any use of
/// [`global`]) has an effect. Returns whether this call sized it.
pub fn configure_global(workers: usize) -> bool {
    let mut sized = false;
    GLOBAL.get_or_init(|| {
        sized = true;
        FitPool::new(workers)
    });
    sized
}

/// The process-wide pool that `forecast()` and continuous forecasts use
/// (started with [`default_workers`] unless [`configure_global`] ran first).
pub fn global() -> &'static FitPool {
    GLOBAL.get_or_init(|| FitPool::new(default_workers()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn never() -> bool {
        false
    }

    #[test]
    fn runs_jobs_and_bounds_concurrency() {
        let pool = FitPool::new(2);
        assert_eq!(pool.run(|| 6 * 7, &never), Ok(42));
        let peak = Arc::new(AtomicUsize::new(0));
        let now = Arc::new(AtomicUsize::new(0));
        let handles: Vec<_> = (0..8)
            .map(|_| {
                let (pool, peak, now) = (pool.clone(), Arc::clone(&peak), Arc::clone(&now));
                std::thread::spawn(move || {
                    pool.run(
                        move || {
                            let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                            peak.fetch_max(n, Ordering::SeqCst);
                            std::thread::sleep(Duration::from_millis(10));
                            now.fetch_sub(1, Ordering::SeqCst);
                        },
                        &never,
                    )
                })
            })
            .collect();
        for h in handles {
            assert_eq!(h.join().expect("joins"), Ok(()));
        }
        assert!(peak.load(Ordering::SeqCst) <= 2, "at most 2 jobs at once");
    }

    #[test]
    fn cancellation_returns_while_the_pool_is_saturated_and_skips_queued_jobs() {
        let pool = FitPool::new(1);
        let (release_tx, release_rx) = mpsc::channel::<()>();
        let (started_tx, started_rx) = mpsc::channel::<()>();
        let blocker = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.run(
                    move || {
                        let _ = started_tx.send(());
                        let _ = release_rx.recv();
                    },
                    &never,
                )
            })
        };
        started_rx.recv().expect("the blocking job started");
        assert_eq!(pool.stats().running, 1);
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let cancel = Arc::new(AtomicBool::new(false));
        let c = Arc::clone(&cancel);
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                pool.run(move || flag.store(true, Ordering::SeqCst), &|| c.load(Ordering::SeqCst))
            })
        };
        // Poll until the second job is queued behind the first.
        let t = Instant::now();
        while pool.stats().queued == 0 && t.elapsed() < Duration::from_secs(10) {
            std::thread::yield_now();
        }
        cancel.store(true, Ordering::SeqCst);
        assert_eq!(waiter.join().expect("joins"), Err(PoolError::Cancelled));
        release_tx.send(()).expect("release");
        assert_eq!(blocker.join().expect("joins"), Ok(()));
        // The pool keeps working and never ran the abandoned job.
        assert_eq!(pool.run(|| 1, &never), Ok(1));
        assert!(!ran.load(Ordering::SeqCst));
    }

    #[test]
    fn a_panicking_job_fails_without_killing_the_worker() {
        let pool = FitPool::new(1);
        let r: Result<(), _> = pool.run(|| panic!("model bug"), &never);
        assert_eq!(r, Err(PoolError::Failed));
        assert_eq!(pool.run(|| 2, &never), Ok(2));
        assert!(default_workers() >= 1);
    }
}
