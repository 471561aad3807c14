#!/usr/bin/env bash
# The authorization matrix through concord-gateway (Connect JSON over HTTPS with bearer
# tokens from AuthService/Login): an account with a record in every area and a marker in
# its text; for a Get, a List and an Update (or Create) of every service, a member of R&D
# on no team and a manager of an uninvolved department get 404 or 403, or 200 with no trace
# of the account; lists over all accounts answer 200 without it; a READ team member reads
# (the marker is there) and is refused every write with 403; the account is unchanged
# afterwards. The same sweep over every method runs through the protocol in
# tests/integration/test_authz_matrix.c. Needs curl and jq.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
[ -n "${CONCORD_GATEWAY_URL:-}" ] || fail "the environment has no gateway (CONCORD_GATEWAY_URL is empty)"

tmp=$(test_tmpdir)
run=gz$$r$RANDOM
marker="SECRET-$run"
password=matrix-password-1

# call TOKEN METHOD JSON: sets $status and $body.
call() {
    status=$(curl -sS --cacert "$CONCORD_CA" -o "$tmp/body" -w '%{http_code}' \
        -H "Authorization: Bearer $1" -H 'Content-Type: application/json' \
        "$CONCORD_GATEWAY_URL/concord.v1.$2" --data-binary "$3") || status=000
    body=$(cat "$tmp/body")
}

# must TOKEN METHOD JSON: a call that has to succeed; prints the body.
must() {
    call "$@"
    [ "$status" = 200 ] || fail "$2 $3 answered $status: $body"
    printf '%s' "$body"
}

login() {
    local json
    json=$(jq -cn --arg u "$1" --arg p "$2" '{username: $u, password: $p}')
    status=$(curl -sS --cacert "$CONCORD_CA" -o "$tmp/login" -w '%{http_code}' \
        -H 'Content-Type: application/json' \
        "$CONCORD_GATEWAY_URL/concord.v1.AuthService/Login" --data-binary "$json") || true
    [ "$status" = 200 ] || fail "login $1 through the gateway answered $status: $(cat "$tmp/login")"
    jq -r .token "$tmp/login"
}

admin=$(login "$CONCORD_ADMIN_USER" "$CONCORD_ADMIN_PASSWORD")

# new_user NAME DEPARTMENT ROLE: prints the id.
new_user() {
    must "$admin" AuthService/CreateUser \
        "{\"user\":{\"username\":\"$1\",\"department\":\"$2\",\"role\":\"$3\"},\"password\":\"$password\"}" |
        jq -r .id
}

owner_id=$(new_user "gzowner$run" SALES MEMBER)
reader_id=$(new_user "gzreader$run" DELIVERY MEMBER)
new_user "gznon$run" RND MEMBER >/dev/null
new_user "gzmgr$run" SUCCESS MANAGER >/dev/null
owner=$(login "gzowner$run" "$password")
# The tokens below are picked by name in the sweep (${!who}).
# shellcheck disable=SC2034
reader=$(login "gzreader$run" "$password")
nonmember=$(login "gznon$run" "$password")
# shellcheck disable=SC2034
othermgr=$(login "gzmgr$run" "$password")

# ---- the account and its records (as the admin) --------------------------------------------

acc=$(must "$admin" AccountService/CreateAccount \
    "{\"account\":{\"name\":\"Gateway Matrix College $marker\",\"ownerId\":\"$owner_id\",
      \"notes\":\"$marker\"},\"allowSimilarName\":true}" | jq -r .id)
must "$admin" TeamService/AddTeamMember "{\"member\":{\"accountId\":\"$acc\",\"userId\":\"$reader_id\",
    \"teamRole\":\"DELIVERY_LEAD\",\"accessLevel\":\"READ\"}}" >/dev/null
contract=$(must "$admin" ContractService/CreateContract "{\"contract\":{\"accountId\":\"$acc\",
    \"startDate\":\"2026-01-15\",\"endDate\":\"2027-01-14\",\"annualValueMinor\":\"50000\",
    \"currency\":\"EUR\",\"products\":[\"$marker\"]}}" | jq -r .id)
stakeholder=$(must "$admin" StakeholderService/CreateStakeholder "{\"stakeholder\":{
    \"accountId\":\"$acc\",\"name\":\"Rae $marker\",\"level\":\"DIRECTOR\"}}" | jq -r .id)
