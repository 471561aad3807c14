/*
 * test_reports.c - the account monthly report through the real protocol:
 * activities counted by kind within a UTC calendar month (the first and last
 * second of the month in, the seconds around it out), the stakeholders
 * contacted, stage and tier changes of the month, the tier and stage at month
 * end, the contracts and the next renewal, the key events of the next month,
 * the team, the default month, the validation of `month`, and who may read a
 * report (a READ team member may; a user outside the team gets NOT_FOUND).
 *
 * Activities, contracts, stakeholders, events and the team are recorded
 * through their services as users would. The stage and tier history of past
 * months cannot be made through the API (the services record changes as of
 * today), so those rows are written directly as the database superuser.
 *
 * Runs inside the shared test environment (tests/lib/testenv): CONCORD_HOST,
 * CONCORD_PORT, CONCORD_CA, CONCORD_ADMIN_USER, CONCORD_ADMIN_PASSWORD,
 * PGHOST, PGPORT, PG_SUPERUSER.
 */
/* clang-format off: cmocka.h needs the standard headers before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <libpq-fe.h>
#include "concord/v1/account.pb-c.h"
#include "concord/v1/activity.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "concord/v1/contract.pb-c.h"
#include "concord/v1/event.pb-c.h"
#include "concord/v1/report.pb-c.h"
#include "concord/v1/stakeholder.pb-c.h"
#include "concord/v1/team.pb-c.h"
#include "concord_client.h"
#include "itest.h"
/* clang-format on */

#define METHOD "concord.v1.ReportService/GetMonthlyReport"

static char run_id[32];

static itest_user admin, reader, outsider;
static char acc[24];
static char industry[64];
static char rector[24], head_it[24], librarian[24];
static char contract_id[24];
static char ev_anniversary[24], ev_industry[24];

static void new_stakeholder(char *id, const char *name, Concord__V1__StakeholderLevel level)
{
    Concord__V1__CreateStakeholderRequest req = CONCORD__V1__CREATE_STAKEHOLDER_REQUEST__INIT;
    Concord__V1__Stakeholder s = CONCORD__V1__STAKEHOLDER__INIT;
    s.account_id = acc;
    s.name = (char *)name;
    s.level = level;
    req.stakeholder = &s;
    Concord__V1__Stakeholder *got =
        itest_call_ok(admin.conn, "concord.v1.StakeholderService/CreateStakeholder", &req,
                      &concord__v1__stakeholder__descriptor);
    snprintf(id, 24, "%s", got->id);
    protobuf_c_message_free_unpacked(&got->base, NULL);
}

/* Records an activity at a UTC time "YYYY-MM-DD HH:MM:SS" with up to two stakeholders. */
static void add_activity(Concord__V1__ActivityKind kind, const char *when, const char *s1,
                         const char *s2)
{
    struct tm tm = {0};
    if (sscanf(when, "%d-%d-%d %d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
               &tm.tm_min, &tm.tm_sec) != 6)
        fail_msg("bad time %s", when);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = (int64_t)timegm(&tm);
    Concord__V1__CreateActivityRequest req = CONCORD__V1__CREATE_ACTIVITY_REQUEST__INIT;
    Concord__V1__Activity a = CONCORD__V1__ACTIVITY__INIT;
    char *ids[2];
    size_t n = 0;
    if (s1)
        ids[n++] = (char *)s1;
    if (s2)
        ids[n++] = (char *)s2;
    a.account_id = acc;
    a.kind = kind;
    a.subject = "Report fixture";
    a.occur_time = &ts;
    a.stakeholder_ids = ids;
    a.n_stakeholder_ids = n;
    req.activity = &a;
    Concord__V1__Activity *got =
        itest_call_ok(admin.conn, "concord.v1.ActivityService/CreateActivity", &req,
                      &concord__v1__activity__descriptor);
    protobuf_c_message_free_unpacked(&got->base, NULL);
}

