/*
 * test_tls.c - the TLS stream over real sockets: a server and a client on one
 * libuv loop over 127.0.0.1, with a throwaway CA and certificates generated at
 * start.
 *
 * Covered: a 3 MiB echo (partial writes, many records, data written before
 * the handshake), a wrong CA, a host-name mismatch, IP-address checks, a
 * plain TCP client sending garbage, a TLS 1.2 client against a TLS 1.3-only
 * server (and a TLS 1.2 server that accepts it), close_notify versus a bare
 * TCP EOF, mutual TLS, closing from inside on_read, pausing and resuming, and
 * a refused connection. Every test checks that no callback runs after
 * tls_stream_close and that the loop ends with every handle closed.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* cmocka needs the headers above first. */
#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "tls_stream.h"

#define BIG_LEN (3u * 1024 * 1024)
#define EARLY_LEN (1u * 1024 * 1024)

/* ---- certificates -------------------------------------------------------- */

static char g_dir[64];
static char g_ca[128], g_other_ca[128], g_srv_cert[128], g_srv_key[128];
static char g_cli_cert[128], g_cli_key[128];

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    assert_non_null(e);
    assert_int_equal(X509_add_ext(x, e, -1), 1);
    X509_EXTENSION_free(e);
}

/* Issues a certificate for key, signed by issuer (self-signed when NULL). */
static X509 *make_cert(EVP_PKEY *key, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                       const char *san, const char *eku)
{
    static long serial = 1;
    X509 *x = X509_new();
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"Concord tests", -1,
                               -1, 0);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX ctx;
    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &ctx, NID_subject_key_identifier, "hash");
    if (issuer == NULL) {
        add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE");
        add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
    } else {
        add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
        add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE");
        add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature");
        add_ext(x, &ctx, NID_ext_key_usage, eku);
        if (san != NULL)
            add_ext(x, &ctx, NID_subject_alt_name, san);
    }
    assert_true(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_cert(const char *path, X509 *x)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_X509(f, x), 1);
    fclose(f);
}

static void write_key(const char *path, EVP_PKEY *k)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
    fclose(f);
}

static int make_certs(void **state)
{
    snprintf(g_dir, sizeof(g_dir), "/tmp/concord-tls-XXXXXX");
    if (mkdtemp(g_dir) == NULL)
        return -1;
    snprintf(g_ca, sizeof(g_ca), "%s/ca.pem", g_dir);
    snprintf(g_other_ca, sizeof(g_other_ca), "%s/other-ca.pem", g_dir);
    snprintf(g_srv_cert, sizeof(g_srv_cert), "%s/server.pem", g_dir);
    snprintf(g_srv_key, sizeof(g_srv_key), "%s/server.key", g_dir);
    snprintf(g_cli_cert, sizeof(g_cli_cert), "%s/client.pem", g_dir);
    snprintf(g_cli_key, sizeof(g_cli_key), "%s/client.key", g_dir);

    EVP_PKEY *ca_key = EVP_EC_gen("P-256");
    EVP_PKEY *other_key = EVP_EC_gen("P-256");
    EVP_PKEY *srv_key = EVP_EC_gen("P-256");
    EVP_PKEY *cli_key = EVP_EC_gen("P-256");
    assert_true(ca_key && other_key && srv_key && cli_key);
    X509 *ca = make_cert(ca_key, "Concord test CA", NULL, NULL, NULL, NULL);
    X509 *other = make_cert(other_key, "Some other CA", NULL, NULL, NULL, NULL);
    X509 *srv =
        make_cert(srv_key, "localhost", ca, ca_key, "DNS:localhost,IP:127.0.0.1", "serverAuth");
    X509 *cli = make_cert(cli_key, "test client", ca, ca_key, NULL, "clientAuth");
    write_cert(g_ca, ca);
    write_cert(g_other_ca, other);
    write_cert(g_srv_cert, srv);
    write_key(g_srv_key, srv_key);
    write_cert(g_cli_cert, cli);
    write_key(g_cli_key, cli_key);
    X509_free(ca);
    X509_free(other);
    X509_free(srv);
    X509_free(cli);
    EVP_PKEY_free(ca_key);
    EVP_PKEY_free(other_key);
    EVP_PKEY_free(srv_key);
    EVP_PKEY_free(cli_key);
    return 0;
}

