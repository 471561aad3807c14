/*
 * stakeholder_service.c - concord.v1.StakeholderService: the customer's
 * people, their relationship map, and the coverage view (customer levels x
 * our departments).
 *
 * Invariants:
 *  - Visibility follows the account (row-level security on stakeholders);
 *    a stakeholder of an account the caller cannot see is NOT_FOUND, and
 *    changes need edit access to the account (PERMISSION_DENIED otherwise).
 *  - reports_to_id names a live stakeholder of the same account and never
 *    closes a cycle: updates that change it take a per-account advisory lock
 *    so that two concurrent changes cannot build a cycle between them.
 *  - Deleting is soft (deleted_at): activities keep their links, while lists,
 *    Get and coverage no longer show the person, and links of people who
 *    reported to them are cleared.
 *  - last_contact_time is computed on read: the latest activity with the
 *    stakeholder that is not in the future (activity_stakeholders carries the
 *    activity's time and is indexed by stakeholder and time).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "call.h"
#include "concord/v1/stakeholder.pb-c.h"

#define KEY_SEP "\x1f" /* separates the parts of a page-token key */

#define STAKEHOLDER_COLS                                                                           \
    "s.id, s.account_id, s.name, s.title, s.level, s.department, s.role, s.attitude,"              \
    " s.influence, coalesce(s.reports_to_id::text, ''), s.email, s.phone,"                         \
    " extract(epoch from (SELECT max(x.occur_time) FROM activity_stakeholders x"                   \
    "   WHERE x.stakeholder_id = s.id AND x.occur_time <= now()))::text,"                          \
    " s.notes, s.version, extract(epoch from s.created_at)::text, s.level_rank, lower(s.name)"

/* Columns after the stakeholder's own fields, for page tokens. */
enum { COL_RANK = 16, COL_SORT_NAME = 17 };

/* Coverage windows, in days. */
enum { COVERAGE_DEFAULT_DAYS = 180, COVERAGE_MAX_DAYS = 3650 };

static const char *const level_names[] = {"executive", "director", "staff"};

static Concord__V1__Stakeholder *stakeholder_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__Stakeholder *s = arena_alloc(c->arena, sizeof(*s));
    concord__v1__stakeholder__init(s);
    s->id = PQgetvalue(r, row, 0);
    s->account_id = PQgetvalue(r, row, 1);
    s->name = PQgetvalue(r, row, 2);
    s->title = PQgetvalue(r, row, 3);
    s->level = srv_enum_from_db(&concord__v1__stakeholder_level__descriptor, PQgetvalue(r, row, 4));
    s->department = PQgetvalue(r, row, 5);
    s->role = PQgetvalue(r, row, 6);
    s->attitude = srv_enum_from_db(&concord__v1__attitude__descriptor, PQgetvalue(r, row, 7));
    s->influence = atoi(PQgetvalue(r, row, 8));
    s->reports_to_id = PQgetvalue(r, row, 9);
    s->email = PQgetvalue(r, row, 10);
    s->phone = PQgetvalue(r, row, 11);
    s->last_contact_time = srv_ts(c, PQgetvalue(r, row, 12));
    s->notes = PQgetvalue(r, row, 13);
    s->version = strtoll(PQgetvalue(r, row, 14), NULL, 10);
    s->create_time = srv_ts(c, PQgetvalue(r, row, 15));
    return s;
}

static int has_control_chars(const char *s, int allow_newlines)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == 0x7f ||
            (ch < 0x20 && !(allow_newlines && (ch == '\n' || ch == '\t' || ch == '\r'))))
            return 1;
    }
    return 0;
}

static void check_text(srv_call *c, const char *field, const char *v, size_t max, int required)
{
    size_t n = v ? strlen(v) : 0;
    if (required && n == 0)
        srv_violation(c, field, "must not be empty");
    else if (n > max)
        srv_violation(c, field, "must be at most %zu characters", max);
    else if (n && has_control_chars(v, 0))
        srv_violation(c, field, "must not contain control characters");
}

