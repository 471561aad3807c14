/*
 * test_activities.c - ActivityService through the real protocol: recording
 * activities with validation naming (indexed) fields, the creator added to
 * the users, newest-first lists with stable keyset pages and filters, the
 * bulk path (all or nothing, visibility errors, one audit row), the account
 * timeline merging activities, audit highlights, stage and tier changes with
 * stable pagination, and visibility (an outsider sees nothing, a read-only
 * team member cannot write, row-level security agrees in SQL).
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
#include "concord/v1/activity.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "concord/v1/stakeholder.pb-c.h"
#include "concord/v1/team.pb-c.h"
#include "concord_client.h"
#include "itest.h"

static char admin_token[ITEST_TOKEN_LEN];
static char run_id[32];

static int setup(void **state)
{
    (void)state;
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL) % 100000, (int)getpid());
    itest_login_token(itest_env("CONCORD_ADMIN_USER"), itest_env("CONCORD_ADMIN_PASSWORD"),
                      admin_token, sizeof(admin_token));
    itest_release(NULL);
    return 0;
}

/* ---- activity helpers -------------------------------------------------------------------- */

/* An activity (not sent) of account at now - seconds_ago, with up to two stakeholders. */
typedef struct act_buf {
    Concord__V1__Activity a;
    Google__Protobuf__Timestamp ts;
    char *sids[2];
    char *uids[1];
} act_buf;

static Concord__V1__Activity *act_init(act_buf *b, const char *account_id,
                                       Concord__V1__ActivityKind kind, const char *subject,
                                       int64_t seconds_ago, const char *s1, const char *s2)
{
    concord__v1__activity__init(&b->a);
    google__protobuf__timestamp__init(&b->ts);
    b->ts.seconds = (int64_t)time(NULL) - seconds_ago;
    b->sids[0] = (char *)s1;
    b->sids[1] = (char *)s2;
    b->a.account_id = (char *)account_id;
    b->a.kind = kind;
    b->a.subject = (char *)subject;
    b->a.occur_time = &b->ts;
    b->a.stakeholder_ids = b->sids;
    b->a.n_stakeholder_ids = s2 ? 2 : (s1 ? 1 : 0);
    b->a.user_ids = b->uids;
    return &b->a;
}

static Concord__V1__Activity *create_act(cc_conn *c, Concord__V1__Activity *a, int *code,
                                         const cc_status **st)
{
    Concord__V1__CreateActivityRequest req = CONCORD__V1__CREATE_ACTIVITY_REQUEST__INIT;
    req.activity = a;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.ActivityService/CreateActivity", &req,
                            &concord__v1__activity__descriptor, &resp, st);
    return resp;
}

static Concord__V1__ListActivitiesResponse *list_acts(cc_conn *c, const char *account_id,
                                                      int page_size, const char *token, int kind,
                                                      const char *stakeholder, int *code)
{
    Concord__V1__ListActivitiesRequest req = CONCORD__V1__LIST_ACTIVITIES_REQUEST__INIT;
    req.account_id = (char *)account_id;
    req.page_size = page_size;
    req.page_token = (char *)(token ? token : "");
    req.kind = kind;
    req.stakeholder_id = (char *)(stakeholder ? stakeholder : "");
    const cc_status *st;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.ActivityService/ListActivities", &req,
                            &concord__v1__list_activities_response__descriptor, &resp, &st);
    return resp;
}

static int bulk(cc_conn *c, Concord__V1__Activity **items, size_t n, int *created,
                const cc_status **st)
{
    Concord__V1__BulkCreateActivitiesRequest req =
        CONCORD__V1__BULK_CREATE_ACTIVITIES_REQUEST__INIT;
    req.activities = items;
    req.n_activities = n;
    int code;
    Concord__V1__BulkCreateActivitiesResponse *r = NULL;
    code = itest_call_kept(c, "concord.v1.ActivityService/BulkCreateActivities", &req,
                           &concord__v1__bulk_create_activities_response__descriptor, &r, st);
    if (created)
        *created = r ? r->created : -1;
    return code;
}

