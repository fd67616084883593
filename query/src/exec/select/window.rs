//! `GROUP BY time` buckets: which bucket a point falls in, the time range a
//! grouped query reads, and the buckets it answers.
//!
//! InfluxDB semantics: buckets are aligned to the epoch plus the offset; a
//! query without an upper time bound ends at `now()`; one without a lower
//! bound starts at the first bucket holding data. The number of buckets is
//! checked against the query's limit before any row is built.

use augur_engine::storage::TimeRange;

use super::{Env, SelectError};
use crate::ast::Dimension;

/// The buckets of one query.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Buckets {
    /// `(interval, offset)` of `GROUP BY time`, if any.
    pub dim: Option<(i64, i64)>,
    /// The time range read.
    pub range: TimeRange,
}

/// The buckets a query answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Span {
    /// No `GROUP BY time`: one bucket.
    Single,
    /// Every bucket from `first` to `last` (bucket starts), `interval` apart.
    Range {
        /// First bucket start.
        first: i64,
        /// Last bucket start.
        last: i64,
        /// Bucket width.
        interval: i64,
    },
    /// Nothing to answer (no lower bound and no data).
    Empty,
}

impl Buckets {
    /// The buckets of the statement in `env`.
    pub(crate) fn new(env: &Env<'_>) -> Buckets {
        let dim = env.select.dimensions.iter().find_map(|d| match d {
            Dimension::Time { interval, offset } => Some((*interval, *offset)),
            _ => None,
        });
        let mut range = env.cond.range;
        if dim.is_some() && !env.cond.bounded.1 {
            range.end = range.end.min(env.now);
        }
        Buckets { dim, range }
    }

    /// The start of the bucket holding `t` (0 without `GROUP BY time`).
    pub(crate) fn start_of(&self, t: i64) -> i64 {
        let Some((interval, offset)) = self.dim else { return 0 };
        let shifted = i128::from(t) - i128::from(offset);
        let start = shifted.div_euclid(i128::from(interval)) * i128::from(interval) + i128::from(offset);
        i64::try_from(start).unwrap_or(if start < 0 { i64::MIN } else { i64::MAX })
    }

    /// The buckets to answer, given the first bucket holding data.
    pub(crate) fn span(&self, env: &Env<'_>, first_data: Option<i64>) -> Result<Span, SelectError> {
        let Some((interval, _)) = self.dim else { return Ok(Span::Single) };
        let first = if env.cond.bounded.0 { Some(self.start_of(self.range.start)) } else { first_data };
        let Some(first) = first else { return Ok(Span::Empty) };
        let last = self.start_of(self.range.end);
        let count = (i128::from(last) - i128::from(first)) / i128::from(interval) + 1;
        let count = u64::try_from(count.max(0)).unwrap_or(u64::MAX);
        if env.max_buckets > 0 && count > env.max_buckets {
            return Err(SelectError::TooManyBuckets(count, env.max_buckets));
        }
        Ok(Span::Range { first, last, interval })
    }
}

impl Span {
    /// The bucket starts, in order (`[0]` for [`Span::Single`]).
    pub(crate) fn starts(self) -> impl Iterator<Item = i64> {
        let (mut next, last, step) = match self {
            Span::Single => (Some(0), 0, 1),
            Span::Range { first, last, interval } => (Some(first), last, interval),
            Span::Empty => (None, 0, 1),
        };
        std::iter::from_fn(move || {
            let b = next.filter(|b| *b <= last)?;
            next = b.checked_add(step);
            Some(b)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_iterate_bucket_starts() {
        assert_eq!(Span::Range { first: -30, last: 90, interval: 60 }.starts().collect::<Vec<_>>(), vec![-30, 30, 90]);
        assert_eq!(Span::Single.starts().collect::<Vec<_>>(), vec![0]);
        assert_eq!(Span::Empty.starts().count(), 0);
        let near_end = Span::Range { first: i64::MAX - 1, last: i64::MAX - 1, interval: 10 };
        assert_eq!(near_end.starts().collect::<Vec<_>>(), vec![i64::MAX - 1]);
    }

    #[test]
    fn buckets_align_to_epoch_plus_offset() {
        let b = Buckets { dim: Some((60, 30)), range: TimeRange::ALL };
        assert_eq!(b.start_of(0), -30);
        assert_eq!(b.start_of(29), -30);
        assert_eq!(b.start_of(30), 30);
        assert_eq!(b.start_of(i64::MIN), b.start_of(i64::MIN));
        let none = Buckets { dim: None, range: TimeRange::ALL };
        assert_eq!(none.start_of(12345), 0);
    }
}
