/*
 * concord_client.h - libconcord, the client library for concordd.
 *
 * Two layers:
 *  - cc_client: asynchronous, on a libuv loop the caller runs. One TLS
 *    connection, many calls in flight (pipelined), each answered through its
 *    callback. The gateway uses this layer.
 *  - cc_conn: a blocking wrapper with its own private loop, for simple
 *    programs such as the CLI and the benchmarks.
 *
 * Status handling: every call ends with exactly one callback (or return) that
 * carries a cc_status. Transport failures are mapped to UNAVAILABLE (cannot
 * connect, connection lost) or DEADLINE_EXCEEDED (call timeout) so callers
 * handle one kind of outcome.
 *
 * A program using the asynchronous layer must ignore SIGPIPE (see
 * tls_stream.h); cc_connect does so itself when SIGPIPE has its default
 * action.
 */
#ifndef CONCORD_CLIENT_H
#define CONCORD_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>
#include <protobuf-c/protobuf-c.h>
#include "cc_error.h"
#include "cc_status.h"
#include "cc_services.h"

/** Connection settings. Strings are copied by cc_client_new / cc_connect. */
typedef struct cc_options {
    const char *host;           /* server host name or address; default "127.0.0.1" */
    int port;                   /* default 7433 */
    const char *ca_file;        /* CA that signed the server certificate; NULL: system store */
    const char *server_name;    /* name checked against the certificate; default: host */
    const char *cert_file;      /* client certificate for mutual TLS, or NULL */
    const char *key_file;       /* its key, or NULL */
    size_t max_frame;           /* largest reply accepted; default 4 MiB */
    unsigned connect_timeout_ms;/* default 10000 */
    unsigned call_timeout_ms;   /* default deadline of a call; default 30000 */
} cc_options;

/** The outcome of a call. Owned by the library; valid during the callback
 *  (async) or until the next call on the same cc_conn (blocking). */
typedef struct cc_status {
    int code;                           /* cc_code */
    const char *message;                /* never NULL */
    size_t n_violations;
    const Concord__V1__FieldViolation *const *violations;
} cc_status;

/* ---- asynchronous layer ----------------------------------------------- */

typedef struct cc_client cc_client;

/** Connection outcome: status 0 when the TLS handshake finished. */
typedef void (*cc_connect_cb)(cc_client *c, int status, void *ud);
/**
 * A call finished. payload holds the encoded response message when
 * st->code == CC_OK (borrowed until return).
 */
typedef void (*cc_reply_cb)(cc_client *c, const cc_status *st, const uint8_t *payload,
                            size_t len, void *ud);
/** The connection was lost after it had been established (err is CC_E*). */
typedef void (*cc_lost_cb)(cc_client *c, int err, void *ud);
/**
 * A server push on a subscribed topic. All arguments are borrowed until
 * return; payload is the encoded message named by type.
 */
typedef void (*cc_event_cb)(cc_client *c, const char *topic, uint64_t sequence,
                            const char *type, const uint8_t *payload, size_t len, void *ud);

/** Creates a client on loop. Returns 0 or CC_E*. */
int cc_client_new(uv_loop_t *loop, const cc_options *o, cc_client **out) CC_MUST_CHECK;
/**
 * Resolves, connects and handshakes; cb follows exactly once (with CC_ECLOSED
 * when cc_client_close comes first). A non-zero return (CC_ECONFIG for an
 * unusable CA file, certificate or key) means cb will not run;
 * cc_client_error says why. Call it on the thread that runs the client's
 * loop: clients connected from one thread share their TLS context, contexts
 * are not shared between threads.
 */
int cc_client_connect(cc_client *c, cc_connect_cb cb, void *ud) CC_MUST_CHECK;
/**
 * Why connecting failed or the connection was lost, for people, e.g.
 * "cannot connect to 127.0.0.1:7433: connection refused"; "" otherwise.
 */
