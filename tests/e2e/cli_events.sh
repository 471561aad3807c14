#!/usr/bin/env bash
# The key-event calendar end to end: `concord event create|list|update|delete`,
# `concord events upcoming [--create-tasks]` (tasks created once however often
# it runs), `concord task list|done`, their exit codes, table and -o json
# output; then the same service through the gateway with curl (proto3 JSON,
# an error naming a field). Needs jq and curl.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
command -v curl >/dev/null || fail "curl is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER

# Names carry a per-run tag: the database is shared with other tests and runs.
run=e$$r$RANDOM
museums="Museums $run"
pw="events-password-$run"

rows() { tail -n +2 | grep -c . || true; }

check "admin login" cli_login_admin
for who in "mem sales member" "rnd rnd member"; do
    read -r name dept role <<<"$who"
    check "user create $name$run" cli user create --username "$name$run" --display-name "$name" \
        --department "$dept" --role "$role" --password-stdin <<<"$pw"
done
mem=$(cli_new_profile)
rnd=$(cli_new_profile)
check "member login" cli_as "$mem" login --user "mem$run" --password-stdin <<<"$pw"
check "outsider login" cli_as "$rnd" login --user "rnd$run" --password-stdin <<<"$pw"

# The member's accounts: two museums (industry spelled two ways) and a shop.
acc() {
    cli_as "$mem" -o json account create --allow-similar-name --name "$1 $run" --industry "$2" |
        jq -r .id
}
a1=$(acc "City Museum" "$museums")
a2=$(acc "Art Museum" "MUSEUMS $run")
a3=$(acc "Corner Shop" "Retail $run")
[ -n "$a1" ] && [ -n "$a2" ] && [ -n "$a3" ] || fail "the member's accounts were created" "$a1 $a2 $a3"

# ---- creating events -------------------------------------------------------------------------

expect_exit 3 cli_as "$mem" event create --scope industry --industry "$museums" \
    --title "Museum rankings" --date 2028-02-29 --yearly
assert_contains "$last_output" "PERMISSION_DENIED" "members may not create industry events"

json=$(cli -o json event create --scope industry --industry "museums $run" --title "Museum rankings" \
    --date 2028-02-29 --yearly --category ranking --description "Published every spring")
ind=$(jq -r .id <<<"$json")
assert_eq INDUSTRY_EVENT "$(jq -r .scope <<<"$json")" "--scope industry is INDUSTRY_EVENT"
assert_eq YEARLY "$(jq -r .recurrence <<<"$json")" "--yearly is YEARLY"
assert_eq RANKING "$(jq -r .category <<<"$json")" "--category ranking"
assert_eq '"1"' "$(jq -c .version <<<"$json")" "a new event has version \"1\""

check "account event create (table output)" cli_as "$mem" event create --scope account \
    --account "$a1" --title "New director" --date 2035-03-10 --category leadership-change
assert_contains "$last_output" "title:" "create prints the event"
acc_ev=$(cli_as "$mem" -o json event list --account "$a1" --scope account | jq -r '.events[0].id')
[ -n "$acc_ev" ] && [ "$acc_ev" != null ] || fail "the account event is listed" "$acc_ev"
json=$(cli_as "$mem" -o json event create --scope account --account "$a3" --title "Shop opening" \
    --date 2035-03-12 --category other)
assert_eq OTHER_EVENT "$(jq -r .category <<<"$json")" "--category other is OTHER_EVENT"
shop_ev=$(jq -r .id <<<"$json")

expect_exit 2 cli_as "$mem" event create --scope account --account "$a1" --title T --date 2035-02-30
assert_contains "$last_output" "event.date" "a date that does not exist is named"
expect_exit 2 cli_as "$mem" event create --scope industry --account "$a1" --title T --date 2035-02-01
assert_contains "$last_output" "event.industry" "an industry event without an industry is named"
expect_exit 2 cli_as "$mem" event create --scope planet --title T --date 2035-02-01
assert_contains "$last_output" "--scope" "a bad --scope names the flag"
expect_exit 2 cli_as "$mem" event create --title T --date 2035-02-01
expect_exit 4 cli_as "$rnd" event create --scope account --account "$a1" --title T --date 2035-02-01

# ---- upcoming events and tasks -----------------------------------------------------------------

