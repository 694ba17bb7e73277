//! The image description (`IMAG` section, spec/FORMAT.md §4.6): what a frame of
//! [`Medium::Image`] holds and how its content is laid out.
//!
//! The content of an image frame is the image's samples in the *canonical
//! layout*: rows top to bottom, pixels left to right, the channels of a pixel
//! in the order of [`ColorType`], each sample one byte when `maxval < 256` and
//! two bytes big-endian otherwise. Each chunk is a stripe of `stripe_rows`
//! whole rows (the last stripe may have fewer), so `chunk_size` is
//! `stripe_rows × row_bytes`.
//!
//! The description also carries an opaque *restore* blob (the PNG chunks or
//! PNM header that the codec needs to write the original file again); its
//! structure is defined by the `source` format in spec/FORMAT.md §4.7 and is
//! parsed by the codec, not here.

use crate::error::{Error, Offset, Result};
use crate::header::{Cursor, Header, Medium};
use crate::varint;
use std::fmt;

/// Largest payload of a row: a chunk holds at least one row and chunks are at
/// most 2^30 bytes.
pub const MAX_ROW_BYTES: u64 = 1 << 30;

/// The channels of each pixel (spec §4.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ColorType {
    /// One channel: luminance.
    Gray,
    /// Two channels: luminance, alpha.
    GrayAlpha,
    /// Three channels: red, green, blue.
    Rgb,
    /// Four channels: red, green, blue, alpha.
    Rgba,
    /// One channel: an index into a palette that the restore data carries
    /// (a PNG's `PLTE`).
    Indexed,
}

impl ColorType {
    /// The value written in the description.
    pub fn code(self) -> u8 {
        match self {
            ColorType::Gray => 0,
            ColorType::GrayAlpha => 1,
            ColorType::Rgb => 2,
            ColorType::Rgba => 3,
            ColorType::Indexed => 4,
        }
    }

    /// The colour type with this code, if any.
    pub fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            0 => ColorType::Gray,
            1 => ColorType::GrayAlpha,
            2 => ColorType::Rgb,
            3 => ColorType::Rgba,
            4 => ColorType::Indexed,
            _ => return None,
        })
    }

    /// Samples per pixel.
    pub fn channels(self) -> u8 {
        match self {
            ColorType::Gray | ColorType::Indexed => 1,
            ColorType::GrayAlpha => 2,
            ColorType::Rgb => 3,
            ColorType::Rgba => 4,
        }
    }

    /// True when the last channel is alpha.
    pub fn has_alpha(self) -> bool {
        matches!(self, ColorType::GrayAlpha | ColorType::Rgba)
    }
}

impl fmt::Display for ColorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColorType::Gray => "gray",
            ColorType::GrayAlpha => "gray+alpha",
            ColorType::Rgb => "rgb",
            ColorType::Rgba => "rgba",
            ColorType::Indexed => "indexed",
        })
    }
}

/// The file format the image came from, and is written back as (spec §4.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceFormat {
    /// PNG: the restore data holds its chunks other than `IHDR`, `IDAT`, `IEND`.
    Png,
    /// Binary PNM (`P5`, `P6`) or PAM (`P7`): the restore data holds its header.
    Pnm,
}

impl SourceFormat {
    /// The value written in the description.
    pub fn code(self) -> u8 {
        match self {
            SourceFormat::Png => 1,
            SourceFormat::Pnm => 2,
        }
    }

    fn from_code(code: u8) -> Result<Self> {
        match code {
            1 => Ok(SourceFormat::Png),
            2 => Ok(SourceFormat::Pnm),
            other => Err(Error::Unsupported(format!(
                "image source format {other} (this build knows 1 = PNG, 2 = PNM)"
            ))),
        }
    }
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Png => "PNG",
            SourceFormat::Pnm => "PNM",
        })
    }
}

/// How a blob of the image description is stored: the restore data (§4.6)
/// and the value map's list (§4.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RestoreCoding {
    /// The blob's bytes as they are.
    Raw,
    /// The blob coded by method `cm` (spec/MODELS.md §3) at this level
    /// (1..=9) with the range coder, as the data of one modelled chunk.
    Cm {
        /// The cm level.
        level: u8,
    },
}
/// Write a blob's coding: `0`, or `1` and the cm level.
pub(crate) fn put_coding(out: &mut Vec<u8>, coding: RestoreCoding) {
    match coding {
        RestoreCoding::Raw => out.push(0),
        RestoreCoding::Cm { level } => out.extend_from_slice(&[1, level]),
    }
}

