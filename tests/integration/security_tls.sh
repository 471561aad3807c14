#!/usr/bin/env bash
# TLS on concordd's and the gateway's ports, seen from outside with openssl s_client, the CLI
# and a second gateway:
#   - concordd speaks TLS 1.3 only by default;
#   - with server.tls_min_version = 1.2 it also speaks TLS 1.2, with forward-secret AEAD
#     ciphers only (CBC suites, with or without SHA-2, are refused), refuses TLS 1.1 and
#     refuses client-initiated renegotiation;
#   - with server.tls_client_ca set, a client without a certificate is refused and the CLI
#     with cert_file/key_file in its profile works;
#   - clients check the server's certificate and host name: the CLI with a wrong server name
#     or a foreign CA fails, and a gateway with a wrong upstream.server_name never becomes
#     healthy;
#   - the gateway speaks TLS 1.3 and, by default, no TLS 1.2 and no CBC suite.
# concordd is restarted with other settings along the way; the trap restores the usual one.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

command -v openssl >/dev/null || fail "openssl is required"
command -v curl >/dev/null || fail "curl is required"

tmp=$(test_tmpdir)
cli_private_config
cfg=$XDG_CONFIG_HOME/concord/config
second_gw_pid=""

restore() {
    local rc=$?
    if [ -n "$second_gw_pid" ]; then
        tenv_stop second-gateway "$second_gw_pid" 20 || true
    fi
    if [ -n "${restarted:-}" ]; then
        restart_concordd >/dev/null 2>&1 || echo "error: could not restore concordd" >&2
        wait_gateway_healthy || true
    fi
    _ct_cleanup
    exit "$rc"
}
trap restore EXIT

