/*
 * test_srv_tier_rules.c - tier rule evaluation (server/tier_rules.c): which
 * tier the rules give, the reason lines people read, thresholds that are not
 * set, inactive rules, currencies, and the date and money helpers.
 */
/* clang-format off: cmocka.h needs the standard headers before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "tier_rules.h"
/* clang-format on */

static arena a;

static int setup(void **state)
{
    (void)state;
    arena_init(&a, 4096);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    arena_free(&a);
    return 0;
}

/* The two default rules of the migration. */
static const tier_rule defaults[] = {
    {.id = 1,
     .tier = TIER_LEVEL_S,
     .name = "Strategic",
     .min_annual_value_minor = 10000000,
     .currency = "EUR",
     .min_engagements = 12,
     .min_stakeholder_levels = 3,
     .active = 1},
    {.id = 2,
     .tier = TIER_LEVEL_A,
     .name = "Key",
     .min_annual_value_minor = 2000000,
     .currency = "EUR",
     .min_engagements = 4,
     .min_stakeholder_levels = 2,
     .active = 1},
};

static int has_line(const tier_result *r, const char *line)
{
    for (size_t i = 0; i < r->n_reasons; i++)
        if (strcmp(r->reasons[i], line) == 0)
            return 1;
    return 0;
}

static void dump(const tier_result *r)
{
    for (size_t i = 0; i < r->n_reasons; i++)
        fprintf(stderr, "  reason[%zu] %s\n", i, r->reasons[i]);
}

#define ASSERT_LINE(r, line)                                                                       \
    do {                                                                                           \
        if (!has_line((r), (line))) {                                                              \
            dump(r);                                                                               \
            fail_msg("missing reason line: %s", (line));                                           \
        }                                                                                          \
    } while (0)

static void strategic_account_is_s(void **state)
{
    (void)state;
    tier_money v[] = {{"EUR", 12000000}};
    tier_metrics m = {
        .values = v, .n_values = 1, .engagements = 15, .stakeholder_levels = 3, .stakeholders = 7};
    tier_result r;
    tier_evaluate(&a, defaults, 2, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_S);
    assert_ptr_equal(r.rule, &defaults[0]);
    ASSERT_LINE(&r, "S rule \"Strategic\" (id 1): met");
    ASSERT_LINE(&r, "S: annual value 120000.00 EUR >= 100000.00 EUR: met");
    ASSERT_LINE(&r, "S: engagements 15 >= 12: met");
    ASSERT_LINE(&r, "S: stakeholder levels 3 >= 3: met");
    ASSERT_LINE(&r, "result: tier S by rule \"Strategic\"");
    /* The A rule is not tried once S is met: rule line + 3 thresholds + result. */
    assert_int_equal(r.n_reasons, 5);
}

static void falls_to_a_with_every_failed_threshold_named(void **state)
{
    (void)state;
    tier_money v[] = {{"EUR", 5000000}};
    tier_metrics m = {.values = v, .n_values = 1, .engagements = 5, .stakeholder_levels = 2};
    tier_result r;
    tier_evaluate(&a, defaults, 2, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_A);
    ASSERT_LINE(&r, "S rule \"Strategic\" (id 1): not met");
    ASSERT_LINE(&r, "S: annual value 50000.00 EUR < 100000.00 EUR: not met");
    ASSERT_LINE(&r, "S: engagements 5 < 12: not met");
    ASSERT_LINE(&r, "S: stakeholder levels 2 < 3: not met");
    ASSERT_LINE(&r, "A rule \"Key\" (id 2): met");
    ASSERT_LINE(&r, "A: annual value 50000.00 EUR >= 20000.00 EUR: met");
    ASSERT_LINE(&r, "A: engagements 5 >= 4: met");
    ASSERT_LINE(&r, "A: stakeholder levels 2 >= 2: met");
    ASSERT_LINE(&r, "result: tier A by rule \"Key\"");
    assert_int_equal(r.n_reasons, 9);
    /* The rule line comes before its thresholds, the result last. */
    assert_string_equal(r.reasons[0], "S rule \"Strategic\" (id 1): not met");
    assert_string_equal(r.reasons[8], "result: tier A by rule \"Key\"");
}

static void one_threshold_short_is_b(void **state)
{
    (void)state;
    tier_money v[] = {{"EUR", 9999999}};
    /* Big enough for A on value and levels, one engagement short. */
    tier_metrics m = {.values = v, .n_values = 1, .engagements = 3, .stakeholder_levels = 3};
    tier_result r;
    tier_evaluate(&a, defaults, 2, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_B);
    assert_null(r.rule);
    ASSERT_LINE(&r, "A: engagements 3 < 4: not met");
    ASSERT_LINE(&r, "S: annual value 99999.99 EUR < 100000.00 EUR: not met");
    ASSERT_LINE(&r, "result: tier B (no S or A rule met)");
}

