//! Fixed tables of the context-mixing model, computed by `const fn` at compile
//! time from integer code only: the logistic `squash`, its inverse `stretch`, the
//! bit-history state machine and the reciprocal table of the adaptive maps.
//!
//! Because they are `const`, the tables are the same on every machine and cost
//! nothing at run time; spec/MODELS.md §3 gives the same definitions in words.

/// Largest magnitude of a logit (in 1/256 nat) accepted by [`squash`]; larger
/// magnitudes are clamped.
pub const LOGIT_LIMIT: i32 = 4095;

/// `round(2^40 · e^(−1/256))`: one step of the exponential recurrence behind
/// [`squash`]. It is a definition, not an approximation that must be exact.
const EXP_STEP_Q40: u128 = 1_095_225_038_176;

/// `SQUASH_POS[x]` = `min(65535, round(2^16 / (1 + E[x] / 2^40)))` for
/// `x` in `0..=4095`, where `E[0] = 2^40` and
/// `E[x+1] = (E[x] · EXP_STEP_Q40 + 2^39) >> 40` (so `E[x] ≈ 2^40 e^(−x/256)`).
static SQUASH_POS: [u16; 4096] = build_squash();

const fn build_squash() -> [u16; 4096] {
    let mut t = [0u16; 4096];
    let one: u128 = 1 << 40;
    let mut e: u128 = one;
    let mut x = 0;
    while x < 4096 {
        // p = 2^16 · 2^40 / (2^40 + e), rounded to nearest; 2^56 · 2 fits u128 easily.
        let den = one + e;
        let p = ((1u128 << 57) + den) / (2 * den);
        t[x] = if p > 65535 { 65535 } else { p as u16 };
        e = (e * EXP_STEP_Q40 + (1 << 39)) >> 40;
        x += 1;
    }
    t
}

/// The logistic function in integers: P(1) in 1/65536 for a logit `x` in 1/256
/// nat, i.e. `65536 / (1 + e^(−x/256))`. `x` is clamped to ±[`LOGIT_LIMIT`]; the
/// result is in `1..=65535`.
#[inline]
pub fn squash(x: i32) -> u32 {
    let x = x.clamp(-LOGIT_LIMIT, LOGIT_LIMIT);
    if x >= 0 {
        // 0 <= x <= 4095: in bounds.
        u32::from(SQUASH_POS[x as usize])
    } else {
        // SQUASH_POS[..] >= 32768 for x >= 0, so this is in 1..=32768.
        65536 - u32::from(SQUASH_POS[(-x) as usize])
    }
}

/// [`squash`] for `const` contexts (`x` must be within ±4095).
pub const fn squash_const(x: i32) -> u32 {
    if x >= 0 {
        SQUASH_POS[x as usize] as u32
    } else {
        65536 - SQUASH_POS[(-x) as usize] as u32
    }
}

/// `STRETCH[p]` for a 12-bit probability `p` (P(1) ≈ (16p + 8) / 65536) is the
/// smallest `x` in `−4095..=4095` with `squash(x) >= 16p + 8` (4095 if none),
/// clamped to ±2047 (the mixer's input range; this changes only `p` = 0 and
/// `p` = 4095).
static STRETCH: [i16; 4096] = build_stretch();

const fn build_stretch() -> [i16; 4096] {
    let mut t = [0i16; 4096];
    let mut x: i32 = -LOGIT_LIMIT;
    let mut p = 0;
    while p < 4096 {
        let target = 16 * p as u32 + 8;
        while x < LOGIT_LIMIT && squash_const(x) < target {
            x += 1;
        }
        t[p] = if x > 2047 {
            2047
        } else if x < -2047 {
            -2047
        } else {
            x as i16
        };
        p += 1;
    }
    t
}

/// The inverse of [`squash`] on a 12-bit probability (`p12` in `0..4096`; higher
/// bits are ignored): a logit in 1/256 nat, within ±2047.
#[inline]
pub fn stretch(p12: u32) -> i32 {
    i32::from(STRETCH[(p12 & 4095) as usize])
}

// ---------------------------------------------------------------------------
// Bit-history states.
// ---------------------------------------------------------------------------

/// Number of bit-history states actually used (the rest of `0..256` is never
/// reached).
pub const NUM_STATES: usize = 221;

