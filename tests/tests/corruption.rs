//! Damaged data on disk is found, reported and contained.
//!
//! With the server stopped, one byte of a stored value is flipped through
//! the engine's `storage::raw::flip_value_byte` (a sealed block, or a WAL
//! record left by `kill -9`). On restart the server must start, list the
//! damage on `/api/v1/verify` (which series and window, or which WAL
//! sequence), serve everything that is not damaged — bit for bit — never
//! serve damaged values, and keep accepting writes and queries.

use augur_engine::model::{FieldValue as V, Precision};
use augur_engine::storage::raw::flip_value_byte;
use augur_tests::{assert_same_points, lines, point_set, PointSet, Server, TestPoint};

const SECOND: i64 = 1_000_000_000;
const WINDOW: i64 = 2 * 3_600 * SECOND;
/// The start of a 2-hour window.
const BASE: i64 = 850_000 * WINDOW;

/// Series `temp,id=a` (created first, so series id 0) over two windows, and
/// `temp,id=b` (id 1) over the first window.
fn two_series() -> (Vec<TestPoint>, Vec<TestPoint>) {
    let a = (0..120)
        .map(|k| {
            TestPoint::new("temp", BASE + k * 2 * 60 * SECOND) // 4 hours: two windows
                .tag("id", "a")
                .field("v", V::Float(20.0 + k as f64 / 8.0))
                .field("n", V::Integer(k))
        })
        .collect();
    let b = (0..60)
        .map(|k| {
            TestPoint::new("temp", BASE + k * 60 * SECOND)
                .tag("id", "b")
                .field("v", V::Float(-(k as f64) / 3.0))
                .field("n", V::Integer(-k))
        })
        .collect();
    (a, b)
}

/// Window start stored in a block key: `series u32 · window i64
/// (sign-flipped, big-endian) · seal seq u64`.
fn window_of_block_key(key: &[u8]) -> i64 {
    let bytes: [u8; 8] =
        key.get(4..12).and_then(|b| b.try_into().ok()).unwrap_or_else(|| panic!("block key too short: {key:?}"));
    (u64::from_be_bytes(bytes) ^ (1 << 63)) as i64
}

#[test]
fn damaged_block_is_reported_and_skipped_and_the_rest_served() {
    let mut server = Server::start_default();
    let db = "corrupt";
    server.create_database(db);
    let (a, b) = two_series();
    // a first, so it gets series id 0.
    server.write_ok(db, lines(&a[..1], Precision::Nanoseconds));
    server.write_ok(db, lines(&b, Precision::Nanoseconds));
    server.write_ok(db, lines(&a[1..], Precision::Nanoseconds));
    assert!(server.verify().is_empty(), "nothing damaged yet");
    server.sigterm(); // seals the head into blocks

    let key = flip_value_byte(server.data_dir(), "blocks", &0u32.to_be_bytes(), 8)
        .expect("open the stopped store")
        .expect("series 0 has a block");
    let window = window_of_block_key(&key);
    assert_eq!(window, BASE, "series 0's first block is its first window");

    server.start_again();
    let damaged = server.verify();
    assert_eq!(damaged.len(), 1, "exactly one damaged item: {damaged:?}");
    let d = &damaged[0];
    assert_eq!(d["kind"], "block", "{d}");
    assert_eq!(d["series"], "temp,id=a", "{d}");
    assert_eq!(d["position"].as_i64(), Some(window), "{d}");
    assert!(!d["reason"].as_str().unwrap_or_default().is_empty(), "a reason: {d}");

    // Export: b complete, a's second window complete, a's first window
    // absent (never wrong numbers).
    let exported = PointSet::from_points(&server.export_points(db));
    let a_second: Vec<TestPoint> = a.iter().filter(|p| p.ts >= BASE + WINDOW).cloned().collect();
    assert_eq!(a_second.len(), 60);
    let mut want = b.clone();
    want.extend(a_second);
    assert_same_points(&point_set(&want), &exported, "export around a damaged block");

    // The server keeps serving: writes (to the damaged series too),
    // queries, exports.
    let fresh = vec![
        TestPoint::new("temp", BASE + 10 * WINDOW).tag("id", "a").field("v", V::Float(1.0)).field("n", V::Integer(1)),
        TestPoint::new("temp", BASE + 10 * WINDOW).tag("id", "c").field("v", V::Float(2.0)).field("n", V::Integer(2)),
    ];
    server.write_ok(db, lines(&fresh, Precision::Nanoseconds));
    assert!(server.databases().contains(&db.to_string()));
    want.extend(fresh);
    let exported = PointSet::from_points(&server.export_points(db));
    assert_same_points(&point_set(&want), &exported, "export after new writes");

    // Damage is still reported (and still contained) after another restart.
    server.restart();
    let damaged = server.verify();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0]["position"].as_i64(), Some(window));
    let exported = PointSet::from_points(&server.export_points(db));
    assert_same_points(&point_set(&want), &exported, "export after a restart");
    assert!(server.ping());
}

