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
use std::sync::{Arc, Mutex};

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

/// log2 of the bytes per line of the found-lines record (one bit per line).
const LINE_BITS: u32 = 6;

/// Tables that started as copies of one *pristine* table (a prior's) and
/// come back here when dropped, each with the record of the bucket lines it
/// found, so that the next model restores those lines (and the direct prefix)
/// instead of copying or
/// inflating all of its 16 MiB: a frame of many small chunks then costs time
/// in proportion to its bytes, not to its number of chunks.
#[derive(Debug, Default)]
pub(crate) struct TablePool {
    spare: Mutex<Vec<Spare>>,
}

/// A table in a [`TablePool`]: its bytes, the record of its found bucket
/// lines, and the length of its prefix.
#[derive(Debug)]
struct Spare {
    t: Vec<u8>,
    dirty: Vec<u64>,
    prefix: usize,
}

/// Most tables a pool keeps (each as large as its pristine table).
const POOL_MAX: usize = 16;

impl TablePool {
    /// A spare table made equal to `pristine` again (its direct prefix and
    /// the bucket lines found since it was last equal are copied), or `None`
    /// if there is none of its length.
    pub(crate) fn take(&self, pristine: &[u8]) -> Option<Vec<u8>> {
        let Spare { mut t, dirty, prefix } = self.spare.lock().ok()?.pop()?;
        if t.len() != pristine.len() || prefix > t.len() {
            return None;
        }
        let lines = dirty.iter().map(|w| w.count_ones() as usize).sum::<usize>();
        if lines << LINE_BITS >= t.len() / 2 {
            t.copy_from_slice(pristine);
            return Some(t);
        }
        t[..prefix].copy_from_slice(&pristine[..prefix]);
        for (k, &word) in dirty.iter().enumerate() {
            let mut w = word;
            while w != 0 {
                let line = k * 64 + w.trailing_zeros() as usize;
                w &= w - 1;
                let start = line << LINE_BITS;
                let end = (start + (1 << LINE_BITS)).min(t.len());
                // Every marked line starts inside the table (see `mark`).
                t[start..end].copy_from_slice(&pristine[start..end]);
            }
        }
        Some(t)
    }

    /// Keeps `t` (with `dirty`, its found bucket lines, and the length of
    /// its prefix) for a later [`TablePool::take`].
    fn give(&self, t: Vec<u8>, dirty: Vec<u64>, prefix: usize) {
        if let Ok(mut spare) = self.spare.lock() {
            if spare.len() < POOL_MAX && !t.is_empty() {
                spare.push(Spare { t, dirty, prefix });
            }
        }
    }
}

/// A hashed table of nibble buckets of bit-history states, after a prefix of
/// `prefix` bytes that the caller may use for directly indexed states (so that
/// all states live in one array and are read the same way).
#[derive(Debug, Clone)]
pub struct HashTable {
    t: Vec<u8>,
    /// One bit per 64-byte line of `t`: set when [`HashTable::find`] returns
    /// a bucket in the line, so that the lines of every bucket that may have
    /// been written since the table was a copy of a pool's pristine table
    /// are marked (writes go to the prefix, or to found buckets).
    dirty: Vec<u64>,
    /// Bytes before the first bucket.
    prefix: usize,
    /// `64 − log2(number of buckets)`.
    shift: u32,
    /// Where the bytes go when the table is dropped.
    home: Option<Arc<TablePool>>,
}

impl Drop for HashTable {
    fn drop(&mut self) {
        if let Some(home) = self.home.take() {
            home.give(std::mem::take(&mut self.t), std::mem::take(&mut self.dirty), self.prefix);
        }
    }
}

/// The found-lines record of a table of `len` bytes, all clear.
fn clean(len: usize) -> Vec<u64> {
    vec![0; len.div_ceil(64 << LINE_BITS)]
}

impl HashTable {
    /// A table of `2^bits` bytes of buckets (`bits` is clamped to 10..=30)
    /// after `prefix` bytes, all zero: every bucket empty, every state 0.
    pub fn new(bits: u32, prefix: usize) -> Self {
        let bits = bits.clamp(10, 30);
        let len = prefix + (1 << bits);
        HashTable { t: vec![0; len], dirty: clean(len), prefix, shift: 64 - (bits - 4), home: None }
    }

