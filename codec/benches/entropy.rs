//! Entropy coder throughput, in symbols (or bits) per second.
//!
//! `cargo bench -p nzip-codec --bench entropy`
//!
//! - `fixed_table`: one skewed 256-symbol table at 24-bit precision reused for
//!   every symbol ([`LookupCategorical`] for decoding, and the binary-search
//!   [`Categorical`] for comparison);
//! - `per_symbol_cdf`: a CDF that changes every symbol, either a ready CDF
//!   wrapped (and validated) with [`CdfRef::new`], or quantised from 256 integer
//!   weights with [`cdf_from_weights`] (what an adaptive model would pay);
//! - `binary`: the bit coders with a different `p1` for every bit.
//!
//! ANS encoding includes `finish()` (that is where ANS codes); range encoding
//! includes it too, for symmetry.

// A benchmark is not a decode path: failing loudly on bad setup is right.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use nzip_codec::entropy::{
    cdf_from_weights, AnsBitDecoder, AnsBitEncoder, AnsDecoder, AnsEncoder, BitDecode, BitEncode,
    Categorical, CdfRef, RangeBitDecoder, RangeBitEncoder, RangeDecoder, RangeEncoder,
};
use std::hint::black_box;
use std::time::Duration;

const SYMBOLS: usize = 1 << 20;
const BITS: usize = 1 << 22;

/// SplitMix64, for reproducible test data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }
}

fn sample(cdf: &[u32], rng: &mut Rng) -> usize {
    let q = rng.below(u64::from(*cdf.last().unwrap_or(&1))) as u32;
    cdf.partition_point(|&c| c <= q) - 1
}

/// A skewed (Zipf-like) 256-symbol model and a message drawn from it.
fn skewed() -> (Categorical<24>, Vec<usize>) {
    let weights: Vec<u64> = (0..256u64).map(|i| 1 + 1_000_000_000 / ((i + 1) * (i + 1))).collect();
    let model = Categorical::<24>::from_counts(&weights).unwrap();
    let mut rng = Rng(1);
    let message = (0..SYMBOLS).map(|_| sample(model.cdf(), &mut rng)).collect();
    (model, message)
}

fn fixed_table(c: &mut Criterion) {
    let (model, message) = skewed();
    let lookup = model.clone().into_lookup();
    let mut range = RangeEncoder::new();
    let mut ans = AnsEncoder::new();
    for &s in &message {
        range.encode(s, &model).unwrap();
        ans.encode(s, &model).unwrap();
    }
    let (range, ans) = (range.finish(), ans.finish());

    let mut g = c.benchmark_group("fixed_table");
    g.throughput(Throughput::Elements(SYMBOLS as u64));
    g.bench_function("range_encode", |b| {
        b.iter(|| {
            let mut e = RangeEncoder::new();
            for &s in &message {
                e.encode(s, &lookup).unwrap();
            }
            black_box(e.finish())
        })
    });
    g.bench_function("range_decode_lookup", |b| {
        b.iter(|| {
            let mut d = RangeDecoder::new(&range).unwrap();
            let mut acc = 0;
            for _ in 0..SYMBOLS {
                acc += d.decode(&lookup).unwrap();
            }
            black_box(acc)
        })
    });
    g.bench_function("range_decode_binary_search", |b| {
        b.iter(|| {
            let mut d = RangeDecoder::new(&range).unwrap();
            let mut acc = 0;
            for _ in 0..SYMBOLS {
                acc += d.decode(&model).unwrap();
            }
            black_box(acc)
        })
    });
    g.bench_function("ans_encode", |b| {
        b.iter(|| {
            let mut e = AnsEncoder::with_capacity(SYMBOLS);
            for &s in &message {
                e.encode(s, &lookup).unwrap();
            }
            black_box(e.finish())
        })
    });
    g.bench_function("ans_decode_lookup", |b| {
        b.iter(|| {
            let mut d = AnsDecoder::new(&ans).unwrap();
            let mut acc = 0;
            for _ in 0..SYMBOLS {
                acc += d.decode(&lookup).unwrap();
            }
            black_box(acc)
        })
    });
    g.bench_function("ans_decode_binary_search", |b| {
        b.iter(|| {
            let mut d = AnsDecoder::new(&ans).unwrap();
            let mut acc = 0;
            for _ in 0..SYMBOLS {
                acc += d.decode(&model).unwrap();
            }
            black_box(acc)
        })
    });
    g.finish();
}

