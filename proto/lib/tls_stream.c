/*
 * tls_stream.c - TLS over a libuv TCP handle, with OpenSSL driven through a
 * pair of memory BIOs.
 *
 * Data flow: ciphertext read from the socket is appended to rbio, then
 * SSL_do_handshake / SSL_read run until OpenSSL wants more input; whatever
 * OpenSSL produced in wbio (handshake records, alerts, application records,
 * close_notify) is moved to the socket by flush(), one uv_write request with
 * its own buffer per flush.
 *
 * Writes are gathered: tls_stream_write appends plaintext to out, and the
 * batch prepare handle encrypts all of it and flushes it once per loop turn,
 * just before the loop waits for I/O. Replies or calls written in the same
 * turn thus share one TLS record (up to 16 KiB) and one write(2). In each turn
 * libuv runs timers, idle and prepare handles, then waits for I/O and runs the
 * I/O callbacks, then check and close callbacks; a write made in any of those
 * is sent by the next prepare phase, before the loop waits again. (A write
 * made from another prepare callback is the exception: see tls_stream.h.)
 * Code that writes outside the loop calls tls_stream_flush.
 *
 * Invariants:
 *  - Once closing is set no owner callback other than on_close runs, and no
 *    SSL call other than the close_notify in tls_stream_close is made. Every
 *    function that calls back into the owner re-checks closing afterwards,
 *    because the owner may close the stream from inside any callback.
 *  - on_handshake runs at most once. After a failed handshake (or after
 *    on_error) error_reported is set and on_error does not follow, so the
 *    owner sees exactly one failure.
 *  - write_pending counts ciphertext bytes handed to uv_write whose callback
 *    has not run yet; on_drain runs when it falls back to zero.
 *  - The SSL object (and its BIOs) is freed only after both handles are
 *    closed, just before on_close; write callbacks run before close callbacks
 *    in libuv, so none of them sees a freed stream.
 *  - out holds plaintext in the order it was written; it is encrypted before
 *    anything written after it. Plaintext written before the handshake
 *    finished waits in out and is encrypted right after the handshake, before
 *    on_handshake runs. A graceful close encrypts out before close_notify.
 *  - The batch handle is active exactly while out holds data to send after
 *    the handshake; out is freed once sent, so an idle stream holds no buffer.
 *  - A failed send (send_error) is returned to the writer and also reported
 *    through on_error from the batch handle, never from inside the owner's
 *    own call; no write is accepted after it.
 *  - A memory BIO keeps the largest buffer it ever needed. Once emptied after
 *    the handshake, a BIO whose buffer is larger than TLS_BIO_KEEP_IDLE (the
 *    handshake's flights) is replaced by a new, empty one, so that an idle
 *    connection holds about a kilobyte less; later, only a buffer larger than
 *    TLS_BIO_KEEP (left by a large call or reply) is, so that ordinary calls
 *    do not pay for a new BIO each.
 */
#include "tls_stream.h"
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long a graceful close waits for queued writes before cutting the socket. */
#define TLS_CLOSE_LINGER_MS 5000
/* Size of the read buffer handed to libuv and of one SSL_read chunk. */
#define TLS_READ_CHUNK (64 * 1024)
#define TLS_PLAIN_CHUNK (16 * 1024)
/* Gathered plaintext is sent at once when it reaches one full TLS record. */
#define TLS_BATCH_MAX (16 * 1024)
/* Emptied memory BIOs with larger buffers are replaced: once after the handshake, then always. */
#define TLS_BIO_KEEP_IDLE 1024
#define TLS_BIO_KEEP (32 * 1024)

static const char tls12_ciphers[] = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
                                    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
                                    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";

/* One flush: the libuv request and the ciphertext it carries. */
typedef struct tls_write_req {
    uv_write_t req;
    tls_stream *s;
    size_t len;
    uint8_t data[];
} tls_write_req;

static void drive(tls_stream *s);

/* ---- contexts ------------------------------------------------------------ */

