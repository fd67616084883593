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
    let mut run = NelderMead::new(start, lower, upper, opts);
    while let Some(x) = run.ask() {
        let v = f(x);
        run.tell(v);
    }
    run.into_minimum()
}

/// One Nelder–Mead minimization driven from outside: [`NelderMead::ask`]
/// names the next point to evaluate, [`NelderMead::tell`] hands its value
/// back, until `ask` returns `None`.
///
/// Why ask/tell instead of a closure: an objective that is a recursion over
/// a long series is bound by the latency of its dependency chain, not by
/// arithmetic, so evaluating the points of several independent runs in one
/// pass over the series costs little more than evaluating one
/// (`ets::lanes::fit_specs`, which fits the non-seasonal ETS variants in
/// lockstep).
/// Each run takes exactly the steps [`minimize`] takes: the same points,
/// in the same order, with the same stopping rule.
#[derive(Debug, Clone)]
pub struct NelderMead {
    /// Number of parameters.
    dim: usize,
    lower: Vec<f64>,
    upper: Vec<f64>,
    opts: Options,
    /// Vertices and their values (unsorted between iterations).
    simplex: Vec<(Vec<f64>, f64)>,
    /// Evaluations told so far.
    evals: usize,
    /// The point `ask` hands out (meaningless once `stage` is `Done`).
    point: Vec<f64>,
    /// What the value of `point` is for.
    stage: Stage,
    /// Centroid of all vertices but the worst, for the current iteration.
    centroid: Vec<f64>,
    /// The worst vertex of the current iteration.
    worst: Vec<f64>,
}

/// Where a [`NelderMead`] run is: the role of the point it asks for.
#[derive(Debug, Clone)]
enum Stage {
    /// The start point, the first vertex.
    Start,
    /// The start point moved along axis `i`, another initial vertex.
    Vertex(usize),
    /// The worst vertex reflected through the centroid.
    Reflect,
    /// Twice as far: the reflection was the best point yet.
    Expand { reflected: Vec<f64>, value: f64 },
    /// Halfway towards (or beyond) the centroid: the reflection was poor.
    Contract { reflected: f64, outside: bool },
    /// Vertex `j` shrunk towards the best one: the contraction failed too.
    Shrink(usize),
    /// Converged or out of evaluations.
    Done,
}

impl NelderMead {
    /// A run from `start` in the box `[lower, upper]`.
    pub fn new(start: &[f64], lower: &[f64], upper: &[f64], opts: &Options) -> Self {
        let mut run = NelderMead {
            dim: start.len(),
            lower: lower.to_vec(),
            upper: upper.to_vec(),
            opts: *opts,
            simplex: Vec::with_capacity(start.len() + 1),
            evals: 0,
            point: start.to_vec(),
            stage: Stage::Start,
            centroid: vec![0.0; start.len()],
            worst: Vec::new(),
        };
        run.clamp_point();
        run
    }

    fn clamp_point(&mut self) {
        for (i, x) in self.point.iter_mut().enumerate() {
            *x = x.clamp(self.lower[i], self.upper[i].max(self.lower[i]));
        }
    }

    /// `centroid + t * (worst - centroid)`, clamped, as the next point.
    fn ask_along(&mut self, t: f64) {
        self.point = self.centroid.iter().zip(&self.worst).map(|(c, w)| c + t * (w - c)).collect();
        self.clamp_point();
    }

    /// The next point to evaluate, or `None` once the run is over.
    pub fn ask(&self) -> Option<&[f64]> {
        (!matches!(self.stage, Stage::Done)).then_some(self.point.as_slice())
    }

    /// The objective's value at the point last asked for (non-finite
    /// values count as `+inf`). Ignored once the run is over.
    pub fn tell(&mut self, value: f64) {
        let v = if value.is_finite() { value } else { f64::INFINITY };
        let d = self.dim;
        match std::mem::replace(&mut self.stage, Stage::Done) {
            Stage::Done => {}
            Stage::Start | Stage::Vertex(_) if d == 0 => {
                self.evals += 1;
                self.simplex.push((self.point.clone(), v));
            }
            Stage::Start => {
                self.evals += 1;
                self.simplex.push((self.point.clone(), v));
                self.ask_vertex(0);
            }
            Stage::Vertex(i) => {
                self.evals += 1;
                self.simplex.push((self.point.clone(), v));
                if i + 1 < d {
                    self.ask_vertex(i + 1);
                } else {
                    self.iterate();
                }
            }
            Stage::Reflect => {
                self.evals += 1;
                let reflected = std::mem::take(&mut self.point);
                if v < self.simplex[0].1 {
                    self.ask_along(-2.0);
                    self.stage = Stage::Expand { reflected, value: v };
                } else if v < self.simplex[d - 1].1 {
                    self.simplex[d] = (reflected, v);
                    self.iterate();
                } else {
                    let outside = v < self.simplex[d].1;
                    self.ask_along(if outside { -0.5 } else { 0.5 });
                    self.stage = Stage::Contract { reflected: v, outside };
                }
            }
            Stage::Expand { reflected, value } => {
                self.evals += 1;
                self.simplex[d] = if v < value { (std::mem::take(&mut self.point), v) } else { (reflected, value) };
                self.iterate();
            }
            Stage::Contract { reflected, outside } => {
                self.evals += 1;
                if (outside && v <= reflected) || (!outside && v < self.simplex[d].1) {
                    self.simplex[d] = (std::mem::take(&mut self.point), v);
                    self.iterate();
                } else {
                    let best = self.simplex[0].0.clone();
                    for (x, _) in self.simplex.iter_mut().skip(1) {
                        for (xi, bi) in x.iter_mut().zip(&best) {
                            *xi = bi + 0.5 * (*xi - bi);
                        }
                    }
                    self.point = self.simplex[1].0.clone();
                    self.stage = Stage::Shrink(1);
                }
            }
            Stage::Shrink(j) => {
                self.evals += 1;
                self.simplex[j].1 = v;
                if j < d {
                    self.point = self.simplex[j + 1].0.clone();
                    self.stage = Stage::Shrink(j + 1);
                } else {
                    self.iterate();
                }
            }
        }
    }

