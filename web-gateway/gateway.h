/*
 * gateway.h - the state of one concord-gateway process, shared by its
 * modules (gw_main.c runs the process, gw_http.c answers requests).
 *
 * The process runs gateway.threads event-loop threads (workers). A gateway
 * holds what every worker reads and nobody changes once the workers run:
 * settings, the h2o configuration, the TLS context, the portal files, the
 * OpenAPI document and the CSRF key. A gw_worker holds what one loop owns and
 * only its own thread touches: the loop, the h2o context, the listener, the
 * pool of connections to concordd, the requests in flight and the access-log
 * buffer.
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <stdatomic.h>
#include <stddef.h>
#include <uv.h>
#include <h2o.h>
#include "gw_config.h"
#include "gw_static.h"
#include "gw_upstream.h"


struct gateway;

typedef struct gw_worker {
    struct gateway *gw;
    int index;
    uv_thread_t thread;
    uv_loop_t loop;
    h2o_context_t h2o_ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    uv_async_t wake;         /* the main thread asks for the drain */
    uv_timer_t drain_timer;  /* bounds the drain */
    uv_timer_t drain_check;  /* ends the drain from outside h2o's callbacks */
    uv_timer_t exit_timer;   /* the grace for the upstream connections to close */
    gw_upstream *upstream;
    size_t in_flight;        /* requests seen by the handler and not yet disposed */
    size_t left_in_flight;   /* requests still in flight when the drain ended */
    int draining;            /* asked to drain: no new connections */
    int timed_out;           /* the drain ended at drain_timeout */
    /* Access log lines not yet written: one write per loop turn (gw_http.c). */
    uv_prepare_t access_flush;
    char access_buf[64 * 1024];
    size_t access_len;
    char access_ts[64];      /* "ts=YYYY-MM-DDTHH:MM:SS." of access_sec */
    long long access_sec;
    /* Finished calls kept with their arena's first block for the next request. */
    struct gw_call *spare_calls;
    size_t n_spare_calls;
} gw_worker;

typedef struct gateway {
    gw_settings cfg;
    h2o_globalconf_t h2o_config;
    SSL_CTX *ssl_ctx;
    gw_static portal;
    char *openapi;           /* the OpenAPI document, compact JSON */
    size_t openapi_len;
    unsigned char csrf_key[64];
    size_t csrf_key_len;
    int access_fd;           /* where access lines go */
    uv_mutex_t access_lock;  /* one worker writes its access lines at a time */
    gw_worker *workers;
    int n_workers;
    /* The main thread's loop: signals and the workers' ends. */
    uv_loop_t *loop;
    uv_signal_t sig_term;
    uv_signal_t sig_int;
    uv_async_t worker_done;
    atomic_int n_done;       /* workers whose loop has ended */
    uv_sem_t park;           /* never posted: finished workers wait on it for the exit */
    int signals;             /* signals received so far */
} gateway;

/**
 * Registers the gateway's handler, filter and logger on gw->h2o_config
 * (access lines go to log_fd). Called once, before the workers exist.
 */
void gw_http_setup(gateway *gw, int log_fd);

/** Starts the access log's flush on the worker's loop. */
void gw_http_worker_setup(gw_worker *w);

/** Writes the worker's access log lines still buffered. */
void gw_http_flush_log(gw_worker *w);

/** Flushes the worker's access log, stops its flush handle and frees its spare calls. */
void gw_http_cleanup(gw_worker *w);

/** Called by gw_http.c on the worker's loop when a request is disposed while draining. */
void gw_main_request_done(gw_worker *w);

#endif
