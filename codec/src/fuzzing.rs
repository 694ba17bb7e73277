//! Fuzz entry points, as plain functions.
//!
//! The cargo-fuzz targets in `fuzz/fuzz_targets/` are one-line wrappers around
//! these functions, and `codec/tests/fuzz_regressions.rs` replays every file
//! under `fuzz/regressions/<target>/` through the same function, so a crash
//! found by the fuzzer and its regression test run exactly the same code.
//!
//! Each function accepts any bytes. It returns normally when the library
//! behaved (an error is a fine answer to bad input) and **panics** when it
//! found a bug: a panic inside the library (the law "never panic on input",
//! `DESIGN.md` §2), or a broken property checked here (a decode that is not
//! deterministic, a round trip that loses data, output larger than the bound
//! of `spec/FORMAT.md` §7, an error whose offset lies outside the input, ...).
//!
//! This module is not part of the stable API (`#[doc(hidden)]`).
//!
//! Costs are kept low so that the fuzzer runs thousands of inputs a second:
//! the decoder runs with small [`Limits`], and [`roundtrip`] mostly uses the
//! cheap levels 1..=3 and bounds the number of chunks, because the `cm` model
//! allocates its tables for every chunk (`models::cm::memory_bytes`: about
//! 4 MiB at level 1, 56 MiB at level 6, 212 MiB at level 9).

// A fuzz entry point reports a bug by panicking: that is its job.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use crate::{CoderKind, CompressOptions, DecompressOptions, Error};
use nzip_format::{self as format, Chunk, Header, Limits, Reader, Tail, Writer};

/// Limits of the container-level target: small, so that hostile sizes hit
/// them quickly.
pub const CONTAINER_LIMITS: Limits = Limits { max_chunk_size: 1 << 16, max_ancillary_size: 1 << 12 };

/// Limits of the decode target: chunks up to 1 MiB.
pub const DECODE_LIMITS: Limits = Limits { max_chunk_size: 1 << 20, max_ancillary_size: 1 << 16 };

/// Most chunks [`roundtrip`] makes of one input (the chunk size is raised
/// above the one drawn from the input when needed), so that the per-chunk
/// model allocation does not dominate an iteration.
pub const ROUNDTRIP_MAX_CHUNKS: usize = 16;

/// Largest content [`roundtrip`] compresses with levels 4..=9.
pub const ROUNDTRIP_MAX_HIGH_LEVEL_LEN: usize = 4096;

/// One frame as the [`Reader`] returned it, without stream offsets.
#[derive(Debug, PartialEq, Eq)]
struct ParsedFrame {
    header: Header,
    /// The image description of an image frame.
    image: Option<format::ImageInfo>,
    /// The image frame's value map, if it has one.
    value_map: Option<format::ValueMap>,
    /// (kind, raw_len, raw_crc, data) of every chunk.
    chunks: Vec<(format::ChunkKind, u32, u32, Vec<u8>)>,
    tail: Tail,
}

fn strip(chunk: Chunk) -> (format::ChunkKind, u32, u32, Vec<u8>) {
    (chunk.kind, chunk.raw_len, chunk.raw_crc, chunk.data)
}

