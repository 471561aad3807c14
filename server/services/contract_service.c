/*
 * contract_service.c - concord.v1.ContractService: contracts, the lifecycle
 * computed from them, the recorded stage history, handovers from sales to
 * customer success, and renewals.
 *
 * Invariants:
 *   - accounts.stage holds the stage as of today (UTC) computed by
 *     lifecycle.c from the account's CONTRACT_ACTIVE contracts. Every call
 *     that changes a contract recomputes it in the same transaction (the
 *     account row locked first, so concurrent changes of one account queue),
 *     and the daily refresh catches the passing of time. A different stage
 *     bumps the account's version and appends a stage_changes row.
 *   - Contracts are never deleted: CancelContract keeps the row, and
 *     cancelled contracts are ignored by the lifecycle and by renewals.
 *   - Visibility follows the account: srv_account_access in every handler,
 *     and row-level security on contracts, stage_changes and handovers.
 *   - A handover's receiver joins the account team (read access) when it is
 *     written, so that they can read it; acknowledging it makes them the
 *     owner and the customer success manager (edit), and keeps the previous
 *     owner on the team as account owner (edit).
 *   - Ownership follows the stage back: when an account owned by a success
 *     user falls back to prospect or churned, the sales account owner on its
 *     team takes it back (owner_after).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "call.h"
#include "lifecycle.h"
#include "records.h"
#include "concord/v1/contract.pb-c.h"

#define SEP "\x1f" /* separates products in one SQL parameter and page-token parts */

/* Advisory lock key of the daily refresh: one concordd instance runs it. */
#define REFRESH_LOCK_KEY "7433000003"

/* ---- helpers --------------------------------------------------------------- */

static lc_day today_utc(void) { return lc_day_from_unix((int64_t)time(NULL)); }

/* Parses a calendar date field; records a violation naming field if bad. */
static int parse_day(srv_call *c, const char *field, const char *text, lc_day *out)
{
    if (text == NULL || *text == '\0') {
        srv_violation(c, field, "is required (YYYY-MM-DD)");
        return CC_EINVAL;
    }
    if (lc_day_parse(text, out) != 0) {
        srv_violation(c, field, "must be a calendar date YYYY-MM-DD between " LC_DAY_MIN_TEXT
                                " and " LC_DAY_MAX_TEXT);
        return CC_EINVAL;
    }
    return 0;
}

/* An optional as-of day: empty means today (UTC). */
static lc_day parse_as_of(srv_call *c, const char *field, const char *text)
{
    lc_day d = today_utc();
    if (text && *text && parse_day(c, field, text, &d) != 0)
        return today_utc();
    return d;
}

static size_t utf8_chars(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Text fields: at most max characters; control characters other than line
 * breaks and tabs are refused (allow_breaks 0 refuses those too). */
static void check_text(srv_call *c, const char *field, const char *v, size_t min, size_t max,
                       int allow_breaks)
{
    size_t n = v ? utf8_chars(v) : 0;
    if (n < min) {
        srv_violation(c, field, min == 1 ? "must not be empty" : "is too short");
        return;
    }
    if (n > max) {
        srv_violation(c, field, "must be at most %zu characters", max);
        return;
    }
    for (const char *p = v; p && *p; p++) {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 && !(allow_breaks && (ch == '\n' || ch == '\t' || ch == '\r'))) {
            srv_violation(c, field, "must not contain control characters");
            return;
        }
    }
}

/* Splits a page token's key "KEY<SEP>ID"; both NULL without a token. */
static void page_key(srv_call *c, const char *field, const char *token, const char **key,
                     const char **id)
{
    *key = *id = NULL;
    const char *k = srv_page_token_decode(c, field, token);
    if (k == NULL)
        return;
    const char *sep = strchr(k, SEP[0]);
    const char *digits = sep ? sep + 1 : k;
    if (*digits == '\0' || strspn(digits, "0123456789") != strlen(digits) ||
        strlen(digits) > 18) {
        srv_violation(c, field, "is not a page token from a previous response");
        return;
    }
    *key = sep ? arena_strndup(c->arena, k, (size_t)(sep - k)) : NULL;
    *id = digits;
}

/* ---- contracts ------------------------------------------------------------- */

