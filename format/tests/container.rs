//! Container-level tests: round trips, the section rules of spec/FORMAT.md, and
//! damage (every truncation, every bit flip) always ending in a typed error.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests may panic on failure

use nzip_format::{
    chunk_crc, content_hash, tag, ChunkKind, Coder, Error, Header, Limits, Medium, Method, Reader, Writer,
};
use proptest::prelude::*;

fn header(method: Method, chunk_size: u32, content_size: Option<u64>) -> Header {
    Header {
        medium: Medium::Bytes,
        method,
        level: if method == Method::Stored { 0 } else { 3 },
        coder: Coder::Range,
        precision: 16,
        chunk_size,
        content_size,
        model: None,
    }
}

/// A frame of stored chunks (the container does not care how data was coded).
fn frame(content: &[u8], chunk_size: u32, with_size: bool) -> Vec<u8> {
    let h = header(Method::Stored, chunk_size, with_size.then_some(content.len() as u64));
    let mut w = Writer::new(Vec::new(), h).unwrap();
    for piece in content.chunks(chunk_size as usize) {
        w.write_chunk(ChunkKind::Stored, piece.len() as u32, chunk_crc(piece), piece).unwrap();
    }
    w.finish(content_hash(content)).unwrap().0
}

/// Read a whole stream, checking chunk CRCs and the content hash as a decoder must.
fn read_all(data: &[u8]) -> Result<Vec<u8>, Error> {
    let mut r = Reader::new(data, Limits::default());
    let mut out = Vec::new();
    while r.next_frame()?.is_some() {
        let start = out.len();
        while let Some(chunk) = r.next_chunk()? {
            chunk.verify(&chunk.data)?;
            out.extend_from_slice(&chunk.data);
        }
        if content_hash(&out[start..]) != r.tail().unwrap().content_xxh64 {
            return Err(Error::Checksum { what: "content XXH64", offset: r.offset() });
        }
    }
    Ok(out)
}

/// Append a section with a valid CRC (to build frames the writer would refuse).
fn section(out: &mut Vec<u8>, t: [u8; 4], payload: &[u8]) {
    let mut head = t.to_vec();
    nzip_format::varint::put(&mut head, payload.len() as u64);
    let mut crc = crc32fast_like(&head);
    crc = crc_update(crc, payload);
    out.extend_from_slice(&head);
    out.extend_from_slice(payload);
    out.extend_from_slice(&(!crc).to_le_bytes());
}

// A tiny bitwise CRC-32 so the tests check the spec's CRC independently of crc32fast.
fn crc32fast_like(data: &[u8]) -> u32 {
    crc_update(0xFFFF_FFFF, data)
}
fn crc_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    crc
}

#[test]
fn crc_is_the_zlib_crc32() {
    assert_eq!(!crc32fast_like(b"123456789"), 0xCBF4_3926);
    assert_eq!(chunk_crc(b"123456789"), 0xCBF4_3926);
}

#[test]
fn smallest_file_is_44_bytes() {
    let f = frame(b"", 1, false);
    assert_eq!(f.len(), 44);
    assert_eq!(read_all(&f).unwrap(), b"");
}

#[test]
fn empty_stream_is_truncated_and_garbage_is_not_nzip() {
    assert!(matches!(read_all(b""), Err(Error::Truncated { .. })));
    assert!(matches!(read_all(b"\x89PNG\r\n\x1a\n0000"), Err(Error::NotNzip)));
    assert!(matches!(read_all(b"hello"), Err(Error::NotNzip)));
}

#[test]
fn concatenated_frames_decode_to_concatenated_content() {
    let mut s = frame(b"hello ", 4, true);
    s.extend(frame(b"world", 2, false));
    s.extend(frame(b"", 7, true));
    assert_eq!(read_all(&s).unwrap(), b"hello world");
}

