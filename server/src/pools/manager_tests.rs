use super::*;
use crate::pools::reservations::Reservation;
use augur_engine::lineproto::parse;
use augur_engine::model::Precision;
use augur_engine::storage::StoreOptions;

const MINUTE: i64 = 60_000_000_000;
/// 2026-01-01T00:00:00Z.
const T0: i64 = 1_767_225_600_000_000_000;

/// Records what was committed, events included.
#[derive(Default)]
struct Recorder {
    store: Option<Store>,
    events: Mutex<Vec<PoolEvent>>,
}

impl EventSink for Recorder {
    fn commit(
        &self,
        events: Vec<PoolEvent>,
        puts: Vec<(Vec<u8>, Vec<u8>)>,
        deletes: Vec<Vec<u8>>,
    ) -> Result<(), SinkError> {
        if let Some(store) = &self.store {
            super::super::events::StoreSink { store: store.clone() }.commit(vec![], puts, deletes)?;
        }
        self.events.lock().extend(events);
        Ok(())
    }
}

impl Recorder {
    fn kinds(&self) -> Vec<PoolEventKind> {
        self.events.lock().iter().map(|e| e.kind).collect()
    }
}

/// A store with two hours of rising per-minute CPU demand (10 → 34 cores).
fn store_with_ramp(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, StoreOptions::default()).expect("open");
    store.create_database("infra").expect("create");
    let mut lines = String::new();
    for i in 0..120 {
        lines.push_str(&format!("usage,service=web cpu={} {}\n", 10.0 + 0.2 * i as f64, T0 + i * MINUTE));
    }
    let points = parse(lines.as_bytes(), Precision::Nanoseconds).points;
    store.write("infra", None, &points, T0 + 120 * MINUTE).expect("write");
    store
}

/// A manager over [`store_with_ramp`] whose sink records events (no records
/// stored: a restart is not part of these tests).
fn fixture(max_pools_per_tenant: usize) -> (tempfile::TempDir, PoolManager, Arc<Recorder>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with_ramp(dir.path());
    let sink = Arc::new(Recorder::default());
    let manager = PoolManager::open(store, sink.clone(), max_pools_per_tenant).expect("open");
    (dir, manager, sink)
}

fn spec(query: &str) -> PoolSpec {
    let mut spec: PoolSpec = serde_json::from_value(serde_json::json!({
        "name": "web",
        "tenant": "default",
        "dimensions": ["cpu_cores"],
        "shapes": [{"name": "core4", "capacity": {"cpu_cores": 4}, "hourly_cost": 0.2}],
        "min": 1, "max": 50,
        "lead_time": "10m", "interval": "1m", "history": "3h",
        "safety": {"quantile": 95, "margin_pct": 0},
        "demand": {"cpu_cores": {"database": "infra", "query": query}}
    }))
    .expect("spec");
    spec.tenant = "default".into();
    spec
}

