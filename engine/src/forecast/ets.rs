//! Exponential smoothing (ETS / Holt–Winters) with fitted parameters.
//!
//! State space form with additive errors (Hyndman et al., "Forecasting with
//! Exponential Smoothing", ch. 2): a level, an optional additive or damped
//! trend, and an optional additive or multiplicative season of period `m`.
//! The smoothing parameters are fitted by bounded Nelder–Mead on the sum of
//! squared one-step errors; the variant is chosen by AICc.
//!
//! Why the guards: on spiky CPU series an unchecked auto-ETS picks a trend
//! that extrapolates a spike into an explosive ramp (MASE 4–8 in the
//! baselines). Here (1) the slope smoothing is bounded below the level's,
//! (2) an undamped trend must beat its damped twin clearly, and (3) every
//! candidate's forecast path over a season (at least 24 steps) must stay
//! within the range of the recent history widened by that range; candidates
//! that leave it are rejected. The flat model (ANN) always qualifies.
//!
//! Long seasons (288 five-minute steps a day) are cheap: seasonal states are
//! initialised from the first two cycles rather than optimised, so the
//! optimiser only sees 2–4 smoothing parameters and one pass is O(n).
//!
//! Speed (a fit of a 4,032-point history should take a few milliseconds):
//! the parameters are fitted on the most recent [`FIT_WINDOW`] points and
//! then scored and replayed over the whole history once; the objective is a
//! recursion specialised per variant (`EtsState::sse`); and the damped
//! seasonal variants are skipped when a damped trend did not pay off
//! without the season.

mod lanes;

use serde::{Deserialize, Serialize};

use super::bands::{calibrate, clamp_mean, ErrorProfile, Stepper, CALIBRATION_STEPS};
use super::optim::{minimize, Options};
use super::prep::{check_request, fill_linear, prepare, robust_center_spread};
use super::{persist, season, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

const VERSION: u32 = 1;

/// The trend component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrendKind {
    /// No trend.
    None,
    /// Additive (linear) trend.
    Additive,
    /// Additive damped trend.
    Damped,
}

/// The seasonal component.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeasonKind {
    /// No season.
    None,
    /// Additive season.
    Additive,
    /// Multiplicative season (positive series only).
    Multiplicative,
}

/// A fitted ETS state: parameters and the current components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EtsState {
    /// Trend kind.
    pub trend: TrendKind,
    /// Season kind.
    pub season: SeasonKind,
    /// Level smoothing.
    pub alpha: f64,
    /// Slope smoothing (error-correction form, `< alpha`).
    pub beta: f64,
    /// Season smoothing.
    pub gamma: f64,
    /// Damping factor (1 for an undamped trend).
    pub phi: f64,
    /// Current level.
    pub level: f64,
    /// Current slope.
    pub slope: f64,
    /// Seasonal components indexed by absolute phase (empty without a season).
    pub seasonal: Vec<f64>,
    /// Phase of the next step.
    pub phase: usize,
    /// Robust filtering: one-step errors beyond `±clip` move the states by
    /// `±clip` only (0 = off), unless the last [`SHIFT_RUN`] errors were all
    /// clipped on the same side (a level shift, not a spike); at
    /// [`SHIFT_JUMP_RUN`] of them the level jumps to the new regime.
    #[serde(default)]
    pub clip: f64,
    /// Signed count of consecutive clipped errors on one side.
    #[serde(default)]
    pub run: i32,
}

/// Consecutive same-side clipped errors after which clipping stops (a level shift).
pub const SHIFT_RUN: i32 = 3;

/// Consecutive same-side errors beyond the clip after which the level jumps
/// to the newest observation (the slope and the season stay). Why: past
/// [`SHIFT_RUN`] the full error moves the level, but only by `alpha` of it,
/// and on a quiet series the fitted `alpha` is tiny: after
/// `grok_asg_anomaly`'s drop from 34 to 0 the robust ETS was still near 34
/// hundreds of steps later, so `auto` fell back on naive, which repeats
/// every spike. Why 12 and not [`SHIFT_RUN`]: bursts of a few steps
/// (`ec2_network_in`) must not move the level wholesale: there, runs of
/// 3 to 8 cost up to 0.27 of the best baseline's MASE, 10 to 24 nothing
/// (docs/forecasting.md, "How auto chooses").
pub const SHIFT_JUMP_RUN: i32 = 12;

impl EtsState {
    fn damping(&self) -> f64 {
        match self.trend {
            TrendKind::None => 0.0,
            TrendKind::Additive => 1.0,
            TrendKind::Damped => self.phi,
        }
    }

    /// The short code of the variant (`ANN`, `AAdA`, ...).
    pub fn code(&self) -> String {
        let t = match self.trend {
            TrendKind::None => "N",
            TrendKind::Additive => "A",
            TrendKind::Damped => "Ad",
        };
        let s = match self.season {
            SeasonKind::None => "N",
            SeasonKind::Additive => "A",
            SeasonKind::Multiplicative => "M",
        };
        format!("A{t}{s}")
    }

