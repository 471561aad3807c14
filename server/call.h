/*
 * call.h - what a handler sees: the call context, its outcome, SQL helpers.
 *
 * A handler is a plain sequential function running on a worker thread after
 * the dispatcher authenticated the caller and set concord.user_id (role,
 * department) on the connection for row-level security. A SRV_WRITE handler
 * runs inside one transaction, committed if it returns CC_OK and rolled back
 * otherwise; a read handler's statements each commit on their own, which
 * saves two round trips per call:
 *
 *     static int get_account(srv_call *c, const ProtobufCMessage *in,
 *                            ProtobufCMessage **out);
 *
 * Everything it allocates comes from c->arena (freed after the reply is
 * packed): unpacked request, response message, PGresults (srv_sql registers
 * PQclear), strings.
 */
#ifndef SRV_CALL_H
#define SRV_CALL_H

#include "arena.h"
#include "cc_status.h"
#include "db.h"
#include "google/protobuf/field_mask.pb-c.h"
#include "google/protobuf/timestamp.pb-c.h"
#include "settings.h"
#include <libpq-fe.h>
#include <protobuf-c/protobuf-c.h>
#include <stdint.h>

/* Method flags. */
enum {
    SRV_PUBLIC = 1 << 0, /* no credentials needed (Login) */
    SRV_WRITE = 1 << 1,  /* mutates: runs in one transaction; idempotency key honoured.
                          * Without it every statement commits on its own (reads). */
    SRV_ADMIN = 1 << 2,  /* admins only */
};

/* Roles and departments as stored in the database (lower-case proto names). */
typedef struct srv_user {
    int64_t id; /* 0: not authenticated */
    char id_text[24];
    const char *username;
    const char *department; /* "sales", ... */
    const char *role;       /* "member", "manager", "admin" */
    int64_t credential_id;
    int is_api_token;
} srv_user;

typedef struct srv_call {
    arena *arena;
    srv_db *db;
    const srv_settings *cfg;
    const char *method; /* "concord.v1.AccountService/GetAccount" */
    const char *source; /* peer address */
    const char *token;  /* the credential sent with the call (may be "") */
    srv_user user;
    uint64_t deadline_ms; /* monotonic */
    /* Outcome, set through srv_fail / srv_violation. */
    int code;
    const char *message;
    Concord__V1__FieldViolation **violations;
    size_t n_violations;
    size_t cap_violations;
    /* Cached credentials to drop once the call has committed (logout, disable, ...). */
    int64_t forget_user_id;
    int64_t forget_credential_id;
    /* Set by a handler whose writes must stay although it fails (failed-login counters). */
    int commit_on_failure;
    /* What a denied call was after, for the audit row (default: the call). */
    const char *denied_type;
    const char *denied_id;
} srv_call;

typedef int (*srv_handler)(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out);

/*
 * A read that is a single statement can also declare that statement: plan
 * checks the request and names the statement and its parameters, reply builds
 * the response from the result. Calls of such methods that wait in the queue
 * together are then sent to PostgreSQL as one libpq pipeline (exec.c), one
 * round trip for all of them. reply must not run statements of its own (the
 * connection is still in pipeline mode then). The method's handler runs such a
 * call alone:
 *
 *     static int get_account(srv_call *c, const ProtobufCMessage *in,
 *                            ProtobufCMessage **out)
 *     {
 *         return srv_run_query(c, &get_account_query, in, out);
 *     }
 */
#define SRV_QUERY_MAX_PARAMS 8
typedef struct srv_query {
    const char *sql; /* a string literal, prepared once per connection */
    int nparams;
    const char *params[SRV_QUERY_MAX_PARAMS]; /* text; NULL is SQL NULL */
} srv_query;

typedef struct srv_query_method {
    int (*plan)(srv_call *c, const ProtobufCMessage *in, srv_query *q);
    int (*reply)(srv_call *c, const ProtobufCMessage *in, PGresult *r, ProtobufCMessage **out);
} srv_query_method;

typedef struct srv_method {
    const char *name; /* method name as in the .proto service, e.g. "GetAccount" */
    srv_handler fn;
    unsigned flags;
    const srv_query_method *query; /* set for a one-statement read that may be pipelined */
} srv_method;

/**
 * A periodic task run by concordd itself (scheduler.c), on a worker, inside a
 * transaction, as the system: row-level security sees an admin with user id 0
 * and audit rows have no actor. A task decides itself whether it is due (for
 * example "no evaluation recorded for this month end yet") and should take a
 * transaction-level advisory lock so that only one concordd instance runs it.
 */
typedef int (*srv_task_fn)(srv_call *c);

typedef struct srv_service {
    const ProtobufCServiceDescriptor *desc;
    const srv_method *methods; /* terminated by {NULL} */
} srv_service;