static void other_currencies_do_not_count(void **state)
{
    (void)state;
    tier_money v[] = {{"USD", 50000000}, {"EUR", 100}};
    tier_metrics m = {.values = v, .n_values = 2, .engagements = 40, .stakeholder_levels = 3};
    tier_result r;
    tier_evaluate(&a, defaults, 2, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_B);
    ASSERT_LINE(&r, "S: annual value 1.00 EUR < 100000.00 EUR: not met (not counted: "
                    "500000.00 USD)");
    /* No contract at all is a value of zero. */
    tier_metrics none = {.engagements = 40, .stakeholder_levels = 3};
    tier_evaluate(&a, defaults, 2, &none, &r);
    ASSERT_LINE(&r, "A: annual value 0.00 EUR < 20000.00 EUR: not met");
}

static void unset_thresholds_are_not_checked(void **state)
{
    (void)state;
    /* A rule on engagements only: value, levels and the rest produce no lines. */
    tier_rule rules[] = {
        {.id = 7, .tier = TIER_LEVEL_A, .name = "Busy", .min_engagements = 2, .active = 1},
    };
    tier_metrics m = {.engagements = 2};
    tier_result r;
    tier_evaluate(&a, rules, 1, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_A);
    assert_int_equal(r.n_reasons, 3);
    ASSERT_LINE(&r, "A: engagements 2 >= 2: met");
    /* A rule with no threshold set is met by every subscribed account. */
    tier_rule empty[] = {{.id = 8, .tier = TIER_LEVEL_S, .name = "All", .active = 1}};
    tier_metrics zero = {0};
    tier_evaluate(&a, empty, 1, &zero, &r);
    assert_int_equal(r.tier, TIER_LEVEL_S);
}

static void stakeholders_and_icp_thresholds(void **state)
{
    (void)state;
    tier_rule rules[] = {
        {.id = 3,
         .tier = TIER_LEVEL_S,
         .name = "Wide",
         .min_stakeholders = 5,
         .min_icp_total = 18,
         .active = 1},
    };
    tier_metrics m = {.stakeholders = 5, .icp_total = 17};
    tier_result r;
    tier_evaluate(&a, rules, 1, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_B);
    ASSERT_LINE(&r, "S: stakeholders 5 >= 5: met");
    ASSERT_LINE(&r, "S: ICP total 17 < 18: not met");
    m.icp_total = 18;
    tier_evaluate(&a, rules, 1, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_S);
}

static void health_is_reported_but_not_evaluated(void **state)
{
    (void)state;
    tier_rule rules[] = {
        {.id = 4,
         .tier = TIER_LEVEL_A,
         .name = "Healthy",
         .min_engagements = 1,
         .min_health = 80,
         .active = 1},
    };
    tier_metrics m = {.engagements = 1};
    tier_result r;
    tier_evaluate(&a, rules, 1, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_A);
    ASSERT_LINE(&r, "A: health: not evaluated yet");
}

static void inactive_rules_and_order(void **state)
{
    (void)state;
    /* Given A first and S second: S is still tried first. The inactive S rule
     * that every account meets is skipped. */
    tier_rule rules[] = {
        {.id = 10, .tier = TIER_LEVEL_A, .name = "A any", .active = 1},
        {.id = 11, .tier = TIER_LEVEL_S, .name = "S off", .active = 0},
        {.id = 12, .tier = TIER_LEVEL_S, .name = "S busy", .min_engagements = 100, .active = 1},
        {.id = 13, .tier = TIER_LEVEL_S, .name = "S wide", .min_stakeholders = 2, .active = 1},
    };
    tier_metrics m = {.engagements = 5, .stakeholders = 1};
    tier_result r;
    tier_evaluate(&a, rules, 4, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_A);
    assert_int_equal(r.rule->id, 10);
    assert_string_equal(r.reasons[0], "S rule \"S busy\" (id 12): not met");
    ASSERT_LINE(&r, "S rule \"S wide\" (id 13): not met");
    for (size_t i = 0; i < r.n_reasons; i++)
        assert_null(strstr(r.reasons[i], "S off"));
    /* The second S rule gives S when it is met. */
    m.stakeholders = 2;
    tier_evaluate(&a, rules, 4, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_S);
    assert_int_equal(r.rule->id, 13);
    /* No rules at all: B. */
    tier_evaluate(&a, rules, 0, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_B);
    assert_int_equal(r.n_reasons, 1);
}

