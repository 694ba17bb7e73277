//! Range coding of categorical symbols (constriction's queue coder: first in,
//! first out), for autoregressive models.
//!
//! [`RangeEncoder::encode`] and [`RangeDecoder::decode`] take any constriction
//! model over `usize` symbols with `u32` probabilities at a precision `P` in
//! `1..=24`: the types of [`super::cdf`] ([`Categorical`](super::Categorical),
//! [`LookupCategorical`](super::LookupCategorical), [`CdfRef`](super::CdfRef)),
//! by value or by reference. The precision may change from symbol to symbol, as
//! may the model; bits ([`BitEncode`]) can be mixed in, and are coded exactly as
//! [`RangeBitEncoder`](super::RangeBitEncoder) codes them.
//!
//! See the [module example](super#example).

use super::binary::{range_decode_bit, range_decoder, range_encode_bit, BitDecode, BitEncode};
use super::{words_to_bytes, EntropyError, Precision};
use constriction::stream::model::{DecoderModel, EncoderModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::{Decode, Encode};

/// Range-codes symbols; the decoder reads them in the same order.
///
/// # Example
///
/// ```
/// use nzip_codec::entropy::{BitDecode, BitEncode, Categorical, RangeDecoder, RangeEncoder};
///
/// let bytes_model = Categorical::<24>::uniform(256)?;
/// let mut encoder = RangeEncoder::new();
/// encoder.encode(b'n' as usize, &bytes_model)?;
/// encoder.encode_bit(true, 1000); // bits and symbols can share a stream
/// assert!(encoder.encode(256, &bytes_model).is_err()); // not in the alphabet
/// let bytes = encoder.finish();
///
/// let mut decoder = RangeDecoder::new(&bytes)?;
/// assert_eq!(decoder.decode(&bytes_model)?, b'n' as usize);
/// assert!(decoder.decode_bit(1000)?);
/// # Ok::<(), nzip_codec::entropy::EntropyError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct RangeEncoder {
    inner: DefaultRangeEncoder,
}

impl RangeEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Codes `symbol` under `model` (precision `P`, checked at compile time to
    /// be in `1..=24`).
    ///
    /// # Errors
    ///
    /// [`EntropyError::ImpossibleSymbol`] if `symbol` has no probability under
    /// `model` (for the types of [`super::cdf`]: `symbol >= n`). Nothing is
    /// written then, and the encoder stays usable.
    #[inline]
    pub fn encode<M, const P: usize>(&mut self, symbol: usize, model: M) -> Result<(), EntropyError>
    where
        M: EncoderModel<P, Symbol = usize, Probability = u32>,
    {
        let () = Precision::<P>::CHECK;
        // The only frontend error is an impossible symbol (checked before any
        // state changes); the `Vec` backend cannot fail.
        self.inner.encode_symbol(symbol, model).map_err(|_| EntropyError::ImpossibleSymbol(symbol))
    }

    /// The length in bytes that [`finish`](Self::finish) would return now.
    pub fn num_bytes(&self) -> usize {
        self.inner.num_words() * 4
    }

    /// Ends the stream and returns it (a multiple of 4 bytes; empty if nothing
    /// was coded).
    pub fn finish(self) -> Vec<u8> {
        let words = match self.inner.into_compressed() {
            Ok(words) => words,
            Err(never) => match never {},
        };
        words_to_bytes(&words)
    }
}

impl BitEncode for RangeEncoder {
    #[inline]
    fn encode_bit(&mut self, bit: bool, p1: u16) {
        range_encode_bit(&mut self.inner, bit, p1);
    }
}

/// Decodes symbols written by [`RangeEncoder`], given the same models in the
/// same order.
///
/// Any input is safe: a corrupt or truncated stream gives wrong symbols or
/// [`EntropyError::InvalidData`], never a panic. The range coder cannot see
/// where its data ends, so decoding past the end gives symbols too: the
/// container stores the symbol count and a checksum.
#[derive(Debug, Clone)]
pub struct RangeDecoder {
    inner: DefaultRangeDecoder,
}

impl RangeDecoder {
    /// A decoder over `bytes` (copied).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidData`] if the length is not a multiple of 4.
    pub fn new(bytes: &[u8]) -> Result<Self, EntropyError> {
        Ok(RangeDecoder { inner: range_decoder(bytes)? })
    }

    /// Decodes the next symbol under `model` (which must be the model it was
    /// encoded with).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidData`] when the data cannot have been produced
    /// by the encoder with this model (corrupt, truncated or a different model;
    /// many such cases are not detected and give wrong symbols instead).
    #[inline]
    pub fn decode<M, const P: usize>(&mut self, model: M) -> Result<usize, EntropyError>
    where
        M: DecoderModel<P, Symbol = usize, Probability = u32>,
    {
        let () = Precision::<P>::CHECK;
        self.inner
            .decode_symbol(model)
            .map_err(|_| EntropyError::InvalidData("range-coded data is corrupt or truncated"))
    }

    /// True when the decoder may have read all of its data (constriction's
    /// `maybe_exhausted`): after decoding every symbol of an intact stream this
    /// is true; it may be true earlier too, when the remaining symbols need
    /// less than a word.
    pub fn maybe_exhausted(&self) -> bool {
        self.inner.maybe_exhausted()
    }
}

