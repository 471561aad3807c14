/*
 * tier_rules.c - evaluates tier rules over one account's metrics, with the
 * reasons people read, and the small date and money helpers tiering needs.
 *
 * Invariants: pure functions of their arguments (no clock, no database, no
 * logging); a threshold of 0 is never checked and never produces a line; the
 * health threshold is reported as not evaluated and never blocks a rule until
 * health scores exist; every result ends with one "result: ..." line.
 */
#include "tier_rules.h"
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

const char *tier_letter(int tier)
{
    switch (tier) {
    case TIER_LEVEL_S:
        return "S";
    case TIER_LEVEL_A:
        return "A";
    case TIER_LEVEL_B:
        return "B";
    default:
        return "none";
    }
}

int tier_currency_exponent(const char *currency)
{
    /* The currencies whose minor unit is not the cent; every other has 2 digits. */
    static const char zero[] =
        "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF";
    static const char three[] = "BHD IQD JOD KWD LYD OMR TND";
    if (!tier_currency_valid(currency))
        return 2;
    if (strstr(zero, currency) != NULL)
        return 0;
    if (strstr(three, currency) != NULL)
        return 3;
    return 2;
}

void tier_format_money(int64_t minor, const char *currency, char *buf, size_t len)
{
    int exp = tier_currency_exponent(currency);
    const char *sign = minor < 0 ? "-" : "";
    /* Work on the magnitude as unsigned so that INT64_MIN does not overflow. */
    uint64_t mag = minor < 0 ? (uint64_t)0 - (uint64_t)minor : (uint64_t)minor;
    uint64_t scale = exp == 0 ? 1 : exp == 3 ? 1000 : 100;
    const char *cur = currency && *currency ? currency : "";
    const char *space = *cur ? " " : "";
    if (exp == 0)
        snprintf(buf, len, "%s%" PRIu64 "%s%s", sign, mag, space, cur);
    else
        snprintf(buf, len, "%s%" PRIu64 ".%0*" PRIu64 "%s%s", sign, mag / scale, exp, mag % scale,
                 space, cur);
}

int tier_currency_valid(const char *s)
{
    if (s == NULL || strlen(s) != 3)
        return 0;
    for (int i = 0; i < 3; i++)
        if (s[i] < 'A' || s[i] > 'Z')
            return 0;
    return 1;
}

int tier_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && ((year % 4 == 0 && year % 100 != 0) || year % 400 == 0))
        return 29;
    return days[month - 1];
}

int tier_date_is_month_end(int year, int month, int day)
{
    return day >= 28 && day == tier_days_in_month(year, month);
}

static int digits(const char *s, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        *v = *v * 10 + (s[i] - '0');
    }
    return 0;
}

int tier_date_parse(const char *s, int *year, int *month, int *day)
{
    int y, m, d;
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return CC_EINVAL;
    if (digits(s, 4, &y) != 0 || digits(s + 5, 2, &m) != 0 || digits(s + 8, 2, &d) != 0)
        return CC_EINVAL;
    if (y < 1 || m < 1 || m > 12 || d < 1 || d > tier_days_in_month(y, m))
        return CC_EINVAL;
    *year = y;
    *month = m;
    *day = d;
    return 0;
}

/* Reasons grow in the arena; the array is reallocated by doubling. */
typedef struct reasons {
    arena *a;
    const char **lines;
    size_t n, cap;
} reasons;

static void add_line(reasons *r, const char *line)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 16;
        const char **lines = arena_alloc(r->a, cap * sizeof(*lines));
        if (r->n)
            memcpy(lines, r->lines, r->n * sizeof(*lines));
        r->lines = lines;
        r->cap = cap;
    }
    r->lines[r->n++] = line;
}

/* One "at least" threshold: returns whether it is met and adds its line. */
static int check_min(reasons *r, const char *letter, const char *what, int64_t have, int64_t min)
{
    int met = have >= min;
    add_line(r, arena_printf(r->a, "%s: %s %" PRId64 " %s %" PRId64 ": %s", letter, what, have,
                             met ? ">=" : "<", min, met ? "met" : "not met"));
    return met;
}

