//! Many-vertex polygons for the geofence tests and the `geofence` benchmark (which includes this
//! file by path): a comb, whose teeth defeat a ray cast and crowd a nearest-neighbour search, and
//! a star, with holes. Simple rings by construction, as RFC 7946 asks of GeoJSON.

use geo::{Coord, LineString, Polygon};

/// A comb at `origin` (its south-west corner, degrees): a base bar `base_deg` high and
/// `teeth` teeth `tooth_deg` long pointing north, each `pitch_deg / 2` wide with as wide a gap;
/// every `hole_every`th tooth (0: none) has a rectangular hole in the bar below it. 4 vertices a
/// tooth.
pub fn comb(
    origin: Coord,
    teeth: usize,
    pitch_deg: f64,
    base_deg: f64,
    tooth_deg: f64,
    hole_every: usize,
) -> Polygon {
    let w = pitch_deg / 2.0;
    let width = teeth as f64 * pitch_deg - w;
    let at = |x: f64, y: f64| Coord {
        x: origin.x + x,
        y: origin.y + y,
    };
    let mut ring = vec![at(0.0, 0.0), at(width, 0.0)];
    let mut holes = Vec::new();
    for k in (0..teeth).rev() {
        let (x0, x1) = (k as f64 * pitch_deg, k as f64 * pitch_deg + w);
        ring.extend([
            at(x1, base_deg),
            at(x1, base_deg + tooth_deg),
            at(x0, base_deg + tooth_deg),
            at(x0, base_deg),
        ]);
        if hole_every > 0 && k % hole_every == 0 {
            let (hx0, hx1) = (x0 + w * 0.25, x0 + w * 0.75);
            let (hy0, hy1) = (base_deg * 0.3, base_deg * 0.6);
            holes.push(LineString::new(vec![
                at(hx0, hy0),
                at(hx0, hy1),
                at(hx1, hy1),
                at(hx1, hy0),
                at(hx0, hy0),
            ]));
        }
    }
    ring.push(at(0.0, 0.0));
    Polygon::new(LineString::new(ring), holes)
}

/// A star-shaped ring around `center`: vertex `i` at angle `2πi/n` and radius `radii[i]` (degrees
/// of latitude; longitude stretched by 1/cos(lat) so it looks round on the map), run clockwise
/// when `clockwise`. Simple for any positive radii.
pub fn star_ring(center: Coord, radii: &[f64], clockwise: bool) -> LineString {
    let n = radii.len();
    let stretch = 1.0 / center.y.to_radians().cos();
    let mut ring: Vec<Coord> = (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            Coord {
                x: center.x + radii[i] * a.cos() * stretch,
                y: center.y + radii[i] * a.sin(),
            }
        })
        .collect();
    if clockwise {
        ring.reverse();
    }
    ring.push(ring[0]);
    LineString::new(ring)
}

/// A star with a star hole of `hole_radii` (each below the smallest of `radii`) around the same
/// centre.
pub fn star_with_hole(
    center: Coord,
    radii: &[f64],
    hole_radii: &[f64],
    clockwise: bool,
) -> Polygon {
    Polygon::new(
        star_ring(center, radii, clockwise),
        vec![star_ring(center, hole_radii, !clockwise)],
    )
}
