//! Storage: RocksDB layout, WAL, head, sealing, recovery, retention, the
//! series index and the read API.
//!
//! Write path: resolve series ids (creating new series under the index lock)
//! → one WAL record per request, in one RocksDB batch with any new series,
//! postings and field types, fsynced per [`WalSync`] → append to the head.
//! The head is sealed into columnar blocks (one per series and time window)
//! when it grows past a limit or on shutdown; the WAL records it covered are
//! then range-deleted. Recovery replays the remaining WAL into the head.
//!
//! Durability promise: when [`Store::write`] returns `Ok`, every stored point
//! is in a WAL record that RocksDB has fsynced (`WalSync::Always`) or handed
//! to the OS (`WalSync::Interval`); it survives `kill -9` and is replayed at
//! the next open.
//!
//! Read path: series selection on roaring bitmaps, then per series the blocks
//! overlapping the range (one range scan, keys `series | window | seal`),
//! plus any head being sealed, plus the active head, merged with last write
//! wins. A block that fails its checksum is reported as [`Damage`] and
//! skipped, never decoded into wrong numbers.

mod api;
mod catalog;
mod delete;
mod head;
mod index;
mod keys;
mod kv;
mod meta_records;
mod newest;
mod policy;
mod rows;
mod wal;
mod wal_delete;

pub use api::*;
pub use kv::raw;

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, RwLock};
use roaring::RoaringBitmap;
use tracing::{error, info, warn};

use crate::block::{encode_block, Block, BlockReader};
use crate::model::{FieldType, FieldValue, Point};
use crate::write_rows::{RowRef, WriteRows};

use catalog::Catalog;
use head::HeadMap;
use index::Index;
use kv::{Batch, Cf, Cursor, Kv};

/// Most rows in one block (the block format allows 2^24).
const MAX_BLOCK_ROWS: usize = 1 << 20;

/// Cut sealing batches at about this many bytes.
const SEAL_BATCH_BYTES: usize = 32 << 20;

/// A frozen head waiting to be sealed, with the WAL sequence it covers.
struct Frozen {
    head: Arc<HeadMap>,
    /// Every WAL record with a sequence below this is in `head` (or sealed).
    wal_upto: u64,
}

/// Shared state behind a [`Store`] handle.
struct Inner {
    /// This open store's number in the process ([`Store::instance_id`]).
    instance: u64,
    kv: Kv,
    options: StoreOptions,
    /// Block window fixed when the store was created (changing it later
    /// would misplace range scans over existing blocks).
    block_window: i64,
    catalog: RwLock<Catalog>,
    index: RwLock<Index>,
    /// The active head. Writers hold it *shared* from WAL sequence assignment
    /// until their points are in the head; sealing takes it *exclusively* to
    /// swap in an empty head, so a frozen head holds exactly the WAL records
    /// below its `wal_upto`.
    head: RwLock<Arc<HeadMap>>,
    /// Frozen heads not yet sealed, oldest first (readers include them).
    frozen: RwLock<Vec<Arc<Frozen>>>,
    next_wal_seq: AtomicU64,
    next_seal_seq: AtomicU64,
    /// One seal at a time.
    seal_lock: Mutex<()>,
    /// Serializes DDL (create/drop database or policy).
    ddl_lock: Mutex<()>,
    /// Bumped (under the head write lock) whenever series are dropped, so a
    /// write that resolved its series ids before a drop notices and redoes
    /// its resolution instead of logging points for a dropped id.
    drop_epoch: AtomicU64,
    recovery_damage: Vec<Damage>,
    /// Wakes the background sealer (shared with its thread, which must not
    /// keep the store alive while it waits).
    seal_signal: Arc<(Mutex<bool>, Condvar)>,
}

/// Numbers the stores opened in this process ([`Store::instance_id`]).
static NEXT_INSTANCE: AtomicU64 = AtomicU64::new(1);

/// The store. Cheap to clone (shared handle); safe to use from many threads.
/// Every method blocks (disk I/O, fsync): call from blocking contexts.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

/// A point's fate in a write, before ids are assigned.
enum Decision {
    /// Stored at `ts` in `series` (`None`: a new series to create).
    Accept { series: Option<u32>, ts: i64 },
    /// Rejected with an Influx-style reason.
    Reject(String),
}

/// InfluxDB reserves `time` (it is the timestamp column in queries): a tag
/// or field with that name makes the point invalid. `time_tag`: whether the
/// row's series has such a tag (checked once per series).
fn reserved_name(row: &RowRef<'_, '_>, time_tag: bool) -> Option<String> {
    let measurement = row.series.measurement;
    if time_tag {
        return Some(format!("invalid tag key: input tag \"time\" on measurement \"{measurement}\" is invalid"));
    }
    if row.fields.iter().any(|(k, _)| *k == "time") {
        return Some(format!("invalid field name: input field \"time\" on measurement \"{measurement}\" is invalid"));
    }
    None
}

/// The fields of the last row whose names and types all matched the index
/// (per write): a row with the same measurement, names and types needs no
/// index lookups. TSBS-shaped writes repeat one field list thousands of
/// times; the per-name lookups were an eighth of the write path's time.
#[derive(Default)]
struct CheckedFields<'a> {
    measurement: &'a str,
    fields: Vec<(&'a str, FieldType)>,
}

