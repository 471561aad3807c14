/*
 * gw_main.c - concord-gateway: configuration, TLS, the listener, the
 * upstream pool and the drain on SIGTERM.
 *
 * Everything runs on one libuv loop: h2o's connections, libconcord's
 * connections to concordd and the timers. Shutdown: the first SIGTERM or
 * SIGINT closes the listener and asks h2o to end keep-alive; once no request
 * is in flight (or drain_timeout passed) the upstream pool closes and the
 * process exits 0. A second signal exits at once.
 *
 * The gateway state is static so that what h2o still holds at exit (idle
 * keep-alive connections are not waited for) stays reachable.
 */
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
    gateway *gw = container_of((uv_tcp_t *)listener, gateway, listener);
    if (status != 0 || gw->draining)
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
    h2o_accept(&gw->accept_ctx, sock);
}

static void on_exit_timer(uv_timer_t *t)
{
    uv_close((uv_handle_t *)t, NULL);
    uv_stop(t->loop);
}

static void finish(gateway *gw, const char *why)
{
    char n[32];
    snprintf(n, sizeof n, "%zu", gw->in_flight);
    gw_http_flush_log(gw);
    log_event(LOG_INFO, "stopped", "reason", why, "in_flight", n, NULL);
    uv_timer_stop(&gw->drain_timer);
    uv_close((uv_handle_t *)&gw->drain_timer, NULL);
    uv_close((uv_handle_t *)&gw->drain_check, NULL);
    uv_close((uv_handle_t *)&gw->sig_term, NULL);
    uv_close((uv_handle_t *)&gw->sig_int, NULL);
    gw_upstream_close(gw->upstream);
    gw->upstream = NULL;
    /* A short grace lets the TLS connections to concordd close cleanly. */
    static uv_timer_t exit_timer;
    uv_timer_init(gw->loop, &exit_timer);
    uv_timer_start(&exit_timer, on_exit_timer, EXIT_GRACE_MS, 0);
}

static void on_drain_check(uv_timer_t *t)
{
    gateway *gw = container_of(t, gateway, drain_check);
    if (gw->in_flight == 0 && gw->upstream != NULL)
        finish(gw, "drained");
}

static void on_drain_timeout(uv_timer_t *t)
{
    gateway *gw = container_of(t, gateway, drain_timer);
    if (gw->upstream != NULL)
        finish(gw, "drain_timeout");
}

void gw_main_request_done(gateway *gw)
{
    /* Not from inside h2o's dispose path: the check runs on the next loop turn. */
    if (gw->in_flight == 0 && gw->upstream != NULL)
        uv_timer_start(&gw->drain_check, on_drain_check, 0, 0);
}

static void on_signal(uv_signal_t *s, int signum)
{
    gateway *gw = s->data;
    if (++gw->signals > 1) {
        gw_http_flush_log(gw);
        log_event(LOG_WARN, "exit_now", "signal", signum == SIGINT ? "SIGINT" : "SIGTERM", NULL);
        _exit(1);
    }
    char n[32];
    snprintf(n, sizeof n, "%zu", gw->in_flight);
    gw_http_flush_log(gw);
    log_event(LOG_INFO, "draining", "in_flight", n, NULL);
    gw->draining = 1;
    uv_close((uv_handle_t *)&gw->listener, NULL);
    h2o_context_request_shutdown(&gw->h2o_ctx);
    uv_timer_start(&gw->drain_timer, on_drain_timeout, gw->cfg.drain_timeout_ms, 0);
    gw_main_request_done(gw);
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
    uv_tcp_init(gw->loop, &gw->listener);
    if ((rc = uv_tcp_bind(&gw->listener, (struct sockaddr *)&ss, 0)) != 0 ||
        (rc = uv_listen((uv_stream_t *)&gw->listener, 511, on_accept)) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", gw->cfg.listen, uv_strerror(rc));
        return CC_EIO;
    }
    int len = sizeof ss;
    char name[64], addr[96];
    uv_tcp_getsockname(&gw->listener, (struct sockaddr *)&ss, &len);
    if (ss.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&ss, name, sizeof name);
        snprintf(addr, sizeof addr, "[%s]:%d", name,
                 ntohs(((struct sockaddr_in6 *)&ss)->sin6_port));
    } else {
        uv_ip4_name((struct sockaddr_in *)&ss, name, sizeof name);
        snprintf(addr, sizeof addr, "%s:%d", name, ntohs(((struct sockaddr_in *)&ss)->sin_port));
    }
    log_event(LOG_INFO, "ready", "addr", addr, "http2", gw->cfg.http2 ? "true" : "false", NULL);
    return 0;
}

static int upstream_setup(gateway *gw, char *err, size_t errlen)
{
    char host[256];
    int port;
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
    int rc = gw_upstream_new(gw->loop, &o, gw->cfg.up_connections, &gw->upstream);
    if (rc != 0)
        snprintf(err, errlen, "cannot create the upstream pool: %s", cc_strerror(rc));
    return rc;
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
    h2o_config_init(&gw->h2o_config);
    gw->h2o_config.server_name = h2o_iovec_init(H2O_STRLIT("concord-gateway"));
    /* h2o itself refuses bodies past twice the limit before buffering them; the
     * handler answers the ones in between with a Connect error. */
    gw->h2o_config.max_request_entity_size = gw->cfg.max_body * 2;
    gw_http_setup(gw, STDERR_FILENO);
    h2o_context_init(&gw->h2o_ctx, gw->loop, &gw->h2o_config);
    gw->accept_ctx.ctx = &gw->h2o_ctx;
    gw->accept_ctx.hosts = gw->h2o_config.hosts;
    gw->accept_ctx.ssl_ctx = gw->ssl_ctx;

    uv_timer_init(gw->loop, &gw->drain_timer);
    uv_timer_init(gw->loop, &gw->drain_check);
    uv_signal_init(gw->loop, &gw->sig_term);
    uv_signal_init(gw->loop, &gw->sig_int);
    gw->sig_term.data = gw->sig_int.data = gw;
    uv_signal_start(&gw->sig_term, on_signal, SIGTERM);
    uv_signal_start(&gw->sig_int, on_signal, SIGINT);

    if (upstream_setup(gw, err, sizeof err) != 0 || listen_setup(gw, err, sizeof err) != 0)
        goto fail;
    uv_run(gw->loop, UV_RUN_DEFAULT);
    rc = 0;
    goto out;
fail:
    log_event(LOG_ERROR, "startup_failed", "msg", err, NULL);
    rc = 1;
out:
    if (gw->loop != NULL)
        gw_http_cleanup(gw);
    gw_static_free(&gw->portal);
    free(gw->openapi);
    gw->openapi = NULL;
    cfg_free(gw_config_keys, &gw->cfg);
    return rc;
}
