/*
 * dispatch.h - the route table: every method of every concord.v1 service
 * (from protobuf-c's service descriptors) mapped to its handler and flags.
 */
#ifndef SRV_DISPATCH_H
#define SRV_DISPATCH_H

#include "call.h"

typedef struct srv_route {
    char full_name[128]; /* "concord.v1.AccountService/GetAccount" */
    const ProtobufCServiceDescriptor *service;
    const ProtobufCMethodDescriptor *method; /* input/output descriptors */
    srv_handler fn;                          /* NULL: declared but not implemented */
    unsigned flags;                          /* SRV_PUBLIC | SRV_WRITE | SRV_ADMIN */
    const srv_query_method *query;           /* a one-statement read: may be pipelined */
} srv_route;

/** The handler tables of all services; one line per service in dispatch.c. */
extern const srv_service *const srv_service_table[];

/**
 * Builds the route table. Fails (with the method named in err) when a
 * handler names no declared method. A declared method without a handler gets
 * a route whose calls answer UNIMPLEMENTED (logged at start); the unit test
 * test_srv_dispatch fails the build's tests while any is left.
 */
int srv_routes_build(char *err, size_t errlen);
/** Finds a route by full method name; NULL if unknown. */
const srv_route *srv_route_find(const char *full_name);
/** Number of routes, and the i-th, for listings and tests. */
size_t srv_routes_count(void);
const srv_route *srv_route_at(size_t i);

#endif
