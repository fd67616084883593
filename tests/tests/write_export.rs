//! Write → export round trips through the real server.
//!
//! What is written over HTTP (v1 and v2 APIs, every precision, gzip bodies,
//! every field type with edge values, escaped names and strings) must come
//! back from `/api/v1/export` point by point and bit for bit — floats
//! included — right after the write, after a graceful restart (the head is
//! sealed into blocks) and after `kill -9` (the WAL is replayed). The
//! expected points are built as data and serialized by the harness, not by
//! the engine, so a serializer bug cannot mask a matching parser bug.

use std::time::{SystemTime, UNIX_EPOCH};

use augur_engine::model::{FieldValue as V, Precision};
use augur_tests::{
    assert_no_duplicate_rows, assert_same_points, column_values, lines, point_set, PointSet, Server, TestPoint,
};
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};

/// A timestamp that is a whole number of hours (so every precision can
/// express it): 2023-11-14T21:00:00Z.
const BASE: i64 = 1_699_995_600 * 1_000_000_000;
const SECOND: i64 = 1_000_000_000;
const HOUR: i64 = 3_600 * SECOND;

fn now_ns() -> i64 {
    let d = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock after 1970");
    i64::try_from(d.as_nanos()).expect("fits i64")
}

/// Every field type with edge values; rows leave some fields out so the
/// store's per-column presence is exercised too.
fn typed_points() -> Vec<TestPoint> {
    let floats = [
        0.0,
        -0.0,
        0.1,
        -1.5,
        1.0,
        1e-300,
        5e-324, // smallest subnormal
        f64::MAX,
        f64::MIN,
        f64::MIN_POSITIVE,
        123_456_789.123_456_79,
        -2.0e20,
        std::f64::consts::PI,
    ];
    let ints = [0, -1, 1, i64::MIN, i64::MAX, 42, -4_611_686_018_427_387_904];
    let uints = [0, 1, u64::MAX, u64::MAX - 1, 1 << 63, 7];
    let strings = [
        "",
        "plain",
        "with \"double quotes\"",
        "back\\slash",
        "ends with backslash\\",
        "comma, space = equals",
        "unicode é ✓ 日本語",
        "multi\nline\nstring",
        "tab\there",
        "'single' quotes",
    ];
    (0..floats.len().max(strings.len()))
        .map(|i| {
            let ts = BASE + i64::try_from(i).expect("small") * SECOND;
            // Tags written out of order: the store sorts them.
            let mut p = TestPoint::new("types", ts).tag("region", "eu-west").tag("host", "a");
            if let Some(&f) = floats.get(i) {
                p = p.field("f", V::Float(f));
            }
            if i % 3 != 2 {
                p = p.field("i", V::Integer(ints[i % ints.len()]));
            }
            if i % 4 != 1 {
                p = p.field("u", V::Unsigned(uints[i % uints.len()]));
            }
            if i % 5 != 3 {
                p = p.field("b", V::Boolean(i % 2 == 0));
            }
            if let Some(s) = strings.get(i) {
                p = p.field("s", V::String((*s).to_string()));
            }
            p
        })
        .collect()
}

/// Names that need escaping everywhere line protocol escapes.
fn escaped_points() -> Vec<TestPoint> {
    (0..4)
        .map(|i| {
            TestPoint::new("esc meas,ure", BASE + i * SECOND)
                .tag("tag key", "va,l=ue x")
                .tag("z=last", "v")
                .tag("emoji", "🚀")
                .field("fi eld,=x", V::Float(i as f64 / 3.0))
                .field("str", V::String(format!("\"{i}\" \\ ,= ")))
        })
        .collect()
}

/// Random floats (every finite bit pattern is fair game), integers and
/// unsigned integers across three series.
fn random_points(seed: u64, n: usize) -> Vec<TestPoint> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let series = i % 3;
        let float = loop {
            let f = f64::from_bits(rng.gen::<u64>());
            if f.is_finite() {
                break f;
            }
        };
        let ts = BASE + i64::try_from(i).expect("small") * 250_000_000 + rng.gen_range(0..1000);
        out.push(
            TestPoint::new("rand", ts)
                .tag("series", &series.to_string())
                .field("bits", V::Float(float))
                .field("gauge", V::Float(rng.gen_range(-100.0..100.0)))
                .field("count", V::Integer(rng.gen()))
                .field("ucount", V::Unsigned(rng.gen())),
        );
    }
    out
}

