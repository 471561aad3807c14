/*
 * test_contracts.c - ContractService through the real protocol (libconcord
 * over TLS, a real PostgreSQL): contracts with validation and versions, the
 * stage kept in accounts.stage and its recorded history, the lifecycle of
 * the acceptance scenario, renewals in a window with paging, handovers that
 * move ownership, the stage refresh, and visibility: outsiders get NOT_FOUND
 * and see nothing, read-only members get PERMISSION_DENIED on writes, and
 * row-level security holds when SQL is run directly.
 *
 * Runs inside the shared test environment (tests/lib/testenv): CONCORD_HOST,
 * CONCORD_PORT, CONCORD_CA, CONCORD_ADMIN_USER, CONCORD_ADMIN_PASSWORD,
 * CONCORD_DB_URL, PGHOST, PGPORT, PG_SUPERUSER.
 */
/* cmocka needs setjmp.h, stdarg.h and stddef.h before it. */
// clang-format off
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
#include "concord/v1/contract.pb-c.h"
#include "concord/v1/team.pb-c.h"
#include "concord_client.h"
#include "itest.h"
// clang-format on

#define SVC "concord.v1.ContractService/"

static char run_id[32];
static itest_user admin;
/* A sales member who owns the test accounts, a success member who receives
 * handovers, an R&D member outside every team, a delivery member given read
 * access. */
static itest_user rep, csm, outsider, reader;

/* Responses are kept until the end of each test and freed together (itest_release). */
static const cc_status *st;

/* "YYYY-MM-DD" of today (UTC) plus days, in one of a few rotating buffers. */
static const char *day_from_today(int days)
{
    static char buf[8][16];
    static int next;
    next = (next + 1) % 8;
    time_t t = time(NULL) + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf[next], sizeof(buf[next]), "%Y-%m-%d", &tm);
    return buf[next];
}

static Concord__V1__Account *get_account(cc_conn *c, const char *id)
{
    Concord__V1__GetAccountRequest req = CONCORD__V1__GET_ACCOUNT_REQUEST__INIT;
    req.id = (char *)id;
    Concord__V1__Account *a = NULL;
    assert_int_equal(itest_call_kept(c, "concord.v1.AccountService/GetAccount", &req,
                                     &concord__v1__account__descriptor, &a, &st),
                     CC_OK);
    return a;
}

static int create_contract(cc_conn *c, const char *account, const char *start, const char *end,
                           Concord__V1__Contract **out)
{
    Concord__V1__CreateContractRequest req = CONCORD__V1__CREATE_CONTRACT_REQUEST__INIT;
    Concord__V1__Contract k = CONCORD__V1__CONTRACT__INIT;
    char *products[] = {"Campus LMS", "Analytics"};
    k.account_id = (char *)account;
    k.start_date = (char *)start;
    k.end_date = (char *)end;
    k.annual_value_minor = 1200000;
    k.currency = "EUR";
    k.n_products = 2;
    k.products = products;
    req.contract = &k;
    return itest_call_kept(c, SVC "CreateContract", &req, &concord__v1__contract__descriptor, out,
                           &st);
}

static Concord__V1__Lifecycle *lifecycle(cc_conn *c, const char *account, const char *as_of)
{
    Concord__V1__GetLifecycleRequest req = CONCORD__V1__GET_LIFECYCLE_REQUEST__INIT;
    req.account_id = (char *)account;
    req.as_of = (char *)as_of;
    Concord__V1__Lifecycle *lc = NULL;
    if (itest_call_kept(c, SVC "GetLifecycle", &req, &concord__v1__lifecycle__descriptor, &lc,
                        &st) != CC_OK)
        fail_msg("GetLifecycle %s as of %s: %s", account, as_of, st->message);
    return lc;
}

/* Runs SQL as the superuser (bypassing row-level security); the first value
 * goes to out. */
static void super_sql(const char *sql, char *out, size_t len)
{
    PGconn *pg = itest_pg_superuser();
    PGresult *r = PQexec(pg, sql);
    ExecStatusType s = PQresultStatus(r);
    int ok = s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK;
    snprintf(out, len, "%s",
             ok ? (s == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "")
                : PQerrorMessage(pg));
    PQclear(r);
    PQfinish(pg);
    if (!ok)
        fail_msg("%s: %s", sql, out);
}

static int setup(void **state)
{
    (void)state;
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL), (int)getpid());
    itest_login_admin(&admin);
    itest_new_user(admin.conn, &rep, CONCORD__V1__DEPARTMENT__SALES, CONCORD__V1__ROLE__MEMBER,
                   "krep%s", run_id);
    itest_new_user(admin.conn, &csm, CONCORD__V1__DEPARTMENT__SUCCESS, CONCORD__V1__ROLE__MEMBER,
                   "kcsm%s", run_id);
    itest_new_user(admin.conn, &outsider, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER,
                   "kout%s", run_id);
    itest_new_user(admin.conn, &reader, CONCORD__V1__DEPARTMENT__DELIVERY,
                   CONCORD__V1__ROLE__MEMBER, "kread%s", run_id);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    itest_release(NULL);
    itest_user_close(&admin);
    itest_user_close(&rep);
    itest_user_close(&csm);
    itest_user_close(&outsider);
    itest_user_close(&reader);
    return 0;
}

