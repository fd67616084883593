//! The forecasting engine: models that learn a regularly sampled history
//! and predict its next steps with calibrated prediction bands.
//!
//! Why one trait: the query engine (`forecast()`), continuous forecasts, the
//! model registry and the allocation loop all treat models alike — fit on a
//! history, predict `h` steps with a mean and quantile bands, absorb new
//! points without a full refit, and be saved and restored byte for byte.
//!
//! Conventions shared by every model:
//! * A history is a slice of `f64` on a regular grid, oldest first;
//!   `NaN` marks a missing step (a gap). Models fill or mask gaps themselves.
//! * Band levels are central coverage percentages (`95.0` = the 2.5% and
//!   97.5% quantiles).
//! * Errors are [`ForecastError`]; nothing reachable from user input panics.

pub mod anomaly;
pub mod ar;
pub mod auto;
pub mod bands;
pub mod cache;
pub mod cadence;
pub mod calibrate;
pub mod ensemble;
pub mod ets;
pub mod eval;
pub mod lstm;
pub mod memo;
pub mod mstl;
pub mod naive;
pub mod optim;
mod persist;
pub mod prep;
pub mod registry;
pub mod season;
pub mod snaive;

use serde::{Deserialize, Serialize};

pub mod arima;

pub mod pool;
pub mod store;

/// Nanoseconds in a day: the calendar period the forecasters' daily
/// features, the model cache and the nightly-job search count in.
pub const DAY_NS: i64 = 86_400_000_000_000;

/// Why a model could not be fitted, updated or used.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ForecastError {
    /// The history has fewer usable points than the model needs.
    #[error("history too short: {got} usable points, {model} needs at least {need}")]
    TooShort {
        /// The model's name.
        model: &'static str,
        /// Usable (non-NaN) points given.
        got: usize,
        /// Minimum the model needs.
        need: usize,
    },
    /// The history has no finite value at all.
    #[error("history has no finite values")]
    NoData,
    /// A parameter is out of range (horizon 0, level outside (0, 100), ...).
    #[error("invalid forecast parameter: {0}")]
    InvalidParameter(String),
    /// `predict` or `update` was called before `fit`.
    #[error("model {0} is not fitted")]
    NotFitted(&'static str),
    /// A saved model could not be read back.
    #[error("cannot restore model: {0}")]
    Restore(String),
}

/// One prediction band: the central `level`% interval at every step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    /// Coverage percentage, e.g. `95.0`.
    pub level: f64,
    /// Lower bound at each step.
    pub lower: Vec<f64>,
    /// Upper bound at each step.
    pub upper: Vec<f64>,
}

/// What a model predicts for the next `h` steps after the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    /// Point forecast (the mean) at each step `1..=h`.
    pub mean: Vec<f64>,
    /// One band per requested level, in the order requested.
    pub bands: Vec<Band>,
}

impl Prediction {
    /// The band at `level`, if it was requested.
    pub fn band(&self, level: f64) -> Option<&Band> {
        self.bands.iter().find(|b| (b.level - level).abs() < 1e-9)
    }
}

/// The default band levels the engine reports.
pub const DEFAULT_LEVELS: [f64; 4] = [50.0, 80.0, 95.0, 99.0];

/// Hints a caller can give a model; every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FitOptions {
    /// Seasonal periods in steps (e.g. `[288]` for a daily season of
    /// 5-minute data). Empty = detect automatically.
    pub seasons: Vec<usize>,
    /// Absolute index of the history's first step on the grid
    /// (`start_time / step`), so that seasonal phases and calendar features
    /// line up across refits. `None` = 0.
    pub origin_index: Option<i64>,
    /// The grid step in nanoseconds, for calendar features. `None` = unknown.
    pub step_ns: Option<i64>,
    /// The caller uses only the point forecasts (an ensemble member, whose
    /// bands the ensemble measures itself): models may skip measuring
    /// their own error bands, which is most of a simple model's fit.
    /// Their bands are then Gaussian placeholders of zero width.
    #[serde(default)]
    pub means_only: bool,
}

