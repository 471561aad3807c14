#!/usr/bin/env bash
# Queued one-statement reads (GetAccount) go to PostgreSQL together as one libpq pipeline,
# and row-level security still holds call by call inside it. concordd is restarted with a
# single worker, so that calls queue behind it, and with a call line per call in its log
# (log.level=debug, which names the size of the pipeline each call went in). Then
# test_security_context runs its load: many connections, each alternating calls by the
# admin, by a member who must never see the account, and without a token. Its checks must
# pass, and the log must show GetAccount calls by both users answered in pipelines of more
# than one call. concordd is restarted as the environment had it at the end (trap).
. "$(dirname "$0")/../lib/common.sh"

driver=$CONCORD_BUILD_DIR/tests/integration/int_test_security_context
[ -x "$driver" ] || fail "int_test_security_context is not built ($driver)"
log=$CONCORD_TEST_DIR/concordd.log

restore() {
    restore_concordd
    _ct_cleanup
}
trap restore EXIT

restart_concordd --server.workers=1 --server.pipeline=16 --log.level=debug
offset=$(tenv_log_size "$log")
check "the caller-context load passes with one worker pipelining its reads" "$driver"

# The load's member is the only user other than the admin that calls GetAccount here.
calls=$(tail -c +"$((offset + 1))" "$log" | grep 'event=call ' | grep '/GetAccount ' || true)
piped=$(printf '%s\n' "$calls" | grep -E ' pipeline=([2-9]|[1-9][0-9]+)$' || true)
count() { printf '%s\n' "$piped" | grep -c -- "$1" || true; }
echo "# GetAccount call lines: $(printf '%s\n' "$calls" | grep -c 'pipeline=' || true)," \
    "in pipelines of 2 or more: $(count 'pipeline=')"
admin_ok=$(count "user=$CONCORD_ADMIN_USER status=OK ")
member_hidden=$(printf '%s\n' "$piped" | grep -v "user=$CONCORD_ADMIN_USER " | grep -v 'user="" ' |
    grep -c 'status=NOT_FOUND ' || true)
member_ok=$(printf '%s\n' "$calls" | grep -v "user=$CONCORD_ADMIN_USER " | grep -v 'user="" ' |
    grep -c 'status=OK ' || true)
[ "$admin_ok" -gt 0 ] &&
    ok "the admin's GetAccount calls were answered OK inside pipelines" ||
    not_ok "the admin's GetAccount calls were answered OK inside pipelines"
[ "$member_hidden" -gt 0 ] &&
    ok "the member's GetAccount calls were NOT_FOUND inside pipelines" ||
    not_ok "the member's GetAccount calls were NOT_FOUND inside pipelines"
assert_eq 0 "$member_ok" "no GetAccount call by the member was answered OK"

done_testing