/* Writes "what: <OpenSSL reason>" into err and empties the error queue. */
static void ssl_err(char *err, size_t errlen, const char *what, const char *file)
{
    /* The first error is the cause (a missing file); later ones only add context. */
    unsigned long e = ERR_peek_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    if (e != 0 && ERR_SYSTEM_ERROR(e))
        why = strerror(ERR_GET_REASON(e));
    if (err != NULL && errlen > 0) {
        if (file != NULL)
            snprintf(err, errlen, "%s %s: %s", what, file, why ? why : "unknown error");
        else
            snprintf(err, errlen, "%s: %s", what, why ? why : "unknown error");
    }
    ERR_clear_error();
}

/* Applies the settings both sides share: versions, ciphers, options. */
static int ctx_common(SSL_CTX *ctx, const tls_config *c, char *err, size_t errlen)
{
    int min = c->min_version ? c->min_version : TLS1_3_VERSION;
    if (min != TLS1_3_VERSION && min != TLS1_2_VERSION) {
        snprintf(err, errlen, "unsupported minimum TLS version 0x%x (TLS 1.2 or 1.3 only)", min);
        return CC_ECONFIG;
    }
    if (SSL_CTX_set_min_proto_version(ctx, min) != 1) {
        ssl_err(err, errlen, "cannot set the minimum TLS version", NULL);
        return CC_ETLS;
    }
    /* TLS 1.3 suites are all AEAD; TLS 1.2 is held to forward-secret AEAD ones. */
    if (min == TLS1_2_VERSION && SSL_CTX_set_cipher_list(ctx, tls12_ciphers) != 1) {
        ssl_err(err, errlen, "cannot set the TLS 1.2 cipher list", NULL);
        return CC_ETLS;
    }
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION);
    /* Idle connections keep no record buffers (about 34 KiB each otherwise). */
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
    return 0;
}

/* Loads a certificate chain and its key and checks that they belong together. */
static int ctx_load_cert(SSL_CTX *ctx, const tls_config *c, char *err, size_t errlen)
{
    if (SSL_CTX_use_certificate_chain_file(ctx, c->cert_file) != 1) {
        ssl_err(err, errlen, "cannot load certificate chain from", c->cert_file);
        return CC_ECONFIG;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, c->key_file, SSL_FILETYPE_PEM) != 1) {
        ssl_err(err, errlen, "cannot load private key from", c->key_file);
        return CC_ECONFIG;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ssl_err(err, errlen, "private key does not match certificate", c->cert_file);
        return CC_ECONFIG;
    }
    return 0;
}

SSL_CTX *tls_server_ctx_new(const tls_config *c, char *err, size_t errlen)
{
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (c == NULL || c->cert_file == NULL || c->key_file == NULL) {
        snprintf(err, errlen, "a server needs a certificate and a private key");
        return NULL;
    }
    if (c->require_client_cert && c->ca_file == NULL) {
        snprintf(err, errlen, "requiring client certificates needs a CA file to check them");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        ssl_err(err, errlen, "cannot create TLS context", NULL);
        return NULL;
    }
    if (ctx_common(ctx, c, err, errlen) < 0 || ctx_load_cert(ctx, c, err, errlen) < 0)
        goto fail;
    /* The client's cipher order is ignored: ours lists the strongest first. */
    SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
    /*
     * No session resumption: Concord's clients never resume (each CLI run and
     * each gateway connection makes a full handshake), so session tickets and
     * the server's session cache would only cost two tickets' encryption and
     * records per handshake.
     */
    SSL_CTX_set_num_tickets(ctx, 0);
    SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET);
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    if (c->ca_file != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
            ssl_err(err, errlen, "cannot load CA file", c->ca_file);
            goto fail;
        }
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(c->ca_file);
        if (names == NULL) {
            ssl_err(err, errlen, "cannot read CA names from", c->ca_file);
            goto fail;
        }
        SSL_CTX_set_client_CA_list(ctx, names);
        int mode = SSL_VERIFY_PEER;
        if (c->require_client_cert)
            mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
        SSL_CTX_set_verify(ctx, mode, NULL);
    }
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

