//! The pool manager: holds every pool, runs each one's allocation cycle on
//! its interval, keeps units moving through their lifecycle, and makes
//! every change durable together with the events it causes.
//!
//! Why the state lives in one record per pool (definition, allocator
//! memory, units, last decision): a cycle changes several of them at once,
//! and one record written in the same batch as its events (see
//! [`super::events`]) means a restart finds the pool exactly as its last
//! announced change left it — units, pending actions and all. Reading
//! demand (queries and forecasts) happens outside the lock; only applying
//! a decision holds it.

use std::collections::BTreeMap;
use std::sync::Arc;

use augur_engine::storage::Store;
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::allocator::{decide, AllocatorState, Decision, DimensionDemand, Policy};
use super::demand::{self, DemandReading};
use super::events::{EventSink, PoolEvent, PoolEventKind, SinkError};
use super::fairness::{fair_shares, Claim};
use super::mix::capacity;
use super::quota::{self, PoolClaim, TenantQuota};
use super::reservations::{Reservation, ReservationStatus, ReservedDemand, MAX_RESERVATIONS};
use super::spec::{Dimension, PoolSpec, Provider, SpecError, Vector};
use super::units::{valid_address, TransitionError, Unit, UnitState};

/// Meta-record key prefix of pools.
const KEY_PREFIX: &str = "pool/";
/// Meta-record key prefix of tenant capacity quotas.
const QUOTA_PREFIX: &str = "pool-quota/";
/// Meta-record key prefix of `exec` commands not yet run to the end
/// ([`exec_recovery`]).
const EXEC_PREFIX: &str = "pool-exec/";
/// Released units kept per pool for `GET` (older ones are forgotten).
const KEEP_RELEASED: usize = 200;

/// A pool and everything the manager remembers about it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PoolRecord {
    /// The definition.
    pub spec: PoolSpec,
    /// The allocator's memory (cooldown, stabilization window).
    pub allocator: AllocatorState,
    /// Its units, oldest first.
    pub units: Vec<Unit>,
    /// The number of the next unit id.
    pub next_unit: u64,
    /// The last decision.
    pub last_decision: Option<Decision>,
    /// The demand readings the last decision used.
    pub readings: BTreeMap<Dimension, DemandReading>,
    /// When the next cycle is due (ns).
    pub next_run: i64,
    /// A forecast is failing and the reactive rule decides.
    pub in_fallback: bool,
    /// When the pool was created (ns).
    pub created_at: i64,
    /// Per-account reservations, by account.
    #[serde(default)]
    pub reservations: BTreeMap<String, Reservation>,
    /// What each reservation holds after the last cycle, by account.
    #[serde(default)]
    pub reservation_status: BTreeMap<String, ReservationStatus>,
}

impl PoolRecord {
    fn key(tenant: &str, name: &str) -> Vec<u8> {
        format!("{KEY_PREFIX}{tenant}/{name}").into_bytes()
    }

    /// Units per shape (in the spec's shape order) that count as capacity.
    pub fn active_per_shape(&self) -> Vec<u32> {
        self.spec
            .shapes
            .iter()
            .map(|s| self.units.iter().filter(|u| u.state.is_active() && u.shape == s.name).count() as u32)
            .collect()
    }

