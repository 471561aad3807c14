/*
 * tls_stream.h - TLS over a libuv TCP handle, with OpenSSL driven through
 * memory BIOs. Used by both peers: concordd accepts, libconcord and the
 * gateway connect.
 *
 * The stream owns its uv_tcp_t. The owner embeds a tls_stream in its own
 * connection struct and gets back to it with container_of (or s->data). All
 * calls happen on the loop thread. The memory holding the stream may be freed
 * only in ops->on_close, never in another callback.
 *
 * Lifecycle: init -> accept | connect -> handshake (on_handshake) -> on_read /
 * write ... -> on_error (peer closed or failure) -> tls_stream_close ->
 * on_close.
 *
 * libuv writes with plain write(2), so a process using this module must
 * ignore SIGPIPE (signal(SIGPIPE, SIG_IGN)); a write to a socket the peer
 * closed then fails with EPIPE and is reported through on_error.
 */
#ifndef TLS_STREAM_H
#define TLS_STREAM_H

#include "cc_error.h"
#include <openssl/ssl.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct tls_stream tls_stream;

typedef struct tls_stream_ops {
    /** The handshake finished (status 0) or failed (negative CC_E*). On failure
     *  the owner calls tls_stream_close. */
    void (*on_handshake)(tls_stream *s, int status);
    /** Decrypted application bytes, borrowed until the callback returns. */
    void (*on_read)(tls_stream *s, const uint8_t *data, size_t len);
    /** The peer closed (CC_EEOF, with or without close_notify) or an I/O or
     *  TLS error happened; no more reads will come. The owner calls
     *  tls_stream_close. */
    void (*on_error)(tls_stream *s, int err);
    /** Optional: the write queue fell to zero bytes pending. */
    void (*on_drain)(tls_stream *s);
    /** The handle is closed; the owner may free the stream's memory now. */
    void (*on_close)(tls_stream *s);
} tls_stream_ops;

struct tls_stream {
    uv_tcp_t tcp;             /* the socket; tcp.data points to this stream */
    uv_connect_t connect_req; /* used by tls_stream_connect */
    SSL *ssl;
    BIO *rbio; /* network -> OpenSSL (ciphertext we read) */
    BIO *wbio; /* OpenSSL -> network (ciphertext to write) */
    const tls_stream_ops *ops;
    void *data;           /* the owner's pointer */
    size_t write_pending; /* ciphertext bytes handed to uv_write, not yet done */
    uint8_t *out;         /* plaintext written and not yet encrypted (see tls_stream_write) */
    size_t out_len, out_cap;
    int peer_closed; /* close_notify or EOF seen */
    int handshake_done;
    int closing;        /* tls_stream_close called */
    int reading;        /* uv_read_start active */
    int error_reported; /* on_error already called */
    /* Private state below; the owner only reads reason through tls_stream_reason. */
    uv_timer_t timer;           /* deferred read after a resume; bound on a graceful close */
    uv_prepare_t batch;         /* encrypts and sends out before the loop next waits */
    uv_shutdown_t shutdown_req; /* graceful close: FIN once the queued writes are out */
    int connected;              /* the socket is open (accepted or connected) */
    int paused;                 /* the owner paused reading */
    int tcp_eof;                /* the socket reported EOF */
    int failed;                 /* fatal TLS error seen: no close_notify may follow */
    int handles_open;           /* handles still to close after tls_stream_close */
    int in_drive;               /* inside the read loop (guards re-entry from callbacks) */
    int send_error;             /* a send failed (CC_E*); on_error follows from the loop */
    int bios_trimmed;           /* the handshake's BIO buffers were given back */
    char reason[192];           /* why the connection or handshake failed, for people */
};

/** Settings for tls_server_ctx_new / tls_client_ctx_new. */
typedef struct tls_config {
    const char *cert_file;   /* PEM certificate chain (server; client for mutual TLS) */
    const char *key_file;    /* PEM private key */
    const char *ca_file;     /* server: CA for client certificates (mutual TLS);
                                client: CA that signed the server (NULL: system store) */
    int min_version;         /* TLS1_3_VERSION (default when 0) or TLS1_2_VERSION */
    int require_client_cert; /* server: demand and verify a client certificate */
} tls_config;

