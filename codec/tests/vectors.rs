//! The test vectors of spec/FORMAT.md §11.
//!
//! `spec/vectors/MANIFEST.tsv` lists every vector with its expected result. These
//! tests (1) rebuild every vector from its source and options and require the
//! committed bytes, which pins the coded bytes of every method, level and coder;
//! and (2) decode every committed vector and check the manifest's expectation,
//! as any other implementation would.
//!
//! To regenerate after an intended format or model change (which must come with a
//! new method id or format version, see spec/FORMAT.md §2.1):
//! `NZIP_REGEN_VECTORS=1 cargo test -p nzip-codec --test vectors`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::format::{self, tag, Coder, Header, Medium, Method, ModelRef};
use nzip_codec::{CoderKind, CompressOptions, DecompressOptions, Error};
use std::path::{Path, PathBuf};

fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors")
}

enum Expect {
    Ok(Vec<u8>),
    /// An image frame of a PNG: it decodes to a PNG with these samples (the
    /// frame's content) and the source's metadata, but its own image data.
    Image(Vec<u8>),
    Err(&'static str),
}

struct Vector {
    name: String,
    bytes: Vec<u8>,
    expect: Expect,
    /// Source file and options, for vectors made by the reference encoder.
    made_from: String,
}

fn kind_of(e: &Error) -> &'static str {
    match e {
        Error::Format(format::Error::NotNzip) => "NotNzip",
        Error::Format(format::Error::Truncated { .. }) => "Truncated",
        Error::Format(format::Error::Malformed { .. }) => "Malformed",
        Error::Format(format::Error::Checksum { .. }) => "Checksum",
        Error::Format(format::Error::Unsupported(_)) => "Unsupported",
        Error::Format(format::Error::LimitExceeded { .. }) => "LimitExceeded",
        _ => "Other",
    }
}

fn source(name: &str) -> Vec<u8> {
    std::fs::read(vectors_dir().join("src").join(name)).expect("vector source")
}

/// A deterministic mix of text-like runs and pseudo-random bytes, so that a
/// multi-chunk file has both modelled and stored chunks.
fn mixed_source() -> Vec<u8> {
    let text = source("hello.txt");
    let mut out = Vec::new();
    let mut x: u32 = 0x1234_5678;
    for block in 0..8 {
        if block % 3 == 1 {
            for _ in 0..1024 {
                x = x.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                out.push((x >> 24) as u8);
            }
        } else {
            out.extend(text.iter().cycle().skip(block * 37).take(1024));
        }
    }
    out.truncate(7 * 1024 + 300);
    out
}

/// The samples of an image file (the content of its image frame).
fn samples_of(file: &[u8]) -> Vec<u8> {
    nzip_codec::media::image::Image::parse(file).unwrap().samples
}

fn encode(content: &[u8], level: u8, coder: CoderKind, chunk_size: Option<u32>) -> Vec<u8> {
    let opts = CompressOptions { level, coder, threads: 1, chunk_size, ..CompressOptions::default() };
    nzip_codec::compress_to_vec(content, &opts).unwrap()
}

/// An image frame of method 3 (`img`, without the network or the match
/// model), which nzip writes only when asked (`image_net: false`,
/// `image_match: false`).
fn encode_img(content: &[u8], coder: CoderKind) -> Vec<u8> {
    let opts = CompressOptions {
        coder,
        threads: 1,
        image_net: Some(false),
        image_match: Some(false),
        ..CompressOptions::default()
    };
    nzip_codec::compress_to_vec(content, &opts).unwrap()
}

/// An image frame of method 8 (`img2`) at level 6, with the built-in network
/// `net` or none, and the match model as `matching` says (`None`: the
/// encoder's choice per stripe).
fn encode_img2(content: &[u8], coder: CoderKind, net: Option<&str>, matching: Option<bool>) -> Vec<u8> {
    encode_img3(content, coder, net, (matching, Some(false)))
}

/// An image frame of method 9 (`img3`) at level 6, with the built-in network
/// `net` or none, and the match model and the grid as `matching` and `grid`
/// say (`None`: the encoder's choice per stripe); with `grid: Some(false)`
/// method 8 (`img2`).
fn encode_img3(
    content: &[u8],
    coder: CoderKind,
    net: Option<&str>,
    (matching, grid): (Option<bool>, Option<bool>),
) -> Vec<u8> {
    let opts = CompressOptions {
        coder,
        threads: 1,
        model: net.map(Into::into),
        image_net: Some(net.is_some()),
        image_match: matching,
        image_grid: grid,
        ..CompressOptions::default()
    };
    nzip_codec::compress_to_vec(content, &opts).unwrap()
}

/// An image frame of method 6 (`imgnn`) at `level`, mixing in the built-in
/// network `net` (`--model NET`): forced here even for these small images
/// (nzip mixes its level's network into images of 32 KiB of samples or
/// more), so that the vectors stay small; naming the network keeps the
/// vectors made with an earlier default network reproducible.
fn encode_imgnn(content: &[u8], coder: CoderKind, level: u8, net: &str) -> Vec<u8> {
    let opts = CompressOptions {
        level,
        coder,
        threads: 1,
        model: Some(net.into()),
        image_net: Some(true),
        image_match: Some(false),
        ..CompressOptions::default()
    };
    nzip_codec::compress_to_vec(content, &opts).unwrap()
}

