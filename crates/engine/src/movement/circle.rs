//! Circle spoofing: positions that run round a circle more precisely than any real ship can.
//!
//! Spoofed AIS positions written by software have been found laid out on exact circles
//! (SkyTruth and Global Fishing Watch, 2019–2021: ships shown circling off ports they were not
//! near). A real ship turning in circles has a GPS error of metres and a helmsman; a generated
//! track sits on its circle to the rounding of AIS positions (1/10,000 minute, about 0.19 m).
//! So: the last [`RECENT`] fixes of a monitored vessel kept at least [`MIN_STEP_M`] apart (a fix
//! nearer the last kept one is skipped, so that the ring spans an arc whatever the reporting
//! rate), fitted with a circle (Kåsa's algebraic least squares on a local plane), are circle
//! spoofing when they lie within [`MAX_RMS_M`] of it (root mean square), on a radius between
//! [`MIN_RADIUS_M`] and [`MAX_RADIUS_M`], all turning the same way and sweeping at least 30°
//! (an arc, not a line: a 2 km circle bends 70 m from its chord over 30°). A real GPS with an
//! error of a metre leaves a residual near a metre, and no helmsman holds a turn that exact; a
//! ship with centimetre (RTK) positioning in a steady turn would pass for spoofing, and is rare
//! on AIS. With fixes kept 500 m apart, circles up to about 7 km round are seen.

use super::Engine;
use crate::neighbours::local_m;
use crate::tracker::Fix;
use vesselwatch_ais::time::UnixMillis;

/// Fixes kept per monitored vessel for the fit.
pub(super) const RECENT: usize = 8;
/// The largest root-mean-square distance of the fixes from the fitted circle: about four times
/// what the rounding of AIS positions leaves (0.08 m), a third of a good differential GPS's error.
const MAX_RMS_M: f64 = 0.3;
/// Circles smaller than this are a ship's turning circle or a stopped ship's wander.
const MIN_RADIUS_M: f64 = 200.0;
/// Larger than this, a few fixes on a long arc cannot tell a circle from a slow turn.
const MAX_RADIUS_M: f64 = 20_000.0;
/// A fix closer than this to the last one kept is skipped: eight fixes then span an arc of at
/// least 3.5 km, whatever the reporting rate.
const MIN_STEP_M: f64 = 500.0;
/// The least arc the fixes must sweep.
const MIN_SWEEP: f64 = std::f64::consts::PI / 6.0;

/// The latest fixes kept of one vessel (time, latitude, longitude). The first is kept inline;
/// the ring of [`RECENT`] is allocated only when a second is kept (the vessel has moved 500 m), so
/// a ship lying still, most of any fleet, costs 32 bytes here, not 200.
#[derive(Debug, Clone, Default)]
pub(super) struct Recent {
    first: Option<(i64, f64, f64)>,
    ring: Option<Box<Ring>>,
}

/// The ring: oldest first once full.
#[derive(Debug, Clone, Default)]
struct Ring {
    fixes: [(i64, f64, f64); RECENT],
    len: usize,
    next: usize,
}

impl Ring {
    fn push(&mut self, f: (i64, f64, f64)) {
        if let Some(slot) = self.fixes.get_mut(self.next) {
            *slot = f;
        }
        self.next = self.next.saturating_add(1) % RECENT;
        self.len = self.len.saturating_add(1).min(RECENT);
    }

    fn last(&self) -> Option<(i64, f64, f64)> {
        let i = self.next.checked_sub(1).unwrap_or(RECENT.saturating_sub(1));
        self.fixes.get(i).copied().filter(|_| self.len > 0)
    }
}