static Concord__V1__GetAccountTimelineResponse *
timeline(cc_conn *c, const char *account_id, const Concord__V1__TimelineEntryType *types,
         size_t n_types, int page_size, const char *token, int *code)
{
    Concord__V1__GetAccountTimelineRequest req = CONCORD__V1__GET_ACCOUNT_TIMELINE_REQUEST__INIT;
    req.account_id = (char *)account_id;
    req.types = (Concord__V1__TimelineEntryType *)types;
    req.n_types = n_types;
    req.page_size = page_size;
    req.page_token = (char *)(token ? token : "");
    const cc_status *st;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.ActivityService/GetAccountTimeline", &req,
                            &concord__v1__get_account_timeline_response__descriptor, &resp, &st);
    return resp;
}

static size_t count_acts(cc_conn *c, const char *account_id)
{
    int code;
    Concord__V1__ListActivitiesResponse *l = list_acts(c, account_id, 500, NULL, 0, NULL, &code);
    assert_int_equal(code, CC_OK);
    return l->n_activities;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void create_validates_and_adds_the_creator(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Activity University %s", run_id);
    char other[ITEST_ID_LEN];
    itest_new_account(c, other, NULL, "Activity Elsewhere %s", run_id);
    Concord__V1__Stakeholder *s = itest_new_stakeholder(
        c, acc, "Ann Provost", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, NULL);
    Concord__V1__Stakeholder *far =
        itest_new_stakeholder(c, other, "Far Away", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, NULL);
    itest_user csm_user;
    itest_new_user(c, &csm_user, CONCORD__V1__DEPARTMENT__SUCCESS, CONCORD__V1__ROLE__MEMBER,
                   "csm%s", run_id);
    const char *csm = csm_user.id;
    int code;
    const cc_status *st;
    act_buf b;

    /* Field checks in one answer. */
    Concord__V1__Activity *a = act_init(&b, acc, 0, "", 0, "x", NULL);
    a->occur_time = NULL;
    create_act(c, a, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "activity.kind"));
    assert_true(itest_names_field(st, "activity.subject"));
    assert_true(itest_names_field(st, "activity.occur_time"));
    assert_true(itest_names_field(st, "activity.stakeholder_ids[0]"));

    /* More than a year ahead is refused; next month is fine (a planned visit). */
    a = act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__VISIT, "Site visit", -400L * 86400, NULL,
                 NULL);
    create_act(c, a, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "activity.occur_time"));

    /* Stakeholders of another account and unknown users are named by position. */
    a = act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__CALL, "Call", 3600, s->id, far->id);
    b.uids[0] = "999999999";
    a->n_user_ids = 1;
    create_act(c, a, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "activity.stakeholder_ids[1]"));
    assert_false(itest_names_field(st, "activity.stakeholder_ids[0]"));
    assert_true(itest_names_field(st, "activity.user_ids[0]"));

    /* A good one: the creator joins the users; the time keeps its microseconds. */
    a = act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__MEETING, "Quarterly review", 3600, s->id,
                 NULL);
    b.ts.nanos = 123456000;
    b.uids[0] = (char *)csm;
    a->n_user_ids = 1;
    a->notes = "Agenda:\n1. usage\n2. renewal";
    Concord__V1__Activity *made = create_act(c, a, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(made->kind, CONCORD__V1__ACTIVITY_KIND__MEETING);
    assert_string_equal(made->notes, "Agenda:\n1. usage\n2. renewal");
    assert_int_equal(made->occur_time->seconds, b.ts.seconds);
    assert_int_equal(made->occur_time->nanos, 123456000);
    assert_int_equal(made->n_stakeholder_ids, 1);
    assert_string_equal(made->stakeholder_ids[0], s->id);
    assert_int_equal(made->n_user_ids, 2);
    assert_true(strcmp(made->user_ids[0], csm) == 0 || strcmp(made->user_ids[1], csm) == 0);
    assert_true(made->created_by_id[0] != '\0');
    assert_true(strcmp(made->user_ids[0], made->created_by_id) == 0 ||
                strcmp(made->user_ids[1], made->created_by_id) == 0);
    assert_non_null(made->create_time);

    /* Get, and NOT_FOUND for what does not exist. */
    Concord__V1__GetActivityRequest g = CONCORD__V1__GET_ACTIVITY_REQUEST__INIT;
    g.id = made->id;
    Concord__V1__Activity *got = NULL;
    code = itest_call_kept(c, "concord.v1.ActivityService/GetActivity", &g,
                           &concord__v1__activity__descriptor, &got, &st);
    assert_int_equal(code, CC_OK);
    assert_string_equal(got->subject, "Quarterly review");
    g.id = "999999999";
    itest_keep(itest_expect(c, "concord.v1.ActivityService/GetActivity", &g,
                            &concord__v1__activity__descriptor, CC_NOT_FOUND));

    PGconn *pg = itest_pg_superuser();
    assert_int_equal(itest_sql_count(pg,
                                     "SELECT count(*) FROM concord.audit_log WHERE action ="
                                     " 'create_activity' AND target_id = $1",
                                     made->id),
                     1);
    PQfinish(pg);
    cc_conn_free(c);
    itest_user_close(&csm_user);
}

