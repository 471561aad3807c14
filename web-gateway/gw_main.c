/*
 * gw_main.c - concord-gateway: configuration, TLS, the listeners, the
 * event-loop threads and the drain on SIGTERM.
 *
 * gateway.threads workers each run their own libuv loop on their own thread:
 * an h2o context, a listener on the shared address (SO_REUSEPORT when there
 * are several), a pool of connections to concordd and timers. Nothing a
 * worker changes is touched by another thread. The main thread's loop only
 * holds the signal handles and learns when workers end.
 *
 * Shutdown: the first SIGTERM or SIGINT wakes every worker, which closes its
 * listener and asks h2o to end keep-alive; once none of its requests is in
 * flight (or drain_timeout passed) it closes its upstream pool and its loop
 * ends. When every worker's loop has ended the main thread logs event=stopped
 * and the process exits 0 (the worker threads wait for that, see worker_run).
 * A second signal exits at once.
 *
 * The gateway state is static so that what h2o still holds at exit (idle
 * keep-alive connections are not waited for) stays reachable.
 */
#include <errno.h>
#include <sys/socket.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include "cc_log.h"
#include "tls_stream.h"
#include "gateway.h"
#include "gw_auth.h"
#include "gw_openapi.h"

#define EXIT_GRACE_MS 200

static gateway g_gateway;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: concord-gateway [--config FILE] [--section.key=value ...]\n"
            "\n"
            "HTTPS gateway to concordd: the Connect protocol (JSON or binary protobuf) for every\n"
            "concord.v1 method, the web portal, /openapi.json and /healthz.\n"
            "Note: libh2o 2.2.5 lacks the fix for the HTTP/2 rapid-reset attack\n"
            "(CVE-2023-44487); gateway.http2 stays off unless a proxy in front absorbs it.\n"
            "\nSettings (file, environment, flags):\n");
    cfg_help(gw_config_keys, GW_ENV_PREFIX, out);
}

static void on_conn_closed(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *listener, int status)
{
    gw_worker *w = container_of((uv_tcp_t *)listener, gw_worker, listener);
    if (status != 0 || w->draining)
        return;
    uv_tcp_t *conn = malloc(sizeof *conn);
    if (conn == NULL)
        return;
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, on_conn_closed);
        return;
    }
    /* Responses are whole writes; Nagle's algorithm would only hold back the next one. */
    uv_tcp_nodelay(conn, 1);
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, on_conn_closed);
    h2o_accept(&w->accept_ctx, sock);
}

/* ---- the drain, on each worker's loop ------------------------------------- */

static void on_exit_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
    uv_stop(t->loop);
}

static void finish(gw_worker *w, int timed_out)
{
    gw_http_flush_log(w);
    w->timed_out = timed_out;
    w->left_in_flight = w->in_flight;
    uv_timer_stop(&w->drain_timer);
    uv_close((uv_handle_t *)&w->drain_timer, NULL);
    uv_close((uv_handle_t *)&w->drain_check, NULL);
    uv_close((uv_handle_t *)&w->wake, NULL);
    gw_upstream_close(w->upstream);
    w->upstream = NULL;
    /* A short grace lets the TLS connections to concordd close cleanly. */
    uv_timer_init(&w->loop, &w->exit_timer);
    uv_timer_start(&w->exit_timer, on_exit_timer, EXIT_GRACE_MS, 0);
}

static void on_drain_check(uv_timer_t *t)
{
    gw_worker *w = container_of(t, gw_worker, drain_check);
    if (w->in_flight == 0 && w->upstream != NULL)
        finish(w, 0);
}

static void on_drain_timeout(uv_timer_t *t)
{
    gw_worker *w = container_of(t, gw_worker, drain_timer);
    if (w->upstream != NULL)
        finish(w, 1);
}

void gw_main_request_done(gw_worker *w)
{
    /* Not from inside h2o's dispose path: the check runs on the next loop turn. */
    if (w->in_flight == 0 && w->upstream != NULL)
        uv_timer_start(&w->drain_check, on_drain_check, 0, 0);
}

/* The main thread asked for the drain: stop accepting, end keep-alive, wait for requests. */
static void on_wake(uv_async_t *a)
{
    gw_worker *w = container_of(a, gw_worker, wake);
    if (w->draining)
        return;
    w->draining = 1;
    uv_close((uv_handle_t *)&w->listener, NULL);
    h2o_context_request_shutdown(&w->h2o_ctx);
    uv_timer_start(&w->drain_timer, on_drain_timeout, w->gw->cfg.drain_timeout_ms, 0);
    gw_main_request_done(w);
}

