//! Crash safety: no acknowledged write is lost or duplicated by `kill -9`.
//!
//! Writer threads send batches of random points without pause; every batch
//! carries its id and each point its index, and every series gets unique
//! timestamps, so the final export can be matched point by point against
//! what was sent. The test crashes the server with SIGKILL at random moments
//! (after a random number of acknowledgements, while the writers are in
//! full flight), restarts it on the same data directory, and repeats. Every
//! few cycles it also restarts gracefully under load, and it alternates the
//! WAL policy between `always` and `interval` (a process crash must not
//! lose acknowledged writes with either: the OS page cache survives it).
//!
//! At the end it proves:
//! * every acknowledged batch is present in full, exactly once, bit for bit;
//! * an unacknowledged batch (in flight at a crash) is all there or not at
//!   all — one WAL record per request means all-or-nothing;
//! * nothing that was never sent appears;
//! * `/api/v1/verify` reports no damage.
//!
//! `AUGUR_CRASH_CYCLES` (default 20) sets the number of crashes and
//! `AUGUR_CRASH_SEED` replays a run's random choices (the seed is printed);
//! `tests/scripts/crash-soak.sh` runs many cycles.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use augur_engine::model::{FieldValue as V, Point, Precision};
use augur_tests::{assert_no_duplicate_rows, PointSet, Server, ServerOptions, TestPoint};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

const DB: &str = "crash";
const WRITERS: usize = 3;
const SERIES_PER_WRITER: usize = 4;
const BASE: i64 = 1_700_000_000_000_000_000;
/// Longest wait for the writers to make progress after a (re)start.
const PROGRESS_TIMEOUT: Duration = Duration::from_secs(20);

const ALWAYS: &str = "[storage]\nwal_sync = \"always\"\n";
const INTERVAL: &str = "[storage]\nwal_sync = \"interval\"\nwal_sync_interval = \"200ms\"\n";

/// What the writers know about the server.
#[derive(Default)]
struct Target {
    /// Base URL of the running server; `None` while it is down.
    url: Option<String>,
    /// Bumped at every (re)start.
    generation: u64,
    /// Writers exit when set.
    stop: bool,
}

/// State shared between the test and its writers.
#[derive(Default)]
struct Shared {
    target: Mutex<Target>,
    target_changed: Condvar,
    /// Acknowledged batches so far.
    acked: Mutex<u64>,
    acked_changed: Condvar,
    /// Set by a writer that saw something it must not (a 4xx/5xx).
    failure: Mutex<Option<String>>,
    failed: AtomicBool,
}

impl Shared {
    fn publish(&self, url: Option<String>) {
        let mut t = self.target.lock().expect("target lock");
        t.url = url;
        t.generation += 1;
        self.target_changed.notify_all();
    }

    fn stop(&self) {
        let mut t = self.target.lock().expect("target lock");
        t.stop = true;
        self.target_changed.notify_all();
    }

    /// Waits for a server newer than `seen`; `None` when told to stop.
    fn next_target(&self, seen: u64) -> Option<(String, u64)> {
        let mut t = self.target.lock().expect("target lock");
        loop {
            if t.stop {
                return None;
            }
            if t.generation > seen {
                if let Some(url) = &t.url {
                    return Some((url.clone(), t.generation));
                }
            }
            t = self.target_changed.wait(t).expect("target lock");
        }
    }

    fn fail(&self, message: String) {
        self.failed.store(true, Ordering::SeqCst);
        self.failure.lock().expect("failure lock").get_or_insert(message);
        self.acked_changed.notify_all();
    }

    /// Waits (bounded) until at least `count` batches are acknowledged.
    fn wait_acked(&self, count: u64, limit: Duration) -> Result<(), String> {
        let deadline = Instant::now() + limit;
        let mut acked = self.acked.lock().expect("acked lock");
        while *acked < count {
            if self.failed.load(Ordering::SeqCst) {
                return Err(self.failure.lock().expect("failure lock").clone().unwrap_or_default());
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(format!("only {} of {count} batches acknowledged within {limit:?}", *acked));
            }
            acked = self.acked_changed.wait_timeout(acked, left).expect("acked lock").0;
        }
        Ok(())
    }

