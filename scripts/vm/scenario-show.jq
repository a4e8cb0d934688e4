# Used by scripts/vm-test.sh and scripts/vm/bochs.sh: one line per
# scenario.kmod.* result with what the victim and /proc/interrupts
# counted, labelled with $tag (the figures are emulated).
def r: if . == null then "-" else (. * 100 | round / 100 | tostring) end;
.experiments[]
| select(.id | startswith("scenario.kmod."))
| "  [\($tag)] \(.id): \(.scenario.run.iter_per_s | round) iter/s (baseline \(.scenario.baseline.iter_per_s | round)), \(.scenario.events) events, CAL \(.params.cal_excess) vs baseline (\(if .scenario.events > 0 and .params.cal_excess != null then (.params.cal_excess / .scenario.events | r) else "-" end)/event), victim flushes \(.params.victim_calls.triggered.flushed // "-")/\(.params.victim_calls.triggered.calls // "-") in \(.params.victim_calls.triggered.event_groups // "-") event groups, lost/event \(.scenario.lost_per_event_cycles | r) cycles, per iteration \(.baseline.delta_median | r) cycles\(if .params.initiator_ready_ms != null then ", initiator on its CPU after \(.params.initiator_ready_ms | r) ms" else "" end)"
