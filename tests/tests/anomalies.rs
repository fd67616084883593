//! Anomaly detection on continuous forecasts against the real `augur`
//! binary: a regular seasonal series is forecast continuously; when its
//! level jumps, the detector flags it, the anomaly is written into the
//! `anomalies` measurement of the same database and an
//! `io.augur.anomaly.detected` CloudEvent reaches a real HTTP receiver;
//! after a restart the same anomaly is not reported again.
//!
//! The data is written a few seconds ahead of the clock (as in
//! `continuous_forecasts.rs`), and every wait is a bounded poll.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use augur_tests::receiver::Receiver;
use augur_tests::{encode, first_series_rows as rows, poll_until, Server, ServerOptions};
use reqwest::header::CONTENT_TYPE;
use serde_json::{json, Value};

const S: i64 = 1_000_000_000;

const CONFIG: &str =
    "[continuous_queries]\nrun_interval = \"100ms\"\n\n[forecast]\nworkers = 1\nrefit_every = \"1h\"\n\
                      drift_ratio = 0\ntraining_steps = 300\n\n[anomaly]\nenabled = true\nlevel = 99.0\n\
                      consecutive = 3\n\n[webhooks]\ninitial_backoff = \"20ms\"\nmax_backoff = \"100ms\"\n";

const CQ: &str = "CREATE CONTINUOUS QUERY cf ON d BEGIN SELECT forecast(mean(v), 6, model => 'ets', season => 12) \
                  INTO load_forecast FROM load GROUP BY time(1s), host END";

const POLL_LIMIT: Duration = Duration::from_secs(90);

fn now_s() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).expect("clock after 1970")
}

/// The regular signal at second `t`.
fn signal(t: i64) -> f64 {
    let noise = ((t * 7919).rem_euclid(13)) as f64 / 13.0 - 0.5;
    50.0 + 10.0 * (2.0 * std::f64::consts::PI * (t.rem_euclid(12)) as f64 / 12.0).sin() + noise
}

fn write_seconds(server: &Server, from: i64, to: i64, shift: f64) {
    let lines: Vec<String> = (from..to).map(|t| format!("load,host=a v={} {}", signal(t) + shift, t * S)).collect();
    server.write_ok("d", lines.join("\n"));
}

fn query(server: &Server, q: &str) -> Value {
    let reply = server.get(&format!("/query?db=d&epoch=s&q={}", encode(q)));
    assert_eq!(reply.status, 200, "{q}: {reply}");
    reply.json()["results"][0].clone()
}

fn column(result: &Value, name: &str) -> usize {
    let columns = result["series"][0]["columns"].as_array().cloned().unwrap_or_default();
    columns.iter().position(|c| c == name).unwrap_or_else(|| panic!("no column {name}: {result}"))
}

#[test]
fn a_level_shift_is_written_to_anomalies_and_sent_as_an_event_once() {
    let mut server = Server::start(ServerOptions::with_config(CONFIG));
    let receiver = Receiver::start();
    let body = json!({"url": receiver.url(), "types": ["io.augur.anomaly.detected"]});
    let r = server.send(
        server
            .client()
            .post(server.url("/v1/webhooks"))
            .header(CONTENT_TYPE, "application/json")
            .body(body.to_string()),
    );
    assert_eq!(r.status, 201, "{r}");

    server.create_database("d");
    let start = now_s();
    write_seconds(&server, start - 240, start + 15, 0.0);
    let created = server.query_raw(CQ, Some("d"));
    assert!(created.status == 200 && created.json()["results"][0].get("error").is_none(), "{created}");
    poll_until(&server, "the first forecasts", POLL_LIMIT, || {
        let r = query(&server, "SELECT count(forecast) FROM load_forecast");
        (r["series"][0]["values"][0][1].as_i64()? >= 6).then_some(())
    });

    // The level jumps by 60 (the band is a few units wide).
    let shift = now_s() + 2;
    write_seconds(&server, shift, shift + 40, 60.0);
    let found = poll_until(&server, "an anomaly row", POLL_LIMIT, || {
        let r = query(&server, "SELECT * FROM anomalies");
        (!rows(&r).is_empty()).then_some(r)
    });
    let first = &rows(&found)[0];
    let at = |name: &str| &first[column(&found, name)];
    assert_eq!(at("measurement"), "load", "{found}");
    assert_eq!(at("field"), "v", "{found}");
    assert_eq!(at("host"), "a", "{found}");
    assert!(matches!(at("kind").as_str(), Some("band" | "level_shift")), "{found}");
    let t = at("time").as_i64().expect("time");
    assert!((shift..shift + 12).contains(&t), "detected at {t}, shift at {shift}: {found}");
    let (value, expected) = (at("value").as_f64().expect("value"), at("expected").as_f64().expect("expected"));
    assert!(value > at("upper").as_f64().expect("upper") && value - expected > 20.0, "{found}");
    assert!(at("score").as_f64().is_some_and(|s| s > 0.0) && at("steps").as_i64().is_some_and(|s| s >= 1), "{found}");

    let event = poll_until(&server, "the anomaly event", POLL_LIMIT, || receiver.delivered().into_iter().next());
    let event = event.json();
    assert_eq!(event["type"], "io.augur.anomaly.detected", "{event}");
    assert_eq!(event["source"], "/augur/tenants/default", "{event}");
    let data = &event["data"];
    assert_eq!((&data["database"], &data["measurement"], &data["field"]), (&json!("d"), &json!("load"), &json!("v")));
    assert_eq!(data["tags"], json!({"host": "a"}), "{event}");
    assert!(matches!(data["kind"].as_str(), Some("band" | "level_shift")), "{event}");
    assert!(data["value"].as_f64().is_some() && data["expected"].as_f64().is_some(), "{event}");

    // Every anomaly row has its event, and the detector's state is stored
    // with the model: after a restart the judged actuals are not reported
    // again (a re-report would add an event but no row: same series, same time).
    let anomaly_rows = |server: &Server| rows(&query(server, "SELECT * FROM anomalies")).len();
    let settled = |server: &Server, what: &str| {
        poll_until(server, what, POLL_LIMIT, || {
            let n = anomaly_rows(server);
            (receiver.delivered().len() == n).then_some(n)
        })
    };
    settled(&server, "an event per anomaly row");
    let last_forecast = |server: &Server| {
        rows(&query(server, "SELECT last(forecast) FROM load_forecast")).first().and_then(|r| r[0].as_i64())
    };
    let before = last_forecast(&server).expect("a forecast");
    server.restart();
    poll_until(&server, "runs after the restart", POLL_LIMIT, || {
        last_forecast(&server).is_some_and(|t| t >= before + 3).then_some(())
    });
    let n = settled(&server, "an event per anomaly row after the restart");
    assert_eq!(receiver.delivered().len(), n, "no anomaly reported twice");
}
