#!/usr/bin/env bash
# VM test of the kernel module: builds entrybench.ko against the installed
# Debian kernel's headers (W=1, warnings fail), builds the harness, boots
# that kernel under QEMU TCG (2 vCPUs) with an initramfs holding busybox,
# the module and the harness, runs scripts/vm/init in the guest (every
# ioctl, a checked fuzz run, the kmod experiments, unload while a generator
# runs) and checks the guest's report: step results, dmesg, result file.
#
# Guest figures are QEMU TCG, i.e. emulated: they stay in $WORK (default
# vmtest-work/), never in results/.
#
# Env: VMTEST_WORK (work dir), VMTEST_TIMEOUT (guest seconds, default 240),
#      VMTEST_FUZZ (fuzzed ioctls, default 10000), VMTEST_SEED,
#      VMTEST_INJECT_WARNING=1 (the guest logs a fake WARNING: the run must
#      then FAIL; proves the dmesg scan works).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${VMTEST_WORK:-$ROOT/vmtest-work}
TIMEOUT=${VMTEST_TIMEOUT:-240}
FUZZ=${VMTEST_FUZZ:-10000}
SEED=${VMTEST_SEED:-$(date +%s)}
T0=$(date +%s)

say() { printf 'vm-test: %s\n' "$*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

# --- packages -------------------------------------------------------------
pkgs=()
command -v qemu-system-x86_64 >/dev/null || pkgs+=(qemu-system-x86)
ls /boot/vmlinuz-*-amd64 >/dev/null 2>&1 || pkgs+=(linux-image-amd64)
ls -d /lib/modules/*-amd64/build >/dev/null 2>&1 || pkgs+=(linux-headers-amd64)
[ -x /bin/busybox ] && file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' ||
	pkgs+=(busybox-static)
command -v cpio >/dev/null || pkgs+=(cpio)
command -v make >/dev/null || pkgs+=(make)
command -v gcc >/dev/null || pkgs+=(gcc)
command -v file >/dev/null || pkgs+=(file)
command -v python3 >/dev/null || pkgs+=(python3)
if [ ${#pkgs[@]} -gt 0 ]; then
	say "installing: ${pkgs[*]}"
	sudo=""
	[ "$(id -u)" -eq 0 ] || sudo="sudo"
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${pkgs[@]}" >&2
fi

# The newest installed Debian kernel that has both an image and headers.
KVER=""
for img in $(printf '%s\n' /boot/vmlinuz-*-amd64 | sort -V); do
	v=${img#/boot/vmlinuz-}
	[ -f "/lib/modules/$v/build/Makefile" ] && KVER=$v
done
[ -n "$KVER" ] || die "no /boot/vmlinuz-*-amd64 with headers in /lib/modules/*/build"
KDIR=/lib/modules/$KVER/build
say "guest kernel $KVER"

case $WORK in /|"$ROOT"|"$HOME") die "refusing to use $WORK as the work dir" ;; esac
rm -rf "$WORK"
mkdir -p "$WORK"

# --- module, W=1, warnings fail --------------------------------------------
# Sources only: build products of an in-tree build must not leak in.
mkdir -p "$WORK/kmod"
cp "$ROOT"/kmod-helper/{Kbuild,Makefile,entrybench.c,entrybench_uapi.h} "$WORK/kmod/"
make -C "$WORK/kmod" KDIR="$KDIR" W=1 >"$WORK/kmod-build.log" 2>&1 ||
	{ cat "$WORK/kmod-build.log" >&2; die "module build failed"; }
if grep -iE 'warning:|error:' "$WORK/kmod-build.log" >&2; then
	die "module build has warnings (W=1)"
fi
say "module built with W=1: no warnings"

# --- harness ----------------------------------------------------------------
(cd "$ROOT" && cargo build --release -q -p harness --bin entrybench) || die "cargo build failed"
BIN=$ROOT/target/release/entrybench

