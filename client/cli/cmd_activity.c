/*
 * cmd_activity.c - concord CLI commands for proto/concord/v1/activity.proto:
 * `concord activity create|get|list|import` and `concord account timeline`.
 *
 * Hooks cover what a row cannot say: the time of an activity (--at, RFC 3339,
 * default now) and the timeline's repeated --type filter. The import is the
 * shared NDJSON importer (cli_import.c) on BulkCreateActivities.
 */
#include "cli.h"
#include "concord/v1/activity.pb-c.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const cli_flag create_flags[] = {
    {"account", "ID", "activity.account_id", CLI_F_REQUIRED, "the account"},
    {"kind", "KIND", "activity.kind", CLI_F_REQUIRED,
     "meeting, call, email, visit, note, demo or training"},
    {"subject", "TEXT", "activity.subject", CLI_F_REQUIRED, "one line, 1-200 characters"},
    {"at", "TIME", NULL, 0, "when it happened, RFC 3339 (2026-11-20T10:00:00Z); default now"},
    {"stakeholder", "ID", "activity.stakeholder_ids", 0,
     "a stakeholder involved; repeat the flag for several"},
    {"user", "ID", "activity.user_ids", 0, "one of our users involved (you are added)"},
    {"notes", "TEXT", "activity.notes", 0, "free-form notes"},
    {"idempotency-key", "KEY", NULL, CLI_F_IDEM,
     "retrying with the same key records the activity only once"},
    {0},
};

static const cli_flag list_flags[] = {
    {"account", "ID", "account_id", CLI_F_REQUIRED, "the account"},
    {"kind", "KIND", "kind", 0, "only this kind"},
    {"stakeholder", "ID", "stakeholder_id", 0, "only activities with this stakeholder"},
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"},
    {0},
};

static const cli_flag timeline_flags[] = {
    {"type", "TYPE", NULL, 0, "only activity, stage, tier or audit entries; repeat for several"},
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"},
    {0},
};

/* clang-format off */
static const cli_column activity_columns[] = {
    {"ID", "id"},
    {"TIME", "occur_time"},
    {"KIND", "kind"},
    {"SUBJECT", "subject"},
    {"STAKEHOLDERS", "stakeholder_ids"},
    {"USERS", "user_ids"},
    {0},
};

static const cli_column timeline_columns[] = {
    {"TIME", "time"},
    {"TYPE", "type"},
    {"TITLE", "title"},
    {"DETAIL", "detail"},
    {"ACTOR", "actor_id"},
    {"REF", "ref_id"},
    {0},
};
/* clang-format on */

static int digits(const char *s, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

/*
 * Parses an RFC 3339 time: "2026-11-20T10:00:00Z", fractional seconds and a
 * "+02:00" offset allowed, 't'/'z' and a space accepted as well.
 */
static int parse_rfc3339(const char *s, int64_t *seconds, int32_t *nanos)
{
    int y, mo, d, h, mi, sec;
    if (strlen(s) < 20 || digits(s, 4, &y) || s[4] != '-' || digits(s + 5, 2, &mo) || s[7] != '-' ||
        digits(s + 8, 2, &d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
        digits(s + 11, 2, &h) || s[13] != ':' || digits(s + 14, 2, &mi) || s[16] != ':' ||
        digits(s + 17, 2, &sec))
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60)
        return -1;
    const char *p = s + 19;
    int32_t ns = 0;
    if (*p == '.') {
        int scale = 100000000, n = 0;
        for (p++; isdigit((unsigned char)*p); p++, n++) {
            ns += (int32_t)((*p - '0') * scale);
            scale /= 10;
        }
        if (n == 0 || n > 9)
            return -1;
    }
    int offset = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh, om;
        if (digits(p + 1, 2, &oh) || p[3] != ':' || digits(p + 4, 2, &om) || oh > 23 || om > 59)
            return -1;
        offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    struct tm tm = {0};
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    time_t t = timegm(&tm);
    /* timegm normalises 2026-02-31 to March: such a date was not a date. */
    if (tm.tm_mday != d || tm.tm_mon != mo - 1)
        return -1;
    *seconds = (int64_t)t - offset;
    *nanos = ns;
    return 0;
}

static int create_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__CreateActivityRequest *req = (Concord__V1__CreateActivityRequest *)m;
    Google__Protobuf__Timestamp *ts = arena_alloc(&ctx->arena, sizeof(*ts));
    google__protobuf__timestamp__init(ts);
    const char *at = cli_flag_value(ctx, "at");
    if (at) {
        if (parse_rfc3339(at, &ts->seconds, &ts->nanos) != 0)
            return cli_usage("--at: '%s' is not an RFC 3339 time such as 2026-11-20T10:00:00Z", at);
    } else {
        struct timespec now;
        clock_gettime(CLOCK_REALTIME, &now);
        ts->seconds = now.tv_sec;
    }
    req->activity->occur_time = ts;
    return CLI_EXIT_OK;
}

