//! The head: recent points per series, in memory, columnar.
//!
//! Why columnar in memory too: sealing turns a series' head straight into a
//! block (sort only if points arrived out of order), and reads slice it
//! without reshaping. Points are appended in arrival order, so for an
//! identical timestamp the later row is the later write (last write wins at
//! merge time). The map is striped by series id so concurrent writers rarely
//! contend on one lock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

use crate::block::{Block, Column, ColumnData};
use crate::model::FieldValue;

use super::api::TimeRange;
use super::rows;

const STRIPES: usize = 64;

/// One field's values in a series' head.
pub(crate) struct HeadColumn {
    name: String,
    data: ColumnData,
    presence: Vec<bool>,
}

/// A series' points in the head.
#[derive(Default)]
pub(crate) struct HeadSeries {
    timestamps: Vec<i64>,
    columns: Vec<HeadColumn>,
    /// Whether `timestamps` is strictly increasing (then reads need no sort).
    out_of_order: bool,
}

fn data_for(v: &FieldValue) -> ColumnData {
    match v {
        FieldValue::Float(_) => ColumnData::Float(Vec::new()),
        FieldValue::Integer(_) => ColumnData::Integer(Vec::new()),
        FieldValue::Unsigned(_) => ColumnData::Unsigned(Vec::new()),
        FieldValue::Boolean(_) => ColumnData::Boolean(Vec::new()),
        FieldValue::String(_) => ColumnData::String(Vec::new()),
    }
}

/// Pushes `v` onto `data` if the types match.
fn push(data: &mut ColumnData, v: &FieldValue) -> bool {
    match (data, v) {
        (ColumnData::Float(d), FieldValue::Float(x)) => d.push(*x),
        (ColumnData::Integer(d), FieldValue::Integer(x)) => d.push(*x),
        (ColumnData::Unsigned(d), FieldValue::Unsigned(x)) => d.push(*x),
        (ColumnData::Boolean(d), FieldValue::Boolean(x)) => d.push(*x),
        (ColumnData::String(d), FieldValue::String(x)) => d.push(x.clone()),
        _ => return false,
    }
    true
}