    /// One step: returns the one-step error (`NaN` for a missing `y`), or
    /// `None` when a multiplicative state became invalid.
    #[inline]
    fn advance(&mut self, y: f64) -> Option<f64> {
        let pb = self.damping() * self.slope;
        let base = self.level + pb;
        let m = self.seasonal.len();
        let (yhat, s) = match self.season {
            SeasonKind::None => (base, 0.0),
            SeasonKind::Additive => {
                let s = self.seasonal[self.phase];
                (base + s, s)
            }
            SeasonKind::Multiplicative => {
                let s = self.seasonal[self.phase];
                if !(s > 1e-8 && base > 1e-12) {
                    return None;
                }
                (base * s, s)
            }
        };
        let raw = if y.is_finite() { y - yhat } else { 0.0 };
        let mut e = raw;
        let mut jump = false;
        if self.clip > 0.0 {
            if raw.abs() > self.clip {
                let side = if raw > 0.0 { 1 } else { -1 };
                self.run = if self.run * side > 0 { self.run + side } else { side };
                if self.run.abs() < SHIFT_RUN {
                    e = raw.clamp(-self.clip, self.clip);
                }
                jump = self.run.abs() == SHIFT_JUMP_RUN;
            } else {
                self.run = 0;
            }
        }
        match self.season {
            // A level shift: the level moves to the new regime at once (a
            // small alpha would take hundreds of steps); slope and season stay.
            _ if jump => {
                self.level = if self.season == SeasonKind::Multiplicative { y / s } else { y - s };
                self.slope = pb;
            }
            SeasonKind::None => {
                self.level = base + self.alpha * e;
                self.slope = pb + self.beta * e;
            }
            SeasonKind::Additive => {
                self.level = base + self.alpha * e;
                self.slope = pb + self.beta * e;
                self.seasonal[self.phase] = s + self.gamma * e;
            }
            SeasonKind::Multiplicative => {
                self.level = base + self.alpha * e / s;
                self.slope = pb + self.beta * e / s;
                self.seasonal[self.phase] = s + self.gamma * e / base;
            }
        }
        if m > 0 {
            self.phase = (self.phase + 1) % m;
        }
        Some(if y.is_finite() { raw } else { f64::NAN })
    }

    /// Sum of squared one-step errors over `ys` from this state (Huber-like
    /// beyond `clip`), and the count; `+inf` when a multiplicative state
    /// became invalid. `seasonal` is scratch space for the seasonal states.
    ///
    /// The objective of every optimiser evaluation, so the loop is
    /// specialised per season kind and clipping ([`sse_loop`]): same
    /// arithmetic as [`EtsState::advance`], without its per-step branches.
    fn sse(&self, ys: &[f64], seasonal: &mut Vec<f64>) -> (f64, usize) {
        seasonal.clear();
        seasonal.extend_from_slice(&self.seasonal);
        let clip = self.clip > 0.0;
        let trend = self.trend != TrendKind::None;
        match (self.season, trend, clip) {
            (SeasonKind::None, false, false) => sse_loop::<0, false, false>(self, seasonal, ys),
            (SeasonKind::None, false, true) => sse_loop::<0, false, true>(self, seasonal, ys),
            (SeasonKind::None, true, false) => sse_loop::<0, true, false>(self, seasonal, ys),
            (SeasonKind::None, true, true) => sse_loop::<0, true, true>(self, seasonal, ys),
            (SeasonKind::Additive, false, false) => sse_loop::<1, false, false>(self, seasonal, ys),
            (SeasonKind::Additive, false, true) => sse_loop::<1, false, true>(self, seasonal, ys),
            (SeasonKind::Additive, true, false) => sse_loop::<1, true, false>(self, seasonal, ys),
            (SeasonKind::Additive, true, true) => sse_loop::<1, true, true>(self, seasonal, ys),
            (SeasonKind::Multiplicative, false, false) => sse_loop::<2, false, false>(self, seasonal, ys),
            (SeasonKind::Multiplicative, false, true) => sse_loop::<2, false, true>(self, seasonal, ys),
            (SeasonKind::Multiplicative, true, false) => sse_loop::<2, true, false>(self, seasonal, ys),
            (SeasonKind::Multiplicative, true, true) => sse_loop::<2, true, true>(self, seasonal, ys),
        }
    }
}

