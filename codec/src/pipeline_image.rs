//! Image frames (spec/FORMAT.md §4.6-§4.7): compress a PNG or PNM file as
//! its samples, a stripe of rows per chunk, with the `img` model; decompress
//! such a frame back into the file.
//!
//! The stripe height depends only on the image's width and height (and the
//! level), never on the thread count, so `-T1` and `-T8` write the same
//! bytes; stripes are coded and decoded in parallel, a batch at a time, and
//! written in order.

use crate::entropy::binary::{AnsBitDecoder, AnsBitEncoder, RangeBitDecoder, RangeBitEncoder, BIT_PRECISION};
use crate::media::image::{Image, Restorer, MAX_RESTORE_BYTES};
use crate::models::image::{Choices, ImgNet, Revision};
use crate::models::{cm, image as model};
use crate::nn::package;
use crate::pipeline::{CompressOptions, DecompressOptions, Progress, Stats, Workers};
use crate::{CoderKind, Error, Result};
use nzip_format::{
    self as format, Chunk, ChunkKind, Coder, ContentHasher, Header, ImageInfo, Medium, Method, Reader,
    RestoreCoding, ValueMap,
};
use std::io::{Read, Write};

/// Largest input file the image path reads into memory (bytes); larger files
/// are compressed as bytes, streaming.
pub(crate) const MAX_IMAGE_FILE: u64 = 1 << 30;

/// Largest stripe (chunk) the encoder makes: well under the reader's default
/// chunk limit. An image whose single row is larger is compressed as bytes.
const MAX_STRIPE_BYTES: u64 = 64 << 20;

/// Pixels per stripe the encoder aims at: each stripe restarts the adaptive
/// model, so stripes must be large enough to learn, and numerous enough to
/// keep the cores busy on large images.
pub const STRIPE_PIXELS: u64 = 1 << 19;

/// Images of at least this many pixels get an even number of stripes (at
/// least two), so that two cores share every image above a thumbnail evenly
/// (on the train split's native photos: 1.5× faster decoding on 2 cores for
/// +0.3% bytes). Smaller images keep one stripe: cutting the train split's 15
/// images of 2^15 samples to 2^17 pixels in two as well cost them 1.2%
/// (`imgtune -s`, 2026-11-24).
pub const TWO_STRIPE_PIXELS: u64 = 1 << 17;

/// The cm level that codes the restore blob (metadata).
const RESTORE_CM_LEVEL: u8 = 6;

/// The built-in network that image frames mix in (spec/MODELS.md §7.12)
/// at levels 2 to [`WIDE_NET_LEVEL`] − 1: two hidden layers of 32 units.
pub const IMAGE_NET: &str = "img-mlp-r";

/// The built-in network of the slowest levels, from [`WIDE_NET_LEVEL`]: two
/// hidden layers of 64 units, about 0.4% smaller and 13% slower to decode
/// (measured with img-mlp-q against img-mlp-p, spec/MODELS.md §7.12).
pub const IMAGE_NET_WIDE: &str = "img-mlp-s";

/// The first level that mixes in [`IMAGE_NET_WIDE`].
pub const WIDE_NET_LEVEL: u8 = 7;

/// The first built-in network the encoder tries at `level`
/// ([`image_nets_for_level`]), the one it keeps on a tie.
pub fn image_net_for_level(level: u8) -> &'static str {
    image_nets_for_level(level)[0]
}

/// The built-in networks the encoder chooses among at `level` (spec/MODELS.md
/// §7.11): each image gets the one that codes a sample of its rows smallest,
/// the first on a tie. The earlier defaults, trained on more JPEG-downscaled
/// content, code such photos about 0.3% smaller; the networks of a level
/// have the same width, so the level alone sets the decoding speed.
pub fn image_nets_for_level(level: u8) -> &'static [&'static str] {
    if level >= WIDE_NET_LEVEL {
        &[IMAGE_NET_WIDE, "img-mlp-q"]
    } else {
        &[IMAGE_NET, "img-mlp-p"]
    }
}

