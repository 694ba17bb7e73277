//! Training of the GRU language model with candle autograd (float), with
//! quantisation-aware fake-quant so that the exported integer model loses
//! little, and the export to a [`GruParams`] package.
//!
//! The float model is the integer model of [`super::gru`] with real numbers:
//! base-2 sigmoid and tanh (`sigmoid(x ln 2)`, `tanh(x ln 2)`), logits in
//! log2 units, the hidden state rounded to int8 (Q7) before every product and
//! the weights rounded per row to int8 (straight-through gradients) once
//! fake-quant is on. Training is not on the probability path: it may use any
//! float arithmetic; only the exported integers matter, and those are what
//! ships and what is measured.

use super::fixed::Requant;
use super::package::GruParams;
use super::NnError;
use candle_core::{DType, Device, Tensor, Var, D};
use std::f64::consts::LN_2;

/// Hyper-parameters.
#[derive(Debug, Clone)]
pub struct TrainConfig {
    /// Hidden size.
    pub hidden: usize,
    /// Streams per batch.
    pub batch: usize,
    /// Steps of truncated backpropagation through time per batch.
    pub bptt: usize,
    /// Optimiser steps.
    pub steps: usize,
    /// Peak learning rate (AdamW); cosine decay to 10% after a short warm-up.
    pub lr: f64,
    /// Decoupled weight decay.
    pub weight_decay: f64,
    /// Fake-quant from this step on.
    pub qat_from: usize,
    /// Seed of the initialisation and of the stream positions.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            hidden: 128,
            batch: 32,
            bptt: 64,
            steps: 2000,
            lr: 3e-3,
            weight_decay: 1e-4,
            qat_from: 1000,
            seed: 1,
        }
    }
}

/// A small deterministic generator (SplitMix64) for initialisation and
/// sampling, so that training depends only on the seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[-a, a)`.
    pub fn uniform(&mut self, a: f64) -> f32 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        ((2.0 * u - 1.0) * a) as f32
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n.max(1) as u64) as usize
    }
}

/// The float parameters.
#[derive(Debug)]
pub struct FloatGru {
    hidden: usize,
    /// `[256, 3H]`: input projection with the input and r/z biases.
    emb: Var,
    /// `[3H, H]`.
    u: Var,
    /// `[H]`.
    b_hn: Var,
    /// `[256, H]`.
    v: Var,
    /// `[256]`.
    b_out: Var,
}

const VOCAB: usize = 256;

fn var(rng: &mut Rng, shape: (usize, usize), a: f64, dev: &Device) -> Result<Var, NnError> {
    let data: Vec<f32> = (0..shape.0 * shape.1).map(|_| rng.uniform(a)).collect();
    Ok(Var::from_tensor(&Tensor::from_vec(data, shape, dev)?)?)
}

/// Per-row int8 quantisation of a weight matrix: the scales `max|w| / 127`
/// (at least 1e-8) and the rounded weights.
fn row_scales(w: &Tensor) -> Result<Tensor, NnError> {
    Ok(w.abs()?.max_keepdim(1)?.affine(1.0 / 127.0, 1e-8)?)
}

/// Straight-through fake quantisation: forward `round(w / s) * s`, backward identity.
fn fake_quant_rows(w: &Tensor) -> Result<Tensor, NnError> {
    let s = row_scales(w)?.detach();
    let q = w.broadcast_div(&s)?.round()?.clamp(-127f32, 127f32)?.broadcast_mul(&s)?;
    Ok((w + (q - w)?.detach())?)
}

/// The hidden state as the integer model feeds it to the product: Q7 int8.
fn fake_quant_h(h: &Tensor) -> Result<Tensor, NnError> {
    let q = h.affine(128.0, 0.0)?.round()?.clamp(-127f32, 127f32)?.affine(1.0 / 128.0, 0.0)?;
    Ok((h + (q - h)?.detach())?)
}

