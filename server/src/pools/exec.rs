//! The built-in `exec` provider: runs a pool's start and stop commands for
//! its units, so the whole loop (forecast → units → load balancer) runs on
//! one machine for demos and tests.
//!
//! Contract with the commands: they run with `AUGUR_POOL`, `AUGUR_TENANT`,
//! `AUGUR_UNIT_ID`, `AUGUR_UNIT_SHAPE` (and `AUGUR_UNIT_ADDRESS` for stop)
//! in their environment, without a shell (give `["sh", "-c", "…"]` for
//! one). Start must leave the unit running in the background, print its
//! `host:port` as the last line of its standard output and exit 0; a start
//! that fails or exceeds the pool's `unit_timeout` releases the unit (the
//! next cycle replaces it) and runs stop, without `AUGUR_UNIT_ADDRESS`, to
//! clean up whatever the start left running. A stop that fails is retried
//! (four attempts over 7 s), then logged: the unit is gone from the pool
//! either way. A job is forgotten only once it has
//! run to the end; one a restart interrupted runs again (a stop), or is
//! undone by a stop (a start) — so stop must be idempotent
//! ([`super::manager`]'s `exec_recovery`).

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};

use super::manager::{ExecJob, PoolError, PoolManager};
use crate::clock::now_ns;
use crate::config::DEFAULT_EXEC_CONCURRENCY;

/// Most bytes of a command's output kept (the address is in the last line).
const MAX_OUTPUT: usize = 64 * 1024;
/// Attempts of a stop command before it is given up (and logged).
const STOP_ATTEMPTS: u32 = 4;
/// The wait before a stop's first retry (it doubles with each retry: 1, 2, 4 s).
const STOP_RETRY: Duration = Duration::from_secs(1);

/// Counts and bounds the `exec` commands running.
///
/// Counted so that a graceful shutdown lets them finish instead of killing
/// them half way (a killed stop would run again and a killed start be
/// undone after the restart — correct, but the unit's fate would wait for
/// the next start of the server). Bounded (`[pools] exec_concurrency`) so
/// that deleting a pool of thousands of units, or a restart resuming as
/// many jobs, does not fork thousands of processes at once: the rest wait
/// their turn, stored, and a waiting job does not hold a shutdown up.
pub struct InFlight {
    running: Arc<watch::Sender<usize>>,
    slots: Arc<Semaphore>,
}

impl Default for InFlight {
    fn default() -> Self {
        InFlight::new(DEFAULT_EXEC_CONCURRENCY)
    }
}

impl InFlight {
    /// At most `limit` (at least one) commands at once.
    pub fn new(limit: usize) -> Self {
        InFlight { running: Arc::new(watch::Sender::new(0)), slots: Arc::new(Semaphore::new(limit.max(1))) }
    }

    /// Waits for a free slot, then counts one command as running until the
    /// guard drops.
    async fn enter(&self) -> Running {
        // The semaphore is never closed, so acquiring only fails if it were.
        let permit = Arc::clone(&self.slots).acquire_owned().await.ok();
        self.running.send_modify(|n| *n += 1);
        Running { running: Arc::clone(&self.running), _permit: permit }
    }

    /// Waits at most `limit` for every running command to finish; whether
    /// they all did.
    pub async fn drained(&self, limit: Duration) -> bool {
        let mut running = self.running.subscribe();
        let finished = tokio::time::timeout(limit, running.wait_for(|n| *n == 0)).await;
        matches!(finished, Ok(Ok(_)))
    }
}

/// One running command, holding its slot (see [`InFlight`]).
struct Running {
    running: Arc<watch::Sender<usize>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.running.send_modify(|n| *n = n.saturating_sub(1));
    }
}

/// How long a job of `job`'s pool may run: the pool's `unit_timeout`
/// (ten minutes, the default, when the pool is gone).
pub fn timeout_of(manager: &PoolManager, job: &ExecJob) -> Duration {
    let ns = manager.get(&job.tenant, &job.pool).map_or(10 * 60 * 1_000_000_000, |r| r.spec.unit_timeout);
    Duration::from_nanos(ns.unsigned_abs())
}

