//! Chunked, parallel, streaming compression into the `.nz` container.
//!
//! The content is cut into chunks of exactly `chunk_size` bytes (the last may
//! be shorter). Chunk boundaries depend only on the content length and the
//! options recorded in the header, never on the thread count: a batch of up to
//! `threads` chunks is coded in parallel, and the results are written in
//! order, so `-T1` and `-T8` produce the same bytes. Each chunk is coded
//! independently (the model starts from its initial state), and stored raw if
//! coding would not make it smaller.

use crate::entropy::binary::{AnsBitDecoder, AnsBitEncoder, RangeBitDecoder, RangeBitEncoder, BIT_PRECISION};
use crate::models::cm::Prior;
use crate::models::cmlm::CmLm;
use crate::models::image::ImgNet;
use crate::models::{cm, lm};
use crate::nn::gru::GruLm;
use crate::nn::package::BuiltinKind;
use crate::nn::{package, Backend};
use crate::{CoderKind, Error, Result};
use nzip_format::{self as format, Chunk, ChunkKind, Coder, ContentHasher, Header, Medium, Method};
use rayon::prelude::*;
use std::io::{Read, Write};
use std::sync::Arc;

/// Settings for compression. Everything here that changes the coded bytes is
/// recorded in the file; `threads` never changes them.
#[derive(Debug, Clone)]
pub struct CompressOptions {
    /// 1 (fastest) ..= 9 (smallest). Default 6. Images at level 1 are coded
    /// with the fast image model (method `imgf`, spec/MODELS.md §7.15)
    /// unless a network, the match model or the grid is asked for.
    pub level: u8,
    /// Coder for the modelled chunks. Default [`CoderKind::Range`].
    pub coder: CoderKind,
    /// Worker threads; 0 means one per available core. Output bytes do not depend on it.
    pub threads: usize,
    /// Raw bytes per chunk; `None` picks the level's default. Recorded in the file.
    /// (Image frames cut the image into stripes of whole rows instead.)
    pub chunk_size: Option<u32>,
    /// A built-in learned model by name (see [`crate::nn::package::builtins`]);
    /// `None` uses the `cm` method (and, for images, the level's image
    /// network). A language model codes every input as bytes; an image
    /// network (`img-mlp-*`) codes image inputs and refuses others. The file
    /// records the model's content hash.
    pub model: Option<String>,
    /// Where learned models run. Output bytes do not depend on it.
    pub backend: Backend,
    /// Recognise PNG and PNM inputs and code their pixels with the image
    /// model (spec/FORMAT.md §4.6). Default true. The decompressed file then
    /// has the same pixels and metadata, but a PNG's compressed image data is
    /// nzip's own; with `false` every input is compressed as bytes and comes
    /// back byte for byte.
    pub images: bool,
    /// Mix the built-in image network into image frames (spec/MODELS.md
    /// §7.12): `None` (the default) from level 2 for images of at least
    /// 32 KiB of samples, `Some(true)` always, `Some(false)` never (the
    /// adaptive model alone: about 1% larger files, decoded about 1.35×
    /// faster).
    pub image_net: Option<bool>,
    /// The image model's match model (method `img2`, spec/MODELS.md §7.13):
    /// `None` (the default) lets each stripe choose (on for graphics, where
    /// the encoder's trial picks exact contexts), `Some(true)` switches it on
    /// in every stripe, `Some(false)` writes methods `img` / `imgnn` (the
    /// model without it, as nzip wrote before `img2`).
    pub image_match: Option<bool>,
    /// The image model's grid (method `img3`, spec/MODELS.md §7.14): `None`
    /// (the default) lets each stripe choose (on where a trial of its rows
    /// codes smaller with it: photos decoded from JPEG and downscaled by 2),
    /// `Some(true)` switches it on in every stripe, `Some(false)` writes
    /// method `img2` (or `img` / `imgnn` with `image_match: Some(false)`),
    /// as nzip wrote before `img3`.
    pub image_grid: Option<bool>,
}

impl Default for CompressOptions {
    fn default() -> Self {
        CompressOptions {
            level: 6,
            coder: CoderKind::Range,
            threads: 1,
            chunk_size: None,
            model: None,
            backend: Backend::Cpu,
            images: true,
            image_net: None,
            image_match: None,
            image_grid: None,
        }
    }
}

