//! The integer engine's hot kernels against the machine's f32 GEMM, measured
//! in the same run (spec/MODELS.md §4; issue: report kernels as a ratio to f32 gemm).
//!
//! `cargo bench -p nzip-codec --bench nn`
//!
//! Throughput is in multiply-adds per second (`elements`), so the int8
//! kernels and `f32_gemm` (candle's gemm on non-integer floats, the machine's
//! ordinary float speed) compare directly. Shapes are those of the shipped
//! GRU step (64 lanes x (3*128 + 256) outputs x 128 inputs) and of a 3x3
//! convolution over a 64x64 image with 16 channels.

#![allow(clippy::unwrap_used)]

use candle_core::{Device, Tensor};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use nzip_codec::models::lm;
use nzip_codec::nn::lut::logits_to_cdf;
use nzip_codec::nn::train::Rng;
use nzip_codec::nn::{package, Backend, Conv2d, QMatrix};
use std::hint::black_box;
use std::time::Duration;

fn values(n: usize, seed: u64) -> Vec<i8> {
    let mut r = Rng::new(seed);
    (0..n).map(|_| r.next_u64() as i8).collect()
}

fn matmul(c: &mut Criterion) {
    let (batch, rows, cols) = (64, 640, 128);
    let w = QMatrix::new(rows, cols, values(rows * cols, 1)).unwrap();
    let x = values(batch * cols, 2);
    let mut out = vec![0i32; batch * rows];
    let mut g = c.benchmark_group("matmul_64x640x128");
    g.throughput(Throughput::Elements((batch * rows * cols) as u64));
    for b in [Backend::Scalar, Backend::Cpu, Backend::candle_cpu()] {
        g.bench_function(format!("int8_{}", b.name()), |bch| {
            bch.iter(|| w.matmul(&b, black_box(&x), &mut out).unwrap())
        });
    }
    let mut r = Rng::new(3);
    let xf = Tensor::from_vec(
        (0..batch * cols).map(|_| r.uniform(1.0)).collect::<Vec<f32>>(),
        (batch, cols),
        &Device::Cpu,
    )
    .unwrap();
    let wf = Tensor::from_vec(
        (0..rows * cols).map(|_| r.uniform(1.0)).collect::<Vec<f32>>(),
        (cols, rows),
        &Device::Cpu,
    )
    .unwrap();
    g.bench_function("f32_gemm_candle", |bch| bch.iter(|| black_box(xf.matmul(&wf).unwrap())));
    g.finish();
}

fn conv(c: &mut Criterion) {
    let (ch, h, w) = (16, 64, 64);
    let conv = Conv2d::new(ch, ch, 3, 3, values(ch * ch * 9, 4)).unwrap().mask_causal(true);
    let input = values(ch * h * w, 5);
    let mut out = vec![0i32; ch * h * w];
    let mut g = c.benchmark_group("conv3x3_16ch_64x64");
    g.throughput(Throughput::Elements((ch * ch * 9 * h * w) as u64));
    for b in [Backend::Cpu, Backend::candle_cpu()] {
        g.bench_function(format!("int8_{}", b.name()), |bch| {
            bch.iter(|| conv.forward(&b, black_box(&input), h, w, &mut out).unwrap())
        });
    }
    g.finish();
}

fn cdf(c: &mut Criterion) {
    let mut r = Rng::new(6);
    let logits: Vec<i32> = (0..256).map(|_| (r.next_u64() % 4000) as i32 - 2000).collect();
    let (mut wts, mut cdf) = ([0u32; 256], [0u32; 257]);
    let mut g = c.benchmark_group("softmax_to_cdf_256");
    g.throughput(Throughput::Elements(1));
    g.bench_function("logits_to_cdf", |b| {
        b.iter(|| {
            logits_to_cdf::<24>(black_box(&logits), &mut wts, &mut cdf).unwrap();
        })
    });
    g.finish();
}

fn lm_coding(c: &mut Criterion) {
    let model = package::find_by_name("byte-gru-s").unwrap().gru().unwrap();
    let text: Vec<u8> =
        include_bytes!("../../spec/FORMAT.md").iter().copied().cycle().take(256 << 10).collect();
    let mut g = c.benchmark_group("lm_byte_gru_s_256KiB");
    g.throughput(Throughput::Bytes(text.len() as u64));
    g.sample_size(10);
    g.bench_function("encode_cpu", |b| {
        b.iter(|| lm::encode(black_box(&text), &model, &Backend::Cpu).unwrap())
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = matmul, conv, cdf, lm_coding
}
criterion_main!(benches);
