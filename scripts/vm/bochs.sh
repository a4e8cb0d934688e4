#!/usr/bin/env bash
# Bochs leg of scripts/vm-test.sh (--bochs): boots a Debian kernel under
# Bochs with a Haswell CPU model (PCID, INVPCID, PGE), 2 CPUs and pti=on,
# so the module's CR3-noflush, INVPCID and PCID paths really execute (QEMU
# TCG has neither PCID nor INVPCID), the generators and IPI paths
# included, and the module's scenario ids (scripts/lib.sh
# check_scenarios). Prints per flush variant `flush_timed <variant>
# median <N> cycles (emulated, Bochs)`, `entry_flush <variant> dispatch
# <D> next_entry <N> cycles (emulated, Bochs)`, each scenario's counts,
# and PASS.
#
#   scripts/vm/bochs.sh KERNEL_VERSION MODULE.ko WORKDIR
#
# Bochs interprets every instruction: its cycle figures say nothing about
# hardware; they show the path ran. Env: BOCHS_TIMEOUT (s, default 1800).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
KVER=$1 KO=$2 W=$3
TIMEOUT=${BOCHS_TIMEOUT:-1800}
say() { printf 'vm-test (bochs): %s\n' "$*" >&2; }
die() {
	say "FAIL: $*"
	exit 1
}
for c in bochs grub-mkrescue xorriso jq; do
	command -v "$c" >/dev/null || die "$c missing: scripts/install-deps.sh test"
done
T0=$(date +%s)
rm -rf "$W"
mkdir -p "$W/iso/boot/grub" "$W/ir"/{bin,dev,proc,sys,tmp}

(cd "$ROOT" && cargo build --release -q -p harness --bin entrybench) || die "cargo build failed"
# Stripped: every byte of the initramfs is decompressed by an emulated CPU.
strip -o "$W/ir/bin/entrybench" "$ROOT/target/release/entrybench"
cp /bin/busybox "$W/ir/bin/busybox"
copy_libs "$W/ir" "$W/ir/bin/entrybench"
cp "$KO" "$W/ir/entrybench.ko"
cp "$ROOT/scripts/vm/bochs-init" "$W/ir/init"
chmod +x "$W/ir/init"
(cd "$W/ir" && find . | cpio -o -H newc --quiet | gzip -9) >"$W/iso/boot/initrd.gz"
cp "/boot/vmlinuz-$KVER" "$W/iso/boot/vmlinuz"
# No isolcpus/nohz_full here (QEMU has them): with nohz_full=1 the 2-CPU
# Bochs guest never reached /init (16 minutes, only APERF/MPERF reads in
# the log). The generators and IPIs run all the same.
cat >"$W/iso/boot/grub/grub.cfg" <<'CFG'
set timeout=0
serial --unit=0 --speed=115200
terminal_input serial console
terminal_output serial console
menuentry entrybench {
	linux /boot/vmlinuz console=ttyS0,115200 rdinit=/init pti=on loglevel=4 panic=0
	initrd /boot/initrd.gz
}
CFG
grub-mkrescue -o "$W/eb.iso" "$W/iso" >"$W/grub-mkrescue.log" 2>&1 ||
	{ cat "$W/grub-mkrescue.log" >&2; die "grub-mkrescue failed"; }

# Notes from trying it: no headless display in Debian's build but rfb
# with timeout=0; without a dummy sound driver Bochs aborts (no ALSA
# card); the binary has the debugger built in, so -rc gives it `c`.
cat >"$W/bochsrc" <<RC
megs: 512
romimage: file=/usr/share/bochs/BIOS-bochs-latest
vgaromimage: file=/usr/share/vgabios/vgabios.bin
cpu: model=corei7_haswell_4770, count=2, ips=200000000, reset_on_triple_fault=0, ignore_bad_msrs=1
clock: sync=none
ata0-master: type=cdrom, path=$W/eb.iso, status=inserted
boot: cdrom
com1: enabled=1, mode=file, dev=$W/serial.txt
display_library: rfb, options="timeout=0"
sound: driver=dummy
speaker: enabled=0
log: $W/bochs.log
RC
echo c >"$W/bochs.rc"
say "booting $KVER under Bochs (corei7_haswell_4770, 2 CPUs, pti=on, timeout ${TIMEOUT}s)"
TB=$(date +%s)
bochs -q -f "$W/bochsrc" -rc "$W/bochs.rc" </dev/null >"$W/bochs.out" 2>&1 &
pid=$!
# A clean power-off makes Bochs exit 1: judge by the serial log.
while kill -0 "$pid" 2>/dev/null; do
	if grep -qE '^@@DONE|Kernel panic' "$W/serial.txt" 2>/dev/null ||
		[ $(($(date +%s) - TB)) -ge "$TIMEOUT" ]; then
		sleep 2
		kill "$pid" 2>/dev/null || true
		break
	fi
	sleep 5
