//! A bounded in-memory cache of the models that ad-hoc forecasts fit, so a
//! forecast asked again as new buckets close rolls its model forward with
//! [`Forecaster::update`] instead of fitting it again from scratch.
//!
//! Why: a dashboard panel or a pool's demand reading asks the same
//! `forecast()` every interval over a window that slides by a step or two.
//! A refit costs milliseconds per group (seconds for the LSTM), and it
//! throws away what the fitted object learned since its fit: the `auto`
//! ensemble re-weights its members from their live errors after a level
//! shift, and that lives only in the object. This is also how the
//! rolling-origin protocol of the accuracy baselines works (refit now and
//! then, update in between).
//!
//! The continuous-forecast registry ([`super::store`]) keeps models in
//! RocksDB with versions, scores and rollback; this cache is its light
//! sibling for ad-hoc queries: nothing persisted, nothing listed in
//! `SHOW MODELS`, lost on restart (the next query fits again).
//!
//! A cached model is reused only when all of these hold, else the caller
//! fits a fresh one and it replaces the entry:
//! * the key is the same (the caller puts in it everything that selects the
//!   series and the model: store, query without its time bounds, group,
//!   model, seasons, grid step);
//! * the new history starts no earlier and ends no earlier than the one the
//!   model saw (a forecast "as of" an earlier moment fits afresh);
//! * every step the two histories share is bit-for-bit the same (a late
//!   point, a `DELETE` or a rewrite inside the window forces a refit);
//! * fewer than [`refit_after`] steps have been absorbed since the fit.

use std::collections::HashMap;
use std::sync::OnceLock;

use parking_lot::Mutex;

use super::{FitOptions, ForecastError, Forecaster, Prediction, DAY_NS};

/// Entries the process-wide cache holds unless configured otherwise. A
/// fitted `auto` model of a 4,032-step history is about 25 KB (its saved
/// form), so the default costs some 25 MB of models besides the histories.
pub const DEFAULT_ENTRIES: usize = 1024;

/// Most history values all entries together keep for their overlap checks
/// (8 bytes each: 64 MiB).
pub const MAX_KEPT_VALUES: usize = 8 << 20;

/// Fewest steps a cached model absorbs before it is fitted again.
pub const MIN_REFIT_AFTER: usize = 12;

/// Steps a model fitted on `fit_len` steps of `step_ns` each absorbs before
/// it is fitted again: a fourteenth of its history (a day of 5-minute steps
/// for a 14-day window), but never more than a day of steps, at least
/// [`MIN_REFIT_AFTER`]. Why a day: that is the rhythm of the accuracy
/// baselines ("re-fitted about once a day of data"); a fourteenth alone
/// waited two days on four weeks of half-hours (`nyc_taxi`).
pub fn refit_after(fit_len: usize, step_ns: Option<i64>) -> usize {
    let day = step_ns.filter(|&s| s > 0).map_or(usize::MAX, |s| usize::try_from(DAY_NS / s).unwrap_or(usize::MAX));
    (fit_len / 14).min(day).max(MIN_REFIT_AFTER)
}

/// What a cached model has seen.
struct Entry {
    model: Box<dyn Forecaster>,
    /// Grid index of `seen[0]`.
    start: i64,
    /// The history as of the last fit or update.
    seen: Vec<f64>,
    /// Steps it may absorb before a refit ([`refit_after`]).
    budget: usize,
    /// Steps absorbed by `update()` since.
    updated: usize,
    /// Last use, for eviction.
    used: u64,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    kept_values: usize,
    tick: u64,
    hits: u64,
    misses: u64,
}

/// Counters of a [`FitCache`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Models held now.
    pub entries: usize,
    /// Forecasts served by rolling a cached model forward.
    pub hits: u64,
    /// Forecasts that fitted a model (no entry, or one that could not be used).
    pub misses: u64,
}

/// Whether a forecast reused a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A model was fitted on the whole history.
    Fitted,
    /// A cached model absorbed this many new steps.
    Updated(usize),
}

/// The cache. Safe to share between threads; a model is taken out while a
/// forecast uses it, so two concurrent forecasts of one key simply both fit.
pub struct FitCache {
    capacity: usize,
    state: Mutex<State>,
}

