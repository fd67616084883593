//! Training: Adam on the L1 loss over windows sampled from every series,
//! then the calibration of the bands on held-out tails, then a short
//! fine-tune on the most recent windows.
//!
//! Why this order: the bands must come from errors on data the network did
//! not train on (in-sample errors of a neural net are too small, and the
//! bands too narrow), so each series' last `calibration` steps are held out
//! first and forecast from rolling origins — the same h-step error profile
//! the statistical models build ([`ErrorProfile`]). The held-out tail is the
//! most recent, most relevant data, so training then continues briefly on
//! all windows; the profile is measured before that, so it errs wide.
//! L1 because MASE (what is reported) is an absolute error and server
//! metrics are spiky.

use burn::module::Module;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Tensor, TensorData};

use super::super::bands::{ErrorProfile, ProfileBuilder};
use super::super::ForecastError;
use super::config::LstmConfig;
use super::features::FEATURES;
use super::infer::{forecast, Context};
use super::net::{input, Net, Rng};
use super::series::Series;

/// Training windows kept at most (thinned evenly per series beyond).
const MAX_SAMPLES: usize = 200_000;
/// Calibration origins forecast at most, over all series.
const MAX_ORIGINS: usize = 4_000;

/// A trained network and the error profile of its forecasts, in scaled units.
pub struct Trained {
    /// The network, on the inference device.
    pub net: Net,
    /// h-step errors measured on the held-out tails (scaled units).
    pub profile: ErrorProfile,
    /// The mean L1 loss of the last training steps (scaled units).
    pub loss: f64,
}

/// One training window: its series and the step its targets start at.
#[derive(Debug, Clone, Copy)]
struct Sample {
    series: usize,
    end: usize,
}

/// The windows of `series` whose targets lie in `..limit(series)`, thinned to `cap`.
fn samples(
    series: &[Series],
    window: usize,
    outputs: usize,
    cap: usize,
    limit: &dyn Fn(&Series) -> usize,
) -> Vec<Sample> {
    let per = cap.div_ceil(series.len().max(1)).max(1);
    let mut out = Vec::new();
    for (i, s) in series.iter().enumerate() {
        let last = limit(s).saturating_sub(outputs);
        if last < window {
            continue;
        }
        let count = last - window + 1;
        let stride = count.div_ceil(per).max(1);
        out.extend((window..=last).step_by(stride).map(|end| Sample { series: i, end }));
    }
    out
}

/// The held-out tail length of a series of `n` steps.
fn tail(n: usize, cfg: &LstmConfig) -> usize {
    (n / 5).min(cfg.calibration).max(cfg.outputs)
}

/// One training phase: how many Adam steps, from which learning rate to which.
#[derive(Debug, Clone, Copy)]
struct Phase {
    steps: usize,
    lr: (f64, f64),
}

/// Runs one phase; returns the network and the mean loss of its last tenth.
fn run(
    mut net: Net,
    series: &[Series],
    samples: &[Sample],
    cfg: &LstmConfig,
    phase: Phase,
    rng: &mut Rng,
    device: &Device,
) -> (Net, f64) {
    let Phase { steps, lr } = phase;
    if samples.is_empty() || steps == 0 {
        return (net, f64::NAN);
    }
    let mut optim =
        AdamConfig::new().with_grad_clipping(Some(burn::grad_clipping::GradientClippingConfig::Norm(1.0))).init();
    let (w, h) = (cfg.window, cfg.outputs);
    let batch = cfg.batch.min(samples.len()).max(1);
    let (mut loss_sum, mut loss_n) = (0.0, 0usize);
    for step in 0..steps {
        let mut x = Vec::with_capacity(batch * w * FEATURES);
        let mut y = Vec::with_capacity(batch * h);
        for _ in 0..batch {
            let s = samples[rng.below(samples.len())];
            let ser = &series[s.series];
            x.extend_from_slice(ser.window_rows(s.end, w));
            y.extend(ser.z[s.end..s.end + h].iter().map(|&v| v.clamp(-50.0, 50.0) as f32));
        }
        let x = input(x, batch, w, FEATURES, device);
        let y = Tensor::<2>::from_data(TensorData::new(y, [batch, h]), device);
        let loss = net.forward(x).sub(y).abs().mean();
        if step >= steps - steps.div_ceil(10) {
            if let Ok(v) = loss.to_data().try_to_vec::<f32>() {
                loss_sum += v.first().copied().map_or(f64::NAN, f64::from);
                loss_n += 1;
            }
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        let frac = step as f64 / steps as f64;
        net = optim.step(lr.0 + (lr.1 - lr.0) * frac, net, grads);
    }
    (net, loss_sum / loss_n.max(1) as f64)
}

/// The error profile of `net` forecasting each series' held-out tail.
fn calibrate(net: &Net, series: &[Series], cfg: &LstmConfig, device: &Device) -> ErrorProfile {
    let (w, h) = (cfg.window, cfg.outputs);
    let per = MAX_ORIGINS.div_ceil(series.len().max(1)).max(1);
    let mut contexts = Vec::new();
    let mut truth: Vec<&[f64]> = Vec::new();
    for s in series {
        let n = s.z.len();
        let first = (n - tail(n, cfg)).max(w);
        let count = n.saturating_sub(first);
        let stride = count.div_ceil(per).max(1);
        for e in (first..n).step_by(stride) {
            contexts.push(Context {
                z: s.z[e - w..e].to_vec(),
                next_index: s.first_index.wrapping_add(e as i64),
                calendar: s.calendar,
            });
            truth.push(&s.z[e..(e + h).min(n)]);
        }
    }
    let mut builder = ProfileBuilder::new(h);
    for (path, actual) in forecast(net, &contexts, h, w, device).iter().zip(truth) {
        for (i, (a, f)) in actual.iter().zip(path).enumerate() {
            builder.record(i + 1, a - f);
        }
    }
    builder.finish()
}

/// Trains a network on `series` (already checked long enough) with `cfg`.
pub fn fit(
    cfg: &LstmConfig,
    series: &[Series],
    train_device: &Device,
    device: &Device,
) -> Result<Trained, ForecastError> {
    cfg.check()?;
    let (w, h) = (cfg.window, cfg.outputs);
    let held = samples(series, w, h, MAX_SAMPLES, &|s| s.z.len() - tail(s.z.len(), cfg));
    if held.is_empty() {
        let need = cfg.min_history();
        let got = series.iter().map(|s| s.z.len()).max().unwrap_or(0);
        return Err(ForecastError::TooShort { model: "lstm", got, need });
    }
    let mut rng = Rng::new(cfg.seed.wrapping_add(1));
    let net = Net::new(FEATURES, cfg.hidden, h, cfg.seed, train_device);
    let lr = cfg.learning_rate;
    let (net, _) = run(net, series, &held, cfg, Phase { steps: cfg.steps, lr: (lr, lr * 0.3) }, &mut rng, train_device);
    let profile = calibrate(&net.valid(), series, cfg, device);
    let all = samples(series, w, h, MAX_SAMPLES, &|s| s.z.len());
    let (net, loss) = run(
        net,
        series,
        &all,
        cfg,
        Phase { steps: cfg.steps.div_ceil(4), lr: (lr * 0.3, lr * 0.1) },
        &mut rng,
        train_device,
    );
    Ok(Trained { net: net.valid(), profile, loss })
}
