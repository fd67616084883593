//! Rolling-origin backtests and the error-weighted ensemble built on them.
//!
//! How it works: every candidate model is fitted on the history minus its
//! tail (the last fifth, at most 1,000 steps), then walks through the tail
//! one step at a time with `update()`, forecasting up to [`BACKTEST_STEPS`]
//! steps from every origin. That gives, per candidate and per forecast step
//! `h`, out-of-sample errors measured exactly as a user would see them.
//! The errors of recent origins count more: an origin's weight halves
//! every [`RECENCY_HALF_LIFE`] of the tail (at least
//! [`MIN_HALF_LIFE_ORIGINS`] origins), so that after a level shift or
//! a change of regime inside the tail, the models that do well in the
//! regime the forecast starts from are preferred (discounted-error
//! combination weights, as in Stock & Watson's forecast combinations).
//! Per step `h` the ensemble weights the best three candidates (those
//! within 1.5× of the best mean absolute error) by `1 / MAE²`; `auto`
//! ([`super::auto`]) compares that weighted mix with the single best model
//! at each step and keeps whichever erred less. The band profile is
//! measured from the backtest errors of the chosen combination itself, so
//! bands are out-of-sample calibrated. After the backtest the members have
//! seen the whole history (the walk rolled their states forward) and are
//! used as they are, except that chosen members whose refit is cheap and
//! keeps their structure (the autoregressions, see
//! [`Forecaster::refit_when_chosen`]) are refitted on the whole history,
//! so that their parameters learn a regime that began in the tail (on
//! `rds_cpu`, whose level triples in the tail, 1.05 → 0.97 of the best
//! baseline). Between refits, `update()` tracks each
//! member's live one-step error; when members drift far from their
//! backtest error (a level shift), weights are recomputed from the
//! drift-scaled errors until the next fit.
//!
//! The candidate list is a slice of constructors, so adding a model (ARIMA)
//! is one line in [`default_candidates`].

use serde::{Deserialize, Serialize};

use super::bands::{clamp_mean, ErrorProfile, ProfileBuilder};
use super::ets::Ets;
use super::mstl::{MstlAr, MstlAri};
use super::naive::Naive;
use super::prep::{check_request, prepare};
use super::snaive::SeasonalNaive;
use super::{persist, registry, season, FitOptions, ForecastError, Forecaster, Prediction, SavedModel};

const VERSION: u32 = 1;

/// The forecast steps scored in a backtest (and weighted separately).
pub const BACKTEST_STEPS: usize = 36;

/// How fast old backtest origins lose weight: an origin's error counts
/// half as much as one this share of the tail's origins later (0.15: about
/// 8 hours of a 5-minute tail of 645 origins). Over shares from 0.1 to
/// 0.25 the accuracy table moves by less than 0.01; see
/// docs/forecasting.md ("How auto chooses").
pub const RECENCY_HALF_LIFE: f64 = 0.15;

/// The shortest half-life of [`RECENCY_HALF_LIFE`], in origins: a short
/// tail (a week of half-hours has 67 origins) keeps enough effective
/// origins for its errors to mean something. With a 10-origin half-life
/// the replay simulator's `nyc_taxi` pool (7 days of history) paid 1% more
/// for its capacity; with 50 it pays the same as with no weighting and is
/// short less often.
pub const MIN_HALF_LIFE_ORIGINS: f64 = 50.0;

/// Builds a fresh, unfitted candidate model.
pub type Candidate = fn() -> Box<dyn Forecaster>;

/// The candidates `auto` and `ensemble` backtest. Seasonal naive stays in so
/// that the choice is never worse than it on the backtest.
///
/// Why these five: the seasonal autoregressions (`mstl_ar`, `mstl_ari`)
/// replaced MSTL + ETS and plain ETS, which they beat or matched on every
/// trace of the accuracy table; with those two still in, the extra
/// choices only added selection noise (mean ratio 0.912 with, 0.902
/// without) and 1.5 ms. The robust ETS stays: on the spiky traces
/// (`ec2_network_in`, `grok_asg`) nothing else follows the typical level
/// as well (0.89 → 0.99 without it). ARIMA is not a candidate: its search
/// costs 40–560 ms, and fitted on the history minus the tail it misses a
/// level shift in the tail.
pub fn default_candidates() -> Vec<Candidate> {
    vec![
        || Box::new(Naive::new()),
        || Box::new(SeasonalNaive::new()),
        || Box::new(Ets::robust_nonseasonal()),
        || Box::new(MstlAr::new()),
        || Box::new(MstlAri::new()),
    ]
}

