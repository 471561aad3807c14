/*
 * test_srv_lifecycle.c - calendar arithmetic and the lifecycle stage computed
 * from contract dates (server/lifecycle.c): strict date parsing, month steps
 * clamped at month ends and leap days, the acceptance scenario's dates, the
 * handover rules, and a timeline that agrees with the stage of every day.
 */
/* cmocka needs setjmp.h, stdarg.h and stddef.h before it. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "lifecycle.h"
// clang-format on

static lc_day D(const char *text)
{
    lc_day d = 0;
    if (lc_day_parse(text, &d) != 0)
        fail_msg("test date %s does not parse", text);
    return d;
}

static const char *fmt(lc_day d)
{
    static char buf[8][LC_DAY_TEXT];
    static int next;
    next = (next + 1) % 8;
    return lc_day_format(d, buf[next]);
}

static lc_contract K(int64_t id, const char *start, const char *end)
{
    lc_contract c = {id, D(start), D(end)};
    return c;
}

static lc_stage on(const lc_contract *cs, size_t n, const char *day, int64_t *id)
{
    return lc_stage_on(cs, n, D(day), id);
}

static void parse_accepts_real_days_only(void **state)
{
    (void)state;
    lc_day d = 12345;
    assert_int_equal(lc_day_parse("1970-01-01", &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(D("2026-01-15"), 20468);
    assert_int_equal(D("2000-01-01"), 10957);
    assert_int_equal(D("1900-01-01"), -25567);
    assert_int_equal(D("9998-12-31"), 2932531);
    assert_int_equal(D("2028-02-29"), 21243);
    assert_int_equal(lc_day_parse("2000-02-29", &d), 0); /* divisible by 400: leap */

    static const char *const bad[] = {
        "2026-02-29", /* not a leap year */
        "1900-02-29", /* divisible by 100, not by 400 */
        "2026-04-31", "2026-13-01", "2026-00-10", "2026-01-00",  "2026-01-32",  "2026-1-05",
        "2026-01-5",  "26-01-05",   "2026/01/05", " 2026-01-05", "2026-01-05 ", "2026-01-05x",
        "+026-01-05", "2026-01-0a", "",           "1899-12-31", /* before the supported range */
        "9999-01-01",                                           /* after it */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        d = 777;
        if (lc_day_parse(bad[i], &d) != CC_EINVAL)
            fail_msg("\"%s\" was accepted", bad[i]);
        assert_int_equal(d, 777); /* untouched on failure */
    }
    assert_int_equal(lc_day_parse(NULL, &d), CC_EINVAL);
}

static void every_day_round_trips(void **state)
{
    (void)state;
    /* Walk 1900-01-01 .. 2101-01-01 day by day: the formatted text parses back to
     * the same number, and the date advances exactly like a calendar. */
    int y = 1900, m = 1, dd = 1;
    for (lc_day d = D("1900-01-01"); d <= D("2101-01-01"); d++) {
        char want[48];
        snprintf(want, sizeof(want), "%04d-%02d-%02d", y, m, dd);
        assert_string_equal(fmt(d), want);
        assert_int_equal(D(want), d);
        if (++dd > lc_days_in_month(y, m)) {
            dd = 1;
            if (++m > 12) {
                m = 1;
                y++;
            }
        }
    }
    assert_string_equal(fmt(D("9998-12-31")), "9998-12-31");
    assert_int_equal(lc_days_in_month(2024, 2), 29);
    assert_int_equal(lc_days_in_month(2100, 2), 28);
    assert_int_equal(lc_days_in_month(2000, 2), 29);
    assert_int_equal(lc_days_in_month(2026, 4), 30);
}

static void unix_time_to_utc_day(void **state)
{
    (void)state;
    assert_string_equal(fmt(lc_day_from_unix(0)), "1970-01-01");
    assert_string_equal(fmt(lc_day_from_unix(86399)), "1970-01-01");
    assert_string_equal(fmt(lc_day_from_unix(86400)), "1970-01-02");
    assert_string_equal(fmt(lc_day_from_unix(-1)), "1969-12-31");
    assert_string_equal(fmt(lc_day_from_unix(-86400)), "1969-12-31");
    assert_string_equal(fmt(lc_day_from_unix(-86401)), "1969-12-30");
    /* 2026-11-22T10:39:08Z */
    assert_string_equal(fmt(lc_day_from_unix(1795343948)), "2026-11-22");
}

