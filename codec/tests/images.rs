//! Image frames end to end (spec/FORMAT.md §4.6-§4.7): PNG and PNM files of
//! every colour type and depth come back with the same pixels and metadata
//! (PNM byte for byte), the output does not depend on the thread count,
//! files the image path cannot restore exactly are compressed as bytes, and
//! damaged image frames end in typed errors, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::format::{self, varint, ColorType, Medium, SourceFormat};
use nzip_codec::media::image::{equivalent, Image};
use nzip_codec::{CoderKind, CompressOptions, DecompressOptions, Error};

/// Smooth content with a little noise, so that the image model beats the
/// file: a gradient per channel plus a xorshift perturbation.
fn samples(w: u32, h: u32, color: ColorType, maxval: u16, seed: u64) -> Vec<u8> {
    let ch = u64::from(color.channels());
    let m = u64::from(maxval);
    let mut r = seed | 1;
    let mut out = Vec::new();
    for y in 0..u64::from(h) {
        for x in 0..u64::from(w) {
            for k in 0..ch {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                let v = if color == ColorType::Indexed || m < 4 {
                    ((x / 5 + y / 7 + k) % (m + 1)).min(m)
                } else {
                    ((x * 2 + y * 3 + k * 40) * (m + 1) / 256 + (r & 3)).min(m)
                };
                if maxval < 256 {
                    out.push(v as u8);
                } else {
                    out.extend_from_slice(&(v as u16).to_be_bytes());
                }
            }
        }
    }
    out
}

/// PNG restore data (spec §4.7).
fn png_blob(interlaced: bool, before: &[(&[u8; 4], &[u8])], after: &[(&[u8; 4], &[u8])]) -> Vec<u8> {
    let mut b = vec![u8::from(interlaced)];
    for list in [before, after] {
        varint::put(&mut b, list.len() as u64);
        for (kind, data) in list {
            b.extend_from_slice(*kind);
            varint::put(&mut b, data.len() as u64);
            b.extend_from_slice(data);
        }
    }
    varint::put(&mut b, 0);
    b
}

fn png(w: u32, h: u32, color: ColorType, depth: u8, interlaced: bool, seed: u64) -> Vec<u8> {
    let maxval = ((1u32 << depth) - 1) as u16;
    let plte: Vec<u8> = (0..=255u8).flat_map(|i| [i, i / 2, 255 - i]).collect();
    let mut before: Vec<(&[u8; 4], &[u8])> = vec![(b"tEXt", b"Comment\0made by the nzip tests")];
    if color == ColorType::Indexed {
        before.push((b"PLTE", &plte[..3 << depth]));
    }
    let image = Image {
        width: w,
        height: h,
        color,
        maxval,
        source: SourceFormat::Png,
        restore: png_blob(interlaced, &before, &[(b"tIME", &[7, 234, 11, 24, 12, 0, 0])]),
        samples: samples(w, h, color, maxval, seed),
    };
    image.write_to(Vec::new()).unwrap()
}

fn pnm(magic: &str, w: u32, h: u32, maxval: u16, seed: u64) -> Vec<u8> {
    let (color, mut f) = match magic {
        "P5" => (ColorType::Gray, format!("P5\n# nzip test\n{w} {h}\n{maxval}\n").into_bytes()),
        "P6" => (ColorType::Rgb, format!("P6 {w} {h} {maxval}\n").into_bytes()),
        _ => (
            ColorType::Rgba,
            format!("P7\nWIDTH {w}\nHEIGHT {h}\nDEPTH 4\nMAXVAL {maxval}\nTUPLTYPE RGB_ALPHA\nENDHDR\n")
                .into_bytes(),
        ),
    };
    f.extend(samples(w, h, color, maxval, seed));
    f
}

fn copts(threads: usize, coder: CoderKind) -> CompressOptions {
    CompressOptions { level: 6, coder, threads, ..CompressOptions::default() }
}

