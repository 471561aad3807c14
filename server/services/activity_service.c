/*
 * activity_service.c - concord.v1.ActivityService: touch points with the
 * customer (one by one and in bulk for imports) and the account timeline.
 *
 * Invariants:
 *  - An activity belongs to one account; its stakeholders are live
 *    stakeholders of that account and its users are existing users. The
 *    link tables copy the activity's account (for row-level security) and
 *    time (for last contact and coverage); activities are never edited, so
 *    the copies cannot drift.
 *  - CreateActivity adds the caller to the activity's users. The bulk path
 *    records the users given only: an import replays history that the
 *    person running it did not take part in (created_by_id still names them).
 *  - BulkCreateActivities is all or nothing: every row is validated in C,
 *    the rows are staged with COPY in a temporary table (COPY cannot write
 *    to a table with row-level security), the accounts, stakeholders and
 *    users are checked in a few set-based queries, and only then are the
 *    rows inserted with INSERT ... SELECT, where the tables' policies check
 *    every row again. Any failure rolls the whole call back.
 *  - The timeline is a keyset-paginated merge, newest first, over (time,
 *    entry type, record id) of activities, stage changes, tier changes and
 *    account audit highlights; each branch reads its own index with its own
 *    ORDER BY ... LIMIT, and the branches for tables that are not in the
 *    schema are left out.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "call.h"
#include "concord/v1/activity.pb-c.h"

#define KEY_SEP "\x1f" /* separates the parts of a page-token key */

enum {
    MAX_LINKS = 100,      /* stakeholders or users on one activity */
    MAX_BULK = 10000,     /* activities in one bulk call */
    MAX_BULK_ERRORS = 100 /* violations reported by one bulk call */
};

/* Earliest accepted occur_time: 1900-01-01T00:00:00Z. */
#define OCCUR_MIN_SECONDS (-2208988800LL)
/* Latest accepted occur_time: a year (366 days) from now. */
#define OCCUR_MAX_AHEAD_SECONDS (366LL * 86400)

#define ACTIVITY_COLS                                                                              \
    "x.id, x.account_id, x.kind, x.subject, x.notes, extract(epoch from x.occur_time)::text,"      \
    " coalesce((SELECT string_agg(l.stakeholder_id::text, ',' ORDER BY l.stakeholder_id)"          \
    "   FROM activity_stakeholders l WHERE l.activity_id = x.id), ''),"                            \
    " coalesce((SELECT string_agg(l.user_id::text, ',' ORDER BY l.user_id)"                        \
    "   FROM activity_users l WHERE l.activity_id = x.id), ''),"                                   \
    " coalesce(x.created_by::text, ''), extract(epoch from x.created_at)::text,"                   \
    " x.occur_time::text"

/* Column after the activity's own fields: the exact time, for page tokens. */
enum { COL_SORT_TIME = 10 };

/* Splits "1,2,3" (arena copy) into an array of strings. */
static char **split_ids(srv_call *c, const char *text, size_t *n)
{
    *n = 0;
    if (*text == '\0')
        return NULL;
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == ',';
    char **out = arena_alloc(c->arena, cap * sizeof(char *));
    char *copy = arena_strdup(c->arena, text);
    for (char *p = copy;;) {
        out[(*n)++] = p;
        char *comma = strchr(p, ',');
        if (comma == NULL)
            break;
        *comma = '\0';
        p = comma + 1;
    }
    return out;
}

static Concord__V1__Activity *activity_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__Activity *a = arena_alloc(c->arena, sizeof(*a));
    concord__v1__activity__init(a);
    a->id = PQgetvalue(r, row, 0);
    a->account_id = PQgetvalue(r, row, 1);
    a->kind = srv_enum_from_db(&concord__v1__activity_kind__descriptor, PQgetvalue(r, row, 2));
    a->subject = PQgetvalue(r, row, 3);
    a->notes = PQgetvalue(r, row, 4);
    a->occur_time = srv_ts(c, PQgetvalue(r, row, 5));
    a->stakeholder_ids = split_ids(c, PQgetvalue(r, row, 6), &a->n_stakeholder_ids);
    a->user_ids = split_ids(c, PQgetvalue(r, row, 7), &a->n_user_ids);
    a->created_by_id = PQgetvalue(r, row, 8);
    a->create_time = srv_ts(c, PQgetvalue(r, row, 9));
    return a;
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

