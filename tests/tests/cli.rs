//! End-to-end tests of the client subcommands `augur import`, `augur export`
//! and `augur query`, driving the real binary against a real server.
//!
//! The REPL test runs `augur query` inside a tmux pane (a real
//! pseudo-terminal, so rustyline's line editing and history are exercised)
//! and polls the pane's contents; tmux is installed by tests/scripts/deps.sh.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use augur_tests::{augur_bin, column_values, shared_data, Server};

/// `augur <args>` against `server`; returns the finished process's output.
fn augur(server: &Server, args: &[&str]) -> Output {
    Command::new(augur_bin())
        .args(args)
        .env("AUGUR_URL", server.base_url())
        .env_remove("AUGUR_TOKEN")
        .output()
        .expect("cannot run augur")
}

/// Asserts success and returns stdout.
fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "augur failed ({}): stdout {} stderr {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The single number a `SELECT count(..)`/`sum(..)` query returns.
fn scalar(server: &Server, q: &str) -> f64 {
    let json = server.query(q);
    json["results"][0]["series"][0]["values"][0][1].as_f64().unwrap_or_else(|| panic!("{q}: no value in {json}"))
}

#[test]
fn imports_every_nab_trace_and_counts_match() {
    let server = Server::start_default();
    server.create_database("nab");
    let dir = shared_data().join("nab");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("read nab dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "csv"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "expected the NAB traces in {}", dir.display());
    let scratch = tempfile::tempdir().expect("tempdir");
    for file in &files {
        let stem = file.file_stem().and_then(|s| s.to_str()).expect("file name");
        let text = std::fs::read_to_string(file).expect("read trace");
        let rows = text.lines().skip(1).filter(|l| !l.trim().is_empty()).count();
        let rejects = scratch.path().join(format!("{stem}.rejects"));
        let out = augur(
            &server,
            &[
                "import",
                file.to_str().expect("utf-8 path"),
                "--db",
                "nab",
                "--format",
                "csv",
                "--measurement",
                stem,
                "--tag",
                "source=nab",
                "--time-format",
                "%Y-%m-%d %H:%M:%S",
                "--batch",
                "1000",
                "--rejects",
                rejects.to_str().expect("utf-8 path"),
            ],
        );
        ok(&out);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&format!("{rows} points written, 0 lines rejected")), "{stem}: {stderr}");
        let count = scalar(&server, &format!("SELECT count(value) FROM nab.autogen.\"{stem}\" WHERE source = 'nab'"));
        // A few traces repeat a timestamp: the later row overwrites the earlier.
        let distinct: std::collections::HashSet<&str> =
            text.lines().skip(1).filter_map(|l| l.split_once(',')).map(|(t, _)| t).collect();
        assert_eq!(count as usize, distinct.len(), "{stem}: count(value) differs from the file's distinct times");
        // The first row's value and time made it through.
        let first = text.lines().nth(1).expect("a data row");
        let (_, value) = first.split_once(',').expect("timestamp,value");
        let json = server
            .query(&format!("SELECT first(value) FROM nab.autogen.\"{stem}\" WHERE time >= '2000-01-01T00:00:00Z'"));
        let got = json["results"][0]["series"][0]["values"][0][1].as_f64().expect("first value");
        // The JSON answer may print a float in fewer digits than the file.
        let want = value.trim().parse::<f64>().expect("number");
        assert!((got - want).abs() <= want.abs() * 1e-12, "{stem}: first value {got} != {want}");
    }
}

