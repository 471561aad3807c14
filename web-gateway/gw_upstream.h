/*
 * gw_upstream.h - the gateway's pool of connections to concordd.
 *
 * A few TLS connections (libconcord's asynchronous cc_client on the
 * gateway's loop) each carry many calls at once. A call goes to the first
 * ready connection that is not full, so that calls made together travel
 * together; the spare connections open only when the first ones are full.
 * Dead connections reconnect on their own with exponential backoff.
 */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <stddef.h>
#include <uv.h>
#include "concord_client.h"

typedef struct gw_upstream gw_upstream;

/**
 * Creates a pool of up to n connections on loop with options o (copied); the
 * first starts connecting on the loop's first turn, so from the thread that
 * runs it, the others when calls need them. thread
 * names the event-loop thread in log lines. The pool is used only on loop's
 * thread. Returns 0 or CC_E*.
 */
int gw_upstream_new(uv_loop_t *loop, int thread, const cc_options *o, int n,
                    gw_upstream **out) CC_MUST_CHECK;

/** Number of connections ready for calls right now (0 for NULL). */
int gw_upstream_ready(const gw_upstream *u);

/**
 * 1 when calls can be served: a connection is ready, or the first one is
 * reconnecting after concordd closed it while unused (calls wait for it).
 */
int gw_upstream_healthy(const gw_upstream *u);

/**
 * With no ready connection, starts the first connection's retry now instead of
 * at the end of its backoff (as a call would), so that a health check finds
 * concordd again as soon as it is back. Accepts NULL.
 */
void gw_upstream_probe(gw_upstream *u);

/**
 * Sends a call on the first ready connection that is not full, or the least
 * loaded when all are (arguments as cc_client_call). When no connection is
 * ready, the call (copied) waits for the first connection's connect: the one
 * under way at start or after concordd closed it while unused, or a retry
 * the call starts ahead of the backoff when the last attempt failed at least
 * 100 ms ago. It waits at most until its deadline (then cb gets
 * DEADLINE_EXCEEDED), and the wait counts against deadline_ms. Returns 0, and
 * cb follows exactly once (with c NULL when the call never reached a
 * connection); or CC_ECLOSED when no connection is ready or awaited (or u is
 * NULL, after shutdown), or another CC_E*, and cb is not called.
 */
int gw_upstream_call(gw_upstream *u, const char *method, const uint8_t *payload, size_t len,
                     const char *token, const char *idempotency_key, uint32_t deadline_ms,
                     cc_reply_cb cb, void *ud) CC_MUST_CHECK;

/**
 * Closes every connection (calls in flight end with UNAVAILABLE) and frees
 * the pool once its handles are closed. Accepts NULL.
 */
void gw_upstream_close(gw_upstream *u);

/** Splits "host:port" or "[v6]:port" into host (hostlen bytes) and *port. Returns 0 or CC_EINVAL. */
int gw_split_host_port(const char *s, char *host, size_t hostlen, int *port) CC_MUST_CHECK;

#endif
