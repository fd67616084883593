//! Storage tests against a real RocksDB in a temporary directory.

use augur_engine::block::ColumnData;
use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::{
    raw, MeasurementFilter, RetentionPolicy, SeriesData, StorageError, Store, StoreOptions, TagFilter, TimeRange,
};

const HOUR: i64 = 3_600_000_000_000;

fn point(m: &str, tags: &[(&str, &str)], fields: &[(&str, FieldValue)], ts: i64) -> Point {
    let mut tags: Vec<(String, String)> = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    tags.sort();
    Point {
        measurement: m.into(),
        tags,
        fields: fields.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        timestamp: Some(ts),
    }
}

fn f(v: f64) -> FieldValue {
    FieldValue::Float(v)
}

fn open(dir: &std::path::Path) -> Store {
    Store::open(dir, StoreOptions::default()).unwrap()
}

fn read_all(store: &Store, db: &str, m: &str) -> Vec<SeriesData> {
    let series = store.series(db, None, &MeasurementFilter::Name(m.into()), None).unwrap();
    let r = store.read(db, None, &series, TimeRange::ALL, None).unwrap();
    assert!(r.damaged.is_empty(), "{:?}", r.damaged);
    r.series
}

fn floats(s: &SeriesData, field: &str) -> Vec<Option<f64>> {
    let c = s.columns.iter().find(|c| c.name == field).expect("column");
    let ColumnData::Float(vals) = &c.data else { panic!("not float") };
    let mut it = vals.iter();
    (0..s.timestamps.len())
        .map(|r| match &c.presence {
            Some(p) if !p[r] => None,
            _ => it.next().copied(),
        })
        .collect()
}

#[test]
fn write_read_flush_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    let pts: Vec<Point> = (0..100)
        .map(|i| {
            point(
                "cpu",
                &[("host", if i % 2 == 0 { "a" } else { "b" })],
                &[("v", f(i as f64 / 4.0))],
                i * 1_000_000_000,
            )
        })
        .collect();
    let out = store.write("db", None, &pts, 0).unwrap();
    assert_eq!(out.points_written, 100);
    assert!(out.rejected.is_empty());

    let check = |store: &Store| {
        let data = read_all(store, "db", "cpu");
        assert_eq!(data.len(), 2);
        assert_eq!(data[0].series.key, "cpu,host=a");
        assert_eq!(data[0].timestamps.len(), 50);
        assert_eq!(floats(&data[0], "v")[1], Some(0.5));
    };
    check(&store);
    // Recovery from the WAL alone.
    drop(store);
    let store = open(dir.path());
    check(&store);
    // From sealed blocks.
    store.flush().unwrap();
    assert_eq!(store.head_values(), 0);
    check(&store);
    drop(store);
    let store = open(dir.path());
    check(&store);
    assert!(store.verify().unwrap().is_empty());
}

#[test]
fn last_write_wins_and_out_of_order_across_blocks_and_head() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    store.write("db", None, &[point("m", &[], &[("a", f(1.0)), ("b", f(2.0))], 10)], 0).unwrap();
    store.flush().unwrap();
    store.write("db", None, &[point("m", &[], &[("a", f(3.0))], 10), point("m", &[], &[("a", f(0.0))], 5)], 0).unwrap();
    let data = read_all(&store, "db", "m");
    assert_eq!(data[0].timestamps, vec![5, 10]);
    assert_eq!(floats(&data[0], "a"), vec![Some(0.0), Some(3.0)]);
    assert_eq!(floats(&data[0], "b"), vec![None, Some(2.0)]);
    store.flush().unwrap();
    let data = read_all(&store, "db", "m");
    assert_eq!(floats(&data[0], "a"), vec![Some(0.0), Some(3.0)]);
    // A time range and a field projection.
    let series = store.series("db", None, &MeasurementFilter::All, None).unwrap();
    let r = store.read("db", None, &series, TimeRange { start: 6, end: 20 }, Some(&["b".to_string()])).unwrap();
    assert_eq!(r.series[0].timestamps, vec![10]);
    assert_eq!(r.series[0].columns.len(), 1);
}

