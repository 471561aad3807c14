/*
 * event_service.c - concord.v1.KeyEventService: the key-event calendar
 * (industry and account events, once or yearly) and the outreach tasks that
 * its occurrences trigger (see proto/concord/v1/event.proto and
 * docs/account-view/key-events.md).
 *
 * Who may do what:
 *  - industry events are read by every signed-in user and written by
 *    managers and admins;
 *  - account events are read with their account and written by those who may
 *    edit it;
 *  - outreach tasks are seen with their account, created by anyone who sees
 *    it (they are for its owner) and completed by the assignee or by those
 *    who may edit the account.
 * Row-level security (0007_key_events.sql) enforces the same rules beneath
 * the checks here, so lists simply lose the rows of invisible accounts.
 *
 * Occurrences are computed here (recurrence.c) from the events that can
 * occur in the window; the accounts concerned and the tasks are then found
 * and written by one set-based statement each, so that an industry event
 * concerning thousands of accounts costs one query, not thousands.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "access.h"
#include "call.h"
#include "concord/v1/event.pb-c.h"
#include "records.h"
#include "recurrence.h"

#define KEY_SEP "\x1f" /* separates the sort key from the id in page tokens */

#define TASK_COLS                                                                             \
    "t.id, t.account_id, a.name, coalesce(t.event_id::text, ''), t.title,"                   \
    " to_char(t.due_date, 'YYYY-MM-DD'), t.assignee_id, t.status,"                            \
    " extract(epoch from t.done_at)::text"

/* Defaults and limits of ListUpcomingEvents. */
enum {
    UPCOMING_DAYS_DEFAULT = 30,
    UPCOMING_DAYS_MAX = 366,
    UPCOMING_ACCOUNTS_DEFAULT = 100,
    UPCOMING_ACCOUNTS_MAX = 1000,
    /* A window of at most 367 days holds at most two occurrences of a yearly event. */
    OCCURRENCES_PER_EVENT = 4,
};

/* ---- rows and checks ------------------------------------------------------ */

static Concord__V1__OutreachTask *task_from_row(srv_call *c, PGresult *r, int row)
{
    Concord__V1__OutreachTask *t = arena_alloc(c->arena, sizeof(*t));
    concord__v1__outreach_task__init(t);
    t->id = PQgetvalue(r, row, 0);
    t->account_id = PQgetvalue(r, row, 1);
    t->account_name = PQgetvalue(r, row, 2);
    t->event_id = PQgetvalue(r, row, 3);
    t->title = PQgetvalue(r, row, 4);
    t->due_date = PQgetvalue(r, row, 5);
    t->assignee_id = PQgetvalue(r, row, 6);
    t->status = srv_enum_from_db(&concord__v1__task_status__descriptor, PQgetvalue(r, row, 7));
    t->done_time = PQgetisnull(r, row, 8) ? NULL : srv_ts(c, PQgetvalue(r, row, 8));
    return t;
}

/* Length in characters of UTF-8 text (what PostgreSQL's length() counts). */
static size_t utf8_length(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

static int has_control_chars(const char *s, int allow_newlines)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch < 0x20 && !(allow_newlines && (ch == '\n' || ch == '\t' || ch == '\r')))
            return 1;
    }
    return 0;
}

static const char *or_empty(const char *s) { return s ? s : ""; }

/* Validates the user-settable fields of an event, naming them "event.<field>". */
static void check_event(srv_call *c, const Concord__V1__KeyEvent *e)
{
    const char *title = or_empty(e->title), *desc = or_empty(e->description);
    const char *industry = or_empty(e->industry), *account = or_empty(e->account_id);
    if (e->scope == 0)
        srv_violation(c, "event.scope", "is required: INDUSTRY_EVENT or ACCOUNT_EVENT");
    else if (!srv_enum_valid(&concord__v1__event_scope__descriptor, e->scope))
        srv_violation(c, "event.scope", "is not an event scope");
    if (!srv_enum_valid(&concord__v1__event_category__descriptor, e->category))
        srv_violation(c, "event.category", "is not an event category");
    size_t n = utf8_length(title);
    if (n == 0)
        srv_violation(c, "event.title", "must not be empty");
    else if (n > 200)
        srv_violation(c, "event.title", "must be at most 200 characters");
    else if (has_control_chars(title, 0))
        srv_violation(c, "event.title", "must be one line without control characters");
    if (utf8_length(desc) > 5000)
        srv_violation(c, "event.description", "must be at most 5000 characters");
    else if (has_control_chars(desc, 1))
        srv_violation(c, "event.description", "must not contain control characters");
    srv_rec_date d;
    if (srv_rec_parse(e->date, &d) != 0)
        srv_violation(c, "event.date", "must be a calendar date YYYY-MM-DD");
    if (!srv_enum_valid(&concord__v1__recurrence__descriptor, e->recurrence))
        srv_violation(c, "event.recurrence", "is not a recurrence");
    if (e->scope == CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT) {
        size_t len = utf8_length(industry);
        if (len == 0)
            srv_violation(c, "event.industry", "is required for industry events");
        else if (len > 100)
            srv_violation(c, "event.industry", "must be at most 100 characters");
        else if (has_control_chars(industry, 0))
            srv_violation(c, "event.industry", "must not contain control characters");
        if (*account)
            srv_violation(c, "event.account_id", "must be empty for industry events");
    } else if (e->scope == CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT) {
        if (*industry)
            srv_violation(c, "event.industry", "must be empty for account events");
        if (*account == '\0')
            srv_violation(c, "event.account_id", "is required for account events");
        else
            srv_parse_id(c, "event.account_id", account);
    }
}

