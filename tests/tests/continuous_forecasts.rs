//! Continuous forecasts against the real `augur` binary: a `forecast()`
//! continuous query writes future points into its target every interval,
//! keeps one model per series group in the registry (updated run after
//! run), retrains when the data drifts away from what the model learnt,
//! and `SHOW MODELS` / `SHOW FORECAST ACCURACY` report it, across a
//! restart.
//!
//! The data is a seasonal signal (period 12 s, with a little deterministic
//! noise) written a few seconds *ahead* of the clock, so each run sees a
//! known history whatever the scheduling delays; waiting is by polling the
//! server's answers, never a blind sleep.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use augur_tests::{encode, first_series_rows as rows, poll_until, Server, ServerOptions};
use serde_json::Value;

const S: i64 = 1_000_000_000;

const CONFIG: &str =
    "[continuous_queries]\nrun_interval = \"100ms\"\n\n[forecast]\nworkers = 1\nrefit_every = \"1h\"\n\
                      drift_ratio = 3.0\nmin_live_points = 12\ntraining_steps = 300\n";

const CQ: &str = "CREATE CONTINUOUS QUERY cf ON d BEGIN SELECT forecast(mean(v), 6, model => 'ets', season => 12) \
                  INTO demand_forecast FROM load GROUP BY time(1s), host END";

/// Longest any poll waits.
const POLL_LIMIT: Duration = Duration::from_secs(90);

fn now_ns() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(d.as_nanos()).expect("fits")
}

/// The signal at second `t` (absolute, in seconds) for a host around `base`.
fn signal(base: f64, t: i64) -> f64 {
    let noise = ((t * 7919).rem_euclid(13)) as f64 / 13.0 - 0.5;
    base + 10.0 * (2.0 * std::f64::consts::PI * (t.rem_euclid(12)) as f64 / 12.0).sin() + noise
}

/// Writes one point per second and host for seconds `from..to`, `shift` above the signal.
fn write_seconds(server: &Server, from: i64, to: i64, shift: f64) {
    let mut lines = Vec::new();
    for t in from..to {
        for (host, base) in [("a", 50.0), ("b", 150.0)] {
            lines.push(format!("load,host={host} v={} {}", signal(base + shift, t), t * S));
        }
    }
    server.write_ok("d", lines.join("\n"));
}

/// Polls `f` every 50 ms until it returns `Some`, within [`POLL_LIMIT`].
fn poll<T>(what: &str, server: &Server, f: impl FnMut() -> Option<T>) -> T {
    poll_until(server, what, POLL_LIMIT, f)
}

fn query(server: &Server, q: &str) -> Value {
    let reply = server.get(&format!("/query?db=d&epoch=s&q={}", encode(q)));
    assert_eq!(reply.status, 200, "{q}: {reply}");
    reply.json()["results"][0].clone()
}

/// A named column of a row of the first series.
fn cell<'a>(result: &Value, row: &'a [Value], column: &str) -> &'a Value {
    let columns = result["series"][0]["columns"].as_array().cloned().unwrap_or_default();
    let i = columns.iter().position(|c| c == column).unwrap_or_else(|| panic!("no column {column}: {result}"));
    &row[i]
}

/// The row of `group` in a SHOW MODELS / SHOW FORECAST ACCURACY answer.
fn model_row(result: &Value, group: &str) -> Option<Vec<Value>> {
    rows(result).into_iter().find(|r| r.first().and_then(Value::as_str) == Some(group))
}