static void contracts_drive_the_stored_stage(void **state)
{
    (void)state;
    char acc[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc, "higher education", "Stage University %s", run_id);
    assert_int_equal(get_account(rep.conn, acc)->stage, CONCORD__V1__LIFECYCLE_STAGE__PROSPECT);

    /* Started ten days ago: onboarding today. */
    Concord__V1__Contract *k;
    assert_int_equal(create_contract(rep.conn, acc, day_from_today(-10), day_from_today(354), &k),
                     CC_OK);
    assert_int_equal(k->version, 1);
    assert_int_equal(k->status, CONCORD__V1__CONTRACT_STATUS__CONTRACT_ACTIVE);
    assert_int_equal(k->n_products, 2);
    assert_string_equal(k->products[1], "Analytics");
    assert_string_equal(k->currency, "EUR");
    assert_non_null(k->create_time);
    Concord__V1__Account *a = get_account(rep.conn, acc);
    assert_int_equal(a->stage, CONCORD__V1__LIFECYCLE_STAGE__ONBOARDING);
    assert_int_equal(a->version, 2); /* the stage change bumps the account */

    Concord__V1__GetContractRequest g = CONCORD__V1__GET_CONTRACT_REQUEST__INIT;
    g.id = k->id;
    Concord__V1__Contract *got;
    assert_int_equal(itest_call_kept(rep.conn, SVC "GetContract", &g,
                                     &concord__v1__contract__descriptor, &got, &st),
                     CC_OK);
    assert_string_equal(got->start_date, day_from_today(-10));
    assert_int_equal(got->annual_value_minor, 1200000);

    /* Update with the version read: moved to start a year ago, adoption today. */
    Concord__V1__UpdateContractRequest up = CONCORD__V1__UPDATE_CONTRACT_REQUEST__INIT;
    Concord__V1__Contract change = CONCORD__V1__CONTRACT__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"start_date", "end_date"};
    change.id = k->id;
    change.start_date = (char *)day_from_today(-200);
    change.end_date = (char *)day_from_today(200);
    change.currency = "USD"; /* not in the mask: ignored */
    mask.n_paths = 2;
    mask.paths = paths;
    up.contract = &change;
    up.update_mask = &mask;
    up.version = 1;
    Concord__V1__Contract *u;
    assert_int_equal(itest_call_kept(rep.conn, SVC "UpdateContract", &up,
                                     &concord__v1__contract__descriptor, &u, &st),
                     CC_OK);
    assert_int_equal(u->version, 2);
    assert_string_equal(u->currency, "EUR");
    assert_string_equal(u->end_date, day_from_today(200));
    assert_int_equal(get_account(rep.conn, acc)->stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);

    /* A stale version is ABORTED and names the current one. */
    assert_int_equal(itest_call_kept(rep.conn, SVC "UpdateContract", &up,
                                     &concord__v1__contract__descriptor, NULL, &st),
                     CC_ABORTED);
    assert_non_null(strstr(st->message, "version 2"));
    /* Server-owned or unknown fields in the mask name update_mask. */
    char *bad[] = {"status"};
    mask.n_paths = 1;
    mask.paths = bad;
    up.version = 2;
    assert_int_equal(itest_call_kept(rep.conn, SVC "UpdateContract", &up,
                                     &concord__v1__contract__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "update_mask");
    /* The merged contract is validated: an end before the start. */
    char *end_only[] = {"end_date"};
    mask.paths = end_only;
    change.end_date = (char *)day_from_today(-300);
    assert_int_equal(itest_call_kept(rep.conn, SVC "UpdateContract", &up,
                                     &concord__v1__contract__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "contract.end_date");

    /* Cancel: the account is a prospect again; twice changes nothing. */
    Concord__V1__CancelContractRequest cancel = CONCORD__V1__CANCEL_CONTRACT_REQUEST__INIT;
    cancel.id = k->id;
    cancel.version = 1;
    itest_keep(itest_expect(rep.conn, SVC "CancelContract", &cancel,
                            &concord__v1__contract__descriptor, CC_ABORTED));
    cancel.version = 2;
    Concord__V1__Contract *cancelled;
    assert_int_equal(itest_call_kept(rep.conn, SVC "CancelContract", &cancel,
                                     &concord__v1__contract__descriptor, &cancelled, &st),
                     CC_OK);
    assert_int_equal(cancelled->status, CONCORD__V1__CONTRACT_STATUS__CONTRACT_CANCELLED);
    assert_int_equal(cancelled->version, 3);
    cancel.version = 0;
    assert_int_equal(itest_call_kept(rep.conn, SVC "CancelContract", &cancel,
                                     &concord__v1__contract__descriptor, &cancelled, &st),
                     CC_OK);
    assert_int_equal(cancelled->version, 3);
    assert_int_equal(get_account(rep.conn, acc)->stage, CONCORD__V1__LIFECYCLE_STAGE__PROSPECT);
    /* A cancelled contract cannot be changed. */
    up.version = 3;
    change.end_date = (char *)day_from_today(400);
    itest_keep(itest_expect(rep.conn, SVC "UpdateContract", &up, &concord__v1__contract__descriptor,
                            CC_FAILED_PRECONDITION));

    /* Every transition was recorded, oldest first, with a reason. */
    Concord__V1__Lifecycle *lc = lifecycle(rep.conn, acc, "");
    assert_int_equal(lc->stage, CONCORD__V1__LIFECYCLE_STAGE__PROSPECT);
    assert_int_equal(lc->n_timeline, 0);
    assert_int_equal(lc->n_history, 3);
    assert_int_equal(lc->history[0]->from_stage, CONCORD__V1__LIFECYCLE_STAGE__PROSPECT);
    assert_int_equal(lc->history[0]->to_stage, CONCORD__V1__LIFECYCLE_STAGE__ONBOARDING);
    assert_string_equal(lc->history[0]->effective_date, day_from_today(-10));
    assert_non_null(strstr(lc->history[0]->reason, "created"));
    assert_int_equal(lc->history[1]->to_stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    assert_non_null(strstr(lc->history[1]->reason, "updated"));
    assert_int_equal(lc->history[2]->to_stage, CONCORD__V1__LIFECYCLE_STAGE__PROSPECT);
    assert_non_null(strstr(lc->history[2]->reason, "cancelled"));
    assert_non_null(lc->history[2]->record_time);

    /* Lists leave cancelled contracts out unless asked. */
    Concord__V1__ListContractsRequest lr = CONCORD__V1__LIST_CONTRACTS_REQUEST__INIT;
    lr.account_id = acc;
    Concord__V1__ListContractsResponse *list;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListContracts", &lr,
                                     &concord__v1__list_contracts_response__descriptor, &list, &st),
                     CC_OK);
    assert_int_equal(list->n_contracts, 0);
    lr.include_cancelled = 1;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListContracts", &lr,
                                     &concord__v1__list_contracts_response__descriptor, &list, &st),
                     CC_OK);
    assert_int_equal(list->n_contracts, 1);
}

