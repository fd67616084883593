//! Row-level operations on columnar runs ([`Block`]s): trimming to a time
//! range, splitting by window, and merging runs with last-write-wins.
//!
//! Why here: sealing (head → blocks) and reading (blocks + head → one series)
//! both need the same merge, so it lives once, on the in-memory `Block` type.
//! A run whose timestamps are strictly increasing and that does not overlap
//! the others is passed through or concatenated without any per-row work;
//! only genuinely overlapping or out-of-order data pays for a sort.

use crate::block::{Block, Column, ColumnData};

use super::api::TimeRange;

/// Whether `ts` is strictly increasing.
pub(crate) fn strictly_increasing(ts: &[i64]) -> bool {
    ts.windows(2).all(|w| w[0] < w[1])
}

/// Appends values of `src` selected by `rows` (row indices into a column whose
/// presence is `presence`) onto a builder.
struct ColumnBuilder {
    name: String,
    data: ColumnData,
    /// Rows pushed so far.
    rows: usize,
    /// One flag per row, kept only once a row lacks a value (a dense
    /// column, the common case, never builds or scans it).
    presence: Option<Vec<bool>>,
}

impl ColumnBuilder {
    fn new(name: &str, like: &ColumnData) -> Self {
        ColumnBuilder { name: name.to_string(), data: empty_like(like), rows: 0, presence: None }
    }

    /// A builder that will take `rows` rows, with room reserved for them.
    fn with_capacity(name: &str, like: &ColumnData, rows: usize) -> Self {
        let mut b = ColumnBuilder::new(name, like);
        reserve(&mut b.data, rows);
        b
    }

    /// Records whether the next row has a value.
    fn push_presence(&mut self, present: bool) {
        match &mut self.presence {
            Some(p) => p.push(present),
            None if present => {}
            None => {
                let mut p = vec![true; self.rows];
                p.push(false);
                self.presence = Some(p);
            }
        }
        self.rows += 1;
    }

    fn push_null(&mut self) {
        self.push_presence(false);
    }

    /// Pushes `src[value_index]`; a type mismatch (impossible for data the
    /// store checked) is treated as absent rather than trusted.
    fn push_from(&mut self, src: &ColumnData, value_index: usize) {
        let ok = push_value(&mut self.data, src, value_index);
        self.push_presence(ok);
    }

    /// Appends `rows` rows, every one with a value, from `src` (all of it);
    /// false (nothing appended) if the variants differ.
    fn extend_dense(&mut self, src: &ColumnData, rows: usize) -> bool {
        if !extend_all(&mut self.data, src) {
            return false;
        }
        if let Some(p) = &mut self.presence {
            p.extend(std::iter::repeat_n(true, rows));
        }
        self.rows += rows;
        true
    }

    /// Appends `rows` rows without a value.
    fn extend_absent(&mut self, rows: usize) {
        let done = self.rows;
        self.presence.get_or_insert_with(|| vec![true; done]).extend(std::iter::repeat_n(false, rows));
        self.rows += rows;
    }

    fn finish(self) -> Column {
        let presence = self.presence.filter(|p| !p.iter().all(|present| *present));
        Column { name: self.name, data: self.data, presence }
    }
}

/// Reserves room for `more` values.
fn reserve(data: &mut ColumnData, more: usize) {
    match data {
        ColumnData::Float(v) => v.reserve(more),
        ColumnData::Integer(v) => v.reserve(more),
        ColumnData::Unsigned(v) => v.reserve(more),
        ColumnData::Boolean(v) => v.reserve(more),
        ColumnData::String(v) => v.reserve(more),
    }
}

/// An empty `ColumnData` of the same variant.
pub(crate) fn empty_like(like: &ColumnData) -> ColumnData {
    match like {
        ColumnData::Float(_) => ColumnData::Float(Vec::new()),
        ColumnData::Integer(_) => ColumnData::Integer(Vec::new()),
        ColumnData::Unsigned(_) => ColumnData::Unsigned(Vec::new()),
        ColumnData::Boolean(_) => ColumnData::Boolean(Vec::new()),
        ColumnData::String(_) => ColumnData::String(Vec::new()),
    }
}

