/*
 * gw_upstream.c - a small pool of multiplexed connections to concordd.
 *
 * Each slot owns at most one cc_client and one timer. States:
 *   SLOT_IDLE        no client; the slot connects when calls need it;
 *   SLOT_CONNECTING  a client exists (or the timer is about to make one) and the
 *                    connect's outcome is pending;
 *   SLOT_READY       connected; calls may be sent;
 *   SLOT_WAITING     no usable client; the timer closes the old one and, for slot 0,
 *                    reconnects after backoff.
 * Slot 0 is always connected or reconnecting, so that the pool's health says whether
 * concordd is reachable; only slot 0 retries with backoff. The other slots (spares)
 * connect only when every ready connection carries FILL_CALLS calls, one at a time, and go
 * back to SLOT_IDLE when they fail or are closed.
 * A call made while no connection is ready waits in the pending list (with copies of its
 * arguments) for an awaited connect of slot 0: its first one, its reconnect after concordd
 * closed it cleanly while unused, or a retry that the call itself starts ahead of the
 * backoff timer when the last attempt failed at least BACKOFF_MIN_MS ago (await_connect).
 * Only slot 0's connects are ever awaited. So a thread
 * whose retry is seconds away serves again as soon as concordd is back, while calls still
 * fail at once when concordd refuses connections.
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

/* A clean close this soon after connecting is treated as a fault (backoff, warning), so
 * that a server that closes every connection at once is not reconnected in a tight loop. */
#define ROUTINE_MIN_MS 500

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
    SLOT_CONNECTING, /* connect outcome pending */
    SLOT_READY,      /* usable for calls */
    SLOT_WAITING,    /* waiting for the timer: close, and for slot 0 reconnect */
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
    unsigned failures;     /* connect failures since the last success */
    int awaited;           /* calls may wait for the connect under way */
    uint64_t connected_at; /* uv_now of the last successful connect; 0 before */
    uint64_t failed_at;    /* uv_now of the last failed connect or lost connection */
    int routine;           /* reconnecting after a routine close: still counts as healthy */
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
    uv_timer_t pending_timer; /* due at the earliest deadline of a pending call */
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
static int pool_send(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud);

static int slot_ready(const gw_slot *s)
{
    return s->state == SLOT_READY && s->client != NULL && cc_client_ready(s->client);
}

/* True while slot 0 connects and calls wait for the outcome. */
static int connect_awaited(const gw_upstream *u)
{
    return u->slots[0].state == SLOT_CONNECTING && u->slots[0].awaited;
}

/* Ends a pending call without sending it. */
static void pending_fail(gw_pending *p, int code, const char *message)
{
    cc_status st = {.code = code, .message = message};
    static const uint8_t empty[1];
    p->cb(NULL, &st, empty, 0, p->ud);
    free(p);
}

/* When a pending call's deadline passes (uv_now time). */
static uint64_t pending_due(const gw_upstream *u, const gw_pending *p)
{
    uint32_t d = p->deadline_ms ? p->deadline_ms : u->opts.call_timeout_ms;
    return p->queued_at + (d ? d : 30000);
}

static void on_pending_timer(uv_timer_t *t);

/* Points the pending timer at the earliest deadline, or stops it. */
static void pending_arm(gw_upstream *u)
{
    if (u->closing)
        return;
    if (u->pending == NULL) {
        uv_timer_stop(&u->pending_timer);
        return;
    }
    uint64_t due = UINT64_MAX;
    for (gw_pending *p = u->pending; p != NULL; p = p->next)
        if (pending_due(u, p) < due)
            due = pending_due(u, p);
    uint64_t now = uv_now(u->loop);
    uv_timer_start(&u->pending_timer, on_pending_timer, due > now ? due - now : 0, 0);
}

/* Ends the pending calls whose deadline passed while they waited for a connect. */
static void on_pending_timer(uv_timer_t *t)
{
    gw_upstream *u = container_of(t, gw_upstream, pending_timer);
    uint64_t now = uv_now(u->loop);
    gw_pending *expired = NULL;
    gw_pending **at = &u->pending;
    u->pending_tail = &u->pending;
    while (*at != NULL) {
        gw_pending *p = *at;
        if (pending_due(u, p) <= now) {
            *at = p->next;
            p->next = expired;
            expired = p;
        } else {
            at = &p->next;
            u->pending_tail = at;
        }
    }
    while (expired != NULL) {
        gw_pending *p = expired;
        expired = p->next;
        pending_fail(p, CC_DEADLINE_EXCEEDED, "deadline exceeded waiting for a connection");
    }
    pending_arm(u);
}

/*
 * Sends the pending calls once a connection is ready, or fails them when no connect is
 * under way any more. A call whose deadline passed while it waited ends with
 * DEADLINE_EXCEEDED.
 */
