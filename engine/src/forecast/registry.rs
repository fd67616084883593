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
pub const NAMES: [&str; 6] = ["naive", "snaive", "ets", "mstl", "ensemble", "auto"];

/// A fresh, unfitted model by its name (case-insensitive); `None` if unknown.
pub fn by_name(name: &str) -> Option<Box<dyn Forecaster>> {
    let m: Box<dyn Forecaster> = match name.to_ascii_lowercase().as_str() {
        "naive" => Box::new(Naive::new()),
        "snaive" => Box::new(SeasonalNaive::new()),
        "ets" => Box::new(Ets::new()),
        "mstl" => Box::new(Mstl::new()),
        "ensemble" => Box::new(Ensemble::new()),
        "auto" => Box::new(Auto::new()),
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
        "ensemble" => Box::new(Ensemble::restore(saved)?),
        "auto" => Box::new(Auto::restore(saved)?),
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
            assert_eq!(r.predict(30, &[50.0, 80.0, 95.0, 99.0]).unwrap(), m.predict(30, &[50.0, 80.0, 95.0, 99.0]).unwrap(), "{name}");
        }
        assert!(by_name("prophet").is_none());
        let bad = SavedModel { kind: "ets".into(), version: 99, state: serde_json::Value::Null };
        assert!(matches!(restore(&bad), Err(ForecastError::Restore(_))));
        let bad = SavedModel { kind: "zzz".into(), version: 1, state: serde_json::Value::Null };
        assert!(matches!(restore(&bad), Err(ForecastError::Restore(_))));
    }
}