/// A frame of method 1 (`cm`), which nzip no longer writes but must decode:
/// built here as nzip 0.1 before `cm2` wrote it, so that the committed
/// vectors keep pinning the `cm` model's coded bytes.
fn legacy_cm(content: &[u8], level: u8, coder: CoderKind, chunk_size: Option<u32>) -> Vec<u8> {
    use nzip_codec::models::cm;
    let chunk_size = chunk_size.unwrap_or_else(|| nzip_codec::default_chunk_size(level));
    let header = Header {
        medium: Medium::Bytes,
        method: Method::ContextMixing,
        level,
        coder: match coder {
            CoderKind::Range => Coder::Range,
            CoderKind::Ans => Coder::Ans,
        },
        precision: 16,
        chunk_size,
        content_size: Some(content.len() as u64),
        model: None,
    };
    write_frame(header, content, |raw| cm::Model::new(level, raw.len() as u64))
}

/// A frame of method 5 (`cmlm`, whose language model does not adapt), which
/// nzip 0.1 wrote at level 9 before `cmlm2`: the header of nzip's level-9
/// frame of `content` (a short text: level 6 with the prior) with method 5,
/// and every chunk coded by `cmlm`.
fn legacy_cmlm(content: &[u8], coder: CoderKind) -> Vec<u8> {
    use nzip_codec::models::cmlm::CmLm;
    use nzip_codec::nn::{package, Backend};
    let mut header = nzip_codec::list(&encode(content, 9, coder, None)[..], &DecompressOptions::default())
        .unwrap()[0]
        .header
        .clone();
    assert_eq!(header.method, Method::ContextMixingLm2);
    header.method = Method::ContextMixingLm;
    // The header names the language model, then the prior.
    let (lm_id, prior_id) = header.model.as_ref().unwrap().id.split_at(32);
    let lm = package::find_by_id(lm_id).unwrap().gru().unwrap();
    let prior = package::find_by_id(prior_id).unwrap().cm_prior().unwrap();
    write_frame(header, content, |raw| {
        CmLm::new(prior.model(raw.len() as u64).unwrap(), lm.clone(), Backend::Cpu, false).unwrap()
    })
}

/// A frame with `header` whose chunks are coded bit by bit, each from the
/// model `model` makes for it (stored where that is not smaller).
fn write_frame<M: nzip_codec::models::cm::BitModel>(
    header: Header,
    content: &[u8],
    model: impl Fn(&[u8]) -> M,
) -> Vec<u8> {
    use nzip_codec::entropy::{AnsBitEncoder, RangeBitEncoder};
    use nzip_codec::models::cm;
    let (coder, chunk_size) = (header.coder, header.chunk_size as usize);
    let mut w = format::Writer::new(Vec::new(), header).unwrap();
    for raw in content.chunks(chunk_size) {
        let coded = match coder {
            Coder::Ans => {
                let mut e = AnsBitEncoder::new();
                cm::encode_with(model(raw), raw, &mut e);
                e.finish()
            }
            _ => {
                let mut e = RangeBitEncoder::new();
                cm::encode_with(model(raw), raw, &mut e);
                e.finish()
            }
        };
        let (kind, payload) = if coded.len() < raw.len() {
            (format::ChunkKind::Modelled, coded.as_slice())
        } else {
            (format::ChunkKind::Stored, raw)
        };
        w.write_chunk(kind, raw.len() as u32, format::chunk_crc(raw), payload).unwrap();
    }
    w.finish(format::content_hash(content)).unwrap().0
}

fn encode_lm(content: &[u8], model: &str) -> Vec<u8> {
    let opts = CompressOptions { model: Some(model.into()), threads: 1, ..CompressOptions::default() };
    nzip_codec::compress_to_vec(content, &opts).unwrap()
}

fn lm_header(id: Vec<u8>, name: &str) -> Header {
    Header {
        medium: Medium::Bytes,
        method: Method::NeuralLm,
        level: 6,
        coder: Coder::Range,
        precision: 24,
        chunk_size: 4096,
        content_size: None,
        model: Some(ModelRef { id, name: name.into() }),
    }
}

fn stored_header(chunk_size: u32, content_size: Option<u64>) -> Header {
    Header {
        medium: Medium::Bytes,
        method: Method::Stored,
        level: 0,
        coder: Coder::Range,
        precision: 16,
        chunk_size,
        content_size,
        model: None,
    }
}

/// Prelude with a given minor version, then the sections.
fn raw_frame(minor: u8, sections: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let mut out = format::MAGIC.to_vec();
    out.extend_from_slice(&[format::VERSION_MAJOR, minor]);
    for (t, p) in sections {
        format::write_section(&mut out, *t, p).unwrap();
    }
    out
}

fn head_payload(h: &Header) -> Vec<u8> {
    h.encode().unwrap()
}

