//! PNG and PNM/PAM front end (spec/FORMAT.md §4.6-§4.7).
//!
//! [`Image::parse`] takes a file apart into
//! - the samples in the canonical layout of spec §4.6 (rows top to bottom,
//!   channels interleaved, one byte per sample when `maxval < 256`, else two
//!   bytes big-endian; palette images keep their indices, sub-byte depths are
//!   unpacked to one sample per byte), and
//! - the *restore blob*: what is needed to write the file again (spec §4.7):
//!   for PNG, the interlace flag, every chunk other than `IHDR`, `IDAT` and
//!   `IEND` (type and data, in order, before or after the image data) and any
//!   bytes after `IEND`; for PNM, the header bytes as they were and any bytes
//!   after the samples.
//!
//! [`Restorer`] writes the file back from the description, the blob and the
//! samples, a stripe at a time. What comes back byte for byte: a PNM file,
//! entirely; of a PNG, the signature, `IHDR`, every other chunk and the
//! trailing bytes, and the pixels; *not* the `IDAT` chunks, whose filters and
//! deflate stream are nzip's own (any PNG decoder reads the same pixels).
//!
//! PNG pixels are decoded with the `png` crate (no transformations: palette
//! indices, sub-byte samples and 16-bit big-endian samples as stored); the
//! chunk structure is parsed here. A file this module cannot restore exactly
//! (a bad chunk CRC, an unknown critical chunk, ASCII PNM, samples above
//! `maxval`, ...) is not an image to it ([`NotAnImage`]); the caller then
//! compresses its bytes.

use nzip_format::{varint, ColorType, ImageInfo, RestoreCoding, SourceFormat};
use std::io::{self, Write};

/// Largest image, in bytes of samples (canonical layout), that the image path
/// takes; larger files are compressed as bytes.
pub const MAX_IMAGE_BYTES: u64 = 1 << 30;

/// Largest restore blob (metadata) the image path keeps, in bytes; it must fit
/// the reader's default limit on the `IMAG` section.
pub const MAX_RESTORE_BYTES: usize = 1 << 23;

/// The PNG signature.
pub const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1A, b'\n'];

/// Largest PNM header accepted (comments included).
const MAX_PNM_HEADER: usize = 1 << 16;

/// Why a file is not taken by the image path. It is not an error: the file is
/// then compressed as bytes, which restores it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NotAnImage(pub &'static str);

impl std::fmt::Display for NotAnImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// The image format `prefix` (the first bytes of a file, at least 2) starts
/// like, if any: PNG by its signature, PNM by `P5`, `P6` or `P7` and a
/// whitespace byte.
pub fn sniff(prefix: &[u8]) -> Option<SourceFormat> {
    if prefix.starts_with(&PNG_SIGNATURE) {
        return Some(SourceFormat::Png);
    }
    match prefix {
        [b'P', b'5' | b'6' | b'7', ws, ..] if is_pnm_space(*ws) => Some(SourceFormat::Pnm),
        _ => None,
    }
}

/// An image taken apart: description, samples and restore blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// Channels.
    pub color: ColorType,
    /// Largest sample value.
    pub maxval: u16,
    /// The format to write back.
    pub source: SourceFormat,
    /// The restore blob of spec §4.7 (not coded).
    pub restore: Vec<u8>,
    /// The samples in the canonical layout.
    pub samples: Vec<u8>,
}

impl Image {
    /// Take a PNG or binary PNM/PAM file apart.
    ///
    /// # Errors
    ///
    /// [`NotAnImage`] when the file is not one of these, or when it could not
    /// be written back exactly (the reason says why).
    pub fn parse(data: &[u8]) -> Result<Image, NotAnImage> {
        match sniff(data) {
            Some(SourceFormat::Png) => parse_png(data),
            Some(SourceFormat::Pnm) => parse_pnm(data),
            _ => Err(NotAnImage("not a PNG or binary PNM file")),
        }
    }

    /// Bytes per sample in the canonical layout.
    pub fn bytes_per_sample(&self) -> usize {
        if self.maxval < 256 {
            1
        } else {
            2
        }
    }

    /// Bytes per row in the canonical layout.
    pub fn row_bytes(&self) -> usize {
        self.width as usize * usize::from(self.color.channels()) * self.bytes_per_sample()
    }

    /// The description of this image for a frame with `stripe_rows` rows per
    /// chunk and the restore blob stored as `restore_coding` / `restore`.
    pub fn info(&self, stripe_rows: u32, restore_coding: RestoreCoding, restore: Vec<u8>) -> ImageInfo {
        ImageInfo {
            width: self.width,
            height: self.height,
            color: self.color,
            maxval: self.maxval,
            stripe_rows,
            source: self.source,
            restore_coding,
            restore_len: self.restore.len() as u64,
            restore,
        }
    }

    /// The description with the restore blob stored raw and one stripe.
    pub fn raw_info(&self) -> ImageInfo {
        self.info(self.height, RestoreCoding::Raw, self.restore.clone())
    }

    /// Write the file back (all at once; see [`Restorer`]).
    pub fn write_to<W: Write>(&self, out: W) -> io::Result<W> {
        let info = self.raw_info();
        let mut r = Restorer::new(out, &info, &self.restore).map_err(invalid_data)?;
        r.write_rows(&self.samples)?;
        r.finish()
    }
}