/*
 * An address is accepted when it has the shape local@domain.tld: one '@', no
 * spaces, a dot inside the domain. Whether it delivers is not our concern.
 */
static int email_shape_ok(const char *e)
{
    const char *at = strchr(e, '@');
    if (at == NULL || at == e || strchr(at + 1, '@') != NULL)
        return 0;
    for (const char *p = e; *p; p++)
        if (*p == ' ' || (unsigned char)*p < 0x21)
            return 0;
    const char *dot = strrchr(at + 1, '.');
    return dot != NULL && dot > at + 1 && dot[1] != '\0';
}

static const char *empty_null(const char *s)
{
    return (s && *s) ? s : NULL;
}

/* Validates the user-settable fields; the prefix of every field is "stakeholder.". */
static void check_stakeholder(srv_call *c, const Concord__V1__Stakeholder *s)
{
    check_text(c, "stakeholder.name", s->name, 200, 1);
    check_text(c, "stakeholder.title", s->title, 200, 0);
    check_text(c, "stakeholder.department", s->department, 100, 0);
    check_text(c, "stakeholder.role", s->role, 100, 0);
    check_text(c, "stakeholder.phone", s->phone, 50, 0);
    if (s->level == 0)
        srv_violation(c, "stakeholder.level", "is required (executive, director or staff)");
    else if (!srv_enum_valid(&concord__v1__stakeholder_level__descriptor, s->level))
        srv_violation(c, "stakeholder.level", "is not a stakeholder level");
    if (!srv_enum_valid(&concord__v1__attitude__descriptor, s->attitude))
        srv_violation(c, "stakeholder.attitude", "is not an attitude");
    if (s->influence < 0 || s->influence > 5)
        srv_violation(c, "stakeholder.influence", "must be between 1 and 5, or 0 for unknown");
    if (s->email && *s->email) {
        if (strlen(s->email) > 254)
            srv_violation(c, "stakeholder.email", "must be at most 254 characters");
        else if (!email_shape_ok(s->email))
            srv_violation(c, "stakeholder.email", "is not an email address (name@example.org)");
    }
    if (s->notes && strlen(s->notes) > 20000)
        srv_violation(c, "stakeholder.notes", "must be at most 20000 characters");
    else if (s->notes && has_control_chars(s->notes, 1))
        srv_violation(c, "stakeholder.notes", "must not contain control characters");
    if (s->reports_to_id && *s->reports_to_id)
        srv_parse_id(c, "stakeholder.reports_to_id", s->reports_to_id);
    if (s->reports_to_id && s->id && *s->reports_to_id && strcmp(s->reports_to_id, s->id) == 0)
        srv_violation(c, "stakeholder.reports_to_id", "a stakeholder cannot report to themselves");
}

/*
 * Checks that reports_to_id (when set) is a live stakeholder of the account
 * and, for an existing stakeholder self_id, that following reports_to links
 * up from it never comes back to self_id. Records a violation; returns c->code.
 */
static int check_reports_to(srv_call *c, const char *account_id, const char *self_id,
                            const char *reports_to_id)
{
    static const char same_account[] =
        "SELECT 1 FROM stakeholders WHERE id = $1 AND account_id = $2 AND deleted_at IS NULL";
    /* UNION (not UNION ALL) ends the walk even on a cycle already in the data. */
    static const char cycle[] =
        "WITH RECURSIVE up(id) AS ("
        "   SELECT $1::bigint"
        "   UNION SELECT s.reports_to_id FROM stakeholders s JOIN up ON s.id = up.id"
        "   WHERE s.reports_to_id IS NOT NULL)"
        " SELECT 1 FROM up WHERE id = $2::bigint";
    static const char lock[] =
        "SELECT pg_advisory_xact_lock(hashtextextended('concord.stakeholders:' || $1, 0))";
    if (reports_to_id == NULL || *reports_to_id == '\0')
        return c->code;
    PGresult *r = srv_sql(c, same_account, 2, reports_to_id, account_id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0) {
        srv_violation(c, "stakeholder.reports_to_id", "is not a stakeholder of this account");
        return srv_check(c);
    }
    if (self_id == NULL)
        return CC_OK; /* a new stakeholder has nobody reporting to them yet */
    /* Serialises map changes per account: two concurrent updates could each
     * pass the walk below and together close a loop. */
    if (srv_sql(c, lock, 1, account_id) == NULL)
        return c->code;
    r = srv_sql(c, cycle, 2, reports_to_id, self_id);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) > 0) {
        srv_violation(c, "stakeholder.reports_to_id",
                      "would make a reporting cycle: %s already reports (indirectly) to %s",
                      reports_to_id, self_id);
        return srv_check(c);
    }
    return CC_OK;
}

