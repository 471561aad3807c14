#!/usr/bin/env bash
# The account view's acceptance scenario, scripted through the CLI as a user
# would run it: a university account with stakeholders at three levels and a
# contract from 2026-01-15; its lifecycle stage on the days the issue names;
# churn without renewal and handover again once a new contract is signed; the
# month-end tier evaluation proposing a tier with its reasons; approval
# recording the tier history.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER
cli_login_admin >/dev/null
run=u$$r$RANDOM

acct=$(cli_new_account "University of Northfield $run" --industry "higher education" \
    --size large --selling-mode enterprise --business-model solution)
ok "a university account is created (id $acct)"

# ---- stakeholders at three levels -------------------------------------------------

president=$(cli -o json stakeholder create --account "$acct" --name "Dr. Ada Rector" \
    --level executive --title President --attitude supporter --influence 5 | jq -r .id)
cio=$(cli -o json stakeholder create --account "$acct" --name "Ben Cio" --level director \
    --title CIO --attitude champion --influence 4 --reports-to "$president" | jq -r .id)
admin=$(cli -o json stakeholder create --account "$acct" --name "Cy Admin" --level staff \
    --title "IT administrator" --reports-to "$cio" | jq -r .id)
levels=$(cli -o json stakeholder list --account "$acct" | jq -r '[.stakeholders[].level] | sort | join(",")')
assert_eq "DIRECTOR,EXECUTIVE,STAFF" "$levels" "stakeholders at the three levels"
assert_eq "$cio" "$(cli -o json stakeholder get "$admin" | jq -r .reportsToId)" \
    "the relationship map: the administrator reports to the CIO"

# ---- a contract from 2026-01-15 and the computed lifecycle ---------------------------

cli contract create --account "$acct" --start 2026-01-15 --end 2027-01-14 \
    --value 12000000 --currency EUR --product "campus platform" >/dev/null
stage() { cli -o json account lifecycle "$acct" --as-of "$1" | jq -r .stage; }
assert_eq ONBOARDING "$(stage 2026-02-10)" "onboarding on 2026-02-10"
assert_eq ADOPTION "$(stage 2026-06-01)" "adoption on 2026-06-01"
assert_eq RENEWAL "$(stage 2026-11-01)" "renewal on 2026-11-01"
assert_eq CHURNED "$(stage 2027-02-01)" "churned on 2027-02-01 without a renewal"
check "the lifecycle timeline prints as a table" cli account lifecycle "$acct" --as-of 2026-06-01
assert_contains "$last_output" "adoption    2026-03-15" "the table shows the timeline of stages"

# ---- the month-end tier evaluation and its approval ----------------------------------

for d in 2026-03-02 2026-05-12 2026-07-08 2026-09-15 2026-11-03; do
    cli activity create --account "$acct" --kind meeting --subject "Steering meeting $d" \
        --at "${d}T10:00:00Z" --stakeholder "$cio" --stakeholder "$president" >/dev/null
done
json=$(cli -o json tier evaluate --as-of 2026-11-30 --account "$acct")
proposal=$(jq -r '.proposals[0].id // empty' <<<"$json")
[ -n "$proposal" ] || fail "the month-end evaluation proposed no tier: $json"
assert_eq TIER_A "$(jq -r '.proposals[0].proposedTier' <<<"$json")" \
    "the evaluation as of 2026-11-30 proposes tier A (value and engagements meet A, not S)"
reasons=$(jq -r '.proposals[0].reasons | join("\n")' <<<"$json")
assert_contains "$reasons" "annual value" "the proposal gives the contract value as a reason"
assert_contains "$reasons" "engagements" "the proposal gives the engagement count as a reason"
check "a manager approves the proposal" cli tier approve "$proposal" --reason "month-end review"
assert_eq TIER_A "$(cli -o json account get "$acct" | jq -r .tier)" "the account is now tier A"
hist=$(cli -o json tier history "$acct")
assert_eq TIER_A "$(jq -r '.changes[0].toTier' <<<"$hist")" "the tier history records the change"
assert_eq "$proposal" "$(jq -r '.changes[0].proposalId' <<<"$hist")" "and the proposal it came from"

# ---- a new contract: handover again ---------------------------------------------------

cli contract create --account "$acct" --start 2027-03-01 --end 2028-02-29 \
    --value 13000000 --currency EUR >/dev/null
assert_eq HANDOVER "$(stage 2027-02-01)" "a new contract signed: handover again on 2027-02-01"
assert_eq ONBOARDING "$(stage 2027-03-15)" "and onboarding once it starts"

# ---- the timeline shows what happened ----------------------------------------------------

types=$(cli -o json account timeline "$acct" --all | jq -r '[.entries[].type] | unique | join(",")')
assert_contains "$types" "TIMELINE_ACTIVITY" "the timeline holds the activities"
assert_contains "$types" "TIMELINE_TIER_CHANGE" "the timeline holds the tier change"
assert_contains "$types" "TIMELINE_AUDIT" "the timeline holds audit highlights"
done_testing
