//! Online band calibration: a wrapper that keeps any model's prediction
//! bands honest while the model is rolled forward with `update()`.
//!
//! Why: every model measures its bands once, on its own history (a backtest
//! or its in-sample errors). When the series then turns burstier or calmer
//! than that history, the bands stay as they were: on the EC2 CPU traces
//! `auto`'s 95% band held only 82% of what came next, on the Alibaba QPS
//! 100%. Between two fits the wrapper checks every new point against the
//! one-step bands the model gave for it and widens a band after a miss,
//! narrows it after a hit, so that misses come at the rate the level
//! promises. This is adaptive conformal inference (Gibbs and Candès,
//! NeurIPS 2021) applied to a band width: `log s ← log s + γ (miss − α)`,
//! with `α = 1 − level/100`. The mean itself is never touched, so point
//! accuracy (MASE) is exactly the inner model's.
//!
//! Each of [`TRACKED_LEVELS`] has a factor of its own, and a band at any
//! other level gets the factor interpolated between its neighbours. Why
//! not one factor for all: one factor fixes a band's width, not its shape.
//! On an on/off trace a quiet moment's burst risk sits between the 90% and
//! the 95% band's tails; a single factor set by the 95% band's misses
//! grew to its bound, and a pool that provisions at the 95th percentile
//! (the 90% band) carried that factor too (`ec2_cpu_utilization_77c1ca`
//! replayed 6% dearer, `ec2_disk_write_bytes` 9%, at the same shortage).
//! Bands of different levels stay nested whatever their factors.
//!
//! Each of the first [`CALIBRATED_STEPS`] forecast steps has factors of its
//! own too, learned from the forecasts the wrapper made that many steps
//! earlier. Why not the one-step factors for every step: how a band's
//! width should grow with the horizon comes from the model's backtest,
//! and when the series changes after it the far steps drift apart from the
//! near one (`rds_cpu_utilization_cc0c53`, whose level triples inside the
//! backtest, held 97.4% of its actuals in the 12-step 95% band with the
//! one-step factors). A band further ahead than [`CALIBRATED_STEPS`] gets
//! the last step's factors.
//!
//! A fresh fit starts from factors of 1 (the model's own bands are the
//! best prior), except when the fitted-model cache ([`super::cache`])
//! refits a series it has calibrated before: then the factors carry over,
//! because bands that a model's own errors make too wide or too narrow on
//! a series usually stay so after the next fit (the Alibaba QPS held 100%
//! of its points in a 95% band refit after refit).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::{Band, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

/// The band levels calibrated online, each with its own factor (percent).
pub const TRACKED_LEVELS: [f64; 5] = [50.0, 80.0, 90.0, 95.0, 99.0];

/// How many forecast steps have factors of their own (a further step uses
/// the last one's). Twelve covers an hour of 5-minute buckets, the
/// benchmark's horizons and a pool's usual lead time; every new point is
/// checked against the forecasts of the last twelve origins, which the
/// wrapper keeps.
pub const CALIBRATED_STEPS: usize = 12;

/// The level whose factor and misses [`Calibrated::scale`] and
/// [`Calibrated::misses`] report (percent).
pub const CALIBRATED_LEVEL: f64 = 95.0;

/// Step size γ of a factor's log per point. Why this fast: server metrics
/// change their volatility within hours (a level that falls tenfold, bursts
/// that come and go), and with no misses a 95% band narrows by a factor of
/// `exp(−γ·0.05)` per point: it halves in 69 points at 0.2, in 277 at 0.05.
/// At 0.05 the Alibaba QPS (whose level fell tenfold during the test) kept
/// 100% of its points in the 95% band and a pool on the on/off trace
/// `ec2_cpu_utilization_77c1ca` kept the width a burst had taught it through
/// the quiet hours after (docs/benchmarks.md has the sweep). A larger γ
/// also holds the long-run miss rate closer to `α`: while a factor stays
/// inside its bounds, the steps sum to its log's change, so over `T` points
/// the miss rate is within `ln(4 / 0.25) / (γ T)` of `α`.
pub const GAMMA: f64 = 0.2;

/// The factors' bounds: bands never narrow below a quarter or widen beyond
/// four times the model's own.
pub const SCALE_BOUNDS: (f64, f64) = (0.25, 4.0);

const VERSION: u32 = 1;

