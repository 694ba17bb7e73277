//! The sample value map (`VMAP` section, spec/FORMAT.md §4.8): the sorted
//! list of the values an image's samples take, when they take few of the
//! values `0..=maxval` (a 16-bit image holding 8- or 12-bit data, an image
//! whose histogram was stretched). The frame's modelled stripes then code
//! each sample as its index in the list, as an image of `maxval = count − 1`,
//! which is dense again; the content (and every checksum) stays the samples
//! themselves.
//!
//! The list travels as `count` varints, the first value then each gap less
//! one, stored or coded like an image's restore data ([`RestoreCoding`]).
//! This crate parses and checks the section and the decoded list; decoding a
//! coded list needs the codec's `cm` model.

use crate::error::{Error, Offset, Result};
use crate::header::Cursor;
use crate::image::{ImageInfo, RestoreCoding};
use crate::varint;

/// Largest encoded list: `count` varints of values below 2^16, each at most
/// three bytes.
pub const MAX_VALUE_LIST_BYTES: u64 = 3 * 65_535;

/// The `VMAP` section: the values an image frame's samples take.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ValueMap {
    /// Number of values, 2..=maxval (at least one value of `0..=maxval` is
    /// unused, and the indices `0..count` need a `maxval` of at least 1).
    pub count: u32,
    /// How `list` is stored.
    pub coding: RestoreCoding,
    /// Length of the encoded list once decoded (bytes).
    pub list_len: u64,
    /// The encoded list ([`ValueMap::encode_list`]), coded as `coding` says.
    pub list: Vec<u8>,
}

impl ValueMap {
    /// The encoded list of `values` (strictly increasing): the first value,
    /// then `v[i] − v[i−1] − 1` for each next one, as varints. `None` when the
    /// values are not strictly increasing.
    pub fn encode_list(values: &[u16]) -> Option<Vec<u8>> {
        let mut out = Vec::with_capacity(values.len());
        let mut prev: Option<u16> = None;
        for &v in values {
            let gap = match prev {
                None => u64::from(v),
                Some(p) if v > p => u64::from(v - p - 1),
                Some(_) => return None,
            };
            varint::put(&mut out, gap);
            prev = Some(v);
        }
        Some(out)
    }

    /// The values of a decoded list, checked against the section and the
    /// image: exactly `count` canonical varints filling `list` (which must be
    /// `list_len` bytes), strictly increasing, the last at most `maxval`.
    /// `offset` is the section's, for errors.
    pub fn values(&self, list: &[u8], maxval: u16, offset: Offset) -> Result<Vec<u16>> {
        let malformed = |what| Error::malformed(what, offset);
        if list.len() as u64 != self.list_len {
            return Err(malformed("value map list length differs from the section's"));
        }
        // The list may be a decoded one, whose positions are not the file's:
        // every error names the section's offset.
        let mut p = Cursor { buf: list, pos: 0, base: 0 };
        let mut values = Vec::with_capacity(self.count as usize);
        let mut next: u64 = 0;
        for _ in 0..self.count {
            let step = p
                .varint()
                .map_err(|_| malformed("value map list ends inside a value or holds a bad varint"))?;
            let v = next.checked_add(step).filter(|&v| v <= u64::from(maxval));
            let v = v.ok_or_else(|| malformed("value map value above the image's maxval"))?;
            values.push(v as u16);
            next = v + 1;
        }
        if !p.is_empty() {
            return Err(malformed("value map list has bytes after its last value"));
        }
        Ok(values)
    }

    /// Check the section against the image it maps (§4.8).
    pub fn validate(&self, image: &ImageInfo) -> Result<()> {
        if self.count < 2 || self.count > u32::from(image.maxval) {
            return Err(Error::InvalidInput("value map count must be in 2..=maxval"));
        }
        if self.list_len < u64::from(self.count) || self.list_len > MAX_VALUE_LIST_BYTES {
            return Err(Error::InvalidInput("value map list length out of range for its count"));
        }
        match self.coding {
            RestoreCoding::Raw if self.list.len() as u64 != self.list_len => {
                Err(Error::InvalidInput("a raw value map list must have list_len bytes"))
            }
            RestoreCoding::Cm { level } if !(1..=9).contains(&level) => {
                Err(Error::InvalidInput("value map cm level must be in 1..=9"))
            }
            _ => Ok(()),
        }
    }

    /// Serialise the `VMAP` payload for `image`.
    pub fn encode(&self, image: &ImageInfo) -> Result<Vec<u8>> {
        self.validate(image)?;
        let mut out = Vec::with_capacity(16 + self.list.len());
        varint::put(&mut out, u64::from(self.count));
        crate::image::put_coding(&mut out, self.coding);
        varint::put(&mut out, self.list_len);
        out.extend_from_slice(&self.list);
        Ok(out)
    }

