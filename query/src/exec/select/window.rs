//! `GROUP BY time` buckets: which bucket a point falls in, the time range a
//! grouped query reads, and the buckets it answers.
//!
//! InfluxDB semantics: buckets are aligned to the epoch plus the offset; a
//! query without an upper time bound ends at `now()`; one without a lower
//! bound starts at the first bucket holding data. The number of buckets is
//! checked against the query's limit before any row is built.

use augur_engine::storage::TimeRange;
use jiff::tz::TimeZone;
use jiff::Timestamp;

use super::{Env, SelectError};
use crate::ast::Dimension;

/// The buckets of one query.
#[derive(Debug, Clone)]
pub(crate) struct Buckets {
    /// `(interval, offset)` of `GROUP BY time`, if any.
    pub dim: Option<(i64, i64)>,
    /// The time range read.
    pub range: TimeRange,
    /// `tz()`: buckets align to this zone's local time.
    pub tz: Option<TimeZone>,
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
            Dimension::Time { interval, offset } if *interval > 0 => Some((*interval, *offset)),
            _ => None,
        });
        let mut range = env.cond.range;
        if dim.is_some() && !env.cond.bounded.1 {
            range.end = range.end.min(env.now);
        }
        Buckets { dim, range, tz: env.tz.clone() }
    }

    /// The start of the bucket holding `t` (0 without `GROUP BY time`).
    ///
    /// With a time zone this is InfluxDB's window rule: truncate
    /// `t + offset(t)` to the interval, then move the start by the change of
    /// offset between `t` and the start (so a 1d bucket starts at local
    /// midnight on both sides of a daylight-saving change).
    pub(crate) fn start_of(&self, t: i64) -> i64 {
        let Some((interval, offset)) = self.dim else { return 0 };
        let shifted = i128::from(t) - i128::from(offset);
        let Some(tz) = &self.tz else {
            let start = shifted.div_euclid(i128::from(interval)) * i128::from(interval) + i128::from(offset);
            return clamp(start);
        };
        let zone = i128::from(zone_offset(tz, clamp(shifted)));
        let mut start = shifted - (shifted + zone).rem_euclid(i128::from(interval));
        let start_zone = i128::from(zone_offset(tz, clamp(start)));
        if start_zone != zone {
            start -= start_zone - zone;
        }
        clamp(start + i128::from(offset))
    }

    /// The start of the bucket after the one starting at `b`.
    pub(crate) fn next(&self, b: i64) -> i64 {
        let Some((interval, _)) = self.dim else { return b };
        if self.tz.is_none() {
            return b.saturating_add(interval);
        }
        // Half an interval past the next boundary lands inside the next
        // bucket even when a daylight-saving change shortens or stretches it.
        let next = self.start_of(b.saturating_add(interval).saturating_add(interval / 2));
        if next > b {
            next
        } else {
            b.saturating_add(interval)
        }
    }

    /// The start of the bucket before the one starting at `b`.
    pub(crate) fn prev(&self, b: i64) -> i64 {
        let Some((interval, _)) = self.dim else { return b };
        if self.tz.is_none() {
            return b.saturating_sub(interval);
        }
        self.start_of(b.saturating_sub(interval / 2).saturating_sub(1))
    }

    /// The bucket starts of a span, in order.
    pub(crate) fn starts(&self, span: Span) -> Vec<i64> {
        match (span, &self.tz) {
            (Span::Range { first, last, .. }, Some(_)) => {
                let mut out = Vec::new();
                let mut b = first;
                while b <= last {
                    out.push(b);
                    let next = self.next(b);
                    if next <= b {
                        break;
                    }
                    b = next;
                }
                out
            }
            _ => span.starts().collect(),
        }
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

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The zone's UTC offset at `t` (ns since the epoch), in ns.
fn zone_offset(tz: &TimeZone, t: i64) -> i64 {
    let Ok(ts) = Timestamp::from_nanosecond(i128::from(t)) else { return 0 };
    i64::from(tz.to_offset(ts).seconds()) * 1_000_000_000
}

/// `t` as Go's RFC 3339 with nanoseconds in zone `tz`: local time with
/// its offset (`2024-03-31T03:00:00+02:00`), `Z` where the offset is 0.
pub(crate) fn format_in_zone(t: i64, tz: &TimeZone) -> String {
    let offset = zone_offset(tz, t);
    let local = crate::time::format_rfc3339_nano(t.saturating_add(offset));
    if offset == 0 {
        return local;
    }
    let minutes = offset.abs() / 60_000_000_000;
    let sign = if offset < 0 { '-' } else { '+' };
    format!("{}{sign}{:02}:{:02}", local.trim_end_matches('Z'), minutes / 60, minutes % 60)
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
    fn zone_buckets_follow_local_midnight_across_dst() {
        let paris = TimeZone::get("Europe/Paris").expect("bundled tzdb");
        let day = 86_400_000_000_000;
        let b = Buckets { dim: Some((day, 0)), range: TimeRange::ALL, tz: Some(paris.clone()) };
        let at = |s: &str| crate::time::parse_rfc3339(s).expect("time");
        // 2024-03-31 is 23 hours long in Paris.
        assert_eq!(b.start_of(at("2024-03-31T12:00:00Z")), at("2024-03-30T23:00:00Z"));
        assert_eq!(b.next(at("2024-03-30T23:00:00Z")), at("2024-03-31T22:00:00Z"));
        assert_eq!(b.prev(at("2024-03-31T22:00:00Z")), at("2024-03-30T23:00:00Z"));
        assert_eq!(format_in_zone(at("2024-03-31T22:00:00Z"), &paris), "2024-04-01T00:00:00+02:00");
        let ny = TimeZone::get("America/New_York").expect("bundled tzdb");
        assert_eq!(format_in_zone(at("2024-03-30T12:00:00.5Z"), &ny), "2024-03-30T08:00:00.5-04:00");
        assert_eq!(format_in_zone(0, &TimeZone::UTC), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn buckets_align_to_epoch_plus_offset() {
        let b = Buckets { dim: Some((60, 30)), range: TimeRange::ALL, tz: None };
        assert_eq!(b.start_of(0), -30);
        assert_eq!(b.start_of(29), -30);
        assert_eq!(b.start_of(30), 30);
        assert_eq!(b.start_of(i64::MIN), b.start_of(i64::MIN));
        let none = Buckets { dim: None, range: TimeRange::ALL, tz: None };
        assert_eq!(none.start_of(12345), 0);
    }
}
