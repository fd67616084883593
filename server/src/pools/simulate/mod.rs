//! `augur simulate`: replays a demand trace through the allocator with a
//! simulated clock and provisioning delay, and scores the predictive,
//! reactive and oracle policies with the SPEC RG elasticity metrics.
//!
//! Why a simulator: "capacity ready before demand arrives" is a claim
//! about time, and real clusters are slow and expensive to test on. The
//! simulator runs exactly the manager's decision code,
//! [`crate::pools::allocator::decide`], on a one-shape, one-dimension pool
//! whose unit holds a fixed slice of the trace's demand; only the clock
//! (the trace's) and the source of the forecast differ.
//!
//! Each step `k` of the trace, at time `t_k`, for each policy:
//! 1. units whose provisioning is over become ready ([`fleet`]);
//! 2. the allocator decides with usage = the demand of step `k` and the
//!    policy's forecast ([`policy`]); released units go at once, requested
//!    units are ready `lead_time` later;
//! 3. the supply of step `k` (held until `t_{k+1}`) is the ready units; the
//!    billed units are the ready and provisioning ones.
//!
//! The first `warmup` of the trace is simulated for every policy but not
//! scored (the predictive policy needs history to learn from; until its
//! first fit the allocator's reactive fallback stands in, as in the
//! manager). Demand in the metrics is the fewest units that serve it (at
//! least the pool's `min`), supply the ready units ([`metrics`]).
//!
//! Modules: [`trace`] (CSV onto a grid), [`source`] (a trace from a
//! running Augur, `--query`), [`fleet`] (provisioning delay),
//! [`policy`] (the three policies), [`metrics`] (SPEC RG metrics),
//! [`report`] (tables and JSON), [`plot`] (the SVG), [`steps`] (every
//! step as CSV).

pub mod fleet;
pub mod metrics;
pub mod plot;
pub mod policy;
pub mod report;
pub mod source;
pub mod steps;
pub mod trace;

use std::collections::BTreeMap;
use std::path::PathBuf;

use augur_engine::forecast::cadence;
use clap::Args;

use super::allocator::{decide, AllocatorState, DimensionDemand, Policy};
use super::spec::{DemandSource, Dimension, PoolSpec, Safety, SpecError, UnitShape, MAX_UNITS};
use fleet::Fleet;
use metrics::units_needed;
use policy::{horizon_steps, oracle_forecast, Forecast, PolicyKind, Predictor};
use report::Report;
use trace::Trace;

/// Nanoseconds per hour.
const HOUR: f64 = 3_600_000_000_000.0;

