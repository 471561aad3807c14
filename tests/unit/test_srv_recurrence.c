/*
 * test_srv_recurrence.c - calendar dates and event occurrences
 * (server/recurrence.c): strict parsing, day numbers, once and yearly
 * events, leap days and the inclusive edges of the window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include "recurrence.h"

static srv_rec_date D(const char *text)
{
    srv_rec_date d = {0, 0, 0};
    if (srv_rec_parse(text, &d) != 0)
        fail_msg("test date %s does not parse", text);
    return d;
}

static void assert_date(srv_rec_date d, const char *want)
{
    char buf[SRV_REC_DATE_LEN];
    srv_rec_format(d, buf);
    assert_string_equal(buf, want);
}

/* The occurrences as "d1 d2 ..." for compact assertions. */
static const char *occ(const char *first, srv_rec_kind kind, const char *from, const char *to)
{
    static char text[256];
    srv_rec_date out[8];
    size_t n = srv_rec_occurrences(D(first), kind, D(from), D(to), out, 8);
    text[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        char buf[SRV_REC_DATE_LEN];
        srv_rec_format(out[i], buf);
        if (i)
            strcat(text, " ");
        strcat(text, buf);
    }
    return text;
}

static void parsing_is_strict(void **state)
{
    (void)state;
    srv_rec_date d = {1, 1, 1};
    assert_int_equal(srv_rec_parse("2026-01-15", &d), 0);
    assert_int_equal(d.year, 2026);
    assert_int_equal(d.month, 1);
    assert_int_equal(d.day, 15);
    assert_int_equal(srv_rec_parse("2024-02-29", &d), 0);
    assert_int_equal(srv_rec_parse("2000-02-29", &d), 0);
    const char *bad[] = {"2026-02-29", "1900-02-29", "2026-02-30", "2026-04-31", "2026-13-01",
                         "2026-00-10", "2026-01-00", "0000-01-01", "2026-1-15",  "2026-01-5",
                         "26-01-15",   "2026/01/15", "2026-01-15x", "2026-01-1",  "",
                         "2026-01-15 ", " 2026-01-15", "+026-01-15", "2026-0a-15"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        srv_rec_date keep = {7, 7, 7};
        if (srv_rec_parse(bad[i], &keep) != CC_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(keep.year, 7); /* untouched on failure */
    }
    assert_int_equal(srv_rec_parse(NULL, &d), CC_EINVAL);
    assert_int_equal(srv_rec_parse("9999-12-31", &d), 0);
    assert_int_equal(srv_rec_parse("0001-01-01", &d), 0);
}

static void leap_years(void **state)
{
    (void)state;
    assert_true(srv_rec_is_leap(2024));
    assert_true(srv_rec_is_leap(2000));
    assert_false(srv_rec_is_leap(1900));
    assert_false(srv_rec_is_leap(2100));
    assert_false(srv_rec_is_leap(2026));
    assert_int_equal(srv_rec_days_in_month(2028, 2), 29);
    assert_int_equal(srv_rec_days_in_month(2027, 2), 28);
    assert_int_equal(srv_rec_days_in_month(2027, 13), 0);
}

static void day_numbers_match_unix_time(void **state)
{
    (void)state;
    assert_int_equal(srv_rec_to_days(D("1970-01-01")), 0);
    assert_int_equal(srv_rec_to_days(D("1969-12-31")), -1);
    assert_int_equal(srv_rec_to_days(D("2000-03-01")), 11017);
    /* Every day of four centuries round-trips and agrees with the C library's UTC calendar. */
    int64_t start = srv_rec_to_days(D("1900-01-01"));
    int64_t end = srv_rec_to_days(D("2300-12-31"));
    srv_rec_date prev = srv_rec_from_days(start - 1);
    for (int64_t n = start; n <= end; n++) {
        srv_rec_date d = srv_rec_from_days(n);
        assert_true(srv_rec_valid(d));
        assert_int_equal(srv_rec_to_days(d), n);
        assert_true(srv_rec_compare(prev, d) < 0);
        prev = d;
        if (n % 97 == 0) {
            time_t t = (time_t)(n * 86400 + 3600);
            struct tm tm;
            gmtime_r(&t, &tm);
            assert_int_equal(d.year, tm.tm_year + 1900);
            assert_int_equal(d.month, tm.tm_mon + 1);
            assert_int_equal(d.day, tm.tm_mday);
        }
    }
    assert_date(srv_rec_from_unix(0), "1970-01-01");
    assert_date(srv_rec_from_unix(-1), "1969-12-31");
    assert_date(srv_rec_from_unix(1767225599), "2025-12-31");
    assert_date(srv_rec_from_unix(1767225600), "2026-01-01");
    assert_date(srv_rec_from_days(srv_rec_to_days(D("9999-12-31"))), "9999-12-31");
    assert_date(srv_rec_from_days(srv_rec_to_days(D("0001-01-01"))), "0001-01-01");
}

static void once_events_occur_on_their_date_only(void **state)
{
    (void)state;
    assert_string_equal(occ("2026-03-10", SRV_REC_ONCE, "2026-03-01", "2026-03-31"),
                        "2026-03-10");
    /* The edges of the window are included. */
    assert_string_equal(occ("2026-03-10", SRV_REC_ONCE, "2026-03-10", "2026-03-10"),
                        "2026-03-10");
    assert_string_equal(occ("2026-03-10", SRV_REC_ONCE, "2026-02-08", "2026-03-10"),
                        "2026-03-10");
    assert_string_equal(occ("2026-03-10", SRV_REC_ONCE, "2026-03-11", "2026-04-10"), "");
    assert_string_equal(occ("2026-03-10", SRV_REC_ONCE, "2026-02-01", "2026-03-09"), "");
    /* Not the next year either. */
    assert_string_equal(occ("2025-03-10", SRV_REC_ONCE, "2026-03-01", "2026-03-31"), "");
    /* An empty window has nothing. */
    assert_string_equal(occ("2026-03-10", SRV_REC_ONCE, "2026-03-11", "2026-03-09"), "");
}

static void yearly_events_repeat_from_their_first_date(void **state)
{
    (void)state;
    assert_string_equal(occ("2019-06-15", SRV_REC_YEARLY, "2026-06-01", "2026-06-30"),
                        "2026-06-15");
    /* Not before the first occurrence. */
    assert_string_equal(occ("2027-06-15", SRV_REC_YEARLY, "2026-06-01", "2026-06-30"), "");
    assert_string_equal(occ("2026-06-15", SRV_REC_YEARLY, "2026-06-15", "2026-06-15"),
                        "2026-06-15");
    assert_string_equal(occ("2026-06-15", SRV_REC_YEARLY, "2026-06-16", "2027-06-14"), "");
    assert_string_equal(occ("2026-06-15", SRV_REC_YEARLY, "2026-06-16", "2027-06-15"),
                        "2027-06-15");
    /* A window across the new year finds the occurrence on either side of it. */
    assert_string_equal(occ("2010-12-31", SRV_REC_YEARLY, "2026-12-15", "2027-01-14"),
                        "2026-12-31");
    assert_string_equal(occ("2010-01-02", SRV_REC_YEARLY, "2026-12-15", "2027-01-14"),
                        "2027-01-02");
    /* A window of 366 days may hold two occurrences. */
    assert_string_equal(occ("2020-03-01", SRV_REC_YEARLY, "2026-03-01", "2027-03-01"),
                        "2026-03-01 2027-03-01");
    assert_string_equal(occ("2020-03-01", SRV_REC_YEARLY, "2021-01-01", "2024-12-31"),
                        "2021-03-01 2022-03-01 2023-03-01 2024-03-01");
}

static void leap_day_falls_on_28_february_in_common_years(void **state)
{
    (void)state;
    assert_string_equal(occ("2024-02-29", SRV_REC_YEARLY, "2025-02-01", "2025-03-31"),
                        "2025-02-28");
    assert_string_equal(occ("2024-02-29", SRV_REC_YEARLY, "2028-02-01", "2028-03-31"),
                        "2028-02-29");
    assert_string_equal(occ("2024-02-29", SRV_REC_YEARLY, "2028-02-28", "2028-02-28"), "");
    assert_string_equal(occ("2024-02-29", SRV_REC_YEARLY, "2100-02-28", "2100-03-01"),
                        "2100-02-28");
    assert_string_equal(occ("2024-02-29", SRV_REC_YEARLY, "2024-01-01", "2028-12-31"),
                        "2024-02-29 2025-02-28 2026-02-28 2027-02-28 2028-02-29");
    /* A once-only leap-day event stays where it is. */
    assert_string_equal(occ("2024-02-29", SRV_REC_ONCE, "2025-02-01", "2025-03-31"), "");
}

static void output_is_capped(void **state)
{
    (void)state;
    srv_rec_date out[3];
    size_t n = srv_rec_occurrences(D("2000-05-05"), SRV_REC_YEARLY, D("2001-01-01"),
                                   D("2030-12-31"), out, 3);
    assert_int_equal(n, 3);
    assert_date(out[2], "2003-05-05");
    assert_int_equal(srv_rec_occurrences(D("2000-05-05"), SRV_REC_YEARLY, D("2001-01-01"),
                                         D("2030-12-31"), out, 0),
                     0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parsing_is_strict),
        cmocka_unit_test(leap_years),
        cmocka_unit_test(day_numbers_match_unix_time),
        cmocka_unit_test(once_events_occur_on_their_date_only),
        cmocka_unit_test(yearly_events_repeat_from_their_first_date),
        cmocka_unit_test(leap_day_falls_on_28_february_in_common_years),
        cmocka_unit_test(output_is_capped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
