//! # Context mixing for any bytes (`cm`)
//!
//! The adaptive byte model that every file can use: a bitwise context-mixing
//! model in the PAQ lineage, closest to Matt Mahoney's **lpaq1** (2007), with
//! ideas from paq8 and zpaq (bit-history states, indirect maps, mixer
//! selection, APM/SSE). Nothing is learned offline: each call starts from one
//! fixed state and the model learns as it codes.
//!
//! Each byte is coded as 8 binary decisions, most significant bit first. For
//! every bit:
//! 1. **Contexts.** Order 1 (and, from level 3, order 0) index direct tables;
//!    orders 2..=8, word and sparse contexts (by level) are hashed once per
//!    byte and looked up twice per byte in a table of 16-byte nibble buckets
//!    ([`hash::HashTable`]).
//! 2. **Bit histories.** Each context slot holds a one-byte bit-history state
//!    (discounted counts of 0s and 1s, plus the last bit of short mixed
//!    histories; [`tables::NEXT`]); a [`adaptive::HistoryMap`] per context
//!    turns a state into a probability, learning from the bits that follow it.
//! 3. **Match model.** From level 3, the most recent repeat of the last 7
//!    bytes predicts the next byte ([`match_model::MatchModel`]).
//! 4. **Mixer.** The stretched probabilities are combined by a gated linear
//!    network in the logit domain whose weight set is chosen by the partial
//!    byte; levels 7..=9 add a second weight selector (match state × known
//!    contexts) and a final mixer ([`mixer::Mixer`]).
//! 5. **APM/SSE.** From level 2, one or two adaptive probability maps refine
//!    the mixer's output given the partial byte and the previous byte
//!    ([`adaptive::Apm`]); their outputs are averaged with the mixer's.
//!
//! ## Integer rules
//!
//! The probability path is integer only: probabilities are integers in
//! 1/65536 (1/2^22 inside state maps), logits are integers in 1/256 nat,
//! `squash` and `stretch` are tables computed at compile time by integer
//! `const fn`s ([`tables`]), mixer weights are 16.16 fixed point, every rate is
//! a shift or an integer reciprocal, and hashing is wrapping 64-bit integer
//! arithmetic. Table sizes depend only on the level and the chunk length. Hence the
//! coded bits are the same on every machine and for any thread count.
//! spec/MODELS.md §3 defines the model exactly; any change to the output for a given
//! level needs a new method id.
//!
//! ## Levels
//!
//! Level 1 is the fastest (3 contexts, no match model, no APM), 6 the default
//! (7 contexts, match model, 2 APMs, about 56 MiB), 9 the strongest (12
//! contexts, two-layer mixer, about 180 MiB); see [`config::config`] and
//! [`memory_bytes`]. Levels outside [`MIN_LEVEL`]..=[`MAX_LEVEL`] are
//! **clamped** into that range (the pipeline validates levels before they get
//! here).
//!
//! ## Extending
//!
//! Later models (a neural LM with context-mixing side models) can reuse the
//! pieces, which are independent: [`adaptive::StateMap`] /
//! [`adaptive::HistoryMap`] (context → adaptive probability),
//! [`adaptive::Apm`] (SSE), [`mixer::Mixer`] (any number of logit inputs up to
//! [`mixer::MAX_INPUTS`], several weight selectors, a final layer),
//! [`hash::HashTable`] and [`match_model::MatchModel`]; [`Model`] shows how
//! they are wired: inputs are written into [`mixer::Mixer::inputs_mut`], so an
//! extra predictor only adds inputs.
//!
//! ```
//! use nzip_codec::entropy::{RangeBitDecoder, RangeBitEncoder};
//! use nzip_codec::models::cm;
//!
//! let text = b"to be or not to be, that is the question; to be or not to be".repeat(4);
//! let mut enc = RangeBitEncoder::new();
//! cm::encode(&text, 6, &mut enc);
//! let bytes = enc.finish();
//! assert!(bytes.len() < text.len() / 3);
//!
//! let mut dec = RangeBitDecoder::new(&bytes)?;
//! let mut out = Vec::new();
//! cm::decode(text.len(), 6, &mut dec, &mut out)?;
//! assert_eq!(out, text);
//! # Ok::<(), nzip_codec::entropy::EntropyError>(())
//! ```

