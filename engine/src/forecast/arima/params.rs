//! ARIMA parameter plumbing: the order, the map from unconstrained
//! optimizer coordinates to stationary/invertible coefficients, and the
//! expansion of seasonal products into plain lag polynomials.
//!
//! Why a reparametrization: stationarity of the AR part and invertibility of
//! the MA part are enforced by construction (Jones 1980, as R's `arima`
//! does for AR): each factor is parametrized by partial autocorrelations
//! `tanh(x) ∈ (-1, 1)` and mapped to coefficients by the Durbin–Levinson
//! recursion, so every point the optimizer tries is a valid model.

use serde::{Deserialize, Serialize};

/// An ARIMA order `(p,d,q)(P,D,Q)m` and whether a constant is estimated.
///
/// The constant is the mean of the differenced series: a mean when
/// `d + D = 0`, a drift (slope per step) when `d + D = 1`; it is never used
/// with `d + D ≥ 2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// Non-seasonal AR order.
    pub p: usize,
    /// Non-seasonal differences.
    pub d: usize,
    /// Non-seasonal MA order.
    pub q: usize,
    /// Seasonal AR order.
    pub sp: usize,
    /// Seasonal differences.
    pub sd: usize,
    /// Seasonal MA order.
    pub sq: usize,
    /// Season length in steps (ignored when `sp = sd = sq = 0`).
    pub m: usize,
    /// Estimate a constant (mean or drift).
    pub constant: bool,
}

impl Order {
    /// A non-seasonal `(p,d,q)` order with or without a constant.
    pub fn new(p: usize, d: usize, q: usize, constant: bool) -> Self {
        Order { p, d, q, sp: 0, sd: 0, sq: 0, m: 1, constant }
    }

    /// Whether any seasonal term is present.
    pub fn is_seasonal(&self) -> bool {
        self.m > 1 && (self.sp + self.sd + self.sq) > 0
    }

    /// Season length actually used (1 when non-seasonal).
    pub(crate) fn season(&self) -> usize {
        if self.is_seasonal() {
            self.m
        } else {
            1
        }
    }

    /// Number of ARMA coefficients (excluding the constant).
    pub(crate) fn n_coef(&self) -> usize {
        self.p + self.q + if self.is_seasonal() { self.sp + self.sq } else { 0 }
    }

    /// Whether the constant is actually in the model.
    pub(crate) fn has_constant(&self) -> bool {
        self.constant && self.d + self.seasonal_d() <= 1
    }

    pub(crate) fn seasonal_d(&self) -> usize {
        if self.is_seasonal() {
            self.sd
        } else {
            0
        }
    }

    /// Human-readable `ARIMA(p,d,q)(P,D,Q)[m]` with `with drift`/`with mean`.
    pub fn label(&self) -> String {
        let mut s = format!("ARIMA({},{},{})", self.p, self.d, self.q);
        if self.is_seasonal() {
            s.push_str(&format!("({},{},{})[{}]", self.sp, self.sd, self.sq, self.m));
        }
        if self.has_constant() {
            s.push_str(if self.d + self.seasonal_d() == 0 { " with mean" } else { " with drift" });
        }
        s
    }
}

/// Durbin–Levinson: partial autocorrelations → AR coefficients `a` of a
/// stationary `1 - Σ a_i z^i` (when every `|r| < 1`).
pub(crate) fn pacf_to_ar(r: &[f64]) -> Vec<f64> {
    let mut a = vec![0.0; r.len()];
    let mut prev = vec![0.0; r.len()];
    for k in 0..r.len() {
        prev[..k].copy_from_slice(&a[..k]);
        a[k] = r[k];
        for j in 0..k {
            a[j] = prev[j] - r[k] * prev[k - 1 - j];
        }
    }
    a
}

/// The inverse of [`pacf_to_ar`]; `None` when `a` is not stationary.
pub(crate) fn ar_to_pacf(a: &[f64]) -> Option<Vec<f64>> {
    let p = a.len();
    let mut cur = a.to_vec();
    let mut r = vec![0.0; p];
    for k in (0..p).rev() {
        let rk = cur[k];
        if !rk.is_finite() || rk.abs() >= 1.0 {
            return None;
        }
        r[k] = rk;
        let den = 1.0 - rk * rk;
        let old = cur.clone();
        for j in 0..k {
            cur[j] = (old[j] + rk * old[k - 1 - j]) / den;
        }
    }
    Some(r)
}

/// Largest |partial autocorrelation| the optimizer may reach (keeps the
/// filter and the autocovariance solve well conditioned).
const MAX_PACF: f64 = 0.9995;

fn to_pacf(x: &[f64]) -> Vec<f64> {
    x.iter().map(|v| v.tanh().clamp(-MAX_PACF, MAX_PACF)).collect()
}

fn from_pacf(r: &[f64]) -> Vec<f64> {
    r.iter().map(|v| v.clamp(-0.98, 0.98).atanh()).collect()
}

