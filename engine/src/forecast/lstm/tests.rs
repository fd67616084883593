//! Tests of the LSTM forecaster. Training in debug builds is about ten
//! times slower than in release, so every fit here is a few dozen steps of
//! a small network on a few hundred points.

use super::*;
use crate::forecast::test_util::noise;
use crate::forecast::{registry, DEFAULT_LEVELS};

const HOUR_NS: i64 = 3_600_000_000_000;

/// A small configuration that still learns a daily sine in debug builds.
fn small() -> LstmConfig {
    LstmConfig {
        window: 24,
        hidden: 12,
        outputs: 12,
        batch: 32,
        steps: 60,
        learning_rate: 2e-2,
        seed: 3,
        calibration: 96,
    }
}

/// Hourly data with a daily sine around `level`, amplitude `amp`, phase `phase`.
fn daily(n: usize, level: f64, amp: f64, phase: usize, seed: u64) -> Vec<f64> {
    let e = noise(n, seed);
    (0..n)
        .map(|t| level + amp * (std::f64::consts::TAU * ((t + phase) % 24) as f64 / 24.0).sin() + 0.1 * amp * e[t])
        .collect()
}

fn hourly() -> FitOptions {
    FitOptions { seasons: vec![], origin_index: Some(0), step_ns: Some(HOUR_NS), ..Default::default() }
}

fn mae(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len() as f64
}

#[test]
fn recovers_a_seasonal_signal_better_than_naive() {
    let y = daily(24 * 16 + 12, 50.0, 10.0, 0, 1);
    let (train, test) = y.split_at(y.len() - 12);
    let mut m = Lstm::with_config(small());
    m.fit(train, &hourly()).unwrap();
    let p = m.predict(12, &[80.0]).unwrap();
    let naive = vec![*train.last().unwrap(); 12];
    let (lstm_err, naive_err) = (mae(&p.mean, test), mae(&naive, test));
    assert!(lstm_err < 0.5 * naive_err, "lstm {lstm_err:.3} vs naive {naive_err:.3}: {:?}", p.mean);
    assert!(m.training_loss().is_some_and(|l| l.is_finite()));
}

#[test]
fn save_restore_gives_identical_forecasts_and_update_rolls_on() {
    let y = daily(24 * 8, 5.0, 2.0, 3, 2);
    let mut m = Lstm::with_config(LstmConfig { steps: 10, ..small() });
    m.fit(&y[..150], &hourly()).unwrap();
    let bytes = m.save().unwrap().to_bytes();
    let r = registry::restore(&SavedModel::from_bytes(&bytes).unwrap()).unwrap();
    assert_eq!(r.name(), "lstm");
    assert_eq!(r.predict(40, &DEFAULT_LEVELS).unwrap(), m.predict(40, &DEFAULT_LEVELS).unwrap());
    // update moves the window: the forecast changes, and still round-trips.
    let before = m.predict(6, &[95.0]).unwrap();
    m.update(&y[150..170]).unwrap();
    m.update(&[f64::NAN, f64::INFINITY]).unwrap();
    let after = m.predict(6, &[95.0]).unwrap();
    assert_ne!(before.mean, after.mean);
    let r = Lstm::restore(&m.save().unwrap()).unwrap();
    assert_eq!(r.predict(6, &[95.0]).unwrap(), after);
    // Damaged weights are a Restore error, not a panic.
    let mut saved = m.save().unwrap();
    saved.state["weights"] = serde_json::Value::String("00".into());
    assert!(matches!(Lstm::restore(&saved), Err(ForecastError::Restore(_))));
    saved.state["context"] = serde_json::json!([1.0]);
    assert!(matches!(Lstm::restore(&saved), Err(ForecastError::Restore(_))));
}

#[test]
fn bands_widen_with_the_horizon_and_hold_the_mean() {
    let y = daily(24 * 10, 20.0, 5.0, 0, 4);
    let mut m = Lstm::with_config(LstmConfig { steps: 20, ..small() });
    m.fit(&y, &hourly()).unwrap();
    let p = m.predict(36, &[50.0, 95.0]).unwrap();
    for b in &p.bands {
        let width: Vec<f64> = b.lower.iter().zip(&b.upper).map(|(l, u)| u - l).collect();
        assert!(width.windows(2).all(|w| w[1] >= w[0] - 1e-9), "{width:?}");
        assert!(width[35] > width[0], "{width:?}");
        assert!(b.lower.iter().zip(&p.mean).zip(&b.upper).all(|((l, m), u)| l <= m && m <= u));
    }
    let (b50, b95) = (&p.bands[0], &p.bands[1]);
    assert!((0..36).all(|i| b95.upper[i] - b95.lower[i] >= b50.upper[i] - b50.lower[i]));
}

