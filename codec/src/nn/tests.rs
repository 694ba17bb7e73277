//! Bit-exactness of the fast and candle paths against the scalar reference
//! (spec/MODELS.md §4.1): random shapes, weights and inputs, worst-case
//! magnitudes, thread counts and batch partitions.

use super::kernels::{matmul_scalar, Backend, Conv2d, QMatrix, MAX_EXACT_DEPTH};
use super::test_util::random_gru;
use proptest::prelude::*;

fn backends() -> Vec<Backend> {
    vec![Backend::Scalar, Backend::Cpu, Backend::candle_cpu()]
}

fn matmul_all(w: &QMatrix, x: &[i8]) -> Vec<Vec<i32>> {
    let batch = x.len() / w.cols();
    backends()
        .iter()
        .map(|b| {
            let mut out = vec![0; batch * w.rows()];
            w.matmul(b, x, &mut out).unwrap();
            out
        })
        .collect()
}

fn values(len: usize, extreme: bool, seed: u64) -> Vec<i8> {
    let mut rng = super::train::Rng::new(seed);
    (0..len).map(|_| if extreme { [-128i8, -127, 127][rng.below(3)] } else { rng.next_u64() as i8 }).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn matmul_paths_agree(rows in 1usize..80, cols in 1usize..300, batch in 1usize..40, seed: u64, extreme: bool) {
        let w = QMatrix::new(rows, cols, values(rows * cols, extreme, seed)).unwrap();
        let x = values(batch * cols, extreme, seed ^ 1);
        let outs = matmul_all(&w, &x);
        prop_assert_eq!(&outs[0], &outs[1]);
        prop_assert_eq!(&outs[0], &outs[2]);
    }

    #[test]
    fn dot_kernels_agree(len in 0usize..200, seed: u64, extreme: bool) {
        let a = values(len, extreme, seed);
        let b = values(len + (seed % 3) as usize, extreme, seed ^ 2); // b may be longer
        let reference: i32 = a.iter().zip(&b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum();
        prop_assert_eq!(super::kernels::dot_i8(&a, &b), reference);
        prop_assert_eq!(super::kernels::dot_i8_portable(&a, &b), reference);
    }

    #[test]
    fn conv_paths_agree(out_ch in 1usize..6, in_ch in 1usize..5, kh in 0usize..3, kw in 0usize..3,
                        h in 1usize..12, w in 1usize..12, seed: u64, extreme: bool, causal: bool) {
        let (kh, kw) = (2 * kh + 1, 2 * kw + 1);
        let mut conv = Conv2d::new(out_ch, in_ch, kh, kw, values(out_ch * in_ch * kh * kw, extreme, seed)).unwrap();
        if causal {
            conv = conv.mask_causal(seed % 2 == 0);
        }
        let input = values(in_ch * h * w, extreme, seed ^ 7);
        let mut outs = Vec::new();
        for b in backends() {
            let mut out = vec![0; out_ch * h * w];
            conv.forward(&b, &input, h, w, &mut out).unwrap();
            outs.push(out);
        }
        prop_assert_eq!(&outs[0], &outs[1]);
        prop_assert_eq!(&outs[0], &outs[2]);
    }
}

#[test]
fn worst_case_depth_is_exact_on_candle() {
    // k = 1024 with every product at its extreme: |sum| = 1024 * 16384 = 2^24.
    let k = MAX_EXACT_DEPTH;
    let w = QMatrix::new(3, k, [vec![-128i8; k], vec![127; k], vec![-128; k]].concat()).unwrap();
    let x = [vec![-128i8; k], vec![127; k]].concat();
    let outs = matmul_all(&w, &x);
    assert_eq!(outs[0][0], 1 << 24);
    assert_eq!(outs[0], outs[1]);
    assert_eq!(outs[0], outs[2]);
    // Beyond the bound candle refuses rather than rounding.
    let deep = QMatrix::new(1, k + 1, vec![1; k + 1]).unwrap();
    let mut out = [0];
    assert!(deep.matmul(&Backend::candle_cpu(), &vec![1; k + 1], &mut out).is_err());
    assert!(deep.matmul(&Backend::Cpu, &vec![1; k + 1], &mut out).is_ok());
}

#[test]
fn results_do_not_depend_on_threads_or_batch_partition() {
    let (rows, cols, batch) = (640, 128, 64); // 5.2M multiply-adds: the parallel path
    let w = QMatrix::new(rows, cols, values(rows * cols, false, 3)).unwrap();
    let x = values(batch * cols, false, 4);
    let mut reference = vec![0; batch * rows];
    matmul_scalar(&x, w.data(), cols, &mut reference);
    for threads in [1, 2, 3, 8] {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        for b in backends() {
            let out = pool.install(|| {
                let mut out = vec![0; batch * rows];
                w.matmul(&b, &x, &mut out).unwrap();
                out
            });
            assert_eq!(out, reference, "{} threads, {}", threads, b.name());
        }
    }
    // Any partition of the batch gives the same rows.
    for split in [1, 7, 33, 63] {
        let mut out = vec![0; batch * rows];
        let (o1, o2) = out.split_at_mut(split * rows);
        w.matmul(&Backend::Cpu, &x[..split * cols], o1).unwrap();
        w.matmul(&Backend::candle_cpu(), &x[split * cols..], o2).unwrap();
        assert_eq!(out, reference, "split at {split}");
    }
}

#[test]
fn gru_steps_agree_across_backends_and_lane_subsets() {
    let model = random_gru(256, 48, 11);
    let lanes = 5;
    let mut states: Vec<_> = backends().iter().map(|b| (b.clone(), model.start(b, lanes).unwrap())).collect();
    let mut rng = super::train::Rng::new(5);
    let mut logits = vec![vec![0i32; 256]; states.len()];
    for t in 0..40 {
        // Shrinking active lanes, as at the end of a chunk.
        let active = if t < 30 { lanes } else { lanes - (t - 29).min(lanes - 1) };
        let symbols: Vec<u32> = (0..active).map(|_| rng.below(256) as u32).collect();
        for lane in 0..active {
            for (i, (_, s)) in states.iter().enumerate() {
                model.logits(s, lane, &mut logits[i]);
            }
            assert_eq!(logits[0], logits[1]);
            assert_eq!(logits[0], logits[2]);
        }
        for (b, s) in states.iter_mut() {
            model.step(b, s, &symbols).unwrap();
        }
        assert_eq!(states[0].1.hidden(), states[1].1.hidden());
        assert_eq!(states[0].1.hidden(), states[2].1.hidden());
    }
    assert!(model.step(&Backend::Cpu, &mut states[1].1, &[256]).is_err());
}

#[test]
fn gpu_request_without_cuda_is_a_clear_error() {
    if cfg!(feature = "cuda") {
        return;
    }
    let e = Backend::cuda(0).unwrap_err().to_string();
    assert!(e.contains("without GPU support"), "{e}");
}
