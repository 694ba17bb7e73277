use super::*;
use crate::entropy::binary::{RangeBitDecoder, RangeBitEncoder};
use crate::models::cm::{decode_with, encode_with};
use crate::nn::package;
use crate::nn::test_util::random_gru;

fn english(n: usize) -> Vec<u8> {
    let text = include_str!("../../../../README.md").as_bytes();
    text.iter().cycle().skip(1000).take(n).copied().collect()
}

fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = crate::nn::train::Rng::new(seed);
    (0..n).map(|_| rng.next_u64() as u8).collect()
}

fn code(data: &[u8], lm: &Arc<GruLm>, backend: &Backend) -> Vec<u8> {
    code_with(data, lm, backend, false)
}

fn code_with(data: &[u8], lm: &Arc<GruLm>, backend: &Backend, adapt: bool) -> Vec<u8> {
    let mut m =
        CmLm::new(Model::new_v2(6, data.len() as u64), Arc::clone(lm), backend.clone(), adapt).unwrap();
    let mut enc = RangeBitEncoder::new();
    encode_with(&mut m, data, &mut enc);
    assert!(m.take_error().is_none());
    enc.finish()
}

fn code_cm(data: &[u8]) -> Vec<u8> {
    let mut enc = RangeBitEncoder::new();
    encode_with(Model::new_v2(6, data.len() as u64), data, &mut enc);
    enc.finish()
}

#[test]
fn round_trips_with_identical_bytes_on_every_backend() {
    // Hidden sizes below, at and above one 256-wide block of the adapter's sums.
    for (hidden, adapt) in [(24, false), (24, true), (256, true), (300, true)] {
        let lm = Arc::new(random_gru(256, hidden, 3));
        for n in [0, 1, 2, 7, 300, 5000] {
            let data = english(n);
            let a = code_with(&data, &lm, &Backend::Scalar, adapt);
            let b = code_with(&data, &lm, &Backend::Cpu, adapt);
            let c = code_with(&data, &lm, &Backend::candle_cpu(), adapt);
            assert_eq!(a, b, "n={n} H={hidden} adapt={adapt}");
            assert_eq!(a, c, "n={n} H={hidden} adapt={adapt}");
            let mut m = CmLm::new(Model::new_v2(6, n as u64), Arc::clone(&lm), Backend::Cpu, adapt).unwrap();
            let mut dec = RangeBitDecoder::new(&a).unwrap();
            let mut out = Vec::new();
            decode_with(&mut m, n, &mut dec, &mut out).unwrap();
            assert_eq!(out, data, "n={n} H={hidden} adapt={adapt}");
        }
    }
}

/// A deterministic `h8` vector of `n` values covering the full `i8` range.
fn h8_of(n: usize, seed: u64) -> Vec<i8> {
    let mut rng = crate::nn::train::Rng::new(seed);
    (0..n).map(|i| if i % 7 == 0 { [-128i8, 127][i % 2] } else { rng.next_u64() as i8 }).collect()
}

/// A precision-24 CDF with the given frequencies (which sum to 2^24).
fn cdf_of(freq: &[u32]) -> Vec<u32> {
    let mut cdf = vec![0u32];
    for &f in freq {
        cdf.push(cdf.last().unwrap() + f);
    }
    assert_eq!(*cdf.last().unwrap(), 1 << 24);
    cdf
}

#[test]
fn the_adapter_kernels_equal_the_scalar_reference() {
    // The scalar reference, written out from spec/MODELS.md §8.1.
    fn reference_learn(a: &mut [i32], hidden: usize, h8: &[i8], cdf: &[u32], x: usize) {
        for s in 0..256 {
            let f = i64::from(cdf[s + 1] - cdf[s]);
            let e = if s == x { f - (1 << 24) } else { f };
            let g = (16 * e) >> 8;
            if g.abs() < 256 {
                continue;
            }
            for k in 0..hidden {
                let step = (g * i64::from(h8[k]) + 2048) >> 12;
                let w = &mut a[s * hidden + k];
                *w = (i64::from(*w) - step).clamp(-(1 << 23) + 1, (1 << 23) - 1) as i32;
            }
        }
    }
    fn reference_correct(a: &[i32], hidden: usize, h8: &[i8], logits: &mut [i32]) {
        for s in 0..256 {
            let acc: i64 = (0..hidden).map(|k| i64::from(a[s * hidden + k] >> 8) * i64::from(h8[k])).sum();
            logits[s] = logits[s].saturating_add((acc >> 12) as i32);
        }
    }
    for hidden in [8, 256, 300, 1024] {
        let mut ad = OutputAdapter::new(hidden);
        let mut a = vec![0i32; 256 * hidden];
        let mut rng = crate::nn::train::Rng::new(hidden as u64);
        for step in 0..40u64 {
            let h8 = h8_of(hidden, step);
            // Random frequencies (most rows learn, some are skipped), one of
            // them dominant, summing to 2^24;
            // every 8th step the coded byte is the dominant one.
            let mut freq: Vec<u32> = (0..256).map(|_| 1 + (rng.next_u64() % 60_000) as u32).collect();
            let top = (rng.next_u64() % 256) as usize;
            freq[top] += (1 << 24) - freq.iter().sum::<u32>();
            let cdf = cdf_of(&freq);
            let x = if step % 8 == 0 { top } else { (rng.next_u64() % 256) as usize };
            let mut got = [i32::MAX - 5, i32::MIN + 5].repeat(128);
            let mut want = got.clone();
            correct(&ad.b, hidden, &h8, &mut got);
            correct_rows(&ad.b, hidden, &h8, &mut want);
            let mut reference = [i32::MAX - 5, i32::MIN + 5].repeat(128);
            reference_correct(&a, hidden, &h8, &mut reference);
            assert_eq!(got, want, "correct, H={hidden} step {step}");
            assert_eq!(got, reference, "correct against the reference, H={hidden} step {step}");
            learn(&mut ad.a, &mut ad.b, hidden, &h8, &cdf, x);
            reference_learn(&mut a, hidden, &h8, &cdf, x);
            assert_eq!(ad.a, a, "learn, H={hidden} step {step}");
            assert!(ad.a.iter().zip(&ad.b).all(|(&w, &v)| i32::from(v) == w >> 8));
        }
        let (mut portable, mut dispatched) = (OutputAdapter::new(hidden), OutputAdapter::new(hidden));
        for step in 0..10u64 {
            let h8 = h8_of(hidden, step);
            let mut freq = vec![1u32; 256];
            freq[3] += (1 << 24) - 256;
            let (cdf, x) = (cdf_of(&freq), (step % 5) as usize);
            learn_rows(&mut portable.a, &mut portable.b, hidden, &h8, &cdf, x);
            learn(&mut dispatched.a, &mut dispatched.b, hidden, &h8, &cdf, x);
        }
        assert_eq!(portable.a, dispatched.a, "learn_rows against the dispatched kernel, H={hidden}");
    }
}

