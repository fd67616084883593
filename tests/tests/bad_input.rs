//! Bad input never crashes the server and never costs good data.
//!
//! Every line-protocol grammar violation we can name is sent between two
//! valid lines: the reply must be a 400 naming the bad line's number and
//! column (InfluxDB's `unable to parse '<line>': line L, column C: <msg>`),
//! and the valid lines of the same request must be stored (checked by
//! export). Then the request-level failures: bad precision, bad or
//! unsupported encodings, bodies over `max_body_size` (plain, chunked and
//! a gzip bomb), unknown or missing databases, field type conflicts, bad
//! queries, unknown routes and overload. After all of it the server must
//! still be running and answer `/ping`.

use std::io::Write as _;
use std::time::Duration;

use augur_engine::model::{FieldValue as V, Precision};
use augur_tests::{deadline, gzip, point_set, read_raw_reply, PointSet, Server, ServerOptions, TestPoint};

const BASE: i64 = 1_700_000_000_000_000_000;
/// The body limit the servers here run with.
const LIMIT: usize = 256 * 1024;

fn limited_server() -> Server {
    Server::start(ServerOptions::with_config(format!("[http]\nmax_body_size = \"{}KiB\"\n", LIMIT / 1024)))
}

/// One malformed line, where the parser must point, and what it must say.
struct Case {
    name: &'static str,
    line: Vec<u8>,
    column: usize,
    message: &'static str,
}

fn case(name: &'static str, line: impl Into<Vec<u8>>, column: usize, message: &'static str) -> Case {
    Case { name, line: line.into(), column, message }
}

/// Every grammar violation, each on a line of its own; the measurement is
/// `bad` everywhere it can be recognized, so an export proves none was
/// stored.
fn cases() -> Vec<Case> {
    let long_string = format!("bad s=\"{}\"", "x".repeat(64 * 1024 + 1));
    let long_key = format!("{} v=1", "k".repeat(65_536));
    vec![
        case("missing fields", "bad,host=a", 11, "missing fields"),
        case("missing fields, measurement only", "bad", 4, "missing fields"),
        case("empty measurement", ",host=a v=1", 1, "missing measurement"),
        case("missing tag value", "bad,host= v=1", 10, "missing tag value"),
        case("tag without =", "bad,host v=1", 9, "missing tag value"),
        case("missing tag key", "bad,=a v=1", 5, "missing tag key"),
        case("trailing comma after tags", "bad,a=b, v=1", 9, "missing tag key"),
        case("unescaped = in tag value", "bad,a=b=c v=1", 7, "invalid tag format"),
        case("duplicate tag", "bad,a=1,a=2 v=1", 9, "duplicate tags"),
        case("escape at end of tag value", "bad,host=a\\", 12, "missing fields"),
        case("escape at end of measurement", "bad\\", 5, "missing fields"),
        case("escape at end of number", "bad v=1\\", 7, "invalid number"),
        case("escape at end of timestamp", "bad v=1 123\\", 9, "invalid timestamp"),
        case("lone minus", "bad v=-", 7, "invalid number"),
        case("exponent without digits", "bad v=1e", 7, "invalid number"),
        case("hex number", "bad v=0x10", 7, "invalid number"),
        case("missing field key", "bad =1", 5, "missing field key"),
        case("trailing comma after fields", "bad a=1,", 9, "missing field key"),
        case("field without =", "bad value", 5, "invalid field format"),
        case("missing field value", "bad,host=a value=", 18, "missing field value"),
        case("missing field value before comma", "bad value=,a=1", 11, "missing field value"),
        case("bare word value", "bad a=1,b=xyz", 11, "invalid field value"),
        case("NaN", "bad v=NaN", 7, "invalid field value"),
        case("two decimal points", "bad v=1.2.3", 7, "invalid number"),
        case("float with i suffix", "bad v=1.5i", 7, "invalid number"),
        case("negative unsigned", "bad v=-1u", 7, "unsigned integer out of range"),
        case("integer overflow", "bad v=9223372036854775808i", 7, "integer out of range"),
        case("integer underflow", "bad v=-9223372036854775809i", 7, "integer out of range"),
        case("unsigned overflow", "bad v=18446744073709551616u", 7, "unsigned integer out of range"),
        case("float overflow", "bad v=1e400", 7, "float out of range"),
        case("invalid boolean", "bad b=truth", 7, "invalid boolean"),
        case("invalid boolean case", "bad b=fAlse", 7, "invalid boolean"),
        case("unbalanced quotes", "bad s=\"abc", 7, "unbalanced quotes"),
        case("escaped closing quote", "bad s=\"abc\\\"", 7, "unbalanced quotes"),
        case("garbage after string", "bad s=\"abc\"x", 12, "invalid field format"),
        case("bad timestamp", "bad v=1 12a3", 9, "invalid timestamp"),
        case("float timestamp", "bad v=1 1.5", 9, "invalid timestamp"),
        case("timestamp out of range", "bad v=1 9223372036854775808", 9, "timestamp out of range"),
        case("trailing garbage", "bad v=1 123 xyz", 13, "unexpected text after timestamp"),
        case("invalid UTF-8 in measurement", &b"b\xffad v=1"[..], 2, "invalid UTF-8"),
        case("invalid UTF-8 in string", &b"bad s=\"a\xe2\x82\""[..], 9, "invalid UTF-8"),
        case("string too long", long_string, 7, "string field value too long"),
        case("key too long", long_key, 1, "max key length exceeded"),
    ]
}

