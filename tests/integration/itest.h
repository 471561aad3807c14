/*
 * itest.h - the harness shared by the integration tests (test_*.c): the
 * environment, connections, calls, and the users, accounts and team members
 * most tests start from.
 *
 * The tests run under tests/lib/with-env, which exports the addresses,
 * certificates and credentials of the shared test environment (see
 * tests/lib/testenv). Helpers that cannot do their job fail the running
 * cmocka test with a message that says why; the few that may be used outside
 * a test (itest_env, itest_slow_factor, itest_options, itest_call,
 * itest_login_on, itest_try_login) never do.
 *
 * Replies are owned by the caller unless the helper says the harness keeps
 * them: kept replies live until itest_release, which a test group runs as its
 * per-test teardown.
 */
#ifndef ITEST_H
#define ITEST_H

#include <stddef.h>
#include <libpq-fe.h>
#include "concord/v1/auth.pb-c.h"
#include "concord/v1/stakeholder.pb-c.h"
#include "concord/v1/team.pb-c.h"
#include "concord_client.h"

/** Room for an id as the server writes it (a bigint in decimal), with its NUL. */
#define ITEST_ID_LEN 24

/** Room for a session token, with its NUL. */
#define ITEST_TOKEN_LEN 160

/** The password of every user itest_new_user creates. */
#define ITEST_PASSWORD "itest-password-1"

/* ---- the environment ---------------------------------------------------- */

/**
 * The value of environment variable name. A missing or empty variable means
 * the program was not started under tests/lib/with-env: it says so and exits
 * with status 2.
 */
const char *itest_env(const char *name);

/**
 * How many times slower than usual concordd answers (CONCORD_TEST_SLOW, set
 * when it runs under valgrind; 1 when unset). Waits that only measure its
 * speed are multiplied by it. A value that is not a whole number from 1 to
 * 1000 exits with status 2.
 */
int itest_slow_factor(void);

/**
 * The connection settings every itest_connect uses: the environment's
 * address and CA (CONCORD_HOST, CONCORD_PORT, CONCORD_CA), with the server
 * certificate checked for "localhost". Read from the environment on first
 * use; a test may change the timeouts before it connects.
 */
cc_options *itest_options(void);

/** Connects with itest_options(); token (may be NULL) is sent with every call. */
cc_conn *itest_connect(const char *token);

/* ---- calls --------------------------------------------------------------- */

/**
 * The status of the harness's most recent call, copied, so that it stays
 * valid after later calls (libconcord's status lasts until the next call on
 * the same connection).
 */
typedef struct itest_status {
    int code;          /* cc_code */
    char message[512]; /* the server's message, "" when none */
    char field[128];   /* the first field violation's field, "" when none */
} itest_status;

/** Written by every call the harness makes (itest_call and all that use it). */
extern itest_status itest_last;

/**
 * Calls method ("concord.v1.AccountService/GetAccount") with req and returns
 * the status code. resp, when not NULL, points to a message pointer of the
 * type resp_desc describes: it gets the reply on CC_OK and NULL otherwise,
 * and the caller frees it; with resp NULL the reply is dropped. *st
 * (optional) gets libconcord's status, valid until the next call on c.
 */
int itest_call(cc_conn *c, const char *method, const void *req,
               const ProtobufCMessageDescriptor *resp_desc, void *resp, const cc_status **st);

/** itest_call, but the harness keeps the reply until itest_release. */
int itest_call_kept(cc_conn *c, const char *method, const void *req,
                    const ProtobufCMessageDescriptor *resp_desc, void *resp, const cc_status **st);

/**
 * Calls method and fails the test, naming the method, both codes and the
 * server's message, unless the status code is want. Returns the reply on
 * CC_OK (the caller frees it), NULL otherwise.
 */
void *itest_expect(cc_conn *c, const char *method, const void *req,
                   const ProtobufCMessageDescriptor *resp_desc, int want);

/** itest_expect for a call that must succeed; returns the reply (the caller frees it). */
void *itest_call_ok(cc_conn *c, const char *method, const void *req,
                    const ProtobufCMessageDescriptor *resp_desc);

