//! Integer categorical distributions: the only kind of model the coders see.
//!
//! A distribution over `n` symbols at precision `P` is a CDF of `n + 1` integers
//! `0 = cdf[0] < cdf[1] < ... < cdf[n] = 2^P`; symbol `s` has frequency
//! `cdf[s + 1] - cdf[s] >= 1` and probability `frequency / 2^P`. Precisions run
//! from 1 to [`MAX_PRECISION`] = 24 bits (constriction's `u32` words and `u64`
//! state allow up to 32, but 24 keeps the coding loss below 0.01% and leaves
//! room for the per-symbol checks); alphabets need at least two symbols
//! (a one-symbol alphabet carries no information: do not code it).
//!
//! Three model types, all implementing constriction's [`EncoderModel`] and
//! [`DecoderModel`] (and [`IterableEntropyModel`]) with `usize` symbols and
//! `u32` probabilities, so they work with every coder in [`super`]:
//!
//! - [`Categorical`]: a validated, owned table. Encoding looks up two CDF
//!   entries; decoding does a binary search. Build it once and reuse it.
//! - [`LookupCategorical`]: a [`Categorical`] plus a quantile-to-symbol table,
//!   for fixed tables that decode many symbols (the fast path). At `P <= 12` the
//!   table is exact (one lookup per symbol); above, it is bucketed by the top
//!   bits of the quantile and a short search finishes the job.
//! - [`CdfRef`]: a borrowed, validated `&[u32]` CDF, for models whose CDF
//!   changes every symbol: no allocation, binary search on decode.
//!   [`cdf_from_weights`] quantises integer weights into a caller's buffer and
//!   returns one, in `O(n)` without allocating.
//!
//! The two quantisers are part of the probability path and are therefore
//! defined exactly (integer arithmetic only, spelled out in their docs):
//! [`Categorical::from_counts`] (largest remainder; order preserving; for
//! tables) and [`cdf_from_weights`] (cumulative fixed-point rounding; cheap;
//! for per-symbol CDFs).

use super::{EntropyError, Precision};
use constriction::stream::model::{DecoderModel, EncoderModel, EntropyModel, IterableEntropyModel};
use core::borrow::Borrow;
use core::num::NonZeroU32;

/// Highest supported model precision, in bits.
pub const MAX_PRECISION: usize = 24;

/// Checks that `cdf` is a valid distribution at precision `P`.
fn validate_cdf<const P: usize>(cdf: &[u32]) -> Result<(), EntropyError> {
    let () = Precision::<P>::CHECK;
    if cdf.len() < 3 {
        return Err(EntropyError::InvalidModel("a distribution needs at least two symbols"));
    }
    if cdf.first() != Some(&0) {
        return Err(EntropyError::InvalidModel("the CDF must start at 0"));
    }
    if cdf.last() != Some(&(1u32 << P)) {
        return Err(EntropyError::InvalidModel("the CDF must end at 2^P"));
    }
    // A fold without early exit, so that it vectorises (this runs per symbol
    // on the `CdfRef` path).
    let increasing = cdf.iter().zip(cdf.iter().skip(1)).fold(true, |ok, (a, b)| ok & (a < b));
    if !increasing {
        return Err(EntropyError::InvalidModel(
            "every symbol needs a frequency of at least 1 (the CDF must be strictly increasing)",
        ));
    }
    Ok(())
}

/// Checks the alphabet size for precision `P`: `2 <= n <= 2^P`.
fn check_alphabet<const P: usize>(n: usize) -> Result<(), EntropyError> {
    let () = Precision::<P>::CHECK;
    if n < 2 {
        return Err(EntropyError::InvalidModel("a distribution needs at least two symbols"));
    }
    if n > 1usize << P {
        return Err(EntropyError::InvalidModel(
            "more symbols than 2^P: not every symbol can have a frequency of at least 1",
        ));
    }
    Ok(())
}

/// `(cdf[symbol], frequency)`, or `None` when `symbol` is not in the alphabet.
#[inline(always)]
fn interval(cdf: &[u32], symbol: usize) -> Option<(u32, NonZeroU32)> {
    let lo = *cdf.get(symbol)?;
    let hi = *cdf.get(symbol.checked_add(1)?)?;
    NonZeroU32::new(hi.wrapping_sub(lo)).map(|p| (lo, p))
}

/// The symbol whose interval holds `quantile`, with its left cumulative and
/// frequency, by binary search over a validated CDF.
#[inline(always)]
fn search(cdf: &[u32], quantile: u32) -> (usize, u32, NonZeroU32) {
    // The coders pass `quantile < 2^P = cdf[n]`, and `cdf[0] = 0 <= quantile`,
    // so the partition point is in `1..=n` and `symbol + 1 <= n` indexes `cdf`.
    let symbol = cdf.partition_point(|&c| c <= quantile).saturating_sub(1);
    symbol_at(cdf, symbol)
}

