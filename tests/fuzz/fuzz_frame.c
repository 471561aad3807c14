/*
 * fuzz_frame.c - the incremental frame decoder fed a byte stream in random
 * pieces, and each complete frame body unpacked as a concord.v1.Frame.
 *
 * Input: one byte seeding the split points, then the stream. Invariants
 * checked (abort on violation): the decoder hands over the same frames
 * whatever the split; a frame that unpacks packs again, unpacks again
 * (unless it kept unknown fields, see fuzz_util.h), and its encoding goes
 * through a fresh decoder as exactly one frame with the same bytes.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "fuzz_util.h"
#include "wire_frame.h"

#define FUZZ_MAX_FRAME (64u * 1024)

typedef struct frames_seen {
    arena *a;
    uint64_t digest; /* order-sensitive digest of every body handed over */
    size_t count;
} frames_seen;

static uint64_t mix(uint64_t h, const uint8_t *p, size_t n)
{
    h ^= n;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h * 31 + 7;
}

typedef struct expected_frame {
    const uint8_t *body;
    size_t len;
    int seen;
} expected_frame;

static int on_copy(void *ud, const uint8_t *body, size_t len)
{
    expected_frame *e = ud;
    if (e->seen++ != 0 || len != e->len || memcmp(e->body, body, len) != 0)
        abort();
    return 0;
}

static int on_frame(void *ud, const uint8_t *body, size_t len)
{
    frames_seen *s = ud;
    s->digest = mix(s->digest, body, len);
    s->count++;
    Concord__V1__Frame *f = concord__v1__frame__unpack(arena_pbc(s->a), len, body);
    if (f == NULL)
        return 0;
    uint8_t *buf = NULL;
    size_t blen = 0;
    if (wire_frame_pack(f, FUZZ_MAX_FRAME * 2, &buf, &blen) != 0)
        abort();
    wire_decoder d;
    wire_decoder_init(&d, FUZZ_MAX_FRAME * 2);
    size_t packed_body = blen - WIRE_HEADER_SIZE;
    /* The re-encoded body must decode to a message again. */
    Concord__V1__Frame *again =
        concord__v1__frame__unpack(arena_pbc(s->a), packed_body, buf + WIRE_HEADER_SIZE);
    if (again == NULL ? !fuzz_has_unknown(&f->base)
                      : (again->id != f->id || again->kind_case != f->kind_case))
        abort();
    expected_frame e = {buf + WIRE_HEADER_SIZE, packed_body, 0};
    if (wire_decoder_feed(&d, buf, blen, on_copy, &e) != 0 || e.seen != 1 || !wire_decoder_idle(&d))
        abort();
    wire_decoder_free(&d);
    free(buf);
    return 0;
}

/*
 * Feeds the stream whole, or in pieces of 1..97 bytes chosen by a small
 * generator from seed; returns the decoder's result.
 */
static int feed_split(const uint8_t *data, size_t len, int whole, uint32_t seed, frames_seen *s)
{
    wire_decoder d;
    wire_decoder_init(&d, FUZZ_MAX_FRAME);
    int rc = 0;
    size_t off = 0;
    while (off < len && rc == 0) {
        seed = seed * 1103515245u + 12345u;
        size_t piece = whole ? len : 1 + (seed >> 16) % 97;
        if (piece > len - off)
            piece = len - off;
        rc = wire_decoder_feed(&d, data + off, piece, on_frame, s);
        off += piece;
    }
    wire_decoder_free(&d);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    arena a;
    arena_init(&a, 4096);
    frames_seen split = {&a, 0, 0};
    frames_seen whole = {&a, 0, 0};
    int rc_split = feed_split(data + 1, size - 1, 0, data[0], &split);
    arena_reset(&a);
    int rc_whole = feed_split(data + 1, size - 1, 1, 0, &whole);
    /* Splitting a stream differently must not change what comes out of it. */
    if (rc_split != rc_whole || split.count != whole.count || split.digest != whole.digest)
        abort();
    arena_free(&a);
    return 0;
}
