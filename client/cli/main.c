/*
 * main.c - the concord command-line client: command-line parsing, help and
 * shell completion, all generated from the command table (cli_commands.c).
 *
 * The command line is `concord [global flags] <noun> [<verb>] [flags] [ARG]`.
 * Global flags may appear anywhere; a command's own flags come after its
 * name. Every run ends with an exit code from cli_exit; nothing but results
 * is written to stdout.
 */
#include "cli.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const cli_flag global_flags[] = {
    {"output", "FORMAT", NULL, 0, "output format: table or json (default table)", 'o'},
    {"profile", "NAME", NULL, 0, "configuration profile (default: $CONCORD_PROFILE or default)"},
    {"server", "HOST:PORT", NULL, 0, "concordd address (overrides config and CONCORD_SERVER)"},
    {"ca-file", "FILE", NULL, 0, "CA certificate that signed the server's certificate"},
    {"server-name", "NAME", NULL, 0, "name to check in the server's certificate"},
    {"help", NULL, NULL, 0, "show help", 'h'},
    {0},
};

static const char *const exit_code_help[] = {
    "0  success",
    "1  other error",
    "2  usage error, or INVALID_ARGUMENT from the server",
    "3  UNAUTHENTICATED or PERMISSION_DENIED",
    "4  NOT_FOUND",
    "5  conflict: ABORTED (stale version), ALREADY_EXISTS, FAILED_PRECONDITION",
    "6  UNAVAILABLE, DEADLINE_EXCEEDED or RESOURCE_EXHAUSTED",
    NULL,
};

const char *cli_flag_value(const cli_ctx *ctx, const char *name)
{
    const char *v = NULL;
    for (size_t i = 0; i < ctx->n_given; i++)
        if (strcmp(ctx->given[i].flag->name, name) == 0)
            v = ctx->given[i].value ? ctx->given[i].value : "";
    return v;
}

int cli_flag_given(const cli_ctx *ctx, const char *name)
{
    return cli_flag_value(ctx, name) != NULL;
}

/* ---- help ---------------------------------------------------------------- */

static int noun_has_verbs(const char *noun)
{
    for (const cli_cmd *c = cli_commands; c->noun; c++)
        if (strcmp(c->noun, noun) == 0 && c->verb)
            return 1;
    return 0;
}

/* The request field a flag fills, when it is an enum: its descriptor. */
static const ProtobufCEnumDescriptor *flag_enum(const cli_cmd *cmd, const cli_flag *f)
{
    if (cmd == NULL || cmd->method == NULL || f->field == NULL)
        return NULL;
    const ProtobufCMethodDescriptor *md = cc_method_lookup(cmd->method, NULL);
    const ProtobufCFieldDescriptor *fd = md ? cli_msg_field(md->input, f->field) : NULL;
    return fd && fd->type == PROTOBUF_C_TYPE_ENUM ? fd->descriptor : NULL;
}

static void print_flags(FILE *out, const cli_cmd *cmd, const cli_flag *flags)
{
    size_t w = 0;
    char left[128];
    for (const cli_flag *f = flags; f->name; f++) {
        snprintf(left, sizeof left, "%s--%s%s%s", f->short_name ? "-x, " : "", f->name,
                 f->metavar ? " " : "", f->metavar ? f->metavar : "");
        if (strlen(left) > w)
            w = strlen(left);
    }
    for (const cli_flag *f = flags; f->name; f++) {
        if (f->short_name)
            snprintf(left, sizeof left, "-%c, --%s%s%s", f->short_name, f->name,
                     f->metavar ? " " : "", f->metavar ? f->metavar : "");
        else
            snprintf(left, sizeof left, "--%s%s%s", f->name, f->metavar ? " " : "",
                     f->metavar ? f->metavar : "");
        fprintf(out, "  %-*s  %s", (int)w, left, f->help);
        const ProtobufCEnumDescriptor *ed = flag_enum(cmd, f);
        if (ed) {
            char choices[512];
            cli_enum_choices(ed, ", ", choices, sizeof choices);
            fprintf(out, ": %s", choices);
        }
        if (f->opts & CLI_F_REQUIRED)
            fputs(" (required)", out);
        fputc('\n', out);
    }
}

/* Prints a paragraph broken at spaces into lines of at most width columns. */
static void print_wrapped(FILE *out, const char *text, size_t width)
{
    while (*text) {
        size_t len = strlen(text);
        size_t cut = len;
        if (len > width) {
            cut = width;
            while (cut > 0 && text[cut] != ' ')
                cut--;
            if (cut == 0)
                cut = strcspn(text, " ");
        }
        fprintf(out, "%.*s\n", (int)cut, text);
        text += cut;
        while (*text == ' ')
            text++;
    }
}

