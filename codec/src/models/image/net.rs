//! The learned network of method `imgnn` (spec/MODELS.md §7.12): a small
//! integer MLP that maps the causal features of a sub-pixel to one logit per
//! decision node of its residual. The logit joins the adaptive model's mixer
//! as one more input, so the mixer learns, per image, how far to trust it.
//!
//! Everything is integer: int8 features and weights, exact `i32` sums (any
//! summation order gives the same result), ReLU and power-of-two
//! requantisation by arithmetic right shifts. The layers have a scalar
//! reference ([`layer_scalar`]) and, on x86-64, an SSE2 path
//! ([`layer_sse2`]) and an AVX2 path over the weights by pairs of inputs
//! ([`layer_avx2`], chosen through [`crate::isa`]); a test checks that they
//! agree.

use crate::nn::package::{le_i32, package_config, tensor};
use crate::nn::NnError;
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;

/// The architecture string of image network packages.
pub const ARCH_IMG_MLP: &str = "img-mlp-v1";
/// Features per sub-pixel (spec §7.12).
pub const FEATURES: usize = 48;
/// The widest hidden layers a package may have; the other width is half this.
pub const MAX_HIDDEN: usize = 64;
/// Output logits: one per decision node.
pub const NODES: usize = 64;

/// The integer network.
#[derive(Debug, Clone)]
pub struct ImgNet {
    layers: Layers,
    s1: u32,
    s2: u32,
    so: u32,
}

/// The parameters, by hidden width (32 or 64 units per layer).
#[derive(Debug, Clone)]
enum Layers {
    H32(Mlp<32>),
    H64(Mlp<64>),
}

/// The parameters of a network with `H` units per hidden layer.
#[derive(Debug, Clone)]
struct Mlp<const H: usize> {
    // The int8 weights are held widened to i16 (and so are the activations):
    // i16 products summed into i32 is the pattern that vectorises to one
    // multiply-add instruction for 8 (SSE2) or 16 (AVX2) products.
    w1: Vec<[i16; FEATURES]>,
    b1: Vec<i32>,
    w2: Vec<[i16; H]>,
    b2: Vec<i32>,
    wo: Vec<[i16; H]>,
    bo: Vec<i32>,
    /// `w1` and `w2` by pairs of inputs, for [`layer_avx2`] ([`pairs`]).
    p1: Vec<i16>,
    p2: Vec<i16>,
}

/// The hidden activations of one sub-pixel (values in 0..=127; a network of
/// 32 units leaves the rest 0).
pub(crate) type Hidden = [i16; MAX_HIDDEN];

/// Largest bias magnitude a package may hold: with int8 weights and inputs
/// a product sum is within `64·128·128 = 2^20`, so a bias up to 2^24 keeps
/// every `i32` sum exact.
const MAX_BIAS: i32 = 1 << 24;

#[inline(always)]
fn dot(a: &[i16], b: &[i16]) -> i32 {
    a.iter().zip(b).map(|(&x, &y)| i32::from(x) * i32::from(y)).sum()
}

/// One hidden layer of `H` units, the reference:
/// `out_j = clamp((w_j·x + b_j) >> s, 0, 127)`.
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
pub(crate) fn layer_scalar<const N: usize, const H: usize>(
    w: &[[i16; N]],
    b: &[i32],
    s: u32,
    x: &[i16; N],
) -> [i16; H] {
    std::array::from_fn(|j| ((dot(&w[j], x) + b[j]) >> s).clamp(0, 127) as i16)
}

/// [`layer_scalar`] with SSE2 (every x86-64 CPU has it): four rows at a
/// time, eight products per multiply-add, the four row sums transposed
/// into one vector.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
pub(crate) fn layer_sse2<const N: usize, const H: usize>(
    w: &[[i16; N]],
    b: &[i32],
    s: u32,
    x: &[i16; N],
) -> [i16; H] {
    use std::arch::x86_64::*;
    const { assert!(N.is_multiple_of(8) && H.is_multiple_of(8) && H <= MAX_HIDDEN) };
    // SAFETY: SSE2 is part of the x86-64 baseline; every load is an
    // unaligned load of 8 i16 within a row of N (N a multiple of 8), and
    // `w` and `b` have H rows (the loader checked the shapes).
    unsafe {
        let mut quads = [_mm_setzero_si128(); MAX_HIDDEN / 4];
        for (q, quad) in quads.iter_mut().enumerate().take(H / 4) {
            let mut acc = [_mm_setzero_si128(); 4];
            for k in (0..N).step_by(8) {
                let xv = _mm_loadu_si128(x.as_ptr().add(k).cast());
                for (r, a) in acc.iter_mut().enumerate() {
                    let wv = _mm_loadu_si128(w[4 * q + r].as_ptr().add(k).cast());
                    *a = _mm_add_epi32(*a, _mm_madd_epi16(wv, xv));
                }
            }
            *quad = quad_out(acc, &b[4 * q..4 * q + 4], s);
        }
        pack_out(&quads)
    }
}