static int is_manager_or_admin(const srv_call *c)
{
    return srv_is_admin(c) || (c->user.role && strcmp(c->user.role, "manager") == 0);
}

/*
 * Whether the caller may write this (visible) event: industry events need a
 * manager or an admin, account events edit access to the account.
 */
static int check_event_writable(srv_call *c, const Concord__V1__KeyEvent *e)
{
    if (e->scope == CONCORD__V1__EVENT_SCOPE__ACCOUNT_EVENT)
        return srv_account_access(c, "event.account_id", e->account_id, SRV_ACCESS_EDIT, NULL);
    if (!is_manager_or_admin(c))
        return srv_fail(c, CC_PERMISSION_DENIED,
                        "only managers and admins may create or change industry events");
    return CC_OK;
}

/* The parameters shared by INSERT and UPDATE ($1..$8), in column order. */
#define EVENT_PARAMS 8
static void event_params(srv_call *c, const Concord__V1__KeyEvent *e, const char **p)
{
    int industry = e->scope == CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT;
    p[0] = srv_enum_to_db(c, &concord__v1__event_scope__descriptor, e->scope);
    p[1] = srv_enum_to_db(c, &concord__v1__event_category__descriptor, e->category);
    p[2] = e->title;
    p[3] = or_empty(e->description);
    p[4] = e->date;
    p[5] = srv_enum_to_db(c, &concord__v1__recurrence__descriptor, e->recurrence);
    p[6] = industry ? e->industry : NULL;
    p[7] = industry ? NULL : e->account_id;
}

/* Reads one visible event, optionally locking it; NULL after recording NOT_FOUND. */
static Concord__V1__KeyEvent *load_event(srv_call *c, const char *field, const char *id_text,
                                         int for_update)
{
    static const char get[] = "SELECT " SRV_KEY_EVENT_COLS " FROM key_events e WHERE e.id = $1";
    static const char lock[] =
        "SELECT " SRV_KEY_EVENT_COLS " FROM key_events e WHERE e.id = $1 FOR NO KEY UPDATE";
    int64_t id = srv_parse_id(c, field, id_text);
    if (srv_check(c) != CC_OK)
        return NULL;
    PGresult *r = srv_sql(c, for_update ? lock : get, 1, srv_i64(c, id));
    if (r == NULL)
        return NULL;
    if (PQntuples(r) == 0) {
        srv_fail(c, CC_NOT_FOUND, "key event %s not found", id_text);
        return NULL;
    }
    return srv_key_event_from_row(c, r, 0);
}

/*
 * Reads an event the caller may change, locked until the end of the call;
 * NULL after NOT_FOUND or PERMISSION_DENIED. The first read is unlocked: a
 * locking read is filtered by the UPDATE policies too, which would turn
 * "you may not change it" into "not found" for those who may see it.
 */
static Concord__V1__KeyEvent *load_writable_event(srv_call *c, const char *field,
                                                  const char *id_text)
{
    Concord__V1__KeyEvent *e = load_event(c, field, id_text, 0);
    if (e == NULL || check_event_writable(c, e) != CC_OK)
        return NULL;
    return load_event(c, field, id_text, 1);
}

