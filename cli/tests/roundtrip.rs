//! Round trips through the `nzip` binary: files and pipes, every level class
//! and coder, thread-count invariance, a large stream, concatenation, --verify.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use std::fs;

/// The inputs every level/coder combination is checked with.
fn inputs() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("empty", Vec::new()),
        ("one", vec![0x5A]),
        ("random256", random_bytes(256, 7)),
        ("random1M", random_bytes(1 << 20, 8)),
        ("text", text_sample()),
    ]
}

/// Compress and decompress every input through files (default names) and
/// through stdin/stdout, with the given level and coder.
fn roundtrip_all(level: &str, coder: &str) {
    let dir = tempfile::tempdir().unwrap();
    for (name, data) in inputs() {
        // Files: FILE -> FILE.nz -> FILE.
        let path = dir.path().join(name);
        let packed_path = dir.path().join(format!("{name}.nz"));
        fs::write(&path, &data).unwrap();
        nzip().args([level, "--coder", coder]).arg(&path).assert().success().stdout("");
        assert!(path.exists(), "{name}: input kept by default");
        let packed = fs::read(&packed_path).unwrap();
        fs::remove_file(&path).unwrap();
        nzip().args(["-d"]).arg(&packed_path).assert().success().stdout("");
        assert!(fs::read(&path).unwrap() == data, "{name} {level} {coder}: file round trip differs");
        assert!(packed_path.exists(), "{name}: .nz kept by default");

        // Never expand by more than a small constant (stored fallback).
        let chunks = (data.len() as u64).div_ceil(64 << 10).max(1);
        assert!(
            packed.len() as u64 <= data.len() as u64 + 128 + 28 * chunks,
            "{name} {level} {coder}: {} -> {} bytes",
            data.len(),
            packed.len()
        );

        // Pipes: the same bytes as through files (the content size is not
        // known on a pipe, so only the round trip is compared).
        let piped = compress_stdin(&data, &[level, "--coder", coder]);
        assert!(decompress_stdin(&piped, &[]) == data, "{name} {level} {coder}: pipe round trip differs");
        // A file-made .nz decodes through a pipe (small inputs only: decoding
        // costs as much as encoding, and the suite must stay fast).
        if data.len() <= 256 {
            assert!(decompress_stdin(&packed, &[]) == data, "{name}: file .nz through a pipe");
        }
        fs::remove_file(&packed_path).unwrap();
    }
}

macro_rules! roundtrip_tests {
    ($($test:ident: $level:literal, $coder:literal;)*) => {
        $(
            #[test]
            fn $test() {
                roundtrip_all($level, $coder);
            }
        )*
    };
}

roundtrip_tests! {
    roundtrip_level1_range: "-1", "range";
    roundtrip_level1_ans: "-1", "ans";
    roundtrip_level6_range: "-6", "range";
    roundtrip_level6_ans: "-6", "ans";
    roundtrip_level9_range: "-9", "range";
    roundtrip_level9_ans: "-9", "ans";
}

/// The output bytes do not depend on -T (1, 2, all cores), on files or pipes,
/// and a file made with several threads decodes with one and the reverse.
#[test]
fn thread_count_does_not_change_output() {
    let mut data = text_like(400_000, 3);
    data.extend_from_slice(&random_bytes(150_000, 4));
    data.extend_from_slice(&text_like(150_000, 5));
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    fs::write(&src, &data).unwrap();
    let mut outputs = Vec::new();
    for t in ["-T1", "-T2", "-T0"] {
        let out = dir.path().join(format!("out{t}.nz"));
        nzip().args(["-3", "--chunk-size", "64K", t, "-o"]).arg(&out).arg(&src).assert().success();
        outputs.push(fs::read(&out).unwrap());
    }
    assert!(outputs[0] == outputs[1], "-T1 and -T2 differ");
    assert!(outputs[0] == outputs[2], "-T1 and -T0 differ");
    let json = list_json(&dir.path().join("out-T1.nz"));
    assert!(json["files"][0]["chunks"].as_u64().unwrap() >= 10, "{json}");

    // Made with two threads, decoded with one (and the large test decodes
    // with two what was made with two; the codec's tests cover the rest).
    assert!(decompress_stdin(&outputs[1], &["-T1"]) == data);
}

/// A large stream (50 MiB, text-like and random parts) through stdin and
/// stdout at level 1 with two threads.
#[test]
fn large_stream_roundtrip() {
    let data = mixed(50 << 20, 11);
    let packed = compress_stdin(&data, &["-1", "-T2"]);
    assert!(packed.len() < data.len(), "{} -> {}", data.len(), packed.len());
    let restored = decompress_stdin(&packed, &["-T2"]);
    assert!(restored.len() == data.len() && restored == data, "large round trip differs");
}

