/*
 * tier_service.c - concord.v1.TierService: tier rules (data admins change),
 * evaluations that turn each subscribed account's metrics into proposals with
 * reasons, decisions and overrides by managers, and the tier history.
 *
 * Invariants:
 *  - accounts.tier changes only in apply_tier, which writes the tier_changes
 *    row and its audit row in the same transaction.
 *  - At most one proposal per account is PENDING (a unique index holds it):
 *    storing an evaluation first supersedes the pending proposals of every
 *    account it evaluated, then inserts the new ones.
 *  - Evaluations see only what the caller sees: the metrics query runs under
 *    row-level security, so a manager evaluates the accounts of their
 *    department and the scheduler (the system, an admin) every account.
 *  - The rules themselves are evaluated in tier_rules.c; this file only
 *    collects metrics, stores and answers.
 */
#include "access.h"
#include "call.h"
#include "cc_log.h"
#include "concord/v1/account.pb-c.h"
#include "concord/v1/tier.pb-c.h"
#include "dispatch.h"
#include "records.h"
#include "tier_rules.h"
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEP "\x1f" /* separates reason lines in one SQL value (string_to_array) */

/* Key of the transaction-level advisory lock of the month-end evaluation. */
#define TIER_MONTH_END_LOCK "7469657273"

/* The response of an evaluation carries at most this many proposals. */
#define MAX_RETURNED_PROPOSALS 1000

/* ---- shared helpers -------------------------------------------------------- */

static const char *tier_db(srv_call *c, int tier)
{
    return srv_enum_to_db(c, &concord__v1__tier__descriptor, tier);
}

static int tier_from_db(const char *text)
{
    return srv_enum_from_db(&concord__v1__tier__descriptor, text);
}

static int may_decide(const srv_call *c)
{
    return srv_is_admin(c) || (c->user.role && strcmp(c->user.role, "manager") == 0);
}

static int has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
            return 1;
    return 0;
}

/* A decision's or override's reason: required or not, at most 2000 characters. */
static void check_reason(srv_call *c, const char *field, const char *reason, int required)
{
    size_t n = reason ? strlen(reason) : 0;
    if (required && n == 0)
        srv_violation(c, field, "must say why");
    else if (n > 2000)
        srv_violation(c, field, "must be at most 2000 characters");
    else if (n && has_control_chars(reason))
        srv_violation(c, field, "must not contain control characters");
}

/* Splits a SEP-joined SQL value into an array in the arena. */
static char **split_lines(srv_call *c, const char *joined, size_t *n_out)
{
    *n_out = 0;
    if (joined == NULL || *joined == '\0')
        return NULL;
    size_t n = 1;
    for (const char *p = joined; *p; p++)
        n += *p == SEP[0];
    char **lines = arena_alloc(c->arena, n * sizeof(*lines));
    char *copy = arena_strdup(c->arena, joined);
    for (char *p = copy;;) {
        lines[(*n_out)++] = p;
        char *sep = strchr(p, SEP[0]);
        if (sep == NULL)
            break;
        *sep = '\0';
        p = sep + 1;
    }
    return lines;
}

static const char *join_lines(srv_call *c, char **lines, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(lines[i]) + 1;
    char *s = arena_alloc(c->arena, len);
    char *p = s;
    *p = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);
        if (i)
            *p++ = SEP[0];
        memcpy(p, lines[i], l);
        p += l;
        *p = '\0';
    }
    return s;
}

/* The key of a page token over descending ids, or NULL (first page or bad token). */
static const char *page_after_id(srv_call *c, const char *token)
{
    const char *key = srv_page_token_decode(c, "page_token", token);
    if (key == NULL)
        return NULL;
    if (*key == '\0' || strspn(key, "0123456789") != strlen(key) || strlen(key) > 18) {
        srv_violation(c, "page_token", "is not a page token from a previous response");
        return NULL;
    }
    return key;
}

/* ---- rules ------------------------------------------------------------------ */

#define RULE_COLS                                                                                  \
    "r.id, r.tier, r.name, r.min_annual_value_minor, r.currency, r.min_engagements,"               \
    " r.min_stakeholder_levels, r.min_stakeholders, r.min_icp_total, r.min_health, r.active,"      \
    " r.version"

/* Higher tiers first, then in order of creation: the order rules are tried in. */
#define RULE_ORDER " ORDER BY CASE r.tier WHEN 'tier_s' THEN 1 ELSE 2 END, r.id"

