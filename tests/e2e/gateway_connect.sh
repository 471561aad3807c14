#!/usr/bin/env bash
# concord-gateway over HTTPS as a Connect client, a script and a browser meet it:
# health, portal sign-in with the session cookie, Connect JSON and binary calls
# with the proto3 JSON mapping, CSRF and Origin checks, error mapping (field
# violations, stale versions, missing credentials, unknown methods, sizes and
# content types), security headers, the OpenAPI document and static files.
# Needs curl and jq.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
command -v curl >/dev/null || fail "curl is required"
[ -n "${CONCORD_GATEWAY_URL:-}" ] || fail "the environment has no gateway (CONCORD_GATEWAY_URL is empty)"

gw=$CONCORD_GATEWAY_URL
tmp=$(test_tmpdir)
jar=$tmp/cookies
run=g$$r$RANDOM

# http METHOD PATH [CURL ARGS...]: sets $status, $body (text) and $headers (lower-cased names).
http() {
    local method=$1 path=$2
    shift 2
    status=$(curl -sS --cacert "$CONCORD_CA" -X "$method" -D "$tmp/h" -o "$tmp/b" \
        -w '%{http_code}' "$@" "$gw$path") || status=000
    body=$(tr -d '\0' <"$tmp/b")
    headers=$(tr -d '\r' <"$tmp/h" | sed -E 's/^([^:]+):/\L\1:/')
}

# call METHOD JSON [CURL ARGS...]: a Connect JSON call to concord.v1.<METHOD>.
call() {
    local m=$1 data=$2
    shift 2
    http POST "/concord.v1.$m" -H 'Content-Type: application/json' --data-binary "$data" "$@"
}

header() {
    printf '%s\n' "$headers" | { grep -i "^$1:" || true; } | head -n 1 | sed -E 's/^[^:]+: ?//'
}

jget() {
    printf '%s' "$body" | jq -r "$1" 2>/dev/null || echo "(not JSON)"
}

# ---- health -------------------------------------------------------------------------------

http GET /healthz
assert_eq 200 "$status" "healthz answers 200 with concordd up"
assert_eq ok "$(jget .status)" "healthz says ok"

# ---- portal sign-in -----------------------------------------------------------------------

http POST /auth/login -H 'Content-Type: application/json' \
    --data-binary "{\"username\":\"$CONCORD_ADMIN_USER\",\"password\":\"wrong-$run\"}"
assert_eq 401 "$status" "a wrong password is 401"
assert_eq unauthenticated "$(jget .code)" "a wrong password is unauthenticated"
assert_eq "" "$(header set-cookie)" "a failed login sets no cookie"

login_json=$(jq -cn --arg u "$CONCORD_ADMIN_USER" --arg p "$CONCORD_ADMIN_PASSWORD" \
    '{username: $u, password: $p}')
http POST /auth/login -H 'Content-Type: application/json' --data-binary "$login_json" -c "$jar"
assert_eq 200 "$status" "login answers 200"
cookie=$(header set-cookie)
assert_contains "$cookie" "__Host-concord_session=" "login sets the session cookie"
for attr in "Path=/" "Secure" "HttpOnly" "SameSite=Strict"; do
    assert_contains "$cookie" "; $attr" "the session cookie has $attr"
