//! The simulator's report: per policy the elasticity metrics, units, cost
//! and unmet demand over the scored window; the ratios the targets of
//! issue #5 are stated in; a text table and JSON.

use augur_query::duration::format_duration;
use serde::Serialize;

use super::metrics::{elasticity, units_needed, Elasticity};
use super::policy::PolicyKind;
use super::{Config, Run, Trace, HOUR};

/// Target: predictive τ_U at most this fraction of reactive's.
pub const TARGET_TAU_U_VS_REACTIVE: f64 = 0.3;
/// Target: predictive cost at most this multiple of reactive's.
pub const TARGET_COST_VS_REACTIVE: f64 = 1.05;
/// Target: predictive cost at most this multiple of the oracle's.
pub const TARGET_COST_VS_ORACLE: f64 = 1.25;

/// What was simulated.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Setup {
    /// The trace file.
    pub trace: String,
    /// Grid points.
    pub points: usize,
    /// Grid step.
    pub step: String,
    /// Gaps filled by interpolation.
    pub filled: usize,
    /// The trace's peak demand.
    pub peak: f64,
    /// Demand one unit serves.
    pub unit_capacity: f64,
    /// Units the peak needs.
    pub peak_units: u32,
    /// Fewest and most units.
    pub min: u32,
    /// The most units.
    pub max: u32,
    /// Provisioning delay.
    pub lead_time: String,
    /// Decision interval.
    pub interval: String,
    /// Stabilization window (not for the oracle).
    pub stabilization: String,
    /// Forecast quantile.
    pub quantile: Option<f64>,
    /// Margin, percent (not for the oracle).
    pub margin_pct: f64,
    /// The predictive policy's model.
    pub model: String,
    /// Refit cadence.
    pub refit: String,
    /// History window.
    pub history: String,
    /// Unscored start.
    pub warmup: String,
    /// Steps scored.
    pub scored_steps: usize,
    /// Hours scored.
    pub scored_hours: f64,
}

/// One policy's scores over the scored window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PolicyReport {
    /// The policy.
    pub policy: PolicyKind,
    /// θ_U, θ_O, τ_U, τ_O, instability υ and jitter (inlined in the JSON).
    #[serde(flatten)]
    pub elasticity: Elasticity,
    /// Decisions that requested units.
    pub scale_ups: usize,
    /// Decisions that released units.
    pub scale_downs: usize,
    /// Both.
    pub scaling_actions: usize,
    /// Billed unit-hours (ready and provisioning).
    pub unit_hours: f64,
    /// Unit-hours × hourly cost.
    pub cost: f64,
    /// Demand above ready capacity, integrated (trace units × hours).
    pub unmet_demand: f64,
    /// Unmet demand as a percentage of all demand.
    pub unmet_demand_pct: f64,
    /// Mean ready units.
    pub mean_ready_units: f64,
    /// Decisions taken without a forecast (predictive only).
    pub fallbacks: usize,
    /// Model fits (predictive only).
    pub fits: usize,
}

/// A ratio `a / b` and whether it meets its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Target {
    /// What is compared.
    pub what: &'static str,
    /// `a / b` (`None` when `b` is 0).
    pub ratio: Option<f64>,
    /// The most the ratio may be.
    pub at_most: f64,
    /// Whether it is met (`a` ≤ `at_most` × `b`).
    pub met: bool,
}

impl Target {
    fn new(what: &'static str, a: f64, b: f64, at_most: f64) -> Target {
        Target { what, ratio: (b > 0.0).then(|| a / b), at_most, met: a <= at_most * b + 1e-9 }
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// What was simulated.
    pub setup: Setup,
    /// One entry per policy run.
    pub policies: Vec<PolicyReport>,
    /// Issue #5's targets, when predictive ran with reactive and/or oracle.
    pub targets: Vec<Target>,
    /// The cheapest oracle that is short no more often than the
    /// predictive policy (when both ran).
    pub matched_oracle: Option<MatchedOracle>,
}

/// An oracle that accepts as much shortage (τ_U) as the predictive policy:
/// its view of the future scaled down until τ_U matches.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct MatchedOracle {
    /// The factor on the oracle's view of the future.
    pub scale: f64,
    /// Its τ_U, % (at most the predictive policy's).
    pub tau_u: f64,
    /// Its cost.
    pub cost: f64,
}