    /// Units per state.
    pub fn count_by_state(&self) -> BTreeMap<&'static str, usize> {
        UnitState::ALL.iter().map(|s| (s.name(), self.units.iter().filter(|u| u.state == *s).count())).collect()
    }

    fn event(&self, kind: PoolEventKind, subject: Option<&str>, data: serde_json::Value) -> PoolEvent {
        PoolEvent {
            kind,
            tenant: self.spec.tenant.clone(),
            pool: self.spec.name.clone(),
            subject: subject.map(str::to_string),
            data,
        }
    }

    fn unit_event(&self, kind: PoolEventKind, unit: &Unit) -> PoolEvent {
        self.event(kind, Some(&unit.id), serde_json::to_value(unit).unwrap_or_default())
    }

    /// Forgets the oldest released units beyond [`KEEP_RELEASED`].
    fn prune_released(&mut self) {
        let released = self.units.iter().filter(|u| u.state == UnitState::Released).count();
        let mut excess = released.saturating_sub(KEEP_RELEASED);
        self.units.retain(|u| {
            if excess > 0 && u.state == UnitState::Released {
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
}

/// Why a pool operation failed.
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// No such pool in the tenant.
    #[error("pool not found: {0}")]
    NotFound(String),
    /// A pool of that name exists.
    #[error("pool already exists: {0}")]
    Exists(String),
    /// The definition is invalid.
    #[error(transparent)]
    Invalid(#[from] SpecError),
    /// No such unit in the pool.
    #[error("unit not found: {0}")]
    UnitNotFound(String),
    /// The unit cannot make that transition.
    #[error(transparent)]
    Transition(#[from] TransitionError),
    /// A unit address that is not `host:port`.
    #[error("invalid unit address {0:?}: expected host:port")]
    InvalidAddress(String),
    /// The tenant has as many pools as it may.
    #[error("tenant {tenant} has reached its limit of {limit} pools")]
    TooMany {
        /// The tenant.
        tenant: String,
        /// The limit.
        limit: usize,
    },
    /// A tenant quota that cannot be accepted (the field at fault named).
    #[error("invalid quota: {}: {}", .0.field, .0.message)]
    InvalidQuota(SpecError),
    /// The tenant has no capacity quota.
    #[error("no capacity quota for tenant {0}")]
    QuotaNotFound(String),
    /// No such reservation in the pool.
    #[error("reservation not found: {0}")]
    ReservationNotFound(String),
    /// The pool has as many reservations as it may.
    #[error("the pool has reached its limit of {0} reservations")]
    TooManyReservations(usize),
    /// The change could not be stored.
    #[error(transparent)]
    Storage(#[from] SinkError),
    /// A stored pool could not be read.
    #[error("stored pool {key} is corrupt: {reason}")]
    Corrupt {
        /// Its key.
        key: String,
        /// Why.
        reason: String,
    },
}

/// A command an `exec` provider must run for a unit.
///
/// Why it is stored: a command decided but not run to the end when the
/// server dies would otherwise be lost with the process — a stop never
/// run leaves a unit running (and billed) that no pool knows about. Each
/// job is written in the same batch as the change that calls for it and
/// forgotten once it has run ([`PoolManager::exec_finished`]); a restart
/// runs what is left ([`PoolManager::interrupted_exec_jobs`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecJob {
    /// The pool's tenant.
    pub tenant: String,
    /// The pool.
    pub pool: String,
    /// The unit.
    pub unit: String,
    /// Its shape.
    pub shape: String,
    /// Its address (for stop).
    pub address: Option<String>,
    /// Start (true) or stop.
    pub start: bool,
    /// The command and its arguments.
    pub command: Vec<String>,
    /// For a start: the stop command, run when the unit was released while
    /// it started (the process it started must not be left running).
    pub undo: Option<Vec<String>>,
    /// For a start: when it must have finished (ns; issued + `unit_timeout`).
    #[serde(default)]
    pub deadline: Option<i64>,
    /// The earliest time to run it (ns): the stop that undoes an
    /// interrupted start waits for that start's deadline, since the start
    /// command may still be running, orphaned, and launch the unit after
    /// an earlier stop.
    #[serde(default)]
    pub not_before: Option<i64>,
}

impl ExecJob {
    /// Its key while it has not run to the end.
    fn key(&self) -> Vec<u8> {
        let what = if self.start { "start" } else { "stop" };
        format!("{EXEC_PREFIX}{}/{}/{}/{what}", self.tenant, self.pool, self.unit).into_bytes()
    }

    /// Its key and stored value.
    fn stored(&self) -> Result<(Vec<u8>, Vec<u8>), PoolError> {
        let value = serde_json::to_vec(self).map_err(|e| SinkError(e.to_string()))?;
        Ok((self.key(), value))
    }

    /// The stop that undoes this start: whatever the start left running
    /// goes, with no address when the start never reported one.
    pub fn undo_job(&self) -> Option<ExecJob> {
        let stop = self.undo.clone()?;
        Some(ExecJob {
            start: false,
            command: stop,
            undo: None,
            deadline: None,
            not_before: self.deadline,
            ..self.clone()
        })
    }
}

/// A tenant's quota and what its pools hold under it (`GET`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaView {
    /// The tenant.
    pub tenant: String,
    /// The quota.
    #[serde(flatten)]
    pub quota: TenantQuota,
    /// The capacity the tenant's pools hold now (active units).
    pub holds: Vector,
    /// The capacity their `min` units need.
    pub guaranteed: Vector,
    /// Per pool: what it wants, holds and may hold.
    pub pools: Vec<PoolQuotaView>,
}

/// One pool under its tenant's quota.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PoolQuotaView {
    /// The pool.
    pub pool: String,
    /// Its weight in the share.
    pub quota_weight: f64,
    /// The capacity its latest decision wants.
    pub wants: Vector,
    /// The capacity its active units hold.
    pub holds: Vector,
    /// The cap its latest cycle ran under.
    pub cap: Option<Vector>,
    /// Whether that cap took units its demand called for.
    pub capped: bool,
}

/// Every pool of the server.
pub struct PoolManager {
    store: Store,
    sink: Arc<dyn EventSink>,
    pools: Mutex<BTreeMap<(String, String), PoolRecord>>,
    /// Tenant capacity quotas, by tenant. Locked after `pools` when both are.
    quotas: Mutex<BTreeMap<String, TenantQuota>>,
    /// Most pools per tenant.
    max_pools_per_tenant: usize,
    /// The `exec` commands running now.
    exec_in_flight: super::exec::InFlight,
}

impl PoolManager {
    /// Loads the stored pools.
    pub fn open(store: Store, sink: Arc<dyn EventSink>, max_pools_per_tenant: usize) -> Result<PoolManager, PoolError> {
        let mut pools = BTreeMap::new();
        let records =
            store.scan_meta_records(KEY_PREFIX.as_bytes()).map_err(|e| PoolError::Storage(SinkError(e.to_string())))?;
        for (key, value) in records {
            let record: PoolRecord = serde_json::from_slice(&value).map_err(|e| PoolError::Corrupt {
                key: String::from_utf8_lossy(&key).into_owned(),
                reason: e.to_string(),
            })?;
            pools.insert((record.spec.tenant.clone(), record.spec.name.clone()), record);
        }
        let mut quotas = BTreeMap::new();
        let records = store
            .scan_meta_records(QUOTA_PREFIX.as_bytes())
            .map_err(|e| PoolError::Storage(SinkError(e.to_string())))?;
        for (key, value) in records {
            let corrupt =
                |reason: String| PoolError::Corrupt { key: String::from_utf8_lossy(&key).into_owned(), reason };
            let quota: TenantQuota = serde_json::from_slice(&value).map_err(|e| corrupt(e.to_string()))?;
            let tenant = key
                .strip_prefix(QUOTA_PREFIX.as_bytes())
                .and_then(|t| std::str::from_utf8(t).ok())
                .ok_or_else(|| corrupt("the key names no tenant".into()))?;
            quotas.insert(tenant.to_string(), quota);
        }
        tracing::info!(pools = pools.len(), quotas = quotas.len(), "pool manager loaded");
        Ok(PoolManager {
            store,
            sink,
            pools: Mutex::new(pools),
            quotas: Mutex::new(quotas),
            max_pools_per_tenant,
            exec_in_flight: Default::default(),
        })
    }

    /// Sets (or replaces) a tenant's capacity quota. Refused when the
    /// tenant's pools' `min` units need more than it allows. The tenant's
    /// pools run a cycle at once under it.
    pub fn set_quota(&self, tenant: &str, quota: TenantQuota, now: i64) -> Result<QuotaView, PoolError> {
        quota.validate().map_err(PoolError::InvalidQuota)?;
        let mut pools = self.pools.lock();
        quota
            .check_guarantees(&guaranteed_of(&pools, tenant, None), |d| format!("limits.{d}"))
            .map_err(PoolError::InvalidQuota)?;
        let value = serde_json::to_vec(&quota).map_err(|e| SinkError(e.to_string()))?;
        self.sink.commit(vec![], vec![(quota_key(tenant), value)], vec![])?;
        self.quotas.lock().insert(tenant.to_string(), quota);
        for record in pools.values_mut().filter(|r| r.spec.tenant == tenant) {
            // Not stored: a restart runs every pool's cycle anyway.
            record.next_run = record.next_run.min(now);
        }
        drop(pools);
        self.quota(tenant).ok_or_else(|| PoolError::QuotaNotFound(tenant.to_string()))
    }

    /// Every tenant's quota and what its pools hold under it.
    pub fn quotas(&self) -> Vec<QuotaView> {
        let tenants: Vec<String> = self.quotas.lock().keys().cloned().collect();
        tenants.iter().filter_map(|t| self.quota(t)).collect()
    }

    /// Removes a tenant's capacity quota.
    pub fn delete_quota(&self, tenant: &str) -> Result<(), PoolError> {
        let mut quotas = self.quotas.lock();
        if !quotas.contains_key(tenant) {
            return Err(PoolError::QuotaNotFound(tenant.to_string()));
        }
        self.sink.commit(vec![], vec![], vec![quota_key(tenant)])?;
        quotas.remove(tenant);
        Ok(())
    }

    /// A tenant's quota and what its pools hold under it.
    pub fn quota(&self, tenant: &str) -> Option<QuotaView> {
        let pools = self.pools.lock();
        let quota = self.quotas.lock().get(tenant).cloned()?;
        let mine: Vec<&PoolRecord> = pools.values().filter(|r| r.spec.tenant == tenant).collect();
        let claims: Vec<PoolClaim> =
            mine.iter().map(|r| PoolClaim::new(&r.spec, r.last_decision.as_ref(), &r.active_per_shape())).collect();
        Some(QuotaView {
            tenant: tenant.to_string(),
            holds: quota::total(claims.iter().map(|c| &c.holds)),
            guaranteed: quota::total(claims.iter().map(|c| &c.guaranteed)),
            pools: mine
                .iter()
                .zip(claims)
                .map(|(r, c)| {
                    let cap = r.last_decision.as_ref().and_then(|d| d.quota.as_ref());
                    PoolQuotaView {
                        pool: c.name,
                        quota_weight: c.weight,
                        wants: c.wants,
                        holds: c.holds,
                        cap: cap.map(|q| q.cap.clone()),
                        capped: cap.is_some_and(|q| q.capped),
                    }
                })
                .collect(),
            quota,
        })
    }

    /// Refuses `spec` when its tenant's quota cannot hold its `min` units
    /// beside the tenant's other pools' (`pools` is locked by the caller).
    fn check_quota_for(
        &self,
        pools: &BTreeMap<(String, String), PoolRecord>,
        spec: &PoolSpec,
    ) -> Result<(), PoolError> {
        let Some(quota) = self.quotas.lock().get(&spec.tenant).cloned() else { return Ok(()) };
        quota.check_guarantees(&guaranteed_of(pools, &spec.tenant, Some(spec)), |_| "min".to_string())?;
        Ok(())
    }

    /// Writes `record` and `events` together.
    fn commit(&self, record: &PoolRecord, events: Vec<PoolEvent>) -> Result<(), PoolError> {
        self.commit_with_jobs(record, events, &[])
    }

    /// Stores a pool, its events and the `exec` jobs its change calls for
    /// in one write.
    fn commit_with_jobs(&self, record: &PoolRecord, events: Vec<PoolEvent>, jobs: &[ExecJob]) -> Result<(), PoolError> {
        let value = serde_json::to_vec(record).map_err(|e| SinkError(e.to_string()))?;
        let mut puts = vec![(PoolRecord::key(&record.spec.tenant, &record.spec.name), value)];
        for job in jobs {
            puts.push(job.stored()?);
        }
        self.sink.commit(events, puts, vec![])?;
        Ok(())
    }

    /// Runs at most `limit` `exec` commands at once (the default:
    /// `[pools] exec_concurrency`'s).
    pub fn with_exec_concurrency(mut self, limit: usize) -> Self {
        self.exec_in_flight = super::exec::InFlight::new(limit);
        self
    }

    /// The `exec` commands running now (a graceful shutdown waits for them).
    pub fn exec_in_flight(&self) -> &super::exec::InFlight {
        &self.exec_in_flight
    }

    /// Forgets an `exec` job that has run to the end (its outcome, if it
    /// has one, is already recorded). A failure leaves it to run again
    /// after the next restart, which is harmless: stop commands must be
    /// idempotent.
    pub fn exec_finished(&self, job: &ExecJob) {
        if let Err(err) = self.sink.commit(vec![], vec![], vec![job.key()]) {
            tracing::warn!(pool = %job.pool, unit = %job.unit, error = %err, "cannot forget a finished exec job");
        }
    }

    /// Creates a pool (its first cycle runs at once).
    pub fn create(&self, spec: PoolSpec, now: i64) -> Result<PoolRecord, PoolError> {
        spec.validate()?;
        let mut pools = self.pools.lock();
        let key = (spec.tenant.clone(), spec.name.clone());
        if pools.contains_key(&key) {
            return Err(PoolError::Exists(spec.name));
        }
        let owned = pools.keys().filter(|(t, _)| *t == spec.tenant).count();
        if owned >= self.max_pools_per_tenant {
            return Err(PoolError::TooMany { tenant: spec.tenant, limit: self.max_pools_per_tenant });
        }
        self.check_quota_for(&pools, &spec)?;
        let record = PoolRecord {
            spec,
            allocator: AllocatorState::default(),
            units: Vec::new(),
            next_unit: 1,
            last_decision: None,
            readings: BTreeMap::new(),
            next_run: now,
            in_fallback: false,
            created_at: now,
            reservations: BTreeMap::new(),
            reservation_status: BTreeMap::new(),
        };
        self.commit(&record, vec![])?;
        pools.insert(key, record.clone());
        Ok(record)
    }

    /// Applies `change` to a copy of a pool; when the copy differs or the
    /// change has events, stores both in one write and keeps the copy. On
    /// any error nothing is stored and the pool is as it was.
    fn change<T>(
        &self,
        tenant: &str,
        name: &str,
        change: impl FnOnce(&mut PoolRecord, &mut Vec<PoolEvent>) -> Result<T, PoolError>,
    ) -> Result<T, PoolError> {
        self.change_locked(&mut self.pools.lock(), tenant, name, change)
    }

    /// [`PoolManager::change`] with the pools already locked by the caller
    /// (who checked something about the other pools under the same lock).
    fn change_locked<T>(
        &self,
        pools: &mut BTreeMap<(String, String), PoolRecord>,
        tenant: &str,
        name: &str,
        change: impl FnOnce(&mut PoolRecord, &mut Vec<PoolEvent>) -> Result<T, PoolError>,
    ) -> Result<T, PoolError> {
        self.apply(pools, tenant, name, change, |_| &[])
    }

    /// [`PoolManager::change`] for a change that calls for `exec` jobs:
    /// they are stored in the same write as the change.
    fn change_with_jobs(
        &self,
        tenant: &str,
        name: &str,
        change: impl FnOnce(&mut PoolRecord, &mut Vec<PoolEvent>) -> Result<Vec<ExecJob>, PoolError>,
    ) -> Result<Vec<ExecJob>, PoolError> {
        self.apply(&mut self.pools.lock(), tenant, name, change, Vec::as_slice)
    }

    /// Applies `change` to a copy of a pool and stores the copy, its events
    /// and the jobs `jobs_of` finds in its outcome in one write (when
    /// anything changed); on any error nothing is stored.
    fn apply<T>(
        &self,
        pools: &mut BTreeMap<(String, String), PoolRecord>,
        tenant: &str,
        name: &str,
        change: impl FnOnce(&mut PoolRecord, &mut Vec<PoolEvent>) -> Result<T, PoolError>,
        jobs_of: impl Fn(&T) -> &[ExecJob],
    ) -> Result<T, PoolError> {
        let record = pools
            .get_mut(&(tenant.to_string(), name.to_string()))
            .ok_or_else(|| PoolError::NotFound(name.to_string()))?;
        let mut next = record.clone();
        let mut events = Vec::new();
        let out = change(&mut next, &mut events)?;
        let jobs = jobs_of(&out);
        if !events.is_empty() || !jobs.is_empty() || next != *record {
            self.commit_with_jobs(&next, events, jobs)?;
            *record = next;
        }
        Ok(out)
    }

    /// Replaces a pool's definition, keeping its units and memory.
    pub fn replace(&self, spec: PoolSpec, now: i64) -> Result<PoolRecord, PoolError> {
        spec.validate()?;
        // Checked under the lock that applies the change: a sibling created
        // in between cannot slip past the quota.
        let mut pools = self.pools.lock();
        self.check_quota_for(&pools, &spec)?;
        let (tenant, name) = (spec.tenant.clone(), spec.name.clone());
        self.change_locked(&mut pools, &tenant, &name, |next, _| {
            next.spec = spec;
            next.next_run = now;
            Ok(next.clone())
        })
    }

    /// Deletes a pool: its active units are released (events say so) and
    /// the returned jobs stop `exec` units.
    pub fn delete(&self, tenant: &str, name: &str, now: i64) -> Result<Vec<ExecJob>, PoolError> {
        let mut pools = self.pools.lock();
        let key = (tenant.to_string(), name.to_string());
        let record = pools.get(&key).ok_or_else(|| PoolError::NotFound(name.to_string()))?;
        let mut events = Vec::new();
        let mut jobs = Vec::new();
        for unit in record.units.iter().filter(|u| u.state != UnitState::Released) {
            let mut gone = unit.clone();
            gone.state = UnitState::Released;
            gone.released_at = Some(now);
            gone.note = Some("pool deleted".into());
            events.push(record.unit_event(PoolEventKind::UnitReleased, &gone));
            if let Some(job) = exec_job(&record.spec, &gone, Command::Stop) {
                jobs.push(job);
            }
        }
        let puts = jobs.iter().map(ExecJob::stored).collect::<Result<Vec<_>, _>>()?;
        self.sink.commit(events, puts, vec![PoolRecord::key(tenant, name)])?;
        pools.remove(&key);
        Ok(jobs)
    }

    /// One pool.
    pub fn get(&self, tenant: &str, name: &str) -> Option<PoolRecord> {
        self.pools.lock().get(&(tenant.to_string(), name.to_string())).cloned()
    }

    /// The pools of `tenant` (`None`: every tenant's).
    pub fn list(&self, tenant: Option<&str>) -> Vec<PoolRecord> {
        self.pools.lock().values().filter(|r| tenant.is_none_or(|t| r.spec.tenant == t)).cloned().collect()
    }

    /// The pools whose cycle is due at `now`.
    pub fn due(&self, now: i64) -> Vec<(String, String)> {
        self.pools.lock().iter().filter(|(_, r)| r.next_run <= now).map(|(k, _)| k.clone()).collect()
    }

    /// Runs one allocation cycle of a pool: reads demand, decides, applies
    /// the decision to the units and stores it with its events. Blocking
    /// (queries and forecasts run here).
    pub fn cycle(&self, tenant: &str, name: &str, now: i64) -> Result<Option<Decision>, PoolError> {
        let Some((spec, reservations)) = self.get(tenant, name).map(|r| (r.spec, r.reservations)) else {
            return Ok(None);
        };
        let reserved: BTreeMap<String, (Vector, Option<String>)> = reservations
            .iter()
            .map(|(account, r)| (account.clone(), reserved_demand(&self.store, &spec, r, now)))
            .collect();
        let readings: BTreeMap<Dimension, DemandReading> = spec
            .demand
            .iter()
            .map(|(d, source)| (*d, demand::read(&self.store, source, &spec.safety, spec.lead_time, spec.history, now)))
            .collect();

        let mut pools = self.pools.lock();
        // The tenant's quota and the pool's siblings under it, as they stand now.
        let under_quota = self.quotas.lock().get(tenant).cloned().map(|quota| {
            let siblings: Vec<PoolClaim> = pools
                .values()
                .filter(|r| r.spec.tenant == tenant && r.spec.name != name)
                .map(|r| PoolClaim::new(&r.spec, r.last_decision.as_ref(), &r.active_per_shape()))
                .collect();
            (quota, siblings)
        });
        let Some(record) = pools.get_mut(&(tenant.to_string(), name.to_string())) else { return Ok(None) };
        if record.spec != spec || record.reservations != reservations {
            // Redefined while demand was read: the next cycle uses the new definition.
            return Ok(None);
        }
        let mut next = record.clone();
        let mut events = Vec::new();

        // Units that never became ready are released; the decision below
        // no longer counts them, so it replaces them.
        for i in 0..next.units.len() {
            if next.units[i].timed_out(now, spec.unit_timeout) {
                let unit = &mut next.units[i];
                unit.release(now, Some("timed out before becoming ready".into()))?;
                let unit = unit.clone();
                events.push(next.unit_event(PoolEventKind::UnitTimedOut, &unit));
                events.push(next.unit_event(PoolEventKind::UnitReleased, &unit));
                tracing::warn!(tenant, pool = name, unit = %unit.id, "unit timed out; it will be replaced");
            }
        }

        let mut demand: BTreeMap<Dimension, DimensionDemand> =
            readings.iter().map(|(d, r)| (*d, DimensionDemand { forecast: r.forecast, usage: r.usage })).collect();
        // Reservations are predicted demand too: the pool covers their sum.
        for d in &spec.dimensions {
            let total: f64 = reserved.values().map(|(v, _)| v.get(d).copied().unwrap_or(0.0)).sum();
            let entry = demand.entry(*d).or_default();
            if total > 0.0 && (entry.forecast.is_some() || !spec.demand.contains_key(d)) {
                entry.forecast = Some(entry.forecast.unwrap_or(0.0).max(total));
            }
        }
        let active = next.active_per_shape();
        let cooling_since = next.allocator.last_scale_up;
        let mut decision = decide(&spec, Policy::Predictive, &mut next.allocator, &active, &demand, now);
        if let Some((quota, siblings)) = &under_quota {
            let this = PoolClaim::new(&spec, Some(&decision), &active);
            quota::apply(&spec, &mut decision, &active, quota::cap_for(quota, &this, siblings));
            if decision.scale_up.iter().all(|n| *n == 0) {
                // The quota took every unit: no scale-up happened, so none cools down.
                next.allocator.last_scale_up = cooling_since;
            }
        }
        events.extend(share_reservations(&mut next, &decision.target, &reserved));

        if !decision.fallback.is_empty() && !next.in_fallback {
            let why: BTreeMap<String, Option<String>> =
                readings.iter().map(|(d, r)| (d.to_string(), r.forecast_error.clone())).collect();
            tracing::warn!(tenant, pool = name, errors = ?why, "forecast failed: the reactive rule decides");
            events.push(next.event(
                PoolEventKind::ForecastFallback,
                None,
                serde_json::json!({"dimensions": decision.fallback, "errors": why, "rule": "usage / 0.7"}),
            ));
        } else if decision.fallback.is_empty() && next.in_fallback {
            tracing::info!(tenant, pool = name, "forecast recovered");
        }
        next.in_fallback = !decision.fallback.is_empty();

        // The tenant's quota starting (or ceasing) to hold the pool back is news.
        let was_capped = record.last_decision.as_ref().and_then(|d| d.quota.as_ref()).is_some_and(|q| q.capped);
        let capped = decision.quota.as_ref().is_some_and(|q| q.capped);
        if capped != was_capped {
            events.push(next.event(
                PoolEventKind::ThresholdCrossed,
                None,
                serde_json::json!({
                    "threshold": "tenant_quota",
                    "direction": if capped { "up" } else { "down" },
                    "quota": decision.quota,
                    "required": decision.required,
                }),
            ));
        }

        // The forecast crossing the pool's ceiling is news before it is a shortage.
        let was_short = record.last_decision.as_ref().is_some_and(|d| d.shortage);
        if decision.shortage != was_short {
            let direction = if decision.shortage { "up" } else { "down" };
            events.push(next.event(
                PoolEventKind::ThresholdCrossed,
                None,
                serde_json::json!({
                    "threshold": "max",
                    "direction": direction,
                    "max_units": spec.max,
                    "required": decision.required,
                    "readings": readings,
                }),
            ));
        }

        let mut requested = Vec::new();
        for (shape_index, count) in decision.scale_up.iter().enumerate() {
            for _ in 0..*count {
                let id = format!("u{:06}", next.next_unit);
                next.next_unit += 1;
                let unit = Unit::requested(id, spec.shapes[shape_index].name.clone(), now);
                events.push(next.unit_event(PoolEventKind::UnitRequested, &unit));
                requested.push(unit.id.clone());
                next.units.push(unit);
            }
        }
        if !requested.is_empty() {
            events.insert(0, next.event(PoolEventKind::ScaleUp, None, decision_data(&decision, &requested)));
        }

        let mut released = Vec::new();
        for (shape_index, count) in decision.release.iter().enumerate() {
            let shape = &spec.shapes[shape_index].name;
            // Pending units go first (nothing to drain), then the newest ready ones.
            let mut order: Vec<usize> = (0..next.units.len())
                .filter(|i| next.units[*i].shape == *shape && next.units[*i].state.is_active())
                .collect();
            order.sort_by_key(|i| (!next.units[*i].state.is_pending(), std::cmp::Reverse(next.units[*i].requested_at)));
            let why = if decision.quota.as_ref().is_some_and(|q| q.capped) {
                "demand stayed lower, or beyond the pool's share of the tenant quota"
            } else {
                "demand stayed lower"
            };
            for i in order.into_iter().take(*count as usize) {
                next.units[i].release(now, Some(why.into()))?;
                let unit = next.units[i].clone();
                if unit.state == UnitState::Released {
                    events.push(next.unit_event(PoolEventKind::UnitReleased, &unit));
                }
                released.push(unit.id.clone());
            }
        }
        if !released.is_empty() {
            events.insert(0, next.event(PoolEventKind::ScaleDown, None, decision_data(&decision, &released)));
        }

        next.readings = readings;
        next.last_decision = Some(decision.clone());
        next.next_run = now.saturating_add(spec.interval);
        next.prune_released();
        self.commit(&next, events)?;
        *record = next;
        if decision.acts() {
            tracing::info!(tenant, pool = name, reason = %decision.reason, "pool decision");
        }
        Ok(Some(decision))
    }

    /// Moves units along that need no outside help: requested units of a
    /// webhook pool are provisioning once their event is out; draining
    /// units without a load balancer are released. Returns the `exec`
    /// commands to run (start for requested units, stop for released ones).
    pub fn advance(&self, tenant: &str, name: &str, now: i64) -> Result<Vec<ExecJob>, PoolError> {
        let result = self.change_with_jobs(tenant, name, |next, events| {
            let mut jobs = Vec::new();
            for i in 0..next.units.len() {
                match next.units[i].state {
                    UnitState::Requested => {
                        next.units[i].provisioning()?;
                        jobs.extend(exec_job(&next.spec, &next.units[i], Command::Start { now }));
                    }
                    UnitState::Draining if next.spec.haproxy.is_none() => {
                        next.units[i].drained(now)?;
                        events.push(next.unit_event(PoolEventKind::UnitReleased, &next.units[i]));
                        jobs.extend(exec_job(&next.spec, &next.units[i], Command::Stop));
                    }
                    _ => {}
                }
            }
            Ok(jobs)
        });
        match result {
            // Deleted since the caller listed it: nothing to move.
            Err(PoolError::NotFound(_)) => Ok(Vec::new()),
            other => other,
        }
    }

    /// Records that a unit serves at `address` (the infrastructure's
    /// report, or an `exec` start's output).
    pub fn unit_ready(&self, tenant: &str, name: &str, id: &str, address: &str, now: i64) -> Result<Unit, PoolError> {
        if !valid_address(address) {
            return Err(PoolError::InvalidAddress(address.to_string()));
        }
        self.change(tenant, name, |next, events| {
            let unit = unit_mut(next, id)?;
            let was_ready = unit.state == UnitState::Ready;
            unit.ready(address.to_string(), now)?;
            let unit = unit.clone();
            if !was_ready {
                events.push(next.unit_event(PoolEventKind::UnitReady, &unit));
            }
            Ok(unit)
        })
    }

    /// Records that a unit could not be started: it is released (and
    /// replaced by the next cycle).
    pub fn unit_failed(&self, tenant: &str, name: &str, id: &str, why: &str, now: i64) -> Result<(), PoolError> {
        self.change(tenant, name, |next, events| {
            let unit = unit_mut(next, id)?;
            if unit.state.is_pending() {
                unit.release(now, Some(format!("start failed: {why}")))?;
                let unit = unit.clone();
                events.push(next.unit_event(PoolEventKind::UnitReleased, &unit));
            }
            Ok(())
        })
    }

    /// Records that a draining unit has no traffic left: it is released;
    /// the returned job stops an `exec` unit.
    pub fn unit_drained(&self, tenant: &str, name: &str, id: &str, now: i64) -> Result<Option<ExecJob>, PoolError> {
        let jobs = self.change_with_jobs(tenant, name, |next, events| {
            let unit = unit_mut(next, id)?;
            if unit.state != UnitState::Draining {
                return Ok(Vec::new());
            }
            unit.drained(now)?;
            let unit = unit.clone();
            events.push(next.unit_event(PoolEventKind::UnitReleased, &unit));
            Ok(exec_job(&next.spec, &unit, Command::Stop).into_iter().collect())
        })?;
        Ok(jobs.into_iter().next())
    }

    /// Adds or replaces an account's reservation; the next cycle (due at
    /// once) sizes the pool for it.
    pub fn reserve(
        &self,
        tenant: &str,
        name: &str,
        reservation: Reservation,
        now: i64,
    ) -> Result<PoolRecord, PoolError> {
        self.change(tenant, name, |next, events| {
            reservation.validate(&next.spec)?;
            if !next.reservations.contains_key(&reservation.account) && next.reservations.len() >= MAX_RESERVATIONS {
                return Err(PoolError::TooManyReservations(MAX_RESERVATIONS));
            }
            events.push(next.event(
                PoolEventKind::Reservation,
                Some(&reservation.account),
                serde_json::json!({"account": reservation.account, "status": "requested", "reservation": reservation}),
            ));
            next.reservations.insert(reservation.account.clone(), reservation);
            next.next_run = now;
            Ok(next.clone())
        })
    }

    /// Removes an account's reservation.
    pub fn unreserve(&self, tenant: &str, name: &str, account: &str, now: i64) -> Result<(), PoolError> {
        self.change(tenant, name, |next, events| {
            if next.reservations.remove(account).is_none() {
                return Err(PoolError::ReservationNotFound(account.to_string()));
            }
            next.reservation_status.remove(account);
            next.next_run = now;
            events.push(next.event(
                PoolEventKind::Reservation,
                Some(account),
                serde_json::json!({"account": account, "status": "released"}),
            ));
            Ok(())
        })
    }
}

/// The capacity the `min` units of `tenant`'s pools need together, with
/// `with` in place of the stored pool of its name (or added).
fn guaranteed_of(pools: &BTreeMap<(String, String), PoolRecord>, tenant: &str, with: Option<&PoolSpec>) -> Vector {
    let stored =
        pools.values().map(|r| &r.spec).filter(|s| s.tenant == tenant && with.is_none_or(|w| w.name != s.name));
    let guarantees: Vec<Vector> = stored.chain(with).map(quota::guaranteed).collect();
    quota::total(&guarantees)
}

/// The meta-record key of a tenant's quota.
fn quota_key(tenant: &str) -> Vec<u8> {
    format!("{QUOTA_PREFIX}{tenant}").into_bytes()
}

/// The unit `id` of a pool.
fn unit_mut<'a>(record: &'a mut PoolRecord, id: &str) -> Result<&'a mut Unit, PoolError> {
    record.units.iter_mut().find(|u| u.id == id).ok_or_else(|| PoolError::UnitNotFound(id.to_string()))
}

