//! DELETE, DROP SERIES / MEASUREMENT and retention-policy changes against a
//! real RocksDB in a temporary directory, including reopening the store
//! (WAL replay) after each: deleted points must never come back.

use augur_engine::block::ColumnData;
use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::{
    MeasurementFilter, RetentionPolicy, SeriesData, StorageError, Store, StoreOptions, TagFilter, TimeRange,
};

const HOUR: i64 = 3_600_000_000_000;

fn point(m: &str, host: &str, v: f64, ts: i64) -> Point {
    Point {
        measurement: m.into(),
        tags: vec![("host".into(), host.into())],
        fields: vec![("v".into(), FieldValue::Float(v))],
        timestamp: Some(ts),
    }
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, StoreOptions::default()).unwrap()
}

fn read(store: &Store, m: &str) -> Vec<SeriesData> {
    let series = store.series("db", None, &MeasurementFilter::Name(m.into()), None).unwrap();
    let r = store.read("db", None, &series, TimeRange::ALL, None).unwrap();
    assert!(r.damaged.is_empty(), "{:?}", r.damaged);
    r.series
}

/// `(series key, timestamps, values)` of a measurement.
fn rows(store: &Store, m: &str) -> Vec<(String, Vec<i64>, Vec<f64>)> {
    read(store, m)
        .into_iter()
        .map(|s| {
            let ColumnData::Float(v) = &s.columns[0].data else { panic!("float") };
            (s.series.key.clone(), s.timestamps.clone(), v.clone())
        })
        .collect()
}

fn keys(store: &Store) -> Vec<String> {
    store.series("db", None, &MeasurementFilter::All, None).unwrap().into_iter().map(|s| s.key).collect()
}

/// Points every 30 minutes over 6 hours for hosts a and b of `cpu`, one
/// point of `mem`. With 2 h block windows, a range inside the data cuts
/// blocks in the middle.
fn load(store: &Store) {
    store.create_database("db").unwrap();
    let mut pts = Vec::new();
    for i in 0..12 {
        pts.push(point("cpu", "a", i as f64, i * HOUR / 2));
        pts.push(point("cpu", "b", 100.0 + i as f64, i * HOUR / 2));
    }
    pts.push(point("mem", "a", 7.0, 0));
    store.write("db", None, &pts, 0).unwrap();
}

fn host(h: &str) -> TagFilter {
    TagFilter::Eq("host".into(), h.into())
}

fn cpu() -> MeasurementFilter {
    MeasurementFilter::Name("cpu".into())
}

/// What `DELETE FROM cpu WHERE host='a' AND time >= 1h AND time <= 4h30m` leaves.
fn check_after_range_delete(store: &Store) {
    let got = rows(store, "cpu");
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].0, "cpu,host=a");
    let want_ts: Vec<i64> = [0, 1, 10, 11].iter().map(|i| i * HOUR / 2).collect();
    assert_eq!(got[0].1, want_ts);
    assert_eq!(got[0].2, vec![0.0, 1.0, 10.0, 11.0]);
    assert_eq!(got[1].1.len(), 12, "host b untouched");
}

#[test]
fn delete_range_in_head_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store);
    let n = store.delete("db", None, &cpu(), Some(&host("a")), TimeRange { start: HOUR, end: 9 * HOUR / 2 }).unwrap();
    assert_eq!(n, 1);
    check_after_range_delete(&store);
    // A write after the delete, inside the deleted range, is kept (replay order).
    store.write("db", None, &[point("cpu", "a", 42.0, 2 * HOUR)], 0).unwrap();
    drop(store);
    let store = open(dir.path());
    let got = rows(&store, "cpu");
    assert_eq!(got[0].1, [0, HOUR / 2, 2 * HOUR, 5 * HOUR, 11 * HOUR / 2]);
    assert_eq!(got[0].2, vec![0.0, 1.0, 42.0, 10.0, 11.0]);
}

#[test]
fn delete_range_in_sealed_blocks_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store);
    store.flush().unwrap();
    assert_eq!(store.head_values(), 0);
    store.delete("db", None, &cpu(), Some(&host("a")), TimeRange { start: HOUR, end: 9 * HOUR / 2 }).unwrap();
    check_after_range_delete(&store);
    drop(store);
    let store = open(dir.path());
    check_after_range_delete(&store);
    store.flush().unwrap();
    check_after_range_delete(&store);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn delete_across_blocks_frozen_and_active_heads() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store);
    store.flush().unwrap();
    // Same timestamps again, in the head: both copies must go.
    let again: Vec<Point> = (0..12).map(|i| point("cpu", "a", 50.0 + i as f64, i * HOUR / 2)).collect();
    store.write("db", None, &again, 0).unwrap();
    store.delete("db", None, &cpu(), Some(&host("a")), TimeRange { start: HOUR, end: 9 * HOUR / 2 }).unwrap();
    let check = |store: &Store| {
        let got = rows(store, "cpu");
        assert_eq!(got[0].1, [0, HOUR / 2, 5 * HOUR, 11 * HOUR / 2]);
        assert_eq!(got[0].2, vec![50.0, 51.0, 60.0, 61.0]);
    };
    check(&store);
    drop(store);
    let store = open(dir.path());
    check(&store);
}

