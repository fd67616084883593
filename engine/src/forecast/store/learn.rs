//! One step of continuous learning for one series group: score the
//! forecasts earlier steps made, then either roll the stored model forward
//! with the new points (`update()`, cheap) or train a new version, and
//! forecast.
//!
//! A new version is trained when there is no model yet (`initial`), when
//! the stored one cannot be used on this history (`stale`: the grid step
//! changed, or the new points do not follow the ones it has seen, or it
//! cannot be restored), when `refit_every` has passed since it was trained
//! (`schedule`), and when its live error drifts (`drift`: live MASE above
//! its backtest MASE × `drift_ratio`, once `min_live_points` forecasts have
//! been scored). Why refit on drift and not only on schedule: a level
//! shift or a new daily pattern makes an updated model wrong for as long
//! as the schedule is long; the drift check notices within a few runs.

use super::backtest::backtest;
use super::challenge::{contest, ChallengeRecord, Contest};
use super::live::push_pending;
use super::watch;
use super::{ModelHead, ModelKey, ModelStore, ModelStoreError, Pending, TrainingWindow};
use crate::forecast::anomaly::{Anomaly, DetectorConfig, DetectorState};
use crate::forecast::{registry, FitOptions, ForecastError, Forecaster, Prediction};

/// When to train a new version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnPolicy {
    /// Retrain when the active version is this old, ns (0 = never on schedule).
    pub refit_every_ns: i64,
    /// Retrain when live MASE > backtest MASE × this (0 or less = never on drift).
    pub drift_ratio: f64,
    /// Forecasts scored live before drift is judged.
    pub min_live_points: u64,
    /// Backtest origins per new version.
    pub backtest_origins: usize,
    /// On drift and schedule, the retrained version replaces the active one
    /// only if it wins a contest on the newest steps
    /// ([`challenge`](super::challenge)); `false` swaps unconditionally.
    pub challenge: bool,
    /// Anomaly detection on the scored actuals (`None` = off).
    pub anomaly: Option<DetectorConfig>,
}

impl Default for LearnPolicy {
    fn default() -> Self {
        LearnPolicy {
            refit_every_ns: 24 * 3600 * 1_000_000_000,
            drift_ratio: 2.0,
            min_live_points: 12,
            backtest_origins: 10,
            challenge: true,
            anomaly: None,
        }
    }
}

/// A regular history: `values[i]` is the step at `start_ns + i * step_ns`
/// (`NaN` = no value).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Time of the first step, ns.
    pub start_ns: i64,
    /// The step, ns (> 0).
    pub step_ns: i64,
    /// The values, oldest first.
    pub values: Vec<f64>,
}

/// What one step is asked to do.
#[derive(Debug, Clone)]
pub struct StepRequest<'a> {
    /// The model's key (its `model` is the name to fit).
    pub key: &'a ModelKey,
    /// Seasonal periods (empty = detect); the grid origin is set here.
    pub seasons: Vec<usize>,
    /// Steps to forecast.
    pub horizon: usize,
    /// Band levels of the returned prediction.
    pub levels: &'a [f64],
    /// The history up to the forecast origin.
    pub grid: Grid,
    /// The current time, ns.
    pub now_ns: i64,
}

/// What a step did to the stored model.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// A new version was trained, for this reason.
    Trained(String),
    /// The stored model absorbed this many new steps.
    Updated(usize),
}

/// The result of a step.
#[derive(Debug, Clone)]
pub struct StepOutcome {
    /// The stored state after the step.
    pub head: ModelHead,
    /// Trained or updated.
    pub action: Action,
    /// The forecast, one band per requested level.
    pub prediction: Prediction,
    /// Time of the forecast's first step, ns.
    pub first_ns: i64,
    /// The champion/challenger contest this step ran, if any (`swapped`:
    /// the challenger replaced the champion).
    pub challenge: Option<ChallengeRecord>,
    /// Anomalies found among the actuals this step scored.
    pub anomalies: Vec<Anomaly>,
}