/// `cat a.nz b.nz | nzip -d` gives the concatenation of the contents, and
/// `nzip -c a b` writes concatenated frames.
#[test]
fn concatenated_files_decompress_to_the_concatenation() {
    let a = text_like(50_000, 21);
    let b = random_bytes(30_000, 22);
    let mut cat = compress_stdin(&a, &["-2"]);
    cat.extend_from_slice(&compress_stdin(&b, &["--coder", "ans"]));
    let mut both = a.clone();
    both.extend_from_slice(&b);
    assert!(decompress_stdin(&cat, &[]) == both);

    let dir = tempfile::tempdir().unwrap();
    let (pa, pb, pab) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("ab.nz"));
    fs::write(&pa, &a).unwrap();
    fs::write(&pb, &b).unwrap();
    let out = nzip().arg("-c").arg(&pa).arg(&pb).output().unwrap();
    assert!(out.status.success());
    fs::write(&pab, &out.stdout).unwrap();
    nzip().args(["-t"]).arg(&pab).assert().success();
    let json = list_json(&pab);
    assert_eq!(json["files"][0]["frames"].as_array().unwrap().len(), 2);
    assert_eq!(json["files"][0]["original_bytes"].as_u64().unwrap(), both.len() as u64);
    // -d -o of the concatenated file.
    let restored = dir.path().join("restored");
    nzip().arg("-d").arg(&pab).arg("-o").arg(&restored).assert().success();
    assert!(fs::read(&restored).unwrap() == both);
}

/// --verify succeeds on files and pipes, reports "verified" with -v, and the
/// output decodes.
#[test]
fn verify_after_compressing() {
    let data = text_like(300_000, 31);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("v.txt");
    fs::write(&src, &data).unwrap();
    let out = nzip().args(["--verify", "-v", "--rm"]).arg(&src).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("verified"), "{stderr}");
    assert!(!src.exists(), "--rm after a successful verify removes the input");
    nzip().arg("-d").arg(dir.path().join("v.txt.nz")).assert().success();
    assert!(fs::read(&src).unwrap() == data);

    let piped = compress_stdin(&data, &["--verify", "-T2"]);
    assert!(decompress_stdin(&piped, &[]) == data);
    let empty = compress_stdin(&[], &["--verify"]);
    assert!(decompress_stdin(&empty, &[]).is_empty());
}

/// `-v` prints `FILE: N -> M (P%, B bits/byte), S MB/s`, and JSON with --json.
#[test]
fn verbose_stats_line() {
    let data = text_like(100_000, 41);
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("s.txt");
    fs::write(&src, &data).unwrap();
    let out = nzip().arg("-v").arg(&src).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8(out.stderr).unwrap();
    let packed_len = fs::metadata(dir.path().join("s.txt.nz")).unwrap().len();
    let expected = format!("{}: {} -> {} (", src.display(), data.len(), packed_len);
    assert!(stderr.starts_with(&expected), "{stderr:?} should start with {expected:?}");
    assert!(stderr.contains("% ") || stderr.contains("%,"), "{stderr}");
    assert!(stderr.contains(" bits/byte), ") && stderr.trim_end().ends_with(" MB/s"), "{stderr}");

    let out = nzip().args(["-d", "-c", "-v", "--json"]).arg(dir.path().join("s.txt.nz")).output().unwrap();
    assert!(out.status.success());
    assert!(out.stdout == data);
    let v: serde_json::Value = serde_json::from_slice(&out.stderr).unwrap();
    assert_eq!(v["operation"], "decompress");
    assert_eq!(v["original_bytes"].as_u64(), Some(data.len() as u64));
    assert_eq!(v["compressed_bytes"].as_u64(), Some(packed_len));
    assert_eq!(v["output"], "-");

    // Without -v nothing is printed.
    let out = nzip().args(["-t"]).arg(dir.path().join("s.txt.nz")).output().unwrap();
    assert!(out.status.success() && out.stdout.is_empty() && out.stderr.is_empty());
}

/// Images through the binary: a PNG decompresses to a PNG with the same pixels
/// and chunks (`nzip_codec::media::image::equivalent`), a PPM byte for byte; the
/// output of -T1 and -T2 is the same file; --verify accepts an image; --bytes
/// keeps the file byte-exact; -l shows the image medium.
#[test]
fn images_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let vectors = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../spec/vectors/src");
    for name in ["disc-rgba.png", "gradient.ppm", "ramp-1000.pgm"] {
        let original = fs::read(vectors.join(name)).unwrap();
        let path = dir.path().join(name);
        fs::write(&path, &original).unwrap();
        let one = compress_stdin(&original, &["-T1"]);
        let two = compress_stdin(&original, &["-T2"]);
        assert!(one == two, "{name}: -T1 and -T2 differ");
        nzip().args(["-f", "--verify", "-T2"]).arg(&path).assert().success();
        let packed = fs::read(dir.path().join(format!("{name}.nz"))).unwrap();
        assert!(packed == one, "{name}: file and pipe outputs differ");
        let listed = list_json(&dir.path().join(format!("{name}.nz")));
        assert_eq!(listed["files"][0]["frames"][0]["medium"], "image", "{name}");
        let restored = decompress_stdin(&packed, &[]);
        if name.ends_with(".png") {
            assert!(nzip_codec::media::image::equivalent(&restored, &original), "{name}");
        } else {
            assert!(restored == original, "{name}: PNM not restored byte for byte");
        }
        let bytes = compress_stdin(&original, &["--bytes"]);
        assert!(decompress_stdin(&bytes, &[]) == original, "{name}: --bytes not byte-exact");
    }
}
