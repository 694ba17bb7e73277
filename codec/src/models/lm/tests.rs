use super::*;
use crate::nn::test_util::random_gru;

fn sample_text(n: usize) -> Vec<u8> {
    let words = ["the ", "quick ", "brown ", "fox ", "jumps ", "over ", "lazy ", "dog", ". ", "\n"];
    let mut rng = crate::nn::train::Rng::new(9);
    let mut v = Vec::new();
    while v.len() < n {
        v.extend_from_slice(words[rng.below(words.len())].as_bytes());
    }
    v.truncate(n);
    v
}

#[test]
fn lane_bounds_cover_the_chunk_in_order() {
    for n in [1, 2, 65_535, 65_536, 65_537, 200_000, 64 << 16, (64 << 16) + 5, 10 << 20] {
        let b = lane_bounds(n);
        assert_eq!(b.len(), lanes(n));
        assert_eq!(b[0].0, 0);
        assert_eq!(b.iter().map(|x| x.1).sum::<usize>(), n);
        for w in b.windows(2) {
            assert_eq!(w[0].0 + w[0].1, w[1].0);
            assert!(w[0].1 == w[1].1 || w[0].1 == w[1].1 + 1);
        }
    }
    assert_eq!(lanes(0), 1);
    assert_eq!(lanes(10 << 20), MAX_LANES);
}

#[test]
fn round_trips_on_every_backend_with_identical_bytes() {
    let model = random_gru(256, 32, 1);
    for n in [0, 1, 2, 100, 70_000, 140_001] {
        let data = sample_text(n);
        let coded: Vec<Vec<u8>> = [Backend::Scalar, Backend::Cpu, Backend::candle_cpu()]
            .iter()
            .map(|b| {
                // The scalar backend is slow: only small inputs.
                if matches!(b, Backend::Scalar) && n > 1000 {
                    return encode(&data, &model, &Backend::Cpu).unwrap();
                }
                encode(&data, &model, b).unwrap()
            })
            .collect();
        assert_eq!(coded[0], coded[1], "n={n}");
        assert_eq!(coded[0], coded[2], "n={n}");
        let back = decode(&coded[0], n, &model, &Backend::candle_cpu()).unwrap();
        assert_eq!(back, data, "n={n}");
        let bits = cross_entropy_bits(&data, &model, &Backend::Cpu).unwrap();
        // The coder is within a few bytes of the model's ideal code length.
        assert!((coded[0].len() as f64 * 8.0 - bits).abs() < 64.0 + bits * 1e-4, "n={n}");
    }
}

#[test]
fn corrupt_streams_decode_to_errors_or_wrong_bytes_never_panic() {
    let model = random_gru(256, 16, 2);
    let data = sample_text(3000);
    let coded = encode(&data, &model, &Backend::Cpu).unwrap();
    for i in (0..coded.len()).step_by(7) {
        let mut bad = coded.clone();
        bad[i] ^= 0x20;
        let _ = decode(&bad, data.len(), &model, &Backend::Cpu);
    }
    let _ = decode(&coded[..coded.len() / 2], data.len(), &model, &Backend::Cpu);
    let _ = decode(&[], data.len(), &model, &Backend::Cpu);
}
