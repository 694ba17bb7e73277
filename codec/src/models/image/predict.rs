//! The predictors and their error-weighted blend (spec/MODELS.md §7.3).
//!
//! Predictions are integers in units of 1/8 of a sample value
//! ([`FRAC_BITS`] = 3). Every predictor is a small integer expression of the
//! causal neighbourhood; the blend weighs each by the inverse square of its
//! recent error around the sample ([`INV_SQ`]).

/// Fraction bits of a prediction.
pub const FRAC_BITS: u32 = 3;

/// The causal neighbourhood of one sample in one plane (plane values).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Nb {
    /// Left.
    pub w: i32,
    /// Above.
    pub n: i32,
    /// Above left.
    pub nw: i32,
    /// Above right.
    pub ne: i32,
    /// Two to the left.
    pub ww: i32,
    /// Two above.
    pub nn: i32,
    /// Two above, one right.
    pub nne: i32,
}

/// Number of spatial predictors.
pub const SPATIAL: usize = 6;

/// Number of predictors per reference plane.
pub const INTER: usize = 4;

/// Most predictors of a plane: the spatial ones and two reference planes.
pub const MAX_PREDICTORS: usize = SPATIAL + 2 * INTER + 2;

/// The spatial predictors (×8) of a sample with neighbourhood `nb`, in the
/// order of spec/MODELS.md §7.3.
#[inline]
pub fn spatial(nb: &Nb, out: &mut [i32; MAX_PREDICTORS]) {
    let Nb { w, n, nw, ne, nn: _, ww: _, nne } = *nb;
    out[0] = n << 3;
    out[1] = w << 3;
    out[2] = ne << 3;
    out[3] = (w + n - nw) << 3;
    out[4] = (n + ne - nne) << 3;
    out[5] = (w + n) << 2;
}

/// The predictors (×8) that follow a reference plane: this plane's
/// neighbours corrected by the reference plane's difference between its
/// value `rx` at the sample and its same neighbour. Written at `out[at..]`.
#[inline]
pub fn inter(nb: &Nb, r: &Nb, rx: i32, out: &mut [i32; MAX_PREDICTORS], at: usize) {
    out[at] = (nb.n + rx - r.n) << 3;
    out[at + 1] = (nb.w + rx - r.w) << 3;
    out[at + 2] = (nb.ne + rx - r.ne) << 3;
    out[at + 3] = (nb.nw + rx - r.nw) << 3;
}

/// `INV_SQ[x]` = `floor(2^26 / (x + 1)^2)`: the blend weight of a predictor
/// whose (shifted) error sum is `x` (at least 4, at `x` = 4095).
pub static INV_SQ: [u32; 4096] = build_inv_sq();

const fn build_inv_sq() -> [u32; 4096] {
    let mut t = [0u32; 4096];
    let mut x = 0;
    while x < 4096 {
        let d = (x as u64 + 1) * (x as u64 + 1);
        t[x] = ((1u64 << 26) / d) as u32;
        x += 1;
    }
    t
}

/// Blend `preds[..k]` with error sums `errs[..k]`: weights
/// `INV_SQ[min(err >> s, 4095)]`, where `s` is the smallest shift that brings
/// the smallest error sum below 256. Returns the weighted mean (rounded to
/// nearest, ties up) and the smallest error sum.
#[inline]
pub fn blend(preds: &[i32], errs: &[u32]) -> (i32, u32) {
    let k = preds.len().min(errs.len());
    let emin = errs[..k].iter().copied().min().unwrap_or(0);
    let s = (32 - emin.leading_zeros()).saturating_sub(8);
    let mut sw: i64 = 0;
    let mut swp: i64 = 0;
    for (&p, &e) in preds[..k].iter().zip(&errs[..k]) {
        // (e >> s) is at most 2^32 >> s; the table index is clamped to 4095.
        let w = i64::from(INV_SQ[((e >> s) as usize).min(4095)]);
        sw += w;
        swp += w * i64::from(p);
    }
    // sw >= 4·k > 0 when k > 0; |swp| <= 2^26 · 20 · 2^21 < 2^52.
    if sw == 0 {
        return (0, emin);
    }
    let p = (2 * swp + sw).div_euclid(2 * sw);
    (p as i32, emin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blend_prefers_the_accurate_predictor() {
        let (p, emin) = blend(&[800, 0], &[0, 4000]);
        assert_eq!(emin, 0);
        assert!(p > 790, "{p}");
        let (p, _) = blend(&[100, 200], &[10, 10]);
        assert_eq!(p, 150);
        // Rounding: (100 + 101) / 2 = 100.5 -> 101; negative values round up too.
        assert_eq!(blend(&[100, 101], &[3, 3]).0, 101);
        assert_eq!(blend(&[-101, -100], &[3, 3]).0, -100);
        assert_eq!(blend(&[], &[]).0, 0);
        assert_eq!(INV_SQ[0], 1 << 26);
        assert_eq!(INV_SQ[4095], 4);
    }
}
