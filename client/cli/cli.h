/*
 * cli.h - the concord command-line client: shared types of the command table
 * and the generic pieces every command uses (flags, request building, output,
 * errors, exit codes, configuration).
 *
 * A command is one row of the table in cli_commands.c. Most rows describe one
 * RPC: the request is built from the row's flags and positional argument by
 * walking the protobuf-c descriptors, the call goes through libconcord's
 * blocking layer and the response is printed as a table, a detail view or
 * proto3 JSON. Hooks cover what a row cannot say (prompting for a password,
 * storing a token, printing a secret once).
 */
#ifndef CLI_H
#define CLI_H

#include "arena.h"
#include "concord_client.h"
#include <protobuf-c/protobuf-c.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* The build may pass the project version; the fallback follows project(VERSION). */
#ifdef CONCORD_VERSION
#define CLI_VERSION CONCORD_VERSION
#else
#define CLI_VERSION "0.1.0"
#endif

/** Process exit codes; docs/CLI.md and `concord --help` describe them. */
typedef enum {
    CLI_EXIT_OK = 0,          /* success */
    CLI_EXIT_ERROR = 1,       /* any other error */
    CLI_EXIT_USAGE = 2,       /* bad command line, or INVALID_ARGUMENT from the server */
    CLI_EXIT_AUTH = 3,        /* UNAUTHENTICATED or PERMISSION_DENIED */
    CLI_EXIT_NOT_FOUND = 4,   /* NOT_FOUND */
    CLI_EXIT_CONFLICT = 5,    /* ABORTED, ALREADY_EXISTS, FAILED_PRECONDITION */
    CLI_EXIT_UNAVAILABLE = 6, /* UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED */
} cli_exit;

typedef enum {
    CLI_OUT_TABLE, /* aligned columns for lists, "field: value" lines for one record */
    CLI_OUT_JSON,  /* the response message in proto3 canonical JSON */
} cli_output;

/* Flag options. */
#define CLI_F_REQUIRED 0x01u /* the command refuses to run without it */
#define CLI_F_CLEAR 0x02u    /* a switch that names its field in the update mask with no value */
#define CLI_F_ALL 0x04u      /* follow next_page_token to the last page */
#define CLI_F_IDEM 0x08u     /* the value is the call's idempotency key */
#define CLI_F_KEY 0x10u      /* names the record to change: never part of the update mask */

/**
 * One flag of a command. A flag with a field fills that request field (dotted
 * proto names, e.g. "account.size_class"); its type comes from the descriptor:
 * strings are copied, enums are parsed by value name, integers are checked,
 * bool fields are switches and repeated fields take the flag several times.
 * A flag without a field is read by the command's hooks or by opts.
 */
typedef struct cli_flag {
    const char *name;    /* "size" for --size */
    const char *metavar; /* "SIZE" in help; NULL for a switch */
    const char *field;   /* request field it fills, or NULL */
    unsigned opts;       /* CLI_F_* */
    const char *help;    /* one line */
    char short_name;     /* 'o' for -o; 0 for none */
} cli_flag;

/** One column of a list table: a header and a field path within the item. */
typedef struct cli_column {
    const char *header;
    const char *field;
} cli_column;

/* Columns of records that more than one command prints (the monthly report too). */
extern const cli_column cli_contract_columns[];     /* Contract (cmd_contract.c) */
extern const cli_column cli_stage_change_columns[]; /* StageChange (cmd_contract.c) */
extern const cli_column cli_tier_change_columns[];  /* TierChange (cmd_tier.c) */
extern const cli_column cli_team_member_columns[];  /* TeamMember (cmd_team.c) */

typedef struct cli_ctx cli_ctx;
typedef struct cli_cmd cli_cmd;

/* Command options. */
#define CLI_C_NOAUTH 0x01u /* sends no token (login) */
#define CLI_C_LOCAL 0x02u  /* needs no server (version, completion) */

/**
 * A row of the command table. Hooks and run return a cli_exit code.
 */
