/*
 * fuzz_gateway_route.c - the gateway's request routing and header parsing on
 * arbitrary bytes: path classification, the Connect method a path names, the
 * session cookie in a Cookie header, cookie value checks and CSRF token
 * comparison. Nothing may crash, read out of bounds or disagree with itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gw_auth.h"
#include "gw_route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;

    gw_route_kind kind = gw_route(s, size);
    const ProtobufCServiceDescriptor *svc = NULL;
    const ProtobufCMethodDescriptor *m = gw_route_method(s, size, &svc);
    /* A path that names a method is always routed to the Connect handler. */
    if (m != NULL && kind != GW_ROUTE_CONNECT)
        abort();
    if (m != NULL && svc == NULL)
        abort();

    const char *val = NULL;
    size_t val_len = 0;
    if (gw_cookie_find(s, size, GW_SESSION_COOKIE, &val, &val_len)) {
        if (val < s || val + val_len > s + size)
            abort();
        (void)gw_cookie_value_ok(val, val_len);
    }

    static const unsigned char key[32] = {1, 2, 3};
    char csrf[GW_CSRF_LEN];
    size_t half = size / 2;
    if (gw_csrf_token(key, sizeof(key), s, half, csrf) == 0) {
        /* The token made for a session must be accepted for it, and the rest of the
         * input (almost always something else) must not crash the comparison. */
        if (!gw_csrf_valid(key, sizeof(key), s, half, csrf, strlen(csrf)))
            abort();
        (void)gw_csrf_valid(key, sizeof(key), s, half, s + half, size - half);
    }

    char *b64 = malloc(4 * (size / 3 + 1) + 1);
    if (b64 != NULL) {
        size_t n = gw_base64url(data, size, b64);
        if (n > 4 * (size / 3 + 1))
            abort();
        free(b64);
    }
    return 0;
}
