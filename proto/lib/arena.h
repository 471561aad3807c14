/*
 * arena.h - a per-request bump allocator.
 *
 * Everything a call needs (unpacked protobuf messages, strings, PGresults via
 * cleanups) is allocated from one arena and released at once by arena_reset()
 * or arena_free() after the reply is queued. Nothing is freed one by one.
 * Not thread-safe: an arena belongs to one call at a time.
 */
#ifndef ARENA_H
#define ARENA_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>

typedef struct arena_block arena_block;
typedef struct arena_cleanup arena_cleanup;

typedef struct arena {
    arena_block *head;       /* newest block; allocation happens here */
    arena_cleanup *cleanups; /* run in reverse order of registration */
    size_t block_size;       /* size of ordinary blocks */
    size_t total;            /* bytes handed out since the last reset */
    ProtobufCAllocator pbc;  /* protobuf-c allocator backed by this arena */
} arena;

/** Initialises an arena whose ordinary blocks hold block_size bytes. */
void arena_init(arena *a, size_t block_size);
/** Returns size bytes aligned for any type; aborts on out-of-memory. */
void *arena_alloc(arena *a, size_t size);
/** Like arena_alloc, zero-filled. */
void *arena_calloc(arena *a, size_t n, size_t size);
/** Copies a NUL-terminated string into the arena (NULL stays NULL). */
char *arena_strdup(arena *a, const char *s);
/** Copies n bytes and a terminating NUL into the arena. */
char *arena_strndup(arena *a, const char *s, size_t n);
/** printf into the arena. */
char *arena_printf(arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Registers fn(ptr) to run at the next reset/free (e.g. PQclear). */
void arena_defer(arena *a, void (*fn)(void *), void *ptr);
/** Runs cleanups and frees all blocks but the first, which is kept for reuse. */
void arena_reset(arena *a);
/** Runs cleanups and frees everything. Accepts NULL. */
void arena_free(arena *a);

/** The protobuf-c allocator view of the arena: free is a no-op. */
static inline ProtobufCAllocator *arena_pbc(arena *a)
{
    return &a->pbc;
}

#endif
