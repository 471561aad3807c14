#!/usr/bin/env bash
# The audit trail and the logs:
#   - mutations (account create, update, team add, archive), a failed login, a permission
#     denial (a member calling CreateUser) and admin actions (CreateUser, CreateApiToken,
#     RevokeApiToken, DisableUser) each leave an audit_log row with the time (timestamptz,
#     close to now), the actor (NULL only for the failed login, whose target is the name
#     tried), the source address, and the target;
#   - no audit row, and no line of concordd.log or gateway.log, holds a password or token
#     sent by this test;
#   - a user name with a line break (trying to forge a log line) leaves every log one event
#     per line, and concordd's log shows the name with the line break escaped;
#   - every log line written meanwhile is a logfmt line with a UTC timestamp.
# Calls go through the gateway's Connect API, so the gateway's log is exercised too.
# shellcheck source=tests/lib/common.sh
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
[ -n "${CONCORD_GATEWAY_URL:-}" ] || fail "the environment has no gateway"

tmp=$(test_tmpdir)
run=a$$r$RANDOM
dlog=$CONCORD_TEST_DIR/concordd.log
glog=$CONCORD_TEST_DIR/gateway.log
doff=$(tenv_log_size "$dlog")
goff=$(tenv_log_size "$glog")
mark=$(psql_super -Atc "select coalesce(max(id), 0) from concord.audit_log")
secrets=()

rpc() {
    local m=$1 data=$2 tok=${3:-}
    local args=(-sS --cacert "$CONCORD_CA" -o "$tmp/body" -w '%{http_code}'
        -H 'Content-Type: application/json' --data-binary "$data")
    [ -n "$tok" ] && args+=(-H "Authorization: Bearer $tok")
    status=$(curl "${args[@]}" "$CONCORD_GATEWAY_URL/concord.v1.$m") || status=000
    body=$(cat "$tmp/body")
}

login() {
    rpc AuthService/Login "$(jq -cn --arg u "$1" --arg p "$2" '{username: $u, password: $p}')"
    if [ "$status" = 200 ]; then
        printf '%s' "$body" | jq -r .token
    fi
}

jfield() { printf '%s' "$body" | jq -r "$1"; }

# audit WHERE: the new audit rows matching WHERE, as "actor|source|action|target_type|target_id".
audit() {
    psql_super -Atc "select coalesce(actor_id::text, 'null'), source, action, target_type,
                            target_id
                       from concord.audit_log where id > $mark and ($1) order by id"
}

admin=$(login "$CONCORD_ADMIN_USER" "$CONCORD_ADMIN_PASSWORD")
[ -n "$admin" ] || fail "admin login failed: $status $body"
secrets+=("$CONCORD_ADMIN_PASSWORD" "$admin")
admin_id=$(psql_super -Atc "select id from concord.users where username = '$CONCORD_ADMIN_USER'")

# ---- admin actions --------------------------------------------------------------------------

member=audit-$run
member_pw="member-secret-$run"
secrets+=("$member_pw")
rpc AuthService/CreateUser "$(jq -cn --arg u "$member" --arg p "$member_pw" \
    '{user: {username: $u, displayName: "Audit Member", department: "RND", role: "MEMBER"},
      password: $p}')" "$admin"
assert_eq 200 "$status" "CreateUser answers 200"
member_id=$(jfield .id)
victim=audit-victim-$run
victim_pw="victim-secret-$run"
secrets+=("$victim_pw")
rpc AuthService/CreateUser "$(jq -cn --arg u "$victim" --arg p "$victim_pw" \
    '{user: {username: $u, department: "SALES", role: "MEMBER"}, password: $p}')" "$admin"
victim_id=$(jfield .id)
rpc AuthService/CreateApiToken '{"name": "audit test"}' "$admin"
api=$(jfield .token)
api_id=$(jfield .apiToken.id)
secrets+=("$api")
rpc AuthService/RevokeApiToken "{\"id\": \"$api_id\"}" "$admin"
assert_eq 200 "$status" "RevokeApiToken answers 200"
rpc AuthService/DisableUser "{\"id\": \"$victim_id\"}" "$admin"
assert_eq 200 "$status" "DisableUser answers 200"

assert_eq "$admin_id|create_user|user|$member_id" \
    "$(audit "action = 'create_user' and target_id = '$member_id'" | cut -d'|' -f1,3-)" \
    "CreateUser is audited with the admin as actor and the new user as target"
assert_eq "$admin_id|create_api_token|api_token|$api_id" \
    "$(audit "action = 'create_api_token' and target_id = '$api_id'" | cut -d'|' -f1,3-)" \
    "CreateApiToken is audited"
assert_eq "$admin_id|revoke_api_token|api_token|$api_id" \
    "$(audit "action = 'revoke_api_token' and target_id = '$api_id'" | cut -d'|' -f1,3-)" \
    "RevokeApiToken is audited"
assert_eq "$admin_id|disable_user|user|$victim_id" \
    "$(audit "action = 'disable_user' and target_id = '$victim_id'" | cut -d'|' -f1,3-)" \
    "DisableUser is audited"

# ---- mutations ------------------------------------------------------------------------------

rpc AccountService/CreateAccount "{\"allowSimilarName\": true,
    \"account\": {\"name\": \"Audit $run\", \"industry\": \"retail\"}}" "$admin"
assert_eq 200 "$status" "CreateAccount answers 200"
acc=$(jfield .id)
rpc AccountService/UpdateAccount "{\"account\": {\"id\": \"$acc\", \"region\": \"EMEA\"},
    \"updateMask\": \"region\", \"version\": \"1\"}" "$admin"