/* Validates the user-settable fields of a contract (not the account id). */
static void check_contract(srv_call *c, const Concord__V1__Contract *k)
{
    lc_day start = 0, end = 0;
    int ok_start = parse_day(c, "contract.start_date", k->start_date, &start) == 0;
    int ok_end = parse_day(c, "contract.end_date", k->end_date, &end) == 0;
    if (ok_start && ok_end && end < start)
        srv_violation(c, "contract.end_date", "must not be before start_date (%s)",
                      k->start_date);
    if (k->annual_value_minor < 0)
        srv_violation(c, "contract.annual_value_minor", "must not be negative");
    const char *cur = k->currency ? k->currency : "";
    if (strlen(cur) != 3 || strspn(cur, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") != 3)
        srv_violation(c, "contract.currency",
                      "must be a three-letter ISO 4217 code in upper case, e.g. EUR");
    if (k->n_products > 50)
        srv_violation(c, "contract.products", "at most 50 products");
    for (size_t i = 0; i < k->n_products && i < 50; i++) {
        char field[48];
        snprintf(field, sizeof(field), "contract.products[%zu]", i);
        check_text(c, field, k->products[i], 1, 100, 0);
    }
}

static const char *join_products(srv_call *c, const Concord__V1__Contract *k)
{
    size_t len = 1;
    for (size_t i = 0; i < k->n_products; i++)
        len += strlen(k->products[i]) + 1;
    char *s = arena_alloc(c->arena, len);
    char *p = s;
    *p = '\0';
    for (size_t i = 0; i < k->n_products; i++) {
        size_t n = strlen(k->products[i]);
        if (i)
            *p++ = SEP[0];
        memcpy(p, k->products[i], n);
        p += n;
        *p = '\0';
    }
    return s;
}

/* The active contracts of an account as the lifecycle sees them (arena). */
static int load_active(srv_call *c, const char *account_id, lc_contract **out, size_t *n)
{
    static const char sql[] =
        "SELECT k.id, k.start_date::text, k.end_date::text FROM contracts k"
        " WHERE k.account_id = $1 AND k.status = 'contract_active'"
        " ORDER BY k.start_date, k.id";
    PGresult *r = srv_sql(c, sql, 1, account_id);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    lc_contract *cs = arena_alloc(c->arena, sizeof(*cs) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++) {
        cs[i].id = strtoll(PQgetvalue(r, i, 0), NULL, 10);
        if (srv_stored_day(c, PQgetvalue(r, i, 1), &cs[i].start) != CC_OK ||
            srv_stored_day(c, PQgetvalue(r, i, 2), &cs[i].end) != CC_OK)
            return c->code;
    }
    *out = cs;
    *n = (size_t)rows;
    return CC_OK;
}

static const lc_contract *find_contract(const lc_contract *cs, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (cs[i].id == id)
            return &cs[i];
    return NULL;
}

/* Why an account is in a stage, for the history: "contract 12 started 2026-01-15". */
static const char *stage_reason(srv_call *c, lc_stage stage, const lc_contract *by,
                                const char *trigger)
{
    const char *why = "no active contract";
    if (by) {
        long long id = (long long)by->id;
        switch (stage) {
        case LC_HANDOVER:
            why = arena_printf(c->arena, "contract %lld signed, starts %s", id,
                               srv_day_text(c, by->start));
            break;
        case LC_ONBOARDING:
            why =
                arena_printf(c->arena, "contract %lld started %s", id, srv_day_text(c, by->start));
            break;
        case LC_ADOPTION:
            why = arena_printf(c->arena, "contract %lld past its first two months (%s)", id,
                               srv_day_text(c, lc_adoption_start(by)));
            break;
        case LC_RENEWAL:
            why = arena_printf(c->arena, "contract %lld ends %s", id, srv_day_text(c, by->end));
            break;
        case LC_CHURNED:
            why = arena_printf(c->arena, "contract %lld ended %s without renewal", id,
                               srv_day_text(c, by->end));
            break;
        default:
            break;
        }
    }
    return arena_printf(c->arena, "%s (%s)", why, trigger);
}

static const char *stage_db(srv_call *c, lc_stage s)
{
    return srv_enum_to_db(c, &concord__v1__lifecycle_stage__descriptor, (int)s);
}

/* The timeline from the first contract (or from as_of when that is earlier). */
static lc_period *timeline_for(srv_call *c, const lc_contract *cs, size_t n, lc_day as_of,
                               size_t *count)
{
    lc_period *p = arena_alloc(c->arena, sizeof(*p) * lc_timeline_max(n));
    lc_day first = lc_first_start(cs, n, as_of);
    *count = lc_timeline(cs, n, first < as_of ? first : as_of, p);
    return p;
}

/* The part of an account an ownership change touches, for the audit row. */
static Concord__V1__Account *owner_view(srv_call *c, const char *account_id, const char *owner)
{
    Concord__V1__Account *a = arena_alloc(c->arena, sizeof(*a));
    concord__v1__account__init(a);
    a->id = (char *)account_id;
    a->owner_id = (char *)owner;
    return a;
}

/* Puts a user on the account team with edit access in a team role, or changes
 * the role and access of a member. */
static const char team_upsert_sql[] =
    "INSERT INTO account_team (account_id, user_id, team_role, access_level)"
    " VALUES ($1, $2, $3, 'edit') ON CONFLICT (account_id, user_id)"
    " DO UPDATE SET team_role = EXCLUDED.team_role, access_level = 'edit'";

/*
 * Ownership follows the stage: an account without a live subscription
 * (prospect, churned) is sales' again. When it falls back to one of those
 * stages while a success user owns it, the sales account owner on the team
 * (the latest to join, enabled) takes it back and the success owner stays on
 * the team as customer success manager. Returns the new owner or NULL.
 */
static const char *owner_after(srv_call *c, const char *account_id, const char *owner,
                               lc_stage stage)
{
    static const char sql[] =
        "SELECT t.user_id::text FROM account_team t JOIN users u ON u.id = t.user_id"
        " WHERE t.account_id = $1 AND t.team_role = 'account_owner'"
        "   AND u.department = 'sales' AND u.disabled_at IS NULL AND t.user_id <> $2"
        "   AND EXISTS (SELECT 1 FROM users o WHERE o.id = $2 AND o.department = 'success')"
        " ORDER BY t.created_at DESC, t.user_id DESC LIMIT 1";
    if (stage != LC_PROSPECT && stage != LC_CHURNED)
        return NULL;
    PGresult *r = srv_sql(c, sql, 2, account_id, owner);
    if (r == NULL || PQntuples(r) == 0)
        return NULL;
    return PQgetvalue(r, 0, 0);
}

/*
 * Recomputes an account's stage as of a day and, when it differs from
 * accounts.stage, stores it (version bumped), appends a stage_changes row and
 * audits it. The account row is locked first. *changed (optional) counts 1.
 */
static int apply_stage(srv_call *c, const char *account_id, lc_day as_of, const char *trigger,
                       int *changed)
{
    static const char lock_sql[] =
        "SELECT a.stage, a.owner_id FROM accounts a WHERE a.id = $1 FOR NO KEY UPDATE";
    static const char update_sql[] =
        "UPDATE accounts SET stage = $2, owner_id = coalesce($3::bigint, owner_id),"
        " version = version + 1, updated_at = now() WHERE id = $1";
    static const char insert_sql[] =
        "INSERT INTO stage_changes (account_id, from_stage, to_stage, effective_date, reason)"
        " VALUES ($1, $2, $3, $4::date, $5)"
        " RETURNING extract(epoch from recorded_at)::text";
    PGresult *r = srv_sql(c, lock_sql, 1, account_id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "account %s not found", account_id);
    int old = srv_enum_from_db(&concord__v1__lifecycle_stage__descriptor, PQgetvalue(r, 0, 0));
    const char *owner = PQgetvalue(r, 0, 1);

    lc_contract *cs = NULL;
    size_t n = 0;
    if (load_active(c, account_id, &cs, &n) != CC_OK)
        return c->code;
    int64_t by_id = 0;
    lc_stage stage = lc_stage_on(cs, n, as_of, &by_id);
    if ((int)stage == old)
        return CC_OK;

    /* It took effect on the first day of the stretch that contains as_of. */
    size_t np = 0;
    lc_period *p = timeline_for(c, cs, n, as_of, &np);
    lc_day effective = as_of;
    for (size_t i = 0; i < np; i++)
        if (p[i].start <= as_of && (p[i].open || as_of <= p[i].end))
            effective = p[i].start;

    Concord__V1__StageChange *sc = arena_alloc(c->arena, sizeof(*sc));
    concord__v1__stage_change__init(sc);
    sc->from_stage =
        old ? (Concord__V1__LifecycleStage)old : CONCORD__V1__LIFECYCLE_STAGE__PROSPECT;
    sc->to_stage = (Concord__V1__LifecycleStage)stage;
    sc->effective_date = (char *)srv_day_text(c, effective);
    sc->reason = (char *)stage_reason(c, stage, find_contract(cs, n, by_id), trigger);

    const char *new_owner = owner_after(c, account_id, owner, stage);
    if (c->code != CC_OK)
        return c->code;
    if (new_owner &&
        (srv_sql(c, team_upsert_sql, 3, account_id, owner, "customer_success_manager") == NULL ||
         srv_audit(c, "change_owner", "account", account_id,
                   &owner_view(c, account_id, owner)->base,
                   &owner_view(c, account_id, new_owner)->base) != CC_OK))
        return c->code;
    if (srv_sql(c, update_sql, 3, account_id, stage_db(c, stage), new_owner) == NULL)
        return c->code;
    r = srv_sql(c, insert_sql, 5, account_id, stage_db(c, (lc_stage)sc->from_stage),
                stage_db(c, stage), sc->effective_date, sc->reason);
    if (r == NULL)
        return c->code;
    sc->record_time = srv_ts(c, PQgetvalue(r, 0, 0));
    if (srv_audit(c, "change_stage", "account", account_id, NULL, &sc->base) != CC_OK)
        return c->code;
    if (changed)
        (*changed)++;
    return CC_OK;
}

/* Reads one visible contract, optionally locked; NULL after NOT_FOUND. */
static Concord__V1__Contract *load_contract(srv_call *c, const char *field, const char *id_text,
                                            int for_update)
{
    static const char get[] = "SELECT " SRV_CONTRACT_COLS " FROM contracts k WHERE k.id = $1";
    static const char lock[] =
        "SELECT " SRV_CONTRACT_COLS " FROM contracts k WHERE k.id = $1 FOR UPDATE";
    int64_t id = srv_parse_id(c, field, id_text);
    if (srv_check(c) != CC_OK)
        return NULL;
    PGresult *r = srv_sql(c, for_update ? lock : get, 1, srv_i64(c, id));
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "contract %s not found", id_text);
        return NULL;
    }
    return srv_contract_from_row(c, r, 0, 0);
}

