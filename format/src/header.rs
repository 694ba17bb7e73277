//! The frame header (`HEAD` section, spec/FORMAT.md §4) and its registries.

use crate::error::{Error, Offset, Result};
use crate::varint;
use std::fmt;

/// Largest chunk size the format allows (1 GiB). Decoders usually set a lower
/// [`crate::Limits::max_chunk_size`].
pub const MAX_CHUNK_SIZE: u32 = 1 << 30;

/// Largest model identifier, in bytes.
pub const MAX_MODEL_ID_LEN: usize = 64;

/// Largest model name, in bytes.
pub const MAX_MODEL_NAME_LEN: usize = 64;

/// What kind of content the frame holds (spec §4.2). Decides which front end
/// restores the original file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Medium {
    /// Any bytes, restored as they are.
    Bytes,
    /// An image: the content is its samples in the canonical layout of spec
    /// §4.6, described by an `IMAG` section ([`crate::ImageInfo`]) that also
    /// carries what is needed to write the original PNG or PNM file again.
    Image,
}

impl Medium {
    /// The value written in the header.
    pub fn code(self) -> u8 {
        match self {
            Medium::Bytes => 0,
            Medium::Image => 1,
        }
    }

    fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Medium::Bytes),
            1 => Ok(Medium::Image),
            other => {
                Err(Error::Unsupported(format!("medium {other} (this build knows 0 = bytes, 1 = image)")))
            }
        }
    }
}

impl fmt::Display for Medium {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Medium::Bytes => "bytes",
            Medium::Image => "image",
        })
    }
}

/// How modelled chunks are coded (spec §4.3). Stored chunks are allowed under
/// every method.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Method {
    /// No model: every chunk is stored.
    Stored,
    /// Bitwise context mixing over bytes ("cm", spec/MODELS.md §2), with the
    /// header's level selecting its configuration.
    ContextMixing,
    /// A learned language model over bytes ("lm", spec/MODELS.md §6): the
    /// header names the model by content hash; range coder only.
    NeuralLm,
    /// Adaptive predictive image coding ("img", spec/MODELS.md §7): each chunk
    /// is a stripe of image rows. Only in frames of [`Medium::Image`].
    ImagePredictive,
    /// Context mixing, revision 2 ("cm2", spec/MODELS.md §3.11): the `cm`
    /// model with a two-layer mixer from level 4 and, when the header names
    /// one, a pretrained prior (a model package holding the model's learned
    /// state) that every chunk starts from.
    ContextMixing2,
    /// Context mixing with a language model ("cmlm", spec/MODELS.md §8): the
    /// `cm2` model (with a prior, when the header names one) and a learned byte
    /// language model, mixed bit by bit. The header's model id is the language
    /// model's id, followed by the prior's id when there is one.
    ContextMixingLm,
    /// The image model with a learned network ("imgnn", spec/MODELS.md
    /// §7.12): method `img` whose mixer also takes, for every decision, the
    /// logit of a pretrained integer network over the sub-pixel's causal
    /// features. The header's model id is the network's id.
    ImageNetwork,
    /// `cmlm` with an adapting language model ("cmlm2", spec/MODELS.md §8.1):
    /// an integer correction of the language model's output layer learns
    /// from every coded byte. The header's models are as for `cmlm`.
    ContextMixingLm2,
    /// The image model, revision 2 ("img2", spec/MODELS.md §7.13): `img`, or
    /// `imgnn` when the header names a network, with a two-dimensional match
    /// model that each stripe switches on or off.
    ImageMatch,
    /// The image model, revision 3 ("img3", spec/MODELS.md §7.14): `img2`
    /// whose stripes also say whether the direct tables tell apart the
    /// pixel's position in a 4×4 grid (JPEG's blocks, downscaled by 2).
    ImageGrid,
    /// The fast image model ("imgf", spec/MODELS.md §7.15): the predictors
    /// of `img` without its two NLMS filters, and each binary decision
    /// mixed from three direct context tables and one hashed table; no
    /// network, match model or grid. Decodes about twice and encodes about three
    /// times as fast as `img3` without a network.
    ImageFast,
}

