/*
 * cli_commands.c - the command table of the concord CLI, and the few hooks
 * that rows cannot express (prompting for passwords, storing the session
 * token, showing an API token's secret once).
 *
 * Adding a command is adding a row: name the RPC, the flags and the request
 * fields they fill, the positional argument and, for lists, the columns.
 * Parsing, help, completion, paging, output and errors come for free.
 */
#include "cli.h"
#include "concord/v1/account.pb-c.h"
#include "concord/v1/auth.pb-c.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- shared flag sets ---------------------------------------------------- */

/* clang-format off */
#define PAGE_FLAGS                                                                          \
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},  \
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},             \
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"}

/* The writable fields of an account, shared by create and update. */
#define ACCOUNT_FIELD_FLAGS                                                                 \
    {"legal-name", "TEXT", "account.legal_name", 0, "registered legal name"},               \
    {"industry", "TEXT", "account.industry", 0, "industry, e.g. \"higher education\""},     \
    {"region", "TEXT", "account.region", 0, "region, e.g. EMEA"},                           \
    {"size", "SIZE", "account.size_class", 0, "size class"},                                \
    {"selling-mode", "MODE", "account.selling_mode", 0, "how the customer buys"},           \
    {"business-model", "MODEL", "account.business_model", 0, "business model served"},      \
    {"parent", "ID", "account.parent_id", 0, "parent account in a group"},                  \
    {"website", "URL", "account.website", 0, "web site"},                                   \
    {"tag", "TAG", "account.tags", 0, "a label; repeat the flag for several"},              \
    {"notes", "TEXT", "account.notes", 0, "free-form notes"},                               \
    {"owner", "USER_ID", "account.owner_id", 0, "owning user (default: you, on create)"}
/* clang-format on */

static const cli_flag login_flags[] = {
    {"user", "NAME", "username", 0, "user name (prompted for on a terminal)"},
    {"password-stdin", NULL, NULL, 0, "read the password from standard input"},
    {0},
};

static const cli_flag user_create_flags[] = {
    {"username", "NAME", "user.username", CLI_F_REQUIRED, "sign-in name (a-z, 0-9, . _ -)"},
    {"display-name", "TEXT", "user.display_name", CLI_F_REQUIRED, "name shown to people"},
    {"department", "DEPT", "user.department", CLI_F_REQUIRED, "the user's department"},
    {"role", "ROLE", "user.role", CLI_F_REQUIRED, "what the user may do"},
    {"password-stdin", NULL, NULL, 0, "read the initial password from standard input"},
    {0},
};

static const cli_flag user_list_flags[] = {
    {"department", "DEPT", "department", 0, "only users of this department"},
    {"include-disabled", NULL, "include_disabled", 0, "include disabled users"},
    PAGE_FLAGS,
    {0},
};

static const cli_flag token_create_flags[] = {
    {"name", "NAME", "name", CLI_F_REQUIRED, "label, e.g. \"nightly import\""},
    {"ttl-days", "DAYS", "ttl_days", 0, "lifetime in days (default 90, max 365)"},
    {0},
};

static const cli_flag account_create_flags[] = {
    {"name", "NAME", "account.name", CLI_F_REQUIRED, "display name, 1-200 characters"},
    ACCOUNT_FIELD_FLAGS,
    {"allow-similar-name", NULL, "allow_similar_name", 0,
     "create it even if accounts with similar names exist (otherwise exit 5 naming them)"},
    {"idempotency-key", "KEY", NULL, CLI_F_IDEM,
     "retrying with the same key creates the account only once"},
    {0},
};

static const cli_flag account_update_flags[] = {
    {"version", "N", "version", CLI_F_REQUIRED, "the version you read; a newer one is a conflict"},
    {"name", "NAME", "account.name", 0, "display name, 1-200 characters"},
    ACCOUNT_FIELD_FLAGS,
    {"clear-tags", NULL, "account.tags", CLI_F_CLEAR, "remove every tag (--tag replaces them)"},
    {0},
};

static const cli_flag account_list_flags[] = {
    {"query", "TEXT", "query", 0, "name contains TEXT (case-insensitive) or a tag is TEXT"},
    {"tag", "TAG", "tag", 0, "only accounts with this tag"},
    {"department", "DEPT", "department", 0, "only accounts a department works (owner or team)"},
    {"min-icp", "N", "min_icp_total", 0, "only accounts whose ICP total is at least N (0-25)"},
    {"parent", "ID", "parent_id", 0, "only direct children of this account"},
    {"tier", "TIER", "tier", 0, "only this tier"},
    {"stage", "STAGE", "stage", 0, "only this lifecycle stage"},
    {"owner", "USER_ID", "owner_id", 0, "only accounts owned by this user"},
    {"region", "TEXT", "region", 0, "only this region (any case)"},
    {"industry", "TEXT", "industry", 0, "only this industry (any case)"},
    {"size", "SIZE", "size_class", 0, "only this size class"},
    {"selling-mode", "MODE", "selling_mode", 0, "only this selling mode"},
    {"include-archived", NULL, "include_archived", 0, "include archived accounts"},
    {"order-by", "ORDER", "order_by", 0,
     "name, create_time, update_time or id, \"desc\" appended (default: name; id desc,"
     " newest first, with --query)"},
    {"total", NULL, "include_total", 0, "also count every matching account"},
    PAGE_FLAGS,
    {0},
};

