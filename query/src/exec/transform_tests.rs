//! Transformations, math functions, casts and `sample()` against a real
//! store. Every expected answer was produced by InfluxDB 1.6.7 (`influxd`)
//! on the same points.

use augur_engine::model::{FieldValue, Point};
use serde_json::{json, Value};

use super::*;
use crate::parse_query;

pub(crate) struct Db {
    pub store: Store,
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

/// cpu (the data of docs/query-language.md) and
/// x,host=a v=1,4,2,10,7,12 i=1,3,8,2,5,9 at 0,30,60,180,190,300 s;
/// x,host=b v=3,1,6 i=3,1,6 at 10,70,250 s;
/// typ,host=a f=1.7,n=-3i,b=true,s="12" 1s and f=-2.5,n=4i,b=false,s="x" 2s.
pub(crate) fn data() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let f = FieldValue::Float;
    let i = FieldValue::Integer;
    let mut points = vec![
        point("cpu", "a", vec![("v", f(1.0)), ("w", i(10))], S),
        point("cpu", "b", vec![("v", f(2.0)), ("w", i(20))], S),
        point("cpu", "a", vec![("v", f(3.0))], 61 * S),
        point("cpu", "b", vec![("v", f(5.0)), ("s", FieldValue::String("x".into()))], 200 * S),
    ];
    let a = [(0, 1.0, 1), (30, 4.0, 3), (60, 2.0, 8), (180, 10.0, 2), (190, 7.0, 5), (300, 12.0, 9)];
    let b = [(10, 3.0, 3), (70, 1.0, 1), (250, 6.0, 6)];
    for (host, rows) in [("a", &a[..]), ("b", &b[..])] {
        for &(t, v, n) in rows {
            points.push(point("x", host, vec![("v", f(v)), ("i", i(n))], t * S));
        }
    }
    let typed = [(1, 1.7, -3, true, "12"), (2, -2.5, 4, false, "x")];
    for (t, fv, n, b, st) in typed {
        let fields =
            vec![("f", f(fv)), ("n", i(n)), ("b", FieldValue::Boolean(b)), ("s", FieldValue::String(st.into()))];
        points.push(point("typ", "a", fields, t * S));
    }
    let outcome = store.write("d", None, &points, 0).expect("write");
    assert!(outcome.rejected.is_empty(), "{:?}", outcome.rejected);
    Db { store, _dir: dir }
}

pub(crate) fn ctx() -> ExecutionContext {
    ExecutionContext { database: Some("d".into()), now: Some(400 * S), ..ExecutionContext::default() }
}

/// The first statement's result.
pub(crate) fn first(db: &Db, q: &str) -> Value {
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    serde_json::to_value(execute(&db.store, &query, &ctx())).expect("json")["results"][0].clone()
}

pub(crate) fn series(db: &Db, q: &str) -> Value {
    let r = first(db, q);
    assert!(r.get("error").is_none(), "{q}: {r}");
    r["series"].clone()
}

/// Whether two JSON documents are equal, floats up to a relative 1e-15
/// (Go's math functions and Rust's libm can differ in the last digit).
pub(crate) fn close(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y || (x - y).abs() <= 1e-15 * x.abs().max(y.abs()),
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| close(a, b)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| close(v, w)))
        }
        _ => a == b,
    }
}

pub(crate) fn error(db: &Db, q: &str) -> String {
    let r = first(db, q);
    r["error"].as_str().unwrap_or_else(|| panic!("{q}: expected an error, got {r}")).to_string()
}

