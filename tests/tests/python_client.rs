//! The Python `influxdb` client (PyPI, 5.3.x) against the real binary.
//!
//! Many users reach InfluxDB 1.x through `InfluxDBClient`; it parses the
//! `/query` JSON itself (`ResultSet`, `get_points`), builds line protocol
//! from dicts in `write_points`, and turns error bodies into exceptions.
//! The test runs a Python script that drives every one of those paths and
//! prints what it saw as one JSON document, which is compared here with
//! what InfluxDB answers.
//!
//! The client lives in a virtual environment under the target directory
//! (`<target>/python-influxdb-venv`), created with `python3 -m venv` and
//! filled with `pip install influxdb==5.3.2` the first time (PyPI must be
//! reachable then; `PYTHON` names another interpreter). Without python3
//! the test fails — it never passes silently.

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use augur_tests::jsoncmp::{first_difference, json_match};
use augur_tests::{augur_bin, run_bounded, Server};
use serde_json::json;

/// The client version the expectations were checked with.
const CLIENT: &str = "influxdb==5.3.2";

/// The script: one JSON document on stdout.
const SCRIPT: &str = r#"
import json, sys
from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

port = int(sys.argv[1])
c = InfluxDBClient(host="127.0.0.1", port=port, database="py", timeout=30)
out = {"version": c.ping()}
c.create_database("py")
c.create_database("other")
# Sorted: InfluxDB lists databases in creation order, Augur by name (a
# known difference, tracked by tests/conformance/ddl.test).
out["databases"] = sorted(c.get_list_database(), key=lambda d: d["name"])
out["write_dicts"] = c.write_points([
    {"measurement": "cpu", "tags": {"host": "a", "dc": "eu west"}, "time": "2024-01-01T00:00:00Z",
     "fields": {"v": 1.5, "n": 3, "s": "x \"q\"", "b": True}},
    {"measurement": "cpu", "tags": {"host": "b"}, "time": "2024-01-01T00:01:00Z", "fields": {"v": 2.5, "n": 4}},
    {"measurement": "cpu", "tags": {"host": "a", "dc": "eu west"}, "time": "2024-01-01T00:02:00Z",
     "fields": {"v": -1.0}},
])
out["write_ms"] = c.write_points(
    [{"measurement": "mem", "tags": {"host": "a"}, "time": 1704067200000 + k * 30000, "fields": {"used": 100 + k}}
     for k in range(6)],
    time_precision="ms", tags={"env": "test"}, batch_size=4)
out["write_lines"] = c.write_points(["disk,host=a io=7 1704067200"], protocol="line", time_precision="s")

rs = c.query("SELECT * FROM cpu")
out["raw"] = list(rs.get_points())
rs = c.query("SELECT mean(v), count(n) FROM cpu GROUP BY host")
out["keys"] = [[k[0], k[1]] for k in rs.keys()]
out["host_a"] = list(rs.get_points(tags={"host": "a"}))
rs = c.query("SELECT sum(used) FROM mem WHERE time >= '2024-01-01T00:00:00Z' AND time < '2024-01-01T00:03:00Z' "
             "GROUP BY time(1m) fill(0)", epoch="s")
out["buckets"] = list(rs.get_points())
res = c.query("SELECT max(v) FROM cpu; SELECT last(used) FROM mem")
out["multi"] = [list(r.get_points()) for r in res]
out["measurements"] = c.get_list_measurements()
out["series"] = c.get_list_series()
out["retention"] = c.get_list_retention_policies()
c.create_retention_policy("short", "2h", 1, database="py")
out["retention_after"] = [p["name"] for p in c.get_list_retention_policies()]
out["select_other_db"] = list(c.query("SELECT * FROM disk", database="py").get_points())
try:
    c.query("SELEC v FROM cpu")
    out["parse_error"] = None
except InfluxDBClientError as e:
    out["parse_error"] = [e.code, str(e.content)]
try:
    c.query("SELECT mean(s) FROM cpu")
    out["statement_error"] = None
except InfluxDBClientError as e:
    out["statement_error"] = [e.code, str(e.content)]
c.drop_database("other")
out["databases_after_drop"] = c.get_list_database()
print(json.dumps(out, sort_keys=True))
"#;

/// `<target>/python-influxdb-venv`, next to `debug/`.
fn venv_dir() -> PathBuf {
    let bin = augur_bin();
    let target = bin.parent().and_then(|d| d.parent()).expect("the augur binary lies in <target>/debug");
    target.join("python-influxdb-venv")
}

