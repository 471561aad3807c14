/*
 * cmd_contract.c - concord CLI commands for proto/concord/v1/contract.proto:
 * contracts, an account's lifecycle, renewals, the stage refresh and
 * handovers.
 *
 * Rows only, except two hooks: `account lifecycle` prints the stage and the
 * timeline as tables, and `renewals --within` accepts "90d" as well as "90".
 */
#include "cli.h"
#include "concord/v1/contract.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define PAGE_FLAGS                                                                          \
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},  \
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},             \
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"}

/* The writable fields of a contract, shared by create and update. */
#define CONTRACT_FIELD_FLAGS(req)                                                            \
    {"start", "DATE", "contract.start_date", req, "first day, YYYY-MM-DD"},                  \
    {"end", "DATE", "contract.end_date", req, "last day, YYYY-MM-DD, not before --start"},   \
    {"value", "MINOR", "contract.annual_value_minor", req,                                   \
     "annual value in minor units (cents): 1200000 is 12,000.00"},                           \
    {"currency", "CODE", "contract.currency", req, "ISO 4217 code in capitals, e.g. EUR"},   \
    {"product", "NAME", "contract.products", 0, "a product subscribed; repeat for several"}
/* clang-format on */

static const cli_flag contract_create_flags[] = {
    {"account", "ID", "contract.account_id", CLI_F_REQUIRED, "the account"},
    CONTRACT_FIELD_FLAGS(CLI_F_REQUIRED),
    {"idempotency-key", "KEY", NULL, CLI_F_IDEM, "makes a retried create safe"},
    {0},
};

static const cli_flag contract_update_flags[] = {
    {"version", "N", "version", CLI_F_REQUIRED, "the version you read; a newer one is a conflict"},
    CONTRACT_FIELD_FLAGS(0),
    {"clear-products", NULL, "contract.products", CLI_F_CLEAR,
     "remove every product (--product replaces them)"},
    {0},
};

static const cli_flag contract_list_flags[] = {
    {"account", "ID", "account_id", CLI_F_REQUIRED, "the account"},
    {"include-cancelled", NULL, "include_cancelled", 0, "include cancelled contracts"},
    PAGE_FLAGS,
    {0},
};

static const cli_flag contract_cancel_flags[] = {
    {"version", "N", "version", 0, "the version you read (default: no check)"},
    {0},
};

static const cli_flag lifecycle_flags[] = {
    {"as-of", "DATE", "as_of", 0, "the day to compute the stage for (default: today, UTC)"},
    {0},
};

static const cli_flag renewals_flags[] = {
    {"within", "DAYS", NULL, 0, "contracts ending within DAYS days, e.g. 90 or 90d (default 90)"},
    {"as-of", "DATE", "as_of", 0, "count from this day (default: today, UTC)"},
    PAGE_FLAGS,
    {0},
};

static const cli_flag refresh_flags[] = {
    {"as-of", "DATE", "as_of", 0, "recompute the stages as of this day (default: today, UTC)"},
    {0},
};

static const cli_flag handover_create_flags[] = {
    {"account", "ID", "handover.account_id", CLI_F_REQUIRED, "the account handed over"},
    {"to", "USER_ID", "handover.to_user_id", CLI_F_REQUIRED,
     "the receiving customer success manager"},
    {"commitments", "TEXT", "handover.commitments", CLI_F_REQUIRED,
     "what was promised to the customer"},
    {"stakeholders", "TEXT", "handover.stakeholders", 0, "who matters and how they stand"},
    {"risks", "TEXT", "handover.risks", 0, "known risks"},
    {"notes", "TEXT", "handover.notes", 0, "anything else"},
    {"contract", "ID", "handover.contract_id", 0, "the contract the handover is for"},
    {"idempotency-key", "KEY", NULL, CLI_F_IDEM, "makes a retried create safe"},
    {0},
};

static const cli_flag handover_list_flags[] = {
    {"account", "ID", "account_id", 0, "the account's handovers (default: yours to acknowledge)"},
    PAGE_FLAGS,
    {0},
};

