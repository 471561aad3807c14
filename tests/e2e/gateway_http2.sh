#!/usr/bin/env bash
# The gateway with gateway.http2 on: curl speaks HTTP/2 to it, and the answers come whole.
# Responses reach h2o through its pull interface, which HTTP/2 streams serve with their own
# code: a Connect call, an error, a document larger than one 64 KiB pull and HEAD.
# A second gateway is started for it. Needs curl with HTTP/2 and jq.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
command -v curl >/dev/null || fail "curl is required"
[ -n "${CONCORD_GATEWAY_BIN:-}" ] || fail "the environment has no gateway (CONCORD_GATEWAY_BIN is empty)"
curl --version | grep -qw HTTP2 || fail "this curl has no HTTP/2"

tmp=$(test_tmpdir)
run=h$$r$RANDOM
log=$tmp/gateway.log
gw_pid=""

restore() {
    [ -z "$gw_pid" ] || tenv_stop http2-gateway "$gw_pid" 20 >/dev/null 2>&1 || true
    _ct_cleanup
}
trap restore EXIT

cli_admin_profile
acct=$(cli_new_account "HTTP2 Test $run")
token=$(cli_new_token "h2-$run")

tenv_start "$log" "$CONCORD_GATEWAY_BIN" --config "$CONCORD_GATEWAY_CONFIG" \
    --gateway.listen=127.0.0.1:0 --gateway.http2=true
gw_pid=$TENV_PID
tenv_wait_ready http2-gateway "$gw_pid" "$log" 0 30 || fail "the HTTP/2 gateway did not start"
gw=https://$TENV_ADDR

# h2 METHOD PATH [CURL ARGS...]: sets $status, $version, $body and $headers.
h2() {
    local method=$1 path=$2 out
    shift 2
    out=$(curl -sS --http2 --cacert "$CONCORD_CA" -X "$method" -D "$tmp/h" -o "$tmp/b" \
        -w '%{http_code} %{http_version}' "$@" "$gw$path") || out="000 -"
    read -r status version <<<"$out"
    body=$(tr -d '\0' <"$tmp/b")
    headers=$(tr -d '\r' <"$tmp/h" | sed -E 's/^([^:]+):/\L\1:/')
}
header() {
    printf '%s\n' "$headers" | { grep -i "^$1:" || true; } | head -n 1 | sed -E 's/^[^:]+: ?//'
}

h2 POST /concord.v1.AccountService/GetAccount -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' --data-binary "{\"id\":\"$acct\"}"
assert_eq "200 2" "$status $version" "GetAccount answers 200 over HTTP/2"
assert_eq "HTTP2 Test $run" "$(printf '%s' "$body" | jq -r .name 2>/dev/null)" \
    "the reply names the account"
assert_eq "$(wc -c <"$tmp/b")" "$(header content-length)" "its Content-Length matches its body"
assert_eq DENY "$(header x-frame-options)" "the security headers come along"

h2 POST /concord.v1.AccountService/GetAccount -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' --data-binary '{"id":"nine"}'
assert_eq "400 2" "$status $version" "a malformed id is 400 over HTTP/2"
assert_eq invalid_argument "$(printf '%s' "$body" | jq -r .code 2>/dev/null)" \
    "the error body says invalid_argument"

h2 GET /openapi.json
len=$(wc -c <"$tmp/b")
assert_eq "200 2" "$status $version" "openapi.json answers 200 over HTTP/2"
[ "$len" -gt 65536 ] && ok "openapi.json ($len bytes) spans several pulls" ||
    not_ok "openapi.json spans several pulls" "only $len bytes"
assert_eq "$len" "$(header content-length)" "openapi.json arrives whole"
printf '%s' "$body" | jq -e '.openapi' >/dev/null 2>&1 && ok "openapi.json is JSON" ||
    not_ok "openapi.json is JSON" "${body:0:200}"

h2 HEAD /openapi.json -I
assert_eq "200 2" "$status $version" "HEAD answers 200 over HTTP/2"
assert_eq "$len" "$(header content-length)" "HEAD gives the Content-Length of GET"

assert_not_contains "$(cat "$log")" "level=error" "the gateway logged no error"
done_testing