static Concord__V1__TierRule *rule_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__TierRule *t = arena_alloc(c->arena, sizeof(*t));
    concord__v1__tier_rule__init(t);
    t->id = PQgetvalue(r, row, 0);
    t->tier = tier_from_db(PQgetvalue(r, row, 1));
    t->name = PQgetvalue(r, row, 2);
    t->min_annual_value_minor = strtoll(PQgetvalue(r, row, 3), NULL, 10);
    t->currency = PQgetvalue(r, row, 4);
    t->min_engagements = atoi(PQgetvalue(r, row, 5));
    t->min_stakeholder_levels = atoi(PQgetvalue(r, row, 6));
    t->min_stakeholders = atoi(PQgetvalue(r, row, 7));
    t->min_icp_total = atoi(PQgetvalue(r, row, 8));
    t->min_health = atoi(PQgetvalue(r, row, 9));
    t->active = PQgetvalue(r, row, 10)[0] == 't';
    t->version = strtoll(PQgetvalue(r, row, 11), NULL, 10);
    return t;
}

/* Validates a rule's settable fields (prefix "rule."). */
static void check_rule(srv_call *c, const Concord__V1__TierRule *t)
{
    if (t->tier != CONCORD__V1__TIER__TIER_S && t->tier != CONCORD__V1__TIER__TIER_A)
        srv_violation(c, "rule.tier", "must be TIER_S or TIER_A (B is what no rule gives)");
    size_t n = t->name ? strlen(t->name) : 0;
    if (n == 0)
        srv_violation(c, "rule.name", "must not be empty");
    else if (n > 200)
        srv_violation(c, "rule.name", "must be at most 200 characters");
    else if (has_control_chars(t->name) || strchr(t->name, '\n') || strchr(t->name, '\r') ||
             strchr(t->name, '\t'))
        srv_violation(c, "rule.name", "must be one line without control characters");
    if (t->min_annual_value_minor < 0)
        srv_violation(c, "rule.min_annual_value_minor", "must not be negative");
    const char *cur = t->currency ? t->currency : "";
    if (*cur && !tier_currency_valid(cur))
        srv_violation(c, "rule.currency", "must be an ISO 4217 code such as EUR");
    else if (!*cur && t->min_annual_value_minor > 0)
        srv_violation(c, "rule.currency", "is required with min_annual_value_minor");
    if (t->min_engagements < 0)
        srv_violation(c, "rule.min_engagements", "must not be negative");
    if (t->min_stakeholder_levels < 0 || t->min_stakeholder_levels > 3)
        srv_violation(c, "rule.min_stakeholder_levels", "must be 0 to 3");
    if (t->min_stakeholders < 0)
        srv_violation(c, "rule.min_stakeholders", "must not be negative");
    if (t->min_icp_total < 0 || t->min_icp_total > 25)
        srv_violation(c, "rule.min_icp_total", "must be 0 to 25");
    if (t->min_health < 0 || t->min_health > 100)
        srv_violation(c, "rule.min_health", "must be 0 to 100");
}

#define RULE_PARAMS 10
static void rule_params(srv_call *c, const Concord__V1__TierRule *t, const char **p)
{
    p[0] = tier_db(c, t->tier);
    p[1] = t->name;
    p[2] = srv_i64(c, t->min_annual_value_minor);
    p[3] = t->currency ? t->currency : "";
    p[4] = srv_i64(c, t->min_engagements);
    p[5] = srv_i64(c, t->min_stakeholder_levels);
    p[6] = srv_i64(c, t->min_stakeholders);
    p[7] = srv_i64(c, t->min_icp_total);
    p[8] = srv_i64(c, t->min_health);
    p[9] = t->active ? "t" : "f";
}

static int create_tier_rule(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateTierRuleRequest *req = (const void *)in;
    static const char sql[] =
        "WITH r AS (INSERT INTO tier_rules (tier, name, min_annual_value_minor, currency,"
        "   min_engagements, min_stakeholder_levels, min_stakeholders, min_icp_total,"
        "   min_health, active) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        " RETURNING *) SELECT " RULE_COLS " FROM r";
    if (req->rule == NULL) {
        srv_violation(c, "rule", "is required");
        return srv_check(c);
    }
    check_rule(c, req->rule);
    if (srv_check(c) != CC_OK)
        return c->code;
    Concord__V1__TierRule rule = *req->rule;
    rule.active = 1; /* new rules apply at once; see CreateTierRuleRequest */
    const char *p[RULE_PARAMS];
    rule_params(c, &rule, p);
    PGresult *r = srv_sqlv(c, sql, RULE_PARAMS, p);
    if (r == NULL)
        return c->code;
    Concord__V1__TierRule *t = rule_from_row(c, r, 0);
    if (srv_audit(c, "create_tier_rule", "tier_rule", t->id, NULL, &t->base) != CC_OK)
        return c->code;
    *out = &t->base;
    return CC_OK;
}

