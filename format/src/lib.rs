//! # nzip-format
//!
//! The `.nz` container of nzip: read, write and validate frames, sections and
//! chunks. This crate knows nothing of models: a chunk's payload is opaque
//! bytes here. It is the executable form of `spec/FORMAT.md`, which is
//! normative; section numbers (§) below refer to it.
//!
//! A `.nz` stream is one or more **frames**. A frame is a 9-byte prelude
//! (magic number and version) followed by **sections**: one `HEAD`, then the
//! content's `CHNK` sections in order, optional ancillary sections, and one
//! `TAIL` that carries the chunk count, content size and XXH64 of the content.
//! Every section has a 4-letter tag, a varint length and a CRC-32.
//!
//! ```
//! use nzip_format::{ChunkKind, Coder, Header, Limits, Medium, Method, Reader, Writer};
//! let header = Header {
//!     medium: Medium::Bytes, method: Method::Stored, level: 0, coder: Coder::Range,
//!     precision: 16, chunk_size: 4, content_size: Some(6), model: None,
//! };
//! let content = b"abcdef";
//! let mut w = Writer::new(Vec::new(), header.clone()).unwrap();
//! for piece in content.chunks(4) {
//!     w.write_chunk(ChunkKind::Stored, piece.len() as u32, nzip_format::chunk_crc(piece), piece).unwrap();
//! }
//! let (file, _) = w.finish(nzip_format::content_hash(content)).unwrap();
//!
//! let mut r = Reader::new(&file[..], Limits::default());
//! assert_eq!(r.next_frame().unwrap(), Some(header));
//! let mut restored = Vec::new();
//! while let Some(chunk) = r.next_chunk().unwrap() {
//!     restored.extend_from_slice(&chunk.data);
//! }
//! assert_eq!(restored, content);
//! assert!(r.next_frame().unwrap().is_none());
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod header;
mod image;
pub mod varint;
mod vmap;

pub use error::{Error, Offset, Result};
pub use header::{
    hex, Coder, Header, Medium, Method, ModelRef, MAX_CHUNK_SIZE, MAX_MODEL_ID_LEN, MAX_MODEL_NAME_LEN,
};
pub use image::{ColorType, ImageInfo, RestoreCoding, SourceFormat, MAX_ROW_BYTES};
pub use vmap::{ValueMap, MAX_VALUE_LIST_BYTES};

use header::Cursor;
use std::io::{Read, Write};

/// The magic number that starts every frame (§2.1): a non-ASCII byte (catches
/// 7-bit channels), "NZ", CR LF (catches line-ending conversion), ^Z (stops
/// DOS `type`), LF.
pub const MAGIC: [u8; 7] = [0x8E, b'N', b'Z', b'\r', b'\n', 0x1A, b'\n'];

/// Format major version written and read by this crate. Frames with another
/// major version are [`Error::Unsupported`].
pub const VERSION_MAJOR: u8 = 1;

/// Format minor version written by this crate. Any minor version of major 1
/// is read; later minors only append fields this reader can ignore.
pub const VERSION_MINOR: u8 = 0;

/// Length of the frame prelude: magic, major, minor.
pub const PRELUDE_LEN: usize = MAGIC.len() + 2;

/// Section tags (§3).
pub mod tag {
    /// Frame header (critical).
    pub const HEAD: [u8; 4] = *b"HEAD";
    /// One chunk of content (critical).
    pub const CHNK: [u8; 4] = *b"CHNK";
    /// End of frame with counts and the content hash (critical).
    pub const TAIL: [u8; 4] = *b"TAIL";
    /// Seek index: the byte size of every `CHNK` section (ancillary).
    pub const INDX: [u8; 4] = *b"indx";
    /// Image description (critical): right after `HEAD` in frames of medium image.
    pub const IMAG: [u8; 4] = *b"IMAG";
    /// Sample value map (critical): optional, right after `IMAG`.
    pub const VMAP: [u8; 4] = *b"VMAP";

    /// True when a decoder must understand the section to decode the frame:
    /// bit 5 of the first byte is 0 (an upper-case letter), as in PNG.
    pub fn is_critical(tag: [u8; 4]) -> bool {
        tag[0] & 0x20 == 0
    }
}

