//! Continuous queries against the real `augur` binary: they run on
//! schedule, `SHOW`/`DROP` work, and a restart in the middle of a schedule
//! (SIGKILL and SIGTERM) neither loses nor repeats an interval.
//!
//! The source points are written *ahead* of time (timestamps a few seconds
//! in the future), so each `GROUP BY time(1s)` interval's expected
//! aggregate is known before the query runs, whatever the scheduling
//! delays. Waiting is by polling the target measurement (or the clock, to
//! let intervals pass while the server is down), never a blind sleep.
//!
//! "Not repeated" is checked two ways: the target holds exactly one row per
//! interval with the right aggregate, and the server log's `continuous query
//! ran` lines (one per run, with its `[start, end)` in ns) cover the data
//! range with disjoint windows — except that a run the SIGKILL interrupted
//! between its write and its watermark may be redone once after the restart
//! (that rewrite overwrites the same points, as InfluxDB's would).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use augur_tests::{encode, first_series_rows as rows, poll_until, Server, ServerOptions};
use serde_json::{json, Value};

const S: i64 = 1_000_000_000;

/// Check often, so runs happen close to their due time.
const CONFIG: &str = "[continuous_queries]\nrun_interval = \"100ms\"\n";

/// Longest any poll waits.
const POLL_LIMIT: Duration = Duration::from_secs(60);

fn now_ns() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(d.as_nanos()).expect("fits")
}

/// Polls `f` every 50 ms until it returns `Some`, within [`POLL_LIMIT`].
fn poll<T>(what: &str, server: &Server, f: impl FnMut() -> Option<T>) -> T {
    poll_until(server, what, POLL_LIMIT, f)
}

