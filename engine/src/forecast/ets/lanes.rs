//! The non-seasonal ETS variants (flat, damped and additive trend) fitted
//! in lockstep, their objective evaluated for all of them in one pass.
//!
//! Why: an objective evaluation is a pass of the ETS recursion over the fit
//! window, and that pass is bound by the latency of the level and slope
//! dependency chain (each point waits for the previous point's states),
//! not by arithmetic. `auto` fits the three non-seasonal variants three
//! times per series (plain ETS, robust ETS, MSTL's remainder), and those
//! optimisations were about 40% of its time. Their Nelder–Mead runs are
//! independent, so here each pass advances every run that still asks for a
//! point: the chains of the two or three variants interleave and the
//! processor overlaps them, for little more than the cost of one.
//!
//! Nothing else changes: each run takes exactly the steps it would take
//! alone ([`NelderMead`]), and each lane does exactly the arithmetic of the
//! single-variant recursion (`sse_loop`), so the fits, and every forecast
//! built on them, are bit for bit those of fitting the variants one by one
//! (`lockstep_fits_equal_one_by_one_fits` checks it).

use super::{apply, EtsState, Fit, FitData, SeasonKind, Spec, SpecProblem, TrendKind, SHIFT_JUMP_RUN, SHIFT_RUN};
use crate::forecast::optim::NelderMead;

/// Fits each of `specs` to `data` (non-seasonal ones in lockstep when
/// they share their fit window; any other one alone) and returns their
/// fits in the order of `specs` (`None` where a variant cannot be fitted).
pub(super) fn fit_specs(specs: &[Spec], data: &FitData) -> Vec<Option<Fit>> {
    let ys = data.ys;
    let problems: Vec<Option<SpecProblem>> = specs.iter().map(|&spec| SpecProblem::new(spec, data)).collect();
    let from = problems.iter().flatten().map(|p| p.from).next().unwrap_or(0);
    let lockstep = problems.iter().flatten().all(|p| p.spec.season == SeasonKind::None && p.from == from);
    if !lockstep {
        return problems.into_iter().map(|p| p.and_then(|p| p.solve_alone(ys))).collect();
    }
    let fit_ys = &ys[from..];
    // Each run's parameters are set on its problem's `scratch` state, the
    // state its objective starts from.
    let mut runs: Vec<Option<(SpecProblem, NelderMead)>> = problems
        .into_iter()
        .map(|p| {
            p.map(|p| {
                let run = NelderMead::new(&p.start, &p.lower, &p.upper, &p.options());
                (p, run)
            })
        })
        .collect();
    loop {
        let mut lanes: Vec<usize> = Vec::with_capacity(runs.len());
        for (k, slot) in runs.iter_mut().enumerate() {
            if let Some((problem, run)) = slot {
                if let Some(x) = run.ask() {
                    apply(&mut problem.scratch, x);
                    lanes.push(k);
                }
            }
        }
        if lanes.is_empty() {
            break;
        }
        let states: Vec<&EtsState> = lanes.iter().filter_map(|&k| runs[k].as_ref().map(|r| &r.0.scratch)).collect();
        let values = sse_of_lanes(&states, fit_ys);
        for (&k, v) in lanes.iter().zip(values) {
            if let Some((_, run)) = runs[k].as_mut() {
                run.tell(v);
            }
        }
    }
    runs.into_iter().map(|slot| slot.and_then(|(p, run)| p.finish(&run.into_minimum().x, ys))).collect()
}

/// The objective (the first value of [`EtsState::sse`]) of each
/// non-seasonal state over `ys`, in one pass for up to three states.
fn sse_of_lanes(states: &[&EtsState], ys: &[f64]) -> Vec<f64> {
    let clip = states.first().is_some_and(|s| s.clip > 0.0);
    match (states, clip) {
        (&[a, b], false) => sse_lanes::<2, false>([a, b], ys).to_vec(),
        (&[a, b], true) => sse_lanes::<2, true>([a, b], ys).to_vec(),
        (&[a, b, c], false) => sse_lanes::<3, false>([a, b, c], ys).to_vec(),
        (&[a, b, c], true) => sse_lanes::<3, true>([a, b, c], ys).to_vec(),
        _ => {
            let mut seasonal = Vec::new();
            states.iter().map(|s| s.sse(ys, &mut seasonal).0).collect()
        }
    }
}