/*
 * The timestamp as PostgreSQL timestamptz text in UTC with microseconds
 * (arena), or NULL after a violation on field: required, valid, not before
 * 1900 and not more than a year ahead.
 */
static const char *occur_time_text(srv_call *c, const char *field,
                                   const Google__Protobuf__Timestamp *ts, time_t now)
{
    if (ts == NULL) {
        srv_violation(c, field, "is required");
        return NULL;
    }
    if (ts->nanos < 0 || ts->nanos > 999999999) {
        srv_violation(c, field, "has nanos outside 0..999999999");
        return NULL;
    }
    if (ts->seconds < OCCUR_MIN_SECONDS) {
        srv_violation(c, field, "must not be before 1900");
        return NULL;
    }
    if (ts->seconds > (int64_t)now + OCCUR_MAX_AHEAD_SECONDS) {
        srv_violation(c, field, "must not be more than a year in the future");
        return NULL;
    }
    time_t secs = (time_t)ts->seconds;
    struct tm tm;
    if (gmtime_r(&secs, &tm) == NULL) {
        srv_violation(c, field, "is not a valid time");
        return NULL;
    }
    return arena_printf(c->arena, "%04d-%02d-%02d %02d:%02d:%02d.%06d+00", tm.tm_year + 1900,
                        tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                        (int)(ts->nanos / 1000));
}

/* One activity's fields checked and converted for SQL. */
typedef struct activity_in {
    const char *kind;       /* database text */
    const char *occur_time; /* timestamptz text */
    int64_t account_id;
    const char *stakeholders; /* "{1,2}" */
    const char *users;        /* "{3}" */
} activity_in;

/* Parses ids into a PostgreSQL array literal, naming bad entries "<prefix>[i]". */
static const char *id_array(srv_call *c, const char *prefix, char **ids, size_t n,
                            const char *extra)
{
    size_t cap = 3 + (n + 1) * 21;
    char *s = arena_alloc(c->arena, cap);
    size_t len = 0;
    s[len++] = '{';
    if (n > MAX_LINKS) {
        srv_violation(c, prefix, "at most %d ids", MAX_LINKS);
        n = 0;
    }
    for (size_t i = 0; i < n; i++) {
        char field[96];
        snprintf(field, sizeof(field), "%s[%zu]", prefix, i);
        int64_t id = srv_parse_id(c, field, ids[i]);
        if (id > 0)
            len +=
                (size_t)snprintf(s + len, cap - len, "%s%lld", len > 1 ? "," : "", (long long)id);
    }
    if (extra)
        len += (size_t)snprintf(s + len, cap - len, "%s%s", len > 1 ? "," : "", extra);
    snprintf(s + len, cap - len, "}");
    return s;
}

/*
 * Validates the user-settable fields of one activity; prefix is "activity"
 * or "activities[i]". extra_user is added to the users (the creator) or NULL.
 */
static void check_activity(srv_call *c, const char *prefix, const Concord__V1__Activity *a,
                           time_t now, const char *extra_user, activity_in *out)
{
    char field[96];
#define FIELD(name) (snprintf(field, sizeof(field), "%s.%s", prefix, name), field)
    memset(out, 0, sizeof(*out));
    if (a->kind == 0)
        srv_violation(c, FIELD("kind"),
                      "is required (meeting, call, email, visit, note, demo "
                      "or training)");
    else if (!srv_enum_valid(&concord__v1__activity_kind__descriptor, a->kind))
        srv_violation(c, FIELD("kind"), "is not an activity kind");
    else
        out->kind = srv_enum_to_db(c, &concord__v1__activity_kind__descriptor, a->kind);
    size_t n = a->subject ? strlen(a->subject) : 0;
    if (n == 0)
        srv_violation(c, FIELD("subject"), "must not be empty");
    else if (n > 200)
        srv_violation(c, FIELD("subject"), "must be at most 200 characters");
    else if (has_control_chars(a->subject, 0))
        srv_violation(c, FIELD("subject"), "must be one line without control characters");
    if (a->notes && strlen(a->notes) > 20000)
        srv_violation(c, FIELD("notes"), "must be at most 20000 characters");
    else if (a->notes && has_control_chars(a->notes, 1))
        srv_violation(c, FIELD("notes"), "must not contain control characters");
    out->occur_time = occur_time_text(c, FIELD("occur_time"), a->occur_time, now);
    out->account_id = srv_parse_id(c, FIELD("account_id"), a->account_id);
    out->stakeholders =
        id_array(c, FIELD("stakeholder_ids"), a->stakeholder_ids, a->n_stakeholder_ids, NULL);
    out->users = id_array(c, FIELD("user_ids"), a->user_ids, a->n_user_ids, extra_user);
#undef FIELD
}

