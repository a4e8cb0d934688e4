//! Order statistics, confidence intervals and the lossless histogram.
//!
//! Used by the harness when it records a run and by the reports when they
//! compare runs, so both agree on what "median" and "p99" mean.
//!
//! Written here rather than taken from a statistics crate: it works on
//! lossless histograms (value, count) of millions of samples, which a
//! crate taking flat sample vectors would need expanded, and the whole of
//! it (percentiles, a tie-corrected Mann-Whitney U, a block bootstrap) is
//! a few hundred lines checked against known values in the tests below.

use crate::model::schema::{Blocks, Histogram, Summary};
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
    // The small epsilon keeps decimal percentiles exact: 99.9/100*1000 is
    // 999.0000000000001 in binary floating point, which would round up to
    // the next rank.
    let rank = ((p / 100.0) * sorted.len() as f64 - 1e-9).ceil() as usize;
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

/// `summarize` of the samples a histogram holds, without expanding them
/// (a scenario's run holds hundreds of millions): the same nearest-rank
/// percentiles and order-statistic median CI.
pub fn summarize_histogram(h: &Histogram) -> Summary {
    let n = h.len();
    if n == 0 {
        return Summary::default();
    }
    // The value at 0-based rank r of the sorted samples.
    let at = |r: u64| -> f64 {
        let mut cum = 0;
        for (&v, &c) in h.values.iter().zip(&h.counts) {
            cum += c;
            if r < cum {
                return v as f64;
            }
        }
        h.values[h.values.len() - 1] as f64
    };
    let pct = |p: f64| {
        let rank = ((p / 100.0) * n as f64 - 1e-9).ceil() as u64;
        at(rank.clamp(1, n) - 1)
    };
    let median = if n % 2 == 1 {
        at(n / 2)
    } else {
        (at(n / 2 - 1) + at(n / 2)) / 2.0
    };
    let half = 1.96 * (n as f64).sqrt() / 2.0;
    let lo = ((n as f64 / 2.0) - half).floor().max(0.0) as u64;
    let hi = ((n as f64 / 2.0) + half).ceil().min((n - 1) as f64) as u64;
    let sum: i128 = h
        .values
        .iter()
        .zip(&h.counts)
        .map(|(&v, &c)| v as i128 * c as i128)
        .sum();
    Summary {
        n,
        min: h.values[0] as f64,
        median,
        mean: sum as f64 / n as f64,
        p90: pct(90.0),
        p99: pct(99.0),
        p999: pct(99.9),
        max: h.values[h.values.len() - 1] as f64,
        median_ci95: [at(lo.min(n - 1)), at(hi)],
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

/// Blocks an experiment is split into at least: enough block medians for
/// a bootstrap CI and a rank test with some power, few enough that each
/// block still holds thousands of samples.
pub const MIN_BLOCKS: usize = 20;
/// A block median further than this (relative) from the median of block
/// medians is an outlier block.
pub const UNSTABLE_DEVIATION: f64 = 0.05;
/// More than this fraction of outlier blocks: the host was not quiet.
pub const UNSTABLE_FRACTION: f64 = 0.1;

/// Median of unsorted f64 values (NaN for none).
pub fn median_f64(v: &[f64]) -> f64 {
    let mut s: Vec<f64> = v.iter().copied().filter(|x| x.is_finite()).collect();
    if s.is_empty() {
        return f64::NAN;
    }
    s.sort_by(f64::total_cmp);
    let n = s.len();
    if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    }
}

/// Splits `values` (in run order) into `n` contiguous blocks of equal size
/// (the remainder goes to the last) and takes each block's median, scaled
/// by `1 / per` (e.g. the operations per timed region).
pub fn block_medians(values: &[i64], n: usize, per: f64) -> (u64, Vec<f64>) {
    let n = n.clamp(1, values.len().max(1));
    let size = values.len() / n;
    if size == 0 {
        return (0, Vec::new());
    }
    let mut buf = Vec::with_capacity(size * 2);
    let medians = (0..n)
        .map(|i| {
            buf.clear();
            buf.extend_from_slice(&values[block_bounds(values.len(), n, i)]);
            select_median(&mut buf) / per
        })
        .collect();
    (size as u64, medians)
}

/// Where block `i` of `n` lies in `len` values: equal sizes, the
/// remainder in the last block (the split `block_medians` makes, so
/// blocks measured one at a time reduce to the same medians).
pub fn block_bounds(len: usize, n: usize, i: usize) -> std::ops::Range<usize> {
    let n = n.max(1);
    let size = len / n;
    let start = (i * size).min(len);
    let end = if i + 1 >= n {
        len
    } else {
        ((i + 1) * size).min(len)
    };
    start..end
}

/// The block figures of an experiment from its block medians: the 95%
/// bootstrap CI of their median (`median_ci95_f64`) and the instability
/// test, deviations relative to the median of block medians.
pub fn blocks(size: u64, medians: Vec<f64>) -> Blocks {
    let m = median_f64(&medians);
    blocks_relative_to(size, medians, m)
}

/// `blocks` for a difference of two measurements, whose blocks are judged
/// against `level`, the size of what was measured (a 3-cycle delta of two
/// 190-cycle calls that moves by 1 cycle is steady, not 33% off).
pub fn blocks_relative_to(size: u64, medians: Vec<f64>, level: f64) -> Blocks {
    let m = median_f64(&medians);
    let outliers = medians
        .iter()
        .filter(|b| ((*b - m) / level.abs().max(1e-9)).abs() > UNSTABLE_DEVIATION)
        .count();
    let outlier_fraction = if medians.is_empty() {
        0.0
    } else {
        outliers as f64 / medians.len() as f64
    };
    Blocks {
        size,
        ci95: median_ci95_f64(&medians),
        medians,
        outlier_fraction,
        unstable: outlier_fraction > UNSTABLE_FRACTION,
        drift: None,
    }
}

/// 95% percentile-bootstrap CI of the median of `medians` (block
/// medians: resampling whole blocks keeps the correlation inside a block
/// inside it). Fixed seed, so a file reproduces the same interval; the
/// median itself, twice, for fewer than two values.
pub fn median_ci95_f64(medians: &[f64]) -> [f64; 2] {
    let m = median_f64(medians);
    if medians.len() < 2 {
        return [m, m];
    }
    let mut rng = SmallRng::seed_from_u64(0x626c_6f63_6b73);
    let mut pick = vec![0.0; medians.len()];
    let mut est = Vec::with_capacity(BOOTSTRAP_ROUNDS);
    for _ in 0..BOOTSTRAP_ROUNDS {
        for slot in pick.iter_mut() {
            *slot = medians[rng.random_range(0..medians.len())];
        }
        est.push(median_f64(&pick));
    }
    est.sort_by(f64::total_cmp);
    [
        est[(BOOTSTRAP_ROUNDS as f64 * 0.025) as usize],
        est[((BOOTSTRAP_ROUNDS as f64 * 0.975) as usize).min(BOOTSTRAP_ROUNDS - 1)],
    ]
}

/// 95% percentile-bootstrap CI of a ratio of sums, sum(num) / sum(den),
/// resampling whole pairs (num[i], den[i]): e.g. time lost over events,
/// one pair per chunk pair of a scenario. Fixed seed, as `blocks`.
pub fn ratio_ci95(num: &[f64], den: &[f64]) -> [f64; 2] {
    let n = num.len().min(den.len());
    let ratio = |idx: &mut dyn Iterator<Item = usize>| {
        let (a, b) = idx.fold((0.0, 0.0), |(a, b), i| (a + num[i], b + den[i]));
        a / b
    };
    let whole = ratio(&mut (0..n));
    if n < 2 {
        return [whole, whole];
    }
    let mut rng = SmallRng::seed_from_u64(0x0072_6174_696f);
    let mut est: Vec<f64> = (0..BOOTSTRAP_ROUNDS)
        .map(|_| ratio(&mut (0..n).map(|_| rng.random_range(0..n))))
        .filter(|v| v.is_finite())
        .collect();
    if est.is_empty() {
        return [whole, whole];
    }
    est.sort_by(f64::total_cmp);
    let at = |q: f64| est[((est.len() as f64 * q) as usize).min(est.len() - 1)];
    [at(0.025), at(0.975)]
}

/// Mann-Whitney U on two sets of block medians (values scaled to
/// 1/16 cycle so the integer rank test keeps their order).
pub fn mann_whitney_blocks(a: &[f64], b: &[f64]) -> Option<MannWhitney> {
    let h = |v: &[f64]| {
        Histogram::from_samples(
            &v.iter()
                .map(|x| (x * 16.0).round() as i64)
                .collect::<Vec<_>>(),
        )
    };
    mann_whitney(&h(a), &h(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_summary_equals_sample_summary() {
        let mut rng = SmallRng::seed_from_u64(7);
        for n in [1usize, 2, 3, 10, 999, 1000, 4001] {
            let mut v: Vec<i64> = (0..n).map(|_| rng.random_range(-5..60)).collect();
            let h = Histogram::from_samples(&v);
            assert_eq!(summarize_histogram(&h), summarize(&mut v), "n={n}");
        }
        assert_eq!(
            summarize_histogram(&Histogram::default()),
            Summary::default()
        );
    }

    #[test]
    fn ratio_ci_brackets_the_pooled_ratio() {
        let num = [10.0, 12.0, 8.0, 11.0, 9.0, 10.0];
        let den = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0];
        let ci = ratio_ci95(&num, &den);
        assert!(
            ci[0] <= 10.0 && 10.0 <= ci[1] && ci[0] >= 8.0 && ci[1] <= 12.0,
            "{ci:?}"
        );
        assert_eq!(ratio_ci95(&[3.0], &[2.0]), [1.5, 1.5]);
        assert!(ratio_ci95(&[], &[])[0].is_nan());
    }

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
        let bad = Histogram {
            values: vec![2, 1],
            counts: vec![1, 1],
        };
        assert!(bad.validate().is_err());
    }

    #[test]
    fn blocks_take_block_medians_and_a_ci_around_them() {
        // 20 blocks of 100: block i has median 400 + i % 3.
        let v: Vec<i64> = (0..2000).map(|j| 400 + (j / 100) % 3).collect();
        let (size, m) = block_medians(&v, 20, 1.0);
        assert_eq!((size, m.len()), (100, 20));
        assert_eq!(m[..4], [400.0, 401.0, 402.0, 400.0]);
        let b = blocks(size, m);
        assert!(b.ci95[0] <= 401.0 && b.ci95[1] >= 401.0, "{:?}", b.ci95);
        assert!(!b.unstable && b.outlier_fraction == 0.0);
        assert!(!b.unstable);
        // Per-operation scaling.
        assert_eq!(block_medians(&[64, 64, 128, 128], 2, 64.0).1, [1.0, 2.0]);
    }

    #[test]
    fn blocks_taken_one_at_a_time_reduce_to_the_same_medians() {
        let v: Vec<i64> = (0..1003).map(|j| (j * 7919) % 211).collect();
        let whole = block_medians(&v, 32, 1.0).1;
        let mut ends = 0;
        let each: Vec<f64> = (0..32)
            .map(|i| {
                let r = block_bounds(v.len(), 32, i);
                assert_eq!(r.start, ends, "contiguous");
                ends = r.end;
                block_medians(&v[r], 1, 1.0).1[0]
            })
            .collect();
        assert_eq!((whole, ends), (each, v.len()));
        // The first k blocks alone (an interrupted run) keep their split.
        let k = 5;
        let end = block_bounds(v.len(), 32, k - 1).end;
        assert_eq!(
            block_medians(&v[..end], k, 1.0).1,
            block_medians(&v, 32, 1.0).1[..k]
        );
        assert_eq!(block_bounds(3, 5, 4), 0..3);
    }

    #[test]
    fn deltas_are_judged_against_what_was_measured() {
        let m: Vec<f64> = (0..20).map(|i| 3.0 + (i % 3) as f64).collect();
        assert!(blocks(100, m.clone()).unstable);
        assert!(!blocks_relative_to(100, m, 190.0).unstable);
    }

    #[test]
    fn disagreeing_blocks_mark_the_host_unstable() {
        let mut m = vec![400.0; 20];
        m[3] = 600.0;
        m[9] = 300.0;
        m[15] = 500.0;
        let b = blocks(1000, m);
        assert!(b.unstable && (b.outlier_fraction - 0.15).abs() < 1e-12);
        assert!(b.unstable);
    }

    #[test]
    fn block_rank_test_sees_shifts_not_sameness() {
        let a: Vec<f64> = (0..20).map(|i| 400.0 + (i % 4) as f64 * 0.25).collect();
        let b: Vec<f64> = a.iter().map(|x| x + 20.0).collect();
        assert!(mann_whitney_blocks(&a, &b).unwrap().p < 0.001);
        assert!(mann_whitney_blocks(&a, &a).unwrap().p > 0.9);
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

/// Result of a two-sided Mann-Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample.
    pub u: f64,
    /// Standardised U (continuity-corrected); positive when the first
    /// sample tends to be larger.
    pub z: f64,
    /// Two-sided p-value from the normal approximation.
    pub p: f64,
}

/// Mann-Whitney U on two histograms, with midranks for ties and the tie
/// correction of the variance; normal approximation, which is accurate for
/// the thousands of samples a run keeps. Works on the (value, count) pairs
/// directly, so it costs O(distinct values), not O(samples). None when a
/// side is empty or every sample is equal.
pub fn mann_whitney(a: &Histogram, b: &Histogram) -> Option<MannWhitney> {
    let (na, nb) = (a.len() as f64, b.len() as f64);
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    let n = na + nb;
    let (mut i, mut j) = (0usize, 0usize);
    let mut below = 0.0f64; // samples ranked before the current value
    let mut rank_sum_a = 0.0f64;
    let mut tie_term = 0.0f64; // sum of t^3 - t over tie groups
    while i < a.values.len() || j < b.values.len() {
        let va = a.values.get(i).copied().unwrap_or(i64::MAX);
        let vb = b.values.get(j).copied().unwrap_or(i64::MAX);
        let v = va.min(vb);
        let ca = if va == v && i < a.values.len() {
            a.counts[i] as f64
        } else {
            0.0
        };
        let cb = if vb == v && j < b.values.len() {
            b.counts[j] as f64
        } else {
            0.0
        };
        let t = ca + cb;
        let midrank = below + (t + 1.0) / 2.0;
        rank_sum_a += ca * midrank;
        tie_term += t * t * t - t;
        below += t;
        if ca > 0.0 {
            i += 1;
        }
        if cb > 0.0 {
            j += 1;
        }
    }
    let u = rank_sum_a - na * (na + 1.0) / 2.0;
    let mean = na * nb / 2.0;
    let var = na * nb / 12.0 * ((n + 1.0) - tie_term / (n * (n - 1.0)));
    if var.is_nan() || var <= 0.0 {
        return None;
    }
    let diff = u - mean;
    let corrected = if diff.abs() <= 0.5 {
        0.0
    } else {
        diff - 0.5 * diff.signum()
    };
    let z = corrected / var.sqrt();
    Some(MannWhitney {
        u,
        z,
        p: (2.0 * normal_sf(z.abs())).min(1.0),
    })
}

/// Upper tail of the standard normal, 1 - Phi(z), via erfc.
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' Chebyshev fit,
/// relative error < 1.2e-7 everywhere: ample for a p-value).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98
                                + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

#[cfg(test)]
mod mwu_tests {
    use super::*;

    #[test]
    fn normal_tail() {
        assert!((normal_sf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_sf(1.959964) - 0.025).abs() < 1e-6);
        assert!((normal_sf(-1.959964) - 0.975).abs() < 1e-6);
    }

    #[test]
    fn mann_whitney_known_values() {
        // Textbook case without ties: a = 1..=5, b = 6..=10 -> U = 0,
        // mean 12.5, var 22.9167, z = -(12.5-0.5)/4.787 = -2.507.
        let a = Histogram::from_samples(&[1, 2, 3, 4, 5]);
        let b = Histogram::from_samples(&[6, 7, 8, 9, 10]);
        let r = mann_whitney(&a, &b).unwrap();
        assert_eq!(r.u, 0.0);
        assert!((r.z + 2.5067).abs() < 1e-3, "{r:?}");
        assert!((r.p - 0.01219).abs() < 1e-4, "{r:?}");
        // Symmetric.
        let r2 = mann_whitney(&b, &a).unwrap();
        assert_eq!(r2.u, 25.0);
        assert!((r2.p - r.p).abs() < 1e-12);
    }

    #[test]
    fn mann_whitney_ties_match_raw_ranks() {
        // a = [1,2,2,3], b = [2,3,3,4]: midranks 1, 3,3,3 (a: 1,3,3) ...
        let a = Histogram::from_samples(&[1, 2, 2, 3]);
        let b = Histogram::from_samples(&[2, 3, 3, 4]);
        let r = mann_whitney(&a, &b).unwrap();
        // Ranks: 1->1; 2 (x3)->3; 3 (x3)->6; 4->8. R_a = 1+3+3+6 = 13.
        assert_eq!(r.u, 13.0 - 10.0);
        // Tie term: (27-3) + (27-3) = 48; var = 16/12 * (9 - 48/56).
        let var = 16.0 / 12.0 * (9.0 - 48.0 / 56.0);
        assert!(
            (r.z - (3.0 - 8.0 + 0.5) / f64::sqrt(var)).abs() < 1e-12,
            "{r:?}"
        );
    }

    #[test]
    fn mann_whitney_degenerate() {
        let a = Histogram::from_samples(&[5, 5, 5]);
        assert!(mann_whitney(&a, &a).is_none());
        assert!(mann_whitney(&a, &Histogram::default()).is_none());
        let same = Histogram::from_samples(&(0..1000).collect::<Vec<_>>());
        assert!(mann_whitney(&same, &same).unwrap().p > 0.99);
    }
}
