//! Conditional sum of squares (CSS) and Hannan–Rissanen starting values:
//! the cheap objective the order search ranks candidates with.
//!
//! Why CSS for the search: on thousands of points CSS and exact maximum
//! likelihood agree to within noise (Hyndman–Khandakar's "approximation"
//! mode does the same for long series), and CSS costs one pass over the
//! data with the non-zero lags only, so a seasonal lag-48 model is as cheap
//! as a non-seasonal one. The winner is then re-estimated by exact
//! likelihood (see `kalman`). All candidates sum squares from the same
//! start index, so their likelihoods are comparable.

use super::params::solve;

/// Non-zero `(lag, coefficient)` pairs of a lag polynomial `c_1..`.
pub(crate) fn nonzero(c: &[f64]) -> Vec<(usize, f64)> {
    c.iter().enumerate().filter(|(_, v)| **v != 0.0).map(|(i, v)| (i + 1, *v)).collect()
}

/// Sum of squared one-step residuals of the ARMA `ar`/`ma` on `z` (the
/// differenced series minus its constant), residuals before `p` taken as 0,
/// squares summed from `from` on. Returns `(sum, count)`.
pub(crate) fn css(z: &[f64], ar: &[(usize, f64)], ma: &[(usize, f64)], from: usize, e: &mut Vec<f64>) -> (f64, usize) {
    let n = z.len();
    e.clear();
    e.resize(n, 0.0);
    let p = ar.last().map_or(0, |x| x.0);
    let start = p.min(n);
    let mut ss = 0.0;
    let mut cnt = 0;
    for t in start..n {
        let mut v = z[t];
        for &(k, a) in ar {
            v -= a * z[t - k];
        }
        for &(k, b) in ma {
            if k <= t {
                v -= b * e[t - k];
            }
        }
        e[t] = v;
        if t >= from {
            ss += v * v;
            cnt += 1;
        }
    }
    (ss, cnt)
}

/// Residuals of a long autoregression fitted by Yule–Walker (Levinson),
/// the first stage of Hannan–Rissanen. Residuals before the order are 0.
pub(crate) fn long_ar_residuals(z: &[f64], order: usize) -> Vec<f64> {
    let n = z.len();
    let k = order.min(n / 4);
    if k == 0 {
        return z.to_vec();
    }
    let g: Vec<f64> = (0..=k).map(|l| z[l..].iter().zip(z).map(|(a, b)| a * b).sum::<f64>() / n as f64).collect();
    if g[0] <= 0.0 {
        return vec![0.0; n];
    }
    // Levinson–Durbin.
    let mut a = vec![0.0; k];
    let mut err = g[0];
    for m in 0..k {
        let mut acc = g[m + 1];
        for j in 0..m {
            acc -= a[j] * g[m - j];
        }
        let refl = acc / err;
        let prev = a.clone();
        a[m] = refl;
        for j in 0..m {
            a[j] = prev[j] - refl * prev[m - 1 - j];
        }
        err *= 1.0 - refl * refl;
        if err <= 0.0 {
            break;
        }
    }
    let mut e = vec![0.0; n];
    for t in k..n {
        let mut v = z[t];
        for (j, aj) in a.iter().enumerate() {
            v -= aj * z[t - 1 - j];
        }
        e[t] = v;
    }
    e
}

/// Hannan–Rissanen second stage: least squares of `z_t` on `z_{t-1..p}` and
/// the long-AR residuals `ê_{t-1..q}`. Returns `(phi, theta)` or `None`.
pub(crate) fn hannan_rissanen(
    z: &[f64],
    ehat: &[f64],
    skip: usize,
    p: usize,
    q: usize,
) -> Option<(Vec<f64>, Vec<f64>)> {
    let k = p + q;
    if k == 0 {
        return Some((Vec::new(), Vec::new()));
    }
    let start = skip + p.max(q);
    if z.len() < start + 2 * k + 2 {
        return None;
    }
    let mut xtx = vec![0.0; k * k];
    let mut xty = vec![0.0; k];
    let mut row = vec![0.0; k];
    for t in start..z.len() {
        for i in 0..p {
            row[i] = z[t - 1 - i];
        }
        for j in 0..q {
            row[p + j] = ehat[t - 1 - j];
        }
        for i in 0..k {
            xty[i] += row[i] * z[t];
            for j in i..k {
                xtx[i * k + j] += row[i] * row[j];
            }
        }
    }
    for i in 0..k {
        for j in 0..i {
            xtx[i * k + j] = xtx[j * k + i];
        }
    }
    let b = solve(xtx, xty)?;
    Some((b[..p].to_vec(), b[p..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn css_residuals_of_a_known_ar1() {
        let z = [1.0, 0.5, 0.25, 0.125];
        let mut e = Vec::new();
        let (ss, n) = css(&z, &[(1, 0.5)], &[], 1, &mut e);
        assert_eq!((ss, n), (0.0, 3));
        let (ss, n) = css(&z, &[], &[(1, 1.0)], 0, &mut e);
        // e0=1, e1=0.5-1=-0.5, e2=0.25+0.5=0.75, e3=0.125-0.75=-0.625
        assert!((ss - (1.0 + 0.25 + 0.5625 + 0.390625)).abs() < 1e-12);
        assert_eq!(n, 4);
    }
}
