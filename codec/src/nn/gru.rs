//! An integer GRU language model over a small alphabet (bytes), stepping many
//! independent streams ("lanes") at once so that its one matrix product per
//! step is a batched int8 GEMM (spec/MODELS.md §4.4).
//!
//! Per lane, with `h` in Q15 (`h / 32768` in (-1, 1)) and `x` the symbol just
//! coded:
//!
//! ```text
//! h8      = sat_i8(round(h / 2^8))                       int8, Q7
//! a       = W h8                                         i32, W = [U (3H rows); V (vocab rows)]
//! q_i     = requant_i(a_i)                               Q8, per-row multiplier and shift
//! logits  = q[3H..] + b_out                              Q8 log2 units -> softmax-to-CDF
//! r       = sigma(gx[x][0..H]   + q[0..H])               Q15
//! z       = sigma(gx[x][H..2H]  + q[H..2H])              Q15
//! n       = tanh2(gx[x][2H..3H] + round(r * (q[2H..3H] + b_hn) / 2^15))    Q15
//! h'      = n + round(z * (h - n) / 2^15)                Q15
//! ```
//!
//! `round(v / 2^s)` is `(v + 2^(s-1)) >> s` (ties up); `gx` is the input
//! projection with its biases folded in (Q8, one row per symbol). Every
//! operation is on integers, so the result is the same on every backend.

use super::fixed::{round_shift, sat_i8, Requant};
use super::kernels::{Backend, QMatrix};
use super::lut::{sigma_q15, tanh_q15};
use super::NnError;

/// Largest hidden size (the candle path needs depth <= 1024).
pub const MAX_HIDDEN: usize = super::kernels::MAX_EXACT_DEPTH;
/// Largest alphabet.
pub const MAX_VOCAB: usize = 1 << 16;

/// The integer parameters of a GRU language model.
#[derive(Debug, Clone)]
pub struct GruLm {
    vocab: usize,
    hidden: usize,
    /// `[vocab][3H]`, Q8.
    gx: Vec<i32>,
    /// `[3H + vocab][H]` int8.
    w: QMatrix,
    /// One per row of `w`.
    requant: Vec<Requant>,
    /// `[H]`, Q8.
    b_hn: Vec<i32>,
    /// `[vocab]`, Q8.
    b_out: Vec<i32>,
}

/// The recurrent state of a batch of lanes.
#[derive(Debug, Clone)]
pub struct GruState {
    lanes: usize,
    /// `[lanes][H]`, Q15.
    h: Vec<i32>,
    h8: Vec<i8>,
    /// `[lanes][3H + vocab]`: the requantised product of the current step.
    q: Vec<i32>,
    acc: Vec<i32>,
}

impl GruState {
    /// The number of lanes.
    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// The hidden state of every lane, Q15, `[lanes][H]`.
    pub fn hidden(&self) -> &[i32] {
        &self.h
    }

    /// The hidden state of every lane as the product reads it,
    /// `sat_i8(round(h / 2^8))` (Q7), `[lanes][H]`.
    pub fn hidden8(&self) -> &[i8] {
        &self.h8
    }
}

impl GruLm {
    /// Builds a model from its integer parameters, checking every size and
    /// value range (a model package is input too).
    ///
    /// # Errors
    ///
    /// [`NnError::Package`] when anything is inconsistent.
    pub fn new(
        vocab: usize,
        hidden: usize,
        gx: Vec<i32>,
        w: Vec<i8>,
        requant: Vec<Requant>,
        b_hn: Vec<i32>,
        b_out: Vec<i32>,
    ) -> Result<Self, NnError> {
        let bad = |what: &str| Err(NnError::Package(what.to_owned()));
        if !(2..=MAX_VOCAB).contains(&vocab) || !(1..=MAX_HIDDEN).contains(&hidden) {
            return bad("vocabulary or hidden size out of range");
        }
        let rows = 3 * hidden + vocab;
        if gx.len() != vocab * 3 * hidden
            || requant.len() != rows
            || b_hn.len() != hidden
            || b_out.len() != vocab
        {
            return bad("parameter sizes do not match the configuration");
        }
        if !requant.iter().all(|r| r.is_valid()) {
            return bad("requantisation multiplier out of range");
        }
        // Keep every intermediate far from i32 overflow: Q8 inputs within
        // +-2^20, which the activations clamp to +-8 anyway.
        let lim = 1 << 20;
        if gx.iter().chain(&b_hn).chain(&b_out).any(|v| v.abs() > lim) {
            return bad("bias or input projection out of range");
        }
        let w = QMatrix::new(rows, hidden, w).map_err(|e| NnError::Package(e.to_string()))?;
        Ok(GruLm { vocab, hidden, gx, w, requant, b_hn, b_out })
    }