#[test]
fn raw_transforms_join_series_in_time_order() {
    let db = data();
    assert_eq!(
        series(&db, "SELECT derivative(v) FROM cpu"),
        json!([{"name":"cpu","columns":["time","derivative"],"values":[
            ["1970-01-01T00:01:01Z",0.03333333333333333],["1970-01-01T00:03:20Z",0.014388489208633094]]}])
    );
    assert_eq!(
        series(&db, "SELECT derivative(v) FROM cpu GROUP BY host"),
        json!([{"name":"cpu","tags":{"host":"a"},"columns":["time","derivative"],"values":[["1970-01-01T00:01:01Z",0.03333333333333333]]},
               {"name":"cpu","tags":{"host":"b"},"columns":["time","derivative"],"values":[["1970-01-01T00:03:20Z",0.01507537688442211]]}])
    );
    // Several transformations are zipped by time, one point per call and row.
    assert_eq!(
        series(&db, "SELECT derivative(v, 1m), difference(v), non_negative_difference(v), elapsed(v), cumulative_sum(v), moving_average(v,2) FROM cpu"),
        json!([{"name":"cpu","columns":["time","derivative","difference","non_negative_difference","elapsed","cumulative_sum","moving_average"],"values":[
            ["1970-01-01T00:00:01Z",null,null,null,0,1,1.5],["1970-01-01T00:00:01Z",null,null,null,null,3,null],
            ["1970-01-01T00:01:01Z",2,2,2,60000000000i64,6,2.5],["1970-01-01T00:03:20Z",0.8633093525179856,2,2,139000000000i64,11,4]]}])
    );
    assert_eq!(
        series(&db, "SELECT derivative(i, 10s), non_negative_derivative(i), difference(i), non_negative_difference(i), cumulative_sum(i), moving_average(i, 3), elapsed(i, 1s) FROM x WHERE host = 'a'"),
        json!([{"name":"x","columns":["time","derivative","non_negative_derivative","difference","non_negative_difference","cumulative_sum","moving_average","elapsed"],"values":[
            ["1970-01-01T00:00:00Z",null,null,null,null,1,null,null],
            ["1970-01-01T00:00:30Z",0.6666666666666666,0.06666666666666667,2,2,4,null,30],
            ["1970-01-01T00:01:00Z",1.6666666666666667,0.16666666666666666,5,5,12,4,30],
            ["1970-01-01T00:03:00Z",-0.5,null,-6,null,14,4.333333333333333,120],
            ["1970-01-01T00:03:10Z",3,0.3,3,3,19,5,10],
            ["1970-01-01T00:05:00Z",0.36363636363636365,0.03636363636363636,4,4,28,5.333333333333333,110]]}])
    );
    assert_eq!(
        series(&db, "SELECT difference(v) * 2 FROM cpu"),
        json!([{"name":"cpu","columns":["time","difference"],"values":[["1970-01-01T00:01:01Z",4],["1970-01-01T00:03:20Z",4]]}])
    );
}

#[test]
fn raw_transforms_run_in_output_order() {
    let db = data();
    assert_eq!(
        series(&db, "SELECT elapsed(v, 1m) FROM x WHERE host = 'b'"),
        json!([{"name":"x","columns":["time","elapsed"],"values":[["1970-01-01T00:01:10Z",1],["1970-01-01T00:04:10Z",3]]}])
    );
    assert_eq!(
        series(&db, "SELECT derivative(v) AS d FROM x WHERE host = 'a' AND v > 2"),
        json!([{"name":"x","columns":["time","d"],"values":[
            ["1970-01-01T00:03:00Z",0.04],["1970-01-01T00:03:10Z",-0.3],["1970-01-01T00:05:00Z",0.045454545454545456]]}])
    );
    assert_eq!(
        series(&db, "SELECT difference(i) FROM x GROUP BY host ORDER BY time DESC"),
        json!([{"name":"x","tags":{"host":"b"},"columns":["time","difference"],"values":[["1970-01-01T00:01:10Z",-5],["1970-01-01T00:00:10Z",2]]},
               {"name":"x","tags":{"host":"a"},"columns":["time","difference"],"values":[
                   ["1970-01-01T00:03:10Z",-4],["1970-01-01T00:03:00Z",-3],["1970-01-01T00:01:00Z",6],["1970-01-01T00:00:30Z",-5],["1970-01-01T00:00:00Z",-2]]}])
    );
    assert_eq!(
        series(&db, "SELECT derivative(i) FROM x WHERE host='a' ORDER BY time DESC LIMIT 2"),
        json!([{"name":"x","columns":["time","derivative"],"values":[["1970-01-01T00:03:10Z",-0.03636363636363636],["1970-01-01T00:03:00Z",-0.3]]}])
    );
    // One point in range: nothing to differentiate.
    assert_eq!(first(&db, "SELECT derivative(v) FROM cpu WHERE time > 100s"), json!({"statement_id":0}));
}