#[test]
fn a_cycle_provisions_ahead_of_rising_demand_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with_ramp(dir.path());
    let sink = Arc::new(Recorder { store: Some(store.clone()), ..Recorder::default() });
    let manager = PoolManager::open(store.clone(), sink.clone(), 10).expect("open");
    let now = T0 + 120 * MINUTE;
    manager.create(spec("SELECT sum(cpu) FROM usage WHERE service = 'web' GROUP BY time(1m)"), now).expect("create");
    assert!(matches!(
        manager.create(spec("SELECT sum(cpu) FROM usage GROUP BY time(1m)"), now),
        Err(PoolError::Exists(_))
    ));
    assert_eq!(manager.due(now).len(), 1);

    let decision = manager.cycle("default", "web", now).expect("cycle").expect("decided");
    let record = manager.get("default", "web").expect("pool");
    let reading = &record.readings[&Dimension::CpuCores];
    let usage = reading.usage.expect("usage");
    let forecast = reading.forecast.expect("forecast");
    assert!((usage - 33.8).abs() < 1e-6, "last complete minute: {usage}");
    assert!(forecast > usage + 1.0, "a rising trend is forecast higher 10 minutes ahead: {forecast} vs {usage}");
    // Capacity for the forecast, not for today's usage.
    let units = decision.desired[0];
    assert!(f64::from(units) * 4.0 >= forecast, "{decision:?}");
    assert_eq!(record.units.len(), units as usize);
    assert!(record.units.iter().all(|u| u.state == UnitState::Requested));
    let kinds = sink.kinds();
    assert_eq!(kinds[0], PoolEventKind::ScaleUp);
    assert_eq!(kinds.iter().filter(|k| **k == PoolEventKind::UnitRequested).count(), units as usize);
    assert_eq!(record.next_run, now + MINUTE);
    assert!(manager.due(now).is_empty());

    // Webhook provider: requested units are provisioning once announced.
    assert!(manager.advance("default", "web", now).expect("advance").is_empty());
    let id = manager.get("default", "web").expect("pool").units[0].id.clone();
    manager.unit_ready("default", "web", &id, "10.0.0.7:8080", now).expect("ready");
    assert!(matches!(
        manager.unit_ready("default", "web", "nope", "10.0.0.7:8080", now),
        Err(PoolError::UnitNotFound(_))
    ));
    assert!(matches!(manager.unit_ready("default", "web", &id, "no-port", now), Err(PoolError::InvalidAddress(_))));
    let units = manager.get("default", "web").expect("pool").units;
    assert_eq!(units.iter().filter(|u| u.state == UnitState::Ready).count(), 1);

    // A restart finds the pool, its units and its memory as they were.
    let before = manager.get("default", "web").expect("pool");
    drop(manager);
    let manager = PoolManager::open(store, sink, 10).expect("reopen");
    assert_eq!(manager.get("default", "web").expect("pool"), before);
}

#[test]
fn a_failing_forecast_falls_back_says_so_and_keeps_capacity() {
    let (_dir, manager, sink) = fixture(10);
    let now = T0 + 120 * MINUTE;
    let mut s = spec("SELECT sum(cpu) FROM usage GROUP BY time(1m)");
    // A history too short to trust a forecast: 3 buckets.
    s.history = 4 * MINUTE;
    s.min = 2;
    manager.create(s, now).expect("create");
    let decision = manager.cycle("default", "web", now).expect("cycle").expect("decided");
    assert_eq!(decision.fallback, vec![Dimension::CpuCores], "{decision:?}");
    // Reactive rule: 33.8 / 0.7 = 48.3 cores -> 13 units of 4.
    assert_eq!(decision.desired, vec![13]);
    assert!(sink.kinds().contains(&PoolEventKind::ForecastFallback));
    // Said once, not every cycle.
    manager.cycle("default", "web", now + MINUTE).expect("cycle");
    assert_eq!(sink.kinds().iter().filter(|k| **k == PoolEventKind::ForecastFallback).count(), 1);
}

#[test]
fn units_that_never_become_ready_are_replaced_and_deleting_releases_everything() {
    let (_dir, manager, sink) = fixture(1);
    let now = T0 + 120 * MINUTE;
    let mut s = spec("SELECT sum(cpu) FROM usage GROUP BY time(1m)");
    s.unit_timeout = 5 * MINUTE;
    s.scale_up_cooldown = 0;
    manager.create(s.clone(), now).expect("create");
    let mut other = s.clone();
    other.name = "other".into();
    assert!(matches!(manager.create(other, now), Err(PoolError::TooMany { .. })));
    let first = manager.cycle("default", "web", now).expect("cycle").expect("decided");
    let later = now + 6 * MINUTE;
    let again = manager.cycle("default", "web", later).expect("cycle").expect("decided");
    let record = manager.get("default", "web").expect("pool");
    let timed_out =
        record.units.iter().filter(|u| u.note.as_deref() == Some("timed out before becoming ready")).count();
    assert_eq!(timed_out, first.desired[0] as usize);
    assert!(again.scale_up[0] >= first.desired[0], "replacements requested: {again:?}");
    assert!(sink.kinds().contains(&PoolEventKind::UnitTimedOut));

    let before = sink.kinds().len();
    manager.delete("default", "web", later).expect("delete");
    let released = sink.kinds()[before..].iter().filter(|k| **k == PoolEventKind::UnitReleased).count();
    assert_eq!(released, record.units.iter().filter(|u| u.state != UnitState::Released).count());
    assert!(manager.get("default", "web").is_none());
}

