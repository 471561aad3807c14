/*
 * cli_import.c - streamed imports: an NDJSON file of proto3-JSON records sent
 * to a bulk method in batches, with progress on standard error.
 *
 * Each batch is all or nothing on the server; the import stops at the first
 * batch that fails and says which lines it held, so a corrected file can be
 * imported again from that line (--skip).
 */
#include "cli.h"
#include "concord/v1/auth.pb-c.h"
#include "pjson.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Lines of a regular file, for the progress total; 0 when unknown (stdin). */
static size_t count_lines(FILE *f)
{
    if (f == stdin)
        return 0;
    size_t n = 0;
    char buf[65536];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        for (size_t i = 0; i < got; i++)
            n += buf[i] == '\n';
    rewind(f);
    return n;
}

static int send_batch(cli_ctx *ctx, const cli_import *imp, ProtobufCMessage **items, size_t n,
                      size_t first_line, size_t *created)
{
    const ProtobufCFieldDescriptor *fd = cli_msg_field(imp->request, imp->field);
    ProtobufCMessage *req = cli_msg_new(&ctx->arena, imp->request);
    *(size_t *)((char *)req + fd->quantifier_offset) = n;
    *(ProtobufCMessage ***)((char *)req + fd->offset) = items;
    ProtobufCMessage *resp = NULL;
    const cc_status *st = NULL;
    int code = cc_invoke(ctx->conn, imp->method, req, imp->response, &resp, &st);
    if (code != CC_OK) {
        fprintf(stderr,
                "concord: the batch of lines %zu-%zu was refused; nothing of it was "
                "imported (earlier batches were)\n",
                first_line, first_line + n - 1);
        return cli_fail_status(ctx, st, code);
    }
    /* Every bulk response starts with "int32 created = 1". */
    const ProtobufCFieldDescriptor *cf = protobuf_c_message_descriptor_get_field(imp->response, 1);
    if (cf != NULL && cf->type == PROTOBUF_C_TYPE_INT32)
        *created += (size_t) * (const int32_t *)((const char *)resp + cf->offset);
    protobuf_c_message_free_unpacked(resp, NULL);
    return CLI_EXIT_OK;
}

int cli_import_ndjson(cli_ctx *ctx, const cli_import *imp)
{
    if (ctx->n_args < 1)
        return cli_usage("%s %s: give the file to import (or - for standard input)", ctx->cmd->noun,
                         ctx->cmd->verb);
    const char *path = ctx->args[0];
    const char *bs = cli_flag_value(ctx, "batch-size");
    size_t batch = bs ? strtoul(bs, NULL, 10) : imp->batch;
    if (batch == 0 || batch > 10000)
        return cli_usage("--batch-size: expected 1 to 10000");
    const char *sk = cli_flag_value(ctx, "skip");
    size_t skip = sk ? strtoul(sk, NULL, 10) : 0;
    int quiet = cli_flag_given(ctx, "quiet");

    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return cli_error("%s: %s", path, strerror(errno));
    size_t total = count_lines(f);
    int rc = cli_connect(ctx, 1);
    if (rc != CLI_EXIT_OK)
        goto out;
    /* Check the credentials with a small call before streaming: it fails fast on an
     * expired token, and concordd accepts full-size frames once a connection has
     * made an authenticated call. */
    {
        Concord__V1__WhoAmIRequest who = CONCORD__V1__WHO_AM_IREQUEST__INIT;
        ProtobufCMessage *me = NULL;
        const cc_status *st = NULL;
        int code = cc_invoke(ctx->conn, "concord.v1.AuthService/WhoAmI", &who.base,
                             &concord__v1__who_am_iresponse__descriptor, &me, &st);
        protobuf_c_message_free_unpacked(me, NULL);
        if (code != CC_OK) {
            rc = cli_fail_status(ctx, st, code);
            goto out;
        }
    }

    ProtobufCMessage **items = malloc(sizeof(*items) * batch);
    arena batch_arena;
    arena_init(&batch_arena, 1 << 20);
    char *line = NULL;
    size_t cap = 0, lineno = 0, n = 0, first = 0, created = 0;
    double start = now_s(), last = start;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (lineno <= skip)
            continue;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        ProtobufCMessage *m = NULL;
        pjson_error jerr;
        if (pjson_decode(imp->item, line, (size_t)len, arena_pbc(&batch_arena), &m, &jerr) != 0) {
            rc = cli_usage("%s:%zu: %s%s%s (nothing from line %zu on was imported)", path, lineno,
                           jerr.field, jerr.field[0] ? ": " : "", jerr.description,
                           first ? first : lineno);
            break;
        }
        if (n == 0)
            first = lineno;
        items[n++] = m;
        if (n == batch) {
            rc = send_batch(ctx, imp, items, n, first, &created);
            n = 0;
            arena_reset(&batch_arena);
            if (rc != CLI_EXIT_OK)
                break;
            double t = now_s();
            if (!quiet && t - last >= 1.0) {
                last = t;
                if (total)
                    fprintf(stderr, "imported %zu/%zu (%.0f/s)\n", created, total,
                            created / (t - start));
                else
                    fprintf(stderr, "imported %zu (%.0f/s)\n", created, created / (t - start));
            }
        }
    }
    if (rc == CLI_EXIT_OK && n > 0)
        rc = send_batch(ctx, imp, items, n, first, &created);
    double secs = now_s() - start;
    if (rc == CLI_EXIT_OK) {
        if (ctx->output == CLI_OUT_JSON)
            printf("{\"created\": %zu, \"seconds\": %.3f}\n", created, secs);
        else
            printf("Imported %zu %s in %.1f s (%.0f/s).\n", created, imp->what, secs,
                   secs > 0 ? created / secs : 0.0);
    } else if (created > 0) {
        fprintf(stderr,
                "concord: %zu %s were imported before the failure; rerun with --skip %zu "
                "after fixing the file\n",
                created, imp->what, first ? first - 1 : lineno - 1);
    }
    free(line);
    free(items);
    arena_free(&batch_arena);
out:
    if (f != stdin)
        fclose(f);
    return rc;
}
