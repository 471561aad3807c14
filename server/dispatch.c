/*
 * dispatch.c - the route table built from the service descriptors.
 *
 * Routes are sorted by full name once at start; lookups are binary searches.
 * The table is read-only after srv_routes_build, so workers and the loop
 * thread share it without locks.
 */
#include "dispatch.h"
#include "cc_log.h"
#include "cc_services.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const srv_service srv_auth_service;
extern const srv_service srv_account_service;
extern const srv_service srv_team_service;
extern const srv_service srv_contract_service;
extern const srv_service srv_tier_service;
extern const srv_service srv_stakeholder_service;
extern const srv_service srv_activity_service;
extern const srv_service srv_key_event_service;
extern const srv_service srv_report_service;

/* One line per service: its handler table (server/services/<area>_service.c). */
const srv_service *const srv_service_table[] = {
    &srv_auth_service,     &srv_account_service,   &srv_team_service,
    &srv_contract_service, &srv_tier_service,      &srv_stakeholder_service,
    &srv_activity_service, &srv_key_event_service, &srv_report_service,
    NULL,
};

static srv_route *routes;
static size_t n_routes;

static int by_name(const void *a, const void *b)
{
    return strcmp(((const srv_route *)a)->full_name, ((const srv_route *)b)->full_name);
}

static const srv_service *service_for(const ProtobufCServiceDescriptor *d)
{
    for (size_t i = 0; srv_service_table[i] != NULL; i++)
        if (srv_service_table[i]->desc == d)
            return srv_service_table[i];
    return NULL;
}

int srv_routes_build(char *err, size_t errlen)
{
    size_t total = 0;
    for (size_t i = 0; cc_services[i] != NULL; i++)
        total += cc_services[i]->n_methods;
    free(routes);
    routes = calloc(total ? total : 1, sizeof(*routes));
    n_routes = 0;
    if (routes == NULL)
        return CC_ENOMEM;

    for (size_t i = 0; cc_services[i] != NULL; i++) {
        const ProtobufCServiceDescriptor *d = cc_services[i];
        const srv_service *svc = service_for(d);
        for (unsigned j = 0; j < d->n_methods; j++) {
            const ProtobufCMethodDescriptor *m = &d->methods[j];
            const srv_method *h = NULL;
            for (const srv_method *x = svc ? svc->methods : NULL; x && x->name; x++)
                if (strcmp(x->name, m->name) == 0)
                    h = x;
            srv_route *r = &routes[n_routes++];
            cc_method_full_name(d, m, r->full_name, sizeof(r->full_name));
            r->service = d;
            r->method = m;
            /* A declared method without a handler answers UNIMPLEMENTED; the unit
             * test test_srv_dispatch refuses such a build. */
            r->fn = h ? h->fn : NULL;
            r->flags = h ? h->flags : 0;
            r->query = h ? h->query : NULL;
            if (h == NULL)
                log_event(LOG_WARN, "unimplemented_method", "method", r->full_name, NULL);
        }
    }
    /* The other direction: a handler for a method no .proto declares is a typo. */
    for (size_t i = 0; srv_service_table[i] != NULL; i++) {
        const srv_service *svc = srv_service_table[i];
        for (const srv_method *x = svc->methods; x->name; x++) {
            if (protobuf_c_service_descriptor_get_method_by_name(svc->desc, x->name) == NULL) {
                snprintf(err, errlen, "handler %s/%s matches no declared method", svc->desc->name,
                         x->name);
                return CC_ENOTFOUND;
            }
        }
    }
    qsort(routes, n_routes, sizeof(*routes), by_name);
    return 0;
}

const srv_route *srv_route_find(const char *full_name)
{
    srv_route key;
    if (strlen(full_name) >= sizeof(key.full_name))
        return NULL;
    strcpy(key.full_name, full_name);
    return bsearch(&key, routes, n_routes, sizeof(*routes), by_name);
}

size_t srv_routes_count(void)
{
    return n_routes;
}
const srv_route *srv_route_at(size_t i)
{
    return i < n_routes ? &routes[i] : NULL;
}