impl<'a> CheckedFields<'a> {
    fn matches(&self, measurement: &str, fields: &[(&'a str, &'a FieldValue)]) -> bool {
        !self.fields.is_empty()
            && self.measurement == measurement
            && self.fields.len() == fields.len()
            && self.fields.iter().zip(fields).all(|((n, t), (name, value))| n == name && *t == value.field_type())
    }

    fn remember(&mut self, measurement: &'a str, fields: &[(&'a str, &'a FieldValue)]) {
        self.measurement = measurement;
        self.fields.clear();
        self.fields.extend(fields.iter().map(|(n, v)| (*n, v.field_type())));
    }
}

/// Checks every row against the index: retention, field types, series.
/// The second value says whether any accepted row needs a new series or
/// field type (and so the index write lock).
fn decide(idx: &Index, ns: u32, rows: &WriteRows<'_>, now: i64, cutoff: Option<i64>) -> (Vec<Decision>, bool) {
    let mut batch_types: HashMap<(&str, &str), FieldType> = HashMap::new();
    let mut needs_change = false;
    // One index lookup (and one look at the tags) per series of the write, not per row.
    let series_ids: Vec<Option<u32>> = rows.series().iter().map(|s| idx.lookup(ns, &s.key)).collect();
    let time_tags: Vec<bool> = rows.series().iter().map(|s| s.tags.iter().any(|(k, _)| *k == "time")).collect();
    let mut checked = CheckedFields::default();
    let decisions = rows
        .iter()
        .map(|row| {
            let ts = row.timestamp.unwrap_or(now);
            if cutoff.is_some_and(|c| ts < c) {
                return Decision::Reject("points beyond retention policy".to_string());
            }
            if let Some(reason) = reserved_name(&row, time_tags.get(row.series_index).copied().unwrap_or(false)) {
                return Decision::Reject(reason);
            }
            let measurement = row.series.measurement;
            let series = series_ids.get(row.series_index).copied().flatten();
            if checked.matches(measurement, row.fields) {
                needs_change |= series.is_none();
                return Decision::Accept { series, ts };
            }
            let mut new_field = false;
            let m_index = idx.measurement(ns, measurement);
            for (name, value) in row.fields {
                let t = value.field_type();
                let stored = m_index.and_then(|m| m.fields.get(*name).copied());
                new_field |= stored.is_none();
                let known = match stored {
                    Some(k) => Some(k),
                    None if batch_types.is_empty() => None,
                    None => batch_types.get(&(measurement, *name)).copied(),
                };
                if let Some(k) = known {
                    if k != t {
                        return Decision::Reject(format!(
                            "field type conflict: input field \"{name}\" on measurement \"{measurement}\" is type {t}, already exists as type {k}",
                        ));
                    }
                }
            }
            if new_field {
                // Only fields the index does not know yet need the batch's view.
                for (name, value) in row.fields {
                    if m_index.is_none_or(|m| !m.fields.contains_key(*name)) {
                        batch_types.entry((measurement, *name)).or_insert(value.field_type());
                    }
                }
            } else {
                checked.remember(measurement, row.fields);
            }
            needs_change |= new_field || series.is_none();
            Decision::Accept { series, ts }
        })
        .collect();
    (decisions, needs_change)
}

/// Bytes a WAL record of `rows` takes, about (floats: 8 bytes and two of
/// framing per value; per row a series id, a timestamp and a count).
fn wal_size_hint(rows: &WriteRows<'_>) -> usize {
    rows.iter().map(|r| 12 + r.fields.len() * 10).sum::<usize>().min(64 << 20)
}

/// The cardinality limits of one write.
struct SeriesLimits<'a> {
    /// The database's namespaces (one per retention policy).
    db_namespaces: &'a [u32],
    /// At most this many new series, else this reason.
    new_series: Option<(usize, &'a str)>,
}

impl Store {
    /// Opens (or creates) the store under `path`, replaying the WAL into the head.
    pub fn open(path: &Path, options: StoreOptions) -> StorageResult<Store> {
        let kv = Kv::open(path, options.block_cache_bytes)?;
        let catalog = match kv.get(Cf::Meta, keys::META_CATALOG)? {
            Some(b) => Catalog::from_bytes(&b)?,
            None => Catalog::default(),
        };
        let block_window = match kv.get(Cf::Meta, keys::META_BLOCK_WINDOW)? {
            Some(b) => {
                i64::from_be_bytes(b.as_slice().try_into().map_err(|_| StorageError::Corrupt("block window".into()))?)
            }
            None => {
                let w = options.block_window_ns.max(1);
                let mut batch = Batch::default();
                batch.put(Cf::Meta, keys::META_BLOCK_WINDOW.to_vec(), w.to_be_bytes().to_vec());
                kv.write(batch, true)?;
                w
            }
        };
        if block_window != options.block_window_ns {
            warn!(
                stored = block_window,
                configured = options.block_window_ns,
                "block window is fixed at creation; keeping the stored one"
            );
        }
        let next_seal_seq = match kv.get(Cf::Meta, keys::META_SEAL_SEQ)? {
            Some(b) => {
                u64::from_be_bytes(b.as_slice().try_into().map_err(|_| StorageError::Corrupt("seal seq".into()))?)
            }
            None => 0,
        };
        let index = load_index(&kv, &catalog)?;
        let head = HeadMap::default();
        let (next_wal_seq, recovery_damage, replayed) = replay_wal(&kv, &index, &head)?;
        info!(series = index.next_id(), wal_records = replayed, damaged = recovery_damage.len(), "store opened");
        for d in &recovery_damage {
            error!(record = d.position, reason = %d.reason, "damaged WAL record skipped during recovery");
        }
        let inner = Arc::new(Inner {
            instance: NEXT_INSTANCE.fetch_add(1, Ordering::Relaxed),
            kv,
            options,
            block_window,
            catalog: RwLock::new(catalog),
            index: RwLock::new(index),
            head: RwLock::new(Arc::new(head)),
            frozen: RwLock::new(Vec::new()),
            next_wal_seq: AtomicU64::new(next_wal_seq),
            next_seal_seq: AtomicU64::new(next_seal_seq),
            seal_lock: Mutex::new(()),
            ddl_lock: Mutex::new(()),
            drop_epoch: AtomicU64::new(0),
            recovery_damage,
            seal_signal: Arc::new((Mutex::new(false), Condvar::new())),
        });
        spawn_background(Arc::downgrade(&inner));
        Ok(Store { inner })
    }

