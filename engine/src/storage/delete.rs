//! Removing data: `DELETE` (points of matching series in a time range),
//! `DROP SERIES` and `DROP MEASUREMENT` (series with their index entries).
//!
//! Why blocks are rewritten rather than tombstoned: a delete is rare and a
//! read is not, so the cost belongs to the delete. Blocks wholly inside the
//! range are deleted without decoding; only the (at most two per series)
//! blocks straddling a range edge are decoded, filtered and re-encoded under
//! the same key. Reads stay tombstone-free, and deleted values really leave
//! the disk at the next compaction.
//!
//! Durability: the rewritten blocks, a WAL *delete record* (see
//! [`wal_delete`]) and the index entries of series left
//! without data go into one RocksDB batch, fsynced before the call returns.
//! The delete record takes a WAL sequence number while the head lock is held
//! exclusively, so it sits after every write already in the head and before
//! every later one; replay applies it at that point, so a restart (even after
//! `kill -9`) never resurrects deleted points from older WAL records and never
//! deletes newer ones. The seal lock is held throughout, so no seal writes
//! blocks of a frozen head the delete has not seen.
//!
//! As in InfluxDB, a series left with no points at all disappears from the
//! index (`SHOW SERIES`, `SHOW TAG VALUES`, `SHOW MEASUREMENTS`).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use roaring::RoaringBitmap;
use tracing::{info, warn};

use crate::block::{encode_block, BlockReader};
use crate::model::parse_series_key;

use super::api::{MeasurementFilter, StorageError, StorageResult, TagFilter, TimeRange};
use super::index::Index;
use super::kv::{Batch, Cf};
use super::{keys, rows, wal_delete, Store};

impl Store {
    /// Deletes the points of the matching series inside `range` (inclusive).
    /// `rp: None` deletes from every retention policy of the database, as
    /// InfluxDB's `DELETE` does. Series left without points are dropped from
    /// the index. Durable when it returns. Returns the number of series
    /// matched.
    pub fn delete(
        &self,
        db: &str,
        rp: Option<&str>,
        measurement: &MeasurementFilter,
        tags: Option<&TagFilter>,
        range: TimeRange,
    ) -> StorageResult<usize> {
        let mut matched = 0;
        for ns in self.namespaces_for(db, rp)? {
            matched += self.delete_in(ns, measurement, tags, range)?;
        }
        Ok(matched)
    }

    /// Drops the matching series of every retention policy of the database:
    /// their points, postings and catalog entries. Returns how many.
    pub fn drop_series(
        &self,
        db: &str,
        measurement: &MeasurementFilter,
        tags: Option<&TagFilter>,
    ) -> StorageResult<usize> {
        let mut dropped = 0;
        for ns in self.namespaces_for(db, None)? {
            let inner = &*self.inner;
            let _seal = inner.seal_lock.lock();
            let mut idx = inner.index.write();
            let ids = idx.select(ns, measurement, tags);
            if ids.is_empty() {
                continue;
            }
            let mut batch = Batch::default();
            plan_drop(&idx, ns, &ids, &mut batch);
            // Writers that resolved these ids before now retry (see `drop_epoch`).
            let head = inner.head.write();
            inner.kv.write(batch, true)?;
            inner.drop_epoch.fetch_add(1, Ordering::SeqCst);
            drop(head);
            for id in &ids {
                idx.remove_series(id);
            }
            drop(idx);
            self.forget_in_heads(&ids);
            dropped += ids.len() as usize;
        }
        if dropped > 0 {
            info!(db, series = dropped, "series dropped");
        }
        Ok(dropped)
    }

    /// Drops a measurement (every series of it, in every retention policy).
    pub fn drop_measurement(&self, db: &str, name: &str) -> StorageResult<usize> {
        self.drop_series(db, &MeasurementFilter::Name(name.to_string()), None)
    }