#[test]
fn transforms_over_aggregates_read_one_interval_more() {
    let db = data();
    let q = |s: &str| series(&db, s);
    assert_eq!(
        q("SELECT derivative(mean(v), 1m) FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m)"),
        json!([{"name":"x","columns":["time","derivative"],"values":[
            ["1970-01-01T00:01:00Z",-1.1666666666666665],["1970-01-01T00:03:00Z",3.5],["1970-01-01T00:04:00Z",-2.5],["1970-01-01T00:05:00Z",6]]}])
    );
    // fill(0) fills the extra bucket before the range too.
    assert_eq!(
        q("SELECT derivative(mean(v), 1m) FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m) fill(0)"),
        json!([{"name":"x","columns":["time","derivative"],"values":[
            ["1970-01-01T00:00:00Z",2.6666666666666665],["1970-01-01T00:01:00Z",-1.1666666666666665],["1970-01-01T00:02:00Z",-1.5],
            ["1970-01-01T00:03:00Z",8.5],["1970-01-01T00:04:00Z",-2.5],["1970-01-01T00:05:00Z",6]]}])
    );
    assert_eq!(
        q("SELECT derivative(mean(v), 1m) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m)"),
        json!([{"name":"x","columns":["time","derivative"],"values":[
            ["1970-01-01T00:01:00Z",-1.1666666666666665],["1970-01-01T00:03:00Z",3.5],["1970-01-01T00:04:00Z",-2.5],["1970-01-01T00:05:00Z",6]]}])
    );
    // Next to a plain aggregate every bucket is a row; the unit defaults to the interval.
    assert_eq!(
        q("SELECT mean(v), derivative(mean(v)) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m)"),
        json!([{"name":"x","columns":["time","mean","derivative"],"values":[
            ["1970-01-01T00:01:00Z",1.5,-1.1666666666666665],["1970-01-01T00:02:00Z",null,null],["1970-01-01T00:03:00Z",8.5,3.5],
            ["1970-01-01T00:04:00Z",6,-2.5],["1970-01-01T00:05:00Z",12,6]]}])
    );
    assert_eq!(
        q("SELECT mean(v), difference(mean(v)), cumulative_sum(mean(v)), moving_average(mean(v),2), elapsed(mean(v)) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m), host"),
        json!([{"name":"x","tags":{"host":"a"},"columns":["time","mean","difference","cumulative_sum","moving_average","elapsed"],"values":[
            ["1970-01-01T00:01:00Z",2,-0.5,2,2.25,60000000000i64],["1970-01-01T00:02:00Z",null,null,null,null,null],
            ["1970-01-01T00:03:00Z",8.5,6.5,10.5,5.25,120000000000i64],["1970-01-01T00:04:00Z",null,null,null,null,null],
            ["1970-01-01T00:05:00Z",12,3.5,22.5,10.25,120000000000i64]]},
        {"name":"x","tags":{"host":"b"},"columns":["time","mean","difference","cumulative_sum","moving_average","elapsed"],"values":[
            ["1970-01-01T00:01:00Z",1,-2,1,2,60000000000i64],["1970-01-01T00:02:00Z",null,null,null,null,null],
            ["1970-01-01T00:03:00Z",null,null,null,null,null],["1970-01-01T00:04:00Z",6,5,7,3.5,180000000000i64],
            ["1970-01-01T00:05:00Z",null,null,null,null,null]]}])
    );
    assert_eq!(
        q("SELECT mean(v), difference(mean(v)), cumulative_sum(mean(v)), moving_average(mean(v),2) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m), host fill(previous)"),
        json!([{"name":"x","tags":{"host":"a"},"columns":["time","mean","difference","cumulative_sum","moving_average"],"values":[
            ["1970-01-01T00:01:00Z",2,-0.5,2,2.25],["1970-01-01T00:02:00Z",2,0,4,2],["1970-01-01T00:03:00Z",8.5,6.5,12.5,5.25],
            ["1970-01-01T00:04:00Z",8.5,0,21,8.5],["1970-01-01T00:05:00Z",12,3.5,33,10.25]]},
        {"name":"x","tags":{"host":"b"},"columns":["time","mean","difference","cumulative_sum","moving_average"],"values":[
            ["1970-01-01T00:01:00Z",1,-2,1,2],["1970-01-01T00:02:00Z",1,0,2,1],["1970-01-01T00:03:00Z",1,0,3,1],
            ["1970-01-01T00:04:00Z",6,5,9,3.5],["1970-01-01T00:05:00Z",6,0,15,6]]}])
    );
    // cumulative_sum does not read the extra interval.
    assert_eq!(
        q("SELECT cumulative_sum(mean(v)) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m) fill(0)"),
        json!([{"name":"x","columns":["time","cumulative_sum"],"values":[
            ["1970-01-01T00:01:00Z",1.5],["1970-01-01T00:02:00Z",1.5],["1970-01-01T00:03:00Z",10],["1970-01-01T00:04:00Z",16],["1970-01-01T00:05:00Z",28]]}])
    );
    assert_eq!(
        q("SELECT difference(mean(v)) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m) fill(0)"),
        json!([{"name":"x","columns":["time","difference"],"values":[
            ["1970-01-01T00:01:00Z",-1.1666666666666665],["1970-01-01T00:02:00Z",-1.5],["1970-01-01T00:03:00Z",8.5],["1970-01-01T00:04:00Z",-2.5],["1970-01-01T00:05:00Z",6]]}])
    );
    // Descending: the extra interval is after the end.
    assert_eq!(
        q("SELECT derivative(mean(v)) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m) fill(0) ORDER BY time DESC"),
        json!([{"name":"x","columns":["time","derivative"],"values":[
            ["1970-01-01T00:05:00Z",12],["1970-01-01T00:04:00Z",-6],["1970-01-01T00:03:00Z",2.5],["1970-01-01T00:02:00Z",-8.5],["1970-01-01T00:01:00Z",1.5]]}])
    );
    // The extra interval is read from one interval before the bound, even
    // when that is inside the first bucket (a@0s counts for the 1m derivative).
    assert_eq!(
        q("SELECT derivative(mean(v)) FROM x WHERE time > 1s AND time < 6m GROUP BY time(1m)"),
        json!([{"name":"x","columns":["time","derivative"],"values":[
            ["1970-01-01T00:01:00Z",-1.1666666666666665],["1970-01-01T00:03:00Z",3.5],["1970-01-01T00:04:00Z",-2.5],["1970-01-01T00:05:00Z",6]]}])
    );
    // No lower bound: InfluxDB answers nothing (ascending), any transformation.
    assert_eq!(
        first(&db, "SELECT mean(v), derivative(mean(v)) FROM x WHERE time < 6m GROUP BY time(1m)"),
        json!({"statement_id":0})
    );
    assert_eq!(
        first(&db, "SELECT cumulative_sum(mean(v)) FROM x WHERE time < 6m GROUP BY time(1m)"),
        json!({"statement_id":0})
    );
    assert_eq!(
        q("SELECT derivative(mean(v)) FROM x WHERE time < 6m GROUP BY time(1m) ORDER BY time DESC"),
        json!([{"name":"x","columns":["time","derivative"],"values":[
            ["1970-01-01T00:04:00Z",-6],["1970-01-01T00:03:00Z",2.5],["1970-01-01T00:01:00Z",-3.5],["1970-01-01T00:00:00Z",1.1666666666666665]]}])
    );
    assert_eq!(
        q("SELECT derivative(mean(v)) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m) LIMIT 2 OFFSET 1"),
        json!([{"name":"x","columns":["time","derivative"],"values":[["1970-01-01T00:03:00Z",3.5],["1970-01-01T00:04:00Z",-2.5]]}])
    );
    assert_eq!(
        q("SELECT non_negative_derivative(max(i), 1s) FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m), host"),
        json!([{"name":"x","tags":{"host":"a"},"columns":["time","non_negative_derivative"],"values":[
            ["1970-01-01T00:01:00Z",0.08333333333333333],["1970-01-01T00:05:00Z",0.03333333333333333]]},
            {"name":"x","tags":{"host":"b"},"columns":["time","non_negative_derivative"],"values":[["1970-01-01T00:04:00Z",0.027777777777777776]]}])
    );
    assert_eq!(
        q("SELECT cumulative_sum(count(v)) FROM x WHERE time >= 0s AND time < 6m GROUP BY time(2m)"),
        json!([{"name":"x","columns":["time","cumulative_sum"],"values":[
            ["1970-01-01T00:00:00Z",5],["1970-01-01T00:02:00Z",7],["1970-01-01T00:04:00Z",9]]}])
    );
    assert_eq!(
        q("SELECT difference(max(v)) FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m) fill(none)"),
        json!([{"name":"x","columns":["time","difference"],"values":[
            ["1970-01-01T00:01:00Z",-2],["1970-01-01T00:03:00Z",8],["1970-01-01T00:04:00Z",-4],["1970-01-01T00:05:00Z",6]]}])
    );
    // docs/query-language.md
    assert_eq!(
        q("SELECT mean(v), difference(mean(v)) FROM cpu WHERE time >= 60s AND time < 4m GROUP BY time(1m)"),
        json!([{"name":"cpu","columns":["time","mean","difference"],"values":[
            ["1970-01-01T00:01:00Z",3,1.5],["1970-01-01T00:02:00Z",null,null],["1970-01-01T00:03:00Z",5,2]]}])
    );
    assert_eq!(
        q("SELECT derivative(max(v)) FROM cpu WHERE time >= 0s AND time < 4m GROUP BY time(1m) fill(linear)"),
        json!([{"name":"cpu","columns":["time","derivative"],"values":[
            ["1970-01-01T00:01:00Z",1],["1970-01-01T00:02:00Z",1],["1970-01-01T00:03:00Z",1]]}])
    );
}

