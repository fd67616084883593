use super::*;
use proptest::prelude::*;

use Dimension::{CpuCores, MemoryGib};

fn v(cpu: f64, mem: f64) -> Vector {
    [(CpuCores, cpu), (MemoryGib, mem)].into_iter().collect()
}

fn claim(id: &str, weight: f64, demand: Vector, quota: Option<Vector>) -> Claim {
    Claim { id: id.into(), weight, demand, quota }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0)
}

#[test]
fn the_example_of_the_drf_paper() {
    // Ghodsi et al. 2011: 9 CPUs, 18 GB; A's tasks need <1 CPU, 4 GB>, B's
    // <3 CPUs, 1 GB>. DRF gives A three tasks and B two: dominant shares 2/3.
    let shares =
        fair_shares(&v(9.0, 18.0), &[claim("a", 1.0, v(10.0, 40.0), None), claim("b", 1.0, v(30.0, 10.0), None)])
            .expect("valid");
    assert!(close(shares[0].allocation[&CpuCores], 3.0) && close(shares[0].allocation[&MemoryGib], 12.0), "{shares:?}");
    assert!(close(shares[1].allocation[&CpuCores], 6.0) && close(shares[1].allocation[&MemoryGib], 2.0), "{shares:?}");
    assert!(close(shares[0].dominant_share, 2.0 / 3.0) && close(shares[1].dominant_share, 2.0 / 3.0));
    assert!(!shares[0].satisfied && !shares[1].satisfied);
}

#[test]
fn weights_quotas_and_leftovers() {
    // Weight 2 against 1 on one resource: 2/3 and 1/3.
    let cap = v(12.0, 0.0);
    let shares = fair_shares(
        &[(CpuCores, 12.0)].into_iter().collect(),
        &[claim("a", 2.0, v(100.0, 0.0), None), claim("b", 1.0, v(100.0, 0.0), None)],
    )
    .expect("valid");
    assert!(close(shares[0].allocation[&CpuCores], 8.0) && close(shares[1].allocation[&CpuCores], 4.0), "{shares:?}");

    // A small demand is met in full; the rest goes to the other claim.
    let shares =
        fair_shares(&cap, &[claim("a", 1.0, v(2.0, 0.0), None), claim("b", 1.0, v(100.0, 0.0), None)]).expect("valid");
    assert!(shares[0].satisfied && close(shares[0].allocation[&CpuCores], 2.0));
    assert!(close(shares[1].allocation[&CpuCores], 10.0), "{shares:?}");

    // A quota caps a claim below its fair share; the leftover is redistributed.
    let shares =
        fair_shares(&cap, &[claim("a", 1.0, v(100.0, 0.0), Some(v(3.0, 0.0))), claim("b", 1.0, v(100.0, 0.0), None)])
            .expect("valid");
    assert!(close(shares[0].allocation[&CpuCores], 3.0) && close(shares[1].allocation[&CpuCores], 9.0), "{shares:?}");

    // A quota on one dimension caps the whole (Leontief) claim.
    let shares = fair_shares(
        &v(100.0, 100.0),
        &[claim("a", 1.0, v(10.0, 20.0), Some([(MemoryGib, 5.0)].into_iter().collect()))],
    )
    .expect("valid");
    assert!(close(shares[0].allocation[&CpuCores], 2.5) && close(shares[0].allocation[&MemoryGib], 5.0), "{shares:?}");
}

#[test]
fn nothing_to_share_and_bad_input() {
    let shares = fair_shares(&v(0.0, 10.0), &[claim("a", 1.0, v(1.0, 1.0), None), claim("b", 1.0, v(0.0, 4.0), None)])
        .expect("valid");
    assert_eq!(shares[0].dominant_share, 0.0, "no CPU at all: a cannot run");
    assert!(shares[1].satisfied, "b needs no CPU");
    assert!(fair_shares(&v(1.0, 1.0), &[]).expect("valid").is_empty());
    assert!(matches!(
        fair_shares(&v(1.0, 1.0), &[claim("a", 0.0, v(1.0, 1.0), None)]),
        Err(FairnessError::Weight { .. })
    ));
    assert!(matches!(
        fair_shares(&v(1.0, 1.0), &[claim("a", 1.0, v(f64::NAN, 1.0), None)]),
        Err(FairnessError::Amount { what: "demand", .. })
    ));
    assert!(matches!(fair_shares(&v(-1.0, 1.0), &[]), Err(FairnessError::Capacity(CpuCores))));
}