/// The recursion of [`EtsState::advance`] from `st` over `ys` for season
/// kind `S` (0 none, 1 additive, 2 multiplicative), with or without a trend
/// and clipping, returning the objective of [`EtsState::sse`]. `seasonal`
/// holds a copy of `st.seasonal` and is overwritten.
///
/// Why the rearranged updates: the loop is bound by the latency of the
/// level (and slope) dependency chain, not by arithmetic. Without clipping,
/// `level + alpha * (y - s - level)` is computed as
/// `(1 - alpha) * level + alpha * (y - s)` (and `y / s` for a
/// multiplicative season), which takes the seasonal term and the
/// observation off the chain (likewise for the slope); the result equals
/// `advance`'s up to rounding. With clipping, an error that is not clipped
/// (the usual case; the branch predicts it) takes the same short update,
/// and only a clipped one goes through `base + alpha * e`.
#[inline(never)]
fn sse_loop<const S: u8, const TREND: bool, const CLIP: bool>(
    st: &EtsState,
    seasonal: &mut [f64],
    ys: &[f64],
) -> (f64, usize) {
    let (alpha, beta, gamma, d, clip) = (st.alpha, st.beta, st.gamma, st.damping(), st.clip);
    let one_alpha = 1.0 - alpha;
    let (ca, cb) = ((1.0 - alpha) * d, (1.0 - beta) * d);
    let (mut level, mut slope, mut run) = (st.level, st.slope, st.run);
    let m = seasonal.len();
    let mut phase = st.phase;
    let mut sse = 0.0;
    let mut n = 0;
    for &y in ys {
        let pb = if TREND { d * slope } else { 0.0 };
        let base = if TREND { level + pb } else { level };
        let s = if S == 0 { 0.0 } else { seasonal[phase] };
        if S == 2 && !(s > 1e-8 && base > 1e-12) {
            return (f64::INFINITY, n);
        }
        if !y.is_finite() {
            // A gap: the state rolls forward on its forecast (a zero error).
            level = base;
            if TREND {
                slope = pb;
            }
            if CLIP {
                run = 0;
            }
        } else {
            // `ym`: the observation in the units of the level.
            let ym = match S {
                0 => y,
                1 => y - s,
                _ => y / s,
            };
            let raw = match S {
                0 => y - base,
                1 => ym - base,
                _ => y - base * s,
            };
            let mut e = raw;
            // Whether this error moves the states by a clipped amount; the
            // usual case (not clipped) takes the short update below.
            let mut clipped = false;
            let mut shifted = false;
            if CLIP {
                if raw.abs() > clip {
                    let side = if raw > 0.0 { 1 } else { -1 };
                    run = if run * side > 0 { run + side } else { side };
                    if run.abs() < SHIFT_RUN {
                        e = raw.clamp(-clip, clip);
                        clipped = true;
                    } else if run.abs() == SHIFT_JUMP_RUN {
                        shifted = true;
                    }
                } else {
                    run = 0;
                }
            }
            if shifted {
                // A level shift (see `EtsState::advance`): the level jumps,
                // the slope and the season stay.
                level = ym;
                if TREND {
                    slope = pb;
                }
                e = 0.0;
            } else if clipped {
                let es = if S == 2 { e / s } else { e };
                level = base + alpha * es;
                if TREND {
                    slope = pb + beta * es;
                }
            } else if TREND {
                // base + alpha * (ym - base) and pb + beta * (ym - base) with
                // base = level + d * slope expanded: each chain is one
                // multiply and two adds long.
                (level, slope) = (one_alpha * level + ca * slope + alpha * ym, cb * slope - beta * level + beta * ym);
            } else {
                level = one_alpha * level + alpha * ym;
            }
            match S {
                1 => seasonal[phase] = s + gamma * e,
                2 => seasonal[phase] = s + gamma * e / base,
                _ => {}
            }
            if raw.is_finite() {
                let a = raw.abs();
                sse += if CLIP && a > clip { clip * (2.0 * a - clip) } else { raw * raw };
                n += 1;
            }
        }
        if S != 0 {
            phase += 1;
            if phase == m {
                phase = 0;
            }
        }
    }
    (sse, n)
}

impl Stepper for EtsState {
    fn step(&mut self, y: f64) {
        // `advance` changes only these (no clone of the seasonal states per step).
        let backup = (self.level, self.slope, self.phase, self.run);
        let s_backup = self.seasonal.get(self.phase).copied();
        if self.advance(y).is_none() || !(self.level.is_finite() && self.slope.is_finite()) {
            // An invalid multiplicative state: roll forward on the forecast instead.
            (self.level, self.slope, self.phase, self.run) = backup;
            if let Some(s) = s_backup {
                self.seasonal[self.phase] = s;
            }
            let f = {
                let mut o = [0.0];
                self.forecast_into(&mut o);
                o[0]
            };
            self.level = f;
            if !self.seasonal.is_empty() {
                self.phase = (self.phase + 1) % self.seasonal.len();
            }
        }
    }

    fn forecast_into(&self, out: &mut [f64]) {
        let phi = self.damping();
        let mut acc = 0.0;
        let mut pw = 1.0;
        let m = self.seasonal.len();
        // `(phase + i) % m`, counted forward (calibration forecasts from
        // thousands of origins, and a division per step showed).
        let mut ph = if m > 0 { self.phase % m } else { 0 };
        for o in out.iter_mut() {
            pw *= phi;
            acc += pw;
            let base = self.level + acc * self.slope;
            *o = match self.season {
                SeasonKind::None => base,
                SeasonKind::Additive => base + self.seasonal[ph],
                SeasonKind::Multiplicative => base * self.seasonal[ph],
            };
            ph += 1;
            if ph == m {
                ph = 0;
            }
        }
    }
}

/// One ETS variant to try.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    /// Trend kind.
    pub trend: TrendKind,
    /// Season kind.
    pub season: SeasonKind,
}

/// The variants `auto` tries without a season.
pub const NONSEASONAL: [Spec; 3] = [
    Spec { trend: TrendKind::None, season: SeasonKind::None },
    Spec { trend: TrendKind::Damped, season: SeasonKind::None },
    Spec { trend: TrendKind::Additive, season: SeasonKind::None },
];

/// The variants tried with a season.
pub const SEASONAL: [Spec; 4] = [
    Spec { trend: TrendKind::None, season: SeasonKind::Additive },
    Spec { trend: TrendKind::Damped, season: SeasonKind::Additive },
    Spec { trend: TrendKind::None, season: SeasonKind::Multiplicative },
    Spec { trend: TrendKind::Damped, season: SeasonKind::Multiplicative },
];

/// Least-squares line through the finite points of `x` (`t` = index).
fn line(x: &[f64]) -> (f64, f64) {
    let pts: Vec<(f64, f64)> = x.iter().enumerate().filter(|p| p.1.is_finite()).map(|(i, &v)| (i as f64, v)).collect();
    let n = pts.len() as f64;
    if pts.is_empty() {
        return (0.0, 0.0);
    }
    let tm = pts.iter().map(|p| p.0).sum::<f64>() / n;
    let ym = pts.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = pts.iter().map(|p| (p.0 - tm).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|p| (p.0 - tm) * (p.1 - ym)).sum();
    let b = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    (ym - b * tm, b)
}

