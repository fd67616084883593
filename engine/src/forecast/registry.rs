//! Models by name and by saved state.
//!
//! Why: the query engine resolves `model => '...'` and the model registry
//! in RocksDB restores stored models without knowing their concrete types.

use super::auto::Auto;
use super::ensemble::Ensemble;
use super::ets::Ets;
use super::mstl::Mstl;
use super::naive::Naive;
use super::snaive::SeasonalNaive;
use super::{ForecastError, Forecaster, SavedModel};

/// The model names [`by_name`] knows.
pub const NAMES: [&str; 8] = ["naive", "snaive", "ets", "mstl", "arima", "ensemble", "auto", "lstm"];

/// A fresh, unfitted model by its name (case-insensitive); `None` if unknown.
pub fn by_name(name: &str) -> Option<Box<dyn Forecaster>> {
    let m: Box<dyn Forecaster> = match name.to_ascii_lowercase().as_str() {
        "naive" => Box::new(Naive::new()),
        "snaive" => Box::new(SeasonalNaive::new()),
        "ets" => Box::new(Ets::new()),
        "mstl" => Box::new(Mstl::new()),
        "arima" => Box::new(super::arima::AutoArima::new()),
        "ensemble" => Box::new(Ensemble::new()),
        "auto" => Box::new(Auto::new()),
        "lstm" => Box::new(super::lstm::Lstm::new()),
        _ => return None,
    };
    Some(m)
}