fn tail_payload(chunks: u64, content: &[u8]) -> Vec<u8> {
    let mut p = Vec::new();
    format::varint::put(&mut p, chunks);
    format::varint::put(&mut p, content.len() as u64);
    p.extend_from_slice(&format::content_hash(content).to_le_bytes());
    p
}

fn stored_chunk(content: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8];
    format::varint::put(&mut p, content.len() as u64);
    p.extend_from_slice(&format::chunk_crc(content).to_le_bytes());
    p.extend_from_slice(content);
    p
}

/// Find the first section with `t` in a single-frame file and return its
/// (offset, payload offset, payload length).
fn find_section(file: &[u8], t: [u8; 4]) -> (usize, usize, usize) {
    let mut at = format::PRELUDE_LEN;
    loop {
        let (len, used) = format::varint::get(&file[at + 4..], 0).unwrap();
        if file[at..at + 4] == t {
            return (at, at + 4 + used, len as usize);
        }
        at += 4 + used + len as usize + 4;
    }
}

/// Replace a section's payload and recompute its CRC.
fn with_payload(file: &[u8], t: [u8; 4], edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let (at, p, len) = find_section(file, t);
    let mut payload = file[p..p + len].to_vec();
    edit(&mut payload);
    let mut out = file[..at].to_vec();
    format::write_section(&mut out, t, &payload).unwrap();
    out.extend_from_slice(&file[p + len + 4..]);
    out
}