/* Splits a decoded page token "key<SEP>id"; records a violation and returns -1 if bad. */
static int split_token(srv_call *c, const char *key, const char **sort_key, const char **id)
{
    const char *sep = strrchr(key, KEY_SEP[0]);
    srv_rec_date d;
    if (sep == NULL || sep[1] == '\0' || strspn(sep + 1, "0123456789") != strlen(sep + 1) ||
        strlen(sep + 1) > 18 || srv_rec_parse(arena_strndup(c->arena, key, (size_t)(sep - key)),
                                              &d) != 0) {
        srv_violation(c, "page_token", "is not a page token from a previous response");
        return -1;
    }
    *sort_key = arena_strndup(c->arena, key, (size_t)(sep - key));
    *id = sep + 1;
    return 0;
}

/* ---- key events ----------------------------------------------------------- */

static int create_key_event(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CreateKeyEventRequest *req = (const void *)in;
    static const char sql[] =
        "WITH e AS (INSERT INTO key_events (scope, category, title, description, event_date,"
        "   recurrence, industry, account_id, created_by)"
        " VALUES ($1, $2, $3, $4, $5::date, $6, $7, $8::bigint, $9) RETURNING *)"
        " SELECT " SRV_KEY_EVENT_COLS " FROM e";
    if (req->event == NULL) {
        srv_violation(c, "event", "is required");
        return srv_check(c);
    }
    check_event(c, req->event);
    if (srv_check(c) != CC_OK || check_event_writable(c, req->event) != CC_OK)
        return c->code;
    const char *p[EVENT_PARAMS + 1];
    event_params(c, req->event, p);
    p[EVENT_PARAMS] = c->user.id ? c->user.id_text : NULL;
    PGresult *r = srv_sqlv(c, sql, EVENT_PARAMS + 1, p);
    if (r == NULL)
        return c->code;
    Concord__V1__KeyEvent *e = srv_key_event_from_row(c, r, 0);
    if (srv_audit(c, "create_key_event", "key_event", e->id, NULL, &e->base) != CC_OK)
        return c->code;
    *out = &e->base;
    return CC_OK;
}

/* Fields a client may change, by proto name; scope and account stay as created. */
static int apply_path(Concord__V1__KeyEvent *dst, const Concord__V1__KeyEvent *src,
                      const char *path)
{
#define COPY(f)                  \
    if (strcmp(path, #f) == 0) { \
        dst->f = src->f;         \
        return 0;                \
    }
    COPY(category) COPY(title) COPY(description) COPY(date) COPY(recurrence) COPY(industry)
#undef COPY
    return -1;
}

static int update_key_event(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__UpdateKeyEventRequest *req = (const void *)in;
    static const char sql[] =
        "WITH e AS (UPDATE key_events SET scope = $1, category = $2, title = $3,"
        "   description = $4, event_date = $5::date, recurrence = $6, industry = $7,"
        "   account_id = $8::bigint, version = version + 1, updated_at = now()"
        " WHERE id = $9 RETURNING *) SELECT " SRV_KEY_EVENT_COLS " FROM e";
    srv_check_update(c, "event", req->event, req->update_mask, req->version);
    if (srv_check(c) != CC_OK)
        return c->code;
    Concord__V1__KeyEvent *before = load_writable_event(c, "event.id", req->event->id);
    if (before == NULL)
        return c->code;
    if (before->version != req->version)
        return srv_fail(c, CC_ABORTED,
                        "key event %s is at version %lld, not %lld: read it again and retry",
                        before->id, (long long)before->version, (long long)req->version);
    Concord__V1__KeyEvent *after = arena_alloc(c->arena, sizeof(*after));
    *after = *before;
    for (size_t i = 0; i < req->update_mask->n_paths; i++) {
        const char *path = req->update_mask->paths[i];
        if (apply_path(after, req->event, path) != 0)
            srv_violation(c, "update_mask",
                          "\"%s\" cannot be changed (server-owned, fixed at creation or unknown):"
                          " to move an event, delete it and create another",
                          path);
    }
    if (srv_check(c) != CC_OK)
        return c->code;
    check_event(c, after);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *p[EVENT_PARAMS + 1];
    event_params(c, after, p);
    p[EVENT_PARAMS] = before->id;
    PGresult *r = srv_sqlv(c, sql, EVENT_PARAMS + 1, p);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "key event %s not found", before->id);
    Concord__V1__KeyEvent *updated = srv_key_event_from_row(c, r, 0);
    if (srv_audit(c, "update_key_event", "key_event", updated->id, &before->base,
                  &updated->base) != CC_OK)
        return c->code;
    *out = &updated->base;
    return CC_OK;
}

