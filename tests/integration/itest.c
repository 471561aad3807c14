/*
 * itest.c - the harness shared by the integration tests: see itest.h.
 *
 * Invariants:
 *  - Every call the harness makes goes through itest_call, so itest_last
 *    always describes the most recent one.
 *  - Helpers that may run outside a cmocka test (itest_env, itest_slow_factor,
 *    itest_options, itest_call, itest_login_on, itest_try_login) never call
 *    fail_msg: test_faults.c is also a command-line tool for the fault scripts.
 *  - Kept replies are freed only by itest_release; the pool is bounded, and a
 *    test that outgrows it fails rather than leaking.
 *
 * The tests run one at a time on one thread, so the settings, itest_last and
 * the pool of kept replies are plain process-wide state.
 */
/* cmocka needs setjmp.h, stdarg.h and stddef.h before it. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "concord/v1/account.pb-c.h"
#include "itest.h"
// clang-format on

itest_status itest_last;

static cc_options options;
static int options_read;

/* Enough for the busiest test (the activity timelines keep thousands of pages). */
static ProtobufCMessage *kept[4096];
static size_t n_kept;

const char *itest_env(const char *name)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0') {
        fprintf(stderr, "missing environment variable %s (run under tests/lib/with-env)\n", name);
        exit(2);
    }
    return v;
}

int itest_slow_factor(void)
{
    const char *s = getenv("CONCORD_TEST_SLOW");
    if (s == NULL || *s == '\0')
        return 1;
    char *end;
    long n = strtol(s, &end, 10);
    if (*end != '\0' || n < 1 || n > 1000) {
        fprintf(stderr, "CONCORD_TEST_SLOW must be a whole number from 1 to 1000, not '%s'\n", s);
        exit(2);
    }
    return (int)n;
}

cc_options *itest_options(void)
{
    if (!options_read) {
        options.host = itest_env("CONCORD_HOST");
        options.port = atoi(itest_env("CONCORD_PORT"));
        options.ca_file = itest_env("CONCORD_CA");
        /* The environment's server certificate is issued for localhost. */
        options.server_name = "localhost";
        options_read = 1;
    }
    return &options;
}

cc_conn *itest_connect(const char *token)
{
    cc_conn *c = NULL;
    char err[256];
    if (cc_connect(itest_options(), &c, err, sizeof(err)) != 0)
        fail_msg("connect: %s", err);
    cc_conn_set_token(c, token);
    return c;
}

/* ---- calls ------------------------------------------------------------------ */

int itest_call(cc_conn *c, const char *method, const void *req,
               const ProtobufCMessageDescriptor *resp_desc, void *resp, const cc_status **st)
{
    ProtobufCMessage *out = NULL;
    const cc_status *s = NULL;
    int code = cc_invoke(c, method, req, resp_desc, &out, &s);
    itest_last.code = code;
    snprintf(itest_last.message, sizeof(itest_last.message), "%s",
             s && s->message ? s->message : "");
    snprintf(itest_last.field, sizeof(itest_last.field), "%s",
             s && s->n_violations ? s->violations[0]->field : "");
    if (st)
        *st = s;
    /* resp points to a pointer to the generated message type: copy the
     * pointer's bytes rather than write through a ProtobufCMessage **. */
    if (resp)
        memcpy(resp, &out, sizeof(out));
    else
        protobuf_c_message_free_unpacked(out, NULL);
    return code;
}

int itest_call_kept(cc_conn *c, const char *method, const void *req,
                    const ProtobufCMessageDescriptor *resp_desc, void *resp, const cc_status **st)
{
    ProtobufCMessage *out = NULL;
    int code = itest_call(c, method, req, resp_desc, &out, st);
    itest_keep(out);
    if (resp)
        memcpy(resp, &out, sizeof(out));
    return code;
}

void *itest_expect(cc_conn *c, const char *method, const void *req,
                   const ProtobufCMessageDescriptor *resp_desc, int want)
{
    ProtobufCMessage *out = NULL;
    int code = itest_call(c, method, req, resp_desc, &out, NULL);
    if (code != want) {
        protobuf_c_message_free_unpacked(out, NULL);
        fail_msg("%s: status %s (%s), wanted %s", method, cc_code_name(code), itest_last.message,
                 cc_code_name(want));
    }
    return out;
}

