//! `SELECT`, `SHOW SERIES` and `SHOW TAG ...` against a real store.
//!
//! The data set is the one below; every expected answer marked "influxd"
//! was produced by InfluxDB 1.6.7 on the same points.

use augur_engine::model::{FieldValue, Point};
use serde_json::{json, Value};

use super::*;
use crate::parse_query;

struct Db {
    store: Store,
    _dir: tempfile::TempDir,
}

const S: i64 = 1_000_000_000;

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
    ExecutionContext { database: Some("d".into()), now: Some(300 * S), ..ExecutionContext::default() }
}

fn run_with(db: &Db, q: &str, ctx: &ExecutionContext) -> Value {
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    serde_json::to_value(execute(&db.store, &query, ctx)).expect("json")
}

/// The first statement's result.
fn first(db: &Db, q: &str) -> Value {
    run_with(db, q, &ctx())["results"][0].clone()
}

fn series(db: &Db, q: &str) -> Value {
    let r = first(db, q);
    assert!(r.get("error").is_none(), "{q}: {r}");
    r["series"].clone()
}

#[test]
fn raw_star_and_field_order() {
    let db = sample();
    // influxd
    assert_eq!(
        series(&db, "SELECT * FROM cpu"),
        json!([{"name":"cpu","columns":["time","host","s","v","w"],"values":[
            ["1970-01-01T00:00:01Z","a",null,1,10],["1970-01-01T00:00:01Z","b",null,2,20],
            ["1970-01-01T00:01:01Z","a",null,3,null],["1970-01-01T00:03:20Z","b","x",5,null]]}])
    );
    // influxd: only measurements holding a selected field answer.
    assert_eq!(
        series(&db, "SELECT v FROM cpu,mem"),
        json!([{"name":"cpu","columns":["time","v"],"values":[
            ["1970-01-01T00:00:01Z",1],["1970-01-01T00:00:01Z",2],["1970-01-01T00:01:01Z",3],["1970-01-01T00:03:20Z",5]]}])
    );
    // influxd: a tag alone selects nothing.
    assert_eq!(first(&db, "SELECT host FROM cpu"), json!({"statement_id":0}));
    // influxd
    assert_eq!(
        series(&db, "SELECT v, host FROM cpu WHERE host = 'a'"),
        json!([{"name":"cpu","columns":["time","v","host"],"values":[
            ["1970-01-01T00:00:01Z",1,"a"],["1970-01-01T00:01:01Z",3,"a"]]}])
    );
}

