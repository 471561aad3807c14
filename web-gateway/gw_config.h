/*
 * gw_config.h - the settings of concord-gateway and the table that fills them
 * from defaults, the INI file, CONCORD_* environment variables and flags.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stddef.h>
#include "cfg.h"

typedef struct gw_settings {
    /* [gateway] */
    char *listen;              /* host:port to serve HTTPS on; port 0 picks a free port */
    char *tls_cert;            /* PEM certificate chain */
    char *tls_key;             /* PEM private key */
    char *tls_min_version;     /* "1.3" (default) or "1.2" (AEAD ciphers only) */
    int http2;                 /* offer HTTP/2 through ALPN */
    char *portal_dir;          /* folder with the portal's static files */
    size_t max_body;           /* largest request body accepted */
    unsigned drain_timeout_ms; /* how long SIGTERM waits for requests in flight */
    char *csrf_key;            /* shared CSRF key for several gateways; NULL: random */
    char *origin;              /* public origin ("https://host:port"); NULL: from Host */
    int threads;               /* event-loop threads; 0: the CPUs, at most 8 */
    /* [upstream] */
    char *up_address;          /* concordd host:port */
    char *up_ca_file;          /* CA of concordd's certificate; NULL: system store */
    char *up_server_name;      /* name checked against concordd's certificate */
    int up_connections;        /* size of the connection pool */
    unsigned up_call_timeout_ms; /* default deadline of a forwarded call */
    /* [log] */
    char *log_level;
} gw_settings;

/** The configuration table, terminated by an entry whose name is NULL. */
extern const cfg_key gw_config_keys[];

/** Prefix of the environment variables (CONCORD_GATEWAY_LISTEN, ...). */
#define GW_ENV_PREFIX "CONCORD"

/** Most event-loop threads gateway.threads accepts. */
#define GW_MAX_THREADS 64

#endif
