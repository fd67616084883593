//! The cheapest mix of unit shapes that covers a demand vector.
//!
//! Why our own search: it is a tiny integer covering program (a handful of
//! shapes, at most five dimensions) solved every cycle of every pool, and
//! the manager must be able to say how far from optimal an answer is. A
//! depth-first branch and bound over shape counts, seeded with the best
//! single-shape answer and pruned with a per-dimension cost lower bound,
//! is exact when it finishes within its node budget; when the budget runs
//! out (very large pools with many shapes) it returns the best mix found
//! with a proven bound on the gap: `(cost − lower_bound) / cost`, where the
//! lower bound is the cost of covering the most expensive dimension alone
//! at the cheapest price per unit of that dimension (a relaxation every
//! feasible mix costs at least). Ties in cost go to fewer units.

use super::spec::{Dimension, UnitShape, Vector};

/// Nodes the search may visit before it settles for the best mix so far.
pub const NODE_BUDGET: usize = 200_000;

/// Extra objective per unit, so that equal-cost mixes prefer fewer units
/// (and zero-cost shapes are counted at all).
const PER_UNIT_TIE_BREAK: f64 = 1e-6;

/// Slack for floating-point demand (10.000000001 cores fit 5 two-core units).
const EPSILON: f64 = 1e-9;

/// A mix of units and what is known about its optimality.
#[derive(Debug, Clone, PartialEq)]
pub struct Mix {
    /// Units per shape, in the pool's shape order.
    pub counts: Vec<u32>,
    /// Hourly cost of the mix.
    pub cost: f64,
    /// A lower bound on the cost of any mix that covers the demand.
    pub lower_bound: f64,
    /// Whether the search finished, so the mix is optimal.
    pub exact: bool,
    /// The cheapest mix made of one shape only, as `(shape index, units,
    /// cost)`, if one shape can cover the demand within the unit limit.
    pub best_single_shape: Option<(usize, u32, f64)>,
}

impl Mix {
    /// Total units.
    pub fn units(&self) -> u32 {
        self.counts.iter().sum()
    }

    /// An upper bound on how much more this mix costs than the optimum, as
    /// a fraction of its cost (0 when exact).
    pub fn gap_bound(&self) -> f64 {
        if self.exact || self.cost <= 0.0 {
            0.0
        } else {
            ((self.cost - self.lower_bound) / self.cost).max(0.0)
        }
    }

    /// What the mix saves per hour against the best single-shape policy
    /// (0 when no single shape covers the demand or the mix is one shape).
    pub fn saving_vs_single_shape(&self) -> f64 {
        self.best_single_shape.map_or(0.0, |(_, _, cost)| (cost - self.cost).max(0.0))
    }
}

/// Units of `shape` needed to cover `demand` alone (`None`: it lacks a
/// dimension the demand needs).
fn units_alone(shape: &UnitShape, dims: &[Dimension], demand: &[f64]) -> Option<u32> {
    let mut need = 0u32;
    for (d, want) in dims.iter().zip(demand) {
        if *want <= EPSILON {
            continue;
        }
        let cap = shape.capacity_of(*d);
        if cap <= 0.0 {
            return None;
        }
        let n = (want / cap - EPSILON).ceil().max(0.0);
        if n > u32::MAX as f64 {
            return None;
        }
        need = need.max(n as u32);
    }
    Some(need)
}

/// The search's fixed inputs.
struct Search<'a> {
    shapes: &'a [UnitShape],
    dims: &'a [Dimension],
    max_units: u32,
    /// `objective[i]`: shape i's cost plus the tie-break.
    objective: Vec<f64>,
    /// `price[i][k]`: the cheapest objective per unit of dimension k among
    /// shapes i.. (infinite when none of them provides it).
    price: Vec<Vec<f64>>,
    nodes: usize,
    best: Option<(f64, Vec<u32>)>,
}

impl Search<'_> {
    fn lower_bound(&self, from: usize, remaining: &[f64]) -> f64 {
        remaining
            .iter()
            .enumerate()
            .filter(|(_, r)| **r > EPSILON)
            .map(|(k, r)| r * self.price[from][k])
            .fold(0.0, f64::max)
    }

    fn run(&mut self, i: usize, remaining: &mut Vec<f64>, counts: &mut Vec<u32>, used: u32, objective: f64) {
        if remaining.iter().all(|r| *r <= EPSILON) {
            if self.best.as_ref().is_none_or(|(b, _)| objective < *b - EPSILON) {
                self.best = Some((objective, counts.clone()));
            }
            return;
        }
        if i == self.shapes.len() || self.nodes >= NODE_BUDGET {
            return;
        }
        self.nodes += 1;
        let bound = objective + self.lower_bound(i, remaining);
        if !bound.is_finite() || self.best.as_ref().is_some_and(|(b, _)| bound >= *b - EPSILON) {
            return;
        }
        let shape = &self.shapes[i];
        // The most units of this shape worth trying: enough to cover every
        // dimension it provides that is still short.
        let mut most = 0u32;
        for (k, d) in self.dims.iter().enumerate() {
            let cap = shape.capacity_of(*d);
            if remaining[k] > EPSILON && cap > 0.0 {
                most = most.max(((remaining[k] / cap) - EPSILON).ceil().max(0.0).min(u32::MAX as f64) as u32);
            }
        }
        let most = most.min(self.max_units - used);
        for n in (0..=most).rev() {
            let taken: Vec<f64> = self.dims.iter().map(|d| shape.capacity_of(*d) * n as f64).collect();
            let before = remaining.clone();
            for (r, t) in remaining.iter_mut().zip(&taken) {
                *r = (*r - t).max(0.0);
            }
            counts[i] = n;
            self.run(i + 1, remaining, counts, used + n, objective + n as f64 * self.objective[i]);
            *remaining = before;
            counts[i] = 0;
        }
    }
}