/// Images of fewer samples (bytes of the canonical layout) use method `img`.
const NET_MIN_SAMPLES: usize = 1 << 15;

/// Rows per stripe for an image (spec/FORMAT.md §4.6 leaves the choice to
/// the encoder): `ceil(pixels / STRIPE_PIXELS)` stripes, rounded up to an
/// even number when the image has at least [`TWO_STRIPE_PIXELS`] pixels,
/// with at most [`MAX_STRIPE_BYTES`] each, balanced so that all stripes but
/// the last have the same height and the last is not much shorter. `None`
/// when one row is already too large.
pub fn stripe_rows(width: u32, height: u32, row_bytes: u64) -> Option<u32> {
    if row_bytes == 0 || row_bytes > MAX_STRIPE_BYTES {
        return None;
    }
    let h = u64::from(height).max(1);
    let pixels = u64::from(width).max(1) * h;
    let mut stripes = pixels.div_ceil(STRIPE_PIXELS);
    if pixels >= TWO_STRIPE_PIXELS {
        stripes = stripes.max(2).next_multiple_of(2);
    }
    // Enough stripes that none exceeds MAX_STRIPE_BYTES (row_bytes is at most that).
    let stripes = stripes.max(h.div_ceil(MAX_STRIPE_BYTES / row_bytes)).clamp(1, h);
    u32::try_from(h.div_ceil(stripes)).ok()
}

/// The image model's revision for `method`; `Unsupported` for a method that
/// is not an image model's.
fn revision(method: Method) -> std::result::Result<Revision, format::Error> {
    Revision::of(method).ok_or_else(|| format::Error::Unsupported(format!("image method {method}")))
}

/// Code one stripe (`raw`, the samples the model codes: the content's, or
/// their value indices); `Stored` (and no data) when coding would not be
/// smaller than the stripe's `content_len` bytes of content.
fn encode_stripe(
    raw: &[u8],
    content_len: usize,
    shape: &model::Stripe,
    header: &Header,
    rev: Revision,
    net: Option<&ImgNet>,
    choices: Choices,
) -> (ChunkKind, Vec<u8>) {
    let coded = match header.coder {
        Coder::Ans => {
            let mut enc = AnsBitEncoder::new();
            model::encode(shape, header.level, raw, net, rev, choices, &mut enc).map(|()| enc.finish())
        }
        _ => {
            let mut enc = RangeBitEncoder::new();
            model::encode(shape, header.level, raw, net, rev, choices, &mut enc).map(|()| enc.finish())
        }
    };
    match coded {
        Ok(c) if c.len() < content_len => (ChunkKind::Modelled, c),
        _ => (ChunkKind::Stored, Vec::new()),
    }
}

/// A blob of the image description (the restore data, a value map's list)
/// as stored: coded with `cm` when that is smaller.
fn code_blob(blob: &[u8]) -> (RestoreCoding, Vec<u8>) {
    if blob.len() >= 64 {
        let mut enc = RangeBitEncoder::new();
        cm::encode(blob, RESTORE_CM_LEVEL, &mut enc);
        let coded = enc.finish();
        if coded.len() + 1 < blob.len() {
            return (RestoreCoding::Cm { level: RESTORE_CM_LEVEL }, coded);
        }
    }
    (RestoreCoding::Raw, blob.to_vec())
}

// ---------------------------------------------------------------------------
// Value maps (spec/FORMAT.md §4.8)
// ---------------------------------------------------------------------------

/// The values that `samples` (canonical layout, samples of `bps` bytes) take,
/// in increasing order.
fn used_values(samples: &[u8], bps: usize) -> Vec<u16> {
    let mut seen = vec![false; 1 << 16];
    match bps {
        1 => samples.iter().for_each(|&v| seen[usize::from(v)] = true),
        _ => samples.chunks_exact(2).for_each(|v| seen[usize::from(u16::from_be_bytes([v[0], v[1]]))] = true),
    }
    (0..=u16::MAX).filter(|&v| seen[usize::from(v)]).collect()
}