static void add_event(char *id, Concord__V1__EventScope scope, const char *title, const char *date,
                      int yearly, const char *ind)
{
    Concord__V1__CreateKeyEventRequest req = CONCORD__V1__CREATE_KEY_EVENT_REQUEST__INIT;
    Concord__V1__KeyEvent e = CONCORD__V1__KEY_EVENT__INIT;
    e.scope = scope;
    e.title = (char *)title;
    e.date = (char *)date;
    e.recurrence = yearly ? CONCORD__V1__RECURRENCE__YEARLY : 0;
    if (scope == CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT)
        e.industry = (char *)ind;
    else
        e.account_id = acc;
    req.event = &e;
    Concord__V1__KeyEvent *got =
        itest_call_ok(admin.conn, "concord.v1.KeyEventService/CreateKeyEvent", &req,
                      &concord__v1__key_event__descriptor);
    if (id)
        snprintf(id, 24, "%s", got->id);
    protobuf_c_message_free_unpacked(&got->base, NULL);
}

static void superuser_exec(PGconn *pg, const char *sql, const char *p1)
{
    const char *params[1] = {p1};
    PGresult *r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
}

/* Stage and tier history around October 2026, oldest first (ids follow time). */
static void add_history(void)
{
    PGconn *pg = itest_pg_superuser();
    /* The contract service recorded the change to the stage as of today, effective
     * on a day that depends on today: the history here is the fixture's alone. */
    superuser_exec(pg, "DELETE FROM concord.stage_changes WHERE account_id = $1", acc);
    superuser_exec(pg,
                   "INSERT INTO concord.stage_changes (account_id, from_stage, to_stage,"
                   " effective_date, reason) VALUES"
                   " ($1, 'onboarding', 'adoption', '2026-09-30', 'before'),"
                   " ($1, 'adoption', 'renewal', '2026-10-01', 'first day'),"
                   " ($1, 'renewal', 'handover', '2026-10-31', 'last day'),"
                   " ($1, 'handover', 'onboarding', '2026-11-01', 'after')",
                   acc);
    superuser_exec(pg,
                   "INSERT INTO concord.tier_changes (account_id, from_tier, to_tier, reason,"
                   " changed_at) VALUES"
                   " ($1, NULL, 'tier_b', 'first tiering', '2026-09-30 23:59:59+00'),"
                   " ($1, 'tier_b', 'tier_a', 'more engagement', '2026-10-10 12:00:00+00'),"
                   " ($1, 'tier_a', 'tier_s', 'strategic now', '2026-11-01 00:00:00+00')",
                   acc);
    superuser_exec(pg, "UPDATE concord.accounts SET tier = 'tier_s' WHERE id = $1", acc);
    PQfinish(pg);
}