/// How the combination is chosen from the backtest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Mode {
    /// Always the error-weighted mix.
    Ensemble,
    /// Per step, the single best model or the mix, whichever backtested better.
    Auto,
}

/// What a backtest measured.
///
/// The forecasts and actuals are flat, origin-major arrays (`[o * steps +
/// j]`, step `j` 0-based): every pass over them (per-step errors, the mix
/// errors of each step's weighting, the band profile) reads each origin's
/// row in order, without chasing a pointer per origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Backtest {
    /// Candidate names, in candidate order (only those that could be fitted).
    pub names: Vec<&'static str>,
    /// Each backtested model's index in the candidate list (two
    /// candidates may share a name: plain and robust ETS).
    pub sources: Vec<usize>,
    /// Steps forecast from every origin.
    pub steps: usize,
    /// Number of origins.
    pub origins: usize,
    /// `forecasts[c][o * steps + j]`: candidate `c`'s forecast `j + 1` steps after origin `o`.
    pub forecasts: Vec<Vec<f64>>,
    /// `actuals[o * steps + j]`: the value `j + 1` steps after origin `o`
    /// (`NaN` past the end of the history, as in a gap).
    pub actuals: Vec<f64>,
    /// `origin_weights[o]`: how much origin `o`'s errors count in the
    /// mean absolute errors ([`RECENCY_HALF_LIFE`]; the last origin 1).
    pub origin_weights: Vec<f64>,
}

impl Backtest {
    /// Origin `o`'s actuals.
    fn actual_row(&self, o: usize) -> &[f64] {
        &self.actuals[o * self.steps..(o + 1) * self.steps]
    }

    /// Candidate `c`'s forecasts from origin `o`.
    fn forecast_row(&self, c: usize, o: usize) -> &[f64] {
        &self.forecasts[c][o * self.steps..(o + 1) * self.steps]
    }

    /// `maes[c][j]`: candidate `c`'s MAE at step `j` (0-based), weighted
    /// by [`Backtest::origin_weights`], each measured once (the per-step
    /// smoothing below reads them three times).
    /// One pass over the origins, reading each forecast row in order.
    fn step_maes(&self) -> Vec<Vec<f64>> {
        let c = self.names.len();
        let mut sums = vec![vec![0.0; self.steps]; c];
        let mut weights = vec![vec![0.0; self.steps]; c];
        for (o, &w) in self.origin_weights.iter().enumerate() {
            let a = self.actual_row(o);
            for (k, (sum, weight)) in sums.iter_mut().zip(weights.iter_mut()).enumerate() {
                let f = self.forecast_row(k, o);
                for j in 0..self.steps {
                    let e = a[j] - f[j];
                    if e.is_finite() {
                        sum[j] += w * e.abs();
                        weight[j] += w;
                    }
                }
            }
        }
        sums.iter()
            .zip(&weights)
            .map(|(sum, weight)| {
                sum.iter().zip(weight).map(|(&s, &w)| if w > 0.0 { s / w } else { f64::INFINITY }).collect()
            })
            .collect()
    }

    /// Candidate `c`'s MAE at steps `h-1..=h+1` (0-based `h`), smoothing
    /// noise, from the [`Backtest::step_maes`] table.
    fn mae(maes: &[Vec<f64>], c: usize, h: usize) -> f64 {
        let lo = h.saturating_sub(1);
        let hi = (h + 1).min(maes[c].len() - 1);
        (lo..=hi).map(|j| maes[c][j]).sum::<f64>() / (hi - lo + 1) as f64
    }

    /// The MAE of the mix `w` at steps `h-1..=h+1` (0-based `h`), weighted
    /// and averaged like [`Backtest::mae`]; candidates without weight are
    /// skipped.
    fn mix_mae(&self, w: &[f64], h: usize) -> f64 {
        let lo = h.saturating_sub(1);
        let hi = (h + 1).min(self.steps - 1);
        let used: Vec<(usize, f64)> = w.iter().copied().enumerate().filter(|&(_, wc)| wc != 0.0).collect();
        if used.len() > 3 {
            return self.mae_of(lo, hi, |i| used.iter().map(|&(c, wc)| wc * self.forecasts[c][i]).sum());
        }
        // The mix is of at most three candidates ([`plan`] takes the top
        // three): unrolled, with unused slots weighing 0 on the first one.
        let (Some(&(c0, w0)), w1, w2) = (used.first(), used.get(1), used.get(2)) else { return f64::INFINITY };
        let (c1, w1) = w1.copied().unwrap_or((c0, 0.0));
        let (c2, w2) = w2.copied().unwrap_or((c0, 0.0));
        let (f0, f1, f2) = (&self.forecasts[c0], &self.forecasts[c1], &self.forecasts[c2]);
        self.mae_of(lo, hi, |i| w0 * f0[i] + w1 * f1[i] + w2 * f2[i])
    }

