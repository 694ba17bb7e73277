//! Random integer models for tests.

use super::fixed::Requant;
use super::gru::GruLm;
use super::package::GruParams;
use super::train::Rng;

/// Random GRU parameters with realistic magnitudes (`scale` widens them, to
/// reach the saturating corners).
pub fn random_gru_params(vocab: usize, hidden: usize, seed: u64, scale: i32) -> GruParams {
    let mut rng = Rng::new(seed);
    let mut int = |lo: i32, hi: i32| lo + (rng.next_u64() % (hi - lo + 1) as u64) as i32;
    let rows = 3 * hidden + vocab;
    GruParams {
        vocab,
        hidden,
        gx: (0..vocab * 3 * hidden).map(|_| int(-600 * scale, 600 * scale) as i16).collect(),
        w: (0..rows * hidden).map(|_| int(-127, 127) as i8).collect(),
        requant: (0..rows)
            .map(|_| Requant { mult: int(1, 4000 * scale), shift: int(20, 24) as u8 })
            .collect(),
        b_hn: (0..hidden).map(|_| int(-300, 300)).collect(),
        b_out: (0..vocab).map(|_| int(-500, 500)).collect(),
    }
}

/// A random [`GruLm`].
pub fn random_gru(vocab: usize, hidden: usize, seed: u64) -> GruLm {
    let p = random_gru_params(vocab, hidden, seed, 1);
    let gx = p.gx.iter().map(|&v| i32::from(v)).collect();
    GruLm::new(vocab, hidden, gx, p.w, p.requant, p.b_hn, p.b_out).unwrap()
}
