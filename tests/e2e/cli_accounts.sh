#!/usr/bin/env bash
# The concord CLI end to end against the shared test environment, as a user and
# a script meet it: sign-in and the stored token, accounts (create, get, list
# with paging, update with versions, archive), users, API tokens, and the exit
# codes scripts depend on. Needs jq.
. "$(dirname "$0")/../lib/common.sh"

command -v jq >/dev/null || fail "jq is required"
cli_private_config
unset CONCORD_TOKEN CONCORD_PROFILE CONCORD_SERVER

# Names carry a per-run tag: the database is shared with other tests and runs.
run=c$$r$RANDOM
tokdir=$XDG_CONFIG_HOME/concord/tokens
tokfile=$tokdir/default

# A second configuration folder with the same profile and no stored token,
# to act as another person or to prove that CONCORD_TOKEN alone authenticates.
alt=$(cli_new_profile)
alt_cli() { cli_as "$alt" "$@"; }

# Number of data rows of a table on stdin (the header excluded).
rows() { tail -n +2 | grep -c . || true; }

# ---- signing in ---------------------------------------------------------------------------

expect_exit 3 cli login --user "$CONCORD_ADMIN_USER" --password-stdin <<<"wrong-$run"
assert_contains "$last_output" "UNAUTHENTICATED" "a wrong password is UNAUTHENTICATED"
if [ -e "$tokfile" ]; then not_ok "a failed login stores no token"; else ok "a failed login stores no token"; fi

check "login with --password-stdin" cli_login_admin
assert_contains "$last_output" "Logged in as $CONCORD_ADMIN_USER (" "login names the user"
assert_eq 600 "$(stat -c %a "$tokfile")" "the token file is 0600"
assert_eq 700 "$(stat -c %a "$tokdir")" "the token folder is 0700"

check "whoami" cli whoami
assert_contains "$last_output" "$CONCORD_ADMIN_USER (" "whoami names the user"
assert_eq "$CONCORD_ADMIN_USER" "$(cli -o json whoami | jq -r .user.username)" "whoami -o json"

# ---- accounts -------------------------------------------------------------------------------

json=$(cli -o json account create --allow-similar-name --name "$run Alpha" --region EMEA --size large \
    --selling-mode enterprise --tag blue --tag green) || true
id=$(jq -r '.id // empty' <<<"$json" 2>/dev/null || true)
if [ -n "$id" ]; then ok "account create -o json has an id"; else fail "account create -o json has an id" "$json"; fi
assert_eq '"1"' "$(jq -c .version <<<"$json")" "a new account has version \"1\""
assert_eq LARGE "$(jq -r .sizeClass <<<"$json")" "--size is stored as LARGE"

for n in Bravo Charlie Delta Echo; do
    check "account create $n" cli account create --allow-similar-name --name "$run $n" --region EMEA
done

check "account get" cli account get "$id"
assert_contains "$last_output" "$run Alpha" "get shows the name"
assert_contains "$last_output" "blue, green" "get shows the tags"
assert_eq "$run Alpha" "$(cli -o json account get "$id" | jq -r .name)" "get -o json"

check "account list" cli account list --query "$run"
assert_eq 5 "$(rows <<<"$last_output")" "list shows the 5 accounts"
assert_contains "$(head -n 1 <<<"$last_output")" "ID" "list has a header"
assert_contains "$(head -n 1 <<<"$last_output")" "VERSION" "the header has VERSION"
assert_eq 5 "$(cli -o json account list --query "$run" | jq '.accounts | length')" \
    "list -o json has .accounts"

# Paging: 2 + 2 + 1, the next token shown on stderr.
err=$(test_tmpdir)/err
seen=""
token=""
for page in 1 2 3; do
    if [ -z "$token" ]; then
        out=$(cli account list --query "$run" --page-size 2 2>"$err") || true
    else
        out=$(cli account list --query "$run" --page-size 2 --page-token "$token" 2>"$err") || true
    fi
    want=2
    [ "$page" = 3 ] && want=1
    assert_eq "$want" "$(rows <<<"$out")" "page $page has $want accounts"
    seen="$seen$(tail -n +2 <<<"$out")"$'\n'
    token=$(sed -n 's/^more: --page-token //p' "$err")
    if [ "$page" = 3 ]; then
        assert_eq "" "$token" "the last page has no next token"
    elif [ -n "$token" ]; then
        ok "page $page hints 'more: --page-token'"
    else
        not_ok "page $page hints 'more: --page-token'" "$(cat "$err")"
    fi
done
for n in Alpha Bravo Charlie Delta Echo; do
    assert_contains "$seen" "$run $n" "paging reaches $n"
done

out=$(cli account list --query "$run" --page-size 2 --all 2>"$err") || true
assert_eq 5 "$(rows <<<"$out")" "--all follows the pages"
assert_not_contains "$(cat "$err")" "more:" "--all leaves no next-page hint"
out=$(cli -o json account list --query "$run" --page-size 2 --all) || true
assert_eq 5 "$(jq '.accounts | length' <<<"$out")" "-o json --all merges the pages"
assert_eq false "$(jq 'has("nextPageToken")' <<<"$out")" "the merged response has no next token"
assert_eq '"5"' "$(cli -o json account list --query "$run" --total | jq -c .totalSize)" "--total"
# With --query the default order is newest first; --order-by name sorts by name.
assert_eq "$run Echo,$run Delta,$run Charlie,$run Bravo,$run Alpha" \
    "$(cli -o json account list --query "$run" | jq -r '[.accounts[].name] | join(",")')" \
    "--query lists newest first"