static void print_usage_line(FILE *out, const cli_cmd *cmd)
{
    fprintf(out, "Usage: concord %s%s%s", cmd->noun, cmd->verb ? " " : "",
            cmd->verb ? cmd->verb : "");
    if (cmd->args)
        fprintf(out, " %s", cmd->args);
    for (const cli_flag *f = cmd->flags; f && f->name; f++)
        if (f->opts & CLI_F_REQUIRED)
            fprintf(out, " --%s %s", f->name, f->metavar ? f->metavar : "");
    if (cmd->flags)
        fputs(" [flags]", out);
    fputc('\n', out);
}

void cli_help(FILE *out, const char *noun, const cli_cmd *cmd)
{
    if (cmd) {
        print_usage_line(out, cmd);
        fputc('\n', out);
        print_wrapped(out, cmd->help, 78);
        if (cmd->flags) {
            fputs("\nFlags:\n", out);
            print_flags(out, cmd, cmd->flags);
        }
        fputs("\nGlobal flags:\n", out);
        print_flags(out, NULL, global_flags);
        return;
    }
    if (noun) {
        fprintf(out, "Usage: concord %s <verb> [flags]\n\nVerbs:\n", noun);
        for (const cli_cmd *c = cli_commands; c->noun; c++)
            if (strcmp(c->noun, noun) == 0 && c->verb)
                fprintf(out, "  %-10s %s\n", c->verb, c->summary);
        fprintf(out, "\nRun 'concord %s <verb> --help' for the flags of a verb.\n", noun);
        return;
    }
    fputs("concord - command-line client for Concord, the shared account view\n\n"
          "Usage: concord [global flags] <command> [flags]\n\nCommands:\n",
          out);
    for (const cli_cmd *c = cli_commands; c->noun; c++) {
        char name[64];
        snprintf(name, sizeof name, "%s%s%s", c->noun, c->verb ? " " : "", c->verb ? c->verb : "");
        fprintf(out, "  %-18s %s\n", name, c->summary);
    }
    fputs("\nGlobal flags (anywhere on the command line):\n", out);
    print_flags(out, NULL, global_flags);
    fputs("\nConfiguration: $XDG_CONFIG_HOME/concord/config (default ~/.config/concord/config),\n"
          "one INI section per profile with server, ca_file, server_name, cert_file, key_file.\n"
          "Environment: CONCORD_PROFILE, CONCORD_SERVER, CONCORD_CA_FILE, CONCORD_SERVER_NAME,\n"
          "CONCORD_TOKEN (a token to use instead of the stored one).\n\nExit codes:\n",
          out);
    for (size_t i = 0; exit_code_help[i]; i++)
        fprintf(out, "  %s\n", exit_code_help[i]);
    fputs("\nRun 'concord <command> --help' for the flags of a command.\n", out);
}

/* ---- bash completion ------------------------------------------------------ */

