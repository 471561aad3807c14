/*
 * gw_route.h - which handler a request path goes to, and the concord.v1
 * method a Connect path names. Pure functions over bytes (a leaf module: no
 * h2o, no logging), so that the HTTP routing is fuzzed on its own
 * (tests/fuzz/fuzz_gateway_route.c).
 */
#ifndef GW_ROUTE_H
#define GW_ROUTE_H

#include <stddef.h>
#include <protobuf-c/protobuf-c.h>

typedef enum {
    GW_ROUTE_CONNECT, /* "/concord.v1.<Service>/<Method>": a Connect unary call */
    GW_ROUTE_LOGIN,   /* "/auth/login" */
    GW_ROUTE_LOGOUT,  /* "/auth/logout" */
    GW_ROUTE_CSRF,    /* "/auth/csrf" */
    GW_ROUTE_HEALTHZ, /* "/healthz" */
    GW_ROUTE_OPENAPI, /* "/openapi.json" */
    GW_ROUTE_STATIC,  /* anything else: a portal file or 404 */
} gw_route_kind;

/** Classifies a normalized request path (not NUL-terminated). */
gw_route_kind gw_route(const char *path, size_t len);

/**
 * The method a Connect path names ("/concord.v1.AccountService/GetAccount"),
 * or NULL when it names none; *service (optional) receives its service.
 */
const ProtobufCMethodDescriptor *gw_route_method(const char *path, size_t len,
                                                 const ProtobufCServiceDescriptor **service);

#endif
