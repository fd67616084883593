//! One allocation decision: from predicted demand and the current fleet to
//! the units to request and to release, with the reason in words.
//!
//! This follows the seed's outline: `allocateResources(predictedDemand)`
//! — if predicted demand exceeds available capacity, `scaleUp` by the
//! difference within policy, then `allocate` (reserve) from the pool. Per
//! cycle, for every dimension:
//!
//! 1. *required* = the forecast at `now + lead_time` at the pool's quantile,
//!    plus the margin, and never less than current usage plus the margin
//!    (capacity short now is short whatever the forecast says). With no
//!    forecast (it failed, or the pool runs the reactive policy) the
//!    Kubernetes HPA rule stands in: usage / target utilization (70%).
//!    With neither, the dimension keeps the capacity it has — never zero.
//! 2. the cheapest mix of shapes covering *required* ([`super::mix`]), plus
//!    `warm` idle units, clamped to `[min, max]`; a demand `max` cannot
//!    cover is a shortage (the pool takes `max` units, and reservations
//!    share them fairly).
//! 3. scale up at once to the desired units (cooldown permitting); release
//!    only units the desired count stayed below for the whole stabilization
//!    window (the highest recommendation in the window wins, as in HPA)
//!    **and** that current usage agrees can go.
//!
//! Why a pure function over plain data: the manager, the replay simulator
//! (`augur simulate`) and the tests run exactly this code; only the clock
//! and the source of the forecast differ.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

use super::mix::{capacity, cheapest_mix, Mix};
use super::spec::{Dimension, PoolSpec, Vector};

/// The target utilization of the reactive rule (Kubernetes HPA's common 70%).
pub const REACTIVE_TARGET_UTILIZATION: f64 = 0.7;

/// Which demand drives the decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The forecast at `now + lead_time` (Augur's policy).
    Predictive,
    /// Current usage over the target utilization (an HPA-like baseline).
    Reactive,
}

/// What is known about one dimension's demand this cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct DimensionDemand {
    /// The forecast at the pool's quantile, the highest over
    /// `(now, now + lead_time]` (`None`: no forecast).
    pub forecast: Option<f64>,
    /// The latest observed usage (`None`: not known).
    pub usage: Option<f64>,
}

/// The manager's memory between decisions (persisted with the pool).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AllocatorState {
    /// When units were last requested.
    pub last_scale_up: Option<i64>,
    /// When units were last released.
    pub last_scale_down: Option<i64>,
    /// Since when recommendations have been recorded without a break
    /// (a release needs a whole stabilization window of them).
    pub observed_since: Option<i64>,
    /// Recent desired unit counts per shape, oldest first.
    pub recommendations: VecDeque<(i64, Vec<u32>)>,
}

/// A decision and everything needed to explain it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// When it was taken.
    pub at: i64,
    /// The policy that drove it.
    pub policy: Policy,
    /// Required capacity per dimension (with margin).
    pub required: Vector,
    /// Dimensions whose forecast was missing, decided by the reactive rule.
    pub fallback: Vec<Dimension>,
    /// Units per shape the demand calls for now (with warm, clamped).
    pub desired: Vec<u32>,
    /// Units per shape after the stabilization window.
    pub target: Vec<u32>,
    /// Units per shape to request now.
    pub scale_up: Vec<u32>,
    /// Units per shape to release now.
    pub release: Vec<u32>,
    /// The demand exceeds `max` units.
    pub shortage: bool,
    /// Hourly cost of the desired mix.
    pub cost: f64,
    /// Hourly saving of the mix against the best single shape.
    pub saving_vs_single_shape: f64,
    /// Bound on the mix's distance from the cheapest (0: optimal).
    pub cost_gap_bound: f64,
    /// Why, in words.
    pub reason: String,
    /// How the tenant's capacity quota bounded the decision, when the
    /// tenant has one ([`super::quota`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<super::quota::QuotaCap>,
}

impl Decision {
    /// Whether the decision changes the fleet.
    pub fn acts(&self) -> bool {
        self.scale_up.iter().chain(&self.release).any(|n| *n > 0)
    }
}