    /// The weighted MAE at steps `lo..=hi` (at most three) of the forecasts
    /// `forecast(o * steps + j)`, averaged over the steps like
    /// [`Backtest::mae`] (generic, so that the mix is inlined in the loop).
    fn mae_of(&self, lo: usize, hi: usize, forecast: impl Fn(usize) -> f64) -> f64 {
        let mut sums = [0.0; 3];
        let mut weights = [0.0; 3];
        for (o, &w) in self.origin_weights.iter().enumerate() {
            let a = self.actual_row(o);
            for j in lo..=hi {
                let e = a[j] - forecast(o * self.steps + j);
                if e.is_finite() {
                    sums[j - lo] += w * e.abs();
                    weights[j - lo] += w;
                }
            }
        }
        (lo..=hi)
            .map(|j| if weights[j - lo] > 0.0 { sums[j - lo] / weights[j - lo] } else { f64::INFINITY })
            .sum::<f64>()
            / (hi - lo + 1) as f64
    }
}

/// Fits every candidate on `values[..n - tail]` and walks it through the
/// tail; returns the models (now after the last value) and the backtest.
pub fn backtest(
    candidates: &[Candidate],
    values: &[f64],
    options: &FitOptions,
    tail: usize,
    steps: usize,
) -> (Vec<Box<dyn Forecaster>>, Backtest) {
    let n = values.len();
    let split = n.saturating_sub(tail);
    let origins = n - split;
    let mut models = Vec::new();
    if steps == 0 {
        let empty = Backtest {
            names: Vec::new(),
            sources: Vec::new(),
            steps,
            origins,
            forecasts: Vec::new(),
            actuals: Vec::new(),
            origin_weights: Vec::new(),
        };
        return (models, empty);
    }
    let mut actuals = vec![f64::NAN; origins * steps];
    for (o, row) in actuals.chunks_exact_mut(steps).enumerate() {
        let seen = &values[split + o..(split + o + steps).min(n)];
        row[..seen.len()].copy_from_slice(seen);
    }
    let origin_weights = recency_weights(origins);
    let mut bt = Backtest {
        names: Vec::new(),
        sources: Vec::new(),
        steps,
        origins,
        forecasts: Vec::new(),
        actuals,
        origin_weights,
    };
    'cand: for (source, make) in candidates.iter().enumerate() {
        let mut m = make();
        if m.fit(&values[..split], options).is_err() {
            continue;
        }
        let mut fc = vec![0.0; origins * steps];
        for (o, row) in fc.chunks_exact_mut(steps).enumerate() {
            if m.predict_mean_into(row).is_err() || !row.iter().all(|v| v.is_finite()) {
                continue 'cand;
            }
            if m.update(&values[split + o..split + o + 1]).is_err() {
                continue 'cand;
            }
        }
        bt.names.push(m.name());
        bt.sources.push(source);
        bt.forecasts.push(fc);
        models.push(m);
    }
    (models, bt)
}

/// The weight of each of `origins` backtest origins, oldest first: 1 for
/// the last, halving every [`RECENCY_HALF_LIFE`] of them (at least
/// [`MIN_HALF_LIFE_ORIGINS`]).
fn recency_weights(origins: usize) -> Vec<f64> {
    let half_life = (RECENCY_HALF_LIFE * origins as f64).max(MIN_HALF_LIFE_ORIGINS);
    (0..origins).map(|o| 0.5f64.powf((origins - 1 - o) as f64 / half_life)).collect()
}

