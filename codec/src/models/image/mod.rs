//! # Adaptive predictive image coding (`img`)
//!
//! The model of method 3 (spec/MODELS.md §7). It codes one *stripe* of image
//! rows (a chunk of an image frame, spec/FORMAT.md §4.6) from a fixed initial
//! state, so stripes decode independently and in parallel. Nothing is learned
//! offline; everything adapts while coding, with integer arithmetic only.
//!
//! For every sample, in raster order and, within a pixel, plane by plane:
//! 1. **Planes.** A pixel's channels become *planes*: alpha first (it is a
//!    strong context for the colour), then the colour channels, RGB through a
//!    reversible colour transform chosen per stripe ([`transform`]).
//! 2. **Prediction** ([`predict`]). Several predictors over the causal
//!    neighbourhood (W, N, NW, NE, WW, NN, NNE) and, for the second and third
//!    colour planes, over the already coded planes of the same pixel, are
//!    blended with weights that fall with the square of each predictor's
//!    recent local error (in the spirit of JPEG XL's weighted predictor and
//!    TMW), with two NLMS predictors among them.
//! 3. **Residual coding** (`model.rs`). The residual (sample minus rounded
//!    prediction) is binarised: zero?, sign, an Elias-gamma-like bucket
//!    (unary), then the bits within the bucket. Each binary decision is
//!    predicted by adaptive context tables (local error level, neighbouring
//!    residuals, residuals of the pixel's other planes, texture, and hashed
//!    exact neighbour values for graphics; smaller hashed tables for
//!    photographs, chosen by the encoder and recorded in the stripe) whose
//!    stretched probabilities are combined by the integer logistic mixer of
//!    [`crate::models::cm`]. Methods `img2` and `img3` add, per stripe, a
//!    match model for exact repeats (§7.13) and a 4×4 grid in the direct
//!    tables' contexts for photos that carry JPEG's blocks (§7.14).
//!
//! The pieces reused from `cm` ([`crate::models::cm::adaptive::StateMap`],
//! [`crate::models::cm::adaptive::HistoryMap`], [`crate::models::cm::mixer::Mixer`],
//! `squash` / `stretch`) are exactly those of spec/MODELS.md §3, so a learned
//! predictor can later join as one more mixer input or one more predictor.

#![warn(missing_docs)]

mod model;
pub mod net;
pub mod predict;
pub mod transform;

#[cfg(test)]
mod tests;

use crate::entropy::binary::{BitDecode, BitEncode};
use crate::entropy::EntropyError;
pub use net::ImgNet;
use nzip_format::ColorType;

/// Widest stripe the model codes (pixels). Its state holds four rows of
/// every plane with the errors of each predictor (under 1 KiB of memory per
/// pixel of width), so the width is bounded: wider images are
/// compressed as bytes, and a decoder rejects them as beyond its limits.
pub const MAX_WIDTH: u32 = 1 << 17;

/// The fastest level.
pub const MIN_LEVEL: u8 = 1;
/// The strongest level.
pub const MAX_LEVEL: u8 = 9;

/// The revision of the image model that codes a frame's stripes, which its
/// method names: [`Revision::V1`] for methods `img` and `imgnn`
/// (spec/MODELS.md §7-§7.12), [`Revision::V2`] for method `img2` (§7.13:
/// every stripe also says whether the match model codes it),
/// [`Revision::V3`] for method `img3` (§7.14: and whether the grid is on),
/// [`Revision::Fast`] for method `imgf` (§7.15: the fast model).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revision {
    /// Methods `img` (3) and `imgnn` (6).
    V1,
    /// Method `img2` (8).
    V2,
    /// Method `img3` (9).
    V3,
    /// Method `imgf` (10): the fast model, whose stripe header is that of
    /// `img` (transform and hash codes).
    Fast,
}

/// What the encoder of a stripe is told instead of choosing (spec/MODELS.md
/// §7.11); `None` leaves a choice to it. The default leaves all of them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Choices {
    /// The match model (revisions 2 and 3, §7.13) on or off.
    pub matching: Option<bool>,
    /// The grid (revision 3, §7.14) on or off.
    pub grid: Option<bool>,
}

impl Revision {
    /// The revision of an image method; `None` for other methods.
    pub fn of(method: nzip_format::Method) -> Option<Revision> {
        use nzip_format::Method;
        match method {
            Method::ImagePredictive | Method::ImageNetwork => Some(Revision::V1),
            Method::ImageMatch => Some(Revision::V2),
            Method::ImageGrid => Some(Revision::V3),
            Method::ImageFast => Some(Revision::Fast),
            _ => None,
        }
    }

    /// Whether stripes of this revision say whether the match model codes
    /// them (§7.13).
    pub fn has_match(self) -> bool {
        matches!(self, Revision::V2 | Revision::V3)
    }

    /// Whether this revision is the fast model of method `imgf` (§7.15).
    pub fn is_fast(self) -> bool {
        self == Revision::Fast
    }

    /// Whether stripes of this revision say whether the grid is on (§7.14).
    pub fn has_grid(self) -> bool {
        self == Revision::V3
    }
}

/// The shape of one stripe: what encoder and decoder both know before coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    /// Pixels per row (at least 1).
    pub width: u32,
    /// Rows in this stripe (at least 1).
    pub rows: u32,
    /// The channels of a pixel.
    pub color: ColorType,
    /// Largest sample value (1..=65535).
    pub maxval: u16,
}

impl Stripe {
    /// Bytes per sample in the canonical layout.
    pub fn bytes_per_sample(&self) -> usize {
        if self.maxval < 256 {
            1
        } else {
            2
        }
    }