/// What the wrapper adds to the inner model's state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Calibration {
    /// Every level's factor in a model saved before the levels got factors
    /// of their own (read only while `by_step` and `by_level` are empty; 1
    /// otherwise).
    scale: f64,
    /// Points checked since the fit.
    checked: u64,
    /// Of them, outside the [`CALIBRATED_LEVEL`] band.
    missed: u64,
    /// The history never went below zero (bounds are clamped at 0).
    nonneg: bool,
    /// `by_level[i]`: every step's factor of `TRACKED_LEVELS[i]` in a model
    /// saved before the steps got factors of their own (read only while
    /// `by_step` is empty; empty: `scale` for all).
    #[serde(default)]
    by_level: Vec<f64>,
    /// `by_step[s * TRACKED_LEVELS.len() + i]`: the factor of
    /// `TRACKED_LEVELS[i]` at step `s + 1` (empty: `by_level`).
    #[serde(default)]
    by_step: Vec<f64>,
    /// The model's own forecasts (all tracked levels, [`CALIBRATED_STEPS`]
    /// steps) from the last origins, newest first: `issued[a]` was made `a`
    /// points before the next one and predicted it at step `a + 1`. Not
    /// saved: a restored model starts checking the far steps again after
    /// [`CALIBRATED_STEPS`] points.
    #[serde(skip)]
    issued: VecDeque<Prediction>,
}

impl Default for Calibration {
    fn default() -> Self {
        Calibration {
            scale: 1.0,
            checked: 0,
            missed: 0,
            nonneg: false,
            by_level: Vec::new(),
            by_step: Vec::new(),
            issued: VecDeque::new(),
        }
    }
}

/// One step's factor per tracked level.
type LevelFactors = [f64; TRACKED_LEVELS.len()];

impl Calibration {
    /// Every tracked level's factor at `step` (1-based; a step beyond
    /// [`CALIBRATED_STEPS`] gets the last one's). Read for every band of
    /// every prediction, so copied out without allocating.
    fn factors(&self, step: usize) -> LevelFactors {
        let n = TRACKED_LEVELS.len();
        if self.by_step.len() == CALIBRATED_STEPS * n {
            let s = step.clamp(1, CALIBRATED_STEPS) - 1;
            if let Ok(f) = LevelFactors::try_from(&self.by_step[s * n..(s + 1) * n]) {
                return f;
            }
        }
        LevelFactors::try_from(self.by_level.as_slice()).unwrap_or([self.scale; TRACKED_LEVELS.len()])
    }

    /// Every step's factors, step 1 first.
    fn table(&self) -> [LevelFactors; CALIBRATED_STEPS] {
        std::array::from_fn(|s| self.factors(s + 1))
    }

    /// The factor of a band at `level` and `step`: a tracked level's own,
    /// the nearest one's beyond the tracked range, else interpolated (in
    /// log) between the two around it.
    fn factor_at(&self, level: f64, step: usize) -> f64 {
        interpolate(&self.factors(step), level)
    }
}

/// The factor at `level` from the tracked levels' factors `f`.
fn interpolate(f: &LevelFactors, level: f64) -> f64 {
    let last = TRACKED_LEVELS.len() - 1;
    if level <= TRACKED_LEVELS[0] {
        return f[0];
    }
    if level >= TRACKED_LEVELS[last] {
        return f[last];
    }
    let i = TRACKED_LEVELS.partition_point(|&l| l <= level).clamp(1, last);
    let (l0, l1) = (TRACKED_LEVELS[i - 1], TRACKED_LEVELS[i]);
    let w = (level - l0) / (l1 - l0);
    (f[i - 1].ln() * (1.0 - w) + f[i].ln() * w).exp()
}

/// Which tracked levels' bands at step index `k` of `p` (a forecast of the
/// tracked levels, in their order), scaled by `factors` and nested as
/// [`Calibrated::predict`] gives them, miss `y`; `None` where a band is
/// missing or not finite.
fn misses_at(
    p: &Prediction,
    k: usize,
    y: f64,
    factors: &LevelFactors,
    nonneg: bool,
) -> [Option<bool>; TRACKED_LEVELS.len()] {
    let mut out = [None; TRACKED_LEVELS.len()];
    let Some(&m) = p.mean.get(k) else { return out };
    let mut reach = None;
    for (i, &level) in TRACKED_LEVELS.iter().enumerate() {
        let Some(band) = p.bands.get(i).filter(|b| b.level == level) else { continue };
        let (Some(&lo), Some(&hi)) = (band.lower.get(k), band.upper.get(k)) else { continue };
        let (lower, upper) = scale_and_nest_one(&mut reach, m, (lo, hi), factors[i], nonneg);
        if lower.is_finite() && upper.is_finite() {
            out[i] = Some(y < lower || y > upper);
        }
    }
    out
}

