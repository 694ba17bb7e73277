//! The integer logistic mixer: a gated linear network in the logit domain.
//!
//! Inputs are logits in 1/256 nat within ±2047. A first layer
//! has `k` weight selectors; selector `j` picks one of its weight sets by a
//! small context and computes
//! `logit_j = clamp(Σ_i ((x_i · w_ji) >> 8) >> 8, ±2047)` (weights are 16.16
//! fixed point, so this is Σ x·w with the products truncated to 1/256 first).
//! When `k > 1`, a final layer mixes the `k` logits the same way with a weight
//! set chosen by its own context. Every layer is trained online to reduce
//! coding cost: `w += (x · e + 2^15) >> 16` with `e = ((y·65535 − p) · lr) >> 4`
//! and `p = squash(logit)` its own output.

use super::tables::squash;

/// Largest magnitude of an input or output logit.
const X_LIMIT: i32 = 2047;

/// The first layer's learning rate starts at `LR_START` and falls by one every
/// `2^LR_STEP_SHIFT` updates until it reaches the mixer's base rate: fast
/// learning while the model is new, steadier weights later.
const LR_START: i32 = 31;
const LR_STEP_SHIFT: u32 = 14;

/// Most inputs a mixer can take.
pub const MAX_INPUTS: usize = 32;

/// Weights are kept within ±`W_LIMIT` (just under ±8.0 in 16.16 fixed point).
const W_LIMIT: i32 = (1 << 19) - 1;

/// One layer of weight sets over the same inputs.
#[derive(Debug, Clone)]
struct Layer {
    /// Inputs per weight set (the stride of `w`).
    n: usize,
    /// `sets × n` weights, 16.16 fixed point.
    w: Vec<i32>,
    /// Number of weight sets − 1 (the count is a power of two).
    mask: usize,
    /// Offset of the selected set in `w`.
    sel: usize,
    /// The last output, as P(1) in 1/65536.
    p: u32,
}

impl Layer {
    fn new(n: usize, sets: usize, init: i32) -> Self {
        let sets = sets.max(1).next_power_of_two();
        Layer { n, w: vec![init; n * sets], mask: sets - 1, sel: 0, p: 32768 }
    }

    /// Select weight set `cx` (bits above the number of sets are ignored).
    #[inline]
    fn select(&mut self, cx: usize) {
        self.sel = (cx & self.mask) * self.n;
    }

    /// The selected weight set.
    #[inline]
    fn weights(&self) -> &[i32] {
        &self.w[self.sel..self.sel + self.n]
    }

    #[inline]
    fn weights_mut(&mut self) -> &mut [i32] {
        &mut self.w[self.sel..self.sel + self.n]
    }

    /// The layer's output logit from the sum `s` of [`dot`] over its inputs
    /// (at most `n` are used); keeps its probability for training.
    #[inline]
    fn output(&mut self, s: i32) -> i32 {
        let logit = (s >> 8).clamp(-X_LIMIT, X_LIMIT);
        self.p = squash(logit);
        logit
    }

    /// The step `e` of [`train`] for bit `y` at learning rate `lr`.
    #[inline]
    fn error(&self, y: u32, lr: i32) -> i32 {
        // err in ±65535 and lr <= 31, so |e| < 2^17.
        let err = ((y as i32) << 16) - y as i32 - self.p as i32;
        (err * lr) >> 4
    }
}

/// `Σ_i ((x_i · w_i) >> 8)` over the shorter of `x` and `w`, in wrapping
/// `i32` arithmetic. Within the mixer's contract (|x| <= 2047 < 2^11, |w| <
/// 2^19) each product is below 2^30, each term below 2^22, and at most 32
/// terms sum below 2^27; the wrapping only matters if a caller breaks it (the
/// result is then wrong but still deterministic). Integer sums in any order
/// are the same, so the vectorised code that compilers make of this loop
/// gives the same value on every processor.
#[inline]
fn dot(x: &[i32], w: &[i32]) -> i32 {
    let mut s: i32 = 0;
    for (&a, &b) in x.iter().zip(w) {
        s = s.wrapping_add(a.wrapping_mul(b) >> 8);
    }
    s
}

/// `w_i = clamp(w_i + ((x_i · e + 2^15) >> 16), ±W_LIMIT)` over the shorter
/// of `w` and `x`, in wrapping `i32` arithmetic. Within the contract (|x| <
/// 2^11, |e| < 2^17, |w| < 2^19) nothing wraps.
#[inline]
fn train(w: &mut [i32], x: &[i32], e: i32) {
    for (wi, &xi) in w.iter_mut().zip(x) {
        let d = xi.wrapping_mul(e).wrapping_add(1 << 15) >> 16;
        *wi = wi.wrapping_add(d).clamp(-W_LIMIT, W_LIMIT);
    }
}

/// A one- or two-layer mixer with a fixed number of inputs per bit: write the
/// inputs into [`Mixer::inputs_mut`], call [`Mixer::mix`], then
/// [`Mixer::update`] with the bit.
#[derive(Debug, Clone)]
pub struct Mixer {
    /// The inputs of the current bit (`n` of them).
    x: Vec<i32>,
    layer1: Vec<Layer>,
    /// Logits of the first layer (inputs of the final layer).
    h: Vec<i32>,
    fin: Option<Layer>,
    /// Base learning rate of the first layer.
    lr: i32,
    lr_final: i32,
    /// Number of updates so far (saturating).
    t: u32,
    /// Whether to run the AVX2 code ([`crate::isa`]).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    avx2: bool,
}

