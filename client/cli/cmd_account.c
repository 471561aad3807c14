/*
 * cmd_account.c - account commands beyond create/get/list/update/archive:
 * ICP scoring, duplicate search, merge, hierarchy and bulk import.
 */
#include "cli.h"
#include "concord/v1/account.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --scale 4 --influence 3 ... : one flag per ideal-customer-profile criterion. */
static const struct {
    const char *flag;
    int criterion;
} icp_flags[] = {
    {"scale", CONCORD__V1__ICP_CRITERION__SCALE_AND_MATURITY},
    {"influence", CONCORD__V1__ICP_CRITERION__INDUSTRY_INFLUENCE},
    {"growth", CONCORD__V1__ICP_CRITERION__HEALTHY_GROWTH},
    {"it-strategy", CONCORD__V1__ICP_CRITERION__IT_AS_STRATEGY},
    {"win-win", CONCORD__V1__ICP_CRITERION__WIN_WIN_MINDSET},
};
#define N_ICP (sizeof(icp_flags) / sizeof(icp_flags[0]))

static int score_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__ScoreAccountIcpRequest *req = (Concord__V1__ScoreAccountIcpRequest *)m;
    req->scores = arena_alloc(&ctx->arena, sizeof(*req->scores) * N_ICP);
    const char *note = cli_flag_value(ctx, "note");
    for (size_t i = 0; i < N_ICP; i++) {
        const char *v = cli_flag_value(ctx, icp_flags[i].flag);
        if (v == NULL)
            continue;
        char *end;
        long score = strtol(v, &end, 10);
        if (*v == '\0' || *end != '\0' || score < 0 || score > 5)
            return cli_usage("--%s: expected a score from 0 to 5, got \"%s\"", icp_flags[i].flag,
                             v);
        Concord__V1__IcpScore *sc = arena_alloc(&ctx->arena, sizeof(*sc));
        concord__v1__icp_score__init(sc);
        sc->criterion = icp_flags[i].criterion;
        sc->score = (int32_t)score;
        sc->note = note ? (char *)note : "";
        req->scores[req->n_scores++] = sc;
    }
    if (req->n_scores == 0)
        return cli_usage("account score: give at least one of --scale, --influence, --growth, "
                         "--it-strategy, --win-win");
    return CLI_EXIT_OK;
}

static int hierarchy_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__AccountHierarchy *h = (const Concord__V1__AccountHierarchy *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    for (size_t i = 0; i < h->n_nodes; i++) {
        const Concord__V1__HierarchyNode *n = h->nodes[i];
        printf("%*s%s (id %s)\n", 2 * n->depth, "", n->account->name, n->account->id);
    }
    printf("\n%d accounts, %d stakeholders", h->account_count, h->stakeholder_count);
    for (size_t i = 0; i < h->n_annual_value; i++)
        printf("%s %lld.%02lld %s", i ? "," : "; annual value",
               (long long)(h->annual_value[i]->amount_minor / 100),
               (long long)(h->annual_value[i]->amount_minor % 100), h->annual_value[i]->currency);
    printf("\n");
    return CLI_EXIT_OK;
}

static int merge_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__MergeAccountsResponse *r = (const Concord__V1__MergeAccountsResponse *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    printf("Merged into %s (id %s, version %lld).\n", r->target->name, r->target->id,
           (long long)r->target->version);
    for (size_t i = 0; i < r->n_moved; i++)
        printf("  %-16s %lld moved\n", r->moved[i]->key, (long long)r->moved[i]->value);
    return CLI_EXIT_OK;
}

static int import_run(cli_ctx *ctx)
{
    static const cli_import imp = {
        .method = "concord.v1.AccountService/BulkCreateAccounts",
        .request = &concord__v1__bulk_create_accounts_request__descriptor,
        .field = "accounts",
        .item = &concord__v1__account__descriptor,
        .response = &concord__v1__bulk_create_accounts_response__descriptor,
        .batch = 5000,
        .what = "accounts",
    };
    return cli_import_ndjson(ctx, &imp);
}

/* clang-format off */
static const cli_flag score_flags[] = {
    {"scale", "0-5", NULL, 0, "scale and management maturity"},
    {"influence", "0-5", NULL, 0, "influence in its industry or region"},
    {"growth", "0-5", NULL, 0, "healthy growth"},
    {"it-strategy", "0-5", NULL, 0, "sees IT as strategic"},
    {"win-win", "0-5", NULL, 0, "win-win mindset"},
    {"note", "TEXT", NULL, 0, "why (applies to every score given)"},
    {0},
};

static const cli_flag similar_flags[] = {
    {"limit", "N", "limit", 0, "at most N matches (default 5, max 20)"},
    {0},
};

static const cli_flag merge_flags[] = {
    {"into", "ID", "target_id", CLI_F_REQUIRED, "the account that keeps everything"},
    {"version", "N", "source_version", 0, "the duplicate's version as you read it"},
    {0},
};

static const cli_flag import_flags[] = {
    CLI_IMPORT_FLAGS,
    {0},
};

static const cli_column similar_columns[] = {
    {"ID", "id"},
    {"NAME", "name"},
    {"SIMILARITY", "similarity"},
    {0},
};
/* clang-format on */

const cli_cmd cli_account_commands[] = {
    {.noun = "account",
     .verb = "score",
     .method = "concord.v1.AccountService/ScoreAccountIcp",
     .args = "ID",
     .arg_field = "account_id",
     .flags = score_flags,
     .prepare = score_prepare,
     .summary = "Score an account against the ideal customer profile",
     .help = "Scores criteria of the ideal customer profile from 0 to 5; criteria not given "
             "keep their score. The account's ICP total is the sum (0-25)."},
    {.noun = "account",
     .verb = "similar",
     .method = "concord.v1.AccountService/FindSimilarAccounts",
     .args = "NAME",
     .arg_field = "name",
     .flags = similar_flags,
     .columns = similar_columns,
     .summary = "Find accounts with names like NAME",
     .help = "Lists visible accounts whose names resemble NAME (trigram similarity), the most "
             "similar first: the check account create makes before it refuses a duplicate."},
    {.noun = "account",
     .verb = "merge",
     .method = "concord.v1.AccountService/MergeAccounts",
     .args = "DUPLICATE_ID",
     .arg_field = "source_id",
     .flags = merge_flags,
     .print = merge_print,
     .summary = "Merge a duplicate account into another",
     .help = "Moves every record of the duplicate (team, scores, contracts, stakeholders, "
             "activities, events, child accounts) to the account given with --into, then "
             "archives the duplicate with merged_into_id set. The audit trail of both stays."},
    {.noun = "account",
     .verb = "hierarchy",
     .method = "concord.v1.AccountService/GetAccountHierarchy",
     .args = "ID",
     .arg_field = "id",
     .print = hierarchy_print,
     .summary = "Show an account's group with its roll-up",
     .help = "Shows the group an account belongs to, from its highest visible ancestor down, "
             "with the number of accounts, stakeholders and the annual value live today."},
    {.noun = "account",
     .verb = "import",
     .args = "FILE",
     .flags = import_flags,
     .run = import_run,
     .summary = "Create accounts from an NDJSON file",
     .help = "Reads one account per line as proto3 JSON ({\"name\": ..., \"industry\": ...}) "
             "from FILE (or - for standard input) and creates them in batches, showing progress "
             "on standard error. Each batch is all or nothing; the import stops at the first "
             "refused batch and says how to resume."},
    {0},
};
