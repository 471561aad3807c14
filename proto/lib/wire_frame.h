/*
 * wire_frame.h - the frame codec: 4-byte big-endian length, then one
 * concord.v1.Frame.
 *
 * The decoder is incremental: it takes bytes as they arrive (partial frames,
 * several frames in one read) and hands each complete frame body to a
 * callback. The length prefix is checked against the limit before anything is
 * allocated; a longer frame is an error and the caller closes the connection.
 */
#ifndef WIRE_FRAME_H
#define WIRE_FRAME_H

#include "cc_error.h"
#include "concord/v1/wire.pb-c.h"
#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER_SIZE 4
#define WIRE_DEFAULT_MAX_FRAME (4u * 1024 * 1024)

typedef struct wire_decoder {
    uint8_t hdr[WIRE_HEADER_SIZE]; /* length prefix being assembled */
    size_t hdr_have;               /* bytes of hdr received so far (0..4) */
    uint8_t *body;                 /* body buffer, allocated once the length is known */
    size_t body_len;               /* length from the prefix */
    size_t body_have;              /* bytes of body received so far */
    size_t max_frame;              /* largest body accepted */
    int failed;                    /* sticky: after an error every feed fails */
} wire_decoder;

/**
 * Called for each complete frame body. The bytes are borrowed until the
 * callback returns. A non-zero return stops decoding and is returned by
 * wire_decoder_feed.
 */
typedef int (*wire_frame_cb)(void *ud, const uint8_t *body, size_t len);

/** Initialises a decoder accepting bodies of at most max_frame bytes. */
void wire_decoder_init(wire_decoder *d, size_t max_frame);
/** Changes the limit; applies to frames whose prefix has not been read yet. */
void wire_decoder_set_max(wire_decoder *d, size_t max_frame);
/**
 * Feeds len bytes. Calls cb for every frame completed by them, in order.
 * Returns 0, CC_ETOOBIG (prefix over the limit, checked before allocating),
 * CC_ENOMEM, or the callback's non-zero result. After an error the decoder
 * stays failed.
 */
int wire_decoder_feed(wire_decoder *d, const uint8_t *data, size_t len, wire_frame_cb cb,
                      void *ud) CC_MUST_CHECK;
/** True when no partial frame is buffered (a clean place for the peer to stop). */
int wire_decoder_idle(const wire_decoder *d);
/** Frees the partial frame, if any. The decoder may be initialised again. */
void wire_decoder_free(wire_decoder *d);

/**
 * Encodes f with its length prefix into a new malloc'ed buffer (caller owns).
 * Returns 0 or CC_ENOMEM / CC_ETOOBIG (encoded size over max_frame).
 */
int wire_frame_pack(const Concord__V1__Frame *f, size_t max_frame, uint8_t **out,
                    size_t *out_len) CC_MUST_CHECK;
/**
 * The same into *buf, a malloc'ed buffer of *cap bytes that is grown (realloc)
 * when too small and otherwise reused; *buf may start NULL with *cap 0. On
 * failure the buffer is left as it was.
 */
int wire_frame_pack_into(const Concord__V1__Frame *f, size_t max_frame, uint8_t **buf, size_t *cap,
                         size_t *out_len) CC_MUST_CHECK;

#endif