struct cli_cmd {
    const char *noun;          /* "account", or a command word such as "login" */
    const char *verb;          /* "list"; NULL when the noun is the whole command */
    const char *method;        /* "concord.v1.AccountService/ListAccounts"; NULL with run */
    const char *args;          /* positional argument in usage, e.g. "ID"; NULL for none */
    const char *arg_field;     /* request field the positional argument fills */
    const char *arg_values;    /* space-separated completions of the positional, or NULL */
    const char *mask;          /* FieldMask field of the request ("update_mask"), or NULL */
    const char *mask_of;       /* message whose field flags are listed in the mask ("account") */
    const cli_flag *flags;     /* terminated by an all-zero row; NULL for none */
    const cli_column *columns; /* list responses: columns of the first repeated field */
    /* Completes the request after the flags were applied (prompts, checks). */
    int (*prepare)(cli_ctx *ctx, ProtobufCMessage *req);
    /* Prints a successful response instead of the default output. */
    int (*print)(cli_ctx *ctx, const ProtobufCMessage *resp);
    /* Runs a command that is not a single RPC; replaces everything above. */
    int (*run)(cli_ctx *ctx);
    unsigned opts;       /* CLI_C_* */
    const char *summary; /* one line for command lists */
    const char *help;    /* a paragraph for the command's --help */
};

/** A flag given on the command line, in order. */
typedef struct cli_given {
    const cli_flag *flag;
    const char *value; /* NULL for switches */
} cli_given;

#define CLI_MAX_GIVEN 64

/** Where and how to reach concordd, after config file, environment and flags. */
typedef struct cli_profile {
    char *server; /* host:port */
    char *ca_file;
    char *server_name;
    char *cert_file;
    char *key_file;
} cli_profile;

/** Everything one run of the program knows. Strings live in the arena. */
struct cli_ctx {
    arena arena;
    const char *argv0;
    const cli_cmd *cmd;
    cli_output output;
    const char *profile_name;
    cli_profile profile;
    cli_profile overrides; /* from --server, --ca-file, --server-name */
    cli_given given[CLI_MAX_GIVEN];
    size_t n_given;
    char **args;
    int n_args;
    cc_conn *conn;
};

/* ---- the command table (cli_commands.c and one cmd_<area>.c per area) ----- */

/**
 * Every command, terminated by a row whose noun is NULL: the tables listed in
 * cli_tables (cli_commands.c) joined in order by cli_commands_init.
 */
extern const cli_cmd *cli_commands;
/** Joins the per-area tables into cli_commands; call once at start. */
void cli_commands_init(void);

/* The per-area tables, each terminated by {0}. */
extern const cli_cmd cli_core_commands[];
extern const cli_cmd cli_account_commands[];
extern const cli_cmd cli_misc_commands[];
extern const cli_cmd cli_team_commands[];
extern const cli_cmd cli_contract_commands[];
extern const cli_cmd cli_tier_commands[];
extern const cli_cmd cli_stakeholder_commands[];
extern const cli_cmd cli_activity_commands[];
extern const cli_cmd cli_event_commands[];

/* ---- flags given (main.c) ------------------------------------------------ */

/** The last value given for flag name, or NULL. Switches give "". */
const char *cli_flag_value(const cli_ctx *ctx, const char *name);
/** True when flag name was given. */
int cli_flag_given(const cli_ctx *ctx, const char *name);
/** Writes the bash completion script for the table to stdout. */
int cli_completion_bash(cli_ctx *ctx);
/** Prints the full usage of the program, a noun or a command. */
void cli_help(FILE *out, const char *noun, const cli_cmd *cmd);

/* ---- messages through descriptors (cli_msg.c) ---------------------------- */

/** A new message of desc in the arena, initialised to its defaults. */
ProtobufCMessage *cli_msg_new(arena *a, const ProtobufCMessageDescriptor *desc);
/** The descriptor of a dotted field path, or NULL when a part is unknown. */
const ProtobufCFieldDescriptor *cli_msg_field(const ProtobufCMessageDescriptor *desc,
                                              const char *path);
/**
 * Sets a dotted field from text, creating the messages on the way in the
 * arena; repeated fields get the value appended, bool fields are set to true
 * when text is NULL. Returns 0, or CC_EINVAL with a reason in err (e.g.
 * "expected one of large, medium, small, entry").
 */
int cli_msg_set(arena *a, ProtobufCMessage *m, const char *path, const char *text, char *err,
                size_t errlen) CC_MUST_CHECK;
/**
 * Finds a dotted field in m: returns a pointer to the member and its
 * descriptor, or NULL when the path is unknown or crosses an unset message.
 */
const void *cli_msg_get(const ProtobufCMessage *m, const char *path,
                        const ProtobufCFieldDescriptor **fd);
/** The command-line name of an enum value: "professional-services", "s". */
void cli_enum_label(const ProtobufCEnumDescriptor *ed, const ProtobufCEnumValue *v, char *buf,
                    size_t len);