#[test]
fn short_nan_constant_and_bad_requests_are_clear() {
    let mut m = Lstm::with_config(small());
    let need = small().min_history();
    assert_eq!(m.predict(3, &[]).unwrap_err(), ForecastError::NotFitted("lstm"));
    assert_eq!(m.update(&[1.0]).unwrap_err(), ForecastError::NotFitted("lstm"));
    assert_eq!(m.fit(&[f64::NAN; 300], &hourly()), Err(ForecastError::NoData));
    assert_eq!(m.fit(&[], &hourly()), Err(ForecastError::NoData));
    let short = daily(need - 1, 5.0, 1.0, 0, 5);
    assert!(
        matches!(m.fit(&short, &hourly()), Err(ForecastError::TooShort { model: "lstm", need: n, .. }) if n == need)
    );
    // Mostly gaps: too few real points.
    let gappy: Vec<f64> = (0..400).map(|t| if t % 20 == 0 { t as f64 } else { f64::NAN }).collect();
    assert!(matches!(m.fit(&gappy, &hourly()), Err(ForecastError::TooShort { .. })));
    // Constant: the constant, with zero-width bands.
    m.fit(&[7.5; 300], &hourly()).unwrap();
    let p = m.predict(4, &[95.0]).unwrap();
    assert_eq!(p.mean, vec![7.5; 4]);
    assert_eq!(p.bands[0].lower, vec![7.5; 4]);
    let r = Lstm::restore(&m.save().unwrap()).unwrap();
    assert_eq!(r.predict(4, &[95.0]).unwrap(), p);
    // Bad requests and a bad configuration.
    assert!(matches!(m.predict(0, &[]), Err(ForecastError::InvalidParameter(_))));
    assert!(matches!(m.predict(3, &[100.0]), Err(ForecastError::InvalidParameter(_))));
    let mut bad = Lstm::with_config(LstmConfig { hidden: 0, ..small() });
    assert!(matches!(bad.fit(&[1.0, 2.0], &hourly()), Err(ForecastError::InvalidParameter(_))));
}

#[test]
fn wild_values_do_not_panic_or_poison_the_forecast() {
    let mut y = daily(200, 1e6, 1e5, 0, 6);
    y[50] = f64::INFINITY;
    y[60] = -1e300;
    y[70] = f64::NAN;
    let mut m = Lstm::with_config(LstmConfig { steps: 5, ..small() });
    m.fit(&y, &FitOptions::default()).unwrap();
    let p = m.predict(30, &[99.0]).unwrap();
    assert!(p.mean.iter().all(|v| v.is_finite()), "{:?}", p.mean);
}

#[test]
fn global_model_fits_many_and_predicts_a_batch() {
    // Six services: same daily shape, different levels, scales and phases.
    let series: Vec<Vec<f64>> =
        (0..6).map(|i| daily(24 * 12, 10.0 * (i + 1) as f64, 3.0 * (i + 1) as f64, i * 2, 10 + i as u64)).collect();
    let opts = hourly();
    let train: Vec<History> = series.iter().map(|s| History { values: &s[..s.len() - 12], options: &opts }).collect();
    let mut g = GlobalLstm::new(small());
    assert_eq!(g.predict_many(&train, 3, &[]).unwrap_err(), ForecastError::NotFitted("lstm"));
    let constant = vec![3.0; 300];
    let mut with_constant = train.clone();
    with_constant.push(History { values: &constant, options: &opts });
    let summary = g.fit_many(&with_constant).unwrap();
    assert_eq!((summary.used, summary.skipped), (6, 1));
    assert!(summary.loss.is_finite());
    // Forecast the six, a service never seen, a constant, an all-NaN and a too-short one, in one batch.
    let unseen = daily(24 * 4, 500.0, 100.0, 7, 99);
    let nan = vec![f64::NAN; 50];
    let mut batch = train.clone();
    batch.push(History { values: &unseen[..unseen.len() - 12], options: &opts });
    batch.push(History { values: &constant, options: &opts });
    batch.push(History { values: &nan, options: &opts });
    batch.push(History { values: &[1.0, 2.0], options: &opts });
    let out = g.predict_many(&batch, 12, &[95.0]).unwrap();
    assert_eq!(out.len(), 10);
    let mut truths: Vec<&[f64]> = series.iter().map(|s| &s[s.len() - 12..]).collect();
    truths.push(&unseen[unseen.len() - 12..]);
    for (i, truth) in truths.iter().enumerate() {
        let p = out[i].as_ref().unwrap();
        let last = batch[i].values.last().copied().unwrap();
        let (e, naive) = (mae(&p.mean, truth), mae(&[last; 12], truth));
        assert!(e < 0.6 * naive, "series {i}: lstm {e:.3} vs naive {naive:.3}");
    }
    assert_eq!(out[7].as_ref().unwrap().mean, vec![3.0; 12]);
    assert_eq!(out[8].as_ref().unwrap_err(), &ForecastError::NoData);
    assert!(matches!(out[9], Err(ForecastError::TooShort { .. })));
    // Save and restore: identical batch forecasts.
    let r = GlobalLstm::restore(&SavedModel::from_bytes(&g.save().unwrap().to_bytes()).unwrap()).unwrap();
    assert_eq!(r.predict_many(&batch, 12, &[95.0]).unwrap(), out);
    assert!(g.fit_many(&[History { values: &nan, options: &opts }]).is_err());
}

/// The `gpu` feature's code path (wgpu) on tiny shapes: on a machine without
/// a GPU it runs on Mesa's software Vulkan driver (lavapipe).
#[cfg(feature = "gpu")]
#[test]
fn gpu_tiny_fit_and_predict() {
    assert_eq!(backend::name(), "wgpu");
    let y = daily(24 * 6, 5.0, 2.0, 0, 7);
    let mut m = Lstm::with_config(LstmConfig::tiny());
    m.fit(&y, &hourly()).unwrap();
    let p = m.predict(6, &[95.0]).unwrap();
    assert!(p.mean.iter().all(|v| v.is_finite()), "{:?}", p.mean);
    let r = Lstm::restore(&m.save().unwrap()).unwrap();
    assert_eq!(r.predict(6, &[95.0]).unwrap(), p);
}