/// Five write requests are five WAL records (sequences 0..=4). A crash
/// leaves them; damaging record 1 loses exactly its points.
#[test]
fn damaged_wal_record_is_reported_and_only_its_points_lost() {
    let mut server = Server::start_default();
    let db = "walrot";
    server.create_database(db);
    let requests: Vec<Vec<TestPoint>> = (0..5)
        .map(|r| {
            (0..20)
                .map(|k| {
                    TestPoint::new("w", BASE + (r * 20 + k) * SECOND)
                        .tag("req", &r.to_string())
                        .field("v", V::Float(r as f64 * 100.0 + k as f64 + 0.25))
                })
                .collect()
        })
        .collect();
    for points in &requests {
        server.write_ok(db, lines(points, Precision::Nanoseconds));
    }
    server.kill9(); // the WAL keeps all five records

    let key = flip_value_byte(server.data_dir(), "wal", &1u64.to_be_bytes(), 4)
        .expect("open the stopped store")
        .expect("WAL record 1 exists after kill -9");
    assert_eq!(key, 1u64.to_be_bytes().to_vec(), "flipped record 1 itself");

    server.start_again();
    let damaged = server.verify();
    let wal: Vec<_> = damaged.iter().filter(|d| d["kind"] == "wal").collect();
    assert_eq!(wal.len(), 1, "one damaged WAL record: {damaged:?}");
    assert_eq!(wal[0]["position"].as_i64(), Some(1), "{damaged:?}");
    assert_eq!(damaged.len(), 1, "no other damage: {damaged:?}");

    let mut want: Vec<TestPoint> = Vec::new();
    for (r, points) in requests.iter().enumerate() {
        if r != 1 {
            want.extend(points.iter().cloned());
        }
    }
    let exported = PointSet::from_points(&server.export_points(db));
    assert_same_points(&point_set(&want), &exported, "records 0, 2, 3, 4 replayed");

    // Still writable, and what it holds survives a graceful restart.
    let more: Vec<TestPoint> = (0..3)
        .map(|k| TestPoint::new("w", BASE + (1000 + k) * SECOND).tag("req", "late").field("v", V::Float(k as f64)))
        .collect();
    server.write_ok(db, lines(&more, Precision::Nanoseconds));
    want.extend(more);
    server.restart();
    let exported = PointSet::from_points(&server.export_points(db));
    assert_same_points(&point_set(&want), &exported, "after a graceful restart");
}

/// The last record of the WAL damaged (what a torn write looks like): the
/// server starts and keeps every earlier record.
#[test]
fn damaged_last_wal_record_does_not_stop_startup() {
    let mut server = Server::start_default();
    let db = "torn";
    server.create_database(db);
    let requests: Vec<Vec<TestPoint>> = (0..3)
        .map(|r| {
            (0..10)
                .map(|k| TestPoint::new("t", BASE + (r * 10 + k) * SECOND).field("v", V::Integer(r * 10 + k)))
                .collect()
        })
        .collect();
    for points in &requests {
        server.write_ok(db, lines(points, Precision::Nanoseconds));
    }
    server.kill9();
    // Damage near the start of the value: the record's header.
    let key = flip_value_byte(server.data_dir(), "wal", &2u64.to_be_bytes(), usize::MAX)
        .expect("open the stopped store")
        .expect("WAL record 2 exists");
    assert_eq!(key, 2u64.to_be_bytes().to_vec());
    server.start_again();
    let damaged = server.verify();
    assert_eq!(damaged.len(), 1, "{damaged:?}");
    assert_eq!(damaged[0]["kind"], "wal");
    assert_eq!(damaged[0]["position"].as_i64(), Some(2));
    let want: Vec<TestPoint> = requests[..2].iter().flatten().cloned().collect();
    let exported = PointSet::from_points(&server.export_points(db));
    assert_same_points(&point_set(&want), &exported, "records 0 and 1");
}