SSL_CTX *tls_client_ctx_new(const tls_config *c, char *err, size_t errlen)
{
    static const tls_config none;
    char dummy[1];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (c == NULL)
        c = &none;
    if ((c->cert_file == NULL) != (c->key_file == NULL)) {
        snprintf(err, errlen, "a client certificate needs its key, and a key its certificate");
        return NULL;
    }
    ERR_clear_error();
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        ssl_err(err, errlen, "cannot create TLS context", NULL);
        return NULL;
    }
    if (ctx_common(ctx, c, err, errlen) < 0)
        goto fail;
    if (c->ca_file != NULL) {
        if (SSL_CTX_load_verify_locations(ctx, c->ca_file, NULL) != 1) {
            ssl_err(err, errlen, "cannot load CA file", c->ca_file);
            goto fail;
        }
    } else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
        ssl_err(err, errlen, "cannot load the system certificate store", NULL);
        goto fail;
    }
    if (c->cert_file != NULL && ctx_load_cert(ctx, c, err, errlen) < 0)
        goto fail;
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    return ctx;
fail:
    SSL_CTX_free(ctx);
    return NULL;
}

/* ---- helpers ------------------------------------------------------------- */

/* Records why the last SSL call failed, preferring the certificate check result. */
static void set_ssl_reason(tls_stream *s, const char *fallback)
{
    unsigned long e = ERR_peek_last_error();
    const char *why = e ? ERR_reason_error_string(e) : NULL;
    long v = s->ssl ? SSL_get_verify_result(s->ssl) : X509_V_OK;
    if (v != X509_V_OK)
        snprintf(s->reason, sizeof(s->reason), "%s: %s", why ? why : "certificate verify failed",
                 X509_verify_cert_error_string(v));
    else
        snprintf(s->reason, sizeof(s->reason), "%s", why ? why : fallback);
    ERR_clear_error();
}

static void set_reason(tls_stream *s, const char *why)
{
    snprintf(s->reason, sizeof(s->reason), "%s", why);
}

static void stop_reading(tls_stream *s)
{
    if (s->reading) {
        uv_read_stop((uv_stream_t *)&s->tcp);
        s->reading = 0;
    }
}

/* Reports a failed handshake once; no on_error follows. */
static void handshake_failed(tls_stream *s, int err)
{
    if (s->closing || s->error_reported)
        return;
    s->error_reported = 1;
    stop_reading(s);
    s->ops->on_handshake(s, err);
}

/* Reports the end of the stream (EOF or error) once. */
static void report_error(tls_stream *s, int err)
{
    if (s->closing || s->error_reported)
        return;
    s->error_reported = 1;
    stop_reading(s);
    s->ops->on_error(s, err);
}

static void on_write(uv_write_t *req, int status)
{
    tls_write_req *w = container_of(req, tls_write_req, req);
    tls_stream *s = w->s;
    s->write_pending -= w->len;
    free(w);
    if (s->closing)
        return;
    if (status < 0) {
        set_reason(s, uv_strerror(status));
        report_error(s, status == UV_EPIPE || status == UV_ECONNRESET ? CC_EEOF : CC_EIO);
        return;
    }
    if (s->write_pending == 0 && s->out_len == 0 && s->ops->on_drain != NULL)
        s->ops->on_drain(s);
}

/* True when bio holds no data and its buffer is larger than keep bytes. */
static int bio_oversized(BIO *bio, size_t keep)
{
    BUF_MEM *bm = NULL;
    if (BIO_ctrl_pending(bio) != 0 || BIO_get_mem_ptr(bio, &bm) != 1 || bm == NULL)
        return 0;
    return bm->max > keep;
}

/* A new, empty memory BIO to put in place of bio when bio is emptied and holds a
 * buffer larger than keep bytes; NULL to keep bio. */
static BIO *bio_replacement(BIO *bio, size_t keep)
{
    return bio_oversized(bio, keep) ? BIO_new(BIO_s_mem()) : NULL;
}