    fn acked_now(&self) -> u64 {
        *self.acked.lock().expect("acked lock")
    }
}

/// One write request and its fate.
struct Batch {
    id: i64,
    points: Vec<TestPoint>,
    acked: bool,
}

/// Sends batches until stopped; returns every batch it attempted.
fn writer(index: usize, seed: u64, shared: Arc<Shared>) -> Vec<Batch> {
    let mut rng = StdRng::seed_from_u64(seed.wrapping_add(index as u64 * 7919));
    let client =
        reqwest::blocking::Client::builder().timeout(Duration::from_secs(15)).no_proxy().build().expect("client");
    let mut next_ts = [0i64; SERIES_PER_WRITER];
    let mut batches = Vec::new();
    let mut seen = 0;
    let mut seq = 0i64;
    'servers: while let Some((url, generation)) = shared.next_target(seen) {
        seen = generation;
        loop {
            if shared.target.lock().expect("target lock").stop {
                break 'servers;
            }
            seq += 1;
            let id = i64::try_from(index).expect("small") * 1_000_000_000 + seq;
            let n = rng.gen_range(1..=24);
            let points: Vec<TestPoint> = (0..n)
                .map(|k| {
                    let s = rng.gen_range(0..SERIES_PER_WRITER);
                    next_ts[s] += 1;
                    let ts = BASE + next_ts[s] * 1_000_000 + rng.gen_range(0..1_000);
                    TestPoint::new("crash", ts)
                        .tag("writer", &index.to_string())
                        .tag("s", &s.to_string())
                        .field("b", V::Integer(id))
                        .field("k", V::Integer(k))
                        .field("v", V::Float(rng.gen::<f64>() * 1e4 - 5e3))
                        .field("label", V::String(format!("batch {id} \"{k}\"")))
                })
                .collect();
            let body = augur_tests::lines(&points, Precision::Nanoseconds);
            let result = client.post(format!("{url}/write?db={DB}")).body(body).send();
            match result {
                Ok(r) if r.status().as_u16() == 204 => {
                    batches.push(Batch { id, points, acked: true });
                    let mut acked = shared.acked.lock().expect("acked lock");
                    *acked += 1;
                    shared.acked_changed.notify_all();
                }
                Ok(r) => {
                    let status = r.status();
                    let text = r.text().unwrap_or_default();
                    batches.push(Batch { id, points, acked: false });
                    shared.fail(format!("writer {index}: batch {id} got {status}: {text}"));
                    break 'servers;
                }
                Err(_) => {
                    // The server died under us (or is going down): the batch
                    // may or may not be stored. Wait for the next server.
                    batches.push(Batch { id, points, acked: false });
                    continue 'servers;
                }
            }
        }
    }
    batches
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.trim().parse().ok())
}

