/*
 * test_events.c - the key-event calendar and outreach tasks through the real
 * protocol: validation naming fields, who may create and change events,
 * upcoming occurrences with the accounts each caller may see (industry
 * events by industry, account events by account), tasks created exactly
 * once, completing tasks, versions, pagination, and visibility (through the
 * API and directly in SQL under row-level security).
 *
 * Cast: a sales manager, the sales member who owns the accounts, a presales
 * member with read access to one of them, a delivery member who owns an
 * account of the same industry, and an R&D member who sees none of them.
 * Industry names carry a per-run tag because the database is shared.
 *
 * Runs inside the shared test environment (tests/lib/testenv).
 */
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
#include "concord/v1/auth.pb-c.h"
#include "concord/v1/event.pb-c.h"
#include "concord/v1/team.pb-c.h"
#include "concord_client.h"
#include "itest.h"

static char run_id[32];
static char industry[64];      /* this run's industry */
static char other_industry[64];

/* The people, each with an open connection. */
static itest_user admin, manager, owner, reader, stranger, outsider;

/* The accounts: four of this run's industry (two of the owner's, the stranger's,
 * an archived one), one of another industry. */
static char acc_a[24], acc_b[24], acc_strange[24], acc_archived[24], acc_other[24];

/* Puts user on the account's team with read access: through TeamService, or
 * directly in the database when that service refuses (it belongs to another area). */
static void add_reader(const char *account, const itest_user *user)
{
    if (itest_add_member(admin.conn, account, user->id, CONCORD__V1__TEAM_ROLE__SOLUTION_LEAD,
                         CONCORD__V1__ACCESS_LEVEL__READ) == CC_OK)
        return;
    fprintf(stderr, "note: AddTeamMember failed (%s); adding the member in SQL\n",
            itest_last.message);
    PGconn *pg = itest_pg_superuser();
    const char *params[2] = {account, user->id};
    PGresult *r = PQexecParams(pg,
                               "INSERT INTO concord.account_team (account_id, user_id, team_role,"
                               " access_level) VALUES ($1, $2, 'solution_lead', 'read')",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK)
        fail_msg("insert team member: %s", PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(pg);
}

static void archive(const char *account)
{
    Concord__V1__ArchiveAccountRequest req = CONCORD__V1__ARCHIVE_ACCOUNT_REQUEST__INIT;
    req.id = (char *)account;
    protobuf_c_message_free_unpacked(itest_call_ok(admin.conn,
                                                   "concord.v1.AccountService/ArchiveAccount", &req,
                                                   &concord__v1__account__descriptor),
                                     NULL);
}

static int setup(void **state)
{
    (void)state;
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL) % 100000000, (int)getpid());
    snprintf(industry, sizeof(industry), "Higher Education %s", run_id);
    snprintf(other_industry, sizeof(other_industry), "Retail %s", run_id);
    itest_login_admin(&admin);
    itest_new_user(admin.conn, &manager, CONCORD__V1__DEPARTMENT__SALES, CONCORD__V1__ROLE__MANAGER,
                   "evmgr%s", run_id);
    itest_new_user(admin.conn, &owner, CONCORD__V1__DEPARTMENT__SALES, CONCORD__V1__ROLE__MEMBER,
                   "evown%s", run_id);
    itest_new_user(admin.conn, &reader, CONCORD__V1__DEPARTMENT__PRESALES,
                   CONCORD__V1__ROLE__MEMBER, "evread%s", run_id);
    itest_new_user(admin.conn, &stranger, CONCORD__V1__DEPARTMENT__DELIVERY,
                   CONCORD__V1__ROLE__MEMBER, "evdel%s", run_id);
    itest_new_user(admin.conn, &outsider, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER,
                   "evrnd%s", run_id);

    /* The same industry in another spelling still matches. */
    char lower[64];
    snprintf(lower, sizeof(lower), "higher EDUCATION %s", run_id);
    itest_new_account(owner.conn, acc_a, industry, "Alpha University %s", run_id);
    itest_new_account(owner.conn, acc_b, lower, "Beta University %s", run_id);
    itest_new_account(stranger.conn, acc_strange, industry, "Gamma University %s", run_id);
    itest_new_account(owner.conn, acc_archived, industry, "Delta University %s", run_id);
    itest_new_account(owner.conn, acc_other, other_industry, "Epsilon Stores %s", run_id);
    archive(acc_archived);
    add_reader(acc_a, &reader);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    itest_user *all[] = {&admin, &manager, &owner, &reader, &stranger, &outsider};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cc_conn_free(all[i]->conn);
    return 0;
}

/* ---- helpers ---------------------------------------------------------------- */

