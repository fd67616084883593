//! The narrow key-value interface the engine reaches RocksDB through.
//!
//! Why a wrapper: ARCHITECTURE.md keeps the door open to another RocksDB-based
//! store (TiKV) and to switching between Debian's RocksDB and the bundled
//! build. Every RocksDB type stays in this file; the rest of the engine sees
//! column families as an enum, batches, gets, merges, range scans and range
//! deletes — nothing else.
//!
//! Durability promise: [`Kv::write`] with `sync = true` returns only after the
//! batch is in RocksDB's write-ahead log *and* fsynced; with `sync = false`
//! it is in the OS page cache (survives a killed process, not a power cut)
//! until [`Kv::sync_wal`] runs.

use std::path::Path;

use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, DBCompressionType, Direction, IteratorMode, MergeOperands,
    Options, ReadOptions, WriteBatch, WriteOptions, DB,
};

use super::api::StorageError;

/// One RocksDB iterator reused for many range scans of a column family.
///
/// Why: creating an iterator (it pins the current memtables and files and
/// builds a merging iterator over them) costs more than reading one
/// series' few blocks; a query batch scans one small range per series, so
/// it opens one cursor per batch and seeks per series. Like any iterator,
/// it sees the data as of its creation.
pub(crate) struct Cursor<'a> {
    it: rocksdb::DBRawIteratorWithThreadMode<'a, DB>,
}

impl Cursor<'_> {
    /// Calls `visit` with each key and value in `[from, to)`, in key order,
    /// until it returns `false` (as [`Kv::scan`]).
    pub(crate) fn scan(
        &mut self,
        from: &[u8],
        to: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError> {
        self.it.seek(from);
        while let (Some(k), Some(v)) = (self.it.key(), self.it.value()) {
            if k >= to || !visit(k, v) {
                break;
            }
            self.it.next();
        }
        self.it.status().map_err(engine_err)
    }

    /// The last key in `[from, to]` (both inclusive), if any: one reverse
    /// seek (the newest block of a series).
    pub(crate) fn last_key_in(&mut self, from: &[u8], to: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        self.it.seek_for_prev(to);
        let found = self.it.key().filter(|k| *k >= from).map(<[u8]>::to_vec);
        self.it.status().map_err(engine_err)?;
        Ok(found)
    }
}

/// The column families (see docs/storage-format.md for their key layouts).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cf {
    /// namespace | series key → series id.
    Series,
    /// namespace | posting key → roaring bitmap of series ids (merge = union).
    Postings,
    /// series id | window start | seal sequence → columnar block.
    Blocks,
    /// WAL sequence → one write request.
    Wal,
    /// Databases, retention policies, field types, checkpoints.
    Meta,
}

impl Cf {
    const ALL: [Cf; 5] = [Cf::Series, Cf::Postings, Cf::Blocks, Cf::Wal, Cf::Meta];

    fn name(self) -> &'static str {
        match self {
            Cf::Series => "series",
            Cf::Postings => "postings",
            Cf::Blocks => "blocks",
            Cf::Wal => "wal",
            Cf::Meta => "meta",
        }
    }
}

/// A set of writes applied atomically by [`Kv::write`].
#[derive(Default)]
pub(crate) struct Batch {
    ops: Vec<Op>,
    bytes: usize,
}

enum Op {
    Put(Cf, Vec<u8>, Vec<u8>),
    Merge(Cf, Vec<u8>, Vec<u8>),
    DeleteRange(Cf, Vec<u8>, Vec<u8>),
    Delete(Cf, Vec<u8>),
}

impl Batch {
    /// Sets `key` to `value`.
    pub(crate) fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.bytes += key.len() + value.len();
        self.ops.push(Op::Put(cf, key, value));
    }

    /// Merges `operand` into `key` with the family's merge operator.
    pub(crate) fn merge(&mut self, cf: Cf, key: Vec<u8>, operand: Vec<u8>) {
        self.bytes += key.len() + operand.len();
        self.ops.push(Op::Merge(cf, key, operand));
    }

    /// Deletes every key in `[from, to)`.
    pub(crate) fn delete_range(&mut self, cf: Cf, from: Vec<u8>, to: Vec<u8>) {
        self.bytes += from.len() + to.len();
        self.ops.push(Op::DeleteRange(cf, from, to));
    }

    /// Deletes one key.
    pub(crate) fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.bytes += key.len();
        self.ops.push(Op::Delete(cf, key));
    }

    /// Approximate payload size, to cut large batches.
    pub(crate) fn approximate_bytes(&self) -> usize {
        self.bytes
    }

    /// Whether the batch holds no operation.
    pub(crate) fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// The opened key-value store.
