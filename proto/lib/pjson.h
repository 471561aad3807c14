/*
 * pjson.h - the proto3 canonical JSON mapping, generic over protobuf-c
 * descriptors (both directions).
 *
 * Names are lowerCamelCase derived from the proto field names (protobuf-c
 * 1.4.1 stores no json_name); both the camelCase and the original name are
 * accepted on input. Enums are written by name and read by name or number;
 * 64-bit integers are written as strings and read from strings or from
 * numbers up to 2^53; bytes are base64; google.protobuf.Timestamp is RFC 3339
 * in UTC ("2026-11-22T10:00:00Z", fractional seconds when non-zero);
 * google.protobuf.Duration is "1.5s"; google.protobuf.FieldMask is one string
 * of comma-separated camelCase paths; google.protobuf.Empty is {}. Fields
 * with default values are omitted on output. Oneof members are written when
 * set. Maps (repeated *Entry messages) are JSON objects.
 *
 * Input errors (unknown field, wrong type, duplicate key, invalid UTF-8, NUL
 * in a string, bad enum name, out-of-range number, nesting deeper than
 * PJSON_MAX_DEPTH) come back as CC_EJSON with the offending field's path
 * (proto names, e.g. "account.tags[2]") and a description.
 */
#ifndef PJSON_H
#define PJSON_H

#include "cc_error.h"
#include <jansson.h>
#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

#define PJSON_MAX_DEPTH 32

typedef struct pjson_error {
    char field[256];       /* path of the offending field; "" for the document */
    char description[256]; /* what is wrong, for people */
} pjson_error;

/**
 * Converts a message to a JSON object (caller owns; json_decref). NULL on OOM.
 * Strings that are not valid UTF-8 (a binary unpack does not check) are
 * written with U+FFFD in place of the bad bytes; timestamps outside
 * 0001..9999 are clamped to that range.
 */
json_t *pjson_from_message(const ProtobufCMessage *m);

/** Encodes a message as compact JSON text (caller frees with free()). NULL on OOM. */
char *pjson_encode(const ProtobufCMessage *m);

/**
 * Builds a message of type desc from a JSON value. The message and all its
 * parts are allocated with alloc (typically an arena). Returns 0, or CC_EJSON
 * with err filled, or CC_ENOMEM. On error *out is NULL.
 *
 * alloc NULL means malloc/free: the message is then laid out exactly as
 * protobuf-c's unpack lays it out, so the caller frees it with
 * protobuf_c_message_free_unpacked(m, NULL). JSON null for a field means its
 * default value. A message that is not a well-known type with a special form
 * must be a JSON object.
 */
int pjson_to_message(const ProtobufCMessageDescriptor *desc, json_t *json,
                     ProtobufCAllocator *alloc, ProtobufCMessage **out,
                     pjson_error *err) CC_MUST_CHECK;

/**
 * Parses JSON text (rejecting duplicate keys, invalid UTF-8 and NUL
 * characters) and builds a message as pjson_to_message does. An empty body
 * (len 0) is the empty message.
 */
int pjson_decode(const ProtobufCMessageDescriptor *desc, const char *text, size_t len,
                 ProtobufCAllocator *alloc, ProtobufCMessage **out, pjson_error *err) CC_MUST_CHECK;

/** Writes the lowerCamelCase form of a proto field name ("update_mask" -> "updateMask"). */
void pjson_camel_case(const char *proto_name, char *out, size_t outlen);

#endif
