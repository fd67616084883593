//! MSTL-style forecasting: several seasonal components are peeled off, the
//! seasonally adjusted rest is forecast by (non-seasonal, guarded) ETS, and
//! the seasonal components are projected forward by phase.
//!
//! Why a fast equivalent instead of literal STL: STL's LOESS passes cost
//! tens of milliseconds on a 4,032-point history; the parts that matter for
//! forecasting are (a) a trend that does not absorb the season and (b) a
//! per-phase seasonal profile that follows recent cycles and ignores spikes.
//! So each period `p` is estimated by backfitting (two rounds over all
//! periods, shortest first): detrend with a centered moving average of
//! length `p` (which cancels a period-`p` season exactly), then take, per
//! phase, a recency-weighted mean of the cycles after clipping values
//! beyond 3 MADs of that phase's median (spike robustness), and center it. Phases are
//! absolute (`FitOptions::origin_index`), so profiles line up after
//! `update()` and across refits.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::ar::ArState;
use super::memo::Recent;

use super::bands::{calibrate_if, clamp_mean, ErrorProfile, Stepper, CALIBRATION_STEPS};
use super::ets::{fit_auto, EtsState, NONSEASONAL, ROBUST};
use super::prep::{check_request, fill_linear, prepare, robust_center_spread};
use super::season::centered_ma;
use super::{persist, season, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

const VERSION: u32 = 1;

/// Half-life, in cycles, of the weight a past cycle has in a seasonal profile.
const HALF_LIFE_CYCLES: f64 = 4.0;

/// What forecasts the seasonally adjusted series.
pub trait Remainder:
    Stepper + Clone + PartialEq + std::fmt::Debug + Serialize + DeserializeOwned + Send + Sync
{
    /// The name of the combined model.
    const NAME: &'static str;
    /// See [`Forecaster::refit_when_chosen`].
    const REFIT_WHEN_CHOSEN: bool;
    /// Fits the adjusted series (gap-free); returns the state before its
    /// first value.
    fn fit_start(adjusted: &[f64]) -> Result<Self, ForecastError>;
}

impl Remainder for EtsState {
    const NAME: &'static str = "mstl";
    const REFIT_WHEN_CHOSEN: bool = false;
    fn fit_start(adjusted: &[f64]) -> Result<Self, ForecastError> {
        // The remainder's own bands are not wanted: the combined model's
        // are measured on the whole.
        Ok(fit_auto(adjusted, &NONSEASONAL, 1, 0, ROBUST, false)?.start)
    }
}

/// An autoregression of differencing order `D` as the remainder model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ArRemainder<const D: u8>(ArState);

impl<const D: u8> Stepper for ArRemainder<D> {
    fn step(&mut self, y: f64) {
        self.0.step(y)
    }
    fn forecast_into(&self, out: &mut [f64]) {
        self.0.forecast_into(out)
    }
}

impl<const D: u8> Remainder for ArRemainder<D> {
    const NAME: &'static str = if D == 0 { "mstl_ar" } else { "mstl_ari" };
    const REFIT_WHEN_CHOSEN: bool = true;
    fn fit_start(adjusted: &[f64]) -> Result<Self, ForecastError> {
        Ok(Self(ArState::fit(&fill_linear(adjusted), D)?))
    }
}

/// Profiles and the remainder model's state on the adjusted series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: DeserializeOwned"))]
struct Core<R> {
    #[serde(rename = "ets")]
    rem: R,
    periods: Vec<usize>,
    /// `profiles[k][phase]` for `periods[k]`, phase = absolute index mod period.
    profiles: Vec<Vec<f64>>,
    /// Absolute index of the next step.
    next: i64,
}

/// The sum of the seasonal profiles at absolute index `idx`.
fn season_at(periods: &[usize], profiles: &[Vec<f64>], idx: i64) -> f64 {
    periods.iter().zip(profiles).map(|(&p, prof)| prof[idx.rem_euclid(p as i64) as usize]).sum()
}

impl<R: Stepper> Stepper for Core<R> {
    fn step(&mut self, y: f64) {
        let s = season_at(&self.periods, &self.profiles, self.next);
        self.rem.step(y - s);
        self.next += 1;
    }
    fn forecast_into(&self, out: &mut [f64]) {
        self.rem.forecast_into(out);
        // `season_at(next + i)`, with each period's phase counted forward
        // instead of divided out at every step (the backtest walk forecasts
        // from every origin).
        let mut phases: Vec<usize> = self.periods.iter().map(|&p| self.next.rem_euclid(p as i64) as usize).collect();
        for o in out.iter_mut() {
            *o += self.profiles.iter().zip(&phases).map(|(prof, &ph)| prof[ph]).sum::<f64>();
            for (ph, &p) in phases.iter_mut().zip(&self.periods) {
                *ph += 1;
                if *ph == p {
                    *ph = 0;
                }
            }
        }
    }
}

/// What besides the series determines a [`decompose`] result.
#[derive(Debug, Clone, PartialEq)]
struct DecomposeSettings {
    periods: Vec<usize>,
    origin: i64,
}

thread_local! {
    /// The thread's last 2 decompositions (see [`super::memo`]): `auto`'s
    /// two seasonal autoregressions decompose the same history, first the
    /// history minus the backtest tail, then (refitted) the whole.
    static RECENT_DECOMPOSITIONS: std::cell::RefCell<Recent<DecomposeSettings, Vec<Vec<f64>>>> =
        const { std::cell::RefCell::new(Recent::new(2)) };
}

/// Forgets the thread's recent decompositions (for timing fits in benches).
pub fn forget_recent_decompositions() {
    RECENT_DECOMPOSITIONS.with(|recent| recent.borrow_mut().clear());
}

/// [`decompose`], recalled when this thread just computed it.
fn decompose_remembered(x: &[f64], periods: &[usize], origin: i64) -> Vec<Vec<f64>> {
    let settings = DecomposeSettings { periods: periods.to_vec(), origin };
    if let Some(hit) = RECENT_DECOMPOSITIONS.with(|recent| recent.borrow().get(&settings, x)) {
        return hit;
    }
    let profiles = decompose(x, periods, origin);
    RECENT_DECOMPOSITIONS.with(|recent| recent.borrow_mut().put(settings, x, profiles.clone()));
    profiles
}

/// Seasonal profiles of `x` (gap-free) for `periods`; `origin` is the
/// absolute index of `x[0]`.
pub fn decompose(x: &[f64], periods: &[usize], origin: i64) -> Vec<Vec<f64>> {
    let n = x.len();
    let mut comps: Vec<Vec<f64>> = periods.iter().map(|_| vec![0.0; n]).collect();
    let mut profiles: Vec<Vec<f64>> = periods.iter().map(|&p| vec![0.0; p]).collect();
    let mut d = vec![0.0; n];
    let mut others = vec![0.0; n];
    // Each period's cycle weights, computed in the first round and reused
    // in the second (they depend only on the period and the length).
    let mut weights: Vec<Vec<f64>> = vec![Vec::new(); periods.len()];
    for _round in 0..2 {
        for (k, &p) in periods.iter().enumerate() {
            // `d = x - (the other periods' components)`, summed in order
            // a column at a time (vectorizable).
            others.iter_mut().for_each(|v| *v = 0.0);
            for (_, c) in comps.iter().enumerate().filter(|(j, _)| *j != k) {
                others.iter_mut().zip(c).for_each(|(o, v)| *o += v);
            }
            d.iter_mut().zip(x).zip(&others).for_each(|((d, x), o)| *d = x - o);
            let trend = centered_ma(&d, p);
            if weights[k].len() != n {
                weights[k] = cycle_weights(&trend, p);
            }
            let prof = phase_profile(&d, &trend, &weights[k], p, origin);
            // `prof[(origin + t) mod p]`, the phase counted forward instead
            // of divided out at every step.
            let mut phase = origin.rem_euclid(p as i64) as usize;
            for c in comps[k].iter_mut() {
                *c = prof[phase];
                phase += 1;
                if phase == p {
                    phase = 0;
                }
            }
            profiles[k] = prof;
        }
    }
    profiles
}

/// The weight of each step in a period-`p` profile: halved every
/// [`HALF_LIFE_CYCLES`] cycles back from the last step where `trend` is
/// defined (0 where it is not).
fn cycle_weights(trend: &[f64], p: usize) -> Vec<f64> {
    let last = trend.iter().rposition(|v| v.is_finite()).unwrap_or(0);
    trend
        .iter()
        .enumerate()
        .map(|(t, tr)| {
            if tr.is_finite() {
                let age = (last - t) as f64 / p as f64;
                (-age * std::f64::consts::LN_2 / HALF_LIFE_CYCLES).exp()
            } else {
                0.0
            }
        })
        .collect()
}

/// The robust, recency-weighted per-phase profile of `d - trend`, with the
/// weights of [`cycle_weights`].
fn phase_profile(d: &[f64], trend: &[f64], weights: &[f64], p: usize, origin: i64) -> Vec<f64> {
    let n = d.len();
    // Step `t` has phase `(origin + t) mod p`, so a phase's steps are every
    // `p`-th from its first: read in place, without sorting them into
    // per-phase lists first.
    let first_phase = origin.rem_euclid(p as i64) as usize;
    let mut prof = vec![0.0; p];
    let mut vals = Vec::with_capacity(n / p + 1);
    let mut scratch = Vec::with_capacity(n / p + 1);
    for start in 0..p.min(n) {
        let steps = || (start..n).step_by(p).filter(|&t| trend[t].is_finite());
        vals.clear();
        vals.extend(steps().map(|t| d[t] - trend[t]));
        if vals.is_empty() {
            continue;
        }
        let (med, mad) = robust_center_spread(vals.iter().copied(), &mut scratch);
        let (lo, hi) = if mad > 0.0 { (med - 3.0 * mad, med + 3.0 * mad) } else { (med, med) };
        let (mut sw, mut s) = (0.0, 0.0);
        for (&v, t) in vals.iter().zip(steps()) {
            s += weights[t] * v.clamp(lo, hi);
            sw += weights[t];
        }
        prof[(first_phase + start) % p] = s / sw;
    }
    let mean = prof.iter().sum::<f64>() / p as f64;
    prof.iter_mut().for_each(|v| *v -= mean);
    prof
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "R: DeserializeOwned"))]
struct State<R> {
    core: Core<R>,
    profile: ErrorProfile,
    nonneg: bool,
}