fn sigma2(x: &Tensor) -> Result<Tensor, NnError> {
    Ok(x.affine(-LN_2, 0.0)?.exp()?.affine(1.0, 1.0)?.recip()?)
}

fn tanh2(x: &Tensor) -> Result<Tensor, NnError> {
    Ok(x.affine(LN_2, 0.0)?.tanh()?)
}

impl FloatGru {
    /// A freshly initialised model.
    ///
    /// # Errors
    ///
    /// From candle.
    pub fn new(hidden: usize, seed: u64, dev: &Device) -> Result<Self, NnError> {
        let mut rng = Rng::new(seed);
        let a = 1.0 / (hidden as f64).sqrt();
        Ok(FloatGru {
            hidden,
            emb: var(&mut rng, (VOCAB, 3 * hidden), 0.5, dev)?,
            u: var(&mut rng, (3 * hidden, hidden), a, dev)?,
            b_hn: Var::from_tensor(&Tensor::zeros(hidden, DType::F32, dev)?)?,
            v: var(&mut rng, (VOCAB, hidden), a, dev)?,
            b_out: Var::from_tensor(&Tensor::zeros(VOCAB, DType::F32, dev)?)?,
        })
    }

    /// A model from float parameters in the engine's base-2 form (as another
    /// trainer wrote them): `gx` `[256, 3H]`, `u` `[3H, H]`, `b_hn` `[H]`, `v`
    /// `[256, H]`, `b_out` `[256]`, so that [`FloatGru::export`] quantises
    /// them exactly as it does this trainer's.
    ///
    /// # Errors
    ///
    /// [`NnError::Shape`] when the shapes disagree, or from candle.
    pub fn from_tensors(
        gx: Tensor,
        u: Tensor,
        b_hn: Tensor,
        v: Tensor,
        b_out: Tensor,
    ) -> Result<Self, NnError> {
        let hidden = u.dim(1)?;
        let want = [
            (gx.dims(), vec![VOCAB, 3 * hidden]),
            (u.dims(), vec![3 * hidden, hidden]),
            (b_hn.dims(), vec![hidden]),
            (v.dims(), vec![VOCAB, hidden]),
            (b_out.dims(), vec![VOCAB]),
        ];
        if let Some((got, w)) = want.iter().find(|(got, w)| got != &w.as_slice()) {
            return Err(NnError::Shape(format!("a float GRU tensor is {got:?}, expected {w:?}")));
        }
        let var = |t: Tensor| -> Result<Var, NnError> { Ok(Var::from_tensor(&t.to_dtype(DType::F32)?)?) };
        Ok(FloatGru { hidden, emb: var(gx)?, u: var(u)?, b_hn: var(b_hn)?, v: var(v)?, b_out: var(b_out)? })
    }

    fn vars(&self) -> [&Var; 5] {
        [&self.emb, &self.u, &self.b_hn, &self.v, &self.b_out]
    }

    /// Runs the model over `inputs` (`[T]` tensors of `[B]` u32 symbols) from
    /// state `h`, returning the log2-unit logits predicting each input
    /// (`[T * B, 256]`, the first row block from `h` itself) and the state
    /// after the last input.
    fn forward(&self, h0: &Tensor, inputs: &[Tensor], quant: bool) -> Result<(Tensor, Tensor), NnError> {
        let hd = self.hidden;
        let (u, v) = if quant {
            (fake_quant_rows(self.u.as_tensor())?, fake_quant_rows(self.v.as_tensor())?)
        } else {
            (self.u.as_tensor().clone(), self.v.as_tensor().clone())
        };
        let (ut, vt) = (u.t()?, v.t()?);
        let mut h = h0.clone();
        let mut logits = Vec::with_capacity(inputs.len());
        for x in inputs {
            let h8 = fake_quant_h(&h)?;
            logits.push(h8.matmul(&vt)?.broadcast_add(self.b_out.as_tensor())?);
            let hu = h8.matmul(&ut)?;
            let gx = self.emb.as_tensor().index_select(x, 0)?;
            let r = sigma2(&(gx.narrow(1, 0, hd)? + hu.narrow(1, 0, hd)?)?)?;
            let z = sigma2(&(gx.narrow(1, hd, hd)? + hu.narrow(1, hd, hd)?)?)?;
            let hn = hu.narrow(1, 2 * hd, hd)?.broadcast_add(self.b_hn.as_tensor())?;
            let n = tanh2(&(gx.narrow(1, 2 * hd, hd)? + (r * hn)?)?)?;
            h = (&n + (z * (h - &n)?)?)?;
        }
        Ok((Tensor::cat(&logits, 0)?, h))
    }