    /// A number unique to this opened store within the process (clones
    /// share it; a store opened again, even on the same path, gets a new
    /// one). Caches of derived data key on it so that two stores in one
    /// process, as in tests, never share entries.
    pub fn instance_id(&self) -> u64 {
        self.inner.instance
    }

    fn save_catalog(&self, catalog: &Catalog, batch: &mut Batch) {
        batch.put(Cf::Meta, keys::META_CATALOG.to_vec(), catalog.to_bytes());
    }

    /// Creates a database with an `autogen` default policy; succeeds if it exists.
    pub fn create_database(&self, name: &str) -> StorageResult<()> {
        let _ddl = self.inner.ddl_lock.lock();
        let mut cat = self.inner.catalog.read().clone();
        if cat.create_database(name, self.inner.options.default_retention_ns)? {
            let mut batch = Batch::default();
            self.save_catalog(&cat, &mut batch);
            self.inner.kv.write(batch, true)?;
            *self.inner.catalog.write() = cat;
        }
        Ok(())
    }

    /// Creates a database whose default (and only) policy is `rp` instead of
    /// `autogen` (`CREATE DATABASE x WITH DURATION 1d NAME short`). For an
    /// existing database it succeeds only if that policy already exists with
    /// the same settings; otherwise [`StorageError::RetentionPolicyExists`].
    pub fn create_database_with_policy(&self, name: &str, rp: RetentionPolicy) -> StorageResult<()> {
        let _ddl = self.inner.ddl_lock.lock();
        let mut cat = self.inner.catalog.read().clone();
        if cat.create_database_with(name, &rp)? {
            let mut batch = Batch::default();
            self.save_catalog(&cat, &mut batch);
            self.inner.kv.write(batch, true)?;
            *self.inner.catalog.write() = cat;
        }
        Ok(())
    }

    /// Drops a database and all its data; succeeds if it does not exist.
    pub fn drop_database(&self, name: &str) -> StorageResult<()> {
        let _ddl = self.inner.ddl_lock.lock();
        let mut cat = self.inner.catalog.read().clone();
        let namespaces = cat.namespaces_of(name);
        if cat.databases.remove(name).is_none() {
            return Ok(());
        }
        let mut batch = Batch::default();
        self.save_catalog(&cat, &mut batch);
        let mut dropped = Vec::new();
        {
            let mut idx = self.inner.index.write();
            for ns in namespaces {
                batch.delete_range(Cf::Series, keys::ns_prefix(ns), keys::ns_end(ns));
                batch.delete_range(Cf::Postings, keys::ns_prefix(ns), keys::ns_end(ns));
                batch.delete_range(Cf::Meta, keys::field_ns_prefix(ns), keys::field_ns_end(ns));
                for id in idx.drop_namespace(ns) {
                    batch.delete_range(Cf::Blocks, keys::series_blocks_start(id), keys::series_blocks_end(id));
                    dropped.push(id);
                }
            }
            self.inner.kv.write(batch, true)?;
            *self.inner.catalog.write() = cat;
        }
        self.inner.head.read().remove(&dropped);
        for f in self.inner.frozen.read().iter() {
            f.head.remove(&dropped);
        }
        Ok(())
    }

    /// Database names, in creation order (as InfluxDB lists them).
    pub fn databases(&self) -> Vec<String> {
        self.inner.catalog.read().database_names()
    }

    /// Whether the database exists.
    pub fn database_exists(&self, name: &str) -> bool {
        self.inner.catalog.read().databases.contains_key(name)
    }

    /// Creates a retention policy (making it the default if `rp.default`).
    pub fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> StorageResult<()> {
        let _ddl = self.inner.ddl_lock.lock();
        let mut cat = self.inner.catalog.read().clone();
        if cat.create_rp(db, &rp)? {
            let mut batch = Batch::default();
            self.save_catalog(&cat, &mut batch);
            self.inner.kv.write(batch, true)?;
            *self.inner.catalog.write() = cat;
        }
        Ok(())
    }

    /// The database's retention policies, in creation order.
    pub fn retention_policies(&self, db: &str) -> StorageResult<Vec<RetentionPolicy>> {
        self.inner.catalog.read().policies(db)
    }