    /// The namespaces a statement covers: one policy, or all of the database.
    pub(super) fn namespaces_for(&self, db: &str, rp: Option<&str>) -> StorageResult<Vec<u32>> {
        let cat = self.inner.catalog.read();
        match rp.filter(|r| !r.is_empty()) {
            Some(rp) => Ok(vec![cat.resolve(db, Some(rp))?.ns]),
            None if cat.databases.contains_key(db) => Ok(cat.namespaces_of(db)),
            None => Err(StorageError::DatabaseNotFound(db.to_string())),
        }
    }

    /// Removes dropped series from the active and frozen heads.
    fn forget_in_heads(&self, ids: &RoaringBitmap) {
        let ids: Vec<u32> = ids.iter().collect();
        self.inner.head.read().remove(&ids);
        for f in self.inner.frozen.read().iter() {
            f.head.remove(&ids);
        }
    }

    fn delete_in(
        &self,
        ns: u32,
        measurement: &MeasurementFilter,
        tags: Option<&TagFilter>,
        range: TimeRange,
    ) -> StorageResult<usize> {
        if range.start > range.end {
            return Ok(0);
        }
        let inner = &*self.inner;
        // No seal runs meanwhile: blocks change only here.
        let _seal = inner.seal_lock.lock();
        let ids = inner.index.read().select(ns, measurement, tags);
        if ids.is_empty() {
            return Ok(0);
        }
        let mut batch = Batch::default();
        let mut kept = RoaringBitmap::new();
        let mut rewritten = 0usize;
        for id in &ids {
            let (has_blocks, n) = self.rewrite_blocks(id, range, &mut batch)?;
            rewritten += n;
            if has_blocks {
                kept.insert(id);
            }
        }
        // The ordering point: no write is between WAL sequence and head.
        let mut idx = inner.index.write();
        let head = inner.head.write();
        let frozen = inner.frozen.read().clone();
        let emptied: RoaringBitmap = ids
            .iter()
            .filter(|id| {
                !kept.contains(*id)
                    && !head.has_rows_outside(*id, range)
                    && frozen.iter().all(|f| !f.head.has_rows_outside(*id, range))
            })
            .collect();
        let seq = inner.next_wal_seq.fetch_add(1, Ordering::SeqCst);
        batch.put(Cf::Wal, keys::wal_key(seq), wal_delete::encode(&ids, range));
        plan_drop(&idx, ns, &emptied, &mut batch);
        inner.kv.write(batch, true)?;
        if !emptied.is_empty() {
            inner.drop_epoch.fetch_add(1, Ordering::SeqCst);
        }
        head.delete_range(&ids, range);
        for f in &frozen {
            f.head.delete_range(&ids, range);
        }
        for id in &emptied {
            idx.remove_series(id);
        }
        drop(head);
        drop(idx);
        self.forget_in_heads(&emptied);
        info!(series = ids.len(), blocks = rewritten, dropped = emptied.len(), "points deleted");
        Ok(ids.len() as usize)
    }