/// `(symbol, cdf[symbol], frequency)` for a symbol known to be in the alphabet
/// of a validated CDF. The fallbacks are unreachable for valid input; they keep
/// the decode path panic-free and keep constriction's invariants regardless.
#[inline(always)]
fn symbol_at(cdf: &[u32], symbol: usize) -> (usize, u32, NonZeroU32) {
    let lo = cdf.get(symbol).copied().unwrap_or(0);
    let hi = cdf.get(symbol + 1).copied().unwrap_or(lo + 1);
    let freq = NonZeroU32::new(hi.wrapping_sub(lo)).unwrap_or(NonZeroU32::MIN);
    (symbol, lo, freq)
}

/// The symbol table of a validated CDF, for [`IterableEntropyModel`].
fn table(cdf: &[u32]) -> impl Iterator<Item = (usize, u32, NonZeroU32)> + '_ {
    cdf.windows(2).enumerate().map(|(s, w)| {
        let freq = NonZeroU32::new(w[1].wrapping_sub(w[0])).unwrap_or(NonZeroU32::MIN);
        (s, w[0], freq)
    })
}

/// Turns frequencies into a CDF, validating them.
fn cdf_from_frequencies<const P: usize>(frequencies: &[u32]) -> Result<Box<[u32]>, EntropyError> {
    check_alphabet::<P>(frequencies.len())?;
    let mut cdf = Vec::with_capacity(frequencies.len() + 1);
    let mut sum: u64 = 0;
    cdf.push(0);
    for &f in frequencies {
        if f == 0 {
            return Err(EntropyError::InvalidModel("every symbol needs a frequency of at least 1"));
        }
        sum += u64::from(f);
        if sum > 1u64 << P {
            return Err(EntropyError::InvalidModel("frequencies sum to more than 2^P"));
        }
        // `sum <= 2^P <= 2^24` fits in `u32`.
        cdf.push(sum as u32);
    }
    if sum != 1u64 << P {
        return Err(EntropyError::InvalidModel("frequencies sum to less than 2^P"));
    }
    Ok(cdf.into_boxed_slice())
}

/// A validated categorical distribution over the symbols `0..n` at precision
/// `P` bits (`1 <= P <= 24`, checked at compile time): every frequency is at
/// least 1 and they sum to exactly `2^P`.
///
/// Encoding a symbol costs two table reads; decoding a binary search over the
/// `n + 1` CDF entries. For a fixed table that decodes many symbols, convert it
/// with [`into_lookup`](Self::into_lookup); for a CDF that changes every
/// symbol, use [`CdfRef`] instead (no allocation).
///
/// # Example
///
/// ```
/// use nzip_codec::entropy::{AnsDecoder, AnsEncoder, Categorical};
///
/// // Exact frequencies (sum 2^8) ...
/// let a = Categorical::<8>::from_frequencies(&[200, 40, 16])?;
/// assert_eq!(a.cdf(), &[0, 200, 240, 256]);
/// // ... or arbitrary integer counts, quantised exactly.
/// let b = Categorical::<16>::from_counts(&[7u64, 0, 1_000_000])?;
/// assert_eq!(b.frequency(1), Some(1));
///
/// let mut encoder = AnsEncoder::new();
/// encoder.encode(2, &a)?;
/// encoder.encode(0, &b)?;
/// let bytes = encoder.finish();
/// let mut decoder = AnsDecoder::new(&bytes)?;
/// assert_eq!(decoder.decode(&a)?, 2);
/// assert_eq!(decoder.decode(&b)?, 0);
/// # Ok::<(), nzip_codec::entropy::EntropyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Categorical<const P: usize> {
    /// `n + 1` entries, `0 = cdf[0] < ... < cdf[n] = 2^P`.
    cdf: Box<[u32]>,
}

impl<const P: usize> Categorical<P> {
    /// The distribution with these frequencies (symbol `s` has probability
    /// `frequencies[s] / 2^P`).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] if there are fewer than two frequencies,
    /// any is 0, or they do not sum to exactly `2^P`.
    pub fn from_frequencies(frequencies: &[u32]) -> Result<Self, EntropyError> {
        Ok(Categorical { cdf: cdf_from_frequencies::<P>(frequencies)? })
    }

    /// The distribution with this CDF (`n + 1` entries for `n` symbols).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] unless `cdf` has at least three entries,
    /// starts at 0, ends at `2^P` and is strictly increasing.
    pub fn from_cdf(cdf: &[u32]) -> Result<Self, EntropyError> {
        validate_cdf::<P>(cdf)?;
        Ok(Categorical { cdf: cdf.into() })
    }

