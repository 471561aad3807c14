/*
 * scheduler.c - periodic tasks. A tick queues every task that is not still
 * running from the previous tick; the task itself checks whether anything is
 * due, so a restart or a missed tick loses nothing and several concordd
 * instances do the work once (each task takes an advisory lock).
 */
#include "lifecycle.h"
#include "scheduler.h"
#include "tier_rules.h"
#include "cc_log.h"
#include "db.h"
#include <stdlib.h>

const srv_task srv_tasks[] = {
    {"refresh_stages", contract_task_refresh_stages},
    {"month_end_tiers", tier_task_month_end},
    {NULL, NULL},
};

static void on_tick(uv_timer_t *t)
{
    srv_scheduler *s = t->data;
    if (s->running > 0)
        return; /* the previous round is still busy */
    for (const srv_task *task = srv_tasks; task->fn != NULL; task++) {
        srv_job *job = calloc(1, sizeof(*job));
        if (job == NULL)
            return;
        job->task = task->fn;
        job->task_name = task->name;
        job->deadline_ms = db_now_ms() + 10 * 60 * 1000;
        if (srv_pool_submit(s->pool, job) != 0) {
            srv_job_free(job);
            return;
        }
        s->running++;
    }
}

void srv_scheduler_start(srv_scheduler *s, uv_loop_t *loop, srv_pool *pool, const srv_settings *cfg)
{
    s->pool = pool;
    s->cfg = cfg;
    s->running = 0;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    s->started = 1;
    if (cfg->scheduler_interval > 0)
        uv_timer_start(&s->timer, on_tick, 2000, cfg->scheduler_interval);
}

void srv_scheduler_stop(srv_scheduler *s)
{
    if (s->started)
        uv_timer_stop(&s->timer);
}

void srv_scheduler_done(srv_scheduler *s, srv_job *job)
{
    s->running--;
    srv_job_free(job);
}