fn build_all() -> Vec<Vector> {
    let hello = source("hello.txt");
    let mixed = mixed_source();
    let mut v = Vec::new();
    let mut valid = |name: &str, bytes: Vec<u8>, content: &[u8], made_from: &str| {
        v.push(Vector {
            name: format!("valid/{name}.nz"),
            bytes,
            expect: Expect::Ok(content.to_vec()),
            made_from: made_from.to_string(),
        });
    };

    let empty_stored = raw_frame(
        0,
        &[(tag::HEAD, head_payload(&stored_header(1, None))), (tag::TAIL, tail_payload(0, b""))],
    );
    valid("empty-stored", empty_stored.clone(), b"", "-");
    // Method 1 (`cm`): written by nzip before `cm2`; decoders keep reading it.
    let legacy = "method cm (legacy_cm in vectors.rs)";
    let empty_cm = legacy_cm(b"", 6, CoderKind::Range, None);
    valid("empty-cm6", empty_cm.clone(), b"", &format!("(empty) -6, {legacy}"));
    let hello6 = legacy_cm(&hello, 6, CoderKind::Range, None);
    valid("hello-cm6-range", hello6.clone(), &hello, &format!("hello.txt -6 --coder range, {legacy}"));
    valid(
        "hello-cm1-range",
        legacy_cm(&hello, 1, CoderKind::Range, None),
        &hello,
        &format!("hello.txt -1, {legacy}"),
    );
    valid(
        "hello-cm9-range",
        legacy_cm(&hello, 9, CoderKind::Range, None),
        &hello,
        &format!("hello.txt -9, {legacy}"),
    );
    let hello_ans = legacy_cm(&hello, 6, CoderKind::Ans, None);
    valid("hello-cm6-ans", hello_ans, &hello, &format!("hello.txt -6 --coder ans, {legacy}"));
    let multi = legacy_cm(&mixed, 3, CoderKind::Range, Some(1024));
    valid(
        "mixed-cm3-chunks1k",
        multi.clone(),
        &mixed,
        &format!("mixed (see vectors.rs) -3 --chunk-size 1024, {legacy}"),
    );
    // Method 4 (`cm2`), as nzip writes bytes frames now; at level 6 text
    // starts from the built-in prior `text-prior-6`.
    let hello_cm2 = encode(&hello, 6, CoderKind::Range, None);
    valid("hello-cm2-6-prior-range", hello_cm2.clone(), &hello, "hello.txt -6");
    valid(
        "hello-cm2-6-prior-ans",
        encode(&hello, 6, CoderKind::Ans, None),
        &hello,
        "hello.txt -6 --coder ans",
    );
    valid("hello-cm2-1-range", encode(&hello, 1, CoderKind::Range, None), &hello, "hello.txt -1");
    valid("hello-cm2-5-range", encode(&hello, 5, CoderKind::Range, None), &hello, "hello.txt -5");
    // Level 9 mixes the adapting language model into text (method 7, `cmlm2`).
    valid("hello-cmlm2-9-range", encode(&hello, 9, CoderKind::Range, None), &hello, "hello.txt -9");
    valid("hello-cmlm2-9-ans", encode(&hello, 9, CoderKind::Ans, None), &hello, "hello.txt -9 --coder ans");
    // Method 5 (`cmlm`), which level 9 wrote before `cmlm2`.
    let legacy = "method 5 (cmlm) of the -9 frame, see legacy_cmlm in vectors.rs";
    valid(
        "hello-cmlm-9-range",
        legacy_cmlm(&hello, CoderKind::Range),
        &hello,
        &format!("hello.txt, {legacy}"),
    );
    valid(
        "hello-cmlm-9-ans",
        legacy_cmlm(&hello, CoderKind::Ans),
        &hello,
        &format!("hello.txt --coder ans, {legacy}"),
    );
    valid("empty-cm2-6", encode(b"", 6, CoderKind::Range, None), b"", "(empty) -6");
    // A leading NUL byte: not text-like, so no prior (the models of levels 6
    // and 9 on their own).
    let nul_hello: Vec<u8> = std::iter::once(0).chain(hello.iter().copied()).collect();
    for level in [6, 9] {
        valid(
            &format!("nul-hello-cm2-{level}-range"),
            encode(&nul_hello, level, CoderKind::Range, None),
            &nul_hello,
            &format!("NUL byte + hello.txt -{level}"),
        );
    }
    valid(
        "mixed-cm2-6-chunks1k",
        encode(&mixed, 6, CoderKind::Range, Some(1024)),
        &mixed,
        "mixed (see vectors.rs) -6 --chunk-size 1024",
    );
    let mut concat = hello6.clone();
    concat.extend_from_slice(&empty_cm);
    concat.extend_from_slice(&multi);
    let mut concat_content = hello.clone();
    concat_content.extend_from_slice(&mixed);
    valid("concat-3-frames", concat, &concat_content, "hello-cm6-range + empty-cm6 + mixed-cm3-chunks1k");
    let abc = b"abc".to_vec();
    let with_ancillary = raw_frame(
        0,
        &[
            (tag::HEAD, head_payload(&stored_header(4, Some(3)))),
            (*b"note", b"an ancillary section a decoder skips".to_vec()),
            (tag::CHNK, stored_chunk(&abc)),
            (tag::TAIL, tail_payload(1, &abc)),
        ],
    );
    valid("ancillary-skipped", with_ancillary, &abc, "-");
    let mut head = head_payload(&stored_header(4, Some(3)));
    head.extend_from_slice(b"future field");
    let mut tail = tail_payload(1, &abc);
    tail.extend_from_slice(b"future");
    let minor1 = raw_frame(1, &[(tag::HEAD, head), (tag::CHNK, stored_chunk(&abc)), (tag::TAIL, tail)]);
    valid("minor-1-trailing-fields", minor1.clone(), &abc, "-");
    let hello_lm = encode_lm(&hello, "byte-gru-s");
    valid("hello-lm-byte-gru-s", hello_lm.clone(), &hello, "hello.txt --model byte-gru-s");

    // Image frames (spec/FORMAT.md §4.6-§4.7, spec/MODELS.md §7). A PNM comes
    // back byte for byte; a PNG with its pixels and chunks (its IDAT is nzip's).
    let ppm = source("gradient.ppm");
    let legacy = "method img (encode_img in vectors.rs)";
    let ppm6 = encode_img(&ppm, CoderKind::Range);
    valid("image-ppm-img6-range", ppm6.clone(), &ppm, &format!("gradient.ppm -6, {legacy}"));
    let pgm = source("ramp-1000.pgm");
    let pgm6 = encode_img(&pgm, CoderKind::Range);
    valid("image-pgm16-img6-range", pgm6, &pgm, &format!("ramp-1000.pgm -6, {legacy}"));
    let png = source("disc-rgba.png");
    // Method 6 (`imgnn`): the same images with the built-in network.
    let nn = "method imgnn (encode_imgnn in vectors.rs)";
    let ppm_nn = encode_imgnn(&ppm, CoderKind::Range, 6, "img-mlp-p");
    valid(
        "image-ppm-imgnn6-range",
        ppm_nn.clone(),
        &ppm,
        &format!("gradient.ppm -6 --model img-mlp-p, {nn}"),
    );
    let pgm_nn = encode_imgnn(&pgm, CoderKind::Ans, 6, "img-mlp-p");
    valid(
        "image-pgm16-imgnn6-ans",
        pgm_nn,
        &pgm,
        &format!("ramp-1000.pgm -6 --coder ans --model img-mlp-p, {nn}"),
    );
    let ppm_nn9 = encode_imgnn(&ppm, CoderKind::Range, 9, "img-mlp-q");
    valid("image-ppm-imgnn9-range", ppm_nn9, &ppm, &format!("gradient.ppm -9 --model img-mlp-q, {nn}"));
    // The first networks that levels 2-6 and 7-9 try (the encoder may choose
    // img-mlp-p or img-mlp-q instead, whose files are above).
    for (level, net) in [(6, nzip_codec::IMAGE_NET), (9, nzip_codec::IMAGE_NET_WIDE)] {
        let packed = encode_imgnn(&ppm, CoderKind::Range, level, net);
        let name = format!("image-ppm-imgnn{level}-{net}-range");
        valid(&name, packed, &ppm, &format!("gradient.ppm -{level} --model {net}, {nn}"));
    }
    // A value map (spec/FORMAT.md §4.8): 8-bit data scaled by 257 in a
    // 16-bit PGM, coded as the indices of the values it takes.
    let steps = source("steps-x257.pgm");
    let steps6 = encode_img(&steps, CoderKind::Range);
    valid("image-pgm16-vmap-img6-range", steps6.clone(), &steps, &format!("steps-x257.pgm -6, {legacy}"));
    let steps_nn = encode_imgnn(&steps, CoderKind::Ans, 6, "img-mlp-p");
    let made = format!("steps-x257.pgm -6 --coder ans --model img-mlp-p, {nn}");
    valid("image-pgm16-vmap-imgnn6-ans", steps_nn, &steps, &made);
    // Method 8 (`img2`): the match model, switched on in every stripe or
    // chosen by the encoder, with and without the network.
    let img2 = "method img2 (encode_img2 in vectors.rs)";
    let made = format!("gradient.ppm -6, no network, match model on in every stripe, {img2}");
    valid("image-ppm-img2-match-range", encode_img2(&ppm, CoderKind::Range, None, Some(true)), &ppm, &made);
    let made =
        format!("gradient.ppm -6 --coder ans --model img-mlp-p, match model chosen per stripe, {img2}");
    let ppm_img2 = encode_img2(&ppm, CoderKind::Ans, Some("img-mlp-p"), None);
    valid("image-ppm-img2-nn-ans", ppm_img2.clone(), &ppm, &made);
    let made = format!("steps-x257.pgm -6 (a value map), no network, match model on, {img2}");
    valid(
        "image-pgm16-vmap-img2-match-range",
        encode_img2(&steps, CoderKind::Range, None, Some(true)),
        &steps,
        &made,
    );
    // Method 9 (`img3`): the grid, switched on in every stripe, with the
    // match model chosen by the encoder or on, without and with the network.
    let img3 = "method img3 (encode_img3 in vectors.rs)";
    let made = format!("gradient.ppm -6, no network, grid on in every stripe, {img3}");
    let ppm_img3 = encode_img3(&ppm, CoderKind::Range, None, (None, Some(true)));
    valid("image-ppm-img3-grid-range", ppm_img3, &ppm, &made);
    // Method 10 (`imgf`): the fast model of level 1, on RGB (range), on RGBA
    // (ANS) and on a 16-bit PGM with a value map.
    let imgf = "method imgf (level 1)";
    let made = format!("gradient.ppm -1, {imgf}");
    valid("image-ppm-imgf1-range", encode(&ppm, 1, CoderKind::Range, None), &ppm, &made);
    let made = format!("steps-x257.pgm -1 (a value map), {imgf}");
    valid("image-pgm16-vmap-imgf1-range", encode(&steps, 1, CoderKind::Range, None), &steps, &made);
    v.push(Vector {
        name: "valid/image-png-rgba-imgf1-ans.nz".into(),
        bytes: encode(&png, 1, CoderKind::Ans, None),
        expect: Expect::Image(samples_of(&png)),
        made_from: format!("disc-rgba.png -1 --coder ans, {imgf}"),
    });
    v.push(Vector {
        name: "valid/image-png-rgba-img2-match-nn-range.nz".into(),
        bytes: encode_img2(&png, CoderKind::Range, Some("img-mlp-p"), Some(true)),
        expect: Expect::Image(samples_of(&png)),
        made_from: format!("disc-rgba.png -6 --model img-mlp-p, match model on, {img2}"),
    });
    v.push(Vector {
        name: "valid/image-png-rgba-img3-grid-match-nn-ans.nz".into(),
        bytes: encode_img3(&png, CoderKind::Ans, Some("img-mlp-p"), (Some(true), Some(true))),
        expect: Expect::Image(samples_of(&png)),
        made_from: format!("disc-rgba.png -6 --coder ans --model img-mlp-p, match model and grid on, {img3}"),
    });
    v.push(Vector {
        name: "valid/image-png-rgba-img6-ans.nz".into(),
        bytes: encode_img(&png, CoderKind::Ans),
        expect: Expect::Image(samples_of(&png)),
        made_from: format!("disc-rgba.png -6 --coder ans, {legacy}"),
    });
    v.push(Vector {
        name: "valid/image-png-rgba-imgnn6-range.nz".into(),
        bytes: encode_imgnn(&png, CoderKind::Range, 6, "img-mlp-p"),
        expect: Expect::Image(samples_of(&png)),
        made_from: format!("disc-rgba.png -6 --model img-mlp-p, {nn}"),
    });

    let image_head = |medium: Medium, method: Method, chunk_size: u32| Header {
        medium,
        method,
        level: 6,
        coder: Coder::Range,
        precision: 16,
        chunk_size,
        content_size: None,
        model: None,
    };
    let mut bad = |name: &str, bytes: Vec<u8>, kind: &'static str| {
        v.push(Vector {
            name: format!("invalid/{name}.nz"),
            bytes,
            expect: Expect::Err(kind),
            made_from: "-".into(),
        });
    };
    bad("empty-file", Vec::new(), "Truncated");
    bad("truncated", hello6[..hello6.len() - 5].to_vec(), "Truncated");
    bad("prelude-only", hello6[..format::PRELUDE_LEN].to_vec(), "Truncated");
    let mut m = hello6.clone();
    m[1] = b'M';
    bad("bad-magic", m, "NotNzip");
    let mut m = hello6.clone();
    m[7] = 2;
    bad("major-version-2", m, "Unsupported");
    let mut m = hello6.clone();
    let (at, _, _) = find_section(&m, tag::CHNK);
    m[at + 20] ^= 0x10;
    bad("section-crc", m, "Checksum");
    bad(
        "unknown-critical-section",
        raw_frame(
            0,
            &[
                (tag::HEAD, head_payload(&stored_header(4, None))),
                (*b"NOTE", b"must be understood".to_vec()),
                (tag::TAIL, tail_payload(0, b"")),
            ],
        ),
        "Unsupported",
    );
    bad("unknown-method", with_payload(&hello6, tag::HEAD, |p| p[2] = 200), "Unsupported");
    bad(
        "unknown-model",
        raw_frame(
            0,
            &[
                (tag::HEAD, head_payload(&lm_header(vec![0xab; 32], "no-such-model"))),
                (tag::TAIL, tail_payload(0, b"")),
            ],
        ),
        "Unsupported",
    );
    // Method lm (2) in a header without a model reference.
    bad("lm-without-model", with_payload(&hello6, tag::HEAD, |p| p[2] = 2), "Malformed");
    // The cm method (1), and cm2 (4), with the lm frame's model reference (a
    // language model, not a prior).
    for (name, method) in [("model-with-cm", 1), ("lm-model-with-cm2", 4)] {
        let frame = with_payload(&hello_lm, tag::HEAD, |p| {
            p[2] = method;
            p[5] = 16;
        });
        bad(name, frame, "Unsupported");
    }
    // Method cmlm (5) without a model reference, and with only a prior's id
    // (its model id must start with a language model's).
    bad("cmlm-without-model", with_payload(&hello6, tag::HEAD, |p| p[2] = 5), "Malformed");
    bad("cmlm-with-a-prior-only", with_payload(&hello_cm2, tag::HEAD, |p| p[2] = 5), "Unsupported");
    // The same for cmlm2 (7).
    bad("cmlm2-without-model", with_payload(&hello6, tag::HEAD, |p| p[2] = 7), "Malformed");
    bad("cmlm2-with-a-prior-only", with_payload(&hello_cm2, tag::HEAD, |p| p[2] = 7), "Unsupported");
    // cm2 with the level-6 prior in a level-5 frame.
    bad("prior-level-mismatch", with_payload(&hello_cm2, tag::HEAD, |p| p[3] = 5), "Unsupported");
    bad("unknown-coder", with_payload(&hello6, tag::HEAD, |p| p[4] = 9), "Unsupported");
    bad("unknown-medium", with_payload(&hello6, tag::HEAD, |p| p[1] = 7), "Unsupported");
    bad("reserved-header-flag", with_payload(&hello6, tag::HEAD, |p| p[0] |= 0x40), "Malformed");
    bad("minor-0-trailing-header", with_payload(&empty_stored, tag::HEAD, |p| p.push(0)), "Malformed");
    bad("chunk-content-crc", with_payload(&minor1, tag::CHNK, |p| p[2] ^= 1), "Checksum");
    bad(
        "content-hash",
        with_payload(&hello6, tag::TAIL, |p| {
            let n = p.len();
            p[n - 1] ^= 0x80;
        }),
        "Checksum",
    );
    bad("tail-chunk-count", with_payload(&hello6, tag::TAIL, |p| p[0] += 1), "Malformed");
    bad(
        "non-canonical-varint",
        with_payload(&empty_stored, tag::HEAD, |p| {
            p.pop();
            p.extend_from_slice(&[0x81, 0x00]);
        }),
        "Malformed",
    );
    let mut m = hello6.clone();
    m.extend_from_slice(b"trailing garbage");
    bad("trailing-garbage", m, "Malformed");
    bad(
        "chunk-after-short-chunk",
        raw_frame(
            0,
            &[
                (tag::HEAD, head_payload(&stored_header(4, None))),
                (tag::CHNK, stored_chunk(b"ab")),
                (tag::CHNK, stored_chunk(b"cd")),
                (tag::TAIL, tail_payload(2, b"abcd")),
            ],
        ),
        "Malformed",
    );
    bad(
        "chunk-size-over-limit",
        raw_frame(
            0,
            &[(tag::HEAD, head_payload(&stored_header(1 << 30, None))), (tag::TAIL, tail_payload(0, b""))],
        ),
        "LimitExceeded",
    );
    bad(
        "modelled-chunk-in-stored-frame",
        with_payload(&minor1, tag::CHNK, |p| {
            p[0] = 1;
            p.pop();
        }),
        "Malformed",
    );
    // A modelled chunk whose coded bytes were damaged but whose section CRC was
    // recomputed (as a buggy or hostile writer would): the chunk CRC catches it.
    bad(
        "modelled-data-damaged-crc-fixed",
        with_payload(&hello6, tag::CHNK, |p| {
            let n = p.len();
            p[n / 2] ^= 0x04;
        }),
        "Checksum",
    );
    // Image frames: IMAG is required right after HEAD, and must agree with it.
    bad(
        "image-without-imag",
        raw_frame(
            0,
            &[
                (tag::HEAD, head_payload(&image_head(Medium::Image, Method::ImagePredictive, 3))),
                (tag::CHNK, stored_chunk(b"abc")),
                (tag::TAIL, tail_payload(1, b"abc")),
            ],
        ),
        "Malformed",
    );
    bad(
        "imgnn-without-model",
        with_payload(&ppm_nn, tag::HEAD, |p| {
            // Clear flags bit 1 and drop the model fields (the last ones).
            p[0] &= !2;
            let id_at = p.len() - (1 + 32 + 1 + "img-mlp-p".len());
            p.truncate(id_at);
        }),
        "Malformed",
    );
    bad(
        "imgf-with-the-network",
        with_payload(&ppm_nn, tag::HEAD, |p| p[2] = Method::ImageFast.code()),
        "Unsupported",
    );
    bad(
        "imgf-method-in-bytes-frame",
        with_payload(&hello6, tag::HEAD, |p| p[2] = Method::ImageFast.code()),
        "Malformed",
    );
    bad(
        "img-with-the-network",
        with_payload(&ppm_nn, tag::HEAD, |p| p[2] = Method::ImagePredictive.code()),
        "Unsupported",
    );
    bad(
        "img2-method-in-bytes-frame",
        with_payload(&hello6, tag::HEAD, |p| p[2] = Method::ImageMatch.code()),
        "Malformed",
    );
    bad(
        "img3-method-in-bytes-frame",
        with_payload(&hello6, tag::HEAD, |p| p[2] = Method::ImageGrid.code()),
        "Malformed",
    );
    bad(
        "img2-naming-a-language-model",
        with_payload(&ppm_img2, tag::HEAD, |p| {
            // The network's id and name become byte-gru-s's.
            let gru = nzip_codec::nn::package::find_by_name("byte-gru-s").unwrap().model_ref();
            let id_at = p.len() - (1 + 32 + 1 + "img-mlp-p".len());
            p.truncate(id_at);
            p.push(32);
            p.extend_from_slice(&gru.id);
            p.push(gru.name.len() as u8);
            p.extend_from_slice(gru.name.as_bytes());
        }),
        "Unsupported",
    );
    bad(
        "img-method-in-bytes-frame",
        with_payload(&hello6, tag::HEAD, |p| p[2] = Method::ImagePredictive.code()),
        "Malformed",
    );
    // IMAG payload of gradient.ppm: width 24, height 16, colour 2, maxval 255
    // (2 bytes), stripe_rows at offset 5.
    bad("image-stripe-rows-disagree", with_payload(&ppm6, tag::IMAG, |p| p[5] = 8), "Malformed");
    bad("image-unknown-colour", with_payload(&ppm6, tag::IMAG, |p| p[2] = 9), "Unsupported");
    bad(
        "image-restore-header-disagrees",
        with_payload(&ppm6, tag::IMAG, |p| {
            // "24 16" in the stored PNM header becomes "25 16".
            let at = p.windows(5).position(|w| w == b"24 16").unwrap();
            p[at + 1] = b'5';
        }),
        "Malformed",
    );
    bad(
        "image-stripe-damaged-crc-fixed",
        with_payload(&ppm6, tag::CHNK, |p| {
            let n = p.len();
            p[n / 2] ^= 0x10;
        }),
        "Checksum",
    );
    // The value map: right after IMAG, in image frames only, with a list
    // that fits its count and the image's maxval; another valid list of the
    // same count decodes to other samples, which the chunk CRCs catch.
    let raw_map = |values: &[u16], count: u32| {
        let list = format::ValueMap::encode_list(values).unwrap();
        let mut p = Vec::new();
        format::varint::put(&mut p, u64::from(count));
        p.push(0);
        format::varint::put(&mut p, list.len() as u64);
        p.extend_from_slice(&list);
        p
    };
    let count = {
        let (_, p, _) = find_section(&steps6, tag::VMAP);
        format::varint::get(&steps6[p..], 0).unwrap().0 as u32
    };
    let shifted: Vec<u16> = (0..count as u16).map(|i| i * 256).collect();
    bad("vmap-other-values", with_payload(&steps6, tag::VMAP, |p| *p = raw_map(&shifted, count)), "Checksum");
    bad("vmap-one-value", with_payload(&steps6, tag::VMAP, |p| *p = raw_map(&[7], 1)), "Malformed");
    // Two values, 65535 then one more: beyond a 16-bit image's maxval.
    let beyond = {
        let mut p = vec![2, 0, 4];
        format::varint::put(&mut p, 65535);
        p.push(0);
        p
    };
    bad("vmap-value-beyond-maxval", with_payload(&steps6, tag::VMAP, |p| *p = beyond.clone()), "Malformed");
    let (at, p, len) = find_section(&steps6, tag::VMAP);
    let vmap = steps6[at..p + len + 4].to_vec();
    // (In a frame without a map, so that the chunk before it decodes.)
    let (_, chunk_p, chunk_len) = find_section(&ppm6, tag::CHNK);
    let chunk_end = chunk_p + chunk_len + 4;
    let mut late = ppm6[..chunk_end].to_vec();
    late.extend_from_slice(&vmap);
    late.extend_from_slice(&ppm6[chunk_end..]);
    bad("vmap-after-a-chunk", late, "Malformed");
    let (chnk, _, _) = find_section(&hello6, tag::CHNK);
    let mut bytes_frame = hello6[..chnk].to_vec();
    bytes_frame.extend_from_slice(&vmap);
    bytes_frame.extend_from_slice(&hello6[chnk..]);
    bad("vmap-in-a-bytes-frame", bytes_frame, "Malformed");
    v
}

