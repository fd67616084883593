//! Rolling-origin accuracy evaluation, the protocol of
//! `shared/tools/forecast_baselines.py`, so that Augur's numbers compare
//! one to one with the statsforecast baselines in `shared/data/BASELINES.md`.
//!
//! Protocol: the last 20% of a series is the test part; an origin every 7
//! steps in it (7 is coprime with 12/48/288, so origins visit every phase);
//! at each origin the model sees only data before it, limited to a training
//! window; horizons of 6 and 12 steps. Models are re-fitted every `refit`
//! origins and rolled forward with `update()` in between. MASE divides the
//! mean absolute error over all (origin, step) pairs by the in-sample MAE of
//! seasonal naive (lag `m`) on the first 80%. Band coverage is the share of
//! actuals inside the 95% band.

use std::path::Path;
use std::time::Instant;

use super::{FitOptions, ForecastError, Forecaster};

/// Steps between two origins.
pub const STRIDE: usize = 7;

/// One series and its evaluation settings.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesSpec {
    /// Series name (as in BASELINES.md).
    pub name: String,
    /// The values, oldest first.
    pub values: Vec<f64>,
    /// Season of the MASE scale (1 = naive scale).
    pub m: usize,
    /// Seasonal periods the baseline script gave its models.
    pub seasons: Vec<usize>,
    /// Training window in steps.
    pub window: usize,
    /// Re-fit every this many origins.
    pub refit: usize,
}

/// The accuracy of one model on one series at one horizon.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalResult {
    /// Mean absolute scaled error.
    pub mase: f64,
    /// Share of actuals inside the 95% band.
    pub coverage95: f64,
    /// Mean milliseconds of one fit + forecast.
    pub ms_per_fit: f64,
    /// Mean milliseconds per origin (fits, updates and forecasts).
    pub ms_per_origin: f64,
    /// Origins evaluated.
    pub origins: usize,
}

/// Evaluates the model built by `make` on `spec` at horizon `h`; with
/// `give_seasons` the model gets the series' periods, else it detects them.
pub fn evaluate(
    spec: &SeriesSpec,
    h: usize,
    make: &dyn Fn() -> Box<dyn Forecaster>,
    give_seasons: bool,
) -> Result<EvalResult, ForecastError> {
    let y = &spec.values;
    let n = y.len();
    let ntest = (0.2 * n as f64).round() as usize;
    let ntrain = n - ntest;
    let m = spec.m.max(1);
    if ntrain <= m || n < h {
        return Err(ForecastError::TooShort { model: "eval", got: n, need: m + h + 1 });
    }
    let scale = (m..ntrain).map(|t| (y[t] - y[t - m]).abs()).sum::<f64>() / (ntrain - m) as f64;
    let origins: Vec<usize> = (ntrain..=n - h).step_by(STRIDE).collect();
    let (mut abs_err, mut count, mut inside) = (0.0, 0usize, 0usize);
    let (mut fit_secs, mut fits) = (0.0, 0usize);
    let mut model: Option<Box<dyn Forecaster>> = None;
    let mut last = 0;
    let start = Instant::now();
    for (i, &o) in origins.iter().enumerate() {
        let t0 = o.saturating_sub(spec.window);
        let pred = match model.as_mut() {
            Some(md) if i % spec.refit.max(1) != 0 => {
                md.update(&y[last..o])?;
                md.predict(h, &[95.0])?
            }
            _ => {
                let opts = FitOptions {
                    seasons: if give_seasons { spec.seasons.clone() } else { Vec::new() },
                    origin_index: Some(t0 as i64),
                    step_ns: None,
                    ..Default::default()
                };
                let t = Instant::now();
                let mut md = make();
                md.fit(&y[t0..o], &opts)?;
                let p = md.predict(h, &[95.0])?;
                fit_secs += t.elapsed().as_secs_f64();
                fits += 1;
                model = Some(md);
                p
            }
        };
        last = o;
        let band = pred.band(95.0).ok_or_else(|| ForecastError::InvalidParameter("no 95% band".into()))?;
        for k in 0..h {
            let a = y[o + k];
            if !a.is_finite() {
                continue;
            }
            abs_err += (a - pred.mean[k]).abs();
            count += 1;
            inside += usize::from(a >= band.lower[k] && a <= band.upper[k]);
        }
    }
    let total = start.elapsed().as_secs_f64();
    Ok(EvalResult {
        mase: abs_err / count.max(1) as f64 / scale,
        coverage95: inside as f64 / count.max(1) as f64,
        ms_per_fit: 1000.0 * fit_secs / fits.max(1) as f64,
        ms_per_origin: 1000.0 * total / origins.len().max(1) as f64,
        origins: origins.len(),
    })
}