/// The initial state (before `ys[0]`) of `spec`; `None` when the history is
/// too short or (multiplicative) not positive.
fn initial_state(spec: Spec, filled: &[f64], m: usize, phase0: usize) -> Option<EtsState> {
    let n = filled.len();
    let seasonal = spec.season != SeasonKind::None;
    let mut st = EtsState {
        trend: spec.trend,
        season: spec.season,
        alpha: 0.3,
        beta: 0.01,
        gamma: 0.01,
        phi: if spec.trend == TrendKind::Damped { 0.95 } else { 1.0 },
        level: 0.0,
        slope: 0.0,
        seasonal: Vec::new(),
        phase: 0,
        clip: 0.0,
        run: 0,
    };
    if !seasonal {
        let k = n.min(if spec.trend == TrendKind::None { 10 } else { 20 });
        if k == 0 {
            return None;
        }
        let (a, b) = line(&filled[..k]);
        if spec.trend == TrendKind::None {
            st.level = filled[..k].iter().sum::<f64>() / k as f64;
        } else {
            st.level = a - b;
            st.slope = b;
        }
        return Some(st);
    }
    if m < 2 || n < 2 * m + 2 {
        return None;
    }
    let head = &filled[..2 * m];
    let (a, b) = line(head);
    let mut s = vec![0.0; m];
    for j in 0..m {
        let t0 = j as f64;
        let t1 = (j + m) as f64;
        s[j] = match spec.season {
            SeasonKind::Multiplicative => {
                let (d0, d1) = (a + b * t0, a + b * t1);
                if d0 <= 0.0 || d1 <= 0.0 || head[j] <= 0.0 || head[j + m] <= 0.0 {
                    return None;
                }
                (head[j] / d0 + head[j + m] / d1) / 2.0
            }
            _ => ((head[j] - a - b * t0) + (head[j + m] - a - b * t1)) / 2.0,
        };
    }
    let mean = s.iter().sum::<f64>() / m as f64;
    if spec.season == SeasonKind::Multiplicative {
        if mean <= 0.0 {
            return None;
        }
        s.iter_mut().for_each(|v| *v /= mean);
    } else {
        s.iter_mut().for_each(|v| *v -= mean);
    }
    st.seasonal = vec![0.0; m];
    for (j, v) in s.into_iter().enumerate() {
        st.seasonal[(phase0 + j) % m] = v;
    }
    st.phase = phase0 % m;
    st.level = a - b;
    st.slope = if spec.trend == TrendKind::None { 0.0 } else { b };
    if spec.trend == TrendKind::None {
        st.level = a + b * (m as f64 - 0.5);
    }
    Some(st)
}

/// Sets the parameters encoded in `x` (see [`SpecProblem::new`]) on `st`.
fn apply(st: &mut EtsState, x: &[f64]) {
    let mut i = 0;
    let mut next = || {
        let v = x[i];
        i += 1;
        v
    };
    st.alpha = next();
    if st.trend != TrendKind::None {
        st.beta = st.alpha * next();
    }
    if st.season != SeasonKind::None {
        st.gamma = (1.0 - st.alpha) * next();
    }
    if st.trend == TrendKind::Damped {
        st.phi = next();
    }
}

/// A fitted variant: its initial state (with parameters) and AICc.
#[derive(Debug, Clone)]
pub(crate) struct Fit {
    /// The state before the first point, with fitted parameters.
    pub init: EtsState,
    /// Information criterion (lower is better).
    pub aicc: f64,
}

/// Points the smoothing parameters of a non-seasonal variant are fitted on
/// (the most recent ones): every optimiser evaluation is a pass over them.
/// On the evaluation series a window forecasts about as well as the full
/// history, and better where the series' behaviour changed
/// (docs/forecasting.md). 1,800 (six and a quarter days of 5-minute steps):
/// after `grok_asg_anomaly`'s level drop a 2,500-point window still fitted
/// mostly the old regime, and each evaluation is a quarter shorter; 1,200
/// and 1,000 fitted bursts of `ec2_network_in` as regimes.
pub const FIT_WINDOW: usize = 1800;

/// The shortest fit window of a seasonal variant: its seasonal smoothing is
/// weakly identified, and on a steady seasonal series 1,800 points left its
/// fit 5% worse over the whole history than a full fit (2,500: within 2%).
pub const SEASONAL_FIT_WINDOW: usize = 2500;

/// The fit window of a seasonal variant spans at least this many seasons.
pub const FIT_WINDOW_CYCLES: usize = 5;

/// What every variant of one ETS fit is fitted to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FitData<'a> {
    /// The series (`NaN` = gap).
    pub ys: &'a [f64],
    /// `ys` with its gaps filled linearly (for initial states).
    pub filled: &'a [f64],
    /// The season (ignored by non-seasonal variants).
    pub m: usize,
    /// The phase of `ys[0]`.
    pub phase0: usize,
    /// The robust-filter threshold (0 = off).
    pub clip: f64,
    /// The parameters are fitted on this many recent points ([`FIT_WINDOW`]).
    pub fit_window: usize,
}

/// Fits one variant by Nelder–Mead on the one-step SSE over the last
/// `data.fit_window` points; the AICc is that of the full history.
fn fit_spec_in(spec: Spec, data: &FitData) -> Option<Fit> {
    SpecProblem::new(spec, data)?.solve_alone(data.ys)
}

/// The optimisation problem of fitting one variant: where the parameters
/// start and their bounds, and the states the objective runs from.
#[derive(Debug, Clone)]
struct SpecProblem {
    spec: Spec,
    m: usize,
    /// The state before `ys[0]` (parameters not yet set).
    init: EtsState,
    /// The state the objective starts from, before `ys[from]`.
    scratch: EtsState,
    /// First point of the fit window.
    from: usize,
    start: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
}

