#!/usr/bin/env bash
# Run-to-run spread of entry.null: N (default 5) back-to-back
# `entrybench run --quick --only entry.null`, each median and mean, and the
# spread (max - min) / min of the medians. scripts/compare-perf-bench.sh
# checks the spread against perf bench's own in the same windows; this is
# the quick look without perf.
#
# Exits 1 when the median spread is above 1%.
#
#   scripts/measure-spread.sh [N] [extra entrybench run args...]
#   scripts/measure-spread.sh --from RESULT.json...   checks result files instead
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need jq
scratch_dir

files=()
if [ "${1:-}" = --from ]; then
	shift
	files=("$@")
	[ ${#files[@]} -ge 2 ] || fail "--from needs at least two result files"
else
	n=${1:-5}
	shift || true
	build_release
fi

printf '%-4s %12s %10s %12s %10s\n' run "median cyc" "median ns" "mean cyc" "mean ns"
for i in $(seq 1 "${n:-${#files[@]}}"); do
	r=${files[$((i - 1))]:-$tmp/$i.json}
	[ ${#files[@]} -gt 0 ] || run_into entry.null "$r" --quick "$@"
	[ "$i" = 1 ] && first=$r
	jq -r --arg i "$i" '.timer.tsc_hz as $hz | .experiments[] | select(.id == "entry.null")
		| [$i, .summary.median, .summary.median * 1e9 / $hz, .summary.mean, .summary.mean * 1e9 / $hz]
		| @tsv' "$r" | tee -a "$tmp/all" |
		awk -F'\t' '{printf "%-4s %12.1f %10.2f %12.2f %10.2f\n", $1, $2, $3, $4, $5}'
done
[ "$(wc -l <"$tmp/all")" -ge 2 ] || fail "fewer than two entry.null results to compare"
step=$(jq '.experiments[0].params.timer_resolution_cycles // 1' "$first")
awk -F'\t' -v step="$step" '
	NR == 1 { lo = hi = $2; mlo = mhi = $4 }
	{ if ($2 < lo) lo = $2; if ($2 > hi) hi = $2; if ($4 < mlo) mlo = $4; if ($4 > mhi) mhi = $4 }
	END {
		s = (hi - lo) / lo * 100
		printf "median spread %.2f%% %s; mean spread %.2f%%\n", s, (s <= 1 ? "(<= 1%)" : "(above 1%)"), (mhi - mlo) / mlo * 100
		if (step > 1) printf "note: timer readings step by %d cycles, so medians move in such steps\n", step
		exit (s > 1)
	}' "$tmp/all" || fail "entry.null: the median spread is above 1% (${files[*]:-$n runs})"