/// Upper bound of a `CHNK` section's payload beyond the chunk data: kind (1),
/// raw length (≤ 5 bytes as a varint of at most 2^30) and content CRC (4).
pub const CHUNK_PAYLOAD_OVERHEAD: u64 = 10;

/// Worst-case bytes a frame adds to its content when every chunk is stored,
/// for frames without a model reference (§7): `FRAME_OVERHEAD_FIXED +
/// FRAME_OVERHEAD_PER_CHUNK * chunks`.
pub const FRAME_OVERHEAD_FIXED: u64 = 128;
/// See [`FRAME_OVERHEAD_FIXED`].
pub const FRAME_OVERHEAD_PER_CHUNK: u64 = 28;

/// Resource limits a reader enforces before allocating (§8).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest chunk size accepted (bytes). Default 256 MiB. A decoder holds
    /// about two chunks per thread.
    pub max_chunk_size: u32,
    /// Largest payload of a section other than `HEAD`, `CHNK` and `TAIL` that
    /// the reader parses and keeps (the seek index, an image description), in
    /// bytes. Default 16 MiB. Unknown sections are streamed through their CRC
    /// and never kept, so they need no limit.
    pub max_ancillary_size: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_chunk_size: 1 << 28, max_ancillary_size: 1 << 24 }
    }
}

/// How a chunk's payload is represented (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkKind {
    /// The raw content bytes, as they are.
    Stored,
    /// Coded with the frame's method, model and coder.
    Modelled,
}

impl ChunkKind {
    fn code(self) -> u8 {
        match self {
            ChunkKind::Stored => 0,
            ChunkKind::Modelled => 1,
        }
    }
}

/// One chunk as read from a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position of the chunk in its frame, from 0.
    pub index: u64,
    /// Stored or modelled.
    pub kind: ChunkKind,
    /// Length of the chunk's content once decoded.
    pub raw_len: u32,
    /// CRC-32 of the chunk's content once decoded.
    pub raw_crc: u32,
    /// The payload: the content itself (stored) or the coded bytes (modelled).
    pub data: Vec<u8>,
    /// Stream offset of the chunk's section, for error messages.
    pub offset: Offset,
}

impl Chunk {
    /// Check decoded content against the chunk's length and CRC.
    pub fn verify(&self, content: &[u8]) -> Result<()> {
        if content.len() as u64 != u64::from(self.raw_len) || chunk_crc(content) != self.raw_crc {
            return Err(Error::Checksum { what: "chunk content CRC-32", offset: self.offset });
        }
        Ok(())
    }
}

/// The end of a frame (`TAIL`, §6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tail {
    /// Number of chunks in the frame.
    pub chunk_count: u64,
    /// Total content bytes.
    pub content_size: u64,
    /// XXH64 (seed 0) of the whole content.
    pub content_xxh64: u64,
}

/// CRC-32 (ISO-HDLC, as in zlib and PNG) of a chunk's content (§5.1).
pub fn chunk_crc(data: &[u8]) -> u32 {
    crc32fast::hash(data)
}

/// XXH64 with seed 0 of a whole content (§6).
pub fn content_hash(data: &[u8]) -> u64 {
    let mut h = ContentHasher::new();
    h.update(data);
    h.finish()
}

/// Incremental form of [`content_hash`].
#[derive(Clone)]
pub struct ContentHasher(xxhash_rust::xxh64::Xxh64);

impl std::fmt::Debug for ContentHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ContentHasher")
    }
}

impl Default for ContentHasher {
    fn default() -> Self {
        Self::new()
    }
}

impl ContentHasher {
    /// A fresh hasher (seed 0).
    pub fn new() -> Self {
        ContentHasher(xxhash_rust::xxh64::Xxh64::new(0))
    }
    /// Feed content bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    /// The hash of everything fed so far.
    pub fn finish(&self) -> u64 {
        self.0.digest()
    }
}

// ---------------------------------------------------------------------------
// Writing
// ---------------------------------------------------------------------------

