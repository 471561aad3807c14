/*
 * gw_upstream.c - a small pool of multiplexed connections to concordd.
 *
 * Each slot owns at most one cc_client and one timer. States:
 *   SLOT_CONNECTING  a client exists and its connect callback is pending;
 *   SLOT_READY       connected; calls may be sent;
 *   SLOT_WAITING     no usable client; the timer fires a reconnect after backoff.
 * A client that failed or was lost is closed from the timer callback, never
 * inside its own callback. The pool is freed once every timer handle closed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cc_log.h"
#include "gw_upstream.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 10000

typedef enum {
    SLOT_CONNECTING, /* connect callback pending */
    SLOT_READY,      /* usable for calls */
    SLOT_WAITING,    /* waiting for the backoff timer to reconnect */
} slot_state;

typedef struct gw_slot {
    struct gw_upstream *up;
    int index;
    slot_state state;
    cc_client *client;  /* NULL while waiting with nothing to close */
    uv_timer_t timer;
    unsigned backoff_ms;
    unsigned failures; /* connect failures since the last success */
} gw_slot;

struct gw_upstream {
    uv_loop_t *loop;
    char thread[16];   /* the owning event-loop thread, for the logs */
    cc_options opts;
    char host[256];
    char *ca_file;
    char *server_name;
    int n;
    int closing;
    int open_handles;  /* timers not yet closed */
    gw_slot *slots;
};

int gw_split_host_port(const char *s, char *host, size_t hostlen, int *port)
{
    const char *colon;
    const char *h = s;
    size_t hl;
    if (s == NULL)
        return CC_EINVAL;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (end == NULL || end[1] != ':')
            return CC_EINVAL;
        h = s + 1;
        hl = (size_t)(end - h);
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return CC_EINVAL;
        hl = (size_t)(colon - s);
    }
    if (hl == 0 || hl >= hostlen)
        return CC_EINVAL;
    char *endp;
    long p = strtol(colon + 1, &endp, 10);
    if (*endp != '\0' || endp == colon + 1 || p < 0 || p > 65535)
        return CC_EINVAL;
    memcpy(host, h, hl);
    host[hl] = '\0';
    *port = (int)p;
    return 0;
}

static void slot_connect(gw_slot *s);
static void on_retry(uv_timer_t *t);

static void slot_schedule(gw_slot *s)
{
    s->state = SLOT_WAITING;
    if (s->up->closing)
        return;
    /* Full jitter spreads the reconnects of several gateways after a restart. */
    unsigned delay = s->backoff_ms / 2 + (unsigned)(rand() % (int)(s->backoff_ms / 2 + 1));
    s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
    uv_timer_start(&s->timer, on_retry, delay, 0);
}

static void on_retry(uv_timer_t *t)
{
    gw_slot *s = container_of(t, gw_slot, timer);
    if (s->client != NULL) {
        cc_client_close(s->client);
        s->client = NULL;
    }
    if (!s->up->closing)
        slot_connect(s);
}

static void on_lost(cc_client *c, int err, void *ud)
{
    gw_slot *s = ud;
    if (s->up->closing)
        return;
    char idx[16];
    snprintf(idx, sizeof idx, "%d", s->index);
    log_event(LOG_WARN, "upstream_lost", "thread", s->up->thread, "conn", idx, "error",
              cc_strerror(err), NULL);
    s->backoff_ms = BACKOFF_MIN_MS;
    slot_schedule(s);
}

static void on_connected(cc_client *c, int status, void *ud)
{
    gw_slot *s = ud;
    if (s->up->closing) {
        s->state = SLOT_WAITING;
        return;
    }
    char idx[16];
    snprintf(idx, sizeof idx, "%d", s->index);
    if (status == 0) {
        s->state = SLOT_READY;
        s->backoff_ms = BACKOFF_MIN_MS;
        s->failures = 0;
        log_event(LOG_INFO, "upstream_connected", "thread", s->up->thread, "conn", idx, NULL);
        return;
    }
    /* While concordd is down every retry fails: warn once, then only in debug logs. */
    log_event(s->failures++ == 0 ? LOG_WARN : LOG_DEBUG, "upstream_connect_failed", "thread",
              s->up->thread, "conn", idx, "error", cc_strerror(status), NULL);
    slot_schedule(s);
}

