/*
 * account_service.c - concord.v1.AccountService: the accounts every
 * department works.
 *
 * Visibility is row-level security's job (policy accounts_visible): a row the
 * caller may not see simply is not found, so GetAccount answers NOT_FOUND
 * without revealing that it exists, and lists leave it out.
 *
 * Updates read the row FOR UPDATE, check the version, merge the fields named
 * in the mask into the stored account, validate the result and write every
 * updatable column from it, so one UPDATE statement serves every mask.
 */
#include "access.h"
#include "call.h"
#include "concord/v1/account.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TAG_SEP "\x1f" /* separates tags in one SQL parameter (string_to_array) */

#define ACCOUNT_COLS                                                                               \
    "a.id, a.name, a.legal_name, a.industry, a.region, a.size_class, a.selling_mode,"              \
    " a.business_model, a.parent_id, a.website, array_to_string(a.tags, E'\\x1f'), a.notes,"       \
    " a.owner_id, a.tier, a.stage, a.archived_at IS NOT NULL, a.version,"                          \
    " extract(epoch from a.created_at)::text, extract(epoch from a.updated_at)::text,"             \
    " a.name_key, a.created_at::text, a.updated_at::text, a.icp_total, a.merged_into_id"

/* Columns after the account's own fields, used for page tokens. */
enum {
    COL_SORT_NAME = 19,
    COL_SORT_CREATED = 20,
    COL_SORT_UPDATED = 21,
    COL_ICP_TOTAL = 22,
    COL_MERGED_INTO = 23
};

static Concord__V1__Account *account_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__Account *a = arena_alloc(c->arena, sizeof(*a));
    concord__v1__account__init(a);
    a->id = PQgetvalue(r, row, 0);
    a->name = PQgetvalue(r, row, 1);
    a->legal_name = PQgetvalue(r, row, 2);
    a->industry = PQgetvalue(r, row, 3);
    a->region = PQgetvalue(r, row, 4);
    a->size_class = srv_enum_from_db(&concord__v1__size_class__descriptor, PQgetvalue(r, row, 5));
    a->selling_mode =
        srv_enum_from_db(&concord__v1__selling_mode__descriptor, PQgetvalue(r, row, 6));
    a->business_model =
        srv_enum_from_db(&concord__v1__business_model__descriptor, PQgetvalue(r, row, 7));
    a->parent_id = PQgetvalue(r, row, 8);
    a->website = PQgetvalue(r, row, 9);
    const char *tags = PQgetvalue(r, row, 10);
    if (*tags) {
        size_t n = 1;
        for (const char *p = tags; *p; p++)
            n += *p == TAG_SEP[0];
        a->tags = arena_alloc(c->arena, n * sizeof(char *));
        char *copy = arena_strdup(c->arena, tags);
        for (char *p = copy;;) {
            a->tags[a->n_tags++] = p;
            char *sep = strchr(p, TAG_SEP[0]);
            if (sep == NULL)
                break;
            *sep = '\0';
            p = sep + 1;
        }
    }
    a->notes = PQgetvalue(r, row, 11);
    a->owner_id = PQgetvalue(r, row, 12);
    a->tier = srv_enum_from_db(&concord__v1__tier__descriptor, PQgetvalue(r, row, 13));
    a->stage = srv_enum_from_db(&concord__v1__lifecycle_stage__descriptor, PQgetvalue(r, row, 14));
    a->archived = PQgetvalue(r, row, 15)[0] == 't';
    a->version = strtoll(PQgetvalue(r, row, 16), NULL, 10);
    a->create_time = srv_ts(c, PQgetvalue(r, row, 17));
    a->update_time = srv_ts(c, PQgetvalue(r, row, 18));
    a->icp_total = atoi(PQgetvalue(r, row, COL_ICP_TOTAL));
    a->merged_into_id = PQgetvalue(r, row, COL_MERGED_INTO);
    return a;
}

/* Fills a->icp_scores (only single-account reads carry them; lists show the total). */
static int load_icp_scores(srv_call *c, Concord__V1__Account *a)
{
    static const char sql[] =
        "SELECT criterion, score, note, scored_by, extract(epoch from scored_at)::text"
        "  FROM icp_scores WHERE account_id = $1 ORDER BY criterion";
    PGresult *r = srv_sql(c, sql, 1, a->id);
    if (r == NULL)
        return c->code;
    int n = PQntuples(r);
    a->icp_scores = arena_alloc(c->arena, sizeof(*a->icp_scores) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        Concord__V1__IcpScore *sc = arena_alloc(c->arena, sizeof(*sc));
        concord__v1__icp_score__init(sc);
        sc->criterion =
            srv_enum_from_db(&concord__v1__icp_criterion__descriptor, PQgetvalue(r, i, 0));
        sc->score = atoi(PQgetvalue(r, i, 1));
        sc->note = PQgetvalue(r, i, 2);
        sc->scored_by_id = PQgetvalue(r, i, 3);
        sc->score_time = srv_ts(c, PQgetvalue(r, i, 4));
        a->icp_scores[i] = sc;
    }
    a->n_icp_scores = (size_t)n;
    return CC_OK;
}

static int has_control_chars(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 && *s != '\n' && *s != '\t' && *s != '\r')
            return 1;
    return 0;
}

static void check_text(srv_call *c, const char *field, const char *v, size_t max, int required)
{
    size_t n = v ? strlen(v) : 0;
    if (required && n == 0)
        srv_violation(c, field, "must not be empty");
    else if (n > max)
        srv_violation(c, field, "must be at most %zu characters", max);
    else if (n && has_control_chars(v))
        srv_violation(c, field, "must not contain control characters");
}

