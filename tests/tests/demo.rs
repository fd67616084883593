//! `augur demo` end to end: the real binary replays the real NAB traces
//! (`../shared/data/nab`) against the server it starts, and while it runs
//! the test checks, from its output and through the server's API, that the
//! whole loop is there: the dashboard loads, the pool's units became ready
//! (the `io.augur.pool.unit_ready` webhook arrived and was printed),
//! continuous forecasts wrote points and trained models, and `_internal`
//! holds the pool's KPIs. Then `--duration` ends it and it stops cleanly.

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use augur_tests::{augur_bin, shared_data};
use serde_json::Value;

/// How long the demo runs.
const DURATION: &str = "40s";
/// The longest the test waits for anything.
const LIMIT: Duration = Duration::from_secs(90);

/// The demo process and its stdout, line by line.
struct Demo {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<String>,
}

impl Demo {
    fn start(data_dir: &std::path::Path) -> Demo {
        let traces = shared_data().join("nab");
        let mut child = Command::new(augur_bin())
            .args(["demo", "--listen", "127.0.0.1:0", "--duration", DURATION])
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--traces")
            .arg(&traces)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("cannot start augur demo");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Demo { child, lines, seen: Vec::new() }
    }

    /// Takes the lines printed so far, waiting up to `wait` for one.
    fn pump(&mut self, wait: Duration) -> bool {
        match self.lines.recv_timeout(wait) {
            Ok(line) => {
                self.seen.push(line);
                while let Ok(line) = self.lines.try_recv() {
                    self.seen.push(line);
                }
                true
            }
            Err(RecvTimeoutError::Timeout) => true,
            Err(RecvTimeoutError::Disconnected) => false,
        }
    }

    /// Waits for a printed line satisfying `f`.
    fn line(&mut self, what: &str, f: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + LIMIT;
        loop {
            if let Some(line) = self.seen.iter().find(|l| f(l)) {
                return line.clone();
            }
            let open = self.pump(Duration::from_millis(200));
            assert!(open && Instant::now() < end, "no {what} in the demo's output:\n{}", self.seen.join("\n"));
        }
    }
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn query(client: &reqwest::blocking::Client, base: &str, db: &str, q: &str) -> Value {
    let r = client.get(format!("{base}/query")).query(&[("db", db), ("q", q)]).send().expect("query");
    assert!(r.status().is_success(), "{q}: {}", r.status());
    r.json().expect("JSON")
}

/// The first value of the first row of `q`, if any.
fn first_value(client: &reqwest::blocking::Client, base: &str, db: &str, q: &str) -> Option<Value> {
    query(client, base, db, q)["results"][0]["series"][0]["values"][0].as_array().and_then(|row| row.get(1).cloned())
}

#[test]
fn the_demo_shows_the_whole_loop() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let data_dir = tmp.path().join("demo");
    let mut demo = Demo::start(&data_dir);

    let dashboard = demo.line("dashboard URL", |l| l.trim_start().starts_with("dashboard") && l.contains("http://"));
    let url = dashboard.split_whitespace().find(|w| w.starts_with("http://")).expect("URL").to_string();
    let base = url.trim_end_matches('/').to_string();
    let client =
        reqwest::blocking::Client::builder().no_proxy().timeout(Duration::from_secs(30)).build().expect("client");

    let page = client.get(&url).send().expect("dashboard");
    assert_eq!(page.status(), 200);
    assert!(page.text().expect("body").to_ascii_lowercase().contains("<html"));

    // Each check, polled until it holds (the demo prints as it goes).
    let end = Instant::now() + LIMIT;
    let mut pending = vec!["unit_ready event", "forecast points", "models", "_internal pool points"];
    while !pending.is_empty() {
        pending.retain(|check| {
            let done = match *check {
                "unit_ready event" => demo.seen.iter().any(|l| l.contains("event io.augur.pool.unit_ready")),
                "forecast points" => first_value(&client, &base, "acme", "SELECT count(forecast) FROM usage_forecast")
                    .and_then(|v| v.as_u64())
                    .is_some_and(|n| n > 0),
                "models" => query(&client, &base, "acme", "SHOW MODELS")["results"][0]["series"][0]["values"]
                    .as_array()
                    .is_some_and(|rows| !rows.is_empty()),
                _ => first_value(&client, &base, "_internal", "SELECT count(allocated) FROM pool")
                    .and_then(|v| v.as_u64())
                    .is_some_and(|n| n > 0),
            };
            !done
        });
        if pending.is_empty() {
            break;
        }
        let open = demo.pump(Duration::from_millis(250));
        assert!(open && Instant::now() < end, "still missing {pending:?}; output:\n{}", demo.seen.join("\n"));
    }
    assert!(demo.seen.iter().any(|l| l.contains("status web: demand")), "{}", demo.seen.join("\n"));

    // --duration ends it; it shuts the server down and says what it got.
    let summary = demo.line("summary", |l| l.contains("stopped:"));
    assert!(summary.contains(", 0 rejected") && !summary.contains("stopped: 0 event"), "{summary}");
    let end = Instant::now() + LIMIT;
    let status = loop {
        if let Some(status) = demo.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < end, "the demo did not exit after its summary");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "augur demo exited with {status}");
    assert!(data_dir.join(".augur-demo").is_file(), "an explicit --data-dir is kept");
}
