use super::*;
use proptest::prelude::*;

/// A deterministic pseudo-random image with samples in 0..=maxval.
fn synth(width: u32, height: u32, color: ColorType, maxval: u16, seed: u64) -> Vec<u8> {
    let n = width as usize * height as usize * usize::from(color.channels());
    let mut x = seed | 1;
    let mut out = Vec::new();
    for i in 0..n {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // Smooth-ish: a ramp plus noise, folded into range.
        let v = ((i as u64 / 3 + (x & 15)) % (u64::from(maxval) + 1)) as u16;
        if maxval < 256 {
            out.push(v as u8);
        } else {
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out
}

fn png_restore(
    interlaced: bool,
    before: &[(&[u8; 4], &[u8])],
    after: &[(&[u8; 4], &[u8])],
    trailer: &[u8],
) -> Vec<u8> {
    let mut r = vec![u8::from(interlaced)];
    for list in [before, after] {
        varint::put(&mut r, list.len() as u64);
        for (k, d) in list {
            r.extend_from_slice(*k);
            varint::put(&mut r, d.len() as u64);
            r.extend_from_slice(d);
        }
    }
    varint::put(&mut r, trailer.len() as u64);
    r.extend_from_slice(trailer);
    r
}

const PNG_KINDS: [(ColorType, &[u8]); 5] = [
    (ColorType::Gray, &[1, 2, 4, 8, 16]),
    (ColorType::Indexed, &[1, 2, 4, 8]),
    (ColorType::GrayAlpha, &[8, 16]),
    (ColorType::Rgb, &[8, 16]),
    (ColorType::Rgba, &[8, 16]),
];

/// Every PNG colour type and depth, interlaced or not, with metadata before
/// and after the image data and bytes after IEND: written, parsed back equal.
#[test]
fn png_every_kind_roundtrips() {
    for (color, depths) in PNG_KINDS {
        for &depth in depths {
            for interlaced in [false, true] {
                for (w, h) in [(1, 1), (7, 5), (33, 17)] {
                    let maxval = ((1u32 << depth) - 1) as u16;
                    let plte: Vec<u8> = (0..=255u8).flat_map(|i| [i, 255 - i, i / 2]).collect();
                    let mut before: Vec<(&[u8; 4], &[u8])> =
                        vec![(b"gAMA", &[0, 1, 0x86, 0xa0]), (b"tEXt", b"Title\0t")];
                    if color == ColorType::Indexed {
                        before.push((b"PLTE", &plte[..3 * (1usize << depth)]));
                        before.push((b"tRNS", &[0, 128]));
                    }
                    let image = Image {
                        width: w,
                        height: h,
                        color,
                        maxval,
                        source: SourceFormat::Png,
                        restore: png_restore(
                            interlaced,
                            &before,
                            &[(b"tIME", &[7, 230, 1, 2, 3, 4, 5])],
                            b"trail",
                        ),
                        samples: synth(w, h, color, maxval, u64::from(depth) * 31 + u64::from(w)),
                    };
                    let file = image.write_to(Vec::new()).unwrap();
                    let back =
                        Image::parse(&file).unwrap_or_else(|e| panic!("{color} {depth} {interlaced}: {e}"));
                    assert_eq!(back, image, "{color} {depth} interlaced={interlaced} {w}x{h}");
                    assert!(file.ends_with(b"trail"));
                    // Writing again gives the same bytes (the writer is deterministic).
                    assert_eq!(back.write_to(Vec::new()).unwrap(), file);
                }
            }
        }
    }
}

/// A PNG written by the `png` crate (another writer): its chunks other than
/// IDAT come back byte for byte, in order, and its pixels are the same.
#[test]
fn png_from_another_writer_keeps_chunks() {
    let (w, h) = (20u32, 9u32);
    let samples = synth(w, h, ColorType::Rgba, 255, 5);
    let mut file = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut file, w, h);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        enc.add_text_chunk("Software".into(), "test".into()).unwrap();
        let mut wr = enc.write_header().unwrap();
        wr.write_chunk(png::chunk::ChunkType(*b"pHYs"), &[0, 0, 11, 19, 0, 0, 11, 19, 1]).unwrap();
        wr.write_image_data(&samples).unwrap();
        wr.write_chunk(png::chunk::ChunkType(*b"zzZz"), b"private after").unwrap();
        wr.finish().unwrap();
    }
    let image = Image::parse(&file).unwrap();
    assert_eq!(image.samples, samples);
    let out = image.write_to(Vec::new()).unwrap();
    let chunks = |f: &[u8]| -> Vec<Vec<u8>> {
        let layout = png_layout(f).unwrap();
        let mut v = vec![layout.ihdr.to_vec()];
        for c in layout.before.iter().chain(&layout.after) {
            v.push([&c.kind[..], c.data].concat());
        }
        v
    };
    assert_eq!(chunks(&out), chunks(&file));
    assert!(equivalent(&file, &out));
    // And the png crate reads the same pixels from our file.
    let mut dec = png::Decoder::new(io::Cursor::new(&out)).read_info().unwrap();
    let mut buf = vec![0; dec.output_buffer_size().unwrap()];
    dec.next_frame(&mut buf).unwrap();
    assert_eq!(buf, samples);
}

