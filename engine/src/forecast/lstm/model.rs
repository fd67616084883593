//! A trained network with its error profile: what the single-series and
//! the global model share once training is done — turning scaled forecasts
//! of a batch of series into [`Prediction`]s in each series' units.

use burn::tensor::Device;

use super::super::bands::ErrorProfile;
use super::super::prep::check_request;
use super::super::{Band, ForecastError, Prediction};
use super::backend;
use super::codec;
use super::config::LstmConfig;
use super::features::Scaler;
use super::infer::{forecast, Context};
use super::net::Net;
use super::series::Series;
use super::train;

/// A trained LSTM ready to forecast.
#[derive(Debug)]
pub struct Model {
    /// Its configuration.
    pub cfg: LstmConfig,
    /// The network on the inference device.
    pub net: Net,
    /// h-step forecast errors in scaled units.
    pub profile: ErrorProfile,
    /// The weights as saved (`codec::encode`).
    pub weights: String,
    /// The device inference runs on.
    pub device: Device,
    /// Final training loss (scaled L1), `NaN` for a restored model.
    pub loss: f64,
}

/// One series to forecast: where it stands and how to read its scaled values.
#[derive(Debug, Clone)]
pub struct Target {
    /// Its context window.
    pub context: Context,
    /// Its scaling.
    pub scaler: Scaler,
    /// Clamp forecasts and bands at zero.
    pub nonneg: bool,
}

impl Model {
    /// Trains on `series`.
    pub fn train(cfg: &LstmConfig, series: &[Series]) -> Result<Self, ForecastError> {
        let device = backend::device();
        let t = train::fit(cfg, series, &backend::train_device(), &device)?;
        let weights = codec::encode(&t.net)?;
        Ok(Self { cfg: cfg.clone(), net: t.net, profile: t.profile, weights, device, loss: t.loss })
    }

    /// Rebuilds a saved model.
    pub fn restore(cfg: LstmConfig, profile: ErrorProfile, weights: String) -> Result<Self, ForecastError> {
        cfg.check().map_err(|e| ForecastError::Restore(e.to_string()))?;
        let device = backend::device();
        let net = codec::decode(&weights, cfg.hidden, cfg.outputs, &device)?;
        Ok(Self { cfg, net, profile, weights, device, loss: f64::NAN })
    }

    /// The context of a series at its end.
    pub fn context_of(&self, s: &Series) -> Context {
        let n = s.z.len();
        Context {
            z: s.z[n - self.cfg.window..].to_vec(),
            next_index: s.first_index.wrapping_add(n as i64),
            calendar: s.calendar,
        }
    }

    /// Forecasts every target `horizon` steps ahead with bands at `levels`.
    pub fn predict(
        &self,
        targets: &[Target],
        horizon: usize,
        levels: &[f64],
    ) -> Result<Vec<Prediction>, ForecastError> {
        check_request(horizon, levels)?;
        let contexts: Vec<Context> = targets.iter().map(|t| t.context.clone()).collect();
        let paths = forecast(&self.net, &contexts, horizon, self.cfg.window, &self.device);
        Ok(targets.iter().zip(paths).map(|(t, z)| to_units(&self.profile, z, levels, t)).collect())
    }
}

/// A scaled path and its bands, mapped into the series' units.
pub fn to_units(profile: &ErrorProfile, z: Vec<f64>, levels: &[f64], t: &Target) -> Prediction {
    let p = profile.prediction(z, levels, false);
    let unit = |v: f64| {
        let y = t.scaler.unscale(v);
        if t.nonneg {
            y.max(0.0)
        } else {
            y
        }
    };
    Prediction {
        mean: p.mean.into_iter().map(unit).collect(),
        bands: p
            .bands
            .into_iter()
            .map(|b| Band {
                level: b.level,
                lower: b.lower.into_iter().map(unit).collect(),
                upper: b.upper.into_iter().map(unit).collect(),
            })
            .collect(),
    }
}
