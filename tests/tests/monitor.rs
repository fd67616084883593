//! Self-monitoring against the real binary: `GET /metrics` (checked by
//! Prometheus' own `promtool`), and the `_internal` database filling with
//! the server's health, per-tenant usage, webhook deliveries and each pool
//! cycle's KPIs.

use std::process::{Command, Stdio};
use std::time::Duration;

use augur_tests::receiver::Receiver;
use augur_tests::{poll_until, Server, ServerOptions};
use serde_json::{json, Value};

const TOKEN: &str = "augur_monitor_test_admin_token_0123456789";
const MINUTE_NS: i64 = 60_000_000_000;

fn start() -> Server {
    let options = ServerOptions {
        config: Some("[monitor]\ninterval = \"1s\"\n".into()),
        admin_token: Some(TOKEN.into()),
        monitor: true,
        ..ServerOptions::default()
    };
    Server::start(options)
}

/// The first value of `column` in the first series of `q` on `_internal`.
fn internal(server: &Server, q: &str) -> Option<Value> {
    let reply = server.query_raw(q, Some("_internal"));
    let json = reply.json();
    let series = &json["results"][0]["series"][0];
    let columns = series["columns"].as_array()?;
    let row = series["values"][0].as_array()?;
    Some(Value::Object(
        columns.iter().zip(row).map(|(c, v)| (c.as_str().unwrap_or("").to_string(), v.clone())).collect(),
    ))
}

