/*
 * report_service.c - concord.v1.ReportService: the monthly report of one
 * account (proto/concord/v1/report.proto, docs/account-view/reports.md).
 *
 * The report is computed on request from the records of one UTC calendar
 * month; nothing is stored and nothing is written, so the call is a read.
 *
 * Invariants:
 *  - The caller needs read access to the account (srv_account_access): an
 *    account they may not see is NOT_FOUND, never revealed. Every query
 *    below also runs under the tables' row-level security.
 *  - Month boundaries are UTC: instants (activities, tier changes) are in
 *    [first day 00:00:00Z, first day of the next month 00:00:00Z); calendar
 *    dates (stage changes, contracts, key events) are compared as dates.
 *  - Every query reads one account's rows through an index that starts with
 *    the account's id, so the cost follows the account's own records of the
 *    month, not the size of the tables (tests/integration/explain_plans.sh
 *    checks the plans).
 *  - The stage at month end is computed from the active contracts with the
 *    lifecycle rules (lifecycle.h), as GetLifecycle does for any as-of day.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "call.h"
#include "concord/v1/report.pb-c.h"
#include "lifecycle.h"
#include "records.h"
#include "recurrence.h"

/* Renewals within this many days after the month's last day are reported. */
#define RENEWAL_WINDOW_DAYS 90

/* A window of one month holds at most one occurrence of a yearly event. */
#define OCCURRENCES_PER_EVENT 2

/* The month a report covers, as days and as the texts the queries take. */
typedef struct report_month {
    lc_day first, last;     /* first and last day */
    lc_day next_first;      /* first day of the next month */
    lc_day next_last;       /* last day of the next month */
    const char *month;      /* "YYYY-MM" */
    const char *first_text; /* "YYYY-MM-DD" */
    const char *last_text;  /* "YYYY-MM-DD" */
    const char *next_first_text;
    const char *next_last_text;
    const char *start_ts; /* first day 00:00:00 UTC, for timestamptz */
    const char *end_ts;   /* next month's first day 00:00:00 UTC (exclusive) */
} report_month;

/*
 * Parses "YYYY-MM" strictly (two digits of month 01-12, years 1900-9998), or
 * takes the previous calendar month of today (UTC) for an empty text.
 * Records a violation on "month" when the text is anything else.
 */
static int parse_month(srv_call *c, const char *text, report_month *m)
{
    int y, mo;
    if (text == NULL || *text == '\0') {
        int d;
        lc_day_to_ymd(lc_day_from_unix((int64_t)time(NULL)), &y, &mo, &d);
        if (--mo == 0) {
            mo = 12;
            y--;
        }
    } else {
        if (strlen(text) != 7 || strspn(text, "0123456789") != 4 || text[4] != '-' ||
            strspn(text + 5, "0123456789") != 2) {
            srv_violation(c, "month", "must be a calendar month YYYY-MM, e.g. 2026-10");
            return CC_EINVAL;
        }
        y = atoi(text);
        mo = atoi(text + 5);
        if (mo < 1 || mo > 12) {
            srv_violation(c, "month", "must name a month 01-12, not %s", text + 5);
            return CC_EINVAL;
        }
        if (y < 1900 || y > 9998) {
            srv_violation(c, "month", "must be in the years 1900 to 9998");
            return CC_EINVAL;
        }
    }
    m->first = lc_day_from_ymd(y, mo, 1);
    m->last = m->first + lc_days_in_month(y, mo) - 1;
    m->next_first = m->last + 1;
    m->next_last = lc_add_months(m->next_first, 1) - 1;
    m->month = arena_printf(c->arena, "%04d-%02d", y, mo);
    m->first_text = srv_day_text(c, m->first);
    m->last_text = srv_day_text(c, m->last);
    m->next_first_text = srv_day_text(c, m->next_first);
    m->next_last_text = srv_day_text(c, m->next_last);
    m->start_ts = arena_printf(c->arena, "%sT00:00:00Z", m->first_text);
    m->end_ts = arena_printf(c->arena, "%sT00:00:00Z", m->next_first_text);
    return 0;
}

