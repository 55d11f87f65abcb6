//! Property tests over structured hostile message sequences: the `engine` fuzz target's generator
//! ([`vesselwatch_engine::fuzzgen::Script`]) and invariants ([`Script::check`]), run on proptest's
//! bytes so that `cargo test` covers what the fuzzer covers.

use proptest::prelude::*;
use vesselwatch_engine::fuzzgen::Script;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Any script: no panic, the engine clock monotone and bounded by the times it was given,
    /// events only for configured fences and never after the engine clock.
    #[test]
    fn absurd_sequences_keep_the_engine_invariants(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let script = Script::from_bytes(&bytes).expect("arbitrary_take_rest never fails");
        if let Err(broken) = script.check() {
            prop_assert!(false, "{broken}\n{script:#?}");
        }
    }
}
