//! `forecast()`, `holt_winters()` and `holt_winters_with_fit()` against a
//! real store: a seasonal signal per host, predicted per `GROUP BY` group.

use augur_engine::forecast::FitOptions;
use augur_engine::model::{FieldValue, Point};
use serde_json::Value;

use super::*;
use crate::parse_query;

const MIN: i64 = 60_000_000_000;

/// The period of the test signal, in 1-minute buckets.
const PERIOD: i64 = 12;

struct Db {
    store: Store,
    _dir: tempfile::TempDir,
}

/// Host `a`: a sine of period 12 around 50; host `b`: the same plus 100.
/// 240 one-minute points from t = 0.
fn seasonal() -> Db {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let mut points = Vec::new();
    for (host, base) in [("a", 50.0), ("b", 150.0)] {
        for i in 0..240 {
            let phase = 2.0 * std::f64::consts::PI * (i % PERIOD) as f64 / PERIOD as f64;
            points.push(Point {
                measurement: "load".into(),
                tags: vec![("host".into(), host.into())],
                fields: vec![("v".into(), FieldValue::Float(base + 10.0 * phase.sin()))],
                timestamp: Some(i * MIN),
            });
        }
    }
    let outcome = store.write("d", None, &points, 0).expect("write");
    assert!(outcome.rejected.is_empty());
    Db { store, _dir: dir }
}

fn run(db: &Db, q: &str) -> Value {
    let ctx =
        ExecutionContext { database: Some("d".into()), now: Some(240 * MIN), epoch: Some(MIN), ..Default::default() };
    let query = parse_query(q).unwrap_or_else(|e| panic!("{q}: {e}"));
    serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json")["results"][0].clone()
}

fn expected(base: f64, minute: i64) -> f64 {
    base + 10.0 * (2.0 * std::f64::consts::PI * (minute % PERIOD) as f64 / PERIOD as f64).sin()
}

