//! The bitwise context-mixing predictor: contexts → bit-history states →
//! state maps → mixer → APMs.

use super::adaptive::{Apm, HistoryMap};
use super::config::{config, config_for_len, config_v2, config_v2_for_len, Config, Ctx, PRIOR_TABLE_BITS};
use super::hash::{mix, HashTable, TablePool};
use super::match_model::MatchModel;
use super::mixer::{Mixer, MAX_INPUTS};
use super::tables::{squash, stretch, NEXT};
use std::sync::Arc;

/// The largest count of a prior's state maps (see [`Model::finish_prior`]).
pub const PRIOR_COUNT_CAP: u32 = 127;

/// The learned state of a prior ([`Model::prior_parts`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriorParts {
    /// The hash table with its direct prefix, one state per byte.
    pub table: Vec<u8>,
    /// 256 entries per context's state map.
    pub maps: Vec<u32>,
    /// The mixer's weights.
    pub mixer: Vec<i32>,
    /// The first APM's table (empty if the level has none).
    pub apm1: Vec<u16>,
}

/// Most hashed contexts of any level.
pub const MAX_HASHED: usize = 12;

/// Most direct (unhashed) contexts: order 0 and order 1.
const MAX_DIRECT: usize = 2;

/// Offsets of the direct tables in the state array.
const ORDER1: usize = 0;
const ORDER0: usize = 65536;
const DIRECT_BYTES: usize = 65536 + 256;

/// Most contexts (direct + hashed) of any level.
const MAX_CTX: usize = MAX_DIRECT + MAX_HASHED;

/// The word state after byte `c`: the current word's hash (0 between words)
/// and the previous word's hash. Word bytes are ASCII letters (case-folded)
/// and every byte >= 128, so that UTF-8 letters of other scripts count.
#[inline]
fn word_step(word: u64, prev: u64, c: u8) -> (u64, u64) {
    let letter = match c {
        b'a'..=b'z' | 0x80..=0xff => Some(c),
        b'A'..=b'Z' => Some(c + 32),
        _ => None,
    };
    match letter {
        // `| 1` keeps a word's hash nonzero.
        Some(l) => (mix(word, u64::from(l)) | 1, prev),
        None if word != 0 => (0, word),
        None => (0, prev),
    }
}

/// A hashed context, prepared from [`Ctx`] for fast evaluation.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// The bytes of the history selected by a mask.
    Bytes(u64),
    Word,
    WordPair,
    Column,
}

impl Kind {
    fn of(c: Ctx) -> Kind {
        match c {
            Ctx::Order(n) => {
                let n = u32::from(n.clamp(1, 8));
                Kind::Bytes(if n == 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 })
            }
            Ctx::Sparse(m) => {
                Kind::Bytes((0..8).filter(|k| m & (1 << k) != 0).map(|k| 0xffu64 << (8 * k)).sum())
            }
            Ctx::Word => Kind::Word,
            Ctx::WordPair => Kind::WordPair,
            Ctx::Column => Kind::Column,
        }
    }
}

/// The byte-level state that the hashed contexts are computed from.
#[derive(Debug, Clone, Copy, Default)]
struct ByteState {
    /// The last eight bytes, most recent in the low byte.
    hist: u64,
    /// Hash of the current word (0 between words).
    word: u64,
    /// Hash of the previous word.
    prev_word: u64,
}

impl ByteState {
    #[inline]
    fn after(self, c: u8) -> ByteState {
        let (word, prev_word) = word_step(self.word, self.prev_word, c);
        ByteState { hist: (self.hist << 8) | u64::from(c), word, prev_word }
    }
}

/// Longest line prefix remembered for [`Ctx::Column`].
const LINE_MAX: usize = 256;

/// The current and the previous line (their first [`LINE_MAX`] bytes).
#[derive(Debug, Clone)]
struct Lines {
    prev: [u8; LINE_MAX],
    prev_len: usize,
    cur: [u8; LINE_MAX],
    /// Bytes since the last line feed.
    col: usize,
}