#[test]
fn raw_arithmetic_where_limit_order() {
    let db = sample();
    // influxd
    assert_eq!(
        series(&db, "SELECT v+1, w FROM cpu"),
        json!([{"name":"cpu","columns":["time","v","w"],"values":[
            ["1970-01-01T00:00:01Z",2,10],["1970-01-01T00:00:01Z",3,20],
            ["1970-01-01T00:01:01Z",4,null],["1970-01-01T00:03:20Z",6,null]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT v / 2, w FROM cpu WHERE w > 10"),
        json!([{"name":"cpu","columns":["time","v","w"],"values":[["1970-01-01T00:00:01Z",1,20]]}])
    );
    // influxd: an unknown name is a null column; a missing tag compares as ''.
    assert_eq!(
        series(&db, "SELECT v, nope FROM cpu LIMIT 1"),
        json!([{"name":"cpu","columns":["time","v","nope"],"values":[["1970-01-01T00:00:01Z",1,null]]}])
    );
    assert_eq!(
        series(&db, "SELECT \"v\"::field, host::tag FROM cpu WHERE nope = '' LIMIT 1"),
        json!([{"name":"cpu","columns":["time","v","host"],"values":[["1970-01-01T00:00:01Z",1,"a"]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT v FROM cpu WHERE v > 1 AND host != 'b'"),
        json!([{"name":"cpu","columns":["time","v"],"values":[["1970-01-01T00:01:01Z",3]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT v FROM cpu ORDER BY time DESC LIMIT 2 OFFSET 1"),
        json!([{"name":"cpu","columns":["time","v"],"values":[["1970-01-01T00:01:01Z",3],["1970-01-01T00:00:01Z",2]]}])
    );
    assert_eq!(
        series(&db, "SELECT v FROM cpu WHERE host =~ /^b$/ AND time >= '1970-01-01T00:01:00Z'"),
        json!([{"name":"cpu","columns":["time","v"],"values":[["1970-01-01T00:03:20Z",5]]}])
    );
    assert_eq!(
        series(&db, "SELECT v FROM cpu WHERE time > now() - 250s AND time < 100000000000"),
        json!([{"name":"cpu","columns":["time","v"],"values":[["1970-01-01T00:01:01Z",3]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT v FROM /c.*/ LIMIT 1"),
        json!([{"name":"cpu","columns":["time","v"],"values":[["1970-01-01T00:00:01Z",1]]}])
    );
}

#[test]
fn raw_group_by_tags_and_slimit() {
    let db = sample();
    // influxd: grouped tags leave `*`.
    assert_eq!(
        series(&db, "SELECT * FROM cpu GROUP BY host"),
        json!([
            {"name":"cpu","tags":{"host":"a"},"columns":["time","s","v","w"],"values":[
                ["1970-01-01T00:00:01Z",null,1,10],["1970-01-01T00:01:01Z",null,3,null]]},
            {"name":"cpu","tags":{"host":"b"},"columns":["time","s","v","w"],"values":[
                ["1970-01-01T00:00:01Z",null,2,20],["1970-01-01T00:03:20Z","x",5,null]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT v FROM cpu GROUP BY host SLIMIT 1 SOFFSET 1"),
        json!([{"name":"cpu","tags":{"host":"b"},"columns":["time","v"],"values":[
            ["1970-01-01T00:00:01Z",2],["1970-01-01T00:03:20Z",5]]}])
    );
}

#[test]
fn epoch_formats_time_as_integers() {
    let db = sample();
    let ctx = ExecutionContext { epoch: Some(epoch_divisor("ms")), ..ctx() };
    // influxd (epoch=ms)
    assert_eq!(
        run_with(&db, "SELECT v FROM cpu WHERE time <= 61s", &ctx)["results"][0]["series"],
        json!([{"name":"cpu","columns":["time","v"],"values":[[1000,1],[1000,2],[61000,3]]}])
    );
    assert_eq!(epoch_divisor("h"), 3_600_000_000_000);
    // influxd: an unknown unit gives nanoseconds.
    assert_eq!(epoch_divisor("rfc3339"), 1);
    assert_eq!(epoch_divisor("bogus"), 1);
}

#[test]
fn aggregates_without_group_by_time() {
    let db = sample();
    // influxd: a lone selector reports its point's time; anything else the epoch.
    assert_eq!(
        series(&db, "SELECT max(v) FROM cpu"),
        json!([{"name":"cpu","columns":["time","max"],"values":[["1970-01-01T00:03:20Z",5]]}])
    );
    assert_eq!(
        series(&db, "SELECT max(v), min(v) FROM cpu"),
        json!([{"name":"cpu","columns":["time","max","min"],"values":[["1970-01-01T00:00:00Z",5,1]]}])
    );
    assert_eq!(
        series(&db, "SELECT mean(v) FROM cpu"),
        json!([{"name":"cpu","columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",2.75]]}])
    );
    assert_eq!(
        series(&db, "SELECT median(v), spread(w), stddev(v), mode(v), percentile(v,50) FROM cpu"),
        json!([{"name":"cpu","columns":["time","median","spread","stddev","mode","percentile"],
            "values":[["1970-01-01T00:00:00Z",2.5,10,1.707825127659933,1,2]]}])
    );
    assert_eq!(
        series(&db, "SELECT sum(w) FROM cpu GROUP BY host"),
        json!([
            {"name":"cpu","tags":{"host":"a"},"columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",10]]},
            {"name":"cpu","tags":{"host":"b"},"columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",20]]}])
    );
    assert_eq!(
        series(&db, "SELECT max(v) FROM cpu GROUP BY host"),
        json!([
            {"name":"cpu","tags":{"host":"a"},"columns":["time","max"],"values":[["1970-01-01T00:01:01Z",3]]},
            {"name":"cpu","tags":{"host":"b"},"columns":["time","max"],"values":[["1970-01-01T00:03:20Z",5]]}])
    );
    assert_eq!(
        series(&db, "SELECT max(v) FROM cpu WHERE time >= 30s"),
        json!([{"name":"cpu","columns":["time","max"],"values":[["1970-01-01T00:03:20Z",5]]}])
    );
    assert_eq!(
        series(&db, "SELECT distinct(v) FROM cpu"),
        json!([{"name":"cpu","columns":["time","distinct"],"values":[
            ["1970-01-01T00:00:00Z",1],["1970-01-01T00:00:00Z",2],["1970-01-01T00:00:00Z",3],["1970-01-01T00:00:00Z",5]]}])
    );
    assert_eq!(
        series(&db, "SELECT sum(v) FROM cpu GROUP BY *"),
        json!([
            {"name":"cpu","tags":{"host":"a"},"columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",4]]},
            {"name":"cpu","tags":{"host":"b"},"columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",7]]}])
    );
    // influxd: first() of points at the same time keeps the greater value.
    assert_eq!(
        series(&db, "SELECT count(s), last(s), first(v) AS f FROM cpu"),
        json!([{"name":"cpu","columns":["time","count","last","f"],"values":[["1970-01-01T00:00:00Z",1,"x",2]]}])
    );
    // influxd: a wildcard or regex argument expands to every field the function takes.
    assert_eq!(
        series(&db, "SELECT count(*) FROM cpu"),
        json!([{"name":"cpu","columns":["time","count_s","count_v","count_w"],"values":[["1970-01-01T00:00:00Z",1,4,2]]}])
    );
    assert_eq!(
        series(&db, "SELECT mean(*) FROM cpu"),
        json!([{"name":"cpu","columns":["time","mean_v","mean_w"],"values":[["1970-01-01T00:00:00Z",2.75,15]]}])
    );
    assert_eq!(series(&db, "SELECT mean(/^[vw]$/) FROM cpu"), series(&db, "SELECT mean(*) FROM cpu"));
    // influxd: functions see fields only, so a tag argument gives null.
    assert_eq!(
        series(&db, "SELECT count(distinct(host)), count(distinct(v)) FROM cpu"),
        json!([{"name":"cpu","columns":["time","count","count_1"],"values":[["1970-01-01T00:00:00Z",null,4]]}])
    );
    // influxd
    assert_eq!(series(&db, "SELECT DISTINCT v FROM cpu"), series(&db, "SELECT distinct(v) FROM cpu"));
    assert_eq!(
        series(&db, "SELECT mean(v), mean(v) FROM cpu"),
        json!([{"name":"cpu","columns":["time","mean","mean_1"],"values":[["1970-01-01T00:00:00Z",2.75,2.75]]}])
    );
}

#[test]
fn group_by_time_buckets_and_fill() {
    let db = sample();
    // influxd: count() of an empty bucket is 0 under fill(null).
    assert_eq!(
        series(&db, "SELECT count(v), mean(v) FROM cpu WHERE time < 200s GROUP BY time(1m)"),
        json!([{"name":"cpu","columns":["time","count","mean"],"values":[
            ["1970-01-01T00:00:00Z",2,1.5],["1970-01-01T00:01:00Z",1,3],
            ["1970-01-01T00:02:00Z",0,null],["1970-01-01T00:03:00Z",0,null]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT count(v) FROM cpu WHERE time <= 200s GROUP BY time(1m) fill(none)"),
        json!([{"name":"cpu","columns":["time","count"],"values":[
            ["1970-01-01T00:00:00Z",2],["1970-01-01T00:01:00Z",1],["1970-01-01T00:03:00Z",1]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT last(v) FROM cpu WHERE time >= 0s AND time < 300s GROUP BY time(2m) fill(previous)"),
        json!([{"name":"cpu","columns":["time","last"],"values":[
            ["1970-01-01T00:00:00Z",3],["1970-01-01T00:02:00Z",5],["1970-01-01T00:04:00Z",5]]}])
    );
    // influxd: no extrapolation past the last point.
    assert_eq!(
        series(&db, "SELECT mean(v) FROM cpu WHERE time >= 0s AND time < 300s GROUP BY time(1m) fill(linear)"),
        json!([{"name":"cpu","columns":["time","mean"],"values":[
            ["1970-01-01T00:00:00Z",1.5],["1970-01-01T00:01:00Z",3],["1970-01-01T00:02:00Z",4],
            ["1970-01-01T00:03:00Z",5],["1970-01-01T00:04:00Z",null]]}])
    );
    // influxd: buckets aligned to the offset, the first one starting before the range.
    assert_eq!(
        series(&db, "SELECT count(v) FROM cpu WHERE time >= 0s AND time < 180s GROUP BY time(1m, 30s)"),
        json!([{"name":"cpu","columns":["time","count"],"values":[
            ["1969-12-31T23:59:30Z",2],["1970-01-01T00:00:30Z",1],["1970-01-01T00:01:30Z",0],["1970-01-01T00:02:30Z",0]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT count(v) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(1m) fill(previous)"),
        json!([{"name":"cpu","columns":["time","count"],"values":[
            ["1970-01-01T00:00:00Z",2],["1970-01-01T00:01:00Z",1],["1970-01-01T00:02:00Z",1],["1970-01-01T00:03:00Z",1]]}])
    );
    // influxd: linear needs a later point.
    assert_eq!(
        series(&db, "SELECT mean(w) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(1m) fill(linear)"),
        json!([{"name":"cpu","columns":["time","mean"],"values":[
            ["1970-01-01T00:00:00Z",15],["1970-01-01T00:01:00Z",null],["1970-01-01T00:02:00Z",null],["1970-01-01T00:03:00Z",null]]}])
    );
    // influxd: with DESC, fill(previous) takes the later bucket.
    assert_eq!(
        series(&db, "SELECT last(v) FROM cpu WHERE time >= 0s AND time < 300s GROUP BY time(2m) fill(previous) ORDER BY time DESC"),
        json!([{"name":"cpu","columns":["time","last"],"values":[
            ["1970-01-01T00:04:00Z",null],["1970-01-01T00:02:00Z",5],["1970-01-01T00:00:00Z",3]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT mean(v) FROM cpu WHERE time >= 0s AND time < 240s GROUP BY time(1m) fill(previous)"),
        json!([{"name":"cpu","columns":["time","mean"],"values":[
            ["1970-01-01T00:00:00Z",1.5],["1970-01-01T00:01:00Z",3],["1970-01-01T00:02:00Z",3],["1970-01-01T00:03:00Z",5]]}])
    );
    // influxd
    assert_eq!(
        series(
            &db,
            "SELECT mean(v) * 2 + 1 AS x, count(v) FROM cpu WHERE time >= 0s AND time < 120s GROUP BY time(1m)"
        ),
        json!([{"name":"cpu","columns":["time","x","count"],"values":[["1970-01-01T00:00:00Z",4,2],["1970-01-01T00:01:00Z",7,1]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT mean(v) FROM cpu WHERE time >= 0s AND time < 240s GROUP BY time(1m) fill(none) ORDER BY time DESC LIMIT 2"),
        json!([{"name":"cpu","columns":["time","mean"],"values":[["1970-01-01T00:03:00Z",5],["1970-01-01T00:01:00Z",3]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT first(v), last(v) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(2m)"),
        json!([{"name":"cpu","columns":["time","first","last"],"values":[
            ["1970-01-01T00:00:00Z",2,3],["1970-01-01T00:02:00Z",5,5]]}])
    );
    assert_eq!(
        series(&db, "SELECT mean(v) FROM cpu WHERE time >= 0s AND time < 3m GROUP BY time(1m) fill(-1)"),
        json!([{"name":"cpu","columns":["time","mean"],"values":[
            ["1970-01-01T00:00:00Z",1.5],["1970-01-01T00:01:00Z",3],["1970-01-01T00:02:00Z",-1]]}])
    );
}

#[test]
fn top_bottom_and_integral() {
    let db = sample();
    // influxd: each point at its own time, listed in time order.
    assert_eq!(
        series(&db, "SELECT top(v, 2) FROM cpu"),
        json!([{"name":"cpu","columns":["time","top"],"values":[["1970-01-01T00:01:01Z",3],["1970-01-01T00:03:20Z",5]]}])
    );
    // influxd: tag arguments become columns.
    assert_eq!(
        series(&db, "SELECT bottom(v, host, 1) FROM cpu"),
        json!([{"name":"cpu","columns":["time","bottom","host"],"values":[["1970-01-01T00:00:01Z",1,"a"]]}])
    );
    // influxd: other fields and tags of the chosen point.
    assert_eq!(
        series(&db, "SELECT top(v, 1), host, w FROM cpu"),
        json!([{"name":"cpu","columns":["time","top","host","w"],"values":[["1970-01-01T00:03:20Z",5,"b",null]]}])
    );
    // influxd: buckets backwards, points in a bucket at their own times.
    assert_eq!(
        series(&db, "SELECT top(v, 1) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(2m) ORDER BY time DESC"),
        json!([{"name":"cpu","columns":["time","top"],"values":[["1970-01-01T00:03:20Z",5],["1970-01-01T00:01:01Z",3]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT integral(v) FROM cpu"),
        json!([{"name":"cpu","columns":["time","integral"],"values":[["1970-01-01T00:00:00Z",706]]}])
    );
    // influxd: areas split at bucket edges; empty buckets are never filled.
    let expected = json!([{"name":"cpu","columns":["time","integral"],"values":[
        ["1970-01-01T00:00:00Z",2.4501388888888886],["1970-01-01T00:01:00Z",3.417247202238209],
        ["1970-01-01T00:03:00Z",5.899280575539568]]}]);
    assert_eq!(
        series(&db, "SELECT integral(v, 1m) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(1m)"),
        expected
    );
    assert_eq!(
        series(&db, "SELECT integral(v, 1m) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(1m) fill(0)"),
        expected
    );
    // influxd
    assert_eq!(
        series(&db, "SELECT integral(v, 1m), count(v) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(1m)"),
        json!([{"name":"cpu","columns":["time","integral","count"],"values":[
            ["1970-01-01T00:00:00Z",2.4501388888888886,2],["1970-01-01T00:01:00Z",3.417247202238209,1],
            ["1970-01-01T00:02:00Z",null,0],["1970-01-01T00:03:00Z",5.899280575539568,1]]}])
    );
}

#[test]
fn group_by_time_and_tag() {
    let db = sample();
    // influxd
    assert_eq!(
        series(&db, "SELECT mean(v), max(w) FROM cpu WHERE time >= 0s AND time < 120s GROUP BY time(1m), host"),
        json!([
            {"name":"cpu","tags":{"host":"a"},"columns":["time","mean","max"],"values":[
                ["1970-01-01T00:00:00Z",1,10],["1970-01-01T00:01:00Z",3,null]]},
            {"name":"cpu","tags":{"host":"b"},"columns":["time","mean","max"],"values":[
                ["1970-01-01T00:00:00Z",2,20],["1970-01-01T00:01:00Z",null,null]]}])
    );
}

#[test]
fn unbounded_group_by_time_starts_at_data_and_ends_at_now() {
    let db = sample();
    // now() is 300s in these tests: buckets 0m..5m, from the first with data.
    let s = series(&db, "SELECT count(v) FROM cpu WHERE time >= 60s GROUP BY time(1m)");
    assert_eq!(s[0]["values"].as_array().map(Vec::len), Some(5));
    let s = series(&db, "SELECT count(v) FROM cpu GROUP BY time(1m)");
    assert_eq!(s[0]["values"][0], json!(["1970-01-01T00:00:00Z", 2]));
    assert_eq!(s[0]["values"][5], json!(["1970-01-01T00:05:00Z", 0]));
}

#[test]
fn deep_expressions_are_refused_not_overflowed() {
    let db = sample();
    let chain = vec!["host = 'a'"; 250].join(" OR ");
    let q = format!("SELECT v FROM cpu WHERE ({chain}) AND time > 0s");
    assert_eq!(series(&db, &q)[0]["values"].as_array().map(Vec::len), Some(2));
    let chain = vec!["v"; 300].join(" + ");
    let e = parse_query(&format!("SELECT {chain} FROM cpu")).map(|_| ()).map_err(|e| e.to_string());
    assert!(e.is_err_and(|e| e.starts_with("expression is nested too deeply")));
    let parens = format!("SELECT {}v{} FROM cpu", "(".repeat(5000), ")".repeat(5000));
    assert!(parse_query(&parens).is_err());
    let minus = format!("SELECT {}v FROM cpu", "-".repeat(5000));
    assert!(parse_query(&minus).is_err());
}

#[test]
fn limits_give_clear_errors() {
    let db = sample();
    let tight = ExecutionContext { max_select_points: 2, ..ctx() };
    assert_eq!(
        run_with(&db, "SELECT v FROM cpu", &tight)["results"][0]["error"],
        json!("max-select-point limit exceeed: (4/2)")
    );
    let tight = ExecutionContext { max_select_buckets: 3, ..ctx() };
    assert_eq!(
        run_with(&db, "SELECT count(v) FROM cpu GROUP BY time(1m)", &tight)["results"][0]["error"],
        json!("max-select-buckets limit exceeded: (6/3)")
    );
}

#[test]
fn duplicate_columns_are_named_as_influxdb_names_them() {
    let db = sample();
    // influxd: the alias keeps its name, the others get the free suffixes.
    assert_eq!(
        series(&db, "SELECT v, v, v AS v FROM cpu WHERE host = 'a' LIMIT 1"),
        json!([{"name":"cpu","columns":["time","v_1","v_2","v"],"values":[["1970-01-01T00:00:01Z",1,1,1]]}])
    );
    let names =
        |n: &[(&str, bool)]| crate::exec::select::unique_names(n.iter().map(|(s, a)| (s.to_string(), *a)).collect());
    assert_eq!(names(&[("mean", false), ("mean", false), ("mean_1", true)]), ["mean", "mean_2", "mean_1"]);
    assert_eq!(names(&[("v", false), ("v", false)]), ["v", "v_1"]);
}

#[test]
fn group_by_time_zero_is_one_bucket() {
    let db = sample();
    // influxd: time(0s) groups nothing by time.
    assert_eq!(
        series(&db, "SELECT count(v) FROM cpu WHERE time >= 0s AND time < 10m GROUP BY time(0s)"),
        json!([{"name":"cpu","columns":["time","count"],"values":[["1970-01-01T00:00:00Z",4]]}])
    );
}

#[test]
fn lone_selector_reads_tags_and_fields_at_its_point() {
    let db = sample();
    // influxd
    assert_eq!(
        series(&db, "SELECT max(v), host FROM cpu"),
        json!([{"name":"cpu","columns":["time","max","host"],"values":[["1970-01-01T00:03:20Z",5,"b"]]}])
    );
    assert_eq!(
        series(&db, "SELECT min(v), host, w FROM cpu"),
        json!([{"name":"cpu","columns":["time","min","host","w"],"values":[["1970-01-01T00:00:01Z",1,"a",10]]}])
    );
    assert_eq!(
        series(&db, "SELECT percentile(v, 50), host FROM cpu"),
        json!([{"name":"cpu","columns":["time","percentile","host"],"values":[["1970-01-01T00:00:01Z",2,"b"]]}])
    );
    let e = |q: &str| first(&db, q)["error"].clone();
    assert_eq!(
        e("SELECT mean(v), host FROM cpu"),
        json!("mixing aggregate and non-aggregate queries is not supported")
    );
    assert_eq!(
        e("SELECT max(v), min(v), host FROM cpu"),
        json!("mixing multiple selector functions with tags or fields is not supported")
    );
}

#[test]
fn empty_buckets_count_and_fill_like_influxdb() {
    let db = sample();
    let q = |fill: &str| {
        series(
            &db,
            &format!("SELECT count(w), max(v) FROM cpu WHERE time >= 0s AND time < 2m GROUP BY time(1m) {fill}"),
        )[0]["values"]
            .clone()
    };
    // influxd: fill(null) turns an empty count into 0; other fills leave it empty.
    assert_eq!(q(""), json!([["1970-01-01T00:00:00Z", 2, 2], ["1970-01-01T00:01:00Z", 0, 3]]));
    assert_eq!(q("fill(none)"), json!([["1970-01-01T00:00:00Z", 2, 2], ["1970-01-01T00:01:00Z", null, 3]]));
    assert_eq!(q("fill(linear)"), json!([["1970-01-01T00:00:00Z", 2, 2], ["1970-01-01T00:01:00Z", null, 3]]));
    // influxd: fill(<number>) takes each column's type.
    assert_eq!(
        series(
            &db,
            "SELECT count(v), last(s), mean(v) FROM cpu WHERE time >= 2m AND time < 4m GROUP BY time(1m) fill(-1.5)"
        )[0]["values"],
        json!([["1970-01-01T00:02:00Z", -1, "", -1.5], ["1970-01-01T00:03:00Z", 1, "x", 5]])
    );
    // influxd: percentile's rank 0 selects no point, so no row.
    assert_eq!(first(&db, "SELECT percentile(v, 0) FROM cpu"), json!({"statement_id":0}));
}

#[test]
fn boolean_first_prefers_false_and_last_true_at_equal_times() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let points = vec![
        point("m", "a", vec![("b", FieldValue::Boolean(true)), ("w", FieldValue::Integer(20))], S),
        point("m", "b", vec![("b", FieldValue::Boolean(false)), ("w", FieldValue::Integer(30))], S),
        point("n", "a", vec![("b", FieldValue::Boolean(false))], S),
        point("n", "b", vec![("b", FieldValue::Boolean(true))], S),
    ];
    store.write("d", None, &points, 0).expect("write");
    let db = Db { store, _dir: dir };
    // influxd, in either order of the series.
    let values = |q: &str| series(&db, q)[0]["values"].clone();
    assert_eq!(
        values("SELECT first(b), last(b), first(w), last(w) FROM m"),
        json!([["1970-01-01T00:00:00Z", false, true, 30, 30]])
    );
    assert_eq!(values("SELECT first(b), last(b) FROM n"), json!([["1970-01-01T00:00:00Z", false, true]]));
}

#[test]
fn slimit_counts_series_in_influxdb_tag_set_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let p = |tags: &[(&str, &str)], v: f64, t: i64| Point {
        measurement: "cpu".into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        fields: vec![("v".into(), FieldValue::Float(v))],
        timestamp: Some(t),
    };
    let points = vec![
        p(&[("host", "a"), ("region", "eu")], 1.0, S),
        p(&[("host", "b"), ("region", "us")], 2.0, S),
        p(&[("host", "c")], 3.0, S),
    ];
    store.write("d", None, &points, 0).expect("write");
    let db = Db { store, _dir: dir };
    let hosts = |q: &str| -> Vec<Value> {
        series(&db, q).as_array().expect("series").iter().map(|s| s["tags"]["host"].clone()).collect()
    };
    // influxd: c (no region) counts first, the kept series keep their order.
    assert_eq!(hosts("SELECT v FROM cpu GROUP BY * SLIMIT 1"), [json!("c")]);
    assert_eq!(hosts("SELECT v FROM cpu GROUP BY * SLIMIT 1 SOFFSET 1"), [json!("a")]);
    assert_eq!(hosts("SELECT v FROM cpu GROUP BY host, region SLIMIT 2"), [json!("a"), json!("c")]);
    assert_eq!(hosts("SELECT v FROM cpu GROUP BY host, region"), [json!("a"), json!("b"), json!("c")]);
}

#[test]
fn raw_star_over_measurements_and_null_expressions() {
    let db = sample();
    // influxd: every series gets the columns of all measurements.
    let all = series(&db, "SELECT * FROM cpu, mem");
    assert_eq!(all[0]["columns"], json!(["time", "host", "s", "used", "v", "w"]));
    assert_eq!(
        all[1],
        json!({"name":"mem","columns":["time","host","s","used","v","w"],"values":[
        ["1970-01-01T00:00:05Z","a",null,7,null,null]]})
    );
    // influxd: a row stays while a field it reads has a value.
    assert_eq!(
        series(&db, "SELECT v + w FROM cpu")[0]["values"],
        json!([
            ["1970-01-01T00:00:01Z", 11],
            ["1970-01-01T00:00:01Z", 22],
            ["1970-01-01T00:01:01Z", null],
            ["1970-01-01T00:03:20Z", null]
        ])
    );
    // influxd: no row where the cast field has no value of that type.
    assert_eq!(first(&db, "SELECT v::string FROM cpu"), json!({"statement_id":0}));
}

#[test]
fn integral_reports_at_time_zero_and_fills_only_rows_others_make() {
    let db = sample();
    // As influxd answers (group_by_time.test): integral() at time 0, the
    // others at the lower bound.
    assert_eq!(
        series(&db, "SELECT integral(v), max(v) FROM cpu WHERE host = 'a' AND time >= 1s")[0]["values"],
        json!([["1970-01-01T00:00:00Z", 120, null], ["1970-01-01T00:00:01Z", null, 3]])
    );
    assert_eq!(
        series(&db, "SELECT integral(v) FROM cpu WHERE host = 'a' AND time >= 1s")[0]["values"],
        json!([["1970-01-01T00:00:00Z", 120]])
    );
    // fill(100) fills integral() in the rows count() makes, makes none for it alone.
    let q = "FROM cpu WHERE host = 'a' AND time >= 0s AND time < 3m GROUP BY time(1m) fill(100)";
    assert_eq!(
        series(&db, &format!("SELECT integral(v), count(v) {q}"))[0]["values"],
        json!([
            ["1970-01-01T00:00:00Z", 117.01666666666667, 1],
            ["1970-01-01T00:01:00Z", 2.9833333333333334, 1],
            ["1970-01-01T00:02:00Z", 100, 100]
        ])
    );
    assert_eq!(
        series(&db, &format!("SELECT integral(v) {q}"))[0]["values"],
        json!([["1970-01-01T00:00:00Z", 117.01666666666667], ["1970-01-01T00:01:00Z", 2.9833333333333334]])
    );
}

#[test]
fn select_errors() {
    let db = sample();
    let e = |q: &str| first(&db, q)["error"].clone();
    assert_eq!(e("SELECT mean(v), v FROM cpu"), json!("mixing aggregate and non-aggregate queries is not supported"));
    assert_eq!(e("SELECT mean(s) FROM cpu"), json!("unsupported mean iterator type: string"));
    assert_eq!(e("SELECT nope(v) FROM cpu"), json!("undefined function nope()"));
    assert_eq!(
        e("SELECT exponential_moving_average(v, 2) FROM cpu"),
        json!("function exponential_moving_average() is not supported yet")
    );
    // influxd
    assert_eq!(e("SELECT top(v, 0) FROM cpu"), json!("limit (0) in top function must be at least 1"));
    assert_eq!(e("SELECT top(v) FROM cpu"), json!("invalid number of arguments for top, expected at least 2, got 1"));
    assert_eq!(
        e("SELECT top(v, 2), mean(v) FROM cpu"),
        json!("selector function top() cannot be combined with other functions")
    );
    assert_eq!(
        e("SELECT bottom(v, 3) FROM cpu LIMIT 2"),
        json!("limit (3) in bottom function can not be larger than the LIMIT (2) in the select statement")
    );
    assert_eq!(e("SELECT top(s, 1) FROM cpu"), json!("unsupported top iterator type: string"));
    assert_eq!(e("SELECT v FROM cpu GROUP BY time(1m)"), json!("GROUP BY requires at least one aggregate function"));
    assert_eq!(
        e("SELECT mean(v) FROM cpu WHERE time < 1m GROUP BY time(1m), time(2m)"),
        json!("multiple time dimensions not allowed")
    );
    assert_eq!(e("SELECT mean(v, 2) FROM cpu"), json!("invalid number of arguments for mean, expected 1, got 2"));
    assert_eq!(
        e("SELECT v FROM cpu WHERE time > 1s OR v = 1"),
        json!("invalid time condition: time comparisons must be joined by AND")
    );
    assert_eq!(e("SELECT v FROM cpu WHERE time > 'yesterday'"), json!("invalid timestamp string: yesterday"));
    assert_eq!(e("SELECT v FROM nope.cpu"), json!("retention policy not found: nope"));
    assert_eq!(first(&db, "SELECT v FROM nothing"), json!({"statement_id":0}));
    let none = ExecutionContext { database: None, ..ctx() };
    assert_eq!(run_with(&db, "SELECT v FROM cpu", &none)["results"][0]["error"], json!("database name required"));
}

#[test]
fn show_measurements_filters() {
    let db = sample();
    let names = |q: &str| series(&db, q).get(0).map(|s| s["values"].clone()).unwrap_or(Value::Null);
    // influxd, every one.
    assert_eq!(names("SHOW MEASUREMENTS WITH MEASUREMENT =~ /c/"), json!([["cpu"]]));
    assert_eq!(names("SHOW MEASUREMENTS LIMIT 1 OFFSET 1"), json!([["mem"]]));
    assert_eq!(names("SHOW MEASUREMENTS WHERE host = 'b'"), json!([["cpu"]]));
    assert_eq!(names("SHOW MEASUREMENTS WITH MEASUREMENT = mem"), json!([["mem"]]));
    assert_eq!(first(&db, "SHOW MEASUREMENTS WITH MEASUREMENT = nope"), json!({"statement_id":0}));
}

#[test]
fn show_series_and_tags() {
    let db = sample();
    // influxd
    assert_eq!(
        series(&db, "SHOW SERIES"),
        json!([{"columns":["key"],"values":[["cpu,host=a"],["cpu,host=b"],["mem,host=a"]]}])
    );
    assert_eq!(
        series(&db, "SHOW SERIES WHERE host = 'a'"),
        json!([{"columns":["key"],"values":[["cpu,host=a"],["mem,host=a"]]}])
    );
    assert_eq!(
        series(&db, "SHOW SERIES FROM cpu LIMIT 1 OFFSET 1"),
        json!([{"columns":["key"],"values":[["cpu,host=b"]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SHOW TAG KEYS"),
        json!([{"name":"cpu","columns":["tagKey"],"values":[["host"]]},{"name":"mem","columns":["tagKey"],"values":[["host"]]}])
    );
    // influxd
    assert_eq!(
        series(&db, "SHOW TAG VALUES WITH KEY = host"),
        json!([
            {"name":"cpu","columns":["key","value"],"values":[["host","a"],["host","b"]]},
            {"name":"mem","columns":["key","value"],"values":[["host","a"]]}])
    );
    assert_eq!(series(&db, "SHOW TAG VALUES WITH KEY IN (host)"), series(&db, "SHOW TAG VALUES WITH KEY = host"));
    assert_eq!(
        series(&db, "SHOW TAG VALUES FROM cpu WITH KEY =~ /h/ WHERE host != 'a'"),
        json!([{"name":"cpu","columns":["key","value"],"values":[["host","b"]]}])
    );
    assert_eq!(first(&db, "SHOW TAG VALUES WITH KEY = nope"), json!({"statement_id":0}));
    assert_eq!(first(&db, "SHOW SERIES ON nope"), json!({"statement_id":0,"error":"database not found: nope"}));
}

mod never_panics {
    use proptest::prelude::*;

    use super::*;

    const WORDS: &[&str] = &[
        "SELECT",
        "FROM",
        "WHERE",
        "GROUP BY",
        "fill(linear)",
        "fill(previous)",
        "fill(none)",
        "fill(0)",
        "ORDER BY time DESC",
        "LIMIT 1",
        "OFFSET 1",
        "SLIMIT 1",
        "SOFFSET 1",
        "cpu",
        "mem",
        "/c.*/",
        "v",
        "w",
        "s",
        "host",
        "*",
        "mean(v)",
        "count(*)",
        "max(w)",
        "top(v, 2)",
        "bottom(v, host, 1)",
        "integral(v)",
        "percentile(v, 99)",
        "distinct(v)",
        "mode(s)",
        "stddev(v)",
        "time(1m)",
        "time(1ns)",
        "time(1m, 30s)",
        ",",
        "(",
        ")",
        "+",
        "-",
        "*",
        "/",
        "=",
        "!=",
        "<",
        ">=",
        "=~",
        "AND",
        "OR",
        "time",
        "now()",
        "'1970-01-01T00:00:00Z'",
        "1h",
        "0",
        "-1",
        "1.5",
        "'a'",
        "/a/",
        "AS",
        "x",
        "::tag",
        "::field",
        "=>",
        "tz('UTC')",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn random_selects_neither_panic_nor_hang(picks in proptest::collection::vec(0..WORDS.len(), 1..14)) {
            let db = sample();
            let mut q = String::from("SELECT ");
            for i in picks {
                q.push_str(WORDS[i]);
                q.push(' ');
            }
            if let Ok(query) = parse_query(&q) {
                let ctx = ExecutionContext { max_select_buckets: 10_000, ..ctx() };
                let _ = execute(&db.store, &query, &ctx);
            }
        }
    }

    const FIELDS: &[&str] = &[
        "v",
        "*",
        "v, host",
        "w * 2 + v",
        "mean(v)",
        "count(*)",
        "max(w), min(v)",
        "top(v, 2), host",
        "bottom(v, host, 1)",
        "integral(v, 1s)",
        "percentile(v, 50)",
        "distinct(s)",
        "mode(v)",
        "stddev(w)",
        "spread(v)",
        "sum(w) / 0",
        "first(s)",
        "last(v) * -1",
        "median(v)",
        "mean(*)",
        "nope",
        "mean(nope)",
        "v / 0",
    ];
    const WHERES: &[&str] = &[
        "",
        "WHERE host = 'a'",
        "WHERE time > 0s AND time < 2m",
        "WHERE v > 1 OR host =~ /b/",
        "WHERE time >= now() - 1h",
        "WHERE s = 'x'",
        "WHERE time > 10m",
        "WHERE nope != ''",
    ];
    const GROUPS: &[&str] =
        &["", "GROUP BY host", "GROUP BY time(1m)", "GROUP BY time(7s, 3s), *", "GROUP BY /h/", "GROUP BY time(1h)"];
    const TAILS: &[&str] = &[
        "",
        "fill(none)",
        "fill(previous)",
        "fill(linear)",
        "fill(-2)",
        "ORDER BY time DESC",
        "LIMIT 2 OFFSET 1",
        "SLIMIT 1",
    ];

    proptest! {
        #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]
        #[test]
        fn structured_selects_run(f in 0..FIELDS.len(), w in 0..WHERES.len(), g in 0..GROUPS.len(), t in 0..TAILS.len()) {
            let db = sample();
            let q = format!("SELECT {} FROM cpu, mem {} {} {}", FIELDS[f], WHERES[w], GROUPS[g], TAILS[t]);
            let query = parse_query(&q).map_err(|e| TestCaseError::fail(format!("{q}: {e}")))?;
            let _ = execute(&db.store, &query, &ctx());
        }
    }
}
