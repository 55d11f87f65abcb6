//! Who is near whom: every vessel's latest position in a grid, for the detections that look at
//! pairs of ships (encounters at sea, issue 13).
//!
//! Owns the spatial index of latest positions. A uniform grid over latitude and longitude, cells
//! of a fixed size in degrees, each holding the MMSIs whose latest fix lies in it; a fix moves its
//! vessel between cells in place. A query for the vessels within a radius looks only at the cells
//! the radius can reach, so its cost follows the neighbourhood, not the fleet. Hand-written rather
//! than `rstar`: an R-tree is rebuilt or rebalanced as points move, and here every fix moves one.
//!
//! Memory: a vessel is one 32-byte slot in its cell's list; a cell is a map entry and a list
//! (about 40 bytes more); an empty cell is removed. Measured with the whole engine by
//! `benches/encounters.sh`.
//! Pure: no I/O, no clock.

// Input path: every fix goes through it (ARCHITECTURE.md, invariants).
#![deny(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

use geo::{Distance, Haversine, Point};
use rustc_hash::FxHashMap;
use smallvec::SmallVec;

/// Metres in a degree of latitude (and of longitude at the equator) on the mean Earth sphere
/// (radius 6,371,008.8 m, as `geo`'s haversine uses).
pub(crate) const METRES_PER_DEGREE: f64 = 6_371_008.8 * std::f64::consts::PI / 180.0;

/// A longitude difference brought into -180..180 degrees (across the antimeridian).
pub(crate) fn wrap_lon(d: f64) -> f64 {
    (d + 540.0).rem_euclid(360.0) - 180.0
}

/// `to` as metres (east, north) from `from`, both (latitude, longitude), on the plane tangent at
/// `from`: exact enough over the few kilometres the pair and circle rules measure, and cheaper
/// than a haversine on the per-fix path.
pub(crate) fn local_m(from: (f64, f64), to: (f64, f64)) -> (f64, f64) {
    (
        wrap_lon(to.1 - from.1) * METRES_PER_DEGREE * from.0.to_radians().cos(),
        (to.0 - from.0) * METRES_PER_DEGREE,
    )
}

/// A cell: its row (latitude) and column (longitude).
type Cell = (i32, i32);

/// One vessel in its cell: where it is, and where and when it last looked for neighbours (kept
/// by the user with it, so that a fix costs one lookup, not two).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slot {
    /// The vessel.
    pub mmsi: u32,
    /// Latitude of its latest position.
    pub lat: f64,
    /// Longitude of its latest position.
    pub lon: f64,
    /// Where and when (ms) it last looked for neighbours (kept by the user), when it has.
    pub looked: Option<(f32, f32, i64)>,
}

/// The latest position of every vessel placed, by grid cell.
///
/// There is no map from vessel to cell: the caller says where it placed the vessel last (its
/// previous fix, which the tracker hands over with each new one), and the cell follows from
/// that. A map would cost a cache miss per fix at a hundred thousand vessels, as much as the
/// rest of the grid's work.
#[derive(Debug, Clone)]
pub struct Neighbours {
    /// The side of a cell in degrees (of latitude; the same number of degrees of longitude).
    cell_deg: f64,
    /// Columns around the world: a longitude's column wraps at the antimeridian.
    columns: i32,
    /// Each cell's vessels: a query reads positions from the cells it visits. Two slots live in
    /// the map's own entry (most occupied cells hold one or two vessels), so a fix costs one
    /// cache miss, not two (`smallvec`: a list that spills to the heap only when it must).
    cells: FxHashMap<Cell, SmallVec<[Slot; 2]>>,
    placed: usize,
}

impl Neighbours {
    /// An empty index with cells about `cell_m` metres high (narrower towards the poles). Twice
    /// the radius of the usual query is right: a disc of that radius then touches two rows of
    /// cells and two or three columns below 60° of latitude.
    pub fn new(cell_m: f64) -> Self {
        // At least 0.001° (110 m) and at most 10°: a cell count that fits an i32 whatever is asked.
        let cell_deg = (cell_m / METRES_PER_DEGREE).clamp(0.001, 10.0);
        Self {
            cell_deg,
            columns: (360.0 / cell_deg).ceil() as i32,
            cells: FxHashMap::default(),
            placed: 0,
        }
    }

    /// Vessels placed.
    pub fn len(&self) -> usize {
        self.placed
    }

    /// Whether no vessel is placed.
    pub fn is_empty(&self) -> bool {
        self.placed == 0
    }

    fn row(&self, lat: f64) -> i32 {
        (lat.clamp(-90.0, 90.0) / self.cell_deg).floor() as i32
    }

    fn cell(&self, lat: f64, lon: f64) -> Option<Cell> {
        if !(lat.is_finite() && lon.is_finite() && (-90.0..=90.0).contains(&lat)) {
            return None;
        }
        let col = ((lon.rem_euclid(360.0)) / self.cell_deg).floor() as i32;
        Some((self.row(lat), col.rem_euclid(self.columns.max(1))))
    }

    /// The slot of `mmsi`, placed last at `at`.
    pub fn slot_mut(&mut self, mmsi: u32, at: (f64, f64)) -> Option<&mut Slot> {
        let cell = self.cell(at.0, at.1)?;
        self.cells
            .get_mut(&cell)?
            .iter_mut()
            .find(|s| s.mmsi == mmsi)
    }

