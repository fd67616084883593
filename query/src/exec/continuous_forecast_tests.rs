//! Continuous forecasts against a real store: a `forecast()` continuous
//! query run interval after interval keeps its models in the registry,
//! updates them, retrains on drift, and `SHOW MODELS` / `SHOW FORECAST
//! ACCURACY` report them.

use augur_engine::forecast::store::learn::LearnPolicy;
use augur_engine::model::{FieldValue, Point};
use serde_json::Value;

use super::continuous::{run_window, ContinuousForecastSettings};
use super::*;
use crate::parse_query;

const MIN: i64 = 60_000_000_000;

fn value(host_base: f64, minute: i64) -> f64 {
    host_base + 10.0 * (2.0 * std::f64::consts::PI * (minute % 12) as f64 / 12.0).sin()
}

fn write(store: &Store, minutes: std::ops::Range<i64>, shift: f64) {
    let points: Vec<Point> = ["a", "b"]
        .iter()
        .zip([50.0, 150.0])
        .flat_map(|(host, base)| {
            minutes.clone().map(move |i| Point {
                measurement: "load".into(),
                tags: vec![("host".into(), (*host).into())],
                fields: vec![("v".into(), FieldValue::Float(value(base + shift, i)))],
                timestamp: Some(i * MIN),
            })
        })
        .collect();
    assert!(store.write("d", None, &points, 0).expect("write").rejected.is_empty());
}

fn run(store: &Store, q: &str, now: i64) -> Value {
    let ctx = ExecutionContext { database: Some("d".into()), now: Some(now), epoch: Some(MIN), ..Default::default() };
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    serde_json::to_value(execute(store, &query, &ctx)).expect("json")["results"][0].clone()
}