assert_eq "$run Alpha,$run Bravo,$run Charlie,$run Delta,$run Echo" \
    "$(cli -o json account list --query "$run" --order-by name | jq -r '[.accounts[].name] | join(",")')" \
    "--query --order-by name lists by name"

# Updates carry the version read; the mask holds exactly the flags given.
out=$(cli -o json account update "$id" --version 1 --name "$run Alpha Two") || true
assert_eq "$run Alpha Two" "$(jq -r .name <<<"$out")" "update changes the name"
assert_eq '"2"' "$(jq -c .version <<<"$out")" "update bumps the version"
assert_eq EMEA "$(jq -r .region <<<"$out")" "update leaves fields not given alone"
assert_eq "blue,green" "$(jq -r '.tags | join(",")' <<<"$out")" "update keeps the tags"

expect_exit 5 cli account update "$id" --version 1 --name "$run Stale"
assert_contains "$last_output" "ABORTED" "a stale version is ABORTED"
out=$(cli -o json account get "$id") || true
assert_eq "$run Alpha Two|2" "$(jq -r '.name + "|" + .version' <<<"$out")" \
    "a stale update changes nothing"

out=$(cli -o json account update "$id" --version 2 --clear-tags) || true
assert_eq 0 "$(jq '.tags // [] | length' <<<"$out")" "--clear-tags empties the tags"

expect_exit 4 cli account get 999999999999
assert_contains "$last_output" "NOT_FOUND" "a missing account is NOT_FOUND"

expect_exit 2 cli account create --name "$run Bad" --size huge
assert_contains "$last_output" "--size: expected one of large, medium, small, entry" \
    "a bad enum value names the flag"
expect_exit 2 cli account create --name ""
assert_contains "$last_output" "account.name" "an empty name names account.name"
expect_exit 2 cli account frobnicate
expect_exit 2 cli -o yaml account list

version=$(cli -o json account get "$id" | jq -r .version) || true
check "account archive" cli account archive "$id" --version "$version"
out=$(cli account list --query "$run") || true
assert_not_contains "$out" "$run Alpha Two" "archived accounts are hidden from list"
out=$(cli account list --query "$run" --include-archived) || true
assert_contains "$out" "$run Alpha Two" "--include-archived shows them"

# ---- users --------------------------------------------------------------------------------

uname=$(tr 'A-Z' 'a-z' <<<"u$run")
upw="pw-$run-long-enough"
check "user create" cli user create --username "$uname" --display-name "CLI Tester" \
    --department sales --role member --password-stdin <<<"$upw"
check "user list" cli user list --department sales --all
assert_contains "$last_output" "$uname" "user list shows the new user"
uid=$(cli -o json user list --all | jq -r --arg u "$uname" '.users[] | select(.username == $u) | .id') || true
check "the new user can log in" alt_cli login --user "$uname" --password-stdin <<<"$upw"
check "user disable" cli user disable "$uid"
assert_eq true "$(cli -o json user list --all --include-disabled |
    jq --arg u "$uname" '.users[] | select(.username == $u) | .disabled')" "the user is disabled"
expect_exit 3 alt_cli login --user "$uname" --password-stdin <<<"$upw"
expect_exit 3 alt_cli whoami

# ---- API tokens ---------------------------------------------------------------------------

alt_cli logout >/dev/null 2>&1 || true
secret=$(cli token create --name "cli test $run" 2>"$err") || true
assert_contains "$(cat "$err")" "will not be shown again" "token create warns once"
tokid=$(sed -n 's/^Created API token \([^ ]*\) .*/\1/p' "$err")
if [ -n "$secret" ] && [ -n "$tokid" ]; then ok "token create prints the secret"; else not_ok "token create prints the secret" "$(cat "$err")"; fi
out=$(CONCORD_TOKEN=$secret alt_cli whoami 2>&1) || true
assert_contains "$out" "$CONCORD_ADMIN_USER (" "CONCORD_TOKEN authenticates whoami"
assert_contains "$out" "api_token" "whoami names the credential"
check "token revoke" cli token revoke "$tokid"
expect_exit 3 env CONCORD_TOKEN="$secret" XDG_CONFIG_HOME="$alt" "$CONCORD_CLI" whoami

# ---- logging out and an unreachable server ------------------------------------------------

check "logout" cli logout
if [ -e "$tokfile" ]; then not_ok "logout removes the token"; else ok "logout removes the token"; fi
expect_exit 3 cli whoami
assert_contains "$last_output" "concord login" "UNAUTHENTICATED suggests concord login"

expect_exit 6 cli --server 127.0.0.1:1 whoami
assert_contains "$last_output" "UNAVAILABLE" "a closed port is UNAVAILABLE"

# ---- help and completion, generated from the command table --------------------------------

check "concord --help" cli --help
assert_contains "$last_output" "Exit codes:" "--help lists the exit codes"
check "account update --help" cli account update --help
assert_contains "$last_output" "--size SIZE" "command help lists the flags"
assert_contains "$last_output" "large, medium, small, entry" "command help lists enum values"
comp=$(cli completion bash) || true
check "the completion script is valid bash" bash -n <<<"$comp"
assert_contains "$comp" '"large medium small entry"' "completion offers enum values"

done_testing
