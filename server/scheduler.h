/*
 * scheduler.h - concordd's own periodic work (stage refresh, month-end tier
 * evaluation): a timer on the loop thread queues each registered task to the
 * worker pool at every tick. Tasks decide themselves whether they are due.
 */
#ifndef SRV_SCHEDULER_H
#define SRV_SCHEDULER_H

#include "pool.h"
#include <uv.h>

typedef struct srv_task {
    const char *name; /* for logs */
    srv_task_fn fn;
} srv_task;

/** The registered tasks, terminated by {NULL, NULL}; one line per task in scheduler.c. */
extern const srv_task srv_tasks[];

typedef struct srv_scheduler {
    uv_timer_t timer;
    srv_pool *pool;
    const srv_settings *cfg;
    int running; /* tasks queued and not yet done */
    int started;
} srv_scheduler;

/** Starts ticking every server.scheduler_interval (the first tick soon after start). */
void srv_scheduler_start(srv_scheduler *s, uv_loop_t *loop, srv_pool *pool,
                         const srv_settings *cfg);
/** Stops the timer (drain). */
void srv_scheduler_stop(srv_scheduler *s);
/** A task's job came back from the pool. */
void srv_scheduler_done(srv_scheduler *s, srv_job *job);

#endif