/// Two valid points around each case, in a series of their own.
fn valid_pair(index: usize) -> (TestPoint, TestPoint) {
    let ts = BASE + i64::try_from(index).expect("small") * 10;
    let tag = index.to_string();
    (
        TestPoint::new("ok", ts).tag("case", &tag).field("v", V::Float(1.5)),
        TestPoint::new("ok", ts + 1)
            .tag("case", &tag)
            .field("v", V::Float(-2.25))
            .field("s", V::String("still \"here\"".into())),
    )
}

/// The error text must list `line L, column C: message` for the bad line.
#[track_caller]
fn assert_names(error: &str, line: usize, c: &Case) {
    let want = format!("line {line}, column {}: {}", c.column, c.message);
    assert!(
        error.lines().any(|l| l.starts_with("unable to parse '") && l.ends_with(&want)),
        "case {:?}: error should contain {want:?}, got {:?}",
        c.name,
        error.chars().take(2000).collect::<String>()
    );
}

#[test]
fn each_malformed_line_is_reported_and_its_neighbours_stored() {
    let mut server = limited_server();
    let db = "bad1";
    server.create_database(db);
    let mut expected = Vec::new();
    for (i, c) in cases().iter().enumerate() {
        let (a, b) = valid_pair(i);
        let mut body = a.line(Precision::Nanoseconds).into_bytes();
        body.extend_from_slice(&c.line);
        body.push(b'\n');
        body.extend_from_slice(b.line(Precision::Nanoseconds).as_bytes());
        let reply = server.write(db, body);
        assert_eq!(reply.status, 400, "case {:?}: {reply}", c.name);
        let error = reply.error_text();
        assert_names(&error, 2, c);
        assert_eq!(error.lines().count(), 1, "case {:?}: exactly one line reported: {error:?}", c.name);
        assert!(reply.headers.get("X-Influxdb-Error").is_some(), "case {:?}: X-Influxdb-Error header", c.name);
        expected.push(a);
        expected.push(b);
        assert!(server.is_running(), "server died on case {:?}", c.name);
    }

    // Precision-dependent overflow: fits in seconds, not in nanoseconds.
    let n = cases().len();
    let (a, b) = valid_pair(n);
    // precision=s: the valid lines must be whole seconds.
    let a = TestPoint { ts: BASE + 1_000_000_000, ..a };
    let b = TestPoint { ts: BASE + 2_000_000_000, ..b };
    let body = format!("{}bad v=1 9300000000000\n{}", a.line(Precision::Seconds), b.line(Precision::Seconds));
    let reply = server.write_precision(db, "s", body);
    assert_eq!(reply.status, 400, "{reply}");
    assert_names(&reply.error_text(), 2, &case("seconds overflow", "", 9, "timestamp out of range"));
    expected.push(a);
    expected.push(b);

    // Nothing of the bad lines was stored; every valid line was.
    let exported = PointSet::from_points(&server.export_points(db));
    augur_tests::assert_same_points(&point_set(&expected), &exported, "valid lines around bad ones");

    // And they are durable like any other write.
    server.kill9_restart();
    let exported = PointSet::from_points(&server.export_points(db));
    augur_tests::assert_same_points(&point_set(&expected), &exported, "after kill -9");
    assert!(server.ping());
}

