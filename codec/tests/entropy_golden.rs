//! Golden streams of the entropy layer: fixed inputs and models must keep
//! giving exactly these bytes (length and CRC-32), on every machine. A change
//! here changes coded files: it is a format or model version change
//! (DESIGN.md section 6), never a silent edit of the expected values.
//!
//! Pinned: the `from_counts` and `cdf_from_weights` quantisers, the bit
//! model's layout, constriction's coders and the byte order of the words.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::entropy::{
    cdf_from_weights, AnsBitDecoder, AnsBitEncoder, AnsDecoder, AnsEncoder, BitDecode, BitEncode,
    Categorical, RangeBitDecoder, RangeBitEncoder, RangeDecoder, RangeEncoder,
};

/// SplitMix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

fn fingerprint(bytes: &[u8]) -> (usize, u32) {
    (bytes.len(), crc32fast::hash(bytes))
}

fn zipf_model() -> Categorical<24> {
    let weights: Vec<u64> = (0..256u64).map(|i| 1 + 1_000_000 / ((i + 1) * (i + 1))).collect();
    Categorical::<24>::from_counts(&weights).unwrap()
}

fn zipf_message(model: &Categorical<24>) -> Vec<usize> {
    let mut rng = Rng(42);
    (0..10_000)
        .map(|_| {
            let q = (rng.next() >> 40) as u32;
            model.cdf().partition_point(|&c| c <= q) - 1
        })
        .collect()
}

/// Per-symbol weights for the `cdf_from_weights` streams.
fn varying_weights(rng: &mut Rng) -> Vec<u32> {
    (0..17).map(|_| (rng.next() >> (44 + rng.next() % 20)) as u32).collect()
}

fn bits() -> Vec<(bool, u16)> {
    let mut rng = Rng(7);
    (0..50_000)
        .map(|_| {
            let p1 = (rng.next() >> 48) as u16;
            let bit = (rng.next() >> 48) < u64::from(p1);
            (bit, p1)
        })
        .collect()
}

#[test]
fn from_counts_table() {
    let model = zipf_model();
    let cdf = model.cdf();
    assert_eq!(&cdf[..6], &[0, 10_222_503, 12_778_137, 13_913_980, 14_552_897, 14_961_808]);
    assert_eq!(
        crc32fast::hash(&cdf.iter().flat_map(|c| c.to_le_bytes()).collect::<Vec<u8>>()),
        4_001_720_300
    );
}

#[test]
fn tiny_streams() {
    let mut e = RangeBitEncoder::new();
    for i in 0..8 {
        e.encode_bit(i % 3 == 0, 32768);
    }
    // The bits 10010010 at probability 1/2 are the binary fraction 0x92.
    assert_eq!(e.finish(), [0, 0, 0, 0x92]);
    let mut e = AnsBitEncoder::new();
    for i in 0..8 {
        e.encode_bit(i % 3 == 0, 32768);
    }
    // Pushed last to first from state 0: 0x0024_8000 (= 36 << 16 | 32768).
    assert_eq!(e.finish(), [0, 0x80, 0x24, 0]);
}

#[test]
fn range_fixed_table() {
    let model = zipf_model();
    let message = zipf_message(&model);
    let mut e = RangeEncoder::new();
    for &s in &message {
        e.encode(s, &model).unwrap();
    }
    let bytes = e.finish();
    assert_eq!(fingerprint(&bytes), (2904, 1_925_612_576));
    let mut d = RangeDecoder::new(&bytes).unwrap();
    assert!(message.iter().all(|&s| d.decode(&model).unwrap() == s));
}

#[test]
fn ans_fixed_table() {
    let model = zipf_model();
    let message = zipf_message(&model);
    let mut e = AnsEncoder::new();
    for &s in &message {
        e.encode(s, &model).unwrap();
    }
    let bytes = e.finish();
    assert_eq!(fingerprint(&bytes), (2904, 3_867_647_228));
    let mut d = AnsDecoder::new(&bytes).unwrap();
    assert!(message.iter().all(|&s| d.decode(&model).unwrap() == s));
}

#[test]
fn per_symbol_cdfs() {
    let mut buf = [0u32; 18];
    let mut rng = Rng(9);
    let steps: Vec<(Vec<u32>, usize)> = (0..5_000)
        .map(|_| {
            let w = varying_weights(&mut rng);
            let s = (rng.next() % 17) as usize;
            (w, s)
        })
        .collect();
    let mut range = RangeEncoder::new();
    let mut ans = AnsEncoder::new();
    for (w, s) in &steps {
        range.encode(*s, cdf_from_weights::<16>(w, &mut buf).unwrap()).unwrap();
        ans.encode(*s, cdf_from_weights::<16>(w, &mut buf).unwrap()).unwrap();
    }
    let (range, ans) = (range.finish(), ans.finish());
    assert_eq!(fingerprint(&range), (5960, 2_388_772_418));
    assert_eq!(fingerprint(&ans), (5960, 3_905_362_732));
    let mut rd = RangeDecoder::new(&range).unwrap();
    let mut ad = AnsDecoder::new(&ans).unwrap();
    for (w, s) in &steps {
        assert_eq!(rd.decode(cdf_from_weights::<16>(w, &mut buf).unwrap()).unwrap(), *s);
        assert_eq!(ad.decode(cdf_from_weights::<16>(w, &mut buf).unwrap()).unwrap(), *s);
    }
}

#[test]
fn bit_coders() {
    let bits = bits();
    let mut range = RangeBitEncoder::new();
    let mut ans = AnsBitEncoder::new();
    for &(bit, p1) in &bits {
        range.encode_bit(bit, p1);
        ans.encode_bit(bit, p1);
    }
    let (range, ans) = (range.finish(), ans.finish());
    assert_eq!(fingerprint(&range), (4468, 1_875_497_125));
    assert_eq!(fingerprint(&ans), (4468, 89_758_944));
    let mut rd = RangeBitDecoder::new(&range).unwrap();
    let mut ad = AnsBitDecoder::new(&ans).unwrap();
    for &(bit, p1) in &bits {
        assert_eq!(rd.decode_bit(p1).unwrap(), bit);
        assert_eq!(ad.decode_bit(p1).unwrap(), bit);
    }
}
