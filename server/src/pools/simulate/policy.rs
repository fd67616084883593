//! The three policies the simulator compares, as the demand each hands to
//! [`crate::pools::allocator::decide`]:
//!
//! * `predictive`: Augur's policy — an engine forecaster learns the demand
//!   seen so far and the allocator gets the highest upper band (at the
//!   pool's quantile) over the steps the decision must cover;
//! * `reactive`: the Kubernetes-HPA-like rule, current usage over the 70%
//!   target utilization, in the allocator itself (`Policy::Reactive`);
//! * `oracle`: knows the future — the true highest demand over the steps
//!   the decision must cover, with no margin: the physical limit of any
//!   policy that must wait `lead_time` for capacity.
//!
//! The steps a decision at step `k` must cover: units it requests are
//! ready `lead_time` later, and the next decision's units `interval` after
//! that, so until then this decision alone decides the supply. On a grid of
//! `step`, that is steps `k+1 ..= k+H` with
//! `H = ceil((lead_time + interval) / step) − 1` (one step for a 5-minute
//! lead time on a 5-minute trace decided every step). With `H = 0` (no
//! lead time) the current demand is all there is to cover.
//!
//! The forecaster is refitted on a bounded window of the latest history
//! every `refit` steps and rolled forward with `update` in between (as the
//! manager does between training runs), so a two-week 5-minute trace
//! simulates in seconds.

use serde::Serialize;

use augur_engine::forecast::calibrate::Calibrated;
use augur_engine::forecast::{registry, FitOptions, Forecaster};

/// A policy the simulator can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    /// The forecast at the pool's quantile (Augur).
    Predictive,
    /// HPA-like: usage over 70% target utilization.
    Reactive,
    /// Perfect knowledge of the future (the physical limit).
    Oracle,
}

impl PolicyKind {
    /// Every policy, in report order.
    pub const ALL: [PolicyKind; 3] = [PolicyKind::Predictive, PolicyKind::Reactive, PolicyKind::Oracle];

    /// The policy's name.
    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::Predictive => "predictive",
            PolicyKind::Reactive => "reactive",
            PolicyKind::Oracle => "oracle",
        }
    }
}

/// How many steps after the current one a decision must cover
/// (see the module documentation).
pub fn horizon_steps(lead_time: i64, interval: i64, step: i64) -> usize {
    if step <= 0 {
        return 0;
    }
    let span = lead_time.max(0) + interval.max(0);
    let steps = (span + step - 1) / step;
    (steps - 1).max(0) as usize
}

/// The oracle's forecast at step `k`: the highest true demand over the
/// next `horizon` steps (the current demand when `horizon` is 0 or the
/// trace has ended).
pub fn oracle_forecast(values: &[f64], k: usize, horizon: usize) -> f64 {
    let current = values.get(k).copied().unwrap_or(0.0);
    values.iter().skip(k + 1).take(horizon).copied().reduce(f64::max).unwrap_or(current)
}

/// What the forecaster predicted at one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    /// The value handed to the allocator: the highest upper band (or mean,
    /// without a quantile) over the covered steps.
    pub required: f64,
    /// The next step's mean.
    pub mean: f64,
    /// The next step's band, `(lower, upper)`, at the pool's level.
    pub band: (f64, f64),
}

/// The predictive policy's forecaster: fitted, rolled forward, refitted.
pub struct Predictor {
    model: String,
    fitted: Option<Box<dyn Forecaster>>,
    since_fit: usize,
    refit_every: usize,
    window: usize,
    level: Option<f64>,
    step_ns: i64,
    start_index: i64,
    /// Fits that failed (the allocator fell back to the reactive rule).
    pub failures: usize,
    /// Fits done.
    pub fits: usize,
}

impl Predictor {
    /// A forecaster by model name (see `augur_engine::forecast::registry`),
    /// refitted every `refit_every` steps on at most `window` steps, whose
    /// band is the central `level`% interval (`None`: the mean).
    pub fn new(
        model: &str,
        refit_every: usize,
        window: usize,
        level: Option<f64>,
        start: i64,
        step_ns: i64,
    ) -> Option<Predictor> {
        registry::by_name(model)?;
        Some(Predictor {
            model: model.to_string(),
            fitted: None,
            since_fit: 0,
            refit_every: refit_every.max(1),
            window: window.max(4),
            level,
            step_ns,
            start_index: if step_ns > 0 { start / step_ns } else { 0 },
            failures: 0,
            fits: 0,
        })
    }

