//! The naive forecast: every future step equals the last observed value.
//!
//! Why keep it: on series dominated by level shifts (auto-scaling groups,
//! step changes) nothing statistical beats it, and it is the yardstick a
//! random walk sets.

use serde::{Deserialize, Serialize};

use super::bands::{calibrate_if, ErrorProfile, Stepper, CALIBRATION_STEPS};
use super::prep::{check_request, prepare};
use super::{persist, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

const VERSION: u32 = 1;

/// The last value, carried forward.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct LastValue(pub f64);

impl Stepper for LastValue {
    fn step(&mut self, y: f64) {
        if y.is_finite() {
            self.0 = y;
        }
    }
    fn forecast_into(&self, out: &mut [f64]) {
        out.iter_mut().for_each(|o| *o = self.0);
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    last: f64,
    profile: ErrorProfile,
    nonneg: bool,
}

/// The naive (random-walk) model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Naive {
    state: Option<State>,
}

impl Naive {
    /// An unfitted naive model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a model saved by [`Forecaster::save`].
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        Ok(Self { state: Some(persist::load(saved, "naive", VERSION)?) })
    }
}

impl Forecaster for Naive {
    fn name(&self) -> &'static str {
        "naive"
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        let p = prepare(history)?;
        let mut stepper = LastValue(p.values[0]);
        let profile = calibrate_if(!options.means_only, &mut stepper, &p.values, CALIBRATION_STEPS, 4000);
        self.state = Some(State { last: stepper.0, profile, nonneg: p.nonneg });
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(horizon, levels)?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("naive"))?;
        let mean = vec![s.last; horizon];
        let bands = s.profile.bands(&mean, levels, s.nonneg);
        Ok(Prediction { mean, bands })
    }

    fn predict_mean_into(&self, out: &mut [f64]) -> Result<(), ForecastError> {
        check_request(out.len(), &[])?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("naive"))?;
        out.fill(s.last);
        Ok(())
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        let s = self.state.as_mut().ok_or(ForecastError::NotFitted("naive"))?;
        let mut lv = LastValue(s.last);
        new_points.iter().for_each(|&y| lv.step(y));
        s.last = lv.0;
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("naive"))?;
        persist::save("naive", VERSION, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn naive_repeats_last_value_and_bands_widen() {
        let h: Vec<f64> = (0..200).map(|i| ((i * 7919) % 13) as f64).collect();
        let mut m = Naive::new();
        m.fit(&h, &FitOptions::default()).unwrap();
        let p = m.predict(10, &[95.0]).unwrap();
        assert!(p.mean.iter().all(|&v| v == h[199]));
        let b = &p.bands[0];
        let w: Vec<f64> = b.upper.iter().zip(&b.lower).map(|(u, l)| u - l).collect();
        assert!(w.windows(2).all(|x| x[1] >= x[0] - 1e-12) && w[0] > 0.0);
        m.update(&[f64::NAN, 42.0, f64::NAN]).unwrap();
        assert_eq!(m.predict(1, &[]).unwrap().mean, vec![42.0]);
        let r = Naive::restore(&m.save().unwrap()).unwrap();
        assert_eq!(r.predict(5, &[80.0]).unwrap(), m.predict(5, &[80.0]).unwrap());
    }

    #[test]
    fn naive_errors_are_clear() {
        let mut m = Naive::new();
        assert_eq!(m.predict(1, &[]), Err(ForecastError::NotFitted("naive")));
        assert_eq!(m.fit(&[f64::NAN], &FitOptions::default()), Err(ForecastError::NoData));
        m.fit(&[5.0], &FitOptions::default()).unwrap();
        assert_eq!(m.predict(2, &[]).unwrap().mean, vec![5.0, 5.0]);
    }
}
