//! # Context mixing for any bytes (`cm`)
//!
//! The adaptive byte model that every file can use: a bitwise context-mixing
//! model in the PAQ lineage, closest to Matt Mahoney's **lpaq1** (2007), with
//! ideas from paq8 and zpaq (ICM/ISSE/MIX/APM). Nothing is learned offline: the
//! model starts from one fixed state for every chunk and learns as it codes.
//!
//! Each byte is coded as 8 binary decisions, most significant bit first. For
//! every bit:
//! 1. **Contexts.** Order 0 and order 1 index small direct tables; orders 2..=8,
//!    word and sparse contexts (which depend on the level) are hashed once per
//!    byte and looked up twice per byte in a table of 16-byte nibble buckets.
//! 2. **Bit histories.** Each context slot holds a one-byte bit-history state
//!    (discounted counts of 0s and 1s, and the last bit of short mixed
//!    histories); a [`adaptive::StateMap`] per context turns a state into a
//!    probability, learning from the bits that follow that state.
//! 3. **Match model.** At levels >= 2, the longest recent repeat of the last
//!    few bytes predicts the next byte; its inputs grow with the match length.
//! 4. **Mixer.** The stretched probabilities are combined by a gated linear
//!    network in the logit domain whose weights are selected by the partial
//!    byte (and, at levels 8 and 9, by the match state and the number of known
//!    contexts in a second selector, joined by a final mixer).
//! 5. **APM/SSE.** One or two adaptive probability maps refine the mixer's
//!    output given the partial byte and an order-2 hash; their outputs are
//!    averaged with the mixer's.
//!
//! ## Integer rules
//!
//! The probability path is integer only: probabilities are integers in
//! 1/65536 (or 1/2^22 inside state maps), logits are integers in 1/256 nat,
//! `squash` and `stretch` are tables computed at compile time by integer
//! `const fn`s ([`tables`]), mixer weights are 16.16 fixed point, and every
//! rate is a shift or an integer reciprocal. Hashing is wrapping 64-bit integer
//! arithmetic. Table sizes depend only on the level. Hence the coded bits are
//! the same on every machine and for any thread count. `MODEL.md` in this
//! folder defines the model exactly; any change to the output for a given
//! level needs a new method id.
//!
//! ## Extending
//!
//! Later models (a neural LM with context-mixing side models) reuse the
//! pieces: [`adaptive::StateMap`], [`adaptive::Apm`], [`mixer::Mixer`],
//! [`hash::HashTable`] and [`match_model::MatchModel`] are independent, and
//! [`Model`] shows how they are wired.
//!
//! ## Levels
//!
//! Levels outside [`MIN_LEVEL`]..=[`MAX_LEVEL`] are **clamped** into that range
//! (the pipeline validates levels before they get here).

pub mod adaptive;
pub mod config;
pub mod hash;
pub mod match_model;
pub mod mixer;
mod model;
pub mod tables;

#[cfg(test)]
mod tests;

pub use model::Model;

use crate::entropy::binary::{BitDecode, BitEncode};
use crate::entropy::EntropyError;

/// The fastest level.
pub const MIN_LEVEL: u8 = 1;
/// The strongest level.
pub const MAX_LEVEL: u8 = 9;

/// Compress `data` bit by bit (MSB first within each byte) into `enc` at
/// `level` (clamped to 1..=9). The model starts from its fixed initial state.
pub fn encode<E: BitEncode>(data: &[u8], level: u8, enc: &mut E) {
    let mut m = Model::new(level);
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
/// bytes decoded before the error.
pub fn decode<D: BitDecode>(len: usize, level: u8, dec: &mut D, out: &mut Vec<u8>) -> Result<(), EntropyError> {
    let mut m = Model::new(level);
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
/// needs. Tables are allocated zeroed, so pages that a small chunk never
/// touches are usually not resident.
pub fn memory_bytes(level: u8) -> usize {
    Model::memory(level)
}
