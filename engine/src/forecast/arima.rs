//! ARIMA forecasting: seasonal ARIMA `(p,d,q)(P,D,Q)m` with a constant or
//! drift, automatic order selection (Hyndman–Khandakar), exact Gaussian
//! likelihood through a Kalman filter, ψ-weight prediction bands, and
//! continuous updates without re-estimation.
//!
//! Why it is built this way (details in each submodule):
//! * `params`: coefficients are reached through partial autocorrelations,
//!   so every fit is stationary and invertible by construction.
//! * `stationarity`: `d` by KPSS, `D` by seasonal strength — difference
//!   only when the data ask for it.
//! * `css` + `search`: candidates are ranked by AICc from cheap
//!   conditional-sum-of-squares fits; `estimate` re-fits the winner by
//!   exact likelihood (`kalman`), which also handles gaps exactly.
//! * Seasonal terms are used for the first period in
//!   [`FitOptions::seasons`] that is at most [`AutoConfig::max_season`]
//!   (52 by default) and fits three times in the history. Longer seasons
//!   (288 five-minute steps a day) would make a state of ~300 dimensions and
//!   seasonal differencing that throws away a day of data per difference;
//!   for those the model is non-seasonal, as statsforecast's
//!   `AutoARIMA(season_length=1)` baseline is. Use MSTL for long seasons.
//!
//! Gaps (`NaN`) are skipped by the filter; the CSS search sees a linearly
//! interpolated copy. A constant history gives a constant forecast with
//! zero-width bands; fewer than 16 points give a random walk (naive).

mod css;
mod estimate;
mod kalman;
mod optim;
mod params;
mod search;
mod stationarity;

pub use params::Order;

use super::{Band, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};
use estimate::{filter_pass, fit_css, fit_ml, Fitted, Lik, Prepared, Stepper};
use kalman::{Filter, Ssm};
use params::{difference, interpolate, poly_mul, Coefs};
use serde::{Deserialize, Serialize};
use stationarity::{is_constant, ndiffs, nsdiffs};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// The model name in [`SavedModel::kind`] and [`Forecaster::name`].
pub const KIND: &str = "arima";
/// The state format version this module writes.
pub const VERSION: u32 = 1;

/// Fewest finite points any fit accepts.
const MIN_POINTS: usize = 3;
/// Below this many finite points the automatic model is a random walk.
const MIN_AUTO_POINTS: usize = 16;
/// Objective evaluations per parameter for the CSS fits of the search.
const CSS_EVALS_PER_PARAM: usize = 30;
/// Objective evaluations per parameter for the final exact-likelihood fit.
const ML_EVALS_PER_PARAM: usize = 15;

/// Limits of the automatic order search.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AutoConfig {
    /// Largest non-seasonal AR order.
    pub max_p: usize,
    /// Largest non-seasonal MA order.
    pub max_q: usize,
    /// Largest seasonal AR order.
    pub max_sp: usize,
    /// Largest seasonal MA order.
    pub max_sq: usize,
    /// Largest `p + q + P + Q`.
    pub max_order: usize,
    /// Largest number of ordinary differences.
    pub max_d: usize,
    /// Largest number of seasonal differences.
    pub max_sd: usize,
    /// Longest season modelled with seasonal ARIMA terms.
    pub max_season: usize,
    /// Most candidate models the stepwise search fits.
    pub max_models: usize,
    /// Wall-clock budget of the search in milliseconds (the best model
    /// found when it runs out wins; at least the four start models are fitted).
    pub time_budget_ms: u64,
}

impl Default for AutoConfig {
    fn default() -> Self {
        AutoConfig {
            max_p: 5,
            max_q: 5,
            max_sp: 2,
            max_sq: 2,
            max_order: 5,
            max_d: 2,
            max_sd: 1,
            max_season: 52,
            max_models: 94,
            time_budget_ms: 500,
        }
    }
}

