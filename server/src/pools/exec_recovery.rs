//! After a restart: the `exec` commands the server died in the middle of.
//!
//! Why: a start or stop command runs for seconds to minutes, outside the
//! server, and `kill -9` (or a power cut) can come at any moment of it.
//! Every job is stored with the change that calls for it and forgotten
//! only once it has run ([`super::ExecJob`]), so a restart knows exactly
//! which ones never finished:
//!
//! * an interrupted **stop** runs again (stop commands are idempotent by
//!   contract): a unit the pool released must not stay up and billed;
//! * an interrupted **start** is not run again — nobody knows how far it
//!   got, and a second run could start a second copy of the unit. Its
//!   unit, if still pending, is released (the next cycle replaces it),
//!   and the stop runs without an address, so that the stop command can
//!   clean up by `AUGUR_UNIT_ID` whatever the start left running. It runs
//!   once the start's deadline (`unit_timeout` after it was issued) has
//!   passed: the start command, orphaned by the crash, may still be
//!   running and launch the unit after an earlier stop. A start whose
//!   unit became ready was recorded; there is nothing to undo.

use super::{ExecJob, PoolError, PoolEventKind, PoolManager, SinkError, UnitState, EXEC_PREFIX};

/// The note on a unit released because a restart interrupted its start.
pub const INTERRUPTED_START: &str = "the server restarted while its start command ran";

impl PoolManager {
    /// The `exec` jobs to run after a restart (see the module docs); every
    /// one of them is stored until it has run. Call once, before the
    /// runner's first tick.
    pub fn interrupted_exec_jobs(&self, now: i64) -> Result<Vec<ExecJob>, PoolError> {
        let stored = self
            .store
            .scan_meta_records(EXEC_PREFIX.as_bytes())
            .map_err(|e| PoolError::Storage(SinkError(e.to_string())))?;
        let mut jobs = Vec::new();
        for (key, value) in stored {
            let job: ExecJob = match serde_json::from_slice(&value) {
                Ok(job) => job,
                Err(err) => {
                    tracing::error!(key = %String::from_utf8_lossy(&key), error = %err, "unreadable exec job dropped");
                    self.sink.commit(vec![], vec![], vec![key])?;
                    continue;
                }
            };
            if !job.start {
                tracing::warn!(pool = %job.pool, unit = %job.unit, "a restart interrupted this unit's stop: running it again");
                jobs.push(job);
                continue;
            }
            if let Some(undo) = self.settle_interrupted_start(&job, now)? {
                tracing::warn!(pool = %job.pool, unit = %job.unit, "a restart interrupted this unit's start: stopping it");
                jobs.push(undo);
            }
        }
        Ok(jobs)
    }

    /// Releases the unit of an interrupted start if it is still pending,
    /// stores the undoing stop in place of the start, and returns it;
    /// `None` (the start forgotten) when the unit became ready.
    fn settle_interrupted_start(&self, job: &ExecJob, now: i64) -> Result<Option<ExecJob>, PoolError> {
        let unit = self.get(&job.tenant, &job.pool).and_then(|r| r.units.into_iter().find(|u| u.id == job.unit));
        let needs_undo = match &unit {
            None => true,
            Some(u) if u.state.is_pending() => true,
            Some(u) => u.state == UnitState::Released && u.address.is_none(),
        };
        let undo = if needs_undo { job.undo_job() } else { None };
        if unit.as_ref().is_some_and(|u| u.state.is_pending()) {
            let stops = self.change_with_jobs(&job.tenant, &job.pool, |next, events| {
                let unit = super::unit_mut(next, &job.unit)?;
                unit.release(now, Some(INTERRUPTED_START.into()))?;
                let unit = unit.clone();
                events.push(next.unit_event(PoolEventKind::UnitReleased, &unit));
                Ok(undo.iter().cloned().collect())
            })?;
            self.sink.commit(vec![], vec![], vec![job.key()])?;
            return Ok(stops.into_iter().next());
        }
        let puts = undo.iter().map(ExecJob::stored).collect::<Result<Vec<_>, _>>()?;
        self.sink.commit(vec![], puts, vec![job.key()])?;
        Ok(undo)
    }
}