static int delete_key_event(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__DeleteKeyEventRequest *req = (const void *)in;
    /* Its tasks keep their copy of the title; the foreign key clears their link. */
    static const char sql[] = "DELETE FROM key_events WHERE id = $1";
    Concord__V1__KeyEvent *before = load_writable_event(c, "id", req->id);
    if (before == NULL)
        return c->code;
    PGresult *r = srv_sql(c, sql, 1, before->id);
    if (r == NULL)
        return c->code;
    if (strcmp(PQcmdTuples(r), "1") != 0)
        return srv_fail(c, CC_NOT_FOUND, "key event %s not found", before->id);
    if (srv_audit(c, "delete_key_event", "key_event", before->id, &before->base, NULL) != CC_OK)
        return c->code;
    Concord__V1__DeleteKeyEventResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__delete_key_event_response__init(resp);
    *out = &resp->base;
    return CC_OK;
}

static int list_key_events(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListKeyEventsRequest *req = (const void *)in;
    int size = srv_page_size(c, "page_size", req->page_size);
    if (!srv_enum_valid(&concord__v1__event_scope__descriptor, req->scope))
        srv_violation(c, "scope", "is not an event scope");
    const char *key = srv_page_token_decode(c, "page_token", req->page_token);
    const char *after_date = NULL, *after_id = NULL;
    if (key != NULL)
        split_token(c, key, &after_date, &after_id);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *account = or_empty(req->account_id);
    if (*account && srv_account_access(c, "account_id", account, SRV_ACCESS_READ, NULL) != CC_OK)
        return c->code;

    /* Filters become "AND ..." clauses with numbered parameters. */
    const char *params[8];
    int np = 0;
    char where[1024] = "WHERE true";
    size_t wl = strlen(where);
#define ADD_FILTER(fmt, value)                                           \
    do {                                                                 \
        params[np++] = (value);                                          \
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, fmt, np); \
    } while (0)
    if (req->scope)
        ADD_FILTER(" AND e.scope = $%d",
                   srv_enum_to_db(c, &concord__v1__event_scope__descriptor, req->scope));
    if (*account) {
        /* The account's own events and the events of its industry. */
        params[np++] = account;
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl,
                               " AND (e.account_id = $%d::bigint OR (e.account_id IS NULL AND"
                               " e.industry_key = (SELECT x.industry_key FROM accounts x"
                               " WHERE x.id = $%d::bigint)))",
                               np, np);
    }
    if (after_date != NULL) {
        params[np++] = after_date;
        params[np++] = after_id;
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl,
                               " AND (e.event_date, e.id) > ($%d::date, $%d::bigint)", np - 1, np);
    }
#undef ADD_FILTER
    params[np++] = srv_i64(c, size + 1);
    const char *sql = arena_printf(c->arena,
                                   "SELECT " SRV_KEY_EVENT_COLS " FROM key_events e %s"
                                   " ORDER BY e.event_date, e.id LIMIT $%d",
                                   where, np);
    PGresult *r = srv_sql_dynamic(c, sql, np, params);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    Concord__V1__ListKeyEventsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_key_events_response__init(resp);
    resp->events = arena_alloc(c->arena, sizeof(*resp->events) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->events[i] = srv_key_event_from_row(c, r, i);
    resp->n_events = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size) {
        const Concord__V1__KeyEvent *last = resp->events[shown - 1];
        resp->next_page_token = (char *)srv_page_token_encode(
            c, arena_printf(c->arena, "%s" KEY_SEP "%s", last->date, last->id));
    }
    *out = &resp->base;
    return CC_OK;
}

/* ---- upcoming occurrences ------------------------------------------------- */

/* One occurrence of a candidate event. */
typedef struct {
    srv_rec_date day;
    int event;   /* index into the candidate events */
    int64_t id;  /* the event's id, for ordering */
} occurrence;

static int occurrence_cmp(const void *a, const void *b)
{
    const occurrence *x = a, *y = b;
    int d = srv_rec_compare(x->day, y->day);
    if (d != 0)
        return d;
    return (x->id > y->id) - (x->id < y->id);
}

/* Appends "{a,b,c}" array text from n strings. */
static const char *array_text(srv_call *c, const char *const *items, size_t n)
{
    size_t len = 3;
    for (size_t i = 0; i < n; i++)
        len += strlen(items[i]) + 1;
    char *s = arena_alloc(c->arena, len);
    char *p = s;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        size_t k = strlen(items[i]);
        memcpy(p, items[i], k);
        p += k;
    }
    *p++ = '}';
    *p = '\0';
    return s;
}

/*
 * The accounts an event concerns, as a set: its own account, or every
 * non-archived account of its industry. Row-level security on accounts keeps
 * only those the caller may see. "ev" is the list of event ids (event_id).
 * Industry matching compares the stored lower-cased copies (industry_key)
 * with plain equality so that the accounts' index serves it under RLS.
 */