fn per_symbol_cdf(c: &mut Criterion) {
    // 64 different 256-symbol weight vectors and their CDFs; symbol i uses
    // number i % 64, so the model changes every symbol.
    let mut rng = Rng(2);
    let weights: Vec<Vec<u32>> =
        (0..64).map(|_| (0..256).map(|_| (rng.next() >> (40 + rng.below(24))) as u32).collect()).collect();
    let cdfs: Vec<Vec<u32>> = weights
        .iter()
        .map(|w| {
            let mut cdf = vec![0u32; 257];
            cdf_from_weights::<24>(w, &mut cdf).unwrap();
            cdf
        })
        .collect();
    let message: Vec<usize> = (0..SYMBOLS).map(|i| sample(&cdfs[i % 64], &mut rng)).collect();
    let mut range = RangeEncoder::new();
    let mut ans = AnsEncoder::new();
    for (i, &s) in message.iter().enumerate() {
        range.encode(s, CdfRef::<24>::new(&cdfs[i % 64]).unwrap()).unwrap();
        ans.encode(s, CdfRef::<24>::new(&cdfs[i % 64]).unwrap()).unwrap();
    }
    let (range, ans) = (range.finish(), ans.finish());

    // The model-building cost alone (no coding), per CDF.
    let mut g = c.benchmark_group("cdf_build");
    g.throughput(Throughput::Elements(64));
    g.bench_function("cdfref_new_256", |b| {
        b.iter(|| {
            let mut acc = 0;
            for cdf in &cdfs {
                acc += CdfRef::<24>::new(black_box(cdf)).unwrap().num_symbols();
            }
            black_box(acc)
        })
    });
    g.bench_function("cdf_from_weights_256", |b| {
        let mut buf = vec![0u32; 257];
        b.iter(|| {
            let mut acc = 0;
            for w in &weights {
                acc += cdf_from_weights::<24>(black_box(w), &mut buf).unwrap().num_symbols();
            }
            black_box(acc)
        })
    });
    g.bench_function("from_counts_256", |b| {
        b.iter(|| {
            let mut acc = 0;
            for w in &weights {
                acc += Categorical::<24>::from_counts(black_box(w)).unwrap().num_symbols();
            }
            black_box(acc)
        })
    });
    g.bench_function("into_lookup_256", |b| {
        let models: Vec<Categorical<24>> =
            weights.iter().map(|w| Categorical::<24>::from_counts(w).unwrap()).collect();
        b.iter_batched(
            || models.clone(),
            |models| models.into_iter().map(|m| m.into_lookup().num_symbols()).sum::<usize>(),
            BatchSize::SmallInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("per_symbol_cdf");
    g.throughput(Throughput::Elements(SYMBOLS as u64));
    g.bench_function("range_encode_cdfref", |b| {
        b.iter(|| {
            let mut e = RangeEncoder::new();
            for (i, &s) in message.iter().enumerate() {
                e.encode(s, CdfRef::<24>::new(&cdfs[i % 64]).unwrap()).unwrap();
            }
            black_box(e.finish())
        })
    });
    g.bench_function("range_decode_cdfref", |b| {
        b.iter(|| {
            let mut d = RangeDecoder::new(&range).unwrap();
            let mut acc = 0;
            for i in 0..SYMBOLS {
                acc += d.decode(CdfRef::<24>::new(&cdfs[i % 64]).unwrap()).unwrap();
            }
            black_box(acc)
        })
    });
    g.bench_function("ans_encode_cdfref", |b| {
        b.iter(|| {
            let mut e = AnsEncoder::with_capacity(SYMBOLS);
            for (i, &s) in message.iter().enumerate() {
                e.encode(s, CdfRef::<24>::new(&cdfs[i % 64]).unwrap()).unwrap();
            }
            black_box(e.finish())
        })
    });
    g.bench_function("ans_decode_cdfref", |b| {
        b.iter(|| {
            let mut d = AnsDecoder::new(&ans).unwrap();
            let mut acc = 0;
            for i in 0..SYMBOLS {
                acc += d.decode(CdfRef::<24>::new(&cdfs[i % 64]).unwrap()).unwrap();
            }
            black_box(acc)
        })
    });
    g.bench_function("range_encode_from_weights", |b| {
        let mut buf = vec![0u32; 257];
        b.iter(|| {
            let mut e = RangeEncoder::new();
            for (i, &s) in message.iter().enumerate() {
                e.encode(s, cdf_from_weights::<24>(&weights[i % 64], &mut buf).unwrap()).unwrap();
            }
            black_box(e.finish())
        })
    });
    g.bench_function("range_decode_from_weights", |b| {
        let mut buf = vec![0u32; 257];
        b.iter(|| {
            let mut d = RangeDecoder::new(&range).unwrap();
            let mut acc = 0;
            for i in 0..SYMBOLS {
                acc += d.decode(cdf_from_weights::<24>(&weights[i % 64], &mut buf).unwrap()).unwrap();
            }
            black_box(acc)
        })
    });
    g.finish();
}

fn binary(c: &mut Criterion) {
    let mut rng = Rng(3);
    let bits: Vec<(bool, u16)> = (0..BITS)
        .map(|i| {
            let p1 = if i % 8 < 6 { 1 + rng.below(2048) as u16 } else { 1 + rng.below(65535) as u16 };
            (rng.below(65536) < u64::from(p1), p1)
        })
        .collect();
    let mut range = RangeBitEncoder::new();
    let mut ans = AnsBitEncoder::new();
    for &(bit, p1) in &bits {
        range.encode_bit(bit, p1);
        ans.encode_bit(bit, p1);
    }
    let (range, ans) = (range.finish(), ans.finish());

    let mut g = c.benchmark_group("binary");
    g.throughput(Throughput::Elements(BITS as u64));
    g.bench_function("range_encode", |b| {
        b.iter(|| {
            let mut e = RangeBitEncoder::new();
            for &(bit, p1) in &bits {
                e.encode_bit(bit, p1);
            }
            black_box(e.finish())
        })
    });
    g.bench_function("range_decode", |b| {
        b.iter(|| {
            let mut d = RangeBitDecoder::new(&range).unwrap();
            let mut acc = 0u32;
            for &(_, p1) in &bits {
                acc += u32::from(d.decode_bit(p1).unwrap());
            }
            black_box(acc)
        })
    });
    g.bench_function("ans_encode", |b| {
        b.iter_batched(
            || AnsBitEncoder::with_capacity(BITS),
            |mut e| {
                for &(bit, p1) in &bits {
                    e.encode_bit(bit, p1);
                }
                black_box(e.finish())
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("ans_decode", |b| {
        b.iter(|| {
            let mut d = AnsBitDecoder::new(&ans).unwrap();
            let mut acc = 0u32;
            for &(_, p1) in &bits {
                acc += u32::from(d.decode_bit(p1).unwrap());
            }
            black_box(acc)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3));
    targets = fixed_table, per_symbol_cdf, binary
}
criterion_main!(benches);