/// Settings for decompression. None of them is needed to decode a file
/// correctly (the file carries everything); they bound resources.
#[derive(Debug, Clone)]
pub struct DecompressOptions {
    /// Worker threads; 0 means one per available core.
    pub threads: usize,
    /// Limits on sizes read from the file, checked before allocating.
    pub limits: nzip_format::Limits,
    /// Where learned models run. The output does not depend on it.
    pub backend: Backend,
    /// Largest image (bytes of samples) that may be held in memory whole,
    /// which writing an interlaced PNG needs. Default 1 GiB. Other images
    /// are written a batch of stripes at a time.
    pub max_image_bytes: u64,
}

impl Default for DecompressOptions {
    fn default() -> Self {
        DecompressOptions {
            threads: 1,
            limits: nzip_format::Limits::default(),
            backend: Backend::Cpu,
            max_image_bytes: 1 << 30,
        }
    }
}

/// Progress report: bytes consumed from the input and produced so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Bytes read from the input so far.
    pub read: u64,
    /// Bytes written to the output so far.
    pub written: u64,
}

/// What a (de)compression did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    /// Original (uncompressed) bytes.
    pub content_bytes: u64,
    /// Compressed bytes (the `.nz` size).
    pub compressed_bytes: u64,
    /// Number of frames (concatenated `.nz` files count one each).
    pub frames: u64,
    /// Chunks coded with the model.
    pub chunks_modelled: u64,
    /// Chunks stored raw because the model would have expanded them.
    pub chunks_stored: u64,
}

/// A description of one frame, read without decoding its chunks (`nzip -l`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSummary {
    /// The frame's header.
    pub header: nzip_format::Header,
    /// Compressed size of the frame in bytes.
    pub compressed_bytes: u64,
    /// Original size of the frame's content.
    pub content_bytes: u64,
    /// Number of chunks.
    pub chunks: u64,
    /// Chunks stored raw.
    pub chunks_stored: u64,
    /// The whole-content XXH64 recorded in the frame.
    pub content_xxh64: u64,
    /// The image description of an image frame (its content is the samples).
    pub image: Option<nzip_format::ImageInfo>,
    /// The image frame's value map, when its stripes code value indices
    /// (spec/FORMAT.md §4.8).
    pub value_map: Option<nzip_format::ValueMap>,
}

/// The level of the built-in text prior (`text-prior-6`).
pub const TEXT_PRIOR_LEVEL: u8 = 6;

/// Smallest input that the default level codes with its text prior.
pub const PRIOR_MIN_BYTES: usize = 256;

/// Whether `chunk` looks like text (so that a text prior should help): in its
/// first 64 KiB, no NUL byte and at most 1% other control bytes (tab, line
/// feed, carriage return, form feed and escape count as text; bytes >= 128
/// do too, for UTF-8 and legacy encodings).
pub fn looks_like_text(chunk: &[u8]) -> bool {
    let head = &chunk[..chunk.len().min(1 << 16)];
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    let control =
        head.iter().filter(|&&b| (b < 32 && !matches!(b, 9 | 10 | 12 | 13 | 27)) || b == 127).count();
    control * 100 <= head.len()
}

/// Default chunk size for a level: large enough that the adaptive model's
/// warm-up is a small fraction of each chunk, small enough that a few chunks
/// per thread fit in memory.
pub fn default_chunk_size(level: u8) -> u32 {
    if level >= 8 {
        16 << 20
    } else {
        4 << 20
    }
}