#[test]
fn continuous_forecast_writes_updates_and_retrains_on_drift() {
    let mut server = Server::start(ServerOptions::with_config(CONFIG));
    server.create_database("d");
    let now_s = now_ns() / S;
    // Four minutes of history, and 15 s of the same pattern ahead of the clock.
    write_seconds(&server, now_s - 240, now_s + 15, 0.0);
    let created = server.query_raw(CQ, Some("d"));
    assert_eq!(created.status, 200, "{created}");
    assert!(created.json()["results"][0].get("error").is_none(), "{created}");

    // The first runs train one model per host and write 6 future seconds each.
    let forecasts = poll("forecast points for both hosts", &server, || {
        let r = query(&server, "SELECT count(forecast) FROM demand_forecast GROUP BY host");
        let counts: Vec<i64> = r["series"].as_array()?.iter().filter_map(|s| s["values"][0][1].as_i64()).collect();
        (counts.len() == 2 && counts.iter().all(|c| *c >= 6)).then_some(r)
    });
    assert_eq!(forecasts["series"][0]["tags"]["host"], "a", "{forecasts}");
    let r = query(&server, "SELECT forecast, lower_95, upper_95 FROM demand_forecast WHERE host = 'a'");
    let written = rows(&r);
    assert!(!written.is_empty(), "{r}");
    for row in &written {
        let t = row[0].as_i64().expect("time");
        let (f, lo, hi) = (row[1].as_f64().expect("f"), row[2].as_f64().expect("lo"), row[3].as_f64().expect("hi"));
        assert!(t > now_s - 2, "forecasts are for times after the history: {t} vs {now_s}");
        assert!((f - signal(50.0, t)).abs() < 4.0, "forecast {f} at {t}, actual pattern {}", signal(50.0, t));
        assert!(lo <= f && f <= hi, "{row:?}");
    }

    // While the data follows the pattern, runs update the stored models:
    // live error accumulates and the version stays 1.
    let acc = poll("live error of both models", &server, || {
        let r = query(&server, "SHOW FORECAST ACCURACY ON d");
        let a = model_row(&r, "cf/load,host=a")?;
        let b = model_row(&r, "cf/load,host=b")?;
        let live = |row: &[Value]| cell(&r, row, "live_points").as_u64().unwrap_or(0);
        (live(&a) >= 12 && live(&b) >= 12).then_some(r)
    });
    let a = model_row(&acc, "cf/load,host=a").expect("row");
    assert_eq!(cell(&acc, &a, "version"), &Value::from(1), "{acc}");
    let backtest = cell(&acc, &a, "backtest_mase").as_f64().expect("a backtest MASE");
    let live = cell(&acc, &a, "live_mase").as_f64().expect("a live MASE");
    assert!(live < 3.0 * backtest, "no drift yet: live {live} vs backtest {backtest}");
    assert!(cell(&acc, &a, "backtest_coverage_95").as_f64().is_some_and(|c| (0.0..=1.0).contains(&c)), "{acc}");
    let models = query(&server, "SHOW MODELS ON d");
    let a = model_row(&models, "cf/load,host=a").expect("row");
    assert_eq!(cell(&models, &a, "model"), "ets");
    assert_eq!(cell(&models, &a, "reason"), "initial");
    assert!(cell(&models, &a, "training_points").as_u64().is_some_and(|p| p >= 200), "{models}");

    // The level jumps by 60: the live error drifts above the backtest's
    // and each group trains version 2.
    let from = now_ns() / S + 2;
    write_seconds(&server, from, from + 60, 60.0);
    let models = poll("a retrain on drift", &server, || {
        let r = query(&server, "SHOW MODELS ON d");
        let rows_ok = ["cf/load,host=a", "cf/load,host=b"].iter().all(|g| {
            model_row(&r, g).is_some_and(|row| {
                cell(&r, &row, "version").as_u64().is_some_and(|v| v >= 2) && cell(&r, &row, "reason") == "drift"
            })
        });
        rows_ok.then_some(r)
    });
    let a = model_row(&models, "cf/load,host=a").expect("row");
    assert_eq!(cell(&models, &a, "kept_versions").as_u64(), cell(&models, &a, "version").as_u64(), "{models}");
    // The new forecasts follow the new level.
    poll("forecasts at the new level", &server, || {
        let r = query(&server, "SELECT last(forecast) FROM demand_forecast WHERE host = 'a'");
        let row = rows(&r).pop()?;
        let (t, f) = (row[0].as_i64()?, row[1].as_f64()?);
        ((f - signal(110.0, t)).abs() < 8.0).then_some(())
    });

    // The registry survives a restart.
    let version = cell(&models, &a, "version").clone();
    server.restart();
    let after = query(&server, "SHOW MODELS ON d");
    let a = model_row(&after, "cf/load,host=a").expect("model kept across the restart");
    assert!(cell(&after, &a, "version").as_u64() >= version.as_u64(), "{after}");
    assert!(server.log().contains("continuous forecast ran"), "runs are logged");
}
