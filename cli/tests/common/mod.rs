//! Helpers shared by the CLI tests: the binary, deterministic data, files.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use assert_cmd::Command;
use std::path::{Path, PathBuf};

/// The `nzip` binary under test, with the NZIP_* environment cleared so the
/// defaults are the built-in ones.
pub fn nzip() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_nzip"));
    c.env_remove("NZIP_LEVEL").env_remove("NZIP_THREADS");
    c
}

/// splitmix64: a tiny deterministic generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// `n` uniformly random bytes.
pub fn random_bytes(n: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng::new(seed);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&r.next().to_le_bytes());
    }
    v.truncate(n);
    v
}

/// `n` bytes of English-like text: words with a skewed frequency, sentences,
/// punctuation, numbers, line breaks.
pub fn text_like(n: usize, seed: u64) -> Vec<u8> {
    const SYLLABLES: &[&str] = &[
        "the", "an", "re", "in", "con", "ter", "pro", "al", "ing", "ed", "er", "tion", "com", "de", "ly",
        "ment", "ous", "ist", "per", "ble", "or", "ex", "un", "si", "ma", "to", "lo", "ca", "ti", "na",
    ];
    let mut r = Rng::new(seed ^ 0x5EED);
    let vocab: Vec<String> = (0..400)
        .map(|_| {
            let k = 1 + r.below(3) as usize;
            (0..k).map(|_| SYLLABLES[r.below(SYLLABLES.len() as u64) as usize]).collect()
        })
        .collect();
    let mut out = Vec::with_capacity(n + 64);
    let mut line = 0usize;
    let mut start_sentence = true;
    while out.len() < n {
        // Zipf-like: small indices are much more frequent.
        let a = r.below(vocab.len() as u64);
        let idx = (a * r.below(vocab.len() as u64) / vocab.len() as u64) as usize;
        let mut word = if r.below(40) == 0 { r.below(10_000).to_string() } else { vocab[idx].clone() };
        if start_sentence {
            word[..1].make_ascii_uppercase();
            start_sentence = false;
        }
        out.extend_from_slice(word.as_bytes());
        line += word.len();
        match r.below(20) {
            0 | 1 => {
                out.push(b'.');
                start_sentence = true;
            }
            2 => out.push(b','),
            _ => {}
        }
        if line > 70 {
            out.push(b'\n');
            line = 0;
        } else {
            out.push(b' ');
            line += 1;
        }
    }
    out.truncate(n);
    out
}

/// A text sample: the text files under `corpus/samples/text/` when there
/// are any (sorted by path, at most 256 KiB), else generated text.
pub fn text_sample() -> Vec<u8> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../corpus/samples/text");
    let mut paths = Vec::new();
    walk(&root, &mut paths);
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
        if ["txt", "md", "csv", "json", "log", "rs", "c", "h", "py", "html", "xml"].contains(&ext) {
            if let Ok(data) = std::fs::read(&p) {
                out.extend_from_slice(&data);
            }
        }
    }
    if out.is_empty() {
        out = text_like(200_000, 1);
    }
    out.truncate(256 << 10);
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            walk(&p, out);
        } else {
            out.push(p);
        }
    }
}

/// Mixed content: text-like and random parts, `n` bytes.
pub fn mixed(n: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(n);
    let mut r = Rng::new(seed);
    let mut i = 0;
    while out.len() < n {
        let len = (1 << 20) + r.below(3 << 20) as usize;
        let len = len.min(n - out.len());
        if i % 3 == 2 {
            out.extend_from_slice(&random_bytes(len, seed + i));
        } else {
            out.extend_from_slice(&text_like(len, seed + i));
        }
        i += 1;
    }
    out
}

/// Compress `data` through stdin/stdout with extra `args`; panics on failure.
pub fn compress_stdin(data: &[u8], args: &[&str]) -> Vec<u8> {
    let out = nzip().args(args).write_stdin(data.to_vec()).output().unwrap();
    assert!(out.status.success(), "nzip {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// Decompress `data` through stdin/stdout; panics on failure.
pub fn decompress_stdin(data: &[u8], args: &[&str]) -> Vec<u8> {
    let mut all = vec!["-d"];
    all.extend_from_slice(args);
    let out = nzip().args(&all).write_stdin(data.to_vec()).output().unwrap();
    assert!(out.status.success(), "nzip {all:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

/// The names in a directory, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// `nzip -l --json` of a file, parsed.
pub fn list_json(path: &Path) -> serde_json::Value {
    let out = nzip().args(["-l", "--json"]).arg(path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}