#[test]
fn trailing_garbage_after_a_frame_is_malformed() {
    let mut s = frame(b"abc", 4, true);
    s.extend_from_slice(b"garbage!!");
    assert!(matches!(read_all(&s), Err(Error::Malformed { .. })));
    let mut s = frame(b"abc", 4, true);
    s.extend_from_slice(&nzip_format::MAGIC[..3]);
    assert!(matches!(read_all(&s), Err(Error::Truncated { .. })));
}

#[test]
fn unknown_major_version_is_unsupported() {
    let mut s = frame(b"abc", 4, true);
    s[7] = 2;
    assert!(matches!(read_all(&s), Err(Error::Unsupported(_))));
}

#[test]
fn later_minor_version_is_read() {
    let mut s = frame(b"abc", 4, true);
    s[8] = 7;
    assert_eq!(read_all(&s).unwrap(), b"abc");
}

/// Build a frame by hand: prelude, HEAD, then the given sections, then TAIL.
fn hand_frame(h: &Header, body: &[([u8; 4], Vec<u8>)], content: &[u8], chunks: u64) -> Vec<u8> {
    // Prelude + HEAD from a real writer; the sections and TAIL are built by hand.
    let prefix = {
        let w = Writer::new(Vec::new(), Header { content_size: None, ..h.clone() }).unwrap();
        let n = w.bytes_written() as usize;
        let (v, _) = w.finish(0).unwrap();
        v[..n].to_vec()
    };
    let mut out = prefix;
    for (t, p) in body {
        section(&mut out, *t, p);
    }
    let mut tail = Vec::new();
    nzip_format::varint::put(&mut tail, chunks);
    nzip_format::varint::put(&mut tail, content.len() as u64);
    tail.extend_from_slice(&content_hash(content).to_le_bytes());
    section(&mut out, tag::TAIL, &tail);
    out
}

fn chunk_payload(kind: u8, raw_len: u64, content: &[u8], data: &[u8]) -> Vec<u8> {
    let mut p = vec![kind];
    nzip_format::varint::put(&mut p, raw_len);
    p.extend_from_slice(&chunk_crc(content).to_le_bytes());
    p.extend_from_slice(data);
    p
}

#[test]
fn hand_built_frame_decodes() {
    let h = header(Method::Stored, 4, None);
    let f = hand_frame(&h, &[(tag::CHNK, chunk_payload(0, 3, b"abc", b"abc"))], b"abc", 1);
    assert_eq!(read_all(&f).unwrap(), b"abc");
}

#[test]
fn ancillary_sections_are_skipped_and_critical_ones_unsupported() {
    let h = header(Method::Stored, 4, None);
    let body = vec![(*b"note", b"anything".to_vec()), (tag::CHNK, chunk_payload(0, 3, b"abc", b"abc"))];
    assert_eq!(read_all(&hand_frame(&h, &body, b"abc", 1)).unwrap(), b"abc");
    let body = vec![(*b"NOTE", b"anything".to_vec()), (tag::CHNK, chunk_payload(0, 3, b"abc", b"abc"))];
    assert!(matches!(read_all(&hand_frame(&h, &body, b"abc", 1)), Err(Error::Unsupported(_))));
    let body = vec![(*b"no1e", vec![])];
    assert!(matches!(read_all(&hand_frame(&h, &body, b"", 0)), Err(Error::Malformed { .. })));
}