#[test]
fn lp_import_reports_bad_lines_by_input_line_number() {
    let server = Server::start_default();
    server.create_database("db");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("data.lp");
    // 30 lines (+ a comment and a blank line), line 17 of the file is bad.
    let mut text = String::from("# a comment\n\n");
    for i in 0..30 {
        if i == 15 {
            text.push_str("cpu,host=a value=\n");
        } else {
            text.push_str(&format!("cpu,host=a value={i} {}\n", 1_600_000_000 + i));
        }
    }
    std::fs::write(&input, &text).expect("write input");
    let out =
        augur(&server, &["import", input.to_str().expect("path"), "--db", "db", "--precision", "s", "--batch", "7"]);
    assert!(!out.status.success(), "a rejected line must fail the import");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("29 points written, 1 lines rejected"), "{stderr}");
    let rejects = std::fs::read_to_string(dir.path().join("data.lp.rejects")).expect("rejects file");
    assert_eq!(rejects.lines().count(), 1, "{rejects}");
    assert!(rejects.starts_with("line 18: "), "the bad line is line 18 of the file: {rejects}");
    assert!(rejects.contains("cpu,host=a value="), "{rejects}");
    assert_eq!(scalar(&server, "SELECT count(value) FROM db.autogen.cpu"), 29.0);

    // gzip input, detected by extension.
    server.create_database("gz");
    let gz = dir.path().join("good.lp.gz");
    let good: String = text.lines().filter(|l| !l.ends_with("value=")).map(|l| format!("{l}\n")).collect();
    std::fs::write(&gz, augur_tests::gzip(good.as_bytes())).expect("write gz");
    ok(&augur(&server, &["import", gz.to_str().expect("path"), "--db", "gz", "--precision", "s"]));
    assert_eq!(scalar(&server, "SELECT count(value) FROM gz.autogen.cpu"), 29.0);
}

#[test]
fn client_errors_are_clear() {
    let server = Server::start_default();
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("x.lp");
    std::fs::write(&input, "cpu value=1\n").expect("write");
    // Unknown database.
    let out = augur(&server, &["import", input.to_str().expect("path"), "--db", "nope"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database not found"), "{out:?}");
    // Missing file.
    server.create_database("db");
    let out = augur(&server, &["import", "/nonexistent/file.lp", "--db", "db"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/file.lp"), "{out:?}");
    // Unreachable server: a port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = free.local_addr().expect("addr").port();
    drop(free);
    let out = Command::new(augur_bin())
        .args(["query", "-e", "SHOW DATABASES", "--url", &format!("http://127.0.0.1:{port}")])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("cannot reach http://127.0.0.1:{port}: connection refused")), "{stderr}");
    // -e with a parse error: non-zero, caret under the position.
    let out = augur(&server, &["query", "--db", "db", "-e", "SELECT v FROM"]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("ERR: ") && stderr.contains("  SELECT v FROM\n") && stderr.contains('^'), "{stderr}");
    // --help has examples.
    for sub in ["import", "export", "query"] {
        let out = augur(&server, &[sub, "--help"]);
        assert!(ok(&out).contains("Examples:"), "{sub} --help");
    }
}

#[test]
fn interrupted_import_resumes_without_loss_or_duplicates() {
    let server = Server::start_default();
    server.create_database("db");
    let dir = tempfile::tempdir().expect("tempdir");
    let input = dir.path().join("big.lp");
    let n: u64 = 400_000;
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&input).expect("create"));
        for i in 0..n {
            writeln!(f, "m,s=s{} v={i}i {}", i % 4, 1_000_000_000 + i).expect("write");
        }
    }
    let state = dir.path().join("big.lp.augur-import-state");
    let mut child = Command::new(augur_bin())
        .args(["import", input.to_str().expect("path"), "--db", "db", "--precision", "s", "--batch", "500"])
        .args(["--workers", "3"])
        .env("AUGUR_URL", server.base_url())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn import");
    // Wait for a checkpoint with some acknowledged batches, then kill.
    let deadline = Instant::now() + Duration::from_secs(120);
    let acked = loop {
        let offset = std::fs::read(&state)
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|v| v["offset"].as_u64())
            .unwrap_or(0);
        if offset > 0 {
            break offset;
        }
        assert!(child.try_wait().expect("try_wait").is_none(), "the import finished before it could be interrupted");
        assert!(Instant::now() < deadline, "no checkpoint appeared");
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().expect("kill import");
    child.wait().expect("reap import");
    let size = std::fs::metadata(&input).expect("meta").len();
    assert!(acked < size, "killed after everything was acknowledged");
    let before = server.query("SELECT count(v) FROM db.autogen.m");
    let before = before["results"][0]["series"][0]["values"][0][1].as_u64().unwrap_or(0);
    assert!(before < n, "the interrupted import wrote everything already");

    let out = augur(&server, &["import", input.to_str().expect("path"), "--db", "db", "--precision", "s", "--resume"]);
    ok(&out);
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming after line"), "{out:?}");
    assert!(!state.exists(), "the checkpoint is removed after a complete import");
    assert_eq!(scalar(&server, "SELECT count(v) FROM db.autogen.m"), n as f64);
    // Every value exactly once: sum(v) = 0 + 1 + ... + n-1, per series too.
    assert_eq!(scalar(&server, "SELECT sum(v) FROM db.autogen.m"), (n * (n - 1) / 2) as f64);
    let json = server.query("SELECT count(v) FROM db.autogen.m GROUP BY s");
    let series = json["results"][0]["series"].as_array().expect("series");
    assert_eq!(series.len(), 4);
    for s in series {
        assert_eq!(s["values"][0][1].as_u64(), Some(n / 4), "{s}");
    }
}