/// The required capacity per dimension and the dimensions that fell back.
fn required_capacity(
    spec: &PoolSpec,
    policy: Policy,
    demand: &BTreeMap<Dimension, DimensionDemand>,
    current: &Vector,
) -> (Vector, Vec<Dimension>) {
    let mut required = Vector::new();
    let mut fallback = Vec::new();
    for d in &spec.dimensions {
        let seen = demand.get(d).copied().unwrap_or_default();
        let usage = seen.usage.filter(|u| u.is_finite()).map(|u| u.max(0.0));
        let forecast = seen.forecast.filter(|f| f.is_finite()).map(|f| f.max(0.0));
        let reactive = usage.map(|u| u / REACTIVE_TARGET_UTILIZATION);
        let value = match (policy, forecast) {
            (Policy::Predictive, Some(f)) => {
                let now = usage.map_or(0.0, |u| spec.safety.with_margin(u));
                Some(spec.safety.with_margin(f).max(now))
            }
            (Policy::Predictive, None) => {
                if spec.demand.contains_key(d) {
                    fallback.push(*d);
                }
                reactive
            }
            (Policy::Reactive, _) => reactive,
        };
        let value = match value {
            Some(v) => v,
            // Nothing known: keep what the dimension has (never zero) when
            // it has a demand source; a dimension without one needs nothing.
            None if spec.demand.contains_key(d) => current.get(d).copied().unwrap_or(0.0),
            None => 0.0,
        };
        required.insert(*d, value);
    }
    (required, fallback)
}

/// The index of the cheapest shape (warm and `min` units use it), `None`
/// for a pool without shapes.
pub fn cheapest_shape_index(spec: &PoolSpec) -> Option<usize> {
    (!spec.shapes.is_empty()).then(|| cheapest_shape(spec))
}

/// The index of the cheapest shape of a pool that has shapes.
fn cheapest_shape(spec: &PoolSpec) -> usize {
    let mut best = 0;
    for (i, s) in spec.shapes.iter().enumerate() {
        if s.hourly_cost < spec.shapes[best].hourly_cost {
            best = i;
        }
    }
    best
}

/// The units that cover `required` (the most `max` allows under shortage).
fn desired_units(spec: &PoolSpec, required: &Vector) -> (Vec<u32>, bool, Option<Mix>) {
    let headroom = spec.max.saturating_sub(spec.warm);
    if let Some(mix) = cheapest_mix(&spec.shapes, &spec.dimensions, required, headroom.max(1)) {
        return (mix.counts.clone(), false, Some(mix));
    }
    // Shortage: cover the largest fraction of the demand that fits.
    let (mut low, mut high) = (0.0f64, 1.0f64);
    let mut best: Option<Mix> = None;
    for _ in 0..24 {
        let mid = (low + high) / 2.0;
        let scaled: Vector = required.iter().map(|(d, v)| (*d, v * mid)).collect();
        match cheapest_mix(&spec.shapes, &spec.dimensions, &scaled, spec.max) {
            Some(mix) => {
                low = mid;
                best = Some(mix);
            }
            None => high = mid,
        }
    }
    let mut counts = best.as_ref().map_or_else(|| vec![0; spec.shapes.len()], |m| m.counts.clone());
    // Fill what is left of `max` with the cheapest shape: under shortage
    // every unit helps.
    let total: u32 = counts.iter().sum();
    counts[cheapest_shape(spec)] += spec.max.saturating_sub(total);
    (counts, true, best)
}