/// The estimated coefficients of a fitted model, for inspection.
#[derive(Debug, Clone, PartialEq)]
pub struct Coefficients {
    /// The order.
    pub order: Order,
    /// Non-seasonal AR coefficients `φ_1..φ_p` (`w_t = Σ φ_i w_{t-i} + ...`).
    pub phi: Vec<f64>,
    /// Non-seasonal MA coefficients `θ_1..θ_q` (`... + e_t + Σ θ_j e_{t-j}`).
    pub theta: Vec<f64>,
    /// Seasonal AR coefficients.
    pub seasonal_phi: Vec<f64>,
    /// Seasonal MA coefficients.
    pub seasonal_theta: Vec<f64>,
    /// Mean (`d + D = 0`) or drift per step (`d + D = 1`) of the differenced series; 0 without constant.
    pub constant: f64,
    /// Innovation variance.
    pub sigma2: f64,
    /// Exact Gaussian log-likelihood.
    pub loglik: f64,
    /// Corrected Akaike information criterion.
    pub aicc: f64,
}

fn coefficients(f: &Fitted) -> Coefficients {
    Coefficients {
        order: f.order,
        phi: f.coefs.phi.clone(),
        theta: f.coefs.theta.clone(),
        seasonal_phi: f.coefs.sphi.clone(),
        seasonal_theta: f.coefs.stheta.clone(),
        constant: f.c,
        sigma2: f.sigma2,
        loglik: f.loglik,
        aicc: f.aicc,
    }
}

/// ARIMA of a fixed order, estimated by CSS then exact maximum likelihood.
#[derive(Debug, Clone)]
pub struct Arima {
    order: Order,
    fitted: Option<Fitted>,
}

impl Arima {
    /// An unfitted model of `order`.
    pub fn new(order: Order) -> Self {
        Arima { order, fitted: None }
    }

    /// The fitted coefficients, once fitted.
    pub fn coefficients(&self) -> Option<Coefficients> {
        self.fitted.as_ref().map(coefficients)
    }
}

/// ARIMA with automatic order selection (`model => 'arima'`).
#[derive(Debug, Clone, Default)]
pub struct AutoArima {
    config: AutoConfig,
    fitted: Option<Fitted>,
}

impl AutoArima {
    /// An unfitted model with the default search limits.
    pub fn new() -> Self {
        Self::default()
    }

    /// An unfitted model with custom search limits.
    pub fn with_config(config: AutoConfig) -> Self {
        AutoArima { config, fitted: None }
    }

    /// The selected order, once fitted.
    pub fn order(&self) -> Option<Order> {
        self.fitted.as_ref().map(|f| f.order)
    }

    /// The fitted coefficients, once fitted.
    pub fn coefficients(&self) -> Option<Coefficients> {
        self.fitted.as_ref().map(coefficients)
    }
}

/// The history with leading gaps dropped, its gap-filled copy, and its finite values.
struct History {
    y: Vec<f64>,
    yi: Vec<f64>,
    finite: Vec<f64>,
}

fn prepare(history: &[f64]) -> Result<History, ForecastError> {
    let first = history.iter().position(|v| v.is_finite()).ok_or(ForecastError::NoData)?;
    let y: Vec<f64> = history[first..].iter().map(|v| if v.is_finite() { *v } else { f64::NAN }).collect();
    let finite: Vec<f64> = y.iter().copied().filter(|v| v.is_finite()).collect();
    if finite.len() < MIN_POINTS {
        return Err(ForecastError::TooShort { model: KIND, got: finite.len(), need: MIN_POINTS });
    }
    let yi = interpolate(&y).ok_or(ForecastError::NoData)?;
    Ok(History { y, yi, finite })
}

/// A constant history: forecast the constant with zero-width bands.
fn constant_model(h: &History) -> Result<Fitted, ForecastError> {
    let order = Order::new(0, 0, 0, true);
    let c = h.finite[0];
    let coefs = Coefs::default();
    let (_, filter, tail) = filter_pass(&h.y, &h.yi, &order, &coefs, c).ok_or(ForecastError::NoData)?;
    Ok(Fitted {
        order,
        coefs,
        c,
        sigma2: 0.0,
        loglik: 0.0,
        aicc: 0.0,
        filter,
        tail: tail.into_iter().collect(),
        nobs: h.finite.len(),
    })
}

fn check_order(o: &Order) -> Result<(), ForecastError> {
    let bad = o.p > 20
        || o.q > 20
        || o.d > 3
        || (o.is_seasonal() && (o.sp > 4 || o.sq > 4 || o.sd > 2 || o.m > 10_000))
        || o.m == 0;
    if bad {
        return Err(ForecastError::InvalidParameter(format!("unsupported ARIMA order {}", o.label())));
    }
    Ok(())
}

