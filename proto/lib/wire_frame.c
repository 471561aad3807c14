/*
 * wire_frame.c - incremental decoder and encoder for length-prefixed frames.
 *
 * Invariants: hdr_have < 4 means the prefix is still being read and body is
 * NULL; once the prefix is complete body_len is known, checked against
 * max_frame, and body (if body_len > 0) holds body_have bytes of it. A body
 * is allocated only after the length check, so a hostile prefix costs
 * nothing.
 */
#include "wire_frame.h"
#include <stdlib.h>
#include <string.h>

void wire_decoder_init(wire_decoder *d, size_t max_frame)
{
    memset(d, 0, sizeof(*d));
    d->max_frame = max_frame;
}

void wire_decoder_set_max(wire_decoder *d, size_t max_frame)
{
    d->max_frame = max_frame;
}

int wire_decoder_idle(const wire_decoder *d)
{
    return d->hdr_have == 0;
}

void wire_decoder_free(wire_decoder *d)
{
    free(d->body);
    d->body = NULL;
    d->hdr_have = 0;
    d->body_have = 0;
    d->body_len = 0;
}

static void reset_frame(wire_decoder *d)
{
    free(d->body);
    d->body = NULL;
    d->hdr_have = 0;
    d->body_len = 0;
    d->body_have = 0;
}

int wire_decoder_feed(wire_decoder *d, const uint8_t *data, size_t len, wire_frame_cb cb, void *ud)
{
    if (d->failed)
        return d->failed;
    while (len > 0 || (d->hdr_have == WIRE_HEADER_SIZE && d->body_have == d->body_len)) {
        if (d->hdr_have < WIRE_HEADER_SIZE) {
            size_t take = WIRE_HEADER_SIZE - d->hdr_have;
            if (take > len)
                take = len;
            memcpy(d->hdr + d->hdr_have, data, take);
            d->hdr_have += take;
            data += take;
            len -= take;
            if (d->hdr_have < WIRE_HEADER_SIZE)
                return 0;
            uint32_t n = (uint32_t)d->hdr[0] << 24 | (uint32_t)d->hdr[1] << 16 |
                         (uint32_t)d->hdr[2] << 8 | (uint32_t)d->hdr[3];
            if ((size_t)n > d->max_frame) {
                d->failed = CC_ETOOBIG;
                return d->failed;
            }
            d->body_len = n;
            d->body_have = 0;
            if (n > 0 && len >= n) {
                /* The whole body is already here: hand it over without copying. */
                int rc = cb(ud, data, n);
                data += n;
                len -= n;
                d->hdr_have = 0;
                d->body_len = 0;
                if (rc != 0) {
                    d->failed = rc;
                    return rc;
                }
                continue;
            }
            if (n > 0) {
                d->body = malloc(n);
                if (d->body == NULL) {
                    d->failed = CC_ENOMEM;
                    return d->failed;
                }
            }
        }
        size_t take = d->body_len - d->body_have;
        if (take > len)
            take = len;
        if (take > 0) {
            memcpy(d->body + d->body_have, data, take);
            d->body_have += take;
            data += take;
            len -= take;
        }
        if (d->body_have < d->body_len)
            return 0;
        static const uint8_t empty[1];
        int rc = cb(ud, d->body ? d->body : empty, d->body_len);
        reset_frame(d);
        if (rc != 0) {
            d->failed = rc;
            return rc;
        }
    }
    return 0;
}

int wire_frame_pack_into(const Concord__V1__Frame *f, size_t max_frame, uint8_t **buf, size_t *cap,
                         size_t *out_len)
{
    size_t n = protobuf_c_message_get_packed_size(&f->base);
    if (n > max_frame || n > UINT32_MAX)
        return CC_ETOOBIG;
    if (*cap < WIRE_HEADER_SIZE + n) {
        uint8_t *grown = realloc(*buf, WIRE_HEADER_SIZE + n);
        if (grown == NULL)
            return CC_ENOMEM;
        *buf = grown;
        *cap = WIRE_HEADER_SIZE + n;
    }
    uint8_t *b = *buf;
    b[0] = (uint8_t)(n >> 24);
    b[1] = (uint8_t)(n >> 16);
    b[2] = (uint8_t)(n >> 8);
    b[3] = (uint8_t)n;
    protobuf_c_message_pack(&f->base, b + WIRE_HEADER_SIZE);
    *out_len = WIRE_HEADER_SIZE + n;
    return 0;
}

int wire_frame_pack(const Concord__V1__Frame *f, size_t max_frame, uint8_t **out, size_t *out_len)
{
    uint8_t *buf = NULL;
    size_t cap = 0;
    int rc = wire_frame_pack_into(f, max_frame, &buf, &cap, out_len);
    if (rc == 0)
        *out = buf;
    return rc;
}