/// One series per precision, timestamps whole numbers of that unit.
fn precision_points() -> Vec<(Precision, &'static str, Vec<TestPoint>)> {
    let cases = [
        (Precision::Nanoseconds, "ns", 1),
        (Precision::Microseconds, "us", 1_000),
        (Precision::Milliseconds, "ms", 1_000_000),
        (Precision::Seconds, "s", SECOND),
        (Precision::Minutes, "m", 60 * SECOND),
        (Precision::Hours, "h", HOUR),
    ];
    cases
        .into_iter()
        .map(|(precision, name, unit)| {
            let points = (0..5)
                .map(|k| TestPoint::new("prec", BASE + k * unit * 7).tag("p", name).field("k", V::Integer(k)))
                .collect();
            (precision, name, points)
        })
        .collect()
}

/// Exports `db` and compares it with `expected`, excluding nothing.
#[track_caller]
fn assert_export(server: &Server, db: &str, expected: &PointSet, context: &str) {
    let exported = server.export_points(db);
    assert_no_duplicate_rows(&exported, context);
    assert_same_points(expected, &PointSet::from_points(&exported), context);
}

#[test]
fn every_type_precision_and_api_round_trips_across_restarts() {
    let mut server = Server::start_default();
    let db = "roundtrip";
    server.create_database(db);
    let mut written: Vec<TestPoint> = Vec::new();

    // v1, default precision (ns), plain body.
    let typed = typed_points();
    server.write_ok(db, lines(&typed, Precision::Nanoseconds));
    written.extend(typed);

    // v1, escapes, gzip body.
    let escaped = escaped_points();
    let reply = server.post(&format!("/write?db={db}"), lines(&escaped, Precision::Nanoseconds), true);
    assert_eq!(reply.status, 204, "gzip write: {reply}");
    written.extend(escaped);

    // v1, every precision.
    for (precision, name, points) in precision_points() {
        let reply = server.write_precision(db, name, lines(&points, precision));
        assert_eq!(reply.status, 204, "precision={name}: {reply}");
        written.extend(points);
    }

    // v2 API: bucket=db and bucket=db/rp, with its own precisions, one gzipped.
    let v2a: Vec<TestPoint> = (0..3)
        .map(|k| TestPoint::new("v2", BASE + k * 1_000_000).tag("api", "bucket").field("x", V::Float(k as f64 + 0.5)))
        .collect();
    let reply = server.post(
        &format!("/api/v2/write?bucket={db}&org=any&precision=ms"),
        lines(&v2a, Precision::Milliseconds),
        false,
    );
    assert_eq!(reply.status, 204, "v2 write: {reply}");
    written.extend(v2a);
    let v2b: Vec<TestPoint> = (0..3)
        .map(|k| TestPoint::new("v2", BASE + k * 1_000).tag("api", "bucket-rp").field("x", V::Float(-(k as f64))))
        .collect();
    let reply = server.post(
        &format!("/api/v2/write?bucket={db}/autogen&org=any&precision=us"),
        lines(&v2b, Precision::Microseconds),
        true,
    );
    assert_eq!(reply.status, 204, "v2 write with rp, gzip: {reply}");
    written.extend(v2b);

    // Random bit patterns, gzip, one big request.
    let random = random_points(7, 3_000);
    let reply = server.post(&format!("/write?db={db}"), lines(&random, Precision::Nanoseconds), true);
    assert_eq!(reply.status, 204, "random write: {reply}");
    written.extend(random);

    // A point without a timestamp gets the server's clock.
    let before = now_ns();
    server.write_ok(db, "nots value=1\n");
    let after = now_ns();

    let expected = point_set(&written);
    let check = |server: &Server, context: &str| {
        let exported = server.export_points(db);
        assert_no_duplicate_rows(&exported, context);
        let (nots, rest): (Vec<_>, Vec<_>) = exported.into_iter().partition(|p| p.measurement == "nots");
        assert_eq!(nots.len(), 1, "{context}: the point without timestamp: {nots:?}");
        let ts = nots[0].timestamp.expect("exported with a timestamp");
        assert!(
            (before..=after).contains(&ts),
            "{context}: server time {ts} not within the request's [{before}, {after}]"
        );
        assert_same_points(&expected, &PointSet::from_points(&rest), context);
    };
    check(&server, "right after writing");

    // Measurement filter and [start, end) range.
    let only_types = server.export_query(&format!("db={db}&measurement=types"));
    let got = PointSet::from_points(&augur_tests::parse_export(&only_types));
    assert_same_points(&point_set(&typed_points()), &got, "export measurement=types");
    let ranged =
        server.export_query(&format!("db={db}&measurement=types&start={}&end={}", BASE + SECOND, BASE + 3 * SECOND));
    let got = PointSet::from_points(&augur_tests::parse_export(&ranged));
    let want: Vec<TestPoint> =
        typed_points().into_iter().filter(|p| p.ts >= BASE + SECOND && p.ts < BASE + 3 * SECOND).collect();
    assert_eq!(want.len(), 2);
    assert_same_points(&point_set(&want), &got, "export with start/end");

    // Export lines are nanosecond line protocol with every field of a row.
    let first_types_line = only_types.lines().find(|l| !l.trim().is_empty()).expect("types exported");
    assert!(
        first_types_line.starts_with("types,host=a,region=eu-west "),
        "tags sorted in the export: {first_types_line:?}"
    );
    assert!(first_types_line.ends_with(&format!(" {BASE}")), "ns timestamp last: {first_types_line:?}");

    // SHOW MEASUREMENTS lists each measurement once.
    let json = server.query_raw("SHOW MEASUREMENTS", Some(db)).json();
    let mut names = column_values(&json, 0);
    names.sort();
    assert_eq!(names, vec!["esc meas,ure", "nots", "prec", "rand", "types", "v2"], "SHOW MEASUREMENTS: {json}");

    // Graceful restart: the head is sealed into blocks.
    server.restart();
    check(&server, "after a graceful restart");

    // More points on top of the blocks, then a crash: the WAL is replayed.
    let more = random_points(8, 600)
        .into_iter()
        .map(|mut p| {
            p.ts += 24 * HOUR;
            p
        })
        .collect::<Vec<_>>();
    server.write_ok(db, lines(&more, Precision::Nanoseconds));
    server.kill9_restart();
    let mut all = expected.clone();
    all.extend(more.iter().map(TestPoint::to_point).collect::<Vec<_>>().iter());
    let exported = server.export_points(db);
    let rest: Vec<_> = exported.into_iter().filter(|p| p.measurement != "nots").collect();
    assert_no_duplicate_rows(&rest, "after kill -9");
    assert_same_points(&all, &PointSet::from_points(&rest), "after kill -9");

    // And once more gracefully: WAL replay + blocks sealed again.
    server.restart();
    let rest: Vec<_> = server.export_points(db).into_iter().filter(|p| p.measurement != "nots").collect();
    assert_same_points(&all, &PointSet::from_points(&rest), "after kill -9 then graceful restart");
}

