//! The columnar block format: one series' points for one time window, sealed.
//!
//! A block stores a timestamp column and one column per field, each encoded with
//! the codecs of [`crate::codec`]. It is designed for the read path:
//!
//! * the header holds the row count and the min/max timestamp, so a query can
//!   skip a block without decoding anything;
//! * a directory lists every column's name, type and byte range, so a query
//!   decodes only the columns it reads;
//! * a CRC-32C over the whole block is checked before anything is parsed, so a
//!   damaged block is reported as [`BlockError::Checksum`], never decoded into
//!   wrong numbers. Behind the checksum, every length and offset is still
//!   validated and every codec is panic-free, so even a block with a forged
//!   checksum yields an error, not a crash;
//! * a magic number and a format version byte, so the format can evolve.
//!
//! The byte-level layout is in `docs/storage-format.md`:
//!
//! ```text
//! header (36 bytes) | directory (one entry per column) | timestamps | columns... | crc32c (4 bytes)
//! ```

use std::collections::HashSet;

use thiserror::Error;

use crate::codec::{self, CodecError};
use crate::model::FieldType;

/// The values of one column: only the *present* values, in row order.
#[derive(Debug, Clone, PartialEq)]
pub enum ColumnData {
    /// Float values.
    Float(Vec<f64>),
    /// Signed integer values.
    Integer(Vec<i64>),
    /// Unsigned integer values.
    Unsigned(Vec<u64>),
    /// Boolean values.
    Boolean(Vec<bool>),
    /// String values.
    String(Vec<String>),
}

impl ColumnData {
    /// The field type these values have.
    pub fn field_type(&self) -> FieldType {
        match self {
            ColumnData::Float(_) => FieldType::Float,
            ColumnData::Integer(_) => FieldType::Integer,
            ColumnData::Unsigned(_) => FieldType::Unsigned,
            ColumnData::Boolean(_) => FieldType::Boolean,
            ColumnData::String(_) => FieldType::String,
        }
    }

    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            ColumnData::Float(v) => v.len(),
            ColumnData::Integer(v) => v.len(),
            ColumnData::Unsigned(v) => v.len(),
            ColumnData::Boolean(v) => v.len(),
            ColumnData::String(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One field column of a block (or of a read result).
///
/// `presence` is `None` when every row has a value; otherwise it has one flag
/// per row and `data` holds exactly as many values as there are `true` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Field key.
    pub name: String,
    /// Present values, in row order.
    pub data: ColumnData,
    /// Per-row presence, `None` = all rows present.
    pub presence: Option<Vec<bool>>,
}

/// One series' points for a time window, in columnar form.
///
/// `timestamps` has one entry per row (any order, duplicates allowed: the block
/// stores what it is given); each column describes the same rows.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Block {
    /// Row timestamps, nanoseconds since the epoch.
    pub timestamps: Vec<i64>,
    /// Field columns, names unique.
    pub columns: Vec<Column>,
}

/// The first four bytes of every block.
pub const MAGIC: [u8; 4] = *b"AUGB";

/// The format version this code writes and reads.
pub const VERSION: u8 = 1;

/// The most rows one block may hold (the codecs' per-column limit).
pub const MAX_ROWS: usize = codec::MAX_VALUES;

/// Fixed header size in bytes.
const HEADER_LEN: usize = 36;
/// Checksum trailer size in bytes.
const TRAILER_LEN: usize = 4;
/// Directory entry bytes besides the name: name length, type, flags, offset,
/// presence length, data length.
const ENTRY_FIXED_LEN: usize = 2 + 1 + 1 + 4 + 4 + 4;
/// Directory entry flag: the column has a presence bitmap.
const FLAG_PRESENCE: u8 = 1;

