/*
 * test_arena.c - the per-request bump allocator: alignment, big allocations
 * in blocks of their own, cleanups run in reverse order at reset and free,
 * reuse of the first block after reset, the string helpers, and protobuf
 * unpacking through arena_pbc (ASan reports any block that is not freed).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "concord/v1/account.pb-c.h"
#include "concord/v1/wire.pb-c.h"

#define ALIGN _Alignof(max_align_t)

static void alignment(void **state)
{
    arena a;
    arena_init(&a, 1024);
    /* Odd sizes in a row: every pointer is still aligned for any type. */
    for (size_t size = 0; size < 200; size++) {
        unsigned char *p = arena_alloc(&a, size);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % ALIGN, 0);
        memset(p, 0xab, size);
    }
    long double *ld = arena_alloc(&a, sizeof(long double) * 3);
    ld[2] = 1.5L;
    assert_true(ld[2] == 1.5L);
    arena_free(&a);
}

static void distinct_and_zeroed(void **state)
{
    arena a;
    arena_init(&a, 256);
    char *p = arena_alloc(&a, 0);
    char *q = arena_alloc(&a, 0);
    assert_non_null(p);
    assert_ptr_not_equal(p, q);
    int *z = arena_calloc(&a, 50, sizeof(int)); /* bigger than a quarter block: own block */
    for (int i = 0; i < 50; i++)
        assert_int_equal(z[i], 0);
    uint64_t *w = arena_calloc(&a, 4, sizeof(uint64_t));
    for (int i = 0; i < 4; i++)
        assert_true(w[i] == 0);
    assert_true(a.total >= 50 * sizeof(int) + 4 * sizeof(uint64_t));
    arena_free(&a);
}

static void big_allocations(void **state)
{
    arena a;
    arena_init(&a, 4096);
    char *small1 = arena_alloc(&a, 100);
    memset(small1, 's', 100);
    /* Much bigger than a block: a block of its own, fully usable (ASan checks the bounds). */
    size_t big_len = 1 << 20;
    unsigned char *big = arena_alloc(&a, big_len);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (unsigned char)i;
    /* The current block keeps serving small requests after the big one. */
    char *small2 = arena_alloc(&a, 100);
    assert_true(small2 > small1 && small2 < small1 + 4096);
    memset(small2, 't', 100);
    unsigned char *big2 = arena_alloc(&a, 3000);
    memset(big2, 0xee, 3000);
    for (size_t i = 0; i < big_len; i += 4099)
        assert_int_equal(big[i], (unsigned char)i);
    for (size_t i = 0; i < 100; i++)
        assert_int_equal(small1[i], 's');
    assert_true(a.total >= big_len + 3000 + 200);

    /* A big first allocation in an empty arena. */
    arena b;
    arena_init(&b, 4096);
    unsigned char *first = arena_alloc(&b, 10000);
    memset(first, 1, 10000);
    char *after = arena_alloc(&b, 10);
    memset(after, 2, 10);
    assert_int_equal(first[9999], 1);
    arena_reset(&b);
    assert_int_equal(b.total, 0);
    arena_free(&b);
    arena_free(&a);
}

typedef struct order_log {
    int calls[8];
    int n;
} order_log;

static order_log log_;

static void note(void *p)
{
    int v = (int)(intptr_t)p;
    if (log_.n < 8)
        log_.calls[log_.n] = v;
    log_.n++;
}

static void cleanups_in_reverse(void **state)
{
    arena a;
    arena_init(&a, 256);
    memset(&log_, 0, sizeof(log_));
    arena_defer(&a, note, (void *)(intptr_t)1);
    arena_alloc(&a, 1000); /* a block of its own between registrations */
    arena_defer(&a, note, (void *)(intptr_t)2);
    arena_defer(&a, note, (void *)(intptr_t)3);
    assert_int_equal(log_.n, 0);
    arena_reset(&a);
    assert_int_equal(log_.n, 3);
    assert_int_equal(log_.calls[0], 3);
    assert_int_equal(log_.calls[1], 2);
    assert_int_equal(log_.calls[2], 1);

    /* They run once: a second reset runs nothing; new ones run at arena_free. */
    arena_reset(&a);
    assert_int_equal(log_.n, 3);
    arena_defer(&a, note, (void *)(intptr_t)4);
    arena_defer(&a, free, malloc(64)); /* e.g. PQclear: the cleanup releases outside memory */
    arena_free(&a);
    assert_int_equal(log_.n, 4);
    assert_int_equal(log_.calls[3], 4);
    arena_free(NULL);
}

