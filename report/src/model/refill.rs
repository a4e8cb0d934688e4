//! The measured refill curve (refill.wN: cycles to walk N pages after a
//! full flush, minus without) and reading it at any working-set size.

use crate::model::ids::{self, ExperimentId};
use crate::model::machine::Machine;
use crate::model::schema::{ClockKind, Experiment};
use crate::model::units::TscCycles;

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
    /// (pages, delta median cycles), ascending pages, pages > 0, delta
    /// > 0, inside the TLB's reach: the points sizing may read through.
    pub points: Vec<(u64, f64)>,
    /// The clock of the points: TSC cycles, or core cycles in an older
    /// rdpmc result (which have no ns: `at_tsc` refuses them).
    pub clock: ClockKind,
}

/// The run judged this refill.wN past the TLB's reach (the plain walk
/// misses too): its delta is not a refill cost.
pub fn past_reach(e: &Experiment) -> bool {
    e.params.get("past_tlb_reach").and_then(|v| v.as_bool()) == Some(true)
}

/// Why a measured refill.wN is not a point of the curve, if it is not.
pub fn excluded(e: &Experiment) -> Option<&'static str> {
    let d = e.headline_cycles();
    if !d.is_finite() {
        Some("no figure")
    } else if past_reach(e) {
        Some("past the TLB's reach")
    } else if d <= 0.0 {
        // A flush never makes the walk faster: a non-positive delta is
        // noise, and interpolating through it would bend the curve down.
        Some("not positive")
    } else {
        None
    }
}

impl Curve {
    /// The machine's curve. One run's refill.wN share a clock; should
    /// files of two clocks be merged, the TSC points win (the core-cycle
    /// points are dropped, never mixed in).
    pub fn of(m: &Machine) -> Curve {
        let refills: Vec<&Experiment> = m
            .experiments
            .values()
            .copied()
            .filter(|e| {
                matches!(ids::kind(e), ExperimentId::Refill(p) if p > 0) && excluded(e).is_none()
            })
            .collect();
        let clock = if refills.iter().any(|e| e.clock == ClockKind::Tsc) || refills.is_empty() {
            ClockKind::Tsc
        } else {
            ClockKind::CoreCycles
        };
        let mut points: Vec<(u64, f64)> = refills
            .iter()
            .filter(|e| e.clock == clock)
            .filter_map(|e| match ids::kind(e) {
                ExperimentId::Refill(p) => Some((p, e.headline_cycles())),
                _ => None,
            })
            .collect();
        points.sort_by_key(|p| p.0);
        Curve { points, clock }
    }

    /// `at`, as TSC cycles: None for a core-cycle curve.
    pub fn at_tsc(&self, pages: u64) -> Option<(TscCycles, Read)> {
        if self.clock != ClockKind::Tsc {
            return None;
        }
        self.at(pages).map(|(c, r)| (TscCycles(c), r))
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
            clock: ClockKind::Tsc,
        };
        assert_eq!(c.at(0), Some((0.0, Read::Measured)));
        assert_eq!(c.at(64), Some((640.0, Read::Measured)));
        assert_eq!(c.at(4), Some((40.0, Read::Interpolated)));
        assert_eq!(c.at(160), Some((2560.0, Read::Interpolated)));
        assert_eq!(c.at(512), Some((9600.0, Read::Extrapolated)));
        assert_eq!(
            Curve {
                points: vec![],
                clock: ClockKind::Tsc
            }
            .at(5),
            None
        );
        let core = Curve {
            points: vec![(10, 100.0)],
            clock: ClockKind::CoreCycles,
        };
        assert_eq!(core.at(20), Some((200.0, Read::Extrapolated)));
        assert_eq!(core.at_tsc(20), None);
    }
}

#[cfg(test)]
mod exclusion_tests {
    use super::*;
    use crate::model::schema::Baseline;

    fn refill(pages: u64, delta: f64, past: Option<bool>) -> Experiment {
        let mut params = std::collections::BTreeMap::new();
        if let Some(p) = past {
            params.insert("past_tlb_reach".to_string(), p.into());
        }
        let id = ExperimentId::Refill(pages);
        let mut e = Experiment::plain(id, "user", params, Default::default(), Default::default());
        e.baseline = Some(Baseline {
            label: "plain".into(),
            summary: Default::default(),
            samples: Default::default(),
            delta_median: delta,
            delta_ci95: [delta, delta],
        });
        e
    }

    #[test]
    fn curve_skips_non_positive_and_past_reach_points() {
        assert_eq!(excluded(&refill(64, 900.0, Some(false))), None);
        assert_eq!(excluded(&refill(64, 900.0, None)), None);
        assert_eq!(excluded(&refill(64, -3.0, None)), Some("not positive"));
        assert_eq!(excluded(&refill(64, 0.0, None)), Some("not positive"));
        assert_eq!(
            excluded(&refill(4096, 9e4, Some(true))),
            Some("past the TLB's reach")
        );
        assert_eq!(excluded(&refill(64, f64::NAN, None)), Some("no figure"));
    }
}
