//! Structure-aware fuzzing of the engine: sequences of messages with absurd times, positions and
//! identities ([`Script`]) through the feed clocks and the movement engine as the daemon's pipeline
//! drives them. The invariants are [`Script::check`]'s, the same the property tests in
//! `crates/engine/tests/structured.rs` assert.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vesselwatch_engine::fuzzgen::Script;

fuzz_target!(|script: Script| {
    if let Err(broken) = script.check() {
        panic!("{broken}\n{script:#?}");
    }
});