/* The parameters $1..$12 shared by INSERT and UPDATE, in column order. */
#define STAKEHOLDER_PARAMS 12
static void stakeholder_params(srv_call *c, const Concord__V1__Stakeholder *s, const char **p)
{
    p[0] = s->name;
    p[1] = s->title ? s->title : "";
    p[2] = srv_enum_to_db(c, &concord__v1__stakeholder_level__descriptor, s->level);
    p[3] = s->department ? s->department : "";
    p[4] = s->role ? s->role : "";
    p[5] = srv_enum_to_db(c, &concord__v1__attitude__descriptor, s->attitude);
    p[6] = srv_i64(c, s->influence);
    p[7] = empty_null(s->reports_to_id);
    p[8] = s->email ? s->email : "";
    p[9] = s->phone ? s->phone : "";
    p[10] = s->notes ? s->notes : "";
    p[11] = s->account_id;
}

/*
 * Reads one live stakeholder the caller can see; NULL after NOT_FOUND.
 * With for_update the row is locked (the caller checked edit access first:
 * a locking read also needs the update policy to pass).
 */
static Concord__V1__Stakeholder *load_stakeholder(srv_call *c, const char *field,
                                                  const char *id_text, int for_update,
                                                  PGresult **row)
{
    static const char get[] =
        "SELECT " STAKEHOLDER_COLS " FROM stakeholders s WHERE s.id = $1 AND s.deleted_at IS NULL";
    static const char lock[] =
        "SELECT " STAKEHOLDER_COLS " FROM stakeholders s WHERE s.id = $1 AND s.deleted_at IS NULL"
        " FOR NO KEY UPDATE";
    int64_t id = srv_parse_id(c, field, id_text);
    if (srv_check(c) != CC_OK)
        return NULL;
    PGresult *r = srv_sql(c, for_update ? lock : get, 1, srv_i64(c, id));
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "stakeholder %s not found", id_text);
        return NULL;
    }
    if (row)
        *row = r;
    return stakeholder_from_row(c, r, 0);
}

/* Visible, editable and locked: the first step of every change. */
static Concord__V1__Stakeholder *load_for_change(srv_call *c, const char *field,
                                                 const char *id_text, PGresult **row)
{
    Concord__V1__Stakeholder *s = load_stakeholder(c, field, id_text, 0, NULL);
    if (s == NULL || srv_account_access(c, "stakeholder.account_id", s->account_id, SRV_ACCESS_EDIT,
                                        NULL) != CC_OK)
        return NULL;
    return load_stakeholder(c, field, id_text, 1, row);
}

static int create_stakeholder(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateStakeholderRequest *req = (const void *)in;
    static const char sql[] =
        "WITH s AS (INSERT INTO stakeholders (name, title, level, department, role, attitude,"
        "   influence, reports_to_id, email, phone, notes, account_id)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING *)"
        " SELECT " STAKEHOLDER_COLS " FROM s";
    if (req->stakeholder == NULL) {
        srv_violation(c, "stakeholder", "is required");
        return srv_check(c);
    }
    Concord__V1__Stakeholder in_s = *req->stakeholder;
    in_s.id = NULL; /* server-owned */
    int64_t account_id = 0;
    if (srv_account_access(c, "stakeholder.account_id", in_s.account_id, SRV_ACCESS_EDIT,
                           &account_id) != CC_OK)
        return c->code;
    in_s.account_id = (char *)srv_i64(c, account_id);
    check_stakeholder(c, &in_s);
    if (srv_check(c) != CC_OK ||
        check_reports_to(c, in_s.account_id, NULL, in_s.reports_to_id) != CC_OK)
        return c->code;
    const char *p[STAKEHOLDER_PARAMS];
    stakeholder_params(c, &in_s, p);
    PGresult *r = srv_sqlv(c, sql, STAKEHOLDER_PARAMS, p);
    if (r == NULL)
        return c->code;
    Concord__V1__Stakeholder *s = stakeholder_from_row(c, r, 0);
    if (srv_audit(c, "create_stakeholder", "stakeholder", s->id, NULL, &s->base) != CC_OK)
        return c->code;
    *out = &s->base;
    return CC_OK;
}