/** Parses a label or proto value name (any case); returns 0 or CC_ENOTFOUND. Rejects 0. */
int cli_enum_parse(const ProtobufCEnumDescriptor *ed, const char *text, int *value) CC_MUST_CHECK;
/** "large, medium, small, entry": the labels of every value except the zero one. */
void cli_enum_choices(const ProtobufCEnumDescriptor *ed, const char *sep, char *buf, size_t len);

/* ---- output and errors (cli_output.c) ------------------------------------ */

/** Formats a member (singular or repeated) for people; "" for empty values. */
void cli_format_field(const ProtobufCFieldDescriptor *fd, const void *member,
                      const ProtobufCMessage *owner, char *buf, size_t len);
/** "2026-11-22 11:00" in the local time zone (TZ). */
void cli_format_time(const ProtobufCMessage *ts, int with_seconds, char *buf, size_t len);
/** Prints one message as proto3 JSON (pretty, newline-terminated). Returns a cli_exit. */
int cli_print_json(const ProtobufCMessage *m);
/** Prints one message as aligned "field: value" lines, nested messages dotted. */
void cli_print_detail(const ProtobufCMessage *m);

/** A table that collects rows and prints them aligned. */
typedef struct cli_table {
    size_t n_cols, n_rows, cap_rows;
    char **cells; /* n_rows * n_cols, row-major, in the arena */
    const cli_column *cols;
} cli_table;

void cli_table_init(cli_table *t, const cli_column *cols);
/** Adds one row with the columns' fields of item. */
void cli_table_add(arena *a, cli_table *t, const ProtobufCMessage *item);
/** Prints the header and the rows to stdout. */
void cli_table_print(const cli_table *t);

/** The exit code for a status code. */
int cli_exit_for(int code);
/** Prints a failed call to stderr and returns its exit code. */
int cli_fail_status(const cli_ctx *ctx, const cc_status *st, int code);
/** Prints "concord: <message>" to stderr and returns CLI_EXIT_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Prints "concord: <message>" to stderr and returns CLI_EXIT_ERROR. */
int cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- configuration and credentials (cli_config.c) ------------------------ */

/** Resolves the profile from the config file, the environment and flags. */
int cli_config_load(cli_ctx *ctx);
/** Reads the stored token of the profile; NULL when there is none. */
char *cli_token_load(cli_ctx *ctx);
/** Stores token for the profile (0600, atomically). Returns a cli_exit. */
int cli_token_store(cli_ctx *ctx, const char *token);
/** Removes the stored token; a missing file is not an error. Returns a cli_exit. */
int cli_token_remove(cli_ctx *ctx);

/* ---- prompts (cli_prompt.c) ---------------------------------------------- */

/** Reads a line from the terminal with line editing; NULL at end of input. malloc'ed. */
char *cli_prompt_line(const char *prompt);
/** Reads a secret from /dev/tty without echo; NULL without a terminal. malloc'ed. */
char *cli_prompt_secret(const char *prompt);
/** Reads a secret from stdin up to EOF, without the trailing newline. malloc'ed. */
char *cli_read_stdin_secret(void);
/** Overwrites and frees a secret. Accepts NULL. */
void cli_secret_free(char *s);

/* ---- imports (cli_import.c) ---------------------------------------------- */

/** What an NDJSON import sends where. */
typedef struct cli_import {
    const char *method;                         /* the bulk method */
    const ProtobufCMessageDescriptor *request;  /* its request */
    const char *field;                          /* the repeated field of items in it */
    const ProtobufCMessageDescriptor *item;     /* one line's message */
    const ProtobufCMessageDescriptor *response; /* its response: "int32 created = 1" first */
    size_t batch;                               /* default lines per call */
    const char *what;                           /* "accounts", for messages */
} cli_import;

/**
 * Imports ctx->args[0] (a file of one proto3-JSON item per line, or - for
 * standard input) with flags --batch-size N, --skip N (lines already
 * imported) and --quiet. Returns a cli_exit.
 */
int cli_import_ndjson(cli_ctx *ctx, const cli_import *imp);

/** Flags every import command accepts. */
#define CLI_IMPORT_FLAGS                                                                       {"batch-size", "N", NULL, 0, "records per call (default 5000, max 10000)"},               {"skip", "N", NULL, 0, "skip the first N lines (already imported)"},                      {"quiet", NULL, NULL, 0, "no progress lines on standard error"}

/* ---- running a command (cli_run.c) --------------------------------------- */

/** Connects to concordd with the profile's settings (once). Returns a cli_exit. */
int cli_connect(cli_ctx *ctx, int with_token);
/** Runs ctx->cmd: a run hook, or the generic RPC path. Returns a cli_exit. */
int cli_run(cli_ctx *ctx);

#endif
