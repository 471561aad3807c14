/*
 * cmd_report.c - concord CLI commands for proto/concord/v1/report.proto: the
 * monthly report of an account.
 *
 * One row and one print hook: in table output the report reads top to bottom
 * as the document it is, one titled section per part of the MonthlyReport
 * (account, activities, stakeholders contacted, stage and tier changes,
 * contracts and the next renewal, key events of the next month, the team);
 * an empty section says so in one line instead of printing an empty table.
 * -o json prints the MonthlyReport message itself.
 */
#include "cli.h"
#include "concord/v1/report.pb-c.h"
#include <stdio.h>
#include <string.h>

static const cli_flag report_monthly_flags[] = {
    {"month", "YYYY-MM", "month", 0, "the calendar month (default: the previous month, UTC)"},
    {0},
};

/* clang-format off */
static const cli_column kind_columns[] = {
    {"KIND", "kind"},
    {"COUNT", "count"},
    {0},
};

static const cli_column contact_columns[] = {
    {"ID", "stakeholder_id"},
    {"NAME", "name"},
    {"LEVEL", "level"},
    {"CONTACTS", "contacts"},
    {"LAST CONTACT", "last_contact_time"},
    {0},
};

static const cli_column event_columns[] = {
    {"DATE", "occurrence_date"},
    {"EVENT", "event.id"},
    {"SCOPE", "event.scope"},
    {"CATEGORY", "event.category"},
    {"TITLE", "event.title"},
    {0},
};

/* clang-format on */

/* The command-line label of an enum value, or "-" when it is unset. */
static const char *label(const ProtobufCEnumDescriptor *ed, int value, char *buf, size_t len)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(ed, value);
    if (v == NULL || value == 0)
        return "-";
    cli_enum_label(ed, v, buf, len);
    return buf;
}

/* Prints a titled section: the items as a table, or "(none)". */
static void section(cli_ctx *ctx, const char *title, const cli_column *cols, void *const *items,
                    size_t n)
{
    printf("\n%s\n", title);
    if (n == 0) {
        printf("  (none)\n");
        return;
    }
    cli_table t;
    cli_table_init(&t, cols);
    for (size_t i = 0; i < n; i++)
        cli_table_add(&ctx->arena, &t, (const ProtobufCMessage *)items[i]);
    cli_table_print(&t);
}

static int report_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__MonthlyReport *r = (const Concord__V1__MonthlyReport *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    const Concord__V1__ReportAccount *a = r->account;
    const Concord__V1__ReportPeriod *p = r->period;
    if (a == NULL || p == NULL)
        return cli_error("the server sent a report without its account or period");
    char tier[32], stage[32];
    printf("Monthly report %s: %s (account %s)\n", p->month, a->name, a->id);
    printf("Period: %s to %s (UTC)\n", p->first_day, p->last_day);

    printf("\nAccount at month end\n");
    printf("  tier:      %s\n", label(&concord__v1__tier__descriptor, a->tier, tier, sizeof tier));
    printf("  stage:     %s\n",
           label(&concord__v1__lifecycle_stage__descriptor, a->stage, stage, sizeof stage));
    printf("  industry:  %s\n", *a->industry ? a->industry : "-");
    printf("  owner:     %s\n", a->owner_id);

    const Concord__V1__ActivitySummary *s = r->activities;
    char title[128];
    snprintf(title, sizeof title, "Activities: %d", s ? s->total : 0);
    section(ctx, title, kind_columns, s ? (void *const *)s->by_kind : NULL, s ? s->n_by_kind : 0);
    section(ctx, "Stakeholders contacted", contact_columns,
            (void *const *)r->stakeholders_contacted, r->n_stakeholders_contacted);
    section(ctx, "Stage changes", cli_stage_change_columns, (void *const *)r->stage_changes,
            r->n_stage_changes);
    section(ctx, "Tier changes", cli_tier_change_columns, (void *const *)r->tier_changes,
            r->n_tier_changes);
    section(ctx, "Contracts active at month end", cli_contract_columns,
            (void *const *)r->active_contracts, r->n_active_contracts);

    printf("\nNext renewal (within 90 days after the month)\n");
    const Concord__V1__ReportRenewal *rn = r->next_renewal;
    if (rn == NULL)
        printf("  (none)\n");
    else
        printf("  %s: contract %s ends, %d days after the month%s\n", rn->end_date, rn->contract_id,
               rn->days_after_month, rn->renewed ? " (already renewed)" : "");

    section(ctx, "Key events next month", event_columns, (void *const *)r->next_month_events,
            r->n_next_month_events);
    section(ctx, "Account team", cli_team_member_columns, (void *const *)r->team, r->n_team);
    return CLI_EXIT_OK;
}

const cli_cmd cli_report_commands[] = {
    {.noun = "report",
     .verb = "monthly",
     .method = "concord.v1.ReportService/GetMonthlyReport",
     .args = "ACCOUNT",
     .arg_field = "account_id",
     .flags = report_monthly_flags,
     .print = report_print,
     .summary = "Show an account's monthly report",
     .help = "Shows the monthly report of an account for a calendar month (--month YYYY-MM, "
             "default the previous month in UTC): the tier and lifecycle stage at month end, "
             "the month's activities by kind, the stakeholders contacted, stage and tier "
             "changes, the contracts active at month end and the next renewal within 90 days, "
             "the key events of the next month and the account team. You need read access to "
             "the account. -o json prints the MonthlyReport message."},
    {0},
};
