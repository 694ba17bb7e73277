//! Unsigned LEB128 integers, canonical form only (spec/FORMAT.md §2.2).
//!
//! Seven bits per byte, least significant group first, the high bit set on all
//! but the last byte. At most 10 bytes; the last byte of a multi-byte varint
//! must be nonzero, so every value has exactly one encoding. This keeps a
//! single bit flip in a length field from silently meaning the same thing.

use crate::error::{Error, Offset, Result};

/// The most bytes a varint may take.
pub const MAX_VARINT_LEN: usize = 10;

/// Append the canonical encoding of `v` to `out`.
pub fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The encoded length of `v` in bytes (1..=10).
pub fn len(v: u64) -> usize {
    let bits = 64 - v.max(1).leading_zeros() as usize;
    bits.div_ceil(7)
}

/// Decode a varint from the front of `buf`, returning the value and the bytes
/// used. `offset` is the stream offset of `buf[0]`, for error messages.
pub fn get(buf: &[u8], offset: Offset) -> Result<(u64, usize)> {
    let mut value: u64 = 0;
    for (i, &byte) in buf.iter().enumerate().take(MAX_VARINT_LEN) {
        let group = u64::from(byte & 0x7F);
        // The 10th byte may carry only the top bit of a u64 (bit 63).
        if i == MAX_VARINT_LEN - 1 && byte > 1 {
            return Err(Error::malformed("varint overflows 64 bits", offset));
        }
        value |= group << (7 * i);
        if byte & 0x80 == 0 {
            if i > 0 && byte == 0 {
                return Err(Error::malformed("varint is not in canonical (shortest) form", offset));
            }
            return Ok((value, i + 1));
        }
    }
    if buf.len() < MAX_VARINT_LEN {
        Err(Error::malformed("varint runs past the end of its field", offset))
    } else {
        Err(Error::malformed("varint longer than 10 bytes", offset))
    }
}

/// Read a varint from a byte-at-a-time source, for section lengths read off a
/// stream. Returns the value and the encoded bytes (which the section CRC covers).
pub fn read<R: std::io::Read>(r: &mut R, offset: Offset) -> Result<(u64, Vec<u8>)> {
    let mut bytes = Vec::with_capacity(MAX_VARINT_LEN);
    loop {
        let mut b = [0u8; 1];
        r.read_exact(&mut b).map_err(|e| Error::from_read(e, offset + bytes.len() as u64))?;
        bytes.push(b[0]);
        if b[0] & 0x80 == 0 || bytes.len() == MAX_VARINT_LEN {
            break;
        }
    }
    let (v, _) = get(&bytes, offset)?;
    Ok((v, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_encodings() {
        let cases: &[(u64, &[u8])] = &[
            (0, &[0]),
            (1, &[1]),
            (127, &[0x7F]),
            (128, &[0x80, 0x01]),
            (300, &[0xAC, 0x02]),
            (u64::MAX, &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01]),
        ];
        for &(v, enc) in cases {
            let mut out = Vec::new();
            put(&mut out, v);
            assert_eq!(out, enc, "encoding of {v}");
            assert_eq!(len(v), enc.len());
            assert_eq!(get(enc, 0).unwrap(), (v, enc.len()));
        }
    }

    #[test]
    fn rejects_non_canonical_overlong_and_overflow() {
        assert!(get(&[0x80, 0x00], 0).is_err());
        assert!(get(&[0x81, 0x80, 0x00], 0).is_err());
        assert!(get(&[0xFF; 11], 0).is_err());
        assert!(get(&[0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x02], 0).is_err());
        assert!(get(&[0x80], 0).is_err());
        assert!(get(&[], 0).is_err());
    }

    proptest! {
        #[test]
        fn round_trip(v: u64, tail in proptest::collection::vec(any::<u8>(), 0..4)) {
            let mut out = Vec::new();
            put(&mut out, v);
            let n = out.len();
            prop_assert_eq!(n, len(v));
            out.extend_from_slice(&tail);
            prop_assert_eq!(get(&out, 0).unwrap(), (v, n));
            let (rv, bytes) = read(&mut &out[..], 0).unwrap();
            prop_assert_eq!(rv, v);
            prop_assert_eq!(bytes.len(), n);
        }

        #[test]
        fn arbitrary_bytes_never_panic(buf in proptest::collection::vec(any::<u8>(), 0..12)) {
            if let Ok((v, n)) = get(&buf, 0) {
                let mut out = Vec::new();
                put(&mut out, v);
                prop_assert_eq!(&out[..], &buf[..n]);
            }
        }
    }
}