assert_eq 200 "$status" "UpdateAccount answers 200"
rpc TeamService/AddTeamMember "{\"member\": {\"accountId\": \"$acc\", \"userId\": \"$member_id\",
    \"teamRole\": \"RND_LIAISON\", \"accessLevel\": \"READ\"}}" "$admin"
assert_eq 200 "$status" "AddTeamMember answers 200 ($body)"
rpc AccountService/ArchiveAccount "{\"id\": \"$acc\"}" "$admin"
assert_eq 200 "$status" "ArchiveAccount answers 200 ($body)"
for action in create_account update_account add_team_member archive_account; do
    assert_eq "$admin_id|$action" \
        "$(audit "action = '$action' and (target_id = '$acc' or target_id like '$acc/%'
                                          or target_id like '$acc:%')" |
            cut -d'|' -f1,3 | head -n 1)" "$action is audited with its actor"
done
assert_eq "Audit $run|EMEA" \
    "$(psql_super -Atc "select coalesce(before->>'name', ''), after->>'region'
                          from concord.audit_log where id > $mark
                           and action = 'update_account' and target_id = '$acc'")" \
    "the update's row holds the account before and after"

# ---- denials --------------------------------------------------------------------------------

wrong="wrong-password-$run"
secrets+=("$wrong")
assert_eq "" "$(login "$member" "$wrong")" "a wrong password is refused"
assert_eq "null|127.0.0.1|concord.v1.AuthService/Login denied UNAUTHENTICATED|user|$member" \
    "$(audit "action like '%Login denied%' and target_id = '$member'")" \
    "the failed login is audited with the source and the name tried, no actor"

member_tok=$(login "$member" "$member_pw")
[ -n "$member_tok" ] || fail "member login failed: $status $body"
secrets+=("$member_tok")
intruder_pw="intruder-secret-$run"
secrets+=("$intruder_pw")
rpc AuthService/CreateUser "$(jq -cn --arg p "$intruder_pw" \
    '{user: {username: "should-not-exist", department: "RND", role: "ADMIN"}, password: $p}')" \
    "$member_tok"
assert_eq 403 "$status" "a member calling CreateUser is refused"
assert_eq "$member_id|127.0.0.1|concord.v1.AuthService/CreateUser denied PERMISSION_DENIED" \
    "$(audit "action like '%CreateUser denied%' and actor_id = $member_id" | cut -d'|' -f1-3)" \
    "the permission denial is audited with the member as actor"

# ---- every new row: time, source --------------------------------------------------------------

assert_eq "timestamp with time zone" \
    "$(psql_super -Atc "select format_type(atttypid, atttypmod) from pg_attribute
                         where attrelid = 'concord.audit_log'::regclass and attname = 'at'")" \
    "audit_log.at is an absolute instant (timestamptz)"
assert_eq 0 "$(psql_super -Atc "select count(*) from concord.audit_log where id > $mark
                                   and (at not between now() - interval '5 minutes'
                                                   and now() + interval '5 seconds'
                                        or source = '' or action = '')")" \
    "every new audit row has a current time, a source and an action"
assert_eq 0 "$(psql_super -Atc "select count(*) from concord.audit_log where id > $mark
                                   and actor_id is null and action not like '%Login denied%'
                                   and source <> 'concordd'")" \
    "only failed logins (and concordd's own periodic tasks) lack an actor"

# ---- a forged log line ----------------------------------------------------------------------

forged_user=$'forger\nts=2000-01-01T00:00:00.000Z level=error event=forged_'"$run"
assert_eq "" "$(login "$forged_user" "$wrong")" "a user name with a line break does not log in"
assert_eq 1 "$(psql_super -Atc "select count(*) from concord.audit_log where id > $mark
                                   and target_id = E'forger\\nts=2000-01-01T00:00:00.000Z level=error event=forged_$run'")" \
    "the audit row keeps the name as it was sent"
sleep 0.5

new_dlog=$tmp/concordd.log
new_glog=$tmp/gateway.log
tail -c +"$((doff + 1))" "$dlog" >"$new_dlog"
tail -c +"$((goff + 1))" "$glog" >"$new_glog"
for f in "$new_dlog" "$new_glog"; do
    name=$(basename "$f")
    if grep -q "^ts=2000-01-01" "$f"; then
        not_ok "no forged line in $name" "$(grep -n "^ts=2000-01-01" "$f")"
    else
        ok "no forged line in $name"
    fi
    # Lines from restarts of other tests ("--- restart ...") are the harness's, not logfmt.
    odd=$(grep -vE '^ts=[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z level=[a-z]+ event=' "$f" |
        grep -v '^--- restart ' || true)
    assert_eq "" "$odd" "every new line of $name is one logfmt event with a UTC time"
done
if grep -qF 'forger\nts=2000-01-01' "$new_dlog"; then
    ok "concordd's log shows the failed login's name with the line break escaped"
else
    not_ok "concordd's log shows the failed login's name with the line break escaped" \
        "concordd wrote no line naming the failed login; new lines:
$(tail -n 5 "$new_dlog")"
fi

# ---- no secrets -------------------------------------------------------------------------------

psql_super -Atc "select a::text from concord.audit_log a where id > $mark" >"$tmp/audit.txt"
[ -s "$tmp/audit.txt" ] || fail "no audit rows were written"
for what in "audit_log:$tmp/audit.txt" "concordd.log:$new_dlog" "gateway.log:$new_glog"; do
    file=${what#*:}
    leaked=""
    for s in "${secrets[@]}"; do
        grep -qF -- "$s" "$file" && leaked="$leaked ${s:0:6}..."
    done
    assert_eq "" "$leaked" "no password or token of this test in ${what%%:*}"
done

done_testing