/// Compress everything from `input` into a `.nz` stream on `output`.
///
/// `content_size`, when known, is recorded in the header (for `nzip -l` and
/// preallocation); it must equal the number of bytes `input` yields, or an
/// [`crate::Error::InvalidArgument`] is returned at the end.
/// `progress` is called after each batch of chunks.
///
/// With [`CompressOptions::images`], an input that starts like a PNG or PNM
/// file is read whole and, if the image front end takes it and the image
/// frame is smaller than the file, written as an image frame; anything else
/// becomes a bytes frame.
pub fn compress<R: Read, W: Write>(
    mut input: R,
    mut output: W,
    content_size: Option<u64>,
    opts: &CompressOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Stats> {
    if !(cm::MIN_LEVEL..=cm::MAX_LEVEL).contains(&opts.level) {
        return Err(Error::InvalidArgument(format!(
            "level {} is outside {}..={}",
            opts.level,
            cm::MIN_LEVEL,
            cm::MAX_LEVEL
        )));
    }
    // An image network asked for by name codes image inputs (any other input
    // is refused by compress_bytes); any other model codes every input as bytes.
    let image_model =
        opts.model.as_deref().and_then(package::find_by_name).is_some_and(|b| b.kind == BuiltinKind::ImgNet);
    if !opts.images || (opts.model.is_some() && !image_model) {
        return compress_bytes(input, output, content_size, opts, progress);
    }
    // The first bytes (fewer only at the end of the input): `take` + `read_to_end`
    // retries short reads and interruptions like any full read.
    let mut data = Vec::with_capacity(8);
    (&mut input).take(8).read_to_end(&mut data)?;
    if crate::media::image::sniff(&data).is_none() {
        return compress_bytes(data.as_slice().chain(input), output, content_size, opts, progress);
    }
    (&mut input).take(crate::pipeline_image::MAX_IMAGE_FILE).read_to_end(&mut data)?;
    if data.len() as u64 == crate::pipeline_image::MAX_IMAGE_FILE {
        // Too large for the image path: go on as bytes.
        return compress_bytes(std::io::Cursor::new(data).chain(input), output, content_size, opts, progress);
    }
    if let Some(declared) = content_size {
        if declared != data.len() as u64 {
            return Err(Error::InvalidArgument(format!(
                "the input yielded {} bytes but its size was given as {declared}",
                data.len()
            )));
        }
    }
    if let Some(stats) = crate::pipeline_image::compress_image(&data, &mut output, opts, progress)? {
        return Ok(stats);
    }
    // The image path did not take it (or would have expanded it): as bytes,
    // without the image network.
    let bytes_opts =
        CompressOptions { model: if image_model { None } else { opts.model.clone() }, ..opts.clone() };
    compress_bytes(&data[..], output, content_size, &bytes_opts, progress)
}

/// Compress `input` as a bytes frame (method `cm`).
fn compress_bytes<R: Read, W: Write>(
    mut input: R,
    output: W,
    content_size: Option<u64>,
    opts: &CompressOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Stats> {
    let chunk_size = opts.chunk_size.unwrap_or_else(|| default_chunk_size(opts.level));
    if chunk_size == 0 || chunk_size > format::MAX_CHUNK_SIZE {
        return Err(Error::InvalidArgument(format!(
            "chunk size {chunk_size} is outside 1..={}",
            format::MAX_CHUNK_SIZE
        )));
    }
    let workers = Workers::new(opts.threads)?;
    // The first batch is read before the header is written: whether the
    // input looks like text decides the prior.
    let mut batch = read_batch(&mut input, chunk_size as usize, workers.count)?;
    let mut header = Header {
        medium: Medium::Bytes,
        method: Method::ContextMixing2,
        level: opts.level,
        coder: match opts.coder {
            CoderKind::Range => Coder::Range,
            CoderKind::Ans => Coder::Ans,
        },
        precision: BIT_PRECISION as u8,
        chunk_size,
        content_size,
        model: None,
    };
    if let Some(name) = &opts.model {
        let builtin = package::find_by_name(name).ok_or_else(|| {
            let known: Vec<&str> = package::builtins().iter().map(|b| b.name).collect();
            Error::InvalidArgument(format!(
                "no built-in model '{name}' (this nzip has: {})",
                known.join(", ")
            ))
        })?;
        match builtin.kind {
            BuiltinKind::GruLm => {
                if opts.coder != CoderKind::Range {
                    return Err(Error::InvalidArgument(
                        "learned models code with the range coder only".into(),
                    ));
                }
                header.method = Method::NeuralLm;
                header.precision = lm::PRECISION as u8;
            }
            BuiltinKind::CmPrior => {
                let level = builtin.cm_prior()?.level();
                if level != opts.level {
                    return Err(Error::InvalidArgument(format!(
                        "model '{name}' is a prior for level {level}; use -{level}"
                    )));
                }
            }
            BuiltinKind::ImgNet => {
                return Err(Error::InvalidArgument(format!(
                    "model '{name}' is an image network: it codes PNG and PNM images, and this input is not one"
                )));
            }
        }
        header.model = Some(builtin.model_ref());
    }
    // Text starts from a prior: at its level directly; above it, the first
    // chunk is coded both ways (in parallel) and the smaller decides the
    // frame, since a prior matters less the longer the input.
    let mut codec = ChunkCodec::for_header(&header, &opts.backend)?;
    let mut first_coded = None;
    let text = batch.first().filter(|c| c.len() >= PRIOR_MIN_BYTES && looks_like_text(c));
    if let (Some(first), None) = (text, &opts.model) {
        let prior = package::cm_prior_for_level(opts.level).or_else(|| {
            package::cm_prior_for_level(TEXT_PRIOR_LEVEL).filter(|_| opts.level > TEXT_PRIOR_LEVEL)
        });
        if let Some(builtin) = prior {
            let mut primed = header.clone();
            primed.level = builtin.cm_prior()?.level();
            primed.model = Some(builtin.model_ref());
            let primed_codec = ChunkCodec::for_header(&primed, &opts.backend)?;
            if primed.level == header.level {
                (header, codec) = (primed, primed_codec);
            } else {
                let (a, b) = workers.join(|| primed_codec.encode(first), || codec.encode(first));
                let size = |r: &Result<(ChunkKind, Vec<u8>)>| match r {
                    Ok((ChunkKind::Modelled, d)) => d.len(),
                    _ => first.len(),
                };
                if size(&a) < size(&b) {
                    (header, codec, first_coded) = (primed, primed_codec, Some(a));
                } else {
                    first_coded = Some(b);
                }
            }
        }
    }
    // The top level adds the language model to text, on the context model the
    // trial above chose (the prior's level with the prior, or this level).
    if let (Some(_), None, true) = (text, &opts.model, opts.level == cm::MAX_LEVEL) {
        if let Some(lm) = package::find_by_name(TEXT_LM) {
            header.method = Method::ContextMixingLm2;
            header.model = Some(cmlm_model_ref(lm, header_prior(&header)));
            codec = ChunkCodec::for_header(&header, &opts.backend)?;
            first_coded = None;
        }
    }
    let mut writer = format::Writer::new(output, header.clone())?;
    let mut hasher = ContentHasher::new();
    let mut stats = Stats { frames: 1, ..Stats::default() };
    loop {
        if batch.is_empty() {
            break;
        }
        let short = batch.last().is_some_and(|c| c.len() < chunk_size as usize);
        let coded: Vec<_> = match first_coded.take() {
            Some(first) => {
                std::iter::once(first).chain(workers.map(&batch[1..], |raw| codec.encode(raw))).collect()
            }
            None => workers.map(&batch, |raw| codec.encode(raw)),
        };
        for (raw, coded) in batch.iter().zip(coded) {
            let (kind, data) = coded?;
            hasher.update(raw);
            let payload = match kind {
                ChunkKind::Stored => raw.as_slice(),
                ChunkKind::Modelled => data.as_slice(),
            };
            writer.write_chunk(kind, raw.len() as u32, format::chunk_crc(raw), payload)?;
            stats.content_bytes += raw.len() as u64;
            match kind {
                ChunkKind::Stored => stats.chunks_stored += 1,
                ChunkKind::Modelled => stats.chunks_modelled += 1,
            }
        }
        progress(Progress { read: stats.content_bytes, written: writer.bytes_written() });
        if short {
            break;
        }
        batch = read_batch(&mut input, chunk_size as usize, workers.count)?;
    }
    if let Some(declared) = content_size {
        if declared != stats.content_bytes {
            return Err(Error::InvalidArgument(format!(
                "the input yielded {} bytes but its size was given as {declared}",
                stats.content_bytes
            )));
        }
    }
    let (_, written) = writer.finish(hasher.finish())?;
    stats.compressed_bytes = written;
    progress(Progress { read: stats.content_bytes, written });
    Ok(stats)
}

/// The starting model of a `cm` (`v2` false) or `cm2` chunk of `len` bytes.
fn cm_model(level: u8, v2: bool, prior: Option<&Prior>, len: usize) -> Result<cm::Model> {
    Ok(match (prior, v2) {
        (Some(p), _) => p.model(len as u64)?,
        (None, true) => cm::Model::new_v2(level, len as u64),
        (None, false) => cm::Model::new(level, len as u64),
    })
}

/// How the chunks of one frame are coded: the method with everything it
/// needs, resolved once per frame from the header.
enum ChunkCodec {
    /// Every chunk stored.
    Stored,
    /// The `cm` method (`v2: false`) or the `cm2` method (`v2: true`, with its
    /// prior if the header names one).
    Cm { level: u8, coder: Coder, v2: bool, prior: Option<Arc<Prior>> },
    /// The `lm` method with its model.
    Lm { model: Arc<GruLm>, backend: Backend },
    /// The `cmlm` method (`adapt: false`) or `cmlm2` (`adapt: true`): `cm2` at
    /// `level` (from `prior`, if any) mixed with `lm`.
    CmLm { level: u8, coder: Coder, prior: Option<Arc<Prior>>, lm: Arc<GruLm>, backend: Backend, adapt: bool },
    /// An image frame (`img`, or `imgnn` with its network), which
    /// `pipeline_image` codes stripe by stripe.
    Image { net: Option<Arc<ImgNet>> },
}

/// Codes `raw` bit by bit with `m` and the bit coder of `coder`.
fn code_bits<M: cm::BitModel>(m: M, coder: Coder, raw: &[u8]) -> Vec<u8> {
    if coder == Coder::Ans {
        let mut enc = AnsBitEncoder::new();
        cm::encode_with(m, raw, &mut enc);
        enc.finish()
    } else {
        let mut enc = RangeBitEncoder::new();
        cm::encode_with(m, raw, &mut enc);
        enc.finish()
    }
}

/// Decodes `len` bytes coded by [`code_bits`] from the same starting model;
/// `None` if the stream does not decode.
fn decode_bits<M: cm::BitModel>(m: M, coder: Coder, data: &[u8], len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(len);
    if coder == Coder::Ans {
        let mut dec = AnsBitDecoder::new(data).ok()?;
        cm::decode_with(m, len, &mut dec, &mut out).ok()?;
    } else {
        let mut dec = RangeBitDecoder::new(data).ok()?;
        cm::decode_with(m, len, &mut dec, &mut out).ok()?;
    }
    Some(out)
}

/// The language model that the top level mixes into text (`cmlm2`).
pub const TEXT_LM: &str = "byte-gru-m";

/// The built-in prior a `cm2` header names, if any.
fn header_prior(header: &Header) -> Option<&'static package::Builtin> {
    header.model.as_ref().and_then(|m| package::find_by_id(&m.id)).filter(|b| b.kind == BuiltinKind::CmPrior)
}

/// An `Unsupported` error saying `what`.
fn unsupported<T>(what: String) -> Result<T> {
    Err(Error::Format(format::Error::Unsupported(what)))
}

/// The built-in model with id `id` (`m`'s, or part of it), or why not.
fn builtin_by_id(m: &format::ModelRef, id: &[u8]) -> Result<&'static package::Builtin> {
    match package::find_by_id(id) {
        Some(b) => Ok(b),
        None => unsupported(format!(
            "model '{}' ({}) is not built into this nzip; a newer nzip may have it",
            m.name,
            format::hex(id)
        )),
    }
}