#[test]
fn the_adapter_learns_the_coded_byte_and_stays_within_its_limits() {
    let hidden = 64;
    let mut ad = OutputAdapter::new(hidden);
    let h8 = h8_of(hidden, 9);
    // Uniform prediction; byte 65 keeps coming in the same state.
    let cdf = cdf_of(&[1 << 16; 256]);
    let mut logits = vec![0i32; 256];
    correct(&ad.b, hidden, &h8, &mut logits);
    assert!(logits.iter().all(|&l| l == 0), "a new adapter changes nothing");
    ad.cdf = cdf;
    ad.learn(&h8, 65);
    let mut logits = vec![0i32; 256];
    correct(&ad.b, hidden, &h8, &mut logits);
    assert!(logits[65] > 0, "the coded byte gains: {}", logits[65]);
    assert!(logits.iter().enumerate().all(|(s, &l)| s == 65 || l < logits[65]));
    // Thousands of maximal steps saturate at the limit instead of overflowing.
    let certain_miss = {
        let mut f = vec![1u32; 256];
        f[0] += (1 << 24) - 256;
        cdf_of(&f)
    };
    for _ in 0..5000 {
        learn(&mut ad.a, &mut ad.b, hidden, &h8, &certain_miss, 255);
    }
    assert!(ad.a.iter().any(|&w| w.abs() == ADAPT_LIMIT));
    assert!(ad.a.iter().all(|&w| w.abs() <= ADAPT_LIMIT));
    let mut logits = vec![0i32; 256];
    correct(&ad.b, hidden, &h8, &mut logits);
    assert!(logits[255] > logits[0]);
}

#[test]
fn adapting_helps_the_trained_lm_on_a_long_text() {
    let lm = package::find_by_name("byte-gru-s").unwrap().gru().unwrap();
    let text = english(30_000);
    let (adapted, fixed) =
        (code_with(&text, &lm, &Backend::Cpu, true).len(), code_with(&text, &lm, &Backend::Cpu, false).len());
    assert!(adapted < fixed, "cmlm2 {adapted} against cmlm {fixed}");
}

#[test]
fn the_trained_lm_helps_on_text_and_costs_little_elsewhere() {
    let lm = package::find_by_name("byte-gru-s").unwrap().gru().unwrap();
    // English (the LM's training data is English prose, code and tables).
    let text = english(20_000);
    let (mixed, cm) = (code(&text, &lm, &Backend::Cpu).len(), code_cm(&text).len());
    assert!(mixed * 100 < cm * 99, "text: cmlm {mixed} against cm2 {cm}");
    // Random bytes: the mixer starts on the context model and stays there.
    let noise = random_bytes(20_000, 5);
    let (mixed, cm) = (code(&noise, &lm, &Backend::Cpu).len(), code_cm(&noise).len());
    assert!(mixed <= cm + cm / 200, "noise: cmlm {mixed} against cm2 {cm}");
}

#[test]
fn garbage_decodes_without_panic() {
    let lm = Arc::new(random_gru(256, 16, 4));
    for seed in 0..8 {
        let bytes = random_bytes(64, seed);
        let mut m = CmLm::new(Model::new_v2(6, 500), Arc::clone(&lm), Backend::Cpu, false).unwrap();
        if let Ok(mut dec) = RangeBitDecoder::new(&bytes) {
            let mut out = Vec::new();
            let _ = decode_with(&mut m, 500, &mut dec, &mut out);
        }
    }
}

#[test]
fn a_model_that_is_not_a_byte_model_is_refused() {
    let lm = Arc::new(random_gru(16, 8, 1));
    assert!(CmLm::new(Model::new_v2(6, 10), lm, Backend::Cpu, false).is_err());
}

/// The whole coding path with every AVX2 kernel (adapter, int8 dot product,
/// mixer) and with the portable code only ([`crate::isa::with_portable_kernels`],
/// on this thread, where the CPU backend runs a batch of one) writes the same
/// bytes.
#[test]
fn portable_kernels_write_the_same_bytes() {
    use crate::isa::with_portable_kernels;
    for (hidden, adapt) in [(24, true), (300, true), (64, false)] {
        let lm = Arc::new(random_gru(256, hidden, 5));
        let data = english(3000);
        let fast = code_with(&data, &lm, &Backend::Cpu, adapt);
        let portable = with_portable_kernels(|| code_with(&data, &lm, &Backend::Cpu, adapt));
        assert_eq!(fast, portable, "H={hidden} adapt={adapt}");
    }
}
