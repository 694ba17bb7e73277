//! Binary (bit) coding: the interface between bitwise models (context mixing)
//! and the coders.
//!
//! A bit's probability is an integer `p1` in `1..=65535`: P(bit = 1) = p1 / 2^16.
//! Both values of the bit therefore always have a nonzero frequency.
//!
//! The coders here feed each bit to constriction through [`BitModel`], a
//! two-symbol `EntropyModel<16>` that is a single integer (built per bit, no
//! allocation):
//!
//! - [`RangeBitEncoder`] / [`RangeBitDecoder`]: range coding, bits in order.
//! - [`AnsBitEncoder`] / [`AnsBitDecoder`]: ANS. The encoder buffers the
//!   `(bit, p1)` pairs (4 bytes a bit) and pushes them onto the ANS stack in
//!   reverse at [`finish`](AnsBitEncoder::finish), so the decoder pops them in
//!   the order they were encoded: to the model, both coders look the same.
//! - [`CostCounter`]: sums the ideal code length, to measure a model.
//!
//! `p1 = 0` is outside the contract; every coder here treats it as `p1 = 1`
//! (on both sides), so such a model bug costs bits, never correctness.
//!
//! Streams are constriction's `u32` words, each little-endian (see
//! [`super`]). The categorical coders ([`super::RangeEncoder`],
//! [`super::AnsEncoder`], ...) also implement these traits and write the same
//! bytes for the same bits, so bits and symbols can share one stream.
//!
//! # Example
//!
//! ```
//! use nzip_codec::entropy::binary::{BitDecode, BitEncode, RangeBitDecoder, RangeBitEncoder};
//!
//! let bits = [(true, 60000u16), (false, 60000), (true, 1), (false, 65535)];
//! let mut encoder = RangeBitEncoder::new();
//! for &(bit, p1) in &bits {
//!     encoder.encode_bit(bit, p1);
//! }
//! let bytes = encoder.finish();
//!
//! let mut decoder = RangeBitDecoder::new(&bytes)?;
//! for &(bit, p1) in &bits {
//!     assert_eq!(decoder.decode_bit(p1)?, bit);
//! }
//! # Ok::<(), nzip_codec::entropy::EntropyError>(())
//! ```

use super::{bytes_to_words, words_to_bytes, EntropyError};
use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel};
use constriction::stream::queue::{DefaultRangeDecoder, DefaultRangeEncoder};
use constriction::stream::stack::DefaultAnsCoder;
use constriction::stream::{Decode, Encode};
use core::borrow::Borrow;
use core::num::NonZeroU32;

/// Precision, in bits, of the probabilities passed to [`BitEncode`] / [`BitDecode`].
pub const BIT_PRECISION: u32 = 16;

/// Something that consumes bits with their model probabilities (an encoder, or a
/// cost counter).
pub trait BitEncode {
    /// Code `bit` under P(bit = 1) = `p1` / 2^16, with `p1` in `1..=65535`.
    fn encode_bit(&mut self, bit: bool, p1: u16);
}

/// Something that produces bits given their model probabilities (a decoder).
pub trait BitDecode {
    /// Decode one bit coded under P(bit = 1) = `p1` / 2^16, with `p1` in `1..=65535`.
    fn decode_bit(&mut self, p1: u16) -> Result<bool, super::EntropyError>;
}

/// [`BIT_PRECISION`] as constriction's const generic.
pub(crate) const BITS: usize = BIT_PRECISION as usize;

/// The two-symbol distribution of one bit at 16-bit precision: P(1) = `p1` / 2^16.
///
/// `false` owns the quantiles `0..2^16 - p1` and `true` the quantiles
/// `2^16 - p1..2^16` (this fixes the coded bytes). Implements constriction's
/// [`EncoderModel`] and [`DecoderModel`] for `PRECISION = 16` with `bool`
/// symbols, so it also works with constriction's coders directly.
///
/// # Example
///
/// ```
/// use constriction::stream::model::EncoderModel;
/// use nzip_codec::entropy::BitModel;
///
/// let model = BitModel::new(0x4000); // P(1) = 1/4
/// let (left, freq) = model.left_cumulative_and_probability(true).unwrap();
/// assert_eq!((left, freq.get()), (0xC000, 0x4000));
/// assert_eq!(BitModel::new(0), BitModel::new(1)); // p1 = 0 is taken as 1
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BitModel {
    /// Frequency of `false`: `2^16 - p1`, in `1..=65535`.
    p0: u32,
}

