//! `top()` and `bottom()`: the N points with the largest (smallest) values
//! of a field, per group and bucket, each reported at its own time.
//!
//! Why a module apart: unlike the other functions these return several
//! rows per bucket and may carry other fields and tags of the chosen points
//! (`SELECT top(v, 3), host FROM ...`), so they do not fit the one-value
//! states of [`super::aggregate`]. `top(v, tag, ..., N)` first keeps the
//! best point of each distinct tag value set, then the N best of those. As
//! in InfluxDB, equal values are ordered by time, and the chosen points are
//! listed in time order.
//!
//! `sample(f, N)` shares the machinery: N points of each bucket chosen at
//! random (reservoir sampling, "Algorithm R", over the bucket's points in
//! time order), listed in time order. The random generator is seeded with
//! a fixed value, so the same data gives the same sample every time
//! (InfluxDB seeds from the clock; its samples differ run to run).

use std::collections::BTreeMap;

use augur_engine::model::FieldType;
use serde_json::Value as Json;

use super::window::{Buckets, Span};
use super::{group_tags, read_rows, unique_names, Budget, Env, Group, SelectError, Target};
use crate::ast::{Expr, Field, RefKind};
use crate::exec::value::Value;
use crate::exec::{page, ExecError};
use crate::result::Series;

/// A `top`/`bottom` call and the plain fields next to it.
#[derive(Debug)]
pub(super) struct TopSpec {
    /// `bottom()` rather than `top()`.
    bottom: bool,
    /// `sample()`: random points instead of the best ones.
    sample: bool,
    /// The function's name (for errors).
    name: String,
    /// The field ranked.
    field: String,
    /// Its `::type` or `::field`, if written.
    cast: Option<RefKind>,
    /// Tags whose distinct values compete (the middle arguments).
    tags: Vec<String>,
    /// How many points.
    n: usize,
    /// Index of the call in the select list.
    at: usize,
}

/// A candidate point.
#[derive(Debug, Clone)]
struct Candidate {
    value: Value,
    time: i64,
    tags: Vec<Option<String>>,
    aux: Vec<Value>,
}

/// The `top`/`bottom` call of a select list, if it has one, checked as
/// InfluxDB checks it (its messages, in its order). `limit` is the
/// statement's `LIMIT` (0 = none), which N may not exceed.
pub(super) fn spec(fields: &[Field], limit: u64) -> Result<Option<TopSpec>, SelectError> {
    let at = fields.iter().position(|f| matches!(&f.expr, Expr::Call { name, .. } if is_top(name)));
    let Some(at) = at else { return Ok(None) };
    let Expr::Call { name, args, .. } = &fields[at].expr else { return Ok(None) };
    if name == "sample" {
        return sample_spec(fields, at, args).map(Some);
    }
    if args.len() < 2 {
        return Err(SelectError::Message(format!(
            "invalid number of arguments for {name}, expected at least 2, got {}",
            args.len()
        )));
    }
    let last = &args[args.len() - 1];
    let n = match last {
        Expr::Integer(n) if *n <= 0 => {
            return Err(SelectError::Message(format!("limit ({n}) in {name} function must be at least 1")));
        }
        Expr::Integer(n) if limit > 0 && n.unsigned_abs() > limit => {
            return Err(SelectError::Message(format!(
                "limit ({n}) in {name} function can not be larger than the LIMIT ({limit}) in the select statement"
            )));
        }
        Expr::Integer(n) => usize::try_from(*n).unwrap_or(usize::MAX),
        other => {
            return Err(SelectError::Message(format!("expected integer as last argument in {name}(), found {other}")));
        }
    };
    let Some(Expr::VarRef { name: field, kind }) = args.first() else {
        let first = args.first().map(ToString::to_string).unwrap_or_default();
        return Err(SelectError::Message(format!("expected first argument to be a field in {name}(), found {first}")));
    };
    let mut tags = Vec::new();
    for arg in &args[1..args.len() - 1] {
        match arg {
            Expr::VarRef { name: tag, .. } => tags.push(tag.clone()),
            other => {
                return Err(SelectError::Message(format!(
                    "only fields or tags are allowed in {name}(), found {other}"
                )));
            }
        }
    }
    for (i, f) in fields.iter().enumerate() {
        if i != at && super::has_aggregate(&f.expr) {
            return Err(SelectError::Message(format!(
                "selector function {name}() cannot be combined with other functions"
            )));
        }
    }
    for (i, f) in fields.iter().enumerate() {
        if i != at && !matches!(f.expr, Expr::VarRef { .. }) {
            return Err(SelectError::Unsupported(format!("{name}() together with expressions")));
        }
    }
    Ok(Some(TopSpec {
        bottom: name == "bottom",
        sample: false,
        name: name.clone(),
        field: field.clone(),
        cast: *kind,
        tags,
        n,
        at,
    }))
}