/** Keeps msg (may be NULL) until itest_release; returns it. */
void *itest_keep(void *msg);

/** Frees every kept reply. Has the shape of a cmocka setup or teardown; always 0. */
int itest_release(void **state);

/** True when st (may be NULL) names field among its violations. */
int itest_names_field(const cc_status *st, const char *field);

/* ---- users ----------------------------------------------------------------- */

/** A signed-in user. */
typedef struct itest_user {
    char username[64];
    char id[ITEST_ID_LEN];
    char token[ITEST_TOKEN_LEN]; /* the session token Login gave */
    cc_conn *conn;               /* a connection that sends token with every call */
} itest_user;

/**
 * One Login call on c; returns its status code. On CC_OK the session token
 * goes to token (when not NULL). *st (optional) gets the status.
 */
int itest_login_on(cc_conn *c, const char *username, const char *password, char *token, size_t len,
                   const cc_status **st);

/**
 * Logs in on a connection of its own (settings o; NULL: itest_options()),
 * which it closes, and returns the status code: CC_UNAVAILABLE, with the
 * reason in itest_last.message, when it cannot connect. Never fails the test:
 * for callers that retry or expect a failure.
 */
int itest_try_login(const cc_options *o, const char *username, const char *password, char *token,
                    size_t len);

/** Logs in on a connection of its own, which it closes, and copies the token; must succeed. */
void itest_login_token(const char *username, const char *password, char *token, size_t len);

/** Logs in and fills u; u->conn stays open (itest_user_close). Must succeed. */
void itest_login(itest_user *u, const char *username, const char *password);

/** itest_login as the environment's admin (CONCORD_ADMIN_USER, CONCORD_ADMIN_PASSWORD). */
void itest_login_admin(itest_user *u);

/**
 * Creates a user of department with role, named by the printf-style format
 * (names carry a run id: the database is shared) and with ITEST_PASSWORD,
 * through admin's connection, then logs them in as u. Must succeed.
 */
void itest_new_user(cc_conn *admin, itest_user *u, Concord__V1__Department department,
                    Concord__V1__Role role, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** Closes u's connection. Accepts a user that never logged in (all zero). */
void itest_user_close(itest_user *u);

/* ---- accounts and teams ----------------------------------------------------- */

/**
 * Creates an account named by the printf-style format, with industry (NULL:
 * none), through c, and copies its id to id (ITEST_ID_LEN bytes). Similar
 * names are allowed: test accounts share words on purpose. Must succeed.
 */
void itest_new_account(cc_conn *c, char *id, const char *industry, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Puts user on the account's team through c; returns the status code. */
int itest_add_member(cc_conn *c, const char *account, const char *user,
                     Concord__V1__TeamRole team_role, Concord__V1__AccessLevel access);

/**
 * Creates a stakeholder of account (name, level, reports_to: an id, or NULL
 * for none) through c. Returns the status code; the stakeholder on CC_OK, kept
 * by the harness until itest_release; *st is the call's status.
 */
int itest_create_stakeholder(cc_conn *c, const char *account, const char *name,
                             Concord__V1__StakeholderLevel level, const char *reports_to,
                             Concord__V1__Stakeholder **out, const cc_status **st);

/** itest_create_stakeholder that must succeed; returns the stakeholder (kept). */
Concord__V1__Stakeholder *itest_new_stakeholder(cc_conn *c, const char *account, const char *name,
                                                Concord__V1__StakeholderLevel level,
                                                const char *reports_to);

/** Checks that concordd still serves a new connection (WhoAmI with token). */
void itest_still_serving(const char *token);

/* ---- PostgreSQL --------------------------------------------------------------- */

/** Connects to PostgreSQL with conninfo; must succeed. The caller PQfinish()es it. */
PGconn *itest_pg_connect(const char *conninfo);

/**
 * Connects to the concord database as the cluster superuser (PGHOST, PGPORT,
 * PG_SUPERUSER), which row-level security does not bind; must succeed.
 */
PGconn *itest_pg_superuser(void);

/** The first value, as a number, of a one-row query with one text parameter (may be NULL). */
long long itest_sql_count(PGconn *pg, const char *sql, const char *param);

#endif