impl Method {
    /// The value written in the header.
    pub fn code(self) -> u8 {
        match self {
            Method::Stored => 0,
            Method::ContextMixing => 1,
            Method::NeuralLm => 2,
            Method::ImagePredictive => 3,
            Method::ContextMixing2 => 4,
            Method::ContextMixingLm => 5,
            Method::ImageNetwork => 6,
            Method::ContextMixingLm2 => 7,
            Method::ImageMatch => 8,
            Method::ImageGrid => 9,
            Method::ImageFast => 10,
        }
    }

    fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Method::Stored),
            1 => Ok(Method::ContextMixing),
            2 => Ok(Method::NeuralLm),
            3 => Ok(Method::ImagePredictive),
            4 => Ok(Method::ContextMixing2),
            5 => Ok(Method::ContextMixingLm),
            6 => Ok(Method::ImageNetwork),
            7 => Ok(Method::ContextMixingLm2),
            8 => Ok(Method::ImageMatch),
            9 => Ok(Method::ImageGrid),
            10 => Ok(Method::ImageFast),
            other => Err(Error::Unsupported(format!(
                "method {other} (this build knows 0 = stored, 1 = cm, 2 = lm, 3 = img, 4 = cm2, 5 = cmlm, 6 = imgnn, 7 = cmlm2, 8 = img2, 9 = img3, 10 = imgf); a newer nzip may decode it"
            ))),
        }
    }

    /// Short name, as shown by `nzip -l`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Stored => "stored",
            Method::ContextMixing => "cm",
            Method::NeuralLm => "lm",
            Method::ImagePredictive => "img",
            Method::ContextMixing2 => "cm2",
            Method::ContextMixingLm => "cmlm",
            Method::ImageNetwork => "imgnn",
            Method::ContextMixingLm2 => "cmlm2",
            Method::ImageMatch => "img2",
            Method::ImageGrid => "img3",
            Method::ImageFast => "imgf",
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The entropy coder of modelled chunks (spec §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Coder {
    /// Range coder: constriction's queue coder, 32-bit words, 64-bit state.
    Range,
    /// rANS: constriction's stack coder, 32-bit words, 64-bit state.
    Ans,
}

impl Coder {
    /// The value written in the header.
    pub fn code(self) -> u8 {
        match self {
            Coder::Range => 0,
            Coder::Ans => 1,
        }
    }

    fn from_code(code: u8) -> Result<Self> {
        match code {
            0 => Ok(Coder::Range),
            1 => Ok(Coder::Ans),
            other => Err(Error::Unsupported(format!("coder {other} (this build knows 0 = range, 1 = ans)"))),
        }
    }
}

impl fmt::Display for Coder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Coder::Range => "range",
            Coder::Ans => "ans",
        })
    }
}

/// A learned model a frame depends on, named by its content hash (never by a
/// position in a list; spec §4.5).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelRef {
    /// The model's identifier: the content hash of its weights (at most 64 bytes).
    pub id: Vec<u8>,
    /// A human-readable name for messages (UTF-8, at most 64 bytes); not used to select.
    pub name: String,
}

/// Everything a decoder needs to decode a frame (the `HEAD` section).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Header {
    /// The kind of content.
    pub medium: Medium,
    /// How modelled chunks are coded.
    pub method: Method,
    /// The method's level (1..=9), or 0 for [`Method::Stored`].
    pub level: u8,
    /// The entropy coder.
    pub coder: Coder,
    /// Bits of probability precision the coder uses (1..=32).
    pub precision: u8,
    /// Raw bytes per chunk: every chunk but the last holds exactly this many.
    pub chunk_size: u32,
    /// Total content bytes, when known at the start (streams may omit it).
    pub content_size: Option<u64>,
    /// The learned model the method uses, if any.
    pub model: Option<ModelRef>,
}

