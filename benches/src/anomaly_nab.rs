//! `augur-bench anomaly-nab`: precision, recall and detection delay of the
//! anomaly detector (`augur_engine::forecast::anomaly`) on the Numenta
//! Anomaly Benchmark series in `../shared/data/nab/`, against NAB's labelled
//! windows (`anomaly_windows.json`), with a rolling 3-sigma baseline scored
//! the same way in the same run.
//!
//! Protocol (in-process, no server: what is measured is the detector on
//! the forecasts continuous forecasts make):
//! * Each CSV is put on its regular grid (5 min, 30 min for the taxi
//!   series); missing slots are gaps (`NaN`).
//! * Walk forward: the model (`--model`, default `ets`, as continuous
//!   forecasts) is trained on the last `--training` steps before the first
//!   scored step and retrained every `--refit-every` steps (points the
//!   detector flagged are masked, as the server does); in between it
//!   absorbs each new point with `update()`. At every step the one-step
//!   forecast and its band at the detector's level feed the detector.
//! * NAB's probationary period (the first 15% of each series) is training
//!   only: nothing is scored there.
//! * Scoring, NAB style: the first detection inside a window is a true
//!   positive (its delay = detection time − window start); later ones in
//!   the same window are ignored; a window never hit is a false negative;
//!   detections outside every window are false positives, those within
//!   `--merge` steps of the previous one counting once.
//! * The baseline flags a point more than 3 standard deviations from the
//!   mean of the previous day (288 steps; 48 for the taxi series).
//!
//! `--sweep` also scores a grid of detector settings on the forecasts of
//! the main run (how the defaults were chosen).

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, Context, Result};
use augur_engine::forecast::anomaly::{DetectorConfig, DetectorState, Observation};
use augur_engine::forecast::{registry, FitOptions, Forecaster};
use serde_json::Value as Json;

use crate::timefmt::{parse_rfc3339, NANOS_PER_SEC};

/// What the caller chose.
pub struct Options {
    /// `../shared/data`.
    pub data_dir: PathBuf,
    /// Only series whose file name contains this.
    pub only: Option<String>,
    /// Model name (`ets`, `auto`, ...).
    pub model: String,
    /// Detector settings.
    pub detector: DetectorConfig,
    /// Training window, steps.
    pub training: usize,
    /// Steps between refits.
    pub refit_every: usize,
    /// False positives closer than this many steps count once.
    pub merge: usize,
    /// Also score a grid of detector settings.
    pub sweep: bool,
}

/// One NAB series on its grid.
struct Series {
    file: String,
    start_ns: i64,
    step_ns: i64,
    values: Vec<f64>,
    /// Labelled windows as step index ranges (inclusive).
    windows: Vec<(usize, usize)>,
    /// Season of one day, in steps.
    day: usize,
}

/// Scores of one detector on one series (or summed).
#[derive(Default, Clone)]
struct Score {
    tp: usize,
    fp: usize,
    fn_: usize,
    /// Delays of the true positives, minutes.
    delays: Vec<f64>,
}

impl Score {
    fn add(&mut self, other: &Score) {
        self.tp += other.tp;
        self.fp += other.fp;
        self.fn_ += other.fn_;
        self.delays.extend(&other.delays);
    }

    fn precision(&self) -> Option<f64> {
        (self.tp + self.fp > 0).then(|| self.tp as f64 / (self.tp + self.fp) as f64)
    }

    fn recall(&self) -> Option<f64> {
        (self.tp + self.fn_ > 0).then(|| self.tp as f64 / (self.tp + self.fn_) as f64)
    }

    fn f1(&self) -> f64 {
        match (self.precision(), self.recall()) {
            (Some(p), Some(r)) if p + r > 0.0 => 2.0 * p * r / (p + r),
            _ => 0.0,
        }
    }

    fn mean_delay(&self) -> Option<f64> {
        (!self.delays.is_empty()).then(|| self.delays.iter().sum::<f64>() / self.delays.len() as f64)
    }