#[test]
fn all_bad_lines_in_one_request_are_listed_by_line_number() {
    let server = limited_server();
    let db = "bad2";
    server.create_database(db);
    // Lines: 1 comment, 2 blank, then valid/bad alternating; keep the body
    // under the limit by leaving out the two 64 KiB cases.
    let all: Vec<Case> = cases().into_iter().filter(|c| c.line.len() < 1024).collect();
    let mut body = b"# a comment line\n\n".to_vec();
    let mut line = 3;
    let mut expected_lines = Vec::new();
    let mut valid = Vec::new();
    for (i, c) in all.iter().enumerate() {
        let (a, _) = valid_pair(i);
        body.extend_from_slice(a.line(Precision::Nanoseconds).as_bytes());
        valid.push(a);
        line += 1;
        body.extend_from_slice(&c.line);
        body.push(b'\n');
        expected_lines.push(line);
        line += 1;
    }
    let reply = server.write(db, body);
    assert_eq!(reply.status, 400, "{reply}");
    let error = reply.error_text();
    assert_eq!(error.lines().count(), all.len(), "one error line per bad line: {error:?}");
    for (c, &l) in all.iter().zip(&expected_lines) {
        assert_names(&error, l, c);
    }
    let exported = PointSet::from_points(&server.export_points(db));
    augur_tests::assert_same_points(&point_set(&valid), &exported, "valid lines of a mixed request");
}

