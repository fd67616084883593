//! The background task that drives every pool: runs each due cycle, moves
//! units along, starts `exec` commands and keeps load balancers in step.
//!
//! Why one task with a short tick instead of a timer per pool: pools come
//! and go through the API at any time, and one loop over "what is due"
//! needs no bookkeeping when they do. Cycles run on the blocking pool
//! (they query and forecast), one at a time, so allocation never takes
//! more than one core from ingest and queries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::manager::PoolManager;
use super::{exec, haproxy};
use crate::clock::now_ns;
use crate::monitor::internal::InternalWriter;

/// How often the runner looks for due cycles and units to move.
pub const TICK: Duration = Duration::from_millis(250);

/// Starts the runner; it stops when `shutdown` turns true. With `kpis`,
/// each cycle's KPIs and actions are written to `_internal`.
pub fn spawn(
    manager: Arc<PoolManager>,
    kpis: Option<Arc<InternalWriter>>,
    shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        resume_interrupted(&manager);
        crate::shutdown::every(TICK, shutdown, || tick(&manager, kpis.as_ref())).await
    })
}

/// Runs the `exec` jobs the last run of the server died in the middle of
/// (see the manager's `exec_recovery`).
fn resume_interrupted(manager: &Arc<PoolManager>) {
    match manager.interrupted_exec_jobs(now_ns()) {
        Ok(jobs) => {
            for job in jobs {
                let timeout = exec::timeout_of(manager, &job);
                tokio::spawn(exec::run(Arc::clone(manager), job, timeout));
            }
        }
        Err(err) => tracing::error!(error = %err, "cannot read the interrupted exec jobs"),
    }
}

/// One pass: due cycles, then unit moves and load-balancer sync for every pool.
pub async fn tick(manager: &Arc<PoolManager>, kpis: Option<&Arc<InternalWriter>>) {
    for (tenant, name) in manager.due(now_ns()) {
        let m = Arc::clone(manager);
        let (t, n) = (tenant.clone(), name.clone());
        let kpis = kpis.cloned();
        let cycle = tokio::task::spawn_blocking(move || {
            let (started, now) = (Instant::now(), now_ns());
            let outcome = m.cycle(&t, &n, now);
            if let Some(writer) = kpis {
                let metrics = &writer.monitor().metrics;
                metrics.pool_cycles.inc();
                metrics.pool_cycle_seconds.observe(started.elapsed().as_secs_f64());
                match (&outcome, m.get(&t, &n)) {
                    (Ok(Some(_)), Some(record)) => writer.record_pool(&record, now),
                    (Err(_), _) => metrics.pool_cycle_failures.inc(),
                    _ => {}
                }
            }
            outcome
        });
        match cycle.await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => tracing::error!(%tenant, pool = %name, error = %err, "pool cycle failed"),
            Err(err) => tracing::error!(%tenant, pool = %name, error = %err, "pool cycle panicked"),
        }
    }
    for record in manager.list(None) {
        let (tenant, name) = (record.spec.tenant.clone(), record.spec.name.clone());
        if let Some(target) = &record.spec.haproxy {
            haproxy::sync(manager, &record, target).await;
        }
        match manager.advance(&tenant, &name, now_ns()) {
            Ok(jobs) => {
                let timeout = Duration::from_nanos(record.spec.unit_timeout.unsigned_abs());
                for job in jobs {
                    tokio::spawn(exec::run(Arc::clone(manager), job, timeout));
                }
            }
            Err(err) => tracing::error!(%tenant, pool = %name, error = %err, "cannot move units along"),
        }
    }
}