fn invalid_data(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// True when `a` and `b` hold the same image: the same samples, description
/// and restore blob (so the same file up to the PNG `IDAT` encoding). Two
/// byte-identical files are always equivalent, images or not.
pub fn equivalent(a: &[u8], b: &[u8]) -> bool {
    if a == b {
        return true;
    }
    match (Image::parse(a), Image::parse(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

// ---------------------------------------------------------------------------
// PNG
// ---------------------------------------------------------------------------

/// PNG colour type byte of a colour type.
fn png_color_code(c: ColorType) -> Option<u8> {
    Some(match c {
        ColorType::Gray => 0,
        ColorType::Rgb => 2,
        ColorType::Indexed => 3,
        ColorType::GrayAlpha => 4,
        ColorType::Rgba => 6,
        _ => return None,
    })
}

/// The colour type of a PNG colour type byte and bit depth, when the pair is
/// one the PNG specification allows (Table 11.1).
fn png_color(code: u8, depth: u8) -> Option<ColorType> {
    let c = match code {
        0 => ColorType::Gray,
        2 => ColorType::Rgb,
        3 => ColorType::Indexed,
        4 => ColorType::GrayAlpha,
        6 => ColorType::Rgba,
        _ => return None,
    };
    let ok = match c {
        ColorType::Gray => matches!(depth, 1 | 2 | 4 | 8 | 16),
        ColorType::Indexed => matches!(depth, 1 | 2 | 4 | 8),
        _ => matches!(depth, 8 | 16),
    };
    ok.then_some(c)
}

/// One chunk of a PNG file, as found.
struct RawChunk<'a> {
    kind: [u8; 4],
    data: &'a [u8],
}

fn be32(b: &[u8]) -> u32 {
    u32::from_be_bytes([b[0], b[1], b[2], b[3]])
}

fn is_critical(kind: [u8; 4]) -> bool {
    kind[0] & 0x20 == 0
}

/// The chunk layout of a PNG file: every chunk checked (length, type, CRC).
struct PngLayout<'a> {
    ihdr: &'a [u8],
    before: Vec<RawChunk<'a>>,
    after: Vec<RawChunk<'a>>,
    trailer: &'a [u8],
}

fn png_layout(data: &[u8]) -> Result<PngLayout<'_>, NotAnImage> {
    let mut pos = PNG_SIGNATURE.len();
    let mut ihdr = None;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    // 0: before IDAT, 1: inside the IDAT run, 2: after it.
    let mut phase = 0;
    loop {
        let head = data.get(pos..pos + 8).ok_or(NotAnImage("PNG ends before IEND"))?;
        let len = be32(head) as usize;
        if len > i32::MAX as usize {
            return Err(NotAnImage("PNG chunk length above 2^31 - 1"));
        }
        let kind = [head[4], head[5], head[6], head[7]];
        if !kind.iter().all(u8::is_ascii_alphabetic) {
            return Err(NotAnImage("PNG chunk type is not four letters"));
        }
        let end = pos.checked_add(12 + len).ok_or(NotAnImage("PNG chunk too long"))?;
        let whole = data.get(pos..end).ok_or(NotAnImage("PNG ends inside a chunk"))?;
        let (body, crc) = whole[4..].split_at(whole.len() - 8);
        if crc32fast::hash(body) != be32(crc) {
            return Err(NotAnImage("PNG chunk CRC mismatch (kept as bytes to restore it exactly)"));
        }
        let chunk_data = &body[4..];
        pos = end;
        match &kind {
            b"IHDR" if ihdr.is_none() && before.is_empty() => ihdr = Some(chunk_data),
            _ if ihdr.is_none() => return Err(NotAnImage("PNG does not start with IHDR")),
            b"IHDR" => return Err(NotAnImage("PNG has a second IHDR")),
            b"IDAT" => match phase {
                0 | 1 => phase = 1,
                _ => return Err(NotAnImage("PNG IDAT chunks are not consecutive")),
            },
            b"IEND" => {
                if phase == 0 || !chunk_data.is_empty() {
                    return Err(NotAnImage("PNG without image data, or a non-empty IEND"));
                }
                break;
            }
            _ => {
                if is_critical(kind) && &kind != b"PLTE" {
                    return Err(NotAnImage("PNG with a critical chunk nzip does not know"));
                }
                let chunk = RawChunk { kind, data: chunk_data };
                if phase == 0 {
                    before.push(chunk);
                } else {
                    phase = 2;
                    after.push(chunk);
                }
            }
        }
    }
    let ihdr = ihdr.ok_or(NotAnImage("PNG without IHDR"))?;
    Ok(PngLayout { ihdr, before, after, trailer: &data[pos..] })
}

fn put_chunks(out: &mut Vec<u8>, chunks: &[RawChunk<'_>]) {
    varint::put(out, chunks.len() as u64);
    for c in chunks {
        out.extend_from_slice(&c.kind);
        varint::put(out, c.data.len() as u64);
        out.extend_from_slice(c.data);
    }
}

fn parse_png(data: &[u8]) -> Result<Image, NotAnImage> {
    let layout = png_layout(data)?;
    let h = layout.ihdr;
    if h.len() != 13 {
        return Err(NotAnImage("PNG IHDR is not 13 bytes"));
    }
    let (width, height, depth, code) = (be32(&h[0..4]), be32(&h[4..8]), h[8], h[9]);
    let color = png_color(code, depth).ok_or(NotAnImage("PNG colour type and bit depth not allowed"))?;
    if h[10] != 0 || h[11] != 0 || h[12] > 1 {
        return Err(NotAnImage("PNG compression, filter or interlace method unknown"));
    }
    if width == 0 || height == 0 || width > i32::MAX as u32 || height > i32::MAX as u32 {
        return Err(NotAnImage("PNG dimensions outside 1..2^31"));
    }
    let interlaced = h[12] == 1;
    let channels = usize::from(color.channels());
    let bps = if depth == 16 { 2 } else { 1 };
    let samples_len = u64::from(width) * u64::from(height) * (channels * bps) as u64;
    if samples_len > MAX_IMAGE_BYTES {
        return Err(NotAnImage("image larger than the image path's limit"));
    }
    let mut restore = vec![u8::from(interlaced)];
    put_chunks(&mut restore, &layout.before);
    put_chunks(&mut restore, &layout.after);
    varint::put(&mut restore, layout.trailer.len() as u64);
    restore.extend_from_slice(layout.trailer);
    if restore.len() > MAX_RESTORE_BYTES {
        return Err(NotAnImage("PNG metadata larger than the image path's limit"));
    }

    // Pixels, as stored (no transformations).
    let limits = png::Limits {
        bytes: usize::try_from(samples_len.saturating_mul(2) + (1 << 20)).unwrap_or(usize::MAX),
    };
    let mut decoder = png::Decoder::new_with_limits(io::Cursor::new(data), limits);
    decoder.set_transformations(png::Transformations::IDENTITY);
    let mut reader = decoder.read_info().map_err(|_| NotAnImage("the png crate cannot decode this PNG"))?;
    let size = reader.output_buffer_size().ok_or(NotAnImage("PNG too large"))?;
    let mut buf = vec![0u8; size];
    let out = reader.next_frame(&mut buf).map_err(|_| NotAnImage("the png crate cannot decode this PNG"))?;
    if out.width != width || out.height != height || out.bit_depth as u8 != depth {
        return Err(NotAnImage("PNG frame differs from IHDR"));
    }
    let maxval = ((1u32 << depth) - 1) as u16;
    let row = width as usize * channels * bps;
    let mut samples = Vec::with_capacity(samples_len as usize);
    for y in 0..height as usize {
        let line = buf.get(y * out.line_size..(y + 1) * out.line_size).ok_or(NotAnImage("PNG rows"))?;
        if depth >= 8 {
            samples.extend_from_slice(line.get(..row).ok_or(NotAnImage("PNG rows"))?);
        } else {
            unpack_row(line, width as usize, depth, &mut samples);
        }
    }
    Ok(Image { width, height, color, maxval, source: SourceFormat::Png, restore, samples })
}

/// Append `width` samples of `depth` (1, 2 or 4) bits, packed MSB first.
fn unpack_row(line: &[u8], width: usize, depth: u8, out: &mut Vec<u8>) {
    let d = usize::from(depth);
    let mask = (1u16 << depth) as u8 - 1;
    for x in 0..width {
        let bit = x * d;
        let byte = line.get(bit / 8).copied().unwrap_or(0);
        out.push((byte >> (8 - d - bit % 8)) & mask);
    }
}

/// Pack `samples` (one per byte, each below 2^depth) MSB first.
fn pack_row(samples: &[u8], depth: u8, out: &mut Vec<u8>) {
    let d = usize::from(depth);
    let start = out.len();
    out.resize(start + (samples.len() * d).div_ceil(8), 0);
    let mask = (1u16 << depth) as u8 - 1;
    for (x, &s) in samples.iter().enumerate() {
        let bit = x * d;
        out[start + bit / 8] |= (s & mask) << (8 - d - bit % 8);
    }
}

/// The parsed PNG restore blob.
struct PngRestore<'a> {
    interlaced: bool,
    before: Vec<RawChunk<'a>>,
    after: Vec<RawChunk<'a>>,
    trailer: &'a [u8],
}

/// A bounds-checked reader over a restore blob.
struct Blob<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Blob<'a> {
    fn u8(&mut self) -> Result<u8, &'static str> {
        let b = *self.buf.get(self.pos).ok_or("restore data ends early")?;
        self.pos += 1;
        Ok(b)
    }
    fn varint(&mut self) -> Result<u64, &'static str> {
        let (v, n) = varint::get(self.buf.get(self.pos..).unwrap_or(&[]), 0)
            .map_err(|_| "restore data has a bad varint")?;
        self.pos += n;
        Ok(v)
    }
    fn bytes(&mut self, n: u64) -> Result<&'a [u8], &'static str> {
        let n = usize::try_from(n).map_err(|_| "restore data length")?;
        let end =
            self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or("restore data ends early")?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn chunks(&mut self) -> Result<Vec<RawChunk<'a>>, &'static str> {
        let count = self.varint()?;
        // Each chunk takes at least 5 bytes, which bounds the allocation.
        if count > (self.buf.len() / 5) as u64 {
            return Err("restore data chunk count too large");
        }
        let mut v = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let k = self.bytes(4)?;
            let kind = [k[0], k[1], k[2], k[3]];
            if !kind.iter().all(u8::is_ascii_alphabetic) || matches!(&kind, b"IHDR" | b"IDAT" | b"IEND") {
                return Err("restore data has a bad PNG chunk type");
            }
            let len = self.varint()?;
            if len > i32::MAX as u64 {
                return Err("restore data PNG chunk too long");
            }
            v.push(RawChunk { kind, data: self.bytes(len)? });
        }
        Ok(v)
    }
    fn done(&self) -> Result<(), &'static str> {
        if self.pos == self.buf.len() {
            Ok(())
        } else {
            Err("restore data has trailing bytes")
        }
    }
}