/// Compress at level 6 with 1 and 2 threads (same bytes), decompress with 1
/// and 2 threads (same bytes); returns the file and the restored output.
/// Level 1 (the fast model, method `imgf`, for images) must do the same and
/// restore the same output.
fn round_trip(file: &[u8], coder: CoderKind) -> (Vec<u8>, Vec<u8>) {
    let [(packed, out), (_, fast_out)] = [6, 1].map(|level| {
        let opts = |threads| CompressOptions { level, ..copts(threads, coder) };
        let packed = nzip_codec::compress_to_vec(file, &opts(1)).unwrap();
        assert_eq!(nzip_codec::compress_to_vec(file, &opts(2)).unwrap(), packed, "-T1 and -T2 differ");
        let mut outs = [1, 2].map(|threads| {
            let d = DecompressOptions { threads, ..DecompressOptions::default() };
            nzip_codec::decompress_to_vec(&packed, &d).unwrap()
        });
        assert_eq!(outs[0], outs[1], "decoding with 1 and 2 threads differs");
        (packed, std::mem::take(&mut outs[0]))
    });
    assert_eq!(fast_out, out, "levels 1 and 6 restore different output");
    (packed, out)
}

fn medium(packed: &[u8]) -> Medium {
    let frames = nzip_codec::list(packed, &DecompressOptions::default()).unwrap();
    frames[0].header.medium
}

#[test]
fn png_every_color_type_and_depth() {
    let kinds: [(ColorType, &[u8]); 5] = [
        (ColorType::Gray, &[1, 2, 4, 8, 16]),
        (ColorType::Indexed, &[1, 2, 4, 8]),
        (ColorType::GrayAlpha, &[8, 16]),
        (ColorType::Rgb, &[8, 16]),
        (ColorType::Rgba, &[8, 16]),
    ];
    for (color, depths) in kinds {
        for &depth in depths {
            for interlaced in [false, true] {
                // Large enough that the image frame beats the file itself
                // (the 1-bit stripes deflate to under 300 bytes at 61 × 37).
                let file = png(97, 61, color, depth, interlaced, u64::from(depth));
                let coder = if interlaced { CoderKind::Ans } else { CoderKind::Range };
                let (packed, out) = round_trip(&file, coder);
                assert!(equivalent(&file, &out), "{color} {depth}-bit interlaced={interlaced}");
                assert_eq!(medium(&packed), Medium::Image, "{color} {depth}-bit: expected an image frame");
                assert!(packed.len() < file.len());
            }
        }
    }
}

#[test]
fn pnm_comes_back_byte_for_byte() {
    for magic in ["P5", "P6", "P7"] {
        for maxval in [1u16, 100, 255, 1023, 65535] {
            let mut file = pnm(magic, 40, 30, maxval, 7);
            file.extend_from_slice(b"bytes after the image");
            let (packed, out) = round_trip(&file, CoderKind::Range);
            assert_eq!(out, file, "{magic} maxval {maxval}");
            assert_eq!(medium(&packed), Medium::Image, "{magic} maxval {maxval}");
        }
    }
}

/// A multi-stripe image: stripes are coded in parallel, the file does not
/// depend on the thread count, and -T2 decodes what -T1 wrote.
#[test]
fn many_stripes() {
    let file = pnm("P6", 1500, 400, 255, 3);
    let (packed, out) = round_trip(&file, CoderKind::Range);
    assert_eq!(out, file);
    let frames = nzip_codec::list(&packed[..], &DecompressOptions::default()).unwrap();
    let info = frames[0].image.clone().unwrap();
    assert!(frames[0].chunks >= 2, "{info}");
    assert!(u64::from(info.stripe_rows) * (frames[0].chunks - 1) < 400);
}

/// Files the image path cannot restore exactly, or would not make smaller,
/// are compressed as bytes and come back byte for byte.
#[test]
fn fallbacks_are_bytes_frames() {
    let good = png(40, 20, ColorType::Rgb, 8, false, 1);
    let mut bad_crc = good.clone();
    let n = bad_crc.len();
    bad_crc[n - 1] ^= 1; // IEND's CRC
    let mut p2 = b"P2\n2 2\n255\n1 2\n3 4\n".to_vec(); // ASCII PNM
    p2.extend_from_slice(&[b'\n'; 50]);
    let tiny = pnm("P5", 1, 1, 255, 1);
    for file in [bad_crc, p2, tiny] {
        let (packed, out) = round_trip(&file, CoderKind::Range);
        assert_eq!(out, file);
        assert_eq!(medium(&packed), Medium::Bytes);
    }
    // --bytes: even a good image is a bytes frame.
    let o = CompressOptions { images: false, ..copts(1, CoderKind::Range) };
    let packed = nzip_codec::compress_to_vec(&good, &o).unwrap();
    assert_eq!(medium(&packed), Medium::Bytes);
    assert_eq!(nzip_codec::decompress_to_vec(&packed, &DecompressOptions::default()).unwrap(), good);
}

