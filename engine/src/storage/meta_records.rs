//! Small named records in the `meta` column family, for features above the
//! storage engine (continuous query definitions and their watermarks).
//!
//! Why here: those records must be as durable as the data they describe
//! (a watermark that outlives a crash while the points it covers do not,
//! or the reverse, breaks "each interval written once"), so they live in
//! the same RocksDB and are written with `fsync`. Why generic: the engine
//! does not need to know what a continuous query is; callers choose their
//! own key prefix (`cq/...`, `webhook/...`) and value encoding.
//! [`Store::write_meta_records`] writes many records and deletions in one
//! atomic batch, so a feature can commit a state change together with what
//! it implies (the webhook outbox: an event and the change that caused it
//! are durable together or not at all). Every record key is stored
//! under [`RECORD_PREFIX`], apart from the engine's own meta keys
//! (`catalog`, `field/...`), so no caller can clobber them.

use super::kv::{Batch, Cf};
use super::{StorageResult, Store};

/// Prefix of every record key in the `meta` family.
const RECORD_PREFIX: &[u8] = b"record/";

/// The stored key of a record.
fn stored_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(RECORD_PREFIX.len() + key.len());
    k.extend_from_slice(RECORD_PREFIX);
    k.extend_from_slice(key);
    k
}

/// The smallest key greater than every key starting with `prefix`
/// (`None`: no such key, the prefix is all `0xFF`).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The end of the record range for `prefix` (the end of all records when
/// the prefix has no successor).
fn stored_end(prefix: &[u8]) -> Vec<u8> {
    prefix_end(&stored_key(prefix)).unwrap_or_else(|| prefix_end(RECORD_PREFIX).unwrap_or_default())
}

impl Store {
    /// Stores `value` under `key`, replacing any previous value; durable
    /// (fsynced) when this returns.
    pub fn put_meta_record(&self, key: &[u8], value: &[u8]) -> StorageResult<()> {
        let mut batch = Batch::default();
        batch.put(Cf::Meta, stored_key(key), value.to_vec());
        self.inner.kv.write(batch, true)
    }

    /// The value stored under `key`, if any.
    pub fn get_meta_record(&self, key: &[u8]) -> StorageResult<Option<Vec<u8>>> {
        self.inner.kv.get(Cf::Meta, &stored_key(key))
    }

    /// Deletes the record under `key` (nothing if there is none); durable
    /// when this returns.
    pub fn delete_meta_record(&self, key: &[u8]) -> StorageResult<()> {
        let from = stored_key(key);
        let mut to = from.clone();
        to.push(0);
        let mut batch = Batch::default();
        batch.delete_range(Cf::Meta, from, to);
        self.inner.kv.write(batch, true)
    }

    /// Deletes every record whose key starts with `prefix`, atomically.
    pub fn delete_meta_records(&self, prefix: &[u8]) -> StorageResult<()> {
        let mut batch = Batch::default();
        batch.delete_range(Cf::Meta, stored_key(prefix), stored_end(prefix));
        self.inner.kv.write(batch, true)
    }

    /// Writes every `(key, value)` of `puts` and deletes every key of
    /// `deletes` (exact keys, as [`Store::delete_meta_record`]) in one atomic
    /// batch, durable (fsynced) when this returns: after a crash either all
    /// of them are visible or none. Deletions apply before puts, so a key in
    /// both ends up with its new value.
    pub fn write_meta_records(&self, puts: Vec<(Vec<u8>, Vec<u8>)>, deletes: Vec<Vec<u8>>) -> StorageResult<()> {
        let mut batch = Batch::default();
        for key in deletes {
            batch.delete(Cf::Meta, stored_key(&key));
        }
        for (key, value) in puts {
            batch.put(Cf::Meta, stored_key(&key), value);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.inner.kv.write(batch, true)
    }

    /// At most `limit` records whose key starts with `prefix` and is at
    /// least `from` (a full key, prefix included), as `(key, value)` in key
    /// order: a page of a long range, without reading all of it.
    pub fn scan_meta_records_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> StorageResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        if limit == 0 {
            return Ok(out);
        }
        let start = stored_key(from.max(prefix));
        self.inner.kv.scan(Cf::Meta, &start, &stored_end(prefix), |k, v| {
            if let Some(key) = k.strip_prefix(RECORD_PREFIX) {
                out.push((key.to_vec(), v.to_vec()));
            }
            out.len() < limit
        })?;
        Ok(out)
    }

