//! The differential test: Augur against a real InfluxDB 1.6.7, query by
//! query, on the same generated data.
//!
//! The test starts `influxd` (Debian package `influxdb`) and `augur` on
//! loopback, writes the seeded data set of [`augur_tests::datagen`] to both
//! in the same shuffled batches, then sends both every query of the corpus
//! — the hand-written `tests/differential/queries.txt` plus queries
//! generated from a seeded grammar — and compares the answers as parsed
//! JSON (floats within a relative 1e-9).
//!
//! Every difference must be listed, with its reason, in
//! `tests/differential/known_differences.txt`; the test fails on a
//! difference that is not listed, and on a listed query that no longer
//! differs (or is no longer in the corpus), so the list stays honest. It
//! prints a summary line and, on failure, each difference with both
//! answers.
//!
//! `DIFFERENTIAL_REPORT=file` writes the unlisted differences there as
//! JSON lines (query, first differing path, both answers) for triage.
//!
//! `DIFFERENTIAL_SEED=n` runs another data set and corpus (the list of
//! known differences then only informs: unlisted differences are printed,
//! the test fails only on answers that are not JSON or on HTTP 5xx).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use augur_tests::conformance::{answer, Expected};
use augur_tests::datagen::{data_lines, generated_queries};
use augur_tests::influxd::Influxd;
use augur_tests::jsoncmp::{first_difference, json_match, ordered};
use augur_tests::target::Target;
use augur_tests::Server;

/// The seed of the data and the generated corpus the known-differences
/// list was made with.
const SEED: u64 = 20_240_101;
/// Generated queries in the corpus (besides the hand-written ones).
const GENERATED: usize = 240;
/// The database both servers get.
const DB: &str = "diff";
/// Lines per write request.
const BATCH: usize = 1_000;
/// Queries in flight at once.
const PARALLEL: usize = 4;

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("differential")
}

/// Non-empty, non-comment lines of a file in `tests/differential/`.
fn read_lines(name: &str) -> Vec<String> {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect()
}

/// The known differences: query text → reason. The file lists a reason
/// in brackets, then the queries it explains, one per line.
fn known_differences() -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut reason = None;
    for line in read_lines("known_differences.txt") {
        if let Some(r) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            reason = Some(r.to_string());
            continue;
        }
        let r = reason.clone().unwrap_or_else(|| panic!("known_differences.txt: {line:?} comes before any [reason]"));
        assert!(out.insert(line.clone(), r).is_none(), "known_differences.txt lists {line:?} twice");
    }
    out
}

fn describe(e: &Expected) -> String {
    let body = ordered(&e.body);
    let body = if body.len() > 1_500 { format!("{}… ({} bytes)", &body[..1_500], body.len()) } else { body };
    if e.status == 200 {
        body
    } else {
        format!("HTTP {} {body}", e.status)
    }
}

#[test]
fn augur_answers_as_influxdb_does() {
    let seed = std::env::var("DIFFERENTIAL_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(SEED);
    let strict = seed == SEED;

    // Both servers start at once (influxd takes a second or two).
    let (influxd, server) = std::thread::scope(|s| {
        let i = s.spawn(Influxd::start);
        let a = Server::start_default();
        (i.join().expect("influxd start"), a)
    });
    let theirs = influxd.target().clone();
    let ours = Target::new(&server.base_url());

    let lines = data_lines(seed);
    for t in [&theirs, &ours] {
        t.must(&format!("CREATE DATABASE {DB}"), None);
        for batch in lines.chunks(BATCH) {
            let reply = t.write(DB, None, "ns", &batch.join("\n"));
            assert_eq!(reply.status, 204, "write to {} failed: {reply}", t.base_url());
        }
    }

    let mut corpus = read_lines("queries.txt");
    for q in generated_queries(seed, GENERATED) {
        if !corpus.contains(&q) {
            corpus.push(q);
        }
    }

    // (query, influxd's answer, Augur's answer), in corpus order.
    let next = Mutex::new(0usize);
    let answers: Mutex<Vec<Option<(Expected, Expected)>>> = Mutex::new(vec![None; corpus.len()]);
    std::thread::scope(|s| {
        for _ in 0..PARALLEL {
            s.spawn(|| loop {
                let i = {
                    let mut n = next.lock().expect("lock");
                    *n += 1;
                    *n - 1
                };
                let Some(q) = corpus.get(i) else { break };
                let a = answer(&theirs.query_db(q, DB));
                let b = answer(&ours.query_db(q, DB));
                answers.lock().expect("lock")[i] = Some((a, b));
            });
        }
    });
    let answers: Vec<(Expected, Expected)> =
        answers.into_inner().expect("lock").into_iter().map(|a| a.expect("every query ran")).collect();

    let known = known_differences();
    let mut identical = 0;
    let mut known_seen = BTreeSet::new();
    let mut unexpected = Vec::new();
    let mut broken = Vec::new();
    let mut report = Vec::new();
    for (q, (want, got)) in corpus.iter().zip(&answers) {
        if got.status >= 500 || matches!(got.body, serde_json::Value::String(_)) {
            broken.push(format!("{q}\n    augur: {}", describe(got)));
        }
        if want.status == got.status && json_match(&want.body, &got.body) {
            identical += 1;
            continue;
        }
        if known.contains_key(q) {
            known_seen.insert(q.clone());
            continue;
        }
        let at = if want.status == got.status {
            first_difference(&want.body, &got.body).unwrap_or_default()
        } else {
            format!("status {} vs {}", want.status, got.status)
        };
        unexpected.push(format!("{q}\n    at {at}\n    influxd: {}\n    augur:   {}", describe(want), describe(got)));
        report.push(serde_json::json!({"query": q, "at": at, "influxd": want.body, "augur": got.body}));
    }
    if let Some(path) = std::env::var_os("DIFFERENTIAL_REPORT") {
        let text: String = report.iter().map(|r| format!("{r}\n")).collect();
        std::fs::write(&path, text).unwrap_or_else(|e| panic!("cannot write DIFFERENTIAL_REPORT: {e}"));
    }
    let stale: Vec<&String> = known.keys().filter(|q| !known_seen.contains(*q)).collect();

    println!(
        "differential (seed {seed}, {} points, influxd {}): {} queries, {identical} identical, {} known differences, {} \
         unexpected differences",
        lines.len(),
        Influxd::version(),
        corpus.len(),
        known_seen.len(),
        unexpected.len()
    );
    if !unexpected.is_empty() {
        println!("unexpected differences:\n{}", unexpected.join("\n"));
    }
    assert!(broken.is_empty(), "Augur answered with a server error or non-JSON:\n{}", broken.join("\n"));
    assert!(corpus.len() >= 200, "the corpus has only {} queries", corpus.len());
    if strict {
        assert!(
            unexpected.is_empty(),
            "{} differences from InfluxDB are not listed in tests/differential/known_differences.txt:\n{}",
            unexpected.len(),
            unexpected.join("\n")
        );
        assert!(
            stale.is_empty(),
            "tests/differential/known_differences.txt lists queries that no longer differ (or are no longer in the \
             corpus); remove them:\n{}",
            stale.iter().map(|q| q.as_str()).collect::<Vec<_>>().join("\n")
        );
    }
}