/// The index of the candidate with the lowest error, and the mix of the (up
/// to) three lowest whose errors are within 1.5× of it, weighted by one over
/// the squared error and summing to 1 (`None` when those weights do not add
/// up to a finite positive total). The one weighting rule of the backtest's
/// plan and of the drift reweighting (no errors: index 0 and no mix).
fn inverse_square_mix(errors: &[f64]) -> (usize, Option<Vec<f64>>) {
    let mut order: Vec<usize> = (0..errors.len()).collect();
    order.sort_by(|&a, &b| errors[a].total_cmp(&errors[b]));
    let Some(&best) = order.first() else { return (0, None) };
    let mut mix = vec![0.0; errors.len()];
    for &k in order.iter().take(3) {
        if errors[k].is_finite() && errors[k] <= 1.5 * errors[best] {
            mix[k] = 1.0 / errors[k].max(1e-12).powi(2);
        }
    }
    let total: f64 = mix.iter().sum();
    if !(total.is_finite() && total > 0.0) {
        return (best, None);
    }
    mix.iter_mut().for_each(|w| *w /= total);
    (best, Some(mix))
}

/// Per-step weights over the backtested candidates; `step_maes` is
/// [`Backtest::step_maes`].
fn plan(bt: &Backtest, step_maes: &[Vec<f64>], mode: Mode) -> Vec<Vec<f64>> {
    let steps = bt.steps;
    let c = bt.names.len();
    let rows: Vec<Option<Vec<f64>>> = (0..steps)
        .map(|h| {
            let maes: Vec<f64> = (0..c).map(|k| Backtest::mae(step_maes, k, h)).collect();
            if maes.iter().all(|m| !m.is_finite()) {
                // The backtest tail was too short to score this step.
                return None;
            }
            let (best, mix) = inverse_square_mix(&maes);
            let mut one_hot = vec![0.0; c];
            one_hot[best] = 1.0;
            let Some(mix) = mix else { return Some(one_hot) };
            Some(match mode {
                Mode::Ensemble => mix,
                Mode::Auto => {
                    // The one-hot mix's error is the best candidate's own;
                    // a mix of the best alone is that one-hot mix (no pass
                    // over the backtest needed to find it no better).
                    let alone = mix.iter().filter(|&&w| w > 0.0).count() <= 1;
                    if !alone && bt.mix_mae(&mix, h) < maes[best] {
                        mix
                    } else {
                        one_hot
                    }
                }
            })
        })
        .collect();
    // Steps the backtest could not score get the average of the scored ones:
    // the nearest scored step alone can favour a model that is right only at
    // that lag (naive is exact at a multiple of the season).
    let scored: Vec<&Vec<f64>> = rows.iter().flatten().collect();
    let mut average = vec![0.0; c];
    for row in &scored {
        for (acc, w) in average.iter_mut().zip(row.iter()) {
            *acc += w / scored.len() as f64;
        }
    }
    if scored.is_empty() {
        average = vec![1.0 / c.max(1) as f64; c];
    }
    rows.into_iter().map(|r| r.unwrap_or_else(|| average.clone())).collect()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Saved {
    mode: Mode,
    members: Vec<SavedModel>,
    weights: Vec<Vec<f64>>,
    profile: Option<ErrorProfile>,
    nonneg: bool,
    #[serde(default)]
    drift: Drift,
}

/// Live error tracking between refits: each member's one-step error on the
/// points `update()` brings, against its one-step backtest error. When a
/// member errs [`DRIFT_LIMIT`]× more than in its backtest (a level shift,
/// a regime change), the weights are recomputed from the backtest errors
/// scaled by each member's drift, so a model that tracks the new regime
/// (often naive) takes over until the next refit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Drift {
    /// `bt_mae[h][member]`: backtest MAE per step.
    bt_mae: Vec<Vec<f64>>,
    /// Exponentially weighted live one-step MAE per member.
    live: Vec<f64>,
}

/// Drift ratio above which weights are recomputed.
pub const DRIFT_LIMIT: f64 = 2.0;

/// Weight of the newest error in the live MAE (half-life 12 steps).
const LIVE_LAMBDA: f64 = 0.056;

impl Drift {
    fn ratios(&self) -> Vec<f64> {
        match self.bt_mae.first() {
            Some(b1) => self.live.iter().zip(b1).map(|(l, b)| l / b.max(1e-12)).collect(),
            None => Vec::new(),
        }
    }

    /// Weights for step `h` (0-based) from drift-scaled backtest errors, if
    /// any member drifted.
    fn reweight(&self, h: usize) -> Option<Vec<f64>> {
        let r = self.ratios();
        let hi = r.iter().copied().fold(0.0, f64::max);
        let lo = r.iter().copied().fold(f64::INFINITY, f64::min);
        // Spikes hit every member alike; a regime change leaves some members
        // (those that track the new level) far better off than others.
        if r.is_empty() || hi <= DRIFT_LIMIT || lo > 0.5 * hi {
            return None;
        }
        let row = self.bt_mae.get(h.min(self.bt_mae.len() - 1))?;
        let eff: Vec<f64> = row.iter().zip(&r).map(|(m, d)| m * d.max(1.0)).collect();
        inverse_square_mix(&eff).1
    }
}