#define CONCERNED                                                                      \
    "SELECT o.event_id, a.id AS account_id, a.name, a.owner_id, e.title FROM ev o"     \
    " JOIN key_events e ON e.id = o.event_id JOIN accounts a ON a.id = e.account_id"   \
    " WHERE a.archived_at IS NULL"                                                     \
    " UNION ALL"                                                                       \
    " SELECT o.event_id, a.id, a.name, a.owner_id, e.title FROM ev o"                  \
    " JOIN key_events e ON e.id = o.event_id"                                          \
    " JOIN accounts a ON a.industry_key = e.industry_key"                              \
    " WHERE e.account_id IS NULL AND a.archived_at IS NULL"

/* Per event, the first max_accounts accounts by name and how many there are in all. */
#define CONCERNED_PAGE                                                                      \
    " r AS (SELECT t.event_id, t.account_id, t.name, t.owner_id,"                           \
    "   row_number() OVER (PARTITION BY t.event_id ORDER BY lower(t.name), t.account_id)"   \
    "     AS rn, count(*) OVER (PARTITION BY t.event_id) AS n FROM t)"

static int list_upcoming_events(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListUpcomingEventsRequest *req = (const void *)in;
    /* Events that can occur in [from, to]: yearly ones that started by then, single ones in it. */
    static const char candidates[] =
        "SELECT " SRV_KEY_EVENT_COLS " FROM key_events e"
        " WHERE (e.recurrence = 'yearly' AND e.event_date <= $2::date)"
        "    OR (e.recurrence IS NULL AND e.event_date BETWEEN $1::date AND $2::date)"
        " ORDER BY e.id";
    /* Per event (not per occurrence: the accounts are the same every year), the
     * accounts concerned; columns: event, account, name, owner, total, tasks created. */
    static const char concerned[] =
        "WITH ev AS (SELECT * FROM unnest($1::bigint[]) AS u(event_id)),"
        " t AS (" CONCERNED ")," CONCERNED_PAGE
        " SELECT r.event_id, r.account_id, r.name, r.owner_id, r.n, 0 FROM r WHERE r.rn <= $2"
        " ORDER BY r.event_id, r.rn";
    /* The same, also creating one task per (event, account, day) from the same set
     * of accounts, so that the accounts' row-level security runs once for both.
     * Existing tasks are skipped by the unique key alone: a NOT EXISTS probe
     * would run the tasks' own policy on every earlier task of the event. */
    static const char concerned_create[] =
        "WITH occ AS (SELECT * FROM unnest($1::bigint[], $2::date[]) AS u(event_id, day)),"
        " ev AS (SELECT DISTINCT occ.event_id FROM occ),"
        " t AS MATERIALIZED (" CONCERNED "),"
        " ins AS (INSERT INTO outreach_tasks (event_id, account_id, title, due_date, assignee_id)"
        "   SELECT t.event_id, t.account_id, t.title, o.day, t.owner_id"
        "   FROM t JOIN occ o ON o.event_id = t.event_id"
        "   ON CONFLICT (event_id, account_id, due_date) DO NOTHING RETURNING 1),"
        CONCERNED_PAGE
        " SELECT r.event_id, r.account_id, r.name, r.owner_id, r.n, (SELECT count(*) FROM ins)"
        " FROM r WHERE r.rn <= $3 ORDER BY r.event_id, r.rn";

    int days = req->within_days ? req->within_days : UPCOMING_DAYS_DEFAULT;
    if (days < 1 || days > UPCOMING_DAYS_MAX)
        srv_violation(c, "within_days", "must be between 1 and %d (0: %d)", UPCOMING_DAYS_MAX,
                      UPCOMING_DAYS_DEFAULT);
    int max_accounts = req->max_accounts ? req->max_accounts : UPCOMING_ACCOUNTS_DEFAULT;
    if (max_accounts < 1 || max_accounts > UPCOMING_ACCOUNTS_MAX)
        srv_violation(c, "max_accounts", "must be between 1 and %d (0: %d)",
                      UPCOMING_ACCOUNTS_MAX, UPCOMING_ACCOUNTS_DEFAULT);
    srv_rec_date from = srv_rec_from_unix((int64_t)time(NULL)); /* today, UTC */
    if (req->as_of && *req->as_of && srv_rec_parse(req->as_of, &from) != 0)
        srv_violation(c, "as_of", "must be a calendar date YYYY-MM-DD (empty: today)");
    if (srv_check(c) != CC_OK)
        return c->code;
    srv_rec_date to = srv_rec_from_days(srv_rec_to_days(from) + days);
    if (!srv_rec_valid(to)) {
        srv_violation(c, "as_of", "the window must end by 9999-12-31");
        return srv_check(c);
    }
    char from_text[SRV_REC_DATE_LEN], to_text[SRV_REC_DATE_LEN];
    srv_rec_format(from, from_text);
    srv_rec_format(to, to_text);

    PGresult *ev = srv_sql(c, candidates, 2, from_text, to_text);
    if (ev == NULL)
        return c->code;
    int n_events = PQntuples(ev);
    size_t n_slots = (size_t)n_events + 1;
    Concord__V1__KeyEvent **events = arena_alloc(c->arena, sizeof(*events) * n_slots);
    int64_t *ids = arena_alloc(c->arena, sizeof(*ids) * n_slots);
    occurrence *occ = arena_alloc(c->arena, sizeof(*occ) * n_slots * OCCURRENCES_PER_EVENT);
    size_t n_occ = 0;
    for (int i = 0; i < n_events; i++) {
        events[i] = srv_key_event_from_row(c, ev, i);
        ids[i] = strtoll(events[i]->id, NULL, 10);
        srv_rec_date first, days_out[OCCURRENCES_PER_EVENT];
        if (srv_rec_parse(events[i]->date, &first) != 0)
            return srv_fail(c, CC_INTERNAL, "key event %s has an unreadable date", events[i]->id);
        srv_rec_kind kind = events[i]->recurrence == CONCORD__V1__RECURRENCE__YEARLY
                                ? SRV_REC_YEARLY
                                : SRV_REC_ONCE;
        size_t k = srv_rec_occurrences(first, kind, from, to, days_out, OCCURRENCES_PER_EVENT);
        for (size_t j = 0; j < k; j++)
            occ[n_occ++] = (occurrence){days_out[j], i, ids[i]};
    }
    qsort(occ, n_occ, sizeof(*occ), occurrence_cmp);

    /* The accounts of every event that occurs, as (event index -> first row, count). */
    int *acc_first = arena_alloc(c->arena, sizeof(int) * (size_t)(n_events + 1));
    int *acc_rows = arena_alloc(c->arena, sizeof(int) * (size_t)(n_events + 1));
    int *acc_total = arena_alloc(c->arena, sizeof(int) * (size_t)(n_events + 1));
    memset(acc_rows, 0, sizeof(int) * (size_t)(n_events + 1));
    memset(acc_total, 0, sizeof(int) * (size_t)(n_events + 1));
    Concord__V1__AccountRef **refs = NULL;
    char **occ_days = arena_alloc(c->arena, sizeof(char *) * (n_occ ? n_occ : 1));
    for (size_t j = 0; j < n_occ; j++) {
        occ_days[j] = arena_alloc(c->arena, SRV_REC_DATE_LEN);
        srv_rec_format(occ[j].day, occ_days[j]);
    }
    int tasks_created = 0;
    if (n_occ > 0) {
        PGresult *ar;
        if (req->create_tasks) {
            const char **occ_ids = arena_alloc(c->arena, sizeof(char *) * n_occ);
            for (size_t j = 0; j < n_occ; j++)
                occ_ids[j] = events[occ[j].event]->id;
            ar = srv_sql(c, concerned_create, 3, array_text(c, occ_ids, n_occ),
                         array_text(c, (const char *const *)occ_days, n_occ),
                         srv_i64(c, max_accounts));
        } else {
            const char **id_items = arena_alloc(c->arena, sizeof(char *) * (size_t)n_events);
            char *occurs = arena_alloc(c->arena, (size_t)n_events);
            memset(occurs, 0, (size_t)n_events);
            for (size_t j = 0; j < n_occ; j++)
                occurs[occ[j].event] = 1;
            size_t n_ids = 0;
            for (int i = 0; i < n_events; i++)
                if (occurs[i])
                    id_items[n_ids++] = events[i]->id;
            ar = srv_sql(c, concerned, 2, array_text(c, id_items, n_ids),
                         srv_i64(c, max_accounts));
        }
        if (ar == NULL)
            return c->code;
        /* No account concerned means no task created either. */
        if (PQntuples(ar) > 0)
            tasks_created = atoi(PQgetvalue(ar, 0, 5));
        int rows = PQntuples(ar);
        refs = arena_alloc(c->arena, sizeof(*refs) * (size_t)(rows + 1));
        int ev_idx = -1;
        for (int row = 0; row < rows; row++) {
            int64_t id = strtoll(PQgetvalue(ar, row, 0), NULL, 10);
            /* Rows come by event id, as the candidates do: advance to the row's event. */
            while (ev_idx < n_events - 1 && (ev_idx < 0 || ids[ev_idx] != id))
                ev_idx++;
            if (ev_idx < 0 || ids[ev_idx] != id)
                return srv_fail(c, CC_INTERNAL, "accounts of key event %s out of order",
                                PQgetvalue(ar, row, 0));
            Concord__V1__AccountRef *ref = arena_alloc(c->arena, sizeof(*ref));
            concord__v1__account_ref__init(ref);
            ref->id = PQgetvalue(ar, row, 1);
            ref->name = PQgetvalue(ar, row, 2);
            ref->owner_id = PQgetvalue(ar, row, 3);
            refs[row] = ref;
            if (acc_rows[ev_idx]++ == 0)
                acc_first[ev_idx] = row;
            acc_total[ev_idx] = atoi(PQgetvalue(ar, row, 4));
        }
    }

    Concord__V1__ListUpcomingEventsResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_upcoming_events_response__init(resp);
    resp->events = arena_alloc(c->arena, sizeof(*resp->events) * (n_occ ? n_occ : 1));
    for (size_t j = 0; j < n_occ; j++) {
        int i = occ[j].event;
        Concord__V1__UpcomingEvent *u = arena_alloc(c->arena, sizeof(*u));
        concord__v1__upcoming_event__init(u);
        u->event = events[i];
        u->occurrence_date = occ_days[j];
        /* Occurrences of one event share its account list. */
        u->n_accounts = (size_t)acc_rows[i];
        u->accounts = acc_rows[i] ? &refs[acc_first[i]] : NULL;
        u->account_count = acc_total[i];
        resp->events[resp->n_events++] = u;
    }

    resp->tasks_created = tasks_created;
    if (tasks_created > 0) {
        /* One audit row per call that created tasks: the window and the count. */
        Concord__V1__ListUpcomingEventsRequest what;
        concord__v1__list_upcoming_events_request__init(&what);
        what.within_days = days;
        what.as_of = from_text;
        what.create_tasks = 1;
        Concord__V1__ListUpcomingEventsResponse count;
        concord__v1__list_upcoming_events_response__init(&count);
        count.tasks_created = tasks_created;
        if (srv_audit(c, "create_outreach_tasks", "outreach_task", "", &what.base, &count.base) !=
            CC_OK)
            return c->code;
    }
    *out = &resp->base;
    return CC_OK;
}