#[test]
fn acknowledged_writes_survive_kill_9_exactly_once() {
    let cycles = env_number("AUGUR_CRASH_CYCLES").unwrap_or(20).max(1);
    let seed = env_number("AUGUR_CRASH_SEED").unwrap_or_else(|| rand::random::<u64>() % 1_000_000_000);
    eprintln!("crash test: {cycles} cycles, seed {seed} (rerun with AUGUR_CRASH_SEED={seed})");
    let mut rng = StdRng::seed_from_u64(seed);
    let started = Instant::now();

    let mut server = Server::start(ServerOptions::with_config(ALWAYS));
    server.create_database(DB);
    let shared = Arc::new(Shared::default());
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || writer(w, seed, shared))
        })
        .collect();

    let mut kills = 0;
    let mut graceful = 0;
    let mut interval_cycles = 0;
    for cycle in 0..cycles {
        if cycle > 0 {
            // Alternate the WAL policy on the same data directory.
            let interval = cycle % 2 == 1;
            interval_cycles += usize::from(interval);
            server.set_options(ServerOptions::with_config(if interval { INTERVAL } else { ALWAYS }));
            server.start_again();
        }
        shared.publish(Some(server.base_url()));

        // Every fifth cycle: a graceful restart under load first.
        if cycle % 5 == 4 {
            let goal = shared.acked_now() + rng.gen_range(2..20);
            shared.wait_acked(goal, PROGRESS_TIMEOUT).unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
            server.sigterm();
            graceful += 1;
            server.start_again();
            shared.publish(Some(server.base_url()));
        }

        // Crash after a random number of acknowledgements.
        let goal = shared.acked_now() + rng.gen_range(1..60);
        shared.wait_acked(goal, PROGRESS_TIMEOUT).unwrap_or_else(|e| panic!("cycle {cycle}: {e}"));
        server.kill9();
        kills += 1;
        shared.publish(None);
    }
    shared.stop();
    let mut batches: Vec<Batch> = Vec::new();
    for w in writers {
        batches.extend(w.join().expect("writer thread panicked"));
    }
    if let Some(failure) = shared.failure.lock().expect("failure lock").clone() {
        panic!("a writer saw an unexpected reply: {failure}");
    }

    server.start_again();
    let exported = server.export_points(DB);
    assert_no_duplicate_rows(&exported, "after crashes");
    let damaged = server.verify();
    assert!(damaged.is_empty(), "kill -9 must not damage anything: {damaged:?}");
    let report = check(&batches, &exported);
    eprintln!(
        "crash test: {kills} kills, {graceful} graceful restarts, {interval_cycles} cycles with wal_sync=interval, \
         {} batches acknowledged, {} unacknowledged ({} stored, {} not), {} points exported, {:?}",
        report.acked,
        report.unacked_present + report.unacked_absent,
        report.unacked_present,
        report.unacked_absent,
        exported.len(),
        started.elapsed()
    );
    assert!(kills >= cycles as usize && report.acked > 0);

    // And the same data after one more graceful restart (sealed blocks).
    server.restart();
    let again = PointSet::from_points(&server.export_points(DB));
    assert_eq!(again, PointSet::from_points(&exported), "export changed across a graceful restart");
}

#[derive(Debug, Default)]
struct Report {
    acked: usize,
    unacked_present: usize,
    unacked_absent: usize,
}

/// Matches the export against the batches sent; panics on any violation.
fn check(batches: &[Batch], exported: &[Point]) -> Report {
    let by_id: HashMap<i64, &Batch> = batches.iter().map(|b| (b.id, b)).collect();
    assert_eq!(by_id.len(), batches.len(), "batch ids are unique");
    let mut found: BTreeMap<i64, usize> = BTreeMap::new();
    let mut problems = Vec::new();
    for p in exported {
        let field = |name: &str| p.fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let (Some(V::Integer(id)), Some(V::Integer(k))) = (field("b"), field("k")) else {
            problems.push(format!("exported point without batch id and index: {p:?}"));
            continue;
        };
        let Some(batch) = by_id.get(&id) else {
            problems.push(format!("exported point of batch {id}, which was never sent: {p:?}"));
            continue;
        };
        let Some(sent) = usize::try_from(k).ok().and_then(|k| batch.points.get(k)) else {
            problems.push(format!("batch {id} never had a point {k}: {p:?}"));
            continue;
        };
        let want = PointSet::from_points(&[sent.to_point()]);
        let got = PointSet::from_points(std::slice::from_ref(p));
        if want != got {
            problems.push(format!("batch {id} point {k} differs: sent {:?}, exported {:?}", want.rows, got.rows));
        }
        *found.entry(id).or_default() += 1;
    }
    let mut report = Report::default();
    for b in batches {
        let n = found.get(&b.id).copied().unwrap_or(0);
        match (b.acked, n) {
            (true, n) if n == b.points.len() => report.acked += 1,
            (true, n) => problems.push(format!("acknowledged batch {} has {n} of its {} points", b.id, b.points.len())),
            (false, 0) => report.unacked_absent += 1,
            (false, n) if n == b.points.len() => report.unacked_present += 1,
            (false, n) => problems.push(format!(
                "unacknowledged batch {} is partly stored: {n} of {} points",
                b.id,
                b.points.len()
            )),
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems, first ones:\n  {}",
        problems.len(),
        problems.iter().take(20).cloned().collect::<Vec<_>>().join("\n  ")
    );
    report
}
