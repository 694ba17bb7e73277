//! Compress (options from the first 3 bytes) and decompress; see nzip_codec::fuzzing::roundtrip.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nzip_codec::fuzzing::roundtrip(data));