/// Why a simulation cannot run.
#[derive(Debug, thiserror::Error)]
pub enum SimulateError {
    /// The trace cannot be read.
    #[error(transparent)]
    Trace(#[from] trace::TraceError),
    /// The simulated pool is not a valid pool.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A flag is out of range.
    #[error("--{flag}: {message}")]
    Flag {
        /// The flag.
        flag: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The trace could not be read from the server (`--query`).
    #[error("--query: {message}")]
    Source {
        /// What failed.
        message: String,
    },
    /// The plot or the output cannot be written.
    #[error("cannot write {what}: {message}")]
    Output {
        /// The file or stream.
        what: String,
        /// Why.
        message: String,
    },
}

fn flag(flag: &'static str, message: impl Into<String>) -> SimulateError {
    SimulateError::Flag { flag, message: message.into() }
}

fn duration(s: &str) -> Result<i64, String> {
    augur_query::duration::parse_duration(s.trim())
        .map_err(|e| format!("{e}: write a duration such as 30s, 5m, 1h"))
        .and_then(|d| if d < 0 { Err("must not be negative".to_string()) } else { Ok(d) })
}

/// Which policies to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PolicyChoice {
    /// The forecast-driven policy.
    Predictive,
    /// The HPA-like policy.
    Reactive,
    /// The policy that knows the future.
    Oracle,
    /// All three, with ratios.
    All,
}

/// Flags of `augur simulate`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "Examples:
  augur simulate --trace ../shared/data/nab/nyc_taxi.csv --lead-time 1h --scale-to-units 20
  augur simulate --trace ../shared/data/nab/ec2_cpu_utilization_5f5533.csv --lead-time 5m \\
      --policy all --scale-to-units 20 --quantile 95 --margin 10 --plot sim.svg
  augur simulate --trace qps.csv --lead-time 5m --unit-capacity 2.5 --json")]
pub struct SimulateArgs {
    /// The demand trace: CSV `timestamp,value` (NAB) or Alibaba `qps.csv`
    #[arg(long, value_name = "CSV", required_unless_present = "query", conflicts_with = "query")]
    pub trace: Option<PathBuf>,
    /// Or: the demand from a running Augur, an AQL query with `GROUP BY time(…)`
    /// (e.g. `SELECT sum(cpu) FROM usage WHERE time > now() - 14d GROUP BY time(5m)`)
    #[arg(long, value_name = "AQL", requires = "db")]
    pub query: Option<String>,
    /// The database `--query` reads
    #[arg(long, value_name = "DB")]
    pub db: Option<String>,
    /// Where `--query` runs
    #[command(flatten)]
    pub conn: crate::client::http::ConnArgs,
    /// How long a unit takes to become ready (the provisioning delay)
    #[arg(long, default_value = "5m", value_parser = duration)]
    pub lead_time: i64,
    /// The policy to simulate
    #[arg(long, value_enum, default_value = "all")]
    pub policy: PolicyChoice,
    /// Demand one unit serves, in the trace's units
    #[arg(long, conflicts_with = "scale_to_units")]
    pub unit_capacity: Option<f64>,
    /// Size units so that the trace's peak needs N units [default: 20]
    #[arg(long, value_name = "N")]
    pub scale_to_units: Option<u32>,
    /// Forecast quantile, percent (the predictive policy)
    #[arg(long, default_value_t = 95.0)]
    pub quantile: f64,
    /// Margin on top of the forecast, percent (the predictive policy)
    #[arg(long, default_value_t = 10.0)]
    pub margin: f64,
    /// How often the allocator decides (a multiple of the trace's step) [default: the step]
    #[arg(long, value_parser = duration)]
    pub interval: Option<i64>,
    /// How long demand must stay lower before units are released
    #[arg(long, default_value = "5m", value_parser = duration)]
    pub stabilization: i64,
    /// The least time between two scale-ups
    #[arg(long, default_value = "0s", value_parser = duration)]
    pub cooldown: i64,
    /// Forecasting model of the predictive policy (auto, ets, snaive, mstl, naive, ...)
    #[arg(long, default_value = "auto")]
    pub model: String,
    /// Refit the model this often (rolled forward with each new point in between)
    #[arg(long, default_value = "6h", value_parser = duration)]
    pub refit: i64,
    /// How much history the model and the burst searches learn from (a pool's `history`)
    #[arg(long, default_value = "7d", value_parser = duration)]
    pub history: i64,
    /// Simulated but not scored at the start (the forecaster's first history)
    #[arg(long, default_value = "1d", value_parser = duration)]
    pub warmup: i64,
    /// Hourly cost of one unit
    #[arg(long, default_value_t = 1.0)]
    pub hourly_cost: f64,
    /// The fewest units
    #[arg(long, default_value_t = 1)]
    pub min: u32,
    /// The most units [default: 4 × the units the peak needs]
    #[arg(long)]
    pub max: Option<u32>,
    /// Write an SVG plot of demand, forecast band and supply here
    #[arg(long, value_name = "SVG")]
    pub plot: Option<PathBuf>,
    /// Write every step (demand, each policy's ready and billed units, the forecast) as CSV here
    #[arg(long, value_name = "CSV")]
    pub steps: Option<PathBuf>,
    /// Print the report as JSON instead of tables
    #[arg(long)]
    pub json: bool,
}

/// Everything a simulation needs besides the trace, in nanoseconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Provisioning delay.
    pub lead_time: i64,
    /// Decision interval (a multiple of the trace's step).
    pub interval: i64,
    /// Scale-down stabilization window.
    pub stabilization: i64,
    /// Scale-up cooldown.
    pub cooldown: i64,
    /// Forecast quantile, percent (`None`: the mean).
    pub quantile: Option<f64>,
    /// Margin, percent.
    pub margin_pct: f64,
    /// Demand one unit serves.
    pub unit_capacity: f64,
    /// Hourly cost of a unit.
    pub hourly_cost: f64,
    /// Fewest units.
    pub min: u32,
    /// Most units.
    pub max: u32,
    /// Forecasting model name.
    pub model: String,
    /// Refit cadence.
    pub refit: i64,
    /// History window of a fit.
    pub history: i64,
    /// Unscored start.
    pub warmup: i64,
}