/* Validates the user-settable fields of an account; prefix is "account." */
static void check_account(srv_call *c, const Concord__V1__Account *a)
{
    check_text(c, "account.name", a->name, 200, 1);
    check_text(c, "account.legal_name", a->legal_name, 300, 0);
    check_text(c, "account.industry", a->industry, 100, 0);
    check_text(c, "account.region", a->region, 100, 0);
    check_text(c, "account.website", a->website, 500, 0);
    if (a->notes && strlen(a->notes) > 20000)
        srv_violation(c, "account.notes", "must be at most 20000 characters");
    if (!srv_enum_valid(&concord__v1__size_class__descriptor, a->size_class))
        srv_violation(c, "account.size_class", "is not a size class");
    if (!srv_enum_valid(&concord__v1__selling_mode__descriptor, a->selling_mode))
        srv_violation(c, "account.selling_mode", "is not a selling mode");
    if (!srv_enum_valid(&concord__v1__business_model__descriptor, a->business_model))
        srv_violation(c, "account.business_model", "is not a business model");
    if (a->n_tags > 50)
        srv_violation(c, "account.tags", "at most 50 tags");
    for (size_t i = 0; i < a->n_tags; i++) {
        char field[48];
        snprintf(field, sizeof(field), "account.tags[%zu]", i);
        check_text(c, field, a->tags[i], 50, 1);
    }
    if (a->parent_id && *a->parent_id)
        srv_parse_id(c, "account.parent_id", a->parent_id);
    if (a->owner_id && *a->owner_id)
        srv_parse_id(c, "account.owner_id", a->owner_id);
    if (a->parent_id && a->id && *a->parent_id && strcmp(a->parent_id, a->id) == 0)
        srv_violation(c, "account.parent_id", "an account cannot be its own parent");
}

static const char *join_tags(srv_call *c, const Concord__V1__Account *a)
{
    size_t len = 1;
    for (size_t i = 0; i < a->n_tags; i++)
        len += strlen(a->tags[i]) + 1;
    char *s = arena_alloc(c->arena, len);
    s[0] = '\0';
    char *p = s;
    for (size_t i = 0; i < a->n_tags; i++) {
        if (i)
            *p++ = TAG_SEP[0];
        size_t n = strlen(a->tags[i]);
        memcpy(p, a->tags[i], n);
        p += n;
        *p = '\0';
    }
    return s;
}

static const char *empty_null(const char *s)
{
    return (s && *s) ? s : NULL;
}

/* The parameters $2..$13 shared by INSERT and UPDATE, in column order. */
#define ACCOUNT_PARAMS 12
static void account_params(srv_call *c, const Concord__V1__Account *a, const char **p)
{
    p[0] = a->name;
    p[1] = a->legal_name ? a->legal_name : "";
    p[2] = a->industry ? a->industry : "";
    p[3] = a->region ? a->region : "";
    p[4] = srv_enum_to_db(c, &concord__v1__size_class__descriptor, a->size_class);
    p[5] = srv_enum_to_db(c, &concord__v1__selling_mode__descriptor, a->selling_mode);
    p[6] = srv_enum_to_db(c, &concord__v1__business_model__descriptor, a->business_model);
    p[7] = empty_null(a->parent_id);
    p[8] = a->website ? a->website : "";
    p[9] = join_tags(c, a);
    p[10] = a->notes ? a->notes : "";
    p[11] = empty_null(a->owner_id) ? a->owner_id : c->user.id_text;
}

/* A missing parent or owner (foreign key) is the caller's mistake: name the field. */
static int explain_fk(srv_call *c)
{
    if (c->code != CC_FAILED_PRECONDITION || c->message == NULL)
        return c->code;
    const char *field = strstr(c->message, "parent") ? "account.parent_id" : "account.owner_id";
    c->code = CC_OK;
    srv_violation(c, field, "does not name an existing record");
    return srv_check(c);
}

/* Names at least this similar (trigram similarity of the lower-case names) count as
 * possible duplicates. */
#define SIMILAR_NAME_TEXT "0.5"

static PGresult *similar_names(srv_call *c, const char *name, int limit)
{
    /* Candidates come from the search table (trigram index); the join then
     * keeps only accounts the caller may see. */
    static const char sql[] =
        "SELECT a.id, a.name, s.similarity FROM similar_account_names($1, $2::real, 200) s"
        " JOIN accounts a ON a.id = s.account_id WHERE a.archived_at IS NULL"
        " ORDER BY s.similarity DESC, a.id LIMIT $3";
    return srv_sql(c, sql, 3, name, SIMILAR_NAME_TEXT, srv_i64(c, limit));
}

static int refuse_similar(srv_call *c, const char *name)
{
    PGresult *r = similar_names(c, name, 5);
    if (r == NULL)
        return c->code;
    int n = PQntuples(r);
    if (n == 0)
        return CC_OK;
    char list[600] = "";
    size_t len = 0;
    for (int i = 0; i < n && len < sizeof(list) - 1; i++)
        len += (size_t)snprintf(list + len, sizeof(list) - len, "%s\"%s\" (id %s)", i ? ", " : "",
                                PQgetvalue(r, i, 1), PQgetvalue(r, i, 0));
    return srv_fail(c, CC_FAILED_PRECONDITION,
                    "accounts with similar names exist: %s; set allow_similar_name to create it "
                    "anyway",
                    list);
}

static int create_account(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateAccountRequest *req = (const void *)in;
    static const char sql[] =
        "WITH a AS (INSERT INTO accounts (name, legal_name, industry, region, size_class,"
        "   selling_mode, business_model, parent_id, website, tags, notes, owner_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, string_to_array($10, E'\\x1f'), $11, $12)"
        " RETURNING *) SELECT " ACCOUNT_COLS " FROM a";
    if (req->account == NULL) {
        srv_violation(c, "account", "is required");
        return srv_check(c);
    }
    check_account(c, req->account);
    if (srv_check(c) != CC_OK)
        return c->code;
    if (!req->allow_similar_name && refuse_similar(c, req->account->name) != CC_OK)
        return c->code;
    const char *p[ACCOUNT_PARAMS];
    account_params(c, req->account, p);
    PGresult *r = srv_sqlv(c, sql, ACCOUNT_PARAMS, p);
    if (r == NULL)
        return explain_fk(c);
    Concord__V1__Account *a = account_from_row(c, r, 0);
    if (srv_audit(c, "create_account", "account", a->id, NULL, &a->base) != CC_OK)
        return c->code;
    *out = &a->base;
    return CC_OK;
}

/* Reads one visible account, optionally locking it; NULL after NOT_FOUND. */
static Concord__V1__Account *load_account(srv_call *c, const char *field, const char *id_text,
                                          int for_update, PGresult **row)
{
    static const char get[] = "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.id = $1";
    static const char lock[] =
        "SELECT " ACCOUNT_COLS " FROM accounts a WHERE a.id = $1 FOR NO KEY UPDATE";
    int64_t id = srv_parse_id(c, field, id_text);
    if (srv_check(c) != CC_OK)
        return NULL;
    PGresult *r = srv_sql(c, for_update ? lock : get, 1, srv_i64(c, id));
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "account %s not found", id_text);
        return NULL;
    }
    if (row)
        *row = r;
    return account_from_row(c, r, 0);
}