done
assert_eq "$CONCORD_ADMIN_USER" "$(jget .user.username)" "login returns the user"
csrf=$(jget .csrfToken)
[ ${#csrf} -ge 40 ] && ok "login returns a CSRF token" || not_ok "login returns a CSRF token" "$body"
token=$(printf '%s' "$cookie" | sed -E 's/^__Host-concord_session=([^;]*).*/\1/')
[ -n "$token" ] || fail "no session token in the cookie: $cookie"
assert_not_contains "$body" "$token" "the session token is not in the login body"
auth=(-H "Authorization: Bearer $token")

http GET /auth/csrf -b "$jar"
assert_eq 200 "$status" "GET /auth/csrf with the cookie answers 200"
assert_eq "$csrf" "$(jget .csrfToken)" "GET /auth/csrf returns the same CSRF token"
http GET /auth/csrf
assert_eq 401 "$status" "GET /auth/csrf without the cookie is 401"

# ---- Connect JSON calls ---------------------------------------------------------------------

call AccountService/ListAccounts '{"pageSize": 5}' "${auth[@]}"
assert_eq 200 "$status" "ListAccounts with a bearer token answers 200"
assert_contains "$(header content-type)" "application/json" "the reply is application/json"
assert_eq object "$(jget type)" "ListAccounts returns a JSON object"

name="Gateway Test $run"
call AccountService/CreateAccount \
    "{\"allowSimilarName\":true,\"account\":{\"name\":\"$name\",\"industry\":\"higher education\",\"region\":\"EMEA\",\"sizeClass\":\"LARGE\",\"tags\":[\"gw\"]}}" \
    "${auth[@]}"
assert_eq 200 "$status" "CreateAccount answers 200"
id=$(jget .id)
[ -n "$id" ] && [ "$id" != null ] || fail "CreateAccount returned no id: $body"
assert_eq string "$(jget '.version | type')" "int64 version is a JSON string"
assert_eq '"1"' "$(jget '.version | tojson')" "a new account has version \"1\""
assert_eq LARGE "$(jget .sizeClass)" "enums are names under camelCase keys"
assert_eq null "$(jget .size_class)" "no snake_case keys"
if [[ "$(jget .createTime)" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z$ ]]; then
    ok "createTime is RFC 3339 in UTC"
else
    not_ok "createTime is RFC 3339 in UTC" "$body"
fi

call AccountService/GetAccount "{\"id\":\"$id\"}" "${auth[@]}"
assert_eq 200 "$status" "GetAccount answers 200"
assert_eq "$name" "$(jget .name)" "GetAccount returns the created account"
assert_eq "gw" "$(jget '.tags[0]')" "repeated fields are arrays"

# The binary form: GetAccountRequest{id} is field 1, length-delimited.
printf '\x0a'"$(printf '\\x%02x' ${#id})"'%s' "$id" >"$tmp/req.bin"
http POST /concord.v1.AccountService/GetAccount -H 'Content-Type: application/proto' \
    --data-binary @"$tmp/req.bin" "${auth[@]}"
assert_eq 200 "$status" "an application/proto call answers 200"
assert_eq application/proto "$(header content-type)" "the binary reply is application/proto"
if grep -qaF "$name" "$tmp/b"; then ok "the binary reply holds the account"; else not_ok "the binary reply holds the account"; fi

# ---- cookies, CSRF and Origin ---------------------------------------------------------------

call AccountService/GetAccount "{\"id\":\"$id\"}" -b "$jar"
assert_eq 403 "$status" "a cookie call without X-CSRF-Token is 403"
assert_eq permission_denied "$(jget .code)" "the missing CSRF token is permission_denied"
call AccountService/GetAccount "{\"id\":\"$id\"}" -b "$jar" -H "X-CSRF-Token: ${csrf}x"
assert_eq 403 "$status" "a cookie call with a wrong X-CSRF-Token is 403"
call AccountService/GetAccount "{\"id\":\"$id\"}" -b "$jar" -H "X-CSRF-Token: $csrf"
assert_eq 200 "$status" "a cookie call with X-CSRF-Token answers 200"
assert_eq "$name" "$(jget .name)" "the cookie call returns the account"

call AccountService/GetAccount "{\"id\":\"$id\"}" -b "$jar" -H "X-CSRF-Token: $csrf" \
    -H "Origin: https://evil.example"
assert_eq 403 "$status" "a foreign Origin is refused"
call AccountService/GetAccount "{\"id\":\"$id\"}" "${auth[@]}" -H "Origin: https://evil.example"
assert_eq 403 "$status" "a foreign Origin is refused with a bearer token too"
call AccountService/GetAccount "{\"id\":\"$id\"}" -b "$jar" -H "X-CSRF-Token: $csrf" \
    -H "Origin: https://$CONCORD_GATEWAY_ADDR"
assert_eq 200 "$status" "the gateway's own Origin is accepted"

# ---- errors ---------------------------------------------------------------------------------

call AccountService/GetAccount '{"unknownField": 1}' "${auth[@]}"
assert_eq 400 "$status" "an unknown JSON field is 400"
assert_eq invalid_argument "$(jget .code)" "an unknown JSON field is invalid_argument"
assert_contains "$(jget .message)" "unknownField" "the message names the unknown field"
assert_eq unknownField "$(jget '.fieldViolations[0].field')" "fieldViolations names the field"
assert_eq concord.v1.FieldViolation "$(jget '.details[0].type')" "details carry the violation"

call AccountService/GetAccount '{"id": 5}' "${auth[@]}"
assert_eq 400 "$status" "a number for a string field is 400"
assert_contains "$(jget .message)" "id" "the wrong-type message names the field"

call AccountService/GetAccount '{"id": ' "${auth[@]}"
assert_eq invalid_argument "$(jget .code)" "malformed JSON is invalid_argument"

call AccountService/UpdateAccount \
    "{\"account\":{\"id\":\"$id\",\"region\":\"APAC\"},\"updateMask\":\"region\",\"version\":\"1\"}" \
    "${auth[@]}"
assert_eq 200 "$status" "UpdateAccount with the current version answers 200"
assert_eq '"2"' "$(jget '.version | tojson')" "the update bumps the version"
call AccountService/UpdateAccount \
    "{\"account\":{\"id\":\"$id\",\"region\":\"NA\"},\"updateMask\":\"region\",\"version\":\"1\"}" \
    "${auth[@]}"
assert_eq 409 "$status" "a stale version is 409"
assert_eq aborted "$(jget .code)" "a stale version is aborted"

call AccountService/ListAccounts '{}'
assert_eq 401 "$status" "a call without credentials is 401"
assert_eq unauthenticated "$(jget .code)" "a call without credentials is unauthenticated"

call AccountService/NoSuchMethod '{}' "${auth[@]}"
assert_eq 404 "$status" "an unknown method is 404"
assert_eq unimplemented "$(jget .code)" "an unknown method is unimplemented"
call NoSuchService/GetAccount '{}' "${auth[@]}"
assert_eq 404 "$status" "an unknown service is 404"

http POST /concord.v1.AccountService/ListAccounts -H 'Content-Type: text/plain' \
    --data-binary '{}' "${auth[@]}"
assert_eq 415 "$status" "an unsupported content type is 415"

head -c 1200000 /dev/zero | tr '\0' ' ' >"$tmp/big.json"
http POST /concord.v1.AccountService/ListAccounts -H 'Content-Type: application/json' \
    --data-binary @"$tmp/big.json" "${auth[@]}"
assert_eq 413 "$status" "a body over max_body is 413"
assert_eq resource_exhausted "$(jget .code)" "a body over max_body is resource_exhausted"

http GET /concord.v1.AccountService/ListAccounts "${auth[@]}"
assert_eq 405 "$status" "GET on a Connect method is 405"

# ---- security headers -----------------------------------------------------------------------

for path in / /healthz /no-such-file; do
    http GET "$path"
    csp=$(header content-security-policy)
    assert_contains "$csp" "default-src 'self'" "CSP on $path"
    assert_contains "$csp" "frame-ancestors 'none'" "CSP forbids framing on $path"
    assert_eq nosniff "$(header x-content-type-options)" "X-Content-Type-Options on $path"
    assert_eq no-referrer "$(header referrer-policy)" "Referrer-Policy on $path"
    assert_eq DENY "$(header x-frame-options)" "X-Frame-Options on $path"
    assert_contains "$(header strict-transport-security)" "max-age=" "HSTS on $path"
done
assert_eq 404 "$status" "an unknown file is 404"

# ---- OpenAPI ----------------------------------------------------------------------------------

http GET /openapi.json
assert_eq 200 "$status" "openapi.json answers 200"
if printf '%s' "$body" | jq -e '.openapi | startswith("3.0")' >/dev/null 2>&1; then
    ok "openapi.json is an OpenAPI 3.0 JSON document"
else
    not_ok "openapi.json is an OpenAPI 3.0 JSON document" "${body:0:300}"
fi
missing=""
nmethods=0
for proto in "$CONCORD_SOURCE_DIR"/proto/concord/v1/*.proto; do
    svc=""
    while read -r kw rest; do
        case "$kw" in
            service) svc=${rest%% *} ;;
            rpc)
                m=${rest%%(*}
                nmethods=$((nmethods + 1))
                printf '%s' "$body" | jq -e --arg p "/concord.v1.$svc/$m" '.paths[$p].post' \
                    >/dev/null 2>&1 || missing="$missing $svc/$m"
                ;;
        esac
    done < <(grep -E '^\s*(service|rpc) ' "$proto" || true)
done
[ "$nmethods" -gt 0 ] && [ -z "$missing" ] && ok "openapi.json has a path for each of $nmethods methods" ||
    not_ok "openapi.json has a path for every method" "missing:$missing"
assert_eq '{"type":"string","format":"int64"}' \
    "$(jget '.components.schemas["concord.v1.Account"].properties.version | tojson')" \
    "int64 fields are strings in the schemas"
assert_eq string "$(jget '.components.schemas["concord.v1.Account"].properties.createTime.type')" \
    "timestamps are strings in the schemas"
# The document is larger than one 64 KiB write of the gateway: it must arrive whole.
openapi_len=$(wc -c <"$tmp/b")
assert_eq "$openapi_len" "$(header content-length)" "openapi.json's Content-Length matches its body"
[ "$openapi_len" -gt 65536 ] && ok "openapi.json ($openapi_len bytes) spans several writes" ||
    not_ok "openapi.json spans several writes" "only $openapi_len bytes"
# HEAD on a raw connection that the gateway closes after answering: everything after the
# header block would be a body.
printf 'HEAD /openapi.json HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' |
    timeout 20 openssl s_client -quiet -connect "$CONCORD_GATEWAY_ADDR" -CAfile "$CONCORD_CA" \
        -servername localhost >"$tmp/head" 2>/dev/null || true
head_status=$(head -n 1 "$tmp/head" | tr -d '\r')
assert_eq "HTTP/1.1 200 OK" "$head_status" "HEAD /openapi.json answers 200"
assert_eq "$openapi_len" "$(tr -d '\r' <"$tmp/head" | sed -n 's/^[Cc]ontent-[Ll]ength: //p')" \
    "HEAD gives the Content-Length of GET"
head_hdr=$(LC_ALL=C awk 'BEGIN { RS = "\r\n\r\n" } NR == 1 { print length($0) + 4; exit }' "$tmp/head")
assert_eq "$head_hdr" "$(wc -c <"$tmp/head")" "HEAD answers without a body"

# ---- static files -----------------------------------------------------------------------------

http GET /
assert_eq 200 "$status" "the portal index is served"
assert_contains "$(header content-type)" "text/html" "the index is text/html"
http GET /app.js
assert_contains "$(header content-type)" "javascript" "app.js is JavaScript"
for evil in "/../../../../etc/passwd" "/%2e%2e/%2e%2e/etc/passwd" "/..%2f..%2fetc/passwd" \
    "/app.js/../../gateway.ini"; do
    status=$(curl -sS --cacert "$CONCORD_CA" --path-as-is -o "$tmp/b" -w '%{http_code}' "$gw$evil")
    if [ "$status" = 400 ] || [ "$status" = 404 ]; then
        ok "traversal $evil refused ($status)"
    else
        not_ok "traversal $evil refused" "status $status"
    fi
    if grep -q "root:" "$tmp/b"; then not_ok "traversal $evil leaks no file"; fi
done

# ---- logout ---------------------------------------------------------------------------------

http POST /auth/logout -b "$jar"
assert_eq 403 "$status" "logout with the cookie needs the CSRF token"
http POST /auth/logout -b "$jar" -H "X-CSRF-Token: $csrf"
assert_eq 200 "$status" "logout answers 200"
assert_contains "$(header set-cookie)" "Max-Age=0" "logout clears the cookie"
call AccountService/ListAccounts '{}' "${auth[@]}"
assert_eq 401 "$status" "the session token no longer works after logout"

done_testing
