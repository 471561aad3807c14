#!/usr/bin/env bash
# The account view from the CLI and the gateway: account teams and what they
# grant, ideal-customer-profile scores, search and filters, duplicate
# detection, merging, hierarchy roll-up, and the bulk import with progress.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER
cli_login_admin >/dev/null
run=v$$r$RANDOM
pw="member-password-$run"

# A second person with their own CLI configuration.
bob_home=$(cli_new_profile)
bob() { cli_as "$bob_home" "$@"; }

bob_id=$(cli -o json user create --username "bob$run" --display-name "Bob $run" \
    --department delivery --role member --password-stdin <<<"$pw" | jq -r .id)
[ -n "$bob_id" ] && [ "$bob_id" != null ] || fail "user create returned no id"
check "bob logs in" bob login --user "bob$run" --password-stdin <<<"$pw"

acct=$(cli_new_account "Aurora Institute $run" --industry "Higher Education" --region emea \
    --tag research --tag "pilot-$run")

# ---- teams grant access -------------------------------------------------------------

expect_exit 4 bob account get "$acct"
assert_contains "$last_output" "NOT_FOUND" "a non-member does not see the account"
assert_eq 0 "$(bob -o json account list --query "$run" | jq '.accounts | length')" \
    "a non-member's list leaves it out"
expect_exit 4 bob team list "$acct"

check "team add (read access)" cli team add "$acct" --user "$bob_id" --role delivery-lead --access read
check "bob now reads the account" bob account get "$acct"
expect_exit 3 bob account update "$acct" --version 1 --notes "bob was here"
assert_contains "$last_output" "PERMISSION_DENIED" "read access cannot change the account"
expect_exit 3 bob team add "$acct" --user "$bob_id" --role rnd-liaison
check "team update to edit access" cli team update "$acct" --user "$bob_id" --access edit
assert_eq edit "$(cli -o json team list "$acct" | jq -r '.members[0].accessLevel | ascii_downcase')" \
    "team list shows the new access level"
check "bob edits with edit access" bob account update "$acct" --version 1 --notes "bob was here"
expect_exit 5 cli team add "$acct" --user "$bob_id" --role rnd-liaison
assert_contains "$last_output" "already on the team" "adding a member twice is a conflict"
expect_exit 2 cli team add "$acct" --user "$bob_id" --role janitor
check "team remove" cli team remove "$acct" --user "$bob_id"
expect_exit 4 bob account get "$acct"

# ---- ideal customer profile --------------------------------------------------------

json=$(cli -o json account score "$acct" --scale 4 --influence 5 --growth 3 --note "strong fit")
assert_eq 12 "$(jq -r .icpTotal <<<"$json")" "the ICP total is the sum of the scores"
assert_eq 3 "$(jq '.icpScores | length' <<<"$json")" "three criteria are scored"
json=$(cli -o json account score "$acct" --growth 5 --it-strategy 2)
assert_eq 16 "$(jq -r .icpTotal <<<"$json")" "a rescored criterion replaces its old score"
expect_exit 2 cli account score "$acct" --scale 9
assert_contains "$last_output" "--scale" "an out-of-range score names the flag"
assert_eq "$acct" "$(cli -o json account list --query "$run" --min-icp 15 | jq -r '.accounts[0].id')" \
    "--min-icp finds the account"
assert_eq 0 "$(cli -o json account list --query "$run" --min-icp 17 | jq '.accounts | length')" \
    "--min-icp leaves out lower totals"

# ---- search and filters ---------------------------------------------------------------

assert_eq "$acct" "$(cli -o json account list --query "pilot-$run" | jq -r '.accounts[0].id')" \
    "--query matches a tag exactly"
assert_eq "$acct" "$(cli -o json account list --tag research --industry "higher education" \
    --query "$run" | jq -r '.accounts[0].id')" "--tag and a case-insensitive --industry"
assert_eq 0 "$(cli -o json account list --query "$run" --region apac | jq '.accounts | length')" \
    "--region filters"
assert_eq "$acct" "$(cli -o json account list --query "$run" --department sales \
    | jq -r '.accounts[0].id')" "--department matches the owner's department"
expect_exit 2 cli account list --department marketing

# ---- duplicates and merging ----------------------------------------------------------

expect_exit 5 cli account create --name "Aurora Institute $run."
assert_contains "$last_output" "similar names" "a near-duplicate name is refused"
assert_contains "$last_output" "$acct" "the refusal names the similar account"
assert_eq "$acct" "$(cli -o json account similar "aurora institute $run" | jq -r '.accounts[0].id')" \
    "account similar ranks the original first"