/// Read a blob's coding (the inverse of [`put_coding`]); another code is
/// `Unsupported`, naming `what`.
pub(crate) fn get_coding(p: &mut Cursor<'_>, what: &str) -> Result<RestoreCoding> {
    match p.u8()? {
        0 => Ok(RestoreCoding::Raw),
        1 => Ok(RestoreCoding::Cm { level: p.u8()? }),
        other => Err(Error::Unsupported(format!("{what} coding {other}"))),
    }
}

/// The `IMAG` section: everything about an image frame that is not its samples.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageInfo {
    /// Pixels per row, at least 1.
    pub width: u32,
    /// Rows, at least 1.
    pub height: u32,
    /// The channels of a pixel.
    pub color: ColorType,
    /// The largest value a sample may take, 1..=65535. Samples take one byte
    /// when it is below 256 and two (big-endian) otherwise. A PNG of bit depth
    /// `d` has `maxval = 2^d − 1`.
    pub maxval: u16,
    /// Rows per chunk (stripe), 1..=height.
    pub stripe_rows: u32,
    /// The format to write on decompression.
    pub source: SourceFormat,
    /// How `restore` is stored.
    pub restore_coding: RestoreCoding,
    /// Length of the restore blob once decoded.
    pub restore_len: u64,
    /// The restore blob, coded as `restore_coding` says.
    pub restore: Vec<u8>,
}

impl ImageInfo {
    /// Bytes per sample: 1 when `maxval < 256`, else 2.
    pub fn bytes_per_sample(&self) -> u64 {
        if self.maxval < 256 {
            1
        } else {
            2
        }
    }

    /// Significant bits per sample: the bit length of `maxval` (1..=16).
    pub fn bit_depth(&self) -> u32 {
        16 - self.maxval.leading_zeros()
    }

    /// Bytes per row in the canonical layout.
    pub fn row_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.color.channels()) * self.bytes_per_sample()
    }

    /// Bytes of the whole content (all samples).
    pub fn content_bytes(&self) -> u64 {
        self.row_bytes() * u64::from(self.height)
    }

    /// The chunk size a frame with this description must have.
    pub fn chunk_bytes(&self) -> u64 {
        self.row_bytes() * u64::from(self.stripe_rows)
    }

    /// Check the description on its own (the ranges of §4.6).
    pub fn validate(&self) -> Result<()> {
        if self.width == 0 || self.height == 0 {
            return Err(Error::InvalidInput("image width and height must be at least 1"));
        }
        if self.maxval == 0 {
            return Err(Error::InvalidInput("image maxval must be at least 1"));
        }
        if self.color == ColorType::Indexed && self.maxval > 255 {
            return Err(Error::InvalidInput("palette indices have at most 8 bits"));
        }
        if self.stripe_rows == 0 || self.stripe_rows > self.height {
            return Err(Error::InvalidInput("stripe rows must be in 1..=height"));
        }
        if self.chunk_bytes() > u64::from(crate::MAX_CHUNK_SIZE) {
            return Err(Error::InvalidInput("a stripe of the image exceeds the largest chunk size (2^30)"));
        }
        match self.restore_coding {
            RestoreCoding::Raw if self.restore.len() as u64 != self.restore_len => {
                return Err(Error::InvalidInput("raw restore data must have restore_len bytes"))
            }
            RestoreCoding::Cm { level } if !(1..=9).contains(&level) => {
                return Err(Error::InvalidInput("restore data cm level must be in 1..=9"))
            }
            _ => {}
        }
        Ok(())
    }

    /// Check that `header` can describe a frame with this image (§4.6): the
    /// medium, the chunk size and, when given, the content size.
    pub fn check_header(&self, header: &Header) -> Result<()> {
        if header.medium != Medium::Image {
            return Err(Error::InvalidInput("an image description needs a frame of medium image"));
        }
        if u64::from(header.chunk_size) != self.chunk_bytes() {
            return Err(Error::InvalidInput("an image frame's chunk size must be stripe_rows × row bytes"));
        }
        if header.content_size.is_some_and(|c| c != self.content_bytes()) {
            return Err(Error::InvalidInput("an image frame's content size must be height × row bytes"));
        }
        Ok(())
    }

    /// Serialise the `IMAG` payload.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut out = Vec::with_capacity(32 + self.restore.len());
        varint::put(&mut out, u64::from(self.width));
        varint::put(&mut out, u64::from(self.height));
        out.push(self.color.code());
        varint::put(&mut out, u64::from(self.maxval));
        varint::put(&mut out, u64::from(self.stripe_rows));
        out.push(self.source.code());
        put_coding(&mut out, self.restore_coding);
        varint::put(&mut out, self.restore_len);
        out.extend_from_slice(&self.restore);
        Ok(out)
    }

    /// Parse an `IMAG` payload found at `offset`.
    pub(crate) fn decode(payload: &[u8], offset: Offset) -> Result<Self> {
        let mut p = Cursor { buf: payload, pos: 0, base: offset };
        let malformed = |what| Error::malformed(what, offset);
        let width = u32::try_from(p.varint()?).map_err(|_| malformed("image width above 2^32 - 1"))?;
        let height = u32::try_from(p.varint()?).map_err(|_| malformed("image height above 2^32 - 1"))?;
        let color_code = p.u8()?;
        let color = ColorType::from_code(color_code)
            .ok_or_else(|| Error::Unsupported(format!("image colour type {color_code}")))?;
        let maxval = u16::try_from(p.varint()?).map_err(|_| malformed("image maxval above 65535"))?;
        let stripe_rows = u32::try_from(p.varint()?).map_err(|_| malformed("stripe rows above 2^32 - 1"))?;
        let source = SourceFormat::from_code(p.u8()?)?;
        let restore_coding = get_coding(&mut p, "image restore")?;
        let restore_len = p.varint()?;
        let restore = p.rest().to_vec();
        let info = ImageInfo {
            width,
            height,
            color,
            maxval,
            stripe_rows,
            source,
            restore_coding,
            restore_len,
            restore,
        };
        info.validate().map_err(|e| match e {
            Error::InvalidInput(what) => Error::malformed(what, offset),
            other => other,
        })?;
        Ok(info)
    }
}

