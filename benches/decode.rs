//! Criterion benchmarks of the decoding front end, in memory (no file I/O): sentences per second
//! for decoding alone and for decoding plus gpsd JSON output. The whole-program comparison with
//! other decoders is `benches/compare.sh`.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vesselwatch_ais::FrontEnd;
use vesselwatch_ais::gpsd_json::write_message;

/// The real sentences of the gpsd and pyais samples, AIS lines only, as one buffer.
fn feed() -> (Vec<u8>, u64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut out = Vec::new();
    let mut n = 0;
    for f in [
        "conformance/sample.aivdm",
        "conformance/ais-nmea.log",
        "conformance/ais-18-27.log",
        "pyais/nmea_data_sample.txt",
    ] {
        let text = std::fs::read(root.join(f)).unwrap();
        for line in text
            .split(|&b| b == b'\n')
            .filter(|l| l.starts_with(b"!AIVD"))
        {
            out.extend_from_slice(line);
            out.push(b'\n');
            n += 1;
        }
    }
    (out, n)
}

fn bench(c: &mut Criterion) {
    let (data, sentences) = feed();
    let mut g = c.benchmark_group("frontend");
    g.throughput(Throughput::Elements(sentences));
    g.bench_function("decode_count", |b| {
        b.iter(|| {
            let mut fe = FrontEnd::default();
            let mut n = 0u64;
            fe.push_bytes(0, black_box(&data), |d| {
                black_box(&d);
                n += 1;
            });
            n
        })
    });
    g.bench_function("decode_json", |b| {
        let mut out = Vec::with_capacity(data.len() * 3);
        b.iter(|| {
            out.clear();
            let mut fe = FrontEnd::default();
            fe.push_bytes(0, black_box(&data), |d| {
                write_message(&mut out, &d);
                out.push(b'\n');
            });
            out.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
