/*
 * main.c - concordd's command line: serve (default), migrate, create-admin.
 */
#include "auth.h"
#include "cc_log.h"
#include "migrate.h"
#include "server.h"
#include "settings.h"
#include <libpq-fe.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef CONCORD_VERSION
#define CONCORD_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out, "usage: concordd [serve|migrate|create-admin|version] [--config FILE] "
                 "[--section.key=value ...]\n"
                 "\n"
                 "  serve          run the server (default)\n"
                 "  migrate        apply pending schema migrations (database.owner_url) and exit\n"
                 "  create-admin   create an admin user: --username NAME --password-stdin\n"
                 "                 [--display-name TEXT] [--department sales|presales|delivery|rnd|"
                 "success]\n"
                 "  version        print the version\n"
                 "\n"
                 "Settings (file < CONCORD_* environment < flags):\n");
    cfg_help(srv_settings_keys, "CONCORD", out);
}

static int setup_logging(const srv_settings *cfg)
{
    int level = log_level_parse(cfg->log_level ? cfg->log_level : "info");
    if (level < 0) {
        fprintf(stderr, "concordd: log.level: expected debug, info, warn or error\n");
        return -1;
    }
    log_setup(level, 2);
    return 0;
}

static int cmd_migrate(const srv_settings *cfg)
{
    char err[1024];
    if (cfg->db_owner_url == NULL) {
        fprintf(stderr, "concordd: database.owner_url is required to migrate\n");
        return 2;
    }
    if (srv_migrate(cfg->db_owner_url, err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "migrate_failed", "error", err, NULL);
        return 1;
    }
    return 0;
}

static const char *arg_value(int argc, char **argv, const char *name)
{
    size_t n = strlen(name);
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], name) == 0 && i + 1 < argc)
            return argv[i + 1];
        if (strncmp(argv[i], name, n) == 0 && argv[i][n] == '=')
            return argv[i] + n + 1;
    }
    return NULL;
}

static int has_flag(int argc, char **argv, const char *name)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], name) == 0)
            return 1;
    return 0;
}

static int cmd_create_admin(const srv_settings *cfg, int argc, char **argv)
{
    const char *username = arg_value(argc, argv, "--username");
    const char *display = arg_value(argc, argv, "--display-name");
    const char *dept = arg_value(argc, argv, "--department");
    if (username == NULL || !has_flag(argc, argv, "--password-stdin")) {
        fprintf(stderr,
                "concordd create-admin: --username NAME and --password-stdin are required\n");
        return 2;
    }
    char password[1100];
    if (fgets(password, sizeof(password), stdin) == NULL) {
        fprintf(stderr, "concordd create-admin: no password on standard input\n");
        return 2;
    }
    password[strcspn(password, "\r\n")] = '\0';
    if (strlen(password) < 12) {
        fprintf(stderr, "concordd create-admin: the password must be at least 12 characters\n");
        return 2;
    }
    char hash[AUTH_HASH_MAX];
    if (auth_password_hash(cfg, password, hash, sizeof(hash)) != 0) {
        fprintf(stderr, "concordd create-admin: cannot hash the password\n");
        return 1;
    }
    PGconn *pg = PQconnectdb(cfg->db_owner_url ? cfg->db_owner_url : cfg->db_url);
    if (PQstatus(pg) != CONNECTION_OK) {
        fprintf(stderr, "concordd create-admin: %s", PQerrorMessage(pg));
        PQfinish(pg);
        return 1;
    }
    const char *params[4] = {username, display ? display : username, dept ? dept : "success", hash};
    PGresult *r = PQexecParams(
        pg,
        "WITH created AS ("
        "  INSERT INTO concord.users (username, display_name, department, role, password_hash)"
        "  VALUES ($1, $2, $3, 'admin', $4) ON CONFLICT (username) DO NOTHING RETURNING id)"
        ", audit AS (INSERT INTO concord.audit_log (source, action, target_type, target_id)"
        "  SELECT 'concordd create-admin', 'create-admin', 'user', id::text FROM created)"
        "SELECT id FROM created",
        4, NULL, params, NULL, NULL, 0);
    int rc = 0;
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        fprintf(stderr, "concordd create-admin: %s", PQresultErrorMessage(r));
        rc = 1;
    } else if (PQntuples(r) == 0) {
        printf("user %s already exists; left unchanged\n", username);
    } else {
        printf("created admin %s (id %s)\n", username, PQgetvalue(r, 0, 0));
    }
    PQclear(r);
    PQfinish(pg);
    return rc;
}

int main(int argc, char **argv)
{
    /* Blocks of 256 KiB and more (large frames and replies, big query results)
     * come from mmap and go back to the system when freed. By default glibc
     * raises its mmap threshold to the size of each such block freed, after
     * which they are carved from the worker threads' heaps and stay resident:
     * a step in memory that does not come back (seen in the soak test). */
    mallopt(M_MMAP_THRESHOLD, 256 * 1024);
    srv_settings cfg;
    memset(&cfg, 0, sizeof(cfg));
    char err[1024];
    if (has_flag(argc, argv, "--help") || has_flag(argc, argv, "-h")) {
        usage(stdout);
        return 0;
    }
    if (cfg_load(srv_settings_keys, &cfg, "CONCORD", NULL, &argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "concordd: %s\n", err);
        cfg_free(srv_settings_keys, &cfg);
        return 2;
    }
    const char *cmd = argc > 1 && argv[1][0] != '-' ? argv[1] : "serve";
    int rc;
    if (setup_logging(&cfg) != 0) {
        rc = 2;
    } else if (strcmp(cmd, "version") == 0) {
        printf("concordd %s\n", CONCORD_VERSION);
        rc = 0;
    } else if (strcmp(cmd, "migrate") == 0) {
        rc = cmd_migrate(&cfg);
    } else if (strcmp(cmd, "create-admin") == 0) {
        rc = cmd_create_admin(&cfg, argc, argv);
    } else if (strcmp(cmd, "serve") == 0) {
        rc = 0;
        if (cfg.migrate_on_start && cfg.db_owner_url != NULL)
            rc = cmd_migrate(&cfg);
        if (rc == 0)
            rc = srv_run(&cfg);
    } else {
        fprintf(stderr, "concordd: unknown command \"%s\"\n", cmd);
        usage(stderr);
        rc = 2;
    }
    cfg_free(srv_settings_keys, &cfg);
    return rc;
}
