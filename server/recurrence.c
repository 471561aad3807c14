/*
 * recurrence.c - calendar dates and the occurrences of a dated event within a
 * window (see recurrence.h).
 *
 * Day numbers count from 1970-01-01 so that they agree with Unix time; they
 * are computed from a calendar that starts its years on 1 March, which puts
 * the leap day at the end of the year and makes the month lengths a simple
 * formula. Invariant: srv_rec_from_days(srv_rec_to_days(d)) == d for every
 * valid d.
 */
#include "recurrence.h"

int srv_rec_is_leap(int year)
{
    return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

int srv_rec_days_in_month(int year, int month)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (month < 1 || month > 12)
        return 0;
    if (month == 2 && srv_rec_is_leap(year))
        return 29;
    return days[month - 1];
}

int srv_rec_valid(srv_rec_date d)
{
    return d.year >= 1 && d.year <= 9999 && d.month >= 1 && d.month <= 12 && d.day >= 1 &&
           d.day <= srv_rec_days_in_month(d.year, d.month);
}

/* The value of n decimal digits at s, or -1 if any is not a digit. */
static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int srv_rec_parse(const char *text, srv_rec_date *out)
{
    if (text == NULL)
        return CC_EINVAL;
    /* Check the length first so that a short string is never read past its end. */
    for (int i = 0; i < 10; i++)
        if (text[i] == '\0')
            return CC_EINVAL;
    if (text[10] != '\0' || text[4] != '-' || text[7] != '-')
        return CC_EINVAL;
    srv_rec_date d = {digits(text, 4), digits(text + 5, 2), digits(text + 8, 2)};
    if (!srv_rec_valid(d))
        return CC_EINVAL;
    *out = d;
    return 0;
}

/* Writes the n lowest decimal digits of v (taken as non-negative) at buf. */
static void put_digits(char *buf, int v, int n)
{
    unsigned u = v < 0 ? 0u : (unsigned)v;
    for (int i = n - 1; i >= 0; i--) {
        buf[i] = (char)('0' + u % 10);
        u /= 10;
    }
}

void srv_rec_format(srv_rec_date d, char *buf)
{
    put_digits(buf, d.year, 4);
    buf[4] = '-';
    put_digits(buf + 5, d.month, 2);
    buf[7] = '-';
    put_digits(buf + 8, d.day, 2);
    buf[10] = '\0';
}

/* Floor division for the negative day numbers before 1970. */
static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t srv_rec_to_days(srv_rec_date d)
{
    /* Years start on 1 March: January and February belong to the year before. */
    int64_t y = d.month <= 2 ? d.year - 1 : d.year;
    int64_t m = d.month <= 2 ? d.month + 9 : d.month - 3; /* 0 = March ... 11 = February */
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;                                 /* 0..399 */
    int64_t doy = (153 * m + 2) / 5 + d.day - 1;                 /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;         /* 0..146096 */
    return era * 146097 + doe - 719468; /* 719468: days from 0000-03-01 to 1970-01-01 */
}

srv_rec_date srv_rec_from_days(int64_t days)
{
    int64_t z = days + 719468;
    int64_t era = floor_div(z, 146097);
    int64_t doe = z - era * 146097;                                      /* 0..146096 */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* 0..399 */
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* 0..365 */
    int64_t mp = (5 * doy + 2) / 153;                                    /* 0 = March */
    srv_rec_date d;
    d.day = (int)(doy - (153 * mp + 2) / 5 + 1);
    d.month = (int)(mp < 10 ? mp + 3 : mp - 9);
    d.year = (int)(yoe + era * 400 + (d.month <= 2));
    return d;
}

srv_rec_date srv_rec_from_unix(int64_t seconds)
{
    return srv_rec_from_days(floor_div(seconds, 86400));
}

int srv_rec_compare(srv_rec_date a, srv_rec_date b)
{
    if (a.year != b.year)
        return a.year < b.year ? -1 : 1;
    if (a.month != b.month)
        return a.month < b.month ? -1 : 1;
    if (a.day != b.day)
        return a.day < b.day ? -1 : 1;
    return 0;
}

static int within(srv_rec_date d, srv_rec_date from, srv_rec_date to)
{
    return srv_rec_compare(d, from) >= 0 && srv_rec_compare(d, to) <= 0;
}

size_t srv_rec_occurrences(srv_rec_date first, srv_rec_kind kind, srv_rec_date from,
                           srv_rec_date to, srv_rec_date *out, size_t max)
{
    size_t n = 0;
    if (max == 0 || srv_rec_compare(to, from) < 0)
        return 0;
    if (kind != SRV_REC_YEARLY) {
        if (within(first, from, to))
            out[n++] = first;
        return n;
    }
    /* One candidate per year of the window, never before the first date. */
    int year = first.year > from.year ? first.year : from.year;
    for (; year <= to.year && n < max; year++) {
        srv_rec_date d = {year, first.month, first.day};
        int last = srv_rec_days_in_month(year, first.month);
        if (d.day > last)
            d.day = last; /* 29 February in a common year */
        if (within(d, from, to) && srv_rec_compare(d, first) >= 0)
            out[n++] = d;
    }
    return n;
}
