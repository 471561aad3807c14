/*
 * db.c - a worker's database connection.
 *
 * Invariants: conn is NULL or a connection we created; stmts lists the
 * statements prepared on the current conn and is emptied whenever conn is
 * replaced. Every connection gets a fixed search_path so that unqualified
 * names resolve to the concord schema only.
 */
#include "db.h"
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
    const char *keys[] = {"dbname",         "connect_timeout",     "application_name",
                          "options",        "keepalives",          "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                          NULL};
    const char *vals[] = {db->conninfo, timeout, "concordd", options, "1", "5", "2", "3",
                          "10000", NULL};
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
    PGresult *r = PQprepare(db->conn, s->name, sql, nparams, NULL);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        *error = r;
        return NULL;
    }
    PQclear(r);
    s->sql = sql;
    db->n_stmts++;
    return s->name;
}

PGresult *db_exec(srv_db *db, const char *sql, int nparams, const char *const *params)
{
    if (db->conn == NULL)
        return NULL;
    PGresult *error;
    const char *name = prepare(db, sql, nparams, &error);
    if (name == NULL) {
        if (error != NULL || db_broken(db))
            return error;
        /* The cache is full: run it unprepared. */
        return PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
    }
    return PQexecPrepared(db->conn, name, nparams, params, NULL, NULL, 0);
}

PGresult *db_exec_once(srv_db *db, const char *sql, int nparams, const char *const *params)
{
    if (db->conn == NULL)
        return NULL;
    return PQexecParams(db->conn, sql, nparams, NULL, params, NULL, NULL, 0);
}

PGresult *db_simple(srv_db *db, const char *sql)
{
    if (db->conn == NULL)
        return NULL;
    return PQexec(db->conn, sql);
}

void db_close(srv_db *db)
{
    drop_conn(db);
    free(db->conninfo);
    db->conninfo = NULL;
}
