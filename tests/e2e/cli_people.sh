#!/usr/bin/env bash
# Stakeholders, activities, coverage and the account timeline end to end: the concord CLI
# (every command of the area, table and -o json output, exit codes, an NDJSON import with an
# all-or-nothing failed batch) and the gateway's Connect JSON mapping with curl. Needs jq.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER
check "login" cli_login_admin

run=p$$r$RANDOM
tmp=$(test_tmpdir)
rows() { tail -n +2 | grep -c . || true; }

acc=$(cli -o json account create --name "$run Riverside University" --allow-similar-name | jq -r .id)
[ -n "$acc" ] && [ "$acc" != null ] || fail "account create" "no id"

# ---- stakeholders ---------------------------------------------------------------------------

json=$(cli -o json stakeholder create --account "$acc" --name "Rita Rector" --level executive \
    --title Rector --attitude champion --influence 5 --email rita@riverside.example \
    --phone "+44 20 7946 0000" --notes "Decides on renewals") || true
exec_id=$(jq -r '.id // empty' <<<"$json")
[ -n "$exec_id" ] && ok "stakeholder create -o json has an id" || fail "stakeholder create" "$json"
assert_eq EXECUTIVE "$(jq -r .level <<<"$json")" "the level is an enum name in JSON"
assert_eq CHAMPION "$(jq -r .attitude <<<"$json")" "the attitude is an enum name in JSON"
assert_eq '"1"' "$(jq -c .version <<<"$json")" "the version is an int64 string"

dir_id=$(cli -o json stakeholder create --account "$acc" --name "Dev Director" --level director \
    --department IT --role "technical buyer" --reports-to "$exec_id" | jq -r .id)
staff_id=$(cli -o json stakeholder create --account "$acc" --name "Sid Staff" --level staff \
    --reports-to "$dir_id" | jq -r .id)
assert_eq "$dir_id" "$(cli -o json stakeholder get "$staff_id" | jq -r .reportsToId)" \
    "reports-to is stored"

expect_exit 2 cli stakeholder create --account "$acc" --name "Bad Mail" --level staff --email nope
assert_contains "$last_output" "stakeholder.email" "a bad email is named"
expect_exit 2 cli stakeholder create --account "$acc" --name "No Level"
assert_contains "$last_output" "--level" "--level is required"
expect_exit 2 cli stakeholder create --account "$acc" --name "Odd" --level chancellor
assert_contains "$last_output" "executive" "the levels are listed"
expect_exit 4 cli stakeholder create --account 999999999 --name "Ghost" --level staff

check "stakeholder get (table)" cli stakeholder get "$exec_id"
assert_contains "$last_output" "Rita Rector" "get shows the name"
assert_contains "$last_output" "champion" "get shows the attitude label"

check "stakeholder list" cli stakeholder list --account "$acc"
assert_eq 3 "$(rows <<<"$last_output")" "list shows 3 stakeholders"
assert_contains "$(sed -n 2p <<<"$last_output")" "Rita Rector" "executives come first"
assert_contains "$(head -n 1 <<<"$last_output")" "LAST CONTACT" "the header has LAST CONTACT"
assert_eq 1 "$(cli -o json stakeholder list --account "$acc" --level director | jq '.stakeholders | length')" \
    "--level filters"
assert_eq 3 "$(cli -o json stakeholder list --account "$acc" --page-size 1 --all | jq '.stakeholders | length')" \
    "--all follows the pages"

# A reporting cycle is refused; a stale version is a conflict.
expect_exit 2 cli stakeholder update "$exec_id" --version 1 --reports-to "$staff_id"
assert_contains "$last_output" "cycle" "a reporting cycle is refused"
out=$(cli -o json stakeholder update "$dir_id" --version 1 --influence 4 --attitude supporter) || true
assert_eq '"2"' "$(jq -c .version <<<"$out")" "update bumps the version"
assert_eq 4 "$(jq -r .influence <<<"$out")" "update sets the influence"
assert_eq "$exec_id" "$(jq -r .reportsToId <<<"$out")" "update keeps fields not given"
expect_exit 5 cli stakeholder update "$dir_id" --version 1 --title "Stale"
assert_contains "$last_output" "ABORTED" "a stale version is ABORTED"
out=$(cli -o json stakeholder update "$staff_id" --version 1 --clear-reports-to) || true
assert_eq "" "$(jq -r '.reportsToId // ""' <<<"$out")" "--clear-reports-to clears the link"

# ---- activities -----------------------------------------------------------------------------

json=$(cli -o json activity create --account "$acc" --kind meeting --subject "Renewal kick-off" \
    --at 2026-11-02T10:00:00Z --stakeholder "$exec_id" --stakeholder "$dir_id" \
    --notes "Budget confirmed") || true
