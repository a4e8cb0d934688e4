#!/usr/bin/env bash
# VM test of the kernel module, on every Debian kernel series installed
# (6.1 and 6.12 by default): builds entrybench.ko against that kernel's
# headers (W=1, warnings fail; no KVM-only symbol imported), boots the
# kernel under QEMU TCG (3 vCPUs, pti=on) with an initramfs holding
# busybox, the module, the harness and the kmod_cli test binary, runs
# scripts/vm/init in the guest (every ioctl, the device-needing CLI tests,
# checked fuzz runs, the concurrency fuzz, unload racing open, the kmod
# experiments with every scenario.kmod.* id, unload while a generator
# runs) and checks the guest's report: step results, dmesg, result file,
# and that each scenario's victim counted what /proc/interrupts counted
# (scripts/lib.sh check_scenarios).
#
#   scripts/vm-test.sh                 QEMU, every kernel series
#   scripts/vm-test.sh --debug-kernel  QEMU, the debug kernel of
#                                      scripts/debug-kernel.sh (KASAN,
#                                      lockdep, DEBUG_ATOMIC_SLEEP, UBSAN,
#                                      DEBUG_LIST; built once, cached):
#                                      100k fuzzed calls and the
#                                      scenario.kmod.* ids, no figures
#   scripts/vm-test.sh --bochs         Bochs instead (scripts/vm/bochs.sh): the
#                                      PCID/INVPCID paths QEMU TCG cannot run
#
# Guest figures are QEMU TCG, i.e. emulated: they stay in $WORK (default
# vmtest-work/), never in results/.
#
# Env: VMTEST_WORK (work dir), VMTEST_TIMEOUT (guest seconds, default 600;
#      900 for the debug kernel), VMTEST_FUZZ (single-caller fuzzed calls),
#      VMTEST_RACE (calls of the concurrency fuzz), VMTEST_PARALLEL (calls
#      of each of three parallel fuzzers), VMTEST_SEED,
#      VMTEST_SERIES (kernel series, default "6.1 6.12"), VMTEST_SMP
#      (vCPUs, default 3: CPU 1 is isolated and nohz_full, CPU 2 a second
#      housekeeping CPU the selftest's hotplug check offlines: 6.12
#      refused EBUSY for the nohz_full CPU 1 of a 2-CPU guest),
#      VMTEST_INJECT_WARNING=1 (the guest logs a fake WARNING: the run must
#      then FAIL; proves the dmesg scan works).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
MODE=qemu
case "${1:-}" in
"") ;;
--bochs) MODE=bochs ;;
--debug-kernel) MODE=debug ;;
*)
	echo "usage: $0 [--bochs | --debug-kernel]" >&2
	exit 2
	;;
esac
WORK=${VMTEST_WORK:-$ROOT/vmtest-work}
if [ "$MODE" = debug ]; then
	# 100k calls in all under KASAN and lockdep (issue 17).
	TIMEOUT=${VMTEST_TIMEOUT:-900}
	FUZZ=${VMTEST_FUZZ:-50000}
	RACE=${VMTEST_RACE:-38000}
	PARALLEL=${VMTEST_PARALLEL:-4000}
else
	TIMEOUT=${VMTEST_TIMEOUT:-600}
	FUZZ=${VMTEST_FUZZ:-20000}
	RACE=${VMTEST_RACE:-10000}
	PARALLEL=${VMTEST_PARALLEL:-3000}
fi
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

# Builds the module against kernel tree $2 (label $1) into $3 (W=1,
# warnings fail) and checks its imports: the KVM-only exports of newer
# kernels must not be among them.
build_module() {
	local label=$1 kdir=$2 out=$3
	mkdir -p "$out"
	# Sources only: build products of an in-tree build must not leak in.
	cp "$ROOT"/kmod-helper/{Kbuild,Makefile,entrybench.c,entrybench_uapi.h} "$out/"
	make -C "$out" KDIR="$kdir" W=1 >"$out/build.log" 2>&1 ||
		{ cat "$out/build.log" >&2; die "$label: module build failed"; }
	if grep -iE 'warning:|error:' "$out/build.log" >&2; then
		die "$label: module build has warnings (W=1)"
	fi
	if nm -u "$out/entrybench.ko" | grep -wE 'cr4_update_irqsoff|__flush_tlb_all|cr4_set_bits|cr4_clear_bits' >&2; then
		die "$label: the module imports a symbol newer kernels export only to KVM"
	fi
	say "$label: module built with W=1, no warnings, no KVM-only imports"
}