/* ---- the account ----------------------------------------------------------- */

/*
 * The account and its tier at the end of the month. Tier changes are the
 * history of accounts.tier: the last change before the end of the month set
 * the tier then; without one, the first later change started from it; without
 * any change, the tier is what it has always been.
 */
static Concord__V1__ReportAccount *load_account(srv_call *c, const char *account_id,
                                                const report_month *m)
{
    static const char sql[] =
        "SELECT a.id, a.name, a.industry, a.owner_id, a.tier,"
        " (SELECT h.to_tier FROM tier_changes h WHERE h.account_id = a.id"
        "   AND h.changed_at < $2::timestamptz ORDER BY h.id DESC LIMIT 1),"
        " (SELECT coalesce(h.from_tier, '') FROM tier_changes h WHERE h.account_id = a.id"
        "   AND h.changed_at >= $2::timestamptz ORDER BY h.id LIMIT 1)"
        " FROM accounts a WHERE a.id = $1";
    PGresult *r = srv_sql(c, sql, 2, account_id, m->end_ts);
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "account %s not found", account_id);
        return NULL;
    }
    Concord__V1__ReportAccount *a = arena_alloc(c->arena, sizeof(*a));
    concord__v1__report_account__init(a);
    a->id = PQgetvalue(r, 0, 0);
    a->name = PQgetvalue(r, 0, 1);
    a->industry = PQgetvalue(r, 0, 2);
    a->owner_id = PQgetvalue(r, 0, 3);
    const char *tier = PQgetvalue(r, 0, 4);
    if (!PQgetisnull(r, 0, 5))
        tier = PQgetvalue(r, 0, 5);
    else if (!PQgetisnull(r, 0, 6))
        tier = PQgetvalue(r, 0, 6); /* "" when the account was not tiered before it */
    a->tier = srv_enum_from_db(&concord__v1__tier__descriptor, tier);
    return a;
}

/* ---- activities and contacts ---------------------------------------------- */

static Concord__V1__ActivitySummary *count_activities(srv_call *c, const char *account_id,
                                                      const report_month *m)
{
    static const char sql[] =
        "SELECT x.kind, count(*) FROM activities x WHERE x.account_id = $1"
        " AND x.occur_time >= $2::timestamptz AND x.occur_time < $3::timestamptz"
        " GROUP BY x.kind";
    PGresult *r = srv_sql(c, sql, 3, account_id, m->start_ts, m->end_ts);
    if (r == NULL)
        return NULL;
    const ProtobufCEnumDescriptor *kinds = &concord__v1__activity_kind__descriptor;
    int rows = PQntuples(r);
    Concord__V1__ActivitySummary *s = arena_alloc(c->arena, sizeof(*s));
    concord__v1__activity_summary__init(s);
    s->by_kind = arena_alloc(c->arena, sizeof(*s->by_kind) * (size_t)(rows ? rows : 1));
    /* In the order of ActivityKind, whatever order the groups came in. */
    for (unsigned v = 1; v < kinds->n_values; v++) {
        int kind = kinds->values[v].value;
        for (int i = 0; i < rows; i++) {
            if (srv_enum_from_db(kinds, PQgetvalue(r, i, 0)) != kind)
                continue;
            Concord__V1__ActivityKindCount *k = arena_alloc(c->arena, sizeof(*k));
            concord__v1__activity_kind_count__init(k);
            k->kind = kind;
            k->count = atoi(PQgetvalue(r, i, 1));
            s->total += k->count;
            s->by_kind[s->n_by_kind++] = k;
        }
    }
    return s;
}

