//! Speed of the LSTM forecaster (Burn): batch inference of the global model
//! for 1,000 series in one call, and the time of one training step.
//!
//! Data: synthetic 5-minute series (a daily sine with a per-series level,
//! amplitude and phase, plus noise), so the run needs no data files.
//! * inference: a global model forecasts 1,000 series, 12 steps each, from
//!   2 days of history per series, in one `predict_many` call (scaling,
//!   calendar features, one forward pass, bands); the median of 5 calls;
//! * training: `fit_many` on 64 series of 14 days with the default
//!   configuration (window 48, hidden 32, batch 64), once with `steps = 0`
//!   (calibration and overhead only) and once with `steps = 100` (plus the
//!   quarter more fine-tune steps); the difference over 125 is one step.
//!
//! Run: `cargo bench -p augur-bench --bench lstm` (release profile). The
//! backend is ndarray unless built with `--features augur-engine/gpu`.

use std::time::Instant;

use augur_engine::forecast::lstm::{backend, GlobalLstm, History, LstmConfig};
use augur_engine::forecast::FitOptions;

const STEP_NS: i64 = 300_000_000_000;

fn series(i: usize, n: usize) -> Vec<f64> {
    let mut x = i as u64 + 1;
    let level = 20.0 + (i % 37) as f64 * 5.0;
    let amp = 2.0 + (i % 11) as f64;
    (0..n)
        .map(|t| {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let e = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            level + amp * (std::f64::consts::TAU * ((t + i * 7) % 288) as f64 / 288.0).sin() + amp * 0.2 * e
        })
        .collect()
}

fn fit(cfg: &LstmConfig, data: &[Vec<f64>], opts: &FitOptions) -> (GlobalLstm, f64) {
    let hist: Vec<History> = data.iter().map(|s| History { values: s, options: opts }).collect();
    let mut g = GlobalLstm::new(cfg.clone());
    let t = Instant::now();
    if let Err(e) = g.fit_many(&hist) {
        eprintln!("fit_many failed: {e}");
        std::process::exit(1);
    }
    (g, t.elapsed().as_secs_f64())
}

fn main() {
    let opts = FitOptions { seasons: vec![], origin_index: Some(0), step_ns: Some(STEP_NS), ..Default::default() };
    let cfg = LstmConfig::default();
    println!("backend: {}, config: {cfg:?}", backend::name());

    let train: Vec<Vec<f64>> = (0..64).map(|i| series(i, 14 * 288)).collect();
    let (_, base) = fit(&LstmConfig { steps: 0, ..cfg.clone() }, &train, &opts);
    let steps = 100;
    let (model, full) = fit(&LstmConfig { steps, ..cfg.clone() }, &train, &opts);
    let per_step = (full - base) / (steps as f64 * 1.25);
    println!(
        "training: fit_many on 64 series x 4032 points: {full:.2} s with {steps}+{} steps, {base:.2} s with none \
         => {:.1} ms per step (batch {}, window {}, hidden {})",
        steps.div_ceil(4),
        1000.0 * per_step,
        cfg.batch,
        cfg.window,
        cfg.hidden
    );
    println!(
        "training: default fit ({}+{} steps) ≈ {:.1} s",
        cfg.steps,
        cfg.steps.div_ceil(4),
        base + per_step * cfg.steps as f64 * 1.25
    );

    let many: Vec<Vec<f64>> = (0..1000).map(|i| series(i, 2 * 288)).collect();
    let hist: Vec<History> = many.iter().map(|s| History { values: s, options: &opts }).collect();
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let out = model.predict_many(&hist, 12, &[80.0, 95.0]);
        times.push(t.elapsed().as_secs_f64());
        match out {
            Ok(v) if v.iter().all(|p| p.is_ok()) => {}
            _ => {
                eprintln!("predict_many failed");
                std::process::exit(1);
            }
        }
    }
    times.sort_by(f64::total_cmp);
    println!(
        "inference: predict_many of 1000 series x 12 steps (576-point histories), one batch: median {:.1} ms, min {:.1} ms, max {:.1} ms",
        1000.0 * times[2],
        1000.0 * times[0],
        1000.0 * times[4]
    );
}
