//! The words of the sizing, read off the cost model: the straight answer
//! per CPU (a few lines), the rules and ingredients behind it for
//! `--explain`, and the recommendation across CPUs. Every figure quoted
//! here is a `cost::Figures` field formatted by `phrase`, the same one
//! the table shows.

use super::cost::{Cost, Costs, Outcome, Strategy};
use super::Block;
use crate::model::kernel_rules::{self, KernelFacts, Runs};
use crate::model::profile::Profile;
use crate::model::units;

/// "IPI (status quo): 3.2e-4% of a CPU, worst 3.25 us, ok": a strategy's
/// figures as the table has them (the same `Figures`, the same format).
pub fn phrase(c: &Cost, budget_us: f64) -> String {
    match &c.outcome {
        Outcome::Figures(f) => format!(
            "{}: {} of a CPU, worst {}{} us, {}",
            c.strategy.label(),
            units::pct(f.pct_cpu),
            if f.worst_is_lower_bound { ">=" } else { "" },
            units::num(f.worst_us),
            match c.budget_cell(budget_us) {
                "ok" => "within budget",
                "OVER" => "over budget",
                _ => "budget unknown",
            }
        ),
        Outcome::Missing(_) => format!("{}: not priced", c.strategy.label()),
        Outcome::PricedAs(other) => format!("{}: see {}", c.strategy.label(), other.label()),
    }
}

