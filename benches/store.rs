//! Criterion benchmark of sustained inserts into the positions table: batches of 50,000 rows, one
//! transaction each, into a real SQLite file in WAL mode (the writer thread's path). Rows per second
//! is the throughput shown. Target: at least 200,000 rows/s.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use vesselwatch::store::{self, Batch};
use vesselwatch_ais::time::UnixMillis;
use vesselwatch_engine::tracker::Fix;

const ROWS: usize = 50_000;

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut conn = store::open(&dir.path().join("bench.db")).unwrap();
    let mut t = 1_700_000_000_000i64;
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(ROWS as u64));
    g.sample_size(20);
    g.bench_function("insert_positions", |b| {
        b.iter_batched(
            || {
                // 1,000 vessels, 50 fixes each, times always new so every row is inserted.
                Batch {
                    positions: (0..ROWS)
                        .map(|i| {
                            t += 1;
                            let f = Fix {
                                time: UnixMillis(t),
                                lat: 34.0 + (i % 1000) as f64 * 0.001,
                                lon: 35.0,
                                sog: Some(10.0),
                            };
                            (273_000_000 + (i % 1000) as u32, f)
                        })
                        .collect(),
                    ..Batch::default()
                }
            },
            |batch| store::write_batch(&mut conn, &batch).unwrap(),
            criterion::BatchSize::LargeInput,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