fn parse_png_restore(blob: &[u8]) -> Result<PngRestore<'_>, &'static str> {
    let mut b = Blob { buf: blob, pos: 0 };
    let interlaced = match b.u8()? {
        0 => false,
        1 => true,
        _ => return Err("restore data: PNG flags has reserved bits set"),
    };
    let before = b.chunks()?;
    let after = b.chunks()?;
    let n = b.varint()?;
    let trailer = b.bytes(n)?;
    b.done()?;
    Ok(PngRestore { interlaced, before, after, trailer })
}

fn write_png_chunk<W: Write>(w: &mut W, kind: &[u8; 4], data: &[u8]) -> io::Result<()> {
    let len = u32::try_from(data.len()).map_err(|_| invalid_data("PNG chunk too long"))?;
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    w.write_all(&len.to_be_bytes())?;
    w.write_all(kind)?;
    w.write_all(data)?;
    w.write_all(&crc.finalize().to_be_bytes())
}

/// Collects zlib output into `IDAT` chunks of up to `IDAT_MAX` bytes.
struct IdatSink<W: Write> {
    out: W,
    buf: Vec<u8>,
}

const IDAT_MAX: usize = 1 << 16;

impl<W: Write> Write for IdatSink<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        while self.buf.len() >= IDAT_MAX {
            write_png_chunk(&mut self.out, b"IDAT", &self.buf[..IDAT_MAX])?;
            self.buf.drain(..IDAT_MAX);
        }
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> IdatSink<W> {
    fn finish(mut self) -> io::Result<W> {
        if !self.buf.is_empty() {
            write_png_chunk(&mut self.out, b"IDAT", &self.buf)?;
        }
        Ok(self.out)
    }
}