static int apply_rule_path(Concord__V1__TierRule *dst, const Concord__V1__TierRule *src,
                           const char *path)
{
#define COPY(f)                                                                                    \
    do {                                                                                           \
        if (strcmp(path, #f) == 0) {                                                               \
            dst->f = src->f;                                                                       \
            return 0;                                                                              \
        }                                                                                          \
    } while (0)
    COPY(tier);
    COPY(name);
    COPY(min_annual_value_minor);
    COPY(currency);
    COPY(min_engagements);
    COPY(min_stakeholder_levels);
    COPY(min_stakeholders);
    COPY(min_icp_total);
    COPY(min_health);
    COPY(active);
#undef COPY
    return -1;
}

static int update_tier_rule(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__UpdateTierRuleRequest *req = (const void *)in;
    static const char get[] = "SELECT " RULE_COLS " FROM tier_rules r WHERE r.id = $1 FOR UPDATE";
    static const char sql[] =
        "WITH r AS (UPDATE tier_rules SET tier = $1, name = $2, min_annual_value_minor = $3,"
        "   currency = $4, min_engagements = $5, min_stakeholder_levels = $6,"
        "   min_stakeholders = $7, min_icp_total = $8, min_health = $9, active = $10,"
        "   version = version + 1, updated_at = now()"
        " WHERE id = $11 RETURNING *) SELECT " RULE_COLS " FROM r";
    srv_check_update(c, "rule", req->rule, req->update_mask, req->version);
    int64_t id = req->rule ? srv_parse_id(c, "rule.id", req->rule->id) : 0;
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, get, 1, srv_i64(c, id));
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "tier rule %s not found", req->rule->id);
    Concord__V1__TierRule *before = rule_from_row(c, r, 0);
    if (before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "tier rule %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    Concord__V1__TierRule *after = rule_from_row(c, r, 0);
    for (size_t i = 0; i < req->update_mask->n_paths; i++) {
        const char *path = req->update_mask->paths[i];
        if (apply_rule_path(after, req->rule, path) != 0)
            srv_violation(c, "update_mask",
                          "\"%s\" cannot be changed here (server-owned or unknown field)", path);
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    check_rule(c, after);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *p[RULE_PARAMS + 1];
    rule_params(c, after, p);
    p[RULE_PARAMS] = before->id;
    r = srv_sqlv(c, sql, RULE_PARAMS + 1, p);
    if (r == NULL)
        return c->code;
    Concord__V1__TierRule *t = rule_from_row(c, r, 0);
    if (srv_audit(c, "update_tier_rule", "tier_rule", t->id, &before->base, &t->base) != CC_OK)
        return c->code;
    *out = &t->base;
    return CC_OK;
}

static int list_tier_rules(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListTierRulesRequest *req = (const void *)in;
    static const char sql[] =
        "SELECT " RULE_COLS " FROM tier_rules r WHERE r.active OR $1::boolean" RULE_ORDER;
    PGresult *r = srv_sql(c, sql, 1, req->include_inactive ? "t" : "f");
    if (r == NULL)
        return c->code;
    Concord__V1__ListTierRulesResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_tier_rules_response__init(resp);
    int n = PQntuples(r);
    resp->rules = arena_alloc(c->arena, sizeof(*resp->rules) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++)
        resp->rules[i] = rule_from_row(c, r, i);
    resp->n_rules = (size_t)n;
    *out = &resp->base;
    return CC_OK;
}

/* ---- proposals -------------------------------------------------------------- */

#define PROPOSAL_COLS                                                                              \
    "p.id, p.account_id, a.name, p.current_tier, p.proposed_tier,"                                 \
    " array_to_string(p.reasons, E'\\x1f'), p.as_of::text, p.status, p.decided_by,"                \
    " extract(epoch from p.decided_at)::text, p.decision_reason,"                                  \
    " extract(epoch from p.created_at)::text, p.evaluation_id, p.decided_tier"

static Concord__V1__TierProposal *proposal_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__TierProposal *p = arena_alloc(c->arena, sizeof(*p));
    concord__v1__tier_proposal__init(p);
    p->id = PQgetvalue(r, row, 0);
    p->account_id = PQgetvalue(r, row, 1);
    p->account_name = PQgetvalue(r, row, 2);
    p->current_tier = tier_from_db(PQgetvalue(r, row, 3));
    p->proposed_tier = tier_from_db(PQgetvalue(r, row, 4));
    p->reasons = split_lines(c, PQgetvalue(r, row, 5), &p->n_reasons);
    p->as_of = PQgetvalue(r, row, 6);
    p->status = srv_enum_from_db(&concord__v1__proposal_status__descriptor, PQgetvalue(r, row, 7));
    p->decided_by_id = PQgetvalue(r, row, 8);
    p->decide_time = srv_ts(c, PQgetvalue(r, row, 9));
    p->decision_reason = PQgetvalue(r, row, 10);
    p->create_time = srv_ts(c, PQgetvalue(r, row, 11));
    p->evaluation_id = PQgetvalue(r, row, 12);
    p->decided_tier = tier_from_db(PQgetvalue(r, row, 13));
    return p;
}