/* Replaces emptied, oversized memory BIOs (see the invariants above). */
static void shrink_bios(tls_stream *s)
{
    size_t keep = s->bios_trimmed ? TLS_BIO_KEEP : TLS_BIO_KEEP_IDLE;
    s->bios_trimmed = 1;
    BIO *b = bio_replacement(s->rbio, keep);
    if (b != NULL) {
        SSL_set0_rbio(s->ssl, b); /* frees the old one */
        s->rbio = b;
    }
    b = bio_replacement(s->wbio, keep);
    if (b != NULL) {
        SSL_set0_wbio(s->ssl, b);
        s->wbio = b;
    }
}

/* Moves everything OpenSSL produced to the socket. Returns 0 or CC_E*. */
static int flush(tls_stream *s)
{
    if (!s->connected)
        return 0;
    for (;;) {
        size_t n = BIO_ctrl_pending(s->wbio);
        if (n == 0)
            return 0;
        tls_write_req *w = malloc(sizeof(*w) + n);
        if (w == NULL)
            return CC_ENOMEM;
        int got = BIO_read(s->wbio, w->data, (int)(n > INT32_MAX ? INT32_MAX : n));
        if (got <= 0) {
            free(w);
            return CC_ETLS;
        }
        w->s = s;
        w->len = (size_t)got;
        uv_buf_t b = uv_buf_init((char *)w->data, (unsigned)w->len);
        int rc = uv_write(&w->req, (uv_stream_t *)&s->tcp, &b, 1, on_write);
        if (rc < 0) {
            free(w);
            set_reason(s, uv_strerror(rc));
            return CC_EIO;
        }
        s->write_pending += w->len;
    }
}

/* Encrypts plaintext into wbio (the memory BIO never blocks) and flushes it. */
static int encrypt_and_flush(tls_stream *s, const uint8_t *data, size_t len)
{
    while (len > 0) {
        size_t chunk = len > INT32_MAX ? INT32_MAX : len;
        size_t done = 0;
        ERR_clear_error();
        if (SSL_write_ex(s->ssl, data, chunk, &done) != 1) {
            set_ssl_reason(s, "TLS write failed");
            s->failed = 1;
            return CC_ETLS;
        }
        data += done;
        len -= done;
    }
    int rc = flush(s);
    if (rc == 0)
        shrink_bios(s);
    return rc;
}

/* Drops the gathered plaintext and its buffer, and stops the batch handle. */
static void out_clear(tls_stream *s)
{
    uv_prepare_stop(&s->batch);
    free(s->out);
    s->out = NULL;
    s->out_len = 0;
    s->out_cap = 0;
}

/* Encrypts and sends the plaintext gathered in out. Returns 0 or CC_E*. */
static int send_out(tls_stream *s)
{
    int rc = s->out_len > 0 ? encrypt_and_flush(s, s->out, s->out_len) : 0;
    out_clear(s);
    return rc;
}

static void on_batch(uv_prepare_t *h)
{
    tls_stream *s = h->data;
    uv_prepare_stop(h);
    int rc = s->send_error;
    if (rc == 0)
        rc = send_out(s);
    if (rc < 0)
        report_error(s, rc);
}

/* Remembers a failed send and has the batch handle report it from the loop. Returns rc. */
static int send_failed(tls_stream *s, int rc)
{
    if (s->send_error == 0)
        s->send_error = rc;
    uv_prepare_start(&s->batch, on_batch);
    return rc;
}

static int out_append(tls_stream *s, const uint8_t *data, size_t len)
{
    if (s->out_len + len > s->out_cap) {
        size_t cap = s->out_cap ? s->out_cap : 1024;
        while (cap < s->out_len + len)
            cap *= 2;
        uint8_t *p = realloc(s->out, cap);
        if (p == NULL)
            return CC_ENOMEM;
        s->out = p;
        s->out_cap = cap;
    }
    memcpy(s->out + s->out_len, data, len);
    s->out_len += len;
    return 0;
}

/* ---- reading ------------------------------------------------------------- */

