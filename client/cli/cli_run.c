/*
 * cli_run.c - the generic path of a command: build the request from the
 * table row, connect, call, follow pages, print.
 *
 * Every step is driven by the row and the method's descriptors, so a new
 * RPC command is a new row. Requests live in the context's arena; each
 * response is freed as soon as it has been printed or merged.
 */
#include "cli.h"
#include "pjson.h"
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Splits "host:port", "[v6]:port" or "host" (default port). */
static int parse_server(cli_ctx *ctx, const char *server, char **host, int *port)
{
    const char *colon;
    *port = 7433;
    if (server[0] == '[') {
        const char *end = strchr(server, ']');
        if (end == NULL)
            return -1;
        *host = arena_strndup(&ctx->arena, server + 1, (size_t)(end - server - 1));
        colon = end[1] == ':' ? end + 1 : NULL;
        if (end[1] != '\0' && colon == NULL)
            return -1;
    } else {
        colon = strrchr(server, ':');
        /* More than one colon without brackets is a bare IPv6 address. */
        if (colon && strchr(server, ':') != colon)
            colon = NULL;
        *host = colon ? arena_strndup(&ctx->arena, server, (size_t)(colon - server))
                      : arena_strdup(&ctx->arena, server);
    }
    if (colon) {
        char *end;
        long p = strtol(colon + 1, &end, 10);
        if (end == colon + 1 || *end != '\0' || p < 1 || p > 65535)
            return -1;
        *port = (int)p;
    }
    return (*host)[0] ? 0 : -1;
}

int cli_connect(cli_ctx *ctx, int with_token)
{
    if (ctx->conn)
        return CLI_EXIT_OK;
    char *host;
    int port;
    if (parse_server(ctx, ctx->profile.server, &host, &port) != 0)
        return cli_usage("--server: '%s' is not host:port", ctx->profile.server);
    cc_options o = {
        .host = host,
        .port = port,
        .ca_file = ctx->profile.ca_file,
        .server_name = ctx->profile.server_name,
        .cert_file = ctx->profile.cert_file,
        .key_file = ctx->profile.key_file,
    };
    char err[256] = "";
    int rc = cc_connect(&o, &ctx->conn, err, sizeof err);
    if (rc != 0) {
        ctx->conn = NULL;
        /* libconcord's reason names the address; add it only when there is none. */
        if (err[0] == '\0')
            snprintf(err, sizeof err, "cannot connect to %s: %s", ctx->profile.server,
                     cc_strerror(rc));
        /* Bad local settings (an unreadable CA file) are not the server's fault. */
        if (rc == CC_ECONFIG || rc == CC_EINVAL)
            return cli_error("%s", err);
        fprintf(stderr, "concord: UNAVAILABLE: %s\n", err);
        return CLI_EXIT_UNAVAILABLE;
    }
    if (with_token) {
        const char *env = getenv("CONCORD_TOKEN");
        const char *tok = env && env[0] ? env : cli_token_load(ctx);
        cc_conn_set_token(ctx->conn, tok);
    }
    return CLI_EXIT_OK;
}

/* Applies the positional argument, the flags and the update mask to req. */
static int build_request(cli_ctx *ctx, ProtobufCMessage *req)
{
    const cli_cmd *cmd = ctx->cmd;
    char err[600];
    if (cmd->arg_field && ctx->n_args == 1 &&
        cli_msg_set(&ctx->arena, req, cmd->arg_field, ctx->args[0], err, sizeof err) != 0)
        return cli_usage("%s: %s", cmd->args, err);

    size_t prefix_len = cmd->mask_of ? strlen(cmd->mask_of) : 0;
    const char *paths[CLI_MAX_GIVEN];
    size_t n_paths = 0;
    for (size_t i = 0; i < ctx->n_given; i++) {
        const cli_flag *f = ctx->given[i].flag;
        if (f->field == NULL)
            continue;
        if (!(f->opts & CLI_F_CLEAR) &&
            cli_msg_set(&ctx->arena, req, f->field, ctx->given[i].value, err, sizeof err) != 0)
            return cli_usage("--%s: %s", f->name, err);
        /* Fields of mask_of given as flags are exactly the fields to change. */
        if (cmd->mask && !(f->opts & CLI_F_KEY) &&
            strncmp(f->field, cmd->mask_of, prefix_len) == 0 && f->field[prefix_len] == '.') {
            const char *path = f->field + prefix_len + 1;
            size_t j = 0;
            while (j < n_paths && strcmp(paths[j], path) != 0)
                j++;
            if (j == n_paths)
                paths[n_paths++] = path;
        }
    }
    if (cmd->mask) {
        if (n_paths == 0)
            return cli_usage("nothing to change: give at least one field flag (see 'concord %s "
                             "%s --help')",
                             cmd->noun, cmd->verb);
        char *mask_paths = arena_printf(&ctx->arena, "%s.paths", cmd->mask);
        for (size_t j = 0; j < n_paths; j++)
            if (cli_msg_set(&ctx->arena, req, mask_paths, paths[j], err, sizeof err) != 0)
                return cli_error("%s: %s", cmd->mask, err);
    }
    return CLI_EXIT_OK;
}

/* The first repeated message field of a list response: the items. */
static const ProtobufCFieldDescriptor *items_field(const ProtobufCMessageDescriptor *d)
{
    for (unsigned i = 0; i < d->n_fields; i++)
        if (d->fields[i].label == PROTOBUF_C_LABEL_REPEATED &&
            d->fields[i].type == PROTOBUF_C_TYPE_MESSAGE)
            return &d->fields[i];
    return NULL;
}