pub(crate) struct Kv {
    db: DB,
}

/// Union of serialized roaring bitmaps: the `postings` merge operator, so that
/// adding a series to a posting list is a blind write, never read-modify-write.
fn union_bitmaps(_key: &[u8], existing: Option<&[u8]>, operands: &MergeOperands) -> Option<Vec<u8>> {
    let mut acc = existing.and_then(|b| roaring::RoaringBitmap::deserialize_from(b).ok()).unwrap_or_default();
    for op in operands {
        if let Ok(b) = roaring::RoaringBitmap::deserialize_from(op) {
            acc |= b;
        }
    }
    let mut out = Vec::with_capacity(acc.serialized_size());
    acc.serialize_into(&mut out).ok()?;
    Some(out)
}

fn engine_err(e: rocksdb::Error) -> StorageError {
    StorageError::Engine(e.into_string())
}

impl Kv {
    /// Opens or creates the database with all column families.
    pub(crate) fn open(path: &Path, block_cache_bytes: usize) -> Result<Kv, StorageError> {
        // One cache for every column family. Without it each table gets
        // RocksDB's 8 MiB default, which a day of 100 hosts already
        // overflows: every small query then re-reads and re-checksums 64 KiB
        // table blocks from the page cache.
        let cache = Cache::new_lru_cache(block_cache_bytes.max(1 << 20)).map_err(engine_err)?;
        let mut db_opts = Options::default();
        db_opts.create_if_missing(true);
        db_opts.create_missing_column_families(true);
        db_opts.set_max_background_jobs(2);
        db_opts.set_bytes_per_sync(1 << 20);
        db_opts.set_keep_log_file_num(4);

        let descriptors = Cf::ALL.iter().map(|cf| {
            let mut o = Options::default();
            let mut table = BlockBasedOptions::default();
            table.set_block_cache(&cache);
            match cf {
                // Blocks are already compressed by our codecs.
                Cf::Blocks => {
                    o.set_compression_type(DBCompressionType::None);
                    // A point query reads one of our blocks (a few KiB):
                    // 16 KiB table blocks keep the bytes read per query small.
                    table.set_block_size(16 * 1024);
                }
                Cf::Postings => {
                    o.set_merge_operator_associative("roaring_union", union_bitmaps);
                    o.set_compression_type(DBCompressionType::Lz4);
                }
                Cf::Wal => {
                    o.set_compression_type(DBCompressionType::Lz4);
                    o.set_write_buffer_size(128 << 20);
                }
                _ => o.set_compression_type(DBCompressionType::Lz4),
            }
            o.set_block_based_table_factory(&table);
            ColumnFamilyDescriptor::new(cf.name(), o)
        });
        let db = DB::open_cf_descriptors(&db_opts, path, descriptors).map_err(engine_err)?;
        Ok(Kv { db })
    }

    fn handle(&self, cf: Cf) -> Result<&rocksdb::ColumnFamily, StorageError> {
        self.db.cf_handle(cf.name()).ok_or_else(|| StorageError::Engine(format!("missing column family {}", cf.name())))
    }

    /// Applies the batch atomically; with `sync`, fsyncs RocksDB's log first.
    pub(crate) fn write(&self, batch: Batch, sync: bool) -> Result<(), StorageError> {
        let mut wb = WriteBatch::default();
        for op in batch.ops {
            match op {
                Op::Put(cf, k, v) => wb.put_cf(self.handle(cf)?, k, v),
                Op::Merge(cf, k, v) => wb.merge_cf(self.handle(cf)?, k, v),
                Op::DeleteRange(cf, a, b) => wb.delete_range_cf(self.handle(cf)?, a, b),
                Op::Delete(cf, k) => wb.delete_cf(self.handle(cf)?, k),
            }
        }
        let mut wo = WriteOptions::default();
        wo.set_sync(sync);
        self.db.write_opt(wb, &wo).map_err(engine_err)
    }

