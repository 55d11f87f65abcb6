//! Geofences: compiled fence geometry and the spatial index over it.
//!
//! Owns turning `[[fences]]` into geometry (circles, GeoJSON polygons, gate lines) and answering, per
//! fix, "which fences is this point near, and how far outside each is it?". An R-tree over each
//! fence's box, widened by its reach (exit margin or approach zone), makes a vessel far from every
//! fence cost one tree lookup. A GeoJSON fence also carries its rings' edges in R-trees
//! ([`prepared`]), so a fix near it costs O(log n) in its vertices, not a walk over all of them.
//! Pure: no I/O after building (building reads GeoJSON through the config).

mod prepared;
#[cfg(test)]
mod test_shapes;

use std::sync::Arc;

use geo::{
    CoordsIter, Distance, Haversine, Line, MultiPolygon, Point, Polygon,
    line_intersection::{LineIntersection, line_intersection},
};
use rstar::primitives::{GeomWithData, Rectangle};
use rstar::{AABB, RTree};

use crate::settings::{FenceConfig, Invalid, invalid};
pub use crate::vocab::Direction;
use crate::vocab::FenceKind;

/// Default hysteresis: how far outside a fence a vessel must be before it has left.
pub const DEFAULT_EXIT_MARGIN_KM: f64 = 0.5;
/// Default approach zone around a port.
pub const DEFAULT_APPROACH_KM: f64 = 25.0;
const KM_PER_DEG_LAT: f64 = 111.2;

/// The shape of a fence.
#[derive(Debug, Clone)]
pub enum Shape {
    /// A circle on the sphere.
    Circle {
        /// Centre (x = lon, y = lat).
        center: Point,
        /// Radius in metres.
        radius_m: f64,
    },
    /// One or more polygons (lon/lat).
    Polygons(MultiPolygon),
    /// A gate line (lon/lat).
    Gate(Line),
}

/// A compiled fence. Made by [`Fence::new`], which prepares a polygon's index; the shape is
/// read-only after that (`shape()`) so that the index always describes it.
#[derive(Debug, Clone)]
pub struct Fence {
    /// Index in the configuration, stable for the life of the config.
    pub id: usize,
    /// Its unique name.
    pub name: String,
    /// What it stands for.
    pub kind: FenceKind,
    /// Its geometry.
    shape: Shape,
    /// The index over a polygon fence's rings, shared by clones of a fence set.
    prepared: Option<Arc<prepared::Prepared>>,
    /// Hysteresis in metres.
    pub exit_margin_m: f64,
    /// Approach zone in metres (ports; 0 for other kinds).
    pub approach_m: f64,
    /// Time inside before an arrival counts.
    pub min_dwell_ms: Option<i64>,
}

/// Where a point lies relative to an area fence.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    /// Inside the fence.
    Inside,
    /// Outside, but within the exit margin: changes nothing.
    Band {
        /// Metres outside the fence boundary.
        distance_m: f64,
    },
    /// Beyond the exit margin.
    Outside {
        /// Metres outside the fence boundary.
        distance_m: f64,
    },
}

impl Fence {
    /// Compiles a fence; a polygon fence's rings are indexed here, once (O(n log n) in its
    /// vertices, about 250 bytes a vertex), so that every later lookup is O(log n).
    pub fn new(
        id: usize,
        name: String,
        kind: FenceKind,
        shape: Shape,
        exit_margin_m: f64,
        approach_m: f64,
        min_dwell_ms: Option<i64>,
    ) -> Self {
        let prepared = match &shape {
            Shape::Polygons(mp) => Some(Arc::new(prepared::Prepared::new(mp))),
            Shape::Circle { .. } | Shape::Gate(_) => None,
        };
        Self {
            id,
            name,
            kind,
            shape,
            prepared,
            exit_margin_m,
            approach_m,
            min_dwell_ms,
        }
    }

    /// Its geometry. Read-only: the polygon index was built from it.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// How many positions its geometry has (every ring's, closing ones included, as in the
    /// GeoJSON; 0 for a circle, 2 for a gate): what building and memory scale with, and what
    /// `check-config` warns about.
    pub fn vertex_count(&self) -> usize {
        match &self.shape {
            Shape::Circle { .. } => 0,
            Shape::Polygons(mp) => mp.coords_count(),
            Shape::Gate(_) => 2,
        }
    }

    fn polygons(&self) -> &prepared::Prepared {
        self.prepared
            .as_deref()
            .expect("Fence::new prepares every polygon fence")
    }