#[test]
fn field_type_conflicts_are_rejected_per_point() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    store.write("db", None, &[point("m", &[], &[("v", f(1.0))], 1)], 0).unwrap();
    let out = store
        .write(
            "db",
            None,
            &[
                point("m", &[("h", "x")], &[("v", FieldValue::Integer(1))], 2),
                point("m", &[], &[("v", f(2.0))], 3),
                point("m", &[], &[("w", FieldValue::Boolean(true))], 4),
                point("m", &[], &[("w", FieldValue::String("s".into()))], 5),
            ],
            0,
        )
        .unwrap();
    assert_eq!(out.points_written, 2);
    let reserved = store
        .write(
            "db",
            None,
            &[point("m", &[("time", "x")], &[("v", f(1.0))], 1), point("m", &[], &[("time", f(1.0))], 1)],
            0,
        )
        .unwrap();
    assert_eq!(reserved.rejected.len(), 2);
    assert!(reserved.rejected[1].reason.contains("invalid field name"), "{}", reserved.rejected[1].reason);
    let idx: Vec<usize> = out.rejected.iter().map(|r| r.index).collect();
    assert_eq!(idx, vec![0, 3]);
    assert!(out.rejected[0].reason.contains("field type conflict"), "{}", out.rejected[0].reason);
    assert!(out.rejected[0].reason.contains("already exists as type float"));
    // The conflict survives a restart (types are persisted).
    drop(store);
    let store = open(dir.path());
    let out = store.write("db", None, &[point("m", &[], &[("v", FieldValue::String("x".into()))], 9)], 0).unwrap();
    assert_eq!(out.rejected.len(), 1);
    let fields = store.fields("db", None, "m").unwrap();
    assert_eq!(fields.len(), 2);
}

#[test]
fn unknown_database_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert!(matches!(store.write("nope", None, &[], 0), Err(StorageError::DatabaseNotFound(_))));
    store.create_database("db").unwrap();
    assert!(matches!(store.write("db", Some("x"), &[], 0), Err(StorageError::RetentionPolicyNotFound { .. })));
}

#[test]
fn tag_filters_select_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    let pts = vec![
        point("cpu", &[("host", "web-1"), ("dc", "eu")], &[("v", f(1.0))], 1),
        point("cpu", &[("host", "web-2"), ("dc", "us")], &[("v", f(1.0))], 1),
        point("cpu", &[("host", "db-1")], &[("v", f(1.0))], 1),
    ];
    store.write("db", None, &pts, 0).unwrap();
    drop(store);
    // Postings come back from RocksDB after a restart.
    let store = open(dir.path());
    let re = TagFilter::Regex("host".into(), regex::Regex::new(r"^web-\d+$").unwrap());
    let s = store.series("db", None, &MeasurementFilter::Name("cpu".into()), Some(&re)).unwrap();
    assert_eq!(s.len(), 2);
    let no_dc = TagFilter::Eq("dc".into(), String::new());
    let s = store.series("db", None, &MeasurementFilter::Name("cpu".into()), Some(&no_dc)).unwrap();
    assert_eq!(s.iter().map(|s| s.key.as_str()).collect::<Vec<_>>(), vec!["cpu,host=db-1"]);
    assert_eq!(store.measurements("db", None).unwrap(), vec!["cpu".to_string()]);
}

#[test]
fn databases_and_policies_keep_creation_order_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path());
        for db in ["zeta", "alpha", "mid"] {
            store.create_database(db).unwrap();
        }
        for rp in ["r2", "b1"] {
            let policy = RetentionPolicy {
                name: rp.into(),
                duration_ns: None,
                shard_group_duration_ns: HOUR,
                replication: 1,
                default: false,
            };
            store.create_retention_policy("zeta", policy).unwrap();
        }
        store.drop_database("alpha").unwrap();
        store.create_database("alpha").unwrap();
    }
    let store = open(dir.path());
    assert_eq!(store.databases(), ["zeta", "mid", "alpha"]);
    let rps: Vec<String> = store.retention_policies("zeta").unwrap().into_iter().map(|p| p.name).collect();
    assert_eq!(rps, ["autogen", "r2", "b1"]);
}

#[test]
fn drop_database_removes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    store.write("db", None, &[point("m", &[], &[("v", f(1.0))], 1)], 0).unwrap();
    store.flush().unwrap();
    store.write("db", None, &[point("m", &[], &[("v", f(2.0))], 2)], 0).unwrap();
    store.drop_database("db").unwrap();
    assert!(!store.database_exists("db"));
    store.create_database("db").unwrap();
    assert!(read_all(&store, "db", "m").is_empty());
    // A new type for the same field name is fine after the drop.
    let out = store.write("db", None, &[point("m", &[], &[("v", FieldValue::Integer(1))], 3)], 0).unwrap();
    assert!(out.rejected.is_empty());
    drop(store);
    let store = open(dir.path());
    let data = read_all(&store, "db", "m");
    assert_eq!(data.len(), 1);
    assert_eq!(data[0].timestamps, vec![3]);
}

