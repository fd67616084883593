//! Sharing a pool under shortage: weighted dominant-resource fairness
//! (DRF) with quotas.
//!
//! When the tenants' and accounts' reservations add up to more than the
//! pool can hold, each claim gets a share of the capacity by *weighted
//! DRF* (Ghodsi et al., "Dominant Resource Fairness: Fair Allocation of
//! Multiple Resource Types", NSDI 2011): a claim's *dominant share* is the
//! largest fraction of any one resource it holds, and the allocation makes
//! the dominant shares divided by the weights as equal as the capacity,
//! the demands and the quotas allow.
//!
//! How: progressive filling (water-filling). Claims are Leontief — a claim
//! needs its resources in the proportions of its demand vector (cores
//! without the memory that goes with them serve nothing), so a claim's
//! allocation is `t × demand` with `t ∈ [0, t_max]`, where `t_max ≤ 1` is
//! the largest fraction its quota allows. A common level λ (dominant share
//! per unit of weight) rises from zero; every claim still filling holds
//! `t = λ · weight / dominant_share(demand)`. The level stops rising for a
//! claim when it reaches `t_max` (satisfied) or when a resource it needs
//! runs out (blocked); the others go on and take what is left, so capacity
//! one claim cannot use is redistributed. The loop moves from event to
//! event (a claim saturates or a resource runs out), so it ends after at
//! most `claims + dimensions` rounds and is exact up to floating point.
//!
//! Properties (property-tested below): no resource is handed out beyond
//! capacity; no claim gets more than its demand or its quota; a claim left
//! unsatisfied needs a resource that is exhausted (no capacity is wasted
//! that could serve it); equal weights and equal demands get equal shares;
//! raising a claim's weight never lowers its share; and no claim with
//! positive demand, positive weight and a positive quota starves while the
//! pool has capacity in every dimension it needs.
//!
//! Dimensions the capacity vector does not list are not the pool's to
//! share and are ignored in demands and quotas.

use serde::{Deserialize, Serialize};

use super::spec::{Dimension, Vector};

/// Amounts below this (relative to the capacity) count as zero.
const EPSILON: f64 = 1e-12;

/// One party's claim on the pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// Who claims (a tenant or an account).
    pub id: String,
    /// The claim's weight (> 0): twice the weight, twice the dominant share.
    pub weight: f64,
    /// What it would use if nothing were short, per dimension.
    pub demand: Vector,
    /// The most it may hold per dimension, if capped (a dimension left out
    /// of the quota is not capped).
    pub quota: Option<Vector>,
}

/// What one claim receives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Share {
    /// The claim's id.
    pub id: String,
    /// The capacity it gets, per dimension of the pool.
    pub allocation: Vector,
    /// Its dominant share: the largest fraction of any one resource it gets.
    pub dominant_share: f64,
    /// Whether it got its whole demand.
    pub satisfied: bool,
}

/// Input the fair share cannot be computed from.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FairnessError {
    /// A capacity that is negative or not a number.
    #[error("capacity of {0} must be a number >= 0")]
    Capacity(Dimension),
    /// A weight that is not a positive number.
    #[error("claim {id:?}: weight must be a number > 0")]
    Weight {
        /// The claim.
        id: String,
    },
    /// A demand or quota that is negative or not a number.
    #[error("claim {id:?}: {what} of {dimension} must be a number >= 0")]
    Amount {
        /// The claim.
        id: String,
        /// `demand` or `quota`.
        what: &'static str,
        /// The dimension at fault.
        dimension: Dimension,
    },
}

/// A claim as the filling sees it.
struct Filling {
    /// Demand per pool dimension (in the order of `dims`).
    demand: Vec<f64>,
    /// `weight / dominant_share(demand)`: how fast `t` rises with λ.
    rate: f64,
    /// The largest `t` the quota allows (≤ 1).
    t_max: f64,
    /// Current fraction of the demand held.
    t: f64,
    /// Still filling.
    active: bool,
}

fn check(id: &str, what: &'static str, v: &Vector) -> Result<(), FairnessError> {
    for (d, x) in v {
        if !(x.is_finite() && *x >= 0.0) {
            return Err(FairnessError::Amount { id: id.to_string(), what, dimension: *d });
        }
    }
    Ok(())
}