# --- initramfs ----------------------------------------------------------------
IR=$WORK/initramfs
mkdir -p "$IR"/{bin,dev,proc,sys,tmp,run}
cp /bin/busybox "$IR/bin/busybox"
cp "$BIN" "$IR/bin/entrybench"
# The harness is linked against glibc: take its libraries along.
for lib in $(ldd "$BIN" | grep -oE '/[^ ]+'); do
	mkdir -p "$IR$(dirname "$lib")"
	cp -L "$lib" "$IR$lib"
done
cp "$WORK/kmod/entrybench.ko" "$IR/entrybench.ko"
cp "$ROOT/scripts/vm/init" "$IR/init"
[ -f "$ROOT/scripts/vm/run-suite.sh" ] && cp "$ROOT/scripts/vm/run-suite.sh" "$IR/run-suite.sh"
chmod +x "$IR/init" "$IR"/run-suite.sh 2>/dev/null || true
(cd "$IR" && find . | cpio -o -H newc --quiet | gzip -1) >"$WORK/initramfs.cpio.gz"

# --- boot --------------------------------------------------------------------
# QEMU's default TCG CPU (qemu64) has neither PCID nor INVPCID; the
# harness's timer needs RDTSCP, which TCG emulates, so that one is added.
# VMTEST_CPU=NAME boots another TCG CPU model; only for qemu64 are the
# refused variants asserted, for others the module's INFO decides (QEMU
# 7.2's "max" still lacks PCID/INVPCID). VMTEST_PTI=off boots without PTI.
CPU=${VMTEST_CPU:-qemu64,+rdtscp}
case $CPU in
qemu64*) EXPECT=cr3_noflush,invpcid0,invpcid1,invpcid2,invpcid3 ;;
*) EXPECT="" ;;
esac
PTI=${VMTEST_PTI:-on}
say "booting (TCG, CPU $CPU, pti=$PTI, 2 vCPUs, timeout ${TIMEOUT}s, fuzz $FUZZ, seed $SEED)"
TB=$(date +%s)
set +e
timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu "$CPU" -smp 2 -m 1G -nographic -no-reboot \
	-kernel "/boot/vmlinuz-$KVER" -initrd "$WORK/initramfs.cpio.gz" \
	-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 pti=$PTI isolcpus=1 nohz_full=1 eb.expect_unsupported=$EXPECT eb.fuzz=$FUZZ eb.seed=$SEED eb.inject_warning=${VMTEST_INJECT_WARNING:-0}" \
	-serial mon:stdio -serial "file:$WORK/ttyS1.txt" </dev/null >"$WORK/console.log" 2>&1
QRC=$?
set -e
TBOOT=$(($(date +%s) - TB))
tr -d '\r' <"$WORK/ttyS1.txt" >"$WORK/report.txt" 2>/dev/null || true
say "guest ran ${TBOOT}s (qemu exit $QRC)"

# --- checks ---------------------------------------------------------------------
fails=()
grep -q '^@@DONE' "$WORK/report.txt" || fails+=("guest did not finish (timeout or panic): see $WORK/console.log")
section() { awk -v b="@@BEGIN $1" '$0==b{p=1;next} /^@@END/{p=0} p' "$WORK/report.txt"; }
section dmesg >"$WORK/dmesg.txt"
for s in $({ grep -oE '^STEP-(OK|FAIL) [a-z_]+' "$WORK/console.log" || true; } | sed 's/ /:/'); do
	case $s in STEP-FAIL:*) fails+=("guest step ${s#STEP-FAIL:} failed") ;; esac
done
for s in load status selftest fuzz fuzz_parallel busy_unload leave_generator rmmod_running_generator reload rmmod_again; do
	grep -q "^STEP-OK $s " "$WORK/console.log" || fails+=("guest step $s did not pass")
done
if grep -nE 'Oops|BUG:|kernel BUG|WARNING:|soft lockup|hard LOCKUP|general protection|Call Trace|rcu.*stall|blocked for more than|invalid opcode' \
	"$WORK/dmesg.txt" >"$WORK/dmesg-bad.txt"; then
	fails+=("guest dmesg has $(wc -l <"$WORK/dmesg-bad.txt") bad lines: $(head -3 "$WORK/dmesg-bad.txt" | tr '\n' ' ')")