/// Runs one step (see the module docs) and stores its effects.
pub fn step(models: &ModelStore, policy: &LearnPolicy, req: &StepRequest<'_>) -> Result<StepOutcome, ModelStoreError> {
    let step = req.grid.step_ns;
    if step <= 0 {
        return Err(ForecastError::InvalidParameter(format!("grid step {step}")).into());
    }
    let first = req.grid.values.iter().position(|v| v.is_finite()).ok_or(ForecastError::NoData)?;
    let last = req.grid.values.iter().rposition(|v| v.is_finite()).unwrap_or(first);
    let values = &req.grid.values[first..=last];
    let start = req.grid.start_ns.saturating_add(step.saturating_mul(first as i64));
    let last_ns = start.saturating_add(step.saturating_mul((values.len() - 1) as i64));
    let actual = |t: i64| {
        let offset = t.checked_sub(start)?;
        (offset >= 0 && offset % step == 0).then(|| values.get(usize::try_from(offset / step).ok()?).copied())?
    };
    let options = FitOptions {
        seasons: req.seasons.clone(),
        origin_index: Some(start.div_euclid(step)),
        step_ns: Some(step),
        ..Default::default()
    };

    let mut head = models.head(req.key)?;
    let mut anomalies = Vec::new();
    if let Some(h) = head.as_mut() {
        if let Some(cfg) = &policy.anomaly {
            anomalies = watch::detect(h, cfg, last_ns, actual);
        }
        let (live, pending) = (&mut h.live, &mut h.pending);
        live.score(pending, last_ns, actual);
    }
    let mut reason = match &head {
        None => Some("initial"),
        Some(h) if h.training.step_ns != step => Some("stale"),
        Some(h) if h.last_ns > last_ns || h.last_ns < start - step || (h.last_ns - start).rem_euclid(step) != 0 => {
            Some("stale")
        }
        Some(h) if policy.refit_every_ns > 0 && req.now_ns.saturating_sub(last_look(h)) >= policy.refit_every_ns => {
            Some("schedule")
        }
        Some(h) if drifted(h, policy) => Some("drift"),
        Some(_) => None,
    };
    let mut challenge = None;
    if let (Some(why @ ("drift" | "schedule")), Some(h), true) = (reason, head.as_mut(), policy.challenge) {
        let holdout = req.horizon.max(usize::try_from(policy.min_live_points).unwrap_or(usize::MAX)).max(1);
        // Both sides see the history a refit would: flagged anomalies masked
        // (and so left out of the holdout's error too).
        let masked = watch::training_values(values, start, step, Some(&h.anomaly)).into_owned();
        if let Some(c) = run_contest(models, h, req, &masked, start, &options, holdout) {
            let record = ChallengeRecord {
                at_ns: req.now_ns,
                champion: h.active,
                champion_mae: c.champion_mae,
                challenger_mae: c.challenger_mae,
                holdout: c.holdout,
                swapped: c.challenger_wins(),
            };
            h.last_challenge = Some(record);
            h.challenges = h.challenges.saturating_add(1);
            tracing::info!(
                model = %req.key, reason = why, champion = h.active,
                champion_mae = c.champion_mae, challenger_mae = c.challenger_mae,
                swapped = record.swapped, "champion/challenger contest"
            );
            if record.swapped {
                h.swaps = h.swaps.saturating_add(1);
            } else {
                // The champion stays: its live error is judged afresh, and
                // the schedule counts from this contest.
                h.live = Default::default();
                reason = None;
            }
            challenge = Some(record);
        }
    }
    let mut updated = None;
    if let (None, Some(h)) = (reason, head.as_mut()) {
        match roll_forward(h, values, start, last_ns) {
            Ok((model, n)) => updated = Some((model, n)),
            Err(err) => {
                tracing::warn!(model = %req.key, error = %err, "stored model unusable; retraining");
                reason = Some("stale");
            }
        }
    }
    let detector = head.as_ref().map(|h| h.anomaly.clone());
    let (model, head, action) = match (updated, head) {
        (Some((model, n)), Some(h)) => (model, h, Action::Updated(n)),
        (_, previous) => {
            if let (Some(h), Some(_)) = (&previous, challenge) {
                // The contest's record goes with the key into the new version's head.
                models.put_head(h)?;
            }
            let fit = Fit { values, start, last_ns, options: &options, reason, detector };
            train(models, policy, req, fit)?
        }
    };
    let mut outcome = finish(models, req, model, head, action, last_ns, challenge)?;
    outcome.anomalies = anomalies;
    Ok(outcome)
}

