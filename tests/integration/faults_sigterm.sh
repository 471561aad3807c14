#!/usr/bin/env bash
# SIGTERM under load, for concordd and for concord-gateway: the process stops accepting,
# finishes the calls in flight and exits 0 before its drain deadline; a second signal
# makes it exit at once. To be sure calls are in flight when the signal arrives, a
# superuser transaction holds a lock on the accounts table, so the calls that touch it wait
# inside PostgreSQL; the signal is sent once some do, and the lock is released two seconds
# after it (or, for the second signal, only after the process has exited).
# Both daemons are restarted here as children of this script (so that their exit status
# can be read) and are left running as testenv started them, also on failure (trap).
# CONCORD_TEST_SLOW (tests/run-valgrind) multiplies the load's length, the call deadlines,
# concordd's drain deadline and the time allowed for its exit after a second signal: under
# valgrind concordd is slower at everything, including exiting (the leak check).
. "$(dirname "$0")/../lib/common.sh"

driver=$CONCORD_BUILD_DIR/tests/integration/int_test_faults
[ -x "$driver" ] || fail "int_test_faults is not built ($driver)"
tmp=$(test_tmpdir)
run=st$$r$RANDOM
log=$CONCORD_TEST_DIR/concordd.log
gwlog=$CONCORD_TEST_DIR/gateway.log
concordd_drain_s=$(slow_s 15)   # server.drain_timeout's default at normal speed
concordd_exit_now_s=$(slow_s 1.5)
# 50 clients at two calls each at normal speed; a slower concordd gets a load it can keep up
# with (at least 10 clients): under valgrind, 50 TLS handshakes at once outlast the
# driver's connect timeout, and the clients would only keep reconnecting.
clients=$((50 / $(slow_s 1)))
[ "$clients" -ge 10 ] || clients=10
gateway_drain_s=10    # gateway.drain_timeout's default
locker=""
lockfd=""

value() {
    { grep -oE "(^| )$1=[^ ]*" "$2" || true; } | head -n 1 | sed -E "s/^ ?$1=//"
}

elapsed_since() {
    awk -v s="$1" -v n="$(date +%s.%N)" 'BEGIN { printf "%.2f", n - s }'
}

# Holds an exclusive lock on the accounts table from a psql session in the background, fed
# through a FIFO, until release_lock; returns once PostgreSQL has granted it. The lock ends
# when this script says so, not after a fixed time, so that the order of events is the same
# however fast concordd is.
hold_lock() {
    rm -f "$tmp/lock.fifo"
    mkfifo "$tmp/lock.fifo"
    psql_super <"$tmp/lock.fifo" >/dev/null 2>&1 &
    locker=$!
    # Read-write, so that opening does not wait for psql (a FIFO opened only for writing
    # would block forever if psql never started).
    exec {lockfd}<>"$tmp/lock.fifo"
    echo "BEGIN; LOCK TABLE concord.accounts IN ACCESS EXCLUSIVE MODE;" >&"$lockfd"
    for _ in $(seq 1 100); do
        [ "$(psql_super -Atc "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = 'accounts' AND l.mode = 'AccessExclusiveLock' AND l.granted" \
            2>/dev/null || echo 0)" = 1 ] && return 0
        sleep 0.1
    done
    echo "error: the lock on accounts was not granted" >&2
    return 1
}

# Commits the lock's transaction and waits for its session to end.
release_lock() {
    if [ -n "$lockfd" ]; then
        echo "COMMIT;" >&"$lockfd" || true
        exec {lockfd}>&-
        lockfd=""
    fi
    if [ -n "$locker" ]; then
        wait "$locker" || true
        locker=""
    fi
}

# The number of backends waiting for the lock.
lock_waiters() {
    psql_super -Atc "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'" \
        2>/dev/null || echo "?"
}

# Waits until at least one call waits for the lock: then calls are surely in flight when the
# signal comes. Concordd under valgrind takes a while to get its clients going.
wait_lock_waiters() {
    local deadline n
    deadline=$((SECONDS + $(slow_s 10)))
    while :; do
        n=$(lock_waiters)
        [[ "$n" =~ ^[0-9]+$ ]] && [ "$n" -gt 0 ] && return 0
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: no call waits on the lock" >&2
            return 1
        fi
        sleep 0.1
    done
}

