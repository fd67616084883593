//! The blocking half of a write: decode, parse, store, and account for
//! every line.
//!
//! InfluxDB's partial-write semantics: valid lines are stored even when
//! others are malformed or rejected by the store, and the response lists
//! what was dropped, by line number, so the client can fix exactly those.
//! A Prometheus remote_write body ([`Payload::RemoteWrite`]) takes the same
//! path from its points on; its errors name the series by index instead of
//! a line.

use augur_engine::lineproto;
use augur_engine::model::{Point, Precision};
use augur_engine::remote_write::{self, DecodeError};
use augur_engine::storage::Store;
use augur_engine::write_rows::WriteRows;
use bytes::Bytes;

use super::super::body::{self, Encoding};
use super::super::error::ApiError;

/// Most dropped lines listed in one error message.
const MAX_LISTED: usize = 100;

/// Where the points go.
#[derive(Debug, Clone)]
pub struct Target {
    /// Database.
    pub db: String,
    /// Retention policy; `None` = the database's default.
    pub rp: Option<String>,
    /// `account_tags=true`: tag points with the writer's account.
    pub account_tags: bool,
}

/// How a body carries its points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload {
    /// Line protocol (maybe gzip), timestamps in this precision.
    LineProtocol {
        /// The body's `Content-Encoding`.
        encoding: Encoding,
        /// Timestamp precision.
        precision: Precision,
    },
    /// A Prometheus remote_write 1.0 body (snappy block of protobuf).
    RemoteWrite,
}

/// What a write's errors call one item of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Unit {
    /// A line-protocol line, numbered from 1.
    #[default]
    Line,
    /// A remote_write series, numbered from 0 (its index in the request).
    TimeSeries,
}

impl Unit {
    /// The word in messages.
    fn word(self) -> &'static str {
        match self {
            Unit::Line => "line",
            Unit::TimeSeries => "timeseries",
        }
    }
}

/// A body turned into points: each with the line or series it came from,
/// and one message per item that could not be read.
struct Parsed {
    points: Vec<Point>,
    origins: Vec<usize>,
    invalid: Vec<String>,
    unit: Unit,
}

/// One write request's work, moved onto the blocking pool.
pub struct Ingest {
    /// The store.
    pub store: Store,
    /// Destination.
    pub target: Target,
    /// The body as received (maybe compressed).
    pub raw: Bytes,
    /// Its format and encoding.
    pub payload: Payload,
    /// `max_body_size`, enforced on the decoded body too.
    pub limit: usize,
    /// Timestamp for points that carry none.
    pub now_ns: i64,
    /// The owning tenant's rules.
    pub policy: WritePolicy,
}

/// Admits a number of points, or names the limit they exceed.
pub type Admit = Box<dyn FnOnce(u64) -> Result<(), String> + Send>;

/// What the owning tenant's settings ask of a write.
#[derive(Default)]
pub struct WritePolicy {
    /// Tag keys to drop (location tags without consent); empty = keep all.
    pub drop_tags: Vec<String>,
    /// Admits `n` points or names the limit they exceed.
    pub admit: Option<Admit>,
    /// At most this many new series (the tenant's cardinality budget), else this reason.
    pub new_series: Option<(usize, String)>,
    /// Tags added to every point (the writer's account: `account_tags=true`).
    pub add_tags: Vec<(String, String)>,
}

/// What happened to the lines (or series) of one write.
#[derive(Debug, Default)]
pub struct Report {
    /// Points stored.
    pub points_written: usize,
    /// Lines (series) that did not parse, as messages.
    pub parse_errors: Vec<String>,
    /// Points the store refused: (line number or series index, reason).
    pub rejected: Vec<(usize, String)>,
    /// What `rejected` numbers.
    pub unit: Unit,
    /// Location tags dropped for privacy.
    pub tags_dropped: u64,
    /// remote_write samples left out (NaN, staleness markers, ±Inf).
    pub samples_skipped: usize,
}

impl Ingest {
    /// Runs the write. `Err` means nothing was stored (unknown database,
    /// bad body, store failure); a `Report` with errors means a partial write.
    pub fn run(self) -> Result<Report, ApiError> {
        let mut samples_skipped = 0;
        let mut batch = match self.payload {
            Payload::LineProtocol { encoding, precision } => {
                let body = body::decode(self.raw.clone(), encoding, self.limit)?;
                let lines = lineproto::parse_batch(&body, precision);
                let invalid = lines.errors.iter().map(ToString::to_string).collect();
                if self.policy.drop_tags.is_empty() && self.policy.add_tags.is_empty() {
                    // The common case: rows stay borrowed from the body.
                    let report = Report { parse_errors: invalid, unit: Unit::Line, ..Report::default() };
                    return self.store_rows(&lines.write_rows(), &lines.line_numbers, report);
                }
                let origins = lines.line_numbers.clone();
                Parsed { points: lines.into_points(), origins, invalid, unit: Unit::Line }
            }
            Payload::RemoteWrite => {
                let decoded = remote_write::decode(&self.raw, self.limit).map_err(remote_write_error)?;
                samples_skipped = decoded.skipped_samples;
                Parsed {
                    points: decoded.points,
                    origins: decoded.series_of,
                    invalid: decoded.errors.iter().map(ToString::to_string).collect(),
                    unit: Unit::TimeSeries,
                }
            }
        };
        let mut tags_dropped = 0u64;
        if !self.policy.drop_tags.is_empty() {
            for point in &mut batch.points {
                let before = point.tags.len();
                point.tags.retain(|(key, _)| !self.policy.drop_tags.iter().any(|d| d == key));
                tags_dropped += (before - point.tags.len()) as u64;
            }
        }
        if !self.policy.add_tags.is_empty() {
            for point in &mut batch.points {
                // The server's value wins over one the client sent; tags stay sorted.
                point.tags.retain(|(key, _)| !self.policy.add_tags.iter().any(|(k, _)| k == key));
                point.tags.extend(self.policy.add_tags.iter().cloned());
                point.tags.sort_by(|a, b| a.0.cmp(&b.0));
            }
        }
        let report = Report {
            parse_errors: batch.invalid,
            unit: batch.unit,
            tags_dropped,
            samples_skipped,
            ..Report::default()
        };
        self.store_rows(&WriteRows::from_points(&batch.points), &batch.origins, report)
    }