    /// Mean cross-entropy in bits per symbol of log2-unit `logits` `[N, 256]`
    /// against `targets` `[N]`.
    fn bits(logits: &Tensor, targets: &Tensor) -> Result<Tensor, NnError> {
        let x = logits.affine(LN_2, 0.0)?;
        let m = x.max_keepdim(D::Minus1)?.detach();
        let lse = (x.broadcast_sub(&m)?.exp()?.sum_keepdim(D::Minus1)?.log()? + &m)?;
        let picked = x.gather(&targets.unsqueeze(1)?, 1)?;
        Ok((lse - picked)?.mean_all()?.affine(1.0 / LN_2, 0.0)?)
    }

    /// Mean bits per byte of the fake-quantised float model on `data`, coded
    /// as one stream from the zero state (as one lane of the coder).
    ///
    /// # Errors
    ///
    /// From candle.
    pub fn eval_bits(&self, data: &[u8]) -> Result<f64, NnError> {
        let dev = self.u.as_tensor().device().clone();
        let mut h = Tensor::zeros((1, self.hidden), DType::F32, &dev)?;
        let mut total = 0.0;
        for win in data.chunks(256) {
            let inputs: Vec<Tensor> = win
                .iter()
                .map(|&b| Tensor::from_vec(vec![u32::from(b)], 1, &dev))
                .collect::<Result<_, _>>()?;
            let targets =
                Tensor::from_vec(win.iter().map(|&b| u32::from(b)).collect::<Vec<_>>(), win.len(), &dev)?;
            let (logits, next) = self.forward(&h, &inputs, true)?;
            total += f64::from(FloatGru::bits(&logits, &targets)?.to_scalar::<f32>()?) * win.len() as f64;
            h = next.detach();
        }
        Ok(total / data.len().max(1) as f64)
    }

    /// Exports the integer parameters (the same rounding as fake-quant).
    ///
    /// # Errors
    ///
    /// From candle, or [`NnError::Package`] if a scale cannot be represented.
    pub fn export(&self) -> Result<GruParams, NnError> {
        let hd = self.hidden;
        let w = Tensor::cat(&[self.u.as_tensor(), self.v.as_tensor()], 0)?;
        let s = row_scales(&w)?;
        let wq = w.broadcast_div(&s)?.round()?.clamp(-127f32, 127f32)?;
        let wq: Vec<i8> = wq.flatten_all()?.to_vec1::<f32>()?.iter().map(|&v| v as i8).collect();
        let mut requant = Vec::new();
        for sc in s.flatten_all()?.to_vec1::<f32>()? {
            // Q8 output from acc = sum wq * h8q: real = acc * s / 128, Q8 = acc * 2s.
            let scale = 2.0 * f64::from(sc);
            let r = (1..=24u8)
                .rev()
                .find_map(|sh| Requant::from_scale(scale, sh))
                .ok_or_else(|| NnError::Package(format!("weight scale {sc} not representable")))?;
            requant.push(r);
        }
        let q8 = |t: &Tensor| -> Result<Vec<f32>, NnError> {
            Ok(t.affine(256.0, 0.0)?.round()?.flatten_all()?.to_vec1::<f32>()?)
        };
        let gx = q8(self.emb.as_tensor())?.iter().map(|&v| v.clamp(-32767.0, 32767.0) as i16).collect();
        let b_hn = q8(self.b_hn.as_tensor())?.iter().map(|&v| v as i32).collect();
        let b_out = q8(self.b_out.as_tensor())?.iter().map(|&v| v as i32).collect();
        Ok(GruParams { vocab: VOCAB, hidden: hd, gx, w: wq, requant, b_hn, b_out })
    }
}

