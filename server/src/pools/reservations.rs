//! Per-account reservations: an account's own (predicted) demand reserves
//! capacity for it in a pool, and under shortage the accounts share the
//! pool by weighted dominant-resource fairness ([`super::fairness`]).
//!
//! Why reservations on top of the pool's own demand: a platform pool
//! serves many accounts whose demands differ in shape and timing.
//! Forecasting each account's demand (personalized allocation) and sizing
//! the pool for their sum means a busy account gets its capacity before it
//! needs it; when the sum exceeds `max`, fairness rather than arrival order
//! decides who gets what, and no account with demand starves.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::spec::{valid_name, DemandSource, Dimension, PoolSpec, SpecError, Vector};

/// The most reservations one pool holds.
pub const MAX_RESERVATIONS: usize = 1_000;

/// Where one dimension of a reservation's demand comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum ReservedDemand {
    /// A fixed amount (`{"amount": 4}`).
    Fixed {
        /// How much.
        amount: f64,
    },
    /// The account's own demand query, forecast like the pool's.
    Forecast(DemandSource),
}

/// One account's reservation in a pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Reservation {
    /// The account (a user, a service, a customer id): 1–64 of `[A-Za-z0-9_.-]`.
    pub account: String,
    /// Its weight under shortage (twice the weight, twice the dominant share).
    #[serde(default = "default_weight")]
    pub weight: f64,
    /// Its demand per dimension.
    pub demand: BTreeMap<Dimension, ReservedDemand>,
    /// The most it may hold per dimension, if capped.
    #[serde(default)]
    pub quota: Option<Vector>,
}

fn default_weight() -> f64 {
    1.0
}

impl Reservation {
    /// Checks the reservation against its pool.
    pub fn validate(&self, spec: &PoolSpec) -> Result<(), SpecError> {
        let bad = |field: String, message: &str| Err(SpecError { field, message: message.to_string() });
        if !valid_name(&self.account) {
            return bad("account".into(), "must be 1-64 letters, digits, '_', '-' or '.'");
        }
        if !(self.weight.is_finite() && self.weight > 0.0 && self.weight <= 1e6) {
            return bad("weight".into(), "must be a number in (0, 1000000]");
        }
        if self.demand.is_empty() {
            return bad("demand".into(), "at least one dimension is required");
        }
        for (d, demand) in &self.demand {
            if !spec.dimensions.contains(d) {
                return bad(format!("demand.{d}"), "is not one of the pool's dimensions");
            }
            match demand {
                ReservedDemand::Fixed { amount } if !(amount.is_finite() && *amount >= 0.0) => {
                    return bad(format!("demand.{d}.amount"), "must be a number >= 0");
                }
                ReservedDemand::Fixed { .. } => {}
                ReservedDemand::Forecast(source) => source.validate(&format!("demand.{d}"))?,
            }
        }
        if let Some(quota) = &self.quota {
            for (d, v) in quota {
                if !spec.dimensions.contains(d) {
                    return bad(format!("quota.{d}"), "is not one of the pool's dimensions");
                }
                if !(v.is_finite() && *v >= 0.0) {
                    return bad(format!("quota.{d}"), "must be a number >= 0");
                }
            }
        }
        Ok(())
    }
}

/// What a reservation holds after a cycle.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReservationStatus {
    /// Its demand this cycle (forecast or fixed), before the margin.
    pub demand: Vector,
    /// The capacity it is allocated.
    pub allocation: Vector,
    /// Its dominant share of the pool.
    pub dominant_share: f64,
    /// Whether it got its whole demand (with margin).
    pub satisfied: bool,
    /// Why a forecast dimension fell back to usage or to zero.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl ReservationStatus {
    /// Whether the allocation moved enough to announce (1% of any dimension,
    /// or satisfaction changed).
    pub fn differs_from(&self, other: &ReservationStatus) -> bool {
        if self.satisfied != other.satisfied {
            return true;
        }
        let dims: std::collections::BTreeSet<&Dimension> =
            self.allocation.keys().chain(other.allocation.keys()).collect();
        dims.into_iter().any(|d| {
            let a = self.allocation.get(d).copied().unwrap_or(0.0);
            let b = other.allocation.get(d).copied().unwrap_or(0.0);
            (a - b).abs() > 0.01 * a.abs().max(b.abs()).max(1e-9)
        })
    }
}