static int remove_certs(void **state)
{
    const char *files[] = {g_ca, g_other_ca, g_srv_cert, g_srv_key, g_cli_cert, g_cli_key};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
        unlink(files[i]);
    rmdir(g_dir);
    return 0;
}

/* ---- one peer: records every callback and acts as the test tells it ------ */

typedef struct test_env test_env;

typedef struct peer {
    tls_stream s;
    test_env *t;
    /* what happened */
    int hs_calls, hs_status;
    int err_calls, err;
    int saw_close_notify; /* peer_closed was set when on_error ran */
    int read_calls;
    int drains;
    int closed;              /* on_close ran */
    int close_requested;     /* this side called tls_stream_close */
    int late;                /* callbacks after tls_stream_close */
    size_t pending_at_close; /* ciphertext still queued when this side closed */
    int version;             /* negotiated protocol version */
    char cipher[64];
    int peer_cert; /* the other side presented a certificate */
    char reason[192];
    char peer_addr[64];
    uint8_t *rx;
    size_t rx_len, rx_cap;
    /* what to do */
    int echo;                /* write back what arrives */
    size_t close_after;      /* close gracefully once this many bytes arrived */
    int close_in_first_read; /* close gracefully inside the first on_read */
    int close_after_hs;      /* 1: close gracefully after the handshake; 2: abruptly */
    int pause_first_read;    /* pause in the first on_read; a timer resumes */
    const uint8_t *send;     /* written after the handshake (in pieces) */
    size_t send_len;
    int send_from_timer; /* write send from a timer callback instead, in one piece */
} peer;

struct test_env {
    uv_loop_t loop;
    uv_tcp_t listener;
    int listening;
    int port;
    uv_timer_t watchdog;
    uv_timer_t resume_timer;
    uv_timer_t send_timer;
    int timed_out;
    SSL_CTX *sctx, *cctx;
    peer srv, cli;
    int accepted;
    /* plain TCP client for the garbage test */
    uv_tcp_t plain;
    uv_connect_t plain_conn;
    uv_write_t plain_write;
    int plain_closed;
    int plain_got_eof;
};

static void peer_close(peer *p, int graceful)
{
    if (p->close_requested)
        return;
    p->close_requested = 1;
    p->pending_at_close = tls_stream_pending(&p->s);
    tls_stream_close(&p->s, graceful);
}

static void on_send_timer(uv_timer_t *timer)
{
    peer *p = timer->data;
    uv_close((uv_handle_t *)timer, NULL);
    if (!p->close_requested)
        assert_int_equal(tls_stream_write(&p->s, p->send, p->send_len), 0);
}

static void peer_on_handshake(tls_stream *s, int status)
{
    peer *p = s->data;
    if (p->close_requested)
        p->late++;
    p->hs_calls++;
    p->hs_status = status;
    if (status < 0) {
        snprintf(p->reason, sizeof(p->reason), "%s", tls_stream_reason(s));
        peer_close(p, 0);
        return;
    }
    p->version = SSL_version(s->ssl);
    snprintf(p->cipher, sizeof(p->cipher), "%s", SSL_get_cipher_name(s->ssl));
    p->peer_cert = SSL_get0_peer_certificate(s->ssl) != NULL;
    tls_stream_peer_addr(s, p->peer_addr, sizeof(p->peer_addr));
    if (p->send_from_timer) {
        uv_timer_init(&p->t->loop, &p->t->send_timer);
        p->t->send_timer.data = p;
        uv_timer_start(&p->t->send_timer, on_send_timer, 0, 0);
        return;
    }
    /* Uneven pieces, so records and writes do not line up with anything. */
    size_t off = 0, piece = 1000;
    while (off < p->send_len) {
        size_t n = p->send_len - off < piece ? p->send_len - off : piece;
        assert_int_equal(tls_stream_write(s, p->send + off, n), 0);
        off += n;
        piece = piece * 3 % 65521 + 1;
    }
    if (p->close_after_hs)
        peer_close(p, p->close_after_hs == 1);
}

