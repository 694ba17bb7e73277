use super::*;
use crate::entropy::binary::{
    AnsBitDecoder, AnsBitEncoder, BitDecode, BitEncode, CostCounter, RangeBitDecoder, RangeBitEncoder,
};
use proptest::prelude::*;

/// Deterministic test content: kind 0 smooth gradient with noise, 1 flat,
/// 2 random, 3 blocky graphics.
fn synth(s: &Stripe, kind: u32, seed: u64) -> Vec<u8> {
    let ch = usize::from(s.color.channels());
    let m = u64::from(s.maxval);
    let mut r = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::new();
    for y in 0..s.rows as u64 {
        for x in 0..s.width as u64 {
            for k in 0..ch as u64 {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                let v = match kind {
                    0 => ((x * 3 + y * 2 + k * 20) * (m + 1) / 64 + (r % 3)) % (m + 1),
                    1 => m / 3,
                    2 => r % (m + 1),
                    _ => (((x / 4 + y / 3 + k) % 3) * m / 2).min(m),
                };
                if s.maxval < 256 {
                    out.push(v as u8);
                } else {
                    out.extend_from_slice(&(v as u16).to_be_bytes());
                }
            }
        }
    }
    out
}

/// The built-in network (method `imgnn`).
fn net() -> std::sync::Arc<ImgNet> {
    crate::nn::package::find_by_name(crate::pipeline_image::IMAGE_NET).unwrap().img_net().unwrap()
}

/// The model's codings: revision 1 (methods `img`, `imgnn`), revision 2
/// (`img2`) with the match model switched on and off, and revision 3
/// (`img3`) with the grid switched on (and the match model) and off, and the
/// fast model (`imgf`, which ignores the network and the choices).
const CODINGS: [(Revision, Choices); 6] = [
    (Revision::V1, Choices { matching: None, grid: None }),
    (Revision::V2, Choices { matching: Some(true), grid: None }),
    (Revision::V2, Choices { matching: Some(false), grid: None }),
    (Revision::V3, Choices { matching: Some(true), grid: Some(true) }),
    (Revision::V3, Choices { matching: None, grid: Some(false) }),
    (Revision::Fast, Choices { matching: Some(true), grid: Some(true) }),
];

/// Codes `samples` into `enc`, decodes the stream (`finish(enc)`) with the
/// decoder that `open` makes, and checks that the samples come back; returns
/// the stream and the decoder after the stripe.
fn through<E: BitEncode, D: BitDecode>(
    s: &Stripe,
    level: u8,
    samples: &[u8],
    (n, rev, choices): (Option<&ImgNet>, Revision, Choices),
    mut enc: E,
    finish: impl FnOnce(E) -> Vec<u8>,
    open: impl FnOnce(&[u8]) -> D,
) -> (Vec<u8>, D) {
    encode(s, level, samples, n, rev, choices, &mut enc).unwrap();
    let bytes = finish(enc);
    let mut dec = open(&bytes);
    let mut out = Vec::new();
    decode(s, level, n, rev, &mut dec, &mut out).unwrap();
    assert!(out == samples, "round trip {s:?} {rev:?} {choices:?} with {}", std::any::type_name::<E>());
    (bytes, dec)
}

/// Round trips `samples` with both coders, without and with the network, in
/// every coding; returns the range coder's size of revision 1 without the
/// network.
fn roundtrip(s: &Stripe, level: u8, samples: &[u8]) -> usize {
    let net = net();
    let mut size = 0;
    for n in [None, Some(&*net)] {
        for (rev, choices) in CODINGS {
            let coding = (n, rev, choices);
            let (bytes, _) =
                through(s, level, samples, coding, RangeBitEncoder::new(), RangeBitEncoder::finish, |b| {
                    RangeBitDecoder::new(b).unwrap()
                });
            let (_, dec) =
                through(s, level, samples, coding, AnsBitEncoder::new(), AnsBitEncoder::finish, |b| {
                    AnsBitDecoder::new(b).unwrap()
                });
            assert!(dec.is_empty());
            if n.is_none() && rev == Revision::V1 {
                size = bytes.len();
            }
        }
    }
    size
}

/// Coded bytes of `samples` (range coder, no network) in a coding.
fn coded(s: &Stripe, samples: &[u8], rev: Revision, choices: Choices) -> usize {
    let mut enc = RangeBitEncoder::new();
    encode(s, 6, samples, None, rev, choices, &mut enc).unwrap();
    enc.finish().len()
}

const COLORS: [ColorType; 5] =
    [ColorType::Gray, ColorType::GrayAlpha, ColorType::Rgb, ColorType::Rgba, ColorType::Indexed];

