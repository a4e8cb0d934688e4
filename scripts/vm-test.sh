#!/usr/bin/env bash
# VM test of the kernel module, on every Debian kernel series installed
# (6.1 and 6.12 by default): builds entrybench.ko against that kernel's
# headers (W=1, warnings fail; no KVM-only symbol imported), boots the
# kernel under QEMU TCG (2 vCPUs, pti=on) with an initramfs holding
# busybox, the module, the harness and the kmod_cli test binary, runs
# scripts/vm/init in the guest (every ioctl, the device-needing CLI tests,
# a checked fuzz run, the kmod experiments, unload while a generator runs)
# and checks the guest's report: step results, dmesg, result file.
#
#   scripts/vm-test.sh           QEMU, every kernel series
#   scripts/vm-test.sh --bochs   Bochs instead (scripts/vm/bochs.sh): the
#                                PCID/INVPCID paths QEMU TCG cannot run
#
# Guest figures are QEMU TCG, i.e. emulated: they stay in $WORK (default
# vmtest-work/), never in results/.
#
# Env: VMTEST_WORK (work dir), VMTEST_TIMEOUT (guest seconds, default 300),
#      VMTEST_FUZZ (fuzzed ioctls, default 20000), VMTEST_SEED,
#      VMTEST_SERIES (kernel series, default "6.1 6.12"),
#      VMTEST_INJECT_WARNING=1 (the guest logs a fake WARNING: the run must
#      then FAIL; proves the dmesg scan works).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
WORK=${VMTEST_WORK:-$ROOT/vmtest-work}
TIMEOUT=${VMTEST_TIMEOUT:-300}
FUZZ=${VMTEST_FUZZ:-20000}
SEED=${VMTEST_SEED:-$(date +%s)}
SERIES=${VMTEST_SERIES:-6.1 6.12}
T0=$(date +%s)

say() { printf 'vm-test: %s\n' "$*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}

"$ROOT/scripts/install-deps.sh" test

case $WORK in /|"$ROOT"|"$HOME") die "refusing to use $WORK as the work dir" ;; esac

