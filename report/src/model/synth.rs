//! Synthetic result files for tests, golden files and the benchmark.
//!
//! There are no real result files of these CPUs in the tree, so the
//! fixtures under `testdata/results/synthetic-*.json` are made here from a
//! fixed seed: plausible magnitudes (the thread's getpid figures, KVM IPI
//! costs several times bare metal), never measurements. Everything they
//! say is labelled synthetic in `host` and `tool`.

use crate::model::ids::{EntryCall, EntryTiming, FlushVariant, Ipi, KmodIpi, UserIpi, VdsoCall};
use crate::model::schema::*;
use crate::model::stats::{delta_median_ci95, summarize};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;

/// Shape of one synthetic machine.
struct Spec {
    file: &'static str,
    created: &'static str,
    vendor: &'static str,
    family: u32,
    model: u32,
    stepping: u32,
    brand: &'static str,
    uarch: &'static str,
    hypervisor: Option<&'static str>,
    tsc_hz: f64,
    tsc_hz_source: &'static str,
    kernel: &'static str,
    pti: bool,
    isolated: bool,
    partial: bool,
    invpcid: bool,
    invlpgb: bool,
    rdcl_no: Option<bool>,
    kmod: bool,
    /// Cycles: null entry, getppid, getpid, vdso.
    entry: [f64; 4],
    /// Cycles of one flush on entry, per variant (cr3_flush, invpcid2,
    /// cr4_pge).
    flush: [f64; 3],
    /// Refill cycles per page (first 64 pages, then beyond STLB reach).
    refill_per_page: [f64; 2],
    /// Victim interruption median per IPI, cycles.
    ipi_victim: f64,
    /// Initiator cost per call, cycles.
    ipi_initiator: f64,
    seed: u64,
}

const VARIANTS: [FlushVariant; 3] = [
    FlushVariant::Cr3Flush,
    FlushVariant::Invpcid2,
    FlushVariant::Cr4Pge,
];
const REFILL_PAGES: [u64; 6] = [1, 8, 64, 256, 1024, 4096];
const ENTRY_FLUSH_PAGES: u64 = 64;
const SAMPLES: usize = 2000;

fn specs() -> Vec<Spec> {
    vec![
        Spec {
            file: "synthetic-genoa-kvm.json",
            created: "2026-11-20T10:00:00Z",
            vendor: "AuthenticAMD",
            family: 0x19,
            model: 0x11,
            stepping: 1,
            brand: "AMD EPYC 9654 96-Core Processor",
            uarch: "Zen 4",
            hypervisor: Some("KVM"),
            tsc_hz: 2.4e9,
            tsc_hz_source: "hypervisor",
            kernel: "6.15.0-synthetic",
            pti: false,
            isolated: true,
            partial: false,
            invpcid: true,
            invlpgb: true,
            rdcl_no: None,
            kmod: true,
            entry: [190.0, 215.0, 230.0, 52.0],
            flush: [310.0, 420.0, 560.0],
            refill_per_page: [18.0, 41.0],
            ipi_victim: 9200.0,
            ipi_initiator: 4100.0,
            seed: 1,
        },
        Spec {
            // Cascade Lake is family 6 model 0x55 like the Skylake server,
            // a later stepping: the same kind of bare-metal Intel box.
            file: "synthetic-cascadelake-baremetal-pti-off.json",
            created: "2026-11-20T11:00:00Z",
            stepping: 7,
            brand: "Intel(R) Xeon(R) Gold 6248 CPU @ 2.50GHz",
            uarch: "Cascade Lake",
            tsc_hz: 2.5e9,
            kernel: "5.14.0-synthetic",
            pti: false,
            rdcl_no: Some(true),
            entry: [610.0, 660.0, 675.0, 48.0],
            flush: [260.0, 380.0, 520.0],
            refill_per_page: [22.0, 48.0],
            ipi_victim: 3100.0,
            ipi_initiator: 1900.0,
            seed: 2,
            ..skylake_pti()
        },
        skylake_pti(),
        Spec {
            // The same Skylake with flush-on-entry applied (the "after" of
            // the thread's getpid 770 -> 1340 ns row): user backend only.
            file: "synthetic-skylake-pti-coalesce.json",
            created: "2026-11-21T12:00:00Z",
            kernel: "6.12.0-synthetic-coalesce",
            kmod: false,
            entry: [2670.0, 2790.0, 2814.0, 50.0],
            flush: [0.0; 3],
            ipi_victim: 3650.0,
            seed: 4,
            ..skylake_pti()
        },
        Spec {
            file: "synthetic-tcg-partial.json",
            created: "2026-11-22T09:00:00Z",
            vendor: "AuthenticAMD",
            family: 6,
            model: 6,
            stepping: 3,
            brand: "QEMU Virtual CPU version 2.5+",
            uarch: "unknown",
            hypervisor: Some("TCG"),
            tsc_hz: 1.0e9,
            tsc_hz_source: "measured",
            kernel: "6.1.0-synthetic",
            pti: false,
            isolated: false,
            partial: true,
            invpcid: false,
            invlpgb: false,
            rdcl_no: None,
            kmod: false,
            entry: [5200.0, 5900.0, 6100.0, 900.0],
            flush: [0.0; 3],
            refill_per_page: [150.0, 160.0],
            ipi_victim: 60000.0,
            ipi_initiator: 30000.0,
            seed: 5,
        },
    ]
}

