//! The SPEC Research Group's elasticity metrics, computed from a demand
//! curve and a supply curve sampled on the same regular grid.
//!
//! Definitions from N. Herbst et al., "Quantifying Cloud Performance and
//! Dependability: Taxonomy, Metric Design, and Emerging Challenges", ACM
//! TOMPECS 3(4), 2018, §4 (also in the SPEC RG report "Ready for Rain? A
//! View from SPEC Research on the Future of Cloud Metrics", SPEC-RG-2016-01).
//! With `d_t` the demand and `s_t` the supply at step `t` (both in resource
//! units: the fewest units that serve the demand, and the ready units),
//! `Δt` the step and `T` the duration:
//!
//! * θ_U = 100/T · Σ max(d_t − s_t, 0) / max(d_t, ε) · Δt  — under-provisioning
//!   accuracy: by how much, relative to demand, supply falls short on average;
//! * θ_O = 100/T · Σ max(s_t − d_t, 0) / max(d_t, ε) · Δt  — over-provisioning
//!   accuracy;
//! * τ_U = 100/T · Σ \[d_t > s_t\] · Δt, τ_O = 100/T · Σ \[s_t > d_t\] · Δt — the
//!   timeshare under- and over-provisioned;
//! * instability υ = 100/(T − t₁) · Σ_{t≥2} min(|sgn Δs_t − sgn Δd_t|, 1) · Δt —
//!   the share of time supply and demand do not move in the same direction
//!   (opposite moves, or one moves while the other stays);
//! * jitter j = (E_S − E_D) / T — supply adaptations minus demand changes,
//!   per hour (negative: supply too sluggish, positive: it oscillates).
//!
//! All are percentages except jitter; lower is better for all but jitter,
//! whose ideal is 0.

use serde::Serialize;

/// The ε that keeps θ finite where demand is zero.
pub const EPSILON: f64 = 1e-9;

/// The elasticity metrics of one supply curve against its demand.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Elasticity {
    /// θ_U, %.
    pub theta_u: f64,
    /// θ_O, %.
    pub theta_o: f64,
    /// τ_U, %.
    pub tau_u: f64,
    /// τ_O, %.
    pub tau_o: f64,
    /// υ, %.
    pub instability: f64,
    /// j, adaptations per hour.
    pub jitter: f64,
}

fn sign(x: f64) -> i32 {
    if x > EPSILON {
        1
    } else if x < -EPSILON {
        -1
    } else {
        0
    }
}

/// The metrics of `supply` against `demand` (same length, one value per
/// step of `step_hours` hours). Empty curves give zeros.
pub fn elasticity(demand: &[f64], supply: &[f64], step_hours: f64) -> Elasticity {
    let n = demand.len().min(supply.len());
    if n == 0 {
        return Elasticity { theta_u: 0.0, theta_o: 0.0, tau_u: 0.0, tau_o: 0.0, instability: 0.0, jitter: 0.0 };
    }
    let (mut theta_u, mut theta_o, mut under, mut over) = (0.0, 0.0, 0usize, 0usize);
    for (d, s) in demand.iter().zip(supply).take(n) {
        theta_u += (d - s).max(0.0) / d.max(EPSILON);
        theta_o += (s - d).max(0.0) / d.max(EPSILON);
        under += usize::from(d - s > EPSILON);
        over += usize::from(s - d > EPSILON);
    }
    let (mut unstable, mut supply_moves, mut demand_moves) = (0usize, 0i64, 0i64);
    for t in 1..n {
        let ds = sign(supply[t] - supply[t - 1]);
        let dd = sign(demand[t] - demand[t - 1]);
        unstable += usize::from(ds != dd);
        supply_moves += i64::from(ds != 0);
        demand_moves += i64::from(dd != 0);
    }
    let pct = |x: f64| 100.0 * x / n as f64;
    Elasticity {
        theta_u: pct(theta_u),
        theta_o: pct(theta_o),
        tau_u: pct(under as f64),
        tau_o: pct(over as f64),
        instability: if n > 1 { 100.0 * unstable as f64 / (n - 1) as f64 } else { 0.0 },
        jitter: if step_hours > 0.0 { (supply_moves - demand_moves) as f64 / (n as f64 * step_hours) } else { 0.0 },
    }
}

/// The fewest units of `unit_capacity` that serve `demand` (floating-point
/// noise does not cost a unit).
pub fn units_needed(demand: f64, unit_capacity: f64) -> f64 {
    if unit_capacity <= 0.0 || demand <= 0.0 {
        return 0.0;
    }
    (demand / unit_capacity - 1e-9).ceil().max(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn a_perfect_supply_scores_zero() {
        let d = [1.0, 2.0, 3.0, 2.0];
        let e = elasticity(&d, &d, 1.0);
        assert_eq!(e, Elasticity { theta_u: 0.0, theta_o: 0.0, tau_u: 0.0, tau_o: 0.0, instability: 0.0, jitter: 0.0 });
    }

    #[test]
    fn hand_computed_trace() {
        // Steps:        0    1    2    3    4
        let d = [2.0, 4.0, 4.0, 2.0, 2.0];
        let s = [2.0, 2.0, 4.0, 4.0, 3.0];
        let e = elasticity(&d, &s, 0.5);
        // Under at step 1 by 2 of 4 (50%): θ_U = 50 / 5 = 10%; τ_U = 1/5.
        assert!(close(e.theta_u, 10.0), "{e:?}");
        assert!(close(e.tau_u, 20.0), "{e:?}");
        // Over at step 3 by 2 of 2 (100%) and step 4 by 1 of 2 (50%): 150 / 5.
        assert!(close(e.theta_o, 30.0), "{e:?}");
        assert!(close(e.tau_o, 40.0), "{e:?}");
        // Moves (d, s): (+,0) (0,+) (-,0) (0,-): all four differ.
        assert!(close(e.instability, 100.0), "{e:?}");
        // Supply and demand both changed twice: no jitter.
        assert!(close(e.jitter, 0.0), "{e:?}");
        // Supply that moves twice under a flat demand over 3 hours: 2/3 per hour.
        let e = elasticity(&[1.0, 1.0, 1.0], &[1.0, 2.0, 1.0], 1.0);
        assert!(close(e.jitter, 2.0 / 3.0), "{e:?}");
    }

    #[test]
    fn instability_counts_only_disagreeing_moves() {
        let d = [1.0, 2.0, 3.0, 3.0, 1.0];
        let s = [1.0, 2.0, 4.0, 4.0, 5.0];
        // (+,+) (+,+) (0,0) (-,+): one of four.
        assert!(close(elasticity(&d, &s, 1.0).instability, 25.0));
    }

    #[test]
    fn zero_demand_and_empty_curves() {
        let e = elasticity(&[0.0, 0.0], &[1.0, 0.0], 1.0);
        assert!(e.theta_o > 1e9, "over-provisioning zero demand is unbounded: {e:?}");
        assert!(close(e.tau_o, 50.0));
        assert_eq!(elasticity(&[], &[], 1.0).tau_u, 0.0);
        assert_eq!(units_needed(10.000000000001, 2.0), 5.0);
        assert_eq!(units_needed(10.1, 2.0), 6.0);
        assert_eq!(units_needed(0.0, 2.0), 0.0);
    }
}
