/*
 * exec.c - runs one call on a worker: the shared steps every method gets
 * before and after its handler (after Redis's processCommand).
 *
 *   deadline check -> unpack request into the arena -> database connection
 *   -> BEGIN with the call's statement timeout -> authenticate and set the
 *   caller for row-level security -> role check -> handler -> COMMIT or
 *   ROLLBACK -> audit of denials -> pack the framed Reply.
 *
 * The arena is reset at the start of each call, never in the middle.
 */
#include "auth.h"
#include "cc_log.h"
#include "pb_check.h"
#include "pool.h"
#include "wire_frame.h"
#include "worker.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void srv_worker_init(srv_worker *w, const srv_settings *cfg, int index)
{
    memset(w, 0, sizeof(*w));
    w->index = index;
    w->cfg = cfg;
    db_init(&w->db, cfg->db_url, cfg->db_connect_timeout, cfg->call_timeout);
    arena_init(&w->arena, 64 * 1024);
}

void srv_worker_destroy(srv_worker *w)
{
    db_close(&w->db);
    arena_free(&w->arena);
}

static int simple(srv_call *c, const char *sql)
{
    PGresult *r = db_simple(c->db, sql);
    int ok = r != NULL &&
             (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK);
    if (!ok) {
        const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
        int code = (r == NULL && c->db->timed_out)   ? CC_DEADLINE_EXCEEDED
                   : (r == NULL || db_broken(c->db)) ? CC_UNAVAILABLE
                                                     : srv_sqlstate_code(state);
        if (code == CC_UNAVAILABLE)
            srv_fail(c, code, "the database is unavailable");
        else if (code == CC_ABORTED)
            srv_fail(c, code, "a concurrent change conflicted with this call; retry");
        else if (code == CC_DEADLINE_EXCEEDED)
            srv_fail(c, code, "the call took longer than its deadline");
        else
            srv_fail(c, CC_INTERNAL, "internal error");
    }
    PQclear(r);
    return ok ? CC_OK : c->code;
}

/* Calls refused for who the caller is are kept in the audit log, after the
 * rollback, in a transaction of their own. */
static void audit_denial(srv_call *c)
{
    /* The call's own deadline may be spent: the audit row gets a few seconds of its own. */
    db_set_deadline(c->db, db_now_ms() + 5000);
    log_event(LOG_INFO, "denied", "method", c->method, "status", cc_code_name(c->code), "user",
              c->user.username, "source", c->source, "target_type",
              c->denied_type ? c->denied_type : "call", "target", c->denied_id, NULL);
    if (db_broken(c->db))
        return;
    static const char sql[] =
        "INSERT INTO audit_log (actor_id, source, action, target_type, target_id)"
        " VALUES ($1, $2, $3, $4, $5)";
    const char *action = arena_printf(c->arena, "%s denied %s", c->method, cc_code_name(c->code));
    const char *params[5] = {c->user.id ? c->user.id_text : NULL, c->source, action,
                             c->denied_type ? c->denied_type : "call",
                             c->denied_id ? c->denied_id : ""};
    PGresult *r = db_exec(c->db, sql, 5, params);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
        log_event(LOG_WARN, "audit_failed", "method", c->method, NULL);
    PQclear(r);
}

/*
 * Idempotency: the first call with a key claims it (INSERT ... ON CONFLICT DO
 * NOTHING; a concurrent twin waits on the row lock until the first commits or
 * rolls back) and stores its response before COMMIT. A later call with the
 * same key and request gets that response; a different request is refused.
 * Failed calls roll their claim back, so a retry after a failure runs again.
 */
typedef enum { IDEM_NONE, IDEM_CLAIMED, IDEM_REPLAYED } idem_state;