/* GetAccount is one statement: the account with its scores (one row per
 * score, or one row with NULL score columns). */
static int get_account_plan(srv_call *c, const ProtobufCMessage *in, srv_query *q)
{
    const Concord__V1__GetAccountRequest *req = (const void *)in;
    static const char sql[] = "SELECT " ACCOUNT_COLS ", s.criterion, s.score, s.note, s.scored_by,"
                              " extract(epoch from s.scored_at)::text"
                              " FROM accounts a LEFT JOIN icp_scores s ON s.account_id = a.id"
                              " WHERE a.id = $1 ORDER BY s.criterion";
    int64_t id = srv_parse_id(c, "id", req->id);
    if (srv_check(c) != CC_OK)
        return c->code;
    q->sql = sql;
    q->nparams = 1;
    q->params[0] = srv_i64(c, id);
    return CC_OK;
}

static int get_account_reply(srv_call *c, const ProtobufCMessage *in, PGresult *r,
                             ProtobufCMessage **out)
{
    const Concord__V1__GetAccountRequest *req = (const void *)in;
    int n = PQntuples(r);
    if (n == 0)
        return srv_fail(c, CC_NOT_FOUND, "account %s not found", req->id);
    Concord__V1__Account *a = account_from_row(c, r, 0);
    const int base = COL_MERGED_INTO + 1;
    a->icp_scores = arena_alloc(c->arena, sizeof(*a->icp_scores) * (size_t)n);
    for (int i = 0; i < n; i++) {
        if (PQgetisnull(r, i, base))
            continue;
        Concord__V1__IcpScore *sc = arena_alloc(c->arena, sizeof(*sc));
        concord__v1__icp_score__init(sc);
        sc->criterion =
            srv_enum_from_db(&concord__v1__icp_criterion__descriptor, PQgetvalue(r, i, base));
        sc->score = atoi(PQgetvalue(r, i, base + 1));
        sc->note = PQgetvalue(r, i, base + 2);
        sc->scored_by_id = PQgetvalue(r, i, base + 3);
        sc->score_time = srv_ts(c, PQgetvalue(r, i, base + 4));
        a->icp_scores[a->n_icp_scores++] = sc;
    }
    *out = &a->base;
    return CC_OK;
}

static const srv_query_method get_account_query = {get_account_plan, get_account_reply};

static int get_account(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    return srv_run_query(c, &get_account_query, in, out);
}

/* order_by values and their keyset columns. */
typedef struct {
    const char *name;
    const char *expr; /* SQL sort expression */
    const char *cast; /* type of the page-token key */
    int key_col;      /* result column holding the key */
} account_order;

static const account_order orders[] = {
    {"name", "a.name_key", "text", COL_SORT_NAME},
    {"create_time", "a.created_at", "timestamptz", COL_SORT_CREATED},
    {"update_time", "a.updated_at", "timestamptz", COL_SORT_UPDATED},
    {"id", "a.id", "bigint", 0},
};
#define ORDER_NAME (&orders[0])
#define ORDER_ID (&orders[3])

/*
 * A search page in name order or newest first. The search table yields
 * matching ids in the page's order after its position (search_account_page,
 * migration 0008, plans each call for its pattern); only those accounts are
 * read through the policy and the other filters, until the page is full. The
 * first batch asks for one page (plus the row that tells whether another
 * follows), which is all a caller who sees every match needs; each further
 * batch is four times larger, up to SEARCH_BATCH. A page's cost is thus
 * bounded by the matches it passes over, not by all matches. After
 * SEARCH_MAX_BATCHES a page ends shorter than page_size and its token
 * continues after its last row.
 */
#define SEARCH_BATCH 500
#define SEARCH_MAX_BATCHES 20

static int search_page(srv_call *c, Concord__V1__ListAccountsResponse *resp, int size,
                       int newest, const char *where, const char **params, int np,
                       const char *pat, const char *query, const char *tag, const char *after_id)
{
    static const char cand_sql[] =
        "SELECT search_account_page(lower($1), $2, $3, $4::bigint, $5::int, $6::boolean)";
    const char *sql = arena_printf(c->arena,
                                   "SELECT " ACCOUNT_COLS " FROM accounts a %s"
                                   " AND a.id = ANY($%d::bigint[])"
                                   " ORDER BY %s LIMIT $%d",
                                   where, np + 1, newest ? "a.id DESC" : "a.name_key, a.id",
                                   np + 2);
    const char **p = arena_alloc(c->arena, sizeof(char *) * (size_t)(np + 2));
    memcpy(p, params, sizeof(char *) * (size_t)np);
    resp->accounts = arena_alloc(c->arena, sizeof(*resp->accounts) * (size_t)size);
    const char *position = after_id;
    const char *last_key = NULL; /* sort key of the last row shown */
    int more = 1;                /* the search table may hold matches past position */
    int batch_rows = size + 1;
    for (int batch = 0; batch < SEARCH_MAX_BATCHES && more && (int)resp->n_accounts <= size;
         batch++) {
        PGresult *cand = srv_sql(c, cand_sql, 6, pat, query, tag, position,
                                 srv_i64(c, batch_rows), newest ? "true" : "false");
        if (cand == NULL)
            return c->code;
        int n_cand = PQntuples(cand);
        more = n_cand == batch_rows;
        if (n_cand == 0)
            break;
        srv_buf ids = {0};
        srv_buf_put(c, &ids, "{", 1);
        for (int i = 0; i < n_cand; i++) {
            if (i)
                srv_buf_put(c, &ids, ",", 1);
            srv_buf_put(c, &ids, PQgetvalue(cand, i, 0), (size_t)PQgetlength(cand, i, 0));
        }
        srv_buf_put(c, &ids, "}", 1);
        position = PQgetvalue(cand, n_cand - 1, 0);
        int want = size + 1 - (int)resp->n_accounts;
        p[np] = ids.data;
        p[np + 1] = srv_i64(c, want);
        PGresult *r = srv_sql_dynamic(c, sql, np + 2, p);
        if (r == NULL)
            return c->code;
        int rows = PQntuples(r);
        for (int i = 0; i < rows; i++) {
            if ((int)resp->n_accounts == size) {
                more = 1; /* a visible row beyond this page exists */
                break;
            }
            resp->accounts[resp->n_accounts++] = account_from_row(c, r, i);
            position = resp->accounts[resp->n_accounts - 1]->id;
            last_key = newest ? position : PQgetvalue(r, i, COL_SORT_NAME);
        }
        if ((int)resp->n_accounts == size && rows == want)
            break;
        batch_rows = batch_rows * 4 > SEARCH_BATCH ? SEARCH_BATCH : batch_rows * 4;
    }
    /* The token holds the last row shown (sort key and id), also after a page
     * cut short by the batch bound. */
    if (more && resp->n_accounts > 0)
        resp->next_page_token = (char *)srv_page_token_encode(
            c, arena_printf(c->arena, "%s" TAG_SEP "%s", last_key,
                            resp->accounts[resp->n_accounts - 1]->id));
    return CC_OK;
}

