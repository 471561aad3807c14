/*
 * db.c - a worker's database connection.
 *
 * Invariants: conn is NULL or a connection we created; stmts lists the
 * statements prepared on the current conn and is emptied whenever conn is
 * replaced. Every connection gets a fixed search_path so that unqualified
 * names resolve to the concord schema only.
 */
#include "db.h"
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

uint64_t db_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void db_init(srv_db *db, const char *conninfo, unsigned connect_timeout_ms,
             unsigned statement_timeout_ms)
{
    memset(db, 0, sizeof(*db));
    db->conninfo = strdup(conninfo ? conninfo : "");
    db->connect_timeout_ms = connect_timeout_ms;
    db->statement_timeout_ms = statement_timeout_ms;
}

static void drop_conn(srv_db *db)
{
    if (db->conn != NULL)
        PQfinish(db->conn);
    db->conn = NULL;
    db->n_stmts = 0;
    for (int i = 0; i < db->n_texts; i++)
        free(db->texts[i].sql);
    db->n_texts = 0;
}

/* FNV-1a: a cheap first comparison before strcmp. */
static uint64_t text_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

int db_broken(const srv_db *db)
{
    return db->conn == NULL || PQstatus(db->conn) != CONNECTION_OK;
}

int db_ensure(srv_db *db)
{
    if (!db_broken(db))
        return 0;
    drop_conn(db);
    uint64_t now = db_now_ms();
    if (now < db->retry_after_ms)
        return CC_EIO;

    unsigned secs = (db->connect_timeout_ms + 999) / 1000;
    char timeout[16];
    snprintf(timeout, sizeof(timeout), "%u", secs < 2 ? 2 : secs);
    char options[160];
    snprintf(options, sizeof(options),
             "-c search_path=concord -c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=%u"
             " -c jit=off",
             db->statement_timeout_ms);
    /* Keepalives and tcp_user_timeout bound how long a worker can wait on a
     * connection whose network path went silent (a blackhole): about 11 s. */
    const char *keys[] = {"dbname",
                          "connect_timeout",
                          "application_name",
                          "options",
                          "keepalives",
                          "keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "tcp_user_timeout",
                          NULL};
    const char *vals[] = {db->conninfo, timeout, "concordd", options, "1",
                          "5",          "2",     "3",        "10000", NULL};
    /* expand_dbname=1: the first dbname value is parsed as the whole conninfo. */
    db->conn = PQconnectdbParams(keys, vals, 1);
    if (PQstatus(db->conn) != CONNECTION_OK) {
        drop_conn(db);
        db->failures++;
        unsigned backoff = 100u << (db->failures < 4 ? db->failures : 4);
        if (backoff > 1000)
            backoff = 1000;
        db->retry_after_ms = db_now_ms() + backoff;
        return CC_EIO;
    }
    db->failures = 0;
    db->retry_after_ms = 0;
    db->generation++;
    return 0;
}

/* Returns the statement's name, or NULL with *error set to the failed
 * PREPARE's result (the caller hands it back: it carries the real SQLSTATE,
 * and the transaction is now aborted anyway). */
/*
 * Every statement is sent asynchronously and its results awaited with poll()
 * until db->deadline_ms. A database that stops answering (a blackholed
 * network, a hung server) thus cannot hold a worker past the call's deadline:
 * the connection is dropped, the call fails with DEADLINE_EXCEEDED, and the
 * next call reconnects.
 */
static int wait_readable(srv_db *db)
{
    for (;;) {
        uint64_t now = db_now_ms();
        if (db->deadline_ms && now >= db->deadline_ms)
            return -1;
        int timeout = db->deadline_ms ? (int)(db->deadline_ms - now) : -1;
        struct pollfd pfd = {.fd = PQsocket(db->conn), .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n > 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
    }
}

/* The next result of what was sent into *out (NULL ends a statement's results).
 * -1 when the connection failed or the deadline passed (then it is dropped). */
static int next_result(srv_db *db, PGresult **out)
{
    *out = NULL;
    if (db->conn == NULL)
        return -1;
    while (PQisBusy(db->conn)) {
        if (wait_readable(db) != 0) {
            db->timed_out = 1;
            drop_conn(db);
            return -1;
        }
        if (!PQconsumeInput(db->conn)) {
            drop_conn(db);
            return -1;
        }
    }
    *out = PQgetResult(db->conn);
    return 0;
}

/* Collects the results of what was sent: the first error if any, else the
 * last result (a COPY IN state is returned as soon as it is reached). NULL
 * when the connection failed or the deadline passed (then it is dropped). */
static PGresult *collect(srv_db *db)
{
    PGresult *keep = NULL;
    for (;;) {
        PGresult *r;
        if (next_result(db, &r) != 0) {
            PQclear(keep);
            return NULL;
        }
        if (r == NULL)
            break;
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT) {
            PQclear(keep);
            return r;
        }
        int is_error = st == PGRES_FATAL_ERROR || st == PGRES_BAD_RESPONSE;
        if (keep != NULL && PQresultStatus(keep) == PGRES_FATAL_ERROR && !is_error) {
            PQclear(r); /* the first error explains the failure; later results do not */
            continue;
        }
        PQclear(keep);
        keep = r;
    }
    return keep;
}