static void pending_flush(gw_upstream *u)
{
    if (u->pending == NULL || (!u->closing && gw_upstream_ready(u) == 0 && connect_awaited(u)))
        return;
    gw_pending *list = u->pending;
    u->pending = NULL;
    u->pending_tail = &u->pending;
    uint64_t now = uv_now(u->loop);
    while (list != NULL) {
        gw_pending *p = list;
        list = p->next;
        uint64_t due = pending_due(u, p);
        if (u->closing || gw_upstream_ready(u) == 0) {
            pending_fail(p, CC_UNAVAILABLE, "the Concord server is not reachable; retry later");
        } else if (due <= now) {
            pending_fail(p, CC_DEADLINE_EXCEEDED, "deadline exceeded waiting for a connection");
        } else {
            uint32_t left = (uint32_t)(due - now);
            int rc = pool_send(u, p->method, p->payload, p->len, p->token, p->idempotency_key, left,
                               p->cb, p->ud);
            if (rc != 0)
                pending_fail(p, CC_UNAVAILABLE, cc_strerror(rc));
            else
                free(p);
        }
    }
    pending_arm(u);
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
    pending_arm(u);
    return 0;
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

/* Closes a spare slot's client and leaves the slot idle until calls need it again. */
static void on_idle(uv_timer_t *t)
{
    gw_slot *s = container_of(t, gw_slot, timer);
    if (s->client != NULL) {
        cc_client_close(s->client);
        s->client = NULL;
    }
    s->state = SLOT_IDLE;
}

/*
 * A connect failed or a connection broke. Slot 0 retries after backoff (full jitter
 * spreads the reconnects of several gateways after a restart); a spare goes idle. Calls
 * waiting for this connect end now unless another awaited connect is under way.
 */
static void slot_failed(gw_slot *s)
{
    gw_upstream *u = s->up;
    s->state = SLOT_WAITING;
    s->awaited = 0;
    s->routine = 0;
    s->failed_at = uv_now(u->loop);
    if (!u->closing) {
        if (s->index > 0) {
            uv_timer_start(&s->timer, on_idle, 0, 0);
        } else {
            unsigned delay = s->backoff_ms / 2 + (unsigned)(rand() % (int)(s->backoff_ms / 2 + 1));
            s->backoff_ms = s->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : s->backoff_ms * 2;
            uv_timer_start(&s->timer, on_retry, delay, 0);
        }
    }
    pending_flush(u);
}

static void on_lost(cc_client *c, int err, void *ud)
{
    gw_slot *s = ud;
    if (s->up->closing)
        return;
    char idx[16];
    snprintf(idx, sizeof idx, "%d", s->index);
    uint64_t lived = uv_now(s->up->loop) - s->connected_at;
    if (lived >= ROUTINE_MIN_MS)
        s->backoff_ms = BACKOFF_MIN_MS;
    /*
     * concordd closes a connection cleanly only when it carries no call: one without an
     * authenticated call by server.login_timeout, one idle for server.idle_timeout, or at
     * shutdown. That is routine for a quiet gateway: a spare goes idle, and slot 0
     * reconnects at once while calls wait for it. A close that ended calls, a reset, or a
     * close right after connecting is a fault worth a warning.
     */
    if (err == CC_EEOF && cc_client_lost_calls(c) == 0 && lived >= ROUTINE_MIN_MS) {
        log_event(LOG_DEBUG, "upstream_closed", "thread", s->up->thread, "conn", idx, NULL);
        if (s->index > 0) {
            s->state = SLOT_WAITING;
            uv_timer_start(&s->timer, on_idle, 0, 0);
        } else {
            s->state = SLOT_CONNECTING;
            s->awaited = 1;
            s->routine = 1;
            uv_timer_start(&s->timer, on_retry, 0, 0);
        }
        return;
    }
    log_event(LOG_WARN, "upstream_lost", "thread", s->up->thread, "conn", idx, "error",
              cc_strerror(err), NULL);
    slot_failed(s);
}

static void on_connected(cc_client *c, int status, void *ud)
{
    gw_slot *s = ud;
    (void)c;
    if (s->up->closing) {
        s->state = SLOT_WAITING;
        return;
    }
    char idx[16];
    snprintf(idx, sizeof idx, "%d", s->index);
    if (status == 0) {
        s->state = SLOT_READY;
        s->awaited = 0;
        s->routine = 0;
        s->failures = 0;
        s->connected_at = uv_now(s->up->loop);
        log_event(LOG_INFO, "upstream_connected", "thread", s->up->thread, "conn", idx, NULL);
        pending_flush(s->up);
        return;
    }
    /* While concordd is down every retry fails: warn once, then only in debug logs. */
    log_event(s->failures++ == 0 ? LOG_WARN : LOG_DEBUG, "upstream_connect_failed", "thread",
              s->up->thread, "conn", idx, "error", cc_strerror(status), NULL);
    slot_failed(s);
}

/* Starts a connect; an awaited reconnect of slot 0 stays awaited. */
static void slot_connect(gw_slot *s)
{
    char idx[16];
    snprintf(idx, sizeof idx, "%d", s->index);
    int rc = cc_client_new(s->up->loop, &s->up->opts, &s->client);
    if (rc != 0) {
        s->client = NULL;
        log_event(LOG_ERROR, "upstream_client_failed", "thread", s->up->thread, "conn", idx,
                  "error", cc_strerror(rc), NULL);
        slot_failed(s);
        return;
    }
    cc_client_on_lost(s->client, on_lost, s);
    s->state = SLOT_CONNECTING;
    rc = cc_client_connect(s->client, on_connected, s);
    if (rc != 0) {
        log_event(LOG_WARN, "upstream_connect_failed", "thread", s->up->thread, "conn", idx,
                  "error", cc_strerror(rc), NULL);
        slot_failed(s);
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
    uv_timer_init(loop, &u->pending_timer);
    u->open_handles++;
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
    u->slots[0].awaited = 1;
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

int gw_upstream_healthy(const gw_upstream *u)
{
    if (u == NULL)
        return 0;
    return gw_upstream_ready(u) > 0 ||
           (u->slots[0].state == SLOT_CONNECTING && u->slots[0].routine);
}

/*
 * Whether calls may wait for slot 0's connect: 1 when one is under way that calls await
 * (the first, or the reconnect after a routine close), or when slot 0 is waiting for its
 * backoff timer and its last attempt failed at least BACKOFF_MIN_MS ago, in which case
 * the retry starts now. Never called from a client's own callback, so the old client may
 * be closed here.
 */
static int await_connect(gw_upstream *u)
{
    gw_slot *s = &u->slots[0];
    if (s->state == SLOT_CONNECTING)
        return connect_awaited(u);
    if (s->state != SLOT_WAITING || u->closing || uv_now(u->loop) - s->failed_at < BACKOFF_MIN_MS)
        return 0;
    uv_timer_stop(&s->timer);
    s->awaited = 1;
    on_retry(&s->timer);
    return connect_awaited(u);
}

void gw_upstream_probe(gw_upstream *u)
{
    if (u != NULL && gw_upstream_ready(u) == 0)
        (void)await_connect(u);
}

/* Opens the first idle spare, unless a connect is already under way. */
static void open_spare(gw_upstream *u)
{
    gw_slot *idle = NULL;
    for (int i = 0; i < u->n; i++) {
        gw_slot *s = &u->slots[i];
        if (s->state == SLOT_CONNECTING)
            return;
        if (s->state == SLOT_IDLE && idle == NULL)
            idle = s;
    }
    if (idle != NULL)
        slot_connect(idle);
}

/*
 * Sends a call on the first ready connection that carries fewer than FILL_CALLS calls. When
 * every ready one is that full, the call goes to the least loaded and a spare starts
 * connecting. CC_ECLOSED when none is ready.
 */
static int pool_send(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud)
{
    gw_slot *least = NULL;
    size_t least_load = 0;
    for (int i = 0; i < u->n; i++) {
        gw_slot *s = &u->slots[i];
        if (!slot_ready(s))
            continue;
        size_t load = cc_client_in_flight(s->client);
        if (load < FILL_CALLS)
            return cc_client_call(s->client, method, payload, len, token, idempotency_key,
                                  deadline_ms, cb, ud);
        if (least == NULL || load < least_load) {
            least = s;
            least_load = load;
        }
    }
    if (least == NULL)
        return CC_ECLOSED;
    open_spare(u);
    return cc_client_call(least->client, method, payload, len, token, idempotency_key, deadline_ms,
                          cb, ud);
}

int gw_upstream_call(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud)
{
    if (u == NULL || u->closing)
        return CC_ECLOSED;
    if (gw_upstream_ready(u) == 0 && await_connect(u))
        return pending_add(u, method, payload, len, token, idempotency_key, deadline_ms, cb, ud);
    return pool_send(u, method, payload, len, token, idempotency_key, deadline_ms, cb, ud);
}

/* Frees the pool once its last timer handle closed. */
static void pool_handle_closed(gw_upstream *u)
{
    if (--u->open_handles == 0) {
        free(u->ca_file);
        free(u->server_name);
        free(u->slots);
        free(u);
    }
}

static void on_timer_closed(uv_handle_t *h)
{
    pool_handle_closed(container_of((uv_timer_t *)h, gw_slot, timer)->up);
}

static void on_pending_timer_closed(uv_handle_t *h)
{
    pool_handle_closed(container_of((uv_timer_t *)h, gw_upstream, pending_timer));
}

void gw_upstream_close(gw_upstream *u)
{
    if (u == NULL)
        return;
    u->closing = 1;
    pending_flush(u);
    uv_close((uv_handle_t *)&u->pending_timer, on_pending_timer_closed);
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
