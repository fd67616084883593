//! A small bounded Nelder–Mead minimizer for fitting model parameters.
//!
//! Why Nelder–Mead: the objectives (sums of squared one-step errors of a
//! state-space recursion) are cheap, low-dimensional (1–4 smoothing
//! parameters) and not smooth enough at the bounds for gradient methods.
//! Bounds are kept by projecting every trial point into the box.

/// Settings of [`minimize`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Options {
    /// Stop after this many objective evaluations.
    pub max_evals: usize,
    /// Stop when the simplex's objective values differ by less than this
    /// (relative to their magnitude).
    pub tolerance: f64,
    /// Initial simplex size, as a fraction of each bound's width.
    pub step: f64,
}

impl Default for Options {
    fn default() -> Self {
        Self { max_evals: 200, tolerance: 1e-7, step: 0.1 }
    }
}

/// The best point found and its objective value.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    /// Parameters.
    pub x: Vec<f64>,
    /// Objective at `x` (`+inf` if every evaluation failed).
    pub value: f64,
    /// Evaluations used.
    pub evals: usize,
}

/// Minimizes `f` over the box `[lower, upper]` from `start`. Non-finite
/// objective values count as `+inf`.
pub fn minimize<F: FnMut(&[f64]) -> f64>(
    mut f: F,
    start: &[f64],
    lower: &[f64],
    upper: &[f64],
    opts: &Options,
) -> Minimum {
    let d = start.len();
    let clamp = |x: &mut [f64]| {
        for i in 0..d {
            x[i] = x[i].clamp(lower[i], upper[i].max(lower[i]));
        }
    };
    let mut evals = 0usize;
    let mut eval = |x: &[f64], evals: &mut usize| {
        *evals += 1;
        let v = f(x);
        if v.is_finite() {
            v
        } else {
            f64::INFINITY
        }
    };
    let mut x0 = start.to_vec();
    clamp(&mut x0);
    if d == 0 {
        let value = eval(&x0, &mut evals);
        return Minimum { x: x0, value, evals };
    }
    let mut simplex: Vec<(Vec<f64>, f64)> = Vec::with_capacity(d + 1);
    let v0 = eval(&x0, &mut evals);
    simplex.push((x0.clone(), v0));
    for i in 0..d {
        let mut x = x0.clone();
        let width = (upper[i] - lower[i]).abs();
        let s = opts.step * if width > 0.0 { width } else { 1.0 };
        x[i] = if x[i] + s <= upper[i] { x[i] + s } else { x[i] - s };
        clamp(&mut x);
        let v = eval(&x, &mut evals);
        simplex.push((x, v));
    }
    while evals < opts.max_evals {
        simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (simplex[0].1, simplex[d].1);
        if worst.is_finite() && (worst - best).abs() <= opts.tolerance * (best.abs() + 1e-12) {
            break;
        }
        let mut centroid = vec![0.0; d];
        for (x, _) in &simplex[..d] {
            for i in 0..d {
                centroid[i] += x[i] / d as f64;
            }
        }
        let along = |t: f64, worst: &[f64]| -> Vec<f64> {
            (0..d).map(|i| centroid[i] + t * (worst[i] - centroid[i])).collect()
        };
        let worst_x = simplex[d].0.clone();
        let mut xr = along(-1.0, &worst_x);
        clamp(&mut xr);
        let vr = eval(&xr, &mut evals);
        if vr < simplex[0].1 {
            let mut xe = along(-2.0, &worst_x);
            clamp(&mut xe);
            let ve = eval(&xe, &mut evals);
            simplex[d] = if ve < vr { (xe, ve) } else { (xr, vr) };
        } else if vr < simplex[d - 1].1 {
            simplex[d] = (xr, vr);
        } else {
            let (mut xc, outside) =
                if vr < simplex[d].1 { (along(-0.5, &worst_x), true) } else { (along(0.5, &worst_x), false) };
            clamp(&mut xc);
            let vc = eval(&xc, &mut evals);
            if (outside && vc <= vr) || (!outside && vc < simplex[d].1) {
                simplex[d] = (xc, vc);
            } else {
                let b = simplex[0].0.clone();
                for (x, v) in simplex.iter_mut().skip(1) {
                    for i in 0..d {
                        x[i] = b[i] + 0.5 * (x[i] - b[i]);
                    }
                    *v = eval(x, &mut evals);
                }
            }
        }
    }
    simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
    let (x, value) = simplex.swap_remove(0);
    Minimum { x, value, evals }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_an_interior_minimum() {
        let m = minimize(
            |x| (x[0] - 0.3).powi(2) + 10.0 * (x[1] + 0.2).powi(2),
            &[0.9, 0.9],
            &[-1.0, -1.0],
            &[1.0, 1.0],
            &Options { max_evals: 500, ..Default::default() },
        );
        assert!((m.x[0] - 0.3).abs() < 1e-3 && (m.x[1] + 0.2).abs() < 1e-3, "{m:?}");
    }

    #[test]
    fn respects_bounds_and_survives_nan() {
        let m = minimize(|x| if x[0] > 0.5 { f64::NAN } else { -x[0] }, &[0.1], &[0.0], &[2.0], &Options::default());
        assert!(m.x[0] <= 0.5 + 1e-9 && m.x[0] >= 0.0);
        assert!(m.value.is_finite());
        let m = minimize(|x| x[0], &[5.0], &[1.0], &[3.0], &Options::default());
        assert!((m.x[0] - 1.0).abs() < 1e-6);
    }
}