static int create_contract(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateContractRequest *req = (const void *)in;
    static const char sql[] =
        "WITH k AS (INSERT INTO contracts (account_id, start_date, end_date, annual_value_minor,"
        "   currency, products, created_by)"
        " VALUES ($1, $2::date, $3::date, $4::bigint, $5, string_to_array($6, E'\\x1f'), $7)"
        " RETURNING *) SELECT " SRV_CONTRACT_COLS " FROM k";
    const Concord__V1__Contract *k = req->contract;
    if (k == NULL) {
        srv_violation(c, "contract", "is required");
        return srv_check(c);
    }
    srv_parse_id(c, "contract.account_id", k->account_id);
    check_contract(c, k);
    if (srv_check(c) != CC_OK)
        return c->code;
    int64_t account = 0;
    if (srv_account_access(c, "contract.account_id", k->account_id, SRV_ACCESS_EDIT, &account) !=
        CC_OK)
        return c->code;
    const char *account_id = srv_i64(c, account);
    const char *p[7] = {account_id,
                        k->start_date,
                        k->end_date,
                        srv_i64(c, k->annual_value_minor),
                        k->currency,
                        join_products(c, k),
                        c->user.id ? c->user.id_text : NULL};
    PGresult *r = srv_sqlv(c, sql, 7, p);
    if (r == NULL)
        return c->code;
    Concord__V1__Contract *created = srv_contract_from_row(c, r, 0, 0);
    const char *trigger = arena_printf(c->arena, "contract %s created", created->id);
    if (srv_audit(c, "create_contract", "contract", created->id, NULL, &created->base) != CC_OK ||
        apply_stage(c, account_id, today_utc(), trigger, NULL) != CC_OK)
        return c->code;
    *out = &created->base;
    return CC_OK;
}

