#!/usr/bin/env bash
# The measurement-truth checks: entrybench's default entry.* figures
# against `perf bench syscall basic` and a C loop of glibc
# syscall(SYS_getppid) timed with fenced rdtsc (scripts/c/syscall-loop.c),
# ROUNDS (default 5) back-to-back rounds in the same windows, all pinned
# to entrybench's victim CPU. Prints, from the result JSON (jq):
#
#  1. per round: entry.null/getpid/getppid medians, perf bench ns/op, the
#     C loop's median and mean per call;
#  2. the median of entry.getppid's medians over the rounds as a ratio of
#     perf bench's median and of the C loop's (bar: within +-7%);
#  3. the spread (max - min) / median of the entry.null/getpid/getppid
#     medians against max(2%, 1.5 x perf bench's spread);
#  4. `entrybench compare` of rounds 1 and 2: entry.*, timer.* and vdso.*
#     rows flagged, and how far perf bench moved between them (the bar
#     applies when it moved < 3%);
#  5. the timer resolution the result records against the smallest step
#     of back-to-back rdtsc reads (bar: recorded >= smallest step).
#
# Exits 1 when a bar is missed.
#
# perf bench reports wall time over its whole loop, so on a loaded machine
# it includes other tasks' time slices; the C loop prints both its median
# and its mean to show how much of a gap that is. Run on a quiet machine.
#
#   scripts/compare-perf-bench.sh [ROUNDS] [extra entrybench run args...]
#   QUICK=1 adds --quick to every run.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-5}
shift || true
extra=("$@")
[ "${QUICK:-0}" = 1 ] && extra+=(--quick)
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "compare-perf-bench.sh: ROUNDS must be a positive integer" >&2; exit 2; }
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need jq
need cc
perf=$(command -v perf || ls /usr/bin/perf_* 2>/dev/null | head -n1 || true)
[ -n "$perf" ] || { echo "perf not found: scripts/install-deps.sh run (Debian: linux-perf)" >&2; exit 2; }

build_release
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cc -O2 -o "$tmp/loop" scripts/c/syscall-loop.c

ids='entry.null entry.getpid entry.getppid'
printf '%-5s %9s %9s %9s %9s %12s %12s\n' round null getpid getppid perf "C median" "C mean"
echo "      (ns per call; entrybench figures are medians of the default run)"
for i in $(seq 1 "$rounds"); do
	out="$tmp/r$i.json"
	run_into 'timer.*,entry.*,vdso.*' "$out" "${extra[@]}"
	cpu=$(jq '.placement.victim_cpu' "$out")
	hz=$(jq '.timer.tsc_hz' "$out")
	# perf prints "   0.105394 usecs/op".
	p=$(taskset -c "$cpu" "$perf" bench syscall basic 2>&1 | awk '/usecs\/op/ {printf "%.3f", $1 * 1000}')
	[ -n "$p" ] || { echo "could not read perf bench output" >&2; exit 1; }
	read -r cmed cmean cstep < <(taskset -c "$cpu" "$tmp/loop" 2000 100)
	read -r n g gg < <(jq -r --arg hz "$hz" '
		[("entry.null", "entry.getpid", "entry.getppid") as $id
		 | .experiments[] | select(.id == $id) | .summary.median * 1e9 / ($hz | tonumber)]
		| @tsv' "$out")
	awk -v i="$i" -v n="$n" -v g="$g" -v gg="$gg" -v p="$p" -v cm="$cmed" -v ca="$cmean" -v hz="$hz" 'BEGIN {
		printf "%-5s %9.2f %9.2f %9.2f %9.2f %12.2f %12.2f\n", i, n, g, gg, p, cm * 1e9 / hz, ca * 1e9 / hz }'
	printf '%s %s %s %s %s %s %s\n' "$n" "$g" "$gg" "$p" \
		"$(awk -v c="$cmed" -v hz="$hz" 'BEGIN {print c * 1e9 / hz}')" \
		"$(awk -v c="$cmean" -v hz="$hz" 'BEGIN {print c * 1e9 / hz}')" "$cstep" >>"$tmp/rows"
