//! An LSTM forecaster on Burn: one model per series (`model => 'lstm'`) or
//! one global model across many series ([`GlobalLstm`]).
//!
//! What it does: the network reads a window of the last
//! [`LstmConfig::window`] values, scaled per series, together with calendar
//! features (time of day, day of week: [`features`]) and emits the next
//! [`LstmConfig::outputs`] steps at once as corrections to the last value
//! ([`net`]). Direct multi-output rather than recursive one-step forecasts
//! because it does not compound its own errors within that range and needs
//! one forward pass for a whole horizon — one pass for a batch of 1,000
//! series ([`infer`]); longer horizons recurse in blocks.
//!
//! Bands: the last part of each history is held out, forecast from rolling
//! origins, and the h-step errors become an [`ErrorProfile`] like every
//! other model's ([`train`]); the network then fine-tunes on all data.
//!
//! `update` appends the new points to the context window without touching
//! the weights (no fine-tuning): the forecast starts after the new points,
//! and the weights are refreshed by the next scheduled refit. Why: a
//! gradient step per update would make forecasts depend on update batching
//! and cost a training step on the query path; the network already
//! generalises over windows, so moving the window is what matters.
//!
//! Constant histories are answered with the constant (nothing to learn);
//! all-NaN or too short histories are a [`ForecastError`].
//!
//! Backend: ndarray by default, wgpu with the `gpu` feature, chosen in
//! [`backend`] only.

pub mod backend;
mod codec;
pub mod config;
pub mod features;
pub mod global;
pub mod infer;
pub mod model;
pub mod net;
pub mod series;
pub mod train;

use serde::{Deserialize, Serialize};

use super::bands::ErrorProfile;
use super::prep::check_request;
use super::{persist, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};
pub use config::LstmConfig;
use features::{Calendar, Scaler};
pub use global::{GlobalLstm, History};
use infer::Context;
use model::{Model, Target};
use series::Series;

const VERSION: u32 = 1;

/// The saved state of a fitted single-series model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    cfg: LstmConfig,
    /// `Some(c)`: the history was constant `c`, no network.
    constant: Option<f64>,
    /// Hex burnpack weights (empty for a constant).
    weights: String,
    profile: ErrorProfile,
    scaler: Scaler,
    calendar: Calendar,
    /// The last `window` scaled values.
    context: Vec<f64>,
    next_index: i64,
    nonneg: bool,
}

/// The single-series LSTM forecaster.
#[derive(Debug, Default)]
pub struct Lstm {
    cfg: LstmConfig,
    state: Option<State>,
    model: Option<Model>,
}

impl Lstm {
    /// An unfitted model with the default configuration.
    pub fn new() -> Self {
        Self::default()
    }

    /// An unfitted model with `cfg`.
    pub fn with_config(cfg: LstmConfig) -> Self {
        Self { cfg, state: None, model: None }
    }

    /// Restores a model saved by [`Forecaster::save`].
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        let state: State = persist::load(saved, "lstm", VERSION)?;
        if state.constant.is_none() && state.context.len() != state.cfg.window {
            return Err(ForecastError::Restore("lstm: context length differs from the window".into()));
        }
        let model = match state.constant {
            Some(_) => None,
            None => Some(Model::restore(state.cfg.clone(), state.profile.clone(), state.weights.clone())?),
        };
        Ok(Self { cfg: state.cfg.clone(), state: Some(state), model })
    }

    /// The final training loss (scaled L1) of the last fit, if a network was trained.
    pub fn training_loss(&self) -> Option<f64> {
        self.model.as_ref().map(|m| m.loss)
    }
}

impl Forecaster for Lstm {
    fn name(&self) -> &'static str {
        "lstm"
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        self.cfg.check()?;
        self.state = None;
        self.model = None;
        let series = match Series::new(history, options, self.cfg.min_history(), true)? {
            Ok(s) => s,
            Err(c) => {
                self.state = Some(State {
                    cfg: self.cfg.clone(),
                    constant: Some(c),
                    weights: String::new(),
                    profile: ErrorProfile::gaussian(0.0),
                    scaler: Scaler { mean: c, sd: 1.0 },
                    calendar: Calendar { step_ns: None, period: 0 },
                    context: Vec::new(),
                    next_index: 0,
                    nonneg: c >= 0.0,
                });
                return Ok(());
            }
        };
        let model = Model::train(&self.cfg, std::slice::from_ref(&series))?;
        let ctx = model.context_of(&series);
        self.state = Some(State {
            cfg: self.cfg.clone(),
            constant: None,
            weights: model.weights.clone(),
            profile: model.profile.clone(),
            scaler: series.scaler,
            calendar: series.calendar,
            context: ctx.z,
            next_index: ctx.next_index,
            nonneg: series.nonneg,
        });
        self.model = Some(model);
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(horizon, levels)?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("lstm"))?;
        let Some(model) = self.model.as_ref() else {
            let c = s.constant.unwrap_or(0.0);
            return Ok(s.profile.prediction(vec![c; horizon], levels, false));
        };
        let target = Target {
            context: Context { z: s.context.clone(), next_index: s.next_index, calendar: s.calendar },
            scaler: s.scaler,
            nonneg: s.nonneg,
        };
        model
            .predict(std::slice::from_ref(&target), horizon, levels)?
            .pop()
            .ok_or_else(|| ForecastError::InvalidParameter("no forecast produced".into()))
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        let s = self.state.as_mut().ok_or(ForecastError::NotFitted("lstm"))?;
        if s.constant.is_some() {
            return Ok(());
        }
        for &y in new_points {
            // A gap repeats the last value, as the fit's interpolation would at the end.
            let z = if y.is_finite() { s.scaler.scale(y) } else { s.context.last().copied().unwrap_or(0.0) };
            s.context.push(z);
            s.nonneg &= y.is_nan() || y >= 0.0;
        }
        let drop = s.context.len().saturating_sub(s.cfg.window);
        s.context.drain(..drop);
        s.next_index = s.next_index.wrapping_add(new_points.len() as i64);
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("lstm"))?;
        persist::save("lstm", VERSION, s)
    }
}

#[cfg(test)]
mod tests;
