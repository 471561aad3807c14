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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "call.h"
#include "concord/v1/account.pb-c.h"

#define TAG_SEP "\x1f" /* separates tags in one SQL parameter (string_to_array) */

#define ACCOUNT_COLS                                                                         \
    "a.id, a.name, a.legal_name, a.industry, a.region, a.size_class, a.selling_mode,"        \
    " a.business_model, a.parent_id, a.website, array_to_string(a.tags, E'\\x1f'), a.notes," \
    " a.owner_id, a.tier, a.stage, a.archived_at IS NOT NULL, a.version,"                    \
    " extract(epoch from a.created_at)::text, extract(epoch from a.updated_at)::text,"       \
    " lower(a.name), a.created_at::text, a.updated_at::text"

/* Columns after the account's own fields, used for page tokens. */
enum { COL_SORT_NAME = 19, COL_SORT_CREATED = 20, COL_SORT_UPDATED = 21 };

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
        for (char *p = copy;; ) {
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
    return a;
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

static const char *empty_null(const char *s) { return (s && *s) ? s : NULL; }

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

static int get_account(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetAccountRequest *req = (const void *)in;
    Concord__V1__Account *a = load_account(c, "id", req->id, 0, NULL);
    if (a == NULL)
        return c->code;
    *out = &a->base;
    return CC_OK;
}

/* order_by values and their keyset columns. */
typedef struct {
    const char *name;
    const char *expr;     /* SQL sort expression */
    const char *cast;     /* type of the page-token key */
    int key_col;          /* result column holding the key */
} account_order;

static const account_order orders[] = {
    {"name", "lower(a.name)", "text", COL_SORT_NAME},
    {"create_time", "a.created_at", "timestamptz", COL_SORT_CREATED},
    {"update_time", "a.updated_at", "timestamptz", COL_SORT_UPDATED},
};

static int list_accounts(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListAccountsRequest *req = (const void *)in;
    int size = srv_page_size(c, "page_size", req->page_size);

    /* order_by: "name" | "create_time" | "update_time", optionally " desc". */
    const account_order *ord = &orders[0];
    int desc = 0;
    if (req->order_by && *req->order_by) {
        char field[32] = "";
        char dir[8] = "";
        int n = sscanf(req->order_by, "%31s %7s", field, dir);
        ord = NULL;
        for (size_t i = 0; i < sizeof(orders) / sizeof(orders[0]); i++)
            if (strcmp(field, orders[i].name) == 0 || (strcmp(field, "createTime") == 0 && i == 1) ||
                (strcmp(field, "updateTime") == 0 && i == 2))
                ord = &orders[i];
        if (n == 2 && strcmp(dir, "desc") == 0)
            desc = 1;
        else if (n == 2 && strcmp(dir, "asc") != 0)
            ord = NULL;
        if (ord == NULL)
            srv_violation(c, "order_by", "must be name, create_time or update_time, "
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
    check_text(c, "query", req->query, 200, 0);
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
    const char *params[16];
    int np = 0;
    char where[1024] = "WHERE true";
    size_t wl = strlen(where);
#define ADD_FILTER(fmt, value)                                                  \
    do {                                                                        \
        params[np++] = (value);                                                 \
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, fmt, np);        \
    } while (0)
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
        ADD_FILTER(" AND lower(a.name) LIKE lower($%d)", pat);
    }
    if (req->tier)
        ADD_FILTER(" AND a.tier = $%d", srv_enum_to_db(c, &concord__v1__tier__descriptor, req->tier));
    if (req->stage)
        ADD_FILTER(" AND a.stage = $%d",
                   srv_enum_to_db(c, &concord__v1__lifecycle_stage__descriptor, req->stage));
    if (req->owner_id && *req->owner_id)
        ADD_FILTER(" AND a.owner_id = $%d", req->owner_id);
    if (req->region && *req->region)
        ADD_FILTER(" AND a.region = $%d", req->region);
    if (req->industry && *req->industry)
        ADD_FILTER(" AND a.industry = $%d", req->industry);
    if (req->size_class)
        ADD_FILTER(" AND a.size_class = $%d",
                   srv_enum_to_db(c, &concord__v1__size_class__descriptor, req->size_class));
    if (req->selling_mode)
        ADD_FILTER(" AND a.selling_mode = $%d",
                   srv_enum_to_db(c, &concord__v1__selling_mode__descriptor, req->selling_mode));
    if (!req->include_archived)
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, " AND a.archived_at IS NULL");
    int n_filter = np;

    Concord__V1__ListAccountsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_accounts_response__init(resp);
    if (req->include_total) {
        const char *count_sql = arena_printf(c->arena, "SELECT count(*) FROM accounts a %s", where);
        PGresult *r = srv_sql_dynamic(c, count_sql, n_filter, params);
        if (r == NULL)
            return c->code;
        resp->total_size = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    }

    char keyset[256] = "";
    if (after_key != NULL) {
        params[np++] = after_key;
        params[np++] = after_id;
        snprintf(keyset, sizeof(keyset), " AND (%s, a.id) %s ($%d::%s, $%d::bigint)", ord->expr,
                 desc ? "<" : ">", np - 1, ord->cast, np);
    }
    params[np++] = srv_i64(c, size + 1);
    const char *sql = arena_printf(c->arena,
                                   "SELECT " ACCOUNT_COLS " FROM accounts a %s%s"
                                   " ORDER BY %s %s, a.id %s LIMIT $%d",
                                   where, keyset, ord->expr, desc ? "DESC" : "ASC",
                                   desc ? "DESC" : "ASC", np);
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
        const char *k = arena_printf(c->arena, "%s" TAG_SEP "%s",
                                     PQgetvalue(r, shown - 1, ord->key_col),
                                     PQgetvalue(r, shown - 1, 0));
        resp->next_page_token = (char *)srv_page_token_encode(c, k);
    }
    *out = &resp->base;
    return CC_OK;
}

/* Fields a client may change, by proto name; everything else in a mask is refused. */
static int apply_path(Concord__V1__Account *dst, const Concord__V1__Account *src, const char *path)
{
#define COPY(f)                         \
    if (strcmp(path, #f) == 0) {        \
        dst->f = src->f;                \
        return 0;                       \
    }
    COPY(name) COPY(legal_name) COPY(industry) COPY(region) COPY(size_class) COPY(selling_mode)
    COPY(business_model) COPY(parent_id) COPY(website) COPY(notes) COPY(owner_id)
#undef COPY
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
    if (req->account == NULL)
        srv_violation(c, "account", "is required");
    if (req->update_mask == NULL || req->update_mask->n_paths == 0)
        srv_violation(c, "update_mask", "must name the fields to change");
    if (req->version <= 0)
        srv_violation(c, "version", "must be the version you read (1 or more)");
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
    if (srv_audit(c, "archive_account", "account", after->id, &before->base, &after->base) !=
        CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"CreateAccount", create_account, SRV_WRITE},
    {"GetAccount", get_account, 0},
    {"ListAccounts", list_accounts, 0},
    {"UpdateAccount", update_account, SRV_WRITE},
    {"ArchiveAccount", archive_account, SRV_WRITE},
    {NULL, NULL, 0},
};

const srv_service srv_account_service = {&concord__v1__account_service__descriptor, methods};