/// Runs `promtool check metrics` on `text`; panics with its complaint.
fn promtool_check(text: &str) {
    let promtool = std::env::var("AUGUR_PROMTOOL").unwrap_or_else(|_| "promtool".into());
    let mut child = Command::new(&promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{promtool} is missing ({e}): run tests/scripts/deps.sh (Debian's prometheus)"));
    use std::io::Write as _;
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write to promtool");
    let out = child.wait_with_output().expect("promtool runs");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    // Lint findings (naming advice) are not format errors; anything else is.
    let errors: Vec<&str> = said.lines().filter(|l| l.contains("error")).collect();
    assert!(out.status.success() || errors.is_empty(), "promtool rejects /metrics: {said}");
    assert!(errors.is_empty(), "promtool: {said}");
}

#[test]
fn metrics_and_internal_follow_writes_queries_and_deliveries() {
    let server = start();
    server.create_database("app");
    server.write_ok("app", "cpu,host=a v=1 1\ncpu,host=b v=2 2\ncpu,host=a v=3 3\n");
    let bad = server.write("app", "cpu,host=a v=\"text\" 4\nbroken line\n");
    assert_eq!(bad.status, 400, "{bad}");
    server.query("SELECT count(v) FROM app..cpu");

    let receiver = Receiver::start();
    let sub = server.send(
        server.client().post(server.url("/v1/webhooks")).json(&json!({"url": receiver.url(), "types": ["io.augur.*"]})),
    );
    assert_eq!(sub.status, 201, "{sub}");
    let id = sub.json()["id"].as_str().expect("subscription id").to_string();
    let test = server.send(server.client().post(server.url(&format!("/v1/webhooks/{id}/test"))));
    assert!(test.status < 300, "{test}");
    poll_until(&server, "the test event to arrive", Duration::from_secs(30), || {
        (!receiver.delivered().is_empty()).then_some(())
    });

    // /metrics: operators only, the text format, and what just happened.
    let anonymous = reqwest::blocking::Client::new().get(server.url("/metrics")).send().expect("GET /metrics");
    assert_eq!(anonymous.status().as_u16(), 401);
    let text = poll_until(&server, "the delivery to be counted", Duration::from_secs(30), || {
        let reply = server.get("/metrics");
        assert_eq!(reply.status, 200, "{reply}");
        let text = reply.body.clone();
        text.contains(&format!("augur_webhook_deliveries_total{{subscription=\"{id}\"}} 1")).then_some(text)
    });
    for expected in [
        "augur_points_written_total{tenant=\"default\"} 3\n",
        "augur_points_rejected_total{tenant=\"default\"} 2\n",
        "augur_http_requests_total{route=\"/write\",method=\"POST\",code=\"204\"} 1\n",
        "augur_http_requests_total{route=\"/write\",method=\"POST\",code=\"400\"} 1\n",
        "augur_series{database=\"app\"} 2\n",
        "augur_http_request_duration_seconds_bucket{route=\"/query\",le=\"+Inf\"}",
        "augur_storage_bytes{part=\"wal\"}",
        "augur_webhook_subscriptions 1\n",
        "# TYPE augur_http_request_duration_seconds histogram\n",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }
    promtool_check(&text);

    // _internal: the same figures as series, written every second.
    let server_row = poll_until(&server, "server health in _internal", Duration::from_secs(30), || {
        let row = internal(&server, "SELECT last(points_written) AS written, last(query_count) AS q FROM server")?;
        (row["written"] == 3 && row["q"].as_i64()? >= 1).then_some(row)
    });
    assert!(server_row["time"].is_number() || server_row["time"].is_string(), "{server_row}");
    let usage = internal(
        &server,
        "SELECT last(points_written) AS w, last(points_rejected) AS r FROM tenant_usage WHERE tenant = 'default'",
    )
    .expect("tenant usage");
    assert_eq!((usage["w"].as_i64(), usage["r"].as_i64()), (Some(3), Some(2)), "{usage}");
    let hooks = poll_until(&server, "webhook deliveries in _internal", Duration::from_secs(30), || {
        let row = internal(&server, &format!("SELECT last(delivered) AS d FROM webhooks WHERE webhook = '{id}'"))?;
        (row["d"] == 1).then_some(row)
    });
    assert_eq!(hooks["d"], 1);
    let dbs = server.query("SHOW DATABASES").to_string();
    assert!(dbs.contains("\"_internal\""), "{dbs}");
}

#[test]
fn every_pool_cycle_lands_in_internal() {
    let server = start();
    server.create_database("infra");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos() as i64;
    let last = now / MINUTE_NS * MINUTE_NS - MINUTE_NS;
    let body: String =
        (0..120).map(|i| format!("usage,service=web cpu={} {}\n", 6 + i % 3, last - (119 - i) * MINUTE_NS)).collect();
    server.write_ok("infra", body);
    // The service's request latency, as the tenant writes it: two hosts, the worst counts.
    let requests: String = (0..120)
        .flat_map(|i| {
            let t = last - (119 - i) * MINUTE_NS;
            [
                format!("requests,service=web,host=a latency_ms={} {t}\n", 40 + i % 5),
                format!("requests,service=web,host=b latency_ms=30 {t}\n"),
            ]
        })
        .collect();
    server.write_ok("infra", requests);
    let pool = json!({
        "name": "web",
        "dimensions": ["cpu_cores"],
        "shapes": [{"name": "core2", "capacity": {"cpu_cores": 2}, "hourly_cost": 0.1}],
        "min": 1, "max": 30, "lead_time": "10m", "interval": "1s", "history": "3h",
        "safety": {"quantile": 95, "margin_pct": 0},
        "demand": {"cpu_cores": {"database": "infra",
            "query": "SELECT sum(cpu) FROM usage WHERE service = 'web' GROUP BY time(1m)"}},
        "provider": {"kind": "webhook"},
        "latency": {"database": "infra",
            "query": "SELECT percentile(latency_ms, 99) FROM requests WHERE service = 'web' GROUP BY time(1m), host"},
    });
    let created = server.send(server.client().post(server.url("/v1/pools")).json(&pool));
    assert_eq!(created.status, 201, "{created}");

    let row = poll_until(&server, "the pool's KPIs in _internal", Duration::from_secs(60), || {
        let row = internal(
            &server,
            "SELECT last(usage) AS usage, last(forecast) AS forecast, last(allocated) AS allocated, \
             last(ready) AS ready, last(unmet) AS unmet, last(utilization) AS utilization \
             FROM pool WHERE tenant = 'default' AND pool = 'web' AND dimension = 'cpu_cores'",
        )?;
        row["allocated"].as_f64().filter(|a| *a > 0.0).map(|_| row)
    });
    let usage = row["usage"].as_f64().expect("usage");
    assert!((6.0..=8.0).contains(&usage), "{row}");
    assert!(row["forecast"].as_f64().expect("forecast") >= 5.0, "{row}");
    // Webhook units are requested, not ready: all of the usage is unmet.
    assert_eq!(row["ready"], 0.0, "{row}");
    assert!((row["unmet"].as_f64().expect("unmet") - usage).abs() < 1e-9, "{row}");
    let allocated = row["allocated"].as_f64().expect("allocated");
    assert!(allocated >= usage, "capacity ahead of demand: {row}");
    assert!((row["utilization"].as_f64().expect("utilization") - usage / allocated).abs() < 1e-9, "{row}");

    let units = internal(
        &server,
        "SELECT last(active) AS active, last(starting) AS starting, last(cost_per_hour) AS cost, last(latency) AS latency \
         FROM pool_units WHERE pool = 'web'",
    )
    .expect("pool_units");
    // The newest closed minute is i = 119 (or 118 when the minute turned meanwhile): host a's 44 or 43 ms.
    let latency = units["latency"].as_f64().expect("latency");
    assert!(latency == 44.0 || latency == 43.0, "{units}");
    let active = units["active"].as_i64().expect("active");
    assert_eq!(units["starting"].as_i64(), Some(active), "{units}");
    assert!((units["cost"].as_f64().expect("cost") - 0.1 * active as f64).abs() < 1e-9, "{units}");
    let action = internal(&server, "SELECT units, reason FROM pool_action WHERE pool = 'web' AND action = 'scale_up'")
        .expect("the first scale-up is recorded");
    assert_eq!(action["units"].as_i64(), Some(active), "{action}");
    assert!(action["reason"].as_str().is_some_and(|r| !r.is_empty()), "{action}");

    // A pool with a short lead time: its forecasts come due and are scored
    // against the peak usage of their window.
    let mut quick = pool.clone();
    quick["name"] = json!("quick");
    quick["lead_time"] = json!("2s");
    let created = server.send(server.client().post(server.url("/v1/pools")).json(&quick));
    assert_eq!(created.status, 201, "{created}");
    let scored = poll_until(&server, "the quick pool's forecasts to be scored", Duration::from_secs(60), || {
        internal(
            &server,
            "SELECT last(forecast) AS forecast, last(actual_peak) AS peak, last(error) AS error, \
             last(covered) AS covered FROM pool_accuracy WHERE pool = 'quick' AND dimension = 'cpu_cores'",
        )
    });
    let (forecast, peak) = (scored["forecast"].as_f64().expect("forecast"), scored["peak"].as_f64().expect("peak"));
    assert!((6.0..=8.0).contains(&peak), "the peak of the usage: {scored}");
    assert!((scored["error"].as_f64().expect("error") - (peak - forecast)).abs() < 1e-9, "{scored}");
    assert_eq!(scored["covered"].as_i64(), Some(i64::from(peak <= forecast)), "{scored}");

    let metrics = server.get("/metrics").body;
    assert!(metrics.contains("augur_pool_units{tenant=\"default\",pool=\"web\",state=\"requested\"}"), "{metrics}");
    assert!(!metrics.contains("augur_pool_cycles_total 0\n"), "{metrics}");
}

#[test]
fn a_tenant_whose_ingest_bursts_is_flagged() {
    let options = ServerOptions {
        config: Some(
            "[monitor]\ninterval = \"1s\"\ntenant_watch = \"2s\"\n[continuous_queries]\nrun_interval = \"1s\"\n".into(),
        ),
        monitor: true,
        ..ServerOptions::default()
    };
    let server = Server::start(options);
    server.create_database("app");
    let receiver = Receiver::start();
    let sub = server.send(
        server
            .client()
            .post(server.url("/v1/webhooks"))
            .json(&json!({"url": receiver.url(), "types": ["io.augur.anomaly.detected"]})),
    );
    assert_eq!(sub.status, 201, "{sub}");
    let cqs = server.query("SHOW CONTINUOUS QUERIES").to_string();
    assert!(cqs.contains("tenant_ingest_watch") && cqs.contains("tenant_query_watch"), "{cqs}");

    // The usual load: a few points twice a second, for long enough to learn it
    // (pacing the workload, not waiting for the server).
    let batch = |n: usize, round: usize| -> String { (0..n).map(|j| format!("cpu,host=h{j} v={round}\n")).collect() };
    let mut round = 0;
    let learned = std::time::Instant::now() + Duration::from_secs(30);
    while std::time::Instant::now() < learned {
        server.write_ok("app", batch(5, round));
        round += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    // Then a burst a hundred times the usual rate.
    let burst = std::time::Instant::now() + Duration::from_secs(8);
    while std::time::Instant::now() < burst {
        server.write_ok("app", batch(500, round));
        round += 1;
        std::thread::sleep(Duration::from_millis(500));
    }
    let row = poll_until(&server, "the burst to be flagged", Duration::from_secs(30), || {
        let row = internal(
            &server,
            "SELECT \"value\", expected, upper, kind FROM anomalies WHERE \"field\" = 'points_written' AND tenant = 'default' \
             AND \"value\" > 100 AND kind = 'band'",
        )?;
        Some(row)
    });
    // The k-th point in a row outside the band is reported (the forecast has
    // begun to follow the burst by then, how far depends on the fit).
    let value = row["value"].as_f64().expect("value");
    assert!(
        value > row["upper"].as_f64().expect("upper") && value > row["expected"].as_f64().expect("expected"),
        "{row}"
    );
    let event = poll_until(&server, "the anomaly event", Duration::from_secs(30), || {
        receiver.delivered().into_iter().map(|r| r.json()).find(|e| {
            e["data"]["measurement"] == "tenant_usage"
                && e["data"]["tags"]["tenant"] == "default"
                && e["data"]["value"].as_f64().is_some_and(|v| v > 100.0)
        })
    });
    assert_eq!(event["type"], "io.augur.anomaly.detected", "{event}");
    assert_eq!(event["data"]["database"], "_internal", "{event}");
    // The watches trained models, and the training time was measured.
    let metrics = server.get("/metrics").body;
    let trained = metrics
        .lines()
        .find_map(|l| l.strip_prefix("augur_model_training_duration_seconds_count "))
        .and_then(|v| v.parse::<f64>().ok());
    assert!(trained.is_some_and(|n| n >= 2.0), "{metrics}");
}
