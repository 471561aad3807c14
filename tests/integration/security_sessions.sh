#!/usr/bin/env bash
# Passwords, sessions and bearer tokens:
#   - passwords are stored as argon2id with at least 19 MiB and 2 iterations, and concordd
#     refuses settings below that;
#   - tokens carry 256 random bits (43 base64url characters after the prefix), are distinct,
#     and only their SHA-256 is stored: no row of any table holds a token's text;
#   - a session ends on logout, on password change (the other sessions; the one that changed
#     the password stays, API tokens stay), on user disable (sessions and API tokens), after
#     auth.session_idle_timeout without use and at auth.session_absolute_timeout however much
#     it is used (concordd is restarted with 3 s / 6 s for that part, then restored).
# Tokens are obtained through the gateway's Connect API and checked directly against
# concordd with the CLI (CONCORD_TOKEN), so both paths see the same revocations.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
[ -n "${CONCORD_GATEWAY_URL:-}" ] || fail "the environment has no gateway"

tmp=$(test_tmpdir)
run=s$$r$RANDOM
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

# rpc METHOD JSON [TOKEN]: a Connect JSON call through the gateway; sets $status and $body.
rpc() {
    local m=$1 data=$2 tok=${3:-}
    local args=(-sS --cacert "$CONCORD_CA" -o "$tmp/body" -w '%{http_code}'
        -H 'Content-Type: application/json' --data-binary "$data")
    [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
    status=$(curl "${args[@]}" "$CONCORD_GATEWAY_URL/concord.v1.$m") || status=000
    body=$(cat "$tmp/body")
}

# login USER PASSWORD: prints the session token, or nothing.
login() {
    rpc AuthService/Login "$(jq -cn --arg u "$1" --arg p "$2" '{username: $u, password: $p}')"
    if [ "$status" = 200 ]; then
        printf '%s' "$body" | jq -r .token
    fi
}

# state TOKEN: "live" when concordd accepts the token, "ended" when it answers
# UNAUTHENTICATED (CLI exit 3), else the exit code and output.
state() {
    local out rc=0
    out=$(CONCORD_TOKEN=$1 "$CONCORD_CLI" whoami 2>&1) || rc=$?
    case $rc in
        0) echo live ;;
        3) echo ended ;;
        *) echo "exit $rc: $out" ;;
    esac
}

admin=$(login "$CONCORD_ADMIN_USER" "$CONCORD_ADMIN_PASSWORD")
[ -n "$admin" ] || fail "admin login through the gateway failed: $status $body"

# create_user NAME PASSWORD: prints the new user's id.
create_user() {
    rpc AuthService/CreateUser "$(jq -cn --arg u "$1" --arg p "$2" \
        '{user: {username: $u, displayName: "Session Test", department: "SALES",
                 role: "MEMBER"}, password: $p}')" "$admin"
    [ "$status" = 200 ] || fail "CreateUser $1: $status $body"
    printf '%s' "$body" | jq -r .id
}

pw1="first-password-$run"
pw2="second-password-$run"
user=sess-$run
user_id=$(create_user "$user" "$pw1")

# ---- password hashing -----------------------------------------------------------------------

hash=$(psql_super -Atc "select password_hash from concord.users where username = '$user'")
if [[ "$hash" =~ ^\$argon2id\$v=19\$m=([0-9]+),t=([0-9]+),p=[0-9]+\$ ]] &&
    [ "${BASH_REMATCH[1]}" -ge 19456 ] && [ "${BASH_REMATCH[2]}" -ge 2 ]; then
    ok "passwords are stored as argon2id with m >= 19 MiB and t >= 2 (${hash:0:32}...)"
else
    not_ok "passwords are stored as argon2id with m >= 19 MiB and t >= 2" "$hash"
