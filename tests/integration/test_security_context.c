/*
 * test_security_context.c - no caller context leaks between the pooled
 * database transactions of concordd, and row-level security holds for the
 * application role on its own.
 *
 * Through concordd: many connections at once, each pipelining calls that
 * alternate between the admin, a member of another department who is on no
 * team, and no token at all, on an account only the admin can see. Every
 * worker's database connection thus serves all three callers back to back;
 * the member must never see the account and the anonymous calls must never
 * be served, across thousands of calls.
 *
 * Straight to PostgreSQL as concord_app: with no caller set, every table with
 * row-level security (the list comes from the catalog and must include every
 * table the migrations put under it) shows zero rows although the owner sees
 * rows, or cannot be read by concord_app at all; a caller set with set_config(..., true) ends with its transaction;
 * every table with an account_id column is under row-level security.
 *
 * Environment as in test_protocol.c, plus PGHOST, PGPORT, PG_SUPERUSER and
 * CONCORD_SOURCE_DIR.
 */
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "concord/v1/account.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "concord_client.h"
#include "itest.h"

static char admin_token[ITEST_TOKEN_LEN];
static char member_token[ITEST_TOKEN_LEN];
static char secret_id[32];
static char secret_name[96];
static char run_id[32];

static int setup(void **state)
{
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL), (int)getpid());
    itest_user admin, member;
    itest_login_admin(&admin);
    snprintf(admin_token, sizeof(admin_token), "%s", admin.token);
    itest_new_user(admin.conn, &member, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER,
                   "ctx%s", run_id);
    snprintf(member_token, sizeof(member_token), "%s", member.token);
    snprintf(secret_name, sizeof(secret_name), "Context Secret %s", run_id);
    itest_new_account(admin.conn, secret_id, NULL, "%s", secret_name);
    itest_user_close(&member);
    itest_user_close(&admin);
    return 0;
}

/* ---- alternating callers through concordd ------------------------------------- */

enum { CONNS = 8, ROUNDS = 100, WINDOW = 40 };

typedef enum { ADMIN_GET, MEMBER_GET, ANON_GET, MEMBER_LIST, ADMIN_LIST, KINDS } call_kind;

typedef struct {
    cc_client *client;
    int connected; /* 0 pending, 1 ready, -1 failed */
    int sent;      /* calls sent so far */
} conn_state;

static struct {
    conn_state conns[CONNS];
    uint8_t get_req[64];
    size_t get_len;
    uint8_t list_req[256];
    size_t list_len;
    int answered;
    int leaks;       /* the member or an anonymous caller saw the account */
    int admin_wrong; /* the admin did not see it */
    int other;       /* any other outcome (UNAVAILABLE, ...) */
    char first_problem[256];
} run;

static const call_kind kind_values[KINDS] = {ADMIN_GET, MEMBER_GET, ANON_GET, MEMBER_LIST,
                                             ADMIN_LIST};