static int list_tier_proposals(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListTierProposalsRequest *req = (const void *)in;
    int size = srv_page_size(c, "page_size", req->page_size);
    if (!srv_enum_valid(&concord__v1__proposal_status__descriptor, req->status))
        srv_violation(c, "status", "is not a proposal status");
    const char *after = page_after_id(c, req->page_token);
    if (srv_check(c) != CC_OK)
        return c->code;
    /* An account named explicitly must be visible: NOT_FOUND says so plainly. */
    if (req->account_id && *req->account_id &&
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, NULL) != CC_OK)
        return c->code;

    /* Filters become "AND ..." clauses with numbered parameters; RLS drops
     * proposals of accounts the caller cannot see. */
    const char *params[4];
    int np = 0;
    char where[256] = "WHERE true";
    size_t wl = strlen(where);
    if (req->status) {
        params[np++] = srv_enum_to_db(c, &concord__v1__proposal_status__descriptor, req->status);
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, " AND p.status = $%d", np);
    }
    if (req->account_id && *req->account_id) {
        params[np++] = req->account_id;
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, " AND p.account_id = $%d", np);
    }
    if (after) {
        params[np++] = after;
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, " AND p.id < $%d::bigint", np);
    }
    params[np++] = srv_i64(c, size + 1);
    const char *sql = arena_printf(c->arena,
                                   "SELECT " PROPOSAL_COLS " FROM tier_proposals p"
                                   " JOIN accounts a ON a.id = p.account_id %s"
                                   " ORDER BY p.id DESC LIMIT $%d",
                                   where, np);
    PGresult *r = srv_sql_dynamic(c, sql, np, params);
    if (r == NULL)
        return c->code;
    Concord__V1__ListTierProposalsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_tier_proposals_response__init(resp);
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->proposals = arena_alloc(c->arena, sizeof(*resp->proposals) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->proposals[i] = proposal_from_row(c, r, i);
    resp->n_proposals = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size)
        resp->next_page_token = (char *)srv_page_token_encode(c, PQgetvalue(r, shown - 1, 0));
    *out = &resp->base;
    return CC_OK;
}

/* ---- evaluation -------------------------------------------------------------- */

/*
 * The metrics of every subscribed account visible to the caller, as of $1:
 * annual value of the ACTIVE contracts live that day per currency ("EUR
 * 1200000,USD 5000"), activities in the 365 days ending with that day,
 * stakeholders known (not deleted) and their distinct levels. Prospects (no
 * live contract), archived and merged accounts are left out.
 */
#define METRICS_SQL                                                                                \
    "SELECT a.id, a.name, a.tier, a.icp_total,"                                                    \
    " coalesce((SELECT string_agg(v.currency || ' ' || v.total::text, ',' ORDER BY"                \
    "   v.currency) FROM (SELECT k.currency,"                                                      \
    "     least(sum(k.annual_value_minor), 9223372036854775807)::bigint AS total"                  \
    "     FROM contracts k WHERE k.account_id = a.id AND k.status = 'contract_active'"             \
    "       AND k.start_date <= $1::date AND k.end_date >= $1::date"                               \
    "     GROUP BY k.currency) v), ''),"                                                           \
    " (SELECT count(*) FROM activities t WHERE t.account_id = a.id"                                \
    "   AND t.occur_time >= ($1::date - 364)::timestamptz"                                         \
    "   AND t.occur_time < ($1::date + 1)::timestamptz),"                                          \
    " (SELECT count(*) FROM stakeholders s"                                                        \
    "   WHERE s.account_id = a.id AND s.deleted_at IS NULL),"                                      \
    " (SELECT count(DISTINCT s.level) FROM stakeholders s"                                         \
    "   WHERE s.account_id = a.id AND s.deleted_at IS NULL)"                                       \
    " FROM accounts a"                                                                             \
    " WHERE a.archived_at IS NULL AND a.merged_into_id IS NULL"                                    \
    "   AND EXISTS (SELECT 1 FROM contracts k WHERE k.account_id = a.id"                           \
    "     AND k.status = 'contract_active' AND k.start_date <= $1::date"                           \
    "     AND k.end_date >= $1::date)"

/* Every visible subscribed account; or the one account $2 (its own statement,
 * so that its plan looks the account up by id). */
static const char metrics_all_sql[] = METRICS_SQL " ORDER BY a.id";
static const char metrics_one_sql[] = METRICS_SQL " AND a.id = $2::bigint";

/* Parses "EUR 1200000,USD 5000" into money entries (arena). */
static tier_money *parse_values(arena *a, const char *text, size_t *n_out)
{
    *n_out = 0;
    if (*text == '\0')
        return NULL;
    size_t n = 1;
    for (const char *p = text; *p; p++)
        n += *p == ',';
    tier_money *v = arena_alloc(a, n * sizeof(*v));
    char *copy = arena_strdup(a, text);
    char *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        char *space = strchr(tok, ' ');
        if (space == NULL)
            continue;
        *space = '\0';
        v[*n_out].currency = tok;
        v[*n_out].minor = strtoll(space + 1, NULL, 10);
        (*n_out)++;
    }
    return v;
}

