//! The demo's terminal output: one line per status or event, each
//! prefixed with the seconds since the workload started, written whole
//! (the receiver and the workload print from different tasks).

use std::io::Write as _;
use std::time::Instant;

/// Prints timestamped lines to standard output; cheap to clone.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    start: Instant,
}

impl Output {
    /// Counts seconds from now.
    pub fn new() -> Output {
        Output { start: Instant::now() }
    }

    /// Prints `line` with its `[  +12s]` prefix. A closed stdout (the
    /// terminal went away) is ignored: the demo stops on its own signal.
    pub fn line(&self, line: &str) {
        let secs = self.start.elapsed().as_secs();
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "[{secs:>4}s] {line}");
        let _ = out.flush();
    }

    /// Prints `text` as is (the banner).
    pub fn plain(&self, text: &str) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{text}");
        let _ = out.flush();
    }
}

impl Default for Output {
    fn default() -> Self {
        Output::new()
    }
}
