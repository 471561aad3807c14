/*
 * cc_status.h - canonical status codes: names, Connect names, HTTP mapping.
 *
 * The codes are concord.v1.Code (wire.proto), numbered as gRPC numbers them.
 * One table maps each to its name, the Connect protocol's error code string and
 * the HTTP status the gateway answers with.
 */
#ifndef CC_STATUS_H
#define CC_STATUS_H

#include "concord/v1/wire.pb-c.h"

/* X(NAME, number, connect code, HTTP status) */
#define CC_STATUS_MAP(X)                                                                           \
    X(OK, 0, "ok", 200)                                                                            \
    X(CANCELLED, 1, "canceled", 499)                                                               \
    X(UNKNOWN, 2, "unknown", 500)                                                                  \
    X(INVALID_ARGUMENT, 3, "invalid_argument", 400)                                                \
    X(DEADLINE_EXCEEDED, 4, "deadline_exceeded", 504)                                              \
    X(NOT_FOUND, 5, "not_found", 404)                                                              \
    X(ALREADY_EXISTS, 6, "already_exists", 409)                                                    \
    X(PERMISSION_DENIED, 7, "permission_denied", 403)                                              \
    X(RESOURCE_EXHAUSTED, 8, "resource_exhausted", 429)                                            \
    X(FAILED_PRECONDITION, 9, "failed_precondition", 400)                                          \
    X(ABORTED, 10, "aborted", 409)                                                                 \
    X(OUT_OF_RANGE, 11, "out_of_range", 400)                                                       \
    X(UNIMPLEMENTED, 12, "unimplemented", 501)                                                     \
    X(INTERNAL, 13, "internal", 500)                                                               \
    X(UNAVAILABLE, 14, "unavailable", 503)                                                         \
    X(DATA_LOSS, 15, "data_loss", 500)                                                             \
    X(UNAUTHENTICATED, 16, "unauthenticated", 401)

typedef enum {
#define CC_ST_ENUM(name, num, connect, http) CC_##name = (num),
    CC_STATUS_MAP(CC_ST_ENUM)
#undef CC_ST_ENUM
} cc_code;

/** "NOT_FOUND" for CC_NOT_FOUND; "UNKNOWN" for numbers outside the table. */
const char *cc_code_name(int code);
/** Connect protocol error code ("not_found"); "unknown" outside the table. */
const char *cc_code_connect(int code);
/** HTTP status the gateway answers with for this code. */
int cc_code_http(int code);
/** Parses a Connect code string back to a code; returns -1 if unknown. */
int cc_code_from_connect(const char *s);

#endif
