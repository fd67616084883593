//! InfluxDB line protocol: the parser behind `POST /write` and the serializer
//! behind export.
//!
//! A line is `measurement[,tag=value...] field=value[,field=value...] [timestamp]`,
//! read as InfluxDB 1.x reads it, escapes included (checked against InfluxDB
//! 1.6; the few deliberate differences are listed in the reference). The
//! user-facing reference, with examples of everything accepted and every
//! error, is `docs/line-protocol.md`; this module follows it element by
//! element, and the constants below name every delimiter so the grammar can be
//! read from the code.
//!
//! Why it is built this way:
//!
//! * **Partial writes.** InfluxDB keeps the valid lines of a request and
//!   reports the bad ones. [`parse`] never stops early: each logical line
//!   becomes a [`Point`] or exactly one [`LineError`] (with line, column and
//!   text), and a bad line never changes how the next one is read.
//! * **Logical lines.** A string field value may contain raw newlines (Telegraf
//!   and the Influx client libraries send them unescaped), so a line ends at
//!   the first newline *outside* a string field value. A forgotten closing
//!   quote would then swallow the rest of the request; the `split` module
//!   detects that case (the quote never closes, or it "closes" on
//!   a later line in a position where no string could end) and cuts the bad
//!   line at its first newline instead, so the lines after it still parse.
//! * **Speed.** Ingest must parse millions of field values per second on a
//!   small machine. The splitter finds a quote-free line with one byte
//!   search; elements are scanned as borrowed byte slices and stay borrowed
//!   from the body (copied only to remove escapes); a key section seen on an
//!   earlier line of the request is recognised by its bytes and not parsed
//!   again ([`parse_batch`]); scratch buffers are reused from line to line.
//! * **No panics.** Input reaches every branch, so nothing here unwraps,
//!   overflows or indexes out of bounds; property tests and the
//!   `line_protocol` fuzz target feed it arbitrary bytes.

mod batch;
mod escape;
mod line;
mod split;
mod value;
mod write;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

use crate::model::{Point, Precision};

pub use batch::{parse_batch, LineBatch, LineSeries};
pub use write::write_point;

// ---------------------------------------------------------------------------
// The grammar's delimiters, one name per role.
// ---------------------------------------------------------------------------

/// Ends a line (outside a string field value). A `\r` before it is ignored.
const LINE_END: u8 = b'\n';
/// Starts a comment line (after optional leading whitespace).
const COMMENT: u8 = b'#';
/// Separates the key section, the field section and the timestamp. Spaces
/// and tabs after it are skipped (a tab alone separates nothing).
const SECTION_SEPARATOR: u8 = b' ';
/// Separates the measurement from the first tag, tags from each other and
/// fields from each other.
const PAIR_SEPARATOR: u8 = b',';
/// Separates a tag key from its value and a field key from its value.
const KEY_VALUE_SEPARATOR: u8 = b'=';
/// Opens and closes a string field value.
const STRING_QUOTE: u8 = b'"';
/// Escapes the next character when that character is special for the
/// element; before any other character it is a literal backslash.
const ESCAPE: u8 = b'\\';

/// Characters a measurement escapes.
const MEASUREMENT_SPECIALS: &[u8] = &[PAIR_SEPARATOR, SECTION_SEPARATOR];
/// Characters tag keys, tag values and field keys escape.
const KEY_SPECIALS: &[u8] = &[PAIR_SEPARATOR, KEY_VALUE_SEPARATOR, SECTION_SEPARATOR];
/// Characters a string field value escapes.
const STRING_SPECIALS: &[u8] = &[STRING_QUOTE, ESCAPE];

// ---------------------------------------------------------------------------
// Limits (InfluxDB's).
// ---------------------------------------------------------------------------

/// Longest string field value accepted, in bytes after unescaping (64 KiB).
pub const MAX_STRING_LEN: usize = 64 * 1024;
/// Longest key section (measurement and tags, as written) accepted, in bytes.
pub const MAX_KEY_LEN: usize = 65_535;
/// Earliest timestamp accepted, in nanoseconds (InfluxDB's `MinNanoTime`;
/// the two values below it are reserved as sentinels).
pub const MIN_TIMESTAMP: i64 = i64::MIN + 2;
/// Latest timestamp accepted, in nanoseconds (InfluxDB's `MaxNanoTime`).
pub const MAX_TIMESTAMP: i64 = i64::MAX - 1;
/// [`LineError::text`] keeps at most this many characters of the line.
pub const MAX_ERROR_TEXT_CHARS: usize = 256;

// ---------------------------------------------------------------------------
// Public API.
// ---------------------------------------------------------------------------

/// The result of parsing one request body: the valid points and one error per
/// invalid line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ParsedBatch {
    /// The points of the valid lines, in input order.
    pub points: Vec<Point>,
    /// The 1-based line on which each point starts, parallel to `points`.
    pub line_numbers: Vec<usize>,
    /// One error per invalid line, in input order.
    pub errors: Vec<LineError>,
}

