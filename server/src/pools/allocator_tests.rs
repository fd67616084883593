use super::*;
use crate::pools::spec::{DemandSource, PoolSpec, Safety, UnitShape};

const MINUTE: i64 = 60_000_000_000;

/// One shape of 1 core; min 1, max 20, no warm units, p95 + 0%.
fn pool() -> PoolSpec {
    PoolSpec {
        name: "web".into(),
        tenant: "default".into(),
        dimensions: vec![Dimension::CpuCores],
        shapes: vec![UnitShape {
            name: "core".into(),
            capacity: [(Dimension::CpuCores, 1.0)].into_iter().collect(),
            hourly_cost: 1.0,
        }],
        min: 1,
        max: 20,
        warm: 0,
        lead_time: 5 * MINUTE,
        safety: Safety { quantile: Some(95.0), margin_pct: 0.0 },
        scale_up_cooldown: 0,
        scale_down_stabilization: 5 * MINUTE,
        interval: MINUTE,
        history: 60 * MINUTE,
        unit_timeout: 10 * MINUTE,
        demand: [(
            Dimension::CpuCores,
            DemandSource { database: "d".into(), query: "SELECT sum(c) FROM u GROUP BY time(1m)".into() },
        )]
        .into_iter()
        .collect(),
        provider: Default::default(),
        haproxy: None,
        latency: None,
        quota_weight: 1.0,
    }
}

fn demand(forecast: Option<f64>, usage: Option<f64>) -> BTreeMap<Dimension, DimensionDemand> {
    [(Dimension::CpuCores, DimensionDemand { forecast, usage })].into_iter().collect()
}

#[test]
fn scales_up_to_the_forecast_before_usage_rises() {
    let spec = pool();
    let mut state = AllocatorState::default();
    let d = decide(&spec, Policy::Predictive, &mut state, &[2], &demand(Some(7.5), Some(2.0)), 0);
    assert_eq!(d.desired, vec![8]);
    assert_eq!(d.scale_up, vec![6]);
    assert_eq!(d.release, vec![0]);
    assert_eq!(d.target, vec![8]);
    assert!(d.reason.contains("scale up by 6"), "{}", d.reason);
    // The reactive policy only sees usage: 2 / 0.7 -> 3 units.
    let mut state = AllocatorState::default();
    let r = decide(&spec, Policy::Reactive, &mut state, &[2], &demand(Some(7.5), Some(2.0)), 0);
    assert_eq!(r.desired, vec![3]);
}

#[test]
fn margin_and_usage_floor() {
    let mut spec = pool();
    spec.safety.margin_pct = 10.0;
    let mut state = AllocatorState::default();
    // 10 * 1.1 = 11 units.
    let d = decide(&spec, Policy::Predictive, &mut state, &[0], &demand(Some(10.0), Some(1.0)), 0);
    assert_eq!(d.desired, vec![11]);
    // Usage above the forecast wins: 15 * 1.1 = 16.5 -> 17.
    let d = decide(&spec, Policy::Predictive, &mut state, &[11], &demand(Some(10.0), Some(15.0)), MINUTE);
    assert_eq!(d.desired, vec![17]);
}

#[test]
fn a_failed_forecast_falls_back_to_the_reactive_rule_never_to_zero() {
    let spec = pool();
    let mut state = AllocatorState::default();
    let d = decide(&spec, Policy::Predictive, &mut state, &[5], &demand(None, Some(7.0)), 0);
    assert_eq!(d.fallback, vec![Dimension::CpuCores]);
    assert_eq!(d.desired, vec![10]);
    assert!(d.reason.contains("reactive rule"), "{}", d.reason);
    // Neither forecast nor usage: keep the capacity there is.
    let mut state = AllocatorState::default();
    let d = decide(&spec, Policy::Predictive, &mut state, &[5], &demand(None, None), 0);
    assert_eq!(d.desired, vec![5]);
    assert_eq!(d.release, vec![0]);
}

#[test]
fn min_max_and_warm() {
    let mut spec = pool();
    spec.warm = 2;
    let mut state = AllocatorState::default();
    let d = decide(&spec, Policy::Predictive, &mut state, &[0], &demand(Some(0.0), Some(0.0)), 0);
    assert_eq!(d.desired, vec![2], "warm units on top of zero demand");
    spec.min = 4;
    let d = decide(&spec, Policy::Predictive, &mut state, &[0], &demand(Some(0.0), Some(0.0)), 0);
    assert_eq!(d.desired, vec![4]);
    let d = decide(&spec, Policy::Predictive, &mut state, &[0], &demand(Some(100.0), Some(0.0)), 0);
    assert!(d.shortage);
    assert_eq!(d.desired, vec![20]);
    assert!(d.reason.contains("shortage"), "{}", d.reason);
}