    /// Whether `samples` are exactly this stripe's, and the shape is one the
    /// model codes (at least one row, 1..=[`MAX_WIDTH`] pixels wide).
    fn holds(&self, samples: &[u8]) -> bool {
        self.bytes() == Some(samples.len()) && self.width != 0 && self.width <= MAX_WIDTH && self.rows != 0
    }

    /// Bytes of the stripe's samples, if it fits in `usize`.
    pub fn bytes(&self) -> Option<usize> {
        (self.width as usize)
            .checked_mul(self.rows as usize)?
            .checked_mul(usize::from(self.color.channels()))?
            .checked_mul(self.bytes_per_sample())
    }
}

/// Code the samples of one stripe (canonical layout, exactly
/// [`Stripe::bytes`] of them) into `enc` at `level` (recorded in the frame;
/// every level codes alike in this version, spec/MODELS.md §7), with the
/// learned network `net` (method `imgnn`, §7.12) or without (method `img`),
/// as revision `rev` of the model (§7.13, §7.14). From revision 2,
/// `choices.matching` switches the match model on or off, in revision 3
/// `choices.grid` the grid; `None` leaves each to the encoder (§7.11: the
/// match model where the stripe's trial chooses the large hashed tables or
/// gains from it, the grid where a trial gains from it). Revisions that
/// have no such switch ignore it.
///
/// # Errors
///
/// [`EntropyError::InvalidModel`] when `samples` has the wrong length or a
/// sample is above `maxval`; nothing has been coded then.
pub fn encode<E: BitEncode>(
    stripe: &Stripe,
    _level: u8,
    samples: &[u8],
    net: Option<&ImgNet>,
    rev: Revision,
    choices: Choices,
    enc: &mut E,
) -> Result<(), EntropyError> {
    if !stripe.holds(samples) || stripe.maxval == 0 {
        return Err(EntropyError::InvalidModel("stripe samples do not match its shape"));
    }
    let above = if stripe.maxval < 256 {
        stripe.maxval < 255 && samples.iter().any(|&s| u16::from(s) > stripe.maxval)
    } else {
        stripe.maxval < u16::MAX
            && samples.chunks_exact(2).any(|s| u16::from_be_bytes([s[0], s[1]]) > stripe.maxval)
    };
    if above {
        return Err(EntropyError::InvalidModel("a sample is above maxval"));
    }
    model::encode(stripe, samples, net, rev, choices, enc)
}

/// The encoder's choice among learned networks for a whole image (shape
/// `image`, every row of it; spec/MODELS.md §7.11): the index in `nets` of
/// the network with which a sample of the image's rows codes smallest, the
/// first on a tie; 0 when the samples do not match the shape. It compares
/// coded byte counts only, so it is the same on every machine.
pub fn choose_network(image: &Stripe, samples: &[u8], nets: &[&ImgNet]) -> usize {
    if !image.holds(samples) {
        return 0;
    }
    model::choose_net(image, samples, nets)
}

/// What a whole image (shape `image`, every row of it) costs on the sample of
/// its rows that [`choose_network`] tries (spec/MODELS.md §7.11): the coded
/// bytes with `net` (or, with `rev` = [`Revision::Fast`], with the model of
/// method `imgf`, which takes no network) under the best colour transform,
/// and the rows coded; the
/// encoder compares such costs (of the image as it is and as value indices,
/// spec/FORMAT.md §4.8). `(usize::MAX, 0)` when the samples do not match the
/// shape.
pub fn sample_cost(image: &Stripe, samples: &[u8], net: Option<&ImgNet>, rev: Revision) -> (usize, u32) {
    if !image.holds(samples) {
        return (usize::MAX, 0);
    }
    model::sample_cost(image, samples, net, rev.is_fast())
}

/// The network's training records for one stripe (spec/MODELS.md §7.12): 52
/// bytes per binary decision of about one in `2^keep_log2` sub-pixels (at
/// most 63; 0: all of them), chosen by their position. For
/// `codec/examples/img_records.rs`.
///
/// # Errors
///
/// As [`encode`].
#[doc(hidden)]
pub fn training_records(stripe: &Stripe, samples: &[u8], keep_log2: u32) -> Result<Vec<u8>, EntropyError> {
    if !stripe.holds(samples) {
        return Err(EntropyError::InvalidModel("stripe samples do not match its shape"));
    }
    model::records(stripe, samples, keep_log2.min(63))
}

/// Decode one stripe coded by [`encode`] with the same shape, level,
/// network and revision, appending its samples (canonical layout) to `out`.
///
/// Never panics, whatever bits `dec` returns: decoded values are clamped to
/// their ranges. The work and the memory are proportional to the stripe,
/// which the caller bounds (the pipeline checks it against the chunk size).
///
/// # Errors
///
/// Errors of `dec`; [`EntropyError::InvalidModel`] for an empty or
/// unrepresentable shape.
pub fn decode<D: BitDecode>(
    stripe: &Stripe,
    _level: u8,
    net: Option<&ImgNet>,
    rev: Revision,
    dec: &mut D,
    out: &mut Vec<u8>,
) -> Result<(), EntropyError> {
    let Some(len) = stripe.bytes() else {
        return Err(EntropyError::InvalidModel("stripe too large"));
    };
    if stripe.width == 0 || stripe.width > MAX_WIDTH || stripe.rows == 0 || stripe.maxval == 0 {
        return Err(EntropyError::InvalidModel("empty or too wide stripe"));
    }
    out.reserve(len.min(1 << 26));
    model::decode(stripe, net, rev, dec, out)
}