impl SpecProblem {
    /// The problem of [`fit_spec_in`]; `None` when `spec` cannot be
    /// initialised on this history.
    fn new(spec: Spec, data: &FitData) -> Option<SpecProblem> {
        let FitData { ys, filled, m, phase0, clip, fit_window } = *data;
        let mut init = initial_state(spec, filled, m, phase0)?;
        init.clip = clip;
        let mut start = vec![0.2];
        let mut lower = vec![1e-4];
        let mut upper = vec![0.9999];
        if spec.trend != TrendKind::None {
            // beta / alpha: capped so a spike cannot turn into a steep slope.
            start.push(0.05);
            lower.push(1e-4);
            upper.push(0.5);
        }
        if spec.season != SeasonKind::None {
            start.push(0.05);
            lower.push(1e-4);
            upper.push(0.9999);
        }
        if spec.trend == TrendKind::Damped {
            start.push(0.95);
            lower.push(0.8);
            upper.push(0.98);
        }
        // The parameters are fitted on the recent window only (from a state
        // initialised on the window's head); the full recursion in `finish`
        // then scores them and gives the state.
        let window = if spec.season == SeasonKind::None {
            fit_window
        } else {
            fit_window.max(SEASONAL_FIT_WINDOW).max(FIT_WINDOW_CYCLES * m)
        };
        let from = ys.len().saturating_sub(window);
        let head = (from > 0).then(|| initial_state(spec, &filled[from..], m, (phase0 + from) % m.max(1))).flatten();
        let (scratch, from) = match head {
            Some(mut w) => {
                w.clip = clip;
                (w, from)
            }
            None => (init.clone(), 0),
        };
        Some(SpecProblem { spec, m, init, scratch, from, start, lower, upper })
    }

    /// Minimizes the objective on its own and returns the fit.
    fn solve_alone(mut self, ys: &[f64]) -> Option<Fit> {
        let mut seasonal = Vec::with_capacity(self.init.seasonal.len());
        let fit_ys = &ys[self.from..];
        let options = self.options();
        let scratch = &mut self.scratch;
        let best = minimize(
            |x| {
                apply(scratch, x);
                scratch.sse(fit_ys, &mut seasonal).0
            },
            &self.start,
            &self.lower,
            &self.upper,
            &options,
        );
        self.finish(&best.x, ys)
    }

    /// The optimiser's settings: a budget that grows with the parameters.
    fn options(&self) -> Options {
        Options { max_evals: 30 + 40 * self.start.len(), tolerance: 1e-4, step: 0.15 }
    }

    /// The fitted variant for the parameters `x`, scored over all of `ys`.
    fn finish(self, x: &[f64], ys: &[f64]) -> Option<Fit> {
        let (spec, m, d) = (self.spec, self.m, self.start.len());
        let mut fitted = self.init;
        apply(&mut fitted, x);
        let mut seasonal = Vec::with_capacity(fitted.seasonal.len());
        let (sse, n) = fitted.sse(ys, &mut seasonal);
        if !sse.is_finite() || n == 0 {
            return None;
        }
        let k = d
            + 1
            + usize::from(spec.trend != TrendKind::None)
            + if spec.season != SeasonKind::None { m } else { 0 }
            + 1;
        let nf = n as f64;
        let kf = k as f64;
        let loglik = -0.5 * nf * (sse / nf).max(1e-300).ln();
        let aicc =
            if n > k + 1 { -2.0 * loglik + 2.0 * kf + 2.0 * kf * (kf + 1.0) / (nf - kf - 1.0) } else { f64::INFINITY };
        Some(Fit { init: fitted, aicc })
    }
}

/// Whether the forecast path of `end` stays in a plausible range of the
/// recent history `filled` (the explosive-trend guard).
pub(crate) fn plausible(end: &EtsState, filled: &[f64]) -> bool {
    let g = end.seasonal.len().max(24);
    let recent = &filled[filled.len().saturating_sub((2 * g).max(100))..];
    let lo = recent.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = recent.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let r = (hi - lo).max(1e-9 * hi.abs().max(1.0));
    let mut path = vec![0.0; g];
    end.forecast_into(&mut path);
    path.iter().all(|&v| v.is_finite() && v >= lo - r && v <= hi + r)
}

/// The robust-filter threshold: 3 robust standard deviations of the
/// one-step noise, estimated from the MAD of first differences (spikes and
/// level shifts barely move a median).
pub(crate) fn robust_clip(filled: &[f64]) -> f64 {
    let mut scratch = Vec::with_capacity(filled.len());
    let (_, spread) = robust_center_spread(filled.windows(2).map(|w| w[1] - w[0]), &mut scratch);
    let sigma = spread / std::f64::consts::SQRT_2;
    if sigma.is_finite() && sigma > 0.0 {
        3.0 * sigma
    } else {
        0.0
    }
}

/// The outcome of [`fit_auto`]: the fitted state before and after the
/// history, and its bands.
#[derive(Debug, Clone)]
pub(crate) struct AutoFit {
    /// The fitted initial state, before the first point of the history
    /// (what a model that replays the history itself starts from).
    pub start: EtsState,
    /// State after the last point of the history.
    pub state: EtsState,
    /// Measured error profile.
    pub profile: ErrorProfile,
}

