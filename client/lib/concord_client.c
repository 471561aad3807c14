/*
 * concord_client.c - the asynchronous libconcord client: one TLS connection
 * to concordd on the caller's loop, many calls in flight.
 *
 * A call is a cc_call kept in two structures at once: a hash table keyed by
 * its frame id (replies come back in any order) and a min-heap ordered by
 * deadline, which drives one timer for the whole client. Insert, reply and
 * expiry are O(log n); the timer is re-armed only when the earliest deadline
 * changes.
 *
 * Invariants:
 *  - Every call ends with exactly one callback: its reply, DEADLINE_EXCEEDED,
 *    or UNAVAILABLE when the connection is lost or closed. A call is removed
 *    from both structures before its callback runs, so a callback may start
 *    new calls or close the client.
 *  - The client is freed only once nothing refers to it any more: both
 *    timers closed, every TLS stream it opened closed (on_close), and no
 *    address lookup outstanding. pending counts those.
 *  - Each connection attempt has its own heap-allocated stream; a stream from
 *    an abandoned attempt (next address, timeout) finishes closing on its own
 *    and only then releases its hold on the client.
 *  - Clients connected from one thread with the same CA file, certificate
 *    and key share one SSL_CTX (see ctx_acquire): a program opening
 *    thousands of connections loads and parses the CA once per thread.
 *    Threads do not share contexts: OpenSSL fills caches in a context's
 *    certificates while it verifies a peer, and a context used by one thread
 *    only keeps that out of reach of the others.
 */
#include "concord_client.h"
#include "tls_stream.h"
#include "wire_frame.h"
#include <arpa/inet.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define CC_DEFAULT_HOST "127.0.0.1"
#define CC_DEFAULT_PORT 7433
#define CC_DEFAULT_CONNECT_MS 10000u
#define CC_DEFAULT_CALL_MS 30000u
#define CC_MAX_ADDRS 8

typedef enum cc_state {
    CC_CLIENT_IDLE,       /* created, cc_client_connect not called yet */
    CC_CLIENT_RESOLVING,  /* waiting for uv_getaddrinfo */
    CC_CLIENT_CONNECTING, /* TCP connect and TLS handshake under way */
    CC_CLIENT_READY,      /* connected: calls may be sent */
    CC_CLIENT_FAILED,     /* connecting failed; only cc_client_close remains */
    CC_CLIENT_LOST,       /* the connection broke after it was ready */
    CC_CLIENT_CLOSING,    /* cc_client_close called; waiting for handles */
} cc_state;

typedef struct cc_call {
    uint64_t id;
    uint64_t deadline;   /* loop time in ms */
    uint32_t timeout_ms; /* for the DEADLINE_EXCEEDED message */
    size_t heap_idx;
    cc_reply_cb cb;
    void *ud;
    int had_token;        /* an OK reply proves the connection authenticated */
    struct cc_call *next; /* hash chain */
} cc_call;

/* One connection attempt; freed when its stream has closed. */
typedef struct cc_tls {
    tls_stream s;
    cc_client *c;
} cc_tls;

struct cc_client {
    uv_loop_t *loop;
    cc_state state;
    /* options, copied */
    char *host;
    char *server_name;
    char *ca_file;
    char *cert_file;
    char *key_file;
    int port;
    size_t max_frame;
    unsigned connect_timeout_ms;
    unsigned call_timeout_ms;

    struct cc_shared_ctx *ctx; /* shared TLS context, NULL until cc_client_connect */
    uv_getaddrinfo_t gai;
    struct sockaddr_storage addrs[CC_MAX_ADDRS];
    size_t n_addrs, next_addr;
    cc_tls *tls; /* the current attempt or connection, NULL when none */
    uv_timer_t connect_timer;
    uv_timer_t deadline_timer;
    uint64_t armed_deadline; /* deadline the timer is set for; 0 when stopped */
    size_t pending;          /* handles, streams and lookups still referring to us */
    wire_decoder dec;

    uint64_t next_id;
    cc_call **buckets; /* hash table by id; nbuckets is a power of two */
    size_t nbuckets;
    cc_call **heap; /* min-heap by deadline */
    size_t n_calls, heap_cap;
    size_t lost_calls; /* calls in flight when the connection was lost */

