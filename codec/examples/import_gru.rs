//! Quantises a byte GRU trained elsewhere (`codec/train/train_byte_gru.py`, float
//! parameters in the engine's base-2 form) into a `gru-lm-v1` package, with the
//! same export as the Rust trainer, and reports its bits per byte on the
//! held-out part of the train split (the last 5% of each train text file's first
//! 3 MiB, the first `--eval-bytes` of each, coded as the `lm` method codes).
//!
//! ```text
//! cargo run --release -p nzip-codec --example import_gru -- \
//!     --in gru.f32.safetensors --out codec/weights/byte-gru-m.safetensors --name byte-gru-m
//! ```

#![allow(clippy::unwrap_used, clippy::expect_used)]

use candle_core::{Device, Tensor};
use nzip_codec::models::lm;
use nzip_codec::nn::package;
use nzip_codec::nn::train::FloatGru;
use nzip_codec::nn::Backend;
use std::path::PathBuf;

mod common;
use common::arg;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let input = PathBuf::from(arg(&args, "--in", String::new()));
    let out = PathBuf::from(arg(&args, "--out", String::new()));
    let name: String = arg(&args, "--name", "byte-gru".to_owned());
    let corpus = PathBuf::from(arg(&args, "--corpus", "corpus/data".to_owned()));
    let manifest = PathBuf::from(arg(&args, "--manifest", "corpus/MANIFEST.tsv".to_owned()));
    let eval_bytes: usize = arg(&args, "--eval-bytes", 20000usize);
    let bytes = std::fs::read(&input)?;
    let st = safetensors::SafeTensors::deserialize(&bytes)?;
    let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)?;
    let t = |k: &str| -> Result<Tensor, Box<dyn std::error::Error>> {
        let v = st.tensor(k)?;
        let data: Vec<f32> =
            v.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect();
        Ok(Tensor::from_vec(data, v.shape(), &Device::Cpu)?)
    };
    let float = FloatGru::from_tensors(t("gx")?, t("u")?, t("b_hn")?, t("v")?, t("b_out")?)?;
    let params = float.export()?;
    let mut config = serde_json::Map::new();
    if let Some(m) = meta.metadata().as_ref().and_then(|m| m.get("nzip")) {
        if let Ok(serde_json::Value::Object(o)) = serde_json::from_str::<serde_json::Value>(m) {
            config.extend(o);
        }
    }
    config.insert("name".into(), name.clone().into());
    config.insert(
        "import".into(),
        format!(
            "cargo run --release -p nzip-codec --example import_gru -- --in {} --out {} --name {name}",
            input.display(),
            out.display()
        )
        .into(),
    );
    let pkg = package::save_gru(&params, config)?;
    std::fs::write(&out, &pkg)?;
    let model = package::load_gru(&pkg)?;
    println!(
        "{}: {} bytes, hidden {}, {} parameters, id {}",
        out.display(),
        pkg.len(),
        model.hidden(),
        model.parameters(),
        nzip_format::hex(&package::package_id(&pkg))
    );
    let (mut bits, mut n) = (0.0, 0usize);
    for (path, data) in common::train_text(&manifest, &corpus, 3 << 20)? {
        let held = &data[data.len() - data.len() / 20..];
        let held = &held[..held.len().min(eval_bytes)];
        let b = lm::cross_entropy_bits(held, &model, &Backend::Cpu)?;
        println!("{path:50} {:7} {:.4} bits/byte", held.len(), b / held.len() as f64);
        bits += b;
        n += held.len();
    }
    println!("held out: {n} bytes, {:.4} bits/byte (integer model)", bits / n as f64);
    Ok(())
}