/// Pushes `src[i]` onto `dst`; false if the variants differ or `i` is out of range.
pub(crate) fn push_value(dst: &mut ColumnData, src: &ColumnData, i: usize) -> bool {
    match (dst, src) {
        (ColumnData::Float(d), ColumnData::Float(s)) => s.get(i).map(|v| d.push(*v)).is_some(),
        (ColumnData::Integer(d), ColumnData::Integer(s)) => s.get(i).map(|v| d.push(*v)).is_some(),
        (ColumnData::Unsigned(d), ColumnData::Unsigned(s)) => s.get(i).map(|v| d.push(*v)).is_some(),
        (ColumnData::Boolean(d), ColumnData::Boolean(s)) => s.get(i).map(|v| d.push(*v)).is_some(),
        (ColumnData::String(d), ColumnData::String(s)) => s.get(i).map(|v| d.push(v.clone())).is_some(),
        _ => false,
    }
}

/// For each row, the index of its value in `column.data` (or `None`).
fn value_indices(column: &Column, rows: usize) -> Vec<Option<usize>> {
    match &column.presence {
        None => (0..rows).map(Some).collect(),
        Some(p) => {
            let mut next = 0;
            p.iter()
                .map(|present| {
                    if *present {
                        next += 1;
                        Some(next - 1)
                    } else {
                        None
                    }
                })
                .collect()
        }
    }
}

/// Keeps the rows whose index satisfies `keep`, in order.
pub(crate) fn select_rows(block: &Block, rows: &[usize]) -> Block {
    let n = block.timestamps.len();
    let timestamps = rows.iter().map(|&r| block.timestamps[r]).collect();
    let columns = block
        .columns
        .iter()
        .map(|c| {
            let idx = value_indices(c, n);
            let mut b = ColumnBuilder::new(&c.name, &c.data);
            for &r in rows {
                match idx.get(r).copied().flatten() {
                    Some(vi) => b.push_from(&c.data, vi),
                    None => b.push_null(),
                }
            }
            b.finish()
        })
        .filter(|c| !c.data.is_empty())
        .collect();
    Block { timestamps, columns }
}

/// The rows of `block` inside `range`. Cheap when the block is sorted (as
/// sealed blocks are): the rows in range are one slice, cut in place.
pub(crate) fn trim_to_range(mut block: Block, range: TimeRange) -> Block {
    if block.timestamps.iter().all(|t| range.contains(*t)) {
        return block;
    }
    if strictly_increasing(&block.timestamps) {
        let start = block.timestamps.partition_point(|&t| t < range.start);
        let end = block.timestamps.partition_point(|&t| t <= range.end).max(start);
        keep_row_slice(&mut block, start..end);
        return block;
    }
    let rows: Vec<usize> = (0..block.timestamps.len()).filter(|&r| range.contains(block.timestamps[r])).collect();
    select_rows(&block, &rows)
}

/// Keeps rows `rows` of `block` (in bounds), in place: what
/// [`select_rows`] gives for those row numbers, without copying into new
/// columns.
fn keep_row_slice(block: &mut Block, rows: std::ops::Range<usize>) {
    for column in &mut block.columns {
        let values = match &column.presence {
            None => rows.clone(),
            Some(p) => value_range(p, rows.clone()),
        };
        keep_slice_of(&mut column.data, values);
        if let Some(p) = &mut column.presence {
            keep_slice(p, rows.clone());
        }
        if column.presence.as_ref().is_some_and(|p| p.iter().all(|x| *x)) {
            column.presence = None;
        }
    }
    keep_slice(&mut block.timestamps, rows);
    block.columns.retain(|c| !c.data.is_empty());
}

/// The values of rows `rows` of a column with presence flags `presence`:
/// values are stored for present rows only, so they are one contiguous
/// range of the column's data.
pub(crate) fn value_range(presence: &[bool], rows: std::ops::Range<usize>) -> std::ops::Range<usize> {
    let count = |part: Option<&[bool]>| part.unwrap_or_default().iter().filter(|present| **present).count();
    let first = count(presence.get(..rows.start));
    first..first + count(presence.get(rows))
}

/// Keeps `range` of `v` (clamped to its length), in place.
fn keep_slice<T>(v: &mut Vec<T>, range: std::ops::Range<usize>) {
    v.truncate(range.end);
    v.drain(..range.start.min(v.len()));
}

