//! The continuous query scheduler: runs each stored continuous query when
//! it is due, on the server's runtime, until shutdown.
//!
//! One task sleeps until the earliest due time of any query (at most
//! `run_interval`, so queries created meanwhile are noticed), then runs
//! one [`pass()`] on the blocking pool (queries read and write the store).
//! When, what range, and the persisted watermark are [`augur_query::cq`]'s
//! business; this module only decides *when to look* and stops cleanly: a
//! pass in progress finishes (its watermark written) before the task ends,
//! so the store is flushed after the last write of the last run.
//! What continuous forecasts report (anomalies) goes to a
//! [`NoticeSink`], which publishes webhook events.

mod notices;
mod pass;

use std::sync::Arc;
use std::time::Duration;

use augur_engine::storage::Store;
use augur_query::exec::cancel::CancelToken;
use augur_query::exec::continuous::ContinuousForecastSettings;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::clock::now_ns;
use crate::config::ContinuousQueriesConfig;
use crate::monitor::Metrics;

pub use notices::NoticeSink;
pub use pass::{pass, pass_with, PassContext};

/// Starts the scheduler; it ends when `shutdown` turns true (or its sender
/// is dropped). Disabled in the configuration: a task that only waits.
pub fn spawn(
    store: Store,
    config: ContinuousQueriesConfig,
    forecast: ContinuousForecastSettings,
    metrics: Arc<Metrics>,
    notices: Option<Arc<NoticeSink>>,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let ctx = PassContext { forecast, cancel: CancelToken::default(), metrics, notices };
    // Shutdown also cancels a continuous forecast waiting for the fit pool.
    let (cancel, mut stopping) = (ctx.cancel.clone(), shutdown.clone());
    tokio::spawn(async move {
        let _ = stopping.wait_for(|stop| *stop).await;
        cancel.cancel();
    });
    tokio::spawn(async move {
        if !config.enabled {
            tracing::info!("continuous queries are disabled");
            let _ = shutdown.wait_for(|stop| *stop).await;
            return;
        }
        let max_catch_up = i64::try_from(config.max_catch_up.as_nanos()).unwrap_or(i64::MAX);
        loop {
            let (store, ctx) = (store.clone(), ctx.clone());
            let next_due =
                match tokio::task::spawn_blocking(move || pass_with(&store, now_ns(), max_catch_up, &ctx)).await {
                    Ok(next) => next,
                    Err(err) => {
                        tracing::error!(error = %err, "continuous query pass panicked or was cancelled");
                        None
                    }
                };
            let wait = wait_until(next_due, now_ns(), config.run_interval);
            let stop = tokio::select! {
                () = tokio::time::sleep(wait) => false,
                // Err (sender gone) also means stop.
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => true,
            };
            if stop {
                return;
            }
        }
    })
}

/// How long to sleep before the next pass: until the next due time, but
/// never longer than `run_interval` (and at least a millisecond, so a clock
/// that lags the due time cannot spin).
fn wait_until(next_due: Option<i64>, now: i64, run_interval: Duration) -> Duration {
    let until_due =
        next_due.map_or(run_interval, |due| Duration::from_nanos(u64::try_from(due.saturating_sub(now)).unwrap_or(0)));
    until_due.min(run_interval).max(Duration::from_millis(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_for_the_next_due_time_within_the_run_interval() {
        let second = Duration::from_secs(1);
        assert_eq!(wait_until(Some(1_500_000_000), 1_000_000_000, second), Duration::from_millis(500));
        assert_eq!(wait_until(Some(9_000_000_000), 1_000_000_000, second), second);
        assert_eq!(wait_until(None, 0, second), second);
        assert_eq!(wait_until(Some(0), 5, second), Duration::from_millis(1));
    }
}
