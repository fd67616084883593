//! The dashboard in a real browser: starts augur with authentication on,
//! writes known data (a series, `_internal` pool and forecast-accuracy
//! points in the monitor's schema, anomalies, a webhook delivery, a pool
//! whose demand bursts every ten minutes and one with a nightly job), then runs
//! `tests/browser/dashboard.mjs`, which opens the page in Debian's chromium
//! through playwright-core, signs in with the token, visits every view and
//! checks that each chart plotted as many points as were written. The
//! screenshots stay in `<target>/test-output/dashboard/`.
//!
//! Needs `chromium`, `node` and `npm ci --prefix tests/browser`
//! (tests/scripts/deps.sh installs them); without them the test fails and
//! says so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use augur_tests::receiver::Receiver;
use augur_tests::{poll_until, Server, ServerOptions};
use reqwest::header::CONTENT_TYPE;
use serde_json::json;

const TOKEN: &str = "augur_test_operator_token_dashboard_0123456789";
const DB: &str = "demo";
/// Points of the `load` series, one a minute.
const POINTS: usize = 60;
/// Forecast buckets asked for in the forecast view.
const HORIZON: usize = 12;
/// Indexes of the points flagged as anomalies.
const ANOMALOUS: [usize; 3] = [20, 35, 50];
/// Indexes of the pool cycles with a scaling action.
const ACTIONS: [(usize, &str); 3] = [(10, "scale_up"), (30, "scale_up"), (50, "scale_down")];
/// Forecast-accuracy points (the last ones of the series' times).
const ACCURACY_POINTS: usize = 10;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("tests/ has a parent").to_path_buf()
}

/// `<target>/test-output/dashboard`, next to cargo's `<target>/tmp`.
fn output_dir() -> PathBuf {
    let tmp = Path::new(env!("CARGO_TARGET_TMPDIR"));
    tmp.parent().unwrap_or(tmp).join("test-output").join("dashboard")
}

/// The browser and the Node modules, or a failure naming the fix.
fn browser_tools() -> (PathBuf, PathBuf) {
    let fix = "run tests/scripts/deps.sh (installs Debian's chromium and runs `npm ci --prefix tests/browser`)";
    let chromium = std::env::var_os("AUGUR_CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(chromium.is_file(), "{} is missing: {fix}", chromium.display());
    let node = Command::new("node").arg("--version").output();
    assert!(node.is_ok_and(|o| o.status.success()), "`node` is missing: {fix}");
    let browser_dir = repo_root().join("tests").join("browser");
    let module = browser_dir.join("node_modules").join("playwright-core").join("package.json");
    assert!(module.is_file(), "{} is missing: {fix}", module.display());
    (chromium, browser_dir)
}

/// The series' timestamps (seconds): whole minutes, the last two minutes ago.
fn times() -> Vec<i64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    let last = now / 60 * 60 - 120;
    (0..POINTS).map(|i| last - (POINTS - 1 - i) as i64 * 60).collect()
}

fn value(i: usize) -> f64 {
    50.0 + 10.0 * (i as f64 / 6.0).sin() + i as f64 * 0.1
}