# 2035 is not a leap year: the 29 February ranking falls on 28 February.
out=$(cli_as "$mem" events upcoming --as-of 2035-02-20 --within 30d)
assert_contains "$(head -n 1 <<<"$out")" "ACCOUNTS" "the table has an ACCOUNTS column"
line=$(grep "Museum rankings" <<<"$out" || true)
assert_contains "$line" "2035-02-28" "the leap-day ranking is on 28 February"
assert_contains "$line" "City Museum $run" "the ranking concerns the city museum"
assert_contains "$line" "Art Museum $run" "and the art museum (industry in any case)"
assert_not_contains "$line" "Corner Shop" "but not the shop"
assert_contains "$(grep "New director" <<<"$out" || true)" "2035-03-10" "the account event is listed"
# Soonest first.
assert_eq "$(awk 'NR > 1 {print $1}' <<<"$out" | sort)" "$(awk 'NR > 1 {print $1}' <<<"$out")" \
    "occurrences come soonest first"

line=$(cli_as "$mem" events upcoming --as-of 2035-02-20 --within 30d --max-accounts 1 |
    grep "Museum rankings" || true)
assert_contains "$line" "Art Museum $run (+1 more)" "--max-accounts 1 lists one account by name"

err=$(test_tmpdir)/err
cli_as "$mem" events upcoming --as-of 2035-02-20 --within 30d --create-tasks >/dev/null 2>"$err"
assert_eq "created 4 outreach tasks" "$(cat "$err")" "the first run creates 4 tasks"
cli_as "$mem" events upcoming --as-of 2035-02-20 --within 30d --create-tasks >/dev/null 2>"$err"
assert_eq "created 0 outreach tasks" "$(cat "$err")" "the second run creates none"
json=$(cli_as "$mem" -o json events upcoming --as-of 2035-02-20 --within 30 --create-tasks 2>"$err")
assert_eq "created 0 outreach tasks" "$(cat "$err")" "--within 30 is the same window"
assert_eq "2" "$(jq --arg id "$ind" '[.events[] | select(.event.id == $id) | .accounts[]] | length' \
    <<<"$json")" "-o json lists the ranking's two accounts"
assert_eq "2035-02-28" "$(jq -r --arg id "$ind" '.events[] | select(.event.id == $id) |
    .occurrenceDate' <<<"$json")" "-o json has occurrenceDate"
expect_exit 2 cli_as "$mem" events upcoming --within 400d
expect_exit 2 cli_as "$mem" events upcoming --within soon
expect_exit 2 cli_as "$mem" events upcoming --as-of 2035-02-30
assert_contains "$last_output" "as_of" "a bad --as-of is named by the server"

# The outsider sees the ranking (industry news) but none of the member's accounts or tasks.
json=$(cli_as "$rnd" -o json events upcoming --as-of 2035-02-20 --within 30d --create-tasks 2>"$err")
assert_eq "0" "$(jq --arg id "$ind" '[.events[] | select(.event.id == $id) | .accounts[]?] | length' \
    <<<"$json")" "the outsider sees no account of the ranking"
assert_eq "" "$(jq -r --arg id "$acc_ev" '.events[] | select(.event.id == $id) | .event.id' \
    <<<"$json")" "the outsider does not see the account event"
assert_eq "created 0 outreach tasks" "$(cat "$err")" "the outsider creates no tasks"
assert_eq 0 "$(cli_as "$rnd" task list | rows)" "the outsider sees no tasks"
expect_exit 4 cli_as "$rnd" task list --account "$a1"

out=$(cli_as "$mem" task list --mine --status open)
assert_eq 4 "$(rows <<<"$out")" "task list --mine --status open shows 4"
assert_contains "$(head -n 1 <<<"$out")" "DUE" "the task table has DUE"
json=$(cli_as "$mem" -o json task list --account "$a1")
assert_eq 2 "$(jq '.tasks | length' <<<"$json")" "two tasks for the city museum"
task=$(jq -r '.tasks[] | select(.title == "New director") | .id' <<<"$json")
assert_eq "2035-03-10" "$(jq -r '.tasks[] | select(.title == "New director") | .dueDate' <<<"$json")" \
    "the task is due on the occurrence"

expect_exit 4 cli_as "$rnd" task done "$task"
check "task done" cli_as "$mem" task done "$task"
assert_contains "$last_output" "task-done" "the task is done"
json=$(cli_as "$mem" -o json task done "$task")
assert_eq TASK_DONE "$(jq -r .status <<<"$json")" "done twice is fine"
assert_eq 3 "$(cli_as "$mem" task list --mine --status open | rows)" "three tasks remain open"
assert_eq 1 "$(cli_as "$mem" task list --status done --account "$a1" | rows)" "one is done"

# ---- listing, changing and deleting events -------------------------------------------------------

