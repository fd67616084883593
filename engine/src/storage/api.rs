//! Public types of the storage API: options, errors, write outcomes, the read
//! API's selections and results. Kept apart from the implementation so that
//! callers (the query crate, the server) see one small surface and no RocksDB
//! type ever leaks past `storage`.

use std::time::Duration;

use crate::block::Column;
use crate::model::FieldType;

/// When the WAL is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WalSync {
    /// Every write request is fsynced before it is acknowledged (the default):
    /// an acknowledged write survives `kill -9` and power loss.
    Always,
    /// Writes are acknowledged once in the OS page cache and fsynced by a
    /// background task at this interval: survives `kill -9` of the process,
    /// but a power loss may lose up to one interval.
    Interval(Duration),
}

/// Tunables of a [`Store`](super::Store).
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// WAL durability policy.
    pub wal_sync: WalSync,
    /// Width of a sealed block's time window, in nanoseconds (default 2 h).
    pub block_window_ns: i64,
    /// Seal the head once it holds this many field values (bounds memory).
    pub head_max_values: usize,
    /// Most series one database may hold; `0` means unlimited.
    pub max_series_per_database: usize,
    /// Duration of the `autogen` policy created with each database; `None` = infinite.
    pub default_retention_ns: Option<i64>,
    /// Bytes of RocksDB's block cache, shared by all column families
    /// (recently read blocks stay decoded in memory; default 128 MiB).
    pub block_cache_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            wal_sync: WalSync::Always,
            block_window_ns: 2 * 3_600 * 1_000_000_000,
            head_max_values: 20_000_000,
            max_series_per_database: 1_000_000,
            default_retention_ns: None,
            block_cache_bytes: 128 << 20,
        }
    }
}

/// One hour in nanoseconds.
const HOUR_NS: i64 = 3_600_000_000_000;
/// One day in nanoseconds.
const DAY_NS: i64 = 24 * HOUR_NS;

/// The shard group duration InfluxDB derives from a retention policy's
/// duration (`None` = infinite): 1 hour under 2 days, 1 day under 180
/// days, else 7 days. The one rule for policies the store creates itself
/// (a database's `autogen`) and for those `CREATE RETENTION POLICY` names
/// no shard duration for, so both report what InfluxDB would.
pub fn default_shard_duration(duration_ns: Option<i64>) -> i64 {
    match duration_ns {
        None => 7 * DAY_NS,
        Some(d) if d >= 180 * DAY_NS => 7 * DAY_NS,
        Some(d) if d >= 2 * DAY_NS => DAY_NS,
        Some(_) => HOUR_NS,
    }
}

/// A retention policy of a database, as `SHOW RETENTION POLICIES` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Policy name (`autogen` by default).
    pub name: String,
    /// How long data is kept, in nanoseconds; `None` = forever.
    pub duration_ns: Option<i64>,
    /// Shard group duration reported to clients, in nanoseconds.
    pub shard_group_duration_ns: i64,
    /// Replication factor (always 1 on one machine; kept for Influx compatibility).
    pub replication: u32,
    /// Whether this is the database's default policy.
    pub default: bool,
}

/// What a store occupies, by part, in bytes (SST files plus memtables, as
/// RocksDB estimates them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// The write-ahead log not yet checkpointed.
    pub wal: u64,
    /// Sealed columnar blocks.
    pub blocks: u64,
    /// The series catalog and the postings (tag index).
    pub index: u64,
    /// Databases, policies, field types, checkpoints and server records.
    pub meta: u64,
}

/// Why a storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The named database does not exist.
    #[error("database not found: {0}")]
    DatabaseNotFound(String),
    /// The named retention policy does not exist in the database.
    #[error("retention policy not found: {rp}")]
    RetentionPolicyNotFound {
        /// Database name.
        db: String,
        /// Retention policy name.
        rp: String,
    },
    /// A retention policy with that name already exists (with other settings).
    #[error("retention policy already exists")]
    RetentionPolicyExists,
    /// A name (database, policy) is empty or otherwise unusable.
    #[error("invalid name: {0}")]
    InvalidName(String),
    /// The underlying key-value store failed.
    #[error("storage engine error: {0}")]
    Engine(String),
    /// Stored bytes failed their checksum or could not be decoded.
    #[error("corrupt data: {0}")]
    Corrupt(String),
}