fn manifest_line(v: &Vector) -> String {
    match &v.expect {
        Expect::Ok(c) => {
            format!("{}\tok\t{}\t{:016x}\t{}", v.name, c.len(), format::content_hash(c), v.made_from)
        }
        Expect::Image(samples) => format!(
            "{}\timage\t{}\t{:016x}\t{}",
            v.name,
            samples.len(),
            format::content_hash(samples),
            v.made_from
        ),
        Expect::Err(kind) => format!("{}\terror\t{kind}\t-\t-", v.name),
    }
}

fn regenerating() -> bool {
    std::env::var_os("NZIP_REGEN_VECTORS").is_some()
}

const MANIFEST_HEADER: &str = "# file\texpect\tcontent_len|error_kind\tcontent_xxh64\tmade_from";

#[test]
fn vectors_match_committed_files() {
    let dir = vectors_dir();
    let vectors = build_all();
    let manifest: String = std::iter::once(MANIFEST_HEADER.to_string())
        .chain(vectors.iter().map(manifest_line))
        .map(|l| l + "\n")
        .collect();
    if regenerating() {
        for sub in ["valid", "invalid"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for v in &vectors {
            std::fs::write(dir.join(&v.name), &v.bytes).unwrap();
        }
        std::fs::write(dir.join("MANIFEST.tsv"), &manifest).unwrap();
        return;
    }
    for v in &vectors {
        let committed = std::fs::read(dir.join(&v.name))
            .unwrap_or_else(|e| panic!("{}: {e} (regenerate with NZIP_REGEN_VECTORS=1)", v.name));
        assert!(
            committed == v.bytes,
            "{}: the encoder no longer produces the committed bytes. A change to coded bytes needs a new \
             method id or format version (spec/FORMAT.md §2.1).",
            v.name
        );
    }
    let committed = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    assert_eq!(committed, manifest, "spec/vectors/MANIFEST.tsv is out of date");
}

#[test]
fn committed_vectors_decode_as_the_manifest_says() {
    if regenerating() {
        return;
    }
    let dir = vectors_dir();
    let manifest = std::fs::read_to_string(dir.join("MANIFEST.tsv")).unwrap();
    let mut checked = 0;
    for line in manifest.lines().filter(|l| !l.starts_with('#')) {
        let f: Vec<&str> = line.split('\t').collect();
        let data = std::fs::read(dir.join(f[0])).unwrap();
        for threads in [1, 2] {
            let opts = DecompressOptions { threads, ..DecompressOptions::default() };
            let result = nzip_codec::decompress_to_vec(&data, &opts);
            match (f[1], result) {
                ("ok", Ok(content)) => {
                    assert_eq!(content.len().to_string(), f[2], "{}", f[0]);
                    assert_eq!(format!("{:016x}", format::content_hash(&content)), f[3], "{}", f[0]);
                }
                ("image", Ok(file)) => {
                    // A PNG whose samples are the listed content.
                    let samples = samples_of(&file);
                    assert_eq!(samples.len().to_string(), f[2], "{}", f[0]);
                    assert_eq!(format!("{:016x}", format::content_hash(&samples)), f[3], "{}", f[0]);
                }
                ("error", Err(e)) => assert_eq!(kind_of(&e), f[2], "{}: {e}", f[0]),
                (expect, got) => panic!("{}: expected {expect}, got {:?}", f[0], got.map(|c| c.len())),
            }
        }
        checked += 1;
    }
    assert!(checked >= 39, "only {checked} vectors");
}

/// spec/FORMAT.md §10 walks through this file byte by byte.
#[test]
fn smallest_file_matches_spec() {
    if regenerating() {
        return;
    }
    let f = std::fs::read(vectors_dir().join("valid/empty-stored.nz")).unwrap();
    assert_eq!(f.len(), 44);
    let expect: &[(usize, &[u8])] = &[
        (0x00, &[0x8e, 0x4e, 0x5a, 0x0d, 0x0a, 0x1a, 0x0a, 0x01, 0x00]),
        (0x09, b"HEAD"),
        (0x0d, &[0x07, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x01]),
        (0x19, b"TAIL"),
        (0x1d, &[0x0a, 0x00, 0x00, 0x99, 0xe9, 0xd8, 0x51, 0x37, 0xdb, 0x46, 0xef]),
    ];
    for (at, bytes) in expect {
        assert_eq!(&f[*at..*at + bytes.len()], *bytes, "at offset {at:#x}");
    }
    assert_eq!(format::content_hash(b""), 0xef46_db37_51d8_e999);
    let crc = |a: usize, b: usize| crc32fast::hash(&f[a..b]).to_le_bytes();
    assert_eq!(f[0x15..0x19], crc(0x09, 0x15));
    assert_eq!(f[0x28..0x2c], crc(0x19, 0x28));
}