done
wait "$pid" 2>/dev/null || true
TGUEST=$(($(date +%s) - TB))
tr -d '\r' <"$W/serial.txt" >"$W/console.log" 2>/dev/null || true
say "guest ran ${TGUEST}s; $(grep -m1 '^@@BOOTED' "$W/console.log" || echo 'never reached /init')"

fails=()
grep -q '^@@DONE' "$W/console.log" || fails+=("guest did not finish: see $W/console.log, $W/bochs.log")
grep -q '^@@SELFTEST rc=0' "$W/console.log" || fails+=("selftest failed in the guest")
grep -q 'pti              yes' "$W/console.log" || fails+=("PTI not on in the guest")
awk '$0=="@@BEGIN dmesg"{p=1;next} /^@@END/{p=0} p' "$W/console.log" >"$W/dmesg.txt"
if grep -nE "$KERNEL_BAD" "$W/dmesg.txt" >"$W/dmesg-bad.txt"; then
	fails+=("dmesg has bad lines: $(head -3 "$W/dmesg-bad.txt" | tr '\n' ' ')")
fi
grep -q '^online cpus      \[0, 1\]' "$W/console.log" || fails+=("the guest does not have 2 CPUs online")
timed=0
while read -r v n; do
	echo "flush_timed $v median $n cycles (emulated, Bochs)"
	case $v in invpcid[0-3] | cr3_noflush) timed=$((timed + 1)) ;; esac
done < <(sed -nE 's/^selftest: flush_timed ([a-z0-9_]+) +median +([0-9]+) cycles.*/\1 \2/p' "$W/console.log")
[ "$timed" -ge 5 ] || fails+=("only $timed of the invpcid0-3 / cr3_noflush variants timed")
entries=0
while read -r v d n; do
	echo "entry_flush $v dispatch $d next_entry $n cycles (emulated, Bochs)"
	entries=$((entries + 1))
done < <(sed -nE 's/^selftest: entry_flush ([a-z0-9_]+) +dispatch +(-?[0-9]+) next_entry +(-?[0-9]+) cycles.*/\1 \2 \3/p' "$W/console.log")
[ "$entries" -ge 10 ] || fails+=("only $entries variants timed at dispatch and before the next entry (want all 10)")
gens=$(grep -cE '^selftest: generator ' "$W/console.log" || true)
[ "$gens" -ge 4 ] || fails+=("only $gens generator methods ran (want 4: flush_all, kernel_range, sync_core, defer_mark)")
grep -E '^selftest: (generator|global_flush|budget)' "$W/console.log" | sed 's/$/ (emulated, Bochs)/' || true
grep -q '^@@SCENARIOS rc=0' "$W/console.log" || fails+=("the scenario.kmod.* run failed in the guest")
awk '$0=="@@BEGIN result"{p=1;next} /^@@END/{p=0} p' "$W/console.log" | base64 -d 2>/dev/null |
	gunzip >"$W/scenarios.json" 2>/dev/null || true
if jq -e . "$W/scenarios.json" >/dev/null 2>&1; then
	check_scenarios bochs "$W/scenarios.json" "Bochs, emulated"
else
	fails+=("no scenario result from the guest")
fi
TOTAL=$(($(date +%s) - T0))
if [ ${#fails[@]} -gt 0 ]; then
	for f in "${fails[@]}"; do say "  - $f"; done
	say "FAIL (${TOTAL}s; logs in $W)"
	exit 1
fi
say "figures above are Bochs (emulated): they show the paths ran, not what they cost"
echo "PASS (${TOTAL}s total, guest ${TGUEST}s)"