/// Each sample of `samples` (of `bps` bytes) replaced by its index in
/// `values` (which holds every one of them), as samples of the map's
/// `maxval = values.len() − 1`.
fn to_indices(samples: &[u8], bps: usize, values: &[u16]) -> Vec<u8> {
    let mut index = vec![0u16; 1 << 16];
    for (i, &v) in values.iter().enumerate() {
        index[usize::from(v)] = i as u16;
    }
    let wide = values.len() > 256;
    let mut out = Vec::with_capacity(samples.len() / bps * if wide { 2 } else { 1 });
    let mut put = |v: usize| match wide {
        true => out.extend_from_slice(&index[v].to_be_bytes()),
        false => out.push(index[v] as u8),
    };
    match bps {
        1 => samples.iter().for_each(|&v| put(usize::from(v))),
        _ => samples.chunks_exact(2).for_each(|v| put(usize::from(u16::from_be_bytes([v[0], v[1]])))),
    }
    out
}

/// The inverse of [`to_indices`]: indices (samples of `values.len() − 1`)
/// to samples of `bps` bytes. An index beyond the list (which the image
/// model never decodes: it clamps to the stripe's maxval) takes the last
/// value; the chunk CRC then fails.
fn from_indices(indices: &[u8], bps: usize, values: &[u16]) -> Vec<u8> {
    let last = values.last().copied().unwrap_or(0);
    let value = |i: usize| values.get(i).copied().unwrap_or(last);
    let mut out = Vec::with_capacity(indices.len() * bps);
    let mut put = |v: u16| match bps {
        1 => out.push(v as u8),
        _ => out.extend_from_slice(&v.to_be_bytes()),
    };
    match values.len() > 256 {
        false => indices.iter().for_each(|&i| put(value(usize::from(i)))),
        true => {
            indices.chunks_exact(2).for_each(|i| put(value(usize::from(u16::from_be_bytes([i[0], i[1]])))))
        }
    }
    out
}

/// The image's samples as value indices, and their map, when that codes
/// smaller (spec/FORMAT.md §4.8; the encoder's choice, §7.11 of
/// spec/MODELS.md): when the samples leave values unused between the
/// smallest and the largest they take, the image is coded on a sample of
/// its rows both ways with `net`, and the map is kept when the indices' cost
/// scaled to the whole image, plus the map's bytes, is below the samples'.
/// Integers only, so every machine chooses alike.
fn choose_value_map(img: &Image, net: Option<&ImgNet>, rev: Revision) -> Option<(ValueMap, Vec<u8>)> {
    let values = used_values(&img.samples, img.bytes_per_sample());
    let (&lo, &hi) = (values.first()?, values.last()?);
    // Only when at least an eighth of the values from lo to hi are unused:
    // a few holes in a photo's histogram are not worth the trials.
    let span = usize::from(hi - lo) + 1;
    if values.len() < 2 || 8 * values.len() > 7 * span {
        return None;
    }
    let list = ValueMap::encode_list(&values)?;
    let (coding, coded) = code_blob(&list);
    let map = ValueMap { count: values.len() as u32, coding, list_len: list.len() as u64, list: coded };
    let indices = to_indices(&img.samples, img.bytes_per_sample(), &values);
    let shape = model::Stripe { width: img.width, rows: img.height, color: img.color, maxval: img.maxval };
    let (plain, rows) = model::sample_cost(&shape, &img.samples, net, rev);
    let mapped_shape = model::Stripe { maxval: (values.len() - 1) as u16, ..shape };
    let (mapped, _) = model::sample_cost(&mapped_shape, &indices, net, rev);
    // The map's section: its list, about ten bytes of fields, tag, length, CRC.
    let map_bytes = (map.list.len() + 24) as u128;
    let height = u128::from(img.height);
    let keep = (mapped as u128) * height + map_bytes * u128::from(rows) < (plain as u128) * height;
    keep.then_some((map, indices))
}

