/*
 * arena.c - per-request bump allocator.
 *
 * Blocks form a list, newest first. A request larger than a quarter of the
 * block size gets a block of its own so that big payloads do not waste the
 * rest of an ordinary block. The first block survives arena_reset so that a
 * steady stream of small calls allocates nothing.
 */
#include "arena.h"
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    arena_block *next;
    size_t size; /* usable bytes in data */
    size_t used;
    _Alignas(max_align_t) unsigned char data[];
};

struct arena_cleanup {
    arena_cleanup *next;
    void (*fn)(void *);
    void *ptr;
};

#define ALIGN_UP(n) (((n) + _Alignof(max_align_t) - 1) & ~(size_t)(_Alignof(max_align_t) - 1))

static void *pbc_alloc(void *ud, size_t size)
{
    return arena_alloc(ud, size);
}
static void pbc_free(void *ud, void *ptr)
{
    (void)ud, (void)ptr;
}

static arena_block *block_new(size_t size)
{
    arena_block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        abort(); /* internal allocation: out of memory is fatal (see STYLE: xmalloc) */
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

void arena_init(arena *a, size_t block_size)
{
    memset(a, 0, sizeof(*a));
    a->block_size = block_size < 256 ? 256 : block_size;
    a->pbc.alloc = pbc_alloc;
    a->pbc.free = pbc_free;
    a->pbc.allocator_data = a;
}

void *arena_alloc(arena *a, size_t size)
{
    size = ALIGN_UP(size ? size : 1);
    arena_block *b = a->head;
    if (b == NULL || b->size - b->used < size) {
        if (size > a->block_size / 4) {
            /* A big request gets its own block, linked behind the current one. */
            arena_block *big = block_new(size);
            big->used = size;
            if (b == NULL) {
                a->head = big;
            } else {
                big->next = b->next;
                b->next = big;
            }
            a->total += size;
            return big->data;
        }
        b = block_new(a->block_size);
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += size;
    a->total += size;
    return p;
}

void *arena_calloc(arena *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        abort();
    void *p = arena_alloc(a, n * size);
    memset(p, 0, n * size);
    return p;
}

char *arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *arena_strdup(arena *a, const char *s)
{
    return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    char *p = arena_alloc(a, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_defer(arena *a, void (*fn)(void *), void *ptr)
{
    arena_cleanup *c = arena_alloc(a, sizeof(*c));
    c->fn = fn;
    c->ptr = ptr;
    c->next = a->cleanups;
    a->cleanups = c;
}

static void run_cleanups(arena *a)
{
    /* Cleanups live in the arena itself, so run them all before any block goes. */
    for (arena_cleanup *c = a->cleanups; c != NULL; c = c->next)
        c->fn(c->ptr);
    a->cleanups = NULL;
}

void arena_reset(arena *a)
{
    run_cleanups(a);
    arena_block *keep = NULL;
    arena_block *b = a->head;
    while (b != NULL) {
        arena_block *next = b->next;
        if (keep == NULL && b->size == a->block_size) {
            keep = b;
        } else {
            free(b);
        }
        b = next;
    }
    if (keep != NULL) {
        keep->next = NULL;
        keep->used = 0;
    }
    a->head = keep;
    a->total = 0;
}

void arena_free(arena *a)
{
    if (a == NULL)
        return;
    run_cleanups(a);
    arena_block *b = a->head;
    while (b != NULL) {
        arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->total = 0;
}