/// A claim over two dimensions: (weight, cpu, mem, optional quota).
type ClaimSpec = (f64, f64, f64, Option<(f64, f64)>);

/// Up to six claims.
fn claims_strategy() -> impl Strategy<Value = Vec<ClaimSpec>> {
    proptest::collection::vec(
        (0.1f64..10.0, 0.0f64..50.0, 0.0f64..50.0, proptest::option::of((0.0f64..40.0, 0.0f64..40.0))),
        1..7,
    )
}

fn build(spec: &[ClaimSpec]) -> Vec<Claim> {
    spec.iter()
        .enumerate()
        .map(|(i, (w, c, m, q))| claim(&format!("c{i}"), *w, v(*c, *m), q.map(|(qc, qm)| v(qc, qm))))
        .collect()
}

proptest! {
    #[test]
    fn fair_shares_keep_their_promises(
        spec in claims_strategy(), cap_cpu in 0.5f64..100.0, cap_mem in 0.5f64..100.0,
    ) {
        let capacity = v(cap_cpu, cap_mem);
        let claims = build(&spec);
        let shares = fair_shares(&capacity, &claims).expect("valid");
        prop_assert_eq!(shares.len(), claims.len());
        // Never beyond capacity.
        for d in [CpuCores, MemoryGib] {
            let used: f64 = shares.iter().map(|s| s.allocation[&d]).sum();
            prop_assert!(used <= capacity[&d] * (1.0 + 1e-9) + 1e-9, "{d}: {used} > {}", capacity[&d]);
        }
        for (c, s) in claims.iter().zip(&shares) {
            for d in [CpuCores, MemoryGib] {
                // Never beyond demand or quota.
                prop_assert!(s.allocation[&d] <= c.demand[&d] * (1.0 + 1e-9) + 1e-12);
                if let Some(q) = &c.quota {
                    prop_assert!(s.allocation[&d] <= q[&d] * (1.0 + 1e-9) + 1e-12);
                }
            }
            let wants = c.demand.values().any(|x| *x > 0.0);
            let quota_allows = c.quota.as_ref().is_none_or(|q| {
                [CpuCores, MemoryGib].iter().all(|d| c.demand[d] == 0.0 || q[d] > 0.0)
            });
            // No starvation.
            if wants && quota_allows {
                prop_assert!(s.dominant_share > 0.0, "{} starves: {:?}", c.id, shares);
            }
            // Pareto: an unsatisfied claim below its quota needs an exhausted resource.
            let at_quota = c.quota.as_ref().is_some_and(|q| {
                [CpuCores, MemoryGib].iter().any(|d| c.demand[d] > 0.0 && s.allocation[d] >= q[d] * (1.0 - 1e-9))
            });
            if !s.satisfied && !at_quota {
                let exhausted = [CpuCores, MemoryGib].iter().any(|d| {
                    let used: f64 = shares.iter().map(|x| x.allocation[d]).sum();
                    c.demand[d] > 0.0 && used >= capacity[d] * (1.0 - 1e-9)
                });
                prop_assert!(exhausted, "{} unsatisfied with capacity left: {:?}", c.id, shares);
            }
        }
    }

    #[test]
    fn equal_claims_get_equal_shares(n in 2usize..6, w in 0.1f64..5.0, cpu in 0.0f64..50.0, mem in 0.1f64..50.0, cap in 1.0f64..60.0) {
        let claims: Vec<Claim> = (0..n).map(|i| claim(&format!("c{i}"), w, v(cpu, mem), None)).collect();
        let shares = fair_shares(&v(cap, cap), &claims).expect("valid");
        for s in &shares {
            prop_assert!(close(s.dominant_share, shares[0].dominant_share), "{:?}", shares);
        }
    }

    #[test]
    fn doubling_a_weight_never_lowers_the_share(spec in claims_strategy(), which in 0usize..6, cap_cpu in 0.5f64..100.0, cap_mem in 0.5f64..100.0) {
        let capacity = v(cap_cpu, cap_mem);
        let mut claims = build(&spec);
        let i = which % claims.len();
        let before = fair_shares(&capacity, &claims).expect("valid")[i].dominant_share;
        claims[i].weight *= 2.0;
        let after = fair_shares(&capacity, &claims).expect("valid")[i].dominant_share;
        prop_assert!(after >= before * (1.0 - 1e-9) - 1e-12, "{} -> {}", before, after);
    }
}
