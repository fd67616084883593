//! `SELECT ... INTO` against a real store. Every expected answer was
//! produced by InfluxDB 1.6.7 on the same points.

use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::Store;
use serde_json::{json, Value};

use crate::exec::{execute, ExecutionContext};
use crate::parse_query;

const S: i64 = 1_000_000_000;

struct Db {
    store: Store,
    _dir: tempfile::TempDir,
}

fn point(m: &str, host: &str, fields: Vec<(&str, FieldValue)>, t: i64) -> Point {
    Point {
        measurement: m.into(),
        tags: vec![("host".into(), host.into())],
        fields: fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        timestamp: Some(t),
    }
}

/// cpu,host=a v=1,w=10i 1s · cpu,host=b v=2,w=20i 1s · cpu,host=a v=3 61s ·
/// cpu,host=b v=5,s="x" 200s · mem,host=a used=7i 5s
fn sample() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let points = vec![
        point("cpu", "a", vec![("v", FieldValue::Float(1.0)), ("w", FieldValue::Integer(10))], S),
        point("cpu", "b", vec![("v", FieldValue::Float(2.0)), ("w", FieldValue::Integer(20))], S),
        point("cpu", "a", vec![("v", FieldValue::Float(3.0))], 61 * S),
        point("cpu", "b", vec![("v", FieldValue::Float(5.0)), ("s", FieldValue::String("x".into()))], 200 * S),
        point("mem", "a", vec![("used", FieldValue::Integer(7))], 5 * S),
    ];
    let outcome = store.write("d", None, &points, 0).expect("write");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    Db { store, _dir: dir }
}

fn ctx() -> ExecutionContext {
    ExecutionContext { database: Some("d".into()), now: Some(300 * S), epoch: Some(S), ..Default::default() }
}

fn run_with(db: &Db, q: &str, ctx: &ExecutionContext) -> Value {
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    serde_json::to_value(execute(&db.store, &query, ctx)).expect("json")["results"][0].clone()
}

fn run(db: &Db, q: &str) -> Value {
    run_with(db, q, &ctx())
}

/// Runs an `INTO` and returns its `written` count.
fn written(db: &Db, q: &str) -> i64 {
    let r = run(db, q);
    assert_eq!(r["series"][0]["name"], "result", "{q}: {r}");
    assert_eq!(r["series"][0]["columns"], json!(["time", "written"]), "{q}: {r}");
    assert_eq!(r["series"][0]["values"][0][0], 0, "{q}: {r}");
    r["series"][0]["values"][0][1].as_i64().unwrap_or_else(|| panic!("{q}: {r}"))
}

#[test]
fn raw_into_turns_tags_into_fields() {
    let db = sample();
    assert_eq!(written(&db, "SELECT * INTO out1 FROM cpu"), 4);
    // Two points at 1s in one series (host is a field now): the later wins.
    assert_eq!(
        run(&db, "SELECT * FROM out1")["series"][0]["values"],
        json!([[1, "b", null, 2, 20], [61, "a", null, 3, null], [200, "b", "x", 5, null]])
    );
    assert_eq!(run(&db, "SHOW TAG KEYS FROM out1"), json!({"statement_id": 0}));
    assert_eq!(
        run(&db, "SHOW FIELD KEYS FROM out1")["series"][0]["values"],
        json!([["host", "string"], ["s", "string"], ["v", "float"], ["w", "integer"]])
    );
}

#[test]
fn group_by_tags_keeps_them_tags() {
    let db = sample();
    assert_eq!(written(&db, "SELECT v INTO out4 FROM cpu GROUP BY *"), 4);
    let r = run(&db, "SELECT * FROM out4 GROUP BY *");
    assert_eq!(r["series"][0]["tags"], json!({"host": "a"}));
    assert_eq!(r["series"][0]["values"], json!([[1, 1], [61, 3]]));
    assert_eq!(r["series"][1]["tags"], json!({"host": "b"}));
    assert_eq!(r["series"][1]["values"], json!([[1, 2], [200, 5]]));
    assert_eq!(
        written(&db, "SELECT mean(v) INTO out3 FROM cpu WHERE time >= 0 AND time < 300s GROUP BY time(1m), host"),
        4
    );
    let r = run(&db, "SELECT * FROM out3 GROUP BY *");
    assert_eq!(r["series"][0]["values"], json!([[0, 1], [60, 3]]));
    assert_eq!(r["series"][1]["values"], json!([[0, 2], [180, 5]]));
}