static idem_state idem_claim(srv_call *c, srv_job *job, ProtobufCMessage **out)
{
    static const char claim[] =
        "INSERT INTO idempotency_keys (user_id, key, method, request_hash)"
        " VALUES ($1, $2, $3, sha256($4::bytea)) ON CONFLICT DO NOTHING RETURNING 1";
    static const char stored[] = "SELECT method = $3 AND request_hash = sha256($4::bytea), response"
                                 "  FROM idempotency_keys WHERE user_id = $1 AND key = $2";
    if (job->idempotency_key == NULL || !(job->route->flags & SRV_WRITE) || c->user.id == 0)
        return IDEM_NONE;
    if (strlen(job->idempotency_key) > 200) {
        srv_violation(c, "idempotency_key", "must be at most 200 characters");
        srv_check(c);
        return IDEM_NONE;
    }
    /* The request travels as bytea hex text so that any bytes hash the same. */
    char *hex = arena_alloc(c->arena, 2 * job->len + 3);
    static const char digits[] = "0123456789abcdef";
    hex[0] = '\\';
    hex[1] = 'x';
    for (size_t i = 0; i < job->len; i++) {
        hex[2 + 2 * i] = digits[job->payload[i] >> 4];
        hex[3 + 2 * i] = digits[job->payload[i] & 15];
    }
    hex[2 + 2 * job->len] = '\0';
    PGresult *r = srv_sql(c, claim, 4, c->user.id_text, job->idempotency_key, c->method, hex);
    if (r == NULL)
        return IDEM_NONE;
    if (PQntuples(r) == 1)
        return IDEM_CLAIMED;
    r = srv_sql(c, stored, 4, c->user.id_text, job->idempotency_key, c->method, hex);
    if (r == NULL)
        return IDEM_NONE;
    if (PQntuples(r) == 0 || PQgetvalue(r, 0, 0)[0] != 't') {
        srv_fail(c, CC_FAILED_PRECONDITION,
                 "idempotency key \"%s\" was already used for a different request",
                 job->idempotency_key);
        return IDEM_NONE;
    }
    size_t n = 0;
    unsigned char *bytes = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 1), &n);
    if (bytes == NULL) {
        srv_fail(c, CC_INTERNAL, "internal error");
        return IDEM_NONE;
    }
    *out = protobuf_c_message_unpack(job->route->method->output, arena_pbc(c->arena), n, bytes);
    PQfreemem(bytes);
    if (*out == NULL) {
        srv_fail(c, CC_INTERNAL, "internal error");
        return IDEM_NONE;
    }
    return IDEM_REPLAYED;
}

static void idem_store(srv_call *c, srv_job *job, const ProtobufCMessage *out)
{
    static const char sql[] =
        "UPDATE idempotency_keys SET response = $3::bytea WHERE user_id = $1 AND key = $2";
    size_t n = protobuf_c_message_get_packed_size(out);
    uint8_t *buf = arena_alloc(c->arena, n + 1);
    protobuf_c_message_pack(out, buf);
    size_t elen = 0;
    unsigned char *esc = PQescapeByteaConn(c->db->conn, buf, n, &elen);
    if (esc == NULL) {
        srv_fail(c, CC_INTERNAL, "internal error");
        return;
    }
    const char *text = arena_strdup(c->arena, (const char *)esc);
    PQfreemem(esc);
    srv_sql(c, sql, 3, c->user.id_text, job->idempotency_key, text);
}

/* Deletes keys past their retention, at most once an hour per worker. */
static void idem_expire(srv_worker *w)
{
    uint64_t now = db_now_ms();
    if (now < w->next_idem_expiry_ms || db_broken(&w->db))
        return;
    w->next_idem_expiry_ms = now + 3600 * 1000;
    db_set_deadline(&w->db, now + 30000);
    PGresult *r = db_simple(&w->db, "DELETE FROM idempotency_keys"
                                    " WHERE created_at < now() - interval '25 hours'");
    PQclear(r);
}

