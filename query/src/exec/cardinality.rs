//! `SHOW ... CARDINALITY ... GROUP BY <tags>`: one count per measurement and
//! tag group (per tag group alone for `SHOW MEASUREMENT CARDINALITY`).
//!
//! InfluxDB 1.x semantics, checked against influxd 1.6.7: with `GROUP BY`
//! every form counts exactly (the estimated forms too); a series without a
//! grouped key falls in the group of `""`; a regex groups by every tag key
//! it matches and `*` by all of them, over the tag keys of every measurement
//! of the statement; `LIMIT`/`OFFSET`
//! are ignored; groups with a count of 0 are left out. `GROUP BY time()`
//! is refused by the parser (InfluxDB answers a column of zeros per minute
//! since the epoch).

use std::collections::{BTreeMap, BTreeSet};

use augur_engine::storage::{SeriesInfo, Store};
use regex::Regex;
use serde_json::Value as Json;

use super::select::SelectError;
use super::show_tags::{key_matcher, series_matching, targets};
use super::{ExecError, ExecutionContext};
use crate::ast::{CardinalityKind, Dimension, ShowCardinality};
use crate::result::Series;

/// A group's tags, key → value.
type Tags = BTreeMap<String, String>;

/// Runs a `SHOW ... CARDINALITY` with a `GROUP BY`.
pub(super) fn show_grouped(
    store: &Store,
    ctx: &ExecutionContext,
    show: &ShowCardinality,
) -> Result<Vec<Series>, ExecError> {
    let c = &show.clauses;
    let keep_key = key_matcher(c.key.as_ref())?;
    let regexes: Vec<Option<Regex>> = show
        .group_by
        .iter()
        .map(|d| match d {
            Dimension::Regex(p) => Regex::new(p).map(Some).map_err(|e| SelectError::BadRegex(e.to_string())),
            _ => Ok(None),
        })
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    // SHOW MEASUREMENT CARDINALITY: measurements per tag group, over all of them.
    let mut measurements: BTreeMap<Tags, usize> = BTreeMap::new();
    let targets = targets(store, ctx, &c.database, &c.sources)?;
    // A regex or `*` expands over the tag keys of every measurement of the
    // statement, as in InfluxDB (a measurement without one groups by "").
    let mut all_keys: BTreeSet<String> = BTreeSet::new();
    if show.group_by.iter().any(|d| !matches!(d, Dimension::Tag(_))) {
        for target in &targets {
            let series = series_matching(store, &target.db, target.rp.as_deref(), &target.measurement, None)?;
            all_keys.extend(series.iter().flat_map(|s| s.tags.iter().map(|(k, _)| k.clone())));
        }
    }
    let keys = grouped_keys(&show.group_by, &regexes, &all_keys);
    for target in &targets {
        let (db, rp) = (&target.db, target.rp.as_deref());
        let series = series_matching(store, db, rp, &target.measurement, c.condition.as_ref())?;
        if series.is_empty() {
            continue;
        }
        let mut groups: BTreeMap<Tags, Vec<&SeriesInfo>> = BTreeMap::new();
        for s in &series {
            let tags: Tags = keys
                .iter()
                .map(|k| {
                    let value = s.tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.clone()).unwrap_or_default();
                    (k.clone(), value)
                })
                .collect();
            groups.entry(tags).or_default().push(s);
        }
        for (tags, members) in groups {
            let n = match show.kind {
                CardinalityKind::Measurement => {
                    *measurements.entry(tags).or_default() += 1;
                    continue;
                }
                CardinalityKind::Series => members.len(),
                CardinalityKind::FieldKey => target.fields.len(),
                CardinalityKind::TagKey => {
                    members.iter().flat_map(|s| s.tags.iter().map(|(k, _)| k)).collect::<BTreeSet<_>>().len()
                }
                CardinalityKind::TagValues => members
                    .iter()
                    .flat_map(|s| s.tags.iter())
                    .filter(|(k, _)| keep_key(k))
                    .collect::<BTreeSet<_>>()
                    .len(),
            };
            if n > 0 {
                out.push(count(Some(&target.measurement), tags, n));
            }
        }
    }
    out.extend(measurements.into_iter().map(|(tags, n)| count(None, tags, n)));
    Ok(out)
}

/// The tag keys a `GROUP BY` names, given every tag key of the statement's
/// measurements (`all`), sorted and without repeats.
fn grouped_keys(dims: &[Dimension], regexes: &[Option<Regex>], all: &BTreeSet<String>) -> BTreeSet<String> {
    let mut keys = BTreeSet::new();
    for (d, re) in dims.iter().zip(regexes) {
        match (d, re) {
            (Dimension::Tag(k), _) => {
                keys.insert(k.clone());
            }
            (Dimension::All, _) => keys.extend(all.iter().cloned()),
            (Dimension::Regex(_), Some(re)) => keys.extend(all.iter().filter(|k| re.is_match(k)).cloned()),
            _ => {}
        }
    }
    keys
}

fn count(name: Option<&str>, tags: Tags, n: usize) -> Series {
    let mut s = Series::new(name, &["count"]);
    s.tags = Some(tags);
    s.values = vec![vec![Json::from(n as u64)]];
    s
}
