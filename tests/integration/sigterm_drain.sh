#!/usr/bin/env bash
# SIGTERM: concordd stops accepting, finishes the calls in flight, and exits 0 well
# before the drain deadline; a client busy with pipelined calls sees every call
# answered (OK or UNAVAILABLE), none lost. concordd is restarted afterwards for the
# tests that follow.
. "$(dirname "$0")/../lib/common.sh"

cli_admin_profile
pid=$CONCORDD_PID
log=$CONCORD_TEST_DIR/concordd.log
offset=$(tenv_log_size "$log")

# A client with work in flight while the signal arrives.
out=$(test_tmpdir)/load.txt
( for _ in $(seq 1 40); do cli account list --page-size 5 >/dev/null 2>&1; echo "$?"; done ) >"$out" &
loader=$!
sleep 0.3
start=$SECONDS
kill -TERM "$pid"
status=0
for _ in $(seq 1 150); do
    tenv_alive "$pid" || break
    sleep 0.1
done
if tenv_alive "$pid"; then
    not_ok "concordd exits after SIGTERM" "still running after 15s"
    kill -KILL "$pid" || true
else
    ok "concordd exits after SIGTERM within $((SECONDS - start))s"
fi
wait "$loader" || status=$?
tail -c +"$((offset + 1))" "$log" >"$out.log"
assert_contains "$(cat "$out.log")" "event=draining" "the log says it drains"
assert_contains "$(cat "$out.log")" "event=stopped" "the log says it stopped"
# Calls either succeeded (0) or found the server gone (6: unavailable); nothing else.
bad=$(grep -vcE '^(0|6)$' "$out" || true)
assert_eq 0 "$bad" "every call ended OK or UNAVAILABLE"

restart_concordd
check "concordd serves again after the restart" cli account list --page-size 1
done_testing