static const char *prepare(srv_db *db, const char *sql, int nparams, PGresult **error)
{
    *error = NULL;
    for (int i = 0; i < db->n_stmts; i++)
        if (db->stmts[i].sql == sql)
            return db->stmts[i].name;
    if (db->n_stmts == DB_MAX_STMTS)
        return NULL;
    db_stmt *s = &db->stmts[db->n_stmts];
    snprintf(s->name, sizeof(s->name), "s%d", db->n_stmts);
    PGresult *r = PQsendPrepare(db->conn, s->name, sql, nparams, NULL) ? collect(db) : NULL;
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        *error = r;
        return NULL;
    }
    PQclear(r);
    s->sql = sql;
    db->n_stmts++;
    return s->name;
}

int db_prepare(srv_db *db, const char *sql, int nparams, PGresult **error)
{
    if (db->conn == NULL) {
        *error = NULL;
        return -1;
    }
    if (prepare(db, sql, nparams, error) != NULL)
        return 0;
    /* A full cache is no failure: the statement is then sent unprepared. */
    return *error != NULL || db_broken(db) ? -1 : 0;
}

/*
 * Pipeline mode: the statements of several calls go out in one write, each
 * call ending with a sync point, and their results come back in order. The
 * caller prepares the statements first (db_prepare), sends, then reads every
 * statement's result and every sync point before db_pipeline_end.
 */
int db_pipeline_begin(srv_db *db)
{
    return db->conn != NULL && PQenterPipelineMode(db->conn) ? 0 : -1;
}

int db_pipeline_send(srv_db *db, const char *sql, int nparams, const char *const *params)
{
    if (db->conn == NULL)
        return -1;
    const char *name = NULL;
    for (int i = 0; i < db->n_stmts && name == NULL; i++)
        if (db->stmts[i].sql == sql)
            name = db->stmts[i].name;
    int sent = name ? PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0)
                    : PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    if (!sent)
        drop_conn(db);
    return sent ? 0 : -1;
}

int db_pipeline_sync(srv_db *db)
{
    if (db->conn == NULL)
        return -1;
    if (PQpipelineSync(db->conn))
        return 0;
    drop_conn(db);
    return -1;
}

PGresult *db_pipeline_result(srv_db *db)
{
    PGresult *r, *end;
    if (next_result(db, &r) != 0)
        return NULL;
    if (r == NULL || PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        /* Out of step with what was sent: the connection cannot be trusted. */
        PQclear(r);
        drop_conn(db);
        return NULL;
    }
    if (next_result(db, &end) != 0) {
        PQclear(r);
        return NULL;
    }
    if (end != NULL) {
        PQclear(end);
        PQclear(r);
        drop_conn(db);
        return NULL;
    }
    return r;
}

int db_pipeline_synced(srv_db *db)
{
    PGresult *r;
    if (next_result(db, &r) != 0)
        return -1;
    int ok = r != NULL && PQresultStatus(r) == PGRES_PIPELINE_SYNC;
    PQclear(r);
    if (!ok)
        drop_conn(db);
    return ok ? 0 : -1;
}

void db_pipeline_end(srv_db *db)
{
    if (db->conn != NULL && !PQexitPipelineMode(db->conn))
        drop_conn(db);
}

PGresult *db_exec(srv_db *db, const char *sql, int nparams, const char *const *params)
{
    if (db->conn == NULL)
        return NULL;
    PGresult *error;
    const char *name = prepare(db, sql, nparams, &error);
    if (name == NULL) {
        if (error != NULL || db->conn == NULL || db_broken(db))
            return error;
        /* The cache is full: run it unprepared. */
        return db_exec_once(db, sql, nparams, params);
    }
    if (!PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0))
        return NULL;
    return collect(db);
}

PGresult *db_exec_once(srv_db *db, const char *sql, int nparams, const char *const *params)
{
    if (db->conn == NULL)
        return NULL;
    uint64_t h = text_hash(sql);
    const char *name = NULL;
    for (int i = 0; i < db->n_texts && name == NULL; i++)
        if (db->texts[i].hash == h && strcmp(db->texts[i].sql, sql) == 0)
            name = db->texts[i].name;
    if (name == NULL && db->n_texts < DB_MAX_TEXT_STMTS) {
        struct db_text_stmt *t = &db->texts[db->n_texts];
        snprintf(t->name, sizeof(t->name), "t%d", db->n_texts);
        if (!PQsendPrepare(db->conn, t->name, sql, nparams, NULL))
            return NULL;
        PGresult *r = collect(db);
        if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK)
            return r; /* the error (or NULL when the connection failed) */
        PQclear(r);
        t->sql = strdup(sql);
        if (t->sql == NULL)
            abort();
        t->hash = h;
        db->n_texts++;
        name = t->name;
    }
    if (name != NULL) {
        if (!PQsendQueryPrepared(db->conn, name, nparams, params, NULL, NULL, 0))
            return NULL;
    } else if (!PQsendQueryParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0)) {
        return NULL;
    }
    return collect(db);
}

PGresult *db_simple(srv_db *db, const char *sql)
{
    if (db->conn == NULL)
        return NULL;
    if (!PQsendQuery(db->conn, sql))
        return NULL;
    return collect(db);
}

PGresult *db_copy_end(srv_db *db, const char *error)
{
    if (db->conn == NULL || PQputCopyEnd(db->conn, error) != 1)
        return NULL;
    return collect(db);
}

void db_set_deadline(srv_db *db, uint64_t deadline_ms)
{
    db->deadline_ms = deadline_ms;
    db->timed_out = 0;
}

void db_close(srv_db *db)
{
    drop_conn(db);
    free(db->conninfo);
    db->conninfo = NULL;
}