/// AdamW over a set of variables (hand-written: candle-core has no optimiser).
#[derive(Debug)]
struct AdamW {
    m: Vec<Tensor>,
    v: Vec<Tensor>,
    t: i32,
}

impl AdamW {
    fn new(vars: &[&Var]) -> Result<Self, NnError> {
        let z = |v: &&Var| v.as_tensor().zeros_like();
        Ok(AdamW {
            m: vars.iter().map(z).collect::<Result<_, _>>()?,
            v: vars.iter().map(z).collect::<Result<_, _>>()?,
            t: 0,
        })
    }

    fn step(
        &mut self,
        vars: &[&Var],
        grads: &candle_core::backprop::GradStore,
        lr: f64,
        wd: f64,
    ) -> Result<(), NnError> {
        let (b1, b2, eps): (f64, f64, f64) = (0.9, 0.999, 1e-8);
        self.t += 1;
        let (c1, c2) = (1.0 - b1.powi(self.t), 1.0 - b2.powi(self.t));
        for (i, var) in vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else { continue };
            // Clip each gradient element to +-1 (recurrent nets spike).
            let g = g.clamp(-1f32, 1f32)?;
            self.m[i] = (self.m[i].affine(b1, 0.0)? + g.affine(1.0 - b1, 0.0)?)?;
            self.v[i] = (self.v[i].affine(b2, 0.0)? + g.sqr()?.affine(1.0 - b2, 0.0)?)?;
            let update = (self.m[i].affine(1.0 / c1, 0.0)?
                / self.v[i].affine(1.0 / c2, 0.0)?.sqrt()?.affine(1.0, eps)?)?;
            let w = var.as_tensor();
            let next = (w.affine(1.0 - lr * wd, 0.0)? - update.affine(lr, 0.0)?)?;
            var.set(&next)?;
        }
        Ok(())
    }
}

/// Progress of [`train`], reported every `report_every` steps.
#[derive(Debug, Clone, Copy)]
pub struct TrainReport {
    /// Optimiser step.
    pub step: usize,
    /// Mean bits per symbol over the batches since the last report.
    pub bits: f64,
    /// Whether fake-quant was on.
    pub quantised: bool,
}