fn reservation(account: &str, weight: f64, cores: f64) -> Reservation {
    serde_json::from_value(serde_json::json!({
        "account": account, "weight": weight, "demand": {"cpu_cores": {"amount": cores}}
    }))
    .expect("reservation")
}

#[test]
fn reservations_size_the_pool_and_share_it_fairly_under_shortage() {
    let (_dir, manager, sink) = fixture(10);
    let now = T0 + 120 * MINUTE;
    let mut s = spec("SELECT sum(cpu) FROM usage GROUP BY time(1m)");
    s.shapes[0].capacity.insert(Dimension::CpuCores, 1.0);
    s.max = 60;
    manager.create(s.clone(), now).expect("create");
    // Reservations adding up to more than the pool's own forecast (~36) size the pool.
    manager.reserve("default", "web", reservation("alice", 1.0, 30.0), now).expect("reserve");
    manager.reserve("default", "web", reservation("bob", 1.0, 20.0), now).expect("reserve");
    let decision = manager.cycle("default", "web", now).expect("cycle").expect("decided");
    assert_eq!(decision.desired, vec![50], "{decision:?}");
    let record = manager.get("default", "web").expect("pool");
    assert!(record.reservation_status.values().all(|s| s.satisfied), "{:?}", record.reservation_status);
    assert!(sink.kinds().contains(&PoolEventKind::Reservation));

    // Shortage: max 40 for 50 reserved cores (a pool that never had more);
    // equal weights share by DRF: bob (20) and alice both get 20.
    s.name = "tight".into();
    s.max = 40;
    manager.create(s.clone(), now).expect("create");
    manager.reserve("default", "tight", reservation("alice", 1.0, 30.0), now).expect("reserve");
    manager.reserve("default", "tight", reservation("bob", 1.0, 20.0), now).expect("reserve");
    let decision = manager.cycle("default", "tight", now + MINUTE).expect("cycle").expect("decided");
    assert!(decision.shortage, "{decision:?}");
    assert!(sink.kinds().contains(&PoolEventKind::ThresholdCrossed), "a predicted shortage is announced");
    let status = manager.get("default", "tight").expect("pool").reservation_status;
    let cores = |a: &str| status[a].allocation[&Dimension::CpuCores];
    assert!((cores("alice") - 20.0).abs() < 1e-6 && (cores("bob") - 20.0).abs() < 1e-6, "{status:?}");
    assert!(!status["alice"].satisfied);

    // Triple weight for alice: 30 of 40, bob 10; nobody starves.
    manager.reserve("default", "tight", reservation("alice", 3.0, 30.0), now + 2 * MINUTE).expect("reserve");
    manager.cycle("default", "tight", now + 2 * MINUTE).expect("cycle");
    let status = manager.get("default", "tight").expect("pool").reservation_status;
    let cores = |a: &str| status[a].allocation[&Dimension::CpuCores];
    assert!((cores("alice") - 30.0).abs() < 1e-6 && (cores("bob") - 10.0).abs() < 1e-6, "{status:?}");

    // Validation names the field; removal works once.
    let mut bad = reservation("carol", 1.0, 1.0);
    bad.weight = 0.0;
    assert!(matches!(manager.reserve("default", "web", bad, now), Err(PoolError::Invalid(e)) if e.field == "weight"));
    manager.unreserve("default", "web", "bob", now).expect("unreserve");
    assert!(matches!(manager.unreserve("default", "web", "bob", now), Err(PoolError::ReservationNotFound(_))));
}

/// An `exec` pool of one-core units over the ramp, starts and stops echoing.
fn exec_spec() -> PoolSpec {
    let mut s = spec("SELECT sum(cpu) FROM usage GROUP BY time(1m)");
    s.provider = Provider::Exec {
        start: vec!["sh".into(), "-c".into(), "echo 127.0.0.1:9".into()],
        stop: vec!["sh".into(), "-c".into(), "true".into()],
    };
    s.max = 3;
    s
}

