/*
 * cmd_tier.c - concord CLI commands for account tiers (proto/concord/v1/tier.proto):
 * rules, evaluation with reasons, proposals and their decisions, overrides and
 * the tier history of an account.
 *
 * Tiers are written S, A and B on the command line (TIER_S etc. are accepted
 * too). `tier rule create|update` is one row whose run hook builds the request
 * itself, because the command table has one verb per noun.
 */
#include "cli.h"
#include "concord/v1/tier.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define PAGE_FLAGS                                                                          \
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},  \
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},             \
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"}
/* clang-format on */

static const cli_flag rules_flags[] = {
    {"include-inactive", NULL, "include_inactive", 0, "also list inactive rules"},
    {0},
};

/* Fields of the rule; read by rule_run, which fills the request itself. */
static const cli_flag rule_flags[] = {
    {"id", "ID", "rule.id", 0, "the rule to change (update)"},
    {"version", "N", "version", 0, "the version you read (update)"},
    {"tier", "TIER", "rule.tier", 0, "S or A"},
    {"name", "TEXT", "rule.name", 0, "a name people recognise"},
    {"min-value", "MINOR", "rule.min_annual_value_minor", 0,
     "annual contract value at least, in minor units (10000000 = 100000.00)"},
    {"currency", "CODE", "rule.currency", 0, "ISO 4217 currency of --min-value, e.g. EUR"},
    {"min-engagements", "N", "rule.min_engagements", 0, "activities in the last 365 days"},
    {"min-levels", "N", "rule.min_stakeholder_levels", 0,
     "distinct stakeholder levels known (0-3)"},
    {"min-stakeholders", "N", "rule.min_stakeholders", 0, "stakeholders known"},
    {"min-icp", "N", "rule.min_icp_total", 0, "ideal-customer-profile total (0-25)"},
    {"min-health", "N", "rule.min_health", 0, "health score (not evaluated yet)"},
    {"active", NULL, NULL, 0, "apply the rule again (update)"},
    {"inactive", NULL, NULL, 0, "keep the rule but stop applying it (update)"},
    {0},
};

static const cli_flag evaluate_flags[] = {
    {"as-of", "DATE", "as_of", 0, "evaluate as of this day, YYYY-MM-DD (default: today, UTC)"},
    {"dry-run", NULL, "dry_run", 0, "show the proposals without storing them"},
    {"account", "ID", "account_id", 0, "only this account"},
    {0},
};

static const cli_flag proposals_flags[] = {
    {"status", "STATUS", "status", 0, "only proposals with this status, e.g. pending"},
    {"account", "ID", "account_id", 0, "only proposals for this account"},
    PAGE_FLAGS,
    {0},
};

static const cli_flag approve_flags[] = {
    {"reason", "TEXT", "reason", 0, "why (required with --tier)"},
    {"tier", "TIER", "tier", 0, "apply this tier (S, A or B) instead of the proposed one"},
    {0},
};

static const cli_flag reject_flags[] = {
    {"reason", "TEXT", "reason", CLI_F_REQUIRED, "why the current tier stays"},
    {0},
};

static const cli_flag override_flags[] = {
    {"tier", "TIER", "tier", CLI_F_REQUIRED, "S, A or B"},
    {"reason", "TEXT", "reason", CLI_F_REQUIRED, "why"},
    {0},
};

static const cli_flag history_flags[] = {
    PAGE_FLAGS,
    {0},
};

/* clang-format off */
static const cli_column rule_columns[] = {
    {"ID", "id"},
    {"TIER", "tier"},
    {"NAME", "name"},
    {"MIN VALUE", "min_annual_value_minor"},
    {"CUR", "currency"},
    {"ENGAGEMENTS", "min_engagements"},
    {"LEVELS", "min_stakeholder_levels"},
    {"STAKEHOLDERS", "min_stakeholders"},
    {"ICP", "min_icp_total"},
    {"HEALTH", "min_health"},
    {"ACTIVE", "active"},
    {"VERSION", "version"},
    {0},
};

static const cli_column proposal_columns[] = {
    {"ID", "id"},
    {"ACCOUNT", "account_id"},
    {"NAME", "account_name"},
    {"CURRENT", "current_tier"},
    {"PROPOSED", "proposed_tier"},
    {"STATUS", "status"},
    {"AS OF", "as_of"},
    {"DECIDED", "decided_tier"},
    {"REASON", "decision_reason"},
    {0},
};

const cli_column cli_tier_change_columns[] = {
    {"ID", "id"},
    {"TIME", "change_time"},
    {"FROM", "from_tier"},
    {"TO", "to_tier"},
    {"BY", "changed_by_id"},
    {"PROPOSAL", "proposal_id"},
    {"REASON", "reason"},
    {0},
};
/* clang-format on */

/* "S", "A", "B", or "-" for an account never tiered. */
static const char *tier_text(int tier)
{
    switch (tier) {
    case CONCORD__V1__TIER__TIER_S:
        return "S";
    case CONCORD__V1__TIER__TIER_A:
        return "A";
    case CONCORD__V1__TIER__TIER_B:
        return "B";
    default:
        return "-";
    }
}

