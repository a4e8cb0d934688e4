//! Proves `harness::kmod::abi` matches `kmod-helper/entrybench_uapi.h`:
//! a C program built with `cc` from the header prints every struct size,
//! field offset, constant and ioctl number; each must equal the Rust value.

use harness::kmod::abi::{self, FlushTimed, Generator, GlobalFlush, Info, Method, Variant};
use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::Path;
use std::process::Command;

const C_PROGRAM: &str = r#"
#include <stdio.h>
#include <stddef.h>
#include "entrybench_uapi.h"
#define S(t) printf("sizeof %s %zu\n", #t, sizeof(struct t));
#define O(t, f) printf("offsetof %s.%s %zu\n", #t, #f, offsetof(struct t, f));
#define C(n) printf("const %s %llu\n", #n, (unsigned long long)(n));
int main(void)
{
	S(entrybench_info) O(entrybench_info, abi_version) O(entrybench_info, nr_cpu_ids)
	O(entrybench_info, flags) O(entrybench_info, cr4) O(entrybench_info, tsc_khz)
	O(entrybench_info, variants_supported) O(entrybench_info, methods_supported)
	O(entrybench_info, online_mask)
	S(entrybench_flush_timed) O(entrybench_flush_timed, variant)
	O(entrybench_flush_timed, iterations) O(entrybench_flush_timed, cycles_ptr)
	O(entrybench_flush_timed, cpu) O(entrybench_flush_timed, chunks)
	O(entrybench_flush_timed, overhead)
	S(entrybench_global_flush) O(entrybench_global_flush, method)
	O(entrybench_global_flush, count) O(entrybench_global_flush, pages)
	O(entrybench_global_flush, __pad) O(entrybench_global_flush, cycles_ptr)
	O(entrybench_global_flush, total_cycles) O(entrybench_global_flush, max_cycles)
	O(entrybench_global_flush, cpumask)
	S(entrybench_generator) O(entrybench_generator, method)
	O(entrybench_generator, rate_hz) O(entrybench_generator, duration_ms)
	O(entrybench_generator, pages) O(entrybench_generator, initiator_cpu)
	O(entrybench_generator, flags) O(entrybench_generator, id)
	O(entrybench_generator, __pad) O(entrybench_generator, issued)
	O(entrybench_generator, total_cycles) O(entrybench_generator, max_cycles)
	O(entrybench_generator, cpumask)
	C(ENTRYBENCH_ABI_VERSION) C(ENTRYBENCH_IOC_INFO) C(ENTRYBENCH_IOC_FLUSH_TIMED)
	C(ENTRYBENCH_IOC_ENTRY_FLUSH) C(ENTRYBENCH_IOC_GLOBAL_FLUSH)
	C(ENTRYBENCH_IOC_GENERATOR_START) C(ENTRYBENCH_IOC_GENERATOR_STOP)
	C(ENTRYBENCH_V_NOP) C(ENTRYBENCH_V_CR3_NOFLUSH) C(ENTRYBENCH_V_CR3_FLUSH)
	C(ENTRYBENCH_V_INVPCID0) C(ENTRYBENCH_V_INVPCID1) C(ENTRYBENCH_V_INVPCID2)
	C(ENTRYBENCH_V_INVPCID3) C(ENTRYBENCH_V_CR4_PGE) C(ENTRYBENCH_V_INVLPG)
	C(ENTRYBENCH_V_COUNT)
	C(ENTRYBENCH_M_FLUSH_ALL) C(ENTRYBENCH_M_KERNEL_RANGE) C(ENTRYBENCH_M_SYNC_CORE)
	C(ENTRYBENCH_M_COUNT)
	C(ENTRYBENCH_F_PCID) C(ENTRYBENCH_F_INVPCID) C(ENTRYBENCH_F_PGE) C(ENTRYBENCH_F_PTI)
	C(ENTRYBENCH_F_INVLPGB) C(ENTRYBENCH_F_INVLPGB_CPUID) C(ENTRYBENCH_F_CR4_PCIDE)
	C(ENTRYBENCH_F_CR4_PGE) C(ENTRYBENCH_F_HYPERVISOR)
	C(ENTRYBENCH_MAX_ITERATIONS) C(ENTRYBENCH_MAX_GLOBAL_COUNT) C(ENTRYBENCH_MAX_PAGES)
	C(ENTRYBENCH_MAX_RATE_HZ) C(ENTRYBENCH_MAX_DURATION_MS) C(ENTRYBENCH_MAX_GENERATORS)
	C(ENTRYBENCH_MASK_WORDS) C(ENTRYBENCH_GEN_DETACH) C(ENTRYBENCH_IOC_MAGIC)
	return 0;
}
"#;

