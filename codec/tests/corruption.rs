//! Damaged `.nz` files end in a typed error, never a panic and never wrong
//! output (DESIGN.md §2, laws 1, 3 and 6; spec/FORMAT.md §8).
//!
//! Samples made by the library: (a) ~2 KB of text at level 6 with the range
//! coder, (b) the same with ANS, (c) ~5 KB of text and random bytes in 512-byte
//! chunks (so that both modelled and stored chunks exist) at level 1, (d) two
//! frames concatenated (levels 1 and 2). The multi-chunk samples use low levels
//! because a damaged file makes the decoder decode every chunk before the
//! damage, and the model allocates its tables per chunk: at level 6 (a 32 MiB
//! hash table, always a fresh mmap) a 512-byte chunk costs ~10 ms of page
//! faults, at level 1 well under 1 ms. For each sample:
//! - every truncation point must give a corrupt-input error, except a cut
//!   exactly at the end of a frame, which is a valid shorter stream (§1.1) and
//!   must give exactly the content of the frames before it;
//! - every single-bit flip (a and b), or a deterministic sample of at least
//!   5,000 flips that covers every bit outside chunk data (c and d), must give
//!   a corrupt-input error, with these exceptions, each checked by position:
//!   - a flip in the minor version byte may decode to exactly the original
//!     content (later minors are read by this decoder, §2.1);
//!   - a flip in the major version byte gives `Unsupported` (§2.1).
//!
//!   A flip in a section tag must be a corrupt-input error too: the reader
//!   checks an unknown section's CRC before it calls a critical one
//!   `Unsupported`.
//!
//! Every case also runs through the streaming API: when `decompress` fails,
//! what it wrote before failing must be a prefix of the original content that
//! ends on a chunk boundary (only verified chunks are written).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::format::{self, varint};
use nzip_codec::{CoderKind, CompressOptions, DecompressOptions, Error};
use std::io::{self, Read, Write};
use std::ops::Range;
use std::time::Instant;

// ---------------------------------------------------------------------------
// Sample contents
// ---------------------------------------------------------------------------

/// Deterministic xorshift64 stream.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 24) as u8).collect()
    }
}

/// Deterministic English-like text of exactly `n` bytes.
fn text(n: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "chunk",
        "model",
        "predicts",
        "next",
        "bit",
        "and",
        "coder",
        "turns",
        "probability",
        "into",
        "bytes",
        "a",
        "frame",
        "holds",
        "one",
        "content",
        "with",
        "its",
        "checksum",
        "never",
        "lost",
        "decoder",
        "verifies",
        "every",
        "section",
        "before",
        "writing",
        "output",
        "of",
        "file",
        "is",
        "small",
        "range",
    ];
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        let w = WORDS[(rng.next() % WORDS.len() as u64) as usize];
        out.extend_from_slice(w.as_bytes());
        out.push(if rng.next().is_multiple_of(9) { b'\n' } else { b' ' });
    }
    out.truncate(n);
    out
}

/// `n` bytes alternating 512-byte blocks of text and random bytes.
fn mixed(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed | 1);
    let mut out = Vec::with_capacity(n);
    let mut k = 0;
    while out.len() < n {
        let block = if k % 3 == 1 { rng.bytes(512) } else { text(512, seed + k) };
        out.extend_from_slice(&block);
        k += 1;
    }
    out.truncate(n);
    out
}

// ---------------------------------------------------------------------------
// Samples and their layout
// ---------------------------------------------------------------------------

/// What a byte of a valid `.nz` stream is, for judging the result of damage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Magic,
    Major,
    Minor,
    Tag,
    Length,
    /// HEAD, TAIL, indx payloads and a chunk's kind, raw_len and raw_crc.
    Field,
    /// The data of a chunk (stored content or coded bytes).
    ChunkData,
    Crc,
}

