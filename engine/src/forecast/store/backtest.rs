//! The backtest a new model version is stored with: how well the model
//! forecasts its own training history, rolling-origin.
//!
//! Protocol (a light form of [`crate::forecast::eval`], cheap enough for
//! every refit): the model is fitted once on the history before the first
//! origin and rolled forward with `update()` from origin to origin, as a
//! continuous forecast rolls it forward between refits. Origins are
//! `stride` steps apart (`max(1, horizon / 2)`), at most `origins` of
//! them, all in the last 40% of the history; each forecasts `horizon`
//! steps. MASE divides the mean absolute error over every (origin, step)
//! pair by the in-sample mean absolute one-step change before the first
//! origin (the naive scale: the period is not always known here); live
//! error is scaled the same way, so the two compare.

use super::Scores;
use crate::forecast::{FitOptions, Forecaster};

/// Fewest steps before the first origin.
const MIN_TRAIN: usize = 8;

/// Scores the model built by `make` on `y` (oldest first, `NaN` = gap).
/// A history too short to hold one origin gives empty scores.
pub fn backtest(
    make: &dyn Fn() -> Option<Box<dyn Forecaster>>,
    y: &[f64],
    options: &FitOptions,
    horizon: usize,
    origins: usize,
) -> Scores {
    let n = y.len();
    let h = horizon.max(1);
    let stride = (h / 2).max(1);
    let earliest = (n * 3 / 5).max(MIN_TRAIN);
    if origins == 0 || n < earliest + h {
        return Scores::default();
    }
    // Origins from the last one (n - h) back, at most `origins`, not before `earliest`.
    let last = n - h;
    let count = ((last - earliest) / stride + 1).min(origins);
    let first = last - (count - 1) * stride;
    let scale = naive_scale(&y[..first]);
    let Some(mut model) = make() else { return Scores::default() };
    if model.fit(&y[..first], options).is_err() {
        return Scores::default();
    }
    let (mut abs_err, mut scored, mut inside) = (0.0, 0usize, 0usize);
    let mut seen = first;
    for o in (first..=last).step_by(stride) {
        if o > seen && model.update(&y[seen..o]).is_err() {
            return Scores::default();
        }
        seen = o;
        let Ok(p) = model.predict(h, &[95.0]) else { return Scores::default() };
        let Some(band) = p.band(95.0) else { return Scores::default() };
        for k in 0..h {
            let a = y[o + k];
            if !a.is_finite() || !p.mean[k].is_finite() {
                continue;
            }
            abs_err += (a - p.mean[k]).abs();
            scored += 1;
            inside += usize::from(a >= band.lower[k] && a <= band.upper[k]);
        }
    }
    if scored == 0 {
        return Scores { scale, origins: count, ..Scores::default() };
    }
    let mae = abs_err / scored as f64;
    Scores { mase: scale.map(|s| mae / s), coverage95: Some(inside as f64 / scored as f64), scale, origins: count }
}

/// Mean absolute change between consecutive finite steps (`None` if there
/// is none or it is 0: a constant history has no scale).
pub fn naive_scale(y: &[f64]) -> Option<f64> {
    let (sum, count) = y
        .windows(2)
        .filter(|w| w[0].is_finite() && w[1].is_finite())
        .fold((0.0, 0usize), |(s, c), w| (s + (w[1] - w[0]).abs(), c + 1));
    let scale = sum / count.max(1) as f64;
    (count > 0 && scale > 0.0 && scale.is_finite()).then_some(scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::registry;

    fn make(name: &'static str) -> impl Fn() -> Option<Box<dyn Forecaster>> {
        move || registry::by_name(name)
    }

    #[test]
    fn scores_a_good_and_a_poor_model() {
        let noise = crate::forecast::test_util::noise(400, 7);
        let y: Vec<f64> =
            (0..400).map(|t| 50.0 + 10.0 * (2.0 * std::f64::consts::PI * t as f64 / 24.0).sin() + noise[t]).collect();
        let opts = FitOptions { seasons: vec![24], ..Default::default() };
        let good = backtest(&make("snaive"), &y, &opts, 12, 10);
        let poor = backtest(&make("naive"), &y, &opts, 12, 10);
        assert_eq!(good.origins, 10);
        let (g, p) = (good.mase.expect("mase"), poor.mase.expect("mase"));
        assert!(g < p, "seasonal naive {g} should beat naive {p} on a seasonal series");
        assert!(good.coverage95.expect("coverage") > 0.5);
        // Too short, or constant: no scores, no panic.
        assert_eq!(backtest(&make("ets"), &y[..10], &opts, 12, 10), Scores::default());
        let flat = backtest(&make("naive"), &[3.0; 100], &FitOptions::default(), 6, 5);
        assert_eq!((flat.mase, flat.scale), (None, None));
        assert_eq!(naive_scale(&[1.0, f64::NAN, 2.0, 4.0]), Some(2.0));
    }
}