/// Noise does not compress: the image frame would be larger than the PNG,
/// so the output is a bytes frame within the bound of spec §7.
#[test]
fn noise_never_expands() {
    let image = Image {
        width: 64,
        height: 64,
        color: ColorType::Rgb,
        maxval: 255,
        source: SourceFormat::Png,
        restore: png_blob(false, &[], &[]),
        samples: (0..64 * 64 * 3u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect(),
    };
    let file = image.write_to(Vec::new()).unwrap();
    let packed = nzip_codec::compress_to_vec(&file, &copts(1, CoderKind::Range)).unwrap();
    assert!(
        packed.len() as u64
            <= file.len() as u64 + format::FRAME_OVERHEAD_FIXED + format::FRAME_OVERHEAD_PER_CHUNK
    );
}

fn corrupt_kind(e: &Error) -> bool {
    e.is_corrupt_input() || matches!(e, Error::Format(format::Error::Unsupported(_)))
}

/// Every truncation and a sample of bit flips of an image frame give a typed
/// error (or, for a flip that leaves the frame valid, the same image), never
/// a panic; the streaming output before an error is a prefix of the file.
#[test]
fn damaged_image_frames_are_errors() {
    // The third: 8-bit data in a 16-bit PGM, whose frame has a value map.
    let mut sparse = b"P5 50 30 65535\n".to_vec();
    for v in samples(50, 30, ColorType::Gray, 255, 5) {
        sparse.extend_from_slice(&(u16::from(v) << 8).to_be_bytes());
    }
    let files = [
        (png(50, 30, ColorType::Rgba, 8, false, 9), false),
        (pnm("P6", 50, 30, 255, 4), false),
        (sparse, true),
    ];
    for (file, mapped) in files {
        let packed = nzip_codec::compress_to_vec(&file, &copts(1, CoderKind::Range)).unwrap();
        let frames = nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap();
        assert_eq!(frames[0].value_map.is_some(), mapped);
        let good = nzip_codec::decompress_to_vec(&packed, &DecompressOptions::default()).unwrap();
        for cut in 0..packed.len() {
            let e = nzip_codec::decompress_to_vec(&packed[..cut], &DecompressOptions::default()).unwrap_err();
            assert!(e.is_corrupt_input(), "cut at {cut}: {e}");
        }
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let bit = (x % (packed.len() as u64 * 8)) as usize;
            let mut damaged = packed.clone();
            damaged[bit / 8] ^= 1 << (bit % 8);
            let mut out = Vec::new();
            match nzip_codec::decompress(&damaged[..], &mut out, &DecompressOptions::default(), &mut |_| {}) {
                Ok(_) => assert_eq!(out, good, "flip {bit} decoded to something else"),
                Err(e) => {
                    assert!(corrupt_kind(&e), "flip {bit}: {e}");
                    assert!(good.starts_with(&out) || out.len() < good.len(), "flip {bit}");
                }
            }
        }
    }
}

/// Images wider than the model's limit are compressed as bytes, and an image
/// frame that claims such a width is refused as beyond the decoder's limits.
#[test]
fn too_wide_images() {
    let w = nzip_codec::models::image::MAX_WIDTH + 1;
    let mut file = format!("P5 {w} 1 255\n").into_bytes();
    file.extend((0..w).map(|x| (x / 64) as u8));
    let (packed, out) = round_trip(&file, CoderKind::Range);
    assert_eq!(out, file);
    assert_eq!(medium(&packed), Medium::Bytes);

    let info = format::ImageInfo {
        width: w,
        height: 1,
        color: ColorType::Gray,
        maxval: 255,
        stripe_rows: 1,
        source: SourceFormat::Pnm,
        restore_coding: format::RestoreCoding::Raw,
        restore_len: 0,
        restore: Vec::new(),
    };
    let header = format::Header {
        medium: Medium::Image,
        method: format::Method::ImagePredictive,
        level: 6,
        coder: format::Coder::Range,
        precision: 16,
        chunk_size: w,
        content_size: Some(u64::from(w)),
        model: None,
    };
    let row = vec![0u8; w as usize];
    let mut writer = format::Writer::new_image(Vec::new(), header, &info).unwrap();
    writer.write_chunk(format::ChunkKind::Stored, w, format::chunk_crc(&row), &row).unwrap();
    let (frame, _) = writer.finish(format::content_hash(&row)).unwrap();
    let e = nzip_codec::decompress_to_vec(&frame, &DecompressOptions::default()).unwrap_err();
    assert!(matches!(e, Error::Format(format::Error::LimitExceeded { .. })), "{e}");
}