/*
 * A worker thread: runs its loop until the drain ends it, then waits for the process to
 * exit. It is not ended: h2o keeps per-thread (thread-local) caches of memory, which a
 * finished thread would lose and the leak checker would report.
 */
static void worker_run(void *arg)
{
    gw_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    gw_http_cleanup(w);
    atomic_fetch_add(&w->gw->n_done, 1);
    uv_async_send(&w->gw->worker_done);
    for (;;)
        uv_sem_wait(&w->gw->park);
}

/* ---- signals and the workers' ends, on the main thread -------------------- */

static void on_worker_done(uv_async_t *a)
{
    gateway *gw = container_of(a, gateway, worker_done);
    if (atomic_load(&gw->n_done) < gw->n_workers)
        return;
    uv_close((uv_handle_t *)&gw->worker_done, NULL);
    uv_close((uv_handle_t *)&gw->sig_term, NULL);
    uv_close((uv_handle_t *)&gw->sig_int, NULL);
}

static void on_signal(uv_signal_t *s, int signum)
{
    gateway *gw = s->data;
    if (++gw->signals > 1) {
        /* The workers' buffered access lines of their current loop turn are lost. */
        log_event(LOG_WARN, "exit_now", "signal", signum == SIGINT ? "SIGINT" : "SIGTERM", NULL);
        _exit(1);
    }
    char n[16];
    snprintf(n, sizeof n, "%d", gw->n_workers);
    log_event(LOG_INFO, "draining", "threads", n, NULL);
    for (int i = 0; i < gw->n_workers; i++)
        uv_async_send(&gw->workers[i].wake);
}

/* The same TLS policy as concordd (proto/lib/tls_stream.c): TLS 1.3 unless
 * configured down to 1.2, and then forward-secret AEAD ciphers only. */
static int tls_setup(gateway *gw, char *err, size_t errlen)
{
    const char *min = gw->cfg.tls_min_version ? gw->cfg.tls_min_version : "1.3";
    if (strcmp(min, "1.3") != 0 && strcmp(min, "1.2") != 0) {
        snprintf(err, errlen, "gateway.tls_min_version must be 1.3 or 1.2, not \"%s\"", min);
        return CC_ECONFIG;
    }
    tls_config tc = {
        .cert_file = gw->cfg.tls_cert,
        .key_file = gw->cfg.tls_key,
        .min_version = strcmp(min, "1.2") == 0 ? TLS1_2_VERSION : TLS1_3_VERSION,
    };
    SSL_CTX *ctx = tls_server_ctx_new(&tc, err, errlen);
    if (ctx == NULL)
        return CC_ETLS;
    /* A busy keep-alive connection would otherwise free and allocate both record buffers
     * on every request; idle ones are closed by h2o's keep-alive timeout. */
    SSL_CTX_clear_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    if (gw->cfg.http2)
        h2o_ssl_register_alpn_protocols(ctx, h2o_http2_alpn_protocols);
    gw->ssl_ctx = ctx;
    return 0;
}

/*
 * Opens worker w's listener on ss. With several workers every listener is its own socket
 * bound with SO_REUSEPORT to the same address, and the kernel spreads new connections over
 * them; each worker then accepts on its own loop, and its drain closes only its own socket.
 */
static int listener_open(gateway *gw, gw_worker *w, const struct sockaddr_storage *ss)
{
    int rc;
    uv_tcp_init(&w->loop, &w->listener);
    if (gw->n_workers > 1) {
        int one = 1;
        int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return uv_translate_sys_error(errno);
        rc = setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0
                 ? uv_translate_sys_error(errno)
                 : uv_tcp_open(&w->listener, fd);
        if (rc != 0) {
            close(fd);
            return rc;
        }
    }
    if ((rc = uv_tcp_bind(&w->listener, (const struct sockaddr *)ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&w->listener, 511, on_accept)) != 0)
        return rc;
    return 0;
}

