//! Tests of the context-mixing model: round trips through an in-test bit
//! recorder, determinism, garbage input, and an ignored measurement that prints
//! a comparison with gzip and xz.

use super::*;
use crate::entropy::binary::{BitDecode, BitEncode};
use crate::entropy::EntropyError;
use proptest::prelude::*;

/// Records every (bit, p1) pair.
#[derive(Debug, Default)]
struct Recorder {
    bits: Vec<(bool, u16)>,
}

impl BitEncode for Recorder {
    fn encode_bit(&mut self, bit: bool, p1: u16) {
        assert!(p1 >= 1, "p1 out of range");
        self.bits.push((bit, p1));
    }
}

/// Replays recorded bits and checks that the decoder asks with the same p1.
struct Replayer<'a> {
    bits: &'a [(bool, u16)],
    i: usize,
}

impl BitDecode for Replayer<'_> {
    fn decode_bit(&mut self, p1: u16) -> Result<bool, EntropyError> {
        let (bit, q) = *self.bits.get(self.i).ok_or(EntropyError::InvalidData("past the end"))?;
        assert_eq!(p1, q, "decoder's p1 differs at bit {}", self.i);
        self.i += 1;
        Ok(bit)
    }
}

/// Sums the ideal code length in bits (f64 is fine in measurement code).
#[derive(Debug, Default)]
struct Cost {
    bits: f64,
}

impl BitEncode for Cost {
    fn encode_bit(&mut self, bit: bool, p1: u16) {
        let p = f64::from(p1) / 65536.0;
        self.bits -= if bit { p.log2() } else { (1.0 - p).log2() };
    }
}

/// Bits from a xorshift generator, whatever p1 is.
struct Garbage(u64);

impl BitDecode for Garbage {
    fn decode_bit(&mut self, p1: u16) -> Result<bool, EntropyError> {
        assert!(p1 >= 1);
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        Ok(self.0 & 1 != 0)
    }
}

fn round_trip(data: &[u8], level: u8) -> Vec<(bool, u16)> {
    let mut rec = Recorder::default();
    encode(data, level, &mut rec);
    assert_eq!(rec.bits.len(), data.len() * 8);
    let mut rep = Replayer { bits: &rec.bits, i: 0 };
    let mut out = b"prefix".to_vec();
    decode(data.len(), level, &mut rep, &mut out).unwrap();
    assert_eq!(&out[..6], b"prefix");
    assert_eq!(&out[6..], data);
    assert_eq!(rep.i, rec.bits.len());
    rec.bits
}

fn cost_bytes(data: &[u8], level: u8) -> f64 {
    let mut c = Cost::default();
    encode(data, level, &mut c);
    c.bits / 8.0
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut s = seed | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            (s >> 24) as u8
        })
        .collect()
}

fn sample_text() -> Vec<u8> {
    let mut t = Vec::new();
    for i in 0..400 {
        t.extend_from_slice(
            format!(
                "Line {i}: the quick brown fox jumps over the lazy dog; {} bottles of beer on the wall.\n",
                i * 7 % 13
            )
            .as_bytes(),
        );
    }
    t
}

#[test]
fn round_trips_small_inputs_at_every_level() {
    let all: Vec<u8> = (0..=255).collect();
    for level in MIN_LEVEL..=MAX_LEVEL {
        round_trip(b"", level);
        round_trip(b"a", level);
        round_trip(&[0xff], level);
        round_trip(&all, level);
        round_trip(&random_bytes(3000, 7), level);
    }
}

#[test]
fn round_trips_text_and_runs() {
    let text = sample_text();
    let zeros = vec![0u8; 100_000];
    let mut runs = Vec::new();
    for i in 0..2000u32 {
        runs.extend(std::iter::repeat_n((i % 7) as u8 * 37, (i % 50) as usize));
    }
    for level in [1, 2, 6, 9] {
        round_trip(&text, level);
        round_trip(&zeros, level);
        round_trip(&runs, level);
    }
}

#[test]
fn levels_out_of_range_are_clamped() {
    let text = sample_text();
    assert_eq!(round_trip(&text, 0), round_trip(&text, 1));
    assert_eq!(round_trip(&text, 200), round_trip(&text, 9));
    assert_eq!(memory_bytes(0), memory_bytes(1));
    assert_eq!(memory_bytes(255), memory_bytes(9));
}

#[test]
fn encoding_is_deterministic() {
    let text = sample_text();
    for level in [1, 6, 9] {
        let a = round_trip(&text, level);
        let b = round_trip(&text, level);
        assert_eq!(a, b);
    }
}

#[test]
fn compresses_what_it_should() {
    let text = sample_text();
    for level in MIN_LEVEL..=MAX_LEVEL {
        let c = cost_bytes(&text, level);
        assert!(c < text.len() as f64 * 0.12, "level {level}: text costs {c} of {}", text.len());
        let z = cost_bytes(&vec![0u8; 100_000], level);
        assert!(z < 400.0, "level {level}: zeros cost {z}");
        let r = random_bytes(20_000, 3);
        let rc = cost_bytes(&r, level);
        assert!(rc < 20_000.0 * 1.01, "level {level}: random costs {rc}");
    }
}

#[test]
fn memory_is_within_budget() {
    for level in MIN_LEVEL..=MAX_LEVEL {
        let m = memory_bytes(level);
        assert!(m > 0);
        if level <= 6 {
            assert!(m <= 64 << 20, "level {level}: {m}");
        }
        assert!(m <= 256 << 20, "level {level}: {m}");
    }
}