static int list_accounts(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListAccountsRequest *req = (const void *)in;
    int size = srv_page_size(c, "page_size", req->page_size);

    /* order_by: "name" | "create_time" | "update_time" | "id", optionally
     * " desc". A text query without one lists newest first ("id desc"): that
     * order finds a page of a common fragment's matches in bounded time at any
     * table size, where name order must pass over every match (migration 0008). */
    const account_order *ord = ORDER_NAME;
    int desc = 0;
    if (!(req->order_by && *req->order_by) && req->query && *req->query) {
        ord = ORDER_ID;
        desc = 1;
    }
    if (req->order_by && *req->order_by) {
        char field[32] = "";
        char dir[8] = "";
        int n = sscanf(req->order_by, "%31s %7s", field, dir);
        ord = NULL;
        for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++)
            if (strcmp(field, orders[i].name) == 0 ||
                (strcmp(field, "createTime") == 0 && i == 1) ||
                (strcmp(field, "updateTime") == 0 && i == 2))
                ord = &orders[i];
        if (n == 2 && strcmp(dir, "desc") == 0)
            desc = 1;
        else if (n == 2 && strcmp(dir, "asc") != 0)
            ord = NULL;
        if (ord == NULL)
            srv_violation(c, "order_by",
                          "must be name, create_time, update_time or id, "
                          "optionally followed by desc");
    }
    if (!srv_enum_valid(&concord__v1__tier__descriptor, req->tier))
        srv_violation(c, "tier", "is not a tier");
    if (!srv_enum_valid(&concord__v1__lifecycle_stage__descriptor, req->stage))
        srv_violation(c, "stage", "is not a lifecycle stage");
    if (!srv_enum_valid(&concord__v1__size_class__descriptor, req->size_class))
        srv_violation(c, "size_class", "is not a size class");
    if (!srv_enum_valid(&concord__v1__selling_mode__descriptor, req->selling_mode))
        srv_violation(c, "selling_mode", "is not a selling mode");
    if (req->owner_id && *req->owner_id)
        srv_parse_id(c, "owner_id", req->owner_id);
    if (req->parent_id && *req->parent_id)
        srv_parse_id(c, "parent_id", req->parent_id);
    if (!srv_enum_valid(&concord__v1__department__descriptor, req->department))
        srv_violation(c, "department", "is not a department");
    if (req->min_icp_total < 0 || req->min_icp_total > 25)
        srv_violation(c, "min_icp_total", "must be between 0 and 25");
    check_text(c, "query", req->query, 200, 0);
    check_text(c, "tag", req->tag, 50, 0);
    const char *key = srv_page_token_decode(c, "page_token", req->page_token);
    const char *after_key = NULL, *after_id = NULL;
    if (key != NULL) {
        const char *sep = strrchr(key, TAG_SEP[0]);
        if (sep == NULL || strspn(sep + 1, "0123456789") != strlen(sep + 1) || !sep[1])
            srv_violation(c, "page_token", "is not a page token from a previous response");
        else {
            after_key = arena_strndup(c->arena, key, (size_t)(sep - key));
            after_id = sep + 1;
        }
    }
    if (srv_check(c) != CC_OK)
        return c->code;

    /* Filters become "AND ..." clauses with numbered parameters. */
    const char *params[24];
    int np = 0;
    char where[2048] = "WHERE true";
    size_t wl = strlen(where);