/* The active rules, in the order they are tried. */
static tier_rule *load_rules(srv_call *c, size_t *n_out)
{
    static const char sql[] = "SELECT " RULE_COLS " FROM tier_rules r WHERE r.active" RULE_ORDER;
    *n_out = 0;
    PGresult *r = srv_sql(c, sql, 0);
    if (r == NULL)
        return NULL;
    int n = PQntuples(r);
    tier_rule *rules = arena_calloc(c->arena, (size_t)(n ? n : 1), sizeof(*rules));
    for (int i = 0; i < n; i++) {
        Concord__V1__TierRule *t = rule_from_row(c, r, i);
        rules[i] = (tier_rule){
            .id = strtoll(t->id, NULL, 10),
            .tier = t->tier,
            .name = t->name,
            .min_annual_value_minor = t->min_annual_value_minor,
            .currency = t->currency,
            .min_engagements = t->min_engagements,
            .min_stakeholder_levels = t->min_stakeholder_levels,
            .min_stakeholders = t->min_stakeholders,
            .min_icp_total = t->min_icp_total,
            .min_health = t->min_health,
            .active = t->active,
        };
    }
    *n_out = (size_t)n;
    return rules;
}

/*
 * Evaluates the subscribed accounts visible to the caller as of as_of (a
 * valid date), or only account_id when it is not NULL, and fills resp. Unless
 * dry_run, stores the evaluation and its proposals and audits the run.
 */
static int evaluate(srv_call *c, const char *as_of, const char *account_id, int dry_run,
                    Concord__V1__EvaluateTiersResponse *resp)
{
    static const char add_evaluation[] =
        "INSERT INTO tier_evaluations (as_of, started_by, account_id, evaluated, proposed)"
        " VALUES ($1::date, $2, $3, $4, $5) RETURNING id";
    static const char supersede[] =
        "UPDATE tier_proposals SET status = 'superseded'"
        " WHERE status = 'pending' AND account_id = ANY (string_to_array($1, ',')::bigint[])";
    static const char add_proposal[] =
        "INSERT INTO tier_proposals (evaluation_id, account_id, as_of, current_tier,"
        "   proposed_tier, reasons)"
        " VALUES ($1, $2, $3::date, $4, $5, string_to_array($6, E'\\x1f'))"
        " RETURNING id, extract(epoch from created_at)::text";
    size_t n_rules;
    tier_rule *rules = load_rules(c, &n_rules);
    if (c->code != CC_OK)
        return c->code;
    PGresult *mr = account_id ? srv_sql(c, metrics_one_sql, 2, as_of, account_id)
                              : srv_sql(c, metrics_all_sql, 1, as_of);
    if (mr == NULL)
        return c->code;
    int rows = PQntuples(mr);

    Concord__V1__TierProposal **proposals =
        arena_alloc(c->arena, sizeof(*proposals) * (size_t)(rows ? rows : 1));
    size_t n_proposals = 0;
    /* Reasons of accounts whose tier stays are not kept: a scratch arena
     * holds each account's evaluation until it is known to propose. */
    arena scratch;
    arena_init(&scratch, 16 * 1024);
    for (int i = 0; i < rows; i++) {
        tier_metrics m = {0};
        arena_reset(&scratch);
        m.values = parse_values(&scratch, PQgetvalue(mr, i, 4), &m.n_values);
        m.engagements = strtoll(PQgetvalue(mr, i, 5), NULL, 10);
        m.stakeholders = strtoll(PQgetvalue(mr, i, 6), NULL, 10);
        m.stakeholder_levels = strtoll(PQgetvalue(mr, i, 7), NULL, 10);
        m.icp_total = strtoll(PQgetvalue(mr, i, 3), NULL, 10);
        tier_result res;
        tier_evaluate(&scratch, rules, n_rules, &m, &res);
        int current = tier_from_db(PQgetvalue(mr, i, 2));
        if (res.tier == current)
            continue;
        Concord__V1__TierProposal *p = arena_alloc(c->arena, sizeof(*p));
        concord__v1__tier_proposal__init(p);
        p->account_id = PQgetvalue(mr, i, 0);
        p->account_name = PQgetvalue(mr, i, 1);
        p->current_tier = current;
        p->proposed_tier = res.tier;
        p->as_of = (char *)as_of;
        p->n_reasons = res.n_reasons;
        p->reasons =
            arena_alloc(c->arena, sizeof(*p->reasons) * (res.n_reasons ? res.n_reasons : 1));
        for (size_t k = 0; k < res.n_reasons; k++)
            p->reasons[k] = arena_strdup(c->arena, res.reasons[k]);
        proposals[n_proposals++] = p;
    }
    arena_free(&scratch);

    resp->evaluated = rows;
    resp->proposed = (int32_t)n_proposals;
    resp->evaluation_id = "";
    resp->proposals = proposals;
    resp->n_proposals = n_proposals > MAX_RETURNED_PROPOSALS ? MAX_RETURNED_PROPOSALS : n_proposals;
    if (dry_run)
        return CC_OK;

    PGresult *r = srv_sql(c, add_evaluation, 5, as_of, c->user.id ? c->user.id_text : NULL,
                          account_id, srv_i64(c, rows), srv_i64(c, (int64_t)n_proposals));
    if (r == NULL)
        return c->code;
    resp->evaluation_id = PQgetvalue(r, 0, 0);
    /* Every evaluated account's older pending proposal is stale now, whether
     * or not a new one replaces it. */
    if (rows > 0) {
        size_t len = 1;
        for (int i = 0; i < rows; i++)
            len += (size_t)PQgetlength(mr, i, 0) + 1;
        char *ids = arena_alloc(c->arena, len);
        char *q = ids;
        for (int i = 0; i < rows; i++) {
            if (i)
                *q++ = ',';
            size_t l = (size_t)PQgetlength(mr, i, 0);
            memcpy(q, PQgetvalue(mr, i, 0), l);
            q += l;
        }
        *q = '\0';
        if (srv_sql(c, supersede, 1, ids) == NULL)
            return c->code;
    }
    for (size_t i = 0; i < n_proposals; i++) {
        Concord__V1__TierProposal *p = proposals[i];
        r = srv_sql(c, add_proposal, 6, resp->evaluation_id, p->account_id, as_of,
                    tier_db(c, p->current_tier), tier_db(c, p->proposed_tier),
                    join_lines(c, p->reasons, p->n_reasons));
        if (r == NULL)
            return c->code;
        p->id = PQgetvalue(r, 0, 0);
        p->create_time = srv_ts(c, PQgetvalue(r, 0, 1));
        p->evaluation_id = resp->evaluation_id;
        p->status = CONCORD__V1__PROPOSAL_STATUS__PENDING;
    }
    /* The audit row carries the run's figures; the proposals are records of their own. */
    Concord__V1__EvaluateTiersResponse summary = *resp;
    summary.n_proposals = 0;
    summary.proposals = NULL;
    return srv_audit(c, "evaluate_tiers", "tier_evaluation", resp->evaluation_id, NULL,
                     &summary.base);
}