/// Keeps values `range` of a column, in place.
fn keep_slice_of(data: &mut ColumnData, range: std::ops::Range<usize>) {
    match data {
        ColumnData::Float(v) => keep_slice(v, range),
        ColumnData::Integer(v) => keep_slice(v, range),
        ColumnData::Unsigned(v) => keep_slice(v, range),
        ColumnData::Boolean(v) => keep_slice(v, range),
        ColumnData::String(v) => keep_slice(v, range),
    }
}

/// Concatenates runs that are each strictly increasing and ordered without
/// overlap (`runs[i]` ends before `runs[i+1]` starts).
fn concat(runs: Vec<Block>) -> Block {
    let total: usize = runs.iter().map(|r| r.timestamps.len()).sum();
    let mut names: Vec<(String, ColumnData)> = Vec::new();
    for r in &runs {
        for c in &r.columns {
            if !names.iter().any(|(n, _)| n == &c.name) {
                names.push((c.name.clone(), empty_like(&c.data)));
            }
        }
    }
    let mut timestamps = Vec::with_capacity(total);
    let mut builders: Vec<ColumnBuilder> =
        names.iter().map(|(n, d)| ColumnBuilder::with_capacity(n, d, total)).collect();
    for r in &runs {
        let rows = r.timestamps.len();
        timestamps.extend_from_slice(&r.timestamps);
        for (bi, b) in builders.iter_mut().enumerate() {
            // Runs usually hold the same columns in the same order.
            let column = match r.columns.get(bi) {
                Some(c) if c.name == b.name => Some(c),
                _ => r.columns.iter().find(|c| c.name == b.name),
            };
            match column {
                Some(c) if c.presence.is_none() && b.extend_dense(&c.data, rows) => {}
                Some(c) => {
                    for vi in value_indices(c, rows) {
                        match vi {
                            Some(i) => b.push_from(&c.data, i),
                            None => b.push_null(),
                        }
                    }
                }
                None => b.extend_absent(rows),
            }
        }
    }
    Block { timestamps, columns: builders.into_iter().map(ColumnBuilder::finish).collect() }
}

/// Appends all of `src` to `dst` when the variants match.
fn extend_all(dst: &mut ColumnData, src: &ColumnData) -> bool {
    match (dst, src) {
        (ColumnData::Float(d), ColumnData::Float(s)) => d.extend_from_slice(s),
        (ColumnData::Integer(d), ColumnData::Integer(s)) => d.extend_from_slice(s),
        (ColumnData::Unsigned(d), ColumnData::Unsigned(s)) => d.extend_from_slice(s),
        (ColumnData::Boolean(d), ColumnData::Boolean(s)) => d.extend_from_slice(s),
        (ColumnData::String(d), ColumnData::String(s)) => d.extend_from_slice(s),
        _ => return false,
    }
    true
}

/// Merges runs into one with strictly increasing timestamps. `runs` are in
/// recency order (oldest first; rows within a run in arrival order): for an
/// identical timestamp, each field takes its most recent present value —
/// InfluxDB's last-write-wins, field by field.
pub(crate) fn merge_runs(runs: Vec<Block>) -> Block {
    match in_time_order(runs) {
        Ok(mut ordered) if ordered.len() <= 1 => {
            ordered.pop().unwrap_or(Block { timestamps: Vec::new(), columns: Vec::new() })
        }
        Ok(ordered) => concat(ordered),
        Err(runs) => general_merge(&runs),
    }
}

/// The non-empty runs in time order, when each is strictly increasing and
/// none overlaps another (then they need no merge, only concatenating);
/// otherwise the non-empty runs as they came, in recency order.
///
/// Why: sealed blocks of a series are disjoint windows, so a read of
/// blocks alone (no head overlapping them) is this case, and a consumer
/// that can take the runs one by one skips copying them into one.
pub(crate) fn in_time_order(mut runs: Vec<Block>) -> Result<Vec<Block>, Vec<Block>> {
    runs.retain(|r| !r.timestamps.is_empty());
    if !runs.iter().all(|r| strictly_increasing(&r.timestamps)) {
        return Err(runs);
    }
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by_key(|&i| runs[i].timestamps[0]);
    let disjoint = order.windows(2).all(|w| {
        let a = &runs[w[0]].timestamps;
        let b = &runs[w[1]].timestamps;
        a[a.len() - 1] < b[0]
    });
    if !disjoint {
        return Err(runs);
    }
    let mut slots: Vec<Option<Block>> = runs.into_iter().map(Some).collect();
    Ok(order.iter().filter_map(|&i| slots[i].take()).collect())
}

