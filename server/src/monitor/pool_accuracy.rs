//! How well each pool's forecasts matched what then happened: every
//! forecast a pool cycle acted on is kept until its lead time has passed,
//! then compared with the highest usage seen meanwhile.
//!
//! Why the peak: a pool's forecast is the highest demand expected up to
//! `now + lead_time` (at its quantile), and the capacity it buys must cover
//! every moment of that window, so the fair actual is the window's peak.
//! The result is one `pool_accuracy` point per forecast in `_internal`:
//! `forecast`, `actual_peak`, `error` (`actual_peak − forecast`: positive
//! means under-forecast), `abs_error`, `relative_error` and `covered` (1
//! when the peak stayed within the forecast — over many points, the
//! coverage of the pool's quantile).
//!
//! Pending forecasts live in memory: after a restart the forecasts made
//! before it are not scored (they would be compared with a peak that
//! misses the downtime).

use std::collections::{BTreeMap, VecDeque};

use augur_engine::model::{FieldValue, Point};
use parking_lot::Mutex;

use super::snapshot::point;
use crate::pools::manager::PoolRecord;

/// Forecasts kept per pool and dimension at most (the oldest go first).
pub const MAX_PENDING: usize = 10_000;

/// A forecast waiting for its window to pass.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Pending {
    /// When it was made, ns.
    made_ns: i64,
    /// When its window ends (`made + lead_time`), ns.
    due_ns: i64,
    /// The forecast (peak demand expected in the window).
    forecast: f64,
    /// The highest usage seen since it was made.
    peak: f64,
}

/// Pending forecasts by (tenant, pool, dimension).
#[derive(Debug, Default)]
pub struct PoolAccuracy {
    pending: Mutex<BTreeMap<(String, String, String), VecDeque<Pending>>>,
}

impl PoolAccuracy {
    /// Nothing pending.
    pub fn new() -> PoolAccuracy {
        PoolAccuracy::default()
    }

    /// Records the cycle at `now_ns`: this cycle's usage raises every
    /// pending forecast's peak, forecasts whose window has passed become
    /// `pool_accuracy` points, and this cycle's forecast starts waiting.
    pub fn observe(&self, record: &PoolRecord, now_ns: i64) -> Vec<Point> {
        let spec = &record.spec;
        let mut out = Vec::new();
        let mut all = self.pending.lock();
        for (dimension, reading) in &record.readings {
            let key = (spec.tenant.clone(), spec.name.clone(), dimension.name().to_string());
            let queue = all.entry(key).or_default();
            if let Some(usage) = reading.usage.filter(|u| u.is_finite()) {
                for p in queue.iter_mut() {
                    p.peak = p.peak.max(usage);
                }
            }
            while queue.front().is_some_and(|p| p.due_ns <= now_ns) {
                let Some(p) = queue.pop_front() else { break };
                if !p.peak.is_finite() {
                    continue; // no usage seen in the window: nothing to compare with
                }
                let error = p.peak - p.forecast;
                let mut fields = vec![
                    ("abs_error".to_string(), FieldValue::Float(error.abs())),
                    ("actual_peak".to_string(), FieldValue::Float(p.peak)),
                    ("covered".to_string(), FieldValue::Integer(i64::from(p.peak <= p.forecast))),
                    ("error".to_string(), FieldValue::Float(error)),
                    ("forecast".to_string(), FieldValue::Float(p.forecast)),
                ];
                if p.peak.abs() > f64::EPSILON {
                    fields.push(("relative_error".to_string(), FieldValue::Float(error / p.peak)));
                }
                let tags = vec![
                    ("dimension".to_string(), dimension.name().to_string()),
                    ("pool".to_string(), spec.name.clone()),
                    ("tenant".to_string(), spec.tenant.clone()),
                ];
                // Stamped with the time the forecast was made, so it lines up
                // with the `pool` point of the decision it drove.
                out.push(point("pool_accuracy", tags, fields, p.made_ns));
            }
            if let Some(forecast) = reading.forecast.filter(|f| f.is_finite()) {
                if queue.len() >= MAX_PENDING {
                    queue.pop_front();
                }
                let due_ns = now_ns.saturating_add(spec.lead_time.max(0));
                queue.push_back(Pending { made_ns: now_ns, due_ns, forecast, peak: f64::NEG_INFINITY });
            }
        }
        out
    }
}