static const cli_flag account_archive_flags[] = {
    {"version", "N", "version", 0, "the version you read (default: no check)"},
    {0},
};

/* ---- list columns -------------------------------------------------------- */

/* clang-format off */
static const cli_column account_columns[] = {
    {"ID", "id"},
    {"NAME", "name"},
    {"TIER", "tier"},
    {"STAGE", "stage"},
    {"OWNER", "owner_id"},
    {"VERSION", "version"},
    {"UPDATED", "update_time"},
    {0},
};

static const cli_column user_columns[] = {
    {"ID", "id"},
    {"USERNAME", "username"},
    {"NAME", "display_name"},
    {"DEPARTMENT", "department"},
    {"ROLE", "role"},
    {"DISABLED", "disabled"},
    {"CREATED", "create_time"},
    {0},
};
/* clang-format on */

/* ---- hooks --------------------------------------------------------------- */

/* The label of an enum value ("sales"), in the arena. */
static const char *enum_text(cli_ctx *ctx, const ProtobufCEnumDescriptor *ed, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(ed, value);
    char buf[128];
    if (v == NULL || value == 0)
        return "unknown";
    cli_enum_label(ed, v, buf, sizeof buf);
    return arena_strdup(&ctx->arena, buf);
}

/* Fills *out with a password from stdin (--password-stdin) or the terminal. */
static int read_password(cli_ctx *ctx, int confirm, char **out)
{
    *out = NULL;
    if (cli_flag_given(ctx, "password-stdin")) {
        char *pw = cli_read_stdin_secret();
        if (pw == NULL)
            return cli_error("cannot read the password from standard input");
        if (pw[0] == '\0') {
            cli_secret_free(pw);
            return cli_usage("--password-stdin: standard input held no password");
        }
        *out = arena_strdup(&ctx->arena, pw);
        cli_secret_free(pw);
        return CLI_EXIT_OK;
    }
    char *pw = cli_prompt_secret("Password: ");
    if (pw == NULL)
        return cli_usage("no terminal to ask for the password: use --password-stdin");
    if (confirm) {
        char *again = cli_prompt_secret("Repeat password: ");
        int same = again && strcmp(pw, again) == 0;
        cli_secret_free(again);
        if (!same) {
            cli_secret_free(pw);
            return cli_usage("the passwords do not match");
        }
    }
    *out = arena_strdup(&ctx->arena, pw);
    cli_secret_free(pw);
    return CLI_EXIT_OK;
}

static int login_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__LoginRequest *req = (Concord__V1__LoginRequest *)m;
    if (req->username[0] == '\0') {
        /* With --password-stdin, stdin is taken; a prompt would eat the password. */
        if (cli_flag_given(ctx, "password-stdin") || !isatty(STDIN_FILENO))
            return cli_usage("--user: required when standard input is not a terminal");
        char *name = cli_prompt_line("Username: ");
        if (name == NULL || name[0] == '\0') {
            free(name);
            return cli_usage("--user: no user name given");
        }
        req->username = arena_strdup(&ctx->arena, name);
        free(name);
    }
    return read_password(ctx, 0, &req->password);
}

static int login_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__LoginResponse *resp = (const Concord__V1__LoginResponse *)m;
    if (resp->token[0] == '\0' || resp->user == NULL)
        return cli_error("the server answered the login without a session");
    int rc = cli_token_store(ctx, resp->token);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(&resp->user->base);
    printf("Logged in as %s (%s, %s)\n", resp->user->username,
           enum_text(ctx, &concord__v1__department__descriptor, resp->user->department),
           enum_text(ctx, &concord__v1__role__descriptor, resp->user->role));
    return CLI_EXIT_OK;
}