/* Reads one activity the caller can see; NULL after NOT_FOUND. */
static Concord__V1__Activity *load_activity(srv_call *c, const char *field, const char *id_text)
{
    static const char sql[] = "SELECT " ACTIVITY_COLS " FROM activities x WHERE x.id = $1";
    int64_t id = srv_parse_id(c, field, id_text);
    if (srv_check(c) != CC_OK)
        return NULL;
    PGresult *r = srv_sql(c, sql, 1, srv_i64(c, id));
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "activity %s not found", id_text);
        return NULL;
    }
    return activity_from_row(c, r, 0);
}

static int create_activity(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateActivityRequest *req = (const void *)in;
    /* Entries of the id arrays that are not live stakeholders of the account
     * (or not users), as 0-based positions. */
    static const char bad_stakeholders[] =
        "SELECT t.i - 1 FROM unnest($1::bigint[]) WITH ORDINALITY AS t(id, i)"
        " WHERE NOT EXISTS (SELECT 1 FROM stakeholders s WHERE s.id = t.id"
        "   AND s.account_id = $2 AND s.deleted_at IS NULL) ORDER BY t.i";
    static const char bad_users[] =
        "SELECT t.i - 1 FROM unnest($1::bigint[]) WITH ORDINALITY AS t(id, i)"
        " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.id) ORDER BY t.i";
    static const char insert[] =
        "WITH a AS (INSERT INTO activities (account_id, kind, subject, notes, occur_time,"
        "   created_by) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, account_id, occur_time),"
        " s AS (INSERT INTO activity_stakeholders (activity_id, stakeholder_id, account_id,"
        "   occur_time) SELECT a.id, t.id, a.account_id, a.occur_time"
        "   FROM a, (SELECT DISTINCT unnest($7::bigint[]) AS id) t),"
        " u AS (INSERT INTO activity_users (activity_id, user_id, account_id)"
        "   SELECT a.id, t.id, a.account_id FROM a, (SELECT DISTINCT unnest($8::bigint[]) AS id) t)"
        " SELECT id FROM a";
    if (req->activity == NULL) {
        srv_violation(c, "activity", "is required");
        return srv_check(c);
    }
    const Concord__V1__Activity *a = req->activity;
    if (srv_account_access(c, "activity.account_id", a->account_id, SRV_ACCESS_EDIT, NULL) != CC_OK)
        return c->code;
    activity_in v;
    check_activity(c, "activity", a, time(NULL), c->user.id_text, &v);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *acc = srv_i64(c, v.account_id);
    PGresult *r = srv_sql(c, bad_stakeholders, 2, v.stakeholders, acc);
    if (r == NULL)
        return c->code;
    for (int i = 0; i < PQntuples(r); i++)
        srv_violation(c,
                      arena_printf(c->arena, "activity.stakeholder_ids[%s]", PQgetvalue(r, i, 0)),
                      "is not a stakeholder of this account");
    /* The creator is appended last and exists, so it is never reported. */
    r = srv_sql(c, bad_users, 1, v.users);
    if (r == NULL)
        return c->code;
    for (int i = 0; i < PQntuples(r); i++)
        srv_violation(c, arena_printf(c->arena, "activity.user_ids[%s]", PQgetvalue(r, i, 0)),
                      "is not a user");
    if (srv_check(c) != CC_OK)
        return c->code;
    r = srv_sql(c, insert, 8, acc, v.kind, a->subject, a->notes ? a->notes : "", v.occur_time,
                c->user.id ? c->user.id_text : NULL, v.stakeholders, v.users);
    if (r == NULL)
        return c->code;
    Concord__V1__Activity *created = load_activity(c, "id", PQgetvalue(r, 0, 0));
    if (created == NULL)
        return c->code;
    if (srv_audit(c, "create_activity", "activity", created->id, NULL, &created->base) != CC_OK)
        return c->code;
    *out = &created->base;
    return CC_OK;
}