static void reuse_after_reset(void **state)
{
    arena a;
    arena_init(&a, 1024);
    char *first = arena_alloc(&a, 64);
    for (int i = 0; i < 100; i++)
        memset(arena_alloc(&a, 200), i, 200); /* several more blocks */
    arena_alloc(&a, 100000);
    assert_true(a.total > 20000);
    arena_reset(&a);
    assert_int_equal(a.total, 0);
    assert_non_null(a.head);
    assert_null(a.cleanups);
    /* One ordinary block survives, empty: the next small request starts at its beginning. */
    char *again = arena_alloc(&a, 64);
    char *next = arena_alloc(&a, 64);
    assert_ptr_equal(next, again + 64);
    memset(again, 0, 128);
    /* A steady stream of small calls allocates nothing new. */
    for (int round = 0; round < 50; round++) {
        arena_reset(&a);
        assert_ptr_equal(arena_alloc(&a, 64), again);
    }
    (void)first;
    arena_free(&a);
    assert_null(a.head);
}

static void strings(void **state)
{
    arena a;
    arena_init(&a, 256);
    assert_null(arena_strdup(&a, NULL));
    char *s = arena_strdup(&a, "concord");
    assert_string_equal(s, "concord");
    char *n = arena_strndup(&a, "account/42", 7);
    assert_string_equal(n, "account");
    char *p = arena_printf(&a, "%s/%d", "account", 42);
    assert_string_equal(p, "account/42");
    /* A long printf result gets a block of its own. */
    char *longp = arena_printf(&a, "%0500d", 7);
    assert_int_equal(strlen(longp), 500);
    assert_int_equal(longp[499], '7');
    arena_free(&a);
}

static void protobuf_unpack(void **state)
{
    Concord__V1__Account acc = CONCORD__V1__ACCOUNT__INIT;
    char *tags[3] = {"edu", "key", "emea"};
    acc.id = "a-1";
    acc.name = "Example University";
    acc.tags = tags;
    acc.n_tags = 3;
    acc.version = 7;
    uint8_t body[256];
    size_t len = concord__v1__account__pack(&acc, body);
    assert_true(len > 0 && len < sizeof(body));

    arena a;
    arena_init(&a, 512);
    for (int round = 0; round < 3; round++) {
        Concord__V1__Account *m = concord__v1__account__unpack(arena_pbc(&a), len, body);
        assert_non_null(m);
        assert_string_equal(m->name, "Example University");
        assert_int_equal(m->n_tags, 3);
        assert_string_equal(m->tags[2], "emea");
        assert_true(m->version == 7);
        assert_true(a.total > 0);
        /* free through the arena allocator is a no-op; everything goes at reset. */
        concord__v1__account__free_unpacked(m, arena_pbc(&a));
        arena_reset(&a);
    }

    /* A frame carrying a call, and a malformed body that fails cleanly. */
    Concord__V1__Frame f = CONCORD__V1__FRAME__INIT;
    Concord__V1__Call c = CONCORD__V1__CALL__INIT;
    c.method = "concord.v1.AccountService/GetAccount";
    c.payload.data = body;
    c.payload.len = len;
    f.id = 99;
    f.kind_case = CONCORD__V1__FRAME__KIND_CALL;
    f.call = &c;
    uint8_t fbuf[512];
    size_t flen = concord__v1__frame__pack(&f, fbuf);
    Concord__V1__Frame *uf = concord__v1__frame__unpack(arena_pbc(&a), flen, fbuf);
    assert_non_null(uf);
    assert_int_equal(uf->kind_case, CONCORD__V1__FRAME__KIND_CALL);
    assert_int_equal(uf->call->payload.len, len);
    assert_memory_equal(uf->call->payload.data, body, len);
    assert_null(concord__v1__frame__unpack(arena_pbc(&a), flen - 3, fbuf));
    arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(alignment),         cmocka_unit_test(distinct_and_zeroed),
        cmocka_unit_test(big_allocations),   cmocka_unit_test(cleanups_in_reverse),
        cmocka_unit_test(reuse_after_reset), cmocka_unit_test(strings),
        cmocka_unit_test(protobuf_unpack),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
