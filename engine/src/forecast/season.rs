//! Seasonality detection: which periods (in steps) repeat in a history.
//!
//! Method, and why:
//! 1. Remove a least-squares line and winsorize the residual at
//!    median ± 5 MAD, so that spikes (CPU bursts) and trends do not dominate
//!    the autocorrelation.
//! 2. Compute the autocorrelation function (ACF) with an FFT
//!    (O(n log n): a 4,032-point history takes well under a millisecond).
//! 3. Candidate periods are ACF peaks that are local maxima, positive, and
//!    *prominent*: they rise clearly above the ACF trough before them. This
//!    rejects the slow, smooth decay of trends and random walks.
//! 4. Significance test: a candidate `p` is kept only if its seasonal
//!    strength `F = 1 - var(remainder) / var(detrended)` (detrended by a
//!    centered moving average of length `p`, seasonal = per-phase means)
//!    exceeds what noise alone gives with `k = n/p` cycles (about `1/k`)
//!    by a margin.
//! 5. Prefer the shortest strong period (the fundamental, not a harmonic
//!    multiple), remove its per-phase profile, and look again for a longer
//!    period in what remains: 48 then 336 on half-hourly taxi demand.

use super::prep::{fill_linear, median, robust_center_spread};

/// Tuning of [`detect_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct DetectConfig {
    /// The most periods returned.
    pub max_periods: usize,
    /// Shortest period considered.
    pub min_period: usize,
    /// At least this many full cycles must be in the history.
    pub min_cycles: usize,
    /// Minimum ACF value at a candidate lag.
    pub min_acf: f64,
    /// Minimum rise of the ACF peak over the trough before it.
    pub min_prominence: f64,
    /// Margin of the seasonal strength over its noise level `1/k`.
    pub strength_margin: f64,
}

impl Default for DetectConfig {
    fn default() -> Self {
        Self { max_periods: 3, min_period: 2, min_cycles: 3, min_acf: 0.1, min_prominence: 0.1, strength_margin: 0.1 }
    }
}

/// Detects the seasonal periods of `values` (`NaN` = gap) with the default
/// configuration; ascending, possibly empty.
pub fn detect(values: &[f64]) -> Vec<usize> {
    detect_with(values, &DetectConfig::default())
}

/// Detects seasonal periods with an explicit configuration.
pub fn detect_with(values: &[f64], cfg: &DetectConfig) -> Vec<usize> {
    let n = values.len();
    if n < 8 || values.iter().filter(|v| v.is_finite()).count() < 8 {
        return Vec::new();
    }
    let mut resid = robust_residual(&fill_linear(values));
    let mut found: Vec<usize> = Vec::new();
    let max_lag = n / cfg.min_cycles.max(2);
    for _ in 0..cfg.max_periods {
        let acf = autocorrelation(&resid, n - 1);
        if acf.is_empty() {
            break;
        }
        let floor = found.last().map_or(cfg.min_period, |&p| 2 * p - p / 4).max(cfg.min_period);
        let pre = prefix_sums(&resid);
        let mut peaks: Vec<(usize, f64)> =
            peaks(&acf, floor, max_lag, cfg).into_iter().filter(|&(p, _)| !found.contains(&p)).collect();
        // The strength test is the expensive part: it runs lazily, on the
        // strongest peak first (that sets the bar), then in lag order on the
        // peaks that clear 60% of the bar; the first that passes is the one
        // an eager filter-then-pick would choose.
        let mut strong: Vec<Option<bool>> = vec![None; peaks.len()];
        let mut passes = |i: usize, p: usize| {
            *strong[i]
                .get_or_insert_with(|| strength_with(&resid, &pre, p) > 1.0 / (n / p) as f64 + cfg.strength_margin)
        };
        let mut by_acf: Vec<usize> = (0..peaks.len()).collect();
        by_acf.sort_by(|&a, &b| peaks[b].1.total_cmp(&peaks[a].1));
        let Some(best) = by_acf.into_iter().find(|&i| passes(i, peaks[i].0)).map(|i| peaks[i].1) else {
            break;
        };
        let Some(pick) = (0..peaks.len()).find(|&i| peaks[i].1 >= 0.6 * best && passes(i, peaks[i].0)) else {
            break;
        };
        let p = refine(&resid, &pre, peaks.swap_remove(pick).0, found.last().copied());
        found.push(p);
        if found.len() == cfg.max_periods {
            break;
        }
        remove_profile(&mut resid, p);
    }
    found.sort_unstable();
    found
}

/// The most lags [`refine`] tries on either side of an ACF peak.
const MAX_REFINE_LAGS: usize = 8;