static void list_is_newest_first_with_stable_pages(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Listing University %s", run_id);
    Concord__V1__Stakeholder *s =
        itest_new_stakeholder(c, acc, "Lia Lister", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, NULL);
    int code;
    const cc_status *st;
    act_buf b;
    /* Two share one time: the id decides between them. */
    static const int64_t ago[] = {500, 100, 300, 300, 200};
    static const Concord__V1__ActivityKind kinds[] = {
        CONCORD__V1__ACTIVITY_KIND__EMAIL, CONCORD__V1__ACTIVITY_KIND__CALL,
        CONCORD__V1__ACTIVITY_KIND__EMAIL, CONCORD__V1__ACTIVITY_KIND__NOTE,
        CONCORD__V1__ACTIVITY_KIND__EMAIL};
    const char *ids[5];
    int64_t base = (int64_t)time(NULL);
    for (int i = 0; i < 5; i++) {
        char subject[32];
        snprintf(subject, sizeof(subject), "Touch %d", i);
        Concord__V1__Activity *a =
            act_init(&b, acc, kinds[i], subject, 0, i % 2 ? s->id : NULL, NULL);
        b.ts.seconds = base - ago[i];
        Concord__V1__Activity *made = create_act(c, a, &code, &st);
        assert_int_equal(code, CC_OK);
        ids[i] = made->id;
    }
    /* Newest first: 1 (100), 4 (200), 3 and 2 (300, higher id first), 0 (500). */
    const char *want[5] = {ids[1], ids[4], ids[3], ids[2], ids[0]};
    const char *token = NULL;
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        Concord__V1__ListActivitiesResponse *l = list_acts(c, acc, 2, token, 0, NULL, &code);
        assert_int_equal(code, CC_OK);
        /* A row added meanwhile, older than the page, must not shift the pages. */
        if (page == 0) {
            Concord__V1__Activity *a =
                act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__DEMO, "Late entry", 0, NULL, NULL);
            b.ts.seconds = base - 10;
            create_act(c, a, &code, &st);
            assert_int_equal(code, CC_OK);
        }
        for (size_t i = 0; i < l->n_activities; i++)
            assert_string_equal(l->activities[i]->id, want[seen++]);
        token = l->next_page_token;
        if (page == 2)
            assert_string_equal(token, "");
    }
    assert_int_equal(seen, 5);

    Concord__V1__ListActivitiesResponse *l =
        list_acts(c, acc, 0, NULL, CONCORD__V1__ACTIVITY_KIND__EMAIL, NULL, &code);
    assert_int_equal(l->n_activities, 3);
    l = list_acts(c, acc, 0, NULL, 0, s->id, &code);
    assert_int_equal(code, CC_OK);
    assert_int_equal(l->n_activities, 2);
    assert_string_equal(l->activities[0]->id, ids[1]);
    assert_string_equal(l->activities[1]->id, ids[3]);
    /* Paging the stakeholder filter. */
    l = list_acts(c, acc, 1, NULL, 0, s->id, &code);
    assert_int_equal(l->n_activities, 1);
    l = list_acts(c, acc, 1, l->next_page_token, 0, s->id, &code);
    assert_int_equal(l->n_activities, 1);
    assert_string_equal(l->activities[0]->id, ids[3]);
    assert_string_equal(l->next_page_token, "");
    list_acts(c, acc, 0, "p1zz", 0, NULL, &code);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    cc_conn_free(c);
}