/* ---- outreach tasks --------------------------------------------------------- */

static int list_outreach_tasks(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__ListOutreachTasksRequest *req = (const void *)in;
    int size = srv_page_size(c, "page_size", req->page_size);
    if (!srv_enum_valid(&concord__v1__task_status__descriptor, req->status))
        srv_violation(c, "status", "is not a task status");
    const char *assignee = or_empty(req->assignee_id);
    if (strcmp(assignee, "me") == 0)
        assignee = c->user.id_text;
    else if (*assignee)
        srv_parse_id(c, "assignee_id", assignee);
    const char *key = srv_page_token_decode(c, "page_token", req->page_token);
    const char *after_date = NULL, *after_id = NULL;
    if (key != NULL)
        split_token(c, key, &after_date, &after_id);
    if (srv_check(c) != CC_OK)
        return c->code;
    const char *account = or_empty(req->account_id);
    if (*account && srv_account_access(c, "account_id", account, SRV_ACCESS_READ, NULL) != CC_OK)
        return c->code;

    const char *params[8];
    int np = 0;
    char where[512] = "WHERE true";
    size_t wl = strlen(where);
#define ADD_FILTER(fmt, value)                                           \
    do {                                                                 \
        params[np++] = (value);                                          \
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl, fmt, np); \
    } while (0)
    if (req->status)
        ADD_FILTER(" AND t.status = $%d",
                   srv_enum_to_db(c, &concord__v1__task_status__descriptor, req->status));
    if (*assignee)
        ADD_FILTER(" AND t.assignee_id = $%d::bigint", assignee);
    if (*account)
        ADD_FILTER(" AND t.account_id = $%d::bigint", account);
    if (after_date != NULL) {
        params[np++] = after_date;
        params[np++] = after_id;
        wl += (size_t)snprintf(where + wl, sizeof(where) - wl,
                               " AND (t.due_date, t.id) > ($%d::date, $%d::bigint)", np - 1, np);
    }
