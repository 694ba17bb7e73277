//! The learned-model method end to end: round trips, thread and backend
//! invariance of the .nz bytes, model identity by hash.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use nzip_codec::format::{self, Method};
use nzip_codec::nn::{package, Backend};
use nzip_codec::{CompressOptions, DecompressOptions, Error};

const MODEL: &str = "byte-gru-s";

fn text(n: usize) -> Vec<u8> {
    include_bytes!("../../spec/MODELS.md").iter().copied().cycle().take(n).collect()
}

fn opts(threads: usize, chunk: Option<u32>, backend: Backend) -> CompressOptions {
    CompressOptions {
        model: Some(MODEL.into()),
        threads,
        chunk_size: chunk,
        backend,
        ..CompressOptions::default()
    }
}

fn dopts(threads: usize, backend: Backend) -> DecompressOptions {
    DecompressOptions { threads, backend, ..DecompressOptions::default() }
}

#[test]
fn builtin_models_load_and_are_named_by_hash() {
    for b in package::builtins() {
        match b.kind {
            package::BuiltinKind::GruLm => {
                assert_eq!(b.gru().unwrap().vocab(), 256);
                assert!(b.cm_prior().is_err());
            }
            package::BuiltinKind::CmPrior => {
                let p = b.cm_prior().unwrap();
                assert_eq!(package::cm_prior_for_level(p.level()).unwrap().name, b.name);
                assert!(b.gru().is_err());
            }
            package::BuiltinKind::ImgNet => {
                b.img_net().unwrap();
                assert!(b.gru().is_err() && b.cm_prior().is_err());
            }
        }
        assert_eq!(package::find_by_id(b.id()).unwrap().name, b.name);
        // The id is the package file's hash, and the binary holds its content.
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("weights").join(b.file);
        let package = std::fs::read(&file).unwrap();
        assert_eq!(b.id(), &package::package_id(&package), "{}", b.file);
        assert_eq!(b.package_len(), package.len());
        let content = match b.kind {
            package::BuiltinKind::GruLm | package::BuiltinKind::ImgNet => package,
            package::BuiltinKind::CmPrior => nzip_codec::models::cm::Prior::inflate(&package).unwrap(),
        };
        assert!(b.content().unwrap() == content, "{} holds other bytes than its package", b.name);
        let cfg = b.config().unwrap();
        assert_eq!(cfg["name"], b.name, "the package names itself");
    }
}

#[test]
fn round_trip_threads_and_backends_give_identical_files() {
    let data = text(90_000);
    // Three chunks of 40,000 bytes, the last short.
    let one = nzip_codec::compress_to_vec(&data, &opts(1, Some(40_000), Backend::Cpu)).unwrap();
    let two = nzip_codec::compress_to_vec(&data, &opts(2, Some(40_000), Backend::Cpu)).unwrap();
    assert_eq!(one, two, "-T1 and -T2 differ");
    let candle = nzip_codec::compress_to_vec(&data, &opts(2, Some(40_000), Backend::candle_cpu())).unwrap();
    assert_eq!(one, candle, "cpu and candle backends differ");
    assert!(one.len() < data.len() * 6 / 10, "{} bytes from {}", one.len(), data.len());
    for (t, b) in [(1, Backend::Cpu), (2, Backend::candle_cpu())] {
        assert_eq!(nzip_codec::decompress_to_vec(&one, &dopts(t, b)).unwrap(), data);
    }
    let header = &nzip_codec::list(one.as_slice(), &DecompressOptions::default()).unwrap()[0].header;
    assert_eq!(header.method, Method::NeuralLm);
    let m = header.model.as_ref().unwrap();
    assert_eq!(m.name, MODEL);
    assert_eq!(m.id.as_slice(), package::find_by_name(MODEL).unwrap().id());
}

#[test]
fn scalar_backend_gives_the_same_file() {
    let data = text(3_000);
    let fast = nzip_codec::compress_to_vec(&data, &opts(1, None, Backend::Cpu)).unwrap();
    let scalar = nzip_codec::compress_to_vec(&data, &opts(1, None, Backend::Scalar)).unwrap();
    assert_eq!(fast, scalar);
    assert_eq!(nzip_codec::decompress_to_vec(&fast, &dopts(1, Backend::Scalar)).unwrap(), data);
}

#[test]
fn many_lanes_round_trip() {
    // Three lanes of unequal length (the first two one byte longer).
    let data = text(3 * 65_536 + 2);
    let packed = nzip_codec::compress_to_vec(&data, &opts(2, None, Backend::Cpu)).unwrap();
    assert_eq!(nzip_codec::decompress_to_vec(&packed, &dopts(2, Backend::Cpu)).unwrap(), data);
}

#[test]
fn random_data_is_stored_and_empty_input_works() {
    let mut x = 1u64;
    let noise: Vec<u8> = (0..20_000)
        .map(|_| {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            (x >> 56) as u8
        })
        .collect();
    let packed = nzip_codec::compress_to_vec(&noise, &opts(1, None, Backend::Cpu)).unwrap();
    assert!(packed.len() <= noise.len() + 128 + 28 + 64, "model reference adds at most 64 bytes");
    assert_eq!(nzip_codec::decompress_to_vec(&packed, &dopts(1, Backend::Cpu)).unwrap(), noise);
    let empty = nzip_codec::compress_to_vec(b"", &opts(1, None, Backend::Cpu)).unwrap();
    assert_eq!(nzip_codec::decompress_to_vec(&empty, &dopts(1, Backend::Cpu)).unwrap(), b"");
}

#[test]
fn unknown_models_and_impossible_options_are_refused() {
    let o = CompressOptions { model: Some("no-such-model".into()), ..CompressOptions::default() };
    let e = nzip_codec::compress_to_vec(b"abc", &o).unwrap_err();
    assert!(matches!(&e, Error::InvalidArgument(m) if m.contains(MODEL)), "{e}");
    let o = CompressOptions { coder: nzip_codec::CoderKind::Ans, ..opts(1, None, Backend::Cpu) };
    assert!(matches!(nzip_codec::compress_to_vec(b"abc", &o), Err(Error::InvalidArgument(_))));
    // A frame naming a model this build lacks: Unsupported, naming it.
    let packed = nzip_codec::compress_to_vec(&text(500), &opts(1, None, Backend::Cpu)).unwrap();
    let id = package::find_by_name(MODEL).unwrap().id();
    let at = packed.windows(32).position(|w| w == id).unwrap();
    let mut other = packed.clone();
    other[at] ^= 1;
    // Repair the HEAD section's CRC so that the change is a valid other model id.
    let head_at = format::PRELUDE_LEN;
    let (len, used) = format::varint::get(&other[head_at + 4..], 0).unwrap();
    let p = head_at + 4 + used;
    let crc = crc32fast::hash(&other[head_at..p + len as usize]);
    other[p + len as usize..p + len as usize + 4].copy_from_slice(&crc.to_le_bytes());
    let e = nzip_codec::decompress_to_vec(&other, &DecompressOptions::default()).unwrap_err();
    assert!(matches!(&e, Error::Format(format::Error::Unsupported(m)) if m.contains(MODEL)), "{e}");
}