/// Writes the data the views show; returns the webhook receiver (kept alive).
fn write_data(server: &Server, times: &[i64]) -> Receiver {
    server.create_database(DB);
    server.create_database("_internal");
    let mut load = String::new();
    let mut anomalies = String::new();
    let mut pool = String::new();
    let mut actions = String::new();
    let mut accuracy = String::new();
    for (i, t) in times.iter().enumerate() {
        let v = value(i);
        load.push_str(&format!("load,host=a v={v} {t}\n"));
        if ANOMALOUS.contains(&i) {
            anomalies.push_str(&format!(
                "anomalies,measurement=load,field=v,kind=band,host=a value={v},expected={},lower={},upper={},score=4.2,steps=3i {t}\n",
                v - 8.0,
                v - 12.0,
                v - 4.0
            ));
        }
        let (usage, allocated) = (v / 10.0, 8.0 + (i / 20) as f64 * 2.0);
        pool.push_str(&format!(
            "pool,tenant=default,pool=web,dimension=cpu_cores usage={usage},forecast={},required={},allocated={allocated},ready={},unmet=0,utilization={} {t}\n",
            usage * 1.05,
            usage * 1.2,
            allocated - 1.0,
            usage / allocated
        ));
        if let Some((_, action)) = ACTIONS.iter().find(|(at, _)| *at == i) {
            actions.push_str(&format!(
                "pool_action,tenant=default,pool=web,action={action} units=2i,reason=\"forecast {action}\" {t}\n"
            ));
        }
        if i >= POINTS - ACCURACY_POINTS {
            accuracy.push_str(&format!(
                "forecast_accuracy,tenant=default,database={DB},model=ets,key=load.v live_mase={},backtest_mase=0.8,abs_error=1.5,coverage95=0.95,version=1i {t}\n",
                0.7 + i as f64 / 100.0
            ));
        }
    }
    // A batch job: 2 cores, and 30 for one minute every ten minutes.
    let batch: String = times
        .iter()
        .enumerate()
        .map(|(i, t)| format!("batch cpu={} {t}\n", if i % 10 == 5 { 30.0 } else { 2.0 + 0.1 * (i % 3) as f64 }))
        .collect();
    for (db, body) in
        [(DB, load), (DB, anomalies), (DB, batch), ("_internal", pool), ("_internal", actions), ("_internal", accuracy)]
    {
        let r = server.write_precision(db, "s", body);
        assert_eq!(r.status, 204, "write to {db}: {r}");
    }
    // A pool on the batch job, which finds its cadence in its first cycle
    // (before the webhook below subscribes: a new subscription starts at
    // the outbox's head).
    let every = pool_with_bursts(server, "batch", "SELECT sum(cpu) FROM batch GROUP BY time(1m)", "6h");
    assert_eq!(every, "10m0s");
    // A nightly job: six days of 5-minute demand at 2 cores, and 30 for one
    // step each night around three hours from now (its start moving by up to
    // 15 minutes); the pool finds the daily cadence in its first cycle.
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock").as_secs() as i64;
    let last = now / 300 * 300 - 300;
    let jobs: Vec<i64> = [0, 2, -1, 3, 1, -2]
        .iter()
        .enumerate()
        .map(|(d, j)| last + 3 * 3600 - (d as i64 + 1) * 86_400 + j * 300)
        .collect();
    let nightly: String = (0..6 * 288)
        .map(|i| last - i * 300)
        .map(|t| {
            format!("nightly cpu={} {t}\n", if jobs.contains(&t) { 30.0 } else { 2.0 + 0.1 * (t / 300 % 3) as f64 })
        })
        .collect();
    let r = server.write_precision(DB, "s", nightly);
    assert_eq!(r.status, 204, "write the nightly job: {r}");
    let every = pool_with_bursts(server, "nightly", "SELECT sum(cpu) FROM nightly GROUP BY time(5m)", "7d");
    assert_eq!(every, "24h0m0s");
    // One subscription with one delivered test event.
    let receiver = Receiver::start();
    let r = server.send(
        server
            .client()
            .post(server.url("/v1/webhooks"))
            .header(CONTENT_TYPE, "application/json")
            .body(json!({"url": receiver.url(), "description": "dashboard test"}).to_string()),
    );
    assert_eq!(r.status, 201, "{r}");
    let id = r.json()["id"].as_str().expect("id").to_string();
    let r = server.send(server.client().post(server.url(&format!("/v1/webhooks/{id}/test"))));
    assert_eq!(r.status, 202, "{r}");
    poll_until(server, "the test event's delivery", Duration::from_secs(30), || {
        let r = server.get(&format!("/v1/webhooks/{id}/deliveries"));
        (r.json()["recent"].as_array().map_or(0, Vec::len) == 1).then_some(())
    });
    receiver
}