/// The PTI Skylake server, the base of the "before" and "after" fixtures.
fn skylake_pti() -> Spec {
    Spec {
        file: "synthetic-skylake-pti.json",
        created: "2026-11-20T12:00:00Z",
        vendor: "GenuineIntel",
        family: 6,
        model: 0x55,
        stepping: 4,
        brand: "Intel(R) Xeon(R) Platinum 8160 CPU @ 2.10GHz",
        uarch: "Skylake",
        hypervisor: None,
        tsc_hz: 2.1e9,
        tsc_hz_source: "cpuid",
        kernel: "6.12.0-synthetic",
        pti: true,
        isolated: true,
        partial: false,
        invpcid: true,
        invlpgb: false,
        rdcl_no: Some(false),
        kmod: true,
        entry: [1480.0, 1590.0, 1617.0, 50.0],
        flush: [900.0, 1190.0, 1450.0],
        refill_per_page: [24.0, 55.0],
        ipi_victim: 3600.0,
        ipi_initiator: 2300.0,
        seed: 3,
    }
}

/// Samples around `median`: small uniform jitter plus a 1% tail up to 4x,
/// the shape timing data has.
fn samples(rng: &mut SmallRng, median: f64, n: usize) -> Vec<i64> {
    (0..n)
        .map(|_| {
            let jitter = median * 0.04 * (rng.random::<f64>() - 0.5) + rng.random::<f64>() * 4.0;
            let tail = if rng.random::<f64>() < 0.01 {
                median * rng.random_range(0.5..3.0)
            } else {
                0.0
            };
            (median + jitter + tail).round() as i64
        })
        .collect()
}

fn plain(id: ExperimentId, backend: &str, mut s: Vec<i64>) -> Experiment {
    let samples = Histogram::from_samples(&s);
    let params = BTreeMap::from([("iterations".into(), serde_json::json!(s.len()))]);
    Experiment::plain(id, backend, params, summarize(&mut s), samples)
}

fn differential(
    id: ExperimentId,
    backend: &str,
    label: &str,
    mut s: Vec<i64>,
    mut b: Vec<i64>,
) -> Experiment {
    let mut e = plain(id, backend, s.clone());
    s.sort_unstable();
    b.sort_unstable();
    let (delta_median, delta_ci95) = delta_median_ci95(&s, &b);
    let bh = Histogram::from_samples(&b);
    e.baseline = Some(Baseline {
        label: label.into(),
        summary: summarize(&mut b),
        samples: bh,
        delta_median,
        delta_ci95,
    });
    e
}

fn refill_cost(sp: &Spec, pages: u64) -> f64 {
    let p = pages as f64;
    sp.refill_per_page[0] * p.min(64.0) + sp.refill_per_page[1] * (p - 64.0).max(0.0)
}

