//! A small derivative-free minimizer (Nelder–Mead) for ARIMA estimation.
//!
//! Why our own: ARIMA objectives (conditional sum of squares, Kalman
//! likelihood) have a handful of parameters, are cheap to evaluate and are
//! smooth in the unconstrained space that [`super::params`] maps to
//! stationary/invertible coefficients, so a simplex method converges in tens
//! of evaluations without numeric gradients and without pulling in a crate.
//! Non-finite objective values count as `+inf`, which keeps the simplex away
//! from numerically broken regions.

/// Where the minimizer stopped.
#[derive(Debug, Clone)]
pub(crate) struct Minimum {
    /// The best point found.
    pub x: Vec<f64>,
    /// The objective at `x`.
    pub f: f64,
}

/// Settings for [`nelder_mead`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct NmOptions {
    /// Initial simplex edge along each coordinate.
    pub step: f64,
    /// Stop when the simplex's objective spread is below this (absolute).
    pub ftol: f64,
    /// Hard cap on objective evaluations.
    pub max_evals: usize,
}

fn clean(v: f64) -> f64 {
    if v.is_finite() {
        v
    } else {
        f64::INFINITY
    }
}

/// Minimizes `f` from `x0` with the Nelder–Mead simplex method
/// (reflection 1, expansion 2, contraction 1/2, shrink 1/2).
pub(crate) fn nelder_mead(f: &mut dyn FnMut(&[f64]) -> f64, x0: &[f64], opt: NmOptions) -> Minimum {
    let n = x0.len();
    if n == 0 {
        let v = clean(f(x0));
        return Minimum { x: Vec::new(), f: v };
    }
    let mut evals = 0usize;
    let mut simplex: Vec<Vec<f64>> = Vec::with_capacity(n + 1);
    let mut fv: Vec<f64> = Vec::with_capacity(n + 1);
    simplex.push(x0.to_vec());
    fv.push(clean(f(x0)));
    evals += 1;
    for i in 0..n {
        let mut x = x0.to_vec();
        x[i] += opt.step;
        fv.push(clean(f(&x)));
        simplex.push(x);
        evals += 1;
    }
    let mut order: Vec<usize> = (0..=n).collect();
    let mut centroid = vec![0.0; n];
    let mut xr = vec![0.0; n];
    let mut xe = vec![0.0; n];
    let mut xc = vec![0.0; n];
    loop {
        order.sort_by(|&a, &b| fv[a].total_cmp(&fv[b]));
        let best = order[0];
        let worst = order[n];
        let second = order[n - 1];
        let spread = fv[worst] - fv[best];
        if evals >= opt.max_evals || (spread.is_finite() && spread <= opt.ftol) {
            break;
        }
        centroid.iter_mut().for_each(|c| *c = 0.0);
        for &i in &order[..n] {
            for (c, v) in centroid.iter_mut().zip(&simplex[i]) {
                *c += v / n as f64;
            }
        }
        for k in 0..n {
            xr[k] = centroid[k] + (centroid[k] - simplex[worst][k]);
        }
        let fr = clean(f(&xr));
        evals += 1;
        if fr < fv[best] {
            for k in 0..n {
                xe[k] = centroid[k] + 2.0 * (centroid[k] - simplex[worst][k]);
            }
            let fe = clean(f(&xe));
            evals += 1;
            if fe < fr {
                simplex[worst].copy_from_slice(&xe);
                fv[worst] = fe;
            } else {
                simplex[worst].copy_from_slice(&xr);
                fv[worst] = fr;
            }
            continue;
        }
        if fr < fv[second] {
            simplex[worst].copy_from_slice(&xr);
            fv[worst] = fr;
            continue;
        }
        // Contraction: outside if the reflection helped a little, inside otherwise.
        let outside = fr < fv[worst];
        for k in 0..n {
            let towards = if outside { xr[k] } else { simplex[worst][k] };
            xc[k] = centroid[k] + 0.5 * (towards - centroid[k]);
        }
        let fc = clean(f(&xc));
        evals += 1;
        if fc < fv[worst].min(fr) {
            simplex[worst].copy_from_slice(&xc);
            fv[worst] = fc;
            continue;
        }
        // Shrink towards the best vertex.
        let xb = simplex[best].clone();
        for &i in &order[1..] {
            for k in 0..n {
                simplex[i][k] = xb[k] + 0.5 * (simplex[i][k] - xb[k]);
            }
            fv[i] = clean(f(&simplex[i]));
            evals += 1;
        }
    }
    let best = (0..=n).min_by(|&a, &b| fv[a].total_cmp(&fv[b])).unwrap_or(0);
    Minimum { x: simplex[best].clone(), f: fv[best] }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimizes_rosenbrock_and_a_quadratic() {
        let mut q = |x: &[f64]| (x[0] - 1.5).powi(2) + 3.0 * (x[1] + 0.5).powi(2);
        let m = nelder_mead(&mut q, &[0.0, 0.0], NmOptions { step: 0.5, ftol: 1e-12, max_evals: 500 });
        assert!((m.x[0] - 1.5).abs() < 1e-4 && (m.x[1] + 0.5).abs() < 1e-4, "{:?}", m.x);
        let mut r = |x: &[f64]| 100.0 * (x[1] - x[0] * x[0]).powi(2) + (1.0 - x[0]).powi(2);
        let m = nelder_mead(&mut r, &[-1.2, 1.0], NmOptions { step: 0.5, ftol: 1e-14, max_evals: 5000 });
        assert!((m.x[0] - 1.0).abs() < 1e-3 && (m.x[1] - 1.0).abs() < 1e-3, "{:?}", m.x);
    }

    #[test]
    fn survives_non_finite_objectives() {
        let mut f = |x: &[f64]| if x[0] < 0.0 { f64::NAN } else { (x[0] - 2.0).powi(2) };
        let m = nelder_mead(&mut f, &[1.0], NmOptions { step: 0.3, ftol: 1e-12, max_evals: 300 });
        assert!((m.x[0] - 2.0).abs() < 1e-4);
        let mut g = |_: &[f64]| 1.0;
        let m = nelder_mead(&mut g, &[], NmOptions { step: 0.3, ftol: 1e-12, max_evals: 10 });
        assert_eq!(m.f, 1.0);
    }
}