/// The lag near `p` with the strongest seasonal profile: an ACF peak is
/// broad and noise (and the finite window) move it by a few lags, while
/// per-phase averaging over all cycles is sharp at the true period.
fn refine(x: &[f64], pre: &[f64], p: usize, shorter: Option<usize>) -> usize {
    let w = (p / 40).max(1);
    // A longer period is a whole number of the shorter one (a week of days).
    if let Some(q) = shorter.filter(|&q| q >= 2) {
        let k = ((p as f64 / q as f64).round() as usize).max(2);
        if (k * q).abs_diff(p) <= w {
            return k * q;
        }
    }
    // The scan costs one strength test per lag: a long period (a few
    // cycles of a month in a quarter's history) would otherwise test
    // dozens of lags for a precision its few cycles cannot give.
    let w = w.min(MAX_REFINE_LAGS);
    (p.saturating_sub(w).max(2)..=p + w)
        .filter(|&q| q < x.len() / 2)
        .map(|q| (q, strength_with(x, pre, q)))
        .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or(p, |c| c.0)
}

/// `x` minus its least-squares line, winsorized at median ± 5 MAD.
fn robust_residual(x: &[f64]) -> Vec<f64> {
    let n = x.len() as f64;
    let tm = (n - 1.0) / 2.0;
    let xm = x.iter().sum::<f64>() / n;
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, &v) in x.iter().enumerate() {
        let dt = i as f64 - tm;
        sxy += dt * (v - xm);
        sxx += dt * dt;
    }
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let mut r: Vec<f64> = x.iter().enumerate().map(|(i, &v)| v - xm - slope * (i as f64 - tm)).collect();
    let (med, mad) = robust_center_spread(r.iter().copied(), &mut Vec::with_capacity(r.len()));
    if mad.is_finite() && mad > 0.0 {
        let (lo, hi) = (med - 5.0 * mad, med + 5.0 * mad);
        r.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    }
    r
}

/// The autocorrelation of `x` at lags `0..=max_lag` (empty for a constant series).
///
/// Wiener–Khinchin: the ACF is the inverse real FFT of the power spectrum
/// of the zero-padded, centered series (padded to at least twice its
/// length, so the circular correlation equals the linear one). The FFTs are
/// `realfft`'s (SIMD, planned once per size and thread): a transform is a
/// solved problem, and it was most of a detection's time with a textbook
/// radix-2 FFT.
pub fn autocorrelation(x: &[f64], max_lag: usize) -> Vec<f64> {
    let n = x.len();
    if n < 2 {
        return Vec::new();
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let size = (2 * n).next_power_of_two();
    let mut buf = vec![0.0; size];
    for (r, &v) in buf.iter_mut().zip(x) {
        *r = v - mean;
    }
    let (forward, inverse) = FFT_PLANNER.with(|planner| {
        let mut planner = planner.borrow_mut();
        (planner.plan_fft_forward(size), planner.plan_fft_inverse(size))
    });
    let mut spectrum = forward.make_output_vec();
    if forward.process(&mut buf, &mut spectrum).is_err() {
        return Vec::new();
    }
    for c in spectrum.iter_mut() {
        *c = realfft::num_complex::Complex::new(c.norm_sqr(), 0.0);
    }
    if inverse.process(&mut spectrum, &mut buf).is_err() {
        return Vec::new();
    }
    let c0 = buf[0];
    if !(c0.is_finite() && c0 > 0.0) {
        return Vec::new();
    }
    buf[..=max_lag.min(n - 1)].iter().map(|v| v / c0).collect()
}

thread_local! {
    /// FFT plans (twiddle tables) by size, kept per thread: planning costs
    /// about as much as a transform.
    static FFT_PLANNER: std::cell::RefCell<realfft::RealFftPlanner<f64>> =
        std::cell::RefCell::new(realfft::RealFftPlanner::new());
}

/// Prominent local maxima of the ACF in `[floor, max_lag]`, ascending by lag.
fn peaks(acf: &[f64], floor: usize, max_lag: usize, cfg: &DetectConfig) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    let top = max_lag.min(acf.len().saturating_sub(2));
    for p in floor.max(2)..=top {
        let v = acf[p];
        if v < cfg.min_acf {
            continue;
        }
        let w = (p / 20).max(1);
        let lo = p.saturating_sub(w);
        let hi = (p + w).min(acf.len() - 1);
        if acf[lo..=hi].iter().any(|&a| a > v) || acf[p - 1] == v {
            continue;
        }
        let trough = acf[p / 2..p].iter().copied().fold(f64::INFINITY, f64::min);
        if v - trough >= cfg.min_prominence {
            out.push((p, v));
        }
    }
    out
}