static void slot_connect(gw_slot *s)
{
    int rc = cc_client_new(s->up->loop, &s->up->opts, &s->client);
    if (rc != 0) {
        s->client = NULL;
        log_event(LOG_ERROR, "upstream_client_failed", "error", cc_strerror(rc), NULL);
        slot_schedule(s);
        return;
    }
    cc_client_on_lost(s->client, on_lost, s);
    s->state = SLOT_CONNECTING;
    rc = cc_client_connect(s->client, on_connected, s);
    if (rc != 0) {
        log_event(LOG_WARN, "upstream_connect_failed", "error", cc_strerror(rc), NULL);
        slot_schedule(s);
    }
}

int gw_upstream_new(uv_loop_t *loop, int thread, const cc_options *o, int n, gw_upstream **out)
{
    gw_upstream *u = calloc(1, sizeof *u);
    if (u == NULL)
        return CC_ENOMEM;
    u->slots = calloc((size_t)n, sizeof *u->slots);
    if (u->slots == NULL) {
        free(u);
        return CC_ENOMEM;
    }
    u->loop = loop;
    snprintf(u->thread, sizeof u->thread, "%d", thread);
    u->opts = *o;
    if (o->host != NULL)
        snprintf(u->host, sizeof u->host, "%s", o->host);
    u->opts.host = o->host != NULL ? u->host : NULL;
    u->ca_file = o->ca_file != NULL ? strdup(o->ca_file) : NULL;
    u->server_name = o->server_name != NULL ? strdup(o->server_name) : NULL;
    u->opts.ca_file = u->ca_file;
    u->opts.server_name = u->server_name;
    u->n = n;
    for (int i = 0; i < n; i++) {
        gw_slot *s = &u->slots[i];
        s->up = u;
        s->index = i;
        s->backoff_ms = BACKOFF_MIN_MS;
        uv_timer_init(loop, &s->timer);
        u->open_handles++;
    }
    /* The first connects run on the loop, so on the thread that owns it: libconcord
     * gives the clients of each thread their own TLS context. */
    for (int i = 0; i < n; i++) {
        u->slots[i].state = SLOT_WAITING;
        uv_timer_start(&u->slots[i].timer, on_retry, 0, 0);
    }
    *out = u;
    return 0;
}

static int slot_ready(const gw_slot *s)
{
    return s->state == SLOT_READY && s->client != NULL && cc_client_ready(s->client);
}

int gw_upstream_ready(const gw_upstream *u)
{
    int n = 0;
    if (u == NULL)
        return 0;
    for (int i = 0; i < u->n; i++)
        n += slot_ready(&u->slots[i]);
    return n;
}

int gw_upstream_call(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud)
{
    gw_slot *best = NULL;
    size_t best_load = 0;
    if (u == NULL)
        return CC_ECLOSED;
    for (int i = 0; i < u->n; i++) {
        gw_slot *s = &u->slots[i];
        if (!slot_ready(s))
            continue;
        size_t load = cc_client_in_flight(s->client);
        if (best == NULL || load < best_load) {
            best = s;
            best_load = load;
        }
    }
    if (best == NULL)
        return CC_ECLOSED;
    return cc_client_call(best->client, method, payload, len, token, idempotency_key, deadline_ms,
                          cb, ud);
}

static void on_timer_closed(uv_handle_t *h)
{
    gw_slot *s = container_of((uv_timer_t *)h, gw_slot, timer);
    gw_upstream *u = s->up;
    if (--u->open_handles == 0) {
        free(u->ca_file);
        free(u->server_name);
        free(u->slots);
        free(u);
    }
}

void gw_upstream_close(gw_upstream *u)
{
    if (u == NULL)
        return;
    u->closing = 1;
    for (int i = 0; i < u->n; i++) {
        gw_slot *s = &u->slots[i];
        if (s->client != NULL) {
            cc_client *c = s->client;
            s->client = NULL;
            s->state = SLOT_WAITING;
            cc_client_close(c);
        }
        uv_timer_stop(&s->timer);
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    }
}
