#!/usr/bin/env bash
# Idempotency keys are kept at least 24 hours: keys aged (as superuser) to 23 h and
# 24.5 h are still honoured after concordd's cleanup has run, a key aged past 25 h is
# deleted and may then be used for another request.
# The cleanup runs on each worker's first call and then at most hourly, so concordd is
# restarted (with the same configuration) to make it run now.
. "$(dirname "$0")/../lib/common.sh"

driver=$CONCORD_BUILD_DIR/tests/integration/int_test_faults
[ -x "$driver" ] || fail "int_test_faults is not built ($driver)"
run=ret$$r$RANDOM

trap 'tenv_alive "$(cat "$CONCORD_TEST_DIR/run/concordd.pid")" || restart_concordd >/dev/null 2>&1 || true; _ct_cleanup' EXIT

# create KEY NAME: one CreateAccount with an idempotency key; sets code and id.
create() {
    local out
    out=$("$driver" create --key "$1" --name "$2")
    code=$(printf '%s\n' "$out" | sed -nE 's/^code=([A-Z_]+) .*/\1/p')
    id=$(printf '%s\n' "$out" | sed -nE 's/^code=[A-Z_]+ id=([0-9]*) .*/\1/p')
}

count_named() {
    psql_super -Atc "SELECT count(*) FROM concord.accounts WHERE name = '$1'"
}

key_rows() {
    psql_super -Atc "SELECT count(*) FROM concord.idempotency_keys WHERE key = '$1'"
}

declare -A first_id
for age in 23h 24h30m 25h30m; do
    create "$run-$age" "$run-acct-$age"
    assert_eq OK "$code" "a create with key $run-$age succeeds"
    first_id[$age]=$id
done
psql_super -c "UPDATE concord.idempotency_keys SET created_at = now() - interval '23 hours'
                WHERE key = '$run-23h';
               UPDATE concord.idempotency_keys SET created_at = now() - interval '24 hours 30 minutes'
                WHERE key = '$run-24h30m';
               UPDATE concord.idempotency_keys SET created_at = now() - interval '25 hours 30 minutes'
                WHERE key = '$run-25h30m';" >/dev/null

restart_concordd
# The first call on a worker runs the cleanup.
create "$run-trigger" "$run-acct-trigger"
assert_eq OK "$code" "a call after the restart succeeds"

assert_eq 1 "$(key_rows "$run-23h")" "a key 23 hours old is kept"
assert_eq 1 "$(key_rows "$run-24h30m")" "a key 24.5 hours old is kept"
assert_eq 0 "$(key_rows "$run-25h30m")" "a key 25.5 hours old is deleted"

for age in 23h 24h30m; do
    create "$run-$age" "$run-acct-$age"
    assert_eq "OK ${first_id[$age]}" "$code $id" "a retry with the $age old key returns the first result"
    assert_eq 1 "$(count_named "$run-acct-$age")" "the retry with the $age old key wrote nothing"
    create "$run-$age" "$run-other-$age"
    assert_eq FAILED_PRECONDITION "$code" "the $age old key with another request is refused"
    assert_eq 0 "$(count_named "$run-other-$age")" "the refused request wrote nothing"
done
# The expired key is free again: another request with it runs.
create "$run-25h30m" "$run-other-25h30m"
assert_eq OK "$code" "the deleted key can be used for another request"
assert_eq 1 "$(count_named "$run-other-25h30m")" "that request wrote its account"
done_testing
