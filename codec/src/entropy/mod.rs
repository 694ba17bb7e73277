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

    use super::{cdf_from_weights, Categorical, EntropyError};
    use super::{AnsDecoder, AnsEncoder, RangeDecoder, RangeEncoder};
    use crate::entropy::binary::{BitDecode, BitEncode};
    use constriction::stream::model::{DecoderModel, EncoderModel};
    use proptest::prelude::*;

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

    /// A symbol coder (range or ANS), so that one test serves both.
    pub(crate) trait Coder {
        type Enc: BitEncode;
        type Dec: BitDecode;
        fn encoder() -> Self::Enc;
        fn encode<M, const P: usize>(e: &mut Self::Enc, s: usize, m: M) -> Result<(), EntropyError>
        where
            M: EncoderModel<P, Symbol = usize, Probability = u32>;
        fn finish(e: Self::Enc) -> Vec<u8>;
        fn decoder(bytes: &[u8]) -> Result<Self::Dec, EntropyError>;
        fn decode<M, const P: usize>(d: &mut Self::Dec, m: M) -> Result<usize, EntropyError>
        where
            M: DecoderModel<P, Symbol = usize, Probability = u32>;
        /// Whether a decoder that has decoded every coded symbol ended where
        /// the stream does.
        fn at_end(d: &Self::Dec) -> bool;
    }

    /// Implements [`Coder`] for a coder's encoder and decoder types.
    macro_rules! coder {
        ($name:ident, $enc:ty, $dec:ty, $at_end:expr) => {
            pub(crate) struct $name;
            impl Coder for $name {
                type Enc = $enc;
                type Dec = $dec;
                fn encoder() -> $enc {
                    <$enc>::new()
                }
                fn encode<M, const P: usize>(e: &mut $enc, s: usize, m: M) -> Result<(), EntropyError>
                where
                    M: EncoderModel<P, Symbol = usize, Probability = u32>,
                {
                    e.encode(s, m)
                }
                fn finish(e: $enc) -> Vec<u8> {
                    e.finish()
                }
                fn decoder(bytes: &[u8]) -> Result<$dec, EntropyError> {
                    <$dec>::new(bytes)
                }
                fn decode<M, const P: usize>(d: &mut $dec, m: M) -> Result<usize, EntropyError>
                where
                    M: DecoderModel<P, Symbol = usize, Probability = u32>,
                {
                    d.decode(m)
                }
                fn at_end(d: &$dec) -> bool {
                    $at_end(d)
                }
            }
        };
    }
    coder!(Range, RangeEncoder, RangeDecoder, RangeDecoder::maybe_exhausted);
    coder!(Ans, AnsEncoder, AnsDecoder, AnsDecoder::is_empty);

    /// A model's weights (some zero) and draws of a message from it.
    pub(crate) fn model_and_message() -> impl Strategy<Value = (Vec<u64>, Vec<u64>)> {
        (
            prop::collection::vec(
                prop_oneof![Just(0u64), 0u64..100, any::<u32>().prop_map(u64::from)],
                2..300,
            ),
            prop::collection::vec(any::<u64>(), 0..1000),
        )
    }

    /// Codes a message drawn from `weights` at precision `P` with coder `C`,
    /// through the three model types in turn (decoding each symbol with
    /// another type than coded it), and checks that it decodes.
    pub(crate) fn roundtrip<C: Coder, const P: usize>(
        weights: &[u64],
        draws: &[u64],
    ) -> Result<(), TestCaseError> {
        let Ok(model) = Categorical::<P>::from_counts(weights) else { return Ok(()) };
        let n = model.num_symbols() as u64;
        let message: Vec<usize> = draws.iter().map(|&d| (d % n) as usize).collect();
        let lookup = model.clone().into_lookup();
        let mut encoder = C::encoder();
        for (i, &s) in message.iter().enumerate() {
            match i % 3 {
                0 => C::encode(&mut encoder, s, &model)?,
                1 => C::encode(&mut encoder, s, &lookup)?,
                _ => C::encode(&mut encoder, s, model.as_cdf_ref())?,
            }
        }
        prop_assert!(matches!(
            C::encode(&mut encoder, n as usize, &model),
            Err(EntropyError::ImpossibleSymbol(_))
        ));
        let bytes = C::finish(encoder);
        prop_assert_eq!(bytes.len() % 4, 0);
        let mut decoder = C::decoder(&bytes)?;
        for (i, &s) in message.iter().enumerate() {
            let got = match i % 3 {
                0 => C::decode(&mut decoder, &lookup)?,
                1 => C::decode(&mut decoder, model.as_cdf_ref())?,
                _ => C::decode(&mut decoder, &model)?,
            };
            prop_assert_eq!(got, s);
        }
        prop_assert!(C::at_end(&decoder));
        Ok(())
    }

    /// Codes a new CDF for every symbol, at precisions 24 and `Q` in turn,
    /// interleaved with bits (`steps`: weights, draw, bit, P(1)), and checks
    /// that they decode.
    pub(crate) fn roundtrip_per_symbol_cdfs<C: Coder, const Q: usize>(
        steps: &[(Vec<u32>, u64, bool, u16)],
    ) -> Result<(), TestCaseError> {
        let mut encoder = C::encoder();
        let mut buf = [0u32; 41];
        let mut message = Vec::new();
        for (i, (weights, draw, bit, p1)) in steps.iter().enumerate() {
            let buf = &mut buf[..weights.len() + 1];
            let s = (draw % weights.len() as u64) as usize;
            if i % 2 == 0 {
                C::encode(&mut encoder, s, cdf_from_weights::<24>(weights, buf)?)?;
            } else {
                C::encode(&mut encoder, s, cdf_from_weights::<Q>(weights, buf)?)?;
            }
            encoder.encode_bit(*bit, *p1);
            message.push(s);
        }
        let bytes = C::finish(encoder);
        let mut decoder = C::decoder(&bytes)?;
        for (i, (weights, _, bit, p1)) in steps.iter().enumerate() {
            let buf = &mut buf[..weights.len() + 1];
            let got = if i % 2 == 0 {
                C::decode(&mut decoder, cdf_from_weights::<24>(weights, buf)?)?
            } else {
                C::decode(&mut decoder, cdf_from_weights::<Q>(weights, buf)?)?
            };
            prop_assert_eq!(got, message[i]);
            prop_assert_eq!(decoder.decode_bit(*p1)?, *bit);
        }
        prop_assert!(C::at_end(&decoder));
        Ok(())
    }

    /// The steps of [`roundtrip_per_symbol_cdfs`].
    pub(crate) fn cdf_steps() -> impl Strategy<Value = Vec<(Vec<u32>, u64, bool, u16)>> {
        prop::collection::vec(
            (prop::collection::vec(0u32..1000, 2..40), any::<u64>(), any::<bool>(), 1u16..),
            0..300,
        )
    }

    /// Codes 10,000 random bits (seeded), each at a random P(1), into `e`.
    pub(crate) fn random_bits_into(e: &mut impl BitEncode, seed: u64) {
        let mut rng = SplitMix64(seed);
        for _ in 0..10_000 {
            let p1 = 1 + rng.below(65535) as u16;
            let bit = rng.below(65536) < u64::from(p1);
            e.encode_bit(bit, p1);
        }
    }

    /// Ideal code length in bits of one bit under P(1) = p1 / 2^16.
    pub(crate) fn bit_cost(bit: bool, p1: u16) -> f64 {
        let p = if bit { f64::from(p1) } else { 65536.0 - f64::from(p1) };
        16.0 - p.log2()
    }
}
