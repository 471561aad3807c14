/*
 * pool.h - the worker pool: a fixed number of threads, each with its own
 * database connection and arena, taking calls from one queue and handing
 * finished replies back to the loop thread through uv_async.
 *
 * Only the queue crosses threads. A job's conn pointer is the loop thread's
 * business: workers never dereference it.
 */
#ifndef SRV_POOL_H
#define SRV_POOL_H

#include "dispatch.h"
#include "settings.h"
#include <pthread.h>
#include <stdint.h>
#include <uv.h>

typedef struct srv_job {
    struct srv_job *next;
    void *conn; /* the connection that sent it (loop thread only) */
    uint64_t frame_id;
    const srv_route *route; /* the method called, or NULL for a task */
    srv_task_fn task;       /* a scheduler task instead of a call */
    const char *task_name;
    uint8_t *payload; /* request bytes, in data */
    size_t len;
    char *token;           /* in data; may be NULL */
    char *idempotency_key; /* in data; may be NULL */
    uint8_t *data;         /* owned: payload, token and key; reused with data_cap */
    size_t data_cap;
    char peer[48];
    uint64_t deadline_ms; /* monotonic */
    /* Filled by the worker. */
    uint8_t *reply;   /* the whole framed Reply (owned; reused with reply_cap) */
    size_t reply_len; /* 0: no reply could be encoded */
    size_t reply_cap;
    int code;
    int authenticated; /* the call carried a valid credential */
} srv_job;

typedef void (*srv_job_done_cb)(srv_job *job, void *ud);

typedef struct srv_pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    srv_job *head, *tail; /* waiting for a worker */
    int queued;
    int idle;                       /* workers waiting for a call */
    srv_job *done_head, *done_tail; /* finished, waiting for the loop */
    uv_async_t async;
    pthread_t *threads;
    int n_threads;
    int stopping;
    const srv_settings *cfg;
    srv_job_done_cb on_done;
    void *ud;
} srv_pool;

/** Starts n workers; on_done runs on the loop thread for each finished job. */
int srv_pool_start(srv_pool *p, uv_loop_t *loop, const srv_settings *cfg, srv_job_done_cb on_done,
                   void *ud) CC_MUST_CHECK;
/** Queues a job (takes ownership). CC_EBUSY when max_queue jobs are waiting. */
int srv_pool_submit(srv_pool *p, srv_job *job) CC_MUST_CHECK;
/** Lets workers finish their current job, joins them, closes the async handle. */
void srv_pool_stop(srv_pool *p);
/** Frees a job and what it owns. */
void srv_job_free(srv_job *job);

/** Runs one job on a worker (exec.c). */
typedef struct srv_worker srv_worker;
void srv_exec(srv_worker *w, srv_job *job);
/** Runs n one-statement reads (their routes have a query) as one database pipeline. */
void srv_exec_pipeline(srv_worker *w, srv_job **jobs, int n);

#endif