/* Creates an event; returns the code and, on success, the event (caller frees). */
static int create_event(itest_user *p, int scope, const char *title, const char *date, int yearly,
                        const char *ind, const char *account, Concord__V1__KeyEvent **out,
                        const cc_status **st)
{
    Concord__V1__CreateKeyEventRequest req = CONCORD__V1__CREATE_KEY_EVENT_REQUEST__INIT;
    Concord__V1__KeyEvent e = CONCORD__V1__KEY_EVENT__INIT;
    e.scope = scope;
    e.title = (char *)title;
    e.date = (char *)date;
    e.recurrence = yearly ? CONCORD__V1__RECURRENCE__YEARLY : 0;
    e.industry = (char *)(ind ? ind : "");
    e.account_id = (char *)(account ? account : "");
    e.category = scope == CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT
                     ? CONCORD__V1__EVENT_CATEGORY__RANKING
                     : CONCORD__V1__EVENT_CATEGORY__LEADERSHIP_CHANGE;
    req.event = &e;
    ProtobufCMessage *resp = NULL;
    int code = itest_call(p->conn, "concord.v1.KeyEventService/CreateKeyEvent", &req.base,
                          &concord__v1__key_event__descriptor, &resp, st);
    if (out)
        *out = (Concord__V1__KeyEvent *)resp;
    else
        protobuf_c_message_free_unpacked(resp, NULL);
    return code;
}

static Concord__V1__ListUpcomingEventsResponse *upcoming(itest_user *p, const char *as_of, int days,
                                                         int create, const char *key)
{
    Concord__V1__ListUpcomingEventsRequest req = CONCORD__V1__LIST_UPCOMING_EVENTS_REQUEST__INIT;
    req.as_of = (char *)as_of;
    req.within_days = days;
    req.create_tasks = create;
    if (key)
        cc_conn_set_idempotency_key(p->conn, key);
    ProtobufCMessage *resp = NULL;
    const cc_status *st;
    int code = itest_call(p->conn, "concord.v1.KeyEventService/ListUpcomingEvents", &req.base,
                          &concord__v1__list_upcoming_events_response__descriptor, &resp, &st);
    if (code != CC_OK)
        fail_msg("ListUpcomingEvents as %s: %d %s", p->username, code, st ? st->message : "");
    return (Concord__V1__ListUpcomingEventsResponse *)resp;
}

/* The occurrence of event id on day in resp, or NULL. */
static const Concord__V1__UpcomingEvent *
find_occurrence(const Concord__V1__ListUpcomingEventsResponse *resp, const char *id,
                const char *day)
{
    for (size_t i = 0; i < resp->n_events; i++)
        if (strcmp(resp->events[i]->event->id, id) == 0 &&
            strcmp(resp->events[i]->occurrence_date, day) == 0)
            return resp->events[i];
    return NULL;
}

static int lists_account(const Concord__V1__UpcomingEvent *u, const char *account)
{
    for (size_t i = 0; i < u->n_accounts; i++)
        if (strcmp(u->accounts[i]->id, account) == 0)
            return 1;
    return 0;
}

static Concord__V1__ListOutreachTasksResponse *tasks(itest_user *p, const char *assignee,
                                                     const char *account, int status)
{
    Concord__V1__ListOutreachTasksRequest req = CONCORD__V1__LIST_OUTREACH_TASKS_REQUEST__INIT;
    req.assignee_id = (char *)(assignee ? assignee : "");
    req.account_id = (char *)(account ? account : "");
    req.status = status;
    req.page_size = 500;
    ProtobufCMessage *resp = NULL;
    const cc_status *st;
    int code = itest_call(p->conn, "concord.v1.KeyEventService/ListOutreachTasks", &req.base,
                          &concord__v1__list_outreach_tasks_response__descriptor, &resp, &st);
    if (code != CC_OK)
        fail_msg("ListOutreachTasks as %s: %d %s", p->username, code, st ? st->message : "");
    return (Concord__V1__ListOutreachTasksResponse *)resp;
}

/* The task of event on account in a list, or NULL. */
static const Concord__V1__OutreachTask *find_task(const Concord__V1__ListOutreachTasksResponse *l,
                                                  const char *event, const char *account)
{
    for (size_t i = 0; i < l->n_tasks; i++)
        if (strcmp(l->tasks[i]->event_id, event) == 0 &&
            strcmp(l->tasks[i]->account_id, account) == 0)
            return l->tasks[i];
    return NULL;
}

static int complete(itest_user *p, const char *task, Concord__V1__OutreachTask **out)
{
    Concord__V1__CompleteOutreachTaskRequest req =
        CONCORD__V1__COMPLETE_OUTREACH_TASK_REQUEST__INIT;
    req.id = (char *)task;
    ProtobufCMessage *resp = NULL;
    int code = itest_call(p->conn, "concord.v1.KeyEventService/CompleteOutreachTask", &req.base,
                          &concord__v1__outreach_task__descriptor, &resp, NULL);
    if (out)
        *out = (Concord__V1__OutreachTask *)resp;
    else
        protobuf_c_message_free_unpacked(resp, NULL);
    return code;
}