/// The header's model reference of a `cmlm` or `cmlm2` frame (spec/FORMAT.md §4.5): the
/// language model's id, then the prior's id if there is one.
fn cmlm_model_ref(lm: &package::Builtin, prior: Option<&package::Builtin>) -> format::ModelRef {
    let mut r = lm.model_ref();
    if let Some(p) = prior {
        r.id.extend_from_slice(p.id());
        r.name = format!("{}+{}", lm.name, p.name);
    }
    r
}

impl ChunkCodec {
    /// Resolves the header's method, or explains why this build cannot.
    fn for_header(header: &Header, backend: &Backend) -> Result<Self> {
        // The built-in model the header names; for `cmlm` and `cmlm2`, the language model
        // (`lm`) and the prior that may follow its id (`builtin`).
        let (lm, builtin) = match &header.model {
            Some(m) if matches!(header.method, Method::ContextMixingLm | Method::ContextMixingLm2) => {
                if m.id.len() != 32 && m.id.len() != 64 {
                    return unsupported(format!(
                        "a {} model id of {} bytes (32 or 64)",
                        header.method,
                        m.id.len()
                    ));
                }
                let (lm_id, prior_id) = m.id.split_at(32);
                let prior = match prior_id.is_empty() {
                    true => None,
                    false => Some(builtin_by_id(m, prior_id)?),
                };
                (Some(builtin_by_id(m, lm_id)?), prior)
            }
            Some(m) => (None, Some(builtin_by_id(m, &m.id)?)),
            None => (None, None),
        };
        // A cm2 prior of the header's level (or none), with a cm model's
        // precision and a bit coder.
        let cm_checked = |prior: Option<Arc<Prior>>| {
            if u32::from(header.precision) != BIT_PRECISION {
                return unsupported(format!("{} with {}-bit probabilities", header.method, header.precision));
            }
            if let Some(p) = &prior {
                if p.level() != header.level {
                    return unsupported(format!(
                        "a cm2 prior for level {} in a level-{} frame",
                        p.level(),
                        header.level
                    ));
                }
            }
            match header.coder {
                Coder::Range | Coder::Ans => Ok(prior),
                other => unsupported(format!("coder {other}")),
            }
        };
        // Image frames are decoded by `pipeline_image`; this checks support.
        let image = |net: Option<Arc<ImgNet>>| {
            if u32::from(header.precision) != BIT_PRECISION {
                return unsupported(format!("{} with {}-bit probabilities", header.method, header.precision));
            }
            match header.coder {
                Coder::Range | Coder::Ans => Ok(ChunkCodec::Image { net }),
                other => unsupported(format!("coder {other}")),
            }
        };
        let cm_coder = |v2: bool, prior: Option<Arc<Prior>>| {
            let prior = cm_checked(prior)?;
            Ok(ChunkCodec::Cm { level: header.level, coder: header.coder, v2, prior })
        };
        match (header.method, builtin) {
            (Method::Stored, None) => Ok(ChunkCodec::Stored),
            (Method::ContextMixing, None) => cm_coder(false, None),
            (Method::ContextMixing2, None) => cm_coder(true, None),
            (Method::ContextMixing2, Some(b)) if b.kind == BuiltinKind::CmPrior => {
                cm_coder(true, Some(b.cm_prior()?))
            }
            (Method::NeuralLm, Some(b)) if b.kind == BuiltinKind::GruLm => {
                let model = b.gru()?;
                if usize::from(header.precision) != lm::PRECISION || header.coder != Coder::Range {
                    return unsupported(format!(
                        "lm with the {} coder at {}-bit precision",
                        header.coder, header.precision
                    ));
                }
                Ok(ChunkCodec::Lm { model, backend: backend.clone() })
            }
            (method @ (Method::ContextMixingLm | Method::ContextMixingLm2), prior) => match (lm, prior) {
                (Some(l), p)
                    if l.kind == BuiltinKind::GruLm && p.is_none_or(|b| b.kind == BuiltinKind::CmPrior) =>
                {
                    let prior = cm_checked(p.map(|b| b.cm_prior()).transpose()?)?;
                    let (level, coder, backend) = (header.level, header.coder, backend.clone());
                    let adapt = method == Method::ContextMixingLm2;
                    Ok(ChunkCodec::CmLm { level, coder, prior, lm: l.gru()?, backend, adapt })
                }
                _ => unsupported(format!("{method} names a language model, then optionally a cm2 prior")),
            },
            (Method::ImagePredictive | Method::ImageMatch | Method::ImageGrid | Method::ImageFast, None) => {
                image(None)
            }
            (Method::ImageNetwork | Method::ImageMatch | Method::ImageGrid, Some(b))
                if b.kind == BuiltinKind::ImgNet =>
            {
                image(Some(b.img_net()?))
            }
            (method, Some(b)) => {
                unsupported(format!("method {method} with model '{}' ({:?})", b.name, b.kind))
            }
            (method, None) => unsupported(format!("method {method} without a model reference")),
        }
    }