#[test]
fn aggregates_keep_float_type_and_skip_empty_buckets() {
    let db = sample();
    assert_eq!(written(&db, "SELECT mean(v) INTO out2 FROM cpu WHERE time >= 0 AND time < 300s GROUP BY time(1m)"), 3);
    assert_eq!(run(&db, "SELECT * FROM out2")["series"][0]["values"], json!([[0, 1.5], [60, 3], [180, 5]]));
    // 3 and 5 are integral means but stay floats.
    assert_eq!(run(&db, "SHOW FIELD KEYS FROM out2")["series"][0]["values"], json!([["mean", "float"]]));
    // count() shows 0 for an empty bucket but writes nothing for it...
    assert_eq!(written(&db, "SELECT count(v) INTO out9 FROM cpu WHERE time >= 0 AND time < 300s GROUP BY time(1m)"), 3);
    assert_eq!(run(&db, "SELECT * FROM out9")["series"][0]["values"], json!([[0, 2], [60, 1], [180, 1]]));
    // ... unless FILL asks for a value.
    assert_eq!(
        written(&db, "SELECT mean(v) INTO out7 FROM cpu WHERE time >= 0 AND time < 300s GROUP BY time(1m) fill(0)"),
        5
    );
    assert_eq!(written(&db, "SELECT mean(v) INTO out5 FROM cpu"), 1);
    assert_eq!(run(&db, "SELECT * FROM out5")["series"][0]["values"], json!([[0, 2.75]]));
    assert_eq!(written(&db, "SELECT mean(v) INTO out6 FROM cpu WHERE time > 1000s"), 0);
}

#[test]
fn measurement_back_reference_and_qualified_targets() {
    let db = sample();
    db.store.create_database("d2").expect("create");
    assert_eq!(written(&db, "SELECT * INTO d2.autogen.:MEASUREMENT FROM /cpu|mem/"), 5);
    let other = ExecutionContext { database: Some("d2".into()), ..ctx() };
    assert_eq!(run_with(&db, "SHOW MEASUREMENTS", &other)["series"][0]["values"], json!([["cpu"], ["mem"]]));
    assert_eq!(run_with(&db, "SELECT used FROM mem", &other)["series"][0]["values"], json!([[5, 7]]));
    assert_eq!(written(&db, "SELECT used INTO d2..\"x y\" FROM mem"), 1);
    assert_eq!(run_with(&db, "SELECT used FROM \"x y\"", &other)["series"][0]["values"], json!([[5, 7]]));
}

#[test]
fn errors() {
    let db = sample();
    assert_eq!(run(&db, "SELECT v INTO nodb.autogen.x FROM cpu")["error"], "database not found: nodb");
    assert_eq!(run(&db, "SELECT v INTO d.norp.x FROM cpu")["error"], "retention policy not found: norp");
    let get = ExecutionContext { read_only: true, ..ctx() };
    assert_eq!(
        run_with(&db, "SELECT v INTO x FROM cpu", &get)["error"],
        "'SELECT v INTO x FROM cpu' requires a POST request"
    );
    // A type conflict with the target: nothing half-hidden, an error.
    assert_eq!(written(&db, "SELECT s AS v INTO out FROM cpu"), 1);
    let r = run(&db, "SELECT v INTO out FROM cpu");
    assert!(r["error"].as_str().is_some_and(|e| e.starts_with("partial write: field type conflict")), "{r}");
}

#[test]
fn time_is_rfc3339_without_epoch() {
    let db = sample();
    let plain = ExecutionContext { epoch: None, ..ctx() };
    assert_eq!(
        run_with(&db, "SELECT v INTO x FROM cpu", &plain)["series"],
        json!([{"name": "result", "columns": ["time", "written"], "values": [["1970-01-01T00:00:00Z", 4]]}])
    );
}