/* Runs the handshake; returns 1 when it is done and the stream may read on. */
static int drive_handshake(tls_stream *s)
{
    ERR_clear_error();
    int r = SSL_do_handshake(s->ssl);
    if (r != 1) {
        int e = SSL_get_error(s->ssl, r);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            if (flush(s) < 0) {
                handshake_failed(s, CC_EIO);
                return 0;
            }
            if (s->tcp_eof) {
                set_reason(s, "connection closed during the TLS handshake");
                handshake_failed(s, CC_EEOF);
            }
            return 0;
        }
        set_ssl_reason(s, "TLS handshake failed");
        s->failed = 1;
        /* Send the alert so the peer learns why; the result does not matter now. */
        (void)flush(s);
        handshake_failed(s, CC_ETLS);
        return 0;
    }
    s->handshake_done = 1;
    int rc = flush(s);
    if (rc == 0)
        rc = send_out(s);
    if (rc < 0) {
        handshake_failed(s, rc);
        return 0;
    }
    s->ops->on_handshake(s, 0);
    return !s->closing;
}

/* Processes whatever ciphertext rbio holds: handshake, then application data. */
static void drive(tls_stream *s)
{
    if (s->closing || s->error_reported || s->in_drive)
        return;
    if (!s->handshake_done && !drive_handshake(s))
        return;
    s->in_drive = 1;
    uint8_t buf[TLS_PLAIN_CHUNK];
    while (!s->closing && !s->paused && !s->error_reported) {
        size_t n = 0;
        ERR_clear_error();
        if (SSL_read_ex(s->ssl, buf, sizeof(buf), &n) == 1) {
            s->ops->on_read(s, buf, n);
            continue;
        }
        int e = SSL_get_error(s->ssl, 0);
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            /* Everything buffered is consumed; a socket EOF now ends the stream. */
            if (s->tcp_eof) {
                set_reason(s, "connection closed by peer");
                report_error(s, CC_EEOF);
            }
            break;
        }
        if (e == SSL_ERROR_ZERO_RETURN) {
            s->peer_closed = 1;
            set_reason(s, "connection closed by peer");
            report_error(s, CC_EEOF);
            break;
        }
        set_ssl_reason(s, "TLS read failed");
        s->failed = 1;
        (void)flush(s);
        report_error(s, CC_ETLS);
        break;
    }
    s->in_drive = 0;
    /* Reads can produce records too (key updates, session tickets, alerts). */
    if (!s->closing && flush(s) < 0)
        report_error(s, CC_EIO);
    if (!s->closing && s->handshake_done)
        shrink_bios(s);
}

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    char *p = malloc(TLS_READ_CHUNK);
    *buf = uv_buf_init(p, p ? TLS_READ_CHUNK : 0);
}

static void on_tcp_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    tls_stream *s = stream->data;
    if (nread > 0 && !s->closing) {
        ERR_clear_error();
        if (BIO_write(s->rbio, buf->base, (int)nread) != (int)nread) {
            free(buf->base);
            set_reason(s, "out of memory");
            if (s->handshake_done)
                report_error(s, CC_ENOMEM);
            else
                handshake_failed(s, CC_ENOMEM);
            return;
        }
        free(buf->base);
        drive(s);
        return;
    }
    free(buf->base);
    if (nread == 0 || s->closing)
        return;
    if (nread == UV_ENOBUFS) {
        set_reason(s, "out of memory");
        if (s->handshake_done)
            report_error(s, CC_ENOMEM);
        else
            handshake_failed(s, CC_ENOMEM);
        return;
    }
    /* EOF or a socket error: no more input. Data already buffered is still delivered. */
    stop_reading(s);
    s->tcp_eof = 1;
    if (nread != UV_EOF) {
        set_reason(s, uv_strerror((int)nread));
        if (s->handshake_done)
            report_error(s, nread == UV_ECONNRESET ? CC_EEOF : CC_EIO);
        else
            handshake_failed(s, CC_EIO);
        return;
    }
    drive(s);
}

static int start_reading(tls_stream *s)
{
    if (s->reading || s->paused || s->tcp_eof || s->closing || s->error_reported)
        return 0;
    int rc = uv_read_start((uv_stream_t *)&s->tcp, on_alloc, on_tcp_read);
    if (rc < 0) {
        set_reason(s, uv_strerror(rc));
        return CC_EIO;
    }
    s->reading = 1;
    return 0;
}