void *itest_call_ok(cc_conn *c, const char *method, const void *req,
                    const ProtobufCMessageDescriptor *resp_desc)
{
    return itest_expect(c, method, req, resp_desc, CC_OK);
}

void *itest_keep(void *msg)
{
    if (msg == NULL)
        return NULL;
    if (n_kept == sizeof(kept) / sizeof(kept[0])) {
        protobuf_c_message_free_unpacked(msg, NULL);
        fail_msg("more than %zu replies kept in one test", n_kept);
    }
    kept[n_kept++] = msg;
    return msg;
}

int itest_release(void **state)
{
    (void)state;
    for (size_t i = 0; i < n_kept; i++)
        protobuf_c_message_free_unpacked(kept[i], NULL);
    n_kept = 0;
    return 0;
}

int itest_names_field(const cc_status *st, const char *field)
{
    for (size_t i = 0; st && i < st->n_violations; i++)
        if (strcmp(st->violations[i]->field, field) == 0)
            return 1;
    return 0;
}

/* ---- users --------------------------------------------------------------------- */

int itest_login_on(cc_conn *c, const char *username, const char *password, char *token, size_t len,
                   const cc_status **st)
{
    Concord__V1__LoginRequest req = CONCORD__V1__LOGIN_REQUEST__INIT;
    req.username = (char *)username;
    req.password = (char *)password;
    Concord__V1__LoginResponse *lr = NULL;
    int code = itest_call(c, "concord.v1.AuthService/Login", &req,
                          &concord__v1__login_response__descriptor, &lr, st);
    if (code == CC_OK && token)
        snprintf(token, len, "%s", lr->token);
    protobuf_c_message_free_unpacked((ProtobufCMessage *)lr, NULL);
    return code;
}

int itest_try_login(const cc_options *o, const char *username, const char *password, char *token,
                    size_t len)
{
    cc_conn *c = NULL;
    char err[256];
    if (cc_connect(o ? o : itest_options(), &c, err, sizeof(err)) != 0) {
        itest_last.code = CC_UNAVAILABLE;
        snprintf(itest_last.message, sizeof(itest_last.message), "connect: %s", err);
        itest_last.field[0] = '\0';
        return CC_UNAVAILABLE;
    }
    int code = itest_login_on(c, username, password, token, len, NULL);
    cc_conn_free(c);
    return code;
}

void itest_login_token(const char *username, const char *password, char *token, size_t len)
{
    cc_conn *c = itest_connect(NULL);
    if (itest_login_on(c, username, password, token, len, NULL) != CC_OK) {
        cc_conn_free(c);
        fail_msg("login %s: %s", username, itest_last.message);
    }
    cc_conn_free(c);
}

void itest_login(itest_user *u, const char *username, const char *password)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->username, sizeof(u->username), "%s", username);
    u->conn = itest_connect(NULL);
    Concord__V1__LoginRequest req = CONCORD__V1__LOGIN_REQUEST__INIT;
    req.username = (char *)username;
    req.password = (char *)password;
    Concord__V1__LoginResponse *lr = NULL;
    if (itest_call(u->conn, "concord.v1.AuthService/Login", &req,
                   &concord__v1__login_response__descriptor, &lr, NULL) != CC_OK)
        fail_msg("login %s: %s", username, itest_last.message);
    snprintf(u->token, sizeof(u->token), "%s", lr->token);
    snprintf(u->id, sizeof(u->id), "%s", lr->user->id);
    protobuf_c_message_free_unpacked(&lr->base, NULL);
    cc_conn_set_token(u->conn, u->token);
}

void itest_login_admin(itest_user *u)
{
    itest_login(u, itest_env("CONCORD_ADMIN_USER"), itest_env("CONCORD_ADMIN_PASSWORD"));
}

