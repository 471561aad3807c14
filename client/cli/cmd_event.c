/*
 * cmd_event.c - concord CLI commands for the key-event calendar and outreach
 * tasks (proto/concord/v1/event.proto): `events upcoming`, `event create |
 * list | update | delete`, `task list | done`.
 *
 * Most rows are generic. Two hooks cover what a row cannot say: short
 * spellings of enum values ("--scope industry" for INDUSTRY_EVENT, "--status
 * open" for TASK_OPEN, "--category other") and switches that stand for a
 * value (--yearly, --mine) are rewritten before the generic path runs; and
 * `events upcoming` takes "--within 30d" and prints the occurrences with the
 * accounts they concern as one table.
 */
#include "cli.h"
#include "concord/v1/event.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- flags ------------------------------------------------------------------ */

/* clang-format off */
#define EVENT_PAGE_FLAGS                                                                    \
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},  \
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},             \
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"}

/* The changeable fields of an event, shared by create and update. */
#define EVENT_FIELD_FLAGS                                                                   \
    {"category", "CATEGORY", "event.category", 0,                                           \
     "ranking, policy, assessment, anniversary, leadership-change or other"},               \
    {"description", "TEXT", "event.description", 0, "more detail"},                        \
    {"yearly", NULL, "event.recurrence", 0,                                                 \
     "repeats every year (29 February falls on 28 February in other years)"},               \
    {"industry", "TEXT", "event.industry", 0,                                               \
     "industry events: the industry (matched against accounts, any case)"}
/* clang-format on */

static const cli_flag upcoming_flags[] = {
    {"within", "DAYS", NULL, 0, "window after --as-of: 30d or 30 (default 30, max 366)"},
    {"as-of", "DATE", "as_of", 0, "first day of the window, YYYY-MM-DD (default today, UTC)"},
    {"create-tasks", NULL, "create_tasks", 0,
     "create an outreach task per occurrence and account, once"},
    {"max-accounts", "N", "max_accounts", 0, "accounts listed per occurrence (default 100)"},
    {"idempotency-key", "KEY", NULL, CLI_F_IDEM, "a retry with the same key writes nothing again"},
    {0},
};

static const cli_flag event_create_flags[] = {
    {"scope", "SCOPE", "event.scope", CLI_F_REQUIRED,
     "industry (every account of --industry) or account (--account)"},
    {"title", "TEXT", "event.title", CLI_F_REQUIRED, "one line, 1-200 characters"},
    {"date", "DATE", "event.date", CLI_F_REQUIRED, "YYYY-MM-DD (the first one for --yearly)"},
    {"account", "ID", "event.account_id", 0, "account events: the account"},
    EVENT_FIELD_FLAGS,
    {"idempotency-key", "KEY", NULL, CLI_F_IDEM, "retrying with the same key creates one event"},
    {0},
};

static const cli_flag event_update_flags[] = {
    {"version", "N", "version", CLI_F_REQUIRED, "the version you read; a newer one is a conflict"},
    {"title", "TEXT", "event.title", 0, "one line, 1-200 characters"},
    {"date", "DATE", "event.date", 0, "YYYY-MM-DD"},
    {"once", NULL, "event.recurrence", CLI_F_CLEAR, "does not repeat (undoes --yearly)"},
    EVENT_FIELD_FLAGS,
    {0},
};

static const cli_flag event_list_flags[] = {
    {"scope", "SCOPE", "scope", 0, "only industry or only account events"},
    {"account", "ID", "account_id", 0, "only events of this account and of its industry"},
    EVENT_PAGE_FLAGS,
    {0},
};

static const cli_flag task_list_flags[] = {
    {"status", "STATUS", "status", 0, "open or done"},
    {"mine", NULL, "assignee_id", 0, "only tasks assigned to you"},
    {"assignee", "USER_ID", "assignee_id", 0, "only tasks assigned to this user"},
    {"account", "ID", "account_id", 0, "only tasks of this account"},
    EVENT_PAGE_FLAGS,
    {0},
};

/* clang-format off */
static const cli_column event_columns[] = {
    {"ID", "id"},
    {"DATE", "date"},
    {"REPEATS", "recurrence"},
    {"SCOPE", "scope"},
    {"CATEGORY", "category"},
    {"TITLE", "title"},
    {"INDUSTRY", "industry"},
    {"ACCOUNT", "account_id"},
    {"VERSION", "version"},
    {0},
};

