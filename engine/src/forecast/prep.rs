//! Turning a raw history into something a model can fit: gaps, non-finite
//! values, and the empty / constant / too-short cases.
//!
//! Why one place: every model needs the same answers (where the usable data
//! starts, is anything there at all, may forecasts go negative), and giving
//! them the same way keeps the models' error messages and fallbacks alike.

use super::ForecastError;

/// A history made ready for fitting.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The values from the first finite one on; `NaN` marks a gap (infinite
    /// inputs are turned into gaps too). Trailing gaps are kept: they are
    /// steps that happened, just unobserved.
    pub values: Vec<f64>,
    /// How many leading steps (all gaps) were dropped.
    pub skipped: usize,
    /// The number of finite values.
    pub finite: usize,
    /// Whether every finite value is `>= 0` (forecasts are then clamped at 0).
    pub nonneg: bool,
    /// Whether every finite value is the same.
    pub constant: bool,
}

/// Cleans `history` (see [`Prepared`]); [`ForecastError::NoData`] when it has
/// no finite value at all.
pub fn prepare(history: &[f64]) -> Result<Prepared, ForecastError> {
    let first = history.iter().position(|v| v.is_finite()).ok_or(ForecastError::NoData)?;
    let values: Vec<f64> = history[first..].iter().map(|&v| if v.is_finite() { v } else { f64::NAN }).collect();
    let mut finite = 0;
    let mut nonneg = true;
    let mut lo = f64::INFINITY;
    let mut hi = f64::NEG_INFINITY;
    for &v in values.iter().filter(|v| v.is_finite()) {
        finite += 1;
        nonneg &= v >= 0.0;
        lo = lo.min(v);
        hi = hi.max(v);
    }
    Ok(Prepared { values, skipped: first, finite, nonneg, constant: lo == hi })
}

/// Timestamped points laid on the regular grid `first, first + step, …`
/// (`len` slots): each point lands in the slot its time falls in (a later
/// point in the same slot wins), a slot without one is a gap (`NaN`), and
/// points outside the grid are dropped. `step` must be positive (an empty
/// grid otherwise). Why here: a query's buckets come back as sparse
/// (time, value) pairs (empty buckets are left out), and the models and
/// the burst search read positions, so every caller lays them out the
/// same way.
pub fn on_grid(points: impl IntoIterator<Item = (i64, f64)>, first: i64, step: i64, len: usize) -> Vec<f64> {
    if step <= 0 {
        return Vec::new();
    }
    let mut values = vec![f64::NAN; len];
    for (t, v) in points {
        let Some(offset) = t.checked_sub(first).filter(|d| *d >= 0) else { continue };
        if let Some(slot) = usize::try_from(offset / step).ok().and_then(|i| values.get_mut(i)) {
            *slot = v;
        }
    }
    values
}

/// Fills interior gaps by linear interpolation and trailing gaps with the
/// last finite value; leading gaps take the first finite value. A slice
/// without any finite value is returned as zeros.
pub fn fill_linear(values: &[f64]) -> Vec<f64> {
    let mut out = values.to_vec();
    let mut last: Option<usize> = None;
    for i in 0..out.len() {
        if !out[i].is_finite() {
            continue;
        }
        match last {
            Some(j) if i > j + 1 => {
                let (a, b) = (out[j], out[i]);
                let span = (i - j) as f64;
                for (k, slot) in out.iter_mut().enumerate().take(i).skip(j + 1) {
                    *slot = a + (b - a) * (k - j) as f64 / span;
                }
            }
            None if i > 0 => {
                let v = out[i];
                out[..i].iter_mut().for_each(|s| *s = v);
            }
            _ => {}
        }
        last = Some(i);
    }
    match last {
        Some(j) => {
            let v = out[j];
            out[j + 1..].iter_mut().for_each(|s| *s = v);
        }
        None => out.iter_mut().for_each(|s| *s = 0.0),
    }
    out
}

