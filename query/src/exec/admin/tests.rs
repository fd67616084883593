//! The admin statements against a real store; every expected answer was
//! taken from a real `influxd` 1.6.7 given the same data.

use augur_engine::lineproto::parse;
use augur_engine::model::Precision;
use augur_engine::storage::Store;
use serde_json::{json, Value};

use crate::exec::{execute, ExecutionContext};
use crate::parse_query;

struct Db {
    store: Store,
    _dir: tempfile::TempDir,
}

const DATA: &str = "cpu,host=a,region=eu v=1,w=2i 1000000000
cpu,host=a,region=eu v=2 2000000000
cpu,host=b,region=us v=3 3000000000
mem,host=a free=10i 1000000000
mem,host=b free=20i 5000000000
disk,host=c used=1.5 1000000000
";

fn loaded() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("db").expect("create");
    store.create_database("empty").expect("create");
    let points = parse(DATA.as_bytes(), Precision::Nanoseconds).points;
    store.write("db", None, &points, 0).expect("write");
    Db { store, _dir: dir }
}

fn run_in(db: &Db, database: Option<&str>, q: &str) -> Value {
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    let ctx = ExecutionContext { database: database.map(str::to_string), ..ExecutionContext::default() };
    serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json")
}

fn run(db: &Db, q: &str) -> Value {
    run_in(db, Some("db"), q)
}

/// `{"results":[{"statement_id":0,"series":[...]}]}` with one count per measurement.
fn counts(pairs: &[(&str, u64)]) -> Value {
    let series: Vec<Value> =
        pairs.iter().map(|(m, n)| json!({"name": m, "columns": ["count"], "values": [[n]]})).collect();
    json!({"results":[{"statement_id":0,"series":series}]})
}

fn error(text: &str) -> Value {
    json!({"results":[{"statement_id":0,"error":text}]})
}

const NONE: &str = r#"{"results":[{"statement_id":0}]}"#;

fn none() -> Value {
    serde_json::from_str(NONE).expect("json")
}