/// Images of 32 KiB of samples or more mix in the built-in network
/// (spec/MODELS.md §7.12; method `img3` naming the network), smaller ones do
/// not (`img3` without a model); either way -T1 and -T2 give the same file,
/// and both coders round trip. Without the grid (`image_grid: Some(false)`)
/// the method is `img2`, without the match model (`image_match:
/// Some(false)`) `imgnn` and `img`, as nzip wrote before.
#[test]
fn larger_images_mix_in_the_network() {
    let big = pnm("P6", 128, 96, 255, 7);
    let small = pnm("P6", 60, 40, 255, 7);
    for coder in [CoderKind::Range, CoderKind::Ans] {
        let (packed, out) = round_trip(&big, coder);
        assert_eq!(out, big);
        let h = &nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
        assert_eq!(h.method, format::Method::ImageGrid);
        // One of the level's networks, chosen by the encoder: the file is the
        // one that network makes when asked for by name.
        let name = h.model.as_ref().unwrap().name.as_str();
        assert!(nzip_codec::image_nets_for_level(6).contains(&name), "{name}");
        let named = CompressOptions { model: Some(name.into()), ..copts(1, coder) };
        assert_eq!(nzip_codec::compress_to_vec(&big, &named).unwrap(), packed);
        let (packed, out) = round_trip(&small, coder);
        assert_eq!(out, small);
        let h = &nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
        assert_eq!(h.method, format::Method::ImageGrid);
        assert!(h.model.is_none());
        // Revisions 1 and 2 of the model.
        let v1 = CompressOptions { image_match: Some(false), ..copts(1, coder) };
        let v2 = CompressOptions { image_grid: Some(false), ..copts(1, coder) };
        for (img, method, v1) in [
            (&big, format::Method::ImageNetwork, v1.clone()),
            (&small, format::Method::ImagePredictive, v1),
            (&big, format::Method::ImageMatch, v2.clone()),
            (&small, format::Method::ImageMatch, v2),
        ] {
            let packed = nzip_codec::compress_to_vec(img, &v1).unwrap();
            let h = &nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
            assert_eq!(h.method, method);
            assert_eq!(&nzip_codec::decompress_to_vec(&packed, &DecompressOptions::default()).unwrap(), img);
            let two = CompressOptions { threads: 2, ..v1 };
            assert_eq!(nzip_codec::compress_to_vec(img, &two).unwrap(), packed);
        }
    }
    // Level 1, the fastest, codes with the fast model (no network), and
    // -T1 and -T2 agree; asked for a network, it writes img3 with it.
    let fast = CompressOptions { level: 1, ..copts(1, CoderKind::Range) };
    let packed = nzip_codec::compress_to_vec(&big, &fast).unwrap();
    let h = &nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
    assert_eq!((h.method, h.model.is_none()), (format::Method::ImageFast, true));
    assert_eq!(nzip_codec::decompress_to_vec(&packed, &DecompressOptions::default()).unwrap(), big);
    let two = CompressOptions { level: 1, ..copts(2, CoderKind::Range) };
    assert_eq!(nzip_codec::compress_to_vec(&big, &two).unwrap(), packed);
    let fast_net = CompressOptions { image_net: Some(true), ..fast.clone() };
    let packed = nzip_codec::compress_to_vec(&big, &fast_net).unwrap();
    let h = &nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
    assert_eq!((h.method, h.model.is_some()), (format::Method::ImageGrid, true));
    // Levels 7-9 mix in the wider network, and -T1 and -T2 still agree.
    let slow = CompressOptions { level: 9, ..copts(1, CoderKind::Range) };
    let packed = nzip_codec::compress_to_vec(&big, &slow).unwrap();
    let h = &nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
    assert_eq!(h.method, format::Method::ImageGrid);
    assert!(nzip_codec::image_nets_for_level(9).contains(&h.model.as_ref().unwrap().name.as_str()));
    assert_eq!(nzip_codec::decompress_to_vec(&packed, &DecompressOptions::default()).unwrap(), big);
    let two = CompressOptions { level: 9, ..copts(2, CoderKind::Range) };
    assert_eq!(nzip_codec::compress_to_vec(&big, &two).unwrap(), packed);
    // Without the network the stripes are larger (this synthetic image gains
    // less than the 43 bytes of the model reference; photos gain about 1%).
    let without = CompressOptions { image_net: Some(false), ..copts(1, CoderKind::Range) };
    let plain = nzip_codec::compress_to_vec(&big, &without).unwrap();
    let (with_net, _) = round_trip(&big, CoderKind::Range);
    let reference = 1 + 32 + 1 + nzip_codec::IMAGE_NET.len();
    assert!(
        with_net.len() - reference < plain.len(),
        "{} with the network, {} without",
        with_net.len(),
        plain.len()
    );
}