    /// Writes points durably (per the WAL policy) before returning. `rp: None`
    /// means the default policy. Points without a timestamp get `now_ns`.
    /// Points that cannot be stored (type conflict, series limit, beyond
    /// retention) are listed in the outcome; the others are stored.
    pub fn write(&self, db: &str, rp: Option<&str>, points: &[Point], now_ns: i64) -> StorageResult<WriteOutcome> {
        self.write_within(db, rp, points, now_ns, None)
    }

    /// [`Store::write`], creating at most `new_series.0` new series; points
    /// of further new series are rejected with the reason `new_series.1`
    /// (a caller's own cardinality limit, e.g. a tenant's, on top of
    /// `max_series_per_database`).
    pub fn write_within(
        &self,
        db: &str,
        rp: Option<&str>,
        points: &[Point],
        now_ns: i64,
        new_series: Option<(usize, &str)>,
    ) -> StorageResult<WriteOutcome> {
        self.write_rows(db, rp, &WriteRows::from_points(points), now_ns, new_series)
    }

    /// [`Store::write_within`] of borrowed rows: the write path itself.
    /// [`RejectedPoint::index`] is a row index.
    pub fn write_rows(
        &self,
        db: &str,
        rp: Option<&str>,
        rows: &WriteRows<'_>,
        now_ns: i64,
        new_series: Option<(usize, &str)>,
    ) -> StorageResult<WriteOutcome> {
        let inner = &*self.inner;
        let epoch = inner.drop_epoch.load(Ordering::SeqCst);
        let (target, db_namespaces) = {
            let cat = inner.catalog.read();
            (cat.resolve(db, rp)?, cat.namespaces_of(db))
        };
        let ns = target.ns;
        let cutoff = target.duration_ns.map(|d| now_ns.saturating_sub(d));

        let mut batch = Batch::default();
        let (mut decisions, needs_index_change) = decide(&inner.index.read(), ns, rows, now_ns, cutoff);
        // New series and field types are created under the index write lock,
        // which is held until the batch defining them is durable: nobody can
        // reference an id whose definition might be lost in a crash.
        let mut index_guard = None;
        if needs_index_change {
            let mut idx = inner.index.write();
            decisions = decide(&idx, ns, rows, now_ns, cutoff).0;
            let limits = SeriesLimits { db_namespaces: &db_namespaces, new_series };
            self.create_series_and_fields(&mut idx, ns, &limits, rows, &mut decisions, &mut batch);
            index_guard = Some(idx);
        }

        let mut outcome = WriteOutcome::default();
        let mut enc = wal::WalEncoder::with_capacity(ns, wal_size_hint(rows));
        let mut accepted = Vec::with_capacity(rows.len());
        for (i, (d, row)) in decisions.iter().zip(rows.iter()).enumerate() {
            match d {
                Decision::Accept { series: Some(s), ts } => {
                    enc.push(*s, *ts, row.fields);
                    outcome.values_written += row.fields.len();
                    accepted.push((i, *s, *ts));
                }
                Decision::Accept { series: None, .. } => {
                    outcome.rejected.push(RejectedPoint { index: i, reason: "series was not created".into() })
                }
                Decision::Reject(reason) => outcome.rejected.push(RejectedPoint { index: i, reason: reason.clone() }),
            }
        }
        outcome.points_written = accepted.len();
        if accepted.is_empty() && batch.is_empty() {
            return Ok(outcome);
        }
        let sync = matches!(inner.options.wal_sync, WalSync::Always);
        let head = inner.head.read();
        if index_guard.is_none() && inner.drop_epoch.load(Ordering::SeqCst) != epoch {
            // Series were dropped since the ids were resolved: resolve again.
            drop(head);
            return self.write_rows(db, rp, rows, now_ns, new_series);
        }
        if enc.len() > 0 {
            let seq = inner.next_wal_seq.fetch_add(1, Ordering::SeqCst);
            batch.put(Cf::Wal, keys::wal_key(seq), enc.finish());
        }
        inner.kv.write(batch, sync)?;
        drop(index_guard);
        for (i, series, ts) in accepted {
            if let Some(row) = rows.row(i) {
                head.append(series, ts, row.fields.iter().map(|(n, v)| (*n, *v)));
            }
        }
        let head_values = head.values();
        drop(head);
        if head_values >= inner.options.head_max_values {
            self.request_seal();
            if head_values >= inner.options.head_max_values.saturating_mul(2) {
                // The sealer is behind: apply back-pressure instead of growing without bound.
                self.flush()?;
            }
        }
        Ok(outcome)
    }

    /// Series in `db` across its retention policies.
    pub fn series_count(&self, db: &str) -> usize {
        let namespaces = self.inner.catalog.read().namespaces_of(db);
        let idx = self.inner.index.read();
        namespaces.iter().map(|n| idx.series_count(*n)).sum()
    }

