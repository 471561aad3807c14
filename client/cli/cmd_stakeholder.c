/*
 * cmd_stakeholder.c - concord CLI commands for proto/concord/v1/stakeholder.proto:
 * `concord stakeholder create|get|list|update|delete` and `concord account coverage`.
 *
 * Rows map flags to request fields; the one hook prints the coverage view as
 * a matrix of customer levels by our departments.
 */
#include "cli.h"
#include "concord/v1/stakeholder.pb-c.h"
#include <stdio.h>
#include <string.h>

/* clang-format off */
#define STAKEHOLDER_FIELD_FLAGS                                                                \
    {"title", "TEXT", "stakeholder.title", 0, "job title"},                                   \
    {"department", "TEXT", "stakeholder.department", 0, "their department, e.g. IT"},         \
    {"role", "TEXT", "stakeholder.role", 0, "role in decisions, e.g. \"economic buyer\""},    \
    {"attitude", "ATTITUDE", "stakeholder.attitude", 0, "champion, supporter, neutral, blocker"}, \
    {"influence", "1-5", "stakeholder.influence", 0, "from 1 (little) to 5 (decisive)"},      \
    {"reports-to", "ID", "stakeholder.reports_to_id", 0, "the stakeholder they report to"},   \
    {"email", "ADDRESS", "stakeholder.email", 0, "email address"},                            \
    {"phone", "TEXT", "stakeholder.phone", 0, "phone number"},                                \
    {"notes", "TEXT", "stakeholder.notes", 0, "free-form notes"}
/* clang-format on */

static const cli_flag create_flags[] = {
    {"account", "ID", "stakeholder.account_id", CLI_F_REQUIRED, "the account they work at"},
    {"name", "NAME", "stakeholder.name", CLI_F_REQUIRED, "full name, 1-200 characters"},
    {"level", "LEVEL", "stakeholder.level", CLI_F_REQUIRED, "executive, director or staff"},
    STAKEHOLDER_FIELD_FLAGS,
    {"idempotency-key", "KEY", NULL, CLI_F_IDEM,
     "retrying with the same key records the stakeholder only once"},
    {0},
};

static const cli_flag update_flags[] = {
    {"version", "N", "version", CLI_F_REQUIRED, "the version you read; a newer one is a conflict"},
    {"name", "NAME", "stakeholder.name", 0, "full name, 1-200 characters"},
    {"level", "LEVEL", "stakeholder.level", 0, "executive, director or staff"},
    STAKEHOLDER_FIELD_FLAGS,
    {"clear-reports-to", NULL, "stakeholder.reports_to_id", CLI_F_CLEAR,
     "they report to nobody on the map"},
    {0},
};

static const cli_flag list_flags[] = {
    {"account", "ID", "account_id", CLI_F_REQUIRED, "the account"},
    {"level", "LEVEL", "level", 0, "only this level"},
    {"attitude", "ATTITUDE", "attitude", 0, "only this attitude"},
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"},
    {0},
};

static const cli_flag delete_flags[] = {
    {"version", "N", "version", 0, "the version you read (default: no check)"},
    {0},
};

static const cli_flag coverage_flags[] = {
    {"window", "DAYS", "window_days", 0, "contacts within this many days count (default 180)"},
    {0},
};

/* clang-format off */
static const cli_column stakeholder_columns[] = {
    {"ID", "id"},
    {"NAME", "name"},
    {"LEVEL", "level"},
    {"TITLE", "title"},
    {"ATTITUDE", "attitude"},
    {"INFLUENCE", "influence"},
    {"REPORTS TO", "reports_to_id"},
    {"LAST CONTACT", "last_contact_time"},
    {"VERSION", "version"},
    {0},
};
/* clang-format on */

/* The label of an enum value ("executive"); "?" for values this build does not know. */
static void label(const ProtobufCEnumDescriptor *ed, int value, char *buf, size_t len)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(ed, value);
    if (v == NULL || value == 0)
        snprintf(buf, len, "?");
    else
        cli_enum_label(ed, v, buf, len);
}

/*
 * Prints the coverage matrix: one row per level, one column per department,
 * each cell "N (last contact date)", then what is known, the uncovered
 * levels and the single-threaded flag with its explanation.
 */