static void invalid_fields_are_named(void **state)
{
    (void)state;
    char acc[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc, "higher education", "Validation College %s", run_id);
    Concord__V1__CreateContractRequest req = CONCORD__V1__CREATE_CONTRACT_REQUEST__INIT;
    Concord__V1__Contract k = CONCORD__V1__CONTRACT__INIT;
    char *products[] = {"ok", ""};
    k.account_id = acc;
    k.start_date = "2026-02-29"; /* not a leap year */
    k.end_date = "2027-01-14";
    k.annual_value_minor = -5;
    k.currency = "eur";
    k.n_products = 2;
    k.products = products;
    req.contract = &k;
    assert_int_equal(itest_call_kept(rep.conn, SVC "CreateContract", &req,
                                     &concord__v1__contract__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 4);
    assert_string_equal(st->violations[0]->field, "contract.start_date");
    assert_string_equal(st->violations[1]->field, "contract.annual_value_minor");
    assert_string_equal(st->violations[2]->field, "contract.currency");
    assert_string_equal(st->violations[3]->field, "contract.products[1]");

    /* The end before the start, a missing account, too many products. */
    char *many[51];
    for (int i = 0; i < 51; i++)
        many[i] = "p";
    k.start_date = "2026-01-15";
    k.end_date = "2026-01-14";
    k.annual_value_minor = 0;
    k.currency = "EUR";
    k.n_products = 51;
    k.products = many;
    k.account_id = "";
    assert_int_equal(itest_call_kept(rep.conn, SVC "CreateContract", &req,
                                     &concord__v1__contract__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 3);
    assert_string_equal(st->violations[0]->field, "contract.account_id");
    assert_string_equal(st->violations[1]->field, "contract.end_date");
    assert_string_equal(st->violations[2]->field, "contract.products");

    /* A one-day contract is fine; a bad as-of day is named. */
    k.account_id = acc;
    k.end_date = "2026-01-15";
    k.n_products = 0;
    itest_keep(itest_expect(rep.conn, SVC "CreateContract", &req,
                            &concord__v1__contract__descriptor, CC_OK));
    Concord__V1__GetLifecycleRequest lr = CONCORD__V1__GET_LIFECYCLE_REQUEST__INIT;
    lr.account_id = acc;
    lr.as_of = "2026-13-01";
    assert_int_equal(itest_call_kept(rep.conn, SVC "GetLifecycle", &lr,
                                     &concord__v1__lifecycle__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "as_of");
}

/* The acceptance scenario through the protocol. */
static void lifecycle_of_the_acceptance_scenario(void **state)
{
    (void)state;
    char acc[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc, "higher education", "Acceptance University %s", run_id);
    Concord__V1__Contract *first;
    assert_int_equal(create_contract(rep.conn, acc, "2026-01-15", "2027-01-14", &first), CC_OK);
    assert_int_equal(lifecycle(rep.conn, acc, "2026-02-10")->stage,
                     CONCORD__V1__LIFECYCLE_STAGE__ONBOARDING);
    assert_int_equal(lifecycle(rep.conn, acc, "2026-06-01")->stage,
                     CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    assert_int_equal(lifecycle(rep.conn, acc, "2026-11-01")->stage,
                     CONCORD__V1__LIFECYCLE_STAGE__RENEWAL);
    Concord__V1__Lifecycle *lc = lifecycle(rep.conn, acc, "2027-02-01");
    assert_int_equal(lc->stage, CONCORD__V1__LIFECYCLE_STAGE__CHURNED);
    assert_string_equal(lc->as_of, "2027-02-01");
    assert_string_equal(lc->account_id, acc);
    assert_int_equal(lc->n_timeline, 4);
    assert_int_equal(lc->timeline[0]->stage, CONCORD__V1__LIFECYCLE_STAGE__ONBOARDING);
    assert_string_equal(lc->timeline[0]->start_date, "2026-01-15");
    assert_string_equal(lc->timeline[0]->end_date, "2026-03-14");
    assert_string_equal(lc->timeline[0]->contract_id, first->id);
    assert_string_equal(lc->timeline[2]->start_date, "2026-10-15");
    assert_int_equal(lc->timeline[3]->stage, CONCORD__V1__LIFECYCLE_STAGE__CHURNED);
    assert_string_equal(lc->timeline[3]->end_date, ""); /* open-ended */

    /* A new contract: handover again. */
    Concord__V1__Contract *next;
    assert_int_equal(create_contract(rep.conn, acc, "2027-03-01", "2028-02-29", &next), CC_OK);
    lc = lifecycle(rep.conn, acc, "2027-02-01");
    assert_int_equal(lc->stage, CONCORD__V1__LIFECYCLE_STAGE__HANDOVER);
    assert_int_equal(lifecycle(rep.conn, acc, "2027-03-01")->stage,
                     CONCORD__V1__LIFECYCLE_STAGE__ONBOARDING);
    int found = 0;
    for (size_t i = 0; i < lc->n_timeline; i++)
        if (lc->timeline[i]->stage == CONCORD__V1__LIFECYCLE_STAGE__HANDOVER &&
            strcmp(lc->timeline[i]->contract_id, next->id) == 0 &&
            strcmp(lc->timeline[i]->end_date, "2027-02-28") == 0)
            found = 1;
    assert_true(found);
}

static void renewals_in_a_window(void **state)
{
    (void)state;
    /* Far in the future so that only this run's contracts of this user count. */
    const char *as_of = "2031-06-01";
    char acc[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc, "higher education", "Renewal Institute %s", run_id);
    char acc2[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc2, "higher education", "Renewal Academy %s", run_id);
    Concord__V1__Contract *a, *b, *later, *renewal;
    assert_int_equal(create_contract(rep.conn, acc, "2030-06-12", "2031-06-11", &a),
                     CC_OK); /* 10 d */
    assert_int_equal(create_contract(rep.conn, acc2, "2030-08-21", "2031-08-20", &b),
                     CC_OK); /* 80 */
    assert_int_equal(create_contract(rep.conn, acc, "2030-12-19", "2031-12-18", &later), CC_OK);
    assert_int_equal(create_contract(rep.conn, acc, "2031-06-12", "2032-06-11", &renewal), CC_OK);

    Concord__V1__ListRenewalsRequest req = CONCORD__V1__LIST_RENEWALS_REQUEST__INIT;
    req.as_of = (char *)as_of;
    Concord__V1__ListRenewalsResponse *resp;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, &resp, &st),
                     CC_OK);
    assert_int_equal(resp->n_renewals, 2); /* default: 90 days */
    assert_string_equal(resp->renewals[0]->contract->id, a->id);
    assert_int_equal(resp->renewals[0]->days_left, 10);
    assert_true(resp->renewals[0]->renewed);
    assert_string_equal(resp->renewals[0]->account->id, acc);
    assert_non_null(strstr(resp->renewals[0]->account->name, "Renewal Institute"));
    assert_string_equal(resp->renewals[1]->contract->id, b->id);
    assert_int_equal(resp->renewals[1]->days_left, 80);
    assert_false(resp->renewals[1]->renewed);
    assert_string_equal(resp->next_page_token, "");

    /* Pages of one, soonest first. */
    req.page_size = 1;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, &resp, &st),
                     CC_OK);
    assert_int_equal(resp->n_renewals, 1);
    assert_string_equal(resp->renewals[0]->contract->id, a->id);
    assert_true(resp->next_page_token[0] != '\0');
    req.page_token = resp->next_page_token;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, &resp, &st),
                     CC_OK);
    assert_int_equal(resp->n_renewals, 1);
    assert_string_equal(resp->renewals[0]->contract->id, b->id);
    assert_string_equal(resp->next_page_token, "");
    req.page_token = "garbage";
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "page_token");
    req.page_token = "";
    req.page_size = 0;

    /* A wider window reaches the later contracts; the bounds are checked. */
    req.within_days = 730;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, &resp, &st),
                     CC_OK);
    assert_int_equal(resp->n_renewals, 4);
    assert_string_equal(resp->renewals[3]->contract->id, renewal->id);
    req.within_days = 731;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "within_days");
    /* Ending exactly on the last day of the window counts (2031-06-01 + 10). */
    req.within_days = 10;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, &resp, &st),
                     CC_OK);
    assert_int_equal(resp->n_renewals, 1);

    /* Cancelled contracts are not up for renewal; outsiders see none of these. */
    Concord__V1__CancelContractRequest cancel = CONCORD__V1__CANCEL_CONTRACT_REQUEST__INIT;
    cancel.id = b->id;
    itest_keep(itest_expect(rep.conn, SVC "CancelContract", &cancel,
                            &concord__v1__contract__descriptor, CC_OK));
    req.within_days = 90;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, &resp, &st),
                     CC_OK);
    assert_int_equal(resp->n_renewals, 1);
    assert_int_equal(itest_call_kept(outsider.conn, SVC "ListRenewals", &req,
                                     &concord__v1__list_renewals_response__descriptor, &resp, &st),
                     CC_OK);
    for (size_t i = 0; i < resp->n_renewals; i++)
        assert_string_not_equal(resp->renewals[i]->account->id, acc);
}