static const char *today(srv_call *c)
{
    static const char sql[] = "SELECT current_date::text";
    PGresult *r = srv_sql(c, sql, 0);
    return r ? PQgetvalue(r, 0, 0) : NULL;
}

static int evaluate_tiers(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__EvaluateTiersRequest *req = (const void *)in;
    if (!may_decide(c))
        return srv_fail(c, CC_PERMISSION_DENIED, "only managers and admins may evaluate tiers");
    const char *as_of = req->as_of && *req->as_of ? req->as_of : NULL;
    const char *account_id = req->account_id && *req->account_id ? req->account_id : NULL;
    int y, m, d;
    if (as_of && tier_date_parse(as_of, &y, &m, &d) != 0)
        srv_violation(c, "as_of", "must be a calendar date YYYY-MM-DD");
    if (account_id)
        srv_parse_id(c, "account_id", account_id);
    if (srv_check(c) != CC_OK)
        return c->code;
    if (account_id &&
        srv_account_access(c, "account_id", account_id, SRV_ACCESS_READ, NULL) != CC_OK)
        return c->code;
    if (as_of == NULL && (as_of = today(c)) == NULL)
        return c->code;
    Concord__V1__EvaluateTiersResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__evaluate_tiers_response__init(resp);
    if (evaluate(c, as_of, account_id, req->dry_run, resp) != CC_OK)
        return c->code;
    *out = &resp->base;
    return CC_OK;
}

int tier_task_month_end(srv_call *c)
{
    static const char lock[] = "SELECT pg_try_advisory_xact_lock(" TIER_MONTH_END_LOCK ")";
    static const char done[] =
        "SELECT 1 FROM tier_evaluations"
        " WHERE as_of = $1::date AND started_by IS NULL AND account_id IS NULL LIMIT 1";
    const char *day = today(c);
    int y, m, d;
    if (day == NULL)
        return c->code;
    if (tier_date_parse(day, &y, &m, &d) != 0)
        return srv_fail(c, CC_INTERNAL, "the database's date \"%s\" is not YYYY-MM-DD", day);
    if (!tier_date_is_month_end(y, m, d))
        return CC_OK;
    /* Another instance holding the lock is doing it now. */
    PGresult *r = srv_sql(c, lock, 0);
    if (r == NULL || PQgetvalue(r, 0, 0)[0] != 't')
        return c->code;
    r = srv_sql(c, done, 1, day);
    if (r == NULL || PQntuples(r) > 0)
        return c->code;
    Concord__V1__EvaluateTiersResponse resp = CONCORD__V1__EVALUATE_TIERS_RESPONSE__INIT;
    if (evaluate(c, day, NULL, 0, &resp) != CC_OK)
        return c->code;
    char evaluated[16], proposed[16];
    snprintf(evaluated, sizeof(evaluated), "%d", (int)resp.evaluated);
    snprintf(proposed, sizeof(proposed), "%d", (int)resp.proposed);
    log_event(LOG_INFO, "tier_evaluation", "as_of", day, "evaluated", evaluated, "proposed",
              proposed, "evaluation_id", resp.evaluation_id, NULL);
    return CC_OK;
}