    /// Every record whose key starts with `prefix`, as `(key, value)` in key
    /// order (keys without the prefix removed).
    pub fn scan_meta_records(&self, prefix: &[u8]) -> StorageResult<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.inner.kv.scan(Cf::Meta, &stored_key(prefix), &stored_end(prefix), |k, v| {
            if let Some(key) = k.strip_prefix(RECORD_PREFIX) {
                out.push((key.to_vec(), v.to_vec()));
            }
            true
        })?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::StoreOptions;

    #[test]
    fn put_get_scan_delete_survive_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
            store.put_meta_record(b"cq/a/1", b"one").expect("put");
            store.put_meta_record(b"cq/a/2", b"two").expect("put");
            store.put_meta_record(b"cq/b", b"three").expect("put");
            store.put_meta_record(b"cq/a/1", b"uno").expect("replace");
            // The engine's own meta keys are not records.
            assert!(store.scan_meta_records(b"").expect("scan").iter().all(|(k, _)| k.starts_with(b"cq/")));
        }
        let store = Store::open(dir.path(), StoreOptions::default()).expect("reopen");
        assert_eq!(store.get_meta_record(b"cq/a/1").expect("get").as_deref(), Some(&b"uno"[..]));
        let a = store.scan_meta_records(b"cq/a/").expect("scan");
        assert_eq!(a, vec![(b"cq/a/1".to_vec(), b"uno".to_vec()), (b"cq/a/2".to_vec(), b"two".to_vec())]);
        store.delete_meta_record(b"cq/a/1").expect("delete");
        assert_eq!(store.get_meta_record(b"cq/a/1").expect("get"), None);
        // Deleting one key leaves keys that extend it.
        assert_eq!(store.scan_meta_records(b"cq/a/").expect("scan").len(), 1);
        store.delete_meta_records(b"cq/a/").expect("delete prefix");
        assert!(store.scan_meta_records(b"cq/a/").expect("scan").is_empty());
        assert_eq!(store.scan_meta_records(b"cq/").expect("scan").len(), 1);
        // A database's catalog is untouched by record operations.
        store.create_database("d").expect("create");
        store.delete_meta_records(b"").expect("delete all records");
        assert!(store.database_exists("d"));
    }

    #[test]
    fn batches_are_atomic_durable_and_ordered() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
            store.put_meta_record(b"w/old", b"x").expect("put");
            store.put_meta_record(b"w/old2", b"keep").expect("put");
            let puts = vec![
                (b"w/a".to_vec(), b"1".to_vec()),
                (b"w/b".to_vec(), b"2".to_vec()),
                (b"w/old".to_vec(), b"new".to_vec()),
            ];
            // `w/old` is both deleted and put: the put wins; `w/ol` deletes nothing
            // (exact keys, not prefixes).
            store.write_meta_records(puts, vec![b"w/old".to_vec(), b"w/ol".to_vec()]).expect("batch");
            store.write_meta_records(Vec::new(), Vec::new()).expect("empty batch");
            store.write_meta_records(Vec::new(), vec![b"w/a".to_vec()]).expect("delete");
        }
        // Durable: visible after a reopen.
        let store = Store::open(dir.path(), StoreOptions::default()).expect("reopen");
        let all = store.scan_meta_records(b"w/").expect("scan");
        let expected: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (b"w/b".to_vec(), b"2".to_vec()),
            (b"w/old".to_vec(), b"new".to_vec()),
            (b"w/old2".to_vec(), b"keep".to_vec()),
        ];
        assert_eq!(all, expected);
        // Pages: from a key, bounded, within the prefix only.
        store.put_meta_record(b"x/after", b"other prefix").expect("put");
        let page = store.scan_meta_records_from(b"w/", b"w/c", 1).expect("page");
        assert_eq!(page, vec![(b"w/old".to_vec(), b"new".to_vec())]);
        let rest = store.scan_meta_records_from(b"w/", b"w/old\0", 10).expect("rest");
        assert_eq!(rest, vec![(b"w/old2".to_vec(), b"keep".to_vec())]);
        assert_eq!(store.scan_meta_records_from(b"w/", b"", 10).expect("from start").len(), 3);
        assert!(store.scan_meta_records_from(b"w/", b"w/a", 0).expect("limit 0").is_empty());
    }

    #[test]
    fn prefix_ends() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[b'a', 0xFF]), Some(b"b".to_vec()));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
    }
}
