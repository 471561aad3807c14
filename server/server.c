/*
 * server.c - the loop thread: accepts TLS connections, decodes frames, hands
 * calls to the worker pool and writes their replies back.
 *
 * Connection lifecycle: accepted -> handshaking (handshake_timeout) ->
 * open (login_timeout until the first authenticated call, idle_timeout
 * without calls) -> closing -> freed. A connection is freed only when its TLS
 * stream and timer are both closed AND no call of it is still with a worker
 * (in_flight == 0): workers hold no pointer into it, but their finished jobs
 * come back to it.
 *
 * Back-pressure: reading pauses while max_inflight calls of one connection
 * are in flight; a client whose unread replies exceed write_queue_max is
 * disconnected so it cannot make the server buffer without bound.
 */
#include "server.h"
#include "arena.h"
#include "auth.h"
#include "cc_log.h"
#include "dispatch.h"
#include "pool.h"
#include "scheduler.h"
#include "tls_stream.h"
#include "wire_frame.h"
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

typedef struct srv_server srv_server;

typedef struct srv_conn {
    tls_stream tls;
    uv_timer_t timer;
    srv_server *srv;
    wire_decoder dec;
    struct srv_conn *prev, *next;
    uint64_t accepted_at;   /* uv_now at accept */
    uint64_t last_call_at;  /* uv_now of the last call received */
    uint64_t frame_started; /* uv_now when a partial frame began arriving; 0: none */
    int in_flight;          /* calls with the workers */
    int handshake_done;
    int authenticated; /* a call with a valid credential succeeded */
    int paused;        /* reading paused for back-pressure */
    int closing;       /* close started; no new calls */
    int tls_closed;    /* tls on_close happened */
    int timer_closed;  /* timer close callback happened */
    char peer[48];
} srv_conn;

struct srv_server {
    const srv_settings *cfg;
    uv_loop_t *loop;
    uv_tcp_t listener;
    uv_signal_t sigterm, sigint;
    uv_timer_t drain_timer;
    SSL_CTX *ssl_ctx;
    srv_pool pool;
    srv_scheduler scheduler;
    srv_conn *conns; /* every live connection */
    int n_conns;
    /* The loop thread's per-call memory, reused: each frame is unpacked into
     * frame_arena (reset at the next frame), and finished jobs wait in
     * spare_jobs with their buffers for the next calls. */
    arena frame_arena;
    srv_job *spare_jobs;
    int n_spare_jobs;
    int draining;
    int signals; /* termination signals received */
};

static void conn_close(srv_conn *c, const char *why);

/* ---- connection teardown ------------------------------------------------ */

static void conn_maybe_free(srv_conn *c)
{
    if (!c->tls_closed || !c->timer_closed || c->in_flight > 0)
        return;
    srv_server *s = c->srv;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->n_conns--;
    wire_decoder_free(&c->dec);
    free(c);
    if (s->draining && s->n_conns == 0)
        uv_stop(s->loop);
}

static void on_tls_close(tls_stream *t)
{
    srv_conn *c = t->data;
    c->tls_closed = 1;
    conn_maybe_free(c);
}

static void on_timer_close(uv_handle_t *h)
{
    srv_conn *c = h->data;
    c->timer_closed = 1;
    conn_maybe_free(c);
}

static void conn_close(srv_conn *c, const char *why)
{
    if (c->closing)
        return;
    c->closing = 1;
    if (why != NULL)
        log_event(LOG_INFO, "conn_close", "peer", c->peer, "reason", why, NULL);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_timer_close);
    tls_stream_close(&c->tls, 1);
}

/* ---- replies ------------------------------------------------------------ */

static void conn_write(srv_conn *c, const uint8_t *data, size_t len)
{
    if (c->closing)
        return;
    if (tls_stream_write(&c->tls, data, len) != 0) {
        conn_close(c, "write failed");
        return;
    }
    if (tls_stream_pending(&c->tls) > c->srv->cfg->write_queue_max)
        conn_close(c, "client does not read its replies (write queue over its cap)");
}