static void outsiders_and_readers(void **state)
{
    (void)state;
    char acc[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc, "higher education", "Private University %s", run_id);
    Concord__V1__Contract *k;
    assert_int_equal(create_contract(rep.conn, acc, "2026-01-15", "2027-01-14", &k), CC_OK);
    Concord__V1__CreateHandoverRequest hr = CONCORD__V1__CREATE_HANDOVER_REQUEST__INIT;
    Concord__V1__Handover h = CONCORD__V1__HANDOVER__INIT;
    h.account_id = acc;
    h.to_user_id = csm.id;
    h.commitments = "Single sign-on by March";
    hr.handover = &h;
    Concord__V1__Handover *made;
    assert_int_equal(itest_call_kept(rep.conn, SVC "CreateHandover", &hr,
                                     &concord__v1__handover__descriptor, &made, &st),
                     CC_OK);

    /* An outsider: every read and write is NOT_FOUND, lists are empty. */
    Concord__V1__GetContractRequest g = CONCORD__V1__GET_CONTRACT_REQUEST__INIT;
    g.id = k->id;
    itest_keep(itest_expect(outsider.conn, SVC "GetContract", &g,
                            &concord__v1__contract__descriptor, CC_NOT_FOUND));
    Concord__V1__ListContractsRequest lc = CONCORD__V1__LIST_CONTRACTS_REQUEST__INIT;
    lc.account_id = acc;
    itest_keep(itest_expect(outsider.conn, SVC "ListContracts", &lc,
                            &concord__v1__list_contracts_response__descriptor, CC_NOT_FOUND));
    Concord__V1__GetLifecycleRequest gl = CONCORD__V1__GET_LIFECYCLE_REQUEST__INIT;
    gl.account_id = acc;
    itest_keep(itest_expect(outsider.conn, SVC "GetLifecycle", &gl,
                            &concord__v1__lifecycle__descriptor, CC_NOT_FOUND));
    assert_int_equal(create_contract(outsider.conn, acc, "2027-01-15", "2028-01-14", NULL),
                     CC_NOT_FOUND);
    Concord__V1__UpdateContractRequest up = CONCORD__V1__UPDATE_CONTRACT_REQUEST__INIT;
    Concord__V1__Contract change = CONCORD__V1__CONTRACT__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"annual_value_minor"};
    change.id = k->id;
    change.annual_value_minor = 1;
    mask.n_paths = 1;
    mask.paths = paths;
    up.contract = &change;
    up.update_mask = &mask;
    up.version = 1;
    itest_keep(itest_expect(outsider.conn, SVC "UpdateContract", &up,
                            &concord__v1__contract__descriptor, CC_NOT_FOUND));
    Concord__V1__CancelContractRequest cancel = CONCORD__V1__CANCEL_CONTRACT_REQUEST__INIT;
    cancel.id = k->id;
    itest_keep(itest_expect(outsider.conn, SVC "CancelContract", &cancel,
                            &concord__v1__contract__descriptor, CC_NOT_FOUND));
    Concord__V1__GetHandoverRequest gh = CONCORD__V1__GET_HANDOVER_REQUEST__INIT;
    gh.id = made->id;
    itest_keep(itest_expect(outsider.conn, SVC "GetHandover", &gh,
                            &concord__v1__handover__descriptor, CC_NOT_FOUND));
    Concord__V1__AcknowledgeHandoverRequest ack = CONCORD__V1__ACKNOWLEDGE_HANDOVER_REQUEST__INIT;
    ack.id = made->id;
    itest_keep(itest_expect(outsider.conn, SVC "AcknowledgeHandover", &ack,
                            &concord__v1__handover__descriptor, CC_NOT_FOUND));
    Concord__V1__ListHandoversRequest lh = CONCORD__V1__LIST_HANDOVERS_REQUEST__INIT;
    lh.account_id = acc;
    itest_keep(itest_expect(outsider.conn, SVC "ListHandovers", &lh,
                            &concord__v1__list_handovers_response__descriptor, CC_NOT_FOUND));
    h.to_user_id = csm.id;
    itest_keep(itest_expect(outsider.conn, SVC "CreateHandover", &hr,
                            &concord__v1__handover__descriptor, CC_NOT_FOUND));
    Concord__V1__ListRenewalsRequest rr = CONCORD__V1__LIST_RENEWALS_REQUEST__INIT;
    rr.as_of = "2026-12-01";
    Concord__V1__ListRenewalsResponse *renewals;
    assert_int_equal(itest_call_kept(outsider.conn, SVC "ListRenewals", &rr,
                                     &concord__v1__list_renewals_response__descriptor, &renewals,
                                     &st),
                     CC_OK);
    for (size_t i = 0; i < renewals->n_renewals; i++)
        assert_string_not_equal(renewals->renewals[i]->account->id, acc);
    /* The owner sees it in the same window. */
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListRenewals", &rr,
                                     &concord__v1__list_renewals_response__descriptor, &renewals,
                                     &st),
                     CC_OK);
    int seen = 0;
    for (size_t i = 0; i < renewals->n_renewals; i++)
        seen |= strcmp(renewals->renewals[i]->account->id, acc) == 0;
    assert_true(seen);

    /* A read-only team member reads but may not write. */
    assert_int_equal(itest_add_member(admin.conn, acc, reader.id,
                                      CONCORD__V1__TEAM_ROLE__DELIVERY_LEAD,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);
    itest_keep(itest_expect(reader.conn, SVC "GetContract", &g, &concord__v1__contract__descriptor,
                            CC_OK));
    itest_keep(itest_expect(reader.conn, SVC "GetLifecycle", &gl,
                            &concord__v1__lifecycle__descriptor, CC_OK));
    itest_keep(itest_expect(reader.conn, SVC "GetHandover", &gh, &concord__v1__handover__descriptor,
                            CC_OK));
    assert_int_equal(create_contract(reader.conn, acc, "2027-01-15", "2028-01-14", NULL),
                     CC_PERMISSION_DENIED);
    itest_keep(itest_expect(reader.conn, SVC "UpdateContract", &up,
                            &concord__v1__contract__descriptor, CC_PERMISSION_DENIED));
    itest_keep(itest_expect(reader.conn, SVC "CancelContract", &cancel,
                            &concord__v1__contract__descriptor, CC_PERMISSION_DENIED));
    itest_keep(itest_expect(reader.conn, SVC "CreateHandover", &hr,
                            &concord__v1__handover__descriptor, CC_PERMISSION_DENIED));
    /* Refreshing stages is for admins. */
    Concord__V1__RefreshStagesRequest rs = CONCORD__V1__REFRESH_STAGES_REQUEST__INIT;
    itest_keep(itest_expect(rep.conn, SVC "RefreshStages", &rs,
                            &concord__v1__refresh_stages_response__descriptor,
                            CC_PERMISSION_DENIED));

    /* Row-level security underneath: SQL as the application role with a caller set. */
    PGconn *pg = PQconnectdb(itest_env("CONCORD_DB_URL"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    char sql[1024];
    static const char *const tables[] = {"contracts", "handovers", "stage_changes"};
    for (size_t t = 0; t < 3; t++) {
        for (int who = 0; who < 2; who++) {
            snprintf(sql, sizeof(sql),
                     "BEGIN; SELECT set_config('concord.user_id', '%s', true),"
                     " set_config('concord.role', 'member', true),"
                     " set_config('concord.department', '%s', true);"
                     " SELECT count(*) FROM concord.%s WHERE account_id = %s",
                     who ? reader.id : outsider.id, who ? "delivery" : "rnd", tables[t], acc);
            PGresult *r = PQexec(pg, sql);
            assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
            int n = atoi(PQgetvalue(r, 0, 0));
            if (who == 0 && n != 0)
                fail_msg("an outsider sees %d rows of %s", n, tables[t]);
            if (who == 1 && n == 0)
                fail_msg("a team member sees no rows of %s", tables[t]);
            PQclear(r);
            PQclear(PQexec(pg, "ROLLBACK"));
        }
    }
    /* A read-only member cannot change contracts even in SQL. */
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('concord.user_id', '%s', true),"
             " set_config('concord.role', 'member', true),"
             " set_config('concord.department', 'delivery', true);"
             " UPDATE concord.contracts SET annual_value_minor = 0 WHERE account_id = %s",
             reader.id, acc);
    PGresult *r = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(r), PGRES_COMMAND_OK);
    assert_string_equal(PQcmdTuples(r), "0");
    PQclear(r);
    PQclear(PQexec(pg, "ROLLBACK"));
    snprintf(sql, sizeof(sql),
             "BEGIN; SELECT set_config('concord.user_id', '%s', true),"
             " set_config('concord.role', 'member', true),"
             " set_config('concord.department', 'delivery', true);"
             " INSERT INTO concord.contracts (account_id, start_date, end_date,"
             " annual_value_minor, currency) VALUES (%s, '2030-01-01', '2030-12-31', 1, 'EUR')",
             reader.id, acc);
    r = PQexec(pg, sql);
    assert_int_equal(PQresultStatus(r), PGRES_FATAL_ERROR);
    assert_string_equal(PQresultErrorField(r, PG_DIAG_SQLSTATE), "42501");
    PQclear(r);
    PQclear(PQexec(pg, "ROLLBACK"));
    PQfinish(pg);
}

