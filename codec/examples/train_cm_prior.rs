//! Trains the shipped `cm2` text prior on the corpus train split and writes
//! its package (spec/MODELS.md §3.9).
//!
//! ```text
//! corpus/fetch.sh                      # the corpus, sha256-checked
//! cargo run --release -p nzip-codec --example train_cm_prior -- \
//!     --corpus corpus/data --out codec/weights/text-prior-6.nzprior --level 6 --per-file 196608
//! ```
//!
//! Data: every `text/*` file of corpus/MANIFEST.tsv whose split is `train`,
//! the first `--per-file` bytes of each (so that no single file dominates),
//! read in manifest order by a fresh revision-2 model of `--level`. Training
//! is deterministic (integer arithmetic only): the same data and flags give
//! the same package, byte for byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::models::cm::Prior;
use nzip_codec::nn::package;
use std::path::PathBuf;
use std::time::Instant;

mod common;
use common::arg;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let corpus = PathBuf::from(arg(&args, "--corpus", "corpus/data".to_owned()));
    let manifest = PathBuf::from(arg(&args, "--manifest", "corpus/MANIFEST.tsv".to_owned()));
    let out = PathBuf::from(arg(&args, "--out", "codec/weights/text-prior-6.nzprior".to_owned()));
    let name = arg(&args, "--name", "text-prior-6".to_owned());
    let level: u8 = arg(&args, "--level", 6);
    let per_file: usize = arg(&args, "--per-file", 196_608);
    let (files, parts): (Vec<String>, Vec<Vec<u8>>) =
        common::train_text(&manifest, &corpus, per_file)?.into_iter().unzip();
    let total: usize = parts.iter().map(Vec::len).sum();
    eprintln!("train: {} files, {total} bytes", files.len());
    let t = Instant::now();
    let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
    let prior = Prior::train(level, &refs);
    eprintln!("trained in {:.1} s", t.elapsed().as_secs_f64());
    let mut meta = serde_json::Map::new();
    meta.insert("name".into(), name.clone().into());
    meta.insert(
        "training".into(),
        format!(
            "cargo run --release -p nzip-codec --example train_cm_prior -- --corpus corpus/data --out {} --name {name} --level {level} --per-file {per_file}",
            out.display()
        )
        .into(),
    );
    meta.insert("train_files".into(), files.into());
    meta.insert("train_bytes".into(), total.into());
    let bytes = prior.to_package(meta)?;
    std::fs::write(&out, &bytes)?;
    let id = package::package_id(&bytes);
    println!("{} bytes, sha256 {}", bytes.len(), id.iter().map(|b| format!("{b:02x}")).collect::<String>());
    Ok(())
}
