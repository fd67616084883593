//! The Hyndman–Khandakar stepwise order search.
//!
//! Why stepwise: an exhaustive grid over `(p, q, P, Q)` up to 5 is hundreds
//! of fits; the stepwise walk starts from four standard models and moves to
//! the first neighbour (one order ±1, `p` and `q` together ±1, `P` and `Q`
//! together ±1, constant on/off) that lowers the AICc, which reaches the
//! same optimum in 10–30 fits on typical series. A model count and a wall
//! clock deadline bound the walk; the best model found so far wins.

use super::estimate::{fit_css, CssFit, Prepared};
use super::params::Order;
use std::collections::HashMap;
use std::time::Instant;

/// Limits of the search.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_p: usize,
    pub max_q: usize,
    pub max_sp: usize,
    pub max_sq: usize,
    /// Bound on `p + q + P + Q`.
    pub max_order: usize,
    pub max_models: usize,
    pub deadline: Instant,
    /// Objective evaluations per CSS fit.
    pub max_evals_per_param: usize,
}

type Key = (usize, usize, usize, usize, bool);

/// All candidates the walk fitted, best AICc first. `m` is the season (1 = none).
pub(crate) fn stepwise(prep: &Prepared, d: usize, sd: usize, m: usize, lim: &Limits) -> Vec<CssFit> {
    let seasonal = m > 1;
    let allow_const = d + sd <= 1;
    let mut seen: HashMap<Key, Option<CssFit>> = HashMap::new();
    let valid = |k: &Key| {
        let (p, q, sp, sq, c) = *k;
        p <= lim.max_p
            && q <= lim.max_q
            && sp <= lim.max_sp
            && sq <= lim.max_sq
            && p + q + sp + sq <= lim.max_order
            && (seasonal || sp + sq == 0)
            && (allow_const || !c)
    };
    let eval = |k: Key, seen: &mut HashMap<Key, Option<CssFit>>| -> Option<f64> {
        if !valid(&k) {
            return None;
        }
        if let Some(f) = seen.get(&k) {
            return f.as_ref().map(|f| f.aicc);
        }
        if seen.len() >= lim.max_models || (!seen.is_empty() && Instant::now() >= lim.deadline) {
            return None;
        }
        let (p, q, sp, sq, c) = k;
        let order = Order { p, d, q, sp, sd, sq, m: if seasonal { m } else { 1 }, constant: c };
        let evals = lim.max_evals_per_param * (order.n_coef() + 1);
        let fit = fit_css(prep, order, evals).filter(|f| f.aicc.is_finite());
        let a = fit.as_ref().map(|f| f.aicc);
        seen.insert(k, fit);
        a
    };
    let s1 = usize::from(seasonal);
    let starts: [Key; 4] = [
        (2, 2, s1, s1, allow_const),
        (0, 0, 0, 0, allow_const),
        (1, 0, s1, 0, allow_const),
        (0, 1, 0, s1, allow_const),
    ];
    let mut best: Option<(Key, f64)> = None;
    for k in starts {
        if let Some(a) = eval(k, &mut seen) {
            if best.is_none_or(|(_, b)| a < b) {
                best = Some((k, a));
            }
        }
    }
    while let Some((bk, ba)) = best {
        let (p, q, sp, sq, c) = bk;
        let mut cand: Vec<Key> = Vec::new();
        let dec = |v: usize| v.checked_sub(1);
        for (np, nq) in [(dec(p), Some(q)), (Some(p + 1), Some(q)), (Some(p), dec(q)), (Some(p), Some(q + 1))]
            .into_iter()
            .chain([(dec(p), dec(q)), (Some(p + 1), Some(q + 1))])
        {
            if let (Some(np), Some(nq)) = (np, nq) {
                cand.push((np, nq, sp, sq, c));
            }
        }
        if seasonal {
            for (nsp, nsq) in
                [(dec(sp), Some(sq)), (Some(sp + 1), Some(sq)), (Some(sp), dec(sq)), (Some(sp), Some(sq + 1))]
                    .into_iter()
                    .chain([(dec(sp), dec(sq)), (Some(sp + 1), Some(sq + 1))])
            {
                if let (Some(nsp), Some(nsq)) = (nsp, nsq) {
                    cand.push((p, q, nsp, nsq, c));
                }
            }
        }
        if allow_const {
            cand.push((p, q, sp, sq, !c));
        }
        let mut improved = None;
        for k in cand {
            if let Some(a) = eval(k, &mut seen) {
                if a < ba - 1e-9 {
                    improved = Some((k, a));
                    break;
                }
            }
        }
        match improved {
            Some(b) => best = Some(b),
            None => break,
        }
        if seen.len() >= lim.max_models || Instant::now() >= lim.deadline {
            break;
        }
    }
    let mut out: Vec<CssFit> = seen.into_values().flatten().collect();
    let key = |f: &CssFit| (f.order.p, f.order.q, f.order.sp, f.order.sq, f.order.constant);
    out.sort_by(|a, b| a.aicc.total_cmp(&b.aicc).then_with(|| key(a).cmp(&key(b))));
    out
}