/// MSTL decomposition + a remainder model (ETS by default) on the
/// seasonally adjusted series.
#[derive(Debug, Clone, PartialEq)]
pub struct Decomposed<R> {
    state: Option<State<R>>,
}

/// MSTL decomposition + guarded ETS on the adjusted series.
pub type Mstl = Decomposed<EtsState>;

/// MSTL decomposition + an autoregression on the adjusted series.
pub type MstlAr = Decomposed<ArRemainder<0>>;

/// MSTL decomposition + an autoregression on the adjusted series' differences.
pub type MstlAri = Decomposed<ArRemainder<1>>;

impl<R> Default for Decomposed<R> {
    fn default() -> Self {
        Self { state: None }
    }
}

impl<R: Remainder> Decomposed<R> {
    /// An unfitted model.
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a model saved by [`Forecaster::save`].
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        Ok(Self { state: Some(persist::load(saved, R::NAME, VERSION)?) })
    }

    /// The seasonal periods in use, once fitted.
    pub fn periods(&self) -> Option<&[usize]> {
        self.state.as_ref().map(|s| s.core.periods.as_slice())
    }
}

impl<R: Remainder> Forecaster for Decomposed<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        let p = prepare(history)?;
        let n = p.values.len();
        let mut periods = if options.seasons.is_empty() { season::detect(&p.values) } else { options.seasons.clone() };
        periods.retain(|&m| m >= 2 && n >= 2 * m);
        periods.sort_unstable();
        periods.dedup();
        let origin = options.origin_index.unwrap_or(0) + p.skipped as i64;
        let filled = fill_linear(&p.values);
        let profiles = decompose_remembered(&filled, &periods, origin);
        let adjusted: Vec<f64> =
            p.values.iter().enumerate().map(|(t, &v)| v - season_at(&periods, &profiles, origin + t as i64)).collect();
        let rem = R::fit_start(&adjusted)?;
        // Replay the combined model from the fitted start, for
        // seasonal-aware error bands and the state after the history.
        let mut core = Core { rem, periods, profiles, next: origin };
        let window = n.saturating_sub(10).min(3000);
        let profile = calibrate_if(!options.means_only, &mut core, &p.values, CALIBRATION_STEPS, window);
        self.state = Some(State { core, profile, nonneg: p.nonneg });
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(horizon, levels)?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted(R::NAME))?;
        let mut mean = vec![0.0; horizon];
        s.core.forecast_into(&mut mean);
        Ok(s.profile.prediction(mean, levels, s.nonneg))
    }

    fn predict_mean_into(&self, out: &mut [f64]) -> Result<(), ForecastError> {
        check_request(out.len(), &[])?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted(R::NAME))?;
        s.core.forecast_into(out);
        clamp_mean(out, s.nonneg);
        Ok(())
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        let s = self.state.as_mut().ok_or(ForecastError::NotFitted(R::NAME))?;
        new_points.iter().for_each(|&y| s.core.step(y));
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted(R::NAME))?;
        persist::save(R::NAME, VERSION, s)
    }

    fn refit_when_chosen(&self) -> bool {
        R::REFIT_WHEN_CHOSEN
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::forecast::test_util::noise;

    fn two_seasons(t: usize) -> f64 {
        let day = 10.0 * (2.0 * std::f64::consts::PI * t as f64 / 48.0).sin();
        let weekend = if (t / 48) % 7 >= 5 { -8.0 } else { 0.0 };
        100.0 + day + weekend + 0.01 * t as f64
    }

    #[test]
    fn recovers_two_seasons_and_a_trend() {
        let e = noise(1344, 11);
        let y: Vec<f64> = (0..1344).map(|t| two_seasons(t) + 0.2 * e[t]).collect();
        let mut m = Mstl::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        assert_eq!(m.periods(), Some(&[48usize, 336][..]));
        let p = m.predict(96, &[95.0]).unwrap();
        let mae: f64 = p.mean.iter().enumerate().map(|(i, v)| (v - two_seasons(1344 + i)).abs()).sum::<f64>() / 96.0;
        assert!(mae < 1.0, "mae {mae}");
        let b = &p.bands[0];
        assert!(b.upper[95] - b.lower[95] >= b.upper[0] - b.lower[0]);
    }

    #[test]
    fn phases_follow_the_origin_and_updates() {
        let y: Vec<f64> = (0..600).map(|t| ((t + 5) % 24) as f64).collect();
        let mut m = Mstl::new();
        let opts = FitOptions { seasons: vec![24], origin_index: Some(5), step_ns: None, ..Default::default() };
        m.fit(&y[..500], &opts).unwrap();
        m.update(&y[500..550]).unwrap();
        let p = m.predict(24, &[]).unwrap();
        for (i, v) in p.mean.iter().enumerate() {
            assert!((v - y[550 + i]).abs() < 1.0, "step {i}: {v} vs {}", y[550 + i]);
        }
        let r = Mstl::restore(&m.save().unwrap()).unwrap();
        assert_eq!(r.predict(30, &[80.0]).unwrap(), m.predict(30, &[80.0]).unwrap());
    }

    #[test]
    fn gappy_and_short_histories() {
        let mut y: Vec<f64> = (0..400).map(|t| (t % 20) as f64 + 3.0).collect();
        for v in y.iter_mut().skip(100).take(30) {
            *v = f64::NAN;
        }
        let mut m = Mstl::new();
        m.fit(&y, &FitOptions { seasons: vec![20], ..Default::default() }).unwrap();
        let p = m.predict(20, &[99.0]).unwrap();
        for (i, v) in p.mean.iter().enumerate() {
            assert!((v - ((400 + i) % 20) as f64 - 3.0).abs() < 0.5);
        }
        // Too short for the season: plain ETS.
        m.fit(&[1.0, 2.0, 3.0, 4.0], &FitOptions { seasons: vec![20], ..Default::default() }).unwrap();
        assert_eq!(m.periods(), Some(&[][..]));
        assert!(m.fit(&[1.0], &FitOptions::default()).is_err());
    }

    #[test]
    fn seasonal_autoregressions_learn_the_bursts_around_the_season() {
        // A daily season of 48 plus an AR(2) remainder (0.6, -0.3): a
        // burst decays and overshoots over a few steps, which the
        // autoregressions forecast and ETS's level cannot.
        let e = noise(2600, 17);
        let (mut z1, mut z2) = (0.0, 0.0);
        let y: Vec<f64> = (0..2600)
            .map(|t| {
                (z1, z2) = (0.6 * z1 - 0.3 * z2 + 4.0 * e[t], z1);
                100.0 + 10.0 * (2.0 * std::f64::consts::PI * t as f64 / 48.0).sin() + z1
            })
            .collect();
        let opts = FitOptions { seasons: vec![48], ..Default::default() };
        let mut seasonal_only = Mstl::new();
        seasonal_only.fit(&y[..2400], &opts).unwrap();
        let one_step_mae = |m: &mut dyn Forecaster| {
            let mut sum = 0.0;
            for t in 2400..2600 {
                sum += (m.predict(1, &[]).unwrap().mean[0] - y[t]).abs();
                m.update(&y[t..t + 1]).unwrap();
            }
            sum / 200.0
        };
        let base = one_step_mae(&mut seasonal_only);
        // The innovations' mean absolute value is 4 × 0.25 = 1; the
        // differenced model approximates the undifferenced process with a
        // longer autoregression, a little less closely.
        let models: [(Box<dyn Forecaster>, f64); 2] = [(Box::new(MstlAr::new()), 1.1), (Box::new(MstlAri::new()), 1.2)];
        for (mut m, limit) in models {
            m.fit(&y[..2400], &opts).unwrap();
            let mae = one_step_mae(m.as_mut());
            assert!(mae < limit && mae < 0.92 * base, "{}: {mae} (mstl {base})", m.name());
            let restored = crate::forecast::registry::restore(&m.save().unwrap()).unwrap();
            assert_eq!(restored.name(), m.name());
            assert_eq!(restored.predict(60, &[80.0, 95.0]).unwrap(), m.predict(60, &[80.0, 95.0]).unwrap());
            assert!(m.refit_when_chosen());
        }
        assert!(!seasonal_only.refit_when_chosen());
    }
}