    /// Whether `p` is inside: for a polygon fence one O(log n) containment test, without the
    /// distance `zone` also works out (what a check that is nearly always "outside" wants).
    pub fn contains(&self, p: Point) -> bool {
        match &self.shape {
            Shape::Circle { center, radius_m } => Haversine.distance(*center, p) <= *radius_m,
            Shape::Polygons(_) => self.polygons().contains(p.0),
            Shape::Gate(_) => false,
        }
    }

    /// Metres from `p` to the fence when outside, 0 when inside. Gates are never "inside". For a
    /// polygon fence, equal to `geo`'s `Contains` and `HaversineClosestPoint` over every ring
    /// (see [`prepared`] for the one rounding exception), in O(log n).
    pub fn distance_outside_m(&self, p: Point) -> f64 {
        match &self.shape {
            Shape::Circle { center, radius_m } => {
                (Haversine.distance(*center, p) - radius_m).max(0.0)
            }
            Shape::Polygons(_) => {
                let prepared = self.polygons();
                if prepared.contains(p.0) {
                    0.0
                } else {
                    prepared.boundary_distance_m(p.0)
                }
            }
            Shape::Gate(line) => Haversine
                .distance(p, line.start_point())
                .min(Haversine.distance(p, line.end_point())),
        }
    }

    /// Metres from `p` to the fence's boundary, from inside or outside: the weight used to
    /// interpolate when a track crossed it.
    pub fn boundary_distance_m(&self, p: Point) -> f64 {
        match &self.shape {
            Shape::Circle { center, radius_m } => (Haversine.distance(*center, p) - radius_m).abs(),
            Shape::Polygons(_) => self.polygons().boundary_distance_m(p.0),
            Shape::Gate(_) => self.distance_outside_m(p),
        }
    }

    /// Classifies `p` against an area fence (port, anchorage, area).
    pub fn zone(&self, p: Point) -> Zone {
        let d = self.distance_outside_m(p);
        if d <= 0.0 {
            Zone::Inside
        } else if d <= self.exit_margin_m {
            Zone::Band { distance_m: d }
        } else {
            Zone::Outside { distance_m: d }
        }
    }

    /// How far around the fence it must be consulted: the approach zone or the exit margin.
    fn reach_m(&self) -> f64 {
        self.exit_margin_m.max(self.approach_m)
    }
}

type Indexed = GeomWithData<Rectangle<[f64; 2]>, usize>;

/// All fences, with a spatial index.
#[derive(Debug, Clone, Default)]
pub struct FenceSet {
    fences: Vec<Fence>,
    areas: RTree<Indexed>,
    gates: RTree<Indexed>,
}

fn polygon_from(rings: &[Vec<geojson::Position>]) -> Option<Polygon> {
    let ring = |r: &Vec<geojson::Position>| -> Option<geo::LineString> {
        r.iter()
            .map(|p| (p.len() >= 2).then(|| geo::Coord { x: p[0], y: p[1] }))
            .collect::<Option<Vec<_>>>()
            .map(geo::LineString::new)
    };
    let mut it = rings.iter();
    let exterior = ring(it.next()?)?;
    let holes = it.map(ring).collect::<Option<Vec<_>>>()?;
    (exterior.0.len() >= 4).then(|| Polygon::new(exterior, holes))
}

/// Reads a GeoJSON Polygon or MultiPolygon (bare, in a Feature, or every feature of a collection);
/// `key` names the setting in errors. Public so that the application reads each file once and
/// hands the parsed geometry to [`FenceSet::build`].
pub fn parse_geojson(text: &str, key: &str) -> Result<MultiPolygon, Invalid> {
    let bad = |why: &str| invalid(key, "GeoJSON", why);
    let gj: geojson::GeoJson = text
        .parse()
        .map_err(|e: geojson::Error| bad(&format!("does not parse: {e}")))?;
    let geometries: Vec<geojson::Geometry> = match gj {
        geojson::GeoJson::Geometry(g) => vec![g],
        geojson::GeoJson::Feature(f) => f.geometry.into_iter().collect(),
        geojson::GeoJson::FeatureCollection(c) => {
            c.features.into_iter().filter_map(|f| f.geometry).collect()
        }
    };
    let mut polys = Vec::new();
    for g in geometries {
        match g.value {
            geojson::GeometryValue::Polygon { coordinates } => polys.push(
                polygon_from(&coordinates)
                    .ok_or_else(|| bad("a polygon ring needs at least 4 positions"))?,
            ),
            geojson::GeometryValue::MultiPolygon { coordinates } => {
                for p in &coordinates {
                    polys.push(
                        polygon_from(p)
                            .ok_or_else(|| bad("a polygon ring needs at least 4 positions"))?,
                    );
                }
            }
            _ => return Err(bad("must be a Polygon or MultiPolygon")),
        }
    }
    if polys.is_empty() {
        return Err(bad("holds no polygon"));
    }
    for p in &polys {
        for c in p.exterior().coords() {
            if !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y) {
                return Err(bad("coordinates must be [lon, lat] within ±180/±90"));
            }
        }
    }
    Ok(MultiPolygon::new(polys))
}

