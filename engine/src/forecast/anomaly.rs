//! Anomaly detection on forecast residuals: a pure, persistable detector
//! fed one scored point at a time (the actual, and what the model had
//! forecast for it with a prediction band).
//!
//! Two rules, each configurable:
//! * **band**: the actual lies outside the forecast's central `level`%
//!   band for `consecutive` (k) observations in a row. One anomaly is
//!   reported per run, at its k-th point. Why k > 1: a 99% band is crossed
//!   by 1% of normal points; requiring a short run turns isolated misses
//!   into nothing and keeps sustained departures.
//! * **level shift**: a two-sided CUSUM on the standardized residuals
//!   `z = (actual - mean) / sigma` (each clipped to ±[`Z_CLIP`] so that one
//!   spike cannot trip it alone), with allowance [`DetectorConfig::shift_drift`];
//!   an anomaly when either sum exceeds `shift_threshold`. Why: a shift
//!   smaller than the band's half-width never crosses the band, but it
//!   pushes every residual the same way, which the sum accumulates.
//!
//! `sigma` comes from the band the caller scored against (any level; the
//! half-width on the point's side divided by the normal quantile of that
//! level), so callers that only keep a 95% band (the model registry's
//! pending forecasts) and callers that ask for the detector's level
//! directly are judged alike.
//!
//! Self-calibration: the detector keeps a running mean of the squared
//! residuals in those sigmas (weight [`SPREAD_ALPHA`], each clipped to
//! [`Z_CLIP`]²). When it exceeds 1 the model's bands have been too narrow
//! for this series lately (heavy tails, bursts), and sigma is widened by
//! its square root before either rule judges the point; it never narrows
//! a band. Why: on the NAB series this cut false alarms by two thirds for
//! one labelled window fewer (docs/benchmarks.md).
//!
//! The state ([`DetectorState`]) is serde: the model registry keeps it in
//! the model head, so detection continues across runs and restarts and a
//! point is never judged twice (observations at or before the last one
//! seen are ignored). It also remembers the recent times of points outside
//! the band ([`DetectorState::flagged`]) so that a refit can mask them
//! ([`mask_flagged`]) and anomalies do not poison training; a detected
//! level shift unflags its own points (the new level is the new normal).
//!
//! Non-finite inputs are skipped, never flagged, and never panic.

use serde::{Deserialize, Serialize};

use super::bands::normal_quantile;
use super::ForecastError;

/// Residuals are clipped to this many sigmas before they enter the CUSUM.
pub const Z_CLIP: f64 = 4.0;

/// Weight of the newest point in the running mean of squared residuals
/// (a memory of about 200 points; chosen on NAB, docs/benchmarks.md).
pub const SPREAD_ALPHA: f64 = 0.005;

/// Most flagged times kept for masking (the oldest go first).
pub const MAX_FLAGGED: usize = 2048;

/// How the detector judges points.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct DetectorConfig {
    /// Band level in percent (0, 100): points outside it are outliers.
    pub level: f64,
    /// Outliers in a row before a band anomaly is reported (k >= 1).
    pub consecutive: usize,
    /// CUSUM decision threshold in sigmas (> 0); `0` disables the level-shift rule.
    pub shift_threshold: f64,
    /// CUSUM allowance per step in sigmas (>= 0): residuals smaller than this do not accumulate.
    pub shift_drift: f64,
}

impl Default for DetectorConfig {
    /// The defaults chosen by the NAB measurement (docs/benchmarks.md).
    fn default() -> Self {
        DetectorConfig { level: 99.0, consecutive: 3, shift_threshold: 12.0, shift_drift: 1.0 }
    }
}

impl DetectorConfig {
    /// Checks the ranges documented on the fields.
    pub fn validate(&self) -> Result<(), ForecastError> {
        let bad = |m: String| Err(ForecastError::InvalidParameter(m));
        if !(self.level > 0.0 && self.level < 100.0) {
            return bad(format!("anomaly level {} must be in (0, 100)", self.level));
        }
        if self.consecutive == 0 {
            return bad("anomaly consecutive must be at least 1".into());
        }
        if !self.shift_threshold.is_finite() || self.shift_threshold < 0.0 {
            return bad(format!("anomaly shift threshold {} must be >= 0", self.shift_threshold));
        }
        if !self.shift_drift.is_finite() || self.shift_drift < 0.0 {
            return bad(format!("anomaly shift drift {} must be >= 0", self.shift_drift));
        }
        Ok(())
    }

