/*
 * gw_openapi.h - the OpenAPI 3.0 document of the gateway's HTTP API,
 * generated from the protobuf-c descriptors of every concord.v1 service.
 */
#ifndef GW_OPENAPI_H
#define GW_OPENAPI_H

#include <stddef.h>
#include "cc_error.h"

/**
 * Builds the document as compact JSON text (caller frees with free()).
 * Returns 0 or CC_ENOMEM.
 */
int gw_openapi_build(char **out, size_t *len) CC_MUST_CHECK;

#endif