# The newest installed Debian kernel of series $1 with both image and headers.
kernel_of() {
	local k="" img v
	for img in $(printf '%s\n' /boot/vmlinuz-"$1".*-amd64 | sort -V); do
		v=${img#/boot/vmlinuz-}
		[ -f "/lib/modules/$v/build/Makefile" ] && k=$v
	done
	echo "$k"
}

# Builds the module for kernel $1 into $2 (W=1, warnings fail) and checks
# its imports: the KVM-only exports of newer kernels must not be among them.
build_module() {
	local kver=$1 out=$2
	mkdir -p "$out"
	# Sources only: build products of an in-tree build must not leak in.
	cp "$ROOT"/kmod-helper/{Kbuild,Makefile,entrybench.c,entrybench_uapi.h} "$out/"
	make -C "$out" KDIR="/lib/modules/$kver/build" W=1 >"$out/build.log" 2>&1 ||
		{ cat "$out/build.log" >&2; die "$kver: module build failed"; }
	if grep -iE 'warning:|error:' "$out/build.log" >&2; then
		die "$kver: module build has warnings (W=1)"
	fi
	if nm -u "$out/entrybench.ko" | grep -wE 'cr4_update_irqsoff|__flush_tlb_all|cr4_set_bits|cr4_clear_bits' >&2; then
		die "$kver: the module imports a symbol newer kernels export only to KVM"
	fi
	say "$kver: module built with W=1, no warnings, no KVM-only imports"
}

KVERS=()
for s in $SERIES; do
	k=$(kernel_of "$s")
	[ -n "$k" ] || die "no /boot/vmlinuz-$s.*-amd64 with headers (scripts/install-deps.sh test)"
	KVERS+=("$k")
done

# Bochs: the first series only (it boots ~100x slower); its own subdir,
# so the QEMU logs of an earlier run stay.
if [ "${1:-}" = --bochs ]; then
	rm -rf "$WORK/bochs-kmod"
	build_module "${KVERS[0]}" "$WORK/bochs-kmod"
	exec "$ROOT/scripts/vm/bochs.sh" "${KVERS[0]}" "$WORK/bochs-kmod/entrybench.ko" "$WORK/bochs"
fi
rm -rf "$WORK"
mkdir -p "$WORK"

# --- harness and the device-needing CLI tests, built once ---------------------
(cd "$ROOT" && cargo build --release -q -p harness --bin entrybench) || die "cargo build failed"
BIN=$ROOT/target/release/entrybench
CLI_TESTS=$(cd "$ROOT" && cargo test --release -q -p harness --test kmod_cli --no-run --message-format=json 2>/dev/null |
	jq -r 'select(.executable != null and .target.name == "kmod_cli") | .executable' | tail -n1)
[ -x "$CLI_TESTS" ] || die "kmod_cli test binary not built"

# --- initramfs (without the module) ---------------------------------------------
IR=$WORK/initramfs
mkdir -p "$IR"/{bin,dev,proc,sys,tmp,run}
cp /bin/busybox "$IR/bin/busybox"
cp "$BIN" "$IR/bin/entrybench"
cp "$CLI_TESTS" "$IR/kmod_cli"
copy_libs "$IR" "$BIN" "$CLI_TESTS"
cp "$ROOT/scripts/vm/init" "$ROOT/scripts/vm/run-suite.sh" "$IR/"
chmod +x "$IR/init" "$IR/run-suite.sh"

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
STEPS="load status selftest cli_tests fuzz fuzz_parallel busy_unload leave_generator rmmod_running_generator reload rmmod_again"

# Boots kernel $1 with the module and checks its report; appends failures
# to the global `fails`.
guest() {
	local kver=$1 w=$WORK/$1 s out name
	build_module "$kver" "$w/kmod"
	cp -r "$IR" "$w/initramfs"
	cp "$w/kmod/entrybench.ko" "$w/initramfs/entrybench.ko"
	(cd "$w/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$w/initramfs.cpio.gz"
	say "$kver: booting (TCG, CPU $CPU, pti=$PTI, 2 vCPUs, timeout ${TIMEOUT}s, fuzz $FUZZ, seed $SEED)"
	local tb qrc=0 tboot
	tb=$(date +%s)
	timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu "$CPU" -smp 2 -m 1G -nographic -no-reboot \
		-kernel "/boot/vmlinuz-$kver" -initrd "$w/initramfs.cpio.gz" \
		-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 pti=$PTI isolcpus=1 nohz_full=1 eb.expect_unsupported=$EXPECT eb.fuzz=$FUZZ eb.seed=$SEED eb.inject_warning=${VMTEST_INJECT_WARNING:-0}" \
		-serial mon:stdio -serial "file:$w/ttyS1.txt" </dev/null >"$w/console.log" 2>&1 || qrc=$?
	tboot=$(($(date +%s) - tb))
	tr -d '\r' <"$w/ttyS1.txt" >"$w/report.txt" 2>/dev/null || true
	say "$kver: guest ran ${tboot}s (qemu exit $qrc)"
	TIMES+=("$kver guest ${tboot}s")

	grep -q '^@@DONE' "$w/report.txt" || fails+=("$kver: guest did not finish (timeout or panic): see $w/console.log")
	awk '$0=="@@BEGIN dmesg"{p=1;next} /^@@END/{p=0} p' "$w/report.txt" >"$w/dmesg.txt"
	for s in $({ grep -oE '^STEP-FAIL [a-z_]+' "$w/console.log" || true; } | cut -d' ' -f2); do
		fails+=("$kver: guest step $s failed")
	done
	for s in $STEPS; do
		grep -q "^STEP-OK $s " "$w/console.log" || fails+=("$kver: guest step $s did not pass")
	done
	if grep -nE "$KERNEL_BAD" "$w/dmesg.txt" >"$w/dmesg-bad.txt"; then
		fails+=("$kver: guest dmesg has $(wc -l <"$w/dmesg-bad.txt") bad lines: $(head -3 "$w/dmesg-bad.txt" | tr '\n' ' ')")
	fi
	[ -s "$w/dmesg.txt" ] || fails+=("$kver: no dmesg from the guest")
	grep -q 'entrybench: ABI' "$w/dmesg.txt" || fails+=("$kver: module load message missing from dmesg")
	for s in ${EXPECT//,/ }; do
		grep -qE "flush_timed $s +EOPNOTSUPP" "$w/console.log" || fails+=("$kver: $s not refused with EOPNOTSUPP")
	done
	local fuzzed
	fuzzed=$({ grep -oE 'kmod fuzz: [0-9]+ ioctls' "$w/console.log" || true; } | grep -oE '[0-9]+' | head -1)
	[ "${fuzzed:-0}" -ge "$FUZZ" ] || fails+=("$kver: fuzzed only ${fuzzed:-0} ioctls (want $FUZZ)")
	grep -qE '^test result: ok\. [1-9][0-9]* passed' "$w/console.log" ||
		fails+=("$kver: the ignored kmod_cli tests did not pass in the guest")
	check_result "$kver" "$w"
	say "$kver: counts: $(grep -oE 'kmod selftest: PASS .*' "$w/console.log" | head -1) fuzzed=${fuzzed:-0} dmesg_lines=$(wc -l <"$w/dmesg.txt")"
	say "$kver: figures below are QEMU TCG (emulated), not real hardware:"
	awk '/^== STEP /{p=($3=="selftest:")} p && /^selftest: (flush_timed|global_flush|generator)/' "$w/console.log" |
		sed "s/^/  [QEMU TCG, emulated] /" >&2
}

# The suite's result file from guest $2: parses, labelled TCG, has the kmod
# experiments, the series row and the deferred ids.
check_result() {
	local kver=$1 w=$2 name f
	name=$(grep -oE '^@@BEGIN result .*' "$w/report.txt" | head -1 | cut -d' ' -f3 || true)
	[ -n "$name" ] || { fails+=("$kver: no result file from the guest"); return; }
	mkdir -p "$w/results"
	f=$w/results/$name
	awk -v b="@@BEGIN result $name" '$0==b{p=1;next} /^@@END/{p=0} p' "$w/report.txt" |
		base64 -d >"$f" || { fails+=("$kver: result file did not decode"); return; }
	jq -e '.environment.cpu.hypervisor // "" | test("TCG")' "$f" >/dev/null ||
		fails+=("$kver: result not labelled TCG")
	local kmod
	kmod=$(jq '[.experiments[].id | select(test("^(flush\\.kernel|entry\\.flush|ipi\\.kmod)\\."))] | length' "$f")
	[ "$kmod" -gt 0 ] || fails+=("$kver: no kmod experiments in the result")
	jq -e '.experiments[] | select(.id == "entry.flush.series") | .params.role == "series"' "$f" >/dev/null ||
		fails+=("$kver: entry.flush.series missing or not labelled")
	for id in deferred.check.uncontended deferred.check.contended entry.flush.deferred; do
		jq -e --arg id "$id" 'any(.experiments[]; .id == $id)' "$f" >/dev/null || fails+=("$kver: $id missing")
	done
	say "$kver: result file $name: $(jq '.experiments | length' "$f") experiments ($kmod kmod), emulated"
	jq -r '.experiments[] | select(.id | test("^(entry\\.flush\\.(series|deferred)|deferred\\.)"))
		| "  [QEMU TCG, emulated] \(.id) median \(.baseline.delta_median // .summary.median) cycles"' "$f" >&2
}

fails=()
TIMES=()
for k in "${KVERS[@]}"; do
	guest "$k"
done

TOTAL=$(($(date +%s) - T0))
if [ ${#fails[@]} -gt 0 ]; then
	for f in "${fails[@]}"; do say "  - $f"; done
	say "FAIL (${TOTAL}s; logs in $WORK)"
	exit 1
fi
say "PASS on ${KVERS[*]} (${TOTAL}s total; ${TIMES[*]}; logs in $WORK)"
