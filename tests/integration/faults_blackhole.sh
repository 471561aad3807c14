#!/usr/bin/env bash
# The network to PostgreSQL blackholed, then reset. A second concordd, started here with
# its own configuration (call_timeout 3 s, database connect_timeout 2 s, max_queue 64),
# reaches PostgreSQL through a TCP proxy (socat) that this test controls:
#   blackhole  SIGSTOP to the proxy's process group: connections stay open, nothing moves
#   reset      SIGKILL to it: every proxied connection is closed
#   back       a new proxy on the same port
# Clients pipelining calls against that concordd must get an answer from the server for
# every call within the call timeout (plus slack), the server must not queue without
# bound (calls past max_queue are refused at once), and calls must succeed again within
# 15 s of the proxy being back. Nothing here touches the machine's firewall, and the
# shared environment is not changed: the second concordd and the proxy are stopped at
# the end, also on failure.
. "$(dirname "$0")/../lib/common.sh"

driver=$CONCORD_BUILD_DIR/tests/integration/int_test_faults
[ -x "$driver" ] || fail "int_test_faults is not built ($driver)"
command -v socat >/dev/null || fail "socat is required (deploy/install-deps --test)"
tmp=$(test_tmpdir)
run=bh$$r$RANDOM
call_timeout_ms=3000
# A call may also wait for one reconnect attempt (database connect_timeout 2 s), and the
# test machine may be busy.
slack_ms=4000
recovery_limit=15
proxy_pid=""
srv_pid=""

port_in_use() {
    [ -n "$(ss -Htln "sport = :$1" 2>/dev/null)" ]
}

value() {
    { grep -oE "(^| )$1=[^ ]*" "$2" || true; } | head -n 1 | sed -E "s/^ ?$1=//"
}

rss_kib() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0
}

# The proxy runs in a session (and process group) of its own, so that one signal to the
# group reaches the listener and every connection it forked.
start_proxy() {
    setsid socat "TCP-LISTEN:$proxy_port,bind=127.0.0.1,reuseaddr,fork" \
        "TCP:127.0.0.1:$PGPORT" </dev/null >>"$tmp/socat.log" 2>&1 &
    proxy_pid=$!
    for _ in $(seq 1 50); do
        port_in_use "$proxy_port" && return 0
        sleep 0.1
    done
    return 1
}

stop_proxy() {
    if [ -n "$proxy_pid" ]; then
        kill -KILL -- "-$proxy_pid" 2>/dev/null || true
        wait "$proxy_pid" 2>/dev/null || true
        proxy_pid=""
    fi
}

cleanup() {
    if [ -n "$srv_pid" ] && tenv_alive "$srv_pid"; then
        # A worker stuck on the blackholed connection keeps SIGTERM from finishing.
        kill -CONT -- "-$proxy_pid" 2>/dev/null || true
        tenv_stop concordd-blackhole "$srv_pid" 20 || true
    fi
    stop_proxy
    _ct_cleanup
}
trap cleanup EXIT

proxy_port=$(free_port) || fail "no free port for the proxy"
start_proxy || fail "socat did not listen on $proxy_port" "$(cat "$tmp/socat.log")"

cat >"$tmp/concordd.ini" <<EOF
; A second concordd for faults_blackhole.sh: PostgreSQL through a proxy.
[server]
listen = 127.0.0.1:0
tls_cert = $CONCORD_TEST_DIR/certs/server.pem
tls_key = $CONCORD_TEST_DIR/certs/server.key
workers = 4
scheduler_interval = 0

[database]
url = host=127.0.0.1 port=$proxy_port dbname=concord user=concord_app
migrate_on_start = false

[log]
level = info
EOF
log=$tmp/concordd.log
tenv_start "$log" "$CONCORDD" --config "$tmp/concordd.ini" --server.call_timeout=3s \
    --database.connect_timeout=2s --server.max_queue=64
