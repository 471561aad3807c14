#!/usr/bin/env bash
# Account tiers end to end, as a manager meets them through the concord CLI and a script
# through the gateway: rules, the month-end style evaluation as of 2026-11-30 (dry run and
# stored), proposals, approval, rejection, overrides, the tier history, who may do what,
# and the exit codes. Needs jq and curl.
#
# Tier rules are global and the database is shared with other tests: every rule made here
# is one that no account can meet, and stored evaluations name this script's account.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
command -v curl >/dev/null || fail "curl is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER

run=t$$r$RANDOM
tmp=$(test_tmpdir)
err=$tmp/err

# A second configuration folder, to act as a member of staff.
alt=$(cli_new_profile)
alt_cli() { cli_as "$alt" "$@"; }

# Number of data rows of a table on stdin (the header excluded).
rows() { tail -n +2 | grep -c . || true; }

check "login" cli_login_admin

# ---- an account worth tier S ------------------------------------------------------------------
# 120000.00 EUR live on 2026-11-30, stakeholders at three levels, 12 meetings in the year.

acc=$(cli -o json account create --name "$run Tier University" --industry "higher education" |
    jq -r '.id // empty') || true
[ -n "$acc" ] || fail "account create"
check "contract create" cli contract create --account "$acc" --start 2026-01-15 --end 2027-01-14 \
    --value 12000000 --currency EUR
for level in executive director staff; do
    check "stakeholder create ($level)" cli stakeholder create --account "$acc" \
        --name "$level $run" --level "$level"
done
for m in 01 02 03 04 05 06 07 08 09 10 11; do
    cli activity create --account "$acc" --kind meeting --subject "Review $m" \
        --at "2026-$m-05T10:00:00Z" >/dev/null || not_ok "activity create 2026-$m-05"
done
check "activity create (the as-of day)" cli activity create --account "$acc" --kind visit \
    --subject "Campus visit" --at "2026-11-30T15:00:00Z"

# ---- rules ------------------------------------------------------------------------------------

check "tier rules" cli tier rules
assert_contains "$(head -n 1 <<<"$last_output")" "ENGAGEMENTS" "the rules table has a header"
assert_contains "$last_output" "Strategic" "the default S rule is listed"
n=$(cli -o json tier rules | jq '.rules | length') || true
[ "${n:-0}" -ge 2 ] && ok "tier rules -o json lists the rules" || not_ok "tier rules -o json" "$n"
assert_eq TIER_S "$(cli -o json tier rules | jq -r '.rules[0].tier')" "S rules come first"

expect_exit 2 cli tier rule create --tier B --name "$run bad"
assert_contains "$last_output" "rule.tier" "a B rule names rule.tier"
expect_exit 2 cli tier rule create --tier A --name "$run bad" --min-value 100
assert_contains "$last_output" "rule.currency" "a value without currency names rule.currency"
expect_exit 2 cli tier rule create --tier A
assert_contains "$last_output" "--name" "create without --name is a usage error"
expect_exit 2 cli tier rule create --id 1 --tier A --name x
expect_exit 2 cli tier rule frobnicate

json=$(cli -o json tier rule create --tier A --name "$run unreachable" \
    --min-stakeholders 1000000) || true
rid=$(jq -r '.id // empty' <<<"$json")
[ -n "$rid" ] && ok "tier rule create -o json has an id" || not_ok "tier rule create" "$json"
assert_eq '"1"|true' "$(jq -c '.version' <<<"$json")|$(jq -c '.active' <<<"$json")" \
    "a new rule is active at version 1"
check "tier rule update" cli tier rule update --id "$rid" --version 1 --inactive --min-engagements 3
[[ "$last_output" =~ version:\ +2 ]] && ok "update shows the new version" ||
    not_ok "update shows the new version" "$last_output"
out=$(cli -o json tier rules --include-inactive | jq -c --arg id "$rid" \
    '.rules[] | select(.id == $id) | [(.active // false), .minEngagements, .minStakeholders]'
) || true
assert_eq '[false,3,1000000]' "$out" "update changes exactly the fields given"
assert_not_contains "$(cli tier rules)" "$run unreachable" "inactive rules are hidden by default"
expect_exit 5 cli tier rule update --id "$rid" --version 1 --active
assert_contains "$last_output" "ABORTED" "a stale version is ABORTED"
expect_exit 2 cli tier rule update --id "$rid" --version 2
assert_contains "$last_output" "nothing to change" "update without fields is a usage error"

# ---- evaluation -------------------------------------------------------------------------------