    /// Assigns ids to new series (within the cardinality limit) and records
    /// new field types, in the index and in `batch`.
    fn create_series_and_fields(
        &self,
        idx: &mut Index,
        ns: u32,
        limits: &SeriesLimits<'_>,
        rows: &WriteRows<'_>,
        decisions: &mut [Decision],
        batch: &mut Batch,
    ) {
        let limit = self.inner.options.max_series_per_database;
        let mut db_series: usize = limits.db_namespaces.iter().map(|n| idx.series_count(*n)).sum();
        let mut new_series = 0usize;
        let mut postings: HashMap<Vec<u8>, RoaringBitmap> = HashMap::new();
        let mut created = false;
        // The id of each series of the write, once known.
        let mut resolved: Vec<Option<u32>> = vec![None; rows.series().len()];
        let mut checked = CheckedFields::default();
        for (d, row) in decisions.iter_mut().zip(rows.iter()) {
            let p = row.series;
            if let Decision::Accept { series: series @ None, .. } = d {
                let known = resolved.get(row.series_index).copied().flatten().or_else(|| idx.lookup(ns, &p.key));
                if let Some(id) = known {
                    *series = Some(id);
                } else if limit > 0 && db_series >= limit {
                    *d = Decision::Reject(format!("max-series-per-database limit exceeded: ({limit})"));
                    continue;
                } else if limits.new_series.is_some_and(|(budget, _)| new_series >= budget) {
                    let reason = limits.new_series.map(|(_, r)| r).unwrap_or_default();
                    *d = Decision::Reject(reason.to_string());
                    continue;
                } else {
                    let id = idx.next_id();
                    idx.insert(ns, &p.key, id);
                    db_series += 1;
                    new_series += 1;
                    created = true;
                    *series = Some(id);
                    batch.put(Cf::Series, keys::series_key(ns, &p.key), id.to_be_bytes().to_vec());
                    postings.entry(keys::measurement_posting(ns, p.measurement)).or_default().insert(id);
                    for (k, v) in &p.tags {
                        postings.entry(keys::tag_posting(ns, p.measurement, k, v)).or_default().insert(id);
                    }
                }
                if let Some(slot) = resolved.get_mut(row.series_index) {
                    *slot = *series;
                }
            }
            if matches!(d, Decision::Accept { .. }) && !checked.matches(p.measurement, row.fields) {
                for (name, value) in row.fields {
                    if idx.field_type(ns, p.measurement, name).is_none() {
                        let t = value.field_type();
                        idx.set_field_type(ns, p.measurement, name, t);
                        batch.put(Cf::Meta, keys::field_key(ns, p.measurement, name), vec![t.to_byte()]);
                    }
                }
                checked.remember(p.measurement, row.fields);
            }
        }
        for (k, bitmap) in postings {
            let mut v = Vec::with_capacity(bitmap.serialized_size());
            if bitmap.serialize_into(&mut v).is_ok() {
                batch.merge(Cf::Postings, k, v);
            }
        }
        if created {
            batch.put(Cf::Meta, keys::META_NEXT_SERIES.to_vec(), idx.next_id().to_be_bytes().to_vec());
        }
    }

    /// Series matching the filters, in id order.
    pub fn series(
        &self,
        db: &str,
        rp: Option<&str>,
        measurement: &MeasurementFilter,
        tags: Option<&TagFilter>,
    ) -> StorageResult<Vec<SeriesInfo>> {
        let target = self.inner.catalog.read().resolve(db, rp)?;
        let idx = self.inner.index.read();
        let ids = idx.select(target.ns, measurement, tags);
        Ok(idx.infos(&ids))
    }

    /// Reads the given series over a time range; `fields: None` reads every field.
    pub fn read(
        &self,
        db: &str,
        rp: Option<&str>,
        series: &[SeriesInfo],
        range: TimeRange,
        fields: Option<&[String]>,
    ) -> StorageResult<ReadResult> {
        self.read_split((db, rp), series, range, fields, false)
    }

    /// [`read`](Self::read), except that a series' rows may come as several
    /// consecutive [`SeriesData`] of that series: disjoint, each strictly
    /// increasing, in time order. Together they are exactly the rows `read`
    /// gives.
    ///
    /// Why: a series' sealed blocks are disjoint windows, and `read`
    /// copies them all into one set of columns; a consumer that takes
    /// rows piece by piece in time order (an aggregate fold) skips that
    /// copy, a third of a full scan's work. Where head rows overlap blocks
    /// the pieces are merged into one, as `read` would.
    pub fn read_pieces(
        &self,
        db: &str,
        rp: Option<&str>,
        series: &[SeriesInfo],
        range: TimeRange,
        fields: Option<&[String]>,
    ) -> StorageResult<ReadResult> {
        self.read_split((db, rp), series, range, fields, true)
    }

    /// The body of [`read`](Self::read) (`split: false`: one merged piece
    /// per series) and [`read_pieces`](Self::read_pieces) (`split: true`).
    fn read_split(
        &self,
        (db, rp): (&str, Option<&str>),
        series: &[SeriesInfo],
        range: TimeRange,
        fields: Option<&[String]>,
        split: bool,
    ) -> StorageResult<ReadResult> {
        let (active, frozen) = self.read_heads(db, rp)?;
        let mut blocks = self.inner.kv.cursor(Cf::Blocks)?;
        let mut result = ReadResult::default();
        for s in series {
            let runs = self.read_runs(s, range, fields, (&active, &frozen), (&mut blocks, &mut result.damaged))?;
            let pieces = if split {
                rows::in_time_order(runs).unwrap_or_else(|runs| vec![rows::merge_runs(runs)])
            } else {
                vec![rows::merge_runs(runs)]
            };
            for piece in pieces {
                result.push_rows(s, if fields.is_some() { drop_empty_rows(piece) } else { piece });
            }
        }
        Ok(result)
    }