/// `--model NAME` with an image network codes images with that network
/// (every built-in one, whatever the level and the image's size: files made
/// with an earlier default network stay reproducible), and refuses inputs
/// that are not images.
#[test]
fn an_image_network_can_be_asked_for_by_name() {
    let big = pnm("P6", 128, 96, 255, 3);
    let small = pnm("P5", 30, 20, 255, 3);
    let nets: Vec<&str> = nzip_codec::nn::package::builtins()
        .iter()
        .filter(|b| b.kind == nzip_codec::nn::package::BuiltinKind::ImgNet)
        .map(|b| b.name)
        .collect();
    assert!(nets.len() >= 2, "{nets:?}");
    for name in nets {
        for (img, level) in [(&big, 6), (&small, 1)] {
            let opts = CompressOptions { level, model: Some(name.into()), ..copts(1, CoderKind::Range) };
            let packed = nzip_codec::compress_to_vec(img, &opts).unwrap();
            let h = &nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
            assert_eq!(
                (h.method, h.model.as_ref().unwrap().name.as_str()),
                (format::Method::ImageGrid, name)
            );
            assert_eq!(&nzip_codec::decompress_to_vec(&packed, &DecompressOptions::default()).unwrap(), img);
            let two = CompressOptions { threads: 2, ..opts };
            assert_eq!(nzip_codec::compress_to_vec(img, &two).unwrap(), packed);
        }
        let opts = CompressOptions { model: Some(name.into()), ..copts(1, CoderKind::Range) };
        let e = nzip_codec::compress_to_vec(b"not an image, only text", &opts).unwrap_err();
        assert!(e.to_string().contains("is an image network"), "{e}");
    }
}

/// Samples that take few of the values their depth allows (8-bit data in a
/// 16-bit image, scaled by 257 or shifted left; 12-bit data shifted into 16
/// bits) are coded as their indices in a value map (spec/FORMAT.md §4.8):
/// about the size of the same image at its real depth, restored exactly,
/// the same for any thread count and either coder.
#[test]
fn sparse_values_are_coded_through_a_value_map() {
    let (w, h) = (96, 80);
    for (magic, color) in [("P5", ColorType::Gray), ("P7", ColorType::Rgba)] {
        let narrow = pnm(magic, w, h, 255, 11);
        let header_len = narrow.len() - samples(w, h, color, 255, 11).len();
        let header8 = String::from_utf8(narrow[..header_len].to_vec()).unwrap();
        let header16 = header8.replace("255", "65535").into_bytes();
        let narrow_packed = nzip_codec::compress_to_vec(&narrow, &copts(1, CoderKind::Range)).unwrap();
        let widen = |f: &dyn Fn(u16) -> u16| {
            let mut file = header16.clone();
            for &v in &narrow[header_len..] {
                file.extend_from_slice(&f(u16::from(v)).to_be_bytes());
            }
            file
        };
        for (how, file) in
            [("x257", widen(&|v| v * 257)), ("<<8", widen(&|v| v << 8)), ("<<4", widen(&|v| v << 4))]
        {
            for coder in [CoderKind::Range, CoderKind::Ans] {
                let (packed, out) = round_trip(&file, coder);
                assert_eq!(out, file, "{magic} {how}");
                let frames = nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap();
                let map =
                    frames[0].value_map.as_ref().unwrap_or_else(|| panic!("{magic} {how}: no value map"));
                assert!(map.count <= 256, "{magic} {how}: {} values", map.count);
                // The 16-bit file costs what the 8-bit one does, plus its map.
                assert!(
                    packed.len() < narrow_packed.len() + 80,
                    "{magic} {how}: {} bytes, {} at 8 bits",
                    packed.len(),
                    narrow_packed.len()
                );
            }
        }
    }
    // Dense samples (every value from the smallest to the largest) have no map.
    let dense = pnm("P5", w, h, 255, 11);
    let packed = nzip_codec::compress_to_vec(&dense, &copts(1, CoderKind::Range)).unwrap();
    assert!(nzip_codec::list(packed.as_slice(), &DecompressOptions::default()).unwrap()[0]
        .value_map
        .is_none());
}
