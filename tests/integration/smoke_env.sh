#!/usr/bin/env bash
# The shared test environment is up and shaped as the server expects: PostgreSQL answers,
# the roles have the privileges the design relies on, the schema was migrated, and
# concordd (and the gateway, when built) accept TLS 1.3 with the test CA and refuse TLS 1.2.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

assert_eq 1 "$(psql_super -Atc 'select 1')" "PostgreSQL answers the superuser"
assert_eq "concord_app" "$(psql_app -Atc 'select current_user')" "concord_app can log in"
assert_eq "f|f" "$(psql_super -Atc "select rolsuper, rolbypassrls from pg_roles
                                     where rolname = 'concord_app'")" \
    "concord_app is neither superuser nor exempt from row-level security"
assert_eq "concord_owner" "$(psql_super -Atc "select pg_get_userbyid(datdba) from pg_database
                                               where datname = 'concord'")" \
    "database concord belongs to concord_owner"
assert_eq "f" "$(psql_super -Atc "select has_schema_privilege('concord_app', 'public', 'CREATE')")" \
    "concord_app cannot create objects in schema public"
assert_eq 1 "$(psql_super -Atc "select count(*) from pg_namespace where nspname = 'concord'")" \
    "migrations created schema concord"
assert_eq "f" "$(psql_super -Atc "select count(*) > 0 from pg_tables
                                   where schemaname = 'concord' and tableowner = 'concord_app'")" \
    "concord_app owns no table"

if tenv_alive "${CONCORDD_PID:-}"; then
    ok "concordd is running (pid $CONCORDD_PID)"
    # s_client's exit status also reflects how the peer closed the connection, so the
    # handshake's outcome is read from its report.
    out=$(openssl s_client -connect "$CONCORD_ADDR" -CAfile "$CONCORD_CA" \
        -servername "$CONCORD_SERVER_NAME" -verify_hostname "$CONCORD_SERVER_NAME" \
        -verify_return_error </dev/null 2>&1 || true)
    assert_contains "$out" "Verify return code: 0 (ok)" \
        "TLS handshake with concordd verifies against the test CA"
    assert_contains "$out" "New, TLSv1.3" "concordd speaks TLS 1.3"
    out=$(openssl s_client -tls1_2 -connect "$CONCORD_ADDR" -CAfile "$CONCORD_CA" \
        -servername "$CONCORD_SERVER_NAME" </dev/null 2>&1) && rc=0 || rc=$?
    if [ "$rc" -ne 0 ] && [[ "$out" != *"New, TLSv1.2"* ]]; then
        ok "concordd refuses TLS 1.2"
    else
        not_ok "concordd refuses TLS 1.2" "$out"
    fi
else
    not_ok "concordd is running" "CONCORDD_PID=${CONCORDD_PID:-} is not a live process"
fi

if [ -n "${CONCORD_GATEWAY_URL:-}" ]; then
    if tenv_alive "${GATEWAY_PID:-}"; then
        ok "the gateway is running (pid $GATEWAY_PID)"
    else
        not_ok "the gateway is running" "GATEWAY_PID=${GATEWAY_PID:-} is not a live process"
    fi
    code=$(curl -sS --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' \
        "$CONCORD_GATEWAY_URL/" 2>&1) && rc=0 || rc=$?
    assert_eq 0 "$rc" "HTTPS to the gateway verifies against the test CA ($code)"
else
    skip "the gateway answers HTTPS" "concord-gateway is not built"
fi

done_testing