    /// The uniform distribution over `n` symbols, as quantised by
    /// [`from_counts`](Self::from_counts) from `n` equal weights (so when `n` is
    /// not a power of two, the first `2^P mod n` symbols get one unit more).
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] unless `2 <= n <= 2^P`.
    pub fn uniform(n: usize) -> Result<Self, EntropyError> {
        check_alphabet::<P>(n)?;
        Self::from_counts(&vec![1u8; n])
    }

    /// Quantises non-negative integer weights (any of `u8`, `u16`, `u32`,
    /// `u64`) to a valid distribution at precision `P`, deterministically and
    /// with integer arithmetic only. This is the rule for tables (it costs
    /// `O(n)` time and `O(n)` scratch memory); per-symbol CDFs have the cheaper
    /// [`cdf_from_weights`].
    ///
    /// # Algorithm (normative: the spec cites it)
    ///
    /// Let `w_0, ..., w_{n-1}` be the weights, `T = 2^P`, and all arithmetic be
    /// exact on unbounded integers (the implementation uses 64- or 128-bit
    /// integers; no intermediate exceeds 2^88).
    ///
    /// 1. Require `2 <= n <= T`.
    /// 2. `W = w_0 + ... + w_{n-1}`. If `W = 0`, every weight is taken as 1 (and `W = n`).
    /// 3. `S = T - n`: every symbol first gets one unit; `S` units are left to share.
    /// 4. For each `i`: `q_i = floor(w_i * S / W)` and `r_i = (w_i * S) mod W`;
    ///    set `f_i = 1 + q_i`.
    /// 5. `L = T - (f_0 + ... + f_{n-1}) = S - (q_0 + ... + q_{n-1})`; always
    ///    `0 <= L < n`.
    /// 6. Order the symbols by remainder `r_i` descending, ties by index `i`
    ///    ascending (a strict total order); the first `L` symbols in that order
    ///    get `f_i += 1` (largest remainder, Hamilton's method).
    ///
    /// Properties: the frequencies sum to exactly `T`; every `f_i >= 1`;
    /// `|f_i - (1 + w_i * S / W)| < 1`; and the order of the weights is kept:
    /// `w_i > w_j` implies `f_i >= f_j`, and equal weights differ by at most 1
    /// (the lower index never gets less). A symbol of weight 0 gets frequency 1.
    /// Reserving one unit per symbol costs at most `-log2(1 - n / T)` bits per
    /// coded symbol (0.00002 bits for 256 symbols at `P = 24`, but 0.09 bits at
    /// `P = 12`): use a precision well above `log2(n)`.
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] unless `2 <= n <= 2^P`.
    pub fn from_counts<W: Copy + Into<u64>>(weights: &[W]) -> Result<Self, EntropyError> {
        let frequencies = quantize_counts::<P, W>(weights)?;
        Self::from_frequencies(&frequencies)
    }

    /// The number of symbols, `n` (at least 2).
    pub fn num_symbols(&self) -> usize {
        self.cdf.len() - 1
    }

    /// The frequency of `symbol` (its probability times `2^P`), or `None` when
    /// `symbol >= n`.
    pub fn frequency(&self, symbol: usize) -> Option<u32> {
        interval(&self.cdf, symbol).map(|(_, f)| f.get())
    }

    /// The CDF: `n + 1` entries from 0 to `2^P`, strictly increasing.
    pub fn cdf(&self) -> &[u32] {
        &self.cdf
    }

    /// A borrowed view of this distribution (no copy).
    pub fn as_cdf_ref(&self) -> CdfRef<'_, P> {
        CdfRef { cdf: &self.cdf }
    }

    /// Adds a quantile-to-symbol table for fast decoding; see
    /// [`LookupCategorical`].
    pub fn into_lookup(self) -> LookupCategorical<P> {
        LookupCategorical::new(self)
    }
}

/// Step 1-6 of [`Categorical::from_counts`]; returns the frequencies.
fn quantize_counts<const P: usize, W: Copy + Into<u64>>(weights: &[W]) -> Result<Vec<u32>, EntropyError> {
    let n = weights.len();
    check_alphabet::<P>(n)?;
    let total: u64 = 1 << P;
    // `n <= 2^24` and each weight `< 2^64`: the sum is below 2^88.
    let mut w_sum: u128 = weights.iter().map(|&w| u128::from(w.into())).sum();
    let all_zero = w_sum == 0;
    if all_zero {
        w_sum = n as u128;
    }
    let weight = |w: W| if all_zero { 1 } else { w.into() };
    let spare = total - n as u64; // S, < 2^24
    let mut freqs = vec![1u32; n];
    if spare == 0 {
        return Ok(freqs);
    }
    let mut rems: Vec<u128> = Vec::with_capacity(n);
    let mut assigned: u64 = 0;
    // Fast path when every `w_i * S <= W * S` fits in 64 bits (same results).
    let small = w_sum <= u128::from(u64::MAX / spare);
    for (f, &w) in freqs.iter_mut().zip(weights) {
        let (q, r) = if small {
            let x = weight(w) * spare;
            let w_sum = w_sum as u64;
            (x / w_sum, u128::from(x % w_sum))
        } else {
            let x = u128::from(weight(w)) * u128::from(spare);
            // `q <= S < 2^24`.
            ((x / w_sum) as u64, x % w_sum)
        };
        // `1 + q <= 1 + S <= 2^24` fits in `u32`.
        *f = 1 + q as u32;
        assigned += q;
        rems.push(r);
    }
    let leftover = (spare - assigned) as usize; // L, `0 <= L < n` (see the docs)
    if leftover > 0 {
        let mut order: Vec<u32> = (0..n as u32).collect();
        let by_remainder = |a: &u32, b: &u32| rems[*b as usize].cmp(&rems[*a as usize]).then(a.cmp(b));
        // A strict total order, so the set of the first `L` is unique whatever
        // the selection algorithm does internally.
        order.select_nth_unstable_by(leftover - 1, by_remainder);
        for &i in &order[..leftover] {
            freqs[i as usize] += 1;
        }
    }
    Ok(freqs)
}