/* Replies built on the loop thread (unknown method, queue full). */
static void conn_reply_status(srv_conn *c, uint64_t id, int code, const char *msg)
{
    Concord__V1__Status st = CONCORD__V1__STATUS__INIT;
    Concord__V1__Reply reply = CONCORD__V1__REPLY__INIT;
    Concord__V1__Frame f = CONCORD__V1__FRAME__INIT;
    st.code = (Concord__V1__Code)code;
    st.message = (char *)msg;
    reply.status = &st;
    f.id = id;
    f.kind_case = CONCORD__V1__FRAME__KIND_REPLY;
    f.reply = &reply;
    uint8_t *buf;
    size_t len;
    if (wire_frame_pack(&f, c->srv->cfg->max_frame, &buf, &len) == 0) {
        conn_write(c, buf, len);
        free(buf);
    }
}

/* ---- jobs --------------------------------------------------------------- */

#define SPARE_JOBS_MAX 256
#define SPARE_BUFFER_MAX (16 * 1024) /* jobs with larger buffers are not kept */

/* A job whose data buffer holds at least size bytes: a spare one when there is. */
static srv_job *job_get(srv_server *s, size_t size)
{
    srv_job *job = s->spare_jobs;
    if (job != NULL) {
        s->spare_jobs = job->next;
        s->n_spare_jobs--;
        uint8_t *data = job->data, *reply = job->reply;
        size_t data_cap = job->data_cap, reply_cap = job->reply_cap;
        memset(job, 0, sizeof(*job));
        job->data = data;
        job->data_cap = data_cap;
        job->reply = reply;
        job->reply_cap = reply_cap;
    } else if ((job = calloc(1, sizeof(*job))) == NULL) {
        return NULL;
    }
    if (job->data_cap < size) {
        uint8_t *grown = realloc(job->data, size);
        if (grown == NULL) {
            srv_job_free(job);
            return NULL;
        }
        job->data = grown;
        job->data_cap = size;
    }
    return job;
}

static void job_put(srv_server *s, srv_job *job)
{
    if (s->n_spare_jobs >= SPARE_JOBS_MAX || job->data_cap > SPARE_BUFFER_MAX ||
        job->reply_cap > SPARE_BUFFER_MAX) {
        srv_job_free(job);
        return;
    }
    job->next = s->spare_jobs;
    s->spare_jobs = job;
    s->n_spare_jobs++;
}

static void on_job_done(srv_job *job, void *ud)
{
    srv_conn *c = job->conn;
    srv_server *s = ud;
    if (c == NULL) {
        srv_scheduler_done(&s->scheduler, job);
        return;
    }
    c->in_flight--;
    if (!c->closing) {
        if (job->authenticated && !c->authenticated) {
            /* Past the first authenticated call the full frame size applies. */
            c->authenticated = 1;
            wire_decoder_set_max(&c->dec, s->cfg->max_frame);
        }
        if (job->reply_len > 0)
            conn_write(c, job->reply, job->reply_len);
        else
            conn_close(c, "reply could not be encoded");
        if (c->paused && !c->closing && c->in_flight < s->cfg->max_inflight / 2 + 1) {
            c->paused = 0;
            tls_stream_read_resume(&c->tls);
        }
        if (s->draining && c->in_flight == 0)
            conn_close(c, NULL);
    }
    job_put(s, job);
    conn_maybe_free(c);
}

/* ---- calls -------------------------------------------------------------- */

/* Copies a string into the job's data at *at; NULL for an absent or empty one. */
static char *job_string(srv_job *job, size_t *at, const char *str, size_t n)
{
    if (n == 0)
        return NULL;
    char *copy = (char *)job->data + *at;
    memcpy(copy, str, n + 1);
    *at += n + 1;
    return copy;
}

