//! Tenant capacity quotas: the most capacity all of one tenant's pools may
//! hold together, shared among them by weighted dominant-resource fairness.
//!
//! Why a quota across pools: a platform team hands each tenant (a product
//! team, a customer) a budget of cores, memory or GPUs, as a Kubernetes
//! `ResourceQuota` caps a namespace. A pool's own `max` bounds one service;
//! the quota bounds the tenant, so a forecast spike in one service cannot
//! take the capacity its siblings were promised, and a runaway forecast
//! cannot run up the tenant's bill.
//!
//! How a pool's cap is found, every cycle of every pool of a quota'd tenant:
//!
//! 1. Each pool is *guaranteed* the capacity of its `min` units (the
//!    quota is checked to hold every pool's `min` when it is set and when
//!    a pool is created or changed).
//! 2. Each pool *wants* the capacity of its latest decision: the larger,
//!    per shape, of the units its demand calls for and the units its
//!    stabilization window keeps (so a quota with room to spare never
//!    cuts a window short).
//! 3. What the quota holds beyond the guarantees is shared among the wants
//!    beyond the guarantees by weighted DRF ([`super::fairness`]): when
//!    the wants fit, every pool gets its want; when they do not, the
//!    dominant shares per unit of `quota_weight` are equalised and no pool
//!    with demand starves.
//! 4. The cap is the smaller of that fair share and the *headroom*, what
//!    the quota leaves beside the capacity the tenant's other pools hold
//!    right now (but never less than what the pool holds itself, up to its
//!    share). So no pool grows the tenant past its quota, even while a
//!    sibling above its share has yet to release (it releases at its own
//!    next cycle, whose cap is its share); and when the tenant is already
//!    over (the quota was lowered), each pool gives back down to its share,
//!    not below it because of its siblings' excess.
//!
//! The cap is then rounded down to whole units ([`fit_units`]): units not
//! yet requested are dropped first, then active ones are released.
//! Releasing for a quota does not wait for the stabilization window: the
//! capacity belongs to a sibling. Dimensions the quota does not list are
//! not capped.

use serde::{Deserialize, Serialize};

use super::allocator::Decision;
use super::fairness::{fair_shares, Claim};
use super::mix::capacity;
use super::spec::{Dimension, PoolSpec, SpecError, Vector};

/// A tenant's capacity quota.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantQuota {
    /// The most capacity the tenant's pools may hold together, per
    /// dimension (a dimension left out is not capped).
    pub limits: Vector,
}

impl TenantQuota {
    /// Checks the limits: at least one, each a number ≥ 0.
    pub fn validate(&self) -> Result<(), SpecError> {
        if self.limits.is_empty() {
            return Err(SpecError { field: "limits".into(), message: "at least one dimension is required".into() });
        }
        for (d, v) in &self.limits {
            if !(v.is_finite() && *v >= 0.0) {
                return Err(SpecError { field: format!("limits.{d}"), message: "must be a number >= 0".into() });
            }
        }
        Ok(())
    }

    /// The first dimension where `guaranteed` (the pools' `min` capacity)
    /// exceeds the limit, as an error on the field `field(dimension)` names.
    pub fn check_guarantees(&self, guaranteed: &Vector, field: impl Fn(Dimension) -> String) -> Result<(), SpecError> {
        for (d, limit) in &self.limits {
            let need = guaranteed.get(d).copied().unwrap_or(0.0);
            if need > limit + 1e-9 {
                return Err(SpecError {
                    field: field(*d),
                    message: format!(
                        "the tenant's pools need {need} {d} for their min units, more than the quota's {limit}"
                    ),
                });
            }
        }
        Ok(())
    }
}

/// One pool of the tenant as the quota sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolClaim {
    /// The pool's name.
    pub name: String,
    /// Its weight in the tenant's share.
    pub weight: f64,
    /// The capacity of its `min` units.
    pub guaranteed: Vector,
    /// The capacity its latest decision wants.
    pub wants: Vector,
    /// The capacity of its active units now.
    pub holds: Vector,
}

impl PoolClaim {
    /// The claim of a pool whose latest decision is `decision` and that
    /// holds `active` units per shape.
    pub fn new(spec: &PoolSpec, decision: Option<&Decision>, active: &[u32]) -> PoolClaim {
        let wanted: Vec<u32> = match decision {
            Some(d) => (0..spec.shapes.len())
                .map(|i| d.desired.get(i).copied().unwrap_or(0).max(d.target.get(i).copied().unwrap_or(0)))
                .collect(),
            None => active.to_vec(),
        };
        PoolClaim {
            name: spec.name.clone(),
            weight: spec.quota_weight,
            guaranteed: guaranteed(spec),
            wants: capacity(&spec.shapes, &wanted, &spec.dimensions),
            holds: capacity(&spec.shapes, active, &spec.dimensions),
        }
    }
}

/// The capacity a pool's `min` units provide (they are of its cheapest shape).
pub fn guaranteed(spec: &PoolSpec) -> Vector {
    let mut counts = vec![0; spec.shapes.len()];
    if let Some(i) = super::allocator::cheapest_shape_index(spec) {
        counts[i] = spec.min;
    }
    capacity(&spec.shapes, &counts, &spec.dimensions)
}

/// The sum of `vectors` per dimension.
pub fn total<'a>(vectors: impl IntoIterator<Item = &'a Vector>) -> Vector {
    let mut sum = Vector::new();
    for v in vectors {
        for (d, x) in v {
            *sum.entry(*d).or_default() += x;
        }
    }
    sum
}

