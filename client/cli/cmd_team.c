/*
 * cmd_team.c - account team commands (concord.v1.TeamService).
 */
#include "cli.h"

/* clang-format off */
static const cli_flag add_flags[] = {
    {"user", "USER_ID", "member.user_id", CLI_F_REQUIRED, "the user to add"},
    {"role", "ROLE", "member.team_role", CLI_F_REQUIRED, "team role"},
    {"access", "LEVEL", "member.access_level", 0, "read or edit (default edit)"},
    {0},
};

static const cli_flag update_flags[] = {
    {"user", "USER_ID", "member.user_id", CLI_F_REQUIRED | CLI_F_KEY, "the member to change"},
    {"role", "ROLE", "member.team_role", 0, "new team role"},
    {"access", "LEVEL", "member.access_level", 0, "new access level: read or edit"},
    {0},
};

static const cli_flag remove_flags[] = {
    {"user", "USER_ID", "user_id", CLI_F_REQUIRED, "the member to remove"},
    {0},
};

static const cli_flag list_flags[] = {
    {"page-size", "N", "page_size", 0, "at most N per page (server default 50, max 500)"},
    {"page-token", "TOKEN", "page_token", 0, "continue after a previous page"},
    {"all", NULL, NULL, CLI_F_ALL, "fetch every page, following page tokens"},
    {0},
};

const cli_column cli_team_member_columns[] = {
    {"USER", "user_id"},
    {"USERNAME", "username"},
    {"NAME", "display_name"},
    {"DEPARTMENT", "department"},
    {"ROLE", "team_role"},
    {"ACCESS", "access_level"},
    {"ADDED", "add_time"},
    {0},
};
/* clang-format on */

const cli_cmd cli_team_commands[] = {
    {.noun = "team",
     .verb = "add",
     .method = "concord.v1.TeamService/AddTeamMember",
     .args = "ACCOUNT_ID",
     .arg_field = "member.account_id",
     .flags = add_flags,
     .summary = "Put a user on an account's team",
     .help = "Adds a user to the account's team with a team role (account-owner, solution-lead, "
             "delivery-lead, rnd-liaison, customer-success-manager, executive-sponsor) and an "
             "access level. Team members see the account; with edit access they change it."},
    {.noun = "team",
     .verb = "update",
     .method = "concord.v1.TeamService/UpdateTeamMember",
     .args = "ACCOUNT_ID",
     .arg_field = "member.account_id",
     .mask = "update_mask",
     .mask_of = "member",
     .flags = update_flags,
     .summary = "Change a member's role or access level",
     .help = "Changes the team role and/or access level of a member of the account's team."},
    {.noun = "team",
     .verb = "remove",
     .method = "concord.v1.TeamService/RemoveTeamMember",
     .args = "ACCOUNT_ID",
     .arg_field = "account_id",
     .flags = remove_flags,
     .summary = "Take a user off an account's team",
     .help = "Removes a member; unless they own the account or manage an involved department, "
             "they no longer see it."},
    {.noun = "team",
     .verb = "list",
     .method = "concord.v1.TeamService/ListTeamMembers",
     .args = "ACCOUNT_ID",
     .arg_field = "account_id",
     .flags = list_flags,
     .columns = cli_team_member_columns,
     .summary = "List an account's team",
     .help = "Lists the users working the account with their team roles and access levels."},
    {0},
};