impl Default for Lines {
    fn default() -> Self {
        Lines { prev: [0; LINE_MAX], prev_len: 0, cur: [0; LINE_MAX], col: 0 }
    }
}

impl Lines {
    #[inline]
    fn push(&mut self, c: u8) {
        if c == b'\n' {
            std::mem::swap(&mut self.prev, &mut self.cur);
            self.prev_len = self.col.min(LINE_MAX);
            self.col = 0;
        } else {
            if self.col < LINE_MAX {
                self.cur[self.col] = c;
            }
            self.col += 1;
        }
    }
}

/// The adaptive byte model of one level: call [`Model::p`] for the next bit's
/// probability, then [`Model::update`] with the bit, eight times per byte.
#[derive(Debug, Clone)]
pub struct Model {
    /// All bit-history states: the direct tables (order 1: 65536 states by
    /// previous byte and partial byte, at `ORDER1`; order 0: 256 states by
    /// partial byte, at `ORDER0`) as the prefix of the hashed buckets.
    table: HashTable,
    /// Number of direct contexts: 1 (order 1) or 2 (orders 0 and 1).
    nd: usize,
    /// Number of hashed contexts (`cfg.hashed.len()`, at most `MAX_HASHED`).
    nh: usize,
    /// How each hashed context is computed.
    kinds: [Kind; MAX_HASHED],
    /// Context hashes of the current byte, one per hashed context.
    ctx_hash: [u64; MAX_HASHED],
    /// Bucket index of each hashed context for the current nibble.
    bucket: [usize; MAX_HASHED],
    /// Index in `table` of the state used by each context for the current
    /// bit: the direct contexts first, then the hashed ones.
    idx: [usize; MAX_CTX],
    /// The states read for the current bit.
    st: [u8; MAX_CTX],
    /// One state map per context.
    sm: Vec<HistoryMap>,
    mm: Option<MatchModel>,
    mixer: Mixer,
    /// APM by partial byte (levels with `cfg.apms >= 1`).
    apm1: Option<Apm>,
    /// APM by previous byte and partial byte (levels with `cfg.apms >= 2`).
    apm2: Option<Apm>,
    /// Partial byte with a leading 1 (1..=255).
    c0: u32,
    /// Bits of the current byte seen so far (0..=7).
    bitpos: u32,
    /// Node of the current nibble's tree (1..=15).
    node: usize,
    bs: ByteState,
    /// The previous line and the column, for [`Ctx::Column`].
    lines: Box<Lines>,
}

impl Model {
    /// A fresh model for `level` (clamped to 1..=9) that will code `len`
    /// bytes. `len` sets the table sizes ([`config_for_len`]), so the encoder
    /// and the decoder must give the same value; more bytes than `len` may be
    /// coded, only less well.
    pub fn new(level: u8, len: u64) -> Self {
        Self::with_config(config_for_len(level, len))
    }

    /// A fresh model of revision 2 (method `cm2`, [`config_v2`]) without a
    /// prior; otherwise as [`Model::new`].
    pub fn new_v2(level: u8, len: u64) -> Self {
        Self::with_config(config_v2_for_len(level, len))
    }

    /// A fresh model of revision 2 at `level` with the table size of a prior
    /// ([`PRIOR_TABLE_BITS`]): the model that a prior is trained from.
    pub fn new_prior_base(level: u8) -> Self {
        Self::with_config(Config { table_bits: PRIOR_TABLE_BITS, ..config_v2(level) })
    }

    /// A model of revision 2 that starts from `prior` (trained at `level` by
    /// [`Model::new_prior_base`] and [`Model::finish_prior`], its table then
    /// taken out by [`Model::take_table`]) with `table` (a copy of that
    /// table) in its place, to go to `home` when the model is dropped, and a
    /// fresh match model sized for `len` bytes; `None` if `table` has another
    /// length.
    pub(crate) fn from_prior_and_table(
        prior: &Model,
        level: u8,
        len: u64,
        table: Vec<u8>,
        home: Option<Arc<TablePool>>,
    ) -> Option<Self> {
        let mut m = prior.clone();
        if !m.table.put(table, home) {
            return None;
        }
        let cfg = config_v2_for_len(level, len);
        m.mm = (cfg.match_min > 0)
            .then(|| MatchModel::new(cfg.match_buf_bits, cfg.match_table_bits, cfg.match_min));
        m.byte_contexts();
        Some(m)
    }

