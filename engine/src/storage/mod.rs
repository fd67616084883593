//! Storage: RocksDB layout, WAL, head, sealing, recovery, retention, the
//! series index and the read API. (Implementation in progress: signatures are final.)

mod api;

pub use api::*;

use std::path::Path;

use crate::model::Point;

/// The store. Cheap to clone (shared handle); safe to use from many threads.
#[derive(Clone)]
pub struct Store {}

#[allow(unused_variables)]
impl Store {
    /// Opens (or creates) the store under `path`, replaying the WAL into the head.
    pub fn open(path: &Path, options: StoreOptions) -> StorageResult<Store> { unimplemented!() }
    /// Creates a database with an `autogen` default policy; succeeds if it exists.
    pub fn create_database(&self, name: &str) -> StorageResult<()> { unimplemented!() }
    /// Drops a database and all its data; succeeds if it does not exist.
    pub fn drop_database(&self, name: &str) -> StorageResult<()> { unimplemented!() }
    /// Database names, sorted.
    pub fn databases(&self) -> Vec<String> { unimplemented!() }
    /// Whether the database exists.
    pub fn database_exists(&self, name: &str) -> bool { unimplemented!() }
    /// Creates a retention policy (making it the default if `rp.default`).
    pub fn create_retention_policy(&self, db: &str, rp: RetentionPolicy) -> StorageResult<()> { unimplemented!() }
    /// The database's retention policies.
    pub fn retention_policies(&self, db: &str) -> StorageResult<Vec<RetentionPolicy>> { unimplemented!() }
    /// Writes points durably (per the WAL policy) before returning. `rp: None`
    /// means the default policy. Points without a timestamp get `now_ns`.
    /// Points that cannot be stored (type conflict, series limit, beyond
    /// retention) are listed in the outcome; the others are stored.
    pub fn write(&self, db: &str, rp: Option<&str>, points: &[Point], now_ns: i64) -> StorageResult<WriteOutcome> { unimplemented!() }
    /// Series matching the filters, in id order.
    pub fn series(&self, db: &str, rp: Option<&str>, measurement: &MeasurementFilter, tags: Option<&TagFilter>) -> StorageResult<Vec<SeriesInfo>> { unimplemented!() }
    /// Reads the given series over a time range; `fields: None` reads every field.
    pub fn read(&self, db: &str, rp: Option<&str>, series: &[SeriesInfo], range: TimeRange, fields: Option<&[String]>) -> StorageResult<ReadResult> { unimplemented!() }
    /// Measurement names, sorted.
    pub fn measurements(&self, db: &str, rp: Option<&str>) -> StorageResult<Vec<String>> { unimplemented!() }
    /// Field keys of a measurement with their types, sorted by name.
    pub fn fields(&self, db: &str, rp: Option<&str>, measurement: &str) -> StorageResult<Vec<FieldInfo>> { unimplemented!() }
    /// Seals the whole head into blocks and truncates the WAL.
    pub fn flush(&self) -> StorageResult<()> { unimplemented!() }
    /// Drops data older than each policy's duration; returns windows dropped.
    pub fn enforce_retention(&self, now_ns: i64) -> StorageResult<usize> { unimplemented!() }
    /// Checks every stored block's checksum; lists what is damaged.
    pub fn verify(&self) -> StorageResult<Vec<Damage>> { unimplemented!() }
    /// Damaged WAL records met (and skipped) when the store was opened.
    pub fn recovery_damage(&self) -> Vec<Damage> { unimplemented!() }
}