/// A run's column with, for each row, the index of its value (if present).
type SourceColumn<'a> = (&'a Column, Vec<Option<usize>>);

fn general_merge(runs: &[Block]) -> Block {
    // (timestamp, run, row): sorting by all three puts the most recent write
    // of a timestamp last in its group.
    let mut entries: Vec<(i64, u32, u32)> = Vec::new();
    for (ri, r) in runs.iter().enumerate() {
        for (row, t) in r.timestamps.iter().enumerate() {
            entries.push((*t, ri as u32, row as u32));
        }
    }
    entries.sort_unstable();

    let mut names: Vec<(String, ColumnData)> = Vec::new();
    for r in runs {
        for c in &r.columns {
            if !names.iter().any(|(n, _)| n == &c.name) {
                names.push((c.name.clone(), empty_like(&c.data)));
            }
        }
    }
    // Per run, per output column: the source column and its row → value map.
    let lookup: Vec<Vec<Option<SourceColumn>>> = runs
        .iter()
        .map(|r| {
            names
                .iter()
                .map(|(n, _)| {
                    r.columns.iter().find(|c| &c.name == n).map(|c| (c, value_indices(c, r.timestamps.len())))
                })
                .collect()
        })
        .collect();

    let mut timestamps = Vec::new();
    let mut builders: Vec<ColumnBuilder> = names.iter().map(|(n, d)| ColumnBuilder::new(n, d)).collect();
    let mut i = 0;
    while i < entries.len() {
        let t = entries[i].0;
        let mut j = i;
        while j < entries.len() && entries[j].0 == t {
            j += 1;
        }
        timestamps.push(t);
        for (ci, b) in builders.iter_mut().enumerate() {
            let winner = entries[i..j].iter().rev().find_map(|&(_, ri, row)| {
                let (col, idx) = lookup[ri as usize][ci].as_ref()?;
                idx[row as usize].map(|vi| (*col, vi))
            });
            match winner {
                Some((col, vi)) => b.push_from(&col.data, vi),
                None => b.push_null(),
            }
        }
        i = j;
    }
    Block { timestamps, columns: builders.into_iter().map(ColumnBuilder::finish).collect() }
}

/// Floor of `t` to a multiple of `window` (towards negative infinity).
pub(crate) fn window_start(t: i64, window: i64) -> i64 {
    t.div_euclid(window).saturating_mul(window)
}

/// Splits a sorted block into `(window_start, rows)` pieces.
pub(crate) fn split_by_window(block: &Block, window: i64) -> Vec<(i64, Block)> {
    let mut out = Vec::new();
    let ts = &block.timestamps;
    let mut start = 0;
    while start < ts.len() {
        let w = window_start(ts[start], window);
        let mut end = start + 1;
        while end < ts.len() && window_start(ts[end], window) == w {
            end += 1;
        }
        let rows: Vec<usize> = (start..end).collect();
        if start == 0 && end == ts.len() {
            out.push((w, block.clone()));
        } else {
            out.push((w, select_rows(block, &rows)));
        }
        start = end;
    }
    out
}