    /// Takes the table (most of a prior's memory) out of the model, which
    /// must then only serve [`Model::from_prior_and_table`].
    pub(crate) fn take_table(&mut self) -> Vec<u8> {
        self.table.take()
    }

    /// Turns a model that has learned from training data into a prior: the
    /// match model is dropped, the learning schedules restart (mixer
    /// learning rate; state-map counts capped at [`PRIOR_COUNT_CAP`]) so that
    /// the model keeps adapting to new data, and the byte state is reset.
    pub fn finish_prior(&mut self) {
        self.mm = None;
        self.mixer.restart();
        for m in &mut self.sm {
            m.cap_counts(PRIOR_COUNT_CAP);
        }
        self.reset_position();
        // The order-1 APM is not part of a prior: it learns fast, and its
        // 4 MiB table would double the package's size for ~0.05%.
        self.apm2 = self.apm2.as_ref().map(|_| order1_apm());
    }

    /// The learned state of a prior: the table, the state maps' entries, the
    /// mixer's weights and the first APM's table (empty when absent).
    pub fn prior_parts(&self) -> PriorParts {
        PriorParts {
            table: self.table.bytes().to_vec(),
            maps: self.sm.iter().flat_map(|m| m.entries().iter().copied()).collect(),
            mixer: self.mixer.weights(),
            apm1: self.apm1.as_ref().map(|a| a.entries().to_vec()).unwrap_or_default(),
        }
    }

    /// The prior of `level` holding `parts`, or `None` if any part does not
    /// have the shape of [`Model::new_prior_base`]`(level)` or a mixer
    /// weight is out of range.
    pub fn prior_from_parts(level: u8, parts: PriorParts) -> Option<Model> {
        let mut m = Self::new_prior_base(level);
        m.reset_position();
        if parts.maps.len() != m.sm.len() * 256 {
            return None;
        }
        m.table = HashTable::from_bytes(m.table.bits(), DIRECT_BYTES, parts.table)?;
        for (map, t) in m.sm.iter_mut().zip(parts.maps.chunks_exact(256)) {
            let t: &[u32; 256] = t.try_into().ok()?;
            map.set_entries(t, PRIOR_COUNT_CAP);
        }
        if !m.mixer.set_weights(&parts.mixer) {
            return None;
        }
        let ok = match m.apm1.as_mut() {
            Some(a) => a.set_entries(&parts.apm1),
            None => parts.apm1.is_empty(),
        };
        if !ok {
            return None;
        }
        m.mm = None;
        Some(m)
    }

    /// Back to the start of a byte string: no bytes seen, no buckets found.
    fn reset_position(&mut self) {
        self.c0 = 1;
        self.bitpos = 0;
        self.node = 1;
        self.bs = ByteState::default();
        *self.lines = Lines::default();
        self.ctx_hash = [0; MAX_HASHED];
        self.bucket = [0; MAX_HASHED];
        self.idx = [0; MAX_CTX];
        self.st = [0; MAX_CTX];
    }

