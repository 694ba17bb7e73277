//! # Context mixing with a language model (`cmlm` and `cmlm2`, spec/MODELS.md §8)
//!
//! The `cm2` model (with its prior, if the frame names one) and a learned byte
//! language model ([`GruLm`], one lane from the zero state per chunk) predict
//! every bit; a small integer mixer, whose weight set is chosen by the bit's
//! position in its byte, combines their stretched probabilities, and an APM by the previous
//! byte and the partial byte refines the result. The mixer starts with all its
//! weight on the context model, so the language model only enters as fast as
//! it proves itself: a file unlike the LM's training data costs little more
//! than `cm2` alone.
//!
//! The language model's distribution over the next byte (the CDF of
//! spec/MODELS.md §4.3 at precision 24) gives the probability of each bit as
//! the mass of the bytes that continue the partial byte with a 1 over the mass
//! of all that continue it: integer division, then the `cm` stretch table.
//!
//! `cmlm2` (spec/MODELS.md §8.1) adds an [`OutputAdapter`]: a linear
//! correction of the language model's logits from its hidden state, learned
//! by integer gradient steps on every coded byte, so that the model adapts to
//! the file in hand.

use std::sync::Arc;

use super::cm::adaptive::Apm;
use super::cm::mixer::Mixer;
use super::cm::tables::{squash, stretch};
use super::cm::{BitModel, Model};
use super::lm::PRECISION;
use crate::nn::gru::{GruLm, GruState};
use crate::nn::lut::logits_to_cdf;
use crate::nn::{Backend, NnError};

/// Inputs of the final mixer: the context model, the language model, a bias
/// (and, for `cmlm2`, the adapted language model).
const INPUTS: usize = 3;
/// Weight sets of the final mixer: one per bit position.
const SETS: usize = 8;
/// The final mixer's lowest learning rate (the `cm` mixer's schedule, §3.6.1).
const MIXER_LR: i32 = 2;
/// The APM's rate: 1/2^7.
const APM_RATE: u32 = 7;

/// The `cmlm` model of one chunk.
#[derive(Debug)]
pub struct CmLm {
    cm: Model,
    lm: Arc<GruLm>,
    backend: Backend,
    state: GruState,
    logits: Vec<i32>,
    weights: Vec<u32>,
    cdf: Vec<u32>,
    mixer: Mixer,
    apm: Apm,
    /// The online correction of the language model's output layer, if used.
    adapt: Option<OutputAdapter>,
    /// The first error of the language model's engine, if any (the chunk then fails).
    error: Option<NnError>,
}

impl CmLm {
    /// The model of a chunk: `cm` is the chunk's starting `cm2` model, `lm` a
    /// byte language model (vocabulary 256); with `adapt`, the language
    /// model adapts as it codes (`cmlm2`, spec/MODELS.md §8.1), else `cmlm`.
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if `lm` is not a byte model; errors of the backend.
    pub fn new(cm: Model, lm: Arc<GruLm>, backend: Backend, adapt: bool) -> Result<Self, NnError> {
        if lm.vocab() != 256 {
            return Err(NnError::Package("cmlm needs a byte language model (vocabulary 256)".into()));
        }
        let state = lm.start(&backend, 1)?;
        let inputs = INPUTS + usize::from(adapt);
        let adapt = adapt.then(|| OutputAdapter::new(lm.hidden()));
        let mut mixer = Mixer::new(inputs, &[SETS], 1, MIXER_LR, MIXER_LR);
        let w: Vec<i32> = (0..inputs * SETS).map(|i| if i % inputs == 0 { 1 << 16 } else { 0 }).collect();
        // Same length, every weight within the limit: cannot fail.
        let ok = mixer.set_weights(&w);
        debug_assert!(ok);
        let mut m = CmLm {
            cm,
            lm,
            backend,
            state,
            logits: vec![0; 256],
            weights: vec![0; 256],
            cdf: vec![0; 257],
            mixer,
            apm: Apm::new(1 << 16, APM_RATE),
            adapt,
            error: None,
        };
        m.byte_distribution();
        Ok(m)
    }

    /// The language model's CDF for the next byte, from its current state.
    fn byte_distribution(&mut self) {
        self.lm.logits(&self.state, 0, &mut self.logits);
        let mut done = logits_to_cdf::<PRECISION>(&self.logits, &mut self.weights, &mut self.cdf);
        if let Some(a) = &mut self.adapt {
            a.logits.copy_from_slice(&self.logits);
            correct(&a.b, a.hidden, &self.state.hidden8()[..a.hidden], &mut a.logits);
            done = done.and(logits_to_cdf::<PRECISION>(&a.logits, &mut self.weights, &mut a.cdf));
        }
        if let Err(e) = done {
            // Cannot happen with 256 logits and buffers of 256 and 257.
            self.error.get_or_insert(NnError::Shape(e.to_string()));
        }
    }