/// Checks a predict request: a horizon of at least one step and levels in `(0, 100)`.
pub fn check_request(horizon: usize, levels: &[f64]) -> Result<(), ForecastError> {
    if horizon == 0 {
        return Err(ForecastError::InvalidParameter("horizon must be at least 1 step".into()));
    }
    if let Some(l) = levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
        return Err(ForecastError::InvalidParameter(format!("band level {l} must be between 0 and 100 (exclusive)")));
    }
    Ok(())
}

/// The median of the finite values (`NaN` when there is none).
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    median_in_place(&mut v)
}

/// The median of `v`, whose values must all be finite, reordering `v`
/// (`NaN` when empty): [`median`] without a copy, for callers that own a
/// scratch buffer.
pub fn median_in_place(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    let mid = v.len() / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let m = *m;
    if v.len().is_multiple_of(2) {
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        (lower + m) / 2.0
    } else {
        m
    }
}

/// The median of the finite `values` and 1.4826 × their median absolute
/// deviation from it (the standard deviation, for Gaussian values), using
/// `scratch` as the work buffer (`NaN`s when no value is finite).
pub fn robust_center_spread(values: impl IntoIterator<Item = f64>, scratch: &mut Vec<f64>) -> (f64, f64) {
    scratch.clear();
    scratch.extend(values.into_iter().filter(|v| v.is_finite()));
    let med = median_in_place(scratch);
    scratch.iter_mut().for_each(|v| *v = (*v - med).abs());
    (med, 1.4826 * median_in_place(scratch))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_land_in_their_slots_and_missing_ones_are_gaps() {
        let g = on_grid([(100, 1.0), (130, 2.0), (139, 3.0), (90, 9.0), (200, 9.0)], 100, 10, 6);
        assert_eq!(g.len(), 6);
        assert_eq!(g[0], 1.0);
        assert!(g[1].is_nan() && g[2].is_nan() && g[4].is_nan() && g[5].is_nan());
        assert_eq!(g[3], 3.0, "a later point in the same slot wins");
        assert!(on_grid([(0, 1.0)], 0, 0, 4).is_empty());
        assert!(on_grid([(i64::MIN, 1.0), (i64::MAX, 1.0)], -5, 1, 3).iter().all(|v| v.is_nan()));
    }

    #[test]
    fn prepare_trims_leading_gaps_and_flags() {
        let p = prepare(&[f64::NAN, f64::INFINITY, 1.0, f64::NAN, 3.0]).unwrap();
        assert_eq!(p.skipped, 2);
        assert_eq!(p.finite, 2);
        assert!(p.nonneg && !p.constant);
        assert!(p.values[1].is_nan());
        assert_eq!(prepare(&[f64::NAN; 4]), Err(ForecastError::NoData));
        assert_eq!(prepare(&[]), Err(ForecastError::NoData));
        assert!(prepare(&[2.0, 2.0, f64::NAN]).unwrap().constant);
    }

    #[test]
    fn fill_linear_interpolates_and_extends() {
        let f = fill_linear(&[f64::NAN, 1.0, f64::NAN, f64::NAN, 4.0, f64::NAN]);
        assert_eq!(f, vec![1.0, 1.0, 2.0, 3.0, 4.0, 4.0]);
        assert_eq!(fill_linear(&[f64::NAN, f64::NAN]), vec![0.0, 0.0]);
    }

    #[test]
    fn check_request_rejects_bad_input() {
        assert!(check_request(0, &[]).is_err());
        assert!(check_request(3, &[100.0]).is_err());
        assert!(check_request(3, &[f64::NAN]).is_err());
        assert!(check_request(3, &[95.0, 50.0]).is_ok());
    }

    #[test]
    fn median_of_even_and_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0, f64::NAN]), 2.5);
        assert!(median(&[f64::NAN]).is_nan());
        let mut v = [5.0, 1.0, 4.0, 2.0];
        assert_eq!(median_in_place(&mut v), 3.0);
        assert!(median_in_place(&mut []).is_nan());
        let mut scratch = Vec::new();
        let (med, sd) = robust_center_spread([1.0, 2.0, 3.0, 100.0, f64::NAN, f64::INFINITY], &mut scratch);
        assert_eq!((med, sd), (2.5, 1.4826));
        assert!(robust_center_spread([f64::NAN], &mut scratch).0.is_nan());
    }
}