done

# Column statistics over the rounds: median and (max - min) / median.
col() { awk -v c="$1" '{print $c}' "$tmp/rows" | sort -g; }
# (max - min) / median of sorted numbers on stdin, in percent.
spread() {
	local v m
	v=$(cat)
	m=$(printf '%s\n' "$v" | median)
	printf '%s\n' "$v" | awk -v m="$m" 'NR == 1 {lo = $1} {hi = $1} END {print (hi - lo) / m * 100}'
}

missed=""
getppid=$(col 3 | median)
perf_med=$(col 4 | median)
c_med=$(col 5 | median)
c_mean=$(col 6 | median)
perf_spread=$(col 4 | spread)
echo
awk -v e="$getppid" -v p="$perf_med" -v c="$c_med" -v ca="$c_mean" 'BEGIN {
	rp = e / p; rc = e / c
	printf "entry.getppid median of medians %.2f ns: %.3fx perf bench (%.2f ns) %s, %.3fx the C loop median (%.2f ns) %s; C loop mean %.2f ns\n",
		e, rp, p, (rp >= 0.93 && rp <= 1.07 ? "[within +-7%]" : "[OUTSIDE +-7%]"),
		rc, c, (rc >= 0.93 && rc <= 1.07 ? "[within +-7%]" : "[OUTSIDE +-7%]"), ca
	exit !(rp >= 0.93 && rp <= 1.07 && rc >= 0.93 && rc <= 1.07)
}' || missed="$missed getppid-ratio"
for k in 1 2 3; do
	id=$(echo "$ids" | cut -d' ' -f$k)
	s=$(col "$k" | spread)
	awk -v id="$id" -v s="$s" -v ps="$perf_spread" 'BEGIN {
		bar = (1.5 * ps > 2 ? 1.5 * ps : 2)
		printf "%-14s spread of medians %.2f%% vs bar max(2%%, 1.5 x perf spread %.2f%%) = %.2f%% %s\n",
			id, s, ps, bar, (s <= bar ? "[ok]" : "[ABOVE]")
		exit !(s <= bar)
	}' || missed="$missed $id-spread"
done

if [ "$rounds" -ge 2 ]; then
	target/release/entrybench compare "$tmp/r1.json" "$tmp/r2.json" >"$tmp/cmp.txt"
	flagged=$(awk '$1 ~ /^(entry|timer|vdso)\./ && $NF == "yes" {print $1}' "$tmp/cmp.txt" | tr '\n' ' ')
	moved=$(awk 'NR == 1 {a = $4} NR == 2 {b = $4} END {d = (b - a) / a * 100; print (d < 0 ? -d : d)}' "$tmp/rows")
	awk -v f="$flagged" -v m="$moved" 'BEGIN {
		printf "compare rounds 1 -> 2: %s; perf bench moved %.2f%% %s\n",
			(f == "" ? "no entry/timer/vdso row flagged [ok]" : "FLAGGED " f), m,
			(m < 3 ? "(< 3%: the bar applies)" : "(>= 3%: the machine moved, bar does not apply)")
		exit (f != "" && m < 3)
	}' || missed="$missed compare-flagged"
fi

rec=$(jq '.timer.resolution_cycles' "$tmp/r1.json")
step=$(col 7 | head -n1)
awk -v r="$rec" -v s="$step" 'BEGIN {
	printf "timer resolution recorded %d cycles, smallest back-to-back rdtsc step %d cycles %s\n",
		r, s, (r >= s ? "[ok: no finer than the TSC step]" : "[FINER than the TSC step]")
	exit !(r >= s)
}' || missed="$missed timer-resolution"
ret=$(jq -r '.timer.tsc_hz as $hz | .experiments[] | select(.id == "entry.return_after_sysret")
	| "\(.baseline.delta_median) cycles (\(.baseline.delta_median * 1e9 / $hz * 100 | round / 100) ns); \(.params.mitigations | to_entries | map("\(.key): \(.value)") | join("; "))"' "$tmp/r1.json")
echo "return after sysret (round 1): $ret"
[ -z "$missed" ] || fail "bars missed:$missed"