/// Trains a byte GRU on `data` (one long byte string; streams start at random
/// offsets and run on statefully, restarting at a new offset when they reach
/// the end).
///
/// # Errors
///
/// From candle, or [`NnError::Shape`] when `data` is shorter than one window.
pub fn train(
    data: &[u8],
    cfg: &TrainConfig,
    mut report: impl FnMut(TrainReport),
    report_every: usize,
) -> Result<FloatGru, NnError> {
    let dev = Device::Cpu;
    if data.len() < cfg.bptt * 2 + 1 {
        return Err(NnError::Shape("training data shorter than two windows".into()));
    }
    let model = FloatGru::new(cfg.hidden, cfg.seed, &dev)?;
    let vars = model.vars();
    let mut opt = AdamW::new(&vars)?;
    let mut rng = Rng::new(cfg.seed ^ 0x5eed);
    let mut pos: Vec<usize> = (0..cfg.batch).map(|_| rng.below(data.len() - cfg.bptt - 1)).collect();
    let mut h = Tensor::zeros((cfg.batch, cfg.hidden), DType::F32, &dev)?;
    let (mut acc, mut n) = (0.0, 0);
    for step in 0..cfg.steps {
        // Window t: inputs data[p + t], targets data[p + t + 1]; the first
        // prediction (from h) is of data[p], already the previous window's
        // last target, so inputs are data[p - 1 + t] for the carried state.
        let mut inputs = Vec::with_capacity(cfg.bptt);
        let mut targets = Vec::with_capacity(cfg.bptt * cfg.batch);
        for t in 0..cfg.bptt {
            let xs: Vec<u32> = pos.iter().map(|&p| u32::from(data[p + t])).collect();
            inputs.push(Tensor::from_vec(xs, cfg.batch, &dev)?);
            targets.extend(pos.iter().map(|&p| u32::from(data[p + t])));
        }
        let targets = Tensor::from_vec(targets, cfg.bptt * cfg.batch, &dev)?;
        let quant = step >= cfg.qat_from;
        let (logits, h_next) = model.forward(&h, &inputs, quant)?;
        let loss = FloatGru::bits(&logits, &targets)?;
        let grads = loss.backward()?;
        let warm = (step as f64 + 1.0) / 100.0;
        let cos = 0.55 + 0.45 * (std::f64::consts::PI * step as f64 / cfg.steps as f64).cos();
        opt.step(&vars, &grads, cfg.lr * warm.min(1.0) * cos, cfg.weight_decay)?;
        acc += f64::from(loss.to_scalar::<f32>()?);
        n += 1;
        h = h_next.detach();
        // Advance the streams; restart the ones that ran off the end (their
        // state is reset to zero, as a lane starts in the coder).
        let mut reset = vec![1f32; cfg.batch];
        for (i, p) in pos.iter_mut().enumerate() {
            *p += cfg.bptt;
            if *p + cfg.bptt + 1 >= data.len() || rng.below(256) == 0 {
                *p = rng.below(data.len() - cfg.bptt - 1);
                reset[i] = 0.0;
            }
        }
        h = h.broadcast_mul(&Tensor::from_vec(reset, (cfg.batch, 1), &dev)?)?;
        if (step + 1) % report_every.max(1) == 0 || step + 1 == cfg.steps {
            report(TrainReport { step: step + 1, bits: acc / f64::from(n), quantised: quant });
            (acc, n) = (0.0, 0);
        }
    }
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_learns_a_simple_language_and_exports() {
        // A repetitive text: a few hundred steps must get well below 8 bits.
        let text: Vec<u8> = b"the cat sat on the mat. ".iter().copied().cycle().take(20_000).collect();
        let cfg = TrainConfig {
            hidden: 32,
            batch: 8,
            bptt: 24,
            steps: 300,
            lr: 1e-2,
            qat_from: 200,
            ..TrainConfig::default()
        };
        let mut last = f64::MAX;
        let model = train(
            &text,
            &cfg,
            |r| {
                eprintln!("{r:?}");
                last = r.bits
            },
            50,
        )
        .unwrap();
        assert!(last < 2.0, "bits per byte after training: {last}");
        let p = model.export().unwrap();
        assert_eq!(p.w.len(), (3 * 32 + 256) * 32);
        let bytes = super::super::package::save_gru(&p, serde_json::Map::new()).unwrap();
        let lm = super::super::package::load_gru(&bytes).unwrap();
        assert_eq!(lm.hidden(), 32);
        // The integer model codes as well as the fake-quantised float model.
        let sample = &text[1000..4000];
        let float_bits = model.eval_bits(sample).unwrap();
        let int_bits = crate::models::lm::cross_entropy_bits(sample, &lm, &crate::nn::Backend::Cpu).unwrap()
            / sample.len() as f64;
        eprintln!("float {float_bits:.4} integer {int_bits:.4} bits per byte");
        assert!(
            (int_bits - float_bits).abs() < 0.05 + 0.02 * float_bits,
            "float {float_bits} int {int_bits}"
        );
    }
}