/// The jobs stored as not yet run, by key.
fn stored_jobs(store: &Store) -> Vec<String> {
    store
        .scan_meta_records(EXEC_PREFIX.as_bytes())
        .expect("scan")
        .into_iter()
        .map(|(k, _)| String::from_utf8_lossy(&k).into_owned())
        .collect()
}

#[test]
fn exec_jobs_a_restart_interrupted_are_undone_or_run_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with_ramp(dir.path());
    let open = || {
        let sink = Arc::new(Recorder { store: Some(store.clone()), ..Recorder::default() });
        (PoolManager::open(store.clone(), sink.clone(), 10).expect("open"), sink)
    };
    let now = T0 + 120 * MINUTE;
    let (manager, _) = open();
    manager.create(exec_spec(), now).expect("create");
    manager.cycle("default", "web", now).expect("cycle").expect("decided");
    let starts = manager.advance("default", "web", now).expect("advance");
    assert_eq!(starts.len(), 3, "max 3 units, each started");
    assert_eq!(stored_jobs(&store).len(), 3, "stored with the change that called for them");
    // The first start ran to the end: ready, and forgotten.
    manager.unit_ready("default", "web", &starts[0].unit, "127.0.0.1:9", now).expect("ready");
    manager.exec_finished(&starts[0]);
    // The second was released by a timeout while it ran (its start still stored).
    manager.unit_failed("default", "web", &starts[1].unit, "killed", now).expect("failed");
    drop(manager);

    // The restart: the third unit is still provisioning; nobody knows what
    // its start left running.
    let (manager, sink) = open();
    let jobs = manager.interrupted_exec_jobs(now + MINUTE).expect("recover");
    let mut stopped: Vec<&str> = jobs.iter().map(|j| j.unit.as_str()).collect();
    stopped.sort_unstable();
    assert_eq!(stopped, vec![starts[1].unit.as_str(), starts[2].unit.as_str()], "{jobs:?}");
    assert!(jobs.iter().all(|j| !j.start && j.address.is_none() && j.command == ["sh", "-c", "true"]), "{jobs:?}");
    // Each waits for its start's deadline: an orphaned start may still run.
    let deadline = now + exec_spec().unit_timeout;
    assert!(jobs.iter().all(|j| j.not_before == Some(deadline)), "{jobs:?}");
    let record = manager.get("default", "web").expect("pool");
    let unit = |id: &str| record.units.iter().find(|u| u.id == id).cloned().expect("unit");
    assert_eq!(unit(&starts[0].unit).state, UnitState::Ready);
    assert_eq!(unit(&starts[2].unit).state, UnitState::Released);
    assert_eq!(unit(&starts[2].unit).note.as_deref(), Some(exec_recovery::INTERRUPTED_START));
    assert_eq!(sink.kinds(), vec![PoolEventKind::UnitReleased]);
    // The stops replaced the starts in the store: a second restart before
    // they ran runs them again, and once run they are forgotten.
    assert!(stored_jobs(&store).iter().all(|k| k.ends_with("/stop")), "{:?}", stored_jobs(&store));
    drop(manager);
    let (manager, _) = open();
    let again = manager.interrupted_exec_jobs(now + 2 * MINUTE).expect("recover");
    assert_eq!(again, jobs, "stops are run again until they have run");
    for job in &again {
        manager.exec_finished(job);
    }
    assert!(stored_jobs(&store).is_empty());
    assert!(manager.interrupted_exec_jobs(now + 3 * MINUTE).expect("recover").is_empty());

    // A pool deleted with a ready unit: its stop is stored with the deletion.
    let stops = manager.delete("default", "web", now + 3 * MINUTE).expect("delete");
    assert_eq!(stops.len(), 1);
    assert_eq!(stops[0].address.as_deref(), Some("127.0.0.1:9"));
    assert_eq!(stops[0].not_before, None, "a stop of a ready unit runs at once");
    drop(manager);
    let (manager, _) = open();
    assert_eq!(manager.interrupted_exec_jobs(now + 4 * MINUTE).expect("recover"), stops);
}

/// Three hours of per-minute demand: 2 cores, and a one-minute burst to 30
/// cores every 23.5 minutes (23 and 24 minutes apart in turn), the last at
/// minute 175.
fn store_with_bursts(dir: &std::path::Path) -> Store {
    let store = Store::open(dir, StoreOptions::default()).expect("open");
    store.create_database("infra").expect("create");
    write_minutes(&store, 0..180);
    store
}