/// A reservation's demand this cycle, before the margin, and a note on
/// dimensions that had no forecast.
fn reserved_demand(store: &Store, spec: &PoolSpec, reservation: &Reservation, now: i64) -> (Vector, Option<String>) {
    let mut vector = Vector::new();
    let mut notes = Vec::new();
    for (d, source) in &reservation.demand {
        let value = match source {
            ReservedDemand::Fixed { amount } => *amount,
            ReservedDemand::Forecast(source) => {
                let reading = demand::read(store, source, &spec.safety, spec.lead_time, spec.history, now);
                match (reading.forecast, reading.usage) {
                    (Some(f), _) => f,
                    (None, usage) => {
                        notes.push(format!(
                            "{d}: {}; using {}",
                            reading.forecast_error.unwrap_or_else(|| "no forecast".into()),
                            if usage.is_some() { "current usage" } else { "0" }
                        ));
                        usage.unwrap_or(0.0)
                    }
                }
            }
        };
        vector.insert(*d, value.max(0.0));
    }
    (vector, (!notes.is_empty()).then(|| notes.join("; ")))
}

/// Shares the capacity of `target` units among the reservations (weighted
/// DRF when they do not all fit); returns the events of changed shares.
fn share_reservations(
    record: &mut PoolRecord,
    target: &[u32],
    reserved: &BTreeMap<String, (Vector, Option<String>)>,
) -> Vec<PoolEvent> {
    if record.reservations.is_empty() {
        record.reservation_status.clear();
        return Vec::new();
    }
    let spec = &record.spec;
    let pool_capacity = capacity(&spec.shapes, target, &spec.dimensions);
    let claims: Vec<Claim> = record
        .reservations
        .values()
        .map(|r| Claim {
            id: r.account.clone(),
            weight: r.weight,
            demand: reserved
                .get(&r.account)
                .map(|(v, _)| v.iter().map(|(d, x)| (*d, spec.safety.with_margin(*x))).collect())
                .unwrap_or_default(),
            quota: r.quota.clone(),
        })
        .collect();
    let shares = match fair_shares(&pool_capacity, &claims) {
        Ok(shares) => shares,
        Err(err) => {
            tracing::error!(pool = %spec.name, error = %err, "cannot share the pool among reservations");
            return Vec::new();
        }
    };
    let mut events = Vec::new();
    let mut status = BTreeMap::new();
    for share in shares {
        let (demand, note) = reserved.get(&share.id).cloned().unwrap_or_default();
        let now = ReservationStatus {
            demand,
            allocation: share.allocation,
            dominant_share: share.dominant_share,
            satisfied: share.satisfied,
            note,
        };
        if record.reservation_status.get(&share.id).is_none_or(|before| now.differs_from(before)) {
            events.push(record.event(
                PoolEventKind::Reservation,
                Some(&share.id),
                serde_json::json!({"account": share.id, "status": "allocated", "allocation": now}),
            ));
        }
        status.insert(share.id, now);
    }
    record.reservation_status = status;
    events
}