/* ---- decisions, overrides, history ------------------------------------------ */

/*
 * Sets an account's tier and records the change with its reason (the caller
 * checked edit access). *change is NULL when the account already had the tier:
 * nothing is written then.
 */
static int apply_tier(srv_call *c, const char *account_id, int to, const char *reason,
                      const char *proposal_id, Concord__V1__TierChange **change)
{
    static const char lock[] = "SELECT tier FROM accounts WHERE id = $1 FOR NO KEY UPDATE";
    static const char set[] =
        "UPDATE accounts SET tier = $2, version = version + 1, updated_at = now() WHERE id = $1";
    static const char add[] =
        "WITH h AS (INSERT INTO tier_changes (account_id, from_tier, to_tier, reason,"
        "   changed_by, proposal_id) VALUES ($1, $2, $3, $4, $5, $6) RETURNING *)"
        " SELECT " SRV_TIER_CHANGE_COLS " FROM h";
    *change = NULL;
    PGresult *r = srv_sql(c, lock, 1, account_id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "account %s not found", account_id);
    const char *from = PQgetisnull(r, 0, 0) ? NULL : PQgetvalue(r, 0, 0);
    if (tier_from_db(from) == to)
        return CC_OK;
    r = srv_sql(c, set, 2, account_id, tier_db(c, to));
    if (r == NULL)
        return c->code;
    if (strcmp(PQcmdTuples(r), "1") != 0)
        return srv_fail(c, CC_PERMISSION_DENIED, "you may not change account %s", account_id);
    r = srv_sql(c, add, 6, account_id, from, tier_db(c, to), reason,
                c->user.id ? c->user.id_text : NULL, proposal_id);
    if (r == NULL)
        return c->code;
    *change = srv_tier_change_from_row(c, r, 0);
    return srv_audit(c, "change_tier", "account", account_id, NULL, &(*change)->base);
}

static int valid_tier(int tier)
{
    return tier == CONCORD__V1__TIER__TIER_S || tier == CONCORD__V1__TIER__TIER_A ||
           tier == CONCORD__V1__TIER__TIER_B;
}

static Concord__V1__TierProposal *load_proposal(srv_call *c, const char *id, int for_update)
{
    static const char get[] = "SELECT " PROPOSAL_COLS " FROM tier_proposals p"
                              " JOIN accounts a ON a.id = p.account_id WHERE p.id = $1";
    static const char lock[] = "SELECT " PROPOSAL_COLS " FROM tier_proposals p"
                               " JOIN accounts a ON a.id = p.account_id WHERE p.id = $1"
                               " FOR UPDATE OF p";
    PGresult *r = srv_sql(c, for_update ? lock : get, 1, id);
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "tier proposal %s not found", id);
        return NULL;
    }
    return proposal_from_row(c, r, 0);
}

