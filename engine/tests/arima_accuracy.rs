//! Accuracy of `AutoArima` on the real traces in `../shared/data/`, with
//! the rolling-origin protocol of `../shared/tools/forecast_baselines.py`
//! (last 20% as test, an origin every 7 steps, training window 4,032 steps
//! of 5-min data / 1,344 of 30-min data, horizons 6 and 12, a full refit
//! every 41 origins (7 for the taxi series) and `update()` in between, MASE
//! against the in-sample seasonal-naive scale).
//!
//! Ignored by default (a minute or two in release):
//! `cargo test --release -p augur-engine --test arima_accuracy -- --ignored --nocapture`
//! The data folder is found by walking up from the crate to a `shared/data`
//! directory, or taken from `AUGUR_SHARED_DATA`.

use augur_engine::forecast::arima::AutoArima;
use augur_engine::forecast::{FitOptions, Forecaster};
use std::path::PathBuf;
use std::time::Instant;

fn data_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("AUGUR_SHARED_DATA") {
        return Some(PathBuf::from(p));
    }
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().map(|a| a.join("shared").join("data")).find(|p| p.join("nab").is_dir())
}

fn load_values(path: &PathBuf) -> Vec<f64> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    text.lines().skip(1).filter_map(|l| l.rsplit(',').next()?.trim().parse::<f64>().ok()).collect()
}

/// (name, file, m for MASE, seasons, window, refit every) as in forecast_baselines.py,
/// with statsforecast's AutoARIMA column of BASELINES.md for h=6 and h=12.
/// (name, file, m, seasons, window, refit, AutoARIMA h=6, AutoARIMA h=12).
type Spec = (&'static str, &'static str, usize, &'static [usize], usize, usize, f64, f64);

const SERIES: &[Spec] = &[
    ("nyc_taxi_30min", "nab/nyc_taxi.csv", 48, &[48, 336], 1344, 7, 1.273, 1.906),
    ("rds_cpu_cc0c53_5min", "nab/rds_cpu_utilization_cc0c53.csv", 288, &[288], 4032, 41, 0.807, 0.791),
    ("ec2_cpu_24ae8d_5min", "nab/ec2_cpu_utilization_24ae8d.csv", 288, &[288], 4032, 41, 0.831, 0.868),
    ("ec2_cpu_53ea38_5min", "nab/ec2_cpu_utilization_53ea38.csv", 288, &[288], 4032, 41, 1.066, 1.065),
    ("ec2_network_in_257a54_5min", "nab/ec2_network_in_257a54.csv", 288, &[288], 4032, 41, 0.253, 0.285),
    ("grok_asg_anomaly_5min", "nab/grok_asg_anomaly.csv", 288, &[288], 4032, 41, 4.942, 5.249),
];

#[test]
#[ignore = "reads ../shared/data and takes a while; run with --ignored --release"]
fn arima_accuracy_on_real_traces() {
    let Some(dir) = data_dir() else {
        eprintln!("no shared/data folder found; set AUGUR_SHARED_DATA");
        return;
    };
    println!("| series | h | origins | fits | Augur AutoArima MASE | statsforecast AutoARIMA | ms/fit (fit+predict) | ms/origin |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut ratios = Vec::new();
    for &(name, file, m, seasons, window, refit, base6, base12) in SERIES {
        let y = load_values(&dir.join(file));
        assert!(y.len() > 1000, "{name}: {} values", y.len());
        let n = y.len();
        let ntest = (0.2 * n as f64).round() as usize;
        let ntrain = n - ntest;
        let scale = (m..ntrain).map(|t| (y[t] - y[t - m]).abs()).sum::<f64>() / (ntrain - m) as f64;
        for (h, base) in [(6usize, base6), (12, base12)] {
            let origins: Vec<usize> = (ntrain..=n - h).step_by(7).collect();
            let mut model = AutoArima::new();
            let mut err = 0.0;
            let mut cnt = 0usize;
            let mut fit_ms = Vec::new();
            let mut last_origin = 0;
            let t_all = Instant::now();
            for (i, &o) in origins.iter().enumerate() {
                let t0 = o.saturating_sub(window);
                if i % refit == 0 {
                    let t = Instant::now();
                    model.fit(&y[t0..o], &FitOptions { seasons: seasons.to_vec(), ..Default::default() }).expect("fit");
                    let p = model.predict(h, &[95.0]).expect("predict");
                    fit_ms.push(t.elapsed().as_secs_f64() * 1e3);
                    drop(p);
                } else {
                    model.update(&y[last_origin..o]).expect("update");
                }
                last_origin = o;
                let p = model.predict(h, &[95.0]).expect("predict");
                for k in 0..h {
                    err += (y[o + k] - p.mean[k]).abs();
                    cnt += 1;
                }
            }
            let total_ms = t_all.elapsed().as_secs_f64() * 1e3;
            let mase = err / cnt as f64 / scale;
            fit_ms.sort_by(f64::total_cmp);
            let med = fit_ms[fit_ms.len() / 2];
            println!(
                "| {name} | {h} | {} | {} | {mase:.3} | {base:.3} | {med:.1} (median) | {:.2} | {}",
                origins.len(),
                fit_ms.len(),
                total_ms / origins.len() as f64,
                model.order().map(|o| o.label()).unwrap_or_default()
            );
            ratios.push(mase / base);
        }
    }
    let gm = (ratios.iter().map(|r| r.ln()).sum::<f64>() / ratios.len() as f64).exp();
    println!("geometric mean of MASE / statsforecast AutoARIMA: {gm:.3}");
}