    fn with_config(cfg: Config) -> Self {
        let nh = cfg.hashed.len().min(MAX_HASHED);
        let nd = usize::from(cfg.order0) + 1;
        let nctx = nd + nh;
        let mm = (cfg.match_min > 0)
            .then(|| MatchModel::new(cfg.match_buf_bits, cfg.match_table_bits, cfg.match_min));
        // Inputs: one per context, two from the match model, one bias.
        let n_inputs = nctx + if mm.is_some() { 2 } else { 0 } + 1;
        let mixer = Mixer::new(n_inputs, mixer_sets(&cfg), 1, cfg.lr, 2);
        let mut kinds = [Kind::Word; MAX_HASHED];
        for (k, &c) in kinds.iter_mut().zip(cfg.hashed) {
            *k = Kind::of(c);
        }
        let mut m = Model {
            table: HashTable::new(cfg.table_bits, DIRECT_BYTES),
            nd,
            nh,
            kinds,
            ctx_hash: [0; MAX_HASHED],
            bucket: [0; MAX_HASHED],
            idx: [0; MAX_CTX],
            st: [0; MAX_CTX],
            sm: vec![HistoryMap::new(cfg.sm_limit); nctx],
            mm,
            mixer,
            apm1: (cfg.apms >= 1).then(|| Apm::new(256, 7)),
            apm2: (cfg.apms >= 2).then(order1_apm),
            c0: 1,
            bitpos: 0,
            node: 1,
            bs: ByteState::default(),
            lines: Box::default(),
        };
        m.byte_contexts();
        m
    }

    /// Approximate memory in bytes of a model of `level` (for the largest
    /// inputs; see [`config_for_len`]).
    pub fn memory(level: u8) -> usize {
        let cfg = config(level);
        let mm =
            if cfg.match_min > 0 { MatchModel::memory(cfg.match_buf_bits, cfg.match_table_bits) } else { 0 };
        let apm = match cfg.apms {
            0 => 0,
            1 => 256 * 33 * 2,
            _ => (256 + 65536) * 33 * 2,
        };
        let mixer = Mixer::memory(MAX_INPUTS, mixer_sets(&cfg), 1);
        let maps = (MAX_DIRECT + cfg.hashed.len()) * 1024;
        HashTable::memory(cfg.table_bits, DIRECT_BYTES) + mm + apm + mixer + maps + 4096
    }

    /// Compute the context hashes of the byte that starts now, then look up
    /// their buckets for its first nibble.
    fn byte_contexts(&mut self) {
        let b = self.bs;
        let c1 = b.hist & 0xff;
        for (i, (o, kind)) in self.ctx_hash.iter_mut().zip(&self.kinds).take(self.nh).enumerate() {
            let v = match *kind {
                Kind::Bytes(mask) => b.hist & mask,
                Kind::Word if b.word != 0 => b.word,
                Kind::Word => mix(b.prev_word, c1),
                Kind::WordPair => mix(b.word, b.prev_word.wrapping_add(c1)),
                Kind::Column => {
                    let l = &self.lines;
                    let above = |k: usize| if k < l.prev_len { u64::from(l.prev[k]) } else { 256 };
                    above(l.col) | above(l.col + 1) << 9 | c1 << 18
                }
            };
            *o = mix(v, i as u64 + 1);
        }
        self.nibble_buckets();
    }

    /// Look up every hashed context's bucket for the nibble that starts now.
    fn nibble_buckets(&mut self) {
        let mut h = [0u64; MAX_HASHED];
        for (hi, &c) in h.iter_mut().zip(&self.ctx_hash[..self.nh]) {
            *hi = mix(c, u64::from(self.c0));
        }
        self.table.touch(&h[..self.nh]);
        for (b, &hi) in self.bucket.iter_mut().zip(&h[..self.nh]) {
            *b = self.table.find(hi);
        }
        self.node = 1;
    }

    /// The partial byte with a leading 1 (1 at a byte's start) and the
    /// number of its bits known (0..=7).
    #[inline]
    pub(crate) fn partial_byte(&self) -> (u32, u32) {
        (self.c0, self.bitpos)
    }

    /// The last complete byte (0 before the first).
    #[inline]
    pub(crate) fn last_byte(&self) -> u8 {
        self.bs.hist as u8
    }

