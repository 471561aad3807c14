/*
 * cli_msg.c - reading and writing message fields by dotted proto names, and
 * the command-line names of enum values, all through protobuf-c descriptors.
 *
 * This is what keeps the command table declarative: a flag names a request
 * field and the descriptor says how to parse its value. Messages built here
 * live in the caller's arena; nothing is freed one by one.
 */
#include "cli.h"
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MEMBER(m, off) ((void *)((char *)(m) + (off)))

ProtobufCMessage *cli_msg_new(arena *a, const ProtobufCMessageDescriptor *desc)
{
    ProtobufCMessage *m = arena_calloc(a, 1, desc->sizeof_message);
    desc->message_init(m);
    return m;
}

/* Copies the next dot-separated part of *path into buf and advances *path. */
static int next_part(const char **path, char *buf, size_t len)
{
    const char *dot = strchr(*path, '.');
    size_t n = dot ? (size_t)(dot - *path) : strlen(*path);
    if (n == 0 || n >= len)
        return -1;
    memcpy(buf, *path, n);
    buf[n] = '\0';
    *path += n + (dot ? 1 : 0);
    return dot != NULL;
}

const ProtobufCFieldDescriptor *cli_msg_field(const ProtobufCMessageDescriptor *desc,
                                              const char *path)
{
    char part[128];
    for (;;) {
        int more = next_part(&path, part, sizeof part);
        if (more < 0)
            return NULL;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(desc, part);
        if (fd == NULL || !more)
            return fd;
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE || fd->label == PROTOBUF_C_LABEL_REPEATED)
            return NULL;
        desc = fd->descriptor;
    }
}

const void *cli_msg_get(const ProtobufCMessage *m, const char *path,
                        const ProtobufCFieldDescriptor **out)
{
    char part[128];
    for (;;) {
        int more = next_part(&path, part, sizeof part);
        if (more < 0 || m == NULL)
            return NULL;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field_by_name(m->descriptor, part);
        if (fd == NULL)
            return NULL;
        const void *member = MEMBER(m, fd->offset);
        if (!more) {
            if (out)
                *out = fd;
            return member;
        }
        if (fd->type != PROTOBUF_C_TYPE_MESSAGE || fd->label == PROTOBUF_C_LABEL_REPEATED)
            return NULL;
        m = *(ProtobufCMessage *const *)member;
    }
}

/* The value-name prefix protoc style adds to an enum: "SizeClass" -> "SIZE_CLASS_". */
static void enum_prefix(const ProtobufCEnumDescriptor *ed, char *buf, size_t len)
{
    size_t n = 0;
    for (const char *p = ed->short_name; *p && n + 3 < len; p++) {
        if (isupper((unsigned char)*p) && p != ed->short_name)
            buf[n++] = '_';
        buf[n++] = (char)toupper((unsigned char)*p);
    }
    buf[n++] = '_';
    buf[n] = '\0';
}

void cli_enum_label(const ProtobufCEnumDescriptor *ed, const ProtobufCEnumValue *v, char *buf,
                    size_t len)
{
    char prefix[128];
    enum_prefix(ed, prefix, sizeof prefix);
    const char *name = v->name;
    size_t pl = strlen(prefix);
    /* TIER_S reads better as "s"; a name that is only the prefix stays whole. */
    if (strncmp(name, prefix, pl) == 0 && name[pl] != '\0')
        name += pl;
    size_t n = 0;
    for (; name[n] && n + 1 < len; n++)
        buf[n] = name[n] == '_' ? '-' : (char)tolower((unsigned char)name[n]);
    buf[n] = '\0';
    /* One-letter labels are grades (tier S, A, B), written in capitals. */
    if (n == 1)
        buf[0] = (char)toupper((unsigned char)buf[0]);
}

/* Compares ignoring case and treating '-' and '_' alike. */
static int label_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : (char)tolower((unsigned char)*a);
        char y = *b == '_' ? '-' : (char)tolower((unsigned char)*b);
        if (x != y)
            return 0;
    }
    return *a == *b;
}

int cli_enum_parse(const ProtobufCEnumDescriptor *ed, const char *text, int *value)
{
    char label[128];
    for (unsigned i = 0; i < ed->n_values; i++) {
        const ProtobufCEnumValue *v = &ed->values[i];
        /* Zero is "unspecified": never something a user chooses. */
        if (v->value == 0)
            continue;
        cli_enum_label(ed, v, label, sizeof label);
        if (label_eq(text, label) || label_eq(text, v->name)) {
            *value = v->value;
            return 0;
        }
    }
    return CC_ENOTFOUND;
}

