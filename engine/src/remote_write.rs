//! Prometheus remote_write 1.0: the decoder behind `POST /api/v1/write`.
//!
//! A request body is a snappy *block* (not the framed stream format) holding
//! a protobuf `prometheus.WriteRequest`: series, each a set of labels and
//! float samples `(value, timestamp in ms)`. [`decode`] turns it into the
//! same [`Point`]s a line-protocol write produces, so the server hands them to
//! the one ingest path:
//!
//! * the `__name__` label is the measurement, every other label a tag;
//! * each sample is a point with one float field, [`VALUE_FIELD`], at the
//!   sample's timestamp (milliseconds → nanoseconds).
//!
//! Why it is built this way:
//!
//! * **Partial writes, as `/write`.** A series that cannot be mapped (no
//!   `__name__`, an empty or duplicate label name, a label that is not UTF-8,
//!   a key longer than line protocol allows, a timestamp out of range, native
//!   histograms) becomes one [`SeriesError`] naming its index and labels;
//!   every other series of the request is still stored. Only a body that is
//!   not snappy or not protobuf at all is refused as a whole ([`DecodeError`]).
//! * **What is skipped, not refused.** Labels with an empty value (Prometheus
//!   treats them as absent); samples whose value is NaN — among them the
//!   *staleness markers* Prometheus sends when a series disappears — or ±Inf,
//!   which line protocol cannot carry either (counted in
//!   [`Decoded::skipped_samples`]); exemplars and metadata (not decoded).
//! * **Native histograms are refused** per series with a message that says
//!   to turn off `send_native_histograms`: storing only their sum or count
//!   would be a silent loss, and Prometheus sends none unless asked to.
//! * **Bounded memory.** The decompressed size is read from the snappy header
//!   and checked against the caller's limit *before* allocating, and the
//!   points a request expands to (every sample repeats its series' labels)
//!   are held to [`EXPANSION_FACTOR`] times that limit, so a small request
//!   with one huge series and a million samples is a clear error, never an
//!   out-of-memory.
//! * **No panics.** Input reaches every branch; nothing here unwraps or
//!   indexes unchecked; property tests and the `remote_write` fuzz target
//!   feed it arbitrary bytes.

mod proto;

#[cfg(test)]
mod proptests;
#[cfg(test)]
mod tests;

use std::fmt;

use prost::Message as _;

use crate::lineproto::{MAX_KEY_LEN, MAX_TIMESTAMP, MIN_TIMESTAMP};
use crate::model::{FieldValue, Point};

pub use proto::{Label, Sample, TimeSeries, WriteRequest};

/// The label that names the metric; it becomes the measurement.
pub const METRIC_NAME_LABEL: &str = "__name__";
/// The field every sample's value is stored in.
pub const VALUE_FIELD: &str = "value";
/// The points of one request may take at most this many times the body
/// limit in memory (estimated: each sample's series key plus a fixed cost).
pub const EXPANSION_FACTOR: usize = 4;
/// Bytes a point costs besides its names, for the expansion estimate.
const POINT_OVERHEAD: usize = 96;
/// A [`SeriesError`] shows at most this many characters of the series.
const MAX_SERIES_TEXT_CHARS: usize = 200;
/// Nanoseconds per millisecond.
const NS_PER_MS: i64 = 1_000_000;

/// Why a whole request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The body is not a snappy block.
    #[error("invalid snappy block (remote_write bodies are snappy block format, not framed): {0}")]
    Snappy(String),
    /// The snappy block decompresses to more than the limit.
    #[error("remote_write body decompresses to {size} bytes: the limit is {limit} bytes")]
    TooLarge {
        /// The size the snappy header announces.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The decompressed body is not a `prometheus.WriteRequest`.
    #[error("invalid protobuf WriteRequest: {0}")]
    Protobuf(String),
    /// The request's points would take more memory than allowed.
    #[error(
        "remote_write request expands to about {estimate} bytes of points (the limit is {limit}): \
         send fewer samples per request (queue_config.max_samples_per_send)"
    )]
    TooManyPoints {
        /// The estimate for this request.
        estimate: usize,
        /// [`EXPANSION_FACTOR`] times the body limit.
        limit: usize,
    },
}