/// A weighted combination of fitted models, chosen by backtest.
pub struct Ensemble {
    mode: Mode,
    candidates: Vec<Candidate>,
    members: Vec<Box<dyn Forecaster>>,
    /// `weights[h][member]` for steps `1..=weights.len()`; later steps use the last row.
    weights: Vec<Vec<f64>>,
    /// Band profile from the backtest; `None` = use the single member's own bands.
    profile: Option<ErrorProfile>,
    nonneg: bool,
    drift: Drift,
}

impl std::fmt::Debug for Ensemble {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.members.iter().map(|m| m.name()).collect();
        f.debug_struct("Ensemble").field("mode", &self.mode).field("members", &names).finish()
    }
}

impl Default for Ensemble {
    fn default() -> Self {
        Self::with_mode(Mode::Ensemble)
    }
}

impl Ensemble {
    /// An unfitted error-weighted ensemble of [`default_candidates`].
    pub fn new() -> Self {
        Self::default()
    }

    /// An unfitted combination in `mode`.
    pub fn with_mode(mode: Mode) -> Self {
        Self::with_candidates(mode, default_candidates())
    }

    /// An unfitted combination of explicit candidates.
    pub fn with_candidates(mode: Mode, candidates: Vec<Candidate>) -> Self {
        Self {
            mode,
            candidates,
            members: Vec::new(),
            weights: Vec::new(),
            profile: None,
            nonneg: false,
            drift: Drift::default(),
        }
    }

    /// The member models and their weights at step `h` (1-based), once fitted.
    pub fn weights_at(&self, h: usize) -> Vec<(&'static str, f64)> {
        let Some(row) = self.weights.get(h.max(1).min(self.weights.len()).saturating_sub(1)) else {
            return Vec::new();
        };
        self.members.iter().zip(row).map(|(m, &w)| (m.name(), w)).collect()
    }

    fn kind(&self) -> &'static str {
        match self.mode {
            Mode::Ensemble => "ensemble",
            Mode::Auto => "auto",
        }
    }

    /// Restores a combination saved by [`Forecaster::save`] (kind `ensemble` or `auto`).
    pub fn restore(saved: &SavedModel) -> Result<Self, ForecastError> {
        let kind = if saved.kind == "auto" { "auto" } else { "ensemble" };
        let s: Saved = persist::load(saved, kind, VERSION)?;
        let members = s.members.iter().map(registry::restore).collect::<Result<Vec<_>, _>>()?;
        if s.weights.iter().any(|r| r.len() != members.len()) || s.weights.is_empty() {
            return Err(ForecastError::Restore(format!("{kind}: weights do not match members")));
        }
        Ok(Self {
            mode: s.mode,
            candidates: default_candidates(),
            members,
            weights: s.weights,
            profile: s.profile,
            nonneg: s.nonneg,
            drift: s.drift,
        })
    }

    /// Refits, on the whole of `values`, each member that carries weight
    /// at some step and asks for it ([`Forecaster::refit_when_chosen`]);
    /// `sources[c]` is member `c`'s index in the candidate list. A member
    /// whose refit fails keeps its backtest fit.
    fn refit_chosen(
        &self,
        models: &mut [Box<dyn Forecaster>],
        sources: &[usize],
        weights: &[Vec<f64>],
        values: &[f64],
        opts: &FitOptions,
    ) {
        for ((c, m), &source) in models.iter_mut().enumerate().zip(sources) {
            if !m.refit_when_chosen() || weights.iter().all(|row| row[c] == 0.0) {
                continue;
            }
            let Some(make) = self.candidates.get(source) else {
                continue;
            };
            let mut fresh = make();
            if fresh.fit(values, opts).is_ok() {
                *m = fresh;
            }
        }
    }

    /// Fits with no backtest (history too short): the first candidate of
    /// ETS, naive that fits.
    fn fit_fallback(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        let mut last_err = ForecastError::NoData;
        for make in [(|| Box::new(Ets::new()) as Box<dyn Forecaster>) as Candidate, || Box::new(Naive::new())] {
            let mut m = make();
            match m.fit(history, options) {
                Ok(()) => {
                    self.members = vec![m];
                    self.weights = vec![vec![1.0]];
                    self.profile = None;
                    self.drift = Drift::default();
                    return Ok(());
                }
                Err(e) => last_err = e,
            }
        }
        Err(last_err)
    }
}