const FLAG_CONTENT_SIZE: u8 = 1 << 0;
const FLAG_MODEL: u8 = 1 << 1;
const FLAGS_KNOWN: u8 = FLAG_CONTENT_SIZE | FLAG_MODEL;

impl Header {
    /// Check that the values can be written (ranges of §4.1).
    pub fn validate(&self) -> Result<()> {
        if self.chunk_size == 0 || self.chunk_size > MAX_CHUNK_SIZE {
            return Err(Error::InvalidInput("chunk size must be in 1..=2^30"));
        }
        if self.precision == 0 || self.precision > 32 {
            return Err(Error::InvalidInput("precision must be in 1..=32"));
        }
        match self.method {
            Method::Stored if self.level != 0 => {
                return Err(Error::InvalidInput("stored method has level 0"))
            }
            Method::ContextMixing
            | Method::ContextMixing2
            | Method::NeuralLm
            | Method::ContextMixingLm
            | Method::ContextMixingLm2
                if !(1..=9).contains(&self.level) =>
            {
                return Err(Error::InvalidInput("cm, cm2, lm, cmlm and cmlm2 levels must be in 1..=9"))
            }
            Method::NeuralLm | Method::ContextMixingLm | Method::ContextMixingLm2 | Method::ImageNetwork
                if self.model.is_none() =>
            {
                return Err(Error::InvalidInput(
                    "the lm, cmlm, cmlm2 and imgnn methods need a model reference",
                ))
            }
            Method::ImagePredictive
            | Method::ImageNetwork
            | Method::ImageMatch
            | Method::ImageGrid
            | Method::ImageFast
                if !(1..=9).contains(&self.level) =>
            {
                return Err(Error::InvalidInput("img, imgnn, img2, img3 and imgf levels must be in 1..=9"))
            }
            _ => {}
        }
        match (self.medium, self.method) {
            (
                Medium::Bytes,
                Method::ImagePredictive
                | Method::ImageNetwork
                | Method::ImageMatch
                | Method::ImageGrid
                | Method::ImageFast,
            ) => {
                return Err(Error::InvalidInput(
                    "the img, imgnn, img2, img3 and imgf methods code image frames only",
                ))
            }
            (
                Medium::Image,
                Method::ContextMixing
                | Method::ContextMixing2
                | Method::NeuralLm
                | Method::ContextMixingLm
                | Method::ContextMixingLm2,
            ) => {
                return Err(Error::InvalidInput(
                    "image frames use the img, imgnn, img2, img3, imgf or stored method",
                ))
            }
            _ => {}
        }
        if let Some(m) = &self.model {
            if m.id.is_empty() || m.id.len() > MAX_MODEL_ID_LEN || m.name.len() > MAX_MODEL_NAME_LEN {
                return Err(Error::InvalidInput("model id must be 1..=64 bytes and name at most 64 bytes"));
            }
        }
        Ok(())
    }

    /// Serialise the `HEAD` payload (spec §4.1); [`crate::Writer`] frames it.
    pub fn encode(&self) -> Result<Vec<u8>> {
        self.validate()?;
        let mut flags = 0;
        if self.content_size.is_some() {
            flags |= FLAG_CONTENT_SIZE;
        }
        if self.model.is_some() {
            flags |= FLAG_MODEL;
        }
        let mut out = vec![
            flags,
            self.medium.code(),
            self.method.code(),
            self.level,
            self.coder.code(),
            self.precision,
        ];
        varint::put(&mut out, u64::from(self.chunk_size));
        if let Some(n) = self.content_size {
            varint::put(&mut out, n);
        }
        if let Some(m) = &self.model {
            out.push(m.id.len() as u8);
            out.extend_from_slice(&m.id);
            out.push(m.name.len() as u8);
            out.extend_from_slice(m.name.as_bytes());
        }
        Ok(out)
    }