/// The coefficients of one model: `phi`, `theta`, seasonal `sphi`, `stheta`
/// in the sign convention `(1 - Σφ B^i)(1 - ΣΦ B^{mi}) w = (1 + Σθ B^i)(1 + ΣΘ B^{mi}) e`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Coefs {
    pub phi: Vec<f64>,
    pub theta: Vec<f64>,
    pub sphi: Vec<f64>,
    pub stheta: Vec<f64>,
}

impl Coefs {
    /// Maps unconstrained coordinates (`p, q, P, Q` of them, in that order).
    pub(crate) fn from_unconstrained(o: &Order, x: &[f64]) -> Coefs {
        let (sp, sq) = if o.is_seasonal() { (o.sp, o.sq) } else { (0, 0) };
        let (a, rest) = x.split_at(o.p);
        let (b, rest) = rest.split_at(o.q);
        let (c, dd) = rest.split_at(sp);
        let dd = &dd[..sq];
        Coefs {
            phi: pacf_to_ar(&to_pacf(a)),
            theta: pacf_to_ar(&to_pacf(b)).into_iter().map(|v| -v).collect(),
            sphi: pacf_to_ar(&to_pacf(c)),
            stheta: pacf_to_ar(&to_pacf(dd)).into_iter().map(|v| -v).collect(),
        }
    }

    /// Unconstrained coordinates for these coefficients; factors that are
    /// not stationary/invertible start from 0.
    pub(crate) fn to_unconstrained(&self) -> Vec<f64> {
        let mut x = Vec::new();
        let ar = |v: &[f64]| ar_to_pacf(v).map(|r| from_pacf(&r)).unwrap_or_else(|| vec![0.0; v.len()]);
        let ma = |v: &[f64]| {
            let neg: Vec<f64> = v.iter().map(|t| -t).collect();
            ar(&neg)
        };
        x.extend(ar(&self.phi));
        x.extend(ma(&self.theta));
        x.extend(ar(&self.sphi));
        x.extend(ma(&self.stheta));
        x
    }

    /// All coefficients in order `phi, theta, sphi, stheta`.
    pub(crate) fn flat(&self) -> Vec<f64> {
        let mut v = self.phi.clone();
        v.extend(&self.theta);
        v.extend(&self.sphi);
        v.extend(&self.stheta);
        v
    }

    /// Splits [`Coefs::flat`] output back for order `o`.
    pub(crate) fn from_flat(o: &Order, v: &[f64]) -> Option<Coefs> {
        let (sp, sq) = if o.is_seasonal() { (o.sp, o.sq) } else { (0, 0) };
        if v.len() != o.p + o.q + sp + sq {
            return None;
        }
        let (a, rest) = v.split_at(o.p);
        let (b, rest) = rest.split_at(o.q);
        let (c, dd) = rest.split_at(sp);
        Some(Coefs { phi: a.to_vec(), theta: b.to_vec(), sphi: c.to_vec(), stheta: dd.to_vec() })
    }

    /// The expanded AR polynomial `φ*(B) = 1 - Σ φ*_k B^k` as `φ*_1..`.
    pub(crate) fn full_ar(&self, m: usize) -> Vec<f64> {
        let a = poly_from(&self.phi, 1, -1.0);
        let b = poly_from(&self.sphi, m, -1.0);
        poly_mul(&a, &b).iter().skip(1).map(|v| -v).collect()
    }

    /// The expanded MA polynomial `θ*(B) = 1 + Σ θ*_k B^k` as `θ*_1..`.
    pub(crate) fn full_ma(&self, m: usize) -> Vec<f64> {
        let a = poly_from(&self.theta, 1, 1.0);
        let b = poly_from(&self.stheta, m, 1.0);
        poly_mul(&a, &b).into_iter().skip(1).collect()
    }
}

/// `1 + sign·Σ c_i B^{i·step}` as a dense coefficient vector.
fn poly_from(c: &[f64], step: usize, sign: f64) -> Vec<f64> {
    let mut v = vec![0.0; c.len() * step + 1];
    v[0] = 1.0;
    for (i, ci) in c.iter().enumerate() {
        v[(i + 1) * step] = sign * ci;
    }
    v
}

pub(crate) fn poly_mul(a: &[f64], b: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; a.len() + b.len() - 1];
    for (i, x) in a.iter().enumerate() {
        if *x == 0.0 {
            continue;
        }
        for (j, y) in b.iter().enumerate() {
            out[i + j] += x * y;
        }
    }
    out
}

/// The differencing operator `(1-B)^d (1-B^m)^D = 1 - Σ δ_i B^i` as `δ_1..`,
/// so that `y_t = w_t + Σ δ_i y_{t-i}`.
pub(crate) fn diff_poly(d: usize, sd: usize, m: usize) -> Vec<f64> {
    let mut p = vec![1.0];
    for _ in 0..d {
        p = poly_mul(&p, &[1.0, -1.0]);
    }
    let mut s = vec![0.0; m + 1];
    s[0] = 1.0;
    s[m] = -1.0;
    for _ in 0..sd {
        p = poly_mul(&p, &s);
    }
    p.iter().skip(1).map(|v| -v).collect()
}

