//! Hardware sizing: a workload profile against the cost model
//! (`size::cost`), per CPU model. The asked-for CPU (a CPUID dump) comes
//! first, then every measured machine; each block gives the answer in a
//! few lines, then the strategy table. `--explain` adds the rules with
//! their sources, each figure's ingredients and labels, and the
//! equations.
//!
//! Nothing here computes a cost: the table, the answer and the
//! recommendation all read the same `cost::Costs`.

use crate::model::kernel_rules::{self, KernelFacts};
use crate::model::machine::{self, Machine};
use crate::model::profile::Profile;
use crate::model::schema::{CpuFacts, ResultFile, Verdict};
use crate::model::units;
use crate::output::export::{Exporter, Text};
use crate::output::text_table::{wrap, Table, WIDTH};

mod answer;
pub mod cost;

pub use cost::{Cost, Costs, Outcome, Strategy, EQUATIONS, IPI_ORDER};

/// Where a block's figures come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Basis {
    /// Measured on this machine (or the same model).
    Measured,
    /// Measured on another model of the same core, named.
    LikeModel(String),
    /// Nothing measured: published figures for the core, where any.
    Published,
}

impl Basis {
    pub fn label(&self) -> String {
        match self {
            Basis::Measured => "measured".into(),
            Basis::LikeModel(m) => format!("measured (like model: {m})"),
            Basis::Published => "published figures only (nothing measured)".into(),
        }
    }
}

/// The sizing of one CPU model.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    pub title: String,
    /// The short CPU label, used by the recommendation.
    pub cpu_label: String,
    /// "bare metal", "KVM guest", ...: where the figures were measured.
    pub host: String,
    /// The asked-for CPU (a dump), not a measured machine.
    pub dump: bool,
    pub basis: Basis,
    pub costs: Costs,
    /// The straight answer, a few lines.
    pub answer: Vec<String>,
    /// `--explain`: the rules with sources, ingredients, caveats.
    pub detail: Vec<String>,
}