    /// P(next bit = 1) in 1/65536, in `1..=65535`.
    #[inline]
    pub fn p(&mut self) -> u16 {
        let c0 = self.c0 as usize;
        let c1 = (self.bs.hist & 0xff) as usize;
        let (nd, nctx) = (self.nd, self.nd + self.nh);
        // Direct contexts: order 1 at ORDER1 + c1·256 + c0, order 0 at ORDER0
        // + c0, both below DIRECT_BYTES. Hashed contexts: bucket + node with
        // node in 1..=15, inside the table (see HashTable::find).
        self.idx[0] = ORDER1 + (c1 << 8) + c0;
        self.idx[1] = ORDER0 + c0;
        for (k, &b) in self.idx[nd..nctx].iter_mut().zip(&self.bucket[..self.nh]) {
            *k = b + self.node;
        }
        let mut hits = 0usize;
        let x = self.mixer.inputs_mut();
        let (sts, idx, sm) = (&mut self.st[..nctx], &self.idx[..nctx], &self.sm[..nctx]);
        for (((xi, st), &k), map) in x.iter_mut().zip(sts).zip(idx).zip(sm) {
            let s = self.table.get(k);
            *st = s;
            hits += usize::from(s != 0);
            *xi = stretch(map.p12(s));
        }
        let mut n = nctx;
        let mstate = match self.mm.as_mut() {
            Some(mm) => {
                let [a, b] = mm.predict(self.c0, self.bitpos);
                x[n] = a;
                x[n + 1] = b;
                n += 2;
                mm.state(self.c0, self.bitpos)
            }
            None => 0,
        };
        // n + 1 == the mixer's input count (see Model::new).
        x[n] = 256;
        self.mixer.select(0, c0);
        self.mixer
            .select(1, (mstate.min(31) >> 1) * 32 + (hits.min(15) << 1) + usize::from(self.bitpos == 0));
        self.mixer.select(2, c1);
        let logit = self.mixer.mix();
        let p0 = squash(logit);
        // All terms are below 2^16, so the weighted sums fit easily.
        let p = match (self.apm1.as_mut(), self.apm2.as_mut()) {
            (Some(a1), Some(a2)) => {
                let p1 = a1.p(logit, c0);
                // Order 1 with the partial byte: < 2^16.
                let p2 = a2.p(logit, c1 << 8 | c0);
                (p0 + p1 + 6 * p2) >> 3
            }
            (Some(a1), None) => (p0 + 3 * a1.p(logit, c0)) >> 2,
            _ => p0,
        };
        p.clamp(1, 65535) as u16
    }

    /// Learn the bit that followed the last [`Model::p`].
    #[inline]
    pub fn update(&mut self, bit: bool) {
        let y = u32::from(bit);
        let nctx = self.nd + self.nh;
        let (sts, idx, sm) = (&self.st[..nctx], &self.idx[..nctx], &mut self.sm[..nctx]);
        for ((&s, &k), map) in sts.iter().zip(idx).zip(sm) {
            self.table.set(k, NEXT[usize::from(s)][y as usize]);
            map.update(s, y);
        }
        if let Some(mm) = self.mm.as_mut() {
            mm.update_bit(y);
        }
        self.mixer.update(y);
        if let Some(a1) = self.apm1.as_mut() {
            a1.update(y);
        }
        if let Some(a2) = self.apm2.as_mut() {
            a2.update(y);
        }
        self.c0 = (self.c0 << 1) | y;
        self.node = (self.node << 1) | y as usize;
        self.bitpos += 1;
        if self.bitpos == 8 {
            self.end_byte();
        } else if self.bitpos == 4 {
            self.nibble_buckets();
        }
    }

    /// The byte is complete.
    fn end_byte(&mut self) {
        let c = (self.c0 & 0xff) as u8;
        self.bs = self.bs.after(c);
        self.lines.push(c);
        if let Some(mm) = self.mm.as_mut() {
            mm.update_byte(c);
        }
        self.c0 = 1;
        self.bitpos = 0;
        self.byte_contexts();
    }
}

/// A fresh APM by previous byte and partial byte (`Model::apm2`).
fn order1_apm() -> Apm {
    Apm::new(1 << 16, 7)
}

/// The weight sets of the mixer's selectors at a configuration (see
/// `Config::selectors`).
fn mixer_sets(cfg: &Config) -> &'static [usize] {
    match cfg.selectors {
        0 | 1 => &[256],
        2 => &[256, 512],
        _ => &[256, 512, 256],
    }
}