/// Centered moving average of length `p` (a 2×p average when `p` is even);
/// `NaN` where the window does not fit.
pub(crate) fn centered_ma(x: &[f64], p: usize) -> Vec<f64> {
    let n = x.len();
    let mut out = vec![f64::NAN; n];
    if p < 2 || n < p + 1 {
        return out;
    }
    each_centered_ma(x, &prefix_sums(x), p, |t, _, average| out[t] = average);
    out
}

/// `pre[i]` = sum of `x[..i]` (`n + 1` values), for moving averages.
fn prefix_sums(x: &[f64]) -> Vec<f64> {
    let mut pre = vec![0.0; x.len() + 1];
    for (i, &v) in x.iter().enumerate() {
        pre[i + 1] = pre[i] + v;
    }
    pre
}

/// Calls `f(t, x[t], average)` with the centered moving average of length
/// `p` at every `t` in `p / 2 .. n - p / 2`, in order, from `pre`, the
/// prefix sums of the `n` values `x` (`n >= p + 1`). An even `p` averages two
/// overlapping windows of length `p` (weights `1/2p` at the ends). The
/// prefix sums are read through zipped slices: no bounds check and no
/// branch per point (season detection runs this once per period tried).
#[inline(always)]
fn each_centered_ma(x: &[f64], pre: &[f64], p: usize, mut f: impl FnMut(usize, f64, f64)) {
    let half = p / 2;
    let lo = half;
    let points = (lo..).zip(&x[lo..]);
    if p % 2 == 1 {
        let ends = pre[lo + half + 1..].iter().zip(&pre[lo - half..]);
        for ((t, &v), (&up, &down)) in points.zip(ends) {
            f(t, v, (up - down) / p as f64);
        }
    } else {
        let first = pre[lo + half..].iter().zip(&pre[lo - half..]);
        let second = pre[lo + half + 1..].iter().zip(&pre[lo + 1 - half..]);
        for ((t, &v), ((&u0, &d0), (&u1, &d1))) in points.zip(first.zip(second)) {
            f(t, v, ((u0 - d0) + (u1 - d1)) / (2 * p) as f64);
        }
    }
}

/// Seasonal strength of period `p` in `x` (0 = none, 1 = pure season).
pub fn strength(x: &[f64], p: usize) -> f64 {
    strength_with(x, &prefix_sums(x), p)
}

/// [`strength`] with the prefix sums of `x` given (shared by the many
/// periods a detection tries): one pass, no per-point allocation.
///
/// Both variances come from sums gathered in that pass: with `d` the
/// detrended values, `s_φ`/`c_φ` their sum and count at phase `φ`,
/// `var(detrended) ∝ Σd² − (Σd)²/len` and `var(remainder) ∝ Σd² − Σ_φ s_φ²/c_φ`
/// (the remainder is `d` minus its phase's mean). `d` is a residual around
/// zero, so the subtractions lose no meaningful precision.
fn strength_with(x: &[f64], pre: &[f64], p: usize) -> f64 {
    let n = x.len();
    if p < 2 || n < p + 1 {
        return 0.0;
    }
    let lo = p / 2;
    let mut sums = vec![0.0; p];
    let mut counts = vec![0usize; p];
    let (mut total, mut squares, mut len) = (0.0, 0.0, 0usize);
    // `phase` is `t % p`, kept by counting (a division per point costs more
    // than the rest of the loop).
    let mut phase = lo % p;
    each_centered_ma(x, pre, p, |_, v, average| {
        let dv = v - average;
        if dv.is_finite() {
            sums[phase] += dv;
            counts[phase] += 1;
            total += dv;
            squares += dv * dv;
            len += 1;
        }
        phase += 1;
        if phase == p {
            phase = 0;
        }
    });
    if len < 2 * p {
        return 0.0;
    }
    let explained: f64 = sums.iter().zip(&counts).filter(|(_, &c)| c > 0).map(|(s, &c)| s * s / c as f64).sum();
    let vd = squares - total * total / len as f64;
    let vr = (squares - explained).max(0.0);
    if vd <= 0.0 {
        return 0.0;
    }
    (1.0 - vr / vd).max(0.0)
}