# The shared gateway reconnects to a restarted concordd on its own; later tests need it.
wait_gateway_healthy() {
    local i
    [ -n "${CONCORD_GATEWAY_URL:-}" ] || return 0
    for i in $(seq 1 "$(slow_s 100)"); do
        if [ "$(curl -s --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' \
            "$CONCORD_GATEWAY_URL/healthz")" = 200 ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "error: the gateway did not reconnect to concordd" >&2
    return 1
}

# s_client ADDR [ARGS...]: one handshake, nothing sent; the report is in $out. s_client's
# exit status also reflects how the peer closed, so callers read the report instead.
s_client() {
    local addr=$1
    shift
    out=$(openssl s_client -connect "$addr" -CAfile "$CONCORD_CA" -servername localhost \
        "$@" </dev/null 2>&1) || true
}

# True when the last s_client report shows a finished handshake.
handshake_done() {
    [[ "$out" =~ New,\ TLSv1\.[23] ]] || [[ "$out" =~ Protocol\ *:\ TLSv1\.[23] ]] &&
        [[ "$out" != *"Cipher is (NONE)"* ]]
}

expect_handshake() {
    local desc=$1 want=$2
    if handshake_done && [[ "$out" == *"$want"* ]]; then
        ok "$desc"
    else
        not_ok "$desc" "$(printf '%s\n' "$out" | grep -vE '^[A-Za-z0-9+/=]{40,}$' | head -n 40)"
    fi
}

expect_refused() {
    local desc=$1
    if handshake_done; then
        not_ok "$desc" "$(printf '%s\n' "$out" | grep -E 'New,|Protocol|Cipher' | head -n 5)"
    else
        ok "$desc"
    fi
}

# expect_no_renegotiation ADDR NAME: "R" at the start of a line makes s_client renegotiate
# a TLS 1.2 session; the server must refuse. s_client stops listening when its input ends, so
# the input stays open long enough for the refusal (longer when concordd runs slowly).
expect_no_renegotiation() {
    local addr=$1 name=$2
    out=$( (
        printf 'R\n'
        sleep "$(slow_s 2)"
    ) | openssl s_client -tls1_2 -connect "$addr" -CAfile "$CONCORD_CA" \
        -servername localhost 2>&1) || true
    # After RENEGOTIATING, a refusal shows as an error: the no_renegotiation alert (OpenSSL
    # servers driven through memory BIOs) or a broken record (h2o). A renegotiation that
    # went through shows no error at all.
    local after=${out#*RENEGOTIATING}
    if [[ "$out" == *RENEGOTIATING* ]] && [[ "$after" == *:error:* ]]; then
        ok "$name refuses a client-initiated TLS 1.2 renegotiation"
    else
        not_ok "$name refuses a client-initiated TLS 1.2 renegotiation" \
            "$(printf '%s\n' "$out" | grep -vE '^[A-Za-z0-9+/=]{40,}$' | tail -n 15)"
    fi
}

# TLS 1.2 suites that are not AEAD. AES128-SHA needs an RSA key; the ECDHE-ECDSA ones work
# with the test certificate's EC key, so their refusal is the cipher policy's doing.
cbc_suites="AES128-SHA ECDHE-ECDSA-AES128-SHA ECDHE-ECDSA-AES256-SHA ECDHE-ECDSA-AES128-SHA256
            ECDHE-ECDSA-AES256-SHA384"

# ---- concordd, default settings -------------------------------------------------------------

s_client "$CONCORD_ADDR"
expect_handshake "concordd negotiates TLS 1.3 by default" "TLSv1.3"
s_client "$CONCORD_ADDR" -tls1_2
expect_refused "concordd refuses TLS 1.2 by default"
s_client "$CONCORD_ADDR" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
expect_refused "concordd refuses TLS 1.1"

# ---- certificate and host name checks in the clients ----------------------------------------

cli_login_admin >/dev/null 2>&1 || fail "the CLI cannot log in as admin"
check "the CLI with the right CA and name works" cli whoami
expect_exit 6 env CONCORD_SERVER_NAME=wrong.example "$CONCORD_CLI" whoami
assert_contains "$last_output" "hostname" "a wrong server name fails the host name check"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
    -subj "/CN=Other CA" -keyout "$tmp/other-ca.key" -out "$tmp/other-ca.pem" 2>/dev/null
expect_exit 6 env CONCORD_CA_FILE="$tmp/other-ca.pem" "$CONCORD_CLI" whoami
assert_contains "$last_output" "verify" "a server certificate from a foreign CA is refused"

if [ -n "${CONCORD_GATEWAY_URL:-}" ]; then
    # A second gateway that names the wrong server must never reach concordd.
    log=$tmp/gateway-wrong-name.log
    tenv_start "$log" "$CONCORD_GATEWAY_BIN" --config "$CONCORD_GATEWAY_CONFIG" \
        --gateway.listen=127.0.0.1:0 --upstream.server_name=wrong.example \
        --upstream.connections=1
    second_gw_pid=$TENV_PID
    if tenv_wait_ready second-gateway "$second_gw_pid" "$log" 0 30; then
        sleep 2
        code=$(curl -s --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' \
            "https://$TENV_ADDR/healthz")
        assert_eq 503 "$code" "a gateway with a wrong upstream.server_name stays unhealthy"
        code=$(curl -s --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' \
            -H 'Content-Type: application/json' -d '{}' \
            "https://$TENV_ADDR/concord.v1.AuthService/WhoAmI")
        assert_eq 503 "$code" "and answers calls with 503 instead of talking to concordd"
        assert_contains "$(cat "$log")" "upstream_connect_failed" \
            "the gateway logs the failed certificate check"
    else
        not_ok "a second gateway starts" "$(tail -n 20 "$log")"
    fi
    tenv_stop second-gateway "$second_gw_pid" 20 || true
    second_gw_pid=""

    # ---- the gateway's own port ---------------------------------------------------------------
    s_client "$CONCORD_GATEWAY_ADDR"
    expect_handshake "the gateway negotiates TLS 1.3" "TLSv1.3"
    s_client "$CONCORD_GATEWAY_ADDR" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
    expect_refused "the gateway refuses TLS 1.1"
    for c in $cbc_suites; do
        s_client "$CONCORD_GATEWAY_ADDR" -tls1_2 -cipher "$c"
        expect_refused "the gateway refuses TLS 1.2 with the CBC suite $c"
    done
    s_client "$CONCORD_GATEWAY_ADDR" -tls1_2
    expect_refused "the gateway refuses TLS 1.2 by default (as concordd does)"
    if handshake_done; then
        expect_no_renegotiation "$CONCORD_GATEWAY_ADDR" "the gateway"
    fi
else
    skip "gateway TLS checks" "concord-gateway is not built"
fi

# ---- concordd with TLS 1.2 allowed ----------------------------------------------------------

restarted=1
restart_concordd --server.tls_min_version=1.2 || fail "concordd did not restart with TLS 1.2"
s_client "$CONCORD_ADDR" -tls1_2
expect_handshake "with tls_min_version = 1.2, concordd speaks TLS 1.2" "TLSv1.2"
if [[ "$out" =~ Cipher\ is\ ECDHE-ECDSA-(AES(128|256)-GCM-SHA(256|384)|CHACHA20-POLY1305) ]]; then
    ok "the TLS 1.2 suite it picks is ECDHE with AEAD (${BASH_REMATCH[0]#Cipher is })"
else
    not_ok "the TLS 1.2 suite it picks is ECDHE with AEAD" "$(printf '%s\n' "$out" | grep Cipher)"
fi
for c in $cbc_suites; do
    s_client "$CONCORD_ADDR" -tls1_2 -cipher "$c"
    expect_refused "concordd refuses TLS 1.2 with the CBC suite $c"
done
s_client "$CONCORD_ADDR" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0'
expect_refused "concordd still refuses TLS 1.1"
s_client "$CONCORD_ADDR"
expect_handshake "and still prefers TLS 1.3" "TLSv1.3"

expect_no_renegotiation "$CONCORD_ADDR" "concordd"
check "the CLI works against concordd with TLS 1.2 allowed" cli whoami

# ---- mutual TLS -----------------------------------------------------------------------------

restart_concordd --server.tls_client_ca="$CONCORD_CA" || fail "concordd did not restart with mutual TLS"
# In TLS 1.3 the client finishes its side before the server checks the certificate, so
# s_client may print the session; the server's alert follows. s_client sees the alert only
# if it arrives before s_client's input ends: keep the input open for a second, or as many
# seconds as concordd is slower than usual (CONCORD_TEST_SLOW, under valgrind).
out=$( (sleep "$(slow_s 1)") | openssl s_client -connect "$CONCORD_ADDR" -CAfile "$CONCORD_CA" \
    -servername localhost 2>&1) || true
if [[ "$out" == *"certificate required"* ]] || [[ "$out" == *"handshake failure"* ]]; then
    ok "with tls_client_ca, a client without a certificate is refused by the server"
else
    not_ok "with tls_client_ca, a client without a certificate is refused by the server" \
        "$(printf '%s\n' "$out" | grep -vE '^[A-Za-z0-9+/=]{40,}$' | tail -n 15)"
fi
expect_exit 6 cli whoami
assert_not_contains "$last_output" "Test Admin" "the CLI without a certificate gets nothing"
cp "$cfg" "$tmp/config.plain"
printf 'cert_file = %s\nkey_file = %s\n' "$CONCORD_CLIENT_CERT" "$CONCORD_CLIENT_KEY" >>"$cfg"
check "the CLI with cert_file and key_file in its profile logs in" cli_login_admin
check "and calls" cli whoami
# A certificate signed by another CA is refused too.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=intruder" \
    -keyout "$tmp/intruder.key" -out "$tmp/intruder.csr" 2>/dev/null
openssl x509 -req -in "$tmp/intruder.csr" -CA "$tmp/other-ca.pem" -CAkey "$tmp/other-ca.key" \
    -CAcreateserial -days 1 -out "$tmp/intruder.pem" 2>/dev/null
cp "$tmp/config.plain" "$cfg"
printf 'cert_file = %s\nkey_file = %s\n' "$tmp/intruder.pem" "$tmp/intruder.key" >>"$cfg"
expect_exit 6 cli whoami
cp "$tmp/config.plain" "$cfg"

# ---- back to the usual settings -------------------------------------------------------------

restart_concordd || fail "concordd did not come back with its usual settings"
restarted=""
check "after the restore the CLI works without a certificate" cli whoami
check "and the gateway is healthy again" wait_gateway_healthy

done_testing
