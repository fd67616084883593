//! The LSTM forecaster's settings.
//!
//! Why these defaults: a 48-step window (4 h of 5-minute data) plus the
//! calendar features is enough context for server metrics while keeping a
//! training step cheap on two CPU cores; 24 outputs cover 2 h of 5-minute
//! data in one forward pass (longer horizons are reached recursively).
//! 120 Adam steps of 64 windows (plus 30 fine-tune steps) keep one fit at
//! about 7 s in release on one core (47 ms a step, docs/benchmarks.md),
//! which the eval's refits and a `forecast(..., model => 'lstm')` query can
//! afford; tests use far smaller budgets.

use serde::{Deserialize, Serialize};

/// Hyper-parameters of the LSTM forecaster (single-series and global).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LstmConfig {
    /// Input window in steps.
    pub window: usize,
    /// LSTM hidden size.
    pub hidden: usize,
    /// Steps predicted by one forward pass (direct multi-output).
    pub outputs: usize,
    /// Windows per training step.
    pub batch: usize,
    /// Adam steps of the main training phase (a quarter more fine-tune on
    /// the most recent windows after calibration).
    pub steps: usize,
    /// Adam's learning rate at the start (it decays linearly to a tenth).
    pub learning_rate: f64,
    /// Seed of the weight init and of the batch sampling.
    pub seed: u64,
    /// At most this many steps at the end of each series are held out to
    /// measure the forecast errors that the bands are drawn from.
    pub calibration: usize,
}

impl Default for LstmConfig {
    fn default() -> Self {
        Self {
            window: 48,
            hidden: 32,
            outputs: 24,
            batch: 64,
            steps: 120,
            learning_rate: 5e-3,
            seed: 1,
            calibration: 576,
        }
    }
}

impl LstmConfig {
    /// A tiny, fast configuration for tests and the `gpu` smoke test.
    pub fn tiny() -> Self {
        Self { window: 12, hidden: 8, outputs: 6, batch: 16, steps: 20, learning_rate: 1e-2, seed: 1, calibration: 48 }
    }

    /// Checks that every size is usable.
    pub fn check(&self) -> Result<(), super::super::ForecastError> {
        let ok = self.window >= 2
            && (1..=4096).contains(&self.hidden)
            && (1..=4096).contains(&self.outputs)
            && self.window <= 100_000
            && (1..=65_536).contains(&self.batch)
            && self.learning_rate.is_finite()
            && self.learning_rate > 0.0;
        if ok {
            Ok(())
        } else {
            Err(super::super::ForecastError::InvalidParameter(format!("invalid LSTM configuration {self:?}")))
        }
    }

    /// The shortest usable history: a window, the outputs, the calibration
    /// tail (at least `outputs`) and a few training windows.
    pub fn min_history(&self) -> usize {
        self.window + 2 * self.outputs + 8
    }
}
