//! The fuzzers' random choices, on `rand`'s `SmallRng` seeded from the
//! `--seed` the run prints, so a seed replays a fuzz run. `SmallRng`'s
//! algorithm may change with a rand release: a seed replays a run of the
//! same build (Cargo.lock pins rand), not necessarily of another version.

use rand::rngs::SmallRng;
use rand::{Rng as _, SeedableRng};

pub(crate) struct Rng(SmallRng);

impl Rng {
    /// A generator for `seed` (any value; 0 is fine).
    pub(crate) fn new(seed: u64) -> Rng {
        Rng(SmallRng::seed_from_u64(seed))
    }
    pub(crate) fn next(&mut self) -> u64 {
        self.0.random()
    }
    /// Uniform in `0..n` (0 when `n` is 0).
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.0.random_range(0..n.max(1))
    }
    pub(crate) fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    /// Mostly a small valid value in `lo..=hi`, else an edge or random value.
    pub(crate) fn field(&mut self, lo: u32, hi: u32, max: u32) -> u32 {
        match self.below(10) {
            0 => 0,
            1 => max.saturating_add(1),
            2 => u32::MAX,
            3 => self.next() as u32,
            _ => self.0.random_range(lo..=hi),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_per_seed() {
        let (mut a, mut b, mut c) = (Rng::new(7), Rng::new(7), Rng::new(8));
        let va: Vec<u64> = (0..16).map(|_| a.next()).collect();
        let vb: Vec<u64> = (0..16).map(|_| b.next()).collect();
        let vc: Vec<u64> = (0..16).map(|_| c.next()).collect();
        assert_eq!(va, vb);
        assert_ne!(va, vc);
    }

    #[test]
    fn fields_cover_valid_and_every_edge() {
        let mut r = Rng::new(1);
        let vals: Vec<u32> = (0..2000).map(|_| r.field(1, 64, 1000)).collect();
        assert!(vals.iter().any(|v| (1..=64).contains(v)), "no valid value");
        assert!(vals.contains(&0), "never zero");
        assert!(vals.contains(&1001), "never max + 1");
        assert!(vals.contains(&u32::MAX), "never u32::MAX");
        let valid = vals.iter().filter(|v| (1..=64).contains(*v)).count();
        // Mostly valid, so calls get past validation often enough.
        assert!(valid > 1000 && valid < 1900, "{valid} valid of 2000");
    }
}
