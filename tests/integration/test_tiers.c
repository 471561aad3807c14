/*
 * test_tiers.c - account tiers through the real protocol: rules as data,
 * evaluation as of a day into proposals with reasons, dry runs that store
 * nothing, decisions and overrides with the history they record, who may do
 * what, and what people outside an account's team cannot see (also checked
 * directly in SQL under row-level security).
 *
 * The accounts' metrics are recorded through the other services, as users
 * would: ContractService, StakeholderService, ActivityService, TeamService.
 *
 * The database is shared with other tests, and tier rules are global: every
 * rule this test creates is one no account can meet, and its evaluations that
 * store proposals name their accounts.
 *
 * Runs inside the shared test environment (tests/lib/testenv).
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
#include "concord/v1/stakeholder.pb-c.h"
#include "concord/v1/team.pb-c.h"
#include "concord/v1/tier.pb-c.h"
#include "concord_client.h"
#include "itest.h"
/* clang-format on */

#define AS_OF "2026-11-30"

static char run_id[32];

static itest_user admin, mgr, mem, outsider, outmgr;

/* The accounts: strategic (S-worthy), small (B), prospect (no contract),
 * hidden (admins only). */
static char acc_s[24], acc_b[24], acc_p[24], acc_x[24];

static void add_contract(const char *account, const char *start, const char *end, int64_t value,
                         const char *currency)
{
    Concord__V1__CreateContractRequest req = CONCORD__V1__CREATE_CONTRACT_REQUEST__INIT;
    Concord__V1__Contract k = CONCORD__V1__CONTRACT__INIT;
    k.account_id = (char *)account;
    k.start_date = (char *)start;
    k.end_date = (char *)end;
    k.annual_value_minor = value;
    k.currency = (char *)currency;
    req.contract = &k;
    protobuf_c_message_free_unpacked(itest_call_ok(admin.conn,
                                                   "concord.v1.ContractService/CreateContract",
                                                   &req, &concord__v1__contract__descriptor),
                                     NULL);
}

static void add_stakeholder(const char *account, const char *name,
                            Concord__V1__StakeholderLevel level)
{
    Concord__V1__CreateStakeholderRequest req = CONCORD__V1__CREATE_STAKEHOLDER_REQUEST__INIT;
    Concord__V1__Stakeholder s = CONCORD__V1__STAKEHOLDER__INIT;
    s.account_id = (char *)account;
    s.name = (char *)name;
    s.level = level;
    req.stakeholder = &s;
    protobuf_c_message_free_unpacked(
        itest_call_ok(admin.conn, "concord.v1.StakeholderService/CreateStakeholder", &req,
                      &concord__v1__stakeholder__descriptor),
        NULL);
}

static void add_activity(const char *account, int y, int m, int d, int hh, int mm, int ss)
{
    struct tm tm = {.tm_year = y - 1900,
                    .tm_mon = m - 1,
                    .tm_mday = d,
                    .tm_hour = hh,
                    .tm_min = mm,
                    .tm_sec = ss};
    Google__Protobuf__Timestamp ts = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
    ts.seconds = (int64_t)timegm(&tm);
    Concord__V1__CreateActivityRequest req = CONCORD__V1__CREATE_ACTIVITY_REQUEST__INIT;
    Concord__V1__Activity a = CONCORD__V1__ACTIVITY__INIT;
    a.account_id = (char *)account;
    a.kind = CONCORD__V1__ACTIVITY_KIND__MEETING;
    a.subject = "Quarterly review";
    a.occur_time = &ts;
    req.activity = &a;
    protobuf_c_message_free_unpacked(itest_call_ok(admin.conn,
                                                   "concord.v1.ActivityService/CreateActivity",
                                                   &req, &concord__v1__activity__descriptor),
                                     NULL);
}

