/*
 * cmd_activity.c - concord CLI commands for proto/concord/v1/activity.proto:
 * `concord activity create|get|list|import` and `concord account timeline`.
 *
 * Hooks cover what a row cannot say: the time of an activity (--at, RFC 3339,
 * default now), the timeline's repeated --type filter, and the import, which
 * streams an NDJSON file to BulkCreateActivities in batches. An import is all
 * or nothing per batch: batches before a failed one stay imported, the failed
 * one wrote nothing, and the run stops there naming the lines concerned.
 */
#include "cli.h"
#include "concord/v1/activity.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include "pjson.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

/* Activities per BulkCreateActivities call, and the request size that also
 * ends a batch (below the server's default 4 MiB frame limit). */
enum { IMPORT_BATCH = 5000 };
#define IMPORT_MAX_BYTES (3u << 20)

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

static double now_seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return 0;
    return 1;
}

/* The number of non-blank lines of a regular file (read twice), else 0 (unknown). */
static size_t count_lines(FILE *f)
{
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode))
        return 0; /* a pipe cannot be read twice */
    size_t n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) >= 0)
        n += !blank(line);
    free(line);
    if (fseek(f, 0, SEEK_SET) != 0)
        return 0;
    return n;
}

/* One batch being filled: decoded activities and their line numbers. */
typedef struct import_batch {
    Concord__V1__Activity *items[IMPORT_BATCH];
    size_t lines[IMPORT_BATCH];
    size_t n;
    size_t bytes;
} import_batch;

static void batch_clear(import_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        protobuf_c_message_free_unpacked(&b->items[i]->base, NULL);
    b->n = 0;
    b->bytes = 0;
}

/* Rewrites "activities[7].subject" as "line 1234: activities[7].subject" for people. */
static void print_mapped(const import_batch *b, const char *text, const char *description)
{
    const char *p = strstr(text, "activities[");
    if (p) {
        char *end;
        errno = 0;
        unsigned long i = strtoul(p + 11, &end, 10);
        if (errno == 0 && *end == ']' && i < b->n) {
            fprintf(stderr, "  line %zu: %s%s%s\n", b->lines[i], text, description ? ": " : "",
                    description ? description : "");
            return;
        }
    }
    fprintf(stderr, "  %s%s%s\n", text, description ? ": " : "", description ? description : "");
}

/* Sends one batch; on failure explains it line by line and returns the exit code. */
static int batch_send(cli_ctx *ctx, import_batch *b, size_t *imported)
{
    if (b->n == 0)
        return CLI_EXIT_OK;
    Concord__V1__BulkCreateActivitiesRequest req =
        CONCORD__V1__BULK_CREATE_ACTIVITIES_REQUEST__INIT;
    req.activities = b->items;
    req.n_activities = b->n;
    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    int code = cc_invoke(ctx->conn, "concord.v1.ActivityService/BulkCreateActivities", &req.base,
                         &concord__v1__bulk_create_activities_response__descriptor, &resp, &st);
    if (code != CC_OK) {
        if (b->n == 1)
            fprintf(stderr, "concord: the batch of line %zu failed", b->lines[0]);
        else
            fprintf(stderr, "concord: the batch of lines %zu-%zu failed", b->lines[0],
                    b->lines[b->n - 1]);
        fprintf(stderr,
                " and nothing of it was imported (%zu activities were imported before "
                "it)\n",
                *imported);
        size_t nv = st ? st->n_violations : 0;
        const char *msg = st && st->message ? st->message : "";
        /* One violation is the message itself: say it once, with its line. */
        fprintf(stderr, "concord: %s%s%s\n", cc_code_name(code), nv == 1 ? "" : ": ",
                nv == 1 ? "" : msg);
        if (nv == 0 && msg[0])
            print_mapped(b, msg, NULL);
        for (size_t i = 0; i < nv; i++)
            print_mapped(b, st->violations[i]->field, st->violations[i]->description);
        return cli_exit_for(code);
    }
    *imported += (size_t)((Concord__V1__BulkCreateActivitiesResponse *)resp)->created;
    protobuf_c_message_free_unpacked(resp, NULL);
    batch_clear(b);
    return CLI_EXIT_OK;
}

/*
 * Makes one small authenticated call first: the server accepts only small
 * frames until a connection has authenticated, and a bad token should stop
 * the import before it reads the file.
 */
