/*
 * test_stakeholders.c - StakeholderService through the real protocol:
 * validation naming fields, versions, the relationship map without cycles,
 * soft delete, paging, last contact, the coverage view with its
 * single-threaded flag, one audit row per change, and visibility (an
 * outsider sees nothing, a read-only team member cannot write, and
 * row-level security hides the rows in SQL too).
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

static Concord__V1__Stakeholder *get_sh(cc_conn *c, const char *id, int *code)
{
    Concord__V1__GetStakeholderRequest req = CONCORD__V1__GET_STAKEHOLDER_REQUEST__INIT;
    req.id = (char *)id;
    const cc_status *st;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.StakeholderService/GetStakeholder", &req,
                            &concord__v1__stakeholder__descriptor, &resp, &st);
    return resp;
}

/* Updates one field (by mask path) of stakeholder s at version. */
static Concord__V1__Stakeholder *update_sh(cc_conn *c, Concord__V1__Stakeholder *change,
                                           const char *path, int64_t version, int *code,
                                           const cc_status **st)
{
    Concord__V1__UpdateStakeholderRequest req = CONCORD__V1__UPDATE_STAKEHOLDER_REQUEST__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[1] = {(char *)path};
    mask.n_paths = 1;
    mask.paths = paths;
    req.stakeholder = change;
    req.update_mask = &mask;
    req.version = version;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.StakeholderService/UpdateStakeholder", &req,
                            &concord__v1__stakeholder__descriptor, &resp, st);
    return resp;
}

static int delete_sh(cc_conn *c, const char *id, int64_t version, const cc_status **st)
{
    Concord__V1__DeleteStakeholderRequest req = CONCORD__V1__DELETE_STAKEHOLDER_REQUEST__INIT;
    req.id = (char *)id;
    req.version = version;
    int code;
    code = itest_call_kept(c, "concord.v1.StakeholderService/DeleteStakeholder", &req,
                           &concord__v1__delete_stakeholder_response__descriptor, NULL, st);
    return code;
}

static Concord__V1__ListStakeholdersResponse *list_sh(cc_conn *c, const char *account_id,
                                                      int page_size, const char *token, int level,
                                                      int attitude, int *code)
{
    Concord__V1__ListStakeholdersRequest req = CONCORD__V1__LIST_STAKEHOLDERS_REQUEST__INIT;
    req.account_id = (char *)account_id;
    req.page_size = page_size;
    req.page_token = (char *)(token ? token : "");
    req.level = level;
    req.attitude = attitude;
    const cc_status *st;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.StakeholderService/ListStakeholders", &req,
                            &concord__v1__list_stakeholders_response__descriptor, &resp, &st);
    return resp;
}

static Concord__V1__Coverage *coverage(cc_conn *c, const char *account_id, int window, int *code,
                                       const cc_status **st)
{
    Concord__V1__GetCoverageRequest req = CONCORD__V1__GET_COVERAGE_REQUEST__INIT;
    req.account_id = (char *)account_id;
    req.window_days = window;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.StakeholderService/GetCoverage", &req,
                            &concord__v1__coverage__descriptor, &resp, st);
    return resp;
}

/* Records an activity days_ago days back with the given stakeholders and users. */
static Concord__V1__Activity *activity(cc_conn *c, const char *account_id, double days_ago,
                                       const char *s1, const char *s2, const char *user, int *code,
                                       const cc_status **st)
{
    Concord__V1__CreateActivityRequest req = CONCORD__V1__CREATE_ACTIVITY_REQUEST__INIT;
    Concord__V1__Activity a = CONCORD__V1__ACTIVITY__INIT;
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = (int64_t)time(NULL) - (int64_t)(days_ago * 86400);
    char *sids[2] = {(char *)s1, (char *)s2};
    char *uids[1] = {(char *)user};
    a.account_id = (char *)account_id;
    a.kind = CONCORD__V1__ACTIVITY_KIND__MEETING;
    a.subject = "Review";
    a.occur_time = &ts;
    a.stakeholder_ids = sids;
    a.n_stakeholder_ids = s2 ? 2 : (s1 ? 1 : 0);
    a.user_ids = uids;
    a.n_user_ids = user ? 1 : 0;
    req.activity = &a;
    void *resp = NULL;
    *code = itest_call_kept(c, "concord.v1.ActivityService/CreateActivity", &req,
                            &concord__v1__activity__descriptor, &resp, st);
    return resp;
}

