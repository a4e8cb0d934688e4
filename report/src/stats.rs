//! Order statistics, confidence intervals and the lossless histogram.
//!
//! Used by the harness when it records a run and by the reports when they
//! compare runs, so both agree on what "median" and "p99" mean.

use crate::schema::{Histogram, Summary};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// Number of bootstrap resamples for the delta CI: 95% intervals settle
/// to about one cycle well before this on timing data.
const BOOTSTRAP_ROUNDS: usize = 400;

/// Nearest-rank percentile of sorted data (p in 0..=100).
pub fn percentile_sorted(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64
}

/// Median of sorted data (mean of the two middle values for even n).
pub fn median_sorted(sorted: &[i64]) -> f64 {
    let n = sorted.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => sorted[n / 2] as f64,
        _ => (sorted[n / 2 - 1] as f64 + sorted[n / 2] as f64) / 2.0,
    }
}

/// Distribution-free 95% CI of the median: the order statistics at
/// n/2 -+ 1.96 sqrt(n)/2 (normal approximation of the binomial).
pub fn median_ci95_sorted(sorted: &[i64]) -> [f64; 2] {
    let n = sorted.len();
    if n == 0 {
        return [f64::NAN, f64::NAN];
    }
    let half = 1.96 * (n as f64).sqrt() / 2.0;
    let lo = ((n as f64 / 2.0) - half).floor().max(0.0) as usize;
    let hi = ((n as f64 / 2.0) + half).ceil().min((n - 1) as f64) as usize;
    [sorted[lo.min(n - 1)] as f64, sorted[hi] as f64]
}

/// Summary of a sample set; sorts it in place.
pub fn summarize(samples: &mut [i64]) -> Summary {
    samples.sort_unstable();
    let s: &[i64] = samples;
    if s.is_empty() {
        return Summary::default();
    }
    let sum: i128 = s.iter().map(|&v| v as i128).sum();
    Summary {
        n: s.len() as u64,
        min: s[0] as f64,
        median: median_sorted(s),
        mean: sum as f64 / s.len() as f64,
        p90: percentile_sorted(s, 90.0),
        p99: percentile_sorted(s, 99.0),
        p999: percentile_sorted(s, 99.9),
        max: s[s.len() - 1] as f64,
        median_ci95: median_ci95_sorted(s),
    }
}

impl Histogram {
    /// Lossless histogram of samples (any order).
    pub fn from_samples(samples: &[i64]) -> Histogram {
        let mut sorted = samples.to_vec();
        sorted.sort_unstable();
        let mut h = Histogram::default();
        for v in sorted {
            if h.values.last() == Some(&v) {
                *h.counts.last_mut().expect("counts parallel values") += 1;
            } else {
                h.values.push(v);
                h.counts.push(1);
            }
        }
        h
    }

    /// Total number of samples.
    pub fn len(&self) -> u64 {
        self.counts.iter().sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every sample, in ascending order.
    pub fn to_sorted_samples(&self) -> Vec<i64> {
        let mut out = Vec::with_capacity(self.len() as usize);
        for (&v, &c) in self.values.iter().zip(&self.counts) {
            out.extend(std::iter::repeat_n(v, c as usize));
        }
        out
    }

    /// Structural check for histograms read from files.
    pub fn validate(&self) -> Result<(), String> {
        if self.values.len() != self.counts.len() {
            return Err("histogram values and counts differ in length".into());
        }
        if self.values.windows(2).any(|w| w[0] >= w[1]) {
            return Err("histogram values are not strictly ascending".into());
        }
        Ok(())
    }
}

/// Median of `a` minus median of `b`, with a 95% percentile-bootstrap CI.
/// The seed is fixed so a result file reproduces the same interval.
pub fn delta_median_ci95(a_sorted: &[i64], b_sorted: &[i64]) -> (f64, [f64; 2]) {
    let point = median_sorted(a_sorted) - median_sorted(b_sorted);
    if a_sorted.is_empty() || b_sorted.is_empty() {
        return (point, [f64::NAN, f64::NAN]);
    }
    let mut rng = SmallRng::seed_from_u64(0x656e_7472_7962);
    let mut ra = vec![0i64; a_sorted.len()];
    let mut rb = vec![0i64; b_sorted.len()];
    let mut deltas = Vec::with_capacity(BOOTSTRAP_ROUNDS);
    for _ in 0..BOOTSTRAP_ROUNDS {
        resample(&mut rng, a_sorted, &mut ra);
        resample(&mut rng, b_sorted, &mut rb);
        deltas.push(select_median(&mut ra) - select_median(&mut rb));
    }
    deltas.sort_by(f64::total_cmp);
    let lo = deltas[(BOOTSTRAP_ROUNDS as f64 * 0.025) as usize];
    let hi = deltas[((BOOTSTRAP_ROUNDS as f64 * 0.975) as usize).min(BOOTSTRAP_ROUNDS - 1)];
    (point, [lo, hi])
}

fn resample(rng: &mut SmallRng, from: &[i64], into: &mut [i64]) {
    for slot in into.iter_mut() {
        *slot = from[rng.random_range(0..from.len())];
    }
}

/// Median by selection, O(n): the bootstrap would spend most of its time
/// sorting otherwise.
fn select_median(v: &mut [i64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 {
        *v.select_nth_unstable(n / 2).1 as f64
    } else {
        let hi = *v.select_nth_unstable(n / 2).1;
        let lo = *v[..n / 2].iter().max().expect("n >= 2");
        (lo as f64 + hi as f64) / 2.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_of_known_data() {
        let mut v: Vec<i64> = (1..=1000).rev().collect();
        let s = summarize(&mut v);
        assert_eq!(s.n, 1000);
        assert_eq!(s.min, 1.0);
        assert_eq!(s.max, 1000.0);
        assert_eq!(s.median, 500.5);
        assert_eq!(s.p90, 900.0);
        assert_eq!(s.p99, 990.0);
        assert_eq!(s.p999, 999.0);
        assert!((s.mean - 500.5).abs() < 1e-9);
        assert!(s.median_ci95[0] < 500.0 && s.median_ci95[1] > 501.0);
        assert!(s.median_ci95[1] - s.median_ci95[0] < 80.0);
    }

    #[test]
    fn histogram_is_lossless() {
        let raw = vec![5, -1, 5, 7, 7, 7, 0];
        let h = Histogram::from_samples(&raw);
        assert_eq!(h.values, vec![-1, 0, 5, 7]);
        assert_eq!(h.counts, vec![1, 1, 2, 3]);
        let mut sorted = raw.clone();
        sorted.sort();
        assert_eq!(h.to_sorted_samples(), sorted);
        assert!(h.validate().is_ok());
        let bad = Histogram { values: vec![2, 1], counts: vec![1, 1] };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn delta_ci_covers_shift() {
        let a: Vec<i64> = (0..2000).map(|i| 1000 + (i % 50)).collect();
        let b: Vec<i64> = (0..2000).map(|i| 900 + (i % 50)).collect();
        let (mut a, mut b) = (a, b);
        a.sort();
        b.sort();
        let (d, ci) = delta_median_ci95(&a, &b);
        assert_eq!(d, 100.0);
        assert!(ci[0] <= 100.0 && ci[1] >= 100.0, "{ci:?}");
        assert!(ci[1] - ci[0] < 20.0, "{ci:?}");
    }
}