static int on_frame(void *ud, const uint8_t *body, size_t len)
{
    srv_conn *c = ud;
    srv_server *s = c->srv;
    if (c->closing)
        return CC_ECLOSED;
    arena_reset(&s->frame_arena);
    Concord__V1__Frame *f = concord__v1__frame__unpack(arena_pbc(&s->frame_arena), len, body);
    if (f == NULL || f->kind_case != CONCORD__V1__FRAME__KIND_CALL || f->call->method == NULL)
        return CC_EPROTO;
    Concord__V1__Call *call = f->call;
    c->last_call_at = uv_now(s->loop);
    const srv_route *rt = srv_route_find(call->method);
    if (rt == NULL || rt->fn == NULL) {
        char msg[200];
        snprintf(msg, sizeof(msg),
                 rt ? "method \"%.120s\" is not implemented by this server"
                    : "unknown method \"%.120s\"",
                 call->method);
        conn_reply_status(c, f->id, CC_UNIMPLEMENTED, msg);
        return 0;
    }
    if (s->draining) {
        conn_reply_status(c, f->id, CC_UNAVAILABLE, "the server is shutting down; retry");
        return 0;
    }
    /* The request's bytes, token and idempotency key travel in one buffer. */
    size_t token_len = call->auth_token ? strlen(call->auth_token) : 0;
    size_t key_len = call->idempotency_key ? strlen(call->idempotency_key) : 0;
    srv_job *job = job_get(s, call->payload.len + token_len + key_len + 2);
    if (job == NULL)
        return CC_ENOMEM;
    job->conn = c;
    job->frame_id = f->id;
    job->route = rt;
    job->len = call->payload.len;
    job->payload = job->data;
    if (job->len)
        memcpy(job->payload, call->payload.data, job->len);
    size_t at = job->len;
    job->token = job_string(job, &at, call->auth_token, token_len);
    job->idempotency_key = job_string(job, &at, call->idempotency_key, key_len);
    snprintf(job->peer, sizeof(job->peer), "%s", c->peer);
    uint64_t limit = s->cfg->call_timeout;
    uint64_t want = call->deadline_ms ? call->deadline_ms : limit;
    job->deadline_ms = db_now_ms() + (want < limit ? want : limit);
    if (srv_pool_submit(&s->pool, job) != 0) {
        job_put(s, job);
        conn_reply_status(c, f->id, CC_RESOURCE_EXHAUSTED, "the server is overloaded; retry later");
        return 0;
    }
    c->in_flight++;
    if (c->in_flight >= s->cfg->max_inflight && !c->paused) {
        c->paused = 1;
        tls_stream_read_pause(&c->tls);
    }
    return 0;
}

/* ---- TLS callbacks ---------------------------------------------------- */

static void on_handshake(tls_stream *t, int status)
{
    srv_conn *c = t->data;
    if (status != 0) {
        conn_close(c, "TLS handshake failed");
        return;
    }
    c->handshake_done = 1;
}

static void on_read(tls_stream *t, const uint8_t *data, size_t len)
{
    srv_conn *c = t->data;
    if (c->closing)
        return;
    int rc = wire_decoder_feed(&c->dec, data, len, on_frame, c);
    /* A frame must arrive whole within frame_timeout (no slowloris trickle). */
    if (wire_decoder_idle(&c->dec))
        c->frame_started = 0;
    else if (c->frame_started == 0)
        c->frame_started = uv_now(c->srv->loop);
    if (rc == CC_ETOOBIG)
        conn_close(c, "frame larger than the limit");
    else if (rc == CC_EPROTO)
        conn_close(c, "malformed frame");
    else if (rc != 0 && rc != CC_ECLOSED)
        conn_close(c, cc_strerror(rc));
}

static void on_error(tls_stream *t, int err)
{
    srv_conn *c = t->data;
    conn_close(c, err == CC_EEOF ? (wire_decoder_idle(&c->dec) ? NULL : "closed mid-frame")
                                 : cc_strerror(err));
}

static const tls_stream_ops conn_ops = {
    .on_handshake = on_handshake,
    .on_read = on_read,
    .on_error = on_error,
    .on_close = on_tls_close,
};

/* ---- timers: handshake, login, idle --------------------------------------- */

static void conn_arm(srv_conn *c);

static void on_conn_timer(uv_timer_t *h)
{
    srv_conn *c = h->data;
    const srv_settings *cfg = c->srv->cfg;
    uint64_t now = uv_now(c->srv->loop);
    if (!c->handshake_done) {
        if (now >= c->accepted_at + cfg->handshake_timeout)
            conn_close(c, "TLS handshake timed out");
        else
            conn_arm(c);
        return;
    }
    if (c->frame_started && now >= c->frame_started + cfg->frame_timeout) {
        conn_close(c, "frame not completed within frame_timeout");
        return;
    }
    if (!c->authenticated && now >= c->accepted_at + cfg->login_timeout && c->in_flight == 0) {
        conn_close(c, "no authenticated call before login_timeout");
        return;
    }
    if (c->in_flight == 0 && now >= c->last_call_at + cfg->idle_timeout) {
        conn_close(c, "idle");
        return;
    }
    conn_arm(c);
}