fn fit_fixed(h: &History, order: Order) -> Result<Fitted, ForecastError> {
    check_order(&order)?;
    let m = order.season();
    let sd = order.seasonal_d();
    let need = order.n_coef() + 2 + order.d + m * sd + if order.is_seasonal() { m * order.sp } else { 0 };
    if h.finite.len() < need || h.y.len() < need {
        return Err(ForecastError::TooShort { model: KIND, got: h.finite.len(), need });
    }
    if is_constant(&h.finite) {
        return constant_model(h);
    }
    let max_lag = order.p + if order.is_seasonal() { m * order.sp } else { 0 };
    let prep = Prepared::new(&h.yi, order.d, sd, m, max_lag);
    let k = order.n_coef() + 1;
    let css = fit_css(&prep, order, CSS_EVALS_PER_PARAM * 2 * k)
        .ok_or_else(|| ForecastError::InvalidParameter(format!("{} cannot be fitted", order.label())))?;
    fit_ml(&h.y, &h.yi, &css, ML_EVALS_PER_PARAM * k)
        .ok_or_else(|| ForecastError::InvalidParameter(format!("{} cannot be fitted", order.label())))
}

fn fit_auto(cfg: &AutoConfig, h: &History, options: &FitOptions) -> Result<Fitted, ForecastError> {
    if is_constant(&h.finite) {
        return constant_model(h);
    }
    if h.finite.len() < MIN_AUTO_POINTS {
        return fit_fixed(h, Order::new(0, 1, 0, false));
    }
    let n = h.y.len();
    let m = options.seasons.iter().copied().find(|&s| s >= 2 && s <= cfg.max_season && n >= 3 * s).unwrap_or(1);
    let sd = if m > 1 { nsdiffs(&h.yi, m).min(cfg.max_sd) } else { 0 };
    let d = ndiffs(&difference(&h.yi, 0, sd, m), cfg.max_d).min(2usize.saturating_sub(sd));
    let max_lag = cfg.max_p + if m > 1 { m * cfg.max_sp } else { 0 };
    let prep = Prepared::new(&h.yi, d, sd, m, max_lag);
    let fallback = Order { p: 0, d, q: 0, sp: 0, sd, sq: 0, m, constant: d + sd <= 1 };
    if prep.w.len() < 8 {
        return fit_fixed(h, fallback);
    }
    let limits = search::Limits {
        max_p: cfg.max_p,
        max_q: cfg.max_q,
        max_sp: cfg.max_sp,
        max_sq: cfg.max_sq,
        max_order: cfg.max_order,
        max_models: cfg.max_models.max(1),
        deadline: Instant::now() + Duration::from_millis(cfg.time_budget_ms),
        max_evals_per_param: CSS_EVALS_PER_PARAM,
    };
    let cands = search::stepwise(&prep, d, sd, m, &limits);
    for c in cands.iter().take(3) {
        let evals = ML_EVALS_PER_PARAM * (c.order.n_coef() + 1);
        if let Some(f) = fit_ml(&h.y, &h.yi, c, evals) {
            if f.sigma2.is_finite() && f.filter.a.iter().all(|v| v.is_finite()) {
                tracing::debug!(model = %f.order.label(), aicc = f.aicc, "arima order selected");
                return Ok(f);
            }
        }
    }
    fit_fixed(h, fallback)
}