#[test]
fn png_that_cannot_be_restored_exactly_is_not_an_image() {
    let image = Image {
        width: 4,
        height: 3,
        color: ColorType::Rgb,
        maxval: 255,
        source: SourceFormat::Png,
        restore: png_restore(false, &[], &[], b""),
        samples: synth(4, 3, ColorType::Rgb, 255, 1),
    };
    let file = image.write_to(Vec::new()).unwrap();
    assert!(Image::parse(&file).is_ok());
    // A damaged CRC (of IEND, the last 4 bytes).
    let mut bad = file.clone();
    *bad.last_mut().unwrap() ^= 1;
    assert!(Image::parse(&bad).is_err());
    // Truncated anywhere.
    for n in 0..file.len() {
        assert!(Image::parse(&file[..n]).is_err(), "{n}");
    }
    // An unknown critical chunk before IDAT.
    let mut odd = file[..33].to_vec();
    write_png_chunk(&mut odd, b"CRIT", b"x").unwrap();
    odd.extend_from_slice(&file[33..]);
    assert_eq!(Image::parse(&odd), Err(NotAnImage("PNG with a critical chunk nzip does not know")));
}

fn pnm_roundtrip(file: &[u8], color: ColorType, maxval: u16) {
    let image = Image::parse(file)
        .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&file[..20.min(file.len())])));
    assert_eq!((image.color, image.maxval, image.source), (color, maxval, SourceFormat::Pnm));
    assert_eq!(image.write_to(Vec::new()).unwrap(), file, "PNM comes back byte for byte");
}

#[test]
fn pnm_variants_roundtrip_exactly() {
    for (maxval, bps) in [(1u16, 1usize), (15, 1), (255, 1), (256, 2), (1023, 2), (65535, 2)] {
        for (magic, color) in [("P5", ColorType::Gray), ("P6", ColorType::Rgb)] {
            let (w, h) = (5u32, 3u32);
            let mut f = format!("{magic}\n# a comment\n{w} {h}\n#another\r\n{maxval}\n").into_bytes();
            f.extend(synth(w, h, color, maxval, 3));
            assert_eq!(f.len() - f.iter().position(|&b| b == b'\n').unwrap(), f.len() - 2);
            pnm_roundtrip(&f, color, maxval);
            let _ = bps;
            // Bytes after the image (another image, or junk) are kept.
            f.extend_from_slice(b"P5 1 1 255\n\x07");
            pnm_roundtrip(&f, color, maxval);
        }
        for (depth, color, tupl) in [
            (1, ColorType::Gray, "GRAYSCALE"),
            (2, ColorType::GrayAlpha, "GRAYSCALE_ALPHA"),
            (3, ColorType::Rgb, "RGB"),
            (4, ColorType::Rgba, "RGB_ALPHA"),
        ] {
            let mut f = format!(
                "P7\nWIDTH 4\n# c\nHEIGHT 2\nDEPTH {depth}\nMAXVAL {maxval}\nTUPLTYPE {tupl}\nENDHDR\n"
            )
            .into_bytes();
            f.extend(synth(4, 2, color, maxval, 9));
            pnm_roundtrip(&f, color, maxval);
        }
    }
    // Minimal whitespace.
    let mut f = b"P5 2 1 9\t".to_vec();
    f.extend_from_slice(&[3, 9]);
    pnm_roundtrip(&f, ColorType::Gray, 9);
}

