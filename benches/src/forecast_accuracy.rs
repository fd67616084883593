//! `augur-bench forecast-accuracy`: rolling-origin forecast evaluation of a
//! running server, through its `/write` and `/query` APIs.
//!
//! Why through HTTP: what is measured is what users get — the same
//! `forecast()` query, the same bucketing, the same model selection.
//!
//! The protocol is the one of `../shared/tools/forecast_baselines.py`, so
//! the figures compare with `../shared/data/BASELINES.md`: the last 20% of
//! each trace is the test part; an origin every 7 steps; at each origin the
//! model sees at most the training window before it (4,032 steps of 5-min
//! data, 1,344 of the 30-min taxi data, everything for the Alibaba trace);
//! horizons 6 and 12; MASE against the in-sample seasonal-naive MAE (lag
//! `m`) of the first 80%. Like the script, a trace's rows are taken in file
//! order on a regular grid (a missing slot in the CSV is not a gap here),
//! so both see the same sequence.

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use reqwest::blocking::Client;
use serde_json::Value as Json;

/// Origins are this many steps apart (coprime with 12, 48 and 288).
const STRIDE: usize = 7;

/// The horizons evaluated, in steps.
const HORIZONS: [usize; 2] = [6, 12];

/// The database the traces are written to.
const DATABASE: &str = "forecast_accuracy";

/// One trace of the evaluation.
struct Trace {
    /// Name, as in BASELINES.md.
    name: &'static str,
    /// Values in file order.
    y: Vec<f64>,
    /// Season of the MASE scale (1 = naive scale).
    m: usize,
    /// Grid step in seconds.
    step_s: i64,
    /// Training window in steps (`usize::MAX` = all history).
    window: usize,
}

/// What the caller chose.
pub struct Options {
    /// Server base URL.
    pub url: reqwest::Url,
    /// `../shared/data`.
    pub data_dir: PathBuf,
    /// Only traces whose name contains this.
    pub only: Option<String>,
    /// `model =>` argument.
    pub model: String,
    /// Band level checked for coverage.
    pub level: f64,
    /// Skip writing (the data is already there).
    pub skip_load: bool,
}

/// The forecast made at one origin: means and `(lower, upper)` bands per step.
type OriginForecast = (Vec<f64>, Vec<(f64, f64)>);

/// One row of the report.
struct Score {
    trace: &'static str,
    h: usize,
    origins: usize,
    mase: f64,
    coverage: f64,
    ms_per_query: f64,
}

/// Runs the evaluation and prints a Markdown table.
pub fn run(opts: &Options) -> Result<()> {
    let client =
        Client::builder().timeout(Duration::from_secs(600)).default_headers(crate::auth::default_headers()?).build()?;
    let traces = load(&opts.data_dir)?;
    let baselines = read_baselines(&opts.data_dir.join("BASELINES.md")).unwrap_or_default();
    let mut scores = Vec::new();
    for trace in traces.iter().filter(|t| opts.only.as_deref().is_none_or(|o| t.name.contains(o))) {
        if !opts.skip_load {
            write_trace(&client, &opts.url, trace)?;
        }
        scores.extend(evaluate(&client, opts, trace)?);
    }
    println!(
        "| series | h | origins | Augur MASE ({}) | best baseline | ratio | seasonal naive | {}% coverage | ms/query |",
        opts.model, opts.level
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for s in &scores {
        let (best, snaive) = baselines.get(&(s.trace.to_string(), s.h)).copied().unwrap_or((f64::NAN, f64::NAN));
        let ratio = s.mase / best;
        if ratio.is_finite() {
            ratios.push(ratio);
        }
        println!(
            "| {} | {} | {} | {:.3} | {:.3} | {:.2} | {} | {:.1}% | {:.1} |",
            s.trace,
            s.h,
            s.origins,
            s.mase,
            best,
            ratio,
            if snaive.is_finite() { format!("{snaive:.3}") } else { "–".into() },
            100.0 * s.coverage,
            s.ms_per_query
        );
    }
    if !ratios.is_empty() {
        println!();
        println!(
            "mean MASE ratio to the best baseline: {:.3} over {} (series, h)",
            ratios.iter().sum::<f64>() / ratios.len() as f64,
            ratios.len()
        );
    }
    Ok(())
}

/// Reads the traces the baseline script reads.
fn load(dir: &Path) -> Result<Vec<Trace>> {
    let nab = |file: &str| -> Result<Vec<f64>> {
        let text = fs::read_to_string(dir.join("nab").join(file)).with_context(|| format!("reading nab/{file}"))?;
        text.lines()
            .skip(1)
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let v = l.rsplit(',').next().unwrap_or_default();
                v.trim().parse::<f64>().with_context(|| format!("nab/{file}: bad value {v:?}"))
            })
            .collect()
    };
    let five = |name, file, window| -> Result<Trace> { Ok(Trace { name, y: nab(file)?, m: 288, step_s: 300, window }) };
    Ok(vec![
        Trace { name: "alibaba_qps_total_57s", y: alibaba_qps(dir)?, m: 1, step_s: 57, window: usize::MAX },
        five("ec2_cpu_24ae8d_5min", "ec2_cpu_utilization_24ae8d.csv", 4032)?,
        five("ec2_cpu_53ea38_5min", "ec2_cpu_utilization_53ea38.csv", 4032)?,
        five("ec2_network_in_257a54_5min", "ec2_network_in_257a54.csv", 4032)?,
        five("grok_asg_anomaly_5min", "grok_asg_anomaly.csv", 4032)?,
        Trace { name: "nyc_taxi_30min", y: nab("nyc_taxi.csv")?, m: 48, step_s: 1800, window: 1344 },
        five("rds_cpu_cc0c53_5min", "rds_cpu_utilization_cc0c53.csv", 4032)?,
    ])
}

