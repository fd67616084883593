//! Forecasting never blocks ingest or queries: with every worker of the
//! fit pool busy, writes and plain queries still succeed, a `forecast()`
//! query waits in the queue and stops at its deadline, and once the pool
//! is free the same forecast answers.
//!
//! Its own test binary because it sizes and saturates the process-wide
//! pool, which other tests in the same process would otherwise share.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use augur_engine::forecast::pool;
use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::{Store, StoreOptions};
use augur_query::exec::cancel::CancelToken;
use augur_query::{execute, parse_query, ExecutionContext};
use serde_json::Value;

const MIN: i64 = 60_000_000_000;

fn points(from: i64, to: i64) -> Vec<Point> {
    (from..to)
        .map(|i| Point {
            measurement: "load".into(),
            tags: vec![("host".into(), "a".into())],
            fields: vec![("v".into(), FieldValue::Float(50.0 + (i % 12) as f64))],
            timestamp: Some(i * MIN),
        })
        .collect()
}

fn query(store: &Store, q: &str, cancel: CancelToken) -> Value {
    let ctx = ExecutionContext {
        database: Some("d".into()),
        now: Some(300 * MIN),
        epoch: Some(MIN),
        cancel,
        ..Default::default()
    };
    let parsed = parse_query(q).expect("parses");
    serde_json::to_value(execute(store, &parsed, &ctx)).expect("json")["results"][0].clone()
}

#[test]
fn ingest_and_queries_proceed_while_the_fit_pool_is_saturated() {
    assert!(pool::configure_global(1), "this test sizes the pool first");
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    store.create_database("d").expect("create");
    store.write("d", None, &points(0, 240), 0).expect("write");

    // Occupy the only worker until released.
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (started_tx, started_rx) = mpsc::channel::<()>();
    let blocker = std::thread::spawn(move || {
        pool::global().run(
            move || {
                let _ = started_tx.send(());
                let _ = release_rx.recv();
            },
            &|| false,
        )
    });
    started_rx.recv().expect("the blocking fit started");
    assert_eq!(pool::global().stats().running, 1);

    // Ingest and plain queries are not queued behind fits.
    let outcome = store.write("d", None, &points(240, 300), 0).expect("write while saturated");
    assert_eq!(outcome.points_written, 60);
    let count = query(&store, "SELECT count(v) FROM load", CancelToken::default());
    assert_eq!(count["series"][0]["values"][0][1], Value::from(300), "{count}");

    // A forecast waits for a worker, and its deadline stops the wait.
    let forecast = "SELECT forecast(mean(v), 6, model => 'snaive') FROM load WHERE time < 300m GROUP BY time(1m)";
    let timed_out =
        query(&store, forecast, CancelToken::with_deadline(Some(Instant::now() + Duration::from_millis(200))));
    assert_eq!(timed_out["error"], "query-timeout limit exceeded", "{timed_out}");
    // A client that goes away stops it too.
    let gone = CancelToken::default();
    let canceller = gone.clone();
    let waiter = {
        let store = store.clone();
        std::thread::spawn(move || query(&store, forecast, gone))
    };
    let t = Instant::now();
    while pool::global().stats().queued == 0 && t.elapsed() < Duration::from_secs(30) {
        std::thread::yield_now();
    }
    canceller.cancel();
    assert_eq!(waiter.join().expect("joins")["error"], "query interrupted");

    // Free the worker: the forecast answers.
    release_tx.send(()).expect("release");
    assert_eq!(blocker.join().expect("joins"), Ok(()));
    let ok = query(&store, forecast, CancelToken::default());
    let rows = ok["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{ok}"));
    assert_eq!(rows.len(), 6);
    assert_eq!(rows[0][0], Value::from(300), "the first forecast follows the last bucket");
}
