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

use super::prep::{fill_linear, median};

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
        let mut cands: Vec<(usize, f64)> = peaks(&acf, floor, max_lag, cfg)
            .into_iter()
            .filter(|&(p, _)| !found.contains(&p))
            .filter(|&(p, _)| strength(&resid, p) > 1.0 / (n / p) as f64 + cfg.strength_margin)
            .collect();
        if cands.is_empty() {
            break;
        }
        let best = cands.iter().map(|c| c.1).fold(f64::NEG_INFINITY, f64::max);
        cands.retain(|c| c.1 >= 0.6 * best);
        let p = refine(&resid, cands[0].0, found.last().copied());
        found.push(p);
        remove_profile(&mut resid, p);
    }
    found.sort_unstable();
    found
}

/// The lag near `p` with the strongest seasonal profile: an ACF peak is
/// broad and noise (and the finite window) move it by a few lags, while
/// per-phase averaging over all cycles is sharp at the true period.
fn refine(x: &[f64], p: usize, shorter: Option<usize>) -> usize {
    let w = (p / 40).max(1);
    // A longer period is a whole number of the shorter one (a week of days).
    if let Some(q) = shorter.filter(|&q| q >= 2) {
        let k = ((p as f64 / q as f64).round() as usize).max(2);
        if (k * q).abs_diff(p) <= w {
            return k * q;
        }
    }
    (p.saturating_sub(w).max(2)..=p + w)
        .filter(|&q| q < x.len() / 2)
        .map(|q| (q, strength(x, q)))
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
    let med = median(&r);
    let abs: Vec<f64> = r.iter().map(|v| (v - med).abs()).collect();
    let mad = median(&abs) * 1.4826;
    if mad.is_finite() && mad > 0.0 {
        let (lo, hi) = (med - 5.0 * mad, med + 5.0 * mad);
        r.iter_mut().for_each(|v| *v = v.clamp(lo, hi));
    }
    r
}

/// The autocorrelation of `x` at lags `0..=max_lag` (empty for a constant series).
pub fn autocorrelation(x: &[f64], max_lag: usize) -> Vec<f64> {
    let n = x.len();
    if n < 2 {
        return Vec::new();
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let size = (2 * n).next_power_of_two();
    let mut re = vec![0.0; size];
    let mut im = vec![0.0; size];
    for (r, &v) in re.iter_mut().zip(x) {
        *r = v - mean;
    }
    fft(&mut re, &mut im, false);
    for (r, i) in re.iter_mut().zip(im.iter_mut()) {
        *r = *r * *r + *i * *i;
        *i = 0.0;
    }
    fft(&mut re, &mut im, true);
    let c0 = re[0];
    if !(c0.is_finite() && c0 > 0.0) {
        return Vec::new();
    }
    re[..=max_lag.min(n - 1)].iter().map(|c| c / c0).collect()
}

/// In-place radix-2 FFT (`re.len()` must be a power of two); the inverse is
/// scaled by `1/len`.
fn fft(re: &mut [f64], im: &mut [f64], inverse: bool) {
    let n = re.len();
    let mut j = 0;
    for i in 1..n {
        let mut bit = n >> 1;
        while j & bit != 0 {
            j ^= bit;
            bit >>= 1;
        }
        j |= bit;
        if i < j {
            re.swap(i, j);
            im.swap(i, j);
        }
    }
    let sign = if inverse { 1.0 } else { -1.0 };
    let mut len = 2;
    while len <= n {
        let ang = sign * 2.0 * std::f64::consts::PI / len as f64;
        let (wr, wi) = (ang.cos(), ang.sin());
        for start in (0..n).step_by(len) {
            let (mut cr, mut ci) = (1.0, 0.0);
            for k in 0..len / 2 {
                let (a, b) = (start + k, start + k + len / 2);
                let tr = re[b] * cr - im[b] * ci;
                let ti = re[b] * ci + im[b] * cr;
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
                let ncr = cr * wr - ci * wi;
                ci = cr * wi + ci * wr;
                cr = ncr;
            }
        }
        len <<= 1;
    }
    if inverse {
        let s = 1.0 / n as f64;
        re.iter_mut().for_each(|v| *v *= s);
        im.iter_mut().for_each(|v| *v *= s);
    }
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
    let mut pre = vec![0.0; n + 1];
    for i in 0..n {
        pre[i + 1] = pre[i] + x[i];
    }
    let half = p / 2;
    if p % 2 == 1 {
        for (t, o) in out.iter_mut().enumerate().take(n - half).skip(half) {
            *o = (pre[t + half + 1] - pre[t - half]) / p as f64;
        }
    } else {
        for (t, o) in out.iter_mut().enumerate().take(n - half).skip(half) {
            // Two overlapping windows of length p, averaged: weights 1/2p at the ends.
            let a = pre[t + half] - pre[t - half];
            let b = pre[t + half + 1] - pre[t + 1 - half];
            *o = (a + b) / (2 * p) as f64;
        }
    }
    out
}

/// Seasonal strength of period `p` in `x` (0 = none, 1 = pure season).
pub fn strength(x: &[f64], p: usize) -> f64 {
    let trend = centered_ma(x, p);
    let mut sums = vec![0.0; p];
    let mut counts = vec![0usize; p];
    let mut d = Vec::with_capacity(x.len());
    for (t, (&v, &tr)) in x.iter().zip(&trend).enumerate() {
        if tr.is_finite() {
            let dv = v - tr;
            sums[t % p] += dv;
            counts[t % p] += 1;
            d.push((t % p, dv));
        }
    }
    if d.len() < 2 * p {
        return 0.0;
    }
    let prof: Vec<f64> = sums.iter().zip(&counts).map(|(s, &c)| if c > 0 { s / c as f64 } else { 0.0 }).collect();
    let mean_d = d.iter().map(|x| x.1).sum::<f64>() / d.len() as f64;
    let (mut vd, mut vr) = (0.0, 0.0);
    for &(ph, dv) in &d {
        vd += (dv - mean_d).powi(2);
        vr += (dv - prof[ph]).powi(2);
    }
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
    }
}