/// Which of a unit's `exec` commands to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Command {
    /// Its start, issued at `now` (ns).
    Start {
        /// When.
        now: i64,
    },
    /// Its stop.
    Stop,
}

/// The `exec` command to run for a unit of `spec`: its start (with the
/// stop to undo it and its deadline), or its stop once it has an address;
/// `None` for webhook pools and for units that never started.
fn exec_job(spec: &PoolSpec, unit: &Unit, command: Command) -> Option<ExecJob> {
    let Provider::Exec { start: start_command, stop } = &spec.provider else { return None };
    let start_at = match command {
        Command::Start { now } => Some(now),
        Command::Stop if unit.address.is_none() => return None,
        Command::Stop => None,
    };
    let start = start_at.is_some();
    Some(ExecJob {
        tenant: spec.tenant.clone(),
        pool: spec.name.clone(),
        unit: unit.id.clone(),
        shape: unit.shape.clone(),
        address: if start { None } else { unit.address.clone() },
        start,
        command: if start { start_command.clone() } else { stop.clone() },
        undo: start.then(|| stop.clone()),
        deadline: start_at.map(|now| now.saturating_add(spec.unit_timeout)),
        not_before: None,
    })
}

/// The body of a scale event: the decision and the units it touched.
fn decision_data(decision: &Decision, units: &[String]) -> serde_json::Value {
    serde_json::json!({
        "units": units,
        "required": decision.required,
        "desired": decision.desired,
        "target": decision.target,
        "reason": decision.reason,
    })
}

#[path = "exec_recovery.rs"]
mod exec_recovery;

#[cfg(test)]
#[path = "manager_tests.rs"]
mod tests;