/// The Alibaba QPS trace summed over containers per 57-s tick, with
/// missing ticks interpolated linearly (as the baseline script does).
fn alibaba_qps(dir: &Path) -> Result<Vec<f64>> {
    let mut text = String::new();
    fs::File::open(dir.join("alibaba-genai/qps.csv"))
        .context("opening alibaba-genai/qps.csv")?
        .read_to_string(&mut text)?;
    let mut rows = Vec::new();
    for line in text.lines().skip(1) {
        let mut cols = line.split(',');
        let (Some(t), Some(v)) = (cols.next(), cols.next()) else { continue };
        let (Ok(t), Ok(v)) = (t.parse::<f64>(), v.parse::<f64>()) else { continue };
        rows.push((t, v));
    }
    let t0 = rows.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let mut sums: BTreeMap<i64, f64> = BTreeMap::new();
    for (t, v) in rows {
        *sums.entry(((t - t0) / 57.0).round() as i64).or_default() += v;
    }
    let last = sums.keys().next_back().copied().ok_or_else(|| anyhow!("alibaba qps.csv has no rows"))?;
    let mut y = vec![f64::NAN; usize::try_from(last).unwrap_or(0) + 1];
    for (k, v) in sums {
        y[usize::try_from(k).unwrap_or(0)] = v;
    }
    interpolate(&mut y);
    Ok(y)
}

/// Linear interpolation of NaN runs between known values.
fn interpolate(y: &mut [f64]) {
    let known: Vec<usize> = (0..y.len()).filter(|&i| y[i].is_finite()).collect();
    for pair in known.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        for i in a + 1..b {
            y[i] = y[a] + (y[b] - y[a]) * (i - a) as f64 / (b - a) as f64;
        }
    }
}

/// The first grid time of a trace, in seconds: aligned to its step so
/// that `GROUP BY time(step)` buckets hold one row each.
fn base_s(trace: &Trace) -> i64 {
    1_600_000_000 / trace.step_s * trace.step_s
}

/// Writes a trace as `trace,series=<name> value=<v> <t>` in batches.
fn write_trace(client: &Client, url: &reqwest::Url, trace: &Trace) -> Result<()> {
    post_query(client, url, &format!("CREATE DATABASE {DATABASE}"))?;
    let write = url.join(&format!("write?db={DATABASE}&precision=s"))?;
    let base = base_s(trace);
    for (chunk_no, chunk) in trace.y.chunks(5_000).enumerate() {
        let mut body = String::with_capacity(chunk.len() * 64);
        for (i, v) in chunk.iter().enumerate() {
            let t = base + (chunk_no * 5_000 + i) as i64 * trace.step_s;
            body.push_str(&format!("trace,series={} value={v:?} {t}\n", trace.name));
        }
        let resp = client.post(write.clone()).body(body).send()?;
        if !resp.status().is_success() {
            bail!("write of {} failed: {} {}", trace.name, resp.status(), resp.text().unwrap_or_default());
        }
    }
    Ok(())
}

/// Runs `q` by POST and returns the JSON answer.
fn post_query(client: &Client, url: &reqwest::Url, q: &str) -> Result<Json> {
    let resp = client.post(url.join("query")?).form(&[("q", q), ("db", DATABASE), ("epoch", "s")]).send()?;
    let status = resp.status();
    let body: Json = resp.json().context("query answer is not JSON")?;
    if !status.is_success() {
        bail!("query failed with {status}: {body}");
    }
    if let Some(err) = body.pointer("/results/0/error").and_then(Json::as_str) {
        bail!("query {q:?} failed: {err}");
    }
    Ok(body)
}

