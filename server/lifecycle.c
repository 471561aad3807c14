/*
 * lifecycle.c - calendar arithmetic and the lifecycle stage computed from
 * contract dates (rules in lifecycle.h).
 *
 * Invariants: days are plain integers (days since 1970-01-01 in the
 * proleptic Gregorian calendar), so comparing and stepping days is integer
 * arithmetic; only month steps go through year/month/day. The stage is a
 * function of the contract dates alone: when a contract was recorded does not
 * matter, so the stage of any past or future day can be asked for.
 */
#include "lifecycle.h"
#include <string.h>

/* Days from 0000-03-01 to 1970-01-01: the civil calendar below counts years
 * from March so that the leap day is the last day of its year. */
#define DAYS_0000_03_01_TO_EPOCH 719468
#define DAYS_PER_400_YEARS 146097

lc_day lc_day_from_ymd(int y, int m, int d)
{
    /* Years start in March: January and February belong to the year before. */
    if (m <= 2)
        y -= 1;
    int era = (y >= 0 ? y : y - 399) / 400;
    int year_of_era = y - era * 400;                            /* 0..399 */
    int month_from_march = m > 2 ? m - 3 : m + 9;               /* 0..11 */
    int day_of_year = (153 * month_from_march + 2) / 5 + d - 1; /* 0..365 */
    int day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    return (lc_day)(era * DAYS_PER_400_YEARS + day_of_era - DAYS_0000_03_01_TO_EPOCH);
}

void lc_day_to_ymd(lc_day day, int *y, int *m, int *d)
{
    int z = (int)day + DAYS_0000_03_01_TO_EPOCH;
    int era = (z >= 0 ? z : z - (DAYS_PER_400_YEARS - 1)) / DAYS_PER_400_YEARS;
    int day_of_era = z - era * DAYS_PER_400_YEARS; /* 0..146096 */
    int year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36524 - day_of_era / 146096) / 365;
    int day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    int month_from_march = (5 * day_of_year + 2) / 153;
    *d = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    *m = month_from_march < 10 ? month_from_march + 3 : month_from_march - 9;
    *y = year_of_era + era * 400 + (*m <= 2);
}

int lc_days_in_month(int y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m < 1 || m > 12)
        return 0;
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return days[m - 1];
}

lc_day lc_day_from_unix(int64_t seconds)
{
    /* Floor division: one second before the epoch is still 1969-12-31. */
    int64_t days = seconds / 86400;
    if (seconds % 86400 < 0)
        days -= 1;
    return (lc_day)days;
}

