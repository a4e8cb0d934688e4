# Used by scripts/vm-test.sh and scripts/vm/bochs.sh on a result file: one
# line per scenario.kmod.* result whose counts disagree (nothing when all
# agree). IPI strategies: at least 10 events and 0.8 to 3 CAL IPIs on the
# victim per event more than in the baseline chunks (kernel_range's drain
# may add some). on_entry: no events, at most 10 CAL IPIs either way, and
# every victim entry flushed. deferred: at least 10 marks, at most 10 CAL
# IPIs either way (a mark sends none), and the victim's entries flushed
# at most once per mark (plus one for a bit left set earlier) and at
# least 0.8x per event group less one (params.victim_calls.triggered.
# event_groups: iterations at whose end a mark had begun since the last
# one). Marks that land while the bit is still pending coalesce into one
# flush, so the flushes follow the groups, not the marks (QEMU TCG on a
# busy host: 0.37x to 0.78x of the marks); a group can still hold two
# marks when the first lands after the iteration that saw it begin.
def n: . // 0;
.experiments[]
| select(.id | startswith("scenario.kmod."))
| .id as $id
| (.scenario.events | n) as $ev
| .params.cal_excess as $cal
| (.params.victim_calls.triggered // {}) as $vc
| (.scenario.run.iterations | n) as $it
| if ($id | test("kernel_range|flush_all")) then
    if $ev < 10 then "\($id): only \($ev) events"
    elif $cal == null then "\($id): no /proc/interrupts counts"
    elif ($cal / $ev) < 0.8 or ($cal / $ev) > 3 then "\($id): \($cal) more CAL IPIs for \($ev) events"
    else empty end
  elif ($id | test("on_entry")) then
    if $ev != 0 then "\($id): \($ev) events (nothing should fire)"
    elif $cal == null or ($cal | fabs) > 10 then "\($id): CAL IPIs \($cal) vs the baseline chunks (want none)"
    elif ($vc.flushed | n) != $it or ($vc.calls | n) != $it then "\($id): \($vc.flushed) of \($vc.calls) entries flushed in \($it) iterations"
    else empty end
  elif ($id | test("deferred")) then
    if $ev < 10 then "\($id): only \($ev) marks"
    elif $cal == null or ($cal | fabs) > 10 then "\($id): CAL IPIs \($cal) vs the baseline chunks (want none)"
    elif ($vc.event_groups == null) then "\($id): no event_groups in victim_calls"
    elif ($vc.flushed | n) < 0.8 * $vc.event_groups - 1 or ($vc.flushed | n) > $ev + 1 then "\($id): \($vc.flushed) flushes for \($ev) marks in \($vc.event_groups) groups"
    else empty end
  else "\($id): an id this check does not know" end