static int get_contract(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetContractRequest *req = (const void *)in;
    Concord__V1__Contract *k = load_contract(c, "id", req->id, 0);
    if (k == NULL ||
        srv_record_access(c, "contract", k->id, k->account_id, SRV_ACCESS_READ) != CC_OK)
        return c->code;
    *out = &k->base;
    return CC_OK;
}

static int list_contracts(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListContractsRequest *req = (const void *)in;
    static const char sql[] =
        "SELECT " SRV_CONTRACT_COLS " FROM contracts k"
        " WHERE k.account_id = $1 AND ($2::boolean OR k.status = 'contract_active')"
        "   AND ($3::date IS NULL OR (k.start_date, k.id) < ($3::date, $4::bigint))"
        " ORDER BY k.start_date DESC, k.id DESC LIMIT $5";
    int size = srv_page_size(c, "page_size", req->page_size);
    const char *after_day, *after_id;
    page_key(c, "page_token", req->page_token, &after_day, &after_id);
    lc_day d;
    if (after_id && (after_day == NULL || lc_day_parse(after_day, &d) != 0))
        srv_violation(c, "page_token", "is not a page token from a previous response");
    int64_t account = 0;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, sql, 5, srv_i64(c, account), req->include_cancelled ? "t" : "f",
                          after_day, after_id, srv_i64(c, size + 1));
    if (r == NULL)
        return c->code;
    Concord__V1__ListContractsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_contracts_response__init(resp);
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->contracts = arena_alloc(c->arena, sizeof(*resp->contracts) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->contracts[i] = srv_contract_from_row(c, r, i, 0);
    resp->n_contracts = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size) {
        const Concord__V1__Contract *last = resp->contracts[shown - 1];
        resp->next_page_token = (char *)srv_page_token_encode(
            c, arena_printf(c->arena, "%s" SEP "%s", last->start_date, last->id));
    }
    *out = &resp->base;
    return CC_OK;
}