activity=$(must "$admin" ActivityService/CreateActivity "{\"activity\":{\"accountId\":\"$acc\",
    \"kind\":\"CALL\",\"subject\":\"Call $marker\",\"occurTime\":\"2026-04-01T09:00:00Z\"}}" |
    jq -r .id)
event=$(must "$admin" KeyEventService/CreateKeyEvent "{\"event\":{\"scope\":\"ACCOUNT_EVENT\",
    \"title\":\"Jubilee $marker\",\"date\":\"2031-04-10\",\"accountId\":\"$acc\"}}" | jq -r .id)
# A tier change with a reason, then a proposal (no rule gives S to this contract).
must "$admin" TierService/OverrideTier \
    "{\"accountId\":\"$acc\",\"tier\":\"TIER_S\",\"reason\":\"$marker\"}" >/dev/null
must "$admin" TierService/EvaluateTiers "{\"accountId\":\"$acc\",\"asOf\":\"2026-06-30\"}" >/dev/null
# The owner's outreach task for the event (his call sees only his accounts).
must "$owner" KeyEventService/ListUpcomingEvents \
    '{"withinDays":30,"asOf":"2031-04-01","createTasks":true}' >/dev/null
must "$admin" ContractService/RefreshStages '{}' >/dev/null

version_of() { # METHOD JSON: the version in the admin's reply
    must "$admin" "$1" "$2" | jq -r .version
}
snapshot() {
    local m j
    for m in "AccountService/GetAccount {\"id\":\"$acc\"}" \
        "ContractService/ListContracts {\"accountId\":\"$acc\",\"includeCancelled\":true}" \
        "StakeholderService/ListStakeholders {\"accountId\":\"$acc\"}" \
        "ActivityService/ListActivities {\"accountId\":\"$acc\"}" \
        "KeyEventService/ListKeyEvents {\"accountId\":\"$acc\"}" \
        "TeamService/ListTeamMembers {\"accountId\":\"$acc\"}" \
        "KeyEventService/ListOutreachTasks {\"accountId\":\"$acc\"}" \
        "TierService/ListTierProposals {\"accountId\":\"$acc\"}" \
        "TierService/ListTierHistory {\"accountId\":\"$acc\"}"; do
        j=${m#* }
        must "$admin" "${m%% *}" "$j" | jq -cS .
    done
}
before=$(snapshot)

# ---- the calls -------------------------------------------------------------------------------

# kind METHOD JSON: read (one account's records), list (over every visible account), write.
calls=()
add() { calls+=("$1|$2|${3//$'\n'/ }"); }
add read AccountService/GetAccount "{\"id\":\"$acc\"}"
add list AccountService/ListAccounts "{\"query\":\"$marker\",\"includeTotal\":true}"
add list AccountService/FindSimilarAccounts "{\"name\":\"Gateway Matrix College $marker\"}"
add write AccountService/UpdateAccount "{\"account\":{\"id\":\"$acc\",\"notes\":\"changed\"},
    \"updateMask\":\"notes\",\"version\":\"@acc_version@\"}"
add read TeamService/ListTeamMembers "{\"accountId\":\"$acc\"}"
add write TeamService/UpdateTeamMember "{\"member\":{\"accountId\":\"$acc\",\"userId\":\"$reader_id\",
    \"accessLevel\":\"EDIT\"},\"updateMask\":\"access_level\"}"
add read ContractService/GetContract "{\"id\":\"$contract\"}"
add read ContractService/ListContracts "{\"accountId\":\"$acc\"}"
add list ContractService/ListRenewals '{"withinDays":90,"asOf":"2026-12-01","pageSize":500}'
add write ContractService/UpdateContract "{\"contract\":{\"id\":\"$contract\",\"currency\":\"USD\"},
    \"updateMask\":\"currency\",\"version\":\"@contract_version@\"}"
add read TierService/ListTierHistory "{\"accountId\":\"$acc\"}"
add read TierService/ListTierProposals "{\"accountId\":\"$acc\"}"
add write TierService/OverrideTier "{\"accountId\":\"$acc\",\"tier\":\"TIER_B\",\"reason\":\"no\"}"
add read StakeholderService/GetStakeholder "{\"id\":\"$stakeholder\"}"
add read StakeholderService/ListStakeholders "{\"accountId\":\"$acc\"}"
add write StakeholderService/UpdateStakeholder "{\"stakeholder\":{\"id\":\"$stakeholder\",
    \"title\":\"changed\"},\"updateMask\":\"title\",\"version\":\"@stakeholder_version@\"}"
add read ActivityService/GetActivity "{\"id\":\"$activity\"}"
add read ActivityService/ListActivities "{\"accountId\":\"$acc\"}"
add read ActivityService/GetAccountTimeline "{\"accountId\":\"$acc\"}"
add read ReportService/GetMonthlyReport "{\"accountId\":\"$acc\",\"month\":\"2026-05\"}"
add write ActivityService/CreateActivity "{\"activity\":{\"accountId\":\"$acc\",\"kind\":\"NOTE\",
    \"subject\":\"x\",\"occurTime\":\"2026-04-02T09:00:00Z\"}}"
add read KeyEventService/ListKeyEvents "{\"accountId\":\"$acc\"}"
add list KeyEventService/ListOutreachTasks '{"pageSize":500}'
add write KeyEventService/UpdateKeyEvent "{\"event\":{\"id\":\"$event\",\"description\":\"x\"},
    \"updateMask\":\"description\",\"version\":\"@event_version@\"}"

# Versions as they are now, so that only authorization decides a write.
fill() {
    local j=$1
    if [[ $j == *@acc_version@* ]]; then
        j=${j//@acc_version@/$(version_of AccountService/GetAccount "{\"id\":\"$acc\"}")}
    fi
    if [[ $j == *@contract_version@* ]]; then
        j=${j//@contract_version@/$(version_of ContractService/GetContract "{\"id\":\"$contract\"}")}
    fi
    if [[ $j == *@stakeholder_version@* ]]; then
        j=${j//@stakeholder_version@/$(version_of StakeholderService/GetStakeholder \
            "{\"id\":\"$stakeholder\"}")}
    fi
    if [[ $j == *@event_version@* ]]; then
        j=${j//@event_version@/$(must "$admin" KeyEventService/ListKeyEvents \
            "{\"accountId\":\"$acc\"}" | jq -r --arg e "$event" '.events[] | select(.id == $e) | .version')}
    fi
    printf '%s' "$j"
}

# Whether the body shows the account: the marker, or a reference to its id.
shows_account() {
    [[ $body == *"$marker"* ]] && return 0
    jq -e --arg a "$acc" '[.. | objects | (.accountId, .parentId, .sourceId, .targetId)
        | select(. == $a)] | length > 0' <<<"$body" >/dev/null 2>&1
}