/* Opens every worker's listener; port 0 becomes the port the first one got. */
static int listen_setup(gateway *gw, char *err, size_t errlen)
{
    char host[256];
    int port;
    struct sockaddr_storage ss;
    int rc;
    if (gw_split_host_port(gw->cfg.listen, host, sizeof host, &port) != 0) {
        snprintf(err, errlen, "gateway.listen must be host:port, not %s", gw->cfg.listen);
        return CC_ECONFIG;
    }
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)&ss) != 0 &&
        uv_ip6_addr(host, port, (struct sockaddr_in6 *)&ss) != 0) {
        snprintf(err, errlen, "gateway.listen: %s is not an IP address", host);
        return CC_ECONFIG;
    }
    for (int i = 0; i < gw->n_workers; i++) {
        if ((rc = listener_open(gw, &gw->workers[i], &ss)) != 0) {
            snprintf(err, errlen, "cannot listen on %s: %s", gw->cfg.listen, uv_strerror(rc));
            return CC_EIO;
        }
        int len = sizeof ss;
        uv_tcp_getsockname(&gw->workers[i].listener, (struct sockaddr *)&ss, &len);
    }
    char name[64], addr[96], threads[16];
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, name, sizeof name);
        snprintf(addr, sizeof addr, "[%s]:%d", name,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, name, sizeof name);
        snprintf(addr, sizeof addr, "%s:%d", name, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    snprintf(threads, sizeof threads, "%d", gw->n_workers);
    log_event(LOG_INFO, "ready", "addr", addr, "http2", gw->cfg.http2 ? "true" : "false",
              "threads", threads, NULL);
    return 0;
}

/* Gives each worker its own pool of connections to concordd, on its own loop. */
static int upstream_setup(gateway *gw, char *err, size_t errlen)
{
    char host[256];
    int port;
    int rc = 0;
    if (gw_split_host_port(gw->cfg.up_address, host, sizeof host, &port) != 0 || port == 0) {
        snprintf(err, errlen, "upstream.address must be host:port, not %s", gw->cfg.up_address);
        return CC_ECONFIG;
    }
    cc_options o = {0};
    o.host = host;
    o.port = port;
    o.ca_file = gw->cfg.up_ca_file;
    o.server_name = gw->cfg.up_server_name;
    o.call_timeout_ms = gw->cfg.up_call_timeout_ms;
    for (int i = 0; i < gw->n_workers && rc == 0; i++) {
        gw_worker *w = &gw->workers[i];
        rc = gw_upstream_new(&w->loop, i, &o, gw->cfg.up_connections, &w->upstream);
    }
    if (rc != 0)
        snprintf(err, errlen, "cannot create the upstream pool: %s", cc_strerror(rc));
    return rc;
}

/* The number of event-loop threads: gateway.threads, or the CPUs (at most 8) when 0. */
static int thread_count(const gateway *gw)
{
    if (gw->cfg.threads > 0)
        return gw->cfg.threads;
    unsigned cpus = uv_available_parallelism();
    return cpus > 8 ? 8 : (int)cpus;
}

/* Creates the workers' loops, h2o contexts and drain handles; none runs yet. */
static int workers_setup(gateway *gw, char *err, size_t errlen)
{
    gw->n_workers = thread_count(gw);
    gw->workers = calloc((size_t)gw->n_workers, sizeof *gw->workers);
    if (gw->workers == NULL) {
        snprintf(err, errlen, "out of memory");
        return CC_ENOMEM;
    }
    for (int i = 0; i < gw->n_workers; i++) {
        gw_worker *w = &gw->workers[i];
        int rc = uv_loop_init(&w->loop);
        if (rc != 0) {
            snprintf(err, errlen, "cannot create an event loop: %s", uv_strerror(rc));
            return CC_EIO;
        }
        w->gw = gw;
        w->index = i;
        h2o_context_init(&w->h2o_ctx, &w->loop, &gw->h2o_config);
        w->accept_ctx.ctx = &w->h2o_ctx;
        w->accept_ctx.hosts = gw->h2o_config.hosts;
        w->accept_ctx.ssl_ctx = gw->ssl_ctx;
        gw_http_worker_setup(w);
        uv_timer_init(&w->loop, &w->drain_timer);
        uv_timer_init(&w->loop, &w->drain_check);
        uv_async_init(&w->loop, &w->wake, on_wake);
    }
    return 0;
}

static int csrf_setup(gateway *gw, char *err, size_t errlen)
{
    if (gw->cfg.csrf_key == NULL) {
        gw->csrf_key_len = 32;
        if (gw_auth_random_key(gw->csrf_key, gw->csrf_key_len) != 0) {
            snprintf(err, errlen, "no random bytes for the CSRF key");
            return CC_EIO;
        }
        return 0;
    }
    if (strlen(gw->cfg.csrf_key) < 32) {
        snprintf(err, errlen, "gateway.csrf_key must have at least 32 characters");
        return CC_ECONFIG;
    }
    /* Hashing turns a text secret of any length into a full-size HMAC key. */
    SHA256((const unsigned char *)gw->cfg.csrf_key, strlen(gw->cfg.csrf_key), gw->csrf_key);
    gw->csrf_key_len = 32;
    return 0;
}