    /// The starting `cmlm` (or, with `adapt`, `cmlm2`) model of a chunk of
    /// `len` bytes.
    fn cmlm_model(
        level: u8,
        prior: Option<&Prior>,
        lm: &Arc<GruLm>,
        backend: &Backend,
        adapt: bool,
        len: usize,
    ) -> Result<CmLm> {
        let cm = cm_model(level, true, prior, len)?;
        CmLm::new(cm, Arc::clone(lm), backend.clone(), adapt).map_err(|e| Error::Model(e.to_string()))
    }

    /// Codes one chunk; returns `Stored` (and no data) when the coding would
    /// not be smaller than the content.
    fn encode(&self, raw: &[u8]) -> Result<(ChunkKind, Vec<u8>)> {
        let coded = match self {
            ChunkCodec::Stored | ChunkCodec::Image { .. } => return Ok((ChunkKind::Stored, Vec::new())),
            ChunkCodec::Cm { level, coder, v2, prior } => {
                code_bits(cm_model(*level, *v2, prior.as_deref(), raw.len())?, *coder, raw)
            }
            ChunkCodec::Lm { model, backend } => {
                lm::encode(raw, model, backend).map_err(|e| Error::Model(e.to_string()))?
            }
            ChunkCodec::CmLm { level, coder, prior, lm, backend, adapt } => {
                let mut m = ChunkCodec::cmlm_model(*level, prior.as_deref(), lm, backend, *adapt, raw.len())?;
                let coded = code_bits(&mut m, *coder, raw);
                if let Some(e) = m.take_error() {
                    return Err(Error::Model(e.to_string()));
                }
                coded
            }
        };
        Ok(if coded.len() < raw.len() {
            (ChunkKind::Modelled, coded)
        } else {
            (ChunkKind::Stored, Vec::new())
        })
    }

