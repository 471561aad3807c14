#!/usr/bin/env bash
# PostgreSQL killed under write load: first one of concordd's backends in the middle of a
# transaction (kill -9: PostgreSQL resets every backend and recovers on its own), then the
# postmaster itself (kill -9, then started again). Every write concordd acknowledged must
# be in the database afterwards with its audit rows, no account may show a partial write,
# every call must end OK or UNAVAILABLE, and calls succeed again within 15 s of
# PostgreSQL accepting connections, without restarting concordd.
# The cluster is started again whatever happens (trap).
. "$(dirname "$0")/../lib/common.sh"

driver=$CONCORD_BUILD_DIR/tests/integration/int_test_faults
[ -x "$driver" ] || fail "int_test_faults is not built ($driver)"
pgdir=$(dirname "$PG_DATA")
pgcluster="$CONCORD_SOURCE_DIR/deploy/pgcluster"
pid_before=$(cat "$CONCORD_TEST_DIR/run/concordd.pid")
tmp=$(test_tmpdir)
run=pgk$$r$RANDOM
recovery_limit=15

pg_ready() {
    "$PG_BIN/pg_isready" -q -h "$PGHOST" -p "$PGPORT" -d concord
}

# Starts the cluster again and waits until it accepts connections. After a killed
# postmaster its orphaned backends must exit before a new postmaster can take the shared
# memory (and the old PID may linger as a zombie for pg_ctl), so this retries for a while.
start_pg() {
    local i
    for i in $(seq 1 60); do
        pg_ready && return 0
        "$pgcluster" start "$pgdir" >/dev/null 2>&1 || true
        sleep 0.5
    done
    pg_ready
}
trap 'start_pg || true; _ct_cleanup' EXIT

value() {
    { grep -oE "(^| )$1=[^ ]*" "$2" || true; } | head -n 1 | sed -E "s/^ ?$1=//"
}

wait_pg_ready() {
    local i
    for i in $(seq 1 120); do
        pg_ready && return 0
        sleep 0.25
    done
    return 1
}

# Seconds (one decimal) from the driver's start to now.
since_start() {
    awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }'
}

out=$tmp/load.out
acks=$tmp/acks
"$driver" load --clients 50 --mode write --duration 34 --deadline-ms 20000 \
    --prefix "$run" --acks "$acks" --timeline "$tmp/timeline" >"$out" &
loader=$!
t0=$(date +%s.%N)
sleep 4

# 1. A backend of concordd in the middle of a transaction.
victim=""
for _ in $(seq 1 50); do
    victim=$(psql_super -Atc "SELECT pid FROM pg_stat_activity WHERE application_name = 'concordd'
        AND xact_start IS NOT NULL AND pid <> pg_backend_pid() ORDER BY xact_start LIMIT 1" 2>/dev/null || true)
    [ -n "$victim" ] && break
    sleep 0.1
done
if [ -n "$victim" ]; then
    kill -KILL "$victim"
    # The postmaster needs a moment to notice and reset every backend.
    sleep 1
    ok "killed concordd's backend $victim in the middle of a transaction at $(since_start "$t0")s"
else
    not_ok "found a concordd backend in a transaction to kill"
fi
wait_pg_ready || fail "PostgreSQL did not recover from the killed backend"
echo "# PostgreSQL accepted connections again at $(since_start "$t0")s"
sleep 4

# 2. The postmaster.
pm=$(head -n 1 "$PG_DATA/postmaster.pid")
t_kill=$(since_start "$t0")
kill -KILL "$pm"
for _ in $(seq 1 100); do
    kill -0 "$pm" 2>/dev/null || break
    sleep 0.1
done
ok "killed the postmaster $pm at ${t_kill}s"
start_pg || fail "PostgreSQL did not start again after the postmaster was killed"
t_up=$(date +%s.%N)
echo "# PostgreSQL started again at $(since_start "$t0")s"

wait "$loader" || fail "the load driver failed" "$(cat "$out")"
sed 's/^/# /' "$out"
calls=$(value calls "$out")
okc=$(value ok "$out")
unavailable=$(value unavailable "$out")
timeouts=$(value client_timeout "$out")
other=$((calls - okc - unavailable - timeouts))
assert_eq 0 "$timeouts" "no call hung (every call was answered before its deadline)"
if [ "$other" -eq 0 ]; then
    ok "every call ended OK or UNAVAILABLE ($okc OK, $unavailable UNAVAILABLE)"
else
    not_ok "every call ended OK or UNAVAILABLE" "$(grep -E '^calls=|first_fail_msg' "$out")"
fi
last_fail=$(value last_fail "$out")
recovery=$(awk -v f="$last_fail" -v u="$t_up" 'BEGIN { d = f - u; if (d < 0) d = 0; printf "%.1f", d }')
if awk -v r="$recovery" -v l="$recovery_limit" 'BEGIN { exit !(r <= l) }'; then
    ok "calls succeeded again ${recovery}s after PostgreSQL was back (limit ${recovery_limit}s)"
else
    not_ok "calls succeed again within ${recovery_limit}s" "last failure ${recovery}s after PostgreSQL was back"
fi
assert_eq "$(value clients "$out")" "$(value clients_ok_after_last_fail "$out")" \
    "every client succeeded after the last failure"
acked=$(($(value acked_creates "$out") + $(value acked_updates "$out")))
if [ "$acked" -gt 0 ]; then
    ok "$acked writes were acknowledged"
else
    not_ok "writes were acknowledged" "none"
fi
check "every acknowledged write is in the database, none partial" \
    "$driver" verify --acks "$acks" --prefix "$run"
printf '%s\n' "$last_output" | sed 's/^/# /'

now=$(cat "$CONCORD_TEST_DIR/run/concordd.pid")
assert_eq "$pid_before" "$now" "concordd was not restarted"
check "concordd is still running" tenv_alive "$now"
done_testing