#[test]
fn decoding_garbage_never_panics() {
    for level in MIN_LEVEL..=MAX_LEVEL {
        let mut out = Vec::new();
        decode(5000, level, &mut Garbage(12345 + u64::from(level)), &mut out).unwrap();
        assert_eq!(out.len(), 5000);
    }
}

#[test]
fn decoder_errors_are_passed_on() {
    let mut rec = Recorder::default();
    encode(b"hello", 6, &mut rec);
    let mut rep = Replayer { bits: &rec.bits[..20], i: 0 };
    let mut out = Vec::new();
    assert!(decode(5, 6, &mut rep, &mut out).is_err());
    assert_eq!(out, b"he");
}

#[test]
fn round_trips_through_the_range_coder() {
    use crate::entropy::binary::{RangeBitDecoder, RangeBitEncoder};
    let mut text = sample_text();
    text.extend(random_bytes(5000, 11));
    text.extend(sample_text());
    for level in [1, 2, 6, 9] {
        let mut enc = RangeBitEncoder::new();
        encode(&text, level, &mut enc);
        let bytes = enc.finish();
        // The coder should be within a few bytes of the ideal code length.
        let ideal = cost_bytes(&text, level);
        assert!((bytes.len() as f64) < ideal * 1.001 + 16.0, "level {level}: {} vs {ideal}", bytes.len());
        let mut dec = RangeBitDecoder::new(&bytes).unwrap();
        let mut out = Vec::new();
        decode(text.len(), level, &mut dec, &mut out).unwrap();
        assert_eq!(out, text, "level {level}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn round_trips_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..600), level in 1u8..=9) {
        round_trip(&data, level);
    }

    #[test]
    fn garbage_bits_decode_without_panic(seed in any::<u64>(), len in 0usize..400, level in 0u8..=12) {
        let mut out = Vec::new();
        decode(len, level, &mut Garbage(seed | 1), &mut out).unwrap();
        prop_assert_eq!(out.len(), len);
    }
}

// ---------------------------------------------------------------------------
// Measurement (ignored): `cargo test --release -p nzip-codec --lib cm::tests::measure -- --ignored --nocapture`
// Files: NZIP_CM_FILES (colon-separated) or a default set.
// ---------------------------------------------------------------------------

fn external_size(cmd: &str, args: &[&str], path: &std::path::Path) -> Option<usize> {
    let out = std::process::Command::new(cmd).args(args).arg(path).output().ok()?;
    out.status.success().then_some(out.stdout.len())
}

fn default_files() -> Vec<std::path::PathBuf> {
    let mut v = Vec::new();
    let mut push_dir = |dir: &str, exts: &[&str]| {
        if let Ok(rd) = std::fs::read_dir(dir) {
            let mut fs: Vec<_> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().and_then(|e| e.to_str()).is_some_and(|e| exts.contains(&e)))
                .collect();
            fs.sort();
            v.extend(fs);
        }
    };
    push_dir("/work/shared/reference", &["md"]);
    push_dir("/work/main/corpus/data", &["txt", "md"]);
    v
}

#[test]
#[ignore = "measurement; run in release with --nocapture"]
fn measure() {
    let files: Vec<std::path::PathBuf> = match std::env::var("NZIP_CM_FILES") {
        Ok(s) => s.split(':').filter(|s| !s.is_empty()).map(Into::into).collect(),
        Err(_) => default_files(),
    };
    let levels: Vec<u8> = std::env::var("NZIP_CM_LEVELS")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![1, 6, 9]);
    print!("| file | size | gzip -9 | xz -9e |");
    for l in &levels {
        print!(" cm -{l} |");
    }
    println!();
    print!("|---|---:|---:|---:|");
    for _ in &levels {
        print!("---:|");
    }
    println!();
    let mut tot = vec![0f64; levels.len() + 3];
    let mut secs = vec![0f64; levels.len()];
    for f in &files {
        let Ok(data) = std::fs::read(f) else { continue };
        let gz = external_size("gzip", &["-9", "-c"], f).unwrap_or(0);
        let xz = external_size("xz", &["-9e", "-c", "--format=raw"], f).unwrap_or(0);
        let name = f.file_name().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        print!(
            "| {name} | {} | {gz} ({:.3}) | {xz} ({:.3}) |",
            data.len(),
            8.0 * gz as f64 / data.len() as f64,
            8.0 * xz as f64 / data.len() as f64
        );
        tot[0] += data.len() as f64;
        tot[1] += gz as f64;
        tot[2] += xz as f64;
        for (k, &l) in levels.iter().enumerate() {
            let t = std::time::Instant::now();
            let c = cost_bytes(&data, l);
            secs[k] += t.elapsed().as_secs_f64();
            tot[3 + k] += c;
            print!(" {:.0} ({:.3}) |", c, 8.0 * c / data.len() as f64);
        }
        println!();
    }
    print!("| **total** | {:.0} | {:.0} ({:.3}) | {:.0} ({:.3}) |", tot[0], tot[1], 8.0 * tot[1] / tot[0], tot[2], 8.0 * tot[2] / tot[0]);
    for k in 0..levels.len() {
        print!(" {:.0} ({:.3}) |", tot[3 + k], 8.0 * tot[3 + k] / tot[0]);
    }
    println!();
    print!("| encode MB/s (model + cost counter) | | | |");
    for s in &secs {
        print!(" {:.2} |", tot[0] / 1e6 / s);
    }
    println!();
    println!("(sizes in bytes; bits per byte in parentheses; cm sizes are ideal code lengths)");
}
