//! Structure-aware fuzzing of the decoding front end: feeds of sentences and tag blocks with valid
//! checksums around nonsense fields, lengths and fragment orders ([`Feed`]), which reach the code
//! that random bytes stop short of. The invariants are [`Feed::check`]'s, the same the property
//! tests in `crates/ais/tests/structured.rs` assert.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vesselwatch_ais::fuzzgen::Feed;

fuzz_target!(|feed: Feed| {
    if let Err(broken) = feed.check() {
        panic!("{broken}\n{feed:#?}");
    }
});
