//! `model => 'auto'`, the default: per series and per forecast step, the
//! single best candidate or the error-weighted ensemble, whichever erred
//! less in the rolling-origin backtest on the tail of the history.
//!
//! Why per step: the model that wins one step ahead (often naive or ETS,
//! which track the level) is rarely the one that wins a day ahead (a
//! seasonal model); choosing per step lets one fitted object serve every
//! horizon a query may ask for. Seasonal naive is always a candidate, so on
//! the backtest the choice never does worse than it. See
//! [`super::ensemble`] for the backtest itself.

use super::ensemble::{Candidate, Ensemble, Mode};
use super::{FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

/// Automatic model selection.
#[derive(Debug, Default)]
pub struct Auto {
    inner: AutoInner,
}

#[derive(Debug)]
struct AutoInner(Ensemble);

impl Default for AutoInner {
    fn default() -> Self {
        Self(Ensemble::with_mode(Mode::Auto))
    }
}

impl Auto {
    /// An unfitted `auto` model over the default candidates.
    pub fn new() -> Self {
        Self::default()
    }

    /// An unfitted `auto` model over explicit candidates.
    pub fn with_candidates(candidates: Vec<Candidate>) -> Self {
        Self { inner: AutoInner(Ensemble::with_candidates(Mode::Auto, candidates)) }
    }

    /// Restores a model saved by [`Forecaster::save`].
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        if saved.kind != "auto" {
            return Err(ForecastError::Restore(format!("expected an auto model, got {}", saved.kind)));
        }
        Ok(Self { inner: AutoInner(Ensemble::restore(saved)?) })
    }

    /// The members and their weights at step `h` (1-based), once fitted.
    pub fn weights_at(&self, h: usize) -> Vec<(&'static str, f64)> {
        self.inner.0.weights_at(h)
    }
}

impl Forecaster for Auto {
    fn name(&self) -> &'static str {
        "auto"
    }
    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        self.inner.0.fit(history, options)
    }
    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        self.inner.0.predict(horizon, levels)
    }
    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        self.inner.0.update(new_points)
    }
    fn save(&self) -> Result<SavedModel, ForecastError> {
        self.inner.0.save()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_prefers_the_seasonal_model_on_seasonal_data() {
        let y: Vec<f64> =
            (0..1000).map(|t| 50.0 + 10.0 * (2.0 * std::f64::consts::PI * t as f64 / 24.0).sin()).collect();
        let mut m = Auto::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        let w = m.weights_at(12);
        let naive_w: f64 = w.iter().filter(|x| x.0 == "naive").map(|x| x.1).sum();
        assert!(naive_w < 0.1, "{w:?}");
        let p = m.predict(24, &[95.0]).unwrap();
        for (i, v) in p.mean.iter().enumerate() {
            let want = 50.0 + 10.0 * (2.0 * std::f64::consts::PI * (1000 + i) as f64 / 24.0).sin();
            assert!((v - want).abs() < 0.5, "step {i}: {v} vs {want}");
        }
        let r = Auto::restore(&m.save().unwrap()).unwrap();
        assert_eq!(r.predict(24, &[95.0]).unwrap(), p);
        assert_eq!(r.name(), "auto");
    }

    #[test]
    fn auto_follows_a_level_shift() {
        let y: Vec<f64> = (0..500).map(|t| if t < 450 { 10.0 } else { 30.0 } + ((t * 13) % 7) as f64 * 0.01).collect();
        let mut m = Auto::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        let p = m.predict(6, &[80.0]).unwrap();
        assert!(p.mean.iter().all(|v| (v - 30.0).abs() < 1.0), "{:?}", p.mean);
    }
}