    /// Decodes one chunk and verifies its length and CRC.
    fn decode(&self, chunk: Chunk) -> Result<Vec<u8>> {
        let content = match chunk.kind {
            ChunkKind::Stored => chunk.data.clone(),
            ChunkKind::Modelled => {
                let len = chunk.raw_len as usize;
                let undecodable = || format::Error::Malformed {
                    what: "modelled chunk does not decode",
                    offset: chunk.offset,
                };
                match self {
                    ChunkCodec::Stored | ChunkCodec::Image { .. } => return Err(undecodable().into()),
                    ChunkCodec::Cm { level, coder, v2, prior } => {
                        let m = cm_model(*level, *v2, prior.as_deref(), len)?;
                        decode_bits(m, *coder, &chunk.data, len).ok_or_else(undecodable)?
                    }
                    ChunkCodec::CmLm { level, coder, prior, lm, backend, adapt } => {
                        let mut m =
                            ChunkCodec::cmlm_model(*level, prior.as_deref(), lm, backend, *adapt, len)?;
                        let out = decode_bits(&mut m, *coder, &chunk.data, len).ok_or_else(undecodable)?;
                        if let Some(e) = m.take_error() {
                            return Err(Error::Model(e.to_string()));
                        }
                        out
                    }
                    ChunkCodec::Lm { model, backend } => match lm::decode(&chunk.data, len, model, backend) {
                        Ok(out) => out,
                        Err(lm::LmError::Entropy(_)) => return Err(undecodable().into()),
                        Err(e) => return Err(Error::Model(e.to_string())),
                    },
                }
            }
        };
        chunk.verify(&content)?;
        Ok(content)
    }
}