/// Out-of-order writes and overwrites of the same timestamp: last write
/// wins per field, other fields of the row are kept, whether the older
/// value sits in the head, a sealed block or the WAL.
#[test]
fn overwrites_and_out_of_order_points_merge_last_write_wins() {
    let mut server = Server::start_default();
    let db = "merge";
    server.create_database(db);
    let mut expected = PointSet::new();
    let write = |server: &Server, expected: &mut PointSet, points: Vec<TestPoint>| {
        server.write_ok(db, lines(&points, Precision::Nanoseconds));
        expected.extend(points.iter().map(TestPoint::to_point).collect::<Vec<_>>().iter());
    };

    // Descending timestamps across three windows.
    let desc: Vec<TestPoint> = (0..60)
        .rev()
        .map(|k| {
            TestPoint::new("m", BASE + k * 10 * 60 * SECOND)
                .tag("s", "x")
                .field("a", V::Float(k as f64))
                .field("b", V::Integer(k))
        })
        .collect();
    write(&server, &mut expected, desc);
    // Overwrite a in the head; add field c to some rows.
    write(
        &server,
        &mut expected,
        (0..60)
            .step_by(7)
            .map(|k| {
                TestPoint::new("m", BASE + k * 10 * 60 * SECOND)
                    .tag("s", "x")
                    .field("a", V::Float(-(k as f64)))
                    .field("c", V::Boolean(true))
            })
            .collect(),
    );
    assert_export(&server, db, &expected, "head only");

    server.restart();
    assert_export(&server, db, &expected, "after sealing");

    // Overwrite values that now live in blocks.
    write(
        &server,
        &mut expected,
        (0..60)
            .step_by(5)
            .map(|k| TestPoint::new("m", BASE + k * 10 * 60 * SECOND).tag("s", "x").field("b", V::Integer(1000 + k)))
            .collect(),
    );
    assert_export(&server, db, &expected, "head over blocks");

    server.kill9_restart();
    assert_export(&server, db, &expected, "WAL replay over blocks");

    // Same row written twice in one request: the later line wins.
    write(
        &server,
        &mut expected,
        vec![
            TestPoint::new("m", BASE).tag("s", "x").field("a", V::Float(1.25)),
            TestPoint::new("m", BASE).tag("s", "x").field("a", V::Float(2.5)),
        ],
    );
    server.restart();
    assert_export(&server, db, &expected, "two generations of blocks");
    let rows = expected.rows.get(&("m,s=x".to_string(), BASE)).expect("row at BASE");
    assert_eq!(rows.get("a"), Some(&augur_tests::Exact::Float(2.5f64.to_bits())));
}

