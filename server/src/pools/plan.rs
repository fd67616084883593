//! Long-term capacity planning: forecast each dimension's daily peak over a
//! horizon (weeks) and say on which day the pool's `max` will be reached.
//!
//! Why daily peaks and not the minute-level forecast: allocation answers
//! "how many units in ten minutes", planning answers "when do we need a
//! bigger pool (or a bigger budget)". A day's peak is what capacity must
//! meet; its trend and weekly season are what a model can extrapolate for
//! weeks, where a minute-level model would only repeat its last season.
//! The peak forecast goes through the same margin and cheapest-mix logic
//! as allocation, so "units needed" means the same thing in both.

use std::collections::BTreeMap;

use augur_engine::forecast::{registry, FitOptions};
use augur_engine::storage::Store;
use augur_query::time::format_rfc3339_nano;
use serde::Serialize;

use super::demand::history_of;
use super::mix::cheapest_mix;
use super::spec::{Dimension, PoolSpec, Vector, MAX_UNITS};

/// Nanoseconds in a day.
pub const DAY: i64 = 86_400_000_000_000;
/// Fewest complete days of history a plan is made from.
pub const MIN_DAYS: usize = 3;
/// Longest horizon a plan may look ahead.
pub const MAX_HORIZON_DAYS: i64 = 366;

/// One planned day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlannedDay {
    /// The day (UTC, RFC 3339 midnight).
    pub date: String,
    /// The forecast daily peak per dimension, at the pool's quantile.
    pub peak: Vector,
    /// Peak plus margin.
    pub required: Vector,
    /// Units the cheapest mix needs for it (beyond `max` when it exceeds it).
    pub units: u32,
    /// Hourly cost of that mix.
    pub cost_per_hour: f64,
    /// Whether it needs more than `max` units.
    pub exceeds_max: bool,
}

/// A capacity plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Complete days of history the plan learned from (the fewest over dimensions).
    pub history_days: usize,
    /// The observed peak of the last complete day, per dimension.
    pub last_peak: Vector,
    /// The days ahead.
    pub days: Vec<PlannedDay>,
    /// The pool's `max`.
    pub max: u32,
    /// The first day needing more than `max` units, if within the horizon.
    pub max_reached_at: Option<String>,
    /// The plan in one sentence.
    pub summary: String,
}

/// Why no plan could be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PlanError {
    /// The horizon is not between one day and a year.
    #[error("horizon must be between 1d and {MAX_HORIZON_DAYS}d")]
    Horizon,
    /// Too little history.
    #[error("{dimension}: {days} complete days of history, a plan needs at least {MIN_DAYS}")]
    TooShort {
        /// The dimension.
        dimension: Dimension,
        /// Complete days found.
        days: usize,
    },
    /// The demand query or the model failed.
    #[error("{dimension}: {reason}")]
    Failed {
        /// The dimension.
        dimension: Dimension,
        /// What failed.
        reason: String,
    },
}

/// Daily maxima of complete UTC days before `now`'s day, oldest first
/// (`NaN` for a day without data between days with data).
fn daily_peaks(values: &BTreeMap<i64, f64>, now: i64) -> Vec<(i64, f64)> {
    let today = now.div_euclid(DAY) * DAY;
    let mut peaks: BTreeMap<i64, f64> = BTreeMap::new();
    for (t, v) in values.range(..today) {
        let day = t.div_euclid(DAY) * DAY;
        let peak = peaks.entry(day).or_insert(f64::NEG_INFINITY);
        *peak = peak.max(*v);
    }
    let (Some(first), Some(last)) = (peaks.keys().next().copied(), peaks.keys().next_back().copied()) else {
        return Vec::new();
    };
    (0..=(last - first) / DAY)
        .map(|i| {
            let day = first + i * DAY;
            (day, peaks.get(&day).copied().unwrap_or(f64::NAN))
        })
        .collect()
}