/// Fits every variant in `specs` to `ys` (`NaN` = gap), keeps those that
/// pass the guard, and returns the one with the lowest AICc (an undamped
/// trend needs 2 points of AICc over its damped twin), replayed to the end
/// with its error profile. `m` is the season (ignored by non-seasonal specs),
/// `phase0` the phase of `ys[0]`.
pub(crate) fn fit_auto(
    ys: &[f64],
    specs: &[Spec],
    m: usize,
    phase0: usize,
    robust: bool,
    measure_bands: bool,
) -> Result<AutoFit, ForecastError> {
    fit_auto_with(ys, &FitSettings { specs: specs.to_vec(), m, phase0, robust, measure_bands })
}

/// The settings of a [`fit_auto`] call besides the series.
#[derive(Debug, Clone, PartialEq)]
struct FitSettings {
    specs: Vec<Spec>,
    m: usize,
    phase0: usize,
    robust: bool,
    measure_bands: bool,
}

/// [`fit_auto`] with its settings in one struct.
fn fit_auto_with(ys: &[f64], key: &FitSettings) -> Result<AutoFit, ForecastError> {
    let (specs, m, phase0, robust) = (key.specs.as_slice(), key.m, key.phase0, key.robust);
    let finite = ys.iter().filter(|v| v.is_finite()).count();
    if finite < 3 {
        return Err(ForecastError::TooShort { model: "ets", got: finite, need: 3 });
    }
    let filled = fill_linear(ys);
    let clip = if robust { robust_clip(&filled) } else { 0.0 };
    let mut best: Option<(f64, EtsState, EtsState)> = None;
    let mut damped_aicc = f64::INFINITY;
    let flat = [NONSEASONAL[0]];
    let fallback: &[Spec] = if specs.contains(&NONSEASONAL[0]) { &[] } else { &flat };
    // A damped trend next to a season is only tried when the damped trend
    // beat the flat model without one (both fitted first, as in
    // `Ets::fit`'s order): it saves the two costliest fits, and on the
    // evaluation series the pruned variants were never chosen.
    let can_prune = specs.contains(&NONSEASONAL[0]) && specs.contains(&NONSEASONAL[1]);
    let mut flat_aicc = f64::INFINITY;
    // The non-seasonal variants are always all fitted, and first: together
    // (see `lanes`), in the order they come.
    let all: Vec<Spec> = specs.iter().chain(fallback).copied().collect();
    let nonseasonal: Vec<Spec> = all.iter().copied().filter(|s| s.season == SeasonKind::None).collect();
    let data = FitData { ys, filled: &filled, m, phase0, clip, fit_window: FIT_WINDOW };
    let mut nonseasonal_fits = lanes::fit_specs(&nonseasonal, &data).into_iter();
    for &spec in &all {
        let fit = if spec.season == SeasonKind::None {
            nonseasonal_fits.next().flatten()
        } else if can_prune && spec.trend == TrendKind::Damped && damped_aicc >= flat_aicc {
            continue;
        } else {
            fit_spec_in(spec, &data)
        };
        let Some(fit) = fit else { continue };
        if spec == NONSEASONAL[0] {
            flat_aicc = fit.aicc;
        }
        let mut end = fit.init.clone();
        ys.iter().for_each(|&y| end.step(y));
        let flat = spec == NONSEASONAL[0];
        if !flat && !plausible(&end, &filled) {
            continue;
        }
        let mut score = fit.aicc;
        if spec.trend == TrendKind::Damped && spec.season == SeasonKind::None {
            damped_aicc = score;
        }
        if spec.trend == TrendKind::Additive && score > damped_aicc - 2.0 {
            score = f64::INFINITY;
        }
        if best.as_ref().is_none_or(|b| score < b.0) || best.is_none() {
            best = Some((score, fit.init, end));
        }
    }
    let (_, start, end) = best.ok_or(ForecastError::TooShort { model: "ets", got: finite, need: 3 })?;
    if !key.measure_bands {
        // `end` is already the start replayed over the history.
        return Ok(AutoFit { start, state: end, profile: ErrorProfile::default() });
    }
    let mut state = start.clone();
    let skip = state.seasonal.len().max(10);
    let window = ys.len().saturating_sub(skip).min(3000);
    let profile = calibrate(&mut state, ys, CALIBRATION_STEPS, window);
    Ok(AutoFit { start, state, profile })
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct State {
    ets: EtsState,
    profile: ErrorProfile,
    nonneg: bool,
}

/// The ETS model: picks the season (given or detected), fits the guarded
/// variants and keeps the best by AICc.
#[derive(Debug, Clone, PartialEq)]
pub struct Ets {
    state: Option<State>,
    seasonal: bool,
    robust: bool,
}

impl Default for Ets {
    fn default() -> Self {
        Self { state: None, seasonal: true, robust: ROBUST }
    }
}

/// Whether ETS fits use the robust (clipped-error) filter by default
/// (measured: plain fits forecast better on most traces; the robust one is
/// an extra `auto` candidate).
pub const ROBUST: bool = false;

/// The longest season ETS models directly.
pub const MAX_SEASON: usize = 2000;

impl Ets {
    /// An unfitted ETS model.
    pub fn new() -> Self {
        Self::default()
    }

    /// An unfitted ETS model that never models a season (the candidate
    /// `auto` uses next to MSTL, which covers seasons).
    pub fn nonseasonal() -> Self {
        Self { state: None, seasonal: false, robust: ROBUST }
    }

    /// A non-seasonal ETS whose filter clips spikes (see [`EtsState::clip`]):
    /// the level follows the typical value of a spiky series instead of its
    /// bursts. `auto` backtests it next to the plain one.
    pub fn robust_nonseasonal() -> Self {
        Self { state: None, seasonal: false, robust: true }
    }

    /// Restores a model saved by [`Forecaster::save`].
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        Ok(Self { state: Some(persist::load(saved, "ets", VERSION)?), seasonal: true, robust: ROBUST })
    }

    /// The chosen variant's code (`ANN`, `AAdA`, ...), once fitted.
    pub fn variant(&self) -> Option<String> {
        self.state.as_ref().map(|s| s.ets.code())
    }
}