/// Many series over many block windows, sent as several gzip requests.
#[test]
fn many_series_across_windows_survive_restarts() {
    let mut server = Server::start_default();
    let db = "wide";
    server.create_database(db);
    let mut rng = StdRng::seed_from_u64(99);
    let mut written = Vec::new();
    for chunk in 0..4 {
        let mut batch = Vec::new();
        for s in 0..50 {
            for k in 0..40 {
                // Spread over ~13 hours: several 2-hour windows per series.
                let ts = BASE + (chunk * 40 + k) * 5 * 60 * SECOND + s;
                batch.push(
                    TestPoint::new("wide", ts)
                        .tag("host", &format!("h{s:03}"))
                        .tag("dc", if s % 2 == 0 { "east" } else { "west" })
                        .field("v", V::Float(rng.gen::<f64>() * 1e6))
                        .field("n", V::Integer(rng.gen_range(-1_000_000..1_000_000))),
                );
            }
        }
        let reply = server.post(&format!("/write?db={db}"), lines(&batch, Precision::Nanoseconds), true);
        assert_eq!(reply.status, 204, "chunk {chunk}: {reply}");
        written.extend(batch);
    }
    let expected = point_set(&written);
    assert_eq!(expected.len(), 4 * 50 * 40);
    assert_export(&server, db, &expected, "head");
    server.restart();
    assert_export(&server, db, &expected, "blocks");
    server.kill9_restart();
    assert_export(&server, db, &expected, "blocks after kill -9");
}