/* Fields a client may change, by proto name; everything else in a mask is refused. */
static int apply_path(Concord__V1__Contract *dst, const Concord__V1__Contract *src,
                      const char *path)
{
#define COPY(f)                  \
    if (strcmp(path, #f) == 0) { \
        dst->f = src->f;         \
        return 0;                \
    }
    COPY(start_date) COPY(end_date) COPY(annual_value_minor) COPY(currency)
#undef COPY
    if (strcmp(path, "products") == 0) {
        dst->n_products = src->n_products;
        dst->products = src->products;
        return 0;
    }
    return -1;
}

static int update_contract(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__UpdateContractRequest *req = (const void *)in;
    static const char sql[] =
        "WITH k AS (UPDATE contracts SET start_date = $2::date, end_date = $3::date,"
        "   annual_value_minor = $4::bigint, currency = $5,"
        "   products = string_to_array($6, E'\\x1f'), version = version + 1, updated_at = now()"
        " WHERE id = $1 RETURNING *) SELECT " SRV_CONTRACT_COLS " FROM k";
    srv_check_update(c, "contract", req->contract, req->update_mask, req->version);
    if (srv_check(c) != CC_OK)
        return c->code;
    Concord__V1__Contract *before = load_contract(c, "contract.id", req->contract->id, 0);
    if (before == NULL ||
        srv_account_access(c, "contract.account_id", before->account_id, SRV_ACCESS_EDIT,
                           NULL) != CC_OK ||
        (before = load_contract(c, "contract.id", req->contract->id, 1)) == NULL)
        return c->code;
    if (before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "contract %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    if (before->status == CONCORD__V1__CONTRACT_STATUS__CONTRACT_CANCELLED)
        return srv_fail(c, CC_FAILED_PRECONDITION,
                        "contract %s is cancelled: record a new contract instead", before->id);
    Concord__V1__Contract after = *before;
    for (size_t i = 0; i < req->update_mask->n_paths; i++) {
        const char *path = req->update_mask->paths[i];
        if (apply_path(&after, req->contract, path) != 0)
            srv_violation(c, "update_mask",
                          "\"%s\" cannot be changed here (server-owned or unknown field)", path);
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    check_contract(c, &after);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *p[6] = {before->id,     after.start_date, after.end_date,
                        srv_i64(c, after.annual_value_minor), after.currency,
                        join_products(c, &after)};
    PGresult *r = srv_sqlv(c, sql, 6, p);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "contract %s not found", before->id);
    Concord__V1__Contract *updated = srv_contract_from_row(c, r, 0, 0);
    const char *trigger = arena_printf(c->arena, "contract %s updated", updated->id);
    if (srv_audit(c, "update_contract", "contract", updated->id, &before->base,
                  &updated->base) != CC_OK ||
        apply_stage(c, updated->account_id, today_utc(), trigger, NULL) != CC_OK)
        return c->code;
    *out = &updated->base;
    return CC_OK;
}

static int cancel_contract(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CancelContractRequest *req = (const void *)in;
    static const char sql[] =
        "WITH k AS (UPDATE contracts SET status = 'contract_cancelled', version = version + 1,"
        "   updated_at = now() WHERE id = $1 RETURNING *) SELECT " SRV_CONTRACT_COLS " FROM k";
    if (req->version < 0)
        srv_violation(c, "version", "must not be negative");
    Concord__V1__Contract *before = load_contract(c, "id", req->id, 0);
    if (before == NULL ||
        srv_account_access(c, "id", before->account_id, SRV_ACCESS_EDIT, NULL) != CC_OK ||
        (before = load_contract(c, "id", req->id, 1)) == NULL)
        return c->code;
    if (req->version != 0 && before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "contract %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    if (before->status == CONCORD__V1__CONTRACT_STATUS__CONTRACT_CANCELLED) {
        *out = &before->base; /* cancelling twice changes nothing */
        return CC_OK;
    }
    PGresult *r = srv_sql(c, sql, 1, before->id);
    if (r == NULL)
        return c->code;
    Concord__V1__Contract *after = srv_contract_from_row(c, r, 0, 0);
    const char *trigger = arena_printf(c->arena, "contract %s cancelled", after->id);
    if (srv_audit(c, "cancel_contract", "contract", after->id, &before->base, &after->base) !=
            CC_OK ||
        apply_stage(c, after->account_id, today_utc(), trigger, NULL) != CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

/* ---- lifecycle ------------------------------------------------------------- */

static int get_lifecycle(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetLifecycleRequest *req = (const void *)in;
    static const char history_sql[] = "SELECT " SRV_STAGE_CHANGE_COLS
                                      " FROM stage_changes g WHERE g.account_id = $1 ORDER BY g.id";
    lc_day as_of = parse_as_of(c, "as_of", req->as_of);
    int64_t account = 0;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account) != CC_OK)
        return c->code;
    const char *account_id = srv_i64(c, account);
    lc_contract *cs = NULL;
    size_t n = 0;
    if (load_active(c, account_id, &cs, &n) != CC_OK)
        return c->code;

    Concord__V1__Lifecycle *lc = arena_alloc(c->arena, sizeof(*lc));
    concord__v1__lifecycle__init(lc);
    lc->account_id = (char *)account_id;
    lc->as_of = (char *)srv_day_text(c, as_of);
    lc->stage = (Concord__V1__LifecycleStage)lc_stage_on(cs, n, as_of, NULL);
    /* Without contracts the account is a prospect and the contracts imply no timeline. */
    if (n > 0) {
        size_t np = 0;
        lc_period *p = timeline_for(c, cs, n, as_of, &np);
        lc->timeline = arena_alloc(c->arena, sizeof(*lc->timeline) * np);
        for (size_t i = 0; i < np; i++) {
            Concord__V1__StagePeriod *sp = arena_alloc(c->arena, sizeof(*sp));
            concord__v1__stage_period__init(sp);
            sp->stage = (Concord__V1__LifecycleStage)p[i].stage;
            sp->start_date = (char *)srv_day_text(c, p[i].start);
            sp->end_date = p[i].open ? "" : (char *)srv_day_text(c, p[i].end);
            sp->contract_id = p[i].contract_id ? (char *)srv_i64(c, p[i].contract_id) : "";
            lc->timeline[i] = sp;
        }
        lc->n_timeline = np;
    }

    PGresult *r = srv_sql(c, history_sql, 1, account_id);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    lc->history = arena_alloc(c->arena, sizeof(*lc->history) * (size_t)(rows ? rows : 1));
    for (int i = 0; i < rows; i++)
        lc->history[i] = srv_stage_change_from_row(c, r, i);
    lc->n_history = (size_t)rows;
    *out = &lc->base;
    return CC_OK;
}

/*
 * Recomputes the stage as of a day of every account that has contracts (any
 * status: an account whose contracts were all cancelled returns to prospect).
 * One query reads every active contract; only accounts whose stored stage
 * differs are locked and written, by apply_stage.
 */
static int refresh_all(srv_call *c, lc_day as_of, const char *trigger, int *accounts,
                       int *changes)
{
    static const char sql[] =
        "SELECT a.id, a.stage, k.id, k.start_date::text, k.end_date::text"
        " FROM accounts a LEFT JOIN contracts k"
        "   ON k.account_id = a.id AND k.status = 'contract_active'"
        " WHERE EXISTS (SELECT 1 FROM contracts x WHERE x.account_id = a.id)"
        " ORDER BY a.id, k.start_date, k.id";
    PGresult *r = srv_sql(c, sql, 0);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    lc_contract *cs = arena_alloc(c->arena, sizeof(*cs) * (size_t)(rows ? rows : 1));
    *accounts = 0;
    *changes = 0;
    for (int i = 0; i < rows;) {
        const char *account_id = PQgetvalue(r, i, 0);
        int stored = srv_enum_from_db(&concord__v1__lifecycle_stage__descriptor,
                                      PQgetvalue(r, i, 1));
        size_t n = 0;
        int j = i;
        for (; j < rows && strcmp(PQgetvalue(r, j, 0), account_id) == 0; j++) {
            if (PQgetisnull(r, j, 2))
                continue; /* only cancelled contracts */
            cs[n].id = strtoll(PQgetvalue(r, j, 2), NULL, 10);
            if (srv_stored_day(c, PQgetvalue(r, j, 3), &cs[n].start) != CC_OK ||
                srv_stored_day(c, PQgetvalue(r, j, 4), &cs[n].end) != CC_OK)
                return c->code;
            n++;
        }
        (*accounts)++;
        if ((int)lc_stage_on(cs, n, as_of, NULL) != stored &&
            apply_stage(c, account_id, as_of, trigger, changes) != CC_OK)
            return c->code;
        i = j;
    }
    return CC_OK;
}

static int refresh_stages(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__RefreshStagesRequest *req = (const void *)in;
    lc_day as_of = parse_as_of(c, "as_of", req->as_of);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *trigger = arena_printf(c->arena, "stage refresh as of %s", srv_day_text(c, as_of));
    int accounts = 0, changes = 0;
    if (refresh_all(c, as_of, trigger, &accounts, &changes) != CC_OK)
        return c->code;
    Concord__V1__RefreshStagesResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__refresh_stages_response__init(resp);
    resp->accounts = accounts;
    resp->changes = changes;
    if (srv_audit(c, "refresh_stages", "lifecycle", srv_day_text(c, as_of), NULL, &resp->base) !=
        CC_OK)
        return c->code;
    *out = &resp->base;
    return CC_OK;
}

int contract_task_refresh_stages(srv_call *c)
{
    static const char lock_sql[] = "SELECT pg_try_advisory_xact_lock(" REFRESH_LOCK_KEY ")";
    static const char done_sql[] = "SELECT 1 FROM stage_refreshes WHERE day = $1::date";
    static const char mark_sql[] =
        "INSERT INTO stage_refreshes (day, accounts, changes) VALUES ($1::date, $2, $3)";
    PGresult *r = srv_sql(c, lock_sql, 0);
    if (r == NULL)
        return c->code;
    if (PQgetvalue(r, 0, 0)[0] != 't')
        return CC_OK; /* another instance is refreshing right now */
    lc_day today = today_utc();
    const char *day = srv_day_text(c, today);
    r = srv_sql(c, done_sql, 1, day);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) > 0)
        return CC_OK; /* already done today */
    int accounts = 0, changes = 0;
    if (refresh_all(c, today, "daily stage refresh", &accounts, &changes) != CC_OK)
        return c->code;
    if (srv_sql(c, mark_sql, 3, day, srv_i64(c, accounts), srv_i64(c, changes)) == NULL)
        return c->code;
    return CC_OK;
}