fi
assert_not_contains "$hash" "$pw1" "the stored hash does not hold the password"
for weak in --auth.argon2_memory_kib=19455 --auth.argon2_iterations=1; do
    rc=0
    key=${weak#--}
    key=${key%%=*}
    last_output=$("$CONCORDD" migrate --config "$CONCORDD_CONFIG" "$weak" 2>&1) || rc=$?
    if [ "$rc" -ne 0 ] && [[ "$last_output" == *"$key:"*outside* ]]; then
        ok "concordd refuses $weak, naming the setting"
    else
        not_ok "concordd refuses $weak, naming the setting" "exit $rc: ${last_output:0:300}"
    fi
done

# ---- tokens ---------------------------------------------------------------------------------

tokens=()
for i in 1 2 3 4 5; do
    tokens+=("$(login "$user" "$pw1")")
done
bad=""
for t in "${tokens[@]}"; do
    [[ "$t" =~ ^cs_[A-Za-z0-9_-]{43}$ ]] || bad="$bad $t"
done
assert_eq "" "$bad" "session tokens are cs_ + 43 base64url characters (256 bits)"
assert_eq 5 "$(printf '%s\n' "${tokens[@]}" | sort -u | wc -l)" "five logins give five tokens"
rpc AuthService/CreateApiToken '{"name": "session test"}' "${tokens[0]}"
api1=$(printf '%s' "$body" | jq -r .token)
[[ "$api1" =~ ^ct_[A-Za-z0-9_-]{43}$ ]] && ok "API tokens are ct_ + 256 bits" ||
    not_ok "API tokens are ct_ + 256 bits" "$status $body"

t=${tokens[1]}
assert_eq 1 "$(psql_super -Atc "select count(*) from concord.credentials
                                 where token_hash = sha256(convert_to('$t', 'UTF8'))")" \
    "the credentials table holds the token's SHA-256"
# No row of any table (credentials, audit_log, ...) holds a token's text.
pg_dump -h "$PGHOST" -p "$PGPORT" -U "$PG_SUPERUSER" --data-only --schema=concord concord \
    >"$tmp/dump.sql" 2>"$tmp/dump.err"
[ -s "$tmp/dump.sql" ] || fail "pg_dump wrote nothing"
found=""
for t in "${tokens[@]}" "$api1"; do
    grep -qF "${t#c?_}" "$tmp/dump.sql" && found="$found $t"
done
assert_eq "" "$found" "no token's text is stored anywhere in the database"

# ---- logout ---------------------------------------------------------------------------------

rpc AuthService/Logout '{}' "${tokens[2]}"
assert_eq 200 "$status" "Logout answers 200"
assert_eq ended "$(state "${tokens[2]}")" "a session ends at logout"
assert_eq live "$(state "${tokens[3]}")" "the user's other sessions go on"

# ---- password change ------------------------------------------------------------------------

rpc AuthService/ChangePassword \
    "$(jq -cn --arg o "$pw1" --arg n "$pw2" '{oldPassword: $o, newPassword: $n}')" "${tokens[0]}"
assert_eq 200 "$status" "ChangePassword answers 200 ($body)"
assert_eq live "$(state "${tokens[0]}")" "the session that changed the password stays"
assert_eq ended "$(state "${tokens[1]}")" "another session ends at password change"
assert_eq ended "$(state "${tokens[3]}")" "every other session ends at password change"
assert_eq live "$(state "$api1")" "API tokens stay at password change (revoked one by one)"
assert_eq "" "$(login "$user" "$pw1")" "the old password no longer logs in"
s3=$(login "$user" "$pw2")
assert_eq live "$(state "$s3")" "the new password logs in"

# ---- user disable ---------------------------------------------------------------------------

rpc AuthService/CreateApiToken '{"name": "second"}' "$s3"
api2=$(printf '%s' "$body" | jq -r .token)
assert_eq live "$(state "$api2")" "a second API token works before the disable"
rpc AuthService/DisableUser "{\"id\": \"$user_id\"}" "$admin"
assert_eq 200 "$status" "DisableUser answers 200"
assert_eq ended "$(state "${tokens[0]}")" "disable ends the sessions"
assert_eq ended "$(state "$s3")" "disable ends the newest session too"
assert_eq ended "$(state "$api1")" "disable ends the API tokens"
assert_eq ended "$(state "$api2")" "disable ends every API token"
assert_eq "" "$(login "$user" "$pw2")" "a disabled user cannot log in"

# ---- idle and absolute timeouts -------------------------------------------------------------

user2=sess2-$run
create_user "$user2" "$pw1" >/dev/null
restarted=1
restart_concordd --auth.session_idle_timeout=3s --auth.session_absolute_timeout=6s ||
    fail "concordd did not restart with short session timeouts"
wait_gateway_healthy || fail "the gateway did not reconnect"
busy=$(login "$user2" "$pw1")
start=$(date +%s%N)
idle=$(login "$user2" "$pw1")
[ -n "$busy" ] && [ -n "$idle" ] || fail "login with short timeouts failed: $status $body"
elapsed_ms() { echo $((($(date +%s%N) - start) / 1000000)); }

# The busy session is used every second, past the idle timeout.
lost=""
while [ "$(elapsed_ms)" -lt 4500 ]; do
    s=$(state "$busy")
    [ "$s" = live ] || lost="$lost at $(elapsed_ms) ms: $s"
    sleep 0.8
done
assert_eq "" "$lost" "a session in use outlives the 3 s idle timeout"
assert_eq ended "$(state "$idle")" "a session unused for 3 s ends"
assert_eq "3|6" "$(psql_super -Atc "select extract(epoch from idle_timeout)::int,
                                            extract(epoch from expires_at - created_at)::int
                                       from concord.credentials
                                      where token_hash = sha256(convert_to('$busy', 'UTF8'))")" \
    "the session was stored with a 3 s idle and a 6 s absolute timeout"
# In use all along (a CLI call takes up to a second here), it still ends 6 s after login.
while [ "$(elapsed_ms)" -lt 6800 ]; do
    state "$busy" >/dev/null
    sleep 0.4
done
assert_eq ended "$(state "$busy")" "a session ends 6 s after login however much it is used"

restart_concordd || fail "concordd did not come back with its usual settings"
restarted=""
wait_gateway_healthy || not_ok "the gateway reconnects after the restore"
s=$(login "$user2" "$pw1")
assert_eq live "$(state "$s")" "after the restore sessions work again"

done_testing
