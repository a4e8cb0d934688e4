//! Every dump in testdata/cpuid-dumps decodes to exactly its row of
//! expected.tsv (and uarch.tsv), and the `cpuid -r` layout decodes to the
//! same facts as the AIDA64 dump it was converted from.

use harness::cpu::{read_dump, DumpCpuid};
use harness::schema::CpuFacts;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn testdata(sub: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata")
        .join(sub)
}

/// A TSV file as header-keyed rows.
fn read_tsv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let header: Vec<&str> = lines.next().unwrap().split('\t').collect();
    lines
        .map(|l| {
            let cells: Vec<&str> = l.split('\t').collect();
            assert_eq!(cells.len(), header.len(), "{}: `{l}`", path.display());
            header
                .iter()
                .zip(cells)
                .map(|(h, c)| (h.to_string(), c.to_string()))
                .collect()
        })
        .collect()
}

fn hex(s: &str) -> u32 {
    u32::from_str_radix(s.trim_start_matches("0x"), 16).unwrap()
}

fn flag(s: &str) -> bool {
    match s {
        "1" => true,
        "0" => false,
        other => panic!("not a 0/1 flag: {other}"),
    }
}

/// Mismatches of one decoded dump against its expected.tsv row.
fn mismatches(f: &CpuFacts, row: &BTreeMap<String, String>) -> Vec<String> {
    let rdcl_no = match row["rdcl_no"].as_str() {
        "-" => None,
        s => Some(flag(s)),
    };
    let checks: Vec<(&str, String, String)> = vec![
        ("vendor", f.vendor.clone(), row["vendor"].clone()),
        (
            "family",
            f.family.to_string(),
            hex(&row["family"]).to_string(),
        ),
        ("model", f.model.to_string(), hex(&row["model"]).to_string()),
        ("stepping", f.stepping.to_string(), row["stepping"].clone()),
        (
            "pge",
            f.features.pge.to_string(),
            flag(&row["pge"]).to_string(),
        ),
        (
            "pcid",
            f.features.pcid.to_string(),
            flag(&row["pcid"]).to_string(),
        ),
        (
            "invpcid",
            f.features.invpcid.to_string(),
            flag(&row["invpcid"]).to_string(),
        ),
        (
            "invlpgb",
            f.features.invlpgb.to_string(),
            flag(&row["invlpgb"]).to_string(),
        ),
        (
            "invlpgb_max_pages",
            f.features.invlpgb_max_pages.to_string(),
            row["invlpgb_max_pages"].clone(),
        ),
        (
            "hypervisor",
            f.hypervisor.is_some().to_string(),
            flag(&row["hypervisor"]).to_string(),
        ),
        (
            "rdtscp",
            f.features.rdtscp.to_string(),
            flag(&row["rdtscp"]).to_string(),
        ),
        (
            "invariant_tsc",
            f.features.invariant_tsc.to_string(),
            flag(&row["invariant_tsc"]).to_string(),
        ),
        (
            "arch_capabilities",
            f.features.arch_capabilities.to_string(),
            flag(&row["arch_capabilities"]).to_string(),
        ),
        (
            "core_capabilities",
            f.features.core_capabilities.to_string(),
            flag(&row["core_capabilities"]).to_string(),
        ),
        (
            "rdcl_no",
            format!("{:?}", f.features.rdcl_no),
            format!("{rdcl_no:?}"),
        ),
        ("uarch", f.uarch.clone(), row["uarch"].clone()),
        ("brand", f.brand.clone(), row["brand"].clone()),
    ];
    checks
        .into_iter()
        .filter(|(_, got, want)| got != want)
        .map(|(col, got, want)| format!("{col}: got `{got}`, want `{want}`"))
        .collect()
}