#[test]
fn continuous_forecast_updates_then_retrains_on_drift() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    write(&store, 0..240, 0.0);
    let created = run(
        &store,
        "CREATE CONTINUOUS QUERY cf ON d BEGIN SELECT forecast(mean(v), 6, model => 'ets', season => 12) \
         INTO demand_forecast FROM load GROUP BY time(1m), host END",
        0,
    );
    assert!(created.get("error").is_none(), "{created}");
    let cq = crate::cq::list(&store).expect("list").remove(0);
    assert!(continuous::is_forecast(&cq.statement.select));
    let settings = ContinuousForecastSettings {
        policy: LearnPolicy {
            refit_every_ns: 10_000 * MIN,
            drift_ratio: 2.0,
            min_live_points: 6,
            backtest_origins: 8,
            challenge: true,
            anomaly: None,
        },
        ..Default::default()
    };
    let cancel = cancel::CancelToken::default();

    let first = run_window(&store, &cq, 240 * MIN, 240 * MIN, &settings, &cancel).expect("runs");
    assert_eq!((first.trained, first.updated, first.written), (2, 0, 12), "{first:?}");
    let out = run(&store, "SELECT * FROM demand_forecast WHERE host = 'a'", 240 * MIN);
    let rows = out["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{out}")).clone();
    assert_eq!(out["series"][0]["columns"], serde_json::json!(["time", "forecast", "host", "lower_95", "upper_95"]));
    assert_eq!(rows.len(), 6);
    for (k, row) in rows.iter().enumerate() {
        let minute = 240 + k as i64;
        assert_eq!(row[0], Value::from(minute), "forecast times follow the last bucket");
        let f = row[1].as_f64().expect("forecast");
        assert!((f - value(50.0, minute)).abs() < 2.0, "minute {minute}: {f}");
        assert!(row[3].as_f64().expect("lower") <= f && f <= row[4].as_f64().expect("upper"));
    }

    // Same pattern, one interval at a time: the stored models are updated.
    for k in 0..3 {
        let end = 246 + 6 * k;
        write(&store, end - 6..end, 0.0);
        let r = run_window(&store, &cq, end * MIN, end * MIN, &settings, &cancel).expect("runs");
        assert_eq!((r.trained, r.updated), (0, 2), "run {k}: {r:?}");
    }
    let models = run(&store, "SHOW MODELS ON d", 258 * MIN);
    let rows = models["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{models}")).clone();
    assert_eq!(models["series"][0]["name"], "d");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0][0], "cf/load,host=a");
    assert_eq!(
        (rows[0][1].as_str(), rows[0][3].as_u64(), rows[0][6].as_str()),
        (Some("ets"), Some(1), Some("initial"))
    );
    assert_eq!(rows[0][10], Value::from(240));

    // A level shift: the live error drifts and a new version is trained.
    let mut end = 258;
    let mut retrained = false;
    for _ in 0..4 {
        write(&store, end..end + 6, 60.0);
        end += 6;
        let r = run_window(&store, &cq, end * MIN, end * MIN, &settings, &cancel).expect("runs");
        if r.trained == 2 {
            retrained = true;
            // Each swap won its contest and is reported for the event stream.
            let swaps: Vec<_> = r
                .notices
                .iter()
                .filter_map(|n| match n {
                    crate::exec::continuous::ForecastNotice::ModelSwapped(s) => Some(s),
                    _ => None,
                })
                .collect();
            assert_eq!(swaps.len(), 2, "{:?}", r.notices);
            for s in swaps {
                assert_eq!((s.version, s.contest.champion, s.reason.as_str()), (2, 1, "drift"), "{s:?}");
                assert!(s.contest.swapped && s.contest.challenger_mae < s.contest.champion_mae, "{s:?}");
            }
            break;
        }
    }
    assert!(retrained, "drift retrains both groups");
    let acc = run(&store, "SHOW FORECAST ACCURACY", end * MIN);
    let rows = acc["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{acc}")).clone();
    assert_eq!(acc["series"][0]["columns"][5], "backtest_mase");
    assert_eq!(rows[0][2], Value::from(2), "{acc}");
    assert!(rows[0][5].as_f64().is_some(), "backtest MASE: {acc}");
    let models = run(&store, "SHOW MODELS", end * MIN);
    assert_eq!(models["series"][0]["values"][0][6], "drift", "{models}");
    assert_eq!(models["series"][0]["values"][0][5], Value::from(2), "both versions kept");
    let columns = &models["series"][0]["columns"];
    assert_eq!(
        (&columns[12], &columns[13], &columns[14]),
        (&"challenges".into(), &"swaps".into(), &"last_challenge".into())
    );
    let row = &models["series"][0]["values"][0];
    // A contest right at the shift can go to the champion (both models
    // miss the new level); the one after it goes to the challenger.
    assert!(row[12].as_u64() >= Some(1) && row[13].as_u64() == Some(1), "{models}");
    assert!(row[14].as_str().is_some_and(|t| t.contains("v1 replaced: MAE")), "{models}");
    // Roll host a back to version 1; the next run rolls it forward from there.
    let post = |q: &str| run(&store, q, end * MIN);
    assert_eq!(post("ALTER MODEL \"cf/load,host=a\" ON d ROLLBACK TO 1"), serde_json::json!({"statement_id": 0}));
    let models = run(&store, "SHOW MODELS ON d", end * MIN);
    assert_eq!(
        (models["series"][0]["values"][0][3].as_u64(), models["series"][0]["values"][0][6].as_str()),
        (Some(1), Some("rollback"))
    );
    assert!(models["series"][0]["values"][0][4].as_u64() >= Some(2), "newer versions stay: {models}");
    assert_eq!(
        post("ALTER MODEL \"cf/load,host=a\" ON d ROLLBACK TO 99")["error"],
        "model d/cf/load,host=a/ets has no version 99"
    );
    assert_eq!(post("ALTER MODEL nope ON d ROLLBACK TO 1")["error"], "model not found: nope");
    assert_eq!(post("ALTER MODEL nope ON nodb ROLLBACK TO 1")["error"], "database not found: nodb");
    let missing = run(&store, "SHOW MODELS ON nope", 0);
    assert_eq!(missing["error"], "database not found: nope");

    // Dropping the continuous query drops its models.
    run(&store, "DROP CONTINUOUS QUERY cf ON d", end * MIN);
    assert_eq!(run(&store, "SHOW MODELS", end * MIN), serde_json::json!({"statement_id": 0}));

    // A cancelled run stops before writing.
    let cancelled = cancel::CancelToken::default();
    cancelled.cancel();
    assert!(matches!(
        run_window(&store, &cq, (end + 6) * MIN, (end + 6) * MIN, &settings, &cancelled),
        Err(ExecError::Cancelled(_))
    ));
}
