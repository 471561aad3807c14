# shellcheck shell=bash
# Helpers for test scripts that run in the shared test environment (tests/lib/testenv), and
# the process helpers testenv itself uses. Source it:
#
#   . "$(dirname "$0")/../lib/common.sh"
#
# Sourcing turns on strict mode (set -Eeuo pipefail): a command that fails outside a check
# ends the script with a non-zero status and a note naming the line.
#
# Results, printed TAP-style ("ok 3 - description" / "not ok 4 - description"):
#   ok DESC / not_ok DESC [DETAIL]     record a result directly
#   check DESC CMD...                  ok when CMD exits 0
#   assert_eq EXPECTED ACTUAL [DESC]
#   assert_contains HAYSTACK NEEDLE [DESC]     (and assert_not_contains)
#   expect_exit CODE CMD...            ok when CMD exits with CODE; its stdout and stderr are
#                                      left in $last_output
#   skip DESC REASON                   neither passed nor failed
#   fail MSG                           record a failure and end the script now
#   done_testing                       print "N passed, M failed"; exit 1 on any failure or
#                                      when nothing was checked
# Environment:
#   psql_super ARGS... / psql_app ARGS...   psql to the test database as the cluster superuser
#                                           or as concord_app (e.g. psql_app -Atc 'select 1')
#   cli ARGS...                             the concord CLI ($CONCORD_CLI)
#   cli_private_config                      give this script its own copy of the CLI profile,
#                                           so its logins do not disturb other tests
#   cli_login_admin                         log the CLI in as the environment's admin
#   cli_new_profile                         a new CLI configuration folder (a copy of the
#                                           current profile) for another user; prints its path
#   cli_as DIR ARGS...                      the CLI with the configuration in DIR (whoever
#                                           logged in there)
#   restart_concordd [FLAGS...]             restart concordd on the same port with the same
#                                           config (FLAGS are added for this run only)
#   restore_concordd                        restart_concordd with the environment's own
#                                           settings, for a script's EXIT trap
#   cli_new_account NAME [FLAGS...]         create an account with the CLI; prints its id
#   cli_new_token NAME                      create an API token with the CLI; prints it
#   cli_admin_profile                       a private CLI profile logged in as admin
#   test_tmpdir                             a fresh directory, removed when the script ends
#   free_port                               a TCP port nothing on this machine uses now
# Speed:
#   slow_s SECONDS                          SECONDS times CONCORD_TEST_SLOW (see below)

set -Eeuo pipefail

_ct_pass=0
_ct_fail=0
_ct_skip=0
_ct_num=0
last_output=""

# A TCP port that no socket on this machine uses now, for a server the script starts. It is
# taken below the kernel's range of ephemeral ports: a port inside it may become the local
# end of some outgoing connection before the server binds it (the benchmarks open tens of
# thousands of connections), and PostgreSQL then fails with "Address already in use".
free_port() {
    local lo=10000 hi=32767 eph_lo eph_hi i port
    if read -r eph_lo eph_hi </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null; then
        if [ "$eph_lo" -gt $((lo + 1000)) ]; then
            hi=$((eph_lo - 1))
        elif [ "$eph_hi" -lt 64535 ]; then
            lo=$((eph_hi + 1)) hi=65535
        fi
    fi
    for i in $(seq 1 100); do
        port=$((lo + ((RANDOM << 15) | RANDOM) % (hi - lo + 1)))
        if command -v ss >/dev/null 2>&1; then
            [ -z "$(ss -Htan "sport = :$port" 2>/dev/null)" ] && { echo "$port"; return 0; }
        elif ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    echo "free_port: no free TCP port in $lo-$hi after $i tries" >&2
    return 1
}

_ct_on_err() {
    echo "error: command failed with status $1 at ${BASH_SOURCE[1]:-?}:$2: $3" >&2
}
trap '_ct_on_err $? $LINENO "$BASH_COMMAND"' ERR