static void conn_arm(srv_conn *c)
{
    const srv_settings *cfg = c->srv->cfg;
    uint64_t now = uv_now(c->srv->loop);
    uint64_t due;
    if (!c->handshake_done) {
        due = c->accepted_at + cfg->handshake_timeout;
    } else {
        /*
         * The login and idle limits apply only while no call is in flight (on_conn_timer);
         * a limit that has passed but cannot fire must not make the timer due at once, or
         * the loop would run this timer forever and serve nothing else.
         */
        due = now + 1000;
        if (c->in_flight == 0) {
            due = c->last_call_at + cfg->idle_timeout;
            if (!c->authenticated && c->accepted_at + cfg->login_timeout < due)
                due = c->accepted_at + cfg->login_timeout;
        }
        if (c->frame_started && c->frame_started + cfg->frame_timeout < due)
            due = c->frame_started + cfg->frame_timeout;
    }
    /* Re-check at least every second so that state changes are noticed soon. */
    uint64_t wait = due > now ? due - now : 0;
    if (wait > 1000)
        wait = 1000;
    uv_timer_start(&c->timer, on_conn_timer, wait, 0);
}

/* ---- accept ------------------------------------------------------------- */

static void on_connection(uv_stream_t *listener, int status)
{
    srv_server *s = listener->data;
    if (status < 0 || s->draining)
        return;
    srv_conn *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->srv = s;
    if (tls_stream_init(&c->tls, s->loop, s->ssl_ctx, &conn_ops, c) != 0) {
        free(c);
        return;
    }
    uv_timer_init(s->loop, &c->timer);
    c->timer.data = c;
    wire_decoder_init(&c->dec, s->cfg->max_frame_prelogin);
    c->accepted_at = c->last_call_at = uv_now(s->loop);
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->n_conns++;
    if (tls_stream_accept(&c->tls, listener) != 0) {
        conn_close(c, "accept failed");
        return;
    }
    tls_stream_peer_addr(&c->tls, c->peer, sizeof(c->peer));
    if (s->n_conns > s->cfg->max_connections) {
        conn_close(c, "max_connections reached");
        return;
    }
    conn_arm(c);
}

/* ---- signals and drain ---------------------------------------------------- */