/// Reads the `value` column (the second) of a NAB CSV.
fn read_nab(path: &Path) -> Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text.lines().skip(1).filter_map(|l| l.split(',').nth(1)).map(|v| v.trim().parse().unwrap_or(f64::NAN)).collect())
}

/// The total Alibaba QPS per 57-second tick, gaps interpolated (as the script does).
fn read_alibaba_qps(path: &Path) -> Result<Vec<f64>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let rows: Vec<(f64, f64)> = text
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut it = l.split(',');
            let t = it.next()?.trim().parse::<f64>().ok()?;
            let v = it.next()?.trim().parse::<f64>().ok()?;
            Some((t, v))
        })
        .collect();
    let t0 = rows.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
    let ks: Vec<usize> = rows.iter().map(|r| ((r.0 - t0) / 57.0).round() as usize).collect();
    let kmax = ks.iter().copied().max().unwrap_or(0);
    let mut sum = vec![f64::NAN; kmax + 1];
    for (&k, r) in ks.iter().zip(&rows) {
        sum[k] = if sum[k].is_nan() { r.1 } else { sum[k] + r.1 };
    }
    Ok(super::prep::fill_linear(&sum))
}

/// The series of the baseline script, loaded from `dir` (`shared/data`).
pub fn load_shared_data(dir: &Path) -> Result<Vec<SeriesSpec>, String> {
    let nab = |f: &str| read_nab(&dir.join("nab").join(f));
    let spec = |name: &str, values, m, seasons: Vec<usize>, window, refit| SeriesSpec {
        name: name.to_string(),
        values,
        m,
        seasons,
        window,
        refit,
    };
    Ok(vec![
        spec(
            "alibaba_qps_total_57s",
            read_alibaba_qps(&dir.join("alibaba-genai/qps.csv"))?,
            1,
            vec![],
            1_000_000_000,
            9,
        ),
        spec("ec2_cpu_24ae8d_5min", nab("ec2_cpu_utilization_24ae8d.csv")?, 288, vec![288], 4032, 41),
        spec("ec2_cpu_53ea38_5min", nab("ec2_cpu_utilization_53ea38.csv")?, 288, vec![288], 4032, 41),
        spec("ec2_network_in_257a54_5min", nab("ec2_network_in_257a54.csv")?, 288, vec![288], 4032, 41),
        spec("grok_asg_anomaly_5min", nab("grok_asg_anomaly.csv")?, 288, vec![288], 4032, 41),
        spec("nyc_taxi_30min", nab("nyc_taxi.csv")?, 48, vec![48, 336], 1344, 7),
        spec("rds_cpu_cc0c53_5min", nab("rds_cpu_utilization_cc0c53.csv")?, 288, vec![288], 4032, 41),
    ])
}