static const struct {
    const char *name;
    Concord__V1__TimelineEntryType type;
} timeline_types[] = {
    {"activity", CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_ACTIVITY},
    {"stage", CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_STAGE_CHANGE},
    {"tier", CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_TIER_CHANGE},
    {"audit", CONCORD__V1__TIMELINE_ENTRY_TYPE__TIMELINE_AUDIT},
};
enum { N_TIMELINE_TYPES = sizeof(timeline_types) / sizeof(timeline_types[0]) };

static int timeline_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__GetAccountTimelineRequest *req = (Concord__V1__GetAccountTimelineRequest *)m;
    req->types = arena_alloc(&ctx->arena, (ctx->n_given + 1) * sizeof(*req->types));
    for (size_t i = 0; i < ctx->n_given; i++) {
        if (strcmp(ctx->given[i].flag->name, "type") != 0)
            continue;
        const char *v = ctx->given[i].value;
        int k = 0;
        while (k < N_TIMELINE_TYPES && strcmp(v, timeline_types[k].name) != 0)
            k++;
        if (k == N_TIMELINE_TYPES)
            return cli_usage("--type: expected one of activity, stage, tier, audit (got '%s')", v);
        req->types[req->n_types++] = timeline_types[k].type;
    }
    return CLI_EXIT_OK;
}

/* ---- import ---------------------------------------------------------------------------- */

static int import_run(cli_ctx *ctx)
{
    static const cli_import imp = {
        .method = "concord.v1.ActivityService/BulkCreateActivities",
        .request = &concord__v1__bulk_create_activities_request__descriptor,
        .field = "activities",
        .item = &concord__v1__activity__descriptor,
        .response = &concord__v1__bulk_create_activities_response__descriptor,
        .batch = 5000,
        .what = "activities",
    };
    return cli_import_ndjson(ctx, &imp);
}

static const cli_flag import_flags[] = {
    CLI_IMPORT_FLAGS,
    {0},
};

const cli_cmd cli_activity_commands[] = {
    {.noun = "activity",
     .verb = "create",
     .method = "concord.v1.ActivityService/CreateActivity",
     .flags = create_flags,
     .prepare = create_prepare,
     .summary = "Record an activity with the customer",
     .help = "Records a meeting, call, email, visit, note, demo or training with an account. "
             "--stakeholder names the customer's people involved (of the same account), --user "
             "our users; you are added to the users. --at is when it happened (default now, at "
             "most a year ahead)."},
    {.noun = "activity",
     .verb = "get",
     .method = "concord.v1.ActivityService/GetActivity",
     .args = "ID",
     .arg_field = "id",
     .summary = "Show one activity",
     .help = "Shows one activity with its stakeholders and users."},
    {.noun = "activity",
     .verb = "list",
     .method = "concord.v1.ActivityService/ListActivities",
     .flags = list_flags,
     .columns = activity_columns,
     .summary = "List an account's activities, newest first",
     .help = "Lists the activities of an account, newest first, optionally only of one kind or "
             "with one stakeholder."},
    {.noun = "activity",
     .verb = "import",
     .args = "FILE",
     .flags = import_flags,
     .run = import_run,
     .summary = "Import activities from an NDJSON file",
     .help = "Reads one Activity per line in proto3 JSON (e.g. {\"accountId\": \"12\", \"kind\": "
             "\"MEETING\", \"subject\": \"Kick-off\", \"occurTime\": \"2026-03-01T09:00:00Z\"}; "
             "FILE - is standard input) and records them with BulkCreateActivities in batches of "
             "5000, printing progress on standard error. Each batch is all or nothing: the import "
             "stops at the first batch that fails, names its lines, keeps the batches before it "
             "and says how to resume (--skip)."},
    {.noun = "account",
     .verb = "timeline",
     .method = "concord.v1.ActivityService/GetAccountTimeline",
     .args = "ACCOUNT",
     .arg_field = "account_id",
     .flags = timeline_flags,
     .columns = timeline_columns,
     .prepare = timeline_prepare,
     .summary = "Show an account's timeline, newest first",
     .help = "Merges activities, lifecycle stage changes, tier changes and account audit "
             "highlights (created, updated, merged, archived) into one list, newest first."},
    {0},
};
