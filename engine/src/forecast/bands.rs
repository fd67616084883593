//! Calibrated prediction bands from the empirical distribution of h-step
//! forecast errors.
//!
//! Why empirical: server metrics are spiky and skewed, so bands from a
//! Gaussian state-space variance are too narrow on the spikes and too wide
//! elsewhere. Instead every model replays its own forecasts over (the tail
//! of) its history — forecasting `1..=H` steps from each origin using only
//! the past — and keeps, per step `h`, the error scale (mean absolute
//! error), plus the pooled quantiles of the errors divided by that scale.
//! A band at level `L` and step `h` is then `mean + scale_h * Q((1±L)/2)`:
//! asymmetric where the errors are, and wider with the horizon because
//! `scale_h` is made non-decreasing. Beyond the replayed horizon the scale
//! grows like `sqrt(h)` (a random walk's error growth), a conservative guess.

use serde::{Deserialize, Serialize};

use super::Band;

/// Probabilities at which the standardized error quantiles are stored.
const GRID: [f64; 33] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.65,
    0.7, 0.75, 0.8, 0.85, 0.9, 0.925, 0.95, 0.975, 0.98, 0.99, 0.995, 0.9975, 0.999, 0.9995,
];

/// Below this many pooled errors the quantiles are Gaussian instead of empirical.
const MIN_SAMPLES: usize = 30;

/// At most this many standardized errors are sorted for the quantiles.
const MAX_POOLED: usize = 12_000;

/// The default number of steps replayed when calibrating.
pub const CALIBRATION_STEPS: usize = 36;

/// Clamps a point forecast at zero when the history never went below zero
/// (`nonneg`): the one rule every model's mean follows, whether it comes
/// with bands ([`ErrorProfile::prediction`]) or alone
/// ([`super::Forecaster::predict_mean_into`]).
pub fn clamp_mean(mean: &mut [f64], nonneg: bool) {
    if nonneg {
        mean.iter_mut().for_each(|v| *v = v.max(0.0));
    }
}