/* ---- tests --------------------------------------------------------------------- */

static void invalid_events_name_their_fields(void **state)
{
    (void)state;
    const cc_status *st;
    /* Nothing set: scope, title and date are named. */
    assert_int_equal(create_event(&manager, 0, "", "", 0, NULL, NULL, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 3);
    assert_string_equal(st->violations[0]->field, "event.scope");
    assert_string_equal(st->violations[1]->field, "event.title");
    assert_string_equal(st->violations[2]->field, "event.date");

    /* An industry event without an industry but with an account. */
    assert_int_equal(create_event(&manager, CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT, "Rankings",
                                  "2026-03-15", 0, NULL, acc_a, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 2);
    assert_string_equal(st->violations[0]->field, "event.industry");
    assert_string_equal(st->violations[1]->field, "event.account_id");

    /* An account event with an industry, and not a real date. */
    assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "New rector",
                                  "2026-02-29", 0, industry, acc_a, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 2);
    assert_string_equal(st->violations[0]->field, "event.date");
    assert_string_equal(st->violations[1]->field, "event.industry");

    /* A title of 201 characters, a date in another format, a bad account id. */
    char long_title[202];
    memset(long_title, 'x', 201);
    long_title[201] = '\0';
    assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, long_title,
                                  "15.03.2026", 0, NULL, "abc", NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 3);
    assert_string_equal(st->violations[0]->field, "event.title");
    assert_string_equal(st->violations[1]->field, "event.date");
    assert_string_equal(st->violations[2]->field, "event.account_id");
    /* 200 characters are fine. */
    long_title[200] = '\0';
    assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, long_title,
                                  "2031-01-01", 0, NULL, acc_a, NULL, &st),
                     CC_OK);

    /* The window of upcoming events. */
    Concord__V1__ListUpcomingEventsRequest up = CONCORD__V1__LIST_UPCOMING_EVENTS_REQUEST__INIT;
    up.within_days = 367;
    up.as_of = "2026-02-30";
    assert_int_equal(itest_call(owner.conn, "concord.v1.KeyEventService/ListUpcomingEvents",
                                &up.base, &concord__v1__list_upcoming_events_response__descriptor,
                                NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 2);
    assert_string_equal(st->violations[0]->field, "within_days");
    assert_string_equal(st->violations[1]->field, "as_of");
}

static void who_may_create_events(void **state)
{
    (void)state;
    const cc_status *st;
    /* Industry events: managers and admins only. */
    assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT, "Rankings",
                                  "2026-03-15", 0, industry, NULL, NULL, &st),
                     CC_PERMISSION_DENIED);
    /* Account events: edit access to the account. A read member is denied, a
     * user who cannot see the account is told it does not exist. */
    assert_int_equal(create_event(&reader, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Visit",
                                  "2026-03-15", 0, NULL, acc_a, NULL, &st),
                     CC_PERMISSION_DENIED);
    assert_int_equal(create_event(&outsider, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Visit",
                                  "2026-03-15", 0, NULL, acc_a, NULL, &st),
                     CC_NOT_FOUND);
    assert_null(strstr(st->message, "Alpha"));
    assert_int_equal(create_event(&outsider, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Visit",
                                  "2026-03-15", 0, NULL, "999999999", NULL, &st),
                     CC_NOT_FOUND);
}

/*
 * The main scenario, in the window [2026-03-01, 2026-03-31]: a yearly
 * industry ranking first published 2020-03-15 and a leadership change at the
 * other-industry account on 2026-03-20.
 */
static char ranking_id[24], change_id[24];