    cc_connect_cb connect_cb;
    void *connect_ud;
    cc_lost_cb lost_cb;
    void *lost_ud;
    cc_event_cb event_cb;
    void *event_ud;
    int authenticated; /* a call with a token succeeded: concordd's full frame limit applies */
    char error[512];   /* cc_client_error */
    char msg[192];     /* status message of the callback running now */
};

static const tls_stream_ops client_tls_ops;

static char *dup_or_null(const char *s)
{
    if (s == NULL)
        return NULL;
    size_t n = strlen(s) + 1;
    char *p = malloc(n);
    if (p != NULL)
        memcpy(p, s, n);
    return p;
}

/* ---- in-flight calls: hash by id, heap by deadline ------------------------ */

static size_t bucket_of(const cc_client *c, uint64_t id)
{
    /* Ids are sequential, so the low bits already spread well. */
    return (size_t)(id & (c->nbuckets - 1));
}

static int hash_grow(cc_client *c)
{
    size_t n = c->nbuckets ? c->nbuckets * 2 : 64;
    cc_call **b = calloc(n, sizeof(*b));
    if (b == NULL)
        return CC_ENOMEM;
    for (size_t i = 0; i < c->nbuckets; i++) {
        cc_call *k = c->buckets[i];
        while (k != NULL) {
            cc_call *next = k->next;
            size_t j = (size_t)(k->id & (n - 1));
            k->next = b[j];
            b[j] = k;
            k = next;
        }
    }
    free(c->buckets);
    c->buckets = b;
    c->nbuckets = n;
    return 0;
}

static cc_call *hash_find(const cc_client *c, uint64_t id)
{
    if (c->nbuckets == 0)
        return NULL;
    for (cc_call *k = c->buckets[bucket_of(c, id)]; k != NULL; k = k->next)
        if (k->id == id)
            return k;
    return NULL;
}

static void hash_remove(cc_client *c, cc_call *call)
{
    cc_call **pp = &c->buckets[bucket_of(c, call->id)];
    while (*pp != call)
        pp = &(*pp)->next;
    *pp = call->next;
}

static void heap_swap(cc_client *c, size_t i, size_t j)
{
    cc_call *t = c->heap[i];
    c->heap[i] = c->heap[j];
    c->heap[j] = t;
    c->heap[i]->heap_idx = i;
    c->heap[j]->heap_idx = j;
}

static void heap_up(cc_client *c, size_t i)
{
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (c->heap[parent]->deadline <= c->heap[i]->deadline)
            break;
        heap_swap(c, i, parent);
        i = parent;
    }
}

static void heap_down(cc_client *c, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < c->n_calls && c->heap[l]->deadline < c->heap[m]->deadline)
            m = l;
        if (r < c->n_calls && c->heap[r]->deadline < c->heap[m]->deadline)
            m = r;
        if (m == i)
            return;
        heap_swap(c, i, m);
        i = m;
    }
}

/* Adds a call to both structures. Returns 0 or CC_ENOMEM (nothing added). */
static int calls_add(cc_client *c, cc_call *call)
{
    if (c->n_calls + 1 > c->nbuckets && hash_grow(c) < 0)
        return CC_ENOMEM;
    if (c->n_calls == c->heap_cap) {
        size_t cap = c->heap_cap ? c->heap_cap * 2 : 64;
        cc_call **h = realloc(c->heap, cap * sizeof(*h));
        if (h == NULL)
            return CC_ENOMEM;
        c->heap = h;
        c->heap_cap = cap;
    }
    size_t b = bucket_of(c, call->id);
    call->next = c->buckets[b];
    c->buckets[b] = call;
    call->heap_idx = c->n_calls;
    c->heap[c->n_calls++] = call;
    heap_up(c, call->heap_idx);
    return 0;
}

static void calls_remove(cc_client *c, cc_call *call)
{
    hash_remove(c, call);
    size_t i = call->heap_idx;
    c->n_calls--;
    if (i != c->n_calls) {
        c->heap[i] = c->heap[c->n_calls];
        c->heap[i]->heap_idx = i;
        heap_down(c, i);
        heap_up(c, i);
    }
}