#[test]
fn every_dump_matches_expected_tsv() {
    let dir = testdata("cpuid-dumps");
    let rows = read_tsv(&dir.join("expected.tsv"));
    assert!(rows.len() >= 21, "expected.tsv lost rows: {}", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let path = dir.join(&row["file"]);
        match read_dump(&path) {
            Ok(facts) => {
                assert_eq!(facts.source, row["file"]);
                for m in mismatches(&facts, row) {
                    failures.push(format!("{}: {m}", row["file"]));
                }
            }
            Err(e) => failures.push(format!("{}: {e:#}", row["file"])),
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn every_dump_file_has_a_row() {
    let dir = testdata("cpuid-dumps");
    let rows = read_tsv(&dir.join("expected.tsv"));
    let listed: Vec<&str> = rows.iter().map(|r| r["file"].as_str()).collect();
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if name.ends_with(".txt") && !listed.contains(&name.as_str()) {
            missing.push(name);
        }
    }
    assert!(
        missing.is_empty(),
        "dumps without an expected.tsv row: {missing:?}"
    );
}

#[test]
fn uarch_tsv_agrees() {
    let dir = testdata("cpuid-dumps");
    let text = std::fs::read_to_string(dir.join("uarch.tsv")).unwrap();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let (file, uarch) = line.split_once('\t').unwrap();
        let facts = read_dump(dir.join(file)).unwrap();
        assert_eq!(facts.uarch, uarch, "{file}");
        n += 1;
    }
    assert!(n >= 21);
}

#[test]
fn cpuid_tool_layout_decodes_like_its_aida_original() {
    let aida = read_dump(testdata(
        "cpuid-dumps/GenuineIntel0050656_CascadeLakeSP_CPUID.txt",
    ))
    .unwrap();
    let tool = read_dump(testdata(
        "cpuid-r/GenuineIntel0050656_CascadeLakeSP_cpuid-r.txt",
    ))
    .unwrap();
    assert_eq!(tool.source, "GenuineIntel0050656_CascadeLakeSP_cpuid-r.txt");
    assert_eq!(
        CpuFacts {
            source: String::new(),
            ..aida
        },
        CpuFacts {
            source: String::new(),
            ..tool.clone()
        }
    );
    assert_eq!(tool.uarch, "Cascade Lake");
    assert!(!tool.tlb.is_empty(), "leaf 2 TLB descriptors decoded");
}

#[test]
fn crlf_and_tab_variants_decode_the_same() {
    let path = testdata("cpuid-dumps/GenuineIntel0050654_SkylakeXeon_CPUID.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let variant = text
        .lines()
        .map(|l| l.replacen(": ", "\t", 1))
        .collect::<Vec<_>>()
        .join("\r\n");
    assert_eq!(
        DumpCpuid::parse(&text).unwrap(),
        DumpCpuid::parse(&variant).unwrap()
    );
}

#[test]
fn truncating_a_dump_mid_line_names_that_line() {
    let path = testdata("cpuid-dumps/GenuineIntel00806F8_SapphireRapids_05_CPUID.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let idx = lines
        .iter()
        .position(|l| l.starts_with("CPUID 00000007"))
        .unwrap();
    let mut cut = lines[..idx].join("\n");
    cut.push('\n');
    cut.push_str(&lines[idx][..30]);
    let e = DumpCpuid::parse(&cut).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("line {}: expected 4 hex registers", idx + 1)),
        "{e}"
    );
}

/// Cut-off and bit-flipped dumps give an error or facts, never a panic.
#[test]
fn damaged_dumps_never_panic() {
    let dir = testdata("cpuid-dumps");
    // A fixed LCG: the same damage on every run.
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize
    };
    let (mut ok, mut err) = (0, 0);
    for name in [
        "GenuineIntel00806F8_SapphireRapids_05_CPUID.txt",
        "AuthenticAMD0A00F11_K19_Milan_02_CPUID.txt",
        "GenuineIntel00606A6_ICX_04_CPUID.txt",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        // Only the first CPU block matters; keep the work small.
        let bytes = &bytes[..bytes.len().min(12_000)];
        for _ in 0..150 {
            let mut damaged = bytes[..next() % bytes.len()].to_vec();
            for _ in 0..next() % 4 {
                if damaged.is_empty() {
                    break;
                }
                let i = next() % damaged.len();
                let noise = b"0F-: [SL\r\n\tx";
                damaged[i] = noise[next() % noise.len()];
            }
            let text = String::from_utf8_lossy(&damaged);
            match DumpCpuid::parse(&text) {
                Ok(d) => {
                    let _ = harness::cpu::decode(&d, "damaged");
                    ok += 1;
                }
                Err(_) => err += 1,
            }
        }
    }
    // Both outcomes occur, so the damage really exercises the parser.
    assert!(ok > 0 && err > 0, "ok {ok}, err {err}");
}