#define ADD_FILTER(fmt, value)                                                                     \
    do {                                                                                           \
        params[np++] = (value);                                                                    \
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, fmt, np);                           \
    } while (0)
    /* Text and tag search go through the search table (see search_page). */
    const char *search_pat = NULL, *search_query = NULL, *search_tag = NULL;
    if (req->query && *req->query) {
        /* Wildcards in the text are matched literally. */
        size_t n = strlen(req->query);
        char *pat = arena_alloc(c->arena, 2 * n + 3);
        char *p = pat;
        *p++ = '%';
        for (const char *q = req->query; *q; q++) {
            if (*q == '%' || *q == '_' || *q == '\\')
                *p++ = '\\';
            *p++ = *q;
        }
        *p++ = '%';
        *p = '\0';
        search_pat = pat;
        search_query = req->query;
    }
    if (req->tag && *req->tag)
        search_tag = req->tag;
    if (req->department)
        ADD_FILTER(" AND (EXISTS (SELECT 1 FROM users u WHERE u.id = a.owner_id"
                   " AND u.department = $%1$d) OR EXISTS (SELECT 1 FROM account_team t"
                   " JOIN users u ON u.id = t.user_id WHERE t.account_id = a.id"
                   " AND u.department = $%1$d))",
                   srv_enum_to_db(c, &concord__v1__department__descriptor, req->department));
    if (req->min_icp_total > 0)
        ADD_FILTER(" AND a.icp_total >= $%d::int", srv_i64(c, req->min_icp_total));
    if (req->parent_id && *req->parent_id)
        ADD_FILTER(" AND a.parent_id = $%d::bigint", req->parent_id);
    if (req->tier)
        ADD_FILTER(" AND a.tier = $%d",
                   srv_enum_to_db(c, &concord__v1__tier__descriptor, req->tier));
    if (req->stage)
        ADD_FILTER(" AND a.stage = $%d",
                   srv_enum_to_db(c, &concord__v1__lifecycle_stage__descriptor, req->stage));
    if (req->owner_id && *req->owner_id)
        ADD_FILTER(" AND a.owner_id = $%d", req->owner_id);
    if (req->region && *req->region)
        ADD_FILTER(" AND a.region_key = lower($%d)", req->region);
    if (req->industry && *req->industry)
        ADD_FILTER(" AND a.industry_key = lower($%d)", req->industry);
    if (req->size_class)
        ADD_FILTER(" AND a.size_class = $%d",
                   srv_enum_to_db(c, &concord__v1__size_class__descriptor, req->size_class));
    if (req->selling_mode)
        ADD_FILTER(" AND a.selling_mode = $%d",
                   srv_enum_to_db(c, &concord__v1__selling_mode__descriptor, req->selling_mode));
    if (!req->include_archived)
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, " AND a.archived_at IS NULL");
    int n_filter = np;
    int search = search_pat != NULL || search_tag != NULL;
    /* Every match of a search, as a filter: for the total, and for orders the
     * search table does not page in (those sort every visible match). */
    char matches[160] = "";
    if (search) {
        params[np++] = search_pat;
        params[np++] = search_query;
        params[np++] = search_tag;
        snprintf(matches, sizeof(matches),
                 " AND a.id IN (SELECT search_account_page(lower($%d), $%d, $%d, NULL, NULL,"
                 " false))",
                 np - 2, np - 1, np);
    }

    Concord__V1__ListAccountsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_accounts_response__init(resp);
    *out = &resp->base;
    if (req->include_total) {
        const char *count_sql =
            arena_printf(c->arena, "SELECT count(*) FROM accounts a %s%s", where, matches);
        PGresult *r = srv_sql_dynamic(c, count_sql, np, params);
        if (r == NULL)
            return c->code;
        resp->total_size = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }
    if (search && ((ord == ORDER_NAME && !desc) || (ord == ORDER_ID && desc)))
        return search_page(c, resp, size, ord == ORDER_ID, where, params, n_filter, search_pat,
                           search_query, search_tag, after_id);
    wl += (size_t)snprintf(where + wl, sizeof(where) - wl, "%s", matches);

    char keyset[384] = "";
    if (after_key != NULL) {
        params[np++] = after_key;
        params[np++] = after_id;
        /* Spelled with plain comparisons (leakproof) so that the sort index
         * serves the page under row-level security; a row comparison would not. */
        const char *op = desc ? "<" : ">";
        snprintf(
            keyset, sizeof(keyset),
            " AND %1$s %2$s= $%3$d::%4$s AND (%1$s %2$s $%3$d::%4$s OR a.id %2$s $%5$d::bigint)",
            ord->expr, op, np - 1, ord->cast, np);
    }
    params[np++] = srv_i64(c, size + 1);
    const char *sql =
        arena_printf(c->arena,
                     "SELECT " ACCOUNT_COLS " FROM accounts a %s%s"
                     " ORDER BY %s %s, a.id %s LIMIT $%d",
                     where, keyset, ord->expr, desc ? "DESC" : "ASC", desc ? "DESC" : "ASC", np);
    PGresult *r = srv_sql_dynamic(c, sql, np, params);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->accounts = arena_alloc(c->arena, sizeof(*resp->accounts) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->accounts[i] = account_from_row(c, r, i);
    resp->n_accounts = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size) {
        const char *k =
            arena_printf(c->arena, "%s" TAG_SEP "%s", PQgetvalue(r, shown - 1, ord->key_col),
                         PQgetvalue(r, shown - 1, 0));
        resp->next_page_token = (char *)srv_page_token_encode(c, k);
    }
    *out = &resp->base;
    return CC_OK;
}