/// Why one series (or some of its samples) was not mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SeriesErrorKind {
    /// No `__name__` label, or an empty one.
    #[error("missing metric name (no __name__ label)")]
    MissingName,
    /// A label with an empty name.
    #[error("empty label name")]
    EmptyLabelName,
    /// The same label name twice.
    #[error("duplicate label name")]
    DuplicateLabel,
    /// A label name or value that is not UTF-8.
    #[error("label is not valid UTF-8")]
    InvalidUtf8,
    /// Measurement and tags longer than line protocol's key limit.
    #[error("series key longer than 65535 bytes")]
    KeyTooLong,
    /// A sample's timestamp outside the nanosecond range.
    #[error("sample timestamp out of range")]
    TimestampOutOfRange,
    /// Native histogram samples.
    #[error("native histograms are not supported: set send_native_histograms: false in remote_write")]
    NativeHistograms,
}

/// One series of a request that was (wholly or partly) not mapped.
///
/// Displays as `timeseries 3 (up{job="node"}): duplicate label name: job`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeriesError {
    /// 0-based index of the series in the request.
    pub index: usize,
    /// The series as Prometheus prints it (lossy UTF-8, truncated).
    pub series: String,
    /// What is wrong.
    pub kind: SeriesErrorKind,
    /// Which label or sample, where it helps.
    pub detail: String,
}

impl fmt::Display for SeriesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timeseries {} ({}): {}", self.index, self.series, self.kind)?;
        if !self.detail.is_empty() {
            write!(f, ": {}", self.detail)?;
        }
        Ok(())
    }
}

impl std::error::Error for SeriesError {}

/// A decoded request: the points of the series that mapped, and one error
/// per series that did not.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// One point per stored sample, in request order.
    pub points: Vec<Point>,
    /// The 0-based series index of each point, parallel to `points`.
    pub series_of: Vec<usize>,
    /// One error per series not (wholly) mapped, in request order.
    pub errors: Vec<SeriesError>,
    /// Samples left out because their value is NaN (staleness markers) or ±Inf.
    pub skipped_samples: usize,
    /// Series the request held.
    pub series: usize,
}

/// Decodes a remote_write body (snappy block, then protobuf) whose
/// decompressed form may be at most `limit` bytes, and maps it to points.
pub fn decode(body: &[u8], limit: usize) -> Result<Decoded, DecodeError> {
    let protobuf = decompress(body, limit)?;
    let request = WriteRequest::decode(protobuf.as_slice()).map_err(|e| DecodeError::Protobuf(e.to_string()))?;
    drop(protobuf);
    let estimate = expansion_estimate(&request);
    let expansion_limit = limit.saturating_mul(EXPANSION_FACTOR);
    if estimate > expansion_limit {
        return Err(DecodeError::TooManyPoints { estimate, limit: expansion_limit });
    }
    Ok(to_points(request))
}

/// Decompresses a snappy block of at most `limit` decompressed bytes.
pub fn decompress(body: &[u8], limit: usize) -> Result<Vec<u8>, DecodeError> {
    let size = snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if size > limit {
        return Err(DecodeError::TooLarge { size, limit });
    }
    snap::raw::Decoder::new().decompress_vec(body).map_err(|e| DecodeError::Snappy(e.to_string()))
}

/// Encodes a request as a remote_write body: protobuf, then a snappy block.
/// What Prometheus sends; used by tests, benchmarks and clients.
pub fn encode(request: &WriteRequest) -> Vec<u8> {
    let protobuf = request.encode_to_vec();
    // Compressing a byte slice fails only when it is larger than snappy's
    // 4 GiB block limit, which a WriteRequest built in memory for a test or
    // a benchmark is not; an empty body is the honest answer if it were.
    snap::raw::Encoder::new().compress_vec(&protobuf).unwrap_or_default()
}

/// Bytes the request's points would take, roughly: each sample repeats its
/// series' names.
fn expansion_estimate(request: &WriteRequest) -> usize {
    request
        .timeseries
        .iter()
        .map(|ts| {
            let names: usize = ts.labels.iter().map(|l| l.name.len() + l.value.len() + 2).sum();
            ts.samples.len().saturating_mul(names.saturating_mul(2).saturating_add(POINT_OVERHEAD))
        })
        .fold(0usize, usize::saturating_add)
}

