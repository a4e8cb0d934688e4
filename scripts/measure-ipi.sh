#!/usr/bin/env bash
# ipi.user.mprotect (or the id given): interruptions the victim saw
# against the victim CPU's TLB (or CAL) IPI count delta, and the per-IPI
# victim cost and initiator cost distributions, and the attribution
# control: the fraction of no-IPI windows as long as the real calls
# (interleaved with them) that matched a victim gap, with the same
# matching rule (a gap overlapping the call and ending within the
# tolerance of its return, fitted against half of the control's
# windows; the other half gives the rate: control_match_rate). Where
# the kernel has the csd:csd_function_entry tracepoint and we are root,
# traced check blocks interleaved with the priced ones fit the tolerance
# instead, to the kernel's labels of the IPIs' gaps on half their calls, and on the
# other half counts the claimed gaps that held no event of the IPI's
# function: that is the false_match_rate (otherwise the control's rate
# is). Bars: seen >= 99% of the TLB delta (less pool-reset IPIs),
# false_match_rate <= 0.02.
#
# Exits 1 when a bar is missed (or the id did not run).
#
#   scripts/measure-ipi.sh [ID] [extra entrybench run args, e.g. --rate 500 --duration 10]
#   scripts/measure-ipi.sh --from RESULT.json [ID]   checks a result file instead
set -euo pipefail
cd "$(dirname "$0")/.."

from=""
if [ "${1:-}" = --from ]; then
	from=${2:?--from needs a result file}
	shift 2
fi
id=${1:-ipi.user.mprotect}
shift || true
# shellcheck source=scripts/lib.sh
. scripts/lib.sh
need jq
scratch_dir

r=${from:-$tmp/r.json}
if [ -z "$from" ]; then
	build_release
	run_into "$id" "$r" "$@"
fi
jq -r --arg id "$id" '
	.timer.tsc_hz as $hz
	| def ns: . * 1e9 / $hz | floor;
	.placement as $pl
	| .experiments[] | select(.id == $id)
	| .ipi as $i | .params as $p
	| ($p.row) as $row
	| (if $row == "CAL" then $i.cal_delta else $i.tlb_delta end) as $delta
	| "\(.id): victim CPU \($pl.victim_cpu) (isolated: \($pl.victim_isolated)), initiator CPU \($pl.initiator_cpu)",
	  "  calls \($p.calls) at \($p.achieved_rate_hz | floor) Hz for \($i.duration_s * 100 | floor / 100) s, threshold \($i.threshold_cycles) cycles",
	  "  seen \($i.interruptions_seen) / \($row) delta \($delta) = \($i.seen_ratio * 1000 | floor / 10)% \(if $i.seen_ratio >= 0.99 then "(>= 99%)" else "(below 99%)" end)",
	  (if ($p.ipis_beyond_calls // 0) > 0 then "  \($p.ipis_beyond_calls) of them beyond the \($p.calls_long_enough) calls long enough to have sent one: not the run'"'"'s\(if $p.seen_ratio_of_run_ipis then "; seen \($p.seen_ratio_of_run_ipis * 1000 | floor / 10)% of the rest" else "" end)" else empty end),
	  "  false_match_rate \($i.false_match_rate // "not recorded") \(if ($i.false_match_rate // 1) <= 0.02 then "(<= 0.02)" else "(ABOVE 0.02)" end): \($p.false_match_rule // "the control'"'"'s share over \($p.control_calls // 0) windows"); pool-reset IPIs \($p.pool_reset_ipis // 0)",
	  (if $p.trace_check.timing_claimed then
	    ($p.trace_check) as $c
	    | "  trace check (\($c.calls) calls in check blocks interleaved with the priced ones, \($c.held_out_calls) held out): timing claimed \($c.timing_claimed), \($c.timing_claimed_without_event) without an event, missed \($c.timing_missed_labelled) labelled; the trace labelled \($c.labelled) of \($c.ipis) IPIs and \($c.controls_labelled) of \($c.controls) control windows; control_match_rate \($p.control_match_rate) over \($p.control_calls) windows"
	  elif $p.trace_check.skipped then "  trace check skipped: \($p.trace_check.skipped); control_match_rate \($p.control_match_rate)"
	  else empty end),
	  (if $p.match_tolerance_before_cycles then
	    ($p.return_minus_gap_end_cycles) as $o
	    | "  matching: a gap overlapping a call and ending \($p.match_tolerance_before_cycles | ns) ns before to \($p.match_tolerance_after_cycles | ns) ns after its return (\(if $p.trace_check.tolerance_before_cycles then "fitted to the trace check'"'"'s labels; here \($p.match_fit_calls_within * 1000 | floor / 10)% of calls and \($p.match_fit_controls_within * 1000 | floor / 10)% of half the control windows had a gap within it; " elif $p.match_fit_calls_within then "fitted against half the control windows: \($p.match_fit_calls_within * 1000 | floor / 10)% of calls and \($p.match_fit_controls_within * 1000 | floor / 10)% of those windows had a gap within it; " else "" end)return minus gap end over \($o.n) calls p10 \($o.p10 | ns), p50 \($o.p50 | ns), p90 \($o.p90 | ns) ns; the other half of the control gives the control_match_rate)"
	  else "  matching: recorded before the end-of-call rule" end),
	  "  other gaps \($p.gaps_unmatched)\(if $p.unmatched_gaps_per_s then " (\($p.unmatched_gaps_per_s | floor)/s, \($p.unmatched_time_share * 1000 | floor / 10)% of the victim'"'"'s time: the chance of a match)" else "" end), LOC delta \($p.loc_delta), RES delta \($p.res_delta), TLB \($i.tlb_delta), CAL \($i.cal_delta)",
	  (if $p.switched_time_share != null then "  victim thread switched out \($p.switched_time_share * 10000 | floor / 100)% of the phase; long matched gaps: \($p.matched_switched // 0) switched (seen), \($p.matched_preemptions) preemptions (not seen), \($p.matched_stalls) stalls (seen)" else empty end),
	  "  victim cost per IPI ns: min \(.summary.min | ns) median \(.summary.median | ns) p90 \(.summary.p90 | ns) p99 \(.summary.p99 | ns) max \(.summary.max | ns)",
	  "  initiator cost per call ns: median \($i.initiator.median | ns) p99 \($i.initiator.p99 | ns)",
	  (.notes[] | "  note: \(.)")
' "$r"
# The bars of the header, from the same fields.
jq -e --arg id "$id" '[.experiments[] | select(.id == $id)] | length == 1 and
	(.[0].ipi.seen_ratio >= 0.99) and ((.[0].ipi.false_match_rate // 1) <= 0.02)' "$r" >/dev/null ||
	fail "$id: a bar is missed (seen >= 99% of the IPIs, false_match_rate <= 0.02) or it did not run: $r"