#[test]
fn transform_errors_read_like_influxdb() {
    let db = data();
    assert_eq!(error(&db, "SELECT derivative(mean(v)) FROM x"), "derivative aggregate requires a GROUP BY interval");
    assert_eq!(
        error(&db, "SELECT derivative(v) FROM x GROUP BY time(1m)"),
        "aggregate function required inside the call to derivative"
    );
    assert_eq!(
        error(&db, "SELECT derivative(v), v FROM x"),
        "mixing aggregate and non-aggregate queries is not supported"
    );
    assert_eq!(
        error(&db, "SELECT moving_average(mean(v),1) FROM x WHERE time >= 60s AND time < 6m GROUP BY time(1m)"),
        "moving_average window must be greater than 1, got 1"
    );
    assert_eq!(
        error(&db, "SELECT elapsed(v, 1m, 2) FROM cpu"),
        "invalid number of arguments for elapsed, expected at least 1 but no more than 2, got 3"
    );
    // InfluxDB names its Go iterator type here (*query.stringInterruptIterator).
    assert_eq!(error(&db, "SELECT derivative(s) FROM cpu"), "unsupported derivative iterator type: string");
    assert_eq!(
        error(&db, "SELECT exponential_moving_average(mean(v), 2) FROM cpu GROUP BY time(1m)"),
        "function exponential_moving_average() is not supported yet"
    );
}

