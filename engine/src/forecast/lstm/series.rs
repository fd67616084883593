//! One history made ready for the network: cleaned, gap-filled, scaled and
//! tagged with its calendar.
//!
//! Why its own step: the single-series model, the global model's training
//! and its batch inference all start from a raw history and
//! [`FitOptions`]; doing it once here keeps their scaling and calendars
//! identical.

use super::super::prep::{fill_linear, prepare};
use super::super::{season, FitOptions, ForecastError};
use super::features::{rows, Calendar, Scaler, FEATURES};

/// A history ready for training and inference.
#[derive(Debug, Clone)]
pub struct Series {
    /// Scaled values, gaps interpolated.
    pub z: Vec<f64>,
    /// The absolute grid index of `z[0]`.
    pub first_index: i64,
    /// The series' calendar.
    pub calendar: Calendar,
    /// The series' scaling.
    pub scaler: Scaler,
    /// Whether every value seen is `>= 0` (forecasts are clamped at 0).
    pub nonneg: bool,
    /// The input rows of every step (`z.len() * FEATURES`; empty unless built for training).
    pub rows: Vec<f32>,
}

impl Series {
    /// Cleans `history`; `min_len` is the model's minimum number of steps.
    /// `Ok(Err(c))` for a constant history (value `c`). The input rows of
    /// every step are built only `for_training` (inference builds the last
    /// window's itself).
    pub fn new(
        history: &[f64],
        options: &FitOptions,
        min_len: usize,
        for_training: bool,
    ) -> Result<Result<Self, f64>, ForecastError> {
        let p = prepare(history)?;
        if p.constant {
            let c = p.values.iter().copied().find(|v| v.is_finite()).ok_or(ForecastError::NoData)?;
            return Ok(Err(c));
        }
        if p.values.len() < min_len || p.finite < min_len / 2 {
            return Err(ForecastError::TooShort { model: "lstm", got: p.finite, need: min_len });
        }
        let scaler = Scaler::of(&p.values).ok_or(ForecastError::NoData)?;
        let filled = fill_linear(&p.values);
        let detected = if options.step_ns.is_none() && options.seasons.is_empty() {
            season::detect(&p.values)
        } else {
            Vec::new()
        };
        let calendar = Calendar::new(options, &detected);
        let first_index = options.origin_index.unwrap_or(0).wrapping_add(p.skipped as i64);
        let z: Vec<f64> = filled.iter().map(|&v| scaler.scale(v)).collect();
        let mut r = Vec::new();
        if for_training {
            r.reserve(z.len() * FEATURES);
            rows(&z, first_index, &calendar, &mut r);
        }
        Ok(Ok(Self { z, first_index, calendar, scaler, nonneg: p.nonneg, rows: r }))
    }

    /// The input rows of the window ending (exclusively) at step `end`.
    pub fn window_rows(&self, end: usize, window: usize) -> &[f32] {
        &self.rows[(end - window) * FEATURES..end * FEATURES]
    }
}
