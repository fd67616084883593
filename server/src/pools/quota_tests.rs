use super::*;
use crate::pools::allocator::{decide, AllocatorState, DimensionDemand, Policy};
use std::collections::BTreeMap;

const MINUTE: i64 = 60_000_000_000;

/// A pool of 2-core/4-GiB units (and 8-core/8-GiB ones when `two_shapes`).
fn pool(name: &str, min: u32, two_shapes: bool) -> PoolSpec {
    let mut shapes =
        vec![serde_json::json!({"name": "small", "capacity": {"cpu_cores": 2, "memory_gib": 4}, "hourly_cost": 0.1})];
    if two_shapes {
        shapes.push(
            serde_json::json!({"name": "cpu", "capacity": {"cpu_cores": 8, "memory_gib": 8}, "hourly_cost": 0.3}),
        );
    }
    let mut spec: PoolSpec = serde_json::from_value(serde_json::json!({
        "name": name,
        "dimensions": ["cpu_cores", "memory_gib"],
        "shapes": shapes,
        "min": min, "max": 100,
        "scale_up_cooldown": "0s",
        "safety": {"margin_pct": 0},
        "demand": {"cpu_cores": {"database": "d", "query": "SELECT sum(c) FROM u GROUP BY time(1m)"}}
    }))
    .expect("spec");
    spec.tenant = "acme".into();
    spec
}

fn cpu(v: f64) -> Vector {
    [(Dimension::CpuCores, v)].into_iter().collect()
}

fn quota(cores: f64) -> TenantQuota {
    TenantQuota { limits: cpu(cores) }
}

fn claim(name: &str, weight: f64, guaranteed: f64, wants: f64, holds: f64) -> PoolClaim {
    PoolClaim { name: name.into(), weight, guaranteed: cpu(guaranteed), wants: cpu(wants), holds: cpu(holds) }
}

#[test]
fn wants_that_fit_are_not_capped_beyond_the_headroom() {
    let q = quota(40.0);
    let cap = cap_for(&q, &claim("a", 1.0, 2.0, 10.0, 4.0), &[claim("b", 1.0, 2.0, 20.0, 20.0)]);
    assert_eq!(cap.share[&Dimension::CpuCores], 10.0);
    assert_eq!(cap.headroom[&Dimension::CpuCores], 20.0);
    assert_eq!(cap.cap[&Dimension::CpuCores], 10.0);
    // A sibling holding more than its share keeps the tenant within the quota.
    let cap = cap_for(&q, &claim("a", 1.0, 2.0, 10.0, 4.0), &[claim("b", 1.0, 2.0, 20.0, 34.0)]);
    assert_eq!(cap.cap[&Dimension::CpuCores], 6.0);
}

#[test]
fn a_tenant_over_a_lowered_quota_gives_back_down_to_the_shares() {
    // Both pools hold 10 cores, the quota drops to 12: each gives back to
    // its share of 6, not to the 2 its sibling's excess would leave.
    let q = quota(12.0);
    let a = claim("a", 1.0, 0.0, 10.0, 10.0);
    let b = claim("b", 1.0, 0.0, 10.0, 10.0);
    let cap_a = cap_for(&q, &a, std::slice::from_ref(&b));
    assert_eq!(cap_a.headroom[&Dimension::CpuCores], 2.0);
    assert_eq!(cap_a.cap[&Dimension::CpuCores], 6.0);
    // After a gave back, b's cap is its share too: the tenant is at 12.
    let a_after = claim("a", 1.0, 0.0, 10.0, 6.0);
    assert_eq!(cap_for(&q, &b, std::slice::from_ref(&a_after)).cap[&Dimension::CpuCores], 6.0);
    // A pool under its share never grows past the headroom.
    let small = claim("c", 1.0, 0.0, 10.0, 1.0);
    assert_eq!(cap_for(&q, &small, std::slice::from_ref(&b)).cap[&Dimension::CpuCores], 2.0);
}