static int logout_run(cli_ctx *ctx)
{
    const char *env = getenv("CONCORD_TOKEN");
    if ((env == NULL || env[0] == '\0') && cli_token_load(ctx) == NULL) {
        fprintf(stderr, "Not logged in (profile %s).\n", ctx->profile_name);
        return CLI_EXIT_OK;
    }
    int rc = cli_connect(ctx, 1);
    if (rc != CLI_EXIT_OK)
        return rc;
    Concord__V1__LogoutRequest req = CONCORD__V1__LOGOUT_REQUEST__INIT;
    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    int code = cc_invoke(ctx->conn, "concord.v1.AuthService/Logout", &req.base,
                         &concord__v1__logout_response__descriptor, &resp, &st);
    protobuf_c_message_free_unpacked(resp, NULL);
    /* A session the server no longer knows is as good as ended; an unreachable
     * server keeps the token so that the logout can be retried. */
    if (code != CC_OK && code != CC_UNAUTHENTICATED)
        return cli_fail_status(ctx, st, code);
    rc = cli_token_remove(ctx);
    if (rc != CLI_EXIT_OK)
        return rc;
    if (ctx->output == CLI_OUT_JSON)
        puts("{}");
    else
        printf(code == CC_OK ? "Logged out.\n" : "Logged out (the session had already ended).\n");
    return CLI_EXIT_OK;
}

static int whoami_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__WhoAmIResponse *resp = (const Concord__V1__WhoAmIResponse *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    if (resp->user == NULL)
        return cli_error("the server did not say who you are");
    char expires[64];
    cli_format_time((const ProtobufCMessage *)resp->expire_time, 0, expires, sizeof expires);
    printf("%s (%s), %s, %s\n", resp->user->username, resp->user->display_name,
           enum_text(ctx, &concord__v1__department__descriptor, resp->user->department),
           enum_text(ctx, &concord__v1__role__descriptor, resp->user->role));
    printf("credential: %s%s%s\n", resp->credential, expires[0] ? ", expires " : "", expires);
    printf("server: %s (profile %s)\n", ctx->profile.server, ctx->profile_name);
    return CLI_EXIT_OK;
}

static int user_create_prepare(cli_ctx *ctx, ProtobufCMessage *m)
{
    Concord__V1__CreateUserRequest *req = (Concord__V1__CreateUserRequest *)m;
    return read_password(ctx, 1, &req->password);
}

static int token_create_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__CreateApiTokenResponse *resp =
        (const Concord__V1__CreateApiTokenResponse *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    /* Only the secret goes to stdout, so that $(concord token create ...) is the token. */
    if (resp->api_token) {
        char expires[64];
        cli_format_time((const ProtobufCMessage *)resp->api_token->expire_time, 0, expires,
                        sizeof expires);
        fprintf(stderr, "Created API token %s (%s), expires %s.\n", resp->api_token->id,
                resp->api_token->name, expires[0] ? expires : "never");
    }
    fprintf(stderr, "Copy the token now: it will not be shown again.\n");
    printf("%s\n", resp->token);
    return CLI_EXIT_OK;
}

static int token_revoke_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    printf("Revoked API token %s.\n", ctx->args[0]);
    return CLI_EXIT_OK;
}

static int version_run(cli_ctx *ctx)
{
    if (ctx->output == CLI_OUT_JSON)
        printf("{\n  \"version\": \"%s\"\n}\n", CLI_VERSION);
    else
        printf("concord %s\n", CLI_VERSION);
    return CLI_EXIT_OK;
}

static int completion_run(cli_ctx *ctx)
{
    if (strcmp(ctx->args[0], "bash") != 0)
        return cli_usage("completion: unsupported shell '%s' (expected bash)", ctx->args[0]);
    return cli_completion_bash(ctx);
}

/* ---- the table ------------------------------------------------------------ */