/* Ends a call that is already out of both structures, then frees it. */
static void call_finish(cc_client *c, cc_call *call, int code, const char *message,
                        const Concord__V1__Status *wire_st, const uint8_t *payload, size_t len)
{
    if (code == CC_OK && call->had_token)
        c->authenticated = 1;
    cc_status st = {.code = code, .message = message ? message : ""};
    if (wire_st != NULL) {
        st.n_violations = wire_st->n_field_violations;
        st.violations = (const Concord__V1__FieldViolation *const *)wire_st->field_violations;
    }
    static const uint8_t empty[1];
    call->cb(c, &st, payload ? payload : empty, payload ? len : 0, call->ud);
    free(call);
}

/* Ends every call in flight with UNAVAILABLE and message. */
static void fail_all(cc_client *c, const char *message)
{
    while (c->n_calls > 0) {
        cc_call *call = c->heap[0];
        calls_remove(c, call);
        snprintf(c->msg, sizeof(c->msg), "%s", message);
        call_finish(c, call, CC_UNAVAILABLE, c->msg, NULL, NULL, 0);
    }
}

static void on_deadline(uv_timer_t *t);

/* Points the deadline timer at the earliest deadline, if that changed. */
static void arm_deadline_timer(cc_client *c)
{
    if (c->state != CC_CLIENT_READY || c->n_calls == 0) {
        if (c->armed_deadline != 0)
            uv_timer_stop(&c->deadline_timer);
        c->armed_deadline = 0;
        return;
    }
    uint64_t d = c->heap[0]->deadline;
    if (d == c->armed_deadline)
        return;
    uint64_t now = uv_now(c->loop);
    uv_timer_start(&c->deadline_timer, on_deadline, d > now ? d - now : 0, 0);
    c->armed_deadline = d;
}

static void on_deadline(uv_timer_t *t)
{
    cc_client *c = t->data;
    c->armed_deadline = 0;
    uint64_t now = uv_now(c->loop);
    while (c->state == CC_CLIENT_READY && c->n_calls > 0 && c->heap[0]->deadline <= now) {
        cc_call *call = c->heap[0];
        calls_remove(c, call);
        snprintf(c->msg, sizeof(c->msg), "deadline exceeded: no reply within %u ms",
                 (unsigned)call->timeout_ms);
        call_finish(c, call, CC_DEADLINE_EXCEEDED, c->msg, NULL, NULL, 0);
    }
    arm_deadline_timer(c);
}

/* ---- shared TLS contexts ---------------------------------------------------- */

/*
 * One SSL_CTX per thread and distinct (ca_file, cert_file, key_file), counted
 * by the clients that use it (the thread is the one that calls
 * cc_client_connect; a client's loop runs on that thread). The last client
 * to go frees it, so a program that reconnects later loads the files afresh.
 * A context is also not reused once one of its files changed on disk
 * (another inode, size or modification time, e.g. a renewed certificate):
 * new clients get a fresh context while the old one lives on for the clients
 * that still hold it.
 */
typedef struct cc_shared_ctx {
    SSL_CTX *ctx;
    char *files[3];          /* ca_file, cert_file, key_file; NULL when not set */
    struct stat stamp[3];    /* what the files looked like when they were loaded */
    pthread_t owner;         /* the thread whose clients use it */
    size_t refs;             /* clients holding this context */
    int listed;              /* still in ctx_list (not replaced by a newer load) */
    struct cc_shared_ctx *next;
} cc_shared_ctx;

static pthread_mutex_t ctx_lock = PTHREAD_MUTEX_INITIALIZER;
static cc_shared_ctx *ctx_list;

