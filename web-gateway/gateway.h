/*
 * gateway.h - the state of one concord-gateway process, shared by its
 * modules (gw_main.c runs the process, gw_http.c answers requests).
 */
#ifndef GATEWAY_H
#define GATEWAY_H

#include <stddef.h>
#include <uv.h>
#include <h2o.h>
#include "gw_config.h"
#include "gw_static.h"
#include "gw_upstream.h"

typedef struct gateway {
    gw_settings cfg;
    uv_loop_t *loop;
    h2o_globalconf_t h2o_config;
    h2o_context_t h2o_ctx;
    h2o_accept_ctx_t accept_ctx;
    SSL_CTX *ssl_ctx;
    uv_tcp_t listener;
    uv_signal_t sig_term;
    uv_signal_t sig_int;
    uv_timer_t drain_timer;  /* bounds the drain */
    uv_timer_t drain_check;  /* ends the drain from outside h2o's callbacks */
    gw_upstream *upstream;
    gw_static portal;
    char *openapi;           /* the OpenAPI document, compact JSON */
    size_t openapi_len;
    unsigned char csrf_key[64];
    size_t csrf_key_len;
    size_t in_flight;        /* requests seen by the handler and not yet disposed */
    /* Access log lines not yet written: one write per loop turn (gw_http.c). */
    uv_prepare_t access_flush;
    char access_buf[64 * 1024];
    size_t access_len;
    int access_fd;
    char access_ts[64];      /* "ts=YYYY-MM-DDTHH:MM:SS." of access_sec */
    long long access_sec;
    /* Finished calls kept with their arena's first block for the next request. */
    struct gw_call *spare_calls;
    size_t n_spare_calls;
    int draining;            /* SIGTERM received: no new connections */
    int signals;             /* signals received so far */
} gateway;

/**
 * Registers the gateway's handler, filter and logger on gw->h2o_config, and
 * starts the access log's flush on gw->loop (access lines go to log_fd).
 */
void gw_http_setup(gateway *gw, int log_fd);

/** Writes the access log lines still buffered. */
void gw_http_flush_log(gateway *gw);

/** Flushes the access log, stops its flush handle and frees the spare calls. */
void gw_http_cleanup(gateway *gw);

/** Called by gw_http.c when a request is disposed while draining. */
void gw_main_request_done(gateway *gw);

#endif