/// Serializes venv creation: the tests of this file run in one process
/// (one pid, so one staging name) and would otherwise build it at once.
static VENV_LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The venv's python with the client importable; creates it if needed.
fn client_python() -> PathBuf {
    let _building = VENV_LOCK.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let dir = venv_dir();
    let python = dir.join("bin").join("python");
    let importable = |py: &PathBuf| {
        Command::new(py).args(["-c", "import influxdb"]).output().map(|o| o.status.success()).unwrap_or(false)
    };
    if python.is_file() && importable(&python) {
        return python;
    }
    let system = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    // Build into a fresh directory, then rename: a half-made venv is never
    // taken for a good one.
    let staging = dir.with_extension(format!("tmp{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    let out = run_bounded(Command::new(&system).args(["-m", "venv"]).arg(&staging), Duration::from_secs(120));
    assert!(
        out.status.success(),
        "`{system} -m venv` failed (on Debian install python3-venv: tests/scripts/deps.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let pip = staging.join("bin").join("pip");
    let out = run_bounded(
        Command::new(&pip).args(["install", "--quiet", "--disable-pip-version-check", CLIENT]),
        Duration::from_secs(300),
    );
    assert!(
        out.status.success(),
        "pip install {CLIENT} failed (is PyPI reachable?): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(&staging, &dir).expect("move the venv into place");
    // The venv's scripts name their own path; a renamed venv still runs
    // `python` itself (it finds its prefix from pyvenv.cfg next to it).
    assert!(importable(&python), "the influxdb module does not import from {}", python.display());
    python
}

#[test]
fn python_influxdb_client_reads_writes_and_lists() {
    let python = client_python();
    let server = Server::start_default();
    let script = server.scratch_dir().join("client.py");
    std::fs::write(&script, SCRIPT).expect("write the script");
    let out = run_bounded(
        Command::new(&python).arg(&script).arg(server.port().to_string()).env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the client script failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("script output is not JSON ({e}): {stdout}"));

    // Checked against InfluxDB 1.6.7 with the same script (only the
    // version string differs there).
    let want = json!({
        "version": got["version"],
        "databases": [{"name": "other"}, {"name": "py"}],
        "write_dicts": true,
        "write_ms": true,
        "write_lines": true,
        "raw": [
            {"time": "2024-01-01T00:00:00Z", "b": true, "dc": "eu west", "host": "a", "n": 3, "s": "x \"q\"", "v": 1.5},
            {"time": "2024-01-01T00:01:00Z", "b": null, "dc": null, "host": "b", "n": 4, "s": null, "v": 2.5},
            {"time": "2024-01-01T00:02:00Z", "b": null, "dc": "eu west", "host": "a", "n": null, "s": null, "v": -1.0}
        ],
        "keys": [["cpu", {"host": "a"}], ["cpu", {"host": "b"}]],
        "host_a": [{"time": "1970-01-01T00:00:00Z", "mean": 0.25, "count": 1}],
        "buckets": [
            {"time": 1704067200, "sum": 201},
            {"time": 1704067260, "sum": 205},
            {"time": 1704067320, "sum": 209}
        ],
        "multi": [
            [{"time": "2024-01-01T00:01:00Z", "max": 2.5}],
            [{"time": "2024-01-01T00:02:30Z", "last": 105}]
        ],
        "measurements": [{"name": "cpu"}, {"name": "disk"}, {"name": "mem"}],
        "series": ["cpu,dc=eu\\ west,host=a", "cpu,host=b", "disk,host=a", "mem,env=test,host=a"],
        "retention": [{"name": "autogen", "duration": "0s", "shardGroupDuration": "168h0m0s", "replicaN": 1, "default": true}],
        "retention_after": ["autogen", "short"],
        "select_other_db": [{"time": "2024-01-01T00:00:00Z", "host": "a", "io": 7}],
        "parse_error": [400, got["parse_error"][1]],
        // InfluxDB names its Go iterator type (`*query.stringInterruptIterator`).
        "statement_error": [null, got["statement_error"][1]],
        "databases_after_drop": [{"name": "py"}]
    });
    let version = got["version"].as_str().unwrap_or_default();
    assert!(!version.is_empty(), "ping() returns the X-Influxdb-Version header: {got}");
    let parse_error = got["parse_error"][1].as_str().unwrap_or_default();
    assert!(parse_error.contains("error parsing query: found SELEC"), "{got}");
    let statement_error = got["statement_error"][1].as_str().unwrap_or_default();
    assert!(statement_error.starts_with("unsupported mean iterator type: "), "{got}");
    // Numbers compare by value: InfluxDB answers this client in MessagePack
    // (7.0 stays a float), Augur in JSON (7).
    assert!(
        json_match(&got, &want),
        "first difference: {}\n got: {got}\nwant: {want}",
        first_difference(&got, &want).unwrap_or_default()
    );
}

/// Logging in with a user name and password (the client sends `u`/`p`).
const LOGIN_SCRIPT: &str = r#"
import json, sys
from influxdb import InfluxDBClient
from influxdb.exceptions import InfluxDBClientError

port = int(sys.argv[1])
out = {}
c = InfluxDBClient(host="127.0.0.1", port=port, username="ann", password="ann-secret-1", database="pyauth", timeout=30)
out["write"] = c.write_points([{"measurement": "m", "time": 1, "fields": {"v": 1.0}}], time_precision="s")
out["points"] = list(c.query("SELECT v FROM m").get_points())
out["databases"] = c.get_list_database()
bad = InfluxDBClient(host="127.0.0.1", port=port, username="ann", password="wrong-password", timeout=30)
try:
    bad.query("SHOW DATABASES")
    out["bad"] = None
except InfluxDBClientError as e:
    out["bad"] = [e.code, str(e.content)]
print(json.dumps(out, sort_keys=True))
"#;

#[test]
fn python_influxdb_client_logs_in() {
    let python = client_python();
    let server = Server::start(augur_tests::ServerOptions::with_auth("augur_python_login_admin_token_0123456789"));
    server.query("CREATE USER ann WITH PASSWORD 'ann-secret-1'; CREATE DATABASE pyauth; GRANT ALL ON pyauth TO ann");
    let script = server.scratch_dir().join("login.py");
    std::fs::write(&script, LOGIN_SCRIPT).expect("write the script");
    let out = run_bounded(
        Command::new(&python).arg(&script).arg(server.port().to_string()).env("PYTHONDONTWRITEBYTECODE", "1"),
        Duration::from_secs(120),
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "the login script failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let got: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("script output is not JSON ({e}): {stdout}"));
    let want = json!({
        "write": true,
        "points": [{"time": "1970-01-01T00:00:01Z", "v": 1.0}],
        "databases": [{"name": "pyauth"}],
        "bad": [401, "{\"error\":\"authorization failed\"}"],
    });
    if !json_match(&want, &got) {
        panic!("login results differ at {}:\n{got:#}", first_difference(&want, &got).unwrap_or_default());
    }
}