static int get_activity(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetActivityRequest *req = (const void *)in;
    Concord__V1__Activity *a = load_activity(c, "id", req->id);
    if (a == NULL ||
        srv_record_access(c, "activity", a->id, a->account_id, SRV_ACCESS_READ) != CC_OK)
        return c->code;
    *out = &a->base;
    return CC_OK;
}

/* Splits a "<time>\x1f<id>" page-token key; NULL parts after a violation. */
static void time_id_key(srv_call *c, const char *key, const char **time_part, const char **id)
{
    *time_part = *id = NULL;
    if (key == NULL)
        return;
    const char *sep = strrchr(key, KEY_SEP[0]);
    if (sep == NULL || sep == key || !sep[1] || strspn(sep + 1, "0123456789") != strlen(sep + 1)) {
        srv_violation(c, "page_token", "is not a page token from a previous response");
        return;
    }
    *time_part = arena_strndup(c->arena, key, (size_t)(sep - key));
    *id = sep + 1;
}

static int list_activities(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListActivitiesRequest *req = (const void *)in;
    int size = srv_page_size(c, "page_size", req->page_size);
    if (!srv_enum_valid(&concord__v1__activity_kind__descriptor, req->kind))
        srv_violation(c, "kind", "is not an activity kind");
    int64_t stakeholder = 0;
    if (req->stakeholder_id && *req->stakeholder_id)
        stakeholder = srv_parse_id(c, "stakeholder_id", req->stakeholder_id);
    const char *after_time, *after_id;
    time_id_key(c, srv_page_token_decode(c, "page_token", req->page_token), &after_time, &after_id);
    int64_t account_id = 0;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account_id) != CC_OK)
        return c->code;

    /*
     * The SQL is assembled from fixed fragments so that each combination is
     * planned for what it is: the account's (time, id) index, or the
     * stakeholder's link index when filtering by stakeholder.
     */
    const char *params[6];
    int np = 0;
    char sql[2048];
    size_t len;
    params[np++] = srv_i64(c, account_id);
    if (stakeholder) {
        params[np++] = srv_i64(c, stakeholder);
        len = (size_t)snprintf(sql, sizeof(sql),
                               "SELECT " ACTIVITY_COLS " FROM activity_stakeholders k"
                               " JOIN activities x ON x.id = k.activity_id"
                               " WHERE k.stakeholder_id = $2 AND x.account_id = $1");
    } else {
        len = (size_t)snprintf(
            sql, sizeof(sql), "SELECT " ACTIVITY_COLS " FROM activities x WHERE x.account_id = $1");
    }
    const char *time_col = stakeholder ? "k.occur_time" : "x.occur_time";
    const char *id_col = stakeholder ? "k.activity_id" : "x.id";
    if (req->kind) {
        params[np++] = srv_enum_to_db(c, &concord__v1__activity_kind__descriptor, req->kind);
        len += (size_t)snprintf(sql + len, sizeof(sql) - len, " AND x.kind = $%d", np);
    }
    if (after_time) {
        params[np++] = after_time;
        params[np++] = after_id;
        len += (size_t)snprintf(sql + len, sizeof(sql) - len,
                                " AND (%s, %s) < ($%d::timestamptz, $%d::bigint)", time_col, id_col,
                                np - 1, np);
    }
    params[np++] = srv_i64(c, size + 1);
    snprintf(sql + len, sizeof(sql) - len, " ORDER BY %s DESC, %s DESC LIMIT $%d", time_col, id_col,
             np);
    PGresult *r = srv_sql_dynamic(c, sql, np, params);
    if (r == NULL)
        return c->code;

    Concord__V1__ListActivitiesResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_activities_response__init(resp);
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->activities =
        arena_alloc(c->arena, sizeof(*resp->activities) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->activities[i] = activity_from_row(c, r, i);
    resp->n_activities = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size) {
        const char *k =
            arena_printf(c->arena, "%s" KEY_SEP "%s", PQgetvalue(r, shown - 1, COL_SORT_TIME),
                         PQgetvalue(r, shown - 1, 0));
        resp->next_page_token = (char *)srv_page_token_encode(c, k);
    }
    *out = &resp->base;
    return CC_OK;
}