/// Liveness endpoints and the database statements the CLI relies on.
#[test]
fn ping_health_and_database_statements() {
    let server = Server::start_default();
    let ping = server.get("/ping");
    assert_eq!(ping.status, 204, "{ping}");
    let version = ping.headers.get("X-Influxdb-Version").and_then(|v| v.to_str().ok()).unwrap_or_default();
    assert!(version.starts_with('1'), "X-Influxdb-Version {version:?}");
    let head = server.send(server.client().head(server.url("/ping")));
    assert_eq!(head.status, 204, "HEAD /ping: {head}");
    let health = server.get("/health");
    assert_eq!(health.status, 200, "{health}");
    assert_eq!(health.json()["status"], "pass", "{health}");

    let verbose = server.get("/ping?verbose=true");
    assert_eq!(verbose.status, 200, "{verbose}");
    assert_eq!(verbose.json()["version"].as_str(), Some(version), "{verbose}");

    // Influx 1.x JSON, exactly.
    let created = server.query_raw("CREATE DATABASE alpha", None);
    assert_eq!(created.status, 200, "{created}");
    assert_eq!(created.json(), serde_json::json!({"results": [{"statement_id": 0}]}));
    let shown = server.query_raw("SHOW DATABASES", None);
    assert_eq!(
        shown.json(),
        serde_json::json!({"results": [{"statement_id": 0, "series": [
            {"name": "databases", "columns": ["name"], "values": [["alpha"]]}
        ]}]}),
        "{shown}"
    );
    // Several statements: one result each, in order.
    let two = server.query_raw("CREATE DATABASE beta; SHOW DATABASES", None).json();
    assert_eq!(two["results"][0]["statement_id"], 0, "{two}");
    assert_eq!(two["results"][1]["statement_id"], 1, "{two}");
    assert_eq!(two["results"][1]["series"][0]["values"], serde_json::json!([["alpha"], ["beta"]]), "{two}");
    server.create_database("alpha"); // idempotent, as InfluxDB
    let mut dbs = server.databases();
    dbs.sort();
    assert!(dbs.contains(&"alpha".to_string()) && dbs.contains(&"beta".to_string()), "{dbs:?}");
    assert_eq!(dbs.iter().filter(|d| *d == "alpha").count(), 1, "{dbs:?}");

    let rps = server.query("SHOW RETENTION POLICIES ON alpha");
    let names = column_values(&rps, 0);
    assert_eq!(names, vec!["autogen"], "{rps}");

    server.query("CREATE RETENTION POLICY \"week\" ON \"alpha\" DURATION 7d REPLICATION 1");
    let rps = server.query("SHOW RETENTION POLICIES ON alpha");
    let mut names = column_values(&rps, 0);
    names.sort();
    assert_eq!(names, vec!["autogen", "week"], "{rps}");
    let now = now_ns();
    let reply = server.post("/write?db=alpha&rp=week", format!("m v=1 {now}\n"), false);
    assert_eq!(reply.status, 204, "write to rp week: {reply}");
    let exported = server.export_query("db=alpha&rp=week");
    assert_eq!(PointSet::from_points(&augur_tests::parse_export(&exported)).len(), 1, "{exported:?}");

    server.query("DROP DATABASE beta");
    let dbs = server.databases();
    assert!(!dbs.contains(&"beta".to_string()), "beta dropped: {dbs:?}");
    let reply = server.write("beta", "m v=1\n");
    assert_eq!(reply.status, 404, "write to dropped db: {reply}");
}

/// The extremes of the timestamp range (and negative times, whose block
/// windows round down) round-trip through the head, blocks and the WAL.
#[test]
fn extreme_and_negative_timestamps_round_trip() {
    let mut server = Server::start_default();
    let db = "extremes";
    server.create_database(db);
    let times = [
        i64::MIN + 2, // the earliest InfluxDB accepts
        -7_200_000_000_001,
        -HOUR,
        -1,
        0,
        1,
        i64::MAX - 1, // the latest
    ];
    let points: Vec<TestPoint> =
        times.iter().enumerate().map(|(i, &ts)| TestPoint::new("edge", ts).field("i", V::Integer(i as i64))).collect();
    server.write_ok(db, lines(&points, Precision::Nanoseconds));
    let expected = point_set(&points);
    assert_export(&server, db, &expected, "head");
    server.restart();
    assert_export(&server, db, &expected, "blocks");
    let later: Vec<TestPoint> =
        times.iter().map(|&ts| TestPoint::new("edge", ts).field("j", V::Boolean(ts < 0))).collect();
    server.write_ok(db, lines(&later, Precision::Nanoseconds));
    server.kill9_restart();
    let mut all = points.clone();
    all.extend(later);
    assert_export(&server, db, &point_set(&all), "WAL over blocks");
    // [start, end) around zero, in RFC 3339.
    let text = server.export_query(&format!("db={db}&start=1969-12-31T23:00:00Z&end=1970-01-01T00:00:00.000000001Z"));
    let got: Vec<i64> = augur_tests::parse_export(&text).iter().filter_map(|p| p.timestamp).collect();
    assert_eq!(got, vec![-HOUR, -1, 0], "{text:?}");
}