/// Writes one frame: the prelude and `HEAD` on creation, `CHNK` sections as
/// they come, then the seek index and `TAIL` on [`Writer::finish`].
///
/// The writer checks the chunk rules of §5 (every chunk but the last is full,
/// a modelled payload is smaller than its content, ...) so that it cannot
/// produce a frame the reader would reject.
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: W,
    header: Header,
    written: u64,
    content: u64,
    section_sizes: Vec<u64>,
    last_was_short: bool,
}

impl<W: Write> Writer<W> {
    /// Start a frame with `header`, whose medium must be [`Medium::Bytes`]
    /// (image frames start with [`Writer::new_image`]).
    pub fn new(inner: W, header: Header) -> Result<Self> {
        if header.medium != Medium::Bytes {
            return Err(Error::InvalidInput("a frame of medium image starts with Writer::new_image"));
        }
        Self::start(inner, header, None, None)
    }

    /// Start a frame of [`Medium::Image`]: `HEAD`, then the `IMAG` section
    /// describing `image`, which must agree with `header` (§4.6).
    pub fn new_image(inner: W, header: Header, image: &ImageInfo) -> Result<Self> {
        Self::new_image_mapped(inner, header, image, None)
    }

    /// [`Writer::new_image`], followed by a `VMAP` section (§4.8) when `map`
    /// is given: the frame's modelled stripes then code value indices.
    pub fn new_image_mapped(
        inner: W,
        header: Header,
        image: &ImageInfo,
        map: Option<&ValueMap>,
    ) -> Result<Self> {
        image.check_header(&header)?;
        let map = map.map(|m| m.encode(image)).transpose()?;
        Self::start(inner, header, Some(image), map)
    }

    fn start(mut inner: W, header: Header, image: Option<&ImageInfo>, map: Option<Vec<u8>>) -> Result<Self> {
        let payload = header.encode()?;
        let image = image.map(ImageInfo::encode).transpose()?;
        let mut prelude = MAGIC.to_vec();
        prelude.extend_from_slice(&[VERSION_MAJOR, VERSION_MINOR]);
        inner.write_all(&prelude)?;
        let mut n = write_section(&mut inner, tag::HEAD, &payload)?;
        if let Some(p) = image {
            n += write_section(&mut inner, tag::IMAG, &p)?;
        }
        if let Some(p) = map {
            n += write_section(&mut inner, tag::VMAP, &p)?;
        }
        Ok(Writer {
            inner,
            header,
            written: PRELUDE_LEN as u64 + n,
            content: 0,
            section_sizes: Vec::new(),
            last_was_short: false,
        })
    }

    /// Append a chunk whose content is `raw_len` bytes with CRC-32 `raw_crc`;
    /// `data` is the content itself (stored) or its coding (modelled).
    /// Returns the section's size in bytes.
    pub fn write_chunk(&mut self, kind: ChunkKind, raw_len: u32, raw_crc: u32, data: &[u8]) -> Result<u64> {
        if self.last_was_short {
            return Err(Error::InvalidInput("only the last chunk may be shorter than the chunk size"));
        }
        if raw_len == 0 || raw_len > self.header.chunk_size {
            return Err(Error::InvalidInput("chunk length must be in 1..=chunk_size"));
        }
        match kind {
            ChunkKind::Stored if data.len() as u64 != u64::from(raw_len) => {
                return Err(Error::InvalidInput("a stored chunk's data is its content"));
            }
            ChunkKind::Modelled if data.len() as u64 >= u64::from(raw_len) => {
                return Err(Error::InvalidInput(
                    "a modelled chunk must be smaller than its content; store it",
                ));
            }
            ChunkKind::Modelled if self.header.method == Method::Stored => {
                return Err(Error::InvalidInput("a stored-method frame has only stored chunks"));
            }
            _ => {}
        }
        let mut payload = Vec::with_capacity(data.len() + CHUNK_PAYLOAD_OVERHEAD as usize);
        payload.push(kind.code());
        varint::put(&mut payload, u64::from(raw_len));
        payload.extend_from_slice(&raw_crc.to_le_bytes());
        payload.extend_from_slice(data);
        let n = write_section(&mut self.inner, tag::CHNK, &payload)?;
        self.written += n;
        self.content += u64::from(raw_len);
        self.section_sizes.push(n);
        self.last_was_short = raw_len < self.header.chunk_size;
        Ok(n)
    }

