/*
 * pb_check.c - a walk over protobuf wire data guided by descriptors.
 *
 * It reads tags and lengths only as far as needed to find length-delimited
 * fields: strings are validated, sub-messages are walked recursively (up to
 * PB_MAX_DEPTH), everything else is skipped. Repeated strings get an index in
 * the reported path.
 */
#include "pb_check.h"
#include <stdio.h>
#include <string.h>

int pb_utf8_valid(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        if (c == 0)
            return 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;
        uint32_t cp;
        if ((c & 0xe0) == 0xc0) {
            n = 2;
            cp = c & 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 3;
            cp = c & 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 4;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (i + n > len)
            return 0;
        for (size_t k = 1; k < n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
            cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return 0;
        i += n;
    }
    return 1;
}

static int varint(const uint8_t **p, const uint8_t *end, uint64_t *out)
{
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*p == end)
            return -1;
        uint8_t b = *(*p)++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int fail(pb_check_error *err, const char *path, const char *what)
{
    snprintf(err->field, sizeof(err->field), "%s", path);
    snprintf(err->description, sizeof(err->description), "%s", what);
    return CC_EPROTO;
}

static int walk(const ProtobufCMessageDescriptor *desc, const uint8_t *p, const uint8_t *end,
                int depth, char *path, size_t path_len, pb_check_error *err)
{
    if (depth > PB_MAX_DEPTH)
        return fail(err, path, "nested too deeply");
    /* Counts of repeated fields seen so far, for indexes in paths (first 64 fields). */
    unsigned counts[64];
    memset(counts, 0, sizeof(counts));
    while (p < end) {
        uint64_t key;
        if (varint(&p, end, &key) != 0)
            return fail(err, path, "malformed field key");
        uint32_t number = (uint32_t)(key >> 3);
        unsigned wire = (unsigned)(key & 7);
        uint64_t n;
        switch (wire) {
        case 0:
            if (varint(&p, end, &n) != 0)
                return fail(err, path, "malformed varint");
            continue;
        case 1:
            if (end - p < 8)
                return fail(err, path, "truncated fixed64");
            p += 8;
            continue;
        case 5:
            if (end - p < 4)
                return fail(err, path, "truncated fixed32");
            p += 4;
            continue;
        case 2:
            break;
        default:
            return fail(err, path, "unsupported wire type");
        }
        if (varint(&p, end, &n) != 0 || n > (uint64_t)(end - p))
            return fail(err, path, "length past the end of the message");
        const uint8_t *val = p;
        p += n;
        const ProtobufCFieldDescriptor *fd =
            protobuf_c_message_descriptor_get_field(desc, (unsigned)number);
        if (fd == NULL ||
            (fd->type != PROTOBUF_C_TYPE_STRING && fd->type != PROTOBUF_C_TYPE_MESSAGE))
            continue; /* unknown field, bytes or packed numbers */
        size_t base = strlen(path);
        unsigned idx = 0;
        if (fd->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t slot = (size_t)(fd - desc->fields);
            if (slot < 64)
                idx = counts[slot]++;
        }
        if (fd->label == PROTOBUF_C_LABEL_REPEATED)
            snprintf(path + base, path_len - base, "%s%s[%u]", base ? "." : "", fd->name, idx);
        else
            snprintf(path + base, path_len - base, "%s%s", base ? "." : "", fd->name);
        if (fd->type == PROTOBUF_C_TYPE_STRING) {
            if (!pb_utf8_valid(val, (size_t)n))
                return fail(err, path,
                            memchr(val, 0, (size_t)n) ? "must not contain NUL characters"
                                                      : "must be valid UTF-8");
        } else {
            int rc = walk(fd->descriptor, val, val + n, depth + 1, path, path_len, err);
            if (rc != 0)
                return rc;
        }
        path[base] = '\0';
    }
    return 0;
}

int pb_check(const ProtobufCMessageDescriptor *desc, const uint8_t *data, size_t len,
             pb_check_error *err)
{
    char path[256] = "";
    return walk(desc, data, data + len, 0, path, sizeof(path), err);
}