impl Config {
    /// The configuration the flags describe for `trace`.
    pub fn from_args(args: &SimulateArgs, trace: &Trace) -> Result<Config, SimulateError> {
        let peak = trace.peak();
        let unit_capacity = match (args.unit_capacity, args.scale_to_units) {
            (Some(c), _) => c,
            (None, n) => {
                let n = n.unwrap_or(20);
                if n == 0 {
                    return Err(flag("scale-to-units", "must be at least 1"));
                }
                if peak > 0.0 {
                    peak / n as f64
                } else {
                    1.0
                }
            }
        };
        if !(unit_capacity.is_finite() && unit_capacity > 0.0) {
            return Err(flag("unit-capacity", "must be a number > 0"));
        }
        let peak_units = units_needed(peak, unit_capacity) as u32;
        let max = args.max.unwrap_or_else(|| peak_units.saturating_mul(4).max(args.min).clamp(10, MAX_UNITS));
        let interval = args.interval.unwrap_or(trace.step);
        if interval <= 0 || interval % trace.step != 0 {
            return Err(flag(
                "interval",
                format!(
                    "must be a multiple of the trace's step ({})",
                    augur_query::duration::format_duration(trace.step)
                ),
            ));
        }
        if !(args.hourly_cost.is_finite() && args.hourly_cost >= 0.0) {
            return Err(flag("hourly-cost", "must be a number >= 0"));
        }
        if registry_has(&args.model).is_none() {
            return Err(flag("model", format!("unknown model {:?}", args.model)));
        }
        let config = Config {
            lead_time: args.lead_time,
            interval,
            stabilization: args.stabilization,
            cooldown: args.cooldown,
            quantile: Some(args.quantile),
            margin_pct: args.margin,
            unit_capacity,
            hourly_cost: args.hourly_cost,
            min: args.min,
            max,
            model: args.model.clone(),
            refit: args.refit.max(1),
            history: args.history.max(1),
            warmup: args.warmup,
        };
        // The pool must be one the manager would accept.
        config.pool(PolicyKind::Predictive, trace.step)?;
        Ok(config)
    }

    /// The simulated pool for `policy` (the oracle gets no margin and no
    /// stabilization or cooldown: it needs no head-room and no hesitation).
    pub fn pool(&self, policy: PolicyKind, step: i64) -> Result<PoolSpec, SimulateError> {
        let oracle = policy == PolicyKind::Oracle;
        let spec = PoolSpec {
            name: "simulated".into(),
            tenant: String::new(),
            dimensions: vec![Dimension::CpuCores],
            shapes: vec![UnitShape {
                name: "unit".into(),
                capacity: [(Dimension::CpuCores, self.unit_capacity)].into_iter().collect(),
                hourly_cost: self.hourly_cost,
            }],
            min: self.min,
            max: self.max,
            warm: 0,
            lead_time: self.lead_time,
            safety: Safety { quantile: self.quantile, margin_pct: if oracle { 0.0 } else { self.margin_pct } },
            scale_up_cooldown: if oracle { 0 } else { self.cooldown },
            scale_down_stabilization: if oracle { 0 } else { self.stabilization },
            interval: self.interval,
            history: self.history.max(4 * self.interval),
            unit_timeout: self.lead_time.max(step).saturating_mul(2),
            demand: [(
                Dimension::CpuCores,
                DemandSource {
                    database: "simulate".into(),
                    query: "SELECT sum(value) FROM trace GROUP BY time(5m)".into(),
                },
            )]
            .into_iter()
            .collect(),
            provider: Default::default(),
            haproxy: None,
            latency: None,
            quota_weight: 1.0,
        };
        spec.validate()?;
        Ok(spec)
    }
}

fn registry_has(model: &str) -> Option<()> {
    augur_engine::forecast::registry::by_name(model).map(|_| ())
}

/// One policy's simulated run, step by step.
#[derive(Debug, Clone, PartialEq)]
pub struct Run {
    /// The policy.
    pub policy: PolicyKind,
    /// Ready units per step (the supply).
    pub ready: Vec<u32>,
    /// Billed units per step (ready and provisioning).
    pub billed: Vec<u32>,
    /// The predictive policy's one-step-ahead forecast of each step, made
    /// one step earlier (`None` elsewhere and where it had none).
    pub forecast: Vec<Option<Forecast>>,
    /// Decisions that requested units, per step.
    pub scale_ups: Vec<bool>,
    /// Decisions that released units, per step.
    pub scale_downs: Vec<bool>,
    /// Decisions without a forecast (the reactive rule stood in).
    pub fallbacks: usize,
    /// Model fits done.
    pub fits: usize,
}