/** Records a failure (code and a printf message for people) and returns code. */
int srv_fail(srv_call *c, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/** Adds a field violation; the call fails with INVALID_ARGUMENT at srv_check. */
void srv_violation(srv_call *c, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** CC_INVALID_ARGUMENT ("invalid request" + violations) if any were added, else CC_OK. */
int srv_check(srv_call *c);

/**
 * Runs a cached prepared statement; the nparams parameters follow as
 * const char * (NULL is SQL NULL). Returns the result (cleared with the
 * arena) or NULL after recording the failure: the SQLSTATE decides the code
 * (unique violation -> ALREADY_EXISTS, connection loss -> UNAVAILABLE, ...).
 */
PGresult *srv_sql(srv_call *c, const char *sql, int nparams, ...);
/** Same with an array of parameters. */
PGresult *srv_sqlv(srv_call *c, const char *sql, int nparams, const char *const *params);

/** Takes a result the caller got from the database (NULL: the connection failed): returns it
 *  (cleared with the arena) when it succeeded, else records the failure as srv_sql does and
 *  returns NULL. */
PGresult *srv_result(srv_call *c, PGresult *r);
/** Runs a one-statement read alone: plan, the statement, reply. */
int srv_run_query(srv_call *c, const srv_query_method *q, const ProtobufCMessage *in,
                  ProtobufCMessage **out);

/** Like srv_sqlv for SQL text assembled at run time (filters): not prepared. */
PGresult *srv_sql_dynamic(srv_call *c, const char *sql, int nparams, const char *const *params);

/**
 * Streams rows into a table with COPY FROM STDIN (text format) inside the
 * call's transaction: copy_sql is "COPY t (cols) FROM STDIN", data the rows
 * (tab-separated, newline-terminated, escaped with srv_copy_escape). Bulk
 * paths load a temporary table this way, then INSERT ... SELECT into the real
 * one (COPY into a table with row-level security is not allowed).
 */
int srv_copy_in(srv_call *c, const char *copy_sql, const char *data, size_t len) CC_MUST_CHECK;
/** A byte buffer grown in the call's arena, always NUL-terminated; {0} is empty. */
typedef struct srv_buf {
    char *data;
    size_t len, cap;
} srv_buf;
/** Appends n bytes of s to b. */
void srv_buf_put(srv_call *c, srv_buf *b, const char *s, size_t n);
/** Appends s escaped for COPY text format (backslash, tab, newline, CR); NULL becomes \N. */
void srv_copy_escape(srv_call *c, srv_buf *b, const char *s);

/**
 * The checks every Update<X> request shares: the resource message is present
 * (violation on field), the update_mask names at least one field, and the
 * version read is 1 or more. Records violations; call srv_check after.
 */
void srv_check_update(srv_call *c, const char *field, const void *resource,
                      const Google__Protobuf__FieldMask *mask, int64_t version);

/** page_size rule of every list: default 50, at most 500; violation on field if negative. */
int srv_page_size(srv_call *c, const char *field, int requested);
/** Opaque page token from a keyset key (arena). */
const char *srv_page_token_encode(srv_call *c, const char *key);
/** The key of a page token, or NULL after recording a violation on field ("" -> NULL, no
 * violation). */
const char *srv_page_token_decode(srv_call *c, const char *field, const char *token);

/** Number formatting into the arena, for SQL parameters. */
const char *srv_i64(srv_call *c, int64_t v);
/** Parses an opaque id ("42"); returns 0 and records a violation naming field if bad. */
int64_t srv_parse_id(srv_call *c, const char *field, const char *text);
/** Maps a SQLSTATE to a status code (the one table). */
int srv_sqlstate_code(const char *sqlstate);

/** Proto enum value -> database text (lower-case value name); NULL for 0. */
const char *srv_enum_to_db(srv_call *c, const ProtobufCEnumDescriptor *d, int value);
/** Database text -> proto enum value; 0 for NULL or unknown. */
int srv_enum_from_db(const ProtobufCEnumDescriptor *d, const char *text);
/** Validates an enum value from a request: must be a declared value. */
int srv_enum_valid(const ProtobufCEnumDescriptor *d, int value);

/** Timestamp (arena) from PostgreSQL's timestamptz text as returned by our queries
 *  (we select extract(epoch ...) as text: "1732269600.123456"). NULL for NULL. */
Google__Protobuf__Timestamp *srv_ts(srv_call *c, const char *epoch_text);

/** Writes the audit row for a mutation; before/after are messages (NULL allowed). */
int srv_audit(srv_call *c, const char *action, const char *target_type, const char *target_id,
              const ProtobufCMessage *before, const ProtobufCMessage *after) CC_MUST_CHECK;

/** Admin check helper: PERMISSION_DENIED unless the caller is an admin. */
int srv_require_admin(srv_call *c);
int srv_is_admin(const srv_call *c);

#endif