impl BitModel {
    /// The model with P(bit = 1) = `p1` / 2^16; `p1 = 0` is taken as 1.
    #[inline(always)]
    pub fn new(p1: u16) -> Self {
        BitModel { p0: (1 << BITS) - u32::from(p1.max(1)) }
    }

    /// P(bit = 1) times 2^16, in `1..=65535`.
    pub fn p1(&self) -> u16 {
        // `p0` is in `1..=65535`, so this is too.
        ((1 << BITS) - self.p0) as u16
    }
}

impl EntropyModel<BITS> for BitModel {
    type Symbol = bool;
    type Probability = u32;
}

impl EncoderModel<BITS> for BitModel {
    #[inline(always)]
    fn left_cumulative_and_probability(&self, bit: impl Borrow<bool>) -> Option<(u32, NonZeroU32)> {
        // Both frequencies are in `1..=65535`, so `NonZeroU32::new` never fails.
        if *bit.borrow() {
            NonZeroU32::new((1 << BITS) - self.p0).map(|f| (self.p0, f))
        } else {
            NonZeroU32::new(self.p0).map(|f| (0, f))
        }
    }
}

impl DecoderModel<BITS> for BitModel {
    #[inline(always)]
    fn quantile_function(&self, quantile: u32) -> (bool, u32, NonZeroU32) {
        // `p0` and `2^16 - p0` are in `1..=65535`; the fallbacks are unreachable.
        if quantile < self.p0 {
            (false, 0, NonZeroU32::new(self.p0).unwrap_or(NonZeroU32::MIN))
        } else {
            (true, self.p0, NonZeroU32::new((1 << BITS) - self.p0).unwrap_or(NonZeroU32::MIN))
        }
    }
}

/// Range-codes bits (constriction's queue coder: the decoder reads them in
/// the same order). This is the categorical [`super::RangeEncoder`], whose
/// [`BitEncode`] impl codes each bit with a [`BitModel`]; bits and symbols can
/// share one stream. See the [module example](self).
pub type RangeBitEncoder = super::RangeEncoder;

/// Decodes bits written by [`RangeBitEncoder`]: the categorical
/// [`super::RangeDecoder`]. Any input is safe: a corrupt or truncated stream
/// gives wrong bits or [`EntropyError::InvalidData`], never a panic.
pub type RangeBitDecoder = super::RangeDecoder;

/// Range-codes one bit; shared with [`super::RangeEncoder`].
#[inline(always)]
pub(crate) fn range_encode_bit(coder: &mut DefaultRangeEncoder, bit: bool, p1: u16) {
    // Cannot fail: both symbols of a `BitModel` have a nonzero frequency, and
    // the `Vec` backend cannot fail to grow (short of aborting on OOM).
    let _ = coder.encode_symbol(bit, BitModel::new(p1));
}

/// Range-decodes one bit; shared with [`super::RangeDecoder`].
#[inline(always)]
pub(crate) fn range_decode_bit(coder: &mut DefaultRangeDecoder, p1: u16) -> Result<bool, EntropyError> {
    coder
        .decode_symbol(BitModel::new(p1))
        .map_err(|_| EntropyError::InvalidData("range-coded bits are corrupt or truncated"))
}

/// A constriction range decoder over little-endian words.
pub(crate) fn range_decoder(bytes: &[u8]) -> Result<DefaultRangeDecoder, EntropyError> {
    match DefaultRangeDecoder::from_compressed(bytes_to_words(bytes)?) {
        Ok(decoder) => Ok(decoder),
        Err(never) => match never {},
    }
}

/// Codes bits with ANS so that the decoder reads them in the order they were
/// encoded: it buffers `(bit, p1)` pairs (4 bytes per bit) and pushes them onto
/// constriction's ANS stack in reverse at [`finish`](Self::finish).
///
/// # Example
///
/// ```
/// use nzip_codec::entropy::binary::{AnsBitDecoder, AnsBitEncoder, BitDecode, BitEncode};
///
/// let mut encoder = AnsBitEncoder::new();
/// encoder.encode_bit(true, 100);
/// encoder.encode_bit(false, 30000);
/// let bytes = encoder.finish();
///
/// let mut decoder = AnsBitDecoder::new(&bytes)?;
/// assert!(decoder.decode_bit(100)?);
/// assert!(!decoder.decode_bit(30000)?);
/// assert!(decoder.is_empty()); // every coded bit was read back
/// # Ok::<(), nzip_codec::entropy::EntropyError>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AnsBitEncoder {
    /// `p1 | bit << 16` per bit, in coding order (`p1` already clamped to >= 1).
    pending: Vec<u32>,
}

