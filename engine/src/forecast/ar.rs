//! A fast autoregression: `AR(p)` on the series (`d = 0`) or on its
//! first differences (`d = 1`, an `ARIMA(p,1,0)` without drift), with the
//! order chosen by BIC. It is the remainder model of `mstl_ar` and
//! `mstl_ari` (see [`super::mstl`]), where it forecasts the seasonally
//! adjusted series; without a season it is a plain autoregression.
//!
//! Why: the short-term autocorrelation of a server metric around its
//! level and season (a burst lasts a few steps, then decays) is what
//! AutoARIMA captures and ETS does not, and it is where ARIMA beats the
//! other baselines on CPU traces. A full ARIMA search costs 40–560 ms per
//! fit here; the Yule–Walker estimates of every order up to
//! [`MAX_ORDER`] come out of one Durbin–Levinson recursion over
//! [`MAX_ORDER`] + 1 autocovariances, so the fit costs about as much as
//! reading the history 25 times, well under a millisecond. Yule–Walker
//! estimates are always stationary, so a forecast never explodes. A long
//! autoregression on the differences also stands in for the moving-average
//! terms it lacks (`ARIMA(p,1,q)` is `AR(∞)` on the differences).
//!
//! Spikes: values beyond [`CLIP_MADS`] robust deviations of the median are
//! clipped before the autocovariances are taken, and when forecasting, a
//! one-step error beyond [`CLIP_MADS`] robust deviations of the fit's
//! errors moves the lags by that much only (the robust filter ETS uses,
//! with the same [`SHIFT_RUN`] escape for a level shift), so a single
//! spike neither inflates the coefficients nor echoes through the
//! forecast.

use serde::{Deserialize, Serialize};

use super::bands::Stepper;
use super::ets::SHIFT_RUN;
use super::prep::robust_center_spread;
use super::ForecastError;

/// The highest autoregressive order tried.
pub const MAX_ORDER: usize = 24;

/// Forecast steps computed in a stack buffer (longer horizons allocate).
const STACK_STEPS: usize = 64;

/// Values (and one-step errors) further than this many robust standard
/// deviations (1.4826 MAD) from their median are clipped.
pub const CLIP_MADS: f64 = 5.0;

/// A fitted autoregression and its recent values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ArState {
    /// Differencing order: 0 or 1.
    pub d: u8,
    /// The mean of the modelled series (0 after differencing: no drift).
    pub mean: f64,
    /// Coefficients, highest lag first: `phi_rev[p - 1]` is lag 1's (the
    /// order of `lags`, so a forecast is a straight dot product).
    pub phi_rev: Vec<f64>,
    /// One-step errors beyond `±clip` move the lags by `±clip` only (0 =
    /// off), unless the last [`SHIFT_RUN`] were all clipped on one side.
    pub clip: f64,
    /// Signed count of consecutive clipped errors on one side.
    pub run: i32,
    /// The last `phi_rev.len()` modelled values minus the mean, oldest first.
    pub lags: Vec<f64>,
    /// The last observation (the base a differenced forecast adds to).
    pub last: f64,
}

impl ArState {
    /// Fits `x` (gap-free) with differencing order `d` (0 or 1); the
    /// state returned is the one before `x[0]`, ready to be replayed over
    /// `x`.
    pub fn fit(x: &[f64], d: u8) -> Result<Self, ForecastError> {
        let w: Vec<f64> = if d == 1 { x.windows(2).map(|p| p[1] - p[0]).collect() } else { x.to_vec() };
        if w.len() < 2 * MAX_ORDER + 2 {
            return Err(ForecastError::TooShort { model: "ar", got: x.len(), need: 2 * MAX_ORDER + 3 });
        }
        // Spikes are clipped before the moments are taken.
        let mut scratch = Vec::with_capacity(w.len());
        let (med, sd) = robust_center_spread(w.iter().copied(), &mut scratch);
        let spread = CLIP_MADS * sd;
        let (lo, hi) = if spread > 0.0 { (med - spread, med + spread) } else { (f64::NEG_INFINITY, f64::INFINITY) };
        let clipped: Vec<f64> = w.iter().map(|v| v.clamp(lo, hi)).collect();
        let mean = if d == 1 { 0.0 } else { clipped.iter().sum::<f64>() / clipped.len() as f64 };
        let z: Vec<f64> = clipped.iter().map(|v| v - mean).collect();
        let phi = yule_walker_bic(&z);
        let p = phi.len();
        // The one-step errors' robust spread sets the clip of the filter.
        // (`phi[j]` times lag `j + 1`: the window before `t`, read backwards.)
        let errors: Vec<f64> = (p..z.len())
            .map(|t| z[t] - phi.iter().zip(z[t - p..t].iter().rev()).map(|(f, v)| f * v).sum::<f64>())
            .collect();
        let clip = CLIP_MADS * robust_center_spread(errors.iter().copied(), &mut scratch).1;
        let start = if d == 1 { x[0] } else { mean };
        let phi_rev = phi.iter().rev().copied().collect();
        Ok(Self { d, mean, phi_rev, clip, run: 0, lags: vec![0.0; p], last: start })
    }