/// Shares `capacity` among `claims` by weighted dominant-resource fairness
/// with quotas; the shares come back in the claims' order.
pub fn fair_shares(capacity: &Vector, claims: &[Claim]) -> Result<Vec<Share>, FairnessError> {
    for (d, c) in capacity {
        if !(c.is_finite() && *c >= 0.0) {
            return Err(FairnessError::Capacity(*d));
        }
    }
    let dims: Vec<Dimension> = capacity.keys().copied().collect();
    let cap: Vec<f64> = dims.iter().map(|d| capacity[d]).collect();
    let mut fill = Vec::with_capacity(claims.len());
    for claim in claims {
        if !(claim.weight.is_finite() && claim.weight > 0.0) {
            return Err(FairnessError::Weight { id: claim.id.clone() });
        }
        check(&claim.id, "demand", &claim.demand)?;
        if let Some(q) = &claim.quota {
            check(&claim.id, "quota", q)?;
        }
        let demand: Vec<f64> = dims.iter().map(|d| claim.demand.get(d).copied().unwrap_or(0.0)).collect();
        // The quota caps the fraction of the demand the claim may hold.
        let mut t_max: f64 = 1.0;
        for (k, d) in dims.iter().enumerate() {
            if let Some(q) = claim.quota.as_ref().and_then(|q| q.get(d)) {
                if demand[k] > 0.0 {
                    t_max = t_max.min(q / demand[k]);
                }
            }
        }
        // A claim that needs a resource the pool has none of gets nothing.
        let blocked = demand.iter().zip(&cap).any(|(x, c)| *x > 0.0 && *c <= 0.0);
        let dominant = demand.iter().zip(&cap).filter(|(_, c)| **c > 0.0).map(|(x, c)| x / c).fold(0.0, f64::max);
        let active = !blocked && dominant > 0.0 && t_max > 0.0;
        let rate = if active { claim.weight / dominant } else { 0.0 };
        fill.push(Filling { demand, rate, t_max, t: 0.0, active });
    }

    let mut remaining = cap.clone();
    // Each round one claim saturates or one resource runs out.
    for _ in 0..=(claims.len() + dims.len()) {
        if !fill.iter().any(|f| f.active) {
            break;
        }
        // How fast each resource drains per unit of λ.
        let drain: Vec<f64> = (0..dims.len())
            .map(|k| fill.iter().filter(|f| f.active).map(|f| f.rate * f.demand[k]).sum::<f64>())
            .collect();
        let mut step = f64::INFINITY;
        for f in fill.iter().filter(|f| f.active) {
            step = step.min((f.t_max - f.t) / f.rate);
        }
        for k in 0..dims.len() {
            if drain[k] > 0.0 {
                step = step.min(remaining[k].max(0.0) / drain[k]);
            }
        }
        if !step.is_finite() {
            break;
        }
        let step = step.max(0.0);
        for k in 0..dims.len() {
            remaining[k] -= step * drain[k];
        }
        for f in fill.iter_mut().filter(|f| f.active) {
            f.t = (f.t + step * f.rate).min(f.t_max);
            if f.t >= f.t_max * (1.0 - 1e-12) {
                f.t = f.t_max;
                f.active = false;
            }
        }
        for k in 0..dims.len() {
            if remaining[k] <= EPSILON * cap[k].max(1.0) {
                for f in fill.iter_mut().filter(|f| f.active && f.demand[k] > 0.0) {
                    f.active = false;
                }
            }
        }
    }

    Ok(claims
        .iter()
        .zip(&fill)
        .map(|(claim, f)| {
            let allocation: Vector = dims.iter().zip(&f.demand).map(|(d, x)| (*d, x * f.t)).collect();
            let dominant_share =
                dims.iter().zip(&cap).filter(|(_, c)| **c > 0.0).map(|(d, c)| allocation[d] / c).fold(0.0, f64::max);
            let satisfied = f.demand.iter().all(|x| *x <= 0.0) || f.t >= 1.0;
            Share { id: claim.id.clone(), allocation, dominant_share, satisfied }
        })
        .collect())
}

#[cfg(test)]
#[path = "fairness_tests.rs"]
mod tests;