/* ---- renewals -------------------------------------------------------------- */

#define RENEWAL_ACCOUNT_COLS                                                            \
    "a.id, a.name, a.industry, a.region, a.owner_id, a.tier, a.stage, a.version"
enum { RENEWAL_ACCOUNT_NCOLS = 8 };

static int list_renewals(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListRenewalsRequest *req = (const void *)in;
    static const char sql[] =
        "SELECT " RENEWAL_ACCOUNT_COLS ", " SRV_CONTRACT_COLS ", (k.end_date - $1::date),"
        " EXISTS (SELECT 1 FROM contracts n WHERE n.account_id = k.account_id"
        "   AND n.status = 'contract_active' AND n.id <> k.id"
        "   AND n.start_date > k.start_date AND n.end_date > k.end_date)"
        " FROM contracts k JOIN accounts a ON a.id = k.account_id"
        " WHERE k.status = 'contract_active' AND a.archived_at IS NULL"
        "   AND k.end_date >= $1::date AND k.end_date <= $1::date + $2::int"
        "   AND ($3::date IS NULL OR (k.end_date, k.id) > ($3::date, $4::bigint))"
        " ORDER BY k.end_date, k.id LIMIT $5";
    int within = req->within_days == 0 ? 90 : req->within_days;
    if (within < 1 || within > 730)
        srv_violation(c, "within_days", "must be between 1 and 730 (default 90)");
    lc_day as_of = parse_as_of(c, "as_of", req->as_of);
    int size = srv_page_size(c, "page_size", req->page_size);
    const char *after_day, *after_id;
    page_key(c, "page_token", req->page_token, &after_day, &after_id);
    lc_day d;
    if (after_id && (after_day == NULL || lc_day_parse(after_day, &d) != 0))
        srv_violation(c, "page_token", "is not a page token from a previous response");
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, sql, 5, srv_day_text(c, as_of), srv_i64(c, within), after_day,
                          after_id, srv_i64(c, size + 1));
    if (r == NULL)
        return c->code;
    Concord__V1__ListRenewalsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_renewals_response__init(resp);
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->renewals = arena_alloc(c->arena, sizeof(*resp->renewals) * (size_t)(shown ? shown : 1));
    const int kc = RENEWAL_ACCOUNT_NCOLS;
    for (int i = 0; i < shown; i++) {
        Concord__V1__Renewal *rn = arena_alloc(c->arena, sizeof(*rn));
        concord__v1__renewal__init(rn);
        Concord__V1__Account *a = arena_alloc(c->arena, sizeof(*a));
        concord__v1__account__init(a);
        a->id = PQgetvalue(r, i, 0);
        a->name = PQgetvalue(r, i, 1);
        a->industry = PQgetvalue(r, i, 2);
        a->region = PQgetvalue(r, i, 3);
        a->owner_id = PQgetvalue(r, i, 4);
        a->tier = srv_enum_from_db(&concord__v1__tier__descriptor, PQgetvalue(r, i, 5));
        a->stage =
            srv_enum_from_db(&concord__v1__lifecycle_stage__descriptor, PQgetvalue(r, i, 6));
        a->version = strtoll(PQgetvalue(r, i, 7), NULL, 10);
        rn->account = a;
        rn->contract = srv_contract_from_row(c, r, i, kc);
        rn->days_left = atoi(PQgetvalue(r, i, kc + SRV_CONTRACT_NCOLS));
        rn->renewed = PQgetvalue(r, i, kc + SRV_CONTRACT_NCOLS + 1)[0] == 't';
        resp->renewals[i] = rn;
    }
    resp->n_renewals = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size) {
        const Concord__V1__Contract *last = resp->renewals[shown - 1]->contract;
        resp->next_page_token = (char *)srv_page_token_encode(
            c, arena_printf(c->arena, "%s" SEP "%s", last->end_date, last->id));
    }
    *out = &resp->base;
    return CC_OK;
}