static int get_stakeholder(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetStakeholderRequest *req = (const void *)in;
    Concord__V1__Stakeholder *s = load_stakeholder(c, "id", req->id, 0, NULL);
    if (s == NULL ||
        srv_record_access(c, "stakeholder", s->id, s->account_id, SRV_ACCESS_READ) != CC_OK)
        return c->code;
    *out = &s->base;
    return CC_OK;
}

static int list_stakeholders(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListStakeholdersRequest *req = (const void *)in;
    /* One prepared statement for every combination: the account's index
     * narrows the rows, the optional filters and the keyset only test them. */
    static const char sql[] = "SELECT " STAKEHOLDER_COLS " FROM stakeholders s"
                              " WHERE s.account_id = $1 AND s.deleted_at IS NULL"
                              "   AND ($2::text IS NULL OR s.level = $2)"
                              "   AND ($3::text IS NULL OR s.attitude = $3)"
                              "   AND ($4::int IS NULL OR (s.level_rank, lower(s.name), s.id) > "
                              "($4, $5::text, $6::bigint))"
                              " ORDER BY s.level_rank, lower(s.name), s.id LIMIT $7";
    int size = srv_page_size(c, "page_size", req->page_size);
    if (!srv_enum_valid(&concord__v1__stakeholder_level__descriptor, req->level))
        srv_violation(c, "level", "is not a stakeholder level");
    if (!srv_enum_valid(&concord__v1__attitude__descriptor, req->attitude))
        srv_violation(c, "attitude", "is not an attitude");
    const char *key = srv_page_token_decode(c, "page_token", req->page_token);
    const char *after_rank = NULL, *after_name = NULL, *after_id = NULL;
    if (key != NULL) {
        const char *first = strchr(key, KEY_SEP[0]);
        const char *last = strrchr(key, KEY_SEP[0]);
        if (first == NULL || first == last || first != key + 1 || key[0] < '1' || key[0] > '3' ||
            !last[1] || strspn(last + 1, "0123456789") != strlen(last + 1)) {
            srv_violation(c, "page_token", "is not a page token from a previous response");
        } else {
            after_rank = arena_strndup(c->arena, key, 1);
            after_name = arena_strndup(c->arena, first + 1, (size_t)(last - first - 1));
            after_id = last + 1;
        }
    }
    int64_t account_id = 0;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account_id) != CC_OK)
        return c->code;
    PGresult *r =
        srv_sql(c, sql, 7, srv_i64(c, account_id),
                srv_enum_to_db(c, &concord__v1__stakeholder_level__descriptor, req->level),
                srv_enum_to_db(c, &concord__v1__attitude__descriptor, req->attitude), after_rank,
                after_name, after_id, srv_i64(c, size + 1));
    if (r == NULL)
        return c->code;
    Concord__V1__ListStakeholdersResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_stakeholders_response__init(resp);
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->stakeholders =
        arena_alloc(c->arena, sizeof(*resp->stakeholders) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->stakeholders[i] = stakeholder_from_row(c, r, i);
    resp->n_stakeholders = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size) {
        const char *k = arena_printf(
            c->arena, "%s" KEY_SEP "%s" KEY_SEP "%s", PQgetvalue(r, shown - 1, COL_RANK),
            PQgetvalue(r, shown - 1, COL_SORT_NAME), PQgetvalue(r, shown - 1, 0));
        resp->next_page_token = (char *)srv_page_token_encode(c, k);
    }
    *out = &resp->base;
    return CC_OK;
}

