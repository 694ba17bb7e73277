//! The hot integer kernels, each with a plain scalar reference and faster
//! paths that must equal it bit for bit (spec/MODELS.md §4.1):
//!
//! - [`QMatrix`] products `out[b][o] = sum_k x[b][k] * w[o][k]` of int8 inputs
//!   and int8 weights into exact `i32` accumulators;
//! - [`Conv2d`]: zero-padded, centred, odd-sized 2-D convolution with int8
//!   weights (masked/causal convolutions are convolutions whose masked weights
//!   are zero; 1-D convolutions have height 1).
//!
//! Backends: [`Backend::Scalar`] (the reference: obvious loops), [`Backend::Cpu`]
//! (chunked loops that vectorise, rayon over rows for large batches) and
//! [`Backend::Candle`] (candle tensors of `f32` holding exact integers, on CPU
//! or a CUDA GPU). Integer sums are exact in any order, so thread count,
//! batch partition and device cannot change a result; the candle path is
//! exact because every partial sum stays below 2^24 in magnitude, which
//! [`MAX_EXACT_DEPTH`] guarantees.

use super::NnError;
use rayon::prelude::*;
use std::sync::OnceLock;

/// Largest reduction depth (`k`) the candle path accepts: `k * 128 * 128 <=
/// 2^24`, so every partial sum of int8 products is an exact `f32`.
pub const MAX_EXACT_DEPTH: usize = 1024;

/// Where the kernels run.
#[derive(Debug, Clone, Default)]
pub enum Backend {
    /// The scalar reference.
    Scalar,
    /// The fast CPU path (the default).
    #[default]
    Cpu,
    /// candle on a device (`f32` holding exact integers).
    Candle(candle_core::Device),
}

impl Backend {
    /// candle on the CPU.
    pub fn candle_cpu() -> Self {
        Backend::Candle(candle_core::Device::Cpu)
    }

    /// candle on CUDA GPU `ordinal`, with TF32 and other reduced-precision
    /// matmul modes switched off.
    ///
    /// # Errors
    ///
    /// [`NnError::Device`] when this build has no `cuda` feature or the GPU
    /// cannot be opened.
    pub fn cuda(ordinal: usize) -> Result<Self, NnError> {
        candle_core::cuda::set_gemm_reduced_precision_f32(false);
        let device = candle_core::Device::new_cuda(ordinal).map_err(|e| {
            NnError::Device(if cfg!(feature = "cuda") {
                format!("cannot open CUDA device {ordinal}: {e}")
            } else {
                "this nzip was built without GPU support (cargo feature `cuda`)".to_owned()
            })
        })?;
        Ok(Backend::Candle(device))
    }

    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Scalar => "scalar",
            Backend::Cpu => "cpu",
            Backend::Candle(d) if d.is_cuda() => "candle-cuda",
            Backend::Candle(_) => "candle-cpu",
        }
    }
}

/// An int8 weight matrix of `rows` outputs by `cols` inputs (row-major), with
/// a lazily built candle copy.
#[derive(Debug)]
pub struct QMatrix {
    rows: usize,
    cols: usize,
    data: Vec<i8>,
    tensor: OnceLock<candle_core::Tensor>,
}

impl Clone for QMatrix {
    fn clone(&self) -> Self {
        QMatrix { rows: self.rows, cols: self.cols, data: self.data.clone(), tensor: OnceLock::new() }
    }
}

impl QMatrix {
    /// Wraps `data` (`rows * cols` values).
    ///
    /// # Errors
    ///
    /// [`NnError::Shape`] when the length does not match or a dimension is 0.
    pub fn new(rows: usize, cols: usize, data: Vec<i8>) -> Result<Self, NnError> {
        if rows == 0 || cols == 0 || rows.checked_mul(cols) != Some(data.len()) {
            return Err(NnError::Shape(format!("matrix {rows}x{cols} with {} values", data.len())));
        }
        Ok(QMatrix { rows, cols, data, tensor: OnceLock::new() })
    }

    /// Output count.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Input count (the reduction depth).
    pub fn cols(&self) -> usize {
        self.cols
    }

    /// The weights, row-major.
    pub fn data(&self) -> &[i8] {
        &self.data
    }