impl AnsBitEncoder {
    /// An empty encoder.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty encoder with room for `bits` bits before it reallocates.
    pub fn with_capacity(bits: usize) -> Self {
        AnsBitEncoder { pending: Vec::with_capacity(bits) }
    }

    /// The number of bits buffered so far.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// True when no bit has been buffered.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Codes the buffered bits and returns the stream (a multiple of 4 bytes;
    /// empty if no bit was coded).
    pub fn finish(self) -> Vec<u8> {
        let mut coder = DefaultAnsCoder::new();
        for &packed in self.pending.iter().rev() {
            // Cannot fail: see `range_encode_bit`.
            let _ = coder.encode_symbol(packed >> 16 != 0, BitModel::new(packed as u16));
        }
        let words = match coder.into_compressed() {
            Ok(words) => words,
            Err(never) => match never {},
        };
        words_to_bytes(&words)
    }
}

impl BitEncode for AnsBitEncoder {
    #[inline]
    fn encode_bit(&mut self, bit: bool, p1: u16) {
        self.pending.push(u32::from(p1) | u32::from(bit) << 16);
    }
}

/// Decodes bits written by [`AnsBitEncoder`], in the order they were encoded.
///
/// ANS decodes any bit string, so a corrupt stream gives wrong bits, not an
/// error (the container's checksum catches it); decoding past the end gives
/// bits too. It never panics.
#[derive(Debug, Clone)]
pub struct AnsBitDecoder {
    inner: DefaultAnsCoder,
}

impl AnsBitDecoder {
    /// A decoder over `bytes` (copied).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidData`] if the length is not a multiple of 4, or
    /// the last word is zero (an ANS encoder never writes that).
    pub fn new(bytes: &[u8]) -> Result<Self, EntropyError> {
        Ok(AnsBitDecoder { inner: ans_decoder(bytes)? })
    }

    /// True when the stack is back to the empty state: after decoding every
    /// coded bit of an intact stream, this is true (a cheap consistency check;
    /// it can be true by chance on a corrupt stream too).
    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }
}

/// A constriction ANS coder over little-endian words.
pub(crate) fn ans_decoder(bytes: &[u8]) -> Result<DefaultAnsCoder, EntropyError> {
    DefaultAnsCoder::from_compressed(bytes_to_words(bytes)?)
        .map_err(|_| EntropyError::InvalidData("ANS data ends with a zero word"))
}

/// ANS-decodes one bit; shared with [`super::AnsDecoder`] and [`super::AnsStack`].
#[inline(always)]
pub(crate) fn ans_decode_bit(coder: &mut DefaultAnsCoder, p1: u16) -> Result<bool, EntropyError> {
    // The ANS decoder's errors are `Infallible` (it decodes any bit string).
    coder.decode_symbol(BitModel::new(p1)).map_err(|_| EntropyError::InvalidData("ANS decoding failed"))
}

impl BitDecode for AnsBitDecoder {
    #[inline]
    fn decode_bit(&mut self, p1: u16) -> Result<bool, EntropyError> {
        ans_decode_bit(&mut self.inner, p1)
    }
}

/// A [`BitEncode`] that codes nothing and sums the ideal code length,
/// `-log2(P(bit))` bits per bit, to measure a model.
///
/// It uses `f64` and `log2`, which is fine for measuring but *not* part of the
/// probability path: `log2` may differ in the last place between platforms, so
/// do not base a decision that changes the coded bytes on a fine comparison of
/// its result (compare actual coded sizes instead).
///
/// # Example
///
/// ```
/// use nzip_codec::entropy::binary::{BitEncode, CostCounter};
///
/// let mut cost = CostCounter::new();
/// cost.encode_bit(true, 32768); // 1 bit
/// cost.encode_bit(false, 49152); // P(0) = 1/4: 2 bits
/// assert_eq!(cost.bits(), 3.0);
/// assert_eq!(cost.count(), 2);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct CostCounter {
    bits: f64,
    count: u64,
}