#[test]
fn request_level_errors_are_clean_4xx_and_store_nothing() {
    let mut server = limited_server();
    let db = "bad3";
    server.create_database(db);
    let good = TestPoint::new("canary", BASE).field("v", V::Integer(1));
    let good_line = good.line(Precision::Nanoseconds);

    // Wrong precision (v1 and v2 spellings).
    let reply = server.post(&format!("/write?db={db}&precision=xs"), good_line.clone(), false);
    assert_eq!(reply.status, 400, "precision=xs: {reply}");
    assert!(reply.error_text().contains("precision"), "{reply}");
    let reply = server.post(&format!("/api/v2/write?bucket={db}&precision=h"), good_line.clone(), false);
    assert_eq!(reply.status, 400, "v2 precision=h: {reply}");

    // Bad gzip: not gzip at all, and truncated.
    let mut req = server
        .client()
        .post(server.url(&format!("/write?db={db}")))
        .header("Content-Encoding", "gzip")
        .body(good_line.clone());
    let reply = server.send(req);
    assert_eq!(reply.status, 400, "plain body labelled gzip: {reply}");
    assert!(reply.error_text().contains("gzip"), "{reply}");
    let mut truncated = gzip(good_line.as_bytes());
    truncated.truncate(truncated.len() - 6);
    req =
        server.client().post(server.url(&format!("/write?db={db}"))).header("Content-Encoding", "gzip").body(truncated);
    let reply = server.send(req);
    assert_eq!(reply.status, 400, "truncated gzip: {reply}");

    // An encoding we don't speak.
    let req = server
        .client()
        .post(server.url(&format!("/write?db={db}")))
        .header("Content-Encoding", "br")
        .body(good_line.clone());
    let reply = server.send(req);
    assert_eq!(reply.status, 415, "br: {reply}");

    // Over max_body_size: with Content-Length, chunked, and as a gzip bomb.
    let big_line = "big,host=a v=1.0\n";
    let big: String = big_line.repeat(LIMIT / big_line.len() + 10);
    assert!(big.len() > LIMIT);
    let reply = server.write(db, big.clone());
    assert_eq!(reply.status, 413, "plain body over the limit: {reply}");
    // Chunked (no Content-Length): refused once the limit is passed. Sent
    // on a raw connection because the server answers before the body ends.
    let mut stream = server.raw_stream();
    write!(
        stream,
        "POST /write?db={db} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .expect("send headers");
    let chunk = big_line.repeat(1000);
    let mut sent = 0;
    while sent < LIMIT + 64 * 1024 {
        if write!(stream, "{:x}\r\n{chunk}\r\n", chunk.len()).is_err() {
            break; // the server stopped reading: its answer is waiting
        }
        sent += chunk.len();
    }
    let _ = stream.write_all(b"0\r\n\r\n");
    let reply = read_raw_reply(&mut stream);
    assert_eq!(reply.status, 413, "chunked body over the limit: {reply}");
    let bomb = gzip(big_line.repeat((10 << 20) / big_line.len()).as_bytes());
    assert!(bomb.len() < LIMIT, "the bomb itself is small: {}", bomb.len());
    let reply = server.post(&format!("/write?db={db}"), big.clone(), true);
    assert_eq!(reply.status, 413, "gzip whose content is just over the limit: {reply}");
    let req =
        server.client().post(server.url(&format!("/write?db={db}"))).header("Content-Encoding", "gzip").body(bomb);
    let reply = server.send(req);
    assert_eq!(reply.status, 413, "10 MiB gzip bomb: {reply}");
    // Just under the limit is fine, gzipped or not.
    let fits: String = (0..(LIMIT - 1024) / 40).map(|k| format!("fits,host=a v={k}i {}\n", BASE + k as i64)).collect();
    assert!(fits.len() < LIMIT);
    let reply = server.write(db, fits.clone());
    assert_eq!(reply.status, 204, "body under the limit: {reply}");
    let reply = server.post(&format!("/write?db={db}"), fits.clone(), true);
    assert_eq!(reply.status, 204, "gzip body under the limit: {reply}");

    // Databases: unknown (404), missing (400), empty (400), v2 bucket missing.
    let reply = server.write("nope", good_line.clone());
    assert_eq!(reply.status, 404, "{reply}");
    assert_eq!(reply.error_text(), "database not found: \"nope\"", "{reply}");
    let reply = server.post("/write", good_line.clone(), false);
    assert_eq!(reply.status, 400, "no db: {reply}");
    assert!(reply.error_text().contains("database is required"), "{reply}");
    let reply = server.post("/write?db=", good_line.clone(), false);
    assert_eq!(reply.status, 400, "empty db: {reply}");
    let reply = server.post("/api/v2/write?org=x", good_line.clone(), false);
    assert_eq!(reply.status, 400, "no bucket: {reply}");
    assert_eq!(reply.json()["code"], "invalid", "v2 error shape: {reply}");
    assert!(reply.json()["message"].as_str().is_some_and(|m| m.contains("bucket")), "{reply}");
    let reply = server.post("/api/v2/write?bucket=nope", good_line.clone(), false);
    assert_eq!(reply.status, 404, "v2 unknown bucket: {reply}");
    let reply = server.post(&format!("/write?db={db}&rp=nope"), good_line.clone(), false);
    assert_eq!(reply.status, 404, "unknown rp: {reply}");

    // Field type conflict: the conflicting points are dropped, the rest stored.
    server.write_ok(db, format!("tc,s=a v=1 {BASE}\n"));
    let reply = server.write(
        db,
        format!(
            "tc,s=a v=\"text\" {}\ntc,s=a v=3 {}\ntc,s=b v=true {}\ntc,s=b w=1i {}\n",
            BASE + 1,
            BASE + 2,
            BASE + 3,
            BASE + 4
        ),
    );
    assert_eq!(reply.status, 400, "type conflict: {reply}");
    let error = reply.error_text();
    assert!(error.starts_with("partial write:"), "partial write: {error:?}");
    assert!(
        error.contains(
            "field type conflict: input field \"v\" on measurement \"tc\" is type string, already exists as type float"
        ),
        "type conflict names the field, measurement and both types: {error:?}"
    );
    assert!(error.contains("is type boolean, already exists as type float"), "second conflict listed: {error:?}");
    assert!(error.ends_with(" dropped=2"), "two points dropped: {error:?}");

    // Bad queries.
    let reply = server.send(server.client().get(server.url("/query?q=SELEC%20x")));
    assert_eq!(reply.status, 400, "bad query: {reply}");
    assert!(reply.error_text().starts_with("error parsing query"), "{reply}");
    let reply = server.query_raw("CREATE DATABASE", None);
    assert_eq!(reply.status, 400, "CREATE DATABASE without a name: {reply}");
    assert!(reply.error_text().starts_with("error parsing query"), "{reply}");
    let reply = server.get("/query");
    assert_eq!(reply.status, 400, "no q: {reply}");

    // Routes and methods.
    assert_eq!(server.get("/no/such/route").status, 404);
    let reply = server.send(server.client().delete(server.url("/write?db=x")));
    assert_eq!(reply.status, 405, "DELETE /write: {reply}");
    let reply = server.get("/api/v1/export?db=nope");
    assert_eq!(reply.status, 404, "export of an unknown db: {reply}");

    // Exactly what should be stored is: fits (twice, same rows), tc's three
    // accepted points; nothing from any rejected request.
    let mut want = PointSet::from_line_protocol(&fits, Precision::Nanoseconds);
    want.extend(
        PointSet::from_line_protocol(
            &format!("tc,s=a v=1 {BASE}\ntc,s=a v=3 {}\ntc,s=b w=1i {}\n", BASE + 2, BASE + 4),
            Precision::Nanoseconds,
        )
        .rows
        .iter()
        .map(|((k, ts), row)| row_point(k, *ts, row))
        .collect::<Vec<_>>()
        .iter(),
    );
    let got = PointSet::from_points(&server.export_points(db));
    augur_tests::assert_same_points(&want, &got, "after request-level errors");

    assert!(server.is_running(), "server still running");
    assert!(server.ping(), "server still answers /ping");
    // And it still shuts down cleanly.
    server.sigterm();
}

/// Rebuilds a point from a [`PointSet`] row (for merging sets).
fn row_point(key: &str, ts: i64, row: &augur_tests::Row) -> augur_engine::model::Point {
    let (measurement, tags) = augur_engine::model::parse_series_key(key).expect("valid key");
    let fields = row
        .iter()
        .map(|(k, v)| {
            let value = match v {
                augur_tests::Exact::Float(b) => V::Float(f64::from_bits(*b)),
                augur_tests::Exact::Integer(i) => V::Integer(*i),
                augur_tests::Exact::Unsigned(u) => V::Unsigned(*u),
                augur_tests::Exact::Boolean(b) => V::Boolean(*b),
                augur_tests::Exact::String(s) => V::String(s.clone()),
            };
            (k.clone(), value)
        })
        .collect();
    augur_engine::model::Point { measurement, tags, fields, timestamp: Some(ts) }
}

/// Opens a write whose chunked body stops after `first` and returns once it
/// provably sits in its handler holding the server's only write slot: a
/// `probe` (another write) is answered 429. A probe that wins the race for
/// the slot turns the held write away instead; that is seen on the held
/// connection, and a new one is opened. Returns the held connection and
/// the 429.
fn hold_the_write_slot(
    server: &Server,
    db: &str,
    first: &str,
    extra_headers: &str,
    mut probe: impl FnMut() -> augur_tests::Reply,
) -> (std::net::TcpStream, augur_tests::Reply) {
    let until = deadline(Duration::from_secs(15));
    loop {
        let mut held = server.raw_stream();
        write!(
            held,
            "POST /write?db={db} HTTP/1.1\r\nHost: x\r\n{extra_headers}Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{first}\r\n",
            first.len()
        )
        .expect("send the first half");
        loop {
            assert!(std::time::Instant::now() < until, "never got 429 while a write held the only slot");
            let reply = probe();
            if reply.status == 429 {
                return (held, reply);
            }
            assert_eq!(reply.status, 204, "probe write: {reply}");
            // Was the held write itself answered (turned away)?
            held.set_nonblocking(true).expect("nonblocking");
            let mut byte = [0u8; 1];
            let answered = !matches!(held.peek(&mut byte), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock);
            held.set_nonblocking(false).expect("blocking");
            if answered {
                break;
            }
        }
    }
}

/// With one write slot, a second write while the first is still sending
/// its body gets 429, and the first still succeeds.
#[test]
fn overload_is_a_429_not_a_queue() {
    let server = Server::start(ServerOptions::with_config("[http]\nmax_concurrent_writes = 1\n"));
    let db = "busy";
    server.create_database(db);

    // A write whose body stops half-way holds the only slot.
    let first = format!("slow v=1 {BASE}\n");
    let mut k = 0;
    let (mut held, busy) = hold_the_write_slot(&server, db, &first, "Connection: close\r\n", || {
        k += 1;
        server.write(db, format!("fast v={k} {}\n", BASE + k))
    });
    assert!(busy.headers.get("Retry-After").is_some(), "429 carries Retry-After: {busy:?}");
    assert!(busy.error_text().contains("too many"), "{busy}");
    // Finish the held body: it is stored and acknowledged.
    held.write_all(b"0\r\n\r\n").expect("finish the body");
    let reply = read_raw_reply(&mut held);
    assert_eq!(reply.status, 204, "the held write succeeds once its body completes: {reply}");
    server.write_ok(db, format!("after v=1 {BASE}\n"));
    let names: Vec<String> = server.export_points(db).iter().map(|p| p.measurement.clone()).collect();
    assert!(names.contains(&"slow".to_string()) && names.contains(&"after".to_string()), "{names:?}");
}

/// `max_series_per_database`: points of new series over the limit are
/// dropped with InfluxDB's message; existing series and other databases
/// keep accepting writes.
#[test]
fn series_limit_drops_only_new_series() {
    let mut server = Server::start(ServerOptions::with_config("[storage]\nmax_series_per_database = 3\n"));
    server.create_database("lim");
    server.create_database("other");
    let body: String =
        (1..=5).map(|h| format!("m,h={h} v=1 {BASE}\n")).collect::<String>() + &format!("m,h=1 v=2 {}\n", BASE + 1);
    let reply = server.write("lim", body);
    assert_eq!(reply.status, 400, "{reply}");
    let error = reply.error_text();
    assert!(error.starts_with("partial write:"), "{error:?}");
    assert!(error.contains("max-series-per-database limit exceeded: (3)"), "{error:?}");
    assert!(error.ends_with(" dropped=2"), "{error:?}");
    let want = PointSet::from_line_protocol(
        &format!("m,h=1 v=1 {BASE}\nm,h=2 v=1 {BASE}\nm,h=3 v=1 {BASE}\nm,h=1 v=2 {}\n", BASE + 1),
        Precision::Nanoseconds,
    );
    augur_tests::assert_same_points(&want, &PointSet::from_points(&server.export_points("lim")), "series limit");
    server.write_ok("other", format!("m,h=9 v=1 {BASE}\n"));
    // The count survives a restart: still no room for a fourth series.
    server.kill9_restart();
    let reply = server.write("lim", format!("m,h=4 v=1 {BASE}\n"));
    assert_eq!(reply.status, 400, "{reply}");
    assert!(reply.error_text().contains("max-series-per-database"), "{reply}");
    server.write_ok("lim", format!("m,h=2 v=5 {}\n", BASE + 5));
}

/// Points older than a retention policy's duration are refused with
/// InfluxDB's `points beyond retention policy`, the others stored.
#[test]
fn points_beyond_retention_are_dropped() {
    let server = Server::start_default();
    server.create_database("ret");
    server.query("CREATE RETENTION POLICY \"hour\" ON \"ret\" DURATION 1h REPLICATION 1 DEFAULT");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970").as_secs();
    let body = format!("m v=1 {}\nm v=2 {}\n", now - 60, now - 3 * 3600);
    let reply = server.write_precision("ret", "s", body);
    assert_eq!(reply.status, 400, "{reply}");
    let error = reply.error_text();
    assert!(error.contains("points beyond retention policy"), "{error:?}");
    assert!(error.ends_with(" dropped=1"), "{error:?}");
    let got = server.export_points("ret");
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].timestamp, Some(i64::try_from(now - 60).expect("fits") * 1_000_000_000));
}