/// Why a block could not be encoded or read.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BlockError {
    /// Fewer bytes than the fixed header and checksum need.
    #[error("block is {len} bytes, too short to be a block")]
    TooShort {
        /// The length given.
        len: usize,
    },
    /// The bytes do not start with [`MAGIC`].
    #[error("not an Augur block (bad magic bytes)")]
    BadMagic,
    /// A format version this code cannot read.
    #[error("unsupported block format version {0}")]
    UnsupportedVersion(u8),
    /// The stored CRC-32C does not match the block's bytes: the block is damaged.
    #[error("block checksum mismatch (stored {stored:#010x}, computed {computed:#010x})")]
    Checksum {
        /// Checksum stored in the block.
        stored: u32,
        /// Checksum of the bytes as read.
        computed: u32,
    },
    /// The structure is inconsistent although the checksum matched.
    #[error("corrupt block: {0}")]
    Corrupt(String),
    /// A column (or the timestamps) failed to encode or decode.
    #[error("{section}: {source}")]
    Codec {
        /// `timestamps` or `column "name"`.
        section: String,
        /// The codec's error.
        #[source]
        source: CodecError,
    },
    /// More rows than [`MAX_ROWS`].
    #[error("block has {rows} rows, more than the limit of {max}")]
    TooManyRows {
        /// Rows asked for.
        rows: usize,
        /// The limit.
        max: usize,
    },
    /// More than 65 535 columns.
    #[error("block has {0} columns, more than 65535")]
    TooManyColumns(usize),
    /// Two columns share a name.
    #[error("duplicate column {0:?}")]
    DuplicateColumn(String),
    /// A column name longer than 65 535 bytes.
    #[error("column name of {0} bytes is longer than 65535")]
    NameTooLong(usize),
    /// A column's presence or values do not match the block's rows.
    #[error("column {column:?}: {reason}")]
    InvalidColumn {
        /// The column.
        column: String,
        /// What is wrong.
        reason: String,
    },
    /// The encoded block would not fit the format's 32-bit offsets.
    #[error("encoded block would exceed 4 GiB")]
    TooLarge,
}

fn codec_error(section: &str) -> impl Fn(CodecError) -> BlockError + '_ {
    move |source| BlockError::Codec { section: section.to_owned(), source }
}

fn to_u32(n: usize) -> Result<u32, BlockError> {
    u32::try_from(n).map_err(|_| BlockError::TooLarge)
}

/// Encodes a block; see the module docs and `docs/storage-format.md`.
///
/// Fails if a column's presence or value count does not match the rows, if two
/// columns share a name, or if a limit ([`MAX_ROWS`], 65 535 columns, 4 GiB) is
/// exceeded. A block with no rows is valid; its min/max time are
/// `i64::MAX`/`i64::MIN` (an empty interval that overlaps no query range).
pub fn encode_block(block: &Block) -> Result<Vec<u8>, BlockError> {
    let rows = block.timestamps.len();
    if rows > MAX_ROWS {
        return Err(BlockError::TooManyRows { rows, max: MAX_ROWS });
    }
    let n_columns = u16::try_from(block.columns.len()).map_err(|_| BlockError::TooManyColumns(block.columns.len()))?;
    let mut names = HashSet::with_capacity(block.columns.len());
    for c in &block.columns {
        if c.name.len() > usize::from(u16::MAX) {
            return Err(BlockError::NameTooLong(c.name.len()));
        }
        if !names.insert(c.name.as_str()) {
            return Err(BlockError::DuplicateColumn(c.name.clone()));
        }
        let invalid = |reason: String| BlockError::InvalidColumn { column: c.name.clone(), reason };
        let expected = match &c.presence {
            Some(p) if p.len() != rows => {
                return Err(invalid(format!("presence has {} flags for {rows} rows", p.len())))
            }
            Some(p) => p.iter().filter(|&&b| b).count(),
            None => rows,
        };
        if c.data.len() != expected {
            return Err(invalid(format!("{} values for {expected} present rows", c.data.len())));
        }
    }

    let ts = codec::timestamp::encode(&block.timestamps).map_err(codec_error("timestamps"))?;
    let mut sections = Vec::with_capacity(block.columns.len());
    for c in &block.columns {
        let section = format!("column {:?}", c.name);
        let presence = match &c.presence {
            Some(p) => codec::boolean::encode(p).map_err(codec_error(&section))?,
            None => Vec::new(),
        };
        let data = match &c.data {
            ColumnData::Float(v) => codec::float::encode(v),
            ColumnData::Integer(v) => codec::integer::encode(v),
            ColumnData::Unsigned(v) => codec::unsigned::encode(v),
            ColumnData::Boolean(v) => codec::boolean::encode(v),
            ColumnData::String(v) => codec::string::encode(v),
        }
        .map_err(codec_error(&section))?;
        sections.push((presence, data));
    }

    let dir_len: usize = block.columns.iter().map(|c| ENTRY_FIXED_LEN + c.name.len()).sum();
    let body_len: usize = ts.len() + sections.iter().map(|(p, d)| p.len() + d.len()).sum::<usize>();
    let total = HEADER_LEN + dir_len + body_len + TRAILER_LEN;
    to_u32(total)?;

    let (min_time, max_time) =
        block.timestamps.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
    let ts_offset = HEADER_LEN + dir_len;

    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&MAGIC);
    out.push(VERSION);
    out.push(0); // flags
    out.extend_from_slice(&n_columns.to_le_bytes());
    out.extend_from_slice(&to_u32(rows)?.to_le_bytes());
    out.extend_from_slice(&min_time.to_le_bytes());
    out.extend_from_slice(&max_time.to_le_bytes());
    out.extend_from_slice(&to_u32(ts_offset)?.to_le_bytes());
    out.extend_from_slice(&to_u32(ts.len())?.to_le_bytes());

    let mut offset = ts_offset + ts.len();
    for (c, (presence, data)) in block.columns.iter().zip(&sections) {
        out.extend_from_slice(&(c.name.len() as u16).to_le_bytes());
        out.extend_from_slice(c.name.as_bytes());
        out.push(c.data.field_type().to_byte());
        out.push(if c.presence.is_some() { FLAG_PRESENCE } else { 0 });
        out.extend_from_slice(&to_u32(offset)?.to_le_bytes());
        out.extend_from_slice(&to_u32(presence.len())?.to_le_bytes());
        out.extend_from_slice(&to_u32(data.len())?.to_le_bytes());
        offset += presence.len() + data.len();
    }
    out.extend_from_slice(&ts);
    for (presence, data) in &sections {
        out.extend_from_slice(presence);
        out.extend_from_slice(data);
    }
    let crc = crc32c::crc32c(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    Ok(out)
}