#[test]
fn every_color_type_and_depth_roundtrips() {
    for color in COLORS {
        for maxval in [1u16, 3, 15, 255, 1000, 65535] {
            if color == ColorType::Indexed && maxval > 255 {
                continue;
            }
            for (w, h) in [(1, 1), (1, 7), (9, 1), (13, 6)] {
                for kind in 0..4 {
                    let s = Stripe { width: w, rows: h, color, maxval };
                    roundtrip(&s, 6, &synth(&s, kind, u64::from(w * h) + u64::from(maxval)));
                }
            }
        }
    }
}

#[test]
fn larger_images_compress() {
    let s = Stripe { width: 96, rows: 40, color: ColorType::Rgb, maxval: 255 };
    let smooth = synth(&s, 0, 1);
    let n = roundtrip(&s, 6, &smooth);
    assert!(n < smooth.len() / 2, "smooth: {n} of {}", smooth.len());
    let flat = synth(&s, 1, 1);
    let n = roundtrip(&s, 6, &flat);
    assert!(n < 64, "flat: {n}");
    let s16 = Stripe { width: 40, rows: 30, color: ColorType::Rgba, maxval: 65535 };
    roundtrip(&s16, 6, &synth(&s16, 0, 2));
}

#[test]
fn bad_shapes_are_errors() {
    let s = Stripe { width: 4, rows: 2, color: ColorType::Gray, maxval: 255 };
    let mut enc = CostCounter::new();
    for (rev, choices) in CODINGS {
        assert!(encode(&s, 6, &[0; 7], None, rev, choices, &mut enc).is_err());
        let small = Stripe { width: 2, rows: 1, color: ColorType::Gray, maxval: 9 };
        assert!(encode(&small, 6, &[3, 10], None, rev, choices, &mut enc).is_err(), "sample above maxval");
        let z = Stripe { width: 0, rows: 2, color: ColorType::Gray, maxval: 255 };
        assert!(encode(&z, 6, &[], None, rev, choices, &mut enc).is_err());
        let mut dec = RangeBitDecoder::new(&[]).unwrap();
        assert!(decode(&z, 6, None, rev, &mut dec, &mut Vec::new()).is_err());
    }
}

proptest! {
    /// Any coded bytes decode to some samples of the right length (or a coder
    /// error), never a panic.
    #[test]
    fn garbage_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..256), c in 0..5usize, m in 0..4usize, with_net in any::<bool>(), r in 0..3usize) {
        let rev = [Revision::V1, Revision::V2, Revision::V3][r];
        let net = net();
        let n = with_net.then_some(&*net);
        let maxval = [1u16, 255, 1000, 65535][m];
        let color = COLORS[c];
        if color == ColorType::Indexed && maxval > 255 {
            return Ok(());
        }
        let s = Stripe { width: 7, rows: 5, color, maxval };
        let bytes = &bytes[..bytes.len() / 4 * 4];
        if let Ok(mut dec) = RangeBitDecoder::new(bytes) {
            let mut out = Vec::new();
            if decode(&s, 6, n, rev, &mut dec, &mut out).is_ok() {
                prop_assert_eq!(out.len(), s.bytes().unwrap());
            }
        }
        if let Ok(mut dec) = AnsBitDecoder::new(bytes) {
            let mut out = Vec::new();
            decode(&s, 6, n, rev, &mut dec, &mut out).unwrap();
            prop_assert_eq!(out.len(), s.bytes().unwrap());
        }
    }

    #[test]
    fn random_images_roundtrip(w in 1u32..12, h in 1u32..6, c in 0..5usize, m in 0..4usize, seed in any::<u64>(), kind in 0..4u32) {
        let maxval = [2u16, 255, 4095, 65535][m];
        let color = COLORS[c];
        if color == ColorType::Indexed && maxval > 255 {
            return Ok(());
        }
        let s = Stripe { width: w, rows: h, color, maxval };
        roundtrip(&s, 6, &synth(&s, kind, seed));
    }
}

#[test]
fn noisy_stripes_choose_small_hashed_tables() {
    // Random samples cost about 8 bits each: hash code 2 (spec §7.11);
    // flat and blocky ones cost almost nothing: hash code 0.
    let s = Stripe { width: 64, rows: 40, color: ColorType::Rgb, maxval: 255 };
    assert_eq!(model::choose(&s, &synth(&s, 2, 1), None).1, 2);
    assert_eq!(model::choose(&s, &synth(&s, 1, 1), None).1, 0);
    assert_eq!(model::choose(&s, &synth(&s, 3, 1), None).1, 0);
    let g = Stripe { color: ColorType::Gray, ..s };
    assert_eq!(model::choose(&g, &synth(&g, 2, 1), None).1, 2);
    roundtrip(&s, 6, &synth(&s, 2, 3));
    roundtrip(&g, 6, &synth(&g, 2, 3));
}

