#!/usr/bin/env bash
# Contracts, the lifecycle, renewals, the stage refresh and handovers through the concord
# CLI and the gateway, as a user and a script meet them: the acceptance scenario's lifecycle
# (a university account with a contract from 2026-01-15: onboarding, adoption, renewal,
# churned, and handover again once a new contract is added), table and JSON output, versions,
# exit codes, ownership moving with an acknowledged handover, and Connect JSON calls with the
# proto3 mapping and a field violation. Needs jq and curl.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
command -v curl >/dev/null || fail "curl is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER

run=k$$r$RANDOM
lower_run=$(tr 'A-Z' 'a-z' <<<"$run")

# Other people, each with a configuration folder of their own.
csm_dir=$(cli_new_profile)
out_dir=$(cli_new_profile)
csm_cli() { cli_as "$csm_dir" "$@"; }
out_cli() { cli_as "$out_dir" "$@"; }

rows() { tail -n +2 | grep -c . || true; }
# renewal_field JSON CONTRACT_ID FIELD: a field of the contract's renewal, "" when absent.
renewal_field() {
    jq -r --arg k "$2" ".renewals[]? | select(.contract.id == \$k) | .$3" <<<"$1"
}

check "login" cli_login_admin

# ---- the acceptance scenario: a university account and its lifecycle ----------------------

acc=$(cli -o json account create --name "$run University" --industry "higher education" \
    --size large --allow-similar-name | jq -r '.id // empty') || true
[ -n "$acc" ] || fail "account create gives an id"
ok "a university account"

json=$(cli -o json contract create --account "$acc" --start 2026-01-15 --end 2027-01-14 \
    --value 1200000 --currency EUR --product "Campus LMS" --product Analytics) || true
k1=$(jq -r '.id // empty' <<<"$json" 2>/dev/null || true)
[ -n "$k1" ] || fail "contract create -o json has an id" "$json"
ok "contract create -o json has an id"
assert_eq '"1200000"' "$(jq -c .annualValueMinor <<<"$json")" "the value is an int64 string"
assert_eq CONTRACT_ACTIVE "$(jq -r .status <<<"$json")" "a new contract is active"
assert_eq "Campus LMS,Analytics" "$(jq -r '.products | join(",")' <<<"$json")" "products"
assert_eq 2026-01-15 "$(jq -r .startDate <<<"$json")" "startDate"

