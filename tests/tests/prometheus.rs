//! Prometheus remote_write into `POST /api/v1/write`, end to end: the real
//! Prometheus (Debian's `prometheus` package) scraping itself and
//! remote-writing into the real binary with a token, and handcrafted
//! requests (snappy + protobuf built here) for the exact mapping and every
//! refusal.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use augur_engine::model::{FieldValue, Point};
use augur_engine::remote_write::{encode, Label, Sample, TimeSeries, WriteRequest};
use augur_tests::{poll_until, Reply, Server, ServerOptions};
use serde_json::Value;

const TOKEN: &str = "prom-admin-token";

fn series(labels: &[(&str, &str)], samples: &[(f64, i64)]) -> TimeSeries {
    TimeSeries {
        labels: labels.iter().map(|(n, v)| Label::new(n, v)).collect(),
        samples: samples.iter().map(|&(value, timestamp)| Sample { value, timestamp }).collect(),
        histograms: Vec::new(),
    }
}

/// POSTs a remote_write body the way Prometheus does (headers included).
fn remote_write(server: &Server, path: &str, body: Vec<u8>) -> Reply {
    server.send(
        server
            .client()
            .post(server.url(path))
            .header("Content-Encoding", "snappy")
            .header("Content-Type", "application/x-protobuf")
            .header("X-Prometheus-Remote-Write-Version", "0.1.0")
            .body(body),
    )
}

/// A snappy block holding `bytes` as one literal (at most 60 bytes), built
/// by hand so a test can wrap anything, valid protobuf or not.
fn snappy_literal(bytes: &[u8]) -> Vec<u8> {
    assert!(!bytes.is_empty() && bytes.len() <= 60);
    let mut block = vec![bytes.len() as u8, ((bytes.len() - 1) as u8) << 2];
    block.extend_from_slice(bytes);
    block
}

/// Runs `q` on `db` and returns the first result's series (empty when none).
fn series_of(server: &Server, db: &str, q: &str) -> Vec<Value> {
    let reply = server.query_raw(q, Some(db));
    assert_eq!(reply.status, 200, "{q}: {reply}");
    let json = reply.json();
    assert!(json["results"][0].get("error").is_none(), "{q}: {json}");
    json["results"][0]["series"].as_array().cloned().unwrap_or_default()
}

fn point(measurement: &str, tags: &[(&str, &str)], value: f64, ms: i64) -> Point {
    Point {
        measurement: measurement.into(),
        tags: tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        fields: vec![("value".into(), FieldValue::Float(value))],
        timestamp: Some(ms * 1_000_000),
    }
}

