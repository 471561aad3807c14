/*
 * cli_import.c - streamed imports: an NDJSON file of proto3-JSON records sent
 * to a bulk method in batches, with progress on standard error.
 *
 * Batches are pipelined: IMPORT_DEPTH of them are in flight on the
 * connection while the next one is read and encoded, so concordd works on
 * several (one PostgreSQL transaction each, on different workers) and the
 * CLI's JSON parsing overlaps the server's work.
 *
 * Each batch is all or nothing on the server. At the first refused batch the
 * import stops sending, waits for the batches still in flight, and says
 * which lines to --skip on the next run. Because batches in flight finish in
 * any order, a batch sent after the refused one may have been imported; it is
 * named so that its lines are not imported twice.
 */
#include "cli.h"
#include "concord/v1/auth.pb-c.h"
#include "pjson.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Batches in flight at once: two keep both CPUs of a small server busy; more
 * only queue on the server. */
#define IMPORT_DEPTH 2
#define IMPORT_MAX_BYTES (3u << 20) /* JSON text per batch; concordd takes 4 MiB per call */

typedef enum { BATCH_SENT, BATCH_DONE, BATCH_REFUSED } batch_state;

typedef struct import_state import_state;

/* One batch sent: its place in the file and its outcome. */
typedef struct import_batch {
    import_state *s;
    size_t first, last; /* line numbers */
    size_t *lines;      /* line of each record, for field violations */
    size_t n;
    batch_state state;
} import_batch;

struct import_state {
    cli_ctx *ctx;
    const cli_import *imp;
    import_batch **batches; /* in file order */
    size_t n_batches, cap_batches;
    size_t created, total, in_flight;
    size_t batch; /* records per batch at most */
    int rc;       /* the first failure's exit code */
    int quiet;
    double start, last_progress;
};

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

static void progress(import_state *s)
{
    double t = now_s();
    if (s->quiet || t - s->last_progress < 1.0)
        return;
    s->last_progress = t;
    double rate = s->created / (t - s->start);
    if (s->total)
        fprintf(stderr, "imported %zu/%zu (%.0f/s)\n", s->created, s->total, rate);
    else
        fprintf(stderr, "imported %zu (%.0f/s)\n", s->created, rate);
}

/* Prints "line N: accounts[i].field: ..." for violations naming a record of b. */
static void print_violation_lines(const import_batch *b, const char *field, const cc_status *st)
{
    size_t fl = strlen(field);
    for (size_t i = 0; i < st->n_violations; i++) {
        const char *v = st->violations[i]->field;
        if (strncmp(v, field, fl) != 0 || v[fl] != '[')
            continue;
        char *end;
        unsigned long k = strtoul(v + fl + 1, &end, 10);
        if (*end == ']' && k < b->n)
            fprintf(stderr, "  line %zu: %s: %s\n", b->lines[k], v, st->violations[i]->description);
    }
}

static void on_reply(cc_client *cli, const cc_status *st, const uint8_t *payload, size_t len,
                     void *ud)
{
    (void)cli;
    import_batch *b = ud;
    import_state *s = b->s;
    s->in_flight--;
    if (st->code != CC_OK) {
        b->state = BATCH_REFUSED;
        /* Without an answer the batch may have been committed or not. */
        if (st->code == CC_UNAVAILABLE || st->code == CC_DEADLINE_EXCEEDED)
            fprintf(stderr,
                    "concord: no answer for the batch of lines %zu-%zu: check whether they were "
                    "imported before rerunning\n",
                    b->first, b->last);
        else
            fprintf(stderr,
                    "concord: the batch of lines %zu-%zu was refused; nothing of it was "
                    "imported\n",
                    b->first, b->last);
        /* The status is borrowed until return: say it now. */
        int rc = cli_fail_status(s->ctx, st, st->code);
        print_violation_lines(b, s->imp->field, st);
        if (s->rc == CLI_EXIT_OK)
            s->rc = rc;
        return;
    }
    b->state = BATCH_DONE;
    free(b->lines); /* only a refused batch needs them */
    b->lines = NULL;
    /* Every bulk response starts with "int32 created = 1"; without one, count the batch. */
    size_t created = b->n;
    ProtobufCMessage *resp = protobuf_c_message_unpack(s->imp->response, NULL, len, payload);
    const ProtobufCFieldDescriptor *cf =
        protobuf_c_message_descriptor_get_field(s->imp->response, 1);
    if (resp != NULL && cf != NULL && cf->type == PROTOBUF_C_TYPE_INT32)
        created = (size_t) * (const int32_t *)((const char *)resp + cf->offset);
    protobuf_c_message_free_unpacked(resp, NULL);
    s->created += created;
    progress(s);
}