static void pack_reply(srv_call *c, srv_job *job, const ProtobufCMessage *out)
{
    Concord__V1__Status st = CONCORD__V1__STATUS__INIT;
    Concord__V1__Reply reply = CONCORD__V1__REPLY__INIT;
    Concord__V1__Frame f = CONCORD__V1__FRAME__INIT;
    st.code = (Concord__V1__Code)c->code;
    st.message = (char *)(c->message ? c->message : "");
    st.n_field_violations = c->n_violations;
    st.field_violations = c->violations;
    reply.status = &st;
    if (c->code == CC_OK && out != NULL) {
        size_t n = protobuf_c_message_get_packed_size(out);
        reply.payload.data = arena_alloc(c->arena, n);
        reply.payload.len = protobuf_c_message_pack(out, reply.payload.data);
    }
    f.id = job->frame_id;
    f.kind_case = CONCORD__V1__FRAME__KIND_REPLY;
    f.reply = &reply;
    int rc =
        wire_frame_pack_into(&f, c->cfg->max_frame, &job->reply, &job->reply_cap, &job->reply_len);
    if (rc == CC_ETOOBIG) {
        st.code = (Concord__V1__Code)CC_RESOURCE_EXHAUSTED;
        st.message = "the reply is larger than the frame limit; ask for a smaller page";
        st.n_field_violations = 0;
        reply.payload.len = 0;
        c->code = CC_RESOURCE_EXHAUSTED;
        rc = wire_frame_pack_into(&f, c->cfg->max_frame, &job->reply, &job->reply_cap,
                                  &job->reply_len);
    }
    if (rc != 0)
        job->reply_len = 0;
    job->code = c->code;
}

/*
 * The caller for row-level security is a session setting (not SET LOCAL) so
 * that a read call by the same user as the previous call on this connection
 * needs no round trip for it; every call sets its own caller (or none) before
 * its first statement, so no caller outlives its call in effect.
 * w->context remembers the caller set ("id|role|department"); "" is unknown.
 */
#define SET_CALLER_SQL(id, role, department)                                                       \
    "SELECT set_config('concord.user_id', " id ", false), set_config('concord.role', " role        \
    ", false), set_config('concord.department', " department ", false)"
static const char set_caller_sql[] = SET_CALLER_SQL("$1", "$2", "$3");

static void caller_params(const srv_call *c, const char *params[3])
{
    params[0] = c->user.id ? c->user.id_text : "";
    params[1] = c->user.id ? c->user.role : "";
    params[2] = c->user.id ? c->user.department : "";
}

static void caller_key(const char *const params[3], char *key, size_t size)
{
    snprintf(key, size, "%s|%s|%s", params[0], params[1], params[2]);
}

static int caller_is_set(const srv_worker *w, const char *key)
{
    return w->context_gen == w->db.generation && strcmp(w->context, key) == 0;
}

static void caller_remember(srv_worker *w, const char *key)
{
    snprintf(w->context, sizeof(w->context), "%s", key);
    w->context_gen = w->db.generation;
}

static int set_caller(srv_call *c, srv_worker *w)
{
    const char *params[3];
    caller_params(c, params);
    char key[sizeof(w->context)];
    caller_key(params, key, sizeof(key));
    if (caller_is_set(w, key))
        return CC_OK;
    w->context[0] = '\0';
    if (srv_sqlv(c, set_caller_sql, 3, params) == NULL)
        return c->code;
    caller_remember(w, key);
    return CC_OK;
}

/*
 * A transaction that begins as the given caller (params as caller_params
 * gives them): BEGIN, a statement timeout equal to what is left of the
 * deadline (a slow write must not outlive the client's deadline), and the
 * caller, in one round trip. Inside a transaction the caller is always set:
 * a rollback undoes the setting, and the next call must not run as whoever
 * came before.
 */
static int begin_as(srv_call *c, srv_worker *w, uint64_t timeout_ms, const char *const params[3])
{
    char *lit[3];
    for (int i = 0; i < 3; i++)
        lit[i] = PQescapeLiteral(w->db.conn, params[i], strlen(params[i]));
    int code;
    if (lit[0] != NULL && lit[1] != NULL && lit[2] != NULL) {
        const char *sql = arena_printf(
            c->arena,
            "BEGIN; SET LOCAL statement_timeout = %llu; " SET_CALLER_SQL("%s", "%s", "%s"),
            (unsigned long long)timeout_ms, lit[0], lit[1], lit[2]);
        w->context[0] = '\0';
        code = simple(c, sql);
    } else {
        code = srv_fail(c, CC_INTERNAL, "internal error");
    }
    for (int i = 0; i < 3; i++)
        PQfreemem(lit[i]);
    if (code == CC_OK) {
        char key[sizeof(w->context)];
        caller_key(params, key, sizeof(key));
        caller_remember(w, key);
    }
    return code;
}