#[test]
fn forecast_continues_each_groups_season_with_bands() {
    let db = seasonal();
    let r = run(&db, "SELECT forecast(mean(v), 24, model => 'snaive', level => 80) FROM load GROUP BY time(1m), host");
    let series = r["series"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(series.len(), 2, "{r}");
    for (s, base) in series.iter().zip([50.0, 150.0]) {
        assert_eq!(s["columns"], serde_json::json!(["time", "forecast", "lower_80", "upper_80"]));
        let rows = s["values"].as_array().expect("rows");
        assert_eq!(rows.len(), 24);
        for (k, row) in rows.iter().enumerate() {
            let minute = 240 + k as i64;
            assert_eq!(row[0].as_i64(), Some(minute), "{row}");
            let f = row[1].as_f64().expect("forecast");
            assert!((f - expected(base, minute)).abs() < 1e-6, "{row} vs {}", expected(base, minute));
            let (lo, hi) = (row[2].as_f64().expect("lower"), row[3].as_f64().expect("upper"));
            assert!(lo <= f && f <= hi, "{row}");
        }
    }
}

#[test]
fn forecast_as_of_a_past_time_starts_after_it() {
    let db = seasonal();
    let r = run(
        &db,
        "SELECT forecast(mean(v), 30m, model => 'auto') FROM load WHERE host = 'a' AND time < 120m GROUP BY time(1m)",
    );
    let rows = r["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(rows.len(), 30);
    assert_eq!(rows[0][0].as_i64(), Some(120));
    let mae: f64 = rows
        .iter()
        .map(|row| (row[1].as_f64().unwrap_or(f64::NAN) - expected(50.0, row[0].as_i64().unwrap_or(0))).abs())
        .sum::<f64>()
        / rows.len() as f64;
    assert!(mae < 1.0, "auto should learn a clean season: MAE {mae}, {r}");
}

#[test]
fn forecast_drops_a_bucket_that_has_not_closed() {
    let db = seasonal();
    // The bound cuts the bucket starting at 100m after its first second:
    // that bucket is partial and is not history.
    let r = run(
        &db,
        "SELECT forecast(sum(v), 2, model => 'naive') FROM load WHERE host = 'a' AND time <= 100m GROUP BY time(5m)",
    );
    let rows = r["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(rows[0][0].as_i64(), Some(100), "first predicted bucket replaces the partial one: {r}");
}

#[test]
fn holt_winters_answers_n_points_after_the_last_bucket() {
    let db = seasonal();
    let r = run(&db, "SELECT holt_winters(mean(v), 6, 12) FROM load WHERE host = 'b' GROUP BY time(1m)");
    let s = &r["series"][0];
    assert_eq!(s["columns"], serde_json::json!(["time", "holt_winters"]), "{r}");
    let rows = s["values"].as_array().expect("rows");
    assert_eq!(rows.len(), 6);
    for row in rows {
        let minute = row[0].as_i64().expect("time");
        assert!(minute >= 240);
        assert!((row[1].as_f64().expect("value") - expected(150.0, minute)).abs() < 2.0, "{row}");
    }
    let fit = run(&db, "SELECT holt_winters_with_fit(mean(v), 6, 12) FROM load WHERE host = 'b' GROUP BY time(1m)");
    assert_eq!(fit["series"][0]["values"].as_array().map(Vec::len), Some(246), "{fit}");
}

#[test]
fn prediction_errors_are_clear() {
    let db = seasonal();
    for (q, needle) in [
        ("SELECT forecast(mean(v), 5) FROM load", "GROUP BY time"),
        ("SELECT forecast(v, 5) FROM load GROUP BY time(1m)", "aggregate"),
        ("SELECT forecast(mean(v), 5, model => 'magic') FROM load GROUP BY time(1m)", "unknown forecast model"),
        ("SELECT forecast(mean(v), 5, level => 100) FROM load GROUP BY time(1m)", "level"),
        ("SELECT forecast(mean(v), 5), max(v) FROM load GROUP BY time(1m)", "cannot be combined"),
        ("SELECT forecast(mean(v), -5) FROM load GROUP BY time(1m)", "forecast"),
        ("SELECT holt_winters(mean(v), 5) FROM load GROUP BY time(1m)", "invalid number of arguments"),
    ] {
        let r = run(&db, q);
        let err = r["error"].as_str().unwrap_or_else(|| panic!("{q}: expected an error, got {r}"));
        assert!(err.contains(needle), "{q}: {err}");
    }
}

#[test]
fn forecast_with_the_lstm_model_beats_naive_with_bands() {
    let db = seasonal();
    let r = run(&db, "SELECT forecast(mean(v), 6, model => 'lstm') FROM load WHERE host = 'a' GROUP BY time(1m)");
    let series = r["series"].as_array().unwrap_or_else(|| panic!("{r}"));
    assert_eq!(series[0]["columns"], serde_json::json!(["time", "forecast", "lower_95", "upper_95"]));
    let rows = series[0]["values"].as_array().expect("rows");
    assert_eq!(rows.len(), 6, "{r}");
    let (mut err, mut naive) = (0.0, 0.0);
    for (k, row) in rows.iter().enumerate() {
        let minute = 240 + k as i64;
        assert_eq!(row[0].as_i64(), Some(minute), "{row}");
        let f = row[1].as_f64().expect("forecast");
        let (lo, hi) = (row[2].as_f64().expect("lower"), row[3].as_f64().expect("upper"));
        assert!(lo <= f && f <= hi, "{row}");
        err += (f - expected(50.0, minute)).abs();
        naive += (expected(50.0, 239) - expected(50.0, minute)).abs();
    }
    assert!(err < 0.5 * naive, "lstm error {err:.2} vs naive {naive:.2}: {r}");
}

/// A noisy seasonal value at minute `t` (noise, so a refit and a rolled
/// forward model give different numbers).
fn noisy(t: i64) -> f64 {
    expected(50.0, t) + ((t * 7919) % 13) as f64 * 0.3
}

fn write_minutes(db: &Db, minutes: std::ops::Range<i64>, value: impl Fn(i64) -> f64) {
    let points: Vec<Point> = minutes
        .map(|t| Point {
            measurement: "noisy".into(),
            tags: vec![("host".into(), "a".into())],
            fields: vec![("v".into(), FieldValue::Float(value(t)))],
            timestamp: Some(t * MIN),
        })
        .collect();
    assert!(db.store.write("d", None, &points, 0).expect("write").rejected.is_empty());
}

fn forecast_at(db: &Db, now_minute: i64) -> Vec<[f64; 3]> {
    let ctx = ExecutionContext {
        database: Some("d".into()),
        now: Some(now_minute * MIN),
        epoch: Some(MIN),
        ..Default::default()
    };
    let q = "SELECT forecast(mean(v), 6, model => 'ets', season => 12) FROM noisy WHERE time > now() - 200m \
             GROUP BY time(1m)";
    let query = parse_query(q).expect("parses");
    let r = serde_json::to_value(execute(&db.store, &query, &ctx)).expect("json");
    let rows = r["results"][0]["series"][0]["values"].as_array().unwrap_or_else(|| panic!("{r}")).clone();
    assert_eq!(rows[0][0].as_i64(), Some(now_minute), "{r}");
    let cell = |row: &Value, i: usize| row[i].as_f64().unwrap_or_else(|| panic!("{row}"));
    rows.iter().map(|row| [cell(row, 1), cell(row, 2), cell(row, 3)]).collect()
}

/// What the engine forecasts (mean and 95% band, calibrated online as
/// `forecast()` does, from band factors `scales`, one per tracked level)
/// for minutes `fit` fitted, then `update` absorbed; and the band factors
/// it ends with.
fn reference_scaled(
    fit: std::ops::Range<i64>,
    update: std::ops::Range<i64>,
    value: impl Fn(i64) -> f64,
    scales: &[f64],
) -> (Vec<[f64; 3]>, Vec<f64>) {
    use augur_engine::forecast::calibrate::Calibrated;
    use augur_engine::forecast::Forecaster;
    let options =
        FitOptions { seasons: vec![12], origin_index: Some(fit.start), step_ns: Some(MIN), ..Default::default() };
    let mut model = Calibrated::new(augur_engine::forecast::registry::by_name("ets").expect("ets"));
    model.fit(&fit.map(&value).collect::<Vec<_>>(), &options).expect("fits");
    model.resume_band_scales(scales);
    model.update(&update.map(&value).collect::<Vec<_>>()).expect("updates");
    let p = model.predict(6, &[95.0]).expect("predicts");
    let learned = model.band_scales().expect("a calibrated model has factors");
    ((0..6).map(|k| [p.mean[k], p.bands[0].lower[k], p.bands[0].upper[k]]).collect(), learned)
}

/// [`reference_scaled`] from a fresh fit's factors of 1.
fn reference(fit: std::ops::Range<i64>, update: std::ops::Range<i64>, value: impl Fn(i64) -> f64) -> Vec<[f64; 3]> {
    let fresh = [1.0; augur_engine::forecast::calibrate::TRACKED_LEVELS.len()];
    reference_scaled(fit, update, value, &fresh).0
}

#[test]
fn a_repeated_forecast_rolls_its_model_forward_until_the_history_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(dir.path(), Default::default()).expect("open");
    store.create_database("d").expect("create");
    let db = Db { store, _dir: dir };
    write_minutes(&db, 0..240, noisy);
    // First ask: minutes 41..=239 (the bound excludes minute 40's point).
    assert_eq!(forecast_at(&db, 240), reference(41..240, 240..240, noisy));
    // Four minutes later: the cached model absorbs minutes 240..=243
    // instead of being fitted again on 45..=243.
    write_minutes(&db, 240..244, noisy);
    let rolled = forecast_at(&db, 244);
    let fresh = [1.0; augur_engine::forecast::calibrate::TRACKED_LEVELS.len()];
    let (expected, learned) = reference_scaled(41..240, 240..244, noisy, &fresh);
    assert_eq!(rolled, expected);
    assert_ne!(rolled, reference(45..244, 244..244, noisy), "a refit would differ");
    // A late write changes a minute the model saw: fitted again, keeping
    // the band factors the rolled model learned.
    write_minutes(&db, 100..101, |t| noisy(t) + 5.0);
    let changed = |t: i64| if t == 100 { noisy(t) + 5.0 } else { noisy(t) };
    assert_eq!(forecast_at(&db, 244), reference_scaled(45..244, 244..244, changed, &learned).0);
    // "As of" an earlier moment: fitted on that history, not rolled back.
    assert_eq!(forecast_at(&db, 242), reference_scaled(43..242, 242..242, changed, &learned).0);
}

#[test]
fn forecast_with_history_reads_once_and_answers_both() {
    let db = seasonal();
    let ctx =
        ExecutionContext { database: Some("d".into()), now: Some(240 * MIN), epoch: Some(1), ..Default::default() };
    let select = |q: &str| match parse_query(q).expect("parses").statements.into_iter().next() {
        Some(crate::ast::Statement::Select(s)) => *s,
        other => panic!("{other:?}"),
    };
    let q = "SELECT forecast(mean(v), 6, model => 'snaive') FROM load WHERE time > 200m GROUP BY time(1m), host";
    let answer = forecast_with_history(&db.store, &select(q), &ctx).expect("runs");
    // The forecast is what the statement answers on its own.
    let alone = execute_statement(&db.store, &crate::ast::Statement::Select(Box::new(select(q))), &ctx).expect("runs");
    assert_eq!(answer.forecast, alone);
    // The history is the aggregate's buckets, per group, in ns.
    let plain = "SELECT mean(v) AS value FROM load WHERE time > 200m GROUP BY time(1m), host";
    let expected =
        execute_statement(&db.store, &crate::ast::Statement::Select(Box::new(select(plain))), &ctx).expect("runs");
    assert_eq!(answer.history, expected);
    assert_eq!(answer.history.len(), 2);
    // Buckets 200 (empty: the bound excludes its point) to 240 (now, empty).
    assert_eq!(answer.history[0].values.len(), 41, "{:?}", answer.history[0]);
    let err = forecast_with_history(&db.store, &select("SELECT mean(v) FROM load GROUP BY time(1m)"), &ctx);
    assert!(err.is_err_and(|e| e.to_string().contains("forecast")));
}