/// Standard normal quantile (Acklam's rational approximation, |error| < 1.2e-9).
fn norm_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969683028665376e+01,
        2.209460984245205e+02,
        -2.759285104469687e+02,
        1.38357751867269e+02,
        -3.066479806614716e+01,
        2.506628277459239e+00,
    ];
    const B: [f64; 5] = [
        -5.447609879822406e+01,
        1.615858368580409e+02,
        -1.556989798598866e+02,
        6.680131188771972e+01,
        -1.328068155288572e+01,
    ];
    const C: [f64; 6] = [
        -7.784894002430293e-03,
        -3.223964580411365e-01,
        -2.400758277161838e+00,
        -2.549732539343734e+00,
        4.374664141464968e+00,
        2.938163982698783e+00,
    ];
    const D: [f64; 4] = [7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00];
    let tail = |q: f64| {
        let r = (-2.0 * q.ln()).sqrt();
        (((((C[0] * r + C[1]) * r + C[2]) * r + C[3]) * r + C[4]) * r + C[5])
            / ((((D[0] * r + D[1]) * r + D[2]) * r + D[3]) * r + 1.0)
    };
    if p < 0.02425 {
        tail(p)
    } else if p > 1.0 - 0.02425 {
        -tail(1.0 - p)
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

fn predict_fitted(f: &Fitted, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
    if horizon == 0 {
        return Err(ForecastError::InvalidParameter("horizon must be at least 1 step".into()));
    }
    if let Some(l) = levels.iter().find(|l| !(l.is_finite() && **l > 0.0 && **l < 100.0)) {
        return Err(ForecastError::InvalidParameter(format!("band level {l} is not in (0, 100)")));
    }
    let st = Stepper::new(&f.order, &f.coefs, f.c);
    let mut filter = f.filter.clone();
    let mut tail: VecDeque<f64> = f.tail.iter().copied().collect();
    let mut mean = Vec::with_capacity(horizon);
    for _ in 0..horizon {
        let y = st.base(&tail) + f.c + filter.predicted();
        mean.push(y);
        if st.nd > 0 {
            tail.pop_front();
            tail.push_back(y);
        }
        filter.predict_mean(&st.ssm);
    }
    // ψ-weights of φ*(B)·δ(B) y = θ*(B) e.
    let m = f.order.season();
    let mut arp = vec![1.0];
    arp.extend(f.coefs.full_ar(m).iter().map(|v| -v));
    let mut dp = vec![1.0];
    dp.extend(params::diff_poly(f.order.d, f.order.seasonal_d(), m).iter().map(|v| -v));
    let total: Vec<f64> = poly_mul(&arp, &dp).iter().skip(1).map(|v| -v).collect();
    let psi = Ssm::psi(&total, &f.coefs.full_ma(m), horizon);
    let mut sd = Vec::with_capacity(horizon);
    let mut acc = 0.0;
    for p in &psi {
        acc += p * p;
        sd.push((f.sigma2.max(0.0) * acc).sqrt());
    }
    let bands = levels
        .iter()
        .map(|&level| {
            let z = norm_quantile(0.5 + level / 200.0);
            Band {
                level,
                lower: mean.iter().zip(&sd).map(|(m, s)| m - z * s).collect(),
                upper: mean.iter().zip(&sd).map(|(m, s)| m + z * s).collect(),
            }
        })
        .collect();
    Ok(Prediction { mean, bands })
}

fn update_fitted(f: &mut Fitted, new_points: &[f64]) {
    let st = Stepper::new(&f.order, &f.coefs, f.c);
    let mut tail: VecDeque<f64> = f.tail.iter().copied().collect();
    let mut lik = Lik::default();
    for &v in new_points {
        let v = if v.is_finite() { v } else { f64::NAN };
        st.step(&mut f.filter, &mut tail, v, &mut lik);
        f.nobs += usize::from(v.is_finite());
    }
    f.tail = tail.into_iter().collect();
}

impl Forecaster for Arima {
    fn name(&self) -> &'static str {
        KIND
    }

    fn fit(&mut self, history: &[f64], _options: &FitOptions) -> Result<(), ForecastError> {
        let h = prepare(history)?;
        self.fitted = Some(fit_fixed(&h, self.order)?);
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        predict_fitted(self.fitted.as_ref().ok_or(ForecastError::NotFitted(KIND))?, horizon, levels)
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        update_fitted(self.fitted.as_mut().ok_or(ForecastError::NotFitted(KIND))?, new_points);
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        save_fitted(self.fitted.as_ref().ok_or(ForecastError::NotFitted(KIND))?, None)
    }
}

impl Forecaster for AutoArima {
    fn name(&self) -> &'static str {
        KIND
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        let h = prepare(history)?;
        self.fitted = Some(fit_auto(&self.config, &h, options)?);
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        predict_fitted(self.fitted.as_ref().ok_or(ForecastError::NotFitted(KIND))?, horizon, levels)
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        update_fitted(self.fitted.as_mut().ok_or(ForecastError::NotFitted(KIND))?, new_points);
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        save_fitted(self.fitted.as_ref().ok_or(ForecastError::NotFitted(KIND))?, Some(self.config))
    }
}