act_id=$(jq -r '.id // empty' <<<"$json")
[ -n "$act_id" ] && ok "activity create -o json has an id" || fail "activity create" "$json"
assert_eq MEETING "$(jq -r .kind <<<"$json")" "the kind is MEETING"
assert_eq 2026-11-02T10:00:00Z "$(jq -r .occurTime <<<"$json")" "--at is the occur time (RFC 3339)"
assert_eq 2 "$(jq '.stakeholderIds | length' <<<"$json")" "two stakeholders"
assert_eq 1 "$(jq '.userIds | length' <<<"$json")" "the creator is the user"
check "activity create without --at (now)" cli activity create --account "$acc" --kind call \
    --subject "Quick call" --stakeholder "$staff_id"
expect_exit 2 cli activity create --account "$acc" --kind call --subject "Later" --at tomorrow
assert_contains "$last_output" "RFC 3339" "a bad --at is explained"
expect_exit 2 cli activity create --account "$acc" --kind call --subject "Far future" \
    --at 2099-01-01T00:00:00Z
assert_contains "$last_output" "activity.occur_time" "a time years ahead is named"
expect_exit 2 cli activity create --account "$acc" --kind call --subject "Who" --stakeholder 999999999
assert_contains "$last_output" "activity.stakeholder_ids[0]" "an unknown stakeholder is named by index"

check "activity get" cli activity get "$act_id"
assert_contains "$last_output" "Renewal kick-off" "get shows the subject"
check "activity list" cli activity list --account "$acc"
assert_eq 2 "$(rows <<<"$last_output")" "list shows 2 activities"
assert_contains "$(sed -n 2p <<<"$last_output")" "Quick call" "newest first"
assert_eq 1 "$(cli -o json activity list --account "$acc" --kind meeting | jq '.activities | length')" \
    "--kind filters"
assert_eq "Renewal kick-off" \
    "$(cli -o json activity list --account "$acc" --stakeholder "$dir_id" | jq -r '.activities[0].subject')" \
    "--stakeholder filters"
expect_exit 4 cli activity get 999999999

assert_eq "2026-11-02T10:00:00Z" "$(cli -o json stakeholder get "$dir_id" | jq -r .lastContactTime)" \
    "last contact follows the activity"

# ---- import ---------------------------------------------------------------------------------

good=$tmp/good.ndjson
for i in 1 2 3 4 5; do
    jq -cn --arg a "$acc" --arg s "$dir_id" --arg i "$i" \
        '{accountId: $a, kind: "EMAIL", subject: ("Imported " + $i),
          occurTime: ("2026-10-0" + $i + "T09:00:00Z"), stakeholderIds: [$s],
          notes: "line\twith tab"}'
done >"$good"
echo >>"$good" # blank lines are skipped
out=$(cli activity import "$good" 2>"$tmp/err") || true
assert_contains "$out" "Imported 5 activities" "import reports the count"
assert_eq 7 "$(cli -o json activity list --account "$acc" --all | jq '.activities | length')" \
    "the imported activities are listed"
assert_eq "line	with tab" \
    "$(cli -o json activity list --account "$acc" --kind email | jq -r '.activities[0].notes')" \
    "notes survive the bulk path"

bad=$tmp/bad.ndjson
cp "$good" "$bad"
printf '{"accountId":"%s","kind":"EMAIL","subject":"","occurTime":"2026-10-09T09:00:00Z"}\n' "$acc" >>"$bad"
expect_exit 2 cli activity import "$bad"
assert_contains "$last_output" "line 7: activities[5].subject" "a failed batch names the line"
assert_contains "$last_output" "nothing of it was imported" "the batch is all or nothing"
assert_eq 7 "$(cli -o json activity list --account "$acc" --all | jq '.activities | length')" \
    "a failed batch writes nothing"
printf 'not json\n' >"$tmp/junk.ndjson"
expect_exit 2 cli activity import "$tmp/junk.ndjson"
assert_contains "$last_output" "line 1" "a line that is not JSON is named"
out=$(cli -o json activity import "$good" 2>/dev/null) || true
assert_eq 5 "$(jq .created <<<"$out")" "import -o json gives the count"
out=$(printf '{"accountId":"%s","kind":"NOTE","subject":"From stdin","occurTime":"2026-09-01T08:00:00Z"}\n' \
    "$acc" | cli -o json activity import - 2>/dev/null) || true
assert_eq 1 "$(jq .created <<<"$out")" "import reads standard input with -"

# ---- coverage and timeline --------------------------------------------------------------------

check "account coverage" cli account coverage "$acc" --window 3650
assert_contains "$last_output" "SALES" "the matrix has our departments"
assert_contains "$(grep '^executive' <<<"$last_output")" "1 (2026-11-02)" "the executive cell"
assert_contains "$last_output" "single-threaded: YES" "one of our users: single-threaded"
json=$(cli -o json account coverage "$acc" --window 3650) || true
assert_eq "[1,1,1]" "$(jq -c .knownPerLevel <<<"$json")" "known per level"
assert_eq true "$(jq .singleThreaded <<<"$json")" "singleThreaded in JSON"
expect_exit 2 cli account coverage "$acc" --window 5000

