/*
 * pool.c - worker threads and the two queues.
 */
#include "pool.h"
#include "cc_log.h"
#include "worker.h"
#include <stdlib.h>
#include <string.h>

void srv_job_free(srv_job *job)
{
    if (job == NULL)
        return;
    free(job->data);
    free(job->reply);
    free(job);
}

static void on_async(uv_async_t *h)
{
    srv_pool *p = h->data;
    pthread_mutex_lock(&p->mu);
    srv_job *list = p->done_head;
    p->done_head = p->done_tail = NULL;
    pthread_mutex_unlock(&p->mu);
    while (list != NULL) {
        srv_job *next = list->next;
        list->next = NULL;
        p->on_done(list, p->ud);
        list = next;
    }
}

typedef struct {
    srv_pool *pool;
    int index;
} worker_arg;

static srv_job *take_head(srv_pool *p)
{
    srv_job *job = p->head;
    p->head = job->next;
    if (p->head == NULL)
        p->tail = NULL;
    p->queued--;
    job->next = NULL;
    return job;
}

static int pipelined(const srv_job *job)
{
    return job->task == NULL && job->route != NULL && job->route->query != NULL &&
           !(job->route->flags & SRV_WRITE);
}

/*
 * A worker takes the call at the head of the queue. When that is a
 * one-statement read, it also takes the reads queued right behind it (up to
 * server.pipeline in all) and sends them to the database as one pipeline,
 * but leaves one call for every idle worker, so that batching never keeps a
 * worker waiting while calls queue.
 */
static void *worker_main(void *arg)
{
    worker_arg wa = *(worker_arg *)arg;
    free(arg);
    srv_pool *p = wa.pool;
    srv_worker w;
    srv_worker_init(&w, p->cfg, wa.index);
    srv_job **batch = calloc((size_t)p->cfg->pipeline, sizeof(*batch));
    if (batch == NULL)
        abort();
    for (;;) {
        pthread_mutex_lock(&p->mu);
        p->idle++;
        while (p->head == NULL && !p->stopping)
            pthread_cond_wait(&p->cv, &p->mu);
        p->idle--;
        if (p->head == NULL && p->stopping) {
            pthread_mutex_unlock(&p->mu);
            break;
        }
        int n = 0;
        batch[n++] = take_head(p);
        while (pipelined(batch[0]) && n < p->cfg->pipeline && p->head != NULL &&
               pipelined(p->head) && p->queued > p->idle)
            batch[n++] = take_head(p);
        pthread_mutex_unlock(&p->mu);

        if (n == 1)
            srv_exec(&w, batch[0]);
        else
            srv_exec_pipeline(&w, batch, n);

        pthread_mutex_lock(&p->mu);
        for (int i = 0; i < n; i++) {
            if (p->done_tail)
                p->done_tail->next = batch[i];
            else
                p->done_head = batch[i];
            p->done_tail = batch[i];
        }
        pthread_mutex_unlock(&p->mu);
        uv_async_send(&p->async);
    }
    free(batch);
    srv_worker_destroy(&w);
    return NULL;
}

int srv_pool_start(srv_pool *p, uv_loop_t *loop, const srv_settings *cfg, srv_job_done_cb on_done,
                   void *ud)
{
    memset(p, 0, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->cfg = cfg;
    p->on_done = on_done;
    p->ud = ud;
    if (uv_async_init(loop, &p->async, on_async) != 0)
        return CC_EIO;
    p->async.data = p;
    p->threads = calloc((size_t)cfg->workers, sizeof(pthread_t));
    if (p->threads == NULL)
        return CC_ENOMEM;
    for (int i = 0; i < cfg->workers; i++) {
        worker_arg *wa = malloc(sizeof(*wa));
        if (wa == NULL)
            return CC_ENOMEM;
        wa->pool = p;
        wa->index = i;
        if (pthread_create(&p->threads[i], NULL, worker_main, wa) != 0) {
            free(wa);
            return CC_EIO;
        }
        p->n_threads++;
    }
    return 0;
}

int srv_pool_submit(srv_pool *p, srv_job *job)
{
    pthread_mutex_lock(&p->mu);
    if (p->queued >= p->cfg->max_queue || p->stopping) {
        pthread_mutex_unlock(&p->mu);
        return CC_EBUSY;
    }
    job->next = NULL;
    if (p->tail)
        p->tail->next = job;
    else
        p->head = job;
    p->tail = job;
    p->queued++;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

void srv_pool_stop(srv_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    free(p->threads);
    p->threads = NULL;
    /* Jobs finished after the loop stopped listening are dropped here. */
    on_async(&p->async);
    uv_close((uv_handle_t *)&p->async, NULL);
}