int cli_completion_bash(cli_ctx *ctx)
{
    (void)ctx;
    char choices[512];
    fputs("# bash completion for concord; generated by 'concord completion bash'.\n"
          "_concord()\n{\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    local noun= verb= words= i w\n"
          "    for ((i = 1; i < COMP_CWORD; i++)); do\n"
          "        w=${COMP_WORDS[i]}\n"
          "        case $w in\n",
          stdout);
    /* Global flags that take a value consume the next word. */
    fputs("        ", stdout);
    int first = 1;
    for (const cli_flag *f = global_flags; f->name; f++) {
        if (!f->metavar)
            continue;
        if (f->short_name)
            printf("%s-%c", first ? "" : "|", f->short_name);
        printf("%s--%s", first && !f->short_name ? "" : "|", f->name);
        first = 0;
    }
    fputs(") ((i++)); continue ;;\n"
          "        -*) continue ;;\n"
          "        esac\n"
          "        if [[ -z $noun ]]; then noun=$w; elif [[ -z $verb ]]; then verb=$w; fi\n"
          "    done\n"
          "    case $prev in\n"
          "    -o|--output) COMPREPLY=($(compgen -W \"table json\" -- \"$cur\")); return ;;\n"
          "    --ca-file) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
          "    --profile|--server|--server-name) return ;;\n"
          "    esac\n"
          "    case \"$noun $verb\" in\n",
          stdout);

    /* Before the noun: every command word. */
    fputs("    \" \") words=\"", stdout);
    for (const cli_cmd *c = cli_commands; c->noun; c++) {
        const cli_cmd *d = cli_commands;
        while (strcmp(d->noun, c->noun) != 0)
            d++;
        if (d == c)
            printf("%s%s", c == cli_commands ? "" : " ", c->noun);
    }
    fputs("\" ;;\n", stdout);

    for (const cli_cmd *c = cli_commands; c->noun; c++) {
        /* After a noun with verbs: the verbs (once per noun). */
        if (c->verb &&
            (c == cli_commands || c[-1].verb == NULL || strcmp(c[-1].noun, c->noun) != 0)) {
            printf("    \"%s \") words=\"", c->noun);
            for (const cli_cmd *v = c; v->noun && strcmp(v->noun, c->noun) == 0; v++)
                printf("%s%s", v == c ? "" : " ", v->verb);
            fputs("\" ;;\n", stdout);
        }
        if (c->verb)
            printf("    \"%s %s\"*)\n", c->noun, c->verb);
        else
            printf("    \"%s \"*)\n", c->noun);
        fputs("        case $prev in\n", stdout);
        for (const cli_flag *f = c->flags; f && f->name; f++) {
            if (!f->metavar)
                continue;
            const ProtobufCEnumDescriptor *ed = flag_enum(c, f);
            if (ed) {
                cli_enum_choices(ed, " ", choices, sizeof choices);
                printf("        --%s) COMPREPLY=($(compgen -W \"%s\" -- \"$cur\")); return ;;\n",
                       f->name, choices);
            } else {
                printf("        --%s) return ;;\n", f->name);
            }
        }
        fputs("        esac\n        words=\"", stdout);
        for (const cli_flag *f = c->flags; f && f->name; f++)
            printf("%s--%s", f == c->flags ? "" : " ", f->name);
        fputs("\"\n", stdout);
        /* A command without verbs takes its positional where a verb would be. */
        if (c->arg_values && !c->verb)
            printf("        [[ -z $verb ]] && words=\"$words %s\"\n", c->arg_values);
        fputs("        ;;\n", stdout);
    }
    fputs("    esac\n"
          "    if [[ $cur == -* ]]; then\n"
          "        words=\"$words",
          stdout);
    for (const cli_flag *f = global_flags; f->name; f++)
        printf(" --%s", f->name);
    fputs("\"\n"
          "    fi\n"
          "    COMPREPLY=($(compgen -W \"$words\" -- \"$cur\"))\n"
          "}\n"
          "complete -F _concord concord\n",
          stdout);
    return CLI_EXIT_OK;
}

/* ---- parsing ---------------------------------------------------------------- */

static const cli_flag *find_flag(const cli_flag *flags, const char *name, size_t len, char sh)
{
    for (const cli_flag *f = flags; f && f->name; f++) {
        if (sh ? f->short_name == sh : (strlen(f->name) == len && strncmp(f->name, name, len) == 0))
            return f;
    }
    return NULL;
}

/* Applies a global flag. Returns a cli_exit. */
static int apply_global(cli_ctx *ctx, const cli_flag *f, const char *value, int *help)
{
    if (strcmp(f->name, "help") == 0) {
        *help = 1;
    } else if (strcmp(f->name, "output") == 0) {
        if (strcmp(value, "table") == 0)
            ctx->output = CLI_OUT_TABLE;
        else if (strcmp(value, "json") == 0)
            ctx->output = CLI_OUT_JSON;
        else
            return cli_usage("--output: expected one of table, json");
    } else if (strcmp(f->name, "profile") == 0) {
        ctx->profile_name = value;
    } else if (strcmp(f->name, "server") == 0) {
        ctx->overrides.server = (char *)value;
    } else if (strcmp(f->name, "ca-file") == 0) {
        ctx->overrides.ca_file = (char *)value;
    } else if (strcmp(f->name, "server-name") == 0) {
        ctx->overrides.server_name = (char *)value;
    }
    return CLI_EXIT_OK;
}

/* Resolves the command from its words; NULL while more words are needed. */
static int resolve(cli_ctx *ctx, const char *noun, const char *verb)
{
    int noun_known = 0;
    for (const cli_cmd *c = cli_commands; c->noun; c++) {
        if (strcmp(c->noun, noun) != 0)
            continue;
        noun_known = 1;
        if ((verb == NULL && c->verb == NULL) || (verb && c->verb && strcmp(c->verb, verb) == 0)) {
            ctx->cmd = c;
            return CLI_EXIT_OK;
        }
    }
    if (!noun_known)
        return cli_usage("unknown command '%s' (see 'concord --help')", noun);
    if (verb)
        return cli_usage("unknown command '%s %s' (see 'concord %s --help')", noun, verb, noun);
    return CLI_EXIT_OK;
}

