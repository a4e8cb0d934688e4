#!/usr/bin/env bash
# entry.getppid against `perf bench syscall basic`, measured in the same
# session on the same CPU, rounds alternating.
#
# perf bench loops glibc's syscall(SYS_getppid) and reports total time /
# calls. entrybench measures entry.getppid twice: with the raw `syscall`
# instruction (its default: the entry alone) and with `--syscall libc`
# (glibc's wrapper, the path perf bench takes). The issue's bar is the
# entrybench *mean* within +-5% of perf's ns/op: compare the libc column;
# raw - libc is what the wrapper costs (about 8 ns on an EPYC KVM guest).
#
#   scripts/compare-perf-bench.sh [ROUNDS] [extra entrybench run args...]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
shift || true
command -v jq >/dev/null || { echo "jq is needed: scripts/install-deps.sh run" >&2; exit 2; }
perf=$(command -v perf || ls /usr/bin/perf_* 2>/dev/null | head -n1 || true)
[ -n "$perf" ] || { echo "perf not found: scripts/install-deps.sh run (Debian: linux-perf)" >&2; exit 2; }

cargo build --release --quiet --bin entrybench
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# shellcheck source=scripts/lib.sh
. scripts/lib.sh

# entrybench mean and median ns of entry.getppid: eb PATH OUT
eb() {
	target/release/entrybench run --only entry.getppid --syscall "$1" --out "$2" "${extra[@]}" \
		>/dev/null 2>"$2.err" || { cat "$2.err" >&2; exit 1; }
	jq -r '.timer.tsc_hz as $hz | .experiments[] | select(.id == "entry.getppid")
		| "\(.summary.mean * 1e9 / $hz) \(.summary.median * 1e9 / $hz)"' "$2"
}
extra=("$@")

printf '%-5s %10s %22s %22s\n' round "perf" "libc mean (median)" "raw mean (median)"
for i in $(seq 1 "$rounds"); do
	read -r lmean lmed < <(eb libc "$tmp/libc$i.json")
	cpu=$(jq '.placement.victim_cpu' "$tmp/libc$i.json")
	# perf prints "   0.105394 usecs/op"; pin it to entrybench's victim CPU.
	p=$(taskset -c "$cpu" "$perf" bench syscall basic 2>&1 | awk '/usecs\/op/ {printf "%.2f", $1 * 1000}')
	[ -n "$p" ] || { echo "could not read perf bench output" >&2; exit 1; }
	read -r rmean rmed < <(eb raw "$tmp/raw$i.json")
	printf '%-5s %10.2f %13.2f (%6.2f) %13.2f (%6.2f)\n' "$i" "$p" "$lmean" "$lmed" "$rmean" "$rmed"
	echo "$p" >>"$tmp/perf"
	echo "$lmean" >>"$tmp/lmean"
	echo "$rmean" >>"$tmp/rmean"
done
awk -v p="$(median <"$tmp/perf")" -v l="$(median <"$tmp/lmean")" -v r="$(median <"$tmp/rmean")" -v cpu="$cpu" 'BEGIN {
	d = (l - p) / p * 100
	printf "CPU %s, medians of the rounds, ns/op: perf %.2f, entrybench libc mean %.2f (%+.1f%% %s), raw mean %.2f (%+.1f%%)\n",
		cpu, p, l, d, (d <= 5 && d >= -5) ? "within +-5%" : "outside +-5%", r, (r - p) / p * 100
}'