/// A client that never finishes its body cannot hold shutdown hostage:
/// the server waits for it up to `http.shutdown_timeout`, then closes it,
/// flushes and exits 0, keeping everything acknowledged before (and
/// nothing of the unfinished request).
#[test]
fn stalled_request_does_not_block_graceful_shutdown() {
    let mut server =
        Server::start(ServerOptions::with_config("[http]\nshutdown_timeout = \"1s\"\nmax_concurrent_writes = 1\n"));
    let db = "stall";
    server.create_database(db);
    let mut acked = vec![BASE];
    server.write_ok(db, format!("m v=1 {BASE}\n"));
    // An idle keep-alive connection, and a write stalled mid-body.
    let mut idle = server.raw_stream();
    write!(idle, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n").expect("ping");
    // A write stalled mid-body, provably inside its handler.
    let first = format!("m v=-1 {}\n", BASE - 1);
    let (stalled, _) = hold_the_write_slot(&server, db, &first, "", || {
        let ts = BASE + i64::try_from(acked.len()).expect("small");
        let reply = server.write(db, format!("m v=2 {ts}\n"));
        if reply.status == 204 {
            acked.push(ts);
        }
        reply
    });
    let started = std::time::Instant::now();
    server.sigterm(); // asserts exit status 0, bounded
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(900), "shutdown did not wait for the in-flight request ({took:?})");
    assert!(took < Duration::from_secs(15), "shutdown took {took:?} with shutdown_timeout = 1s");
    drop((idle, stalled));
    server.start_again();
    let mut got: Vec<i64> = server.export_points(db).iter().filter_map(|p| p.timestamp).collect();
    got.sort_unstable();
    assert_eq!(got, acked, "acknowledged points kept, the unfinished request not stored");
}
