//! Fuzzes the whole decoding entry point: raw bytes, cut into chunks at fuzzer-chosen points,
//! through framing, reassembly and decoding, then JSON output. Checks the caps after every chunk.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vesselwatch_ais::frontend::{FrontEnd, FrontEndConfig};
use vesselwatch_ais::gpsd_json::write_message;
use vesselwatch_ais::reassembly::Limits;

fuzz_target!(|data: &[u8]| {
    let config = FrontEndConfig {
        max_line: 512,
        limits: Limits {
            max_pending: 8,
            ..Limits::default()
        },
    };
    let mut fe = FrontEnd::new(config);
    let mut out = Vec::new();
    // The first byte picks a chunk size, so chunk boundaries land everywhere.
    let (step, rest) = match data.split_first() {
        Some((s, r)) => (usize::from(*s).max(1), r),
        None => return,
    };
    for chunk in rest.chunks(step) {
        fe.push_bytes(0, chunk, |d| {
            out.clear();
            write_message(&mut out, &d);
            assert!(serde_json_check(&out));
        });
        assert!(fe.buffered_bytes() <= 512);
        assert!(fe.pending_fragments() <= 8);
    }
    fe.finish_feed(0, |d| {
        out.clear();
        write_message(&mut out, &d);
    });
});

/// Output is one object: starts with `{`, ends with `}`.
fn serde_json_check(out: &[u8]) -> bool {
    out.first() == Some(&b'{') && out.last() == Some(&b'}')
}
