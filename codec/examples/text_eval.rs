//! Held-out evaluation of the text models (spec/MODELS.md §8): the ideal
//! code length, in bits per byte, of `cm2` from the level-6 prior, `cmlm`
//! and `cmlm2` (both with `byte-gru-m` on that prior), on the held-out ends
//! of the corpus train split's text files.
//!
//! ```text
//! corpus/fetch.sh
//! cargo run --release -p nzip-codec --example text_eval -- --held 32768
//! ```
//!
//! Held out: the last 5% of each `text/*` train file's first 3 MiB (the part
//! `byte-gru-m` did not train on; `text-prior-6` read only the first 192 KiB),
//! at most `--held` bytes of it from its start.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::entropy::CostCounter;
use nzip_codec::models::cm::{self, BitModel};
use nzip_codec::models::cmlm::CmLm;
use nzip_codec::nn::{package, Backend};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

mod common;
use common::arg;

/// The ideal code length of `data` under `m`, in bits.
fn bits<M: BitModel>(m: M, data: &[u8]) -> f64 {
    let mut cost = CostCounter::new();
    cm::encode_with(m, data, &mut cost);
    cost.bits()
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let corpus = PathBuf::from(arg(&args, "--corpus", "corpus/data".to_owned()));
    let manifest = PathBuf::from(arg(&args, "--manifest", "corpus/MANIFEST.tsv".to_owned()));
    let held: usize = arg(&args, "--held", 32_768);
    let prior = package::find_by_name("text-prior-6").expect("built in").cm_prior()?;
    let lm = package::find_by_name("byte-gru-m").expect("built in").gru()?;
    let backend = Backend::default();
    let names = ["cm2", "cmlm", "cmlm2"];
    let (mut total, mut secs, mut n) = ([0.0f64; 3], [0.0f64; 3], 0usize);
    for (name, b) in common::train_text(&manifest, &corpus, 3 << 20)? {
        let start = b.len() - b.len() / 20;
        let h = &b[start..b.len().min(start + held)];
        let len = h.len() as u64;
        let mut line = format!("{name:48} {:7}", h.len());
        for (i, model) in names.iter().enumerate() {
            let t = Instant::now();
            let cost = match i {
                0 => bits(prior.model(len)?, h),
                _ => bits(CmLm::new(prior.model(len)?, Arc::clone(&lm), backend.clone(), i == 2)?, h),
            };
            secs[i] += t.elapsed().as_secs_f64();
            total[i] += cost;
            line += &format!("  {model} {:.4}", cost / h.len() as f64);
        }
        n += h.len();
        println!("{line}");
    }
    let mut line = format!("{:48} {n:7}", "all");
    for (i, model) in names.iter().enumerate() {
        line += &format!("  {model} {:.4} ({:.1} s)", total[i] / n as f64, secs[i]);
    }
    println!("{line}");
    Ok(())
}