/// The cheapest counts of `shapes` whose capacity covers `demand` in every
/// dimension of `dims`, with at most `max_units` units; `None` when no mix
/// within `max_units` covers it (a shortage).
pub fn cheapest_mix(shapes: &[UnitShape], dims: &[Dimension], demand: &Vector, max_units: u32) -> Option<Mix> {
    let wanted: Vec<f64> = dims.iter().map(|d| demand.get(d).copied().unwrap_or(0.0)).collect();
    if wanted.iter().any(|w| !w.is_finite()) {
        return None;
    }
    let wanted: Vec<f64> = wanted.into_iter().map(|w| w.max(0.0)).collect();
    let objective: Vec<f64> = shapes.iter().map(|s| s.hourly_cost + PER_UNIT_TIE_BREAK).collect();
    let mut price = vec![vec![f64::INFINITY; dims.len()]; shapes.len() + 1];
    for i in (0..shapes.len()).rev() {
        for (k, d) in dims.iter().enumerate() {
            let cap = shapes[i].capacity_of(*d);
            let own = if cap > 0.0 { objective[i] / cap } else { f64::INFINITY };
            price[i][k] = own.min(price[i + 1][k]);
        }
    }
    // The best single shape seeds the search and is what the mix is
    // compared against.
    let mut best_single: Option<(usize, u32, f64)> = None;
    for (i, shape) in shapes.iter().enumerate() {
        if let Some(n) = units_alone(shape, dims, &wanted) {
            let o = n as f64 * objective[i];
            if n <= max_units && best_single.is_none_or(|(j, m, _)| o < m as f64 * objective[j] - EPSILON) {
                best_single = Some((i, n, n as f64 * shape.hourly_cost));
            }
        }
    }
    let mut search = Search { shapes, dims, max_units, objective, price, nodes: 0, best: None };
    if let Some((i, n, _)) = best_single {
        let mut counts = vec![0; shapes.len()];
        counts[i] = n;
        search.best = Some((n as f64 * search.objective[i], counts));
    }
    let root_bound = search.lower_bound(0, &wanted);
    let mut remaining = wanted.clone();
    let mut counts = vec![0; shapes.len()];
    search.run(0, &mut remaining, &mut counts, 0, 0.0);
    let exact = search.nodes < NODE_BUDGET;
    let (_, counts) = search.best?;
    let cost = counts.iter().zip(shapes).map(|(n, s)| *n as f64 * s.hourly_cost).sum();
    let lower_bound = (root_bound - PER_UNIT_TIE_BREAK * counts.iter().sum::<u32>() as f64).max(0.0);
    Some(Mix {
        counts,
        cost,
        lower_bound: if exact { cost } else { lower_bound.min(cost) },
        exact,
        best_single_shape: best_single,
    })
}

