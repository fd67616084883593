//! The real InfluxDB 1.x `influx` CLI against Augur.
//!
//! The CLI is the reference client: it pings the server, runs statements
//! through `/query`, writes `INSERT`s and `-import` files through `/write`.
//! These tests run it as users do — `-execute` for DDL and `SHOW`
//! statements, `-import -precision=s` for a file with `# DDL`, `# DML` and
//! `# CONTEXT-DATABASE:` / `# CONTEXT-RETENTION-POLICY:` sections — and
//! check the results through Augur's export, point by point.
//!
//! The CLI comes from the Debian package `influxdb-client`, installed by
//! `tests/scripts/deps.sh`. Without it these tests fail (they never pass
//! silently); `INFLUX_BIN` names another binary.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use augur_engine::model::{FieldValue as V, Precision};
use augur_tests::{assert_same_points, lines, point_set, run_bounded, PointSet, Server, TestPoint};

/// Longest a CLI invocation may take.
const CLI_TIMEOUT: Duration = Duration::from_secs(60);

/// The `influx` binary: `$INFLUX_BIN`, else `influx` on `PATH`.
fn influx_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("INFLUX_BIN").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "INFLUX_BIN={} does not exist: unset it and run tests/scripts/deps.sh", path.display());
        return path;
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).map(|dir| dir.join("influx")).find(|candidate| candidate.is_file()).unwrap_or_else(
        || {
            panic!(
                "the `influx` CLI (InfluxDB 1.x, Debian package influxdb-client) is not installed: \
                 run tests/scripts/deps.sh, or set INFLUX_BIN"
            )
        },
    )
}

/// Runs `influx -host 127.0.0.1 -port PORT ARGS...`; returns its output.
fn influx(server: &Server, args: &[&str]) -> Output {
    let port = server.port().to_string();
    let mut cmd = Command::new(influx_bin());
    cmd.args(["-host", "127.0.0.1", "-port", &port]).args(args);
    // No history file or user settings from the caller's home.
    cmd.env("HOME", server.scratch_dir());
    run_bounded(&mut cmd, CLI_TIMEOUT)
}

/// Runs the CLI and asserts it succeeded; returns stdout and stderr joined.
#[track_caller]
fn influx_ok(server: &Server, args: &[&str]) -> String {
    let out = influx(server, args);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "influx {args:?} failed ({}):\n{text}", out.status);
    text
}

/// The names listed under the `----` rule of the CLI's column output.
fn listed_names(output: &str) -> Vec<String> {
    output
        .lines()
        .skip_while(|l| !l.starts_with("----"))
        .skip(1)
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

fn now_s() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(d.as_secs()).expect("fits")
}

#[test]
fn execute_creates_lists_and_drops_databases() {
    let server = Server::start_default();
    let out = influx_ok(&server, &["-execute", "CREATE DATABASE cli_db"]);
    assert!(!out.contains("ERR"), "{out}");
    let out = influx_ok(&server, &["-execute", "SHOW DATABASES"]);
    assert!(out.contains("name: databases"), "column output: {out}");
    assert_eq!(listed_names(&out), vec!["cli_db"], "{out}");
    // The server agrees.
    assert_eq!(server.databases(), vec!["cli_db"]);

    // JSON format, and the retention policies of the new database.
    let out = influx_ok(&server, &["-format", "json", "-execute", "SHOW DATABASES"]);
    let json: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(json["results"][0]["series"][0]["values"], serde_json::json!([["cli_db"]]), "{out}");
    let out = influx_ok(&server, &["-execute", "SHOW RETENTION POLICIES ON cli_db"]);
    assert!(
        out.lines().any(|l| l.starts_with("autogen ") && l.trim_end().ends_with("true")),
        "autogen is the default policy: {out}"
    );

    // INSERT through the CLI, then SHOW MEASUREMENTS.
    influx_ok(&server, &["-database", "cli_db", "-execute", "INSERT cpu,host=z value=9.5 1700000000000000000"]);
    let out = influx_ok(&server, &["-database", "cli_db", "-execute", "SHOW MEASUREMENTS"]);
    assert_eq!(listed_names(&out), vec!["cpu"], "{out}");
    let got = PointSet::from_points(&server.export_points("cli_db"));
    let want = PointSet::from_line_protocol("cpu,host=z value=9.5 1700000000000000000\n", Precision::Nanoseconds);
    assert_same_points(&want, &got, "CLI INSERT");

    // A statement the server rejects makes the CLI fail, visibly.
    let bad = influx(&server, &["-execute", "SELEC nothing"]);
    let text = format!("{}{}", String::from_utf8_lossy(&bad.stdout), String::from_utf8_lossy(&bad.stderr));
    assert!(!bad.status.success(), "bad statement must fail: {text}");
    assert!(text.contains("error parsing query"), "{text}");

    influx_ok(&server, &["-execute", "DROP DATABASE cli_db"]);
    let out = influx_ok(&server, &["-execute", "SHOW DATABASES"]);
    assert!(listed_names(&out).is_empty(), "dropped: {out}");
}

