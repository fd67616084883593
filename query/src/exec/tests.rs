//! Executor tests against a real store in a temporary directory.

use augur_engine::model::{FieldValue, Point};
use serde_json::{json, Value};

use super::*;
use crate::parse_query;

struct Db {
    store: Store,
    _dir: tempfile::TempDir,
}

fn store() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    Db { store, _dir: dir }
}

/// Runs `q` (as a POST unless `read_only`) and returns the JSON results.
fn run_as(db: &Db, q: &str, database: Option<&str>, read_only: bool) -> Value {
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let ctx = ExecutionContext { database: database.map(str::to_string), read_only, ..ExecutionContext::default() };
    serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json")
}

fn run(db: &Db, q: &str) -> Value {
    run_as(db, q, None, false)
}

fn point(measurement: &str, field: &str, value: FieldValue) -> Point {
    Point {
        measurement: measurement.into(),
        tags: vec![("host".into(), "a".into())],
        fields: vec![(field.into(), value)],
        timestamp: Some(1_000_000_000),
    }
}

const OK: fn(usize) -> Value = |id| json!({ "statement_id": id });

#[test]
fn databases_lifecycle() {
    let db = store();
    assert_eq!(
        run(&db, "SHOW DATABASES"),
        json!({"results":[{"statement_id":0,"series":[{"name":"databases","columns":["name"]}]}]})
    );
    assert_eq!(
        run(&db, "CREATE DATABASE b; CREATE DATABASE IF NOT EXISTS a; CREATE DATABASE a"),
        json!({"results":[OK(0), OK(1), OK(2)]})
    );
    // influxd: in creation order.
    assert_eq!(run(&db, "SHOW DATABASES")["results"][0]["series"][0]["values"], json!([["b"], ["a"]]));
    assert_eq!(run(&db, "DROP DATABASE a; DROP DATABASE never"), json!({"results":[OK(0), OK(1)]}));
    assert_eq!(run(&db, "SHOW DATABASES")["results"][0]["series"][0]["values"], json!([["b"]]));
}

#[test]
fn get_requests_cannot_change_state() {
    let db = store();
    assert_eq!(
        run_as(&db, "SHOW DATABASES; CREATE DATABASE x", None, true),
        json!({"results":[
            {"statement_id":0,"series":[{"name":"databases","columns":["name"]}]},
            {"statement_id":1,"error":"'CREATE DATABASE x' requires a POST request"}
        ]})
    );
    assert!(!db.store.database_exists("x"));
}

#[test]
fn retention_policies() {
    let db = store();
    run(&db, "CREATE DATABASE d");
    assert_eq!(
        run(
            &db,
            "CREATE RETENTION POLICY week ON d DURATION 7d REPLICATION 1 DEFAULT; \
             CREATE RETENTION POLICY short ON d DURATION 30m REPLICATION 1; \
             SHOW RETENTION POLICIES"
        ),
        json!({"results":[
            OK(0),
            {"statement_id":1,"error":"retention policy duration must be at least 1h0m0s"},
            {"statement_id":2,"error":"not executed"}
        ]})
    );
    let shown = run_as(&db, "SHOW RETENTION POLICIES", Some("d"), true);
    assert_eq!(
        shown,
        json!({"results":[{"statement_id":0,"series":[{
            "columns":["name","duration","shardGroupDuration","replicaN","default"],
            "values":[["autogen","0s","168h0m0s",1,false],["week","168h0m0s","24h0m0s",1,true]]
        }]}]})
    );
    assert_eq!(
        run(&db, "SHOW RETENTION POLICIES"),
        json!({"results":[{"statement_id":0,"error":"database name required"}]})
    );
    assert_eq!(
        run(&db, "SHOW RETENTION POLICIES ON nope"),
        json!({"results":[{"statement_id":0,"error":"database not found: nope"}]})
    );
    assert_eq!(
        run(&db, "CREATE RETENTION POLICY r ON nope DURATION 1d REPLICATION 1"),
        json!({"results":[{"statement_id":0,"error":"database not found: nope"}]})
    );
}