/// Splits a block into pieces of at most `max_rows` rows, in order.
pub(crate) fn split_by_rows(block: Block, max_rows: usize) -> Vec<Block> {
    let n = block.timestamps.len();
    if n <= max_rows || max_rows == 0 {
        return vec![block];
    }
    (0..n)
        .step_by(max_rows)
        .map(|start| select_rows(&block, &(start..(start + max_rows).min(n)).collect::<Vec<_>>()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ts: &[i64], name: &str, vals: &[Option<f64>]) -> Block {
        let data: Vec<f64> = vals.iter().flatten().copied().collect();
        let presence =
            if vals.iter().all(|v| v.is_some()) { None } else { Some(vals.iter().map(|v| v.is_some()).collect()) };
        Block {
            timestamps: ts.to_vec(),
            columns: vec![Column { name: name.into(), data: ColumnData::Float(data), presence }],
        }
    }

    #[test]
    fn last_write_wins_per_field() {
        let a = run(&[1, 2, 3], "v", &[Some(1.0), Some(2.0), Some(3.0)]);
        let b = run(&[2, 0], "v", &[Some(20.0), None]);
        let c = run(&[2], "w", &[Some(7.0)]);
        let m = merge_runs(vec![a, b, c]);
        assert_eq!(m.timestamps, vec![0, 1, 2, 3]);
        let v = m.columns.iter().find(|c| c.name == "v").unwrap();
        assert_eq!(v.data, ColumnData::Float(vec![1.0, 20.0, 3.0]));
        assert_eq!(v.presence, Some(vec![false, true, true, true]));
        let w = m.columns.iter().find(|c| c.name == "w").unwrap();
        assert_eq!(w.presence, Some(vec![false, false, true, false]));
    }

    #[test]
    fn disjoint_runs_concatenate_in_time_order() {
        let a = run(&[10, 11], "v", &[Some(1.0), Some(2.0)]);
        let b = run(&[1, 2], "v", &[Some(3.0), None]);
        let m = merge_runs(vec![a, b]);
        assert_eq!(m.timestamps, vec![1, 2, 10, 11]);
        assert_eq!(m.columns[0].data, ColumnData::Float(vec![3.0, 1.0, 2.0]));
        assert_eq!(m.columns[0].presence, Some(vec![true, false, true, true]));
    }

    #[test]
    fn dense_blocks_split_by_rows() {
        let b = run(&[1, 2, 3, 4, 5], "v", &[Some(1.0), None, Some(3.0), Some(4.0), None]);
        let parts = split_by_rows(b, 2);
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[1].timestamps, vec![3, 4]);
        assert_eq!(parts[1].columns[0].data, ColumnData::Float(vec![3.0, 4.0]));
        assert!(parts[2].columns.is_empty());
        assert_eq!(merge_runs(parts).timestamps, vec![1, 2, 3, 4, 5]);
    }

    #[test]
    fn windows_split_and_trim() {
        let b = run(&[-5, 0, 9, 10, 25], "v", &[Some(1.0), Some(2.0), None, Some(4.0), Some(5.0)]);
        let parts = split_by_window(&b, 10);
        let starts: Vec<i64> = parts.iter().map(|p| p.0).collect();
        assert_eq!(starts, vec![-10, 0, 10, 20]);
        assert_eq!(parts[1].1.timestamps, vec![0, 9]);
        let t = trim_to_range(b, TimeRange { start: 0, end: 10 });
        assert_eq!(t.timestamps, vec![0, 9, 10]);
        assert_eq!(t.columns[0].data, ColumnData::Float(vec![2.0, 4.0]));
    }

    /// A generated row: time step and two optional values.
    type GenRow = (i64, Option<i32>, Option<i32>);

    proptest::proptest! {
        /// Trimming a sorted block in place keeps exactly the rows (and
        /// drops exactly the columns) that picking the rows in range does.
        #[test]
        fn sorted_blocks_trim_in_place_as_rows_are_picked(
            rows in proptest::collection::vec((1i64..4, proptest::option::of(-9i32..9), proptest::option::of(-9i32..9)), 0..40),
            start in -5i64..100,
            len in -3i64..100,
        ) {
            let mut t = 0;
            let timestamps: Vec<i64> = rows.iter().map(|r| { t += r.0; t }).collect();
            let column = |name: &str, pick: fn(&GenRow) -> Option<i32>| {
                let values: Vec<Option<i32>> = rows.iter().map(pick).collect();
                let all = values.iter().all(Option::is_some);
                Column {
                    name: name.into(),
                    data: ColumnData::Float(values.iter().flatten().map(|&x| f64::from(x)).collect()),
                    presence: (!all).then(|| values.iter().map(Option::is_some).collect()),
                }
            };
            let block = Block { timestamps, columns: vec![column("a", |r| r.1), column("b", |r| r.2)] };
            let range = TimeRange { start, end: start + len };
            let picked: Vec<usize> = (0..block.timestamps.len()).filter(|&r| range.contains(block.timestamps[r])).collect();
            let expected = if picked.len() == block.timestamps.len() { block.clone() } else { select_rows(&block, &picked) };
            proptest::prop_assert_eq!(trim_to_range(block, range), expected);
        }
    }
}