/* ---- lifecycle ----------------------------------------------------------- */

int tls_stream_init(tls_stream *s, uv_loop_t *loop, SSL_CTX *ctx, const tls_stream_ops *ops,
                    void *data)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    s->data = data;
    ERR_clear_error();
    s->ssl = SSL_new(ctx);
    s->rbio = BIO_new(BIO_s_mem());
    s->wbio = BIO_new(BIO_s_mem());
    if (s->ssl == NULL || s->rbio == NULL || s->wbio == NULL)
        goto fail;
    SSL_set_bio(s->ssl, s->rbio, s->wbio); /* the SSL object owns both BIOs now */
    /* Both handles are initialised only after everything that can fail. */
    if (uv_tcp_init(loop, &s->tcp) < 0)
        goto fail_ssl;
    s->tcp.data = s;
    uv_timer_init(loop, &s->timer);
    s->timer.data = s;
    uv_prepare_init(loop, &s->batch);
    s->batch.data = s;
    return 0;
fail:
    BIO_free(s->rbio);
    BIO_free(s->wbio);
fail_ssl:
    SSL_free(s->ssl);
    ERR_clear_error();
    memset(s, 0, sizeof(*s));
    return CC_ENOMEM;
}

int tls_stream_accept(tls_stream *s, uv_stream_t *listener)
{
    int rc = uv_accept(listener, (uv_stream_t *)&s->tcp);
    if (rc < 0) {
        set_reason(s, uv_strerror(rc));
        return CC_EIO;
    }
    s->connected = 1;
    uv_tcp_nodelay(&s->tcp, 1);
    SSL_set_accept_state(s->ssl);
    return start_reading(s);
}

static void on_connect(uv_connect_t *req, int status)
{
    tls_stream *s = container_of(req, tls_stream, connect_req);
    if (s->closing)
        return;
    if (status < 0) {
        set_reason(s, uv_strerror(status));
        handshake_failed(s, CC_EIO);
        return;
    }
    s->connected = 1;
    uv_tcp_nodelay(&s->tcp, 1);
    if (start_reading(s) < 0) {
        handshake_failed(s, CC_EIO);
        return;
    }
    drive(s); /* sends the ClientHello */
}

static int is_ip_literal(const char *host)
{
    unsigned char tmp[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, tmp) == 1 || inet_pton(AF_INET6, host, tmp) == 1;
}

int tls_stream_connect(tls_stream *s, const struct sockaddr *addr, const char *verify_host)
{
    if (addr == NULL || verify_host == NULL || verify_host[0] == '\0')
        return CC_EINVAL;
    ERR_clear_error();
    SSL_set_connect_state(s->ssl);
    if (is_ip_literal(verify_host)) {
        /* SNI carries host names only; an address is checked against the IP SANs. */
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s->ssl), verify_host) != 1)
            goto fail;
    } else {
        SSL_set_hostflags(s->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set_tlsext_host_name(s->ssl, verify_host) != 1 ||
            SSL_set1_host(s->ssl, verify_host) != 1)
            goto fail;
    }
    int rc = uv_tcp_connect(&s->connect_req, &s->tcp, addr, on_connect);
    if (rc < 0) {
        set_reason(s, uv_strerror(rc));
        return CC_EIO;
    }
    return 0;
fail:
    set_ssl_reason(s, "invalid server name");
    return CC_EINVAL;
}

int tls_stream_write(tls_stream *s, const uint8_t *data, size_t len)
{
    if (s->closing || s->error_reported || s->failed || s->send_error)
        return CC_ECLOSED;
    if (len == 0)
        return 0;
    if (s->handshake_done && len >= TLS_BATCH_MAX) {
        /* Large enough for records of its own: no copy. */
        int rc = send_out(s);
        if (rc == 0)
            rc = encrypt_and_flush(s, data, len);
        return rc < 0 ? send_failed(s, rc) : 0;
    }
    int rc = out_append(s, data, len);
    if (rc < 0 || !s->handshake_done)
        return rc;
    if (s->out_len >= TLS_BATCH_MAX) {
        rc = send_out(s);
        return rc < 0 ? send_failed(s, rc) : 0;
    }
    uv_prepare_start(&s->batch, on_batch);
    return 0;
}

