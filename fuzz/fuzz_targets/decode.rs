//! Decompress and list arbitrary bytes; see nzip_codec::fuzzing::decode.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nzip_codec::fuzzing::decode(data));