/// Replays `trace` under `policy`.
pub fn simulate(trace: &Trace, config: &Config, policy: PolicyKind) -> Result<Run, SimulateError> {
    simulate_scaled(trace, config, policy, 1.0)
}

/// [`simulate`], with the oracle's knowledge of the future scaled by
/// `oracle_scale` (below 1: an oracle that accepts some shortage, to
/// compare with a policy at the same τ_U).
pub fn simulate_scaled(
    trace: &Trace,
    config: &Config,
    policy: PolicyKind,
    oracle_scale: f64,
) -> Result<Run, SimulateError> {
    let spec = config.pool(policy, trace.step)?;
    let step = trace.step;
    let every = (config.interval / step).max(1) as usize;
    let horizon = horizon_steps(config.lead_time, config.interval, step);
    let steps_of = |d: i64| ((d + step - 1) / step).max(1) as usize;
    let warmup_steps = (config.warmup / step).max(0) as usize;
    let mut predictor = match policy {
        PolicyKind::Predictive => Some(
            Predictor::new(
                &config.model,
                steps_of(config.refit),
                steps_of(config.history),
                spec.safety.band_level(),
                trace.start,
                step,
            )
            .ok_or_else(|| flag("model", format!("unknown model {:?}", config.model)))?,
        ),
        _ => None,
    };
    // The forecaster starts learning once it has the warm-up's history
    // (at least a day's worth of steps would be 288 at 5 minutes).
    let learn_from = warmup_steps.max(16).min(trace.values.len().saturating_sub(1));

    let n = trace.values.len();
    let first = trace.values.first().copied().unwrap_or(0.0);
    let initial = (units_needed(first, config.unit_capacity) as u32).clamp(config.min, config.max);
    let mut fleet = Fleet::new(initial, config.lead_time);
    let mut state = AllocatorState::default();
    let mut run = Run {
        policy,
        ready: Vec::with_capacity(n),
        billed: Vec::with_capacity(n),
        forecast: vec![None; n],
        scale_ups: vec![false; n],
        scale_downs: vec![false; n],
        fallbacks: 0,
        fits: 0,
    };
    let allocator_policy = if policy == PolicyKind::Reactive { Policy::Reactive } else { Policy::Predictive };
    let daily = cadence::steps_per_day(trace.step);
    // The burst searches read what a pool's demand query would: its
    // `history`, no further back.
    let history = steps_of(config.history);
    for k in 0..n {
        let now = trace.time(k);
        fleet.advance(now);
        if k % every == 0 {
            let usage = trace.values[k];
            let forecast = match policy {
                PolicyKind::Reactive => None,
                PolicyKind::Oracle => Some(oracle_forecast(&trace.values, k, horizon) * oracle_scale),
                PolicyKind::Predictive => {
                    let predicted = match predictor.as_mut() {
                        Some(p) if k >= learn_from => p.observe(&trace.values, k, horizon),
                        _ => None,
                    }
                    .map(|f| with_due_burst(f, &trace.values[k.saturating_sub(history)..=k], daily, horizon));
                    if let (Some(f), Some(slot)) = (predicted, run.forecast.get_mut(k + 1)) {
                        *slot = Some(f);
                    }
                    if predicted.is_none() {
                        run.fallbacks += 1;
                    }
                    predicted.map(|f| f.required)
                }
            };
            let demand: BTreeMap<Dimension, DimensionDemand> =
                [(Dimension::CpuCores, DimensionDemand { forecast, usage: Some(usage) })].into_iter().collect();
            let decision = decide(&spec, allocator_policy, &mut state, &[fleet.active()], &demand, now);
            let release = decision.release.first().copied().unwrap_or(0);
            let request = decision.scale_up.first().copied().unwrap_or(0);
            fleet.release(release);
            fleet.request(request, now);
            fleet.advance(now);
            run.scale_ups[k] = request > 0;
            run.scale_downs[k] = release > 0;
        }
        run.ready.push(fleet.ready());
        run.billed.push(fleet.active());
    }
    run.fits = predictor.map_or(0, |p| p.fits);
    Ok(run)
}