fn assert_close(got: Value, want: Value) {
    assert!(close(&got, &want), "got  {got}\nwant {want}");
}

#[test]
#[allow(clippy::approx_constant)] // the digits influxd printed
fn math_functions_on_fields_and_aggregates() {
    let db = data();
    assert_eq!(
        series(&db, "SELECT abs(v), w FROM cpu"),
        json!([{"name":"cpu","columns":["time","abs","w"],"values":[
            ["1970-01-01T00:00:01Z",1,10],["1970-01-01T00:00:01Z",2,20],["1970-01-01T00:01:01Z",3,null],["1970-01-01T00:03:20Z",5,null]]}])
    );
    assert_close(
        series(&db, "SELECT abs(v), round(v), sin(v), pow(v, 2), atan2(v, 2), log(v, 2), ceil(w) FROM cpu"),
        json!([{"name":"cpu","columns":["time","abs","round","sin","pow","atan2","log","ceil"],"values":[
            ["1970-01-01T00:00:01Z",1,1,0.8414709848078965,1,0.4636476090008061,0,10],
            ["1970-01-01T00:00:01Z",2,2,0.9092974268256816,4,0.7853981633974483,1,20],
            ["1970-01-01T00:01:01Z",3,3,0.1411200080598672,9,0.982793723247329,1.584962500721156,null],
            ["1970-01-01T00:03:20Z",5,5,-0.9589242746631385,25,1.1902899496825317,2.321928094887362,null]]}]),
    );
    assert_close(
        series(&db, "SELECT abs(v) + 1, sqrt(i), exp(i), ln(i), log2(i), log10(i), floor(v/3), acos(i), asin(v), tan(v), cos(v), atan(v) FROM x WHERE host='a' LIMIT 2"),
        json!([{"name":"x","columns":["time","abs","sqrt","exp","ln","log2","log10","floor","acos","asin","tan","cos","atan"],"values":[
            ["1970-01-01T00:00:00Z",2,1,2.718281828459045,0,0,0,0,0,1.5707963267948966,1.557407724654902,0.5403023058681398,0.7853981633974483],
            ["1970-01-01T00:00:30Z",5,1.7320508075688772,20.085536923187668,1.0986122886681096,1.5849625007211563,0.4771212547196624,1,null,null,1.1578212823495775,-0.6536436208636119,1.3258176636680323]]}])
    );
    assert_eq!(
        series(&db, "SELECT round(mean(v)) FROM x WHERE time >= 0s AND time < 3m GROUP BY time(1m)"),
        json!([{"name":"x","columns":["time","round"],"values":[
            ["1970-01-01T00:00:00Z",3],["1970-01-01T00:01:00Z",2],["1970-01-01T00:02:00Z",null]]}])
    );
    // A lone selector keeps its point's time, also inside math and arithmetic.
    assert_eq!(
        series(&db, "SELECT round(max(v)) FROM x"),
        json!([{"name":"x","columns":["time","round"],"values":[["1970-01-01T00:05:00Z",12]]}])
    );
    assert_eq!(
        series(&db, "SELECT max(v) + 1 FROM x"),
        json!([{"name":"x","columns":["time","max"],"values":[["1970-01-01T00:05:00Z",13]]}])
    );
    assert_eq!(
        series(&db, "SELECT abs(max(v)) FROM x GROUP BY host"),
        json!([{"name":"x","tags":{"host":"a"},"columns":["time","abs"],"values":[["1970-01-01T00:05:00Z",12]]},
               {"name":"x","tags":{"host":"b"},"columns":["time","abs"],"values":[["1970-01-01T00:04:10Z",6]]}])
    );
    assert_eq!(
        series(&db, "SELECT mean(v) + 1, round(mean(v) * 10) FROM x GROUP BY host"),
        json!([{"name":"x","tags":{"host":"a"},"columns":["time","mean","round"],"values":[["1970-01-01T00:00:00Z",7,60]]},
               {"name":"x","tags":{"host":"b"},"columns":["time","mean","round"],"values":[["1970-01-01T00:00:00Z",4.333333333333334,33]]}])
    );
    assert_eq!(error(&db, "SELECT mean(abs(v)) FROM x"), "expected field argument in mean()");
    assert_eq!(error(&db, "SELECT pow(v) FROM cpu"), "invalid number of arguments for pow, expected 2, got 1");
    assert_eq!(error(&db, "SELECT log(v) FROM cpu"), "invalid number of arguments for log, expected 2, got 1");
}