fi
[ -s "$WORK/dmesg.txt" ] || fails+=("no dmesg from the guest")
grep -q 'entrybench: ABI' "$WORK/dmesg.txt" || fails+=("module load message missing from dmesg")
# PCID/INVPCID variants must have been refused with EOPNOTSUPP.
for v in ${EXPECT//,/ }; do
	grep -qE "flush_timed $v +EOPNOTSUPP" "$WORK/console.log" || fails+=("$v not refused with EOPNOTSUPP")
done

IOCTLS=$({ grep -oE 'kmod selftest: PASS ioctls=[0-9]+' "$WORK/console.log" || true; } | grep -oE '[0-9]+$' | awk '{s+=$1} END{print s+0}')
FUZZED=$({ grep -oE 'kmod fuzz: [0-9]+ ioctls' "$WORK/console.log" || true; } | grep -oE '[0-9]+' | head -1 || true)
FUZZED=${FUZZED:-0}
FUZZED_PAR=$({ grep -oE 'kmod fuzz: [0-9]+ ioctls' "$WORK/console.log" || true; } | grep -oE '[0-9]+' | tail -n +2 | awk '{s+=$1} END{print s+0}')
[ "$FUZZED" -ge "$FUZZ" ] || fails+=("fuzzed only $FUZZED ioctls (want $FUZZ)")

# The suite's result file: parses, labelled emulated, kmod experiments present.
EXPERIMENTS=0
KMOD_EXPERIMENTS=0
if [ -f "$IR/run-suite.sh" ]; then
	mkdir -p "$WORK/results"
	name=$(grep -oE '^@@BEGIN result .*' "$WORK/report.txt" | head -1 | cut -d' ' -f3 || true)
	if [ -z "$name" ]; then
		fails+=("no result file from the guest")
	else
		awk -v b="@@BEGIN result $name" '$0==b{p=1;next} /^@@END/{p=0} p' "$WORK/report.txt" |
			base64 -d >"$WORK/results/$name" || fails+=("result file did not decode")
		if out=$(python3 - "$WORK/results/$name" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
hv = (r.get("environment", {}).get("cpu", {}) or {}).get("hypervisor") or ""
ids = [e["id"] for e in r.get("experiments", [])]
kmod = [i for i in ids if i.startswith(("flush.kernel.", "entry.flush.", "ipi.kmod."))]
assert "TCG" in hv, f"result not labelled TCG (hypervisor={hv!r})"
assert kmod, "no kmod experiments in the result"
print(len(ids), len(kmod), hv)
for e in r["experiments"]:
    if e["id"] in kmod:
        b = e.get("baseline")
        fig = f"delta median {b['delta_median']:.0f}" if b else f"median {e['summary']['median']:.0f}"
        print(f"  [QEMU TCG, emulated] {e['id']:<28} {fig} cycles", file=sys.stderr)
EOF
		); then
			read -r EXPERIMENTS KMOD_EXPERIMENTS HV <<<"$out"
			say "result file $name: $EXPERIMENTS experiments ($KMOD_EXPERIMENTS kmod), hypervisor $HV (emulated)"
		else
			fails+=("result file check failed: $out")
		fi
	fi
fi

TOTAL=$(($(date +%s) - T0))
say "counts: ioctls(selftest)=$IOCTLS fuzzed=$FUZZED fuzzed_parallel=$FUZZED_PAR experiments=$EXPERIMENTS kmod_experiments=$KMOD_EXPERIMENTS dmesg_lines=$(wc -l <"$WORK/dmesg.txt")"
say "figures below are QEMU TCG (emulated), not real hardware:"
awk '/^== STEP /{p=($3=="selftest:")} p && /^selftest: (flush_timed|global_flush|generator)/' "$WORK/console.log" |
	sed 's/^/  [QEMU TCG, emulated] /' >&2
if [ ${#fails[@]} -gt 0 ]; then
	for f in "${fails[@]}"; do say "  - $f"; done
	say "FAIL (${TOTAL}s; logs in $WORK)"
	exit 1
fi
say "PASS (${TOTAL}s total, guest ${TBOOT}s; logs in $WORK)"