    /// Bytes written so far.
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// End the frame: write the seek index (when there are two chunks or more)
    /// and the `TAIL` with the content's XXH64. Returns the inner writer and
    /// the frame's total size.
    pub fn finish(mut self, content_xxh64: u64) -> Result<(W, u64)> {
        if let Some(expected) = self.header.content_size {
            if expected != self.content {
                return Err(Error::InvalidInput("content size differs from the one in the header"));
            }
        }
        let count = self.section_sizes.len() as u64;
        if count >= 2 {
            let mut payload = Vec::new();
            varint::put(&mut payload, count);
            for &s in &self.section_sizes {
                varint::put(&mut payload, s);
            }
            self.written += write_section(&mut self.inner, tag::INDX, &payload)?;
        }
        let mut payload = Vec::new();
        varint::put(&mut payload, count);
        varint::put(&mut payload, self.content);
        payload.extend_from_slice(&content_xxh64.to_le_bytes());
        self.written += write_section(&mut self.inner, tag::TAIL, &payload)?;
        self.inner.flush()?;
        Ok((self.inner, self.written))
    }
}

/// Write one section (§3): tag, varint length, payload, CRC-32 of all three.
/// Returns the bytes written. [`Writer`] uses it for every section; tools use
/// it to add ancillary sections or to build test vectors.
pub fn write_section<W: Write>(w: &mut W, tag: [u8; 4], payload: &[u8]) -> Result<u64> {
    let mut head = tag.to_vec();
    varint::put(&mut head, payload.len() as u64);
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(payload);
    w.write_all(&head)?;
    w.write_all(payload)?;
    w.write_all(&crc.finalize().to_le_bytes())?;
    Ok((head.len() + payload.len() + 4) as u64)
}

// ---------------------------------------------------------------------------
// Reading
// ---------------------------------------------------------------------------

/// Where a [`Reader`] is.
#[derive(Debug)]
enum State {
    /// Before a frame's prelude.
    BetweenFrames,
    /// Inside a frame, after its header.
    InFrame(Box<FrameState>),
}

#[derive(Debug)]
struct FrameState {
    header: Header,
    minor: u8,
    chunks: u64,
    content: u64,
    last_was_short: bool,
    section_sizes: Vec<u64>,
    index: Option<Vec<u64>>,
    /// The content size an image description implies.
    image_content: Option<u64>,
}

/// Reads the frames of a `.nz` stream section by section, validating every
/// rule of the spec that does not need the decoded content, and checking every
/// size against [`Limits`] before allocating.
///
/// Use [`Reader::next_frame`] to get each frame's header, then
/// [`Reader::next_chunk`] until it returns `None`; [`Reader::tail`] then gives
/// the frame's `TAIL` (the caller checks the content hash against it).
#[derive(Debug)]
pub struct Reader<R: Read> {
    inner: R,
    limits: Limits,
    offset: Offset,
    state: State,
    frames: u64,
    tail: Option<Tail>,
    image: Option<ImageInfo>,
    value_map: Option<ValueMap>,
    /// A section read ahead (the one after `IMAG` when it is not `VMAP`),
    /// with its offset, for [`Reader::next_chunk`].
    pending: Option<([u8; 4], Vec<u8>, Offset)>,
}

impl<R: Read> Reader<R> {
    /// A reader over `inner`.
    pub fn new(inner: R, limits: Limits) -> Self {
        Reader {
            inner,
            limits,
            offset: 0,
            state: State::BetweenFrames,
            frames: 0,
            tail: None,
            image: None,
            value_map: None,
            pending: None,
        }
    }

    /// The value map of the current (or last) image frame, when it has one
    /// (§4.8): read and validated against the image by [`Reader::next_frame`].
    pub fn value_map(&self) -> Option<&ValueMap> {
        self.value_map.as_ref()
    }

