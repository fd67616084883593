//! One pass of the scheduler: run every continuous query that is due.
//!
//! Order of effects per query: the run's points are written (durably,
//! through the store's normal write path) *before* its new watermark is
//! stored. A crash between the two makes the next start run the same range
//! again, which rewrites the same points at the same times (an overwrite,
//! not a second row); the reverse order could lose a range. So no interval
//! is lost and none is stored twice.

use std::sync::Arc;
use std::time::Instant;

use augur_engine::storage::Store;
use augur_query::cq::{self, ContinuousQuery, Schedule};
use augur_query::exec::cancel::CancelToken;
use augur_query::exec::continuous::{self, ContinuousForecastSettings};
use augur_query::exec::ExecError;
use augur_query::time::format_rfc3339_nano;

use crate::monitor::Metrics;

/// What a pass needs besides the store and the clock.
#[derive(Debug, Clone, Default)]
pub struct PassContext {
    /// How continuous forecasts keep and retrain their models.
    pub forecast: ContinuousForecastSettings,
    /// Fires at shutdown: continuous forecasts waiting for the fit pool stop.
    pub cancel: CancelToken,
    /// Runs, failures, lag and training counts go here.
    pub metrics: Arc<Metrics>,
    /// Where continuous forecasts' notices (anomalies) go; `None` = dropped.
    pub notices: Option<Arc<super::NoticeSink>>,
}

/// Runs the due queries at `now` (each reaching back at most `max_catch_up`
/// ns); returns the earliest time any query is due next (`None`: no query).
pub fn pass(store: &Store, now: i64, max_catch_up: i64) -> Option<i64> {
    pass_with(store, now, max_catch_up, &PassContext::default())
}

/// [`pass`] with the forecast settings and the shutdown token.
pub fn pass_with(store: &Store, now: i64, max_catch_up: i64, ctx: &PassContext) -> Option<i64> {
    let queries = match cq::list(store) {
        Ok(queries) => queries,
        Err(err) => {
            tracing::error!(error = %err, "cannot load continuous queries");
            return None;
        }
    };
    queries.iter().filter_map(|query| run_if_due(store, query, now, max_catch_up, ctx)).min()
}

/// Runs one query if it is due; returns when it is due next.
fn run_if_due(store: &Store, query: &ContinuousQuery, now: i64, max_catch_up: i64, ctx: &PassContext) -> Option<i64> {
    let (db, name) = (query.database(), query.name());
    if !store.database_exists(db) {
        return None;
    }
    let schedule = Schedule::of(&query.statement)?;
    let last_run = match cq::last_run(store, db, name) {
        Ok(Some(t)) => t,
        // Never ran: as if it ran when it was created.
        Ok(None) => schedule.last_run_after(query.created_ns),
        Err(err) => {
            tracing::error!(cq = name, db, error = %err, "cannot read the continuous query's watermark");
            return None;
        }
    };
    let due = schedule.next_run(last_run);
    if due > now {
        return Some(due);
    }
    ctx.metrics.cq_lag_seconds.set(now.saturating_sub(due) as f64 / 1e9);
    if let Some((start, end)) = schedule.window(due, now) {
        let start = limit_catch_up(start, end, schedule.interval, max_catch_up);
        if start < end && !run(store, query, start, end, now, ctx) {
            // Cancelled at shutdown: the same range runs after the restart.
            return None;
        }
    }
    let last_run = schedule.last_run_after(now);
    if let Err(err) = cq::set_last_run(store, db, name, last_run) {
        tracing::error!(cq = name, db, error = %err, "cannot store the continuous query's watermark");
    }
    Some(schedule.next_run(last_run))
}

/// `start`, moved forward by whole intervals so the range reaches back at
/// most `max_catch_up` from `end`.
fn limit_catch_up(start: i64, end: i64, interval: i64, max_catch_up: i64) -> i64 {
    let floor = end.saturating_sub(max_catch_up);
    if start >= floor || interval <= 0 {
        return start;
    }
    let gap = floor - start;
    let skipped = gap / interval + i64::from(gap % interval != 0);
    let limited = start.saturating_add(skipped.saturating_mul(interval));
    tracing::warn!(
        skipped_intervals = skipped,
        from = %format_rfc3339_nano(start),
        to = %format_rfc3339_nano(limited),
        "continuous query catch-up limited by continuous_queries.max_catch_up"
    );
    limited
}

