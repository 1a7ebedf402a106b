//! One tick of a mod's output (its context and reply bytes, see
//! `tests/harness`) through the worker's checks and the main thread's
//! decoding, staging and applying; the harness panics when a rule breaks.

#![no_main]

libfuzzer_sys::fuzz_target!(|case: &[u8]| {
    fuzz_harness::check_case(case);
});