/// Writes the minutes `range` of [`store_with_bursts`]'s demand.
fn write_minutes(store: &Store, range: std::ops::Range<i64>) {
    let bursts: Vec<i64> = (0..8).map(|k| 175 - (47 * k + 1) / 2).collect();
    let mut lines = String::new();
    for i in range.clone() {
        let cpu = if bursts.contains(&i) { 30.0 } else { 2.0 + 0.1 * (i % 3) as f64 };
        lines.push_str(&format!("usage,service=batch cpu={cpu} {}\n", T0 + i * MINUTE));
    }
    let points = parse(lines.as_bytes(), Precision::Nanoseconds).points;
    store.write("infra", None, &points, T0 + range.end * MINUTE).expect("write");
}

/// Creates pool `web` from `spec` as of `now` (replacing one already there),
/// runs its first cycle, and returns the decision and the CPU reading.
fn first_cycle(manager: &PoolManager, spec: &PoolSpec, now: i64) -> (Decision, DemandReading) {
    if manager.get("default", "web").is_some() {
        manager.delete("default", "web", now).expect("delete");
    }
    manager.create(spec.clone(), now).expect("create");
    let decision = manager.cycle("default", "web", now).expect("cycle").expect("decided");
    let reading = manager.get("default", "web").expect("pool").readings[&Dimension::CpuCores].clone();
    (decision, reading)
}

#[test]
fn a_periodic_burst_due_within_the_lead_time_is_provisioned_for() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = store_with_bursts(dir.path());
    let manager = PoolManager::open(store.clone(), Arc::new(Recorder::default()), 10).expect("open");
    let mut spec = spec("SELECT sum(cpu) FROM usage GROUP BY time(1m)");
    spec.lead_time = 5 * MINUTE;

    // At minute 180 (minutes up to 179 closed) the next burst, due about
    // 23.5 minutes after 175, is beyond the 5-minute lead time.
    let (_, reading) = first_cycle(&manager, &spec, T0 + 180 * MINUTE);
    let bursts = reading.bursts.clone().expect("the cadence is found");
    assert_eq!(bursts.height, 30.0);
    assert!(bursts.seen >= 5, "{bursts:?}");
    assert!(bursts.every == "23m30s" || bursts.every.starts_with("23m"), "{bursts:?}");
    assert!(!bursts.raised_forecast, "{bursts:?}");
    assert!(reading.forecast.expect("forecast") < 30.0, "{reading:?}");

    // At minute 195 the burst (around minute 198.5) is inside the lead time:
    // the forecast is raised to its height and units cover it.
    write_minutes(&store, 180..195);
    let (decision, reading) = first_cycle(&manager, &spec, T0 + 195 * MINUTE);
    let bursts = reading.bursts.clone().expect("still found: no burst was missed yet");
    assert!(bursts.raised_forecast, "{bursts:?}");
    assert!(reading.forecast.expect("forecast") >= 30.0, "{reading:?}");
    assert!(f64::from(decision.desired[0]) * 4.0 >= 30.0, "{decision:?}");
}

/// Five-minute demand from `T0` (a midnight) up to minute `until`: about 10
/// cores, and a one-step job to 40 cores every night, starting at 03:20,
/// 03:35, 03:10, 03:45, 03:25, 03:15 and 03:30 on days 0–6.
fn write_nights(store: &Store, from: i64, until: i64) {
    const STARTS: [i64; 7] = [40, 43, 38, 45, 41, 39, 42];
    let mut lines = String::new();
    for step in from / 5..until / 5 {
        let (day, of_day) = (step / 288, step % 288);
        let cpu = if STARTS.get(day as usize) == Some(&of_day) { 40.0 } else { 10.0 + 0.3 * (step % 4) as f64 };
        lines.push_str(&format!("usage,service=nightly cpu={cpu} {}\n", T0 + step * 5 * MINUTE));
    }
    let points = parse(lines.as_bytes(), Precision::Nanoseconds).points;
    store.write("infra", None, &points, T0 + until * MINUTE).expect("write");
}