/// `sample(f, N)`, with InfluxDB's messages.
fn sample_spec(fields: &[Field], at: usize, args: &[Expr]) -> Result<TopSpec, SelectError> {
    let name = "sample";
    if args.len() != 2 {
        return Err(SelectError::Arity { name: name.into(), expected: 2, got: args.len() });
    }
    let n = match &args[1] {
        Expr::Integer(n) if *n >= 1 => usize::try_from(*n).unwrap_or(usize::MAX),
        Expr::Integer(n) => return Err(SelectError::Message(format!("sample window must be greater than 1, got {n}"))),
        _ => return Err(SelectError::Argument { name: name.into(), what: "integer" }),
    };
    let Expr::VarRef { name: field, .. } = &args[0] else {
        return Err(SelectError::Argument { name: name.into(), what: "field" });
    };
    for (i, f) in fields.iter().enumerate() {
        if i != at && !matches!(f.expr, Expr::VarRef { .. }) {
            return Err(SelectError::Unsupported("sample() together with other functions or expressions".into()));
        }
    }
    Ok(TopSpec {
        bottom: false,
        sample: true,
        name: name.into(),
        field: field.clone(),
        cast: None,
        tags: Vec::new(),
        n,
        at,
    })
}

fn is_top(name: &str) -> bool {
    name == "top" || name == "bottom" || name == "sample"
}