impl FitCache {
    /// A cache of at most `capacity` models (0 = caching off).
    pub fn new(capacity: usize) -> FitCache {
        FitCache { capacity, state: Mutex::new(State::default()) }
    }

    /// Hits, misses and entries so far.
    pub fn stats(&self) -> CacheStats {
        let s = self.state.lock();
        CacheStats { entries: s.entries.len(), hits: s.hits, misses: s.misses }
    }

    /// Forecasts `horizon` steps after `values` (grid indices `start..`):
    /// rolls the model cached under `key` forward when it can be used, else
    /// fits the model `make` builds with `options`; the model is cached
    /// afterwards either way (with `values`, kept for the next overlap check).
    #[allow(clippy::too_many_arguments)]
    pub fn forecast(
        &self,
        key: &str,
        start: i64,
        values: Vec<f64>,
        make: impl FnOnce() -> Box<dyn Forecaster>,
        options: &FitOptions,
        horizon: usize,
        levels: &[f64],
    ) -> Result<(Prediction, Source), ForecastError> {
        if let Some((mut model, from, budget, updated)) = self.take(key, start, &values) {
            let absorbed = values.len() - from;
            if model.update(&values[from..]).is_ok() {
                if let Ok(prediction) = model.predict(horizon, levels) {
                    self.put(key, start, values, model, budget, updated + absorbed);
                    return Ok((prediction, Source::Updated(absorbed)));
                }
            }
        }
        let carried = self.band_scales_of(key);
        let mut model = make();
        model.fit(&values, options)?;
        if let Some(scales) = carried {
            model.resume_band_scales(&scales);
        }
        let prediction = model.predict(horizon, levels)?;
        let budget = refit_after(values.len(), options.step_ns);
        self.put(key, start, values, model, budget, 0);
        Ok((prediction, Source::Fitted))
    }

    /// The band calibration factors of the model cached under `key`, kept
    /// across a refit of the same series.
    fn band_scales_of(&self, key: &str) -> Option<Vec<f64>> {
        self.state.lock().entries.get(key).and_then(|e| e.model.band_scales())
    }

    /// Takes the entry of `key` out if it can serve `values`: its model,
    /// the index in `values` of the first step it has not seen, its refit
    /// budget and the steps it absorbed. Counts the hit or the miss.
    fn take(&self, key: &str, start: i64, values: &[f64]) -> Option<(Box<dyn Forecaster>, usize, usize, usize)> {
        if self.capacity == 0 {
            return None;
        }
        let mut s = self.state.lock();
        let usable = s.entries.get(key).and_then(|e| usable_from(e, start, values));
        let Some(from) = usable else {
            s.misses += 1;
            return None;
        };
        let entry = s.entries.remove(key)?;
        s.kept_values -= entry.seen.len();
        s.hits += 1;
        Some((entry.model, from, entry.budget, entry.updated))
    }

    /// Caches `model`, which has seen `values` from grid index `start`,
    /// evicting the least recently used entries beyond the bounds.
    fn put(&self, key: &str, start: i64, seen: Vec<f64>, model: Box<dyn Forecaster>, budget: usize, updated: usize) {
        if self.capacity == 0 || seen.len() > MAX_KEPT_VALUES / 4 {
            return;
        }
        let mut s = self.state.lock();
        s.tick += 1;
        let used = s.tick;
        let entry = Entry { model, start, seen, budget, updated, used };
        s.kept_values += entry.seen.len();
        if let Some(old) = s.entries.insert(key.to_string(), entry) {
            s.kept_values -= old.seen.len();
        }
        while s.entries.len() > self.capacity || s.kept_values > MAX_KEPT_VALUES {
            let Some(oldest) = s.entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else { break };
            if let Some(gone) = s.entries.remove(&oldest) {
                s.kept_values -= gone.seen.len();
            }
        }
    }
}

/// The index in `values` of the first step `entry` has not seen, when its
/// model may be rolled forward to serve `values` (see the module docs).
fn usable_from(entry: &Entry, start: i64, values: &[f64]) -> Option<usize> {
    let seen_end = entry.start.checked_add(i64::try_from(entry.seen.len()).ok()?)?;
    let end = start.checked_add(i64::try_from(values.len()).ok()?)?;
    if start < entry.start || end < seen_end || start >= seen_end {
        return None;
    }
    let skip = usize::try_from(start - entry.start).ok()?;
    let from = usize::try_from(seen_end - start).ok()?;
    let fresh = values.len() - from;
    if entry.updated + fresh > entry.budget {
        return None;
    }
    let same = entry.seen[skip..].iter().zip(&values[..from]).all(|(a, b)| a.to_bits() == b.to_bits());
    same.then_some(from)
}

