//! Cycles, nanoseconds and how numbers are printed. Every table formats
//! through here so a figure reads the same in the report, compare and size.
//!
//! Only TSC cycles turn into ns (`TscCycles`): the TSC runs at a constant
//! rate, core cycles do not (turbo, P-states), so a core-cycle figure is
//! printed as cycles and never converted with the TSC rate. A reader gets
//! a `TscCycles` from `Experiment::tsc`, which refuses core-cycle samples.

/// A count of TSC cycles: the one kind of cycles with a time meaning.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct TscCycles(pub f64);

/// TSC cycles to ns at `tsc_hz`; None when the frequency is unknown (0,
/// NaN) or the count is not finite.
pub fn cycles_to_ns(cycles: TscCycles, tsc_hz: f64) -> Option<f64> {
    if tsc_hz.is_finite() && tsc_hz > 0.0 && cycles.0.is_finite() {
        Some(cycles.0 * 1e9 / tsc_hz)
    } else {
        None
    }
}

/// Whether `tsc_hz` can turn TSC cycles into ns.
pub fn rate_known(tsc_hz: f64) -> bool {
    tsc_hz.is_finite() && tsc_hz > 0.0
}

/// A figure for a table cell: integers from 100 up, one decimal from 10,
/// two below; thousands get a "k" past 999,999 to keep columns narrow.
pub fn num(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e7 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e6 {
        format!("{:.0}k", v / 1e3)
    } else if a >= 100.0 || a == 0.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}

/// `num` with an explicit sign, for deltas.
pub fn signed(v: f64) -> String {
    if v.is_finite() && v > 0.0 {
        format!("+{}", num(v))
    } else {
        num(v)
    }
}

/// ns figure, or "-" when the frequency is unknown or the figure is not
/// in TSC cycles (None).
pub fn ns(cycles: Option<TscCycles>, tsc_hz: f64) -> String {
    cycles
        .and_then(|c| cycles_to_ns(c, tsc_hz))
        .map(num)
        .unwrap_or_else(|| "-".into())
}

/// "lo-hi" of a CI in ns (or "-"); None when the CI is not in TSC cycles.
pub fn ci_ns(ci: Option<[TscCycles; 2]>, tsc_hz: f64) -> String {
    match ci.map(|[a, b]| (cycles_to_ns(a, tsc_hz), cycles_to_ns(b, tsc_hz))) {
        Some((Some(a), Some(b))) => format!("{}..{}", num(a), num(b)),
        _ => "-".into(),
    }
}

/// Sample counts: exact up to 999,999, then "1.2M".
pub fn count(n: u64) -> String {
    if n >= 1_000_000 {
        format!("{:.1}M", n as f64 / 1e6)
    } else {
        n.to_string()
    }
}

/// A percentage with precision that keeps small overheads visible.
pub fn pct(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 100.0 {
        format!("{v:.0}%")
    } else if a >= 1.0 {
        format!("{v:.1}%")
    } else if a >= 0.01 || a == 0.0 {
        format!("{v:.2}%")
    } else {
        format!("{v:.1e}%")
    }
}

/// GHz with two decimals ("2.40 GHz"), "unknown" for 0.
pub fn ghz(hz: f64) -> String {
    if hz.is_finite() && hz > 0.0 {
        format!("{:.2} GHz", hz / 1e9)
    } else {
        "unknown".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(num(1234.4), "1234");
        assert_eq!(num(12.34), "12.3");
        assert_eq!(num(1.234), "1.23");
        assert_eq!(num(0.0), "0");
        assert_eq!(num(f64::NAN), "-");
        assert_eq!(num(2_500_000.0), "2500k");
        assert_eq!(signed(5.0), "+5.00");
        assert_eq!(signed(-5.0), "-5.00");
        assert_eq!(ns(Some(TscCycles(2400.0)), 2.4e9), "1000");
        assert_eq!(ns(Some(TscCycles(2400.0)), 0.0), "-");
        assert_eq!(ns(None, 2.4e9), "-");
        assert_eq!(pct(0.5), "0.50%");
        assert_eq!(pct(0.0001), "1.0e-4%");
        assert_eq!(ghz(2.4e9), "2.40 GHz");
        assert_eq!(count(1_500_000), "1.5M");
    }
}
