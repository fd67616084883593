//! Online band calibration: a wrapper that keeps any model's prediction
//! bands honest while the model is rolled forward with `update()`.
//!
//! Why: every model measures its bands once, on its own history (a backtest
//! or its in-sample errors). When the series then turns burstier or calmer
//! than that history, the bands stay as they were: on the EC2 CPU traces
//! `auto`'s 95% band held only 82% of what came next, on the Alibaba QPS
//! 100%. Between two fits the wrapper checks every new point against the
//! one-step band the model gave for it and widens the bands after a miss,
//! narrows them after a hit, so that misses come at the rate the level
//! promises. This is adaptive conformal inference (Gibbs and Candès,
//! NeurIPS 2021) applied to a band width: `log s ← log s + γ (miss − α)`,
//! with `α = 1 − level/100` at [`CALIBRATED_LEVEL`]. The same factor `s`
//! scales every level and every step around the mean; the mean itself is
//! never touched, so point accuracy (MASE) is exactly the inner model's.
//!
//! A fresh fit starts from `s = 1` (the model's own bands are the best
//! prior), except when the fitted-model cache ([`super::cache`]) refits a
//! series it has calibrated before: then the factor carries over, because
//! bands that a model's own errors make too wide or too narrow on a series
//! usually stay so after the next fit (the Alibaba QPS held 100% of its
//! points in a 95% band refit after refit).

use serde::{Deserialize, Serialize};

use super::{FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

/// The band level whose misses drive the factor (percent).
pub const CALIBRATED_LEVEL: f64 = 95.0;

/// Step size γ of the factor's log per point.
pub const GAMMA: f64 = 0.05;

/// The factor's bounds: bands never narrow below half or widen beyond four
/// times the model's own.
pub const SCALE_BOUNDS: (f64, f64) = (0.5, 4.0);

const VERSION: u32 = 1;

/// What the wrapper adds to the inner model's state.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct Calibration {
    /// The band factor `s`.
    scale: f64,
    /// Points checked since the fit.
    checked: u64,
    /// Of them, outside the calibrated band.
    missed: u64,
    /// The history never went below zero (bounds are clamped at 0).
    nonneg: bool,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration { scale: 1.0, checked: 0, missed: 0, nonneg: false }
    }
}

#[derive(Serialize, Deserialize)]
struct Saved {
    inner: SavedModel,
    calibration: Calibration,
}

/// Any model, with its bands calibrated online (see the module docs).
pub struct Calibrated {
    inner: Box<dyn Forecaster>,
    calibration: Calibration,
}

impl Calibrated {
    /// Wraps `inner` (fitted or not).
    pub fn new(inner: Box<dyn Forecaster>) -> Calibrated {
        Calibrated { inner, calibration: Calibration::default() }
    }

    /// Restores a model saved by [`Forecaster::save`].
    pub fn restore(saved: &SavedModel) -> Result<Calibrated, ForecastError> {
        let state = super::persist::load::<Saved>(saved, "calibrated", VERSION)?;
        Ok(Calibrated { inner: super::registry::restore(&state.inner)?, calibration: state.calibration })
    }

    /// The current band factor `s` (1 = the model's own bands).
    pub fn scale(&self) -> f64 {
        self.calibration.scale
    }

    /// Points checked since the fit, and how many fell outside the band.
    pub fn misses(&self) -> (u64, u64) {
        (self.calibration.missed, self.calibration.checked)
    }

    /// The one-step band at [`CALIBRATED_LEVEL`] as the wrapper gives it
    /// now (`None` when the model gives no finite band).
    fn next_band(&self) -> Option<(f64, f64)> {
        let p = self.predict(1, &[CALIBRATED_LEVEL]).ok()?;
        let band = p.bands.first()?;
        let (lo, hi) = (*band.lower.first()?, *band.upper.first()?);
        (lo.is_finite() && hi.is_finite()).then_some((lo, hi))
    }

    /// Checks `y` against the one-step band the model gives now, moves the
    /// factor, then lets the model absorb `y`.
    fn absorb(&mut self, y: f64) -> Result<(), ForecastError> {
        if y.is_finite() {
            if let Some((lo, hi)) = self.next_band() {
                let miss = y < lo || y > hi;
                let alpha = 1.0 - CALIBRATED_LEVEL / 100.0;
                let c = &mut self.calibration;
                let step = GAMMA * (f64::from(u8::from(miss)) - alpha);
                c.scale = (c.scale.ln() + step).exp().clamp(SCALE_BOUNDS.0, SCALE_BOUNDS.1);
                c.checked += 1;
                c.missed += u64::from(miss);
            }
            self.calibration.nonneg &= y >= 0.0;
        }
        self.inner.update(&[y])
    }
}

impl std::fmt::Debug for Calibrated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Calibrated").field("inner", &self.inner.name()).field("calibration", &self.calibration).finish()
    }
}