    /// `out[b * rows + o] = sum_k x[b * cols + k] * w[o * cols + k]` for
    /// `b < batch = x.len() / cols`.
    ///
    /// # Errors
    ///
    /// [`NnError::Shape`] on mismatched lengths; [`NnError::Device`] when
    /// candle fails or the depth exceeds [`MAX_EXACT_DEPTH`] on candle.
    pub fn matmul(&self, backend: &Backend, x: &[i8], out: &mut [i32]) -> Result<(), NnError> {
        let batch = x.len() / self.cols;
        if x.len() != batch * self.cols || out.len() != batch * self.rows {
            return Err(NnError::Shape(format!(
                "matmul of {} inputs into {} outputs with a {}x{} matrix",
                x.len(),
                out.len(),
                self.rows,
                self.cols
            )));
        }
        match backend {
            Backend::Scalar => {
                matmul_scalar(x, &self.data, self.cols, out);
                Ok(())
            }
            Backend::Cpu => {
                matmul_fast(x, &self.data, self.cols, out);
                Ok(())
            }
            Backend::Candle(device) => self.matmul_candle(device, x, batch, out),
        }
    }

    fn matmul_candle(
        &self,
        device: &candle_core::Device,
        x: &[i8],
        batch: usize,
        out: &mut [i32],
    ) -> Result<(), NnError> {
        if self.cols > MAX_EXACT_DEPTH {
            return Err(NnError::Device(format!(
                "depth {} exceeds {MAX_EXACT_DEPTH}: f32 sums would not be exact",
                self.cols
            )));
        }
        let w = match self.tensor.get() {
            Some(t) if t.device().same_device(device) => t.clone(),
            _ => {
                let t = i8_tensor(&self.data, (self.rows, self.cols), device)?.t()?;
                if self.tensor.get().is_none() {
                    let _ = self.tensor.set(t.clone());
                }
                t
            }
        };
        let xt = i8_tensor(x, (batch, self.cols), device)?;
        let y = xt.matmul(&w)?.flatten_all()?.to_vec1::<f32>()?;
        for (o, v) in out.iter_mut().zip(y) {
            *o = v as i32; // an exact integer below 2^24 in magnitude
        }
        Ok(())
    }
}

fn i8_tensor(
    v: &[i8],
    shape: (usize, usize),
    device: &candle_core::Device,
) -> Result<candle_core::Tensor, NnError> {
    let f: Vec<f32> = v.iter().map(|&a| f32::from(a)).collect();
    Ok(candle_core::Tensor::from_vec(f, shape, device)?)
}

/// The scalar reference: the textbook triple loop.
pub fn matmul_scalar(x: &[i8], w: &[i8], cols: usize, out: &mut [i32]) {
    let rows = w.len() / cols;
    for (b, xr) in x.chunks_exact(cols).enumerate() {
        for o in 0..rows {
            let mut acc: i32 = 0;
            for k in 0..cols {
                acc += i32::from(xr[k]) * i32::from(w[o * cols + k]);
            }
            out[b * rows + o] = acc;
        }
    }
}

/// Dot product of two int8 vectors (over the shorter length) in `i32`: the
/// AVX2 kernel where the processor has it, else [`dot_i8_portable`]. Both
/// are exact, so they agree with each other and with the scalar loop.
#[inline]
pub fn dot_i8(a: &[i8], b: &[i8]) -> i32 {
    #[cfg(target_arch = "x86_64")]
    if crate::isa::avx2() {
        #[allow(unsafe_code)]
        // SAFETY: the processor supports AVX2 (`isa::avx2` checked it), the only
        // requirement of `dot_i8_avx2`.
        return unsafe { dot_i8_avx2(a, b) };
    }
    dot_i8_portable(a, b)
}

/// AVX2: 16 int8 pairs per step, widened to i16 and multiplied-added in pairs
/// into eight i32 sums (`vpmaddwd`; each pair sum is at most 2^15).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(unsafe_code)]
unsafe fn dot_i8_avx2(a: &[i8], b: &[i8]) -> i32 {
    use std::arch::x86_64::*;
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = _mm256_setzero_si256();
    let mut ca = a.chunks_exact(16);
    let mut cb = b.chunks_exact(16);
    for (x, y) in (&mut ca).zip(&mut cb) {
        // SAFETY: `x` and `y` are 16 readable bytes; unaligned loads.
        let vx = _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(x.as_ptr().cast()) });
        let vy = _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(y.as_ptr().cast()) });
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(vx, vy));
    }
    let s = _mm_add_epi32(_mm256_castsi256_si128(acc), _mm256_extracti128_si256::<1>(acc));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b01_00_11_10>(s));
    let s = _mm_add_epi32(s, _mm_shuffle_epi32::<0b10_11_00_01>(s));
    let mut total = _mm_cvtsi128_si32(s);
    for (&x, &y) in ca.remainder().iter().zip(cb.remainder()) {
        total += i32::from(x) * i32::from(y);
    }
    total
}