struct Sample {
    name: &'static str,
    packed: Vec<u8>,
    content: Vec<u8>,
    /// The role of every byte of `packed`.
    roles: Vec<Role>,
    /// Stream offsets where a frame ends (a valid cut), with the content
    /// length up to there.
    frame_ends: Vec<(usize, usize)>,
    /// Content offsets where a chunk ends, with 0: the only lengths that
    /// streamed output may have when decoding fails.
    chunk_ends: Vec<usize>,
    /// (stored, modelled) chunk counts.
    chunk_kinds: (usize, usize),
    /// Flip every bit (the small samples), or a sample of at least 5,000.
    all_flips: bool,
}

fn compress_frame(content: &[u8], level: u8, coder: CoderKind, chunk_size: Option<u32>) -> Vec<u8> {
    let o = CompressOptions { level, coder, threads: 1, chunk_size, ..CompressOptions::default() };
    nzip_codec::compress_to_vec(content, &o).unwrap()
}

/// Walk a valid stream, giving every byte its role and recording frame and
/// chunk ends.
fn sample(name: &'static str, all_flips: bool, frames: &[(Vec<u8>, Vec<u8>)]) -> Sample {
    let mut s = Sample {
        name,
        packed: Vec::new(),
        content: Vec::new(),
        roles: Vec::new(),
        frame_ends: Vec::new(),
        chunk_ends: vec![0],
        chunk_kinds: (0, 0),
        all_flips,
    };
    for (packed, content) in frames {
        let base = s.packed.len();
        s.packed.extend_from_slice(packed);
        let mut roles = vec![Role::Magic; format::MAGIC.len()];
        roles.push(Role::Major);
        roles.push(Role::Minor);
        let mut p = format::PRELUDE_LEN;
        let mut content_end = s.content.len();
        loop {
            let tag: [u8; 4] = packed[p..p + 4].try_into().unwrap();
            roles.extend([Role::Tag; 4]);
            let (len, n) = varint::get(&packed[p + 4..], (p + 4) as u64).unwrap();
            roles.extend(std::iter::repeat_n(Role::Length, n));
            let payload = p + 4 + n;
            let len = len as usize;
            if tag == format::tag::CHNK {
                let kind = packed[payload];
                let (raw_len, m) = varint::get(&packed[payload + 1..], 0).unwrap();
                let fields = 1 + m + 4;
                roles.extend(std::iter::repeat_n(Role::Field, fields));
                roles.extend(std::iter::repeat_n(Role::ChunkData, len - fields));
                content_end += raw_len as usize;
                s.chunk_ends.push(content_end);
                if kind == 0 {
                    s.chunk_kinds.0 += 1;
                } else {
                    s.chunk_kinds.1 += 1;
                }
            } else {
                roles.extend(std::iter::repeat_n(Role::Field, len));
            }
            roles.extend([Role::Crc; 4]);
            p = payload + len + 4;
            if tag == format::tag::TAIL {
                break;
            }
        }
        assert_eq!(p, packed.len(), "{name}: layout walk");
        assert_eq!(roles.len(), packed.len());
        s.roles.extend(roles);
        s.content.extend_from_slice(content);
        assert_eq!(content_end, s.content.len(), "{name}: chunk lengths");
        s.frame_ends.push((base + packed.len(), s.content.len()));
    }
    assert_eq!(nzip_codec::decompress_to_vec(&s.packed, &DecompressOptions::default()).unwrap(), s.content);
    s
}

fn samples() -> Vec<Sample> {
    let small = text(2048, 1);
    let a = compress_frame(&small, 6, CoderKind::Range, None);
    let b = compress_frame(&small, 6, CoderKind::Ans, None);
    let m = mixed(5120, 2);
    let c = compress_frame(&m, 1, CoderKind::Range, Some(512));
    let t2 = text(1500, 3);
    let d1 = compress_frame(&t2, 1, CoderKind::Ans, Some(600));
    let m2 = mixed(2000, 4);
    let d2 = compress_frame(&m2, 2, CoderKind::Range, Some(512));
    let out = vec![
        sample("a: 2 KB text, level 6, range", true, &[(a, small.clone())]),
        sample("b: 2 KB text, level 6, ans", true, &[(b, small)]),
        sample("c: 5 KB text+random, 512-byte chunks", false, &[(c, m)]),
        sample("d: two frames", false, &[(d1, t2), (d2, m2)]),
    ];
    let (stored, modelled) = out[2].chunk_kinds;
    assert!(
        stored > 0 && modelled > 0,
        "sample c must have stored and modelled chunks: {:?}",
        out[2].chunk_kinds
    );
    assert!(out[3].chunk_kinds.0 > 0 && out[3].chunk_kinds.1 > 0);
    out
}