restart_gateway() {
    local pidfile=$CONCORD_TEST_DIR/run/gateway.pid old offset
    old=$(cat "$pidfile" 2>/dev/null || echo "${GATEWAY_PID:-}")
    if [ -n "$old" ]; then
        tenv_stop concord-gateway "$old" 30 || true
    fi
    # The same address as before, so that the environment's URL stays right.
    sed -i -E "s/^listen[[:space:]]*=.*/listen = $CONCORD_GATEWAY_ADDR/" "$CONCORD_GATEWAY_CONFIG"
    echo "--- restart $(date -u +%FT%TZ) ---" >>"$gwlog"
    offset=$(tenv_log_size "$gwlog")
    tenv_start "$gwlog" "$CONCORD_GATEWAY_BIN" --config "$CONCORD_GATEWAY_CONFIG"
    echo "$TENV_PID" >"$pidfile"
    export GATEWAY_PID=$TENV_PID
    tenv_env_set "$CONCORD_TEST_DIR/env" GATEWAY_PID "$TENV_PID"
    tenv_wait_ready concord-gateway "$TENV_PID" "$gwlog" "$offset" 30 || return 1
    [ "$TENV_ADDR" = "$CONCORD_GATEWAY_ADDR" ] || {
        echo "error: the gateway came back on $TENV_ADDR, not $CONCORD_GATEWAY_ADDR" >&2
        return 1
    }
}

restore() {
    release_lock
    if ! tenv_alive "$(cat "$CONCORD_TEST_DIR/run/concordd.pid" 2>/dev/null)"; then
        restore_concordd
    fi
    if [ -n "${CONCORD_GATEWAY_ADDR:-}" ] &&
        ! tenv_alive "$(cat "$CONCORD_TEST_DIR/run/gateway.pid" 2>/dev/null)"; then
        restart_gateway >/dev/null 2>&1 || echo "error: could not restart the gateway" >&2
    fi
    _ct_cleanup
}
trap restore EXIT

# Judges a driver run: every call ended OK or UNAVAILABLE, none hung.
judge_calls() {
    local what=$1 out=$2 calls okc unav timeouts
    calls=$(value calls "$out")
    okc=$(value ok "$out")
    unav=$(value unavailable "$out")
    timeouts=$(value client_timeout "$out")
    assert_eq 0 "$timeouts" "$what: no call was left without a reply"
    if [ $((calls - okc - unav - timeouts)) -eq 0 ]; then
        ok "$what: every call ended OK or UNAVAILABLE ($okc OK, $unav UNAVAILABLE)"
    else
        not_ok "$what: every call ends OK or UNAVAILABLE" "$(grep -E '^calls=|first_fail_msg' "$out")"
    fi
}

# ---- concordd: drain ----------------------------------------------------------------------

restart_concordd --server.drain_timeout="${concordd_drain_s}s"
pid=$CONCORDD_PID
"$driver" load --clients "$clients" --depth 2 --mode mixed --duration "$(slow_s 10)" \
    --deadline-ms "$(slow_s 20000)" --prefix "$run-a" --acks "$tmp/a.acks" >"$tmp/a.out" &
loader=$!
sleep 3
hold_lock || fail "could not hold the lock"
wait_lock_waiters || fail "calls are waiting on the lock before SIGTERM"
sleep 1
echo "# drain: $(lock_waiters) calls wait on the lock when SIGTERM is sent"
offset=$(tenv_log_size "$log")
t_sig=$(date +%s.%N)
kill -TERM "$pid"
sleep 2
release_lock
rc=0
wait "$pid" || rc=$?
took=$(elapsed_since "$t_sig")
assert_eq 0 "$rc" "concordd exited 0 after SIGTERM"
if awk -v t="$took" -v d="$concordd_drain_s" 'BEGIN { exit !(t < d) }'; then
    ok "concordd exited ${took}s after SIGTERM, before its ${concordd_drain_s}s drain deadline"
else
    not_ok "concordd exits before its drain deadline" "took ${took}s"