    /// Deletes or rewrites the blocks of one series overlapping `range`.
    /// Returns whether the series keeps any block, and how many blocks
    /// were changed.
    fn rewrite_blocks(&self, id: u32, range: TimeRange, batch: &mut Batch) -> StorageResult<(bool, usize)> {
        let inner = &*self.inner;
        let w = inner.block_window;
        let lo = keys::block_key(id, rows::window_start(range.start, w), 0);
        let hi = match rows::window_start(range.end, w).checked_add(w) {
            Some(next) if range.end != i64::MAX => keys::block_key(id, next, 0),
            _ => keys::series_blocks_end(id),
        };
        let mut kept = false;
        let mut changed = 0;
        let mut failure = None;
        inner.kv.scan(Cf::Blocks, &lo, &hi, |k, v| {
            let reader = match BlockReader::new(v) {
                Ok(r) => r,
                Err(e) => {
                    // A damaged block is removed only when its whole window is covered.
                    let window = keys::decode_block_key(k).map_or(i64::MIN, |(_, w, _)| w);
                    let end = window.saturating_add(w - 1);
                    if range.contains(window) && range.contains(end) {
                        batch.delete(Cf::Blocks, k.to_vec());
                        changed += 1;
                    } else {
                        warn!(series = id, window, error = %e, "damaged block kept by DELETE");
                        kept = true;
                    }
                    return true;
                }
            };
            if reader.row_count() == 0 || reader.max_time() < range.start || reader.min_time() > range.end {
                kept = true;
            } else if range.contains(reader.min_time()) && range.contains(reader.max_time()) {
                batch.delete(Cf::Blocks, k.to_vec());
                changed += 1;
            } else {
                let block = match reader.decode_all() {
                    Ok(b) => b,
                    Err(e) => {
                        failure = Some(StorageError::Corrupt(format!("block of series {id}: {e}")));
                        return false;
                    }
                };
                let keep: Vec<usize> =
                    (0..block.timestamps.len()).filter(|&r| !range.contains(block.timestamps[r])).collect();
                let rest = rows::select_rows(&block, &keep);
                changed += 1;
                if rest.timestamps.is_empty() {
                    batch.delete(Cf::Blocks, k.to_vec());
                } else {
                    match encode_block(&rest) {
                        Ok(bytes) => {
                            batch.put(Cf::Blocks, k.to_vec(), bytes);
                            kept = true;
                        }
                        Err(e) => {
                            failure = Some(StorageError::Corrupt(format!("encoding block: {e}")));
                            return false;
                        }
                    }
                }
            }
            true
        })?;
        if let Some(e) = failure {
            return Err(e);
        }
        if !kept {
            // Blocks outside the scanned windows keep the series alive.
            let any = |from: &[u8], to: &[u8]| -> StorageResult<bool> {
                let mut found = false;
                inner.kv.scan(Cf::Blocks, from, to, |_, _| {
                    found = true;
                    false
                })?;
                Ok(found)
            };
            kept = any(&keys::series_blocks_start(id), &lo)? || any(&hi, &keys::series_blocks_end(id))?;
        }
        Ok((kept, changed))
    }
}

/// Adds to `batch` everything that forgets the series `ids` of namespace
/// `ns`: series keys, blocks, postings (rewritten whole: the merge operator
/// can only add), and the field types of measurements left empty. The
/// in-memory index is changed by the caller once the batch is durable.
pub(super) fn plan_drop(idx: &Index, ns: u32, ids: &RoaringBitmap, batch: &mut Batch) {
    if ids.is_empty() {
        return;
    }
    let mut by_measurement: BTreeMap<String, RoaringBitmap> = BTreeMap::new();
    for id in ids {
        let Some((_, key)) = idx.key_of(id) else { continue };
        batch.delete(Cf::Series, keys::series_key(ns, key));
        batch.delete_range(Cf::Blocks, keys::series_blocks_start(id), keys::series_blocks_end(id));
        if let Some((m, _)) = parse_series_key(key) {
            by_measurement.entry(m).or_default().insert(id);
        }
    }
    for (name, removed) in by_measurement {
        let Some(m) = idx.measurement(ns, &name) else { continue };
        let all = &m.all - &removed;
        if all.is_empty() {
            batch.delete(Cf::Postings, keys::measurement_posting(ns, &name));
            let mut prefix = keys::field_key(ns, &name, "");
            let start = prefix.clone();
            prefix.push(0xFF);
            batch.delete_range(Cf::Meta, start, prefix);
        } else {
            put_bitmap(batch, keys::measurement_posting(ns, &name), &all);
        }
        for (tag, values) in &m.tags {
            for (value, bitmap) in values {
                if bitmap.is_disjoint(&removed) {
                    continue;
                }
                let rest = bitmap - &removed;
                let key = keys::tag_posting(ns, &name, tag, value);
                if rest.is_empty() {
                    batch.delete(Cf::Postings, key);
                } else {
                    put_bitmap(batch, key, &rest);
                }
            }
        }
    }
}

fn put_bitmap(batch: &mut Batch, key: Vec<u8>, bitmap: &RoaringBitmap) {
    let mut v = Vec::with_capacity(bitmap.serialized_size());
    if bitmap.serialize_into(&mut v).is_ok() {
        batch.put(Cf::Postings, key, v);
    }
}
