//! `ALTER RETENTION POLICY` and `DROP RETENTION POLICY` on the catalog.
//!
//! The store only keeps what it is given: InfluxDB's validation rules
//! (minimum duration, shard duration no longer than the policy) are applied
//! by the query layer before it calls [`Store::alter_retention_policy`].
//! Dropping a policy drops its namespace exactly as dropping a database
//! does: a handful of range deletes, durable before the call returns.

use roaring::RoaringBitmap;
use tracing::info;

use super::api::{RetentionPolicy, StorageError, StorageResult};
use super::kv::{Batch, Cf};
use super::{keys, Store};

impl Store {
    /// Replaces the settings of an existing policy (duration, shard group
    /// duration, replication) and, when `rp.default`, makes it the
    /// database's default. Errors if the database or policy does not exist.
    pub fn alter_retention_policy(&self, db: &str, rp: &RetentionPolicy) -> StorageResult<()> {
        let _ddl = self.inner.ddl_lock.lock();
        let mut cat = self.inner.catalog.read().clone();
        let d = cat.databases.get_mut(db).ok_or_else(|| StorageError::DatabaseNotFound(db.to_string()))?;
        let meta = d
            .rps
            .get_mut(&rp.name)
            .ok_or_else(|| StorageError::RetentionPolicyNotFound { db: db.to_string(), rp: rp.name.clone() })?;
        meta.duration_ns = rp.duration_ns;
        meta.shard_group_duration_ns = rp.shard_group_duration_ns;
        meta.replication = rp.replication.max(1);
        if rp.default {
            d.default_rp = rp.name.clone();
        }
        let mut batch = Batch::default();
        self.save_catalog(&cat, &mut batch);
        self.inner.kv.write(batch, true)?;
        *self.inner.catalog.write() = cat;
        Ok(())
    }

    /// Drops a policy and all its data. Succeeds if the database or policy
    /// does not exist (as InfluxDB). Dropping the default policy leaves the
    /// database without one, as in InfluxDB: writes and queries must then
    /// name a policy.
    pub fn drop_retention_policy(&self, db: &str, rp: &str) -> StorageResult<()> {
        let _ddl = self.inner.ddl_lock.lock();
        let _seal = self.inner.seal_lock.lock();
        let mut cat = self.inner.catalog.read().clone();
        let Some(d) = cat.databases.get_mut(db) else { return Ok(()) };
        // A dropped default stays the database's default by name, as in
        // InfluxDB: reads and writes without `rp` then fail with
        // `retention policy not found: <name>` until another policy is made
        // the default (or one of that name is created again).
        let Some(meta) = d.rps.remove(rp) else { return Ok(()) };
        let ns = meta.ns;
        let mut batch = Batch::default();
        self.save_catalog(&cat, &mut batch);
        batch.delete_range(Cf::Series, keys::ns_prefix(ns), keys::ns_end(ns));
        batch.delete_range(Cf::Postings, keys::ns_prefix(ns), keys::ns_end(ns));
        batch.delete_range(Cf::Meta, keys::field_ns_prefix(ns), keys::field_ns_end(ns));
        let dropped: Vec<u32> = {
            let mut idx = self.inner.index.write();
            let ids: Vec<u32> =
                idx.namespaces.get(&ns).map(|n| n.series.values().copied().collect()).unwrap_or_default();
            for id in &ids {
                batch.delete_range(Cf::Blocks, keys::series_blocks_start(*id), keys::series_blocks_end(*id));
            }
            self.inner.kv.write(batch, true)?;
            *self.inner.catalog.write() = cat;
            idx.drop_namespace(ns)
        };
        let ids: RoaringBitmap = dropped.iter().copied().collect();
        self.inner.head.read().remove(&dropped);
        for f in self.inner.frozen.read().iter() {
            f.head.remove(&dropped);
        }
        info!(db, rp, series = ids.len(), "retention policy dropped");
        Ok(())
    }
}