/* ---- handovers ------------------------------------------------------------- */

#define HANDOVER_COLS                                                                        \
    "h.id, h.account_id, coalesce(h.contract_id::text, ''), h.from_user_id, h.to_user_id,"   \
    " h.commitments, h.stakeholders, h.risks, h.notes, extract(epoch from h.created_at)::text," \
    " extract(epoch from h.acknowledged_at)::text"

static Concord__V1__Handover *handover_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__Handover *h = arena_alloc(c->arena, sizeof(*h));
    concord__v1__handover__init(h);
    h->id = PQgetvalue(r, row, 0);
    h->account_id = PQgetvalue(r, row, 1);
    h->contract_id = PQgetvalue(r, row, 2);
    h->from_user_id = PQgetvalue(r, row, 3);
    h->to_user_id = PQgetvalue(r, row, 4);
    h->commitments = PQgetvalue(r, row, 5);
    h->stakeholders = PQgetvalue(r, row, 6);
    h->risks = PQgetvalue(r, row, 7);
    h->notes = PQgetvalue(r, row, 8);
    h->create_time = srv_ts(c, PQgetvalue(r, row, 9));
    h->acknowledge_time = srv_ts(c, PQgetvalue(r, row, 10));
    return h;
}

static Concord__V1__Handover *load_handover(srv_call *c, const char *id_text)
{
    static const char sql[] = "SELECT " HANDOVER_COLS " FROM handovers h WHERE h.id = $1";
    int64_t id = srv_parse_id(c, "id", id_text);
    if (srv_check(c) != CC_OK)
        return NULL;
    PGresult *r = srv_sql(c, sql, 1, srv_i64(c, id));
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "handover %s not found", id_text);
        return NULL;
    }
    return handover_from_row(c, r, 0);
}