static int setup(void **state)
{
    (void)state;
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL) % 100000000, (int)getpid());
    itest_login_admin(&admin);
    itest_new_user(admin.conn, &reader, CONCORD__V1__DEPARTMENT__SUCCESS, CONCORD__V1__ROLE__MEMBER,
                   "rptread%s", run_id);
    itest_new_user(admin.conn, &outsider, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER,
                   "rptout%s", run_id);

    /* An industry of its own, so that other tests' industry events do not show. */
    snprintf(industry, sizeof(industry), "Report Industry %s", run_id);
    itest_new_account(admin.conn, acc, industry, "Report University %s", run_id);
    assert_int_equal(itest_add_member(admin.conn, acc, reader.id,
                                      CONCORD__V1__TEAM_ROLE__CUSTOMER_SUCCESS_MANAGER,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);

    new_stakeholder(rector, "Rector", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE);
    new_stakeholder(head_it, "Head of IT", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR);
    new_stakeholder(librarian, "Librarian", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF);

    /* October 2026 in UTC holds five activities: two meetings, two calls, one email. */
    add_activity(CONCORD__V1__ACTIVITY_KIND__MEETING, "2026-09-30 23:59:59", head_it, NULL);
    add_activity(CONCORD__V1__ACTIVITY_KIND__MEETING, "2026-10-01 00:00:00", rector, NULL);
    add_activity(CONCORD__V1__ACTIVITY_KIND__CALL, "2026-10-05 09:30:00", rector, librarian);
    add_activity(CONCORD__V1__ACTIVITY_KIND__CALL, "2026-10-12 14:00:00", NULL, NULL);
    add_activity(CONCORD__V1__ACTIVITY_KIND__EMAIL, "2026-10-20 08:00:00", NULL, NULL);
    add_activity(CONCORD__V1__ACTIVITY_KIND__MEETING, "2026-10-31 23:59:59", rector, NULL);
    add_activity(CONCORD__V1__ACTIVITY_KIND__VISIT, "2026-11-01 00:00:00", librarian, NULL);

    /* One yearly contract: adoption until 2026-10-14, then the renewal window. */
    Concord__V1__CreateContractRequest kreq = CONCORD__V1__CREATE_CONTRACT_REQUEST__INIT;
    Concord__V1__Contract k = CONCORD__V1__CONTRACT__INIT;
    k.account_id = acc;
    k.start_date = "2026-01-15";
    k.end_date = "2027-01-14";
    k.annual_value_minor = 4800000;
    k.currency = "EUR";
    kreq.contract = &k;
    Concord__V1__Contract *kg =
        itest_call_ok(admin.conn, "concord.v1.ContractService/CreateContract", &kreq,
                      &concord__v1__contract__descriptor);
    snprintf(contract_id, sizeof(contract_id), "%s", kg->id);
    protobuf_c_message_free_unpacked(&kg->base, NULL);

    /* November 2026 holds the anniversary and the industry event, nothing else here. */
    add_event(ev_anniversary, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Founding anniversary",
              "2020-11-11", 1, NULL);
    add_event(ev_industry, CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT, "Rankings published",
              "2026-11-20", 0, industry);
    add_event(NULL, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Board meeting", "2026-12-01", 0,
              NULL);
    add_event(NULL, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Last month's visit", "2026-10-30", 0,
              NULL);
    char other[96];
    snprintf(other, sizeof(other), "Other Industry %s", run_id);
    add_event(NULL, CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT, "Another industry's policy",
              "2026-11-05", 0, other);

    add_history();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    itest_user_close(&admin);
    itest_user_close(&reader);
    itest_user_close(&outsider);
    return 0;
}

static Concord__V1__MonthlyReport *report(itest_user *p, const char *account, const char *month,
                                          int want)
{
    Concord__V1__GetMonthlyReportRequest req = CONCORD__V1__GET_MONTHLY_REPORT_REQUEST__INIT;
    req.account_id = (char *)account;
    req.month = (char *)month;
    return itest_expect(p->conn, METHOD, &req, &concord__v1__monthly_report__descriptor, want);
}

static int kind_count(const Concord__V1__MonthlyReport *r, Concord__V1__ActivityKind kind)
{
    for (size_t i = 0; i < r->activities->n_by_kind; i++)
        if (r->activities->by_kind[i]->kind == kind)
            return r->activities->by_kind[i]->count;
    return 0;
}

/* ---- the tests ----------------------------------------------------------------- */

