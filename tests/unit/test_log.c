/*
 * test_log.c - log values as cc_log writes them (log_value_write, which the
 * gateway's access log shares with log_event): quoting, escaping, the length
 * limit, and whole lines written by log_event to a pipe.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cc_log.h"

/* The value of v (its first n bytes) as text. */
static const char *value(const char *v, size_t n)
{
    static char out[256];
    size_t len = log_value_write(out, v, n);
    assert_true(len <= 4 * n + 2);
    out[len] = '\0';
    return out;
}

static void plain_values_stay_as_they_are(void **state)
{
    assert_string_equal(value("GET", 3), "GET");
    assert_string_equal(value("/concord.v1.AccountService/GetAccount", 37),
                        "/concord.v1.AccountService/GetAccount");
    assert_string_equal(value("h\xc3\xa9llo", 6), "h\xc3\xa9llo");
}

static void empty_and_special_values_are_quoted(void **state)
{
    assert_string_equal(value("", 0), "\"\"");
    assert_string_equal(value("a b", 3), "\"a b\"");
    assert_string_equal(value("k=v", 3), "\"k=v\"");
    assert_string_equal(value("say \"hi\"", 8), "\"say \\\"hi\\\"\"");
}

static void escapes_keep_one_line(void **state)
{
    assert_string_equal(value("a\nb", 3), "\"a\\nb\"");
    assert_string_equal(value("a\r\tb", 4), "\"a\\r\\tb\"");
    assert_string_equal(value("x\x01y", 3), "\"x\\x01y\"");
    /* A backslash is escaped; DEL is escaped but does not need quotes. */
    assert_string_equal(value("a\\b", 3), "a\\\\b");
    assert_string_equal(value("a\x7f", 2), "a\\x7f");
}

static void length_and_nul_end_the_value(void **state)
{
    assert_string_equal(value("abcdef", 3), "abc");
    assert_string_equal(value("ab\0cd", 5), "ab");
    /* The worst case fills the room the contract promises. */
    assert_string_equal(value("\x01\x02", 2), "\"\\x01\\x02\"");
}

static void log_event_writes_the_same_values(void **state)
{
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    log_setup(LOG_INFO, fds[1]);
    log_event(LOG_INFO, "request", "path", "/a b", "empty", "", "nl", "x\ny", NULL);
    log_event(LOG_DEBUG, "hidden", NULL);
    log_setup(LOG_INFO, 2);
    close(fds[1]);
    char line[512] = {0};
    ssize_t n = read(fds[0], line, sizeof(line) - 1);
    close(fds[0]);
    assert_true(n > 0);
    const char *rest = strstr(line, " level=info event=request ");
    assert_non_null(rest);
    assert_string_equal(rest, " level=info event=request path=\"/a b\" empty=\"\" nl=\"x\\ny\"\n");
    assert_int_equal(strncmp(line, "ts=", 3), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_values_stay_as_they_are),
        cmocka_unit_test(empty_and_special_values_are_quoted),
        cmocka_unit_test(escapes_keep_one_line),
        cmocka_unit_test(length_and_nul_end_the_value),
        cmocka_unit_test(log_event_writes_the_same_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