/// The portable dot product: products widened through `i16` (exact: `|a *
/// b| <= 2^14`) in 32 independent sums, a shape compilers vectorise with
/// multiply-add instructions (`pmaddwd` on x86, `smlal` on Arm).
#[inline]
pub fn dot_i8_portable(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 32;
    let mut acc = [0i32; LANES];
    let (ac, ar) = a.split_at(a.len() / LANES * LANES);
    let (bc, br) = b.split_at(ac.len().min(b.len()));
    for (x, y) in ac.chunks_exact(LANES).zip(bc.chunks_exact(LANES)) {
        for l in 0..LANES {
            acc[l] += i32::from(i16::from(x[l]) * i16::from(y[l]));
        }
    }
    let mut s: i32 = acc.iter().sum();
    for (&x, &y) in ar.iter().zip(br) {
        s += i32::from(x) * i32::from(y);
    }
    s
}

/// Work (multiply-adds) below which threads cost more than they save.
const PARALLEL_WORK: usize = 1 << 21;

/// The fast CPU path: [`dot_i8`] per output, rayon over batch rows when the
/// product is large. Same result as [`matmul_scalar`] for any thread count.
pub fn matmul_fast(x: &[i8], w: &[i8], cols: usize, out: &mut [i32]) {
    let rows = w.len() / cols;
    let row = |(o, xr): (&mut [i32], &[i8])| {
        for (acc, wr) in o.iter_mut().zip(w.chunks_exact(cols)) {
            *acc = dot_i8(xr, wr);
        }
    };
    if out.len() * cols >= PARALLEL_WORK && out.len() > rows {
        out.par_chunks_mut(rows).zip(x.par_chunks(cols)).for_each(row);
    } else {
        out.chunks_mut(rows).zip(x.chunks(cols)).for_each(row);
    }
}

/// A 2-D convolution with int8 weights `[out_ch][in_ch][kh][kw]` (odd `kh`,
/// `kw`), centred and zero padded: for every output channel `o` and position
/// `(y, x)`, `out = sum_{c,i,j} w[o][c][i][j] * in[c][y + i - kh/2][x + j - kw/2]`,
/// with inputs outside the image taken as 0. Causal or masked convolutions
/// zero the masked weights ([`Conv2d::mask_causal`]).
#[derive(Debug, Clone)]
pub struct Conv2d {
    in_ch: usize,
    kh: usize,
    kw: usize,
    weights: QMatrix, // out_ch x (in_ch * kh * kw)
}

impl Conv2d {
    /// # Errors
    ///
    /// [`NnError::Shape`] unless `kh`, `kw` are odd and the weights have
    /// `out_ch * in_ch * kh * kw` values.
    pub fn new(out_ch: usize, in_ch: usize, kh: usize, kw: usize, w: Vec<i8>) -> Result<Self, NnError> {
        if kh.is_multiple_of(2) || kw.is_multiple_of(2) || in_ch == 0 {
            return Err(NnError::Shape(format!("kernel {kh}x{kw} over {in_ch} channels")));
        }
        let weights = QMatrix::new(out_ch, in_ch * kh * kw, w)?;
        Ok(Conv2d { in_ch, kh, kw, weights })
    }

    /// Zeroes the weights at and after the centre in raster order (`include_centre
    /// = false`, PixelCNN mask A) or strictly after it (mask B), so each output
    /// depends only on inputs before it in raster order.
    pub fn mask_causal(mut self, include_centre: bool) -> Self {
        let (kh, kw) = (self.kh, self.kw);
        let taps = kh * kw;
        let centre = (kh / 2) * kw + kw / 2;
        for (t, w) in self.weights.data.iter_mut().enumerate() {
            let tap = t % taps;
            if tap > centre || (tap == centre && !include_centre) {
                *w = 0;
            }
        }
        self.weights.tensor = OnceLock::new();
        self
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.weights.rows
    }

    fn check(&self, input: &[i8], h: usize, w: usize, out: &[i32]) -> Result<(), NnError> {
        let px = h.checked_mul(w).ok_or_else(|| NnError::Shape("image too large".into()))?;
        if input.len() != self.in_ch * px || out.len() != self.weights.rows * px {
            return Err(NnError::Shape(format!(
                "conv of {} inputs / {} outputs for {h}x{w} with {} -> {} channels",
                input.len(),
                out.len(),
                self.in_ch,
                self.weights.rows
            )));
        }
        Ok(())
    }

