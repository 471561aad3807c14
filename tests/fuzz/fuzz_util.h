/*
 * fuzz_util.h - helpers shared by the fuzz targets: the methods of
 * cc_services by index, and a walk that says whether a message kept unknown
 * fields.
 *
 * protobuf-c keeps unknown fields and packs them again, but it also keeps
 * keys whose field number overflowed (as field 0), which its own unpacker
 * then refuses; a pack/unpack round trip is therefore only required of
 * messages without unknown fields.
 */
#ifndef FUZZ_UTIL_H
#define FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "cc_services.h"

static inline size_t fuzz_method_count(void)
{
    size_t n = 0;
    for (size_t i = 0; cc_services[i] != NULL; i++)
        n += cc_services[i]->n_methods;
    return n;
}

/* The idx-th method over all services, in the order of cc_services. */
static inline const ProtobufCMethodDescriptor *fuzz_method_at(size_t idx)
{
    for (size_t i = 0; cc_services[i] != NULL; i++) {
        if (idx < cc_services[i]->n_methods)
            return &cc_services[i]->methods[idx];
        idx -= cc_services[i]->n_methods;
    }
    return NULL;
}

/* True when m or any message inside it holds unknown fields. */
static inline int fuzz_has_unknown(const ProtobufCMessage *m)
{
    if (m == NULL)
        return 0;
    if (m->n_unknown_fields != 0)
        return 1;
    const ProtobufCMessageDescriptor *desc = m->descriptor;
    for (unsigned i = 0; i < desc->n_fields; i++) {
        const ProtobufCFieldDescriptor *f = &desc->fields[i];
        const char *p = (const char *)m + f->offset;
        if (f->type != PROTOBUF_C_TYPE_MESSAGE)
            continue;
        if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
            *(const uint32_t *)(const void *)((const char *)m + f->quantifier_offset) != f->id)
            continue;
        if (f->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(const size_t *)(const void *)((const char *)m + f->quantifier_offset);
            ProtobufCMessage *const *arr = *(ProtobufCMessage *const *const *)(const void *)p;
            for (size_t k = 0; k < n; k++)
                if (fuzz_has_unknown(arr[k]))
                    return 1;
        } else if (fuzz_has_unknown(*(ProtobufCMessage *const *)(const void *)p)) {
            return 1;
        }
    }
    return 0;
}

#endif