// ---------------------------------------------------------------------------
// Judging one damaged stream
// ---------------------------------------------------------------------------

/// Writes into a Vec; its contents after a failed decode are what a caller
/// would have in its temporary file.
#[derive(Default)]
struct Sink(Vec<u8>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    cases: usize,
    corrupt: usize,
    unsupported: usize,
    ok_same: usize,
    valid_cuts: usize,
}

impl Tally {
    fn add(&mut self, o: Tally) {
        self.cases += o.cases;
        self.corrupt += o.corrupt;
        self.unsupported += o.unsupported;
        self.ok_same += o.ok_same;
        self.valid_cuts += o.valid_cuts;
    }
}

/// What a damaged stream may decode to.
enum Allowed {
    /// Only a corrupt-input error.
    Corrupt,
    /// Exactly `Unsupported` (major version byte).
    Unsupported,
    /// A corrupt-input error or exactly this content (minor version byte).
    CorruptOrContent(usize),
    /// Exactly this much of the content (a cut at a frame end).
    Content(usize),
}

/// Decode `damaged` through the streaming API and judge the result; returns
/// a failure message or the tally of this case.
fn judge(s: &Sample, damaged: &[u8], allowed: &Allowed, what: &str, one_shot: bool) -> Result<Tally, String> {
    judge_with(s, damaged, allowed, what, one_shot, 1)
}

/// [`judge`] decoding with `threads` threads.
fn judge_with(
    s: &Sample,
    damaged: &[u8],
    allowed: &Allowed,
    what: &str,
    one_shot: bool,
    threads: usize,
) -> Result<Tally, String> {
    let mut sink = Sink::default();
    let opts = DecompressOptions { threads, ..DecompressOptions::default() };
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        nzip_codec::decompress(damaged, &mut sink, &opts, &mut |_| {})
    }));
    let fail = |m: String| Err(format!("{}: {what}: {m}", s.name));
    let result = match outcome {
        Ok(r) => r,
        Err(_) => return fail("decompress panicked".into()),
    };
    let written = &sink.0;
    let mut t = Tally { cases: 1, ..Tally::default() };
    match (result, allowed) {
        (Ok(_), Allowed::Content(n) | Allowed::CorruptOrContent(n)) if written[..] == s.content[..*n] => {
            if matches!(allowed, Allowed::Content(_)) {
                t.valid_cuts += 1;
            } else {
                t.ok_same += 1;
            }
            return Ok(t);
        }
        (Ok(_), _) => {
            let same = written[..] == s.content[..written.len().min(s.content.len())];
            return fail(format!(
                "decoded without error to {} bytes ({}) instead of failing",
                written.len(),
                if same { "a prefix of the content" } else { "WRONG bytes" }
            ));
        }
        (Err(e), allowed) => {
            let unsupported = matches!(&e, Error::Format(format::Error::Unsupported(_)));
            let ok = match allowed {
                Allowed::Corrupt | Allowed::CorruptOrContent(_) => e.is_corrupt_input(),
                Allowed::Unsupported => unsupported,
                Allowed::Content(_) => false,
            };
            if !ok {
                return fail(format!("wrong error kind: {e:?}"));
            }
            let _ = e.to_string();
            if unsupported {
                t.unsupported += 1;
            } else {
                t.corrupt += 1;
            }
        }
    }
    // Whatever was written before the error: a prefix of the content made of
    // whole (verified) chunks.
    if !s.chunk_ends.contains(&written.len()) || written[..] != s.content[..written.len()] {
        return fail(format!(
            "output before the error is {} bytes, not a verified prefix (chunk ends {:?})",
            written.len(),
            s.chunk_ends
        ));
    }
    // The one-shot API agrees (checked on a sample of the cases: it doubles
    // the decoding work).
    if one_shot && nzip_codec::decompress_to_vec(damaged, &opts).is_ok() {
        return fail("decompress_to_vec succeeded where decompress failed".into());
    }
    Ok(t)
}