static void bulk_is_all_or_nothing(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Import University %s", run_id);
    char other[ITEST_ID_LEN];
    itest_new_account(c, other, NULL, "Import Elsewhere %s", run_id);
    Concord__V1__Stakeholder *s = itest_new_stakeholder(
        c, acc, "Ivy Importer", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, NULL);
    Concord__V1__Stakeholder *far =
        itest_new_stakeholder(c, other, "Not Here", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, NULL);
    act_buf b[4];
    Concord__V1__Activity *items[4];
    for (int i = 0; i < 4; i++)
        items[i] = act_init(&b[i], acc, CONCORD__V1__ACTIVITY_KIND__EMAIL, "Imported mail",
                            86400L * (i + 1), s->id, NULL);
    items[1]->notes = "tab\there, newline\nthere, backslash \\ too";
    int code, created;
    const cc_status *st;

    /* One bad row in C validation: nothing is written. */
    items[2]->subject = "";
    code = bulk(c, items, 4, &created, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "activities[2].subject"));
    assert_int_equal(count_acts(c, acc), 0);
    items[2]->subject = "Imported mail";

    /* One bad link found by the database: nothing is written. */
    b[3].sids[0] = (char *)far->id;
    code = bulk(c, items, 4, &created, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "activities[3].stakeholder_ids[0]"));
    assert_int_equal(count_acts(c, acc), 0);
    b[3].sids[0] = (char *)s->id;

    /* All good: every row lands, with its links and its exact text. */
    code = bulk(c, items, 4, &created, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(created, 4);
    Concord__V1__ListActivitiesResponse *l = list_acts(c, acc, 0, NULL, 0, s->id, &code);
    assert_int_equal(l->n_activities, 4);
    assert_string_equal(l->activities[1]->notes, "tab\there, newline\nthere, backslash \\ too");
    /* Imports record the users given only (none here), the importer as creator. */
    assert_int_equal(l->activities[0]->n_user_ids, 0);
    assert_true(l->activities[0]->created_by_id[0] != '\0');

    /* One audit row for the call. */
    PGconn *pg = itest_pg_superuser();
    assert_int_equal(itest_sql_count(pg,
                                     "SELECT count(*) FROM concord.audit_log WHERE action ="
                                     " 'bulk_create_activities' AND target_type = 'account'"
                                     " AND target_id = $1 AND after = '{\"created\": 4}'",
                                     acc),
                     1);
    PQfinish(pg);

    /* Too many in one call. */
    size_t n = 10001;
    Concord__V1__Activity **many = calloc(n, sizeof(*many));
    assert_non_null(many);
    for (size_t i = 0; i < n; i++)
        many[i] = items[0];
    code = bulk(c, many, n, &created, &st);
    free(many);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "activities"));
    cc_conn_free(c);
}