/// Compress `data` (a whole file that starts like an image) as an image
/// frame onto `output`. `Ok(None)` (nothing written) when the image path
/// does not take the file or its frame would not be smaller than the file.
pub(crate) fn compress_image<W: Write>(
    data: &[u8],
    output: &mut W,
    opts: &CompressOptions,
    progress: &mut dyn FnMut(Progress),
) -> Result<Option<Stats>> {
    let Ok(img) = Image::parse(data) else { return Ok(None) };
    if img.width > model::MAX_WIDTH {
        return Ok(None);
    }
    let row_bytes = img.row_bytes() as u64;
    let Some(rows) = stripe_rows(img.width, img.height, row_bytes) else { return Ok(None) };
    let (restore_coding, restore) = code_blob(&img.restore);
    let info = img.info(rows, restore_coding, restore);
    // The learned network joins the model (method imgnn) when this build has it.
    // Not at level 1 (the fastest), nor for tiny images: the reference costs
    // 43 header bytes, about what the network saves on 2^15 samples
    // (spec/MODELS.md §7.12).
    // A network asked for by name (the caller checked that it is one) is
    // used whatever the image's size and the level.
    let wanted = opts
        .image_net
        .unwrap_or(opts.model.is_some() || (opts.level >= 2 && img.samples.len() >= NET_MIN_SAMPLES));
    // A network asked for by name, else the level's candidates, which the
    // encoder tries on a sample of the image's rows (spec/MODELS.md §7.11).
    let names: &[&str] = match opts.model.as_deref() {
        Some(name) => &[name],
        None => image_nets_for_level(opts.level),
    };
    let mut nets: Vec<_> = match wanted {
        true => names
            .iter()
            .filter_map(|&name| package::find_by_name(name).and_then(|b| Some((b, b.img_net().ok()?))))
            .collect(),
        false => Vec::new(),
    };
    // The samples the model codes: the image's, or their indices in a value
    // map when that is smaller (tried with the first network).
    // Level 1 (the fastest) without a network, match model or grid asked
    // for codes with the fast model, method imgf (spec/MODELS.md §7.15).
    let fast = opts.level == 1 && nets.is_empty() && opts.image_match.is_none() && opts.image_grid.is_none();
    let map_rev = if fast { Revision::Fast } else { Revision::V3 };
    let map = choose_value_map(&img, nets.first().map(|(_, n)| &**n), map_rev);
    let (coded_samples, maxval) = match &map {
        Some((m, indices)) => (&indices[..], (m.count - 1) as u16),
        None => (&img.samples[..], img.maxval),
    };
    let coded_row_bytes = coded_samples.len() as u64 / u64::from(img.height);
    // The shape of some whole rows of the coded samples.
    let shape = |coded: &[u8]| model::Stripe {
        width: img.width,
        rows: (coded.len() as u64 / coded_row_bytes) as u32,
        color: img.color,
        maxval,
    };
    let net = match nets.len() {
        0 | 1 => nets.pop(),
        _ => {
            let candidates: Vec<&ImgNet> = nets.iter().map(|(_, n)| &**n).collect();
            let pick = model::choose_network(&shape(coded_samples), coded_samples, &candidates);
            Some(nets.swap_remove(pick.min(nets.len() - 1)))
        }
    };
    let header = Header {
        medium: Medium::Image,
        method: match (opts.image_match, opts.image_grid, &net) {
            _ if fast => Method::ImageFast,
            (Some(false), _, Some(_)) => Method::ImageNetwork,
            (Some(false), _, None) => Method::ImagePredictive,
            (_, Some(false), _) => Method::ImageMatch,
            _ => Method::ImageGrid,
        },
        level: opts.level,
        coder: match opts.coder {
            CoderKind::Range => Coder::Range,
            CoderKind::Ans => Coder::Ans,
        },
        precision: BIT_PRECISION as u8,
        chunk_size: u32::try_from(info.chunk_bytes())
            .map_err(|_| Error::InvalidArgument("stripe size".into()))?,
        content_size: Some(img.samples.len() as u64),
        model: net.as_ref().map(|(b, _)| b.model_ref()),
    };
    let rev = revision(header.method)?;
    let workers = Workers::new(opts.threads)?;
    let stripe_bytes = info.chunk_bytes() as usize;
    let stripes: Vec<&[u8]> = img.samples.chunks(stripe_bytes).collect();
    let coded_stripes: Vec<(&[u8], usize)> = coded_samples
        .chunks(coded_row_bytes as usize * rows as usize)
        .zip(&stripes)
        .map(|(coded, raw)| (coded, raw.len()))
        .collect();
    let coded = workers.map(&coded_stripes, |&(coded, raw_len)| {
        encode_stripe(
            coded,
            raw_len,
            &shape(coded),
            &header,
            rev,
            net.as_ref().map(|(_, n)| &**n),
            Choices { matching: opts.image_match, grid: opts.image_grid },
        )
    });
    let mut frame = Vec::new();
    let mut writer =
        format::Writer::new_image_mapped(&mut frame, header, &info, map.as_ref().map(|(m, _)| m))?;
    let mut stats = Stats { frames: 1, content_bytes: data.len() as u64, ..Stats::default() };
    for (raw, (kind, coded)) in stripes.iter().zip(coded) {
        let payload = match kind {
            ChunkKind::Stored => *raw,
            ChunkKind::Modelled => &coded[..],
        };
        writer.write_chunk(kind, raw.len() as u32, format::chunk_crc(raw), payload)?;
        match kind {
            ChunkKind::Stored => stats.chunks_stored += 1,
            ChunkKind::Modelled => stats.chunks_modelled += 1,
        }
    }
    writer.finish(format::content_hash(&img.samples))?;
    if frame.len() >= data.len() {
        return Ok(None);
    }
    output.write_all(&frame)?;
    stats.compressed_bytes = frame.len() as u64;
    progress(Progress { read: data.len() as u64, written: stats.compressed_bytes });
    Ok(Some(stats))
}