/// The points of the import file: every field type, escapes, two
/// retention policies; timestamps in whole seconds close to now so the
/// one-day policy keeps them.
fn import_points(now: i64) -> (Vec<TestPoint>, Vec<TestPoint>) {
    let start = (now - 3_600) * 1_000_000_000;
    let autogen = (0..3_000)
        .map(|k: i64| {
            TestPoint::new(if k % 3 == 0 { "cpu" } else { "disk usage" }, start + k * 1_000_000_000)
                .tag("host", &format!("web-{}", k % 7))
                .tag("dc", if k % 2 == 0 { "eu west" } else { "us,east" })
                .field("value", V::Float(k as f64 * 0.1 - 37.0))
                .field("n", V::Integer(k * 1_000_003 - 5))
                .field("u", V::Unsigned(u64::MAX - k as u64))
                .field("ok", V::Boolean(k % 5 == 0))
                .field("msg", V::String(format!("line {k} \"quoted\" \\ done")))
        })
        .collect();
    let oneday = (0..50)
        .map(|k: i64| {
            TestPoint::new("mem", start + k * 60_000_000_000)
                .tag("host", "db-1")
                .field("used", V::Float(1e9 + k as f64))
        })
        .collect();
    (autogen, oneday)
}

#[test]
fn import_file_with_ddl_and_dml_sections_round_trips() {
    let server = Server::start_default();
    let (autogen, oneday) = import_points(now_s());
    let mut file = String::new();
    file.push_str("# DDL\n");
    file.push_str("CREATE DATABASE cli_import\n");
    file.push_str("CREATE RETENTION POLICY oneday ON cli_import DURATION 1d REPLICATION 1\n");
    file.push('\n');
    file.push_str("# DML\n");
    file.push_str("# CONTEXT-DATABASE: cli_import\n");
    file.push_str("# CONTEXT-RETENTION-POLICY: autogen\n");
    file.push_str("# a comment inside the data\n");
    file.push_str(&lines(&autogen[..1_500], Precision::Seconds));
    file.push('\n');
    file.push_str(&lines(&autogen[1_500..], Precision::Seconds));
    file.push_str("# CONTEXT-RETENTION-POLICY: oneday\n");
    file.push_str(&lines(&oneday, Precision::Seconds));
    let path = server.scratch_dir().join("import.txt");
    std::fs::write(&path, &file).expect("write the import file");

    let out = influx_ok(&server, &["-import", &format!("-path={}", path.display()), "-precision=s"]);
    let total = autogen.len() + oneday.len();
    assert!(out.contains("Processed 2 commands"), "{out}");
    assert!(out.contains(&format!("Processed {total} inserts")), "{out}");
    assert!(out.contains("Failed 0 inserts"), "{out}");

    let out = influx_ok(&server, &["-execute", "SHOW DATABASES"]);
    assert!(listed_names(&out).contains(&"cli_import".to_string()), "{out}");
    let out = influx_ok(&server, &["-execute", "SHOW RETENTION POLICIES ON cli_import"]);
    assert!(out.lines().any(|l| l.starts_with("oneday ")), "{out}");

    let got = PointSet::from_points(&augur_tests::parse_export(&server.export_query("db=cli_import&rp=autogen")));
    assert_same_points(&point_set(&autogen), &got, "imported into autogen");
    let got = PointSet::from_points(&augur_tests::parse_export(&server.export_query("db=cli_import&rp=oneday")));
    assert_same_points(&point_set(&oneday), &got, "imported into oneday");
}

