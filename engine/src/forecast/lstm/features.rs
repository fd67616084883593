//! What the network sees at each step: the value, scaled per series, and
//! four calendar features (time of day and day of week as sine/cosine pairs).
//!
//! Why these: server load follows the clock — a window of the last hours
//! cannot show yesterday's peak, but the phase of the day and week tell the
//! network where in the cycle it stands. Sine/cosine pairs make midnight
//! adjacent to 23:55. Scaling per series (median and mean absolute deviation of its
//! training history) lets one set of weights serve series of any level and
//! unit (the global model) while keeping each series' absolute level, which
//! together with the calendar carries its daily profile.
//!
//! Without a known grid step ([`FitOptions::step_ns`] is `None`) the "day"
//! is the series' first seasonal period (given or detected) and the "week"
//! seven of those; without either, the calendar features are zero.

use serde::{Deserialize, Serialize};

use super::super::{FitOptions, DAY_NS};

/// Features per step: the scaled value and four calendar features.
pub const FEATURES: usize = 5;

const WEEK_NS: i64 = 7 * DAY_NS;
/// 1970-01-01 was a Thursday: shifting by three days makes the week start on Monday.
const MONDAY_SHIFT_NS: i64 = 3 * DAY_NS;

/// How a step's absolute grid index maps to a phase of the day and week.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calendar {
    /// The grid step in nanoseconds, when known.
    pub step_ns: Option<i64>,
    /// The fallback "day" length in steps when the step is unknown (0 = none).
    pub period: usize,
}

impl Calendar {
    /// The calendar for a history fitted with `options`; `detected` are the
    /// seasonal periods found in the data (used only without a step).
    pub fn new(options: &FitOptions, detected: &[usize]) -> Self {
        let step_ns = options.step_ns.filter(|s| *s > 0);
        let period = options.seasons.first().or(detected.first()).copied().filter(|p| *p >= 2).unwrap_or(0);
        Self { step_ns, period }
    }

    /// The four calendar features of the step with absolute grid index `index`.
    pub fn features(&self, index: i64) -> [f32; 4] {
        let tau = std::f64::consts::TAU;
        let (day, week) = match (self.step_ns, self.period) {
            (Some(step), _) => {
                let t = index.wrapping_mul(step);
                (
                    t.rem_euclid(DAY_NS) as f64 / DAY_NS as f64,
                    t.wrapping_add(MONDAY_SHIFT_NS).rem_euclid(WEEK_NS) as f64 / WEEK_NS as f64,
                )
            }
            (None, 0) => return [0.0; 4],
            (None, p) => {
                let p = p as i64;
                (index.rem_euclid(p) as f64 / p as f64, index.rem_euclid(7 * p) as f64 / (7 * p) as f64)
            }
        };
        [(tau * day).sin() as f32, (tau * day).cos() as f32, (tau * week).sin() as f32, (tau * week).cos() as f32]
    }
}

/// Per-series affine scaling: `z = (y - mean) / sd` (`mean` is the median,
/// `sd` the mean absolute deviation: see [`Scaler::of`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    /// The mean of the series' finite values.
    pub mean: f64,
    /// Their standard deviation (positive).
    pub sd: f64,
}

impl Scaler {
    /// The scaler of `values`' finite entries: centred on the median and
    /// scaled by the mean absolute deviation from it (robust to the spikes
    /// of server metrics, and free of overflow on huge values); `None` when
    /// there is no finite value or they are all (numerically) equal.
    pub fn of(values: &[f64]) -> Option<Self> {
        let mean = super::super::prep::median(values);
        let (mut n, mut dev) = (0usize, 0.0);
        for v in values.iter().filter(|v| v.is_finite()) {
            n += 1;
            dev += (v - mean).abs() / 1e6;
        }
        let sd = dev / n.max(1) as f64 * 1e6;
        (n > 0 && sd.is_finite() && mean.is_finite() && sd > 1e-9 * mean.abs().max(1e-300)).then_some(Self { mean, sd })
    }

    /// `y` in scaled units.
    pub fn scale(&self, y: f64) -> f64 {
        (y - self.mean) / self.sd
    }

    /// A scaled value back in the series' units.
    pub fn unscale(&self, z: f64) -> f64 {
        self.mean + self.sd * z
    }
}

/// Writes the input rows (one per step, [`FEATURES`] wide) of the steps
/// `first..first + z.len()` whose scaled values are `z`.
pub fn rows(z: &[f64], first_index: i64, calendar: &Calendar, out: &mut Vec<f32>) {
    for (i, &v) in z.iter().enumerate() {
        let c = calendar.features(first_index.wrapping_add(i as i64));
        // Clamped so that one absurd spike cannot saturate every gate.
        out.push(v.clamp(-50.0, 50.0) as f32);
        out.extend_from_slice(&c);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_from_step_and_from_period() {
        let hourly = Calendar { step_ns: Some(3_600_000_000_000), period: 0 };
        // Index 6 = 06:00 on Thursday 1970-01-01: a quarter of the day.
        let f = hourly.features(6);
        assert!((f[0] - 1.0).abs() < 1e-6 && f[1].abs() < 1e-6, "{f:?}");
        // Monday 00:00 (1970-01-05) is phase 0 of the week.
        let f = hourly.features(4 * 24);
        assert!(f[2].abs() < 1e-6 && (f[3] - 1.0).abs() < 1e-6, "{f:?}");
        let by_period = Calendar { step_ns: None, period: 24 };
        let f = by_period.features(6);
        assert!((f[0] - 1.0).abs() < 1e-6 && f[1].abs() < 1e-6, "{f:?}");
        assert_eq!(by_period.features(6 + 24 * 7), f);
        assert_eq!(Calendar { step_ns: None, period: 0 }.features(5), [0.0; 4]);
        let opts = FitOptions { seasons: vec![48], ..Default::default() };
        assert_eq!(Calendar::new(&opts, &[24]).period, 48);
        assert_eq!(Calendar::new(&FitOptions::default(), &[24]).period, 24);
    }

    #[test]
    fn scaler_round_trips_and_rejects_constant() {
        let s = Scaler::of(&[1.0, f64::NAN, 3.0, 2.0]).unwrap();
        assert_eq!(s.mean, 2.0);
        assert!((s.sd - 2.0 / 3.0).abs() < 1e-12);
        assert!(Scaler::of(&[1e300, -1e300, 0.0]).is_some_and(|s| s.sd.is_finite()));
        assert_eq!(s.unscale(s.scale(7.5)), 7.5);
        assert!(Scaler::of(&[4.0; 10]).is_none());
        assert!(Scaler::of(&[f64::NAN]).is_none());
    }
}
