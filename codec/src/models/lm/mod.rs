//! # Neural byte language model (`lm`)
//!
//! A learned prior over bytes: a shipped, integer-exact GRU language model
//! ([`crate::nn::gru::GruLm`]) gives a distribution over the next byte, turned
//! into a CDF by the softmax-to-CDF step ([`crate::nn::lut::logits_to_cdf`],
//! precision [`PRECISION`]) and coded with the range coder.
//!
//! ## Lanes
//!
//! A chunk of `n` bytes is cut into `L = lanes(n)` contiguous lanes (spec/MODELS.md
//! §6): `L = clamp(ceil(n / 65536), 1, 64)`; lane `i` holds `floor(n / L)` bytes, plus one
//! for `i < n mod L`, in order. Every lane starts from the zero state, and the
//! lanes advance together, so that each step of the model is one batched matrix
//! product over all lanes (the GPU and SIMD friendly shape). The symbols are
//! coded step by step: step `t` codes byte `t` of lane 0, then of lane 1, ...,
//! of every lane longer than `t`. The lane count depends only on `n`, never on
//! threads or the device. The cost: each lane starts cold (a few hundred bytes
//! at a few bits more each), which is why lanes are at least 64 KiB long.

use crate::entropy::{EntropyError, RangeDecoder, RangeEncoder};
use crate::nn::gru::GruLm;
use crate::nn::lut::logits_to_cdf;
use crate::nn::{Backend, NnError};

/// CDF precision of the method.
pub const PRECISION: usize = 24;
/// Bytes per lane below which no further lane is added.
pub const LANE_BYTES: usize = 1 << 16;
/// Most lanes per chunk.
pub const MAX_LANES: usize = 64;

/// Errors of the method.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LmError {
    /// The engine failed.
    #[error(transparent)]
    Nn(#[from] NnError),
    /// The coder failed (a corrupt stream, or an invalid model).
    #[error(transparent)]
    Entropy(#[from] EntropyError),
}

/// The number of lanes for a chunk of `n` bytes.
pub fn lanes(n: usize) -> usize {
    n.div_ceil(LANE_BYTES).clamp(1, MAX_LANES)
}

/// `(start, len)` of every lane of an `n`-byte chunk.
fn lane_bounds(n: usize) -> Vec<(usize, usize)> {
    let l = lanes(n);
    let (base, extra) = (n / l, n % l);
    let mut start = 0;
    (0..l)
        .map(|i| {
            let len = base + usize::from(i < extra);
            let b = (start, len);
            start += len;
            b
        })
        .collect()
}

/// Runs the model over `n` positions; `code(lane, position_in_chunk, cdf)`
/// codes one symbol and returns it. Encoder and decoder share this schedule.
fn run<F>(model: &GruLm, backend: &Backend, n: usize, mut code: F) -> Result<(), LmError>
where
    F: FnMut(usize, crate::entropy::CdfRef<'_, PRECISION>) -> Result<u8, LmError>,
{
    if n == 0 {
        return Ok(());
    }
    if model.vocab() != 256 {
        return Err(NnError::Package("a byte model needs a vocabulary of 256".into()).into());
    }
    let bounds = lane_bounds(n);
    let steps = bounds[0].1;
    let mut state = model.start(backend, bounds.len())?;
    let mut logits = [0i32; 256];
    let mut weights = [0u32; 256];
    let mut cdf = [0u32; 257];
    let mut symbols = Vec::with_capacity(bounds.len());
    for t in 0..steps {
        symbols.clear();
        for (lane, &(start, len)) in bounds.iter().enumerate() {
            if t >= len {
                break; // longer lanes come first
            }
            model.logits(&state, lane, &mut logits);
            let c = logits_to_cdf::<PRECISION>(&logits, &mut weights, &mut cdf)?;
            symbols.push(u32::from(code(start + t, c)?));
        }
        if t + 1 < steps {
            model.step(backend, &mut state, &symbols)?;
        }
    }
    Ok(())
}

/// Codes `data` with `model`; the result decodes with [`decode`].
///
/// # Errors
///
/// [`LmError`] if the model is not a byte model or the backend fails.
pub fn encode(data: &[u8], model: &GruLm, backend: &Backend) -> Result<Vec<u8>, LmError> {
    let mut enc = RangeEncoder::new();
    run(model, backend, data.len(), |pos, cdf| {
        let b = data[pos];
        enc.encode(usize::from(b), cdf)?;
        Ok(b)
    })?;
    Ok(enc.finish())
}

/// Decodes `n` bytes coded by [`encode`] with the same model.
///
/// # Errors
///
/// [`LmError`] for a stream that does not decode (the container's checksums
/// catch the rest) or a failing backend.
pub fn decode(coded: &[u8], n: usize, model: &GruLm, backend: &Backend) -> Result<Vec<u8>, LmError> {
    let mut dec = RangeDecoder::new(coded)?;
    let mut out = vec![0u8; n];
    run(model, backend, n, |pos, cdf| {
        let s = dec.decode(cdf)?;
        let b = u8::try_from(s).map_err(|_| EntropyError::InvalidModel("symbol out of range"))?;
        out[pos] = b;
        Ok(b)
    })?;
    Ok(out)
}

/// The model's ideal code length for `data`, in bits (the sum of
/// `-log2(frequency / 2^24)`), without coding: for measurement and tests.
///
/// # Errors
///
/// As [`encode`].
pub fn cross_entropy_bits(data: &[u8], model: &GruLm, backend: &Backend) -> Result<f64, LmError> {
    let mut bits = 0.0;
    run(model, backend, data.len(), |pos, cdf| {
        let b = data[pos];
        let f = cdf.frequency(usize::from(b)).unwrap_or(1);
        bits += PRECISION as f64 - f64::from(f).log2();
        Ok(b)
    })?;
    Ok(bits)
}

#[cfg(test)]
mod tests;
