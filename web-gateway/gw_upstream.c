/*
 * gw_upstream.c - a small pool of multiplexed connections to concordd.
 *
 * Each slot owns at most one cc_client and one timer. States:
 *   SLOT_IDLE        no client; the slot connects when calls need it;
 *   SLOT_CONNECTING  a client exists and its connect callback is pending;
 *   SLOT_READY       connected; calls may be sent;
 *   SLOT_WAITING     no usable client; the timer fires a reconnect after backoff.
 * Slot 0 is always connected or reconnecting, so that the pool's readiness says whether
 * concordd is reachable. The other slots connect only when every ready connection carries
 * FILL_CALLS calls, and go back to SLOT_IDLE when concordd closes them while unused.
 * A call made while no connection is ready but one is connecting waits in the pending
 * list (with copies of its arguments) until that connect ends; it never waits for a
 * backoff timer, so calls fail at once while concordd is unreachable.
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

/*
 * Calls go to the first ready connection that carries fewer than this many, so that calls
 * made together share a connection: the calls of one loop turn then leave as one TLS record
 * and one write, and concordd reads them together and runs them as one pipeline. Spreading
 * them over every connection instead cost concordd and PostgreSQL more per call
 * (docs/PERFORMANCE.md, "One busy upstream connection"). It stays below concordd's
 * server.max_inflight (128), past which concordd stops reading a connection.
 */
#define FILL_CALLS 64

typedef enum {
    SLOT_IDLE,       /* not connected; connects when calls need it */
    SLOT_CONNECTING, /* connect callback pending */
    SLOT_READY,      /* usable for calls */
    SLOT_WAITING,    /* waiting for the backoff timer to reconnect */
} slot_state;

/* A call waiting for a connection; the strings and the payload follow the struct. */
typedef struct gw_pending {
    struct gw_pending *next;
    const char *method;
    const uint8_t *payload;
    size_t len;
    const char *token;           /* NULL for none */
    const char *idempotency_key; /* NULL for none */
    uint32_t deadline_ms;
    uint64_t queued_at; /* uv_now when the call was made */
    cc_reply_cb cb;
    void *ud;
} gw_pending;

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
    gw_pending *pending; /* oldest first */
    gw_pending **pending_tail;
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
static int pool_send(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud);

static int slot_ready(const gw_slot *s)
{
    return s->state == SLOT_READY && s->client != NULL && cc_client_ready(s->client);
}

/* True while a connect is under way, so that a call may wait for it. */
static int pool_connecting(const gw_upstream *u)
{
    for (int i = 0; i < u->n; i++)
        if (u->slots[i].state == SLOT_CONNECTING)
            return 1;
    return 0;
}

/* Ends a pending call without sending it. */
static void pending_fail(gw_pending *p, int code, const char *message)
{
    cc_status st = {.code = code, .message = message};
    static const uint8_t empty[1];
    p->cb(NULL, &st, empty, 0, p->ud);
    free(p);
}

/*
 * Sends the pending calls once a connection is ready, or fails them when no connect is
 * under way any more. A call whose deadline passed while it waited ends with
 * DEADLINE_EXCEEDED.
 */
static void pending_flush(gw_upstream *u)
{
    if (u->pending == NULL || (!u->closing && gw_upstream_ready(u) == 0 && pool_connecting(u)))
        return;
    gw_pending *list = u->pending;
    u->pending = NULL;
    u->pending_tail = &u->pending;
    uint64_t now = uv_now(u->loop);
    while (list != NULL) {
        gw_pending *p = list;
        list = p->next;
        uint64_t waited = now - p->queued_at;
        if (u->closing || gw_upstream_ready(u) == 0) {
            pending_fail(p, CC_UNAVAILABLE, "the Concord server is not reachable; retry later");
        } else if (p->deadline_ms != 0 && waited >= p->deadline_ms) {
            pending_fail(p, CC_DEADLINE_EXCEEDED, "deadline exceeded waiting for a connection");
        } else {
            uint32_t left = p->deadline_ms != 0 ? p->deadline_ms - (uint32_t)waited : 0;
            int rc = pool_send(u, p->method, p->payload, p->len, p->token, p->idempotency_key, left,
                               p->cb, p->ud);
            if (rc != 0)
                pending_fail(p, CC_UNAVAILABLE, cc_strerror(rc));
            else
                free(p);
        }
    }
}

/* Copies a call into the pending list. */
static int pending_add(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                       const char *token, const char *idempotency_key, uint32_t deadline_ms,
                       cc_reply_cb cb, void *ud)
{
    size_t mlen = strlen(method) + 1;
    size_t tlen = token != NULL ? strlen(token) + 1 : 0;
    size_t klen = idempotency_key != NULL ? strlen(idempotency_key) + 1 : 0;
    gw_pending *p = malloc(sizeof *p + mlen + tlen + klen + len);
    if (p == NULL)
        return CC_ENOMEM;
    char *at = (char *)(p + 1);
    p->next = NULL;
    p->method = memcpy(at, method, mlen);
    at += mlen;
    p->token = tlen ? memcpy(at, token, tlen) : NULL;
    at += tlen;
    p->idempotency_key = klen ? memcpy(at, idempotency_key, klen) : NULL;
    at += klen;
    p->payload = len ? memcpy(at, payload, len) : NULL;
    p->len = len;
    p->deadline_ms = deadline_ms;
    p->queued_at = uv_now(u->loop);
    p->cb = cb;
    p->ud = ud;
    *u->pending_tail = p;
    u->pending_tail = &p->next;
    return 0;
}

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