    /// Checks that `db`/`rp` exist and captures the heads a read merges.
    ///
    /// The heads are taken first (consistently, under the head lock), and
    /// blocks read after: a seal finishing in between only duplicates
    /// rows, which the merge collapses.
    fn read_heads(&self, db: &str, rp: Option<&str>) -> StorageResult<(Arc<HeadMap>, Vec<Arc<Frozen>>)> {
        self.inner.catalog.read().resolve(db, rp)?;
        let h = self.inner.head.read();
        Ok((h.clone(), self.inner.frozen.read().clone()))
    }

    /// One series' rows in `range` from its blocks and the given heads
    /// (active, frozen), merged (last write wins); with `fields`, rows
    /// holding none of them are left out.
    fn read_merged(
        &self,
        s: &SeriesInfo,
        range: TimeRange,
        fields: Option<&[String]>,
        heads: (&HeadMap, &[Arc<Frozen>]),
        out: (&mut Cursor<'_>, &mut Vec<Damage>),
    ) -> StorageResult<Block> {
        let merged = rows::merge_runs(self.read_runs(s, range, fields, heads, out)?);
        Ok(if fields.is_some() { drop_empty_rows(merged) } else { merged })
    }

    /// One series' runs of rows in `range`, unmerged, in recency order:
    /// its blocks (read with the cursor; damaged ones reported), then the
    /// frozen heads, then the active head.
    fn read_runs(
        &self,
        s: &SeriesInfo,
        range: TimeRange,
        fields: Option<&[String]>,
        (active, frozen): (&HeadMap, &[Arc<Frozen>]),
        (blocks, damaged): (&mut Cursor<'_>, &mut Vec<Damage>),
    ) -> StorageResult<Vec<Block>> {
        let mut runs = self.read_blocks(s, range, fields, blocks, damaged)?;
        for f in frozen {
            runs.extend(f.head.read(s.id, range, fields));
        }
        runs.extend(active.read(s.id, range, fields));
        Ok(runs)
    }

    /// The blocks of one series overlapping `range`, decoded and trimmed.
    fn read_blocks(
        &self,
        s: &SeriesInfo,
        range: TimeRange,
        fields: Option<&[String]>,
        blocks: &mut Cursor<'_>,
        damaged: &mut Vec<Damage>,
    ) -> StorageResult<Vec<Block>> {
        let w = self.inner.block_window;
        let from = keys::block_key(s.id, rows::window_start(range.start, w), 0);
        let to = keys::block_key(s.id, rows::window_start(range.end, w), u64::MAX);
        let mut runs = Vec::new();
        blocks.scan(&from, &to, |k, v| {
            let window = keys::decode_block_key(k).map_or(0, |(_, w, _)| w);
            match decode_block(v, range, fields) {
                Ok(Some(b)) => runs.push(b),
                Ok(None) => {}
                Err(reason) => {
                    error!(series = %s.key, window, %reason, "damaged block skipped");
                    damaged.push(Damage { kind: "block", series_key: s.key.clone(), position: window, reason });
                }
            }
            true
        })?;
        Ok(runs)
    }

    /// Measurement names, sorted.
    pub fn measurements(&self, db: &str, rp: Option<&str>) -> StorageResult<Vec<String>> {
        let target = self.inner.catalog.read().resolve(db, rp)?;
        Ok(self.inner.index.read().measurements(target.ns))
    }

    /// Field keys of a measurement with their types, sorted by name.
    pub fn fields(&self, db: &str, rp: Option<&str>, measurement: &str) -> StorageResult<Vec<FieldInfo>> {
        let target = self.inner.catalog.read().resolve(db, rp)?;
        let idx = self.inner.index.read();
        Ok(idx
            .namespaces
            .get(&target.ns)
            .and_then(|n| n.measurements.get(measurement))
            .map(|m| m.fields.iter().map(|(name, t)| FieldInfo { name: name.clone(), field_type: *t }).collect())
            .unwrap_or_default())
    }

    fn request_seal(&self) {
        let (lock, cv) = &*self.inner.seal_signal;
        *lock.lock() = true;
        cv.notify_one();
    }

    /// Seals the whole head into blocks and truncates the WAL.
    pub fn flush(&self) -> StorageResult<()> {
        let inner = &*self.inner;
        let _seal = inner.seal_lock.lock();
        {
            let mut h = inner.head.write();
            if h.values() > 0 || !h.series_ids().is_empty() {
                let old = std::mem::replace(&mut *h, Arc::new(HeadMap::default()));
                let upto = inner.next_wal_seq.load(Ordering::SeqCst);
                inner.frozen.write().push(Arc::new(Frozen { head: old, wal_upto: upto }));
            }
        }
        loop {
            let Some(next) = inner.frozen.read().first().cloned() else {
                return Ok(());
            };
            self.seal(&next)?;
            inner.frozen.write().remove(0);
        }
    }

    /// Writes a frozen head as blocks, then deletes the WAL records it covers.
    fn seal(&self, frozen: &Frozen) -> StorageResult<()> {
        let inner = &*self.inner;
        let seq = inner.next_seal_seq.load(Ordering::SeqCst);
        let mut batch = Batch::default();
        let (mut series_sealed, mut blocks) = (0usize, 0usize);
        let mut ids = frozen.head.series_ids();
        ids.sort_unstable();
        for id in ids {
            if inner.index.read().key_of(id).is_none() {
                continue; // dropped meanwhile
            }
            let Some(block) = frozen.head.read(id, TimeRange::ALL, None) else {
                continue;
            };
            series_sealed += 1;
            for (w, window_rows) in rows::split_by_window(&block, inner.block_window) {
                // A very dense window becomes several blocks; their key's
                // sequence field is `seal << 20 | part`, so they sort in
                // time order within the seal and never collide.
                for (part, piece) in rows::split_by_rows(window_rows, MAX_BLOCK_ROWS).into_iter().enumerate() {
                    let bytes =
                        encode_block(&piece).map_err(|e| StorageError::Corrupt(format!("encoding block: {e}")))?;
                    batch.put(Cf::Blocks, keys::block_key(id, w, (seq << 20) | part as u64), bytes);
                    blocks += 1;
                }
            }
            if batch.approximate_bytes() >= SEAL_BATCH_BYTES {
                inner.kv.write(std::mem::take(&mut batch), false)?;
            }
        }
        batch.put(Cf::Meta, keys::META_SEAL_SEQ.to_vec(), (seq + 1).to_be_bytes().to_vec());
        batch.delete_range(Cf::Wal, keys::wal_key(0), keys::wal_key(frozen.wal_upto));
        inner.kv.write(batch, true)?;
        inner.kv.checkpoint(Cf::Wal)?;
        inner.next_seal_seq.store(seq + 1, Ordering::SeqCst);
        info!(series = series_sealed, blocks, seal = seq, "head sealed");
        Ok(())
    }

    /// Drops data older than each policy's duration; returns windows dropped.
    pub fn enforce_retention(&self, now_ns: i64) -> StorageResult<usize> {
        let inner = &*self.inner;
        let expiring = inner.catalog.read().expiring();
        let mut dropped = 0;
        for (ns, duration) in expiring {
            // Windows ending at or before the cutoff are wholly expired.
            let wcut = rows::window_start(now_ns.saturating_sub(duration), inner.block_window);
            let ids: Vec<u32> = {
                let idx = inner.index.read();
                idx.namespaces.get(&ns).map(|n| n.series.values().copied().collect()).unwrap_or_default()
            };
            let mut batch = Batch::default();
            for id in ids {
                let from = keys::block_key(id, i64::MIN, 0);
                let to = keys::block_key(id, wcut, 0);
                let mut n = 0;
                inner.kv.scan(Cf::Blocks, &from, &to, |_, _| {
                    n += 1;
                    true
                })?;
                if n > 0 {
                    dropped += n;
                    batch.delete_range(Cf::Blocks, from, to);
                }
            }
            if !batch.is_empty() {
                inner.kv.write(batch, true)?;
            }
        }
        if dropped > 0 {
            info!(blocks = dropped, "retention dropped expired windows");
        }
        Ok(dropped)
    }

    /// Checks every stored block's checksum; lists what is damaged.
    pub fn verify(&self) -> StorageResult<Vec<Damage>> {
        let mut damage = Vec::new();
        let idx = self.inner.index.read();
        self.inner.kv.scan(Cf::Blocks, &[], &[0xFF; 21], |k, v| {
            let (id, window, _) = keys::decode_block_key(k).unwrap_or((u32::MAX, 0, 0));
            let check = BlockReader::new(v).and_then(|r| r.decode_all().map(|_| ()));
            if let Err(e) = check {
                let series_key = idx.key_of(id).map_or_else(|| format!("#{id}"), |(_, k)| k.to_string());
                damage.push(Damage { kind: "block", series_key, position: window, reason: e.to_string() });
            }
            true
        })?;
        Ok(damage)
    }

    /// Damaged WAL records met (and skipped) when the store was opened.
    pub fn recovery_damage(&self) -> Vec<Damage> {
        self.inner.recovery_damage.clone()
    }

    /// What the store occupies, by part (RocksDB's estimates, bytes).
    pub fn disk_usage(&self) -> StorageResult<DiskUsage> {
        Ok(DiskUsage {
            wal: self.inner.kv.bytes(Cf::Wal)?,
            blocks: self.inner.kv.bytes(Cf::Blocks)?,
            index: self.inner.kv.bytes(Cf::Series)?.saturating_add(self.inner.kv.bytes(Cf::Postings)?),
            meta: self.inner.kv.bytes(Cf::Meta)?,
        })
    }

    /// Field values currently held in memory (active and frozen heads).
    pub fn head_values(&self) -> usize {
        let active = self.inner.head.read().values();
        active + self.inner.frozen.read().iter().map(|f| f.head.values()).sum::<usize>()
    }
}

/// Decodes the requested columns of a block, trimmed to `range`; `None` if
/// the block lies outside it.
fn decode_block(bytes: &[u8], range: TimeRange, fields: Option<&[String]>) -> Result<Option<Block>, String> {
    let reader = BlockReader::new(bytes).map_err(|e| e.to_string())?;
    if reader.max_time() < range.start || reader.min_time() > range.end {
        return Ok(None);
    }
    let block = match fields {
        None => reader.decode_all().map_err(|e| e.to_string())?,
        Some(names) => {
            let timestamps = reader.timestamps().map_err(|e| e.to_string())?;
            let mut columns = Vec::new();
            for n in names {
                if let Some(c) = reader.column(n).map_err(|e| e.to_string())? {
                    columns.push(c);
                }
            }
            Block { timestamps, columns }
        }
    };
    Ok(Some(rows::trim_to_range(block, range)))
}

/// Removes rows where no column has a value (after a field projection).
fn drop_empty_rows(block: Block) -> Block {
    if block.columns.iter().any(|c| c.presence.is_none()) {
        return block;
    }
    let keep: Vec<usize> = (0..block.timestamps.len())
        .filter(|&r| block.columns.iter().any(|c| c.presence.as_ref().is_some_and(|p| p[r])))
        .collect();
    if keep.len() == block.timestamps.len() {
        return block;
    }
    rows::select_rows(&block, &keep)
}

/// Loads series, postings and field types of live namespaces.
fn load_index(kv: &Kv, catalog: &Catalog) -> StorageResult<Index> {
    let live: std::collections::HashSet<u32> =
        catalog.databases.values().flat_map(|d| d.rps.values().map(|r| r.ns)).collect();
    let mut idx = Index::default();
    kv.scan(Cf::Series, &[], &[0xFF; 5], |k, v| {
        if let (Some(ns), Ok(key), Ok(id)) = (
            k.get(0..4).and_then(|b| b.try_into().ok()).map(u32::from_be_bytes),
            std::str::from_utf8(&k[4.min(k.len())..]),
            <[u8; 4]>::try_from(v).map(u32::from_be_bytes),
        ) {
            if live.contains(&ns) {
                idx.insert_series(ns, key, id);
            } else {
                idx.reserve_ids_below(id.saturating_add(1));
            }
        }
        true
    })?;
    kv.scan(Cf::Postings, &[], &[0xFF; 5], |k, v| {
        if let (Some((ns, posting)), Ok(bitmap)) = (keys::decode_posting(k), RoaringBitmap::deserialize_from(v)) {
            if live.contains(&ns) {
                idx.load_posting(ns, posting, bitmap);
            }
        }
        true
    })?;
    kv.scan(Cf::Meta, keys::META_FIELD_PREFIX, b"field0", |k, v| {
        if let (Some((ns, m, f)), Some(t)) =
            (keys::decode_field_key(k), v.first().and_then(|b| FieldType::from_byte(*b)))
        {
            if live.contains(&ns) {
                idx.set_field_type(ns, &m, &f, t);
            }
        }
        true
    })?;
    if let Some(b) = kv.get(Cf::Meta, keys::META_NEXT_SERIES)? {
        if let Ok(arr) = <[u8; 4]>::try_from(b.as_slice()) {
            idx.reserve_ids_below(u32::from_be_bytes(arr));
        }
    }
    Ok(idx)
}

/// Replays every WAL record into `head`; returns the next sequence number,
/// the damaged records skipped, and how many records were replayed.
fn replay_wal(kv: &Kv, idx: &Index, head: &HeadMap) -> StorageResult<(u64, Vec<Damage>, usize)> {
    let mut next = 0u64;
    let mut damage = Vec::new();
    let mut replayed = 0;
    kv.scan(Cf::Wal, &[], &[0xFF; 9], |k, v| {
        let seq = keys::decode_wal_key(k).unwrap_or(next);
        next = next.max(seq.saturating_add(1));
        if wal_delete::is_delete(v) {
            match wal_delete::decode(v) {
                Ok(d) => head.delete_range(&d.series, d.range),
                Err(e) => damage.push(Damage {
                    kind: "wal",
                    series_key: String::new(),
                    position: seq as i64,
                    reason: e.to_string(),
                }),
            }
            return true;
        }
        match wal::decode(v) {
            Ok(rec) => {
                replayed += 1;
                for p in &rec.points {
                    if idx.key_of(p.series).is_none() {
                        continue; // its database was dropped
                    }
                    head.append(
                        p.series,
                        p.timestamp,
                        p.fields.iter().map(|(i, v)| (rec.field_names[*i as usize].as_str(), v)),
                    );
                }
            }
            Err(e) => damage.push(Damage {
                kind: "wal",
                series_key: String::new(),
                position: seq as i64,
                reason: e.to_string(),
            }),
        }
        true
    })?;
    Ok((next, damage, replayed))
}

/// Starts the background sealer (and the WAL syncer for the interval
/// policy). They hold only a weak handle and stop when the store is dropped.
/// When it has nothing to seal, the sealer sorts the head series that
/// writes left out of order (at most every 500 ms; see
/// `HeadMap::sort_unsorted`).
fn spawn_background(weak: Weak<Inner>) {
    let Some((signal, wal_sync)) = weak.upgrade().map(|i| (i.seal_signal.clone(), i.options.wal_sync)) else {
        return;
    };
    let sealer = weak.clone();
    let _ = std::thread::Builder::new().name("augur-sealer".into()).spawn(move || loop {
        let wanted = {
            let (lock, cv) = &*signal;
            let mut flag = lock.lock();
            if !*flag {
                cv.wait_for(&mut flag, Duration::from_millis(500));
            }
            std::mem::take(&mut *flag)
        };
        let Some(inner) = sealer.upgrade() else { return };
        if wanted {
            if let Err(e) = (Store { inner }).flush() {
                error!(error = %e, "sealing failed; the WAL still holds the data");
            }
        } else {
            // Idle: sort head series that writes left out of order.
            let head = inner.head.read().clone();
            head.sort_unsorted();
        }
    });
    let WalSync::Interval(interval) = wal_sync else {
        return;
    };
    let _ = std::thread::Builder::new().name("augur-wal-sync".into()).spawn(move || loop {
        std::thread::sleep(interval);
        let Some(inner) = weak.upgrade() else { return };
        if let Err(e) = inner.kv.sync_wal() {
            error!(error = %e, "WAL fsync failed");
        }
    });
}