#[test]
fn retention_rejects_old_points_and_drops_expired_windows() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    store
        .create_retention_policy(
            "db",
            RetentionPolicy {
                name: "day".into(),
                duration_ns: Some(24 * HOUR),
                shard_group_duration_ns: HOUR,
                replication: 1,
                default: true,
            },
        )
        .unwrap();
    let now = 100 * 24 * HOUR;
    let pts = vec![
        point("m", &[], &[("v", f(1.0))], now - 30 * HOUR), // beyond retention
        point("m", &[], &[("v", f(2.0))], now - 20 * HOUR),
        point("m", &[], &[("v", f(3.0))], now - HOUR),
    ];
    let out = store.write("db", None, &pts, now).unwrap();
    assert_eq!(out.rejected.len(), 1);
    assert_eq!(out.rejected[0].reason, "points beyond retention policy");
    store.flush().unwrap();
    // 10 hours later the first stored point's window is past the cutoff.
    let dropped = store.enforce_retention(now + 10 * HOUR).unwrap();
    assert_eq!(dropped, 1);
    let data = read_all(&store, "db", "m");
    assert_eq!(data[0].timestamps, vec![now - HOUR]);
    let rps = store.retention_policies("db").unwrap();
    assert_eq!(rps.len(), 2);
}

#[test]
fn series_cardinality_limit() {
    let dir = tempfile::tempdir().unwrap();
    let store =
        Store::open(dir.path(), StoreOptions { max_series_per_database: 3, ..StoreOptions::default() }).unwrap();
    store.create_database("db").unwrap();
    let pts: Vec<Point> = (0..5).map(|i| point("m", &[("h", &i.to_string())], &[("v", f(1.0))], 1)).collect();
    let out = store.write("db", None, &pts, 0).unwrap();
    assert_eq!(out.points_written, 3);
    assert_eq!(out.rejected.len(), 2);
    assert!(out.rejected[0].reason.contains("max-series-per-database limit exceeded: (3)"));
    // Existing series still accept points.
    let out = store.write("db", None, &pts[..1], 0).unwrap();
    assert_eq!(out.points_written, 1);
}

#[test]
fn caller_series_budget_limits_only_new_series() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    let pts: Vec<Point> = (0..5).map(|i| point("m", &[("h", &i.to_string())], &[("v", f(1.0))], 1)).collect();
    let out = store.write_within("db", None, &pts[..2], 0, Some((2, "tenant limit"))).unwrap();
    assert_eq!(out.points_written, 2);
    assert_eq!(store.series_count("db"), 2);
    // Existing series pass a zero budget; new ones get the caller's reason.
    let out = store.write_within("db", None, &pts, 0, Some((1, "tenant limit"))).unwrap();
    assert_eq!(out.points_written, 3);
    assert_eq!(out.rejected.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(), ["tenant limit", "tenant limit"]);
    assert_eq!(store.series_count("db"), 3);
    assert_eq!(store.series_count("nope"), 0);
}

#[test]
fn damaged_block_is_reported_and_the_rest_served() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    let pts: Vec<Point> = (0..50)
        .flat_map(|i| {
            [point("m", &[("h", "a")], &[("v", f(i as f64))], i), point("m", &[("h", "b")], &[("v", f(i as f64))], i)]
        })
        .collect();
    store.write("db", None, &pts, 0).unwrap();
    store.flush().unwrap();
    drop(store);
    // Series ids are 0 (h=a) and 1 (h=b): damage the first block of series 0.
    let key = raw::flip_value_byte(dir.path(), "blocks", &0u32.to_be_bytes(), 10).unwrap();
    assert!(key.is_some());
    let store = open(dir.path());
    let damage = store.verify().unwrap();
    assert_eq!(damage.len(), 1);
    assert_eq!(damage[0].series_key, "m,h=a");
    assert_eq!(damage[0].position, 0);
    let series = store.series("db", None, &MeasurementFilter::All, None).unwrap();
    let r = store.read("db", None, &series, TimeRange::ALL, None).unwrap();
    assert_eq!(r.damaged.len(), 1);
    assert_eq!(r.series.len(), 1);
    assert_eq!(r.series[0].series.key, "m,h=b");
    assert_eq!(r.series[0].timestamps.len(), 50);
}

