//! Throughput of the context-mixing byte model (`models::cm`), per level, in
//! bytes per second: encoding with the range coder, and decoding.
//!
//! `cargo bench -p nzip-codec --bench cm`
//!
//! The input is `NZIP_CM_BENCH_FILE` if set, else `corpus/data/text/prose/
//! canterbury_alice29.txt` if present, else generated English-like text.

// A benchmark is not a decode path: failing loudly on bad setup is right.
#![allow(clippy::unwrap_used)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nzip_codec::entropy::{RangeBitDecoder, RangeBitEncoder};
use nzip_codec::models::cm;
use std::hint::black_box;
use std::time::Duration;

fn input() -> Vec<u8> {
    let path = std::env::var("NZIP_CM_BENCH_FILE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/../corpus/data/text/prose/canterbury_alice29.txt").to_string()
    });
    if let Ok(d) = std::fs::read(&path) {
        return d;
    }
    // Fallback: deterministic pseudo-text of about 150 kB.
    let words = ["the", "model", "of", "a", "bit", "and", "context", "mixing", "is", "learned", "online"];
    let mut s = 0x2545_F491_4F6C_DD1Du64;
    let mut out = Vec::new();
    while out.len() < 150_000 {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        out.extend_from_slice(words[(s % words.len() as u64) as usize].as_bytes());
        out.push(if s.is_multiple_of(13) { b'\n' } else { b' ' });
    }
    out
}

fn bench(c: &mut Criterion) {
    let data = input();
    let mut g = c.benchmark_group("cm");
    g.throughput(Throughput::Bytes(data.len() as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for level in [1u8, 6, 9] {
        g.bench_function(format!("encode/level{level}"), |b| {
            b.iter(|| {
                let mut enc = RangeBitEncoder::new();
                cm::encode(black_box(&data), level, &mut enc);
                enc.finish()
            })
        });
        let mut enc = RangeBitEncoder::new();
        cm::encode(&data, level, &mut enc);
        let bytes = enc.finish();
        g.bench_function(format!("decode/level{level}"), |b| {
            b.iter(|| {
                let mut dec = RangeBitDecoder::new(black_box(&bytes)).unwrap();
                let mut out = Vec::with_capacity(data.len());
                cm::decode(data.len(), level, &mut dec, &mut out).unwrap();
                out
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