for pair in 2026-02-10:ONBOARDING 2026-06-01:ADOPTION 2026-11-01:RENEWAL 2027-02-01:CHURNED; do
    day=${pair%%:*}
    want=${pair#*:}
    got=$(cli -o json account lifecycle "$acc" --as-of "$day" | jq -r .stage) || true
    assert_eq "$want" "$got" "the stage on $day is $want"
done

check "account lifecycle (table)" cli account lifecycle "$acc" --as-of 2026-06-01
assert_contains "$last_output" "is in adoption as of 2026-06-01" "the table names the stage"
assert_contains "$last_output" "STAGE       FROM        TO          CONTRACT" "a timeline table"
assert_contains "$last_output" "onboarding  2026-01-15  2026-03-14  $k1" "onboarding stretch"
assert_contains "$last_output" "renewal     2026-10-15  2027-01-14  $k1" "renewal stretch"
assert_contains "$last_output" "Recorded changes:" "the recorded history follows"
tl=$(cli -o json account lifecycle "$acc" --as-of 2026-06-01) || true
assert_eq 4 "$(jq '.timeline | length' <<<"$tl")" "-o json has the timeline"
assert_eq "ONBOARDING,ADOPTION,RENEWAL,CHURNED" \
    "$(jq -r '[.timeline[].stage] | join(",")' <<<"$tl")" "the timeline's stages in order"
assert_eq "2026-06-01" "$(jq -r .asOf <<<"$tl")" "asOf"

# A new contract: handover again.
k2=$(cli -o json contract create --account "$acc" --start 2027-03-01 --end 2028-02-29 \
    --value 1300000 --currency EUR | jq -r '.id // empty') || true
[ -n "$k2" ] && ok "a new contract" || not_ok "a new contract"
assert_eq HANDOVER "$(cli -o json account lifecycle "$acc" --as-of 2027-02-01 | jq -r .stage)" \
    "with a new contract, 2027-02-01 is handover"
assert_eq ONBOARDING "$(cli -o json account lifecycle "$acc" --as-of 2027-03-01 | jq -r .stage)" \
    "the new contract's first day is onboarding"
check "lifecycle shows the handover stretch" cli account lifecycle "$acc" --as-of 2027-02-01
assert_contains "$last_output" "handover    2026-10-15  2027-02-28  $k2" "the handover stretch"

expect_exit 2 cli account lifecycle "$acc" --as-of 2026-02-30
assert_contains "$last_output" "as_of" "a bad as-of day names as_of"

# The stored stage is today's.
today_stage=$(cli -o json account lifecycle "$acc" | jq -r .stage) || true
assert_eq "$today_stage" "$(cli -o json account get "$acc" | jq -r .stage)" \
    "accounts.stage is the stage as of today"

# ---- contracts: get, list, update, cancel ----------------------------------------------------

check "contract get" cli contract get "$k1"
assert_contains "$last_output" "start_date:" "get is a detail view"
assert_contains "$last_output" "Campus LMS, Analytics" "get shows the products"
check "contract list" cli contract list --account "$acc"
assert_eq 2 "$(rows <<<"$last_output")" "list shows both contracts"
assert_contains "$(head -n 1 <<<"$last_output")" "START" "the list has a header"
ids=$(cli -o json contract list --account "$acc" | jq -r '[.contracts[].id] | join(",")') || true
assert_eq "$k2,$k1" "$ids" "newest start first"
page=$(cli -o json contract list --account "$acc" --page-size 1) || true
assert_eq 1 "$(jq '.contracts | length' <<<"$page")" "--page-size 1"
page=$(cli -o json contract list --account "$acc" --page-size 1 --all) || true
assert_eq 2 "$(jq '.contracts | length' <<<"$page")" "--all follows the pages"

out=$(cli -o json contract update "$k2" --version 1 --value 1400000 --product Analytics) || true
assert_eq '"1400000"' "$(jq -c .annualValueMinor <<<"$out")" "update changes the value"
assert_eq '"2"' "$(jq -c .version <<<"$out")" "update bumps the version"
assert_eq 2027-03-01 "$(jq -r .startDate <<<"$out")" "update leaves other fields alone"
expect_exit 5 cli contract update "$k2" --version 1 --value 1
assert_contains "$last_output" "ABORTED" "a stale version is ABORTED"
expect_exit 2 cli contract update "$k2" --version 2
assert_contains "$last_output" "nothing to change" "update without fields is a usage error"
expect_exit 2 cli contract update "$k2" --version 2 --end 2027-01-01
assert_contains "$last_output" "contract.end_date" "an end before the start names the field"
expect_exit 2 cli contract create --account "$acc" --start 2026-01-15 --end 2027-01-14 \
    --value 1 --currency eur
assert_contains "$last_output" "contract.currency" "a bad currency names the field"
expect_exit 2 cli contract create --account "$acc" --start 2026-01-15 --end 2027-01-14 --value 1
assert_contains "$last_output" "--currency" "a missing required flag is named"
expect_exit 4 cli contract get 999999999999

k3=$(cli -o json contract create --account "$acc" --start 2029-01-01 --end 2029-12-31 \
    --value 5 --currency USD | jq -r '.id // empty') || true
check "contract cancel" cli contract cancel "$k3" --version 1
assert_contains "$last_output" "contract-cancelled" "cancel shows the status"
assert_not_contains "$(cli contract list --account "$acc")" "2029-01-01" \
    "cancelled contracts are left out"
assert_contains "$(cli contract list --account "$acc" --include-cancelled)" "2029-01-01" \
    "--include-cancelled shows them"
expect_exit 5 cli contract update "$k3" --version 2 --value 6

# ---- renewals -------------------------------------------------------------------------------

check "renewals --within 90d" cli renewals --within 90d --as-of 2026-12-01
assert_contains "$last_output" "$run University" "the contract ending 2027-01-14 is listed"
assert_contains "$(head -n 1 <<<"$last_output")" "DAYS" "renewals has a header"
r=$(cli -o json renewals --within 90 --as-of 2026-12-01) || true
assert_eq 44 "$(renewal_field "$r" "$k1" daysLeft)" "daysLeft from the as-of day"
assert_eq true "$(renewal_field "$r" "$k1" renewed)" "a later contract marks it renewed"
r=$(cli -o json renewals --within 30d --as-of 2026-12-01) || true
assert_eq "" "$(renewal_field "$r" "$k1" contract.id)" "outside a 30-day window"
expect_exit 2 cli renewals --within soon
expect_exit 2 cli renewals --within 731d
assert_contains "$last_output" "within_days" "the server's bound names within_days"

# ---- the stage refresh --------------------------------------------------------------------------

r=$(cli -o json stages refresh) || true
[ "$(jq -r '.accounts // 0' <<<"$r")" -ge 1 ] && ok "stages refresh examines accounts" ||
    not_ok "stages refresh examines accounts" "$r"
check "stages refresh (table)" cli stages refresh
assert_contains "$last_output" "accounts:" "refresh prints what it examined"

# ---- handovers ------------------------------------------------------------------------------

pw="pw-$run-long-enough"
check "a success user" cli user create --username "csm$lower_run" --display-name "CSM $run" \
    --department success --role member --password-stdin <<<"$pw"
check "an R&D user" cli user create --username "out$lower_run" --display-name "Out $run" \
    --department rnd --role member --password-stdin <<<"$pw"
users=$(cli -o json user list --all) || true
csm_id=$(jq -r --arg u "csm$lower_run" '.users[] | select(.username == $u) | .id' <<<"$users")
out_id=$(jq -r --arg u "out$lower_run" '.users[] | select(.username == $u) | .id' <<<"$users")
check "the CSM logs in" csm_cli login --user "csm$lower_run" --password-stdin <<<"$pw"
check "the outsider logs in" out_cli login --user "out$lower_run" --password-stdin <<<"$pw"

expect_exit 2 cli handover create --account "$acc" --to "$out_id" --commitments "x"
assert_contains "$last_output" "handover.to_user_id" "the receiver must be a success user"
h=$(cli -o json handover create --account "$acc" --to "$csm_id" --contract "$k2" \
    --commitments "Single sign-on by March" --stakeholders "Provost: champion" \
    --risks "Budget review in spring" | jq -r '.id // empty') || true
[ -n "$h" ] && ok "handover create" || not_ok "handover create"
check "handover get" cli handover get "$h"
assert_contains "$last_output" "Single sign-on by March" "get shows the commitments"
check "handover list --account" cli handover list --account "$acc"
assert_eq 1 "$(rows <<<"$last_output")" "the account has one handover"
check "the CSM's open handovers" csm_cli handover list
assert_contains "$last_output" "$acc" "the receiver sees the handover waiting"

expect_exit 3 cli handover acknowledge "$h"
assert_contains "$last_output" "PERMISSION_DENIED" "only the receiver acknowledges"
check "handover acknowledge" csm_cli handover acknowledge "$h"
assert_contains "$last_output" "acknowledge_time:" "the acknowledgement is shown"
expect_exit 5 csm_cli handover acknowledge "$h"
assert_eq "$csm_id" "$(cli -o json account get "$acc" | jq -r .ownerId)" \
    "the account's owner is now the CSM"
open=$(csm_cli -o json handover list) || true
assert_eq 0 "$(jq --arg h "$h" '[.handovers[]? | select(.id == $h)] | length' <<<"$open")" \
    "no longer waiting"

# ---- outsiders --------------------------------------------------------------------------------

expect_exit 4 out_cli account lifecycle "$acc"
expect_exit 4 out_cli contract get "$k1"
expect_exit 4 out_cli contract list --account "$acc"
expect_exit 4 out_cli handover get "$h"
assert_not_contains "$(out_cli renewals --within 730d --as-of 2026-12-01 2>&1)" "$run University" \
    "outsiders' renewals leave the account out"
expect_exit 3 out_cli stages refresh

# ---- the gateway: Connect JSON ----------------------------------------------------------------

if [ -z "${CONCORD_GATEWAY_URL:-}" ]; then
    skip "gateway checks" "the environment has no gateway"
else
    token=$(cli token create --name "contracts $run" 2>/dev/null) || true
    gw() {
        curl -sS --cacert "$CONCORD_CA" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' -o "$tmp/body" -w '%{http_code}' \
            "$CONCORD_GATEWAY_URL/concord.v1.ContractService/$1" -d "$2"
    }
    tmp=$(test_tmpdir)
    status=$(gw CreateContract "{\"contract\":{\"accountId\":\"$acc\",\"startDate\":\"2030-01-01\",
        \"endDate\":\"2030-12-31\",\"annualValueMinor\":\"990000\",\"currency\":\"CHF\",
        \"products\":[\"Research\"]}}") || true
    body=$(cat "$tmp/body")
    assert_eq 200 "$status" "gateway CreateContract answers 200"
    assert_eq '"990000"' "$(jq -c .annualValueMinor <<<"$body")" "int64 as a string"
    assert_eq CONTRACT_ACTIVE "$(jq -r .status <<<"$body")" "enums by name"
    assert_eq "$acc" "$(jq -r .accountId <<<"$body")" "camelCase names"
    gk=$(jq -r .id <<<"$body")

    status=$(gw ListContracts "{\"accountId\":\"$acc\"}") || true
    assert_eq 200 "$status" "gateway ListContracts answers 200"
    assert_eq 1 "$(jq --arg k "$gk" '[.contracts[] | select(.id == $k)] | length' "$tmp/body")" \
        "the list has the new contract"

    status=$(gw GetLifecycle "{\"accountId\":\"$acc\",\"asOf\":\"2027-02-01\"}") || true
    assert_eq HANDOVER "$(jq -r .stage "$tmp/body")" "gateway GetLifecycle"

    status=$(gw ListRenewals '{"withinDays":90,"asOf":"2026-12-01"}') || true
    assert_eq 200 "$status" "gateway ListRenewals answers 200"
    assert_eq 44 "$(renewal_field "$(cat "$tmp/body")" "$k1" daysLeft)" "renewals carry daysLeft"

    status=$(gw CreateContract "{\"contract\":{\"accountId\":\"$acc\",\"startDate\":\"2030-01-01\",
        \"endDate\":\"2030-12-31\",\"currency\":\"chf\"}}") || true
    assert_eq 400 "$status" "a bad currency is HTTP 400"
    assert_eq contract.currency "$(jq -r '.fieldViolations[0].field' "$tmp/body")" \
        "the violation names contract.currency"
fi

done_testing