/* Waits until fewer than max batches are in flight. */
static void wait_below(import_state *s, size_t max)
{
    while (s->in_flight >= max && s->in_flight > 0)
        cc_conn_poll(s->ctx->conn, 1);
}

/* Encodes and sends items as one batch; takes lines. Returns a cli_exit. */
static int send_batch(import_state *s, ProtobufCMessage **items, size_t *lines, size_t n)
{
    const cli_import *imp = s->imp;
    if (s->n_batches == s->cap_batches) {
        size_t cap = s->cap_batches ? 2 * s->cap_batches : 64;
        import_batch **grown = realloc(s->batches, cap * sizeof(*grown));
        if (grown == NULL) {
            free(lines);
            return cli_error("out of memory");
        }
        s->batches = grown;
        s->cap_batches = cap;
    }
    import_batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        free(lines);
        return cli_error("out of memory");
    }
    *b = (import_batch){.s = s, .first = lines[0], .last = lines[n - 1], .lines = lines, .n = n};
    s->batches[s->n_batches++] = b;

    const ProtobufCFieldDescriptor *fd = cli_msg_field(imp->request, imp->field);
    ProtobufCMessage *req = cli_msg_new(&s->ctx->arena, imp->request);
    *(size_t *)((char *)req + fd->quantifier_offset) = n;
    *(ProtobufCMessage ***)((char *)req + fd->offset) = items;
    size_t size = protobuf_c_message_get_packed_size(req);
    uint8_t *buf = malloc(size + 1);
    if (buf == NULL)
        return cli_error("out of memory");
    protobuf_c_message_pack(req, buf);
    /* Room for this batch: the one before it may still be on its way. */
    wait_below(s, IMPORT_DEPTH);
    if (s->rc != CLI_EXIT_OK) {
        free(buf);
        b->state = BATCH_REFUSED; /* not sent: counts as not imported */
        return s->rc;
    }
    int rc = cc_conn_start(s->ctx->conn, imp->method, buf, size, on_reply, b);
    free(buf);
    if (rc != 0) {
        b->state = BATCH_REFUSED;
        fprintf(stderr, "concord: the batch of lines %zu-%zu was not sent: %s\n", b->first, b->last,
                cc_strerror(rc));
        return rc == CC_ETOOBIG ? cli_usage("lines %zu-%zu are too large for one call: use a "
                                            "smaller --batch-size",
                                            b->first, b->last)
                                : CLI_EXIT_UNAVAILABLE;
    }
    s->in_flight++;
    return CLI_EXIT_OK;
}

/*
 * Sends the n records read so far (send_batch takes their line numbers) and
 * starts the next batch empty: new line numbers, the records' arena reset
 * (the encoded batch travels on its own).
 */
static int send_and_restart(import_state *s, ProtobufCMessage **items, size_t **lines, size_t *n,
                            size_t *bytes, arena *records)
{
    int rc = send_batch(s, items, *lines, *n);
    *lines = malloc(sizeof(**lines) * s->batch);
    *n = 0;
    *bytes = 0;
    arena_reset(records);
    if (rc == CLI_EXIT_OK && *lines == NULL)
        rc = cli_error("out of memory");
    return rc;
}

/*
 * After a failure: the lines before the first batch not imported can be
 * skipped; batches after it that were imported anyway are named.
 */
