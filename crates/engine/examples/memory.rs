//! Memory per tracked vessel (issue 11, item 6): feeds N vessels, each with a static report (name,
//! call sign, destination) and a position, to an engine monitoring every vessel, far from any
//! fence, and counts the heap bytes in use with a counting allocator (exact heap, not RSS). A
//! vessel near fences costs more: one state per fence it is near, and a dark deadline near a port.
//!
//! `cargo run --release -p vesselwatch-engine --example memory -- 200000`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use vesselwatch_ais::encode::{self, PositionReport, StaticReport};
use vesselwatch_ais::frontend::FrontEnd;
use vesselwatch_engine::geofence::FenceSet;
use vesselwatch_engine::movement::{Engine, EngineSettings};
use vesselwatch_engine::settings::{MonitorConfig, Vessels};
use vesselwatch_engine::watchlist::Watchlist;

/// Counts the bytes allocated and not yet freed.
struct Counting;

static IN_USE: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        IN_USE.fetch_add(l.size(), Ordering::Relaxed);
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        IN_USE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        IN_USE.fetch_add(new, Ordering::Relaxed);
        IN_USE.fetch_sub(l.size(), Ordering::Relaxed);
        // SAFETY: as above.
        unsafe { System.realloc(p, l, new) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

#[allow(clippy::disallowed_methods)] // an example reads its arguments
fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let monitor = MonitorConfig {
        vessels: Vessels::All,
        max_vessels: 50_000_000,
        ..MonitorConfig::default()
    };
    let mut settings = EngineSettings::from(&monitor);
    settings.max_vessels = usize::MAX;
    let mut engine =
        Engine::with_parts(settings, Arc::new(FenceSet::default()), Watchlist::new(&[]));
    engine.enable_recording(Some(600_000));
    let mut fe = FrontEnd::default();
    let mut events = Vec::new();
    let before = IN_USE.load(Ordering::Relaxed);
    for i in 0..n {
        let mmsi = 200_000_000 + i;
        let t = 1_700_000_000 + i64::from(i % 3_600);
        let s = StaticReport {
            dims: None,
            mmsi,
            imo: Some(9_000_000 + i % 999_999),
            callsign: format!("C{i:05}"),
            name: format!("VESSEL NUMBER {i}"),
            shiptype: 70,
            destination: "TARTUS".into(),
        };
        let (payload, fill) = encode::static_voyage(&s).armour();
        let mut lines =
            encode::sentences(&payload, fill, 'A', (i % 10) as u8, "rMEM", t, i % 9_999);
        let p = PositionReport {
            msg_type: 1,
            mmsi,
            status: 0,
            speed: Some(10.0),
            lat: 30.0 + f64::from(i % 1000) / 100.0,
            lon: 20.0 + f64::from(i / 1000 % 1000) / 100.0,
            course: Some(90.0),
            heading: Some(90),
            second: (i % 60) as u8,
        };
        let (payload, fill) = encode::position(&p).armour();
        lines.extend(encode::sentences(&payload, fill, 'A', 0, "rMEM", t, 0));
        for line in lines {
            if let Some(d) = fe.push_line(0, line.as_bytes()) {
                let time = d.meta.time().expect("tagged");
                engine.on_message(&d, time, &mut events);
            }
        }
        // As the daemon does at every batch: changes and positions go to the store.
        if i % 1_000 == 999 {
            drop(engine.take_snapshots());
            drop(engine.take_positions());
        }
    }
    drop(engine.take_snapshots());
    drop(engine.take_positions());
    let used = IN_USE.load(Ordering::Relaxed) - before;
    println!(
        "{} vessels tracked, {} bytes of heap, {} bytes per vessel",
        engine.tracker().len(),
        used,
        used / engine.tracker().len().max(1)
    );
}
