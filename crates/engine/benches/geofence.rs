//! Criterion benchmarks of one fix's lookup near a GeoJSON fence of 1k, 100k and 1M vertices
//! (issue 11, item 8): `Fence::zone` on the prepared index, beside the linear `geo` walk the fence
//! did before (`MultiPolygon::contains`, then `HaversineClosestPoint` per polygon). The fence is a
//! comb with holes (`src/geofence/test_shapes.rs`), about 45 km wide whatever its vertex count; the
//! fixes are spread over its box and a margin, inside and out.
//!
//! `cargo bench -p vesselwatch-engine --bench geofence -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use geo::{
    BoundingRect, Closest, Contains, Coord, CoordsIter, Distance, Haversine, HaversineClosestPoint,
    MultiPolygon, Point,
};
use vesselwatch_engine::FenceKind;
use vesselwatch_engine::geofence::{Fence, Shape};

#[path = "../src/geofence/test_shapes.rs"]
#[allow(dead_code)]
mod test_shapes;

/// The fence's code before it was prepared, for comparison.
fn linear_distance_outside_m(mp: &MultiPolygon, p: Point) -> f64 {
    if mp.contains(&p) {
        return 0.0;
    }
    mp.0.iter()
        .map(|poly| match poly.haversine_closest_point(&p) {
            Closest::Intersection(q) | Closest::SinglePoint(q) => Haversine.distance(p, q),
            Closest::Indeterminate => f64::INFINITY,
        })
        .fold(f64::INFINITY, f64::min)
}

/// A comb of about `vertices` vertices spanning 0.5° of longitude, with a hole under every
/// 50th tooth.
fn fence(vertices: usize) -> MultiPolygon {
    let teeth = vertices / 4;
    MultiPolygon::new(vec![test_shapes::comb(
        Coord { x: 35.5, y: 34.7 },
        teeth,
        0.5 / teeth as f64,
        0.02,
        0.05,
        50,
    )])
}

/// 256 fixes over the fence's box widened by a quarter each way (a Weyl sequence: fixed, even).
fn fixes(mp: &MultiPolygon) -> Vec<Point> {
    let r = mp.bounding_rect().unwrap();
    (1..=256)
        .map(|i| {
            let i = i as f64;
            let (u, v) = (
                (i * 0.618_033_988_749_895).fract(),
                (i * 0.414_213_562_373_095).fract(),
            );
            Point::new(
                r.min().x + (u * 1.5 - 0.25) * r.width(),
                r.min().y + (v * 1.5 - 0.25) * r.height(),
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("fence_fix");
    for vertices in [1_000, 100_000, 1_000_000] {
        let mp = fence(vertices);
        let n = mp.coords_count();
        let points = fixes(&mp);
        let f = Fence::new(
            0,
            "comb".into(),
            FenceKind::Area,
            Shape::Polygons(mp.clone()),
            500.0,
            0.0,
            None,
        );
        let mut i = 0;
        g.bench_with_input(BenchmarkId::new("prepared", n), &f, |b, f| {
            b.iter(|| {
                i = (i + 1) % points.len();
                black_box(f.zone(black_box(points[i])))
            })
        });
        if vertices >= 1_000_000 {
            // About 0.3 s a fix: the fewest samples criterion takes.
            g.sample_size(10);
        }
        g.bench_with_input(BenchmarkId::new("linear_geo", n), &mp, |b, mp| {
            b.iter(|| {
                i = (i + 1) % points.len();
                black_box(linear_distance_outside_m(mp, black_box(points[i])))
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