fi
wait "$loader" || fail "the load driver failed" "$(cat "$tmp/a.out")"
sed 's/^/# drain: /' "$tmp/a.out"
tail -c +"$((offset + 1))" "$log" >"$tmp/a.log"
assert_contains "$(cat "$tmp/a.log")" "event=draining" "the log says it drains"
assert_not_contains "$(cat "$tmp/a.log")" "event=drain_timeout" "the drain finished before its deadline"
# The calls waiting on the lock were in flight at the signal; they finished, with OK,
# after it.
late_ok=$(awk -v l="$(value last_ok "$tmp/a.out")" -v s="$t_sig" 'BEGIN { printf "%.2f", l - s }')
if awk -v x="$late_ok" 'BEGIN { exit !(x > 0.5) }'; then
    ok "calls in flight at the signal finished with OK (the last ${late_ok}s after it)"
else
    not_ok "calls in flight at the signal finish with OK" "last OK ${late_ok}s after the signal"
fi
judge_calls drain "$tmp/a.out"
check "drain: every acknowledged write is in the database, none partial" \
    "$driver" verify --acks "$tmp/a.acks" --prefix "$run-a"

# ---- concordd: a second signal --------------------------------------------------------------

restart_concordd --server.drain_timeout="${concordd_drain_s}s"
pid=$CONCORDD_PID
"$driver" load --clients "$clients" --depth 2 --mode mixed --duration "$(slow_s 8)" \
    --deadline-ms "$(slow_s 20000)" --prefix "$run-b" --acks "$tmp/b.acks" >"$tmp/b.out" &
loader=$!
sleep 2
hold_lock || fail "could not hold the lock"
wait_lock_waiters || fail "calls are waiting on the lock before SIGTERM"
sleep 1
offset=$(tenv_log_size "$log")
kill -TERM "$pid"
sleep "$(slow_s 0.3)"
t_sig=$(date +%s.%N)
kill -TERM "$pid" 2>/dev/null || echo "# concordd had already exited at the second signal"
rc=0
# The lock is still held: only exiting at once ends concordd before its drain deadline.
wait "$pid" || rc=$?
took=$(elapsed_since "$t_sig")
release_lock
if awk -v t="$took" -v d="$concordd_exit_now_s" 'BEGIN { exit !(t < d) }'; then
    ok "concordd exited ${took}s after a second SIGTERM (status $rc)"
else
    not_ok "a second SIGTERM makes concordd exit at once" "took ${took}s (limit ${concordd_exit_now_s}s)"
fi
assert_contains "$(tail -c +"$((offset + 1))" "$log")" "event=exit_now" "the log says it exits at once"
wait "$loader" || fail "the load driver failed" "$(cat "$tmp/b.out")"
sed 's/^/# second signal: /' "$tmp/b.out"
judge_calls "second signal" "$tmp/b.out"
check "second signal: every acknowledged write is in the database, none partial" \
    "$driver" verify --acks "$tmp/b.acks" --prefix "$run-b"
restart_concordd
check "concordd serves again after the restart" "$driver" create --key "$run-after" --name "$run-after"
assert_contains "$last_output" "code=OK" "a write succeeds after the restart"

# ---- the gateway --------------------------------------------------------------------------

if [ -z "${CONCORD_GATEWAY_ADDR:-}" ] || [ ! -x "${CONCORD_GATEWAY_BIN:-}" ]; then
    skip "gateway SIGTERM" "the environment has no gateway"
    done_testing
fi
login_json=$(printf '{"username":"%s","password":"%s"}' "$CONCORD_ADMIN_USER" "$CONCORD_ADMIN_PASSWORD")
# The gateway reconnects to the restarted concordd on its own; give it a moment.
token=""
for _ in $(seq 1 40); do
    token=$(curl -sS --cacert "$CONCORD_CA" -H 'Content-Type: application/json' \
        --data-binary "$login_json" "$CONCORD_GATEWAY_URL/concord.v1.AuthService/Login" |
        sed -nE 's/.*"token" *: *"([^"]+)".*/\1/p' || true)
    [ -n "$token" ] && break
    sleep 0.5
done
[ -n "$token" ] || fail "could not log in through the gateway"

# WORKERS curl loops until END (epoch seconds); each request is a new connection and
# leaves "HTTP_CODE CURL_EXIT END_TIME" in FILE.
gateway_load() {
    local file=$1 end=$2 i
    GL_PIDS=()
    for i in $(seq 1 12); do
        (
            while [ "$(date +%s)" -lt "$end" ]; do
                r=$(curl -s -o /dev/null -w '%{http_code}' --max-time 20 --cacert "$CONCORD_CA" \
                    -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
                    --data-binary '{"pageSize": 5}' \
                    "$CONCORD_GATEWAY_URL/concord.v1.AccountService/ListAccounts") && e=0 || e=$?
                echo "$r $e $(date +%s.%N)"
                [ "$e" -eq 7 ] && sleep 0.1
            done
        ) >>"$file.$i" &
        GL_PIDS+=($!)
    done
}

