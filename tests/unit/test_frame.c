/*
 * test_frame.c - the incremental frame decoder: split and merged frames, bad
 * lengths, the limit checked before allocation, and the encoder (also into a
 * reused buffer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "wire_frame.h"

typedef struct {
    int count;
    size_t lens[16];
    uint8_t first[16];
} seen;

static int on_frame(void *ud, const uint8_t *body, size_t len)
{
    seen *s = ud;
    if (s->count < 16) {
        s->lens[s->count] = len;
        s->first[s->count] = len ? body[0] : 0;
    }
    s->count++;
    return 0;
}

static size_t put_frame(uint8_t *buf, uint8_t fill, uint32_t len)
{
    buf[0] = (uint8_t)(len >> 24);
    buf[1] = (uint8_t)(len >> 16);
    buf[2] = (uint8_t)(len >> 8);
    buf[3] = (uint8_t)len;
    memset(buf + 4, fill, len);
    return 4 + len;
}

static void byte_by_byte(void **state)
{
    uint8_t buf[64];
    size_t n = put_frame(buf, 'a', 10);
    wire_decoder d;
    wire_decoder_init(&d, 100);
    seen s = {0};
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(wire_decoder_feed(&d, buf + i, 1, on_frame, &s), 0);
        assert_int_equal(s.count, i + 1 == n ? 1 : 0);
    }
    assert_int_equal(s.lens[0], 10);
    assert_int_equal(s.first[0], 'a');
    assert_true(wire_decoder_idle(&d));
    wire_decoder_free(&d);
}

static void merged_frames(void **state)
{
    uint8_t buf[128];
    size_t n = put_frame(buf, 'a', 5);
    n += put_frame(buf + n, 'b', 0);
    n += put_frame(buf + n, 'c', 7);
    wire_decoder d;
    wire_decoder_init(&d, 100);
    seen s = {0};
    assert_int_equal(wire_decoder_feed(&d, buf, n, on_frame, &s), 0);
    assert_int_equal(s.count, 3);
    assert_int_equal(s.lens[0], 5);
    assert_int_equal(s.lens[1], 0);
    assert_int_equal(s.lens[2], 7);
    assert_int_equal(s.first[2], 'c');
    wire_decoder_free(&d);
}

static void split_across_reads(void **state)
{
    uint8_t buf[128];
    size_t n = put_frame(buf, 'x', 20);
    n += put_frame(buf + n, 'y', 3);
    wire_decoder d;
    wire_decoder_init(&d, 100);
    seen s = {0};
    /* First read ends inside the second frame's header. */
    assert_int_equal(wire_decoder_feed(&d, buf, 26, on_frame, &s), 0);
    assert_int_equal(s.count, 1);
    assert_false(wire_decoder_idle(&d));
    assert_int_equal(wire_decoder_feed(&d, buf + 26, n - 26, on_frame, &s), 0);
    assert_int_equal(s.count, 2);
    assert_int_equal(s.first[1], 'y');
    wire_decoder_free(&d);
}

static void limit_and_over(void **state)
{
    uint8_t *buf = malloc(4 + 101);
    wire_decoder d;
    seen s = {0};
    wire_decoder_init(&d, 100);
    size_t n = put_frame(buf, 'z', 100);
    assert_int_equal(wire_decoder_feed(&d, buf, n, on_frame, &s), 0);
    assert_int_equal(s.count, 1);
    n = put_frame(buf, 'z', 101);
    /* Only the header: the limit is checked before the body arrives. */
    assert_int_equal(wire_decoder_feed(&d, buf, 4, on_frame, &s), CC_ETOOBIG);
    /* Sticky: later bytes fail too. */
    assert_int_equal(wire_decoder_feed(&d, buf + 4, 1, on_frame, &s), CC_ETOOBIG);
    assert_int_equal(s.count, 1);
    wire_decoder_free(&d);
    free(buf);
}

static void huge_prefix(void **state)
{
    const uint8_t hdr[4] = {0xff, 0xff, 0xff, 0xff};
    wire_decoder d;
    seen s = {0};
    wire_decoder_init(&d, WIRE_DEFAULT_MAX_FRAME);
    assert_int_equal(wire_decoder_feed(&d, hdr, 4, on_frame, &s), CC_ETOOBIG);
    assert_null(d.body);
    wire_decoder_free(&d);
}