void itest_new_user(cc_conn *admin, itest_user *u, Concord__V1__Department department,
                    Concord__V1__Role role, const char *fmt, ...)
{
    char username[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(username, sizeof(username), fmt, ap);
    va_end(ap);
    Concord__V1__CreateUserRequest req = CONCORD__V1__CREATE_USER_REQUEST__INIT;
    Concord__V1__User user = CONCORD__V1__USER__INIT;
    user.username = username;
    user.display_name = username;
    user.department = department;
    user.role = role;
    req.user = &user;
    req.password = ITEST_PASSWORD;
    if (itest_call(admin, "concord.v1.AuthService/CreateUser", &req, &concord__v1__user__descriptor,
                   NULL, NULL) != CC_OK)
        fail_msg("create user %s: %s", username, itest_last.message);
    itest_login(u, username, ITEST_PASSWORD);
}

void itest_user_close(itest_user *u)
{
    cc_conn_free(u->conn);
    u->conn = NULL;
}

/* ---- accounts and teams ---------------------------------------------------------- */

void itest_new_account(cc_conn *c, char *id, const char *industry, const char *fmt, ...)
{
    char name[128];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof(name), fmt, ap);
    va_end(ap);
    Concord__V1__CreateAccountRequest req = CONCORD__V1__CREATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    a.name = name;
    if (industry)
        a.industry = (char *)industry;
    req.account = &a;
    req.allow_similar_name = 1;
    Concord__V1__Account *made = NULL;
    if (itest_call(c, "concord.v1.AccountService/CreateAccount", &req,
                   &concord__v1__account__descriptor, &made, NULL) != CC_OK)
        fail_msg("create account %s: %s", name, itest_last.message);
    snprintf(id, ITEST_ID_LEN, "%s", made->id);
    protobuf_c_message_free_unpacked(&made->base, NULL);
}

int itest_create_stakeholder(cc_conn *c, const char *account, const char *name,
                             Concord__V1__StakeholderLevel level, const char *reports_to,
                             Concord__V1__Stakeholder **out, const cc_status **st)
{
    Concord__V1__CreateStakeholderRequest req = CONCORD__V1__CREATE_STAKEHOLDER_REQUEST__INIT;
    Concord__V1__Stakeholder s = CONCORD__V1__STAKEHOLDER__INIT;
    s.account_id = (char *)account;
    s.name = (char *)name;
    s.level = level;
    s.reports_to_id = (char *)(reports_to ? reports_to : "");
    req.stakeholder = &s;
    *out = NULL;
    return itest_call_kept(c, "concord.v1.StakeholderService/CreateStakeholder", &req,
                           &concord__v1__stakeholder__descriptor, out, st);
}

Concord__V1__Stakeholder *itest_new_stakeholder(cc_conn *c, const char *account, const char *name,
                                                Concord__V1__StakeholderLevel level,
                                                const char *reports_to)
{
    Concord__V1__Stakeholder *s;
    const cc_status *st;
    if (itest_create_stakeholder(c, account, name, level, reports_to, &s, &st) != CC_OK)
        fail_msg("create stakeholder %s: %s", name, itest_last.message);
    return s;
}

int itest_add_member(cc_conn *c, const char *account, const char *user,
                     Concord__V1__TeamRole team_role, Concord__V1__AccessLevel access)
{
    Concord__V1__AddTeamMemberRequest req = CONCORD__V1__ADD_TEAM_MEMBER_REQUEST__INIT;
    Concord__V1__TeamMember m = CONCORD__V1__TEAM_MEMBER__INIT;
    m.account_id = (char *)account;
    m.user_id = (char *)user;
    m.team_role = team_role;
    m.access_level = access;
    req.member = &m;
    return itest_call(c, "concord.v1.TeamService/AddTeamMember", &req,
                      &concord__v1__team_member__descriptor, NULL, NULL);
}

void itest_still_serving(const char *token)
{
    cc_conn *c = itest_connect(token);
    Concord__V1__WhoAmIRequest req = CONCORD__V1__WHO_AM_IREQUEST__INIT;
    assert_int_equal(itest_call(c, "concord.v1.AuthService/WhoAmI", &req,
                                &concord__v1__who_am_iresponse__descriptor, NULL, NULL),
                     CC_OK);
    cc_conn_free(c);
}

/* ---- PostgreSQL ---------------------------------------------------------------------- */

PGconn *itest_pg_connect(const char *conninfo)
{
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK)
        fail_msg("connect to PostgreSQL: %s", PQerrorMessage(pg));
    return pg;
}

PGconn *itest_pg_superuser(void)
{
    char conninfo[512];
    snprintf(conninfo, sizeof(conninfo), "host=%s port=%s user=%s dbname=concord",
             itest_env("PGHOST"), itest_env("PGPORT"), itest_env("PG_SUPERUSER"));
    return itest_pg_connect(conninfo);
}

long long itest_sql_count(PGconn *pg, const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *r = PQexecParams(pg, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    long long v = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}