static const cli_column task_columns[] = {
    {"ID", "id"},
    {"DUE", "due_date"},
    {"STATUS", "status"},
    {"ACCOUNT", "account_name"},
    {"TITLE", "title"},
    {"ASSIGNEE", "assignee_id"},
    {"DONE", "done_time"},
    {0},
};
/* clang-format on */

/* ---- hooks ------------------------------------------------------------------ */

/*
 * Values given on the command line and what the request needs instead. A
 * NULL `from` names a switch that stands for the value `to`.
 */
static const struct {
    const char *flag;
    const char *from;
    const char *to;
} rewrites[] = {
    {"scope", "industry", "INDUSTRY_EVENT"},
    {"scope", "account", "ACCOUNT_EVENT"},
    {"category", "other", "OTHER_EVENT"},
    {"status", "open", "TASK_OPEN"},
    {"status", "done", "TASK_DONE"},
    {"yearly", NULL, "YEARLY"},
    {"mine", NULL, "me"},
};

/* Rewrites the given flags (see rewrites), then runs the row as a generic command. */
static int rewrite_run(cli_ctx *ctx)
{
    for (size_t i = 0; i < ctx->n_given; i++) {
        cli_given *g = &ctx->given[i];
        for (size_t j = 0; j < sizeof(rewrites) / sizeof(rewrites[0]); j++) {
            if (strcmp(g->flag->name, rewrites[j].flag) != 0)
                continue;
            if (rewrites[j].from == NULL ||
                (g->value && strcasecmp(g->value, rewrites[j].from) == 0)) {
                g->value = rewrites[j].to;
                break;
            }
        }
    }
    const cli_cmd *row = ctx->cmd;
    cli_cmd generic = *row;
    generic.run = NULL;
    ctx->cmd = &generic;
    int rc = cli_run(ctx);
    ctx->cmd = row;
    return rc;
}

/* --within: "30d" or "30". */
static int upcoming_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__ListUpcomingEventsRequest *req = (Concord__V1__ListUpcomingEventsRequest *)m;
    const char *within = cli_flag_value(ctx, "within");
    if (within == NULL)
        return CLI_EXIT_OK;
    char *end;
    long days = strtol(within, &end, 10);
    if (end == within || (*end != '\0' && strcmp(end, "d") != 0) || days < 1 || days > 366)
        return cli_usage("--within: expected a number of days from 1 to 366, like 30d or 30");
    req->within_days = (int32_t)days;
    return CLI_EXIT_OK;
}

/* Appends text to buf (of len bytes) if it fits in width display columns; 0 if not. */
static int append_fits(char *buf, size_t len, const char *text, size_t width)
{
    size_t have = 0, add = 0;
    for (const char *p = buf; *p; p++)
        have += ((unsigned char)*p & 0xC0) != 0x80;
    for (const char *p = text; *p; p++)
        add += ((unsigned char)*p & 0xC0) != 0x80;
    if (have + add > width || strlen(buf) + strlen(text) + 1 > len)
        return 0;
    strcat(buf, text);
    return 1;
}

/* "A, B, C (+N more)" within about 60 columns. */
static const char *account_names(cli_ctx *ctx, const Concord__V1__UpcomingEvent *u)
{
    char buf[512] = "";
    size_t shown = 0;
    for (size_t i = 0; i < u->n_accounts; i++) {
        if (!append_fits(buf, sizeof buf, i ? ", " : "", 60) ||
            !append_fits(buf, sizeof buf, u->accounts[i]->name, 60)) {
            /* Drop a dangling separator. */
            size_t n = strlen(buf);
            if (n >= 2 && strcmp(buf + n - 2, ", ") == 0)
                buf[n - 2] = '\0';
            break;
        }
        shown++;
    }
    size_t total = u->account_count > 0 ? (size_t)u->account_count : u->n_accounts;
    if (total > shown) {
        char more[48];
        snprintf(more, sizeof more, "%s(+%zu more)", shown ? " " : "", total - shown);
        strncat(buf, more, sizeof buf - strlen(buf) - 1);
    }
    return arena_strdup(&ctx->arena, buf);
}

static const char *scope_text(cli_ctx *ctx, const Concord__V1__KeyEvent *e)
{
    if (e->scope == CONCORD__V1__EVENT_SCOPE__INDUSTRY_EVENT)
        return arena_printf(&ctx->arena, "industry: %s", e->industry);
    return arena_printf(&ctx->arena, "account %s", e->account_id);
}