/*
 * Ends a call's transaction: COMMIT when the call succeeded, else ROLLBACK (or COMMIT
 * when the call asked to keep its work on failure), keeping the call's failure. A
 * transaction that did not commit undid the caller it set, so the caller is forgotten.
 */
static void tx_end(srv_call *c, srv_worker *w)
{
    if (c->code == CC_OK) {
        if (simple(c, "COMMIT") != CC_OK)
            w->context[0] = '\0';
        return;
    }
    int failed = c->code;
    const char *msg = c->message;
    c->code = CC_OK;
    if (!db_broken(&w->db))
        simple(c, c->commit_on_failure ? "COMMIT" : "ROLLBACK");
    w->context[0] = '\0';
    c->code = failed;
    c->message = msg;
}

/* A scheduler task: the system as caller (user id 0, an admin), no request, no reply. */
static void exec_task(srv_worker *w, srv_job *job)
{
    static const char *const system_caller[3] = {"0", "admin", ""};
    srv_call c = {
        .arena = &w->arena,
        .db = &w->db,
        .cfg = w->cfg,
        .method = job->task_name,
        .source = "concordd",
        .deadline_ms = job->deadline_ms,
    };
    c.user.role = "admin";
    c.user.department = "";
    c.user.username = "concordd";
    db_set_deadline(&w->db, job->deadline_ms);
    uint64_t now = db_now_ms();
    if (now >= job->deadline_ms || db_ensure(&w->db) != 0) {
        job->code = CC_UNAVAILABLE;
        return;
    }
    if (begin_as(&c, w, job->deadline_ms - now, system_caller) == CC_OK && job->task(&c) != CC_OK &&
        c.code == CC_OK)
        c.code = CC_UNAVAILABLE;
    tx_end(&c, w);
    job->code = c.code;
    if (c.code != CC_OK)
        log_event(LOG_WARN, "task_failed", "task", job->task_name, "status", cc_code_name(c.code),
                  "error", c.message, NULL);
}

static void call_init(srv_worker *w, srv_job *job, srv_call *c)
{
    *c = (srv_call){
        .arena = &w->arena,
        .db = &w->db,
        .cfg = w->cfg,
        .method = job->route->full_name,
        .source = job->peer,
        .token = job->token ? job->token : "",
        .deadline_ms = job->deadline_ms,
    };
}

/* The steps before any statement: the deadline, the request checked and
 * unpacked into the arena, a database connection. */
static int call_start(srv_worker *w, srv_job *job, srv_call *c, uint64_t now, ProtobufCMessage **in)
{
    const srv_route *rt = job->route;
    if (now >= job->deadline_ms)
        return srv_fail(c, CC_DEADLINE_EXCEEDED, "the call waited longer than its deadline");
    db_set_deadline(&w->db, job->deadline_ms);
    pb_check_error perr;
    if (pb_check(rt->method->input, job->payload, job->len, &perr) != 0) {
        if (perr.field[0]) {
            srv_violation(c, perr.field, "%s", perr.description);
            return srv_check(c);
        }
        return srv_fail(c, CC_INVALID_ARGUMENT, "the payload is not a valid %s: %s",
                        rt->method->input->name, perr.description);
    }
    *in =
        protobuf_c_message_unpack(rt->method->input, arena_pbc(&w->arena), job->len, job->payload);
    if (*in == NULL)
        return srv_fail(c, CC_INVALID_ARGUMENT, "the payload is not a valid %s",
                        rt->method->input->name);
    if (db_ensure(&w->db) != 0)
        return srv_fail(c, CC_UNAVAILABLE, "the database is unavailable");
    return CC_OK;
}

