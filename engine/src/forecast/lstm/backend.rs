//! The one place that picks the Burn backend the LSTM runs on.
//!
//! Why one place: Burn 0.22 carries the backend in the [`Device`], not in
//! the tensor type, so the network, training loop and inference are the same
//! code on every backend. The default build uses the ndarray CPU backend;
//! the `gpu` cargo feature switches to wgpu (Vulkan/Metal/DX12, or Mesa's
//! software Vulkan driver on a machine without a GPU). Nothing else in the
//! module mentions a backend.

use burn::tensor::Device;

/// The device inference runs on (no autodiff).
pub fn device() -> Device {
    #[cfg(feature = "gpu")]
    {
        Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)
    }
    #[cfg(not(feature = "gpu"))]
    {
        // ndarray is deprecated in Burn 0.22 in favour of flex, but it is the
        // backend the design card names; see docs/forecasting.md.
        #[allow(deprecated)]
        Device::ndarray()
    }
}

/// The device training runs on: [`device`] with autodiff.
pub fn train_device() -> Device {
    device().autodiff()
}

/// A short name of the backend in use, for logs and benchmarks.
pub fn name() -> &'static str {
    if cfg!(feature = "gpu") {
        "wgpu"
    } else {
        "ndarray"
    }
}