#[test]
fn handcrafted_requests_map_exactly_and_bad_ones_are_400_with_the_rest_kept() {
    let server = Server::start(ServerOptions::with_auth(TOKEN));
    server.create_database("prom");

    // The mapping: __name__ → measurement, labels → tags (empty ones
    // dropped), each sample → field `value` at its timestamp in ms.
    let body = encode(&WriteRequest {
        timeseries: vec![
            series(
                &[("__name__", "http_requests_total"), ("job", "api"), ("code", "200"), ("unused", "")],
                &[(10.0, 1_700_000_000_000), (12.5, 1_700_000_015_000)],
            ),
            series(&[("instance", "a:9100"), ("__name__", "up")], &[(1.0, 1_700_000_000_000)]),
            // A staleness marker is skipped, not stored and not an error.
            series(&[("__name__", "up"), ("instance", "b:9100")], &[(f64::from_bits(0x7ff0_0000_0000_0002), 1)]),
        ],
    });
    let r = remote_write(&server, "/api/v1/write?db=prom", body);
    assert_eq!(r.status, 204, "{r}");
    let mut points = server.export_points("prom");
    points.sort_by(|a, b| (&a.measurement, a.timestamp).cmp(&(&b.measurement, b.timestamp)));
    assert_eq!(
        points,
        [
            point("http_requests_total", &[("code", "200"), ("job", "api")], 10.0, 1_700_000_000_000),
            point("http_requests_total", &[("code", "200"), ("job", "api")], 12.5, 1_700_000_015_000),
            point("up", &[("instance", "a:9100")], 1.0, 1_700_000_000_000),
        ]
    );
    // Queried like any other data.
    let rows = series_of(&server, "prom", "SELECT sum(value) FROM http_requests_total WHERE job = 'api'");
    assert_eq!(rows[0]["values"][0][1], 22.5, "{rows:?}");

    // Not snappy: 400, naming snappy.
    let r = remote_write(&server, "/api/v1/write?db=prom", b"cpu value=1".to_vec());
    assert_eq!(r.status, 400, "{r}");
    assert!(r.error_text().contains("invalid snappy block"), "{r}");
    // Snappy, but not protobuf (field 1 with wire type 7): 400, naming protobuf.
    let r = remote_write(&server, "/api/v1/write?db=prom", snappy_literal(&[0x0f, 0x01, 0x02]));
    assert_eq!(r.status, 400, "{r}");
    assert!(r.error_text().starts_with("invalid protobuf WriteRequest"), "{r}");

    // Partial write: the bad series are named by index, the good ones stored.
    let mut bad_utf8 = series(&[("__name__", "bad_utf8")], &[(1.0, 1_700_000_000_000)]);
    bad_utf8.labels.push(Label { name: b"host".to_vec(), value: vec![0xc3, 0x28] });
    let body = encode(&WriteRequest {
        timeseries: vec![
            series(&[("__name__", "kept"), ("k", "a")], &[(1.0, 1_700_000_000_000)]),
            series(&[("job", "no_name")], &[(2.0, 1_700_000_000_000)]),
            series(&[("__name__", "dup"), ("k", "1"), ("k", "2")], &[(3.0, 1_700_000_000_000)]),
            bad_utf8,
            series(&[("__name__", "kept"), ("k", "b")], &[(4.0, 1_700_000_000_000)]),
        ],
    });
    let r = remote_write(&server, "/api/v1/write?db=prom", body);
    assert_eq!(r.status, 400, "{r}");
    let text = r.error_text();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines,
        [
            "timeseries 1 ({job=\"no_name\"}): missing metric name (no __name__ label)",
            "timeseries 2 (dup{k=\"1\",k=\"2\"}): duplicate label name: k",
            "timeseries 3 (bad_utf8{host=\"\u{fffd}(\"}): label is not valid UTF-8: label 1 value \"\u{fffd}(\"",
        ],
        "{r}"
    );
    let rows = series_of(&server, "prom", "SELECT value FROM kept GROUP BY k");
    let kept: Vec<(String, f64)> = rows
        .iter()
        .map(|s| (s["tags"]["k"].as_str().unwrap_or_default().to_string(), s["values"][0][1].as_f64().unwrap_or(-1.0)))
        .collect();
    assert_eq!(kept, [("a".to_string(), 1.0), ("b".to_string(), 4.0)]);
    for gone in ["dup", "bad_utf8"] {
        assert!(series_of(&server, "prom", &format!("SELECT * FROM {gone}")).is_empty(), "{gone} stored");
    }

    // The store's own refusals (a field type conflict) name the series too.
    server.write_ok("prom", "typed value=1i 1700000000000000000\n");
    let body = encode(&WriteRequest {
        timeseries: vec![
            series(&[("__name__", "fine")], &[(1.0, 1_700_000_000_000)]),
            series(&[("__name__", "typed")], &[(1.5, 1_700_000_000_000), (2.5, 1_700_000_001_000)]),
        ],
    });
    let r = remote_write(&server, "/api/v1/write?db=prom", body);
    assert_eq!(r.status, 400, "{r}");
    assert!(r.error_text().starts_with("partial write: timeseries 1: field type conflict"), "{r}");
    assert!(r.error_text().ends_with("dropped=2"), "{r}");
    assert_eq!(series_of(&server, "prom", "SELECT count(value) FROM fine")[0]["values"][0][1], 1);

    // remote_write 2.0 gets 415, so a 2.0 sender falls back to 1.0.
    let r = server.send(
        server
            .client()
            .post(server.url("/api/v1/write?db=prom"))
            .header("Content-Type", "application/x-protobuf;proto=io.prometheus.write.v2.Request")
            .body(encode(&WriteRequest::default())),
    );
    assert_eq!(r.status, 415, "{r}");

    // The same rules as /write: credentials, database, body size.
    let anonymous = reqwest::blocking::Client::builder().no_proxy().build().expect("client");
    let r = server.send(anonymous.post(server.url("/api/v1/write?db=prom")).body(encode(&WriteRequest::default())));
    assert_eq!(r.status, 401, "{r}");
    let r = server.send(
        anonymous
            .post(server.url("/api/v1/write?db=prom"))
            .header("Authorization", "Token not-the-token")
            .body(encode(&WriteRequest::default())),
    );
    assert_eq!(r.status, 401, "{r}");
    let r = remote_write(&server, "/api/v1/write", encode(&WriteRequest::default()));
    assert_eq!((r.status, r.error_text().as_str()), (400, "database is required"), "{r}");
    let one = encode(&WriteRequest { timeseries: vec![series(&[("__name__", "m")], &[(1.0, 1)])] });
    let r = remote_write(&server, "/api/v1/write?db=nope", one.clone());
    assert_eq!(r.status, 404, "{r}");
    let r = remote_write(&server, "/api/v1/write?db=prom&rp=nope", one);
    assert_eq!(r.status, 404, "{r}");
}