#undef ADD_FILTER
    params[np++] = srv_i64(c, size + 1);
    const char *sql = arena_printf(c->arena,
                                   "SELECT " TASK_COLS " FROM outreach_tasks t"
                                   " JOIN accounts a ON a.id = t.account_id %s"
                                   " ORDER BY t.due_date, t.id LIMIT $%d",
                                   where, np);
    PGresult *r = srv_sql_dynamic(c, sql, np, params);
    if (r == NULL)
        return c->code;
    int rows = PQntuples(r);
    int shown = rows > size ? size : rows;
    Concord__V1__ListOutreachTasksResponse *resp = arena_alloc(c->arena, sizeof(*resp));
    concord__v1__list_outreach_tasks_response__init(resp);
    resp->tasks = arena_alloc(c->arena, sizeof(*resp->tasks) * (size_t)(shown ? shown : 1));
    for (int i = 0; i < shown; i++)
        resp->tasks[i] = task_from_row(c, r, i);
    resp->n_tasks = (size_t)shown;
    resp->next_page_token = "";
    if (rows > size) {
        const Concord__V1__OutreachTask *last = resp->tasks[shown - 1];
        resp->next_page_token = (char *)srv_page_token_encode(
            c, arena_printf(c->arena, "%s" KEY_SEP "%s", last->due_date, last->id));
    }
    *out = &resp->base;
    return CC_OK;
}

