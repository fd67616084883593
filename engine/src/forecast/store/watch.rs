//! Anomaly detection on a model's own forecasts: the bridge between the
//! registry's pending forecasts and the pure detector in
//! [`crate::forecast::anomaly`].
//!
//! Each continuous-learning step scores the forecasts earlier runs made;
//! before they are scored (and dropped), every due time is judged once by
//! the detector against the *latest* forecast made for it (the shortest
//! horizon, so the sharpest band), using that forecast's 95% band. The
//! detector's state lives in the model head, so it survives restarts and
//! new versions, and a time is never judged twice.
//!
//! Why masking lives here too: the detector remembers the recent times of
//! points outside the band, and a refit trains on the history with those
//! steps set to `NaN` (a gap the models fill), so a spike does not bend
//! the new version.

use std::borrow::Cow;

use super::{ModelHead, Pending};
use crate::forecast::anomaly::{mask_flagged, Anomaly, DetectorConfig, DetectorState, Observation};

/// The level of the band pending forecasts keep.
const PENDING_LEVEL: f64 = 95.0;

/// Judges the head's pending forecasts due at or before `last_ns` against
/// `actual(time)` (call before they are scored); returns the anomalies.
pub fn detect(
    head: &mut ModelHead,
    cfg: &DetectorConfig,
    last_ns: i64,
    actual: impl Fn(i64) -> Option<f64>,
) -> Vec<Anomaly> {
    let after = head.anomaly.last_ns.unwrap_or(i64::MIN);
    // The latest forecast of each due time: pending is in the order runs made them.
    let mut due: Vec<&Pending> = Vec::new();
    for p in head.pending.iter().filter(|p| p.time_ns <= last_ns && p.time_ns > after) {
        match due.iter_mut().find(|d| d.time_ns == p.time_ns) {
            Some(slot) => *slot = p,
            None => due.push(p),
        }
    }
    due.sort_by_key(|p| p.time_ns);
    let mut found = Vec::new();
    for p in due {
        let Some(value) = actual(p.time_ns) else { continue };
        let obs = Observation {
            time_ns: p.time_ns,
            value,
            mean: p.mean,
            lower: p.lower95,
            upper: p.upper95,
            band_level: PENDING_LEVEL,
        };
        found.extend(head.anomaly.observe(cfg, &obs));
    }
    found
}

/// The history a new version trains on: `values` (from `start_ns`, every
/// `step_ns`) with the steps the detector flagged masked as gaps, unless
/// that leaves too little to fit (fewer than half the points).
pub fn training_values<'a>(
    values: &'a [f64],
    start_ns: i64,
    step_ns: i64,
    detector: Option<&DetectorState>,
) -> Cow<'a, [f64]> {
    let Some(state) = detector.filter(|s| !s.flagged().is_empty()) else { return Cow::Borrowed(values) };
    let (masked, n) = mask_flagged(values, start_ns, step_ns, state.flagged());
    let finite = values.iter().filter(|v| v.is_finite()).count();
    if n == 0 || 2 * n > finite {
        return Cow::Borrowed(values);
    }
    tracing::debug!(masked = n, "masking flagged points for the refit");
    Cow::Owned(masked)
}

#[cfg(test)]
mod tests {
    use super::super::learn::{step, Action, Grid, LearnPolicy, StepRequest};
    use super::super::{ModelKey, ModelStore};
    use crate::forecast::anomaly::AnomalyKind;
    use crate::forecast::{registry, FitOptions};
    use crate::storage::{Store, StoreOptions};

    use super::*;

    const STEP: i64 = 60_000_000_000;

    fn seasonal(from: usize, to: usize) -> Vec<f64> {
        let noise = crate::forecast::test_util::noise(to, 5);
        (from..to).map(|t| 100.0 + 5.0 * ((t % 12) as f64 - 6.0).abs() + noise[t]).collect()
    }