/* ---- bulk ---------------------------------------------------------------------------- */

static int bulk_create_activities(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__BulkCreateActivitiesRequest *req = (const void *)in;
    static const char stage[] =
        "CREATE TEMP TABLE bulk_activities ("
        " seq int NOT NULL, account_id bigint NOT NULL, kind text NOT NULL,"
        " subject text NOT NULL, notes text NOT NULL, occur_time timestamptz NOT NULL,"
        " stakeholder_ids bigint[] NOT NULL, user_ids bigint[] NOT NULL,"
        " id bigint NOT NULL DEFAULT nextval('concord.activities_id_seq')) ON COMMIT DROP";
    static const char copy_sql[] =
        "COPY bulk_activities (seq, account_id, kind, subject, notes, occur_time,"
        " stakeholder_ids, user_ids) FROM STDIN";
    /* Not visible first (NOT_FOUND), then not editable, each by first position. */
    static const char accounts_sql[] =
        "SELECT d.account_id::text, d.first, a.id IS NOT NULL"
        " FROM (SELECT account_id, min(seq) AS first FROM bulk_activities GROUP BY account_id) d"
        " LEFT JOIN accounts a ON a.id = d.account_id"
        " WHERE a.id IS NULL OR NOT account_editable(a.id, a.owner_id)"
        " ORDER BY a.id IS NOT NULL, d.first LIMIT 1";
    static const char one_account_sql[] =
        "SELECT min(account_id)::text, count(DISTINCT account_id) FROM bulk_activities";
    static const char links_sql[] =
        "(SELECT b.seq, 's', t.i - 1 FROM bulk_activities b,"
        "   unnest(b.stakeholder_ids) WITH ORDINALITY AS t(id, i)"
        " WHERE NOT EXISTS (SELECT 1 FROM stakeholders s WHERE s.id = t.id"
        "   AND s.account_id = b.account_id AND s.deleted_at IS NULL)"
        " ORDER BY 1, 3 LIMIT 100)"
        " UNION ALL"
        " (SELECT b.seq, 'u', t.i - 1 FROM bulk_activities b,"
        "   unnest(b.user_ids) WITH ORDINALITY AS t(id, i)"
        " WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = t.id)"
        " ORDER BY 1, 3 LIMIT 100)"
        " ORDER BY 1, 2, 3";
    static const char insert_activities[] =
        "INSERT INTO activities (id, account_id, kind, subject, notes, occur_time, created_by)"
        " OVERRIDING SYSTEM VALUE"
        " SELECT id, account_id, kind, subject, notes, occur_time, $1::bigint"
        " FROM bulk_activities ORDER BY seq";
    static const char insert_stakeholders[] =
        "INSERT INTO activity_stakeholders (activity_id, stakeholder_id, account_id, occur_time)"
        " SELECT DISTINCT b.id, t.id, b.account_id, b.occur_time"
        " FROM bulk_activities b, unnest(b.stakeholder_ids) AS t(id)";
    static const char insert_users[] =
        "INSERT INTO activity_users (activity_id, user_id, account_id)"
        " SELECT DISTINCT b.id, t.id, b.account_id FROM bulk_activities b, unnest(b.user_ids) AS "
        "t(id)";

    if (req->n_activities > MAX_BULK) {
        srv_violation(c, "activities", "at most %d activities per call (got %zu)", MAX_BULK,
                      req->n_activities);
        return srv_check(c);
    }
    Concord__V1__BulkCreateActivitiesResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__bulk_create_activities_response__init(resp);
    if (req->n_activities == 0) {
        *out = &resp->base;
        return CC_OK;
    }

    /* Validate every row first; the buffer is only built for a clean request. */
    time_t now = time(NULL);
    activity_in *rows = arena_alloc(c->arena, req->n_activities * sizeof(*rows));
    for (size_t i = 0; i < req->n_activities; i++) {
        char prefix[48];
        snprintf(prefix, sizeof(prefix), "activities[%zu]", i);
        check_activity(c, prefix, req->activities[i], now, NULL, &rows[i]);
        if (c->n_violations >= MAX_BULK_ERRORS) {
            srv_fail(c, CC_INVALID_ARGUMENT,
                     "invalid request: %zu or more fields (checking stopped at activities[%zu])",
                     c->n_violations, i);
            return c->code;
        }
    }
    if (srv_check(c) != CC_OK)
        return c->code;

    srv_buf b = {0};
    for (size_t i = 0; i < req->n_activities; i++) {
        const Concord__V1__Activity *a = req->activities[i];
        char num[64];
        int n = snprintf(num, sizeof(num), "%zu\t%lld\t", i, (long long)rows[i].account_id);
        srv_buf_put(c, &b, num, (size_t)n);
        srv_copy_escape(c, &b, rows[i].kind);
        srv_buf_put(c, &b, "\t", 1);
        srv_copy_escape(c, &b, a->subject);
        srv_buf_put(c, &b, "\t", 1);
        srv_copy_escape(c, &b, a->notes ? a->notes : "");
        srv_buf_put(c, &b, "\t", 1);
        srv_copy_escape(c, &b, rows[i].occur_time);
        srv_buf_put(c, &b, "\t", 1);
        srv_copy_escape(c, &b, rows[i].stakeholders);
        srv_buf_put(c, &b, "\t", 1);
        srv_copy_escape(c, &b, rows[i].users);
        srv_buf_put(c, &b, "\n", 1);
    }

    if (srv_sql_dynamic(c, stage, 0, NULL) == NULL ||
        srv_copy_in(c, copy_sql, b.data, b.len) != CC_OK)
        return c->code;

    PGresult *r = srv_sql_dynamic(c, accounts_sql, 0, NULL);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) > 0) {
        const char *acc = PQgetvalue(r, 0, 0);
        const char *first = PQgetvalue(r, 0, 1);
        if (PQgetvalue(r, 0, 2)[0] != 't')
            return srv_fail(c, CC_NOT_FOUND, "account %s not found (activities[%s].account_id)",
                            acc, first);
        return srv_fail(c, CC_PERMISSION_DENIED,
                        "you may see account %s but not change it (activities[%s].account_id): "
                        "ask its owner for edit access",
                        acc, first);
    }
    r = srv_sql_dynamic(c, links_sql, 0, NULL);
    if (r == NULL)
        return c->code;
    for (int i = 0; i < PQntuples(r); i++) {
        int stake = PQgetvalue(r, i, 1)[0] == 's';
        srv_violation(c,
                      arena_printf(c->arena, "activities[%s].%s[%s]", PQgetvalue(r, i, 0),
                                   stake ? "stakeholder_ids" : "user_ids", PQgetvalue(r, i, 2)),
                      stake ? "is not a stakeholder of this account" : "is not a user");
    }
    if (srv_check(c) != CC_OK)
        return c->code;

    const char *creator = c->user.id ? c->user.id_text : NULL;
    r = srv_sql_dynamic(c, insert_activities, 1, &creator);
    if (r == NULL || srv_sql_dynamic(c, insert_stakeholders, 0, NULL) == NULL ||
        srv_sql_dynamic(c, insert_users, 0, NULL) == NULL)
        return c->code;
    resp->created = atoi(PQcmdTuples(r));

    /* One audit row per call: the target is the account when there is one. */
    r = srv_sql_dynamic(c, one_account_sql, 0, NULL);
    if (r == NULL)
        return c->code;
    int single = strcmp(PQgetvalue(r, 0, 1), "1") == 0;
    if (srv_audit(c, "bulk_create_activities", single ? "account" : "activities",
                  single ? PQgetvalue(r, 0, 0) : "bulk", NULL, &resp->base) != CC_OK)
        return c->code;
    *out = &resp->base;
    return CC_OK;
}

