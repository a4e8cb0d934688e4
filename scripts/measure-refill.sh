#!/usr/bin/env bash
# refill.wN with default options: each delta median (flushed minus plain
# walk, paired within blocks) with its block-bootstrap CI, the plain and
# flushed walks' per-page cost, and whether the run judged the size past
# the TLB's reach. The bar: every delta inside the reach is positive and
# the deltas do not decrease with N by more than 10%; sizes past the
# reach are listed, not checked (the curve stops there).
#
# Exits 1 when the bar is missed (or no size inside the reach ran).
#
#   scripts/measure-refill.sh [extra entrybench run args, e.g. --quick]
#   scripts/measure-refill.sh --from RESULT.json   checks a result file instead
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need jq
scratch_dir

if [ "${1:-}" = --from ]; then
	r=${2:?--from needs a result file}
else
	r=$tmp/r.json
	build_release
	run_into 'refill.*' "$r" "$@"
fi
printf '%-13s %10s %21s %9s %9s %s\n' id "delta cyc" "CI95" "plain/pg" "flush/pg" reach
jq -r '.experiments[] | select(.id | startswith("refill.w"))
	| [.params.pages, .id, .baseline.delta_median, .baseline.delta_ci95[0], .baseline.delta_ci95[1],
	   .params.plain_per_page_cycles, .params.flushed_per_page_cycles,
	   (if .params.past_tlb_reach then "past" else "inside" end)] | @tsv' "$r" |
	sort -n -k1,1 | tee "$tmp/rows" |
	awk -F'\t' '{printf "%-13s %10.1f %10.1f..%-9.1f %9.2f %9.2f %s\n", $2, $3, $4, $5, $6, $7, $8}'
awk -F'\t' '
	$8 == "inside" {
		n++
		if ($3 <= 0) { bad = bad " " $2 " not positive;" }
		if (n > 1 && $3 < prev * 0.9) { bad = bad " " $2 " below " pid " by more than 10%;" }
		prev = $3; pid = $2
	}
	$8 == "past" { past = past " " $2 }
	END {
		if (n == 0) bad = " no size inside the reach ran;"
		if (bad == "") printf "inside the TLB reach: %d sizes, all positive and non-decreasing within 10%% [ok]\n", n
		else printf "inside the TLB reach: FAILED:%s\n", bad
		if (past != "") printf "past the reach (curve stops, not checked):%s\n", past
		exit (bad != "")
	}' "$tmp/rows" || fail "refill: the bar is missed: $r"