    /// Asks for the start point moved along axis `i` by the initial step.
    fn ask_vertex(&mut self, i: usize) {
        let mut x = self.simplex[0].0.clone();
        let width = (self.upper[i] - self.lower[i]).abs();
        let s = self.opts.step * if width > 0.0 { width } else { 1.0 };
        x[i] = if x[i] + s <= self.upper[i] { x[i] + s } else { x[i] - s };
        self.point = x;
        self.clamp_point();
        self.stage = Stage::Vertex(i);
    }

    /// Starts an iteration (asks for the reflection), or ends the run when
    /// the evaluations are spent or the simplex is flat.
    fn iterate(&mut self) {
        if self.evals >= self.opts.max_evals {
            self.stage = Stage::Done;
            return;
        }
        let d = self.dim;
        self.simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (best, worst) = (self.simplex[0].1, self.simplex[d].1);
        // Not one finite value in the simplex: every move is measured
        // against infinities (a shrink pulls all vertices onto an
        // infeasible one), so no step can tell better from worse.
        if !best.is_finite() {
            self.stage = Stage::Done;
            return;
        }
        if worst.is_finite() && (worst - best).abs() <= self.opts.tolerance * (best.abs() + 1e-12) {
            self.stage = Stage::Done;
            return;
        }
        self.centroid = vec![0.0; d];
        for (x, _) in &self.simplex[..d] {
            for (c, xi) in self.centroid.iter_mut().zip(x) {
                *c += xi / d as f64;
            }
        }
        self.worst = self.simplex[d].0.clone();
        self.ask_along(-1.0);
        self.stage = Stage::Reflect;
    }

    /// The best point found (call once `ask` returns `None`).
    pub fn into_minimum(mut self) -> Minimum {
        self.simplex.sort_by(|a, b| a.1.total_cmp(&b.1));
        let evals = self.evals;
        match self.simplex.into_iter().next() {
            Some((x, value)) => Minimum { x, value, evals },
            None => Minimum { x: self.point, value: f64::INFINITY, evals },
        }
    }
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

    #[test]
    fn runs_driven_together_take_the_steps_they_take_alone() {
        let f = |x: &[f64]| (x[0] - 0.3).powi(2) + 3.0 * (x[0] * x.get(1).unwrap_or(&0.0) - 0.1).powi(2);
        let opts = Options { max_evals: 110, tolerance: 1e-6, step: 0.15 };
        let starts = [vec![0.9], vec![0.2, 0.05], vec![0.95, 0.5]];
        let mut runs: Vec<NelderMead> =
            starts.iter().map(|s| NelderMead::new(s, &vec![0.0; s.len()], &vec![1.0; s.len()], &opts)).collect();
        // One round: every run that still asks gets its value.
        loop {
            let asked: Vec<(usize, f64)> =
                runs.iter().enumerate().filter_map(|(k, r)| r.ask().map(|x| (k, f(x)))).collect();
            if asked.is_empty() {
                break;
            }
            asked.into_iter().for_each(|(k, v)| runs[k].tell(v));
        }
        for (run, s) in runs.into_iter().zip(&starts) {
            let alone = minimize(f, s, &vec![0.0; s.len()], &vec![1.0; s.len()], &opts);
            let together = run.into_minimum();
            assert!(together.evals > s.len() + 1);
            assert_eq!(together, alone);
        }
    }

    /// An objective infinite on the whole first simplex (an infeasible
    /// model variant) stops at once instead of spending the whole budget
    /// on shrinks towards an infinite vertex; one finite vertex is enough
    /// to go on.
    #[test]
    fn an_all_infinite_simplex_stops() {
        let opts = Options { max_evals: 190, tolerance: 1e-4, step: 0.15 };
        let m = minimize(|_| f64::INFINITY, &[0.2, 0.05, 0.05, 0.95], &[0.0; 4], &[1.0; 4], &opts);
        assert_eq!(m.evals, 5);
        assert!(m.value.is_infinite());
        // Infinite at the start, finite once x[0] grows: the search goes on.
        let m = minimize(
            |x| if x[0] < 0.3 { f64::INFINITY } else { (x[0] - 0.6).powi(2) + x[1].powi(2) },
            &[0.2, 0.5],
            &[0.0, -1.0],
            &[1.0, 1.0],
            &opts,
        );
        assert!((m.x[0] - 0.6).abs() < 0.05 && m.x[1].abs() < 0.05, "{m:?}");
    }
}