/// `forecast` with its `required` raised to the height of every periodic
/// burst due in the steps the decision covers (as the manager's demand
/// reading does; see [`augur_engine::forecast::cadence`]); `steps_per_day`
/// enables the daily search.
fn with_due_burst(mut forecast: Forecast, history: &[f64], steps_per_day: Option<usize>, horizon: usize) -> Forecast {
    let window = &history[history.len().saturating_sub(cadence::window(steps_per_day))..];
    if let Some(height) = cadence::height_due_within(&cadence::detect_all(window, steps_per_day), horizon) {
        forecast.required = forecast.required.max(height);
    }
    forecast
}

/// Runs the chosen policies on the trace and returns the report.
pub fn run_policies(
    trace: &Trace,
    config: &Config,
    policies: &[PolicyKind],
) -> Result<(Report, Vec<Run>), SimulateError> {
    let mut runs = Vec::new();
    for policy in policies {
        let started = std::time::Instant::now();
        let run = simulate(trace, config, *policy)?;
        tracing::debug!(policy = policy.name(), elapsed_ms = started.elapsed().as_millis() as u64, "simulated");
        runs.push(run);
    }
    let mut report = Report::new(trace, config, &runs);
    if let (Some(pred), Some(_)) = (report.policy(PolicyKind::Predictive), report.policy(PolicyKind::Oracle)) {
        let (tau_u, cost) = (pred.elasticity.tau_u, pred.cost);
        let matched = matched_oracle(trace, config, tau_u)?;
        report.set_matched_oracle(matched, cost);
    }
    Ok((report, runs))
}

/// The cheapest oracle whose τ_U is at most `tau_u`: the oracle's view of
/// the future scaled down by a factor in [0.25, 1], found by bisection
/// (τ_U grows as the factor falls). At `tau_u` = 0 it is the oracle.
pub fn matched_oracle(trace: &Trace, config: &Config, tau_u: f64) -> Result<report::MatchedOracle, SimulateError> {
    let score = |scale: f64| -> Result<report::PolicyReport, SimulateError> {
        let run = simulate_scaled(trace, config, PolicyKind::Oracle, scale)?;
        Ok(Report::new(trace, config, std::slice::from_ref(&run)).policies.remove(0))
    };
    let mut best = (1.0, score(1.0)?);
    let (mut low, mut high) = (0.25f64, 1.0f64);
    for _ in 0..14 {
        let mid = (low + high) / 2.0;
        let r = score(mid)?;
        if r.elasticity.tau_u <= tau_u + 1e-9 {
            high = mid;
            if r.cost < best.1.cost {
                best = (mid, r);
            }
        } else {
            low = mid;
        }
    }
    Ok(report::MatchedOracle { scale: best.0, tau_u: best.1.elasticity.tau_u, cost: best.1.cost })
}

/// `augur simulate`.
pub fn run(args: &SimulateArgs) -> Result<(), SimulateError> {
    let trace = match (&args.trace, &args.query, &args.db) {
        (Some(path), _, _) => trace::load(path)?,
        (None, Some(query), Some(db)) => source::from_query(&args.conn, db, query)?,
        _ => return Err(flag("trace", "give a CSV file, or --query with --db")),
    };
    let config = Config::from_args(args, &trace)?;
    let policies: Vec<PolicyKind> = match args.policy {
        PolicyChoice::Predictive => vec![PolicyKind::Predictive],
        PolicyChoice::Reactive => vec![PolicyKind::Reactive],
        PolicyChoice::Oracle => vec![PolicyKind::Oracle],
        PolicyChoice::All => PolicyKind::ALL.to_vec(),
    };
    let (report, runs) = run_policies(&trace, &config, &policies)?;
    if let Some(path) = &args.plot {
        let svg = plot::render(&trace, &config, &runs)?;
        std::fs::write(path, svg)
            .map_err(|e| SimulateError::Output { what: path.display().to_string(), message: e.to_string() })?;
    }
    if let Some(path) = &args.steps {
        std::fs::write(path, steps::render(&trace, &config, &runs))
            .map_err(|e| SimulateError::Output { what: path.display().to_string(), message: e.to_string() })?;
    }
    let text = if args.json {
        serde_json::to_string_pretty(&report)
            .map_err(|e| SimulateError::Output { what: "the report".into(), message: e.to_string() })?
    } else {
        report.to_table()
    };
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| SimulateError::Output { what: "stdout".into(), message: e.to_string() })?;
    Ok(())
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