#[test]
fn damaged_wal_record_is_skipped_at_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    for i in 0..3 {
        store.write("db", None, &[point("m", &[], &[("v", f(i as f64))], i)], 0).unwrap();
    }
    drop(store);
    // WAL sequence 1 is the second write.
    raw::flip_value_byte(dir.path(), "wal", &1u64.to_be_bytes(), 3).unwrap().unwrap();
    let store = open(dir.path());
    let damage = store.recovery_damage();
    assert_eq!(damage.len(), 1);
    assert_eq!((damage[0].kind, damage[0].position), ("wal", 1));
    let data = read_all(&store, "db", "m");
    assert_eq!(data[0].timestamps, vec![0, 2]);
}

#[test]
fn all_field_types_survive_sealing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    let fields = [
        ("f", f(-0.0)),
        ("i", FieldValue::Integer(i64::MIN)),
        ("u", FieldValue::Unsigned(u64::MAX)),
        ("b", FieldValue::Boolean(true)),
        ("s", FieldValue::String("héllo \"w\"".into())),
    ];
    store.write("db", None, &[point("m", &[], &fields, -5)], 0).unwrap();
    store.flush().unwrap();
    drop(store);
    let store = open(dir.path());
    let data = read_all(&store, "db", "m");
    assert_eq!(data[0].timestamps, vec![-5]);
    let get = |n: &str| data[0].columns.iter().find(|c| c.name == n).unwrap().data.clone();
    assert_eq!(get("i"), ColumnData::Integer(vec![i64::MIN]));
    assert_eq!(get("u"), ColumnData::Unsigned(vec![u64::MAX]));
    assert_eq!(get("b"), ColumnData::Boolean(vec![true]));
    assert_eq!(get("s"), ColumnData::String(vec!["héllo \"w\"".into()]));
    let ColumnData::Float(v) = get("f") else { panic!() };
    assert_eq!(v[0].to_bits(), (-0.0f64).to_bits());
}

#[test]
fn disk_usage_follows_the_data_from_wal_to_blocks() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    // Empty memtables already count their arena blocks: compare with this.
    let empty = store.disk_usage().unwrap();
    let pts: Vec<Point> =
        (0..5_000).map(|i| point("cpu", &[("host", &format!("h{}", i % 50))], &[("v", f(i as f64))], i)).collect();
    store.write("db", None, &pts, 0).unwrap();
    let written = store.disk_usage().unwrap();
    assert!(written.wal > empty.wal, "the write is in the WAL: {empty:?} -> {written:?}");
    assert!(written.index > empty.index, "50 series in the catalog: {empty:?} -> {written:?}");
    store.flush().unwrap();
    let sealed = store.disk_usage().unwrap();
    assert!(sealed.blocks > empty.blocks, "sealed into blocks: {empty:?} -> {sealed:?}");
    assert!(sealed.wal < written.wal, "the checkpoint trimmed the WAL: {written:?} -> {sealed:?}");
}

/// The last `n` rows of a full read, as `read_newest` should return them.
fn newest_of(mut full: Vec<SeriesData>, n: usize) -> Vec<SeriesData> {
    fn tail<T: Clone>(v: &[T], n: usize) -> Vec<T> {
        v[v.len().saturating_sub(n)..].to_vec()
    }
    for s in &mut full {
        let rows = s.timestamps.len();
        let cut = rows.saturating_sub(n);
        s.timestamps = tail(&s.timestamps, n);
        for c in &mut s.columns {
            // Values of the kept rows: the last `present` ones.
            let present = match &c.presence {
                Some(p) => p[cut..].iter().filter(|x| **x).count(),
                None => rows - cut,
            };
            c.data = match &c.data {
                ColumnData::Float(v) => ColumnData::Float(tail(v, present)),
                ColumnData::Integer(v) => ColumnData::Integer(tail(v, present)),
                ColumnData::Unsigned(v) => ColumnData::Unsigned(tail(v, present)),
                ColumnData::Boolean(v) => ColumnData::Boolean(tail(v, present)),
                ColumnData::String(v) => ColumnData::String(tail(v, present)),
            };
            c.presence = c.presence.as_ref().map(|p| p[cut..].to_vec()).filter(|p| !p.iter().all(|x| *x));
        }
    }
    full
}

/// What a read says, comparable: per series its id, times and non-empty
/// columns by name.
type Comparable = Vec<(u32, Vec<i64>, Vec<augur_engine::block::Column>)>;

fn comparable(series: Vec<SeriesData>) -> Comparable {
    series
        .into_iter()
        .map(|s| {
            let mut columns: Vec<_> =
                s.columns.into_iter().filter(|c| c.presence.as_ref().is_none_or(|p| p.iter().any(|x| *x))).collect();
            columns.sort_by(|a, b| a.name.cmp(&b.name));
            (s.series.id, s.timestamps, columns)
        })
        .collect()
}

