/*
 * worker.h - what one worker thread owns: its database connection and the
 * arena reused by every call it runs.
 */
#ifndef SRV_WORKER_H
#define SRV_WORKER_H

#include "arena.h"
#include "db.h"
#include "settings.h"
#include <stdint.h>

struct srv_worker {
    int index;
    const srv_settings *cfg;
    srv_db db;
    arena arena;
    uint64_t next_idem_expiry_ms; /* monotonic; when to delete expired idempotency keys */
    /* The caller set on the connection's session for row-level security
     * ("id|role|department"), valid while context_gen == db.generation. */
    char context[96];
    unsigned context_gen;
};
typedef struct srv_worker srv_worker;

void srv_worker_init(srv_worker *w, const srv_settings *cfg, int index);
void srv_worker_destroy(srv_worker *w);

#endif