/// The kernel's Meltdown rule on every dump: never "unknown". Intel cores
/// off the NO_MELTDOWN list without RDCL_NO are affected (PTI on by
/// default); AMD and Hygon never are.
#[test]
fn every_dump_gets_the_kernels_meltdown_decision() {
    let dir = testdata("cpuid-dumps");
    let affected = [
        "GenuineIntel00206D6_SandyBridgeE_CPUID.txt",
        "GenuineIntel00306F2_HaswellEP_00_CPUID.txt",
        "GenuineIntel00406F1_BroadwellE_CPUID.txt",
        "GenuineIntel0050654_SkylakeXeon_CPUID.txt",
    ];
    let mut seen = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with("_CPUID.txt") {
            continue;
        }
        seen += 1;
        let env = harness::detect::dump_environment(&path).unwrap();
        let v = env.verdict.pti_needed;
        assert!(v.is_some(), "{name}: Meltdown unknown");
        if affected.contains(&name.as_str()) {
            assert_eq!(v, Some(true), "{name}");
            assert_eq!(env.verdict.flush_on_entry_runs, Some(true), "{name}");
        }
        if !name.starts_with("GenuineIntel") {
            assert_eq!(v, Some(false), "{name}");
        }
    }
    assert!(seen >= 21, "{seen}");
    let cascade =
        harness::detect::dump_environment(&dir.join("GenuineIntel0050656_CascadeLakeSP_CPUID.txt"))
            .unwrap();
    assert_eq!(cascade.verdict.pti_needed, Some(false));
}

/// The leaf a register line of either layout is for, if it is one.
fn leaf_of(line: &str) -> Option<u32> {
    let t = line.trim_start();
    let hex = match t.strip_prefix("CPUID ") {
        Some(rest) => rest.get(..8)?,
        None => t.strip_prefix("0x")?.get(..8)?,
    };
    u32::from_str_radix(hex, 16).ok()
}

/// Every dump under testdata is complete as it is, and without any one
/// of the leaves it holds at or below its maxima (leaf 0 and 1 aside,
/// which have errors of their own) it is refused, naming that leaf,
/// unless that leaf reads all zeros there (the Alder Lake dump prints an
/// all-zero PCONFIG leaf 0x1B that the Meteor Lake one leaves out).
#[test]
fn every_dump_is_complete_and_refused_without_any_leaf_it_holds() {
    let mut checked = 0;
    for dir in ["cpuid-dumps", "cpuid-masked", "cpuid-r"] {
        for e in std::fs::read_dir(testdata(dir)).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "txt") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            // The first CPU's block: up to the second leaf-0 line.
            let lines: Vec<&str> = text.lines().collect();
            let second = lines
                .iter()
                .enumerate()
                .filter(|(_, l)| leaf_of(l) == Some(0))
                .nth(1)
                .map_or(lines.len(), |(i, _)| i);
            let block = &lines[..second];
            let dump = DumpCpuid::parse(&block.join("\n")).unwrap();
            dump.check_complete()
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            let max = |leaf: u32| harness::cpu::CpuidSource::cpuid(&dump, leaf, 0).unwrap()[0];
            let (basic, ext) = (max(0), max(0x8000_0000));
            let mut leaves: Vec<u32> = block.iter().filter_map(|l| leaf_of(l)).collect();
            leaves.dedup();
            for leaf in leaves {
                let in_range = (2..=basic).contains(&leaf) || (0x8000_0000..=ext).contains(&leaf);
                if !in_range {
                    continue;
                }
                let cut: Vec<&str> = block
                    .iter()
                    .copied()
                    .filter(|l| leaf_of(l) != Some(leaf))
                    .collect();
                let e = DumpCpuid::parse(&cut.join("\n"))
                    .unwrap()
                    .check_complete()
                    .map_err(|e| e.to_string());
                let named = if leaf == 0x8000_0000 {
                    "leaf 0x80000000 (the extended leaves' maximum) is missing".to_string()
                } else {
                    format!("leaf {leaf:#010x} is missing")
                };
                let zeros = block
                    .iter()
                    .filter(|l| leaf_of(l) == Some(leaf))
                    .all(|l| l.contains("00000000-00000000-00000000-00000000"));
                assert!(
                    e.as_ref().is_err_and(|e| e.contains(&named)) || (e.is_ok() && zeros),
                    "{} without leaf {leaf:#x}: {e:?}",
                    path.display()
                );
                checked += usize::from(e.is_err());
            }
        }
    }
    assert!(checked > 500, "{checked}");
}