    /// The one-step forecast of the modelled value minus the mean.
    fn next_lagged(&self) -> f64 {
        self.phi_rev.iter().zip(&self.lags).map(|(f, z)| f * z).sum()
    }
}

/// The dot product of `a` and `b` (to the shorter length), summed in four
/// interleaved partial sums: a single running sum waits on each addition,
/// and the autocovariances of a 4,032-point history are 25 such products.
fn dot(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k] * y[k];
        }
    }
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// The Yule–Walker coefficients of the order up to [`MAX_ORDER`] with the
/// lowest BIC, for a zero-mean series `z` (BIC rather than AIC: on a short
/// history AIC's long orders fitted noise that did not repeat, see
/// docs/forecasting.md).
fn yule_walker_bic(z: &[f64]) -> Vec<f64> {
    let n = z.len();
    let gamma: Vec<f64> = (0..=MAX_ORDER).map(|k| dot(&z[k..], z) / n as f64).collect();
    if !(gamma[0].is_finite() && gamma[0] > 0.0) {
        return Vec::new();
    }
    let nf = n as f64;
    let mut best = (nf * gamma[0].ln(), Vec::new());
    let mut phi: Vec<f64> = Vec::new();
    let mut v = gamma[0];
    for k in 1..=MAX_ORDER {
        let acc: f64 = phi.iter().enumerate().map(|(j, f)| f * gamma[k - 1 - j]).sum();
        let kappa = (gamma[k] - acc) / v;
        if !kappa.is_finite() || kappa.abs() >= 1.0 {
            break;
        }
        let prev = phi.clone();
        phi.push(kappa);
        for j in 0..k - 1 {
            phi[j] = prev[j] - kappa * prev[k - 2 - j];
        }
        v *= 1.0 - kappa * kappa;
        if !(v.is_finite() && v > 0.0) {
            break;
        }
        let bic = nf * v.ln() + nf.ln() * k as f64;
        if bic < best.0 {
            best = (bic, phi.clone());
        }
    }
    best.1
}

impl Stepper for ArState {
    fn step(&mut self, y: f64) {
        let f = self.next_lagged();
        let z = if !y.is_finite() {
            f
        } else {
            let z = if self.d == 1 { y - self.last } else { y - self.mean };
            let e = z - f;
            if self.clip > 0.0 && e.abs() > self.clip {
                let side = if e > 0.0 { 1 } else { -1 };
                self.run = if self.run.signum() == side { self.run + side } else { side };
                if self.run.abs() >= SHIFT_RUN {
                    z
                } else {
                    f + self.clip * e.signum()
                }
            } else {
                self.run = 0;
                z
            }
        };
        self.last = if y.is_finite() {
            y
        } else if self.d == 1 {
            self.last + z
        } else {
            self.mean + z
        };
        if !self.lags.is_empty() {
            self.lags.rotate_left(1);
            let end = self.lags.len() - 1;
            self.lags[end] = z;
        }
    }