static void on_drain_timeout(uv_timer_t *h)
{
    srv_server *s = h->data;
    log_event(LOG_WARN, "drain_timeout", NULL);
    for (srv_conn *c = s->conns; c; c = c->next)
        conn_close(c, "drain deadline passed");
    /* Calls still with workers finish on their own; stop without waiting for them. */
    uv_stop(s->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    srv_server *s = h->data;
    if (++s->signals > 1) {
        log_event(LOG_WARN, "exit_now", NULL);
        _exit(1);
    }
    log_event(LOG_INFO, "draining", "signal", signum == SIGTERM ? "SIGTERM" : "SIGINT", NULL);
    s->draining = 1;
    srv_scheduler_stop(&s->scheduler);
    uv_close((uv_handle_t *)&s->listener, NULL);
    for (srv_conn *c = s->conns; c; c = c->next) {
        if (c->in_flight == 0)
            conn_close(c, NULL);
        else if (!c->paused) {
            /* Finish what was sent; read nothing more. */
            c->paused = 1;
            tls_stream_read_pause(&c->tls);
        }
    }
    if (s->n_conns == 0) {
        uv_stop(s->loop);
        return;
    }
    uv_timer_start(&s->drain_timer, on_drain_timeout, s->cfg->drain_timeout, 0);
}

/* ---- start and stop ------------------------------------------------------- */

static int parse_listen(const char *text, struct sockaddr_storage *ss)
{
    char host[256];
    const char *colon = strrchr(text, ':');
    if (colon == NULL || (size_t)(colon - text) >= sizeof(host))
        return -1;
    memcpy(host, text, (size_t)(colon - text));
    host[colon - text] = '\0';
    int port = atoi(colon + 1);
    if (port < 0 || port > 65535)
        return -1;
    char *h = host;
    if (h[0] == '[') {
        h++;
        h[strlen(h) - 1] = '\0';
    }
    if (uv_ip4_addr(h, port, (struct sockaddr_in *)ss) == 0)
        return 0;
    if (uv_ip6_addr(h, port, (struct sockaddr_in6 *)ss) == 0)
        return 0;
    return -1;
}

static void close_walk(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int srv_run(const srv_settings *cfg)
{
    srv_server s;
    memset(&s, 0, sizeof(s));
    s.cfg = cfg;
    s.loop = uv_default_loop();
    arena_init(&s.frame_arena, 4096);
    char err[512];
    int rc = 1;

    if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
        log_event(LOG_ERROR, "config", "error", "server.tls_cert and server.tls_key are required",
                  NULL);
        return 2;
    }
    tls_config tc = {
        .cert_file = cfg->tls_cert,
        .key_file = cfg->tls_key,
        .ca_file = cfg->tls_client_ca,
        .min_version = strcmp(cfg->tls_min_version, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION,
        .require_client_cert = cfg->tls_client_ca != NULL,
    };
    s.ssl_ctx = tls_server_ctx_new(&tc, err, sizeof(err));
    if (s.ssl_ctx == NULL) {
        log_event(LOG_ERROR, "tls_setup_failed", "error", err, NULL);
        return 2;
    }
    if (srv_routes_build(err, sizeof(err)) != 0) {
        log_event(LOG_ERROR, "routes_failed", "error", err, NULL);
        goto out;
    }
    struct sockaddr_storage addr;
    if (parse_listen(cfg->listen, &addr) != 0) {
        log_event(LOG_ERROR, "config", "error", "server.listen must be host:port", NULL);
        goto out;
    }
    uv_tcp_init(s.loop, &s.listener);
    s.listener.data = &s;
    int e = uv_tcp_bind(&s.listener, (struct sockaddr *)&addr, 0);
    if (e == 0)
        e = uv_listen((uv_stream_t *)&s.listener, 1024, on_connection);
    if (e != 0) {
        log_event(LOG_ERROR, "listen_failed", "addr", cfg->listen, "error", uv_strerror(e), NULL);
        goto out;
    }
    auth_cache_init(cfg->auth_cache_ttl);
    if (srv_pool_start(&s.pool, s.loop, cfg, on_job_done, &s) != 0) {
        log_event(LOG_ERROR, "workers_failed", NULL);
        goto out;
    }
    srv_scheduler_start(&s.scheduler, s.loop, &s.pool, cfg);
    signal(SIGPIPE, SIG_IGN);
    uv_signal_init(s.loop, &s.sigterm);
    uv_signal_init(s.loop, &s.sigint);
    s.sigterm.data = s.sigint.data = &s;
    uv_signal_start(&s.sigterm, on_signal, SIGTERM);
    uv_signal_start(&s.sigint, on_signal, SIGINT);
    uv_timer_init(s.loop, &s.drain_timer);
    s.drain_timer.data = &s;

    struct sockaddr_storage bound;
    int blen = sizeof(bound);
    uv_tcp_getsockname(&s.listener, (struct sockaddr *)&bound, &blen);
    char ip[64], where[96], workers[16], pid[16];
    int port;
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        snprintf(where, sizeof(where), "[%s]:%d", ip, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, ip, sizeof(ip));
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        snprintf(where, sizeof(where), "%s:%d", ip, port);
    }
    snprintf(workers, sizeof(workers), "%d", cfg->workers);
    snprintf(pid, sizeof(pid), "%d", (int)getpid());
    log_event(LOG_INFO, "ready", "addr", where, "workers", workers, "pid", pid, NULL);

    uv_run(s.loop, UV_RUN_DEFAULT);

    /* Drained (or the drain deadline passed): stop workers, close what is left. */
    srv_pool_stop(&s.pool);
    rc = s.signals > 0 && s.n_conns == 0 ? 0 : (s.signals > 0 ? 0 : 1);
    log_event(LOG_INFO, "stopped", NULL);
out:
    uv_walk(s.loop, close_walk, NULL);
    uv_run(s.loop, UV_RUN_NOWAIT);
    SSL_CTX_free(s.ssl_ctx);
    while (s.spare_jobs != NULL) {
        srv_job *next = s.spare_jobs->next;
        srv_job_free(s.spare_jobs);
        s.spare_jobs = next;
    }
    arena_free(&s.frame_arena);
    return rc;
}
