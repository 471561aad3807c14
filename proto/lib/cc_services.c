/*
 * cc_services.c - method lookup over the generated list of services.
 */
#include "cc_services.h"
#include <stdio.h>
#include <string.h>

const ProtobufCMethodDescriptor *cc_method_lookup(const char *full_name,
                                                  const ProtobufCServiceDescriptor **service)
{
    const char *slash = strchr(full_name, '/');
    if (slash == NULL)
        return NULL;
    size_t svc_len = (size_t)(slash - full_name);
    for (size_t i = 0; cc_services[i] != NULL; i++) {
        const ProtobufCServiceDescriptor *svc = cc_services[i];
        if (strlen(svc->name) != svc_len || memcmp(svc->name, full_name, svc_len) != 0)
            continue;
        const ProtobufCMethodDescriptor *m =
            protobuf_c_service_descriptor_get_method_by_name(svc, slash + 1);
        if (m != NULL && service != NULL)
            *service = svc;
        return m;
    }
    return NULL;
}

void cc_method_full_name(const ProtobufCServiceDescriptor *svc, const ProtobufCMethodDescriptor *m,
                         char *buf, size_t len)
{
    snprintf(buf, len, "%s/%s", svc->name, m->name);
}