/// For a smaller count `m` (index), the largest allowed larger count.
const BOUND: [u8; 6] = [40, 24, 12, 8, 6, 5];

/// The last bit is remembered only while both counts are nonzero and their sum
/// is at most this.
const LAST_BIT_LIMIT: u8 = 12;

const fn valid(n0: u8, n1: u8) -> bool {
    let (m, big) = if n0 < n1 { (n0, n1) } else { (n1, n0) };
    (m as usize) < BOUND.len() && big <= BOUND[m as usize]
}

const fn tracks_last(n0: u8, n1: u8) -> bool {
    n0 > 0 && n1 > 0 && n0 + n1 <= LAST_BIT_LIMIT
}

/// One bit-history state: counts of zeros and ones (discounted) and, for small
/// mixed histories, the last bit seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateInfo {
    /// Count of 0 bits.
    pub n0: u8,
    /// Count of 1 bits.
    pub n1: u8,
    /// The last bit (0 when not tracked).
    pub last: u8,
}

/// Every state's counts, in state-number order (state 0 is the empty history).
pub static STATE_INFO: [StateInfo; 256] = build_states();

const fn build_states() -> [StateInfo; 256] {
    let mut s = [StateInfo { n0: 0, n1: 0, last: 0 }; 256];
    let mut k = 0;
    let mut total: u8 = 0;
    while total <= 80 {
        let mut n1: u8 = 0;
        while n1 <= total {
            let n0 = total - n1;
            if valid(n0, n1) {
                if tracks_last(n0, n1) {
                    s[k] = StateInfo { n0, n1, last: 0 };
                    s[k + 1] = StateInfo { n0, n1, last: 1 };
                    k += 2;
                } else {
                    s[k] = StateInfo { n0, n1, last: 0 };
                    k += 1;
                }
            }
            n1 += 1;
        }
        total += 1;
    }
    assert!(k == NUM_STATES);
    s
}

/// The discounted count of the opposite bit: counts above 2 are roughly halved,
/// so old evidence fades when the history changes direction.
const fn discount(n: u8) -> u8 {
    if n > 2 {
        n / 2 + 1
    } else {
        n
    }
}

const fn find_state(n0: u8, n1: u8, last: u8) -> u8 {
    let mut k = 0;
    while k < NUM_STATES {
        let s = STATE_INFO_CONST[k];
        if s.n0 == n0 && s.n1 == n1 && s.last == last {
            return k as u8;
        }
        k += 1;
    }
    panic!("state table is not closed")
}

const STATE_INFO_CONST: [StateInfo; 256] = build_states();

/// `NEXT[s][y]`: the state after observing bit `y` in state `s`.
pub static NEXT: [[u8; 2]; 256] = build_next();

const fn build_next() -> [[u8; 2]; 256] {
    let mut t = [[0u8; 2]; 256];
    let mut k = 0;
    while k < NUM_STATES {
        let s = STATE_INFO_CONST[k];
        let mut y = 0;
        while y < 2 {
            let (mut n0, mut n1) = (s.n0, s.n1);
            if y == 1 {
                n0 = discount(n0);
                n1 += 1;
                while !valid(n0, n1) {
                    if n0 > 0 {
                        n0 -= 1;
                    } else {
                        n1 -= 1;
                    }
                }
            } else {
                n1 = discount(n1);
                n0 += 1;
                while !valid(n0, n1) {
                    if n1 > 0 {
                        n1 -= 1;
                    } else {
                        n0 -= 1;
                    }
                }
            }
            let last = if tracks_last(n0, n1) { y as u8 } else { 0 };
            t[k][y] = find_state(n0, n1, last);
            y += 1;
        }
        k += 1;
    }
    t
}

/// `STATE_P22[s]`: the initial probability of a 1 in state `s`, in 1/2^22:
/// `((2·n1 + 1) · 2^22) / (2·(n0 + n1) + 2)`, i.e. (n1 + ½) / (n + 1).
pub static STATE_P22: [u32; 256] = build_state_p();

const fn build_state_p() -> [u32; 256] {
    let mut t = [1u32 << 21; 256];
    let mut k = 0;
    while k < NUM_STATES {
        let s = STATE_INFO_CONST[k];
        let num = (2 * s.n1 as u32 + 1) << 22;
        let den = 2 * (s.n0 as u32 + s.n1 as u32) + 2;
        t[k] = num / den;
        k += 1;
    }
    t
}