static void october_counts_and_sections(void **state)
{
    (void)state;
    Concord__V1__MonthlyReport *r = report(&admin, acc, "2026-10", CC_OK);
    assert_string_equal(r->account->id, acc);
    assert_string_equal(r->account->industry, industry);
    assert_string_equal(r->period->month, "2026-10");
    assert_string_equal(r->period->first_day, "2026-10-01");
    assert_string_equal(r->period->last_day, "2026-10-31");

    /* The first and the last second of October count; the seconds around it do not. */
    assert_int_equal(r->activities->total, 5);
    assert_int_equal(r->activities->n_by_kind, 3);
    assert_int_equal(r->activities->by_kind[0]->kind, CONCORD__V1__ACTIVITY_KIND__MEETING);
    assert_int_equal(r->activities->by_kind[0]->count, 2);
    assert_int_equal(r->activities->by_kind[1]->kind, CONCORD__V1__ACTIVITY_KIND__CALL);
    assert_int_equal(r->activities->by_kind[1]->count, 2);
    assert_int_equal(r->activities->by_kind[2]->kind, CONCORD__V1__ACTIVITY_KIND__EMAIL);
    assert_int_equal(r->activities->by_kind[2]->count, 1);
    assert_int_equal(kind_count(r, CONCORD__V1__ACTIVITY_KIND__VISIT), 0);

    /* The rector three times (executives first), the librarian once; not the head of IT. */
    assert_int_equal(r->n_stakeholders_contacted, 2);
    assert_string_equal(r->stakeholders_contacted[0]->stakeholder_id, rector);
    assert_string_equal(r->stakeholders_contacted[0]->name, "Rector");
    assert_int_equal(r->stakeholders_contacted[0]->level,
                     CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE);
    assert_int_equal(r->stakeholders_contacted[0]->contacts, 3);
    assert_non_null(r->stakeholders_contacted[0]->last_contact_time);
    assert_int_equal(r->stakeholders_contacted[0]->last_contact_time->seconds, 1793491199);
    assert_string_equal(r->stakeholders_contacted[1]->stakeholder_id, librarian);
    assert_int_equal(r->stakeholders_contacted[1]->contacts, 1);

    /* Stage changes effective on the first and the last day, oldest first. */
    assert_int_equal(r->n_stage_changes, 2);
    assert_string_equal(r->stage_changes[0]->effective_date, "2026-10-01");
    assert_int_equal(r->stage_changes[0]->from_stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    assert_int_equal(r->stage_changes[0]->to_stage, CONCORD__V1__LIFECYCLE_STAGE__RENEWAL);
    assert_string_equal(r->stage_changes[1]->effective_date, "2026-10-31");
    assert_string_equal(r->stage_changes[1]->reason, "last day");

    /* One tier change in October; the tier at its end is A (S came on 1 November). */
    assert_int_equal(r->n_tier_changes, 1);
    assert_int_equal(r->tier_changes[0]->from_tier, CONCORD__V1__TIER__TIER_B);
    assert_int_equal(r->tier_changes[0]->to_tier, CONCORD__V1__TIER__TIER_A);
    assert_string_equal(r->tier_changes[0]->reason, "more engagement");
    assert_int_equal(r->account->tier, CONCORD__V1__TIER__TIER_A);

    /* On 2026-10-31 the contract is in its last three months. */
    assert_int_equal(r->account->stage, CONCORD__V1__LIFECYCLE_STAGE__RENEWAL);
    assert_int_equal(r->n_active_contracts, 1);
    assert_string_equal(r->active_contracts[0]->id, contract_id);
    assert_int_equal(r->active_contracts[0]->annual_value_minor, 4800000);
    assert_non_null(r->next_renewal);
    assert_string_equal(r->next_renewal->contract_id, contract_id);
    assert_string_equal(r->next_renewal->end_date, "2027-01-14");
    assert_int_equal(r->next_renewal->days_after_month, 75);
    assert_false(r->next_renewal->renewed);

    /* November's occurrences: the anniversary (yearly) and the industry's event, by date. */
    assert_int_equal(r->n_next_month_events, 2);
    assert_string_equal(r->next_month_events[0]->occurrence_date, "2026-11-11");
    assert_string_equal(r->next_month_events[0]->event->id, ev_anniversary);
    assert_string_equal(r->next_month_events[1]->occurrence_date, "2026-11-20");
    assert_string_equal(r->next_month_events[1]->event->id, ev_industry);
    assert_int_equal(r->next_month_events[1]->event->scope,
                     CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT);

    assert_int_equal(r->n_team, 1);
    assert_string_equal(r->team[0]->user_id, reader.id);
    assert_int_equal(r->team[0]->team_role, CONCORD__V1__TEAM_ROLE__CUSTOMER_SUCCESS_MANAGER);
    assert_int_equal(r->team[0]->access_level, CONCORD__V1__ACCESS_LEVEL__READ);
    assert_non_null(r->generate_time);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void neighbouring_months(void **state)
{
    (void)state;
    /* September: the meeting of its last second, with the head of IT; adoption; tier B; the
     * contract ends 106 days after the month, outside the renewal window. */
    Concord__V1__MonthlyReport *r = report(&admin, acc, "2026-09", CC_OK);
    assert_string_equal(r->period->last_day, "2026-09-30");
    assert_int_equal(r->activities->total, 1);
    assert_int_equal(kind_count(r, CONCORD__V1__ACTIVITY_KIND__MEETING), 1);
    assert_int_equal(r->n_stakeholders_contacted, 1);
    assert_string_equal(r->stakeholders_contacted[0]->stakeholder_id, head_it);
    assert_int_equal(r->n_stage_changes, 1);
    assert_string_equal(r->stage_changes[0]->effective_date, "2026-09-30");
    assert_int_equal(r->n_tier_changes, 1);
    assert_int_equal(r->account->tier, CONCORD__V1__TIER__TIER_B);
    assert_int_equal(r->account->stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    assert_null(r->next_renewal);
    /* October's events: the single event on 2026-10-30 (not the yearly one, due in November). */
    assert_int_equal(r->n_next_month_events, 1);
    assert_string_equal(r->next_month_events[0]->occurrence_date, "2026-10-30");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* November: the visit of its first second; tier S. */
    r = report(&admin, acc, "2026-11", CC_OK);
    assert_int_equal(r->activities->total, 1);
    assert_int_equal(kind_count(r, CONCORD__V1__ACTIVITY_KIND__VISIT), 1);
    assert_int_equal(r->account->tier, CONCORD__V1__TIER__TIER_S);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* August: nothing happened, no tier yet, the first contract is past onboarding. */
    r = report(&admin, acc, "2026-08", CC_OK);
    assert_int_equal(r->activities->total, 0);
    assert_int_equal(r->activities->n_by_kind, 0);
    assert_int_equal(r->n_stakeholders_contacted, 0);
    assert_int_equal(r->n_stage_changes, 0);
    assert_int_equal(r->n_tier_changes, 0);
    assert_int_equal(r->account->tier, CONCORD__V1__TIER__TIER_UNSPECIFIED);
    assert_int_equal(r->account->stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* December 2025: the contract is signed and starts in January (handover); none is
     * active at month end. */
    r = report(&admin, acc, "2025-12", CC_OK);
    assert_int_equal(r->account->stage, CONCORD__V1__LIFECYCLE_STAGE__HANDOVER);
    assert_int_equal(r->n_active_contracts, 0);
    assert_null(r->next_renewal);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void default_is_the_previous_month(void **state)
{
    (void)state;
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int y = tm.tm_year + 1900, m = tm.tm_mon; /* tm_mon is 0-based: the previous month */
    if (m == 0) {
        m = 12;
        y--;
    }
    char want[16];
    snprintf(want, sizeof(want), "%04d-%02d", y, m);
    Concord__V1__MonthlyReport *r = report(&admin, acc, "", CC_OK);
    assert_string_equal(r->period->month, want);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void invalid_months_name_the_field(void **state)
{
    (void)state;
    const char *bad[] = {"2026-13", "2026-00",    "2026-1",  "26-10",
                         "2026/10", "2026-10-01", "abcd-ef", "1899-12"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        report(&admin, acc, bad[i], CC_INVALID_ARGUMENT);
        if (strcmp(itest_last.field, "month") != 0)
            fail_msg("month \"%s\": violation on \"%s\", wanted \"month\"", bad[i],
                     itest_last.field);
    }
    report(&admin, "not-an-id", "2026-10", CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "account_id");
}

static void only_the_team_may_read(void **state)
{
    (void)state;
    /* Outside the team: the same answer as for an account that does not exist. */
    report(&outsider, acc, "2026-10", CC_NOT_FOUND);
    assert_null(strstr(itest_last.message, "Report University"));
    report(&admin, "999999999999", "2026-10", CC_NOT_FOUND);

    /* A READ member reads the same report as the admin. */
    Concord__V1__MonthlyReport *r = report(&reader, acc, "2026-10", CC_OK);
    assert_int_equal(r->activities->total, 5);
    assert_int_equal(r->n_stakeholders_contacted, 2);
    assert_int_equal(r->n_stage_changes, 2);
    assert_int_equal(r->n_tier_changes, 1);
    assert_int_equal(r->n_next_month_events, 2);
    assert_int_equal(r->n_active_contracts, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(october_counts_and_sections),
        cmocka_unit_test(neighbouring_months),
        cmocka_unit_test(default_is_the_previous_month),
        cmocka_unit_test(invalid_months_name_the_field),
        cmocka_unit_test(only_the_team_may_read),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
