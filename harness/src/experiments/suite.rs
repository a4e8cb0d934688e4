//! Which experiments a run has, with how many samples, and `--only`
//! selection.

use super::refill::RefillExperiment;
use super::Experiment;
use std::time::Duration;

/// Default working-set sizes of `refill.wN`, pages.
pub const DEFAULT_PAGES: [usize; 6] = [1, 16, 64, 256, 1024, 4096];
/// Default IPI rate: one per ms is far above the posted real-world noise
/// (one per ~2 min) and far below what saturates the victim.
pub const DEFAULT_RATE_HZ: f64 = 1000.0;

/// Working set the scenario victim walks every iteration, pages: inside
/// the TLB's reach of every current core, so a flush shows as refills.
pub const DEFAULT_SCENARIO_PAGES: usize = 64;

/// The system call of the scenario victim's loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ScenarioCall {
    /// getppid (default): what `perf bench syscall basic` makes.
    Getppid,
    Getpid,
    /// System call -1 (ENOSYS): the bare entry and exit.
    Null,
}

impl ScenarioCall {
    pub fn call(self) -> workloads::sys::NoArgCall {
        use workloads::sys::NoArgCall;
        match self {
            ScenarioCall::Getppid => NoArgCall::Getppid,
            ScenarioCall::Getpid => NoArgCall::Getpid,
            ScenarioCall::Null => NoArgCall::Invalid,
        }
    }
}

/// How the headline entry.* experiments make their system call (the
/// `.inline` rows always use the bare instruction).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SyscallPath {
    /// glibc's syscall(), as programs and `perf bench syscall basic` make
    /// it (default).
    Libc,
    /// The instruction in a called, non-inlined function: the call and
    /// return without glibc's wrapper.
    Call,
    /// The instruction inline: the entry alone, no return after sysret.
    Inline,
}

/// How much each experiment measures.
#[derive(Debug, Clone, PartialEq)]
pub struct SuiteConfig {
    pub quick: bool,
    /// Timed regions (samples) per entry.* / timer.overhead / vdso.*
    /// experiment, at least 100 per block.
    pub entry_samples: usize,
    /// Untimed operations before them.
    pub entry_warmup: usize,
    /// Back-to-back operations per timed region of entry.* and vdso.*
    /// (timer.overhead is always 1): a sample is the mean per operation
    /// of one batch. None: chosen per experiment so the timer step is
    /// under 2% of a region (`entry::auto_batch`).
    pub entry_batch: Option<usize>,
    /// How entry.* enter the kernel.
    pub syscall: SyscallPath,
    /// Working-set sizes for refill.wN.
    pub refill_pages: Vec<usize>,
    /// (flushed, plain) sample pairs per refill.wN.
    pub refill_pairs: usize,
    pub ipi_rate_hz: f64,
    /// Firing time per ipi.* experiment.
    pub ipi_duration: Duration,
    /// ipi.* skip their traced check phase (`ipi_check`): the timing
    /// rule's tolerance is then fitted against the control, and its
    /// false matches estimated from it.
    pub no_trace_check: bool,
    /// Where ipi.* write what they were matched from (`ipi_dump`).
    pub dump_ipi: Option<std::path::PathBuf>,
    /// Triggered time per scenario.* experiment (its interleaved baseline
    /// runs as long again; scenario.none runs it once).
    pub scenario_duration: Duration,
    /// Pages the scenario victim walks per iteration.
    pub scenario_pages: usize,
    /// The scenario victim's system call.
    pub scenario_call: ScenarioCall,
}

impl SuiteConfig {
    /// `run --quick`: about 20 s on a 2-vCPU guest.
    pub fn quick() -> SuiteConfig {
        SuiteConfig {
            quick: true,
            entry_samples: 100_000,
            entry_warmup: 20_000,
            entry_batch: None,
            syscall: SyscallPath::Libc,
            refill_pages: DEFAULT_PAGES.to_vec(),
            refill_pairs: 200,
            ipi_rate_hz: DEFAULT_RATE_HZ,
            ipi_duration: Duration::from_secs(1),
            no_trace_check: false,
            dump_ipi: None,
            scenario_duration: Duration::from_millis(500),
            scenario_pages: DEFAULT_SCENARIO_PAGES,
            scenario_call: ScenarioCall::Getppid,
        }
    }