    /// Places `mmsi` at its new latest position, moving it from where it was placed last
    /// (`from`; `None` for a vessel not placed yet); its slot. A position off the globe (not
    /// finite, or latitude beyond ±90°) removes it: it is nowhere known.
    pub fn update(
        &mut self,
        mmsi: u32,
        from: Option<(f64, f64)>,
        lat: f64,
        lon: f64,
    ) -> Option<&mut Slot> {
        let old = from.and_then(|(a, o)| self.cell(a, o));
        let Some(cell) = self.cell(lat, lon) else {
            if let Some(from) = from {
                self.remove(mmsi, from);
            }
            return None;
        };
        let mut kept = Slot {
            mmsi,
            lat,
            lon,
            looked: None,
        };
        if let Some(old) = old {
            if old == cell {
                let found = self
                    .cells
                    .get(&cell)
                    .and_then(|l| l.iter().position(|s| s.mmsi == mmsi));
                if let Some(i) = found {
                    let slot = self.cells.get_mut(&cell).and_then(|l| l.get_mut(i))?;
                    slot.lat = lat;
                    slot.lon = lon;
                    return Some(slot);
                }
            } else if let Some(s) = self.take_from(old, mmsi) {
                kept = Slot { lat, lon, ..s };
            }
        }
        self.placed = self.placed.saturating_add(1);
        let list = self.cells.entry(cell).or_default();
        list.push(kept);
        list.last_mut()
    }

    /// Forgets `mmsi`, placed last at `at` (a vessel forgotten by the tracker).
    pub fn remove(&mut self, mmsi: u32, at: (f64, f64)) {
        if let Some(cell) = self.cell(at.0, at.1) {
            self.take_from(cell, mmsi);
        }
    }

    fn take_from(&mut self, cell: Cell, mmsi: u32) -> Option<Slot> {
        let list = self.cells.get_mut(&cell)?;
        let i = list.iter().position(|s| s.mmsi == mmsi)?;
        let s = list.swap_remove(i);
        if list.is_empty() {
            self.cells.remove(&cell);
        }
        self.placed = self.placed.saturating_sub(1);
        Some(s)
    }

    /// Every vessel within `radius_m` metres (haversine) of `(lat, lon)`, with its distance, in
    /// no particular order, into `out` (cleared first). Reads only the cells that the disc's
    /// bounding box overlaps.
    pub fn within(&self, lat: f64, lon: f64, radius_m: f64, out: &mut Vec<(u32, f64)>) {
        out.clear();
        if !(lat.is_finite() && lon.is_finite() && radius_m.is_finite() && radius_m >= 0.0) {
            return;
        }
        let here = Point::new(lon, lat);
        let dlat = radius_m / METRES_PER_DEGREE;
        let (row_lo, row_hi) = (self.row(lat - dlat), self.row(lat + dlat));
        // Longitude degrees shrink with the cosine of the latitude: at the edge of the disc
        // nearest a pole they are shortest, so its widest span of longitude is there. A disc
        // that reaches a pole, or spans half the world, takes every column.
        let columns = self.columns.max(1);
        let edge = (lat.abs() + dlat).min(90.0);
        let cos = edge.to_radians().cos();
        let (col_lo, count) = if cos * METRES_PER_DEGREE * 180.0 <= radius_m || cos < 1e-9 {
            (0, columns)
        } else {
            let dlon = radius_m / (METRES_PER_DEGREE * cos);
            let base = lon.rem_euclid(360.0);
            let a = ((base - dlon) / self.cell_deg).floor() as i32;
            let b = ((base + dlon) / self.cell_deg).floor() as i32;
            (a, b.saturating_sub(a).saturating_add(1).min(columns))
        };
        for r in row_lo..=row_hi {
            for k in 0..count {
                let c = col_lo.saturating_add(k).rem_euclid(columns);
                let Some(list) = self.cells.get(&(r, c)) else {
                    continue;
                };
                for s in list {
                    let d = Haversine.distance(here, Point::new(s.lon, s.lat));
                    if d <= radius_m {
                        out.push((s.mmsi, d));
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
        n.update(1, None, 10.0, 179.999);
        n.update(2, None, 10.0, -179.999);
        assert_eq!(found(&n, 10.0, 179.999, 500.0), vec![1, 2]);
        // Near the pole a degree of longitude is metres: a whole ring of columns is in reach.
        n.update(3, None, 89.999, 0.0);
        n.update(4, None, 89.999, 170.0);
        assert_eq!(found(&n, 89.999, 0.0, 500.0), vec![3, 4]);
        // Moving out of reach, and being forgotten, take a vessel out of the answers.
        n.update(2, Some((10.0, -179.999)), 10.0, -179.9);
        assert_eq!(found(&n, 10.0, 179.999, 500.0), vec![1]);
        n.remove(4, (89.999, 170.0));
        assert_eq!(found(&n, 89.999, 0.0, 500.0), vec![3]);
        assert_eq!(n.len(), 3);
        // What a slot keeps moves with it to a new cell.
        n.slot_mut(1, (10.0, 179.999)).unwrap().looked = Some((10.0, 179.999, 7));
        let moved = *n.update(1, Some((10.0, 179.999)), 10.5, 179.0).unwrap();
        assert_eq!(
            (moved.looked, moved.lat, moved.lon),
            (Some((10.0, 179.999, 7)), 10.5, 179.0)
        );
        // Nonsense positions place nothing, and queries with nonsense find nothing.
        assert!(n.update(5, None, f64::NAN, 0.0).is_none());
        assert!(n.update(3, Some((89.999, 0.0)), 91.0, 0.0).is_none());
        assert_eq!(n.len(), 2);
        assert!(n.slot_mut(3, (89.999, 0.0)).is_none());
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
                // The caller says where it placed the vessel last: the walk's own record.
                let from = all.get(&m).copied();
                if near > 0.97 {
                    if let Some(from) = from {
                        n.remove(m, from);
                    }
                    all.remove(&m);
                } else {
                    n.update(m, from, lat, lon);
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