srv_pid=$TENV_PID
tenv_wait_ready concordd-blackhole "$srv_pid" "$log" 0 30 || fail "the second concordd did not start"
srv_port=${TENV_ADDR##*:}
ok "a second concordd (pid $srv_pid) listens on $TENV_ADDR, PostgreSQL through 127.0.0.1:$proxy_port"

out=$tmp/load.out
"$driver" load --host 127.0.0.1 --port "$srv_port" --clients 20 --depth 2 --mode mixed \
    --duration 34 --deadline-ms 10000 --prefix "$run" --acks "$tmp/acks" \
    --timeline "$tmp/timeline" >"$out" &
loader=$!
t0=$(date +%s.%N)
sleep 5
rss_before=$(rss_kib "$srv_pid")
kill -STOP -- "-$proxy_pid"
echo "# blackhole from $(awk -v s="$t0" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')s"
rss_max=$rss_before
hole_end=$(($(date +%s) + 12))
wchan_seen=""
while [ "$(date +%s)" -lt "$hole_end" ]; do
    sleep 0.5
    r=$(rss_kib "$srv_pid")
    [ "$r" -gt "$rss_max" ] && rss_max=$r
    # Where concordd's threads wait, as evidence when calls go unanswered.
    if [ -z "$wchan_seen" ] && [ "$(date +%s)" -ge $((hole_end - 6)) ]; then
        wchan_seen=$(for t in /proc/"$srv_pid"/task/*; do cat "$t/wchan" 2>/dev/null; echo; done |
            sort | uniq -c | tr '\n' ' ')
        echo "# concordd threads 6 s into the blackhole, by kernel wait channel: $wchan_seen"
    fi
done
echo "# reset at $(awk -v s="$t0" -v n="$(date +%s.%N)" 'BEGIN { printf "%.1f", n - s }')s"
stop_proxy
sleep 1
start_proxy || fail "socat did not listen again on $proxy_port"
t_up=$(date +%s.%N)
echo "# proxy back at $(awk -v s="$t0" -v n="$t_up" 'BEGIN { printf "%.1f", n - s }')s"

wait "$loader" || fail "the load driver failed" "$(cat "$out")"
sed 's/^/# /' "$out"
sed 's/^/# timeline: /' "$tmp/timeline"
calls=$(value calls "$out")
okc=$(value ok "$out")
timeouts=$(value client_timeout "$out")
max_ms=$(value max_ms "$out")
exhausted=$(value RESOURCE_EXHAUSTED "$out")
last_fail=$(value last_fail "$out")

if [ "$timeouts" -eq 0 ]; then
    ok "the server answered every call ($calls calls)"
else
    not_ok "the server answers every call while PostgreSQL is unreachable" \
        "$timeouts of $calls calls got no reply within the client's 10 s (server call_timeout 3 s)"
fi
if [ "$max_ms" -le $((call_timeout_ms + slack_ms)) ]; then
    ok "every call ended within the call timeout (slowest ${max_ms} ms)"
else
    not_ok "every call ends within the call timeout plus ${slack_ms} ms" "slowest call: ${max_ms} ms"
fi
bad=$(grep -oE '^calls=.*' "$out" | tr ' ' '\n' | grep -vE '^(calls|OK|UNAVAILABLE|DEADLINE_EXCEEDED|RESOURCE_EXHAUSTED)=' || true)
if [ -z "$bad" ]; then
    ok "errors were UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED only"
else
    not_ok "errors are UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED only" "$bad"
fi
growth=$(((rss_max - rss_before) / 1024))
echo "# concordd RSS ${rss_before} KiB before the blackhole, at most ${rss_max} KiB during it; ${exhausted:-0} calls refused with RESOURCE_EXHAUSTED"
if [ "$growth" -le 64 ]; then
    ok "concordd's memory stayed bounded during the blackhole (+${growth} MiB)"
else
    not_ok "concordd's memory stays bounded during the blackhole" "+${growth} MiB"
fi
recovery=$(awk -v f="$last_fail" -v u="$t_up" 'BEGIN { d = f - u; if (d < 0) d = 0; printf "%.1f", d }')
if awk -v r="$recovery" -v l="$recovery_limit" 'BEGIN { exit !(r <= l) }'; then
    ok "calls succeeded again ${recovery}s after the network was back (limit ${recovery_limit}s)"
else
    not_ok "calls succeed again within ${recovery_limit}s of the network coming back" \
        "last failure ${recovery}s after"
fi
assert_eq "$(value clients "$out")" "$(value clients_ok_after_last_fail "$out")" \
    "every client succeeded after the last failure"
check "every acknowledged write is in the database, none partial" \
    "$driver" verify --acks "$tmp/acks" --prefix "$run"

start=$SECONDS
if tenv_stop concordd-blackhole "$srv_pid" 20; then
    ok "the second concordd stopped on SIGTERM in $((SECONDS - start))s"
else
    not_ok "the second concordd stops on SIGTERM" "it had to be killed; last lines of its log:
$(tail -n 20 "$log")"
fi
srv_pid=""
if [ "$_ct_fail" -ne 0 ]; then
    keep=$CONCORD_TEST_DIR/faults_blackhole.$run
    mkdir -p "$keep"
    cp "$tmp"/* "$keep"/ 2>/dev/null || true
    echo "# logs, timeline and acknowledgements kept in $keep"
fi
done_testing