/* clang-format off */
const cli_column cli_contract_columns[] = {
    {"ID", "id"},
    {"START", "start_date"},
    {"END", "end_date"},
    {"VALUE", "annual_value_minor"},
    {"CURRENCY", "currency"},
    {"PRODUCTS", "products"},
    {"STATUS", "status"},
    {"VERSION", "version"},
    {0},
};

static const cli_column renewal_columns[] = {
    {"END", "contract.end_date"},
    {"DAYS", "days_left"},
    {"ACCOUNT", "account.id"},
    {"NAME", "account.name"},
    {"STAGE", "account.stage"},
    {"CONTRACT", "contract.id"},
    {"VALUE", "contract.annual_value_minor"},
    {"CURRENCY", "contract.currency"},
    {"RENEWED", "renewed"},
    {0},
};

static const cli_column handover_columns[] = {
    {"ID", "id"},
    {"ACCOUNT", "account_id"},
    {"CONTRACT", "contract_id"},
    {"FROM", "from_user_id"},
    {"TO", "to_user_id"},
    {"CREATED", "create_time"},
    {"ACKNOWLEDGED", "acknowledge_time"},
    {0},
};

static const cli_column period_columns[] = {
    {"STAGE", "stage"},
    {"FROM", "start_date"},
    {"TO", "end_date"},
    {"CONTRACT", "contract_id"},
    {0},
};

const cli_column cli_stage_change_columns[] = {
    {"EFFECTIVE", "effective_date"},
    {"FROM", "from_stage"},
    {"TO", "to_stage"},
    {"RECORDED", "record_time"},
    {"REASON", "reason"},
    {0},
};
/* clang-format on */

/* --within: "90" or "90d"; the server checks the range. */
static int renewals_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__ListRenewalsRequest *req = (Concord__V1__ListRenewalsRequest *)m;
    const char *text = cli_flag_value(ctx, "within");
    if (text == NULL)
        return CLI_EXIT_OK;
    char *end;
    long days = strtol(text, &end, 10);
    if (end == text || text[0] == '-' || text[0] == '+' ||
        (*end != '\0' && strcmp(end, "d") != 0) || days < 1 || days > 100000)
        return cli_usage("--within: expected a number of days such as 90 or 90d, not '%s'", text);
    req->within_days = (int32_t)days;
    return CLI_EXIT_OK;
}

static int lifecycle_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__Lifecycle *lc = (const Concord__V1__Lifecycle *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    char stage[64] = "unknown";
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&concord__v1__lifecycle_stage__descriptor, lc->stage);
    if (v && lc->stage)
        cli_enum_label(&concord__v1__lifecycle_stage__descriptor, v, stage, sizeof stage);
    printf("Account %s is in %s as of %s.\n", lc->account_id, stage, lc->as_of);
    if (lc->n_timeline == 0) {
        printf("\nNo active contracts: a prospect.\n");
    } else {
        printf("\nTimeline:\n");
        cli_table t;
        cli_table_init(&t, period_columns);
        for (size_t i = 0; i < lc->n_timeline; i++)
            cli_table_add(&ctx->arena, &t, &lc->timeline[i]->base);
        cli_table_print(&t);
    }
    if (lc->n_history > 0) {
        printf("\nRecorded changes:\n");
        cli_table t;
        cli_table_init(&t, cli_stage_change_columns);
        for (size_t i = 0; i < lc->n_history; i++)
            cli_table_add(&ctx->arena, &t, &lc->history[i]->base);
        cli_table_print(&t);
    }
    return CLI_EXIT_OK;
}