impl HeadSeries {
    /// Appends a row; returns the number of field values stored.
    pub(crate) fn append<'a>(&mut self, ts: i64, fields: impl Iterator<Item = (&'a str, &'a FieldValue)>) -> usize {
        let row = self.timestamps.len();
        if let Some(&last) = self.timestamps.last() {
            if ts <= last {
                self.out_of_order = true;
            }
        }
        self.timestamps.push(ts);
        let mut stored = 0;
        for (pos, (name, value)) in fields.enumerate() {
            // Fields usually arrive in the same order as the columns.
            let hinted = self.columns.get(pos).is_some_and(|c| c.name == name);
            let found = if hinted { Some(pos) } else { self.columns.iter().position(|c| c.name == name) };
            let ci = match found {
                Some(i) => i,
                None => {
                    self.columns.push(HeadColumn {
                        name: name.to_string(),
                        data: data_for(value),
                        presence: vec![false; row],
                    });
                    self.columns.len() - 1
                }
            };
            let col = &mut self.columns[ci];
            if col.presence.len() == row && push(&mut col.data, value) {
                col.presence.push(true);
                stored += 1;
            }
        }
        for col in &mut self.columns {
            if col.presence.len() == row {
                col.presence.push(false);
            }
        }
        stored
    }

    /// Removes the rows whose timestamp lies in `range` (a `DELETE`);
    /// returns the number of field values removed.
    pub(crate) fn remove_range(&mut self, range: TimeRange) -> usize {
        let keep: Vec<bool> = self.timestamps.iter().map(|t| !range.contains(*t)).collect();
        if keep.iter().all(|k| *k) {
            return 0;
        }
        let mut removed = 0;
        for col in &mut self.columns {
            let mut data = rows::empty_like(&col.data);
            let mut presence = Vec::with_capacity(col.presence.len());
            let mut value = 0;
            for (row, present) in col.presence.iter().enumerate() {
                let kept = keep.get(row).copied().unwrap_or(true);
                if *present {
                    if kept {
                        rows::push_value(&mut data, &col.data, value);
                    } else {
                        removed += 1;
                    }
                    value += 1;
                }
                if kept {
                    presence.push(*present);
                }
            }
            col.data = data;
            col.presence = presence;
        }
        let mut row = 0;
        self.timestamps.retain(|_| {
            row += 1;
            keep[row - 1]
        });
        self.columns.retain(|c| c.presence.iter().any(|p| *p));
        removed
    }

    /// Whether any row lies outside `range`.
    pub(crate) fn has_rows_outside(&self, range: TimeRange) -> bool {
        self.timestamps.iter().any(|t| !range.contains(*t))
    }

    /// Sorts the rows by time in place, merging repeated timestamps (last
    /// write wins, field by field); returns how many field values the
    /// merge dropped. Nothing to do for rows that arrived in order.
    ///
    /// Why: rows from several writers at once arrive out of order, and
    /// every read of such a head scans all its timestamps (twice for a
    /// newest-first read) and sorts the rows it keeps. Sorted once (see
    /// [`HeadMap::sort_unsorted`]), later reads slice by binary search
    /// until a write brings disorder again.
    pub(crate) fn sort_rows(&mut self) -> usize {
        if !self.out_of_order {
            return 0;
        }
        let before: usize = self.columns.iter().map(|c| c.data.len()).sum();
        // The same sort and merge as any read of the whole series.
        let block = self.to_block_unordered(TimeRange::ALL, None);
        let rows = block.timestamps.len();
        self.columns = block
            .columns
            .into_iter()
            .map(|c| HeadColumn {
                presence: c.presence.unwrap_or_else(|| vec![true; rows]),
                name: c.name,
                data: c.data,
            })
            .collect();
        self.timestamps = block.timestamps;
        self.out_of_order = false;
        let after: usize = self.columns.iter().map(|c| c.data.len()).sum();
        before.saturating_sub(after)
    }

    /// The newest timestamp in `range`.
    pub(crate) fn newest_in(&self, range: TimeRange) -> Option<i64> {
        if self.out_of_order {
            return self.timestamps.iter().copied().filter(|&t| range.contains(t)).max();
        }
        let end = self.timestamps.partition_point(|&t| t <= range.end);
        let t = *self.timestamps.get(end.checked_sub(1)?)?;
        (t >= range.start).then_some(t)
    }

    /// The series' rows in `range` (all fields, or those named), sorted and
    /// merged (last write wins).
    pub(crate) fn to_block(&self, range: TimeRange, fields: Option<&[String]>) -> Block {
        if self.out_of_order {
            return self.to_block_unordered(range, fields);
        }
        // In order, the rows in range are one slice: copy only it.
        let rows =
            self.timestamps.partition_point(|&t| t < range.start)..self.timestamps.partition_point(|&t| t <= range.end);
        let columns = self
            .columns
            .iter()
            .filter(|c| fields.is_none_or(|f| f.iter().any(|n| n == &c.name)))
            .map(|c| {
                let presence = c.presence.get(rows.clone()).unwrap_or_default();
                let values = rows::value_range(&c.presence, rows.clone());
                let dense = values.len() == presence.len();
                Column {
                    name: c.name.clone(),
                    data: slice_data(&c.data, values),
                    presence: if dense { None } else { Some(presence.to_vec()) },
                }
            })
            .collect();
        let timestamps = self.timestamps.get(rows).unwrap_or_default().to_vec();
        Block { timestamps, columns }
    }

    /// [`to_block`](Self::to_block) for a head whose points arrived out of
    /// order: picks the rows in range (without copying the others), then
    /// sorts and merges them.
    fn to_block_unordered(&self, range: TimeRange, fields: Option<&[String]>) -> Block {
        let keep: Vec<usize> = (0..self.timestamps.len()).filter(|&i| range.contains(self.timestamps[i])).collect();
        let columns = self
            .columns
            .iter()
            .filter(|c| fields.is_none_or(|f| f.iter().any(|n| n == &c.name)))
            .map(|c| {
                if c.data.len() == self.timestamps.len() && c.presence.len() == self.timestamps.len() {
                    // Dense: every row has a value, at the row's own index,
                    // so only the kept rows are touched (a `LIMIT 1` read
                    // of a large head keeps one row of thousands).
                    return Column { name: c.name.clone(), data: gather(&c.data, &keep), presence: None };
                }
                // The value index of each kept row that has one.
                let mut values = Vec::with_capacity(keep.len());
                let mut presence = Vec::with_capacity(keep.len());
                let mut next_kept = keep.iter().peekable();
                let mut value = 0;
                for (row, &present) in c.presence.iter().enumerate() {
                    if next_kept.next_if_eq(&&row).is_some() {
                        presence.push(present);
                        if present {
                            values.push(value);
                        }
                    }
                    value += usize::from(present);
                }
                let all = values.len() == presence.len();
                Column { name: c.name.clone(), data: gather(&c.data, &values), presence: (!all).then_some(presence) }
            })
            .collect();
        let timestamps = keep.iter().map(|&i| self.timestamps[i]).collect();
        rows::merge_runs(vec![Block { timestamps, columns }])
    }
}

