//! What each level uses. Changing anything here changes the coded bytes of that
//! level, so it is part of the format (see spec/MODELS.md §3).

/// A hashed context, computed once per byte from the bytes already coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ctx {
    /// The last `n` bytes, `n` in 2..=8.
    Order(u8),
    /// The current word (letters, case-folded); between words, the previous
    /// word and the last byte.
    Word,
    /// The current word and the previous word.
    WordPair,
    /// The two bytes above in the previous line (at the current column and
    /// the next), with the last byte: for tables, CSV, JSON and logs.
    Column,
    /// The bytes of the last eight selected by a byte mask (bit `k` of the
    /// mask selects the byte `k + 1` positions back).
    Sparse(u8),
}

/// The parameters of one level.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Whether the order-0 context is used (order 1 always is).
    pub order0: bool,
    /// Hashed contexts, in mixer-input order.
    pub hashed: &'static [Ctx],
    /// log2 of the hash table's size in bytes.
    pub table_bits: u32,
    /// Minimum match length of the match model; 0 disables it.
    pub match_min: usize,
    /// log2 of the match model's history buffer in bytes.
    pub match_buf_bits: u32,
    /// log2 of the match model's index entries.
    pub match_table_bits: u32,
    /// Number of APM stages: 0, 1 (by partial byte) or 2 (also by previous
    /// byte and partial byte).
    pub apms: u8,
    /// Number of weight selectors of the mixer's first layer: 1 (by partial
    /// byte), 2 (also by match state × context hits) or 3 (also by previous
    /// byte); with more than one, a final layer mixes their outputs.
    pub selectors: u8,
    /// Count limit of the bit-history state maps.
    pub sm_limit: u32,
    /// Mixer learning rate.
    pub lr: i32,
}

use Ctx::*;

const L1: &[Ctx] = &[Order(2), Order(4)];
const L2: &[Ctx] = &[Order(2), Order(3), Order(4)];
const L3: &[Ctx] = &[Order(2), Order(3), Order(4), Order(6)];
// Revision 1 has the contexts of revision 2 without the column context.
const L4: &[Ctx] = without_column(L4C);
const L7: &[Ctx] = without_column(L7C);
const L9: &[Ctx] = without_column(L9C);

/// `list` without its last context (every revision-2 list ends with [`Ctx::Column`]).
const fn without_column(list: &'static [Ctx]) -> &'static [Ctx] {
    match list.split_last() {
        Some((Column, rest)) => rest,
        _ => panic!("a revision-2 context list ends with the column context"),
    }
}

// Revision 2 (method `cm2`).
const L4C: &[Ctx] = &[Order(2), Order(3), Order(4), Order(6), Word, Column];
const L7C: &[Ctx] = &[Order(2), Order(3), Order(4), Order(5), Order(6), Word, WordPair, Column];
const L9C: &[Ctx] = &[
    Order(2),
    Order(3),
    Order(4),
    Order(5),
    Order(6),
    Order(8),
    Word,
    WordPair,
    Sparse(0b110),
    Sparse(0b1010),
    Column,
];

/// The configuration of `level` (clamped to 1..=9).
pub fn config(level: u8) -> Config {
    let base = Config {
        order0: true,
        hashed: L4,
        table_bits: 25,
        match_min: 7,
        match_buf_bits: 24,
        match_table_bits: 20,
        apms: 2,
        selectors: 1,
        sm_limit: 1023,
        lr: 7,
    };
    match level.clamp(1, 9) {
        1 => Config { order0: false, hashed: L1, table_bits: 22, match_min: 0, apms: 0, ..base },
        2 => Config { order0: false, hashed: L2, table_bits: 22, match_min: 0, apms: 1, ..base },
        3 => Config { hashed: L3, table_bits: 23, match_buf_bits: 22, match_table_bits: 18, apms: 1, ..base },
        4 => Config { table_bits: 24, match_buf_bits: 23, match_table_bits: 19, apms: 1, ..base },
        5 => Config { table_bits: 24, ..base },
        6 => base,
        7 => Config { table_bits: 26, match_table_bits: 21, selectors: 2, ..base },
        8 => Config { hashed: L7, table_bits: 26, match_table_bits: 21, selectors: 2, ..base },
        _ => Config {
            hashed: L9,
            table_bits: 27,
            match_buf_bits: 25,
            match_table_bits: 22,
            selectors: 2,
            ..base
        },
    }
}

/// Revision 2 of the configurations (method `cm2`, spec/MODELS.md §3.11):
/// [`config`] with, from level 4, the second weight selector and the final
/// mixer (revision 1 has them from level 7) and one more hashed context,
/// [`Ctx::Column`], after the others.
pub fn config_v2(level: u8) -> Config {
    let c = config(level);
    let hashed = match level.clamp(1, 9) {
        1..=3 => return c,
        4..=7 => L4C,
        8 => L7C,
        _ => L9C,
    };
    Config { hashed, selectors: c.selectors.max(2), ..c }
}

/// log2 of the hash table's size of a prior ([`super::Prior`]): fixed, so
/// that the prior's table can be used for any input length.
pub const PRIOR_TABLE_BITS: u32 = 24;

/// The configuration of `level` (clamped to 1..=9) for an input of `len`
/// bytes: [`config`]`(level)` with its tables shrunk for short inputs, so that
/// a small chunk neither allocates nor touches more memory than it can use.
/// With `lg` = the bit length of `len` (0 for 0, 1 for 1, 11 for 1024, …):
/// table bits ≤ max(16, lg + 7), match buffer bits ≤ max(12, lg) (the buffer
/// then holds the whole input), match index bits ≤ max(12, lg + 1).
pub fn config_for_len(level: u8, len: u64) -> Config {
    shrink(config(level), len)
}

/// [`config_v2`]`(level)` shrunk for an input of `len` bytes, as
/// [`config_for_len`] does.
pub fn config_v2_for_len(level: u8, len: u64) -> Config {
    shrink(config_v2(level), len)
}

fn shrink(c: Config, len: u64) -> Config {
    let lg = 64 - len.leading_zeros();
    Config {
        table_bits: c.table_bits.min((lg + 7).max(16)),
        match_buf_bits: c.match_buf_bits.min(lg.max(12)),
        match_table_bits: c.match_table_bits.min((lg + 1).max(12)),
        ..c
    }
}