# test_tmpdir's folders live under one folder per script ($$ is the script's PID also in the
# command substitutions test_tmpdir is called from), removed when the script ends.
_ct_cleanup() {
    if [ -n "${CONCORD_TEST_DIR:-}" ]; then
        rm -rf "$CONCORD_TEST_DIR/tmp/script.$$"
    fi
}
trap _ct_cleanup EXIT

# ---------------------------------------------------------------------------------------
# Results

ok() {
    _ct_num=$((_ct_num + 1))
    _ct_pass=$((_ct_pass + 1))
    echo "ok $_ct_num - $1"
}

not_ok() {
    _ct_num=$((_ct_num + 1))
    _ct_fail=$((_ct_fail + 1))
    echo "not ok $_ct_num - $1"
    if [ $# -ge 2 ] && [ -n "$2" ]; then
        printf '%s\n' "$2" | sed 's/^/#   /'
    fi
}

skip() {
    _ct_num=$((_ct_num + 1))
    _ct_skip=$((_ct_skip + 1))
    echo "ok $_ct_num - $1 # SKIP ${2:-}"
}

check() {
    local desc=$1
    shift
    if last_output=$("$@" 2>&1); then
        ok "$desc"
    else
        not_ok "$desc" "command: $*
$last_output"
    fi
}

assert_eq() {
    local want=$1 got=$2 desc=${3:-"equals '$1'"}
    if [ "$want" = "$got" ]; then
        ok "$desc"
    else
        not_ok "$desc" "expected: $want
     got: $got"
    fi
}

assert_contains() {
    local hay=$1 needle=$2 desc=${3:-"contains '$2'"}
    if [[ "$hay" == *"$needle"* ]]; then
        ok "$desc"
    else
        not_ok "$desc" "'$needle' not found in:
$hay"
    fi
}

assert_not_contains() {
    local hay=$1 needle=$2 desc=${3:-"does not contain '$2'"}
    if [[ "$hay" != *"$needle"* ]]; then
        ok "$desc"
    else
        not_ok "$desc" "'$needle' found in:
$hay"
    fi
}

expect_exit() {
    local want=$1 got=0
    shift
    last_output=$("$@" 2>&1) || got=$?
    if [ "$got" -eq "$want" ]; then
        ok "exit $want: $*"
    else
        not_ok "exit $want: $*" "exited $got; output:
$last_output"
    fi
}

done_testing() {
    echo "$_ct_pass passed, $_ct_fail failed"
    [ "$_ct_skip" -eq 0 ] || echo "$_ct_skip skipped"
    if [ "$_ct_fail" -ne 0 ]; then
        exit 1
    fi
    if [ "$_ct_pass" -eq 0 ]; then
        echo "error: nothing was checked" >&2
        exit 1
    fi
    exit 0
}

fail() {
    not_ok "$1" "${2:-}"
    done_testing
}

# ---------------------------------------------------------------------------------------
# The environment

_ct_need() {
    local v
    for v in "$@"; do
        if [ -z "${!v:-}" ]; then
            echo "error: $v is not set; run this test through tests/lib/with-env" >&2
            exit 1
        fi
    done
}

psql_super() {
    _ct_need PGHOST PGPORT PG_SUPERUSER
    psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U "$PG_SUPERUSER" \
        -d "${PGDATABASE:-concord}" "$@"
}

psql_app() {
    _ct_need PGHOST PGPORT
    psql -X -q -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U concord_app \
        -d "${PGDATABASE:-concord}" "$@"
}

cli() {
    _ct_need CONCORD_CLI
    "$CONCORD_CLI" "$@"
}

test_tmpdir() {
    _ct_need CONCORD_TEST_DIR
    mkdir -p "$CONCORD_TEST_DIR/tmp/script.$$"
    mktemp -d "$CONCORD_TEST_DIR/tmp/script.$$/t.XXXXXX"
}

cli_new_profile() {
    local d
    _ct_need XDG_CONFIG_HOME
    d=$(test_tmpdir)
    mkdir -p "$d/concord"
    cp "$XDG_CONFIG_HOME/concord/config" "$d/concord/config"
    echo "$d"
}

cli_private_config() {
    local d
    d=$(cli_new_profile)
    export XDG_CONFIG_HOME=$d
}

cli_as() {
    local dir=$1
    shift
    XDG_CONFIG_HOME=$dir cli "$@"
}

cli_login_admin() {
    _ct_need CONCORD_ADMIN_USER CONCORD_ADMIN_PASSWORD
    cli login --user "$CONCORD_ADMIN_USER" --password-stdin <<<"$CONCORD_ADMIN_PASSWORD"
}

# A private CLI profile (cli_private_config) logged in as admin; ends the script when the
# login fails.
cli_admin_profile() {
    cli_private_config
    cli_login_admin >/dev/null || fail "the CLI cannot log in as admin"
}

# ---------------------------------------------------------------------------------------
# Speed

# CONCORD_TEST_SLOW (a whole number, default 1) says how many times slower than usual concordd
# answers in this environment: tests/run-valgrind sets it because concordd runs under valgrind
# there, and tests/lib/testenv records it in DIR/env. Only waits and limits that measure how
# fast concordd works are multiplied by it, never a time concordd itself must keep (a login
# backoff, a frame timeout), so a test that fails at speed 1 for a wrong behaviour still fails.
_ct_slow() {
    local n=${CONCORD_TEST_SLOW:-1}
    if ! [[ "$n" =~ ^[1-9][0-9]*$ ]]; then
        echo "error: CONCORD_TEST_SLOW must be a whole number of at least 1, not '$n'" >&2
        return 1
    fi
    echo "$n"
}

# slow_s SECONDS: prints SECONDS (which may have a fraction) times CONCORD_TEST_SLOW.
slow_s() {
    local n
    n=$(_ct_slow) || return 1
    awk -v s="$1" -v n="$n" 'BEGIN { print s * n }'
}

# ---------------------------------------------------------------------------------------
# Processes (shared with tests/lib/testenv)

# True when PID is a live process. A zombie counts as gone: nothing may reap the daemons
# once the shell that started them has exited.
tenv_alive() {
    local pid=$1 state
    [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || return 1
    state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}

tenv_log_size() {
    if [ -f "$1" ]; then
        stat -c %s "$1"
    else
        echo 0
    fi
}

# tenv_start LOG CMD...: starts CMD in its own session with every output appended to LOG and
# no terminal or pipe of ours, so that nothing waits for it (ctest waits for pipes to close).
# Sets TENV_PID.
tenv_start() {
    local log=$1
    shift
    setsid "$@" </dev/null >>"$log" 2>&1 &
    TENV_PID=$!
}

# tenv_wait_ready NAME PID LOG OFFSET TIMEOUT: waits for an `event=ready` line written to LOG
# after byte OFFSET and sets TENV_ADDR to its addr=HOST:PORT. On failure prints the log's
# tail and returns 1.
tenv_wait_ready() {
    local name=$1 pid=$2 log=$3 offset=$4 timeout=$5 line deadline
    deadline=$((SECONDS + timeout))
    TENV_ADDR=""
    while :; do
        line=$(tail -c +"$((offset + 1))" "$log" 2>/dev/null | grep -m 1 'event=ready' || true)
        if [ -n "$line" ]; then
            TENV_ADDR=$(printf '%s\n' "$line" | grep -oE '(^|[[:space:]])addr="?[^"[:space:]]+' |
                head -n 1 | sed -E 's/^[[:space:]]*addr="?//')
            if [ -z "$TENV_ADDR" ]; then
                echo "error: $name's ready line has no addr=HOST:PORT: $line" >&2
                return 1
            fi
            return 0
        fi
        if ! tenv_alive "$pid"; then
            echo "error: $name exited before it was ready; last lines of $log:" >&2
            tail -n 40 "$log" >&2 || true
            return 1
        fi
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: $name was not ready after ${timeout}s; last lines of $log:" >&2
            tail -n 40 "$log" >&2 || true
            return 1
        fi
        sleep 0.2
    done
}

# tenv_stop NAME PID TIMEOUT: SIGTERM, then SIGKILL after TIMEOUT seconds. Returns 0 when the
# process ended on SIGTERM (or was already gone), 2 when it had to be killed.
tenv_stop() {
    local name=$1 pid=$2 timeout=$3 deadline
    tenv_alive "$pid" || return 0
    kill -TERM "$pid" 2>/dev/null || return 0
    deadline=$((SECONDS + timeout))
    while tenv_alive "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            echo "error: $name (pid $pid) did not exit within ${timeout}s of SIGTERM; killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            return 2
        fi
        sleep 0.1
    done
    return 0
}

# Sets KEY's value in the environment file (KEY='value' lines).
tenv_env_set() {
    local file=$1 key=$2 value=$3 tmp
    tmp="$file.new"
    grep -v "^$key=" "$file" >"$tmp" || true
    printf "%s='%s'\n" "$key" "${value//\'/\'\\\'\'}" >>"$tmp"
    mv "$tmp" "$file"
}

restart_concordd() {
    local log pidfile old offset
    _ct_need CONCORD_TEST_DIR CONCORDD CONCORDD_CONFIG CONCORD_PORT CONCORD_HOST
    log=$CONCORD_TEST_DIR/concordd.log
    pidfile=$CONCORD_TEST_DIR/run/concordd.pid
    old=$(cat "$pidfile" 2>/dev/null || echo "${CONCORDD_PID:-}")
    if [ -n "$old" ]; then
        tenv_stop concordd "$old" "$(slow_s 30)" || return 1
    fi
    # The first start picked a free port; keep it so that clients and the gateway find the
    # server again.
    sed -i -E "s/^listen[[:space:]]*=.*/listen = $CONCORD_HOST:$CONCORD_PORT/" "$CONCORDD_CONFIG"
    echo "--- restart $(date -u +%FT%TZ) ---" >>"$log"
    offset=$(tenv_log_size "$log")
    # CONCORDD_WRAPPER (tests/lib/testenv) prefixes concordd, e.g. with valgrind.
    local -a wrapper=()
    read -r -a wrapper <<<"${CONCORDD_WRAPPER:-}"
    tenv_start "$log" "${wrapper[@]}" "$CONCORDD" --config "$CONCORDD_CONFIG" "$@"
    echo "$TENV_PID" >"$pidfile"
    export CONCORDD_PID=$TENV_PID
    tenv_env_set "$CONCORD_TEST_DIR/env" CONCORDD_PID "$TENV_PID"
    tenv_wait_ready concordd "$TENV_PID" "$log" "$offset" "$(slow_s 30)" || return 1
    if [ "$TENV_ADDR" != "$CONCORD_ADDR" ]; then
        echo "error: concordd came back on $TENV_ADDR, not $CONCORD_ADDR" >&2
        return 1
    fi
    warm_up_tls "$CONCORD_ADDR" "$CONCORD_CA"
}

# warm_up_tls ADDR CA: one TLS handshake with a freshly started concordd, so that tests
# measure a warm server (refused or not, the handshake does the work): its first handshakes
# are slow (seconds under valgrind, CONCORD_TEST_SLOW > 1), and a load of many clients
# connecting at once to a cold server can outlast their connect timeout.
# For an EXIT trap of a script that restarted concordd with other settings: the next test
# meets concordd as the environment started it. A failure is reported, not fatal.
restore_concordd() {
    restart_concordd >/dev/null 2>&1 || echo "error: could not restart concordd" >&2
}

# Creates an account through the CLI (extra FLAGS are passed to `account create`) and prints
# its id; ends the script when the CLI returns none.
cli_new_account() {
    local name=$1 id
    shift
    id=$(cli -o json account create --name "$name" "$@" | jq -r .id)
    [ -n "$id" ] && [ "$id" != null ] || fail "account create returned no id"
    echo "$id"
}

# Prints a new API token of the CLI's user, named NAME; ends the script when the CLI prints
# none.
cli_new_token() {
    local token
    token=$(cli token create --name "$1" 2>/dev/null) || true
    [ -n "$token" ] || fail "token create printed no token"
    echo "$token"
}

warm_up_tls() {
    timeout "$(slow_s 10)" openssl s_client -connect "$1" -CAfile "$2" </dev/null >/dev/null 2>&1 ||
        true
}
