//! Binary (bit) coding: the interface between bitwise models (context mixing)
//! and the coders.
//!
//! A bit's probability is an integer `p1` in `1..=65535`: P(bit = 1) = p1 / 2^16.
//! Both values of the bit therefore always have a nonzero frequency.

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