impl Forecaster for Ensemble {
    fn name(&self) -> &'static str {
        self.kind()
    }

    fn fit(&mut self, history: &[f64], options: &FitOptions) -> Result<(), ForecastError> {
        let p = prepare(history)?;
        self.nonneg = p.nonneg;
        let n = p.values.len();
        let tail = (n / 5).min(1000);
        if tail < 10 || n - tail < 20 {
            return self.fit_fallback(history, options);
        }
        // The season is detected once here for every candidate (each would
        // otherwise detect it on the same history); "none found" is passed
        // as the period 1, which every model reads as no season.
        let seasons = if options.seasons.is_empty() {
            Some(season::detect(&p.values[..n - tail])).filter(|s| !s.is_empty()).unwrap_or_else(|| vec![1])
        } else {
            options.seasons.clone()
        };
        let opts = FitOptions {
            origin_index: Some(options.origin_index.unwrap_or(0) + p.skipped as i64),
            seasons,
            // The members' own bands are never used: the combination's are
            // measured from the backtest below.
            means_only: true,
            ..options.clone()
        };
        let (models, bt) = backtest(&self.candidates, &p.values, &opts, tail, BACKTEST_STEPS);
        if models.is_empty() {
            return self.fit_fallback(history, options);
        }
        let step_maes = bt.step_maes();
        let weights = plan(&bt, &step_maes, self.mode);
        // Keep only members that carry weight somewhere.
        let mut builder = ProfileBuilder::new(BACKTEST_STEPS);
        let used: Vec<Vec<(usize, f64)>> =
            weights.iter().map(|row| row.iter().copied().enumerate().filter(|&(_, w)| w != 0.0).collect()).collect();
        for o in 0..bt.origins {
            for (h, &y) in bt.actual_row(o).iter().enumerate() {
                // A missing actual (a gap, or past the end) records nothing.
                if !y.is_finite() {
                    continue;
                }
                let f: f64 = used[h].iter().map(|&(c, w)| w * bt.forecasts[c][o * bt.steps + h]).sum();
                let f = if self.nonneg { f.max(0.0) } else { f };
                builder.record(h + 1, y - f);
            }
        }
        self.profile = Some(builder.finish());
        // Every member is kept: one that carries no weight now may take over
        // when the others drift (see `Drift`).
        let bt_mae: Vec<Vec<f64>> =
            (0..BACKTEST_STEPS).map(|h| (0..models.len()).map(|c| Backtest::mae(&step_maes, c, h)).collect()).collect();
        self.drift = Drift { live: bt_mae[0].clone(), bt_mae };
        let mut models = models;
        self.refit_chosen(&mut models, &bt.sources, &weights, &p.values, &opts);
        self.weights = weights;
        self.members = models;
        Ok(())
    }

    fn predict(&self, horizon: usize, levels: &[f64]) -> Result<Prediction, ForecastError> {
        check_request(horizon, levels)?;
        if self.members.is_empty() {
            return Err(ForecastError::NotFitted(self.kind()));
        }
        let Some(profile) = &self.profile else {
            return self.members[0].predict(horizon, levels);
        };
        let mut mean = vec![0.0; horizon];
        let last = self.weights.len() - 1;
        let mut weights: Vec<Vec<f64>> =
            (0..=last).map(|h| self.drift.reweight(h).unwrap_or_else(|| self.weights[h].clone())).collect();
        if horizon > weights.len() {
            // Steps beyond the backtest get the average weights of all backtested
            // steps: the last step alone can favour a model that is right only at
            // that lag (naive is exact at a multiple of the season).
            let mut mean_row = vec![0.0; self.members.len()];
            for row in &weights {
                for (acc, w) in mean_row.iter_mut().zip(row) {
                    *acc += w / weights.len() as f64;
                }
            }
            weights.push(mean_row);
        }
        let last = weights.len() - 1;
        for (k, m) in self.members.iter().enumerate() {
            if weights.iter().all(|r| r.get(k).is_none_or(|w| *w == 0.0)) {
                continue;
            }
            let p = m.predict(horizon, &[])?;
            for (h, (acc, v)) in mean.iter_mut().zip(&p.mean).enumerate() {
                let row = if h < last { h } else { last };
                *acc += weights[row].get(k).copied().unwrap_or(0.0) * v;
            }
        }
        clamp_mean(&mut mean, self.nonneg);
        let bands = profile.bands(&mean, levels, self.nonneg);
        Ok(Prediction { mean, bands })
    }

    fn update(&mut self, new_points: &[f64]) -> Result<(), ForecastError> {
        if self.members.is_empty() {
            return Err(ForecastError::NotFitted(self.kind()));
        }
        if self.drift.live.len() != self.members.len() {
            return self.members.iter_mut().try_for_each(|m| m.update(new_points));
        }
        let base: Vec<f64> = self.drift.bt_mae.first().cloned().unwrap_or_default();
        for &y in new_points {
            for (k, (m, live)) in self.members.iter_mut().zip(self.drift.live.iter_mut()).enumerate() {
                if y.is_finite() {
                    let mut next = [0.0];
                    m.predict_mean_into(&mut next)?;
                    let f = next[0];
                    // Clipped, so a lone spike cannot trip the drift limit.
                    let cap = 4.0 * base.get(k).copied().unwrap_or(f64::INFINITY);
                    let e = (y - f).abs().min(cap);
                    if e.is_finite() {
                        *live += LIVE_LAMBDA * (e - *live);
                    }
                }
                m.update(&[y])?;
            }
        }
        Ok(())
    }

    fn save(&self) -> Result<SavedModel, ForecastError> {
        if self.members.is_empty() {
            return Err(ForecastError::NotFitted(self.kind()));
        }
        let members = self.members.iter().map(|m| m.save()).collect::<Result<Vec<_>, _>>()?;
        let s = Saved {
            mode: self.mode,
            members,
            weights: self.weights.clone(),
            profile: self.profile.clone(),
            nonneg: self.nonneg,
            drift: self.drift.clone(),
        };
        persist::save(self.kind(), VERSION, &s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensemble_weights_sum_to_one_and_round_trip() {
        let y: Vec<f64> = (0..600).map(|t| 10.0 + ((t * 37) % 11) as f64 * 0.1 + (t % 24) as f64).collect();
        let mut m = Ensemble::new();
        m.fit(&y, &FitOptions::default()).unwrap();
        for h in [1, 12, 36, 100] {
            let s: f64 = m.weights_at(h).iter().map(|w| w.1).sum();
            assert!((s - 1.0).abs() < 1e-9, "{:?}", m.weights_at(h));
        }
        let p = m.predict(48, &[50.0, 95.0]).unwrap();
        let r = Ensemble::restore(&m.save().unwrap()).unwrap();
        assert_eq!(r.predict(48, &[50.0, 95.0]).unwrap(), p);
        let b = &p.bands[1];
        assert!(b.upper[47] - b.lower[47] >= b.upper[0] - b.lower[0]);
    }

    #[test]
    fn short_history_falls_back() {
        let mut m = Ensemble::new();
        m.fit(&[1.0, 2.0, 3.0, 4.0, 5.0], &FitOptions::default()).unwrap();
        assert_eq!(m.predict(3, &[95.0]).unwrap().mean.len(), 3);
        m.fit(&[7.0], &FitOptions::default()).unwrap();
        assert_eq!(m.predict(2, &[]).unwrap().mean, vec![7.0, 7.0]);
        assert_eq!(m.fit(&[f64::NAN; 9], &FitOptions::default()), Err(ForecastError::NoData));
    }

    #[test]
    fn in_place_means_equal_predicted_means() {
        // Seasonal and falling towards zero, so that clamping at zero matters.
        let y: Vec<f64> =
            (0..700).map(|t| (30.0 - 0.05 * t as f64 + 8.0 * ((t % 24) as f64 / 4.0).sin()).max(0.0)).collect();
        let names = ["naive", "snaive", "ets", "mstl", "ensemble", "auto"];
        let models = names.iter().map(|n| registry::by_name(n).unwrap());
        let autoregressions: [Box<dyn Forecaster>; 2] = [Box::new(MstlAr::new()), Box::new(MstlAri::new())];
        for mut m in models.chain(autoregressions) {
            let name = m.name();
            m.fit(&y, &FitOptions::default()).unwrap();
            for h in [1, 7, 40] {
                let mut out = vec![f64::NAN; h];
                m.predict_mean_into(&mut out).unwrap();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&m.predict(h, &[]).unwrap().mean), "{name} h={h}");
            }
            assert!(m.predict_mean_into(&mut []).is_err(), "{name}: an empty horizon is an error");
        }
    }

    /// A candidate that erred early in the tail but is exact in its recent
    /// part (a regime the forecast starts from) beats one that is mediocre
    /// throughout, although its plain mean error is the larger.
    #[test]
    fn recent_origins_decide_the_choice() {
        let (origins, steps) = (400, 2);
        let actuals = vec![10.0; origins * steps];
        let regime_change = origins * 7 / 10;
        let late_expert: Vec<f64> =
            (0..origins * steps).map(|i| if i / steps < regime_change { 11.0 } else { 10.0 }).collect();
        let steady = vec![10.5; origins * steps];
        let bt = Backtest {
            names: vec!["late", "steady"],
            sources: vec![0, 1],
            steps,
            origins,
            forecasts: vec![late_expert, steady],
            actuals,
            origin_weights: recency_weights(origins),
        };
        // Unweighted, the late expert errs 0.7 on average, the steady one 0.5.
        let maes = bt.step_maes();
        assert!(maes[0][0] < 0.3 && (maes[1][0] - 0.5).abs() < 1e-12, "{maes:?}");
        let weights = plan(&bt, &maes, Mode::Auto);
        assert_eq!(weights[0], vec![1.0, 0.0], "{weights:?}");
    }

    /// The unrolled mix error (up to three members) is the general one's,
    /// for one, two and three members, with a gap in the forecasts skipped.
    #[test]
    fn unrolled_mix_errors_equal_the_general_ones() {
        let (origins, steps) = (90, 5);
        let row = |seed: usize| -> Vec<f64> {
            (0..origins * steps).map(|i| 10.0 + ((i * 37 + seed * 11) % 17) as f64 * 0.3 - 2.0).collect()
        };
        let mut gappy = row(3);
        gappy[7] = f64::NAN;
        let bt = Backtest {
            names: vec!["a", "b", "c", "d"],
            sources: vec![0, 1, 2, 3],
            steps,
            origins,
            forecasts: vec![row(1), row(2), gappy, row(4)],
            actuals: row(0),
            origin_weights: recency_weights(origins),
        };
        for w in [[0.0, 1.0, 0.0, 0.0], [0.3, 0.0, 0.7, 0.0], [0.2, 0.5, 0.0, 0.3], [0.1, 0.2, 0.3, 0.4]] {
            let used: Vec<(usize, f64)> = w.iter().copied().enumerate().filter(|&(_, x)| x != 0.0).collect();
            let general_mix = |i: usize| used.iter().map(|&(c, wc)| wc * bt.forecasts[c][i]).sum::<f64>();
            for h in 0..steps {
                let (lo, hi) = (h.saturating_sub(1), (h + 1).min(steps - 1));
                let (fast, general) = (bt.mix_mae(&w, h), bt.mae_of(lo, hi, general_mix));
                assert!((fast - general).abs() <= 1e-12 * general.abs(), "{w:?} h={h}: {fast} vs {general}");
            }
        }
    }

    /// A member that carries weight and asks for it is refitted on the
    /// whole history; one that carries none keeps its backtest fit.
    #[test]
    fn chosen_autoregressions_are_refitted_on_the_whole_history() {
        // A level shift late in the history: the whole differs from the head.
        let y: Vec<f64> = (0..800).map(|t| if t < 700 { 10.0 } else { 30.0 } + ((t * 37) % 11) as f64 * 0.1).collect();
        let opts = FitOptions { seasons: vec![1], means_only: true, ..Default::default() };
        let fitted = |values: &[f64]| {
            let mut m: Box<dyn Forecaster> = Box::new(MstlAr::new());
            m.fit(values, &opts).unwrap();
            m
        };
        // The second candidate is the one backtested (the first failed, say).
        let e = Ensemble::with_candidates(Mode::Auto, vec![|| Box::new(MstlAri::new()), || Box::new(MstlAr::new())]);
        let whole = fitted(&y).save().unwrap();
        let head = fitted(&y[..600]).save().unwrap();
        assert_ne!(whole, head);
        let mut chosen = vec![fitted(&y[..600])];
        e.refit_chosen(&mut chosen, &[1], &[vec![0.0], vec![1.0]], &y, &opts);
        assert_eq!(chosen[0].save().unwrap(), whole);
        let mut unused = vec![fitted(&y[..600])];
        e.refit_chosen(&mut unused, &[1], &[vec![0.0], vec![0.0]], &y, &opts);
        assert_eq!(unused[0].save().unwrap(), head);
    }
}