    /// Runs the convolution on an input `[in_ch][h][w]` into `[out_ch][h][w]`.
    ///
    /// # Errors
    ///
    /// [`NnError::Shape`] on mismatched sizes; [`NnError::Device`] from candle.
    pub fn forward(
        &self,
        backend: &Backend,
        input: &[i8],
        h: usize,
        w: usize,
        out: &mut [i32],
    ) -> Result<(), NnError> {
        self.check(input, h, w, out)?;
        match backend {
            Backend::Scalar => {
                self.forward_scalar(input, h, w, out);
                Ok(())
            }
            Backend::Cpu => self.forward_im2col(backend, input, h, w, out),
            Backend::Candle(device) => self.forward_candle(device, input, h, w, out),
        }
    }

    fn forward_scalar(&self, input: &[i8], h: usize, w: usize, out: &mut [i32]) {
        let (kh, kw, ci) = (self.kh, self.kw, self.in_ch);
        let wt = &self.weights.data;
        for o in 0..self.weights.rows {
            for y in 0..h {
                for x in 0..w {
                    let mut acc = 0i32;
                    for c in 0..ci {
                        for i in 0..kh {
                            for j in 0..kw {
                                let (yy, xx) = (
                                    (y + i) as isize - (kh / 2) as isize,
                                    (x + j) as isize - (kw / 2) as isize,
                                );
                                if yy < 0 || xx < 0 || yy >= h as isize || xx >= w as isize {
                                    continue;
                                }
                                let v = input[c * h * w + yy as usize * w + xx as usize];
                                acc += i32::from(v) * i32::from(wt[((o * ci + c) * kh + i) * kw + j]);
                            }
                        }
                    }
                    out[o * h * w + y * w + x] = acc;
                }
            }
        }
    }

    /// im2col (one row of `in_ch * kh * kw` taps per pixel) and the fast matmul.
    fn forward_im2col(
        &self,
        backend: &Backend,
        input: &[i8],
        h: usize,
        w: usize,
        out: &mut [i32],
    ) -> Result<(), NnError> {
        let (kh, kw, ci) = (self.kh, self.kw, self.in_ch);
        let depth = self.weights.cols;
        let mut cols = vec![0i8; h * w * depth];
        for (p, row) in cols.chunks_exact_mut(depth).enumerate() {
            let (y, x) = (p / w, p % w);
            for c in 0..ci {
                for i in 0..kh {
                    let yy = (y + i).wrapping_sub(kh / 2);
                    if yy >= h {
                        continue;
                    }
                    for j in 0..kw {
                        let xx = (x + j).wrapping_sub(kw / 2);
                        if xx < w {
                            row[(c * kh + i) * kw + j] = input[c * h * w + yy * w + xx];
                        }
                    }
                }
            }
        }
        let oc = self.weights.rows;
        let mut tmp = vec![0i32; h * w * oc];
        self.weights.matmul(backend, &cols, &mut tmp)?;
        for (p, t) in tmp.chunks_exact(oc).enumerate() {
            for (o, &v) in t.iter().enumerate() {
                out[o * h * w + p] = v;
            }
        }
        Ok(())
    }

    fn forward_candle(
        &self,
        device: &candle_core::Device,
        input: &[i8],
        h: usize,
        w: usize,
        out: &mut [i32],
    ) -> Result<(), NnError> {
        if self.weights.cols > MAX_EXACT_DEPTH {
            return Err(NnError::Device(format!(
                "conv depth {} exceeds {MAX_EXACT_DEPTH}",
                self.weights.cols
            )));
        }
        let (kh, kw, ci) = (self.kh, self.kw, self.in_ch);
        let x = i8_tensor(input, (ci, h * w), device)?.reshape((1, ci, h, w))?;
        let x = x.pad_with_zeros(2, kh / 2, kh / 2)?.pad_with_zeros(3, kw / 2, kw / 2)?;
        let k = i8_tensor(&self.weights.data, (self.weights.rows, self.weights.cols), device)?.reshape((
            self.weights.rows,
            ci,
            kh,
            kw,
        ))?;
        let y = x.conv2d(&k, 0, 1, 1, 1)?.flatten_all()?.to_vec1::<f32>()?;
        for (o, v) in out.iter_mut().zip(y) {
            *o = v as i32;
        }
        Ok(())
    }
}