/* Who calls: the credential resolved (unless the method is public) and the role checked. */
static int call_identify(srv_job *job, srv_call *c)
{
    if (!(job->route->flags & SRV_PUBLIC) && auth_resolve(c) != CC_OK)
        return c->code;
    job->authenticated = c->user.id != 0;
    if ((job->route->flags & SRV_ADMIN) && srv_require_admin(c) != CC_OK)
        return c->code;
    return CC_OK;
}

static void call_reply(srv_call *c, srv_job *job, const ProtobufCMessage *out, uint64_t start,
                       int pipelined)
{
    if (c->code == CC_OK)
        c->message = "";
    pack_reply(c, job, out);
    if (log_enabled(LOG_DEBUG) || c->code == CC_INTERNAL) {
        char ms[24], n[12];
        snprintf(ms, sizeof(ms), "%llu", (unsigned long long)(db_now_ms() - start));
        snprintf(n, sizeof(n), "%d", pipelined);
        log_event(c->code == CC_INTERNAL ? LOG_ERROR : LOG_DEBUG, "call", "method", c->method,
                  "user", c->user.username, "status", cc_code_name(c->code), "ms", ms, "pipeline",
                  n, NULL);
    }
}

static int denied(const srv_call *c)
{
    return c->code == CC_PERMISSION_DENIED || c->code == CC_UNAUTHENTICATED;
}

void srv_exec(srv_worker *w, srv_job *job)
{
    arena_reset(&w->arena);
    if (job->task != NULL) {
        exec_task(w, job);
        return;
    }
    const srv_route *rt = job->route;
    srv_call c;
    call_init(w, job, &c);
    ProtobufCMessage *in = NULL, *out = NULL;
    int in_tx = 0;
    uint64_t start = db_now_ms();

    if (call_start(w, job, &c, start, &in) != CC_OK)
        goto reply;
    /* A token not in the cache is looked up (and its last use recorded) before a
     * write's transaction begins, so that the transaction can begin as the caller. */
    if (call_identify(job, &c) != CC_OK)
        goto finish;
    if (rt->flags & SRV_WRITE) {
        /* Set first: a BEGIN whose later statements failed leaves a transaction to roll back. */
        in_tx = 1;
        /* The token's look-up took some of the call's time: the timeout is what is left. */
        uint64_t now = db_now_ms();
        if (now >= job->deadline_ms) {
            srv_fail(&c, CC_DEADLINE_EXCEEDED, "the call took longer than its deadline");
            goto finish;
        }
        const char *params[3];
        caller_params(&c, params);
        if (begin_as(&c, w, job->deadline_ms - now, params) != CC_OK)
            goto finish;
    } else if (set_caller(&c, w) != CC_OK) {
        goto finish;
    }
    idem_state idem = idem_claim(&c, job, &out);
    if (c.code != CC_OK || idem == IDEM_REPLAYED)
        goto finish;
    int code = rt->fn(&c, in, &out);
    if (code != CC_OK && c.code == CC_OK)
        srv_fail(&c, code, "%s", cc_code_name(code));
    if (c.code == CC_OK && out == NULL)
        srv_fail(&c, CC_INTERNAL, "internal error");
    if (c.code == CC_OK && idem == IDEM_CLAIMED)
        idem_store(&c, job, out);

finish:
    if (in_tx)
        tx_end(&c, w);
    if (c.code == CC_OK) {
        if (c.forget_user_id)
            auth_forget_user(c.forget_user_id);
        if (c.forget_credential_id)
            auth_forget_credential(c.forget_credential_id);
    } else if (denied(&c)) {
        audit_denial(&c);
    }
    idem_expire(w);

reply:
    call_reply(&c, job, out, start, 1);
}

/*
 * n one-statement reads in one round trip (see srv_query_method in call.h).
 * First every call is checked, its caller identified (a credential not yet
 * cached is looked up now, before the pipeline starts) and its statement
 * planned and prepared. Then each call's statements go out followed by a sync
 * point, so that a failing call ends alone: [caller] statement sync, ... The
 * caller is sent only from the first call whose caller differs from the one
 * the session has; from there on every call sends its own, because a failed
 * call's implicit transaction undoes its setting. Last, the results are read
 * in order and each reply is built.
 */