impl fmt::Display for ImageInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}x{} {} {}-bit", self.source, self.width, self.height, self.color, self.bit_depth())?;
        if self.maxval != u16::MAX >> (16 - self.bit_depth()) {
            write!(f, " (maxval {})", self.maxval)?;
        }
        write!(f, ", stripes of {} rows", self.stripe_rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ImageInfo {
        ImageInfo {
            width: 3,
            height: 5,
            color: ColorType::Rgba,
            maxval: 1000,
            stripe_rows: 2,
            source: SourceFormat::Pnm,
            restore_coding: RestoreCoding::Raw,
            restore_len: 4,
            restore: b"P7\n\n".to_vec(),
        }
    }

    #[test]
    fn roundtrip_and_sizes() {
        let info = sample();
        assert_eq!(info.bytes_per_sample(), 2);
        assert_eq!(info.bit_depth(), 10);
        assert_eq!(info.row_bytes(), 24);
        assert_eq!(info.content_bytes(), 120);
        assert_eq!(info.chunk_bytes(), 48);
        let p = info.encode().unwrap();
        assert_eq!(ImageInfo::decode(&p, 0).unwrap(), info);
        assert_eq!(info.to_string(), "PNM 3x5 rgba 10-bit (maxval 1000), stripes of 2 rows");
    }

    #[test]
    fn rejects_bad_values() {
        let mut i = sample();
        i.stripe_rows = 6;
        assert!(i.encode().is_err());
        let mut i = sample();
        i.restore_len = 5;
        assert!(i.encode().is_err());
        let mut i = sample();
        i.color = ColorType::Indexed;
        assert!(i.encode().is_err());
        let mut i = sample();
        i.width = u32::MAX;
        i.stripe_rows = 1;
        assert!(i.encode().is_err(), "row of 2^35 bytes");
        // Every truncation of a valid payload is an error, never a panic.
        let p = sample().encode().unwrap();
        for n in 0..p.len() - 4 {
            assert!(ImageInfo::decode(&p[..n], 0).is_err(), "{n}");
        }
    }
}