/// Run `cases` on all cores; returns the tally and the failures.
fn run_parallel<T: Sync>(
    cases: &[T],
    f: impl Fn(&T) -> Result<Tally, String> + Sync,
) -> (Tally, Vec<String>) {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(8);
    let per = cases.len().div_ceil(workers).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = cases
            .chunks(per)
            .map(|part| {
                let f = &f;
                scope.spawn(move || {
                    let mut tally = Tally::default();
                    let mut failures = Vec::new();
                    for c in part {
                        match f(c) {
                            Ok(t) => tally.add(t),
                            Err(m) => failures.push(m),
                        }
                    }
                    (tally, failures)
                })
            })
            .collect();
        let mut tally = Tally::default();
        let mut failures = Vec::new();
        for h in handles {
            let (t, f) = h.join().unwrap();
            tally.add(t);
            failures.extend(f);
        }
        (tally, failures)
    })
}

fn assert_no_failures(label: &str, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{label}: {} failures, first ones:\n{}",
        failures.len(),
        failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

#[test]
fn every_truncation_is_an_error() {
    let start = Instant::now();
    let samples = samples();
    let mut total = Tally::default();
    for s in &samples {
        let t0 = Instant::now();
        let cuts: Vec<usize> = (0..s.packed.len()).collect();
        let (tally, failures) = run_parallel(&cuts, |&cut| {
            let allowed = match s.frame_ends.iter().find(|(end, _)| *end == cut) {
                Some(&(_, content)) => Allowed::Content(content),
                None => Allowed::Corrupt,
            };
            judge(s, &s.packed[..cut], &allowed, &format!("truncated to {cut} bytes"), cut % 8 == 0)
        });
        assert_no_failures(s.name, &failures);
        assert_eq!(tally.cases, s.packed.len());
        eprintln!(
            "{}: {} bytes, {} truncations: {} corrupt-input errors, {} valid cuts at a frame end, {:.1?}",
            s.name,
            s.packed.len(),
            tally.cases,
            tally.corrupt,
            tally.valid_cuts,
            t0.elapsed()
        );
        total.add(tally);
    }
    eprintln!("truncations: {} in {:.1?}", total.cases, start.elapsed());
}

/// The bit positions to flip in a sample: every bit of the small samples; for
/// the larger ones, every bit outside chunk data plus every `step`-th bit of
/// chunk data (at a varying bit), at least 5,000 in all.
fn flip_positions(s: &Sample) -> Vec<(usize, u8)> {
    if s.all_flips {
        return (0..s.packed.len()).flat_map(|i| (0..8).map(move |b| (i, b))).collect();
    }
    let structural: Vec<usize> = (0..s.packed.len()).filter(|&i| s.roles[i] != Role::ChunkData).collect();
    let data: Vec<usize> = (0..s.packed.len()).filter(|&i| s.roles[i] == Role::ChunkData).collect();
    let want_data = 6000usize.saturating_sub(structural.len() * 8).max(3000);
    // An odd step (so that the flipped bit cycles through all eight positions),
    // rounded down so that at least `want_data` flips are taken.
    let step = ((data.len() * 8) / want_data).max(1);
    let step = if step.is_multiple_of(2) { step - 1 } else { step };
    let mut out: Vec<(usize, u8)> = structural.iter().flat_map(|&i| (0..8).map(move |b| (i, b))).collect();
    out.extend((0..data.len() * 8).step_by(step).map(|k| (data[k / 8], (k % 8) as u8)));
    out
}

/// What a stream with a flipped bit in byte `i` may decode to.
fn flip_allowed(s: &Sample, i: usize) -> Allowed {
    match s.roles[i] {
        Role::Minor => Allowed::CorruptOrContent(s.content.len()),
        Role::Major => Allowed::Unsupported,
        _ => Allowed::Corrupt,
    }
}

#[test]
fn every_bit_flip_is_an_error() {
    let start = Instant::now();
    let samples = samples();
    let mut total = Tally::default();
    for s in &samples {
        let t0 = Instant::now();
        let flips = flip_positions(s);
        if !s.all_flips {
            assert!(flips.len() >= 5000, "{}: only {} flips", s.name, flips.len());
        }
        let (tally, failures) = run_parallel(&flips, |&(i, bit)| {
            let mut damaged = s.packed.clone();
            damaged[i] ^= 1 << bit;
            let allowed = flip_allowed(s, i);
            let what = format!("bit {bit} of byte {i} ({:?}) flipped", s.roles[i]);
            judge(s, &damaged, &allowed, &what, (i + usize::from(bit)) % 8 == 0)
        });
        assert_no_failures(s.name, &failures);
        eprintln!(
            "{}: {} bytes, {} flips: {} corrupt-input errors, {} Unsupported (major version), \
             {} decoded to the original (minor version), {:.1?}",
            s.name,
            s.packed.len(),
            tally.cases,
            tally.corrupt,
            tally.unsupported,
            tally.ok_same,
            t0.elapsed()
        );
        total.add(tally);
    }
    eprintln!("bit flips: {} in {:.1?}", total.cases, start.elapsed());
}

#[test]
fn damage_with_two_threads() {
    // Decoding a batch of chunks in parallel must keep the same guarantees:
    // a sample of the cuts and flips of the multi-chunk samples, 2 threads.
    let start = Instant::now();
    let samples = samples();
    let mut total = Tally::default();
    for s in &samples[2..] {
        let cuts: Vec<usize> = (0..s.packed.len()).step_by(5).collect();
        let (tally, failures) = run_parallel(&cuts, |&cut| {
            let allowed = match s.frame_ends.iter().find(|(end, _)| *end == cut) {
                Some(&(_, content)) => Allowed::Content(content),
                None => Allowed::Corrupt,
            };
            judge_with(
                s,
                &s.packed[..cut],
                &allowed,
                &format!("truncated to {cut} bytes, 2 threads"),
                false,
                2,
            )
        });
        assert_no_failures(s.name, &failures);
        total.add(tally);
        let flips: Vec<(usize, u8)> = flip_positions(s).into_iter().step_by(7).collect();
        let (tally, failures) = run_parallel(&flips, |&(i, bit)| {
            let mut damaged = s.packed.clone();
            damaged[i] ^= 1 << bit;
            let what = format!("bit {bit} of byte {i} flipped, 2 threads");
            judge_with(s, &damaged, &flip_allowed(s, i), &what, false, 2)
        });
        assert_no_failures(s.name, &failures);
        total.add(tally);
    }
    eprintln!("two threads: {} damaged streams in {:.1?}", total.cases, start.elapsed());
}

// ---------------------------------------------------------------------------
// Streaming: errors reach the caller, I/O trouble is reported, short reads work
// ---------------------------------------------------------------------------

/// A writer that fails after `left` bytes (a full disk).
struct FullDisk {
    left: usize,
    got: Vec<u8>,
}

impl Write for FullDisk {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.left == 0 {
            return Err(io::Error::other("disk full"));
        }
        let n = buf.len().min(self.left);
        self.left -= n;
        self.got.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that gives at most `step` bytes a call, interrupts every other
/// call, and fails with a real I/O error at `fail_at` (if any).
struct Awkward<'a> {
    data: &'a [u8],
    pos: usize,
    step: usize,
    calls: usize,
    fail_at: Option<usize>,
}

impl Read for Awkward<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.calls += 1;
        if self.calls.is_multiple_of(2) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "signal"));
        }
        if self.fail_at.is_some_and(|f| self.pos >= f) {
            return Err(io::Error::new(io::ErrorKind::ConnectionReset, "network gone"));
        }
        let end = (self.pos + self.step.min(buf.len())).min(self.data.len());
        let end = self.fail_at.map_or(end, |f| end.min(f.max(self.pos + 1)));
        let n = end - self.pos;
        buf[..n].copy_from_slice(&self.data[self.pos..end]);
        self.pos = end;
        Ok(n)
    }
}