dup=$(cli -o json account create --name "Aurora Institute $run." --allow-similar-name | jq -r .id)
child=$(cli -o json account create --name "Aurora Lab $run" --parent "$dup" --allow-similar-name | jq -r .id)
cli team add "$dup" --user "$bob_id" --role solution-lead >/dev/null
json=$(cli -o json account merge "$dup" --into "$acct")
assert_eq 1 "$(jq -r '.moved.team_members' <<<"$json")" "the merge moved the team member"
assert_eq 1 "$(jq -r '.moved.child_accounts' <<<"$json")" "the merge moved the child account"
assert_eq "$acct" "$(cli -o json account get "$dup" | jq -r .mergedIntoId)" "the duplicate records where it went"
assert_eq true "$(cli -o json account get "$dup" | jq -r .archived)" "the duplicate is archived"
assert_eq "$acct" "$(cli -o json account get "$child" | jq -r .parentId)" "the child now hangs under the target"
check "bob sees the target through the moved membership" bob account get "$acct"
expect_exit 5 cli account merge "$dup" --into "$acct"

# ---- hierarchy -----------------------------------------------------------------------

json=$(cli -o json account hierarchy "$child")
assert_eq "$acct" "$(jq -r '.nodes[0].account.id' <<<"$json")" "the hierarchy starts at the root"
assert_eq 2 "$(jq -r '.accountCount' <<<"$json")" "root and child are counted"
check "hierarchy table output" cli account hierarchy "$acct"
assert_contains "$last_output" "  Aurora Lab $run" "the child is indented under the root"

# ---- bulk import ----------------------------------------------------------------------

dir=$(test_tmpdir)
for i in $(seq 1 2500); do
    printf '{"name":"Bulk %s %05d","industry":"retail","tags":["bulk-%s"]}\n' "$run" "$i" "$run"
done >"$dir/ok.ndjson"
check "account import of 2500 lines" cli account import "$dir/ok.ndjson" --batch-size 1000
assert_contains "$last_output" "Imported 2500 accounts" "the import reports its count"
assert_eq 2500 "$(cli -o json account list --tag "bulk-$run" --total --page-size 1 | jq -r .totalSize)" \
    "every imported account is there"
{ echo '{"name":"Good one '"$run"'"}'; echo '{"name":""}'; } >"$dir/bad.ndjson"
expect_exit 2 cli account import "$dir/bad.ndjson"
assert_contains "$last_output" "accounts[1].name" "a bad line is named by its field"
assert_eq 0 "$(cli -o json account list --query "Good one $run" | jq '.accounts | length')" \
    "a refused batch writes nothing"
printf 'not json\n' >"$dir/junk.ndjson"
expect_exit 2 cli account import "$dir/junk.ndjson"
assert_contains "$last_output" "junk.ndjson:1" "a malformed line is named by its number"

# ---- the same through the gateway ------------------------------------------------------

if [ -n "${CONCORD_GATEWAY_URL:-}" ]; then
    token=$(cli token create --name "gw-$run" 2>/dev/null)
    gw() {
        curl -sS --cacert "$CONCORD_CA" -H "Authorization: Bearer $token" \
            -H 'Content-Type: application/json' "$CONCORD_GATEWAY_URL/concord.v1.$1" -d "$2"
    }
    out=$(gw TeamService/ListTeamMembers "{\"accountId\":\"$acct\"}")
    assert_eq "DELIVERY" "$(jq -r '.members[0].department' <<<"$out")" "ListTeamMembers over Connect JSON"
    out=$(gw AccountService/ScoreAccountIcp \
        "{\"accountId\":\"$acct\",\"scores\":[{\"criterion\":\"WIN_WIN_MINDSET\",\"score\":4}]}")
    assert_eq 20 "$(jq -r .icpTotal <<<"$out")" "ScoreAccountIcp over Connect JSON"
    out=$(gw AccountService/ScoreAccountIcp \
        "{\"accountId\":\"$acct\",\"scores\":[{\"criterion\":\"WIN_WIN_MINDSET\",\"score\":7}]}")
    assert_contains "$out" "scores[0].score" "a bad score is named through the gateway"
    out=$(gw AccountService/FindSimilarAccounts "{\"name\":\"Aurora Institute $run\"}")
    assert_eq "$acct" "$(jq -r '.accounts[0].id' <<<"$out")" "FindSimilarAccounts over Connect JSON"
else
    skip "gateway checks" "no gateway in this environment"
fi
done_testing