#[test]
fn casts_convert_numbers_and_null_the_rest() {
    let db = data();
    assert_eq!(
        series(&db, "SELECT f::integer, n::float, f::float, n::integer, b::integer, s::float, s::integer, b::boolean, s::string, f::string, host::tag, host::field FROM typ"),
        json!([{"name":"typ","columns":["time","f","n","f_1","n_1","b","s","s_1","b_1","s_2","f_2","host","host_1"],"values":[
            ["1970-01-01T00:00:01Z",1,-3,1.7,-3,null,null,null,true,"12",null,"a",null],
            ["1970-01-01T00:00:02Z",-2,4,-2.5,4,null,null,null,false,"x",null,"a",null]]}])
    );
    assert_eq!(first(&db, "SELECT f::string FROM typ"), json!({"statement_id":0}));
    assert_eq!(
        series(&db, "SELECT f::unsigned FROM typ"),
        json!([{"name":"typ","columns":["time","f"],"values":[["1970-01-01T00:00:01Z",1],["1970-01-01T00:00:02Z",18446744073709551614u64]]}])
    );
    assert_eq!(
        series(&db, "SELECT mean(f::integer), sum(n::float), max(f::integer) FROM typ"),
        json!([{"name":"typ","columns":["time","mean","sum","max"],"values":[["1970-01-01T00:00:00Z",-0.5,1,1]]}])
    );
    assert_eq!(
        series(&db, "SELECT f::integer + 1, n::float / 2 FROM typ"),
        json!([{"name":"typ","columns":["time","f","n"],"values":[["1970-01-01T00:00:01Z",2,-1.5],["1970-01-01T00:00:02Z",-1,2]]}])
    );
    assert_eq!(
        series(&db, "SELECT * FROM typ WHERE f::integer = 1"),
        json!([{"name":"typ","columns":["time","b","f","host","n","s"],"values":[["1970-01-01T00:00:01Z",true,1.7,"a",-3,"12"]]}])
    );
    assert_eq!(
        series(&db, "SELECT derivative(f::integer) FROM typ"),
        json!([{"name":"typ","columns":["time","derivative"],"values":[["1970-01-01T00:00:02Z",-3]]}])
    );
}

#[test]
fn sample_picks_n_points_per_bucket_in_time_order() {
    let db = data();
    // influxd: N at least the number of points gives them all.
    assert_eq!(
        series(&db, "SELECT sample(v, 20) FROM x"),
        json!([{"name":"x","columns":["time","sample"],"values":[
            ["1970-01-01T00:00:00Z",1],["1970-01-01T00:00:10Z",3],["1970-01-01T00:00:30Z",4],["1970-01-01T00:01:00Z",2],
            ["1970-01-01T00:01:10Z",1],["1970-01-01T00:03:00Z",10],["1970-01-01T00:03:10Z",7],["1970-01-01T00:04:10Z",6],
            ["1970-01-01T00:05:00Z",12]]}])
    );
    assert_eq!(
        series(&db, "SELECT sample(v, 3) FROM x WHERE time >= 0s AND time < 3m GROUP BY time(1m)"),
        json!([{"name":"x","columns":["time","sample"],"values":[
            ["1970-01-01T00:00:00Z",1],["1970-01-01T00:00:10Z",3],["1970-01-01T00:00:30Z",4],["1970-01-01T00:01:00Z",2],["1970-01-01T00:01:10Z",1]]}])
    );
    // A random subset: 2 distinct points of the 9, in time order, the same every run (fixed seed).
    let got = series(&db, "SELECT sample(v, 2), i FROM x");
    let rows = got[0]["values"].as_array().cloned().unwrap_or_default();
    assert_eq!(rows.len(), 2, "{got}");
    let all = series(&db, "SELECT v, i FROM x")[0]["values"].as_array().cloned().unwrap_or_default();
    assert!(rows.iter().all(|r| all.contains(r)), "{got}");
    assert!(rows[0][0].as_str() < rows[1][0].as_str(), "{got}");
    assert_eq!(series(&db, "SELECT sample(v, 2), i FROM x"), got);
    // One point per host.
    let per_host = series(&db, "SELECT sample(v, 1) FROM x GROUP BY host");
    assert_eq!(per_host.as_array().map(Vec::len), Some(2));
    assert_eq!(per_host[0]["values"].as_array().map(Vec::len), Some(1));
    // influxd
    assert_eq!(error(&db, "SELECT sample(v, 0) FROM x"), "sample window must be greater than 1, got 0");
    assert_eq!(error(&db, "SELECT sample(v) FROM x"), "invalid number of arguments for sample, expected 2, got 1");
    assert_eq!(error(&db, "SELECT sample(v, 2.5) FROM x"), "expected integer argument in sample()");
}