#[test]
fn training_records_sample_the_sub_pixels_asked_for() {
    let s = Stripe { width: 40, rows: 30, color: ColorType::Rgb, maxval: 255 };
    let samples = synth(&s, 0, 3);
    let all = training_records(&s, &samples, 0).unwrap();
    let quarter = training_records(&s, &samples, 2).unwrap();
    assert_eq!((all.len() % 52, quarter.len() % 52), (0, 0));
    // Every sub-pixel makes at least one decision (zero or not); about a
    // quarter of them are kept at keep_log2 = 2.
    let (n_all, n_quarter) = (all.len() / 52, quarter.len() / 52);
    assert!(n_all >= samples.len(), "{n_all} records for {} sub-pixels", samples.len());
    assert!(n_quarter * 6 > n_all && n_quarter * 3 < n_all, "{n_quarter} of {n_all}");
    for r in all.chunks_exact(52) {
        assert!(usize::from(r[48]) < 64 && r[49] <= 1, "node {} bit {}", r[48], r[49]);
    }
    // The records are a property of the image alone.
    assert_eq!(training_records(&s, &samples, 0).unwrap(), all);
    // Samples that do not fill the stripe are refused.
    assert!(training_records(&s, &samples[1..], 0).is_err());
}

/// The encoder's network choice compares the candidates' trial bytes: the
/// same network wins whatever the order it is offered in (so the second
/// candidate can win), a tie keeps the first, and samples that do not fill
/// the shape keep the first.
#[test]
fn the_network_that_codes_the_trial_smallest_is_chosen() {
    let by_name = |n: &str| crate::nn::package::find_by_name(n).unwrap().img_net().unwrap();
    let (r, p) = (by_name(crate::pipeline_image::IMAGE_NET), by_name("img-mlp-p"));
    // A smooth noisy image wide enough that the two networks' trials differ.
    let g = Stripe { width: 256, rows: 80, color: ColorType::Gray, maxval: 255 };
    let samples = synth(&g, 0, 5);
    let a = choose_network(&g, &samples, &[&r, &p]);
    let b = choose_network(&g, &samples, &[&p, &r]);
    assert_eq!(a + b, 1, "{a} then {b}");
    assert_eq!(choose_network(&g, &samples, &[&p, &p]), 0);
    assert_eq!(choose_network(&g, &samples[1..], &[&p, &r]), 0);
}

/// The match model (revision 2, spec/MODELS.md §7.13) codes an image made of
/// a repeated random tile (as text and icons repeat in screenshots) much
/// smaller than the model without it; the encoder switches it on for such a
/// stripe by itself, not for a photograph-like one, where it stays off.
#[test]
fn the_match_model_codes_repeats() {
    let s = Stripe { width: 90, rows: 60, color: ColorType::Rgb, maxval: 255 };
    let tile = Stripe { width: 15, rows: 12, ..s };
    let noise = synth(&tile, 2, 9);
    let mut samples = Vec::new();
    for y in 0..60 {
        for x in 0..90 {
            let at = ((y % 12) * 15 + x % 15) * 3;
            samples.extend_from_slice(&noise[at..at + 3]);
        }
    }
    roundtrip(&s, 6, &samples);
    let m = |matching| Choices { matching, grid: None };
    let without = coded(&s, &samples, Revision::V1, m(None));
    let with = coded(&s, &samples, Revision::V2, m(Some(true)));
    assert!(with * 3 < without, "{with} bytes with the match model, {without} without");
    assert_eq!(coded(&s, &samples, Revision::V2, m(None)), with, "the encoder switches it on");
    let off = coded(&s, &samples, Revision::V2, m(Some(false)));
    assert!(off <= without + 4, "{off} bytes with the match model off: one header bit more than {without}");
    // Random samples: the trial chooses the small hashed tables, and no match model.
    let random = synth(&s, 2, 4);
    assert_eq!(coded(&s, &random, Revision::V2, m(None)), coded(&s, &random, Revision::V2, m(Some(false))));
}