/// Why a line was rejected. [`LineError::message`] is this kind's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum LineErrorKind {
    /// The line (or one of its names or string values) is not valid UTF-8.
    #[error("invalid UTF-8")]
    InvalidUtf8,
    /// The line starts with `,`: it has no measurement name.
    #[error("missing measurement")]
    MissingMeasurement,
    /// A tag has an empty key (`cpu,=a`, `cpu,,a=b`, trailing comma).
    #[error("missing tag key")]
    MissingTagKey,
    /// A tag has no `=value` or an empty value (`cpu,host`, `cpu,host=`).
    #[error("missing tag value")]
    MissingTagValue,
    /// A tag value contains an unescaped `=` (`cpu,a=b=c`).
    #[error("invalid tag format")]
    InvalidTagFormat,
    /// The same tag key appears twice in one line.
    #[error("duplicate tags")]
    DuplicateTags,
    /// Measurement and tags are longer than [`MAX_KEY_LEN`] bytes.
    #[error("max key length exceeded")]
    KeyTooLong,
    /// The line has no field section.
    #[error("missing fields")]
    MissingFields,
    /// A field has an empty key (`cpu =1`, `cpu a=1,`).
    #[error("missing field key")]
    MissingFieldKey,
    /// A field has no `=`, or a string value is followed by something other
    /// than `,`, a space or the end of the line.
    #[error("invalid field format")]
    InvalidFieldFormat,
    /// A field has an empty value (`cpu value=`).
    #[error("missing field value")]
    MissingFieldValue,
    /// A numeric field value is malformed (`1.2.3`, `+1`, `1.5i`, `-1u` ...).
    #[error("invalid number")]
    InvalidNumber,
    /// An `i` integer is outside the signed 64-bit range.
    #[error("integer out of range")]
    IntegerOutOfRange,
    /// A `u` integer is outside the unsigned 64-bit range.
    #[error("unsigned integer out of range")]
    UnsignedOutOfRange,
    /// A float is too large to represent (`1e400`).
    #[error("float out of range")]
    FloatOutOfRange,
    /// A value starting like a boolean is not one of the accepted spellings.
    #[error("invalid boolean")]
    InvalidBoolean,
    /// A value is neither a number, a boolean nor a quoted string (`abc`,
    /// `NaN`, `inf`).
    #[error("invalid field value")]
    InvalidFieldValue,
    /// A string field value has no closing quote.
    #[error("unbalanced quotes")]
    UnbalancedQuotes,
    /// A string field value is longer than [`MAX_STRING_LEN`] bytes.
    #[error("string field value too long")]
    StringTooLong,
    /// The timestamp is not an integer.
    #[error("invalid timestamp")]
    InvalidTimestamp,
    /// The timestamp does not fit the nanosecond range once scaled by the
    /// precision.
    #[error("timestamp out of range")]
    TimestampOutOfRange,
    /// Something follows the timestamp.
    #[error("unexpected text after timestamp")]
    TrailingText,
}

/// One rejected line.
///
/// Displays like InfluxDB:
/// `unable to parse 'cpu,host=a value=': line 3, column 18: missing field value`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LineError {
    /// 1-based line of the offending element (a string field value may span
    /// lines, so this can be after the line the point starts on).
    pub line: usize,
    /// 1-based column of the offending element, in characters; for a missing
    /// element, the column where it was expected.
    pub column: usize,
    /// What is wrong, as a matchable value.
    pub kind: LineErrorKind,
    /// What is wrong, as text (`kind`'s message).
    pub message: String,
    /// The offending line, truncated to [`MAX_ERROR_TEXT_CHARS`] characters
    /// (with `…` appended when cut); invalid UTF-8 is replaced by `�`.
    pub text: String,
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "unable to parse '{}': line {}, column {}: {}", self.text, self.line, self.column, self.message)
    }
}

/// Parses a request body of line protocol.
///
/// Timestamps are read in `precision` and stored in nanoseconds. Blank lines
/// and comments are skipped; every other logical line yields either a point
/// (in `points`, its line in `line_numbers`) or exactly one error. Never
/// panics, whatever the bytes.
pub fn parse(input: &[u8], precision: Precision) -> ParsedBatch {
    let mut batch = parse_batch(input, precision);
    let line_numbers = std::mem::take(&mut batch.line_numbers);
    let errors = std::mem::take(&mut batch.errors);
    ParsedBatch { points: batch.into_points(), line_numbers, errors }
}

/// Builds the public error for a failure at byte `fail.pos` of `content`, a
/// logical line starting on line `first_line`.
fn line_error(content: &[u8], first_line: usize, fail: line::Fail) -> LineError {
    let before = content.get(..fail.pos).unwrap_or(content);
    let newlines = before.iter().filter(|&&b| b == LINE_END).count();
    let line_start = before.iter().rposition(|&b| b == LINE_END).map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or_default().iter().filter(|&&b| !is_utf8_continuation(b)).count() + 1;
    LineError {
        line: first_line + newlines,
        column,
        kind: fail.kind,
        message: fail.kind.to_string(),
        text: error_text(line::trim_end(content)),
    }
}

/// The line as it appears in an error: lossily decoded and truncated.
fn error_text(content: &[u8]) -> String {
    let text = String::from_utf8_lossy(content);
    match text.char_indices().nth(MAX_ERROR_TEXT_CHARS) {
        None => text.into_owned(),
        Some((cut, _)) => {
            let mut short = text.get(..cut).unwrap_or_default().to_owned();
            short.push('…');
            short
        }
    }
}

/// True for the bytes that continue a multi-byte UTF-8 character (they don't
/// start a column).
fn is_utf8_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}