/// How the quota bounds one pool this cycle (shown with its decision).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QuotaCap {
    /// The tenant's limits.
    pub limits: Vector,
    /// The pool's fair share of the limits.
    pub share: Vector,
    /// What the limits leave beside the other pools' capacity now.
    pub headroom: Vector,
    /// The most the pool may hold: the share, within the headroom or what
    /// the pool holds now, whichever is larger.
    pub cap: Vector,
    /// Whether the cap took units the demand called for.
    pub capped: bool,
}

/// The cap of pool `this` among the tenant's `others` under `quota`.
pub fn cap_for(quota: &TenantQuota, this: &PoolClaim, others: &[PoolClaim]) -> QuotaCap {
    let dims: Vec<Dimension> = quota.limits.keys().copied().collect();
    let all: Vec<&PoolClaim> = std::iter::once(this).chain(others).collect();
    let guaranteed = total(all.iter().map(|c| &c.guaranteed));
    let rest: Vector =
        dims.iter().map(|d| (*d, (quota.limits[d] - guaranteed.get(d).copied().unwrap_or(0.0)).max(0.0))).collect();
    let claims: Vec<Claim> = all
        .iter()
        .map(|c| Claim {
            id: c.name.clone(),
            weight: c.weight,
            demand: dims
                .iter()
                .map(|d| {
                    let beyond = c.wants.get(d).copied().unwrap_or(0.0) - c.guaranteed.get(d).copied().unwrap_or(0.0);
                    (*d, beyond.max(0.0))
                })
                .collect(),
            quota: None,
        })
        .collect();
    // The claims are built from validated specs; should the sharing still
    // refuse them, the pool keeps only its guarantee.
    let extra = fair_shares(&rest, &claims).ok().and_then(|mut s| (!s.is_empty()).then(|| s.swap_remove(0)));
    let others_hold = total(others.iter().map(|c| &c.holds));
    let mut cap = QuotaCap { limits: quota.limits.clone(), ..QuotaCap::default() };
    for d in &dims {
        let share = this.guaranteed.get(d).copied().unwrap_or(0.0)
            + extra.as_ref().and_then(|s| s.allocation.get(d)).copied().unwrap_or(0.0);
        let headroom = (quota.limits[d] - others_hold.get(d).copied().unwrap_or(0.0)).max(0.0);
        let holds = this.holds.get(d).copied().unwrap_or(0.0);
        cap.share.insert(*d, share);
        cap.headroom.insert(*d, headroom);
        cap.cap.insert(*d, share.min(headroom.max(holds)));
    }
    cap
}

/// The most of `counts` (units per shape) whose capacity stays within
/// `cap`: units are taken away one at a time, each time from the shape
/// that gives the most of the dimension furthest over its cap.
pub fn fit_units(spec: &PoolSpec, counts: &[u32], cap: &Vector) -> Vec<u32> {
    let mut counts = counts.to_vec();
    loop {
        let held = capacity(&spec.shapes, &counts, &spec.dimensions);
        let worst = cap
            .iter()
            .filter_map(|(d, limit)| {
                let over = held.get(d).copied().unwrap_or(0.0) - limit;
                (over > 1e-9 * limit.abs().max(1.0)).then_some((*d, over / limit.abs().max(1e-9)))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1));
        let Some((dimension, _)) = worst else { return counts };
        let shape = (0..counts.len())
            .filter(|i| counts[*i] > 0 && spec.shapes[*i].capacity_of(dimension) > 0.0)
            .max_by(|a, b| spec.shapes[*a].capacity_of(dimension).total_cmp(&spec.shapes[*b].capacity_of(dimension)));
        match shape {
            Some(i) => counts[i] -= 1,
            // Nothing left that provides it (cannot happen: it is over).
            None => return counts,
        }
    }
}

/// Bounds `decision` by `cap`: its target shrinks to the units that fit,
/// scale-ups beyond it are dropped and the rest is released at once.
/// `active` holds the units per shape that count as capacity now.
pub fn apply(spec: &PoolSpec, decision: &mut Decision, active: &[u32], mut cap: QuotaCap) {
    let fitted = fit_units(spec, &decision.target, &cap.cap);
    let wanted_fits = fit_units(spec, &decision.desired, &cap.cap) == decision.desired;
    cap.capped = fitted != decision.target || !wanted_fits;
    if fitted != decision.target {
        let before_up: u32 = decision.scale_up.iter().sum();
        let before_release: u32 = decision.release.iter().sum();
        for (i, fit) in fitted.iter().enumerate() {
            let now = active.get(i).copied().unwrap_or(0);
            decision.scale_up[i] = fit.saturating_sub(now);
            decision.release[i] = now.saturating_sub(*fit);
        }
        decision.target = fitted;
        let up: u32 = decision.scale_up.iter().sum();
        let release: u32 = decision.release.iter().sum();
        let mut note = "tenant quota: ".to_string();
        if up < before_up {
            note.push_str(&format!("scale up by {up} instead of {before_up} unit(s)"));
        }
        if release > before_release {
            if up < before_up {
                note.push_str(", ");
            }
            note.push_str(&format!("release {} unit(s) beyond the pool's share", release - before_release));
        }
        decision.reason.push_str(&format!("; {note} ({})", describe(&cap)));
    } else if cap.capped {
        decision.reason.push_str(&format!("; tenant quota holds the pool below its demand ({})", describe(&cap)));
    }
    decision.quota = Some(cap);
}

/// The cap in words: `cpu_cores at most 6.00: share 6.00, headroom 20.00`.
fn describe(cap: &QuotaCap) -> String {
    cap.cap
        .iter()
        .map(|(d, c)| {
            format!(
                "{d} at most {c:.2}: share {:.2}, headroom {:.2}",
                cap.share.get(d).copied().unwrap_or(0.0),
                cap.headroom.get(d).copied().unwrap_or(0.0)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
#[path = "quota_tests.rs"]
mod tests;