/// Compression level of the deflate segments in restored PNGs (1..=9).
/// Level 4 rather than the usual 6: on the train split's native photos the
/// restored PNGs were 0.85% larger and the whole decode 6-8% faster (the
/// deflate was 15% of it; measured with miniz_oxide, before the backend
/// became zlib-rs: see the workspace Cargo.toml).
const PNG_ZLIB_LEVEL: u32 = 4;

/// The zlib header nzip writes (deflate, 32 KiB window, FLEVEL 1 "fast",
/// as zlib writes it for levels 2-5; decoders ignore it).
const ZLIB_HEADER: [u8; 2] = [0x78, 0x5E];

/// Filters PNG scanlines (the usual heuristic), appending the filter type
/// and the filtered bytes of each row to a buffer.
struct Filterer {
    /// Filtering unit: bytes per complete pixel, at least 1.
    bpp: usize,
    /// Adaptive filtering (else filter type 0 on every row).
    adaptive: bool,
    /// The row above (empty: zeros).
    prev: Vec<u8>,
}

impl Filterer {
    fn new(bpp: usize, adaptive: bool) -> Self {
        Filterer { bpp, adaptive, prev: Vec::new() }
    }

    /// Filter one packed scanline into `out`. `above_unknown` marks the first
    /// row of a segment that does not start the image: the decoder's row
    /// above is a real row this filterer has not seen, so only filters that
    /// do not look at it (None, Sub) are used.
    fn row(&mut self, line: &[u8], above_unknown: bool, out: &mut Vec<u8>) {
        if self.prev.len() != line.len() {
            self.prev.clear();
            self.prev.resize(line.len(), 0);
        }
        if !self.adaptive {
            out.push(0);
            out.extend_from_slice(line);
        } else {
            // The usual heuristic: the filter with the smallest sum of
            // absolute values of the filtered bytes taken as signed (the
            // first such filter on a tie).
            let kinds = if above_unknown { 2 } else { 5 };
            let best_kind = (0..kinds)
                .map(|kind| (filter_cost(kind, self.bpp, &self.prev, line), kind))
                .min()
                .map_or(0, |(_, kind)| kind);
            out.push(best_kind);
            filter_row(best_kind, self.bpp, &self.prev, line, out);
        }
        self.prev.clear();
        self.prev.extend_from_slice(line);
    }

    /// Start a new image (an Adam7 pass): the row above is zeros again.
    fn reset(&mut self) {
        self.prev.clear();
    }
}

/// Adler-32 (RFC 1950) of `data`.
fn adler32(data: &[u8]) -> u32 {
    const BASE: u32 = 65521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 bytes is the most that cannot overflow u32 before the reduction.
    for block in data.chunks(5552) {
        for &x in block {
            a += u32::from(x);
            b += a;
        }
        a %= BASE;
        b %= BASE;
    }
    (b << 16) | a
}

/// The Adler-32 of the concatenation of two byte strings, from theirs and
/// the second's length (as zlib's `adler32_combine`).
fn adler32_combine(adler1: u32, adler2: u32, len2: u64) -> u32 {
    const BASE: u64 = 65521;
    let rem = len2 % BASE;
    let a1 = u64::from(adler1 & 0xffff);
    let mut sum2 = (rem * a1) % BASE;
    let mut sum1 = a1 + u64::from(adler2 & 0xffff) + BASE - 1;
    sum2 += u64::from(adler1 >> 16) + u64::from(adler2 >> 16) + BASE - rem;
    if sum1 >= BASE {
        sum1 -= BASE;
    }
    if sum1 >= BASE {
        sum1 -= BASE;
    }
    if sum2 >= BASE << 1 {
        sum2 -= BASE << 1;
    }
    if sum2 >= BASE {
        sum2 -= BASE;
    }
    (sum1 | (sum2 << 16)) as u32
}