check "tier evaluate --as-of 2026-11-30 --dry-run" cli tier evaluate --as-of 2026-11-30 --dry-run
assert_contains "$last_output" "CURRENT  PROPOSED  REASONS" "evaluate prints a table"
assert_contains "$last_output" "$acc" "the account is proposed"
assert_contains "$last_output" "dry run: nothing stored" "a dry run says it stored nothing"

out=$(cli tier evaluate --as-of 2026-11-30 --dry-run --account "$acc" 2>"$err") || true
assert_eq "$acc" "$(sed -n 2p <<<"$out" | awk '{print $1}')" "the row starts with the account"
assert_contains "$out" "S: annual value 120000.00 EUR >= 100000.00 EUR: met" "the value reason"
assert_contains "$out" "S: engagements 12 >= 12: met" "the engagement reason"
assert_contains "$out" "S: stakeholder levels 3 >= 3: met" "the coverage reason"
assert_contains "$(cat "$err")" "evaluated 1 account as of 2026-11-30: 1 proposal" "the summary"
json=$(cli -o json tier evaluate --as-of 2026-11-30 --dry-run --account "$acc") || true
assert_eq "TIER_S|1|" "$(jq -r '[.proposals[0].proposedTier, .evaluated, (.evaluationId // "")]
    | join("|")' <<<"$json")" \
    "-o json: proposed S, one evaluated, no evaluation stored"
assert_eq 0 "$(cli tier proposals --account "$acc" | rows)" "a dry run stores no proposal"

expect_exit 2 cli tier evaluate --as-of 2026-02-30 --dry-run
assert_contains "$last_output" "as_of" "a bad date names as_of"

json=$(cli -o json tier evaluate --as-of 2026-11-30 --account "$acc") || true
pid=$(jq -r '.proposals[0].id // empty' <<<"$json")
[ -n "$pid" ] && ok "a stored evaluation gives the proposal an id" ||
    not_ok "a stored evaluation gives the proposal an id" "$json"
[ -n "$(jq -r '.evaluationId // empty' <<<"$json")" ] && ok "the evaluation has an id" ||
    not_ok "the evaluation has an id" "$json"
check "tier proposals --status pending" cli tier proposals --status pending --account "$acc"
assert_eq 1 "$(rows <<<"$last_output")" "one pending proposal"
assert_contains "$last_output" "pending" "the table shows the status"
assert_eq "$pid|PENDING" "$(cli -o json tier proposals --account "$acc" |
    jq -r '.proposals[0] | .id + "|" + .status')" "proposals -o json"

# ---- decisions, overrides, history ------------------------------------------------------------

expect_exit 2 cli tier reject "$pid"
assert_contains "$last_output" "--reason" "reject needs --reason"
check "tier approve" cli tier approve "$pid"
assert_contains "$last_output" "is now tier S" "approve says what it did"
assert_eq TIER_S "$(cli -o json account get "$acc" | jq -r .tier)" "the account is tier S"
expect_exit 5 cli tier approve "$pid"
assert_contains "$last_output" "FAILED_PRECONDITION" "a decided proposal cannot be decided again"

check "tier history" cli tier history "$acc"
assert_eq 1 "$(rows <<<"$last_output")" "history has one change"
assert_eq "TIER_S|$pid" "$(cli -o json tier history "$acc" |
    jq -r '.changes[0] | .toTier + "|" + .proposalId')" "history -o json links the proposal"

expect_exit 2 cli tier override "$acc" --tier A
assert_contains "$last_output" "--reason" "override needs --reason"
expect_exit 2 cli tier override "$acc" --tier X --reason "no such tier"
check "tier override" cli tier override "$acc" --tier A --reason "board decision"
assert_eq TIER_A "$(cli -o json account get "$acc" | jq -r .tier)" "the override applied A"
expect_exit 5 cli tier override "$acc" --tier a --reason "again"

pid2=$(cli -o json tier evaluate --as-of 2026-11-30 --account "$acc" |
    jq -r '.proposals[0].id') || true
check "tier reject" cli tier reject "$pid2" --reason "keep A until the renewal"
assert_contains "$last_output" "stays tier A" "reject keeps the tier"
pid3=$(cli -o json tier evaluate --as-of 2026-11-30 --account "$acc" |
    jq -r '.proposals[0].id') || true
check "tier approve --tier B" cli tier approve "$pid3" --tier B --reason "downgrade after audit"
assert_contains "$last_output" "Overrode proposal $pid3" "approve --tier overrides"
assert_eq "OVERRIDDEN|TIER_B" "$(cli -o json tier proposals --account "$acc" |
    jq -r --arg id "$pid3" '.proposals[] | select(.id == $id) | .status + "|" + .decidedTier')" \
    "the proposal records the override"
assert_eq "TIER_B,TIER_A,TIER_S" "$(cli -o json tier history "$acc" |
    jq -r '[.changes[].toTier] | join(",")')" "history is newest first"