/// Runs `job` to completion, reports the outcome to the manager, then has
/// the manager forget the job.
pub async fn run(manager: Arc<PoolManager>, job: ExecJob, timeout: Duration) {
    if let Some(wait) = job.not_before.map(|t| t.saturating_sub(now_ns())).filter(|w| *w > 0) {
        tracing::info!(pool = %job.pool, unit = %job.unit, wait_s = wait / 1_000_000_000, "exec stop waits for the interrupted start's deadline");
        tokio::time::sleep(Duration::from_nanos(wait.unsigned_abs())).await;
    }
    // Counted only from here: a job still waiting is stored and runs after
    // a restart anyway; it should not hold a shutdown up.
    let _running = manager.exec_in_flight().enter().await;
    // A start keeps to its deadline however long it waited for its slot:
    // after a restart, its undoing stop waits for that deadline only.
    let timeout = match job.deadline.filter(|_| job.start).map(|d| d.saturating_sub(now_ns())) {
        Some(left) if left <= 0 => {
            start_never_ran(&manager, &job);
            manager.exec_finished(&job);
            return;
        }
        Some(left) => timeout.min(Duration::from_nanos(left.unsigned_abs())),
        None => timeout,
    };
    run_and_report(&manager, &job, timeout).await;
    manager.exec_finished(&job);
}

/// Records a start that waited past its deadline for a slot and so never
/// ran: the unit failed (the next cycle replaces it); nothing to stop.
fn start_never_ran(manager: &PoolManager, job: &ExecJob) {
    let why = "waited past its unit_timeout for a free exec slot ([pools] exec_concurrency)";
    tracing::warn!(pool = %job.pool, unit = %job.unit, "exec start {why}");
    if let Err(err) = manager.unit_failed(&job.tenant, &job.pool, &job.unit, why, now_ns()) {
        tracing::info!(pool = %job.pool, unit = %job.unit, error = %err, "unit already gone");
    }
}

/// Runs a job's stop-to-undo (if it has one); failures are logged.
async fn undo(job: &ExecJob, address: Option<String>, timeout: Duration) {
    if let Some(mut stop) = job.undo_job() {
        stop.address = address;
        if let Err(why) = run_stop(&stop, timeout).await {
            tracing::warn!(pool = %stop.pool, unit = %stop.unit, error = %why, "exec stop failed");
        }
    }
}

/// Runs a stop command, retried after a failure (a unit left running is
/// paid for): [`STOP_ATTEMPTS`] attempts, [`STOP_RETRY`] apart, doubling.
async fn run_stop(job: &ExecJob, timeout: Duration) -> Result<String, String> {
    let mut wait = STOP_RETRY;
    for attempt in 1.. {
        match run_command(job, timeout).await {
            Err(why) if attempt < STOP_ATTEMPTS => {
                tracing::warn!(pool = %job.pool, unit = %job.unit, attempt, error = %why, retry_in = ?wait, "exec stop failed; retrying");
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2);
            }
            outcome => return outcome,
        }
    }
    Err("no attempt".to_string())
}

/// [`run`] without forgetting the job.
async fn run_and_report(manager: &Arc<PoolManager>, job: &ExecJob, timeout: Duration) {
    let job = job.clone();
    let outcome = if job.start { run_command(&job, timeout).await } else { run_stop(&job, timeout).await };
    let now = now_ns();
    match (job.start, outcome) {
        (true, Ok(output)) => {
            let address = output.lines().rev().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_string();
            match manager.unit_ready(&job.tenant, &job.pool, &job.unit, &address, now) {
                Ok(_) => tracing::info!(pool = %job.pool, unit = %job.unit, %address, "exec unit ready"),
                Err(PoolError::InvalidAddress(_)) => {
                    tracing::warn!(pool = %job.pool, unit = %job.unit, %address, "exec start did not print host:port");
                    let _ = manager.unit_failed(&job.tenant, &job.pool, &job.unit, "no host:port in its output", now);
                    undo(&job, None, timeout).await;
                }
                Err(err) => {
                    // Released (or its pool deleted) while it started: stop
                    // what the start command left running.
                    tracing::info!(pool = %job.pool, unit = %job.unit, error = %err, "unit gone while starting; stopping it");
                    undo(&job, Some(address), timeout).await;
                }
            }
        }
        (true, Err(why)) => {
            tracing::warn!(pool = %job.pool, unit = %job.unit, error = %why, "exec start failed");
            if let Err(err) = manager.unit_failed(&job.tenant, &job.pool, &job.unit, &why, now) {
                tracing::warn!(pool = %job.pool, unit = %job.unit, error = %err, "cannot record the failed start");
            }
            // A start that failed or ran out of time may have left the
            // unit half started: its stop cleans up by unit id.
            undo(&job, None, timeout).await;
        }
        (false, Ok(_)) => tracing::info!(pool = %job.pool, unit = %job.unit, "exec unit stopped"),
        (false, Err(why)) => tracing::warn!(pool = %job.pool, unit = %job.unit, error = %why, "exec stop failed"),
    }
}