#[test]
fn a_nightly_job_is_provisioned_for_in_the_window_it_runs_in() {
    const DAY: i64 = 24 * 60;
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    store.create_database("infra").expect("create");
    let manager = PoolManager::open(store.clone(), Arc::new(Recorder::default()), 10).expect("open");
    let mut spec = spec("SELECT sum(cpu) FROM usage GROUP BY time(5m)");
    spec.history = 7 * DAY * MINUTE;
    spec.interval = 5 * MINUTE;
    spec.lead_time = 10 * MINUTE;

    // After two nights the search cannot run yet, and the pool says so.
    write_nights(&store, 0, 2 * DAY);
    let (_, reading) = first_cycle(&manager, &spec, T0 + 2 * DAY * MINUTE);
    assert_eq!(reading.bursts, None);
    let note = reading.nightly_search.clone().expect("a note");
    assert!(note.contains("96h45m0s") && note.contains("(48h0m0s so far)"), "{note}");

    // At 01:00 on day 6 the job ran at 03:10–03:45 on the six nights
    // before: due tonight, over those times widened by their mean gap
    // (7 steps / 5 gaps, rounded up: 2 steps), so not within the lead time.
    write_nights(&store, 2 * DAY, 6 * DAY + 60);
    let (_, reading) = first_cycle(&manager, &spec, T0 + (6 * DAY + 60) * MINUTE);
    assert_eq!(reading.nightly_search, None);
    let bursts = reading.bursts.clone().expect("the nightly cadence is found");
    assert_eq!(bursts.every, "24h0m0s", "{bursts:?}");
    assert_eq!(bursts.height, 40.0);
    assert_eq!((bursts.due_from.as_str(), bursts.due_to.as_str()), ("2026-01-07T03:00:00Z", "2026-01-07T03:55:00Z"));
    assert!(bursts.seen >= 5, "{bursts:?}");
    assert!(!bursts.raised_forecast, "{bursts:?}");
    assert!(reading.forecast.expect("forecast") < 40.0, "{reading:?}");

    // At 02:55 the window opens within the lead time: the forecast is raised
    // to the job's height and units (4 cores each) cover it.
    write_nights(&store, 6 * DAY + 60, 6 * DAY + 175);
    let (decision, reading) = first_cycle(&manager, &spec, T0 + (6 * DAY + 175) * MINUTE);
    let bursts = reading.bursts.clone().expect("still found");
    assert!(bursts.raised_forecast, "{bursts:?}");
    assert!(reading.forecast.expect("forecast") >= 40.0, "{reading:?}");
    assert!(f64::from(decision.desired[0]) * 4.0 >= 40.0, "{decision:?}");

    // The same pool reading only 3 days never finds the job, and says to
    // raise its history.
    spec.history = 3 * DAY * MINUTE;
    let (_, reading) = first_cycle(&manager, &spec, T0 + (6 * DAY + 175) * MINUTE);
    assert_eq!(reading.bursts, None);
    let note = reading.nightly_search.clone().expect("a note");
    assert!(note.ends_with("this pool's history is 72h0m0s"), "{note}");
}

