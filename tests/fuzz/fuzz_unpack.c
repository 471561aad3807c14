/*
 * fuzz_unpack.c - protobuf unpacking of every method's request and response
 * message through an arena allocator, as the server and the client do with
 * bytes a peer sent.
 *
 * Input: byte 0 picks the method (modulo their number), byte 1 bit 0 the
 * response type instead of the request; the rest is the encoded message.
 * Invariants checked (abort on violation): a message that unpacks packs and
 * unpacks again (unless it kept unknown fields, see fuzz_util.h); its JSON
 * encoding is always valid JSON, though after a binary unpack strings may
 * hold any bytes and enums any number.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "fuzz_util.h"
#include "pjson.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static size_t n_methods;
    if (n_methods == 0)
        n_methods = fuzz_method_count();
    if (size < 2 || n_methods == 0)
        return 0;
    const ProtobufCMethodDescriptor *md = fuzz_method_at(data[0] % n_methods);
    const ProtobufCMessageDescriptor *desc = (data[1] & 1) ? md->output : md->input;

    arena a;
    arena_init(&a, 4096);
    ProtobufCMessage *m = protobuf_c_message_unpack(desc, arena_pbc(&a), size - 2, data + 2);
    if (m == NULL)
        goto out;

    size_t plen = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(plen ? plen : 1);
    if (buf == NULL || protobuf_c_message_pack(m, buf) != plen)
        abort();
    if (protobuf_c_message_unpack(desc, arena_pbc(&a), plen, buf) == NULL && !fuzz_has_unknown(m))
        abort();
    free(buf);

    char *text = pjson_encode(m);
    if (text == NULL)
        abort();
    json_error_t jerr;
    json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (j == NULL)
        abort();
    json_decref(j);
    /* Decoding the JSON may refuse it (an enum number outside the enum, say); it must not crash. */
    ProtobufCMessage *back = NULL;
    pjson_error err;
    if (pjson_decode(desc, text, strlen(text), arena_pbc(&a), &back, &err) != 0 && back != NULL)
        abort();
    free(text);
out:
    arena_free(&a);
    return 0;
}