/* Fields a client may change, by proto name; everything else in a mask is refused. */
static int apply_path(Concord__V1__Stakeholder *dst, const Concord__V1__Stakeholder *src,
                      const char *path)
{
#define COPY(f)                                                                                    \
    if (strcmp(path, #f) == 0) {                                                                   \
        dst->f = src->f;                                                                           \
        return 0;                                                                                  \
    }
    COPY(name)
    COPY(title) COPY(level) COPY(department) COPY(role) COPY(attitude) COPY(influence)
        COPY(reports_to_id) COPY(email) COPY(phone) COPY(notes)
#undef COPY
            return -1;
}

static int update_stakeholder(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__UpdateStakeholderRequest *req = (const void *)in;
    static const char sql[] =
        "WITH s AS (UPDATE stakeholders SET name = $1, title = $2, level = $3, department = $4,"
        "   role = $5, attitude = $6, influence = $7, reports_to_id = $8, email = $9,"
        "   phone = $10, notes = $11, version = version + 1, updated_at = now()"
        " WHERE account_id = $12 AND id = $13 AND deleted_at IS NULL RETURNING *)"
        " SELECT " STAKEHOLDER_COLS " FROM s";
    srv_check_update(c, "stakeholder", req->stakeholder, req->update_mask, req->version);
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *row;
    Concord__V1__Stakeholder *before =
        load_for_change(c, "stakeholder.id", req->stakeholder->id, &row);
    if (before == NULL)
        return c->code;
    if (before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "stakeholder %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    Concord__V1__Stakeholder *after = stakeholder_from_row(c, row, 0);
    int map_changed = 0;
    for (size_t i = 0; i < req->update_mask->n_paths; i++) {
        const char *path = req->update_mask->paths[i];
        if (apply_path(after, req->stakeholder, path) != 0)
            srv_violation(c, "update_mask",
                          "\"%s\" cannot be changed here (server-owned or unknown field)", path);
        map_changed |= strcmp(path, "reports_to_id") == 0;
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    check_stakeholder(c, after);
    if (srv_check(c) != CC_OK)
        return c->code;
    if (map_changed &&
        check_reports_to(c, after->account_id, after->id, after->reports_to_id) != CC_OK)
        return c->code;
    const char *p[STAKEHOLDER_PARAMS + 1];
    stakeholder_params(c, after, p);
    p[STAKEHOLDER_PARAMS] = before->id;
    PGresult *r = srv_sqlv(c, sql, STAKEHOLDER_PARAMS + 1, p);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "stakeholder %s not found", before->id);
    Concord__V1__Stakeholder *updated = stakeholder_from_row(c, r, 0);
    if (srv_audit(c, "update_stakeholder", "stakeholder", updated->id, &before->base,
                  &updated->base) != CC_OK)
        return c->code;
    *out = &updated->base;
    return CC_OK;
}

static int delete_stakeholder(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__DeleteStakeholderRequest *req = (const void *)in;
    static const char del[] =
        "UPDATE stakeholders SET deleted_at = now(), reports_to_id = NULL,"
        " version = version + 1, updated_at = now() WHERE id = $1 AND deleted_at IS NULL";
    /* People who reported to them now report to nobody on the map. */
    static const char unlink[] =
        "UPDATE stakeholders SET reports_to_id = NULL, version = version + 1, updated_at = now()"
        " WHERE reports_to_id = $1";
    if (req->version < 0) {
        srv_violation(c, "version", "must not be negative");
        return srv_check(c);
    }
    Concord__V1__Stakeholder *before = load_for_change(c, "id", req->id, NULL);
    if (before == NULL)
        return c->code;
    if (req->version != 0 && before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "stakeholder %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    if (srv_sql(c, del, 1, before->id) == NULL || srv_sql(c, unlink, 1, before->id) == NULL)
        return c->code;
    if (srv_audit(c, "delete_stakeholder", "stakeholder", before->id, &before->base, NULL) != CC_OK)
        return c->code;
    Concord__V1__DeleteStakeholderResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__delete_stakeholder_response__init(resp);
    *out = &resp->base;
    return CC_OK;
}

/* ---- coverage ------------------------------------------------------------------------- */

static int level_index(const char *db_level)
{
    for (int i = 0; i < 3; i++)
        if (strcmp(db_level, level_names[i]) == 0)
            return i;
    return -1;
}

static int get_coverage(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetCoverageRequest *req = (const void *)in;
    static const char known_sql[] = "SELECT level, count(*) FROM stakeholders"
                                    " WHERE account_id = $1 AND deleted_at IS NULL GROUP BY level";
    /* A contact: an activity in the window (not in the future) with a live
     * stakeholder; the department is that of each of our users on it. */
    /* The window's contacts come from the account's (account_id, occur_time)
     * index first; the other tables are joined to that small set. */
    static const char cells_sql[] =
        "WITH x AS MATERIALIZED (SELECT activity_id, stakeholder_id, occur_time"
        "   FROM activity_stakeholders WHERE account_id = $1"
        "   AND occur_time >= now() - make_interval(days => $2::int) AND occur_time <= now())"
        " SELECT s.level, u.department, count(DISTINCT s.id),"
        "   extract(epoch from max(x.occur_time))::text"
        " FROM x JOIN stakeholders s ON s.id = x.stakeholder_id AND s.deleted_at IS NULL"
        " JOIN activity_users au ON au.activity_id = x.activity_id"
        " JOIN users u ON u.id = au.user_id"
        " GROUP BY s.level_rank, s.level, u.department ORDER BY s.level_rank, u.department";

    /* The threads: how many activities, stakeholders and users of ours carried
     * the contact, with a name when there is only one. */
    static const char threads_sql[] =
        "WITH x AS MATERIALIZED (SELECT activity_id, stakeholder_id"
        "   FROM activity_stakeholders WHERE account_id = $1"
        "   AND occur_time >= now() - make_interval(days => $2::int) AND occur_time <= now())"
        " SELECT count(DISTINCT x.activity_id), count(DISTINCT x.stakeholder_id),"
        "   count(DISTINCT au.user_id), min(s.name), min(u.username)"
        " FROM x JOIN stakeholders s ON s.id = x.stakeholder_id AND s.deleted_at IS NULL"
        " LEFT JOIN activity_users au ON au.activity_id = x.activity_id"
        " LEFT JOIN users u ON u.id = au.user_id";
    int days = req->window_days;
    if (days < 0 || days > COVERAGE_MAX_DAYS)
        srv_violation(c, "window_days", "must be between 1 and %d (0 means %d)", COVERAGE_MAX_DAYS,
                      COVERAGE_DEFAULT_DAYS);
    if (days == 0)
        days = COVERAGE_DEFAULT_DAYS;
    int64_t account_id = 0;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account_id) != CC_OK)
        return c->code;
    const char *acc = srv_i64(c, account_id);
    const char *window = srv_i64(c, days);

    Concord__V1__Coverage *cov = arena_alloc(c->arena, sizeof(*cov));
    concord__v1__coverage__init(cov);
    cov->account_id = (char *)acc;

    PGresult *r = srv_sql(c, known_sql, 1, acc);
    if (r == NULL)
        return c->code;
    int32_t *known = arena_calloc(c->arena, 3, sizeof(int32_t));
    int total_known = 0;
    for (int i = 0; i < PQntuples(r); i++) {
        int li = level_index(PQgetvalue(r, i, 0));
        if (li >= 0) {
            known[li] = atoi(PQgetvalue(r, i, 1));
            total_known += known[li];
        }
    }
    cov->known_per_level = known;
    cov->n_known_per_level = 3;

    r = srv_sql(c, cells_sql, 2, acc, window);
    if (r == NULL)
        return c->code;
    int n = PQntuples(r);
    int covered[3] = {0, 0, 0};
    cov->cells = arena_alloc(c->arena, sizeof(*cov->cells) * (size_t)(n ? n : 1));
    for (int i = 0; i < n; i++) {
        Concord__V1__CoverageCell *cell = arena_alloc(c->arena, sizeof(*cell));
        concord__v1__coverage_cell__init(cell);
        cell->level =
            srv_enum_from_db(&concord__v1__stakeholder_level__descriptor, PQgetvalue(r, i, 0));
        cell->department =
            srv_enum_from_db(&concord__v1__department__descriptor, PQgetvalue(r, i, 1));
        cell->stakeholders = atoi(PQgetvalue(r, i, 2));
        cell->last_contact_time = srv_ts(c, PQgetvalue(r, i, 3));
        int li = level_index(PQgetvalue(r, i, 0));
        if (li >= 0)
            covered[li] = 1;
        cov->cells[cov->n_cells++] = cell;
    }
    cov->uncovered_levels = arena_alloc(c->arena, 3 * sizeof(*cov->uncovered_levels));
    static const Concord__V1__StakeholderLevel level_values[] = {
        CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE, CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR,
        CONCORD__V1__STAKEHOLDER_LEVEL__STAFF};
    for (int li = 0; li < 3; li++)
        if (known[li] > 0 && !covered[li])
            cov->uncovered_levels[cov->n_uncovered_levels++] = level_values[li];

    r = srv_sql(c, threads_sql, 2, acc, window);
    if (r == NULL)
        return c->code;
    int contacts = atoi(PQgetvalue(r, 0, 0));
    int people = atoi(PQgetvalue(r, 0, 1));
    int users = atoi(PQgetvalue(r, 0, 2));
    const char *person = PQgetvalue(r, 0, 3);
    const char *user = PQgetvalue(r, 0, 4);
    /*
     * Single-threaded: the relationship hangs on one thread. With known
     * stakeholders and no contact at all in the window there is not even
     * one thread, which is at least as fragile, so the flag is set too. An
     * account with no stakeholders recorded is not judged.
     */
    if (total_known == 0) {
        cov->single_threaded = 0;
        cov->explanation = "No stakeholders are recorded for this account yet, so coverage "
                           "cannot be judged.";
    } else if (contacts == 0) {
        cov->single_threaded = 1;
        cov->explanation = arena_printf(c->arena,
                                        "No contact with any of the %d known stakeholders in the "
                                        "last %d days.",
                                        total_known, days);
    } else if (people == 1) {
        cov->single_threaded = 1;
        cov->explanation = arena_printf(c->arena,
                                        "All %d contacts in the last %d days went through one "
                                        "stakeholder (%s).",
                                        contacts, days, person);
    } else if (users == 1) {
        cov->single_threaded = 1;
        cov->explanation = arena_printf(c->arena,
                                        "All %d contacts in the last %d days went through one of "
                                        "our users (%s).",
                                        contacts, days, user);
    } else if (users == 0) {
        /* Contacts recorded without our users (imports that named none) show
         * several stakeholders but say nothing about our side. */
        cov->single_threaded = 0;
        cov->explanation = arena_printf(c->arena,
                                        "Not single-threaded: %d stakeholders in %d contacts over "
                                        "the last %d days (none of them names one of our users).",
                                        people, contacts, days);
    } else {
        cov->single_threaded = 0;
        cov->explanation = arena_printf(c->arena,
                                        "Not single-threaded: %d stakeholders reached by %d of "
                                        "our users in %d contacts over the last %d days.",
                                        people, users, contacts, days);
    }
    *out = &cov->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"CreateStakeholder", create_stakeholder, SRV_WRITE},
    {"GetStakeholder", get_stakeholder, 0},
    {"ListStakeholders", list_stakeholders, 0},
    {"UpdateStakeholder", update_stakeholder, SRV_WRITE},
    {"DeleteStakeholder", delete_stakeholder, SRV_WRITE},
    {"GetCoverage", get_coverage, 0},
    {NULL, NULL, 0},
};

const srv_service srv_stakeholder_service = {&concord__v1__stakeholder_service__descriptor,
                                             methods};