#[test]
fn cooldown_delays_a_second_scale_up() {
    let mut spec = pool();
    spec.scale_up_cooldown = 3 * MINUTE;
    let mut state = AllocatorState::default();
    let d = decide(&spec, Policy::Predictive, &mut state, &[1], &demand(Some(4.0), None), 0);
    assert_eq!(d.scale_up, vec![3]);
    let d = decide(&spec, Policy::Predictive, &mut state, &[4], &demand(Some(8.0), None), MINUTE);
    assert_eq!(d.scale_up, vec![0]);
    assert!(d.reason.contains("cooldown"), "{}", d.reason);
    let d = decide(&spec, Policy::Predictive, &mut state, &[4], &demand(Some(8.0), None), 3 * MINUTE);
    assert_eq!(d.scale_up, vec![4]);
}

#[test]
fn release_waits_for_the_stabilization_window_and_usage() {
    let spec = pool();
    let mut state = AllocatorState::default();
    let mut active = vec![10u32];
    // Demand drops at minute 0 and stays low.
    for minute in 0..5 {
        let d = decide(&spec, Policy::Predictive, &mut state, &active, &demand(Some(3.0), Some(3.0)), minute * MINUTE);
        assert_eq!(d.release, vec![0], "minute {minute}: {}", d.reason);
    }
    let d = decide(&spec, Policy::Predictive, &mut state, &active, &demand(Some(3.0), Some(3.0)), 5 * MINUTE);
    assert_eq!(d.release, vec![7], "{}", d.reason);
    active = d.target.clone();
    assert_eq!(active, vec![3]);

    // A spike inside the window holds units back for a whole window.
    let mut state = AllocatorState::default();
    let active = vec![10u32];
    decide(&spec, Policy::Predictive, &mut state, &active, &demand(Some(3.0), Some(3.0)), 0);
    decide(&spec, Policy::Predictive, &mut state, &active, &demand(Some(9.0), Some(3.0)), 4 * MINUTE);
    let d = decide(&spec, Policy::Predictive, &mut state, &active, &demand(Some(3.0), Some(3.0)), 6 * MINUTE);
    assert_eq!(d.release, vec![1], "the 9-unit spike 2 minutes ago still counts: {}", d.reason);

    // Usage disagrees with the forecast: units stay.
    let mut state = AllocatorState::default();
    for minute in 0..=5 {
        let d = decide(&spec, Policy::Predictive, &mut state, &[10], &demand(Some(2.0), Some(8.5)), minute * MINUTE);
        if minute == 5 {
            // Usage 8.5 floors the requirement itself: 9 units desired.
            assert_eq!(d.release, vec![1], "{}", d.reason);
        }
    }
}

#[test]
fn usage_check_keeps_units_the_forecast_would_release() {
    let spec = pool();
    let mut released = vec![8];
    // 10 units, 8 to go, but usage is 6: only 4 may go.
    let kept = keep_for_usage(&spec, &demand(Some(2.0), Some(6.0)), &[10], &mut released);
    assert_eq!((kept, released), (4, vec![4]));
    let mut released = vec![8];
    let kept = keep_for_usage(&spec, &demand(Some(2.0), None), &[10], &mut released);
    assert_eq!((kept, released), (0, vec![8]));
}

#[test]
fn several_shapes_take_the_cheapest_mix() {
    let mut spec = pool();
    spec.dimensions = vec![Dimension::CpuCores, Dimension::MemoryGib];
    spec.shapes = vec![
        UnitShape {
            name: "cpu".into(),
            capacity: [(Dimension::CpuCores, 8.0), (Dimension::MemoryGib, 8.0)].into_iter().collect(),
            hourly_cost: 0.4,
        },
        UnitShape {
            name: "mem".into(),
            capacity: [(Dimension::CpuCores, 2.0), (Dimension::MemoryGib, 32.0)].into_iter().collect(),
            hourly_cost: 0.4,
        },
    ];
    let demand: BTreeMap<Dimension, DimensionDemand> = [
        (Dimension::CpuCores, DimensionDemand { forecast: Some(16.0), usage: None }),
        (Dimension::MemoryGib, DimensionDemand { forecast: Some(64.0), usage: None }),
    ]
    .into_iter()
    .collect();
    spec.demand.insert(
        Dimension::MemoryGib,
        DemandSource { database: "d".into(), query: "SELECT sum(m) FROM u GROUP BY time(1m)".into() },
    );
    spec.min = 0;
    let mut state = AllocatorState::default();
    let d = decide(&spec, Policy::Predictive, &mut state, &[0, 0], &demand, 0);
    assert_eq!(d.desired, vec![2, 2]);
    assert!((d.saving_vs_single_shape - 1.6).abs() < 1e-9, "{d:?}");
    assert_eq!(d.cost_gap_bound, 0.0);
}