/// One column's directory entry, pointing into the block's bytes.
#[derive(Debug, Clone)]
struct Entry<'a> {
    name: &'a str,
    field_type: FieldType,
    presence: Option<&'a [u8]>,
    data: &'a [u8],
}

/// Reads an encoded block: checks it once in [`BlockReader::new`], then decodes
/// the timestamps and any column on demand, independently of the others.
#[derive(Debug, Clone)]
pub struct BlockReader<'a> {
    rows: usize,
    min_time: i64,
    max_time: i64,
    timestamps: &'a [u8],
    entries: Vec<Entry<'a>>,
}

/// A bounds-checked cursor over the header and directory.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], BlockError> {
        let s = self
            .pos
            .checked_add(n)
            .and_then(|end| self.bytes.get(self.pos..end))
            .ok_or_else(|| BlockError::Corrupt("directory runs past the block".into()))?;
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], BlockError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, BlockError> {
        Ok(self.array::<1>()?[0])
    }

    fn u16(&mut self) -> Result<u16, BlockError> {
        self.array().map(u16::from_le_bytes)
    }

    fn u32(&mut self) -> Result<usize, BlockError> {
        self.array().map(|b| u32::from_le_bytes(b) as usize)
    }

    fn i64(&mut self) -> Result<i64, BlockError> {
        self.array().map(i64::from_le_bytes)
    }
}

fn corrupt(msg: &str) -> BlockError {
    BlockError::Corrupt(msg.to_owned())
}