/* Logs how the drain ended, once every worker's loop has ended (n_done says so). */
static void stopped(gateway *gw)
{
    size_t left = 0;
    int timed_out = 0;
    for (int i = 0; i < gw->n_workers; i++) {
        const gw_worker *w = &gw->workers[i];
        left += w->left_in_flight;
        timed_out |= w->timed_out;
    }
    char n[32];
    snprintf(n, sizeof n, "%zu", left);
    log_event(LOG_INFO, "stopped", "reason", timed_out ? "drain_timeout" : "drained", "in_flight",
              n, NULL);
}

int main(int argc, char **argv)
{
    gateway *gw = &g_gateway;
    char err[512] = "";
    int rc = 2;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        }
    }
    if (cfg_load(gw_config_keys, &gw->cfg, GW_ENV_PREFIX, NULL, &argc, argv, err, sizeof err) !=
        0) {
        fprintf(stderr, "concord-gateway: %s\n", err);
        return 2;
    }
    if (argc > 1) {
        fprintf(stderr, "concord-gateway: unknown argument %s (see --help)\n", argv[1]);
        goto out;
    }
    int level = log_level_parse(gw->cfg.log_level != NULL ? gw->cfg.log_level : "info");
    if (level < 0) {
        fprintf(stderr, "concord-gateway: log.level must be debug, info, warn or error\n");
        goto out;
    }
    log_setup(level, STDERR_FILENO);
    signal(SIGPIPE, SIG_IGN);

    if (gw->cfg.tls_cert == NULL || gw->cfg.tls_key == NULL) {
        snprintf(err, sizeof err, "gateway.tls_cert and gateway.tls_key are required");
        goto fail;
    }
    if (csrf_setup(gw, err, sizeof err) != 0 || tls_setup(gw, err, sizeof err) != 0)
        goto fail;
    if (gw_static_load(gw->cfg.portal_dir, &gw->portal) != 0)
        log_event(LOG_WARN, "portal_unavailable", "dir", gw->cfg.portal_dir, NULL);
    if (gw_openapi_build(&gw->openapi, &gw->openapi_len) != 0) {
        snprintf(err, sizeof err, "cannot build the OpenAPI document");
        goto fail;
    }
    if (gw->cfg.http2)
        log_event(LOG_WARN, "http2_enabled", "msg",
                  "libh2o 2.2.5 lacks the HTTP/2 rapid-reset fix (CVE-2023-44487)", NULL);

    gw->loop = uv_default_loop();
    if (uv_mutex_init(&gw->access_lock) != 0 || uv_sem_init(&gw->park, 0) != 0) {
        snprintf(err, sizeof err, "cannot create a mutex or a semaphore");
        goto fail;
    }
    h2o_config_init(&gw->h2o_config);
    gw->h2o_config.server_name = h2o_iovec_init(H2O_STRLIT("concord-gateway"));
    /* h2o itself refuses bodies past twice the limit before buffering them; the
     * handler answers the ones in between with a Connect error. */
    gw->h2o_config.max_request_entity_size = gw->cfg.max_body * 2;
    gw_http_setup(gw, STDERR_FILENO);

    uv_async_init(gw->loop, &gw->worker_done, on_worker_done);
    uv_signal_init(gw->loop, &gw->sig_term);
    uv_signal_init(gw->loop, &gw->sig_int);
    gw->sig_term.data = gw->sig_int.data = gw;
    uv_signal_start(&gw->sig_term, on_signal, SIGTERM);
    uv_signal_start(&gw->sig_int, on_signal, SIGINT);

    if (workers_setup(gw, err, sizeof err) != 0 || upstream_setup(gw, err, sizeof err) != 0 ||
        listen_setup(gw, err, sizeof err) != 0)
        goto fail;
    for (int i = 0; i < gw->n_workers; i++) {
        if (uv_thread_create(&gw->workers[i].thread, worker_run, &gw->workers[i]) != 0) {
            /* Without all its threads the gateway would serve only some connections. */
            log_event(LOG_ERROR, "startup_failed", "msg", "cannot start a thread", NULL);
            _exit(1);
        }
    }
    uv_run(gw->loop, UV_RUN_DEFAULT);
    stopped(gw);
    rc = 0;
    goto out;
fail:
    log_event(LOG_ERROR, "startup_failed", "msg", err, NULL);
    rc = 1;
out:
    gw_static_free(&gw->portal);
    free(gw->openapi);
    gw->openapi = NULL;
    cfg_free(gw_config_keys, &gw->cfg);
    return rc;
}