static int create_handover(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateHandoverRequest *req = (const void *)in;
    static const char user_sql[] =
        "SELECT u.department, u.disabled_at IS NULL FROM users u WHERE u.id = $1";
    static const char contract_sql[] =
        "SELECT 1 FROM contracts k WHERE k.id = $1 AND k.account_id = $2";
    static const char insert_sql[] =
        "WITH h AS (INSERT INTO handovers (account_id, contract_id, from_user_id, to_user_id,"
        "   commitments, stakeholders, risks, notes)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING *) SELECT " HANDOVER_COLS " FROM h";
    /* The receiver must be able to read what is handed over before accepting it. */
    static const char team_sql[] =
        "INSERT INTO account_team (account_id, user_id, team_role, access_level)"
        " VALUES ($1, $2, 'customer_success_manager', 'read')"
        " ON CONFLICT (account_id, user_id) DO NOTHING";
    const Concord__V1__Handover *h = req->handover;
    if (h == NULL) {
        srv_violation(c, "handover", "is required");
        return srv_check(c);
    }
    srv_parse_id(c, "handover.account_id", h->account_id);
    int64_t to = srv_parse_id(c, "handover.to_user_id", h->to_user_id);
    int64_t contract = 0;
    if (h->contract_id && *h->contract_id)
        contract = srv_parse_id(c, "handover.contract_id", h->contract_id);
    check_text(c, "handover.commitments", h->commitments, 1, 20000, 1);
    check_text(c, "handover.stakeholders", h->stakeholders, 0, 20000, 1);
    check_text(c, "handover.risks", h->risks, 0, 20000, 1);
    check_text(c, "handover.notes", h->notes, 0, 20000, 1);
    if (srv_check(c) != CC_OK)
        return c->code;
    int64_t account = 0;
    if (srv_account_access(c, "handover.account_id", h->account_id, SRV_ACCESS_EDIT, &account) !=
        CC_OK)
        return c->code;
    const char *account_id = srv_i64(c, account);
    const char *to_id = srv_i64(c, to);

    PGresult *r = srv_sql(c, user_sql, 1, to_id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        srv_violation(c, "handover.to_user_id", "does not name a user");
    else if (strcmp(PQgetvalue(r, 0, 0), "success") != 0)
        srv_violation(c, "handover.to_user_id",
                      "must be a user of the customer success department");
    else if (PQgetvalue(r, 0, 1)[0] != 't')
        srv_violation(c, "handover.to_user_id", "names a disabled user");
    if (contract) {
        r = srv_sql(c, contract_sql, 2, srv_i64(c, contract), account_id);
        if (r == NULL)
            return c->code;
        if (PQntuples(r) == 0)
            srv_violation(c, "handover.contract_id", "is not a contract of account %s",
                          account_id);
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *p[8] = {account_id,
                        contract ? srv_i64(c, contract) : NULL,
                        c->user.id_text,
                        to_id,
                        h->commitments,
                        h->stakeholders ? h->stakeholders : "",
                        h->risks ? h->risks : "",
                        h->notes ? h->notes : ""};
    r = srv_sqlv(c, insert_sql, 8, p);
    if (r == NULL)
        return c->code;
    Concord__V1__Handover *created = handover_from_row(c, r, 0);
    if (srv_sql(c, team_sql, 2, account_id, to_id) == NULL ||
        srv_audit(c, "create_handover", "handover", created->id, NULL, &created->base) != CC_OK)
        return c->code;
    *out = &created->base;
    return CC_OK;
}

static int get_handover(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetHandoverRequest *req = (const void *)in;
    Concord__V1__Handover *h = load_handover(c, req->id);
    if (h == NULL ||
        srv_record_access(c, "handover", h->id, h->account_id, SRV_ACCESS_READ) != CC_OK)
        return c->code;
    *out = &h->base;
    return CC_OK;
}

static int list_handovers(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListHandoversRequest *req = (const void *)in;
    static const char by_account[] =
        "SELECT " HANDOVER_COLS " FROM handovers h WHERE h.account_id = $1"
        "   AND ($2::bigint IS NULL OR h.id < $2::bigint) ORDER BY h.id DESC LIMIT $3";
    static const char pending[] =
        "SELECT " HANDOVER_COLS " FROM handovers h"
        " WHERE h.to_user_id = $1 AND h.acknowledged_at IS NULL"
        "   AND ($2::bigint IS NULL OR h.id < $2::bigint) ORDER BY h.id DESC LIMIT $3";
    int size = srv_page_size(c, "page_size", req->page_size);
    const char *unused, *after_id;
    page_key(c, "page_token", req->page_token, &unused, &after_id);
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r;
    if (req->account_id && *req->account_id) {
        int64_t account = 0;
        if (srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account) !=
            CC_OK)
            return c->code;
        r = srv_sql(c, by_account, 3, srv_i64(c, account), after_id, srv_i64(c, size + 1));
    } else {
        r = srv_sql(c, pending, 3, c->user.id_text, after_id, srv_i64(c, size + 1));
    }
    if (r == NULL)
        return c->code;
    Concord__V1__ListHandoversResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_handovers_response__init(resp);
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->handovers = arena_alloc(c->arena, sizeof(*resp->handovers) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->handovers[i] = handover_from_row(c, r, i);
    resp->n_handovers = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size)
        resp->next_page_token =
            (char *)srv_page_token_encode(c, resp->handovers[shown - 1]->id);
    *out = &resp->base;
    return CC_OK;
}

static int acknowledge_handover(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__AcknowledgeHandoverRequest *req = (const void *)in;
    static const char ack_sql[] =
        "WITH h AS (UPDATE handovers SET acknowledged_at = now()"
        " WHERE id = $1 AND acknowledged_at IS NULL RETURNING *) SELECT " HANDOVER_COLS " FROM h";
    static const char lock_sql[] =
        "SELECT a.owner_id FROM accounts a WHERE a.id = $1 FOR NO KEY UPDATE";
    static const char owner_sql[] =
        "UPDATE accounts SET owner_id = $2, version = version + 1, updated_at = now()"
        " WHERE id = $1";
    Concord__V1__Handover *before = load_handover(c, req->id);
    if (before == NULL)
        return c->code;
    if (strcmp(before->to_user_id, c->user.id_text) != 0) {
        c->denied_type = "handover";
        c->denied_id = before->id;
        return srv_fail(c, CC_PERMISSION_DENIED,
                        "only the receiving user (%s) may acknowledge handover %s",
                        before->to_user_id, before->id);
    }
    if (before->acknowledge_time != NULL)
        return srv_fail(c, CC_FAILED_PRECONDITION, "handover %s was already acknowledged",
                        before->id);
    PGresult *r = srv_sql(c, ack_sql, 1, before->id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_FAILED_PRECONDITION, "handover %s was already acknowledged",
                        before->id);
    Concord__V1__Handover *after = handover_from_row(c, r, 0);

    /* The team rows first: they give the receiver the edit access the owner
     * change needs (row-level security checks it). */
    const char *account_id = before->account_id;
    if (srv_sql(c, team_upsert_sql, 3, account_id, c->user.id_text, "customer_success_manager") ==
        NULL)
        return c->code;
    r = srv_sql(c, lock_sql, 1, account_id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "account %s not found", account_id);
    const char *previous = PQgetvalue(r, 0, 0);
    if (strcmp(previous, c->user.id_text) != 0) {
        if (srv_sql(c, team_upsert_sql, 3, account_id, previous, "account_owner") == NULL ||
            srv_sql(c, owner_sql, 2, account_id, c->user.id_text) == NULL)
            return c->code;
        if (srv_audit(c, "change_owner", "account", account_id,
                      &owner_view(c, account_id, previous)->base,
                      &owner_view(c, account_id, c->user.id_text)->base) != CC_OK)
            return c->code;
    }
    if (srv_audit(c, "acknowledge_handover", "handover", after->id, &before->base,
                  &after->base) != CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"CreateContract", create_contract, SRV_WRITE},
    {"GetContract", get_contract, 0},
    {"ListContracts", list_contracts, 0},
    {"UpdateContract", update_contract, SRV_WRITE},
    {"CancelContract", cancel_contract, SRV_WRITE},
    {"GetLifecycle", get_lifecycle, 0},
    {"RefreshStages", refresh_stages, SRV_WRITE | SRV_ADMIN},
    {"ListRenewals", list_renewals, 0},
    {"CreateHandover", create_handover, SRV_WRITE},
    {"GetHandover", get_handover, 0},
    {"ListHandovers", list_handovers, 0},
    {"AcknowledgeHandover", acknowledge_handover, SRV_WRITE},
    {NULL, NULL, 0},
};

const srv_service srv_contract_service = {&concord__v1__contract_service__descriptor, methods};
