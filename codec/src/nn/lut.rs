//! Lookup tables for the nonlinearities of the probability path, built by
//! integer code only (spec/MODELS.md §4.2), and the softmax-to-CDF step.
//!
//! Every nonlinearity is defined in base 2, so that one table of powers of two
//! serves them all and no `exp`/`log`/`tanh` from a maths library is ever
//! called:
//!
//! - `sigma(x) = 1 / (1 + 2^-x)` (the logistic function of `x ln 2`),
//! - `tanh2(x) = (1 - 2^-2x) / (1 + 2^-2x)` (= `tanh(x ln 2)`),
//! - softmax in base 2: `p_i = 2^(l_i) / sum_j 2^(l_j)`.
//!
//! Training uses the same functions in floating point (`sigmoid(x * ln 2)`,
//! `tanh(x * ln 2)`, `log_softmax(l * ln 2)`); only inference must be exact.
//!
//! Fixed-point formats: pre-activations are Q8 (`x = q / 256`), the tables
//! cover `-8 <= x < 8` in steps of 1/256 (4096 entries) and inputs outside
//! are clamped; outputs are Q15 (`32768` = 1.0). Logits are Q8 log2 units.

use crate::entropy::{cdf_from_weights, CdfRef, EntropyError};

/// Fractional bits of pre-activations and logits.
pub const ACT_FRAC_BITS: u32 = 8;
/// Entries of the activation tables: inputs `-2048..2048` (Q8), i.e. `[-8, 8)`.
pub const ACT_TABLE_LEN: usize = 4096;
/// Q15 one.
pub const ONE_Q15: i32 = 1 << 15;
/// Fractional bits of [`exp2_neg`]'s output (Q24).
pub const EXP2_FRAC_BITS: u32 = 24;
/// [`exp2_neg`] is zero from this argument on (24 powers of two below 1).
pub const EXP2_NEG_LEN: usize = 24 << ACT_FRAC_BITS;