static void explain_resume(const import_state *s, size_t stop_line)
{
    size_t gap = 0; /* first line not imported */
    for (size_t i = 0; i < s->n_batches && gap == 0; i++)
        if (s->batches[i]->state != BATCH_DONE)
            gap = s->batches[i]->first;
    if (gap == 0)
        gap = stop_line;
    fprintf(stderr,
            "concord: %zu %s were imported before the failure; rerun with --skip %zu "
            "after fixing the file\n",
            s->created, s->imp->what, gap - 1);
    for (size_t i = 0; i < s->n_batches; i++) {
        const import_batch *b = s->batches[i];
        if (b->state == BATCH_DONE && b->first > gap)
            fprintf(stderr,
                    "concord: lines %zu-%zu were imported too (they were in flight): remove "
                    "them from the file before rerunning\n",
                    b->first, b->last);
    }
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

    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL)
        return cli_error("%s: %s", path, strerror(errno));
    import_state s = {
        .ctx = ctx, .imp = imp, .batch = batch, .quiet = cli_flag_given(ctx, "quiet")};
    s.total = count_lines(f);
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
    size_t *lines = malloc(sizeof(*lines) * batch);
    arena batch_arena;
    arena_init(&batch_arena, 1 << 20);
    char *line = NULL;
    size_t cap = 0, lineno = 0, n = 0, bytes = 0;
    s.start = s.last_progress = now_s();
    ssize_t len;
    if (items == NULL || lines == NULL) {
        rc = cli_error("out of memory");
        goto done;
    }
    while ((len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        if (lineno <= skip)
            continue;
        /* Let the connection move: finished writes, replies to count. */
        if ((lineno & 63) == 0)
            cc_conn_poll(ctx->conn, 0);
        if (s.rc != CLI_EXIT_OK)
            break;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0)
            continue;
        /* A batch also ends before it could outgrow one call (records with long
         * notes). A record's protobuf encoding is never longer than its JSON line. */
        if (n > 0 && bytes + (size_t)len > IMPORT_MAX_BYTES &&
            (rc = send_and_restart(&s, items, &lines, &n, &bytes, &batch_arena)) != CLI_EXIT_OK)
            break;
        ProtobufCMessage *m = NULL;
        pjson_error jerr;
        if (pjson_decode(imp->item, line, (size_t)len, arena_pbc(&batch_arena), &m, &jerr) != 0) {
            rc = cli_usage("%s:%zu: %s%s%s (nothing from line %zu on was imported)", path, lineno,
                           jerr.field, jerr.field[0] ? ": " : "", jerr.description,
                           n ? lines[0] : lineno);
            break;
        }
        lines[n] = lineno;
        items[n++] = m;
        bytes += (size_t)len;
        if (n == batch &&
            (rc = send_and_restart(&s, items, &lines, &n, &bytes, &batch_arena)) != CLI_EXIT_OK)
            break;
    }
    if (rc == CLI_EXIT_OK && s.rc == CLI_EXIT_OK && n > 0) {
        rc = send_batch(&s, items, lines, n);
        lines = NULL;
        n = 0;
    }
    wait_below(&s, 1);
    if (rc == CLI_EXIT_OK)
        rc = s.rc;
    double secs = now_s() - s.start;
    if (rc == CLI_EXIT_OK) {
        if (ctx->output == CLI_OUT_JSON)
            printf("{\"created\": %zu, \"seconds\": %.3f}\n", s.created, secs);
        else
            printf("Imported %zu %s in %.1f s (%.0f/s).\n", s.created, imp->what, secs,
                   secs > 0 ? s.created / secs : 0.0);
    } else if (s.created > 0) {
        explain_resume(&s, n ? lines[0] : lineno);
    }
done:
    free(line);
    free(items);
    free(lines);
    arena_free(&batch_arena);
    for (size_t i = 0; i < s.n_batches; i++) {
        free(s.batches[i]->lines);
        free(s.batches[i]);
    }
    free(s.batches);
out:
    if (f != stdin)
        fclose(f);
    return rc;
}
