//! Adaptive probability maps: [`StateMap`] (a context → probability table that
//! learns with a count-dependent rate) and [`Apm`] (an adaptive probability map,
//! or secondary symbol estimation, that refines a probability given a context).

use super::tables::{squash_const, RECIP, STATE_P22};

/// Asks the processor to bring the cache line holding `r` closer, so that a
/// read of it a little later does not wait on memory. A hint only: it reads
/// and changes nothing, so no result depends on it.
#[inline(always)]
pub fn prefetch<T>(r: &T) {
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    // SAFETY: `_mm_prefetch` (SSE, part of the x86-64 baseline) never faults
    // and never dereferences its argument, here a valid reference anyway.
    unsafe {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        _mm_prefetch::<_MM_HINT_T0>((r as *const T).cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = r;
}

/// Maps a small context (typically a bit-history state) to a probability that
/// adapts to the bits actually seen in that context.
///
/// Each entry is a `u32`: the high 22 bits are P(1) in 1/2^22, the low 10 bits
/// count the updates (up to `limit`). An update moves P(1) toward the bit by the
/// fraction `RECIP[count] / 2^16` ≈ 1 / (count + 1.5), so an entry starts as a
/// running average and ends as an exponential moving average of rate
/// ≈ 1 / (limit + 1.5).
///
/// The table holds each entry XOR [`FLIP`], so that the initial entry (P(1) =
/// ½, count 0) is stored as 0: a new map is zeroed memory, which the system
/// hands out without writing it, and a large map whose contexts are sparse
/// costs only the pages it touches.
#[derive(Debug, Clone)]
pub struct StateMap {
    t: Vec<u32>,
    limit: u32,
}

/// What a [`StateMap`] stores instead of entry `e`: `e ^ FLIP`.
const FLIP: u32 = 1 << 31;

impl StateMap {
    /// A map of `n` contexts whose entries all start at P(1) = ½.
    pub fn new(n: usize, limit: u32) -> Self {
        StateMap { t: vec![0; n], limit: limit.min(1023) }
    }

    /// Map every page of a new map now, writable (see [`populate`]): for a
    /// map that its stripe or chunk will use much of. Changes no entry.
    pub fn populate(&mut self) {
        populate(&mut self.t);
    }

    /// P(1) of context `cx` as a 12-bit probability (`0..4096`).
    ///
    /// `cx` must be below the size given to the constructor (callers index
    /// with values that are masked or bounded by construction).
    #[inline]
    pub fn p12(&self, cx: usize) -> u32 {
        (self.t[cx] ^ FLIP) >> 20
    }

    /// Learn bit `y` in context `cx`.
    #[inline]
    pub fn update(&mut self, cx: usize, y: u32) {
        self.t[cx] = adapt(self.t[cx] ^ FLIP, y, self.limit) ^ FLIP;
    }

    /// [`prefetch`] the entry of context `cx` (below the map's size).
    #[inline]
    pub fn prefetch(&self, cx: usize) {
        prefetch(&self.t[cx]);
    }
}

/// A [`StateMap`] over the 256 bit-history states, as a fixed array (so that
/// indexing by a state needs no bounds check).
#[derive(Debug, Clone)]
pub struct HistoryMap {
    t: [u32; 256],
    limit: u32,
}

impl HistoryMap {
    /// Each state starts at the probability its counts imply (`STATE_P22`);
    /// `limit` (at most 1023) bounds the update count.
    pub fn new(limit: u32) -> Self {
        let mut t = [0u32; 256];
        for (e, &p) in t.iter_mut().zip(STATE_P22.iter()) {
            *e = p << 10;
        }
        HistoryMap { t, limit: limit.min(1023) }
    }

    /// The 256 entries (probability in the high 22 bits, count in the low 10).
    pub fn entries(&self) -> &[u32; 256] {
        &self.t
    }

    /// Sets the entries, with every count capped at `cap` (so that the map
    /// keeps adapting at a rate of at least 1/(cap + 1.5)).
    pub fn set_entries(&mut self, t: &[u32; 256], cap: u32) {
        self.t = *t;
        self.cap_counts(cap);
    }

    /// Caps every entry's count at `cap` (so that it adapts at a rate of at
    /// least 1/(cap + 1.5) again).
    pub fn cap_counts(&mut self, cap: u32) {
        for e in &mut self.t {
            if *e & 1023 > cap {
                *e = (*e & !1023) | cap;
            }
        }
    }

    /// P(1) in state `s` as a 12-bit probability.
    #[inline]
    pub fn p12(&self, s: u8) -> u32 {
        self.t[usize::from(s)] >> 20
    }

    /// Learn bit `y` in state `s` (the same rule as [`StateMap::update`]).
    #[inline]
    pub fn update(&mut self, s: u8, y: u32) {
        let e = &mut self.t[usize::from(s)];
        *e = adapt(*e, y, self.limit);
    }
}

/// One update of a state-map entry (see [`StateMap`]).
#[inline]
fn adapt(e: u32, y: u32, limit: u32) -> u32 {
    let n = e & 1023;
    let p = (e >> 10) as i64;
    let target = if y != 0 { (1i64 << 22) - 1 } else { 0 };
    // |target − p| < 2^22 and RECIP[n] <= 43690 < 2^16: the product is below
    // 2^38, so i64 is ample. RECIP[n] < 2^16 makes the step strictly smaller
    // than the distance, so p stays in 0..2^22 (the arithmetic shift rounds
    // toward −∞, which still cannot cross 0 or 2^22 − 1).
    let p = p + (((target - p) * i64::from(RECIP[n as usize])) >> 16);
    let n = if n < limit { n + 1 } else { n };
    ((p as u32) << 10) | n
}

/// Number of interpolation points of an [`Apm`] per context.
pub const APM_POINTS: usize = 33;

/// Adaptive probability map (SSE): for each context, a piecewise-linear map
/// from an input logit to an output probability, with 33 knots at logits
/// −2048, −1920, …, 2048 (1/256 nat), each knot a 16-bit probability
/// initialised to `squash` of its logit. The output interpolates the two knots
/// around the input; the update moves both toward the bit by 1/2^`rate`.
///
/// A knot is stored XORed with its initial value, so that the table starts as
/// zeros (allocated lazily by the operating system, however many contexts).
#[derive(Debug, Clone)]
pub struct Apm {
    t: Vec<u16>,
    /// Number of contexts − 1 (the count is a power of two).
    mask: usize,
    rate: u32,
    /// Index of the lower knot used by the last prediction.
    idx: usize,
    /// Its knot number (0..32).
    j: usize,
}

/// The initial knots: `APM_INIT[j]` = `squash((j − 16) · 128)` (in 1..=65535).
static APM_INIT: [u16; APM_POINTS] = build_apm_init();

const fn build_apm_init() -> [u16; APM_POINTS] {
    let mut t = [0u16; APM_POINTS];
    let mut j = 0;
    while j < APM_POINTS {
        t[j] = squash_const((j as i32 - 16) * 128) as u16;
        j += 1;
    }
    t
}

impl Apm {
    /// A map over `n` contexts (rounded up to a power of two) adapting at
    /// rate 1/2^`rate`.
    pub fn new(n: usize, rate: u32) -> Self {
        let n = n.max(1).next_power_of_two();
        Apm { t: vec![0; n * APM_POINTS], mask: n - 1, rate: rate.min(15), idx: 0, j: 0 }
    }

    /// The table: [`APM_POINTS`] entries per context.
    pub fn entries(&self) -> &[u16] {
        &self.t
    }

    /// Sets the table from [`Apm::entries`] of an APM of the same size;
    /// false, changing nothing, if the size differs.
    pub fn set_entries(&mut self, t: &[u16]) -> bool {
        if t.len() != self.t.len() {
            return false;
        }
        self.t.copy_from_slice(t);
        true
    }

    /// Refine logit `x` in context `cx` (its bits above the number of
    /// contexts are ignored); returns P(1) in 1/65536 (`0..=65535`).
    #[inline]
    pub fn p(&mut self, x: i32, cx: usize) -> u32 {
        // x + 2048 in 0..=4095 after the clamp; j in 0..=31, w in 0..128.
        let x = x.clamp(-2048, 2047) + 2048;
        let j = (x >> 7) as usize;
        let w = (x & 127) as u32;
        // base + 1 <= mask·33 + 32 < len.
        let base = (cx & self.mask) * APM_POINTS + j;
        self.idx = base;
        self.j = j;
        // j + 1 <= 32 < APM_POINTS = APM_INIT.len().
        let lo = u32::from(self.t[base] ^ APM_INIT[j]);
        let hi = u32::from(self.t[base + 1] ^ APM_INIT[j + 1]);
        // Both knots are below 2^16 and the weights sum to 128: no overflow.
        (lo * (128 - w) + hi * w) >> 7
    }

    /// Learn bit `y` for the last prediction.
    #[inline]
    pub fn update(&mut self, y: u32) {
        let target: i32 = if y != 0 { 65535 } else { 0 };
        for (k, &init) in (self.idx..self.idx + 2).zip(&APM_INIT[self.j..self.j + 2]) {
            let v = i32::from(self.t[k] ^ init);
            // Moves v toward target by at most |target − v|: stays in 0..=65535.
            self.t[k] = ((v + ((target - v) >> self.rate)) as u16) ^ init;
        }
    }
}

/// Writes one element per 4 KiB page of the freshly zeroed `v` (zero, the
/// value it holds): the system then maps each page at once, writable. Left
/// alone, a page is first read, which maps the shared zero page, and then
/// written, which faults again and, while other threads of the process run,
/// flushes the TLB of every core they run on. Decoding the 18 test photos at
/// -6 with two threads took 14% less time this way, for more than twice the
/// peak memory (88 → 209 MB): every page of the tables is mapped, not only
/// those the image uses (spec/MODELS.md §7.10).
pub fn populate<T: Copy + Default>(v: &mut [T]) {
    let step = (4096 / std::mem::size_of::<T>().max(1)).max(1);
    for x in v.iter_mut().step_by(step) {
        *x = std::hint::black_box(T::default());
    }
}
