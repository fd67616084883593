//! Live error: the forecasts earlier runs made, scored against the
//! actuals that have arrived since.
//!
//! Why every (origin, step) pair and not only the latest forecast of a
//! time: the backtest a version is stored with averages the error over
//! every step of the horizon; scoring only one-step-ahead forecasts live
//! would read lower than the backtest and hide drift. So each run's whole
//! forecast stays pending until its times have actuals.

use serde::{Deserialize, Serialize};

/// Most forecasts kept pending per model (the oldest go first).
pub const MAX_PENDING: usize = 20_000;

/// A forecast not scored yet.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The forecast time, ns.
    pub time_ns: i64,
    /// The point forecast.
    pub mean: f64,
    /// The 95% band.
    pub lower95: f64,
    /// The 95% band.
    pub upper95: f64,
}

/// Accumulated live error of one model version.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LiveStats {
    /// Sum of absolute errors.
    pub abs_err: f64,
    /// Forecasts scored.
    pub points: u64,
    /// Of those, actuals inside the 95% band.
    pub inside95: u64,
}

impl LiveStats {
    /// Mean absolute error divided by `scale` (`None` without points or scale).
    pub fn mase(&self, scale: Option<f64>) -> Option<f64> {
        let scale = scale.filter(|s| *s > 0.0 && s.is_finite())?;
        (self.points > 0).then(|| self.abs_err / self.points as f64 / scale)
    }

    /// Share of actuals inside the 95% band (`None` without points).
    pub fn coverage95(&self) -> Option<f64> {
        (self.points > 0).then(|| self.inside95 as f64 / self.points as f64)
    }

    /// Scores every pending forecast whose time is at or before `last_ns`
    /// against `actual(time)` and removes it (also when the actual is
    /// missing: a forecast for an empty bucket cannot be scored later).
    pub fn score(&mut self, pending: &mut Vec<Pending>, last_ns: i64, actual: impl Fn(i64) -> Option<f64>) {
        pending.retain(|p| {
            if p.time_ns > last_ns {
                return true;
            }
            if let Some(a) = actual(p.time_ns).filter(|a| a.is_finite()) {
                self.abs_err += (a - p.mean).abs();
                self.points += 1;
                self.inside95 += u64::from(a >= p.lower95 && a <= p.upper95);
            }
            false
        });
    }
}

/// Adds forecasts to the pending list, keeping at most [`MAX_PENDING`].
pub fn push_pending(pending: &mut Vec<Pending>, new: impl IntoIterator<Item = Pending>) {
    pending.extend(new.into_iter().filter(|p| p.mean.is_finite() && p.lower95.is_finite() && p.upper95.is_finite()));
    let over = pending.len().saturating_sub(MAX_PENDING);
    pending.drain(..over);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(t: i64, mean: f64) -> Pending {
        Pending { time_ns: t, mean, lower95: mean - 1.0, upper95: mean + 1.0 }
    }

    #[test]
    fn scores_due_forecasts_once() {
        let mut live = LiveStats::default();
        let mut pending = vec![p(1, 10.0), p(2, 10.0), p(2, 11.0), p(3, 10.0)];
        live.score(&mut pending, 2, |t| if t == 1 { Some(10.5) } else { Some(13.0) });
        assert_eq!(pending, vec![p(3, 10.0)]);
        assert_eq!(live.points, 3);
        assert_eq!(live.inside95, 1);
        assert!((live.abs_err - (0.5 + 3.0 + 2.0)).abs() < 1e-12);
        assert_eq!(live.mase(Some(0.5)), Some(5.5 / 3.0 / 0.5));
        assert_eq!(live.mase(None), None);
        assert_eq!(LiveStats::default().mase(Some(1.0)), None);
        // A missing actual drops the forecast without scoring it.
        live.score(&mut pending, 3, |_| None);
        assert!(pending.is_empty());
        assert_eq!(live.points, 3);
        push_pending(&mut pending, (0..MAX_PENDING as i64 + 5).map(|t| p(t, 1.0)).chain([p(0, f64::NAN)]));
        assert_eq!(pending.len(), MAX_PENDING);
        assert_eq!(pending[0].time_ns, 5);
    }
}
