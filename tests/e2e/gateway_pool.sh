#!/usr/bin/env bash
# The gateway's pool of connections to concordd: one connection while it carries fewer than
# 64 calls, a spare one opened when it is full, and concordd closing an unused connection
# (server.login_timeout) is routine, not a warning. concordd is restarted with a short
# login_timeout, and a second gateway with one thread and up to four upstream connections
# logs at debug. Then, with concordd's usual settings, calls pile up in flight by holding a
# lock on the accounts table while 100 GetAccount calls arrive at once. concordd is
# restarted as the environment had it at the end (trap). Needs curl and jq.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
command -v curl >/dev/null || fail "curl is required"
[ -n "${CONCORD_GATEWAY_BIN:-}" ] || fail "the environment has no gateway (CONCORD_GATEWAY_BIN is empty)"

tmp=$(test_tmpdir)
run=p$$r$RANDOM
log=$tmp/gateway.log
gw_pid=""
lock_pid=""
silent_pid=""

# Stops the silent listener and everything it forked for its connections: it runs in a
# session (and process group) of its own.
stop_silent() {
    [ -n "$silent_pid" ] || return 0
    kill -- -"$silent_pid" 2>/dev/null || true
    silent_pid=""
}

restore() {
    [ -z "$lock_pid" ] || kill "$lock_pid" 2>/dev/null || true
    stop_silent
    [ -z "$gw_pid" ] || tenv_stop second-gateway "$gw_pid" 20 >/dev/null 2>&1 || true
    restore_concordd
    _ct_cleanup
}
trap restore EXIT

cli_admin_profile
acct=$(cli_new_account "Pool Test $run")
token=$(cli_new_token "pool-$run")

restart_concordd --server.login_timeout=1s >/dev/null || fail "concordd did not restart"
tenv_start "$log" "$CONCORD_GATEWAY_BIN" --config "$CONCORD_GATEWAY_CONFIG" \
    --gateway.listen=127.0.0.1:0 --gateway.threads=1 --upstream.connections=4 --log.level=debug
gw_pid=$TENV_PID
tenv_wait_ready second-gateway "$gw_pid" "$log" 0 30 || fail "the second gateway did not start"
gw=https://$TENV_ADDR

