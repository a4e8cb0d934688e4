//! Proves `harness::kmod::abi` matches `kmod-helper/entrybench_uapi.h`.
//!
//! The C side is read by the compiler, not by hand: `cc -dM -E` lists every
//! `ENTRYBENCH_*` macro of the header, and a C program generated from that
//! list (plus every struct field and enum value the Rust mirror has)
//! prints each value, each field's offset, size and signedness, and each
//! struct's size. A macro the header gains without a Rust mirror, a field
//! whose type changes size or signedness, or an enum value the Rust side
//! lacks makes the key sets or the values differ.

use harness::kmod::abi::{
    self, FlushTimed, Generator, GeneratorStats, GlobalFlush, Info, Method, Variant,
};
use std::collections::BTreeMap;
use std::mem::{offset_of, size_of};
use std::path::{Path, PathBuf};
use std::process::Command;

/// An integer type of the ABI: its signedness (size comes from size_of).
trait Prim {
    const SIGNED: bool;
}
impl Prim for u32 {
    const SIGNED: bool = false;
}
impl Prim for i32 {
    const SIGNED: bool = true;
}
impl Prim for u64 {
    const SIGNED: bool = false;
}
impl<T: Prim, const N: usize> Prim for [T; N] {
    const SIGNED: bool = T::SIGNED;
}

/// One field: C struct and field names, Rust offset, size, signedness.
struct Field {
    c_struct: &'static str,
    c_field: &'static str,
    offset: usize,
    size: usize,
    signed: bool,
}

/// Size and signedness of the field `get` projects to.
fn meta<S, T: Prim>(_get: fn(&S) -> &T) -> (usize, bool) {
    (size_of::<T>(), T::SIGNED)
}

macro_rules! field {
    ($cs:literal, $rs:ty, $f:ident) => {
        field!($cs, $rs, $f, stringify!($f))
    };
    ($cs:literal, $rs:ty, $f:ident, $cf:expr) => {{
        let (size, signed) = meta(|s: &$rs| &s.$f);
        Field {
            c_struct: $cs,
            c_field: $cf,
            offset: offset_of!($rs, $f),
            size,
            signed,
        }
    }};
}

/// The fields of one struct: `name` or `name => "c_name"`.
macro_rules! fields {
    ($cs:literal, $rs:ty: $($f:ident $(=> $cf:literal)?),+ $(,)?) => {
        vec![$(field!($cs, $rs, $f $(, $cf)?)),+]
    };
}