static int load_contacts(srv_call *c, const char *account_id, const report_month *m,
                         Concord__V1__MonthlyReport *rep)
{
    static const char sql[] =
        "SELECT s.id, s.name, s.level, l.n, extract(epoch from l.last_time)::text"
        " FROM (SELECT x.stakeholder_id, count(*) AS n, max(x.occur_time) AS last_time"
        "       FROM activity_stakeholders x WHERE x.account_id = $1"
        "       AND x.occur_time >= $2::timestamptz AND x.occur_time < $3::timestamptz"
        "       GROUP BY x.stakeholder_id) l"
        " JOIN stakeholders s ON s.id = l.stakeholder_id"
        " ORDER BY s.level_rank, l.n DESC, s.name, s.id";
    PGresult *r = srv_sql(c, sql, 3, account_id, m->start_ts, m->end_ts);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    rep->stakeholders_contacted =
        arena_alloc(c->arena, sizeof(*rep->stakeholders_contacted) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        Concord__V1__StakeholderContact *k = arena_alloc(c->arena, sizeof(*k));
        concord__v1__stakeholder_contact__init(k);
        k->stakeholder_id = PQgetvalue(r, i, 0);
        k->name = PQgetvalue(r, i, 1);
        k->level =
            srv_enum_from_db(&concord__v1__stakeholder_level__descriptor, PQgetvalue(r, i, 2));
        k->contacts = atoi(PQgetvalue(r, i, 3));
        k->last_contact_time = srv_ts(c, PQgetvalue(r, i, 4));
        rep->stakeholders_contacted[i] = k;
    }
    rep->n_stakeholders_contacted = (size_t)rows;
    return CC_OK;
}

/* ---- stage and tier history ------------------------------------------------ */

static int load_stage_changes(srv_call *c, const char *account_id, const report_month *m,
                              Concord__V1__MonthlyReport *rep)
{
    static const char sql[] =
        "SELECT " SRV_STAGE_CHANGE_COLS " FROM stage_changes g WHERE g.account_id = $1"
        " AND g.effective_date >= $2::date AND g.effective_date <= $3::date"
        " ORDER BY g.effective_date, g.id";
    PGresult *r = srv_sql(c, sql, 3, account_id, m->first_text, m->last_text);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    rep->stage_changes =
        arena_alloc(c->arena, sizeof(*rep->stage_changes) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++)
        rep->stage_changes[i] = srv_stage_change_from_row(c, r, i);
    rep->n_stage_changes = (size_t)rows;
    return CC_OK;
}

static int load_tier_changes(srv_call *c, const char *account_id, const report_month *m,
                             Concord__V1__MonthlyReport *rep)
{
    static const char sql[] =
        "SELECT " SRV_TIER_CHANGE_COLS
        " FROM tier_changes h WHERE h.account_id = $1"
        " AND h.changed_at >= $2::timestamptz AND h.changed_at < $3::timestamptz"
        " ORDER BY h.id";
    PGresult *r = srv_sql(c, sql, 3, account_id, m->start_ts, m->end_ts);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    rep->tier_changes =
        arena_alloc(c->arena, sizeof(*rep->tier_changes) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++)
        rep->tier_changes[i] = srv_tier_change_from_row(c, r, i);
    rep->n_tier_changes = (size_t)rows;
    return CC_OK;
}

/* ---- contracts, stage at month end, next renewal --------------------------- */

/*
 * Reads the account's active contracts once and derives from them the stage
 * on the month's last day, the contracts covering that day and the next
 * renewal. An account has a handful of contracts (one per subscription
 * period), so this is cheaper than three queries.
 */
