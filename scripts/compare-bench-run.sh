#!/usr/bin/env bash
# entry.* and vdso.clock_gettime measured by `cargo bench` (criterion, in
# cycles) against `entrybench run`, in one session on the same CPU, rounds
# alternating, so drift and other load hit both alike.
#
# Both sides are read from their JSON with jq (the run's result file,
# criterion's sample.json files) and the median of each id is compared.
# The bar: the two agree within +-5% (exit 1 when an id does not).
#
# Both time back-to-back calls through glibc's syscall(): criterion many
# per sample, `run` a batch per timed region chosen so the timer step is
# under 2% of it (pass e.g. `--batch 1` to see single, quantized calls).
#
# REFILL=1 adds refill.w16/w256/w1024 (headline: flushed minus plain walk).
# `run`'s refill delta is a median of single walks, so on such CPUs it
# moves in whole TSC steps (26 cycles = 14% of refill.w16 here): expect
# agreement within a step there, not within 5%.
#
#   [REFILL=1] scripts/compare-bench-run.sh [ROUNDS] [entrybench run args...]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
shift || true
extra=("$@")
case $rounds in '' | *[!0-9]* | 0)
	echo "ROUNDS must be a positive number, got '$rounds'" >&2
	exit 2
	;;
esac

only='entry.*,vdso.*'
filter='^entry/'
ids='entry\.(null|getpid|getppid)|vdso\..*'
if [ "${REFILL:-0}" = 1 ]; then
	only="$only,refill.*"
	filter='^(entry|refill)/'
	ids="$ids|refill\.w[0-9]+"
	extra+=(--pages 16,256,1024)
fi

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
build_release
cargo bench --quiet --no-run --bench cycles 2>/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# "id headline_cycles" per compared row, read from the JSON with jq: the
# run's result file (the headline is the median, or the delta median of
# refill), and criterion's sample.json files (per-iteration cycles =
# times / iters, as report::input::criterion reads them; refill.wN is the
# flushed median minus the plain median).
run_medians() {
	jq -r --arg ids "^($ids)$" '.experiments[] | select(.id | test($ids))
		| "\(.id) \(if .baseline then .baseline.delta_median else .summary.median end)"' "$1" | sort
}
crit_median() {
	jq -r '[.iters as $n | .times | to_entries[] | .value / $n[.key]] | sort
		| if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end' "$1"
}
bench_medians() {
	local d=target/criterion
	for b in null getpid getppid; do
		[ -f "$d/entry/$b/new/sample.json" ] && echo "entry.$b $(crit_median "$d/entry/$b/new/sample.json")"
	done
	[ -f "$d/entry/vdso_clock_gettime/new/sample.json" ] &&
		echo "vdso.clock_gettime $(crit_median "$d/entry/vdso_clock_gettime/new/sample.json")"
	for f in "$d"/refill/flushed/*/new/sample.json; do
		[ -f "$f" ] || continue
		n=$(basename "$(dirname "$(dirname "$f")")")
		p="$d/refill/plain/$n/new/sample.json"
		[ -f "$p" ] && echo "refill.w$n $(echo "$(crit_median "$f") $(crit_median "$p")" | awk '{print $1 - $2}')"
	done
	true
}

printf '%-5s %-20s %10s %10s %8s\n' round id "run cyc" "bench cyc" diff
for i in $(seq 1 "$rounds"); do
	run_into "$only" "$tmp/run$i.json" --quick "${extra[@]}"
	cargo bench --quiet --bench cycles -- "$filter" >"$tmp/bench$i.log" 2>&1 ||
		{ cat "$tmp/bench$i.log" >&2; exit 1; }
	run_medians "$tmp/run$i.json" >"$tmp/r$i"
	bench_medians | sort >"$tmp/b$i"
	join "$tmp/r$i" "$tmp/b$i" | while read -r id r b; do
		printf '%-5s %-20s %10.1f %10.1f %+7.1f%%\n' "$i" "$id" "$r" "$b" "$(echo "$r $b" | awk '{print ($2-$1)/$1*100}')"
		echo "$r" >>"$tmp/$id.run"
		echo "$b" >>"$tmp/$id.bench"
	done
done

cpu=$(jq -r '.placement.victim_cpu' "$tmp/run1.json" 2>/dev/null || echo "?")
echo
echo "medians of $rounds rounds (CPU $cpu; run args: ${extra[*]}):"
printf '%-20s %10s %10s %8s  %s\n' id "run cyc" "bench cyc" diff "+-5%"
worst=0
missed=""
for f in "$tmp"/*.run; do
	id=$(basename "$f" .run)
	r=$(median <"$f")
	b=$(median <"$tmp/$id.bench")
	d=$(echo "$r $b" | awk '{printf "%.2f", ($2-$1)/$1*100}')
	ok=$(echo "$d" | awk '{print ($1 <= 5 && $1 >= -5) ? "yes" : "NO"}')
	[ "$ok" = yes ] || missed="$missed $id"
	worst=$(echo "$worst $d" | awk '{a=$2<0?-$2:$2; print (a>$1)?a:$1}')
	printf '%-20s %10.1f %10.1f %+7.1f%%  %s\n' "$id" "$r" "$b" "$d" "$ok"
done
echo "largest difference: ${worst}%"
[ -z "$missed" ] || fail "outside +-5%:$missed"