impl Mixer {
    /// A mixer of `n` inputs (1..=[`MAX_INPUTS`]) with one first-layer
    /// selector per entry of `sets` (the number of weight sets of each,
    /// rounded up to a power of two), and, when there is more than one
    /// selector, a final layer with `final_sets` weight sets. `lr` is the
    /// learning rate of the first layer, `lr_final` that of the final layer
    /// (both clamped to 1..=31). First-layer weights start at 0.3, final-layer
    /// weights at 1/k.
    pub fn new(n: usize, sets: &[usize], final_sets: usize, lr: i32, lr_final: i32) -> Self {
        let n = n.clamp(1, MAX_INPUTS);
        let k = sets.len().max(1);
        let init = 65536 * 3 / 10;
        let layer1: Vec<Layer> =
            (0..k).map(|j| Layer::new(n, sets.get(j).copied().unwrap_or(1), init)).collect();
        let fin = (k > 1).then(|| Layer::new(k, final_sets, 65536 / k as i32));
        Mixer {
            x: vec![0; n],
            layer1,
            h: vec![0; k],
            fin,
            lr: lr.clamp(1, 31),
            lr_final: lr_final.clamp(1, 31),
            t: 0,
            avx2: crate::isa::avx2(),
        }
    }

    /// Bytes of memory used by the weights of such a mixer.
    pub fn memory(n: usize, sets: &[usize], final_sets: usize) -> usize {
        let n = n.clamp(1, MAX_INPUTS);
        let l1: usize = sets.iter().map(|&s| s.max(1).next_power_of_two() * n).sum();
        4 * (l1 + final_sets.max(1).next_power_of_two() * sets.len())
    }

    /// Every weight, first layer (selector by selector) then final layer: the
    /// learned state that a prior stores.
    pub fn weights(&self) -> Vec<i32> {
        self.layer1.iter().chain(self.fin.iter()).flat_map(|l| l.w.iter().copied()).collect()
    }

    /// Sets every weight from [`Mixer::weights`] of a mixer of the same shape
    /// and restarts the learning-rate schedule (as for a fresh mixer). Returns
    /// false, changing nothing, if the count differs or a weight is beyond the
    /// weight limit.
    pub fn set_weights(&mut self, w: &[i32]) -> bool {
        let total: usize = self.layer1.iter().chain(self.fin.iter()).map(|l| l.w.len()).sum();
        if w.len() != total || w.iter().any(|v| v.abs() > W_LIMIT) {
            return false;
        }
        let mut rest = w;
        for l in self.layer1.iter_mut().chain(self.fin.iter_mut()) {
            let (a, b) = rest.split_at(l.w.len());
            l.w.copy_from_slice(a);
            rest = b;
        }
        self.restart();
        true
    }

    /// Restarts the learning-rate schedule, as for a fresh mixer.
    pub fn restart(&mut self) {
        self.t = 0;
    }

    /// The inputs of the next bit, to be filled by the caller: logits in
    /// 1/256 nat that must lie within ±2047 (larger values give meaningless,
    /// though still deterministic, outputs). They keep their values until
    /// overwritten.
    #[inline]
    pub fn inputs_mut(&mut self) -> &mut [i32] {
        &mut self.x
    }

    /// Choose the weight set of first-layer selector `j`.
    #[inline]
    pub fn select(&mut self, j: usize, cx: usize) {
        if let Some(l) = self.layer1.get_mut(j) {
            l.select(cx);
        }
    }

    /// Choose the weight set of the final layer.
    #[inline]
    pub fn select_final(&mut self, cx: usize) {
        if let Some(f) = self.fin.as_mut() {
            f.select(cx);
        }
    }

    /// Mix the inputs; returns the output logit (within ±2047).
    #[inline]
    pub fn mix(&mut self) -> i32 {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            #[allow(unsafe_code)]
            // SAFETY: `avx2` is only set where the processor supports AVX2
            // (`isa::avx2`), the only requirement of `mix_avx2`.
            return unsafe { self.mix_avx2() };
        }
        self.mix_portable()
    }

    /// [`Mixer::mix`] compiled for any processor: the reference.
    #[inline(always)]
    fn mix_portable(&mut self) -> i32 {
        for (l, h) in self.layer1.iter_mut().zip(self.h.iter_mut()) {
            *h = l.output(dot(&self.x, l.weights()));
        }
        match self.fin.as_mut() {
            Some(f) => f.output(dot(&self.h, f.weights())),
            None => self.h[0],
        }
    }

    /// The same code compiled with AVX2 (eight products per instruction):
    /// integer operations, so the same values.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn mix_avx2(&mut self) -> i32 {
        self.mix_portable()
    }

    /// Train on bit `y`, the outcome of the last [`Mixer::mix`].
    #[inline]
    pub fn update(&mut self, y: u32) {
        #[cfg(target_arch = "x86_64")]
        if self.avx2 {
            #[allow(unsafe_code)]
            // SAFETY: `avx2` is only set where the processor supports AVX2
            // (`isa::avx2`), the only requirement of `update_avx2`.
            return unsafe { self.update_avx2(y) };
        }
        self.update_portable(y)
    }

    /// [`Mixer::update`] compiled for any processor: the reference.
    #[inline(always)]
    fn update_portable(&mut self, y: u32) {
        // t < 2^32, so t >> 14 < 2^18 fits i32; lr stays in lr..=31.
        self.t = self.t.saturating_add(1);
        let lr = (LR_START - (self.t >> LR_STEP_SHIFT) as i32).max(self.lr);
        for l in &mut self.layer1 {
            let e = l.error(y, lr);
            train(l.weights_mut(), &self.x, e);
        }
        if let Some(f) = self.fin.as_mut() {
            let e = f.error(y, self.lr_final);
            train(f.weights_mut(), &self.h, e);
        }
    }

    /// The same code compiled with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn update_avx2(&mut self, y: u32) {
        self.update_portable(y)
    }
}
