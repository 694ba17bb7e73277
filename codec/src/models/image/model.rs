//! The image model: planes, prediction, residual binarisation and the
//! context-mixing coder of each binary decision (spec/MODELS.md §7).

use super::net::{slog, Hidden, ImgNet, FEATURES};
use super::predict::{self, Nb, FRAC_BITS, INTER, MAX_PREDICTORS, SPATIAL};
use super::transform::{Layout, Transform};
use super::{Choices, Revision, Stripe};
use crate::entropy::binary::{BitDecode, BitEncode};
use crate::entropy::EntropyError;
use crate::models::cm::adaptive::{prefetch, HistoryMap, StateMap};
use crate::models::cm::hash::mix;
use crate::models::cm::mixer::Mixer;
use crate::models::cm::tables::{squash, stretch, NEXT};

/// Codes or decodes one bit: the encoder returns the bit it was given, the
/// decoder the bit it read. The model is written once over this trait.
trait BitIo {
    fn bit(&mut self, bit: bool, p1: u16) -> Result<bool, EntropyError>;
}

struct EncIo<'a, E: BitEncode>(&'a mut E);

impl<E: BitEncode> BitIo for EncIo<'_, E> {
    #[inline]
    fn bit(&mut self, bit: bool, p1: u16) -> Result<bool, EntropyError> {
        self.0.encode_bit(bit, p1);
        Ok(bit)
    }
}

struct DecIo<'a, D: BitDecode>(&'a mut D);

impl<D: BitDecode> BitIo for DecIo<'_, D> {
    #[inline]
    fn bit(&mut self, _bit: bool, p1: u16) -> Result<bool, EntropyError> {
        self.0.decode_bit(p1)
    }
}

// ---------------------------------------------------------------------------
// Binarisation (spec §4.4)
// ---------------------------------------------------------------------------

/// Bits of a decision-node number; every node is below 2^NODE_BITS.
const NODE_BITS: u32 = 6;
const NODES: usize = 1 << NODE_BITS;
/// Node of "residual is zero".
const ZERO: usize = 0;
/// Node of "residual is positive".
const SIGN: usize = 1;

/// Node of the unary decision "the magnitude is beyond bucket k", for sign s.
#[inline]
fn unary_node(k: u32, positive: bool) -> usize {
    2 + 2 * k.min(9) as usize + usize::from(positive)
}

/// Node of mantissa bit `j` (0 = most significant) of bucket `k`.
#[inline]
fn mant_node(k: u32, j: u32) -> usize {
    22 + 3 * (k.max(1) - 1).min(13) as usize + j.min(2) as usize
}

/// Entries per bucket of a hashed table (a quarter of a 64-byte cache line).
const HSLOTS: usize = 16;

/// The bucket slot of a decision in the hashed tables, or [`HSLOTS`] for a
/// decision hashed on its own: zero, sign, the first four unary decisions of
/// each sign, and the first mantissa bits of buckets 1 and 2.
#[inline]
fn hslot(node: usize, hx: usize) -> usize {
    match node {
        0..=9 => node,
        22 => 10,
        25 => 11,
        26 => 12 + ((hx >> (NODE_BITS + 2)) & 1),
        _ => HSLOTS,
    }
}

/// Node classes (for the mixer's weight selection): zero, sign, unary, mantissa.
#[inline]
fn node_class(node: usize) -> usize {
    match node {
        ZERO => 0,
        SIGN => 1,
        2..=21 => 2,
        _ => 3,
    }
}

// ---------------------------------------------------------------------------
// Context quantisers (spec §4.5)
// ---------------------------------------------------------------------------

/// Roughly 2·log2(v): 0, 1, 2, 3 for v < 4, then two steps per octave,
/// capped at 15 (v >= 192).
#[inline]
fn qlog(v: u32) -> usize {
    if v < 4 {
        return v as usize;
    }
    let b = 32 - v.leading_zeros(); // >= 3
    let q = 2 * b - 2 + ((v >> (b - 2)) & 1);
    (q as usize).min(15)
}

/// A signed difference in 1/8 units in 15 classes: 0, ±1..3, ±4..7,
/// ±8..15, ±16..31, ±32..63, ±64..127, beyond (index 0..=14).
#[inline]
fn qdiff(d: i32) -> usize {
    let a = d.unsigned_abs();
    let m = if a == 0 { 0 } else { (33 - a.leading_zeros() as i32).min(8) - 1 };
    (7 + if d < 0 { -m } else { m }) as usize
}

/// A signed residual in 11 classes: 0, ±1, ±2, ±3..4, ±5..8, beyond (index 0..=10).
#[inline]
fn qsign(r: i32) -> usize {
    let a = r.unsigned_abs();
    let m: i32 = match a {
        0 => 0,
        1 => 1,
        2 => 2,
        3..=4 => 3,
        5..=8 => 4,
        _ => 5,
    };
    (5 + if r < 0 { -m } else { m }) as usize
}

// ---------------------------------------------------------------------------
// Planes
// ---------------------------------------------------------------------------

/// Rows kept per plane: the current row and three above it (a ring).
const RING: usize = 4;

/// Left and right padding columns.
const PAD: usize = 2;

/// One plane's state over the ring of rows.
#[derive(Debug, Clone)]
struct Plane {
    lo: i32,
    hi: i32,
    /// Number of predictors.
    np: usize,
    /// Reference planes for the inter-plane predictors.
    refs: [usize; 2],
    nrefs: usize,
    /// Values, `RING × stride`.
    vals: Vec<i32>,
    /// Absolute error of each predictor (×8), `RING × stride × np`.
    errs: Vec<u32>,
    /// For the current row, per position and predictor, the part of the
    /// predictor's error sum (spec §7.4) that the two rows above give:
    /// `3·N + 2·NW + 2·NE + NWW + NN + NNE` (`stride × np`; computed once per
    /// row, so that a sample reads one array instead of two rows).
    above: Vec<u32>,
    /// Residual of the final prediction (sample units), `RING × stride`.
    res: Vec<i32>,
    /// Weights (Q16) of the fast NLMS filter over its taps (spec §4.5).
    lms: [i32; LMS_TAPS],
    lms2: [i32; LMS_TAPS],
}

/// Direct context tables, their sizes (contexts, before the node bits).
const T_SIZES: [usize; 7] = [
    4 * 16 * 8,
    4 * 11 * 11 * 4 * 3,
    4 * 11 * 11 * 8,
    4 * 16 * 16,
    4 * 15 * 15 * 4,
    4 * 15 * 15 * 4,
    4 * 15 * 15 * 4,
];
const NT: usize = T_SIZES.len();
/// The direct context tables of method `imgf` (spec §7.15), their sizes
/// (contexts, before the node bits): local error level by residual
/// activity; the residuals at W and N by the prediction's fraction; the
/// residuals of the pixel's planes coded before by residual activity.
const FAST_SIZES: [usize; 3] = [4 * 16 * 16, 4 * 11 * 11 * 8, 4 * 11 * 11 * 8];
/// Mixer inputs of method `imgf`: its direct tables, the first hashed table
/// and a constant.
const FAST_INPUTS: usize = FAST_SIZES.len() + 2;
/// Pixel positions that the direct tables tell apart in a stripe with the
/// grid (method `img3`, spec §7.14): row and column modulo 4.
const GRID_CLASSES: usize = 16;
/// Hashed context tables.
const NH: usize = 3;
/// Mixer inputs: the tables and a constant (and the network's logit before
/// the constant, with a network).
const N_INPUTS: usize = NT + NH + 1;