#[test]
fn create_database_with_a_named_policy() {
    let db = store();
    assert_eq!(run(&db, "CREATE DATABASE d WITH DURATION 3d SHARD DURATION 2h NAME three"), json!({"results":[OK(0)]}));
    let values = run_as(&db, "SHOW RETENTION POLICIES ON d", None, true)["results"][0]["series"][0]["values"].clone();
    assert!(values.as_array().is_some_and(|v| v.contains(&json!(["three", "72h0m0s", "2h0m0s", 1, true]))), "{values}");
    // Asking again with the same policy is fine; with another is a conflict.
    assert_eq!(run(&db, "CREATE DATABASE d WITH DURATION 3d SHARD DURATION 2h NAME three"), json!({"results":[OK(0)]}));
    assert_eq!(
        run(&db, "CREATE DATABASE d WITH DURATION 4d NAME three"),
        json!({"results":[{"statement_id":0,"error":"retention policy conflicts with an existing policy"}]})
    );
}

#[test]
fn create_database_with_unnamed_policy_sets_autogen_duration() {
    let db = store();
    assert_eq!(run(&db, "CREATE DATABASE d WITH DURATION 1d"), json!({"results":[OK(0)]}));
    let values = run_as(&db, "SHOW RETENTION POLICIES ON d", None, true)["results"][0]["series"][0]["values"].clone();
    assert_eq!(values, json!([["autogen", "24h0m0s", "1h0m0s", 1, true]]));
}

#[test]
fn measurements_and_field_keys_span_policies() {
    let db = store();
    run(&db, "CREATE DATABASE d; CREATE RETENTION POLICY other ON d DURATION 30d REPLICATION 1");
    let written = db.store.write("d", None, &[point("cpu", "usage", FieldValue::Float(1.0))], 0).expect("write");
    assert_eq!(written.points_written, 1);
    db.store.write("d", Some("other"), &[point("mem", "used", FieldValue::Integer(1))], 0).expect("write other");

    assert_eq!(
        run(&db, "SHOW MEASUREMENTS ON d"),
        json!({"results":[{"statement_id":0,"series":[{"name":"measurements","columns":["name"],"values":[["cpu"],["mem"]]}]}]})
    );
    assert_eq!(run(&db, "SHOW MEASUREMENTS ON nope"), json!({"results":[OK(0)]}));
    assert_eq!(
        run_as(&db, "SHOW FIELD KEYS", Some("d"), true),
        json!({"results":[{"statement_id":0,"series":[
            {"name":"cpu","columns":["fieldKey","fieldType"],"values":[["usage","float"]]},
            {"name":"mem","columns":["fieldKey","fieldType"],"values":[["used","integer"]]}
        ]}]})
    );
    assert_eq!(
        run(&db, "SHOW FIELD KEYS ON d FROM other.mem, cpu"),
        json!({"results":[{"statement_id":0,"series":[
            {"name":"cpu","columns":["fieldKey","fieldType"],"values":[["usage","float"]]},
            {"name":"mem","columns":["fieldKey","fieldType"],"values":[["used","integer"]]}
        ]}]})
    );
    assert_eq!(run(&db, "SHOW FIELD KEYS ON d FROM nope"), json!({"results":[OK(0)]}));
    assert_eq!(
        run(&db, "SHOW FIELD KEYS ON d FROM nope.cpu"),
        json!({"results":[{"statement_id":0,"error":"retention policy not found: nope"}]})
    );
    assert_eq!(
        run(&db, "SHOW FIELD KEYS ON nope"),
        json!({"results":[{"statement_id":0,"error":"database not found: nope"}]})
    );
}

#[test]
fn unsupported_statements_fail_alone_in_order() {
    let db = store();
    assert_eq!(
        run(&db, "SHOW DATABASES; SHOW SHARDS; SHOW DATABASES"),
        json!({"results":[
            {"statement_id":0,"series":[{"name":"databases","columns":["name"]}]},
            {"statement_id":1,"error":"statement not supported yet: SHOW SHARDS"},
            {"statement_id":2,"error":"not executed"}
        ]})
    );
}