/// Decompress a `.nz` stream (one or more concatenated frames) from `input`
/// onto `output`. Each chunk is written only after its length and CRC are
/// verified; the whole-content hash is verified at the end of each frame, so
/// the caller must discard the output if this returns an error.
pub fn decompress<R: Read, W: Write>(
    input: R,
    mut output: W,
    opts: &DecompressOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Stats> {
    let workers = Workers::new(opts.threads)?;
    let mut reader = format::Reader::new(std::io::BufReader::with_capacity(1 << 16, input), opts.limits);
    let mut stats = Stats::default();
    while let Some(header) = reader.next_frame()? {
        let codec = ChunkCodec::for_header(&header, &opts.backend)?;
        if header.medium == Medium::Image {
            let net = match &codec {
                ChunkCodec::Image { net } => net.as_deref(),
                _ => None,
            };
            crate::pipeline_image::decompress_image(
                &mut reader,
                &header,
                net,
                &mut output,
                opts,
                &workers,
                &mut stats,
                progress,
            )?;
            stats.frames += 1;
            continue;
        }
        let mut hasher = ContentHasher::new();
        let mut done = false;
        while !done {
            let mut batch = Vec::with_capacity(workers.count);
            while batch.len() < workers.count {
                match reader.next_chunk()? {
                    Some(chunk) => batch.push(chunk),
                    None => {
                        done = true;
                        break;
                    }
                }
            }
            for chunk in &batch {
                match chunk.kind {
                    ChunkKind::Stored => stats.chunks_stored += 1,
                    ChunkKind::Modelled => stats.chunks_modelled += 1,
                }
            }
            let decoded = workers.map_owned(batch, |chunk| codec.decode(chunk));
            for content in decoded {
                let content = content?;
                hasher.update(&content);
                output.write_all(&content)?;
                stats.content_bytes += content.len() as u64;
            }
            progress(Progress { read: reader.offset(), written: stats.content_bytes });
        }
        let tail = reader.tail().copied().ok_or(format::Error::InvalidInput("frame ended without a tail"))?;
        if hasher.finish() != tail.content_xxh64 {
            return Err(format::Error::Checksum { what: "content XXH64", offset: reader.offset() }.into());
        }
        stats.frames += 1;
    }
    output.flush()?;
    stats.compressed_bytes = reader.offset();
    Ok(stats)
}

/// Describe every frame of a `.nz` stream without decoding chunk payloads
/// (section checksums are still verified).
pub fn list<R: Read>(input: R, opts: &DecompressOptions) -> Result<Vec<FrameSummary>> {
    let mut reader = format::Reader::new(std::io::BufReader::with_capacity(1 << 16, input), opts.limits);
    let mut frames = Vec::new();
    let mut start = 0;
    while let Some(header) = reader.next_frame()? {
        let image = reader.image().cloned();
        let value_map = reader.value_map().cloned();
        let mut chunks_stored = 0;
        while let Some(chunk) = reader.next_chunk()? {
            if chunk.kind == ChunkKind::Stored {
                chunks_stored += 1;
            }
        }
        let tail = reader.tail().copied().ok_or(format::Error::InvalidInput("frame ended without a tail"))?;
        frames.push(FrameSummary {
            header,
            compressed_bytes: reader.offset() - start,
            content_bytes: tail.content_size,
            chunks: tail.chunk_count,
            chunks_stored,
            content_xxh64: tail.content_xxh64,
            image,
            value_map,
        });
        start = reader.offset();
    }
    Ok(frames)
}

/// Read up to `count` chunks of `chunk_size` bytes; only the last may be
/// short, and a short chunk ends the input.
fn read_batch<R: Read>(input: &mut R, chunk_size: usize, count: usize) -> Result<Vec<Vec<u8>>> {
    let mut batch = Vec::with_capacity(count);
    while batch.len() < count {
        let mut buf = Vec::new();
        let got = input.by_ref().take(chunk_size as u64).read_to_end(&mut buf)?;
        if got == 0 {
            break;
        }
        batch.push(buf);
        if got < chunk_size {
            break;
        }
    }
    Ok(batch)
}

/// A fixed number of worker threads. Results always come back in input order,
/// so the output never depends on `count`.
pub(crate) struct Workers {
    pub(crate) count: usize,
    /// Also installed for one thread, so that parallel loops inside a model
    /// run on these threads only (`-T1` means one thread).
    pool: rayon::ThreadPool,
}

impl Workers {
    pub(crate) fn new(threads: usize) -> Result<Self> {
        let count = match threads {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(count)
            .build()
            .map_err(|e| Error::InvalidArgument(format!("cannot start {count} threads: {e}")))?;
        Ok(Workers { count, pool })
    }

    pub(crate) fn map<T: Sync, U: Send>(&self, items: &[T], f: impl Fn(&T) -> U + Sync + Send) -> Vec<U> {
        if self.count > 1 {
            self.pool.install(|| items.par_iter().map(f).collect())
        } else {
            self.pool.install(|| items.iter().map(f).collect())
        }
    }

    /// Runs `a` and `b`, in parallel when there are several threads.
    pub(crate) fn join<A: Send, B: Send>(
        &self,
        a: impl FnOnce() -> A + Send,
        b: impl FnOnce() -> B + Send,
    ) -> (A, B) {
        if self.count > 1 {
            self.pool.install(|| rayon::join(a, b))
        } else {
            (a(), b())
        }
    }

    pub(crate) fn map_owned<T: Send, U: Send>(
        &self,
        items: Vec<T>,
        f: impl Fn(T) -> U + Sync + Send,
    ) -> Vec<U> {
        if self.count > 1 {
            self.pool.install(|| items.into_par_iter().map(f).collect())
        } else {
            self.pool.install(|| items.into_iter().map(f).collect())
        }
    }
}

/// One-shot compression.
pub fn compress_to_vec(data: &[u8], opts: &CompressOptions) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    compress(data, &mut out, Some(data.len() as u64), opts, &mut |_| {})?;
    Ok(out)
}

/// One-shot decompression.
pub fn decompress_to_vec(data: &[u8], opts: &DecompressOptions) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    decompress(data, &mut out, opts, &mut |_| {})?;
    Ok(out)
}
