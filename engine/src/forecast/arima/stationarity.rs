//! How many differences a series needs: the KPSS test for the ordinary
//! difference `d`, a seasonal-strength test for the seasonal difference `D`.
//!
//! Why these: they are the Hyndman–Khandakar defaults (`ndiffs` with KPSS,
//! `nsdiffs` with the seasonal-strength measure `F_s > 0.64`). KPSS has
//! stationarity as its null, so a series is only differenced when the data
//! clearly ask for it — over-differencing inflates forecast variance. The
//! seasonal strength uses a classical moving-average decomposition instead
//! of STL: cheaper, and the decision only needs a coarse strength measure.

/// 5% critical value of the KPSS level-stationarity statistic.
const KPSS_CRIT_5PCT: f64 = 0.463;

/// Seasonal strength above which one seasonal difference is taken.
const SEASONAL_STRENGTH: f64 = 0.64;

fn mean(x: &[f64]) -> f64 {
    x.iter().sum::<f64>() / x.len().max(1) as f64
}

fn variance(x: &[f64]) -> f64 {
    let m = mean(x);
    x.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / x.len().max(1) as f64
}

/// Whether `x` is constant up to rounding.
pub(crate) fn is_constant(x: &[f64]) -> bool {
    let (lo, hi) = x.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| (l.min(*v), h.max(*v)));
    let tol = 1e-10 * (1.0 + hi.abs().max(lo.abs()));
    (hi - lo).partial_cmp(&tol) != Some(std::cmp::Ordering::Greater)
}

/// The KPSS statistic for level stationarity with the Newey–West long-run
/// variance at lag `trunc(3·√n / 13)` (as `forecast::ndiffs` uses).
pub(crate) fn kpss_stat(x: &[f64]) -> f64 {
    let n = x.len();
    if n < 4 || is_constant(x) {
        return 0.0;
    }
    let m = mean(x);
    let e: Vec<f64> = x.iter().map(|v| v - m).collect();
    let mut s = 0.0;
    let mut eta = 0.0;
    for v in &e {
        s += v;
        eta += s * s;
    }
    let nf = n as f64;
    eta /= nf * nf;
    let lags = ((3.0 * nf.sqrt() / 13.0) as usize).min(n - 1);
    let mut lrv = e.iter().map(|v| v * v).sum::<f64>() / nf;
    for l in 1..=lags {
        let w = 1.0 - l as f64 / (lags as f64 + 1.0);
        let c: f64 = e[l..].iter().zip(&e[..n - l]).map(|(a, b)| a * b).sum();
        lrv += 2.0 * w * c / nf;
    }
    if lrv <= 0.0 {
        return 0.0;
    }
    eta / lrv
}

/// Number of ordinary differences (at most `max_d`) that make `x` pass KPSS.
pub(crate) fn ndiffs(x: &[f64], max_d: usize) -> usize {
    let mut v = x.to_vec();
    let mut d = 0;
    while d < max_d && v.len() > 8 && kpss_stat(&v) > KPSS_CRIT_5PCT {
        v = v.windows(2).map(|w| w[1] - w[0]).collect();
        d += 1;
        if is_constant(&v) {
            break;
        }
    }
    d
}

/// Seasonal strength `max(0, 1 - Var(R)/Var(S+R))` of period `m` from a
/// classical decomposition (centered moving-average trend, mean seasonal
/// profile); 0 when there are fewer than two full seasons.
pub(crate) fn seasonal_strength(x: &[f64], m: usize) -> f64 {
    let n = x.len();
    if m < 2 || n < 2 * m + 1 {
        return 0.0;
    }
    let half = m / 2;
    // Centered MA: 2×m when m is even, m when odd.
    let mut detr = Vec::with_capacity(n);
    let mut phase = Vec::with_capacity(n);
    let mut prefix = vec![0.0; n + 1];
    for i in 0..n {
        prefix[i + 1] = prefix[i] + x[i];
    }
    for t in half..n - half {
        let trend = if m & 1 == 0 {
            if t + half >= n {
                continue;
            }
            let inner = prefix[t + half] - prefix[t + 1 - half];
            (inner + 0.5 * (x[t - half] + x[t + half])) / m as f64
        } else {
            (prefix[t + half + 1] - prefix[t - half]) / m as f64
        };
        detr.push(x[t] - trend);
        phase.push(t % m);
    }
    if detr.len() < m {
        return 0.0;
    }
    let mut sum = vec![0.0; m];
    let mut cnt = vec![0usize; m];
    for (v, k) in detr.iter().zip(&phase) {
        sum[*k] += v;
        cnt[*k] += 1;
    }
    let prof: Vec<f64> = sum.iter().zip(&cnt).map(|(s, c)| if *c > 0 { s / *c as f64 } else { 0.0 }).collect();
    let pm = mean(&prof);
    let rem: Vec<f64> = detr.iter().zip(&phase).map(|(v, k)| v - (prof[*k] - pm)).collect();
    let vd = variance(&detr);
    if vd <= 0.0 {
        return 0.0;
    }
    (1.0 - variance(&rem) / vd).max(0.0)
}

/// Seasonal differences (0 or 1) for period `m`.
pub(crate) fn nsdiffs(x: &[f64], m: usize) -> usize {
    usize::from(seasonal_strength(x, m) > SEASONAL_STRENGTH)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    #[test]
    fn kpss_separates_noise_from_a_random_walk() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let noise: Vec<f64> = (0..1000).map(|_| rng.gen::<f64>() - 0.5).collect();
        let walk: Vec<f64> = noise
            .iter()
            .scan(0.0, |s, v| {
                *s += v;
                Some(*s)
            })
            .collect();
        assert_eq!(ndiffs(&noise, 2), 0);
        assert_eq!(ndiffs(&walk, 2), 1);
        assert_eq!(ndiffs(&[3.0; 50], 2), 0);
    }

    #[test]
    fn seasonal_strength_sees_a_daily_cycle() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(8);
        let s: Vec<f64> =
            (0..480).map(|t| (t as f64 * std::f64::consts::TAU / 24.0).sin() * 5.0 + rng.gen::<f64>()).collect();
        assert_eq!(nsdiffs(&s, 24), 1);
        let n: Vec<f64> = (0..480).map(|_| rng.gen::<f64>()).collect();
        assert_eq!(nsdiffs(&n, 24), 0);
        assert_eq!(nsdiffs(&n[..30], 24), 0);
    }
}