#![warn(missing_docs)]

pub mod adaptive;
pub mod config;
pub mod hash;
pub mod match_model;
pub mod mixer;
mod model;
pub mod prior;
pub mod tables;

#[cfg(test)]
mod tests;

pub use model::{Model, PriorParts, PRIOR_COUNT_CAP};
pub use prior::Prior;

use crate::entropy::binary::{BitDecode, BitEncode};
use crate::entropy::EntropyError;

/// The fastest level.
pub const MIN_LEVEL: u8 = 1;
/// The strongest level.
pub const MAX_LEVEL: u8 = 9;

/// A model of bits: the probability of the next bit, then the bit. The coding
/// loops of this module drive any such model (MSB first within each byte).
pub trait BitModel {
    /// P(next bit = 1) in 1/65536, in `1..=65535`.
    fn p(&mut self) -> u16;
    /// Learn the bit that followed the last [`BitModel::p`].
    fn update(&mut self, bit: bool);
}

impl<M: BitModel + ?Sized> BitModel for &mut M {
    #[inline]
    fn p(&mut self) -> u16 {
        (**self).p()
    }

    #[inline]
    fn update(&mut self, bit: bool) {
        (**self).update(bit);
    }
}

impl BitModel for Model {
    #[inline]
    fn p(&mut self) -> u16 {
        Model::p(self)
    }

    #[inline]
    fn update(&mut self, bit: bool) {
        Model::update(self, bit);
    }
}

/// Compress `data` bit by bit (MSB first within each byte) into `enc` at
/// `level` (clamped to 1..=9). The model starts from its fixed initial state,
/// with tables sized by the level and `data.len()` (see
/// [`config::config_for_len`]).
pub fn encode<E: BitEncode>(data: &[u8], level: u8, enc: &mut E) {
    encode_with(Model::new(level, data.len() as u64), data, enc);
}

/// Compress `data` into `enc` with the model `m` (for example
/// [`Model::new_v2`] or [`Prior::model`], made for `data.len()` bytes); the
/// decoder must start from the same model.
pub fn encode_with<M: BitModel, E: BitEncode>(mut m: M, data: &[u8], enc: &mut E) {
    for &byte in data {
        for k in (0..8).rev() {
            let bit = (byte >> k) & 1 != 0;
            enc.encode_bit(bit, m.p());
            m.update(bit);
        }
    }
}

/// Decode exactly `len` bytes coded by [`encode`] at the same `level`
/// (clamped to 1..=9), appending them to `out`.
///
/// Never panics, whatever bits `dec` returns: every bit string is a valid
/// input to the model. Errors of `dec` are passed on; `out` then holds the
/// bytes decoded before the error. The work is proportional to `len`, which
/// the caller must bound (the pipeline checks it against the chunk size before
/// calling); at most 16 MiB of `out` is reserved ahead of the decoded bytes.
pub fn decode<D: BitDecode>(
    len: usize,
    level: u8,
    dec: &mut D,
    out: &mut Vec<u8>,
) -> Result<(), EntropyError> {
    decode_with(Model::new(level, len as u64), len, dec, out)
}

/// Decode exactly `len` bytes coded by [`encode_with`] from the same starting
/// model, appending them to `out`; never panics, as [`decode`].
pub fn decode_with<M: BitModel, D: BitDecode>(
    mut m: M,
    len: usize,
    dec: &mut D,
    out: &mut Vec<u8>,
) -> Result<(), EntropyError> {
    // Reserve at most 16 MiB up front, so that a hostile length cannot make us
    // allocate more than the data we actually decode.
    out.reserve(len.min(1 << 24));
    for _ in 0..len {
        let mut c: u8 = 0;
        for _ in 0..8 {
            let bit = dec.decode_bit(m.p())?;
            m.update(bit);
            c = (c << 1) | u8::from(bit);
        }
        out.push(c);
    }
    Ok(())
}

/// Approximate memory in bytes that one model of `level` (clamped to 1..=9)
/// needs at most (inputs shorter than a few MiB get smaller tables). Tables are allocated zeroed, so pages that a small chunk never
/// touches are usually not resident.
pub fn memory_bytes(level: u8) -> usize {
    Model::memory(level)
}
