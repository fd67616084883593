//! Columnar series data back to line protocol, one line per row.
//!
//! A row becomes one line carrying every field present at that timestamp,
//! in field-key order;
//! serialization itself (escaping, number formats) is the engine's
//! [`write_point`], so an export reads back exactly as it was written.

use augur_engine::block::{Column, ColumnData};
use augur_engine::lineproto::write_point;
use augur_engine::model::{FieldValue, Point};
use augur_engine::storage::SeriesData;

/// Appends one line per row of `data` to `out` (rows with no writable field
/// are skipped); returns the number of lines written.
pub fn series(out: &mut String, data: &SeriesData) -> usize {
    let mut point = Point {
        measurement: data.series.measurement.clone(),
        tags: data.series.tags.clone(),
        fields: Vec::with_capacity(data.columns.len()),
        timestamp: None,
    };
    let mut cursors: Vec<ColumnCursor<'_>> = data.columns.iter().map(ColumnCursor::new).collect();
    // Fields in key order, as InfluxDB writes them: stable output to diff.
    cursors.sort_by(|a, b| a.column.name.cmp(&b.column.name));
    let mut lines = 0;
    for (row, &ts) in data.timestamps.iter().enumerate() {
        point.fields.clear();
        for cursor in &mut cursors {
            if let Some(value) = cursor.value_at(row) {
                point.fields.push((cursor.column.name.clone(), value));
            }
        }
        if point.fields.is_empty() {
            continue;
        }
        point.timestamp = Some(ts);
        let before = out.len();
        write_point(out, &point);
        // A row whose only values are non-finite floats writes nothing;
        // end every written line with exactly one newline.
        if out.len() > before {
            if !out.ends_with('\n') {
                out.push('\n');
            }
            lines += 1;
        }
    }
    lines
}

/// Walks a column row by row, mapping rows to its present values.
struct ColumnCursor<'a> {
    column: &'a Column,
    next_value: usize,
}

impl<'a> ColumnCursor<'a> {
    fn new(column: &'a Column) -> Self {
        ColumnCursor { column, next_value: 0 }
    }

    /// The value at `row` (rows must be visited in order), or `None` if the
    /// row has none. Inconsistent columns yield `None`, never a panic.
    fn value_at(&mut self, row: usize) -> Option<FieldValue> {
        let index = match &self.column.presence {
            None => row,
            Some(presence) => {
                if !presence.get(row).copied().unwrap_or(false) {
                    return None;
                }
                let index = self.next_value;
                self.next_value += 1;
                index
            }
        };
        match &self.column.data {
            ColumnData::Float(v) => v.get(index).map(|x| FieldValue::Float(*x)),
            ColumnData::Integer(v) => v.get(index).map(|x| FieldValue::Integer(*x)),
            ColumnData::Unsigned(v) => v.get(index).map(|x| FieldValue::Unsigned(*x)),
            ColumnData::Boolean(v) => v.get(index).map(|x| FieldValue::Boolean(*x)),
            ColumnData::String(v) => v.get(index).map(|x| FieldValue::String(x.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_engine::storage::SeriesInfo;

    #[test]
    fn rows_with_sparse_columns() {
        let data = SeriesData {
            series: SeriesInfo {
                id: 1,
                key: "cpu,host=a".into(),
                measurement: "cpu".into(),
                tags: vec![("host".into(), "a".into())],
            },
            timestamps: vec![10, 20, 30],
            columns: vec![
                Column { name: "usage".into(), data: ColumnData::Float(vec![1.5, 2.0, 3.25]), presence: None },
                Column {
                    name: "state".into(),
                    data: ColumnData::String(vec!["ok".into()]),
                    presence: Some(vec![false, true, false]),
                },
                Column {
                    name: "n".into(),
                    // Inconsistent with presence: must not panic.
                    data: ColumnData::Integer(vec![]),
                    presence: Some(vec![true, false, false]),
                },
            ],
        };
        let mut out = String::new();
        assert_eq!(series(&mut out, &data), 3);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "cpu,host=a usage=1.5 10");
        assert_eq!(lines[1], "cpu,host=a state=\"ok\",usage=2 20");
        assert_eq!(lines[2], "cpu,host=a usage=3.25 30");
    }
}