    /// Parse a `VMAP` payload found at `offset` in a frame describing `image`.
    pub(crate) fn decode(payload: &[u8], image: &ImageInfo, offset: Offset) -> Result<Self> {
        let mut p = Cursor { buf: payload, pos: 0, base: offset };
        let count = p.varint()?;
        let coding = crate::image::get_coding(&mut p, "value map")?;
        let list_len = p.varint()?;
        let map = ValueMap {
            count: u32::try_from(count).unwrap_or(u32::MAX),
            coding,
            list_len,
            list: p.rest().to_vec(),
        };
        map.validate(image).map_err(|e| match e {
            Error::InvalidInput(what) => Error::malformed(what, offset),
            other => other,
        })?;
        Ok(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::{ColorType, SourceFormat};

    fn image(maxval: u16) -> ImageInfo {
        ImageInfo {
            width: 4,
            height: 2,
            color: ColorType::Gray,
            maxval,
            stripe_rows: 2,
            source: SourceFormat::Pnm,
            restore_coding: RestoreCoding::Raw,
            restore_len: 0,
            restore: Vec::new(),
        }
    }

    fn raw(values: &[u16]) -> ValueMap {
        let list = ValueMap::encode_list(values).unwrap();
        ValueMap { count: values.len() as u32, coding: RestoreCoding::Raw, list_len: list.len() as u64, list }
    }

    #[test]
    fn list_roundtrip() {
        for values in [&[0u16, 255][..], &[3, 4, 5, 200], &[0, 256, 512, 65280], &[1000, 65535]] {
            let map = raw(values);
            let img = image(u16::MAX);
            let p = map.encode(&img).unwrap();
            let back = ValueMap::decode(&p, &img, 0).unwrap();
            assert_eq!(back, map);
            assert_eq!(back.values(&back.list, img.maxval, 0).unwrap(), values);
        }
        assert_eq!(ValueMap::encode_list(&[0, 16, 32]).unwrap(), [0, 15, 15]);
        assert!(ValueMap::encode_list(&[5, 5]).is_none());
        assert!(ValueMap::encode_list(&[5, 4]).is_none());
    }

    #[test]
    fn rejects_bad_maps() {
        let img = image(255);
        // Counts: at least 2, at most maxval.
        assert!(raw(&[7]).encode(&img).is_err());
        let all: Vec<u16> = (0..=255).collect();
        assert!(raw(&all).encode(&img).is_err());
        assert!(raw(&all[..255]).encode(&img).is_ok());
        // A list shorter than its count, or of another length than declared.
        let mut m = raw(&[1, 2, 3]);
        m.list_len = 2;
        m.list.truncate(2);
        assert!(m.encode(&img).is_err());
        let mut m = raw(&[1, 2, 3]);
        m.list_len = 4;
        assert!(m.encode(&img).is_err());
        // Values beyond maxval, too few or too many varints.
        let m = raw(&[1, 300]);
        assert!(m.values(&m.list, 255, 0).is_err());
        let mut m = raw(&[1, 2, 3]);
        m.list.push(0);
        m.list_len += 1;
        assert!(m.values(&m.list, 255, 0).is_err(), "a fourth value");
        let m = raw(&[1, 2, 3]);
        assert!(m.values(&m.list[..2], 255, 0).is_err());
        // A gap that overflows.
        let mut list = vec![0xFF, 0xFF, 0x03];
        list.extend_from_slice(&[0xFF, 0xFF, 0x03]);
        let m = ValueMap { count: 2, coding: RestoreCoding::Raw, list_len: 6, list };
        assert!(m.values(&m.list, u16::MAX, 0).is_err());
        // A decoded list that ends inside a varint: the error names the
        // section's offset, not a position past it (the list need not be the
        // file's bytes).
        let m = ValueMap { count: 2, coding: RestoreCoding::Cm { level: 3 }, list_len: 3, list: vec![] };
        match m.values(&[1, 0x80, 0x80], 255, 40) {
            Err(Error::Malformed { offset, .. }) => assert_eq!(offset, 40),
            other => panic!("{other:?}"),
        }
        // Every truncation of a valid payload is an error, never a panic.
        let p = raw(&[0, 64, 128, 192]).encode(&img).unwrap();
        for n in 0..p.len() {
            assert!(ValueMap::decode(&p[..n], &img, 0).is_err(), "{n}");
        }
    }
}
