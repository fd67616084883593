//! Raw selects (no functions): the selected fields and tags of every point,
//! `time` first.
//!
//! InfluxDB semantics: one result series per measurement and `GROUP BY`
//! tag group (tags are not split otherwise), rows in time order (ties in
//! series-key order), a row only when at least one selected field has a
//! value (an expression over it may still be null), `*` = every field and
//! tag (sorted together by name, grouped tags left out; with several
//! measurements, those of all of them), `LIMIT`/`OFFSET` per result series.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::condition::eval;
use super::{fold_groups, group_tags, read_newest_rows, unique_names, Budget, Env, Group, Target};
use crate::ast::{Expr, RefKind};
use crate::exec::value::Value;
use crate::exec::{page, ExecError};
use crate::result::Series;

/// One output column.
enum Column {
    /// A tag's value (null when the series lacks it).
    Tag(String),
    /// An expression over the row's fields and tags.
    Expr(Expr),
}

/// What `*` expands to: the field and tag keys of every measurement of
/// the statement (InfluxDB gives each series the columns of all).
#[derive(Debug, Default)]
pub(super) struct Wildcard {
    /// Field keys.
    fields: BTreeSet<String>,
    /// Tag keys of the series read.
    tags: BTreeSet<String>,
}

impl Wildcard {
    /// The keys of all `targets`, given their groups.
    pub(super) fn of(targets: &[Target], groups: &[Vec<Group>]) -> Wildcard {
        let fields = targets.iter().flat_map(|t| t.fields.keys().cloned()).collect();
        let tags = groups
            .iter()
            .flatten()
            .flat_map(|g| g.series.iter().flat_map(|s| s.tags.iter().map(|(k, _)| k.clone())))
            .collect();
        Wildcard { fields, tags }
    }
}

/// Runs the raw select for one measurement.
pub(super) fn run(
    env: &Env<'_>,
    target: &Target,
    groups: &[Group],
    wildcard: &Wildcard,
    budget: &Budget,
) -> Result<Vec<Series>, ExecError> {
    let grouped: BTreeSet<&str> =
        groups.first().map(|g| g.tags.iter().map(|(k, _)| k.as_str()).collect()).unwrap_or_default();
    for field in &env.select.fields {
        super::math::check_all(&field.expr)?;
    }
    let (names, columns) = columns(env, target, wildcard, &grouped);
    let mut fields: BTreeSet<String> = BTreeSet::new();
    let mut selected: Vec<(String, Option<RefKind>)> = Vec::new();
    for c in &columns {
        if let Column::Expr(e) = c {
            field_refs(e, target, &mut fields, &mut selected);
        }
    }
    // Another measurement's fields (under `*`) are null here.
    fields.retain(|f| target.fields.contains_key(f));
    if fields.is_empty() {
        // InfluxDB answers nothing when no field is selected.
        return Ok(Vec::new());
    }
    // InfluxDB has a row wherever a selected field has a value (not a
    // field read only for WHERE), even when an expression over it is null.
    selected.retain(|(f, _)| target.fields.contains_key(f));
    for name in env.cond.names() {
        if !target.is_tag(&name, None) {
            fields.insert(name);
        }
    }
    let fields: Vec<String> = fields.into_iter().collect();
    let names = unique_names(names);
    let desc = env.select.descending;
    // `LIMIT` keeps the first `limit + offset` rows of each series in time
    // order: rows that cannot be among them are not built.
    let keep = match env.select.limit {
        0 => None,
        limit => Some(usize::try_from(limit.saturating_add(env.select.offset)).unwrap_or(usize::MAX)),
    };
    // Under DESC with LIMIT, when every row read is a row of the answer (no
    // per-row WHERE, no cast that could null a selected field), only the
    // newest `limit + offset` rows of each series can be on the page: the
    // store reads just those (a block window or two per series).
    let newest = keep.filter(|_| {
        desc && env.cond.residual.is_none()
            && selected.iter().all(|(_, kind)| matches!(kind, None | Some(RefKind::Field)))
    });
    // Groups run on both cores; results come back in group order.
    let per_group = fold_groups(groups, |group| {
        let mut rows: Vec<(i64, Vec<Value>)> = Vec::new();
        let mut bound = keep.map(|k| PageBound::new(k, desc));
        read_newest_rows(env, target, &group.series, env.cond.range, &fields, newest, budget, |data| {
            // Newest first under DESC, so that a bound fills with the best rows early.
            let order: Box<dyn Iterator<Item = usize>> =
                if desc { Box::new((0..data.timestamps.len()).rev()) } else { Box::new(0..data.timestamps.len()) };
            for i in order {
                let t = data.timestamps[i];
                if bound.as_ref().is_some_and(|b| b.excludes(t)) {
                    continue;
                }
                let lookup = |name: &str, kind: Option<RefKind>| data.lookup(target, i, name, kind);
                if !env.cond.matches(&lookup) {
                    continue;
                }
                let any_field = selected.iter().any(|(f, kind)| !lookup(f, *kind).is_null());
                if !any_field {
                    continue;
                }
                let values: Vec<Value> = columns
                    .iter()
                    .map(|c| match c {
                        Column::Tag(k) => data
                            .series
                            .tags
                            .iter()
                            .find(|(tk, _)| tk == k)
                            .map_or(Value::Null, |(_, v)| Value::String(v.clone())),
                        Column::Expr(e) => eval(e, &lookup, &env.cond.regexes),
                    })
                    .collect();
                if let Some(b) = bound.as_mut() {
                    b.admit(t);
                }
                rows.push((t, values));
            }
            Ok(())
        })?;
        if rows.is_empty() {
            return Ok(None);
        }
        // Series arrive in key order: a stable sort keeps it for equal times.
        rows.sort_by_key(|(t, _)| *t);
        if desc {
            rows.reverse();
        }
        let values: Vec<Vec<Json>> = page(rows.into_iter(), env.select.limit, env.select.offset)
            .map(|(t, vals)| {
                let mut row = Vec::with_capacity(vals.len() + 1);
                row.push(env.time_json(t));
                row.extend(vals.iter().map(Value::to_json));
                row
            })
            .collect();
        if values.is_empty() {
            return Ok(None);
        }
        let mut cols = vec!["time".to_string()];
        cols.extend(names.iter().cloned());
        Ok(Some(Series { name: Some(target.measurement.clone()), tags: group_tags(env, group), columns: cols, values }))
    })?;
    Ok(per_group.into_iter().flatten().collect())
}