impl Forecaster for Ets {
    fn name(&self) -> &'static str {
        "ets"
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        let p = prepare(history)?;
        let periods = match (self.seasonal, options.seasons.is_empty()) {
            (false, _) => Vec::new(),
            (true, true) => season::detect(&p.values),
            (true, false) => options.seasons.clone(),
        };
        let m = periods.into_iter().filter(|&m| (2..=MAX_SEASON).contains(&m) && p.values.len() >= 2 * m + 2).min();
        let origin = options.origin_index.unwrap_or(0) + p.skipped as i64;
        let (specs, m): (Vec<Spec>, usize) = match m {
            Some(m) => (NONSEASONAL.iter().chain(SEASONAL.iter()).copied().collect(), m),
            None => (NONSEASONAL.to_vec(), 1),
        };
        let phase0 = origin.rem_euclid(m as i64) as usize;
        let fit = fit_auto(&p.values, &specs, m, phase0, self.robust, !options.means_only)?;
        self.state = Some(State { ets: fit.state, profile: fit.profile, nonneg: p.nonneg });
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(horizon, levels)?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("ets"))?;
        let mut mean = vec![0.0; horizon];
        s.ets.forecast_into(&mut mean);
        Ok(s.profile.prediction(mean, levels, s.nonneg))
    }

    fn predict_mean_into(&self, out: &mut [f64]) -> Result<(), ForecastError> {
        check_request(out.len(), &[])?;
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("ets"))?;
        s.ets.forecast_into(out);
        clamp_mean(out, s.nonneg);
        Ok(())
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        let s = self.state.as_mut().ok_or(ForecastError::NotFitted("ets"))?;
        new_points.iter().for_each(|&y| s.ets.step(y));
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        let s = self.state.as_ref().ok_or(ForecastError::NotFitted("ets"))?;
        persist::save("ets", VERSION, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::forecast::test_util::noise;

    #[test]
    fn recovers_a_linear_trend() {
        let y: Vec<f64> = (0..300).map(|t| 10.0 + 0.5 * t as f64).collect();
        let mut m = Ets::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        let p = m.predict(12, &[95.0]).unwrap();
        for (i, v) in p.mean.iter().enumerate() {
            let want = 10.0 + 0.5 * (300 + i) as f64;
            assert!((v - want).abs() < 0.05 * 12.0 * 0.5, "step {i}: {v} vs {want} ({:?})", m.variant());
        }
    }

    #[test]
    fn recovers_a_seasonal_signal_and_a_level_shift() {
        let e = noise(1200, 7);
        let y: Vec<f64> = (0..1200)
            .map(|t| 50.0 + 10.0 * (2.0 * std::f64::consts::PI * t as f64 / 24.0).sin() + 0.1 * e[t])
            .collect();
        let mut m = Ets::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        let p = m.predict(48, &[]).unwrap();
        for (i, v) in p.mean.iter().enumerate() {
            let want = 50.0 + 10.0 * (2.0 * std::f64::consts::PI * (1200 + i) as f64 / 24.0).sin();
            assert!((v - want).abs() < 0.5, "step {i}: {v} vs {want} {:?}", m.variant());
        }
        let y: Vec<f64> = (0..400).map(|t| if t < 300 { 5.0 } else { 20.0 } + 0.01 * e[t]).collect();
        m.fit(&y, &FitOptions::default()).unwrap();
        let p = m.predict(10, &[]).unwrap();
        assert!(p.mean.iter().all(|v| (v - 20.0).abs() < 0.2), "{:?}", p.mean);
    }

    #[test]
    fn spiky_series_gets_no_explosive_trend() {
        let e = noise(4032, 9);
        let mut y: Vec<f64> = e.iter().map(|v| 20.0 + 2.0 * v).collect();
        // Spikes at irregular times (a periodic spike would be a real season).
        for (t, v) in e.iter().enumerate() {
            if *v > 0.497 {
                y[t] = 95.0;
            }
        }
        y[4031] = 99.0;
        y[4030] = 97.0;
        let mut m = Ets::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        let p = m.predict(288, &[]).unwrap();
        assert!(p.mean.iter().all(|v| (0.0..=120.0).contains(v)), "{:?} {:?}", m.variant(), &p.mean[280..]);
    }

    /// The objective through `advance`, one step at a time (the reference
    /// the specialised `sse_loop` must match).
    fn sse_reference(st: &EtsState, ys: &[f64]) -> (f64, usize) {
        let mut s = st.clone();
        let (mut sse, mut n) = (0.0, 0);
        for &y in ys {
            match s.advance(y) {
                Some(e) if e.is_finite() => {
                    let (a, c) = (e.abs(), st.clip);
                    sse += if c > 0.0 && a > c { c * (2.0 * a - c) } else { e * e };
                    n += 1;
                }
                Some(_) => {}
                None => return (f64::INFINITY, n),
            }
        }
        (sse, n)
    }

    #[test]
    fn specialised_sse_matches_the_step_recursion() {
        let e = noise(600, 21);
        let mut y: Vec<f64> =
            (0..600).map(|t| 30.0 + 0.02 * t as f64 + 5.0 * ((t % 12) as f64 - 5.5).abs() + 3.0 * e[t]).collect();
        y[100] = f64::NAN;
        y[101] = f64::NAN;
        y[300] = 90.0;
        let filled = fill_linear(&y);
        let mut scratch = Vec::new();
        for spec in NONSEASONAL.iter().chain(SEASONAL.iter()) {
            for clip in [0.0, 2.0] {
                let mut st = initial_state(*spec, &filled, 12, 5).unwrap();
                st.clip = clip;
                apply(&mut st, &[0.3, 0.2, 0.1, 0.9][..]);
                let want = sse_reference(&st, &y);
                let got = st.sse(&y, &mut scratch);
                assert_eq!(got.1, want.1, "{spec:?} clip {clip}");
                assert!((got.0 - want.0).abs() <= 1e-9 * want.0, "{spec:?} clip {clip}: {got:?} vs {want:?}");
                assert!(want.0.is_finite() && want.1 == 598);
            }
        }
    }

    #[test]
    fn window_fit_is_close_to_the_full_fit() {
        // A local level with noise (a steady series): the window's parameters
        // and score are close to those fitted on the whole history.
        let (e, u) = (noise(6000, 31), noise(6000, 32));
        let mut level = 50.0;
        let y: Vec<f64> = (0..6000)
            .map(|t| {
                level += 0.5 * u[t];
                level + e[t] + 10.0 * ((t % 24) as f64 / 24.0)
            })
            .collect();
        let filled = fill_linear(&y);
        for spec in [NONSEASONAL[0], NONSEASONAL[1], SEASONAL[0]] {
            let data = FitData { ys: &y, filled: &filled, m: 24, phase0: 0, clip: 0.0, fit_window: FIT_WINDOW };
            let win = fit_spec_in(spec, &data).unwrap();
            let full = fit_spec_in(spec, &FitData { fit_window: usize::MAX, ..data }).unwrap();
            assert!((win.init.alpha - full.init.alpha).abs() < 0.05, "{spec:?}: {:?} vs {:?}", win.init, full.init);
            assert!((win.init.gamma - full.init.gamma).abs() < 0.05, "{spec:?}: {:?} vs {:?}", win.init, full.init);
            // The AICc is n log(SSE / n) + ...: the window's SSE over the
            // whole history is within 2% of the full fit's. (Nelder–Mead
            // stops within its tolerance, so the window's may even be a
            // hair better.)
            let worse = (win.aicc - full.aicc) / 6000.0;
            assert!((-1e-4..0.02).contains(&worse), "{spec:?}: {} vs {}", win.aicc, full.aicc);
        }
    }

    #[test]
    fn save_restore_update_and_fallbacks() {
        let e = noise(500, 3);
        let y: Vec<f64> = (0..500).map(|t| 5.0 + (t % 10) as f64 + e[t]).collect();
        let mut m = Ets::new();
        m.fit(&y, &FitOptions { seasons: vec![10], origin_index: Some(3), step_ns: None, ..Default::default() })
            .unwrap();
        let r = Ets::restore(&m.save().unwrap()).unwrap();
        assert_eq!(r.predict(20, &[50.0, 99.0]).unwrap(), m.predict(20, &[50.0, 99.0]).unwrap());
        let before = m.predict(1, &[]).unwrap().mean[0];
        m.update(&[100.0, f64::NAN]).unwrap();
        assert_ne!(m.predict(1, &[]).unwrap().mean[0], before);
        assert!(matches!(m.fit(&[1.0, f64::NAN], &FitOptions::default()), Err(ForecastError::TooShort { .. })));
        m.fit(&[3.0; 50], &FitOptions::default()).unwrap();
        let p = m.predict(5, &[95.0]).unwrap();
        assert!(p.mean.iter().all(|v| (v - 3.0).abs() < 1e-9));
    }

    #[test]
    fn robust_filter_ignores_a_spike_and_jumps_to_a_lasting_shift() {
        // A quiet level with rare spikes: the fitted alpha is small.
        let e = noise(2000, 7);
        let mut y: Vec<f64> = (0..2000).map(|t| 34.0 + 0.1 * e[t]).collect();
        for t in (50..2000).step_by(97) {
            y[t] += 8.0;
        }
        let mut m = Ets::robust_nonseasonal();
        m.fit(&y, &FitOptions { means_only: true, ..Default::default() }).unwrap();
        let next = |m: &Ets| m.predict(1, &[]).unwrap().mean[0];
        assert!((next(&m) - 34.0).abs() < 0.5, "{}", next(&m));
        m.update(&[60.0]).unwrap();
        assert!((next(&m) - 34.0).abs() < 1.0, "a lone spike moved the level to {}", next(&m));
        // A drop to 0 that lasts: one step short of the jump the level is
        // still far from it, at the jump it is there.
        let jump = SHIFT_JUMP_RUN as usize;
        m.update(&vec![0.0; jump - 1]).unwrap();
        assert!(next(&m) > 5.0, "{}", next(&m));
        m.update(&[0.0]).unwrap();
        assert!(next(&m).abs() < 0.5, "{}", next(&m));
    }

    #[test]
    fn mstl_without_a_season_is_plain_ets() {
        let ys: Vec<f64> = (0..600).map(|t| 20.0 + ((t * 37) % 13) as f64 * 0.3 + 0.01 * t as f64).collect();
        let opts = FitOptions { seasons: vec![1], means_only: true, ..Default::default() };
        let mut ets = Ets::nonseasonal();
        ets.fit(&ys, &opts).unwrap();
        let mut mstl = super::super::mstl::Mstl::new();
        mstl.fit(&ys, &opts).unwrap();
        assert_eq!(ets.predict(24, &[]).unwrap().mean, mstl.predict(24, &[]).unwrap().mean);
    }
}