#[test]
fn pnm_that_cannot_be_restored_is_not_an_image() {
    let bad: &[&[u8]] = &[
        b"P5\n2 2\n255\n\x01\x02\x03",       // truncated
        b"P5\n2 1\n9\n\x01\x0a",             // sample above maxval
        b"P5\n0 1\n255\n",                   // zero width
        b"P5\n2 1\n70000\n\x00\x00\x00\x00", // maxval too large
        b"P5\n2 1\n255#\n\x00\x00",          // no whitespace after maxval
        b"P2\n1 1\n255\n0\n",                // ASCII
        b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 5\nMAXVAL 255\nENDHDR\n\x00\x00\x00\x00\x00",
        b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nENDHDR\n\x00",
        b"P7\nWIDTH 1\nHEIGHT 1\nDEPTH 1\nMAXVAL 255\nBOGUS 1\nENDHDR\n\x00",
        b"P6\n99999999999 1\n255\n",
    ];
    for f in bad {
        assert!(Image::parse(f).is_err(), "{:?}", String::from_utf8_lossy(f));
    }
}

#[test]
fn restorer_rejects_inconsistent_blobs() {
    let image = Image {
        width: 2,
        height: 2,
        color: ColorType::Gray,
        maxval: 255,
        source: SourceFormat::Pnm,
        restore: Vec::new(),
        samples: vec![0; 4],
    };
    let mut r = Vec::new();
    varint::put(&mut r, 11);
    r.extend_from_slice(b"P5\n3 2\n255\n"); // says 3 wide
    varint::put(&mut r, 0);
    assert!(Restorer::new(Vec::new(), &image.info(2, RestoreCoding::Raw, r.clone()), &r).is_err());
    // A PNG description whose maxval is not 2^d - 1.
    let mut info = image.info(2, RestoreCoding::Raw, Vec::new());
    info.source = SourceFormat::Png;
    info.maxval = 200;
    assert!(Restorer::new(Vec::new(), &info, &png_restore(false, &[], &[], b"")).is_err());
    // Rows: partial, too many, missing.
    let blob = png_restore(false, &[], &[], b"");
    info.maxval = 255;
    let mut w = Restorer::new(Vec::new(), &info, &blob).unwrap();
    assert!(w.write_rows(&[0; 3]).is_err());
    assert!(w.write_rows(&[0; 6]).is_err());
    w.write_rows(&[0; 2]).unwrap();
    assert!(w.finish().is_err());
}

proptest! {
    /// Any bytes after a PNG signature or a PNM magic: parsed or rejected, never a panic.
    #[test]
    fn parse_never_panics(body in prop::collection::vec(any::<u8>(), 0..300), kind in 0..4usize) {
        let prefix: &[u8] = match kind { 0 => &PNG_SIGNATURE, 1 => b"P5\n", 2 => b"P6 ", _ => b"P7\n" };
        let data = [prefix, &body].concat();
        let _ = Image::parse(&data);
    }

    /// Any restore blob with any description: an error or a file, never a panic.
    #[test]
    fn restorer_never_panics(blob in prop::collection::vec(any::<u8>(), 0..200), png in any::<bool>(), w in 1u32..5, h in 1u32..5) {
        let image = Image {
            width: w, height: h, color: ColorType::Gray, maxval: 255,
            source: if png { SourceFormat::Png } else { SourceFormat::Pnm },
            restore: Vec::new(), samples: Vec::new(),
        };
        let info = image.info(h, RestoreCoding::Raw, blob.clone());
        if let Ok(mut r) = Restorer::new(Vec::new(), &info, &blob) {
            r.write_rows(&vec![7u8; (w * h) as usize]).unwrap();
            let _ = r.finish();
        }
    }
}