/// Raw deflate of `data`, ending with a sync flush (so that segments can be
/// concatenated) or, for the last segment, with the final block.
fn deflate_segment(data: &[u8], last: bool) -> io::Result<Vec<u8>> {
    use flate2::{Compress, Compression, FlushCompress, Status};
    let mut c = Compress::new(Compression::new(PNG_ZLIB_LEVEL), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    let flush = if last { FlushCompress::Finish } else { FlushCompress::Sync };
    loop {
        let done = c.total_in() as usize;
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity().max(4096));
        }
        let status =
            c.compress_vec(&data[done.min(data.len())..], &mut out, flush).map_err(io::Error::other)?;
        let consumed = c.total_in() as usize >= data.len();
        match status {
            Status::StreamEnd => break,
            // A sync flush is complete once all input is in and there was
            // room left in the output.
            _ if !last && consumed && out.capacity() > out.len() => break,
            _ => {}
        }
    }
    Ok(out)
}

/// The PNG image data of some consecutive rows: a raw deflate segment and
/// the Adler-32 and length of the filtered bytes it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PngSegment {
    deflated: Vec<u8>,
    adler: u32,
    len: u64,
}

/// Filters and deflates whole rows of a (non-interlaced) PNG independently
/// of the other rows, so that stripes can be encoded in parallel and their
/// segments concatenated into one zlib stream ([`Restorer::write_segment`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PngStripeEncoder {
    row_bytes: usize,
    depth: u8,
    bpp: usize,
    adaptive: bool,
    height: u64,
}

impl PngStripeEncoder {
    /// The segment of `rows` (whole rows, canonical layout) that start at
    /// image row `first_row`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` when `rows` is not whole rows or runs past the image.
    pub fn encode(&self, rows: &[u8], first_row: u64) -> io::Result<PngSegment> {
        if self.row_bytes == 0 || !rows.len().is_multiple_of(self.row_bytes) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not whole image rows"));
        }
        let n = (rows.len() / self.row_bytes) as u64;
        if first_row.checked_add(n).is_none_or(|end| end > self.height) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "rows past the end of the image"));
        }
        let mut f = Filterer::new(self.bpp, self.adaptive);
        let mut buf = Vec::with_capacity(rows.len() + n as usize);
        let mut packed = Vec::new();
        for (i, line) in rows.chunks_exact(self.row_bytes).enumerate() {
            let above_unknown = i == 0 && first_row > 0;
            if self.depth < 8 {
                packed.clear();
                pack_row(line, self.depth, &mut packed);
                f.row(&packed, above_unknown, &mut buf);
            } else {
                f.row(line, above_unknown, &mut buf);
            }
        }
        let last = first_row + n == self.height;
        Ok(PngSegment { deflated: deflate_segment(&buf, last)?, adler: adler32(&buf), len: buf.len() as u64 })
    }
}

/// Calls `f(x, a, b, c)` for every byte of a scanline, in order: `x` the
/// byte, `a` the byte one pixel to its left, `b` the byte above it, `c` the
/// byte above `a` (0 where there is none). `prev` and `cur` have the same
/// length. The loops over whole slices let the compiler vectorise them.
#[inline(always)]
fn for_each_byte(bpp: usize, prev: &[u8], cur: &[u8], mut f: impl FnMut(u8, u8, u8, u8)) {
    let s = bpp.min(cur.len());
    for (&x, &b) in cur[..s].iter().zip(&prev[..s]) {
        f(x, 0, b, 0);
    }
    let rest = cur[s..].iter().zip(&cur[..cur.len() - s]).zip(prev[s..].iter().zip(&prev[..prev.len() - s]));
    for ((&x, &a), (&b, &c)) in rest {
        f(x, a, b, c);
    }
}

/// The filtered byte of `x` under PNG filter `kind` (0..=4).
#[inline(always)]
fn filtered(kind: u8, x: u8, a: u8, b: u8, c: u8) -> u8 {
    match kind {
        0 => x,
        1 => x.wrapping_sub(a),
        2 => x.wrapping_sub(b),
        3 => x.wrapping_sub(((u16::from(a) + u16::from(b)) / 2) as u8),
        _ => x.wrapping_sub(paeth(a, b, c)),
    }
}

/// `prev` cut or padded with zeros to `n` bytes.
fn row_above(prev: &[u8], n: usize) -> Vec<u8> {
    let mut p = prev[..prev.len().min(n)].to_vec();
    p.resize(n, 0);
    p
}

/// Calls `f` with every byte of PNG filter `kind` (0..=4) of `cur` given the
/// row above `prev` (zeros beyond its end), in order: one loop per kind, so
/// that each is a loop without branches.
#[inline(always)]
fn each_filtered(kind: u8, bpp: usize, prev: &[u8], cur: &[u8], mut f: impl FnMut(u8)) {
    if prev.len() != cur.len() {
        return each_filtered(kind, bpp, &row_above(prev, cur.len()), cur, f);
    }
    match kind {
        0 => cur.iter().for_each(|&x| f(x)),
        1 => for_each_byte(bpp, prev, cur, |x, a, b, c| f(filtered(1, x, a, b, c))),
        2 => for_each_byte(bpp, prev, cur, |x, a, b, c| f(filtered(2, x, a, b, c))),
        3 => for_each_byte(bpp, prev, cur, |x, a, b, c| f(filtered(3, x, a, b, c))),
        _ => for_each_byte(bpp, prev, cur, |x, a, b, c| f(filtered(4, x, a, b, c))),
    }
}

/// Appends PNG filter `kind` (0..=4) of `cur` given the row above `prev`
/// (zeros beyond its end) to `out`.
fn filter_row(kind: u8, bpp: usize, prev: &[u8], cur: &[u8], out: &mut Vec<u8>) {
    out.reserve(cur.len());
    each_filtered(kind, bpp, prev, cur, |v| out.push(v));
}