#[test]
fn cardinality_matches_influxdb() {
    let db = loaded();
    assert_eq!(
        run(&db, "SHOW SERIES CARDINALITY"),
        json!({"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[5]]}]}]})
    );
    assert_eq!(run(&db, "SHOW SERIES EXACT CARDINALITY"), counts(&[("cpu", 2), ("disk", 1), ("mem", 2)]));
    assert_eq!(
        run(&db, "SHOW MEASUREMENT CARDINALITY"),
        json!({"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[3]]}]}]})
    );
    assert_eq!(
        run(&db, "SHOW MEASUREMENT EXACT CARDINALITY"),
        json!({"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[3]]}]}]})
    );
    assert_eq!(
        run(&db, "SHOW MEASUREMENT CARDINALITY WHERE host = 'a'"),
        json!({"results":[{"statement_id":0,"series":[{"columns":["count"],"values":[[2]]}]}]})
    );
    for q in ["SHOW TAG KEY CARDINALITY", "SHOW TAG KEY EXACT CARDINALITY", "SHOW FIELD KEY CARDINALITY"] {
        assert_eq!(run(&db, q), counts(&[("cpu", 2), ("disk", 1), ("mem", 1)]), "{q}");
    }
    assert_eq!(run(&db, "SHOW TAG VALUES CARDINALITY WITH KEY = host"), counts(&[("cpu", 2), ("disk", 1), ("mem", 2)]));
    assert_eq!(
        run(&db, "SHOW TAG VALUES CARDINALITY WITH KEY =~ /h|r/"),
        counts(&[("cpu", 4), ("disk", 1), ("mem", 2)])
    );
    assert_eq!(
        run(&db, "SHOW TAG VALUES CARDINALITY FROM cpu WITH KEY IN (host, region) WHERE region='eu'"),
        counts(&[("cpu", 2)])
    );
    assert_eq!(run(&db, "SHOW TAG KEY CARDINALITY WHERE host = 'b'"), counts(&[("cpu", 2), ("mem", 1)]));
    assert_eq!(run(&db, "SHOW SERIES CARDINALITY WHERE host='a'"), counts(&[("cpu", 1), ("mem", 1)]));
    assert_eq!(run(&db, "SHOW SERIES EXACT CARDINALITY FROM cpu WHERE host='a'"), counts(&[("cpu", 1)]));
    assert_eq!(run(&db, "SHOW FIELD KEY EXACT CARDINALITY FROM /m|c/"), counts(&[("cpu", 2), ("mem", 1)]));
    assert_eq!(run(&db, "SHOW TAG KEY EXACT CARDINALITY FROM /m/"), counts(&[("mem", 1)]));
    // Empty and unknown databases.
    for q in ["SHOW SERIES EXACT CARDINALITY", "SHOW MEASUREMENT EXACT CARDINALITY", "SHOW TAG KEY CARDINALITY"] {
        assert_eq!(run_in(&db, Some("empty"), q), none(), "{q}");
    }
    assert_eq!(
        run(&db, "SHOW SERIES CARDINALITY ON nope"),
        json!({"results":[{"statement_id":0,"series":[{"columns":["cardinality estimation"],"values":[[0]]}]}]})
    );
    assert_eq!(run(&db, "SHOW SERIES EXACT CARDINALITY ON nope"), error("database not found: nope"));
    assert_eq!(run_in(&db, None, "SHOW TAG KEY CARDINALITY"), error("database name required"));
}

#[test]
fn show_field_keys_with_regex_and_limits() {
    let db = loaded();
    assert_eq!(
        run(&db, "SHOW FIELD KEYS FROM /c/"),
        json!({"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["v","float"],["w","integer"]]}]}]})
    );
    assert_eq!(run(&db, "SHOW FIELD KEYS FROM /nomatch/"), none());
    assert_eq!(
        run(&db, "SHOW FIELD KEYS LIMIT 1 OFFSET 1"),
        json!({"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["fieldKey","fieldType"],"values":[["w","integer"]]}]}]})
    );
    let v = run(&db, "SHOW FIELD KEYS FROM /c/, mem LIMIT 1");
    assert_eq!(v["results"][0]["series"][1]["values"], json!([["free", "integer"]]));
    assert_eq!(run(&db, "SHOW FIELD KEYS FROM db./c/"), error("retention policy not found: db"));
}

#[test]
fn delete_and_drop_match_influxdb() {
    let db = loaded();
    assert_eq!(run(&db, "DELETE FROM cpu WHERE v > 1"), error("fields not supported in WHERE clause during deletion"));
    assert_eq!(run(&db, "DROP SERIES WHERE time > 1"), error("DROP SERIES doesn't support time in WHERE clause"));
    assert_eq!(run_in(&db, None, "DELETE FROM cpu"), error("database not found: "));
    assert_eq!(run_in(&db, None, "DROP MEASUREMENT cpu"), error("database not found: "));
    assert_eq!(run_in(&db, Some("nope"), "DROP SERIES FROM cpu"), error("database not found: nope"));
    assert_eq!(run(&db, "DELETE FROM cpu WHERE time > 1500000000 AND host = 'a'"), none());
    assert_eq!(run(&db, "DELETE FROM nope"), none());
    assert_eq!(run(&db, "DELETE FROM /c/ WHERE region = 'us'"), none());
    assert_eq!(
        run(&db, "SELECT * FROM cpu"),
        json!({"results":[{"statement_id":0,"series":[{"name":"cpu","columns":["time","host","region","v","w"],"values":[["1970-01-01T00:00:01Z","a","eu",1,2]]}]}]})
    );
    assert_eq!(
        run(&db, "SHOW SERIES")["results"][0]["series"][0]["values"],
        json!([["cpu,host=a,region=eu"], ["disk,host=c"], ["mem,host=a"], ["mem,host=b"]])
    );
    assert_eq!(
        run(&db, "DROP SERIES WHERE host = 'b'; DROP MEASUREMENT nope; DROP MEASUREMENT disk")["results"][2],
        json!({"statement_id":2})
    );
    assert_eq!(
        run(&db, "SHOW SERIES")["results"][0]["series"][0]["values"],
        json!([["cpu,host=a,region=eu"], ["mem,host=a"]])
    );
    assert_eq!(run(&db, "SHOW MEASUREMENTS")["results"][0]["series"][0]["values"], json!([["cpu"], ["mem"]]));
    assert_eq!(run(&db, "DELETE WHERE time < 1"), none());
    assert_eq!(run(&db, "DELETE WHERE time <= 1000000000"), none());
    assert_eq!(run(&db, "SHOW SERIES"), none());
}

#[test]
fn alter_and_drop_retention_policies_match_influxdb() {
    let db = loaded();
    let rps = |db: &Db| run(db, "SHOW RETENTION POLICIES")["results"][0]["series"][0]["values"].clone();
    assert_eq!(
        run(&db, "ALTER RETENTION POLICY autogen ON db DURATION 2h"),
        error("retention policy duration must be greater than the shard duration")
    );
    assert_eq!(
        run(&db, "ALTER RETENTION POLICY autogen ON db DURATION 30m"),
        error("retention policy duration must be at least 1h0m0s")
    );
    assert_eq!(run(&db, "ALTER RETENTION POLICY autogen ON db SHARD DURATION 3h"), none());
    assert_eq!(run(&db, "ALTER RETENTION POLICY autogen ON db REPLICATION 3 SHARD DURATION 30m"), none());
    assert_eq!(rps(&db), json!([["autogen", "0s", "1h0m0s", 3, true]]));
    assert_eq!(run(&db, "ALTER RETENTION POLICY nope ON db DURATION 2h"), error("retention policy not found: nope"));
    assert_eq!(run(&db, "ALTER RETENTION POLICY autogen ON nope DURATION 2h"), error("database not found: nope"));
    run(&db, "CREATE RETENTION POLICY r2 ON db DURATION 1d REPLICATION 1");
    assert_eq!(run(&db, "ALTER RETENTION POLICY r2 ON db DEFAULT"), none());
    assert_eq!(rps(&db), json!([["autogen", "0s", "1h0m0s", 3, false], ["r2", "24h0m0s", "1h0m0s", 1, true]]));
    assert_eq!(run(&db, "ALTER RETENTION POLICY r2 ON db DURATION INF SHARD DURATION 0s"), none());
    assert_eq!(rps(&db), json!([["autogen", "0s", "1h0m0s", 3, false], ["r2", "0s", "168h0m0s", 1, true]]));
    assert_eq!(
        run(&db, "DROP RETENTION POLICY r2 ON db; DROP RETENTION POLICY nope ON db; DROP RETENTION POLICY r ON nope")
            ["results"][2],
        json!({"statement_id":2})
    );
    assert_eq!(rps(&db), json!([["autogen", "0s", "1h0m0s", 3, false]]));
}

#[test]
fn writes_need_post_and_cancellation_stops_statements() {
    let db = loaded();
    let query = parse_query("DELETE FROM cpu; DROP SERIES FROM cpu").expect("parse");
    let ctx = ExecutionContext { database: Some("db".into()), read_only: true, ..ExecutionContext::default() };
    let v = serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json");
    assert_eq!(v["results"][0]["error"], json!("'DELETE FROM cpu' requires a POST request"));
    let ctx = ExecutionContext { database: Some("db".into()), ..ExecutionContext::default() };
    ctx.cancel.cancel();
    let query = parse_query("SHOW SERIES; SHOW DATABASES").expect("parse");
    let v = serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json");
    assert_eq!(v["results"][0]["error"], json!("query interrupted"));
    assert_eq!(v["results"][1]["error"], json!("not executed"));
}
