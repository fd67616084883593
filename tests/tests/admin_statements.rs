//! `DELETE`, `DROP SERIES|MEASUREMENT`, `ALTER|DROP RETENTION POLICY`, the
//! cardinality statements, and the `/query` contract (`chunk_size`,
//! `params`, CSV) through the real binary — compared byte for byte with a
//! real `influxd` 1.6.7 started by the test on a loopback port — and a
//! `kill -9` test proving an acknowledged `DELETE` stays deleted.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use augur_tests::{deadline, encode, Server};

/// A private `influxd` 1.6.7 on loopback ports, killed (by PID) on drop.
struct Influxd {
    child: Child,
    port: u16,
    client: reqwest::blocking::Client,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("free port")
}

impl Influxd {
    fn start() -> Influxd {
        let bin =
            std::env::var_os("INFLUXD_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/usr/bin/influxd"));
        assert!(bin.is_file(), "influxd 1.6.7 (Debian package influxdb) is required: {} is missing", bin.display());
        let dir = tempfile::tempdir().expect("tempdir");
        let (port, bind) = (free_port(), free_port());
        let d = dir.path().display();
        let config = format!(
            "reporting-disabled = true\nbind-address = \"127.0.0.1:{bind}\"\n[meta]\n  dir = \"{d}/meta\"\n\
             [data]\n  dir = \"{d}/data\"\n  wal-dir = \"{d}/wal\"\n  query-log-enabled = false\n\
             [http]\n  bind-address = \"127.0.0.1:{port}\"\n  log-enabled = false\n\
             [monitor]\n  store-enabled = false\n[continuous_queries]\n  enabled = false\n"
        );
        let path = dir.path().join("influxd.conf");
        std::fs::write(&path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("log")).expect("log");
        let child = Command::new(bin)
            .arg("-config")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start influxd");
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let influxd = Influxd { child, port, client, _dir: dir };
        let until = deadline(Duration::from_secs(30));
        while client_ping(&influxd).is_err() {
            assert!(std::time::Instant::now() < until, "influxd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        influxd
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

fn client_ping(i: &Influxd) -> Result<(), reqwest::Error> {
    i.client.get(i.url("/ping")).send().map(|_| ())
}

impl Drop for Influxd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body, status and content type of one `/query` POST.
#[derive(Debug, PartialEq)]
struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

/// POSTs a form to `/query` at `base` with optional `Accept`.
fn post_query(client: &reqwest::blocking::Client, base: &str, form: &[(&str, &str)], accept: Option<&str>) -> Answer {
    let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect();
    let mut req = client
        .post(format!("{base}/query"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body(body.join("&"));
    if let Some(a) = accept {
        req = req.header("Accept", a);
    }
    let resp = req.send().expect("query");
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    Answer { status, content_type, body: resp.text().expect("body") }
}

const DATA: &str = "cpu,host=a,region=eu v=1,w=2i 1000000000
cpu,host=a,region=eu v=2 2000000000
cpu,host=b,region=us v=3 3000000000
mem,host=a free=10i 1000000000
mem,host=b free=20i 5000000000
disk,host=c used=1.5 1000000000
";

/// Both servers with `db` holding [`DATA`].
fn both() -> (Server, Influxd) {
    let augur = Server::start_default();
    let influxd = Influxd::start();
    for base in [augur.base_url(), influxd.url("")] {
        let client = reqwest::blocking::Client::new();
        let a = post_query(&client, &base, &[("q", "CREATE DATABASE db")], None);
        assert_eq!(a.status, 200, "{a:?}");
        let w = client.post(format!("{base}/write?db=db")).body(DATA).send().expect("write");
        assert_eq!(w.status().as_u16(), 204);
    }
    (augur, influxd)
}

/// Sends the same request to both and asserts identical answers.
fn same(augur: &Server, influxd: &Influxd, form: &[(&str, &str)], accept: Option<&str>) -> String {
    let client = reqwest::blocking::Client::new();
    let want = post_query(&client, &influxd.url(""), form, accept);
    let got = post_query(&client, &augur.base_url(), form, accept);
    assert_eq!(got.status, want.status, "{form:?}: augur {got:?} influxd {want:?}");
    // Request errors: InfluxDB ends its JSON error body with a newline, Augur's
    // (pre-existing) error writer does not; the documents are compared as is otherwise.
    assert_eq!(got.body.trim_end(), want.body.trim_end(), "{form:?}");
    let (g, w) = (got.content_type.split(';').next(), want.content_type.split(';').next());
    assert_eq!(g, w, "{form:?}: content type");
    got.body
}

#[test]
fn schema_statements_answer_like_influxd() {
    let (augur, influxd) = both();
    let q = |s: &str| same(&augur, &influxd, &[("db", "db"), ("q", s)], None);
    for s in [
        "SHOW SERIES CARDINALITY",
        "SHOW SERIES EXACT CARDINALITY",
        "SHOW MEASUREMENT CARDINALITY",
        "SHOW MEASUREMENT EXACT CARDINALITY",
        "SHOW TAG KEY CARDINALITY",
        "SHOW TAG KEY EXACT CARDINALITY",
        "SHOW TAG VALUES CARDINALITY WITH KEY = host",
        "SHOW TAG VALUES EXACT CARDINALITY WITH KEY =~ /h|r/",
        "SHOW FIELD KEY CARDINALITY",
        "SHOW FIELD KEY EXACT CARDINALITY FROM /m|c/",
        "SHOW SERIES EXACT CARDINALITY FROM cpu WHERE host='a'",
        "SHOW MEASUREMENT EXACT CARDINALITY WHERE host = 'a'",
        "SHOW FIELD KEYS FROM /c/",
        "SHOW FIELD KEYS FROM /nomatch/",
        "SHOW FIELD KEYS LIMIT 1 OFFSET 1",
        "SHOW TAG VALUES CARDINALITY",
        "DELETE",
        "DROP SERIES",
        "ALTER RETENTION POLICY autogen ON db",
        "ALTER RETENTION POLICY autogen ON db DURATION 1h DURATION 2h",
        "SHOW TAG KEY foo",
    ] {
        q(s);
    }
    // Changes, then what they leave.
    for s in [
        // (`DELETE ... WHERE v > 1`: InfluxDB prefixes `shard N: `; see docs.)
        "DROP SERIES WHERE time > 1",
        "DELETE FROM cpu WHERE time > 1500000000 AND host = 'a'",
        "DELETE FROM /c/ WHERE region = 'us'",
        "SELECT * FROM cpu",
        "SHOW SERIES",
        "DROP SERIES WHERE host = 'b'",
        "DROP MEASUREMENT disk",
        "SHOW SERIES",
        "SHOW MEASUREMENTS",
        "SHOW TAG VALUES WITH KEY = host",
        "ALTER RETENTION POLICY autogen ON db DURATION 2h",
        "ALTER RETENTION POLICY autogen ON db DURATION 30m",
        "ALTER RETENTION POLICY autogen ON db REPLICATION 3 SHARD DURATION 30m",
        "CREATE RETENTION POLICY r2 ON db DURATION 1d REPLICATION 1",
        "ALTER RETENTION POLICY r2 ON db DEFAULT",
        "ALTER RETENTION POLICY r2 ON db DURATION INF SHARD DURATION 0s",
        "SHOW RETENTION POLICIES",
        "DROP RETENTION POLICY r2 ON db",
        "DROP RETENTION POLICY nope ON db",
        "SHOW RETENTION POLICIES",
        "ALTER RETENTION POLICY nope ON db DURATION 2h",
    ] {
        q(s);
    }
}

#[test]
fn chunks_params_and_csv_answer_like_influxd() {
    let (augur, influxd) = both();
    fn f<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut form = vec![("db", "db")];
        form.extend_from_slice(extra);
        form
    }
    same(
        &augur,
        &influxd,
        &f(&[
            ("q", "SELECT v FROM cpu; SELECT v FROM cpu GROUP BY host; SHOW SERIES"),
            ("chunked", "true"),
            ("chunk_size", "2"),
        ]),
        None,
    );
    same(&augur, &influxd, &f(&[("q", "SHOW SERIES; SHOW DATABASES"), ("chunked", "true"), ("chunk_size", "1")]), None);
    same(&augur, &influxd, &f(&[("q", "SELECT v FROM cpu GROUP BY host"), ("chunked", "true")]), None);
    same(
        &augur,
        &influxd,
        &f(&[("q", "SELECT v FROM cpu WHERE host = $h AND v > $n"), ("params", r#"{"h":"a","n":1}"#)]),
        None,
    );
    same(
        &augur,
        &influxd,
        &f(&[("q", "SELECT v FROM $m WHERE host = $h"), ("params", r#"{"h":"a","m":{"identifier":"cpu"}}"#)]),
        None,
    );
    same(&augur, &influxd, &f(&[("q", "SELECT v FROM cpu WHERE host = $h"), ("params", r#"{"x":"a"}"#)]), None);
    same(&augur, &influxd, &f(&[("q", "SELECT v FROM cpu WHERE host = $"), ("params", "{}")]), None);
    let csv = Some("application/csv");
    let body = same(
        &augur,
        &influxd,
        &f(&[("q", "SELECT * FROM cpu; SELECT count(v) FROM cpu GROUP BY host; SHOW DATABASES; SHOW TAG VALUES WITH KEY=host; SELECT * FROM nope")]),
        csv,
    );
    assert!(body.starts_with("name,tags,time,host,region,v,w\ncpu,,1000000000,a,eu,1,2\n"), "{body}");
    same(&augur, &influxd, &f(&[("q", "SELECT * FROM cpu GROUP BY host, region"), ("epoch", "s")]), csv);
    same(&augur, &influxd, &f(&[("q", "SELECT v FROM cpu WHERE host=$x"), ("params", "{}")]), csv);
    same(&augur, &influxd, &f(&[("q", "SELECT bad(")]), csv);
}

#[test]
fn acknowledged_delete_survives_kill9() {
    let mut server = Server::start_default();
    server.create_database("db");
    server.write_ok("db", DATA);
    // Sealed blocks for part of the data, the rest only in the WAL/head.
    server.restart();
    server.write_ok("db", "cpu,host=a,region=eu v=9 2500000000\ncpu,host=b,region=us v=8 3500000000\n");
    let reply = server.query_raw("DELETE FROM cpu WHERE host = 'a' AND time >= 1500000000", Some("db"));
    assert_eq!(reply.status, 200, "{reply}");
    assert_eq!(reply.json(), serde_json::json!({"results":[{"statement_id":0}]}));
    let reply = server.query_raw("DROP MEASUREMENT disk; DELETE FROM mem WHERE time < 2000000000", Some("db"));
    assert_eq!(reply.status, 200, "{reply}");
    let check = |server: &Server, when: &str| {
        let rows = server.query_raw("SELECT v FROM cpu GROUP BY host", Some("db")).json();
        assert_eq!(
            rows["results"][0]["series"][0]["values"],
            serde_json::json!([["1970-01-01T00:00:01Z", 1]]),
            "{when}: host a keeps only its first point"
        );
        assert_eq!(rows["results"][0]["series"][1]["values"].as_array().map(Vec::len), Some(2), "{when}");
        let series = server.query_raw("SHOW SERIES", Some("db")).json();
        assert_eq!(
            series["results"][0]["series"][0]["values"],
            serde_json::json!([["cpu,host=a,region=eu"], ["cpu,host=b,region=us"], ["mem,host=b"]]),
            "{when}"
        );
    };
    check(&server, "before the crash");
    server.kill9_restart();
    check(&server, "after kill -9 (WAL replay)");
    server.restart();
    check(&server, "after a graceful restart (sealed)");
}
