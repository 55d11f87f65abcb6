//! Reads NMEA from standard input and prints one line per position report, then what happened to
//! every line: the smallest complete use of the crate.
//!
//! `cargo run -p vesselwatch-ais --example decode < feed.nmea`

use std::io::Read;

use vesselwatch_ais::{AisMessage, Decoded, FrontEnd};

fn main() -> std::io::Result<()> {
    let mut front = FrontEnd::default();
    let print = |d: Decoded| {
        if let AisMessage::Position(p) = &d.message
            && let (Some(lat), Some(lon)) = (p.lat, p.lon)
        {
            let time = d.meta.time().map(|t| t.to_string()).unwrap_or_default();
            println!("{time} {} {lat:.5} {lon:.5}", p.header.mmsi);
        }
    };
    let mut buf = vec![0; 64 * 1024];
    let mut stdin = std::io::stdin().lock();
    loop {
        let n = stdin.read(&mut buf)?;
        if n == 0 {
            break;
        }
        front.push_bytes(0, &buf[..n], print);
    }
    front.finish_feed(0, print);
    for (outcome, n) in front.counters().summary() {
        eprintln!("{outcome:<20} {n}");
    }
    Ok(())
}
