//! [`LineBatch`]: a request body parsed into borrowed rows grouped by series,
//! what `POST /write` hands to the store.
//!
//! Why: most lines of a write repeat a key section (measurement and tags)
//! that an earlier line of the same request already had, byte for byte. Such
//! a line's key section is recognised by hashing its bytes and is not parsed
//! again, and names stay borrowed from the body, so a typical line costs no
//! allocation at all. [`super::parse`] builds owned [`Point`]s from the same
//! parse for callers that want them.

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use super::line::{self, Field, Key};
use super::{line_error, split, LineError};
use crate::model::{FieldValue, Point, Precision};
use crate::write_rows::WriteRows;

/// A distinct key section of the batch: measurement and tags.
#[derive(Debug)]
pub struct LineSeries<'a> {
    /// Measurement name.
    pub measurement: Cow<'a, str>,
    /// Tag pairs, sorted by key, keys unique.
    pub tags: Vec<(Cow<'a, str>, Cow<'a, str>)>,
}

/// One valid line.
#[derive(Debug)]
struct LineRow {
    /// Index into `series`.
    series: usize,
    /// Range of `fields`.
    fields: Range<usize>,
    /// Nanoseconds, if the line had a timestamp.
    timestamp: Option<i64>,
}

/// A request body of line protocol, parsed: the valid lines as rows of
/// borrowed names, and one error per invalid line.
#[derive(Debug, Default)]
pub struct LineBatch<'a> {
    series: Vec<LineSeries<'a>>,
    rows: Vec<LineRow>,
    fields: Vec<Field<'a>>,
    /// The 1-based line on which each row starts, in row order.
    pub line_numbers: Vec<usize>,
    /// One error per invalid line, in input order.
    pub errors: Vec<LineError>,
}

impl<'a> LineBatch<'a> {
    /// Number of valid lines (rows).
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether no line was valid.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The rows as the store takes them (series keys built here, once per
    /// distinct key section). Row `i` is the `i`-th valid line.
    pub fn write_rows(&self) -> WriteRows<'_> {
        let mut out = WriteRows::with_capacity(self.rows.len(), self.fields.len() / self.rows.len().max(1));
        let series: Vec<usize> = self
            .series
            .iter()
            .map(|s| {
                let tags = s.tags.iter().map(|(k, v)| (k.as_ref(), v.as_ref())).collect();
                out.add_series(s.measurement.as_ref(), tags)
            })
            .collect();
        for row in &self.rows {
            let fields = self.fields.get(row.fields.clone()).unwrap_or_default();
            let id = series.get(row.series).copied().unwrap_or_default();
            out.add_row(id, row.timestamp, fields.iter().map(|(n, v)| (n.as_ref(), v)));
        }
        out
    }

    /// The rows as owned points, in order.
    pub fn into_points(self) -> Vec<Point> {
        let mut fields = self.fields.into_iter();
        let mut points = Vec::with_capacity(self.rows.len());
        for row in &self.rows {
            let Some(series) = self.series.get(row.series) else { continue };
            let fields: Vec<(String, FieldValue)> =
                fields.by_ref().take(row.fields.len()).map(|(n, v)| (n.into_owned(), v)).collect();
            points.push(Point {
                measurement: series.measurement.to_string(),
                tags: series.tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
                fields,
                timestamp: row.timestamp,
            });
        }
        points
    }
}

/// Parses a request body of line protocol into a [`LineBatch`].
///
/// Timestamps are read in `precision` and stored in nanoseconds. Blank lines
/// and comments are skipped; every other logical line yields either a row or
/// exactly one error. Never panics, whatever the bytes.
pub fn parse_batch(input: &[u8], precision: Precision) -> LineBatch<'_> {
    let mut batch = LineBatch::default();
    let mut scratch = line::Scratch::default();
    // Key sections seen on valid lines → their series.
    let mut seen: HashMap<&[u8], usize, foldhash::fast::RandomState> = HashMap::default();
    let mut pos = 0;
    let mut line_no = 1;
    while pos < input.len() {
        let span = split::next_line(input, pos);
        let content = input.get(span.start..span.end).unwrap_or_default();
        let first_field = batch.fields.len();
        let parsed = line::parse_line(content, precision, &mut scratch, &|k| seen.contains_key(k), &mut batch.fields);
        match parsed {
            Ok(Some(parsed)) => {
                let series = match parsed.key {
                    Some(Key { measurement, tags }) => {
                        batch.series.push(LineSeries { measurement, tags });
                        let id = batch.series.len() - 1;
                        seen.insert(parsed.key_raw, id);
                        id
                    }
                    None => seen.get(parsed.key_raw).copied().unwrap_or_default(),
                };
                batch.rows.push(LineRow {
                    series,
                    fields: first_field..batch.fields.len(),
                    timestamp: parsed.timestamp,
                });
                batch.line_numbers.push(line_no);
            }
            Ok(None) => {}
            Err(fail) => {
                batch.fields.truncate(first_field);
                batch.errors.push(line_error(content, line_no, fail));
            }
        }
        line_no += span.newlines + 1;
        // `next_line` always advances; the `max` makes that self-evident.
        pos = span.next.max(pos + 1);
    }
    batch
}