    /// Alphabet size.
    pub fn vocab(&self) -> usize {
        self.vocab
    }

    /// Hidden size.
    pub fn hidden(&self) -> usize {
        self.hidden
    }

    /// Parameter count (weights and biases).
    pub fn parameters(&self) -> usize {
        self.gx.len() + self.w.data().len() + self.b_hn.len() + self.b_out.len()
    }

    /// Multiply-adds per symbol and lane.
    pub fn macs_per_symbol(&self) -> usize {
        self.w.data().len()
    }

    /// A fresh state (all lanes at `h = 0`) with the first step's product
    /// already computed, so [`GruLm::logits`] can be read at once.
    ///
    /// # Errors
    ///
    /// From the backend.
    pub fn start(&self, backend: &Backend, lanes: usize) -> Result<GruState, NnError> {
        let rows = self.w.rows();
        let mut s = GruState {
            lanes,
            h: vec![0; lanes * self.hidden],
            h8: vec![0; lanes * self.hidden],
            q: vec![0; lanes * rows],
            acc: vec![0; lanes * rows],
        };
        self.product(backend, &mut s, lanes)?;
        Ok(s)
    }

    /// `q = requant(W h8)` for the first `active` lanes.
    fn product(&self, backend: &Backend, s: &mut GruState, active: usize) -> Result<(), NnError> {
        let (hd, rows) = (self.hidden, self.w.rows());
        for (d, &h) in s.h8[..active * hd].iter_mut().zip(&s.h[..active * hd]) {
            *d = sat_i8(round_shift(h, 8));
        }
        self.w.matmul(backend, &s.h8[..active * hd], &mut s.acc[..active * rows])?;
        for (qr, ar) in s.q[..active * rows].chunks_exact_mut(rows).zip(s.acc.chunks_exact(rows)) {
            for ((q, &a), r) in qr.iter_mut().zip(ar).zip(&self.requant) {
                *q = r.apply(a);
            }
        }
        Ok(())
    }

    /// The Q8 log2-unit logits of lane `lane` for its next symbol, into `out`
    /// (`vocab` entries).
    pub fn logits(&self, s: &GruState, lane: usize, out: &mut [i32]) {
        let rows = self.w.rows();
        let q = &s.q[lane * rows + 3 * self.hidden..(lane + 1) * rows];
        for ((o, &q), &b) in out.iter_mut().zip(q).zip(&self.b_out) {
            *o = q.saturating_add(b);
        }
    }

    /// Advances the first `symbols.len()` lanes by one symbol each (the other
    /// lanes keep their state) and computes the next product for them.
    ///
    /// # Errors
    ///
    /// [`NnError::Shape`] for a symbol outside the alphabet or more symbols
    /// than lanes; errors of the backend.
    pub fn step(&self, backend: &Backend, s: &mut GruState, symbols: &[u32]) -> Result<(), NnError> {
        let (hd, rows) = (self.hidden, self.w.rows());
        if symbols.len() > s.lanes {
            return Err(NnError::Shape("more symbols than lanes".into()));
        }
        for (lane, &x) in symbols.iter().enumerate() {
            let x = x as usize;
            if x >= self.vocab {
                return Err(NnError::Shape(format!("symbol {x} outside an alphabet of {}", self.vocab)));
            }
            let gx = &self.gx[x * 3 * hd..(x + 1) * 3 * hd];
            let q = &s.q[lane * rows..lane * rows + 3 * hd];
            let h = &mut s.h[lane * hd..(lane + 1) * hd];
            for j in 0..hd {
                let r = sigma_q15(gx[j].saturating_add(q[j]));
                let z = sigma_q15(gx[hd + j].saturating_add(q[hd + j]));
                let hn = q[2 * hd + j].saturating_add(self.b_hn[j]);
                // |r| <= 2^15: |r * hn / 2^15| <= |hn| fits in i32.
                let rh = ((i64::from(r) * i64::from(hn) + (1 << 14)) >> 15) as i32;
                let n = tanh_q15(gx[2 * hd + j].saturating_add(rh));
                let d = i64::from(h[j]) - i64::from(n);
                h[j] = n + ((i64::from(z) * d + (1 << 14)) >> 15) as i32;
            }
        }
        self.product(backend, s, symbols.len())
    }
}
