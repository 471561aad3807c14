/*
 * migrate.c - applies server/sql migrations under an advisory lock.
 *
 * The migration table records what ran; a migration never changes once it has
 * landed, so only versions above the highest recorded one are applied.
 */
#include "migrate.h"
#include "cc_log.h"
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Arbitrary constant naming Concord's migration lock among advisory locks. */
#define MIGRATE_LOCK_KEY "7433000001"

static int run(PGconn *pg, const char *sql, char *err, size_t errlen)
{
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
    if (!ok)
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

int srv_migrate(const char *conninfo, char *err, size_t errlen)
{
    int rc = -1;
    PGconn *pg = PQconnectdb(conninfo);
    if (PQstatus(pg) != CONNECTION_OK) {
        snprintf(err, errlen, "cannot connect as the schema owner: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return -1;
    }
    if (run(pg, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", err, errlen) != 0)
        goto out;
    if (run(pg,
            "SET client_min_messages = warning;"
            "CREATE SCHEMA IF NOT EXISTS concord;"
            "CREATE TABLE IF NOT EXISTS concord.schema_migrations ("
            " version int PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())",
            err, errlen) != 0)
        goto unlock;

    PGresult *r = PQexec(pg, "SELECT coalesce(max(version), 0) FROM concord.schema_migrations");
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        goto unlock;
    }
    int current = atoi(PQgetvalue(r, 0, 0));
    PQclear(r);

    int applied = 0;
    for (const srv_migration *m = srv_migrations; m->sql != NULL; m++) {
        if (m->version <= current)
            continue;
        if (run(pg, "BEGIN; SET LOCAL search_path = concord", err, errlen) != 0)
            goto unlock;
        if (run(pg, m->sql, err, errlen) != 0) {
            char why[1024];
            snprintf(why, sizeof(why), "%s", err);
            snprintf(err, errlen, "migration %s failed: %s", m->name, why);
            PQclear(PQexec(pg, "ROLLBACK"));
            goto unlock;
        }
        char version[16];
        snprintf(version, sizeof(version), "%d", m->version);
        const char *params[2] = {version, m->name};
        r = PQexecParams(pg,
                         "INSERT INTO concord.schema_migrations (version, name) VALUES ($1, $2)", 2,
                         NULL, params, NULL, NULL, 0);
        int ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (!ok)
            snprintf(err, errlen, "%s", PQresultErrorMessage(r));
        PQclear(r);
        if (!ok || run(pg, "COMMIT", err, errlen) != 0) {
            PQclear(PQexec(pg, "ROLLBACK"));
            goto unlock;
        }
        log_event(LOG_INFO, "migration_applied", "name", m->name, NULL);
        applied++;
    }
    if (applied == 0)
        log_event(LOG_INFO, "migrations_current", NULL);
    rc = 0;
unlock:
    PQclear(PQexec(pg, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")"));
out:
    PQfinish(pg);
    return rc;
}
