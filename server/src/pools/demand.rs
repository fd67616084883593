//! Reads one dimension's demand: its latest usage and its forecast at
//! `now + lead_time`, by running the pool's AQL demand query.
//!
//! Why through AQL: the demand source *is* an AQL query (what operators
//! already chart in Grafana), and the forecast is the same query wrapped in
//! `forecast(…)`: one definition of "demand", the models, the fit pool, the
//! fitted-model cache and the open-bucket rule of `forecast()` are shared
//! with `/query`. The forecast hands back the buckets it learned from
//! ([`forecast_with_history`]), so each cycle reads the data once. A query
//! that groups by tags yields one series per group; the pool's demand is
//! their sum (for the forecast, the sum of the groups' upper quantiles: at
//! least the quantile of the sum, so on the safe side). When the history's
//! bursts come back at a steady cadence and the next one is due within the
//! lead time, the forecast is raised to their height ([`BurstReading`]).

use std::collections::BTreeMap;

use augur_engine::forecast::{cadence, prep};
use augur_engine::storage::Store;
use augur_query::ast::{BinaryOp, Dimension as GroupBy, Expr, Select, Statement};
use augur_query::exec::{execute_statement, forecast_with_history, ExecutionContext};
use augur_query::privileges::{required, Requirement};
use augur_query::result::Series;
use augur_query::{duration, time};
use serde::{Deserialize, Serialize};

use super::spec::{DemandSource, Safety};

/// What one dimension's demand query said this cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DemandReading {
    /// The latest complete bucket's value (`None`: no data).
    pub usage: Option<f64>,
    /// The highest forecast, at the pool's quantile, up to `now + lead_time`.
    pub forecast: Option<f64>,
    /// Why there is no forecast, when there is none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forecast_error: Option<String>,
    /// The query's bucket width (ns).
    pub step: i64,
    /// Buckets of history the forecast learned from.
    pub history_points: usize,
    /// Periodic bursts found in the history, when there are any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bursts: Option<BurstReading>,
    /// Why no nightly job can be found yet, when the buckets divide a day
    /// but the history is too short for the daily search: the pool's
    /// `history` setting (raise it) or the data so far (wait). Why say so:
    /// otherwise a pool whose history is 3 days silently never provisions
    /// ahead of the backup that runs at 03:00.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nightly_search: Option<String>,
}

/// Bursts that come back at a steady cadence in a dimension's demand
/// ([`cadence`]): when the next one is due inside the lead time, the
/// forecast is raised to its height, because the seasonal models smear a
/// short burst whose period is not a whole number of buckets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BurstReading {
    /// Mean time between bursts, e.g. `1h57m30s`.
    pub every: String,
    /// Start of the window the next burst is due in (RFC 3339).
    pub due_from: String,
    /// End of that window (RFC 3339).
    pub due_to: String,
    /// The highest of the recent bursts (the demand's units).
    pub height: f64,
    /// Bursts in the chain that established the cadence.
    pub seen: usize,
    /// Whether the next burst is due by `now + lead_time`, so that the
    /// forecast was raised to `height`.
    pub raised_forecast: bool,
}

/// Fewest closed buckets of history a forecast is trusted from; with
/// fewer the pool decides by the reactive rule (and says so).
pub const MIN_HISTORY_POINTS: usize = 12;

/// The demand query parsed, with its bucket width.
#[derive(Debug, Clone)]
pub struct DemandQuery {
    select: Select,
    /// The `GROUP BY time(…)` width in ns.
    pub step: i64,
}

/// Why a demand query cannot be used (the message names the fault).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct DemandQueryError(pub String);