/// Rebuilds a fitted model from its [`SavedModel`].
pub fn restore(saved: &SavedModel) -> Result<Box<dyn Forecaster>, ForecastError> {
    Ok(match saved.kind.as_str() {
        "naive" => Box::new(Naive::restore(saved)?),
        "snaive" => Box::new(SeasonalNaive::restore(saved)?),
        "ets" => Box::new(Ets::restore(saved)?),
        "mstl" => Box::new(Mstl::restore(saved)?),
        "mstl_ar" => Box::new(super::mstl::MstlAr::restore(saved)?),
        "mstl_ari" => Box::new(super::mstl::MstlAri::restore(saved)?),
        "arima" => super::arima::restore(saved)?,
        "ensemble" => Box::new(Ensemble::restore(saved)?),
        "auto" => Box::new(Auto::restore(saved)?),
        "lstm" => Box::new(super::lstm::Lstm::restore(saved)?),
        "calibrated" => Box::new(super::calibrate::Calibrated::restore(saved)?),
        other => return Err(ForecastError::Restore(format!("unknown model kind {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::FitOptions;

    #[test]
    fn every_name_fits_saves_and_restores() {
        let y: Vec<f64> = (0..300).map(|t| 5.0 + (t % 12) as f64 + ((t * 7) % 5) as f64 * 0.1).collect();
        for name in NAMES {
            let mut m = by_name(name).unwrap();
            assert_eq!(m.name(), name);
            assert_eq!(m.predict(1, &[]).unwrap_err(), ForecastError::NotFitted(m.name()));
            m.fit(&y, &FitOptions::default()).unwrap();
            let saved = SavedModel::from_bytes(&m.save().unwrap().to_bytes()).unwrap();
            let r = restore(&saved).unwrap();
            assert_eq!(
                r.predict(30, &[50.0, 80.0, 95.0, 99.0]).unwrap(),
                m.predict(30, &[50.0, 80.0, 95.0, 99.0]).unwrap(),
                "{name}"
            );
        }
        assert!(by_name("prophet").is_none());
        let bad = SavedModel { kind: "ets".into(), version: 99, state: serde_json::Value::Null };
        assert!(matches!(restore(&bad), Err(ForecastError::Restore(_))));
        let bad = SavedModel { kind: "zzz".into(), version: 1, state: serde_json::Value::Null };
        assert!(matches!(restore(&bad), Err(ForecastError::Restore(_))));
    }

    #[test]
    fn means_only_fits_forecast_the_same_means_without_measuring_bands() {
        let y: Vec<f64> =
            (0..600).map(|t| 20.0 + 5.0 * ((t % 24) as f64 / 4.0).sin() + ((t * 37) % 11) as f64 * 0.3).collect();
        for name in ["naive", "snaive", "ets", "mstl"] {
            let mut full = by_name(name).unwrap();
            full.fit(&y, &FitOptions::default()).unwrap();
            let mut lean = by_name(name).unwrap();
            lean.fit(&y, &FitOptions { means_only: true, ..FitOptions::default() }).unwrap();
            let (a, b) = (full.predict(30, &[95.0]).unwrap(), lean.predict(30, &[95.0]).unwrap());
            assert_eq!(a.mean, b.mean, "{name}");
            // The full fit measured its bands; the lean one did not.
            assert!(a.bands[0].upper[0] > a.mean[0], "{name}");
            assert_eq!(b.bands[0].upper[0], b.mean[0], "{name}");
            full.update(&y[..5]).unwrap();
            lean.update(&y[..5]).unwrap();
            assert_eq!(full.predict(6, &[]).unwrap().mean, lean.predict(6, &[]).unwrap().mean, "{name}");
        }
    }

    #[test]
    fn constant_all_nan_short_and_gappy_histories() {
        for name in NAMES {
            let mut m = by_name(name).unwrap();
            assert_eq!(m.fit(&[f64::NAN; 50], &FitOptions::default()), Err(ForecastError::NoData), "{name}");
            assert_eq!(m.fit(&[], &FitOptions::default()), Err(ForecastError::NoData), "{name}");
            m.fit(&[4.0; 400], &FitOptions::default()).unwrap();
            let p = m.predict(12, &[95.0]).unwrap();
            assert!(p.mean.iter().all(|v| (v - 4.0).abs() < 1e-9), "{name}: {:?}", p.mean);
            assert!(p.bands[0].lower.iter().zip(&p.bands[0].upper).all(|(l, u)| l.is_finite() && u >= l));
            // One or two points: a forecast (fallback) or a clear TooShort error.
            for short in [&[2.0][..], &[2.0, f64::NAN, 3.0][..]] {
                match m.fit(short, &FitOptions::default()) {
                    Ok(()) => assert!(m.predict(3, &[95.0]).unwrap().mean.iter().all(|v| v.is_finite()), "{name}"),
                    Err(e) => assert!(matches!(e, ForecastError::TooShort { .. }), "{name}: {e}"),
                }
            }
            let gappy: Vec<f64> = (0..500)
                .map(|t| if (100..160).contains(&t) || t % 17 == 0 { f64::NAN } else { (t % 24) as f64 })
                .collect();
            m.fit(&gappy, &FitOptions::default()).unwrap();
            let p = m.predict(24, &[80.0]).unwrap();
            assert!(p.mean.iter().all(|v| v.is_finite() && (-5.0..30.0).contains(v)), "{name}: {:?}", p.mean);
            assert!(m.predict(0, &[]).is_err() && m.predict(3, &[120.0]).is_err());
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(12))]
        /// Arbitrary values (NaN, infinities, huge, tiny) never make a model panic.
        #[test]
        fn arbitrary_histories_never_panic(
            history in crate::forecast::test_util::wild_values(120),
            season in 0usize..30,
        ) {
            for name in NAMES {
                let mut m = by_name(name).unwrap();
                let opts = FitOptions { seasons: if season > 1 { vec![season] } else { vec![] }, ..Default::default() };
                if m.fit(&history, &opts).is_ok() {
                    let _ = m.predict(7, &[50.0, 99.0]);
                    let _ = m.update(&history[..history.len().min(5)]);
                    let _ = m.predict(1, &[95.0]);
                    if let Ok(saved) = m.save() {
                        let _ = restore(&saved).map(|r| r.predict(3, &[80.0]));
                    }
                }
            }
        }
    }
}