static int load_contracts(srv_call *c, const char *account_id, const report_month *m,
                          Concord__V1__MonthlyReport *rep)
{
    static const char sql[] =
        "SELECT " SRV_CONTRACT_COLS " FROM contracts k"
        " WHERE k.account_id = $1 AND k.status = 'contract_active' ORDER BY k.start_date, k.id";
    PGresult *r = srv_sql(c, sql, 1, account_id);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    size_t slots = (size_t)(rows ? rows : 1);
    lc_contract *cs = arena_alloc(c->arena, sizeof(*cs) * slots);
    rep->active_contracts = arena_alloc(c->arena, sizeof(*rep->active_contracts) * slots);
    for (int i = 0; i < rows; i++) {
        cs[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (srv_stored_day(c, PQgetvalue(r, i, 2), &cs[i].start) != CC_OK ||
            srv_stored_day(c, PQgetvalue(r, i, 3), &cs[i].end) != CC_OK)
            return c->code;
    }
    rep->account->stage = (Concord__V1__LifecycleStage)lc_stage_on(cs, (size_t)rows, m->last, NULL);
    int next = -1;
    for (int i = 0; i < rows; i++) {
        if (cs[i].start <= m->last && m->last <= cs[i].end)
            rep->active_contracts[rep->n_active_contracts++] = srv_contract_from_row(c, r, i, 0);
        /* The earliest end in the window; on a tie the contract that started first. */
        if (cs[i].end > m->last && cs[i].end <= m->last + RENEWAL_WINDOW_DAYS &&
            (next < 0 || cs[i].end < cs[next].end))
            next = i;
    }
    if (next >= 0) {
        Concord__V1__ReportRenewal *rn = arena_alloc(c->arena, sizeof(*rn));
        concord__v1__report_renewal__init(rn);
        rn->contract_id = PQgetvalue(r, next, 0);
        rn->end_date = PQgetvalue(r, next, 3);
        rn->days_after_month = (int32_t)(cs[next].end - m->last);
        /* Renewed: a later contract runs past this one (as ListRenewals says it). */
        for (int i = 0; i < rows; i++)
            if (i != next && cs[i].start > cs[next].start && cs[i].end > cs[next].end)
                rn->renewed = 1;
        rep->next_renewal = rn;
    }
    return CC_OK;
}

/* ---- key events of the next month ------------------------------------------ */

/* The candidates of one branch: yearly events begun by the window's end, single ones in it. */
#define EVENT_WINDOW                                                                               \
    " AND e.event_date <= $3::date"                                                                \
    " AND (e.recurrence = 'yearly' OR (e.recurrence IS NULL AND e.event_date >= $2::date))"

static int event_cmp(const void *a, const void *b)
{
    const Concord__V1__ReportKeyEvent *x = *(Concord__V1__ReportKeyEvent *const *)a;
    const Concord__V1__ReportKeyEvent *y = *(Concord__V1__ReportKeyEvent *const *)b;
    int d = strcmp(x->occurrence_date, y->occurrence_date);
    if (d != 0)
        return d;
    long long xi = strtoll(x->event->id, NULL, 10), yi = strtoll(y->event->id, NULL, 10);
    return (xi > yi) - (xi < yi);
}

/*
 * The account's own events and its industry's events that occur in the next
 * month. Two branches, each on its own index (key_events_account and
 * key_events_industry); industries match through the stored lower-cased
 * copies, as ListKeyEvents and ListUpcomingEvents match them.
 */
static int load_events(srv_call *c, const char *account_id, const report_month *m,
                       Concord__V1__MonthlyReport *rep)
{
    static const char sql[] =
        "SELECT " SRV_KEY_EVENT_COLS " FROM key_events e WHERE e.account_id = $1" EVENT_WINDOW
        " UNION ALL"
        " SELECT " SRV_KEY_EVENT_COLS " FROM key_events e WHERE e.account_id IS NULL"
        " AND e.industry_key = (SELECT a.industry_key FROM accounts a WHERE a.id = "
        "$1)" EVENT_WINDOW;
    PGresult *r = srv_sql(c, sql, 3, account_id, m->next_first_text, m->next_last_text);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    srv_rec_date from = srv_rec_from_days(m->next_first), to = srv_rec_from_days(m->next_last);
    rep->next_month_events =
        arena_alloc(c->arena, sizeof(*rep->next_month_events) * (size_t)(rows ? rows : 1) *
                                  OCCURRENCES_PER_EVENT);
    for (int i = 0; i < rows; i++) {
        Concord__V1__KeyEvent *e = srv_key_event_from_row(c, r, i);
        srv_rec_date first, days[OCCURRENCES_PER_EVENT];
        if (srv_rec_parse(e->date, &first) != 0)
            return srv_fail(c, CC_INTERNAL, "key event %s has an unreadable date", e->id);
        srv_rec_kind kind =
            e->recurrence == CONCORD__V1__RECURRENCE__YEARLY ? SRV_REC_YEARLY : SRV_REC_ONCE;
        size_t n = srv_rec_occurrences(first, kind, from, to, days, OCCURRENCES_PER_EVENT);
        for (size_t j = 0; j < n; j++) {
            Concord__V1__ReportKeyEvent *o = arena_alloc(c->arena, sizeof(*o));
            concord__v1__report_key_event__init(o);
            o->event = e;
            o->occurrence_date = arena_alloc(c->arena, SRV_REC_DATE_LEN);
            srv_rec_format(days[j], o->occurrence_date);
            rep->next_month_events[rep->n_next_month_events++] = o;
        }
    }
    qsort(rep->next_month_events, rep->n_next_month_events, sizeof(*rep->next_month_events),
          event_cmp);
    return CC_OK;
}

/* ---- the team ------------------------------------------------------------------ */

static int load_team(srv_call *c, const char *account_id, Concord__V1__MonthlyReport *rep)
{
    static const char sql[] =
        "SELECT " SRV_TEAM_MEMBER_COLS " FROM account_team t JOIN users u ON u.id = t.user_id"
        " WHERE t.account_id = $1"
        " ORDER BY array_position(ARRAY['account_owner', 'solution_lead', 'delivery_lead',"
        "   'rnd_liaison', 'customer_success_manager', 'executive_sponsor'], t.team_role),"
        " u.username";
    PGresult *r = srv_sql(c, sql, 1, account_id);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    rep->team = arena_alloc(c->arena, sizeof(*rep->team) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++)
        rep->team[i] = srv_team_member_from_row(c, r, i);
    rep->n_team = (size_t)rows;
    return CC_OK;
}

/* ---- the method ------------------------------------------------------------------ */

static int get_monthly_report(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetMonthlyReportRequest *req = (const void *)in;
    report_month m = {0};
    int64_t id = 0;
    parse_month(c, req->month, &m);
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &id) != CC_OK)
        return c->code;
    const char *account_id = srv_i64(c, id);

    Concord__V1__MonthlyReport *rep = arena_alloc(c->arena, sizeof(*rep));
    concord__v1__monthly_report__init(rep);
    rep->account = load_account(c, account_id, &m);
    if (rep->account == NULL)
        return c->code;
    Concord__V1__ReportPeriod *p = arena_alloc(c->arena, sizeof(*p));
    concord__v1__report_period__init(p);
    p->month = (char *)m.month;
    p->first_day = (char *)m.first_text;
    p->last_day = (char *)m.last_text;
    rep->period = p;
    rep->activities = count_activities(c, account_id, &m);
    if (rep->activities == NULL)
        return c->code;
    if (load_contacts(c, account_id, &m, rep) != CC_OK ||
        load_stage_changes(c, account_id, &m, rep) != CC_OK ||
        load_tier_changes(c, account_id, &m, rep) != CC_OK ||
        load_contracts(c, account_id, &m, rep) != CC_OK ||
        load_events(c, account_id, &m, rep) != CC_OK || load_team(c, account_id, rep) != CC_OK)
        return c->code;
    Google__Protobuf__Timestamp *now = arena_alloc(c->arena, sizeof(*now));
    google__protobuf__timestamp__init(now);
    now->seconds = (int64_t)time(NULL);
    rep->generate_time = now;
    *out = &rep->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"GetMonthlyReport", get_monthly_report, 0},
    {NULL, NULL, 0},
};

const srv_service srv_report_service = {&concord__v1__report_service__descriptor, methods};