/// The outputs of four rows from their partial sums `acc` (four lanes
/// each): the sums transposed into one vector, plus the biases, shifted.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn quad_out(acc: [std::arch::x86_64::__m128i; 4], b: &[i32], s: u32) -> std::arch::x86_64::__m128i {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 register operations only; SSE2 is part of the x86-64 baseline.
    unsafe {
        let s01 = _mm_add_epi32(_mm_unpacklo_epi32(acc[0], acc[1]), _mm_unpackhi_epi32(acc[0], acc[1]));
        let s23 = _mm_add_epi32(_mm_unpacklo_epi32(acc[2], acc[3]), _mm_unpackhi_epi32(acc[2], acc[3]));
        let sum = _mm_add_epi32(_mm_unpacklo_epi64(s01, s23), _mm_unpackhi_epi64(s01, s23));
        let bias = _mm_set_epi32(b[3], b[2], b[1], b[0]);
        _mm_sra_epi32(_mm_add_epi32(sum, bias), _mm_cvtsi32_si128(s as i32))
    }
}

/// The layer's `H` activations from its row outputs (the first `H / 4`
/// quads): clamped to 0..=127.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
#[allow(unsafe_code)]
fn pack_out<const H: usize>(quads: &[std::arch::x86_64::__m128i; MAX_HIDDEN / 4]) -> [i16; H] {
    use std::arch::x86_64::*;
    let mut out = [0i16; H];
    for (p, pair) in quads.chunks_exact(2).enumerate().take(H / 8) {
        // SAFETY: SSE2 is part of the x86-64 baseline; `out` has 8 i16 at
        // `8 * p` (H is a multiple of 8); an unaligned store.
        unsafe {
            // Saturating to i16 then clamping to 0..=127 equals clamping the i32.
            let v = _mm_packs_epi32(pair[0], pair[1]);
            let v = _mm_min_epi16(_mm_max_epi16(v, _mm_setzero_si128()), _mm_set1_epi16(127));
            _mm_storeu_si128(out.as_mut_ptr().add(8 * p).cast(), v);
        }
    }
    out
}

/// The weights `w` of a layer of `H` rows over `N` inputs by pairs of
/// inputs, as [`layer_avx2`] reads them: for input pair `p` and row `j`,
/// `w[j][2p]` then `w[j][2p + 1]` at `2·(p·H + j)`.
fn pairs<const N: usize>(w: &[[i16; N]]) -> Vec<i16> {
    (0..N / 2).flat_map(|p| w.iter().flat_map(move |row| [row[2 * p], row[2 * p + 1]])).collect()
}