/// Rows of a stripe on which the encoder tries each colour transform, in
/// blocks of `TRIAL_BLOCK` rows spread over the stripe.
const TRIAL_ROWS: usize = 32;
const TRIAL_BLOCK: usize = 8;
/// Blocks of `TRIAL_BLOCK` rows, spread over the whole image, on which the
/// encoder tries each candidate network: on the train split's photos 16 rows
/// chose as well as 32 or 64 (spec §7.11).
const NET_TRIAL_BLOCKS: usize = 2;
/// Blocks of `TRIAL_BLOCK` rows on which the encoder tries the grid (spec
/// §7.14), and the ratio of the trial's sizes with and without it below
/// which it switches the grid on; stripes of fewer pixels go without. On the
/// train split's photos 64 rows and a slack of 0.4% chose almost as well
/// as coding every stripe both ways (spec §7.14).
const GRID_TRIAL_BLOCKS: usize = 8;
const GRID_TRIAL_SLACK: (usize, usize) = (1004, 1000);
const GRID_MIN_PIXELS: usize = 1 << 16;

/// Pixels of a stripe from which its model's tables are mapped whole before
/// coding (the stripes of every image that two threads share, §7.10).
const POPULATE_MIN_PIXELS: usize = 1 << 16;

/// Predictors that the NLMS filters add (none in method `imgf`).
const LMS_PREDICTORS: usize = 2;
/// Taps of the NLMS predictor: twelve neighbours and two per reference plane.
const LMS_TAPS: usize = 18;
/// NLMS steps: 2^-LMS_MU (fast) and 2^-LMS_SLOW_MU (slow); the two filters
/// share their taps.
const LMS_MU: u32 = 3;
const LMS_SLOW_MU: u32 = 8;

/// Largest and smallest hashed-table sizes (log2 of the entries).
const HASH_BITS_MAX: u32 = 22;
const HASH_BITS_MIN: u32 = 16;

/// Trial cost (quarter bits per sample) above which the encoder chooses
/// small hashed tables (spec §7.11).
const PHOTO_QUARTER_BITS: usize = 5;

/// Count limit of the direct and hashed state maps.
const T_LIMIT: u32 = 255;
const H_LIMIT: u32 = 127;
/// Mixer learning rates.
const LR: i32 = 6;
const LR_FINAL: i32 = 2;

/// Tuning aid: print the ideal code length per plane and node class to
/// stderr when a model is dropped (never on in a release).
const STATS: bool = false;

/// The two-dimensional match model of method `img2` (spec §7.13). The
/// pixel after the last one whose causal neighbours W, WW and N (every
/// channel, exactly) were those of the current pixel predicts it; once that
/// prediction is right, the pixels after the predicting one predict the next
/// pixels, for as long as they stay right (text, icons and window borders
/// repeat exactly in screenshots). For each decision of a plane whose
/// decisions so far agree with the predicted value's, the mixer gets the
/// expected bit's probability in the context of the run's length.
#[derive(Debug, Clone)]
struct Matcher {
    /// Hash of a neighbourhood -> the index of its pixel + 1 (0: none).
    table: Vec<u32>,
    /// log2 of the table's entries.
    bits: u32,
    /// The predicting pixel.
    ptr: Option<usize>,
    /// Pixels in a row that it predicted exactly (every plane).
    len: u32,
    /// Its plane values (under the stripe's transform).
    pred: [i32; 4],
    /// P(1) by (length bucket, expected bit, node class).
    sm: StateMap,
}

/// Smallest and largest match tables (log2 of the entries).
const MATCH_BITS_MIN: u32 = 12;
const MATCH_BITS_MAX: u32 = 20;
/// Run lengths above this share a context.
const MATCH_LEN_CAP: u32 = 15;
/// Count limit of the match model's state map.
const MATCH_LIMIT: u32 = 1023;
/// With the small hashed tables (photographs), the encoder switches the
/// match model on when it codes the trial rows at most `.0 / .1` as large.
const MATCH_TRIAL_GAIN: (usize, usize) = (31, 32);

impl Matcher {
    /// A match model for a stripe of `pixels` pixels: `bitlen(pixels)`
    /// table bits, within 12..=20.
    fn new(pixels: usize) -> Matcher {
        let bits = (usize::BITS - pixels.leading_zeros()).clamp(MATCH_BITS_MIN, MATCH_BITS_MAX);
        Matcher {
            table: vec![0; 1 << bits],
            bits,
            ptr: None,
            len: 0,
            pred: [0; 4],
            sm: StateMap::new((MATCH_LEN_CAP as usize + 1) * 2 * 4, MATCH_LIMIT),
        }
    }

    /// Before pixel (`y`, `x`) of a stripe `width` pixels wide: find its
    /// predicting pixel and prediction, and record its neighbourhood.
    /// `view` holds the stripe's samples (canonical layout, `wide`: two bytes
    /// each) at least up to this pixel; only earlier pixels are read.
    fn find(&mut self, view: &[u8], y: usize, x: usize, width: usize, layout: &Layout, wide: bool) {
        let ch = layout.channels;
        let sample = |i: usize| -> i32 {
            if wide {
                let b = view.get(2 * i..2 * i + 2).unwrap_or(&[0, 0]);
                i32::from(u16::from_be_bytes([b[0], b[1]]))
            } else {
                view.get(i).map_or(0, |&v| i32::from(v))
            }
        };
        let cur = y * width + x;
        let key = (y >= 1 && x >= 2).then(|| {
            let mut h = 0;
            for p in [cur - 1, cur - 2, cur - width] {
                h = mix(h, (0..ch).fold(0u64, |k, c| k << 16 | sample(p * ch + c) as u64));
            }
            (h >> (64 - self.bits)) as usize
        });
        self.ptr = match self.ptr {
            // A run goes on from the pixel after the one that was right.
            Some(p) if self.len > 0 => Some(p + 1),
            _ => {
                self.len = 0;
                key.and_then(|k| (self.table[k] as usize).checked_sub(1))
            }
        };
        if let Some(k) = key {
            self.table[k] = (cur + 1) as u32;
        }
        if let Some(p) = self.ptr {
            let mut c = [0i32; 4];
            for (k, cv) in c.iter_mut().enumerate().take(ch) {
                *cv = sample(p * ch + k);
            }
            self.pred = layout.forward(&c);
        }
    }

    /// After the pixel (plane values `actual`): the run grows when every
    /// plane was predicted, else it ends.
    fn settle(&mut self, actual: &[i32; 4], planes: usize) {
        if self.ptr.is_some() {
            if self.pred[..planes] == actual[..planes] {
                self.len = self.len.saturating_add(1);
            } else {
                self.len = 0;
                self.ptr = None;
            }
        }
    }

    /// The state-map context of a decision of class `cls` whose expected bit
    /// is `e`.
    #[inline]
    fn context(&self, e: bool, cls: usize) -> usize {
        ((self.len.min(MATCH_LEN_CAP) as usize * 2 + usize::from(e)) << 2) + cls
    }
}

