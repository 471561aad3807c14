/*
 * pb_check.h - checks an encoded protobuf message against its descriptor
 * before it is unpacked: every string field must be valid UTF-8 without NUL
 * (protobuf-c checks neither, and a NUL would silently cut a C string), and
 * nesting must stay within a bound. Unknown fields are walked over, not
 * kept track of.
 */
#ifndef PB_CHECK_H
#define PB_CHECK_H

#include "cc_error.h"
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#define PB_MAX_DEPTH 32

typedef struct pb_check_error {
    char field[256];       /* proto-name path, e.g. "account.tags[2]" */
    char description[128]; /* what is wrong */
} pb_check_error;

/** Returns 0, or CC_EPROTO with err filled (malformed wire data, bad string, too deep). */
int pb_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
             pb_check_error *err) CC_MUST_CHECK;

/** True when s[0..len) is valid UTF-8 (no overlongs, no surrogates) without NUL. */
int pb_utf8_valid(const uint8_t *s, size_t len);

#endif