fn range_of(s: &Sample, role: Role) -> Range<usize> {
    let first = s.roles.iter().position(|&r| r == role).unwrap();
    let last = s.roles.iter().rposition(|&r| r == role).unwrap();
    first..last + 1
}

#[test]
fn streaming_reports_errors_and_writes_only_verified_chunks() {
    let samples = samples();
    let opts = DecompressOptions::default();
    for s in &samples {
        // Short and interrupted reads decode correctly.
        for step in [1, 7, 4096] {
            let mut out = Vec::new();
            let r = Awkward { data: &s.packed, pos: 0, step, calls: 0, fail_at: None };
            let stats = nzip_codec::decompress(r, &mut out, &opts, &mut |_| {}).unwrap();
            assert!(out == s.content, "{}: short reads of {step}", s.name);
            assert_eq!(stats.content_bytes, s.content.len() as u64);
        }
        // An I/O error while reading is an I/O error, and what was written is
        // a verified prefix.
        for fail_at in [0, 5, s.packed.len() / 3, s.packed.len() / 2, s.packed.len() - 1] {
            let mut sink = Sink::default();
            let r = Awkward { data: &s.packed, pos: 0, step: 64, calls: 0, fail_at: Some(fail_at) };
            let e = nzip_codec::decompress(r, &mut sink, &opts, &mut |_| {}).unwrap_err();
            assert!(matches!(e, Error::Io(_) | Error::Format(format::Error::Io(_))), "{}: {e:?}", s.name);
            assert!(!e.is_corrupt_input());
            assert!(s.chunk_ends.contains(&sink.0.len()) && sink.0[..] == s.content[..sink.0.len()]);
        }
        // A write error (full disk) is returned, not swallowed.
        for left in [0, 1, s.content.len() / 2, s.content.len() - 1] {
            let mut w = FullDisk { left, got: Vec::new() };
            let e = nzip_codec::decompress(&s.packed[..], &mut w, &opts, &mut |_| {}).unwrap_err();
            assert!(matches!(e, Error::Io(_)), "{}: {e:?}", s.name);
            assert!(w.got[..] == s.content[..w.got.len()]);
        }
        // Damage in the last chunk's data: everything before it is written,
        // then the error comes; nothing of the damaged chunk is written.
        let data = range_of(s, Role::ChunkData);
        let mut damaged = s.packed.clone();
        damaged[data.end - 1] ^= 0x10;
        let mut sink = Sink::default();
        let e = nzip_codec::decompress(&damaged[..], &mut sink, &opts, &mut |_| {}).unwrap_err();
        assert!(e.is_corrupt_input(), "{}: {e:?}", s.name);
        let last_chunk_start = s.chunk_ends[s.chunk_ends.len() - 2];
        assert_eq!(sink.0.len(), last_chunk_start, "{}: output before the damaged chunk", s.name);
        assert!(sink.0[..] == s.content[..last_chunk_start]);
        // Damage in the content hash of the (last) TAIL: all chunks verify and
        // are written, and still the caller gets an error (so it deletes its
        // temporary file).
        let tail_at = s.frame_ends.last().unwrap().0 - 12;
        let mut damaged = s.packed.clone();
        damaged[tail_at] ^= 1;
        let mut sink = Sink::default();
        let e = nzip_codec::decompress(&damaged[..], &mut sink, &opts, &mut |_| {}).unwrap_err();
        assert!(e.is_corrupt_input(), "{}: {e:?}", s.name);
        assert!(sink.0 == s.content, "{}: every chunk verifies and is written before the TAIL fails", s.name);
    }
}