static GLOBAL: OnceLock<FitCache> = OnceLock::new();

/// Sizes the process-wide cache; only the first call (before any use of
/// [`global`]) has an effect. Returns whether this call sized it.
pub fn configure_global(entries: usize) -> bool {
    let mut sized = false;
    GLOBAL.get_or_init(|| {
        sized = true;
        FitCache::new(entries)
    });
    sized
}

/// The process-wide cache that `forecast()` uses (with [`DEFAULT_ENTRIES`]
/// unless [`configure_global`] ran first).
pub fn global() -> &'static FitCache {
    GLOBAL.get_or_init(|| FitCache::new(DEFAULT_ENTRIES))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::registry;

    fn series(n: usize) -> Vec<f64> {
        (0..n).map(|t| 50.0 + 10.0 * (t as f64 * std::f64::consts::TAU / 24.0).sin() + (t % 5) as f64).collect()
    }

    fn make(name: &str) -> impl FnOnce() -> Box<dyn Forecaster> + '_ {
        move || registry::by_name(name).unwrap()
    }

    fn opts() -> FitOptions {
        FitOptions { seasons: vec![24], ..Default::default() }
    }

    #[test]
    fn a_sliding_window_rolls_the_model_forward_like_fit_then_update() {
        let y = series(600);
        let cache = FitCache::new(8);
        let (first, source) = cache.forecast("k", 0, y[..500].to_vec(), make("ets"), &opts(), 12, &[95.0]).unwrap();
        assert_eq!(source, Source::Fitted);
        // The window slid by 3 steps at both ends.
        let (second, source) = cache.forecast("k", 3, y[3..503].to_vec(), make("ets"), &opts(), 12, &[95.0]).unwrap();
        assert_eq!(source, Source::Updated(3));
        let mut reference = registry::by_name("ets").unwrap();
        reference.fit(&y[..500], &opts()).unwrap();
        assert_eq!(reference.predict(12, &[95.0]).unwrap(), first);
        reference.update(&y[500..503]).unwrap();
        assert_eq!(reference.predict(12, &[95.0]).unwrap(), second);
        // Asking again with nothing new is a hit that absorbs nothing.
        let (third, source) = cache.forecast("k", 3, y[3..503].to_vec(), make("ets"), &opts(), 12, &[95.0]).unwrap();
        assert_eq!((third, source), (second, Source::Updated(0)));
        assert_eq!(cache.stats(), CacheStats { entries: 1, hits: 2, misses: 1 });
    }

    #[test]
    fn changed_history_an_earlier_origin_or_an_exhausted_budget_refit() {
        let y = series(800);
        let cache = FitCache::new(8);
        let fit = |cache: &FitCache, start: usize, values: &[f64]| {
            cache.forecast("k", start as i64, values.to_vec(), make("snaive"), &opts(), 6, &[80.0]).unwrap().1
        };
        assert_eq!(fit(&cache, 0, &y[..400]), Source::Fitted);
        // A value inside the shared part changed (a late point).
        let mut changed = y[..402].to_vec();
        changed[390] += 1.0;
        assert_eq!(fit(&cache, 0, &changed), Source::Fitted);
        // "As of" an earlier moment.
        assert_eq!(fit(&cache, 0, &y[..399]), Source::Fitted);
        // The same window again, then one step later.
        assert_eq!(fit(&cache, 0, &y[..399]), Source::Updated(0));
        assert_eq!(fit(&cache, 1, &y[1..400]), Source::Updated(1));
        // A window reaching further back than the model saw.
        assert_eq!(fit(&cache, 0, &y[..400]), Source::Fitted);
        // A window that shares nothing with what the model saw.
        assert_eq!(fit(&cache, 500, &y[500..700]), Source::Fitted);
        // The refit budget: 200 steps fitted → 14 steps of updates, then a refit.
        let budget = refit_after(200, None);
        assert_eq!(budget, 14);
        assert_eq!(fit(&cache, 500, &y[500..700 + budget]), Source::Updated(budget));
        assert_eq!(fit(&cache, 500, &y[500..701 + budget]), Source::Fitted);
    }

    #[test]
    fn the_refit_budget_is_a_fourteenth_of_the_history_and_at_most_a_day() {
        const MINUTE: i64 = 60_000_000_000;
        // Two weeks of 5-minute steps: a fourteenth is exactly a day.
        assert_eq!(refit_after(4032, Some(5 * MINUTE)), 288);
        // Four weeks of half-hours: a day (48), not a fourteenth (96).
        assert_eq!(refit_after(1344, Some(30 * MINUTE)), 48);
        // A day of 57-second ticks: a fourteenth; no step known: a fourteenth.
        assert_eq!(refit_after(1410, Some(57_000_000_000)), 100);
        assert_eq!(refit_after(1344, None), 96);
        // Daily steps: never below the floor.
        assert_eq!(refit_after(400, Some(1440 * MINUTE)), MIN_REFIT_AFTER);
    }

    #[test]
    fn a_refit_keeps_the_band_calibration_it_learned() {
        use crate::forecast::calibrate::Calibrated;
        // A calm history, then a burstier stretch the bands must widen for.
        let mut y = series(700);
        for (t, v) in y.iter_mut().enumerate().skip(400) {
            *v += if t % 3 == 0 { 9.0 } else { -9.0 };
        }
        let calibrated = || -> Box<dyn Forecaster> { Box::new(Calibrated::new(registry::by_name("snaive").unwrap())) };
        let cache = FitCache::new(4);
        cache.forecast("k", 0, y[..400].to_vec(), calibrated, &opts(), 6, &[95.0]).unwrap();
        let budget = refit_after(400, None);
        let (_, source) = cache.forecast("k", 0, y[..400 + budget].to_vec(), calibrated, &opts(), 6, &[95.0]).unwrap();
        assert_eq!(source, Source::Updated(budget));
        let learned = cache.band_scales_of("k").unwrap();
        assert!(learned.iter().all(|&s| s > 1.2), "the bursts widened the bands: {learned:?}");
        // Past the budget: a refit, which starts from the learned factor.
        let (_, source) = cache.forecast("k", 0, y[..401 + budget].to_vec(), calibrated, &opts(), 6, &[95.0]).unwrap();
        assert_eq!(source, Source::Fitted);
        assert_eq!(cache.band_scales_of("k"), Some(learned));
        // A different key starts from the model's own bands.
        cache.forecast("other", 0, y[..400].to_vec(), calibrated, &opts(), 6, &[95.0]).unwrap();
        use crate::forecast::calibrate::{CALIBRATED_STEPS, TRACKED_LEVELS};
        assert_eq!(cache.band_scales_of("other"), Some(vec![1.0; CALIBRATED_STEPS * TRACKED_LEVELS.len()]));
    }

    #[test]
    fn keys_are_separate_entries_are_bounded_and_off_means_off() {
        let y = series(300);
        let cache = FitCache::new(2);
        for key in ["a", "b", "c"] {
            cache.forecast(key, 0, y.clone(), make("naive"), &opts(), 3, &[95.0]).unwrap();
        }
        assert_eq!(cache.stats().entries, 2);
        // "a" was the least recently used and is gone; "c" is kept.
        let (_, a) = cache.forecast("a", 0, y.clone(), make("naive"), &opts(), 3, &[95.0]).unwrap();
        let (_, c) = cache.forecast("c", 0, y.clone(), make("naive"), &opts(), 3, &[95.0]).unwrap();
        assert_eq!((a, c), (Source::Fitted, Source::Updated(0)));

        let off = FitCache::new(0);
        for _ in 0..2 {
            let (_, s) = off.forecast("a", 0, y.clone(), make("naive"), &opts(), 3, &[95.0]).unwrap();
            assert_eq!(s, Source::Fitted);
        }
        assert_eq!(off.stats(), CacheStats::default());
    }

    #[test]
    fn a_failed_fit_is_reported_and_not_cached() {
        let cache = FitCache::new(4);
        let nan = vec![f64::NAN; 50];
        let err = cache.forecast("k", 0, nan, make("ets"), &opts(), 3, &[95.0]).unwrap_err();
        assert_eq!(err, ForecastError::NoData);
        assert_eq!(cache.stats().entries, 0);
    }
}