impl<const P: usize> EntropyModel<P> for Categorical<P> {
    type Symbol = usize;
    type Probability = u32;
}

impl<const P: usize> EncoderModel<P> for Categorical<P> {
    #[inline(always)]
    fn left_cumulative_and_probability(&self, symbol: impl Borrow<usize>) -> Option<(u32, NonZeroU32)> {
        interval(&self.cdf, *symbol.borrow())
    }
}

impl<const P: usize> DecoderModel<P> for Categorical<P> {
    #[inline(always)]
    fn quantile_function(&self, quantile: u32) -> (usize, u32, NonZeroU32) {
        search(&self.cdf, quantile)
    }
}

impl<'m, const P: usize> IterableEntropyModel<'m, P> for Categorical<P> {
    fn symbol_table(&'m self) -> impl Iterator<Item = (usize, u32, NonZeroU32)> {
        table(&self.cdf)
    }
}

/// A [`Categorical`] with a quantile-to-symbol table: the fast path for fixed
/// tables that decode many symbols. Encoding is as cheap as [`Categorical`]'s;
/// decoding is one table lookup plus, when the bucket holds several symbol
/// boundaries, a short search.
///
/// The table has `2^k + 1` entries of 4 bytes, where `k = P` for `P <= 12`
/// (exact: one lookup per symbol) and otherwise `k = clamp(ceil(log2 n) + 2, 8,
/// 12)` (the top `k` bits of the quantile pick a bucket; entry `b` is the symbol
/// holding quantile `b << (P - k)`). So it costs at most 16 KiB: build it once
/// per table, not per symbol.
///
/// # Example
///
/// ```
/// use nzip_codec::entropy::{Categorical, RangeDecoder, RangeEncoder};
///
/// let model = Categorical::<24>::from_counts(&[5u32, 1, 1, 90, 3])?.into_lookup();
/// let mut encoder = RangeEncoder::new();
/// for symbol in [3, 3, 0, 4, 3, 1] {
///     encoder.encode(symbol, &model)?;
/// }
/// let bytes = encoder.finish();
/// let mut decoder = RangeDecoder::new(&bytes)?;
/// for symbol in [3, 3, 0, 4, 3, 1] {
///     assert_eq!(decoder.decode(&model)?, symbol);
/// }
/// # Ok::<(), nzip_codec::entropy::EntropyError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct LookupCategorical<const P: usize> {
    model: Categorical<P>,
    /// `2^k + 1` entries: `table[b]` is the symbol whose interval holds quantile
    /// `b << shift` for `b < 2^k`, and `table[2^k] = n - 1`.
    table: Box<[u32]>,
    /// `P - k`.
    shift: u32,
}

impl<const P: usize> LookupCategorical<P> {
    /// Builds the decoding table for `model` (`O(2^k + n)` time).
    pub fn new(model: Categorical<P>) -> Self {
        let n = model.num_symbols();
        let k = if P <= 12 {
            P as u32
        } else {
            // ceil(log2 n) + 2, clamped to 8..=12 (and <= P, which is > 12 here).
            let bits = usize::BITS - (n - 1).leading_zeros();
            (bits + 2).clamp(8, 12)
        };
        let shift = P as u32 - k;
        let buckets = 1usize << k;
        let cdf = &model.cdf;
        let mut table = Vec::with_capacity(buckets + 1);
        let mut symbol = 0usize;
        for b in 0..buckets {
            let quantile = (b as u32) << shift;
            // `quantile < 2^P = cdf[n]`, so this stops at `symbol <= n - 1`.
            while cdf[symbol + 1] <= quantile {
                symbol += 1;
            }
            // `symbol < n <= 2^24` fits in `u32`.
            table.push(symbol as u32);
        }
        table.push((n - 1) as u32);
        LookupCategorical { model, table: table.into_boxed_slice(), shift }
    }

    /// The underlying distribution.
    pub fn categorical(&self) -> &Categorical<P> {
        &self.model
    }

    /// The number of symbols, `n`.
    pub fn num_symbols(&self) -> usize {
        self.model.num_symbols()
    }

    /// The CDF: `n + 1` entries from 0 to `2^P`, strictly increasing.
    pub fn cdf(&self) -> &[u32] {
        self.model.cdf()
    }
}

impl<const P: usize> From<Categorical<P>> for LookupCategorical<P> {
    fn from(model: Categorical<P>) -> Self {
        LookupCategorical::new(model)
    }
}

impl<const P: usize> EntropyModel<P> for LookupCategorical<P> {
    type Symbol = usize;
    type Probability = u32;
}

impl<const P: usize> EncoderModel<P> for LookupCategorical<P> {
    #[inline(always)]
    fn left_cumulative_and_probability(&self, symbol: impl Borrow<usize>) -> Option<(u32, NonZeroU32)> {
        interval(&self.model.cdf, *symbol.borrow())
    }
}