impl Recent {
    /// Keeps `fix` if it is at least [`MIN_STEP_M`] from the last one kept; whether it did.
    fn push(&mut self, fix: &Fix) -> bool {
        let last = match &self.ring {
            Some(r) => r.last(),
            None => self.first,
        };
        if let Some((_, lat, lon)) = last {
            let (east, north) = local_m((lat, lon), (fix.lat, fix.lon));
            if east.hypot(north) < MIN_STEP_M {
                return false;
            }
        }
        let f = (fix.time.0, fix.lat, fix.lon);
        match (&mut self.ring, self.first.take()) {
            (Some(r), _) => r.push(f),
            (None, None) => self.first = Some(f),
            (None, Some(first)) => {
                let mut r = Box::<Ring>::default();
                r.push(first);
                r.push(f);
                self.ring = Some(r);
            }
        }
        true
    }

    fn len(&self) -> usize {
        match &self.ring {
            Some(r) => r.len,
            None => usize::from(self.first.is_some()),
        }
    }

    /// Oldest first.
    fn in_order(&self) -> impl Iterator<Item = (i64, f64, f64)> + '_ {
        let (start, len) = match &self.ring {
            Some(r) if r.len >= RECENT => (r.next, r.len),
            Some(r) => (0, r.len),
            None => (0, 0),
        };
        let ring = self.ring.as_deref();
        self.first.into_iter().chain(
            (0..len)
                .filter_map(move |i| ring?.fixes.get(start.saturating_add(i) % RECENT).copied()),
        )
    }

    /// Forgets the fixes, so that one circle is one finding, not one per fix that follows.
    fn clear(&mut self) {
        self.first = None;
        self.ring = None;
    }
}

/// Whether these fixes (latitude, longitude) lie on a circle as only software puts them.
pub(super) fn on_a_circle(fixes: &[(f64, f64)]) -> bool {
    let Some(&(lat0, lon0)) = fixes.first() else {
        return false;
    };
    if fixes.len() < RECENT {
        return false;
    }
    let mut pts = [(0.0, 0.0); RECENT];
    for (p, &at) in pts.iter_mut().zip(fixes) {
        *p = local_m((lat0, lon0), at);
    }
    // Kåsa: x² + y² + D x + E y + F = 0 by least squares; normal equations solved by Cramer.
    let (mut sxx, mut sxy, mut syy, mut sx, mut sy) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (mut sxz, mut syz, mut sz) = (0.0, 0.0, 0.0);
    let n = pts.len() as f64;
    for &(x, y) in &pts {
        let z = x * x + y * y;
        sxx += x * x;
        sxy += x * y;
        syy += y * y;
        sx += x;
        sy += y;
        sxz += x * z;
        syz += y * z;
        sz += z;
    }
    let m = [[sxx, sxy, sx], [sxy, syy, sy], [sx, sy, n]];
    let rhs = [-sxz, -syz, -sz];
    let det = |a: [[f64; 3]; 3]| {
        a[0][0] * (a[1][1] * a[2][2] - a[1][2] * a[2][1])
            - a[0][1] * (a[1][0] * a[2][2] - a[1][2] * a[2][0])
            + a[0][2] * (a[1][0] * a[2][1] - a[1][1] * a[2][0])
    };
    let d0 = det(m);
    if d0.abs() < 1e-9 {
        return false;
    }
    let solve = |col: usize| {
        let mut a = m;
        for (row, r) in a.iter_mut().zip(rhs) {
            if let Some(v) = row.get_mut(col) {
                *v = r;
            }
        }
        det(a) / d0
    };
    let (d, e, f) = (solve(0), solve(1), solve(2));
    let (cx, cy) = (-d / 2.0, -e / 2.0);
    let r2 = cx * cx + cy * cy - f;
    if !(r2.is_finite() && r2 > 0.0) {
        return false;
    }
    let r = r2.sqrt();
    if !(MIN_RADIUS_M..=MAX_RADIUS_M).contains(&r) {
        return false;
    }
    let rms = (pts
        .iter()
        .map(|&(x, y)| ((x - cx).hypot(y - cy) - r).powi(2))
        .sum::<f64>()
        / n)
        .sqrt();
    if rms > MAX_RMS_M {
        return false;
    }
    // Round it one way, over an arc.
    let mut swept = 0.0;
    let mut sign = 0.0;
    for w in pts.windows(2) {
        let [(x1, y1), (x2, y2)] =
            [w.first().copied(), w.get(1).copied()].map(Option::unwrap_or_default);
        let a = (y1 - cy).atan2(x1 - cx);
        let b = (y2 - cy).atan2(x2 - cx);
        let step = (b - a + 3.0 * std::f64::consts::PI).rem_euclid(std::f64::consts::TAU)
            - std::f64::consts::PI;
        if sign == 0.0 {
            sign = step.signum();
        } else if step.signum() != sign {
            return false;
        }
        swept += step.abs();
    }
    swept >= MIN_SWEEP
}