static void on_resume_timer(uv_timer_t *timer)
{
    test_env *t = timer->data;
    uv_close((uv_handle_t *)timer, NULL);
    if (!t->cli.close_requested)
        tls_stream_read_resume(&t->cli.s);
}

static void peer_on_read(tls_stream *s, const uint8_t *data, size_t len)
{
    peer *p = s->data;
    if (p->close_requested || s->paused)
        p->late++;
    p->read_calls++;
    if (p->rx_len + len > p->rx_cap) {
        p->rx_cap = (p->rx_len + len) * 2;
        p->rx = realloc(p->rx, p->rx_cap);
        assert_non_null(p->rx);
    }
    memcpy(p->rx + p->rx_len, data, len);
    p->rx_len += len;
    if (p->echo)
        assert_int_equal(tls_stream_write(s, data, len), 0);
    if (p->close_in_first_read)
        peer_close(p, 1);
    else if (p->close_after && p->rx_len >= p->close_after)
        peer_close(p, 1);
    if (p->pause_first_read && p->read_calls == 1) {
        tls_stream_read_pause(s);
        uv_timer_init(&p->t->loop, &p->t->resume_timer);
        p->t->resume_timer.data = p->t;
        uv_timer_start(&p->t->resume_timer, on_resume_timer, 200, 0);
    }
}

static void peer_on_error(tls_stream *s, int err)
{
    peer *p = s->data;
    if (p->close_requested)
        p->late++;
    p->err_calls++;
    p->err = err;
    p->saw_close_notify = s->peer_closed;
    snprintf(p->reason, sizeof(p->reason), "%s", tls_stream_reason(s));
    peer_close(p, 1);
}

static void peer_on_drain(tls_stream *s)
{
    peer *p = s->data;
    if (p->close_requested)
        p->late++;
    p->drains++;
}

static void peer_on_close(tls_stream *s)
{
    peer *p = s->data;
    p->closed++;
}

static const tls_stream_ops peer_ops = {
    .on_handshake = peer_on_handshake,
    .on_read = peer_on_read,
    .on_error = peer_on_error,
    .on_drain = peer_on_drain,
    .on_close = peer_on_close,
};

/* ---- the environment: listener, watchdog, contexts ----------------------- */

static void on_watchdog(uv_timer_t *timer)
{
    test_env *t = timer->data;
    t->timed_out = 1;
    if (t->listening && !uv_is_closing((uv_handle_t *)&t->listener))
        uv_close((uv_handle_t *)&t->listener, NULL);
    if (t->accepted)
        peer_close(&t->srv, 0);
    peer_close(&t->cli, 0);
}

static void on_connection(uv_stream_t *listener, int status)
{
    test_env *t = listener->data;
    assert_int_equal(status, 0);
    assert_int_equal(t->accepted, 0);
    t->accepted = 1;
    assert_int_equal(tls_stream_init(&t->srv.s, &t->loop, t->sctx, &peer_ops, &t->srv), 0);
    assert_int_equal(tls_stream_accept(&t->srv.s, listener), 0);
    /* One connection per test. */
    uv_close((uv_handle_t *)&t->listener, NULL);
}

static void env_init(test_env *t, const tls_config *sc, const tls_config *cc)
{
    char err[256];
    memset(t, 0, sizeof(*t));
    t->srv.t = t;
    t->cli.t = t;
    assert_int_equal(uv_loop_init(&t->loop), 0);
    t->sctx = tls_server_ctx_new(sc, err, sizeof(err));
    if (t->sctx == NULL)
        fail_msg("server context: %s", err);
    t->cctx = tls_client_ctx_new(cc, err, sizeof(err));
    if (t->cctx == NULL)
        fail_msg("client context: %s", err);

    struct sockaddr_in a;
    assert_int_equal(uv_ip4_addr("127.0.0.1", 0, &a), 0);
    assert_int_equal(uv_tcp_init(&t->loop, &t->listener), 0);
    t->listener.data = t;
    assert_int_equal(uv_tcp_bind(&t->listener, (const struct sockaddr *)&a, 0), 0);
    assert_int_equal(uv_listen((uv_stream_t *)&t->listener, 8, on_connection), 0);
    t->listening = 1;
    struct sockaddr_in bound;
    int n = sizeof(bound);
    assert_int_equal(uv_tcp_getsockname(&t->listener, (struct sockaddr *)&bound, &n), 0);
    t->port = ntohs(bound.sin_port);

    uv_timer_init(&t->loop, &t->watchdog);
    t->watchdog.data = t;
    uv_timer_start(&t->watchdog, on_watchdog, 20000, 0);
    uv_unref((uv_handle_t *)&t->watchdog);
}