void srv_exec_pipeline(srv_worker *w, srv_job **jobs, int n)
{
    arena_reset(&w->arena);
    srv_call *calls = arena_alloc(&w->arena, sizeof(*calls) * (size_t)n);
    ProtobufCMessage **in = arena_alloc(&w->arena, sizeof(*in) * (size_t)n);
    ProtobufCMessage **out = arena_alloc(&w->arena, sizeof(*out) * (size_t)n);
    srv_query *query = arena_alloc(&w->arena, sizeof(*query) * (size_t)n);
    int *sends_caller = arena_alloc(&w->arena, sizeof(*sends_caller) * (size_t)n);
    uint64_t start = db_now_ms(), deadline = 0;
    int ready = 0;

    for (int i = 0; i < n; i++) {
        srv_call *c = &calls[i];
        call_init(w, jobs[i], c);
        in[i] = out[i] = NULL;
        memset(&query[i], 0, sizeof(query[i]));
        sends_caller[i] = 0;
        if (call_start(w, jobs[i], c, start, &in[i]) != CC_OK ||
            call_identify(jobs[i], c) != CC_OK ||
            jobs[i]->route->query->plan(c, in[i], &query[i]) != CC_OK)
            continue;
        PGresult *error;
        if (db_prepare(&w->db, query[i].sql, query[i].nparams, &error) != 0 ||
            db_prepare(&w->db, set_caller_sql, 3, &error) != 0) {
            srv_result(c, error);
            continue;
        }
        if (deadline < jobs[i]->deadline_ms)
            deadline = jobs[i]->deadline_ms;
        ready++;
    }

    if (ready > 0 && db_pipeline_begin(&w->db) == 0) {
        /* Waiting ends at the latest deadline: no call fails before its own. */
        db_set_deadline(&w->db, deadline);
        char key[sizeof(w->context)], last_key[sizeof(w->context)] = "";
        int changing = 0;
        for (int i = 0; i < n; i++) {
            srv_call *c = &calls[i];
            if (c->code != CC_OK)
                continue;
            const char *params[3];
            caller_params(c, params);
            caller_key(params, key, sizeof(key));
            if (changing || !caller_is_set(w, key)) {
                db_pipeline_send(&w->db, set_caller_sql, 3, params);
                sends_caller[i] = changing = 1;
                memcpy(last_key, key, sizeof(key));
            }
            db_pipeline_send(&w->db, query[i].sql, query[i].nparams, query[i].params);
            db_pipeline_sync(&w->db);
        }
        /* Until the results say otherwise, the session's caller is unknown. */
        if (changing)
            w->context[0] = '\0';
        int last_set = 0;
        for (int i = 0; i < n; i++) {
            srv_call *c = &calls[i];
            if (c->code != CC_OK)
                continue;
            int statements_ok = 1;
            if (sends_caller[i] && srv_result(c, db_pipeline_result(&w->db)) == NULL)
                statements_ok = 0;
            PGresult *r = srv_result(c, db_pipeline_result(&w->db));
            if (r == NULL)
                statements_ok = 0;
            /* The caller set stays only when all statements of its call succeeded. */
            if (sends_caller[i])
                last_set = statements_ok;
            if (db_pipeline_synced(&w->db) != 0)
                last_set = 0;
            if (r != NULL)
                jobs[i]->route->query->reply(c, in[i], r, &out[i]);
            if (c->code == CC_OK && out[i] == NULL)
                srv_fail(c, CC_INTERNAL, "internal error");
        }
        db_pipeline_end(&w->db);
        if (changing && last_set && !db_broken(&w->db))
            caller_remember(w, last_key);
    } else if (ready > 0) {
        for (int i = 0; i < n; i++)
            if (calls[i].code == CC_OK)
                srv_fail(&calls[i], CC_UNAVAILABLE, "the database is unavailable");
    }

    for (int i = 0; i < n; i++)
        if (denied(&calls[i]))
            audit_denial(&calls[i]);
    idem_expire(w);
    for (int i = 0; i < n; i++)
        call_reply(&calls[i], jobs[i], out[i], start, n);
}
