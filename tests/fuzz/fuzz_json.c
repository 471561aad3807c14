/*
 * fuzz_json.c - the proto3 JSON mapping on arbitrary text, for the request
 * and response message of every method in cc_services.
 *
 * Input: byte 0 picks the method (modulo their number), byte 1 bit 0 picks
 * the response type instead of the request, bit 1 the system allocator
 * instead of an arena (so that free_unpacked releases every error path's
 * partial message and LeakSanitizer checks it); the rest is the JSON text.
 * Invariants checked (abort on violation): whatever decodes encodes to JSON
 * that decodes again, to a message that encodes to the same text, and the
 * decoded message packs and unpacks as protobuf.
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
    int use_system = (data[1] & 2) != 0;
    const char *text = (const char *)data + 2;
    size_t len = size - 2;

    arena a;
    arena_init(&a, 4096);
    ProtobufCAllocator *alloc = use_system ? NULL : arena_pbc(&a);
    ProtobufCMessage *m = NULL;
    pjson_error err;
    int rc = pjson_decode(desc, text, len, alloc, &m, &err);
    if (rc != 0) {
        if (m != NULL || (rc != CC_EJSON && rc != CC_ENOMEM) || err.description[0] == '\0')
            abort();
        goto out;
    }

    char *first = pjson_encode(m);
    if (first == NULL)
        abort();
    ProtobufCMessage *m2 = NULL;
    if (pjson_decode(desc, first, strlen(first), arena_pbc(&a), &m2, &err) != 0)
        abort(); /* the encoder wrote something the decoder refuses */
    char *second = pjson_encode(m2);
    if (second == NULL || strcmp(first, second) != 0)
        abort();

    size_t plen = protobuf_c_message_get_packed_size(m);
    uint8_t *buf = malloc(plen ? plen : 1);
    if (buf == NULL || protobuf_c_message_pack(m, buf) != plen)
        abort();
    ProtobufCMessage *m3 = protobuf_c_message_unpack(desc, arena_pbc(&a), plen, buf);
    if (m3 == NULL)
        abort();
    char *third = pjson_encode(m3);
    if (third == NULL || strcmp(first, third) != 0)
        abort();
    free(third);
    free(buf);
    free(second);
    free(first);
out:
    if (use_system && m != NULL)
        protobuf_c_message_free_unpacked(m, NULL);
    arena_free(&a);
    return 0;
}