static void handover_moves_ownership(void **state)
{
    (void)state;
    char acc[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc, "higher education", "Handover University %s", run_id);
    Concord__V1__Contract *k;
    assert_int_equal(create_contract(rep.conn, acc, day_from_today(20), day_from_today(384), &k),
                     CC_OK);
    assert_int_equal(get_account(rep.conn, acc)->stage, CONCORD__V1__LIFECYCLE_STAGE__HANDOVER);

    Concord__V1__CreateHandoverRequest hr = CONCORD__V1__CREATE_HANDOVER_REQUEST__INIT;
    Concord__V1__Handover h = CONCORD__V1__HANDOVER__INIT;
    hr.handover = &h;
    /* The receiver must be an enabled success user; the contract this account's. */
    h.account_id = acc;
    h.to_user_id = outsider.id;
    h.contract_id = "999999999";
    h.commitments = "";
    assert_int_equal(itest_call_kept(rep.conn, SVC "CreateHandover", &hr,
                                     &concord__v1__handover__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 1);
    assert_string_equal(st->violations[0]->field, "handover.commitments");
    h.commitments = "Single sign-on by March; weekly calls";
    assert_int_equal(itest_call_kept(rep.conn, SVC "CreateHandover", &hr,
                                     &concord__v1__handover__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 2);
    assert_string_equal(st->violations[0]->field, "handover.to_user_id");
    assert_string_equal(st->violations[1]->field, "handover.contract_id");

    h.to_user_id = csm.id;
    h.contract_id = k->id;
    h.stakeholders = "Provost (champion), IT director (neutral)";
    h.risks = "Budget review in spring";
    Concord__V1__Handover *made;
    assert_int_equal(itest_call_kept(rep.conn, SVC "CreateHandover", &hr,
                                     &concord__v1__handover__descriptor, &made, &st),
                     CC_OK);
    assert_string_equal(made->from_user_id, rep.id);
    assert_string_equal(made->to_user_id, csm.id);
    assert_string_equal(made->contract_id, k->id);
    assert_null(made->acknowledge_time);

    /* The receiver finds it among their open handovers and can read it. */
    Concord__V1__ListHandoversRequest lh = CONCORD__V1__LIST_HANDOVERS_REQUEST__INIT;
    Concord__V1__ListHandoversResponse *open;
    assert_int_equal(itest_call_kept(csm.conn, SVC "ListHandovers", &lh,
                                     &concord__v1__list_handovers_response__descriptor, &open, &st),
                     CC_OK);
    int found = 0;
    for (size_t i = 0; i < open->n_handovers; i++)
        found |= strcmp(open->handovers[i]->id, made->id) == 0;
    assert_true(found);
    Concord__V1__GetHandoverRequest gh = CONCORD__V1__GET_HANDOVER_REQUEST__INIT;
    gh.id = made->id;
    Concord__V1__Handover *got;
    assert_int_equal(itest_call_kept(csm.conn, SVC "GetHandover", &gh,
                                     &concord__v1__handover__descriptor, &got, &st),
                     CC_OK);
    assert_string_equal(got->risks, "Budget review in spring");

    /* Only the receiver acknowledges, once. */
    Concord__V1__AcknowledgeHandoverRequest ack = CONCORD__V1__ACKNOWLEDGE_HANDOVER_REQUEST__INIT;
    ack.id = made->id;
    itest_keep(itest_expect(rep.conn, SVC "AcknowledgeHandover", &ack,
                            &concord__v1__handover__descriptor, CC_PERMISSION_DENIED));
    itest_keep(itest_expect(admin.conn, SVC "AcknowledgeHandover", &ack,
                            &concord__v1__handover__descriptor, CC_PERMISSION_DENIED));
    Concord__V1__Handover *acked;
    assert_int_equal(itest_call_kept(csm.conn, SVC "AcknowledgeHandover", &ack,
                                     &concord__v1__handover__descriptor, &acked, &st),
                     CC_OK);
    assert_non_null(acked->acknowledge_time);
    itest_keep(itest_expect(csm.conn, SVC "AcknowledgeHandover", &ack,
                            &concord__v1__handover__descriptor, CC_FAILED_PRECONDITION));

    /* Ownership moved to the receiver; the previous owner stays on the team with edit. */
    Concord__V1__Account *a = get_account(csm.conn, acc);
    assert_string_equal(a->owner_id, csm.id);
    char sql[256];
    snprintf(sql, sizeof(sql),
             "SELECT string_agg(user_id || ':' || team_role || ':' || access_level, ','"
             " ORDER BY team_role) FROM concord.account_team WHERE account_id = %s",
             acc);
    char team[256];
    super_sql(sql, team, sizeof(team));
    char want[256];
    snprintf(want, sizeof(want), "%s:account_owner:edit,%s:customer_success_manager:edit", rep.id,
             csm.id);
    assert_string_equal(team, want);
    assert_int_equal(create_contract(rep.conn, acc, day_from_today(385), day_from_today(749), NULL),
                     CC_OK);

    /* No longer open; still listed for the account. */
    assert_int_equal(itest_call_kept(csm.conn, SVC "ListHandovers", &lh,
                                     &concord__v1__list_handovers_response__descriptor, &open, &st),
                     CC_OK);
    for (size_t i = 0; i < open->n_handovers; i++)
        assert_string_not_equal(open->handovers[i]->id, made->id);
    lh.account_id = acc;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListHandovers", &lh,
                                     &concord__v1__list_handovers_response__descriptor, &open, &st),
                     CC_OK);
    assert_int_equal(open->n_handovers, 1);

    /* Without a live subscription the account goes back to sales: cancelling both
     * contracts makes it a prospect owned by the rep, with the CSM still on the team. */
    Concord__V1__ListContractsRequest lc = CONCORD__V1__LIST_CONTRACTS_REQUEST__INIT;
    lc.account_id = acc;
    Concord__V1__ListContractsResponse *contracts;
    assert_int_equal(itest_call_kept(rep.conn, SVC "ListContracts", &lc,
                                     &concord__v1__list_contracts_response__descriptor, &contracts,
                                     &st),
                     CC_OK);
    assert_int_equal(contracts->n_contracts, 2);
    for (size_t i = 0; i < contracts->n_contracts; i++) {
        Concord__V1__CancelContractRequest cancel = CONCORD__V1__CANCEL_CONTRACT_REQUEST__INIT;
        cancel.id = contracts->contracts[i]->id;
        itest_keep(itest_expect(rep.conn, SVC "CancelContract", &cancel,
                                &concord__v1__contract__descriptor, CC_OK));
        /* The first cancel leaves an upcoming contract: still a handover, still the CSM's. */
        if (i == 0)
            assert_string_equal(get_account(rep.conn, acc)->owner_id, csm.id);
    }
    a = get_account(rep.conn, acc);
    assert_int_equal(a->stage, CONCORD__V1__LIFECYCLE_STAGE__PROSPECT);
    assert_string_equal(a->owner_id, rep.id);
    super_sql(sql, team, sizeof(team));
    assert_string_equal(team, want);
}

