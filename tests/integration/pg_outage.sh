#!/usr/bin/env bash
# PostgreSQL stopped while concordd runs: calls fail fast with UNAVAILABLE (CLI exit
# code 6); once PostgreSQL is back, calls succeed again without restarting concordd.
. "$(dirname "$0")/../lib/common.sh"

cli_admin_profile
pgdir=$(dirname "$PG_DATA")
pgcluster="$CONCORD_SOURCE_DIR/deploy/pgcluster"
pid_before=$CONCORDD_PID

check "calls work before the outage" cli account list --page-size 1

"$pgcluster" stop "$pgdir" --mode fast >/dev/null 2>&1
# Make sure PostgreSQL comes back whatever happens below.
trap '"$pgcluster" start "$pgdir" >/dev/null 2>&1 || true; _ct_cleanup' EXIT

start=$SECONDS
expect_exit 6 cli account list --page-size 1
assert_contains "$last_output" "UNAVAILABLE" "the error says the service is unavailable"
expect_exit 6 cli account get 1
elapsed=$((SECONDS - start))
if [ "$elapsed" -le 10 ]; then
    ok "calls fail fast while PostgreSQL is down (${elapsed}s for two calls)"
else
    not_ok "calls fail fast while PostgreSQL is down" "took ${elapsed}s"
fi

"$pgcluster" start "$pgdir" >/dev/null
recovered=""
for _ in $(seq 1 30); do
    if cli account list --page-size 1 >/dev/null 2>&1; then
        recovered=yes
        break
    fi
    sleep 0.5
done
assert_eq yes "$recovered" "calls succeed again once PostgreSQL is back"
# Every worker reconnects, not just one: several calls in a row all succeed.
all=yes
for _ in $(seq 1 8); do
    cli account list --page-size 1 >/dev/null 2>&1 || all=no
done
assert_eq yes "$all" "every worker has reconnected"
assert_eq "$pid_before" "$(cat "$CONCORD_TEST_DIR/run/concordd.pid")" "concordd was not restarted"
done_testing
