//! `--steps`: every step of a replay as CSV, so a user can see *where* a
//! policy was short or held too much, not only the totals of the report.
//!
//! Why: the report's metrics are sums over the scored window. Deciding
//! whether a shortage was avoidable (a spike no forecast could see, or a
//! band that was too narrow) needs the step itself: the demand, what each
//! policy had ready and billed, and what the forecaster said one step
//! earlier. Spreadsheets, pandas and `augur import` (after a conversion)
//! all read this file.
//!
//! Columns: `time` (RFC 3339), `scored` (1 after the warm-up), `demand`
//! (the trace's value), `demand_units` (the fewest units that serve it, at
//! least the pool's `min`: the demand the metrics score), then per policy
//! run `<policy>_ready` and `<policy>_billed`, then, when the predictive
//! policy ran, `forecast_mean`, `forecast_lower`, `forecast_upper` (its
//! one-step-ahead forecast of this step and band at the pool's quantile,
//! in the trace's units, made one step earlier) and `forecast_required`
//! (the value the allocator got for that decision). A step without a
//! forecast (warm-up, fallback) leaves those four empty.

use std::fmt::Write as _;

use super::metrics::units_needed;
use super::policy::PolicyKind;
use super::{Config, Run, Trace};

/// The CSV text of every step of `runs` over `trace`.
pub fn render(trace: &Trace, config: &Config, runs: &[Run]) -> String {
    let n = trace.values.len();
    let from = ((config.warmup / trace.step).max(0) as usize).min(n.saturating_sub(1));
    let predictive = runs.iter().find(|r| r.policy == PolicyKind::Predictive);
    let mut out = String::with_capacity(64 * (n + 1));
    out.push_str("time,scored,demand,demand_units");
    for run in runs {
        let name = run.policy.name();
        let _ = write!(out, ",{name}_ready,{name}_billed");
    }
    if predictive.is_some() {
        out.push_str(",forecast_mean,forecast_lower,forecast_upper,forecast_required");
    }
    out.push('\n');
    for (k, demand) in trace.values.iter().enumerate() {
        let units = units_needed(*demand, config.unit_capacity).max(config.min as f64);
        let _ = write!(
            out,
            "{},{},{},{}",
            augur_query::time::format_rfc3339_nano(trace.time(k)),
            u8::from(k >= from),
            demand,
            units
        );
        for run in runs {
            let ready = run.ready.get(k).copied().unwrap_or(0);
            let billed = run.billed.get(k).copied().unwrap_or(0);
            let _ = write!(out, ",{ready},{billed}");
        }
        if let Some(pred) = predictive {
            match pred.forecast.get(k).copied().flatten() {
                Some(f) => {
                    let _ = write!(out, ",{},{},{},{}", f.mean, f.band.0, f.band.1, f.required);
                }
                None => out.push_str(",,,,"),
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::{simulate, trace::Trace, Config};
    use super::*;

    const MIN: i64 = 60_000_000_000;

    fn config() -> Config {
        Config { model: "naive".into(), max: 40, warmup: 100 * MIN, ..super::super::tests::config(5 * MIN) }
    }

    #[test]
    fn one_row_per_step_with_each_policys_supply_and_the_forecast() {
        let values: Vec<f64> = (0..60).map(|k| 3.0 + (k % 7) as f64 * 0.9).collect();
        let trace = Trace::from_values("t", 0, 5 * MIN, values.clone());
        let config = config();
        let runs: Vec<Run> =
            PolicyKind::ALL.iter().map(|p| simulate(&trace, &config, *p).expect("simulates")).collect();
        let csv = render(&trace, &config, &runs);
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(
            lines[0],
            "time,scored,demand,demand_units,predictive_ready,predictive_billed,reactive_ready,reactive_billed,\
             oracle_ready,oracle_billed,forecast_mean,forecast_lower,forecast_upper,forecast_required"
        );
        assert_eq!(lines.len(), 61, "a header and one row per step");
        let row = |k: usize| lines[k + 1].split(',').collect::<Vec<_>>();
        assert_eq!(row(0)[0], "1970-01-01T00:00:00Z");
        assert_eq!(row(0)[1], "0", "the warm-up is not scored");
        assert_eq!(row(20)[1], "1", "20 steps of 5 minutes: scored");
        for (k, v) in values.iter().enumerate() {
            let r = row(k);
            assert_eq!(r[2].parse::<f64>().ok(), Some(*v));
            assert_eq!(r[3].parse::<f64>().ok(), Some(v.ceil()), "step {k}");
            for (i, run) in runs.iter().enumerate() {
                assert_eq!(r[4 + 2 * i], run.ready[k].to_string(), "{:?} ready, step {k}", run.policy);
                assert_eq!(r[5 + 2 * i], run.billed[k].to_string(), "{:?} billed, step {k}", run.policy);
            }
            match runs[0].forecast[k] {
                Some(f) => {
                    assert_eq!(r[10].parse::<f64>().ok(), Some(f.mean));
                    assert_eq!(r[13].parse::<f64>().ok(), Some(f.required));
                }
                None => assert_eq!(&r[10..], ["", "", "", ""], "step {k}"),
            }
        }
        assert!(runs[0].forecast.iter().any(|f| f.is_some()), "the forecaster ran");
    }

    #[test]
    fn without_the_predictive_policy_there_are_no_forecast_columns() {
        let trace = Trace::from_values("t", 0, 5 * MIN, vec![1.0, 2.0, 3.0]);
        let config = config();
        let run = simulate(&trace, &config, PolicyKind::Reactive).expect("simulates");
        let csv = render(&trace, &config, &[run]);
        assert_eq!(csv.lines().next(), Some("time,scored,demand,demand_units,reactive_ready,reactive_billed"));
        assert_eq!(csv.lines().count(), 4);
    }
}
