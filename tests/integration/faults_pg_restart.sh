#!/usr/bin/env bash
# PostgreSQL restarted (fast, then immediate) under 50 concurrent clients: no call hangs,
# each call succeeds or fails with UNAVAILABLE, the pool recovers within 15 s of
# PostgreSQL accepting connections again without restarting concordd, and every write
# acknowledged around the restart is in the database with its audit rows.
# The cluster is started again whatever happens (trap).
. "$(dirname "$0")/../lib/common.sh"

driver=$CONCORD_BUILD_DIR/tests/integration/int_test_faults
[ -x "$driver" ] || fail "int_test_faults is not built ($driver)"
pgdir=$(dirname "$PG_DATA")
pgcluster="$CONCORD_SOURCE_DIR/deploy/pgcluster"
pid_before=$(cat "$CONCORD_TEST_DIR/run/concordd.pid")
tmp=$(test_tmpdir)
run=pgr$$r$RANDOM
recovery_limit=15

restore_pg() {
    "$pgcluster" start "$pgdir" >/dev/null 2>&1 || true
}
trap 'restore_pg; _ct_cleanup' EXIT

# value KEY FILE: the value of KEY=... in the driver's output.
value() {
    { grep -oE "(^| )$1=[^ ]*" "$2" || true; } | head -n 1 | sed -E "s/^ ?$1=//"
}

for mode in fast immediate; do
    out=$tmp/$mode.out
    acks=$tmp/$mode.acks
    "$driver" load --clients 50 --mode mixed --duration 24 --deadline-ms 20000 \
        --prefix "$run-$mode" --acks "$acks" --timeline "$tmp/$mode.timeline" >"$out" &
    loader=$!
    sleep 5
    t_stop=$(date +%s.%N)
    "$pgcluster" stop "$pgdir" --mode "$mode" >/dev/null 2>&1 ||
        not_ok "pg_ctl stop -m $mode"
    sleep 2
    "$pgcluster" start "$pgdir" >/dev/null 2>&1 || fail "PostgreSQL did not start again after the $mode stop"
    t_up=$(date +%s.%N)
    wait "$loader" || fail "the load driver failed ($mode)" "$(cat "$out")"
    sed "s/^/# $mode: /" "$out"

    calls=$(value calls "$out")
    ok=$(value ok "$out")
    unavailable=$(value unavailable "$out")
    timeouts=$(value client_timeout "$out")
    other=$((calls - ok - unavailable - timeouts))
    max_ms=$(value max_ms "$out")
    last_fail=$(value last_fail "$out")
    assert_eq 0 "$timeouts" "$mode: no call hung (every call was answered before its deadline)"
    if [ "$other" -eq 0 ]; then
        ok "$mode: every call ended OK or UNAVAILABLE ($ok OK, $unavailable UNAVAILABLE)"
    else
        not_ok "$mode: every call ended OK or UNAVAILABLE" "$(grep -E '^calls=|first_fail_msg' "$out")"
    fi
    if [ "$unavailable" -gt 0 ]; then
        ok "$mode: the outage was seen by the clients ($unavailable UNAVAILABLE)"
    else
        not_ok "$mode: the outage was seen by the clients" "no call failed while PostgreSQL was down"
    fi
    if [ "$max_ms" -le 10000 ]; then
        ok "$mode: the slowest call took ${max_ms} ms"
    else
        not_ok "$mode: no call took more than 10 s" "max_ms=$max_ms"
    fi
    # Recovery: the last failed call ended within 15 s of PostgreSQL being back, and every
    # client then made successful calls.
    recovery=$(awk -v f="$last_fail" -v u="$t_up" 'BEGIN { d = f - u; if (d < 0) d = 0; printf "%.1f", d }')
    if awk -v r="$recovery" -v l="$recovery_limit" 'BEGIN { exit !(r <= l) }'; then
        ok "$mode: the pool recovered ${recovery}s after PostgreSQL was back (limit ${recovery_limit}s)"
    else
        not_ok "$mode: the pool recovers within ${recovery_limit}s" "last failure ${recovery}s after PostgreSQL was back"
    fi
    assert_eq "$(value clients "$out")" "$(value clients_ok_after_last_fail "$out")" \
        "$mode: every client succeeded after the last failure"
    outage=$(awk -v s="$t_stop" -v u="$t_up" 'BEGIN { printf "%.1f", u - s }')
    echo "# $mode: PostgreSQL was down for ${outage}s"
    check "$mode: every acknowledged write is in the database, none partial" \
        "$driver" verify --acks "$acks" --prefix "$run-$mode"
    echo "# $mode: $last_output"
done

now=$(cat "$CONCORD_TEST_DIR/run/concordd.pid")
assert_eq "$pid_before" "$now" "concordd was not restarted"
check "concordd is still running" tenv_alive "$now"
done_testing