#[test]
fn chunk_rules_are_enforced() {
    let stored = header(Method::Stored, 4, None);
    let cm = header(Method::ContextMixing, 4, None);
    let bad = |h: &Header, body: Vec<([u8; 4], Vec<u8>)>, content: &[u8], n: u64| {
        let r = read_all(&hand_frame(h, &body, content, n));
        assert!(matches!(r, Err(Error::Malformed { .. })), "{r:?}");
    };
    // A chunk after a short chunk.
    bad(
        &stored,
        vec![(tag::CHNK, chunk_payload(0, 2, b"ab", b"ab")), (tag::CHNK, chunk_payload(0, 2, b"cd", b"cd"))],
        b"abcd",
        2,
    );
    // Longer than chunk_size; zero length.
    bad(&stored, vec![(tag::CHNK, chunk_payload(0, 5, b"abcde", b"abcde"))], b"abcde", 1);
    bad(&stored, vec![(tag::CHNK, chunk_payload(0, 0, b"", b""))], b"", 1);
    // Stored data of the wrong length.
    bad(&stored, vec![(tag::CHNK, chunk_payload(0, 3, b"abc", b"ab"))], b"abc", 1);
    // A modelled chunk in a stored frame; a reserved kind.
    bad(&stored, vec![(tag::CHNK, chunk_payload(1, 3, b"abc", b"x"))], b"abc", 1);
    bad(&cm, vec![(tag::CHNK, chunk_payload(2, 3, b"abc", b"abc"))], b"abc", 1);
    // A modelled chunk not smaller than its content.
    bad(&cm, vec![(tag::CHNK, chunk_payload(1, 3, b"abc", b"abc"))], b"abc", 1);
    // Tail count or size that disagree with the chunks.
    bad(&stored, vec![(tag::CHNK, chunk_payload(0, 3, b"abc", b"abc"))], b"abc", 2);
    bad(&stored, vec![(tag::CHNK, chunk_payload(0, 3, b"abc", b"abc"))], b"ab", 1);
    // A second HEAD.
    bad(&stored, vec![(tag::HEAD, vec![0, 0, 0, 0, 0, 16, 4])], b"", 0);
    // A wrong seek index.
    bad(&stored, vec![(tag::CHNK, chunk_payload(0, 3, b"abc", b"abc")), (tag::INDX, vec![1, 5])], b"abc", 1);
}

#[test]
fn bad_chunk_crc_is_a_checksum_error() {
    let h = header(Method::Stored, 4, None);
    let p = chunk_payload(0, 3, b"abc", b"abd");
    let f = hand_frame(&h, &[(tag::CHNK, p)], b"abd", 1);
    assert!(matches!(read_all(&f), Err(Error::Checksum { .. })));
}

#[test]
fn header_reserved_bits_and_values() {
    let base = frame(b"", 4, false);
    // flags is the first HEAD payload byte: offset 9 + 4 (tag) + 1 (length).
    let flags_at = 14;
    for (at, value, expect_unsupported) in [
        (flags_at, 0x80u8, false),
        (flags_at + 1, 9, true),
        (flags_at + 2, 11, true),
        (flags_at + 4, 9, true),
    ] {
        let mut payload = base[flags_at..flags_at + base[13] as usize].to_vec();
        payload[at - flags_at] = value;
        let mut f = base[..9].to_vec();
        section(&mut f, tag::HEAD, &payload);
        f.extend_from_slice(&base[9 + 4 + 1 + base[13] as usize + 4..]);
        let r = read_all(&f);
        if expect_unsupported {
            assert!(matches!(r, Err(Error::Unsupported(_))), "byte {at}: {r:?}");
        } else {
            assert!(matches!(r, Err(Error::Malformed { .. })), "byte {at}: {r:?}");
        }
    }
}

#[test]
fn limits_are_checked_before_allocating() {
    let f = frame(b"abcdef", 4, true);
    let tight = Limits { max_chunk_size: 2, ..Limits::default() };
    let mut r = Reader::new(&f[..], tight);
    assert!(matches!(r.next_frame(), Err(Error::LimitExceeded { .. })));
    // A section that claims 1 GiB but is truncated fails without allocating it.
    let h = header(Method::Stored, 1 << 30, None);
    let mut s = Writer::new(Vec::new(), h).unwrap().finish(0).unwrap().0;
    s.truncate(s.len() - 19); // drop the TAIL (19 bytes for an empty frame)
    s.extend_from_slice(b"CHNK\x80\x80\x80\x80\x04");
    let big = Limits { max_chunk_size: 1 << 30, ..Limits::default() };
    let mut r = Reader::new(&s[..], big);
    r.next_frame().unwrap();
    assert!(matches!(r.next_chunk(), Err(Error::Truncated { .. })));
}

