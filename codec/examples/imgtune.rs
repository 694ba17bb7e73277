//! Measure the image model on files: `cargo run --release -p nzip-codec --example imgtune -- [-l LEVEL] [-s STRIPE_PIXELS] [-n 0|1] FILES...`
//! (`-n 1`: with the level's built-in network, method `imgnn`; the default; `-w FILE`: with
//! the network package FILE instead; `-m auto|on|off`: the match model of method `img2`,
//! chosen per stripe (the default), always or never; `-m v1`: revision 1, methods
//! `img`/`imgnn`; `-g auto|on|off`: the grid of method `img3`, chosen per stripe (the default),
//! always or never; `-g v2`: revision 2, method `img2`; `-f 1`: the fast model of method
//! `imgf`, level 1's, which takes no network).
//! Prints bits per sub-pixel per file and in total (coded stripe bytes only,
//! no container), and the decoding speed (each stripe is decoded and checked;
//! `NODECODE=1` skips it). For tuning on the train split.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::entropy::binary::{RangeBitDecoder, RangeBitEncoder};
use nzip_codec::media::image::Image;
use nzip_codec::models::image::{decode, encode, Choices, ImgNet, Revision, Stripe};
use std::time::Instant;

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut level = 6u8;
    let mut stripe_px: usize = 1 << 19;
    let mut with_net = true;
    let mut weights: Option<String> = None;
    let mut rev = Revision::V3;
    let mut matching: Option<bool> = None;
    let mut grid: Option<bool> = None;
    let decode_too = std::env::var_os("NODECODE").is_none();
    while args.first().is_some_and(|a| a.starts_with('-')) {
        let flag = args.remove(0);
        let v = args.remove(0);
        match flag.as_str() {
            "-l" => level = v.parse().unwrap(),
            "-s" => stripe_px = v.parse().unwrap(),
            "-n" => with_net = v != "0",
            "-f" if v != "0" => rev = Revision::Fast,
            "-f" => {}
            "-w" => weights = Some(v),
            "-m" => match v.as_str() {
                "on" => matching = Some(true),
                "off" => matching = Some(false),
                "v1" => rev = Revision::V1,
                _ => matching = None,
            },
            "-g" => match v.as_str() {
                "on" => grid = Some(true),
                "off" => grid = Some(false),
                "v2" => rev = Revision::V2,
                _ => grid = None,
            },
            _ => panic!("unknown flag {flag}"),
        }
    }
    let files = args;
    let builtin = match &weights {
        Some(w) => std::sync::Arc::new(ImgNet::load(&std::fs::read(w).unwrap()).unwrap()),
        None => nzip_codec::nn::package::find_by_name(nzip_codec::image_net_for_level(level))
            .unwrap()
            .img_net()
            .unwrap(),
    };
    let net = with_net.then_some(&*builtin);
    let results: Vec<(String, usize, usize, f64)> = std::thread::scope(|s| {
        let chunks: Vec<Vec<String>> =
            (0..2).map(|t| files.iter().skip(t).step_by(2).cloned().collect()).collect();
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|list| {
                s.spawn(move || {
                    list.into_iter()
                        .map(|f| {
                            let data = std::fs::read(&f).unwrap();
                            let img = Image::parse(&data).unwrap();
                            let mut dtime = 0.0;
                            let rows_per =
                                (stripe_px.div_ceil(img.width as usize)).clamp(1, img.height as usize);
                            let row_bytes = img.row_bytes();
                            let mut total = 0;
                            for (i, chunk) in img.samples.chunks(rows_per * row_bytes).enumerate() {
                                let _ = i;
                                let st = Stripe {
                                    width: img.width,
                                    rows: (chunk.len() / row_bytes) as u32,
                                    color: img.color,
                                    maxval: img.maxval,
                                };
                                let mut enc = RangeBitEncoder::new();
                                encode(&st, level, chunk, net, rev, Choices { matching, grid }, &mut enc)
                                    .unwrap();
                                let bytes = enc.finish();
                                total += bytes.len();
                                if decode_too {
                                    let start = Instant::now();
                                    let out = decode_stripe(&st, level, net, rev, &bytes);
                                    dtime += start.elapsed().as_secs_f64();
                                    assert!(out == chunk, "round trip failed: {f}");
                                }
                            }
                            let subpx = img.samples.len() / img.bytes_per_sample();
                            (f, total, subpx, dtime)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let (mut tb, mut tp, mut tt) = (0usize, 0usize, 0f64);
    let mut results = results;
    results.sort_by(|a, b| a.0.cmp(&b.0));
    for (f, bytes, px, t) in &results {
        println!(
            "{:>10} {:7.4} bpsp {:6.2} MB/s  {}",
            bytes,
            8.0 * *bytes as f64 / *px as f64,
            *px as f64 / t / 1e6,
            f
        );
        tb += bytes;
        tp += px;
        tt += t;
    }
    println!(
        "{:>10} {:7.4} bpsp {:6.2} MB/s  TOTAL ({} files)",
        tb,
        8.0 * tb as f64 / tp as f64,
        tp as f64 / tt / 1e6,
        results.len()
    );
}

/// A separate function, so that profilers can single out decoding
/// (`valgrind --toggle-collect=imgtune::decode_stripe`).
#[inline(never)]
fn decode_stripe(st: &Stripe, level: u8, net: Option<&ImgNet>, rev: Revision, bytes: &[u8]) -> Vec<u8> {
    let mut dec = RangeBitDecoder::new(bytes).unwrap();
    let mut out = Vec::new();
    decode(st, level, net, rev, &mut dec, &mut out).unwrap();
    out
}