#[test]
fn damage_behind_a_valid_section_crc_is_caught() {
    // Rewrite a chunk's data *and* its section CRC, as damage that happened
    // before the CRC was computed would: the chunk CRC or the decoder catches
    // it, never wrong output. Modelled and stored chunks of sample c.
    let samples = samples();
    let s = &samples[2];
    let opts = DecompressOptions::default();
    let mut cases = 0;
    let mut unchanged = 0;
    let mut p = format::PRELUDE_LEN;
    while p < s.packed.len() {
        let tag: [u8; 4] = s.packed[p..p + 4].try_into().unwrap();
        let (len, n) = varint::get(&s.packed[p + 4..], 0).unwrap();
        let payload = p + 4 + n;
        let end = payload + len as usize;
        if tag == format::tag::CHNK {
            for k in [0usize, 1, 2, 7] {
                let i = end - 1 - k * 13 % (end - payload - 6);
                if s.roles[i] != Role::ChunkData {
                    continue;
                }
                let mut damaged = s.packed.clone();
                damaged[i] ^= 0x04;
                let crc = crc32(&damaged[p..end]);
                damaged[end..end + 4].copy_from_slice(&crc.to_le_bytes());
                let mut sink = Sink::default();
                match nzip_codec::decompress(&damaged[..], &mut sink, &opts, &mut |_| {}) {
                    // Slack bits at the end of a coded chunk may not matter:
                    // then the content must be exactly the original.
                    Ok(_) => {
                        assert!(sink.0 == s.content, "damaged chunk data decoded to wrong content");
                        unchanged += 1;
                    }
                    Err(e) => {
                        assert!(e.is_corrupt_input(), "{e:?}");
                        assert!(
                            s.chunk_ends.contains(&sink.0.len()) && sink.0[..] == s.content[..sink.0.len()]
                        );
                    }
                }
                cases += 1;
            }
        }
        if tag == format::tag::TAIL {
            break;
        }
        p = end + 4;
    }
    eprintln!("{cases} chunk-data changes behind a valid section CRC: {unchanged} decoded to the original");
    assert!(cases >= 20 && unchanged < cases / 2, "{cases} cases, {unchanged} unchanged");
}

