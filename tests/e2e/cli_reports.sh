#!/usr/bin/env bash
# The account monthly report end to end: `concord report monthly ACCOUNT [--month YYYY-MM]`
# in table output (one titled section per part of the report) and -o json (the MonthlyReport
# in proto3 JSON), its exit codes (a bad month, an account outside the caller's team, a
# missing argument); then the same method through the gateway with curl (camelCase names,
# enums by name, int64 as strings, an error naming `month`). Needs jq and curl.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
command -v curl >/dev/null || fail "curl is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER

# Names carry a per-run tag: the database is shared with other tests and runs.
run=r$$x$RANDOM
pw="reports-password-$run"


check "admin login" cli_login_admin
for who in "csm success" "out rnd"; do
    read -r name dept <<<"$who"
    check "user create $name$run" cli user create --username "$name$run" --display-name "$name" \
        --department "$dept" --role member --password-stdin <<<"$pw"
done
csm=$(cli_new_profile)
out=$(cli_new_profile)
check "csm login" cli_as "$csm" login --user "csm$run" --password-stdin <<<"$pw"
check "outsider login" cli_as "$out" login --user "out$run" --password-stdin <<<"$pw"
csm_id=$(cli_as "$csm" -o json whoami | jq -r '.user.id')

# An account with a contract, two stakeholders and activities in October 2026 (UTC).
acc=$(cli -o json account create --allow-similar-name --name "Report College $run" \
    --industry "Reports $run" | jq -r .id)
[ -n "$acc" ] && [ "$acc" != null ] || fail "the account was created" "$acc"
check "team add (read)" cli team add "$acc" --user "$csm_id" --role customer-success-manager \
    --access read
check "contract create" cli contract create --account "$acc" --start 2026-01-15 \
    --end 2027-01-14 --value 2400000 --currency EUR --product Campus
dean=$(cli -o json stakeholder create --account "$acc" --name "Dean $run" --level executive |
    jq -r .id)
clerk=$(cli -o json stakeholder create --account "$acc" --name "Clerk $run" --level staff |
    jq -r .id)
act() { cli activity create --account "$acc" --kind "$1" --subject "$2" --at "$3" "${@:4}"; }
check "meeting on the first second" act meeting "Kick-off" 2026-10-01T00:00:00Z --stakeholder "$dean"
check "call" act call "Check-in" 2026-10-14T10:00:00+02:00 --stakeholder "$dean" --stakeholder "$clerk"
check "training" act training "Admin training" 2026-10-22T09:00:00Z
# 23:30 on 31 October at UTC-02:00 is 1 November 01:30 UTC: not October.
check "demo after the month in UTC" act demo "Roadmap demo" 2026-10-31T23:30:00-02:00
check "event create" cli event create --scope account --account "$acc" --title "Founding day" \
    --date 1990-11-03 --yearly --category anniversary

# ---- -o json -----------------------------------------------------------------------------------

json=$(cli_as "$csm" -o json report monthly "$acc" --month 2026-10)
assert_eq "$acc" "$(jq -r .account.id <<<"$json")" "the report names the account"
assert_eq 2026-10 "$(jq -r .period.month <<<"$json")" "period.month"
assert_eq 2026-10-01 "$(jq -r .period.firstDay <<<"$json")" "period.firstDay in camelCase"
assert_eq 2026-10-31 "$(jq -r .period.lastDay <<<"$json")" "period.lastDay"
assert_eq 3 "$(jq -r .activities.total <<<"$json")" "three activities in October (UTC)"
assert_eq '[{"kind":"MEETING","count":1},{"kind":"CALL","count":1},{"kind":"TRAINING","count":1}]' \
    "$(jq -c .activities.byKind <<<"$json")" "counted by kind, enums by name"
assert_eq "Dean $run:2,Clerk $run:1" \
    "$(jq -r '[.stakeholdersContacted[] | "\(.name):\(.contacts)"] | join(",")' <<<"$json")" \
    "stakeholders contacted, executives first"
assert_eq RENEWAL "$(jq -r .account.stage <<<"$json")" "the stage on 2026-10-31"
assert_eq 1 "$(jq '.activeContracts | length' <<<"$json")" "one active contract at month end"
assert_eq '"2400000"' "$(jq -c '.activeContracts[0].annualValueMinor' <<<"$json")" \
    "int64 as a string"
assert_eq 2027-01-14 "$(jq -r .nextRenewal.endDate <<<"$json")" "the next renewal date"
assert_eq 75 "$(jq -r .nextRenewal.daysAfterMonth <<<"$json")" "75 days after the month"
assert_eq 2026-11-03 "$(jq -r '.nextMonthEvents[0].occurrenceDate' <<<"$json")" \
    "the yearly event's occurrence next month"
