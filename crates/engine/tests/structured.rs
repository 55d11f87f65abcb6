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

/// Regression: `dark_after` configured as centuries (its millis saturate at `i64::MAX`) overflowed
/// the dark deadline (`time + dark_after`): a panic in debug builds, and in release a negative
/// deadline that reported every vessel in port dark at the next tick.
#[test]
fn a_dark_after_of_centuries_never_makes_a_vessel_dark() {
    use vesselwatch_engine::EventKind;
    use vesselwatch_engine::fuzzgen::{Body, Duration, Place, Step, Text, Time, Vessel};
    let at = |seconds: i16| Step::Message {
        feed: 0,
        vessel: Vessel::Known(0),
        body: Body::Position {
            kind: 0,
            place: Place::NearPort(0, 0),
            speed: Some(0.0),
            course: None,
            heading: None,
            second: None,
            name: Text::Any(String::new()),
        },
        stated: Some(Time::Near(seconds)),
        receiver: None,
        wall: Time::Near(seconds),
    };
    let script = Script {
        live: true,
        all_vessels: true,
        dark_after: Duration::Forever,
        holding_after: Duration::Hours,
        max_speed: 60,
        steps: vec![at(0), at(60), Step::Tick(Time::Y2100)],
    };
    let run = script.check().expect("invariants hold");
    assert!(run.events.iter().any(|e| e.kind == EventKind::Present));
    assert!(run.events.iter().all(|e| e.kind != EventKind::Dark));
}
