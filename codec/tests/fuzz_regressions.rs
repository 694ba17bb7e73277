//! Replays the fuzzers' findings and seeds through the same functions the
//! fuzz targets call (`nzip_codec::fuzzing`), so every crash the fuzzer ever
//! found stays fixed.
//!
//! - `fuzz/regressions/<target>/<descriptive-name>`: inputs that once crashed
//!   a target (minimised), kept forever; see `fuzz/README.md`;
//! - `fuzz/seeds/<target>/*`: the committed seed corpora.
//!
//! The seeds are written by the ignored test [`write_fuzz_seeds`]:
//! `cargo test -p nzip-codec --test fuzz_regressions -- --ignored write_fuzz_seeds`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::format::{self, varint};
use nzip_codec::{fuzzing, CoderKind, CompressOptions};
use std::path::{Path, PathBuf};

/// A fuzz target's name and its function.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 3] = [
    ("container_parse", fuzzing::container_parse),
    ("decode", fuzzing::decode),
    ("roundtrip", fuzzing::roundtrip),
];

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

/// Every input file under `dir` (not `README*` or hidden files), sorted.
fn inputs(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            !name.starts_with('.') && !name.starts_with("README")
        })
        .collect();
    files.sort();
    files
}

/// Run every file of `fuzz/<kind>/<target>/` through the target's function;
/// returns the number of files. Fails listing every file that panicked.
fn replay(kind: &str) -> usize {
    let mut count = 0;
    let mut failures = Vec::new();
    for (target, f) in TARGETS {
        for path in inputs(&fuzz_dir().join(kind).join(target)) {
            let data = std::fs::read(&path).unwrap();
            count += 1;
            if let Err(panic) = std::panic::catch_unwind(|| f(&data)) {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{target}: {}: {msg}", path.display()));
            }
        }
    }
    assert!(failures.is_empty(), "{} {kind} inputs fail:\n{}", failures.len(), failures.join("\n"));
    count
}

#[test]
fn fuzz_regressions_stay_fixed() {
    let n = replay("regressions");
    eprintln!("{n} regression inputs replayed");
}

#[test]
fn fuzz_seeds_pass() {
    let n = replay("seeds");
    assert!(n > 0, "no seeds under {}", fuzz_dir().join("seeds").display());
    eprintln!("{n} seed inputs replayed");
}

#[test]
fn fuzz_functions_accept_trivial_inputs() {
    for (_, f) in TARGETS {
        for data in [&b""[..], b"\0", b"\xff\xff\xff", &format::MAGIC[..], b"\x8eNZ\r\n\x1a\n\x01\x00"] {
            f(data);
        }
    }
}

// ---------------------------------------------------------------------------
// Seed corpora
// ---------------------------------------------------------------------------

fn text(n: usize) -> Vec<u8> {
    let words = ["nzip ", "codes ", "each ", "chunk ", "with ", "a ", "model, ", "then ", "checks ", "it.\n"];
    let mut out = Vec::new();
    let mut x = 12345u32;
    while out.len() < n {
        x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
        out.extend_from_slice(words[(x >> 16) as usize % words.len()].as_bytes());
    }
    out.truncate(n);
    out
}

fn noise(n: usize) -> Vec<u8> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 40) as u8
        })
        .collect()
}