impl Engine {
    /// Keeps `fix` among the vessel's recent ones; when they now lie on a spoofed circle, the
    /// oldest of them (the evidence's other end), and the ring starts again.
    pub(super) fn circling(&mut self, mmsi: u32, fix: &Fix) -> Option<Fix> {
        let m = self.movement.get_mut(&mmsi)?;
        if !m.recent.push(fix) || m.recent.len() < RECENT {
            return None;
        }
        let mut fixes = [(0.0, 0.0); RECENT];
        let mut oldest = None;
        for (slot, (t, lat, lon)) in fixes.iter_mut().zip(m.recent.in_order()) {
            *slot = (lat, lon);
            oldest = oldest.or(Some(Fix {
                time: UnixMillis(t),
                lat,
                lon,
                sog: None,
            }));
        }
        if !on_a_circle(&fixes) {
            return None;
        }
        m.recent.clear();
        oldest
    }
}

#[cfg(test)]
// Tests index their own fixtures; a panic there is a failed test, as it should be.
#[allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]
mod tests {
    use super::*;
    use crate::neighbours::METRES_PER_DEGREE as M_PER_DEG;

    /// Points on a circle of `r` metres round (34°N, 30°E), `step` degrees apart, each moved
    /// by `noise(i)` metres north and east, rounded as AIS rounds positions.
    fn circle(r: f64, step: f64, noise: impl Fn(usize) -> (f64, f64)) -> Vec<(f64, f64)> {
        let cos = 34f64.to_radians().cos();
        (0..RECENT)
            .map(|i| {
                let a = (i as f64 * step).to_radians();
                let (n, e) = noise(i);
                let lat = 34.0 + (r * a.sin() + n) / M_PER_DEG;
                let lon = 30.0 + (r * a.cos() + e) / (M_PER_DEG * cos);
                let q = |d: f64| (d * 600_000.0).round() / 600_000.0;
                (q(lat), q(lon))
            })
            .collect()
    }

    #[test]
    fn an_exact_circle_is_spoofing_and_real_tracks_are_not() {
        // Generated: 2 km round, 30° between kept fixes (210° over eight): spoofing.
        assert!(on_a_circle(&circle(2000.0, 30.0, |_| (0.0, 0.0))));
        // The other way round too.
        assert!(on_a_circle(&circle(2000.0, -30.0, |_| (0.0, 0.0))));
        // An arc of 31.5° (4.5° between eight fixes) is enough...
        assert!(on_a_circle(&circle(2000.0, 4.5, |_| (0.0, 0.0))));
        // ...28° is not.
        assert!(!on_a_circle(&circle(2000.0, 4.0, |_| (0.0, 0.0))));
        // A real ship turning the same circle with a metre of GPS error: not.
        let wobble = |i: usize| ((i as f64 * 1.7).sin(), (i as f64 * 2.3).cos());
        assert!(!on_a_circle(&circle(2000.0, 30.0, wobble)));
        // A turning circle of 150 m: a ship can do that.
        assert!(!on_a_circle(&circle(150.0, 30.0, |_| (0.0, 0.0))));
        // A straight line: no circle.
        let line: Vec<(f64, f64)> = (0..RECENT)
            .map(|i| (34.0, 30.0 + i as f64 * 0.01))
            .collect();
        assert!(!on_a_circle(&line));
        // Too few fixes.
        assert!(!on_a_circle(
            &circle(2000.0, 30.0, |_| (0.0, 0.0))[..RECENT - 1]
        ));
    }
}