static int upcoming_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    static const cli_column cols[] = {
        {"DATE", NULL}, {"EVENT", NULL}, {"SCOPE", NULL}, {"ACCOUNTS", NULL}, {0},
    };
    const Concord__V1__ListUpcomingEventsResponse *resp =
        (const Concord__V1__ListUpcomingEventsResponse *)m;
    int rc = CLI_EXIT_OK;
    if (ctx->output == CLI_OUT_JSON) {
        rc = cli_print_json(m);
    } else {
        cli_table t;
        cli_table_init(&t, cols);
        t.cells = arena_alloc(&ctx->arena, (resp->n_events + 1) * t.n_cols * sizeof(char *));
        t.cap_rows = resp->n_events + 1;
        for (size_t i = 0; i < resp->n_events; i++) {
            const Concord__V1__UpcomingEvent *u = resp->events[i];
            const Concord__V1__KeyEvent *e = u->event;
            char **row = t.cells + t.n_rows * t.n_cols;
            row[0] = u->occurrence_date;
            row[1] = e && e->title[0] ? e->title : "-";
            row[2] = e ? (char *)scope_text(ctx, e) : "-";
            const char *names = account_names(ctx, u);
            row[3] = (char *)(names[0] ? names : "-");
            t.n_rows++;
        }
        cli_table_print(&t);
    }
    if (cli_flag_given(ctx, "create-tasks"))
        fprintf(stderr, "created %d outreach task%s\n", resp->tasks_created,
                resp->tasks_created == 1 ? "" : "s");
    return rc;
}

static int event_delete_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    printf("Deleted key event %s (its outreach tasks remain).\n", ctx->args[0]);
    return CLI_EXIT_OK;
}

/* ---- the table ------------------------------------------------------------------ */

const cli_cmd cli_event_commands[] = {
    {.noun = "events",
     .verb = "upcoming",
     .method = "concord.v1.KeyEventService/ListUpcomingEvents",
     .flags = upcoming_flags,
     .prepare = upcoming_prepare,
     .print = upcoming_print,
     .summary = "Key events coming up, with the accounts they concern",
     .help = "Lists every occurrence of a key event from --as-of (default today, UTC) to "
             "--within days later, soonest first, with the accounts you can see that it "
             "concerns: the account of an account event, every active account of the industry "
             "of an industry event. --create-tasks also creates one outreach task per "
             "occurrence and account, assigned to the account owner and due that day; tasks are "
             "created only once however often it runs, and the number created is printed on "
             "standard error."},
    {.noun = "event",
     .verb = "create",
     .method = "concord.v1.KeyEventService/CreateKeyEvent",
     .flags = event_create_flags,
     .run = rewrite_run,
     .summary = "Create a key event",
     .help = "Creates an industry event (--scope industry --industry I; managers and admins) or "
             "an account event (--scope account --account ID; those who may edit the account). "
             "--yearly repeats it every year from --date."},
    {.noun = "event",
     .verb = "list",
     .method = "concord.v1.KeyEventService/ListKeyEvents",
     .flags = event_list_flags,
     .columns = event_columns,
     .run = rewrite_run,
     .summary = "List key events",
     .help = "Lists the key events you can see by date: industry events and the events of "
             "accounts you can see. --account shows one account's events and those of its "
             "industry."},
    {.noun = "event",
     .verb = "update",
     .method = "concord.v1.KeyEventService/UpdateKeyEvent",
     .args = "ID",
     .arg_field = "event.id",
     .mask = "update_mask",
     .mask_of = "event",
     .flags = event_update_flags,
     .run = rewrite_run,
     .summary = "Change fields of a key event",
     .help = "Changes exactly the fields given as flags. The scope and the account are fixed: "
             "delete the event and create another to move it. --version is the version you "
             "read: if someone changed the event since, nothing is written and the exit code "
             "is 5."},
    {.noun = "event",
     .verb = "delete",
     .method = "concord.v1.KeyEventService/DeleteKeyEvent",
     .args = "ID",
     .arg_field = "id",
     .print = event_delete_print,
     .summary = "Delete a key event",
     .help = "Deletes a key event. Its outreach tasks remain, with the event's title."},
    {.noun = "task",
     .verb = "list",
     .method = "concord.v1.KeyEventService/ListOutreachTasks",
     .flags = task_list_flags,
     .columns = task_columns,
     .run = rewrite_run,
     .summary = "List outreach tasks",
     .help = "Lists the outreach tasks of the accounts you can see, by due date."},
    {.noun = "task",
     .verb = "done",
     .method = "concord.v1.KeyEventService/CompleteOutreachTask",
     .args = "ID",
     .arg_field = "id",
     .summary = "Mark an outreach task done",
     .help = "Marks a task done: its assignee and those who may edit its account may. Doing it "
             "twice changes nothing."},
    {0},
};