/* ---- timeline ------------------------------------------------------------------------ */

/*
 * One branch per entry type. Each yields (t, type, ref, title, detail,
 * actor) for account $1, newest first, limited to $5 rows after the keyset
 * ($2 time, $3 type, $4 ref; NULL on the first page). The "t <= $2" term
 * lets the index bound the scan; the row comparison orders ties.
 */
#define KEYSET(tcol, type, idcol)                                                                  \
    " AND ($2::timestamptz IS NULL OR (" tcol " <= $2::timestamptz AND (" tcol ", " type           \
    ", " idcol ") < ($2::timestamptz, $3::int, $4::bigint)))"

static const char branch_activity[] =
    "(SELECT x.occur_time AS t, 1 AS type, x.id AS ref,"
    "   initcap(x.kind) || ': ' || x.subject AS title, left(x.notes, 500) AS detail,"
    "   coalesce(x.created_by::text, '') AS actor"
    " FROM activities x WHERE x.account_id = $1" KEYSET(
        "x.occur_time", "1", "x.id") " ORDER BY x.occur_time DESC, x.id DESC LIMIT $5)";

static const char branch_stage[] =
    "(SELECT g.effective_date::timestamptz AS t, 2 AS type, g.id AS ref,"
    "   'Stage: ' || coalesce(g.from_stage, 'none') || ' -> ' || g.to_stage AS title,"
    "   coalesce(g.reason, '') AS detail, '' AS actor"
    " FROM stage_changes g WHERE g.account_id = $1" KEYSET(
        "g.effective_date::timestamptz", "2",
        "g.id") " ORDER BY g.effective_date DESC, g.id DESC LIMIT $5)";

