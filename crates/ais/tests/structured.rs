//! Property tests over structured hostile feeds: the `sentences` fuzz target's generator
//! ([`vesselwatch_ais::fuzzgen::Feed`]) and invariants ([`Feed::check`]), run on proptest's bytes
//! so that `cargo test` covers what the fuzzer covers, a few hundred feeds at a time.

use proptest::prelude::*;
use vesselwatch_ais::AisMessage;
use vesselwatch_ais::fuzzgen::{Body, Ending, Feed, Message, Noise, Tag, Talker};

/// An honest type 5 in two fragments: tagged, group `group`, sequence id 1 on channel A.
fn static_message(i: u32, name: &str, cut: u16) -> Message {
    Message {
        body: Body::Static {
            class_b: false,
            mmsi: 200_000_000 + i,
            imo: Some(9_000_000 + i),
            callsign: "CALL".into(),
            name: name.into(),
            destination: "PORT".into(),
            keep_bits: 0,
        },
        talker: Talker::Ai,
        own_ship: false,
        channel: Some(b'A'),
        seq_id: Some(1),
        cuts: vec![cut],
        tag: Some(Tag {
            source: Some("rX".into()),
            time: Some(1_700_000_000),
            group: Some(i),
            line: None,
            extra: None,
            override_group: None,
            bad_checksum: false,
            unclosed: false,
        }),
        damage: Vec::new(),
        ending: Ending::Lf,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any structured feed: no panic, caps held, every line counted once, headers possible, and
    /// fragments of different messages never joined.
    #[test]
    fn structured_feeds_keep_the_front_end_invariants(
        bytes in proptest::collection::vec(any::<u8>(), 0..4096),
    ) {
        let feed = Feed::from_bytes(&bytes).expect("arbitrary_take_rest never fails");
        if let Err(broken) = feed.check() {
            prop_assert!(false, "{broken}\n{feed:#?}");
        }
    }

    /// Honest two-fragment messages with distinct groups: in order, every one decodes; shuffled,
    /// whatever decodes is still one of them.
    #[test]
    fn shuffled_fragments_of_distinct_groups_never_mix(
        names in proptest::collection::vec("[A-Z ]{0,20}", 1..6),
        swaps in proptest::collection::vec((any::<u16>(), any::<u16>()), 0..8),
        cut in 1u16..70,
    ) {
        let messages: Vec<Message> = names
            .iter()
            .enumerate()
            .map(|(i, name)| static_message(i as u32, name, cut))
            .collect();
        let in_order = Feed { messages: messages.clone(), noise: Vec::new(), swaps: Vec::new(), chunk: 7 };
        let expected = in_order.render().1.expect("honest and distinct");
        let run = in_order.check().map_err(TestCaseError::fail)?;
        prop_assert_eq!(&run.decoded, &expected);
        let shuffled = Feed { messages, noise: Vec::new(), swaps, chunk: 64 };
        let run = shuffled.check().map_err(TestCaseError::fail)?;
        prop_assert!(run.decoded.iter().all(|m| matches!(m, AisMessage::StaticVoyage(_))));
    }
}

/// Regression: an address and a valid checksum and nothing else (`!AIVDM*57`) indexed past the
/// end of the address field in framing. The generator's `AddressOnly` noise makes it.
#[test]
fn address_only_sentence_is_refused_not_a_panic() {
    let feed = Feed {
        messages: Vec::new(),
        noise: vec![(0, Noise::AddressOnly(Talker::Ai))],
        swaps: Vec::new(),
        chunk: 1,
    };
    assert_eq!(feed.render().0, b"!AIVDM*57\n");
    let run = feed.check().unwrap();
    assert_eq!((run.outcomes, run.decoded.len()), (1, 0));
}