/// The heuristic's cost of PNG filter `kind` on `cur` (`prev` as for
/// [`filter_row`]): the sum of the filtered bytes' magnitudes taken as signed.
fn filter_cost(kind: u8, bpp: usize, prev: &[u8], cur: &[u8]) -> u64 {
    let mut sum = 0u64;
    each_filtered(kind, bpp, prev, cur, |v| sum += u64::from((v as i8).unsigned_abs()));
    sum
}

#[inline(always)]
fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

/// The Adam7 passes: (x0, y0, dx, dy).
const ADAM7: [(usize, usize, usize, usize); 7] =
    [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)];

// ---------------------------------------------------------------------------
// PNM
// ---------------------------------------------------------------------------

fn is_pnm_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0B | 0x0C)
}

/// What a PNM/PAM header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PnmHeader {
    width: u32,
    height: u32,
    color: ColorType,
    maxval: u16,
    /// Header length in bytes (up to and including the whitespace after the
    /// maxval, or the newline after `ENDHDR`).
    len: usize,
}

/// Parse a decimal number of at most 10 digits.
fn pnm_number(s: &[u8]) -> Option<u64> {
    if s.is_empty() || s.len() > 10 || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0u64, |v, &d| v * 10 + u64::from(d - b'0')))
}

/// Parse the header of a binary PGM (P5), PPM (P6) or PAM (P7) at the start of `data`.
fn parse_pnm_header(data: &[u8]) -> Result<PnmHeader, NotAnImage> {
    let bad = NotAnImage("not a PNM header nzip can restore");
    let data = &data[..data.len().min(MAX_PNM_HEADER)];
    let kind = match data {
        [b'P', k @ (b'5' | b'6' | b'7'), ..] => *k,
        _ => return Err(bad),
    };
    let (width, height, color, maxval, len) = if kind == b'7' {
        // PAM: lines of "KEY value" until ENDHDR.
        let mut pos = 2;
        if data.get(pos) != Some(&b'\n') {
            return Err(bad);
        }
        pos += 1;
        let (mut w, mut h, mut d, mut m) = (None, None, None, None);
        loop {
            let nl = data[pos..].iter().position(|&b| b == b'\n').ok_or(bad)?;
            let line = &data[pos..pos + nl];
            pos += nl + 1;
            let mut words = line.split(|&b| is_pnm_space(b)).filter(|w| !w.is_empty());
            let Some(key) = words.next() else { continue };
            if key.starts_with(b"#") {
                continue;
            }
            let value = |words: &mut dyn Iterator<Item = &[u8]>| words.next().and_then(pnm_number);
            match key {
                b"ENDHDR" => break,
                b"WIDTH" => w = Some(value(&mut words).ok_or(bad)?),
                b"HEIGHT" => h = Some(value(&mut words).ok_or(bad)?),
                b"DEPTH" => d = Some(value(&mut words).ok_or(bad)?),
                b"MAXVAL" => m = Some(value(&mut words).ok_or(bad)?),
                b"TUPLTYPE" => {}
                _ => return Err(bad),
            }
        }
        let color = match d.ok_or(bad)? {
            1 => ColorType::Gray,
            2 => ColorType::GrayAlpha,
            3 => ColorType::Rgb,
            4 => ColorType::Rgba,
            _ => return Err(NotAnImage("PAM depth other than 1..=4")),
        };
        (w.ok_or(bad)?, h.ok_or(bad)?, color, m.ok_or(bad)?, pos)
    } else {
        // PGM/PPM: three numbers separated by whitespace and comments, then
        // exactly one whitespace byte.
        let mut pos = 2;
        let mut nums = [0u64; 3];
        for n in &mut nums {
            loop {
                match data.get(pos) {
                    Some(&b) if is_pnm_space(b) => pos += 1,
                    Some(b'#') => {
                        while data.get(pos).is_some_and(|&b| b != b'\n' && b != b'\r') {
                            pos += 1;
                        }
                    }
                    Some(_) => break,
                    None => return Err(bad),
                }
            }
            let start = pos;
            while data.get(pos).is_some_and(u8::is_ascii_digit) {
                pos += 1;
            }
            *n = pnm_number(&data[start..pos]).ok_or(bad)?;
        }
        if !data.get(pos).is_some_and(|&b| is_pnm_space(b)) {
            return Err(bad);
        }
        let color = if kind == b'5' { ColorType::Gray } else { ColorType::Rgb };
        (nums[0], nums[1], color, nums[2], pos + 1)
    };
    let width = u32::try_from(width).ok().filter(|&w| w > 0).ok_or(bad)?;
    let height = u32::try_from(height).ok().filter(|&h| h > 0).ok_or(bad)?;
    let maxval = u16::try_from(maxval).ok().filter(|&m| m > 0).ok_or(bad)?;
    Ok(PnmHeader { width, height, color, maxval, len })
}

