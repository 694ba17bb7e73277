//! The match model: finds the last occurrence of the most recent `min_len`
//! bytes and predicts that the byte which followed it comes next.

use super::adaptive::StateMap;
use super::hash::mix;
use super::tables::stretch;

/// Longest match verified backwards when a candidate is found.
const VERIFY_LIMIT: usize = 64;

/// Matches are counted up to this length.
const LEN_LIMIT: u32 = 65535;

/// The length bucket (1..=31) of a match of length `len` >= 1.
#[inline]
fn len_bucket(len: u32) -> usize {
    match len {
        0..=15 => len as usize,
        16..=31 => 12 + (len as usize) / 4,       // 16..=19
        32..=63 => 16 + (len as usize) / 8,       // 20..=23
        64..=511 => 24 + (len as usize) / 128,    // 24..=27
        _ => 28 + ((len as usize) / 2048).min(3), // 28..=31
    }
}

/// State of the match model.
#[derive(Debug, Clone)]
pub struct MatchModel {
    /// History ring buffer, `2^buf_bits` bytes.
    buf: Vec<u8>,
    buf_mask: usize,
    /// `2^table_bits` entries: stream position (mod 2^32) following each
    /// hashed `min_len`-byte context.
    table: Vec<u32>,
    table_shift: u32,
    min_len: usize,
    /// Hash of the last `min_len − 1` bytes, oldest first: the context of
    /// the next byte `c` hashes to `mix(prefix, c)`.
    prefix: u64,
    /// Bytes seen so far.
    pos: usize,
    /// Position of the predicted byte (valid when `len > 0`; then `ptr < pos`
    /// and `pos − ptr` is less than the buffer size).
    ptr: usize,
    /// Current match length (0 = no match).
    len: u32,
    /// Predicted byte with a leading 1 bit (256..=511), or 0 without a match.
    pbyte: u32,
    sm: StateMap,
    /// Context of `sm` used by the last prediction (0 = none).
    cx: usize,
}

impl MatchModel {
    /// A match model with a `2^buf_bits`-byte history and a `2^table_bits`
    /// entry index over contexts of `min_len` bytes.
    pub fn new(buf_bits: u32, table_bits: u32, min_len: usize) -> Self {
        let buf_bits = buf_bits.clamp(8, 31);
        let table_bits = table_bits.clamp(8, 30);
        MatchModel {
            buf: vec![0; 1 << buf_bits],
            buf_mask: (1 << buf_bits) - 1,
            table: vec![0; 1 << table_bits],
            table_shift: 64 - table_bits,
            min_len: min_len.clamp(1, 32),
            prefix: 0,
            pos: 0,
            ptr: 0,
            len: 0,
            pbyte: 0,
            sm: StateMap::new(64, 1023),
            cx: 0,
        }
    }

    /// Bytes of memory used.
    pub fn memory(buf_bits: u32, table_bits: u32) -> usize {
        (1usize << buf_bits.clamp(8, 31)) + 4 * (1usize << table_bits.clamp(8, 30))
    }

    /// The match-length bucket (0 = no match) for mixer and APM contexts.
    /// `c0` and `bitpos` describe the partial byte; a match whose predicted
    /// byte already disagrees with it counts as none.
    #[inline]
    pub fn state(&self, c0: u32, bitpos: u32) -> usize {
        if self.len > 0 && (self.pbyte >> (8 - bitpos)) == c0 {
            len_bucket(self.len)
        } else {
            0
        }
    }

    /// The expected bit if the match still agrees with the partial byte.
    #[inline]
    pub fn expected_bit(&self, c0: u32, bitpos: u32) -> Option<u32> {
        if self.len > 0 && (self.pbyte >> (8 - bitpos)) == c0 {
            Some((self.pbyte >> (7 - bitpos)) & 1)
        } else {
            None
        }
    }

    /// Mixer inputs for the next bit (two values).
    #[inline]
    pub fn predict(&mut self, c0: u32, bitpos: u32) -> [i32; 2] {
        match self.expected_bit(c0, bitpos) {
            Some(bit) => {
                let lb = len_bucket(self.len);
                self.cx = lb * 2 + bit as usize;
                let st = stretch(self.sm.p12(self.cx));
                // A second, fixed-shape input: confidence growing with length.
                let conf = (lb as i32) * 64;
                [st, if bit != 0 { conf } else { -conf }]
            }
            None => {
                self.cx = 0;
                [0, 0]
            }
        }
    }

    /// Learn bit `y`.
    #[inline]
    pub fn update_bit(&mut self, y: u32) {
        if self.cx != 0 {
            self.sm.update(self.cx, y);
        }
    }

    /// The index slot of the context that ends with the next byte `c`.
    #[inline]
    fn slot(&self, c: u8) -> usize {
        (mix(self.prefix, u64::from(c)) >> self.table_shift) as usize
    }

    /// Append the completed byte `c` and look for a new match if needed.
    pub fn update_byte(&mut self, c: u8) {
        let mask = self.buf_mask;
        let slot = self.slot(c);
        self.buf[self.pos & mask] = c;
        self.pos += 1;
        if self.len > 0 {
            if self.pbyte == 256 | u32::from(c) {
                self.len = (self.len + 1).min(LEN_LIMIT);
                self.ptr += 1;
            } else {
                self.len = 0;
            }
        }
        if self.pos >= self.min_len {
            if self.len == 0 {
                // Distance to the candidate, mod 2^32 (positions are stored
                // as u32; a stale entry only yields a wrong guess, which the
                // verification below rejects or the model learns to distrust).
                let dist = (self.pos as u32).wrapping_sub(self.table[slot]) as usize;
                if dist > 0 && dist <= self.pos && dist < mask {
                    let cand = self.pos - dist;
                    // Verify backwards: both cand−1−n and pos−1−n must exist
                    // and be inside the ring buffer (n < cand, n + dist < size).
                    let mut n = 0;
                    while n < VERIFY_LIMIT
                        && n < cand
                        && n + dist < mask
                        && self.buf[(cand - 1 - n) & mask] == self.buf[(self.pos - 1 - n) & mask]
                    {
                        n += 1;
                    }
                    if n >= self.min_len {
                        self.len = n as u32;
                        self.ptr = cand;
                    }
                }
            }
            // Positions are deliberately truncated to 32 bits (see above).
            self.table[slot] = self.pos as u32;
        }
        // The next prefix: the last min_len − 1 bytes, oldest first (bytes
        // before the start of the stream read as the buffer's initial zeros).
        let mut h: u64 = 0;
        for k in (1..self.min_len).rev() {
            h = mix(h, u64::from(self.buf[self.pos.wrapping_sub(k) & mask]));
        }
        self.prefix = h;
        self.pbyte = if self.len > 0 { 256 | u32::from(self.buf[self.ptr & mask]) } else { 0 };
    }
}
