//! The deterministic neural engine: integer-exact inference whose results are
//! bit-identical on every machine, thread count, SIMD level and device
//! (spec/MODELS.md §4, ../DESIGN.md §4).
//!
//! - [`fixed`]: fixed-point requantisation, integer square root, RMS norm;
//! - [`lut`]: base-2 sigmoid / tanh tables and the softmax-to-CDF step, all
//!   built by integer code;
//! - [`kernels`]: int8 matrix products and 2-D (and 1-D) convolutions with a
//!   scalar reference, a fast CPU path and a candle path (CPU or CUDA);
//! - [`gru`]: an integer GRU cell stepping many independent streams at once;
//! - [`package`]: model packages (safetensors + config), identified by the
//!   SHA-256 of their bytes, and the registry of models built into nzip;
//! - [`train`]: float training with candle autograd and quantisation-aware
//!   fake-quant, and the export to the integer package.

pub mod fixed;
pub mod gru;
pub mod kernels;
pub mod lut;
pub mod package;
pub mod train;

pub use kernels::{Backend, Conv2d, QMatrix};

/// Errors of the engine.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NnError {
    /// Inconsistent tensor sizes.
    #[error("shape error: {0}")]
    Shape(String),
    /// A model package that cannot be used.
    #[error("invalid model package: {0}")]
    Package(String),
    /// The requested device cannot be used.
    #[error("device error: {0}")]
    Device(String),
    /// An error inside candle.
    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),
}

#[cfg(test)]
pub(crate) mod test_util;
#[cfg(test)]
mod tests;
