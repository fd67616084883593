//! `SHOW QUERIES`, `KILL QUERY` and client-disconnect cancellation through
//! the real binary: a long request is listed while it runs, `KILL QUERY`
//! stops it (the client reads `query interrupted`), and a client that hangs
//! up takes its query off the table.

use std::time::Duration;

use augur_tests::{poll_until, Reply, Server, ServerOptions};
use serde_json::Value;

/// Points written (one per second).
const POINTS: usize = 10_000;

/// Statements in the long request: each aggregates every point into
/// one-second buckets, so the request runs for minutes unless stopped.
const STATEMENTS: usize = 5_000;

/// The statement the long request repeats.
const LONG_STATEMENT: &str = "SELECT count(v) FROM cpu WHERE time >= 0s AND time < 10000s GROUP BY time(1s)";

fn server_with_data() -> Server {
    server_with_data_and(ServerOptions::default())
}

fn server_with_data_and(options: ServerOptions) -> Server {
    let server = Server::start(options);
    server.create_database("db");
    let lines: Vec<String> = (0..POINTS).map(|i| format!("cpu,host=a v={i} {}", i as i64 * 1_000_000_000)).collect();
    server.write_ok("db", lines.join("\n"));
    server
}

fn long_request() -> String {
    vec![LONG_STATEMENT; STATEMENTS].join("; ")
}

/// The `SHOW QUERIES` rows as `(qid, query, database, status)`.
fn running(server: &Server) -> Vec<(u64, String, String, String)> {
    let json = server.query("SHOW QUERIES");
    let series = &json["results"][0]["series"][0];
    assert_eq!(series["columns"], serde_json::json!(["qid", "query", "database", "duration", "status"]), "{json}");
    series["values"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|row| {
            let text = |i: usize| row[i].as_str().unwrap_or_default().to_string();
            (row[0].as_u64().unwrap_or_default(), text(1), text(2), text(4))
        })
        .collect()
}

/// Waits until the long request is listed; returns its id.
fn wait_for_long_query(server: &Server) -> u64 {
    poll_until(server, "the long request in SHOW QUERIES", Duration::from_secs(30), || {
        running(server).into_iter().find(|(_, query, _, _)| query.starts_with(&format!("{LONG_STATEMENT};\n"))).map(
            |(qid, _, db, status)| {
                assert_eq!(db, "db");
                assert_eq!(status, "running");
                qid
            },
        )
    })
}

fn errors(reply: &Reply) -> Vec<String> {
    reply.json()["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("error").and_then(Value::as_str).map(str::to_string))
        .collect()
}

#[test]
fn show_queries_lists_itself() {
    let server = Server::start(ServerOptions::default());
    let rows = running(&server);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "SHOW QUERIES");
    assert_eq!(rows[0].3, "running");
    assert!(rows[0].0 >= 1);
}

#[test]
fn kill_query_stops_a_running_request() {
    let server = server_with_data();
    std::thread::scope(|scope| {
        let long = scope.spawn(|| server.query_raw(&long_request(), Some("db")));
        let qid = wait_for_long_query(&server);

        let get = server.get(&format!("/query?q={}", augur_tests::encode(&format!("KILL QUERY {qid}"))));
        assert_eq!(get.status, 200, "{get}");
        assert_eq!(errors(&get), vec![format!("'KILL QUERY {qid}' requires a POST request")]);

        server.query(&format!("KILL QUERY {qid}"));
        let reply = long.join().expect("the long request's thread");
        assert_eq!(reply.status, 200, "{reply}");
        let failures = errors(&reply);
        assert_eq!(failures.first().map(String::as_str), Some("query interrupted"), "{failures:?}");
        assert!(failures.iter().skip(1).all(|e| e == "not executed"), "{failures:?}");

        assert!(running(&server).iter().all(|(id, ..)| *id != qid));
        let again = server.query_raw(&format!("KILL QUERY {qid}"), None);
        assert_eq!(errors(&again), vec![format!("no such query id: {qid}")]);
    });
}

/// Inline (the default: the query's checks ask the socket) and on a
/// blocking thread (hyper drops the handler).
#[test]
fn a_client_that_hangs_up_takes_its_query_off_the_table() {
    for inline in [true, false] {
        a_client_hangs_up(ServerOptions::with_config(format!("[query]\ninline = {inline}\n")));
    }
}

fn a_client_hangs_up(options: ServerOptions) {
    let server = server_with_data_and(options);
    let impatient = reqwest::blocking::Client::builder().timeout(Duration::from_secs(2)).build().expect("client");
    std::thread::scope(|scope| {
        let long = scope.spawn(|| {
            impatient
                .post(server.url("/query"))
                .form(&[("q", long_request()), ("db", "db".to_string())])
                .send()
                .and_then(|r| r.text())
        });
        let qid = wait_for_long_query(&server);
        assert!(long.join().expect("the long request's thread").is_err(), "the long request finished in 2 s");
        poll_until(&server, "the abandoned query to leave SHOW QUERIES", Duration::from_secs(30), || {
            running(&server).iter().all(|(id, ..)| *id != qid).then_some(())
        });
    });
    // The server is still healthy and answers.
    assert_eq!(running(&server).len(), 1);
}

/// Queries over HTTP/1 run on the request's own thread unless `[query]
/// inline = false` sends them to a blocking thread: the answers are the same.
#[test]
fn queries_answer_the_same_inline_and_on_a_blocking_thread() {
    let request = [
        "SELECT count(v), mean(v), max(v) FROM cpu WHERE time >= 0s AND time < 10000s GROUP BY time(10m), host",
        "SELECT * FROM cpu WHERE host = 'b' AND time >= 5000s ORDER BY time DESC LIMIT 7",
        "SELECT v FROM cpu WHERE v > 9990 AND time >= 0s",
        "SHOW TAG VALUES WITH KEY = host",
        "SHOW SERIES",
    ]
    .join("; ");
    let answers: Vec<(bool, String)> = [true, false]
        .into_iter()
        .map(|inline| {
            let server = Server::start(ServerOptions::with_config(format!("[query]\ninline = {inline}\n")));
            server.create_database("db");
            let lines: Vec<String> = (0..POINTS)
                .map(|i| format!("cpu,host={} v={i} {}", ["a", "b"][i % 2], i as i64 * 1_000_000_000))
                .collect();
            server.write_ok("db", lines.join("\n"));
            let reply = server.query_raw(&request, Some("db"));
            assert_eq!(reply.status, 200, "inline {inline}: {reply}");
            assert!(errors(&reply).is_empty(), "inline {inline}: {:?}", errors(&reply));
            (inline, reply.body)
        })
        .collect();
    let json: Value = serde_json::from_str(&answers[0].1).expect("json");
    assert_eq!(json["results"].as_array().map(Vec::len), Some(5), "{json}");
    assert_eq!(json["results"][0]["series"].as_array().map(Vec::len), Some(2), "one series per host: {json}");
    assert_eq!(json["results"][1]["series"][0]["values"].as_array().map(Vec::len), Some(7), "{json}");
    assert_eq!(answers[0].1, answers[1].1, "inline and blocking-thread answers differ");
}