#[test]
fn contention_is_shared_by_weight_beyond_the_guarantees() {
    // 40 cores; guarantees 2 + 6; the remaining 32 shared 1:3 between
    // wants of 38 and 46 beyond the guarantees.
    let q = quota(40.0);
    let a = claim("a", 1.0, 2.0, 40.0, 0.0);
    let b = claim("b", 3.0, 6.0, 52.0, 0.0);
    let cap_a = cap_for(&q, &a, std::slice::from_ref(&b));
    let cap_b = cap_for(&q, &b, std::slice::from_ref(&a));
    let (sa, sb) = (cap_a.share[&Dimension::CpuCores], cap_b.share[&Dimension::CpuCores]);
    assert!((sa - (2.0 + 8.0)).abs() < 1e-9, "{sa}");
    assert!((sb - (6.0 + 24.0)).abs() < 1e-9, "{sb}");
    assert!((sa + sb - 40.0).abs() < 1e-9);
    // A pool with a small want takes only it; the rest goes to the other.
    let small = claim("a", 1.0, 2.0, 4.0, 0.0);
    let cap_b = cap_for(&q, &b, std::slice::from_ref(&small));
    assert!((cap_b.share[&Dimension::CpuCores] - 36.0).abs() < 1e-9);
}

#[test]
fn no_pool_with_demand_starves() {
    let q = quota(10.0);
    let greedy = claim("big", 1_000.0, 0.0, 1_000.0, 0.0);
    let meek = claim("small", 1.0, 0.0, 4.0, 0.0);
    let cap = cap_for(&q, &meek, std::slice::from_ref(&greedy));
    assert!(cap.share[&Dimension::CpuCores] > 0.0);
}

#[test]
fn fit_units_drops_the_units_that_overrun_the_cap() {
    let spec = pool("a", 0, true);
    // 3 small (6 cores) + 2 cpu (16 cores) = 22 cores; cap 12.
    assert_eq!(fit_units(&spec, &[3, 2], &cpu(12.0)), vec![3, 0]);
    assert_eq!(fit_units(&spec, &[3, 2], &cpu(100.0)), vec![3, 2]);
    assert_eq!(fit_units(&spec, &[3, 2], &cpu(0.0)), vec![0, 0]);
    // Uncapped dimensions do not count.
    let mem_only: Vector = [(Dimension::MemoryGib, 8.0)].into_iter().collect();
    assert_eq!(fit_units(&spec, &[3, 0], &mem_only), vec![2, 0]);
}

#[test]
fn apply_drops_scale_ups_and_releases_beyond_the_share_at_once() {
    let spec = pool("a", 1, false);
    let demand: BTreeMap<Dimension, DimensionDemand> =
        [(Dimension::CpuCores, DimensionDemand { forecast: Some(30.0), usage: Some(30.0) })].into_iter().collect();
    let mut state = AllocatorState::default();
    // Holding 5 units (10 cores), the demand calls for 15 (30 cores).
    let mut decision = decide(&spec, Policy::Predictive, &mut state, &[5], &demand, 10 * MINUTE);
    assert_eq!(decision.scale_up, vec![10]);
    let cap = cap_for(&quota(16.0), &PoolClaim::new(&spec, Some(&decision), &[5]), &[]);
    apply(&spec, &mut decision, &[5], cap);
    assert_eq!(decision.target, vec![8]);
    assert_eq!(decision.scale_up, vec![3]);
    assert!(decision.quota.as_ref().is_some_and(|q| q.capped));
    assert!(decision.reason.contains("tenant quota: scale up by 3 instead of 10"), "{}", decision.reason);

    // A sibling wanting and holding 10 cores appears: the pool's share is
    // its min (2 cores) and half of the other 14, 9 cores. It gives back 4
    // of its 8 units at once, without waiting for its stabilization window.
    let sibling = claim("b", 1.0, 0.0, 10.0, 10.0);
    let mut decision = decide(&spec, Policy::Predictive, &mut state, &[8], &demand, 11 * MINUTE);
    let cap = cap_for(&quota(16.0), &PoolClaim::new(&spec, Some(&decision), &[8]), &[sibling]);
    assert_eq!(cap.share[&Dimension::CpuCores], 9.0);
    apply(&spec, &mut decision, &[8], cap);
    assert_eq!(decision.target, vec![4]);
    assert_eq!(decision.release, vec![4]);
    assert_eq!(decision.scale_up, vec![0]);

    // Room to spare: nothing changes and nothing is capped.
    let mut decision = decide(&spec, Policy::Predictive, &mut state, &[15], &demand, 12 * MINUTE);
    let before = decision.clone();
    let cap = cap_for(&quota(100.0), &PoolClaim::new(&spec, Some(&decision), &[15]), &[]);
    apply(&spec, &mut decision, &[15], cap);
    assert_eq!(
        (decision.target.clone(), decision.scale_up.clone(), decision.release.clone()),
        (before.target, before.scale_up, before.release)
    );
    assert!(!decision.quota.as_ref().is_some_and(|q| q.capped));
}