assert_eq 1 "$(cli tier history "$acc" --page-size 1 2>"$err" | rows)" "history pages"
assert_contains "$(cat "$err")" "more: --page-token" "history hints the next page"

# ---- who may do what --------------------------------------------------------------------------

uname=$(tr 'A-Z' 'a-z' <<<"m$run")
check "user create (member)" cli user create --username "$uname" --display-name "Tier Member" \
    --department delivery --role member --password-stdin <<<"pw-$run-long-enough"
check "member login" alt_cli login --user "$uname" --password-stdin <<<"pw-$run-long-enough"
expect_exit 3 alt_cli tier evaluate --as-of 2026-11-30 --dry-run
assert_contains "$last_output" "PERMISSION_DENIED" "members cannot evaluate"
expect_exit 3 alt_cli tier approve "$pid3"
expect_exit 4 alt_cli tier history "$acc"
expect_exit 4 alt_cli tier proposals --account "$acc"
assert_not_contains "$(alt_cli tier proposals)" "$run Tier University" \
    "members see no proposals of accounts they cannot see"
check "members may read the rules" alt_cli tier rules

# ---- the gateway ------------------------------------------------------------------------------

if [ -z "${CONCORD_GATEWAY_URL:-}" ]; then
    skip "gateway checks" "the environment has no gateway"
    done_testing
fi
token=$(cli token create --name "tiers $run" 2>/dev/null) || true
[ -n "$token" ] || fail "token create"
gw() {
    status=$(curl -sS --cacert "$CONCORD_CA" -o "$tmp/body" -w '%{http_code}' \
        -H "Authorization: Bearer $token" -H 'Content-Type: application/json' \
        "$CONCORD_GATEWAY_URL/concord.v1.TierService/$1" -d "$2") || status=000
    body=$(cat "$tmp/body")
}

gw ListTierRules '{}'
assert_eq 200 "$status" "ListTierRules over the gateway"
assert_eq "TIER_S|string|number" "$(jq -r '.rules[0] | [.tier, (.minAnnualValueMinor | type),
    (.minEngagements | type)] | join("|")' <<<"$body")" "enums by name, int64 as strings"

gw CreateTierRule "{\"rule\": {\"tier\": \"TIER_A\", \"name\": \"$run gateway\",
    \"minStakeholders\": 1000000, \"minIcpTotal\": 25}}"
assert_eq 200 "$status" "CreateTierRule over the gateway"
assert_eq '["1",true,25]' "$(jq -c '[.version, .active, .minIcpTotal]' <<<"$body")" \
    "the created rule in proto3 JSON"
gid=$(jq -r .id <<<"$body")
gw UpdateTierRule "{\"rule\": {\"id\": \"$gid\", \"active\": false}, \"updateMask\": \"active\",
    \"version\": \"1\"}"
assert_eq 200 "$status" "UpdateTierRule deactivates the gateway's rule"

gw CreateTierRule '{"rule": {"tier": "TIER_A", "name": "x", "minAnnualValueMinor": "100"}}'
assert_eq 400 "$status" "a value without currency is 400"
assert_eq "invalid_argument|rule.currency" \
    "$(jq -r '.code + "|" + .fieldViolations[0].field' <<<"$body")" \
    "the error names rule.currency"

gw EvaluateTiers "{\"asOf\": \"2026-11-30\", \"dryRun\": true, \"accountId\": \"$acc\"}"
assert_eq 200 "$status" "EvaluateTiers over the gateway"
assert_eq "TIER_B|TIER_S|1" "$(jq -r '[.proposals[0].currentTier, .proposals[0].proposedTier,
    .evaluated] | join("|")' <<<"$body")" "the dry run proposes S for the B account"
assert_contains "$(jq -r '.proposals[0].reasons | join("\n")' <<<"$body")" \
    "S: engagements 12 >= 12: met" "reasons over the gateway"

gw ListTierHistory "{\"accountId\": \"$acc\"}"
assert_eq 200 "$status" "ListTierHistory over the gateway"
assert_eq 3 "$(jq '.changes | length' <<<"$body")" "three changes"
[[ "$(jq -r '.changes[0].changeTime' <<<"$body")" =~ ^20[0-9-]+T[0-9:.]+Z$ ]] &&
    ok "timestamps are RFC 3339" || not_ok "timestamps are RFC 3339" "$body"

gw ListTierProposals "{\"accountId\": \"$acc\", \"status\": \"REJECTED\"}"
assert_eq "$pid2|keep A until the renewal" \
    "$(jq -r '.proposals[0] | .id + "|" + .decisionReason' <<<"$body")" \
    "ListTierProposals filters by status"

done_testing