/// Values `range` of a column (empty where out of bounds).
fn slice_data(data: &ColumnData, range: std::ops::Range<usize>) -> ColumnData {
    fn part<T: Clone>(v: &[T], range: std::ops::Range<usize>) -> Vec<T> {
        v.get(range).unwrap_or_default().to_vec()
    }
    match data {
        ColumnData::Float(v) => ColumnData::Float(part(v, range)),
        ColumnData::Integer(v) => ColumnData::Integer(part(v, range)),
        ColumnData::Unsigned(v) => ColumnData::Unsigned(part(v, range)),
        ColumnData::Boolean(v) => ColumnData::Boolean(part(v, range)),
        ColumnData::String(v) => ColumnData::String(part(v, range)),
    }
}

/// The values at `indices` of a column.
fn gather(data: &ColumnData, indices: &[usize]) -> ColumnData {
    fn pick<T: Clone>(v: &[T], indices: &[usize]) -> Vec<T> {
        // Sized up front: `filter_map` gives no exact length to collect by.
        let mut out = Vec::with_capacity(indices.len());
        out.extend(indices.iter().filter_map(|&i| v.get(i).cloned()));
        out
    }
    match data {
        ColumnData::Float(v) => ColumnData::Float(pick(v, indices)),
        ColumnData::Integer(v) => ColumnData::Integer(pick(v, indices)),
        ColumnData::Unsigned(v) => ColumnData::Unsigned(pick(v, indices)),
        ColumnData::Boolean(v) => ColumnData::Boolean(pick(v, indices)),
        ColumnData::String(v) => ColumnData::String(pick(v, indices)),
    }
}

/// A set of series heads: the active head, or a frozen one being sealed.
pub(crate) struct HeadMap {
    stripes: Vec<Mutex<HashMap<u32, HeadSeries>>>,
    values: AtomicUsize,
    /// Series whose rows went out of order since they were last sorted
    /// ([`HeadMap::sort_unsorted`]); an id is added once per such episode.
    unsorted: Mutex<Vec<u32>>,
}

impl Default for HeadMap {
    fn default() -> Self {
        HeadMap {
            stripes: (0..STRIPES).map(|_| Mutex::new(HashMap::new())).collect(),
            values: AtomicUsize::new(0),
            unsorted: Mutex::new(Vec::new()),
        }
    }
}

