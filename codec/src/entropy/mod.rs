//! Entropy coding: adapters from integer probability models to constriction's
//! range coder (queue, FIFO) and ANS (stack, LIFO).
//!
//! Nothing in here ever sees a float: every model is an integer CDF of a fixed
//! precision in which every symbol has a frequency of at least 1, so encoder and
//! decoder agree bit for bit on every machine (spec/MODELS.md, "Probability path").

pub mod ans;
pub mod binary;
pub mod cdf;
pub mod range;

/// Errors of the entropy layer. Coded data that cannot be decoded is reported
/// here; note that many corruptions are *not* detectable by the coder (ANS
/// decodes any bit string), which is why the container carries checksums.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EntropyError {
    /// The coded data is not valid for this model (truncated, corrupt, or
    /// decoded with a different model than it was encoded with).
    #[error("invalid coded data: {0}")]
    InvalidData(&'static str),
    /// A model given by the caller is not a valid integer distribution.
    #[error("invalid model: {0}")]
    InvalidModel(&'static str),
}
