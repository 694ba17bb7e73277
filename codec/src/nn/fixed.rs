//! Fixed-point requantisation and integer normalisation (spec/MODELS.md §4.1).

/// A fixed-point multiplier: `y = round(x * mult / 2^shift)` with ties rounded
/// up (towards +infinity), computed exactly in 64-bit (`x` is an `i32`
/// accumulator, `mult` is at most `2^31 - 1`, so `x * mult` fits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Requant {
    /// Non-negative multiplier.
    pub mult: i32,
    /// Right shift, `1..=62`.
    pub shift: u8,
}

impl Requant {
    /// The multiplier closest to the real scale `scale`, with `shift` bits of
    /// fraction (export time only: never on the probability path).
    pub fn from_scale(scale: f64, shift: u8) -> Option<Self> {
        let m = (scale * (1u64 << shift) as f64).round();
        ((1..=62).contains(&shift) && (0.0..=f64::from(i32::MAX)).contains(&m))
            .then_some(Requant { mult: m as i32, shift })
    }

    /// Applies the multiplier.
    #[inline(always)]
    pub fn apply(self, x: i32) -> i32 {
        let p = i64::from(x) * i64::from(self.mult);
        let r = (p + (1i64 << (self.shift - 1))) >> self.shift;
        r.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32
    }

    /// Whether the values are in range (`mult >= 0`, `1 <= shift <= 62`): the
    /// check a model loader makes before [`Requant::apply`] may be used.
    pub fn is_valid(self) -> bool {
        self.mult >= 0 && (1..=62).contains(&self.shift)
    }
}

/// `round(x / 2^s)`, ties up, for `s >= 1`.
#[inline(always)]
pub fn round_shift(x: i32, s: u32) -> i32 {
    ((i64::from(x) + (1i64 << (s - 1))) >> s) as i32
}

/// Saturates to the symmetric int8 range `-127..=127` (so that negation never
/// overflows and the quantisation grid is symmetric, as in training).
#[inline(always)]
pub fn sat_i8(x: i32) -> i8 {
    x.clamp(-127, 127) as i8
}

/// `floor(sqrt(n))` by integer Newton iteration.
pub fn isqrt(n: u64) -> u64 {
    if n < 2 {
        return n;
    }
    let mut x = 1u64 << (64 - n.leading_zeros()).div_ceil(2); // >= sqrt(n)
    loop {
        let y = (x + n / x) / 2;
        if y >= x {
            return x;
        }
        x = y;
    }
}

/// Integer RMS normalisation of one vector, in place: `x_i * gain_i / rms(x)`
/// with `rms = max(1, isqrt(sum x^2 / n))`, output Q(`out_frac`) given Q15
/// gains, rounded toward zero and saturated to `i32`. Exact for any input
/// (`sum x^2` of up to 2^31 values below 2^31 fits in `u128`).
pub fn rms_norm(x: &mut [i32], gain_q15: &[i32], out_frac: u32) {
    let n = x.len().max(1) as u128;
    let ss: u128 = x.iter().map(|&v| (i128::from(v) * i128::from(v)) as u128).sum();
    let mean = u64::try_from(ss / n).unwrap_or(u64::MAX);
    let rms = i128::from(isqrt(mean).max(1));
    for (v, &g) in x.iter_mut().zip(gain_q15) {
        let num = (i128::from(*v) * i128::from(g)) << out_frac;
        let q = num / (rms << 15); // one division: truncates toward zero
        *v = q.clamp(i128::from(i32::MIN), i128::from(i32::MAX)) as i32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requant_rounds_half_up_and_saturates() {
        let r = Requant { mult: 1, shift: 1 };
        assert_eq!(r.apply(1), 1); // 0.5 -> 1
        assert_eq!(r.apply(-1), 0); // -0.5 -> 0
        assert_eq!(r.apply(3), 2);
        let big = Requant { mult: i32::MAX, shift: 1 };
        assert_eq!(big.apply(i32::MAX), i32::MAX);
        assert_eq!(big.apply(i32::MIN), i32::MIN);
        assert_eq!(Requant::from_scale(0.5, 8), Some(Requant { mult: 128, shift: 8 }));
        assert!(Requant::from_scale(-1.0, 8).is_none());
        assert!(Requant::from_scale(1e12, 8).is_none());
    }

    #[test]
    fn isqrt_is_floor_sqrt() {
        for n in (0..100_000u64).chain([u64::MAX, u64::MAX - 1, 1 << 62, (1 << 32) - 1]) {
            let r = isqrt(n);
            assert!(u128::from(r) * u128::from(r) <= u128::from(n), "{n}");
            assert!(u128::from(r + 1) * u128::from(r + 1) > u128::from(n), "{n}");
        }
    }

    #[test]
    fn rms_norm_normalises() {
        let mut x = vec![300, -400, 300, -400];
        rms_norm(&mut x, &[1 << 15; 4], 8);
        // rms = isqrt(125000) = 353; 300/353*256 = 217.56 -> 217 (toward zero).
        assert_eq!(x, vec![217, -290, 217, -290]);
        let mut z = vec![0; 3];
        rms_norm(&mut z, &[1 << 15; 3], 8);
        assert_eq!(z, vec![0; 3]);
        let mut e = vec![i32::MIN, i32::MAX];
        rms_norm(&mut e, &[i32::MAX, i32::MAX], 30);
        assert!(e[0] < 0 && e[1] > 0);
    }
}
