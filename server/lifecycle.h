/*
 * lifecycle.h - the lifecycle stage of an account computed from the dates of
 * its active contracts: calendar-date arithmetic, the stage on a day and the
 * whole timeline of stages. Pure functions: no database, no clock, no logging.
 *
 * Rules (docs/account-view/contracts.md explains them for people). A contract
 * covers the days [start, end]. On a day D:
 *   - no contract at all                                   -> PROSPECT
 *   - a contract is current when start <= D <= end, upcoming when start > D
 *   - an upcoming contract and (no current one, or the current one is in its
 *     renewal window)                                      -> HANDOVER
 *   - a current contract (the one ending last when several overlap):
 *       D < start + 2 months                               -> ONBOARDING
 *       D < (end + 1 day) - 3 months                       -> ADOPTION
 *       otherwise (the last three months)                  -> RENEWAL
 *   - only past contracts                                  -> CHURNED
 * Months are calendar months; a day past the end of the target month is
 * clamped to its last day (2026-01-31 + 1 month = 2026-02-28).
 *
 * The scheduler task that refreshes every account's stage once a day is
 * declared here too (implemented in services/contract_service.c).
 */
#ifndef SRV_LIFECYCLE_H
#define SRV_LIFECYCLE_H

#include "cc_error.h"
#include <stddef.h>
#include <stdint.h>

/** A calendar day: days since 1970-01-01 (negative before). */
typedef int32_t lc_day;

/** Bytes needed by lc_day_format, terminator included. */
#define LC_DAY_TEXT 16

/** First and last day a contract or as-of date may name (years 1900-9998). */
#define LC_DAY_MIN_TEXT "1900-01-01"
#define LC_DAY_MAX_TEXT "9998-12-31"

/**
 * Stages; the values are those of concord.v1.LifecycleStage so that a stage
 * crosses into a protobuf message unchanged.
 */
typedef enum lc_stage {
    LC_UNKNOWN = 0,    /* not computed */
    LC_PROSPECT = 1,   /* no contract yet: owned by sales */
    LC_HANDOVER = 2,   /* a contract is signed and waits to start (new or renewal) */
    LC_ONBOARDING = 3, /* the first two months of the current contract */
    LC_ADOPTION = 4,   /* from month two until the last three months */
    LC_RENEWAL = 5,    /* the last three months before the current contract ends */
    LC_CHURNED = 6,    /* every contract ended without a renewal */
} lc_stage;

/** One active contract as the lifecycle sees it. */
typedef struct lc_contract {
    int64_t id;   /* carried through to the results */
    lc_day start; /* first day */
    lc_day end;   /* last day, not before start */
} lc_contract;

/** One stretch of equal stage (and equal deciding contract). */
typedef struct lc_period {
    lc_stage stage;
    lc_day start;        /* first day */
    lc_day end;          /* last day; meaningless when open */
    int open;            /* 1: lasts forever (the final stretch) */
    int64_t contract_id; /* the contract that decides the stage, 0 for none */
} lc_period;

/** Day number of a proleptic Gregorian date; m 1-12, d 1-31 (not checked). */
lc_day lc_day_from_ymd(int y, int m, int d);
/** The date of a day number. */
void lc_day_to_ymd(lc_day day, int *y, int *m, int *d);
/** Days in month m (1-12) of year y. */
int lc_days_in_month(int y, int m);
/** The UTC calendar day of a Unix time in seconds. */
lc_day lc_day_from_unix(int64_t seconds);

/**
 * Parses exactly "YYYY-MM-DD" naming a real calendar day between
 * LC_DAY_MIN_TEXT and LC_DAY_MAX_TEXT. Returns 0, or CC_EINVAL (and leaves
 * *out alone) for anything else: other shapes, 2026-02-29, spaces, signs.
 */
int lc_day_parse(const char *text, lc_day *out) CC_MUST_CHECK;
/** Writes "YYYY-MM-DD" into buf (LC_DAY_TEXT bytes); returns buf. */
char *lc_day_format(lc_day day, char *buf);

/** day + months calendar months (months may be negative), clamped to the month's end. */
lc_day lc_add_months(lc_day day, int months);

/** First day of the onboarding stretch's successor: start + 2 months. */
lc_day lc_adoption_start(const lc_contract *c);
/** First day of the renewal window: (end + 1 day) - 3 months. */
lc_day lc_renewal_start(const lc_contract *c);

/**
 * The stage on day as_of given the active contracts (any order). When
 * contract_id is not NULL it receives the id of the contract that decides the
 * stage: the current one (ONBOARDING, ADOPTION, RENEWAL), the upcoming one
 * starting first (HANDOVER), the one that ended last (CHURNED), 0 (PROSPECT).
 */
lc_stage lc_stage_on(const lc_contract *cs, size_t n, lc_day as_of, int64_t *contract_id);

/** Slots lc_timeline may fill for n contracts. */
size_t lc_timeline_max(size_t n);

/**
 * The stages the contracts imply from day `from` on, oldest first, adjacent
 * days with the same stage and deciding contract merged. The last period is
 * open (CHURNED after the last contract, or PROSPECT without contracts).
 * out must hold lc_timeline_max(n) periods; returns how many were written
 * (at least 1).
 */
size_t lc_timeline(const lc_contract *cs, size_t n, lc_day from, lc_period *out);

/** The earliest start of the contracts, or fallback when n is 0. */
lc_day lc_first_start(const lc_contract *cs, size_t n, lc_day fallback);

struct srv_call;
/**
 * Scheduler task: once per UTC day (recorded in concord.stage_refreshes,
 * under an advisory lock) recomputes the stage as of today of every account
 * with contracts, recording transitions. Register in server/scheduler.c as
 * {"refresh_stages", contract_task_refresh_stages}.
 */
int contract_task_refresh_stages(struct srv_call *c);

#endif