#[test]
fn export_import_round_trip() {
    let server = Server::start_default();
    server.create_database("src");
    server.create_database("dst");
    let mut body = String::new();
    for i in 0..2000 {
        body.push_str(&format!(
            "cpu,host=h{} usage={}.5,n={}i,ok={},s=\"x {i}\" {}\n",
            i % 3,
            i,
            i,
            i % 2 == 0,
            1_700_000_000_000_000_000i64 + i * 1_000_000
        ));
        body.push_str(&format!("mem free={}u {}\n", i, 1_700_000_000_000_000_000i64 + i));
    }
    server.write_ok("src", body);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("src.lp");
    ok(&augur(&server, &["export", "--db", "src", "-o", file.to_str().expect("path")]));
    ok(&augur(&server, &["import", file.to_str().expect("path"), "--db", "dst"]));
    let mut a: Vec<String> = server.export("src").lines().map(str::to_string).collect();
    let mut b: Vec<String> = server.export("dst").lines().map(str::to_string).collect();
    a.sort();
    b.sort();
    assert_eq!(a.len(), 4000);
    assert_eq!(a, b);
    // Filtered export to stdout, and CSV.
    let mem = ok(&augur(&server, &["export", "--db", "src", "--measurement", "mem"]));
    assert_eq!(mem.lines().count(), 2000);
    assert!(mem.lines().all(|l| l.starts_with("mem ")));
    let csv = ok(&augur(&server, &["export", "--db", "src", "--measurement", "cpu", "--format", "csv"]));
    assert_eq!(csv.lines().next(), Some("measurement,tags,time,field,value"));
    assert_eq!(csv.lines().count(), 1 + 2000 * 4);
    assert!(csv.contains("cpu,host=h0,1700000000000000000,s,x 0\n"), "{}", &csv[..300]);
}

#[test]
fn query_e_formats() {
    let server = Server::start_default();
    server.create_database("db");
    server.write_ok("db", "cpu,host=a value=1.5 1000000000\ncpu,host=b value=2 2000000000\n");
    let table =
        ok(&augur(&server, &["query", "--db", "db", "-e", "SELECT value FROM cpu GROUP BY host", "--epoch", "s"]));
    assert_eq!(table, "name: cpu\ntags: host=a\ntime value\n---- -----\n1    1.5\n\nname: cpu\ntags: host=b\ntime value\n---- -----\n2    2\n");
    let csv =
        ok(&augur(&server, &["query", "--db", "db", "-e", "SELECT value FROM cpu; SHOW DATABASES", "--format", "csv"]));
    assert!(csv.starts_with("name,tags,time,value\ncpu,,1970-01-01T00:00:01Z,1.5\n"), "{csv}");
    assert!(csv.contains("databases,,db\n"), "{csv}");
    let json = ok(&augur(&server, &["query", "-e", "SHOW DATABASES", "--format", "json"]));
    let v: serde_json::Value = serde_json::from_str(json.trim()).expect("json");
    assert_eq!(column_values(&v, 0), vec!["db".to_string()]);
}