fn bbox(shape: &Shape) -> ([f64; 2], [f64; 2]) {
    use geo::BoundingRect;
    match shape {
        Shape::Circle { center, radius_m } => {
            let dlat = radius_m / 1000.0 / KM_PER_DEG_LAT;
            let dlon = dlat / center.y().to_radians().cos().max(0.01);
            (
                [center.x() - dlon, center.y() - dlat],
                [center.x() + dlon, center.y() + dlat],
            )
        }
        Shape::Polygons(mp) => {
            let r = mp.bounding_rect().expect("validated non-empty");
            ([r.min().x, r.min().y], [r.max().x, r.max().y])
        }
        Shape::Gate(l) => {
            let r = l.bounding_rect();
            ([r.min().x, r.min().y], [r.max().x, r.max().y])
        }
    }
}

impl FenceSet {
    /// Compiles validated `[[fences]]`; `polygons[i]` is the parsed GeoJSON of fence `i` when it
    /// names one ([`parse_geojson`]). Reading the files is the caller's job, so building does no
    /// I/O.
    pub fn build(
        configs: &[FenceConfig],
        mut polygons: Vec<Option<MultiPolygon>>,
    ) -> Result<Self, Invalid> {
        if polygons.len() != configs.len() {
            return Err(invalid(
                "fences",
                format!("{} geometries for {} fences", polygons.len(), configs.len()),
                "one entry per fence",
            ));
        }
        let mut fences = Vec::with_capacity(configs.len());
        for (id, f) in configs.iter().enumerate() {
            let shape = if let (Some(c), Some(r)) = (f.center, f.radius_km) {
                Shape::Circle {
                    center: Point::new(c.lon, c.lat),
                    radius_m: r * 1000.0,
                }
            } else if f.geojson.is_some() {
                Shape::Polygons(polygons[id].take().ok_or_else(|| {
                    invalid(
                        format!("fences[{id}].geojson"),
                        "not loaded",
                        "the GeoJSON must be parsed",
                    )
                })?)
            } else if let Some(line) = &f.line {
                Shape::Gate(Line::new(
                    geo::Coord {
                        x: line[0].lon,
                        y: line[0].lat,
                    },
                    geo::Coord {
                        x: line[1].lon,
                        y: line[1].lat,
                    },
                ))
            } else {
                return Err(invalid(
                    format!("fences[{id}]"),
                    "no geometry",
                    "a fence needs exactly one of `center` (with `radius_km`), `geojson` or `line`",
                ));
            };
            fences.push(Fence::new(
                id,
                f.name.clone(),
                f.kind,
                shape,
                f.exit_margin_km.unwrap_or(DEFAULT_EXIT_MARGIN_KM) * 1000.0,
                match f.kind {
                    FenceKind::Port => f.approach_km.unwrap_or(DEFAULT_APPROACH_KM) * 1000.0,
                    _ => 0.0,
                },
                f.min_dwell.map(|d| d.millis()),
            ));
        }
        Ok(Self::from_fences(fences))
    }

    /// Indexes already compiled fences (also used by benchmarks to add many).
    pub fn from_fences(fences: Vec<Fence>) -> Self {
        let mut areas = Vec::new();
        let mut gates = Vec::new();
        for f in &fences {
            let (mut lo, mut hi) = bbox(&f.shape);
            let km = f.reach_m() / 1000.0;
            let dlat = km / KM_PER_DEG_LAT;
            let dlon = dlat / lo[1].abs().max(hi[1].abs()).to_radians().cos().max(0.01);
            lo = [lo[0] - dlon, lo[1] - dlat];
            hi = [hi[0] + dlon, hi[1] + dlat];
            let item = GeomWithData::new(Rectangle::from_corners(lo, hi), f.id);
            if f.kind == FenceKind::Gate {
                gates.push(item);
            } else {
                areas.push(item);
            }
        }
        Self {
            fences,
            areas: RTree::bulk_load(areas),
            gates: RTree::bulk_load(gates),
        }
    }

    /// All fences, by id.
    pub fn fences(&self) -> &[Fence] {
        &self.fences
    }

    /// The fence with this id.
    pub fn get(&self, id: usize) -> &Fence {
        &self.fences[id]
    }

