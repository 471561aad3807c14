/*
 * cc_error.h - the error codes returned by the leaf libraries (frame codec,
 * TLS stream, JSON mapping, arena) and by libconcord.
 *
 * Functions that can fail return 0 or one of these negative codes; they never
 * log. cc_strerror() names a code for people.
 */
#ifndef CC_ERROR_H
#define CC_ERROR_H

#define CC_ERRNO_MAP(X)                                                                            \
    X(NOMEM, -1, "out of memory")                                                                  \
    X(INVAL, -2, "invalid argument")                                                               \
    X(TOOBIG, -3, "frame larger than the limit")                                                   \
    X(PROTO, -4, "malformed message")                                                              \
    X(TLS, -5, "TLS error")                                                                        \
    X(IO, -6, "input/output error")                                                                \
    X(EOF, -7, "connection closed by peer")                                                        \
    X(CLOSED, -8, "connection closed")                                                             \
    X(TIMEDOUT, -9, "timed out")                                                                   \
    X(JSON, -10, "invalid JSON")                                                                   \
    X(NOTFOUND, -11, "not found")                                                                  \
    X(BUSY, -12, "queue full")                                                                     \
    X(CONFIG, -13, "invalid configuration")

enum {
#define CC_ERR_ENUM(name, val, msg) CC_E##name = (val),
    CC_ERRNO_MAP(CC_ERR_ENUM)
#undef CC_ERR_ENUM
};

/** Returns a static description of a CC_E* code (or "unknown error"). */
const char *cc_strerror(int err);

#define CC_MUST_CHECK __attribute__((warn_unused_result))

#ifndef container_of
#include <stddef.h>
#define container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))
#endif

#endif