/// Plans `horizon_days` ahead from `history` of demand, as of `now`.
pub fn plan(store: &Store, spec: &PoolSpec, horizon_days: i64, history: i64, now: i64) -> Result<Plan, PlanError> {
    if !(1..=MAX_HORIZON_DAYS).contains(&horizon_days) {
        return Err(PlanError::Horizon);
    }
    let h = horizon_days as usize;
    let level = spec.safety.band_level();
    let mut peaks_ahead: BTreeMap<Dimension, Vec<f64>> = BTreeMap::new();
    let mut last_peak = Vector::new();
    let mut history_days = usize::MAX;
    for (dimension, source) in &spec.demand {
        let failed = |reason: String| PlanError::Failed { dimension: *dimension, reason };
        let (values, _) = history_of(store, source, history, now).map_err(failed)?;
        let peaks = daily_peaks(&values, now);
        let days = peaks.iter().filter(|(_, v)| v.is_finite()).count();
        if days < MIN_DAYS {
            return Err(PlanError::TooShort { dimension: *dimension, days });
        }
        history_days = history_days.min(days);
        if let Some((_, v)) = peaks.iter().rev().find(|(_, v)| v.is_finite()) {
            last_peak.insert(*dimension, *v);
        }
        let ys: Vec<f64> = peaks.iter().map(|(_, v)| *v).collect();
        let mut model = registry::by_name("auto").ok_or_else(|| failed("no auto model".into()))?;
        let seasons = if days >= 21 { vec![7] } else { vec![] };
        let origin = peaks.first().map(|(t, _)| t.div_euclid(DAY));
        model
            .fit(&ys, &FitOptions { seasons, origin_index: origin, step_ns: Some(DAY), ..Default::default() })
            .map_err(|e| failed(e.to_string()))?;
        let levels: Vec<f64> = level.into_iter().collect();
        let prediction = model.predict(h, &levels).map_err(|e| failed(e.to_string()))?;
        let ahead = match prediction.bands.first() {
            Some(band) => band.upper.clone(),
            None => prediction.mean,
        };
        peaks_ahead.insert(*dimension, ahead.into_iter().map(|v| v.max(0.0)).collect());
    }
    let today = now.div_euclid(DAY) * DAY;
    let mut days = Vec::with_capacity(h);
    let mut max_reached_at = None;
    for i in 0..h {
        let peak: Vector = peaks_ahead.iter().map(|(d, v)| (*d, v.get(i).copied().unwrap_or(0.0))).collect();
        let required: Vector = peak.iter().map(|(d, v)| (*d, spec.safety.with_margin(*v))).collect();
        let (units, cost) = cheapest_mix(&spec.shapes, &spec.dimensions, &required, MAX_UNITS)
            .map_or((MAX_UNITS, f64::INFINITY), |m| (m.units() + spec.warm, m.cost));
        let units = units.max(spec.min);
        let date = format_rfc3339_nano(today + i as i64 * DAY);
        let exceeds_max = units > spec.max;
        if exceeds_max && max_reached_at.is_none() {
            max_reached_at = Some(date.clone());
        }
        days.push(PlannedDay { date, peak, required, units, cost_per_hour: cost, exceeds_max });
    }
    let summary = match &max_reached_at {
        Some(date) => format!("max ({} units) is reached on {date} at the forecast trend", spec.max),
        None => {
            let most = days.iter().map(|d| d.units).max().unwrap_or(0);
            format!("max ({} units) holds for {horizon_days} days: the busiest day needs {most}", spec.max)
        }
    };
    Ok(Plan { history_days, last_peak, days, max: spec.max, max_reached_at, summary })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_are_per_complete_utc_day_with_gaps() {
        let mut values = BTreeMap::new();
        values.insert(0, 1.0);
        values.insert(DAY / 2, 5.0);
        values.insert(2 * DAY + 10, 3.0);
        values.insert(3 * DAY + 10, 9.0); // today: not complete
        let peaks = daily_peaks(&values, 3 * DAY + 100);
        assert_eq!(peaks.len(), 3);
        assert_eq!(peaks[0], (0, 5.0));
        assert!(peaks[1].1.is_nan());
        assert_eq!(peaks[2], (2 * DAY, 3.0));
        assert!(daily_peaks(&BTreeMap::new(), 0).is_empty());
    }
}
