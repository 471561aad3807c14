/*
 * tier_rules.h - account tier rules evaluated over an account's metrics: the
 * pure part of tiering (no database, no logging), unit-tested on its own.
 *
 * The tier service collects each account's metrics as of a day with SQL and
 * hands them here with the active rules; the result is the tier the rules give
 * and one reason line per threshold checked, so that people can see why.
 *
 * Rules of higher tiers are tried first (every S rule, then every A rule, in
 * the order given); the first rule whose every set threshold (non-zero) is met
 * gives its tier; a subscribed account meeting none is tier B.
 */
#ifndef SRV_TIER_RULES_H
#define SRV_TIER_RULES_H

#include "arena.h"
#include "cc_error.h"
#include <stddef.h>
#include <stdint.h>

/* Tiers, numbered as concord.v1.Tier so that values pass through unchanged. */
enum {
    TIER_NONE = 0,    /* not tiered (prospects) */
    TIER_LEVEL_S = 1, /* strategic */
    TIER_LEVEL_A = 2, /* key */
    TIER_LEVEL_B = 3, /* general: every other subscribed account */
};

/** One rule, as stored in concord.tier_rules. Strings are borrowed. */
typedef struct tier_rule {
    int64_t id;
    int tier; /* TIER_LEVEL_S or TIER_LEVEL_A */
    const char *name;
    int64_t min_annual_value_minor; /* 0: not checked */
    const char *currency;           /* ISO 4217 code of the value threshold */
    int64_t min_engagements;
    int64_t min_stakeholder_levels;
    int64_t min_stakeholders;
    int64_t min_icp_total;
    int64_t min_health; /* not evaluated until health scores exist */
    int active;         /* inactive rules are skipped */
} tier_rule;

/** Annual value of the contracts live on the as-of day in one currency. */
typedef struct tier_money {
    const char *currency;
    int64_t minor;
} tier_money;

/** What the rules look at, for one account as of one day. */
typedef struct tier_metrics {
    const tier_money *values; /* one entry per currency, any order */
    size_t n_values;
    int64_t engagements;        /* activities in the 365 days ending with the as-of day */
    int64_t stakeholders;       /* stakeholders known */
    int64_t stakeholder_levels; /* distinct levels among them (0-3) */
    int64_t icp_total;          /* ideal-customer-profile total (0-25) */
} tier_metrics;

/** The outcome of tier_evaluate; everything lives in the arena given. */
typedef struct tier_result {
    int tier;              /* TIER_LEVEL_S, _A or _B */
    const tier_rule *rule; /* the rule that gave the tier; NULL for B */
    const char **reasons;  /* one line per rule tried and per threshold checked */
    size_t n_reasons;
} tier_result;

/**
 * Evaluates the rules for one account. Inactive rules and rules of other
 * tiers than S and A are skipped. The reasons say, for every rule tried, each
 * threshold's value against the rule, "met" or "not met", and end with the
 * result line. Allocates from a (which aborts on out-of-memory).
 */
void tier_evaluate(arena *a, const tier_rule *rules, size_t n_rules, const tier_metrics *m,
                   tier_result *out);

/** "S", "A", "B" or "none". */
const char *tier_letter(int tier);

/**
 * Digits after the decimal point of a currency's minor unit (ISO 4217): 2 for
 * most, 0 for e.g. JPY and KRW, 3 for e.g. KWD and BHD.
 */
int tier_currency_exponent(const char *currency);

/** Writes "120000.00 EUR" (minor units shown in major units) into buf. */
void tier_format_money(int64_t minor, const char *currency, char *buf, size_t len);

/** True when s has the shape of an ISO 4217 code: three upper-case letters. */
int tier_currency_valid(const char *s);

/**
 * Parses a calendar date "YYYY-MM-DD" strictly (years 1-9999, a real day of
 * that month). Returns 0, or CC_EINVAL.
 */
int tier_date_parse(const char *s, int *year, int *month, int *day) CC_MUST_CHECK;

/** Days in a month of a year (Gregorian). */
int tier_days_in_month(int year, int month);

/** True when the date is the last day of its month. */
int tier_date_is_month_end(int year, int month, int day);

/*
 * The month-end evaluation, a scheduler task (implemented in
 * services/tier_service.c, registered in server/scheduler.c's srv_tasks[]).
 * When the UTC date is the last day of its month and the system has not yet
 * evaluated every account as of that day, it evaluates them and stores the
 * proposals, under a transaction-level advisory lock so that several concordd
 * instances do it once.
 */
struct srv_call;
int tier_task_month_end(struct srv_call *c);

#endif