/// Scores one trace at both horizons.
fn evaluate(client: &Client, opts: &Options, trace: &Trace) -> Result<Vec<Score>> {
    let y = &trace.y;
    let n = y.len();
    let ntest = (0.2 * n as f64).round() as usize;
    let ntrain = n - ntest;
    let m = trace.m;
    let scale =
        y[m..ntrain].iter().zip(&y[..ntrain - m]).map(|(a, b)| (a - b).abs()).sum::<f64>() / (ntrain - m) as f64;
    let level_col = format_level(opts.level);
    // One query per origin of the shortest horizon, predicting the longest
    // horizon that fits: the first 6 steps of a 12-step forecast are the
    // 6-step forecast.
    let hmin = HORIZONS[0];
    let mut forecasts: BTreeMap<usize, OriginForecast> = BTreeMap::new();
    let mut elapsed = Duration::ZERO;
    for o in (ntrain..=n - hmin).step_by(STRIDE) {
        let h = HORIZONS.iter().copied().filter(|h| o + h <= n).max().unwrap_or(hmin);
        let t0 = o.saturating_sub(trace.window);
        let base = base_s(trace);
        let q = format!(
            "SELECT forecast(mean(value), {h}, model => '{}', level => {}) FROM trace WHERE \"series\" = '{}' AND time >= {}s AND time < {}s GROUP BY time({}s)",
            opts.model,
            opts.level,
            trace.name,
            base + t0 as i64 * trace.step_s,
            base + o as i64 * trace.step_s,
            trace.step_s
        );
        let started = Instant::now();
        let answer = post_query(client, &opts.url, &q)?;
        elapsed += started.elapsed();
        let series = answer.pointer("/results/0/series/0").ok_or_else(|| anyhow!("no forecast for {q}"))?;
        let columns: Vec<&str> = series["columns"].as_array().into_iter().flatten().filter_map(Json::as_str).collect();
        let col = |name: &str| columns.iter().position(|c| *c == name);
        let (Some(fc), Some(lo), Some(hi)) =
            (col("forecast"), col(&format!("lower_{level_col}")), col(&format!("upper_{level_col}")))
        else {
            bail!("unexpected columns {columns:?}");
        };
        let mut mean = Vec::new();
        let mut band = Vec::new();
        for row in series["values"].as_array().into_iter().flatten() {
            let at = |i: usize| row.get(i).and_then(Json::as_f64).unwrap_or(f64::NAN);
            mean.push(at(fc));
            band.push((at(lo), at(hi)));
        }
        if mean.len() < h {
            bail!("forecast at origin {o} of {} has {} steps, expected {h}", trace.name, mean.len());
        }
        forecasts.insert(o, (mean, band));
    }
    let queries = forecasts.len().max(1);
    let mut scores = Vec::new();
    for h in HORIZONS {
        let (mut err, mut covered, mut count, mut origins) = (0.0, 0usize, 0usize, 0usize);
        for o in (ntrain..=n - h).step_by(STRIDE) {
            let Some((mean, band)) = forecasts.get(&o) else { continue };
            origins += 1;
            for k in 0..h {
                let actual = y[o + k];
                err += (actual - mean[k]).abs();
                let (lo, hi) = band[k];
                if actual >= lo && actual <= hi {
                    covered += 1;
                }
                count += 1;
            }
        }
        scores.push(Score {
            trace: trace.name,
            h,
            origins,
            mase: err / count.max(1) as f64 / scale,
            coverage: covered as f64 / count.max(1) as f64,
            ms_per_query: elapsed.as_secs_f64() * 1000.0 / queries as f64,
        });
    }
    Ok(scores)
}

/// `95` for 95.0 (the server names band columns this way).
fn format_level(level: f64) -> String {
    if level.fract() == 0.0 {
        format!("{}", level as i64)
    } else {
        format!("{level}")
    }
}

/// `(series, h)` → (best MASE, seasonal-naive MASE) from BASELINES.md.
fn read_baselines(path: &Path) -> Result<BTreeMap<(String, usize), (f64, f64)>> {
    let text = fs::read_to_string(path)?;
    let mut out = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("| ") && !l.starts_with("| series")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 6 {
            continue;
        }
        let Ok(h) = cells[1].parse::<usize>() else { continue };
        let num = |s: &str| s.trim_matches('*').parse::<f64>().unwrap_or(f64::NAN);
        out.insert((cells[0].to_string(), h), (num(cells[3]), num(cells[4])));
    }
    Ok(out)
}
