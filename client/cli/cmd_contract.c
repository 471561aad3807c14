/*
 * cmd_contract.c - concord CLI commands for proto/concord/v1/contract.proto.
 */
#include "cli.h"

const cli_cmd cli_contract_commands[] = {
    {0},
};
