//! The network: one LSTM layer with fused gates and a linear head that
//! emits the next `outputs` steps at once, as corrections to the last value.
//!
//! Why a hand-written cell instead of `burn::nn::Lstm`: Burn's layer runs
//! eight small matrix products per time step (input and hidden transform of
//! each gate). Here the input projection of every step is one matrix product
//! up front and each step does a single `[batch, hidden] x [hidden, 4 hidden]`
//! product, which cuts the per-step operation count (and autodiff graph)
//! several-fold — what makes CPU training affordable.
//!
//! Why "last value + correction": with the head initialised near zero the
//! untrained network is the naive forecast, so a few hundred training steps
//! only have to learn the deviation from it.
//!
//! Weights are initialised from a seeded generator of our own (not the
//! backend's global RNG), so a fit is reproducible whatever else runs.

use burn::module::{Module, Param};
use burn::tensor::activation::{sigmoid, tanh};
use burn::tensor::{Device, Tensor, TensorData};

/// The LSTM forecaster's network.
#[derive(Module, Debug)]
pub struct Net {
    /// Input projection of all four gates, `[features, 4 * hidden]`.
    w_x: Param<Tensor<2>>,
    /// Hidden projection of all four gates, `[hidden, 4 * hidden]`.
    w_h: Param<Tensor<2>>,
    /// Gate biases, `[4 * hidden]` (order: input, forget, output, cell).
    b: Param<Tensor<1>>,
    /// Head weights, `[hidden, outputs]`.
    w_out: Param<Tensor<2>>,
    /// Head bias, `[outputs]`.
    b_out: Param<Tensor<1>>,
}

/// A small deterministic generator (an LCG) for weight init and batch sampling.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    /// A uniform value in `[0, 1)`.
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// A uniform index in `0..n` (`n > 0`).
    pub fn below(&mut self, n: usize) -> usize {
        ((self.uniform() * n as f64) as usize).min(n.saturating_sub(1))
    }
}

fn uniform(rows: usize, cols: usize, bound: f64, rng: &mut Rng) -> TensorData {
    let v: Vec<f32> = (0..rows * cols).map(|_| ((2.0 * rng.uniform() - 1.0) * bound) as f32).collect();
    TensorData::new(v, [rows, cols])
}

impl Net {
    /// A freshly initialised network on `device`.
    pub fn new(features: usize, hidden: usize, outputs: usize, seed: u64, device: &Device) -> Self {
        let mut rng = Rng::new(seed);
        let bound = 1.0 / (hidden as f64).sqrt();
        let mut bias = vec![0.0f32; 4 * hidden];
        // Forget-gate bias 1: remember by default (Jozefowicz et al., 2015).
        bias[hidden..2 * hidden].iter_mut().for_each(|b| *b = 1.0);
        let p2 = |d: TensorData| Param::from_tensor(Tensor::<2>::from_data(d, device));
        let p1 = |v: Vec<f32>| {
            let n = v.len();
            Param::from_tensor(Tensor::<1>::from_data(TensorData::new(v, [n]), device))
        };
        Self {
            w_x: p2(uniform(features, 4 * hidden, bound, &mut rng)),
            w_h: p2(uniform(hidden, 4 * hidden, bound, &mut rng)),
            b: p1(bias),
            w_out: p2(uniform(hidden, outputs, 0.01, &mut rng)),
            b_out: p1(vec![0.0; outputs]),
        }
    }

    /// The hidden size.
    pub fn hidden(&self) -> usize {
        self.w_h.val().dims()[0]
    }

    /// The number of steps the head predicts.
    pub fn outputs(&self) -> usize {
        self.b_out.val().dims()[0]
    }

    /// Predicts `[batch, outputs]` scaled values from inputs `[batch, window, features]`
    /// whose first feature is the scaled value.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<2> {
        let [batch, window, features] = x.dims();
        let hidden = self.hidden();
        let device = x.device();
        let last = x.clone().narrow(1, window - 1, 1).narrow(2, 0, 1).reshape([batch, 1]);
        // Input projection of every step in one product: [window, batch, 4 hidden].
        let xp = x
            .reshape([batch * window, features])
            .matmul(self.w_x.val())
            .add(self.b.val().unsqueeze::<2>())
            .reshape([batch, window, 4 * hidden])
            .swap_dims(0, 1);
        let w_h = self.w_h.val();
        let mut h = Tensor::<2>::zeros([batch, hidden], &device);
        let mut c = Tensor::<2>::zeros([batch, hidden], &device);
        for step in xp.iter_dim(0) {
            let g = step.reshape([batch, 4 * hidden]).add(h.matmul(w_h.clone()));
            let i = sigmoid(g.clone().narrow(1, 0, hidden));
            let f = sigmoid(g.clone().narrow(1, hidden, hidden));
            let o = sigmoid(g.clone().narrow(1, 2 * hidden, hidden));
            let u = tanh(g.narrow(1, 3 * hidden, hidden));
            c = f.mul(c).add(i.mul(u));
            h = o.mul(tanh(c.clone()));
        }
        h.matmul(self.w_out.val()).add(self.b_out.val().unsqueeze::<2>()).add(last)
    }
}

/// Copies `rows` (`batch * window * features` values) into an input tensor.
pub fn input(rows: Vec<f32>, batch: usize, window: usize, features: usize, device: &Device) -> Tensor<3> {
    Tensor::from_data(TensorData::new(rows, [batch, window, features]), device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::forecast::lstm::backend;

    #[test]
    fn untrained_net_is_near_naive_and_shapes_hold() {
        let device = backend::device();
        let net = Net::new(3, 4, 5, 7, &device);
        assert_eq!((net.hidden(), net.outputs()), (4, 5));
        let rows: Vec<f32> = (0..2 * 6 * 3).map(|i| if i % 3 == 0 { (i / 18) as f32 } else { 0.0 }).collect();
        let out = net.forward(input(rows, 2, 6, 3, &device));
        assert_eq!(out.dims(), [2, 5]);
        let v = out.into_data().try_to_vec::<f32>().unwrap();
        // Batch row 0 ends at 0, row 1 at 1; the head starts near zero.
        assert!(v[..5].iter().all(|x| x.abs() < 0.1), "{v:?}");
        assert!(v[5..].iter().all(|x| (x - 1.0).abs() < 0.1), "{v:?}");
    }
}