/// Builds and runs the C program; key ("sizeof x", "offsetof x.f", "const N") -> value.
fn c_values() -> BTreeMap<String, u64> {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = dir.path().join("abi.c");
    let exe = dir.path().join("abi");
    std::fs::write(&src, C_PROGRAM).expect("write C source");
    let hdr = Path::new(env!("CARGO_MANIFEST_DIR")).join("../kmod-helper");
    let out = Command::new("cc")
        .args(["-std=gnu11", "-Wall", "-Werror", "-I"])
        .arg(&hdr)
        .arg("-o")
        .arg(&exe)
        .arg(&src)
        .output()
        .expect("running cc (a C compiler is needed for this test)");
    assert!(
        out.status.success(),
        "cc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run = Command::new(&exe).output().expect("running the C program");
    assert!(run.status.success());
    String::from_utf8(run.stdout)
        .expect("utf8")
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("key value");
            (k.to_string(), v.parse().expect("number"))
        })
        .collect()
}

#[test]
fn layouts_constants_and_ioctl_numbers_match_the_c_header() {
    let c = c_values();
    let mut rust: BTreeMap<String, u64> = BTreeMap::new();
    let mut put = |k: &str, v: usize| {
        rust.insert(k.to_string(), v as u64);
    };
    put("sizeof entrybench_info", size_of::<Info>());
    put(
        "offsetof entrybench_info.abi_version",
        offset_of!(Info, abi_version),
    );
    put(
        "offsetof entrybench_info.nr_cpu_ids",
        offset_of!(Info, nr_cpu_ids),
    );
    put("offsetof entrybench_info.flags", offset_of!(Info, flags));
    put("offsetof entrybench_info.cr4", offset_of!(Info, cr4));
    put(
        "offsetof entrybench_info.tsc_khz",
        offset_of!(Info, tsc_khz),
    );
    put(
        "offsetof entrybench_info.variants_supported",
        offset_of!(Info, variants_supported),
    );
    put(
        "offsetof entrybench_info.methods_supported",
        offset_of!(Info, methods_supported),
    );
    put(
        "offsetof entrybench_info.online_mask",
        offset_of!(Info, online_mask),
    );
    put("sizeof entrybench_flush_timed", size_of::<FlushTimed>());
    put(
        "offsetof entrybench_flush_timed.variant",
        offset_of!(FlushTimed, variant),
    );
    put(
        "offsetof entrybench_flush_timed.iterations",
        offset_of!(FlushTimed, iterations),
    );
    put(
        "offsetof entrybench_flush_timed.cycles_ptr",
        offset_of!(FlushTimed, cycles_ptr),
    );
    put(
        "offsetof entrybench_flush_timed.cpu",
        offset_of!(FlushTimed, cpu),
    );
    put(
        "offsetof entrybench_flush_timed.chunks",
        offset_of!(FlushTimed, chunks),
    );
    put(
        "offsetof entrybench_flush_timed.overhead",
        offset_of!(FlushTimed, overhead),
    );
    put("sizeof entrybench_global_flush", size_of::<GlobalFlush>());
    put(
        "offsetof entrybench_global_flush.method",
        offset_of!(GlobalFlush, method),
    );
    put(
        "offsetof entrybench_global_flush.count",
        offset_of!(GlobalFlush, count),
    );
    put(
        "offsetof entrybench_global_flush.pages",
        offset_of!(GlobalFlush, pages),
    );
    put(
        "offsetof entrybench_global_flush.__pad",
        offset_of!(GlobalFlush, pad),
    );
    put(
        "offsetof entrybench_global_flush.cycles_ptr",
        offset_of!(GlobalFlush, cycles_ptr),
    );
    put(
        "offsetof entrybench_global_flush.total_cycles",
        offset_of!(GlobalFlush, total_cycles),
    );
    put(
        "offsetof entrybench_global_flush.max_cycles",
        offset_of!(GlobalFlush, max_cycles),
    );
    put(
        "offsetof entrybench_global_flush.cpumask",
        offset_of!(GlobalFlush, cpumask),
    );
    put("sizeof entrybench_generator", size_of::<Generator>());
    put(
        "offsetof entrybench_generator.method",
        offset_of!(Generator, method),
    );
    put(
        "offsetof entrybench_generator.rate_hz",
        offset_of!(Generator, rate_hz),
    );
    put(
        "offsetof entrybench_generator.duration_ms",
        offset_of!(Generator, duration_ms),
    );
    put(
        "offsetof entrybench_generator.pages",
        offset_of!(Generator, pages),
    );
    put(
        "offsetof entrybench_generator.initiator_cpu",
        offset_of!(Generator, initiator_cpu),
    );
    put(
        "offsetof entrybench_generator.flags",
        offset_of!(Generator, flags),
    );
    put(
        "offsetof entrybench_generator.id",
        offset_of!(Generator, id),
    );
    put(
        "offsetof entrybench_generator.__pad",
        offset_of!(Generator, pad),
    );
    put(
        "offsetof entrybench_generator.issued",
        offset_of!(Generator, issued),
    );
    put(
        "offsetof entrybench_generator.total_cycles",
        offset_of!(Generator, total_cycles),
    );
    put(
        "offsetof entrybench_generator.max_cycles",
        offset_of!(Generator, max_cycles),
    );
    put(
        "offsetof entrybench_generator.cpumask",
        offset_of!(Generator, cpumask),
    );

    let mut konst = |k: &str, v: u64| {
        rust.insert(format!("const {k}"), v);
    };
    konst("ENTRYBENCH_ABI_VERSION", abi::ABI_VERSION.into());
    konst("ENTRYBENCH_IOC_INFO", abi::nr::INFO);
    konst("ENTRYBENCH_IOC_FLUSH_TIMED", abi::nr::FLUSH_TIMED);
    konst("ENTRYBENCH_IOC_ENTRY_FLUSH", abi::nr::ENTRY_FLUSH);
    konst("ENTRYBENCH_IOC_GLOBAL_FLUSH", abi::nr::GLOBAL_FLUSH);
    konst("ENTRYBENCH_IOC_GENERATOR_START", abi::nr::GENERATOR_START);
    konst("ENTRYBENCH_IOC_GENERATOR_STOP", abi::nr::GENERATOR_STOP);
    let vnames = [
        "NOP",
        "CR3_NOFLUSH",
        "CR3_FLUSH",
        "INVPCID0",
        "INVPCID1",
        "INVPCID2",
        "INVPCID3",
        "CR4_PGE",
        "INVLPG",
    ];
    assert_eq!(vnames.len(), Variant::ALL.len());
    for (n, v) in vnames.iter().zip(Variant::ALL) {
        konst(&format!("ENTRYBENCH_V_{n}"), v as u64);
        // Names in experiment ids are the C names, lower-cased.
        assert_eq!(v.name(), n.to_lowercase());
    }
    konst("ENTRYBENCH_V_COUNT", abi::VARIANT_COUNT.into());
    for (n, m) in ["FLUSH_ALL", "KERNEL_RANGE", "SYNC_CORE"]
        .iter()
        .zip(Method::ALL)
    {
        konst(&format!("ENTRYBENCH_M_{n}"), m as u64);
        assert_eq!(m.name(), n.to_lowercase());
    }
    konst("ENTRYBENCH_M_COUNT", abi::METHOD_COUNT.into());
    konst("ENTRYBENCH_F_PCID", abi::F_PCID);
    konst("ENTRYBENCH_F_INVPCID", abi::F_INVPCID);
    konst("ENTRYBENCH_F_PGE", abi::F_PGE);
    konst("ENTRYBENCH_F_PTI", abi::F_PTI);
    konst("ENTRYBENCH_F_INVLPGB", abi::F_INVLPGB);
    konst("ENTRYBENCH_F_INVLPGB_CPUID", abi::F_INVLPGB_CPUID);
    konst("ENTRYBENCH_F_CR4_PCIDE", abi::F_CR4_PCIDE);
    konst("ENTRYBENCH_F_CR4_PGE", abi::F_CR4_PGE);
    konst("ENTRYBENCH_F_HYPERVISOR", abi::F_HYPERVISOR);
    konst("ENTRYBENCH_MAX_ITERATIONS", abi::MAX_ITERATIONS.into());
    konst("ENTRYBENCH_MAX_GLOBAL_COUNT", abi::MAX_GLOBAL_COUNT.into());
    konst("ENTRYBENCH_MAX_PAGES", abi::MAX_PAGES.into());
    konst("ENTRYBENCH_MAX_RATE_HZ", abi::MAX_RATE_HZ.into());
    konst("ENTRYBENCH_MAX_DURATION_MS", abi::MAX_DURATION_MS.into());
    konst("ENTRYBENCH_MAX_GENERATORS", abi::MAX_GENERATORS.into());
    konst("ENTRYBENCH_MASK_WORDS", abi::MASK_WORDS as u64);
    konst("ENTRYBENCH_GEN_DETACH", abi::GEN_DETACH.into());
    konst("ENTRYBENCH_IOC_MAGIC", abi::IOC_MAGIC.into());

    // Same keys on both sides: nothing in the header is left unchecked by
    // accident, nothing checked here is missing from the header.
    let ck: Vec<_> = c.keys().collect();
    let rk: Vec<_> = rust.keys().collect();
    assert_eq!(ck, rk, "C and Rust key sets differ");
    let diffs: Vec<String> = c
        .iter()
        .filter(|(k, v)| rust[*k] != **v)
        .map(|(k, v)| format!("{k}: C {v}, Rust {}", rust[k]))
        .collect();
    assert!(diffs.is_empty(), "ABI mismatch:\n{}", diffs.join("\n"));
}

#[test]
fn cpumask_round_trips_and_refuses_cpus_beyond_the_abi() {
    let m = abi::cpumask(&[0, 1, 63, 64, 1023]).expect("in range");
    assert_eq!(m[0], 1 | 2 | (1 << 63));
    assert_eq!(m[1], 1);
    assert_eq!(m[15], 1 << 63);
    assert_eq!(abi::cpus_of(&m), vec![0, 1, 63, 64, 1023]);
    assert!(abi::cpumask(&[1024]).is_err());
}

#[test]
fn variant_and_method_names_parse_back() {
    for v in Variant::ALL {
        assert_eq!(Variant::from_name(v.name()), Some(v));
    }
    for m in Method::ALL {
        assert_eq!(Method::from_name(m.name()), Some(m));
    }
    assert_eq!(Variant::from_name("bogus"), None);
}