fn phrases<'a>(cs: impl Iterator<Item = &'a Cost>, budget_us: f64) -> String {
    cs.map(|c| phrase(c, budget_us))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The answer for one CPU, a few lines: its PTI state, what runs today,
/// what the series as posted and the other options would cost, and what
/// to do. Sources are in `--explain` (`rules`).
pub fn lines(
    p: &Profile,
    k: &KernelFacts,
    costs: &Costs,
    host: &str,
    dump_meltdown: Option<&str>,
) -> Vec<String> {
    let b = p.latency_budget_us;
    let mut out = Vec::new();
    out.push(match (dump_meltdown, k.pti) {
        (Some(_), Some(true)) => "Meltdown-affected: a default kernel runs PTI.".to_string(),
        (Some(_), _) => "Not affected by Meltdown: a default kernel runs without PTI.".into(),
        (None, Some(on)) => format!(
            "The measured kernel{} runs with PTI {}.",
            k.kernel
                .as_ref()
                .map(|r| format!(" (Linux {r})"))
                .unwrap_or_default(),
            if on { "on" } else { "off" }
        ),
        (None, None) => "PTI state unknown.".into(),
    });
    let today = costs.costs.iter().filter(|c| c.runs.today());
    out.push(format!("Today: {}.", phrases(today, b)));
    let get = |s: &Strategy| costs.get(s);
    let flushing = get(&Strategy::Series(kernel_rules::flushing_posting()));
    let proposal = get(&Strategy::Proposal).map(|c| phrase(c, b));
    let not_re_read = "RFC v8 and v9 need PTI too, and are not priced (what their catch-up at entry costs could not be re-read)";
    match k.pti {
        Some(true) => out.push(format!(
            "With the series applied (not merged): {}; v5 leaves TLB-flush IPIs as today; {not_re_read}. Not posted: {}.",
            flushing.map(|c| phrase(c, b)).unwrap_or_default(),
            proposal.unwrap_or_default()
        )),
        Some(false) => {
            let pti_on = costs
                .costs
                .iter()
                .find(|c| matches!(c.strategy, Strategy::PtiOnSeries(_)))
                .map(|c| phrase(c, b))
                .unwrap_or_default();
            let invlpgb = match get(&Strategy::Invlpgb) {
                Some(c) if c.runs.today() => "INVLPGB, which runs here (above)".to_string(),
                Some(c) if matches!(c.runs, Runs::Unknown(_)) => {
                    format!("INVLPGB, which {}", c.runs.reason().text)
                }
                Some(c) => format!("INVLPGB, which does not run here ({})", c.runs.reason().text),
                None => "INVLPGB, which this CPU lacks".into(),
            };
            out.push(format!(
                "With PTI off the posted series defers no TLB-flush IPI (v6/v7 need PTI, v5 defers text patching only; {not_re_read}). The options: the IPIs as today; {pti_on}; {invlpgb}; or an unposted design, as the {}.",
                proposal.unwrap_or_default()
            ));
        }
        None => out.push(format!(
            "PTI state unknown: v6/v7 defer TLB flushes only with PTI on; {not_re_read}."
        )),
    }
    out.push(decision(costs, b));
    if !host.is_empty() && host != crate::model::machine::BARE_METAL {
        out.push(format!(
            "Measured in a {host}: guest costs (an IPI goes through the hypervisor), not a hardware pick."
        ));
    }
    out
}

/// The cheapest strategy within the budget among `pick`.
fn cheapest(costs: &Costs, b: f64, pick: impl Fn(&Runs) -> bool) -> Option<&Cost> {
    costs
        .costs
        .iter()
        .filter(|c| pick(&c.runs))
        .filter(|c| c.figures().and_then(|f| f.fits(b)) == Some(true))
        .min_by(|x, y| {
            let p = |c: &Cost| c.figures().map_or(f64::INFINITY, |f| f.pct_cpu);
            p(x).total_cmp(&p(y))
        })
}

/// "Answer: ...": the cheapest that runs today within the budget, and
/// the cheapest posted code would add where it is cheaper or nothing
/// today fits. Only strategies within the budget are called cheaper.
fn decision(costs: &Costs, b: f64) -> String {
    let budget = units::num(b);
    let today = cheapest(costs, b, Runs::today);
    let mut s = match today {
        Some(c) => format!(
            "Answer: {} is the cheapest that runs today within the {budget} us budget",
            c.strategy.label()
        ),
        None => {
            format!("Answer: nothing that runs here today is known to fit the {budget} us budget")
        }
    };
    let today_pct = today
        .and_then(|c| c.figures())
        .map_or(f64::INFINITY, |f| f.pct_cpu);
    let posted = cheapest(costs, b, |r| {
        matches!(r, Runs::IfApplied(_) | Runs::IfPtiOn(_))
    });
    if let Some(c) = posted.filter(|c| c.figures().is_some_and(|f| f.pct_cpu < today_pct)) {
        s.push_str(&format!(
            "; with posted, unmerged code{}: {}",
            if matches!(c.runs, Runs::IfPtiOn(_)) {
                " and pti=on"
            } else {
                ""
            },
            phrase(c, b)
        ));
    }
    s.push('.');
    s
}

/// Each strategy's rule, with its reason and source; also the broadcast
/// rules of hardware the CPU lacks (no row in the table).
pub fn rules(k: &KernelFacts, costs: &Costs) -> Vec<String> {
    let mut out: Vec<String> = costs
        .costs
        .iter()
        .map(|c| kernel_rules::sentence(&c.strategy.label(), &c.runs))
        .collect();
    if costs.get(&Strategy::Invlpgb).is_none() {
        out.push(kernel_rules::sentence("INVLPGB", &kernel_rules::invlpgb(k)));
    }
    if costs.get(&Strategy::Rar).is_none() {
        out.extend(kernel_rules::rar(k).map(|r| kernel_rules::sentence("RAR", &r)));
    }
    out
}

/// Every ingredient with its label, then what each row left out or lacks.
pub fn ingredients(costs: &Costs) -> Vec<String> {
    let i = &costs.ingredients;
    let mut out: Vec<String> = [&i.ipi, &i.refill, &i.flush, &i.check, &i.pti]
        .into_iter()
        .flatten()
        .chain(i.scenario.all())
        .map(|f| f.describe())
        .collect();
    for c in &costs.costs {
        match &c.outcome {
            Outcome::Figures(f) if !f.left_out.is_empty() => out.push(format!(
                "{}: left out: {}.",
                c.strategy.label(),
                f.left_out.join("; ")
            )),
            Outcome::Missing(why) => out.push(format!("{}: {why}.", c.strategy.label())),
            Outcome::PricedAs(other) => out.push(format!(
                "{}: runs here only as {}, which is priced with PTI's own cost; no figures of its own.",
                c.strategy.label(),
                other.label()
            )),
            _ => {}
        }
    }
    out
}

/// Every published figure for `core`, labelled: context for `--explain`
/// (the ones the model uses are among the ingredients too).
pub fn published(core: &str) -> Vec<String> {
    crate::model::priors::for_core(core)
        .iter()
        .map(|r| {
            format!(
                "Published for this core: {} = {} {} on {} ({}), {}.",
                r.operation,
                units::num(r.value),
                r.unit,
                r.cpu,
                r.conditions,
                r.label()
            )
        })
        .collect()
}

/// The cheapest strategy that runs today within the budget, among CPUs
/// measured on bare metal; a guest figure is never a hardware pick.
pub fn recommend(p: &Profile, blocks: &[Block]) -> String {
    let b = p.latency_budget_us;
    let bare: Vec<&Block> = blocks
        .iter()
        .filter(|x| x.bare_metal_measurement())
        .collect();
    if bare.is_empty() {
        return "no hardware pick: nothing here was measured on bare metal. Guest figures price the mechanisms inside that guest only (an IPI there goes through the hypervisor), and published figures are other people's set-ups. To choose, run `entrybench run` (with the module: `entrybench kmod load` first) on bare metal of each candidate CPU, then size again.".into();
    }
    let best = bare
        .iter()
        .filter_map(|x| cheapest(&x.costs, b, Runs::today).map(|c| (x, c)))
        .min_by(|(_, x), (_, y)| {
            let p = |c: &Cost| c.figures().map_or(f64::INFINITY, |f| f.pct_cpu);
            p(x).total_cmp(&p(y))
        });
    match best {
        Some((x, c)) => format!(
            "{}, {} (on today's kernel; bare-metal measurement).",
            x.cpu_label,
            phrase(c, b)
        ),
        None => format!(
            "nothing measured on bare metal runs today within the {} us budget.",
            units::num(b)
        ),
    }
}

#[cfg(test)]
mod tests;