# Guests: "label image kdir" per line.
GUESTS=()
if [ "$MODE" = debug ]; then
	DK=$("$ROOT/scripts/debug-kernel.sh") || die "no debug kernel"
	GUESTS+=("debug-6.1 $DK/arch/x86/boot/bzImage $DK")
else
	for s in $SERIES; do
		k=$(kernel_of "$s")
		[ -n "$k" ] || die "no /boot/vmlinuz-$s.*-amd64 with headers (scripts/install-deps.sh test)"
		GUESTS+=("$k /boot/vmlinuz-$k /lib/modules/$k/build")
	done
fi

# Bochs: the first series only (it boots ~100x slower); its own subdir,
# so the QEMU logs of an earlier run stay.
if [ "$MODE" = bochs ]; then
	read -r kver _ kdir <<<"${GUESTS[0]}"
	rm -rf "$WORK/bochs-kmod"
	build_module "$kver" "$kdir" "$WORK/bochs-kmod"
	exec "$ROOT/scripts/vm/bochs.sh" "$kver" "$WORK/bochs-kmod/entrybench.ko" "$WORK/bochs"
fi
# Each mode its own directory, so the logs of the other stay.
[ "$MODE" = debug ] && WORK=$WORK/debug
rm -rf "$WORK"
mkdir -p "$WORK"

# --- harness and the device-needing CLI tests, built once ---------------------
(cd "$ROOT" && cargo build --release -q -p harness --bin entrybench) || die "cargo build failed"
BIN=$ROOT/target/release/entrybench
IR=$WORK/initramfs
mkdir -p "$IR"/{bin,dev,proc,sys,tmp,run}
cp /bin/busybox "$IR/bin/busybox"
cp "$BIN" "$IR/bin/entrybench"
cp "$ROOT/scripts/vm/init" "$IR/"
if [ "$MODE" = qemu ]; then
	CLI_TESTS=$(cd "$ROOT" && cargo test --release -q -p harness --test kmod_cli --no-run --message-format=json 2>/dev/null |
		jq -r 'select(.executable != null and .target.name == "kmod_cli") | .executable' | tail -n1)
	[ -x "$CLI_TESTS" ] || die "kmod_cli test binary not built"
	cp "$CLI_TESTS" "$IR/kmod_cli"
	cp "$ROOT/scripts/vm/run-suite.sh" "$IR/"
	chmod +x "$IR/run-suite.sh"
	copy_libs "$IR" "$BIN" "$CLI_TESTS"
else
	copy_libs "$IR" "$BIN"
fi
chmod +x "$IR/init"

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
SMP=${VMTEST_SMP:-3}
case $SMP in
'' | *[!0-9]* | 0 | 1) die "VMTEST_SMP=$SMP: want a number of vCPUs, at least 2" ;;
esac
STEPS="load status selftest fuzz race fuzz_parallel unload_race_open busy_unload leave_generator rmmod_running_generator reload rmmod_again"
[ "$MODE" = qemu ] && STEPS="$STEPS cli_tests"
[ "$MODE" = debug ] && STEPS="$STEPS scenarios fuzz_faults freeze_generator"