for who in nonmember othermgr reader; do
    token=${!who}
    for c in "${calls[@]}"; do
        IFS='|' read -r kind method json <<<"$c"
        json=$(fill "$json")
        call "$token" "$method" "$json"
        what="$method as $who"
        if [ "$who" = reader ]; then
            case $kind in
            read | list)
                assert_eq 200 "$status" "$what answers 200"
                if shows_account; then ok "$what shows the account"; else
                    not_ok "$what shows the account" "$body"
                fi
                ;;
            write) assert_eq 403 "$status" "$what is refused with 403" ;;
            esac
            continue
        fi
        if shows_account; then
            not_ok "$what shows nothing of the account" "LEAK: HTTP $status: $body"
            continue
        fi
        case $kind in
        list) assert_eq 200 "$status" "$what answers 200 without the account" ;;
        read)
            if [[ $status =~ ^(404|403|200)$ ]]; then ok "$what: $status, nothing of the account"; else
                not_ok "$what answers 404 or 403" "HTTP $status: $body"
            fi
            ;;
        write)
            if [[ $status =~ ^(404|403)$ ]]; then ok "$what is refused ($status)"; else
                not_ok "$what is refused with 404 or 403" "HTTP $status: $body"
            fi
            ;;
        esac
    done
done

# A 404 for an account that does not exist and one that is not visible look the same.
call "$nonmember" AccountService/GetAccount "{\"id\":\"$acc\"}"
hidden=$(jq -c '{code}' <<<"$body")
call "$nonmember" AccountService/GetAccount '{"id":"999999999"}'
assert_eq '{"code":"not_found"}' "$(jq -c '{code}' <<<"$body")" "a missing account is not_found"
assert_eq '{"code":"not_found"}' "$hidden" "a hidden account is not_found as well"

assert_eq "$before" "$(snapshot)" "the account and its records are unchanged"
done_testing