/// The contract every forecasting model keeps.
pub trait Forecaster: Send + Sync {
    /// The model's short name (`naive`, `snaive`, `ets`, `mstl`, `arima`, `lstm`, `ensemble`).
    fn name(&self) -> &'static str;

    /// Learns `history` (oldest first, `NaN` = missing), replacing any
    /// earlier fit.
    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError>;

    /// Predicts the `horizon` steps after the last point seen, with one band
    /// per entry of `levels`. Bands widen (never narrow) with the horizon.
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError>;

    /// Writes the point forecast of the next `out.len()` steps into `out`:
    /// exactly `predict(out.len(), &[])`'s mean. Backtests and the
    /// ensemble's drift tracking ask for it at every step, so the models
    /// they combine write it in place instead of allocating a prediction.
    fn predict_mean_into(&self, out: &mut [f64]) -> Result<(), ForecastError> {
        let p = self.predict(out.len(), &[])?;
        out.iter_mut().zip(p.mean).for_each(|(o, v)| *o = v);
        Ok(())
    }

    /// Absorbs points that follow the history (continuous learning) without
    /// re-estimating parameters: states roll forward, so a later `predict`
    /// starts after the new points.
    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError>;

    /// The fitted model as a [`SavedModel`], to store and restore.
    fn save(&self) -> Result<SavedModel, ForecastError>;

    /// Whether an ensemble that chose this model by backtest should refit
    /// it on the whole history (its backtest fit saw only the history
    /// minus the tail). True for models whose refit is cheap and keeps
    /// their structure, so the parameters learn the latest regime (after a
    /// level shift in the tail); false where a refit may pick another
    /// structure than the one the backtest scored (ETS variants).
    fn refit_when_chosen(&self) -> bool {
        false
    }

    /// The in-sample one-step-ahead fitted values of the last fit (one per
    /// history step), for models that keep them; `None` otherwise.
    /// `holt_winters_with_fit()` reports them.
    fn fitted(&self) -> Option<Vec<f64>> {
        None
    }

    /// The factors online band calibration ([`calibrate`]) applies to the
    /// model's bands now, one per level of
    /// [`calibrate::TRACKED_LEVELS`]; `None` for models that do not
    /// calibrate.
    fn band_scales(&self) -> Option<Vec<f64>> {
        None
    }

    /// Starts band calibration from `scales` (as [`Forecaster::band_scales`]
    /// gives them) instead of 1, for models that calibrate: a refit of a
    /// series whose bands were found too wide or too narrow keeps that
    /// finding.
    fn resume_band_scales(&mut self, _scales: &[f64]) {}
}

/// A model serialized for the model registry: its kind, a format version
/// and its state as JSON (readable, diffable, and stable across releases
/// because each model's state struct is versioned on its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedModel {
    /// The model's [`Forecaster::name`].
    pub kind: String,
    /// The state format version of that model.
    pub version: u32,
    /// The model's state.
    pub state: serde_json::Value,
}

impl SavedModel {
    /// Encodes the saved model as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serializing a struct of strings, integers and a JSON value cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes bytes written by [`SavedModel::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ForecastError> {
        serde_json::from_slice(bytes).map_err(|e| ForecastError::Restore(e.to_string()))
    }
}

/// Helpers the models' tests share.
#[cfg(test)]
pub(crate) mod test_util {
    /// `n` deterministic pseudo-random values in [-0.5, 0.5) (an LCG seeded by `seed`).
    pub(crate) fn noise(n: usize, seed: u64) -> Vec<f64> {
        let mut x = seed;
        (0..n)
            .map(|_| {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5
            })
            .collect()
    }

    /// Up to `max_len` values that stress a model: any `f64` (NaN, ±∞,
    /// huge, subnormal), NaN gaps, and ordinary values.
    pub(crate) fn wild_values(max_len: usize) -> impl proptest::strategy::Strategy<Value = Vec<f64>> {
        proptest::collection::vec(
            proptest::prop_oneof![proptest::prelude::any::<f64>(), proptest::prelude::Just(f64::NAN), -1e3..1e3f64],
            0..max_len,
        )
    }
}
