//! Estimating one ARIMA order: CSS first (ranks candidates, gives starting
//! values), then exact Gaussian maximum likelihood through the Kalman filter
//! on the original series with its gaps.
//!
//! Why two stages: CSS is one cheap pass and is what the order search needs;
//! exact likelihood is right for short series and near-non-invertible MA
//! parts and handles missing steps exactly, but costs more, so it only runs
//! on the chosen order, from the CSS optimum, for a few dozen evaluations.
//!
//! The differencing is applied outside the state space: the filter sees
//! `w_t = y_t - Σ δ_i y_{t-i}`. A missing `y_t` makes `w_t` missing, and
//! `y_t` is then replaced by its one-step prediction so later differences
//! stay defined (the same rule `update()` uses on new points).

use super::css::{css, hannan_rissanen, long_ar_residuals, nonzero};
use super::kalman::{Filter, Ssm};
use super::optim::{nelder_mead, NmOptions};
use super::params::{diff_poly, difference, Coefs, Order};
use std::collections::VecDeque;

/// The differenced, gap-filled series one `(d, D, m)` choice gives, ready
/// for CSS fits of any `(p, q, P, Q)`.
pub(crate) struct Prepared {
    pub w: Vec<f64>,
    pub mean: f64,
    ehat: Vec<f64>,
    skip: usize,
    /// Common first index of the summed squares.
    from: usize,
}

impl Prepared {
    /// Differences `yi` (gap-filled) and fits the long autoregression;
    /// `max_ar_lag` is the largest AR lag any candidate will have.
    pub(crate) fn new(yi: &[f64], d: usize, sd: usize, m: usize, max_ar_lag: usize) -> Prepared {
        let w = difference(yi, d, sd, m);
        let n = w.len();
        let mean = w.iter().sum::<f64>() / n.max(1) as f64;
        let z: Vec<f64> = w.iter().map(|v| v - mean).collect();
        let skip = ((n as f64).ln().ceil() as usize * 2).clamp(4, 20).min(n / 4);
        let ehat = long_ar_residuals(&z, skip);
        Prepared { w, mean, ehat, skip, from: max_ar_lag.min(n / 3) }
    }
}

/// A candidate fitted by CSS.
#[derive(Debug, Clone)]
pub(crate) struct CssFit {
    pub order: Order,
    pub coefs: Coefs,
    pub c: f64,
    pub aicc: f64,
    /// Unconstrained optimizer coordinates of `coefs`.
    pub x: Vec<f64>,
}

/// AICc from `-2 log L`, `k` estimated parameters (σ² included) and `n` observations.
pub(crate) fn aicc(m2ll: f64, k: usize, n: usize) -> f64 {
    if n <= k + 1 {
        return f64::INFINITY;
    }
    m2ll + 2.0 * k as f64 + 2.0 * (k * (k + 1)) as f64 / (n - k - 1) as f64
}

fn n_params(order: &Order) -> usize {
    order.n_coef() + usize::from(order.has_constant()) + 1
}

/// Fits `order` (whose `d`, `D`, `m` must match `prep`) by conditional sum
/// of squares; `None` when there are too few points or the fit is not finite.
pub(crate) fn fit_css(prep: &Prepared, order: Order, max_evals: usize) -> Option<CssFit> {
    let m = order.season();
    let c = if order.has_constant() { prep.mean } else { 0.0 };
    let z: Vec<f64> = prep.w.iter().map(|v| v - c).collect();
    let zc: Vec<f64> = prep.w.iter().map(|v| v - prep.mean).collect();
    let (phi0, theta0) = hannan_rissanen(&zc, &prep.ehat, prep.skip, order.p, order.q)
        .unwrap_or((vec![0.0; order.p], vec![0.0; order.q]));
    let (sp, sq) = if order.is_seasonal() { (order.sp, order.sq) } else { (0, 0) };
    let init = Coefs { phi: phi0, theta: theta0, sphi: vec![0.0; sp], stheta: vec![0.0; sq] };
    let x0 = init.to_unconstrained();
    let mut e = Vec::with_capacity(z.len());
    let mut used = 0usize;
    let mut obj = |x: &[f64]| {
        let cf = Coefs::from_unconstrained(&order, x);
        let ar = nonzero(&cf.full_ar(m));
        let ma = nonzero(&cf.full_ma(m));
        let (ss, cnt) = css(&z, &ar, &ma, prep.from, &mut e);
        used = cnt;
        if cnt == 0 {
            return f64::INFINITY;
        }
        0.5 * (ss / cnt as f64).max(1e-300).ln()
    };
    let best = nelder_mead(&mut obj, &x0, NmOptions { step: 0.15, ftol: 1e-7, max_evals });
    if !best.f.is_finite() {
        return None;
    }
    // Re-evaluate at the optimum so `used` belongs to it.
    let f = obj(&best.x);
    if !f.is_finite() {
        return None;
    }
    let m2ll = used as f64 * (2.0 * f + (std::f64::consts::TAU).ln() + 1.0);
    let coefs = Coefs::from_unconstrained(&order, &best.x);
    Some(CssFit { order, coefs, c, aicc: aicc(m2ll, n_params(&order), used), x: best.x })
}