    /// Area fences (port, anchorage, area) whose reach contains `p`, in id order.
    pub fn areas_near(&self, p: Point, out: &mut Vec<usize>) {
        out.clear();
        out.extend(
            self.areas
                .locate_all_at_point(&[p.x(), p.y()])
                .map(|g| g.data),
        );
        out.sort_unstable();
    }

    /// Whether `p` is inside a port or anchorage fence or within `metres` of one: where ships lie
    /// side by side as a matter of course, so that two of them close together is no encounter.
    pub fn harbour_within(&self, p: Point, metres: f64) -> bool {
        let dlat = metres / 1000.0 / KM_PER_DEG_LAT;
        let dlon = dlat / p.y().abs().min(89.0).to_radians().cos();
        let env = AABB::from_corners([p.x() - dlon, p.y() - dlat], [p.x() + dlon, p.y() + dlat]);
        self.areas.locate_in_envelope_intersecting(&env).any(|g| {
            let f = &self.fences[g.data];
            matches!(f.kind, FenceKind::Port | FenceKind::Anchorage)
                && f.distance_outside_m(p) <= metres
        })
    }

    /// Gates crossed by the segment `a`→`b`, with the crossing point, in id order.
    pub fn gates_crossed(&self, a: Point, b: Point) -> Vec<(usize, Point)> {
        let env = AABB::from_corners([a.x(), a.y()], [b.x(), b.y()]);
        let seg = Line::new(a.0, b.0);
        let mut out: Vec<(usize, Point)> = self
            .gates
            .locate_in_envelope_intersecting(&env)
            .filter_map(|g| {
                let Shape::Gate(gate) = &self.fences[g.data].shape else {
                    return None;
                };
                match line_intersection(seg, *gate)? {
                    LineIntersection::SinglePoint { intersection, .. } => {
                        Some((g.data, Point(intersection)))
                    }
                    LineIntersection::Collinear { .. } => None,
                }
            })
            .collect();
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }
}

#[cfg(test)]
// The tests read the shipped config and GeoJSON, as a caller would hand them over.
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    /// The fences of the shipped configuration, read as the application reads them.
    pub(crate) fn shipped() -> FenceSet {
        #[derive(serde::Deserialize)]
        struct Fences {
            fences: Vec<FenceConfig>,
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
        let text = std::fs::read_to_string(dir.join("vesselwatch.toml")).unwrap();
        let configs = toml::from_str::<Fences>(&text).unwrap().fences;
        crate::settings::validate_fences(&configs).unwrap();
        let polygons = configs
            .iter()
            .map(|f| {
                f.geojson.as_ref().map(|p| {
                    let text = std::fs::read_to_string(dir.join(p)).unwrap();
                    parse_geojson(&text, "test").unwrap()
                })
            })
            .collect();
        FenceSet::build(&configs, polygons).unwrap()
    }

    fn id(set: &FenceSet, name: &str) -> usize {
        set.fences().iter().find(|f| f.name == name).unwrap().id
    }

    #[test]
    fn tartus_zones_and_index() {
        let set = shipped();
        let naval = set.get(id(&set, "tartus-naval"));
        assert_eq!(naval.zone(Point::new(35.869, 34.901)), Zone::Inside);
        // ~200 m west of the basin's west edge: in the band.
        assert!(matches!(
            naval.zone(Point::new(35.8605, 34.901)),
            Zone::Band { .. }
        ));
        // 5 km offshore: outside, and within the 25 km approach.
        let far = Point::new(35.81, 34.90);
        let Zone::Outside { distance_m } = naval.zone(far) else {
            panic!()
        };
        assert!((4000.0..6000.0).contains(&distance_m), "{distance_m}");
        let mut near = Vec::new();
        set.areas_near(far, &mut near);
        assert!(near.contains(&naval.id));
        // Mid-Atlantic: nothing.
        set.areas_near(Point::new(-30.0, 40.0), &mut near);
        assert!(near.is_empty());
    }

    #[test]
    fn gibraltar_transit_and_direction() {
        let set = shipped();
        let a = Point::new(-5.3, 35.96);
        let b = Point::new(-5.7, 35.95);
        let crossed = set.gates_crossed(a, b);
        assert_eq!(crossed.len(), 1);
        assert_eq!(set.get(crossed[0].0).name, "gibraltar");
        assert_eq!(Direction::of(a, b), Direction::Westbound);
        assert!(set.gates_crossed(a, Point::new(-5.35, 35.96)).is_empty());
    }

    #[test]
    fn geojson_errors_are_clear() {
        let e = parse_geojson(
            r#"{"type":"Point","coordinates":[1,2]}"#,
            "fences[0].geojson",
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "`fences[0].geojson` = GeoJSON: must be a Polygon or MultiPolygon"
        );
    }
}
