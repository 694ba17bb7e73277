//! Walk every frame and section with nzip_format::Reader; see nzip_codec::fuzzing::container_parse.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| nzip_codec::fuzzing::container_parse(data));
