//! The background task that drops expired data.
//!
//! Every `retention_check_interval` (and once at startup, for data that
//! expired while the server was down) it asks the store to enforce each
//! retention policy. It runs on the blocking pool because the store does
//! disk I/O, and stops when shutdown begins.

use std::time::Duration;

use augur_engine::storage::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::MissedTickBehavior;

use crate::clock::now_ns;

/// Starts the task; it ends when `shutdown` turns true (or its sender is
/// dropped).
pub fn spawn(store: Store, every: Duration, mut shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(every);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            let stop = tokio::select! {
                _ = ticker.tick() => false,
                // Err (sender gone) also means stop.
                () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => true,
            };
            if stop {
                return;
            }
            enforce_once(&store).await;
        }
    })
}

/// One enforcement pass, logged.
async fn enforce_once(store: &Store) {
    let store = store.clone();
    let now = now_ns();
    match tokio::task::spawn_blocking(move || store.enforce_retention(now)).await {
        Ok(Ok(0)) => tracing::debug!("retention: nothing expired"),
        Ok(Ok(dropped)) => tracing::info!(windows_dropped = dropped, "retention: dropped expired data"),
        Ok(Err(err)) => tracing::error!(error = %err, "retention enforcement failed"),
        Err(err) => tracing::error!(error = %err, "retention task panicked or was cancelled"),
    }
}