/// CRC-32/ISO-HDLC (as zlib), bitwise.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A flipped bit in the tag of a section longer than `max_ancillary_size`
/// (16 MiB by default) turns it into an unknown section; the reader streams it
/// through its CRC and reports damage, not `LimitExceeded`. Stored chunks reach
/// that size with the default chunk size of levels 8 and 9 (16 MiB + 9 bytes).
#[test]
fn flipped_tag_of_a_large_section_is_corrupt_input() {
    let size: u32 = (16 << 20) + 100;
    let content: Vec<u8> = Rng(5).bytes(size as usize);
    let header = format::Header {
        medium: format::Medium::Bytes,
        method: format::Method::Stored,
        level: 0,
        coder: format::Coder::Range,
        precision: 16,
        chunk_size: size,
        content_size: Some(u64::from(size)),
        model: None,
    };
    let mut w = format::Writer::new(Vec::new(), header).unwrap();
    w.write_chunk(format::ChunkKind::Stored, size, format::chunk_crc(&content), &content).unwrap();
    let (file, _) = w.finish(format::content_hash(&content)).unwrap();
    let at = file.windows(4).position(|t| t == format::tag::CHNK).unwrap();
    for (byte, bit) in [(3, 0), (2, 1), (1, 5)] {
        let mut damaged = file.clone();
        damaged[at + byte] ^= 1 << bit;
        let e = nzip_codec::decompress_to_vec(&damaged, &DecompressOptions::default()).unwrap_err();
        assert!(e.is_corrupt_input(), "CHNK tag byte {byte} bit {bit}: {e:?}");
    }
}