/// The `keep` best times of a group seen so far (smallest in ascending
/// order, largest under `DESC`): a row strictly worse than all of them,
/// once there are `keep`, cannot be on the page. Rows that tie are kept,
/// so the final stable sort orders them exactly as without the bound.
struct PageBound {
    keep: usize,
    desc: bool,
    /// Ascending: the kept times as a max-heap; `DESC`: negated, also as a max-heap.
    worst_first: std::collections::BinaryHeap<i128>,
}

impl PageBound {
    fn new(keep: usize, desc: bool) -> PageBound {
        PageBound { keep, desc, worst_first: std::collections::BinaryHeap::new() }
    }

    fn key(&self, t: i64) -> i128 {
        if self.desc {
            -i128::from(t)
        } else {
            i128::from(t)
        }
    }

    /// Whether a row at `t` cannot be among the first `keep`.
    fn excludes(&self, t: i64) -> bool {
        self.worst_first.len() >= self.keep && self.worst_first.peek().is_some_and(|worst| self.key(t) > *worst)
    }

    /// Records a row at `t`.
    fn admit(&mut self, t: i64) {
        self.worst_first.push(self.key(t));
        if self.worst_first.len() > self.keep {
            self.worst_first.pop();
        }
    }
}

/// The output columns, with wildcards expanded.
fn columns(
    env: &Env<'_>,
    target: &Target,
    wildcard: &Wildcard,
    grouped: &BTreeSet<&str>,
) -> (Vec<(String, bool)>, Vec<Column>) {
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for field in &env.select.fields {
        match &field.expr {
            Expr::Wildcard(kind) => {
                let mut all: Vec<(String, bool)> = Vec::new();
                if *kind != Some(RefKind::Tag) {
                    all.extend(wildcard.fields.iter().map(|k| (k.clone(), false)));
                }
                if *kind != Some(RefKind::Field) {
                    all.extend(
                        wildcard.tags.iter().filter(|k| !grouped.contains(k.as_str())).map(|k| (k.clone(), true)),
                    );
                }
                all.sort();
                for (name, is_tag) in all {
                    names.push((name.clone(), false));
                    columns.push(if is_tag {
                        Column::Tag(name)
                    } else {
                        Column::Expr(Expr::VarRef { name, kind: Some(RefKind::Field) })
                    });
                }
            }
            Expr::VarRef { name, kind } if target.is_tag(name, *kind) => {
                names.push((field.column_name(), field.alias.is_some()));
                columns.push(Column::Tag(name.clone()));
            }
            expr => {
                names.push((field.column_name(), field.alias.is_some()));
                columns.push(Column::Expr(expr.clone()));
            }
        }
    }
    (names, columns)
}

/// Field names an expression reads, and the references as written (with
/// their casts: `v::string` of a float field has no value).
fn field_refs(expr: &Expr, target: &Target, out: &mut BTreeSet<String>, refs: &mut Vec<(String, Option<RefKind>)>) {
    match expr {
        Expr::VarRef { name, kind } if !target.is_tag(name, *kind) => {
            out.insert(name.clone());
            refs.push((name.clone(), *kind));
        }
        Expr::Binary { lhs, rhs, .. } => {
            field_refs(lhs, target, out, refs);
            field_refs(rhs, target, out, refs);
        }
        Expr::Paren(inner) => field_refs(inner, target, out, refs),
        Expr::Call { args, .. } => args.iter().for_each(|a| field_refs(a, target, out, refs)),
        _ => {}
    }
}