static int setup(void **state)
{
    (void)state;
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL) % 100000, (int)getpid());
    itest_login_token(itest_env("CONCORD_ADMIN_USER"), itest_env("CONCORD_ADMIN_PASSWORD"),
                      admin_token, sizeof(admin_token));
    itest_release(NULL);
    return 0;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void invalid_fields_are_named(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Validation University %s", run_id);
    Concord__V1__CreateStakeholderRequest req = CONCORD__V1__CREATE_STAKEHOLDER_REQUEST__INIT;
    Concord__V1__Stakeholder s = CONCORD__V1__STAKEHOLDER__INIT;
    s.account_id = (char *)acc;
    s.name = "";
    s.influence = 6;
    s.email = "not an address";
    s.phone = "012345678901234567890123456789012345678901234567890"; /* 51 */
    s.reports_to_id = "x";
    req.stakeholder = &s;
    int code;
    const cc_status *st;
    Concord__V1__Stakeholder *made;
    code = itest_call_kept(c, "concord.v1.StakeholderService/CreateStakeholder", &req,
                           &concord__v1__stakeholder__descriptor, NULL, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "stakeholder.name"));
    assert_true(itest_names_field(st, "stakeholder.level"));
    assert_true(itest_names_field(st, "stakeholder.influence"));
    assert_true(itest_names_field(st, "stakeholder.email"));
    assert_true(itest_names_field(st, "stakeholder.phone"));
    assert_true(itest_names_field(st, "stakeholder.reports_to_id"));

    /* The account is required and must be visible. */
    code = itest_create_stakeholder(c, "", "Nobody", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, NULL,
                                    &made, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "stakeholder.account_id"));
    code = itest_create_stakeholder(c, "999999999", "Nobody", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF,
                                    NULL, &made, &st);
    assert_int_equal(code, CC_NOT_FOUND);

    /* A reports-to in another account is refused. */
    char other[ITEST_ID_LEN];
    itest_new_account(c, other, NULL, "Other University %s", run_id);
    Concord__V1__Stakeholder *boss = itest_new_stakeholder(
        c, other, "Elsewhere Boss", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, NULL);
    code = itest_create_stakeholder(c, acc, "Misplaced", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF,
                                    boss->id, &made, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "stakeholder.reports_to_id"));

    /* A good one, read back. */
    s.name = "Grace Hopper";
    s.level = CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR;
    s.attitude = CONCORD__V1__ATTITUDE__CHAMPION;
    s.influence = 4;
    s.email = "grace@validation.example";
    s.phone = "+1 555 0100";
    s.reports_to_id = "";
    s.title = "CIO";
    made = NULL;
    code = itest_call_kept(c, "concord.v1.StakeholderService/CreateStakeholder", &req,
                           &concord__v1__stakeholder__descriptor, &made, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(made->version, 1);
    Concord__V1__Stakeholder *got = get_sh(c, made->id, &code);
    assert_int_equal(code, CC_OK);
    assert_string_equal(got->name, "Grace Hopper");
    assert_string_equal(got->title, "CIO");
    assert_int_equal(got->level, CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR);
    assert_int_equal(got->attitude, CONCORD__V1__ATTITUDE__CHAMPION);
    assert_int_equal(got->influence, 4);
    assert_string_equal(got->account_id, acc);
    assert_null(got->last_contact_time);

    /* Updates: the mask decides, versions are checked, server-owned fields refused. */
    Concord__V1__Stakeholder change = CONCORD__V1__STAKEHOLDER__INIT;
    change.id = made->id;
    change.title = "Vice Rector";
    change.name = "ignored: not in the mask";
    Concord__V1__Stakeholder *up = update_sh(c, &change, "title", 1, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(up->version, 2);
    assert_string_equal(up->title, "Vice Rector");
    assert_string_equal(up->name, "Grace Hopper");
    update_sh(c, &change, "title", 1, &code, &st);
    assert_int_equal(code, CC_ABORTED);
    assert_non_null(strstr(st->message, "version 2"));
    update_sh(c, &change, "last_contact_time", 2, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "update_mask"));
    change.email = "broken@";
    update_sh(c, &change, "email", 2, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "stakeholder.email"));

    /* One audit row per change. */
    PGconn *pg = itest_pg_superuser();
    assert_int_equal(itest_sql_count(pg,
                                     "SELECT count(*) FROM concord.audit_log WHERE target_type = "
                                     "'stakeholder' AND target_id = $1",
                                     made->id),
                     2);
    PQfinish(pg);
    cc_conn_free(c);
}