# Boots guest $1 (kernel image $2, build tree $3) with the module and
# checks its report; appends failures to the global `fails`.
guest() {
	local kver=$1 image=$2 kdir=$3 w=$WORK/$1 s
	build_module "$kver" "$kdir" "$w/kmod"
	cp -r "$IR" "$w/initramfs"
	cp "$w/kmod/entrybench.ko" "$w/initramfs/entrybench.ko"
	(cd "$w/initramfs" && find . | cpio -o -H newc --quiet | gzip -1) >"$w/initramfs.cpio.gz"
	say "$kver: booting (TCG, CPU $CPU, pti=$PTI, $SMP vCPUs, timeout ${TIMEOUT}s, fuzz $FUZZ + race $RACE + 3x$PARALLEL, seed $SEED)"
	local tb qrc=0 tboot
	tb=$(date +%s)
	timeout "$TIMEOUT" qemu-system-x86_64 -accel tcg -cpu "$CPU" -smp "$SMP" -m 1G -nographic -no-reboot \
		-kernel "$image" -initrd "$w/initramfs.cpio.gz" \
		-append "console=ttyS0 rdinit=/init panic=-1 loglevel=4 log_buf_len=8M pti=$PTI isolcpus=1 nohz_full=1 eb.mode=$MODE eb.expect_unsupported=$EXPECT eb.fuzz=$FUZZ eb.race=$RACE eb.parallel=$PARALLEL eb.seed=$SEED eb.inject_warning=${VMTEST_INJECT_WARNING:-0}" \
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
	grep -q 'page tables isolation: enabled' "$w/dmesg.txt" || [ "$PTI" != on ] ||
		fails+=("$kver: PTI is not on in the guest")
	if [ "$MODE" = debug ]; then
		check_debug_kernel "$kver" "$w"
		if extract_result "$kver" "$w"; then
			check_scenarios "$kver" "$RESULT" "debug kernel, QEMU TCG, emulated"
		fi
	fi
	for s in ${EXPECT//,/ }; do
		grep -qE "flush_timed $s +EOPNOTSUPP" "$w/console.log" || fails+=("$kver: $s not refused with EOPNOTSUPP")
	done
	local fuzzed want=$((FUZZ + RACE + 3 * PARALLEL))
	fuzzed=$({ grep -oE '^kmod (fuzz|race): [0-9]+ ioctls' "$w/console.log" || true; } | awk '{s += $3} END {print s + 0}')
	[ "$fuzzed" -ge "$want" ] || fails+=("$kver: fuzzed only $fuzzed ioctls (want $want)")
	if [ "$MODE" = qemu ]; then
		grep -qE '^test result: ok\. [1-9][0-9]* passed' "$w/console.log" ||
			fails+=("$kver: the ignored kmod_cli tests did not pass in the guest")
		check_result "$kver" "$w"
	fi
	say "$kver: counts: $(grep -oE 'kmod selftest: PASS .*' "$w/console.log" | head -1) fuzzed=$fuzzed dmesg_lines=$(wc -l <"$w/dmesg.txt")"
	say "$kver: figures below are QEMU TCG (emulated), not real hardware:"
	awk '/^== STEP /{p=($3=="selftest:")} p && /^selftest: (flush_timed|entry_flush|global_flush|generator|budget)/' "$w/console.log" |
		sed "s/^/  [QEMU TCG, emulated] /" >&2
	grep -E '^kmod race: ' "$w/console.log" | sed "s/^/  /" >&2 || true
}

# The debug kernel really ran with what it is for (a config that lost an
# option would pass without checking anything).
check_debug_kernel() {
	local kver=$1 w=$2 what
	for what in 'KernelAddressSanitizer initialized' 'Lock dependency validator' 'Full dynticks CPUs: 1'; do
		grep -q "$what" "$w/dmesg.txt" || fails+=("$kver: the debug kernel's dmesg lacks \"$what\"")
	done
	local want
	want=$(seq -s ', ' 0 $((SMP - 1)))
	grep -qF "online cpus      [$want]" "$w/console.log" || fails+=("$kver: the guest does not have its $SMP CPUs online")
	# The failure paths ran: ioctls that could not allocate, generator
	# flushes that could not (the generator's ENOMEM path), the freezer.
	local enomem gen_fail
	enomem=$(sed -nE '/^== STEP fuzz_faults/,/^== STEP/ s/^kmod fuzz: .* ENOMEM=([0-9]+).*/\1/p' "$w/console.log" | head -n1)
	gen_fail=$(sed -nE 's/^kmod fuzz: allocation failures injected: .*, ([0-9]+) generator flushes could not allocate.*/\1/p' "$w/console.log" | head -n1)
	[ "${enomem:-0}" -ge 1 ] || fails+=("$kver: no ioctl failed to allocate under fault injection")
	[ "${gen_fail:-0}" -ge 1 ] || fails+=("$kver: no generator flush failed to allocate under fault injection")
	grep -q 'Freezing remaining freezable tasks completed' "$w/dmesg.txt" ||
		fails+=("$kver: the freezer did not freeze the kernel threads")
	say "$kver: failure paths: ${enomem:-0} ioctls and ${gen_fail:-0} generator flushes could not allocate; $(tr -d '\r' <"$w/console.log" | grep -oE 'CAL IPIs across the freeze.*' | head -n1)"
}

# Writes the (first) result file of guest $1's report in $2 to
# $2/results/ and sets RESULT to its path; a failure is added to `fails`
# (so not to be called in a subshell).
extract_result() {
	local kver=$1 w=$2 name
	RESULT=
	name=$(grep -oE '^@@BEGIN result .*' "$w/report.txt" | head -1 | cut -d' ' -f3 || true)
	[ -n "$name" ] || { fails+=("$kver: no result file from the guest"); return 1; }
	mkdir -p "$w/results"
	RESULT=$w/results/$name
	awk -v b="@@BEGIN result $name" '$0==b{p=1;next} /^@@END/{p=0} p' "$w/report.txt" |
		base64 -d >"$RESULT" || { fails+=("$kver: result file did not decode"); return 1; }
}

# The suite's result file from guest $2: parses, labelled TCG, has the kmod
# experiments, the series rows of both timings and the deferred ids.
check_result() {
	local kver=$1 w=$2 f id
	extract_result "$kver" "$w" || return
	f=$RESULT
	jq -e '.environment.cpu.hypervisor // "" | test("TCG")' "$f" >/dev/null ||
		fails+=("$kver: result not labelled TCG")
	local kmod role
	kmod=$(jq '[.experiments[].id | select(test("^(flush\\.kernel|entry\\.flush|ipi\\.kmod)\\."))] | length' "$f")
	[ "$kmod" -gt 0 ] || fails+=("$kver: no kmod experiments in the result")
	# With PTI on the series rows are the series; with it off, labelled so.
	role=series
	[ "$PTI" = on ] || role=series_pti_off
	for id in entry.flush.series entry.flush.series.next_entry; do
		jq -e --arg id "$id" --arg role "$role" --argjson pti "$([ "$PTI" = on ] && echo true || echo false)" \
			'.experiments[] | select(.id == $id) | .params.role == $role and .params.pti == $pti' "$f" >/dev/null ||
			fails+=("$kver: $id missing or not labelled role=$role pti=$PTI")
	done
	for id in deferred.check.uncontended deferred.check.contended entry.flush.deferred entry.flush.deferred.next_entry; do
		jq -e --arg id "$id" 'any(.experiments[]; .id == $id)' "$f" >/dev/null || fails+=("$kver: $id missing")
	done
	check_scenarios "$kver" "$f" "QEMU TCG, emulated"
	say "$kver: result file $(basename "$f"): $(jq '.experiments | length' "$f") experiments ($kmod kmod), emulated"
	# Both timings of every variant side by side (delta medians over nop).
	jq -r '[.experiments[] | select(.id | test("^entry\\.flush\\.[a-z0-9_]+(\\.next_entry)?$"))]
		| group_by(.params.variant + (.params.mark_rate_hz // "" | tostring))[]
		| "  [QEMU TCG, emulated] entry.flush.\(.[0].id | sub("^entry\\.flush\\."; "") | sub("\\.next_entry$"; "")): dispatch \(map(select(.params.timing == "dispatch"))[0].baseline.delta_median // "-") next_entry \(map(select(.params.timing == "next_entry"))[0].baseline.delta_median // "-") cycles"' "$f" >&2
	jq -r '.experiments[] | select(.id | test("^deferred\\."))
		| "  [QEMU TCG, emulated] \(.id) median \(.summary.median) cycles"' "$f" >&2
}

fails=()
TIMES=()
for g in "${GUESTS[@]}"; do
	read -r label image kdir <<<"$g"
	guest "$label" "$image" "$kdir"
done

TOTAL=$(($(date +%s) - T0))
labels=$(for g in "${GUESTS[@]}"; do printf '%s ' "${g%% *}"; done)
if [ ${#fails[@]} -gt 0 ]; then
	for f in "${fails[@]}"; do say "  - $f"; done
	say "FAIL (${TOTAL}s; logs in $WORK)"
	exit 1
fi
say "PASS on ${labels% } (${TOTAL}s total; ${TIMES[*]}; logs in $WORK)"
