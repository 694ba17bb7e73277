//! Hashing and the hashed table of bit-history states.
//!
//! The table is an array of 16-byte buckets. A bucket holds the states of one
//! context for one nibble: byte 0 is an 8-bit check of the context hash, bytes
//! 1..=15 are the bit-history states of the 15 nodes of the nibble's binary tree
//! (node 1 is the nibble's first bit, nodes 2..=3 the second, 4..=7 the third,
//! 8..=15 the fourth). A context is looked up twice per byte (at bits 0 and 4);
//! the lookup probes the four buckets of one 64-byte group and, on a miss,
//! reuses the probed bucket whose first node has seen the fewest bits.

use super::tables::STATE_TOTAL;

const K1: u64 = 0x9E37_79B9_7F4A_7C15;
const K2: u64 = 0xD6E8_FEB8_6659_FD93;

/// Hash two 64-bit words into one (wrapping integer arithmetic only, so the
/// same on every machine). All 64 output bits depend on both inputs.
#[inline]
pub fn mix(a: u64, b: u64) -> u64 {
    let mut h = a.wrapping_add(b.wrapping_mul(K2)).wrapping_mul(K1);
    h ^= h >> 32;
    h = h.wrapping_mul(K2);
    h ^ (h >> 29)
}

/// Bytes per bucket.
pub const BUCKET: usize = 16;

/// A hashed table of nibble buckets of bit-history states, after a prefix of
/// `prefix` bytes that the caller may use for directly indexed states (so that
/// all states live in one array and are read the same way).
#[derive(Debug, Clone)]
pub struct HashTable {
    t: Vec<u8>,
    /// Bytes before the first bucket.
    prefix: usize,
    /// `64 − log2(number of buckets)`.
    shift: u32,
}

impl HashTable {
    /// A table of `2^bits` bytes of buckets (`bits` is clamped to 10..=30)
    /// after `prefix` bytes, all zero: every bucket empty, every state 0.
    pub fn new(bits: u32, prefix: usize) -> Self {
        let bits = bits.clamp(10, 30);
        HashTable { t: vec![0; prefix + (1 << bits)], prefix, shift: 64 - (bits - 4) }
    }

    /// The table's size in bytes, prefix included.
    pub fn memory(bits: u32, prefix: usize) -> usize {
        prefix + (1usize << bits.clamp(10, 30))
    }

    /// Reads the first byte of the bucket group of each hash in `hs`, so that
    /// the memory accesses of the [`HashTable::find`]s that follow overlap
    /// instead of waiting for each other (a prefetch; nothing changes).
    #[inline]
    pub fn touch(&self, hs: &[u64]) {
        let mut x = 0u8;
        for &h in hs {
            x |= self.t[self.prefix + ((h >> self.shift) as usize & !3) * BUCKET];
        }
        std::hint::black_box(x);
    }

    /// Find (or make) the bucket for hash `h`; returns the index of its byte 0,
    /// so that the state of nibble node `j` (1..=15) is at `index + j`
    /// (always below the table's length).
    #[inline]
    pub fn find(&mut self, h: u64) -> usize {
        let check = (h & 0xff) as u8;
        // Bucket number < 2^(bits − 4), so every index below is below
        // prefix + 2^bits, the table's length.
        let b = (h >> self.shift) as usize;
        let mut best = self.prefix + b * BUCKET;
        let mut best_pri = u8::MAX;
        for k in 0..4 {
            let i = self.prefix + (b ^ k) * BUCKET;
            if self.t[i] == check {
                return i;
            }
            let pri = STATE_TOTAL[self.t[i + 1] as usize];
            if pri < best_pri {
                best_pri = pri;
                best = i;
            }
        }
        self.t[best..best + BUCKET].fill(0);
        self.t[best] = check;
        best
    }

    /// The whole table (direct prefix, then the buckets).
    pub fn bytes(&self) -> &[u8] {
        &self.t
    }

    /// The table of [`HashTable::new`]`(bits, prefix)` holding `t` (from
    /// [`HashTable::bytes`]), or `None` if its length differs. Any bytes are
    /// valid states.
    pub fn from_bytes(bits: u32, prefix: usize, t: Vec<u8>) -> Option<Self> {
        let bits = bits.clamp(10, 30);
        (t.len() == prefix + (1 << bits)).then_some(HashTable { t, prefix, shift: 64 - (bits - 4) })
    }

    /// Takes the bytes out (for [`HashTable::put`]), leaving the table
    /// empty: it must not be used until they, or others of the same length,
    /// are put back.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.t)
    }

    /// Puts bytes of the length of [`HashTable::take`]'s back; returns
    /// `false` (keeping the table as it was) if the length differs.
    pub(crate) fn put(&mut self, t: Vec<u8>) -> bool {
        let ok = t.len() == self.prefix + (1usize << self.bits());
        if ok {
            self.t = t;
        }
        ok
    }

    /// log2 of the size of the hashed part.
    pub fn bits(&self) -> u32 {
        68 - self.shift
    }

    /// The state at `i` (`i` must be below the table's length).
    #[inline]
    pub fn get(&self, i: usize) -> u8 {
        self.t[i]
    }

    /// Set the state at `i`.
    #[inline]
    pub fn set(&mut self, i: usize, s: u8) {
        self.t[i] = s;
    }
}