    fn forecast_into(&self, out: &mut [f64]) {
        let p = self.lags.len();
        // The lags, then the forecasts appended one by one, in one
        // contiguous buffer (on the stack for the horizons a backtest
        // asks for), so that each step is one dot product.
        let mut stack = [0.0; MAX_ORDER + STACK_STEPS];
        let mut heap = Vec::new();
        let buf: &mut [f64] = if out.len() <= STACK_STEPS {
            &mut stack[..p + out.len()]
        } else {
            heap.resize(p + out.len(), 0.0);
            &mut heap
        };
        buf[..p].copy_from_slice(&self.lags);
        let mut level = self.last;
        for (i, o) in out.iter_mut().enumerate() {
            // phi_rev[k] multiplies lag p - k: a straight dot product with
            // the last p values.
            let next: f64 = self.phi_rev.iter().zip(&buf[i..i + p]).map(|(f, z)| f * z).sum();
            buf[i + p] = next;
            *o = if self.d == 1 {
                level += next;
                level
            } else {
                self.mean + next
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::test_util::noise;

    #[test]
    fn dot_is_the_plain_sum_of_products_for_any_length() {
        let a: Vec<f64> = (0..23).map(|i| (i as f64 * 0.7).sin() * 3.0).collect();
        let b: Vec<f64> = (0..19).map(|i| (i as f64 * 1.3).cos() + 0.5).collect();
        for n in 0..a.len() {
            let plain: f64 = a[..n].iter().zip(&b).map(|(x, y)| x * y).sum();
            let got = dot(&a[..n], &b);
            assert!((got - plain).abs() <= 1e-12 * (1.0 + plain.abs()), "n={n}: {got} vs {plain}");
        }
        assert_eq!(dot(&[], &b), 0.0);
    }

    /// An AR(2) series `x_t = 0.6 x_{t-1} - 0.3 x_{t-2} + e_t` around 50.
    fn ar2(n: usize, seed: u64) -> Vec<f64> {
        let e = noise(n, seed);
        let mut z = vec![0.0; n];
        for t in 2..n {
            z[t] = 0.6 * z[t - 1] - 0.3 * z[t - 2] + e[t];
        }
        z.iter().map(|v| 50.0 + v).collect()
    }

    fn forecast(s: &ArState, h: usize) -> Vec<f64> {
        let mut out = vec![0.0; h];
        s.forecast_into(&mut out);
        out
    }

    #[test]
    fn recovers_the_order_and_coefficients_of_an_ar2() {
        let x = ar2(4000, 7);
        let s = ArState::fit(&x, 0).unwrap();
        assert_eq!(s.phi_rev.len(), 2, "BIC picks the true order: {:?}", s.phi_rev);
        assert!((s.phi_rev[1] - 0.6).abs() < 0.05 && (s.phi_rev[0] + 0.3).abs() < 0.05, "{:?}", s.phi_rev);
        assert!((s.mean - 50.0).abs() < 0.05);
        // Differenced, the same series needs more lags, and still forecasts
        // near its mean a step ahead.
        let mut d = ArState::fit(&x, 1).unwrap();
        assert!(d.phi_rev.len() >= 2);
        x.iter().for_each(|&v| d.step(v));
        assert!((forecast(&d, 1)[0] - 50.0).abs() < 1.0);
    }

    #[test]
    fn one_step_forecasts_follow_the_recursion() {
        let x = ar2(3000, 3);
        let mut s = ArState::fit(&x, 0).unwrap();
        x.iter().for_each(|&v| s.step(v));
        let (l1, l2) = (x[2999] - s.mean, x[2998] - s.mean);
        let want = s.mean + s.phi_rev[1] * l1 + s.phi_rev[0] * l2;
        assert!((forecast(&s, 1)[0] - want).abs() < 1e-9);
        // Far ahead a stationary fit returns to its mean.
        assert!((forecast(&s, 200)[199] - s.mean).abs() < 1e-6);
    }

    #[test]
    fn long_horizons_match_short_ones_and_stepping_on_forecasts() {
        let x: Vec<f64> = ar2(2000, 11).iter().enumerate().map(|(t, v)| v + 0.01 * t as f64).collect();
        for d in [0, 1] {
            let mut s = ArState::fit(&x, d).unwrap();
            x.iter().for_each(|&v| s.step(v));
            let long = forecast(&s, STACK_STEPS + 40);
            assert_eq!(&long[..10], &forecast(&s, 10)[..]);
            // A missing observation rolls the state forward on its forecast.
            let mut rolled = s.clone();
            for (i, want) in long.iter().enumerate().take(STACK_STEPS + 5) {
                let got = forecast(&rolled, 1)[0];
                assert!((got - want).abs() < 1e-9 * want.abs().max(1.0), "d={d} step {i}: {got} vs {want}");
                rolled.step(f64::NAN);
            }
        }
    }

    #[test]
    fn a_spike_does_not_echo_but_a_level_shift_is_followed() {
        let x = ar2(3000, 5);
        for d in [0, 1] {
            let mut s = ArState::fit(&x, d).unwrap();
            x.iter().for_each(|&v| s.step(v));
            let before = forecast(&s, 6);
            // One spike of 200 noise amplitudes, then back to normal.
            let mut spiked = s.clone();
            spiked.step(50.0 + 200.0);
            spiked.step(x[2999]);
            let after = forecast(&spiked, 6);
            let moved = after.iter().zip(&before).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            assert!(moved < 5.0, "d={d}: a spike moved the forecast by {moved}");
        }
        // A lasting shift of +100: the differenced model follows it.
        let mut s = ArState::fit(&x, 1).unwrap();
        x.iter().for_each(|&v| s.step(v));
        for v in &x[..20] {
            s.step(v + 100.0);
        }
        assert!((forecast(&s, 3)[2] - 150.0).abs() < 2.0, "{:?}", forecast(&s, 3));
    }

    #[test]
    fn degenerate_inputs_are_errors_or_flat_forecasts() {
        assert!(matches!(ArState::fit(&[1.0; 20], 0), Err(ForecastError::TooShort { .. })));
        for d in [0, 1] {
            let mut s = ArState::fit(&[7.0; 300], d).unwrap();
            assert!(s.phi_rev.is_empty());
            s.step(7.0);
            assert_eq!(forecast(&s, 5), vec![7.0; 5]);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Finite histories of any scale give finite forecasts or an error,
        /// never a panic.
        #[test]
        fn finite_histories_give_finite_forecasts(
            x in proptest::collection::vec(proptest::prop_oneof![-1e300..1e300f64, -1e3..1e3f64, proptest::prelude::Just(0.0)], 0..400),
            d in 0u8..2,
        ) {
            if let Ok(mut s) = ArState::fit(&x, d) {
                x.iter().for_each(|&v| s.step(v));
                s.step(f64::NAN);
                let f = forecast(&s, 70);
                let scale = x.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                if scale < 1e100 {
                    proptest::prop_assert!(f.iter().all(|v| v.is_finite()), "{:?}", f);
                }
            }
        }
    }
}