fn ipi(rng: &mut SmallRng, sp: &Spec, ipi: Ipi, scale: f64, cal: bool) -> Experiment {
    let n = 1000;
    let mut e = plain(
        ExperimentId::Ipi(ipi),
        ipi.backend(),
        samples(rng, sp.ipi_victim * scale, n),
    );
    let mut init = samples(rng, sp.ipi_initiator * scale, n);
    // A KVM guest with paravirt flush misses some IPIs (preempted vCPUs).
    let seen = if sp.hypervisor == Some("KVM") {
        0.93
    } else {
        1.0
    };
    let rows = (n as f64 / seen).round() as u64;
    e.params.insert("rate_hz".into(), serde_json::json!(200.0));
    e.ipi = Some(IpiStats {
        method: ipi.method().into(),
        rate_hz: 200.0,
        duration_s: 5.0,
        threshold_cycles: 200,
        interruptions_seen: n as u64,
        tlb_delta: if cal { 0 } else { rows },
        cal_delta: if cal { rows } else { 0 },
        seen_ratio: n as f64 / rows as f64,
        initiator: summarize(&mut init),
        false_match_rate: None,
        burst: None,
    });
    e
}

fn build(sp: &Spec) -> ResultFile {
    let mut rng = SmallRng::seed_from_u64(sp.seed);
    let mut ex = vec![plain(
        ExperimentId::TimerOverhead,
        "user",
        samples(&mut rng, 0.0, SAMPLES),
    )];
    for (call, c) in [EntryCall::Null, EntryCall::Getppid, EntryCall::Getpid]
        .into_iter()
        .zip(sp.entry)
    {
        ex.push(plain(
            ExperimentId::Entry(call),
            "user",
            samples(&mut rng, c, SAMPLES),
        ));
    }
    ex.push(plain(
        ExperimentId::Vdso(VdsoCall::ClockGettime),
        "user",
        samples(&mut rng, sp.entry[3], SAMPLES),
    ));
    if sp.partial {
        // An interrupted run: only the first experiments completed.
        return file(sp, ex);
    }
    let walk = 4.0;
    for pages in REFILL_PAGES {
        let base = walk * pages as f64;
        let flushed = base + refill_cost(sp, pages);
        ex.push(differential(
            ExperimentId::Refill(pages),
            "user",
            "walk after an entry without flush",
            samples(&mut rng, flushed, SAMPLES),
            samples(&mut rng, base, SAMPLES),
        ));
    }
    for (m, scale) in [
        (UserIpi::Mprotect, 1.0),
        (UserIpi::Munmap, 1.1),
        (UserIpi::Madvise, 1.05),
    ] {
        ex.push(ipi(&mut rng, sp, Ipi::User(m), scale, false));
    }
    ex.push(ipi(&mut rng, sp, Ipi::User(UserIpi::Membarrier), 0.7, true));
    if sp.kmod {
        let nop = 700.0;
        ex.push(plain(
            ExperimentId::FlushKernel(FlushVariant::Nop),
            "kmod",
            samples(&mut rng, 2.0, SAMPLES),
        ));
        for (v, c) in VARIANTS.iter().zip(sp.flush) {
            ex.push(plain(
                ExperimentId::FlushKernel(v.clone()),
                "kmod",
                samples(&mut rng, c * 0.8, SAMPLES),
            ));
        }
        for (v, c) in VARIANTS.iter().zip(sp.flush) {
            for pages in [0, ENTRY_FLUSH_PAGES] {
                let walk_c = walk * pages as f64;
                let mut e = differential(
                    ExperimentId::entry_flush(v.clone(), pages, EntryTiming::Dispatch),
                    "kmod",
                    "nop ioctl",
                    samples(&mut rng, nop + walk_c + c + refill_cost(sp, pages), SAMPLES),
                    samples(&mut rng, nop + walk_c, SAMPLES),
                );
                e.params.insert("pages".into(), serde_json::json!(pages));
                e.params
                    .insert("variant".into(), serde_json::json!(v.name()));
                ex.push(e);
            }
        }
        for (m, scale) in [
            (KmodIpi::FlushAll, 1.0),
            (KmodIpi::KernelRange, 1.15),
            (KmodIpi::SyncCore, 0.8),
        ] {
            ex.push(ipi(&mut rng, sp, Ipi::Kmod(m), scale, true));
        }
    }
    file(sp, ex)
}