const cli_cmd cli_contract_commands[] = {
    {.noun = "account",
     .verb = "lifecycle",
     .method = "concord.v1.ContractService/GetLifecycle",
     .args = "ACCOUNT",
     .arg_field = "account_id",
     .flags = lifecycle_flags,
     .print = lifecycle_print,
     .summary = "Show an account's lifecycle stage and timeline",
     .help = "Shows the lifecycle stage of an account as of a day (default today), the "
             "timeline of stages its active contracts imply (onboarding, adoption, renewal, "
             "handover, churned) and the stage changes Concord recorded. -o json prints the "
             "Lifecycle message."},

    {.noun = "contract",
     .verb = "create",
     .method = "concord.v1.ContractService/CreateContract",
     .flags = contract_create_flags,
     .summary = "Record a contract",
     .help = "Records a subscription contract of an account (you need edit access to the "
             "account). The account's lifecycle stage is recomputed at once."},
    {.noun = "contract",
     .verb = "get",
     .method = "concord.v1.ContractService/GetContract",
     .args = "ID",
     .arg_field = "id",
     .summary = "Show one contract",
     .help = "Shows one contract with all its fields."},
    {.noun = "contract",
     .verb = "list",
     .method = "concord.v1.ContractService/ListContracts",
     .flags = contract_list_flags,
     .columns = cli_contract_columns,
     .summary = "List an account's contracts",
     .help = "Lists an account's contracts, newest start first; cancelled ones only with "
             "--include-cancelled."},
    {.noun = "contract",
     .verb = "update",
     .method = "concord.v1.ContractService/UpdateContract",
     .args = "ID",
     .arg_field = "contract.id",
     .mask = "update_mask",
     .mask_of = "contract",
     .flags = contract_update_flags,
     .summary = "Change fields of a contract",
     .help = "Changes exactly the fields given as flags. --version is the version you read: if "
             "someone changed the contract since, nothing is written and the exit code is 5. "
             "--product replaces the whole product list. Cancelled contracts cannot change."},
    {.noun = "contract",
     .verb = "cancel",
     .method = "concord.v1.ContractService/CancelContract",
     .args = "ID",
     .arg_field = "id",
     .flags = contract_cancel_flags,
     .summary = "Cancel a contract",
     .help = "Cancels a contract: it is kept for the record and no longer counts for the "
             "lifecycle or renewals. Cancelling twice changes nothing."},

    {.noun = "renewals",
     .method = "concord.v1.ContractService/ListRenewals",
     .flags = renewals_flags,
     .columns = renewal_columns,
     .prepare = renewals_prepare,
     .summary = "List contracts coming up for renewal",
     .help = "Lists the active contracts of the accounts you may see that end within --within "
             "days (default 90, at most 730) of --as-of (default today), soonest first. "
             "RENEWED is true when a later contract of the account already exists."},

    {.noun = "stages",
     .verb = "refresh",
     .method = "concord.v1.ContractService/RefreshStages",
     .flags = refresh_flags,
     .summary = "Recompute every account's lifecycle stage (admins)",
     .help = "Recomputes the lifecycle stage of every account with contracts as of a day "
             "(default today) and records the transitions. concordd does this itself once a "
             "day; an as-of day other than today is for backfills and tests."},

    {.noun = "handover",
     .verb = "create",
     .method = "concord.v1.ContractService/CreateHandover",
     .flags = handover_create_flags,
     .summary = "Hand an account over to customer success",
     .help = "Writes what sales hands to customer success: commitments made, stakeholders, "
             "risks. --to must be a user of the success department; they join the account "
             "team with read access until they acknowledge."},
    {.noun = "handover",
     .verb = "get",
     .method = "concord.v1.ContractService/GetHandover",
     .args = "ID",
     .arg_field = "id",
     .summary = "Show one handover",
     .help = "Shows one handover with all its fields."},
    {.noun = "handover",
     .verb = "list",
     .method = "concord.v1.ContractService/ListHandovers",
     .flags = handover_list_flags,
     .columns = handover_columns,
     .summary = "List handovers",
     .help = "Lists an account's handovers (--account), newest first; without --account, the "
             "handovers waiting for your acknowledgement."},
    {.noun = "handover",
     .verb = "acknowledge",
     .method = "concord.v1.ContractService/AcknowledgeHandover",
     .args = "ID",
     .arg_field = "id",
     .summary = "Acknowledge a handover made to you",
     .help = "Acknowledges a handover (the receiving user only, once): you become the "
             "account's owner and customer success manager, and the previous owner stays on "
             "the team as account owner."},
    {0},
};