/// The capacity `counts` units of `shapes` provide, per dimension.
pub fn capacity(shapes: &[UnitShape], counts: &[u32], dims: &[Dimension]) -> Vector {
    dims.iter().map(|d| (*d, shapes.iter().zip(counts).map(|(s, n)| s.capacity_of(*d) * *n as f64).sum())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn shape(name: &str, cpu: f64, mem: f64, cost: f64) -> UnitShape {
        UnitShape {
            name: name.into(),
            capacity: [(Dimension::CpuCores, cpu), (Dimension::MemoryGib, mem)].into_iter().collect(),
            hourly_cost: cost,
        }
    }

    const DIMS: [Dimension; 2] = [Dimension::CpuCores, Dimension::MemoryGib];

    fn demand(cpu: f64, mem: f64) -> Vector {
        [(Dimension::CpuCores, cpu), (Dimension::MemoryGib, mem)].into_iter().collect()
    }

    #[test]
    fn one_shape_covers_the_worst_dimension() {
        let shapes = [shape("s", 2.0, 4.0, 0.1)];
        let mix = cheapest_mix(&shapes, &DIMS, &demand(10.0, 30.0), 100).expect("feasible");
        assert_eq!(mix.counts, vec![8]);
        assert!(mix.exact);
        assert!((mix.cost - 0.8).abs() < 1e-9);
        // Floating-point noise does not cost a unit.
        let mix = cheapest_mix(&shapes, &DIMS, &demand(10.000000000001, 0.0), 100).expect("feasible");
        assert_eq!(mix.counts, vec![5]);
    }

    #[test]
    fn a_mix_beats_every_single_shape() {
        // cpu-heavy and memory-heavy shapes; demand needs both.
        let shapes = [shape("cpu", 8.0, 8.0, 0.4), shape("mem", 2.0, 32.0, 0.4)];
        let mix = cheapest_mix(&shapes, &DIMS, &demand(16.0, 64.0), 100).expect("feasible");
        // Two cpu + two mem = 20 cores, 80 GiB for 1.6; one shape needs 8 mem (3.2) or 8 cpu (3.2).
        assert_eq!(mix.counts, vec![2, 2]);
        assert!(mix.exact);
        assert!((mix.saving_vs_single_shape() - 1.6).abs() < 1e-9, "{mix:?}");
    }

    #[test]
    fn shortage_and_zero_demand() {
        let shapes = [shape("s", 2.0, 4.0, 0.1)];
        assert_eq!(cheapest_mix(&shapes, &DIMS, &demand(100.0, 0.0), 10), None);
        let mix = cheapest_mix(&shapes, &DIMS, &demand(0.0, 0.0), 10).expect("nothing needed");
        assert_eq!(mix.units(), 0);
        assert_eq!(cheapest_mix(&shapes, &DIMS, &demand(f64::NAN, 0.0), 10), None);
    }

    #[test]
    fn zero_cost_shapes_minimise_units() {
        let shapes = [shape("a", 1.0, 1.0, 0.0), shape("b", 4.0, 4.0, 0.0)];
        let mix = cheapest_mix(&shapes, &DIMS, &demand(8.0, 8.0), 100).expect("feasible");
        assert_eq!(mix.counts, vec![0, 2]);
    }

    #[test]
    fn a_huge_search_reports_a_bounded_gap() {
        let shapes: Vec<UnitShape> =
            (1..=8).map(|i| shape(&format!("s{i}"), i as f64 * 1.3, 20.0 / i as f64, 0.1 * i as f64 + 0.03)).collect();
        let mix = cheapest_mix(&shapes, &DIMS, &demand(5000.0, 7000.0), 10_000).expect("feasible");
        let cap = capacity(&shapes, &mix.counts, &DIMS);
        assert!(cap[&Dimension::CpuCores] >= 5000.0 && cap[&Dimension::MemoryGib] >= 7000.0);
        assert!(mix.lower_bound <= mix.cost + 1e-9);
        assert!(mix.gap_bound() < 0.5, "gap {}", mix.gap_bound());
    }

    /// Every mix over the shapes, by brute force.
    fn brute_force(shapes: &[UnitShape], want: &Vector, max: u32) -> Option<f64> {
        let mut best: Option<f64> = None;
        for a in 0..=max {
            for b in 0..=(max - a) {
                for c in 0..=(max - a - b) {
                    let counts = [a, b, c];
                    let cap = capacity(shapes, &counts, &DIMS);
                    if DIMS.iter().all(|d| cap[d] + EPSILON >= want[d]) {
                        let cost: f64 = counts.iter().zip(shapes).map(|(n, s)| *n as f64 * s.hourly_cost).sum();
                        best = Some(best.map_or(cost, |b: f64| b.min(cost)));
                    }
                }
            }
        }
        best
    }

    proptest! {
        #[test]
        fn the_search_is_optimal_on_small_pools(
            caps in proptest::collection::vec((1u8..6, 1u8..6, 1u8..20), 3),
            cpu in 0u8..25, mem in 0u8..25,
        ) {
            let shapes: Vec<UnitShape> = caps.iter().enumerate()
                .map(|(i, (c, m, cost))| shape(&format!("s{i}"), *c as f64, *m as f64, *cost as f64 / 10.0))
                .collect();
            let want = demand(cpu as f64, mem as f64);
            let got = cheapest_mix(&shapes, &DIMS, &want, 12);
            let expected = brute_force(&shapes, &want, 12);
            match (got, expected) {
                (None, None) => {}
                (Some(mix), Some(best)) => {
                    prop_assert!(mix.exact);
                    prop_assert!((mix.cost - best).abs() < 1e-6, "mix {:?} brute {}", mix, best);
                    let cap = capacity(&shapes, &mix.counts, &DIMS);
                    prop_assert!(DIMS.iter().all(|d| cap[d] + EPSILON >= want[d]));
                }
                (got, expected) => prop_assert!(false, "search {:?} brute {:?}", got, expected),
            }
        }
    }
}