#[test]
fn writer_refuses_frames_the_reader_would_reject() {
    let mut w = Writer::new(Vec::new(), header(Method::Stored, 4, Some(5))).unwrap();
    assert!(w.write_chunk(ChunkKind::Stored, 5, 0, b"abcde").is_err());
    assert!(w.write_chunk(ChunkKind::Modelled, 4, 0, b"ab").is_err());
    w.write_chunk(ChunkKind::Stored, 2, chunk_crc(b"ab"), b"ab").unwrap();
    assert!(w.write_chunk(ChunkKind::Stored, 2, 0, b"cd").is_err());
    assert!(w.finish(0).is_err(), "content size differs from the header");
    let bad = Header { chunk_size: 0, ..header(Method::Stored, 4, None) };
    assert!(Writer::new(Vec::new(), bad).is_err());
}

/// Every truncation of a multi-chunk frame is an error; never a panic.
#[test]
fn every_truncation_is_an_error() {
    let content: Vec<u8> = (0..200u32).map(|i| (i * 7 % 251) as u8).collect();
    let f = frame(&content, 64, true);
    for n in 0..f.len() {
        let r = read_all(&f[..n]);
        assert!(r.is_err(), "truncation at {n} decoded");
        assert!(r.unwrap_err().is_corrupt(), "truncation at {n} gave a non-corruption error");
    }
}

/// Every single bit flip is an error, or (for the minor version byte, whose
/// later values are valid) decodes to the exact original.
#[test]
fn every_bit_flip_is_an_error_or_harmless() {
    let content = b"The quick brown fox jumps over the lazy dog".repeat(3);
    let f = frame(&content, 50, true);
    for byte in 0..f.len() {
        for bit in 0..8 {
            let mut g = f.clone();
            g[byte] ^= 1 << bit;
            if let Ok(out) = read_all(&g) {
                assert_eq!(out, content, "flip at {byte}.{bit} gave wrong output");
            }
        }
    }
}

proptest! {
    #[test]
    fn round_trip_any_content_and_chunking(
        content in proptest::collection::vec(any::<u8>(), 0..2000),
        chunk_size in 1u32..300,
        with_size: bool,
    ) {
        let f = frame(&content, chunk_size, with_size);
        prop_assert_eq!(read_all(&f).unwrap(), content.clone());
        let chunks = content.len().div_ceil(chunk_size as usize) as u64;
        prop_assert!(f.len() as u64 <= content.len() as u64
            + nzip_format::FRAME_OVERHEAD_FIXED + nzip_format::FRAME_OVERHEAD_PER_CHUNK * chunks);
    }

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..300)) {
        let _ = read_all(&data);
        let mut with_magic = nzip_format::MAGIC.to_vec();
        with_magic.extend_from_slice(&[1, 0]);
        with_magic.extend_from_slice(&data);
        let _ = read_all(&with_magic);
    }
}

/// A bit flip in a section tag can turn it into an unknown critical tag; that is
/// damage (Checksum), not a newer format (Unsupported).
#[test]
fn damaged_tag_is_a_checksum_error_not_unsupported() {
    let f = frame(b"abcdef", 4, true);
    let chnk = f.windows(4).position(|w| w == b"CHNK").unwrap();
    let mut g = f.clone();
    g[chnk + 3] ^= 0x02; // "CHNK" -> "CHNI"
    assert!(matches!(read_all(&g), Err(Error::Checksum { .. })), "{:?}", read_all(&g));
}

/// The description of a 4×2 gray PNM image in stripes of one row.
fn gray_info() -> nzip_format::ImageInfo {
    use nzip_format::{ColorType, ImageInfo, RestoreCoding, SourceFormat};
    ImageInfo {
        width: 4,
        height: 2,
        color: ColorType::Gray,
        maxval: 255,
        stripe_rows: 1,
        source: SourceFormat::Pnm,
        restore_coding: RestoreCoding::Raw,
        restore_len: 0,
        restore: Vec::new(),
    }
}