static void problem(int *counter, const char *fmt, ...)
{
    (*counter)++;
    if (run.first_problem[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(run.first_problem, sizeof(run.first_problem), fmt, ap);
        va_end(ap);
    }
}

/* How many of the listed accounts are the secret one; -1 when the reply does not unpack. */
static int secret_in_list(const uint8_t *payload, size_t len, size_t *total)
{
    Concord__V1__ListAccountsResponse *lr =
        concord__v1__list_accounts_response__unpack(NULL, len, payload);
    if (lr == NULL)
        return -1;
    int n = 0;
    for (size_t i = 0; i < lr->n_accounts; i++)
        n += strcmp(lr->accounts[i]->id, secret_id) == 0;
    *total = lr->n_accounts;
    concord__v1__list_accounts_response__free_unpacked(lr, NULL);
    return n;
}

static void send_next(conn_state *cs);

static void on_reply(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                     void *ud)
{
    call_kind kind = *(const call_kind *)ud;
    run.answered++;
    size_t total = 0;
    int found;
    switch (kind) {
    case ADMIN_GET:
        if (st->code != CC_OK)
            problem(&run.admin_wrong, "admin GetAccount: code %d %s", st->code, st->message);
        break;
    case MEMBER_GET:
        if (st->code == CC_OK)
            problem(&run.leaks, "the member got the secret account through GetAccount");
        else if (st->code != CC_NOT_FOUND)
            problem(&run.other, "member GetAccount: code %d %s", st->code, st->message);
        break;
    case ANON_GET:
        if (st->code == CC_OK)
            problem(&run.leaks, "a call without a token got the secret account");
        else if (st->code != CC_UNAUTHENTICATED)
            problem(&run.other, "anonymous GetAccount: code %d %s", st->code, st->message);
        break;
    case MEMBER_LIST:
        if (st->code != CC_OK) {
            problem(&run.other, "member ListAccounts: code %d %s", st->code, st->message);
            break;
        }
        found = secret_in_list(payload, len, &total);
        if (found != 0 || total != 0)
            problem(&run.leaks, "the member's list held %zu accounts (%d secret)", total, found);
        break;
    case ADMIN_LIST:
        if (st->code != CC_OK) {
            problem(&run.admin_wrong, "admin ListAccounts: code %d %s", st->code, st->message);
            break;
        }
        found = secret_in_list(payload, len, &total);
        if (found != 1)
            problem(&run.admin_wrong, "the admin's list held the secret account %d times", found);
        break;
    default:
        break;
    }
    for (int i = 0; i < CONNS; i++)
        if (run.conns[i].client == c)
            send_next(&run.conns[i]);
}

/* Sends the connection's next call: the kinds rotate, so consecutive calls on a
 * connection (and on the workers serving it) switch callers every time. */
static void send_next(conn_state *cs)
{
    if (cs->sent >= ROUNDS * KINDS)
        return;
    const call_kind *kind = &kind_values[(cs->sent + (int)(cs - run.conns)) % KINDS];
    cs->sent++;
    const char *token = *kind == ANON_GET ? NULL
                        : (*kind == ADMIN_GET || *kind == ADMIN_LIST) ? admin_token
                                                                      : member_token;
    int list = *kind == MEMBER_LIST || *kind == ADMIN_LIST;
    int rc = cc_client_call(cs->client,
                            list ? "concord.v1.AccountService/ListAccounts"
                                 : "concord.v1.AccountService/GetAccount",
                            list ? run.list_req : run.get_req, list ? run.list_len : run.get_len,
                            token, NULL, 60000, on_reply, (void *)kind);
    if (rc != 0) {
        problem(&run.other, "cc_client_call: %d", rc);
        run.answered++;
    }
}

static void on_connect(cc_client *c, int status, void *ud)
{
    conn_state *cs = ud;
    cs->connected = status == 0 ? 1 : -1;
    if (status != 0)
        return;
    for (int i = 0; i < WINDOW; i++)
        send_next(cs);
}

static void member_never_sees_admin_account_across_pooled_calls(void **state)
{
    memset(&run, 0, sizeof(run));
    Concord__V1__GetAccountRequest get = CONCORD__V1__GET_ACCOUNT_REQUEST__INIT;
    get.id = secret_id;
    run.get_len = protobuf_c_message_pack(&get.base, run.get_req);
    Concord__V1__ListAccountsRequest list = CONCORD__V1__LIST_ACCOUNTS_REQUEST__INIT;
    list.query = secret_name;
    list.page_size = 10;
    run.list_len = protobuf_c_message_pack(&list.base, run.list_req);

    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    for (int i = 0; i < CONNS; i++) {
        assert_int_equal(cc_client_new(&loop, itest_options(), &run.conns[i].client), 0);
        assert_int_equal(cc_client_connect(run.conns[i].client, on_connect, &run.conns[i]), 0);
    }
    const int total = CONNS * ROUNDS * KINDS;
    time_t deadline = time(NULL) + 120;
    while (run.answered < total && time(NULL) < deadline) {
        int failed = 0;
        for (int i = 0; i < CONNS; i++)
            failed += run.conns[i].connected < 0;
        if (failed)
            break;
        uv_run(&loop, UV_RUN_ONCE);
    }
    int answered = run.answered;
    for (int i = 0; i < CONNS; i++)
        cc_client_close(run.conns[i].client);
    uv_run(&loop, UV_RUN_DEFAULT);
    assert_int_equal(uv_loop_close(&loop), 0);

    print_message("%d calls on %d connections: %d leaks, %d admin misses, %d other (%s)\n",
                  answered, CONNS, run.leaks, run.admin_wrong, run.other, run.first_problem);
    assert_int_equal(answered, total);
    assert_int_equal(run.leaks, 0);
    assert_int_equal(run.admin_wrong, 0);
    assert_int_equal(run.other, 0);
}

/* ---- straight to PostgreSQL ----------------------------------------------------- */

/* Runs one query that returns one value; returns a malloc'ed copy of it. */
static char *pg_value(PGconn *pg, const char *sql)
{
    PGresult *r = PQexec(pg, sql);
    if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    char *v = strdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

/* The tables the migrations put under row-level security, read from the migrations (server/sql). */
static int migration_rls_tables(char names[][64], int max)
{
    char pattern[512];
    snprintf(pattern, sizeof(pattern), "%s/server/sql/*.sql", itest_env("CONCORD_SOURCE_DIR"));
    glob_t g;
    int n = 0;
    if (glob(pattern, 0, NULL, &g) != 0)
        fail_msg("no migrations match %s", pattern);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "r");
        assert_non_null(f);
        char line[512];
        while (fgets(line, sizeof(line), f)) {
            char table[64];
            if (strstr(line, "ENABLE ROW LEVEL SECURITY") &&
                sscanf(line, " ALTER TABLE %63s ENABLE", table) == 1 && n < max)
                snprintf(names[n++], sizeof(names[0]), "%s", table);
        }
        fclose(f);
    }
    globfree(&g);
    return n;
}