/// The grid (revision 3, spec/MODELS.md §7.14): a stripe whose noise is
/// stronger on the first row and column of every 4×4 block (as JPEG's block
/// edges are, after downscaling by 2) codes smaller with it, and the encoder
/// switches it on; where the same noise falls anywhere, it stays off.
#[test]
fn the_grid_codes_block_edges() {
    let s = Stripe { width: 256, rows: 256, color: ColorType::Gray, maxval: 255 };
    let image = |blocky: bool| -> Vec<u8> {
        let mut r = 0x2545_F491_4F6C_DD1Du64;
        let mut out = Vec::new();
        for y in 0..256u64 {
            for x in 0..256u64 {
                r ^= r << 13;
                r ^= r >> 7;
                r ^= r << 17;
                let edge = if blocky { x % 4 == 0 || y % 4 == 0 } else { (r >> 32) % 16 < 7 };
                let amp = if edge { 13 } else { 3 };
                out.push(((x + y) / 2 + 64 + r % amp) as u8);
            }
        }
        out
    };
    let g = |grid| Choices { matching: None, grid };
    let blocky = image(true);
    roundtrip(&Stripe { rows: 20, ..s }, 6, &blocky[..256 * 20]);
    let on = coded(&s, &blocky, Revision::V3, g(Some(true)));
    let off = coded(&s, &blocky, Revision::V3, g(Some(false)));
    assert!(on * 100 < off * 95, "{on} bytes with the grid, {off} without");
    assert_eq!(coded(&s, &blocky, Revision::V3, g(None)), on, "the encoder switches it on");
    let anywhere = image(false);
    let on = coded(&s, &anywhere, Revision::V3, g(Some(true)));
    let off = coded(&s, &anywhere, Revision::V3, g(Some(false)));
    assert!(on > off, "{on} bytes with the grid, {off} without");
    assert_eq!(coded(&s, &anywhere, Revision::V3, g(None)), off, "the encoder leaves it off");
}

/// The fast model (method `imgf`, spec/MODELS.md §7.15) is a model of its
/// own: its streams differ from revision 1's, it ignores a network, and it
/// codes smooth, noisy and graphic content within a few percent of the full
/// model (it gives up the NLMS filters, four tables and two hashed tables).
#[test]
fn fast_model_is_its_own_and_close() {
    let net = net();
    for (kind, slack) in [(0, 1.10), (3, 1.25)] {
        let s = Stripe { width: 96, rows: 40, color: ColorType::Rgb, maxval: 255 };
        let samples = synth(&s, kind, 5);
        let code = |rev, n: Option<&ImgNet>| {
            let mut enc = RangeBitEncoder::new();
            encode(&s, 1, &samples, n, rev, Choices::default(), &mut enc).unwrap();
            enc.finish()
        };
        let fast = code(Revision::Fast, None);
        assert_eq!(code(Revision::Fast, Some(&net)), fast, "the fast model takes no network");
        let full = code(Revision::V1, None);
        assert_ne!(fast, full);
        assert!(
            (fast.len() as f64) < slack * full.len() as f64,
            "kind {kind}: {} vs {}",
            fast.len(),
            full.len()
        );
        // A fast stream read as revision 1 does not give the samples back.
        let mut out = Vec::new();
        let mut dec = RangeBitDecoder::new(&fast).unwrap();
        let _ = decode(&s, 1, None, Revision::V1, &mut dec, &mut out);
        assert_ne!(out, samples);
    }
}

/// The coding loop compiled with AVX2 (where the processor has it) gives the
/// bits of the portable loop, the reference, for every coding, with and
/// without the network, on 8- and 16-bit content, and each decodes the
/// other's stream (spec/MODELS.md §1: the same bits on every machine).
#[test]
fn avx2_loop_gives_the_portable_bits() {
    use crate::isa::with_portable_kernels;
    let net = net();
    let shapes = [
        (Stripe { width: 70, rows: 24, color: ColorType::Rgb, maxval: 255 }, 0),
        (Stripe { width: 33, rows: 20, color: ColorType::Rgba, maxval: 255 }, 3),
        (Stripe { width: 41, rows: 18, color: ColorType::Gray, maxval: 4095 }, 2),
    ];
    for (s, kind) in shapes {
        let samples = synth(&s, kind, 11);
        for (rev, choices) in CODINGS {
            for n in [None, Some(&*net)] {
                let code = || {
                    let mut enc = RangeBitEncoder::new();
                    encode(&s, 6, &samples, n, rev, choices, &mut enc).unwrap();
                    enc.finish()
                };
                let fast = code();
                assert_eq!(with_portable_kernels(code), fast, "{rev:?} {choices:?} kind {kind}");
                let mut out = Vec::new();
                let mut dec = RangeBitDecoder::new(&fast).unwrap();
                with_portable_kernels(|| decode(&s, 6, n, rev, &mut dec, &mut out)).unwrap();
                assert_eq!(out, samples);
            }
        }
    }
}