static int complete_outreach_task(srv_call *c, const ProtobufCMessage *in, ProtobufCMessage **out)
{
    const Concord__V1__CompleteOutreachTaskRequest *req = (const void *)in;
    /* Not locked: a locking read would also apply the UPDATE policy and answer
     * NOT_FOUND where PERMISSION_DENIED is the truth. The update below only
     * touches an open task, so two concurrent completions write once. */
    static const char get[] =
        "SELECT " TASK_COLS ", account_editable(a.id, a.owner_id) FROM outreach_tasks t"
        " JOIN accounts a ON a.id = t.account_id WHERE t.id = $1";
    static const char done[] =
        "WITH t AS (UPDATE outreach_tasks SET status = 'task_done', done_at = now(),"
        "   done_by = $2 WHERE id = $1 AND status = 'task_open' RETURNING *)"
        " SELECT " TASK_COLS " FROM t JOIN accounts a ON a.id = t.account_id";
    int64_t id = srv_parse_id(c, "id", req->id);
    if (srv_check(c) != CC_OK)
        return c->code;
    PGresult *r = srv_sql(c, get, 1, srv_i64(c, id));
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0)
        return srv_fail(c, CC_NOT_FOUND, "outreach task %s not found", req->id);
    Concord__V1__OutreachTask *before = task_from_row(c, r, 0);
    int editable = PQgetvalue(r, 0, 9)[0] == 't';
    if (!editable && strcmp(before->assignee_id, c->user.id_text) != 0)
        return srv_fail(c, CC_PERMISSION_DENIED,
                        "outreach task %s is assigned to someone else: only the assignee and "
                        "those who may edit account %s can complete it",
                        before->id, before->account_id);
    if (before->status == CONCORD__V1__TASK_STATUS__TASK_DONE) {
        *out = &before->base; /* completing twice changes nothing */
        return CC_OK;
    }
    r = srv_sql(c, done, 2, before->id, c->user.id ? c->user.id_text : NULL);
    if (r == NULL)
        return c->code;
    if (PQntuples(r) == 0) {
        /* Completed by someone else meanwhile: answer with the task as it is now. */
        r = srv_sql(c, get, 1, before->id);
        if (r == NULL)
            return c->code;
        if (PQntuples(r) == 0)
            return srv_fail(c, CC_NOT_FOUND, "outreach task %s not found", before->id);
        *out = &task_from_row(c, r, 0)->base;
        return CC_OK;
    }
    Concord__V1__OutreachTask *after = task_from_row(c, r, 0);
    if (srv_audit(c, "complete_outreach_task", "outreach_task", after->id, &before->base,
                  &after->base) != CC_OK)
        return c->code;
    *out = &after->base;
    return CC_OK;
}

static const srv_method methods[] = {
    {"CreateKeyEvent", create_key_event, SRV_WRITE},
    {"UpdateKeyEvent", update_key_event, SRV_WRITE},
    {"DeleteKeyEvent", delete_key_event, SRV_WRITE},
    {"ListKeyEvents", list_key_events, 0},
    /* A write: with create_tasks it creates tasks, and idempotency keys must work. */
    {"ListUpcomingEvents", list_upcoming_events, SRV_WRITE},
    {"ListOutreachTasks", list_outreach_tasks, 0},
    {"CompleteOutreachTask", complete_outreach_task, SRV_WRITE},
    {NULL, NULL, 0},
};

const srv_service srv_key_event_service = {&concord__v1__key_event_service__descriptor, methods};