    /// Stores `rows` (row `i` came from line or series `origins[i]`) and
    /// completes `report`, which already says what could not be read.
    fn store_rows(self, rows: &WriteRows<'_>, origins: &[usize], mut report: Report) -> Result<Report, ApiError> {
        let db = &self.target.db;
        if !self.store.database_exists(db) {
            return Err(ApiError::DatabaseNotFound(db.clone()));
        }
        if let Some(rp) = &self.target.rp {
            let policies = self.store.retention_policies(db)?;
            if !policies.iter().any(|p| &p.name == rp) {
                return Err(ApiError::RetentionPolicyNotFound(rp.clone()));
            }
        }
        if rows.is_empty() {
            return Ok(report);
        }
        if let Some(admit) = self.policy.admit {
            admit(rows.len() as u64).map_err(ApiError::TenantLimit)?;
        }
        let new_series = self.policy.new_series.as_ref().map(|(n, reason)| (*n, reason.as_str()));
        let outcome = self.store.write_rows(db, self.target.rp.as_deref(), rows, self.now_ns, new_series)?;
        report.points_written = outcome.points_written;
        report.rejected =
            outcome.rejected.into_iter().map(|r| (origins.get(r.index).copied().unwrap_or(0), r.reason)).collect();
        Ok(report)
    }
}

/// A remote_write body refused as a whole: 413 for the size limits, 400 for
/// the rest (Prometheus retries neither).
fn remote_write_error(err: DecodeError) -> ApiError {
    match err {
        DecodeError::TooLarge { limit, .. } => ApiError::BodyTooLarge { limit },
        DecodeError::TooManyPoints { .. } => ApiError::TooManyPoints(err.to_string()),
        DecodeError::Snappy(_) | DecodeError::Protobuf(_) => ApiError::BadRemoteWrite(err.to_string()),
    }
}

impl Report {
    /// `Ok` if every line was stored; otherwise the 400 that lists the
    /// malformed lines (one per line of the message) and then the rejected
    /// points (`partial write: line N: <reason>; ... dropped=K`; for
    /// remote_write `timeseries N: <reason>`, once per series and reason).
    pub fn into_result(self) -> Result<(), ApiError> {
        if self.parse_errors.is_empty() && self.rejected.is_empty() {
            return Ok(());
        }
        let mut parts: Vec<String> = Vec::new();
        if !self.parse_errors.is_empty() {
            let mut lines: Vec<String> = self.parse_errors.iter().take(MAX_LISTED).cloned().collect();
            if self.parse_errors.len() > MAX_LISTED {
                lines.push(format!("and {} more", self.parse_errors.len() - MAX_LISTED));
            }
            parts.push(lines.join("\n"));
        }
        if !self.rejected.is_empty() {
            let word = self.unit.word();
            let dropped = self.rejected.len();
            let mut distinct = self.rejected;
            distinct.dedup();
            let mut reasons: Vec<String> =
                distinct.iter().take(MAX_LISTED).map(|(at, reason)| format!("{word} {at}: {reason}")).collect();
            if distinct.len() > MAX_LISTED {
                reasons.push(format!("and {} more", distinct.len() - MAX_LISTED));
            }
            parts.push(format!("partial write: {} dropped={}", reasons.join("; "), dropped));
        }
        Err(ApiError::PartialWrite(parts.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_errors(input: &str) -> Vec<String> {
        lineproto::parse(input.as_bytes(), Precision::Nanoseconds).errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn complete_write_is_ok() {
        assert!(Report::default().into_result().is_ok());
    }

    #[test]
    fn lists_bad_lines_then_rejections() {
        let report = Report {
            points_written: 1,
            parse_errors: parse_errors("cpu v=1\ncpu v=\n"),
            rejected: vec![(3, "field type conflict".into()), (5, "max series".into())],
            ..Report::default()
        };
        let message = report.into_result().expect_err("partial").to_string();
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines.len(), 2, "{message}");
        assert!(lines[0].starts_with("unable to parse 'cpu v=': line 2"), "{message}");
        assert_eq!(lines[1], "partial write: line 3: field type conflict; line 5: max series dropped=2");
    }

    #[test]
    fn names_remote_write_series_once_per_reason() {
        let conflict = || "field type conflict".to_string();
        let report = Report {
            rejected: vec![(2, conflict()), (2, conflict()), (4, conflict())],
            unit: Unit::TimeSeries,
            ..Report::default()
        };
        let message = report.into_result().expect_err("partial").to_string();
        assert_eq!(
            message,
            "partial write: timeseries 2: field type conflict; timeseries 4: field type conflict dropped=3"
        );
    }

    #[test]
    fn caps_the_list() {
        let input: String = (0..150).map(|i| format!("bad{i}\n")).collect();
        let report = Report { parse_errors: parse_errors(&input), ..Report::default() };
        let message = report.into_result().expect_err("bad").to_string();
        assert_eq!(message.lines().count(), MAX_LISTED + 1);
        assert_eq!(message.lines().last(), Some("and 50 more"));
    }
}