fn file(sp: &Spec, experiments: Vec<Experiment>) -> ResultFile {
    let variants: Vec<String> = VARIANTS
        .iter()
        .filter(|v| **v != FlushVariant::Invpcid2 || sp.invpcid)
        .map(|v| v.name().to_string())
        .collect();
    let pti_needed = if sp.vendor == "GenuineIntel" {
        sp.rdcl_no.map(|r| !r)
    } else {
        Some(false)
    };
    let broadcast = if sp.invlpgb {
        vec!["INVLPGB".to_string()]
    } else {
        vec![]
    };
    let mut mitigations = BTreeMap::new();
    mitigations.insert(
        "meltdown".to_string(),
        if sp.pti {
            "Mitigation: PTI".to_string()
        } else {
            "Not affected".to_string()
        },
    );
    ResultFile {
        schema_version: SCHEMA_VERSION,
        tool: "entrybench 0.1.0 (synthetic fixture)".into(),
        created: sp.created.into(),
        host: format!("synthetic-{}", sp.seed),
        partial: sp.partial,
        options: BTreeMap::from([("synthetic".to_string(), "true".to_string())]),
        environment: Environment {
            cpu: CpuFacts {
                source: "live".into(),
                vendor: sp.vendor.into(),
                family: sp.family,
                model: sp.model,
                stepping: sp.stepping,
                brand: sp.brand.into(),
                uarch: sp.uarch.into(),
                hypervisor: sp.hypervisor.map(String::from),
                features: CpuFeatures {
                    pge: true,
                    pcid: sp.invpcid,
                    invpcid: sp.invpcid,
                    invlpgb: sp.invlpgb,
                    invlpgb_max_pages: if sp.invlpgb { 8 } else { 0 },
                    rdtscp: true,
                    invariant_tsc: true,
                    arch_capabilities: sp.rdcl_no.is_some(),
                    core_capabilities: false,
                    rdcl_no: sp.rdcl_no,
                },
                tsc_hz: sp.tsc_hz as u64,
                tlb: vec![TlbLevel {
                    name: "L1 dTLB".into(),
                    page_sizes: "4K".into(),
                    entries: 64,
                    associativity: "full".into(),
                }],
            },
            platform: Some(Platform {
                kernel_release: sp.kernel.into(),
                kernel_cmdline: if sp.isolated {
                    "isolcpus=3 nohz_full=3".into()
                } else {
                    String::new()
                },
                meltdown: mitigations["meltdown"].clone(),
                pti: sp.pti,
                mitigations,
                online_cpus: vec![0, 1, 2, 3],
                isolated_cpus: if sp.isolated { vec![3] } else { vec![] },
                nohz_full_cpus: if sp.isolated { vec![3] } else { vec![] },
                perf_cycles: sp.hypervisor.is_none(),
                user_rdpmc: false,
                rar: None,
                interrupts: BTreeMap::new(),
                kmod_device: sp.kmod,
            }),
            verdict: Verdict {
                entry_flush_variants: variants,
                pti_needed,
                flush_on_entry_runs: Some(sp.pti),
                broadcast,
                text: "synthetic fixture".into(),
            },
        },
        placement: Placement {
            victim_cpu: 3,
            initiator_cpu: Some(1),
            victim_isolated: sp.isolated,
            note: if sp.isolated {
                "victim on isolated CPU 3".into()
            } else {
                "no isolated CPUs: victim not isolated".into()
            },
        },
        timer: TimerInfo {
            kind: crate::model::schema::TimerKind::Tsc,
            overhead_cycles: 24.0,
            core_overhead_cycles: None,
            tsc_hz: sp.tsc_hz,
            tsc_hz_source: sp.tsc_hz_source.into(),
            resolution_cycles: 0,
            resolution_ns: 0.0,
        },
        experiments,
        drift_reference: None,
    }
}

/// The fixture files: (file name, contents), deterministic.
pub fn fixtures() -> Vec<(&'static str, ResultFile)> {
    specs().iter().map(|s| (s.file, build(s))).collect()
}

/// `n` result files for the benchmark: the fixtures repeated with distinct
/// hosts and creation times, so grouping does real work.
pub fn many(n: usize) -> Vec<ResultFile> {
    let base = fixtures();
    (0..n)
        .map(|i| {
            let mut f = base[i % base.len()].1.clone();
            f.host = format!("{}-{i}", f.host);
            f.created = format!("2026-11-{:02}T00:00:{:02}Z", 1 + (i / 60) % 28, i % 60);
            f
        })
        .collect()
}
