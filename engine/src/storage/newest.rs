//! Reads of the newest rows of series (`ORDER BY time DESC LIMIT n`).
//!
//! Why: "the last point of every host" would otherwise read, decode and
//! merge every block of every series in range to keep one row each. Blocks
//! are keyed by series and window start and hold only points of their
//! window, so a series' newest data is in its last block key or in a head;
//! reading window by window backwards from there stops once `n` rows are
//! found, usually after one window. Each window is read exactly as
//! [`Store::read`] reads a range (blocks and heads merged, last write wins),
//! so the rows are the same as the newest `n` of a full read.

use std::sync::Arc;

use crate::block::Block;

use super::api::{ReadResult, SeriesInfo, StorageResult, TimeRange};
use super::head::HeadMap;
use super::kv::{Cf, Cursor};
use super::{keys, rows, Frozen, Store};

impl Store {
    /// The newest `n` rows of each series in `range` (every row of a series
    /// with fewer), in time order, with the merge of [`Store::read`]; with
    /// `fields`, rows holding none of them do not count and are left out.
    pub fn read_newest(
        &self,
        db: &str,
        rp: Option<&str>,
        series: &[SeriesInfo],
        range: TimeRange,
        fields: Option<&[String]>,
        n: usize,
    ) -> StorageResult<ReadResult> {
        let (active, frozen) = self.read_heads(db, rp)?;
        let mut blocks = self.inner.kv.cursor(Cf::Blocks)?;
        let mut result = ReadResult::default();
        for s in series {
            let mut chunks: Vec<Block> = Vec::new();
            let mut rows = 0usize;
            let mut hi = range.end;
            let mut first = true;
            while rows < n && hi >= range.start {
                let within = TimeRange { start: range.start, end: hi };
                let Some(newest) = self.newest_in(s, within, (&active, &frozen), &mut blocks)? else { break };
                // The first step reads only the newest instant when it is a
                // head's and no block shares its window: one row is what
                // `LIMIT 1` wants, and a head's window would be copied and
                // sorted in full. Every other step reads whole windows (a
                // block is decoded whole whatever part of it is asked for).
                let lo = if first && !newest.block_in_window {
                    newest.time
                } else {
                    rows::window_start(newest.time, self.inner.block_window).max(range.start)
                };
                first = false;
                let chunk = self.read_merged(
                    s,
                    TimeRange { start: lo, end: hi },
                    fields,
                    (&active, &frozen),
                    (&mut blocks, &mut result.damaged),
                )?;
                rows += chunk.timestamps.len();
                if !chunk.timestamps.is_empty() {
                    chunks.push(chunk);
                }
                match lo.checked_sub(1) {
                    Some(next) if lo > range.start => hi = next,
                    _ => break,
                }
            }
            // Disjoint windows, newest first: in time order the merge is a
            // concatenation.
            chunks.reverse();
            let mut merged = rows::merge_runs(chunks);
            let len = merged.timestamps.len();
            if len > n {
                let keep: Vec<usize> = (len - n..len).collect();
                merged = rows::select_rows(&merged, &keep);
            }
            result.push_rows(s, merged);
        }
        Ok(result)
    }

    /// The newest time (a block's window start stands for its points) at
    /// which series `s` may have data in `range`.
    fn newest_in(
        &self,
        s: &SeriesInfo,
        range: TimeRange,
        (active, frozen): (&HeadMap, &[Arc<Frozen>]),
        blocks: &mut Cursor<'_>,
    ) -> StorageResult<Option<Newest>> {
        let w = self.inner.block_window;
        let from = keys::block_key(s.id, rows::window_start(range.start, w), 0);
        let to = keys::block_key(s.id, rows::window_start(range.end, w), u64::MAX);
        let block = blocks.last_key_in(&from, &to)?;
        let block_window = block.and_then(|k| keys::decode_block_key(&k)).map(|(_, window, _)| window);
        let heads = frozen.iter().filter_map(|f| f.head.newest_in(s.id, range)).chain(active.newest_in(s.id, range));
        let Some(time) = block_window.into_iter().chain(heads).max() else { return Ok(None) };
        Ok(Some(Newest { time, block_in_window: block_window == Some(rows::window_start(time, w)) }))
    }
}

/// Where a series' newest data in a range is.
struct Newest {
    /// Its time (for a block, the window start).
    time: i64,
    /// Whether a sealed block lies in that time's window.
    block_in_window: bool,
}