impl DemandQuery {
    /// Parses and checks a demand query: one `SELECT` without `INTO`, one
    /// field, grouped by `time(…)`.
    pub fn parse(text: &str) -> Result<DemandQuery, DemandQueryError> {
        let query = augur_query::parse_query(text).map_err(|e| DemandQueryError(e.to_string()))?;
        let select = match query.statements.as_slice() {
            [Statement::Select(select)] => select.as_ref().clone(),
            _ => return Err(DemandQueryError("must be one SELECT statement".into())),
        };
        if select.into.is_some() {
            return Err(DemandQueryError("must not write (INTO)".into()));
        }
        if select.fields.len() != 1 {
            return Err(DemandQueryError("must select exactly one field (the demand)".into()));
        }
        // The forecast wraps the field in forecast(…), which takes a plain
        // aggregate call: arithmetic around it could not be forecast.
        if !matches!(select.fields[0].expr, Expr::Call { .. }) {
            return Err(DemandQueryError(
                "must select one aggregate call, e.g. SELECT sum(cpu) … GROUP BY time(1m) (no arithmetic around it)"
                    .into(),
            ));
        }
        let step = select
            .dimensions
            .iter()
            .find_map(|d| match d {
                GroupBy::Time { interval, .. } => Some(*interval),
                _ => None,
            })
            .ok_or_else(|| DemandQueryError("must GROUP BY time(<interval>)".into()))?;
        Ok(DemandQuery { select, step })
    }