/// [`layer_scalar`] with AVX2, over the weights by pairs of inputs
/// ([`pairs`]): each multiply-add takes one pair of inputs, broadcast, with
/// that pair's weights of eight rows, so that the eight row sums build up in
/// the lanes of one register and need no transposing at the end.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
pub(crate) unsafe fn layer_avx2<const N: usize, const H: usize>(
    wp: &[i16],
    b: &[i32],
    s: u32,
    x: &[i16; N],
) -> [i16; H] {
    use std::arch::x86_64::*;
    const { assert!(N.is_multiple_of(2) && H.is_multiple_of(16) && H <= MAX_HIDDEN) };
    assert!(wp.len() == N * H && b.len() >= H);
    let mut out = [0i16; H];
    // SAFETY: every load reads 16 i16 at `2·(p·H + 8g)` with `p < N/2` and
    // `8g + 8 <= H`, within `wp` (N·H, asserted above), or 8 i32 of `b` at
    // `8g` (H of them); every store writes 16 i16 at `16k`, `16k + 16 <= H`;
    // all unaligned. The caller checked that the processor has AVX2.
    unsafe {
        let mut acc = [_mm256_setzero_si256(); MAX_HIDDEN / 8];
        for p in 0..N / 2 {
            let pair = i32::from(x[2 * p] as u16) | i32::from(x[2 * p + 1]) << 16;
            let xv = _mm256_set1_epi32(pair);
            for (g, a) in acc.iter_mut().enumerate().take(H / 8) {
                let wv = _mm256_loadu_si256(wp.as_ptr().add(2 * (p * H + 8 * g)).cast());
                *a = _mm256_add_epi32(*a, _mm256_madd_epi16(wv, xv));
            }
        }
        let shift = _mm_cvtsi32_si128(s as i32);
        let rows = |g: usize| {
            let bias = _mm256_loadu_si256(b.as_ptr().add(8 * g).cast());
            _mm256_sra_epi32(_mm256_add_epi32(acc[g], bias), shift)
        };
        for k in 0..H / 16 {
            // Saturating to i16 then clamping to 0..=127 equals clamping the
            // i32; the pack interleaves 128-bit lanes, the permute restores
            // the order of the rows.
            let v = _mm256_packs_epi32(rows(2 * k), rows(2 * k + 1));
            let v = _mm256_permute4x64_epi64::<0b11_01_10_00>(v);
            let v = _mm256_min_epi16(_mm256_max_epi16(v, _mm256_setzero_si256()), _mm256_set1_epi16(127));
            _mm256_storeu_si256(out.as_mut_ptr().add(16 * k).cast(), v);
        }
    }
    out
}

/// One hidden layer: [`layer_avx2`] where [`crate::isa::avx2`] allows it,
/// else [`layer_sse2`] (x86-64) or [`layer_scalar`].
#[inline]
fn layer<const N: usize, const H: usize>(
    w: &[[i16; N]],
    wp: &[i16],
    b: &[i32],
    s: u32,
    x: &[i16; N],
) -> [i16; H] {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::avx2() {
        #[allow(unsafe_code)]
        // SAFETY: the processor has AVX2 (`isa::avx2` checked it), the only
        // requirement of `layer_avx2`.
        return unsafe { layer_avx2(wp, b, s, x) };
    }
    let _ = wp;
    #[cfg(target_arch = "x86_64")]
    return layer_sse2(w, b, s, x);
    #[cfg(not(target_arch = "x86_64"))]
    return layer_scalar(w, b, s, x);
}

fn rows<const N: usize>(b: &[u8]) -> Vec<[i16; N]> {
    b.chunks_exact(N).map(|r| std::array::from_fn(|i| i16::from(r[i] as i8))).collect()
}

impl<const H: usize> Mlp<H> {
    fn load(st: &SafeTensors<'_>) -> Result<Mlp<H>, NnError> {
        let bias = |name: &str, n: usize| {
            let b = le_i32(tensor(st, name, Dtype::I32, &[n])?);
            match b.iter().all(|v| v.abs() <= MAX_BIAS) {
                true => Ok(b),
                false => Err(NnError::Package(format!("bias {name} beyond ±2^24"))),
            }
        };
        let w1 = rows(tensor(st, "w1", Dtype::I8, &[H, FEATURES])?);
        let w2 = rows(tensor(st, "w2", Dtype::I8, &[H, H])?);
        Ok(Mlp {
            p1: pairs(&w1),
            p2: pairs(&w2),
            w1,
            b1: bias("b1", H)?,
            w2,
            b2: bias("b2", H)?,
            wo: rows(tensor(st, "wo", Dtype::I8, &[NODES, H])?),
            bo: bias("bo", NODES)?,
        })
    }

    /// Both hidden layers, into the first `H` of `out`.
    #[inline]
    fn hidden(&self, x: &[i16; FEATURES], s1: u32, s2: u32, out: &mut Hidden) {
        let h1: [i16; H] = layer(&self.w1, &self.p1, &self.b1, s1, x);
        let h2: [i16; H] = layer(&self.w2, &self.p2, &self.b2, s2, &h1);
        out[..H].copy_from_slice(&h2);
    }

    #[inline(always)]
    fn logit(&self, h: &Hidden, node: usize, so: u32) -> i32 {
        ((dot(&self.wo[node], &h[..H]) + self.bo[node]) >> so).clamp(-2047, 2047)
    }
}