fn nz(content: &[u8], level: u8, coder: CoderKind, chunk_size: Option<u32>, declare: bool) -> Vec<u8> {
    let o = CompressOptions { level, coder, threads: 1, chunk_size, ..CompressOptions::default() };
    let mut out = Vec::new();
    nzip_codec::compress(content, &mut out, declare.then_some(content.len() as u64), &o, &mut |_| {})
        .unwrap();
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

fn section(tag: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut s = tag.to_vec();
    varint::put(&mut s, payload.len() as u64);
    s.extend_from_slice(payload);
    let crc = crc32(&s);
    s.extend_from_slice(&crc.to_le_bytes());
    s
}

/// Offset just past the HEAD section of a single-frame stream, and its payload.
fn head_of(frame: &[u8]) -> (usize, Vec<u8>) {
    let p = format::PRELUDE_LEN;
    let (len, n) = varint::get(&frame[p + 4..], 0).unwrap();
    let payload = p + 4 + n;
    (payload + len as usize + 4, frame[payload..payload + len as usize].to_vec())
}

/// The `.nz` seeds (for `container_parse` and `decode`).
fn nz_seeds() -> Vec<(String, Vec<u8>)> {
    let hello = b"hello hello hello hello, nzip!\n".repeat(3);
    let mut mixed = text(400);
    mixed.extend(noise(300));
    mixed.extend(text(300));
    let mut seeds = vec![
        ("empty-l1.nz".to_owned(), nz(b"", 1, CoderKind::Range, None, true)),
        ("one-byte-l1.nz".to_owned(), nz(b"x", 1, CoderKind::Range, None, true)),
        ("hello-l1-range.nz".to_owned(), nz(&hello, 1, CoderKind::Range, None, true)),
        ("hello-l3-ans.nz".to_owned(), nz(&hello, 3, CoderKind::Ans, None, true)),
        ("text-l2-ans-c200.nz".to_owned(), nz(&text(700), 2, CoderKind::Ans, Some(200), true)),
        (
            "mixed-l1-range-c128-stored-and-modelled.nz".to_owned(),
            nz(&mixed, 1, CoderKind::Range, Some(128), true),
        ),
        ("text-l3-range-no-size.nz".to_owned(), nz(&text(300), 3, CoderKind::Range, Some(100), false)),
        ("text-l6-range.nz".to_owned(), nz(&text(200), 6, CoderKind::Range, None, true)),
    ];
    let mut two = nz(&hello, 1, CoderKind::Range, None, true);
    two.extend(nz(&text(300), 2, CoderKind::Ans, Some(128), false));
    seeds.push(("two-frames.nz".to_owned(), two));

    // A stored-method frame, written with the container crate.
    let header = format::Header {
        medium: format::Medium::Bytes,
        method: format::Method::Stored,
        level: 0,
        coder: format::Coder::Range,
        precision: 16,
        chunk_size: 8,
        content_size: Some(20),
        model: None,
    };
    let content = &text(20)[..];
    let mut w = format::Writer::new(Vec::new(), header).unwrap();
    for piece in content.chunks(8) {
        w.write_chunk(format::ChunkKind::Stored, piece.len() as u32, format::chunk_crc(piece), piece)
            .unwrap();
    }
    seeds.push(("stored-method.nz".to_owned(), w.finish(format::content_hash(content)).unwrap().0));

    // An unknown ancillary section after HEAD (checked and skipped, §3.2).
    let base = nz(&hello, 1, CoderKind::Range, None, true);
    let (after_head, head) = head_of(&base);
    let mut anc = base[..after_head].to_vec();
    anc.extend(section(b"xtra", b"ancillary data"));
    anc.extend_from_slice(&base[after_head..]);
    seeds.push(("ancillary-section.nz".to_owned(), anc));

    // Minor version 1 with fields appended to HEAD (ignored, §2.1).
    let mut minor = base[..7].to_vec();
    minor.extend([1, 1]);
    let mut head1 = head.clone();
    head1.extend_from_slice(b"future");
    minor.extend(section(b"HEAD", &head1));
    minor.extend_from_slice(&base[after_head..]);
    seeds.push(("minor1-head-extension.nz".to_owned(), minor));

    // The spec's test vectors, when they exist.
    let vectors = Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors");
    for kind in ["valid", "invalid"] {
        for path in inputs(&vectors.join(kind)) {
            let bytes = std::fs::read(&path).unwrap();
            if bytes.len() <= 16 << 10 {
                let name = path.file_name().unwrap().to_string_lossy().into_owned();
                seeds.push((format!("vector-{kind}-{name}"), bytes));
            }
        }
    }
    seeds
}

/// The `roundtrip` seeds: 4 option bytes (see `fuzzing::roundtrip_case`),
/// then the content.
fn roundtrip_seeds() -> Vec<(String, Vec<u8>)> {
    let with = |level: u8, flags: u8, chunk: u16, content: &[u8]| {
        let mut v = vec![level, flags];
        v.extend_from_slice(&(chunk - 1).to_le_bytes());
        v.extend_from_slice(content);
        v
    };
    let mut mixed = text(300);
    mixed.extend(noise(200));
    vec![
        ("empty-l1".to_owned(), with(0, 0, 1, b"")),
        ("text-l1-range-c64".to_owned(), with(0, 0, 64, &text(500))),
        ("text-l2-ans-c200-2threads-cross".to_owned(), with(1, 0b1_1111, 200, &text(800))),
        ("text-l3-range-c1".to_owned(), with(2, 0b1000, 1, &text(40))),
        ("mixed-l1-ans-c100".to_owned(), with(3, 0b0101, 100, &mixed)),
        ("noise-l2-range-c4096".to_owned(), with(4, 0, 4096, &noise(600))),
        ("zeros-l3-ans-c512".to_owned(), with(5, 0b0001, 512, &[0u8; 1500])),
        ("text-l6-range-small".to_owned(), with(0xF2, 0, 128, &text(300))),
        ("text-l9-ans-small".to_owned(), with(0xF5, 1, 256, &text(200))),
        ("text-lm-2threads-cross-c300".to_owned(), with(0, 0b11_1111, 300, &text(700))),
        // Images: the image path (spec/FORMAT.md §4.6).
        ("image-png-rgba-l1".to_owned(), with(0, 0b1_0010, 4096, &vector_source("disc-rgba.png"))),
        ("image-ppm-l2-ans".to_owned(), with(1, 0b0101, 4096, &vector_source("gradient.ppm"))),
        ("image-pgm16-l3".to_owned(), with(2, 0b1000, 4096, &vector_source("ramp-1000.pgm"))),
        ("image-pgm16-vmap-l2".to_owned(), with(1, 0, 4096, &vector_source("steps-x257.pgm"))),
    ]
}

fn vector_source(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/src").join(name)).unwrap()
}

#[test]
#[ignore = "writes fuzz/seeds/; run by hand after a format change"]
fn write_fuzz_seeds() {
    let write = |target: &str, seeds: &[(String, Vec<u8>)]| {
        let dir = fuzz_dir().join("seeds").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in seeds {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
        eprintln!("{}: {} seeds", dir.display(), seeds.len());
    };
    let nz = nz_seeds();
    write("container_parse", &nz);
    write("decode", &nz);
    write("roundtrip", &roundtrip_seeds());
}

#[test]
fn seed_builders_make_valid_streams() {
    for (name, bytes) in nz_seeds() {
        if name.starts_with("vector-invalid") {
            continue;
        }
        let r = nzip_codec::decompress_to_vec(&bytes, &nzip_codec::DecompressOptions::default());
        assert!(r.is_ok(), "{name}: {r:?}");
    }
}
