/*
 * test_pb_check.c - encoded requests are checked before unpacking: strings
 * must be valid UTF-8 without NUL (named by path, with repeated indexes), and
 * malformed wire data is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "concord/v1/account.pb-c.h"
#include "pb_check.h"

static size_t pack(const ProtobufCMessage *m, uint8_t *buf)
{
    return protobuf_c_message_pack(m, buf);
}

static void valid_request_passes(void **state)
{
    Concord__V1__CreateAccountRequest req = CONCORD__V1__CREATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    char *tags[] = {"université", "東京", "ok"};
    a.name = "Zürich Hochschule";
    a.n_tags = 3;
    a.tags = tags;
    req.account = &a;
    uint8_t buf[512];
    size_t n = pack(&req.base, buf);
    pb_check_error err;
    assert_int_equal(pb_check(&concord__v1__create_account_request__descriptor, buf, n, &err), 0);
}

static void bad_strings_are_named(void **state)
{
    Concord__V1__CreateAccountRequest req = CONCORD__V1__CREATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account a = CONCORD__V1__ACCOUNT__INIT;
    char bad_utf8[] = {'a', (char)0xc3, (char)0x28, 0};
    char *tags[] = {"fine", bad_utf8};
    a.name = "Name";
    a.n_tags = 2;
    a.tags = tags;
    req.account = &a;
    uint8_t buf[512];
    size_t n = pack(&req.base, buf);
    pb_check_error err;
    assert_int_equal(pb_check(&concord__v1__create_account_request__descriptor, buf, n, &err),
                     CC_EPROTO);
    assert_string_equal(err.field, "account.tags[1]");
    assert_string_equal(err.description, "must be valid UTF-8");

    /* An embedded NUL: protobuf-c would cut the string silently. Patch one into "Name". */
    tags[1] = "fine too";
    n = pack(&req.base, buf);
    uint8_t *hit = NULL;
    for (size_t i = 0; i + 4 <= n && hit == NULL; i++)
        if (memcmp(buf + i, "Name", 4) == 0)
            hit = buf + i;
    assert_non_null(hit);
    hit[2] = 0;
    assert_int_equal(pb_check(&concord__v1__create_account_request__descriptor, buf, n, &err),
                     CC_EPROTO);
    assert_string_equal(err.field, "account.name");
    assert_string_equal(err.description, "must not contain NUL characters");
}

static void utf8_rules(void **state)
{
    assert_true(pb_utf8_valid((const uint8_t *)"plain", 5));
    assert_true(pb_utf8_valid((const uint8_t *)"\xf0\x9f\x98\x80", 4));  /* emoji */
    assert_false(pb_utf8_valid((const uint8_t *)"\xc0\xaf", 2));         /* overlong '/' */
    assert_false(pb_utf8_valid((const uint8_t *)"\xed\xa0\x80", 3));     /* surrogate */
    assert_false(pb_utf8_valid((const uint8_t *)"\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
    assert_false(pb_utf8_valid((const uint8_t *)"\xe2\x82", 2));         /* truncated */
}

static void malformed_wire_data(void **state)
{
    pb_check_error err;
    /* Field 2 (account), length 100, but only 2 bytes follow. */
    const uint8_t truncated[] = {0x0a, 100, 'a', 'b'};
    assert_int_equal(pb_check(&concord__v1__create_account_request__descriptor, truncated,
                              sizeof(truncated), &err),
                     CC_EPROTO);
    /* A varint that never ends. */
    const uint8_t endless[] = {0x08, 0xff, 0xff, 0xff};
    assert_int_equal(
        pb_check(&concord__v1__create_account_request__descriptor, endless, sizeof(endless), &err),
        CC_EPROTO);
    /* Wire type 7 does not exist. */
    const uint8_t wire7[] = {0x0f};
    assert_int_equal(
        pb_check(&concord__v1__create_account_request__descriptor, wire7, sizeof(wire7), &err),
        CC_EPROTO);
    /* Unknown fields are fine: they are skipped. */
    const uint8_t unknown[] = {0xf8, 0x06, 0x01, 0x82, 0x07, 0x01, 0xff};
    assert_int_equal(
        pb_check(&concord__v1__create_account_request__descriptor, unknown, sizeof(unknown), &err),
        0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_request_passes),
        cmocka_unit_test(bad_strings_are_named),
        cmocka_unit_test(utf8_rules),
        cmocka_unit_test(malformed_wire_data),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