/// Databases are isolated; a dropped database stays dropped across a
/// crash, and a recreated one starts empty, with no memory of old field
/// types.
#[test]
fn databases_are_isolated_and_drops_survive_crashes() {
    let mut server = Server::start_default();
    for db in ["one", "two"] {
        server.create_database(db);
    }
    server.write_ok("one", format!("m,h=x v=1 {BASE}\n"));
    server.write_ok("two", format!("m,h=x v=\"text\" {BASE}\n"));
    let one = PointSet::from_line_protocol(&format!("m,h=x v=1 {BASE}\n"), Precision::Nanoseconds);
    let two = PointSet::from_line_protocol(&format!("m,h=x v=\"text\" {BASE}\n"), Precision::Nanoseconds);
    assert_export(&server, "one", &one, "one");
    assert_export(&server, "two", &two, "two");
    server.restart(); // "two" now lives in blocks

    server.query("DROP DATABASE two");
    server.kill9_restart();
    assert_eq!(server.databases(), vec!["one"], "the drop survived kill -9");
    assert_eq!(server.get("/api/v1/export?db=two").status, 404);
    server.create_database("two");
    assert!(server.export("two").trim().is_empty(), "a recreated database starts empty");
    // The old field type is forgotten with the old database.
    server.write_ok("two", format!("m,h=x v=true {}\n", BASE + 1));
    server.restart();
    let two = PointSet::from_line_protocol(&format!("m,h=x v=true {}\n", BASE + 1), Precision::Nanoseconds);
    assert_export(&server, "two", &two, "recreated two");
    assert_export(&server, "one", &one, "one untouched");
}

/// `block_window` is fixed when the store is created: restarting with
/// another value keeps the stored one and every point stays readable.
#[test]
fn block_window_change_keeps_data_readable() {
    let mut server = Server::start(augur_tests::ServerOptions::with_config("[storage]\nblock_window = \"10m\"\n"));
    let db = "windows";
    server.create_database(db);
    let points: Vec<TestPoint> =
        (0..200).map(|k| TestPoint::new("m", BASE + k * 60 * SECOND).field("v", V::Integer(k))).collect();
    server.write_ok(db, lines(&points, Precision::Nanoseconds));
    server.sigterm();
    server.set_options(augur_tests::ServerOptions::with_config("[storage]\nblock_window = \"2h\"\n"));
    server.start_again();
    let expected = point_set(&points);
    assert_export(&server, db, &expected, "after changing block_window");
    let ranged =
        server.export_query(&format!("db={db}&start={}&end={}", BASE + 100 * 60 * SECOND, BASE + 110 * 60 * SECOND));
    assert_eq!(augur_tests::parse_export(&ranged).len(), 10, "{ranged:?}");
    assert!(server.verify().is_empty());
}

/// String values up to InfluxDB's 64 KiB limit, and points with many
/// fields, round-trip.
#[test]
fn large_strings_and_wide_points_round_trip() {
    let mut server = Server::start_default();
    let db = "big";
    server.create_database(db);
    let mut points = vec![
        TestPoint::new("s", BASE).field("text", V::String("é".repeat(32 * 1024))), // 64 KiB
        TestPoint::new("s", BASE + 1).field("text", V::String("\"\\".repeat(100))),
    ];
    let mut wide = TestPoint::new("w", BASE);
    for f in 0..300 {
        wide = wide.field(&format!("f{f:03}"), V::Float(f as f64 * 1.5));
    }
    points.push(wide);
    server.write_ok(db, lines(&points, Precision::Nanoseconds));
    let expected = point_set(&points);
    assert_export(&server, db, &expected, "head");
    server.restart();
    assert_export(&server, db, &expected, "blocks");
}