/// Runs one range; false when it was cancelled (the watermark must stay).
fn run(store: &Store, query: &ContinuousQuery, start: i64, end: i64, now: i64, ctx: &PassContext) -> bool {
    let (db, name) = (query.database(), query.name());
    let metrics = &ctx.metrics;
    if continuous::is_forecast(&query.statement.select) {
        let started = Instant::now();
        let outcome = continuous::run_window(store, query, end, now, &ctx.forecast, &ctx.cancel);
        if !matches!(outcome, Err(ExecError::Cancelled(_))) {
            metrics.cq_runs.inc();
            metrics.forecast_run_seconds.observe(started.elapsed().as_secs_f64());
        }
        return match outcome {
            Ok(mut run) => {
                metrics.trainings.add(run.trained as u64);
                for seconds in &run.training_seconds {
                    metrics.training_seconds.observe(*seconds);
                }
                let notices = std::mem::take(&mut run.notices);
                if !notices.is_empty() {
                    tracing::info!(cq = name, db, notices = notices.len(), "continuous forecast has notices");
                }
                if let Some(sink) = &ctx.notices {
                    sink.publish(notices);
                }
                tracing::info!(
                    cq = name,
                    db,
                    origin = %format_rfc3339_nano(end),
                    written = run.written,
                    trained = run.trained,
                    updated = run.updated,
                    failed = run.failed,
                    "continuous forecast ran"
                );
                true
            }
            Err(ExecError::Cancelled(_)) => false,
            Err(err) => {
                metrics.cq_failures.inc();
                tracing::warn!(cq = name, db, end, error = %err, "continuous forecast failed");
                true
            }
        };
    }
    metrics.cq_runs.inc();
    match cq::run_window(store, query, start, end, now) {
        Ok(written) => tracing::info!(
            cq = name,
            db,
            start,
            end,
            written,
            range = %format!("{} to {}", format_rfc3339_nano(start), format_rfc3339_nano(end)),
            "continuous query ran"
        ),
        // InfluxDB moves on too: a failing query would fail again.
        Err(err) => {
            metrics.cq_failures.inc();
            tracing::warn!(cq = name, db, start, end, error = %err, "continuous query failed")
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use augur_engine::model::Precision;
    use augur_engine::storage::StoreOptions;
    use augur_query::{execute, parse_query, ExecutionContext};

    const S: i64 = 1_000_000_000;

    fn exec(store: &Store, q: &str, now: i64) -> String {
        let query = parse_query(q).expect("parses");
        let ctx = ExecutionContext { database: Some("d".into()), now: Some(now), epoch: Some(1), ..Default::default() };
        serde_json::to_string(&execute(store, &query, &ctx)).expect("json")
    }

    #[test]
    fn limits_catch_up_to_whole_intervals() {
        assert_eq!(limit_catch_up(0, 100, 10, 1_000), 0);
        assert_eq!(limit_catch_up(0, 100, 10, 35), 70);
        assert_eq!(limit_catch_up(0, 100, 10, 40), 60);
    }

    #[test]
    fn runs_each_interval_once_across_passes_and_restarts() {
        let dir = tempfile::tempdir().expect("tempdir");
        let base = 1_000 * S;
        {
            let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
            exec(&store, "CREATE DATABASE d", base);
            let lines: Vec<String> = (0..20).map(|i| format!("src v={i} {}", base + i * S / 2)).collect();
            let points = augur_engine::lineproto::parse(lines.join("\n").as_bytes(), Precision::Nanoseconds).points;
            store.write("d", None, &points, base).expect("write");
            let created = exec(
                &store,
                "CREATE CONTINUOUS QUERY c ON d BEGIN SELECT count(v) INTO dst FROM src GROUP BY time(1s) END",
                base + S / 10,
            );
            assert_eq!(created, r#"{"results":[{"statement_id":0}]}"#);
            // Not due yet.
            assert_eq!(pass(&store, base + S / 2, i64::MAX), Some(base + S));
            assert_eq!(pass(&store, base + S + 1, i64::MAX), Some(base + 2 * S));
        }
        // "Down" for 5 s: the first pass after reopening runs the 5 missed intervals.
        let store = Store::open(dir.path(), StoreOptions::default()).expect("reopen");
        assert_eq!(pass(&store, base + 6 * S + 1, i64::MAX), Some(base + 7 * S));
        assert_eq!(pass(&store, base + 6 * S + 2, i64::MAX), Some(base + 7 * S), "nothing due twice");
        let out = exec(&store, "SELECT count FROM dst", base + 7 * S);
        let expected: Vec<String> = (0..6).map(|i| format!("[{},2]", base + i * S)).collect();
        assert!(out.contains(&format!("\"values\":[{}]", expected.join(","))), "{out}");
        assert_eq!(cq::last_run(&store, "d", "c").expect("mark"), Some(base + 6 * S));
    }
}
