//! Every fuzz target: the binary's name says which (see fuzz/Cargo.toml and tests/fuzz).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| custos_fuzz::run(env!("CARGO_BIN_NAME"), data));