/// One band at one step, taken in ascending level order: its reach from
/// the mean `m` scaled by `factor`, then widened to contain every lower
/// level's (`reach`: the unclamped bounds so far, `None` before the first
/// band), then the lower bound clamped at 0 with `nonneg`. The one rule of
/// [`scale_and_nest`] and of the miss checks, so that a point is checked
/// against exactly the band [`Calibrated::predict`] gives.
fn scale_and_nest_one(
    reach: &mut Option<(f64, f64)>,
    m: f64,
    (lo, hi): (f64, f64),
    factor: f64,
    nonneg: bool,
) -> (f64, f64) {
    let own = (m - factor * (m - lo), m + factor * (hi - m));
    let (lower, upper) = match *reach {
        Some((l, u)) => (own.0.min(l), own.1.max(u)),
        None => own,
    };
    *reach = Some((lower, upper));
    (if nonneg { lower.max(0.0) } else { lower }, upper)
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

    /// The current one-step band factor at [`CALIBRATED_LEVEL`] (1 = the
    /// model's own bands).
    pub fn scale(&self) -> f64 {
        self.calibration.factor_at(CALIBRATED_LEVEL, 1)
    }

    /// The current one-step band factor of a band at `level` (percent).
    pub fn scale_at(&self, level: f64) -> f64 {
        self.calibration.factor_at(level, 1)
    }

    /// The current band factor of a band at `level` (percent), `step`
    /// steps ahead (1-based).
    pub fn scale_at_step(&self, level: f64, step: usize) -> f64 {
        self.calibration.factor_at(level, step)
    }

    /// Points checked since the fit, and how many fell outside the
    /// [`CALIBRATED_LEVEL`] band.
    pub fn misses(&self) -> (u64, u64) {
        (self.calibration.missed, self.calibration.checked)
    }

    /// Checks `y` against the bands every kept forecast gave for it (the
    /// newest at step 1, the oldest at step [`CALIBRATED_STEPS`]), each as
    /// the wrapper scales them now, moves each (step, level) factor, then
    /// lets the model absorb `y`.
    fn absorb(&mut self, y: f64) -> Result<(), ForecastError> {
        // This origin's forecast, kept even for a gap so that ages stay
        // aligned with steps (an empty one is never checked).
        let own = self
            .inner
            .predict(CALIBRATED_STEPS, &TRACKED_LEVELS)
            .unwrap_or(Prediction { mean: Vec::new(), bands: Vec::new() });
        let calibration = &mut self.calibration;
        if calibration.issued.len() == CALIBRATED_STEPS {
            calibration.issued.pop_back();
        }
        calibration.issued.push_front(own);
        if y.is_finite() {
            let mut table = calibration.table();
            for (k, (p, factors)) in calibration.issued.iter().zip(table.iter_mut()).enumerate() {
                let misses = misses_at(p, k, y, factors, calibration.nonneg);
                for ((miss, factor), level) in misses.into_iter().zip(factors.iter_mut()).zip(TRACKED_LEVELS) {
                    let Some(miss) = miss else { continue };
                    let delta = GAMMA * (f64::from(u8::from(miss)) - (1.0 - level / 100.0));
                    *factor = (factor.ln() + delta).exp().clamp(SCALE_BOUNDS.0, SCALE_BOUNDS.1);
                    if k == 0 && level == CALIBRATED_LEVEL {
                        calibration.checked += 1;
                        calibration.missed += u64::from(miss);
                    }
                }
            }
            // In place once the steps have their own (no allocation per point).
            let flat = table.as_flattened();
            match calibration.by_step.as_mut_slice() {
                own if own.len() == flat.len() => own.copy_from_slice(flat),
                _ => calibration.by_step = flat.to_vec(),
            }
            calibration.nonneg &= y >= 0.0;
        }
        self.inner.update(&[y])
    }
}