static void bulk_checks_every_account(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    itest_user out_user, reader_user;
    itest_new_user(c, &out_user, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER, "bout%s",
                   run_id);
    itest_new_user(c, &reader_user, CONCORD__V1__DEPARTMENT__DELIVERY, CONCORD__V1__ROLE__MEMBER,
                   "bread%s", run_id);
    const char *reader = reader_user.id;
    char hidden[ITEST_ID_LEN];
    itest_new_account(c, hidden, NULL, "Bulk Hidden %s", run_id);
    assert_int_equal(itest_add_member(c, hidden, reader, CONCORD__V1__TEAM_ROLE__SOLUTION_LEAD,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);

    cc_conn *o = itest_connect(out_user.token);
    char own[ITEST_ID_LEN];
    itest_new_account(o, own, NULL, "Bulk Own %s", run_id);
    act_buf b[3];
    Concord__V1__Activity *items[3];
    items[0] = act_init(&b[0], own, CONCORD__V1__ACTIVITY_KIND__NOTE, "Mine", 60, NULL, NULL);
    items[1] =
        act_init(&b[1], hidden, CONCORD__V1__ACTIVITY_KIND__NOTE, "Not mine", 60, NULL, NULL);
    items[2] = act_init(&b[2], own, CONCORD__V1__ACTIVITY_KIND__NOTE, "Mine too", 60, NULL, NULL);
    int code, created;
    const cc_status *st;
    code = bulk(o, items, 3, &created, &st);
    assert_int_equal(code, CC_NOT_FOUND);
    assert_non_null(strstr(st->message, "activities[1].account_id"));
    assert_int_equal(count_acts(o, own), 0);
    /* Only its own account: fine. */
    items[1] = items[2];
    code = bulk(o, items, 2, &created, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(created, 2);
    cc_conn_free(o);

    /* A reader sees the account but may not write to it. */
    cc_conn *r = itest_connect(reader_user.token);
    items[0] = act_init(&b[0], hidden, CONCORD__V1__ACTIVITY_KIND__NOTE, "Reader", 60, NULL, NULL);
    code = bulk(r, items, 1, &created, &st);
    assert_int_equal(code, CC_PERMISSION_DENIED);
    assert_non_null(strstr(st->message, "activities[0].account_id"));
    assert_int_equal(count_acts(r, hidden), 0);
    cc_conn_free(r);
    cc_conn_free(c);
    itest_user_close(&out_user);
    itest_user_close(&reader_user);
}

/* Finds the first entry of type with a title containing text; NULL if none. */
static const Concord__V1__TimelineEntry *
find_entry(const Concord__V1__GetAccountTimelineResponse *t, int type, const char *text)
{
    for (size_t i = 0; i < t->n_entries; i++)
        if ((int)t->entries[i]->type == type && strstr(t->entries[i]->title, text))
            return t->entries[i];
    return NULL;
}

static void timeline_merges_and_pages(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Timeline University %s", run_id);
    int code;
    const cc_status *st;

    /* An audit highlight: the account renamed (it was created just now). */
    Concord__V1__UpdateAccountRequest up = CONCORD__V1__UPDATE_ACCOUNT_REQUEST__INIT;
    Concord__V1__Account change = CONCORD__V1__ACCOUNT__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"region"};
    change.id = (char *)acc;
    change.region = "EMEA";
    mask.n_paths = 1;
    mask.paths = paths;
    up.account = &change;
    up.update_mask = &mask;
    up.version = 1;
    itest_keep(itest_expect(c, "concord.v1.AccountService/UpdateAccount", &up,
                            &concord__v1__account__descriptor, CC_OK));

    act_buf b;
    create_act(
        c, act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__MEETING, "Kick-off", 86400, NULL, NULL),
        &code, &st);
    assert_int_equal(code, CC_OK);
    create_act(
        c, act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__CALL, "Check-in", 2 * 86400, NULL, NULL),
        &code, &st);
    assert_int_equal(code, CC_OK);
    create_act(
        c,
        act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__EMAIL, "Same second", 2 * 86400, NULL, NULL),
        &code, &st);
    assert_int_equal(code, CC_OK);

    /* Stage and tier changes, written as their services would. */
    PGconn *pg = itest_pg_superuser();
    const char *p[1] = {acc};
    PGresult *r =
        PQexecParams(pg,
                     "INSERT INTO concord.stage_changes (account_id, from_stage, to_stage,"
                     " effective_date, reason) VALUES ($1, 'handover', 'onboarding',"
                     " (now() - interval '10 days')::date, 'contract started')",
                     1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    r = PQexecParams(pg,
                     "INSERT INTO concord.tier_changes (account_id, from_tier, to_tier, reason,"
                     " changed_at) VALUES ($1, 'tier_b', 'tier_a', 'renewal intent',"
                     " now() - interval '5 days')",
                     1, NULL, p, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(pg);

    Concord__V1__GetAccountTimelineResponse *all = timeline(c, acc, NULL, 0, 0, NULL, &code);
    assert_int_equal(code, CC_OK);
    assert_int_equal(all->n_entries, 7);
    assert_string_equal(all->next_page_token, "");
    for (size_t i = 1; i < all->n_entries; i++)
        assert_true(all->entries[i - 1]->time->seconds >= all->entries[i]->time->seconds);
    const Concord__V1__TimelineEntry *e =
        find_entry(all, CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_AUDIT, "Account updated");
    assert_non_null(e);
    assert_non_null(strstr(e->detail, "region"));
    assert_true(e->actor_id[0] != '\0');
    assert_non_null(
        find_entry(all, CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_AUDIT, "Account created"));
    assert_non_null(
        find_entry(all, CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_ACTIVITY, "Meeting: Kick-off"));
    e = find_entry(all, CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_STAGE_CHANGE, "onboarding");
    assert_non_null(e);
    assert_string_equal(e->detail, "contract started");
    assert_non_null(find_entry(all, CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_TIER_CHANGE, "A"));
    /* Newest first: the stage change (10 days ago) is last. */
    assert_int_equal(all->entries[6]->type,
                     CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_STAGE_CHANGE);

    /* Pages of 2 give the same entries in the same order. */
    const char *token = NULL;
    size_t seen = 0;
    for (int page = 0; page < 4; page++) {
        Concord__V1__GetAccountTimelineResponse *t = timeline(c, acc, NULL, 0, 2, token, &code);
        assert_int_equal(code, CC_OK);
        for (size_t i = 0; i < t->n_entries; i++, seen++) {
            assert_int_equal(t->entries[i]->type, all->entries[seen]->type);
            assert_string_equal(t->entries[i]->ref_id, all->entries[seen]->ref_id);
        }
        token = t->next_page_token;
    }
    assert_int_equal(seen, 7);
    assert_string_equal(token, "");

    /* Filters by type. */
    static const Concord__V1__TimelineEntryType audit_only[] = {
        CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_AUDIT};
    Concord__V1__GetAccountTimelineResponse *t = timeline(c, acc, audit_only, 1, 0, NULL, &code);
    assert_int_equal(t->n_entries, 2);
    static const Concord__V1__TimelineEntryType two[] = {
        CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_ACTIVITY,
        CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_STAGE_CHANGE};
    t = timeline(c, acc, two, 2, 0, NULL, &code);
    assert_int_equal(t->n_entries, 4);
    static const Concord__V1__TimelineEntryType bad[] = {(Concord__V1__TimelineEntryType)9};
    timeline(c, acc, bad, 1, 0, NULL, &code);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    cc_conn_free(c);
}

static void outsiders_see_nothing_and_readers_cannot_write(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    itest_user out_user, reader_user;
    itest_new_user(c, &out_user, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER, "aout%s",
                   run_id);
    const char *outsider = out_user.id;
    itest_new_user(c, &reader_user, CONCORD__V1__DEPARTMENT__DELIVERY, CONCORD__V1__ROLE__MEMBER,
                   "aread%s", run_id);
    const char *reader = reader_user.id;
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Secret Activities %s", run_id);
    assert_int_equal(itest_add_member(c, acc, reader, CONCORD__V1__TEAM_ROLE__SOLUTION_LEAD,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);
    int code;
    const cc_status *st;
    act_buf b;
    Concord__V1__Activity *made = create_act(
        c, act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__VISIT, "Hidden visit", 60, NULL, NULL),
        &code, &st);
    assert_int_equal(code, CC_OK);
    Concord__V1__GetActivityRequest g = CONCORD__V1__GET_ACTIVITY_REQUEST__INIT;
    g.id = made->id;

    cc_conn *o = itest_connect(out_user.token);
    itest_keep(itest_expect(o, "concord.v1.ActivityService/GetActivity", &g,
                            &concord__v1__activity__descriptor, CC_NOT_FOUND));
    list_acts(o, acc, 0, NULL, 0, NULL, &code);
    assert_int_equal(code, CC_NOT_FOUND);
    timeline(o, acc, NULL, 0, 0, NULL, &code);
    assert_int_equal(code, CC_NOT_FOUND);
    create_act(o, act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__NOTE, "Intrusion", 60, NULL, NULL),
               &code, &st);
    assert_int_equal(code, CC_NOT_FOUND);
    cc_conn_free(o);

    cc_conn *r = itest_connect(reader_user.token);
    itest_keep(itest_expect(r, "concord.v1.ActivityService/GetActivity", &g,
                            &concord__v1__activity__descriptor, CC_OK));
    assert_int_equal(count_acts(r, acc), 1);
    Concord__V1__GetAccountTimelineResponse *t = timeline(r, acc, NULL, 0, 0, NULL, &code);
    assert_int_equal(code, CC_OK);
    assert_true(t->n_entries >= 2);
    create_act(r,
               act_init(&b, acc, CONCORD__V1__ACTIVITY_KIND__NOTE, "Reader note", 60, NULL, NULL),
               &code, &st);
    assert_int_equal(code, CC_PERMISSION_DENIED);
    cc_conn_free(r);

    /* Row-level security agrees in SQL: nothing visible, nothing insertable. */
    PGconn *pg = PQconnectdb(itest_env("CONCORD_DB_URL"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    const char *params[3] = {outsider, "member", "rnd"};
    PGresult *res = PQexecParams(pg,
                                 "SELECT set_config('concord.user_id', $1, false),"
                                 " set_config('concord.role', $2, false),"
                                 " set_config('concord.department', $3, false)",
                                 3, NULL, params, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
    PQclear(res);
    assert_int_equal(
        itest_sql_count(pg, "SELECT count(*) FROM concord.activities WHERE account_id = $1", acc),
        0);
    assert_int_equal(
        itest_sql_count(pg, "SELECT count(*) FROM concord.activity_users WHERE account_id = $1",
                        acc),
        0);
    const char *ins[1] = {acc};
    res = PQexecParams(pg,
                       "INSERT INTO concord.activities (account_id, kind, subject, occur_time)"
                       " VALUES ($1, 'note', 'Sneaky', now())",
                       1, NULL, ins, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    PQfinish(pg);
    cc_conn_free(c);
    itest_user_close(&out_user);
    itest_user_close(&reader_user);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(create_validates_and_adds_the_creator, itest_release),
        cmocka_unit_test_teardown(list_is_newest_first_with_stable_pages, itest_release),
        cmocka_unit_test_teardown(bulk_is_all_or_nothing, itest_release),
        cmocka_unit_test_teardown(bulk_checks_every_account, itest_release),
        cmocka_unit_test_teardown(timeline_merges_and_pages, itest_release),
        cmocka_unit_test_teardown(outsiders_see_nothing_and_readers_cannot_write, itest_release),
    };
    return cmocka_run_group_tests(tests, setup, itest_release);
}
