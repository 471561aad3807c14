#!/usr/bin/env bash
# concordd reaches PostgreSQL over TLS with sslmode=verify-full:
#   - a throwaway cluster (deploy/pgcluster in a temporary folder) with ssl = on and the test
#     environment's server certificate (made for localhost and 127.0.0.1);
#   - a second concordd whose database.url and owner_url use host=localhost
#     sslmode=verify-full sslrootcert=<test CA> migrates, serves calls, and its connections
#     show up as TLS in pg_stat_ssl;
#   - with a foreign CA, or with a host name the certificate does not carry, the application
#     role's connections fail: concordd does not become ready, or answers UNAVAILABLE (the
#     owner's URL stays right, so migrations pass and only the serving path is judged).
# The shared environment is not touched.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

tmp=$(test_tmpdir)
cli_private_config
pgdir=$(mktemp -d /tmp/concord-pgssl.XXXXXX)
pids=()
pg_started=""

cleanup() {
    local rc=$? pid
    for pid in "${pids[@]}"; do
        tenv_stop concordd-ssl "$pid" 20 || true
    done
    if [ -n "$pg_started" ]; then
        "$CONCORD_SOURCE_DIR/deploy/pgcluster" stop "$pgdir" --mode immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$pgdir"
    _ct_cleanup
    exit "$rc"
}
trap cleanup EXIT

# Runs a command as the cluster's owner (postgres when we are root).
as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

[ "$(id -u)" -ne 0 ] || chmod 0755 "$pgdir"
pgport=$(free_port) || fail "no free port"
"$CONCORD_SOURCE_DIR/deploy/pgcluster" init "$pgdir" --port "$pgport" >"$tmp/pgcluster.log" 2>&1 ||
    fail "the throwaway cluster did not start" "$(tail -n 20 "$tmp/pgcluster.log")"
pg_started=1

# TLS for the cluster: the key must belong to the server's user and be private.
certs=$CONCORD_TEST_DIR/certs
as_owner sh -c "cat > '$pgdir/data/server.crt'" <"$certs/server.pem"
as_owner sh -c "umask 077 && cat > '$pgdir/data/server.key'" <"$certs/server.key"
as_owner sh -c "cat >> '$pgdir/data/postgresql.conf'" <<'EOF'
# Added by tests/integration/security_pg_ssl.sh.
ssl = on
ssl_cert_file = 'server.crt'
ssl_key_file = 'server.key'
ssl_min_protocol_version = 'TLSv1.3'
EOF
"$CONCORD_SOURCE_DIR/deploy/pgcluster" stop "$pgdir" >>"$tmp/pgcluster.log" 2>&1
"$CONCORD_SOURCE_DIR/deploy/pgcluster" start "$pgdir" >>"$tmp/pgcluster.log" 2>&1 ||
    fail "the cluster did not restart with ssl = on" "$(tail -n 20 "$pgdir/log/postgresql.log")"
su=$(cat "$pgdir/superuser")
pgsql() { psql -X -q -v ON_ERROR_STOP=1 -h "$pgdir" -p "$pgport" -U "$su" -d concord "$@"; }
assert_eq on "$(pgsql -Atc 'show ssl')" "the throwaway cluster has ssl = on"

# url HOSTPART CA: a libpq string for ROLE (set below) with full verification.
url() {
    echo "$1 port=$pgport dbname=concord user=$role sslmode=verify-full sslrootcert=$2"
}

# start_concordd NAME APP_URL OWNER_URL: starts a concordd on a free port; sets $pid and,
# when it became ready, $addr (else addr is empty).
start_concordd() {
    local name=$1 app=$2 owner=$3
    cat >"$tmp/$name.ini" <<EOF
[server]
listen = 127.0.0.1:0
tls_cert = $certs/server.pem
tls_key = $certs/server.key
workers = 2

[database]
url = $app
owner_url = $owner
migrate_on_start = true
connect_timeout = 2s
EOF
    tenv_start "$tmp/$name.log" "$CONCORDD" --config "$tmp/$name.ini"
    pid=$TENV_PID
    pids+=("$pid")
    addr=""
    if tenv_wait_ready "$name" "$pid" "$tmp/$name.log" 0 60 2>/dev/null; then
        addr=$TENV_ADDR
    fi
}

role=concord_app
app_ok=$(url host=localhost "$CONCORD_CA")
role=concord_owner
owner_ok=$(url host=localhost "$CONCORD_CA")

# ---- verify-full with the right CA ------------------------------------------------------------

start_concordd good "$app_ok" "$owner_ok"
if [ -z "$addr" ]; then
    fail "concordd with sslmode=verify-full becomes ready" "$(tail -n 20 "$tmp/good.log")"
fi
ok "concordd with sslmode=verify-full migrates and becomes ready"
admin_pw=$(openssl rand -hex 16)
check "create-admin works over verify-full" \
    "$CONCORDD" create-admin --config "$tmp/good.ini" --username admin --password-stdin \
    --department sales <<<"$admin_pw"
export CONCORD_SERVER=$addr
check "the CLI logs in to the second concordd" \
    "$CONCORD_CLI" login --user admin --password-stdin <<<"$admin_pw"
check "and a call that reads the database is served" "$CONCORD_CLI" whoami
assert_contains "$last_output" "admin" "WhoAmI names the admin"
check "an account can be created" "$CONCORD_CLI" account create --name "TLS to PostgreSQL"
assert_eq "t" "$(pgsql -Atc "select bool_and(s.ssl) and count(*) > 0
                                from pg_stat_ssl s join pg_stat_activity a using (pid)
                               where a.usename = 'concord_app'")" \
    "every connection of concord_app uses TLS"
assert_eq "TLSv1.3" "$(pgsql -Atc "select distinct s.version
                                     from pg_stat_ssl s join pg_stat_activity a using (pid)
                                    where a.usename = 'concord_app'")" \
    "with TLS 1.3"
tenv_stop concordd-ssl "$pid" 20 || not_ok "concordd stops on SIGTERM"

# ---- verify-full must fail closed -----------------------------------------------------------

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=Other CA" -keyout "$tmp/other-ca.key" -out "$tmp/other-ca.pem" 2>/dev/null
role=concord_app

# refused NAME APP_URL DESC: concordd must not serve a database call with that URL.
refused() {
    local name=$1 app=$2 desc=$3 rc=0 out
    start_concordd "$name" "$app" "$owner_ok"
    if [ -z "$addr" ]; then
        ok "$desc: concordd does not become ready"
    else
        out=$(CONCORD_SERVER=$addr "$CONCORD_CLI" login --user admin --password-stdin \
            <<<"$admin_pw" 2>&1) || rc=$?
        if [ "$rc" -eq 6 ] && [[ "$out" == *UNAVAILABLE* ]]; then
            ok "$desc: calls are UNAVAILABLE"
        else
            not_ok "$desc: calls are UNAVAILABLE" "exit $rc: $out"
        fi
    fi
    tenv_stop concordd-ssl "$pid" 20 || true
}

refused wrongca "$(url host=localhost "$tmp/other-ca.pem")" "a foreign CA"
refused wrongname "$(url "host=db.invalid hostaddr=127.0.0.1" "$CONCORD_CA")" \
    "a host name the certificate does not carry"

done_testing