fn score(trace: &Trace, config: &Config, run: &Run, from: usize) -> PolicyReport {
    let step_hours = trace.step as f64 / HOUR;
    let demand: Vec<f64> =
        trace.values[from..].iter().map(|d| units_needed(*d, config.unit_capacity).max(config.min as f64)).collect();
    let supply: Vec<f64> = run.ready[from..].iter().map(|u| *u as f64).collect();
    let e = elasticity(&demand, &supply, step_hours);
    let unit_hours: f64 = run.billed[from..].iter().map(|u| *u as f64 * step_hours).sum();
    let (mut unmet, mut total) = (0.0, 0.0);
    for (d, r) in trace.values[from..].iter().zip(&run.ready[from..]) {
        unmet += (d - *r as f64 * config.unit_capacity).max(0.0) * step_hours;
        total += d * step_hours;
    }
    let scale_ups = run.scale_ups[from..].iter().filter(|x| **x).count();
    let scale_downs = run.scale_downs[from..].iter().filter(|x| **x).count();
    PolicyReport {
        policy: run.policy,
        elasticity: e,
        scale_ups,
        scale_downs,
        scaling_actions: scale_ups + scale_downs,
        unit_hours,
        cost: unit_hours * config.hourly_cost,
        unmet_demand: unmet,
        unmet_demand_pct: if total > 0.0 { 100.0 * unmet / total } else { 0.0 },
        mean_ready_units: if supply.is_empty() { 0.0 } else { supply.iter().sum::<f64>() / supply.len() as f64 },
        fallbacks: run.fallbacks,
        fits: run.fits,
    }
}

impl Report {
    /// The scores of `policy`, if it ran.
    pub fn policy(&self, policy: PolicyKind) -> Option<&PolicyReport> {
        self.policies.iter().find(|p| p.policy == policy)
    }

    /// Records the τ_U-matched oracle and the target against it
    /// (`predictive_cost`: the predictive policy's cost).
    pub fn set_matched_oracle(&mut self, matched: MatchedOracle, predictive_cost: f64) {
        self.targets.push(Target::new(
            "predictive cost / oracle cost, same tau_u",
            predictive_cost,
            matched.cost,
            TARGET_COST_VS_ORACLE,
        ));
        self.matched_oracle = Some(matched);
    }

    /// Scores `runs` of `trace` after the warm-up.
    pub fn new(trace: &Trace, config: &Config, runs: &[Run]) -> Report {
        let n = trace.values.len();
        let from = ((config.warmup / trace.step).max(0) as usize).min(n.saturating_sub(1));
        let policies: Vec<PolicyReport> = runs.iter().map(|r| score(trace, config, r, from)).collect();
        let find = |p: PolicyKind| policies.iter().find(|r| r.policy == p);
        let mut targets = Vec::new();
        if let Some(pred) = find(PolicyKind::Predictive) {
            if let Some(re) = find(PolicyKind::Reactive) {
                targets.push(Target::new(
                    "predictive tau_u / reactive tau_u",
                    pred.elasticity.tau_u,
                    re.elasticity.tau_u,
                    TARGET_TAU_U_VS_REACTIVE,
                ));
                targets.push(Target::new(
                    "predictive cost / reactive cost",
                    pred.cost,
                    re.cost,
                    TARGET_COST_VS_REACTIVE,
                ));
            }
            if let Some(or) = find(PolicyKind::Oracle) {
                targets.push(Target::new("predictive cost / oracle cost", pred.cost, or.cost, TARGET_COST_VS_ORACLE));
            }
        }
        let peak = trace.peak();
        Report {
            setup: Setup {
                trace: trace.name.clone(),
                points: n,
                step: format_duration(trace.step),
                filled: trace.filled,
                peak,
                unit_capacity: config.unit_capacity,
                peak_units: units_needed(peak, config.unit_capacity) as u32,
                min: config.min,
                max: config.max,
                lead_time: format_duration(config.lead_time),
                interval: format_duration(config.interval),
                stabilization: format_duration(config.stabilization),
                quantile: config.quantile,
                margin_pct: config.margin_pct,
                model: config.model.clone(),
                refit: format_duration(config.refit),
                history: format_duration(config.history),
                warmup: format_duration(config.warmup),
                scored_steps: n - from,
                scored_hours: (n - from) as f64 * trace.step as f64 / HOUR,
            },
            policies,
            targets,
            matched_oracle: None,
        }
    }

