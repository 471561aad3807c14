/*
 * call.c - helpers every handler uses: failures and field violations, SQL
 * with SQLSTATE mapping, ids, enums, timestamps, the audit row.
 */
#include "call.h"
#include "cc_log.h"
#include "pjson.h"
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int srv_fail(srv_call *c, int code, const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    /* The first failure wins: it is the cause, later ones are consequences. */
    if (c->code == CC_OK) {
        c->code = code;
        c->message = arena_strdup(c->arena, buf);
    }
    return c->code;
}

void srv_violation(srv_call *c, const char *field, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (c->n_violations == c->cap_violations) {
        size_t cap = c->cap_violations ? c->cap_violations * 2 : 8;
        Concord__V1__FieldViolation **v = arena_alloc(c->arena, cap * sizeof(*v));
        if (c->n_violations)
            memcpy(v, c->violations, c->n_violations * sizeof(*v));
        c->violations = v;
        c->cap_violations = cap;
    }
    Concord__V1__FieldViolation *fv = arena_alloc(c->arena, sizeof(*fv));
    concord__v1__field_violation__init(fv);
    fv->field = arena_strdup(c->arena, field);
    fv->description = arena_strdup(c->arena, buf);
    c->violations[c->n_violations++] = fv;
}

int srv_check(srv_call *c)
{
    if (c->n_violations == 0)
        return CC_OK;
    if (c->n_violations == 1)
        return srv_fail(c, CC_INVALID_ARGUMENT, "%s: %s", c->violations[0]->field,
                        c->violations[0]->description);
    return srv_fail(c, CC_INVALID_ARGUMENT, "invalid request: %zu fields", c->n_violations);
}

/* SQLSTATE (or its two-character class) -> status. First match wins. */
static const struct {
    const char *state;
    int code;
} sqlstate_map[] = {
    {"23505", CC_ALREADY_EXISTS},      /* unique_violation */
    {"23503", CC_FAILED_PRECONDITION}, /* foreign_key_violation */
    {"23514", CC_INVALID_ARGUMENT},    /* check_violation */
    {"23502", CC_INVALID_ARGUMENT},    /* not_null_violation */
    {"40001", CC_ABORTED},             /* serialization_failure */
    {"40P01", CC_ABORTED},             /* deadlock_detected */
    {"55P03", CC_ABORTED},             /* lock_not_available */
    {"57014", CC_DEADLINE_EXCEEDED},   /* query_canceled: statement_timeout */
    {"42501", CC_PERMISSION_DENIED},   /* insufficient_privilege, row-level security */
    {"22", CC_INVALID_ARGUMENT},       /* data exceptions */
    {"08", CC_UNAVAILABLE},            /* connection exceptions */
    {"57P", CC_UNAVAILABLE},           /* admin/crash shutdown, cannot connect now */
    {"53", CC_RESOURCE_EXHAUSTED},     /* insufficient resources */
    {"25P03", CC_DEADLINE_EXCEEDED},   /* idle_in_transaction_session_timeout */
};

int srv_sqlstate_code(const char *sqlstate)
{
    if (sqlstate == NULL)
        return CC_UNAVAILABLE;
    for (size_t i = 0; i < sizeof(sqlstate_map) / sizeof(sqlstate_map[0]); i++)
        if (strncmp(sqlstate, sqlstate_map[i].state, strlen(sqlstate_map[i].state)) == 0)
            return sqlstate_map[i].code;
    return CC_INTERNAL;
}

static void clear_result(void *r)
{
    PQclear(r);
}