/* Starts the TLS client towards the listener (or towards port when non-zero). */
static void env_connect(test_env *t, const char *verify_host, int port)
{
    struct sockaddr_in a;
    assert_int_equal(uv_ip4_addr("127.0.0.1", port ? port : t->port, &a), 0);
    assert_int_equal(tls_stream_init(&t->cli.s, &t->loop, t->cctx, &peer_ops, &t->cli), 0);
    assert_int_equal(tls_stream_connect(&t->cli.s, (const struct sockaddr *)&a, verify_host), 0);
}

/* Runs the loop until every handle is closed, then checks the shared invariants. */
static void env_run(test_env *t)
{
    uv_run(&t->loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&t->watchdog, NULL);
    if (t->listening && !uv_is_closing((uv_handle_t *)&t->listener))
        uv_close((uv_handle_t *)&t->listener, NULL);
    uv_run(&t->loop, UV_RUN_DEFAULT);
    assert_false(t->timed_out);
    assert_int_equal(uv_loop_close(&t->loop), 0);
    assert_int_equal(t->cli.late, 0);
    assert_int_equal(t->srv.late, 0);
    assert_true(t->cli.hs_calls <= 1);
    assert_true(t->srv.hs_calls <= 1);
    assert_true(t->cli.err_calls <= 1);
    assert_true(t->srv.err_calls <= 1);
    /* A failed handshake is reported once, without an on_error after it. */
    if (t->cli.hs_status < 0)
        assert_int_equal(t->cli.err_calls, 0);
    if (t->srv.hs_status < 0)
        assert_int_equal(t->srv.err_calls, 0);
}

static void env_fini(test_env *t)
{
    SSL_CTX_free(t->sctx);
    SSL_CTX_free(t->cctx);
    free(t->srv.rx);
    free(t->cli.rx);
}

static const tls_config *server_cfg(void)
{
    static tls_config c;
    c = (tls_config){.cert_file = g_srv_cert, .key_file = g_srv_key};
    return &c;
}

static const tls_config *client_cfg(void)
{
    static tls_config c;
    c = (tls_config){.ca_file = g_ca};
    return &c;
}

static uint8_t *pattern(size_t n)
{
    uint8_t *b = malloc(n);
    assert_non_null(b);
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)(i * 131 + (i >> 12));
    return b;
}

/* ---- tests --------------------------------------------------------------- */

static void echo_large(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    uint8_t *data = pattern(BIG_LEN);
    t.srv.echo = 1;
    t.cli.send = data + EARLY_LEN;
    t.cli.send_len = BIG_LEN - EARLY_LEN;
    t.cli.close_after = BIG_LEN;
    env_connect(&t, "localhost", 0);
    /* Written before the TCP connection even exists: buffered, sent first. */
    assert_int_equal(tls_stream_write(&t.cli.s, data, EARLY_LEN), 0);
    env_run(&t);

    assert_int_equal(t.cli.hs_status, 0);
    assert_int_equal(t.srv.hs_status, 0);
    assert_int_equal(t.cli.version, TLS1_3_VERSION);
    assert_int_equal(t.srv.rx_len, BIG_LEN);
    assert_int_equal(t.cli.rx_len, BIG_LEN);
    assert_memory_equal(t.cli.rx, data, BIG_LEN);
    assert_true(t.cli.read_calls > 100);
    assert_true(t.cli.drains >= 1);
    assert_true(t.srv.drains >= 1);
    assert_string_equal(t.srv.peer_addr, "127.0.0.1");
    /* The client closed gracefully: the server saw close_notify, as CC_EEOF. */
    assert_int_equal(t.cli.err_calls, 0);
    assert_int_equal(t.srv.err, CC_EEOF);
    assert_true(t.srv.saw_close_notify);
    assert_int_equal(t.cli.closed, 1);
    assert_int_equal(t.srv.closed, 1);
    free(data);
    env_fini(&t);
}