static int stop_cb(void *ud, const uint8_t *body, size_t len)
{
    (*(int *)ud)++;
    return CC_EPROTO;
}

static void callback_error_stops(void **state)
{
    uint8_t buf[64];
    size_t n = put_frame(buf, 'a', 3);
    n += put_frame(buf + n, 'b', 3);
    wire_decoder d;
    int calls = 0;
    wire_decoder_init(&d, 100);
    assert_int_equal(wire_decoder_feed(&d, buf, n, stop_cb, &calls), CC_EPROTO);
    assert_int_equal(calls, 1);
    wire_decoder_free(&d);
}

/* A Call frame for GetAccount. */
static void call_frame(Concord__V1__Frame *f, Concord__V1__Call *call, uint64_t id)
{
    concord__v1__frame__init(f);
    concord__v1__call__init(call);
    f->id = id;
    f->kind_case = CONCORD__V1__FRAME__KIND_CALL;
    f->call = call;
    call->method = "concord.v1.AccountService/GetAccount";
}

static void pack_round_trip(void **state)
{
    Concord__V1__Frame f;
    Concord__V1__Call call;
    call_frame(&f, &call, 42);
    uint8_t *out;
    size_t len;
    assert_int_equal(wire_frame_pack(&f, 1 << 20, &out, &len), 0);
    wire_decoder d;
    wire_decoder_init(&d, 1 << 20);
    seen s = {0};
    assert_int_equal(wire_decoder_feed(&d, out, len, on_frame, &s), 0);
    assert_int_equal(s.count, 1);
    assert_int_equal(s.lens[0], len - 4);
    Concord__V1__Frame *g = concord__v1__frame__unpack(NULL, len - 4, out + 4);
    assert_non_null(g);
    assert_int_equal(g->id, 42);
    assert_int_equal(g->kind_case, CONCORD__V1__FRAME__KIND_CALL);
    assert_string_equal(g->call->method, call.method);
    concord__v1__frame__free_unpacked(g, NULL);
    assert_int_equal(wire_frame_pack(&f, 4, &out, &len) == CC_ETOOBIG, 1);
    free(out);
    wire_decoder_free(&d);
}

/* wire_frame_pack_into reuses a buffer that is large enough, grows one that is not, and
 * leaves it alone when the frame is over the limit. */
static void pack_into_reuses(void **state)
{
    Concord__V1__Frame f;
    Concord__V1__Call call;
    call_frame(&f, &call, 7);
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    assert_int_equal(wire_frame_pack_into(&f, 1 << 20, &buf, &cap, &len), 0);
    assert_non_null(buf);
    assert_int_equal(cap, len);
    uint8_t *first = buf;
    size_t small = len;

    call.method = "concord.v1.AccountService/WhoAmI";
    assert_int_equal(wire_frame_pack_into(&f, 1 << 20, &buf, &cap, &len), 0);
    assert_ptr_equal(buf, first);
    assert_int_equal(cap, small);
    assert_true(len < small);
    Concord__V1__Frame *g = concord__v1__frame__unpack(NULL, len - 4, buf + 4);
    assert_non_null(g);
    assert_string_equal(g->call->method, "concord.v1.AccountService/WhoAmI");
    concord__v1__frame__free_unpacked(g, NULL);

    char big[300];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    call.method = big;
    assert_int_equal(wire_frame_pack_into(&f, 1 << 20, &buf, &cap, &len), 0);
    assert_true(cap >= len && len > sizeof(big));
    g = concord__v1__frame__unpack(NULL, len - 4, buf + 4);
    assert_non_null(g);
    assert_string_equal(g->call->method, big);
    concord__v1__frame__free_unpacked(g, NULL);

    uint8_t *grown = buf;
    size_t grown_cap = cap;
    assert_int_equal(wire_frame_pack_into(&f, 16, &buf, &cap, &len), CC_ETOOBIG);
    assert_ptr_equal(buf, grown);
    assert_int_equal(cap, grown_cap);
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(byte_by_byte),       cmocka_unit_test(merged_frames),
        cmocka_unit_test(split_across_reads), cmocka_unit_test(limit_and_over),
        cmocka_unit_test(huge_prefix),        cmocka_unit_test(callback_error_stops),
        cmocka_unit_test(pack_round_trip),    cmocka_unit_test(pack_into_reuses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
