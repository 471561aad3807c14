/*
 * recurrence.h - calendar dates and the occurrences of a dated event within a
 * window (the key-event calendar).
 *
 * Pure logic: no clock, no database, no logging. Dates are proleptic
 * Gregorian days of the years 1 to 9999, as PostgreSQL's `date` stores them
 * and as the wire carries them ("YYYY-MM-DD").
 */
#ifndef SRV_RECURRENCE_H
#define SRV_RECURRENCE_H

#include <stddef.h>
#include <stdint.h>
#include "cc_error.h"

/** A calendar day. Valid only when srv_rec_valid() says so. */
typedef struct srv_rec_date {
    int year;  /* 1..9999 */
    int month; /* 1..12 */
    int day;   /* 1..days in the month */
} srv_rec_date;

/** How an event repeats. */
typedef enum {
    SRV_REC_ONCE = 0,   /* only on its date */
    SRV_REC_YEARLY = 1, /* every year from its date on; 29 February is 28 February in other years */
} srv_rec_kind;

/** Length of "YYYY-MM-DD" plus the terminating NUL. */
#define SRV_REC_DATE_LEN 11

/** True for leap years of the Gregorian calendar. */
int srv_rec_is_leap(int year);
/** Days in month (1..12) of year; 0 for a month out of range. */
int srv_rec_days_in_month(int year, int month);
/** True when d names a real day of the years 1 to 9999. */
int srv_rec_valid(srv_rec_date d);

/**
 * Parses exactly "YYYY-MM-DD" (ten characters, digits and dashes) naming a
 * real day ("2026-02-30" and "2026-2-3" are refused). Returns 0, or CC_EINVAL
 * leaving *out untouched.
 */
int srv_rec_parse(const char *text, srv_rec_date *out) CC_MUST_CHECK;
/** Writes d as "YYYY-MM-DD" into buf (at least SRV_REC_DATE_LEN bytes). */
void srv_rec_format(srv_rec_date d, char *buf);

/** Days since 1970-01-01 (negative before it). d must be valid. */
int64_t srv_rec_to_days(srv_rec_date d);
/** The day that many days after 1970-01-01 (the inverse of srv_rec_to_days). */
srv_rec_date srv_rec_from_days(int64_t days);
/** The UTC day of a Unix time. */
srv_rec_date srv_rec_from_unix(int64_t seconds);
/** <0, 0 or >0 as a is before, on or after b. */
int srv_rec_compare(srv_rec_date a, srv_rec_date b);

/**
 * Writes the occurrences of an event first dated `first` that fall within
 * [from, to] (both inclusive) into out, in date order, at most max of them,
 * and returns how many it wrote. No occurrence precedes `first`. A yearly
 * event first dated 29 February occurs on 28 February in common years and
 * on 29 February again in leap years. An empty window (to before from)
 * has none.
 */
size_t srv_rec_occurrences(srv_rec_date first, srv_rec_kind kind, srv_rec_date from,
                           srv_rec_date to, srv_rec_date *out, size_t max);

#endif