impl<const P: usize> DecoderModel<P> for LookupCategorical<P> {
    #[inline(always)]
    fn quantile_function(&self, quantile: u32) -> (usize, u32, NonZeroU32) {
        let cdf = &self.model.cdf;
        // The coders pass `quantile < 2^P`, so `bucket < 2^k` and `bucket + 1`
        // indexes the table; `get` keeps a misuse from panicking.
        let bucket = (quantile >> self.shift) as usize;
        let (Some(&lo), Some(&hi)) = (self.table.get(bucket), self.table.get(bucket + 1)) else {
            return search(cdf, quantile);
        };
        // The answer is the largest `s` in `lo..=hi` with `cdf[s] <= quantile`:
        // `lo` holds the bucket's first quantile and `hi` the next bucket's, so
        // `cdf[lo] <= quantile < cdf[hi + 1]`; `hi + 1 <= n` indexes `cdf`.
        let (mut s, hi) = (lo as usize, hi as usize);
        if hi - s <= 8 {
            while s < hi && cdf[s + 1] <= quantile {
                s += 1;
            }
        } else {
            s += cdf[s + 1..=hi].partition_point(|&c| c <= quantile);
        }
        symbol_at(cdf, s)
    }
}

impl<'m, const P: usize> IterableEntropyModel<'m, P> for LookupCategorical<P> {
    fn symbol_table(&'m self) -> impl Iterator<Item = (usize, u32, NonZeroU32)> {
        table(&self.model.cdf)
    }
}

/// A borrowed, validated CDF at precision `P`: the cheap path for models whose
/// distribution changes every symbol. Constructing it checks the CDF in one
/// pass and allocates nothing; decoding is a binary search.
///
/// # Example
///
/// ```
/// use nzip_codec::entropy::{CdfRef, RangeDecoder, RangeEncoder};
///
/// let message = [0usize, 2, 1];
/// // An adaptive model: the CDF depends on the previous symbol.
/// let cdf_after = |prev: usize| -> [u32; 4] {
///     if prev == 0 { [0, 100, 200, 256] } else { [0, 10, 250, 256] }
/// };
/// let mut encoder = RangeEncoder::new();
/// let mut prev = 0;
/// for &symbol in &message {
///     let cdf = cdf_after(prev);
///     encoder.encode(symbol, CdfRef::<8>::new(&cdf)?)?;
///     prev = symbol;
/// }
/// let bytes = encoder.finish();
///
/// let mut decoder = RangeDecoder::new(&bytes)?;
/// let mut prev = 0;
/// for &symbol in &message {
///     let cdf = cdf_after(prev);
///     prev = decoder.decode(CdfRef::<8>::new(&cdf)?)?;
///     assert_eq!(prev, symbol);
/// }
/// # Ok::<(), nzip_codec::entropy::EntropyError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CdfRef<'a, const P: usize> {
    cdf: &'a [u32],
}

impl<'a, const P: usize> CdfRef<'a, P> {
    /// Wraps `cdf` (`n + 1` entries for `n` symbols) after checking it.
    ///
    /// # Errors
    ///
    /// [`EntropyError::InvalidModel`] unless `cdf` has at least three entries,
    /// starts at 0, ends at `2^P` and is strictly increasing.
    pub fn new(cdf: &'a [u32]) -> Result<Self, EntropyError> {
        validate_cdf::<P>(cdf)?;
        Ok(CdfRef { cdf })
    }

    /// The number of symbols, `n`.
    pub fn num_symbols(&self) -> usize {
        self.cdf.len() - 1
    }

    /// The frequency of `symbol`, or `None` when `symbol >= n`.
    pub fn frequency(&self, symbol: usize) -> Option<u32> {
        interval(self.cdf, symbol).map(|(_, f)| f.get())
    }

    /// The CDF.
    pub fn cdf(&self) -> &'a [u32] {
        self.cdf
    }

    /// An owned copy.
    pub fn to_categorical(&self) -> Categorical<P> {
        Categorical { cdf: self.cdf.into() }
    }
}

impl<const P: usize> EntropyModel<P> for CdfRef<'_, P> {
    type Symbol = usize;
    type Probability = u32;
}

impl<const P: usize> EncoderModel<P> for CdfRef<'_, P> {
    #[inline(always)]
    fn left_cumulative_and_probability(&self, symbol: impl Borrow<usize>) -> Option<(u32, NonZeroU32)> {
        interval(self.cdf, *symbol.borrow())
    }
}

impl<const P: usize> DecoderModel<P> for CdfRef<'_, P> {
    #[inline(always)]
    fn quantile_function(&self, quantile: u32) -> (usize, u32, NonZeroU32) {
        search(self.cdf, quantile)
    }
}

impl<'m, const P: usize> IterableEntropyModel<'m, P> for CdfRef<'_, P> {
    fn symbol_table(&'m self) -> impl Iterator<Item = (usize, u32, NonZeroU32)> {
        table(self.cdf)
    }
}

