//! The global LSTM: one network trained across many series (one per
//! service or account), forecasting a whole batch of them in one pass.
//!
//! Why: per-account forecasting does not scale one model per series —
//! thousands of fits, each on too little data to learn a daily profile.
//! A global model learns the shape of load once from all series (each
//! scaled by its own median and deviation, so level and unit do not matter)
//! and then forecasts any series, including ones it never saw, from its
//! recent window and calendar: inference for 1,000 series is one forward
//! pass (`cargo bench -p augur-bench --bench lstm`, figures in
//! docs/benchmarks.md).
//!
//! Each series given to [`GlobalLstm::predict_many`] is scaled by its own
//! history and answered on its own: a constant, all-NaN or too-short
//! history gets its own error (or its constant) without failing the batch.

use serde::{Deserialize, Serialize};

use super::super::bands::ErrorProfile;
use super::super::prep::check_request;
use super::super::{persist, FitOptions, ForecastError, Prediction, SavedModel};
use super::config::LstmConfig;
use super::model::{Model, Target};
use super::series::Series;

const VERSION: u32 = 1;

/// One series' history with its grid hints.
#[derive(Debug, Clone, Copy)]
pub struct History<'a> {
    /// Values on a regular grid, oldest first (`NaN` = missing).
    pub values: &'a [f64],
    /// Its grid hints (origin index, step, seasons).
    pub options: &'a FitOptions,
}

/// What [`GlobalLstm::fit_many`] trained on.
#[derive(Debug, Clone, PartialEq)]
pub struct FitSummary {
    /// Series trained on.
    pub used: usize,
    /// Series skipped (constant, too short or empty).
    pub skipped: usize,
    /// Final training loss (mean absolute error in scaled units).
    pub loss: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    cfg: LstmConfig,
    profile: ErrorProfile,
    weights: String,
}

/// A global LSTM model across many series.
#[derive(Debug, Default)]
pub struct GlobalLstm {
    cfg: LstmConfig,
    model: Option<Model>,
}

impl GlobalLstm {
    /// An untrained global model with `cfg`.
    pub fn new(cfg: LstmConfig) -> Self {
        Self { cfg, model: None }
    }

    /// Trains one network on every usable series of `histories`;
    /// constant and too-short series are skipped, and an error is returned
    /// only when none is usable.
    pub fn fit_many(&mut self, histories: &[History<'_>]) -> Result<FitSummary, ForecastError> {
        self.cfg.check()?;
        let mut series = Vec::with_capacity(histories.len());
        let mut first_err = None;
        for h in histories {
            match Series::new(h.values, h.options, self.cfg.min_history(), true) {
                Ok(Ok(s)) => series.push(s),
                Ok(Err(_)) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if series.is_empty() {
            return Err(first_err.unwrap_or(ForecastError::NoData));
        }
        let model = Model::train(&self.cfg, &series)?;
        let summary = FitSummary { used: series.len(), skipped: histories.len() - series.len(), loss: model.loss };
        self.model = Some(model);
        Ok(summary)
    }

    /// Forecasts every history `horizon` steps ahead with bands at
    /// `levels`, all usable ones in one batch. The outer error is a bad
    /// request or an untrained model; each series has its own result.
    pub fn predict_many(
        &self,
        histories: &[History<'_>],
        horizon: usize,
        levels: &[f64],
    ) -> Result<Vec<Result<Prediction, ForecastError>>, ForecastError> {
        check_request(horizon, levels)?;
        let model = self.model.as_ref().ok_or(ForecastError::NotFitted("lstm"))?;
        // A series needs one window (no training tail) to be forecast.
        let need = model.cfg.window + 1;
        let mut out: Vec<Result<Prediction, ForecastError>> = Vec::with_capacity(histories.len());
        let mut targets = Vec::new();
        let mut slots = Vec::new();
        for h in histories {
            match Series::new(h.values, h.options, need, false) {
                Ok(Ok(s)) => {
                    slots.push(out.len());
                    targets.push(Target { context: model.context_of(&s), scaler: s.scaler, nonneg: s.nonneg });
                    out.push(Err(ForecastError::NoData));
                }
                Ok(Err(c)) => out.push(Ok(ErrorProfile::gaussian(0.0).prediction(vec![c; horizon], levels, false))),
                Err(e) => out.push(Err(e)),
            }
        }
        for (slot, p) in slots.into_iter().zip(model.predict(&targets, horizon, levels)?) {
            out[slot] = Ok(p);
        }
        Ok(out)
    }

    /// The trained model as a [`SavedModel`] of kind `lstm_global`.
    pub fn save(&self) -> Result<SavedModel, ForecastError> {
        let m = self.model.as_ref().ok_or(ForecastError::NotFitted("lstm"))?;
        persist::save(
            "lstm_global",
            VERSION,
            &State { cfg: m.cfg.clone(), profile: m.profile.clone(), weights: m.weights.clone() },
        )
    }

    /// Restores a model saved by [`GlobalLstm::save`].
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        let s: State = persist::load(saved, "lstm_global", VERSION)?;
        let model = Model::restore(s.cfg.clone(), s.profile, s.weights)?;
        Ok(Self { cfg: s.cfg, model: Some(model) })
    }
}
