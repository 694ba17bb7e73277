//! # Context mixing with a language model (`cmlm`, spec/MODELS.md §8)
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

use std::sync::Arc;

use super::cm::adaptive::Apm;
use super::cm::mixer::Mixer;
use super::cm::tables::{squash, stretch};
use super::cm::{BitModel, Model};
use super::lm::PRECISION;
use crate::nn::gru::{GruLm, GruState};
use crate::nn::lut::logits_to_cdf;
use crate::nn::{Backend, NnError};

/// Inputs of the final mixer: the context model, the language model, a bias.
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
    /// The first error of the language model's engine, if any (the chunk then fails).
    error: Option<NnError>,
}

impl CmLm {
    /// The model of a chunk: `cm` is the chunk's starting `cm2` model, `lm` a
    /// byte language model (vocabulary 256).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] if `lm` is not a byte model; errors of the backend.
    pub fn new(cm: Model, lm: Arc<GruLm>, backend: Backend) -> Result<Self, NnError> {
        if lm.vocab() != 256 {
            return Err(NnError::Package("cmlm needs a byte language model (vocabulary 256)".into()));
        }
        let state = lm.start(&backend, 1)?;
        let mut mixer = Mixer::new(INPUTS, &[SETS], 1, MIXER_LR, MIXER_LR);
        let w: Vec<i32> = (0..INPUTS * SETS).map(|i| if i % INPUTS == 0 { 1 << 16 } else { 0 }).collect();
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
            error: None,
        };
        m.byte_distribution();
        Ok(m)
    }

    /// The language model's CDF for the next byte, from its current state.
    fn byte_distribution(&mut self) {
        self.lm.logits(&self.state, 0, &mut self.logits);
        if let Err(e) = logits_to_cdf::<PRECISION>(&self.logits, &mut self.weights, &mut self.cdf) {
            // Cannot happen with 256 logits and buffers of 256 and 257.
            self.error.get_or_insert(NnError::Shape(e.to_string()));
        }
    }

    /// The first engine error met while coding, if any: the chunk's coding is
    /// then void.
    pub fn take_error(&mut self) -> Option<NnError> {
        self.error.take()
    }

    /// The language model's P(next bit = 1) in 1/4096, in `1..=4095`, for
    /// the partial byte `c0` of `k` known bits.
    #[inline]
    fn lm_p12(&self, c0: u32, k: u32) -> u32 {
        let width = 1usize << (8 - k);
        let lo = ((c0 - (1 << k)) as usize) << (8 - k);
        let mid = lo + width / 2;
        // The CDF is non-decreasing with every frequency at least 1, so both
        // masses are positive and below 2^24.
        let n0 = u64::from(self.cdf[mid].wrapping_sub(self.cdf[lo]));
        let n1 = u64::from(self.cdf[lo + width].wrapping_sub(self.cdf[mid]));
        let total = (n0 + n1).max(1);
        (((n1 << 12) + total / 2) / total).clamp(1, 4095) as u32
    }
}

impl BitModel for CmLm {
    #[inline]
    fn p(&mut self) -> u16 {
        let (c0, k) = self.cm.partial_byte();
        let xc = stretch(u32::from(self.cm.p()) >> 4);
        let xl = stretch(self.lm_p12(c0, k));
        let x = self.mixer.inputs_mut();
        x[0] = xc;
        x[1] = xl;
        x[2] = 256;
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
            if let Err(e) = self.lm.step(&self.backend, &mut self.state, &[c]) {
                self.error.get_or_insert(e);
            }
            self.byte_distribution();
        }
    }
}

#[cfg(test)]
mod tests;