static void reports_to_never_makes_a_cycle(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Cycle College %s", run_id);
    Concord__V1__Stakeholder *a = itest_new_stakeholder(
        c, acc, "Alice Rector", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, NULL);
    Concord__V1__Stakeholder *b =
        itest_new_stakeholder(c, acc, "Bob Dean", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, a->id);
    Concord__V1__Stakeholder *d =
        itest_new_stakeholder(c, acc, "Dora Staff", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, b->id);
    assert_string_equal(d->reports_to_id, b->id);

    int code;
    const cc_status *st;
    Concord__V1__Stakeholder change = CONCORD__V1__STAKEHOLDER__INIT;
    change.id = a->id;
    change.reports_to_id = d->id; /* a -> d -> b -> a */
    update_sh(c, &change, "reports_to_id", 1, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "stakeholder.reports_to_id"));
    assert_non_null(strstr(st->violations[0]->description, "cycle"));
    change.reports_to_id = a->id; /* oneself */
    update_sh(c, &change, "reports_to_id", 1, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "stakeholder.reports_to_id"));
    /* Nothing changed. */
    Concord__V1__Stakeholder *again = get_sh(c, a->id, &code);
    assert_string_equal(again->reports_to_id, "");
    assert_int_equal(again->version, 1);

    /* Moving d up to report to a directly is fine. */
    change.id = d->id;
    change.reports_to_id = a->id;
    Concord__V1__Stakeholder *moved = update_sh(c, &change, "reports_to_id", 1, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_string_equal(moved->reports_to_id, a->id);
    /* Clearing is fine too. */
    change.reports_to_id = "";
    moved = update_sh(c, &change, "reports_to_id", 2, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_string_equal(moved->reports_to_id, "");
    cc_conn_free(c);
}

static void delete_is_soft_and_unlinks_reports(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Delete Institute %s", run_id);
    Concord__V1__Stakeholder *boss = itest_new_stakeholder(
        c, acc, "Leaving Boss", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, NULL);
    Concord__V1__Stakeholder *dir = itest_new_stakeholder(
        c, acc, "Staying Director", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, boss->id);
    int code;
    const cc_status *st;
    Concord__V1__Activity *act = activity(c, acc, 3, boss->id, dir->id, NULL, &code, &st);
    assert_int_equal(code, CC_OK);

    assert_int_equal(delete_sh(c, boss->id, 7, &st), CC_ABORTED);
    assert_int_equal(delete_sh(c, boss->id, 1, &st), CC_OK);
    get_sh(c, boss->id, &code);
    assert_int_equal(code, CC_NOT_FOUND);
    assert_int_equal(delete_sh(c, boss->id, 0, &st), CC_NOT_FOUND);

    /* The director now reports to nobody, at a new version. */
    Concord__V1__Stakeholder *d2 = get_sh(c, dir->id, &code);
    assert_int_equal(code, CC_OK);
    assert_string_equal(d2->reports_to_id, "");
    assert_int_equal(d2->version, 2);

    /* Gone from the list and from what coverage knows; the activity keeps its link. */
    Concord__V1__ListStakeholdersResponse *l = list_sh(c, acc, 0, NULL, 0, 0, &code);
    assert_int_equal(code, CC_OK);
    assert_int_equal(l->n_stakeholders, 1);
    assert_string_equal(l->stakeholders[0]->id, dir->id);
    Concord__V1__Coverage *cov = coverage(c, acc, 0, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(cov->known_per_level[0], 0);
    assert_int_equal(cov->known_per_level[1], 1);
    Concord__V1__GetActivityRequest ga = CONCORD__V1__GET_ACTIVITY_REQUEST__INIT;
    ga.id = act->id;
    Concord__V1__Activity *a2 = NULL;
    code = itest_call_kept(c, "concord.v1.ActivityService/GetActivity", &ga,
                           &concord__v1__activity__descriptor, &a2, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(a2->n_stakeholder_ids, 2);
    /* A deleted stakeholder cannot be named on a new activity. */
    activity(c, acc, 1, dir->id, boss->id, NULL, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "activity.stakeholder_ids[1]"));
    cc_conn_free(c);
}

static void list_orders_by_level_and_pages(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Paging Polytechnic %s", run_id);
    itest_new_stakeholder(c, acc, "zed staff", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, NULL);
    itest_new_stakeholder(c, acc, "Amy Staff", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, NULL);
    itest_new_stakeholder(c, acc, "Yves Director", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, NULL);
    itest_new_stakeholder(c, acc, "Xena Executive", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE,
                          NULL);
    Concord__V1__Stakeholder *blocker = itest_new_stakeholder(
        c, acc, "Bea Director", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, NULL);
    Concord__V1__Stakeholder change = CONCORD__V1__STAKEHOLDER__INIT;
    change.id = blocker->id;
    change.attitude = CONCORD__V1__ATTITUDE__BLOCKER;
    int code;
    const cc_status *st;
    update_sh(c, &change, "attitude", 1, &code, &st);
    assert_int_equal(code, CC_OK);

    static const char *const want[] = {"Xena Executive", "Bea Director", "Yves Director",
                                       "Amy Staff", "zed staff"};
    const char *token = NULL;
    size_t seen = 0;
    for (int page = 0; page < 3; page++) {
        Concord__V1__ListStakeholdersResponse *l = list_sh(c, acc, 2, token, 0, 0, &code);
        assert_int_equal(code, CC_OK);
        assert_int_equal(l->n_stakeholders, page < 2 ? 2 : 1);
        for (size_t i = 0; i < l->n_stakeholders; i++)
            assert_string_equal(l->stakeholders[i]->name, want[seen++]);
        token = l->next_page_token;
        if (page < 2)
            assert_true(token[0] != '\0');
        else
            assert_string_equal(token, "");
    }
    assert_int_equal(seen, 5);

    Concord__V1__ListStakeholdersResponse *l =
        list_sh(c, acc, 0, NULL, CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, 0, &code);
    assert_int_equal(l->n_stakeholders, 2);
    l = list_sh(c, acc, 0, NULL, 0, CONCORD__V1__ATTITUDE__BLOCKER, &code);
    assert_int_equal(l->n_stakeholders, 1);
    assert_string_equal(l->stakeholders[0]->name, "Bea Director");
    list_sh(c, acc, 0, "garbage", 0, 0, &code);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    cc_conn_free(c);
}

static void last_contact_is_the_latest_past_activity(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Contact Conservatory %s", run_id);
    Concord__V1__Stakeholder *s = itest_new_stakeholder(
        c, acc, "Carl Contact", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, NULL);
    int code;
    const cc_status *st;
    Concord__V1__Activity *older = activity(c, acc, 30, s->id, NULL, NULL, &code, &st);
    assert_int_equal(code, CC_OK);
    Concord__V1__Activity *newer = activity(c, acc, 2, s->id, NULL, NULL, &code, &st);
    assert_int_equal(code, CC_OK);
    /* A planned meeting next week is not a contact yet. */
    activity(c, acc, -7, s->id, NULL, NULL, &code, &st);
    assert_int_equal(code, CC_OK);
    Concord__V1__Stakeholder *got = get_sh(c, s->id, &code);
    assert_non_null(got->last_contact_time);
    assert_int_equal(got->last_contact_time->seconds, newer->occur_time->seconds);
    assert_true(got->last_contact_time->seconds > older->occur_time->seconds);
    Concord__V1__ListStakeholdersResponse *l = list_sh(c, acc, 0, NULL, 0, 0, &code);
    assert_int_equal(l->stakeholders[0]->last_contact_time->seconds, newer->occur_time->seconds);
    cc_conn_free(c);
}

static const Concord__V1__CoverageCell *cell(const Concord__V1__Coverage *cov, int level, int dept)
{
    for (size_t i = 0; i < cov->n_cells; i++)
        if ((int)cov->cells[i]->level == level && (int)cov->cells[i]->department == dept)
            return cov->cells[i];
    return NULL;
}

static void coverage_counts_levels_by_department(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    itest_user presales_user;
    itest_new_user(c, &presales_user, CONCORD__V1__DEPARTMENT__PRESALES, CONCORD__V1__ROLE__MEMBER,
                   "pre%s", run_id);
    const char *presales = presales_user.id;
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Coverage University %s", run_id);
    Concord__V1__Stakeholder *e = itest_new_stakeholder(
        c, acc, "Eve Executive", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, NULL);
    Concord__V1__Stakeholder *d = itest_new_stakeholder(
        c, acc, "Dan Director", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, e->id);
    Concord__V1__Stakeholder *s =
        itest_new_stakeholder(c, acc, "Sue Staff", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, d->id);
    itest_new_stakeholder(c, acc, "Sam Staff", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, d->id);
    int code;
    const cc_status *st;

    /* Known people and no contact at all: every level uncovered, flagged. */
    Concord__V1__Coverage *cov = coverage(c, acc, 0, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(cov->n_known_per_level, 3);
    assert_int_equal(cov->known_per_level[0], 1);
    assert_int_equal(cov->known_per_level[1], 1);
    assert_int_equal(cov->known_per_level[2], 2);
    assert_int_equal(cov->n_cells, 0);
    assert_int_equal(cov->n_uncovered_levels, 3);
    assert_true(cov->single_threaded);
    assert_non_null(strstr(cov->explanation, "No contact"));

    /* One contact with one stakeholder: single-threaded through that person. */
    activity(c, acc, 10, e->id, NULL, NULL, &code, &st);
    assert_int_equal(code, CC_OK);
    cov = coverage(c, acc, 0, &code, &st);
    assert_true(cov->single_threaded);
    assert_non_null(strstr(cov->explanation, "Eve Executive"));
    const Concord__V1__CoverageCell *x =
        cell(cov, CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, CONCORD__V1__DEPARTMENT__SALES);
    /* The admin of the environment belongs to sales. */
    assert_non_null(x);
    assert_int_equal(x->stakeholders, 1);

    /* Two stakeholders, but still only one of our users (the admin). */
    activity(c, acc, 20, d->id, NULL, NULL, &code, &st);
    assert_int_equal(code, CC_OK);
    cov = coverage(c, acc, 0, &code, &st);
    assert_true(cov->single_threaded);
    assert_non_null(strstr(cov->explanation, "one of our users"));

    /* Presales joins a meeting with the director: two threads on both sides. */
    Concord__V1__Activity *joint = activity(c, acc, 5, d->id, s->id, presales, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_int_equal(joint->n_user_ids, 2); /* presales + the creator */
    cov = coverage(c, acc, 0, &code, &st);
    assert_false(cov->single_threaded);
    x = cell(cov, CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, CONCORD__V1__DEPARTMENT__PRESALES);
    assert_non_null(x);
    assert_int_equal(x->stakeholders, 1);
    assert_int_equal(x->last_contact_time->seconds, joint->occur_time->seconds);
    x = cell(cov, CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR, CONCORD__V1__DEPARTMENT__SALES);
    assert_non_null(x);
    assert_int_equal(x->stakeholders, 1);
    x = cell(cov, CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, CONCORD__V1__DEPARTMENT__SALES);
    assert_non_null(x);
    assert_int_equal(x->stakeholders, 1);
    assert_null(
        cell(cov, CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, CONCORD__V1__DEPARTMENT__PRESALES));
    assert_int_equal(cov->n_uncovered_levels, 0);

    /* The window: with 7 days only the joint meeting counts; the executive is uncovered. */
    cov = coverage(c, acc, 7, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_null(
        cell(cov, CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, CONCORD__V1__DEPARTMENT__SALES));
    assert_int_equal(cov->n_uncovered_levels, 1);
    assert_int_equal(cov->uncovered_levels[0], CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE);
    coverage(c, acc, 4000, &code, &st);
    assert_int_equal(code, CC_INVALID_ARGUMENT);
    assert_true(itest_names_field(st, "window_days"));

    /* No stakeholders: not judged. */
    char empty[ITEST_ID_LEN];
    itest_new_account(c, empty, NULL, "Empty Academy %s", run_id);
    cov = coverage(c, empty, 0, &code, &st);
    assert_int_equal(code, CC_OK);
    assert_false(cov->single_threaded);
    assert_int_equal(cov->n_uncovered_levels, 0);
    cc_conn_free(c);
    itest_user_close(&presales_user);
}

static void outsiders_see_nothing_and_readers_cannot_write(void **state)
{
    (void)state;
    cc_conn *c = itest_connect(admin_token);
    itest_user out_user, reader_user;
    itest_new_user(c, &out_user, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER, "shout%s",
                   run_id);
    const char *outsider = out_user.id;
    itest_new_user(c, &reader_user, CONCORD__V1__DEPARTMENT__DELIVERY, CONCORD__V1__ROLE__MEMBER,
                   "shread%s", run_id);
    const char *reader = reader_user.id;
    char acc[ITEST_ID_LEN];
    itest_new_account(c, acc, NULL, "Private Institute %s", run_id);
    Concord__V1__Stakeholder *s = itest_new_stakeholder(
        c, acc, "Hidden Person", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, NULL);
    assert_int_equal(itest_add_member(c, acc, reader, CONCORD__V1__TEAM_ROLE__SOLUTION_LEAD,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);

    int code;
    const cc_status *st;
    Concord__V1__Stakeholder *made;
    Concord__V1__Stakeholder change = CONCORD__V1__STAKEHOLDER__INIT;
    change.id = s->id;
    change.title = "changed";

    cc_conn *o = itest_connect(out_user.token);
    get_sh(o, s->id, &code);
    assert_int_equal(code, CC_NOT_FOUND);
    list_sh(o, acc, 0, NULL, 0, 0, &code);
    assert_int_equal(code, CC_NOT_FOUND);
    coverage(o, acc, 0, &code, &st);
    assert_int_equal(code, CC_NOT_FOUND);
    code = itest_create_stakeholder(o, acc, "Intruder", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF, NULL,
                                    &made, &st);
    assert_int_equal(code, CC_NOT_FOUND);
    update_sh(o, &change, "title", 1, &code, &st);
    assert_int_equal(code, CC_NOT_FOUND);
    assert_int_equal(delete_sh(o, s->id, 0, &st), CC_NOT_FOUND);
    cc_conn_free(o);

    cc_conn *r = itest_connect(reader_user.token);
    Concord__V1__Stakeholder *seen = get_sh(r, s->id, &code);
    assert_int_equal(code, CC_OK);
    assert_string_equal(seen->name, "Hidden Person");
    Concord__V1__ListStakeholdersResponse *l = list_sh(r, acc, 0, NULL, 0, 0, &code);
    assert_int_equal(code, CC_OK);
    assert_int_equal(l->n_stakeholders, 1);
    coverage(r, acc, 0, &code, &st);
    assert_int_equal(code, CC_OK);
    code = itest_create_stakeholder(r, acc, "Reader Write", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF,
                                    NULL, &made, &st);
    assert_int_equal(code, CC_PERMISSION_DENIED);
    update_sh(r, &change, "title", 1, &code, &st);
    assert_int_equal(code, CC_PERMISSION_DENIED);
    assert_int_equal(delete_sh(r, s->id, 0, &st), CC_PERMISSION_DENIED);
    cc_conn_free(r);

    /* Row-level security hides the rows in SQL as well, and refuses writes. */
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
        itest_sql_count(pg, "SELECT count(*) FROM concord.stakeholders WHERE account_id = $1", acc),
        0);
    const char *ins[1] = {acc};
    res = PQexecParams(pg,
                       "INSERT INTO concord.stakeholders (account_id, name, level)"
                       " VALUES ($1, 'Sneaky', 'staff')",
                       1, NULL, ins, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
    PQclear(res);
    params[0] = reader;
    params[2] = "delivery";
    res = PQexecParams(pg,
                       "SELECT set_config('concord.user_id', $1, false),"
                       " set_config('concord.role', $2, false),"
                       " set_config('concord.department', $3, false)",
                       3, NULL, params, NULL, NULL, 0);
    PQclear(res);
    assert_int_equal(
        itest_sql_count(pg, "SELECT count(*) FROM concord.stakeholders WHERE account_id = $1", acc),
        1);
    res = PQexecParams(pg, "UPDATE concord.stakeholders SET title = 'x' WHERE account_id = $1", 1,
                       NULL, ins, NULL, NULL, 0);
    assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
    assert_string_equal(PQcmdTuples(res), "0"); /* a reader's update matches no row */
    PQclear(res);
    PQfinish(pg);
    cc_conn_free(c);
    itest_user_close(&out_user);
    itest_user_close(&reader_user);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(invalid_fields_are_named, itest_release),
        cmocka_unit_test_teardown(reports_to_never_makes_a_cycle, itest_release),
        cmocka_unit_test_teardown(delete_is_soft_and_unlinks_reports, itest_release),
        cmocka_unit_test_teardown(list_orders_by_level_and_pages, itest_release),
        cmocka_unit_test_teardown(last_contact_is_the_latest_past_activity, itest_release),
        cmocka_unit_test_teardown(coverage_counts_levels_by_department, itest_release),
        cmocka_unit_test_teardown(outsiders_see_nothing_and_readers_cannot_write, itest_release),
    };
    return cmocka_run_group_tests(tests, setup, itest_release);
}
