//! The two-thread batch reader of [`super::read_rows`] and the two-worker
//! group fold of [`super::fold_groups`] against a real store:
//! a query over many series (many batches) answers exactly as one read by
//! a single thread would, stops at the point budget, and stops when
//! cancelled.

use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::Store;
use serde_json::{json, Value};

use crate::exec::cancel::CancelToken;
use crate::exec::{execute, ExecutionContext};
use crate::parse_query;

const S: i64 = 1_000_000_000;
const HOSTS: i64 = 100;
const POINTS: i64 = 10;

/// `HOSTS` series of `POINTS` points each: host h<i> has v = i at seconds 0..POINTS.
fn many_series() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let points: Vec<Point> = (0..HOSTS)
        .flat_map(|h| {
            (0..POINTS).map(move |t| Point {
                measurement: "cpu".into(),
                tags: vec![("host".into(), format!("h{h:03}"))],
                fields: vec![("v".into(), FieldValue::Float(h as f64))],
                timestamp: Some(t * S),
            })
        })
        .collect();
    store.write("d", None, &points, 0).expect("write");
    (dir, store)
}

fn run(store: &Store, q: &str, ctx: &ExecutionContext) -> Value {
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    serde_json::to_value(execute(store, &query, ctx)).expect("json")["results"][0].clone()
}

fn ctx() -> ExecutionContext {
    // The two-thread reader and fold start at once (not after 300 µs), so
    // that this small data exercises them.
    super::PARALLEL_AFTER_US.store(0, std::sync::atomic::Ordering::Relaxed);
    ExecutionContext { database: Some("d".into()), now: Some(3600 * S), ..ExecutionContext::default() }
}

#[test]
fn many_batches_answer_as_one() {
    let (_dir, store) = many_series();
    assert_eq!(super::batch_size(HOSTS as usize), 12, "the test needs several batches");
    let total: i64 = (0..HOSTS).map(|h| h * POINTS).sum();
    let r = run(&store, "SELECT count(v), sum(v), max(v) FROM cpu", &ctx());
    assert_eq!(r["series"][0]["values"][0], json!(["1970-01-01T00:00:00Z", HOSTS * POINTS, total, HOSTS - 1]));
    // Raw rows come back merged by time, then by series, as with one batch.
    let r = run(&store, "SELECT v FROM cpu WHERE time < 1s", &ctx());
    let values: Vec<f64> =
        r["series"][0]["values"].as_array().expect("rows").iter().map(|row| row[1].as_f64().expect("v")).collect();
    assert_eq!(values, (0..HOSTS).map(|h| h as f64).collect::<Vec<_>>());
}

#[test]
fn the_point_budget_and_cancellation_stop_the_reader() {
    let (_dir, store) = many_series();
    let tight = ExecutionContext { max_select_points: 250, ..ctx() };
    let r = run(&store, "SELECT count(v) FROM cpu", &tight);
    assert!(r["error"].as_str().is_some_and(|e| e.starts_with("max-select-point limit exceeed")), "{r}");
    let cancel = CancelToken::default();
    cancel.cancel();
    let cancelled = ExecutionContext { cancel, ..ctx() };
    assert_eq!(run(&store, "SELECT count(v) FROM cpu", &cancelled)["error"], "query interrupted");
}

#[test]
fn groups_folded_on_two_threads_come_back_in_order() {
    let (_dir, store) = many_series();
    let r = run(&store, "SELECT count(v), max(v) FROM cpu GROUP BY host", &ctx());
    let series = r["series"].as_array().expect("series");
    assert_eq!(series.len(), HOSTS as usize);
    for (h, s) in series.iter().enumerate() {
        assert_eq!(s["tags"]["host"], format!("h{h:03}"));
        assert_eq!(s["values"][0], json!(["1970-01-01T00:00:00Z", POINTS, h]));
    }
    // The shared point budget stops the workers.
    let tight = ExecutionContext { max_select_points: 505, ..ctx() };
    let r = run(&store, "SELECT count(v) FROM cpu GROUP BY host", &tight);
    assert!(r["error"].as_str().is_some_and(|e| e.starts_with("max-select-point limit exceeed")), "{r}");
}

#[test]
fn limit_skips_rows_without_changing_the_page() {
    let (_dir, store) = many_series();
    // Every host has a point at every second: ties everywhere. The page of
    // a LIMIT must be the same slice as the full answer's.
    for (order, limit, offset) in [("", 3, 2), ("ORDER BY time DESC", 3, 2), ("ORDER BY time DESC", 150, 0), ("", 1, 0)]
    {
        let full = run(&store, &format!("SELECT v FROM cpu {order}"), &ctx());
        let paged = run(&store, &format!("SELECT v FROM cpu {order} LIMIT {limit} OFFSET {offset}"), &ctx());
        let all = full["series"][0]["values"].as_array().expect("rows").clone();
        let expected: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
        assert_eq!(paged["series"][0]["values"], json!(expected), "{order} LIMIT {limit} OFFSET {offset}");
    }
    // lastpoint: the newest row of every host (under DESC, InfluxDB lists
    // the groups in descending order too).
    let r = run(&store, "SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 1", &ctx());
    let series = r["series"].as_array().expect("series");
    assert_eq!(series.len(), HOSTS as usize);
    for (i, s) in series.iter().enumerate() {
        let h = HOSTS as usize - 1 - i;
        assert_eq!(s["tags"]["host"], format!("h{h:03}"));
        assert_eq!(s["values"], json!([[format!("1970-01-01T00:00:{:02}Z", POINTS - 1), h]]));
    }
}

#[test]
fn newest_first_reads_answer_as_full_reads() {
    let (_dir, store) = many_series();
    // Part of the data sealed into blocks, later points (and an overwrite)
    // in the head, so that both sources take part.
    store.flush().expect("flush");
    let later: Vec<Point> = (0..HOSTS)
        .flat_map(|h| {
            (POINTS - 2..POINTS + 3).map(move |t| Point {
                measurement: "cpu".into(),
                tags: vec![("host".into(), format!("h{h:03}"))],
                fields: vec![("v".into(), FieldValue::Float((h * 10 + t) as f64))],
                timestamp: Some(t * S),
            })
        })
        .collect();
    store.write("d", None, &later, 0).expect("write");
    // `WHERE v >= 0` holds on every row but makes the executor read whole
    // series (a per-row condition): the answers must be the same.
    for (newest, full) in [
        (
            "SELECT * FROM cpu GROUP BY host ORDER BY time DESC LIMIT 3 OFFSET 1",
            "SELECT * FROM cpu WHERE v >= 0 GROUP BY host ORDER BY time DESC LIMIT 3 OFFSET 1",
        ),
        ("SELECT v FROM cpu ORDER BY time DESC LIMIT 7", "SELECT v FROM cpu WHERE v >= 0 ORDER BY time DESC LIMIT 7"),
        (
            "SELECT v FROM cpu WHERE time < 5s ORDER BY time DESC LIMIT 2",
            "SELECT v FROM cpu WHERE time < 5s AND v >= 0 ORDER BY time DESC LIMIT 2",
        ),
    ] {
        let (a, b) = (run(&store, newest, &ctx()), run(&store, full, &ctx()));
        assert!(a["series"].as_array().is_some_and(|s| !s.is_empty()), "{newest}: {a}");
        assert_eq!(a, b, "{newest}");
    }
}
