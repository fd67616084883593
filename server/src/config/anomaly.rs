//! The `[anomaly]` section: anomaly detection on continuous forecasts
//! (the band rule's level and run length, the level-shift rule's
//! threshold).
//!
//! Kept in its own file so the section, its defaults and its validation
//! sit together; the resolved settings are the engine's
//! [`DetectorConfig`], or `None` when detection is off.

use augur_engine::forecast::anomaly::DetectorConfig;
use serde::Deserialize;

use super::{invalid, ConfigError};

/// The `[anomaly]` table as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalySection {
    /// `enabled = true`: detect anomalies on every continuous forecast.
    pub enabled: Option<bool>,
    /// `level = 99.0`: band level (percent) of the band rule.
    pub level: Option<f64>,
    /// `consecutive = 3`: points outside the band in a row before an anomaly.
    pub consecutive: Option<u64>,
    /// `shift_threshold = 12.0`: CUSUM threshold in sigmas (0 = no level-shift rule).
    pub shift_threshold: Option<f64>,
    /// `shift_drift = 1.0`: CUSUM allowance per step in sigmas.
    pub shift_drift: Option<f64>,
}

/// Resolved `[anomaly]` settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnomalyConfig {
    /// Whether continuous forecasts detect anomalies.
    pub enabled: bool,
    /// The detector's settings.
    pub detector: DetectorConfig,
}

impl Default for AnomalyConfig {
    fn default() -> Self {
        AnomalyConfig { enabled: true, detector: DetectorConfig::default() }
    }
}

impl AnomalyConfig {
    /// The detector continuous forecasts run (`None` = off).
    pub fn detector(&self) -> Option<DetectorConfig> {
        self.enabled.then_some(self.detector)
    }
}

/// Validates the section.
pub(super) fn anomaly_config(section: &AnomalySection) -> Result<AnomalyConfig, ConfigError> {
    let d = DetectorConfig::default();
    let consecutive = match section.consecutive {
        None => d.consecutive,
        Some(n) if (1..=10_000).contains(&n) => usize::try_from(n).unwrap_or(d.consecutive),
        Some(_) => return Err(invalid("anomaly.consecutive", "must be between 1 and 10000")),
    };
    let detector = DetectorConfig {
        level: section.level.unwrap_or(d.level),
        consecutive,
        shift_threshold: section.shift_threshold.unwrap_or(d.shift_threshold),
        shift_drift: section.shift_drift.unwrap_or(d.shift_drift),
    };
    if !(detector.level > 0.0 && detector.level < 100.0) {
        return Err(invalid("anomaly.level", "must be a percentage strictly between 0 and 100"));
    }
    if !detector.shift_threshold.is_finite() || detector.shift_threshold < 0.0 {
        return Err(invalid("anomaly.shift_threshold", "must be a number >= 0 (0 = no level-shift rule)"));
    }
    if !detector.shift_drift.is_finite() || detector.shift_drift < 0.0 {
        return Err(invalid("anomaly.shift_drift", "must be a number >= 0"));
    }
    Ok(AnomalyConfig { enabled: section.enabled.unwrap_or(true), detector })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_overrides_and_bad_values() {
        let d = anomaly_config(&AnomalySection::default()).expect("defaults");
        assert_eq!(d, AnomalyConfig::default());
        assert_eq!(d.detector(), Some(DetectorConfig::default()));
        let s = AnomalySection {
            enabled: Some(false),
            level: Some(95.0),
            consecutive: Some(5),
            shift_threshold: Some(0.0),
            shift_drift: Some(0.5),
        };
        let c = anomaly_config(&s).expect("valid");
        assert_eq!(c.detector(), None);
        assert_eq!(c.detector, DetectorConfig { level: 95.0, consecutive: 5, shift_threshold: 0.0, shift_drift: 0.5 });
        for bad in [
            AnomalySection { level: Some(100.0), ..AnomalySection::default() },
            AnomalySection { level: Some(f64::NAN), ..AnomalySection::default() },
            AnomalySection { consecutive: Some(0), ..AnomalySection::default() },
            AnomalySection { shift_threshold: Some(-1.0), ..AnomalySection::default() },
            AnomalySection { shift_drift: Some(f64::INFINITY), ..AnomalySection::default() },
        ] {
            assert!(anomaly_config(&bad).is_err(), "{bad:?}");
        }
    }
}
