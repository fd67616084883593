use super::*;

const MIN: i64 = 60_000_000_000;

/// A 5-minute pool with p95 + 10% and `snaive`, for the simulator's tests.
pub(super) fn config(lead_time: i64) -> Config {
    Config {
        lead_time,
        interval: 5 * MIN,
        stabilization: 5 * MIN,
        cooldown: 0,
        quantile: Some(95.0),
        margin_pct: 10.0,
        unit_capacity: 1.0,
        hourly_cost: 1.0,
        min: 1,
        max: 100,
        model: "snaive".into(),
        refit: 60 * MIN,
        history: 24 * 60 * MIN,
        warmup: 0,
    }
}

/// 10 steps of demand 1, then 10 steps of demand 10 (5-minute steps).
fn jump() -> Trace {
    let values = [vec![1.0; 10], vec![10.0; 10]].concat();
    Trace::from_values("jump", 0, 5 * MIN, values)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

fn report_of(trace: &Trace, config: &Config, policy: PolicyKind) -> (Run, report::PolicyReport) {
    let run = simulate(trace, config, policy).expect("simulates");
    let report = Report::new(trace, config, std::slice::from_ref(&run));
    (run, report.policies[0].clone())
}

#[test]
fn reactive_pays_one_lead_time_of_shortage_at_a_jump() {
    let (run, r) = report_of(&jump(), &config(5 * MIN), PolicyKind::Reactive);
    // 1 / 0.7 -> 2 units from step 1; 10 / 0.7 -> 15 units from step 11.
    assert_eq!(run.ready[..3], [1, 2, 2]);
    assert_eq!(run.ready[10], 2, "units requested at the jump are not ready yet");
    assert_eq!(run.ready[11], 15);
    // Under at step 10 only (2 of 10 units): τ_U 1/20, θ_U 80% / 20.
    assert!(close(r.elasticity.tau_u, 5.0), "{r:?}");
    assert!(close(r.elasticity.theta_u, 4.0), "{r:?}");
    // Over at steps 1-9 (2 for 1: 100%) and 11-19 (15 for 10: 50%).
    assert!(close(r.elasticity.tau_o, 90.0), "{r:?}");
    assert!(close(r.elasticity.theta_o, 67.5), "{r:?}");
    // Billed: 2 units for steps 0-9, 15 for steps 10-19, 5 minutes each.
    assert!(close(r.unit_hours, 170.0 / 12.0), "{r:?}");
    assert!(close(r.cost, r.unit_hours));
    assert_eq!((r.scale_ups, r.scale_downs, r.scaling_actions), (2, 0, 2));
    // 8 of 110 demand-steps unmet.
    assert!(close(r.unmet_demand, 8.0 / 12.0), "{r:?}");
    assert!(close(r.unmet_demand_pct, 800.0 / 110.0), "{r:?}");
}

#[test]
fn the_oracle_is_ready_exactly_in_time() {
    let (run, r) = report_of(&jump(), &config(5 * MIN), PolicyKind::Oracle);
    assert_eq!(run.ready[9], 1);
    assert_eq!(run.ready[10], 10, "requested one lead time before the jump");
    assert!(run.scale_ups[9]);
    assert_eq!(
        (r.elasticity.tau_u, r.elasticity.tau_o, r.elasticity.theta_u, r.elasticity.theta_o),
        (0.0, 0.0, 0.0, 0.0)
    );
    // Billed: 1 unit for steps 0-8, 10 from step 9 (provisioning) on.
    assert!(close(r.unit_hours, (9.0 + 110.0) / 12.0), "{r:?}");
}

#[test]
fn a_longer_provisioning_delay_lengthens_the_shortage() {
    let (run, r) = report_of(&jump(), &config(10 * MIN), PolicyKind::Reactive);
    assert_eq!(run.ready[10..13], [2, 2, 15]);
    assert!(close(r.elasticity.tau_u, 10.0), "{r:?}");
    // The oracle looks two steps ahead and still makes it.
    let (run, r) = report_of(&jump(), &config(10 * MIN), PolicyKind::Oracle);
    assert_eq!(run.ready[10], 10);
    assert!(run.scale_ups[8]);
    assert_eq!(r.elasticity.tau_u, 0.0);
    // No delay: even the reactive rule is never short.
    let (_, r) = report_of(&jump(), &config(0), PolicyKind::Reactive);
    assert_eq!(r.elasticity.tau_u, 0.0);
}

#[test]
fn releases_wait_for_the_stabilization_window() {
    let values = [vec![10.0; 10], vec![1.0; 10]].concat();
    let trace = Trace::from_values("drop", 0, 5 * MIN, values);
    let (run, r) = report_of(&trace, &config(5 * MIN), PolicyKind::Reactive);
    // 15 units until the drop at step 10 has been seen for a whole window.
    assert_eq!(run.ready[10], 15);
    assert_eq!(run.ready[11], 2);
    assert!(run.scale_downs[11] && !run.scale_downs[10]);
    assert_eq!(r.scale_downs, 1);
    // The oracle has no window: it releases as soon as the future allows.
    let (run, _) = report_of(&trace, &config(5 * MIN), PolicyKind::Oracle);
    assert_eq!(run.ready[9..11], [10, 1]);
}

#[test]
fn the_warm_up_is_simulated_but_not_scored() {
    let mut c = config(5 * MIN);
    c.warmup = 55 * MIN;
    let (_, r) = report_of(&jump(), &c, PolicyKind::Reactive);
    // Steps 11-19 are scored: never under.
    assert_eq!(r.elasticity.tau_u, 0.0);
    let report = Report::new(&jump(), &c, &[simulate(&jump(), &c, PolicyKind::Reactive).expect("runs")]);
    assert_eq!(report.setup.scored_steps, 9);
}

/// A daily-like pattern: a quiet base with an abrupt busy stretch every 48
/// steps, the kind of rise a 5-minute lead time cannot follow reactively.
fn bursts(periods: usize) -> Trace {
    let values: Vec<f64> =
        (0..48 * periods).map(|t| if (t % 48) >= 30 && (t % 48) < 40 { 20.0 } else { 3.0 }).collect();
    Trace::from_values("bursts", 0, 5 * MIN, values)
}

#[test]
fn the_forecast_sees_a_recurring_burst_coming() {
    let trace = bursts(8);
    let mut c = config(5 * MIN);
    c.warmup = 3 * 48 * 5 * MIN;
    c.refit = 48 * 5 * MIN;
    let (report, runs) = run_policies(&trace, &c, &PolicyKind::ALL).expect("runs");
    let [pred, reactive, oracle] = &report.policies[..] else { panic!("three policies") };
    assert_eq!(oracle.elasticity.tau_u, 0.0, "{report:?}");
    assert!(reactive.elasticity.tau_u > 0.0, "{report:?}");
    assert!(pred.elasticity.tau_u < reactive.elasticity.tau_u, "{}", report.to_table());
    assert!(pred.fits >= 5, "{pred:?}");
    assert!(runs[0].forecast.iter().any(Option::is_some));
    assert_eq!(report.targets.len(), 4);
    let matched = report.matched_oracle.expect("matched oracle");
    assert!(matched.tau_u <= pred.elasticity.tau_u && matched.cost <= oracle.cost + 1e-9, "{matched:?}");
    let table = report.to_table();
    for needle in ["predictive", "reactive", "oracle", "τ_U %", "targets"] {
        assert!(table.contains(needle), "{needle} missing from\n{table}");
    }
    let svg = plot::render(&trace, &c, &runs).expect("plots");
    assert!(
        svg.starts_with("<svg") && svg.contains("predictive supply") && svg.contains("<polygon"),
        "{}",
        &svg[..200]
    );
}

#[test]
fn flags_are_checked() {
    let trace = jump();
    let args = |extra: &[&str]| {
        use clap::Parser as _;
        let mut argv = vec!["augur", "simulate", "--trace", "x.csv"];
        argv.extend_from_slice(extra);
        match crate::cli::Cli::try_parse_from(argv).expect("parses").command {
            crate::cli::Command::Simulate(a) => a,
            other => panic!("{other:?}"),
        }
    };
    let c = Config::from_args(&args(&[]), &trace).expect("defaults");
    assert!(close(c.unit_capacity, 0.5), "peak 10 over 20 units");
    assert_eq!((c.interval, c.lead_time, c.max), (5 * MIN, 5 * MIN, 80));
    let c = Config::from_args(&args(&["--unit-capacity", "2.5", "--max", "7"]), &trace).expect("valid");
    assert_eq!((c.unit_capacity, c.max), (2.5, 7));
    for (extra, flag_name) in [
        (&["--interval", "7m"][..], "interval"),
        (&["--scale-to-units", "0"][..], "scale-to-units"),
        (&["--unit-capacity", "0"][..], "unit-capacity"),
        (&["--model", "prophet"][..], "model"),
    ] {
        match Config::from_args(&args(extra), &trace) {
            Err(SimulateError::Flag { flag, .. }) => assert_eq!(flag, flag_name),
            other => panic!("{extra:?}: {other:?}"),
        }
    }
    let e = Config::from_args(&args(&["--quantile", "100"]), &trace).expect_err("quantile out of range");
    assert!(matches!(&e, SimulateError::Spec(s) if s.field == "safety.quantile"), "{e}");
}

/// `days` days of 5-minute demand: a level of 10 with noise, and a
/// one-step nightly job of 14 at 03:15–03:25 (its start moves by a step
/// from night to night).
fn nightly_job(days: usize) -> Trace {
    let values: Vec<f64> = (0..days * 288)
        .map(|t| if t % 288 == 39 + (t / 288) % 3 { 14.0 } else { 10.0 + (t * 37 % 11) as f64 / 20.0 })
        .collect();
    Trace::from_values("nightly", 0, 5 * MIN, values)
}

#[test]
fn the_burst_search_reads_no_more_history_than_the_pool_has() {
    let trace = nightly_job(9);
    let raised_at_the_last_run = |history_days: i64| {
        let mut c = config(5 * MIN);
        c.model = "naive".into();
        c.history = history_days * 24 * 60 * MIN;
        c.refit = 6 * 60 * MIN;
        let run = simulate(&trace, &c, PolicyKind::Predictive).expect("simulates");
        let last = 8 * 288 + 39 + 2;
        run.forecast[last].as_ref().map(|f| f.required)
    };
    // A week of history holds the eight nights before: the job is found
    // and the forecast raised to its height for its step.
    assert!(raised_at_the_last_run(7).is_some_and(|r| r >= 14.0), "{:?}", raised_at_the_last_run(7));
    // Three days hold too few nights, as a pool with `history = "3d"`
    // would read: the replay does not find the job either.
    assert!(raised_at_the_last_run(3).is_some_and(|r| r < 14.0), "{:?}", raised_at_the_last_run(3));
}
