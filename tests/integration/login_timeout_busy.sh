#!/usr/bin/env bash
# A connection whose first calls are still running when server.login_timeout passes is
# neither closed nor allowed to stall the server: the limit counts only while nothing is in
# flight. concordd is restarted with login_timeout=1s; a lock on the accounts table holds a
# new connection's first call (GetAccount) for three seconds, and meanwhile another client
# must be served as usual. concordd is restarted as the environment had it at the end (trap).
. "$(dirname "$0")/../lib/common.sh"

tmp=$(test_tmpdir)
run=l$$r$RANDOM
lock_pid=""
show_pid=""

restore() {
    [ -z "$lock_pid" ] || kill "$lock_pid" 2>/dev/null || true
    [ -z "$show_pid" ] || kill "$show_pid" 2>/dev/null || true
    restore_concordd
    _ct_cleanup
}
trap restore EXIT

cli_admin_profile
acct=$(cli_new_account "Login Timeout $run")
restart_concordd --server.login_timeout=1s >/dev/null || fail "concordd did not restart"

psql_super -c "BEGIN; LOCK TABLE concord.accounts IN ACCESS EXCLUSIVE MODE;
               SELECT pg_sleep(3); COMMIT;" >/dev/null 2>&1 &
lock_pid=$!
sleep 0.5
cli -o json account get "$acct" >"$tmp/show.json" 2>"$tmp/show.err" &
show_pid=$!
sleep "$(slow_s 1.5)"
# WhoAmI reads no account, so the lock does not hold it; a stalled server would.
check "another client is served while the first call is held past login_timeout" \
    timeout "$(slow_s 5)" "$CONCORD_CLI" whoami
wait "$show_pid" && ok "the held call completes once the lock is gone" ||
    not_ok "the held call completes once the lock is gone" "$(cat "$tmp/show.err")"
show_pid=""
assert_eq "$acct" "$(jq -r .id "$tmp/show.json" 2>/dev/null)" "and returns the account"
wait "$lock_pid" || true
lock_pid=""

done_testing