int tls_stream_flush(tls_stream *s)
{
    if (s->closing || s->error_reported || s->failed || s->send_error || !s->handshake_done)
        return 0;
    int rc = send_out(s);
    return rc < 0 ? send_failed(s, rc) : 0;
}

size_t tls_stream_pending(const tls_stream *s)
{
    return s->write_pending + s->out_len;
}

void tls_stream_read_pause(tls_stream *s)
{
    s->paused = 1;
    stop_reading(s);
}

static void on_kick(uv_timer_t *t)
{
    tls_stream *s = t->data;
    drive(s);
}

void tls_stream_read_resume(tls_stream *s)
{
    if (!s->paused)
        return;
    s->paused = 0;
    if (s->closing || s->error_reported || !s->connected)
        return;
    if (start_reading(s) < 0) {
        /* Reported from the loop, not from inside the owner's call. */
        s->tcp_eof = 1;
    }
    /*
     * Records already decrypted or buffered while paused are delivered from
     * the loop rather than from inside this call, so the owner never sees
     * on_read nested in its own call.
     */
    uv_timer_start(&s->timer, on_kick, 0, 0);
}

static void on_handle_closed(uv_handle_t *h)
{
    tls_stream *s = h->data;
    if (--s->handles_open > 0)
        return;
    SSL_free(s->ssl); /* frees rbio and wbio as well */
    s->ssl = NULL;
    s->rbio = NULL;
    s->wbio = NULL;
    s->ops->on_close(s);
}

static void close_handles(tls_stream *s)
{
    if (s->handles_open > 0 || uv_is_closing((uv_handle_t *)&s->tcp))
        return;
    s->handles_open = 3;
    uv_close((uv_handle_t *)&s->tcp, on_handle_closed);
    uv_close((uv_handle_t *)&s->timer, on_handle_closed);
    uv_close((uv_handle_t *)&s->batch, on_handle_closed);
}

static void on_shutdown(uv_shutdown_t *req, int status)
{
    tls_stream *s = container_of(req, tls_stream, shutdown_req);
    close_handles(s);
}

static void on_linger_timeout(uv_timer_t *t)
{
    close_handles(t->data);
}

void tls_stream_close(tls_stream *s, int graceful)
{
    if (s->closing)
        return;
    s->closing = 1;
    stop_reading(s);
    uv_timer_stop(&s->timer);
    if (graceful && s->connected && s->handshake_done && !s->failed) {
        (void)send_out(s); /* what was written goes out before close_notify */
        ERR_clear_error();
        (void)SSL_shutdown(s->ssl); /* queues close_notify; the peer's is not awaited */
        ERR_clear_error();
        (void)flush(s);
    }
    out_clear(s);
    if (graceful && s->connected && s->write_pending > 0 &&
        uv_shutdown(&s->shutdown_req, (uv_stream_t *)&s->tcp, on_shutdown) == 0) {
        /* Let queued writes go out, but not forever if the peer stops reading. */
        uv_timer_start(&s->timer, on_linger_timeout, TLS_CLOSE_LINGER_MS, 0);
        return;
    }
    close_handles(s);
}

void tls_stream_peer_addr(const tls_stream *s, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    int n = sizeof(ss);
    if (len == 0)
        return;
    buf[0] = '\0';
    if (uv_tcp_getpeername(&s->tcp, (struct sockaddr *)&ss, &n) != 0) {
        snprintf(buf, len, "unknown");
        return;
    }
    if (ss.ss_family == AF_INET6)
        uv_ip6_name((const struct sockaddr_in6 *)&ss, buf, len);
    else if (ss.ss_family == AF_INET)
        uv_ip4_name((const struct sockaddr_in *)&ss, buf, len);
    else
        snprintf(buf, len, "unknown");
}

const char *tls_stream_reason(const tls_stream *s)
{
    return s->reason;
}