    /// The report as aligned text tables.
    pub fn to_table(&self) -> String {
        let s = &self.setup;
        let mut out = format!(
            "trace {} ({} points every {}, {} gaps filled); peak {:.4} = {} units of {:.4}; min {} max {}\n\
             lead time {}, interval {}, stabilization {}; predictive: {} model, p{} + {}%, refit every {}, history {}\n\
             scored: {} steps ({:.1} h) after a {} warm-up\n\n",
            s.trace,
            s.points,
            s.step,
            s.filled,
            s.peak,
            s.peak_units,
            s.unit_capacity,
            s.min,
            s.max,
            s.lead_time,
            s.interval,
            s.stabilization,
            s.model,
            s.quantile.map_or("mean".to_string(), |q| format!("{q}")),
            s.margin_pct,
            s.refit,
            s.history,
            s.scored_steps,
            s.scored_hours,
            s.warmup,
        );
        let header = [
            "policy",
            "θ_U %",
            "θ_O %",
            "τ_U %",
            "τ_O %",
            "υ %",
            "jitter/h",
            "scale-ups",
            "scale-downs",
            "unit-hours",
            "cost",
            "unmet %",
            "mean units",
        ];
        let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
        for p in &self.policies {
            rows.push(vec![
                p.policy.name().to_string(),
                format!("{:.2}", p.elasticity.theta_u),
                format!("{:.2}", p.elasticity.theta_o),
                format!("{:.2}", p.elasticity.tau_u),
                format!("{:.2}", p.elasticity.tau_o),
                format!("{:.2}", p.elasticity.instability),
                format!("{:.2}", p.elasticity.jitter),
                p.scale_ups.to_string(),
                p.scale_downs.to_string(),
                format!("{:.1}", p.unit_hours),
                format!("{:.2}", p.cost),
                format!("{:.3}", p.unmet_demand_pct),
                format!("{:.2}", p.mean_ready_units),
            ]);
        }
        let widths: Vec<usize> =
            (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
        for row in &rows {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, w))| {
                    let pad = " ".repeat(w - cell.chars().count());
                    if i == 0 {
                        format!("{cell}{pad}")
                    } else {
                        format!("{pad}{cell}")
                    }
                })
                .collect();
            out.push_str(cells.join("  ").trim_end());
            out.push('\n');
        }
        if let Some(m) = &self.matched_oracle {
            out.push_str(&format!(
                "\noracle at the predictive policy's τ_U: future × {:.3}, τ_U {:.2} %, cost {:.2}\n",
                m.scale, m.tau_u, m.cost
            ));
        }
        if !self.targets.is_empty() {
            out.push_str("\ntargets (issue #5):\n");
            for t in &self.targets {
                let ratio = t.ratio.map_or("n/a (0 / 0)".to_string(), |r| format!("{r:.3}"));
                let verdict = if t.met { "met" } else { "missed" };
                out.push_str(&format!("  {:<42} {:>10}  (at most {}) {}\n", t.what, ratio, t.at_most, verdict));
            }
        }
        out
    }
}
