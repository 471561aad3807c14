/*
 * gw_route.c - request path routing of concord-gateway.
 */
#include <string.h>
#include "cc_services.h"
#include "gw_route.h"

static int is(const char *path, size_t len, const char *p)
{
    return strlen(p) == len && memcmp(path, p, len) == 0;
}

gw_route_kind gw_route(const char *path, size_t len)
{
    static const char connect[] = "/concord.v1.";
    if (len > sizeof(connect) - 1 && memcmp(path, connect, sizeof(connect) - 1) == 0)
        return GW_ROUTE_CONNECT;
    if (is(path, len, "/auth/login"))
        return GW_ROUTE_LOGIN;
    if (is(path, len, "/auth/logout"))
        return GW_ROUTE_LOGOUT;
    if (is(path, len, "/auth/csrf"))
        return GW_ROUTE_CSRF;
    if (is(path, len, "/healthz"))
        return GW_ROUTE_HEALTHZ;
    if (is(path, len, "/openapi.json"))
        return GW_ROUTE_OPENAPI;
    return GW_ROUTE_STATIC;
}

const ProtobufCMethodDescriptor *gw_route_method(const char *path, size_t len,
                                                 const ProtobufCServiceDescriptor **service)
{
    char name[256];
    if (len < 2 || path[0] != '/' || len - 1 >= sizeof(name) || memchr(path, '\0', len))
        return NULL;
    memcpy(name, path + 1, len - 1);
    name[len - 1] = '\0';
    return cc_method_lookup(name, service);
}