    /// The band's half-width in sigmas.
    fn z_level(&self) -> f64 {
        z_of(self.level)
    }
}

fn z_of(level: f64) -> f64 {
    normal_quantile(0.5 + level.clamp(1e-6, 100.0 - 1e-6) / 200.0)
}

/// One scored point: the actual and the forecast made for it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The point's time, ns.
    pub time_ns: i64,
    /// The actual value.
    pub value: f64,
    /// The point forecast.
    pub mean: f64,
    /// The band's lower bound.
    pub lower: f64,
    /// The band's upper bound.
    pub upper: f64,
    /// The band's level in percent (e.g. `95.0`).
    pub band_level: f64,
}

/// Which rule fired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AnomalyKind {
    /// Outside the band for k points in a row.
    Band,
    /// A sustained shift of the residuals.
    LevelShift,
}

impl AnomalyKind {
    /// The name written in the `kind` tag: `band` or `level_shift`.
    pub fn as_str(self) -> &'static str {
        match self {
            AnomalyKind::Band => "band",
            AnomalyKind::LevelShift => "level_shift",
        }
    }
}

/// A detected anomaly.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Anomaly {
    /// The rule that fired.
    pub kind: AnomalyKind,
    /// Time of the point that completed the detection, ns.
    pub time_ns: i64,
    /// The actual value there.
    pub value: f64,
    /// The forecast there.
    pub expected: f64,
    /// The band at the detector's level there.
    pub lower: f64,
    /// The band at the detector's level there.
    pub upper: f64,
    /// `band`: |z| of the point; `level_shift`: the CUSUM value (sigmas).
    pub score: f64,
    /// `band`: points outside in a row; `level_shift`: steps the sum accumulated over.
    pub steps: u64,
}

/// What the detector remembers between points (persisted with the model).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DetectorState {
    /// Time of the last point judged, ns (`None` before the first).
    pub last_ns: Option<i64>,
    /// Outliers in a row so far.
    pub run: u64,
    /// Upper CUSUM, sigmas.
    pub cusum_up: f64,
    /// Lower CUSUM, sigmas.
    pub cusum_down: f64,
    /// Time the upper CUSUM left zero, ns.
    pub up_since_ns: Option<i64>,
    /// Time the lower CUSUM left zero, ns.
    pub down_since_ns: Option<i64>,
    /// Steps the running CUSUMs have accumulated over.
    pub up_steps: u64,
    /// Steps the running CUSUMs have accumulated over.
    pub down_steps: u64,
    /// Recent outlier times (ascending), for masking at refit.
    pub flagged: Vec<i64>,
    /// Anomalies reported so far.
    pub reported: u64,
    /// Running mean of the squared residuals in band sigmas (0 = none yet).
    pub spread: f64,
}

