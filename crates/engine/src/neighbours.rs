//! Who is near whom: every vessel's latest position in a grid, for the detections that look at
//! pairs of ships (encounters at sea, issue 13).
//!
//! Owns the spatial index of latest positions. A uniform grid over latitude and longitude, cells
//! of a fixed size in degrees, each holding the MMSIs whose latest fix lies in it; a fix moves its
//! vessel between cells in place. A query for the vessels within a radius looks only at the cells
//! the radius can reach, so its cost follows the neighbourhood, not the fleet. Hand-written rather
//! than `rstar`: an R-tree is rebuilt or rebalanced as points move, and here every fix moves one.
//!
//! Memory: a vessel is one entry in the position map (MMSI, cell, latitude, longitude: 28 bytes
//! of entry, about 40 with the hash table's slack, an estimate from the layout not yet measured)
//! and four bytes in its cell's list; an empty cell is removed.
//! Pure: no I/O, no clock.

// Input path: every fix goes through it (ARCHITECTURE.md, invariants).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use geo::{Distance, Haversine, Point};
use rustc_hash::FxHashMap;

/// Metres in a degree of latitude (and of longitude at the equator) on the mean Earth sphere
/// (radius 6,371,008.8 m, as `geo`'s haversine uses).
const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// A cell: its row (latitude) and column (longitude).
type Cell = (i32, i32);

/// The latest position of every vessel placed, by grid cell.
#[derive(Debug, Clone)]
pub struct Neighbours {
    /// The side of a cell in degrees (of latitude; the same number of degrees of longitude).
    cell_deg: f64,
    /// Columns around the world: a longitude's column wraps at the antimeridian.
    columns: i32,
    cells: FxHashMap<Cell, Vec<u32>>,
    at: FxHashMap<u32, (Cell, f64, f64)>,
}

impl Neighbours {
    /// An empty index with cells about `cell_m` metres high (narrower towards the poles). About
    /// the radius of the usual query is right: a query then reads a 3-by-3 block of cells at low
    /// latitudes.
    pub fn new(cell_m: f64) -> Self {
        // At least 0.001° (110 m) and at most 10°: a cell count that fits an i32 whatever is asked.
        let cell_deg = (cell_m / METRES_PER_DEGREE).clamp(0.001, 10.0);
        Self {
            cell_deg,
            columns: (360.0 / cell_deg).ceil() as i32,
            cells: FxHashMap::default(),
            at: FxHashMap::default(),
        }
    }

    /// Vessels placed.
    pub fn len(&self) -> usize {
        self.at.len()
    }

    /// Whether no vessel is placed.
    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// Where `mmsi` was placed last.
    pub fn position(&self, mmsi: u32) -> Option<(f64, f64)> {
        self.at.get(&mmsi).map(|&(_, lat, lon)| (lat, lon))
    }

    fn cell(&self, lat: f64, lon: f64) -> Cell {
        let row = (lat.clamp(-90.0, 90.0) / self.cell_deg).floor() as i32;
        let col = ((lon.rem_euclid(360.0)) / self.cell_deg).floor() as i32;
        (row, col.rem_euclid(self.columns.max(1)))
    }