#[test]
fn body_limits_hold_for_remote_write() {
    let server = Server::start(ServerOptions::with_config("[http]\nmax_body_size = 4096\n"));
    server.create_database("prom");
    // Compresses far below the limit, decompresses far above it.
    let big = encode(&WriteRequest {
        timeseries: (0..200)
            .map(|i| series(&[("__name__", "m"), ("series", &format!("{i:0>40}"))], &[(1.0, 1)]))
            .collect(),
    });
    assert!(big.len() < 4096, "{}", big.len());
    let r = remote_write(&server, "/api/v1/write?db=prom", big);
    assert_eq!(r.status, 413, "{r}");
    assert!(server.export("prom").is_empty());
}

#[test]
fn tenant_limits_apply_to_remote_write_as_to_write() {
    let server = Server::start(ServerOptions::with_auth(TOKEN));
    server.create_database("prom");
    let put_limits = |limits: Value| {
        let body = serde_json::json!({ "limits": limits });
        let r = server.send(server.client().put(server.url("/v1/tenants/default")).json(&body));
        assert_eq!(r.status, 200, "{r}");
    };
    // max_series: the first three series fit; the others are named and dropped.
    put_limits(serde_json::json!({"max_series": 3}));
    let body = encode(&WriteRequest {
        timeseries: (0..5).map(|i| series(&[("__name__", "card"), ("host", &format!("h{i}"))], &[(1.0, 1)])).collect(),
    });
    let r = remote_write(&server, "/api/v1/write?db=prom", body);
    assert_eq!(r.status, 400, "{r}");
    let text = r.error_text();
    assert!(text.starts_with("partial write: timeseries 3: max-series-per-tenant limit exceeded"), "{r}");
    assert!(text.contains("timeseries 4:") && text.ends_with("dropped=2"), "{r}");
    assert_eq!(series_of(&server, "prom", "SELECT count(value) FROM card")[0]["values"][0][1], 3);
    // max_points_per_second: the first second's worth is admitted, then 429
    // naming the limit (Prometheus retries it), and nothing of it is stored.
    put_limits(serde_json::json!({"max_series": 0, "max_points_per_second": 100}));
    let flood = |start: i64| {
        let samples: Vec<(f64, i64)> = (start..start + 100).map(|i| (i as f64, 1_000 + i)).collect();
        encode(&WriteRequest { timeseries: vec![series(&[("__name__", "flood")], &samples)] })
    };
    let r = remote_write(&server, "/api/v1/write?db=prom", flood(0));
    assert_eq!(r.status, 204, "{r}");
    let r = remote_write(&server, "/api/v1/write?db=prom", flood(100));
    assert_eq!(r.status, 429, "{r}");
    assert!(r.error_text().contains("max_points_per_second"), "{r}");
    assert_eq!(series_of(&server, "prom", "SELECT count(value) FROM flood")[0]["values"][0][1], 100);
}

// ---------------------------------------------------------------------------
// The real Prometheus.
// ---------------------------------------------------------------------------