/// Applies `(1-B)^d (1-B^m)^D` to a finite series (the result is shorter
/// by `d + mD`).
pub(crate) fn difference(y: &[f64], d: usize, sd: usize, m: usize) -> Vec<f64> {
    let mut v = y.to_vec();
    for _ in 0..sd {
        v = v.iter().skip(m).zip(v.iter()).map(|(a, b)| a - b).collect();
    }
    for _ in 0..d {
        v = v.windows(2).map(|w| w[1] - w[0]).collect();
    }
    v
}

/// Linear interpolation of `NaN` gaps; leading/trailing gaps take the
/// nearest finite value. Returns `None` when nothing is finite.
pub(crate) fn interpolate(y: &[f64]) -> Option<Vec<f64>> {
    let first = y.iter().position(|v| v.is_finite())?;
    let mut out = y.to_vec();
    let mut last = first;
    for v in out.iter_mut().take(first) {
        *v = y[first];
    }
    for i in first + 1..y.len() {
        if y[i].is_finite() {
            if i > last + 1 {
                let (a, b) = (y[last], y[i]);
                let span = (i - last) as f64;
                for (k, v) in out.iter_mut().enumerate().take(i).skip(last + 1) {
                    *v = a + (b - a) * (k - last) as f64 / span;
                }
            }
            last = i;
        }
    }
    for v in out.iter_mut().skip(last + 1) {
        *v = y[last];
    }
    Some(out)
}

/// Solves `A x = b` (row-major `n×n`) by Gaussian elimination with partial
/// pivoting; `None` when singular.
pub(crate) fn solve(mut a: Vec<f64>, mut b: Vec<f64>) -> Option<Vec<f64>> {
    let n = b.len();
    for col in 0..n {
        let piv = (col..n).max_by(|&i, &j| a[i * n + col].abs().total_cmp(&a[j * n + col].abs()))?;
        let pv = a[piv * n + col];
        if !pv.is_finite() || pv.abs() < 1e-300 {
            return None;
        }
        if piv != col {
            for k in 0..n {
                a.swap(piv * n + k, col * n + k);
            }
            b.swap(piv, col);
        }
        for row in col + 1..n {
            let f = a[row * n + col] / pv;
            if f == 0.0 {
                continue;
            }
            for k in col..n {
                a[row * n + k] -= f * a[col * n + k];
            }
            b[row] -= f * b[col];
        }
    }
    let mut x = vec![0.0; n];
    for row in (0..n).rev() {
        let mut s = b[row];
        for k in row + 1..n {
            s -= a[row * n + k] * x[k];
        }
        x[row] = s / a[row * n + row];
    }
    x.iter().all(|v| v.is_finite()).then_some(x)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacf_round_trip_and_stationarity() {
        let r = [0.5, -0.3, 0.2];
        let a = pacf_to_ar(&r);
        let back = ar_to_pacf(&a).unwrap_or_default();
        for (x, y) in r.iter().zip(&back) {
            assert!((x - y).abs() < 1e-12);
        }
        // AR(1): the coefficient is the partial autocorrelation.
        assert_eq!(pacf_to_ar(&[0.7]), vec![0.7]);
        // A unit root is not stationary.
        assert!(ar_to_pacf(&[1.0]).is_none());
        assert!(ar_to_pacf(&[0.5, 0.6]).is_none());
    }

    #[test]
    fn seasonal_expansion_and_differencing() {
        let c = Coefs { phi: vec![0.5], theta: vec![0.4], sphi: vec![0.3], stheta: vec![] };
        // (1 - .5B)(1 - .3B^4) = 1 - .5B - .3B^4 + .15B^5
        let ar = c.full_ar(4);
        assert_eq!(ar.len(), 5);
        assert!((ar[0] - 0.5).abs() < 1e-12 && (ar[3] - 0.3).abs() < 1e-12 && (ar[4] + 0.15).abs() < 1e-12);
        assert_eq!(c.full_ma(4), vec![0.4]);
        // (1-B)(1-B^3) = 1 - B - B^3 + B^4
        assert_eq!(diff_poly(1, 1, 3), vec![1.0, 0.0, 1.0, -1.0]);
        let y = [1.0, 4.0, 9.0, 16.0, 25.0];
        assert_eq!(difference(&y, 2, 0, 1), vec![2.0, 2.0, 2.0]);
        assert_eq!(interpolate(&[f64::NAN, 1.0, f64::NAN, 3.0, f64::NAN]), Some(vec![1.0, 1.0, 2.0, 3.0, 3.0]));
        assert_eq!(interpolate(&[f64::NAN]), None);
    }

    #[test]
    fn solves_small_systems() {
        let x = solve(vec![2.0, 1.0, 1.0, 3.0], vec![3.0, 5.0]).unwrap_or_default();
        assert!((x[0] - 0.8).abs() < 1e-12 && (x[1] - 1.4).abs() < 1e-12);
        assert!(solve(vec![1.0, 2.0, 2.0, 4.0], vec![1.0, 1.0]).is_none());
    }
}