#[test]
fn read_newest_and_read_pieces_match_a_full_read() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    store.create_database("db").unwrap();
    // Three series over ~9 block windows (2 h each): some written, sealed,
    // then overwritten and extended in the head, out of order, with a
    // sparse second field and a gap of several empty windows.
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut batch = |store: &Store, times: &mut dyn Iterator<Item = i64>| {
        let pts: Vec<Point> = times
            .map(|t| {
                let r = next();
                let host = ["a", "b", "c"][(r % 3) as usize];
                let mut fields = vec![("v", f((r >> 8) as f64 % 100.0))];
                if r % 5 == 0 {
                    fields = vec![("w", f(1.0))];
                } else if r % 7 == 0 {
                    fields.push(("w", f(2.0)));
                }
                point("cpu", &[("host", host)], &fields, t)
            })
            .collect();
        store.write("db", None, &pts, 0).unwrap();
    };
    let minute = 60_000_000_000i64;
    batch(&store, &mut (0..300).map(|i| i * minute));
    batch(&store, &mut (0..40).map(|i| 17 * HOUR + i * minute));
    store.flush().unwrap();
    // Overwrites of sealed points, new points, and points older than the newest.
    batch(&store, &mut (0..200).map(|i| 4 * HOUR + (i % 90) * minute));
    batch(&store, &mut (0..60).rev().map(|i| 17 * HOUR + i * 2 * minute));
    // A window only the head holds (no block shares it), out of order, with
    // repeated timestamps (the last write wins).
    batch(&store, &mut (0..50).rev().map(|i| 20 * HOUR + (i % 30) * minute));

    let series = store.series("db", None, &MeasurementFilter::Name("cpu".into()), None).unwrap();
    let fields_v = vec!["v".to_string()];
    let fields_w = vec!["w".to_string()];
    let ranges = [
        TimeRange::ALL,
        TimeRange { start: 0, end: 3 * HOUR + 7 * minute },
        TimeRange { start: 2 * HOUR, end: 17 * HOUR },
        TimeRange { start: 5 * HOUR + 1, end: 16 * HOUR },
        TimeRange { start: 17 * HOUR + 30 * minute, end: i64::MAX },
        TimeRange { start: 0, end: 20 * HOUR + 10 * minute },
        TimeRange { start: 20 * HOUR + 10 * minute, end: 20 * HOUR + 10 * minute },
    ];
    let mut split_reads = 0;
    for range in ranges {
        for fields in [None, Some(fields_v.as_slice()), Some(fields_w.as_slice())] {
            let full = store.read("db", None, &series, range, fields).unwrap().series;
            let pieces = store.read_pieces("db", None, &series, range, fields).unwrap();
            assert!(pieces.damaged.is_empty());
            split_reads += usize::from(pieces.series.len() > full.len());
            assert_eq!(
                rows_by_series(&pieces.series),
                rows_by_series(&full),
                "pieces: range {range:?}, fields {fields:?}"
            );
            for n in [1, 2, 7, 90, 1000] {
                let full = store.read("db", None, &series, range, fields).unwrap().series;
                let newest = store.read_newest("db", None, &series, range, fields, n).unwrap();
                assert!(newest.damaged.is_empty());
                assert_eq!(
                    comparable(newest.series),
                    comparable(newest_of(full, n)),
                    "range {range:?}, fields {fields:?}, n {n}"
                );
            }
        }
    }
    assert!(split_reads > 0, "some read spans several sealed windows and no head rows");
}

/// A read's rows per series, `(series id, time, v, w)`, in order, with the
/// pieces of a series (`read_pieces`) joined: the pieces must follow each
/// other in time without overlap.
fn rows_by_series(read: &[SeriesData]) -> Vec<(u32, i64, Option<f64>, Option<f64>)> {
    let mut rows: Vec<(u32, i64, Option<f64>, Option<f64>)> = Vec::new();
    for s in read {
        let field = |name: &str| {
            if s.columns.iter().any(|c| c.name == name) {
                floats(s, name)
            } else {
                vec![None; s.timestamps.len()]
            }
        };
        let (v, w) = (field("v"), field("w"));
        for (i, &t) in s.timestamps.iter().enumerate() {
            if let Some(&(id, last, _, _)) = rows.last() {
                assert!(id != s.series.id || last < t, "series {id}: {t} follows {last}");
            }
            rows.push((s.series.id, t, v[i], w[i]));
        }
    }
    rows
}