impl Forecaster for Calibrated {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        self.inner.fit(history, options)?;
        let nonneg = history.iter().filter(|v| v.is_finite()).all(|v| *v >= 0.0);
        self.calibration = Calibration { nonneg, ..Calibration::default() };
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        let mut p = self.inner.predict(horizon, levels)?;
        let s = self.calibration.scale;
        if s == 1.0 {
            return Ok(p);
        }
        for band in &mut p.bands {
            for (k, mean) in p.mean.iter().enumerate() {
                let (Some(lo), Some(hi)) = (band.lower.get_mut(k), band.upper.get_mut(k)) else { continue };
                *lo = mean - s * (mean - *lo);
                *hi = mean + s * (*hi - mean);
                if self.calibration.nonneg {
                    *lo = lo.max(0.0);
                }
            }
        }
        Ok(p)
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        new_points.iter().try_for_each(|&y| self.absorb(y))
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        let saved = Saved { inner: self.inner.save()?, calibration: self.calibration };
        super::persist::save("calibrated", VERSION, &saved)
    }

    fn fitted(&self) -> Option<Vec<f64>> {
        self.inner.fitted()
    }

    fn band_scale(&self) -> Option<f64> {
        Some(self.calibration.scale)
    }

    fn resume_band_scale(&mut self, scale: f64) {
        if scale.is_finite() {
            self.calibration.scale = scale.clamp(SCALE_BOUNDS.0, SCALE_BOUNDS.1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::registry;
    use crate::forecast::test_util::noise;

    /// A calm history, then a stretch three times as noisy.
    fn calm_then_bursty(calm: usize, bursty: usize) -> Vec<f64> {
        let e = noise(calm + bursty, 11);
        (0..calm + bursty).map(|t| 100.0 + if t < calm { 2.0 } else { 6.0 } * e[t]).collect()
    }

    fn coverage(model: &mut Calibrated, y: &[f64]) -> f64 {
        let mut inside = 0;
        for &v in y {
            let p = model.predict(1, &[95.0]).unwrap();
            inside += usize::from(v >= p.bands[0].lower[0] && v <= p.bands[0].upper[0]);
            model.update(&[v]).unwrap();
        }
        inside as f64 / y.len() as f64
    }

    #[test]
    fn bands_widen_when_the_series_turns_burstier_and_the_mean_is_untouched() {
        let y = calm_then_bursty(600, 600);
        let mut plain = registry::by_name("ets").unwrap();
        plain.fit(&y[..600], &FitOptions::default()).unwrap();
        let mut calibrated = Calibrated::new(registry::by_name("ets").unwrap());
        calibrated.fit(&y[..600], &FitOptions::default()).unwrap();
        assert_eq!(calibrated.predict(6, &[95.0]).unwrap(), plain.predict(6, &[95.0]).unwrap());

        // The model's own band, measured on the calm part, misses often on
        // the bursty one; the calibrated one comes back near 95%.
        let mut plain_inside = 0;
        for &v in &y[600..] {
            let p = plain.predict(1, &[95.0]).unwrap();
            plain_inside += usize::from(v >= p.bands[0].lower[0] && v <= p.bands[0].upper[0]);
            plain.update(&[v]).unwrap();
        }
        let plain_cov = plain_inside as f64 / 600.0;
        let cov = coverage(&mut calibrated, &y[600..]);
        assert!(plain_cov < 0.8, "the uncalibrated band should be too narrow: {plain_cov}");
        assert!(cov > 0.88 && cov > plain_cov + 0.1, "calibrated {cov} vs plain {plain_cov}");
        assert!(calibrated.scale() > 1.5, "{}", calibrated.scale());
        // Same means as the plain model after the same updates.
        let (a, b) = (calibrated.predict(12, &[80.0]).unwrap(), plain.predict(12, &[80.0]).unwrap());
        assert_eq!(a.mean, b.mean);
        assert!(a.bands[0].upper[11] - a.bands[0].lower[11] > b.bands[0].upper[11] - b.bands[0].lower[11]);
    }

    #[test]
    fn bands_narrow_when_they_are_too_wide_and_save_restore_keeps_the_factor() {
        // Fitted on the bursty stretch, then calm: misses stop, bands narrow.
        let mut y = calm_then_bursty(0, 600);
        y.extend(calm_then_bursty(400, 0));
        let mut m = Calibrated::new(registry::by_name("ets").unwrap());
        m.fit(&y[..600], &FitOptions::default()).unwrap();
        m.update(&y[600..]).unwrap();
        assert!(m.scale() < 0.8, "{}", m.scale());
        let (missed, checked) = m.misses();
        assert_eq!(checked, 400);
        assert!(missed < 10, "{missed}");
        let r = registry::restore(&SavedModel::from_bytes(&m.save().unwrap().to_bytes()).unwrap()).unwrap();
        assert_eq!(r.predict(12, &[95.0]).unwrap(), m.predict(12, &[95.0]).unwrap());
        assert_eq!(r.name(), "ets");
        // A new fit starts from the model's own bands again.
        m.fit(&y, &FitOptions::default()).unwrap();
        assert_eq!(m.scale(), 1.0);
    }

    #[test]
    fn lower_bounds_of_a_non_negative_series_stay_at_or_above_zero_and_gaps_are_skipped() {
        let e = noise(500, 3);
        let y: Vec<f64> = (0..500).map(|t| (1.0 + 3.0 * e[t]).abs()).collect();
        let mut m = Calibrated::new(registry::by_name("naive").unwrap());
        m.fit(&y[..300], &FitOptions::default()).unwrap();
        let burst: Vec<f64> = y[300..].iter().map(|v| v * 8.0).collect();
        m.update(&burst).unwrap();
        m.update(&[f64::NAN]).unwrap();
        assert_eq!(m.misses().1, 200, "NaN is not checked");
        assert!(m.scale() > 1.0);
        let p = m.predict(6, &[99.0]).unwrap();
        assert!(p.bands[0].lower.iter().all(|v| *v >= 0.0), "{:?}", p.bands[0].lower);
    }
}