static int setup(void **state)
{
    (void)state;
    snprintf(run_id, sizeof(run_id), "%ld%d", (long)time(NULL) % 100000000, (int)getpid());
    itest_login_admin(&admin);
    itest_new_user(admin.conn, &mgr, CONCORD__V1__DEPARTMENT__PRESALES, CONCORD__V1__ROLE__MANAGER,
                   "tmgr%s", run_id);
    itest_new_user(admin.conn, &mem, CONCORD__V1__DEPARTMENT__PRESALES, CONCORD__V1__ROLE__MEMBER,
                   "tmem%s", run_id);
    itest_new_user(admin.conn, &outsider, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MEMBER,
                   "tout%s", run_id);
    itest_new_user(admin.conn, &outmgr, CONCORD__V1__DEPARTMENT__RND, CONCORD__V1__ROLE__MANAGER,
                   "toutm%s", run_id);

    itest_new_account(admin.conn, acc_s, "higher education", "Tiers Strategic University %s",
                      run_id);
    itest_new_account(admin.conn, acc_b, "higher education", "Tiers Small College %s", run_id);
    itest_new_account(admin.conn, acc_p, "higher education", "Tiers Prospect Institute %s", run_id);
    itest_new_account(admin.conn, acc_x, "higher education", "Tiers Hidden Academy %s", run_id);
    /* The presales member is on the team (read only): presales is involved,
     * so the presales manager sees these accounts; R&D is not. */
    assert_int_equal(itest_add_member(admin.conn, acc_s, mem.id,
                                      CONCORD__V1__TEAM_ROLE__SOLUTION_LEAD,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);
    assert_int_equal(itest_add_member(admin.conn, acc_b, mem.id,
                                      CONCORD__V1__TEAM_ROLE__SOLUTION_LEAD,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);
    assert_int_equal(itest_add_member(admin.conn, acc_p, mem.id,
                                      CONCORD__V1__TEAM_ROLE__SOLUTION_LEAD,
                                      CONCORD__V1__ACCESS_LEVEL__READ),
                     CC_OK);

    /* Strategic: 120000.00 EUR live on the as-of day (plus a contract in USD,
     * which does not count toward a EUR threshold), three levels, and 12
     * engagements in the 365 days ending 2026-11-30: the window runs from
     * 2025-12-01 00:00:00 to 2026-11-30 23:59:59 UTC inclusive. */
    add_contract(acc_s, "2026-01-15", "2027-01-14", 12000000, "EUR");
    add_contract(acc_s, "2026-06-01", "2027-05-31", 9900000, "USD");
    add_stakeholder(acc_s, "Rector", CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE);
    add_stakeholder(acc_s, "Head of IT", CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR);
    add_stakeholder(acc_s, "Librarian", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF);
    add_stakeholder(acc_s, "Administrator", CONCORD__V1__STAKEHOLDER_LEVEL__STAFF);
    add_activity(acc_s, 2025, 11, 29, 23, 59, 59); /* before every window used here */
    add_activity(acc_s, 2025, 12, 1, 0, 0, 0);     /* the window's first second */
    for (int i = 0; i < 10; i++)
        add_activity(acc_s, 2026, 1 + i, 10, 9, 0, 0);
    add_activity(acc_s, 2026, 11, 30, 23, 59, 59); /* the as-of day's last second */
    add_activity(acc_s, 2026, 12, 1, 0, 0, 0);     /* after the as-of day */

    /* Small: 500.00 EUR, nothing else. */
    add_contract(acc_b, "2026-03-01", "2027-02-28", 50000, "EUR");
    /* Hidden: subscribed, seen by admins only. */
    add_contract(acc_x, "2026-01-01", "2026-12-31", 100, "EUR");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    itest_user *all[] = {&admin, &mgr, &mem, &outsider, &outmgr};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        cc_conn_free(all[i]->conn);
    return 0;
}

/* ---- helpers over tier messages ------------------------------------------- */

static Concord__V1__EvaluateTiersResponse *evaluate(itest_user *p, const char *as_of,
                                                    const char *account, int dry_run, int want)
{
    Concord__V1__EvaluateTiersRequest req = CONCORD__V1__EVALUATE_TIERS_REQUEST__INIT;
    req.as_of = (char *)as_of;
    req.account_id = (char *)account;
    req.dry_run = dry_run;
    return itest_expect(p->conn, "concord.v1.TierService/EvaluateTiers", &req,
                        &concord__v1__evaluate_tiers_response__descriptor, want);
}

static const Concord__V1__TierProposal *find_proposal(const Concord__V1__EvaluateTiersResponse *r,
                                                      const char *account)
{
    for (size_t i = 0; i < r->n_proposals; i++)
        if (strcmp(r->proposals[i]->account_id, account) == 0)
            return r->proposals[i];
    return NULL;
}

static void assert_reason(const Concord__V1__TierProposal *p, const char *line)
{
    for (size_t i = 0; i < p->n_reasons; i++)
        if (strcmp(p->reasons[i], line) == 0)
            return;
    for (size_t i = 0; i < p->n_reasons; i++)
        fprintf(stderr, "  reason: %s\n", p->reasons[i]);
    fail_msg("proposal for account %s lacks the reason \"%s\"", p->account_id, line);
}

static Concord__V1__ListTierProposalsResponse *
proposals(itest_user *p, const char *account, Concord__V1__ProposalStatus status, int want)
{
    Concord__V1__ListTierProposalsRequest req = CONCORD__V1__LIST_TIER_PROPOSALS_REQUEST__INIT;
    req.account_id = (char *)account;
    req.status = status;
    req.page_size = 500;
    return itest_expect(p->conn, "concord.v1.TierService/ListTierProposals", &req,
                        &concord__v1__list_tier_proposals_response__descriptor, want);
}

/* The id of the account's pending proposal ("" when none), as the admin sees it. */
static void pending_of(const char *account, char *id, size_t len)
{
    Concord__V1__ListTierProposalsResponse *r =
        proposals(&admin, account, CONCORD__V1__PROPOSAL_STATUS__PENDING, CC_OK);
    assert_true(r->n_proposals <= 1);
    snprintf(id, len, "%s", r->n_proposals ? r->proposals[0]->id : "");
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static int decide(itest_user *p, const char *id, Concord__V1__ProposalStatus decision,
                  Concord__V1__Tier tier, const char *reason, Concord__V1__TierProposal **out)
{
    Concord__V1__DecideTierProposalRequest req = CONCORD__V1__DECIDE_TIER_PROPOSAL_REQUEST__INIT;
    req.id = (char *)id;
    req.decision = decision;
    req.tier = tier;
    req.reason = (char *)reason;
    return itest_call(p->conn, "concord.v1.TierService/DecideTierProposal", &req,
                      &concord__v1__tier_proposal__descriptor, (ProtobufCMessage **)out, NULL);
}

static int override(itest_user *p, const char *account, Concord__V1__Tier tier, const char *reason,
                    Concord__V1__Account **out)
{
    Concord__V1__OverrideTierRequest req = CONCORD__V1__OVERRIDE_TIER_REQUEST__INIT;
    req.account_id = (char *)account;
    req.tier = tier;
    req.reason = (char *)reason;
    return itest_call(p->conn, "concord.v1.TierService/OverrideTier", &req,
                      &concord__v1__account__descriptor, (ProtobufCMessage **)out, NULL);
}

static Concord__V1__ListTierHistoryResponse *history(itest_user *p, const char *account,
                                                     int page_size, const char *token, int want)
{
    Concord__V1__ListTierHistoryRequest req = CONCORD__V1__LIST_TIER_HISTORY_REQUEST__INIT;
    req.account_id = (char *)account;
    req.page_size = page_size;
    req.page_token = (char *)token;
    return itest_expect(p->conn, "concord.v1.TierService/ListTierHistory", &req,
                        &concord__v1__list_tier_history_response__descriptor, want);
}

static Concord__V1__Tier account_tier(const char *account, int64_t *version)
{
    Concord__V1__GetAccountRequest req = CONCORD__V1__GET_ACCOUNT_REQUEST__INIT;
    req.id = (char *)account;
    Concord__V1__Account *a = itest_call_ok(admin.conn, "concord.v1.AccountService/GetAccount",
                                            &req, &concord__v1__account__descriptor);
    Concord__V1__Tier t = a->tier;
    if (version)
        *version = a->version;
    protobuf_c_message_free_unpacked(&a->base, NULL);
    return t;
}

/* ---- rules ------------------------------------------------------------------ */

static void default_rules_are_listed_in_order(void **state)
{
    (void)state;
    Concord__V1__ListTierRulesRequest req = CONCORD__V1__LIST_TIER_RULES_REQUEST__INIT;
    /* Every signed-in user may read the rules. */
    Concord__V1__ListTierRulesResponse *r =
        itest_call_ok(outsider.conn, "concord.v1.TierService/ListTierRules", &req,
                      &concord__v1__list_tier_rules_response__descriptor);
    assert_true(r->n_rules >= 2);
    int seen_s = 0, seen_a = 0;
    for (size_t i = 0; i < r->n_rules; i++) {
        const Concord__V1__TierRule *t = r->rules[i];
        assert_true(t->active);
        /* S rules come before A rules. */
        if (t->tier == CONCORD__V1__TIER__TIER_A)
            seen_a = 1;
        else
            assert_false(seen_a);
        if (t->tier == CONCORD__V1__TIER__TIER_S && t->min_annual_value_minor == 10000000 &&
            strcmp(t->currency, "EUR") == 0 && t->min_engagements == 12 &&
            t->min_stakeholder_levels == 3)
            seen_s = 1;
    }
    assert_true(seen_s);
    assert_true(seen_a);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void rules_are_validated_versioned_and_admin_only(void **state)
{
    (void)state;
    Concord__V1__CreateTierRuleRequest req = CONCORD__V1__CREATE_TIER_RULE_REQUEST__INIT;
    Concord__V1__TierRule rule = CONCORD__V1__TIER_RULE__INIT;
    char name[64];
    snprintf(name, sizeof(name), "Unreachable %s", run_id);
    rule.tier = CONCORD__V1__TIER__TIER_B;
    rule.name = name;
    rule.min_engagements = -1;
    rule.min_annual_value_minor = 100;
    req.rule = &rule;
    const char *m = "concord.v1.TierService/CreateTierRule";
    const cc_status *st;
    ProtobufCMessage *out = NULL;
    assert_int_equal(
        cc_invoke(admin.conn, m, &req.base, &concord__v1__tier_rule__descriptor, &out, &st),
        CC_INVALID_ARGUMENT);
    assert_int_equal(st->n_violations, 3);
    assert_string_equal(st->violations[0]->field, "rule.tier");
    assert_string_equal(st->violations[1]->field, "rule.currency");
    assert_string_equal(st->violations[2]->field, "rule.min_engagements");
    rule.tier = CONCORD__V1__TIER__TIER_A;
    rule.min_engagements = 0;
    rule.currency = "eur";
    assert_int_equal(
        itest_call(admin.conn, m, &req, &concord__v1__tier_rule__descriptor, NULL, NULL),
        CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "rule.currency");
    rule.currency = "EUR";
    /* Managers are not admins. */
    assert_int_equal(itest_call(mgr.conn, m, &req, &concord__v1__tier_rule__descriptor, NULL, NULL),
                     CC_PERMISSION_DENIED);

    /* A rule no account can meet, so that other tests' evaluations keep their outcome. */
    rule.min_stakeholders = 1000000;
    Concord__V1__TierRule *t =
        itest_call_ok(admin.conn, m, &req, &concord__v1__tier_rule__descriptor);
    assert_true(t->active);
    assert_int_equal(t->version, 1);
    assert_int_equal(t->min_stakeholders, 1000000);
    char id[24];
    snprintf(id, sizeof(id), "%s", t->id);
    protobuf_c_message_free_unpacked(&t->base, NULL);

    /* Deactivate it with the version read; a stale version is refused. */
    Concord__V1__UpdateTierRuleRequest up = CONCORD__V1__UPDATE_TIER_RULE_REQUEST__INIT;
    Concord__V1__TierRule change = CONCORD__V1__TIER_RULE__INIT;
    Google__Protobuf__FieldMask mask = GOOGLE__PROTOBUF__FIELD_MASK__INIT;
    char *paths[] = {"active", "min_engagements"};
    change.id = id;
    change.active = 0;
    change.min_engagements = 7;
    mask.n_paths = 2;
    mask.paths = paths;
    up.rule = &change;
    up.update_mask = &mask;
    up.version = 1;
    const char *u = "concord.v1.TierService/UpdateTierRule";
    t = itest_call_ok(admin.conn, u, &up, &concord__v1__tier_rule__descriptor);
    assert_false(t->active);
    assert_int_equal(t->version, 2);
    assert_int_equal(t->min_engagements, 7);
    assert_int_equal(t->min_stakeholders, 1000000); /* not in the mask: kept */
    protobuf_c_message_free_unpacked(&t->base, NULL);
    assert_int_equal(
        itest_call(admin.conn, u, &up, &concord__v1__tier_rule__descriptor, NULL, NULL),
        CC_ABORTED);
    assert_non_null(strstr(itest_last.message, "version 2"));
    char *bad[] = {"version"};
    mask.n_paths = 1;
    mask.paths = bad;
    up.version = 2;
    assert_int_equal(
        itest_call(admin.conn, u, &up, &concord__v1__tier_rule__descriptor, NULL, NULL),
        CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "update_mask");
    change.id = "999999999";
    mask.paths = paths;
    assert_int_equal(
        itest_call(admin.conn, u, &up, &concord__v1__tier_rule__descriptor, NULL, NULL),
        CC_NOT_FOUND);

    /* Inactive rules are listed only when asked for. */
    Concord__V1__ListTierRulesRequest lr = CONCORD__V1__LIST_TIER_RULES_REQUEST__INIT;
    for (int inactive = 0; inactive < 2; inactive++) {
        lr.include_inactive = inactive;
        Concord__V1__ListTierRulesResponse *r =
            itest_call_ok(admin.conn, "concord.v1.TierService/ListTierRules", &lr,
                          &concord__v1__list_tier_rules_response__descriptor);
        int found = 0;
        for (size_t i = 0; i < r->n_rules; i++)
            found |= strcmp(r->rules[i]->id, id) == 0;
        assert_int_equal(found, inactive);
        protobuf_c_message_free_unpacked(&r->base, NULL);
    }
}

/* ---- evaluation -------------------------------------------------------------- */

static void dry_run_proposes_with_reasons_and_stores_nothing(void **state)
{
    (void)state;
    Concord__V1__EvaluateTiersResponse *r = evaluate(&admin, AS_OF, acc_s, 1, CC_OK);
    assert_int_equal(r->evaluated, 1);
    assert_int_equal(r->n_proposals, 1);
    assert_int_equal(r->proposed, 1);
    assert_string_equal(r->evaluation_id, "");
    const Concord__V1__TierProposal *p = r->proposals[0];
    assert_string_equal(p->account_id, acc_s);
    assert_string_equal(p->id, "");
    assert_string_equal(p->as_of, AS_OF);
    assert_int_equal(p->current_tier, CONCORD__V1__TIER__TIER_UNSPECIFIED);
    assert_int_equal(p->proposed_tier, CONCORD__V1__TIER__TIER_S);
    /* The USD contract does not count toward the EUR threshold, but is named. */
    assert_reason(p, "S: annual value 120000.00 EUR >= 100000.00 EUR: met (not counted: "
                     "99000.00 USD)");
    assert_reason(p, "S: engagements 12 >= 12: met");
    assert_reason(p, "S: stakeholder levels 3 >= 3: met");
    assert_string_equal(p->reasons[p->n_reasons - 1],
                        "result: tier S by rule \"Strategic: large, engaged, connected at every "
                        "level\"");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Nothing was stored. */
    Concord__V1__ListTierProposalsResponse *l =
        proposals(&admin, acc_s, CONCORD__V1__PROPOSAL_STATUS__PROPOSAL_STATUS_UNSPECIFIED, CC_OK);
    assert_int_equal(l->n_proposals, 0);
    protobuf_c_message_free_unpacked(&l->base, NULL);

    /* The window moves with the day: on 2026-11-29 the meeting of 11-30 is not
     * there yet, one short of S, so the rules give A. */
    r = evaluate(&admin, "2026-11-29", acc_s, 1, CC_OK);
    assert_int_equal(r->n_proposals, 1);
    assert_int_equal(r->proposals[0]->proposed_tier, CONCORD__V1__TIER__TIER_A);
    assert_reason(r->proposals[0], "S: engagements 11 < 12: not met");
    assert_reason(r->proposals[0], "A: engagements 11 >= 4: met");
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* On 2026-12-01 the window starts at 2025-12-02: the 2025-12-01 meeting is
     * out, the 2026-12-01 one in. */
    r = evaluate(&admin, "2026-12-01", acc_s, 1, CC_OK);
    assert_int_equal(r->proposals[0]->proposed_tier, CONCORD__V1__TIER__TIER_S);
    assert_reason(r->proposals[0], "S: engagements 12 >= 12: met");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* The small account meets nothing: B, with every failed threshold named. */
    r = evaluate(&admin, AS_OF, acc_b, 1, CC_OK);
    assert_int_equal(r->n_proposals, 1);
    p = r->proposals[0];
    assert_int_equal(p->proposed_tier, CONCORD__V1__TIER__TIER_B);
    assert_reason(p, "S: annual value 500.00 EUR < 100000.00 EUR: not met");
    assert_reason(p, "A: engagements 0 < 4: not met");
    assert_reason(p, "A: stakeholder levels 0 < 2: not met");
    assert_reason(p, "result: tier B (no S or A rule met)");
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Prospects are not tiered; neither is an account after its contracts end. */
    r = evaluate(&admin, AS_OF, acc_p, 1, CC_OK);
    assert_int_equal(r->evaluated, 0);
    assert_int_equal(r->n_proposals, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    r = evaluate(&admin, "2027-06-01", acc_s, 1, CC_OK);
    assert_int_equal(r->evaluated, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    r = evaluate(&admin, "2026-01-14", acc_s, 1, CC_OK);
    assert_int_equal(r->evaluated, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Bad input is named. */
    assert_null(evaluate(&admin, "2026-11-31", acc_s, 1, CC_INVALID_ARGUMENT));
    assert_string_equal(itest_last.field, "as_of");
    assert_null(evaluate(&admin, AS_OF, "x1", 1, CC_INVALID_ARGUMENT));
    assert_string_equal(itest_last.field, "account_id");
}

static void members_cannot_evaluate_and_managers_see_their_accounts(void **state)
{
    (void)state;
    assert_null(evaluate(&mem, AS_OF, NULL, 1, CC_PERMISSION_DENIED));
    assert_null(evaluate(&outsider, AS_OF, acc_s, 0, CC_PERMISSION_DENIED));
    /* A manager of an uninvolved department cannot name the account... */
    assert_null(evaluate(&outmgr, AS_OF, acc_s, 1, CC_NOT_FOUND));
    /* ...and evaluating everything they see leaves it out. */
    Concord__V1__EvaluateTiersResponse *r = evaluate(&outmgr, AS_OF, NULL, 1, CC_OK);
    assert_null(find_proposal(r, acc_s));
    assert_null(find_proposal(r, acc_b));
    assert_null(find_proposal(r, acc_x));
    protobuf_c_message_free_unpacked(&r->base, NULL);
    /* The presales manager sees the accounts presales works, not the hidden one. */
    r = evaluate(&mgr, AS_OF, NULL, 1, CC_OK);
    assert_non_null(find_proposal(r, acc_s));
    assert_non_null(find_proposal(r, acc_b));
    assert_null(find_proposal(r, acc_x));
    assert_null(find_proposal(r, acc_p));
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void stored_evaluation_supersedes_older_proposals(void **state)
{
    (void)state;
    Concord__V1__EvaluateTiersResponse *r = evaluate(&mgr, AS_OF, acc_s, 0, CC_OK);
    assert_int_equal(r->n_proposals, 1);
    assert_string_not_equal(r->evaluation_id, "");
    const Concord__V1__TierProposal *p = r->proposals[0];
    assert_string_not_equal(p->id, "");
    assert_int_equal(p->status, CONCORD__V1__PROPOSAL_STATUS__PENDING);
    char first[24];
    snprintf(first, sizeof(first), "%s", p->id);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    r = evaluate(&admin, AS_OF, acc_s, 0, CC_OK);
    char second[24];
    snprintf(second, sizeof(second), "%s", r->proposals[0]->id);
    protobuf_c_message_free_unpacked(&r->base, NULL);

    /* Newest first: the new one pending, the older superseded, reasons kept. */
    Concord__V1__ListTierProposalsResponse *l =
        proposals(&mgr, acc_s, CONCORD__V1__PROPOSAL_STATUS__PROPOSAL_STATUS_UNSPECIFIED, CC_OK);
    assert_int_equal(l->n_proposals, 2);
    assert_string_equal(l->proposals[0]->id, second);
    assert_int_equal(l->proposals[0]->status, CONCORD__V1__PROPOSAL_STATUS__PENDING);
    assert_string_equal(l->proposals[1]->id, first);
    assert_int_equal(l->proposals[1]->status, CONCORD__V1__PROPOSAL_STATUS__SUPERSEDED);
    assert_string_equal(l->proposals[0]->as_of, AS_OF);
    assert_non_null(strstr(l->proposals[0]->account_name, "Strategic University"));
    assert_reason(l->proposals[0], "S: engagements 12 >= 12: met");
    assert_non_null(l->proposals[0]->create_time);
    protobuf_c_message_free_unpacked(&l->base, NULL);

    /* Paging one at a time gives the same two. */
    Concord__V1__ListTierProposalsRequest req = CONCORD__V1__LIST_TIER_PROPOSALS_REQUEST__INIT;
    req.account_id = acc_s;
    req.page_size = 1;
    Concord__V1__ListTierProposalsResponse *p1 =
        itest_call_ok(mgr.conn, "concord.v1.TierService/ListTierProposals", &req,
                      &concord__v1__list_tier_proposals_response__descriptor);
    assert_int_equal(p1->n_proposals, 1);
    assert_string_equal(p1->proposals[0]->id, second);
    assert_string_not_equal(p1->next_page_token, "");
    req.page_token = p1->next_page_token;
    Concord__V1__ListTierProposalsResponse *p2 =
        itest_call_ok(mgr.conn, "concord.v1.TierService/ListTierProposals", &req,
                      &concord__v1__list_tier_proposals_response__descriptor);
    assert_int_equal(p2->n_proposals, 1);
    assert_string_equal(p2->proposals[0]->id, first);
    assert_string_equal(p2->next_page_token, "");
    protobuf_c_message_free_unpacked(&p1->base, NULL);
    protobuf_c_message_free_unpacked(&p2->base, NULL);
    req.page_token = "p1zz";
    assert_int_equal(itest_call(mgr.conn, "concord.v1.TierService/ListTierProposals", &req,
                                &concord__v1__list_tier_proposals_response__descriptor, NULL, NULL),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "page_token");

    /* Filtered by status over every visible account. */
    l = proposals(&mgr, NULL, CONCORD__V1__PROPOSAL_STATUS__SUPERSEDED, CC_OK);
    int found = 0;
    for (size_t i = 0; i < l->n_proposals; i++) {
        assert_int_equal(l->proposals[i]->status, CONCORD__V1__PROPOSAL_STATUS__SUPERSEDED);
        found |= strcmp(l->proposals[i]->id, first) == 0;
    }
    assert_true(found);
    protobuf_c_message_free_unpacked(&l->base, NULL);
}

static void outsiders_see_no_proposals_or_history(void **state)
{
    (void)state;
    char pending[24];
    pending_of(acc_s, pending, sizeof(pending));
    assert_string_not_equal(pending, "");
    itest_user *out[] = {&outsider, &outmgr};
    for (size_t i = 0; i < 2; i++) {
        Concord__V1__ListTierProposalsResponse *l = proposals(
            out[i], NULL, CONCORD__V1__PROPOSAL_STATUS__PROPOSAL_STATUS_UNSPECIFIED, CC_OK);
        for (size_t k = 0; k < l->n_proposals; k++)
            assert_string_not_equal(l->proposals[k]->account_id, acc_s);
        protobuf_c_message_free_unpacked(&l->base, NULL);
        assert_null(proposals(out[i], acc_s,
                              CONCORD__V1__PROPOSAL_STATUS__PROPOSAL_STATUS_UNSPECIFIED,
                              CC_NOT_FOUND));
        assert_null(history(out[i], acc_s, 0, NULL, CC_NOT_FOUND));
    }
    /* The uninvolved manager may decide in general, but not this: not found. */
    assert_int_equal(decide(&outmgr, pending, CONCORD__V1__PROPOSAL_STATUS__APPROVED, 0, "", NULL),
                     CC_NOT_FOUND);
    assert_int_equal(override(&outmgr, acc_s, CONCORD__V1__TIER__TIER_A, "no", NULL), CC_NOT_FOUND);
    /* The team member sees them, but decides nothing. */
    Concord__V1__ListTierProposalsResponse *l =
        proposals(&mem, acc_s, CONCORD__V1__PROPOSAL_STATUS__PENDING, CC_OK);
    assert_int_equal(l->n_proposals, 1);
    protobuf_c_message_free_unpacked(&l->base, NULL);
    assert_int_equal(decide(&mem, pending, CONCORD__V1__PROPOSAL_STATUS__APPROVED, 0, "", NULL),
                     CC_PERMISSION_DENIED);
    assert_int_equal(
        decide(&outsider, pending, CONCORD__V1__PROPOSAL_STATUS__APPROVED, 0, "", NULL),
        CC_PERMISSION_DENIED);
    assert_int_equal(override(&mem, acc_s, CONCORD__V1__TIER__TIER_A, "because", NULL),
                     CC_PERMISSION_DENIED);

    /* Row-level security keeps the rows away in SQL too, whatever the handlers do. */
    PGconn *pg = PQconnectdb(itest_env("CONCORD_DB_URL"));
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    const char *set =
        "SELECT set_config('concord.user_id', $1, true), set_config('concord.role', $2, true),"
        " set_config('concord.department', $3, true)";
    const char *q =
        "SELECT (SELECT count(*) FROM concord.tier_proposals WHERE account_id = $1::bigint),"
        " (SELECT count(*) FROM concord.tier_changes WHERE account_id = $1::bigint)";
    struct {
        const char *id, *role, *dept, *want;
    } who[] = {
        {outsider.id, "member", "rnd", "0"},
        {outmgr.id, "manager", "rnd", "0"},
        {mem.id, "member", "presales", "2"},
    };
    for (size_t i = 0; i < sizeof(who) / sizeof(who[0]); i++) {
        PQclear(PQexec(pg, "BEGIN"));
        const char *params[3] = {who[i].id, who[i].role, who[i].dept};
        PGresult *r = PQexecParams(pg, set, 3, NULL, params, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        PQclear(r);
        const char *acc[1] = {acc_s};
        r = PQexecParams(pg, q, 1, NULL, acc, NULL, NULL, 0);
        assert_int_equal(PQresultStatus(r), PGRES_TUPLES_OK);
        assert_string_equal(PQgetvalue(r, 0, 0), who[i].want);
        assert_string_equal(PQgetvalue(r, 0, 1), "0");
        PQclear(r);
        PQclear(PQexec(pg, "ROLLBACK"));
    }
    PQfinish(pg);
}

static void approval_applies_the_tier_and_records_history(void **state)
{
    (void)state;
    char pending[24];
    pending_of(acc_s, pending, sizeof(pending));
    int64_t v0;
    assert_int_equal(account_tier(acc_s, &v0), CONCORD__V1__TIER__TIER_UNSPECIFIED);

    /* Decisions are validated, naming the field. */
    assert_int_equal(decide(&mgr, pending, CONCORD__V1__PROPOSAL_STATUS__PENDING, 0, "", NULL),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "decision");
    assert_int_equal(decide(&mgr, pending, CONCORD__V1__PROPOSAL_STATUS__REJECTED, 0, "", NULL),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "reason");
    assert_int_equal(
        decide(&mgr, pending, CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN, 0, "why", NULL),
        CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "tier");
    assert_int_equal(decide(&mgr, "999999999", CONCORD__V1__PROPOSAL_STATUS__APPROVED, 0, "", NULL),
                     CC_NOT_FOUND);

    Concord__V1__TierProposal *p = NULL;
    assert_int_equal(decide(&mgr, pending, CONCORD__V1__PROPOSAL_STATUS__APPROVED, 0, "", &p),
                     CC_OK);
    assert_int_equal(p->status, CONCORD__V1__PROPOSAL_STATUS__APPROVED);
    assert_int_equal(p->decided_tier, CONCORD__V1__TIER__TIER_S);
    assert_string_equal(p->decided_by_id, mgr.id);
    assert_non_null(p->decide_time);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    int64_t v1;
    assert_int_equal(account_tier(acc_s, &v1), CONCORD__V1__TIER__TIER_S);
    assert_int_equal(v1, v0 + 1);

    /* Only pending proposals are decided. */
    assert_int_equal(decide(&mgr, pending, CONCORD__V1__PROPOSAL_STATUS__APPROVED, 0, "", NULL),
                     CC_FAILED_PRECONDITION);
    assert_non_null(strstr(itest_last.message, "approved"));

    Concord__V1__ListTierHistoryResponse *h = history(&mem, acc_s, 0, NULL, CC_OK);
    assert_int_equal(h->n_changes, 1);
    const Concord__V1__TierChange *ch = h->changes[0];
    assert_int_equal(ch->from_tier, CONCORD__V1__TIER__TIER_UNSPECIFIED);
    assert_int_equal(ch->to_tier, CONCORD__V1__TIER__TIER_S);
    assert_string_equal(ch->proposal_id, pending);
    assert_string_equal(ch->changed_by_id, mgr.id);
    assert_non_null(strstr(ch->reason, "approved tier proposal"));
    assert_non_null(ch->change_time);
    protobuf_c_message_free_unpacked(&h->base, NULL);

    /* Evaluated again, the account is S already: nothing to propose. */
    Concord__V1__EvaluateTiersResponse *r = evaluate(&mgr, AS_OF, acc_s, 0, CC_OK);
    assert_int_equal(r->evaluated, 1);
    assert_int_equal(r->n_proposals, 0);
    protobuf_c_message_free_unpacked(&r->base, NULL);
}

static void rejection_keeps_the_tier_and_override_needs_a_reason(void **state)
{
    (void)state;
    Concord__V1__EvaluateTiersResponse *r = evaluate(&admin, AS_OF, acc_b, 0, CC_OK);
    assert_int_equal(r->n_proposals, 1);
    char id[24];
    snprintf(id, sizeof(id), "%s", r->proposals[0]->id);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    Concord__V1__TierProposal *p = NULL;
    assert_int_equal(
        decide(&mgr, id, CONCORD__V1__PROPOSAL_STATUS__REJECTED, 0, "renewal talks first", &p),
        CC_OK);
    assert_int_equal(p->status, CONCORD__V1__PROPOSAL_STATUS__REJECTED);
    assert_string_equal(p->decision_reason, "renewal talks first");
    assert_int_equal(p->decided_tier, CONCORD__V1__TIER__TIER_UNSPECIFIED);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    assert_int_equal(account_tier(acc_b, NULL), CONCORD__V1__TIER__TIER_UNSPECIFIED);
    Concord__V1__ListTierHistoryResponse *h = history(&admin, acc_b, 0, NULL, CC_OK);
    assert_int_equal(h->n_changes, 0);
    protobuf_c_message_free_unpacked(&h->base, NULL);

    /* A new proposal, overridden to A with a reason. */
    r = evaluate(&admin, AS_OF, acc_b, 0, CC_OK);
    snprintf(id, sizeof(id), "%s", r->proposals[0]->id);
    protobuf_c_message_free_unpacked(&r->base, NULL);
    assert_int_equal(decide(&mgr, id, CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN,
                            CONCORD__V1__TIER__TIER_A, "", NULL),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "reason");
    assert_int_equal(decide(&mgr, id, CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN,
                            CONCORD__V1__TIER__TIER_A, "flagship reference customer", &p),
                     CC_OK);
    assert_int_equal(p->status, CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN);
    assert_int_equal(p->decided_tier, CONCORD__V1__TIER__TIER_A);
    protobuf_c_message_free_unpacked(&p->base, NULL);
    assert_int_equal(account_tier(acc_b, NULL), CONCORD__V1__TIER__TIER_A);

    /* OverrideTier: reason and tier required; the same tier again is refused. */
    Concord__V1__Account *a = NULL;
    assert_int_equal(override(&mgr, acc_b, CONCORD__V1__TIER__TIER_B, "", NULL),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "reason");
    assert_int_equal(override(&mgr, acc_b, CONCORD__V1__TIER__TIER_UNSPECIFIED, "x", NULL),
                     CC_INVALID_ARGUMENT);
    assert_string_equal(itest_last.field, "tier");
    assert_int_equal(override(&mgr, acc_b, CONCORD__V1__TIER__TIER_A, "again", NULL),
                     CC_FAILED_PRECONDITION);
    assert_int_equal(override(&mgr, acc_b, CONCORD__V1__TIER__TIER_B, "budget cut", &a), CC_OK);
    assert_int_equal(a->tier, CONCORD__V1__TIER__TIER_B);
    assert_string_equal(a->id, acc_b);
    protobuf_c_message_free_unpacked(&a->base, NULL);

    /* History newest first, one page at a time. */
    h = history(&mgr, acc_b, 1, NULL, CC_OK);
    assert_int_equal(h->n_changes, 1);
    assert_int_equal(h->changes[0]->from_tier, CONCORD__V1__TIER__TIER_A);
    assert_int_equal(h->changes[0]->to_tier, CONCORD__V1__TIER__TIER_B);
    assert_string_equal(h->changes[0]->reason, "budget cut");
    assert_string_equal(h->changes[0]->proposal_id, "");
    assert_string_not_equal(h->next_page_token, "");
    Concord__V1__ListTierHistoryResponse *h2 = history(&mgr, acc_b, 1, h->next_page_token, CC_OK);
    assert_int_equal(h2->n_changes, 1);
    assert_int_equal(h2->changes[0]->to_tier, CONCORD__V1__TIER__TIER_A);
    assert_string_equal(h2->changes[0]->reason, "flagship reference customer");
    assert_string_equal(h2->changes[0]->proposal_id, id);
    assert_string_equal(h2->next_page_token, "");
    protobuf_c_message_free_unpacked(&h->base, NULL);
    protobuf_c_message_free_unpacked(&h2->base, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(default_rules_are_listed_in_order),
        cmocka_unit_test(rules_are_validated_versioned_and_admin_only),
        cmocka_unit_test(dry_run_proposes_with_reasons_and_stores_nothing),
        cmocka_unit_test(members_cannot_evaluate_and_managers_see_their_accounts),
        cmocka_unit_test(stored_evaluation_supersedes_older_proposals),
        cmocka_unit_test(outsiders_see_no_proposals_or_history),
        cmocka_unit_test(approval_applies_the_tier_and_records_history),
        cmocka_unit_test(rejection_keeps_the_tier_and_override_needs_a_reason),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