    /// Records that byte `i` (below the table's length) is in a found bucket.
    #[inline]
    fn mark(&mut self, i: usize) {
        self.dirty[i >> (LINE_BITS + 6)] |= 1 << ((i >> LINE_BITS) & 63);
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
                self.mark(i);
                self.mark(i + BUCKET - 1);
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
        self.mark(best);
        self.mark(best + BUCKET - 1);
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
        (t.len() == prefix + (1 << bits)).then(|| HashTable {
            dirty: clean(t.len()),
            t,
            prefix,
            shift: 64 - (bits - 4),
            home: None,
        })
    }

    /// Takes the bytes out (for [`HashTable::put`]), leaving the table
    /// empty: it must not be used until they, or others of the same length,
    /// are put back.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.t)
    }

    /// Puts bytes of the length of [`HashTable::take`]'s back; returns
    /// `false` (keeping the table as it was) if the length differs. With
    /// `home`, the bytes must equal the pool's pristine table: when the
    /// table is dropped they go back to `home` with the record of the bucket
    /// lines found since.
    pub(crate) fn put(&mut self, t: Vec<u8>, home: Option<Arc<TablePool>>) -> bool {
        let ok = t.len() == self.prefix + (1usize << self.bits());
        if ok {
            self.dirty = clean(t.len());
            self.t = t;
            self.home = home;
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

    /// Set the state at `i`: in the prefix, or in a bucket that
    /// [`HashTable::find`] returned since the table was made or put.
    #[inline]
    pub fn set(&mut self, i: usize, s: u8) {
        debug_assert!(
            i < self.prefix || self.dirty[i >> (LINE_BITS + 6)] >> ((i >> LINE_BITS) & 63) & 1 == 1
        );
        self.t[i] = s;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table holding bytes that are not a fresh table's.
    fn pristine(bits: u32, prefix: usize) -> Vec<u8> {
        (0..HashTable::memory(bits, prefix)).map(|i| (i.wrapping_mul(31) >> 3) as u8).collect()
    }

    #[test]
    fn pool_restores_exactly_the_written_lines() {
        let (bits, prefix) = (16, 1000); // the prefix is not a whole number of lines
        let orig = pristine(bits, prefix);
        let pool = Arc::new(TablePool::default());
        for writes in [0usize, 1, 50, 3000, 40_000] {
            let mut t = HashTable::new(bits, prefix);
            assert!(t.put(pool.take(&orig).unwrap_or_else(|| orig.clone()), Some(Arc::clone(&pool))));
            assert_eq!(t.bytes(), &orig[..]);
            let len = orig.len();
            for k in 0..writes {
                let h = mix(k as u64, 7);
                let b = t.find(h);
                t.set(b + 1 + k % 15, (k % 251) as u8 + 1);
                t.set((h as usize) % prefix, 0xee);
            }
            if writes > 0 {
                // The last group of buckets, and the first byte.
                for h in [u64::MAX, u64::MAX - 0xff] {
                    let b = t.find(h);
                    t.set(b + 15, !orig[b + 15]);
                }
                t.set(0, !orig[0]);
                assert_ne!(t.bytes(), &orig[..]);
                assert_ne!(t.bytes()[len - 64..], orig[len - 64..]);
            }
            let clone = t.clone();
            drop(t);
            drop(clone);
            assert_eq!(pool.spare.lock().unwrap().len(), 2);
            for _ in 0..2 {
                assert_eq!(pool.take(&orig).as_deref(), Some(&orig[..]), "after {writes} writes");
            }
        }
        // A table of another length is not used.
        let mut t = HashTable::new(bits, prefix);
        assert!(t.put(orig.clone(), Some(Arc::clone(&pool))));
        drop(t);
        assert_eq!(pool.take(&orig[1..]), None);
        // Tables without a pool go nowhere.
        drop(HashTable::new(bits, prefix));
        assert!(pool.spare.lock().unwrap().is_empty());
    }
}