/// The model of one stripe.
pub(crate) struct Model<'a> {
    /// The match model (method `img2`, when the stripe switches it on).
    matcher: Option<Matcher>,
    /// The current sample's residual as the match model predicts it, while
    /// the decisions coded so far agree with it.
    mres: Option<i32>,
    /// The learned network (method `imgnn`), or none (method `img`).
    net: Option<&'a ImgNet>,
    /// The network's hidden activations for the current sample.
    hid: Hidden,
    /// When collecting training records ([`records`]): `k`, to record one
    /// in `2^k` sub-pixels (0: all), and the records (features, node, bit,
    /// probability) so far.
    records: Option<(u32, Vec<u8>)>,
    /// The current sample's features, and whether it is recorded.
    feat: [i8; FEATURES],
    recorded: bool,
    /// Ideal code length per plane and node class (only with `STATS`).
    cost: [[f64; 4]; 4],
    decisions: u64,
    plane: usize,
    width: usize,
    rows: usize,
    stride: usize,
    maxval: i32,
    /// Right shift that brings error magnitudes to an 8-bit scale.
    dsh: u32,
    layout: Layout,
    planes: Vec<Plane>,
    t: [StateMap; NT],
    /// Method `imgf` (spec §7.15): no NLMS predictors, no network, match
    /// model or grid, and each decision mixes only [`FAST_SIZES`]'s tables
    /// (`fast_t`, empty otherwise) and the first hashed table.
    fast: bool,
    fast_t: [StateMap; 3],
    fast_base: [usize; 3],
    /// Hashed tables of bit-history states, and per table and node class
    /// the map from a state to a probability.
    h: [Vec<u8>; NH],
    hmap: [HistoryMap; NH * 4],
    hbits: u32,
    mixer: Mixer,

    /// Whether the direct tables tell grid positions apart (spec §7.14).
    grid: bool,
    /// The sample's position in the grid times 64 (0 without the grid).
    gpos: usize,

    // Per-sample contexts.
    base: [usize; NT],
    hbase: [usize; NH],
    sel0: usize,
    sel1: usize,
    fin: usize,

    /// Extra key of the hashed contexts (the mantissa prefix).
    hx: usize,
    /// The full hashes of the hashed contexts.
    hraw: [u64; NH],
}