static void upcoming_events_show_the_accounts_each_caller_sees(void **state)
{
    (void)state;
    Concord__V1__KeyEvent *e;
    const cc_status *st;
    assert_int_equal(create_event(&manager, CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT,
                                  "Rankings published", "2020-03-15", 1, industry, NULL, &e, &st),
                     CC_OK);
    assert_int_equal(e->version, 1);
    assert_int_equal(e->recurrence, CONCORD__V1__RECURRENCE__YEARLY);
    assert_string_equal(e->account_id, "");
    snprintf(ranking_id, sizeof(ranking_id), "%s", e->id);
    protobuf_c_message_free_unpacked(&e->base, NULL);
    assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT,
                                  "New chief executive", "2026-03-20", 0, NULL, acc_other, &e,
                                  &st),
                     CC_OK);
    assert_string_equal(e->industry, "");
    snprintf(change_id, sizeof(change_id), "%s", e->id);
    protobuf_c_message_free_unpacked(&e->base, NULL);

    /* The owner: the ranking concerns both of their universities (any spelling
     * of the industry), not the stranger's, not the archived one. */
    Concord__V1__ListUpcomingEventsResponse *r = upcoming(&owner, "2026-03-01", 30, 0, NULL);
    const Concord__V1__UpcomingEvent *u = find_occurrence(r, ranking_id, "2026-03-15");
    assert_non_null(u);
    assert_int_equal(u->n_accounts, 2);
    assert_int_equal(u->account_count, 2);
    assert_true(lists_account(u, acc_a));
    assert_true(lists_account(u, acc_b));
    assert_false(lists_account(u, acc_strange));
    assert_false(lists_account(u, acc_archived));
    /* Sorted by name. */
    assert_string_equal(u->accounts[0]->id, acc_a);
    assert_string_equal(u->accounts[0]->owner_id, owner.id);
    const Concord__V1__UpcomingEvent *v = find_occurrence(r, change_id, "2026-03-20");
    assert_non_null(v);
    assert_int_equal(v->n_accounts, 1);
    assert_string_equal(v->accounts[0]->id, acc_other);
    /* Soonest first. */
    for (size_t i = 1; i < r->n_events; i++)
        assert_true(strcmp(r->events[i - 1]->occurrence_date, r->events[i]->occurrence_date) <= 0);
    /* Nothing outside the window: not the 2025 or 2027 ranking. */
    assert_null(find_occurrence(r, ranking_id, "2025-03-15"));
    assert_null(find_occurrence(r, ranking_id, "2027-03-15"));
    assert_int_equal(r->tasks_created, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The window's edges are included: as_of the day itself, or ending on it. */
    r = upcoming(&owner, "2026-03-15", 1, 0, NULL);
    assert_non_null(find_occurrence(r, ranking_id, "2026-03-15"));
    protobuf_c_message_free_unpacked(&r->base, NULL);
    r = upcoming(&owner, "2026-03-05", 10, 0, NULL);
    assert_non_null(find_occurrence(r, ranking_id, "2026-03-15"));
    protobuf_c_message_free_unpacked(&r->base, NULL);
    r = upcoming(&owner, "2026-03-16", 30, 0, NULL);
    assert_null(find_occurrence(r, ranking_id, "2026-03-15"));
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* A window of a year finds the yearly ranking twice, the single change once. */
    r = upcoming(&owner, "2026-03-15", 366, 0, NULL);
    assert_non_null(find_occurrence(r, ranking_id, "2026-03-15"));
    assert_non_null(find_occurrence(r, ranking_id, "2027-03-15"));
    assert_non_null(find_occurrence(r, change_id, "2026-03-20"));
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The admin sees the stranger's account too. */
    r = upcoming(&admin, "2026-03-01", 30, 0, NULL);
    u = find_occurrence(r, ranking_id, "2026-03-15");
    assert_non_null(u);
    assert_int_equal(u->n_accounts, 3);
    assert_true(lists_account(u, acc_strange));
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The read member sees the one account they are on. */
    r = upcoming(&reader, "2026-03-01", 30, 0, NULL);
    u = find_occurrence(r, ranking_id, "2026-03-15");
    assert_non_null(u);
    assert_int_equal(u->n_accounts, 1);
    assert_string_equal(u->accounts[0]->id, acc_a);
    assert_null(find_occurrence(r, change_id, "2026-03-20"));
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The outsider sees the industry event (news for everyone) with no accounts,
     * and not the account event at all. */
    r = upcoming(&outsider, "2026-03-01", 30, 0, NULL);
    u = find_occurrence(r, ranking_id, "2026-03-15");
    assert_non_null(u);
    assert_int_equal(u->n_accounts, 0);
    assert_int_equal(u->account_count, 0);
    assert_null(find_occurrence(r, change_id, "2026-03-20"));
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void tasks_are_created_once(void **state)
{
    (void)state;
    /* The outsider creates nothing: they see no account concerned. */
    Concord__V1__ListUpcomingEventsResponse *r = upcoming(&outsider, "2026-03-01", 30, 1, NULL);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    Concord__V1__ListOutreachTasksResponse *l = tasks(&admin, NULL, acc_a, 0);
    assert_int_equal(l->n_tasks, 0);
    protobuf_c_message_free_unpacked(&l->base, NULL);

    /* The owner: one task per (occurrence, account) = Alpha, Beta, Epsilon. */
    r = upcoming(&owner, "2026-03-01", 30, 1, NULL);
    assert_int_equal(r->tasks_created, 3);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    r = upcoming(&owner, "2026-03-01", 30, 1, NULL);
    assert_int_equal(r->tasks_created, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* An overlapping window creates nothing twice either. */
    r = upcoming(&owner, "2026-03-10", 30, 1, NULL);
    assert_int_equal(r->tasks_created, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The admin adds the stranger's account's task (and maybe other tests' tasks). */
    r = upcoming(&admin, "2026-03-01", 30, 1, NULL);
    assert_true(r->tasks_created >= 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    l = tasks(&admin, NULL, acc_strange, 0);
    assert_int_equal(l->n_tasks, 1);
    assert_string_equal(l->tasks[0]->assignee_id, stranger.id);
    assert_string_equal(l->tasks[0]->due_date, "2026-03-15");
    assert_string_equal(l->tasks[0]->title, "Rankings published");
    protobuf_c_message_free_unpacked(&l->base, NULL);
    r = upcoming(&admin, "2026-03-01", 30, 1, NULL);
    assert_int_equal(r->tasks_created, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The owner's tasks, by due date, assigned to the owner. */
    l = tasks(&owner, "me", NULL, CONCORD__V1__TASK_STATUS__TASK_OPEN);
    assert_int_equal(l->n_tasks, 3);
    assert_string_equal(l->tasks[0]->due_date, "2026-03-15");
    assert_string_equal(l->tasks[2]->due_date, "2026-03-20");
    assert_string_equal(l->tasks[2]->account_id, acc_other);
    assert_non_null(strstr(l->tasks[2]->account_name, "Epsilon Stores"));
    assert_string_equal(l->tasks[2]->event_id, change_id);
    for (size_t i = 0; i < l->n_tasks; i++) {
        assert_string_equal(l->tasks[i]->assignee_id, owner.id);
        assert_int_equal(l->tasks[i]->status, CONCORD__V1__TASK_STATUS__TASK_OPEN);
        assert_null(l->tasks[i]->done_time);
    }
    protobuf_c_message_free_unpacked(&l->base, NULL);

    /* An idempotency key replays the first answer; without it nothing is new. */
    Concord__V1__KeyEvent *e;
    assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Anniversary",
                                  "2026-03-25", 0, NULL, acc_b, &e, NULL),
                     CC_OK);
    protobuf_c_message_free_unpacked(&e->base, NULL);
    char key[64];
    snprintf(key, sizeof(key), "upcoming-%s", run_id);
    r = upcoming(&owner, "2026-03-01", 30, 1, key);
    assert_int_equal(r->tasks_created, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    r = upcoming(&owner, "2026-03-01", 30, 1, key);
    assert_int_equal(r->tasks_created, 1);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    r = upcoming(&owner, "2026-03-01", 30, 1, NULL);
    assert_int_equal(r->tasks_created, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    l = tasks(&owner, "me", acc_b, 0);
    assert_int_equal(l->n_tasks, 2);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void tasks_follow_account_visibility(void **state)
{
    (void)state;
    /* The reader sees Alpha's task only. */
    Concord__V1__ListOutreachTasksResponse *l = tasks(&reader, NULL, NULL, 0);
    assert_non_null(find_task(l, ranking_id, acc_a));
    assert_null(find_task(l, ranking_id, acc_b));
    assert_null(find_task(l, change_id, acc_other));
    protobuf_c_message_free_unpacked(&l->base, NULL);
    /* The outsider sees none of them, and a filter on the account is NOT_FOUND. */
    l = tasks(&outsider, NULL, NULL, 0);
    assert_null(find_task(l, ranking_id, acc_a));
    assert_null(find_task(l, ranking_id, acc_b));
    assert_null(find_task(l, ranking_id, acc_strange));
    assert_null(find_task(l, change_id, acc_other));
    protobuf_c_message_free_unpacked(&l->base, NULL);
    Concord__V1__ListOutreachTasksRequest req = CONCORD__V1__LIST_OUTREACH_TASKS_REQUEST__INIT;
    req.account_id = acc_a;
    const cc_status *st;
    assert_int_equal(itest_call(outsider.conn, "concord.v1.KeyEventService/ListOutreachTasks",
                                &req.base, &concord__v1__list_outreach_tasks_response__descriptor,
                                NULL, &st),
                     CC_NOT_FOUND);
    /* A bad assignee id is named. */
    req.account_id = "";
    req.assignee_id = "someone";
    assert_int_equal(itest_call(owner.conn, "concord.v1.KeyEventService/ListOutreachTasks",
                                &req.base, &concord__v1__list_outreach_tasks_response__descriptor,
                                NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "assignee_id");
}

static void completing_tasks(void **state)
{
    (void)state;
    Concord__V1__ListOutreachTasksResponse *l = tasks(&owner, "me", NULL, 0);
    const Concord__V1__OutreachTask *ta = find_task(l, ranking_id, acc_a);
    const Concord__V1__OutreachTask *tb = find_task(l, ranking_id, acc_b);
    assert_non_null(ta);
    assert_non_null(tb);
    char task_a[24], task_b[24];
    snprintf(task_a, sizeof(task_a), "%s", ta->id);
    snprintf(task_b, sizeof(task_b), "%s", tb->id);
    protobuf_c_message_free_unpacked(&l->base, NULL);

    /* Not visible: NOT_FOUND; visible but neither assignee nor editor: denied. */
    assert_int_equal(complete(&outsider, task_a, NULL), CC_NOT_FOUND);
    assert_int_equal(complete(&stranger, task_a, NULL), CC_NOT_FOUND);
    assert_int_equal(complete(&reader, task_a, NULL), CC_PERMISSION_DENIED);
    assert_int_equal(complete(&owner, "999999999", NULL), CC_NOT_FOUND);
    assert_int_equal(complete(&owner, "x1", NULL), CC_INVALID_ARGUMENT);

    /* The assignee completes it; twice changes nothing. */
    Concord__V1__OutreachTask *t;
    assert_int_equal(complete(&owner, task_a, &t), CC_OK);
    assert_int_equal(t->status, CONCORD__V1__TASK_STATUS__TASK_DONE);
    assert_non_null(t->done_time);
    int64_t done_at = t->done_time->seconds;
    int32_t done_ns = t->done_time->nanos;
    protobuf_c_message_free_unpacked(&t->base, NULL);
    assert_int_equal(complete(&owner, task_a, &t), CC_OK);
    assert_int_equal(t->status, CONCORD__V1__TASK_STATUS__TASK_DONE);
    assert_int_equal(t->done_time->seconds, done_at);
    assert_int_equal(t->done_time->nanos, done_ns);
    protobuf_c_message_free_unpacked(&t->base, NULL);

    /* The department's manager may complete the owner's task. */
    assert_int_equal(complete(&manager, task_b, &t), CC_OK);
    assert_int_equal(t->status, CONCORD__V1__TASK_STATUS__TASK_DONE);
    protobuf_c_message_free_unpacked(&t->base, NULL);

    /* The status filter. */
    l = tasks(&owner, "me", NULL, CONCORD__V1__TASK_STATUS__TASK_DONE);
    assert_non_null(find_task(l, ranking_id, acc_a));
    assert_non_null(find_task(l, ranking_id, acc_b));
    assert_null(find_task(l, change_id, acc_other));
    protobuf_c_message_free_unpacked(&l->base, NULL);
    l = tasks(&owner, "me", NULL, CONCORD__V1__TASK_STATUS__TASK_OPEN);
    assert_null(find_task(l, ranking_id, acc_a));
    assert_non_null(find_task(l, change_id, acc_other));
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static int update_event(itest_user *p, const char *id, const char *field, const char *title,
                        int64_t version, Concord__V1__KeyEvent **out, const cc_status **st)
{
    Concord__V1__UpdateKeyEventRequest req = CONCORD__V1__UPDATE_KEY_EVENT_REQUEST__INIT;
    Concord__V1__KeyEvent e = CONCORD__V1__KEY_EVENT__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {(char *)field};
    e.id = (char *)id;
    e.title = (char *)title;
    e.scope = CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT;
    mask.n_paths = 1;
    mask.paths = paths;
    req.event = &e;
    req.update_mask = &mask;
    req.version = version;
    ProtobufCMessage *resp = NULL;
    int code = itest_call(p->conn, "concord.v1.KeyEventService/UpdateKeyEvent", &req.base,
                          &concord__v1__key_event__descriptor, &resp, st);
    if (out)
        *out = (Concord__V1__KeyEvent *)resp;
    else
        protobuf_c_message_free_unpacked(resp, NULL);
    return code;
}

static void updating_and_deleting_events(void **state)
{
    (void)state;
    const cc_status *st;
    Concord__V1__KeyEvent *e;
    /* Industry events: managers only; account events: account editors only. */
    assert_int_equal(update_event(&owner, ranking_id, "title", "Mine now", 1, NULL, &st),
                     CC_PERMISSION_DENIED);
    assert_int_equal(update_event(&outsider, change_id, "title", "Hidden", 1, NULL, &st),
                     CC_NOT_FOUND);
    assert_int_equal(update_event(&manager, ranking_id, "title", "Rankings out", 1, &e, &st),
                     CC_OK);
    assert_int_equal(e->version, 2);
    assert_string_equal(e->title, "Rankings out");
    /* Fields outside the mask keep their values. */
    assert_int_equal(e->scope, CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT);
    assert_string_equal(e->industry, industry);
    assert_string_equal(e->date, "2020-03-15");
    protobuf_c_message_free_unpacked(&e->base, NULL);
    /* A stale version. */
    assert_int_equal(update_event(&manager, ranking_id, "title", "Stale", 1, NULL, &st),
                     CC_ABORTED);
    assert_non_null(strstr(st->message, "version 2"));
    /* Fixed and server-owned fields are refused, naming the mask. */
    assert_int_equal(update_event(&owner, change_id, "account_id", "", 1, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "update_mask");
    assert_int_equal(update_event(&owner, change_id, "version", "", 1, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "update_mask");
    /* The merged result is validated. */
    assert_int_equal(update_event(&owner, change_id, "title", "", 1, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "event.title");
    /* The read member may not change the account's events. */
    Concord__V1__KeyEvent *alpha_event;
    assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Founding day",
                                  "1990-06-01", 1, NULL, acc_a, &alpha_event, &st),
                     CC_OK);
    assert_int_equal(update_event(&reader, alpha_event->id, "title", "No", 1, NULL, &st),
                     CC_PERMISSION_DENIED);
    protobuf_c_message_free_unpacked(&alpha_event->base, NULL);

    /* Deleting the account event keeps its tasks with their title. */
    Concord__V1__DeleteKeyEventRequest del = CONCORD__V1__DELETE_KEY_EVENT_REQUEST__INIT;
    del.id = change_id;
    assert_int_equal(itest_call(outsider.conn, "concord.v1.KeyEventService/DeleteKeyEvent",
                                &del.base, &concord__v1__delete_key_event_response__descriptor,
                                NULL, &st),
                     CC_NOT_FOUND);
    assert_int_equal(itest_call(reader.conn, "concord.v1.KeyEventService/DeleteKeyEvent", &del.base,
                                &concord__v1__delete_key_event_response__descriptor, NULL, &st),
                     CC_NOT_FOUND); /* the reader does not see the Epsilon account */
    assert_int_equal(itest_call(owner.conn, "concord.v1.KeyEventService/DeleteKeyEvent", &del.base,
                                &concord__v1__delete_key_event_response__descriptor, NULL, &st),
                     CC_OK);
    assert_int_equal(itest_call(owner.conn, "concord.v1.KeyEventService/DeleteKeyEvent", &del.base,
                                &concord__v1__delete_key_event_response__descriptor, NULL, &st),
                     CC_NOT_FOUND);
    Concord__V1__ListOutreachTasksResponse *l = tasks(&owner, NULL, acc_other, 0);
    assert_int_equal(l->n_tasks, 1);
    assert_string_equal(l->tasks[0]->title, "New chief executive");
    assert_string_equal(l->tasks[0]->event_id, "");
    protobuf_c_message_free_unpacked(&l->base, NULL);
    Concord__V1__ListUpcomingEventsResponse *r = upcoming(&owner, "2026-03-01", 30, 0, NULL);
    assert_null(find_occurrence(r, change_id, "2026-03-20"));
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void listing_events_pages_by_date(void **state)
{
    (void)state;
    const char *dates[] = {"2026-05-01", "2026-04-01", "2026-06-01"};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(create_event(&owner, CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT, "Visit",
                                      dates[i], 0, NULL, acc_b, NULL, NULL),
                         CC_OK);
    /* Beta: its three visits, its anniversary and the industry ranking: 5, by date. */
    Concord__V1__ListKeyEventsRequest req = CONCORD__V1__LIST_KEY_EVENTS_REQUEST__INIT;
    req.account_id = acc_b;
    req.page_size = 2;
    const char *want[] = {"2020-03-15", "2026-03-25", "2026-04-01", "2026-05-01", "2026-06-01"};
    size_t seen = 0;
    char token[256] = "";
    for (int page = 0; page < 3; page++) {
        req.page_token = token;
        ProtobufCMessage *resp;
        const cc_status *st;
        assert_int_equal(itest_call(owner.conn, "concord.v1.KeyEventService/ListKeyEvents",
                                    &req.base, &concord__v1__list_key_events_response__descriptor,
                                    &resp, &st),
                         CC_OK);
        Concord__V1__ListKeyEventsResponse *l = (Concord__V1__ListKeyEventsResponse *)resp;
        assert_int_equal(l->n_events, page < 2 ? 2 : 1);
        for (size_t i = 0; i < l->n_events; i++)
            assert_string_equal(l->events[i]->date, want[seen++]);
        snprintf(token, sizeof(token), "%s", l->next_page_token);
        assert_int_equal(token[0] != '\0', page < 2);
        protobuf_c_message_free_unpacked(resp, NULL);
    }
    assert_int_equal(seen, 5);

    /* Only industry events of that account's industry. */
    req.scope = CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT;
    req.page_size = 0;
    req.page_token = "";
    ProtobufCMessage *resp;
    const cc_status *st;
    assert_int_equal(itest_call(owner.conn, "concord.v1.KeyEventService/ListKeyEvents", &req.base,
                                &concord__v1__list_key_events_response__descriptor, &resp, &st),
                     CC_OK);
    Concord__V1__ListKeyEventsResponse *l = (Concord__V1__ListKeyEventsResponse *)resp;
    assert_int_equal(l->n_events, 1);
    assert_string_equal(l->events[0]->id, ranking_id);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* Someone who cannot see the account: NOT_FOUND for the filter, and none of
     * its events in the whole list. */
    req.scope = 0;
    assert_int_equal(itest_call(outsider.conn, "concord.v1.KeyEventService/ListKeyEvents",
                                &req.base, &concord__v1__list_key_events_response__descriptor, NULL,
                                &st),
                     CC_NOT_FOUND);
    req.account_id = "";
    req.page_size = 500;
    assert_int_equal(itest_call(outsider.conn, "concord.v1.KeyEventService/ListKeyEvents",
                                &req.base, &concord__v1__list_key_events_response__descriptor,
                                &resp, &st),
                     CC_OK);
    l = (Concord__V1__ListKeyEventsResponse *)resp;
    for (size_t i = 0; i < l->n_events; i++)
        assert_int_equal(l->events[i]->scope, CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT);
    protobuf_c_message_free_unpacked(resp, NULL);

    /* A forged page token is named. */
    req.page_token = "p1zz";
    assert_int_equal(itest_call(owner.conn, "concord.v1.KeyEventService/ListKeyEvents", &req.base,
                                &concord__v1__list_key_events_response__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "page_token");
}

/* Runs one count query as concord_app with the caller set as concordd sets it. */
static long rls_count(PGconn *pg, const itest_user *p, const char *role, const char *dept,
                      const char *sql, const char *arg)
{
    PGresult *r = PQexec(pg, "BEGIN");
    PQclear(r);
    const char *set[3] = {p->id, role, dept};
    r = PQexecParams(pg,
                     "SELECT set_config('concord.user_id', $1, true),"
                     " set_config('concord.role', $2, true),"
                     " set_config('concord.department', $3, true)",
                     3, NULL, set, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
    PQclear(r);
    const char *params[1] = {arg};
    r = PQexecParams(pg, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK)
        fail_msg("%s: %s", sql, PQresultErrorMessage(r));
    long n = atol(PQgetvalue(r, 0, 0));
    PQclear(r);
    r = PQexec(pg, "ROLLBACK");
    PQclear(r);
    return n;
}

static void row_level_security_hides_rows_in_sql(void **state)
{
    (void)state;
    PGconn *pg = PQconnectdb(itest_env("CONCORD_DB_URL"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    static const char events_of[] =
        "SELECT count(*) FROM concord.key_events WHERE account_id = $1::bigint";
    static const char tasks_of[] =
        "SELECT count(*) FROM concord.outreach_tasks WHERE account_id = $1::bigint";
    static const char industry_events[] =
        "SELECT count(*) FROM concord.key_events WHERE industry = $1";
    assert_true(rls_count(pg, &owner, "member", "sales", events_of, acc_a) >= 2);
    assert_true(rls_count(pg, &owner, "member", "sales", tasks_of, acc_a) >= 1);
    assert_int_equal(rls_count(pg, &outsider, "member", "rnd", events_of, acc_a), 0);
    assert_int_equal(rls_count(pg, &outsider, "member", "rnd", tasks_of, acc_a), 0);
    assert_int_equal(rls_count(pg, &outsider, "member", "rnd", tasks_of, acc_b), 0);
    /* Industry events are news for every signed-in user, and for no one else. */
    assert_int_equal(rls_count(pg, &outsider, "member", "rnd", industry_events, industry), 1);
    PGresult *r = PQexec(pg, "SELECT count(*) FROM concord.key_events");
    assert_string_equal(PQgetvalue(r, 0, 0), "0");
    PQclear(r);

    /* Writes under RLS: the outsider cannot insert a task for an account they cannot see,
     * nor an industry event as a member. */
    r = PQexec(pg, "BEGIN");
    PQclear(r);
    const char *set[3] = {outsider.id, "member", "rnd"};
    r = PQexecParams(pg,
                     "SELECT set_config('concord.user_id', $1, true),"
                     " set_config('concord.role', $2, true),"
                     " set_config('concord.department', $3, true)",
                     3, NULL, set, NULL, NULL, 0);
    PQclear(r);
    const char *p[2] = {acc_a, outsider.id};
    r = PQexecParams(pg,
                     "INSERT INTO concord.outreach_tasks (account_id, title, due_date,"
                     " assignee_id) VALUES ($1, 'x', '2026-01-01', $2)",
                     2, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    r = PQexec(pg, "ROLLBACK");
    PQclear(r);
    r = PQexec(pg, "BEGIN");
    PQclear(r);
    r = PQexecParams(pg,
                     "SELECT set_config('concord.user_id', $1, true),"
                     " set_config('concord.role', $2, true),"
                     " set_config('concord.department', $3, true)",
                     3, NULL, set, NULL, NULL, 0);
    PQclear(r);
    r = PQexec(pg, "INSERT INTO concord.key_events (scope, title, event_date, industry)"
                   " VALUES ('industry_event', 'x', '2026-01-01', 'x')");
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    PQclear(r);
    r = PQexec(pg, "ROLLBACK");
    PQclear(r);
    PQfinish(pg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(invalid_events_name_their_fields),
        cmocka_unit_test(who_may_create_events),
        cmocka_unit_test(upcoming_events_show_the_accounts_each_caller_sees),
        cmocka_unit_test(tasks_are_created_once),
        cmocka_unit_test(tasks_follow_account_visibility),
        cmocka_unit_test(completing_tasks),
        cmocka_unit_test(updating_and_deleting_events),
        cmocka_unit_test(listing_events_pages_by_date),
        cmocka_unit_test(row_level_security_hides_rows_in_sql),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