/// What a new version is trained on.
struct Fit<'a> {
    /// The history (flagged anomalies not yet masked).
    values: &'a [f64],
    /// Time of `values[0]` and of its last step, ns.
    start: i64,
    last_ns: i64,
    options: &'a FitOptions,
    /// Why (`None`: stale).
    reason: Option<&'a str>,
    /// The anomaly detector's state before the training (its flagged
    /// points are masked; it carries over to the new version).
    detector: Option<DetectorState>,
}

/// Trains a new version for `fit.reason` and makes it the active one.
fn train(
    models: &ModelStore,
    policy: &LearnPolicy,
    req: &StepRequest<'_>,
    fit: Fit<'_>,
) -> Result<(Box<dyn Forecaster>, ModelHead, Action), ModelStoreError> {
    let step = req.grid.step_ns;
    let fit_values = watch::training_values(fit.values, fit.start, step, fit.detector.as_ref());
    let values = &fit_values[..];
    let why = fit.reason.unwrap_or("stale");
    let make = || registry::by_name(&req.key.model);
    let mut model = make().ok_or_else(|| {
        ForecastError::InvalidParameter(format!(
            "unknown forecast model '{}' (expected one of: {})",
            req.key.model,
            registry::NAMES.join(", ")
        ))
    })?;
    let scores = backtest(&make, values, fit.options, req.horizon, policy.backtest_origins);
    model.fit(values, fit.options)?;
    let training = TrainingWindow {
        start_ns: fit.start,
        end_ns: fit.last_ns,
        points: values.iter().filter(|v| v.is_finite()).count(),
        step_ns: step,
    };
    let mut head = models.add_version(req.key, model.save()?, training, scores, why, req.now_ns)?;
    head.anomaly = fit.detector.unwrap_or_default();
    tracing::info!(model = %req.key, version = head.active, reason = why, mase = ?scores.mase, "trained a new model version");
    Ok((model, head, Action::Trained(why.to_string())))
}

/// Forecasts with `model`, remembers the forecast for live scoring, and
/// stores the head.
fn finish(
    models: &ModelStore,
    req: &StepRequest<'_>,
    model: Box<dyn Forecaster>,
    mut head: ModelHead,
    action: Action,
    last_ns: i64,
    challenge: Option<ChallengeRecord>,
) -> Result<StepOutcome, ModelStoreError> {
    let step = req.grid.step_ns;
    let mut levels = req.levels.to_vec();
    if !levels.iter().any(|l| (l - 95.0).abs() < 1e-9) {
        levels.push(95.0);
    }
    let mut prediction = model.predict(req.horizon, &levels)?;
    let at = |k: usize| last_ns.saturating_add(step.saturating_mul(k as i64 + 1));
    if let Some(band) = prediction.band(95.0) {
        let new = prediction.mean.iter().enumerate().map(|(k, mean)| Pending {
            time_ns: at(k),
            mean: *mean,
            lower95: band.lower[k],
            upper95: band.upper[k],
        });
        push_pending(&mut head.pending, new.collect::<Vec<_>>());
    }
    prediction.bands.truncate(req.levels.len());
    head.updated_ns = req.now_ns;
    models.put_head(&head)?;
    Ok(StepOutcome { head, action, prediction, first_ns: at(0), challenge, anomalies: Vec::new() })
}

/// When the key was last looked at afresh: trained, rolled back, or
/// challenged (the refit schedule counts from here).
fn last_look(h: &ModelHead) -> i64 {
    h.last_challenge.map_or(h.trained_ns, |c| c.at_ns.max(h.trained_ns))
}

/// The champion/challenger contest for `h` on the newest `holdout` steps
/// of `values` (`None`: no fair contest; see [`challenge`](super::challenge)).
fn run_contest(
    models: &ModelStore,
    h: &ModelHead,
    req: &StepRequest<'_>,
    values: &[f64],
    start: i64,
    options: &FitOptions,
    holdout: usize,
) -> Option<Contest> {
    let step = req.grid.step_ns;
    let version = models.version(&h.key, h.active).ok()?;
    let end = version.training.end_ns;
    let champion_end =
        (end >= start && (end - start) % step == 0).then(|| usize::try_from((end - start) / step).ok()).flatten();
    let holdout = holdout.min(values.len() / 4);
    contest(&req.key.model, &version.model, champion_end, values, options, holdout)
}