impl CostCounter {
    /// A counter at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// The ideal code length of the bits seen so far, in bits.
    pub fn bits(&self) -> f64 {
        self.bits
    }

    /// The ideal code length in bytes (`bits() / 8`).
    pub fn bytes(&self) -> f64 {
        self.bits / 8.0
    }

    /// The number of bits seen so far.
    pub fn count(&self) -> u64 {
        self.count
    }
}

impl BitEncode for CostCounter {
    #[inline]
    fn encode_bit(&mut self, bit: bool, p1: u16) {
        let p1 = u32::from(p1.max(1));
        let freq = if bit { p1 } else { (1 << BITS) - p1 };
        self.bits += BIT_PRECISION as f64 - f64::from(freq).log2();
        self.count += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::test_util::{bit_cost, SplitMix64};
    use proptest::prelude::*;

    fn roundtrip(bits: &[(bool, u16)]) {
        let mut range = RangeBitEncoder::new();
        let mut ans = AnsBitEncoder::new();
        for &(bit, p1) in bits {
            range.encode_bit(bit, p1);
            ans.encode_bit(bit, p1);
        }
        assert_eq!(ans.len(), bits.len());
        let predicted = range.num_bytes();
        let range = range.finish();
        assert_eq!(range.len(), predicted);
        let ans = ans.finish();
        let mut rd = RangeBitDecoder::new(&range).unwrap();
        let mut ad = AnsBitDecoder::new(&ans).unwrap();
        for (i, &(bit, p1)) in bits.iter().enumerate() {
            assert_eq!(rd.decode_bit(p1).unwrap(), bit, "range, bit {i}");
            assert_eq!(ad.decode_bit(p1).unwrap(), bit, "ans, bit {i}");
        }
        assert!(ad.is_empty());
    }

    #[test]
    fn empty_stream() {
        assert!(RangeBitEncoder::new().finish().is_empty());
        assert!(AnsBitEncoder::new().finish().is_empty());
        roundtrip(&[]);
    }

    #[test]
    fn extremes() {
        // Certain bits at both extremes, then the least likely ones.
        let mut bits = vec![(true, 65535u16); 1000];
        bits.extend(vec![(false, 1u16); 1000]);
        bits.extend(vec![(false, 65535u16); 50]);
        bits.extend(vec![(true, 1u16); 50]);
        bits.extend(vec![(true, 0u16); 10]); // out of contract: taken as 1
        roundtrip(&bits);
    }

    #[test]
    fn model_layout() {
        let m = BitModel::new(1);
        assert_eq!(m.p1(), 1);
        assert_eq!(m.quantile_function(65534), (false, 0, NonZeroU32::new(65535).unwrap()));
        assert_eq!(m.quantile_function(65535), (true, 65535, NonZeroU32::new(1).unwrap()));
        let m = BitModel::new(65535);
        assert_eq!(m.quantile_function(0), (false, 0, NonZeroU32::new(1).unwrap()));
        assert_eq!(m.quantile_function(1), (true, 1, NonZeroU32::new(65535).unwrap()));
    }

    #[test]
    fn rejects_bad_lengths() {
        for len in [1, 2, 3, 5, 7] {
            assert!(matches!(RangeBitDecoder::new(&vec![1; len]), Err(EntropyError::InvalidData(_))));
            assert!(matches!(AnsBitDecoder::new(&vec![1; len]), Err(EntropyError::InvalidData(_))));
        }
        assert!(AnsBitDecoder::new(&[1, 0, 0, 0, 0, 0, 0, 0]).is_err()); // trailing zero word
        assert!(RangeBitDecoder::new(&[]).is_ok());
        assert!(AnsBitDecoder::new(&[]).is_ok());
    }

    /// Long sequences with varying `p1` (a slowly drifting mix of skewed and
    /// balanced probabilities), bits drawn from `p1`.
    fn random_bits(n: usize, seed: u64) -> Vec<(bool, u16)> {
        let mut rng = SplitMix64(seed);
        (0..n)
            .map(|i| {
                let p1 = match (i / 4096) % 4 {
                    0 => 1 + rng.below(65535) as u16,
                    1 => 1 + rng.below(64) as u16,
                    2 => 65535 - rng.below(512) as u16,
                    _ => 20000 + rng.below(25000) as u16,
                };
                (rng.below(65536) < u64::from(p1), p1)
            })
            .collect()
    }

    /// 10M bits with varying `p1`: both coders within 0.05% of the ideal code
    /// length (the cross-entropy), and the `CostCounter` equals it.
    #[test]
    fn overhead_vs_cross_entropy() {
        let bits = random_bits(10_000_000, 1);
        let ideal: f64 = bits.iter().map(|&(b, p)| bit_cost(b, p)).sum();
        let mut counter = CostCounter::new();
        let mut range = RangeBitEncoder::new();
        let mut ans = AnsBitEncoder::with_capacity(bits.len());
        for &(bit, p1) in &bits {
            counter.encode_bit(bit, p1);
            range.encode_bit(bit, p1);
            ans.encode_bit(bit, p1);
        }
        assert!((counter.bits() - ideal).abs() < 1e-6 * ideal);
        let (range, ans) = (range.finish(), ans.finish());
        for (name, bytes) in [("range", &range), ("ans", &ans)] {
            let overhead = (bytes.len() * 8) as f64 / ideal - 1.0;
            eprintln!(
                "{name}: {} bytes, ideal {:.0} bytes, overhead {:+.5}%",
                bytes.len(),
                ideal / 8.0,
                overhead * 100.0
            );
            assert!(overhead < 0.0005, "{name}: overhead {overhead}");
        }
        let mut rd = RangeBitDecoder::new(&range).unwrap();
        let mut ad = AnsBitDecoder::new(&ans).unwrap();
        for &(bit, p1) in &bits {
            assert_eq!(rd.decode_bit(p1).unwrap(), bit);
            assert_eq!(ad.decode_bit(p1).unwrap(), bit);
        }
        assert!(ad.is_empty());
    }

    fn bit_strategy() -> impl Strategy<Value = (bool, u16)> {
        (any::<bool>(), prop_oneof![Just(1u16), Just(65535u16), 1u16..=65535, 1u16..64, 65472u16..=65535])
    }

    proptest! {
        #[test]
        fn roundtrip_random(bits in prop::collection::vec(bit_strategy(), 0..2000)) {
            roundtrip(&bits);
        }

        /// Arbitrary bytes (any length, so also the rejected ones) and
        /// arbitrary `p1` sequences: an error or some bits, never a panic.
        #[test]
        fn garbage_never_panics(
            bytes in prop::collection::vec(any::<u8>(), 0..200),
            p1s in prop::collection::vec(any::<u16>(), 0..500),
        ) {
            if let Ok(mut d) = RangeBitDecoder::new(&bytes) {
                for &p1 in &p1s {
                    if d.decode_bit(p1).is_err() {
                        break;
                    }
                }
            }
            if let Ok(mut d) = AnsBitDecoder::new(&bytes) {
                for &p1 in &p1s {
                    d.decode_bit(p1).unwrap();
                }
            }
        }

        /// A valid stream, truncated or with one byte flipped, then decoded
        /// further than it was encoded: never a panic.
        #[test]
        fn damaged_streams_never_panic(
            bits in prop::collection::vec(bit_strategy(), 1..500),
            cut in any::<prop::sample::Index>(),
            flip in any::<prop::sample::Index>(),
            mask in 1u8..,
        ) {
            let mut range = RangeBitEncoder::new();
            let mut ans = AnsBitEncoder::new();
            for &(bit, p1) in &bits {
                range.encode_bit(bit, p1);
                ans.encode_bit(bit, p1);
            }
            for bytes in [range.finish(), ans.finish()] {
                if bytes.is_empty() {
                    continue; // ANS codes near-certain bits from its initial state in 0 bytes
                }
                let mut damaged = vec![bytes[..cut.index(bytes.len()) / 4 * 4].to_vec(), bytes.clone()];
                let i = flip.index(bytes.len());
                damaged[1][i] ^= mask;
                for data in &damaged {
                    if let Ok(mut d) = RangeBitDecoder::new(data) {
                        for &(_, p1) in bits.iter().chain(&bits) {
                            if d.decode_bit(p1).is_err() {
                                break;
                            }
                        }
                    }
                    if let Ok(mut d) = AnsBitDecoder::new(data) {
                        for &(_, p1) in bits.iter().chain(&bits) {
                            d.decode_bit(p1).unwrap();
                        }
                    }
                }
            }
        }
    }
}
