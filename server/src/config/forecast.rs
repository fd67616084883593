//! The `[forecast]` section: the fit worker pool and how continuous
//! forecasts keep and retrain their models.
//!
//! Kept in its own file so the section, its defaults, its validation and
//! the conversion to the query crate's settings sit together.

use std::time::Duration;

use augur_engine::forecast::pool::default_workers;
use augur_engine::forecast::store::learn::LearnPolicy;
use augur_engine::forecast::store::DEFAULT_KEEP_VERSIONS;
use augur_query::exec::continuous::{ContinuousForecastSettings, DEFAULT_TRAINING_STEPS};
use serde::Deserialize;

use super::{invalid, parse_positive_duration, ConfigError};

/// The `[forecast]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ForecastSection {
    /// `workers = 4`: threads that fit models (default half the cores).
    pub workers: Option<u64>,
    /// `refit_every = "24h"` (`"0s"` = only on drift).
    pub refit_every: Option<String>,
    /// `drift_ratio = 2.0` (0 = never retrain on drift).
    pub drift_ratio: Option<f64>,
    /// `min_live_points = 12`
    pub min_live_points: Option<u64>,
    /// `keep_versions = 5`
    pub keep_versions: Option<u64>,
    /// `training_steps = 2016`
    pub training_steps: Option<u64>,
    /// `backtest_origins = 10`
    pub backtest_origins: Option<u64>,
    /// `challenge = true`: a version retrained on drift or schedule replaces
    /// the active one only if it forecasts the newest steps better.
    pub challenge: Option<bool>,
    /// `cache_models = 1024`: fitted models of ad-hoc `forecast()` queries
    /// kept in memory and rolled forward when the query is asked again
    /// (0 = always fit afresh).
    pub cache_models: Option<u64>,
}

/// Resolved `[forecast]` settings.
#[derive(Debug, Clone, PartialEq)]
pub struct ForecastConfig {
    /// Threads of the fit worker pool.
    pub workers: usize,
    /// Retrain a continuous forecast's model when it is this old (`None` = only on drift).
    pub refit_every: Option<Duration>,
    /// Retrain when live MASE exceeds backtest MASE times this (0 = never).
    pub drift_ratio: f64,
    /// Forecasts scored live before drift is judged.
    pub min_live_points: u64,
    /// Model versions kept per series group, for rollback.
    pub keep_versions: usize,
    /// Training window of a continuous forecast without `training =>`, in intervals.
    pub training_steps: u64,
    /// Backtest origins per trained version.
    pub backtest_origins: usize,
    /// Champion/challenger contest before a retrained version is swapped in.
    pub challenge: bool,
    /// Fitted models of ad-hoc `forecast()` queries kept in memory (0 = off).
    pub cache_models: usize,
}

impl Default for ForecastConfig {
    fn default() -> Self {
        let policy = LearnPolicy::default();
        ForecastConfig {
            workers: default_workers(),
            refit_every: Some(Duration::from_nanos(u64::try_from(policy.refit_every_ns).unwrap_or(0))),
            drift_ratio: policy.drift_ratio,
            min_live_points: policy.min_live_points,
            keep_versions: DEFAULT_KEEP_VERSIONS,
            training_steps: u64::try_from(DEFAULT_TRAINING_STEPS).unwrap_or(2016),
            backtest_origins: policy.backtest_origins,
            challenge: policy.challenge,
            cache_models: augur_engine::forecast::cache::DEFAULT_ENTRIES,
        }
    }
}

impl ForecastConfig {
    /// The settings continuous forecasts run with.
    pub fn continuous(&self) -> ContinuousForecastSettings {
        ContinuousForecastSettings {
            policy: LearnPolicy {
                refit_every_ns: self.refit_every.map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX)),
                drift_ratio: self.drift_ratio,
                min_live_points: self.min_live_points,
                backtest_origins: self.backtest_origins,
                challenge: self.challenge,
                // Set from `[anomaly]` by the server (server.rs).
                anomaly: None,
            },
            keep_versions: self.keep_versions,
            default_training_steps: i64::try_from(self.training_steps).unwrap_or(i64::MAX),
        }
    }
}