static const char branch_tier[] =
    "(SELECT h.changed_at AS t, 3 AS type, h.id AS ref,"
    "   'Tier: ' || coalesce(upper(replace(h.from_tier, 'tier_', '')), 'none') || ' -> '"
    "     || coalesce(upper(replace(h.to_tier, 'tier_', '')), 'none') AS title,"
    "   coalesce(h.reason, '') AS detail, coalesce(h.changed_by::text, '') AS actor"
    " FROM tier_changes h WHERE h.account_id = $1" KEYSET(
        "h.changed_at", "3", "h.id") " ORDER BY h.changed_at DESC, h.id DESC LIMIT $5)";

/* Account highlights: creation, changes (with the changed fields), merges, archiving. */
static const char branch_audit[] =
    "(SELECT l.at AS t, 4 AS type, l.id AS ref,"
    "   CASE WHEN l.action = 'create_account' THEN 'Account created'"
    "        WHEN l.action = 'update_account' THEN 'Account updated'"
    "        WHEN l.action = 'archive_account' THEN 'Account archived'"
    "        ELSE 'Account ' || replace(l.action, '_', ' ') END AS title,"
    "   CASE WHEN l.action = 'update_account' THEN coalesce('changed: ' || (SELECT"
    "     string_agg(k, ', ' ORDER BY k) FROM (SELECT jsonb_object_keys(coalesce(l.before, '{}'))"
    "     UNION SELECT jsonb_object_keys(coalesce(l.after, '{}'))) AS keys(k)"
    "     WHERE k NOT IN ('version', 'updateTime')"
    "       AND l.before -> k IS DISTINCT FROM l.after -> k), '')"
    "   ELSE '' END AS detail,"
    "   coalesce(l.actor_id::text, '') AS actor"
    " FROM audit_log l WHERE l.target_type = 'account' AND l.target_id = $1::bigint::text"
    "   AND (l.action IN ('create_account', 'update_account', 'archive_account')"
    "        OR l.action LIKE 'merge%')" KEYSET("l.at", "4",
                                                "l.id") " ORDER BY l.at DESC, l.id DESC LIMIT $5)";