static void wrong_ca(void **state)
{
    tls_config cc = {.ca_file = g_other_ca};
    test_env t;
    env_init(&t, server_cfg(), &cc);
    env_connect(&t, "localhost", 0);
    assert_int_equal(tls_stream_write(&t.cli.s, (const uint8_t *)"secret", 6), 0);
    env_run(&t);
    assert_int_equal(t.cli.hs_status, CC_ETLS);
    assert_non_null(strstr(t.cli.reason, "certificate verify failed"));
    /* The server learns of it through the client's alert. */
    assert_int_equal(t.srv.hs_status, CC_ETLS);
    assert_int_equal(t.srv.rx_len, 0);
    assert_int_equal(t.cli.closed, 1);
    assert_int_equal(t.srv.closed, 1);
    env_fini(&t);
}

static void host_mismatch(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    env_connect(&t, "other.example", 0);
    env_run(&t);
    assert_int_equal(t.cli.hs_status, CC_ETLS);
    assert_non_null(strstr(t.cli.reason, "hostname mismatch"));
    assert_true(t.srv.hs_status < 0);
    env_fini(&t);
}

static void ip_address_checked(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    t.cli.close_after_hs = 1;
    env_connect(&t, "127.0.0.1", 0);
    env_run(&t);
    assert_int_equal(t.cli.hs_status, 0);
    assert_int_equal(t.srv.hs_status, 0);
    env_fini(&t);

    /* The certificate names 127.0.0.1 only; another address must not pass. */
    env_init(&t, server_cfg(), client_cfg());
    env_connect(&t, "127.0.0.2", 0);
    env_run(&t);
    assert_int_equal(t.cli.hs_status, CC_ETLS);
    assert_non_null(strstr(t.cli.reason, "IP address mismatch"));
    env_fini(&t);
}

static void plain_on_close(uv_handle_t *h)
{
    test_env *t = h->data;
    t->plain_closed = 1;
}

static void plain_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    static char b[4096];
    *buf = uv_buf_init(b, sizeof(b));
}

static void plain_read(uv_stream_t *st, ssize_t nread, const uv_buf_t *buf)
{
    test_env *t = st->data;
    if (nread < 0) {
        t->plain_got_eof = 1;
        uv_close((uv_handle_t *)st, plain_on_close);
    }
}

static void plain_written(uv_write_t *req, int status) {}

static void plain_connected(uv_connect_t *req, int status)
{
    test_env *t = req->handle->data;
    assert_int_equal(status, 0);
    static const char garbage[] = "GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    uv_buf_t b = uv_buf_init((char *)garbage, sizeof(garbage) - 1);
    assert_int_equal(uv_write(&t->plain_write, req->handle, &b, 1, plain_written), 0);
    assert_int_equal(uv_read_start(req->handle, plain_alloc, plain_read), 0);
}

static void plain_tcp_garbage(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    struct sockaddr_in a;
    assert_int_equal(uv_ip4_addr("127.0.0.1", t.port, &a), 0);
    assert_int_equal(uv_tcp_init(&t.loop, &t.plain), 0);
    t.plain.data = &t;
    assert_int_equal(
        uv_tcp_connect(&t.plain_conn, &t.plain, (const struct sockaddr *)&a, plain_connected), 0);
    t.cli.close_requested = 1; /* no TLS client in this test */
    env_run(&t);
    assert_int_equal(t.srv.hs_status, CC_ETLS);
    assert_true(strlen(t.srv.reason) > 0);
    assert_int_equal(t.srv.closed, 1);
    /* The server hung up on the plain client. */
    assert_true(t.plain_got_eof);
    assert_true(t.plain_closed);
    env_fini(&t);
}

static void tls12_client_rejected(void **state)
{
    tls_config cc = {.ca_file = g_ca, .min_version = TLS1_2_VERSION};
    test_env t;
    env_init(&t, server_cfg(), &cc);
    assert_int_equal(SSL_CTX_set_max_proto_version(t.cctx, TLS1_2_VERSION), 1);
    env_connect(&t, "localhost", 0);
    env_run(&t);
    assert_int_equal(t.srv.hs_status, CC_ETLS);
    assert_non_null(strstr(t.srv.reason, "unsupported protocol"));
    assert_int_equal(t.cli.hs_status, CC_ETLS);
    env_fini(&t);
}