/// Maps decoded series to points (see the module documentation).
pub fn to_points(request: WriteRequest) -> Decoded {
    let mut out = Decoded { series: request.timeseries.len(), ..Decoded::default() };
    for (index, series) in request.timeseries.into_iter().enumerate() {
        let (measurement, tags) = match series_names(&series.labels) {
            Ok(names) => names,
            Err((kind, detail)) => {
                out.errors.push(SeriesError { index, series: series_text(&series.labels), kind, detail });
                continue;
            }
        };
        let mut bad_timestamp: Option<i64> = None;
        for sample in &series.samples {
            if !sample.value.is_finite() {
                out.skipped_samples += 1;
                continue;
            }
            let Some(ns) =
                sample.timestamp.checked_mul(NS_PER_MS).filter(|ns| (MIN_TIMESTAMP..=MAX_TIMESTAMP).contains(ns))
            else {
                bad_timestamp.get_or_insert(sample.timestamp);
                continue;
            };
            out.points.push(Point {
                measurement: measurement.clone(),
                tags: tags.clone(),
                fields: vec![(VALUE_FIELD.to_string(), FieldValue::Float(sample.value))],
                timestamp: Some(ns),
            });
            out.series_of.push(index);
        }
        if let Some(ms) = bad_timestamp {
            out.errors.push(SeriesError {
                index,
                series: series_text(&series.labels),
                kind: SeriesErrorKind::TimestampOutOfRange,
                detail: format!("{ms} ms"),
            });
        }
        if !series.histograms.is_empty() {
            out.errors.push(SeriesError {
                index,
                series: series_text(&series.labels),
                kind: SeriesErrorKind::NativeHistograms,
                detail: format!("{} histogram samples dropped", series.histograms.len()),
            });
        }
    }
    out
}

/// A series' measurement and sorted tags.
type Names = (String, Vec<(String, String)>);
/// What is wrong with a series, and where (the label or sample).
type Fault = (SeriesErrorKind, String);

/// Measurement and sorted tags of a series, or what is wrong with its labels.
fn series_names(labels: &[Label]) -> Result<Names, Fault> {
    let mut pairs: Vec<(String, String)> = Vec::with_capacity(labels.len());
    for (i, label) in labels.iter().enumerate() {
        let utf8 = |bytes: &[u8], what: &str| {
            std::str::from_utf8(bytes).map(str::to_string).map_err(|_| {
                (SeriesErrorKind::InvalidUtf8, format!("label {i} {what} {:?}", String::from_utf8_lossy(bytes)))
            })
        };
        let name = utf8(&label.name, "name")?;
        let value = utf8(&label.value, "value")?;
        if name.is_empty() {
            return Err((SeriesErrorKind::EmptyLabelName, format!("label {i} (value {value:?})")));
        }
        pairs.push((name, value));
    }
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let duplicate = pairs.windows(2).find_map(|w| match w {
        [a, b] if a.0 == b.0 => Some(a.0.clone()),
        _ => None,
    });
    if let Some(name) = duplicate {
        return Err((SeriesErrorKind::DuplicateLabel, name));
    }
    let mut measurement = String::new();
    let mut tags = Vec::with_capacity(pairs.len().saturating_sub(1));
    for (name, value) in pairs {
        if name == METRIC_NAME_LABEL {
            measurement = value;
        } else if !value.is_empty() {
            tags.push((name, value));
        }
    }
    if measurement.is_empty() {
        return Err((SeriesErrorKind::MissingName, String::new()));
    }
    let key_len = measurement.len() + tags.iter().map(|(k, v)| k.len() + v.len() + 2).sum::<usize>();
    if key_len > MAX_KEY_LEN {
        return Err((SeriesErrorKind::KeyTooLong, format!("{key_len} bytes")));
    }
    Ok((measurement, tags))
}

/// A series as Prometheus prints it: `name{label="value",...}`, lossily
/// decoded and cut to [`MAX_SERIES_TEXT_CHARS`] characters.
fn series_text(labels: &[Label]) -> String {
    let lossy = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let name = labels.iter().find(|l| l.name == METRIC_NAME_LABEL.as_bytes()).map(|l| lossy(&l.value));
    let rest: Vec<String> = labels
        .iter()
        .filter(|l| l.name != METRIC_NAME_LABEL.as_bytes())
        .map(|l| format!("{}={:?}", lossy(&l.name), lossy(&l.value)))
        .collect();
    let text = format!("{}{{{}}}", name.unwrap_or_default(), rest.join(","));
    if text.chars().count() <= MAX_SERIES_TEXT_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_SERIES_TEXT_CHARS).collect();
    cut.push('…');
    cut
}