/* ---- tier rule create|update ----------------------------------------------- */

static int rule_run(cli_ctx *ctx)
{
    const char *action = ctx->args[0];
    int update = strcmp(action, "update") == 0;
    if (!update && strcmp(action, "create") != 0)
        return cli_usage("tier rule: expected create or update, not '%s'", action);
    const ProtobufCMessageDescriptor *desc =
        update ? &concord__v1__update_tier_rule_request__descriptor
               : &concord__v1__create_tier_rule_request__descriptor;
    ProtobufCMessage *req = cli_msg_new(&ctx->arena, desc);
    char err[600];
    int n_fields = 0;
    for (size_t i = 0; i < ctx->n_given; i++) {
        const cli_flag *f = ctx->given[i].flag;
        const char *path = NULL;
        if (f->field != NULL) {
            if (!update && (strcmp(f->name, "id") == 0 || strcmp(f->name, "version") == 0))
                return cli_usage("--%s: only for 'tier rule update'", f->name);
            if (cli_msg_set(&ctx->arena, req, f->field, ctx->given[i].value, err, sizeof err) != 0)
                return cli_usage("--%s: %s", f->name, err);
            if (strncmp(f->field, "rule.", 5) == 0 && strcmp(f->field, "rule.id") != 0)
                path = f->field + 5;
        } else if (strcmp(f->name, "active") == 0 || strcmp(f->name, "inactive") == 0) {
            if (!update)
                return cli_usage("--%s: only for 'tier rule update' (new rules are active)",
                                 f->name);
            int on = strcmp(f->name, "active") == 0;
            /* --inactive leaves rule.active false; the mask names it either way. */
            if (on && cli_msg_set(&ctx->arena, req, "rule.active", NULL, err, sizeof err) != 0)
                return cli_usage("--%s: %s", f->name, err);
            path = "active";
        }
        if (path == NULL)
            continue;
        n_fields++;
        if (update &&
            cli_msg_set(&ctx->arena, req, "update_mask.paths", path, err, sizeof err) != 0)
            return cli_error("update_mask: %s", err);
    }
    if (update && (!cli_flag_given(ctx, "id") || !cli_flag_given(ctx, "version")))
        return cli_usage("tier rule update: --id and --version are required");
    if (cli_flag_given(ctx, "active") && cli_flag_given(ctx, "inactive"))
        return cli_usage("--active and --inactive contradict each other");
    if (update && n_fields == 0)
        return cli_usage("nothing to change: give at least one field flag "
                         "(see 'concord tier rule --help')");
    if (!update && (!cli_flag_given(ctx, "tier") || !cli_flag_given(ctx, "name")))
        return cli_usage("tier rule create: --tier and --name are required");

    int rc = cli_connect(ctx, 1);
    if (rc != CLI_EXIT_OK)
        return rc;
    const char *method =
        update ? "concord.v1.TierService/UpdateTierRule" : "concord.v1.TierService/CreateTierRule";
    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    int code = cc_invoke(ctx->conn, method, req, &concord__v1__tier_rule__descriptor, &resp, &st);
    if (code != CC_OK)
        return cli_fail_status(ctx, st, code);
    if (ctx->output == CLI_OUT_JSON) {
        rc = cli_print_json(resp);
    } else {
        cli_print_detail(resp);
        rc = CLI_EXIT_OK;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}

/* ---- evaluate: proposals with their reasons ------------------------------- */

static int evaluate_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__EvaluateTiersResponse *resp = (const void *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    /* One row per proposal; its reasons follow in the last column, one per line. */
    size_t wa = strlen("ACCOUNT"), wn = strlen("NAME");
    for (size_t i = 0; i < resp->n_proposals; i++) {
        const Concord__V1__TierProposal *p = resp->proposals[i];
        size_t la = strlen(p->account_id), ln = strlen(p->account_name);
        wa = la > wa ? la : wa;
        wn = ln > wn ? (ln > 40 ? 40 : ln) : wn;
    }
    int ia = (int)wa, in = (int)wn;
    printf("%-*s  %-*s  %-7s  %-8s  %s\n", ia, "ACCOUNT", in, "NAME", "CURRENT", "PROPOSED",
           "REASONS");
    for (size_t i = 0; i < resp->n_proposals; i++) {
        const Concord__V1__TierProposal *p = resp->proposals[i];
        printf("%-*s  %-*.*s  %-7s  %-8s  %s\n", ia, p->account_id, in, in, p->account_name,
               tier_text(p->current_tier), tier_text(p->proposed_tier),
               p->n_reasons ? p->reasons[0] : "");
        for (size_t k = 1; k < p->n_reasons; k++)
            printf("%-*s  %-*s  %-7s  %-8s  %s\n", ia, "", in, "", "", "", p->reasons[k]);
    }
    const char *as_of = cli_flag_value(ctx, "as-of");
    if (resp->n_proposals)
        as_of = resp->proposals[0]->as_of;
    fprintf(stderr, "evaluated %d account%s as of %s: %d proposal%s%s%s\n", (int)resp->evaluated,
            resp->evaluated == 1 ? "" : "s", as_of ? as_of : "today", (int)resp->proposed,
            resp->proposed == 1 ? "" : "s",
            resp->evaluation_id[0] ? ", stored as evaluation " : " (dry run: nothing stored)",
            resp->evaluation_id);
    if ((size_t)resp->proposed > resp->n_proposals)
        fprintf(stderr, "showing the first %zu: see 'concord tier proposals --status pending'\n",
                resp->n_proposals);
    return CLI_EXIT_OK;
}

/* ---- decisions -------------------------------------------------------------- */

static int approve_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__DecideTierProposalRequest *req = (void *)m;
    (void)ctx;
    /* With --tier the manager chooses another tier: that is an override. */
    req->decision = req->tier ? CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN
                              : CONCORD__V1__PROPOSAL_STATUS__APPROVED;
    return CLI_EXIT_OK;
}

