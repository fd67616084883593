//! Tests of the ARIMA model on simulated series with known structure.

use super::*;
use proptest::prelude::*;
use rand::{Rng, SeedableRng};

fn normals(seed: u64, n: usize) -> Vec<f64> {
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    (0..n)
        .map(|_| {
            let u1: f64 = rng.gen_range(1e-12..1.0);
            let u2: f64 = rng.gen();
            (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
        })
        .collect()
}

/// Simulates `w_t = c + Σφ(w-c) + e_t + Σθ e`, then integrates `d` times.
fn simulate(seed: u64, n: usize, phi: &[f64], theta: &[f64], c: f64, d: usize) -> Vec<f64> {
    let burn = 200;
    let e = normals(seed, n + burn);
    let mut w = vec![0.0; n + burn];
    for t in 0..n + burn {
        let mut v = e[t];
        for (i, p) in phi.iter().enumerate() {
            if t > i {
                v += p * w[t - 1 - i];
            }
        }
        for (j, q) in theta.iter().enumerate() {
            if t > j {
                v += q * e[t - 1 - j];
            }
        }
        w[t] = v;
    }
    let mut y: Vec<f64> = w[burn..].iter().map(|v| v + c).collect();
    for _ in 0..d {
        y = y
            .iter()
            .scan(0.0, |s, v| {
                *s += v;
                Some(*s)
            })
            .collect();
    }
    y
}

fn fit_fixed_order(y: &[f64], order: Order) -> Coefficients {
    let mut m = Arima::new(order);
    m.fit(y, &FitOptions::default()).expect("fit");
    m.coefficients().expect("fitted")
}

#[test]
fn recovers_ar1() {
    let y = simulate(1, 2000, &[0.7], &[], 5.0, 0);
    let c = fit_fixed_order(&y, Order::new(1, 0, 0, true));
    assert!((c.phi[0] - 0.7).abs() < 0.05, "phi {:?}", c.phi);
    assert!((c.constant - 5.0).abs() < 0.3, "mean {}", c.constant);
    assert!((c.sigma2 - 1.0).abs() < 0.1, "sigma2 {}", c.sigma2);
}

#[test]
fn recovers_ma1() {
    let y = simulate(2, 2000, &[], &[0.5], 0.0, 0);
    let c = fit_fixed_order(&y, Order::new(0, 0, 1, false));
    assert!((c.theta[0] - 0.5).abs() < 0.05, "theta {:?}", c.theta);
}

#[test]
fn recovers_arima_011() {
    let y = simulate(3, 2000, &[], &[-0.6], 0.0, 1);
    let c = fit_fixed_order(&y, Order::new(0, 1, 1, false));
    assert!((c.theta[0] + 0.6).abs() < 0.05, "theta {:?}", c.theta);
    // The automatic search differences it once too.
    let mut a = AutoArima::new();
    a.fit(&y, &FitOptions::default()).expect("fit");
    assert_eq!(a.order().map(|o| o.d), Some(1));
}

#[test]
fn picks_one_difference_for_a_random_walk() {
    let y = simulate(4, 1500, &[], &[], 0.0, 1);
    let mut a = AutoArima::new();
    a.fit(&y, &FitOptions::default()).expect("fit");
    let o = a.order().expect("order");
    assert_eq!(o.d, 1, "{}", o.label());
    // Noise around a level needs none.
    let y = simulate(5, 1500, &[0.3], &[], 10.0, 0);
    a.fit(&y, &FitOptions::default()).expect("fit");
    assert_eq!(a.order().map(|o| o.d), Some(0));
}

#[test]
fn forecasts_a_linear_trend_with_drift() {
    let e = normals(6, 600);
    let y: Vec<f64> = (0..600).map(|t| 10.0 + 0.5 * t as f64 + e[t]).collect();
    let mut a = AutoArima::new();
    a.fit(&y, &FitOptions::default()).expect("fit");
    let p = a.predict(20, &[95.0]).expect("predict");
    for (k, f) in p.mean.iter().enumerate() {
        let truth = 10.0 + 0.5 * (600 + k) as f64;
        assert!(
            (f - truth).abs() < 3.0,
            "step {k}: {f} vs {truth} ({})",
            a.order().map(|o| o.label()).unwrap_or_default()
        );
    }
}

#[test]
fn seasonal_model_learns_a_short_season() {
    let e = normals(7, 12 * 40);
    let y: Vec<f64> =
        (0..12 * 40).map(|t| 50.0 + 10.0 * (t as f64 * std::f64::consts::TAU / 12.0).sin() + 0.5 * e[t]).collect();
    let (train, test) = y.split_at(12 * 38);
    let mut a = AutoArima::new();
    a.fit(train, &FitOptions { seasons: vec![12], ..Default::default() }).expect("fit");
    let o = a.order().expect("order");
    assert!(o.is_seasonal(), "{}", o.label());
    let p = a.predict(24, &[95.0]).expect("predict");
    let mae: f64 = p.mean.iter().zip(test).map(|(f, y)| (f - y).abs()).sum::<f64>() / 24.0;
    assert!(mae < 1.0, "mae {mae} with {}", o.label());
    let band = p.band(95.0).expect("band");
    let inside = test.iter().enumerate().filter(|(i, v)| band.lower[*i] <= **v && **v <= band.upper[*i]).count();
    assert!(inside >= 20, "{inside}/24 inside the 95% band");
}

#[test]
fn long_seasons_fall_back_to_non_seasonal() {
    let y = simulate(8, 1200, &[0.5], &[], 1.0, 0);
    let mut a = AutoArima::new();
    a.fit(&y, &FitOptions { seasons: vec![288], ..Default::default() }).expect("fit");
    assert!(!a.order().expect("order").is_seasonal());
}

#[test]
fn bands_widen_with_horizon_and_nest_by_level() {
    for (seed, d) in [(9u64, 0usize), (10, 1)] {
        let y = simulate(seed, 800, &[0.6], &[0.2], 0.0, d);
        let mut a = AutoArima::new();
        a.fit(&y, &FitOptions::default()).expect("fit");
        let p = a.predict(30, &[50.0, 80.0, 95.0, 99.0]).expect("predict");
        for b in &p.bands {
            for k in 1..30 {
                assert!(b.upper[k] - b.lower[k] >= b.upper[k - 1] - b.lower[k - 1] - 1e-9);
            }
            assert!(b.upper[29] - b.lower[29] > b.upper[0] - b.lower[0]);
        }
        for w in p.bands.windows(2) {
            assert!(w[1].upper[0] - w[1].lower[0] > w[0].upper[0] - w[0].lower[0]);
        }
        // One-step 95% half-width ≈ 1.96σ with σ = 1.
        let b = p.band(95.0).expect("band");
        let half = (b.upper[0] - b.lower[0]) / 2.0;
        assert!((half - 1.96).abs() < 0.25, "half width {half}");
    }
}

#[test]
fn save_restore_gives_identical_forecasts() {
    let mut y = simulate(11, 700, &[0.5], &[0.3], 3.0, 1);
    y[100] = f64::NAN;
    y[699] = f64::NAN;
    for (model, opts) in [
        (Box::new(AutoArima::new()) as Box<dyn Forecaster>, FitOptions::default()),
        (Box::new(AutoArima::new()), FitOptions { seasons: vec![7], ..Default::default() }),
        (
            Box::new(Arima::new(Order { p: 1, d: 0, q: 1, sp: 1, sd: 1, sq: 0, m: 7, constant: false })),
            FitOptions::default(),
        ),
    ] {
        let mut model = model;
        model.fit(&y, &opts).expect("fit");
        let saved = model.save().expect("save");
        assert_eq!(saved.kind, "arima");
        assert_eq!(saved.version, 1);
        let bytes = saved.to_bytes();
        let mut back = restore(&SavedModel::from_bytes(&bytes).expect("decode")).expect("restore");
        let levels = crate::forecast::DEFAULT_LEVELS;
        assert_eq!(model.predict(25, &levels).expect("a"), back.predict(25, &levels).expect("b"));
        model.update(&[y[698], f64::NAN, y[697]]).expect("update");
        back.update(&[y[698], f64::NAN, y[697]]).expect("update");
        assert_eq!(model.predict(5, &levels).expect("a"), back.predict(5, &levels).expect("b"));
    }
}

#[test]
fn update_rolls_the_state_like_a_full_filter_pass() {
    let y = simulate(12, 900, &[0.8], &[-0.3], 2.0, 1);
    let mut a = Arima::new(Order::new(1, 1, 1, true));
    a.fit(&y[..600], &FitOptions::default()).expect("fit");
    let before = a.predict(1, &[]).expect("p").mean[0];
    a.update(&y[600..]).expect("update");
    let f = a.fitted.clone().expect("fitted");
    let yi = interpolate(&y).expect("finite");
    let (_, filter, tail) = filter_pass(&y, &yi, &f.order, &f.coefs, f.c).expect("pass");
    let tail: Vec<f64> = tail.into_iter().collect();
    assert_eq!(tail, f.tail);
    for (x, z) in filter.a.iter().zip(&f.filter.a) {
        assert!((x - z).abs() < 1e-9);
    }
    let after = a.predict(1, &[]).expect("p").mean[0];
    assert!((after - y[899]).abs() < (before - y[899]).abs());
}

#[test]
fn degenerate_histories_give_errors_or_fallbacks() {
    let mut a = AutoArima::new();
    assert_eq!(a.predict(3, &[95.0]), Err(ForecastError::NotFitted("arima")));
    assert!(a.save().is_err());
    assert_eq!(a.fit(&[], &FitOptions::default()), Err(ForecastError::NoData));
    assert_eq!(a.fit(&[f64::NAN; 50], &FitOptions::default()), Err(ForecastError::NoData));
    assert!(matches!(a.fit(&[1.0, f64::NAN, 2.0, 3.0], &FitOptions::default()), Ok(())));
    assert!(matches!(a.fit(&[1.0, f64::NAN, 2.0], &FitOptions::default()), Err(ForecastError::TooShort { .. })));
    assert!(matches!(a.fit(&[1.0, 2.0], &FitOptions::default()), Err(ForecastError::TooShort { .. })));
    // Constant: flat forecast, zero-width bands.
    a.fit(&[4.5; 100], &FitOptions { seasons: vec![12], ..Default::default() }).expect("fit");
    let p = a.predict(5, &[95.0]).expect("predict");
    assert!(p.mean.iter().all(|v| (v - 4.5).abs() < 1e-12));
    assert!(p.bands[0].upper.iter().zip(&p.bands[0].lower).all(|(u, l)| (u - l).abs() < 1e-12));
    // Bad parameters.
    assert!(matches!(a.predict(0, &[95.0]), Err(ForecastError::InvalidParameter(_))));
    assert!(matches!(a.predict(3, &[100.0]), Err(ForecastError::InvalidParameter(_))));
    assert!(matches!(a.predict(3, &[f64::NAN]), Err(ForecastError::InvalidParameter(_))));
    // A short series: random walk.
    a.fit(&[1.0, 2.0, 3.0, 2.0, 1.0], &FitOptions::default()).expect("fit");
    assert_eq!(a.predict(2, &[]).expect("p").mean, vec![1.0, 1.0]);
    // Fixed order too large for the data.
    let mut f = Arima::new(Order::new(5, 1, 5, false));
    assert!(matches!(
        f.fit(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], &FitOptions::default()),
        Err(ForecastError::TooShort { .. })
    ));
    // Corrupted saved state.
    let y = simulate(13, 200, &[0.5], &[], 0.0, 0);
    a.fit(&y, &FitOptions::default()).expect("fit");
    let mut s = a.save().expect("save");
    s.state["exact"]["a"] = serde_json::json!([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    assert!(matches!(restore(&s), Err(ForecastError::Restore(_))));
    s.kind = "ets".into();
    assert!(matches!(restore(&s), Err(ForecastError::Restore(_))));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn never_panics_on_odd_histories(
        values in proptest::collection::vec(prop_oneof![
            4 => -1e6f64..1e6,
            1 => Just(f64::NAN),
            1 => Just(0.0),
            1 => Just(f64::INFINITY),
        ], 0..120),
        season in 0usize..30,
        h in 0usize..20,
    ) {
        let mut a = AutoArima::new();
        let opts = FitOptions { seasons: vec![season], ..Default::default() };
        if a.fit(&values, &opts).is_ok() {
            if let Ok(p) = a.predict(h, &[80.0, 95.0]) {
                prop_assert_eq!(p.mean.len(), h);
                prop_assert!(p.mean.iter().all(|v| v.is_finite()));
            }
            a.update(&values[..values.len().min(7)]).expect("update");
            let saved = a.save().expect("save");
            prop_assert!(restore(&saved).is_ok());
        }
    }
}