/// Read every frame of `data` that is complete and valid, stopping at the
/// first error. Returns the frames and the error (if any) with the reader's
/// offset when it happened.
fn read_frames(data: &[u8], limits: Limits) -> (Vec<ParsedFrame>, Option<format::Error>) {
    let mut reader = Reader::new(data, limits);
    let mut frames = Vec::new();
    loop {
        let header = match reader.next_frame() {
            Ok(Some(h)) => h,
            Ok(None) => {
                assert_eq!(
                    reader.offset(),
                    data.len() as u64,
                    "a stream that ends cleanly is consumed whole"
                );
                return (frames, None);
            }
            Err(e) => return (frames, Some(e)),
        };
        assert!(header.validate().is_ok(), "the reader returned a header that fails validation: {header:?}");
        assert!(header.chunk_size <= limits.max_chunk_size, "the reader ignored max_chunk_size");
        let image = reader.image().cloned();
        assert_eq!(
            image.is_some(),
            header.medium == format::Medium::Image,
            "an image frame has a description, others none"
        );
        if let Some(info) = &image {
            assert!(
                info.check_header(&header).is_ok(),
                "the reader accepted an image that disagrees with HEAD"
            );
        }
        let value_map = reader.value_map().cloned();
        if let Some(map) = &value_map {
            let info = image.as_ref().expect("a value map only in an image frame");
            assert!(
                map.validate(info).is_ok(),
                "the reader accepted a value map that does not fit its image"
            );
            if map.coding == format::RestoreCoding::Raw {
                if let Ok(values) = map.values(&map.list, info.maxval, 0) {
                    assert_eq!(values.len() as u32, map.count, "a value list of another count");
                    assert!(values.windows(2).all(|w| w[0] < w[1]), "a value list out of order");
                    assert_eq!(format::ValueMap::encode_list(&values).as_ref(), Some(&map.list));
                }
            }
        }
        let mut chunks = Vec::new();
        loop {
            match reader.next_chunk() {
                Ok(Some(chunk)) => {
                    assert_eq!(chunk.index, chunks.len() as u64, "chunk indices count from 0");
                    assert!(chunk.raw_len >= 1 && chunk.raw_len <= header.chunk_size);
                    chunks.push(strip(chunk));
                }
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
        let tail = *reader.tail().expect("a frame whose chunks ended has a tail");
        assert_eq!(tail.chunk_count, chunks.len() as u64, "the reader accepted a wrong chunk count");
        let content: u64 = chunks.iter().map(|c| u64::from(c.1)).sum();
        assert_eq!(tail.content_size, content, "the reader accepted a wrong content size");
        if let Some(info) = &image {
            assert_eq!(tail.content_size, info.content_bytes(), "the reader accepted a partial image");
        }
        frames.push(ParsedFrame { header, image, value_map, chunks, tail });
    }
}

/// Check what every error must satisfy: it can be shown, and the offset it
/// names lies inside the input (or just past its end).
fn check_format_error(e: &format::Error, len: usize) {
    let _ = e.to_string();
    let offset = match e {
        format::Error::Truncated { offset }
        | format::Error::Malformed { offset, .. }
        | format::Error::Checksum { offset, .. } => Some(*offset),
        _ => None,
    };
    if let Some(offset) = offset {
        assert!(offset <= len as u64, "error offset {offset} is past the end of a {len}-byte input: {e}");
    }
    assert!(!matches!(e, format::Error::InvalidInput(_)), "reading input gave a caller-misuse error: {e}");
    assert!(!matches!(e, format::Error::Io(_)), "reading from memory gave an I/O error: {e}");
}

fn check_codec_error(e: &Error, len: usize) {
    let _ = e.to_string();
    match e {
        Error::Format(f) => check_format_error(f, len),
        Error::InvalidArgument(m) => panic!("decoding input gave an invalid-argument error: {m}"),
        Error::Io(io) => panic!("decoding from memory into memory gave an I/O error: {io}"),
        Error::Model(m) => panic!("decoding input gave a model error: {m}"),
    }
}

/// A copy of `data` in which the CRC of every section that is structurally
/// intact (a prelude, then tag, length and payload within the input) is
/// recomputed, from the start until the structure breaks.
///
/// Random mutations almost never keep a section CRC valid, so without this
/// the fuzzer would rarely get past the CRC checks to the header fields, the
/// chunk rules and the model decoders. [`container_parse`] and [`decode`] run
/// their checks on both the input and its repaired copy.
pub fn repair_section_crcs(data: &[u8]) -> Vec<u8> {
    let mut out = data.to_vec();
    let mut p = 0;
    'frames: while out.get(p..p + format::MAGIC.len()) == Some(&format::MAGIC[..]) {
        p += format::PRELUDE_LEN;
        loop {
            let Some(tag) = out.get(p..p + 4) else { break 'frames };
            let is_tail = tag == format::tag::TAIL;
            let Ok((len, n)) = format::varint::get(out.get(p + 4..).unwrap_or(&[]), 0) else { break 'frames };
            let end = usize::try_from(len).ok().and_then(|len| (p + 4 + n).checked_add(len));
            let Some(end) = end.filter(|&e| e.checked_add(4).is_some_and(|e4| e4 <= out.len())) else {
                break 'frames;
            };
            let crc = crc32fast::hash(&out[p..end]);
            out[end..end + 4].copy_from_slice(&crc.to_le_bytes());
            p = end + 4;
            if is_tail {
                break;
            }
        }
    }
    out
}

/// Fuzz target `container_parse`: walk every frame and section of `data`
/// with [`nzip_format::Reader`] under small limits.
///
/// Runs on `data` and on [`repair_section_crcs`]`(data)`.
///
/// Properties: no panic; a stream that ends cleanly is consumed whole; what
/// the reader accepts (header, chunks, tail) obeys the rules it claims to
/// check; errors name offsets inside the input; and every complete frame
/// written again with [`nzip_format::Writer`] is accepted by the writer and
/// reads back identically (the writer and reader agree on the format).
pub fn container_parse(data: &[u8]) {
    container_parse_checks(data);
    let repaired = repair_section_crcs(data);
    if repaired != data {
        container_parse_checks(&repaired);
    }
}

fn container_parse_checks(data: &[u8]) {
    let (frames, err) = read_frames(data, CONTAINER_LIMITS);
    if let Some(e) = &err {
        check_format_error(e, data.len());
    }
    if frames.is_empty() {
        return;
    }
    let mut rewritten = Vec::new();
    for f in &frames {
        let mut w = match &f.image {
            Some(info) => {
                Writer::new_image_mapped(&mut rewritten, f.header.clone(), info, f.value_map.as_ref())
            }
            None => Writer::new(&mut rewritten, f.header.clone()),
        }
        .expect("the writer accepts a header the reader accepted");
        for (kind, raw_len, raw_crc, payload) in &f.chunks {
            w.write_chunk(*kind, *raw_len, *raw_crc, payload)
                .expect("the writer accepts a chunk the reader accepted");
        }
        w.finish(f.tail.content_xxh64).expect("the writer accepts a frame end the reader accepted");
    }
    let (again, err) = read_frames(&rewritten, CONTAINER_LIMITS);
    if let Some(e) = err {
        panic!("the reader rejects what the writer wrote from accepted frames: {e}");
    }
    assert_eq!(again, frames, "frames differ after writing them again");
}

/// Most content bytes the [`decode`] target lets one input produce: a few
/// bytes of `.nz` can legitimately stand for megabytes of content, and the
/// fuzzer should spend its time on parsing, not on decoding long outputs.
pub const DECODE_MAX_OUTPUT: usize = 4 << 20;

/// A `Write` into memory that fails once it would hold more than `cap` bytes.
#[derive(Debug)]
struct CappedSink {
    buf: Vec<u8>,
    cap: usize,
    overflowed: bool,
}

impl std::io::Write for CappedSink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + data.len() > self.cap {
            self.overflowed = true;
            return Err(std::io::Error::other("fuzz output cap reached"));
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Decompress into a [`CappedSink`]; `None` when the cap was reached.
fn decode_capped(data: &[u8], opts: &DecompressOptions) -> Option<crate::Result<Vec<u8>>> {
    let mut sink = CappedSink { buf: Vec::new(), cap: DECODE_MAX_OUTPUT, overflowed: false };
    let r = crate::decompress(data, &mut sink, opts, &mut |_| {});
    if sink.overflowed {
        assert!(r.is_err(), "decompress ignored a write error");
        return None;
    }
    Some(r.map(|_| sink.buf))
}

/// Fuzz target `decode`: decompress `data` with small limits, and list it;
/// then the same with [`repair_section_crcs`]`(data)`, which lets damaged
/// chunk data reach the entropy decoders and the model.
///
/// Properties: no panic; only corrupt-input, unsupported or limit errors
/// (never I/O or invalid-argument errors from memory buffers); when decoding
/// succeeds, it succeeds again with the same bytes, with two threads too,
/// and [`crate::list`] accepts the stream and agrees on the sizes. Inputs
/// that decode to more than [`DECODE_MAX_OUTPUT`] bytes are cut short.
pub fn decode(data: &[u8]) {
    decode_checks(data);
    let repaired = repair_section_crcs(data);
    if repaired != data {
        decode_checks(&repaired);
    }
}

fn decode_checks(data: &[u8]) {
    let opts = DecompressOptions {
        threads: 1,
        limits: DECODE_LIMITS,
        max_image_bytes: DECODE_MAX_OUTPUT as u64,
        ..DecompressOptions::default()
    };
    let listed = crate::list(data, &opts);
    if let Err(e) = &listed {
        check_codec_error(e, data.len());
    }
    let Some(first) = decode_capped(data, &opts) else { return };
    let content = match first {
        Ok(c) => c,
        Err(e) => {
            check_codec_error(&e, data.len());
            return;
        }
    };
    let again = decode_capped(data, &opts)
        .expect("same output size")
        .expect("a stream that decoded once decodes again");
    assert!(again == content, "decoding the same stream twice gave different bytes");
    let threaded = decode_capped(data, &DecompressOptions { threads: 2, ..opts })
        .expect("same output size")
        .expect("a stream that decodes with 1 thread decodes with 2");
    assert!(threaded == content, "decoding with 2 threads gave different bytes than with 1");
    let frames = listed.expect("list accepts a stream that decompress accepts");
    let content_bytes: u64 = frames.iter().map(|f| f.content_bytes).sum();
    let compressed_bytes: u64 = frames.iter().map(|f| f.compressed_bytes).sum();
    // An image frame's content is its samples; the file written is larger.
    if frames.iter().all(|f| f.header.medium == format::Medium::Bytes) {
        assert_eq!(content_bytes, content.len() as u64, "list and decompress disagree on the content size");
    }
    assert_eq!(compressed_bytes, data.len() as u64, "list's frame sizes do not add up to the stream");
}

/// The options [`roundtrip`] derives from the first bytes of its input.
#[derive(Debug, Clone)]
pub struct RoundtripCase<'a> {
    /// Compression options (threads 1 or 2; chunk size small).
    pub compress: CompressOptions,
    /// Whether the header records the content size (`compress(.., Some(len), ..)`).
    pub declare_size: bool,
    /// Threads used to decompress (1 or 2).
    pub decode_threads: usize,
    /// Whether to compress again with the other thread count and compare.
    pub cross_threads: bool,
    /// The content.
    pub content: &'a [u8],
}

/// Derive a [`RoundtripCase`] from fuzz input: 4 option bytes, then the
/// content. `None` when the input is shorter than 4 bytes.
///
/// - byte 0: the level: `1 + b % 3` for `b < 0xF0`, else `4 + b % 6` (levels
///   4..=9, one input in 16, and only for contents of at most
///   [`ROUNDTRIP_MAX_HIGH_LEVEL_LEN`] bytes; larger ones fall back to 1..=3);
/// - byte 1: bit 0 coder (range/ans), bit 1 compress threads (1/2), bit 2
///   decompress threads (1/2), bit 3 declare the content size, bit 4 compress
///   again with the other thread count; bit 5 use the built-in `byte-gru-s`
///   model (method `lm`, range coder) instead of `cm`; bits 6..=7 unused;
/// - bytes 2 and 3: the chunk size, `1 + u16le % 4096`, raised to
///   `⌈len / ROUNDTRIP_MAX_CHUNKS⌉` when needed.
pub fn roundtrip_case(data: &[u8]) -> Option<RoundtripCase<'_>> {
    let (&[b0, b1, b2, b3], content) = data.split_first_chunk::<4>()?;
    let level =
        if b0 >= 0xF0 && content.len() <= ROUNDTRIP_MAX_HIGH_LEVEL_LEN { 4 + b0 % 6 } else { 1 + b0 % 3 };
    let lm = b1 & 32 != 0;
    let coder = if b1 & 1 == 0 || lm { CoderKind::Range } else { CoderKind::Ans };
    let threads = if b1 & 2 == 0 { 1 } else { 2 };
    let drawn = 1 + u32::from(u16::from_le_bytes([b2, b3])) % 4096;
    let least = content.len().div_ceil(ROUNDTRIP_MAX_CHUNKS).max(1);
    let chunk_size = drawn.max(u32::try_from(least).unwrap_or(u32::MAX));
    Some(RoundtripCase {
        compress: CompressOptions {
            level,
            coder,
            threads,
            chunk_size: Some(chunk_size),
            model: lm.then(|| "byte-gru-s".to_owned()),
            images: true,
            ..CompressOptions::default()
        },
        declare_size: b1 & 8 != 0,
        decode_threads: if b1 & 4 == 0 { 1 } else { 2 },
        cross_threads: b1 & 16 != 0,
        content,
    })
}

/// Fuzz target `roundtrip`: compress the input (after 4 option bytes, see
/// [`roundtrip_case`]) and decompress it.
///
/// Properties: compression succeeds; the stats are right; the output is at
/// most `content + FRAME_OVERHEAD_FIXED + FRAME_OVERHEAD_PER_CHUNK × chunks`
/// (spec §7); the output does not depend on the thread count; decompression
/// gives the content back exactly, with either thread count; `list` agrees.
/// A content taken as an image (an image frame is written only when smaller
/// than the content) must come back as the same image
/// ([`crate::media::image::equivalent`]).
pub fn roundtrip(data: &[u8]) {
    let Some(case) = roundtrip_case(data) else { return };
    let content = case.content;
    let declared = case.declare_size.then_some(content.len() as u64);
    let mut packed = Vec::new();
    let stats = crate::compress(content, &mut packed, declared, &case.compress, &mut |_| {})
        .unwrap_or_else(|e| panic!("compression failed with {:?}: {e}", case.compress));
    assert_eq!(stats.content_bytes, content.len() as u64, "stats: content bytes");
    assert_eq!(stats.compressed_bytes, packed.len() as u64, "stats: compressed bytes");
    let opts = DecompressOptions { threads: case.decode_threads, ..DecompressOptions::default() };
    let frames = crate::list(&packed[..], &opts).expect("list accepts our own output");
    assert_eq!(frames.len(), 1);
    if frames[0].header.medium == format::Medium::Image {
        assert!(packed.len() < content.len(), "an image frame is written only when smaller");
        let restored = crate::decompress_to_vec(&packed, &opts).expect("our own image frame decodes");
        assert!(crate::media::image::equivalent(content, &restored), "the image did not come back");
        return;
    }
    let chunk_size = case.compress.chunk_size.map_or(1, |c| c as usize);
    let chunks = content.len().div_ceil(chunk_size) as u64;
    assert_eq!(stats.chunks_stored + stats.chunks_modelled, chunks, "stats: chunk count");
    let bound =
        content.len() as u64 + format::FRAME_OVERHEAD_FIXED + format::FRAME_OVERHEAD_PER_CHUNK * chunks;
    assert!(
        packed.len() as u64 <= bound,
        "{} bytes compressed to {} > bound {bound} ({chunks} chunks, {:?})",
        content.len(),
        packed.len(),
        case.compress
    );
    if case.cross_threads {
        let other = CompressOptions { threads: 3 - case.compress.threads, ..case.compress.clone() };
        let mut again = Vec::new();
        crate::compress(content, &mut again, declared, &other, &mut |_| {})
            .expect("compression with other threads");
        assert!(again == packed, "compressed bytes depend on the thread count");
    }
    let restored = crate::decompress_to_vec(&packed, &opts)
        .unwrap_or_else(|e| panic!("decompressing our own output failed ({:?}): {e}", case.compress));
    assert!(restored == content, "round trip changed the content ({:?})", case.compress);
    assert_eq!(frames[0].content_bytes, content.len() as u64);
    assert_eq!(frames[0].chunks, chunks);
}
