//! [`WriteRows`]: the points of one write as borrowed rows grouped by series,
//! the form the store's write path takes.
//!
//! Why not `&[Point]`: a [`Point`] owns every name it holds, and a write
//! request of TSBS-shaped line protocol spent most of its CPU time making and
//! freeing those strings (31 per line) and rebuilding the same series key for
//! every line. Here the names are borrowed (from the request body, or from
//! caller-owned points), each distinct series appears once with its key built
//! once, and rows point at it, so the store resolves a series id once per
//! series and per write instead of once per point. [`WriteRows::from_points`]
//! keeps `&[Point]` callers on the same path.

use std::collections::HashMap;
use std::ops::Range;

use crate::model::{series_key_of, FieldValue, Point};

/// One distinct series of a write.
#[derive(Debug, Clone)]
pub struct RowSeries<'a> {
    /// Measurement name.
    pub measurement: &'a str,
    /// Tag pairs, sorted by key, keys unique.
    pub tags: Vec<(&'a str, &'a str)>,
    /// The canonical series key ([`crate::model::series_key`]).
    pub key: String,
}

/// One row (point) of a write.
#[derive(Debug, Clone)]
struct Row {
    /// Index into [`WriteRows::series`].
    series: usize,
    /// Range of [`WriteRows::fields`].
    fields: Range<usize>,
    /// Nanoseconds since the epoch, or `None` for the write's "now".
    timestamp: Option<i64>,
}

/// The points of one write, borrowed and grouped by series. Build it with
/// [`WriteRows::add_series`] and [`WriteRows::add_row`], or from points.
#[derive(Debug, Clone, Default)]
pub struct WriteRows<'a> {
    series: Vec<RowSeries<'a>>,
    rows: Vec<Row>,
    fields: Vec<(&'a str, &'a FieldValue)>,
}

/// A view of one row: its series, fields and timestamp.
#[derive(Debug, Clone, Copy)]
pub struct RowRef<'r, 'a> {
    /// Index of the row's series in this write ([`WriteRows::series`]).
    pub series_index: usize,
    /// The row's series.
    pub series: &'r RowSeries<'a>,
    /// Field pairs, names unique, at least one.
    pub fields: &'r [(&'a str, &'a FieldValue)],
    /// Nanoseconds since the epoch, or `None` for the write's "now".
    pub timestamp: Option<i64>,
}

impl<'a> WriteRows<'a> {
    /// An empty write with room for `rows` rows of about `fields_per_row` fields.
    pub fn with_capacity(rows: usize, fields_per_row: usize) -> WriteRows<'a> {
        WriteRows {
            series: Vec::new(),
            rows: Vec::with_capacity(rows),
            fields: Vec::with_capacity(rows.saturating_mul(fields_per_row)),
        }
    }

    /// The rows of `points`, in order; points of one series share one entry.
    pub fn from_points(points: &'a [Point]) -> WriteRows<'a> {
        let mut rows = WriteRows::with_capacity(points.len(), points.first().map_or(0, |p| p.fields.len()));
        let mut seen: HashMap<String, usize> = HashMap::new();
        for p in points {
            let key = p.series_key();
            let series = match seen.get(&key) {
                Some(&i) => i,
                None => {
                    let tags = p.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                    let i = rows.add_series_keyed(&p.measurement, tags, key.clone());
                    seen.insert(key, i);
                    i
                }
            };
            rows.add_row(series, p.timestamp, p.fields.iter().map(|(n, v)| (n.as_str(), v)));
        }
        rows
    }

    /// Adds a series (tags sorted by key, keys unique), building its
    /// canonical key; returns its index.
    pub fn add_series(&mut self, measurement: &'a str, tags: Vec<(&'a str, &'a str)>) -> usize {
        let key = series_key_of(measurement, tags.iter().copied());
        self.add_series_keyed(measurement, tags, key)
    }

    /// [`WriteRows::add_series`] when the caller already has the canonical key.
    fn add_series_keyed(&mut self, measurement: &'a str, tags: Vec<(&'a str, &'a str)>, key: String) -> usize {
        self.series.push(RowSeries { measurement, tags, key });
        self.series.len() - 1
    }

    /// Adds a row of series `series` (an index [`WriteRows::add_series`]
    /// returned); field names must be unique.
    pub fn add_row(
        &mut self,
        series: usize,
        timestamp: Option<i64>,
        fields: impl IntoIterator<Item = (&'a str, &'a FieldValue)>,
    ) {
        let start = self.fields.len();
        self.fields.extend(fields);
        self.rows.push(Row { series, fields: start..self.fields.len(), timestamp });
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The distinct series, in order of first appearance.
    pub fn series(&self) -> &[RowSeries<'a>] {
        &self.series
    }

    /// Row `i`, if there is one (and its series index is valid).
    pub fn row(&self, i: usize) -> Option<RowRef<'_, 'a>> {
        let row = self.rows.get(i)?;
        Some(RowRef {
            series_index: row.series,
            series: self.series.get(row.series)?,
            fields: self.fields.get(row.fields.clone())?,
            timestamp: row.timestamp,
        })
    }

    /// The rows, in order.
    pub fn iter(&self) -> impl Iterator<Item = RowRef<'_, 'a>> + '_ {
        (0..self.rows.len()).filter_map(|i| self.row(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(host: &str, v: f64, ts: i64) -> Point {
        Point {
            measurement: "cpu".into(),
            tags: vec![("host".into(), host.into())],
            fields: vec![("v".into(), FieldValue::Float(v))],
            timestamp: Some(ts),
        }
    }

    #[test]
    fn points_of_one_series_share_an_entry() {
        let points = vec![point("a", 1.0, 1), point("b", 2.0, 1), point("a", 3.0, 2)];
        let rows = WriteRows::from_points(&points);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows.series().len(), 2);
        let keys: Vec<&str> = rows.iter().map(|r| r.series.key.as_str()).collect();
        assert_eq!(keys, ["cpu,host=a", "cpu,host=b", "cpu,host=a"]);
        let third = rows.row(2).map(|r| (r.series_index, r.fields.to_vec(), r.timestamp));
        assert_eq!(third, Some((0, vec![("v", &FieldValue::Float(3.0))], Some(2))));
        assert!(rows.row(3).is_none());
    }

    #[test]
    fn built_keys_are_canonical() {
        let mut rows = WriteRows::default();
        let s = rows.add_series("m m", vec![("a", "x,y"), ("b", "1")]);
        assert_eq!(rows.series()[s].key, "m\\ m,a=x\\,y,b=1");
    }
}