static void months_clamp_to_month_end(void **state)
{
    (void)state;
    static const struct {
        const char *from;
        int months;
        const char *to;
    } cases[] = {
        {"2026-01-15", 2, "2026-03-15"},   {"2026-01-31", 2, "2026-03-31"},
        {"2026-01-31", 1, "2026-02-28"},   {"2028-01-31", 1, "2028-02-29"},
        {"2028-02-29", 12, "2029-02-28"},  {"2028-02-29", -12, "2027-02-28"},
        {"2028-02-29", 48, "2032-02-29"},  {"2026-03-31", -1, "2026-02-28"},
        {"2026-12-15", 1, "2027-01-15"},   {"2026-01-15", -1, "2025-12-15"},
        {"2026-05-31", -15, "2025-02-28"}, {"2026-08-31", 1, "2026-09-30"},
        {"2027-01-15", -3, "2026-10-15"},  {"2026-10-31", 0, "2026-10-31"},
        {"1900-03-31", -1, "1900-02-28"},  {"2000-03-31", -1, "2000-02-29"},
        {"2026-01-01", -24, "2024-01-01"}, {"2026-11-30", 3, "2027-02-28"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = fmt(lc_add_months(D(cases[i].from), cases[i].months));
        if (strcmp(got, cases[i].to) != 0)
            fail_msg("%s %+d months: expected %s, got %s", cases[i].from, cases[i].months,
                     cases[i].to, got);
    }
}

static void no_contract_is_a_prospect(void **state)
{
    (void)state;
    int64_t id = 99;
    assert_int_equal(lc_stage_on(NULL, 0, D("2026-06-01"), &id), LC_PROSPECT);
    assert_int_equal(id, 0);
    lc_period p[2];
    assert_int_equal(lc_timeline(NULL, 0, D("2026-06-01"), p), 1);
    assert_int_equal(p[0].stage, LC_PROSPECT);
    assert_true(p[0].open);
    assert_string_equal(fmt(p[0].start), "2026-06-01");
}

/* The acceptance scenario, day for day. */
static void acceptance_scenario(void **state)
{
    (void)state;
    lc_contract cs[2] = {K(12, "2026-01-15", "2027-01-14")};
    int64_t id = 0;
    assert_int_equal(on(cs, 1, "2026-02-10", &id), LC_ONBOARDING);
    assert_int_equal(id, 12);
    assert_int_equal(on(cs, 1, "2026-06-01", &id), LC_ADOPTION);
    assert_int_equal(on(cs, 1, "2026-11-01", &id), LC_RENEWAL);
    assert_int_equal(id, 12);
    assert_int_equal(on(cs, 1, "2027-02-01", &id), LC_CHURNED);
    assert_int_equal(id, 12);

    /* A new contract after the churn: handover again until it starts. */
    cs[1] = K(13, "2027-03-01", "2028-02-29");
    assert_int_equal(on(cs, 2, "2027-02-01", &id), LC_HANDOVER);
    assert_int_equal(id, 13);
    assert_int_equal(on(cs, 2, "2027-03-01", &id), LC_ONBOARDING);
    /* Adoption is not interrupted; the old renewal window now counts as the
     * handover of the contract signed to follow. */
    assert_int_equal(on(cs, 2, "2026-06-01", &id), LC_ADOPTION);
    assert_int_equal(on(cs, 2, "2026-11-01", &id), LC_HANDOVER);
    assert_int_equal(id, 13);

    /* A renewal signed during the renewal window: back to handover. */
    cs[1] = K(14, "2027-01-15", "2028-01-14");
    assert_int_equal(on(cs, 2, "2026-12-01", &id), LC_HANDOVER);
    assert_int_equal(id, 14);
    assert_int_equal(on(cs, 2, "2027-01-14", &id), LC_HANDOVER);
    assert_int_equal(on(cs, 2, "2027-01-15", &id), LC_ONBOARDING);
    assert_int_equal(id, 14);
    assert_int_equal(on(cs, 2, "2027-02-01", &id), LC_ONBOARDING);
    /* Before the window the signed renewal does not interrupt adoption. */
    assert_int_equal(on(cs, 2, "2026-06-01", &id), LC_ADOPTION);
    assert_int_equal(id, 12);
}

static void stage_boundaries_are_exact(void **state)
{
    (void)state;
    lc_contract c = K(1, "2026-01-15", "2027-01-14");
    static const struct {
        const char *day;
        lc_stage stage;
    } cases[] = {
        {"2025-01-01", LC_HANDOVER}, /* signed, not started */
        {"2026-01-14", LC_HANDOVER}, {"2026-01-15", LC_ONBOARDING}, {"2026-03-14", LC_ONBOARDING},
        {"2026-03-15", LC_ADOPTION}, {"2026-10-14", LC_ADOPTION},   {"2026-10-15", LC_RENEWAL},
        {"2027-01-14", LC_RENEWAL},  {"2027-01-15", LC_CHURNED},    {"2099-01-01", LC_CHURNED},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        lc_stage s = lc_stage_on(&c, 1, D(cases[i].day), NULL);
        if (s != cases[i].stage)
            fail_msg("%s: expected stage %d, got %d", cases[i].day, cases[i].stage, s);
    }
}

static void month_end_and_leap_day_contracts(void **state)
{
    (void)state;
    /* Starts on the 31st: onboarding lasts until the day before 2026-03-31. */
    lc_contract a = K(1, "2026-01-31", "2027-01-30");
    assert_string_equal(fmt(lc_adoption_start(&a)), "2026-03-31");
    assert_int_equal(lc_stage_on(&a, 1, D("2026-03-30"), NULL), LC_ONBOARDING);
    assert_int_equal(lc_stage_on(&a, 1, D("2026-03-31"), NULL), LC_ADOPTION);
    assert_string_equal(fmt(lc_renewal_start(&a)), "2026-10-31");

    /* Starts on 2025-12-31: + 2 months clamps to the end of February. */
    lc_contract b = K(2, "2025-12-31", "2026-12-30");
    assert_string_equal(fmt(lc_adoption_start(&b)), "2026-02-28");
    assert_int_equal(lc_stage_on(&b, 1, D("2026-02-27"), NULL), LC_ONBOARDING);
    assert_int_equal(lc_stage_on(&b, 1, D("2026-02-28"), NULL), LC_ADOPTION);

    /* Ends on a leap day: the window is December, January and February. */
    lc_contract c = K(3, "2027-03-01", "2028-02-29");
    assert_string_equal(fmt(lc_renewal_start(&c)), "2027-12-01");
    assert_int_equal(lc_stage_on(&c, 1, D("2027-11-30"), NULL), LC_ADOPTION);
    assert_int_equal(lc_stage_on(&c, 1, D("2027-12-01"), NULL), LC_RENEWAL);
    assert_int_equal(lc_stage_on(&c, 1, D("2028-02-29"), NULL), LC_RENEWAL);
    assert_int_equal(lc_stage_on(&c, 1, D("2028-03-01"), NULL), LC_CHURNED);

    /* Starts on a leap day: + 2 months is 2028-04-29. */
    lc_contract d = K(4, "2028-02-29", "2029-02-28");
    assert_string_equal(fmt(lc_adoption_start(&d)), "2028-04-29");
    assert_string_equal(fmt(lc_renewal_start(&d)), "2028-12-01");
    assert_int_equal(lc_stage_on(&d, 1, D("2028-04-28"), NULL), LC_ONBOARDING);
    assert_int_equal(lc_stage_on(&d, 1, D("2028-04-29"), NULL), LC_ADOPTION);

    /* Ends on the 30th of a 31-day month: (end + 1) - 3 months. */
    lc_contract e = K(5, "2025-06-01", "2026-05-30");
    assert_string_equal(fmt(lc_renewal_start(&e)), "2026-02-28");
    /* Ends on the last day of a month: the window starts on a 1st. */
    lc_contract f = K(6, "2025-06-01", "2026-05-31");
    assert_string_equal(fmt(lc_renewal_start(&f)), "2026-03-01");
}

static void short_and_overlapping_contracts(void **state)
{
    (void)state;
    /* One day: onboarding on that day, churned the day after. */
    lc_contract one = K(1, "2026-05-05", "2026-05-05");
    assert_int_equal(lc_stage_on(&one, 1, D("2026-05-05"), NULL), LC_ONBOARDING);
    assert_int_equal(lc_stage_on(&one, 1, D("2026-05-06"), NULL), LC_CHURNED);

    /* Three months: onboarding first (the rules check it first), then renewal. */
    lc_contract q = K(2, "2026-01-01", "2026-03-31");
    assert_int_equal(lc_stage_on(&q, 1, D("2026-02-28"), NULL), LC_ONBOARDING);
    assert_int_equal(lc_stage_on(&q, 1, D("2026-03-01"), NULL), LC_RENEWAL);

    /* An expansion starting later does not make an adopting account a handover. */
    lc_contract cs[3] = {K(10, "2026-01-15", "2027-01-14"), K(11, "2026-09-01", "2027-08-31")};
    int64_t id;
    assert_int_equal(lc_stage_on(cs, 2, D("2026-06-01"), &id), LC_ADOPTION);
    assert_int_equal(id, 10);
    /* Once it starts, the contract ending last decides: onboarding of 11. */
    assert_int_equal(lc_stage_on(cs, 2, D("2026-09-02"), &id), LC_ONBOARDING);
    assert_int_equal(id, 11);
    assert_int_equal(lc_stage_on(cs, 2, D("2027-01-10"), &id), LC_ADOPTION);
    assert_int_equal(id, 11);

    /* The input order does not matter. */
    lc_contract rev[3] = {cs[1], cs[0]};
    for (lc_day d = D("2025-12-01"); d <= D("2027-12-31"); d++) {
        int64_t a, b;
        assert_int_equal(lc_stage_on(cs, 2, d, &a), lc_stage_on(rev, 2, d, &b));
        assert_int_equal(a, b);
    }

    /* Several upcoming contracts: the one starting first is handed over. */
    cs[2] = K(12, "2027-06-01", "2028-05-31");
    lc_contract later[2] = {cs[2], K(13, "2027-03-01", "2028-02-29")};
    assert_int_equal(lc_stage_on(later, 2, D("2027-01-01"), &id), LC_HANDOVER);
    assert_int_equal(id, 13);
}

static void expect_period(const lc_period *p, lc_stage stage, const char *start, const char *end,
                          int64_t contract)
{
    if (p->stage != stage || strcmp(fmt(p->start), start) != 0 || p->contract_id != contract ||
        (end == NULL) != (p->open != 0) || (end && strcmp(fmt(p->end), end) != 0))
        fail_msg("period: expected %d %s..%s (%lld), got %d %s..%s%s (%lld)", stage, start,
                 end ? end : "", (long long)contract, p->stage, fmt(p->start), fmt(p->end),
                 p->open ? " open" : "", (long long)p->contract_id);
}

static void timeline_of_the_acceptance_scenario(void **state)
{
    (void)state;
    lc_contract cs[2] = {K(12, "2026-01-15", "2027-01-14")};
    lc_period p[10];
    size_t n = lc_timeline(cs, 1, lc_first_start(cs, 1, 0), p);
    assert_int_equal(n, 4);
    expect_period(&p[0], LC_ONBOARDING, "2026-01-15", "2026-03-14", 12);
    expect_period(&p[1], LC_ADOPTION, "2026-03-15", "2026-10-14", 12);
    expect_period(&p[2], LC_RENEWAL, "2026-10-15", "2027-01-14", 12);
    expect_period(&p[3], LC_CHURNED, "2027-01-15", NULL, 12);

    /* Asked about a day before the start: the timeline starts with the handover. */
    n = lc_timeline(cs, 1, D("2025-12-01"), p);
    assert_int_equal(n, 5);
    expect_period(&p[0], LC_HANDOVER, "2025-12-01", "2026-01-14", 12);

    /* A new contract after a gap: from the old renewal window through the gap
     * the account is handed over to the new contract. */
    cs[1] = K(13, "2027-03-01", "2028-02-29");
    n = lc_timeline(cs, 2, lc_first_start(cs, 2, 0), p);
    assert_int_equal(n, 7);
    expect_period(&p[1], LC_ADOPTION, "2026-03-15", "2026-10-14", 12);
    expect_period(&p[2], LC_HANDOVER, "2026-10-15", "2027-02-28", 13);
    expect_period(&p[3], LC_ONBOARDING, "2027-03-01", "2027-04-30", 13);
    expect_period(&p[4], LC_ADOPTION, "2027-05-01", "2027-11-30", 13);
    expect_period(&p[5], LC_RENEWAL, "2027-12-01", "2028-02-29", 13);
    expect_period(&p[6], LC_CHURNED, "2028-03-01", NULL, 13);

    /* A renewal running on without a gap: the window becomes the handover. */
    cs[1] = K(14, "2027-01-15", "2028-01-14");
    n = lc_timeline(cs, 2, lc_first_start(cs, 2, 0), p);
    assert_int_equal(n, 7);
    expect_period(&p[1], LC_ADOPTION, "2026-03-15", "2026-10-14", 12);
    expect_period(&p[2], LC_HANDOVER, "2026-10-15", "2027-01-14", 14);
    expect_period(&p[3], LC_ONBOARDING, "2027-01-15", "2027-03-14", 14);
    expect_period(&p[6], LC_CHURNED, "2028-01-15", NULL, 14);
}

/* A small deterministic generator for the property test. */
static uint32_t rng_state = 12345;
static uint32_t rnd(uint32_t n)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (rng_state >> 8) % n;
}