/// Floats travel as their IEEE-754 bits so that a restored model forecasts
/// bit for bit what the saved one did (JSON decimal parsing may round).
fn bits(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn unbits(v: &[u64]) -> Vec<f64> {
    v.iter().map(|x| f64::from_bits(*x)).collect()
}

/// The saved state (version 1). `model` and `coef` are for people reading
/// the registry; `exact` is what restores.
#[derive(Debug, Serialize, Deserialize)]
struct SavedState {
    /// `Some` for [`AutoArima`] (its search limits), `None` for [`Arima`].
    auto: Option<AutoConfig>,
    model: String,
    order: Order,
    #[serde(default, skip_deserializing)]
    coef: Vec<f64>,
    exact: Exact,
}

#[derive(Debug, Serialize, Deserialize)]
struct Exact {
    coef: Vec<u64>,
    c: u64,
    sigma2: u64,
    loglik: u64,
    aicc: u64,
    a: Vec<u64>,
    p: Vec<u64>,
    steady: bool,
    tail: Vec<u64>,
    nobs: usize,
}

fn save_fitted(f: &Fitted, auto: Option<AutoConfig>) -> Result<SavedModel, ForecastError> {
    let state = SavedState {
        auto,
        model: f.order.label(),
        order: f.order,
        coef: f.coefs.flat(),
        exact: Exact {
            coef: bits(&f.coefs.flat()),
            c: f.c.to_bits(),
            sigma2: f.sigma2.to_bits(),
            loglik: f.loglik.to_bits(),
            aicc: f.aicc.to_bits(),
            a: bits(&f.filter.a),
            p: bits(&f.filter.p),
            steady: f.filter.steady,
            tail: bits(&f.tail),
            nobs: f.nobs,
        },
    };
    let state = serde_json::to_value(&state).map_err(|e| ForecastError::InvalidParameter(e.to_string()))?;
    Ok(SavedModel { kind: KIND.to_string(), version: VERSION, state })
}

/// Restores a model saved by [`Arima`] or [`AutoArima`] (for the model
/// registry). Every field is validated, so a corrupted state gives
/// [`ForecastError::Restore`], never a panic.
pub fn restore(saved: &SavedModel) -> Result<Box<dyn Forecaster>, ForecastError> {
    let bad = |m: &str| ForecastError::Restore(format!("arima: {m}"));
    if saved.kind != KIND {
        return Err(bad(&format!("kind is {:?}", saved.kind)));
    }
    if saved.version != VERSION {
        return Err(bad(&format!("unsupported version {}", saved.version)));
    }
    let s: SavedState = serde_json::from_value(saved.state.clone()).map_err(|e| bad(&e.to_string()))?;
    check_order(&s.order).map_err(|e| bad(&e.to_string()))?;
    let coefs = Coefs::from_flat(&s.order, &unbits(&s.exact.coef)).ok_or_else(|| bad("coefficient count"))?;
    let st = Stepper::new(&s.order, &coefs, 0.0);
    let (a, p, tail) = (unbits(&s.exact.a), unbits(&s.exact.p), unbits(&s.exact.tail));
    let r = st.ssm.r;
    if a.len() != r || tail.len() != st.nd || (p.len() != r * r && !(s.exact.steady && p.is_empty())) {
        return Err(bad("state dimensions do not match the order"));
    }
    let (c, sigma2) = (f64::from_bits(s.exact.c), f64::from_bits(s.exact.sigma2));
    let finite = coefs.flat().iter().chain(&a).chain(&p).chain(&tail).chain([&c, &sigma2]).all(|v| v.is_finite());
    if !finite || sigma2 < 0.0 {
        return Err(bad("non-finite state"));
    }
    let fitted = Fitted {
        order: s.order,
        coefs,
        c,
        sigma2,
        loglik: f64::from_bits(s.exact.loglik),
        aicc: f64::from_bits(s.exact.aicc),
        filter: Filter { a, p, steady: s.exact.steady },
        tail,
        nobs: s.exact.nobs,
    };
    Ok(match s.auto {
        Some(config) => Box::new(AutoArima { config, fitted: Some(fitted) }),
        None => Box::new(Arima { order: s.order, fitted: Some(fitted) }),
    })
}

#[cfg(test)]
mod tests;