fn parse_pnm(data: &[u8]) -> Result<Image, NotAnImage> {
    let h = parse_pnm_header(data)?;
    let bps: u64 = if h.maxval < 256 { 1 } else { 2 };
    let size = u64::from(h.width) * u64::from(h.height) * u64::from(h.color.channels()) * bps;
    if size > MAX_IMAGE_BYTES {
        return Err(NotAnImage("image larger than the image path's limit"));
    }
    let end = h
        .len
        .checked_add(size as usize)
        .filter(|&e| e <= data.len())
        .ok_or(NotAnImage("PNM is truncated"))?;
    let samples = &data[h.len..end];
    let within = if bps == 1 {
        h.maxval == 255 || samples.iter().all(|&s| u16::from(s) <= h.maxval)
    } else {
        h.maxval == u16::MAX || samples.chunks_exact(2).all(|s| u16::from_be_bytes([s[0], s[1]]) <= h.maxval)
    };
    if !within {
        return Err(NotAnImage("PNM samples above maxval"));
    }
    let trailer = &data[end..];
    let mut restore = Vec::with_capacity(h.len + trailer.len() + 10);
    varint::put(&mut restore, h.len as u64);
    restore.extend_from_slice(&data[..h.len]);
    varint::put(&mut restore, trailer.len() as u64);
    restore.extend_from_slice(trailer);
    if restore.len() > MAX_RESTORE_BYTES {
        return Err(NotAnImage("bytes after the PNM image larger than the image path's limit"));
    }
    Ok(Image {
        width: h.width,
        height: h.height,
        color: h.color,
        maxval: h.maxval,
        source: SourceFormat::Pnm,
        restore,
        samples: samples.to_vec(),
    })
}

// ---------------------------------------------------------------------------
// Restoring
// ---------------------------------------------------------------------------

enum Sink<W: Write> {
    Pnm {
        out: W,
        trailer: Vec<u8>,
    },
    Png {
        idat: IdatSink<W>,
        enc: PngStripeEncoder,
        /// Adler-32 of the filtered bytes so far.
        adler: u32,
        after: Vec<(Vec<u8>, [u8; 4])>,
        trailer: Vec<u8>,
    },
    /// Interlaced PNG: the rows are kept until the end (Adam7 needs them all).
    PngInterlaced {
        idat: IdatSink<W>,
        enc: PngStripeEncoder,
        samples: Vec<u8>,
        after: Vec<(Vec<u8>, [u8; 4])>,
        trailer: Vec<u8>,
    },
}

/// Writes an image file back from its description, restore blob and samples
/// (spec §4.7): [`Restorer::new`] writes everything before the samples,
/// [`Restorer::write_rows`] takes whole rows in the canonical layout, and
/// [`Restorer::finish`] writes the rest.
pub struct Restorer<W: Write> {
    sink: Sink<W>,
    row_bytes: usize,
    channels: usize,
    bytes_per_sample: usize,
    rows_left: u64,
}

impl<W: Write> std::fmt::Debug for Restorer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restorer")
            .field("row_bytes", &self.row_bytes)
            .field("rows_left", &self.rows_left)
            .finish()
    }
}