#[test]
fn a_quota_must_hold_the_pools_min_units() {
    assert!(quota(-1.0).validate().is_err());
    assert!(TenantQuota { limits: Vector::new() }.validate().is_err());
    let q = quota(5.0);
    let err = q.check_guarantees(&cpu(6.0), |d| format!("limits.{d}")).expect_err("too small");
    assert_eq!(err.field, "limits.cpu_cores");
    assert!(err.message.contains("need 6 cpu_cores"), "{}", err.message);
    assert!(q.check_guarantees(&cpu(4.0), |d| format!("limits.{d}")).is_ok());
    assert_eq!(guaranteed(&pool("a", 3, true))[&Dimension::CpuCores], 6.0);
}

/// A sibling pool over cpu only: (weight, guaranteed, wants beyond it, holds).
type Sibling = (f64, f64, f64, f64);

fn sibling_strategy() -> impl proptest::strategy::Strategy<Value = Vec<Sibling>> {
    proptest::collection::vec((0.1f64..10.0, 0.0f64..4.0, 0.0f64..40.0, 0.0f64..40.0), 1..6)
}

proptest::proptest! {
    /// Whatever the siblings want and hold, a pool's cap never exceeds its
    /// share, never lets it grow past what the quota leaves beside their
    /// holdings, is never negative, and the units fitted to it never exceed
    /// it nor the units asked for.
    #[test]
    fn the_cap_and_its_units_stay_within_the_quota(
        limit in 0.0f64..100.0,
        pools in sibling_strategy(),
        small in 0u32..20,
        big in 0u32..6,
    ) {
        let quota = quota(limit);
        let claims: Vec<PoolClaim> = pools
            .iter()
            .enumerate()
            .map(|(i, (w, g, extra, holds))| claim(&format!("p{i}"), *w, *g, g + extra, *holds))
            .collect();
        let (this, others) = claims.split_first().expect("one pool at least");
        let cap = cap_for(&quota, this, others);
        let others_hold: f64 = others.iter().map(|c| c.holds[&Dimension::CpuCores]).sum();
        let c = cap.cap[&Dimension::CpuCores];
        proptest::prop_assert!(c >= 0.0);
        let holds = this.holds[&Dimension::CpuCores];
        proptest::prop_assert!(c <= (limit - others_hold).max(holds) + 1e-9, "cap {} beside {}", c, others_hold);
        proptest::prop_assert!(c <= cap.share[&Dimension::CpuCores] + 1e-9);
        proptest::prop_assert!(cap.share[&Dimension::CpuCores] <= limit.max(this.guaranteed[&Dimension::CpuCores]) + 1e-9);

        let spec = pool("a", 0, true);
        let fitted = fit_units(&spec, &[small, big], &cap.cap);
        let held = crate::pools::mix::capacity(&spec.shapes, &fitted, &spec.dimensions);
        proptest::prop_assert!(held[&Dimension::CpuCores] <= c + 1e-9);
        proptest::prop_assert!(fitted[0] <= small && fitted[1] <= big);
    }
}