    /// Learns `history[k]` (the demand just observed; `history` holds every
    /// step up to `k`) and forecasts `horizon` steps ahead (at least one).
    pub fn observe(&mut self, history: &[f64], k: usize, horizon: usize) -> Option<Forecast> {
        let horizon = horizon.max(1);
        self.since_fit += 1;
        let refit = self.fitted.is_none() || self.since_fit >= self.refit_every;
        if refit {
            self.since_fit = 0;
            let from = (k + 1).saturating_sub(self.window);
            // Calibrated online between fits, as a pool's forecast() is.
            let mut model: Box<dyn Forecaster> = Box::new(Calibrated::new(registry::by_name(&self.model)?));
            let options = FitOptions {
                seasons: Vec::new(),
                origin_index: Some(self.start_index + from as i64),
                step_ns: Some(self.step_ns),
                ..Default::default()
            };
            // A pool's refit keeps the band factors its model learned (the
            // forecast cache carries it); so does the replay.
            let learned = self.fitted.as_ref().and_then(|m| m.band_scales());
            match model.fit(history.get(from..=k)?, &options) {
                Ok(()) => {
                    if let Some(scales) = learned {
                        model.resume_band_scales(&scales);
                    }
                    self.fits += 1;
                    self.fitted = Some(model);
                }
                Err(e) => {
                    self.failures += 1;
                    tracing::debug!(error = %e, step = k, "forecast fit failed; the reactive rule stands in");
                    self.fitted = None;
                    return None;
                }
            }
        } else {
            let model = self.fitted.as_mut()?;
            if let Err(e) = model.update(history.get(k..=k)?) {
                tracing::debug!(error = %e, step = k, "forecast update failed; refitting");
                self.fitted = None;
                return None;
            }
        }
        let model = self.fitted.as_ref()?;
        let levels: Vec<f64> = self.level.into_iter().collect();
        let p = model.predict(horizon, &levels).ok()?;
        let upper: &[f64] = match self.level.and_then(|l| p.band(l)) {
            Some(b) => &b.upper,
            None => &p.mean,
        };
        let required = upper.iter().copied().filter(|v| v.is_finite()).fold(f64::NEG_INFINITY, f64::max);
        let mean = p.mean.first().copied().unwrap_or(f64::NAN);
        let band = match self.level.and_then(|l| p.band(l)) {
            Some(b) => (b.lower.first().copied().unwrap_or(mean), b.upper.first().copied().unwrap_or(mean)),
            None => (mean, mean),
        };
        required.is_finite().then_some(Forecast { required, mean, band })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000_000_000;

    #[test]
    fn horizon_covers_until_the_next_decision_lands() {
        assert_eq!(horizon_steps(5 * MIN, 5 * MIN, 5 * MIN), 1);
        assert_eq!(horizon_steps(7 * MIN, 5 * MIN, 5 * MIN), 2);
        assert_eq!(horizon_steps(0, 5 * MIN, 5 * MIN), 0);
        assert_eq!(horizon_steps(15 * MIN, 10 * MIN, 5 * MIN), 4);
    }

    #[test]
    fn the_oracle_sees_the_covered_steps_only() {
        let v = [1.0, 5.0, 2.0, 9.0];
        assert_eq!(oracle_forecast(&v, 0, 1), 5.0);
        assert_eq!(oracle_forecast(&v, 1, 1), 2.0);
        assert_eq!(oracle_forecast(&v, 0, 3), 9.0);
        assert_eq!(oracle_forecast(&v, 2, 0), 2.0);
        assert_eq!(oracle_forecast(&v, 3, 2), 9.0, "past the end: the current demand");
    }

    #[test]
    fn the_predictor_fits_then_rolls_forward() {
        let y: Vec<f64> = (0..400).map(|t| 10.0 + (t % 24) as f64).collect();
        let mut p = Predictor::new("snaive", 50, 200, Some(90.0), 0, 5 * MIN).expect("known model");
        let mut last = None;
        for k in 99..300 {
            last = p.observe(&y, k, 2);
            assert!(last.is_some(), "step {k}");
        }
        assert_eq!(p.fits, 5, "refit every 50 steps");
        let f = last.expect("forecast");
        assert!(f.band.0 <= f.mean && f.mean <= f.band.1, "{f:?}");
        assert!(f.required >= f.band.1 - 1e-9);
        assert!(Predictor::new("prophet", 1, 10, None, 0, MIN).is_none());
    }
}
