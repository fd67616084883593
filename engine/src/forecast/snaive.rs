//! Seasonal naive: every future step equals the value one season earlier.
//!
//! Why keep it: it is the floor any seasonal model must beat (MASE is
//! scaled by it) and the candidate that keeps `auto` honest. The period is
//! taken from [`FitOptions::seasons`] or detected ([`super::season`]); with
//! several periods, the one whose seasonal-naive replay errs least over the
//! recent history wins. Without any period it behaves like naive.

use serde::{Deserialize, Serialize};

use super::bands::{calibrate_if, ErrorProfile, Stepper, CALIBRATION_STEPS};
use super::prep::{check_request, fill_linear, prepare};
use super::{persist, season, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

const VERSION: u32 = 1;

/// The last `m` values in a ring: `buf[pos]` is the value `m` steps before
/// the next one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Ring {
    buf: Vec<f64>,
    pos: usize,
}

impl Ring {
    fn new(last_cycle: &[f64]) -> Self {
        Self { buf: last_cycle.to_vec(), pos: 0 }
    }
}

impl Stepper for Ring {
    fn step(&mut self, y: f64) {
        let m = self.buf.len();
        if m == 0 {
            return;
        }
        if y.is_finite() {
            self.buf[self.pos] = y;
        }
        self.pos = (self.pos + 1) % m;
    }
    fn forecast_into(&self, out: &mut [f64]) {
        let m = self.buf.len();
        if m == 0 {
            out.fill(0.0);
            return;
        }
        // `(pos + i) % m`, counted forward instead of divided at every step.
        let mut at = self.pos % m;
        for o in out.iter_mut() {
            *o = self.buf[at];
            at += 1;
            if at == m {
                at = 0;
            }
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    period: usize,
    ring: Ring,
    profile: ErrorProfile,
    nonneg: bool,
}

/// The seasonal naive model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeasonalNaive {
    state: Option<State>,
}

/// Mean absolute error of the lag-`m` forecast over the last `window` points.
fn lag_mae(x: &[f64], m: usize, window: usize) -> f64 {
    let n = x.len();
    let start = n.saturating_sub(window).max(m);
    if start >= n {
        return f64::INFINITY;
    }
    (start..n).map(|t| (x[t] - x[t - m]).abs()).sum::<f64>() / (n - start) as f64
}

impl SeasonalNaive {
    /// An unfitted seasonal naive model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a model saved by [`Forecaster::save`].
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        Ok(Self { state: Some(persist::load(saved, "snaive", VERSION)?) })
    }

    /// The period in use (1 = no season found: naive).
    pub fn period(&self) -> Option<usize> {
        self.state.as_ref().map(|s| s.period)
    }
}

impl Forecaster for SeasonalNaive {
    fn name(&self) -> &'static str {
        "snaive"
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        let p = prepare(history)?;
        let filled = fill_linear(&p.values);
        let n = filled.len();
        let periods = if options.seasons.is_empty() { season::detect(&p.values) } else { options.seasons.clone() };
        let window = n / 2;
        let period = periods
            .into_iter()
            .filter(|&m| m >= 1 && m < n)
            .map(|m| (m, lag_mae(&filled, m, window.max(m))))
            .min_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(1, |c| c.0);
        let mut ring = Ring::new(&filled[..period]);
        let rest = &p.values[period..];
        let profile = calibrate_if(!options.means_only, &mut ring, rest, CALIBRATION_STEPS, 4000);
        self.state = Some(State { period, ring, profile, nonneg: p.nonneg });
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(horizon, levels)?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("snaive"))?;
        let mut mean = vec![0.0; horizon];
        s.ring.forecast_into(&mut mean);
        let bands = s.profile.bands(&mean, levels, s.nonneg);
        Ok(Prediction { mean, bands })
    }

    fn predict_mean_into(&self, out: &mut [f64]) -> Result<(), ForecastError> {
        check_request(out.len(), &[])?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("snaive"))?;
        s.ring.forecast_into(out);
        Ok(())
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        let s = self.state.as_mut().ok_or(ForecastError::NotFitted("snaive"))?;
        new_points.iter().for_each(|&y| s.ring.step(y));
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("snaive"))?;
        persist::save("snaive", VERSION, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_the_detected_season() {
        let y: Vec<f64> = (0..480).map(|t| [1.0, 5.0, 2.0, 8.0, 3.0, 0.0][t % 6] + (t % 48) as f64).collect();
        let mut m = SeasonalNaive::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        assert_eq!(m.period(), Some(48));
        let p = m.predict(60, &[95.0]).unwrap();
        for (i, v) in p.mean.iter().enumerate() {
            let t = 480 + i;
            assert_eq!(*v, [1.0, 5.0, 2.0, 8.0, 3.0, 0.0][t % 6] + (t % 48) as f64);
        }
        let r = SeasonalNaive::restore(&m.save().unwrap()).unwrap();
        assert_eq!(r.predict(60, &[95.0]).unwrap(), p);
    }

    #[test]
    fn given_season_update_and_short_history() {
        let mut m = SeasonalNaive::new();
        let opts = FitOptions { seasons: vec![3], ..Default::default() };
        m.fit(&[1.0, 2.0, 3.0, 1.0, f64::NAN], &opts).unwrap();
        assert_eq!(m.predict(3, &[]).unwrap().mean, vec![3.0, 1.0, 2.0]);
        m.update(&[9.0]).unwrap();
        assert_eq!(m.predict(3, &[]).unwrap().mean, vec![1.0, 2.0, 9.0]);
        // Too short for the season: naive.
        m.fit(&[4.0], &opts).unwrap();
        assert_eq!(m.period(), Some(1));
        assert_eq!(m.predict(2, &[]).unwrap().mean, vec![4.0, 4.0]);
    }
}