/// Runs the job's command; its standard output on success.
async fn run_command(job: &ExecJob, timeout: Duration) -> Result<String, String> {
    let Some((program, args)) = job.command.split_first() else {
        return Err("no command".to_string());
    };
    let mut command = Command::new(program);
    command
        .args(args)
        .env("AUGUR_POOL", &job.pool)
        .env("AUGUR_TENANT", &job.tenant)
        .env("AUGUR_UNIT_ID", &job.unit)
        .env("AUGUR_UNIT_SHAPE", &job.shape)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(address) = &job.address {
        command.env("AUGUR_UNIT_ADDRESS", address);
    }
    let child = command.spawn().map_err(|e| format!("cannot run {program}: {e}"))?;
    let output = tokio::time::timeout(timeout, child.wait_with_output())
        .await
        .map_err(|_| format!("{program} did not finish within {timeout:?}"))?
        .map_err(|e| format!("{program}: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout[output.stdout.len().saturating_sub(MAX_OUTPUT)..]).into_owned();
    if output.status.success() {
        Ok(stdout)
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr.chars().rev().take(300).collect::<Vec<_>>().into_iter().rev().collect();
        Err(format!("{program} exited with {}: {}", output.status, tail.trim()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pools::events::StoreSink;
    use crate::pools::spec::PoolSpec;
    use crate::pools::units::UnitState;
    use augur_engine::storage::{Store, StoreOptions};

    const MINUTE: i64 = 60_000_000_000;

    #[tokio::test]
    async fn a_unit_released_while_starting_is_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        store.create_database("infra").expect("db");
        let manager = Arc::new(PoolManager::open(store.clone(), Arc::new(StoreSink { store }), 5).expect("manager"));
        let stopped = dir.path().join("stopped");
        let spec: PoolSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "tenant": "default", "dimensions": ["cpu_cores"],
            "shapes": [{"name": "one", "capacity": {"cpu_cores": 1}}], "min": 1, "max": 2,
            "unit_timeout": "1m",
            "demand": {"cpu_cores": {"database": "infra", "query": "SELECT sum(c) FROM u GROUP BY time(1m)"}},
            "provider": {"kind": "exec", "start": ["sh", "-c", "echo 127.0.0.1:9"],
                         "stop": ["sh", "-c", format!("echo \"$AUGUR_UNIT_ADDRESS\" > {}", stopped.display())]},
        }))
        .expect("spec");
        // Real time: a start keeps to its deadline (`unit_timeout` after now).
        let t0 = now_ns();
        manager.create(spec, t0).expect("create");
        manager.cycle("default", "p", t0).expect("cycle");
        let jobs = manager.advance("default", "p", t0).expect("advance");
        assert_eq!(jobs.len(), 1, "one start for the one unit (min 1)");
        // The unit times out before its start command reports.
        manager.cycle("default", "p", t0 + 2 * MINUTE).expect("cycle");
        let first = jobs[0].unit.clone();
        let record = manager.get("default", "p").expect("pool");
        assert_eq!(record.units.iter().find(|u| u.id == first).map(|u| u.state), Some(UnitState::Released));
        run(Arc::clone(&manager), jobs[0].clone(), Duration::from_secs(10)).await;
        let record = manager.get("default", "p").expect("pool");
        assert_eq!(record.units.iter().find(|u| u.id == first).map(|u| u.state), Some(UnitState::Released));
        let text = std::fs::read_to_string(&stopped).expect("the stop command ran");
        assert_eq!(text.trim(), "127.0.0.1:9");
    }

    #[tokio::test]
    async fn a_failing_stop_is_retried_until_it_succeeds() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        let manager = Arc::new(PoolManager::open(store.clone(), Arc::new(StoreSink { store }), 5).expect("manager"));
        let count = dir.path().join("count");
        // Fails twice, then succeeds.
        let script =
            format!("n=$(cat {0} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {0}; [ $n -ge 3 ]", count.display());
        let stop = ExecJob {
            tenant: "default".into(),
            pool: "p".into(),
            unit: "u000001".into(),
            shape: "one".into(),
            address: Some("127.0.0.1:9".into()),
            start: false,
            command: vec!["sh".into(), "-c".into(), script],
            undo: None,
            deadline: None,
            not_before: None,
        };
        run(Arc::clone(&manager), stop.clone(), Duration::from_secs(10)).await;
        assert_eq!(std::fs::read_to_string(&count).expect("count").trim(), "3");
        // A stop that never succeeds is given up after its attempts.
        let never = ExecJob {
            command: vec!["sh".into(), "-c".into(), format!("echo x >> {}.never; false", count.display())],
            ..stop
        };
        assert!(run_stop(&never, Duration::from_secs(10)).await.is_err());
        let tries = std::fs::read_to_string(format!("{}.never", count.display())).expect("tries");
        assert_eq!(tries.lines().count(), STOP_ATTEMPTS as usize);
    }

    /// A pool whose unit start commands run `start` (a shell script).
    fn exec_pool(manager: &PoolManager, dir: &std::path::Path, start: &str) {
        let spec: PoolSpec = serde_json::from_value(serde_json::json!({
            "name": "p", "tenant": "default", "dimensions": ["cpu_cores"],
            "shapes": [{"name": "one", "capacity": {"cpu_cores": 1}}], "min": 6, "max": 6,
            "unit_timeout": "1m",
            "demand": {"cpu_cores": {"database": "infra", "query": "SELECT sum(c) FROM u GROUP BY time(1m)"}},
            "provider": {"kind": "exec", "start": ["sh", "-c", start],
                         "stop": ["sh", "-c", format!("touch {}/stopped.$AUGUR_UNIT_ID", dir.display())]},
        }))
        .expect("spec");
        manager.create(spec, now_ns()).expect("create");
    }

    fn files_named(dir: &std::path::Path, prefix: &str) -> usize {
        std::fs::read_dir(dir)
            .expect("dir")
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
            .count()
    }

    #[tokio::test]
    async fn at_most_exec_concurrency_commands_run_at_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        store.create_database("infra").expect("db");
        let manager = Arc::new(
            PoolManager::open(store.clone(), Arc::new(StoreSink { store }), 5)
                .expect("manager")
                .with_exec_concurrency(2),
        );
        // Each start says it runs, then holds its slot until `go` exists.
        let d = dir.path().display();
        exec_pool(
            &manager,
            dir.path(),
            &format!("touch {d}/running.$AUGUR_UNIT_ID; while [ ! -e {d}/go ]; do sleep 0.01; done; echo 127.0.0.1:9"),
        );
        manager.cycle("default", "p", now_ns()).expect("cycle");
        let jobs = manager.advance("default", "p", now_ns()).expect("advance");
        assert_eq!(jobs.len(), 6, "six starts (min 6)");
        let tasks: Vec<_> =
            jobs.into_iter().map(|job| tokio::spawn(run(Arc::clone(&manager), job, Duration::from_secs(60)))).collect();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while files_named(dir.path(), "running.") < 2 {
            assert!(tokio::time::Instant::now() < deadline, "no two starts ran");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Every task has been polled by now; the four without a slot wait
        // before spawning anything.
        assert_eq!(*manager.exec_in_flight().running.borrow(), 2);
        assert_eq!(files_named(dir.path(), "running."), 2);
        std::fs::write(dir.path().join("go"), b"").expect("go");
        for task in tasks {
            task.await.expect("task");
        }
        assert_eq!(files_named(dir.path(), "running."), 6, "the others ran in turn");
        let record = manager.get("default", "p").expect("pool");
        assert_eq!(record.units.iter().filter(|u| u.state == UnitState::Ready).count(), 6);
    }

    #[tokio::test]
    async fn a_start_that_waited_past_its_deadline_never_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(&dir.path().join("db"), StoreOptions::default()).expect("open");
        store.create_database("infra").expect("db");
        let manager = Arc::new(PoolManager::open(store.clone(), Arc::new(StoreSink { store }), 5).expect("manager"));
        exec_pool(
            &manager,
            dir.path(),
            &format!("touch {}/running.$AUGUR_UNIT_ID; echo 127.0.0.1:9", dir.path().display()),
        );
        manager.cycle("default", "p", now_ns()).expect("cycle");
        let mut job = manager.advance("default", "p", now_ns()).expect("advance").remove(0);
        job.deadline = Some(now_ns() - 1);
        let unit = job.unit.clone();
        run(Arc::clone(&manager), job, Duration::from_secs(60)).await;
        assert_eq!(files_named(dir.path(), "running."), 0, "the start did not run");
        assert_eq!(files_named(dir.path(), "stopped."), 0, "nothing to stop");
        let record = manager.get("default", "p").expect("pool");
        let state = record.units.iter().find(|u| u.id == unit).map(|u| u.state);
        assert!(matches!(state, Some(UnitState::Released)), "{state:?}");
    }
}