/// `2^(-1/256)` in Q62, found by bisection: the largest `c` with `c^256 <= 2^-1`
/// when `c^256` is computed by eight squarings, each rounded down.
const fn root_q62() -> u128 {
    let one: u128 = 1 << 62;
    let half: u128 = 1 << 61;
    let (mut lo, mut hi) = (half, one); // c is in [1/2, 1)
    while hi - lo > 1 {
        let mid = (lo + hi) / 2;
        let mut p = mid;
        let mut i = 0;
        while i < 8 {
            p = (p * p) >> 62;
            i += 1;
        }
        if p <= half {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// `FRAC[j] = round(2^24 * 2^(-j/256))` for `j` in `0..256`, from the Q62 root
/// raised by repeated multiplication (each product rounded down).
const fn frac_table() -> [u32; 256] {
    let c = root_q62();
    let mut t = [0u32; 256];
    let mut v: u128 = 1 << 62;
    let mut j = 0;
    while j < 256 {
        t[j] = ((v + (1 << 37)) >> 38) as u32;
        v = (v * c) >> 62;
        j += 1;
    }
    t
}

const FRAC: [u32; 256] = frac_table();

/// `2^(-d/256)` in Q24, rounded: `round(FRAC[d mod 256] / 2^(d div 256))` for
/// `d < 6144`, and 0 from 6144 on. Monotone non-increasing in `d`; exact at
/// multiples of 256.
#[inline]
pub const fn exp2_neg(d: u32) -> u32 {
    if d as usize >= EXP2_NEG_LEN {
        return 0;
    }
    let f = FRAC[(d & 255) as usize];
    let k = d >> 8;
    if k == 0 {
        f
    } else {
        (f + (1 << (k - 1))) >> k
    }
}

const fn sigma_entry(i: usize) -> i32 {
    // x = (i - 2048) / 256; for x >= 0, sigma = 2^39 / (2^24 + 2^24 * 2^-x), rounded.
    let d = i.abs_diff(2048);
    let e = exp2_neg(d as u32) as u64;
    let den = (1u64 << 24) + e;
    let pos = (((1u64 << 39) + den / 2) / den) as i32; // sigma(|x|) in Q15
    if i >= 2048 {
        pos
    } else {
        ONE_Q15 - pos
    }
}

const fn tanh_entry(i: usize) -> i32 {
    // tanh2(x) = (2^24 - E) / (2^24 + E), E = 2^24 * 2^(-2|x|), rounded; odd.
    let d = i.abs_diff(2048);
    let e = exp2_neg(2 * d as u32) as u64;
    let num = ((1u64 << 24) - e) << 15;
    let den = (1u64 << 24) + e;
    let pos = ((num + den / 2) / den) as i32;
    if i >= 2048 {
        pos
    } else {
        -pos
    }
}

const fn act_table(tanh: bool) -> [i32; ACT_TABLE_LEN] {
    let mut t = [0i32; ACT_TABLE_LEN];
    let mut i = 0;
    while i < ACT_TABLE_LEN {
        t[i] = if tanh { tanh_entry(i) } else { sigma_entry(i) };
        i += 1;
    }
    t
}

static SIGMA: [i32; ACT_TABLE_LEN] = act_table(false);
static TANH: [i32; ACT_TABLE_LEN] = act_table(true);

#[inline(always)]
fn act_index(x_q8: i32) -> usize {
    (x_q8.clamp(-2048, 2047) + 2048) as usize
}

/// `sigma(x)` in Q15 (`0..=32768`) for a Q8 input, clamped to `[-8, 8)`.
#[inline(always)]
pub fn sigma_q15(x_q8: i32) -> i32 {
    SIGMA[act_index(x_q8)]
}

/// `tanh2(x)` in Q15 (`-32768..=32768`) for a Q8 input, clamped to `[-8, 8)`.
#[inline(always)]
pub fn tanh_q15(x_q8: i32) -> i32 {
    TANH[act_index(x_q8)]
}

/// The softmax-to-CDF step (spec/MODELS.md §4.3): Q8 log2-unit logits to a
/// CDF at precision `P` in which every symbol has a frequency of at least 1.
///
/// `w_i = exp2_neg(max_j l_j - l_i)` (Q24, 0 once 24 bits below the maximum;
/// differences are saturated to `u32`), then [`cdf_from_weights`]. `weights`
/// is scratch space of `logits.len()` entries and `cdf` receives
/// `logits.len() + 1` entries.
///
/// # Errors
///
/// [`EntropyError::InvalidModel`] for fewer than two logits, more than `2^P`,
/// or buffers of the wrong length.
pub fn logits_to_cdf<'a, const P: usize>(
    logits: &[i32],
    weights: &mut [u32],
    cdf: &'a mut [u32],
) -> Result<CdfRef<'a, P>, EntropyError> {
    if weights.len() != logits.len() {
        return Err(EntropyError::InvalidModel("the weight buffer must match the logits"));
    }
    let max = logits.iter().copied().max().unwrap_or(0);
    for (w, &l) in weights.iter_mut().zip(logits) {
        let d = (i64::from(max) - i64::from(l)).min(i64::from(u32::MAX)) as u32;
        *w = exp2_neg(d);
    }
    cdf_from_weights::<P>(weights, cdf)
}

/// A content fingerprint of every table (FNV-1a over the little-endian
/// entries), pinned by a test so that no table can drift unnoticed.
pub fn tables_fingerprint() -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |v: u32| {
        for b in v.to_le_bytes() {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    for d in 0..EXP2_NEG_LEN as u32 + 1 {
        eat(exp2_neg(d));
    }
    for i in 0..ACT_TABLE_LEN {
        eat(SIGMA[i] as u32);
        eat(TANH[i] as u32);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp2_table_is_close_to_the_real_function() {
        assert_eq!(exp2_neg(0), 1 << 24);
        assert_eq!(exp2_neg(256), 1 << 23);
        assert_eq!(exp2_neg(EXP2_NEG_LEN as u32), 0);
        assert_eq!(exp2_neg(u32::MAX), 0);
        for d in 0..EXP2_NEG_LEN as u32 {
            let exact = (2f64).powf(24.0 - f64::from(d) / 256.0);
            assert!((f64::from(exp2_neg(d)) - exact).abs() <= 1.0, "d={d}");
            assert!(exp2_neg(d + 1) <= exp2_neg(d));
        }
    }

    #[test]
    fn activations_are_close_to_the_real_functions_and_symmetric() {
        for q in -2048..2048 {
            let x = f64::from(q) / 256.0;
            let s = 32768.0 / (1.0 + (2f64).powf(-x));
            let t = 32768.0 * (x * std::f64::consts::LN_2).tanh();
            assert!((f64::from(sigma_q15(q)) - s).abs() <= 1.0, "sigma {q}");
            assert!((f64::from(tanh_q15(q)) - t).abs() <= 1.0, "tanh {q}");
            if q > -2048 {
                assert_eq!(sigma_q15(q) + sigma_q15(-q), ONE_Q15);
                assert_eq!(tanh_q15(q), -tanh_q15(-q));
                assert!(sigma_q15(q) >= sigma_q15(q - 1));
            }
        }
        assert_eq!(sigma_q15(0), 16384);
        assert_eq!(sigma_q15(i32::MAX), sigma_q15(2047));
        assert_eq!(tanh_q15(i32::MIN), tanh_q15(-2048));
    }

    #[test]
    fn tables_are_pinned() {
        // Changing any table entry changes every model's coded bytes: that is
        // a model-version change (spec/MODELS.md §4).
        assert_eq!(
            tables_fingerprint(),
            0x7bb9_b3a9_58c3_b230,
            "table fingerprint {:#x}",
            tables_fingerprint()
        );
    }

    #[test]
    fn softmax_cdf_keeps_every_symbol_and_orders_them() {
        let mut w = [0u32; 4];
        let mut cdf = [0u32; 5];
        let logits = [0, 256, -100_000, i32::MIN];
        let c = logits_to_cdf::<24>(&logits, &mut w, &mut cdf).unwrap();
        let f: Vec<u32> = (0..4).map(|s| c.frequency(s).unwrap()).collect();
        assert!(f[1] > f[0] && f[0] > f[2] && f[2] >= 1 && f[3] >= 1);
        // p1 / p0 = 2 (one log2 unit apart), to within rounding.
        assert!((f64::from(f[1]) / f64::from(f[0]) - 2.0).abs() < 1e-5);
        // Extreme logits do not overflow.
        let logits = [i32::MAX, i32::MIN];
        assert!(logits_to_cdf::<24>(&logits, &mut w[..2], &mut cdf[..3]).is_ok());
    }
}