/// A tmux session running one command, removed when dropped.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn start(cmd: &[String], env: &[(&str, &str)]) -> Tmux {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("tmux.sock");
        let mut c = Command::new("tmux");
        c.arg("-S").arg(&socket).args(["-f", "/dev/null", "new-session", "-d", "-x", "200", "-y", "50"]);
        for (k, v) in env {
            c.args(["-e", &format!("{k}={v}")]);
        }
        c.args(cmd);
        let status = c.status().expect("tmux must be installed (tests/scripts/deps.sh)");
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket, _dir: dir }
    }

    fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-S").arg(&self.socket).args(args).output().expect("tmux");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn send(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "0", "-S", "-200"])
    }

    /// Polls the pane until `pred` holds.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-S").arg(&self.socket).arg("kill-server").status();
    }
}

#[test]
fn repl_query_error_caret_and_history() {
    let server = Server::start_default();
    server.create_database("db");
    server.write_ok("db", "cpu,host=a value=42.5 1000000000\n");
    let home = tempfile::tempdir().expect("home");
    let bin = augur_bin().to_string_lossy().into_owned();
    let url = server.base_url();
    let tmux = Tmux::start(
        &[bin, "query".into(), "--epoch".into(), "s".into()],
        &[("AUGUR_URL", &url), ("HOME", home.path().to_str().expect("home path")), ("TERM", "xterm")],
    );
    tmux.wait_for("the prompt", |s| s.contains("Connected to") && s.trim_end().ends_with('>'));
    tmux.send(&["use db", "Enter"]);
    tmux.wait_for("use", |s| s.contains("Using database db") && s.trim_end().ends_with("db>"));
    tmux.send(&["SELECT value FROM cpu; SELECT count(value) FROM cpu", "Enter"]);
    let screen = tmux.wait_for("the results", |s| s.contains("count") && s.matches("rows in").count() >= 2);
    assert!(screen.contains("name: cpu\ntime value\n---- -----\n1    42.5\n"), "{screen}");
    tmux.send(&["SELECT value FROM", "Enter"]);
    tmux.wait_for("the error with a caret", |s| {
        s.contains("ERR: ") && s.contains("  SELECT value FROM\n") && s.contains('^')
    });
    // History recall: two up-arrows bring back the SELECT ... count line.
    tmux.send(&["Up", "Up", "Enter"]);
    tmux.wait_for("the recalled statement to run again", |s| s.matches("rows in").count() >= 4);
    tmux.send(&["exit", "Enter"]);
    let history = home.path().join(".augur_history");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(&history).unwrap_or_default().contains("SELECT value FROM cpu; SELECT count") {
        assert!(Instant::now() < deadline, "history file not written");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn client_commands_authenticate_and_explain_a_refusal() {
    let token = "augur_cli_auth_admin_token_0123456789abcdef";
    let server = Server::start(augur_tests::ServerOptions::with_auth(token));
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("p.lp");
    std::fs::write(&file, "m v=1 1\nm v=2 2\n").expect("write");
    let file = file.to_str().expect("path");
    for args in
        [vec!["query", "-e", "CREATE DATABASE d"], vec!["import", file, "--db", "d"], vec!["export", "--db", "d"]]
    {
        let out = augur(&server, &args);
        assert!(!out.status.success(), "{args:?} ran without a credential");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("authentication refused") && stderr.contains("401"), "{args:?}: {stderr}");
    }
    let out = augur(&server, &["query", "--token", "augur_wrong", "-e", "SHOW DATABASES"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("authorization failed"));
    ok(&augur(&server, &["query", "--token", token, "-e", "CREATE DATABASE d"]));
    ok(&augur(&server, &["import", file, "--db", "d", "--token", token]));
    let exported = ok(&augur(&server, &["export", "--db", "d", "--token", token]));
    assert!(exported.contains("m v=2 2"), "{exported}");
}
