#!/usr/bin/env bash
# testssl.sh against concordd's and the gateway's ports: protocols (-p), cipher categories
# (-s) and renegotiation (-R). concordd runs with server.tls_min_version = 1.2 for the scan,
# its widest setting, so the TLS 1.2 cipher policy is scanned too. Any finding of severity
# LOW or above fails: testssl rates CBC suites LOW, and the policy is AEAD ciphers only. The
# two scans run side by side; each is bounded by testssl's own timeouts and by `timeout`.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
testssl=$(command -v testssl || command -v testssl.sh || true)
[ -n "$testssl" ] || fail "testssl.sh is not installed (deploy/install-deps --test)"

tmp=$(test_tmpdir)
restarted=""

restore() {
    local rc=$?
    if [ -n "$restarted" ]; then
        restart_concordd >/dev/null 2>&1 || echo "error: could not restore concordd" >&2
        wait_gateway_healthy || true
    fi
    _ct_cleanup
    exit "$rc"
}
trap restore EXIT

wait_gateway_healthy() {
    local i
    [ -n "${CONCORD_GATEWAY_URL:-}" ] || return 0
    for i in $(seq 1 100); do
        if [ "$(curl -s --cacert "$CONCORD_CA" -o /dev/null -w '%{http_code}' \
            "$CONCORD_GATEWAY_URL/healthz")" = 200 ]; then
            return 0
        fi
        sleep 0.2
    done
    echo "error: the gateway did not reconnect to concordd" >&2
    return 1
}

# scan NAME PORT: runs testssl in the background, JSON into $tmp/NAME.json.
scan() {
    local name=$1 port=$2
    # Shorter socket waits than testssl's defaults: everything is on this machine.
    MAX_WAITSOCK=3 HEADER_MAXSLEEP=3 timeout 150 "$testssl" --quiet --color 0 --warnings batch \
        --ip 127.0.0.1 --nodns none --openssl-timeout 5 --connect-timeout 5 \
        --add-ca "$CONCORD_CA" -p -s -R --jsonfile "$tmp/$name.json" "localhost:$port" \
        >"$tmp/$name.out" 2>&1
}

# judge NAME: the scan finished, saw TLS 1.3 and AEAD suites, and found nothing weak.
judge() {
    local name=$1 rc=$2 f=$tmp/$1.json bad
    if [ "$rc" -ne 0 ] || [ ! -s "$f" ]; then
        not_ok "testssl scanned $name" "exit $rc; $(tail -n 20 "$tmp/$name.out")"
        return
    fi
    assert_eq "offered with final" "$(jq -r '.[] | select(.id == "TLS1_3") | .finding' "$f")" \
        "testssl sees TLS 1.3 on $name"
    assert_eq "offered" "$(jq -r '.[] | select(.id == "cipherlist_STRONG") | .finding' "$f")" \
        "testssl sees AEAD suites on $name"
    bad=$(jq -r '.[] | select(.severity | test("^(LOW|MEDIUM|HIGH|CRITICAL)$"))
                     | "\(.severity) \(.id): \(.finding)"' "$f")
    if [ -z "$bad" ]; then
        ok "testssl finds no weak protocol, cipher or renegotiation on $name"
    else
        not_ok "testssl finds no weak protocol, cipher or renegotiation on $name" "$bad"
    fi
}

restarted=1
restart_concordd --server.tls_min_version=1.2 || fail "concordd did not restart with TLS 1.2"

scan concordd "$CONCORD_PORT" &
concordd_scan=$!
gateway_scan=""
if [ -n "${CONCORD_GATEWAY_ADDR:-}" ]; then
    scan gateway "${CONCORD_GATEWAY_ADDR##*:}" &
    gateway_scan=$!
fi
rc=0
wait "$concordd_scan" || rc=$?
judge concordd "$rc"
if [ -n "$gateway_scan" ]; then
    rc=0
    wait "$gateway_scan" || rc=$?
    judge gateway "$rc"
else
    skip "testssl on the gateway" "concord-gateway is not built"
fi

done_testing