impl Block {
    /// A figure measured on bare metal of this very CPU model: the only
    /// kind a hardware pick may rest on.
    pub fn bare_metal_measurement(&self) -> bool {
        self.basis == Basis::Measured && self.host == crate::model::machine::BARE_METAL
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Sizing {
    pub profile: Profile,
    /// The asked-for CPU first, then the measured machines.
    pub blocks: Vec<Block>,
    pub recommendation: String,
}

/// A CPU without results (from a CPUID dump) to size by proxy.
pub struct DumpTarget<'a> {
    pub file_name: String,
    pub cpu: &'a CpuFacts,
    /// `harness::verdict` for that CPU (platform unknown).
    pub verdict: &'a Verdict,
}

/// Sizes `profile` on every machine in `files`, and `dump` (first) by
/// its closest measured model when given.
pub fn size(profile: &Profile, files: &[ResultFile], dump: Option<DumpTarget>) -> Sizing {
    let machines = machine::group(files);
    let mut blocks = Vec::new();
    if let Some(d) = dump {
        blocks.push(size_dump(profile, &machines, &d));
    }
    blocks.extend(machines.iter().map(|m| size_measured(profile, m)));
    let recommendation = answer::recommend(profile, &blocks);
    Sizing {
        profile: profile.clone(),
        blocks,
        recommendation,
    }
}

/// The kernel facts of a measured machine.
pub fn machine_facts(m: &Machine) -> KernelFacts {
    let env = &m.latest().environment;
    KernelFacts::of(
        m.cpu(),
        env.platform.as_ref(),
        m.pti().or(env.verdict.pti_needed),
    )
}

/// The cost model of a measured machine for `profile` (the break-even
/// plots sweep this).
pub fn machine_costs(profile: &Profile, m: &Machine) -> Costs {
    cost::model(&cost::Input {
        profile,
        cpu: m.cpu(),
        facts: machine_facts(m),
        measured: Some(cost::Measured {
            machine: m,
            like: None,
        }),
    })
}

fn size_measured(profile: &Profile, m: &Machine) -> Block {
    let facts = machine_facts(m);
    let costs = machine_costs(profile, m);
    let mut detail = answer::rules(&facts, &costs);
    detail.extend(answer::ingredients(&costs));
    detail.extend(answer::published(&facts.core));
    detail.extend(host_notes(m));
    Block {
        title: m.title(),
        cpu_label: m.cpu_label.clone(),
        host: m.host.clone(),
        dump: false,
        basis: Basis::Measured,
        answer: answer::lines(profile, &facts, &costs, &m.host, None),
        costs,
        detail,
    }
}

/// Sizes a CPU known only from a dump, with the first source that
/// applies: measured results of the same model, of a like model (same
/// core), else published priors for the core; the CPU's own facts
/// (features, PTI by the Meltdown rule) decide what runs.
fn size_dump(profile: &Profile, machines: &[Machine], d: &DumpTarget) -> Block {
    let label = machine::cpu_label(d.cpu);
    let core = kernel_rules::core_name(&d.cpu.uarch).to_string();
    let same = machines.iter().find(|m| same_model(m.cpu(), d.cpu));
    let like = machines.iter().find(|m| {
        core != "unknown"
            && m.cpu().vendor == d.cpu.vendor
            && kernel_rules::core_name(&m.cpu().uarch) == core
    });
    let facts = KernelFacts::of(d.cpu, None, d.verdict.pti_needed);
    let (basis, measured) = match (same, like) {
        (Some(m), _) => (Basis::Measured, Some(m)),
        (None, Some(m)) => (Basis::LikeModel(m.cpu_label.clone()), Some(m)),
        (None, None) => (Basis::Published, None),
    };
    let costs = cost::model(&cost::Input {
        profile,
        cpu: d.cpu,
        facts: facts.clone(),
        measured: measured.map(|m| cost::Measured {
            machine: m,
            like: match &basis {
                Basis::LikeModel(l) => Some(l.clone()),
                _ => None,
            },
        }),
    });
    let host = measured.map(|m| m.host.clone()).unwrap_or_default();
    let meltdown = kernel_rules::meltdown(d.cpu);
    let mut detail = vec![format!(
        "{}: {}; a default kernel runs {}PTI.",
        if meltdown.affected {
            "Meltdown-affected"
        } else {
            "Not affected by Meltdown"
        },
        meltdown.why,
        if meltdown.affected { "" } else { "without " }
    )];
    detail.extend(answer::rules(&facts, &costs));
    detail.extend(answer::ingredients(&costs));
    detail.extend(answer::published(&core));
    match measured {
        Some(m) => {
            detail.push(format!(
                "Figures {}: TSC time of that machine, not scaled to this one; features and PTI from the dump.",
                basis.label()
            ));
            detail.extend(host_notes(m));
        }
        None => detail.push(format!(
            "Nothing measured on this model or its core ({core}). To measure it, run on that machine: `entrybench run` (with the module for the flush: `entrybench kmod load` first), then `entrybench size --profile P results/*.json`."
        )),
    }
    let title = format!("{label} (CPUID dump {})", d.file_name);
    let answer = answer::lines(profile, &facts, &costs, &host, Some(&meltdown.why));
    Block {
        title,
        cpu_label: label,
        host,
        dump: true,
        basis,
        costs,
        answer,
        detail,
    }
}

/// Same CPU model: vendor, family, model and core (model 0x55 alone is
/// Skylake-SP, Cascade Lake or Cooper Lake), and the same part by its
/// brand: a Gold 6248's figures are not a Gold 5218's (other clocks,
/// cores and caches), so they size it as a like model, named.
fn same_model(a: &CpuFacts, b: &CpuFacts) -> bool {
    a.vendor == b.vendor
        && a.family == b.family
        && a.model == b.model
        && a.uarch == b.uarch
        && machine::short_brand(&a.brand) == machine::short_brand(&b.brand)
}

/// Caveats of how the machine was measured.
fn host_notes(m: &Machine) -> Vec<String> {
    let mut notes = Vec::new();
    if m.files.iter().any(|f| !f.placement.victim_isolated) {
        notes.push(
            "Victim CPU was not isolated: IPI figures include scheduler and timer noise.".into(),
        );
    }
    if let Some(h) = m.cpu().hypervisor.as_deref() {
        notes.push(if h == "TCG" {
            "Measured under QEMU TCG emulation: not hardware timing.".to_string()
        } else {
            format!(
                "Measured in a {h} guest: an IPI goes through the hypervisor, and paravirt TLB flush may skip preempted vCPUs; these are guest costs, not a hardware pick."
            )
        });
    }
    notes
}

/// The strategy table of one block.
fn strategy_table(b: &Block, budget_us: f64) -> Table {
    let mut t = Table::new(
        "",
        &[
            "strategy", "ns/event", "%CPU", "worst us", "budget", "runs", "from",
        ],
    );
    for c in &b.costs.costs {
        let label = c.strategy.label();
        if let Outcome::PricedAs(other) = &c.outcome {
            // No figures of its own: the other row is how it runs here.
            t.push_spanning(
                vec![
                    label,
                    format!("see {}", other.label()),
                    String::new(),
                    String::new(),
                    String::new(),
                    c.runs.short().into(),
                    "-".into(),
                ],
                1,
                4,
            );
            continue;
        }
        let row = match &c.outcome {
            Outcome::Figures(f) => vec![
                label,
                units::num(f.per_event_ns),
                units::pct(f.pct_cpu),
                format!(
                    "{}{}",
                    if f.worst_is_lower_bound { ">=" } else { "" },
                    units::num(f.worst_us)
                ),
                c.budget_cell(budget_us).into(),
                c.runs.short().into(),
                f.from().into(),
            ],
            Outcome::Missing(_) | Outcome::PricedAs(_) => vec![
                label,
                "-".into(),
                "-".into(),
                "-".into(),
                "-".into(),
                c.runs.short().into(),
                "-".into(),
            ],
        };
        t.push(row);
    }
    t
}

/// What the table's cells mean, printed once under the blocks.
const LEGEND: &str = "ns/event: per kernel entry (series, proposal, pti=on) or per flush event (IPI, INVLPGB); \"see R\": runs here only as row R, which carries its price (with PTI off, v6/v7 runs only with pti=on, whose own cost that row adds). budget: ok = worst added latency within the budget and under 100% of a CPU, >= = only a median is known (a lower bound), ? = within the budget on a lower bound. runs: yes = on this kernel today; patch = with the series applied (not merged); pti=on = only with the series and pti=on; no = does not run here; idea = a review proposal, not posted code; n/a = not used by Linux; ? = not known here (PTI state or kernel release). from: meas = measured here (TSC time), scen = measured here as a whole in a scenario.* run (measured (scenario)), like = measured on a like model, pub = published (source in --explain), asm = assumed, mix = parts of several kinds.";

/// Text answer, 72 columns: the workload, then per CPU the answer and
/// its table, the recommendation, and with `explain` the detail.
pub fn render_text(s: &Sizing, explain: bool) -> String {
    let p = &s.profile;
    let mut out = String::new();
    let name = if p.name.is_empty() {
        String::new()
    } else {
        format!(" \"{}\"", p.name)
    };
    para(
        &mut out,
        &format!(
            "entrybench size: workload{name}: {} syscalls/s and {} flush events/s per isolated CPU, working set {} pages, latency budget {} us.",
            units::num(p.syscalls_per_sec),
            units::num(p.flush_events_per_sec),
            p.working_set_pages,
            units::num(p.latency_budget_us),
        ),
        "  ",
    );
    for b in &s.blocks {
        out.push('\n');
        para(&mut out, &format!("== {}", b.title), "   ");
        para(&mut out, &format!("Figures: {}", b.basis.label()), "  ");
        for l in &b.answer {
            para(&mut out, l, "  ");
        }
        out.push_str(&Text.table(&strategy_table(b, p.latency_budget_us)));
        if explain {
            for n in &b.detail {
                para(&mut out, &format!("- {n}"), "  ");
            }
        }
    }
    out.push('\n');
    para(
        &mut out,
        &format!("Recommendation: {}", s.recommendation),
        "  ",
    );
    para(&mut out, LEGEND, "  ");
    if explain {
        out.push('\n');
        out.push_str(EQUATIONS);
        out.push('\n');
    } else {
        para(
            &mut out,
            "--explain: the kernel rules with their sources, every figure's ingredients and labels, the equations.",
            "  ",
        );
    }
    out
}

/// Appends `text` wrapped to 72 columns; `indent` starts continuation
/// lines.
fn para(out: &mut String, text: &str, indent: &str) {
    for l in wrap(text, WIDTH, indent) {
        out.push_str(&l);
        out.push('\n');
    }
}

/// Checks a `render_text` output: in every block, each "<strategy>: <%>
/// of a CPU, worst <us> us, <budget>" the answer quotes equals that
/// strategy's row of the table (budget word included), the strategy the
/// "Answer:" line picks as running today within the budget is a row
/// that runs today and fits, and the answer quotes at least one row. For
/// the tests of every dump and profile (here so both crates' tests share
/// it).
#[doc(hidden)]
pub fn check_table_against_answer(text: &str) -> Result<usize, String> {
    let mut checked = 0;
    for block in text.split("\n== ").skip(1) {
        let lines: Vec<&str> = block.lines().collect();
        let Some(head) = lines.iter().position(|l| l.starts_with("strategy ")) else {
            continue;
        };
        let answer = lines[..head].join(" ");
        let answer = answer.split_whitespace().collect::<Vec<_>>().join(" ");
        let widths: Vec<usize> = lines[head + 1].split("  ").map(str::len).collect();
        let mut quoted = 0;
        let has_pti_row = lines[head + 2..]
            .iter()
            .take_while(|r| !r.starts_with("- ") && !r.trim().is_empty())
            .any(|r| r.starts_with("pti=on + "));
        for row in &lines[head + 2..] {
            if row.starts_with("- ") || row.trim().is_empty() {
                break;
            }
            let mut cells = Vec::new();
            let mut at = 0;
            for w in &widths {
                let end = (at + w).min(row.len());
                cells.push(row.get(at..end).unwrap_or("").trim());
                at = end + 2;
            }
            let (label, pct, worst, budget, runs) =
                (cells[0], cells[2], cells[3], cells[4], cells[5]);
            // Only the honest row carries a price: a series row that runs
            // here only with pti=on shows none, where a pti=on row exists.
            let spans_see = row.contains("  see ");
            if label == "series v6/v7" && runs == "pti=on" && has_pti_row && !spans_see {
                return Err(format!(
                    "block {:?}: {label} is priced, though it runs here only as pti=on + v6/v7",
                    lines[0]
                ));
            }
            if spans_see {
                for (i, _) in answer.match_indices(&format!("{label}: ")) {
                    if !answer[i..].starts_with(&format!("{label}: see ")) {
                        return Err(format!(
                            "block {:?}: {label} has no figures, the answer quotes some",
                            lines[0]
                        ));
                    }
                    quoted += 1;
                }
                continue;
            }
            let verdict = match budget {
                "ok" => "within budget",
                "OVER" => "over budget",
                _ => "budget unknown",
            };
            let want = format!("{label}: {pct} of a CPU, worst {worst} us, {verdict}");
            if answer.contains(&format!("Answer: {label} is the cheapest that runs today"))
                && (runs != "yes" || budget != "ok")
            {
                return Err(format!(
                    "block {:?}: the answer picks {label}, whose row says runs {runs}, budget {budget}",
                    lines[0]
                ));
            }
            for (i, _) in answer.match_indices(&format!("{label}: ")) {
                let said = &answer[i..];
                if said.starts_with(&format!("{label}: not priced")) && pct == "-" {
                    quoted += 1;
                    continue;
                }
                if !said.starts_with(&want) {
                    return Err(format!(
                        "block {:?}: the table says {want:?}, the answer {:?}",
                        lines[0],
                        &said[..said.len().min(want.len() + 20)]
                    ));
                }
                quoted += 1;
            }
        }
        if quoted == 0 {
            return Err(format!("block {:?}: the answer quotes no row", lines[0]));
        }
        checked += quoted;
    }
    Ok(checked)
}

#[cfg(test)]
mod tests;