#[test]
fn import_failures_are_reported_by_the_cli() {
    let server = Server::start_default();
    server.create_database("half");
    let path = server.scratch_dir().join("bad.txt");
    std::fs::write(
        &path,
        "# DML\n# CONTEXT-DATABASE: half\ncpu v=1 1700000000\nnot line protocol\ncpu v=2 1700000001\n",
    )
    .expect("write the import file");
    let out = influx(&server, &["-import", &format!("-path={}", path.display()), "-precision=s"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(!out.status.success(), "the CLI reports the bad line: {text}");
    assert!(text.contains("unable to parse 'not line protocol'"), "{text}");
    // The valid lines of the batch are stored, as InfluxDB does.
    let got = PointSet::from_points(&server.export_points("half"));
    let want = PointSet::from_line_protocol("cpu v=1 1700000000\ncpu v=2 1700000001\n", Precision::Seconds);
    assert_same_points(&want, &got, "valid lines of a failed import batch");
}

/// Runs `SELECT`s through the CLI in each output format and compares the
/// text with what the same CLI prints against InfluxDB 1.6.7 with the same
/// points (checked by hand; the CLI re-renders the server's JSON, so this
/// proves the JSON carries what the CLI needs: types, nulls, tags, names).
#[test]
fn execute_select_in_json_csv_and_column_formats() {
    let server = Server::start_default();
    server.create_database("clidb");
    let reply = server.write_precision(
        "clidb",
        "s",
        "cpu,host=a v=1.5,n=3i,s=\"x y\" 1704067200\ncpu,host=b v=2,n=4i 1704067260\ncpu,host=a v=-1 1704067320\n",
    );
    assert_eq!(reply.status, 204, "{reply}");
    let run = |extra: &[&str], q: &str| -> String {
        let mut args = vec!["-database", "clidb"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-execute", q]);
        influx_ok(&server, &args)
    };

    let out = run(&["-format", "json"], "SELECT * FROM cpu");
    let got: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    let want = serde_json::json!({"results":[{"series":[{"name":"cpu","columns":["time","host","n","s","v"],"values":[
        [1704067200000000000_i64,"a",3,"x y",1.5],[1704067260000000000_i64,"b",4,null,2],[1704067320000000000_i64,"a",null,null,-1]]}]}]});
    assert!(augur_tests::jsoncmp::json_match(&got, &want), "json format:\n{out}");

    let out = run(&["-format", "csv"], "SELECT * FROM cpu");
    assert_eq!(
        out,
        "name,time,host,n,s,v\n\
         cpu,1704067200000000000,a,3,x y,1.5\n\
         cpu,1704067260000000000,b,4,,2\n\
         cpu,1704067320000000000,a,,,-1\n",
        "csv format"
    );

    let out = run(&["-format", "column"], "SELECT * FROM cpu");
    assert_eq!(
        out,
        "name: cpu\n\
         time                host n s   v\n\
         ----                ---- - -   -\n\
         1704067200000000000 a    3 x y 1.5\n\
         1704067260000000000 b    4     2\n\
         1704067320000000000 a          -1\n",
        "column format"
    );

    let out = run(&["-precision", "rfc3339"], "SELECT mean(v), count(n) FROM cpu GROUP BY host");
    assert_eq!(
        out,
        "name: cpu\n\
         tags: host=a\n\
         time                 mean count\n\
         ----                 ---- -----\n\
         1970-01-01T00:00:00Z 0.25 1\n\
         \n\
         name: cpu\n\
         tags: host=b\n\
         time                 mean count\n\
         ----                 ---- -----\n\
         1970-01-01T00:00:00Z 2    1\n",
        "column format with tags"
    );

    let out = run(
        &["-format", "csv", "-precision", "rfc3339"],
        "SELECT count(v) FROM cpu WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:03:00Z' \
         GROUP BY time(1m); SHOW TAG VALUES WITH KEY = host",
    );
    assert_eq!(
        out,
        "name,time,count\n\
         cpu,2024-01-01T00:00:00Z,1\n\
         cpu,2024-01-01T00:01:00Z,1\n\
         cpu,2024-01-01T00:02:00Z,1\n\
         name,key,value\n\
         cpu,host,a\n\
         cpu,host,b\n",
        "csv format, two statements"
    );

    let out = run(&["-format", "json", "-pretty"], "SHOW FIELD KEYS");
    let got: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(
        got,
        serde_json::json!({"results":[{"series":[{"name":"cpu","columns":["fieldKey","fieldType"],
            "values":[["n","integer"],["s","string"],["v","float"]]}]}]}),
        "pretty json: {out}"
    );
    assert!(out.contains("\n    \"results\": ["), "indented: {out}");

    // A statement error: the CLI prints ERR and exits non-zero.
    let bad = influx(&server, &["-database", "clidb", "-execute", "SELECT mean(s) FROM cpu"]);
    let text = format!("{}{}", String::from_utf8_lossy(&bad.stdout), String::from_utf8_lossy(&bad.stderr));
    assert!(!bad.status.success(), "{text}");
    assert!(text.contains("ERR: unsupported mean iterator type: "), "{text}");
}

#[test]
fn influx_cli_logs_in_with_username_and_password() {
    let server = Server::start(augur_tests::ServerOptions::with_auth("augur_cli_login_admin_token_0123456789"));
    server
        .query("CREATE USER ann WITH PASSWORD 'ann-secret-1'; CREATE DATABASE cli_auth; GRANT ALL ON cli_auth TO ann");
    let text = influx_ok(
        &server,
        &["-username", "ann", "-password", "ann-secret-1", "-database", "cli_auth", "-execute", "INSERT m v=1 1"],
    );
    assert!(!text.contains("ERR"), "{text}");
    let text = influx_ok(
        &server,
        &["-username", "ann", "-password", "ann-secret-1", "-execute", "SHOW DATABASES", "-format", "csv"],
    );
    assert_eq!(text.trim(), "name,name\ndatabases,cli_auth", "ann sees only her database");
    let text = influx_ok(
        &server,
        &[
            "-username",
            "ann",
            "-password",
            "ann-secret-1",
            "-database",
            "cli_auth",
            "-execute",
            "SELECT v FROM m",
            "-format",
            "csv",
        ],
    );
    assert!(text.contains("m,1,1"), "{text}");
    // A wrong password: the CLI reports InfluxDB's error and fails.
    let out = influx(&server, &["-username", "ann", "-password", "wrong-password", "-execute", "SHOW DATABASES"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("authorization failed"), "{text}");
    // No credentials at all.
    let out = influx(&server, &["-execute", "SHOW DATABASES"]);
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("unable to parse authentication credentials"), "{text}");
}