/* Fields a client may change, by proto name; everything else in a mask is refused. */
static int apply_path(Concord__V1__Account *dst, const Concord__V1__Account *src, const char *path)
{
    /* clang-format off */
#define COPY(f)                          \
    if (strcmp(path, #f) == 0) {         \
        dst->f = src->f;                 \
        return 0;                        \
    }
    COPY(name) COPY(legal_name) COPY(industry) COPY(region) COPY(size_class)
    COPY(selling_mode) COPY(business_model) COPY(parent_id) COPY(website) COPY(notes)
    COPY(owner_id)
#undef COPY
    /* clang-format on */
    if (strcmp(path, "tags") == 0) {
        dst->n_tags = src->n_tags;
        dst->tags = src->tags;
        return 0;
    }
    return -1;
}

static int update_account(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__UpdateAccountRequest *req = (const void *)in;
    static const char sql[] =
        "WITH a AS (UPDATE accounts SET name = $1, legal_name = $2, industry = $3, region = $4,"
        "   size_class = $5, selling_mode = $6, business_model = $7, parent_id = $8,"
        "   website = $9, tags = string_to_array($10, E'\\x1f'), notes = $11, owner_id = $12,"
        "   version = version + 1, updated_at = now()"
        " WHERE id = $13 RETURNING *) SELECT " ACCOUNT_COLS " FROM a";
    srv_check_update(c, "account", req->account, req->update_mask, req->version);
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account.id", req->account->id, SRV_ACCESS_EDIT, NULL) != CC_OK)
        return c->code;

    PGresult *row;
    Concord__V1__Account *before = load_account(c, "account.id", req->account->id, 1, &row);
    if (before == NULL)
        return c->code;
    if (before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "account %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    Concord__V1__Account *after = account_from_row(c, row, 0);
    for (size_t i = 0; i < req->update_mask->n_paths; i++) {
        const char *path = req->update_mask->paths[i];
        if (apply_path(after, req->account, path) != 0)
            srv_violation(c, "update_mask",
                          "\"%s\" cannot be changed here (server-owned or unknown field)", path);
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    check_account(c, after);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *p[ACCOUNT_PARAMS + 1];
    account_params(c, after, p);
    p[ACCOUNT_PARAMS] = before->id;
    PGresult *r = srv_sqlv(c, sql, ACCOUNT_PARAMS + 1, p);
    if (r == NULL)
        return explain_fk(c);
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "account %s not found", before->id);
    Concord__V1__Account *updated = account_from_row(c, r, 0);
    if (srv_audit(c, "update_account", "account", updated->id, &before->base, &updated->base) !=
        CC_OK)
        return c->code;
    *out = &updated->base;
    return CC_OK;
}

static int archive_account(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ArchiveAccountRequest *req = (const void *)in;
    static const char sql[] =
        "WITH a AS (UPDATE accounts SET archived_at = now(), version = version + 1,"
        " updated_at = now() WHERE id = $1 RETURNING *) SELECT " ACCOUNT_COLS " FROM a";
    if (req->version < 0)
        srv_violation(c, "version", "must not be negative");
    if (srv_account_access(c, "id", req->id, SRV_ACCESS_EDIT, NULL) != CC_OK)
        return c->code;
    Concord__V1__Account *before = load_account(c, "id", req->id, 1, NULL);
    if (before == NULL)
        return c->code;
    if (req->version != 0 && before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "account %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    if (before->archived) {
        *out = &before->base; /* archiving twice changes nothing */
        return CC_OK;
    }
    PGresult *r = srv_sql(c, sql, 1, before->id);
    if (r == NULL)
        return c->code;
    Concord__V1__Account *after = account_from_row(c, r, 0);
    if (srv_audit(c, "archive_account", "account", after->id, &before->base, &after->base) != CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

static int score_account_icp(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ScoreAccountIcpRequest *req = (const void *)in;
    static const char upsert[] =
        "INSERT INTO icp_scores (account_id, criterion, score, note, scored_by)"
        " VALUES ($1, $2, $3::int, $4, $5)"
        " ON CONFLICT (account_id, criterion) DO UPDATE SET score = excluded.score,"
        "   note = excluded.note, scored_by = excluded.scored_by, scored_at = now()";
    static const char total[] =
        "WITH a AS (UPDATE accounts SET icp_total = (SELECT coalesce(sum(score), 0)"
        "   FROM icp_scores WHERE account_id = $1), version = version + 1, updated_at = now()"
        " WHERE id = $1 RETURNING *) SELECT " ACCOUNT_COLS " FROM a";
    if (req->n_scores == 0)
        srv_violation(c, "scores", "must score at least one criterion");
    for (size_t i = 0; i < req->n_scores; i++) {
        const Concord__V1__IcpScore *sc = req->scores[i];
        char field[48];
        if (sc->criterion == 0 ||
            !srv_enum_valid(&concord__v1__icp_criterion__descriptor, sc->criterion)) {
            snprintf(field, sizeof(field), "scores[%zu].criterion", i);
            srv_violation(c, field, "must be one of the five criteria");
        }
        for (size_t j = 0; j < i; j++)
            if (req->scores[j]->criterion == sc->criterion) {
                snprintf(field, sizeof(field), "scores[%zu].criterion", i);
                srv_violation(c, field, "is scored twice in this request");
            }
        if (sc->score < 0 || sc->score > 5) {
            snprintf(field, sizeof(field), "scores[%zu].score", i);
            srv_violation(c, field, "must be between 0 and 5");
        }
        snprintf(field, sizeof(field), "scores[%zu].note", i);
        check_text(c, field, sc->note, 1000, 0);
    }
    int64_t id;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_EDIT, &id) != CC_OK)
        return c->code;
    Concord__V1__Account *before = load_account(c, "account_id", req->account_id, 1, NULL);
    if (before == NULL || load_icp_scores(c, before) != CC_OK)
        return c->code;
    for (size_t i = 0; i < req->n_scores; i++) {
        const Concord__V1__IcpScore *sc = req->scores[i];
        if (srv_sql(c, upsert, 5, before->id,
                    srv_enum_to_db(c, &concord__v1__icp_criterion__descriptor, sc->criterion),
                    srv_i64(c, sc->score), sc->note ? sc->note : "",
                    c->user.id ? c->user.id_text : NULL) == NULL)
            return c->code;
    }
    PGresult *r = srv_sql(c, total, 1, before->id);
    if (r == NULL)
        return c->code;
    Concord__V1__Account *after = account_from_row(c, r, 0);
    if (load_icp_scores(c, after) != CC_OK ||
        srv_audit(c, "score_account_icp", "account", after->id, &before->base, &after->base) !=
            CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

static int find_similar_accounts(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__FindSimilarAccountsRequest *req = (const void *)in;
    check_text(c, "name", req->name, 200, 1);
    if (req->limit < 0 || req->limit > 20)
        srv_violation(c, "limit", "must be between 1 and 20 (0 means 5)");
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r = similar_names(c, req->name, req->limit ? req->limit : 5);
    if (r == NULL)
        return c->code;
    Concord__V1__FindSimilarAccountsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__find_similar_accounts_response__init(resp);
    int n = PQntuples(r);
    resp->accounts = arena_alloc(c->arena, sizeof(*resp->accounts) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        Concord__V1__SimilarAccount *sa = arena_alloc(c->arena, sizeof(*sa));
        concord__v1__similar_account__init(sa);
        sa->id = PQgetvalue(r, i, 0);
        sa->name = PQgetvalue(r, i, 1);
        sa->similarity = strtod(PQgetvalue(r, i, 2), NULL);
        resp->accounts[i] = sa;
    }
    resp->n_accounts = (size_t)n;
    *out = &resp->base;
    return CC_OK;
}

/*
 * Every table whose rows belong to an account, for merging. Rows move from
 * the source to the target; where the target already has the same key
 * (a team member, a criterion score), the target's row is kept and the
 * source's dropped.
 */
typedef struct {
    const char *kind; /* key of MergeAccountsResponse.moved */
    const char *move; /* SQL with $1 source, $2 target; returns the rows moved */
} merge_step;

static const char merge_team[] =
    "WITH src AS (DELETE FROM account_team WHERE account_id = $1 RETURNING *),"
    " ins AS (INSERT INTO account_team (account_id, user_id, team_role, access_level, created_at)"
    "   SELECT $2, user_id, team_role, access_level, created_at FROM src"
    "   ON CONFLICT (account_id, user_id) DO NOTHING RETURNING 1)"
    " SELECT count(*) FROM ins";
static const char merge_icp[] =
    "WITH src AS (DELETE FROM icp_scores WHERE account_id = $1 RETURNING *),"
    " ins AS (INSERT INTO icp_scores (account_id, criterion, score, note, scored_by, scored_at)"
    "   SELECT $2, criterion, score, note, scored_by, scored_at FROM src"
    "   ON CONFLICT (account_id, criterion) DO NOTHING RETURNING 1)"
    " SELECT count(*) FROM ins";
static const char merge_children[] =
    "WITH m AS (UPDATE accounts SET parent_id = $2, version = version + 1, updated_at = now()"
    " WHERE parent_id = $1 AND id <> $2 RETURNING 1) SELECT count(*) FROM m";

static const merge_step merge_steps[] = {
    {"team_members", merge_team},
    {"icp_scores", merge_icp},
    {"child_accounts", merge_children},
};

static int merge_accounts(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__MergeAccountsRequest *req = (const void *)in;
    static const char archive[] =
        "UPDATE accounts SET archived_at = coalesce(archived_at, now()), merged_into_id = $2,"
        " parent_id = NULL, version = version + 1, updated_at = now() WHERE id = $1";
    static const char touch[] =
        "WITH a AS (UPDATE accounts SET icp_total = (SELECT coalesce(sum(score), 0)"
        "   FROM icp_scores WHERE account_id = $1), version = version + 1, updated_at = now()"
        " WHERE id = $1 RETURNING *) SELECT " ACCOUNT_COLS " FROM a";
    int64_t src_id, dst_id;
    if (srv_account_access(c, "source_id", req->source_id, SRV_ACCESS_EDIT, &src_id) != CC_OK ||
        srv_account_access(c, "target_id", req->target_id, SRV_ACCESS_EDIT, &dst_id) != CC_OK)
        return c->code;
    if (src_id == dst_id) {
        srv_violation(c, "target_id", "must differ from source_id");
        return srv_check(c);
    }
    /* Lock both in id order so that two crossing merges cannot deadlock. */
    Concord__V1__Account *first =
        load_account(c, "source_id", srv_i64(c, src_id < dst_id ? src_id : dst_id), 1, NULL);
    Concord__V1__Account *second =
        load_account(c, "target_id", srv_i64(c, src_id < dst_id ? dst_id : src_id), 1, NULL);
    if (first == NULL || second == NULL)
        return c->code;
    Concord__V1__Account *src = src_id < dst_id ? first : second;
    Concord__V1__Account *dst = src_id < dst_id ? second : first;
    if (src->merged_into_id && *src->merged_into_id)
        return srv_fail(c, CC_FAILED_PRECONDITION, "account %s was already merged into %s", src->id,
                        src->merged_into_id);
    if (dst->archived)
        return srv_fail(c, CC_FAILED_PRECONDITION, "account %s is archived: merge into a live one",
                        dst->id);
    if (req->source_version != 0 && src->version != req->source_version)
        return srv_fail(c, CC_ABORTED,
                        "account %s is at version %lld, not %lld: read it again and retry", src->id,
                        (long long)src->version, (long long)req->source_version);
    /* The target must not be a descendant of the source (that would make a cycle). */
    static const char cycle[] =
        "WITH RECURSIVE up AS (SELECT id, parent_id, 0 AS hops FROM accounts WHERE id = $2"
        " UNION ALL SELECT a.id, a.parent_id, up.hops + 1 FROM accounts a JOIN up"
        " ON a.id = up.parent_id WHERE up.hops < 100) SELECT 1 FROM up WHERE id = $1";
    PGresult *r = srv_sql(c, cycle, 2, src->id, dst->id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) > 0) {
        srv_violation(c, "target_id", "is a descendant of the source account");
        return srv_check(c);
    }

    Concord__V1__MergeAccountsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__merge_accounts_response__init(resp);
    size_t n_steps = sizeof(merge_steps) / sizeof(merge_steps[0]);
    resp->moved = arena_alloc(c->arena, sizeof(*resp->moved) * n_steps);
    for (size_t i = 0; i < n_steps; i++) {
        r = srv_sql(c, merge_steps[i].move, 2, src->id, dst->id);
        if (r == NULL)
            return c->code;
        Concord__V1__MergeAccountsResponse__MovedEntry *e = arena_alloc(c->arena, sizeof(*e));
        concord__v1__merge_accounts_response__moved_entry__init(e);
        e->key = (char *)merge_steps[i].kind;
        e->value = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        resp->moved[resp->n_moved++] = e;
    }
    if (srv_sql(c, archive, 2, src->id, dst->id) == NULL)
        return c->code;
    r = srv_sql(c, touch, 1, dst->id);
    if (r == NULL)
        return c->code;
    resp->target = account_from_row(c, r, 0);
    if (load_icp_scores(c, resp->target) != CC_OK)
        return c->code;
    /* Both accounts' audit trails record the merge; the source's history stays under its id. */
    if (srv_audit(c, "merge_account", "account", src->id, &src->base, &resp->base) != CC_OK ||
        srv_audit(c, "merge_account", "account", dst->id, &dst->base, &resp->base) != CC_OK)
        return c->code;
    *out = &resp->base;
    return CC_OK;
}

static int get_account_hierarchy(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetAccountHierarchyRequest *req = (const void *)in;
    /* The root is the highest ancestor the caller can see. */
    static const char root[] =
        "WITH RECURSIVE up AS (SELECT a.id, a.parent_id, 0 AS hops FROM accounts a WHERE a.id = $1"
        " UNION ALL SELECT a.id, a.parent_id, up.hops + 1 FROM accounts a JOIN up"
        " ON a.id = up.parent_id WHERE up.hops < 100)"
        " SELECT id FROM up ORDER BY hops DESC LIMIT 1";
    static const char tree[] =
        "WITH RECURSIVE down AS ("
        "  SELECT a.id, 0 AS depth, ARRAY[lower(a.name) || E'\\x1f' || a.id] AS path"
        "    FROM accounts a WHERE a.id = $1"
        "  UNION ALL SELECT a.id, d.depth + 1, d.path || (lower(a.name) || E'\\x1f' || a.id)"
        "    FROM accounts a JOIN down d ON a.parent_id = d.id WHERE d.depth < 100)"
        " SELECT " ACCOUNT_COLS ", d.depth FROM down d JOIN accounts a ON a.id = d.id"
        " ORDER BY d.path LIMIT 10001";
    static const char value[] =
        "SELECT c.currency, sum(c.annual_value_minor)::text FROM contracts c"
        " WHERE c.account_id = ANY(string_to_array($1, ',')::bigint[])"
        "   AND c.status = 'contract_active' AND c.start_date <= current_date"
        "   AND c.end_date >= current_date GROUP BY c.currency ORDER BY c.currency";
    static const char people[] =
        "SELECT count(*) FROM stakeholders s"
        " WHERE s.account_id = ANY(string_to_array($1, ',')::bigint[]) AND s.deleted_at IS NULL";
    if (srv_account_access(c, "id", req->id, SRV_ACCESS_READ, NULL) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, root, 1, req->id);
    if (r == NULL)
        return c->code;
    const char *root_id = PQgetvalue(r, 0, 0);
    r = srv_sql(c, tree, 1, root_id);
    if (r == NULL)
        return c->code;
    int n = PQntuples(r);
    if (n > 10000)
        return srv_fail(c, CC_RESOURCE_EXHAUSTED, "the group has more than 10000 accounts");
    Concord__V1__AccountHierarchy *h = arena_alloc(c->arena, sizeof(*h));
    concord__v1__account_hierarchy__init(h);
    h->nodes = arena_alloc(c->arena, sizeof(*h->nodes) * (size_t)n);
    srv_buf ids = {0};
    int depth_col = PQnfields(r) - 1;
    for (int i = 0; i < n; i++) {
        Concord__V1__HierarchyNode *node = arena_alloc(c->arena, sizeof(*node));
        concord__v1__hierarchy_node__init(node);
        node->account = account_from_row(c, r, i);
        node->depth = atoi(PQgetvalue(r, i, depth_col));
        h->nodes[h->n_nodes++] = node;
        if (i)
            srv_buf_put(c, &ids, ",", 1);
        srv_buf_put(c, &ids, node->account->id, strlen(node->account->id));
    }
    h->account_count = n;
    r = srv_sql(c, value, 1, ids.data);
    if (r == NULL)
        return c->code;
    int nv = PQntuples(r);
    h->annual_value = arena_alloc(c->arena, sizeof(*h->annual_value) * (size_t)(nv ? nv : 1));
    for (int i = 0; i < nv; i++) {
        Concord__V1__MoneyTotal *m = arena_alloc(c->arena, sizeof(*m));
        concord__v1__money_total__init(m);
        m->currency = PQgetvalue(r, i, 0);
        m->amount_minor = strtoll(PQgetvalue(r, i, 1), NULL, 10);
        h->annual_value[h->n_annual_value++] = m;
    }
    r = srv_sql(c, people, 1, ids.data);
    if (r == NULL)
        return c->code;
    h->stakeholder_count = atoi(PQgetvalue(r, 0, 0));
    *out = &h->base;
    return CC_OK;
}

#define BULK_MAX 10000

/* Appends s to an array literal as one element: quoted, with " and \ escaped; NULL unquoted. */
static void bulk_array_put(srv_call *c, srv_buf *b, const char *s)
{
    if (b->len > 1)
        srv_buf_put(c, b, ",", 1);
    if (s == NULL) {
        srv_buf_put(c, b, "NULL", 4);
        return;
    }
    srv_buf_put(c, b, "\"", 1);
    for (;;) {
        size_t n = strcspn(s, "\"\\");
        srv_buf_put(c, b, s, n);
        if (s[n] == '\0')
            break;
        srv_buf_put(c, b, "\\", 1);
        srv_buf_put(c, b, s + n, 1);
        s += n + 1;
    }
    srv_buf_put(c, b, "\"", 1);
}

/*
 * The rows travel as one array parameter per column and are unnested in
 * request order. This replaced COPY into a temporary table: creating and
 * dropping that table in every call churned the catalog and forced the
 * INSERT to be planned again each time (its table was new), about a fifth of
 * PostgreSQL's time per batch; the prepared INSERT now keeps its plan.
 */
static int bulk_create_accounts(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__BulkCreateAccountsRequest *req = (const void *)in;
    static const char insert[] =
        "INSERT INTO accounts (name, legal_name, industry, region, size_class, selling_mode,"
        "   business_model, parent_id, website, tags, notes, owner_id)"
        " SELECT t.name, t.legal_name, t.industry, t.region, t.size_class, t.selling_mode,"
        "   t.business_model, t.parent_id, t.website, string_to_array(t.tags, E'\\x1f'),"
        "   t.notes, t.owner_id"
        " FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],"
        "   $7::text[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[])"
        "   WITH ORDINALITY AS t(name, legal_name, industry, region, size_class, selling_mode,"
        "     business_model, parent_id, website, tags, notes, owner_id, ord)"
        " ORDER BY t.ord RETURNING id";
    if (req->n_accounts == 0)
        srv_violation(c, "accounts", "must hold at least one account");
    if (req->n_accounts > BULK_MAX)
        srv_violation(c, "accounts", "at most %d accounts per call", BULK_MAX);
    if (srv_check(c) != CC_OK)
        return c->code;
    /* Validate every row first: all or nothing, with each bad field named. */
    for (size_t i = 0; i < req->n_accounts && c->n_violations < 100; i++) {
        size_t before = c->n_violations;
        check_account(c, req->accounts[i]);
        for (size_t v = before; v < c->n_violations; v++)
            c->violations[v]->field = arena_printf(c->arena, "accounts[%zu].%s", i,
                                                   c->violations[v]->field + strlen("account."));
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    srv_buf cols[ACCOUNT_PARAMS] = {{0}};
    const char *p[ACCOUNT_PARAMS];
    for (int k = 0; k < ACCOUNT_PARAMS; k++)
        srv_buf_put(c, &cols[k], "{", 1);
    for (size_t i = 0; i < req->n_accounts; i++) {
        account_params(c, req->accounts[i], p);
        for (int k = 0; k < ACCOUNT_PARAMS; k++)
            bulk_array_put(c, &cols[k], p[k]);
    }
    for (int k = 0; k < ACCOUNT_PARAMS; k++) {
        srv_buf_put(c, &cols[k], "}", 1);
        p[k] = cols[k].data;
    }
    PGresult *r = srv_sqlv(c, insert, ACCOUNT_PARAMS, p);
    if (r == NULL)
        return explain_fk(c);
    Concord__V1__BulkCreateAccountsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__bulk_create_accounts_response__init(resp);
    int n = PQntuples(r);
    resp->created = n;
    resp->ids = arena_alloc(c->arena, sizeof(char *) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++)
        resp->ids[i] = PQgetvalue(r, i, 0);
    resp->n_ids = (size_t)n;
    const char *summary =
        arena_printf(c->arena, "{\"created\": %d, \"first_id\": \"%s\"}", n, n ? resp->ids[0] : "");
    static const char audit[] =
        "INSERT INTO audit_log (actor_id, source, action, target_type, target_id, after)"
        " VALUES ($1, $2, 'bulk_create_accounts', 'account', '', $3::jsonb)";
    if (srv_sql(c, audit, 3, c->user.id ? c->user.id_text : NULL, c->source, summary) == NULL)
        return c->code;
    *out = &resp->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"CreateAccount", create_account, SRV_WRITE},
    {"GetAccount", get_account, 0, &get_account_query},
    {"ListAccounts", list_accounts, 0},
    {"UpdateAccount", update_account, SRV_WRITE},
    {"ArchiveAccount", archive_account, SRV_WRITE},
    {"ScoreAccountIcp", score_account_icp, SRV_WRITE},
    {"FindSimilarAccounts", find_similar_accounts, 0},
    {"MergeAccounts", merge_accounts, SRV_WRITE},
    {"GetAccountHierarchy", get_account_hierarchy, 0},
    {"BulkCreateAccounts", bulk_create_accounts, SRV_WRITE},
    {NULL, NULL, 0},
};

const srv_service srv_account_service = {&concord__v1__account_service__descriptor, methods};