PGresult *srv_result(srv_call *c, PGresult *r)
{
    if (r == NULL) {
        if (c->db->timed_out)
            srv_fail(c, CC_DEADLINE_EXCEEDED, "the database did not answer within the deadline");
        else
            srv_fail(c, CC_UNAVAILABLE, "the database is unavailable");
        return NULL;
    }
    arena_defer(c->arena, clear_result, r);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return r;
    if (st == PGRES_PIPELINE_ABORTED) {
        /* An earlier statement of the call failed; its failure is the one recorded. */
        srv_fail(c, CC_INTERNAL, "internal error");
        return NULL;
    }
    const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
    int code = db_broken(c->db) ? CC_UNAVAILABLE : srv_sqlstate_code(state);
    const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    log_event(code == CC_INTERNAL ? LOG_ERROR : LOG_INFO, "sql_error", "method", c->method,
              "sqlstate", state ? state : "", "error", detail ? detail : "", NULL);
    switch (code) {
    case CC_UNAVAILABLE:
        srv_fail(c, code, "the database is unavailable");
        break;
    case CC_DEADLINE_EXCEEDED:
        srv_fail(c, code, "the call took longer than its deadline");
        break;
    case CC_ABORTED:
        srv_fail(c, code, "a concurrent change conflicted with this call; retry");
        break;
    case CC_ALREADY_EXISTS:
        srv_fail(c, code, "a record with the same unique value already exists");
        break;
    case CC_PERMISSION_DENIED:
        srv_fail(c, code, "not allowed");
        break;
    case CC_INTERNAL:
        srv_fail(c, code, "internal error");
        break;
    default:
        /* Constraint and data errors describe the input, not internals. */
        srv_fail(c, code, "%s", detail ? detail : "invalid value");
        break;
    }
    return NULL;
}

static PGresult *run_sql(srv_call *c, const char *sql, int nparams, const char *const *params,
                         int prepared)
{
    if (c->code != CC_OK)
        return NULL; /* the transaction is already failed; do not pile up errors */
    PGresult *r =
        prepared ? db_exec(c->db, sql, nparams, params) : db_exec_once(c->db, sql, nparams, params);
    return srv_result(c, r);
}

int srv_run_query(srv_call *c, const srv_query_method *q, const ProtobufCMessage *in,
                  ProtobufCMessage **out)
{
    srv_query query = {0};
    if (q->plan(c, in, &query) != CC_OK)
        return c->code;
    PGresult *r = srv_sqlv(c, query.sql, query.nparams, query.params);
    if (r == NULL)
        return c->code;
    return q->reply(c, in, r, out);
}

PGresult *srv_sqlv(srv_call *c, const char *sql, int nparams, const char *const *params)
{
    return run_sql(c, sql, nparams, params, 1);
}

PGresult *srv_sql_dynamic(srv_call *c, const char *sql, int nparams, const char *const *params)
{
    return run_sql(c, sql, nparams, params, 0);
}

void srv_check_update(srv_call *c, const char *field, const void *resource,
                      const Google__Protobuf__FieldMask *mask, int64_t version)
{
    if (resource == NULL)
        srv_violation(c, field, "is required");
    if (mask == NULL || mask->n_paths == 0)
        srv_violation(c, "update_mask", "must name the fields to change");
    if (version <= 0)
        srv_violation(c, "version", "must be the version you read (1 or more)");
}

int srv_page_size(srv_call *c, const char *field, int requested)
{
    if (requested < 0) {
        srv_violation(c, field, "must not be negative");
        return 50;
    }
    if (requested == 0)
        return 50;
    return requested > 500 ? 500 : requested;
}