/// Subtracts the per-phase median profile of period `p` (after removing a
/// centered moving average) from `x`.
fn remove_profile(x: &mut [f64], p: usize) {
    let trend = centered_ma(x, p);
    let mut by_phase: Vec<Vec<f64>> = vec![Vec::new(); p];
    for (t, (&v, &tr)) in x.iter().zip(&trend).enumerate() {
        if tr.is_finite() {
            by_phase[t % p].push(v - tr);
        }
    }
    let prof: Vec<f64> = by_phase.iter().map(|v| if v.is_empty() { 0.0 } else { median(v) }).collect();
    for (t, v) in x.iter_mut().enumerate() {
        *v -= prof[t % p];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::forecast::test_util::noise;

    #[test]
    fn finds_daily_season_with_spikes() {
        let e = noise(4032, 1);
        let u = noise(4032, 99);
        let y: Vec<f64> = (0..4032)
            .map(|t| {
                let s = (2.0 * std::f64::consts::PI * t as f64 / 288.0).sin() * 5.0;
                // Irregular spikes on 1% of the steps.
                let spike = if u[t] > 0.49 { 200.0 } else { 0.0 };
                20.0 + s + e[t] * 3.0 + spike
            })
            .collect();
        assert_eq!(detect(&y), vec![288]);
    }

    #[test]
    fn finds_two_periods() {
        let e = noise(1344, 2);
        let y: Vec<f64> = (0..1344)
            .map(|t| {
                let day = (2.0 * std::f64::consts::PI * t as f64 / 48.0).sin() * 10.0;
                let weekend = if (t / 48) % 7 >= 5 { -8.0 } else { 0.0 };
                100.0 + day + weekend + e[t] * 2.0
            })
            .collect();
        assert_eq!(detect(&y), vec![48, 336]);
    }

    #[test]
    fn no_period_in_noise_or_trend() {
        assert!(detect(&noise(2000, 3)).is_empty());
        let trend: Vec<f64> = (0..2000).map(|t| t as f64 * 0.5).collect();
        assert!(detect(&trend).is_empty());
        let mut walk = 0.0;
        let rw: Vec<f64> = noise(2000, 4)
            .into_iter()
            .map(|e| {
                walk += e;
                walk
            })
            .collect();
        assert!(detect(&rw).is_empty(), "{:?}", detect(&rw));
        assert!(detect(&[1.0; 100]).is_empty());
        assert!(detect(&[f64::NAN; 100]).is_empty());
    }

    #[test]
    fn fft_acf_matches_direct() {
        let x = noise(100, 5);
        let acf = autocorrelation(&x, 10);
        let m = x.iter().sum::<f64>() / 100.0;
        let c0: f64 = x.iter().map(|v| (v - m).powi(2)).sum();
        let c3: f64 = (0..97).map(|i| (x[i] - m) * (x[i + 3] - m)).sum();
        assert!((acf[3] - c3 / c0).abs() < 1e-12);
        for n in [2, 3, 5, 64, 257] {
            let x = noise(n, n as u64);
            let acf = autocorrelation(&x, n - 1);
            let m = x.iter().sum::<f64>() / n as f64;
            let c = |k: usize| (0..n - k).map(|i| (x[i] - m) * (x[i + k] - m)).sum::<f64>();
            assert_eq!(acf.len(), n);
            for (k, a) in acf.iter().enumerate() {
                assert!((a - c(k) / c(0)).abs() < 1e-12, "n {n} lag {k}: {a} vs {}", c(k) / c(0));
            }
        }
    }

    /// The one-pass strength against its definition, computed the long
    /// way: detrend by the centered moving average, subtract the per-phase
    /// means, compare the two variances.
    #[test]
    fn one_pass_strength_matches_the_definition() {
        let reference = |x: &[f64], p: usize| {
            let trend = centered_ma(x, p);
            let d: Vec<(usize, f64)> =
                trend.iter().enumerate().filter(|(_, t)| t.is_finite()).map(|(i, t)| (i, x[i] - t)).collect();
            let mut sums = vec![0.0; p];
            let mut counts = vec![0.0; p];
            for &(i, v) in &d {
                sums[i % p] += v;
                counts[i % p] += 1.0;
            }
            let mean = d.iter().map(|(_, v)| v).sum::<f64>() / d.len() as f64;
            let vd: f64 = d.iter().map(|(_, v)| (v - mean).powi(2)).sum();
            let vr: f64 = d.iter().map(|&(i, v)| (v - sums[i % p] / counts[i % p]).powi(2)).sum();
            (1.0 - vr / vd).max(0.0)
        };
        let e = noise(3000, 11);
        for (amp, level) in [(0.0, 0.0), (0.3, 5.0), (2.0, -40.0), (50.0, 1e4)] {
            let x: Vec<f64> = (0..3000)
                .map(|t| level + amp * (2.0 * std::f64::consts::PI * t as f64 / 48.0).sin() + e[t] + 0.001 * t as f64)
                .collect();
            for p in [2, 3, 7, 12, 47, 48, 49, 288, 999] {
                let (fast, slow) = (strength(&x, p), reference(&x, p));
                assert!((fast - slow).abs() < 1e-9, "amp {amp} p {p}: {fast} vs {slow}");
            }
        }
    }
}