static void refresh_restores_the_stage(void **state)
{
    (void)state;
    char acc[ITEST_ID_LEN];
    itest_new_account(rep.conn, acc, "higher education", "Refresh University %s", run_id);
    assert_int_equal(
        create_contract(rep.conn, acc, day_from_today(-100), day_from_today(265), NULL), CC_OK);
    assert_int_equal(get_account(rep.conn, acc)->stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    /* Make the stored stage stale behind concordd's back. */
    char sql[256];
    snprintf(sql, sizeof(sql), "UPDATE concord.accounts SET stage = 'churned' WHERE id = %s", acc);
    char ignored[64];
    super_sql(sql, ignored, sizeof(ignored));
    assert_int_equal(get_account(rep.conn, acc)->stage, CONCORD__V1__LIFECYCLE_STAGE__CHURNED);

    Concord__V1__RefreshStagesRequest rs = CONCORD__V1__REFRESH_STAGES_REQUEST__INIT;
    rs.as_of = "2026-02-30";
    assert_int_equal(itest_call_kept(admin.conn, SVC "RefreshStages", &rs,
                                     &concord__v1__refresh_stages_response__descriptor, NULL, &st),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(st->violations[0]->field, "as_of");
    rs.as_of = "";
    Concord__V1__RefreshStagesResponse *resp;
    assert_int_equal(itest_call_kept(admin.conn, SVC "RefreshStages", &rs,
                                     &concord__v1__refresh_stages_response__descriptor, &resp, &st),
                     CC_OK);
    assert_true(resp->accounts >= 1);
    assert_true(resp->changes >= 1);
    assert_int_equal(get_account(rep.conn, acc)->stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    Concord__V1__Lifecycle *lc = lifecycle(rep.conn, acc, "");
    assert_int_equal(lc->n_history, 2);
    assert_int_equal(lc->history[1]->from_stage, CONCORD__V1__LIFECYCLE_STAGE__CHURNED);
    assert_int_equal(lc->history[1]->to_stage, CONCORD__V1__LIFECYCLE_STAGE__ADOPTION);
    assert_non_null(strstr(lc->history[1]->reason, "stage refresh"));
    /* A second refresh finds nothing to change for this account. */
    assert_int_equal(itest_call_kept(admin.conn, SVC "RefreshStages", &rs,
                                     &concord__v1__refresh_stages_response__descriptor, &resp, &st),
                     CC_OK);
    assert_int_equal(lifecycle(rep.conn, acc, "")->n_history, 2);
}

static void daily_refresh_ran_today(void **state)
{
    (void)state;
    /* concordd's scheduler runs the task a few seconds after start, then once
     * per UTC day: wait up to 15 seconds for today's row. */
    char done[64] = "";
    for (int i = 0; i < 60; i++) {
        super_sql("SELECT count(*) FROM concord.stage_refreshes"
                  " WHERE day = (now() AT TIME ZONE 'UTC')::date",
                  done, sizeof(done));
        if (strcmp(done, "0") != 0)
            break;
        usleep(250 * 1000);
    }
    assert_string_equal(done, "1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(contracts_drive_the_stored_stage, itest_release),
        cmocka_unit_test_teardown(invalid_fields_are_named, itest_release),
        cmocka_unit_test_teardown(lifecycle_of_the_acceptance_scenario, itest_release),
        cmocka_unit_test_teardown(renewals_in_a_window, itest_release),
        cmocka_unit_test_teardown(outsiders_and_readers, itest_release),
        cmocka_unit_test_teardown(handover_moves_ownership, itest_release),
        cmocka_unit_test_teardown(refresh_restores_the_stage, itest_release),
        cmocka_unit_test_teardown(daily_refresh_ran_today, itest_release),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