/**
 * Creates a server context: TLS 1.3 (or 1.2 with AEAD ciphers only when
 * min_version says so), no renegotiation, no compression, no session tickets
 * and no session cache (no client resumes). On failure returns NULL and writes
 * a reason to err.
 */
SSL_CTX *tls_server_ctx_new(const tls_config *c, char *err, size_t errlen);
/**
 * Creates a client context that verifies the server certificate against
 * ca_file (or the system store). Verification is never off.
 */
SSL_CTX *tls_client_ctx_new(const tls_config *c, char *err, size_t errlen);

/**
 * uv_tcp_init + SSL_new. ops and data are the owner's. Returns 0 or CC_E*.
 * On failure nothing was registered with the loop and the memory may be freed
 * at once; after success the stream must be closed with tls_stream_close and
 * freed only in on_close (also when accept or connect fails).
 */
int tls_stream_init(tls_stream *s, uv_loop_t *loop, SSL_CTX *ctx, const tls_stream_ops *ops,
                    void *data) CC_MUST_CHECK;
/** Server side: uv_accept from listener, then read and drive the handshake. */
int tls_stream_accept(tls_stream *s, uv_stream_t *listener) CC_MUST_CHECK;
/**
 * Client side: connect to addr, set SNI and check the certificate's host name
 * against verify_host (required, never skipped), then handshake.
 */
int tls_stream_connect(tls_stream *s, const struct sockaddr *addr,
                       const char *verify_host) CC_MUST_CHECK;
/**
 * Queues len plaintext bytes (copied) for sending. Writes made while the loop
 * runs its callbacks are gathered and go out together, as one TLS record and
 * one system call per 16 KiB, just before the loop next waits for I/O (a
 * prepare handle), so a connection that carries many calls or replies in one
 * loop turn pays for one record and one write instead of one each. A write
 * made from inside another prepare callback waits for the loop's next wake-up
 * (libuv runs the prepare handles that were active when the phase began); call
 * tls_stream_flush there. Data written before the handshake finished is sent
 * once it has. Returns 0 or CC_E*. A failure to send is reported through
 * on_error from the loop (also when this call returned it), and later writes
 * fail with CC_ECLOSED.
 */
int tls_stream_write(tls_stream *s, const uint8_t *data, size_t len) CC_MUST_CHECK;
/**
 * Sends what tls_stream_write gathered now, for code that writes outside the
 * loop's callbacks and does not run the loop right after (a blocking client
 * that returns to its caller). Returns 0 or CC_E*, reported as tls_stream_write
 * reports it; before the handshake there is nothing to send yet.
 */
int tls_stream_flush(tls_stream *s);
/** Bytes queued and not yet written to the socket (back-pressure): ciphertext
 *  handed to the socket plus plaintext gathered for the next record. */
size_t tls_stream_pending(const tls_stream *s);
/**
 * Pauses reading (back-pressure): no on_read until tls_stream_read_resume,
 * which delivers what was already received from the loop, never from inside
 * its own call.
 */
void tls_stream_read_pause(tls_stream *s);
void tls_stream_read_resume(tls_stream *s);
/**
 * Closes the stream: sends close_notify when graceful and the handshake is
 * done (best effort, queued writes are flushed first, for at most 5 seconds
 * when the peer stops reading), then closes the handle. ops->on_close
 * follows; no other callback runs after this call. Safe to call more than
 * once, also from inside any callback.
 */
void tls_stream_close(tls_stream *s, int graceful);
/** The peer's IP address as text ("127.0.0.1"), written into buf. */
void tls_stream_peer_addr(const tls_stream *s, char *buf, size_t len);
/**
 * Why the connection or handshake failed, for people ("connection refused",
 * "certificate verify failed: hostname mismatch"); "" when nothing failed.
 * Valid until the stream is freed. With a failed tls_stream_connect the
 * on_handshake status is CC_EIO when the TCP connection could not be made and
 * CC_ETLS when the TLS handshake failed.
 */
const char *tls_stream_reason(const tls_stream *s);

#endif