check "account timeline" cli account timeline "$acc"
assert_contains "$last_output" "Meeting: Renewal kick-off" "the timeline has the meeting"
assert_contains "$last_output" "Account created" "the timeline has the audit highlight"
assert_eq 1 "$(cli -o json account timeline "$acc" --type audit | jq '.entries | length')" \
    "--type audit"
n_all=$(cli -o json account timeline "$acc" | jq '.entries | length')
assert_eq "$n_all" "$(cli -o json account timeline "$acc" --page-size 3 --all | jq '.entries | length')" \
    "--all pages through the whole timeline"
expect_exit 2 cli account timeline "$acc" --type gossip

# ---- delete ----------------------------------------------------------------------------------

check "stakeholder delete" cli stakeholder delete "$staff_id"
expect_exit 4 cli stakeholder get "$staff_id"
assert_eq 2 "$(cli -o json stakeholder list --account "$acc" | jq '.stakeholders | length')" \
    "a deleted stakeholder leaves the list"

# ---- the gateway (Connect JSON) ---------------------------------------------------------------

if [ -z "${CONCORD_GATEWAY_URL:-}" ]; then
    skip "gateway checks" "the environment has no gateway"
else
    token=$(cli token create --name "$run people" 2>/dev/null)
    gw() {
        curl -sS --cacert "$CONCORD_CA" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -o "$tmp/body" -w '%{http_code}' \
            "$CONCORD_GATEWAY_URL/concord.v1.$1" -d "$2" || echo 000
    }
    status=$(gw StakeholderService/CreateStakeholder "$(jq -cn --arg a "$acc" \
        '{stakeholder: {accountId: $a, name: "Gina Gateway", level: "DIRECTOR", influence: 3}}')")
    body=$(cat "$tmp/body")
    assert_eq 200 "$status" "CreateStakeholder through the gateway"
    assert_eq DIRECTOR "$(jq -r .level <<<"$body")" "the gateway answers enums by name"
    assert_eq '"1"' "$(jq -c .version <<<"$body")" "the gateway answers int64 as strings"
    assert_eq '"'"$acc"'"' "$(jq -c .accountId <<<"$body")" "the gateway answers camelCase"

    status=$(gw StakeholderService/ListStakeholders "{\"accountId\":\"$acc\",\"level\":\"DIRECTOR\"}")
    assert_eq 200 "$status" "ListStakeholders through the gateway"
    assert_eq 2 "$(jq '.stakeholders | length' "$tmp/body")" "the gateway lists both directors"

    status=$(gw ActivityService/CreateActivity "$(jq -cn --arg a "$acc" \
        '{activity: {accountId: $a, kind: "DEMO", subject: "Portal demo",
                     occurTime: "2026-11-03T15:30:00Z"}}')")
    assert_eq 200 "$status" "CreateActivity through the gateway"
    assert_eq 2026-11-03T15:30:00Z "$(jq -r .occurTime "$tmp/body")" "timestamps are RFC 3339"

    status=$(gw ActivityService/BulkCreateActivities "$(jq -cn --arg a "$acc" \
        '{activities: [{accountId: $a, kind: "NOTE", subject: "ok", occurTime: "2026-11-01T08:00:00Z"},
                       {accountId: $a, kind: "NOTE", subject: "", occurTime: "2026-11-01T08:00:00Z"}]}')")
    assert_eq 400 "$status" "a bad bulk row is 400"
    assert_eq "activities[1].subject" "$(jq -r '.fieldViolations[0].field' "$tmp/body")" \
        "the gateway names the indexed field"

    status=$(gw ActivityService/ListActivities "{\"accountId\":\"$acc\",\"kind\":\"DEMO\"}")
    assert_eq 200 "$status" "ListActivities through the gateway"
    assert_eq "Portal demo" "$(jq -r '.activities[0].subject' "$tmp/body")" "the demo is listed"

    status=$(gw ActivityService/GetAccountTimeline \
        "{\"accountId\":\"$acc\",\"types\":[\"TIMELINE_ACTIVITY\"],\"pageSize\":2}")
    assert_eq 200 "$status" "GetAccountTimeline through the gateway"
    assert_eq TIMELINE_ACTIVITY "$(jq -r '.entries[0].type' "$tmp/body")" "entry types by name"
    [ -n "$(jq -r '.nextPageToken // empty' "$tmp/body")" ] && ok "the timeline has a next page" ||
        not_ok "the timeline has a next page" "$(cat "$tmp/body")"

    status=$(gw StakeholderService/GetCoverage "{\"accountId\":\"$acc\",\"windowDays\":3650}")
    assert_eq 200 "$status" "GetCoverage through the gateway"
    assert_eq SALES "$(jq -r '.cells[0].department' "$tmp/body")" "coverage cells name departments"
fi

done_testing
