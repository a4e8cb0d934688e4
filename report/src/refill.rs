//! The measured refill curve (refill.wN: cycles to walk N pages after a
//! full flush, minus without) and reading it at any working-set size.

use crate::ids::{self, Kind};
use crate::machine::Machine;

/// How a value was read off the curve; printed next to sizing figures so
/// nobody mistakes a guess for a measurement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Measured,
    Interpolated,
    /// Past the largest measured size: the last segment's per-page slope.
    Extrapolated,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Curve {
    /// (pages, delta median cycles), ascending pages, pages > 0.
    pub points: Vec<(u64, f64)>,
}

impl Curve {
    pub fn of(m: &Machine) -> Curve {
        let mut points: Vec<(u64, f64)> = m
            .experiments
            .values()
            .filter_map(|e| match ids::kind(e) {
                Kind::Refill(p) if p > 0 => Some((p, e.headline_cycles())),
                _ => None,
            })
            .filter(|(_, c)| c.is_finite())
            .collect();
        points.sort_by_key(|p| p.0);
        Curve { points }
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Refill cycles for `pages`: exact at a measured size, linear between
    /// sizes (and from 0 cycles at 0 pages), extrapolated past the end.
    /// None when nothing was measured. Negative readings (noise around
    /// zero) count as zero: a flush never makes the walk faster.
    pub fn at(&self, pages: u64) -> Option<(f64, Read)> {
        if pages == 0 {
            return Some((0.0, Read::Measured));
        }
        let pts = &self.points;
        let last = *pts.last()?;
        if let Some(p) = pts.iter().find(|p| p.0 == pages) {
            return Some((p.1.max(0.0), Read::Measured));
        }
        let x = pages as f64;
        if pages > last.0 {
            let (x0, y0) = if pts.len() >= 2 {
                pts[pts.len() - 2]
            } else {
                (0, 0.0)
            };
            let slope = (last.1 - y0) / (last.0 - x0) as f64;
            return Some((
                (last.1 + slope * (x - last.0 as f64)).max(0.0),
                Read::Extrapolated,
            ));
        }
        let mut prev = (0u64, 0.0f64);
        for &p in pts {
            if p.0 > pages {
                let t = (x - prev.0 as f64) / (p.0 - prev.0) as f64;
                return Some(((prev.1 + t * (p.1 - prev.1)).max(0.0), Read::Interpolated));
            }
            prev = p;
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads() {
        let c = Curve {
            points: vec![(8, 80.0), (64, 640.0), (256, 4480.0)],
        };
        assert_eq!(c.at(0), Some((0.0, Read::Measured)));
        assert_eq!(c.at(64), Some((640.0, Read::Measured)));
        assert_eq!(c.at(4), Some((40.0, Read::Interpolated)));
        assert_eq!(c.at(160), Some((2560.0, Read::Interpolated)));
        assert_eq!(c.at(512), Some((9600.0, Read::Extrapolated)));
        assert_eq!(Curve { points: vec![] }.at(5), None);
        assert_eq!(
            Curve {
                points: vec![(10, 100.0)]
            }
            .at(20),
            Some((200.0, Read::Extrapolated))
        );
    }
}
