//! Batched inference: the next `h` scaled values of many series in one
//! forward pass per block of `outputs` steps.
//!
//! Why direct multi-output with recursion only beyond it: one forward pass
//! yields all `outputs` steps, so errors do not compound inside that range
//! and a batch of 1,000 series costs one pass instead of `h`. Horizons
//! longer than `outputs` feed the predicted block back as the next input
//! window (recursive in blocks), which keeps any horizon possible.

use burn::tensor::Device;

use super::features::{rows, Calendar, FEATURES};
use super::net::{input, Net};

/// Where a series stands: its last `window` scaled values and what follows.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The last `window` scaled values, oldest first.
    pub z: Vec<f64>,
    /// The absolute grid index of the step after `z`.
    pub next_index: i64,
    /// The series' calendar.
    pub calendar: Calendar,
}

/// Series forecast together in one pass at most.
const CHUNK: usize = 4096;

/// The next `horizon` scaled values of every context (all `window` long).
pub fn forecast(net: &Net, contexts: &[Context], horizon: usize, window: usize, device: &Device) -> Vec<Vec<f64>> {
    let mut out = Vec::with_capacity(contexts.len());
    for chunk in contexts.chunks(CHUNK) {
        let mut ctx: Vec<Context> = chunk.to_vec();
        let mut paths: Vec<Vec<f64>> = vec![Vec::with_capacity(horizon); ctx.len()];
        while paths.first().is_some_and(|p| p.len() < horizon) {
            let mut buf = Vec::with_capacity(ctx.len() * window * FEATURES);
            for c in &ctx {
                let start = c.next_index.wrapping_sub(window as i64);
                rows(&c.z[c.z.len() - window..], start, &c.calendar, &mut buf);
            }
            let pred = net.forward(input(buf, ctx.len(), window, FEATURES, device));
            let k = pred.dims()[1];
            let values = pred.into_data().try_to_vec::<f32>().unwrap_or_default();
            for (i, (c, path)) in ctx.iter_mut().zip(paths.iter_mut()).enumerate() {
                let block = values.get(i * k..(i + 1) * k).unwrap_or(&[]);
                // A non-finite output (diverged weights) falls back to the last value.
                let last = c.z.last().copied().unwrap_or(0.0);
                let block: Vec<f64> = block.iter().map(|&v| if v.is_finite() { f64::from(v) } else { last }).collect();
                path.extend(block.iter().take(horizon - path.len()));
                c.z.extend_from_slice(&block);
                let drop = c.z.len() - window;
                c.z.drain(..drop);
                c.next_index = c.next_index.wrapping_add(k as i64);
            }
            if k == 0 {
                break;
            }
        }
        out.extend(paths);
    }
    out
}