static int import_hello(cli_ctx *ctx)
{
    Concord__V1__WhoAmIRequest req = CONCORD__V1__WHO_AM_IREQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    int code = cc_invoke(ctx->conn, "concord.v1.AuthService/WhoAmI", &req.base,
                         &concord__v1__who_am_iresponse__descriptor, &resp, &st);
    protobuf_c_message_free_unpacked(resp, NULL);
    return code == CC_OK ? CLI_EXIT_OK : cli_fail_status(ctx, st, code);
}

static int import_run(cli_ctx *ctx)
{
    const char *path = ctx->args[0];
    int from_stdin = strcmp(path, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(path, "r");
    if (f == NULL)
        return cli_error("cannot open %s: %s", path, strerror(errno));
    size_t total = count_lines(f);
    import_batch *b = calloc(1, sizeof(*b));
    char *line = NULL;
    size_t cap = 0, line_no = 0, imported = 0;
    int rc = b ? cli_connect(ctx, 1) : cli_error("out of memory");
    if (rc == CLI_EXIT_OK)
        rc = import_hello(ctx);
    double start = now_seconds();
    ssize_t len;
    while (rc == CLI_EXIT_OK && (len = getline(&line, &cap, f)) >= 0) {
        line_no++;
        if (blank(line))
            continue;
        ProtobufCMessage *m = NULL;
        pjson_error err;
        if (pjson_decode(&concord__v1__activity__descriptor, line, (size_t)len, NULL, &m, &err) !=
            0) {
            fprintf(stderr,
                    "concord: line %zu is not an Activity in JSON: %s%s%s (the batch from line %zu "
                    "was not sent; %zu activities were imported before it)\n",
                    line_no, err.field, err.field[0] ? ": " : "", err.description,
                    b->n ? b->lines[0] : line_no, imported);
            rc = CLI_EXIT_USAGE;
            break;
        }
        size_t sz = protobuf_c_message_get_packed_size(m);
        if (b->n > 0 && b->bytes + sz > IMPORT_MAX_BYTES)
            rc = batch_send(ctx, b, &imported);
        if (rc != CLI_EXIT_OK) {
            protobuf_c_message_free_unpacked(m, NULL);
            break;
        }
        b->items[b->n] = (Concord__V1__Activity *)m;
        b->lines[b->n] = line_no;
        b->n++;
        b->bytes += sz + 4;
        if (b->n == IMPORT_BATCH) {
            rc = batch_send(ctx, b, &imported);
            if (rc == CLI_EXIT_OK) {
                double secs = now_seconds() - start;
                if (total)
                    fprintf(stderr, "imported %zu/%zu (%.0f/s)\n", imported, total,
                            secs > 0 ? (double)imported / secs : 0.0);
                else
                    fprintf(stderr, "imported %zu (%.0f/s)\n", imported,
                            secs > 0 ? (double)imported / secs : 0.0);
            }
        }
    }
    if (rc == CLI_EXIT_OK && ferror(f))
        rc = cli_error("reading %s: %s", path, strerror(errno));
    if (rc == CLI_EXIT_OK)
        rc = batch_send(ctx, b, &imported);
    if (rc == CLI_EXIT_OK) {
        double secs = now_seconds() - start;
        double rate = secs > 0 ? (double)imported / secs : 0.0;
        if (ctx->output == CLI_OUT_JSON)
            printf("{\n  \"created\": %zu\n}\n", imported);
        else
            printf("Imported %zu activities in %.1f s (%.0f/s).\n", imported, secs, rate);
    }
    if (b)
        batch_clear(b);
    free(b);
    free(line);
    if (!from_stdin)
        fclose(f);
    return rc;
}

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
     .run = import_run,
     .summary = "Import activities from an NDJSON file",
     .help = "Reads one Activity per line in proto3 JSON (e.g. {\"accountId\": \"12\", \"kind\": "
             "\"MEETING\", \"subject\": \"Kick-off\", \"occurTime\": \"2026-03-01T09:00:00Z\"}; "
             "FILE - is standard input) and records them with BulkCreateActivities in batches of "
             "5000, printing progress on standard error. Each batch is all or nothing: the import "
             "stops at the first batch that fails, names its lines, and keeps the batches before "
             "it."},
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