void cli_enum_choices(const ProtobufCEnumDescriptor *ed, const char *sep, char *buf, size_t len)
{
    char label[128];
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned i = 0; i < ed->n_values; i++) {
        if (ed->values[i].value == 0)
            continue;
        cli_enum_label(ed, &ed->values[i], label, sizeof label);
        int w = snprintf(buf + n, len - n, "%s%s", n ? sep : "", label);
        if (w < 0 || (size_t)w >= len - n)
            break;
        n += (size_t)w;
    }
}

/* Parses a decimal integer within [lo, hi]. */
static int parse_int(const char *text, long long lo, long long hi, long long *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < lo || v > hi)
        return CC_EINVAL;
    *out = v;
    return 0;
}

static int set_scalar(arena *a, const ProtobufCFieldDescriptor *fd, void *member, const char *text,
                      char *err, size_t errlen)
{
    long long iv;
    switch (fd->type) {
    case PROTOBUF_C_TYPE_STRING:
        *(char **)member = arena_strdup(a, text ? text : "");
        return 0;
    case PROTOBUF_C_TYPE_BOOL:
        if (text == NULL || strcmp(text, "true") == 0) {
            *(protobuf_c_boolean *)member = 1;
            return 0;
        }
        if (strcmp(text, "false") == 0) {
            *(protobuf_c_boolean *)member = 0;
            return 0;
        }
        snprintf(err, errlen, "expected true or false");
        return CC_EINVAL;
    case PROTOBUF_C_TYPE_ENUM: {
        int v;
        if (text && cli_enum_parse(fd->descriptor, text, &v) == 0) {
            *(int *)member = v;
            return 0;
        }
        char choices[512];
        cli_enum_choices(fd->descriptor, ", ", choices, sizeof choices);
        snprintf(err, errlen, "expected one of %s", choices);
        return CC_EINVAL;
    }
    case PROTOBUF_C_TYPE_INT32:
    case PROTOBUF_C_TYPE_SINT32:
    case PROTOBUF_C_TYPE_SFIXED32:
        if (text == NULL || parse_int(text, INT32_MIN, INT32_MAX, &iv) != 0)
            break;
        *(int32_t *)member = (int32_t)iv;
        return 0;
    case PROTOBUF_C_TYPE_UINT32:
    case PROTOBUF_C_TYPE_FIXED32:
        if (text == NULL || parse_int(text, 0, UINT32_MAX, &iv) != 0)
            break;
        *(uint32_t *)member = (uint32_t)iv;
        return 0;
    case PROTOBUF_C_TYPE_INT64:
    case PROTOBUF_C_TYPE_SINT64:
    case PROTOBUF_C_TYPE_SFIXED64:
        if (text == NULL || parse_int(text, INT64_MIN, INT64_MAX, &iv) != 0)
            break;
        *(int64_t *)member = (int64_t)iv;
        return 0;
    default:
        snprintf(err, errlen, "this field cannot be set from the command line");
        return CC_EINVAL;
    }
    snprintf(err, errlen, "expected an integer");
    return CC_EINVAL;
}

int cli_msg_set(arena *a, ProtobufCMessage *m, const char *path, const char *text, char *err,
                size_t errlen)
{
    char part[128];
    for (;;) {
        int more = next_part(&path, part, sizeof part);
        const ProtobufCFieldDescriptor *fd =
            more < 0 ? NULL : protobuf_c_message_descriptor_get_field_by_name(m->descriptor, part);
        if (fd == NULL) {
            snprintf(err, errlen, "unknown field %s", part);
            return CC_EINVAL;
        }
        void *member = MEMBER(m, fd->offset);
        if (fd->flags & PROTOBUF_C_FIELD_FLAG_ONEOF)
            *(uint32_t *)MEMBER(m, fd->quantifier_offset) = fd->id;
        if (more) {
            if (fd->type != PROTOBUF_C_TYPE_MESSAGE || fd->label == PROTOBUF_C_LABEL_REPEATED) {
                snprintf(err, errlen, "%s is not a message", part);
                return CC_EINVAL;
            }
            ProtobufCMessage **sub = member;
            if (*sub == NULL)
                *sub = cli_msg_new(a, fd->descriptor);
            m = *sub;
            continue;
        }
        if (fd->label != PROTOBUF_C_LABEL_REPEATED)
            return set_scalar(a, fd, member, text, err, errlen);
        if (fd->type != PROTOBUF_C_TYPE_STRING) {
            snprintf(err, errlen, "this list cannot be set from the command line");
            return CC_EINVAL;
        }
        /* Repeated strings grow by copying into a larger arena array. */
        size_t *n = MEMBER(m, fd->quantifier_offset);
        char ***arr = member;
        char **grown = arena_alloc(a, (*n + 1) * sizeof(char *));
        if (*n)
            memcpy(grown, *arr, *n * sizeof(char *));
        grown[*n] = arena_strdup(a, text ? text : "");
        *arr = grown;
        (*n)++;
        return 0;
    }
}