/* Closes a spare slot's client after concordd closed it, and leaves the slot idle. */
static void on_idle(uv_timer_t *t)
{
    gw_slot *s = container_of(t, gw_slot, timer);
    if (s->client != NULL) {
        cc_client_close(s->client);
        s->client = NULL;
    }
    s->state = SLOT_IDLE;
}

static void on_lost(cc_client *c, int err, void *ud)
{
    gw_slot *s = ud;
    (void)c;
    if (s->up->closing)
        return;
    char idx[16];
    snprintf(idx, sizeof idx, "%d", s->index);
    s->backoff_ms = BACKOFF_MIN_MS;
    /*
     * concordd closes a connection cleanly only when it carries no call: one without an
     * authenticated call by server.login_timeout, one idle for server.idle_timeout, or at
     * shutdown. That is routine for a quiet gateway. A spare slot then waits until calls
     * need it again; slot 0 reconnects. Anything else is a fault worth a warning.
     */
    if (err == CC_EEOF) {
        log_event(LOG_DEBUG, "upstream_closed", "thread", s->up->thread, "conn", idx, NULL);
        if (s->index > 0) {
            s->state = SLOT_WAITING;
            uv_timer_start(&s->timer, on_idle, 0, 0);
            return;
        }
        /* Slot 0 reconnects at once. Its lost client is closed from the timer, and until
         * the new connection is ready calls wait for it (pending) instead of failing. */
        s->state = SLOT_CONNECTING;
        uv_timer_start(&s->timer, on_retry, 0, 0);
        return;
    } else {
        log_event(LOG_WARN, "upstream_lost", "thread", s->up->thread, "conn", idx, "error",
                  cc_strerror(err), NULL);
    }
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
        pending_flush(s->up);
        return;
    }
    /* While concordd is down every retry fails: warn once, then only in debug logs. */
    log_event(s->failures++ == 0 ? LOG_WARN : LOG_DEBUG, "upstream_connect_failed", "thread",
              s->up->thread, "conn", idx, "error", cc_strerror(status), NULL);
    slot_schedule(s);
    pending_flush(s->up);
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
        pending_flush(s->up);
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
    u->pending_tail = &u->pending;
    for (int i = 0; i < n; i++) {
        gw_slot *s = &u->slots[i];
        s->up = u;
        s->index = i;
        s->backoff_ms = BACKOFF_MIN_MS;
        uv_timer_init(loop, &s->timer);
        u->open_handles++;
    }
    /* The first connect runs on the loop, so on the thread that owns it: libconcord
     * gives the clients of each thread their own TLS context. The other slots stay idle
     * until calls need them. */
    for (int i = 1; i < n; i++)
        u->slots[i].state = SLOT_IDLE;
    u->slots[0].state = SLOT_CONNECTING;
    uv_timer_start(&u->slots[0].timer, on_retry, 0, 0);
    *out = u;
    return 0;
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

/* Sends a call on the first ready connection that is not full; CC_ECLOSED when none is ready. */
static int pool_send(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud)
{
    gw_slot *best = NULL;
    gw_slot *idle = NULL;
    size_t best_load = 0;
    int connecting = 0;
    for (int i = 0; i < u->n; i++) {
        gw_slot *s = &u->slots[i];
        if (s->state == SLOT_IDLE && idle == NULL)
            idle = s;
        connecting |= s->state == SLOT_CONNECTING;
        if (!slot_ready(s))
            continue;
        size_t load = cc_client_in_flight(s->client);
        if (load < FILL_CALLS) {
            best = s;
            break;
        }
        if (best == NULL || load < best_load) {
            best = s;
            best_load = load;
        }
    }
    /* Every ready connection is full: open one more, one at a time, while this call goes
     * to the least loaded. */
    if ((best == NULL || best_load >= FILL_CALLS) && idle != NULL && !connecting)
        slot_connect(idle);
    if (best == NULL)
        return CC_ECLOSED;
    return cc_client_call(best->client, method, payload, len, token, idempotency_key, deadline_ms,
                          cb, ud);
}

int gw_upstream_call(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud)
{
    if (u == NULL || u->closing)
        return CC_ECLOSED;
    if (gw_upstream_ready(u) == 0 && pool_connecting(u))
        return pending_add(u, method, payload, len, token, idempotency_key, deadline_ms, cb, ud);
    return pool_send(u, method, payload, len, token, idempotency_key, deadline_ms, cb, ud);
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
    pending_flush(u);
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