impl<'a> BlockReader<'a> {
    /// Checks the magic, the version and the checksum, and parses the header and
    /// the column directory. Decodes no values.
    pub fn new(bytes: &'a [u8]) -> Result<Self, BlockError> {
        if bytes.len() < HEADER_LEN + TRAILER_LEN {
            return Err(BlockError::TooShort { len: bytes.len() });
        }
        if bytes[..4] != MAGIC {
            return Err(BlockError::BadMagic);
        }
        if bytes[4] != VERSION {
            return Err(BlockError::UnsupportedVersion(bytes[4]));
        }
        let (content, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
        let mut stored = [0u8; 4];
        stored.copy_from_slice(trailer);
        let stored = u32::from_le_bytes(stored);
        let computed = crc32c::crc32c(content);
        if stored != computed {
            return Err(BlockError::Checksum { stored, computed });
        }

        let mut c = Cursor { bytes: content, pos: 5 };
        if c.u8()? != 0 {
            return Err(corrupt("unknown header flags"));
        }
        let n_columns = usize::from(c.u16()?);
        let rows = c.u32()?;
        let min_time = c.i64()?;
        let max_time = c.i64()?;
        let ts_offset = c.u32()?;
        let ts_len = c.u32()?;
        if rows > MAX_ROWS {
            return Err(BlockError::TooManyRows { rows, max: MAX_ROWS });
        }
        let times_ok = if rows == 0 { min_time == i64::MAX && max_time == i64::MIN } else { min_time <= max_time };
        if !times_ok {
            return Err(corrupt("min/max time inconsistent with the row count"));
        }
        // Each entry takes at least ENTRY_FIXED_LEN bytes.
        if n_columns > content.len() / ENTRY_FIXED_LEN {
            return Err(corrupt("column count exceeds the block size"));
        }

        let mut raw = Vec::with_capacity(n_columns);
        for _ in 0..n_columns {
            let name_len = usize::from(c.u16()?);
            let name = std::str::from_utf8(c.take(name_len)?).map_err(|_| corrupt("column name is not UTF-8"))?;
            let field_type = FieldType::from_byte(c.u8()?).ok_or_else(|| corrupt("unknown column type"))?;
            let flags = c.u8()?;
            let offset = c.u32()?;
            let presence_len = c.u32()?;
            let data_len = c.u32()?;
            if flags & !FLAG_PRESENCE != 0 {
                return Err(corrupt("unknown column flags"));
            }
            let has_presence = flags & FLAG_PRESENCE != 0;
            if !has_presence && presence_len != 0 {
                return Err(corrupt("presence bytes without a presence flag"));
            }
            raw.push((name, field_type, has_presence, offset, presence_len, data_len));
        }

        // Sections must tile the rest of the block exactly, in directory order.
        let section = |start: usize, len: usize| -> Result<&'a [u8], BlockError> {
            start
                .checked_add(len)
                .and_then(|end| content.get(start..end))
                .ok_or_else(|| corrupt("section runs past the block"))
        };
        if ts_offset != c.pos {
            return Err(corrupt("timestamps do not follow the directory"));
        }
        let timestamps = section(ts_offset, ts_len)?;
        let mut next = ts_offset + ts_len;
        let mut names = HashSet::with_capacity(n_columns);
        let mut entries = Vec::with_capacity(n_columns);
        for (name, field_type, has_presence, offset, presence_len, data_len) in raw {
            if offset != next {
                return Err(corrupt("column sections are not contiguous"));
            }
            if !names.insert(name) {
                return Err(BlockError::DuplicateColumn(name.to_owned()));
            }
            let presence = section(offset, presence_len)?;
            let data = section(offset + presence_len, data_len)?;
            next = offset + presence_len + data_len;
            entries.push(Entry { name, field_type, presence: has_presence.then_some(presence), data });
        }
        if next != content.len() {
            return Err(corrupt("unaccounted bytes after the last column"));
        }
        Ok(BlockReader { rows, min_time, max_time, timestamps, entries })
    }

    /// Number of rows.
    pub fn row_count(&self) -> usize {
        self.rows
    }

    /// Smallest timestamp (`i64::MAX` for a block without rows).
    pub fn min_time(&self) -> i64 {
        self.min_time
    }

    /// Largest timestamp (`i64::MIN` for a block without rows).
    pub fn max_time(&self) -> i64 {
        self.max_time
    }