fn fields() -> Vec<Field> {
    [
        fields!(
            "entrybench_info", Info:
            abi_version, nr_cpu_ids, flags, cr4, tsc_khz, variants_supported,
            methods_supported, online_mask,
        ),
        fields!(
            "entrybench_flush_timed", FlushTimed:
            variant, iterations, cycles_ptr, cpu, chunks, overhead,
        ),
        fields!(
            "entrybench_global_flush", GlobalFlush:
            method, count, pages, pad => "__pad", cycles_ptr, total_cycles, max_cycles,
            throttled, cpumask,
        ),
        fields!(
            "entrybench_generator", Generator:
            method, rate_hz, duration_ms, pages, initiator_cpu, flags, id,
            pad => "__pad", cpumask,
        ),
        // STOP's out fields: flat in C, `Generator::stats` in Rust.
        fields!(
            "entrybench_generator", GeneratorStats:
            issued, total_cycles, max_cycles, alloc_failures, throttled,
            off_initiator,
        )
        .into_iter()
        .map(|f| Field {
            offset: offset_of!(Generator, stats) + f.offset,
            ..f
        })
        .collect(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

fn struct_sizes() -> [(&'static str, usize); 4] {
    [
        ("entrybench_info", size_of::<Info>()),
        ("entrybench_flush_timed", size_of::<FlushTimed>()),
        ("entrybench_global_flush", size_of::<GlobalFlush>()),
        ("entrybench_generator", size_of::<Generator>()),
    ]
}

/// The Rust value of every numeric `ENTRYBENCH_*` constant (macros and
/// enum values); enum names are the Rust names upper-cased.
fn rust_constants() -> BTreeMap<String, u64> {
    let mut m: BTreeMap<String, u64> = [
        ("ENTRYBENCH_ABI_VERSION", abi::ABI_VERSION.into()),
        ("ENTRYBENCH_IOC_MAGIC", abi::IOC_MAGIC.into()),
        ("ENTRYBENCH_IOC_INFO", abi::nr::INFO),
        ("ENTRYBENCH_IOC_FLUSH_TIMED", abi::nr::FLUSH_TIMED),
        ("ENTRYBENCH_IOC_ENTRY_FLUSH", abi::nr::ENTRY_FLUSH),
        ("ENTRYBENCH_IOC_GLOBAL_FLUSH", abi::nr::GLOBAL_FLUSH),
        ("ENTRYBENCH_IOC_GENERATOR_START", abi::nr::GENERATOR_START),
        ("ENTRYBENCH_IOC_GENERATOR_STOP", abi::nr::GENERATOR_STOP),
        ("ENTRYBENCH_F_PCID", abi::F_PCID),
        ("ENTRYBENCH_F_INVPCID", abi::F_INVPCID),
        ("ENTRYBENCH_F_PGE", abi::F_PGE),
        ("ENTRYBENCH_F_PTI", abi::F_PTI),
        ("ENTRYBENCH_F_INVLPGB", abi::F_INVLPGB),
        ("ENTRYBENCH_F_INVLPGB_CPUID", abi::F_INVLPGB_CPUID),
        ("ENTRYBENCH_F_CR4_PCIDE", abi::F_CR4_PCIDE),
        ("ENTRYBENCH_F_CR4_PGE", abi::F_CR4_PGE),
        ("ENTRYBENCH_F_HYPERVISOR", abi::F_HYPERVISOR),
        ("ENTRYBENCH_MAX_ITERATIONS", abi::MAX_ITERATIONS.into()),
        ("ENTRYBENCH_MAX_GLOBAL_COUNT", abi::MAX_GLOBAL_COUNT.into()),
        ("ENTRYBENCH_MAX_PAGES", abi::MAX_PAGES.into()),
        ("ENTRYBENCH_MAX_RATE_HZ", abi::MAX_RATE_HZ.into()),
        ("ENTRYBENCH_MAX_DURATION_MS", abi::MAX_DURATION_MS.into()),
        ("ENTRYBENCH_MAX_GENERATORS", abi::MAX_GENERATORS.into()),
        (
            "ENTRYBENCH_MAX_TARGET_RATE_HZ",
            abi::MAX_TARGET_RATE_HZ.into(),
        ),
        ("ENTRYBENCH_MASK_WORDS", abi::MASK_WORDS as u64),
        ("ENTRYBENCH_GEN_DETACH", abi::GEN_DETACH.into()),
        ("ENTRYBENCH_V_COUNT", abi::VARIANT_COUNT.into()),
        ("ENTRYBENCH_M_COUNT", abi::METHOD_COUNT.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for v in Variant::ALL {
        m.insert(
            format!("ENTRYBENCH_V_{}", v.name().to_uppercase()),
            v as u64,
        );
    }
    for x in Method::ALL {
        m.insert(
            format!("ENTRYBENCH_M_{}", x.name().to_uppercase()),
            x as u64,
        );
    }
    m
}

/// Macros the header defines that are not numbers (checked separately).
const NON_NUMERIC: [&str; 1] = ["ENTRYBENCH_DEVICE_NAME"];

fn header_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../kmod-helper")
}

fn cc(args: &[&str], dir: &Path) -> std::process::Output {
    let out = Command::new("cc")
        .args(args)
        .arg("-I")
        .arg(header_dir())
        .current_dir(dir)
        .output()
        .expect("running cc (a C compiler is needed for this test)");
    assert!(
        out.status.success(),
        "cc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Every `ENTRYBENCH_*` macro name the preprocessor sees in the header.
fn header_macros(dir: &Path) -> Vec<String> {
    std::fs::write(dir.join("m.c"), "#include \"entrybench_uapi.h\"\n").expect("write");
    let out = cc(&["-dM", "-E", "m.c"], dir);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_prefix("#define "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|n| n.starts_with("ENTRYBENCH_") && !n.contains('('))
        .map(str::to_string)
        .collect()
}

/// Builds and runs the generated C program over `constants`; returns
/// key ("sizeof s", "offsetof s.f", "fieldsize s.f", "signed s.f",
/// "const N", "string N") -> value.
fn c_values(dir: &Path, constants: &[String]) -> BTreeMap<String, String> {
    let mut c = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include \"entrybench_uapi.h\"\n\
         #define F(s, f) { struct s x; printf(\"offsetof \" #s \".\" #f \" %zu\\n\", offsetof(struct s, f)); \
         printf(\"fieldsize \" #s \".\" #f \" %zu\\n\", sizeof(x.f)); \
         printf(\"signed \" #s \".\" #f \" %d\\n\", (__typeof__(x.f + 0))-1 < 0); }\n\
         #define A(s, f) { struct s x; printf(\"offsetof \" #s \".\" #f \" %zu\\n\", offsetof(struct s, f)); \
         printf(\"fieldsize \" #s \".\" #f \" %zu\\n\", sizeof(x.f)); \
         printf(\"signed \" #s \".\" #f \" %d\\n\", (__typeof__(x.f[0] + 0))-1 < 0); }\n\
         int main(void)\n{\n",
    );
    for (s, _) in struct_sizes() {
        c += &format!("\tprintf(\"sizeof {s} %zu\\n\", sizeof(struct {s}));\n");
    }
    for f in fields() {
        let m = if f.size > 8 { "A" } else { "F" };
        c += &format!("\t{m}({}, {})\n", f.c_struct, f.c_field);
    }
    for n in constants {
        c += &format!("\tprintf(\"const {n} %llu\\n\", (unsigned long long)({n}));\n");
    }
    for n in NON_NUMERIC {
        c += &format!("\tprintf(\"string {n} %s\\n\", {n});\n");
    }
    c += "\treturn 0;\n}\n";
    std::fs::write(dir.join("abi.c"), c).expect("write C source");
    cc(
        &["-std=gnu11", "-Wall", "-Werror", "-o", "abi", "abi.c"],
        dir,
    );
    let run = Command::new(dir.join("abi"))
        .output()
        .expect("running the C program");
    assert!(run.status.success());
    String::from_utf8(run.stdout)
        .expect("utf8")
        .lines()
        .map(|l| {
            let (k, v) = l.rsplit_once(' ').expect("key value");
            (k.to_string(), v.to_string())
        })
        .collect()
}

/// The same keys from the Rust mirror.
fn rust_values(constants: &BTreeMap<String, u64>) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for (s, size) in struct_sizes() {
        m.insert(format!("sizeof {s}"), size.to_string());
    }
    for f in fields() {
        let k = format!("{}.{}", f.c_struct, f.c_field);
        m.insert(format!("offsetof {k}"), f.offset.to_string());
        m.insert(format!("fieldsize {k}"), f.size.to_string());
        m.insert(format!("signed {k}"), u8::from(f.signed).to_string());
    }
    for (k, v) in constants {
        m.insert(format!("const {k}"), v.to_string());
    }
    m.insert(
        "string ENTRYBENCH_DEVICE_NAME".into(),
        abi::DEVICE_PATH
            .strip_prefix("/dev/")
            .expect("/dev path")
            .into(),
    );
    m
}

#[test]
fn layouts_constants_and_ioctl_numbers_match_the_c_header() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rust_consts = rust_constants();
    let macros = header_macros(dir.path());
    assert!(macros.len() > 20, "too few macros found: {macros:?}");
    // Every macro of the header has a Rust mirror (the include guard and
    // the string excepted); enum values come from the Rust list.
    let unmirrored: Vec<&String> = macros
        .iter()
        .filter(|n| !rust_consts.contains_key(*n) && !NON_NUMERIC.contains(&n.as_str()))
        .collect();
    assert!(
        unmirrored.is_empty(),
        "header macros without a Rust mirror: {unmirrored:?}"
    );
    let names: Vec<String> = rust_consts.keys().cloned().collect();
    let c = c_values(dir.path(), &names);
    let rust = rust_values(&rust_consts);
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
fn info_flags_are_distinct_single_bits() {
    let flags: BTreeMap<String, u64> = rust_constants()
        .into_iter()
        .filter(|(k, _)| k.starts_with("ENTRYBENCH_F_"))
        .collect();
    let mut seen = 0u64;
    for (k, v) in &flags {
        assert_eq!(v.count_ones(), 1, "{k} is not one bit");
        assert_eq!(seen & v, 0, "{k} collides with another flag");
        seen |= v;
    }
}

/// i386 user space (compat ioctls) must see the same layouts: the header
/// compiled with -m32 against minimal stand-ins for the kernel's UAPI
/// headers (32-bit __u64 is 4-byte aligned in structs there).
#[test]
fn layouts_are_the_same_for_32_bit_callers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let linux = dir.path().join("inc/linux");
    std::fs::create_dir_all(&linux).expect("mkdir");
    std::fs::write(
        linux.join("types.h"),
        "typedef unsigned int __u32;\ntypedef int __s32;\ntypedef unsigned long long __u64;\n",
    )
    .expect("write");
    std::fs::write(
        linux.join("ioctl.h"),
        "#define _IO(t, n) (((t) << 8) | (n))\n#define _IOR(t, n, s) (_IO(t, n) | (sizeof(s) << 16))\n\
         #define _IOWR(t, n, s) _IOR(t, n, s)\n",
    )
    .expect("write");
    let mut c = String::from("#include <stddef.h>\n#include \"entrybench_uapi.h\"\n");
    for (s, size) in struct_sizes() {
        c += &format!("_Static_assert(sizeof(struct {s}) == {size}, \"{s}\");\n");
    }
    for f in fields() {
        c += &format!(
            "_Static_assert(offsetof(struct {s}, {n}) == {o}, \"{s}.{n}\");\n",
            s = f.c_struct,
            n = f.c_field,
            o = f.offset
        );
    }
    std::fs::write(dir.path().join("abi32.c"), c).expect("write");
    let out = Command::new("cc")
        .args(["-m32", "-std=gnu11", "-fsyntax-only", "-I", "inc", "-I"])
        .arg(header_dir())
        .arg("abi32.c")
        .current_dir(dir.path())
        .output()
        .expect("running cc");
    assert!(
        out.status.success(),
        "32-bit layout differs: {}",
        String::from_utf8_lossy(&out.stderr)
    );
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