    /// The first engine error met while coding, if any: the chunk's coding is
    /// then void.
    pub fn take_error(&mut self) -> Option<NnError> {
        self.error.take()
    }

    /// P(next bit = 1) in 1/4096, in `1..=4095`, under the byte distribution
    /// `cdf` (precision 24), for the partial byte `c0` of `k` known bits.
    #[inline]
    fn bit_p12(cdf: &[u32], c0: u32, k: u32) -> u32 {
        let width = 1usize << (8 - k);
        let lo = ((c0 - (1 << k)) as usize) << (8 - k);
        let mid = lo + width / 2;
        // The CDF is non-decreasing with every frequency at least 1, so both
        // masses are positive and below 2^24.
        let n0 = u64::from(cdf[mid].wrapping_sub(cdf[lo]));
        let n1 = u64::from(cdf[lo + width].wrapping_sub(cdf[mid]));
        let total = (n0 + n1).max(1);
        (((n1 << 12) + total / 2) / total).clamp(1, 4095) as u32
    }
}

impl BitModel for CmLm {
    #[inline]
    fn p(&mut self) -> u16 {
        let (c0, k) = self.cm.partial_byte();
        let xc = stretch(u32::from(self.cm.p()) >> 4);
        let xl = stretch(Self::bit_p12(&self.cdf, c0, k));
        let xa = self.adapt.as_ref().map(|a| stretch(Self::bit_p12(&a.cdf, c0, k)));
        let x = self.mixer.inputs_mut();
        x[0] = xc;
        x[1] = xl;
        x[2] = 256;
        if let Some(xa) = xa {
            x[3] = xa;
        }
        self.mixer.select(0, k as usize);
        let logit = self.mixer.mix();
        let p0 = squash(logit);
        let p1 = self.apm.p(logit, (u32::from(self.cm.last_byte()) << 8 | c0) as usize);
        ((p0 + 3 * p1) >> 2).clamp(1, 65535) as u16
    }

    #[inline]
    fn update(&mut self, bit: bool) {
        let y = u32::from(bit);
        self.cm.update(bit);
        self.mixer.update(y);
        self.apm.update(y);
        if self.cm.partial_byte().1 == 0 {
            // The byte is complete: the language model reads it.
            let c = u32::from(self.cm.last_byte());
            if let Some(a) = &mut self.adapt {
                a.learn(&self.state.hidden8()[..a.hidden], c as usize);
            }
            if let Err(e) = self.lm.step(&self.backend, &mut self.state, &[c]) {
                self.error.get_or_insert(e);
            }
            self.byte_distribution();
        }
    }
}

/// An online linear correction of a byte language model's logits from its
/// hidden state `h8` (spec/MODELS.md §8.1, "dynamic evaluation" of the output
/// layer): `logit[s] += (Σ_k b[s][k]·h8[k]) >> 12` with `b = a >> 8`, and
/// after every byte one step of integer gradient descent on the byte's code
/// length under the corrected distribution moves `a`.
#[derive(Debug, Clone)]
struct OutputAdapter {
    hidden: usize,
    /// `[256][hidden]`, the learned weights, within ±`ADAPT_LIMIT`.
    a: Vec<i32>,
    /// `a >> 8`, what the correction reads (`i16`, so that its products sum
    /// exactly in `i32`).
    b: Vec<i16>,
    /// The corrected logits and their CDF (precision 24) for the next byte.
    logits: Vec<i32>,
    cdf: Vec<u32>,
}

/// The learning rate: a step is about `16·e·h8 / 2^20` (`e` in 1/2^24).
const ADAPT_RATE: i64 = 16;
/// Every weight stays within ±(2^23 − 1), so `a >> 8` fits an `i16`.
const ADAPT_LIMIT: i32 = (1 << 23) - 1;

impl OutputAdapter {
    fn new(hidden: usize) -> Self {
        OutputAdapter {
            hidden,
            a: vec![0; 256 * hidden],
            b: vec![0; 256 * hidden],
            logits: vec![0; 256],
            cdf: vec![0; 257],
        }
    }