# Judges the curl outcomes: 200, 503 (draining) or a refused connection (curl exit 7).
judge_http() {
    local what=$1 file=$2 t_sig=$3 bad late
    cat "$file".* >"$file"
    bad=$(awk '!(($1 == "200" && $2 == 0) || ($1 == "503" && $2 == 0) || $2 == 7)' "$file" |
        awk '{ print "http " $1 " curl exit " $2 }' | sort | uniq -c)
    if [ -z "$bad" ]; then
        ok "$what: every request ended 200, 503 or with a refused connection ($(wc -l <"$file") requests)"
    else
        not_ok "$what: every request ends 200, 503 or with a refused connection" "$bad"
    fi
    late=$(awk -v s="$t_sig" '$1 == "200" && $3 > s + 0.5' "$file" | wc -l)
    echo "# $what: $late requests finished with 200 more than 0.5 s after the signal"
    LATE=$late
}

restart_gateway || fail "could not restart the gateway under this script"
gpid=$GATEWAY_PID
gateway_load "$tmp/g1" $(($(date +%s) + 8))
sleep 2
hold_lock || fail "could not hold the lock"
wait_lock_waiters || fail "calls through the gateway are waiting on the lock before SIGTERM"
sleep 1
echo "# gateway drain: $(lock_waiters) calls wait on the lock when SIGTERM is sent"
offset=$(tenv_log_size "$gwlog")
t_sig=$(date +%s.%N)
kill -TERM "$gpid"
sleep 2
release_lock
rc=0
wait "$gpid" || rc=$?
took=$(elapsed_since "$t_sig")
assert_eq 0 "$rc" "the gateway exited 0 after SIGTERM"
if awk -v t="$took" -v d="$gateway_drain_s" 'BEGIN { exit !(t < d) }'; then
    ok "the gateway exited ${took}s after SIGTERM, before its ${gateway_drain_s}s drain deadline"
else
    not_ok "the gateway exits before its drain deadline" "took ${took}s"
fi
wait "${GL_PIDS[@]}" || true
assert_contains "$(tail -c +"$((offset + 1))" "$gwlog")" "reason=drained" "the gateway drained (no drain timeout)"
judge_http "gateway drain" "$tmp/g1" "$t_sig"
if [ "$LATE" -gt 0 ]; then
    ok "gateway drain: requests in flight at the signal finished with 200"
else
    not_ok "gateway drain: requests in flight at the signal finish with 200" "none ended after the signal"
fi

restart_gateway || fail "could not restart the gateway"
gpid=$GATEWAY_PID
gateway_load "$tmp/g2" $(($(date +%s) + 6))
sleep 1
hold_lock || fail "could not hold the lock"
wait_lock_waiters || fail "calls through the gateway are waiting on the lock before SIGTERM"
sleep 1
offset=$(tenv_log_size "$gwlog")
kill -TERM "$gpid"
sleep 0.3
t_sig=$(date +%s.%N)
kill -TERM "$gpid" 2>/dev/null || echo "# the gateway had already exited at the second signal"
rc=0
wait "$gpid" || rc=$?
took=$(elapsed_since "$t_sig")
release_lock
if awk -v t="$took" 'BEGIN { exit !(t < 1.5) }'; then
    ok "the gateway exited ${took}s after a second SIGTERM (status $rc)"
else
    not_ok "a second SIGTERM makes the gateway exit at once" "took ${took}s"
fi
assert_contains "$(tail -c +"$((offset + 1))" "$gwlog")" "event=exit_now" "the gateway's log says it exits at once"
wait "${GL_PIDS[@]}" || true

restart_gateway || fail "could not restart the gateway"
# Healthy once its upstream connections to concordd are up (a handshake may take a while
# when concordd is slow).
deadline=$((SECONDS + $(slow_s 5)))
while :; do
    code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CONCORD_CA" "$CONCORD_GATEWAY_URL/healthz" || true)
    [ "$code" = 200 ] || [ "$SECONDS" -ge "$deadline" ] && break
    sleep 0.2
done
assert_eq 200 "$code" "the gateway serves again after the restart"
done_testing