const cli_cmd cli_core_commands[] = {
    {.noun = "login",
     .method = "concord.v1.AuthService/Login",
     .flags = login_flags,
     .prepare = login_prepare,
     .print = login_print,
     .opts = CLI_C_NOAUTH,
     .summary = "Sign in and store a session token for the profile",
     .help = "Signs in and stores the session token in $XDG_CONFIG_HOME/concord/tokens/<profile> "
             "(readable by you only). On a terminal it asks for the user name and the password; "
             "scripts pass --user and pipe the password with --password-stdin."},
    {.noun = "logout",
     .run = logout_run,
     .summary = "End the session and forget the stored token",
     .help = "Ends the session on the server and removes the stored token of the profile."},
    {.noun = "whoami",
     .method = "concord.v1.AuthService/WhoAmI",
     .print = whoami_print,
     .summary = "Show the signed-in user",
     .help = "Shows the user the current token belongs to, and when the credential expires."},

    {.noun = "user",
     .verb = "create",
     .method = "concord.v1.AuthService/CreateUser",
     .flags = user_create_flags,
     .prepare = user_create_prepare,
     .summary = "Create a user (admins)",
     .help = "Creates a user. The initial password (at least 12 characters) is asked for twice "
             "on the terminal, or read from standard input with --password-stdin."},
    {.noun = "user",
     .verb = "list",
     .method = "concord.v1.AuthService/ListUsers",
     .flags = user_list_flags,
     .columns = user_columns,
     .summary = "List users (admins and managers)",
     .help = "Lists users ordered by user name, one page at a time unless --all is given."},
    {.noun = "user",
     .verb = "disable",
     .method = "concord.v1.AuthService/DisableUser",
     .args = "ID",
     .arg_field = "id",
     .summary = "Disable a user and end their sessions (admins)",
     .help = "Disables a user: they can no longer sign in, and their sessions and API tokens "
             "end at once."},

    {.noun = "token",
     .verb = "create",
     .method = "concord.v1.AuthService/CreateApiToken",
     .flags = token_create_flags,
     .print = token_create_print,
     .summary = "Create an API token for scripts",
     .help = "Creates an API token that acts as you. The secret is printed once on standard "
             "output; scripts pass it in CONCORD_TOKEN."},
    {.noun = "token",
     .verb = "revoke",
     .method = "concord.v1.AuthService/RevokeApiToken",
     .args = "ID",
     .arg_field = "id",
     .print = token_revoke_print,
     .summary = "Revoke an API token",
     .help = "Revokes one of your API tokens (admins may revoke any)."},

    {.noun = "account",
     .verb = "create",
     .method = "concord.v1.AccountService/CreateAccount",
     .flags = account_create_flags,
     .summary = "Create an account",
     .help = "Creates an account owned by you (or by --owner) and prints it."},
    {.noun = "account",
     .verb = "get",
     .method = "concord.v1.AccountService/GetAccount",
     .args = "ID",
     .arg_field = "id",
     .summary = "Show one account",
     .help = "Shows one account with all its fields."},
    {.noun = "account",
     .verb = "list",
     .method = "concord.v1.AccountService/ListAccounts",
     .flags = account_list_flags,
     .columns = account_columns,
     .summary = "List accounts",
     .help = "Lists the accounts you may see, one page at a time: in table output the token of "
             "the next page is shown on standard error as 'more: --page-token X'. --all "
             "follows the pages to the end (with -o json, as one merged response)."},
    {.noun = "account",
     .verb = "update",
     .method = "concord.v1.AccountService/UpdateAccount",
     .args = "ID",
     .arg_field = "account.id",
     .mask = "update_mask",
     .mask_of = "account",
     .flags = account_update_flags,
     .summary = "Change fields of an account",
     .help = "Changes exactly the fields given as flags. --version is the version you read: if "
             "someone changed the account since, nothing is written and the exit code is 5. "
             "--tag replaces the whole tag list."},
    {.noun = "account",
     .verb = "archive",
     .method = "concord.v1.AccountService/ArchiveAccount",
     .args = "ID",
     .arg_field = "id",
     .flags = account_archive_flags,
     .summary = "Archive an account",
     .help = "Archives an account: it is hidden from lists (see --include-archived) and kept "
             "with all its records."},

    {0},
};

/* Commands that are not about one area; listed last. */
const cli_cmd cli_misc_commands[] = {
    {.noun = "completion",
     .args = "SHELL",
     .arg_values = "bash",
     .run = completion_run,
     .opts = CLI_C_LOCAL,
     .summary = "Print a shell completion script",
     .help = "Prints a completion script generated from the command table. Load it with "
             "'source <(concord completion bash)'."},
    {.noun = "version",
     .run = version_run,
     .opts = CLI_C_LOCAL,
     .summary = "Print the version",
     .help = "Prints the version of this program."},
    {0},
};

/* ---- joining the areas' tables ---------------------------------------------- */

extern const cli_cmd cli_report_commands[];

/* One line per area table; the order here is the order of `concord --help`. */
static const cli_cmd *const cli_tables[] = {
    cli_core_commands,
    cli_account_commands,
    cli_team_commands,
    cli_contract_commands,
    cli_tier_commands,
    cli_stakeholder_commands,
    cli_activity_commands,
    cli_event_commands,
    cli_report_commands,
    cli_misc_commands,
    NULL,
};

const cli_cmd *cli_commands;

void cli_commands_init(void)
{
    size_t n = 0;
    for (size_t t = 0; cli_tables[t] != NULL; t++)
        for (const cli_cmd *c = cli_tables[t]; c->noun; c++)
            n++;
    cli_cmd *all = calloc(n + 1, sizeof(*all));
    if (all == NULL) {
        fprintf(stderr, "concord: out of memory\n");
        exit(CLI_EXIT_ERROR);
    }
    n = 0;
    for (size_t t = 0; cli_tables[t] != NULL; t++)
        for (const cli_cmd *c = cli_tables[t]; c->noun; c++)
            all[n++] = *c;
    cli_commands = all;
}