/// `L` non-seasonal recursions side by side, all clipped at the same
/// threshold (`CLIP`) or none: per lane, the arithmetic of
/// `sse_loop::<0, TREND, CLIP>` in the same order, so each value equals
/// the single-state objective bit for bit.
#[inline(never)]
fn sse_lanes<const L: usize, const CLIP: bool>(states: [&EtsState; L], ys: &[f64]) -> [f64; L] {
    let clip = states[0].clip;
    let trend = states.map(|s| s.trend != TrendKind::None);
    let alpha = states.map(|s| s.alpha);
    let beta = states.map(|s| s.beta);
    let d = states.map(|s| s.damping());
    let one_alpha = alpha.map(|a| 1.0 - a);
    let mut ca = [0.0; L];
    let mut cb = [0.0; L];
    for k in 0..L {
        (ca[k], cb[k]) = ((1.0 - alpha[k]) * d[k], (1.0 - beta[k]) * d[k]);
    }
    let mut level = states.map(|s| s.level);
    let mut slope = states.map(|s| s.slope);
    let mut run = states.map(|s| s.run);
    let mut sse = [0.0; L];
    for &y in ys {
        if !y.is_finite() {
            // A gap: every state rolls forward on its forecast.
            for k in 0..L {
                if trend[k] {
                    let pb = d[k] * slope[k];
                    level[k] += pb;
                    slope[k] = pb;
                }
                if CLIP {
                    run[k] = 0;
                }
            }
            continue;
        }
        for k in 0..L {
            let (pb, base) = if trend[k] {
                let pb = d[k] * slope[k];
                (pb, level[k] + pb)
            } else {
                (0.0, level[k])
            };
            let raw = y - base;
            let mut e = raw;
            let mut clipped = false;
            let mut shifted = false;
            if CLIP {
                if raw.abs() > clip {
                    let side = if raw > 0.0 { 1 } else { -1 };
                    run[k] = if run[k] * side > 0 { run[k] + side } else { side };
                    if run[k].abs() < SHIFT_RUN {
                        e = raw.clamp(-clip, clip);
                        clipped = true;
                    } else if run[k].abs() == SHIFT_JUMP_RUN {
                        shifted = true;
                    }
                } else {
                    run[k] = 0;
                }
            }
            if shifted {
                level[k] = y;
                if trend[k] {
                    slope[k] = pb;
                }
            } else if clipped {
                level[k] = base + alpha[k] * e;
                if trend[k] {
                    slope[k] = pb + beta[k] * e;
                }
            } else if trend[k] {
                (level[k], slope[k]) = (
                    one_alpha[k] * level[k] + ca[k] * slope[k] + alpha[k] * y,
                    cb[k] * slope[k] - beta[k] * level[k] + beta[k] * y,
                );
            } else {
                level[k] = one_alpha[k] * level[k] + alpha[k] * y;
            }
            if raw.is_finite() {
                let a = raw.abs();
                sse[k] += if CLIP && a > clip { clip * (2.0 * a - clip) } else { raw * raw };
            }
        }
    }
    sse
}

#[cfg(test)]
mod tests {
    use super::super::{fill_linear, robust_clip, FIT_WINDOW, NONSEASONAL};
    use super::*;
    use crate::forecast::test_util::noise;

    /// A spiky, trending series with gaps and a lasting drop (so the robust
    /// filter clips, escapes and jumps).
    fn series(n: usize) -> Vec<f64> {
        let e = noise(n, 5);
        (0..n)
            .map(|t| {
                let spike = if t % 97 == 13 { 40.0 } else { 0.0 };
                let shift = if t >= 2 * n / 3 { -30.0 } else { 0.0 };
                if t % 211 == 7 {
                    f64::NAN
                } else {
                    50.0 + 0.01 * t as f64 + 3.0 * e[t] + spike + shift
                }
            })
            .collect()
    }

    #[test]
    fn lockstep_fits_equal_one_by_one_fits() {
        for (n, robust) in [(400, false), (3000, false), (3000, true), (30, true)] {
            let ys = series(n);
            let filled = fill_linear(&ys);
            let clip = if robust { robust_clip(&filled) } else { 0.0 };
            let data = FitData { ys: &ys, filled: &filled, m: 1, phase0: 0, clip, fit_window: FIT_WINDOW };
            let together = fit_specs(&NONSEASONAL, &data);
            assert_eq!(together.len(), 3);
            for (spec, fit) in NONSEASONAL.iter().zip(&together) {
                let alone =
                    SpecProblem::new(*spec, &data).and_then(|p| p.solve_alone(&ys)).map(|f| (f.init, f.aicc.to_bits()));
                let fit = fit.clone().map(|f| (f.init, f.aicc.to_bits()));
                assert!(fit.is_some(), "{spec:?} on {n} points");
                assert_eq!(fit, alone, "{spec:?} on {n} points, robust {robust}");
            }
        }
    }

    #[test]
    fn lanes_equal_the_single_recursion() {
        let ys = series(800);
        let filled = fill_linear(&ys);
        for clip in [0.0, robust_clip(&filled)] {
            let mut states: Vec<EtsState> = NONSEASONAL
                .iter()
                .map(|&spec| {
                    let data = FitData { ys: &ys, filled: &filled, m: 1, phase0: 0, clip, fit_window: FIT_WINDOW };
                    SpecProblem::new(spec, &data).map(|p| p.scratch)
                })
                .collect::<Option<_>>()
                .unwrap_or_default();
            assert_eq!(states.len(), 3);
            for (st, x) in states.iter_mut().zip([vec![0.3], vec![0.2, 0.1, 0.9], vec![0.5, 0.3]]) {
                apply(st, &x);
            }
            let mut seasonal = Vec::new();
            let one: Vec<u64> = states.iter().map(|s| s.sse(&ys, &mut seasonal).0.to_bits()).collect();
            let refs: Vec<&EtsState> = states.iter().collect();
            let three: Vec<u64> = sse_of_lanes(&refs, &ys).iter().map(|v| v.to_bits()).collect();
            let two: Vec<u64> = sse_of_lanes(&refs[1..], &ys).iter().map(|v| v.to_bits()).collect();
            assert_eq!(three, one);
            assert_eq!(two, one[1..]);
        }
    }
}