static void app_role_without_caller_sees_no_row_of_any_rls_table(void **state)
{
    PGconn *su = itest_pg_superuser();
    PGconn *app = itest_pg_connect(itest_env("CONCORD_DB_URL"));
    PGresult *r = PQexec(su, "SELECT c.relname FROM pg_class c"
                             " JOIN pg_namespace n ON n.oid = c.relnamespace"
                             " WHERE n.nspname = 'concord' AND c.relkind = 'r'"
                             "   AND c.relrowsecurity ORDER BY 1");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    int n = PQntuples(r);

    /* Every table a migration put under row-level security still is. */
    char wanted[128][64];
    int nwanted = migration_rls_tables(wanted, 128);
    assert_true(nwanted >= 3);
    for (int i = 0; i < nwanted; i++) {
        int seen = 0;
        for (int k = 0; k < n; k++)
            seen |= strcmp(PQgetvalue(r, k, 0), wanted[i]) == 0;
        if (!seen)
            fail_msg("%s is not under row-level security", wanted[i]);
    }

    int checked = 0, nonempty = 0, closed = 0;
    for (int k = 0; k < n; k++) {
        const char *t = PQgetvalue(r, k, 0);
        char sql[256];
        /* A table concord_app may not read at all hides its rows all the more. */
        snprintf(sql, sizeof(sql),
                 "SELECT has_table_privilege('concord_app', 'concord.%s', 'SELECT')", t);
        char *readable = pg_value(su, sql);
        int skip = strcmp(readable, "t") != 0;
        free(readable);
        if (skip) {
            closed++;
            continue;
        }
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM concord.%s", t);
        char *owner_count = pg_value(su, sql);
        char *app_count = pg_value(app, sql);
        if (strcmp(app_count, "0") != 0)
            fail_msg("concord_app with no caller sees %s rows of %s", app_count, t);
        nonempty += strcmp(owner_count, "0") != 0;
        checked++;
        free(owner_count);
        free(app_count);
    }
    PQclear(r);
    print_message("%d tables under row-level security readable by concord_app, %d of them "
                  "with rows; %d more it may not read at all\n",
                  checked, nonempty, closed);
    /* The setup created an account, so at least accounts has rows to hide. */
    assert_true(nonempty >= 1);
    PQfinish(app);
    PQfinish(su);
}

static void caller_ends_with_its_transaction(void **state)
{
    PGconn *app = itest_pg_connect(itest_env("CONCORD_DB_URL"));
    PGresult *r = PQexec(app, "BEGIN");
    PQclear(r);
    char *v = pg_value(app, "SELECT set_config('concord.user_id', '1', true) ||"
                            "       set_config('concord.role', 'admin', true)");
    free(v);
    char *inside = pg_value(app, "SELECT count(*) > 0 FROM concord.accounts");
    r = PQexec(app, "COMMIT");
    PQclear(r);
    char *after = pg_value(app, "SELECT count(*) FROM concord.accounts");
    char *setting = pg_value(app, "SELECT coalesce(current_setting('concord.user_id', true), '')");
    /* Inside, the admin sees accounts; after COMMIT the same connection sees none. */
    assert_string_equal(inside, "t");
    assert_string_equal(after, "0");
    assert_string_equal(setting, "");
    free(inside);
    free(after);
    free(setting);
    PQfinish(app);
}

static void every_account_table_is_under_rls(void **state)
{
    PGconn *su = itest_pg_superuser();
    PGresult *r = PQexec(su, "SELECT string_agg(c.relname, ', ' ORDER BY c.relname)"
                             "  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
                             " WHERE n.nspname = 'concord' AND c.relkind = 'r'"
                             "   AND NOT c.relrowsecurity"
                             "   AND has_table_privilege('concord_app', c.oid, 'SELECT')"
                             "   AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid"
                             "                  AND a.attname = 'account_id'"
                             "                  AND NOT a.attisdropped)");
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    char open_tables[1024];
    snprintf(open_tables, sizeof(open_tables), "%s",
             PQgetisnull(r, 0, 0) ? "" : PQgetvalue(r, 0, 0));
    PQclear(r);
    PQfinish(su);
    if (open_tables[0] != '\0')
        fail_msg("tables with account_id that concord_app reads without row-level security: %s",
                 open_tables);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(member_never_sees_admin_account_across_pooled_calls),
        cmocka_unit_test(app_role_without_caller_sees_no_row_of_any_rls_table),
        cmocka_unit_test(caller_ends_with_its_transaction),
        cmocka_unit_test(every_account_table_is_under_rls),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