static void many_rules_grow_the_reasons(void **state)
{
    (void)state;
    tier_rule rules[40];
    for (int i = 0; i < 40; i++)
        rules[i] = (tier_rule){.id = i + 1,
                               .tier = TIER_LEVEL_S,
                               .name = "r",
                               .min_engagements = 10,
                               .min_stakeholders = 10,
                               .active = 1};
    tier_metrics m = {0};
    tier_result r;
    tier_evaluate(&a, rules, 40, &m, &r);
    assert_int_equal(r.tier, TIER_LEVEL_B);
    assert_int_equal(r.n_reasons, 40 * 3 + 1);
    assert_string_equal(r.reasons[117], "S rule \"r\" (id 40): not met");
}

static void money_formatting(void **state)
{
    (void)state;
    char buf[64];
    tier_format_money(12000000, "EUR", buf, sizeof(buf));
    assert_string_equal(buf, "120000.00 EUR");
    tier_format_money(5, "EUR", buf, sizeof(buf));
    assert_string_equal(buf, "0.05 EUR");
    tier_format_money(1500000, "JPY", buf, sizeof(buf));
    assert_string_equal(buf, "1500000 JPY");
    tier_format_money(1234, "KWD", buf, sizeof(buf));
    assert_string_equal(buf, "1.234 KWD");
    tier_format_money(-250, "USD", buf, sizeof(buf));
    assert_string_equal(buf, "-2.50 USD");
    tier_format_money(INT64_MIN, "USD", buf, sizeof(buf));
    assert_string_equal(buf, "-92233720368547758.08 USD");
    tier_format_money(100, "", buf, sizeof(buf));
    assert_string_equal(buf, "1.00");
}

static void currency_shape(void **state)
{
    (void)state;
    assert_true(tier_currency_valid("EUR"));
    assert_false(tier_currency_valid("eur"));
    assert_false(tier_currency_valid("EU"));
    assert_false(tier_currency_valid("EURO"));
    assert_false(tier_currency_valid(""));
    assert_false(tier_currency_valid(NULL));
    assert_int_equal(tier_currency_exponent("JPY"), 0);
    assert_int_equal(tier_currency_exponent("BHD"), 3);
    assert_int_equal(tier_currency_exponent("CHF"), 2);
    /* Not a code: the default, and no partial matches across the list. */
    assert_int_equal(tier_currency_exponent("PY "), 2);
}

static void dates(void **state)
{
    (void)state;
    int y, m, d;
    assert_int_equal(tier_date_parse("2026-11-30", &y, &m, &d), 0);
    assert_int_equal(y, 2026);
    assert_int_equal(m, 11);
    assert_int_equal(d, 30);
    assert_int_equal(tier_date_parse("2028-02-29", &y, &m, &d), 0);
    assert_int_equal(tier_date_parse("2026-02-29", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse("2026-11-31", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse("2026-13-01", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse("2026-1-01", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse("2026-11-30T00", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse("0000-01-01", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse("2026/11/30", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse("", &y, &m, &d), CC_EINVAL);
    assert_int_equal(tier_date_parse(NULL, &y, &m, &d), CC_EINVAL);

    assert_true(tier_date_is_month_end(2026, 11, 30));
    assert_false(tier_date_is_month_end(2026, 11, 29));
    assert_true(tier_date_is_month_end(2026, 12, 31));
    assert_true(tier_date_is_month_end(2026, 2, 28));
    assert_false(tier_date_is_month_end(2028, 2, 28));
    assert_true(tier_date_is_month_end(2028, 2, 29));
    assert_true(tier_date_is_month_end(2000, 2, 29));
    assert_true(tier_date_is_month_end(2100, 2, 28));
    assert_int_equal(tier_days_in_month(2100, 2), 28);
    assert_int_equal(tier_days_in_month(2026, 4), 30);
}

static void letters(void **state)
{
    (void)state;
    assert_string_equal(tier_letter(TIER_LEVEL_S), "S");
    assert_string_equal(tier_letter(TIER_LEVEL_A), "A");
    assert_string_equal(tier_letter(TIER_LEVEL_B), "B");
    assert_string_equal(tier_letter(TIER_NONE), "none");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(strategic_account_is_s),
        cmocka_unit_test(falls_to_a_with_every_failed_threshold_named),
        cmocka_unit_test(one_threshold_short_is_b),
        cmocka_unit_test(other_currencies_do_not_count),
        cmocka_unit_test(unset_thresholds_are_not_checked),
        cmocka_unit_test(stakeholders_and_icp_thresholds),
        cmocka_unit_test(health_is_reported_but_not_evaluated),
        cmocka_unit_test(inactive_rules_and_order),
        cmocka_unit_test(many_rules_grow_the_reasons),
        cmocka_unit_test(money_formatting),
        cmocka_unit_test(currency_shape),
        cmocka_unit_test(dates),
        cmocka_unit_test(letters),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