/// Whether the live error has drifted above the backtest's.
fn drifted(h: &ModelHead, policy: &LearnPolicy) -> bool {
    if policy.drift_ratio <= 0.0 || h.live.points < policy.min_live_points.max(1) {
        return false;
    }
    match (h.backtest.mase, h.live_mase()) {
        (Some(backtest), Some(live)) => live > backtest * policy.drift_ratio,
        _ => false,
    }
}

/// Restores the head's model and feeds it the steps after `h.last_ns`.
fn roll_forward(
    h: &mut ModelHead,
    values: &[f64],
    start: i64,
    last_ns: i64,
) -> Result<(Box<dyn Forecaster>, usize), ForecastError> {
    let mut model = registry::restore(&h.state)?;
    let from = usize::try_from((h.last_ns - start) / h.training.step_ns + 1).unwrap_or(0);
    let new = values.get(from..).unwrap_or_default();
    if !new.is_empty() {
        model.update(new)?;
        h.state = model.save()?;
    }
    h.last_ns = last_ns;
    Ok((model, new.len()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage::{Store, StoreOptions};

    const STEP: i64 = 60_000_000_000;

    fn seasonal(from: usize, to: usize, level: f64) -> Vec<f64> {
        let noise = crate::forecast::test_util::noise(to, 3);
        (from..to).map(|t| level + 5.0 * ((t % 12) as f64 - 6.0).abs() + noise[t]).collect()
    }

    fn req<'a>(key: &'a ModelKey, values: Vec<f64>, start_step: i64, now: i64) -> StepRequest<'a> {
        StepRequest {
            key,
            seasons: vec![12],
            horizon: 6,
            levels: &[80.0],
            grid: Grid { start_ns: start_step * STEP, step_ns: STEP, values },
            now_ns: now,
        }
    }

    #[test]
    fn updates_between_refits_and_retrains_on_drift_and_schedule() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
        let models = ModelStore::new(store, 5);
        let key = ModelKey { database: "d".into(), group: "cf/m".into(), model: "ets".into() };
        let policy = LearnPolicy {
            refit_every_ns: 1_000 * STEP,
            drift_ratio: 2.0,
            min_live_points: 6,
            backtest_origins: 8,
            challenge: true,
            anomaly: None,
        };

        let first = step(&models, &policy, &req(&key, seasonal(0, 240, 100.0), 0, 0)).expect("trains");
        assert_eq!(first.action, Action::Trained("initial".into()));
        assert_eq!((first.head.active, first.head.training.points), (1, 240));
        assert!(first.head.backtest.mase.is_some_and(|m| m < 1.5), "{:?}", first.head.backtest);
        assert_eq!(first.first_ns, 240 * STEP);
        assert_eq!(first.prediction.bands.len(), 1);
        assert_eq!(first.head.pending.len(), 6);

        // The same pattern continues: updates only, live error stays low.
        for k in 0..4usize {
            let end = 246 + 6 * k;
            let out =
                step(&models, &policy, &req(&key, seasonal(0, end, 100.0), 0, (k as i64 + 1) * STEP)).expect("steps");
            assert_eq!(out.action, Action::Updated(6), "run {k}");
            assert_eq!(out.head.active, 1);
            assert_eq!(out.first_ns, end as i64 * STEP);
        }
        let head = models.head(&key).expect("head").expect("stored");
        assert!(head.live.points >= 6);
        assert!(head.live_mase().expect("live") < 2.0 * head.backtest.mase.expect("bt"), "{head:?}");

        // A level shift: live error drifts and a new version is trained.
        let mut shifted = seasonal(0, 264, 100.0);
        shifted.extend(seasonal(264, 276, 160.0));
        let out = step(&models, &policy, &req(&key, shifted.clone(), 0, 10 * STEP)).expect("steps");
        assert_eq!(out.action, Action::Trained("drift".into()));
        assert_eq!((out.head.active, out.head.latest), (2, 2));
        assert_eq!(out.head.live.points, 0, "live error starts afresh");
        let contest = out.challenge.expect("a drift holds a contest");
        assert!(contest.swapped && contest.challenger_mae < contest.champion_mae, "{contest:?}");
        assert_eq!((contest.champion, out.head.challenges, out.head.swaps), (1, 1, 1));

        // The schedule: the version is old, a challenger is trained, but on
        // an unchanged pattern it does not beat the champion, which stays.
        shifted.extend(seasonal(276, 282, 160.0));
        let out = step(&models, &policy, &req(&key, shifted.clone(), 0, 2_000 * STEP)).expect("steps");
        assert_eq!(out.action, Action::Updated(6));
        let contest = out.challenge.expect("the schedule holds a contest");
        assert!(!contest.swapped && contest.challenger_mae >= contest.champion_mae, "{contest:?}");
        assert_eq!((out.head.active, out.head.challenges, out.head.swaps), (2, 2, 1));
        assert_eq!(models.versions(&key).expect("versions").len(), 2);
        // The schedule counts from the contest: the next run only updates.
        shifted.extend(seasonal(282, 288, 160.0));
        let out = step(&models, &policy, &req(&key, shifted.clone(), 0, 2_001 * STEP)).expect("steps");
        assert_eq!((out.action, out.challenge), (Action::Updated(6), None));

        // Without contests the schedule retrains unconditionally.
        let always = LearnPolicy { challenge: false, ..policy };
        shifted.extend(seasonal(288, 294, 160.0));
        let out = step(&models, &always, &req(&key, shifted, 0, 4_000 * STEP)).expect("steps");
        assert_eq!(out.action, Action::Trained("schedule".into()));
        assert_eq!((out.head.active, out.head.challenges, out.head.swaps), (3, 2, 1), "the record stays with the key");
        assert_eq!(models.versions(&key).expect("versions").len(), 3);

        // A history that does not follow the stored one (time went back) retrains.
        let out = step(&models, &policy, &req(&key, seasonal(0, 100, 1.0), 0, 4_001 * STEP)).expect("steps");
        assert_eq!(out.action, Action::Trained("stale".into()));
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = ModelStore::new(Store::open(dir.path(), StoreOptions::default()).expect("open"), 2);
        let key = ModelKey { database: "d".into(), group: "g".into(), model: "ets".into() };
        let policy = LearnPolicy::default();
        assert!(step(&models, &policy, &req(&key, vec![f64::NAN; 5], 0, 0)).is_err());
        let mut r = req(&key, seasonal(0, 50, 1.0), 0, 0);
        r.grid.step_ns = 0;
        assert!(step(&models, &policy, &r).is_err());
        let unknown = ModelKey { model: "prophet".into(), ..key };
        assert!(step(&models, &policy, &req(&unknown, seasonal(0, 50, 1.0), 0, 0)).is_err());
        assert!(models.head(&unknown).expect("head").is_none());
    }

    /// Prints what one run costs when it trains and when it only updates
    /// (`cargo test -p augur-engine --release step_costs -- --ignored --nocapture`).
    #[test]
    #[ignore]
    fn step_costs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = ModelStore::new(Store::open(dir.path(), StoreOptions::default()).expect("open"), 5);
        let policy = LearnPolicy { refit_every_ns: 0, drift_ratio: 0.0, ..LearnPolicy::default() };
        for name in ["ets", "auto"] {
            let key = ModelKey { database: "d".into(), group: "g".into(), model: name.into() };
            let mut r = req(&key, seasonal(0, 2016, 100.0), 0, 0);
            r.horizon = 12;
            let t = std::time::Instant::now();
            step(&models, &policy, &r).expect("trains");
            let train = t.elapsed();
            let runs = 20;
            let t = std::time::Instant::now();
            for k in 1..=runs {
                step(&models, &policy, &req(&key, seasonal(0, 2016 + k, 100.0), 0, 0)).expect("updates");
            }
            let update = t.elapsed() / runs as u32;
            println!("{name}: train (backtest + fit + store) {train:?}, update run {update:?}");
        }
    }
}