/// A running Prometheus, killed on drop.
struct Prometheus {
    child: Child,
    port: u16,
    log: PathBuf,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

impl Prometheus {
    /// Starts Prometheus scraping itself every second, remote-writing to
    /// Augur with `remote_write` (YAML list items).
    fn start(dir: &Path, remote_write: &str) -> Prometheus {
        let port = free_port();
        let config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: prometheus\n    static_configs:\n      - targets: ['127.0.0.1:{port}']\n\
             remote_write:\n{remote_write}"
        );
        let config_path = dir.join("prometheus.yml");
        std::fs::write(&config_path, config).expect("prometheus.yml");
        let log = dir.join("prometheus.log");
        let log_file = std::fs::File::create(&log).expect("log");
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config_path.display()))
            .arg(format!("--storage.tsdb.path={}", dir.join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot run `prometheus` ({e}): run tests/scripts/deps.sh (installs Debian's prometheus)")
            });
        Prometheus { child, port, log }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The value of the last point of a one-row query (`None` while there is none).
fn last_value(server: &Server, db: &str, q: &str) -> Option<f64> {
    series_of(server, db, q).first()?["values"][0][1].as_f64()
}

#[test]
fn real_prometheus_remote_writes_its_own_metrics_with_a_token() {
    // Wrong-token requests count as failed logins; with the default limit the
    // shared loopback address would be throttled (429) for the good token too.
    let options =
        ServerOptions { config: Some("[auth]\nmax_failures = 0\n".into()), ..ServerOptions::with_auth(TOKEN) };
    let server = Server::start(options);
    server.create_database("prom");
    server.create_database("prom_denied");
    let augur = server.port();
    let remote_write = format!(
        "  - name: augur\n    url: http://127.0.0.1:{augur}/api/v1/write?db=prom\n\
         \x20   authorization:\n      type: Token\n      credentials: {TOKEN}\n\
         \x20   queue_config:\n      batch_send_deadline: 1s\n      min_backoff: 100ms\n      max_backoff: 1s\n\
         \x20 - name: wrong_token\n    url: http://127.0.0.1:{augur}/api/v1/write?db=prom_denied\n\
         \x20   authorization:\n      type: Token\n      credentials: not-{TOKEN}\n\
         \x20   queue_config:\n      batch_send_deadline: 1s\n"
    );
    let prometheus = Prometheus::start(server.scratch_dir(), &remote_write);
    let instance = format!("127.0.0.1:{}", prometheus.port);
    let limit = Duration::from_secs(120);

    // Several scrapes of `up` arrive, with the target's labels as tags.
    let when = |what: &str| format!("{what}; prometheus log:\n{}", prometheus.log());
    poll_until(&server, &when("three scrapes of `up`"), limit, || {
        last_value(&server, "prom", "SELECT count(value) FROM up").filter(|&n| n >= 3.0)
    });
    let up = series_of(&server, "prom", "SELECT last(value) FROM up GROUP BY *");
    assert_eq!(up.len(), 1, "{up:?}");
    assert_eq!(up[0]["tags"]["job"], "prometheus", "{up:?}");
    assert_eq!(up[0]["tags"]["instance"], instance.as_str(), "{up:?}");
    assert_eq!(up[0]["values"][0][1], 1.0, "{up:?}");

    // The build info: its labels as tags, value 1.
    let info = series_of(&server, "prom", "SELECT last(value) FROM prometheus_build_info GROUP BY *");
    assert_eq!(info.len(), 1, "{info:?}");
    let version = info[0]["tags"]["version"].as_str().unwrap_or_default();
    assert!(version.starts_with("2."), "{info:?}");
    assert_eq!(info[0]["tags"]["job"], "prometheus");
    assert_eq!(info[0]["values"][0][1], 1.0);

    // Plausible values and timestamps: a counter that only grows, recent samples.
    let scraped = last_value(&server, "prom", "SELECT last(value) FROM scrape_samples_scraped").expect("scraped");
    assert!(scraped > 100.0, "Prometheus exposes hundreds of its own series: {scraped}");
    let measurements = series_of(&server, "prom", "SHOW MEASUREMENTS");
    let names = measurements[0]["values"].as_array().map(Vec::len).unwrap_or(0);
    assert!(names > 100, "{names} measurements");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let rows = series_of(&server, "prom", "SELECT value FROM up");
    let times: Vec<i64> = rows[0]["values"]
        .as_array()
        .expect("values")
        .iter()
        .map(|row| {
            let text = row[0].as_str().expect("RFC 3339 time");
            chrono::DateTime::parse_from_rfc3339(text).expect("time").timestamp_millis()
        })
        .collect();
    assert!(times.iter().all(|&t| (now_ms - t).abs() < 300_000), "{times:?} vs {now_ms}");
    assert!(times.windows(2).all(|w| w[0] < w[1]), "one point per scrape: {times:?}");

    // The wrong token is answered 401, which Prometheus does not retry: its
    // failure counter for that remote grows (and arrives here through the
    // good remote), and nothing reaches the other database.
    let failed = poll_until(&server, &when("failed samples for the wrong token"), limit, || {
        last_value(
            &server,
            "prom",
            "SELECT max(value) FROM prometheus_remote_storage_samples_failed_total WHERE remote_name = 'wrong_token'",
        )
        .filter(|&n| n > 0.0)
    });
    assert!(failed > 0.0);
    assert!(series_of(&server, "prom_denied", "SHOW MEASUREMENTS").is_empty(), "the wrong token wrote data");
    assert!(prometheus.log().contains("401"), "Prometheus logs the 401:\n{}", prometheus.log());
    // Augur accepted every sample the good remote sent.
    let good_failed = last_value(
        &server,
        "prom",
        "SELECT max(value) FROM prometheus_remote_storage_samples_failed_total WHERE remote_name = 'augur'",
    );
    assert_eq!(good_failed, Some(0.0), "log:\n{}", prometheus.log());
    drop(prometheus);
}