/// The best baseline MASE and seasonal naive's, per (series, h), from BASELINES.md.
pub fn baseline(series: &str, h: usize) -> Option<(f64, Option<f64>)> {
    let t: [(&str, usize, f64, Option<f64>); 14] = [
        ("alibaba_qps_total_57s", 6, 0.069, None),
        ("alibaba_qps_total_57s", 12, 0.084, None),
        ("ec2_cpu_24ae8d_5min", 6, 0.831, Some(1.228)),
        ("ec2_cpu_24ae8d_5min", 12, 0.868, Some(1.249)),
        ("ec2_cpu_53ea38_5min", 6, 0.785, Some(0.935)),
        ("ec2_cpu_53ea38_5min", 12, 0.781, Some(0.925)),
        ("ec2_network_in_257a54_5min", 6, 0.026, Some(0.032)),
        ("ec2_network_in_257a54_5min", 12, 0.027, Some(0.033)),
        ("grok_asg_anomaly_5min", 6, 0.878, Some(8.074)),
        ("grok_asg_anomaly_5min", 12, 0.991, Some(8.120)),
        ("nyc_taxi_30min", 6, 0.703, Some(1.381)),
        ("nyc_taxi_30min", 12, 0.994, Some(1.382)),
        ("rds_cpu_cc0c53_5min", 6, 0.807, Some(2.901)),
        ("rds_cpu_cc0c53_5min", 12, 0.791, Some(2.877)),
    ];
    t.iter().find(|r| r.0 == series && r.1 == h).map(|r| (r.2, r.3))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::registry::by_name;

    #[test]
    fn evaluate_scores_a_perfect_seasonal_model() {
        let values: Vec<f64> = (0..700).map(|t| (t % 24) as f64 + 1.0 + ((t * 7919) % 13) as f64 * 0.01).collect();
        let spec = SeriesSpec { name: "saw".into(), values, m: 24, seasons: vec![24], window: 400, refit: 5 };
        let r = evaluate(&spec, 6, &|| by_name("snaive").unwrap(), true).unwrap();
        assert!(r.mase < 1.5, "{r:?}");
        assert_eq!(r.origins, (560..=694).step_by(7).count());
        let r = evaluate(&spec, 6, &|| by_name("naive").unwrap(), true).unwrap();
        assert!(r.mase > 3.0, "{r:?}");
    }

    /// The accuracy table of docs/forecasting.md. Run with
    /// `cargo test --release -p augur-engine --lib accuracy_table -- --ignored --nocapture`
    /// (data from `AUGUR_DATA`, default `../shared/data` next to the checkout).
    #[test]
    #[ignore]
    fn accuracy_table() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let dir = std::env::var("AUGUR_DATA").map(std::path::PathBuf::from).unwrap_or_else(|_| {
            [root.join("../shared/data"), root.join("../../shared/data")]
                .into_iter()
                .find(|p| p.exists())
                .unwrap_or_else(|| root.join("../shared/data"))
        });
        let data = load_shared_data(&dir).unwrap();
        let only = std::env::var("AUGUR_EVAL_ONLY").unwrap_or_default();
        let models: Vec<String> = std::env::var("AUGUR_EVAL_MODELS")
            .unwrap_or_else(|_| "auto,ets,mstl,snaive".into())
            .split(',')
            .map(str::to_string)
            .collect();
        let give = std::env::var("AUGUR_EVAL_GIVE_SEASONS").is_ok();
        println!("| series | h | best baseline | snaive (script) | model | MASE | ratio to best | 95% coverage | ms fit+forecast | ms/origin |");
        println!("|---|---|---|---|---|---|---|---|---|---|");
        let mut ratios = Vec::new();
        for s in data.iter().filter(|s| s.name.contains(&only)) {
            for h in [6, 12] {
                let (best, sn) = baseline(&s.name, h).unwrap_or((f64::NAN, None));
                for name in &models {
                    // `auto+arima`: auto with AutoARIMA among its candidates
                    // (the experiment behind the default candidate list).
                    let make = || -> Box<dyn Forecaster> {
                        if name == "auto+arima" {
                            let mut candidates = crate::forecast::ensemble::default_candidates();
                            candidates.push(|| Box::new(crate::forecast::arima::AutoArima::new()));
                            Box::new(crate::forecast::auto::Auto::with_candidates(candidates))
                        } else {
                            by_name(name).unwrap()
                        }
                    };
                    match evaluate(s, h, &make, give) {
                        Ok(r) => {
                            if name.starts_with("auto") {
                                ratios.push((name.clone(), r.mase / best));
                            }
                            println!(
                                "| {} | {h} | {best:.3} | {} | {name} | {:.3} | {:.2} | {:.1}% | {:.2} | {:.2} |",
                                s.name,
                                sn.map_or("–".to_string(), |v| format!("{v:.3}")),
                                r.mase,
                                r.mase / best,
                                100.0 * r.coverage95,
                                r.ms_per_fit,
                                r.ms_per_origin
                            );
                        }
                        Err(e) => println!("| {} | {h} | {best:.3} | | {name} | error: {e} | | | | |", s.name),
                    }
                }
            }
        }
        for name in models.iter().filter(|m| m.starts_with("auto")) {
            let mine: Vec<f64> = ratios.iter().filter(|(n, _)| n == name).map(|(_, r)| *r).collect();
            if !mine.is_empty() {
                println!(
                    "mean MASE ratio of {name} to the best baseline: {:.3}",
                    mine.iter().sum::<f64>() / mine.len() as f64
                );
            }
        }
    }
}
