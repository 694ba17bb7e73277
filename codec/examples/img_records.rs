//! Training records of the image network (spec/MODELS.md §7.12):
//! `cargo run --release -p nzip-codec --example img_records -- OUT FILES...`
//! codes each image (PNG/PNM, as one stripe) with the adaptive model and
//! appends to OUT, for about a quarter of its sub-pixels, every binary
//! decision as 52 bytes: the 48 int8 features, the node, the bit, and the
//! model's probability of a 1 (u16, little-endian). `codec/train/train_img_mlp.py`
//! reads them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::media::image::Image;
use nzip_codec::models::image::{training_records, Stripe};
use std::io::Write;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (out, files) = args.split_first().expect("usage: img_records OUT FILES...");
    let mut w = std::io::BufWriter::new(std::fs::File::create(out).unwrap());
    let mut total = 0usize;
    for f in files {
        let img = Image::parse(&std::fs::read(f).unwrap()).unwrap_or_else(|_| panic!("{f}: not an image"));
        let s = Stripe { width: img.width, rows: img.height, color: img.color, maxval: img.maxval };
        let rec = training_records(&s, &img.samples).unwrap();
        eprintln!("{f}: {} records", rec.len() / 52);
        total += rec.len() / 52;
        w.write_all(&rec).unwrap();
    }
    w.flush().unwrap();
    eprintln!("{total} records in {out}");
}