    /// Parse a `HEAD` payload. `minor` is the frame's minor version: fields
    /// appended by later minor versions are ignored, but a 1.0 frame must have
    /// no trailing bytes. `offset` locates the payload for error messages.
    pub(crate) fn decode(payload: &[u8], minor: u8, offset: Offset) -> Result<Self> {
        let mut p = Cursor { buf: payload, pos: 0, base: offset };
        let flags = p.u8()?;
        if flags & !FLAGS_KNOWN != 0 {
            return Err(Error::malformed("reserved header flag bits are set", offset));
        }
        let medium = Medium::from_code(p.u8()?)?;
        let method = Method::from_code(p.u8()?)?;
        let level = p.u8()?;
        let coder = Coder::from_code(p.u8()?)?;
        let precision = p.u8()?;
        let chunk_size = p.varint()?;
        let content_size = if flags & FLAG_CONTENT_SIZE != 0 { Some(p.varint()?) } else { None };
        let model = if flags & FLAG_MODEL != 0 {
            let id_len = usize::from(p.u8()?);
            let id = p.bytes(id_len)?.to_vec();
            let name_len = usize::from(p.u8()?);
            let name = std::str::from_utf8(p.bytes(name_len)?)
                .map_err(|_| Error::malformed("model name is not UTF-8", offset))?
                .to_owned();
            Some(ModelRef { id, name })
        } else {
            None
        };
        if p.pos != payload.len() && minor == 0 {
            return Err(Error::malformed("trailing bytes in a version 1.0 header", offset));
        }
        let chunk_size = u32::try_from(chunk_size)
            .ok()
            .filter(|&c| c > 0 && c <= MAX_CHUNK_SIZE)
            .ok_or(Error::malformed("chunk size outside 1..=2^30", offset))?;
        let header = Header { medium, method, level, coder, precision, chunk_size, content_size, model };
        header.validate().map_err(|e| match e {
            Error::InvalidInput(what) => Error::malformed(what, offset),
            other => other,
        })?;
        Ok(header)
    }
}

impl fmt::Display for Header {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.medium, self.method)?;
        if self.method != Method::Stored {
            write!(f, " -{} {}/{}", self.level, self.coder, self.precision)?;
        }
        write!(f, ", chunks of {} B", self.chunk_size)?;
        if let Some(m) = &self.model {
            write!(f, ", model {} ({})", m.name, hex(&m.id))?;
        }
        Ok(())
    }
}

/// Lower-case hexadecimal, for model ids in messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A bounds-checked reader over a section payload.
pub(crate) struct Cursor<'a> {
    pub(crate) buf: &'a [u8],
    pub(crate) pos: usize,
    pub(crate) base: Offset,
}

impl<'a> Cursor<'a> {
    fn here(&self) -> Offset {
        self.base + self.pos as u64
    }

    pub(crate) fn u8(&mut self) -> Result<u8> {
        let b = *self
            .buf
            .get(self.pos)
            .ok_or(Error::malformed("section payload ends inside a field", self.here()))?;
        self.pos += 1;
        Ok(b)
    }

    pub(crate) fn u32_le(&mut self) -> Result<u32> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub(crate) fn u64_le(&mut self) -> Result<u64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }

    pub(crate) fn varint(&mut self) -> Result<u64> {
        let rest = self.buf.get(self.pos..).unwrap_or(&[]);
        let (v, n) = varint::get(rest, self.here())?;
        self.pos += n;
        Ok(v)
    }

    pub(crate) fn bytes(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&e| e <= self.buf.len())
            .ok_or(Error::malformed("section payload ends inside a field", self.here()))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let s = self.buf.get(self.pos..).unwrap_or(&[]);
        self.pos = self.buf.len();
        s
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }
}