/// The standard normal quantile function (Acklam's rational approximation,
/// relative error below 1.2e-9), used for the Gaussian fallback.
#[allow(clippy::excessive_precision)] // The published coefficients, verbatim.
pub fn normal_quantile(p: f64) -> f64 {
    let p = p.clamp(1e-12, 1.0 - 1e-12);
    const A: [f64; 6] = [
        -3.969683028665376e1,
        2.209460984245205e2,
        -2.759285104469687e2,
        1.383577518672690e2,
        -3.066479806614716e1,
        2.506628277459239,
    ];
    const B: [f64; 5] =
        [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
    const C: [f64; 6] = [
        -7.784894002430293e-3,
        -3.223964580411365e-1,
        -2.400758277161838,
        -2.549732539343734,
        4.374664141464968,
        2.938163982698783,
    ];
    const D: [f64; 4] = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// Fewest errors at one step for that step to get quantiles of its own.
pub const MIN_STEP_SAMPLES: usize = 100;

/// At most this many standardized errors of one step are used for its quantiles.
const MAX_STEP_ERRORS: usize = 400;

/// Steps that get quantiles of their own (later ones use the pooled): an
/// hour of 5-minute steps, which covers a pool's lead time and the
/// accuracy protocol's horizons. Each step's quantiles cost a selection
/// over its errors; all 36 steps made `auto`'s fit 0.3–0.7 ms slower.
pub const MAX_OWN_STEPS: usize = 12;

/// Probabilities nearer 0 or 1 than this always come from the pooled
/// quantiles: one step's errors are too few to place a 99.5% quantile.
const STEP_TAIL: f64 = 0.025;

/// The measured error behaviour of a fitted model, from which bands are drawn.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorProfile {
    /// Mean absolute h-step error for `h = 1..=scale.len()`, non-decreasing.
    pub scale: Vec<f64>,
    /// Quantiles of `error / scale_h` at the fixed probability grid, pooled
    /// over all steps.
    pub quantiles: Vec<f64>,
    /// How many errors the profile was measured from.
    pub samples: usize,
    /// `by_step[h - 1]`: the quantiles of step `h`'s own standardized
    /// errors, for the first [`MAX_OWN_STEPS`] steps (empty where the step
    /// had fewer than [`MIN_STEP_SAMPLES`]).
    /// Why: the shape of the errors changes with the step. On an on/off
    /// trace (bursts to the peak from a quiet floor) one step ahead errs
    /// big only at a burst's first and last step, 36 steps ahead at any
    /// step of any burst in between; pooled, the one-step 95% band of a
    /// quiet moment reached a third of the peak.
    #[serde(default)]
    pub by_step: Vec<Vec<f64>>,
}

impl Default for ErrorProfile {
    fn default() -> Self {
        Self::gaussian(0.0)
    }
}

impl ErrorProfile {
    /// A profile without measurements: Gaussian errors whose one-step mean
    /// absolute error is `mae1`, growing like `sqrt(h)`.
    pub fn gaussian(mae1: f64) -> Self {
        // For a Gaussian, sd = MAE * sqrt(pi / 2).
        let k = (std::f64::consts::PI / 2.0).sqrt();
        let mae1 = if mae1.is_finite() { mae1.max(0.0) } else { 0.0 };
        Self {
            scale: vec![mae1],
            quantiles: GRID.iter().map(|&p| k * normal_quantile(p)).collect(),
            samples: 0,
            by_step: Vec::new(),
        }
    }

    /// The error scale at step `h >= 1`.
    pub fn scale_at(&self, h: usize) -> f64 {
        let n = self.scale.len();
        match n {
            0 => 0.0,
            _ if h <= n => self.scale[h.max(1) - 1],
            _ => self.scale[n - 1] * (h as f64 / n as f64).sqrt(),
        }
    }

    /// The standardized error quantile at probability `p`, pooled over all steps.
    pub fn quantile(&self, p: f64) -> f64 {
        if self.quantiles.len() != GRID.len() {
            return normal_quantile(p);
        }
        grid_value(&self.quantiles, p)
    }

    /// The standardized error quantile at probability `p` for step `h >= 1`:
    /// the step's own where it has them and `p` is not too far in a tail,
    /// else the pooled one.
    pub fn quantile_at(&self, h: usize, p: f64) -> f64 {
        match self.by_step.get(h.max(1) - 1) {
            Some(q) if q.len() == GRID.len() && (STEP_TAIL..=1.0 - STEP_TAIL).contains(&p) => grid_value(q, p),
            _ => self.quantile(p),
        }
    }

    /// Multiplies every scale by `factor` (used to widen bands after an
    /// out-of-sample coverage check).
    pub fn inflate(&mut self, factor: f64) {
        if factor.is_finite() && factor > 0.0 {
            self.scale.iter_mut().for_each(|s| *s *= factor);
        }
    }

    /// The prediction for a model's mean path: clamped at 0 for a series
    /// that is never negative, with one band per level from this profile.
    pub fn prediction(&self, mut mean: Vec<f64>, levels: &[f64], nonneg: bool) -> super::Prediction {
        clamp_mean(&mut mean, nonneg);
        let bands = self.bands(&mean, levels, nonneg);
        super::Prediction { mean, bands }
    }

    /// Bands around `mean` at every level in `levels`; with `nonneg`, bounds
    /// are clamped at zero.
    pub fn bands(&self, mean: &[f64], levels: &[f64], nonneg: bool) -> Vec<Band> {
        levels
            .iter()
            .map(|&level| {
                let a = (1.0 - level / 100.0) / 2.0;
                let mut lower = Vec::with_capacity(mean.len());
                let mut upper = Vec::with_capacity(mean.len());
                // The band's reach below and above the mean never shrinks
                // with the step (per-step quantiles could).
                let (mut below, mut above) = (0.0f64, 0.0f64);
                for (i, &m) in mean.iter().enumerate() {
                    let s = self.scale_at(i + 1);
                    below = below.min(s * self.quantile_at(i + 1, a));
                    above = above.max(s * self.quantile_at(i + 1, 1.0 - a));
                    let (mut lo, mut hi) = (m + below, m + above);
                    if nonneg {
                        lo = lo.max(0.0);
                        hi = hi.max(0.0);
                    }
                    lower.push(lo);
                    upper.push(hi);
                }
                Band { level, lower, upper }
            })
            .collect()
    }
}

/// The value of the grid quantiles `q` at probability `p` (linear between
/// grid points, flat beyond), on the mean's side of 0: the mean always lies
/// inside its own band.
fn grid_value(q: &[f64], p: f64) -> f64 {
    let v = if p <= GRID[0] {
        q[0]
    } else if p >= GRID[GRID.len() - 1] {
        q[GRID.len() - 1]
    } else {
        let i = GRID.partition_point(|&g| g < p).max(1);
        let (p0, p1) = (GRID[i - 1], GRID[i]);
        q[i - 1] + (q[i] - q[i - 1]) * (p - p0) / (p1 - p0)
    };
    if p < 0.5 {
        v.min(0.0)
    } else {
        v.max(0.0)
    }
}

/// Collects h-step errors and turns them into an [`ErrorProfile`].
#[derive(Debug, Clone)]
pub struct ProfileBuilder {
    sums: Vec<f64>,
    counts: Vec<usize>,
    raw: Vec<(u32, f64)>,
}

impl ProfileBuilder {
    /// A builder for steps `1..=steps`.
    pub fn new(steps: usize) -> Self {
        let steps = steps.max(1);
        Self { sums: vec![0.0; steps], counts: vec![0; steps], raw: Vec::new() }
    }

    /// The number of steps measured.
    pub fn steps(&self) -> usize {
        self.sums.len()
    }

    /// Records the error `actual - forecast` at step `h` (1-based); non-finite
    /// errors and steps beyond the builder's range are ignored.
    pub fn record(&mut self, h: usize, error: f64) {
        if h == 0 || h > self.sums.len() || !error.is_finite() {
            return;
        }
        self.sums[h - 1] += error.abs();
        self.counts[h - 1] += 1;
        self.raw.push((h as u32, error));
    }

    /// The profile; steps with no error get the scale of the step before
    /// (or the Gaussian fallback when nothing was recorded at all).
    pub fn finish(self) -> ErrorProfile {
        let mut scale = Vec::with_capacity(self.sums.len());
        let mut prev = 0.0f64;
        for (s, &c) in self.sums.iter().zip(&self.counts) {
            let v = if c > 0 { s / c as f64 } else { prev };
            prev = prev.max(v);
            scale.push(prev);
        }
        // Trailing steps that nobody measured are dropped, so that sqrt growth applies.
        while scale.len() > 1 && self.counts[scale.len() - 1] == 0 {
            scale.pop();
        }
        if self.raw.len() < MIN_SAMPLES || prev == 0.0 {
            let mut p = ErrorProfile::gaussian(0.0);
            p.scale = scale;
            p.samples = self.raw.len();
            return p;
        }
        let stride = self.raw.len().div_ceil(MAX_POOLED);
        let mut z: Vec<f64> = self
            .raw
            .iter()
            .step_by(stride)
            .filter_map(|&(h, e)| {
                let s = scale[(h as usize - 1).min(scale.len() - 1)];
                (s > 0.0).then_some(e / s)
            })
            .collect();
        if z.len() < MIN_SAMPLES {
            let mut p = ErrorProfile::gaussian(0.0);
            p.scale = scale;
            return p;
        }
        let quantiles = grid_quantiles(&mut z);
        // One pass puts every step's standardized errors in a bucket of its
        // own (every `stride`-th of a step with many).
        let steps = scale.len().min(MAX_OWN_STEPS);
        let usable = |h: usize| self.counts[h] >= MIN_STEP_SAMPLES && scale[h] > 0.0;
        let strides: Vec<usize> = (0..steps).map(|h| self.counts[h].div_ceil(MAX_STEP_ERRORS).max(1)).collect();
        let mut buckets: Vec<Vec<f64>> = (0..steps)
            .map(|h| Vec::with_capacity(if usable(h) { self.counts[h] / strides[h] + 1 } else { 0 }))
            .collect();
        let mut seen = vec![0usize; steps];
        for &(h, e) in &self.raw {
            let h = h as usize - 1;
            if h < steps && usable(h) {
                if seen[h] % strides[h] == 0 {
                    buckets[h].push(e / scale[h]);
                }
                seen[h] += 1;
            }
        }
        let by_step =
            buckets.iter_mut().map(|zh| if zh.is_empty() { Vec::new() } else { grid_quantiles(zh) }).collect();
        ErrorProfile { scale, quantiles, samples: self.raw.len(), by_step }
    }
}

/// The quantiles of `z` (at least one value) at the probability grid;
/// reorders `z`.
fn grid_quantiles(z: &mut [f64]) -> Vec<f64> {
    let n = z.len();
    // Only the order statistics next to each grid point are needed:
    // those are put in place, the rest of `z` stays unsorted.
    let mut ranks: Vec<usize> = GRID
        .iter()
        .flat_map(|&p| {
            let i = (p * (n - 1) as f64).floor() as usize;
            [i, (i + 1).min(n - 1)]
        })
        .collect();
    // Neighbouring grid points can share ranks on few errors, so the
    // list is not ascending until sorted.
    ranks.sort_unstable();
    ranks.dedup();
    place_order_statistics(z, &ranks);
    GRID.iter()
        .map(|&p| {
            let pos = p * (n - 1) as f64;
            let i = pos.floor() as usize;
            let j = (i + 1).min(n - 1);
            z[i] + (z[j] - z[i]) * (pos - i as f64)
        })
        .collect()
}

/// Puts the values of strictly ascending `ranks` at their sorted positions in `z`
/// (as a full sort would, for those positions only), by selecting the
/// middle rank and recursing on each side: O(n log ranks) instead of
/// O(n log n).
fn place_order_statistics(z: &mut [f64], ranks: &[usize]) {
    let Some(&mid) = ranks.get(ranks.len() / 2) else {
        return;
    };
    if mid >= z.len() {
        return;
    }
    let (below, _, above) = z.select_nth_unstable_by(mid, f64::total_cmp);
    let (lower, upper) = ranks.split_at(ranks.len() / 2);
    place_order_statistics(below, lower);
    let offset = mid + 1;
    let upper: Vec<usize> = upper[1..].iter().map(|r| r - offset).collect();
    place_order_statistics(above, &upper);
}

/// A fitted model's state that can absorb one point and forecast from where
/// it stands: what the in-sample replay needs.
pub trait Stepper {
    /// Absorbs the next observation (`NaN` = missing: the state rolls
    /// forward on its own forecast).
    fn step(&mut self, y: f64);
    /// Writes the point forecasts of the next `out.len()` steps.
    fn forecast_into(&self, out: &mut [f64]);
}

/// Rolls `state` over `ys` without measuring anything: what
/// [`calibrate`] leaves behind when the bands are not wanted.
pub fn replay<S: Stepper>(state: &mut S, ys: &[f64]) {
    ys.iter().for_each(|&y| state.step(y));
}

/// [`calibrate`] when `measure`, else [`replay`] and a zero-width profile.
pub fn calibrate_if<S: Stepper>(measure: bool, state: &mut S, ys: &[f64], steps: usize, window: usize) -> ErrorProfile {
    if measure {
        calibrate(state, ys, steps, window)
    } else {
        replay(state, ys);
        ErrorProfile::default()
    }
}

/// Replays `state` over `ys`, forecasting `steps` ahead from every origin in
/// the last `window` points (thinned so that about `budget` forecasts are
/// made), and returns the error profile; `state` ends after the last point.
pub fn calibrate<S: Stepper>(state: &mut S, ys: &[f64], steps: usize, window: usize) -> ErrorProfile {
    let n = ys.len();
    let steps = steps.max(1);
    let mut builder = ProfileBuilder::new(steps);
    let start = n.saturating_sub(window);
    let origins = n.saturating_sub(start).max(1);
    let budget = 2_000usize;
    let stride = origins.div_ceil(budget).max(1);
    let mut out = vec![0.0; steps];
    for t in 0..n {
        if t >= start && (t - start).is_multiple_of(stride) {
            let k = steps.min(n - t);
            state.forecast_into(&mut out[..k]);
            for (i, f) in out[..k].iter().enumerate() {
                builder.record(i + 1, ys[t + i] - f);
            }
        }
        state.step(ys[t]);
    }
    builder.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normal_quantile_is_accurate() {
        assert!((normal_quantile(0.975) - 1.959964).abs() < 1e-5);
        assert!((normal_quantile(0.5)).abs() < 1e-9);
        assert!((normal_quantile(0.005) + 2.575829).abs() < 1e-5);
    }

    #[test]
    fn each_step_gets_the_shape_of_its_own_errors() {
        // An on/off process: one step ahead errs big only at 2% of origins,
        // twelve steps ahead at 20% of them.
        let mut b = ProfileBuilder::new(12);
        for o in 0..1000 {
            for h in 1..=12 {
                let big = (o * 7 + h * 13) % 100 < if h == 1 { 2 } else { 20 };
                b.record(h, if big { 100.0 } else { 0.1 * ((o % 5) as f64 - 2.0) });
            }
        }
        let p = b.finish();
        assert_eq!(p.by_step.len(), MAX_OWN_STEPS.min(12));
        let band = &p.bands(&[0.0; 12], &[90.0], false)[0];
        // One step ahead, 95% of errors are small: so is the upper bound.
        assert!(band.upper[0] < 1.0, "{:?}", band.upper);
        // Twelve steps ahead, a fifth of them reach 100.
        assert!(band.upper[11] > 90.0, "{:?}", band.upper);
        // Pooled over all steps (as before), the one-step bound was far out.
        assert!(p.scale_at(1) * p.quantile(0.95) > 5.0, "{}", p.scale_at(1) * p.quantile(0.95));
        // The band never narrows with the step.
        assert!(band.upper.windows(2).all(|w| w[1] >= w[0]));
        assert!(band.lower.windows(2).all(|w| w[1] <= w[0]));
        // Far tails stay pooled: a step's errors cannot place them.
        assert_eq!(p.quantile_at(1, 0.999), p.quantile(0.999));
    }

    #[test]
    fn a_profile_saved_before_per_step_quantiles_still_loads() {
        let old = r#"{"scale":[1.0,2.0],"quantiles":[],"samples":0}"#;
        let p: ErrorProfile = serde_json::from_str(old).unwrap();
        assert!(p.by_step.is_empty());
        assert_eq!(p.quantile_at(1, 0.975), p.quantile(0.975));
    }

    #[test]
    fn empirical_profile_covers_its_own_errors() {
        let mut b = ProfileBuilder::new(4);
        let mut x = 1u64;
        for _ in 0..5000 {
            for h in 1..=4 {
                x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let u = (x >> 11) as f64 / (1u64 << 53) as f64;
                b.record(h, (u - 0.5) * h as f64);
            }
        }
        let p = b.finish();
        assert!(p.scale.windows(2).all(|w| w[1] >= w[0]));
        let bands = p.bands(&[0.0; 6], &[50.0, 95.0], false);
        // Uniform(-h/2, h/2): the 95% band is about ±0.475 h.
        assert!((bands[1].upper[1] - 0.95).abs() < 0.05, "{:?}", bands[1].upper);
        assert!((bands[0].upper[0] - 0.25).abs() < 0.03);
        // Widening past the measured steps.
        assert!(bands[1].upper[5] > bands[1].upper[3]);
    }

    #[test]
    fn few_errors_fall_back_to_gaussian() {
        let mut b = ProfileBuilder::new(2);
        b.record(1, 1.0);
        b.record(2, -2.0);
        let p = b.finish();
        let band = &p.bands(&[10.0, 10.0], &[95.0], true)[0];
        assert!(band.lower[0] < 10.0 && band.upper[0] > 10.0);
        assert!(band.upper[1] - band.lower[1] >= band.upper[0] - band.lower[0]);
    }

    /// Few errors (neighbouring grid points share ranks) and many: the
    /// quantiles equal those of a full sort.
    #[test]
    fn profile_quantiles_equal_those_of_a_sorted_copy() {
        for n in [30, 31, 45, 100, 500, 2_000, 13_000] {
            let e = crate::forecast::test_util::noise(n, n as u64);
            let mut b = ProfileBuilder::new(1);
            e.iter().for_each(|&v| b.record(1, v));
            let p = b.finish();
            let scale = e.iter().map(|v| v.abs()).sum::<f64>() / n as f64;
            let stride = n.div_ceil(MAX_POOLED);
            let mut z: Vec<f64> = e.iter().step_by(stride).map(|v| v / scale).collect();
            z.sort_unstable_by(f64::total_cmp);
            let m = z.len();
            for (q, &g) in p.quantiles.iter().zip(GRID.iter()) {
                let pos = g * (m - 1) as f64;
                let i = pos.floor() as usize;
                let j = (i + 1).min(m - 1);
                let want = z[i] + (z[j] - z[i]) * (pos - i as f64);
                assert_eq!(*q, want, "n {n} grid {g}");
            }
        }
    }

    #[test]
    fn placed_order_statistics_equal_a_full_sort() {
        let e = crate::forecast::test_util::noise(997, 21);
        // Ties too: values rounded to a coarse grid.
        for values in [e.clone(), e.iter().map(|v| (v * 8.0).round()).collect::<Vec<f64>>()] {
            let mut sorted = values.clone();
            sorted.sort_unstable_by(f64::total_cmp);
            for ranks in [vec![], vec![0], vec![996], vec![0, 1, 2, 500, 501, 995, 996], (0..997).step_by(13).collect()]
            {
                let mut z = values.clone();
                place_order_statistics(&mut z, &ranks);
                for &r in &ranks {
                    assert_eq!(z[r], sorted[r], "rank {r}");
                }
            }
        }
    }
}