static void tls12_allowed_when_configured(void **state)
{
    tls_config sc = {.cert_file = g_srv_cert, .key_file = g_srv_key, .min_version = TLS1_2_VERSION};
    tls_config cc = {.ca_file = g_ca, .min_version = TLS1_2_VERSION};
    test_env t;
    env_init(&t, &sc, &cc);
    assert_int_equal(SSL_CTX_set_max_proto_version(t.cctx, TLS1_2_VERSION), 1);
    uint8_t *data = pattern(100000);
    t.srv.echo = 1;
    t.cli.send = data;
    t.cli.send_len = 100000;
    t.cli.close_after = 100000;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    assert_int_equal(t.cli.hs_status, 0);
    assert_int_equal(t.cli.version, TLS1_2_VERSION);
    assert_non_null(strstr(t.cli.cipher, "ECDHE"));
    assert_true(strstr(t.cli.cipher, "GCM") || strstr(t.cli.cipher, "CHACHA20"));
    assert_int_equal(t.cli.rx_len, 100000);
    assert_memory_equal(t.cli.rx, data, 100000);
    assert_int_equal(t.srv.err, CC_EEOF);
    assert_true(t.srv.saw_close_notify);
    free(data);
    env_fini(&t);
}

static void server_close_notify(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    uint8_t *data = pattern(300000);
    t.srv.send = data;
    t.srv.send_len = 300000;
    t.srv.close_after_hs = 1;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    /* Everything sent before close_notify arrives, then CC_EEOF once. */
    assert_int_equal(t.cli.rx_len, 300000);
    assert_memory_equal(t.cli.rx, data, 300000);
    assert_int_equal(t.cli.err, CC_EEOF);
    assert_int_equal(t.cli.err_calls, 1);
    assert_true(t.cli.saw_close_notify);
    free(data);
    env_fini(&t);
}

static void server_abrupt_close(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    t.srv.close_after_hs = 2;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    /* A bare TCP EOF is also CC_EEOF, but without close_notify. */
    assert_int_equal(t.cli.hs_status, 0);
    assert_int_equal(t.cli.err_calls, 1);
    assert_int_equal(t.cli.err, CC_EEOF);
    assert_false(t.cli.saw_close_notify);
    env_fini(&t);
}

static void mutual_tls(void **state)
{
    tls_config sc = {
        .cert_file = g_srv_cert, .key_file = g_srv_key, .ca_file = g_ca, .require_client_cert = 1};
    tls_config cc = {.ca_file = g_ca, .cert_file = g_cli_cert, .key_file = g_cli_key};
    test_env t;
    env_init(&t, &sc, &cc);
    t.cli.close_after_hs = 1;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    assert_int_equal(t.cli.hs_status, 0);
    assert_int_equal(t.srv.hs_status, 0);
    assert_true(t.srv.peer_cert);
    env_fini(&t);

    /* Without a client certificate the server refuses the handshake. */
    env_init(&t, &sc, client_cfg());
    env_connect(&t, "localhost", 0);
    env_run(&t);
    assert_int_equal(t.srv.hs_status, CC_ETLS);
    assert_true(t.cli.hs_status < 0 || t.cli.err < 0);
    env_fini(&t);
}

static void close_inside_read(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    uint8_t *data = pattern(500000);
    t.srv.send = data;
    t.srv.send_len = 500000;
    t.cli.close_in_first_read = 1;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    assert_int_equal(t.cli.read_calls, 1);
    assert_true(t.cli.rx_len > 0 && t.cli.rx_len < 500000);
    assert_int_equal(t.cli.err_calls, 0);
    assert_int_equal(t.cli.closed, 1);
    assert_int_equal(t.srv.closed, 1);
    free(data);
    env_fini(&t);
}

