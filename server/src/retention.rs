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

use crate::clock::now_ns;

/// Starts the task; it ends when `shutdown` turns true (or its sender is
/// dropped).
pub fn spawn(store: Store, every: Duration, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(async move { crate::shutdown::every(every, shutdown, || enforce_once(&store)).await })
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
