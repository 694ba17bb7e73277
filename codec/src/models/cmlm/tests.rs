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
    let mut m = CmLm::new(Model::new_v2(6, data.len() as u64), Arc::clone(lm), backend.clone()).unwrap();
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
    let lm = Arc::new(random_gru(256, 24, 3));
    for n in [0, 1, 2, 7, 300, 5000] {
        let data = english(n);
        let a = code(&data, &lm, &Backend::Scalar);
        let b = code(&data, &lm, &Backend::Cpu);
        let c = code(&data, &lm, &Backend::candle_cpu());
        assert_eq!(a, b, "n={n}");
        assert_eq!(a, c, "n={n}");
        let mut m = CmLm::new(Model::new_v2(6, n as u64), Arc::clone(&lm), Backend::Cpu).unwrap();
        let mut dec = RangeBitDecoder::new(&a).unwrap();
        let mut out = Vec::new();
        decode_with(&mut m, n, &mut dec, &mut out).unwrap();
        assert_eq!(out, data, "n={n}");
    }
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
        let mut m = CmLm::new(Model::new_v2(6, 500), Arc::clone(&lm), Backend::Cpu).unwrap();
        if let Ok(mut dec) = RangeBitDecoder::new(&bytes) {
            let mut out = Vec::new();
            let _ = decode_with(&mut m, 500, &mut dec, &mut out);
        }
    }
}

#[test]
fn a_model_that_is_not_a_byte_model_is_refused() {
    let lm = Arc::new(random_gru(16, 8, 1));
    assert!(CmLm::new(Model::new_v2(6, 10), lm, Backend::Cpu).is_err());
}