/// A `Write` that counts the bytes it passes on.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// A blob of the image description (`data`, stored as `coding` says, `len`
/// bytes once decoded; at most `limit`), decoded. `what` names it in errors.
fn decode_blob(
    coding: RestoreCoding,
    data: &[u8],
    len: u64,
    limit: u64,
    what: [&'static str; 3],
    at: u64,
) -> Result<Vec<u8>> {
    if len > limit {
        return Err(format::Error::LimitExceeded { what: what[0], value: len, limit }.into());
    }
    match coding {
        RestoreCoding::Raw => Ok(data.to_vec()),
        RestoreCoding::Cm { level } => {
            let bad = |_| format::Error::Malformed { what: what[1], offset: at };
            let mut dec = RangeBitDecoder::new(data).map_err(bad)?;
            let mut out = Vec::new();
            cm::decode(len as usize, level, &mut dec, &mut out).map_err(bad)?;
            Ok(out)
        }
        _ => Err(format::Error::Unsupported(what[2].into()).into()),
    }
}

/// The restore blob of `info`, decoded and checked against the limits.
fn restore_blob(info: &ImageInfo, limits: &format::Limits, at: u64) -> Result<Vec<u8>> {
    let limit = u64::from(limits.max_ancillary_size).min(MAX_RESTORE_BYTES as u64);
    let what = ["image restore data", "image restore data does not decode", "image restore coding"];
    decode_blob(info.restore_coding, &info.restore, info.restore_len, limit, what, at)
}

/// The values of an image frame's value map (its list decoded and checked
/// against the image, spec/FORMAT.md §4.8).
fn map_values(map: &ValueMap, info: &ImageInfo, at: u64) -> Result<Vec<u16>> {
    let what = ["value map list", "value map list does not decode", "value map coding"];
    let list = decode_blob(map.coding, &map.list, map.list_len, format::MAX_VALUE_LIST_BYTES, what, at)?;
    Ok(map.values(&list, info.maxval, at)?)
}

/// Decode one stripe and verify its length and CRC. A modelled stripe of a
/// frame with a value map codes value indices (`shape` is theirs), which
/// become the samples of `bps` bytes that `values` lists.
fn decode_stripe(
    chunk: Chunk,
    shape: &model::Stripe,
    header: &Header,
    net: Option<&ImgNet>,
    map: Option<(&[u16], usize)>,
) -> Result<Vec<u8>> {
    let content = match chunk.kind {
        ChunkKind::Stored => chunk.data.clone(),
        ChunkKind::Modelled => {
            let rev = revision(header.method)?;
            let mut out = Vec::new();
            let undecodable = |_| format::Error::Malformed {
                what: "modelled image stripe does not decode",
                offset: chunk.offset,
            };
            match header.coder {
                Coder::Ans => {
                    let mut dec = AnsBitDecoder::new(&chunk.data).map_err(undecodable)?;
                    model::decode(shape, header.level, net, rev, &mut dec, &mut out).map_err(undecodable)?;
                }
                _ => {
                    let mut dec = RangeBitDecoder::new(&chunk.data).map_err(undecodable)?;
                    model::decode(shape, header.level, net, rev, &mut dec, &mut out).map_err(undecodable)?;
                }
            }
            match map {
                Some((values, bps)) => from_indices(&out, bps, values),
                None => out,
            }
        }
    };
    chunk.verify(&content)?;
    Ok(content)
}

/// Decompress the rest of an image frame whose header `reader` has just read,
/// writing the restored file to `output`. Stripes are written as soon as
/// their CRC is verified; the content hash is checked at the end, so the
/// caller must discard the output on error (as for bytes frames).
#[allow(clippy::too_many_arguments)]
pub(crate) fn decompress_image<R: Read, W: Write>(
    reader: &mut Reader<R>,
    header: &Header,
    net: Option<&ImgNet>,
    output: &mut W,
    opts: &DecompressOptions,
    workers: &Workers,
    stats: &mut Stats,
    progress: &mut dyn FnMut(Progress),
) -> Result<()> {
    let at = reader.offset();
    let info =
        reader.image().cloned().ok_or(format::Error::InvalidInput("image frame without a description"))?;
    if info.width > model::MAX_WIDTH {
        return Err(format::Error::LimitExceeded {
            what: "image width (the img model's state grows with it)",
            value: u64::from(info.width),
            limit: u64::from(model::MAX_WIDTH),
        }
        .into());
    }
    let blob = restore_blob(&info, &opts.limits, at)?;
    let values = reader.value_map().map(|m| map_values(m, &info, at)).transpose()?;
    // The value indices' maxval, which the model codes (spec/FORMAT.md §4.8).
    let coded_maxval = values.as_ref().map_or(info.maxval, |v| (v.len() - 1) as u16);
    let bps = info.bytes_per_sample() as usize;
    let mut out = Counting { inner: output, count: 0 };
    let mut restorer = Restorer::new(&mut out, &info, &blob)
        .map_err(|what| Error::Format(format::Error::Malformed { what, offset: at }))?;
    if restorer.buffers_whole_image() && info.content_bytes() > opts.max_image_bytes {
        return Err(format::Error::LimitExceeded {
            what: "interlaced PNG held in memory",
            value: info.content_bytes(),
            limit: opts.max_image_bytes,
        }
        .into());
    }
    let row_bytes = info.row_bytes();
    let mut rows_left = u64::from(info.height);
    // A non-interlaced PNG's image data is filtered and deflated by the
    // workers too, a stripe at a time (the segments depend only on the
    // stripes, never on the thread count).
    let png = restorer.png_stripes();
    let mut hasher = ContentHasher::new();
    let mut done = false;
    while !done {
        let mut batch = Vec::with_capacity(workers.count);
        while batch.len() < workers.count {
            match reader.next_chunk()? {
                Some(chunk) => {
                    // The reader guarantees chunk lengths up to the chunk size
                    // (whole stripes) and the total at the end; a last stripe
                    // of partial rows is malformed.
                    let raw = u64::from(chunk.raw_len);
                    let rows = raw / row_bytes;
                    if raw % row_bytes != 0 || rows > rows_left {
                        return Err(format::Error::Malformed {
                            what: "image stripe is not whole rows of the image",
                            offset: chunk.offset,
                        }
                        .into());
                    }
                    let first_row = u64::from(info.height) - rows_left;
                    rows_left -= rows;
                    let shape = model::Stripe {
                        width: info.width,
                        rows: rows as u32,
                        color: info.color,
                        maxval: coded_maxval,
                    };
                    batch.push((chunk, shape, first_row));
                }
                None => {
                    done = true;
                    break;
                }
            }
        }
        for (chunk, _, _) in &batch {
            match chunk.kind {
                ChunkKind::Stored => stats.chunks_stored += 1,
                ChunkKind::Modelled => stats.chunks_modelled += 1,
            }
        }
        let decoded = workers.map_owned(batch, |(chunk, shape, first_row)| {
            let content = decode_stripe(chunk, &shape, header, net, values.as_deref().map(|v| (v, bps)))?;
            let segment = png.map(|enc| enc.encode(&content, first_row)).transpose()?;
            Ok::<_, Error>((content, u64::from(shape.rows), segment))
        });
        for result in decoded {
            let (content, rows, segment) = result?;
            hasher.update(&content);
            match segment {
                Some(seg) => restorer.write_segment(rows, &seg)?,
                None => restorer.write_rows(&content)?,
            }
        }
        progress(Progress { read: reader.offset(), written: stats.content_bytes });
    }
    let tail = reader.tail().copied().ok_or(format::Error::InvalidInput("frame ended without a tail"))?;
    if hasher.finish() != tail.content_xxh64 {
        return Err(format::Error::Checksum { what: "content XXH64", offset: reader.offset() }.into());
    }
    restorer.finish()?;
    stats.content_bytes += out.count;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stripes for a `width × height` RGB image: (count, rows per stripe).
    fn stripes(width: u32, height: u32) -> (u32, u32) {
        let rows = stripe_rows(width, height, u64::from(width) * 3).unwrap_or(0);
        (height.div_ceil(rows.max(1)), rows)
    }

    #[test]
    fn stripe_partition_keeps_two_cores_busy() {
        // Thumbnails: one stripe.
        assert_eq!(stripes(64, 64), (1, 64));
        assert_eq!(stripes(362, 362), (1, 362));
        // From 2^17 pixels: an even number of stripes, at least two.
        assert_eq!(stripes(512, 256), (2, 128));
        assert_eq!(stripes(512, 512), (2, 256));
        assert_eq!(stripes(1280, 800), (2, 400));
        assert_eq!(stripes(1500, 1000), (4, 250));
        assert_eq!(stripes(4000, 3000), (24, 125));
        // Never more stripes than rows; the last stripe is never empty.
        assert_eq!(stripes(1 << 17, 1), (1, 1));
        assert_eq!(stripes(1 << 16, 3), (2, 2));
        for (w, h) in [(1000u32, 131), (333, 999), (2048, 2047), (1 << 20, 2), (7, 1 << 20)] {
            let (n, rows) = stripes(w, h);
            assert!(n >= 1 && rows >= 1 && (n - 1) * rows < h && n * rows >= h, "{w}x{h}: {n} × {rows}");
        }
        // One row over the stripe limit: no image frame.
        assert_eq!(stripe_rows(1, 1, MAX_STRIPE_BYTES + 1), None);
    }
}