out=$(cli_as "$mem" event list --account "$a1")
assert_eq 2 "$(rows <<<"$out")" "the city museum has its event and its industry's"
assert_contains "$(head -n 1 <<<"$out")" "TITLE" "the event table has TITLE"
assert_eq 1 "$(cli_as "$mem" event list --account "$a1" --scope industry | rows)" "--scope industry"
expect_exit 4 cli_as "$rnd" event list --account "$a1"

json=$(cli_as "$mem" -o json event update "$acc_ev" --version 1 --title "New director named" \
    --yearly)
assert_eq '"2"' "$(jq -c .version <<<"$json")" "update bumps the version"
assert_eq YEARLY "$(jq -r .recurrence <<<"$json")" "--yearly on update"
assert_eq "2035-03-10" "$(jq -r .date <<<"$json")" "fields not given are kept"
expect_exit 5 cli_as "$mem" event update "$acc_ev" --version 1 --title "Stale"
check "update --once" cli_as "$mem" event update "$acc_ev" --version 2 --once
assert_eq null "$(cli_as "$mem" -o json event list --account "$a1" --scope account |
    jq -r '.events[0].recurrence')" "--once clears the recurrence"
expect_exit 3 cli_as "$mem" event update "$ind" --version 1 --title "Not mine"
expect_exit 2 cli_as "$mem" event update "$acc_ev" --version 3
expect_exit 4 cli_as "$rnd" event delete "$acc_ev"
check "event delete" cli_as "$mem" event delete "$acc_ev"
assert_contains "$last_output" "Deleted key event $acc_ev" "delete says so"
expect_exit 4 cli_as "$mem" event delete "$acc_ev"
assert_eq "New director" "$(cli_as "$mem" -o json task list --account "$a1" --status done |
    jq -r '.tasks[0].title')" "the deleted event's task remains with its title"

# ---- the gateway -------------------------------------------------------------------------------

if [ -z "${CONCORD_GATEWAY_URL:-}" ]; then
    skip "gateway checks" "the environment has no gateway"
    done_testing
fi
token=$(cli_as "$mem" token create --name "events $run" 2>/dev/null)
tmp=$(test_tmpdir)
# gw METHOD JSON: sets $status and $body.
gw() {
    status=$(curl -sS --cacert "$CONCORD_CA" -H "Authorization: Bearer $token" \
        -H 'Content-Type: application/json' -o "$tmp/b" -w '%{http_code}' \
        "$CONCORD_GATEWAY_URL/concord.v1.KeyEventService/$1" --data-binary "$2") || status=000
    body=$(cat "$tmp/b")
}
gw CreateKeyEvent "{\"event\":{\"scope\":\"ACCOUNT_EVENT\",\"accountId\":\"$a2\",
    \"title\":\"Curator retires\",\"date\":\"2035-03-01\",\"category\":\"LEADERSHIP_CHANGE\"}}"
assert_eq 200 "$status" "CreateKeyEvent through the gateway"
assert_eq "$a2" "$(jq -r .accountId <<<"$body")" "accountId in camelCase"
assert_eq ACCOUNT_EVENT "$(jq -r .scope <<<"$body")" "enums by name"
assert_eq '"1"' "$(jq -c .version <<<"$body")" "int64 as a string"
gw ListKeyEvents "{\"accountId\":\"$a2\",\"scope\":\"ACCOUNT_EVENT\"}"
assert_eq 200 "$status" "ListKeyEvents through the gateway"
assert_eq "Curator retires" "$(jq -r '.events[0].title' <<<"$body")" "the new event is listed"
gw ListUpcomingEvents '{"asOf":"2035-02-20","withinDays":30,"createTasks":true}'
assert_eq 200 "$status" "ListUpcomingEvents through the gateway"
assert_eq 1 "$(jq -r .tasksCreated <<<"$body")" "tasksCreated counts the new event's task"
assert_eq "Art Museum $run" "$(jq -r '.events[] | select(.event.title == "Curator retires") |
    .accounts[0].name' <<<"$body")" "accounts concerned carry names"
gw ListOutreachTasks '{"assigneeId":"me","status":"TASK_OPEN"}'
assert_eq 4 "$(jq '.tasks | length' <<<"$body")" "ListOutreachTasks with assigneeId me"
gw CreateKeyEvent "{\"event\":{\"scope\":\"ACCOUNT_EVENT\",\"accountId\":\"$a2\",
    \"title\":\"Bad\",\"date\":\"2035-02-29\"}}"
assert_eq 400 "$status" "an invalid date is 400"
assert_eq invalid_argument "$(jq -r .code <<<"$body")" "and invalid_argument"
assert_eq event.date "$(jq -r '.fieldViolations[0].field' <<<"$body")" "naming event.date"

done_testing