    /// The databases the query reads (`database` is the default one).
    pub fn databases(&self, database: &str) -> Vec<String> {
        let mut out: Vec<String> = required(&Statement::Select(Box::new(self.select.clone())), Some(database))
            .into_iter()
            .filter_map(|r| match r {
                Requirement::Database { database, .. } => database,
                _ => None,
            })
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The query restricted to `time > now - history`.
    fn bounded(&self, history: i64) -> Select {
        let mut select = self.select.clone();
        let since = Expr::binary(
            BinaryOp::Gt,
            Expr::VarRef { name: "time".into(), kind: None },
            Expr::binary(
                BinaryOp::Sub,
                Expr::Call { name: "now".into(), args: vec![], named: vec![] },
                Expr::Duration(history),
            ),
        );
        select.condition = Some(match select.condition.take() {
            Some(c) => Expr::binary(BinaryOp::And, Expr::Paren(Box::new(c)), since),
            None => since,
        });
        select
    }
}

/// The context demand queries run in: `database`, as of `now`, times in ns.
fn context(database: &str, now: i64) -> ExecutionContext {
    ExecutionContext {
        database: Some(database.to_string()),
        epoch: Some(1),
        now: Some(now),
        ..ExecutionContext::default()
    }
}

/// Runs `select` as of `now` on `database`.
fn run(store: &Store, database: &str, select: Select, now: i64) -> Result<Vec<Series>, String> {
    execute_statement(store, &Statement::Select(Box::new(select)), &context(database, now)).map_err(|e| e.to_string())
}

/// Sums the `column`-th column of every series per timestamp.
fn sum_by_time(series: &[Series], column: &str) -> BTreeMap<i64, f64> {
    let mut out = BTreeMap::new();
    for s in series {
        let Some(c) = s.columns.iter().position(|name| name == column) else { continue };
        for row in &s.values {
            let (Some(t), Some(v)) = (row.first().and_then(|t| t.as_i64()), row.get(c).and_then(|v| v.as_f64())) else {
                continue;
            };
            *out.entry(t).or_insert(0.0) += v;
        }
    }
    out
}

/// Sums the value column (the second) of every series per timestamp.
fn sum_values(series: &[Series]) -> BTreeMap<i64, f64> {
    let column = series.first().and_then(|s| s.columns.get(1).cloned()).unwrap_or_default();
    sum_by_time(series, &column)
}

/// The demand history of one source over `(now - history, now]`: one
/// value per bucket (the sum over the query's groups), and the bucket width.
pub fn history_of(
    store: &Store,
    source: &DemandSource,
    history: i64,
    now: i64,
) -> Result<(BTreeMap<i64, f64>, i64), String> {
    let query = DemandQuery::parse(&source.query).map_err(|e| e.0)?;
    let series = run(store, &source.database, query.bounded(history), now)?;
    Ok((sum_values(&series), query.step))
}

/// The newest closed bucket of `source` as of `now`, the largest across
/// its groups (`None`: no data in the last ten buckets). For KPIs such as
/// latency, where the worst group matters and a sum means nothing.
pub fn latest_worst(store: &Store, source: &DemandSource, now: i64) -> Result<Option<f64>, String> {
    let query = DemandQuery::parse(&source.query).map_err(|e| e.0)?;
    let series = run(store, &source.database, query.bounded(10 * query.step), now)?;
    let mut worst: BTreeMap<i64, f64> = BTreeMap::new();
    for s in &series {
        for row in &s.values {
            let (Some(t), Some(v)) = (row.first().and_then(|t| t.as_i64()), row.get(1).and_then(|v| v.as_f64())) else {
                continue;
            };
            let slot = worst.entry(t).or_insert(f64::NEG_INFINITY);
            *slot = slot.max(v);
        }
    }
    Ok(worst.range(..=now - query.step).next_back().map(|(_, v)| *v).filter(|v| v.is_finite()))
}

/// Reads the demand of one dimension as of `now`.
pub fn read(
    store: &Store,
    source: &DemandSource,
    safety: &Safety,
    lead_time: i64,
    history: i64,
    now: i64,
) -> DemandReading {
    let query = match DemandQuery::parse(&source.query) {
        Ok(q) => q,
        Err(e) => return DemandReading { forecast_error: Some(e.0), ..DemandReading::default() },
    };
    let mut reading = DemandReading { step: query.step, ..DemandReading::default() };
    let plain = query.bounded(history);
    let column = match safety.band_level() {
        Some(level) if level.fract() == 0.0 => format!("upper_{}", level as i64),
        Some(level) => format!("upper_{level}"),
        None => "forecast".to_string(),
    };
    // One read: the forecast of the query hands back the buckets it learned
    // from, which give the usage too.
    let answer = forecast_with_history(
        store,
        &wrap_in_forecast(plain.clone(), safety, lead_time, query.step),
        &context(&source.database, now),
    );
    let (history_series, forecast_series) = match answer {
        Ok(answer) => (answer.history, Ok(answer.forecast)),
        // The forecast failed: read the history alone, so the usage (and
        // the reactive fallback it drives) survives.
        Err(e) => match run(store, &source.database, plain, now) {
            Ok(series) => (series, Err(format!("forecast failed: {e}"))),
            Err(e) => {
                reading.forecast_error = Some(format!("demand query failed: {e}"));
                return reading;
            }
        },
    };
    // Usage: the newest bucket that has closed.
    let sums = sum_values(&history_series);
    reading.history_points = sums.len();
    reading.usage = sums.range(..=now - query.step).next_back().map(|(_, v)| *v);
    if reading.history_points < MIN_HISTORY_POINTS {
        reading.forecast_error = Some(format!(
            "history too short: {} buckets, a forecast needs {MIN_HISTORY_POINTS}",
            reading.history_points
        ));
        return reading;
    }
    match forecast_series {
        Ok(series) => {
            let sums = sum_by_time(&series, &column);
            reading.forecast = sums.range(..=now.saturating_add(lead_time.max(0))).map(|(_, v)| *v).reduce(f64::max);
            if reading.forecast.is_none() {
                reading.forecast_error = Some("the forecast returned no points (too little history?)".into());
            }
        }
        Err(e) => reading.forecast_error = Some(e),
    }
    reading.nightly_search = nightly_search_note(&sums, query.step, history, now);
    if let Some(forecast) = reading.forecast {
        let (bursts, raise_to) = bursts_of(&sums, query.step, now, lead_time);
        reading.bursts = bursts;
        if let Some(height) = raise_to {
            reading.forecast = Some(forecast.max(height));
        }
    }
    reading
}

/// The cadences of the closed buckets of `sums` (a bucket of width `step`
/// per key): the one due soonest, and the height to raise the forecast to
/// when any is due by `now + lead_time` (the highest of those due).
fn bursts_of(sums: &BTreeMap<i64, f64>, step: i64, now: i64, lead_time: i64) -> (Option<BurstReading>, Option<f64>) {
    if step <= 0 {
        return (None, None);
    }
    let closed: Vec<(i64, f64)> = sums.range(..=now - step).map(|(t, v)| (*t, *v)).collect();
    let Some(&(last, _)) = closed.last() else { return (None, None) };
    let daily = cadence::steps_per_day(step);
    // The newest buckets on a regular grid, a missing bucket as a gap.
    let span = (cadence::window(daily) as i64 - 1).saturating_mul(step);
    let first = closed.first().map_or(last, |(t, _)| *t).max(last.saturating_sub(span));
    let len = usize::try_from((last - first) / step + 1).unwrap_or(0);
    let grid = prep::on_grid(closed.iter().copied(), first, step, len);
    let found = cadence::detect_all(&grid, daily);
    let covered = (now.saturating_add(lead_time.max(0)).saturating_sub(last) / step).max(1) as usize;
    let raise_to = cadence::height_due_within(&found, covered);
    let at = |steps: usize| time::format_rfc3339_nano(last.saturating_add((steps as i64).saturating_mul(step)));
    let reading = found.first().map(|c| BurstReading {
        every: duration::format_duration((c.period * step as f64).round() as i64),
        due_from: at(c.due.0),
        due_to: at(c.due.1),
        height: c.height,
        seen: c.bursts,
        raised_forecast: c.due_within(1, covered),
    });
    (reading, raise_to)
}

/// Why the daily search cannot run on the closed buckets of `sums` (a
/// bucket of width `step`) read over `history` as of `now`: `None` when
/// it can, or when the buckets do not divide a day (it never runs then).
fn nightly_search_note(sums: &BTreeMap<i64, f64>, step: i64, history: i64, now: i64) -> Option<String> {
    let needed_points = cadence::daily_points_needed(cadence::steps_per_day(step)?);
    let needed = i64::try_from(needed_points).ok()?.checked_mul(step)?;
    if history < needed {
        return Some(format!(
            "a nightly job needs {} of history to be found; this pool's history is {}",
            duration::format_duration(needed),
            duration::format_duration(history)
        ));
    }
    let closed = sums.range(..=now.saturating_sub(step));
    let (first, last) = (closed.clone().next()?.0, closed.last()?.0);
    let held = last.saturating_sub(*first).saturating_add(step);
    (held < needed).then(|| {
        format!(
            "a nightly job can be found once {} of history exist ({} so far)",
            duration::format_duration(needed),
            duration::format_duration(held)
        )
    })
}

/// The demand query wrapped in `forecast(…)` at the safety's band level,
/// far enough ahead to cover the open bucket and the lead time.
fn wrap_in_forecast(mut select: Select, safety: &Safety, lead_time: i64, step: i64) -> Select {
    let inner = select.fields[0].expr.clone();
    let mut named = Vec::new();
    if let Some(level) = safety.band_level() {
        named.push(("level".to_string(), Expr::Number(level)));
    }
    select.fields[0].expr = Expr::Call {
        name: "forecast".into(),
        args: vec![inner, Expr::Duration(lead_time.max(0).saturating_add(step.saturating_mul(2)))],
        named,
    };
    select.fields[0].alias = None;
    select.fill = Default::default();
    select
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_are_read_on_the_bucket_grid_with_gaps_and_any_bucket_width() {
        const MIN: i64 = 60_000_000_000;
        // One-bucket bursts every 20 minutes, some quiet buckets missing.
        let sums: BTreeMap<i64, f64> = (0..200i64)
            .filter(|i| i % 7 != 3)
            .map(|i| (i * MIN, if i % 20 == 5 { 50.0 } else { 1.0 + 0.1 * (i % 2) as f64 }))
            .collect();
        // Buckets up to minute 199 are closed at minute 200. The burst of
        // minute 185 fell in a missing bucket (one miss is forgiven), so
        // the next is due at 205 ± 1.
        let (b, raise_to) = bursts_of(&sums, MIN, 200 * MIN, 10 * MIN);
        let b = b.expect("a cadence");
        assert_eq!(raise_to, Some(50.0));
        assert_eq!((b.every.as_str(), b.height), ("20m0s", 50.0));
        assert_eq!((b.due_from.as_str(), b.due_to.as_str()), ("1970-01-01T03:24:00Z", "1970-01-01T03:26:00Z"));
        assert!(b.raised_forecast, "due by 200 + 10 minutes: {b:?}");
        let (b, raise_to) = bursts_of(&sums, MIN, 200 * MIN, 2 * MIN);
        assert!(!b.expect("a cadence").raised_forecast);
        assert_eq!(raise_to, None);
        // Bucket widths and times at the edges of i64 do not overflow.
        let huge = i64::MAX / 100;
        let sums: BTreeMap<i64, f64> = (0..50i64).map(|i| (i * huge / 60, 1.0)).collect();
        assert_eq!(bursts_of(&sums, huge / 60, i64::MAX - 1, i64::MAX), (None, None));
        assert_eq!(bursts_of(&BTreeMap::new(), MIN, 0, MIN), (None, None));
        assert_eq!(bursts_of(&sums, 0, 0, MIN), (None, None));
    }

    #[test]
    fn a_history_too_short_for_the_nightly_search_says_what_it_needs() {
        const MIN: i64 = 60_000_000_000;
        const DAY: i64 = 24 * 60 * MIN;
        let step = 5 * MIN;
        let days = |n: i64| -> BTreeMap<i64, f64> { (0..n * DAY / step).map(|i| (i * step, 1.0)).collect() };
        // 4 days of links, 8 baseline points and the newest: 4 days 45 minutes.
        let note = |sums: &BTreeMap<i64, f64>, history: i64| {
            let now = sums.keys().next_back().map_or(0, |t| t + step);
            nightly_search_note(sums, step, history, now)
        };
        assert_eq!(
            note(&days(7), 3 * DAY).as_deref(),
            Some("a nightly job needs 96h45m0s of history to be found; this pool's history is 72h0m0s")
        );
        assert_eq!(
            note(&days(2), 7 * DAY).as_deref(),
            Some("a nightly job can be found once 96h45m0s of history exist (48h0m0s so far)")
        );
        assert_eq!(note(&days(5), 7 * DAY), None, "enough history");
        // Buckets that do not divide a day are never searched, and nothing
        // is said; no data yet says nothing either.
        assert_eq!(nightly_search_note(&days(2), 7 * MIN, 7 * DAY, 2 * DAY), None);
        assert_eq!(note(&BTreeMap::new(), 7 * DAY), None);
    }

    #[test]
    fn demand_queries_must_be_grouped_aggregates() {
        let q = DemandQuery::parse("SELECT sum(cpu) FROM usage WHERE service = 'web' GROUP BY time(1m), host")
            .expect("valid");
        assert_eq!(q.step, 60_000_000_000);
        assert_eq!(q.databases("infra"), vec!["infra".to_string()]);
        let q = DemandQuery::parse("SELECT sum(cpu) FROM other..usage GROUP BY time(1m)").expect("valid");
        assert_eq!(q.databases("infra"), vec!["other".to_string()]);
        for (text, fault) in [
            ("SELECT sum(cpu) FROM usage", "GROUP BY time"),
            ("SELECT cpu FROM usage GROUP BY time(1m)", "aggregate"),
            ("SELECT sum(cpu) / 100 FROM usage GROUP BY time(1m)", "no arithmetic"),
            ("SELECT sum(a), sum(b) FROM usage GROUP BY time(1m)", "exactly one field"),
            ("SELECT sum(a) INTO x FROM usage GROUP BY time(1m)", "INTO"),
            ("SHOW DATABASES", "one SELECT"),
            ("SELEC", "expected SELECT"),
        ] {
            let err = DemandQuery::parse(text).expect_err(text);
            assert!(err.0.contains(fault), "{text}: {err}");
        }
    }
}
