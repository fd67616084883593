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
use tokio::sync::watch;

use super::manager::{ExecJob, PoolError, PoolManager};
use crate::clock::now_ns;

/// Most bytes of a command's output kept (the address is in the last line).
const MAX_OUTPUT: usize = 64 * 1024;
/// Attempts of a stop command before it is given up (and logged).
const STOP_ATTEMPTS: u32 = 4;
/// The wait before a stop's first retry (it doubles with each retry: 1, 2, 4 s).
const STOP_RETRY: Duration = Duration::from_secs(1);

/// Counts the `exec` commands running, so that a graceful shutdown lets
/// them finish instead of killing them half way. (A killed stop would run
/// again and a killed start be undone after the restart — correct, but the
/// unit's fate would wait for the next start of the server.)
pub struct InFlight(Arc<watch::Sender<usize>>);

impl Default for InFlight {
    fn default() -> Self {
        InFlight(Arc::new(watch::Sender::new(0)))
    }
}

impl InFlight {
    /// Counts one command as running until the guard drops.
    fn enter(&self) -> Running {
        self.0.send_modify(|n| *n += 1);
        Running(Arc::clone(&self.0))
    }

    /// Waits at most `limit` for every running command to finish; whether
    /// they all did.
    pub async fn drained(&self, limit: Duration) -> bool {
        let mut running = self.0.subscribe();
        let finished = tokio::time::timeout(limit, running.wait_for(|n| *n == 0)).await;
        matches!(finished, Ok(Ok(_)))
    }
}

/// One running command (see [`InFlight`]).
struct Running(Arc<watch::Sender<usize>>);

impl Drop for Running {
    fn drop(&mut self) {
        self.0.send_modify(|n| *n = n.saturating_sub(1));
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
    let _running = manager.exec_in_flight().enter();
    run_and_report(&manager, &job, timeout).await;
    manager.exec_finished(&job);
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
        manager.create(spec, 0).expect("create");
        manager.cycle("default", "p", 0).expect("cycle");
        let jobs = manager.advance("default", "p", 0).expect("advance");
        assert_eq!(jobs.len(), 1, "one start for the one unit (min 1)");
        // The unit times out before its start command reports.
        manager.cycle("default", "p", 2 * MINUTE).expect("cycle");
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
}