fn count(key: &'static str, value: Option<u64>, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    match value {
        None => Ok(default),
        Some(n) if n < min => Err(invalid(key, format!("must be at least {min}"))),
        Some(n) if n > max => Err(invalid(key, format!("must be at most {max}"))),
        Some(n) => Ok(n),
    }
}

/// Validates the section.
pub(super) fn forecast_config(section: &ForecastSection) -> Result<ForecastConfig, ConfigError> {
    let d = ForecastConfig::default();
    let refit_every = match section.refit_every.as_deref().map(str::trim) {
        None => d.refit_every,
        Some("0") | Some("0s") => None,
        Some(text) => Some(parse_positive_duration(text).map_err(|m| invalid("forecast.refit_every", m))?),
    };
    if refit_every.is_some_and(|r| i64::try_from(r.as_nanos()).is_err()) {
        return Err(invalid("forecast.refit_every", "too large"));
    }
    let drift_ratio = section.drift_ratio.unwrap_or(d.drift_ratio);
    if !drift_ratio.is_finite() || drift_ratio < 0.0 {
        return Err(invalid("forecast.drift_ratio", "must be a number >= 0 (0 = never retrain on drift)"));
    }
    let as_usize = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    Ok(ForecastConfig {
        workers: as_usize(count("forecast.workers", section.workers, d.workers as u64, 1, 1024)?),
        refit_every,
        drift_ratio,
        min_live_points: count("forecast.min_live_points", section.min_live_points, d.min_live_points, 1, 1 << 20)?,
        keep_versions: as_usize(count(
            "forecast.keep_versions",
            section.keep_versions,
            d.keep_versions as u64,
            1,
            1000,
        )?),
        training_steps: count("forecast.training_steps", section.training_steps, d.training_steps, 2, 1_000_000)?,
        backtest_origins: as_usize(count(
            "forecast.backtest_origins",
            section.backtest_origins,
            d.backtest_origins as u64,
            0,
            1000,
        )?),
        challenge: section.challenge.unwrap_or(d.challenge),
        cache_models: as_usize(count(
            "forecast.cache_models",
            section.cache_models,
            d.cache_models as u64,
            0,
            1 << 20,
        )?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Loaded {
        forecast: ForecastConfig,
    }

    fn load_text(text: &str) -> Result<Loaded, ConfigError> {
        let file = super::super::parse_file(std::path::Path::new("augur.toml"), text)?;
        Ok(Loaded { forecast: forecast_config(&file.forecast)? })
    }

    #[test]
    fn forecast_section() {
        let config = load_text("").expect("loads");
        assert_eq!(config.forecast, ForecastConfig::default());
        assert!(config.forecast.workers >= 1);
        let config = load_text(
            "[forecast]\nworkers = 3\nrefit_every = \"1h\"\ndrift_ratio = 1.5\nmin_live_points = 4\n\
             keep_versions = 2\ntraining_steps = 500\nbacktest_origins = 0\ncache_models = 0\n",
        )
        .expect("loads");
        let f = &config.forecast;
        assert_eq!((f.workers, f.refit_every, f.keep_versions), (3, Some(Duration::from_secs(3600)), 2));
        assert_eq!(f.cache_models, 0);
        let s = f.continuous();
        assert_eq!(
            (s.policy.refit_every_ns, s.policy.drift_ratio, s.policy.min_live_points),
            (3_600_000_000_000, 1.5, 4)
        );
        assert_eq!((s.default_training_steps, s.policy.backtest_origins), (500, 0));
        assert_eq!(load_text("[forecast]\nrefit_every = \"0s\"\n").expect("loads").forecast.refit_every, None);
        for (text, key) in [
            ("[forecast]\nworkers = 0\n", "forecast.workers"),
            ("[forecast]\ndrift_ratio = -1.0\n", "forecast.drift_ratio"),
            ("[forecast]\nrefit_every = \"soon\"\n", "forecast.refit_every"),
            ("[forecast]\nkeep_versions = 0\n", "forecast.keep_versions"),
            ("[forecast]\ntraining_steps = 1\n", "forecast.training_steps"),
            ("[forecast]\ncache_models = 2000000\n", "forecast.cache_models"),
        ] {
            let err = load_text(text).expect_err(text);
            assert!(err.to_string().contains(key), "{text}: {err}");
        }
        assert!(matches!(load_text("[forecast]\nworker = 2\n"), Err(ConfigError::Parse { .. })));
    }
}