const char *srv_page_token_encode(srv_call *c, const char *key)
{
    static const char hex[] = "0123456789abcdef";
    size_t n = strlen(key);
    char *t = arena_alloc(c->arena, 2 * n + 3);
    t[0] = 'p';
    t[1] = '1';
    for (size_t i = 0; i < n; i++) {
        t[2 + 2 * i] = hex[(unsigned char)key[i] >> 4];
        t[3 + 2 * i] = hex[(unsigned char)key[i] & 15];
    }
    t[2 + 2 * n] = '\0';
    return t;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

const char *srv_page_token_decode(srv_call *c, const char *field, const char *token)
{
    if (token == NULL || *token == '\0')
        return NULL;
    size_t n = strlen(token);
    if (n < 2 || token[0] != 'p' || token[1] != '1' || (n - 2) % 2 != 0 || n > 4096)
        goto bad;
    char *key = arena_alloc(c->arena, (n - 2) / 2 + 1);
    for (size_t i = 0; i < (n - 2) / 2; i++) {
        int hi = hexval(token[2 + 2 * i]), lo = hexval(token[3 + 2 * i]);
        if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
            goto bad;
        key[i] = (char)(hi << 4 | lo);
    }
    key[(n - 2) / 2] = '\0';
    return key;
bad:
    srv_violation(c, field, "is not a page token from a previous response");
    return NULL;
}

PGresult *srv_sql(srv_call *c, const char *sql, int nparams, ...)
{
    const char **params = nparams ? arena_alloc(c->arena, sizeof(char *) * (size_t)nparams) : NULL;
    va_list ap;
    va_start(ap, nparams);
    for (int i = 0; i < nparams; i++)
        params[i] = va_arg(ap, const char *);
    va_end(ap);
    return srv_sqlv(c, sql, nparams, params);
}

const char *srv_i64(srv_call *c, int64_t v)
{
    return arena_printf(c->arena, "%" PRId64, v);
}

int64_t srv_parse_id(srv_call *c, const char *field, const char *text)
{
    if (text == NULL || *text == '\0') {
        srv_violation(c, field, "is required");
        return 0;
    }
    errno = 0;
    char *end;
    long long v = strtoll(text, &end, 10);
    if (*end != '\0' || errno != 0 || v <= 0 || !isdigit((unsigned char)text[0])) {
        srv_violation(c, field, "is not a valid id");
        return 0;
    }
    return (int64_t)v;
}

const char *srv_enum_to_db(srv_call *c, const ProtobufCEnumDescriptor *d, int value)
{
    if (value == 0)
        return NULL;
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(d, value);
    if (v == NULL)
        return NULL;
    char *s = arena_strdup(c->arena, v->name);
    for (char *p = s; *p; p++)
        *p = (char)tolower((unsigned char)*p);
    return s;
}

int srv_enum_from_db(const ProtobufCEnumDescriptor *d, const char *text)
{
    if (text == NULL || *text == '\0')
        return 0;
    char up[64];
    size_t i;
    for (i = 0; text[i] && i < sizeof(up) - 1; i++)
        up[i] = (char)toupper((unsigned char)text[i]);
    up[i] = '\0';
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value_by_name(d, up);
    return v ? v->value : 0;
}

int srv_enum_valid(const ProtobufCEnumDescriptor *d, int value)
{
    return protobuf_c_enum_descriptor_get_value(d, value) != NULL;
}

Google__Protobuf__Timestamp *srv_ts(srv_call *c, const char *epoch_text)
{
    if (epoch_text == NULL || *epoch_text == '\0')
        return NULL;
    Google__Protobuf__Timestamp *ts = arena_alloc(c->arena, sizeof(*ts));
    google__protobuf__timestamp__init(ts);
    /* Text "1732269600.123456": split at the dot to keep microseconds exact. */
    char *end;
    long long secs = strtoll(epoch_text, &end, 10);
    long nanos = 0;
    if (*end == '.') {
        const char *f = end + 1;
        long scale = 100000000;
        for (; *f >= '0' && *f <= '9' && scale > 0; f++, scale /= 10)
            nanos += (*f - '0') * scale;
    }
    if (secs < 0 && nanos > 0) {
        /* "-1.5" means -1 s - 0.5 s: protobuf wants seconds floored, nanos positive. */
        secs -= 1;
        nanos = 1000000000 - nanos;
    }
    ts->seconds = secs;
    ts->nanos = (int32_t)nanos;
    return ts;
}

static const char *to_json(srv_call *c, const ProtobufCMessage *m)
{
    if (m == NULL)
        return NULL;
    char *s = pjson_encode(m);
    if (s == NULL)
        return NULL;
    const char *copy = arena_strdup(c->arena, s);
    free(s);
    return copy;
}

int srv_audit(srv_call *c, const char *action, const char *target_type, const char *target_id,
              const ProtobufCMessage *before, const ProtobufCMessage *after)
{
    static const char sql[] =
        "INSERT INTO audit_log (actor_id, source, action, target_type, target_id, before, after)"
        " VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7::jsonb)";
    const char *actor = c->user.id ? c->user.id_text : NULL;
    PGresult *r = srv_sql(c, sql, 7, actor, c->source, action, target_type, target_id,
                          to_json(c, before), to_json(c, after));
    return r ? CC_OK : c->code;
}

int srv_is_admin(const srv_call *c)
{
    return c->user.role && strcmp(c->user.role, "admin") == 0;
}

int srv_require_admin(srv_call *c)
{
    if (srv_is_admin(c))
        return CC_OK;
    return srv_fail(c, CC_PERMISSION_DENIED, "only admins may do this");
}

void srv_buf_put(srv_call *c, srv_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 4096;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = arena_alloc(c->arena, cap);
        if (b->len)
            memcpy(d, b->data, b->len);
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void srv_copy_escape(srv_call *c, srv_buf *b, const char *s)
{
    if (s == NULL) {
        srv_buf_put(c, b, "\\N", 2);
        return;
    }
    const char *run = s;
    for (const char *p = s; *p; p++) {
        const char *esc = NULL;
        switch (*p) {
        case '\\':
            esc = "\\\\";
            break;
        case '\t':
            esc = "\\t";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        }
        if (esc != NULL) {
            srv_buf_put(c, b, run, (size_t)(p - run));
            srv_buf_put(c, b, esc, 2);
            run = p + 1;
        }
    }
    srv_buf_put(c, b, run, strlen(run));
}

int srv_copy_in(srv_call *c, const char *copy_sql, const char *data, size_t len)
{
    if (c->code != CC_OK)
        return c->code;
    PGresult *r = db_simple(c->db, copy_sql);
    if (r == NULL || PQresultStatus(r) != PGRES_COPY_IN) {
        int code = r == NULL ? (c->db->timed_out ? CC_DEADLINE_EXCEEDED : CC_UNAVAILABLE)
                             : srv_sqlstate_code(PQresultErrorField(r, PG_DIAG_SQLSTATE));
        if (r != NULL)
            log_event(LOG_ERROR, "copy_failed", "method", c->method, "error",
                      PQresultErrorMessage(r), NULL);
        PQclear(r);
        return srv_fail(c, code,
                        code == CC_UNAVAILABLE          ? "the database is unavailable"
                        : code == CC_DEADLINE_EXCEEDED ? "the database did not answer in time"
                                                       : "internal error");
    }
    PQclear(r);
    /* Send in slices so that one huge buffer does not sit twice in libpq's memory. */
    const size_t slice = 1 << 20;
    int ok = 1;
    for (size_t off = 0; off < len && ok; off += slice) {
        size_t n = len - off < slice ? len - off : slice;
        ok = PQputCopyData(c->db->conn, data + off, (int)n) == 1;
    }
    r = db_copy_end(c->db, ok ? NULL : "client error");
    if (r == NULL)
        return srv_fail(c, c->db->timed_out ? CC_DEADLINE_EXCEEDED : CC_UNAVAILABLE,
                        "the database is unavailable");
    int code = CC_OK;
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        code = srv_sqlstate_code(PQresultErrorField(r, PG_DIAG_SQLSTATE));
        const char *detail = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
        srv_fail(c, code, "%s", code == CC_INTERNAL ? "internal error" : detail ? detail : "");
    }
    PQclear(r);
    return code;
}
