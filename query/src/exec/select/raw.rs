//! Raw selects (no functions): the selected fields and tags of every point,
//! `time` first.
//!
//! InfluxDB semantics: one result series per measurement and `GROUP BY`
//! tag group (tags are not split otherwise), rows in time order (ties in
//! series-key order), a row only when at least one selected field has a
//! value, `*` = every field and tag (sorted together by name, grouped tags
//! left out), `LIMIT`/`OFFSET` per result series.

use std::collections::BTreeSet;

use serde_json::Value as Json;

use super::condition::eval;
use super::{group_tags, read_rows, unique_names, Budget, Env, Group, Target};
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

/// Runs the raw select for one measurement.
pub(super) fn run(
    env: &Env<'_>,
    target: &Target,
    groups: &[Group],
    budget: &mut Budget,
) -> Result<Vec<Series>, ExecError> {
    let grouped: BTreeSet<&str> =
        groups.first().map(|g| g.tags.iter().map(|(k, _)| k.as_str()).collect()).unwrap_or_default();
    let tag_keys: BTreeSet<String> =
        groups.iter().flat_map(|g| g.series.iter().flat_map(|s| s.tags.iter().map(|(k, _)| k.clone()))).collect();
    for field in &env.select.fields {
        super::math::check_all(&field.expr)?;
    }
    let (names, columns) = columns(env, target, &tag_keys, &grouped);
    let mut fields: BTreeSet<String> = BTreeSet::new();
    for c in &columns {
        if let Column::Expr(e) = c {
            field_refs(e, target, &mut fields);
        }
    }
    if fields.is_empty() {
        // InfluxDB answers nothing when no field is selected.
        return Ok(Vec::new());
    }
    for name in env.cond.names() {
        if !target.is_tag(&name, None) {
            fields.insert(name);
        }
    }
    let fields: Vec<String> = fields.into_iter().collect();
    let names = unique_names(names);
    let mut out = Vec::new();
    let desc = env.select.descending;
    for group in groups {
        let mut rows: Vec<(i64, Vec<Value>)> = Vec::new();
        read_rows(env, target, &group.series, env.cond.range, &fields, budget, |data| {
            for (i, &t) in data.timestamps.iter().enumerate() {
                let lookup = |name: &str, kind: Option<RefKind>| data.lookup(target, i, name, kind);
                if !env.cond.matches(&lookup) {
                    continue;
                }
                let mut any_field = false;
                let values: Vec<Value> = columns
                    .iter()
                    .map(|c| match c {
                        Column::Tag(k) => data
                            .series
                            .tags
                            .iter()
                            .find(|(tk, _)| tk == k)
                            .map_or(Value::Null, |(_, v)| Value::String(v.clone())),
                        Column::Expr(e) => {
                            let v = eval(e, &lookup, &env.cond.regexes);
                            any_field |= !v.is_null();
                            v
                        }
                    })
                    .collect();
                if any_field {
                    rows.push((t, values));
                }
            }
            Ok(())
        })?;
        if rows.is_empty() {
            continue;
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
            continue;
        }
        let mut cols = vec!["time".to_string()];
        cols.extend(names.iter().cloned());
        out.push(Series {
            name: Some(target.measurement.clone()),
            tags: group_tags(env, group),
            columns: cols,
            values,
        });
    }
    Ok(out)
}

/// The output columns, with wildcards expanded.
fn columns(
    env: &Env<'_>,
    target: &Target,
    tag_keys: &BTreeSet<String>,
    grouped: &BTreeSet<&str>,
) -> (Vec<(String, bool)>, Vec<Column>) {
    let mut names = Vec::new();
    let mut columns = Vec::new();
    for field in &env.select.fields {
        match &field.expr {
            Expr::Wildcard(kind) => {
                let mut all: Vec<(String, bool)> = Vec::new();
                if *kind != Some(RefKind::Tag) {
                    all.extend(target.fields.keys().map(|k| (k.clone(), false)));
                }
                if *kind != Some(RefKind::Field) {
                    all.extend(tag_keys.iter().filter(|k| !grouped.contains(k.as_str())).map(|k| (k.clone(), true)));
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

/// Field names an expression reads.
fn field_refs(expr: &Expr, target: &Target, out: &mut BTreeSet<String>) {
    match expr {
        Expr::VarRef { name, kind } if !target.is_tag(name, *kind) => {
            out.insert(name.clone());
        }
        Expr::Binary { lhs, rhs, .. } => {
            field_refs(lhs, target, out);
            field_refs(rhs, target, out);
        }
        Expr::Paren(inner) => field_refs(inner, target, out),
        Expr::Call { args, .. } => args.iter().for_each(|a| field_refs(a, target, out)),
        _ => {}
    }
}