static int coverage_print(cli_ctx *ctx, const ProtobufCMessage *m)
{
    const Concord__V1__Coverage *cov = (const Concord__V1__Coverage *)m;
    if (ctx->output == CLI_OUT_JSON)
        return cli_print_json(m);
    static const int levels[] = {CONCORD__V1__STAKEHOLDER_LEVEL__EXECUTIVE,
                                 CONCORD__V1__STAKEHOLDER_LEVEL__DIRECTOR,
                                 CONCORD__V1__STAKEHOLDER_LEVEL__STAFF};
    static const int depts[] = {CONCORD__V1__DEPARTMENT__SALES, CONCORD__V1__DEPARTMENT__PRESALES,
                                CONCORD__V1__DEPARTMENT__DELIVERY, CONCORD__V1__DEPARTMENT__RND,
                                CONCORD__V1__DEPARTMENT__SUCCESS};
    enum { N_DEPTS = sizeof(depts) / sizeof(depts[0]), WIDTH = 18 };
    char buf[64];
    printf("%-10s %-6s", "LEVEL", "KNOWN");
    for (int d = 0; d < N_DEPTS; d++) {
        label(&concord__v1__department__descriptor, depts[d], buf, sizeof buf);
        for (char *p = buf; *p; p++)
            *p = (char)((*p >= 'a' && *p <= 'z') ? *p - 'a' + 'A' : *p);
        printf(" %-*s", d + 1 < N_DEPTS ? WIDTH : 0, buf);
    }
    printf("\n");
    for (int l = 0; l < 3; l++) {
        label(&concord__v1__stakeholder_level__descriptor, levels[l], buf, sizeof buf);
        int known = (size_t)l < cov->n_known_per_level ? cov->known_per_level[l] : 0;
        printf("%-10s %-6d", buf, known);
        for (int d = 0; d < N_DEPTS; d++) {
            const Concord__V1__CoverageCell *cell = NULL;
            for (size_t i = 0; i < cov->n_cells; i++)
                if ((int)cov->cells[i]->level == levels[l] &&
                    (int)cov->cells[i]->department == depts[d])
                    cell = cov->cells[i];
            char text[96] = "-";
            if (cell) {
                char when[64];
                cli_format_time((const ProtobufCMessage *)cell->last_contact_time, 0, when,
                                sizeof when);
                when[10] = '\0'; /* the date is enough in a cell */
                snprintf(text, sizeof text, "%d (%s)", cell->stakeholders, when);
            }
            /* The last column is not padded: no trailing blanks. */
            printf(" %-*s", d + 1 < N_DEPTS ? WIDTH : 0, text);
        }
        printf("\n");
    }
    if (cov->n_uncovered_levels) {
        printf("\nuncovered levels:");
        for (size_t i = 0; i < cov->n_uncovered_levels; i++) {
            label(&concord__v1__stakeholder_level__descriptor, cov->uncovered_levels[i], buf,
                  sizeof buf);
            printf("%s %s", i ? "," : "", buf);
        }
        printf("\n");
    } else {
        printf("\n");
    }
    printf("single-threaded: %s\n", cov->single_threaded ? "YES" : "no");
    printf("%s\n", cov->explanation);
    return CLI_EXIT_OK;
}

const cli_cmd cli_stakeholder_commands[] = {
    {.noun = "stakeholder",
     .verb = "create",
     .method = "concord.v1.StakeholderService/CreateStakeholder",
     .flags = create_flags,
     .summary = "Record one of the customer's people",
     .help = "Records a stakeholder of an account: name and level are required; attitude, "
             "influence (1-5), reports-to (another stakeholder of the same account) and contact "
             "details are optional. Needs edit access to the account."},
    {.noun = "stakeholder",
     .verb = "get",
     .method = "concord.v1.StakeholderService/GetStakeholder",
     .args = "ID",
     .arg_field = "id",
     .summary = "Show one stakeholder",
     .help = "Shows one stakeholder with their last contact (the latest activity with them)."},
    {.noun = "stakeholder",
     .verb = "list",
     .method = "concord.v1.StakeholderService/ListStakeholders",
     .flags = list_flags,
     .columns = stakeholder_columns,
     .summary = "List an account's stakeholders",
     .help = "Lists the stakeholders of an account by level (executives first), then name."},
    {.noun = "stakeholder",
     .verb = "update",
     .method = "concord.v1.StakeholderService/UpdateStakeholder",
     .args = "ID",
     .arg_field = "stakeholder.id",
     .mask = "update_mask",
     .mask_of = "stakeholder",
     .flags = update_flags,
     .summary = "Change fields of a stakeholder",
     .help = "Changes exactly the fields given as flags. --version is the version you read: if "
             "someone changed the stakeholder since, nothing is written and the exit code is 5. "
             "A reports-to link that would make a reporting cycle is refused."},
    {.noun = "stakeholder",
     .verb = "delete",
     .method = "concord.v1.StakeholderService/DeleteStakeholder",
     .args = "ID",
     .arg_field = "id",
     .flags = delete_flags,
     .summary = "Remove a stakeholder (their activities stay)",
     .help = "Removes a stakeholder who left: they disappear from lists and coverage, people "
             "who reported to them report to nobody, and their activities keep the link."},
    {.noun = "account",
     .verb = "coverage",
     .method = "concord.v1.StakeholderService/GetCoverage",
     .args = "ACCOUNT",
     .arg_field = "account_id",
     .flags = coverage_flags,
     .print = coverage_print,
     .summary = "Show how our departments cover an account's stakeholders",
     .help = "Prints a matrix of the customer's levels (executive, director, staff) by our "
             "departments: in each cell the number of stakeholders of that level our department "
             "had activities with in the window, and the latest contact. Flags accounts whose "
             "contact hangs on one stakeholder or one of our users (single-threaded)."},
    {0},
};