mod props {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};

    const DAY: i64 = 24 * 60 * MINUTE;

    /// Durations, mostly ones a pool accepts up to its 3,650-day limit,
    /// sometimes beyond it, zero or negative, as JSON literals.
    fn duration() -> impl Strategy<Value = &'static str> {
        prop_oneof![
            6 => prop::sample::select(vec!["1s", "1m", "1h", "1d", "3650d"]),
            1 => prop::sample::select(vec!["0s", "1ns", "3651d", "106000d", "-1m"]),
        ]
    }

    fn number() -> impl Strategy<Value = f64> {
        prop_oneof![
            6 => prop::sample::select(vec![1e-300, 0.5, 4.0, 1e300, f64::MAX]),
            1 => prop::sample::select(vec![0.0, -1.0]),
        ]
    }

    /// A pool definition with extreme durations, counts, capacities and
    /// safety settings, as JSON.
    fn definition() -> impl Strategy<Value = serde_json::Value> {
        (
            (prop::collection::vec(duration(), 5), prop_oneof![6 => Just("3650d"), 1 => duration()]),
            (
                prop::sample::select(vec![0u64, 1]),
                prop_oneof![8 => prop::sample::select(vec![1u64, 50, 10_000]), 1 => Just(10_001u64)],
            ),
            prop_oneof![8 => prop::sample::select(vec![0u64, 1]), 1 => prop::sample::select(vec![10_000, u64::from(u32::MAX)])],
            (number(), prop_oneof![Just(0.0), number()]),
            prop_oneof![
                8 => prop::sample::select(vec![None, Some(50.0), Some(99.9999)]),
                1 => prop::sample::select(vec![Some(100.0), Some(-1.0)]),
            ],
            prop_oneof![8 => prop::sample::select(vec![0.0, 10.0, 1000.0]), 1 => prop::sample::select(vec![1001.0, -1.0])],
            prop::sample::select(vec!["1ns", "1m", "3650d", "106000d"]),
        )
            .prop_map(|((d, history), (min, max), warm, (capacity, cost), quantile, margin, step)| {
                serde_json::json!({
                    "name": "edge",
                    "dimensions": ["cpu_cores"],
                    "shapes": [{"name": "s", "capacity": {"cpu_cores": capacity}, "hourly_cost": cost}],
                    "min": min, "max": max, "warm": warm,
                    "lead_time": d[0], "interval": d[1], "history": history,
                    "scale_up_cooldown": d[2], "scale_down_stabilization": d[3], "unit_timeout": d[4],
                    "safety": {"quantile": quantile, "margin_pct": margin},
                    "demand": {"cpu_cores": {"database": "infra", "query": format!("SELECT sum(cpu) FROM usage GROUP BY time({step})")}}
                })
            })
    }

    /// A pool definition with extreme values is refused with the field at
    /// fault, or accepted and then created, cycled, planned and deleted on
    /// a real store: never a panic (an interval of 3,650+ days overflowed
    /// the history check, a lead time near 292 years `now + lead_time`).
    /// Enough of the definitions must be accepted for the second half to
    /// have run.
    #[test]
    fn extreme_pool_definitions_are_refused_or_run_without_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = store_with_ramp(dir.path());
        let manager = PoolManager::open(store.clone(), Arc::new(Recorder::default()), 10).expect("open");
        let now = T0 + 120 * MINUTE;
        let accepted = std::cell::Cell::new(0usize);
        let mut runner = TestRunner::new(Config::with_cases(160));
        let outcome = runner.run(&(definition(), number()), |(json, capacity)| {
            let mut spec: PoolSpec = match serde_json::from_value(json) {
                Ok(spec) => spec,
                Err(e) => {
                    prop_assert!(!e.to_string().is_empty());
                    return Ok(());
                }
            };
            spec.tenant = "default".into();
            if let Err(e) = spec.validate() {
                prop_assert!(!e.to_string().is_empty());
                return Ok(());
            }
            accepted.set(accepted.get() + 1);
            let created = manager.create(spec.clone(), now);
            prop_assert!(created.is_ok(), "{created:?}");
            let _ = manager.cycle("default", "edge", now);
            // Two accounts' reservations with extreme amounts, weights and
            // a quota share the pool through the next cycle.
            for (account, amount, weight) in [("a", capacity, 1e-300), ("b", f64::MAX, 1e6)] {
                let reservation: Result<Reservation, _> = serde_json::from_value(serde_json::json!({
                    "account": account, "weight": weight,
                    "demand": {"cpu_cores": {"amount": amount}},
                    "quota": {"cpu_cores": amount},
                }));
                if let Ok(reservation) = reservation {
                    let _ = manager.reserve("default", "edge", reservation, now);
                }
            }
            let _ = manager.cycle("default", "edge", now.saturating_add(spec.interval));
            let _ = crate::pools::plan::plan(&store, &spec, 30, 28 * DAY, now);
            prop_assert!(manager.delete("default", "edge", now).is_ok());
            Ok(())
        });
        assert!(outcome.is_ok(), "{outcome:?}");
        assert!(accepted.get() >= 16, "only {} of 160 definitions were accepted", accepted.get());
    }
}
