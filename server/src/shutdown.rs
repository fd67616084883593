//! Shutdown: SIGTERM and SIGINT, and the periodic loop every background
//! task runs until shutdown begins.
//!
//! The handlers are installed before the server binds, so a signal that
//! arrives during startup is not lost (and does not kill the process with
//! the default action before the store is flushed).

use std::future::Future;
use std::time::Duration;

use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

/// Runs `tick` every `period` (the first at once) until `shutdown` turns
/// true or its sender is dropped; a tick in progress finishes first. Late
/// ticks are delayed, not bunched.
pub async fn every<F, Fut>(period: Duration, mut shutdown: watch::Receiver<bool>, mut tick: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = ()>,
{
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = ticker.tick() => {}
            // Err (sender gone) also means stop.
            () = async { let _ = shutdown.wait_for(|stop| *stop).await; } => return,
        }
        tick().await;
    }
}

/// The installed SIGTERM and SIGINT handlers.
pub struct ShutdownSignals {
    term: Signal,
    int: Signal,
}

impl ShutdownSignals {
    /// Installs the handlers. Must be called inside a Tokio runtime.
    pub fn install() -> std::io::Result<ShutdownSignals> {
        Ok(ShutdownSignals { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    /// Waits for the first signal; resolves to its name, for the log.
    pub async fn recv(mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