    fn median_delay(&self) -> Option<f64> {
        let mut d = self.delays.clone();
        d.sort_by(f64::total_cmp);
        (!d.is_empty()).then(|| {
            if d.len() % 2 == 1 {
                d[d.len() / 2]
            } else {
                (d[d.len() / 2 - 1] + d[d.len() / 2]) / 2.0
            }
        })
    }

    fn row(&self, name: &str) -> String {
        let opt = |v: Option<f64>, scale: f64| v.map_or("–".to_string(), |v| format!("{:.0}", v * scale));
        let frac = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
        format!(
            "| {name} | {} | {} | {} | {} | {} | {} | {} |",
            self.tp,
            self.fp,
            self.fn_,
            frac(self.precision()),
            frac(self.recall()),
            opt(self.mean_delay(), 1.0),
            opt(self.median_delay(), 1.0),
        )
    }
}

/// Runs the harness and prints Markdown tables.
pub fn run(opts: &Options) -> Result<()> {
    opts.detector.validate().map_err(|e| anyhow!("{e}"))?;
    let series = load(&opts.data_dir.join("nab"), opts.only.as_deref())?;
    let started = Instant::now();
    let mut totals = (Score::default(), Score::default());
    let mut rows = Vec::new();
    let mut streams = Vec::new();
    for s in &series {
        let t = Instant::now();
        let observations = forecasts(s, opts)?;
        let detected = detect(&opts.detector, &observations);
        let ours = score(s, &detected, opts.merge);
        let base = score(s, &baseline(s), opts.merge);
        eprintln!("{}: {} steps scored in {:.1?}", s.file, observations.len(), t.elapsed());
        totals.0.add(&ours);
        totals.1.add(&base);
        rows.push((s.file.clone(), ours, base));
        streams.push((s, observations));
    }
    println!(
        "model {}, level {}, k {}, shift threshold {}, drift {}, training {} steps, refit every {} steps, merge {} steps; {:.1?}\n",
        opts.model,
        opts.detector.level,
        opts.detector.consecutive,
        opts.detector.shift_threshold,
        opts.detector.shift_drift,
        opts.training,
        opts.refit_every,
        opts.merge,
        started.elapsed()
    );
    let header = "| series | TP | FP | FN | precision | recall | mean delay (min) | median delay (min) |\n|---|---:|---:|---:|---:|---:|---:|---:|";
    println!("Detector:\n\n{header}");
    for (name, ours, _) in &rows {
        println!("{}", ours.row(name));
    }
    println!("{}", totals.0.row("**all**"));
    println!("\nRolling 3-sigma baseline:\n\n{header}");
    for (name, _, base) in &rows {
        println!("{}", base.row(name));
    }
    println!("{}", totals.1.row("**all**"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
        _ => "–".to_string(),
    };
    println!(
        "\nDetector / baseline: precision {}, recall {}, F1 {:.2} vs {:.2}, mean delay {}",
        ratio(totals.0.precision(), totals.1.precision()),
        ratio(totals.0.recall(), totals.1.recall()),
        totals.0.f1(),
        totals.1.f1(),
        ratio(totals.0.mean_delay(), totals.1.mean_delay()),
    );
    if opts.sweep {
        println!("\nSweep (same forecasts):\n\n| level | k | shift threshold | drift | TP | FP | FN | precision | recall | F1 | mean delay (min) |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        for level in [95.0, 99.0, 99.9] {
            for k in [1, 2, 3, 5] {
                for (threshold, drift) in [(0.0, 1.0), (8.0, 1.0), (12.0, 1.0), (20.0, 1.0), (12.0, 2.0)] {
                    let cfg = DetectorConfig { level, consecutive: k, shift_threshold: threshold, shift_drift: drift };
                    let mut total = Score::default();
                    for (s, observations) in &streams {
                        total.add(&score(s, &detect(&cfg, observations), opts.merge));
                    }
                    let frac = |v: Option<f64>| v.map_or("–".to_string(), |v| format!("{v:.2}"));
                    println!(
                        "| {level} | {k} | {threshold} | {drift} | {} | {} | {} | {} | {} | {:.2} | {} |",
                        total.tp,
                        total.fp,
                        total.fn_,
                        frac(total.precision()),
                        frac(total.recall()),
                        total.f1(),
                        total.mean_delay().map_or("–".to_string(), |d| format!("{d:.0}")),
                    );
                }
            }
        }
    }
    Ok(())
}

/// The probationary steps of a series (NAB: the first 15%).
fn probation(s: &Series) -> usize {
    s.values.len() * 15 / 100
}

/// Walks forward over the series: one observation per scored step with a
/// value (index, observation). Refits mask what the detector flagged.
fn forecasts(s: &Series, opts: &Options) -> Result<Vec<(usize, Observation)>> {
    let first = probation(s).max(2 * s.day.min(opts.training));
    let make = || registry::by_name(&opts.model).ok_or_else(|| anyhow!("unknown model {}", opts.model));
    let levels = [opts.detector.level];
    let mut state = DetectorState::default();
    let mut out = Vec::new();
    let mut model: Option<Box<dyn Forecaster>> = None;
    let mut since_fit = 0;
    for i in first..s.values.len() {
        if model.is_none() || since_fit >= opts.refit_every.max(1) {
            let from = i.saturating_sub(opts.training);
            let from_ns = s.start_ns + s.step_ns * from as i64;
            let (history, _) =
                augur_engine::forecast::anomaly::mask_flagged(&s.values[from..i], from_ns, s.step_ns, state.flagged());
            let mut m = make()?;
            let options = FitOptions {
                seasons: Vec::new(),
                origin_index: Some(from_ns.div_euclid(s.step_ns)),
                step_ns: Some(s.step_ns),
                ..Default::default()
            };
            if m.fit(&history, &options).is_err() {
                m.fit(&s.values[from..i], &options).map_err(|e| anyhow!("{}: fit at step {i}: {e}", s.file))?;
            }
            model = Some(m);
            since_fit = 0;
        }
        let m = model.as_mut().ok_or_else(|| anyhow!("no model"))?;
        let p = m.predict(1, &levels).map_err(|e| anyhow!("{}: predict at step {i}: {e}", s.file))?;
        let value = s.values[i];
        if value.is_finite() {
            if let (Some(mean), Some(band)) = (p.mean.first(), p.bands.first()) {
                let o = Observation {
                    time_ns: s.start_ns + s.step_ns * i as i64,
                    value,
                    mean: *mean,
                    lower: band.lower[0],
                    upper: band.upper[0],
                    band_level: band.level,
                };
                state.observe(&opts.detector, &o);
                out.push((i, o));
            }
        }
        m.update(&[value]).map_err(|e| anyhow!("{}: update at step {i}: {e}", s.file))?;
        since_fit += 1;
    }
    Ok(out)
}

/// Step indexes the detector flags on a stream of observations.
fn detect(cfg: &DetectorConfig, observations: &[(usize, Observation)]) -> Vec<usize> {
    let mut state = DetectorState::default();
    observations.iter().filter(|(_, o)| !state.observe(cfg, o).is_empty()).map(|(i, _)| *i).collect()
}

/// Step indexes a rolling 3-sigma rule flags (from the probation's end).
fn baseline(s: &Series) -> Vec<usize> {
    let w = s.day;
    let mut out = Vec::new();
    for i in probation(s).max(w)..s.values.len() {
        let v = s.values[i];
        let past: Vec<f64> = s.values[i - w..i].iter().copied().filter(|x| x.is_finite()).collect();
        if !v.is_finite() || past.len() < 2 {
            continue;
        }
        let mean = past.iter().sum::<f64>() / past.len() as f64;
        let sd = (past.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (past.len() - 1) as f64).sqrt();
        if (v - mean).abs() > 3.0 * sd && sd > 0.0 {
            out.push(i);
        }
    }
    out
}

/// NAB-style scoring of detections (ascending step indexes).
fn score(s: &Series, detections: &[usize], merge: usize) -> Score {
    let mut sc = Score::default();
    let mut hit = vec![false; s.windows.len()];
    let mut last_fp: Option<usize> = None;
    for &d in detections {
        match s.windows.iter().position(|(a, b)| (*a..=*b).contains(&d)) {
            Some(w) => {
                if !hit[w] {
                    hit[w] = true;
                    sc.tp += 1;
                    sc.delays.push((d - s.windows[w].0) as f64 * s.step_ns as f64 / 60e9);
                }
            }
            None => {
                if last_fp.is_none_or(|l| d > l + merge) {
                    sc.fp += 1;
                }
                last_fp = Some(d);
            }
        }
    }
    sc.fn_ = hit.iter().filter(|h| !**h).count();
    sc
}

fn nab_time(text: &str) -> Result<i64> {
    parse_rfc3339(&format!("{}Z", text.trim().replace(' ', "T")))
}

/// Loads every NAB series named in `anomaly_windows.json`.
fn load(dir: &Path, only: Option<&str>) -> Result<Vec<Series>> {
    let windows: Json = serde_json::from_str(
        &fs::read_to_string(dir.join("anomaly_windows.json")).context("reading nab/anomaly_windows.json")?,
    )?;
    let files = windows.as_object().ok_or_else(|| anyhow!("anomaly_windows.json is not an object"))?;
    let mut out = Vec::new();
    for (file, wins) in files {
        if only.is_some_and(|o| !file.contains(o)) {
            continue;
        }
        let text = fs::read_to_string(dir.join(file)).with_context(|| format!("reading nab/{file}"))?;
        let mut rows = Vec::new();
        for line in text.lines().skip(1).filter(|l| !l.trim().is_empty()) {
            let (t, v) = line.split_once(',').ok_or_else(|| anyhow!("{file}: bad row {line:?}"))?;
            rows.push((nab_time(t)?, v.trim().parse::<f64>().with_context(|| format!("{file}: bad value {v:?}"))?));
        }
        let step_ns = rows.windows(2).map(|w| w[1].0 - w[0].0).filter(|d| *d > 0).min().unwrap_or(300 * NANOS_PER_SEC);
        // Some files are on odd minutes: align to the first row.
        let start_ns = rows.first().map_or(0, |r| r.0);
        let last_ns = rows.last().map_or(0, |r| r.0);
        let mut values = vec![f64::NAN; usize::try_from((last_ns - start_ns) / step_ns + 1).unwrap_or(0)];
        for (t, v) in rows {
            if let Some(slot) = usize::try_from((t - start_ns) / step_ns).ok().and_then(|i| values.get_mut(i)) {
                *slot = v;
            }
        }
        let index = |t: i64| usize::try_from(((t - start_ns).max(0) + step_ns - 1) / step_ns).unwrap_or(0);
        let mut ws = Vec::new();
        for w in wins.as_array().into_iter().flatten() {
            let pair = w.as_array().filter(|p| p.len() == 2).ok_or_else(|| anyhow!("{file}: bad window {w}"))?;
            let a = nab_time(pair[0].as_str().unwrap_or_default())?;
            let b = nab_time(pair[1].as_str().unwrap_or_default())?;
            ws.push((index(a), ((b - start_ns).max(0) / step_ns) as usize));
        }
        let day = usize::try_from(86_400 * NANOS_PER_SEC / step_ns).unwrap_or(288).max(2);
        out.push(Series { file: file.clone(), start_ns, step_ns, values, windows: ws, day });
    }
    if out.is_empty() {
        return Err(anyhow!("no NAB series matched in {}", dir.display()));
    }
    Ok(out)
}
