//! Training records of the image network (spec/MODELS.md §7.12):
//! `cargo run --release -p nzip-codec --example img_records -- OUT [-k K] FILES... [-k K] FILES...`
//! codes each image (PNG/PNM, as one stripe) with the adaptive model and
//! appends to OUT, for one in 2^K of its sub-pixels (K = 2, a quarter, until
//! a `-k` says otherwise; `-k 0`: all of them), every binary decision as 52
//! bytes: the 48 int8 features, the node, the bit, and the model's
//! probability of a 1 (u16, little-endian). `codec/train/train_img_mlp.py`
//! reads them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::media::image::Image;
use nzip_codec::models::image::{training_records, Stripe};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, files) = args.split_first().expect("usage: img_records OUT [-k K] FILES...");
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut total = 0usize;
    let mut keep_log2 = 2u32;
    let mut args = files.iter();
    while let Some(f) = args.next() {
        if f == "-k" {
            keep_log2 = args.next().and_then(|k| k.parse().ok()).expect("-k takes a number, 0..=63");
            continue;
        }
        let img = Image::parse(&std::fs::read(f).unwrap()).unwrap_or_else(|_| panic!("{f}: not an image"));
        let s = Stripe { width: img.width, rows: img.height, color: img.color, maxval: img.maxval };
        let rec = training_records(&s, &img.samples, keep_log2).unwrap();
        eprintln!("{f}: {} records (one in 2^{keep_log2} sub-pixels)", rec.len() / 52);
        total += rec.len() / 52;
        w.write_all(&rec).unwrap();
    }
    w.flush().unwrap();
    eprintln!("{total} records in {out}");
}