    /// Reads one key.
    pub(crate) fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, StorageError> {
        let h = self.handle(cf)?;
        Ok(self.db.get_pinned_cf(h, key).map_err(engine_err)?.map(|v| v.to_vec()))
    }

    /// Visits every key in `[from, to)` in key order until `visit` returns false.
    pub(crate) fn scan(
        &self,
        cf: Cf,
        from: &[u8],
        to: &[u8],
        mut visit: impl FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), StorageError> {
        let h = self.handle(cf)?;
        let mut ro = ReadOptions::default();
        ro.set_iterate_upper_bound(to.to_vec());
        let it = self.db.iterator_cf_opt(h, ro, IteratorMode::From(from, Direction::Forward));
        for item in it {
            let (k, v) = item.map_err(engine_err)?;
            if !visit(&k, &v) {
                break;
            }
        }
        Ok(())
    }

    /// A cursor over `cf` for many short scans with one RocksDB iterator
    /// (see [`Cursor`]).
    pub(crate) fn cursor(&self, cf: Cf) -> Result<Cursor<'_>, StorageError> {
        let h = self.handle(cf)?;
        Ok(Cursor { it: self.db.raw_iterator_cf_opt(h, ReadOptions::default()) })
    }

    /// Writes every memtable to SST files and compacts `compact` (whose
    /// contents were just range-deleted), so the disk holds only live data
    /// and RocksDB's own log can be recycled.
    pub(crate) fn checkpoint(&self, compact: Cf) -> Result<(), StorageError> {
        let h = self.handle(compact)?;
        self.db.compact_range_cf(h, None::<&[u8]>, None::<&[u8]>);
        for cf in Cf::ALL {
            self.db.flush_cf(self.handle(cf)?).map_err(engine_err)?;
        }
        Ok(())
    }

    /// Bytes `cf` holds: its SST files plus its memtables (RocksDB's own
    /// estimates; 0 when RocksDB does not report them).
    pub(crate) fn bytes(&self, cf: Cf) -> Result<u64, StorageError> {
        let h = self.handle(cf)?;
        let mut total = 0u64;
        for property in ["rocksdb.total-sst-files-size", "rocksdb.size-all-mem-tables"] {
            total = total.saturating_add(self.db.property_int_value_cf(h, property).map_err(engine_err)?.unwrap_or(0));
        }
        Ok(total)
    }

    /// Fsyncs RocksDB's log (for the `interval` WAL policy).
    pub(crate) fn sync_wal(&self) -> Result<(), StorageError> {
        self.db.flush_wal(true).map_err(engine_err)
    }
}

/// Test-only raw access, for the corruption tests that damage stored bytes on
/// purpose. Not part of the product API.
#[doc(hidden)]
pub mod raw {
    use super::*;

    /// Flips one byte in the value of the first key of `cf_name` whose key
    /// starts with `prefix` (`byte_offset` from the value's end, so headers
    /// stay recognizable). Returns the key, or `None` if nothing matched.
    pub fn flip_value_byte(
        path: &Path,
        cf_name: &str,
        prefix: &[u8],
        byte_offset_from_end: usize,
    ) -> Result<Option<Vec<u8>>, StorageError> {
        let kv = Kv::open(path, 8 << 20)?;
        let cf = Cf::ALL
            .into_iter()
            .find(|c| c.name() == cf_name)
            .ok_or_else(|| StorageError::Engine(format!("no column family {cf_name}")))?;
        let mut found = None;
        kv.scan(cf, prefix, &[0xFF; 16], |k, v| {
            if k.starts_with(prefix) {
                found = Some((k.to_vec(), v.to_vec()));
            }
            false
        })?;
        let Some((key, mut value)) = found else {
            return Ok(None);
        };
        if value.is_empty() {
            return Ok(None);
        }
        let at = value.len() - 1 - byte_offset_from_end.min(value.len() - 1);
        value[at] ^= 0x5A;
        let mut b = Batch::default();
        b.put(cf, key.clone(), value);
        kv.write(b, true)?;
        Ok(Some(key))
    }
}