connected() { grep -c "event=upstream_connected thread=0 conn=$1\$" "$log" || true; }
healthz() { curl -s --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' "$gw/healthz"; }

sleep 0.5
assert_eq 200 "$(healthz)" "the gateway is healthy with its first connection"
assert_eq "1 0" "$(connected 0) $(connected 1)" "only the first upstream connection opens at start"

# No authenticated call comes, so concordd closes the connection after login_timeout.
sleep "$(slow_s 3)"
assert_contains "$(cat "$log")" "event=upstream_closed thread=0 conn=0" \
    "concordd's close of the unused connection is logged as upstream_closed"
assert_not_contains "$(cat "$log")" "event=upstream_lost" "and not as a lost connection"
[ "$(connected 0)" -ge 2 ] && ok "the first connection reconnects at once" ||
    not_ok "the first connection reconnects at once" "$(grep upstream "$log")"
assert_eq 200 "$(healthz)" "the gateway stays healthy"
assert_eq 0 "$(connected 1)" "no spare connection opened without load"

# concordd goes back to its usual login_timeout for the load: with a close every second, a
# close could cross calls already on their way, which concordd never read (see
# docs/GATEWAY.md, "Upstream pool").
restart_concordd >/dev/null || fail "concordd did not restart"
for _ in $(seq 1 "$(slow_s 100 | cut -d. -f1)"); do
    [ "$(healthz)" = 200 ] && break
    sleep 0.1
done
load_offset=$(tenv_log_size "$log")

# 100 calls in flight at once: concordd's workers wait on the lock and the rest queue, so
# the first connection fills up to 64 calls and the spare one opens.
psql_super -c "BEGIN; LOCK TABLE concord.accounts IN ACCESS EXCLUSIVE MODE;
               SELECT pg_sleep($(slow_s 3)); COMMIT;" >/dev/null 2>&1 &
lock_pid=$!
sleep 0.5
: >"$tmp/urls"
for _ in $(seq 1 100); do
    printf 'url = "%s/concord.v1.AccountService/GetAccount"\noutput = "/dev/null"\n' "$gw" \
        >>"$tmp/urls"
done
curl -sS --parallel --parallel-immediate --parallel-max 100 --cacert "$CONCORD_CA" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
    -d "{\"id\":\"$acct\"}" -w '%{http_code}\n' -K "$tmp/urls" >"$tmp/codes" 2>"$tmp/curl.err" || true
wait "$lock_pid" || true
lock_pid=""
assert_eq 100 "$(grep -c '^200$' "$tmp/codes" || true)" "all 100 calls held at once answer 200"
[ "$(connected 1)" -ge 1 ] && ok "a spare connection opened when the first carried 64 calls" ||
    not_ok "a spare connection opened when the first carried 64 calls" "$(grep upstream "$log")"
assert_eq 0 "$(connected 2)" "the third connection stayed closed"
assert_not_contains "$(tail -c +"$((load_offset + 1))" "$log")" "event=upstream_lost" \
    "no connection was lost under the load"

# concordd stops: calls fail at once. It comes back while the gateway's reconnects are
# backing off (by then a second or more apart): the next call retries at once and succeeds.
get() {
    curl -s --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -d "{\"id\":\"$acct\"}" \
        "$gw/concord.v1.AccountService/GetAccount"
}
tenv_stop concordd "$(cat "$CONCORD_TEST_DIR/run/concordd.pid")" "$(slow_s 30)" ||
    fail "concordd did not stop"
start=$(date +%s%N)
code=$(get)
elapsed_ms=$((($(date +%s%N) - start) / 1000000))
assert_eq 503 "$code" "with concordd stopped a call gets 503"
[ "$elapsed_ms" -lt "$(slow_s 2000 | cut -d. -f1)" ] && ok "at once (${elapsed_ms} ms)" ||
    not_ok "at once" "took ${elapsed_ms} ms"
unhealthy=0
for _ in 1 2 3 4 5 6; do
    [ "$(healthz)" = 503 ] && unhealthy=$((unhealthy + 1))
    sleep 0.3
done
assert_eq 6 "$unhealthy" "while concordd is down /healthz answers 503 every time"
sleep 2
restart_concordd >/dev/null || fail "concordd did not restart"
assert_eq 200 "$(get)" "the first call after concordd is back succeeds, ahead of the backoff"
assert_contains "$(cat "$log")" "event=upstream_connect_failed" "the failed reconnects were logged"

# A concordd that accepts connections but never answers: a call waits for the connect only
# until its deadline.
if command -v socat >/dev/null; then
    tenv_stop second-gateway "$gw_pid" 20 >/dev/null 2>&1 || true
    gw_pid=""
    silent_port=$(free_port) || fail "no free port for the silent listener"
    setsid socat "TCP-LISTEN:$silent_port,bind=127.0.0.1,reuseaddr,fork" SYSTEM:'sleep 60' \
        </dev/null >/dev/null 2>&1 &
    silent_pid=$!
    # The gateway must meet the listener, not a refused connect: wait until it listens.
    listening() {
        awk -v p="$(printf '%04X' "$1")" '$4 == "0A" && $2 ~ (":" p "$") { f = 1 } END { exit !f }' \
            /proc/net/tcp
    }
    for _ in $(seq 1 100); do
        listening "$silent_port" && break
        sleep 0.05
    done
    listening "$silent_port" || fail "the silent listener did not start on port $silent_port"
    log2=$tmp/gateway-silent.log
    tenv_start "$log2" "$CONCORD_GATEWAY_BIN" --config "$CONCORD_GATEWAY_CONFIG" \
        --gateway.listen=127.0.0.1:0 --gateway.threads=1 --upstream.address="127.0.0.1:$silent_port"
    gw_pid=$TENV_PID
    tenv_wait_ready second-gateway "$gw_pid" "$log2" 0 30 || fail "the third gateway did not start"
    start=$(date +%s%N)
    code=$(curl -s --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' -H 'Connect-Timeout-Ms: 1000' \
        -H 'Content-Type: application/json' -d '{}' "https://$TENV_ADDR/concord.v1.AuthService/WhoAmI")
    elapsed_ms=$((($(date +%s%N) - start) / 1000000))
    stop_silent
    assert_eq 504 "$code" "a call waiting for a connect that never finishes ends at its deadline"
    [ "$elapsed_ms" -lt "$(slow_s 4000 | cut -d. -f1)" ] && ok "after about a second (${elapsed_ms} ms)" ||
        not_ok "after about a second" "took ${elapsed_ms} ms"
else
    skip "a call waiting for a silent concordd" "socat is not installed"
fi

done_testing