    /// Places `mmsi` at its new latest position (moving it from its old cell). A position off the
    /// globe (not finite, or latitude beyond ±90°) removes it: it is nowhere known.
    pub fn update(&mut self, mmsi: u32, lat: f64, lon: f64) {
        if !(lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat)) {
            self.remove(mmsi);
            return;
        }
        let cell = self.cell(lat, lon);
        match self.at.insert(mmsi, (cell, lat, lon)) {
            Some((old, _, _)) if old == cell => return,
            Some((old, _, _)) => self.take_from(old, mmsi),
            None => {}
        }
        self.cells.entry(cell).or_default().push(mmsi);
    }

    /// Forgets `mmsi` (a vessel forgotten by the tracker).
    pub fn remove(&mut self, mmsi: u32) {
        if let Some((cell, _, _)) = self.at.remove(&mmsi) {
            self.take_from(cell, mmsi);
        }
    }

    fn take_from(&mut self, cell: Cell, mmsi: u32) {
        if let Some(list) = self.cells.get_mut(&cell) {
            list.retain(|&m| m != mmsi);
            if list.is_empty() {
                self.cells.remove(&cell);
            }
        }
    }

    /// Every vessel within `radius_m` metres (haversine) of `(lat, lon)`, with its distance, in
    /// no particular order, into `out` (cleared first).
    pub fn within(&self, lat: f64, lon: f64, radius_m: f64, out: &mut Vec<(u32, f64)>) {
        out.clear();
        if !(lat.is_finite() && lon.is_finite() && radius_m.is_finite() && radius_m >= 0.0) {
            return;
        }
        let here = Point::new(lon, lat);
        let (row, col) = self.cell(lat, lon);
        let rows = (radius_m / METRES_PER_DEGREE / self.cell_deg).ceil() as i32;
        // Longitude degrees shrink with the cosine of the latitude: at the edge of the radius
        // nearest a pole they are shortest, so the widest span of columns is needed there.
        let edge = (lat.abs() + radius_m / METRES_PER_DEGREE).min(90.0);
        let cos = edge.to_radians().cos();
        let columns = if cos * METRES_PER_DEGREE * 180.0 <= radius_m || cos < 1e-9 {
            self.columns
        } else {
            ((radius_m / (METRES_PER_DEGREE * cos) / self.cell_deg).ceil() as i32)
                .saturating_mul(2)
                .saturating_add(1)
                .min(self.columns)
        };
        let half = columns / 2;
        for r in row.saturating_sub(rows)..=row.saturating_add(rows) {
            for k in 0..columns {
                let c = col
                    .saturating_sub(half)
                    .saturating_add(k)
                    .rem_euclid(self.columns.max(1));
                let Some(list) = self.cells.get(&(r, c)) else {
                    continue;
                };
                for &m in list {
                    let Some(&(_, vlat, vlon)) = self.at.get(&m) else {
                        continue;
                    };
                    let d = Haversine.distance(here, Point::new(vlon, vlat));
                    if d <= radius_m {
                        out.push((m, d));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Every vessel within the radius by a walk over all of them: the oracle.
    fn brute(all: &FxHashMap<u32, (f64, f64)>, lat: f64, lon: f64, r: f64) -> Vec<u32> {
        let here = Point::new(lon, lat);
        let mut v: Vec<u32> = all
            .iter()
            .filter(|(_, (a, o))| Haversine.distance(here, Point::new(*o, *a)) <= r)
            .map(|(m, _)| *m)
            .collect();
        v.sort_unstable();
        v
    }

    fn found(n: &Neighbours, lat: f64, lon: f64, r: f64) -> Vec<u32> {
        let mut out = Vec::new();
        n.within(lat, lon, r, &mut out);
        let mut v: Vec<u32> = out.into_iter().map(|(m, _)| m).collect();
        v.sort_unstable();
        v
    }

    #[test]
    fn pairs_across_the_antimeridian_and_near_a_pole_are_found() {
        let mut n = Neighbours::new(1_000.0);
        // 222 m apart across ±180°.
        n.update(1, 10.0, 179.999);
        n.update(2, 10.0, -179.999);
        assert_eq!(found(&n, 10.0, 179.999, 500.0), vec![1, 2]);
        // Near the pole a degree of longitude is metres: a whole ring of columns is in reach.
        n.update(3, 89.999, 0.0);
        n.update(4, 89.999, 170.0);
        assert_eq!(found(&n, 89.999, 0.0, 500.0), vec![3, 4]);
        // Moving out of reach, and being forgotten, take a vessel out of the answers.
        n.update(2, 10.0, -179.9);
        assert_eq!(found(&n, 10.0, 179.999, 500.0), vec![1]);
        n.remove(4);
        assert_eq!(found(&n, 89.999, 0.0, 500.0), vec![3]);
        assert_eq!(n.len(), 3);
        // Nonsense positions place nothing, and queries with nonsense find nothing.
        n.update(5, f64::NAN, 0.0);
        n.update(3, 91.0, 0.0);
        assert_eq!(n.len(), 2);
        assert_eq!(n.position(3), None);
        assert!(found(&n, f64::INFINITY, 0.0, 500.0).is_empty());
        assert!(found(&n, 10.0, 179.999, -1.0).is_empty());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the moves, the grid answers as the walk over every vessel does: the same
        /// vessels within the radius, at latitudes up to the poles and across the antimeridian.
        #[test]
        fn the_grid_finds_what_a_walk_finds(
            cell_m in 200.0f64..20_000.0,
            moves in prop::collection::vec(
                (0u32..300, -89.99f64..89.99, -180.0f64..180.0, 0.0f64..1.0), 1..600),
            queries in prop::collection::vec(
                (0usize..600, 0.0f64..30_000.0), 1..40),
        ) {
            let mut n = Neighbours::new(cell_m);
            let mut all: FxHashMap<u32, (f64, f64)> = FxHashMap::default();
            // Clustered: each move lands near the previous one often, so radii catch neighbours.
            let mut last = (0.0, 0.0);
            for &(m, lat, lon, near) in &moves {
                let (lat, lon) = if near < 0.6 {
                    ((last.0 + (lat / 9000.0)).clamp(-89.99, 89.99), last.1 + lon / 9000.0)
                } else {
                    (lat, lon)
                };
                let lon = (lon + 180.0).rem_euclid(360.0) - 180.0;
                last = (lat, lon);
                if near > 0.97 {
                    n.remove(m);
                    all.remove(&m);
                } else {
                    n.update(m, lat, lon);
                    all.insert(m, (lat, lon));
                }
            }
            prop_assert_eq!(n.len(), all.len());
            for &(i, r) in &queries {
                let (_, lat, lon, _) = moves[i % moves.len()];
                prop_assert_eq!(found(&n, lat, lon, r), brute(&all, lat, lon, r));
                prop_assert_eq!(found(&n, last.0, last.1, r), brute(&all, last.0, last.1, r));
            }
        }
    }
}