/// Runs a `top`/`bottom` select for one measurement.
pub(super) fn run(
    env: &Env<'_>,
    target: &Target,
    groups: &[Group],
    budget: &Budget,
    spec: &TopSpec,
) -> Result<Vec<Series>, ExecError> {
    let select = env.select;
    if !spec.sample {
        // InfluxDB ranks numbers only.
        let ty = super::cast::cast_type(target.fields.get(&spec.field).copied(), spec.cast);
        if let Some(ty @ (FieldType::String | FieldType::Boolean)) = ty {
            return Err(
                SelectError::FieldType { func: spec.name.clone(), field_type: ty.influx_name().to_string() }.into()
            );
        }
    }
    let aux: Vec<(String, Option<RefKind>)> = select
        .fields
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != spec.at)
        .filter_map(|(_, f)| match &f.expr {
            Expr::VarRef { name, kind } => Some((name.clone(), *kind)),
            _ => None,
        })
        .collect();
    let mut fields: Vec<String> = vec![spec.field.clone()];
    fields.extend(aux.iter().filter(|(n, k)| !target.is_tag(n, *k)).map(|(n, _)| n.clone()));
    fields.extend(env.cond.names().into_iter().filter(|n| !target.is_tag(n, None)));
    fields.sort();
    fields.dedup();
    let buckets_of = Buckets::new(env);

    let mut folded: Vec<BTreeMap<i64, Vec<Candidate>>> = Vec::with_capacity(groups.len());
    for group in groups {
        let mut buckets: BTreeMap<i64, Vec<Candidate>> = BTreeMap::new();
        read_rows(env, target, &group.series, buckets_of.range, &fields, budget, |data| {
            let tag = |k: &str| data.series.tags.iter().find(|(tk, _)| tk == k).map(|(_, v)| v.clone());
            for (i, &t) in data.timestamps.iter().enumerate() {
                let lookup = |name: &str, kind: Option<RefKind>| data.lookup(target, i, name, kind);
                if !env.cond.matches(&lookup) {
                    continue;
                }
                let value = lookup(&spec.field, Some(RefKind::Field));
                if value.is_null() || (!spec.sample && value.as_f64().is_none()) {
                    continue;
                }
                let aux =
                    aux.iter()
                        .map(|(n, k)| {
                            if target.is_tag(n, *k) {
                                tag(n).map_or(Value::Null, Value::String)
                            } else {
                                lookup(n, *k)
                            }
                        })
                        .collect();
                let tags = spec.tags.iter().map(|k| tag(k)).collect();
                buckets.entry(buckets_of.start_of(t)).or_default().push(Candidate { value, time: t, tags, aux });
            }
            Ok(())
        })?;
        folded.push(buckets);
    }
    let span = buckets_of.span(env, folded.iter().filter_map(|b| b.keys().next().copied()).min())?;
    if span == Span::Empty {
        return Ok(Vec::new());
    }

    // The tag arguments become columns right after the call, as in InfluxDB.
    let mut names = Vec::new();
    for (i, f) in select.fields.iter().enumerate() {
        names.push((f.column_name(), f.alias.is_some()));
        if i == spec.at {
            names.extend(spec.tags.iter().map(|t| (t.clone(), false)));
        }
    }
    let mut columns = vec!["time".to_string()];
    columns.extend(unique_names(names));
    let mut out = Vec::new();
    for (group, mut buckets) in groups.iter().zip(folded) {
        // Buckets run backwards with ORDER BY time DESC; a bucket's points stay in time order.
        let mut starts: Vec<i64> = buckets_of.starts(span);
        if select.descending {
            starts.reverse();
        }
        let mut rows: Vec<Vec<Json>> = Vec::new();
        for b in starts {
            let Some(cands) = buckets.remove(&b) else { continue };
            for c in choose(cands, spec) {
                let mut row = Vec::with_capacity(columns.len());
                row.push(env.time_json(c.time));
                let mut aux = c.aux.iter();
                for i in 0..select.fields.len() {
                    if i == spec.at {
                        row.push(c.value.to_json());
                        row.extend(c.tags.iter().map(|t| t.clone().map_or(Json::Null, Json::String)));
                    } else {
                        row.push(aux.next().map_or(Json::Null, Value::to_json));
                    }
                }
                rows.push(row);
            }
        }
        let values: Vec<Vec<Json>> = page(rows.into_iter(), select.limit, select.offset).collect();
        if values.is_empty() {
            continue;
        }
        out.push(Series {
            name: Some(target.measurement.clone()),
            tags: group_tags(env, group),
            columns: columns.clone(),
            values,
        });
    }
    Ok(out)
}

/// The chosen points of one bucket, in time order.
fn choose(mut cands: Vec<Candidate>, spec: &TopSpec) -> Vec<Candidate> {
    if spec.sample {
        return sample(cands, spec.n);
    }
    let better = |a: &Candidate, b: &Candidate| {
        let by_value = a.value.sort_cmp(&b.value);
        let by_value = if spec.bottom { by_value } else { by_value.reverse() };
        by_value.then(a.time.cmp(&b.time))
    };
    cands.sort_by(better);
    if !spec.tags.is_empty() {
        let mut seen = std::collections::HashSet::new();
        cands.retain(|c| seen.insert(c.tags.clone()));
    }
    cands.truncate(spec.n);
    cands.sort_by_key(|c| c.time);
    cands
}

/// `n` points chosen uniformly at random (reservoir sampling over the
/// points in time order, fixed seed), in time order.
fn sample(mut cands: Vec<Candidate>, n: usize) -> Vec<Candidate> {
    cands.sort_by_key(|c| c.time);
    if cands.len() <= n {
        return cands;
    }
    let mut rng = SplitMix64(0x5eed_a6a7);
    let mut chosen: Vec<usize> = (0..n).collect();
    for i in n..cands.len() {
        let j = usize::try_from(rng.next() % (i as u64 + 1)).unwrap_or(usize::MAX);
        if let Some(slot) = chosen.get_mut(j) {
            *slot = i;
        }
    }
    chosen.sort_unstable();
    let mut keep = chosen.into_iter().peekable();
    let mut out = Vec::with_capacity(n);
    for (i, c) in cands.into_iter().enumerate() {
        if keep.peek() == Some(&i) {
            keep.next();
            out.push(c);
        }
    }
    out
}

/// A small deterministic generator (SplitMix64): enough for sampling, and
/// the same sample for the same data.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}
