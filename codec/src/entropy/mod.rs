//! Entropy coding: adapters from integer probability models to constriction's
//! range coder (queue, FIFO) and ANS (stack, LIFO).
//!
//! Nothing in here ever sees a float: every model is an integer CDF of a fixed
//! precision in which every symbol has a frequency of at least 1, so encoder and
//! decoder agree bit for bit on every machine (spec/MODELS.md, "Probability path").
//! (The one exception is [`CostCounter`], which *measures* code lengths in `f64`
//! and is never on the probability path.)
//!
//! # Overview
//!
//! | what | types |
//! |---|---|
//! | integer distributions ([`cdf`]) | [`Categorical`] (validated, owned), [`LookupCategorical`] (fixed table, fast decode), [`CdfRef`] (borrowed CDF that changes every symbol), [`cdf_from_weights`] (per-symbol quantiser) |
//! | range coder, first in first out ([`range`]) | [`RangeEncoder`], [`RangeDecoder`] |
//! | ANS, last in first out ([`ans`]) | [`AnsEncoder`] (buffers, so it reads like a queue), [`AnsDecoder`], [`AnsStack`] (raw stack, for bits-back) |
//! | bits ([`binary`]) | [`BitEncode`], [`BitDecode`], [`BitModel`], [`RangeBitEncoder`], [`RangeBitDecoder`], [`AnsBitEncoder`], [`AnsBitDecoder`], [`CostCounter`] |
//!
//! The categorical coders take any constriction model over `usize` symbols with
//! `u32` probabilities at a precision `P` in `1..=24` ([`MAX_PRECISION`]); the
//! types in [`cdf`] are the ones this crate builds. All categorical coders also
//! implement [`BitEncode`] / [`BitDecode`], so bits and symbols can share a stream.
//!
//! # Byte format
//!
//! Every coder in this module writes constriction's compressed `u32` words, each
//! serialised little-endian, and nothing else: a coded stream's length is always
//! a multiple of 4, and decoders reject any other length with
//! [`EntropyError::InvalidData`]. Neither coder records how many symbols it holds
//! (the range decoder cannot detect the end of its data, and ANS decodes any bit
//! string), so the container stores the symbol count and a checksum.
//!
//! # Example
//!
//! ```
//! use nzip_codec::entropy::{Categorical, RangeDecoder, RangeEncoder};
//!
//! // A 4-symbol model at 16-bit precision, quantised from integer counts.
//! let model = Categorical::<16>::from_counts(&[10u32, 50, 30, 10])?;
//! let message = [1usize, 1, 2, 0, 3, 1];
//!
//! let mut encoder = RangeEncoder::new();
//! for &symbol in &message {
//!     encoder.encode(symbol, &model)?;
//! }
//! let bytes = encoder.finish();
//!
//! let mut decoder = RangeDecoder::new(&bytes)?;
//! for &symbol in &message {
//!     assert_eq!(decoder.decode(&model)?, symbol);
//! }
//! # Ok::<(), nzip_codec::entropy::EntropyError>(())
//! ```

pub mod ans;
pub mod binary;
pub mod cdf;
pub mod range;

pub use ans::{AnsDecoder, AnsEncoder, AnsStack};
pub use binary::{
    AnsBitDecoder, AnsBitEncoder, BitDecode, BitEncode, BitModel, CostCounter, RangeBitDecoder,
    RangeBitEncoder, BIT_PRECISION,
};
pub use cdf::{cdf_from_weights, Categorical, CdfRef, LookupCategorical, MAX_PRECISION};
pub use range::{RangeDecoder, RangeEncoder};

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
    /// The encoder was asked to code a symbol that has no probability under the
    /// model (its index is at or beyond the model's alphabet size). Nothing was
    /// written; the encoder can go on with other symbols.
    #[error("symbol {0} is not in the model's alphabet")]
    ImpossibleSymbol(usize),
}

/// Serialises constriction's compressed words, each little-endian.
pub(crate) fn words_to_bytes(words: &[u32]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(words.len() * 4);
    for word in words {
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    bytes
}

/// Parses bytes written by [`words_to_bytes`]; rejects a length that is not a
/// multiple of 4.
pub(crate) fn bytes_to_words(bytes: &[u8]) -> Result<Vec<u32>, EntropyError> {
    let chunks = bytes.chunks_exact(4);
    if !chunks.remainder().is_empty() {
        return Err(EntropyError::InvalidData("coded length is not a multiple of 4 bytes"));
    }
    Ok(chunks.map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
}

/// Compile-time check that a precision is one the coders support. Evaluated
/// when a generic function is instantiated, so a bad `P` fails the build.
pub(crate) struct Precision<const P: usize>;

impl<const P: usize> Precision<P> {
    /// `()`, or a compile error when `P` is not in `1..=MAX_PRECISION`.
    pub(crate) const CHECK: () =
        assert!(P >= 1 && P <= MAX_PRECISION, "entropy model precision must be in 1..=24 bits");
}

#[cfg(test)]
pub(crate) mod test_util {
    //! Deterministic helpers shared by the entropy tests.

    /// SplitMix64: a tiny, fast, seedable generator (test data only).
    #[derive(Debug, Clone)]
    pub(crate) struct SplitMix64(pub(crate) u64);

    impl SplitMix64 {
        pub(crate) fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        }

        /// Uniform in `0..n` (n > 0), with negligible bias for small `n`.
        pub(crate) fn below(&mut self, n: u64) -> u64 {
            ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
        }
    }

    /// Draws a symbol exactly from the integer distribution given by `cdf`.
    pub(crate) fn sample(cdf: &[u32], rng: &mut SplitMix64) -> usize {
        let total = *cdf.last().unwrap();
        let q = rng.below(u64::from(total)) as u32;
        cdf.partition_point(|&c| c <= q) - 1
    }

    /// Ideal code length in bits of `symbols` under the distribution `cdf` of
    /// precision `p`.
    pub(crate) fn cross_entropy_bits(cdf: &[u32], p: usize, symbols: &[usize]) -> f64 {
        symbols.iter().map(|&s| p as f64 - f64::from(cdf[s + 1] - cdf[s]).log2()).sum()
    }

    /// Ideal code length in bits of one bit under P(1) = p1 / 2^16.
    pub(crate) fn bit_cost(bit: bool, p1: u16) -> f64 {
        let p = if bit { f64::from(p1) } else { 65536.0 - f64::from(p1) };
        16.0 - p.log2()
    }
}