/// A PNG written a few rows at a time (segments, as the pipeline writes
/// stripes) decodes to the same pixels, for every depth and adaptive
/// filtering; segments encoded ahead (in parallel) and written in order give
/// the same file.
#[test]
fn png_in_segments() {
    for (color, depth) in
        [(ColorType::Rgb, 8u8), (ColorType::Rgba, 16), (ColorType::Gray, 2), (ColorType::Indexed, 4)]
    {
        let (w, h) = (37u32, 23u32);
        let maxval = ((1u32 << depth) - 1) as u16;
        let plte: Vec<u8> = (0..48u8).collect();
        let before: Vec<(&[u8; 4], &[u8])> =
            if color == ColorType::Indexed { vec![(b"PLTE", &plte[..])] } else { Vec::new() };
        let image = Image {
            width: w,
            height: h,
            color,
            maxval,
            source: SourceFormat::Png,
            restore: png_restore(false, &before, &[], b""),
            samples: synth(w, h, color, maxval, 11),
        };
        let info = image.raw_info();
        let row = image.row_bytes();
        let mut r = Restorer::new(Vec::new(), &info, &image.restore).unwrap();
        for part in image.samples.chunks(row * 5) {
            r.write_rows(part).unwrap();
        }
        let file = r.finish().unwrap();
        let back = Image::parse(&file).unwrap();
        assert_eq!(back.samples, image.samples, "{color} {depth}");
        // The same segments, encoded first and written afterwards.
        let mut r = Restorer::new(Vec::new(), &info, &image.restore).unwrap();
        let enc = r.png_stripes().unwrap();
        let segs: Vec<(u64, PngSegment)> = image
            .samples
            .chunks(row * 5)
            .enumerate()
            .map(|(i, part)| ((part.len() / row) as u64, enc.encode(part, (i * 5) as u64).unwrap()))
            .collect();
        for (n, seg) in &segs {
            r.write_segment(*n, seg).unwrap();
        }
        assert_eq!(r.finish().unwrap(), file);
    }
}

#[test]
fn adler32_combines() {
    let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 + i / 13) as u8).collect();
    for cut in [0, 1, 5551, 5552, 10_000, 20_000] {
        let (a, b) = data.split_at(cut);
        assert_eq!(adler32_combine(adler32(a), adler32(b), b.len() as u64), adler32(&data), "{cut}");
    }
    assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
}

/// The PNG filters one byte at a time, as the PNG specification states them:
/// the reference for [`filter_row`] and [`filter_cost`].
fn filter_row_reference(kind: u8, bpp: usize, prev: &[u8], cur: &[u8]) -> Vec<u8> {
    (0..cur.len())
        .map(|i| {
            let a = if i >= bpp { cur[i - bpp] } else { 0 };
            let b = prev.get(i).copied().unwrap_or(0);
            let c = if i >= bpp { prev.get(i - bpp).copied().unwrap_or(0) } else { 0 };
            let x = cur[i];
            match kind {
                0 => x,
                1 => x.wrapping_sub(a),
                2 => x.wrapping_sub(b),
                3 => x.wrapping_sub(((u16::from(a) + u16::from(b)) / 2) as u8),
                _ => {
                    let p = i16::from(a) + i16::from(b) - i16::from(c);
                    let (pa, pb, pc) =
                        ((p - i16::from(a)).abs(), (p - i16::from(b)).abs(), (p - i16::from(c)).abs());
                    x.wrapping_sub(if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    })
                }
            }
        })
        .collect()
}

proptest! {
    #[test]
    fn filters_equal_the_bytewise_reference(
        cur in proptest::collection::vec(any::<u8>(), 0..200),
        prev_seed in any::<u64>(),
        bpp in 1usize..=8,
        same_len in any::<bool>(),
    ) {
        let mut x = prev_seed | 1;
        let n = if same_len { cur.len() } else { cur.len() / 2 };
        let prev: Vec<u8> = (0..n).map(|_| { x ^= x << 13; x ^= x >> 7; x ^= x << 17; x as u8 }).collect();
        for kind in 0..5u8 {
            let want = filter_row_reference(kind, bpp, &prev, &cur);
            let mut got = vec![7u8];
            filter_row(kind, bpp, &prev, &cur, &mut got);
            prop_assert_eq!(&got[1..], &want[..], "kind {}", kind);
            let cost: u64 = want.iter().map(|&v| u64::from((v as i8).unsigned_abs())).sum();
            prop_assert_eq!(filter_cost(kind, bpp, &prev, &cur), cost, "kind {}", kind);
        }
    }
}