/// Decides one cycle: `active` holds the units per shape that count as
/// capacity (requested, provisioning and ready); `state` is updated.
pub fn decide(
    spec: &PoolSpec,
    policy: Policy,
    state: &mut AllocatorState,
    active: &[u32],
    demand: &BTreeMap<Dimension, DimensionDemand>,
    now: i64,
) -> Decision {
    let shapes = spec.shapes.len();
    let active: Vec<u32> = (0..shapes).map(|i| active.get(i).copied().unwrap_or(0)).collect();
    let current = capacity(&spec.shapes, &active, &spec.dimensions);
    let (required, fallback) = required_capacity(spec, policy, demand, &current);
    let (mut desired, shortage, mix) = desired_units(spec, &required);

    // Warm units and the floor, in the cheapest shape, within `max`.
    let cheapest = cheapest_shape(spec);
    let mut total: u32 = desired.iter().sum();
    let warm = spec.warm.min(spec.max.saturating_sub(total));
    desired[cheapest] += warm;
    total += warm;
    if total < spec.min {
        desired[cheapest] += spec.min - total;
    }

    // The stabilization window: the highest recommendation in it per shape.
    state.recommendations.push_back((now, desired.clone()));
    while state.recommendations.front().is_some_and(|(t, _)| *t < now - spec.scale_down_stabilization) {
        state.recommendations.pop_front();
    }
    let observed_since = *state.observed_since.get_or_insert(now);
    let window_complete = now - observed_since >= spec.scale_down_stabilization;
    let mut target: Vec<u32> = (0..shapes)
        .map(|i| state.recommendations.iter().map(|(_, r)| r.get(i).copied().unwrap_or(0)).max().unwrap_or(0))
        .collect();

    let mut reasons = Vec::new();
    let describe: Vec<String> = spec
        .dimensions
        .iter()
        .map(|d| {
            format!(
                "{d} {:.2} of {:.2}",
                required.get(d).copied().unwrap_or(0.0),
                current.get(d).copied().unwrap_or(0.0)
            )
        })
        .collect();
    reasons.push(format!("required (with margin) vs capacity: {}", describe.join(", ")));
    if !fallback.is_empty() {
        let names: Vec<&str> = fallback.iter().map(|d| d.name()).collect();
        reasons.push(format!(
            "no forecast for {}: reactive rule (usage / {REACTIVE_TARGET_UTILIZATION})",
            names.join(", ")
        ));
    }
    if shortage {
        reasons.push(format!("shortage: demand exceeds max ({} units)", spec.max));
    }

    // Scale up: everything desired beyond the active fleet, now.
    let mut scale_up: Vec<u32> = (0..shapes).map(|i| desired[i].saturating_sub(active[i])).collect();
    if scale_up.iter().any(|n| *n > 0) {
        let cooling = state.last_scale_up.is_some_and(|t| now - t < spec.scale_up_cooldown);
        if cooling {
            reasons.push("scale-up waits for its cooldown".to_string());
            scale_up = vec![0; shapes];
        } else {
            state.last_scale_up = Some(now);
            reasons.push(format!("scale up by {} unit(s)", scale_up.iter().sum::<u32>()));
        }
    }

    // Release: only below the window's highest recommendation, only after
    // a whole window, and only what current usage agrees with.
    let mut release = vec![0u32; shapes];
    for i in 0..shapes {
        target[i] = target[i].max(desired[i]);
        release[i] = active[i].saturating_sub(target[i]);
    }
    if release.iter().any(|n| *n > 0) {
        if !window_complete {
            reasons.push("lower demand not yet seen for the whole stabilization window".to_string());
            release = vec![0; shapes];
        } else {
            let kept_back = keep_for_usage(spec, demand, &active, &mut release);
            if kept_back > 0 {
                reasons.push(format!("current usage keeps {kept_back} unit(s) the forecast would release"));
            }
            if release.iter().any(|n| *n > 0) {
                state.last_scale_down = Some(now);
                reasons.push(format!(
                    "release {} unit(s): demand stayed lower for the stabilization window",
                    release.iter().sum::<u32>()
                ));
            }
        }
    }
    if scale_up.iter().chain(&release).all(|n| *n == 0) && reasons.len() == 1 {
        reasons.push("capacity matches demand".to_string());
    }
    for i in 0..shapes {
        target[i] = active[i] + scale_up[i] - release[i].min(active[i] + scale_up[i]);
    }

    let desired_cost: f64 = desired.iter().zip(&spec.shapes).map(|(n, s)| *n as f64 * s.hourly_cost).sum();
    Decision {
        at: now,
        policy,
        required,
        fallback,
        desired,
        target,
        scale_up,
        release,
        shortage,
        cost: desired_cost,
        saving_vs_single_shape: mix.as_ref().map_or(0.0, Mix::saving_vs_single_shape),
        cost_gap_bound: mix.as_ref().map_or(0.0, Mix::gap_bound),
        reason: reasons.join("; "),
        quota: None,
    }
}

/// Shrinks `release` until the units left cover current usage plus the
/// margin in every dimension; returns how many units it kept back.
fn keep_for_usage(
    spec: &PoolSpec,
    demand: &BTreeMap<Dimension, DimensionDemand>,
    active: &[u32],
    release: &mut [u32],
) -> u32 {
    let needed: Vector = spec
        .dimensions
        .iter()
        .map(|d| {
            (
                *d,
                demand
                    .get(d)
                    .and_then(|x| x.usage)
                    .filter(|u| u.is_finite())
                    .map_or(0.0, |u| spec.safety.with_margin(u)),
            )
        })
        .collect();
    let mut kept = 0;
    loop {
        let left: Vec<u32> = active.iter().zip(release.iter()).map(|(a, r)| a - r).collect();
        let cap = capacity(&spec.shapes, &left, &spec.dimensions);
        if needed.iter().all(|(d, n)| cap.get(d).copied().unwrap_or(0.0) + 1e-9 >= *n) {
            return kept;
        }
        // Keep back the largest released unit first.
        let Some(i) = (0..release.len()).filter(|i| release[*i] > 0).max_by(|a, b| {
            let size = |i: usize| spec.dimensions.iter().map(|d| spec.shapes[i].capacity_of(*d)).sum::<f64>();
            size(*a).total_cmp(&size(*b))
        }) else {
            return kept;
        };
        release[i] -= 1;
        kept += 1;
    }
}

#[cfg(test)]
#[path = "allocator_tests.rs"]
mod tests;