static int parse_args(cli_ctx *ctx, int argc, char **argv, int *help, const char **noun)
{
    int dashdash = 0;
    ctx->args = arena_calloc(&ctx->arena, (size_t)argc, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (dashdash || a[0] != '-' || a[1] == '\0') {
            int rc = CLI_EXIT_OK;
            if (*noun == NULL) {
                *noun = a;
                rc = resolve(ctx, a, NULL);
            } else if (ctx->cmd == NULL) {
                rc = resolve(ctx, *noun, a);
            } else {
                ctx->args[ctx->n_args++] = a;
            }
            if (rc != CLI_EXIT_OK)
                return rc;
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = 1;
            continue;
        }
        const char *name, *value = NULL;
        size_t len;
        char sh = 0;
        if (a[1] == '-') {
            name = a + 2;
            const char *eq = strchr(name, '=');
            len = eq ? (size_t)(eq - name) : strlen(name);
            value = eq ? eq + 1 : NULL;
        } else {
            /* A short flag: -o json, -ojson, -h. */
            name = a + 1;
            sh = a[1];
            len = 1;
            value = a[2] ? a + 2 : NULL;
        }
        const cli_flag *f = ctx->cmd ? find_flag(ctx->cmd->flags, name, len, sh) : NULL;
        int global = 0;
        if (f == NULL) {
            f = find_flag(global_flags, name, len, sh);
            global = f != NULL;
        }
        if (f == NULL) {
            if (ctx->cmd)
                return cli_usage("%.*s: unknown flag for 'concord %s%s%s' (see --help)",
                                 (int)(name - a + len), a, ctx->cmd->noun,
                                 ctx->cmd->verb ? " " : "", ctx->cmd->verb ? ctx->cmd->verb : "");
            return cli_usage("%.*s: unknown flag (see 'concord --help')", (int)(name - a + len), a);
        }
        if (f->metavar && value == NULL) {
            if (i + 1 >= argc)
                return cli_usage("--%s: needs a value (%s)", f->name, f->metavar);
            value = argv[++i];
        } else if (!f->metavar && value) {
            return cli_usage("--%s: takes no value", f->name);
        }
        if (global) {
            int rc = apply_global(ctx, f, value, help);
            if (rc != CLI_EXIT_OK)
                return rc;
            continue;
        }
        if (ctx->n_given == CLI_MAX_GIVEN)
            return cli_usage("too many flags");
        ctx->given[ctx->n_given].flag = f;
        ctx->given[ctx->n_given].value = value;
        ctx->n_given++;
    }
    return CLI_EXIT_OK;
}

/* Checks what the parser cannot: argument count and required flags. */
static int check_command(cli_ctx *ctx)
{
    const cli_cmd *cmd = ctx->cmd;
    char name[64];
    snprintf(name, sizeof name, "%s%s%s", cmd->noun, cmd->verb ? " " : "",
             cmd->verb ? cmd->verb : "");
    if (cmd->args && ctx->n_args == 0)
        return cli_usage("%s: missing %s (usage: concord %s %s)", name, cmd->args, name, cmd->args);
    if (ctx->n_args > (cmd->args ? 1 : 0))
        return cli_usage("%s: unexpected argument '%s'", name, ctx->args[cmd->args ? 1 : 0]);
    for (const cli_flag *f = cmd->flags; f && f->name; f++)
        if ((f->opts & CLI_F_REQUIRED) && !cli_flag_given(ctx, f->name))
            return cli_usage("--%s: required for '%s'", f->name, name);
    return CLI_EXIT_OK;
}

int main(int argc, char **argv)
{
    cli_ctx ctx = {0};
    int help = 0;
    const char *noun = NULL;
    int rc;

    arena_init(&ctx.arena, 16384);
    cli_commands_init();
    ctx.argv0 = argv[0];
    rc = parse_args(&ctx, argc, argv, &help, &noun);
    if (rc != CLI_EXIT_OK)
        goto out;
    if (help) {
        cli_help(stdout, noun, ctx.cmd);
        goto out;
    }
    if (noun == NULL) {
        cli_help(stderr, NULL, NULL);
        rc = CLI_EXIT_USAGE;
        goto out;
    }
    if (ctx.cmd == NULL) {
        rc = noun_has_verbs(noun) ? cli_usage("%s: missing verb", noun) : CLI_EXIT_USAGE;
        cli_help(stderr, noun, NULL);
        goto out;
    }
    rc = check_command(&ctx);
    if (rc == CLI_EXIT_OK && !(ctx.cmd->opts & CLI_C_LOCAL))
        rc = cli_config_load(&ctx);
    if (rc == CLI_EXIT_OK)
        rc = cli_run(&ctx);
out:
    cc_conn_free(ctx.conn);
    arena_free(&ctx.arena);
    /* Output that never reached its destination (a full disk) is a failure; a reader
     * that went away (`| head`) needs no message. */
    errno = 0;
    if ((fflush(stdout) != 0 || ferror(stdout)) && rc == CLI_EXIT_OK) {
        rc = CLI_EXIT_ERROR;
        if (errno != EPIPE)
            cli_error("cannot write the output");
    }
    return rc;
}
