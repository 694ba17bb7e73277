//! Trains the shipped byte-level GRU language model on the corpus train split
//! and writes its integer package.
//!
//! ```text
//! corpus/fetch.sh                      # the corpus, sha256-checked
//! cargo run --release -p nzip-codec --example train_byte_gru -- \
//!     --corpus corpus/data --out codec/weights/byte-gru-s.safetensors \
//!     --hidden 128 --steps 3000 --seed 1
//! ```
//!
//! Data: every `text/*` file of corpus/MANIFEST.tsv whose split is `train`,
//! at most `--per-file` bytes from the start of each (so that no single file
//! dominates), concatenated in manifest order. The last 5% of each file's
//! share is held out (still train split) to report the float and the
//! exported integer model's bits per byte. Training depends only on the data,
//! the flags and the seed (up to float summation order in candle's threads);
//! the shipped package records all of them in its metadata.

use nzip_codec::models::lm;
use nzip_codec::nn::{package, train, Backend};
use std::path::PathBuf;
use std::time::Instant;

mod common;
use common::arg;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let corpus = PathBuf::from(arg(&args, "--corpus", "corpus/data".to_owned()));
    let manifest = PathBuf::from(arg(&args, "--manifest", "corpus/MANIFEST.tsv".to_owned()));
    let out = PathBuf::from(arg(&args, "--out", "codec/weights/byte-gru-s.safetensors".to_owned()));
    let name = arg(&args, "--name", "byte-gru-s".to_owned());
    let per_file: usize = arg(&args, "--per-file", 3 << 20);
    let cfg = train::TrainConfig {
        hidden: arg(&args, "--hidden", 128),
        batch: arg(&args, "--batch", 32),
        bptt: arg(&args, "--bptt", 64),
        steps: arg(&args, "--steps", 3000),
        lr: arg(&args, "--lr", 3e-3),
        weight_decay: arg(&args, "--wd", 1e-4),
        qat_from: arg(&args, "--qat-from", usize::MAX),
        seed: arg(&args, "--seed", 1),
    };
    let cfg = train::TrainConfig { qat_from: cfg.qat_from.min(cfg.steps * 2 / 3), ..cfg };

    let (mut data, mut held) = (Vec::new(), Vec::new());
    let mut files = Vec::new();
    for (path, take) in common::train_text(&manifest, &corpus, per_file)? {
        let cut = take.len() - take.len() / 20;
        data.extend_from_slice(&take[..cut]);
        held.extend_from_slice(&take[cut..]);
        files.push(path);
    }
    eprintln!("train: {} files, {} bytes; held out {} bytes", files.len(), data.len(), held.len());
    eprintln!("config: {cfg:?}");
    let t0 = Instant::now();
    let model = train::train(
        &data,
        &cfg,
        |r| {
            eprintln!(
                "step {:>6}  {:.4} bits/byte{}  ({:.0} s)",
                r.step,
                r.bits,
                if r.quantised { "  [qat]" } else { "" },
                t0.elapsed().as_secs_f64()
            )
        },
        50,
    )?;
    let params = model.export()?;
    let mut meta = serde_json::Map::new();
    meta.insert("name".into(), name.clone().into());
    meta.insert("train_files".into(), files.into());
    meta.insert("per_file".into(), per_file.into());
    meta.insert(
        "train_command".into(),
        format!(
            "cargo run --release -p nzip-codec --example train_byte_gru -- --hidden {} --batch {} --bptt {} --steps {} --lr {} --wd {} --qat-from {} --seed {} --per-file {per_file}",
            cfg.hidden, cfg.batch, cfg.bptt, cfg.steps, cfg.lr, cfg.weight_decay, cfg.qat_from, cfg.seed
        )
        .into(),
    );
    let bytes = package::save_gru(&params, meta)?;
    std::fs::write(&out, &bytes)?;
    eprintln!(
        "wrote {} ({} bytes, sha256 {})",
        out.display(),
        bytes.len(),
        hex(&package::package_id(&bytes))
    );

    let sample = &held[..held.len().min(200_000)];
    let float_bits = model.eval_bits(sample)?;
    let int = package::load_gru(&bytes)?;
    let int_bits = lm::cross_entropy_bits(sample, &int, &Backend::Cpu)? / sample.len() as f64;
    eprintln!(
        "held-out {} bytes: float (fake-quant) {float_bits:.4}, integer {int_bits:.4} bits/byte",
        sample.len()
    );
    Ok(())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