static void timeline_agrees_with_every_day(void **state)
{
    (void)state;
    lc_day base = D("2024-01-01");
    for (int round = 0; round < 300; round++) {
        lc_contract cs[5];
        size_t n = 1 + rnd(5);
        for (size_t i = 0; i < n; i++) {
            cs[i].id = (int64_t)i + 1;
            cs[i].start = base + (lc_day)rnd(1500);
            cs[i].end = cs[i].start + (lc_day)rnd(800);
        }
        lc_day from = base - 30;
        lc_period p[4 * 5 + 2];
        size_t np = lc_timeline(cs, n, from, p);
        assert_true(np >= 1 && np <= lc_timeline_max(n));
        assert_true(p[np - 1].open);
        assert_int_equal(p[0].start, from);
        size_t k = 0;
        for (lc_day d = from; d < base + 2500; d++) {
            while (!p[k].open && d > p[k].end)
                k++;
            int64_t id;
            lc_stage s = lc_stage_on(cs, n, d, &id);
            if (s != p[k].stage || id != p[k].contract_id)
                fail_msg("round %d day %s: stage %d (%lld), timeline says %d (%lld)", round, fmt(d),
                         s, (long long)id, p[k].stage, (long long)p[k].contract_id);
        }
        /* Periods are contiguous and neighbours differ. */
        for (size_t i = 1; i < np; i++) {
            assert_int_equal(p[i].start, p[i - 1].end + 1);
            assert_true(p[i].stage != p[i - 1].stage || p[i].contract_id != p[i - 1].contract_id);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts_real_days_only),
        cmocka_unit_test(every_day_round_trips),
        cmocka_unit_test(unix_time_to_utc_day),
        cmocka_unit_test(months_clamp_to_month_end),
        cmocka_unit_test(no_contract_is_a_prospect),
        cmocka_unit_test(acceptance_scenario),
        cmocka_unit_test(stage_boundaries_are_exact),
        cmocka_unit_test(month_end_and_leap_day_contracts),
        cmocka_unit_test(short_and_overlapping_contracts),
        cmocka_unit_test(timeline_of_the_acceptance_scenario),
        cmocka_unit_test(timeline_agrees_with_every_day),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