/// Creates pool `name` on the demand `query` (its events committed before
/// the webhook subscribes, none after: the next cycle is an hour away and
/// its units wait for the infrastructure's readiness call), waits for its
/// first cycle to find a cadence, and returns how often the bursts come.
fn pool_with_bursts(server: &Server, name: &str, query: &str, history: &str) -> String {
    let r = server.send(
        server.client().post(server.url("/v1/pools")).header(CONTENT_TYPE, "application/json").body(
            json!({
                "name": name, "dimensions": ["cpu_cores"],
                "shapes": [{"name": "core4", "capacity": {"cpu_cores": 4}, "hourly_cost": 0.1}],
                "max": 20, "lead_time": "5m", "interval": "1h", "history": history,
                "demand": {"cpu_cores": {"database": DB, "query": query}},
                "provider": {"kind": "webhook"},
            })
            .to_string(),
        ),
    );
    assert_eq!(r.status, 201, "{r}");
    poll_until(server, &format!("the {name} pool's first cycle"), Duration::from_secs(60), || {
        let r = server.get(&format!("/v1/pools/{name}"));
        r.json()["demand"]["cpu_cores"]["bursts"]["every"].as_str().map(str::to_string)
    })
}

#[test]
fn dashboard_draws_every_view_in_a_real_browser() {
    let (chromium, browser_dir) = browser_tools();
    let server = Server::start(ServerOptions::with_auth(TOKEN));
    let times = times();
    let _receiver = write_data(&server, &times);
    let out = output_dir();
    std::fs::create_dir_all(&out).expect("create the output directory");
    let spec = json!({
        "url": server.url("/"),
        "token": TOKEN,
        "chromium": chromium,
        "out": out,
        "db": DB,
        "explorer": {"query": "SELECT v FROM load WHERE time > now() - 6h", "points": POINTS, "series": 1},
        "forecast": {
            "measurement": "load", "field": "v", "model": "ets", "horizon": HORIZON,
            "actual": POINTS, "points": POINTS + HORIZON,
        },
        "pools": {"pool": "default/web", "points": POINTS, "series": 5, "actions": ACTIONS.len(), "bursts": [
            "cpu_cores: every 10m0s",
            "cpu_cores: nightly job",
            // The batch pool's 6 hours hold too few nights; it says so.
            "cpu_cores: a nightly job needs 96h9m0s of history to be found; this pool's history is 6h0m0s",
        ]},
        "models": {"accuracy_points": ACCURACY_POINTS},
        "webhooks": {"subscriptions": 1, "deliveries": 1},
        "anomalies": {"rows": ANOMALOUS.len(), "points": POINTS},
    });
    let spec_path = server.scratch_dir().join("dashboard-spec.json");
    std::fs::write(&spec_path, spec.to_string()).expect("write the spec");
    let run = Command::new("node")
        .arg(browser_dir.join("dashboard.mjs"))
        .arg(&spec_path)
        .current_dir(&browser_dir)
        .output()
        .expect("run node");
    let stdout = String::from_utf8_lossy(&run.stdout);
    let stderr = String::from_utf8_lossy(&run.stderr);
    println!("dashboard screenshots: {}", out.display());
    println!("{stdout}");
    assert!(
        run.status.success(),
        "the browser test failed ({}):\n{stderr}\n{stdout}\nscreenshots in {}; server log:\n{}",
        run.status,
        out.display(),
        server.log_tail()
    );
    for shot in ["01-explorer", "02-forecast", "03-pools", "04-models", "05-webhooks", "06-anomalies"] {
        let png = std::fs::read(out.join(format!("{shot}.png"))).expect("screenshot");
        assert!(png.starts_with(b"\x89PNG") && png.len() > 10_000, "{shot}.png is not a real screenshot");
    }
}