#[test]
fn deleting_everything_of_a_series_drops_it_from_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store);
    store.flush().unwrap();
    store.write("db", None, &[point("cpu", "b", 1.0, 100 * HOUR)], 0).unwrap();
    // All of host b: blocks and head.
    store.delete("db", None, &cpu(), Some(&host("b")), TimeRange::ALL).unwrap();
    assert_eq!(keys(&store), vec!["cpu,host=a", "mem,host=a"]);
    // Time only, every measurement: mem's point at 0 goes, so does mem.
    store.delete("db", None, &MeasurementFilter::All, None, TimeRange { start: i64::MIN, end: 0 }).unwrap();
    assert_eq!(keys(&store), vec!["cpu,host=a"]);
    assert!(store.measurements("db", None).unwrap() == vec!["cpu".to_string()]);
    assert!(store.fields("db", None, "mem").unwrap().is_empty());
    drop(store);
    let store = open(dir.path());
    assert_eq!(keys(&store), vec!["cpu,host=a"]);
    assert_eq!(rows(&store, "cpu")[0].1.len(), 11);
    // The key can be written again: a new series.
    store.write("db", None, &[point("cpu", "b", 3.0, HOUR)], 0).unwrap();
    assert_eq!(rows(&store, "cpu")[1].2, vec![3.0]);
}

#[test]
fn drop_series_and_measurement() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store);
    store.flush().unwrap();
    store.write("db", None, &[point("cpu", "a", 1.0, 100 * HOUR)], 0).unwrap();
    assert_eq!(store.drop_series("db", &MeasurementFilter::All, Some(&host("a"))).unwrap(), 2);
    assert_eq!(keys(&store), vec!["cpu,host=b"]);
    assert_eq!(store.measurements("db", None).unwrap(), vec!["cpu".to_string()]);
    let tag_a = store.series("db", None, &cpu(), Some(&host("a"))).unwrap();
    assert!(tag_a.is_empty());
    // A different type for mem's field is accepted now that mem is gone.
    let mut p = point("mem", "z", 0.0, 0);
    p.fields = vec![("v".into(), FieldValue::Integer(3))];
    assert!(store.write("db", None, &[p], 0).unwrap().rejected.is_empty());
    assert_eq!(store.drop_measurement("db", "cpu").unwrap(), 1);
    assert_eq!(store.drop_measurement("db", "cpu").unwrap(), 0);
    let check = |store: &Store| {
        assert_eq!(keys(store), vec!["mem,host=z"]);
        assert!(read(store, "cpu").is_empty());
    };
    check(&store);
    drop(store);
    let store = open(dir.path());
    check(&store);
    store.flush().unwrap();
    check(&store);
    assert!(matches!(store.drop_series("nope", &MeasurementFilter::All, None), Err(StorageError::DatabaseNotFound(_))));
}

#[test]
fn alter_and_drop_retention_policies() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    load(&store);
    let rp = |name: &str, duration: Option<i64>, default: bool| RetentionPolicy {
        name: name.into(),
        duration_ns: duration,
        shard_group_duration_ns: HOUR,
        replication: 3,
        default,
    };
    store.create_retention_policy("db", rp("short", Some(24 * HOUR), false)).unwrap();
    store.write("db", Some("short"), &[point("cpu", "s", 1.0, 0)], 0).unwrap();
    store.alter_retention_policy("db", &rp("autogen", Some(48 * HOUR), false)).unwrap();
    store.alter_retention_policy("db", &rp("short", Some(2 * HOUR), true)).unwrap();
    assert!(matches!(
        store.alter_retention_policy("db", &rp("nope", None, false)),
        Err(StorageError::RetentionPolicyNotFound { .. })
    ));
    assert!(matches!(store.alter_retention_policy("x", &rp("a", None, false)), Err(StorageError::DatabaseNotFound(_))));
    let check = |store: &Store| {
        let p = store.retention_policies("db").unwrap();
        assert_eq!(p[0], rp("autogen", Some(48 * HOUR), false));
        assert_eq!(p[1], rp("short", Some(2 * HOUR), true));
    };
    check(&store);
    drop(store);
    let store = open(dir.path());
    check(&store);
    store.drop_retention_policy("db", "short").unwrap();
    store.drop_retention_policy("db", "short").unwrap();
    store.drop_retention_policy("nope", "short").unwrap();
    assert_eq!(store.retention_policies("db").unwrap().len(), 1);
    // The default is gone with it: a write must name a policy.
    assert!(matches!(
        store.write("db", None, &[point("cpu", "a", 1.0, 0)], 0),
        Err(StorageError::RetentionPolicyNotFound { .. })
    ));
    assert_eq!(store.series("db", Some("autogen"), &cpu(), None).unwrap().len(), 2);
    drop(store);
    let store = open(dir.path());
    assert!(store.series("db", Some("short"), &MeasurementFilter::All, None).is_err());
    // Recreated: empty, and its old WAL records stay dead.
    store.create_retention_policy("db", rp("short", Some(24 * HOUR), false)).unwrap();
    assert!(store.series("db", Some("short"), &MeasurementFilter::All, None).unwrap().is_empty());
}