impl BitDecode for RangeDecoder {
    #[inline]
    fn decode_bit(&mut self, p1: u16) -> Result<bool, EntropyError> {
        range_decode_bit(&mut self.inner, p1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::test_util::{
        cdf_steps, cross_entropy_bits, model_and_message, random_bits_into, roundtrip,
        roundtrip_per_symbol_cdfs, sample, Range, SplitMix64,
    };
    use crate::entropy::{Categorical, CdfRef, RangeBitEncoder};
    use constriction::stream::model::DefaultContiguousCategoricalEntropyModel;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn roundtrip_random_models((weights, draws) in model_and_message()) {
            roundtrip::<Range, 1>(&weights, &draws)?;
            roundtrip::<Range, 9>(&weights, &draws)?;
            roundtrip::<Range, 12>(&weights, &draws)?;
            roundtrip::<Range, 16>(&weights, &draws)?;
            roundtrip::<Range, 24>(&weights, &draws)?;
        }

        /// A new CDF for every symbol, at mixed precisions, interleaved with bits.
        #[test]
        fn roundtrip_per_symbol_cdfs_range(steps in cdf_steps()) {
            roundtrip_per_symbol_cdfs::<Range, 13>(&steps)?;
        }

        /// Arbitrary bytes and models: an error or symbols in range, never a panic.
        #[test]
        fn garbage_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            (weights, _) in model_and_message(),
            p1s in prop::collection::vec(any::<u16>(), 1..10),
        ) {
            let model = Categorical::<24>::from_counts(&weights).unwrap();
            let small = Categorical::<8>::from_counts(&weights).ok().map(Categorical::into_lookup);
            if let Ok(mut d) = RangeDecoder::new(&bytes) {
                for i in 0..300 {
                    let r = match (i % 3, &small) {
                        (0, _) => d.decode(&model),
                        (1, Some(small)) => d.decode(small),
                        _ => d.decode_bit(p1s[i % p1s.len()]).map(usize::from),
                    };
                    match r {
                        Ok(s) => prop_assert!(s < weights.len()),
                        Err(e) => {
                            prop_assert!(matches!(e, EntropyError::InvalidData(_)));
                            break;
                        }
                    }
                }
            }
        }
    }

    /// The custom model gives exactly the stream of constriction's built-in
    /// categorical model with the same table.
    #[test]
    fn same_bytes_as_constriction_builtin() {
        let freqs: Vec<u32> = {
            let c = Categorical::<24>::from_counts(&(1..=300u32).map(|i| i * i % 97).collect::<Vec<_>>())
                .unwrap();
            (0..c.num_symbols()).map(|s| c.frequency(s).unwrap()).collect()
        };
        let ours = Categorical::<24>::from_frequencies(&freqs).unwrap();
        let builtin =
            DefaultContiguousCategoricalEntropyModel::from_nonzero_fixed_point_probabilities(&freqs, false)
                .unwrap();
        let mut rng = SplitMix64(3);
        let message: Vec<usize> = (0..10_000).map(|_| sample(ours.cdf(), &mut rng)).collect();
        let mut a = RangeEncoder::new();
        let mut b = constriction::stream::queue::DefaultRangeEncoder::new();
        for &s in &message {
            a.encode(s, &ours).unwrap();
            b.encode_symbol(s, &builtin).unwrap();
        }
        let b = crate::entropy::words_to_bytes(&b.into_compressed().unwrap());
        assert_eq!(a.finish(), b);
    }

    /// Bits through a `RangeEncoder` give the same bytes as a `RangeBitEncoder`.
    #[test]
    fn bits_match_bit_coder() {
        let (mut a, mut b) = (RangeEncoder::new(), RangeBitEncoder::new());
        random_bits_into(&mut a, 5);
        random_bits_into(&mut b, 5);
        assert_eq!(a.finish(), b.finish());
    }

    /// 2M symbols of a skewed 256-symbol model at 24 bits: coded size within
    /// 0.05% of the cross-entropy, through each model type.
    #[test]
    fn overhead_vs_cross_entropy() {
        let weights: Vec<u64> = (0..256u64).map(|i| 1 + 1_000_000_000 / ((i + 1) * (i + 1))).collect();
        let model = Categorical::<24>::from_counts(&weights).unwrap();
        let lookup = model.clone().into_lookup();
        let mut rng = SplitMix64(11);
        let message: Vec<usize> = (0..2_000_000).map(|_| sample(model.cdf(), &mut rng)).collect();
        let ideal = cross_entropy_bits(model.cdf(), 24, &message);
        let mut fixed = RangeEncoder::new();
        let mut per_symbol = RangeEncoder::new();
        for &s in &message {
            fixed.encode(s, &lookup).unwrap();
            per_symbol.encode(s, CdfRef::<24>::new(model.cdf()).unwrap()).unwrap();
        }
        let (fixed, per_symbol) = (fixed.finish(), per_symbol.finish());
        assert_eq!(fixed, per_symbol);
        let overhead = (fixed.len() * 8) as f64 / ideal - 1.0;
        eprintln!(
            "range: {} bytes, ideal {:.0} bytes ({:.3} bits/symbol), overhead {:+.5}%",
            fixed.len(),
            ideal / 8.0,
            ideal / message.len() as f64,
            overhead * 100.0
        );
        assert!(overhead < 0.0005, "overhead {overhead}");
        let mut decoder = RangeDecoder::new(&fixed).unwrap();
        for &s in &message {
            assert_eq!(decoder.decode(&lookup).unwrap(), s);
        }
    }
}