impl<'a> Model<'a> {
    /// A fresh model for stripe `s` under the choices of its header `head`:
    /// colour transform, hashed tables of at most `2^(22 - 2·hash)` entries
    /// (spec §7.1), the match model (§7.13) and the grid (§7.14); with the
    /// learned network `net` as one more mixer input (spec §7.12).
    pub(crate) fn new(s: &Stripe, head: Head, net: Option<&'a ImgNet>) -> Model<'a> {
        let Head { transform, hash, matching, grid, fast } = head;
        // Method imgf has no network, match model or grid (its header has no
        // such flags, so they are off, and its callers pass no network).
        let (net, matching, grid) = if fast { (None, false, false) } else { (net, matching, grid) };
        let width = s.width as usize;
        let stride = width + 2 * PAD;
        let layout = Layout::new(s.color, s.maxval, transform);
        let pixels = width.saturating_mul(s.rows as usize);
        // Hash tables: about 8 entries per sample, 2^16..=2^(22 - 2·hash).
        let want = pixels.saturating_mul(layout.planes).saturating_mul(8).max(1);
        let cap = HASH_BITS_MAX.saturating_sub(2 * hash.min(3)).max(HASH_BITS_MIN);
        let hbits = (usize::BITS - want.leading_zeros() + 1).clamp(HASH_BITS_MIN, cap);
        let matcher = matching.then(|| Matcher::new(pixels));
        let mut m = Model {
            matcher,
            mres: None,
            net,
            hid: [0; super::net::MAX_HIDDEN],
            records: None,
            feat: [0; FEATURES],
            recorded: false,
            cost: [[0.0; 4]; 4],
            decisions: 0,
            plane: 0,
            width,
            rows: s.rows as usize,
            stride,
            maxval: i32::from(s.maxval),
            dsh: (16 - s.maxval.leading_zeros()).saturating_sub(8),
            layout,
            planes: Vec::new(),
            t: std::array::from_fn(|i| {
                let n = if fast { 0 } else { T_SIZES[i] * NODES * if grid { GRID_CLASSES } else { 1 } };
                StateMap::new(n, T_LIMIT)
            }),
            fast,
            fast_t: std::array::from_fn(|i| {
                StateMap::new(if fast { FAST_SIZES[i] * NODES } else { 0 }, T_LIMIT)
            }),
            fast_base: [0; 3],
            grid,
            gpos: 0,
            h: std::array::from_fn(|j| vec![0u8; if fast && j > 0 { 0 } else { 1 << hbits }]),
            hmap: std::array::from_fn(|_| HistoryMap::new(H_LIMIT)),
            hbits,
            mixer: match fast {
                true => Mixer::new(FAST_INPUTS, &[4 * NODES], 1, LR, LR_FINAL),
                false => Mixer::new(
                    N_INPUTS + usize::from(net.is_some()) + usize::from(matching),
                    &[4 * NODES, 4 * 16 * 4],
                    if matching { 32 } else { 16 },
                    LR,
                    LR_FINAL,
                ),
            },

            base: [0; NT],
            hbase: [0; NH],
            sel0: 0,
            sel1: 0,
            fin: 0,

            hx: 0,
            hraw: [0; NH],
        };
        m.set_layout(layout);
        m
    }

    /// The model with every page of its tables mapped now (see
    /// [`adaptive::populate`](crate::models::cm::adaptive::populate)): for
    /// coding a whole stripe of at least [`POPULATE_MIN_PIXELS`] pixels, not
    /// for the encoder's trials on a few rows or for small images, which use
    /// little of the tables (so the work stays in proportion to the stripe,
    /// whatever its header asks for). Changes no state.
    fn populated(mut self) -> Self {
        use crate::models::cm::adaptive::populate;
        if self.width.saturating_mul(self.rows) < POPULATE_MIN_PIXELS {
            return self;
        }
        for t in self.t.iter_mut().chain(self.fast_t.iter_mut()) {
            t.populate();
        }
        for h in &mut self.h {
            populate(h);
        }
        if let Some(m) = self.matcher.as_mut() {
            populate(&mut m.table);
        }
        self
    }

    /// Set up the planes for `layout` (fresh state).
    fn set_layout(&mut self, layout: Layout) {
        self.layout = layout;
        let stride = self.stride;
        self.planes = (0..layout.planes)
            .map(|c| {
                let (lo, hi) = layout.ranges[c];
                let init = if lo < 0 { 0 } else { (hi + 1) / 2 };
                // The second colour plane follows the first; the third follows both.
                let (refs, nrefs) = if c == layout.first_color + 1 {
                    ([layout.first_color, 0], 1)
                } else if c == layout.first_color + 2 {
                    ([layout.first_color, layout.first_color + 1], 2)
                } else {
                    ([0, 0], 0)
                };
                let np = SPATIAL + INTER * nrefs + if self.fast { 0 } else { LMS_PREDICTORS };
                Plane {
                    lo,
                    hi,
                    np,
                    refs,
                    nrefs,
                    vals: vec![init; RING * stride],
                    errs: vec![0; RING * stride * np],
                    above: vec![0; stride * np],
                    res: vec![0; RING * stride],
                    lms: [0; LMS_TAPS],
                    lms2: [0; LMS_TAPS],
                }
            })
            .collect();
    }

    /// Offset of row `y` (which may be -1 or -2) in a plane's ring.
    #[inline]
    fn row(&self, y: usize) -> usize {
        (y % RING) * self.stride
    }

    /// Code every sample of the stripe: read from `src` (encoder) or written
    /// to `out` (decoder).
    fn run<IO: BitIo>(
        &mut self,
        io: &mut IO,
        src: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> Result<(), EntropyError> {
        #[cfg(target_arch = "x86_64")]
        if crate::isa::avx2() {
            #[allow(unsafe_code)]
            // SAFETY: the processor supports AVX2 (`isa::avx2` checked it),
            // the only requirement of `run_avx2`.
            return unsafe { self.run_avx2(io, src, out) };
        }
        self.run_portable(io, src, out)
    }

    /// [`Model::run`] compiled with AVX2: integer operations, so the same
    /// values as [`Model::run_portable`].
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[allow(unsafe_code)]
    unsafe fn run_avx2<IO: BitIo>(
        &mut self,
        io: &mut IO,
        src: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> Result<(), EntropyError> {
        self.run_portable(io, src, out)
    }

    /// The coding loop compiled for any processor: the reference.
    #[inline(always)]
    fn run_portable<IO: BitIo>(
        &mut self,
        io: &mut IO,
        src: Option<&[u8]>,
        out: &mut Vec<u8>,
    ) -> Result<(), EntropyError> {
        let layout = self.layout;
        let ch = layout.channels;
        let wide = self.maxval > 255;
        let bps = if wide { 2 } else { 1 };
        let base = out.len();
        for y in 0..self.rows {
            self.start_row(y);
            for x in 0..self.width {
                if let Some(m) = &mut self.matcher {
                    let view = match src {
                        Some(s) => s,
                        None => &out[base..],
                    };
                    m.find(view, y, x, self.width, &layout, wide);
                }
                let mut v = [0i32; 4];
                if let Some(src) = src {
                    let at = (y * self.width + x) * ch * bps;
                    let mut c = [0i32; 4];
                    for (k, cv) in c.iter_mut().enumerate().take(ch) {
                        *cv = if wide {
                            i32::from(u16::from_be_bytes([src[at + 2 * k], src[at + 2 * k + 1]]))
                        } else {
                            i32::from(src[at + k])
                        };
                    }
                    v = layout.forward(&c);
                }
                for (p, vp) in v.iter_mut().enumerate().take(layout.planes) {
                    *vp = self.code_sample(io, p, y, x, *vp)?;
                }
                if let Some(m) = &mut self.matcher {
                    m.settle(&v, layout.planes);
                }
                if src.is_none() {
                    let c = layout.inverse(&v, self.maxval);
                    for &cv in c.iter().take(ch) {
                        if wide {
                            out.extend_from_slice(&(cv as u16).to_be_bytes());
                        } else {
                            out.push(cv as u8);
                        }
                    }
                }
            }
            self.end_row(y);
        }
        Ok(())
    }

    /// Before row `y`: the left padding repeats the first sample of the row
    /// above (and its errors and residual), and each plane's `above` takes
    /// the row's error sums over the rows above.
    fn start_row(&mut self, y: usize) {
        let cur = self.row(y + RING);
        let up = self.row(y + RING - 1);
        let up2 = self.row(y + RING - 2);
        let (stride, width) = (self.stride, self.width);
        for p in &mut self.planes {
            let np = p.np;
            for pad in 0..PAD {
                p.vals[cur + pad] = p.vals[up + PAD];
                p.res[cur + pad] = p.res[up + PAD];
                let (dst, src) = ((cur + pad) * np, (up + PAD) * np);
                p.errs.copy_within(src..src + np, dst);
            }
            // Positions PAD..PAD + width read NWW..NE of the row above and
            // NN, NNE of the one above it, all within the padded rows.
            let e1 = &p.errs[up * np..(up + stride) * np];
            let e2 = &p.errs[up2 * np..(up2 + stride) * np];
            let (lo, hi) = (PAD * np, (PAD + width) * np);
            let rows = e1[lo..hi]
                .iter()
                .zip(&e1[lo - np..hi - np])
                .zip(&e1[lo + np..hi + np])
                .zip(&e1[lo - 2 * np..hi - 2 * np])
                .zip(e2[lo..hi].iter().zip(&e2[lo + np..hi + np]));
            for (a, ((((&n, &nw), &ne), &nww), (&nn, &nne))) in p.above[lo..hi].iter_mut().zip(rows) {
                *a = 3 * n + 2 * nw + 2 * ne + nww + nn + nne;
            }
        }
    }

    /// After row `y`: the right padding repeats the row's last sample.
    fn end_row(&mut self, y: usize) {
        let cur = self.row(y + RING);
        let last = cur + PAD + self.width - 1;
        for p in &mut self.planes {
            let np = p.np;
            for pad in 1..=PAD {
                p.vals[last + pad] = p.vals[last];
                p.res[last + pad] = p.res[last];
                p.errs.copy_within(last * np..(last + 1) * np, (last + pad) * np);
            }
        }
    }

    /// Predict and code (or decode) the sample of plane `c` at (`y`, `x`),
    /// whose value is `value` when encoding; returns the value.
    #[inline(always)]
    fn code_sample<IO: BitIo>(
        &mut self,
        io: &mut IO,
        c: usize,
        y: usize,
        x: usize,
        value: i32,
    ) -> Result<i32, EntropyError> {
        let cur = self.row(y + RING) + PAD + x;
        let up = self.row(y + RING - 1) + PAD + x;
        let up2 = self.row(y + RING - 2) + PAD + x;
        let nb_of = |p: &Plane| Nb {
            w: p.vals[cur - 1],
            n: p.vals[up],
            nw: p.vals[up - 1],
            ne: p.vals[up + 1],
            ww: p.vals[cur - 2],
            nn: p.vals[up2],
            nne: p.vals[up2 + 1],
        };
        self.plane = c;
        let pl = &self.planes[c];
        let (lo, hi, np, nrefs) = (pl.lo, pl.hi, pl.np, pl.nrefs);
        let nb = nb_of(pl);

        // Predictors.
        let mut preds = [0i32; MAX_PREDICTORS];
        predict::spatial(&nb, &mut preds);
        let mut rres = [0i32; 2];
        for (r, (rr, &rc)) in rres.iter_mut().zip(&pl.refs).take(pl.nrefs).enumerate() {
            let rp = &self.planes[rc];
            predict::inter(&nb, &nb_of(rp), rp.vals[cur], &mut preds, SPATIAL + INTER * r);
            *rr = rp.res[cur];
        }
        // NLMS over differences to W (not in method imgf).
        let fast = self.fast;
        let mut taps = [0i32; LMS_TAPS];
        let (mut lms_pred, mut lms2_pred) = (0, 0);
        if !fast {
            let v = &pl.vals;
            let up3 = self.row(y + RING - 3) + PAD + x;
            taps[..12].copy_from_slice(&[
                nb.n - nb.w,
                nb.nw - nb.w,
                nb.ne - nb.w,
                nb.ww - nb.w,
                nb.nn - nb.w,
                nb.nne - nb.w,
                v[up - 2] - nb.w,
                v[up2 - 1] - nb.w,
                v[up + 2] - nb.w,
                v[up2 + 2] - nb.w,
                v[up3] - nb.w,
                v[up2 - 2] - nb.w,
            ]);
            for r in 0..pl.nrefs {
                let rp = &self.planes[pl.refs[r]];
                let rx = rp.vals[cur];
                taps[12 + 3 * r] = rx - rp.vals[cur - 1];
                taps[13 + 3 * r] = rx - rp.vals[up];
                taps[14 + 3 * r] = rp.res[cur];
            }
            let filter = |weights: &[i32; LMS_TAPS]| {
                let acc: i64 = weights.iter().zip(&taps).map(|(&w, &t)| i64::from(w) * i64::from(t)).sum();
                (nb.w << FRAC_BITS) + (acc >> (16 - FRAC_BITS)).clamp(-(1 << 24), 1 << 24) as i32
            };
            lms_pred = filter(&pl.lms);
            lms2_pred = filter(&pl.lms2);
            preds[np - 1] = lms_pred;
            preds[np - 2] = lms2_pred;
        }
        let (plo, phi) = (lo << FRAC_BITS, hi << FRAC_BITS);
        for p in &mut preds[..np] {
            *p = (*p).clamp(plo, phi);
        }

        // Error sums of the predictors around the sample.
        let mut es = [0u32; MAX_PREDICTORS];
        {
            let w = &pl.errs[(cur - 1) * np..cur * np];
            let ww = &pl.errs[(cur - 2) * np..(cur - 1) * np];
            let a = &pl.above[(PAD + x) * np..(PAD + x + 1) * np];
            for ((s, &a), (&w, &ww)) in es[..np].iter_mut().zip(a).zip(w.iter().zip(ww)) {
                *s = a + 3 * w + ww;
            }
        }
        let (blended, emin) = predict::blend(&preds[..np], &es[..np]);
        let (pmin, pmax) = preds[..np].iter().fold((i32::MAX, i32::MIN), |(a, b), &p| (a.min(p), b.max(p)));
        let qspread = qlog(((pmax - pmin) >> FRAC_BITS) as u32 >> self.dsh);

        // Residual contexts.
        let res = &pl.res;
        let (r_w, r_n, r_nw, r_ne) = (res[cur - 1], res[up], res[up - 1], res[up + 1]);
        let sa = 2 * r_w.unsigned_abs() + 2 * r_n.unsigned_abs() + r_nw.unsigned_abs() + r_ne.unsigned_abs();
        let qa = qlog(sa >> self.dsh);
        let qb = qlog(emin >> (FRAC_BITS + self.dsh));
        let pred = blended.clamp(plo, phi);
        let phat = ((pred + (1 << (FRAC_BITS - 1))) >> FRAC_BITS).clamp(lo, hi);
        let frac = (pred + (1 << (FRAC_BITS - 1)) - (phat << FRAC_BITS)).clamp(0, 7) as usize;

        // The pixel's alpha (coded first) for its colour planes: 0, transparent,
        // opaque or in between.
        let aclass = if self.layout.alpha && c > 0 {
            match self.planes[0].vals[cur] {
                0 => 1,
                a if a == self.maxval => 0,
                _ => 2,
            }
        } else {
            0
        };

        // Contexts of the decisions. Both methods have the first hashed
        // context: exact neighbour values relative to the prediction
        // (graphics repeat them exactly).
        let ds = |r: i32| qsign(r >> self.dsh);
        let hshift = 64 - self.hbits;
        let d = |v: i32| (v - phat) as u32 as u64;
        let (dw, dn, dnw, dne) = (d(nb.w), d(nb.n), d(nb.nw), d(nb.ne));
        let h0 = mix(mix(c as u64 + 1 + ((aclass as u64) << 8), dw << 32 | dn), dnw << 32 | dne);
        self.sel0 = c * NODES;
        if fast {
            self.fast_base = [
                (c * 16 + qb) * 16 + qa,
                ((c * 11 + ds(r_w)) * 11 + ds(r_n)) * 8 + frac,
                ((c * 11 + ds(rres[0])) * 11 + ds(rres[1])) * 8 + (qa >> 1),
            ]
            .map(|b| b << NODE_BITS);
            self.hraw[0] = h0;
            self.hbase[0] = (h0 >> hshift) as usize & !(HSLOTS - 1);
        } else {
            self.base = [
                (c * 16 + qb) * 8 + frac,
                (((c * 11 + ds(r_w)) * 11 + ds(r_n)) * 4 + (qa >> 2)) * 3 + aclass,
                ((c * 11 + ds(rres[0])) * 11 + ds(rres[1])) * 8 + (qa >> 1),
                (c * 16 + qspread) * 16 + qb,
                ((c * 15 + qdiff(preds[3] - pred)) * 15 + qdiff(preds[np - 1] - pred)) * 4 + (qa >> 2),
                ((c * 15 + qdiff(preds[0] - pred)) * 15 + qdiff(preds[1] - pred)) * 4 + (qa >> 2),
                ((c * 15 + qdiff(preds[SPATIAL] - pred)) * 15 + qdiff(preds[SPATIAL + 1] - pred)) * 4
                    + (qa >> 2),
            ];
            for (b, &n) in self.base.iter_mut().zip(&T_SIZES) {
                *b = (*b).min(n - 1) << NODE_BITS;
            }
            if self.grid {
                self.gpos = ((y & 3) * 4 + (x & 3)) << NODE_BITS;
            }
            // The other hashed contexts: exact neighbour values relative to the
            // prediction with the residuals of the pixel's planes coded before.
            let (pr, pe) = if c > 0 {
                let p = &self.planes[c - 1];
                let v = p.vals[cur];
                (p.res[cur], u64::from(v == p.vals[cur - 1]) | u64::from(v == p.vals[up]) << 1)
            } else {
                (0, 0)
            };
            let h1 = mix(
                mix(c as u64 + 17, (rres[0] as u32 as u64) << 32 | pr as u32 as u64),
                (dw << 32 | dn) ^ pe << 62,
            );
            let h2 = mix(
                mix(mix(c as u64 + 33, dw << 32 | dn), dnw << 32 | dne),
                d(nb.ww) << 42 ^ d(nb.nn) << 21 ^ d(nb.nne),
            );
            self.hraw = [h0, h1, h2];
            for (b, &h) in self.hbase.iter_mut().zip(&self.hraw) {
                *b = (h >> hshift) as usize & !(HSLOTS - 1);
            }
            // The sample's decisions read these lines of the tables: ask for them
            // now, so that memory works while the features and the network are
            // computed (a hint; nothing changes).
            for (t, &b) in self.t.iter().zip(&self.base) {
                t.prefetch(self.entry(b, 0));
                t.prefetch(self.entry(b, 16));
            }
            for (h, &b) in self.h.iter().zip(&self.hbase) {
                prefetch(&h[b]);
            }
            self.sel1 = (c * 16 + qa) * 4;
            self.fin = c * 4;

            // The network's features (spec §7.12), for the network or for a
            // training record.
            self.recorded = match self.records {
                Some((k, _)) => k == 0 || mix((y as u64) << 32 | x as u64, c as u64 + 99) >> (64 - k) == 0,
                None => false,
            };
            if self.net.is_some() || self.recorded {
                let sh = self.dsh;
                let q = |v: i32| slog(v >> sh);
                let qu = |v: u32| slog((v >> sh).min(1 << 30) as i32);
                let rel = |v: i32| q((v << FRAC_BITS) - pred);
                let pl = &self.planes[c];
                let v = &pl.vals;
                let up3 = self.row(y + RING - 3) + PAD + x;
                let lme = qu(emin);
                let f = &mut self.feat;
                for (fi, &pos) in f[..7].iter_mut().zip(&[cur - 1, up, up - 1, up + 1, cur - 2, up2, up2 + 1])
                {
                    *fi = rel(v[pos]);
                }
                for (fi, r) in f[7..14].iter_mut().zip([r_w, r_n, r_nw, r_ne, rres[0], rres[1], pr]) {
                    *fi = q(r << FRAC_BITS);
                }
                for (fi, k) in f[14..19].iter_mut().zip([0, 1, 3, np - 1, np - 2]) {
                    *fi = q(preds[k] - pred);
                }
                f[19] = if nrefs > 0 { q(preds[SPATIAL] - pred) } else { 0 };
                f[20] = if nrefs > 0 { q(preds[SPATIAL + 1] - pred) } else { 0 };
                f[21] = lme;
                f[22] = q(pmax - pmin);
                f[23] = qu(sa << FRAC_BITS);
                f[24] = (frac as i8) << 4;
                for (fi, k) in f[25..29].iter_mut().zip([0, 1, 3, np - 1]) {
                    *fi = qu(es[k]).saturating_sub(lme);
                }
                f[29] = (c as i8) << 5;
                f[30] = (nrefs as i8) << 5;
                f[31] = 64;
                for (fi, &pos) in f[32..38].iter_mut().zip(&[up - 2, up2 - 1, up + 2, up2 + 2, up3, up2 - 2])
                {
                    *fi = rel(v[pos]);
                }
                f[38..46].fill(0);
                for (r, &rc) in pl.refs.iter().enumerate().take(nrefs) {
                    let rv = &self.planes[rc].vals;
                    for (i, &pos) in [cur - 1, up, up - 1, up + 1].iter().enumerate() {
                        f[38 + 4 * r + i] = q((rv[cur] - rv[pos]) << FRAC_BITS);
                    }
                }
                f[46] = q(pl.res[cur - 2] << FRAC_BITS);
                f[47] = q(pl.res[up2] << FRAC_BITS);
                if let Some(net) = self.net {
                    self.hid = net.hidden(&self.feat);
                }
            }
        }

        // The residual (spec §4.4).
        let r = value - phat;
        self.hx = 0;
        self.mres = match &self.matcher {
            Some(Matcher { ptr: Some(_), pred, .. }) => Some(pred[c] - phat),
            _ => None,
        };
        let e = self.mres.map(|rh| rh == 0);
        let v = if self.decide(io, ZERO, r == 0, e)? {
            phat
        } else {
            let (pos_ok, neg_ok) = (phat < hi, phat > lo);
            let positive = match (pos_ok, neg_ok) {
                (true, true) => {
                    let e = self.mres.map(|rh| rh > 0);
                    self.decide(io, SIGN, r > 0, e)?
                }
                (p, _) => p,
            };
            if self.mres.is_some_and(|rh| (rh > 0) != positive) {
                self.mres = None;
            }
            let mmax = if positive { hi - phat } else { phat - lo } - 1;
            if mmax < 0 {
                phat // only a damaged stream gets here
            } else {
                let m = r.abs() - 1;
                let mut k = 0u32;
                loop {
                    let next = (2 << k) - 1;
                    if next > mmax {
                        break;
                    }
                    let e = self.mres.map(|rh| rh.abs() > next);
                    if !self.decide(io, unary_node(k, positive), m >= next, e)? {
                        break;
                    }
                    k += 1;
                }
                let first = (1i32 << k) - 1;
                let mut off = 0i32;
                for j in 0..k {
                    let shift = k - 1 - j;
                    let bit = (m - first) >> shift & 1 != 0;
                    // The hashed contexts also see the bits decoded so far, so
                    // that they can learn exact values.
                    self.hx = ((off as usize) << 1 | 1) << (NODE_BITS + j.min(2));
                    let e = self.mres.map(|rh| ((rh.abs() - 1 - first) >> shift) & 1 != 0);
                    let b = self.decide(io, mant_node(k, j), bit, e)?;
                    off = off << 1 | i32::from(b);
                }
                let m = (first + off).min(mmax);
                if positive {
                    phat + m + 1
                } else {
                    phat - m - 1
                }
            }
        };

        // Updates.
        let target = v << FRAC_BITS;
        let pl = &mut self.planes[c];
        if !fast {
            let e8 = i64::from(target - lms_pred);
            let energy: i64 = taps.iter().map(|&t| i64::from(t) * i64::from(t)).sum::<i64>() + 16;
            let g = (e8 << (16 - FRAC_BITS)) / energy;
            for (w, &t) in pl.lms.iter_mut().zip(&taps) {
                *w = (i64::from(*w) + ((g * i64::from(t)) >> LMS_MU)).clamp(-(1 << 20), 1 << 20) as i32;
            }
            let e8 = i64::from(target - lms2_pred);
            let g = (e8 << (16 - FRAC_BITS)) / energy;
            for (w, &t) in pl.lms2.iter_mut().zip(&taps) {
                *w = (i64::from(*w) + ((g * i64::from(t)) >> LMS_SLOW_MU)).clamp(-(1 << 20), 1 << 20) as i32;
            }
        }
        pl.vals[cur] = v;
        pl.res[cur] = v - phat;
        let at = cur * np;
        for (e, &p) in pl.errs[at..at + np].iter_mut().zip(&preds[..np]) {
            *e = (p - target).unsigned_abs();
        }
        if y == 0 {
            // The first row has no row above: make the virtual rows above it
            // follow the row itself, so that N, NE, NN... act as W.
            for yy in [RING - 1, RING - 2] {
                let o = yy * self.stride + PAD + x;
                pl.vals[o + 1] = v;
                pl.vals[o + 2] = v;
            }
        }
        Ok(v)
    }

    /// The entry of `node` in a direct table whose context's base (context
    /// · 64) is `b` (spec §7.8, §7.14): with the grid `(context·16 +
    /// position)·64 + node`, so that a sample's decisions share the cache
    /// lines of one context and position. (Any one-to-one layout codes the
    /// same bytes; `(context·64 + node)·16 + position`, which gives each node
    /// a line of its own, decoded about 20% slower.)
    #[inline]
    fn entry(&self, b: usize, node: usize) -> usize {
        if self.grid {
            b * GRID_CLASSES + self.gpos + node
        } else {
            b | node
        }
    }

    /// Code one decision with the full model.
    #[inline(always)]
    fn decide<IO: BitIo>(
        &mut self,
        io: &mut IO,
        node: usize,
        bit: bool,
        exp: Option<bool>,
    ) -> Result<bool, EntropyError> {
        if self.fast {
            return self.decide_fast(io, node, bit);
        }
        let cls = node_class(node);
        let slot = hslot(node, self.hx);
        let hidx: [usize; NH] = std::array::from_fn(|j| self.hashed_entry(j, node, slot));
        let tidx: [usize; NT] = std::array::from_fn(|i| self.entry(self.base[i], node));
        let hin: [i32; NH] = std::array::from_fn(|j| self.hashed_input(j, hidx[j], cls));
        {
            let x = self.mixer.inputs_mut();
            for ((xi, t), &e) in x.iter_mut().zip(&self.t).zip(&tidx) {
                *xi = stretch(t.p12(e));
            }
            x[NT..NT + NH].copy_from_slice(&hin);
            let mut i = NT + NH;
            if let Some(net) = self.net {
                x[i] = net.logit(&self.hid, node);
                i += 1;
            }
            if let Some(m) = &self.matcher {
                x[i] = match exp {
                    Some(e) => stretch(m.sm.p12(m.context(e, cls))),
                    None => 0,
                };
                i += 1;
            }
            x[i] = 256;
        }
        self.mixer.select(0, self.sel0 + node);
        self.mixer.select(1, self.sel1 + cls);
        match &self.matcher {
            Some(_) => self.mixer.select_final((self.fin + cls) * 2 + usize::from(exp.is_some())),
            None => self.mixer.select_final(self.fin + cls),
        }
        let lg = self.mixer.mix();
        let pm = squash(lg);
        let p = pm.clamp(1, 65535) as u16;
        let b = io.bit(bit, p)?;
        if self.recorded {
            if let Some((_, rec)) = &mut self.records {
                rec.extend(self.feat.iter().map(|&f| f as u8));
                rec.extend_from_slice(&[node as u8, u8::from(b)]);
                rec.extend_from_slice(&p.to_le_bytes());
            }
        }
        if STATS {
            let q = if b { f64::from(p) } else { 65536.0 - f64::from(p) };
            self.cost[self.plane][node_class(node)] += 16.0 - q.log2();
            self.decisions += 1;
        }
        let y = u32::from(b);
        if let (Some(m), Some(e)) = (&mut self.matcher, exp) {
            let cx = m.context(e, cls);
            m.sm.update(cx, y);
            if e != b {
                self.mres = None;
            }
        }
        for (t, &e) in self.t.iter_mut().zip(&tidx) {
            t.update(e, y);
        }
        for (j, &hi) in hidx.iter().enumerate() {
            self.learn_hashed(j, hi, cls, y);
        }
        self.mixer.update(y);

        Ok(b)
    }

    /// The entry of `node` in hashed table `j`, whose [`hslot`] is `slot`:
    /// the common decisions of a sample share one 64-byte bucket of each
    /// hashed table; the others are hashed individually.
    #[inline]
    fn hashed_entry(&self, j: usize, node: usize, slot: usize) -> usize {
        if slot < HSLOTS {
            self.hbase[j] + slot
        } else {
            (mix(self.hraw[j], (node | self.hx) as u64) >> (64 - self.hbits)) as usize
        }
    }

    /// The mixer input of entry `hi` of hashed table `j` for a decision of
    /// node class `cls`: its bit-history state's stretched probability.
    #[inline]
    fn hashed_input(&self, j: usize, hi: usize, cls: usize) -> i32 {
        stretch(self.hmap[j * 4 + cls].p12(self.h[j][hi]))
    }

    /// Learn bit `y` at entry `hi` of hashed table `j` (node class `cls`):
    /// the state's probability, then the state.
    #[inline]
    fn learn_hashed(&mut self, j: usize, hi: usize, cls: usize, y: u32) {
        let st = &mut self.h[j][hi];
        self.hmap[j * 4 + cls].update(*st, y);
        *st = NEXT[usize::from(*st)][y as usize];
    }

    /// Code one decision with the model of method `imgf` (spec §7.15): its
    /// three direct tables and the first hashed table, mixed by one layer
    /// whose weights the plane and the node select.
    #[inline(always)]
    fn decide_fast<IO: BitIo>(&mut self, io: &mut IO, node: usize, bit: bool) -> Result<bool, EntropyError> {
        let cls = node_class(node);
        let hi = self.hashed_entry(0, node, hslot(node, self.hx));
        let tidx = self.fast_base.map(|b| b | node);
        let hin = self.hashed_input(0, hi, cls);
        {
            let x = self.mixer.inputs_mut();
            for ((xi, t), &e) in x.iter_mut().zip(&self.fast_t).zip(&tidx) {
                *xi = stretch(t.p12(e));
            }
            x[3] = hin;
            x[4] = 256;
        }
        self.mixer.select(0, self.sel0 + node);
        let p = squash(self.mixer.mix()).clamp(1, 65535) as u16;
        let b = io.bit(bit, p)?;
        let y = u32::from(b);
        for (t, &e) in self.fast_t.iter_mut().zip(&tidx) {
            t.update(e, y);
        }
        self.learn_hashed(0, hi, cls, y);
        self.mixer.update(y);
        Ok(b)
    }
}

impl Drop for Model<'_> {
    fn drop(&mut self) {
        if STATS {
            let total: f64 = self.cost.iter().flatten().sum();
            let per: Vec<String> = self
                .cost
                .iter()
                .take(self.layout.planes)
                .map(|c| {
                    format!(
                        "[z {:.0} s {:.0} u {:.0} m {:.0}]",
                        c[0] / 8.0,
                        c[1] / 8.0,
                        c[2] / 8.0,
                        c[3] / 8.0
                    )
                })
                .collect();
            let samples = (self.width * self.rows * self.layout.planes) as f64;
            eprintln!(
                "img stats: {:.0} bytes {:?} {:.2} decisions/sample {}",
                total / 8.0,
                self.layout.transform,
                self.decisions as f64 / samples,
                per.join(" ")
            );
        }
    }
}

/// Code stripe `s` (`samples` in the canonical layout): the stripe header
/// of spec §7.1 (the encoder's choices), then every sample.
pub(crate) fn encode<E: BitEncode>(
    s: &Stripe,
    samples: &[u8],
    net: Option<&ImgNet>,
    rev: Revision,
    choices: Choices,
    enc: &mut E,
) -> Result<(), EntropyError> {
    let try_match = rev.has_match() && choices.matching.is_none();
    let fast = rev.is_fast();
    let (transform, hash, pays) = choose_with_match(s, samples, net, try_match, fast);
    let matching = rev.has_match() && choices.matching.unwrap_or(pays);
    let grid =
        rev.has_grid() && choices.grid.unwrap_or_else(|| grid_pays(s, samples, transform, net, matching));
    let mut io = EncIo(enc);
    let head = Head { transform, hash, matching, grid, fast };
    header(&mut io, s, rev, head)?;
    Model::new(s, head, net).populated().run(&mut io, Some(samples), &mut Vec::new())
}

/// Training records of the network (spec §7.12) for stripe `s`: for about one
/// in `2^keep_log2` of the sub-pixels (chosen by a hash of the position; all
/// of them when it is 0), each binary
/// decision as the 48 int8 features, the node, the bit and the 16-bit
/// probability of the model without a network (52 bytes).
pub(crate) fn records(s: &Stripe, samples: &[u8], keep_log2: u32) -> Result<Vec<u8>, EntropyError> {
    let (transform, hash) = choose(s, samples, None);
    let mut m = Model::new(s, Head { hash, ..Head::plain(transform) }, None);
    m.records = Some((keep_log2, Vec::new()));
    let mut enc = crate::entropy::binary::RangeBitEncoder::new();
    m.run(&mut EncIo(&mut enc), Some(samples), &mut Vec::new())?;
    Ok(m.records.take().map(|(_, r)| r).unwrap_or_default())
}

/// Decode stripe `s`, appending its samples to `out`.
pub(crate) fn decode<D: BitDecode>(
    s: &Stripe,
    net: Option<&ImgNet>,
    rev: Revision,
    dec: &mut D,
    out: &mut Vec<u8>,
) -> Result<(), EntropyError> {
    let mut io = DecIo(dec);
    let h = header(&mut io, s, rev, Head::plain(Transform::None))?;
    Model::new(s, h, net).populated().run(&mut io, None, out)
}

/// The fields of a stripe header (spec §7.1, §7.13, §7.14).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Head {
    transform: Transform,
    hash: u32,
    matching: bool,
    grid: bool,
    /// Whether the stripe is of method `imgf` (§7.15; set by the method,
    /// not coded).
    fast: bool,
}

impl Head {
    /// Colour transform `transform`, the largest hashed tables, no match
    /// model, no grid, the full model.
    fn plain(transform: Transform) -> Head {
        Head { transform, hash: 0, matching: false, grid: false, fast: false }
    }
}

/// Codes the stripe header (spec §7.1, §7.13, §7.14): the colour transform's
/// 2-bit code (RGB stripes only), the hash code, from revision 2 the match
/// model's flag and in revision 3 the grid flag, each bit at probability ½.
/// Returns what was coded (the encoder) or read (the decoder; the values
/// given are then ignored).
fn header<IO: BitIo>(io: &mut IO, s: &Stripe, rev: Revision, head: Head) -> Result<Head, EntropyError> {
    let Head { transform, hash, matching, grid, fast: _ } = head;
    let mut two_bits = |v: u32| -> Result<u32, EntropyError> {
        let hi = io.bit(v & 2 != 0, 32768)?;
        let lo = io.bit(v & 1 != 0, 32768)?;
        Ok(u32::from(hi) * 2 + u32::from(lo))
    };
    let transform = if Layout::new(s.color, s.maxval, Transform::None).rgb {
        Transform::from_code(two_bits(transform.code())?)
    } else {
        Transform::None
    };
    let hash = two_bits(hash)?;
    let matching = rev.has_match() && io.bit(matching, 32768)?;
    let grid = rev.has_grid() && io.bit(grid, 32768)?;
    Ok(Head { transform, hash, matching, grid, fast: rev.is_fast() })
}

/// The rows of a stripe that the encoder's trials code (spec §7.11): all of
/// them when there are at most `blocks · TRIAL_BLOCK`, else `blocks` blocks of
/// [`TRIAL_BLOCK`] rows spread evenly over the stripe, as one stripe.
fn trial_rows(s: &Stripe, samples: &[u8], blocks: usize) -> (Stripe, Vec<u8>) {
    let rows = s.rows as usize;
    let row_bytes = samples.len() / rows.max(1);
    let blocks = blocks.max(2);
    let sub: Vec<u8> = if rows <= blocks * TRIAL_BLOCK {
        samples.to_vec()
    } else {
        (0..blocks)
            .flat_map(|k| {
                // Blocks start on a multiple of 4 rows, so that the grid
                // (spec §7.14) is the same in all of them.
                let start = (k * (rows - TRIAL_BLOCK) / (blocks - 1)) & !3;
                samples[start * row_bytes..(start + TRIAL_BLOCK) * row_bytes].iter().copied()
            })
            .collect()
    };
    (Stripe { rows: (sub.len() / row_bytes.max(1)) as u32, ..*s }, sub)
}

/// Bytes that `samples` (of shape `s`) code to under the choices `head`
/// with `net`; `usize::MAX` if they do not code.
fn trial(s: &Stripe, samples: &[u8], head: Head, net: Option<&ImgNet>) -> usize {
    let mut m = Model::new(s, head, net);
    let mut enc = crate::entropy::binary::RangeBitEncoder::new();
    match m.run(&mut EncIo(&mut enc), Some(samples), &mut Vec::new()) {
        Ok(()) => enc.num_bytes(),
        Err(_) => usize::MAX,
    }
}

/// The colour transform that codes `samples` (of shape `s`) smallest with
/// `net` (with the model of method `imgf` when `fast`), and the bytes it
/// took; the first of [`Transform::ALL`] on a tie.
fn best_transform(s: &Stripe, samples: &[u8], net: Option<&ImgNet>, fast: bool) -> (usize, Transform) {
    let rgb = Layout::new(s.color, s.maxval, Transform::None).rgb;
    let candidates: &[Transform] = if rgb { &Transform::ALL } else { &[Transform::None] };
    let mut best = (usize::MAX, Transform::None);
    for &t in candidates {
        let bytes = trial(s, samples, Head { fast, ..Head::plain(t) }, net);
        if bytes < best.0 {
            best = (bytes, t);
        }
    }
    best
}

/// The encoder's choices for a stripe (spec §7.11): the colour transform that
/// codes a sample of the stripe's rows smallest, and the hash code: small
/// hashed tables (faster) when that sample costs more than
/// [`PHOTO_QUARTER_BITS`]/4 bits per sample (photographs, where exact contexts
/// gain little), else the largest. Compares coded byte counts only, so the choice
/// is the same on every machine.
pub(super) fn choose(s: &Stripe, samples: &[u8], net: Option<&ImgNet>) -> (Transform, u32) {
    let (transform, hash, _) = choose_with_match(s, samples, net, false, false);
    (transform, hash)
}

/// [`choose`] (with the model of method `imgf` when `fast`), and, when
/// `try_match`, whether the match model pays (spec §7.11, §7.13): always
/// with the large hashed tables, else when the trial rows code at least
/// [`MATCH_TRIAL_GAIN`] smaller with it.
fn choose_with_match(
    s: &Stripe,
    samples: &[u8],
    net: Option<&ImgNet>,
    try_match: bool,
    fast: bool,
) -> (Transform, u32, bool) {
    let (shape, sub) = trial_rows(s, samples, TRIAL_ROWS / TRIAL_BLOCK);
    let best = best_transform(&shape, &sub, net, fast);
    let trial_samples = (shape.width as usize)
        .saturating_mul(shape.rows as usize)
        .saturating_mul(usize::from(s.color.channels()));
    let quarter_bits = best.0.saturating_mul(32);
    let hash = if quarter_bits > trial_samples.saturating_mul(PHOTO_QUARTER_BITS) { 2 } else { 0 };
    let matching = try_match
        && (hash == 0 || {
            let with = trial(&shape, &sub, Head { matching: true, ..Head::plain(best.1) }, net);
            with.saturating_mul(MATCH_TRIAL_GAIN.1) < best.0.saturating_mul(MATCH_TRIAL_GAIN.0)
        });
    (best.1, hash, matching)
}

/// Whether the grid (spec §7.14) pays for stripe `s` under the encoder's
/// other choices (spec §7.11): for a stripe of at least
/// [`GRID_MIN_PIXELS`], whether [`GRID_TRIAL_BLOCKS`] blocks of its rows code
/// to less than [`GRID_TRIAL_SLACK`] times as many bytes with it as without.
fn grid_pays(s: &Stripe, samples: &[u8], transform: Transform, net: Option<&ImgNet>, matching: bool) -> bool {
    if (s.width as usize).saturating_mul(s.rows as usize) < GRID_MIN_PIXELS {
        return false;
    }
    let (shape, sub) = trial_rows(s, samples, GRID_TRIAL_BLOCKS);
    let head = Head { matching, ..Head::plain(transform) };
    let with = trial(&shape, &sub, Head { grid: true, ..head }, net);
    let without = trial(&shape, &sub, head, net);
    let (num, den) = GRID_TRIAL_SLACK;
    with.saturating_mul(den) < without.saturating_mul(num)
}

/// The cost of a whole image on a sample of its rows (spec §7.11): the bytes
/// that [`TRIAL_ROWS`] rows spread over it code to with `net` (with the
/// model of method `imgf` when `fast`) under their best colour transform,
/// and the number of those rows.
pub(super) fn sample_cost(s: &Stripe, samples: &[u8], net: Option<&ImgNet>, fast: bool) -> (usize, u32) {
    let (shape, sub) = trial_rows(s, samples, TRIAL_ROWS / TRIAL_BLOCK);
    (best_transform(&shape, &sub, net, fast).0, shape.rows)
}

/// The encoder's choice of network for a whole image (spec §7.11): the index
/// of the network in `nets` that codes a sample of the image's rows
/// smallest (the first on a tie). The colour transform is the one that suits
/// the first network; the others are tried with it alone.
pub(super) fn choose_net(s: &Stripe, samples: &[u8], nets: &[&ImgNet]) -> usize {
    let Some((&first, rest)) = nets.split_first() else { return 0 };
    let (shape, sub) = trial_rows(s, samples, NET_TRIAL_BLOCKS);
    let (mut best, transform) = best_transform(&shape, &sub, Some(first), false);
    let mut pick = 0;
    for (i, &net) in rest.iter().enumerate() {
        let bytes = trial(&shape, &sub, Head::plain(transform), Some(net));
        if bytes < best {
            (best, pick) = (bytes, i + 1);
        }
    }
    pick
}