/// A frame of the [`gray_info`] image in stored stripes, with `map` after its
/// `IMAG`, and `extra` sections before its `TAIL`; and its content.
fn image_frame(map: Option<&nzip_format::ValueMap>, extra: &[([u8; 4], Vec<u8>)]) -> (Vec<u8>, Vec<u8>) {
    let content: Vec<u8> = vec![0, 16, 32, 48, 16, 16, 0, 48];
    let h = Header { medium: Medium::Image, content_size: Some(8), ..header(Method::Stored, 4, None) };
    let mut w = Writer::new_image_mapped(Vec::new(), h, &gray_info(), map).unwrap();
    for piece in content.chunks(4) {
        w.write_chunk(ChunkKind::Stored, 4, chunk_crc(piece), piece).unwrap();
    }
    let (mut f, _) = w.finish(content_hash(&content)).unwrap();
    // Insert the extra sections before the TAIL (tag, length byte, 1 + 1 + 8
    // bytes of payload, CRC), after the seek index.
    let tail = f.split_off(f.len() - (4 + 1 + 10 + 4));
    for (t, p) in extra {
        section(&mut f, *t, p);
    }
    f.extend_from_slice(&tail);
    (f, content)
}

#[test]
fn value_map_follows_the_image_description() {
    use nzip_format::{RestoreCoding, ValueMap};
    let list = ValueMap::encode_list(&[0, 16, 32, 48]).unwrap();
    let map = ValueMap { count: 4, coding: RestoreCoding::Raw, list_len: list.len() as u64, list };
    let (f, content) = image_frame(Some(&map), &[]);
    assert_eq!(read_all(&f).unwrap(), content);
    let mut r = Reader::new(&f[..], Limits::default());
    r.next_frame().unwrap();
    assert_eq!(r.value_map(), Some(&map));
    assert_eq!(map.values(&map.list, 255, 0).unwrap(), [0, 16, 32, 48]);
    // Without a map, the section after IMAG is the first chunk, read ahead.
    let (plain, _) = image_frame(None, &[]);
    assert_eq!(read_all(&plain).unwrap(), content);
    assert!(f.len() > plain.len());
    // Anywhere else a VMAP is malformed: after a chunk, twice, in a bytes frame.
    let payload = map.encode(&gray_info()).unwrap();
    let (late, _) = image_frame(None, &[(tag::VMAP, payload.clone())]);
    assert!(matches!(read_all(&late), Err(Error::Malformed { .. })));
    let (twice, _) = image_frame(Some(&map), &[(tag::VMAP, payload.clone())]);
    assert!(matches!(read_all(&twice), Err(Error::Malformed { .. })));
    let h = header(Method::Stored, 4, None);
    let body = vec![(tag::VMAP, payload), (tag::CHNK, chunk_payload(0, 3, b"abc", b"abc"))];
    assert!(matches!(read_all(&hand_frame(&h, &body, b"abc", 1)), Err(Error::Malformed { .. })));
    // A map that does not fit the image (more values than maxval) is malformed.
    let mut wide = map.clone();
    wide.count = 256;
    let mut bad = f.clone();
    let at = f.windows(4).position(|w| w == b"VMAP").unwrap();
    let mut fixed = bad[..at].to_vec();
    section(&mut fixed, tag::VMAP, &{
        let mut p = Vec::new();
        nzip_format::varint::put(&mut p, u64::from(wide.count));
        p.push(0);
        nzip_format::varint::put(&mut p, wide.list_len);
        p.extend_from_slice(&wide.list);
        p
    });
    let vmap_len = 4 + 1 + payload_len(&map) + 4;
    fixed.extend_from_slice(&bad.split_off(at + vmap_len));
    assert!(matches!(read_all(&fixed), Err(Error::Malformed { .. })));
    // Every truncation of the mapped frame is an error.
    for n in 0..f.len() {
        assert!(read_all(&f[..n]).is_err(), "{n}");
    }
}

fn payload_len(map: &nzip_format::ValueMap) -> usize {
    map.encode(&gray_info()).unwrap().len()
}