const char *cc_client_error(const cc_client *c);
/** Registers a callback for a connection lost after connect succeeded. */
void cc_client_on_lost(cc_client *c, cc_lost_cb cb, void *ud);
/** Registers the callback for Event frames; without one they are dropped. */
void cc_client_on_event(cc_client *c, cc_event_cb cb, void *ud);
/** True while connected and usable for new calls. */
int cc_client_ready(const cc_client *c);
/** Number of calls sent and not yet answered. */
size_t cc_client_in_flight(const cc_client *c);
/**
 * Number of calls that were in flight when the connection was lost (they
 * ended with UNAVAILABLE); 0 before a loss. A lost callback tells from it
 * whether the server's close cost any call.
 */
size_t cc_client_lost_calls(const cc_client *c);
/**
 * Sends a call. method is "concord.v1.AccountService/GetAccount"; payload is
 * the encoded request. token and idempotency_key may be NULL. deadline_ms 0
 * uses the default. cb runs exactly once, also when the connection fails
 * (UNAVAILABLE) or the deadline passes (DEADLINE_EXCEEDED). A non-zero
 * return (CC_ECLOSED when not connected, CC_ETOOBIG for a request over
 * max_frame, CC_ENOMEM) means the call was not sent and cb will not run.
 */
int cc_client_call(cc_client *c, const char *method, const uint8_t *payload, size_t len,
                   const char *token, const char *idempotency_key, uint32_t deadline_ms,
                   cc_reply_cb cb, void *ud) CC_MUST_CHECK;
/**
 * Calls made in one turn of the loop go out together just before the loop
 * waits again. Code that makes calls outside the loop and does not run it
 * right away sends them now with this. A failure ends the calls in flight
 * with UNAVAILABLE from the loop, as a lost connection does.
 */
void cc_client_flush(cc_client *c);
/**
 * Closes the connection. Calls still in flight end with UNAVAILABLE
 * ("connection closed"). The client is freed once its handles are closed;
 * the pointer must not be used after this call.
 */
void cc_client_close(cc_client *c);

/* ---- blocking layer --------------------------------------------------- */

typedef struct cc_conn cc_conn;

/**
 * Connects with a private loop. Returns 0 or CC_E*; on failure writes a
 * reason for people to err (may be NULL).
 */
int cc_connect(const cc_options *o, cc_conn **out, char *err, size_t errlen) CC_MUST_CHECK;
/** Sets the token sent with every following call (copied; NULL clears). */
void cc_conn_set_token(cc_conn *c, const char *token);
/** Sets the idempotency key for the next call only (copied). */
void cc_conn_set_idempotency_key(cc_conn *c, const char *key);
/**
 * Calls method with req and waits for the reply. On CC_OK *resp is a new
 * message of resp_desc (free with protobuf_c_message_free_unpacked(resp, NULL)).
 * Returns the status code; *st (optional) describes it until the next call.
 */
int cc_invoke(cc_conn *c, const char *method, const ProtobufCMessage *req,
              const ProtobufCMessageDescriptor *resp_desc, ProtobufCMessage **resp,
              const cc_status **st);
/** Raw form: encoded request in, encoded response out (malloc'ed, caller frees). */
int cc_invoke_raw(cc_conn *c, const char *method, const uint8_t *payload, size_t len,
                  uint8_t **resp, size_t *resp_len, const cc_status **st);
/** Closes and frees. Accepts NULL. */
void cc_conn_free(cc_conn *c);

/*
 * Pipelined calls on a blocking connection (bulk imports): several calls in
 * flight at once, answered through callbacks that run only inside
 * cc_conn_poll (or cc_conn_free, with UNAVAILABLE), never behind the caller's
 * back. The token and the idempotency key are those of cc_invoke.
 */
/**
 * Sends a call and returns at once; payload is copied. cb runs exactly once,
 * from cc_conn_poll, with the status and the encoded response (borrowed
 * until it returns). Reconnects first when the connection was lost and no
 * call is in flight. Returns 0 or CC_E* (CC_ECLOSED: not connected,
 * CC_ETOOBIG, CC_ENOMEM), in which case cb will not run.
 */
int cc_conn_start(cc_conn *c, const char *method, const uint8_t *payload, size_t len,
                  cc_reply_cb cb, void *ud) CC_MUST_CHECK;
/**
 * Runs the connection: with wait, until at least one event happened (a reply,
 * a write finished); without, only what is ready now. Returns the number of
 * calls still in flight.
 */
size_t cc_conn_poll(cc_conn *c, int wait);

#endif