    /// The full suite: about two minutes, under the 3-minute budget.
    pub fn full() -> SuiteConfig {
        SuiteConfig {
            quick: false,
            entry_samples: 500_000,
            entry_warmup: 100_000,
            entry_batch: None,
            syscall: SyscallPath::Libc,
            refill_pages: DEFAULT_PAGES.to_vec(),
            refill_pairs: 2000,
            ipi_rate_hz: DEFAULT_RATE_HZ,
            ipi_duration: Duration::from_secs(10),
            no_trace_check: false,
            dump_ipi: None,
            scenario_duration: Duration::from_secs(3),
            scenario_pages: DEFAULT_SCENARIO_PAGES,
            scenario_call: ScenarioCall::Getppid,
        }
    }
}

/// A backend's experiment list; empty when the backend is unavailable.
pub type Backend = fn(&SuiteConfig) -> Vec<Box<dyn Experiment>>;

/// Every backend, in run order. A new backend appends its function here.
pub const BACKENDS: &[Backend] = &[userspace, super::kmod::suite];

/// The userspace backend: always available.
pub fn userspace(cfg: &SuiteConfig) -> Vec<Box<dyn Experiment>> {
    let mut v: Vec<Box<dyn Experiment>> = Vec::new();
    for e in super::entry::all() {
        v.push(Box::new(e) as Box<dyn Experiment>);
    }
    for &p in &cfg.refill_pages {
        v.push(Box::new(RefillExperiment::new(p)));
    }
    for e in super::ipi::user_all() {
        v.push(Box::new(e));
    }
    v.push(Box::new(super::text_poke::TextPokeExperiment));
    for e in super::deferred::all() {
        v.push(Box::new(e));
    }
    for e in super::scenario::userspace_all() {
        v.push(Box::new(e));
    }
    v
}

/// All experiments of all backends.
pub fn all(cfg: &SuiteConfig) -> Vec<Box<dyn Experiment>> {
    BACKENDS.iter().flat_map(|b| b(cfg)).collect()
}

/// `--only`: comma-separated patterns; each is a glob (`*`, `?`) when it
/// has one of those, else a substring of the id.
pub fn selected(pattern: &str, id: &str) -> bool {
    parts(pattern).any(|p| matches(p, id))
}

fn parts(pattern: &str) -> impl Iterator<Item = &str> {
    pattern.split(',').map(str::trim).filter(|p| !p.is_empty())
}

fn matches(part: &str, id: &str) -> bool {
    if part.contains(['*', '?']) {
        glob(part, id)
    } else {
        id.contains(part)
    }
}

/// The experiments `--only` selects, in suite order. A pattern that is
/// exactly some id selects only that id (`refill.w1` is not also
/// refill.w16); other patterns as in `selected`.
pub fn filter(list: Vec<Box<dyn Experiment>>, pattern: &str) -> Vec<Box<dyn Experiment>> {
    let ids = ids(&list);
    let exact: Vec<&str> = parts(pattern)
        .filter(|p| ids.iter().any(|i| i == p))
        .collect();
    list.into_iter()
        .filter(|e| {
            // The user's pattern is text: it matches the id as written.
            let id = e.id().to_string();
            parts(pattern).any(|p| {
                if exact.contains(&p) {
                    id == p
                } else {
                    matches(p, &id)
                }
            })
        })
        .collect()
}