impl<W: Write> Restorer<W> {
    /// Start writing the file described by `info`, whose decoded restore blob
    /// is `restore`.
    ///
    /// # Errors
    ///
    /// `Err(what)` when the blob is malformed or disagrees with `info`;
    /// nothing has been written then. I/O errors come later.
    pub fn new(mut out: W, info: &ImageInfo, restore: &[u8]) -> Result<Self, &'static str> {
        let bps = info.bytes_per_sample() as usize;
        let channels = usize::from(info.color.channels());
        let row_bytes = usize::try_from(info.row_bytes()).map_err(|_| "image row too long")?;
        let sink = match info.source {
            SourceFormat::Pnm => {
                let mut b = Blob { buf: restore, pos: 0 };
                let n = b.varint()?;
                let header = b.bytes(n)?;
                let n = b.varint()?;
                let trailer = b.bytes(n)?;
                b.done()?;
                let h = parse_pnm_header(header).map_err(|_| "restore data: bad PNM header")?;
                if h.len != header.len()
                    || (h.width, h.height, h.color, h.maxval)
                        != (info.width, info.height, info.color, info.maxval)
                {
                    return Err("restore data: PNM header disagrees with the image description");
                }
                out.write_all(header).map_err(|_| "write error")?;
                Sink::Pnm { out, trailer: trailer.to_vec() }
            }
            SourceFormat::Png => {
                let r = parse_png_restore(restore)?;
                let depth = info.bit_depth() as u8;
                let code = png_color_code(info.color).ok_or("colour type has no PNG form")?;
                if png_color(code, depth).is_none() || u32::from(info.maxval) != (1 << depth) - 1 {
                    return Err("image description is not a valid PNG colour type and depth");
                }
                if info.width > i32::MAX as u32 || info.height > i32::MAX as u32 {
                    return Err("PNG dimensions above 2^31 - 1");
                }
                let mut ihdr = Vec::with_capacity(13);
                ihdr.extend_from_slice(&info.width.to_be_bytes());
                ihdr.extend_from_slice(&info.height.to_be_bytes());
                ihdr.extend_from_slice(&[depth, code, 0, 0, u8::from(r.interlaced)]);
                let mut head = PNG_SIGNATURE.to_vec();
                write_png_chunk(&mut head, b"IHDR", &ihdr).map_err(|_| "PNG header")?;
                for c in &r.before {
                    write_png_chunk(&mut head, &c.kind, c.data).map_err(|_| "PNG chunk")?;
                }
                out.write_all(&head).map_err(|_| "write error")?;
                let enc = PngStripeEncoder {
                    row_bytes,
                    depth,
                    bpp: (channels * bps).max(1),
                    adaptive: depth >= 8 && info.color != ColorType::Indexed,
                    height: u64::from(info.height),
                };
                let mut idat = IdatSink { out, buf: Vec::new() };
                idat.buf.extend_from_slice(&ZLIB_HEADER);
                let after = r.after.iter().map(|c| (c.data.to_vec(), c.kind)).collect();
                if r.interlaced {
                    let size = usize::try_from(info.content_bytes()).map_err(|_| "image too large")?;
                    Sink::PngInterlaced {
                        idat,
                        enc,
                        samples: Vec::with_capacity(size.min(1 << 28)),
                        after,
                        trailer: r.trailer.to_vec(),
                    }
                } else {
                    Sink::Png { idat, enc, adler: 1, after, trailer: r.trailer.to_vec() }
                }
            }
            _ => return Err("unknown image source format"),
        };
        Ok(Restorer { sink, row_bytes, channels, bytes_per_sample: bps, rows_left: u64::from(info.height) })
    }

    /// True when the whole image is held until [`Restorer::finish`] (an
    /// interlaced PNG): the caller bounds the image size first.
    pub fn buffers_whole_image(&self) -> bool {
        matches!(self.sink, Sink::PngInterlaced { .. })
    }

    /// The encoder of this image's PNG data, for a PNG that is not
    /// interlaced: stripes can then be encoded in parallel
    /// ([`PngStripeEncoder::encode`]) and written in order
    /// ([`Restorer::write_segment`]).
    pub fn png_stripes(&self) -> Option<PngStripeEncoder> {
        match &self.sink {
            Sink::Png { enc, .. } => Some(*enc),
            _ => None,
        }
    }

    fn take_rows(&mut self, n: u64) -> io::Result<()> {
        if n > self.rows_left {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "more rows than the image has"));
        }
        self.rows_left -= n;
        Ok(())
    }

    /// Write the segment of the next `rows` rows, made by this image's
    /// [`Restorer::png_stripes`] encoder for those rows.
    ///
    /// # Errors
    ///
    /// I/O errors, and `InvalidInput` when the image is not a non-interlaced
    /// PNG or has fewer rows left.
    pub fn write_segment(&mut self, rows: u64, seg: &PngSegment) -> io::Result<()> {
        self.take_rows(rows)?;
        match &mut self.sink {
            Sink::Png { idat, adler, .. } => {
                idat.write_all(&seg.deflated)?;
                *adler = adler32_combine(*adler, seg.adler, seg.len);
                Ok(())
            }
            _ => Err(io::Error::new(io::ErrorKind::InvalidInput, "not a non-interlaced PNG")),
        }
    }

    /// Write whole rows of samples (canonical layout).
    ///
    /// # Errors
    ///
    /// I/O errors, and `InvalidInput` when `rows` is not whole rows or holds
    /// more rows than the image has left.
    pub fn write_rows(&mut self, rows: &[u8]) -> io::Result<()> {
        if self.row_bytes == 0 || !rows.len().is_multiple_of(self.row_bytes) {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not whole image rows"));
        }
        let n = (rows.len() / self.row_bytes) as u64;
        if let Some(enc) = self.png_stripes() {
            if n > self.rows_left {
                return Err(io::Error::new(io::ErrorKind::InvalidInput, "more rows than the image has"));
            }
            let first = enc.height - self.rows_left;
            let seg = enc.encode(rows, first)?;
            return self.write_segment(n, &seg);
        }
        self.take_rows(n)?;
        match &mut self.sink {
            Sink::Pnm { out, .. } => out.write_all(rows),
            Sink::PngInterlaced { samples, .. } => {
                samples.extend_from_slice(rows);
                Ok(())
            }
            Sink::Png { .. } => Ok(()),
        }
    }

    /// Write what follows the samples; returns the output.
    ///
    /// # Errors
    ///
    /// I/O errors, and `InvalidInput` when rows are missing.
    pub fn finish(self) -> io::Result<W> {
        if self.rows_left != 0 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "image rows missing"));
        }
        let (mut idat, adler, after, trailer) = match self.sink {
            Sink::Pnm { mut out, trailer } => {
                out.write_all(&trailer)?;
                return Ok(out);
            }
            Sink::Png { idat, adler, after, trailer, .. } => (idat, adler, after, trailer),
            Sink::PngInterlaced { mut idat, enc, samples, after, trailer } => {
                let pixel = self.channels * self.bytes_per_sample;
                let width = self.row_bytes / pixel.max(1);
                let height = samples.len().checked_div(self.row_bytes).unwrap_or(0);
                let mut f = Filterer::new(enc.bpp, enc.adaptive);
                let mut buf = Vec::with_capacity(samples.len() + 7 * height);
                let mut line = Vec::new();
                let mut packed = Vec::new();
                for &(x0, y0, dx, dy) in &ADAM7 {
                    if x0 >= width || y0 >= height {
                        continue;
                    }
                    f.reset();
                    for y in (y0..height).step_by(dy) {
                        line.clear();
                        let row = &samples[y * self.row_bytes..(y + 1) * self.row_bytes];
                        for x in (x0..width).step_by(dx) {
                            line.extend_from_slice(&row[x * pixel..(x + 1) * pixel]);
                        }
                        if enc.depth < 8 {
                            packed.clear();
                            pack_row(&line, enc.depth, &mut packed);
                            f.row(&packed, false, &mut buf);
                        } else {
                            f.row(&line, false, &mut buf);
                        }
                    }
                }
                idat.write_all(&deflate_segment(&buf, true)?)?;
                let adler = adler32(&buf);
                (idat, adler, after, trailer)
            }
        };
        idat.write_all(&adler.to_be_bytes())?;
        let mut out = idat.finish()?;
        for (data, kind) in &after {
            write_png_chunk(&mut out, kind, data)?;
        }
        write_png_chunk(&mut out, b"IEND", &[])?;
        out.write_all(&trailer)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