impl DetectorState {
    /// Judges one point; returns the anomalies it completes (none, one, or
    /// a band anomaly and a level shift together). Points at or before the
    /// last one judged, and points with a non-finite value, forecast or
    /// band, are ignored.
    pub fn observe(&mut self, cfg: &DetectorConfig, obs: &Observation) -> Vec<Anomaly> {
        if self.last_ns.is_some_and(|last| obs.time_ns <= last) {
            return Vec::new();
        }
        let Some(raw) = standardized(obs) else { return Vec::new() };
        self.last_ns = Some(obs.time_ns);
        let widen = self.spread.max(1.0).sqrt();
        let before = if self.spread > 0.0 { self.spread } else { 1.0 };
        self.spread = before * (1.0 - SPREAD_ALPHA) + SPREAD_ALPHA * raw.powi(2).min(Z_CLIP * Z_CLIP);
        let z = raw / widen;
        let z_level = cfg.z_level();
        let (sigma_lo, sigma_hi) = sigmas(obs);
        let (sigma_lo, sigma_hi) = (sigma_lo * widen, sigma_hi * widen);
        let expected = obs.mean;
        let (lower, upper) = (expected - z_level * sigma_lo, expected + z_level * sigma_hi);
        let mut found = Vec::new();
        let anomaly = |kind, score, steps| Anomaly {
            kind,
            time_ns: obs.time_ns,
            value: obs.value,
            expected,
            lower,
            upper,
            score,
            steps,
        };

        if z.abs() > z_level {
            self.run += 1;
            self.flag(obs.time_ns);
            if self.run == cfg.consecutive as u64 {
                found.push(anomaly(AnomalyKind::Band, z.abs(), self.run));
            }
        } else {
            self.run = 0;
        }

        if cfg.shift_threshold > 0.0 {
            let zc = z.clamp(-Z_CLIP, Z_CLIP);
            let up = (self.cusum_up + zc - cfg.shift_drift).max(0.0);
            let down = (self.cusum_down - zc - cfg.shift_drift).max(0.0);
            track(&mut self.cusum_up, &mut self.up_since_ns, &mut self.up_steps, up, obs.time_ns);
            track(&mut self.cusum_down, &mut self.down_since_ns, &mut self.down_steps, down, obs.time_ns);
            let fired = if self.cusum_up > cfg.shift_threshold {
                Some((self.cusum_up, self.up_since_ns, self.up_steps))
            } else if self.cusum_down > cfg.shift_threshold {
                Some((self.cusum_down, self.down_since_ns, self.down_steps))
            } else {
                None
            };
            if let Some((score, since, steps)) = fired {
                found.push(anomaly(AnomalyKind::LevelShift, score, steps));
                // The new level is the new normal: do not mask it at refit.
                let since = since.unwrap_or(obs.time_ns);
                self.flagged.retain(|t| *t < since);
                self.cusum_up = 0.0;
                self.cusum_down = 0.0;
                (self.up_since_ns, self.down_since_ns, self.up_steps, self.down_steps) = (None, None, 0, 0);
            }
        }
        self.reported += found.len() as u64;
        found
    }

    /// Recent outlier times, ascending (what a refit should mask).
    pub fn flagged(&self) -> &[i64] {
        &self.flagged
    }

    fn flag(&mut self, time_ns: i64) {
        if self.flagged.last().is_none_or(|last| *last < time_ns) {
            self.flagged.push(time_ns);
        }
        let over = self.flagged.len().saturating_sub(MAX_FLAGGED);
        self.flagged.drain(..over);
    }
}

fn track(sum: &mut f64, since: &mut Option<i64>, steps: &mut u64, new: f64, time_ns: i64) {
    if new > 0.0 {
        if *sum <= 0.0 {
            *since = Some(time_ns);
            *steps = 0;
        }
        *steps += 1;
    } else {
        *since = None;
        *steps = 0;
    }
    *sum = new;
}

/// The sigmas below and above the mean implied by the observation's band
/// (floored so that a zero-width band on a constant series does not turn
/// rounding noise into infinite residuals).
fn sigmas(obs: &Observation) -> (f64, f64) {
    let z = z_of(obs.band_level);
    let floor = 1e-9 * obs.mean.abs().max(1.0);
    let hi = ((obs.upper - obs.mean) / z).max(floor);
    let mut lo = ((obs.mean - obs.lower) / z).max(floor);
    // A lower bound clipped at zero (non-negative series) understates the
    // spread below the mean: use the upper side's.
    if obs.lower == 0.0 && obs.mean > 0.0 {
        lo = lo.max(hi);
    }
    (lo, hi)
}

/// The residual in sigmas (`None` when anything is not finite).
fn standardized(obs: &Observation) -> Option<f64> {
    let finite = [obs.value, obs.mean, obs.lower, obs.upper, obs.band_level].iter().all(|v| v.is_finite());
    let level_ok = obs.band_level > 0.0 && obs.band_level < 100.0;
    if !(finite && level_ok) {
        return None;
    }
    let (lo, hi) = sigmas(obs);
    let r = obs.value - obs.mean;
    // Rounding noise relative to the values is not a residual.
    if r.abs() <= 1e-12 * obs.value.abs().max(obs.mean.abs()).max(1.0) {
        return Some(0.0);
    }
    let z = if r > 0.0 { r / hi } else { r / lo };
    z.is_finite().then_some(z)
}