impl ImgNet {
    /// Loads an `img-mlp-v1` package, validating every tensor.
    ///
    /// Tensors, with `H` = 32 or 64 (the config's `hidden`): `w1` I8
    /// `[H, 48]`, `b1` I32 `[H]`, `w2` I8 `[H, H]`, `b2` I32 `[H]`, `wo` I8
    /// `[64, H]`, `bo` I32 `[64]` (biases within ±2^24); config keys
    /// `arch = "img-mlp-v1"`, `features = 48`, `hidden`, `nodes = 64`, and
    /// the shifts `s1`, `s2`, `so` in 0..=24.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] for anything malformed.
    pub fn load(bytes: &[u8]) -> Result<ImgNet, NnError> {
        let cfg = package_config(bytes)?;
        if cfg.get("arch").and_then(|a| a.as_str()) != Some(ARCH_IMG_MLP) {
            return Err(NnError::Package(format!("architecture is not {ARCH_IMG_MLP}")));
        }
        let num = |k: &str| cfg.get(k).and_then(serde_json::Value::as_u64);
        if num("features") != Some(FEATURES as u64) || num("nodes") != Some(NODES as u64) {
            return Err(NnError::Package("image network of another shape".into()));
        }
        let shift = |k: &str| {
            num(k)
                .filter(|&s| s <= 24)
                .map(|s| s as u32)
                .ok_or_else(|| NnError::Package(format!("config has no shift \"{k}\" in 0..=24")))
        };
        let st = SafeTensors::deserialize(bytes).map_err(|e| NnError::Package(e.to_string()))?;
        let layers = match num("hidden") {
            Some(32) => Layers::H32(Mlp::load(&st)?),
            Some(64) => Layers::H64(Mlp::load(&st)?),
            _ => return Err(NnError::Package("image network of another shape".into())),
        };
        Ok(ImgNet { layers, s1: shift("s1")?, s2: shift("s2")?, so: shift("so")? })
    }

    /// Units per hidden layer.
    pub fn hidden_units(&self) -> usize {
        match self.layers {
            Layers::H32(_) => 32,
            Layers::H64(_) => 64,
        }
    }

    /// The two hidden layers for features `x`:
    /// `h1 = clamp((W1·x + b1) >> s1, 0, 127)`, `h2 = clamp((W2·h1 + b2) >> s2, 0, 127)`.
    pub(crate) fn hidden(&self, x: &[i8; FEATURES]) -> Hidden {
        let x: [i16; FEATURES] = std::array::from_fn(|i| i16::from(x[i]));
        let mut out = [0; MAX_HIDDEN];
        match &self.layers {
            Layers::H32(m) => m.hidden(&x, self.s1, self.s2, &mut out),
            Layers::H64(m) => m.hidden(&x, self.s1, self.s2, &mut out),
        }
        out
    }

    /// The logit of decision `node` (1/256 units, within ±2047):
    /// `clamp((Wo[node]·h2 + bo[node]) >> so, −2047, 2047)`. Always inlined,
    /// so that it is compiled with the image model's loop ([`crate::isa`]).
    #[inline(always)]
    pub(crate) fn logit(&self, h: &Hidden, node: usize) -> i32 {
        let node = node.min(NODES - 1);
        match &self.layers {
            Layers::H32(m) => m.logit(h, node, self.so),
            Layers::H64(m) => m.logit(h, node, self.so),
        }
    }
}

/// `8·log2(1 + |v|)`, piecewise linear between powers of two, with the sign
/// of `v`, clamped to ±127: how every feature is brought to int8 (spec §7.12).
#[inline]
pub(crate) fn slog(v: i32) -> i8 {
    let a = v.unsigned_abs();
    let m = match SLOG.get(a as usize) {
        Some(&m) => m,
        None => slog_magnitude(a),
    };
    if v < 0 {
        -m
    } else {
        m
    }
}

/// The magnitude of [`slog`] for `|v| = a`.
const fn slog_magnitude(a: u32) -> i8 {
    let a = a.saturating_add(1);
    let b = 31 - a.leading_zeros();
    let f = if b >= 3 { (a >> (b - 3)) & 7 } else { (a << (3 - b)) & 7 };
    let m = 8 * b + f;
    if m > 127 {
        127
    } else {
        m as i8
    }
}