#[test]
fn subqueries_feed_their_rows_to_the_outer_query() {
    let db = data();
    let q = |s: &str| series(&db, s);
    // influxd, each of them.
    assert_eq!(
        q("SELECT max(m) FROM (SELECT mean(v) AS m FROM x GROUP BY time(1m), host) WHERE time >= 0s AND time < 6m GROUP BY time(5m)"),
        json!([{"name":"x","columns":["time","max"],"values":[["1970-01-01T00:00:00Z",8.5],["1970-01-01T00:05:00Z",12]]}])
    );
    assert_eq!(
        q("SELECT sum(max) FROM (SELECT max(v) FROM x GROUP BY host)"),
        json!([{"name":"x","columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",18]]}])
    );
    // Inner GROUP BY tags are tags of the outer query.
    assert_eq!(
        q("SELECT mean(m) FROM (SELECT max(v) AS m FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m), host) GROUP BY host"),
        json!([{"name":"x","tags":{"host":"a"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",7]]},
               {"name":"x","tags":{"host":"b"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",3.3333333333333335]]}])
    );
    // Two deep.
    assert_eq!(
        q("SELECT max(s) FROM (SELECT sum(m) AS s FROM (SELECT mean(v) AS m FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m), host) GROUP BY time(1m))"),
        json!([{"name":"x","columns":["time","max"],"values":[["1970-01-01T00:05:00Z",12]]}])
    );
    // Null cells are absent points.
    assert_eq!(
        q("SELECT * FROM (SELECT mean(v) AS m FROM x WHERE time >= 0s AND time < 3m GROUP BY time(1m), host)"),
        json!([{"name":"x","columns":["time","host","m"],"values":[
            ["1970-01-01T00:00:00Z","a",2.5],["1970-01-01T00:00:00Z","b",3],["1970-01-01T00:01:00Z","a",2],["1970-01-01T00:01:00Z","b",1]]}])
    );
    assert_eq!(
        q("SELECT m FROM (SELECT mean(v) AS m FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m), host fill(none)) WHERE m > 5"),
        json!([{"name":"x","columns":["time","m"],"values":[["1970-01-01T00:03:00Z",8.5],["1970-01-01T00:04:00Z",6],["1970-01-01T00:05:00Z",12]]}])
    );
    assert_eq!(
        q("SELECT m FROM (SELECT mean(v) AS m FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m), host fill(none)) WHERE host = 'b'"),
        json!([{"name":"x","columns":["time","m"],"values":[["1970-01-01T00:00:00Z",3],["1970-01-01T00:01:00Z",1],["1970-01-01T00:04:00Z",6]]}])
    );
    assert_eq!(
        q("SELECT derivative(v) FROM (SELECT v FROM x WHERE host = 'a')"),
        json!([{"name":"x","columns":["time","derivative"],"values":[
            ["1970-01-01T00:00:30Z",0.1],["1970-01-01T00:01:00Z",-0.06666666666666667],["1970-01-01T00:03:00Z",0.06666666666666667],
            ["1970-01-01T00:03:10Z",-0.3],["1970-01-01T00:05:00Z",0.045454545454545456]]}])
    );
    // docs/query-language.md
    assert_eq!(
        q("SELECT sum(max) FROM (SELECT max(v) FROM cpu GROUP BY host)"),
        json!([{"name":"cpu","columns":["time","sum"],"values":[["1970-01-01T00:00:00Z",8]]}])
    );
    assert_eq!(
        q("SELECT max(m) FROM (SELECT mean(v) AS m FROM cpu GROUP BY time(1m), host) WHERE time >= 0s AND time < 4m GROUP BY time(2m)"),
        json!([{"name":"cpu","columns":["time","max"],"values":[["1970-01-01T00:00:00Z",3],["1970-01-01T00:02:00Z",5]]}])
    );
    assert_eq!(
        q("SELECT mean(v) FROM (SELECT v, host FROM x) GROUP BY host"),
        json!([{"name":"x","tags":{"host":"a"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",6]]},
               {"name":"x","tags":{"host":"b"},"columns":["time","mean"],"values":[["1970-01-01T00:00:00Z",3.3333333333333335]]}])
    );
    assert_eq!(
        q("SELECT top(m, 2) FROM (SELECT mean(v) AS m FROM x WHERE time >= 0s AND time < 6m GROUP BY time(1m), host)"),
        json!([{"name":"x","columns":["time","top"],"values":[["1970-01-01T00:03:00Z",8.5],["1970-01-01T00:05:00Z",12]]}])
    );
    // The outer time range reaches the inner query (which has none of its own).
    assert_eq!(
        q("SELECT count(m) FROM (SELECT mean(v) AS m FROM x GROUP BY time(1m), host) WHERE time >= 60s AND time < 4m"),
        json!([{"name":"x","columns":["time","count"],"values":[["1970-01-01T00:01:00Z",3]]}])
    );
}

#[test]
fn subqueries_are_bounded_by_the_point_limit() {
    let db = data();
    let query = parse_query("SELECT count(v) FROM (SELECT v FROM x)").expect("parses");
    let ctx = ExecutionContext { max_select_points: 5, ..ctx() };
    let r = serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json");
    assert_eq!(r["results"][0]["error"], json!("max-select-point limit exceeed: (6/5)"));
    let query = parse_query("SELECT count(v) FROM (SELECT v FROM x WHERE host = 'b')").expect("parses");
    let r = serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json");
    assert_eq!(r["results"][0]["series"][0]["values"], json!([["1970-01-01T00:00:00Z", 3]]));
}

#[test]
fn time_zones_move_bucket_boundaries_and_print_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let at = |s: &str| crate::time::parse_rfc3339(s).expect("time");
    let times = [
        "2024-03-30T12:00:00Z",
        "2024-03-31T00:30:00Z",
        "2024-03-31T12:00:00Z",
        "2024-04-01T10:00:00Z",
        "2024-10-27T00:30:00Z",
        "2024-10-27T23:30:00Z",
    ];
    let points: Vec<Point> = times
        .iter()
        .enumerate()
        .map(|(i, t)| Point {
            measurement: "m".into(),
            tags: vec![],
            fields: vec![("v".into(), FieldValue::Integer(i as i64 + 1))],
            timestamp: Some(at(t)),
        })
        .collect();
    store.write("d", None, &points, 0).expect("write");
    let db = Db { store, _dir: dir };
    let q = |s: &str| series(&db, s);
    // influxd, each of them.
    assert_eq!(
        q("SELECT sum(v) FROM m WHERE time >= '2024-03-29T00:00:00Z' AND time < '2024-04-02T00:00:00Z' GROUP BY time(1d) tz('Europe/Paris')"),
        json!([{"name":"m","columns":["time","sum"],"values":[
            ["2024-03-29T00:00:00+01:00",null],["2024-03-30T00:00:00+01:00",1],["2024-03-31T00:00:00+01:00",5],
            ["2024-04-01T00:00:00+02:00",4],["2024-04-02T00:00:00+02:00",null]]}])
    );
    assert_eq!(
        q("SELECT sum(v) FROM m WHERE time >= '2024-03-31T00:00:00Z' AND time < '2024-03-31T03:00:00Z' GROUP BY time(1h) tz('Europe/Paris')"),
        json!([{"name":"m","columns":["time","sum"],"values":[
            ["2024-03-31T01:00:00+01:00",2],["2024-03-31T03:00:00+02:00",null],["2024-03-31T04:00:00+02:00",null]]}])
    );
    assert_eq!(
        q("SELECT sum(v) FROM m WHERE time >= '2024-10-26T00:00:00Z' AND time < '2024-10-29T00:00:00Z' GROUP BY time(1d) tz('Europe/Paris')"),
        json!([{"name":"m","columns":["time","sum"],"values":[
            ["2024-10-26T00:00:00+02:00",null],["2024-10-27T00:00:00+02:00",5],["2024-10-28T00:00:00+01:00",6],["2024-10-29T00:00:00+01:00",null]]}])
    );
    assert_eq!(
        q("SELECT v FROM m WHERE time < '2024-04-01T00:00:00Z' tz('America/New_York')"),
        json!([{"name":"m","columns":["time","v"],"values":[
            ["2024-03-30T08:00:00-04:00",1],["2024-03-30T20:30:00-04:00",2],["2024-03-31T08:00:00-04:00",3]]}])
    );
    assert_eq!(
        q("SELECT v FROM m LIMIT 1 tz('UTC')"),
        json!([{"name":"m","columns":["time","v"],"values":[["2024-03-30T12:00:00Z",1]]}])
    );
    assert_eq!(
        q("SELECT sum(v) FROM m WHERE time >= '2024-03-29T00:00:00Z' AND time < '2024-04-02T00:00:00Z' GROUP BY time(12h, 1h) tz('Asia/Kolkata')"),
        json!([{"name":"m","columns":["time","sum"],"values":[
            ["2024-03-29T01:00:00+05:30",null],["2024-03-29T13:00:00+05:30",null],["2024-03-30T01:00:00+05:30",null],
            ["2024-03-30T13:00:00+05:30",1],["2024-03-31T01:00:00+05:30",2],["2024-03-31T13:00:00+05:30",3],
            ["2024-04-01T01:00:00+05:30",null],["2024-04-01T13:00:00+05:30",4],["2024-04-02T01:00:00+05:30",null]]}])
    );
    assert_eq!(
        q("SELECT max(v) FROM m tz('Asia/Kolkata')"),
        json!([{"name":"m","columns":["time","max"],"values":[["2024-10-28T05:00:00+05:30",6]]}])
    );
    // influxd answers 400 "error parsing query: unable to find time zone Foo/Bar".
    let err = parse_query("SELECT v FROM m tz('Foo/Bar')").err().map(|e| e.to_string());
    assert_eq!(err.as_deref(), Some("unable to find time zone Foo/Bar"));
}