/// `values` (step `i` at `start_ns + i * step_ns`) with the steps at the
/// `flagged` times set to `NaN`, and how many were masked. Models treat
/// `NaN` as a gap, so flagged points do not enter a refit.
pub fn mask_flagged(values: &[f64], start_ns: i64, step_ns: i64, flagged: &[i64]) -> (Vec<f64>, usize) {
    let mut out = values.to_vec();
    let mut masked = 0;
    if step_ns <= 0 {
        return (out, 0);
    }
    for t in flagged {
        let Some(offset) = t.checked_sub(start_ns).filter(|o| *o >= 0 && o % step_ns == 0) else { continue };
        if let Some(v) = usize::try_from(offset / step_ns).ok().and_then(|i| out.get_mut(i)) {
            if v.is_finite() {
                *v = f64::NAN;
                masked += 1;
            }
        }
    }
    (out, masked)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn obs(t: i64, value: f64, mean: f64, half95: f64) -> Observation {
        Observation { time_ns: t, value, mean, lower: mean - half95, upper: mean + half95, band_level: 95.0 }
    }

    /// Feeds `values` with a naive one-step forecast (the previous value)
    /// and a band of fixed half-width; returns the anomalies.
    fn run(cfg: &DetectorConfig, values: &[f64], half95: f64) -> Vec<Anomaly> {
        let mut state = DetectorState::default();
        let mut out = Vec::new();
        for (i, w) in values.windows(2).enumerate() {
            out.extend(state.observe(cfg, &obs(i as i64 + 1, w[1], w[0], half95)));
        }
        out
    }

    #[test]
    fn band_rule_needs_k_in_a_row_and_reports_once_per_run() {
        let cfg = DetectorConfig { level: 99.0, consecutive: 3, shift_threshold: 0.0, shift_drift: 1.0 };
        let mut s = DetectorState::default();
        // sigma = 1 (95% half-width 1.96); the 99% band is ±2.576.
        let pattern = [0.0, 5.0, 5.0, 0.0, 5.0, 5.0, 5.0, 5.0, 5.0, 0.0];
        let found: Vec<Anomaly> =
            pattern.iter().enumerate().flat_map(|(i, v)| s.observe(&cfg, &obs(i as i64, *v, 0.0, 1.959964))).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        let a = found[0];
        assert_eq!((a.kind, a.time_ns, a.steps), (AnomalyKind::Band, 6, 3));
        // Widened a little by the outliers before it (self-calibration).
        assert!(a.score > 4.0 && a.score <= 5.0 + 1e-6, "{a:?}");
        assert!(a.upper >= 2.5758 && a.upper < 3.0, "{a:?}");
        assert_eq!(s.flagged(), &[1, 2, 4, 5, 6, 7, 8]);
        // Already judged times are ignored.
        assert!(s.observe(&cfg, &obs(8, 100.0, 0.0, 1.0)).is_empty());
    }

    #[test]
    fn cusum_finds_a_shift_inside_the_band_and_unflags_it() {
        let cfg = DetectorConfig { level: 99.0, consecutive: 3, shift_threshold: 5.0, shift_drift: 0.5 };
        let mut s = DetectorState::default();
        let mut found = Vec::new();
        // Residuals of +2 sigma (inside the 99% band) from t = 10 on.
        for t in 0..30 {
            let r = if t >= 10 { 2.0 } else { 0.1 * ((t % 3) as f64 - 1.0) };
            found.extend(s.observe(&cfg, &obs(t, r, 0.0, 1.959964)));
        }
        assert!(found.iter().all(|a| a.kind == AnomalyKind::LevelShift), "{found:?}");
        assert_eq!(found[0].time_ns, 13, "{found:?}");
        assert_eq!(found[0].steps, 4);
        // A spike on top of the old level: flagged for masking.
        s.observe(&cfg, &obs(40, 50.0, 0.0, 1.96));
        assert_eq!(s.flagged(), &[40]);
    }

    #[test]
    fn a_single_spike_does_not_trip_the_cusum() {
        let cfg = DetectorConfig::default();
        let mut values = vec![10.0; 100];
        values[50] = 1e6;
        let found = run(&cfg, &values, 1.0);
        assert!(found.is_empty(), "{found:?}");
    }

    #[test]
    fn state_round_trips_through_serde() {
        let cfg = DetectorConfig::default();
        let mut s = DetectorState::default();
        for t in 0..20 {
            s.observe(&cfg, &obs(t, if t > 15 { 9.0 } else { 0.0 }, 0.0, 1.0));
        }
        let json = serde_json::to_string(&s).expect("json");
        let back: DetectorState = serde_json::from_str(&json).expect("back");
        assert_eq!(back, s);
        let empty: DetectorState = serde_json::from_str("{}").expect("defaults");
        assert_eq!(empty, DetectorState::default());
    }

    #[test]
    fn validates_config() {
        assert!(DetectorConfig::default().validate().is_ok());
        for bad in [
            DetectorConfig { level: 100.0, ..DetectorConfig::default() },
            DetectorConfig { level: f64::NAN, ..DetectorConfig::default() },
            DetectorConfig { consecutive: 0, ..DetectorConfig::default() },
            DetectorConfig { shift_threshold: -1.0, ..DetectorConfig::default() },
            DetectorConfig { shift_drift: f64::INFINITY, ..DetectorConfig::default() },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn masks_flagged_steps_on_the_grid() {
        let (masked, n) = mask_flagged(&[1.0, 2.0, f64::NAN, 4.0], 100, 10, &[90, 110, 115, 120, 130, 500]);
        assert_eq!(n, 2);
        assert!(masked[0] == 1.0 && masked[1].is_nan() && masked[2].is_nan() && masked[3].is_nan());
        assert_eq!(mask_flagged(&[1.0], 0, 0, &[0]).1, 0);
    }

    proptest! {
        #[test]
        fn never_panics_on_arbitrary_input(
            points in proptest::collection::vec(
                (any::<f64>(), any::<f64>(), any::<f64>(), any::<f64>(), any::<f64>()), 0..200),
            level in any::<f64>(), k in 0usize..5, threshold in any::<f64>(),
        ) {
            let cfg = DetectorConfig { level, consecutive: k, shift_threshold: threshold, shift_drift: 0.5 };
            let mut s = DetectorState::default();
            for (i, (value, mean, lower, upper, band_level)) in points.into_iter().enumerate() {
                for a in s.observe(&cfg, &Observation { time_ns: i as i64, value, mean, lower, upper, band_level }) {
                    prop_assert!(a.value.is_finite() && a.expected.is_finite());
                }
            }
            let _ = mask_flagged(&[1.0, f64::NAN], i64::MIN, 1, &[i64::MAX, i64::MIN]);
        }

        #[test]
        fn never_flags_a_constant_series(
            c in -1e12f64..1e12, half in 0.0f64..1e3, n in 1usize..400, rounding in -1e-13f64..1e-13,
        ) {
            let cfg = DetectorConfig::default();
            let mut s = DetectorState::default();
            for t in 0..n {
                let found = s.observe(&cfg, &obs(t as i64, c, c * (1.0 + rounding), half));
                prop_assert!(found.is_empty(), "{:?}", found);
            }
            prop_assert!(s.flagged().is_empty());
        }

        #[test]
        fn flags_an_injected_shift_within_a_few_steps(
            level in -1e3f64..1e3, noise_seed in 0u64..1000, shift_sigmas in prop_oneof![-8.0f64..-3.0, 3.0f64..8.0],
        ) {
            // Unit-sigma noise around `level`, forecast perfectly (mean = level),
            // then a shift of `shift_sigmas` that the forecast has not seen.
            let cfg = DetectorConfig::default();
            let noise = crate::forecast::test_util::noise(400, noise_seed);
            let mut s = DetectorState::default();
            let mut first = None;
            for (t, n) in noise.iter().enumerate() {
                let shift = if t >= 300 { shift_sigmas } else { 0.0 };
                let value = level + shift + 2.0 * n; // |noise| < 1 sigma
                let found = s.observe(&cfg, &obs(t as i64, value, level, 1.959964));
                if !found.is_empty() && first.is_none() {
                    first = Some(t);
                }
            }
            let first = first.expect("detected");
            prop_assert!((300..300 + 20).contains(&first), "first detection at {}", first);
        }
    }
}