/// Glob match of the whole id: `*` any run, `?` one character; every
/// other character, `[` and `]` too, stands for itself (ids have no
/// character classes, and a bracket in `--only` is not one).
fn glob(pattern: &str, id: &str) -> bool {
    let mut p = String::with_capacity(pattern.len());
    for c in pattern.chars() {
        match c {
            '[' => p.push_str("[[]"),
            ']' => p.push_str("[]]"),
            // A run of stars is one star (the glob crate reads `**` as a
            // path component of its own and refuses it elsewhere).
            '*' if p.ends_with('*') => {}
            _ => p.push(c),
        }
    }
    // With the brackets escaped and the stars single, every pattern
    // compiles; a refusal would select nothing rather than panic.
    glob::Pattern::new(&p).is_ok_and(|p| p.matches(id))
}

/// Ids of a list, for messages.
pub fn ids(list: &[Box<dyn Experiment>]) -> Vec<String> {
    list.iter().map(|e| e.id().to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_and_substrings() {
        assert!(selected("entry.*", "entry.null"));
        assert!(!selected("entry.*", "vdso.clock_gettime"));
        assert!(selected("null", "entry.null"));
        assert!(selected("refill.w?", "refill.w1"));
        assert!(!selected("refill.w?", "refill.w16"));
        assert!(selected("ipi.*.mprotect", "ipi.user.mprotect"));
        assert!(selected("timer.overhead, ipi.user.*", "ipi.user.madvise"));
        assert!(selected("*", "anything"));
        assert!(!selected("", "entry.null"));
        // A glob must match the whole id.
        assert!(!selected("entry", "vdso.x") && !selected("entry.n*x", "entry.null"));
        // Runs of stars are one star; brackets are plain characters.
        assert!(selected("entry.**", "entry.null") && selected("**", "x"));
        assert!(selected("a[b*", "a[bc") && selected("a]?", "a]b"));
        assert!(!selected("entry.[n]*", "entry.null"));
        assert!(selected("*.*.mprotect", "ipi.user.mprotect"));
        assert!(!selected("?", "") && selected("*", ""));
    }

    #[test]
    fn exact_ids_select_only_themselves() {
        let cfg = SuiteConfig::quick();
        let pick = |p: &str| ids(&filter(userspace(&cfg), p));
        assert_eq!(pick("refill.w1"), ["refill.w1"]);
        assert_eq!(pick("refill.w1,entry.null"), ["entry.null", "refill.w1"]);
        assert_eq!(pick("w1"), ["refill.w1", "refill.w16", "refill.w1024"]);
        assert_eq!(pick("entry.get*").len(), 4);
        assert_eq!(pick("entry.getppid"), ["entry.getppid"]);
        assert_eq!(pick("*.inline").len(), 3);
        assert!(pick("nothing").is_empty());
    }

    #[test]
    fn userspace_suite_has_every_design_id() {
        let cfg = SuiteConfig::quick();
        let ids = ids(&all(&cfg));
        for want in [
            "timer.overhead",
            "entry.null",
            "entry.getpid",
            "entry.getppid",
            "entry.null.inline",
            "entry.getpid.inline",
            "entry.getppid.inline",
            "entry.return_after_sysret",
            "vdso.clock_gettime",
            "refill.w1",
            "refill.w4096",
            "ipi.user.mprotect",
            "ipi.user.munmap",
            "ipi.user.madvise",
            "ipi.user.membarrier",
            "ipi.kernel.text_poke",
            "scenario.none",
            "scenario.user.mprotect",
            "scenario.user.membarrier",
            "scenario.kernel.text_poke",
        ] {
            assert!(ids.iter().any(|i| i == want), "{want} missing from {ids:?}");
        }
        let mut dedup = ids.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(dedup.len(), ids.len(), "duplicate ids: {ids:?}");
    }

    #[test]
    fn quick_is_smaller_than_full() {
        let (q, f) = (SuiteConfig::quick(), SuiteConfig::full());
        assert!(q.entry_samples < f.entry_samples && q.ipi_duration < f.ipi_duration);
        assert!(q.quick && !f.quick);
    }
}