/// Result type of the storage API.
pub type StorageResult<T> = Result<T, StorageError>;

/// Why one point of a write was not stored (the others were).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedPoint {
    /// Index of the point in the batch passed to [`Store::write`](super::Store::write).
    pub index: usize,
    /// Influx-style reason, e.g. `field type conflict: input field "v" on measurement "m" is type integer, already exists as type float`.
    pub reason: String,
}

/// What a write stored and what it rejected (InfluxDB partial-write semantics).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriteOutcome {
    /// Points stored (durable when `write` returned).
    pub points_written: usize,
    /// Field values stored.
    pub values_written: usize,
    /// Points rejected, with reasons.
    pub rejected: Vec<RejectedPoint>,
}

/// An inclusive time range in nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    /// First nanosecond included.
    pub start: i64,
    /// Last nanosecond included.
    pub end: i64,
}

impl TimeRange {
    /// Every representable time.
    pub const ALL: TimeRange = TimeRange { start: i64::MIN, end: i64::MAX };

    /// Whether `t` lies in the range.
    pub fn contains(&self, t: i64) -> bool {
        self.start <= t && t <= self.end
    }
}

/// A predicate over a series' tags, evaluated on the tag index (roaring bitmaps).
///
/// A missing tag compares as the empty string, as in InfluxQL.
#[derive(Debug, Clone)]
pub enum TagFilter {
    /// `key = 'value'`
    Eq(String, String),
    /// `key != 'value'`
    NotEq(String, String),
    /// `key =~ /re/`
    Regex(String, regex::Regex),
    /// `key !~ /re/`
    NotRegex(String, regex::Regex),
    /// Both hold.
    And(Box<TagFilter>, Box<TagFilter>),
    /// Either holds.
    Or(Box<TagFilter>, Box<TagFilter>),
}

/// Which measurements a selection covers.
#[derive(Debug, Clone)]
pub enum MeasurementFilter {
    /// Every measurement.
    All,
    /// Exactly this one.
    Name(String),
    /// Those matching the regex.
    Regex(regex::Regex),
}

/// One series of a database/retention policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesInfo {
    /// Series id (unique within the store).
    pub id: u32,
    /// Canonical series key (`cpu,host=a`).
    pub key: String,
    /// Measurement name.
    pub measurement: String,
    /// Sorted tag pairs.
    pub tags: Vec<(String, String)>,
}

/// The points of one series in a time range, columnar.
///
/// `timestamps` are strictly increasing (duplicates merged: last write wins
/// per field). Every column has one presence flag per timestamp.
#[derive(Debug, Clone)]
pub struct SeriesData {
    /// The series.
    pub series: SeriesInfo,
    /// Row timestamps, strictly increasing.
    pub timestamps: Vec<i64>,
    /// One column per requested field that has at least one value in range.
    pub columns: Vec<Column>,
}

/// A stored block or WAL record that failed verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// What is damaged: `block` or `wal`.
    pub kind: &'static str,
    /// Series key of a damaged block (empty for WAL records).
    pub series_key: String,
    /// Start of the damaged block's window (ns), or the WAL record's sequence number.
    pub position: i64,
    /// What the check found.
    pub reason: String,
}

/// The result of a read: data plus any damage met on the way (the read goes on
/// past damaged blocks, so one bad block never hides the rest).
#[derive(Debug, Clone, Default)]
pub struct ReadResult {
    /// Series with at least one row in range, in series-id order.
    pub series: Vec<SeriesData>,
    /// Damaged blocks that were skipped.
    pub damaged: Vec<Damage>,
}

impl ReadResult {
    /// Adds a series' merged rows, unless there are none.
    pub(crate) fn push_rows(&mut self, series: &SeriesInfo, rows: crate::block::Block) {
        if !rows.timestamps.is_empty() {
            self.series.push(SeriesData { series: series.clone(), timestamps: rows.timestamps, columns: rows.columns });
        }
    }
}

/// A field key of a measurement with its type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldInfo {
    /// Field key.
    pub name: String,
    /// Its fixed type.
    pub field_type: FieldType,
}