static int two_digits(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

int lc_day_parse(const char *text, lc_day *out)
{
    if (text == NULL || strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return CC_EINVAL;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (text[i] < '0' || text[i] > '9'))
            return CC_EINVAL;
    int y = two_digits(text) * 100 + two_digits(text + 2);
    int m = two_digits(text + 5);
    int d = two_digits(text + 8);
    if (y < 1900 || y > 9998 || m < 1 || m > 12 || d < 1 || d > lc_days_in_month(y, m))
        return CC_EINVAL;
    *out = lc_day_from_ymd(y, m, d);
    return 0;
}

char *lc_day_format(lc_day day, char *buf)
{
    int y, m, d;
    lc_day_to_ymd(day, &y, &m, &d);
    /* Years past 9999 cannot come from lc_day_parse input plus a few months. */
    int n = 0;
    buf[n++] = (char)('0' + (y / 1000) % 10);
    buf[n++] = (char)('0' + (y / 100) % 10);
    buf[n++] = (char)('0' + (y / 10) % 10);
    buf[n++] = (char)('0' + y % 10);
    buf[n++] = '-';
    buf[n++] = (char)('0' + m / 10);
    buf[n++] = (char)('0' + m % 10);
    buf[n++] = '-';
    buf[n++] = (char)('0' + d / 10);
    buf[n++] = (char)('0' + d % 10);
    buf[n] = '\0';
    return buf;
}

lc_day lc_add_months(lc_day day, int months)
{
    int y, m, d;
    lc_day_to_ymd(day, &y, &m, &d);
    int total = y * 12 + (m - 1) + months;
    int ny = total >= 0 ? total / 12 : -((-total + 11) / 12);
    int nm = total - ny * 12 + 1;
    int last = lc_days_in_month(ny, nm);
    return lc_day_from_ymd(ny, nm, d < last ? d : last);
}

lc_day lc_adoption_start(const lc_contract *c)
{
    return lc_add_months(c->start, 2);
}

/* Counted back from the day after the end, so that a contract ending on the
 * last day of February has December, January and February as its window. */
lc_day lc_renewal_start(const lc_contract *c)
{
    return lc_add_months(c->end + 1, -3);
}

/* Tie-breaks keep the choice of deciding contract independent of input order. */
static int ends_later(const lc_contract *a, const lc_contract *b)
{
    if (a->end != b->end)
        return a->end > b->end;
    if (a->start != b->start)
        return a->start > b->start;
    return a->id > b->id;
}

static int starts_sooner(const lc_contract *a, const lc_contract *b)
{
    if (a->start != b->start)
        return a->start < b->start;
    if (a->end != b->end)
        return a->end > b->end;
    return a->id < b->id;
}

lc_stage lc_stage_on(const lc_contract *cs, size_t n, lc_day as_of, int64_t *contract_id)
{
    const lc_contract *current = NULL, *upcoming = NULL, *past = NULL;
    for (size_t i = 0; i < n; i++) {
        const lc_contract *c = &cs[i];
        if (c->start > as_of) {
            if (upcoming == NULL || starts_sooner(c, upcoming))
                upcoming = c;
        } else if (c->end >= as_of) {
            if (current == NULL || ends_later(c, current))
                current = c;
        } else if (past == NULL || ends_later(c, past)) {
            past = c;
        }
    }
    lc_stage stage;
    const lc_contract *by = NULL;
    if (upcoming && (current == NULL || as_of >= lc_renewal_start(current))) {
        stage = LC_HANDOVER;
        by = upcoming;
    } else if (current) {
        by = current;
        if (as_of < lc_adoption_start(current))
            stage = LC_ONBOARDING;
        else if (as_of < lc_renewal_start(current))
            stage = LC_ADOPTION;
        else
            stage = LC_RENEWAL;
    } else if (past) {
        stage = LC_CHURNED;
        by = past;
    } else {
        stage = LC_PROSPECT;
    }
    if (contract_id)
        *contract_id = by ? by->id : 0;
    return stage;
}

size_t lc_timeline_max(size_t n)
{
    return 4 * n + 2;
}

/* The first day after `day` on which the stage may change, or 0 when none. */
static int next_boundary(const lc_contract *cs, size_t n, lc_day day, lc_day *next)
{
    int found = 0;
    for (size_t i = 0; i < n; i++) {
        /* Every rule compares the day with one of these four. */
        lc_day v[4] = {cs[i].start, lc_adoption_start(&cs[i]), lc_renewal_start(&cs[i]),
                       cs[i].end + 1};
        for (int k = 0; k < 4; k++)
            if (v[k] > day && (!found || v[k] < *next)) {
                *next = v[k];
                found = 1;
            }
    }
    return found;
}

size_t lc_timeline(const lc_contract *cs, size_t n, lc_day from, lc_period *out)
{
    size_t count = 0;
    lc_day day = from;
    for (;;) {
        int64_t id;
        lc_stage stage = lc_stage_on(cs, n, day, &id);
        if (count == 0 || out[count - 1].stage != stage || out[count - 1].contract_id != id) {
            if (count > 0) {
                out[count - 1].end = day - 1;
                out[count - 1].open = 0;
            }
            out[count].stage = stage;
            out[count].start = day;
            out[count].end = day;
            out[count].open = 1;
            out[count].contract_id = id;
            count++;
        }
        if (!next_boundary(cs, n, day, &day))
            break;
    }
    return count;
}

lc_day lc_first_start(const lc_contract *cs, size_t n, lc_day fallback)
{
    lc_day first = fallback;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || cs[i].start < first)
            first = cs[i].start;
    return first;
}