static int reject_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__DecideTierProposalRequest *req = (void *)m;
    (void)ctx;
    req->decision = CONCORD__V1__PROPOSAL_STATUS__REJECTED;
    return CLI_EXIT_OK;
}

static int decide_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__TierProposal *p = (const void *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    if (p->status == CONCORD__V1__PROPOSAL_STATUS__REJECTED)
        printf("Rejected proposal %s: account %s (%s) stays tier %s.\n", p->id, p->account_id,
               p->account_name, tier_text(p->current_tier));
    else
        printf("%s proposal %s: account %s (%s) is now tier %s.\n",
               p->status == CONCORD__V1__PROPOSAL_STATUS__OVERRIDDEN ? "Overrode" : "Approved",
               p->id, p->account_id, p->account_name, tier_text(p->decided_tier));
    return CLI_EXIT_OK;
}

const cli_cmd cli_tier_commands[] = {
    {.noun = "tier",
     .verb = "rules",
     .method = "concord.v1.TierService/ListTierRules",
     .flags = rules_flags,
     .columns = rule_columns,
     .summary = "List the tier rules",
     .help = "Lists the rules in the order they are tried: S rules first, then A rules. An "
             "account gets the tier of the first rule whose every set threshold it meets; a "
             "subscribed account meeting none is tier B."},
    {.noun = "tier",
     .verb = "rule",
     .args = "create|update",
     .arg_values = "create update",
     .flags = rule_flags,
     .run = rule_run,
     .summary = "Create or change a tier rule (admins)",
     .help = "'tier rule create --tier S --name TEXT [thresholds]' adds an active rule; "
             "'tier rule update --id ID --version N [fields]' changes exactly the fields given "
             "(--inactive stops applying it). A threshold of 0 is not checked."},
    {.noun = "tier",
     .verb = "evaluate",
     .method = "concord.v1.TierService/EvaluateTiers",
     .flags = evaluate_flags,
     .print = evaluate_print,
     .summary = "Evaluate tiers and propose changes (managers, admins)",
     .help = "Evaluates the subscribed accounts you can see as of a day and proposes a tier "
             "for each whose tier would change, with the reasons: one line per rule tried and "
             "per threshold checked. --dry-run stores nothing. concordd runs this itself at "
             "every month end."},
    {.noun = "tier",
     .verb = "proposals",
     .method = "concord.v1.TierService/ListTierProposals",
     .flags = proposals_flags,
     .columns = proposal_columns,
     .summary = "List tier proposals",
     .help = "Lists tier proposals of the accounts you can see, newest first."},
    {.noun = "tier",
     .verb = "approve",
     .method = "concord.v1.TierService/DecideTierProposal",
     .args = "PROPOSAL_ID",
     .arg_field = "id",
     .flags = approve_flags,
     .prepare = approve_prepare,
     .print = decide_print,
     .summary = "Approve a tier proposal (managers, admins)",
     .help = "Applies the proposed tier and records it in the account's tier history. With "
             "--tier another tier is applied instead (an override: --reason is required)."},
    {.noun = "tier",
     .verb = "reject",
     .method = "concord.v1.TierService/DecideTierProposal",
     .args = "PROPOSAL_ID",
     .arg_field = "id",
     .flags = reject_flags,
     .prepare = reject_prepare,
     .print = decide_print,
     .summary = "Reject a tier proposal (managers, admins)",
     .help = "Keeps the account's tier; the reason is recorded with the proposal."},
    {.noun = "tier",
     .verb = "override",
     .method = "concord.v1.TierService/OverrideTier",
     .args = "ACCOUNT_ID",
     .arg_field = "account_id",
     .flags = override_flags,
     .summary = "Set an account's tier by hand (managers, admins)",
     .help = "Sets the tier (S, A or B) with a reason, recorded in the tier history, and "
             "prints the account."},
    {.noun = "tier",
     .verb = "history",
     .method = "concord.v1.TierService/ListTierHistory",
     .args = "ACCOUNT_ID",
     .arg_field = "account_id",
     .flags = history_flags,
     .columns = cli_tier_change_columns,
     .summary = "Show an account's tier history",
     .help = "Lists every tier change of the account, newest first, with who and why."},
    {0},
};