assert_eq "csm$run" "$(jq -r '.team[0].username' <<<"$json")" "the team"
nov=$(cli -o json report monthly "$acc" --month 2026-11)
assert_eq '[{"kind":"DEMO","count":1}]' "$(jq -c .activities.byKind <<<"$nov")" \
    "the demo falls in November"

# ---- table output ------------------------------------------------------------------------------

check "report monthly (table)" cli_as "$csm" report monthly "$acc" --month 2026-10
table=$last_output
assert_contains "$table" "Monthly report 2026-10: Report College $run (account $acc)" "a title line"
assert_contains "$table" "Period: 2026-10-01 to 2026-10-31 (UTC)" "the period"
assert_contains "$table" "stage:     renewal" "the stage at month end"
assert_contains "$table" "Activities: 3" "the activity total heads its section"
for section in "Stakeholders contacted" "Stage changes" "Tier changes" \
    "Contracts active at month end" "Next renewal (within 90 days after the month)" \
    "Key events next month" "Account team"; do
    assert_contains "$table" "$section" "a section: $section"
done
assert_contains "$table" "2027-01-14: contract" "the renewal line"
assert_contains "$table" "Founding day" "next month's event"
assert_match_line() {
    if printf '%s\n' "$table" | grep -qE "$1"; then ok "$2"; else not_ok "$2" "$table"; fi
}
assert_match_line "^training +1 *$" "a row per kind (KIND COUNT)"
assert_match_line "^$clerk +Clerk $run +staff +1 " "the clerk's contact row"

# ---- exit codes --------------------------------------------------------------------------------

expect_exit 2 cli report monthly "$acc" --month 2026-13
assert_contains "$last_output" "month" "an invalid month names the field"
expect_exit 4 cli_as "$out" report monthly "$acc" --month 2026-10
assert_contains "$last_output" "NOT_FOUND" "outside the team the account is not found"
expect_exit 2 cli report monthly
check "default month" cli -o json report monthly "$acc"
want=$(date -u -d "$(date -u +%Y-%m-01) -1 month" +%Y-%m)
assert_eq "$want" "$(jq -r .period.month <<<"$last_output")" "the default is the previous month"

# ---- the gateway -------------------------------------------------------------------------------

if [ -z "${CONCORD_GATEWAY_URL:-}" ]; then
    skip "gateway checks" "the environment has no gateway"
    done_testing
fi
token=$(cli_as "$csm" token create --name "reports $run" 2>/dev/null)
tmp=$(test_tmpdir)
# gw JSON: sets $status and $body.
gw() {
    status=$(curl -sS --cacert "$CONCORD_CA" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -o "$tmp/b" -w '%{http_code}' \
        "$CONCORD_GATEWAY_URL/concord.v1.ReportService/GetMonthlyReport" --data-binary "$1") ||
        status=000
    body=$(cat "$tmp/b")
}
gw "{\"accountId\":\"$acc\",\"month\":\"2026-10\"}"
assert_eq 200 "$status" "GetMonthlyReport through the gateway"
assert_eq 3 "$(jq -r .activities.total <<<"$body")" "activities.total"
assert_eq MEETING "$(jq -r '.activities.byKind[0].kind' <<<"$body")" "enums by name"
assert_eq 2026-10-31 "$(jq -r .period.lastDay <<<"$body")" "period.lastDay in camelCase"
assert_eq EXECUTIVE "$(jq -r '.stakeholdersContacted[0].level' <<<"$body")" \
    "stakeholdersContacted in camelCase"
assert_eq '"2400000"' "$(jq -c '.activeContracts[0].annualValueMinor' <<<"$body")" \
    "int64 as a string"
assert_eq "$(jq -S . <<<"$json" | jq -S 'del(.generateTime)')" \
    "$(jq -S 'del(.generateTime)' <<<"$body")" "the gateway's JSON is the CLI's JSON"
gw "{\"accountId\":\"$acc\",\"month\":\"2026-13\"}"
assert_eq 400 "$status" "an invalid month is 400"
assert_eq invalid_argument "$(jq -r .code <<<"$body")" "and invalid_argument"
assert_eq month "$(jq -r '.fieldViolations[0].field' <<<"$body")" "naming month"
out_token=$(cli_as "$out" token create --name "reports out $run" 2>/dev/null)
status=$(curl -sS --cacert "$CONCORD_CA" -H "Authorization: Bearer $out_token" \
    -H 'Content-Type: application/json' -o "$tmp/b" -w '%{http_code}' \
    "$CONCORD_GATEWAY_URL/concord.v1.ReportService/GetMonthlyReport" \
    --data-binary "{\"accountId\":\"$acc\",\"month\":\"2026-10\"}") || status=000
assert_eq 404 "$status" "outside the team the gateway answers 404"

done_testing