    /// The columns' names and types, in block order.
    pub fn columns(&self) -> impl ExactSizeIterator<Item = (&'a str, FieldType)> + '_ {
        self.entries.iter().map(|e| (e.name, e.field_type))
    }

    /// The type of column `name`, if the block has it.
    pub fn column_type(&self, name: &str) -> Option<FieldType> {
        self.entries.iter().find(|e| e.name == name).map(|e| e.field_type)
    }

    /// Decodes the timestamps (checked against the row count and min/max time).
    pub fn timestamps(&self) -> Result<Vec<i64>, BlockError> {
        let ts = codec::timestamp::decode(self.timestamps).map_err(codec_error("timestamps"))?;
        if ts.len() != self.rows {
            return Err(corrupt("timestamp count differs from the row count"));
        }
        let (lo, hi) = ts.iter().fold((i64::MAX, i64::MIN), |(lo, hi), &t| (lo.min(t), hi.max(t)));
        if (lo, hi) != (self.min_time, self.max_time) {
            return Err(corrupt("timestamps differ from the header's min/max time"));
        }
        Ok(ts)
    }

    /// Decodes column `name`; `Ok(None)` if the block has no such column.
    pub fn column(&self, name: &str) -> Result<Option<Column>, BlockError> {
        match self.entries.iter().find(|e| e.name == name) {
            Some(e) => self.decode_entry(e).map(Some),
            None => Ok(None),
        }
    }

    /// Decodes the whole block.
    pub fn decode_all(&self) -> Result<Block, BlockError> {
        let timestamps = self.timestamps()?;
        let columns = self.entries.iter().map(|e| self.decode_entry(e)).collect::<Result<_, _>>()?;
        Ok(Block { timestamps, columns })
    }

    fn decode_entry(&self, e: &Entry<'a>) -> Result<Column, BlockError> {
        let section = format!("column {:?}", e.name);
        let err = codec_error(&section);
        let presence = match e.presence {
            Some(bytes) => {
                let p = codec::boolean::decode(bytes).map_err(&err)?;
                if p.len() != self.rows {
                    return Err(BlockError::Corrupt(format!(
                        "{section}: presence has {} flags for {} rows",
                        p.len(),
                        self.rows
                    )));
                }
                Some(p)
            }
            None => None,
        };
        let expected = presence.as_ref().map_or(self.rows, |p| p.iter().filter(|&&b| b).count());
        let data = match e.field_type {
            FieldType::Float => ColumnData::Float(codec::float::decode(e.data).map_err(&err)?),
            FieldType::Integer => ColumnData::Integer(codec::integer::decode(e.data).map_err(&err)?),
            FieldType::Unsigned => ColumnData::Unsigned(codec::unsigned::decode(e.data).map_err(&err)?),
            FieldType::Boolean => ColumnData::Boolean(codec::boolean::decode(e.data).map_err(&err)?),
            FieldType::String => ColumnData::String(codec::string::decode(e.data).map_err(&err)?),
        };
        if data.len() != expected {
            return Err(BlockError::Corrupt(format!("{section}: {} values for {expected} present rows", data.len())));
        }
        Ok(Column { name: e.name.to_owned(), data, presence })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sample_block() -> Block {
        let rows = 100;
        Block {
            timestamps: (0..rows).map(|i| 1_700_000_000_000_000_000 + i * 10_000_000_000).collect(),
            columns: vec![
                Column {
                    name: "usage_user".into(),
                    data: ColumnData::Float((0..rows).map(|i| (i % 17) as f64 * 0.25).collect()),
                    presence: None,
                },
                Column {
                    name: "requests".into(),
                    data: ColumnData::Integer((0..rows / 2).map(|i| i * 100).collect()),
                    presence: Some((0..rows).map(|i| i % 2 == 0).collect()),
                },
                Column {
                    name: "bytes".into(),
                    data: ColumnData::Unsigned(vec![u64::MAX; rows as usize]),
                    presence: None,
                },
                Column {
                    name: "up".into(),
                    data: ColumnData::Boolean(vec![true, false, true]),
                    presence: Some((0..rows).map(|i| i < 3).collect()),
                },
                Column {
                    name: "state".into(),
                    data: ColumnData::String((0..rows).map(|i| format!("s{}", i % 3)).collect()),
                    presence: None,
                },
            ],
        }
    }

    #[test]
    fn round_trip_and_header() {
        let block = sample_block();
        let bytes = encode_block(&block).expect("encode");
        let r = BlockReader::new(&bytes).expect("reader");
        assert_eq!(r.row_count(), 100);
        assert_eq!(r.min_time(), block.timestamps[0]);
        assert_eq!(r.max_time(), block.timestamps[99]);
        let cols: Vec<_> = r.columns().collect();
        assert_eq!(cols[0], ("usage_user", FieldType::Float));
        assert_eq!(cols[4], ("state", FieldType::String));
        assert_eq!(r.column_type("up"), Some(FieldType::Boolean));
        assert_eq!(r.timestamps().expect("ts"), block.timestamps);
        assert_eq!(r.column("requests").expect("col"), Some(block.columns[1].clone()));
        assert_eq!(r.column("nope").expect("col"), None);
        assert_eq!(r.decode_all().expect("all"), block);
    }

    #[test]
    fn empty_block_round_trips() {
        let block = Block {
            timestamps: vec![],
            columns: vec![Column { name: "x".into(), data: ColumnData::Float(vec![]), presence: None }],
        };
        let bytes = encode_block(&block).expect("encode");
        let r = BlockReader::new(&bytes).expect("reader");
        assert_eq!((r.row_count(), r.min_time(), r.max_time()), (0, i64::MAX, i64::MIN));
        assert_eq!(r.decode_all().expect("all"), block);
    }

    #[test]
    fn inconsistent_blocks_are_refused() {
        let mut b = sample_block();
        b.columns[0].data = ColumnData::Float(vec![1.0]);
        assert!(matches!(encode_block(&b), Err(BlockError::InvalidColumn { .. })));

        let mut b = sample_block();
        b.columns[1].presence = Some(vec![true; 3]);
        assert!(matches!(encode_block(&b), Err(BlockError::InvalidColumn { .. })));

        let mut b = sample_block();
        b.columns[1].presence = Some(vec![true; 100]);
        assert!(matches!(encode_block(&b), Err(BlockError::InvalidColumn { .. })));

        let mut b = sample_block();
        b.columns[2].name = "usage_user".into();
        assert_eq!(encode_block(&b), Err(BlockError::DuplicateColumn("usage_user".into())));

        let mut b = sample_block();
        b.columns[2].name = "x".repeat(70_000);
        assert_eq!(encode_block(&b), Err(BlockError::NameTooLong(70_000)));
    }

    #[test]
    fn header_damage_is_classified() {
        let bytes = encode_block(&sample_block()).expect("encode");
        assert_eq!(BlockReader::new(&bytes[..10]).err(), Some(BlockError::TooShort { len: 10 }));
        let mut b = bytes.clone();
        b[0] = b'X';
        assert_eq!(BlockReader::new(&b).err(), Some(BlockError::BadMagic));
        let mut b = bytes.clone();
        b[4] = 9;
        assert_eq!(BlockReader::new(&b).err(), Some(BlockError::UnsupportedVersion(9)));
        let mut b = bytes.clone();
        b[40] ^= 1;
        assert!(matches!(BlockReader::new(&b), Err(BlockError::Checksum { .. })));
        let mut b = bytes;
        b.push(0);
        assert!(BlockReader::new(&b).is_err());
    }

    /// Re-seals damaged bytes with a valid checksum, to reach the structural checks.
    fn reseal(bytes: &mut [u8]) {
        let n = bytes.len() - 4;
        let crc = crc32c::crc32c(&bytes[..n]);
        bytes[n..].copy_from_slice(&crc.to_le_bytes());
    }

    fn decode_everything(bytes: &[u8]) {
        if let Ok(r) = BlockReader::new(bytes) {
            let _ = r.timestamps();
            let names: Vec<String> = r.columns().map(|(n, _)| n.to_owned()).collect();
            for n in names {
                let _ = r.column(&n);
            }
            let _ = r.decode_all();
        }
    }

    #[test]
    fn forged_checksums_still_give_errors() {
        let bytes = encode_block(&sample_block()).expect("encode");
        // Structure damage behind a valid checksum: header fields.
        for (at, value) in [(5, 1u8), (6, 0xff), (8, 0xff), (11, 0x7f), (28, 0), (32, 0xff)] {
            let mut b = bytes.clone();
            b[at] = value;
            reseal(&mut b);
            assert!(BlockReader::new(&b).and_then(|r| r.decode_all()).is_err(), "byte {at}");
        }
        // Every byte changed in turn: never a panic.
        for at in 0..bytes.len() - 4 {
            for delta in [1u8, 0x80, 0xff] {
                let mut b = bytes.clone();
                b[at] = b[at].wrapping_add(delta);
                reseal(&mut b);
                decode_everything(&b);
            }
        }
    }

    fn column_strategy(rows: usize) -> impl Strategy<Value = Column> {
        let presence = prop_oneof![Just(None), proptest::collection::vec(any::<bool>(), rows).prop_map(Some),];
        (presence, 0u8..5, any::<u64>()).prop_map(move |(presence, kind, seed)| {
            let n = presence.as_ref().map_or(rows, |p: &Vec<bool>| p.iter().filter(|&&b| b).count());
            let mut x = seed;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            let data = match kind {
                0 => ColumnData::Float(
                    (0..n)
                        .map(|i| if i % 3 == 0 { f64::from_bits(next()) } else { (next() % 10_000) as f64 / 100.0 })
                        .collect(),
                ),
                1 => ColumnData::Integer((0..n).map(|_| next() as i64).collect()),
                2 => ColumnData::Unsigned((0..n).map(|_| next() % 1000).collect()),
                3 => ColumnData::Boolean((0..n).map(|_| next() % 2 == 0).collect()),
                _ => ColumnData::String((0..n).map(|_| format!("v{}", next() % 7)).collect()),
            };
            Column { name: String::new(), data, presence }
        })
    }

    fn block_strategy() -> impl Strategy<Value = Block> {
        (0usize..120)
            .prop_flat_map(|rows| {
                (proptest::collection::vec(any::<i64>(), rows), proptest::collection::vec(column_strategy(rows), 0..5))
            })
            .prop_map(|(timestamps, mut columns)| {
                for (i, c) in columns.iter_mut().enumerate() {
                    c.name = format!("field_{i}");
                }
                Block { timestamps, columns }
            })
    }

    fn float_bits(b: &Block) -> Vec<Vec<u64>> {
        b.columns
            .iter()
            .map(|c| match &c.data {
                ColumnData::Float(v) => v.iter().map(|x| x.to_bits()).collect(),
                _ => Vec::new(),
            })
            .collect()
    }

    proptest! {
        #[test]
        fn arbitrary_blocks_round_trip(block in block_strategy()) {
            let bytes = encode_block(&block).expect("encode");
            let r = BlockReader::new(&bytes).expect("reader");
            prop_assert_eq!(r.row_count(), block.timestamps.len());
            let decoded = r.decode_all().expect("decode");
            prop_assert_eq!(&decoded.timestamps, &block.timestamps);
            // Compare floats by bits (NaN != NaN), everything else by value.
            prop_assert_eq!(float_bits(&decoded), float_bits(&block));
            for (d, b) in decoded.columns.iter().zip(&block.columns) {
                prop_assert_eq!(&d.name, &b.name);
                prop_assert_eq!(&d.presence, &b.presence);
                if !matches!(b.data, ColumnData::Float(_)) {
                    prop_assert_eq!(&d.data, &b.data);
                }
            }
            for c in &block.columns {
                let one = r.column(&c.name).expect("column").expect("present");
                prop_assert_eq!(&one.presence, &c.presence);
            }
        }

        #[test]
        fn any_flipped_byte_is_an_error(block in block_strategy(), pos in any::<prop::sample::Index>(), flip in 1u8..=255) {
            let mut bytes = encode_block(&block).expect("encode");
            let at = pos.index(bytes.len());
            bytes[at] ^= flip;
            prop_assert!(BlockReader::new(&bytes).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            decode_everything(&bytes);
        }

        #[test]
        fn resealed_random_damage_never_panics(block in block_strategy(), edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
            let mut bytes = encode_block(&block).expect("encode");
            for (pos, v) in edits {
                let at = pos.index(bytes.len() - 4);
                bytes[at] = v;
            }
            reseal(&mut bytes);
            decode_everything(&bytes);
        }
    }
}