impl HeadMap {
    /// Appends a row to a series.
    pub(crate) fn append<'a>(&self, series: u32, ts: i64, fields: impl Iterator<Item = (&'a str, &'a FieldValue)>) {
        let mut stripe = self.stripes[series as usize % STRIPES].lock();
        let s = stripe.entry(series).or_default();
        let was_out_of_order = s.out_of_order;
        let n = s.append(ts, fields);
        let went_out_of_order = s.out_of_order && !was_out_of_order;
        drop(stripe);
        self.values.fetch_add(n, Ordering::Relaxed);
        if went_out_of_order {
            self.unsorted.lock().push(series);
        }
    }

    /// Sorts the rows of every series that went out of order since the
    /// last call ([`HeadSeries::sort_rows`]), one series at a time under
    /// its stripe's lock; returns how many series it sorted.
    ///
    /// Why in the background (the store's sealer calls it when idle):
    /// reads of an unsorted head scan all its timestamps and sort what
    /// they keep, every time; sorting in place once makes later reads
    /// binary searches, and doing it off the read path keeps that one-off
    /// cost (a sort and merge of the whole series: ~1 ms per host in the
    /// TSBS head state when a query paid it) out of any query's latency.
    pub(crate) fn sort_unsorted(&self) -> usize {
        let pending = std::mem::take(&mut *self.unsorted.lock());
        let mut sorted = 0;
        for series in pending {
            let mut stripe = self.stripes[series as usize % STRIPES].lock();
            let Some(s) = stripe.get_mut(&series) else { continue };
            let merged = s.sort_rows();
            sorted += 1;
            drop(stripe);
            if merged > 0 {
                self.subtract_values(merged);
            }
        }
        sorted
    }

    /// Field values held.
    pub(crate) fn values(&self) -> usize {
        self.values.load(Ordering::Relaxed)
    }

    /// A series' rows in range, if it has any in the head.
    pub(crate) fn read(&self, series: u32, range: TimeRange, fields: Option<&[String]>) -> Option<Block> {
        let stripe = self.stripes[series as usize % STRIPES].lock();
        let block = stripe.get(&series)?.to_block(range, fields);
        (!block.timestamps.is_empty()).then_some(block)
    }

    /// The newest timestamp a series has in the head within `range`.
    pub(crate) fn newest_in(&self, series: u32, range: TimeRange) -> Option<i64> {
        self.stripes[series as usize % STRIPES].lock().get(&series)?.newest_in(range)
    }

    /// Lowers the count of values held, never below zero.
    fn subtract_values(&self, n: usize) {
        let _ = self.values.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| Some(v.saturating_sub(n)));
    }

    /// Removes the given series (dropped databases).
    pub(crate) fn remove(&self, series: &[u32]) {
        for s in series {
            self.stripes[*s as usize % STRIPES].lock().remove(s);
        }
    }

    /// Removes the rows of `series` inside `range`; series left without rows
    /// are removed from the map.
    pub(crate) fn delete_range(&self, series: &roaring::RoaringBitmap, range: TimeRange) {
        for id in series {
            let mut stripe = self.stripes[id as usize % STRIPES].lock();
            let Some(s) = stripe.get_mut(&id) else { continue };
            let removed = s.remove_range(range);
            if s.timestamps.is_empty() {
                stripe.remove(&id);
            }
            drop(stripe);
            if removed > 0 {
                self.subtract_values(removed);
            }
        }
    }

    /// Whether the series has rows outside `range` here.
    pub(crate) fn has_rows_outside(&self, series: u32, range: TimeRange) -> bool {
        self.stripes[series as usize % STRIPES].lock().get(&series).is_some_and(|s| s.has_rows_outside(range))
    }

    /// Series ids present.
    pub(crate) fn series_ids(&self) -> Vec<u32> {
        let mut ids = Vec::new();
        for stripe in &self.stripes {
            ids.extend(stripe.lock().keys().copied());
        }
        ids
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_fields_and_out_of_order_rows() {
        let h = HeadMap::default();
        let a = FieldValue::Float(1.0);
        let b = FieldValue::Integer(2);
        h.append(1, 10, [("a", &a)].into_iter());
        h.append(1, 5, [("b", &b)].into_iter());
        h.append(1, 10, [("b", &b)].into_iter());
        assert_eq!(h.values(), 3);
        let blk = h.read(1, TimeRange::ALL, None).unwrap();
        assert_eq!(blk.timestamps, vec![5, 10]);
        let ca = blk.columns.iter().find(|c| c.name == "a").unwrap();
        assert_eq!(ca.presence, Some(vec![false, true]));
        let cb = blk.columns.iter().find(|c| c.name == "b").unwrap();
        assert_eq!(cb.data, ColumnData::Integer(vec![2, 2]));
        assert!(h.read(2, TimeRange::ALL, None).is_none());
        assert_eq!(h.read(1, TimeRange::ALL, Some(&["a".to_string()])).unwrap().columns.len(), 1);
    }

    /// What `to_block` gave before it copied only the rows in range: every
    /// row copied, then trimmed, then (out of order) merged.
    fn to_block_by_copying_all(s: &HeadSeries, range: TimeRange) -> Block {
        let columns = s
            .columns
            .iter()
            .map(|c| Column {
                name: c.name.clone(),
                data: c.data.clone(),
                presence: if c.presence.iter().all(|p| *p) { None } else { Some(c.presence.clone()) },
            })
            .collect();
        let block = rows::trim_to_range(Block { timestamps: s.timestamps.clone(), columns }, range);
        if s.out_of_order {
            rows::merge_runs(vec![block])
        } else {
            block
        }
    }

    proptest::proptest! {
        /// Copying only the rows in range reads as copying all and trimming,
        /// in order or not, with sparse fields and rewritten times.
        #[test]
        fn range_reads_copy_only_what_they_return(
            mut rows in proptest::collection::vec((0i64..40, 0u8..4, -5i64..5), 0..60),
            in_order in proptest::prelude::any::<bool>(),
            dense in proptest::prelude::any::<bool>(),
            start in 0i64..45,
            len in 0i64..45,
        ) {
            if dense {
                // Every row has both fields: the dense-column path.
                rows.iter_mut().for_each(|r| r.1 = 2);
            }
            if in_order {
                rows.sort_by_key(|r| r.0);
                rows.dedup_by_key(|r| r.0);
            }
            let append_all = |s: &mut HeadSeries, rows: &[(i64, u8, i64)]| {
                for &(t, which, x) in rows {
                    let (a, b) = (FieldValue::Float(x as f64), FieldValue::Integer(x));
                    match which {
                        0 => s.append(t, [("a", &a)].into_iter()),
                        1 => s.append(t, [("b", &b)].into_iter()),
                        _ => s.append(t, [("a", &a), ("b", &b)].into_iter()),
                    };
                }
            };
            let mut s = HeadSeries::default();
            append_all(&mut s, &rows);
            proptest::prop_assert_eq!(s.out_of_order, !in_order && !rows.windows(2).all(|w| w[0].0 < w[1].0));
            let range = TimeRange { start, end: start + len };
            let expected = to_block_by_copying_all(&s, range);
            same_rows(&s.to_block(range, None), &expected)?;

            // Sorted in place, then written to again (the same rows once
            // more, rewriting times): reads as the never-sorted head does.
            let mut sorted = HeadSeries::default();
            append_all(&mut sorted, &rows);
            let values: usize = sorted.columns.iter().map(|c| c.data.len()).sum();
            let merged = sorted.sort_rows();
            let kept: usize = sorted.columns.iter().map(|c| c.data.len()).sum();
            proptest::prop_assert_eq!(kept + merged, values);
            proptest::prop_assert!(!sorted.out_of_order);
            same_rows(&sorted.to_block(range, None), &expected)?;
            let newest = s.newest_in(range);
            proptest::prop_assert_eq!(sorted.newest_in(range), newest);
            let rewrites: Vec<(i64, u8, i64)> = rows.iter().map(|&(t, which, x)| (t, which, x + 1)).collect();
            append_all(&mut s, &rewrites);
            append_all(&mut sorted, &rewrites);
            same_rows(&sorted.to_block(range, None), &to_block_by_copying_all(&s, range))?;
        }
    }

    /// The same rows and, for every column with a value in range, the
    /// same values (a column without one may be left out or empty).
    fn same_rows(got: &Block, expected: &Block) -> Result<(), proptest::test_runner::TestCaseError> {
        proptest::prop_assert_eq!(&got.timestamps, &expected.timestamps);
        for c in &expected.columns {
            if c.presence.as_ref().is_some_and(|p| !p.iter().any(|x| *x)) {
                continue;
            }
            let mine = got.columns.iter().find(|m| m.name == c.name);
            proptest::prop_assert_eq!(mine, Some(c));
        }
        Ok(())
    }

    #[test]
    fn out_of_order_series_are_sorted_once_in_the_background_pass() {
        let h = HeadMap::default();
        let (a, b) = (FieldValue::Float(1.0), FieldValue::Float(2.0));
        h.append(1, 10, [("a", &a)].into_iter());
        h.append(1, 20, [("a", &a)].into_iter());
        h.append(2, 30, [("a", &a)].into_iter());
        h.append(2, 10, [("a", &a)].into_iter());
        h.append(2, 30, [("a", &b)].into_iter());
        h.append(2, 5, [("a", &a)].into_iter());
        let before = h.read(2, TimeRange::ALL, None);
        assert_eq!(h.values(), 6);
        // Only series 2 went out of order, and it is listed once.
        assert_eq!(*h.unsorted.lock(), vec![2]);
        assert_eq!(h.sort_unsorted(), 1);
        assert_eq!(h.sort_unsorted(), 0, "nothing new to sort");
        let stripe = h.stripes[2 % STRIPES].lock();
        let s = stripe.get(&2).unwrap();
        assert!(!s.out_of_order);
        assert_eq!(s.timestamps, vec![5, 10, 30]);
        drop(stripe);
        // Reads answer as before; the rewritten value at 30 was merged away.
        assert_eq!(h.read(2, TimeRange::ALL, None), before);
        assert_eq!(h.values(), 5);
        // New disorder lists the series again.
        h.append(2, 1, [("a", &a)].into_iter());
        assert_eq!(*h.unsorted.lock(), vec![2]);
    }

    #[test]
    fn delete_range_removes_rows_and_values() {
        let h = HeadMap::default();
        let a = FieldValue::Float(1.0);
        let b = FieldValue::Integer(2);
        h.append(1, 10, [("a", &a)].into_iter());
        h.append(1, 20, [("a", &a), ("b", &b)].into_iter());
        h.append(1, 30, [("b", &b)].into_iter());
        h.append(2, 20, [("a", &a)].into_iter());
        let ids: roaring::RoaringBitmap = [1u32, 2].into_iter().collect();
        h.delete_range(&ids, TimeRange { start: 15, end: 25 });
        assert_eq!(h.values(), 2);
        let blk = h.read(1, TimeRange::ALL, None).unwrap();
        assert_eq!(blk.timestamps, vec![10, 30]);
        let ca = blk.columns.iter().find(|c| c.name == "a").unwrap();
        assert_eq!(ca.presence, Some(vec![true, false]));
        assert!(h.read(2, TimeRange::ALL, None).is_none());
        assert!(!h.series_ids().contains(&2));
        assert!(h.has_rows_outside(1, TimeRange { start: 0, end: 20 }));
        assert!(!h.has_rows_outside(1, TimeRange::ALL));
    }
}