static int same_name(const char *a, const char *b)
{
    return (a == NULL && b == NULL) || (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/* The identity of a file for change detection; a missing file is all zeros. */
static void file_stamp(const char *path, struct stat *st)
{
    memset(st, 0, sizeof(*st));
    if (path != NULL && stat(path, st) != 0)
        memset(st, 0, sizeof(*st));
}

static int same_stamp(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

static void shared_free(cc_shared_ctx *e)
{
    SSL_CTX_free(e->ctx);
    for (int i = 0; i < 3; i++)
        free(e->files[i]);
    free(e);
}

/*
 * Returns the calling thread's context for these files with one more reference, making
 * it when there is none (or the files changed). On failure returns NULL and
 * writes the reason to err. The files are loaded under the lock so that
 * concurrent first connections load them once.
 */
static cc_shared_ctx *ctx_acquire(const char *ca_file, const char *cert_file,
                                  const char *key_file, char *err, size_t errlen)
{
    const char *files[3] = {ca_file, cert_file, key_file};
    struct stat now[3];
    for (int i = 0; i < 3; i++)
        file_stamp(files[i], &now[i]);
    cc_shared_ctx *found = NULL;
    pthread_mutex_lock(&ctx_lock);
    cc_shared_ctx **pp = &ctx_list;
    while (*pp != NULL) {
        cc_shared_ctx *e = *pp;
        int match = pthread_equal(e->owner, pthread_self());
        for (int i = 0; i < 3 && match; i++)
            match = same_name(e->files[i], files[i]);
        if (!match) {
            pp = &e->next;
            continue;
        }
        int fresh = 1;
        for (int i = 0; i < 3 && fresh; i++)
            fresh = same_stamp(&e->stamp[i], &now[i]);
        if (fresh) {
            e->refs++;
            found = e;
        } else {
            /* Stale: new clients load again; the holders keep theirs. */
            *pp = e->next;
            e->listed = 0;
        }
        break;
    }
    if (found != NULL)
        goto out;
    cc_shared_ctx *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (int i = 0; i < 3; i++) {
        if (files[i] != NULL && (e->files[i] = dup_or_null(files[i])) == NULL) {
            snprintf(err, errlen, "out of memory");
            shared_free(e);
            goto out;
        }
        e->stamp[i] = now[i];
    }
    tls_config tc = {.ca_file = ca_file, .cert_file = cert_file, .key_file = key_file};
    e->ctx = tls_client_ctx_new(&tc, err, errlen);
    if (e->ctx == NULL) {
        shared_free(e);
        goto out;
    }
    e->owner = pthread_self();
    e->refs = 1;
    e->listed = 1;
    e->next = ctx_list;
    ctx_list = e;
    found = e;
out:
    pthread_mutex_unlock(&ctx_lock);
    return found;
}

/* Drops a client's reference; the last one frees the context. Accepts NULL. */
static void ctx_release(cc_shared_ctx *e)
{
    if (e == NULL)
        return;
    pthread_mutex_lock(&ctx_lock);
    int last = --e->refs == 0;
    if (last && e->listed) {
        cc_shared_ctx **pp = &ctx_list;
        while (*pp != e)
            pp = &(*pp)->next;
        *pp = e->next;
    }
    pthread_mutex_unlock(&ctx_lock);
    if (last)
        shared_free(e);
}

/* ---- lifetime -------------------------------------------------------------- */

static void client_free(cc_client *c)
{
    ctx_release(c->ctx);
    wire_decoder_free(&c->dec);
    free(c->buckets);
    free(c->heap);
    free(c->host);
    free(c->server_name);
    free(c->ca_file);
    free(c->cert_file);
    free(c->key_file);
    free(c);
}

/* Drops one reference; the last one out frees a closing client. */
static void release(cc_client *c)
{
    if (--c->pending == 0 && c->state == CC_CLIENT_CLOSING)
        client_free(c);
}

static void on_timer_closed(uv_handle_t *h)
{
    release(h->data);
}

int cc_client_new(uv_loop_t *loop, const cc_options *o, cc_client **out)
{
    static const cc_options none;
    if (o == NULL)
        o = &none;
    if (loop == NULL || out == NULL || o->port < 0 || o->port > 65535)
        return CC_EINVAL;
    cc_client *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return CC_ENOMEM;
    c->loop = loop;
    c->host = dup_or_null(o->host && o->host[0] ? o->host : CC_DEFAULT_HOST);
    c->server_name = dup_or_null(o->server_name && o->server_name[0] ? o->server_name : c->host);
    c->ca_file = dup_or_null(o->ca_file);
    c->cert_file = dup_or_null(o->cert_file);
    c->key_file = dup_or_null(o->key_file);
    if (c->host == NULL || c->server_name == NULL || (o->ca_file && !c->ca_file) ||
        (o->cert_file && !c->cert_file) || (o->key_file && !c->key_file)) {
        client_free(c);
        return CC_ENOMEM;
    }
    c->port = o->port ? o->port : CC_DEFAULT_PORT;
    c->max_frame = o->max_frame ? o->max_frame : WIRE_DEFAULT_MAX_FRAME;
    c->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : CC_DEFAULT_CONNECT_MS;
    c->call_timeout_ms = o->call_timeout_ms ? o->call_timeout_ms : CC_DEFAULT_CALL_MS;
    c->next_id = 1;
    wire_decoder_init(&c->dec, c->max_frame);
    uv_timer_init(loop, &c->connect_timer);
    uv_timer_init(loop, &c->deadline_timer);
    c->connect_timer.data = c;
    c->deadline_timer.data = c;
    c->pending = 2;
    c->state = CC_CLIENT_IDLE;
    *out = c;
    return 0;
}

void cc_client_on_lost(cc_client *c, cc_lost_cb cb, void *ud)
{
    c->lost_cb = cb;
    c->lost_ud = ud;
}

void cc_client_on_event(cc_client *c, cc_event_cb cb, void *ud)
{
    c->event_cb = cb;
    c->event_ud = ud;
}

int cc_client_ready(const cc_client *c)
{
    return c->state == CC_CLIENT_READY;
}

size_t cc_client_in_flight(const cc_client *c)
{
    return c->n_calls;
}

size_t cc_client_lost_calls(const cc_client *c)
{
    return c->lost_calls;
}

void cc_client_flush(cc_client *c)
{
    if (c->state == CC_CLIENT_READY && c->tls != NULL)
        (void)tls_stream_flush(&c->tls->s);
}

const char *cc_client_error(const cc_client *c)
{
    return c->error;
}

/* "host:port", with brackets around an IPv6 address. */
static void host_port(const cc_client *c, char *buf, size_t len)
{
    if (strchr(c->host, ':') != NULL)
        snprintf(buf, len, "[%s]:%d", c->host, c->port);
    else
        snprintf(buf, len, "%s:%d", c->host, c->port);
}

/* ---- connecting ------------------------------------------------------------ */

/* Ends the connect phase with a failure; cb runs once. */
static void connect_failed(cc_client *c, int err)
{
    uv_timer_stop(&c->connect_timer);
    c->state = CC_CLIENT_FAILED;
    cc_connect_cb cb = c->connect_cb;
    c->connect_cb = NULL;
    if (cb != NULL)
        cb(c, err, c->connect_ud);
}

static void drop_stream(cc_client *c, int graceful)
{
    if (c->tls != NULL) {
        cc_tls *t = c->tls;
        c->tls = NULL;
        tls_stream_close(&t->s, graceful);
    }
}

/* Starts a TLS connection to the next resolved address. Returns 0 or CC_E*. */
static int try_next_addr(cc_client *c)
{
    char where[300];
    host_port(c, where, sizeof(where));
    while (c->next_addr < c->n_addrs) {
        const struct sockaddr *sa = (const struct sockaddr *)&c->addrs[c->next_addr++];
        cc_tls *t = calloc(1, sizeof(*t));
        if (t == NULL) {
            snprintf(c->error, sizeof(c->error), "cannot connect to %s: out of memory", where);
            return CC_ENOMEM;
        }
        t->c = c;
        int rc = tls_stream_init(&t->s, c->loop, c->ctx->ctx, &client_tls_ops, t);
        if (rc < 0) {
            free(t);
            snprintf(c->error, sizeof(c->error), "cannot connect to %s: %s", where,
                     cc_strerror(rc));
            return rc;
        }
        c->pending++;
        c->tls = t;
        rc = tls_stream_connect(&t->s, sa, c->server_name);
        if (rc == 0)
            return 0;
        snprintf(c->error, sizeof(c->error), "cannot connect to %s: %s", where,
                 tls_stream_reason(&t->s)[0] ? tls_stream_reason(&t->s) : cc_strerror(rc));
        drop_stream(c, 0);
        if (rc != CC_EIO)
            return rc;
    }
    if (c->error[0] == '\0')
        snprintf(c->error, sizeof(c->error), "cannot connect to %s: no address", where);
    return CC_EIO;
}

static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    cc_client *c = req->data;
    if (c->state != CC_CLIENT_RESOLVING) {
        /* Closed or timed out meanwhile. */
        uv_freeaddrinfo(res);
        release(c);
        return;
    }
    if (status < 0) {
        snprintf(c->error, sizeof(c->error), "cannot resolve %s: %s", c->host, uv_strerror(status));
        uv_freeaddrinfo(res);
        connect_failed(c, CC_EIO);
        release(c);
        return;
    }
    c->n_addrs = 0;
    for (struct addrinfo *ai = res; ai != NULL && c->n_addrs < CC_MAX_ADDRS; ai = ai->ai_next) {
        if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
            ai->ai_addrlen <= sizeof(c->addrs[0]))
            memcpy(&c->addrs[c->n_addrs++], ai->ai_addr, ai->ai_addrlen);
    }
    uv_freeaddrinfo(res);
    c->next_addr = 0;
    c->state = CC_CLIENT_CONNECTING;
    int rc = try_next_addr(c);
    if (rc < 0)
        connect_failed(c, rc);
    release(c);
}

static void on_connect_timeout(uv_timer_t *t)
{
    cc_client *c = t->data;
    if (c->state == CC_CLIENT_RESOLVING)
        uv_cancel((uv_req_t *)&c->gai); /* on_resolved still runs and drops its hold */
    else if (c->state != CC_CLIENT_CONNECTING)
        return;
    char where[300];
    host_port(c, where, sizeof(where));
    snprintf(c->error, sizeof(c->error), "cannot connect to %s: timed out after %u ms", where,
             c->connect_timeout_ms);
    drop_stream(c, 0);
    connect_failed(c, CC_ETIMEDOUT);
}

int cc_client_connect(cc_client *c, cc_connect_cb cb, void *ud)
{
    if (c->state != CC_CLIENT_IDLE)
        return CC_EINVAL;
    if (c->ctx == NULL) {
        char err[256];
        c->ctx = ctx_acquire(c->ca_file, c->cert_file, c->key_file, err, sizeof(err));
        if (c->ctx == NULL) {
            snprintf(c->error, sizeof(c->error), "%s", err);
            return CC_ECONFIG;
        }
    }
    char port[16];
    snprintf(port, sizeof(port), "%d", c->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    c->gai.data = c;
    int rc = uv_getaddrinfo(c->loop, &c->gai, on_resolved, c->host, port, &hints);
    if (rc < 0) {
        snprintf(c->error, sizeof(c->error), "cannot resolve %s: %s", c->host, uv_strerror(rc));
        return CC_EIO;
    }
    c->pending++;
    c->connect_cb = cb;
    c->connect_ud = ud;
    c->state = CC_CLIENT_RESOLVING;
    uv_timer_start(&c->connect_timer, on_connect_timeout, c->connect_timeout_ms, 0);
    return 0;
}

/* ---- the connection -------------------------------------------------------- */

static cc_client *client_of(tls_stream *s)
{
    cc_tls *t = s->data;
    /* Streams of abandoned attempts no longer speak for the client. */
    return t->c->tls == t ? t->c : NULL;
}

/* The connection broke after it was ready: fail the calls, then tell the owner. */
static void connection_lost(cc_client *c, int err, const char *why)
{
    if (c->state != CC_CLIENT_READY)
        return;
    c->state = CC_CLIENT_LOST;
    char where[300];
    host_port(c, where, sizeof(where));
    snprintf(c->error, sizeof(c->error), "connection to %s lost: %s", where, why);
    drop_stream(c, err == CC_EEOF);
    arm_deadline_timer(c);
    c->lost_calls = c->n_calls;
    fail_all(c, "connection lost");
    if (c->state == CC_CLIENT_LOST && c->lost_cb != NULL)
        c->lost_cb(c, err, c->lost_ud);
}

static void tls_on_handshake(tls_stream *s, int status)
{
    cc_client *c = client_of(s);
    if (c == NULL)
        return;
    char where[300];
    host_port(c, where, sizeof(where));
    if (status == 0) {
        uv_timer_stop(&c->connect_timer);
        c->state = CC_CLIENT_READY;
        c->error[0] = '\0';
        cc_connect_cb cb = c->connect_cb;
        c->connect_cb = NULL;
        if (cb != NULL)
            cb(c, 0, c->connect_ud);
        return;
    }
    if (status == CC_ETLS)
        snprintf(c->error, sizeof(c->error), "TLS handshake with %s failed: %s", where,
                 tls_stream_reason(s));
    else
        snprintf(c->error, sizeof(c->error), "cannot connect to %s: %s", where,
                 tls_stream_reason(s)[0] ? tls_stream_reason(s) : cc_strerror(status));
    drop_stream(c, 0);
    /* A refused address is no reason to give up on the others (IPv6, then IPv4). */
    if (status == CC_EIO && c->next_addr < c->n_addrs) {
        char first[sizeof(c->error)];
        memcpy(first, c->error, sizeof(first));
        if (try_next_addr(c) == 0)
            return;
        memcpy(c->error, first, sizeof(first));
    }
    connect_failed(c, status);
}

static int on_frame(void *ud, const uint8_t *body, size_t len)
{
    cc_client *c = ud;
    Concord__V1__Frame *f = concord__v1__frame__unpack(NULL, len, body);
    if (f == NULL)
        return CC_EPROTO;
    int rc = 0;
    if (f->kind_case == CONCORD__V1__FRAME__KIND_REPLY && f->reply != NULL) {
        cc_call *call = hash_find(c, f->id);
        /* No call: its deadline passed already; the late reply is dropped. */
        if (call != NULL) {
            calls_remove(c, call);
            arm_deadline_timer(c);
            const Concord__V1__Status *st = f->reply->status;
            int code = st ? (int)st->code : CC_OK;
            call_finish(c, call, code, st ? st->message : "", st, f->reply->payload.data,
                        f->reply->payload.len);
        }
    } else if (f->kind_case == CONCORD__V1__FRAME__KIND_EVENT && f->event != NULL) {
        if (c->event_cb != NULL)
            c->event_cb(c, f->event->topic, f->event->sequence, f->event->type,
                        f->event->payload.data, f->event->payload.len, c->event_ud);
    } else if (f->kind_case == CONCORD__V1__FRAME__KIND_CALL) {
        rc = CC_EPROTO; /* a server never calls the client */
    }
    concord__v1__frame__free_unpacked(f, NULL);
    /* A callback may have closed the client: stop decoding the rest. */
    if (rc == 0 && c->state != CC_CLIENT_READY)
        rc = CC_ECLOSED;
    return rc;
}

static void tls_on_read(tls_stream *s, const uint8_t *data, size_t len)
{
    cc_client *c = client_of(s);
    if (c == NULL || c->state != CC_CLIENT_READY)
        return;
    int rc = wire_decoder_feed(&c->dec, data, len, on_frame, c);
    if (rc == 0 || rc == CC_ECLOSED)
        return;
    if (rc == CC_ETOOBIG) {
        char why[96];
        snprintf(why, sizeof(why), "reply larger than %zu bytes", c->max_frame);
        connection_lost(c, rc, why);
    } else {
        connection_lost(c, rc, rc == CC_EPROTO ? "malformed frame from server" : cc_strerror(rc));
    }
}

static void tls_on_error(tls_stream *s, int err)
{
    cc_client *c = client_of(s);
    if (c == NULL)
        return;
    const char *why = tls_stream_reason(s);
    connection_lost(c, err, why[0] ? why : cc_strerror(err));
}

static void tls_on_close(tls_stream *s)
{
    cc_tls *t = s->data;
    cc_client *c = t->c;
    if (c->tls == t)
        c->tls = NULL;
    free(t);
    release(c);
}

static const tls_stream_ops client_tls_ops = {
    .on_handshake = tls_on_handshake,
    .on_read = tls_on_read,
    .on_error = tls_on_error,
    .on_close = tls_on_close,
};

/* Puts a packed call on the wire and in the tables. Takes buf; on failure k is
 * the caller's again. */
static int call_send(cc_client *c, cc_call *k, uint8_t *buf, size_t buf_len)
{
    int rc = calls_add(c, k);
    if (rc == 0) {
        rc = tls_stream_write(&c->tls->s, buf, buf_len);
        if (rc < 0)
            calls_remove(c, k);
    }
    free(buf);
    if (rc < 0)
        return rc;
    arm_deadline_timer(c);
    return 0;
}

/*
 * concordd accepts only small frames (server.max_frame_prelogin, 64 KiB by
 * default) until a call with a valid token has succeeded on the connection.
 * A larger call on a fresh connection is therefore preceded by a WhoAmI with
 * the same token, and sent once that succeeds; if it fails, the large call
 * ends with the WhoAmI's status.
 */
#define CC_PRELOGIN_FRAME (60 * 1024)

typedef struct cc_deferred {
    cc_call *call;
    uint8_t *buf;
    size_t len;
} cc_deferred;

static void on_warmup(cc_client *c, const cc_status *st, const uint8_t *payload, size_t len,
                      void *ud)
{
    cc_deferred *d = ud;
    if (st->code == CC_OK && c->state == CC_CLIENT_READY && c->tls != NULL) {
        uv_update_time(c->loop);
        d->call->deadline = uv_now(c->loop) + d->call->timeout_ms;
        if (call_send(c, d->call, d->buf, d->len) != 0)
            call_finish(c, d->call, CC_UNAVAILABLE, "connection lost", NULL, NULL, 0);
    } else {
        free(d->buf);
        call_finish(c, d->call, st->code ? st->code : CC_UNAVAILABLE, st->message, NULL, NULL, 0);
    }
    free(d);
}

int cc_client_call(cc_client *c, const char *method, const uint8_t *payload, size_t len,
                   const char *token, const char *idempotency_key, uint32_t deadline_ms,
                   cc_reply_cb cb, void *ud)
{
    if (c->state != CC_CLIENT_READY || c->tls == NULL)
        return CC_ECLOSED;
    if (method == NULL || cb == NULL)
        return CC_EINVAL;
    uint32_t timeout = deadline_ms ? deadline_ms : c->call_timeout_ms;
    Concord__V1__Call call = CONCORD__V1__CALL__INIT;
    call.method = (char *)method;
    call.payload.data = (uint8_t *)payload;
    call.payload.len = payload ? len : 0;
    call.auth_token = (char *)(token ? token : "");
    call.idempotency_key = (char *)(idempotency_key ? idempotency_key : "");
    call.deadline_ms = timeout;
    Concord__V1__Frame f = CONCORD__V1__FRAME__INIT;
    f.id = c->next_id;
    f.kind_case = CONCORD__V1__FRAME__KIND_CALL;
    f.call = &call;

    cc_call *k = calloc(1, sizeof(*k));
    if (k == NULL)
        return CC_ENOMEM;
    k->id = c->next_id;
    k->cb = cb;
    k->ud = ud;
    k->timeout_ms = timeout;
    k->had_token = token != NULL && *token != '\0';
    /* The loop's clock is stale when the caller has not run the loop for a while. */
    uv_update_time(c->loop);
    k->deadline = uv_now(c->loop) + timeout;

    uint8_t *buf = NULL;
    size_t buf_len = 0;
    int rc = wire_frame_pack(&f, c->max_frame, &buf, &buf_len);
    if (rc < 0) {
        free(k);
        return rc;
    }
    c->next_id++;
    if (!c->authenticated && k->had_token && buf_len > CC_PRELOGIN_FRAME) {
        cc_deferred *d = malloc(sizeof(*d));
        if (d == NULL) {
            free(buf);
            free(k);
            return CC_ENOMEM;
        }
        d->call = k;
        d->buf = buf;
        d->len = buf_len;
        rc = cc_client_call(c, "concord.v1.AuthService/WhoAmI", NULL, 0, token, NULL, timeout,
                            on_warmup, d);
        if (rc != 0) {
            free(d);
            free(buf);
            free(k);
        }
        return rc;
    }
    rc = call_send(c, k, buf, buf_len);
    if (rc != 0)
        free(k);
    return rc;
}

void cc_client_close(cc_client *c)
{
    if (c == NULL || c->state == CC_CLIENT_CLOSING)
        return;
    cc_state was = c->state;
    /* Closing first makes every callback below see a client that takes no calls. */
    c->state = CC_CLIENT_CLOSING;
    uv_timer_stop(&c->connect_timer);
    uv_timer_stop(&c->deadline_timer);
    if (was == CC_CLIENT_RESOLVING)
        uv_cancel((uv_req_t *)&c->gai);
    drop_stream(c, was == CC_CLIENT_READY);
    fail_all(c, "connection closed");
    cc_connect_cb cb = c->connect_cb;
    c->connect_cb = NULL;
    if (cb != NULL) {
        snprintf(c->error, sizeof(c->error), "connection closed");
        cb(c, CC_ECLOSED, c->connect_ud);
    }
    uv_close((uv_handle_t *)&c->connect_timer, on_timer_closed);
    uv_close((uv_handle_t *)&c->deadline_timer, on_timer_closed);
}