    /// One step after byte `x` was coded, from the hidden state `h8` and the
    /// corrected CDF that predicted it: with `e_s = freq_s − [s = x]·2^24`
    /// and `g_s = (16·e_s) >> 8`,
    /// `a[s][k] = clamp(a[s][k] − ((g_s·h8[k] + 2^11) >> 12), ±(2^23 − 1))` and
    /// `b[s][k] = a[s][k] >> 8`, for the rows with `|g_s| >= 256` (bytes the
    /// corrected model gave at least about 1/4100, and the coded byte).
    fn learn(&mut self, h8: &[i8], x: usize) {
        learn(&mut self.a, &mut self.b, self.hidden, h8, &self.cdf, x);
    }
}

/// `logits[s] += (Σ_k b[s][k]·h8[k]) >> 12` for the 256 rows of `b`
/// (`hidden` wide): the AVX2 build of [`correct_rows`] where the processor
/// has it (the same integer operations, so the same result).
fn correct(b: &[i16], hidden: usize, h8: &[i8], logits: &mut [i32]) {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::avx2() {
        #[allow(unsafe_code)]
        // SAFETY: the processor has AVX2 (`isa::avx2` checked it), the only
        // requirement of `correct_avx2`.
        return unsafe { correct_avx2(b, hidden, h8, logits) };
    }
    correct_rows(b, hidden, h8, logits);
}

/// The step of [`OutputAdapter::learn`]: the AVX2 build of [`learn_rows`]
/// where the processor has it (the same result).
fn learn(a: &mut [i32], b: &mut [i16], hidden: usize, h8: &[i8], cdf: &[u32], x: usize) {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::avx2() {
        #[allow(unsafe_code)]
        // SAFETY: the processor has AVX2 (`isa::avx2` checked it), the only
        // requirement of `learn_avx2`.
        return unsafe { learn_avx2(a, b, hidden, h8, cdf, x) };
    }
    learn_rows(a, b, hidden, h8, cdf, x);
}

/// The correction of [`correct`], portable: for each of the 256 rows of `b`
/// (`hidden` wide), `logit += (Σ_k b[k]·h8[k]) >> 12`.
#[inline(always)]
fn correct_rows(b: &[i16], hidden: usize, h8: &[i8], logits: &mut [i32]) {
    for (l, row) in logits.iter_mut().zip(b.chunks_exact(hidden)) {
        // |b·h8| <= 2^22: blocks of 256 terms sum exactly in i32, in 16
        // independent lanes (a shape compilers turn into multiply-adds).
        let mut acc = 0i64;
        for (w, h) in row.chunks(256).zip(h8.chunks(256)) {
            let mut lanes = [0i32; 16];
            let mut wc = w.chunks_exact(16);
            let mut hc = h.chunks_exact(16);
            for (w, h) in (&mut wc).zip(&mut hc) {
                for l in 0..16 {
                    lanes[l] += i32::from(w[l]) * i32::from(h[l]);
                }
            }
            let mut sum: i32 = lanes.iter().sum();
            for (&w, &h) in wc.remainder().iter().zip(hc.remainder()) {
                sum += i32::from(w) * i32::from(h);
            }
            acc += i64::from(sum);
        }
        *l = l.saturating_add((acc >> 12) as i32);
    }
}

/// [`correct_rows`] compiled for AVX2 (the same integer operations, so the
/// same result).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn correct_avx2(b: &[i16], hidden: usize, h8: &[i8], logits: &mut [i32]) {
    correct_rows(b, hidden, h8, logits);
}

/// The step of [`OutputAdapter::learn`], portable.
#[inline(always)]
fn learn_rows(a: &mut [i32], b: &mut [i16], hidden: usize, h8: &[i8], cdf: &[u32], x: usize) {
    let rows = a.chunks_exact_mut(hidden).zip(b.chunks_exact_mut(hidden));
    for (s, (ra, rb)) in rows.enumerate() {
        let f = i64::from(cdf[s + 1].wrapping_sub(cdf[s]));
        let e = if s == x { f - (1 << PRECISION) } else { f };
        // |g| <= 16·2^16: g·h8 fits i32.
        let g = ((ADAPT_RATE * e) >> 8) as i32;
        if g.abs() < 256 {
            continue;
        }
        for ((w, v), &h) in ra.iter_mut().zip(rb.iter_mut()).zip(h8) {
            let step = (g * i32::from(h) + (1 << 11)) >> 12;
            *w = (*w - step).clamp(-ADAPT_LIMIT, ADAPT_LIMIT);
            *v = (*w >> 8) as i16;
        }
    }
}

/// [`learn_rows`] compiled for AVX2 (the same integer operations, so the
/// same result).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn learn_avx2(a: &mut [i32], b: &mut [i16], hidden: usize, h8: &[i8], cdf: &[u32], x: usize) {
    learn_rows(a, b, hidden, h8, cdf, x);
}

#[cfg(test)]
mod tests;