/// [`slog_magnitude`] of 0..4096 (most features fall there).
static SLOG: [i8; 4096] = {
    let mut t = [0i8; 4096];
    let mut i = 0;
    while i < t.len() {
        t[i] = slog_magnitude(i as u32);
        i += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;
    use safetensors::tensor::TensorView;
    use std::collections::HashMap;

    /// A package of random parameters (xorshift from `seed`) with `hidden`
    /// units per layer, with `cfg` overriding config entries.
    pub(crate) fn package(
        seed: u64,
        hidden: usize,
        shifts: [u64; 3],
        cfg: &[(&str, serde_json::Value)],
    ) -> Vec<u8> {
        let mut r = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = move || {
            r ^= r << 13;
            r ^= r >> 7;
            r ^= r << 17;
            r
        };
        let mut i8s = |n: usize| (0..n).map(|_| next() as u8).collect::<Vec<u8>>();
        let (w1, w2, wo) = (i8s(hidden * FEATURES), i8s(hidden * hidden), i8s(NODES * hidden));
        let mut i32s = |n: usize, range: i64| -> Vec<u8> {
            (0..n).flat_map(|_| ((next() as i64 % range) as i32).to_le_bytes()).collect()
        };
        let (b1, b2, bo) = (i32s(hidden, 1 << 20), i32s(hidden, 1 << 20), i32s(NODES, 1 << 24));
        let mut meta = serde_json::json!({
            "arch": ARCH_IMG_MLP, "name": "test", "features": FEATURES, "hidden": hidden, "nodes": NODES,
            "s1": shifts[0], "s2": shifts[1], "so": shifts[2],
        });
        for (k, v) in cfg {
            meta[*k] = v.clone();
        }
        let views = vec![
            ("w1", TensorView::new(Dtype::I8, vec![hidden, FEATURES], &w1).unwrap()),
            ("b1", TensorView::new(Dtype::I32, vec![hidden], &b1).unwrap()),
            ("w2", TensorView::new(Dtype::I8, vec![hidden, hidden], &w2).unwrap()),
            ("b2", TensorView::new(Dtype::I32, vec![hidden], &b2).unwrap()),
            ("wo", TensorView::new(Dtype::I8, vec![NODES, hidden], &wo).unwrap()),
            ("bo", TensorView::new(Dtype::I32, vec![NODES], &bo).unwrap()),
        ];
        let meta = HashMap::from([("nzip".to_owned(), meta.to_string())]);
        safetensors::serialize(views, Some(meta)).unwrap()
    }

    /// The network of spec §7.12 written the obvious way, in `i64`.
    fn reference<const H: usize>(m: &Mlp<H>, sh: [u32; 3], x: &[i8; FEATURES], node: usize) -> i32 {
        let layer = |w: &[i16], b: i32, s: u32, inp: &[i64]| -> i64 {
            let a: i64 = w.iter().zip(inp).map(|(&w, &v)| i64::from(w) * v).sum();
            (a + i64::from(b)) >> s
        };
        let x: Vec<i64> = x.iter().map(|&v| i64::from(v)).collect();
        let h1: Vec<i64> = (0..H).map(|j| layer(&m.w1[j], m.b1[j], sh[0], &x).clamp(0, 127)).collect();
        let h2: Vec<i64> = (0..H).map(|j| layer(&m.w2[j], m.b2[j], sh[1], &h1).clamp(0, 127)).collect();
        layer(&m.wo[node], m.bo[node], sh[2], &h2).clamp(-2047, 2047) as i32
    }

    #[test]
    fn network_matches_the_reference() {
        for hidden in [32, 64] {
            for (seed, shifts) in [(1, [0, 0, 0]), (2, [7, 9, 12]), (3, [12, 14, 10]), (4, [24, 24, 24])] {
                let n = ImgNet::load(&package(seed, hidden, shifts, &[])).unwrap();
                assert_eq!(n.hidden_units(), hidden);
                let sh = [n.s1, n.s2, n.so];
                let mut r = seed | 1;
                for _ in 0..50 {
                    let x: [i8; FEATURES] = std::array::from_fn(|_| {
                        r = r.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (r >> 56) as i8
                    });
                    let h = n.hidden(&x);
                    for node in 0..NODES {
                        let want = match &n.layers {
                            Layers::H32(m) => reference(m, sh, &x, node),
                            Layers::H64(m) => reference(m, sh, &x, node),
                        };
                        assert_eq!(n.logit(&h, node), want, "hidden {hidden} seed {seed} node {node}");
                    }
                }
            }
        }
    }

    /// The SSE2 and AVX2 layers of `m` equal the scalar reference.
    #[cfg(target_arch = "x86_64")]
    fn layers_agree<const H: usize>(m: &Mlp<H>, sh: [u32; 3], seed: u64) {
        let mut r = seed;
        for t in 0..200 {
            let mut v = || {
                r = r.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                // Extremes as well as typical values.
                match t % 3 {
                    0 => (r >> 56) as i8,
                    1 => [-128, 127][(r >> 63) as usize],
                    _ => (r >> 60) as i8,
                }
            };
            let x: [i16; FEATURES] = std::array::from_fn(|_| i16::from(v()));
            let h: [i16; H] = std::array::from_fn(|_| i16::from(v()).abs().min(127));
            let r1: [i16; H] = layer_scalar(&m.w1, &m.b1, sh[0], &x);
            let r2: [i16; H] = layer_scalar(&m.w2, &m.b2, sh[1], &h);
            assert_eq!(layer_sse2::<FEATURES, H>(&m.w1, &m.b1, sh[0], &x), r1);
            assert_eq!(layer_sse2::<H, H>(&m.w2, &m.b2, sh[1], &h), r2);
            if std::arch::is_x86_feature_detected!("avx2") {
                #[allow(unsafe_code)]
                // SAFETY: AVX2 is there (checked just above).
                let (a1, a2): ([i16; H], [i16; H]) =
                    unsafe { (layer_avx2(&m.p1, &m.b1, sh[0], &x), layer_avx2(&m.p2, &m.b2, sh[1], &h)) };
                assert_eq!((a1, a2), (r1, r2));
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_and_avx2_layers_equal_the_scalar_reference() {
        for hidden in [32, 64] {
            for (seed, shifts) in [(5, [0, 0, 0]), (6, [9, 11, 3]), (7, [24, 24, 24])] {
                let n = ImgNet::load(&package(seed, hidden, shifts, &[])).unwrap();
                let sh = [n.s1, n.s2, n.so];
                match &n.layers {
                    Layers::H32(m) => layers_agree(m, sh, seed),
                    Layers::H64(m) => layers_agree(m, sh, seed),
                }
            }
        }
    }

    #[test]
    fn malformed_packages_are_refused() {
        use serde_json::json;
        assert!(ImgNet::load(&package(1, 32, [1, 2, 3], &[])).is_ok());
        assert!(ImgNet::load(&package(1, 64, [1, 2, 3], &[])).is_ok());
        // A 48-unit package is well formed but not a width the format allows.
        assert!(ImgNet::load(&package(1, 48, [1, 2, 3], &[])).is_err());
        for cfg in [
            ("arch", json!("gru-lm-v1")),
            ("hidden", json!(64)),
            ("hidden", json!(16)),
            ("features", json!(47)),
            ("nodes", json!(65)),
            ("s1", json!(25)),
            ("so", json!(-1)),
        ] {
            assert!(ImgNet::load(&package(1, 32, [1, 2, 3], std::slice::from_ref(&cfg))).is_err(), "{cfg:?}");
        }
        assert!(ImgNet::load(b"not a package").is_err());
    }

    #[test]
    fn slog_is_monotone_and_odd() {
        let mut last = 0i8;
        for v in 0..70000 {
            let s = slog(v);
            assert_eq!(s, slog_magnitude(v as u32));
            assert!(s >= last);
            assert_eq!(slog(-v), -s);
            last = s;
        }
        assert_eq!((slog(0), slog(1), slog(7), slog(i32::MIN), slog(i32::MAX)), (0, 8, 24, -127, 127));
    }

    #[test]
    fn the_built_in_networks_load() {
        for (name, units) in
            [(crate::pipeline_image::IMAGE_NET, 32), (crate::pipeline_image::IMAGE_NET_WIDE, 64)]
        {
            let b = crate::nn::package::find_by_name(name).unwrap();
            assert_eq!(b.img_net().unwrap().hidden_units(), units);
        }
    }
}