    /// The image description of the current (or last) frame, when its medium
    /// is [`Medium::Image`]: read and validated against the header by
    /// [`Reader::next_frame`].
    pub fn image(&self) -> Option<&ImageInfo> {
        self.image.as_ref()
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> Offset {
        self.offset
    }

    /// The `TAIL` of the frame that was finished last.
    pub fn tail(&self) -> Option<&Tail> {
        self.tail.as_ref()
    }

    /// Read the next frame's prelude and header. Returns `None` at the end of
    /// the stream (after at least one frame; an empty stream is
    /// [`Error::Truncated`]). Must be called between frames.
    pub fn next_frame(&mut self) -> Result<Option<Header>> {
        if let State::InFrame(_) = self.state {
            return Err(Error::InvalidInput("next_frame called inside a frame"));
        }
        let frames = self.frames;
        let start = self.offset;
        let mut prelude = [0u8; PRELUDE_LEN];
        let got = read_full(&mut self.inner, &mut prelude)?;
        self.offset += got as u64;
        if got == 0 && frames > 0 {
            return Ok(None);
        }
        if got < MAGIC.len() {
            return Err(if got == 0 || prelude[..got] == MAGIC[..got] {
                Error::Truncated { offset: self.offset }
            } else if frames == 0 {
                Error::NotNzip
            } else {
                Error::malformed("data after the end of a frame is not another frame", start)
            });
        }
        if prelude[..MAGIC.len()] != MAGIC {
            return Err(if frames == 0 {
                Error::NotNzip
            } else {
                Error::malformed("data after the end of a frame is not another frame", start)
            });
        }
        if got < PRELUDE_LEN {
            return Err(Error::Truncated { offset: self.offset });
        }
        let (major, minor) = (prelude[7], prelude[8]);
        if major != VERSION_MAJOR {
            return Err(Error::Unsupported(format!(
                "format version {major}.{minor} (this build reads {VERSION_MAJOR}.x); a newer nzip may decode it"
            )));
        }
        let (tag, payload, at) = self.read_section(None)?;
        if tag != tag::HEAD {
            return Err(Error::malformed("a frame must start with a HEAD section", at));
        }
        let header = Header::decode(&payload, minor, at)?;
        if header.chunk_size > self.limits.max_chunk_size {
            return Err(Error::LimitExceeded {
                what: "chunk size",
                value: u64::from(header.chunk_size),
                limit: u64::from(self.limits.max_chunk_size),
            });
        }
        self.tail = None;
        self.image = None;
        self.value_map = None;
        if header.medium == Medium::Image {
            let (tag, payload, at) = self.read_section(None)?;
            if tag != tag::IMAG {
                return Err(Error::malformed(
                    "an image frame must have an IMAG section right after HEAD",
                    at,
                ));
            }
            let image = ImageInfo::decode(&payload, at)?;
            image.check_header(&header).map_err(|e| match e {
                Error::InvalidInput(what) => Error::malformed(what, at),
                other => other,
            })?;
            // An optional VMAP follows; any other section is kept for next_chunk.
            let (tag, payload, at) = self.read_section(Some(header.chunk_size))?;
            if tag == tag::VMAP {
                self.value_map = Some(ValueMap::decode(&payload, &image, at)?);
            } else {
                self.pending = Some((tag, payload, at));
            }
            self.image = Some(image);
        }
        self.state = State::InFrame(Box::new(FrameState {
            header: header.clone(),
            minor,
            chunks: 0,
            content: 0,
            last_was_short: false,
            section_sizes: Vec::new(),
            index: None,
            image_content: self.image.as_ref().map(ImageInfo::content_bytes),
        }));
        Ok(Some(header))
    }

    /// Read the next chunk of the current frame, skipping (but checking) any
    /// ancillary sections. Returns `None` once the frame's `TAIL` is read and
    /// validated; the reader is then between frames.
    pub fn next_chunk(&mut self) -> Result<Option<Chunk>> {
        loop {
            let (chunk_size, method) = match &self.state {
                State::InFrame(f) => (f.header.chunk_size, f.header.method),
                State::BetweenFrames => return Err(Error::InvalidInput("next_chunk called between frames")),
            };
            let (tag, payload, at, section_size) = match self.pending.take() {
                // Read by next_frame just before: the reader's offset is still its end.
                Some((tag, payload, at)) => (tag, payload, at, self.offset - at),
                None => {
                    let (tag, payload, at) = self.read_section(Some(chunk_size))?;
                    (tag, payload, at, self.offset - at)
                }
            };
            let State::InFrame(f) = &mut self.state else {
                return Err(Error::InvalidInput("next_chunk called between frames"));
            };
            match tag {
                tag::CHNK => {
                    let chunk = parse_chunk(&payload, at, f, method)?;
                    f.section_sizes.push(section_size);
                    return Ok(Some(chunk));
                }
                tag::TAIL => {
                    let tail = parse_tail(&payload, at, f)?;
                    if let Some(index) = &f.index {
                        if *index != f.section_sizes {
                            return Err(Error::malformed("seek index does not match the chunk sections", at));
                        }
                    }
                    self.tail = Some(tail);
                    self.frames += 1;
                    self.state = State::BetweenFrames;
                    return Ok(None);
                }
                tag::HEAD => return Err(Error::malformed("a second HEAD inside a frame", at)),
                tag::IMAG => return Err(Error::malformed("an IMAG section that does not follow HEAD", at)),
                tag::VMAP => return Err(Error::malformed("a VMAP section that does not follow IMAG", at)),
                tag::INDX => {
                    f.index = Some(parse_index(&payload, at)?);
                }
                _ => {} // unknown ancillary section: CRC checked, skipped (§3.2)
            }
        }
    }

    /// Read one section; `chunk_size` bounds a `CHNK` payload. Returns the
    /// tag, payload and the section's offset. Unknown critical sections are
    /// [`Error::Unsupported`] as soon as their tag is seen.
    fn read_section(&mut self, chunk_size: Option<u32>) -> Result<([u8; 4], Vec<u8>, Offset)> {
        let at = self.offset;
        let mut tag = [0u8; 4];
        self.inner.read_exact(&mut tag).map_err(|e| Error::from_read(e, at))?;
        self.offset += 4;
        if !tag.iter().all(u8::is_ascii_alphabetic) {
            return Err(Error::malformed("section tag is not four ASCII letters", at));
        }
        let (len, len_bytes) = varint::read(&mut self.inner, self.offset)?;
        self.offset += len_bytes.len() as u64;
        let limit = match tag {
            tag::HEAD => 6 + 5 + 10 + 2 + (MAX_MODEL_ID_LEN + MAX_MODEL_NAME_LEN) as u64 + 1024,
            tag::TAIL => 10 + 10 + 8 + 1024,
            tag::CHNK => match chunk_size {
                Some(c) => u64::from(c) + CHUNK_PAYLOAD_OVERHEAD,
                None => 0,
            },
            tag::INDX | tag::IMAG | tag::VMAP => u64::from(self.limits.max_ancillary_size),
            // Unknown sections, critical or ancillary, are streamed through the
            // CRC without being kept, so any size is checked in bounded memory:
            // a damaged tag is damage (Checksum), never a limit or a request
            // for a newer nzip.
            _ => u64::MAX,
        };
        let known = limit != u64::MAX;
        if len > limit {
            return Err(match tag {
                tag::INDX => Error::LimitExceeded { what: "seek index size", value: len, limit },
                tag::IMAG => Error::LimitExceeded { what: "image description size", value: len, limit },
                tag::VMAP => Error::LimitExceeded { what: "value map size", value: len, limit },
                _ => Error::malformed("section longer than the format allows", at),
            });
        }
        let mut crc = crc32fast::Hasher::new();
        crc.update(&tag);
        crc.update(&len_bytes);
        // Known sections are read incrementally, so that a truncated file that
        // claims a large section does not make us allocate the claimed size.
        let mut payload = Vec::new();
        let got = if known {
            let got = (&mut self.inner).take(len).read_to_end(&mut payload)?;
            crc.update(&payload);
            got as u64
        } else {
            skip_hashing(&mut self.inner, len, &mut crc)?
        };
        self.offset += got;
        if got < len {
            return Err(Error::Truncated { offset: self.offset });
        }
        let mut crc_bytes = [0u8; 4];
        self.inner.read_exact(&mut crc_bytes).map_err(|e| Error::from_read(e, self.offset))?;
        self.offset += 4;
        if crc.finalize() != u32::from_le_bytes(crc_bytes) {
            return Err(Error::Checksum { what: "section CRC-32", offset: at });
        }
        if !known && tag::is_critical(tag) {
            return Err(Error::Unsupported(format!(
                "critical section '{}' (a newer nzip may decode it)",
                String::from_utf8_lossy(&tag)
            )));
        }
        Ok((tag, payload, at))
    }
}

fn parse_chunk(payload: &[u8], at: Offset, f: &mut FrameState, method: Method) -> Result<Chunk> {
    let mut p = Cursor { buf: payload, pos: 0, base: at };
    let kind = match p.u8()? {
        0 => ChunkKind::Stored,
        1 if method != Method::Stored => ChunkKind::Modelled,
        1 => return Err(Error::malformed("modelled chunk in a stored-method frame", at)),
        _ => return Err(Error::malformed("reserved chunk kind", at)),
    };
    let raw_len = p.varint()?;
    let raw_crc = p.u32_le()?;
    let data = p.rest();
    if f.last_was_short {
        return Err(Error::malformed("a chunk follows a short (final) chunk", at));
    }
    let chunk_size = u64::from(f.header.chunk_size);
    if raw_len == 0 || raw_len > chunk_size {
        return Err(Error::malformed("chunk length outside 1..=chunk_size", at));
    }
    let ok = match kind {
        ChunkKind::Stored => data.len() as u64 == raw_len,
        ChunkKind::Modelled => (data.len() as u64) < raw_len,
    };
    if !ok {
        return Err(Error::malformed("chunk payload size inconsistent with its kind and length", at));
    }
    let content = f.content + raw_len;
    if let Some(declared) = f.header.content_size {
        if content > declared {
            return Err(Error::malformed("chunks exceed the header's content size", at));
        }
    }
    if f.image_content.is_some_and(|size| content > size) {
        return Err(Error::malformed("chunks exceed the image's size", at));
    }
    let chunk =
        Chunk { index: f.chunks, kind, raw_len: raw_len as u32, raw_crc, data: data.to_vec(), offset: at };
    f.chunks += 1;
    f.content = content;
    f.last_was_short = raw_len < chunk_size;
    Ok(chunk)
}

fn parse_tail(payload: &[u8], at: Offset, f: &FrameState) -> Result<Tail> {
    let mut p = Cursor { buf: payload, pos: 0, base: at };
    let tail = Tail { chunk_count: p.varint()?, content_size: p.varint()?, content_xxh64: p.u64_le()? };
    if !p.is_empty() && f.minor == 0 {
        return Err(Error::malformed("trailing bytes in a version 1.0 TAIL", at));
    }
    if tail.chunk_count != f.chunks {
        return Err(Error::malformed("TAIL chunk count differs from the chunks present", at));
    }
    if tail.content_size != f.content || f.header.content_size.is_some_and(|c| c != f.content) {
        return Err(Error::malformed("content size differs from the sum of chunk lengths", at));
    }
    if f.image_content.is_some_and(|size| size != f.content) {
        return Err(Error::malformed("an image frame's chunks do not hold the whole image", at));
    }
    Ok(tail)
}

fn parse_index(payload: &[u8], at: Offset) -> Result<Vec<u64>> {
    let mut p = Cursor { buf: payload, pos: 0, base: at };
    let count = p.varint()?;
    // Each entry takes at least one byte, which bounds the allocation.
    if count > payload.len() as u64 {
        return Err(Error::malformed("seek index count larger than its section", at));
    }
    let sizes = (0..count).map(|_| p.varint()).collect::<Result<Vec<_>>>()?;
    Ok(sizes)
}

/// Feed up to `len` bytes of `r` to `crc` without keeping them; returns the
/// bytes read (fewer than `len` only at the end of the input).
fn skip_hashing<R: Read>(r: &mut R, len: u64, crc: &mut crc32fast::Hasher) -> Result<u64> {
    let mut buf = [0u8; 1 << 14];
    let mut left = len;
    while left > 0 {
        let want = buf.len().min(usize::try_from(left).unwrap_or(buf.len()));
        let n = read_full(r, &mut buf[..want])?;
        crc.update(&buf[..n]);
        left -= n as u64;
        if n < want {
            break;
        }
    }
    Ok(len - left)
}

/// Read until `buf` is full or the input ends; returns the bytes read.
fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::Io(e)),
        }
    }
    Ok(got)
}