static void pause_and_resume(void **state)
{
    const size_t n = 16u * 1024 * 1024;
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    uint8_t *data = pattern(n);
    t.srv.send = data;
    t.srv.send_len = n;
    t.srv.close_after_hs = 1;
    t.cli.pause_first_read = 1;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    /*
     * The server closed with most of the data still queued (the client was
     * paused); a graceful close lets it all go out before the socket closes.
     */
    assert_true(t.srv.pending_at_close > 0);
    assert_int_equal(t.cli.rx_len, n);
    assert_memory_equal(t.cli.rx, data, n);
    assert_int_equal(t.cli.err, CC_EEOF);
    assert_true(t.cli.saw_close_notify);
    free(data);
    env_fini(&t);
}

/* Writes made in one loop turn go out as one record: the peer decrypts them in one read. */
static void writes_gathered(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    uint8_t *data = pattern(10000);
    t.cli.send = data; /* three pieces: 1000, 3001 and 5999 bytes */
    t.cli.send_len = 10000;
    t.srv.close_after = 10000;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    assert_int_equal(t.srv.rx_len, 10000);
    assert_memory_equal(t.srv.rx, data, 10000);
    assert_int_equal(t.srv.read_calls, 1);
    assert_int_equal(t.cli.err, CC_EEOF);
    free(data);
    env_fini(&t);
}

/*
 * A write from a timer callback goes out before the loop waits again. Were it
 * held for the next I/O event, the loop would sleep until the watchdog.
 */
static void write_from_timer(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    t.cli.send = (const uint8_t *)"ping";
    t.cli.send_len = 4;
    t.cli.send_from_timer = 1;
    t.srv.echo = 1;
    t.cli.close_after = 4;
    env_connect(&t, "localhost", 0);
    env_run(&t);
    assert_int_equal(t.srv.rx_len, 4);
    assert_int_equal(t.cli.rx_len, 4);
    assert_memory_equal(t.cli.rx, "ping", 4);
    assert_int_equal(t.srv.err, CC_EEOF);
    env_fini(&t);
}

static void connection_refused(void **state)
{
    test_env t;
    env_init(&t, server_cfg(), client_cfg());
    /* Take a free port, then stop listening on it. */
    int port = t.port;
    uv_close((uv_handle_t *)&t.listener, NULL);
    t.listening = 0;
    uv_run(&t.loop, UV_RUN_NOWAIT);
    env_connect(&t, "localhost", port);
    env_run(&t);
    assert_int_equal(t.cli.hs_status, CC_EIO);
    assert_non_null(strstr(t.cli.reason, "refused"));
    env_fini(&t);
}

static void bad_config(void **state)
{
    char err[256];
    tls_config sc = {.cert_file = g_srv_cert, .key_file = g_cli_key};
    assert_null(tls_server_ctx_new(&sc, err, sizeof(err)));
    assert_non_null(strstr(err, "mismatch"));
    tls_config missing = {.cert_file = "/nonexistent/cert.pem", .key_file = g_srv_key};
    assert_null(tls_server_ctx_new(&missing, err, sizeof(err)));
    assert_non_null(strstr(err, "/nonexistent/cert.pem"));
    tls_config old = {
        .cert_file = g_srv_cert, .key_file = g_srv_key, .min_version = TLS1_1_VERSION};
    assert_null(tls_server_ctx_new(&old, err, sizeof(err)));
    tls_config half = {.ca_file = g_ca, .cert_file = g_cli_cert};
    assert_null(tls_client_ctx_new(&half, err, sizeof(err)));
}

int main(void)
{
    /* Writing to a socket the peer closed must fail with EPIPE, not kill us. */
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(echo_large),
        cmocka_unit_test(wrong_ca),
        cmocka_unit_test(host_mismatch),
        cmocka_unit_test(ip_address_checked),
        cmocka_unit_test(plain_tcp_garbage),
        cmocka_unit_test(tls12_client_rejected),
        cmocka_unit_test(tls12_allowed_when_configured),
        cmocka_unit_test(server_close_notify),
        cmocka_unit_test(server_abrupt_close),
        cmocka_unit_test(mutual_tls),
        cmocka_unit_test(close_inside_read),
        cmocka_unit_test(pause_and_resume),
        cmocka_unit_test(writes_gathered),
        cmocka_unit_test(write_from_timer),
        cmocka_unit_test(connection_refused),
        cmocka_unit_test(bad_config),
    };
    return cmocka_run_group_tests(tests, make_certs, remove_certs);
}