static int get_account_timeline(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__GetAccountTimelineRequest *req = (const void *)in;
    static const char tables_sql[] = "SELECT to_regclass('concord.stage_changes') IS NOT NULL,"
                                     " to_regclass('concord.tier_changes') IS NOT NULL";
    int size = srv_page_size(c, "page_size", req->page_size);
    int want[5] = {0, 0, 0, 0, 0};
    for (size_t i = 0; i < req->n_types; i++) {
        int t = req->types[i];
        if (t <= 0 || t > 4 || !srv_enum_valid(&concord__v1__timeline_entry_type__descriptor, t))
            srv_violation(c, arena_printf(c->arena, "types[%zu]", i),
                          "is not a timeline entry type");
        else
            want[t] = 1;
    }
    if (req->n_types == 0)
        want[1] = want[2] = want[3] = want[4] = 1;
    const char *key = srv_page_token_decode(c, "page_token", req->page_token);
    const char *after_time = NULL, *after_type = NULL, *after_ref = NULL;
    if (key != NULL) {
        /* "<time>\x1f<type>\x1f<ref>" */
        const char *last = strrchr(key, KEY_SEP[0]);
        const char *mid = last ? memchr(key, KEY_SEP[0], (size_t)(last - key)) : NULL;
        if (mid == NULL || mid == key || last - mid != 2 || mid[1] < '1' || mid[1] > '4' ||
            !last[1] || strspn(last + 1, "0123456789") != strlen(last + 1)) {
            srv_violation(c, "page_token", "is not a page token from a previous response");
        } else {
            after_time = arena_strndup(c->arena, key, (size_t)(mid - key));
            after_type = arena_strndup(c->arena, mid + 1, 1);
            after_ref = last + 1;
        }
    }
    int64_t account_id = 0;
    if (srv_check(c) != CC_OK ||
        srv_account_access(c, "account_id", req->account_id, SRV_ACCESS_READ, &account_id) != CC_OK)
        return c->code;

    /* Stage and tier changes come from the lifecycle and tier areas' tables. */
    PGresult *r = srv_sql(c, tables_sql, 0);
    if (r == NULL)
        return c->code;
    if (PQgetvalue(r, 0, 0)[0] != 't')
        want[2] = 0;
    if (PQgetvalue(r, 0, 1)[0] != 't')
        want[3] = 0;

    const char *branches[] = {NULL, branch_activity, branch_stage, branch_tier, branch_audit};
    char *sql = arena_printf(c->arena, "SELECT extract(epoch from u.t)::text, u.type, u.ref::text,"
                                       " u.title, u.detail, u.actor, u.t::text FROM (");
    int n_branches = 0;
    for (int t = 1; t <= 4; t++) {
        if (!want[t])
            continue;
        sql = arena_printf(c->arena, "%s%s%s", sql, n_branches ? " UNION ALL " : "", branches[t]);
        n_branches++;
    }
    Concord__V1__GetAccountTimelineResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__get_account_timeline_response__init(resp);
    resp->next_page_token = "";
    if (n_branches == 0) {
        *out = &resp->base;
        return CC_OK;
    }
    sql = arena_printf(c->arena, "%s) u ORDER BY u.t DESC, u.type DESC, u.ref DESC LIMIT $5", sql);
    const char *params[5] = {srv_i64(c, account_id), after_time, after_type, after_ref,
                             srv_i64(c, size + 1)};
    r = srv_sql_dynamic(c, sql, 5, params);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    resp->entries = arena_alloc(c->arena, sizeof(*resp->entries) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++) {
        Concord__V1__TimelineEntry *e = arena_alloc(c->arena, sizeof(*e));
        concord__v1__timeline_entry__init(e);
        e->time = srv_ts(c, PQgetvalue(r, i, 0));
        e->type = atoi(PQgetvalue(r, i, 1));
        e->ref_id = PQgetvalue(r, i, 2);
        e->title = PQgetvalue(r, i, 3);
        e->detail = PQgetvalue(r, i, 4);
        e->actor_id = PQgetvalue(r, i, 5);
        resp->entries[resp->n_entries++] = e;
    }
    if (rows > size) {
        const char *k =
            arena_printf(c->arena, "%s" KEY_SEP "%s" KEY_SEP "%s", PQgetvalue(r, shown - 1, 6),
                         PQgetvalue(r, shown - 1, 1), PQgetvalue(r, shown - 1, 2));
        resp->next_page_token = (char *)srv_page_token_encode(c, k);
    }
    *out = &resp->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"CreateActivity", create_activity, SRV_WRITE},
    {"GetActivity", get_activity, 0},
    {"ListActivities", list_activities, 0},
    {"BulkCreateActivities", bulk_create_activities, SRV_WRITE},
    {"GetAccountTimeline", get_account_timeline, 0},
    {NULL, NULL, 0},
};

const srv_service srv_activity_service = {&concord__v1__activity_service__descriptor, methods};