/// Waits until the wall clock passes `t` (ns).
fn wait_for_clock(t: i64) {
    while now_ns() < t {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `SELECT` with `epoch=ns`; the first result.
fn select(server: &Server, db: &str, q: &str) -> Value {
    let reply = server.get(&format!("/query?db={}&epoch=ns&q={}", encode(db), encode(q)));
    assert_eq!(reply.status, 200, "{q}: {reply}");
    reply.json()["results"][0].clone()
}

/// POSTs `q` against database `d`; the first result.
fn post(server: &Server, q: &str) -> Value {
    let reply = server.query_raw(q, Some("d"));
    assert_eq!(reply.status, 200, "{q}: {reply}");
    reply.json()["results"][0].clone()
}

/// Writes 4 points per second for `seconds` seconds from `t0` (ns, whole
/// second): `src,host=a|b v=<second*10 + j>` at +0, 250, 500, 750 ms.
/// Returns each second's expected (time, count, sum); the sums are
/// integral floats, which the JSON prints without a fraction.
fn write_ahead(server: &Server, t0: i64, seconds: i64) -> Vec<(i64, i64, i64)> {
    let mut lines = Vec::new();
    let mut expected = Vec::new();
    for k in 0..seconds {
        let mut sum = 0;
        for j in 0..4 {
            let v = k * 10 + j;
            sum += v;
            let host = if j % 2 == 0 { "a" } else { "b" };
            lines.push(format!("src,host={host} v={v} {}", t0 + k * S + j * S / 4));
        }
        expected.push((t0 + k * S, 4, sum));
    }
    server.write_ok("d", lines.join("\n"));
    expected
}

/// The next whole second at least `ahead` from now.
fn whole_second_after(ahead: i64) -> i64 {
    let t = now_ns() + ahead;
    t - t.rem_euclid(S) + S
}

/// `(start, end)` of every logged run of continuous query `name`, per
/// server start (the log is appended across restarts).
fn logged_runs(log: &str, name: &str) -> Vec<Vec<(i64, i64)>> {
    let mut starts = vec![Vec::new()];
    let tag = format!("cq=\"{name}\"");
    for line in log.lines() {
        if line.contains("opening store") {
            starts.push(Vec::new());
        }
        if !(line.contains("continuous query ran") && line.contains(&tag)) {
            continue;
        }
        let field =
            |key: &str| line.split_whitespace().find_map(|w| w.strip_prefix(key)).and_then(|v| v.parse::<i64>().ok());
        if let (Some(start), Some(end)) = (field("start="), field("end=")) {
            if let Some(last) = starts.last_mut() {
                last.push((start, end));
            }
        }
    }
    starts.retain(|runs| !runs.is_empty());
    starts
}

#[test]
fn show_create_drop_and_errors() {
    let server = Server::start(ServerOptions::with_config(CONFIG));
    server.create_database("d");
    server.create_database("e");
    let create = "CREATE CONTINUOUS QUERY c1 ON d BEGIN SELECT mean(v) INTO out FROM src GROUP BY time(1s) END";
    assert_eq!(post(&server, create), json!({"statement_id": 0}));
    // The same definition again is fine; another one under the name is not.
    assert_eq!(post(&server, create), json!({"statement_id": 0}));
    assert_eq!(
        post(&server, "CREATE CONTINUOUS QUERY c1 ON d BEGIN SELECT max(v) INTO out FROM src GROUP BY time(1s) END")
            ["error"],
        "continuous query already exists"
    );
    post(
        &server,
        "CREATE CONTINUOUS QUERY \"c 2\" ON d RESAMPLE EVERY 2s FOR 10s BEGIN SELECT mean(v) AS m, count(v) \
         INTO d.autogen.out2 FROM src WHERE host = 'a' GROUP BY time(1s), host fill(none) END",
    );
    // InfluxDB's answer for the same statements, byte for byte.
    let show = server.get("/query?q=SHOW%20CONTINUOUS%20QUERIES");
    assert_eq!(
        show.json(),
        json!({"results": [{"statement_id": 0, "series": [
            {"name": "d", "columns": ["name", "query"], "values": [
                ["c1", "CREATE CONTINUOUS QUERY c1 ON d BEGIN SELECT mean(v) INTO d.autogen.out FROM d.autogen.src GROUP BY time(1s) END"],
                ["c 2", "CREATE CONTINUOUS QUERY \"c 2\" ON d RESAMPLE EVERY 2s FOR 10s BEGIN SELECT mean(v) AS m, count(v) INTO d.autogen.out2 FROM d.autogen.src WHERE host = 'a' GROUP BY time(1s), host fill(none) END"]]},
            {"name": "e", "columns": ["name", "query"]}]}]})
    );
    // Parse errors are 400s with InfluxDB's wording.
    let bad = server.query_raw("CREATE CONTINUOUS QUERY x ON d BEGIN SELECT mean(v) INTO o FROM src END", None);
    assert_eq!(bad.status, 400, "{bad}");
    assert_eq!(bad.error_text(), "error parsing query: found src, expected GROUP BY time(...) at line 1, char 65");
    let bad =
        server.query_raw("CREATE CONTINUOUS QUERY x ON d BEGIN SELECT mean(v) FROM src GROUP BY time(1s) END", None);
    assert_eq!(bad.error_text(), "error parsing query: found FROM, expected INTO at line 1, char 53");
    assert_eq!(
        post(&server, "CREATE CONTINUOUS QUERY x ON nodb BEGIN SELECT mean(v) INTO o FROM src GROUP BY time(1s) END")
            ["error"],
        "database not found: nodb"
    );
    assert_eq!(
        post(&server, "CREATE CONTINUOUS QUERY x ON d BEGIN SELECT v INTO o FROM src GROUP BY time(1s) END")["error"],
        "continuous queries must be aggregate queries"
    );
    // Writes need a POST.
    let get = server.get(&format!("/query?q={}", encode("DROP CONTINUOUS QUERY c1 ON d")));
    assert!(get.json()["results"][0]["error"].as_str().is_some_and(|e| e.contains("requires a POST")), "{get}");
    // DROP (of something that does not exist too, as InfluxDB).
    assert_eq!(post(&server, "DROP CONTINUOUS QUERY \"c 2\" ON d"), json!({"statement_id": 0}));
    assert_eq!(post(&server, "DROP CONTINUOUS QUERY nope ON d"), json!({"statement_id": 0}));
    let listed = post(&server, "SHOW CONTINUOUS QUERIES");
    assert_eq!(listed["series"][0]["values"].as_array().map(Vec::len), Some(1), "{listed}");
    // Definitions survive a restart; DROP DATABASE drops its queries.
    let mut server = server;
    server.restart();
    assert_eq!(post(&server, "SHOW CONTINUOUS QUERIES")["series"][0]["values"][0][0], "c1");
    post(&server, "DROP DATABASE d");
    post(&server, "CREATE DATABASE d");
    // Databases are listed in creation order (as InfluxDB): d now comes after e.
    let listed = post(&server, "SHOW CONTINUOUS QUERIES");
    let names: Vec<&str> =
        listed["series"].as_array().into_iter().flatten().filter_map(|s| s["name"].as_str()).collect();
    assert_eq!(names, ["e", "d"], "{listed}");
    assert_eq!(listed["series"][1], json!({"name": "d", "columns": ["name", "query"]}));
}

#[test]
fn select_into_over_http() {
    let server = Server::start_default();
    server.create_database("d");
    server.write_ok("d", "cpu,host=a v=1 1000000000\ncpu,host=b v=2 1000000000\ncpu,host=a v=4 61000000000");
    let r = post(&server, "SELECT mean(v) INTO cpu_1m FROM cpu WHERE time < 5m GROUP BY time(1m), host");
    assert_eq!(
        r,
        json!({"statement_id": 0, "series": [{"name": "result", "columns": ["time", "written"], "values": [["1970-01-01T00:00:00Z", 3]]}]})
    );
    assert_eq!(
        rows(&select(&server, "d", "SELECT mean FROM cpu_1m WHERE host = 'a'")),
        vec![vec![json!(0), json!(1)], vec![json!(60 * S), json!(4)]]
    );
    // Only by POST.
    let get = select(&server, "d", "SELECT v INTO x FROM cpu");
    assert!(get["error"].as_str().is_some_and(|e| e.contains("requires a POST request")), "{get}");
}

#[test]
fn runs_every_interval_with_the_expected_aggregates() {
    let server = Server::start(ServerOptions::with_config(CONFIG));
    server.create_database("d");
    let seconds = 4;
    let t0 = whole_second_after(S);
    let expected = write_ahead(&server, t0, seconds);
    post(&server, "CREATE CONTINUOUS QUERY c ON d BEGIN SELECT count(v) AS n, sum(v) AS s INTO dst FROM src GROUP BY time(1s) END");
    post(
        &server,
        "CREATE CONTINUOUS QUERY h ON d BEGIN SELECT count(v) AS n INTO by_host FROM src GROUP BY time(1s), host END",
    );
    let got = poll("all intervals in dst", &server, || {
        let r = rows(&select(&server, "d", "SELECT n, s FROM dst"));
        (r.len() as i64 >= seconds && now_ns() > t0 + (seconds + 1) * S).then_some(r)
    });
    let want: Vec<Vec<Value>> = expected.iter().map(|(t, n, s)| vec![json!(t), json!(n), json!(s)]).collect();
    assert_eq!(got, want);
    // The same as asking directly.
    let direct = select(
        &server,
        "d",
        &format!(
            "SELECT count(v) AS n, sum(v) AS s FROM src WHERE time >= {t0} AND time < {} GROUP BY time(1s)",
            t0 + seconds * S
        ),
    );
    assert_eq!(rows(&direct), got);
    // Tags of GROUP BY stay tags: two hosts, 2 points each per second.
    let by_host = poll("by_host", &server, || {
        let r = select(&server, "d", "SELECT n FROM by_host GROUP BY host");
        (r["series"].as_array().map(Vec::len) == Some(2) && rows(&r).len() as i64 >= seconds).then_some(r)
    });
    assert_eq!(by_host["series"][0]["tags"], json!({"host": "a"}));
    assert!(rows(&by_host).iter().all(|r| r[1] == json!(2)), "{by_host}");
}

/// Writes data ahead, lets the query run a few intervals, stops the server
/// (`crash` = SIGKILL, else SIGTERM), keeps it down for ~2.5 intervals,
/// restarts it, and checks that every interval was written exactly once.
fn restart_mid_schedule(crash: bool) {
    let mut server = Server::start(ServerOptions::with_config(CONFIG));
    server.create_database("d");
    let seconds = 9;
    let t0 = whole_second_after(S);
    let expected = write_ahead(&server, t0, seconds);
    post(&server, "CREATE CONTINUOUS QUERY c ON d BEGIN SELECT count(v) AS n, sum(v) AS s INTO dst FROM src GROUP BY time(1s) END");
    let count = |server: &Server| rows(&select(server, "d", "SELECT n FROM dst")).len();
    poll("two intervals before the stop", &server, || (count(&server) >= 2).then_some(()));
    if crash {
        server.kill9();
    } else {
        server.sigterm();
    }
    wait_for_clock(now_ns() + 2 * S + S / 2);
    server.start_again();
    poll("every interval after the restart", &server, || {
        (count(&server) as i64 >= seconds && now_ns() > t0 + (seconds + 1) * S).then_some(())
    });

    // One row per interval, each with the whole interval's aggregate.
    let got = rows(&select(&server, "d", "SELECT n, s FROM dst"));
    let want: Vec<Vec<Value>> = expected.iter().map(|(t, n, s)| vec![json!(t), json!(n), json!(s)]).collect();
    assert_eq!(got, want, "log:\n{}", server.log_tail());

    // Each interval of the data was computed by exactly one run.
    let runs = logged_runs(&server.log(), "c");
    assert!(runs.len() >= 2, "expected runs before and after the restart: {runs:?}");
    for t in (0..seconds).map(|k| t0 + k * S) {
        let covering: Vec<(usize, usize)> = runs
            .iter()
            .enumerate()
            .flat_map(|(life, rs)| rs.iter().enumerate().map(move |(i, r)| (life, i, *r)))
            .filter(|(_, _, (start, end))| *start <= t && t < *end)
            .map(|(life, i, _)| (life, i))
            .collect();
        let ok = match covering.as_slice() {
            [_] => true,
            // Redone once after a crash: the last run before the SIGKILL
            // (its watermark lost) and the first run after the restart.
            [(a, i), (b, 0)] => crash && b == &(a + 1) && *i == runs[*a].len() - 1,
            _ => false,
        };
        assert!(ok, "interval at {t} computed by runs {covering:?} of {runs:?}");
    }
}

#[test]
fn restart_after_sigkill_loses_and_repeats_no_interval() {
    restart_mid_schedule(true);
}

#[test]
fn restart_after_sigterm_loses_and_repeats_no_interval() {
    restart_mid_schedule(false);
}

#[test]
fn catch_up_is_bounded_by_max_catch_up() {
    let config = "[continuous_queries]\nrun_interval = \"100ms\"\nmax_catch_up = \"2s\"\n";
    let mut server = Server::start(ServerOptions::with_config(config));
    server.create_database("d");
    let seconds = 8;
    let t0 = whole_second_after(S);
    write_ahead(&server, t0, seconds);
    post(&server, "CREATE CONTINUOUS QUERY c ON d BEGIN SELECT count(v) AS n INTO dst FROM src GROUP BY time(1s) END");
    server.sigterm();
    // Down for the whole data range and a little more.
    wait_for_clock(t0 + seconds * S + S / 5);
    server.start_again();
    let got = poll("the catch-up run", &server, || {
        let r = rows(&select(&server, "d", "SELECT n FROM dst"));
        (!r.is_empty()).then_some(r)
    });
    // Only the last 2 s of the missed range were computed.
    let times: Vec<i64> = got.iter().filter_map(|r| r[0].as_i64()).collect();
    assert_eq!(times, vec![t0 + 6 * S, t0 + 7 * S], "log:\n{}", server.log_tail());
    assert!(server.log().contains("catch-up limited"), "the skip is logged");
}