    fn req<'a>(key: &'a ModelKey, values: Vec<f64>, now: i64) -> StepRequest<'a> {
        StepRequest {
            key,
            seasons: vec![12],
            horizon: 6,
            levels: &[95.0],
            grid: Grid { start_ns: 0, step_ns: STEP, values },
            now_ns: now,
        }
    }

    fn policy(refit_every_ns: i64) -> LearnPolicy {
        LearnPolicy {
            refit_every_ns,
            drift_ratio: 0.0,
            min_live_points: 6,
            backtest_origins: 4,
            challenge: true,
            anomaly: Some(DetectorConfig::default()),
        }
    }

    /// A spike of three steps at 252..255 on the seasonal series.
    fn spiked(to: usize) -> Vec<f64> {
        let mut v = seasonal(0, to);
        for x in v.iter_mut().take(255).skip(252) {
            *x += 300.0;
        }
        v
    }

    #[test]
    fn detects_a_spike_once_and_keeps_the_state_across_runs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = ModelStore::new(Store::open(dir.path(), StoreOptions::default()).expect("open"), 3);
        let key = ModelKey { database: "d".into(), group: "cf/m".into(), model: "ets".into() };
        let p = policy(0);
        step(&models, &p, &req(&key, seasonal(0, 240), 0)).expect("trains");
        let quiet = step(&models, &p, &req(&key, seasonal(0, 246), 1)).expect("updates");
        assert!(quiet.anomalies.is_empty(), "{:?}", quiet.anomalies);
        for end in [252, 258] {
            let out = step(&models, &p, &req(&key, spiked(end), 2)).expect("updates");
            if end == 252 {
                assert!(out.anomalies.is_empty());
                continue;
            }
            let band: Vec<_> = out.anomalies.iter().filter(|a| a.kind == AnomalyKind::Band).collect();
            assert_eq!(band.len(), 1, "{:?}", out.anomalies);
            assert_eq!(band[0].time_ns, 254 * STEP);
            assert_eq!(band[0].steps, 3);
            assert!(band[0].value > 350.0 && band[0].upper < band[0].value);
        }
        let head = models.head(&key).expect("head").expect("stored");
        assert_eq!(head.anomaly.flagged(), &[252 * STEP, 253 * STEP, 254 * STEP]);
        assert_eq!(head.anomaly.last_ns, Some(257 * STEP));
        // The same actuals again (a rerun after a restart): nothing new.
        let again = step(&models, &p, &req(&key, spiked(258), 3)).expect("again");
        assert!(again.anomalies.is_empty(), "{:?}", again.anomalies);
    }

    #[test]
    fn a_refit_masks_flagged_points() {
        let dir = tempfile::tempdir().expect("tempdir");
        let models = ModelStore::new(Store::open(dir.path(), StoreOptions::default()).expect("open"), 3);
        let key = ModelKey { database: "d".into(), group: "cf/m".into(), model: "ets".into() };
        // Retrain on schedule unconditionally: this is about what the refit sees.
        let p = LearnPolicy { challenge: false, ..policy(100 * STEP) };
        step(&models, &p, &req(&key, seasonal(0, 240), 0)).expect("trains");
        for (k, end) in [246usize, 252, 258, 264].into_iter().enumerate() {
            step(&models, &p, &req(&key, spiked(end), k as i64 + 1)).expect("updates");
        }
        let flagged = models.head(&key).expect("head").expect("stored").anomaly.flagged().to_vec();
        assert!(flagged.starts_with(&[252 * STEP, 253 * STEP, 254 * STEP]), "{flagged:?}");
        // The schedule retrains on the history with the spike in it.
        let out = step(&models, &p, &req(&key, spiked(264), 1_000 * STEP)).expect("refits");
        assert_eq!(out.action, Action::Trained("schedule".into()));
        assert_eq!(out.head.anomaly.flagged(), &flagged[..], "the detector's state survives the new version");

        let forecast = |values: &[f64]| {
            let mut m = registry::by_name("ets").expect("ets");
            let options =
                FitOptions { seasons: vec![12], origin_index: Some(0), step_ns: Some(STEP), ..Default::default() };
            m.fit(values, &options).expect("fits");
            m.predict(6, &[95.0]).expect("predicts").mean
        };
        let clean = forecast(&seasonal(0, 264));
        let unmasked = forecast(&spiked(264));
        let gap = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
        let masked_gap = gap(&out.prediction.mean, &clean);
        let unmasked_gap = gap(&unmasked, &clean);
        assert!(unmasked_gap > 1.0, "the spike bends an unmasked fit ({unmasked_gap})");
        assert!(masked_gap < 0.25 * unmasked_gap, "masked {masked_gap} vs unmasked {unmasked_gap}");
    }
}