/// Scales each band's reach from the mean by its factor at each step
/// (`factor(level, step)`, 1-based), then nests the bands: a band of a
/// higher level reaches at least as far, on each side, as every band of a
/// lower level (`bands` in any order; see [`scale_and_nest_one`]).
fn scale_and_nest(mean: &[f64], bands: &mut [Band], factor: impl Fn(f64, usize) -> f64, nonneg: bool) {
    let mut order: Vec<usize> = (0..bands.len()).collect();
    order.sort_by(|&a, &b| bands[a].level.total_cmp(&bands[b].level));
    for (k, &m) in mean.iter().enumerate() {
        let mut reach = None;
        for &b in &order {
            let band = &mut bands[b];
            let s = factor(band.level, k + 1);
            let (Some(lo), Some(hi)) = (band.lower.get_mut(k), band.upper.get_mut(k)) else { continue };
            (*lo, *hi) = scale_and_nest_one(&mut reach, m, (*lo, *hi), s, nonneg);
        }
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
        let table = self.calibration.table();
        if table.as_flattened().iter().all(|&s| s == 1.0) {
            return self.inner.predict(horizon, levels);
        }
        // The tracked levels are predicted too, so that the requested bands
        // nest with them whatever the requested set.
        let mut all: Vec<f64> = levels.to_vec();
        all.extend(TRACKED_LEVELS.iter().filter(|t| !levels.iter().any(|l| (l - *t).abs() < 1e-9)));
        let mut p = self.inner.predict(horizon, &all)?;
        scale_and_nest(
            &p.mean,
            &mut p.bands,
            |level, step| interpolate(&table[step.clamp(1, CALIBRATED_STEPS) - 1], level),
            self.calibration.nonneg,
        );
        p.bands.truncate(levels.len());
        Ok(p)
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        new_points.iter().try_for_each(|&y| self.absorb(y))
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        let saved = Saved { inner: self.inner.save()?, calibration: self.calibration.clone() };
        super::persist::save("calibrated", VERSION, &saved)
    }

    fn fitted(&self) -> Option<Vec<f64>> {
        self.inner.fitted()
    }

    /// Every step's factors, step 1 first ([`CALIBRATED_STEPS`] ×
    /// [`TRACKED_LEVELS`]).
    fn band_scales(&self) -> Option<Vec<f64>> {
        Some(self.calibration.table().as_flattened().to_vec())
    }

    /// Takes factors as [`Forecaster::band_scales`] gives them, or one per
    /// tracked level for every step.
    fn resume_band_scales(&mut self, scales: &[f64]) {
        let n = TRACKED_LEVELS.len();
        if !scales.iter().all(|s| s.is_finite()) {
            return;
        }
        let clamped = scales.iter().map(|s| s.clamp(SCALE_BOUNDS.0, SCALE_BOUNDS.1));
        if scales.len() == CALIBRATED_STEPS * n {
            self.calibration.by_step = clamped.collect();
        } else if scales.len() == n {
            let one: Vec<f64> = clamped.collect();
            self.calibration.by_step = one.iter().copied().cycle().take(CALIBRATED_STEPS * n).collect();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::registry;
    use crate::forecast::test_util::{noise, wild_values};

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
        // Fitted on the bursty stretch, then calm (a third of the noise): the
        // bands narrow to about a third, and then miss at about the 5% the
        // 95% level allows, not more.
        let mut y = calm_then_bursty(0, 600);
        y.extend(calm_then_bursty(400, 0));
        let mut m = Calibrated::new(registry::by_name("ets").unwrap());
        m.fit(&y[..600], &FitOptions::default()).unwrap();
        m.update(&y[600..]).unwrap();
        assert!(m.scale() > 0.25 && m.scale() < 0.5, "{}", m.scale());
        let (missed, checked) = m.misses();
        assert_eq!(checked, 400);
        assert!(missed <= 28, "{missed}");
        let r = registry::restore(&SavedModel::from_bytes(&m.save().unwrap().to_bytes()).unwrap()).unwrap();
        assert_eq!(r.predict(12, &[95.0]).unwrap(), m.predict(12, &[95.0]).unwrap());
        assert_eq!(r.name(), "ets");
        // A new fit starts from the model's own bands again.
        m.fit(&y, &FitOptions::default()).unwrap();
        assert_eq!(m.scale(), 1.0);
    }

    #[test]
    fn each_level_is_calibrated_by_its_own_misses_and_bands_stay_nested() {
        // Fitted on uniform noise within ±1; then the errors turn heavy-
        // tailed: nine points in ten stay within ±0.6, the tenth jumps by 3.
        // The 80% band must narrow and the 99% band widen: one factor
        // cannot do both.
        let e = noise(3600, 5);
        let y: Vec<f64> = (0..3600)
            .map(|t| {
                100.0
                    + if t < 600 {
                        2.0 * e[t]
                    } else if t % 10 == 3 {
                        3.0 * e[t].signum()
                    } else {
                        1.2 * e[t]
                    }
            })
            .collect();
        let mut m = Calibrated::new(registry::by_name("ets").unwrap());
        m.fit(&y[..600], &FitOptions::default()).unwrap();
        m.update(&y[600..1800]).unwrap();
        assert!(m.scale_at(80.0) < 0.8, "{}", m.scale_at(80.0));
        assert!(m.scale_at(99.0) > 1.5, "{}", m.scale_at(99.0));
        assert_eq!(m.scale(), m.scale_at(95.0));
        let between = m.scale_at(85.0);
        let (lo, hi) = (m.scale_at(80.0).min(m.scale_at(90.0)), m.scale_at(80.0).max(m.scale_at(90.0)));
        assert!(between >= lo - 1e-12 && between <= hi + 1e-12, "{between} outside [{lo}, {hi}]");
        // From here on each band holds about its level's share.
        let mut inside = [0usize; 2];
        for &v in &y[1800..] {
            let p = m.predict(1, &[80.0, 95.0]).unwrap();
            for (k, b) in p.bands.iter().enumerate() {
                inside[k] += usize::from(v >= b.lower[0] && v <= b.upper[0]);
            }
            m.update(&[v]).unwrap();
        }
        let share = inside.map(|i| i as f64 / 1800.0);
        assert!((share[0] - 0.80).abs() < 0.035, "80% band held {}", share[0]);
        assert!((share[1] - 0.95).abs() < 0.035, "95% band held {}", share[1]);
        // Whatever the factors, a higher level's band contains a lower one's,
        // and asking for fewer levels changes none of them.
        let p = m.predict(12, &[99.0, 50.0, 80.0, 95.0]).unwrap();
        assert_eq!(p.bands.iter().map(|b| b.level).collect::<Vec<_>>(), vec![99.0, 50.0, 80.0, 95.0]);
        for k in 0..12 {
            let (b99, b50, b80, b95) = (&p.bands[0], &p.bands[1], &p.bands[2], &p.bands[3]);
            for (narrow, wide) in [(b50, b80), (b80, b95), (b95, b99)] {
                assert!(wide.lower[k] <= narrow.lower[k] && wide.upper[k] >= narrow.upper[k], "step {k}");
            }
        }
        assert_eq!(m.predict(12, &[95.0]).unwrap().bands[0], p.bands[3]);
    }

    #[test]
    fn each_step_is_calibrated_by_the_forecasts_made_that_many_steps_earlier() {
        // Fitted on a random walk, whose errors grow with the horizon; then
        // the series turns into noise around a level. A one-step error
        // spreads as before (the difference of two noise draws), but a
        // 12-step one no more: the far bands, three times too wide, must
        // narrow while the one-step band stays about as it was.
        let e = noise(4000, 21);
        let mut y = vec![100.0];
        for t in 1..800 {
            y.push(y[t - 1] + std::f64::consts::SQRT_2 * e[t]);
        }
        let level = y[799];
        y.extend((800..4000).map(|t| level + e[t]));
        let mut m = Calibrated::new(registry::by_name("naive").unwrap());
        m.fit(&y[..800], &FitOptions::default()).unwrap();
        let raw_12 = {
            let p = m.predict(12, &[95.0]).unwrap();
            (p.bands[0].upper[11] - p.mean[11], p.bands[0].upper[0] - p.mean[0])
        };
        assert!(raw_12.0 > 2.5 * raw_12.1, "the model's own bands grow with the horizon: {raw_12:?}");
        m.update(&y[800..2000]).unwrap();
        let (near, far) = (m.scale_at_step(95.0, 1), m.scale_at_step(95.0, 12));
        // (The one-step band widens a little: the difference of two uniform
        // draws has the random walk's spread but longer tails.)
        assert!(near > 0.7 && near < 1.8, "one step: {near}");
        assert!(far < 0.5 && far < near / 2.5, "twelve steps: {far} against {near}");
        assert!(m.scale_at_step(95.0, 6) < near && m.scale_at_step(95.0, 6) > far);
        assert_eq!(m.scale_at_step(95.0, 40), far, "beyond the calibrated steps: the last one's");
        assert_eq!(m.scale(), near);

        // From here on, the 12-step band holds about 95% of what comes 12
        // steps later.
        let mut issued = std::collections::VecDeque::new();
        let (mut inside, mut checked) = (0, 0);
        for t in 2000..4000 {
            let p = m.predict(12, &[95.0]).unwrap();
            issued.push_back((t + 11, p.bands[0].lower[11], p.bands[0].upper[11]));
            if let Some(&(target, lo, hi)) = issued.front() {
                if target == t {
                    issued.pop_front();
                    checked += 1;
                    inside += usize::from(y[t] >= lo && y[t] <= hi);
                }
            }
            m.update(&y[t..=t]).unwrap();
        }
        let share = inside as f64 / checked as f64;
        assert!(checked > 1900 && (share - 0.95).abs() < 0.03, "12-step band held {share} of {checked}");

        // The per-step factors survive save/restore and a carried refit.
        let r = registry::restore(&SavedModel::from_bytes(&m.save().unwrap().to_bytes()).unwrap()).unwrap();
        assert_eq!(r.predict(20, &[80.0, 95.0]).unwrap(), m.predict(20, &[80.0, 95.0]).unwrap());
        let scales = m.band_scales().unwrap();
        assert_eq!(scales.len(), CALIBRATED_STEPS * TRACKED_LEVELS.len());
        let mut refit = Calibrated::new(registry::by_name("naive").unwrap());
        refit.fit(&y[..4000], &FitOptions::default()).unwrap();
        refit.resume_band_scales(&scales);
        assert_eq!(refit.scale_at_step(95.0, 12), m.scale_at_step(95.0, 12));
        // One factor per level (as saved before the steps had their own)
        // applies to every step.
        refit.resume_band_scales(&[0.5, 0.6, 0.7, 0.8, 0.9]);
        assert_eq!(refit.scale_at_step(95.0, 1), 0.8);
        assert_eq!(refit.scale_at_step(95.0, 12), 0.8);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]
        /// Arbitrary histories and new points (NaN, infinities, huge, tiny)
        /// never make the wrapper panic; its factors stay within their
        /// bounds at every step, and the bands it gives stay nested.
        #[test]
        fn arbitrary_points_keep_factors_bounded_and_bands_nested(
            history in wild_values(80),
            points in wild_values(40),
            model in proptest::sample::select(vec!["naive", "snaive", "ets"]),
        ) {
            let mut m = Calibrated::new(registry::by_name(model).unwrap());
            if m.fit(&history, &FitOptions::default()).is_ok() {
                let _ = m.update(&points);
                for step in 1..=CALIBRATED_STEPS + 2 {
                    for level in TRACKED_LEVELS {
                        let f = m.scale_at_step(level, step);
                        proptest::prop_assert!((SCALE_BOUNDS.0..=SCALE_BOUNDS.1).contains(&f), "{f} at {step}, {level}");
                    }
                }
                if let Ok(p) = m.predict(20, &[50.0, 80.0, 95.0, 99.0]) {
                    for k in 0..p.mean.len() {
                        for pair in p.bands.windows(2) {
                            let (narrow, wide) = (&pair[0], &pair[1]);
                            let (nl, nu, wl, wu) = (narrow.lower[k], narrow.upper[k], wide.lower[k], wide.upper[k]);
                            if [nl, nu, wl, wu].iter().all(|v| v.is_finite()) {
                                proptest::prop_assert!(wl <= nl && wu >= nu, "step {k}: {nl}..{nu} outside {wl}..{wu}");
                            }
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn a_model_saved_with_one_factor_restores_it_for_every_level() {
        let y = calm_then_bursty(600, 0);
        let mut m = Calibrated::new(registry::by_name("ets").unwrap());
        m.fit(&y, &FitOptions::default()).unwrap();
        // The state as saved before the levels had factors of their own.
        m.calibration = Calibration { scale: 1.7, ..Calibration::default() };
        let mut saved = m.save().unwrap();
        let calibration = saved.state["calibration"].as_object_mut().unwrap();
        assert!(calibration.remove("by_level").is_some());
        let r = Calibrated::restore(&saved).unwrap();
        for level in TRACKED_LEVELS {
            assert_eq!(r.scale_at(level), 1.7);
        }
        assert_eq!(r.predict(6, &[80.0, 95.0]).unwrap(), m.predict(6, &[80.0, 95.0]).unwrap());
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