static int check_value(reasons *r, const char *letter, const tier_rule *rule, const tier_metrics *m)
{
    int64_t have = 0;
    char others[256] = "";
    size_t ol = 0;
    for (size_t i = 0; i < m->n_values; i++) {
        const tier_money *v = &m->values[i];
        if (v->currency && rule->currency && strcmp(v->currency, rule->currency) == 0) {
            have = v->minor;
        } else if (v->minor != 0 && ol < sizeof(others) - 1) {
            /* Contracts in other currencies are named, so nobody wonders where they went. */
            char money[64];
            tier_format_money(v->minor, v->currency, money, sizeof(money));
            snprintf(others + ol, sizeof(others) - ol, "%s%s", ol ? ", " : "", money);
            ol = strlen(others);
        }
    }
    char have_text[64], min_text[64];
    tier_format_money(have, rule->currency, have_text, sizeof(have_text));
    tier_format_money(rule->min_annual_value_minor, rule->currency, min_text, sizeof(min_text));
    int met = have >= rule->min_annual_value_minor;
    add_line(r, arena_printf(r->a, "%s: annual value %s %s %s: %s%s%s%s", letter, have_text,
                             met ? ">=" : "<", min_text, met ? "met" : "not met",
                             ol ? " (not counted: " : "", others, ol ? ")" : ""));
    return met;
}

/* Checks every set threshold of one rule; each gets its line, met or not. */
static int rule_met(reasons *r, const tier_rule *rule, const tier_metrics *m)
{
    const char *letter = tier_letter(rule->tier);
    int met = 1;
    size_t header = r->n;
    add_line(r, ""); /* the rule's own line, filled in once its outcome is known */
    if (rule->min_annual_value_minor > 0)
        met &= check_value(r, letter, rule, m);
    if (rule->min_engagements > 0)
        met &= check_min(r, letter, "engagements", m->engagements, rule->min_engagements);
    if (rule->min_stakeholder_levels > 0)
        met &= check_min(r, letter, "stakeholder levels", m->stakeholder_levels,
                         rule->min_stakeholder_levels);
    if (rule->min_stakeholders > 0)
        met &= check_min(r, letter, "stakeholders", m->stakeholders, rule->min_stakeholders);
    if (rule->min_icp_total > 0)
        met &= check_min(r, letter, "ICP total", m->icp_total, rule->min_icp_total);
    if (rule->min_health > 0)
        add_line(r, arena_printf(r->a, "%s: health: not evaluated yet", letter));
    r->lines[header] =
        arena_printf(r->a, "%s rule \"%s\" (id %" PRId64 "): %s", letter,
                     rule->name ? rule->name : "", rule->id, met ? "met" : "not met");
    return met;
}

void tier_evaluate(arena *a, const tier_rule *rules, size_t n_rules, const tier_metrics *m,
                   tier_result *out)
{
    static const int order[] = {TIER_LEVEL_S, TIER_LEVEL_A};
    reasons r = {.a = a};
    out->tier = TIER_LEVEL_B;
    out->rule = NULL;
    for (size_t t = 0; t < sizeof(order) / sizeof(order[0]) && out->rule == NULL; t++) {
        for (size_t i = 0; i < n_rules; i++) {
            const tier_rule *rule = &rules[i];
            if (!rule->active || rule->tier != order[t])
                continue;
            if (rule_met(&r, rule, m)) {
                out->tier = rule->tier;
                out->rule = rule;
                break;
            }
        }
    }
    if (out->rule != NULL)
        add_line(&r, arena_printf(a, "result: tier %s by rule \"%s\"", tier_letter(out->tier),
                                  out->rule->name ? out->rule->name : ""));
    else
        add_line(&r, "result: tier B (no S or A rule met)");
    out->reasons = r.lines;
    out->n_reasons = r.n;
}
