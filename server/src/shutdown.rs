//! Shutdown signals: SIGTERM and SIGINT.
//!
//! The handlers are installed before the server binds, so a signal that
//! arrives during startup is not lost (and does not kill the process with
//! the default action before the store is flushed).

use tokio::signal::unix::{signal, Signal, SignalKind};

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