/// Quantises `n = weights.len()` non-negative integer weights into `cdf`
/// (which must have `n + 1` entries) at precision `P`, in `O(n)` with no
/// allocation, and returns the result as a [`CdfRef`]. This is the cheap rule
/// for CDFs that change every symbol (one division per call, then one multiply
/// and shift per symbol); tables should use [`Categorical::from_counts`], which
/// is slightly more accurate and keeps the order of the weights.
///
/// # Algorithm (normative: the spec cites it)
///
/// All arithmetic is on unsigned 64-bit integers, none of which can overflow.
///
/// 1. Require `2 <= n <= 2^P` and `cdf.len() = n + 1`.
/// 2. `W = w_0 + ... + w_{n-1}` (below 2^56). If `W = 0`, every weight is
///    taken as 1 (and `W = n`).
/// 3. `S = 2^P - n` and `m = floor(S * 2^40 / W)` (a 40-bit fixed-point `S / W`).
/// 4. `cdf[0] = 0`; for `1 <= i < n`, `cdf[i] = i + floor((C_i * m + 2^39) / 2^40)`
///    (rounded to nearest), where `C_i = w_0 + ... + w_{i-1}`; `cdf[n] = 2^P`.
///
/// Properties: `C_i * m + 2^39 <= S * 2^40 + 2^39 < 2^64`; the CDF is
/// non-decreasing in its rounded part, so every frequency `f_i = cdf[i+1] -
/// cdf[i]` is at least 1 (the last too, since the rounded part never exceeds
/// `S`). Each `cdf[i]` is within `1/2 + C_i / 2^40` of the exact `i + C_i * S /
/// W`, so when `W <= 2^40` (always the case for up to 256 `u32` weights) every
/// `f_i` is within one unit of `1 + w_i * S / W`. Unlike `from_counts`, the
/// order of the weights is not always kept (two weights whose ideal shares
/// differ by less than one unit may come out either way round).
///
/// # Errors
///
/// [`EntropyError::InvalidModel`] unless `2 <= n <= 2^P` and `cdf.len() == n + 1`.
///
/// # Example
///
/// ```
/// use nzip_codec::entropy::{cdf_from_weights, RangeEncoder};
///
/// let mut buffer = [0u32; 4]; // reused for every symbol
/// let mut encoder = RangeEncoder::new();
/// for (weights, symbol) in [([1u32, 2, 5], 2usize), ([9, 0, 1], 0)] {
///     let model = cdf_from_weights::<16>(&weights, &mut buffer)?;
///     encoder.encode(symbol, model)?;
/// }
/// assert_eq!(buffer, [0, 58_981, 58_982, 65_536]); // the last CDF built
/// # Ok::<(), nzip_codec::entropy::EntropyError>(())
/// ```
pub fn cdf_from_weights<'a, const P: usize>(
    weights: &[u32],
    cdf: &'a mut [u32],
) -> Result<CdfRef<'a, P>, EntropyError> {
    let n = weights.len();
    check_alphabet::<P>(n)?;
    if cdf.len() != n + 1 {
        return Err(EntropyError::InvalidModel("the CDF buffer needs one entry more than there are weights"));
    }
    let total: u64 = 1 << P;
    // `n <= 2^24` weights below 2^32: the sum is below 2^56.
    let w_sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let all_zero = w_sum == 0;
    let w_sum = if all_zero { n as u64 } else { w_sum };
    let spare = total - n as u64; // S < 2^24, so S * 2^40 < 2^64
    let m = (spare << 40) / w_sum;
    let mut cumulative: u64 = 0; // C_i
    for (i, (slot, &w)) in cdf.iter_mut().zip(weights).enumerate() {
        // `C_i * m + 2^39 <= S * 2^40 + 2^39 < 2^64`, and the rounded part is
        // at most `S`, so `cdf[i] <= n - 1 + S < 2^P` fits in `u32`.
        *slot = (i as u64 + ((cumulative * m + (1 << 39)) >> 40)) as u32;
        cumulative += if all_zero { 1 } else { u64::from(w) };
    }
    if let Some(last) = cdf.last_mut() {
        *last = total as u32;
    }
    Ok(CdfRef { cdf })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entropy::test_util::SplitMix64;
    use proptest::prelude::*;

    fn assert_valid<const P: usize>(cdf: &[u32]) {
        validate_cdf::<P>(cdf).unwrap();
    }

    #[test]
    fn from_frequencies_validates() {
        assert!(Categorical::<4>::from_frequencies(&[8, 8]).is_ok());
        let bad: [&[u32]; 5] = [&[16], &[8, 7], &[8, 9], &[0, 16], &[]];
        for f in bad {
            assert!(matches!(Categorical::<4>::from_frequencies(f), Err(EntropyError::InvalidModel(_))));
        }
        // Overflowing sums are rejected, not wrapped.
        assert!(Categorical::<4>::from_frequencies(&[u32::MAX, 17]).is_err());
    }

    #[test]
    fn from_cdf_validates() {
        assert!(Categorical::<4>::from_cdf(&[0, 3, 16]).is_ok());
        let bad: [&[u32]; 6] = [&[0, 16], &[1, 3, 16], &[0, 3, 15], &[0, 3, 3, 16], &[0, 9, 3, 16], &[]];
        for c in bad {
            assert!(Categorical::<4>::from_cdf(c).is_err(), "{c:?}");
            assert!(CdfRef::<4>::new(c).is_err(), "{c:?}");
        }
    }

    #[test]
    fn from_counts_examples() {
        // W = 0: uniform; 16 - 3 = 13 spare units, 4 each, 1 left to symbol 0.
        let c = Categorical::<4>::from_counts(&[0u32, 0, 0]).unwrap();
        assert_eq!(c.cdf(), &[0, 6, 11, 16]);
        // Exact proportions stay exact.
        let c = Categorical::<4>::from_counts(&[1u32, 1]).unwrap();
        assert_eq!(c.cdf(), &[0, 8, 16]);
        // A zero weight gets 1, the rest is shared: S = 14, q = (0, 7, 7).
        let c = Categorical::<4>::from_counts(&[0u64, 5, 5]).unwrap();
        assert_eq!(c.cdf(), &[0, 1, 9, 16]);
        // n = 2^P: all ones.
        let c = Categorical::<2>::from_counts(&[9u8, 0, 3, 1]).unwrap();
        assert_eq!(c.cdf(), &[0, 1, 2, 3, 4]);
        assert!(Categorical::<2>::from_counts(&[1u8; 5]).is_err());
        assert!(Categorical::<2>::from_counts(&[1u8]).is_err());
        // Huge u64 weights take the 128-bit path.
        let c = Categorical::<24>::from_counts(&[u64::MAX, u64::MAX / 3, 1]).unwrap();
        assert_valid::<24>(c.cdf());
        assert_eq!(c.frequency(2), Some(1));
        // 3 * (2^24 - 3) / 4 = 12_582_909.75 and (2^24 - 3) / 4 = 4_194_303.25.
        let c = Categorical::<24>::from_counts(&[3u32 << 30, 1 << 30, 0]).unwrap();
        assert_eq!(c.frequency(0), Some(12_582_911));
        assert_eq!(c.frequency(1), Some(4_194_304));
    }

    #[test]
    fn uniform_matches_from_counts() {
        let u = Categorical::<8>::uniform(3).unwrap();
        assert_eq!(u.cdf(), &[0, 86, 171, 256]);
        assert!(Categorical::<8>::uniform(1).is_err());
        assert!(Categorical::<8>::uniform(257).is_err());
    }

    #[test]
    fn lookup_matches_binary_search() {
        let mut rng = SplitMix64(7);
        for n in [2usize, 3, 17, 256, 1000, 5000] {
            let weights: Vec<u64> = (0..n).map(|_| rng.next_u64() >> rng.below(64)).collect();
            macro_rules! check {
                ($p:literal) => {
                    if n <= 1 << $p {
                        let c = Categorical::<$p>::from_counts(&weights).unwrap();
                        let l = c.clone().into_lookup();
                        for _ in 0..2000 {
                            let q = rng.below(1 << $p) as u32;
                            assert_eq!(l.quantile_function(q), c.quantile_function(q));
                        }
                        for q in [0, (1u32 << $p) - 1] {
                            assert_eq!(l.quantile_function(q), c.quantile_function(q));
                        }
                    }
                };
            }
            check!(1);
            check!(8);
            check!(12);
            check!(13);
            check!(16);
            check!(24);
        }
    }

    #[test]
    fn exhaustive_lookup_at_small_precision() {
        let c = Categorical::<10>::from_counts(&[1000u32, 1, 1, 1, 20, 1, 0, 300]).unwrap();
        let l = c.clone().into_lookup();
        for q in 0..1u32 << 10 {
            let (s, lo, f) = l.quantile_function(q);
            assert!(lo <= q && q < lo + f.get());
            assert_eq!((s, lo, f), c.quantile_function(q));
            assert_eq!(c.left_cumulative_and_probability(s), Some((lo, f)));
        }
        let c = Categorical::<14>::from_counts(&[1u32, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100_000]).unwrap();
        let l = c.clone().into_lookup();
        for q in 0..1u32 << 14 {
            assert_eq!(l.quantile_function(q), c.quantile_function(q));
        }
    }

    #[test]
    fn cdf_from_weights_examples() {
        let mut buf = [0u32; 4];
        assert_eq!(cdf_from_weights::<4>(&[0, 0, 0], &mut buf).unwrap().cdf(), &[0, 5, 11, 16]);
        assert_eq!(cdf_from_weights::<4>(&[1, 1, 2], &mut buf).unwrap().cdf(), &[0, 4, 9, 16]);
        assert!(cdf_from_weights::<4>(&[1, 1], &mut buf).is_err());
        assert!(cdf_from_weights::<1>(&[1, 1, 1], &mut buf).is_err());
        let mut two = [0u32; 3];
        assert_eq!(cdf_from_weights::<1>(&[5, 0], &mut two).unwrap().cdf(), &[0, 1, 2]);
        // Extreme weights: exact shares stay exact.
        let mut buf = [0u32; 257];
        let weights = [u32::MAX; 256];
        let c = cdf_from_weights::<24>(&weights, &mut buf).unwrap();
        assert_valid::<24>(c.cdf());
        let f: Vec<u32> = (0..256).map(|s| c.frequency(s).unwrap()).collect();
        assert!(f.iter().all(|&x| x == 65536), "{:?}", &f[250..]);
    }

    /// A random weight vector mixing zeros, small and huge weights.
    fn weights_strategy() -> impl Strategy<Value = Vec<u64>> {
        prop::collection::vec(
            prop_oneof![
                Just(0u64),
                0u64..10,
                0u64..1_000_000,
                any::<u32>().prop_map(u64::from),
                any::<u64>()
            ],
            2..300,
        )
    }

    fn counts_properties<const P: usize>(weights: &[u64]) -> Result<(), TestCaseError> {
        let n = weights.len();
        let Ok(c) = Categorical::<P>::from_counts(weights) else {
            prop_assert!(n > 1 << P);
            return Ok(());
        };
        let cdf = c.cdf();
        prop_assert_eq!(cdf.len(), n + 1);
        prop_assert_eq!(cdf[0], 0);
        prop_assert_eq!(cdf[n], 1u32 << P);
        prop_assert!(cdf.windows(2).all(|w| w[0] < w[1]));
        // Deterministic.
        prop_assert_eq!(&Categorical::<P>::from_counts(weights).unwrap(), &c);
        // Order preserving; equal weights: lower index never gets less.
        let f: Vec<u32> = (0..n).map(|s| c.frequency(s).unwrap()).collect();
        for i in 0..n {
            for j in 0..n {
                if weights[i] > weights[j] || (weights[i] == weights[j] && i < j) {
                    prop_assert!(f[i] >= f[j], "w {} {} f {} {}", weights[i], weights[j], f[i], f[j]);
                }
            }
        }
        // Within one unit of 1 + w S / W (checked as |f - 1 - w S / W| < 1, exactly).
        let w_sum: u128 = weights.iter().map(|&w| u128::from(w)).sum();
        if w_sum > 0 {
            let spare = (1u128 << P) - n as u128;
            for (i, &w) in weights.iter().enumerate() {
                let ideal = u128::from(w) * spare; // in units of 1 / W
                let got = u128::from(f[i] - 1) * w_sum;
                prop_assert!(got.abs_diff(ideal) < w_sum);
            }
        }
        // Same result whatever the integer type of the weights.
        if weights.iter().all(|&w| w <= u64::from(u32::MAX)) {
            let narrow: Vec<u32> = weights.iter().map(|&w| w as u32).collect();
            prop_assert_eq!(&Categorical::<P>::from_counts(&narrow).unwrap(), &c);
        }
        Ok(())
    }

    fn weights_properties<const P: usize>(weights: &[u32]) -> Result<(), TestCaseError> {
        let n = weights.len();
        let mut buf = vec![0u32; n + 1];
        let Ok(c) = cdf_from_weights::<P>(weights, &mut buf) else {
            prop_assert!(n > 1 << P);
            return Ok(());
        };
        let cdf = c.cdf().to_vec();
        validate_cdf::<P>(&cdf).map_err(|e| TestCaseError::fail(e.to_string()))?;
        let mut again = vec![7u32; n + 1];
        prop_assert_eq!(cdf_from_weights::<P>(weights, &mut again).unwrap().cdf(), &cdf[..]);
        // Each CDF entry within 1/2 + C_i / 2^40 of the exact one, so each
        // frequency within one unit (plus W / 2^40) of the ideal share.
        let w_sum: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if w_sum > 0 {
            let spare = (1u64 << P) - n as u64;
            let slack = 1.0 + w_sum as f64 / (1u64 << 40) as f64;
            for (i, &w) in weights.iter().enumerate() {
                let ideal = 1.0 + w as f64 * spare as f64 / w_sum as f64;
                let f = f64::from(cdf[i + 1] - cdf[i]);
                prop_assert!((f - ideal).abs() <= slack + 1e-6, "{f} vs {ideal}");
            }
        }
        Ok(())
    }

    proptest! {
        #[test]
        fn from_counts_properties(weights in weights_strategy()) {
            counts_properties::<1>(&weights)?;
            counts_properties::<8>(&weights)?;
            counts_properties::<12>(&weights)?;
            counts_properties::<16>(&weights)?;
            counts_properties::<24>(&weights)?;
        }

        #[test]
        fn cdf_from_weights_properties(weights in prop::collection::vec(
            prop_oneof![Just(0u32), 0u32..10, any::<u32>()], 2..300)) {
            weights_properties::<8>(&weights)?;
            weights_properties::<12>(&weights)?;
            weights_properties::<16>(&weights)?;
            weights_properties::<24>(&weights)?;
        }

        #[test]
        fn models_agree(weights in weights_strategy(), qs in prop::collection::vec(any::<u32>(), 50)) {
            let c = Categorical::<16>::from_counts(&weights).unwrap();
            let l = c.clone().into_lookup();
            let r = c.as_cdf_ref();
            for q in qs {
                let q = q >> 16;
                let (s, lo, f) = c.quantile_function(q);
                prop_assert!(lo <= q && q - lo < f.get());
                prop_assert_eq!(l.quantile_function(q), (s, lo, f));
                prop_assert_eq!(r.quantile_function(q), (s, lo, f));
                prop_assert_eq!(c.left_cumulative_and_probability(s), Some((lo, f)));
                prop_assert_eq!(l.left_cumulative_and_probability(s), Some((lo, f)));
                prop_assert_eq!(r.left_cumulative_and_probability(s), Some((lo, f)));
            }
            prop_assert_eq!(c.left_cumulative_and_probability(weights.len()), None);
            prop_assert_eq!(r.left_cumulative_and_probability(usize::MAX), None);
            prop_assert_eq!(c.symbol_table().count(), weights.len());
        }
    }
}