/// `STATE_TOTAL[s]` = n0 + n1: how often a context has been seen (saturating);
/// used as the replacement priority of hash buckets.
pub static STATE_TOTAL: [u8; 256] = build_totals();

const fn build_totals() -> [u8; 256] {
    let mut t = [0u8; 256];
    let mut k = 0;
    while k < NUM_STATES {
        t[k] = STATE_INFO_CONST[k].n0 + STATE_INFO_CONST[k].n1;
        k += 1;
    }
    t
}

/// `RECIP[n]` = `floor(2^17 / (2n + 3))` ≈ 2^16 / (n + 1.5): the adaptation
/// rate of an adaptive map entry that has been updated `n` times.
pub static RECIP: [u32; 1024] = build_recip();

const fn build_recip() -> [u32; 1024] {
    let mut t = [0u32; 1024];
    let mut n = 0;
    while n < 1024 {
        t[n] = (1u32 << 17) / (2 * n as u32 + 3);
        n += 1;
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squash_is_monotone_and_symmetric() {
        let mut prev = 0;
        for x in -LOGIT_LIMIT..=LOGIT_LIMIT {
            let p = squash(x);
            assert!((1..=65535).contains(&p));
            assert!(p >= prev);
            prev = p;
            assert_eq!(p + squash(-x), 65536, "x = {x}");
        }
        assert_eq!(squash(0), 32768);
        assert_eq!(squash(100_000), 65535);
        assert_eq!(squash(-100_000), 1);
    }

    #[test]
    fn squash_is_close_to_the_logistic() {
        for x in (-4095..=4095).step_by(7) {
            let exact = 65536.0 / (1.0 + (-(x as f64) / 256.0).exp());
            assert!((squash(x) as f64 - exact).abs() <= 1.0, "x = {x}");
        }
    }

    #[test]
    fn stretch_inverts_squash() {
        for p in 0..4096u32 {
            let x = stretch(p);
            assert!(x.abs() <= 2047);
            if x.abs() == 2047 {
                continue;
            }
            let back = squash(x) as i64;
            assert!((back - (16 * p as i64 + 8)).abs() <= 16 + back / 64, "p = {p}");
        }
        assert!(stretch(2047) <= 0 && stretch(2048) >= 0);
    }

    #[test]
    fn state_machine_is_closed_and_sane() {
        assert_eq!(STATE_INFO[0], StateInfo { n0: 0, n1: 0, last: 0 });
        for (s, next) in NEXT.iter().enumerate().take(NUM_STATES) {
            for (y, &t) in next.iter().enumerate() {
                let t = usize::from(t);
                assert!(t < NUM_STATES && t != 0);
                let (a, b) = (STATE_INFO[s], STATE_INFO[t]);
                // The observed bit's count never falls, and grows unless saturated.
                if y == 1 {
                    assert!(b.n1 >= a.n1 && (b.n1 > a.n1 || b.n1 == 40));
                } else {
                    assert!(b.n0 >= a.n0 && (b.n0 > a.n0 || b.n0 == 40));
                }
            }
        }
        // A long run of ones saturates at (0, 40).
        let mut s = 0usize;
        for _ in 0..100 {
            s = NEXT[s][1] as usize;
        }
        assert_eq!(STATE_INFO[s], StateInfo { n0: 0, n1: 40, last: 0 });
    }

    /// Prints the state table as markdown (the appendix of spec/MODELS.md §3):
    /// `cargo test -p nzip-codec --lib cm::tables::tests::print_state_table -- --ignored --nocapture`.
    #[test]
    #[ignore = "prints the state table for spec/MODELS.md"]
    fn print_state_table() {
        println!("| state | n0 | n1 | last | next on 0 | next on 1 | initial P(1)·2^22 |");
        println!("|---:|---:|---:|---:|---:|---:|---:|");
        for s in 0..NUM_STATES {
            let i = STATE_INFO[s];
            println!(
                "| {s} | {} | {} | {} | {} | {} | {} |",
                i.n0, i.n1, i.last, NEXT[s][0], NEXT[s][1], STATE_P22[s]
            );
        }
    }
}
