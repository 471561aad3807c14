/*
 * settings.h - concordd's configuration: one table (settings.c) drives the
 * INI file, CONCORD_* environment variables, --section.key flags and --help.
 */
#ifndef SRV_SETTINGS_H
#define SRV_SETTINGS_H

#include "cfg.h"
#include <stddef.h>

typedef struct srv_settings {
    /* [server] */
    char *listen; /* host:port; port 0 picks a free one */
    char *tls_cert;
    char *tls_key;
    char *tls_client_ca;       /* set: clients must present a certificate it signed */
    char *tls_min_version;     /* "1.3" or "1.2" */
    int workers;               /* worker threads, one database connection each */
    size_t max_frame;          /* largest frame after the first authenticated call */
    size_t max_frame_prelogin; /* largest frame before it */
    int max_connections;
    int max_inflight; /* calls in flight per connection before reading pauses */
    int max_queue;    /* calls queued for workers before RESOURCE_EXHAUSTED */
    int pipeline;     /* most queued reads a worker sends to the database together */
    unsigned handshake_timeout;
    unsigned login_timeout; /* a connection with no authenticated call by then is closed */
    unsigned idle_timeout;
    unsigned frame_timeout; /* a started frame must be complete within this */
    unsigned call_timeout;  /* default and maximum deadline of one call */
    size_t write_queue_max; /* bytes queued to a client before it is disconnected */
    unsigned drain_timeout;
    unsigned scheduler_interval; /* how often periodic tasks check whether they are due; 0: never */
    /* [database] */
    char *db_url;
    char *db_owner_url;
    int migrate_on_start;
    unsigned db_connect_timeout;
    /* [auth] */
    unsigned session_idle_timeout;
    unsigned session_absolute_timeout;
    unsigned auth_cache_ttl;    /* how long a resolved credential is trusted without a look-up */
    int argon2_memory_kib;
    int argon2_iterations;
    int login_backoff_user;    /* failures of one user name before attempts must wait */
    int login_backoff_address; /* failures from one address before attempts must wait */
    int login_lockout;         /* failures of one user name that lock it for an hour */
    /* [log] */
    char *log_level;
} srv_settings;

extern const cfg_key srv_settings_keys[];

#endif