static int decide_tier_proposal(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__DecideTierProposalRequest *req = (const void *)in;
    static const char sql[] =
        "UPDATE tier_proposals SET status = $2, decided_tier = $3, decided_by = $4,"
        " decided_at = now(), decision_reason = $5 WHERE id = $1";
    if (!may_decide(c))
        return srv_fail(c, CC_PERMISSION_DENIED,
                        "only managers and admins may decide tier proposals");
    int64_t id = srv_parse_id(c, "id", req->id);
    int decision = req->decision;
    if (decision != CONCORD__V1__PROPOSAL_STATUS__APPROVED &&
        decision != CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN &&
        decision != CONCORD__V1__PROPOSAL_STATUS__REJECTED)
        srv_violation(c, "decision", "must be APPROVED, OVERRIDDEN or REJECTED");
    if (decision == CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN && !valid_tier(req->tier))
        srv_violation(c, "tier", "is required with OVERRIDDEN: TIER_S, TIER_A or TIER_B");
    else if (decision != CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN && req->tier != 0)
        srv_violation(c, "tier", "is only for OVERRIDDEN");
    check_reason(c, "reason", req->reason,
                 decision == CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN ||
                     decision == CONCORD__V1__PROPOSAL_STATUS__REJECTED);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *id_text = srv_i64(c, id);
    Concord__V1__TierProposal *before = load_proposal(c, id_text, 1);
    if (before == NULL)
        return c->code;
    if (srv_account_access(c, "id", before->account_id, SRV_ACCESS_EDIT, NULL) != CC_OK)
        return c->code;
    if (before->status != CONCORD__V1__PROPOSAL_STATUS__PENDING) {
        const char *status =
            srv_enum_to_db(c, &concord__v1__proposal_status__descriptor, before->status);
        return srv_fail(c, CC_FAILED_PRECONDITION,
                        "tier proposal %s is %s, not pending: only pending proposals are decided",
                        id_text, status ? status : "unknown");
    }
    int applied = 0;
    const char *reason = req->reason ? req->reason : "";
    if (decision == CONCORD__V1__PROPOSAL_STATUS__APPROVED) {
        applied = before->proposed_tier;
        if (*reason == '\0')
            reason = arena_printf(c->arena, "approved tier proposal %s (as of %s)", id_text,
                                  before->as_of);
    } else if (decision == CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN) {
        applied = req->tier;
    }
    if (applied) {
        Concord__V1__TierChange *change;
        if (apply_tier(c, before->account_id, applied, reason, id_text, &change) != CC_OK)
            return c->code;
    }
    PGresult *r = srv_sql(c, sql, 5, id_text,
                          srv_enum_to_db(c, &concord__v1__proposal_status__descriptor, decision),
                          applied ? tier_db(c, applied) : NULL, c->user.id ? c->user.id_text : NULL,
                          req->reason ? req->reason : "");
    if (r == NULL)
        return c->code;
    Concord__V1__TierProposal *after = load_proposal(c, id_text, 0);
    if (after == NULL)
        return c->code;
    if (srv_audit(c, "decide_tier_proposal", "tier_proposal", id_text, &before->base,
                  &after->base) != CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

static int override_tier(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__OverrideTierRequest *req = (const void *)in;
    if (!may_decide(c))
        return srv_fail(c, CC_PERMISSION_DENIED, "only managers and admins may override tiers");
    int64_t id = srv_parse_id(c, "account_id", req->account_id);
    if (!valid_tier(req->tier))
        srv_violation(c, "tier", "must be TIER_S, TIER_A or TIER_B");
    check_reason(c, "reason", req->reason, 1);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *id_text = srv_i64(c, id);
    if (srv_account_access(c, "account_id", id_text, SRV_ACCESS_EDIT, NULL) != CC_OK)
        return c->code;
    Concord__V1__TierChange *change;
    if (apply_tier(c, id_text, req->tier, req->reason, NULL, &change) != CC_OK)
        return c->code;
    if (change == NULL)
        return srv_fail(c, CC_FAILED_PRECONDITION, "account %s already is tier %s", id_text,
                        tier_letter(req->tier));
    /* The account as AccountService shows it, read in this transaction. */
    const srv_route *get = srv_route_find("concord.v1.AccountService/GetAccount");
    if (get == NULL || get->fn == NULL)
        return srv_fail(c, CC_INTERNAL, "internal error");
    Concord__V1__GetAccountRequest g = CONCORD__V1__GET_ACCOUNT_REQUEST__INIT;
    g.id = (char *)id_text;
    return get->fn(c, &g.base, out);
}

static int list_tier_history(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListTierHistoryRequest *req = (const void *)in;
    static const char sql[] =
        "SELECT " SRV_TIER_CHANGE_COLS " FROM tier_changes h WHERE h.account_id = $1"
        " AND ($2::bigint IS NULL OR h.id < $2::bigint) ORDER BY h.id DESC LIMIT $3";
    int size = srv_page_size(c, "page_size", req->page_size);
    const char *after = page_after_id(c, req->page_token);
    int64_t id = srv_parse_id(c, "account_id", req->account_id);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *id_text = srv_i64(c, id);
    if (srv_account_access(c, "account_id", id_text, SRV_ACCESS_READ, NULL) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, sql, 3, id_text, after, srv_i64(c, size + 1));
    if (r == NULL)
        return c->code;
    Concord__V1__ListTierHistoryResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_tier_history_response__init(resp);
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->changes = arena_alloc(c->arena, sizeof(*resp->changes) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->changes[i] = srv_tier_change_from_row(c, r, i);
    resp->n_changes = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size)
        resp->next_page_token = (char *)srv_page_token_encode(c, PQgetvalue(r, shown - 1, 0));
    *out = &resp->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"CreateTierRule", create_tier_rule, SRV_WRITE | SRV_ADMIN},
    {"UpdateTierRule", update_tier_rule, SRV_WRITE | SRV_ADMIN},
    {"ListTierRules", list_tier_rules, 0},
    {"EvaluateTiers", evaluate_tiers, SRV_WRITE},
    {"ListTierProposals", list_tier_proposals, 0},
    {"DecideTierProposal", decide_tier_proposal, SRV_WRITE},
    {"OverrideTier", override_tier, SRV_WRITE},
    {"ListTierHistory", list_tier_history, 0},
    {NULL, NULL, 0},
};

const srv_service srv_tier_service = {&concord__v1__tier_service__descriptor, methods};