/// The fitted state of one model: what forecasts, updates and saves need.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Fitted {
    pub order: Order,
    pub coefs: Coefs,
    /// Mean (or drift) of the differenced series.
    pub c: f64,
    /// Innovation variance.
    pub sigma2: f64,
    /// Exact log-likelihood and AICc of the fit (informational).
    pub loglik: f64,
    pub aicc: f64,
    /// Kalman filter state for the next step.
    pub filter: Filter,
    /// The last `d + mD` values of the series (gaps imputed), oldest first.
    pub tail: Vec<f64>,
    /// Observations the model has seen (fit + updates).
    pub nobs: usize,
}

/// Running sums of the Gaussian log-likelihood.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Lik {
    ssq: f64,
    sumlog: f64,
    nobs: usize,
}

impl Lik {
    fn sigma2(&self) -> f64 {
        if self.nobs == 0 {
            0.0
        } else {
            self.ssq / self.nobs as f64
        }
    }
    /// Concentrated objective `½(ln σ̂² + Σ ln F / n)`.
    fn objective(&self) -> f64 {
        if self.nobs == 0 {
            return f64::INFINITY;
        }
        0.5 * (self.sigma2().max(1e-300).ln() + self.sumlog / self.nobs as f64)
    }
    fn m2ll(&self) -> f64 {
        let n = self.nobs as f64;
        n * ((std::f64::consts::TAU * self.sigma2().max(1e-300)).ln() + 1.0) + self.sumlog
    }
}

/// The model's one-step machinery: state-space ARMA plus the undifferencing.
pub(crate) struct Stepper {
    pub ssm: Ssm,
    /// Non-zero `(lag, δ)` of the differencing polynomial.
    delta: Vec<(usize, f64)>,
    /// Length of the tail the undifferencing needs.
    pub nd: usize,
    pub c: f64,
}

impl Stepper {
    pub(crate) fn new(order: &Order, coefs: &Coefs, c: f64) -> Stepper {
        let m = order.season();
        let ssm = Ssm::new(&coefs.full_ar(m), &coefs.full_ma(m));
        let dp = diff_poly(order.d, order.seasonal_d(), m);
        Stepper { ssm, nd: dp.len(), delta: nonzero(&dp), c }
    }

    /// `Σ δ_i y_{t-i}` from a tail (oldest first) of length `nd`.
    pub(crate) fn base(&self, tail: &VecDeque<f64>) -> f64 {
        self.delta.iter().map(|&(k, dlt)| dlt * tail[self.nd - k]).sum()
    }

    /// Absorbs `y` (NaN = missing); returns the value kept in the tail.
    pub(crate) fn step(&self, filter: &mut Filter, tail: &mut VecDeque<f64>, y: f64, lik: &mut Lik) -> f64 {
        let base = self.base(tail);
        let kept = if y.is_finite() {
            if let Some((v, f)) = filter.step(&self.ssm, Some(y - base - self.c)) {
                lik.ssq += v * v / f;
                lik.sumlog += f.ln();
                lik.nobs += 1;
            }
            y
        } else {
            let guess = base + self.c + filter.predicted();
            filter.step(&self.ssm, None);
            guess
        };
        if self.nd > 0 {
            tail.pop_front();
            tail.push_back(kept);
        }
        kept
    }
}

/// Runs the filter over the whole history `y` (gaps as NaN; `yi` is the
/// gap-filled copy used for the first `d + mD` values).
pub(crate) fn filter_pass(
    y: &[f64],
    yi: &[f64],
    order: &Order,
    coefs: &Coefs,
    c: f64,
) -> Option<(Lik, Filter, VecDeque<f64>)> {
    let st = Stepper::new(order, coefs, c);
    if y.len() <= st.nd {
        return None;
    }
    let mut filter = Filter::new(&st.ssm);
    let mut tail: VecDeque<f64> = yi[..st.nd].iter().copied().collect();
    let mut lik = Lik::default();
    for &v in &y[st.nd..] {
        st.step(&mut filter, &mut tail, v, &mut lik);
    }
    Some((lik, filter, tail))
}

/// Exact maximum likelihood from the CSS optimum; falls back to the CSS
/// coefficients when the likelihood cannot be evaluated.
pub(crate) fn fit_ml(y: &[f64], yi: &[f64], start: &CssFit, max_evals: usize) -> Option<Fitted> {
    let order = start.order;
    let c = start.c;
    let mut obj = |x: &[f64]| {
        let cf = Coefs::from_unconstrained(&order, x);
        filter_pass(y, yi, &order, &cf, c).map_or(f64::INFINITY, |(l, _, _)| l.objective())
    };
    let best = if start.x.is_empty() {
        start.x.clone()
    } else {
        nelder_mead(&mut obj, &start.x, NmOptions { step: 0.05, ftol: 1e-8, max_evals }).x
    };
    let mut coefs = Coefs::from_unconstrained(&order, &best);
    let mut pass = filter_pass(y, yi, &order, &coefs, c);
    if pass.as_ref().is_none_or(|(l, _, _)| !l.objective().is_finite()) {
        coefs = start.coefs.clone();
        pass = filter_pass(y, yi, &order, &coefs, c);
    }
    let (lik, filter, tail) = pass?;
    let m2ll = lik.m2ll();
    Some(Fitted {
        order,
        coefs,
        c,
        sigma2: lik.sigma2(),
        loglik: -0.5 * m2ll,
        aicc: aicc(m2ll, n_params(&order), lik.nobs),
        filter,
        tail: tail.into_iter().collect(),
        nobs: y.iter().filter(|v| v.is_finite()).count(),
    })
}
