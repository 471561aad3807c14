/*
 * db.h - one worker's PostgreSQL connection: lazy (re)connect with fail-fast
 * back-off, and prepared statements cached per connection.
 *
 * A statement is identified by the address of its SQL text (a string
 * literal), so a handler writes its SQL inline and the first use on each
 * connection prepares it. Not thread-safe: a srv_db belongs to one worker.
 */
#ifndef SRV_DB_H
#define SRV_DB_H

#include "cc_error.h"
#include <libpq-fe.h>
#include <stdint.h>

#define DB_MAX_STMTS 512
#define DB_MAX_TEXT_STMTS 256

typedef struct db_stmt {
    const char *sql; /* key: address of the SQL literal */
    char name[12];   /* "s<n>" on this connection */
} db_stmt;

typedef struct srv_db {
    PGconn *conn;
    char *conninfo;
    unsigned connect_timeout_ms;
    uint64_t retry_after_ms; /* monotonic; no reconnect attempt before this */
    unsigned failures;       /* consecutive failed connects, for back-off */
    db_stmt stmts[DB_MAX_STMTS];
    int n_stmts;
    /* Statements assembled at run time (list filters), prepared by their text:
     * a bounded set of shapes, each planned once per connection. */
    struct db_text_stmt {
        char *sql;     /* malloc'ed copy */
        uint64_t hash;
        char name[12]; /* "t<n>" */
    } texts[DB_MAX_TEXT_STMTS];
    int n_texts;
    unsigned generation;     /* bumped at every new connection (session state is gone) */
    unsigned statement_timeout_ms; /* session default for statements outside transactions */
    uint64_t deadline_ms;    /* monotonic; 0: none. Waits for results end here */
    int timed_out;           /* the last wait hit the deadline (the connection was dropped) */
} srv_db;

/** Prepares the struct; connects lazily on first use. Takes a copy of conninfo. Statements
 *  run with statement_timeout_ms unless a transaction sets its own. */
void db_init(srv_db *db, const char *conninfo, unsigned connect_timeout_ms,
             unsigned statement_timeout_ms);
/**
 * Makes sure the connection is usable, reconnecting if it broke. While the
 * database is down, calls fail at once (back-off up to 1 s) instead of each
 * waiting for a connect timeout. Returns 0 or CC_EIO.
 */
int db_ensure(srv_db *db) CC_MUST_CHECK;
/**
 * Runs a cached prepared statement with text parameters (NULL = SQL NULL).
 * Returns the PGresult (caller clears) or NULL when the connection failed.
 */
PGresult *db_exec(srv_db *db, const char *sql, int nparams, const char *const *params);
/** Runs SQL text built at run time with text parameters, prepared once per distinct
 *  text on this connection (while fewer than DB_MAX_TEXT_STMTS; then unprepared). */
PGresult *db_exec_once(srv_db *db, const char *sql, int nparams, const char *const *params);
/** Prepares a statement (a literal, as for db_exec) unless it already is. Returns 0, or -1 with
 *  the failed PREPARE's result in *error (NULL when the connection failed); the caller clears it.
 */
int db_prepare(srv_db *db, const char *sql, int nparams, PGresult **error);
/** Pipeline mode (libpq 14+): begin, then per call db_pipeline_send its statements and
 *  db_pipeline_sync; then per call the results of its statements (db_pipeline_result) and its
 *  sync point (db_pipeline_synced), in the order sent; then db_pipeline_end. Statements are
 *  prepared beforehand with db_prepare. The functions return -1 (NULL) when the connection
 *  failed or the deadline passed; the connection is then dropped and later calls see it. */
int db_pipeline_begin(srv_db *db);
int db_pipeline_send(srv_db *db, const char *sql, int nparams, const char *const *params);
int db_pipeline_sync(srv_db *db);
PGresult *db_pipeline_result(srv_db *db);
int db_pipeline_synced(srv_db *db);
void db_pipeline_end(srv_db *db);
/** Runs SQL text without parameters (BEGIN, COMMIT, ROLLBACK). */
PGresult *db_simple(srv_db *db, const char *sql);
/** Sets the deadline for the statements that follow (the call's) and clears timed_out. */
void db_set_deadline(srv_db *db, uint64_t deadline_ms);
/** Ends a COPY FROM STDIN and collects its result (NULL when the connection failed). */
PGresult *db_copy_end(srv_db *db, const char *error);
/** True when the connection is gone (the caller answers UNAVAILABLE). */
int db_broken(const srv_db *db);
/** Closes the connection and frees the copy of conninfo. */
void db_close(srv_db *db);
/** Milliseconds of CLOCK_MONOTONIC. */
uint64_t db_now_ms(void);

#endif