/* Appends every array of page to the same array of merged (for --all). */
static void json_merge_page(json_t *merged, json_t *page)
{
    const char *key;
    json_t *value;
    json_object_foreach(page, key, value)
    {
        json_t *have = json_object_get(merged, key);
        if (json_is_array(value) && json_is_array(have))
            json_array_extend(have, value);
        else if (json_is_array(value) && have == NULL)
            json_object_set(merged, key, value);
    }
}

/* Runs a list method: one page, or every page with --all. */
static int run_list(cli_ctx *ctx, const ProtobufCMethodDescriptor *md, ProtobufCMessage *req)
{
    const cli_cmd *cmd = ctx->cmd;
    const ProtobufCFieldDescriptor *items = items_field(md->output);
    int all = 0;
    for (size_t i = 0; i < ctx->n_given; i++)
        all |= (ctx->given[i].flag->opts & CLI_F_ALL) != 0;
    if (items == NULL)
        return cli_error("%s has no list in its response", cmd->method);

    cli_table table;
    cli_table_init(&table, cmd->columns);
    json_t *merged = NULL;
    char *next = NULL;
    char *total = NULL;
    int ret = CLI_EXIT_OK;
    for (;;) {
        ProtobufCMessage *resp = NULL;
        const cc_status *st = NULL;
        int code = cc_invoke(ctx->conn, cmd->method, req, md->output, &resp, &st);
        if (code != CC_OK) {
            ret = cli_fail_status(ctx, st, code);
            goto out;
        }
        if (ctx->output == CLI_OUT_JSON) {
            json_t *page = pjson_from_message(resp);
            if (page == NULL) {
                protobuf_c_message_free_unpacked(resp, NULL);
                ret = cli_error("cannot format the response as JSON: out of memory");
                goto out;
            }
            if (merged == NULL) {
                merged = page;
            } else {
                json_merge_page(merged, page);
                json_decref(page);
            }
        } else {
            size_t n = *(const size_t *)((const char *)resp + items->quantifier_offset);
            ProtobufCMessage **arr = *(ProtobufCMessage ***)((char *)resp + items->offset);
            for (size_t i = 0; i < n; i++)
                cli_table_add(&ctx->arena, &table, arr[i]);
        }
        const ProtobufCFieldDescriptor *fd;
        const void *tok = cli_msg_get(resp, "next_page_token", &fd);
        const void *tot = cli_msg_get(resp, "total_size", &fd);
        char *prev = next;
        next =
            tok && (*(char *const *)tok)[0] ? arena_strdup(&ctx->arena, *(char *const *)tok) : NULL;
        if (tot && *(const int64_t *)tot > 0 && total == NULL)
            total = arena_printf(&ctx->arena, "%lld", (long long)*(const int64_t *)tot);
        protobuf_c_message_free_unpacked(resp, NULL);
        if (!all || next == NULL)
            break;
        /* A server that hands back the same token would loop forever. */
        if (prev && strcmp(prev, next) == 0) {
            ret = cli_error("the server returned the same page token twice");
            goto out;
        }
        char err[256];
        if (cli_msg_set(&ctx->arena, req, "page_token", next, err, sizeof err) != 0) {
            ret = cli_error("page_token: %s", err);
            goto out;
        }
    }

    if (ctx->output == CLI_OUT_JSON) {
        if (all)
            json_object_del(merged, "nextPageToken");
        char *text = json_dumps(merged, JSON_INDENT(2));
        if (text == NULL) {
            ret = cli_error("cannot format the response as JSON: out of memory");
            goto out;
        }
        puts(text);
        free(text);
    } else {
        cli_table_print(&table);
        if (total || cli_flag_given(ctx, "total"))
            fprintf(stderr, "total: %s\n", total ? total : "0");
        if (next && !all)
            fprintf(stderr, "more: --page-token %s\n", next);
    }
out:
    json_decref(merged);
    return ret;
}

int cli_run(cli_ctx *ctx)
{
    const cli_cmd *cmd = ctx->cmd;
    if (cmd->run)
        return cmd->run(ctx);

    const ProtobufCMethodDescriptor *md = cc_method_lookup(cmd->method, NULL);
    if (md == NULL)
        return cli_error("this build does not know the method %s", cmd->method);
    ProtobufCMessage *req = cli_msg_new(&ctx->arena, md->input);
    int rc = build_request(ctx, req);
    if (rc == CLI_EXIT_OK && cmd->prepare)
        rc = cmd->prepare(ctx, req);
    if (rc == CLI_EXIT_OK)
        rc = cli_connect(ctx, !(cmd->opts & CLI_C_NOAUTH));
    if (rc != CLI_EXIT_OK)
        return rc;
    for (size_t i = 0; i < ctx->n_given; i++)
        if (ctx->given[i].flag->opts & CLI_F_IDEM)
            cc_conn_set_idempotency_key(ctx->conn, ctx->given[i].value);

    if (cmd->columns && !cmd->print)
        return run_list(ctx, md, req);

    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    int code = cc_invoke(ctx->conn, cmd->method, req, md->output, &resp, &st);
    if (code != CC_OK)
        return cli_fail_status(ctx, st, code);
    if (cmd->print) {
        rc = cmd->print(ctx, resp);
    } else if (ctx->output == CLI_OUT_JSON) {
        rc = cli_print_json(resp);
    } else {
        cli_print_detail(resp);
        rc = CLI_EXIT_OK;
    }
    protobuf_c_message_free_unpacked(resp, NULL);
    return rc;
}
